"""Draws docs/dashboard.png: the layout of template.yaml's CloudWatch dashboard, each widget at
its grid position with its title and the metrics it plots, so the docs show what a deployment's
dashboard holds. `python scripts/render_dashboard.py [--output PATH]`."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to a file
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devserver.template import Template  # noqa: E402

OUTPUT = ROOT / "docs" / "dashboard.png"
GRID_COLUMNS = 24  # CloudWatch's dashboard grid
COLOURS = {
    "AWS/ApiGateway": "#dbe9f6",
    "ActivationGateway": "#e2f0d9",
    "AWS/SQS": "#fff2cc",
    "AWS/Lambda": "#f4dcdc",
}


def widgets(template: Template) -> list[dict[str, Any]]:
    body = template.of_type("AWS::CloudWatch::Dashboard")["Dashboard"]["DashboardBody"]["Fn::Sub"]
    # ${HttpApi} and the like are deploy-time values; their names read well in a picture.
    parsed: dict[str, Any] = json.loads(re.sub(r"\$\{([^}]+)\}", r"\1", body))
    return list(parsed["widgets"])


def _series(metrics: list[list[Any]], width: int) -> str:
    """One line per plotted series: the metric and the dimension value that tells it apart."""
    limit = width * 7  # characters that fit the widget at this font size
    lines = []
    for metric in metrics:
        label = f"{metric[1]}  {metric[-1]}"
        lines.append(label if len(label) <= limit else label[: limit - 1] + "…")
    return "\n".join(lines)


def render(output: Path) -> None:
    items = widgets(Template())
    rows = max(w["y"] + w["height"] for w in items)
    fig, ax = plt.subplots(figsize=(16, rows * 0.42))
    ax.set_xlim(0, GRID_COLUMNS)
    ax.set_ylim(rows, 0)
    ax.axis("off")
    for w in items:
        props = w["properties"]
        namespace = props["metrics"][0][0]
        box = FancyBboxPatch(
            (w["x"] + 0.15, w["y"] + 0.15),
            w["width"] - 0.3,
            w["height"] - 0.3,
            boxstyle="round,pad=0.02,rounding_size=0.3",
            facecolor=COLOURS.get(namespace, "#eeeeee"),
            edgecolor="#555555",
        )
        ax.add_patch(box)
        ax.text(w["x"] + 0.5, w["y"] + 0.9, props["title"], fontsize=10, weight="bold", va="top")
        ax.text(
            w["x"] + 0.5,
            w["y"] + 1.6,
            f"{namespace} · {props.get('stat', '')}\n{_series(props['metrics'], w['width'])}",
            fontsize=7,
            va="top",
            wrap=True,
            color="#333333",
        )
    ax.set_title("Activation Gateway dashboard (template.yaml, resource Dashboard)", fontsize=12)
    fig.tight_layout()
    fig.savefig(output, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--output", type=Path, default=OUTPUT)
    render(p.parse_args(argv).output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
