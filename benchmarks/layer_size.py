"""The built layer's size: `sam build` (no container) into a scratch directory, then the bytes
and files of ClientsLayer's artifact, which is what every function's cold start unpacks."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from devserver.template import ROOT


@dataclass
class LayerSize:
    mib: float
    files: int
    top: list[tuple[str, float]]  # largest top-level packages, MiB


def measure(build_dir: Path, sam: str) -> LayerSize:
    subprocess.run(
        [sam, "build", "--build-dir", str(build_dir), "--cache-dir", str(build_dir / ".cache")],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    layer = build_dir / "ClientsLayer" / "python"
    files = [p for p in layer.rglob("*") if p.is_file()]
    per_top: dict[str, int] = {}
    for path in files:
        name = path.relative_to(layer).parts[0]
        per_top[name] = per_top.get(name, 0) + path.stat().st_size
    largest = sorted(per_top.items(), key=lambda kv: -kv[1])[:6]
    return LayerSize(
        sum(per_top.values()) / 2**20, len(files), [(n, size / 2**20) for n, size in largest]
    )
