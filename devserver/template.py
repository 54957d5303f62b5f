"""Reads template.yaml: parameter defaults, queues, secrets, and each function's routes and
environment, so that the local runtime and the tests follow the template instead of a copy."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
LAYER_DIR = ROOT / "layers" / "clients"


def pythonpath(root: Path = ROOT) -> str:
    """For a fresh interpreter: the handlers (functions.<job>.app) and the layer of the tree at
    `root` (this one, or another commit's worktree) importable as in Lambda."""
    return os.pathsep.join([str(root), str(root / LAYER_DIR.relative_to(ROOT))])


PYTHONPATH = pythonpath()
# Lambda's SQS event source without ScalingConfig.MaximumConcurrency scales much further; the
# local runtime, like the template's RetryMaxConcurrency default, runs two invocations at most.
DEFAULT_MAX_CONCURRENCY = 2


class _CfnLoader(yaml.SafeLoader):
    """CloudFormation's short tags (!Ref, !Sub, !GetAtt, !If, ...) as the long-form dicts
    (`{"Ref": ...}`, `{"Fn::Sub": ...}`) that the rest of this module reads; dates stay strings."""


def _intrinsic(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if suffix == "GetAtt" and isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node).split(".", 1)  # !GetAtt Queue.Arn
    elif isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise TypeError(f"!{suffix} on an unknown YAML node")
    return {name: value}


def _timestamp(loader: _CfnLoader, node: yaml.Node) -> str:
    return str(node.value)  # AWSTemplateFormatVersion: 2010-09-09 is a string, not a date


_CfnLoader.add_multi_constructor("!", _intrinsic)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def yaml_parse(text: str) -> dict[str, Any]:
    """A CloudFormation/SAM template as a dict."""
    parsed: dict[str, Any] = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 (a SafeLoader)
    return parsed


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway form: /v1/postback/{database}/{table}
    auth: str = "NONE"


@dataclass
class Function:
    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    environment: dict[str, Any] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    sqs_sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def module(self) -> str:
        """Import path of the handler module with the repository root on sys.path."""
        return ".".join(Path(self.code_uri).parts) + "." + self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


class Template:
    def __init__(self, path: Path = TEMPLATE, parameters: dict[str, str] | None = None) -> None:
        """`parameters`: values that replace the defaults, as a deploy's parameter overrides."""
        self.raw: dict[str, Any] = yaml_parse(path.read_text())
        self.resources: dict[str, Any] = self.raw["Resources"]
        self.parameters = {
            name: spec.get("Default") for name, spec in self.raw.get("Parameters", {}).items()
        }
        self.parameters.update(parameters or {})

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties", {}) for k, v in self.resources.items() if v["Type"] == kind}

    def functions(self) -> list[Function]:
        globals_ = self.raw.get("Globals", {}).get("Function", {})
        result = []
        for logical_id, props in self.of_type("AWS::Serverless::Function").items():
            env = dict(globals_.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            fn = Function(
                logical_id=logical_id,
                code_uri=props["CodeUri"].rstrip("/"),
                handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
                timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                environment=env,
            )
            for event in props.get("Events", {}).values():
                p = event.get("Properties", {})
                if event["Type"] == "HttpApi":
                    auth = p.get("Auth", {}).get("Authorizer", "NONE")
                    fn.routes.append(Route(p["Method"].upper(), p["Path"], auth))
                elif event["Type"] == "SQS":
                    fn.sqs_sources.append(p)
            result.append(fn)
        return result

    def function(self, logical_id: str) -> Function:
        return next(f for f in self.functions() if f.logical_id == logical_id)

    def resolve(self, value: Any, refs: dict[str, str]) -> Any:
        """Resolve the intrinsics the template uses in environments: Ref, GetAtt, If, Join."""
        if isinstance(value, dict) and len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                if arg in refs:
                    return refs[arg]
                if arg in self.parameters:
                    return self.parameters[arg]
                raise KeyError(f"cannot resolve Ref {arg}")
            if fn == "Fn::GetAtt":
                name = ".".join(arg) if isinstance(arg, list) else arg
                return refs[name]
            if fn == "Fn::If":
                condition, when_true, when_false = arg
                chosen = when_true if self.condition(condition, refs) else when_false
                return self.resolve(chosen, refs)
            if fn == "Fn::Join":
                separator, items = arg
                return separator.join(str(item) for item in self._list(items, refs))
        return value

    def _list(self, value: Any, refs: dict[str, str]) -> list[Any]:
        """A list argument: literal items, or a CommaDelimitedList parameter (a string here)."""
        if isinstance(value, list):
            return [self.resolve(item, refs) for item in value]
        resolved = self.resolve(value, refs)
        return resolved if isinstance(resolved, list) else str(resolved or "").split(",")

    def condition(self, name: str, refs: dict[str, str]) -> bool:
        """A condition of the template's Conditions (the Fn::Equals form it uses)."""
        spec = self.raw.get("Conditions", {})[name]
        left, right = spec["Fn::Equals"]
        return str(self.resolve(left, refs)) == str(self.resolve(right, refs))

    def max_concurrency(self, source: dict[str, Any]) -> int:
        """An SQS event source's ScalingConfig.MaximumConcurrency (a number or a Ref)."""
        value = self.resolve(source.get("ScalingConfig", {}).get("MaximumConcurrency"), {})
        return DEFAULT_MAX_CONCURRENCY if value in (None, "") else int(value)

    def environment(self, fn: Function, refs: dict[str, str]) -> dict[str, str]:
        return {k: str(self.resolve(v, refs)) for k, v in fn.environment.items()}
