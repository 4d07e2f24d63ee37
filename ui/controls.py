"""Sidebar controls shared by the pages: model, dataset and run lists.

Each ``*_fields`` function declares a group of controls once (URL name, default, widget, label,
help, range); a page puts the group in its ``CONTROLS`` table, and the matching ``*_controls``
function draws them (only those that apply to the current choices) and returns raw values. :func:`spec_fields` turns raw values into ``make_spec`` keywords,
raising :class:`SpecError` naming the field, so a page can draw every control first and
report a bad value afterwards.
"""
from __future__ import annotations

import math
import os
from typing import Any, Sequence

import streamlit as st

from core.kernel.lists import DEFAULT_LIMIT
from core.kernel.lists import parse_list as bounded_list
from core.kernel.fields import ALGORITHM_FIELDS, BY_NAME, FIELDS, field_help, field_range
from core.algorithms.builtin import algorithms as algorithm_entries
from core.algorithms.builtin import algorithms_on
from core.kernel.registry import Lookup, Names, dataset_kind, model_family, model_kind, models
from core.kernel.registry import datasets as registered_datasets
from core.kernel.settings import env_number
from core.store.uploads import check_visitor_path, save_upload
from core.kernel.spec import QUERY_NAMES, SpecError, parse_field
from core.kernel.fields import ACTIVATIONS, DATASETS, MAX_DIMS, TRAINED_LAYERS

from .display import show_error
from .state import Field, UrlState, choice, flag, number, spec_number, text

# Models and algorithms, their labels and which goes with which: views of the registries
# (core/kernel/registry.py, core/algorithms/builtin.py), read when used.
MODEL_LABELS = Lookup(lambda: {name: kind.label for name, kind in models().items()})
DATASET_LABELS = Lookup(lambda: {name: kind.label for name, kind in registered_datasets().items()})
ACTIVATION_LABELS = {"identity": "identity", "relu": "ReLU", "leaky_relu": "leaky ReLU",
                     "tanh": "tanh"}
# The classifiers of science.md §1–2 that run on any data set (the image models have their
# own page, the shallow a·b network too), and the algorithms of each model family.
CLASSIFIER_MODELS = Names(lambda: (name for name, kind in models().items()
                                   if kind.classifier and not kind.needs_images))
LINEAR_ALGORITHMS = Names(lambda: algorithms_on("linear"))
NONLINEAR_ALGORITHMS = Names(lambda: algorithms_on("nonlinear"))
# When the model changes, perceptron choices follow the model (the entries' ``becomes``).
ALGORITHM_FOR_MODEL = Lookup(lambda: {(family, name): other
                                      for name, entry in algorithm_entries().items()
                                      for family, other in entry.becomes})
UPLOAD_LIMIT_MB = max(1, math.ceil(env_number("GDX_UPLOAD_LIMIT_MB")))


# ---------------------------------------------------------------------- parsing
# How many values a page's list box may hold (a bounded parse: core.kernel.lists).
# Spec list fields take theirs from the field table; a page's own lists declare theirs here
# or pass ``limit``.
PAGE_LIST_LIMITS = {**{f.url_name: f.list_limit for f in FIELDS if f.is_list},
                    "dims": MAX_DIMS, "d": MAX_DIMS, "scales": 64, "cat_eta_lambda": 256}


def parse_list(field: str, text: str, kind: type, geometric: bool = False,
               limit: int | None = None) -> tuple:
    """``"0.1,1,10"``, ``"1e-3:1e2:log20"``, ``"16:2048:x2"``, ``"0:7"`` or ``"16,32,...,256"``,
    refused (naming the field and its limit) before a list over the limit is built."""
    return bounded_list(field, "" if text is None else str(text), kind, geometric=geometric,
                        limit=limit or PAGE_LIST_LIMITS.get(field, DEFAULT_LIMIT))


def algorithms_for(model: str) -> tuple[str, ...]:
    """The algorithms that run on ``model`` (its family's, from the registries)."""
    return algorithms_on(_family(model))


def _family(model: str | None) -> str:
    family = model_family(model) if model is not None else None
    return family or "nonlinear"       # as before: anything but a known model offers the nonlinear set


