"""Sidebar controls shared by the pages: model, dataset and run lists.

Each ``*_fields`` function declares the URL fields of a group of controls; the matching
``*_controls`` function draws them (only those that apply to the current choices) and
returns raw values. :func:`spec_fields` turns raw values into ``make_spec`` keywords,
raising :class:`SpecError` naming the field, so a page can draw every control first and
report a bad value afterwards.
"""
from __future__ import annotations

import math
import os
from typing import Any, Sequence

import streamlit as st

from core.lists import DEFAULT_LIMIT
from core.lists import parse_list as bounded_list
from core.fields import BY_NAME, field_help
from core.algorithms import algorithms as algorithm_entries
from core.algorithms import algorithms_on
from core.registry import Lookup, Names, dataset_kind, model_family, models
from core.registry import datasets as registered_datasets
from core.settings import env_number
from core.uploads import check_visitor_path, save_upload
from core.spec import (ACTIVATIONS, DATASETS, MAX_BATCH,
                       MAX_DIMS,
                       QUERY_NAMES, TRAINED_LAYERS, SpecError, parse_field)

from .display import show_error
from .state import Field, UrlState, choice_parser, number_parser, spec_parser

# Models and algorithms, their labels and which goes with which: views of the registries
# (core/registry.py, core/algorithms.py), read when used.
MODEL_LABELS = Lookup(lambda: {name: kind.label for name, kind in models().items()})
DATASET_LABELS = {name: kind.label for name, kind in registered_datasets().items()}
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
PARAMETER_LABELS = {"mu": "μ  (b₂ = (1+μ, 1, …, 1))", "margin": "Margin", "data_seed": "Data seed",
                    "classes": "Two classes (−1, +1)"}
UPLOAD_LIMIT_MB = max(1, math.ceil(env_number("GDX_UPLOAD_LIMIT_MB")))


# ---------------------------------------------------------------------- parsing
# How many values a page's list box may hold (a bounded parse: core.lists).
PAGE_LIST_LIMITS = {"step_size": MAX_BATCH, "seed": MAX_BATCH, "dims": MAX_DIMS, "d": MAX_DIMS,
                    "kernel_size": 15, "scales": 64, "cat_eta_lambda": 256}


def parse_list(field: str, text: str, kind: type, geometric: bool = False) -> tuple:
    """``"0.1,1,10"``, ``"1e-3:1e2:log20"``, ``"16:2048:x2"``, ``"0:7"`` or ``"16,32,...,256"``,
    refused (naming the field and its limit) before a list over the limit is built."""
    return bounded_list(field, "" if text is None else str(text), kind, geometric=geometric,
                        limit=PAGE_LIST_LIMITS.get(field, DEFAULT_LIMIT))


def algorithms_for(model: str) -> tuple[str, ...]:
    """The algorithms that run on ``model`` (its family's, from the registries)."""
    return algorithms_on(_family(model))


def _family(model: str | None) -> str:
    family = model_family(model) if model is not None else None
    return family or "nonlinear"       # as before: anything but a known model offers the nonlinear set


def label_of(labels: dict[str, str]):
    """A format_func that falls back to the raw name."""
    return lambda name: labels.get(name, str(name))


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
    """The model controls; defaults come from the field table (the activation's table default
    is "the model's own", which for these classifiers is the identity)."""
    return [
        Field("model", default_model, choice_parser("model", CLASSIFIER_MODELS)),
        Field("activation", "identity", choice_parser("activation", ACTIVATIONS)),
        *(Field(name, BY_NAME[name].default, spec_parser(name))
          for name in ("leak", "width", "init_scale", "bias")),
        Field("train", BY_NAME["train"].default, choice_parser("train", TRAINED_LAYERS)),
    ]


