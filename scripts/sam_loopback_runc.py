#!/usr/bin/python3
"""runc wrapper that gives SAM's Lambda containers the host's loopback (dockerd's default runtime,
set by scripts/sam-local-image.sh).

SAM CLI ignores `--docker-network host` when it creates a function container (it only skips
connecting the container to a network called "host"), so the container gets a network namespace
of its own and cannot reach the sandboxes and moto on 127.0.0.1. This wrapper, on `runc create` of
a container labelled `sam.cli.container.type=lambda`:
  - drops the network namespace (and the network sysctls) from the OCI spec: the container shares
    the host's network;
  - makes the Runtime Interface Emulator listen on 127.0.0.1:<the port SAM published for 8080>,
    where SAM sends the invocation, and its Runtime API on a free loopback port, so that
    concurrent containers don't collide.
Every other container, and every other runc command, passes through untouched.
Standard library only: it runs under the system python3, outside the project's venv."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

RUNC = os.environ.get("SAM_LOOPBACK_RUNC", "/usr/sbin/runc")
DOCKER_ROOT = Path(os.environ.get("SAM_LOOPBACK_DOCKER_ROOT", "/var/lib/docker"))
RIE = "/var/rapid/aws-lambda-rie"
RIE_PORT = "8080/tcp"


def bundle_of(argv: list[str]) -> Path | None:
    """The --bundle of a `runc ... create` call, else None."""
    if "create" not in argv:
        return None
    args = argv[argv.index("create") + 1 :]
    for i, arg in enumerate(args):
        if arg in ("--bundle", "-b") and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--bundle="):
            return Path(arg.partition("=")[2])
    return Path.cwd()


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def patch(spec: dict[str, Any], docker_config: dict[str, Any], host_config: dict[str, Any]) -> bool:
    """Rewrite the OCI spec of a SAM Lambda container in place; False if it is not one."""
    labels = docker_config.get("Config", {}).get("Labels") or {}
    if labels.get("sam.cli.container.type") != "lambda":
        return False
    linux = spec.setdefault("linux", {})
    linux["namespaces"] = [ns for ns in linux.get("namespaces", []) if ns.get("type") != "network"]
    # Network sysctls are per namespace: runc refuses them in the host's.
    sysctl = linux.get("sysctl") or {}
    linux["sysctl"] = {k: v for k, v in sysctl.items() if not k.startswith("net.")}
    args: list[str] = spec["process"]["args"]
    bindings = (host_config.get("PortBindings") or {}).get(RIE_PORT) or []
    if args and args[0] == RIE and bindings:
        host_port = bindings[0]["HostPort"]
        spec["process"]["args"] = [
            RIE,
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{host_port}",
            "--runtime-api-address",
            f"127.0.0.1:{free_loopback_port()}",
            *args[1:],
        ]
    return True


def main(argv: list[str]) -> None:
    bundle = bundle_of(argv)
    if bundle is not None:
        container = DOCKER_ROOT / "containers" / bundle.name
        if (container / "config.v2.json").is_file():
            spec_file = bundle / "config.json"
            spec = json.loads(spec_file.read_text())
            docker_config = json.loads((container / "config.v2.json").read_text())
            host_config = json.loads((container / "hostconfig.json").read_text())
            if patch(spec, docker_config, host_config):
                spec_file.write_text(json.dumps(spec))
    os.execv(RUNC, [RUNC, *argv])  # noqa: S606 - runc itself, with the shim's own arguments


if __name__ == "__main__":
    main(sys.argv[1:])
