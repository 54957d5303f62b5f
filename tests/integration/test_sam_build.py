"""`sam build` on this machine, with no container: the layer carries the gateway package and its
dependencies, and each function carries only its handler."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SAM = str(Path(sys.executable).with_name("sam"))


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sam-build")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    subprocess.run(
        [
            SAM,
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


def test_layer_holds_the_gateway_package_and_its_dependencies(build_dir: Path) -> None:
    python = build_dir / "ClientsLayer" / "python"
    assert (python / "gateway" / "td_postback.py").is_file()
    for package in (
        "aws_lambda_powertools",
        "pydantic",
        "requests",
        "aws_xray_sdk",
    ):
        assert (python / package).is_dir(), package
    assert not (python / "boto3").exists(), "boto3 ships with the Lambda runtime"


def test_functions_hold_only_their_handlers(build_dir: Path) -> None:
    for name in ("PostbackFunction", "RetryFunction"):
        assert (build_dir / name / "app.py").is_file()
        assert not (build_dir / name / "gateway").exists()


def test_built_template_points_at_built_artifacts(build_dir: Path) -> None:
    built = (build_dir / "template.yaml").read_text()
    assert "ContentUri: ClientsLayer" in built
    assert "CodeUri: PostbackFunction" in built