def model_controls(state: UrlState, container=None, models: Sequence[str] = CLASSIFIER_MODELS,
                   choose_model: bool = True) -> dict[str, Any]:
    box = container or st.sidebar
    values: dict[str, Any] = {}
    if choose_model:
        values["model"] = state.selectbox("model", "Model", list(models), box,
                                          format_func=label_of(MODEL_LABELS))
    model = values.get("model")
    if model == "linear":
        values["bias"] = state.checkbox("bias", "with a bias term", box)
        return values
    values["activation"] = state.selectbox("activation", "Activation s", list(ACTIVATIONS), box,
                                           format_func=label_of(ACTIVATION_LABELS))
    if values["activation"] == "leaky_relu":
        values["leak"] = state.number("leak", "Leak (negative slope)", float, box)
    if model == "mlp" or model is None:
        values["width"] = state.number("width", "Hidden width m (MLP)", int, box)
        if model == "mlp":
            values["train"] = state.selectbox("train", "Trained layers", list(TRAINED_LAYERS), box)
    values["init_scale"] = state.number(
        "init_scale", "Init scale s", float, box,
        help="θ₀ = s·N(0, I)/√p, so ‖θ₀‖ ≈ s (the linear model starts at θ₀ = 0)")
    return values


# ---------------------------------------------------------------------- dataset
DATA_PARAMETERS = ("mu", "margin", "data_seed", "classes", "path", "label_column")


def dataset_fields(default_dataset: str, datasets: Sequence[str] = DATASETS,
                   n: int | None = None, d: int | None = None) -> list[Field]:
    """``n``/``d``: the page's own defaults for its default dataset (None: the dataset's).
    The data-set parameters take their defaults and parsers from the field table."""
    def parameter(name: str) -> Field:
        default = BY_NAME[name].default
        if BY_NAME[name].kind is str:
            return Field(name, default)
        if BY_NAME[name].is_list:                         # typed as text, e.g. "0,1"
            return Field(name, ",".join(map(str, default)))
        return Field(name, default, spec_parser(name))
    return [
        Field("dataset", default_dataset, choice_parser("dataset", datasets)),
        Field("n", n, number_parser("n", int)),
        Field("d", d, number_parser("d", int)),
        *(parameter(name) for name in DATA_PARAMETERS),
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
    dataset = state.selectbox("dataset", "Dataset", list(datasets), box,
                              format_func=label_of(DATASET_LABELS),
                              on_change=_reset_dataset_fields, args=(state,))
    values: dict[str, Any] = {"dataset": dataset}
    kind = dataset_kind(dataset)
    fixed_n, fixed_d = kind.fixed_shape
    default_n, default_d = kind.default_shape
    if fixed_n is None:
        if state.get("n") is None and default_n is not None:
            state.set("n", default_n)
        values["n"] = state.number("n", "Number of points n", int, box,
                                   placeholder="all samples")
    if show_d and fixed_d is None and not kind.needs_path:     # a file's d is its own
        if state.get("d") is None and default_d is not None:
            state.set("d", default_d)
        values["d"] = state.number("d", "Dimension d", int, box)
    for name in kind.fields:                  # the parameters its registry entry reads
        if name in ("mu", "margin"):
            values[name] = state.number(name, PARAMETER_LABELS[name], float, box,
                                        help=field_help(name))
        elif name == "data_seed":
            values[name] = state.number(name, PARAMETER_LABELS[name], int, box,
                                        help=field_help(name))
        elif name == "classes":
            values[name] = state.text(name, PARAMETER_LABELS[name], box, help=field_help(name))
    if kind.needs_path and dataset != "csv":
        values["path"] = state.text("path", "Folder with the data (under GDX_DATA_DIRS)", box,
                                    placeholder="/data/cifar-10-batches-py")
    if dataset == "csv":
        upload = box.file_uploader("CSV file (numeric features and one label column)",
                                   type=["csv"], key=state.key("upload"),
                                   max_upload_size=UPLOAD_LIMIT_MB)
        if upload is not None:
            try:
                state.set("path", save_upload(upload.getvalue()))
            except SpecError as error:
                show_error(error)
        state.mark_shown("path")
        values["path"] = state.get("path")
        values["label_column"] = state.text("label_column", "Label column", box,
                                            placeholder="label", help=field_help("label_column"))
        if values["path"]:
            box.caption(f"Using upload {os.path.basename(values['path'])[:12]}…")
    return values


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
