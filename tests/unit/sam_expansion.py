"""template.yaml as CloudFormation receives it: expanded by samtranslator (the transform that
`sam deploy` and CloudFormation run) for given parameter values, then with the template's
conditions applied, so tests check the roles, routes and resources a deployment gets."""

from __future__ import annotations

import copy
import functools
import json
import os
from typing import Any

from samtranslator.translator.transform import transform  # type: ignore[import-untyped]

from devserver.template import TEMPLATE, Template

NO_VALUE = {"Ref": "AWS::NoValue"}


class _NoManagedPolicies:
    """The transform asks IAM for managed policy ARNs only for policy names in `Policies`; the
    template names none (every role is its own)."""

    def load(self) -> dict[str, str]:
        return {}


def expand(**parameters: str) -> dict[str, Any]:
    """The transformed template, its Conditions resolved, for `parameters` over the defaults."""
    return copy.deepcopy(_expand(json.dumps(parameters, sort_keys=True)))


@functools.cache
def _expand(parameters_json: str) -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = Template(TEMPLATE)
    raw = copy.deepcopy(template.raw)
    for resource in raw["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):  # as `sam package` leaves them
            if isinstance(props.get(key), str):
                props[key] = f"s3://artifacts/{props[key]}"
    values = _parameter_values(raw, json.loads(parameters_json))
    out: dict[str, Any] = transform(raw, values, _NoManagedPolicies())
    conditions = {name: _condition(spec, out, values) for name, spec in out["Conditions"].items()}
    resources = {
        name: _apply(resource, conditions)
        for name, resource in out["Resources"].items()
        if conditions.get(resource.get("Condition", ""), True)
    }
    return {**out, "Resources": resources, "ResolvedConditions": conditions}


def _parameter_values(raw: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in raw["Parameters"].items():
        value = overrides.get(name, spec.get("Default"))
        # CloudFormation hands a macro a CommaDelimitedList as a list.
        if spec["Type"] == "CommaDelimitedList":
            value = str(value).split(",")
        values[name] = value
    return values


def _value(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return values[node["Ref"]]
    return node


def _condition(spec: Any, out: dict[str, Any], values: dict[str, Any]) -> bool:
    ((fn, arg),) = spec.items()
    if fn == "Fn::Equals":
        left, right = (_value(a, values) for a in arg)
        return str(left) == str(right)
    if fn == "Fn::Not":
        return not _condition(arg[0], out, values)
    if fn == "Condition":
        return _condition(out["Conditions"][arg], out, values)
    raise AssertionError(f"condition form {fn} not handled")


def _apply(node: Any, conditions: dict[str, bool]) -> Any:
    """Fn::If chosen and AWS::NoValue dropped, as CloudFormation does."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return _apply(when_true if conditions[name] else when_false, conditions)
        result = {}
        for key, value in node.items():
            applied = _apply(value, conditions)
            if applied != NO_VALUE:
                result[key] = applied
        return result
    if isinstance(node, list):
        return [a for a in (_apply(item, conditions) for item in node) if a != NO_VALUE]
    return node


def of_type(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in doc["Resources"].items() if v["Type"] == kind}
