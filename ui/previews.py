"""The landing cards' preview pictures: a small SVG of each scenario's first chart, drawn
from that chart as the scenario's page computes it (real runs, no numbers typed in).

The pictures are committed under ``assets/previews/<scenario>.svg`` so that the landing page
sends a few kilobytes of static SVG and computes nothing. They are made by opening every
scenario's page in Streamlit's AppTest and reducing its first chart to lines and dots::

    .venv/bin/python -m ui.previews            # every scenario
    .venv/bin/python -m ui.previews table1     # one

``tests/test_app_home.py`` regenerates one and compares it with the committed file, so a
change of the runs or of the chart shows up as a stale preview.
"""
from __future__ import annotations

import base64
import json
import math
import sys
from pathlib import Path
from typing import Iterable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PREVIEW_DIR = ROOT / "assets" / "previews"
WIDTH, HEIGHT, PAD = 240, 72, 3
MAX_POINTS = 160                  # per line: a preview is a glance, not the data
MAX_TRACES = 40
GRID = (60, 18)                   # heatmap cells kept (columns, rows)
PAGE_TIMEOUT = 600


def preview_path(key: str) -> Path:
    return PREVIEW_DIR / f"{key}.svg"


# ---------------------------------------------------------------------- figure -> SVG
def _array(trace: dict, key: str) -> np.ndarray:
    raw = trace.get(key)
    if raw is None:
        return np.array([], dtype=float)
    if isinstance(raw, np.ndarray):          # already decoded (joined dot slices)
        return raw.astype(float)
    if isinstance(raw, dict) and "bdata" in raw:
        return np.frombuffer(base64.b64decode(raw["bdata"]), dtype=np.dtype(raw["dtype"])).astype(float)
    try:
        return np.array([np.nan if v is None else v for v in raw], dtype=float)
    except (TypeError, ValueError):
        return np.array([], dtype=float)


def _axis(layout: dict, name: str, values: np.ndarray) -> tuple[bool, tuple[float, float] | None]:
    """(log?, range in axis units) of a layout axis; the range from the layout, else the data."""
    axis = layout.get(name, {}) or {}
    log = axis.get("type") == "log"
    given = axis.get("range")
    if given and len(given) == 2 and all(isinstance(v, (int, float)) for v in given):
        return log, (float(given[0]), float(given[1]))
    units = _units(values, log)
    units = units[np.isfinite(units)]
    if units.size == 0:
        return log, None
    low, high = float(units.min()), float(units.max())
    return log, (low, high) if high > low else (low - 0.5, high + 0.5)


def _units(values: np.ndarray, log: bool) -> np.ndarray:
    if not log:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


def _color(trace: dict) -> str:
    for part in ("line", "marker"):
        color = (trace.get(part) or {}).get("color")
        if isinstance(color, str):
            return color
    return "#777"


def _drawable(figure: dict) -> list[dict]:
    return [t for t in figure.get("data", []) if t.get("type", "scatter") in ("scatter", "scattergl")
            and t.get("meta") not in ("edge", "skip") and t.get("fill") in (None, "none")
            and t.get("visible", True) is True][:MAX_TRACES]


def _joined_dots(traces: list[dict]) -> list[dict]:
    """Markers-only traces of one legend group (the orbit diagram's slices of k) as one trace,
    so the preview samples MAX_POINTS dots of the group, not of each slice."""
    out, groups = [], {}
    for trace in traces:
        group = trace.get("legendgroup")
        if not group or "lines" in str(trace.get("mode", "lines")):
            out.append(trace)
        elif group in groups:
            joined = groups[group]
            for key in ("x", "y"):
                joined[key] = np.concatenate([joined[key], _array(trace, key)])
        else:
            groups[group] = dict(trace, x=_array(trace, "x"), y=_array(trace, "y"))
            out.append(groups[group])
    return out


def _heatmaps(figure: dict) -> list[dict]:
    return [t for t in figure.get("data", []) if t.get("type") == "heatmap"]


def _pixels(values: np.ndarray, log: bool, span: tuple[float, float], size: int,
            flip: bool) -> np.ndarray:
    scaled = (_units(values, log) - span[0]) / ((span[1] - span[0]) or 1.0)
    pixels = PAD + np.clip(scaled, -0.02, 1.02) * (size - 2 * PAD)
    return size - pixels if flip else pixels


def _extent(traces: list[dict], maps: list[dict], key: str) -> np.ndarray:
    return np.concatenate([_array(t, key) for t in traces + maps] or [np.array([])])


def sparkline_svg(figure: dict, title: str = "") -> str:
    """A WIDTH × HEIGHT SVG of ``figure``'s lines (polylines, their colours and dashes),
    dots (markers-only traces) and heatmaps (coarse cells), in the figure's own axis window
    and axis types. Deterministic: coordinates rounded to 0.1 px."""
    layout = figure.get("layout", {})
    traces, maps = _joined_dots(_drawable(figure)), _heatmaps(figure)
    log_x, x_range = _axis(layout, "xaxis", _extent(traces, maps, "x"))
    log_y, y_range = _axis(layout, "yaxis", _extent(traces, maps, "y"))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
             f"<title>{_escape(title)}</title>" if title else "",
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fafafa"/>']
    if x_range is not None and y_range is not None:
        to_x = lambda v: _pixels(v, log_x, x_range, WIDTH, False)      # noqa: E731
        to_y = lambda v: _pixels(v, log_y, y_range, HEIGHT, True)      # noqa: E731
        for heat in maps:
            parts.extend(_heat_cells(heat, to_x, to_y))
        for trace in traces:
            x, y = _array(trace, "x"), _array(trace, "y")
            if x.size == 0 or x.size != y.size:
                continue
            keep = np.unique(np.linspace(0, x.size - 1, min(x.size, MAX_POINTS)).round().astype(int))
            parts.append(_trace_svg(trace, to_x(x[keep]), to_y(y[keep])))
    parts.append("</svg>")
    return "".join(p for p in parts if p) + "\n"


