"""`sam build` on this machine, with no container: the layer carries the gateway package and its
dependencies from the layer's lock, at the very versions the tests run with, and each function
carries only its handler."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

SAM = ROOT / ".venv-sam" / "bin" / "sam"  # AWS SAM CLI's own venv (make install)
LAYER_LOCK = ROOT / "layers" / "clients" / "requirements.txt"


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert SAM.is_file(), f"{SAM} is missing: `make install` builds AWS SAM CLI's venv"
    out = tmp_path_factory.mktemp("sam-build")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    subprocess.run(
        [
            str(SAM),
            "build",
            "--build-dir",
            str(out),
            "--cache-dir",
            str(out / ".cache"),
            "--template-file",
            str(ROOT / "template.yaml"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def versions(distributions: Iterable[metadata.Distribution]) -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version for d in distributions}


@pytest.fixture(scope="module")
def layer_versions(build_dir: Path) -> dict[str, str]:
    found = versions(metadata.distributions(path=[str(build_dir / "ClientsLayer" / "python")]))
    assert found, "the built layer holds no package metadata"
    return found


def test_layer_holds_the_gateway_package_and_its_dependencies(build_dir: Path) -> None:
    python = build_dir / "ClientsLayer" / "python"
    source = ROOT / "layers" / "clients"
    modules = {p.relative_to(source) for p in (source / "gateway").rglob("*.py")}
    assert Path("gateway/vendors/td/postback.py") in modules
    assert modules <= {p.relative_to(python) for p in (python / "gateway").rglob("*.py")}
    for package in (
        "aws_lambda_powertools",
        "pydantic",
        "requests",
        "aws_xray_sdk",
    ):
        assert (python / package).is_dir(), package


def test_layer_versions_are_the_versions_under_test(layer_versions: dict[str, str]) -> None:
    under_test = versions(metadata.distributions())
    shared = layer_versions.keys() & under_test.keys()
    assert {"pydantic", "requests", "aws-lambda-powertools"} <= shared
    differ = {
        n: (layer_versions[n], under_test[n]) for n in shared if layer_versions[n] != under_test[n]
    }
    assert not differ, f"layer vs test venv: {differ}"


def test_layer_is_exactly_its_lock(layer_versions: dict[str, str]) -> None:
    locked = {}
    for line in LAYER_LOCK.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(" ")[0].split("==")
            locked[canonicalize_name(name.split("[")[0])] = version
    assert layer_versions == locked


def test_boto3_and_botocore_ship_together_or_not_at_all(layer_versions: dict[str, str]) -> None:
    # The layer's packages shadow the runtime's: a botocore without its boto3 would pair the
    # runtime's boto3 with a botocore nobody tested it with.
    shipped = {name for name in ("boto3", "botocore") if name in layer_versions}
    assert shipped in (set(), {"boto3", "botocore"}), f"only {shipped} in the layer"
    for name in shipped:
        assert layer_versions[name] == metadata.version(name)


def test_functions_hold_only_their_handlers(build_dir: Path) -> None:
    for name in ("PostbackFunction", "RetryFunction"):
        assert (build_dir / name / "app.py").is_file()
        assert not (build_dir / name / "gateway").exists()


def test_built_template_points_at_built_artifacts(build_dir: Path) -> None:
    built = (build_dir / "template.yaml").read_text()
    assert "ContentUri: ClientsLayer" in built
    assert "CodeUri: PostbackFunction" in built