def adapt_algorithms(model: str, chosen: Sequence[str]) -> list[str]:
    """Map perceptron choices to the model's own perceptron, keeping the order."""
    family = _family(model)
    out: list[str] = []
    for algorithm in chosen:
        algorithm = ALGORITHM_FOR_MODEL.get((family, algorithm), algorithm)
        if algorithm in algorithms_for(model) and algorithm not in out:
            out.append(algorithm)
    return out


# ---------------------------------------------------------------------- model
def model_fields(default_model: str = "linear") -> list[Field]:
    """The model controls, declared once and in the order they are drawn; ranges, help and
    defaults come from the field table (the activation's table default is "the model's own",
    which for these classifiers is the identity)."""
    return [
        choice("model", default_model, CLASSIFIER_MODELS, "Model", labels=MODEL_LABELS),
        flag("bias", BY_NAME["bias"].default, "with a bias term", help=field_help("bias")),
        choice("activation", "identity", ACTIVATIONS, "Activation s", labels=ACTIVATION_LABELS),
        spec_number("leak", "Leak (negative slope)"),
        spec_number("width", "Hidden width m (MLP)"),
        choice("train", BY_NAME["train"].default, TRAINED_LAYERS, "Trained layers (MLP)"),
        spec_number("init_scale", "Init scale s",
                    help="θ₀ = s·N(0, I)/√p, so ‖θ₀‖ ≈ s (the linear model starts at θ₀ = 0)"),
    ]


def model_controls(state: UrlState, container=None, models: Sequence[str] = CLASSIFIER_MODELS,
                   choose_model: bool = True) -> dict[str, Any]:
    """The model choice, then the parameters the chosen model reads (its registry entry's
    fields); with ``choose_model=False`` those any nonlinear model of ``models`` reads."""
    values: dict[str, Any] = {}
    if choose_model:
        values["model"] = state.draw("model", container, options=list(models))
        read = set(model_kind(values["model"]).fields)
    else:
        read = {field for name in models if model_family(name) == "nonlinear"
                for field in model_kind(name).fields}
    unread = []
    for name in [name for name in state.fields if name in read or name in MODEL_PARAMETERS]:
        if name not in read or (name == "leak" and values.get("activation") != "leaky_relu"):
            unread.append(name)
            continue
        values[name] = state.draw(name, container)
    if choose_model:
        state.refuse_unread(unread, f"the {values['model']} model")
    return values


# ---------------------------------------------------------------------- update rules
ALGORITHM_FIELD_LABELS = {"momentum": "Momentum β", "beta1": "Adam β₁", "beta2": "Adam β₂",
                          "adam_eps": "Adam ε", "minibatch_size": "Mini-batch size"}


def algorithm_fields() -> list[Field]:
    """The update rules' hyper-parameters (the fields an algorithm entry reads), with range,
    type, default and help from the field table."""
    return [spec_number(name, ALGORITHM_FIELD_LABELS.get(name, BY_NAME[name].url_name))
            for name in ALGORITHM_FIELDS]


def algorithm_controls(state: UrlState, chosen: Sequence[str], container=None) -> dict[str, Any]:
    """The hyper-parameters the chosen algorithms read (their registry entries' fields), as
    ``make_spec`` keywords."""
    entries = algorithm_entries()
    read = {field for name in chosen if name in entries for field in entries[name].fields}
    return {name: state.draw(BY_NAME[name].url_name, container) for name in ALGORITHM_FIELDS
            if name in read and BY_NAME[name].url_name in state.fields}


# The model parameters of model_fields (every name but the model choice).
MODEL_PARAMETERS = ("bias", "activation", "leak", "width", "train", "init_scale")


# ---------------------------------------------------------------------- dataset

