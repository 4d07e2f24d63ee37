"""The dashboard's pages as data (no streamlit): app.py builds its navigation from this
table, the scenario gallery links into it and the tests check links against it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    url_path: str
    file: str
    title: str
    icon: str
    default: bool = False


PAGES = (
    PageEntry("home", "pages/home.py", "Scenarios", ":material/home:", default=True),
    PageEntry("perceptron_dynamics", "pages/dynamics.py", "Perceptron dynamics",
              ":material/show_chart:"),
    PageEntry("complexity", "pages/complexity.py", "Iteration complexity",
              ":material/stacked_line_chart:"),
    PageEntry("step_size_map", "pages/step_size_map.py", "Step-size map", ":material/scatter_plot:"),
    PageEntry("shallow", "pages/shallow.py", "Shallow linear networks", ":material/functions:"),
    PageEntry("images", "pages/images.py", "Image classifiers", ":material/image:"),
    PageEntry("checks", "pages/checks.py", "Paper checks", ":material/fact_check:"),
    PageEntry("lab", "pages/lab.py", "Hypothesis lab", ":material/science:"),
)
# Hidden twins that keep older links working: url_path -> the page they show.
ALIASES = {"dynamics": "perceptron_dynamics"}
PAGE_FILES = {page.url_path: page.file for page in PAGES}
PAGE_TITLES = {page.url_path: page.title for page in PAGES}

DEFAULT_BASE_URL = "http://localhost:8501"     # where `streamlit run app.py` serves the dashboard


def view_link(page: str, query: str = "", base: str = "") -> str:
    """The full link of a dashboard view: ``base`` (GDX_BASE_URL, see core.kernel.settings.base_url)
    or the local dashboard, the page's url path, and its query string."""
    return f"{(base or DEFAULT_BASE_URL).rstrip('/')}/{page}" + (f"?{query}" if query else "")


def spec_page(spec) -> str:
    """The page that shows a run spec: the shallow page for a·b networks, the image page for
    models that need images, the perceptron-dynamics page for the other classifiers."""
    from core.kernel.registry import model_kind

    kind = model_kind(spec.model)
    if not kind.classifier:
        return "shallow"
    return "images" if kind.needs_images else "perceptron_dynamics"


def spec_link(spec, base: str = "") -> str:
    """The full link of the view of one run spec (its canonical string is the query)."""
    return view_link(spec_page(spec), spec.canonical(), base)