def _segments(x: np.ndarray, y: np.ndarray) -> list[list[str]]:
    """Runs of finite points (a gap in the data is a gap in the line)."""
    segments, current = [], []
    for a, b in zip(x, y):
        if math.isfinite(a) and math.isfinite(b):
            current.append(f"{a:.1f},{b:.1f}")
        elif current:
            segments.append(current)
            current = []
    return segments + [current] if current else segments


def _trace_svg(trace: dict, x: np.ndarray, y: np.ndarray) -> str:
    color = _color(trace)
    opacity = float(trace.get("opacity", 1.0) or 1.0)
    if "lines" in str(trace.get("mode", "lines")):
        dash = (trace.get("line") or {}).get("dash")
        dashed = ' stroke-dasharray="3,2"' if dash not in (None, "solid") else ""
        return "".join(f'<polyline points="{" ".join(s)}" fill="none" stroke="{color}" '
                       f'stroke-width="1.4" stroke-opacity="{opacity:.2f}"{dashed}/>'
                       for s in _segments(x, y) if len(s) > 1)
    dots = [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="1.2"/>' for a, b in zip(x, y)
            if math.isfinite(a) and math.isfinite(b)]
    return f'<g fill="{color}" fill-opacity="{opacity * 0.8:.2f}">' + "".join(dots) + "</g>" if dots else ""


def _grid(heat: dict) -> np.ndarray:
    """A heatmap's z as a (rows, columns) float array (typed arrays decoded; NaN: no value)."""
    raw = heat.get("z")
    if isinstance(raw, dict) and "bdata" in raw and "shape" in raw:
        shape = [int(n) for n in str(raw["shape"]).split(",")]
        return _array(heat, "z").reshape(shape)
    try:
        return np.array([[np.nan if v is None else v for v in row] for row in raw or []], dtype=float)
    except (TypeError, ValueError):
        return np.empty((0, 0))


def _middles(edges_or_centres: np.ndarray, count: int) -> np.ndarray:
    if edges_or_centres.size == count + 1:
        return (edges_or_centres[1:] + edges_or_centres[:-1]) / 2
    return edges_or_centres[:count]


def _heat_cells(heat: dict, to_x, to_y) -> Iterable[str]:
    """The heatmap as at most GRID cells: a cell is drawn where any of its values is (a dot of
    an orbit's raster, a count of a density image), darker where more are."""
    z = _grid(heat)
    x, y = _array(heat, "x"), _array(heat, "y")
    if z.ndim != 2 or z.size == 0 or x.size < z.shape[1] or y.size < z.shape[0]:
        return []
    rows, columns = np.nonzero(np.isfinite(z))
    if rows.size == 0:
        return []
    px = to_x(_middles(x, z.shape[1]))[columns]
    py = to_y(_middles(y, z.shape[0]))[rows]
    cell_x = np.clip((px / WIDTH * GRID[0]).astype(int), 0, GRID[0] - 1)
    cell_y = np.clip((py / HEIGHT * GRID[1]).astype(int), 0, GRID[1] - 1)
    counts = np.zeros((GRID[1], GRID[0]))
    np.add.at(counts, (cell_y, cell_x), 1.0)
    top = float(np.log1p(counts.max())) or 1.0
    width, height = WIDTH / GRID[0], HEIGHT / GRID[1]
    cells = []
    for r, c in zip(*np.nonzero(counts)):
        shade = 0.35 + 0.6 * float(np.log1p(counts[r, c])) / top
        cells.append(f'<rect x="{c * width:.1f}" y="{r * height:.1f}" width="{width:.1f}" '
                     f'height="{height:.1f}" fill="#1f3b73" fill-opacity="{shade:.2f}"/>')
    return cells


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------------- scenario -> figure
def first_chart(scenario) -> dict:
    """The first chart of the scenario's page, as the page draws it (AppTest)."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=PAGE_TIMEOUT)
    app.query_params = {**scenario.query, "scenario": scenario.key}
    app.switch_page(scenario.page_file).run()
    if app.exception:
        raise RuntimeError(f"{scenario.key}: {app.exception[0].value}")
    figures = [json.loads(element.proto.spec) for element in app.get("plotly_chart")]
    drawable = [f for f in figures if _drawable(f) or _heatmaps(f)]
    if not drawable:
        raise RuntimeError(f"{scenario.key}: no chart to preview")
    return drawable[0]


def make_preview(scenario) -> str:
    return sparkline_svg(first_chart(scenario), scenario.title)


def main(keys: list[str]) -> int:
    from core.claims.scenarios import SCENARIOS

    PREVIEW_DIR.mkdir(parents=True, exist_ok=True)
    for scenario in SCENARIOS:
        if keys and scenario.key not in keys:
            continue
        svg = make_preview(scenario)
        preview_path(scenario.key).write_text(svg)
        print(f"{scenario.key}: {len(svg)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
