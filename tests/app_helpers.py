"""Helpers for the AppTest tests: open a page of app.py, read plotly chart specs."""
from __future__ import annotations

import re

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
TIMEOUT = 180  # seconds per script run: generous for a loaded 2-core CI machine
PAGE_FILES = {"dynamics": "pages/dynamics.py", "complexity": "pages/complexity.py",
              "step_size_map": "pages/step_size_map.py", "home": "pages/home.py",
              "images": "pages/images.py", "shallow": "pages/shallow.py", "lab": "pages/lab.py"}


def page_controls(file: str) -> list:
    """The control table (``CONTROLS``) a page file declares, read by importing the file
    (a page draws itself only when Streamlit runs it as ``__main__``)."""
    import importlib.util

    path = ROOT / file
    spec = importlib.util.spec_from_file_location(f"gdx_page_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(getattr(module, "CONTROLS", []))


def open_page(page: str, query: dict[str, str] | None = None) -> AppTest:
    """Run app.py and show ``page``; ``query`` is the URL's query string."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params = dict(query or {})
    if page == "home":              # the default page: the first run shows it
        return at.run()
    # Choosing the page before the first run skips the default (landing) page.
    return at.switch_page(PAGE_FILES[page]).run()


def assert_clean(at: AppTest) -> None:
    """No exception and no error on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at: AppTest) -> list[dict[str, Any]]:
    """The plotly figures on the page (parsed spec JSON), in page order."""
    return [json.loads(element.proto.spec) for element in at.get("plotly_chart")]


def title(figure: dict[str, Any]) -> str:
    text = figure.get("layout", {}).get("title", {})
    return text.get("text", "") if isinstance(text, dict) else str(text)


def chart(at: AppTest, title_part: str) -> dict[str, Any]:
    """The one chart whose title contains ``title_part``."""
    found = [f for f in charts(at) if title_part in title(f)]
    assert len(found) == 1, (title_part, [title(f) for f in charts(at)])
    return found[0]


def values(trace: dict[str, Any], key: str) -> np.ndarray:
    """A trace's x or y as floats (None -> NaN), typed arrays (bdata) decoded."""
    raw = trace.get(key, [])
    if isinstance(raw, dict) and "bdata" in raw:
        return np.frombuffer(base64.b64decode(raw["bdata"]), dtype=np.dtype(raw["dtype"])).astype(float)
    return np.array([np.nan if v is None else v for v in raw], dtype=float)


def dot_values(figure: dict[str, Any], key: str) -> np.ndarray:
    """The orbit diagram's dots (x or y), one per cell of its dot raster (the heatmap named
    after the y axis) that holds a dot: the x of the cell's column (its middle, in the
    axis's units: a run's own x) or the y of its row's middle."""
    dots = next(t for t in figure["data"] if t.get("type") == "heatmap")
    layout = figure.get("layout", {})
    middles = {}
    for axis in ("x", "y"):
        edges = values(dots, axis)
        log = layout.get(f"{axis}axis", {}).get("type") == "log"
        units = np.log10(edges) if log else edges
        middle = (units[1:] + units[:-1]) / 2
        middles[axis] = 10 ** middle if log else middle
    raw = dots["z"]
    shape = ([int(n) for n in raw["shape"].split(",")] if isinstance(raw, dict) and "shape" in raw
             else (len(raw), -1))
    z = values(dots, "z").reshape(shape)
    rows, columns = np.nonzero(np.isfinite(z))
    return middles[key][columns] if key == "x" else middles[key][rows]


def trace_names(figure: dict[str, Any]) -> list[str]:
    return [trace.get("name", "") for trace in figure["data"]]


def shown_text(markdown: str) -> str:
    """What a visitor reads: the markdown body with its backslash escapes resolved
    (ui.display.literal escapes every punctuation mark of echoed text)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")


def errors(at: AppTest) -> list[str]:
    return [shown_text(element.value) for element in at.error]


def table_rows(at: AppTest, index: int = 0) -> list[dict[str, Any]]:
    return at.dataframe[index].value.to_dict("records")
