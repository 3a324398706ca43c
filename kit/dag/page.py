"""`kit dag NOTEBOOK --out FILE.html|FILE.svg`: the widget's view without a kernel.

The HTML page inlines the widget's own dag.js and dag.css and the payload, so it works offline
and shows the same view (search, hover, pan and zoom, selection with its upstream). The SVG is
a static picture of the same layout, drawn here.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kit.dag.payload import DagPayload, dag_payload
from kit.errors import KitError

WIDGET_FILES = Path(__file__).resolve().parent.parent / "widget"
LEGEND_ROW = 20.0


def css_colours(css: str) -> dict[str, str]:
    """The `--kit-NAME: #colour;` custom properties of a stylesheet, by NAME."""
    return dict(re.findall(r"--kit-([a-z-]+):\s*(#[0-9a-fA-F]{3,8})\s*;", css))


# The widget's stylesheet is the one source of the colours; the static SVG takes them from it.
COLOURS = css_colours((WIDGET_FILES / "dag.css").read_text())


def _attrs(**values: Any) -> str:
    """SVG attributes from keywords: `stroke_width=2` is `stroke-width="2"`."""
    return " ".join(
        f'{key.replace("_", "-")}="{html.escape(str(value), quote=True)}"'
        for key, value in values.items()
    )


def _tooltip(node: Mapping[str, Any]) -> str:
    lines = [node["name"]]
    for label, key in (("type", "type"), ("module", "module"), ("defined in", "source")):
        if node.get(key):
            lines.append(f"{label}: {node[key]}")
    for variant in node.get("variants", []):
        lines.append(
            f"{'chosen' if variant['chosen'] else 'other'}: {variant['function']} {variant['when']}"
        )
    for key, value in node.get("tags", {}).items():
        lines.append(f"tag {key}: {value}")
    if node.get("doc"):
        lines.append(node["doc"])
    return "\n".join(lines)


def _node_svg(node: Mapping[str, Any]) -> str:
    x, y, width, height = node["x"] - node["w"] / 2, node["y"] - node["h"] / 2, node["w"], node["h"]
    kind = node["kind"]
    colour = node.get("color", COLOURS["line"])
    rect = {
        "width": width,
        "height": height,
        "rx": height / 2 if kind in ("input", "config") else 6,
    }
    if kind == "input":
        rect.update(
            fill=COLOURS["input-fill"],
            stroke=COLOURS["input-line"],
            stroke_dasharray="4 3",
            stroke_width=1.4,
        )
    elif kind == "config":
        rect.update(fill=COLOURS["config-fill"], stroke=COLOURS["config-line"], stroke_width=1.4)
    else:
        opacity = 0.35 if kind == "module" else 0.16
        variants = len(node.get("variants", [])) > 1
        stroke = 3.0 if kind == "task" else 2.5 if kind == "module" else 2.2 if variants else 1.4
        rect.update(fill=colour, fill_opacity=opacity, stroke=colour, stroke_width=stroke)
    place = _attrs(transform=f"translate({x:.1f},{y:.1f})", style=f"--kit-colour:{colour}")
    return (
        f'<g class="kit-node kit-kind-{kind}" {place}>'
        f"<title>{html.escape(_tooltip(node))}</title>"
        f"<rect {_attrs(**rect)}/>"
        f"<text {_attrs(x=width / 2, y=height / 2 - 4, font_size=12, fill=COLOURS['ink'])}>"
        f"{html.escape(node['name'])}</text>"
        f"<text {_attrs(x=width / 2, y=height / 2 + 11, font_size=10, fill=COLOURS['muted'])}>"
        f"{html.escape(node['sub'])}</text>"
        "</g>"
    )


def _legend_svg(payload: Mapping[str, Any], top: float, width: float) -> tuple[str, float]:
    """Legend entries in rows under the graph; returns the SVG and the height it takes."""
    entries = [
        (m["color"], "box", f"{m['name']} ({m['count']}{', collapsed' if m['collapsed'] else ''})")
        for m in payload.get("modules", [])
    ]
    if payload.get("modules"):
        entries += [
            (COLOURS["input-line"], "input", "external input"),
            (COLOURS["config-line"], "config", "from the config"),
        ]
    parts, x, y = [], 12.0, top + 14
    for colour, kind, text in entries:
        size = 26 + len(text) * 6.6
        if x + size > max(width, 200) and x > 12:
            x, y = 12.0, y + LEGEND_ROW
        swatch = {
            "x": x,
            "y": y - 9,
            "width": 16,
            "height": 10,
            "rx": 2,
            "stroke": colour,
            "stroke_width": 1.5,
        }
        if kind == "box":
            swatch.update(fill=colour, fill_opacity=0.35)
        elif kind == "input":
            swatch.update(fill=COLOURS["input-fill"], stroke_dasharray="3 2", rx=5)
        else:
            swatch.update(fill=COLOURS["config-fill"], rx=5)
        parts.append(f"<rect {_attrs(**swatch)}/>")
        label = _attrs(x=x + 22, y=y, font_size=11, fill=COLOURS["ink"])
        parts.append(f"<text {label}>{html.escape(text)}</text>")
        x += size
    return "".join(parts), (y - top + 10 if entries else 0.0)


def svg_picture(payload: Mapping[str, Any]) -> str:
    """A static SVG of a laid-out payload (the DAG, or the task graph of a promotion preview)."""
    width, height = float(payload.get("width") or 0), float(payload.get("height") or 0)
    if not payload.get("nodes"):
        width, height = 360.0, 40.0
        message = "no nodes: the notebook has no %%hamilton cells"
        body = f"<text {_attrs(x=12, y=24, font_size=12, fill=COLOURS['muted'])}>{message}</text>"
        legend, legend_height = "", 0.0
    else:
        parts = []
        for group in payload.get("groups", []):
            colour = group["color"]
            rect = {
                "x": group["x"],
                "y": group["y"],
                "width": group["w"],
                "height": group["h"],
                "rx": 8,
            }
            rect.update(fill=colour, fill_opacity=0.06, stroke=colour, stroke_opacity=0.55)
            label = {
                "x": group["x"] + 8,
                "y": group["y"] + 14,
                "font_size": 11,
                "text_anchor": "start",
                "fill": colour,
            }
            parts.append(
                f'<g class="kit-group" {_attrs(style=f"--kit-colour:{colour}")}>'
                f"<rect {_attrs(**rect)}/>"
                f"<text {_attrs(**label)}>{html.escape(group['name'])}</text></g>"
            )
        line = {
            "fill": "none",
            "stroke": COLOURS["line"],
            "stroke_width": 1.2,
            "marker_end": "url(#kit-arrow)",
        }
        parts.extend(
            f"<path {_attrs(d=edge['path'], **line)}/>" for edge in payload.get("edges", [])
        )
        parts.extend(_node_svg(node) for node in payload["nodes"])
        body = "".join(parts)
        legend, legend_height = _legend_svg(payload, height, width)
    total_height = height + legend_height
    box = _attrs(viewBox=f"0 0 {width} {total_height}", width=width, height=total_height)
    marker = _attrs(
        id="kit-arrow",
        viewBox="0 0 10 10",
        refX=9,
        refY=5,
        markerWidth=7,
        markerHeight=7,
        orient="auto",
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" {box} '
        'font-family="DejaVu Sans Mono, monospace" text-anchor="start">'
        f"<defs><marker {marker}>"
        f'<path d="M0,0 L10,5 L0,10 z" fill="{COLOURS["line"]}"/></marker></defs>'
        f"<rect {_attrs(width=width, height=total_height, fill=COLOURS['surface'])}/>"
        f'<g text-anchor="middle">{body}</g><g>{legend}</g></svg>\n'
    )


def html_page(payload: Mapping[str, Any], title: str) -> str:
    """A self-contained page: the widget's JS and CSS inlined, the payload as JSON, no network."""
    script = (WIDGET_FILES / "dag.js").read_text()
    style = (WIDGET_FILES / "dag.css").read_text()
    data = json.dumps(payload, separators=(",", ":")).replace("<", "\\u003c")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
{style}
body {{ margin: 16px 24px; font-family: "DejaVu Sans", sans-serif; color: {COLOURS["ink"]}; }}
h1 {{ font-size: 16px; font-weight: 600; margin: 0 0 8px; }}
.kit-canvas {{ height: calc(100vh - 110px); }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<div id="kit-dag"></div>
<script type="application/json" id="kit-dag-data">{data}</script>
<script type="module">
{script}
const graph = JSON.parse(document.getElementById("kit-dag-data").textContent);
standalone(document.getElementById("kit-dag"), {{ graph }});
</script>
</body>
</html>
"""


def write_dag(notebook: Path, out: Path) -> DagPayload:
    """Write the notebook's DAG to OUT (`.html`: the widget's view as a page; `.svg`: a picture)."""
    from kit.steps import workspace_from_notebook

    if out.suffix not in (".html", ".svg"):
        raise KitError(
            f"cannot write a DAG to {out}: unknown kind of file",
            hint="name the output FILE.html or FILE.svg",
        )
    payload = dag_payload(workspace_from_notebook(notebook))
    if out.suffix == ".html":
        text = html_page(payload, f"DAG of {notebook.name}")
    else:
        text = svg_picture(payload)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return payload