def dataset_fields(default_dataset: str, datasets: Sequence[str] = DATASETS,
                   n: int | None = None, d: int | None = None) -> list[Field]:
    """``n``/``d``: the page's own defaults for its default dataset (None: the dataset's).
    The data-set parameters take their defaults, ranges and help from the field table."""
    return [
        choice("dataset", default_dataset, datasets, "Dataset", labels=DATASET_LABELS,
               on_change=_reset_dataset_fields),
        number("n", n, "Number of points n", int, bounds=field_range("n"),
               placeholder="all samples"),
        number("d", d, "Dimension d", int, bounds=field_range("d")),
        spec_number("mu", "μ  (b₂ = (1+μ, 1, …, 1))", help=field_help("mu")),
        spec_number("margin", "Margin", help=field_help("margin")),
        spec_number("data_seed", "Data seed", help=field_help("data_seed")),
        text("classes", ",".join(map(str, BY_NAME["classes"].default)), "Two classes (−1, +1)",
             help=field_help("classes")),
        text("path", "", "Folder with the data (under GDX_DATA_DIRS)",
             placeholder="/data/cifar-10-batches-py"),
        text("label_column", "", "Label column", placeholder="label",
             help=field_help("label_column")),
    ]


def _reset_dataset_fields(state: UrlState) -> None:
    """A new dataset starts from its own sizes (filled in by dataset_controls) and from the
    parameter defaults its registry entry declares."""
    for name in ("n", "d"):
        state.set(name, None)
    for name in ("path", "label_column"):
        state.set(name, "")
    chosen = state.get("dataset")
    if chosen in DATASETS:
        for name, value in dataset_kind(chosen).defaults:
            state.set(name, ",".join(map(str, value)) if isinstance(value, tuple) else value)


def dataset_controls(state: UrlState, datasets: Sequence[str] = DATASETS, container=None,
                     show_d: bool = True) -> dict[str, Any]:
    box = container or st.sidebar
    dataset = state.draw("dataset", box, options=list(datasets), args=(state,))
    values: dict[str, Any] = {"dataset": dataset}
    kind = dataset_kind(dataset)
    fixed_n, fixed_d = kind.fixed_shape
    default_n, default_d = kind.default_shape
    if fixed_n is None:
        values["n"] = _shape_control(state, "n", default_n, box)
    if show_d and fixed_d is None and not kind.needs_path:     # a file's d is its own
        values["d"] = _shape_control(state, "d", default_d, box)
    for name in kind.fields:                  # the parameters its registry entry reads
        if name == "path" and kind.upload:
            values["path"] = _uploaded_path(state, box)
        elif name in state.fields:
            values[name] = state.draw(name, box)
    state.refuse_unread([name for name in DATASET_PARAMETERS
                         if name in state.fields and name not in kind.fields],
                        f"the {dataset} data set")
    return values


def _shape_control(state: UrlState, name: str, default: Any, box) -> Any:
    """n or d, starting from the data set's default shape when unset."""
    if state.get(name) is None and default is not None:
        state.set(name, default)
    return state.draw(name, box)


DATASET_PARAMETERS = ("mu", "margin", "data_seed", "classes", "path", "label_column")


def _uploaded_path(state: UrlState, box) -> str:
    """An upload widget standing in for the path: the file is saved under the uploads folder
    and its path kept (and put in the URL like a typed one)."""
    upload = box.file_uploader("CSV file (numeric features and one label column)",
                               type=["csv"], key=state.key("upload"),
                               max_upload_size=UPLOAD_LIMIT_MB)
    if upload is not None:
        try:
            state.set("path", save_upload(upload.getvalue()))
        except SpecError as error:
            show_error(error)
    state.mark_shown("path")
    path = state.get("path")
    if path:
        box.caption(f"Using upload {os.path.basename(path)[:12]}…")
    return path


def check_upload_path(path: str) -> None:
    """A path from the URL or a form: only this server's uploads or GDX_DATA_DIRS folders."""
    check_visitor_path(path)


def spec_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Raw control values -> ``make_spec`` keywords (raises SpecError naming the field)."""
    out = dict(values)
    for name, value in out.items():
        if value is None and name not in ("n", "d"):      # an emptied number box
            raise SpecError(QUERY_NAMES.get(name, name), "needs a value")
    if "classes" in out:
        out["classes"] = parse_field("classes", out["classes"])
    if out.get("dataset") in DATASETS and dataset_kind(out["dataset"]).needs_path:
        check_upload_path(out.get("path", ""))
    return out
