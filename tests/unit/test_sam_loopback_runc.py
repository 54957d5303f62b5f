"""The runc wrapper rewrites only SAM's Lambda containers, and only on `create`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.sam_loopback_runc import RIE, bundle_of, patch

SAM_LABELS = {"Config": {"Labels": {"sam.cli.container.type": "lambda"}}}
PUBLISHED = {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5123"}]}}


def spec() -> dict[str, Any]:
    return {
        "process": {"args": [RIE, "--log-level", "error"]},
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}],
            "sysctl": {"net.ipv4.ping_group_range": "0 2147483647", "kernel.msgmax": "8192"},
        },
    }


def test_bundle_only_for_create() -> None:
    argv = ["--root", "/run/runc", "create", "--bundle", "/b/abc", "--pid-file", "p", "abc"]
    assert bundle_of(argv) == Path("/b/abc")
    assert bundle_of(["--root", "/run/runc", "start", "abc"]) is None


def test_lambda_container_shares_the_host_network_on_loopback_ports() -> None:
    s = spec()

    assert patch(s, SAM_LABELS, PUBLISHED)

    assert {"type": "network"} not in s["linux"]["namespaces"]
    assert s["linux"]["sysctl"] == {"kernel.msgmax": "8192"}
    args = s["process"]["args"]
    assert args[:3] == [RIE, "--runtime-interface-emulator-address", "127.0.0.1:5123"]
    assert args[3] == "--runtime-api-address"
    assert args[4].startswith("127.0.0.1:")
    assert args[5:] == ["--log-level", "error"]


def test_other_containers_are_untouched() -> None:
    s = spec()

    assert not patch(s, {"Config": {"Labels": {}}}, PUBLISHED)

    assert s == spec()
