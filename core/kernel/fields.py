"""The one table of run-spec fields. Each field is declared once here — its type, default,
range or choices, unit, help text, when it matters and its URL name — and everything else is
derived from it: the :class:`~core.kernel.spec.RunSpec` dataclass, validation ("field: message"),
the canonical spec string, the CLI flags and their help, the dashboard controls' defaults,
ranges and help, and ``python -m core schema`` (JSON Schema)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from core.algorithms.builtin import algorithms as algorithm_entries
from core.algorithms.builtin import algorithms_reading
from core.kernel.registry import Names, model_family, models, models_of, models_reading
from core.kernel.registry import datasets as registered_datasets
from core.kernel.registry import datasets_reading

# Models and algorithms are views of their registries (core/kernel/registry.py, core/algorithms/builtin.py),
# read when used: a registered entry is a choice wherever these are.
MODELS = Names(models)
READOUTS = ("avg", "linear")
DATASETS = Names(registered_datasets)
IMAGE_DATASETS = Names(lambda: (name for name, kind in registered_datasets().items()
                                if kind.image_shape))
ALGORITHMS = Names(algorithm_entries)
SHALLOW_INITS = ("explicit", "random", "fig3")
ACTIVATIONS = ("identity", "relu", "leaky_relu", "tanh")
TRAINED_LAYERS = ("both", "hidden", "output")
DTYPES = ("float64", "float32")
DEVICES = ("auto", "cpu", "cuda")

MAX_BATCH = 4096          # step sizes x seeds in one sweep
MAX_DIMS = 64             # values of d in one sweep-d
MAX_ITERS = 1_000_000
MAX_D = 1_000_000
MAX_N = 1_000_000
STEP_SIZE_RANGE = (1e-12, 1e12)

Rule = Callable[[Any], bool]     # spec -> whether the field changes this spec's result


def _always(_spec) -> bool:
    return True


def _shallow(spec) -> bool:
    return model_family(spec.model) == "shallow"


def _classifier(spec) -> bool:
    return model_family(spec.model) != "shallow"


def _read_by_model(field: str) -> Rule:
    """A model parameter matters when the spec's model reads it (its registry entry)."""
    return lambda spec: spec.model in models_reading(field)


def _models(field: str) -> str:
    return ", ".join(models_reading(field)) or "no model"


def _has_companion(spec) -> bool:
    """The algorithm carries a perceptron beside it on this model (core.algorithms.builtin)."""
    entry = algorithm_entries().get(spec.algorithm)
    return entry is not None and entry.companion_for(model_family(spec.model)) is not None


def _companions() -> str:
    """For people: which algorithms carry a perceptron, on which models."""
    everywhere, some = [], []
    classifier_families = [f for f in ("linear", "nonlinear") if models_of(f)]
    for name, entry in algorithm_entries().items():
        families = [f for f in classifier_families if entry.companion_for(f)]
        if families == classifier_families:
            everywhere.append(name)
        elif families:
            on = " or ".join(m for f in families for m in models_of(f))
            some.append(f"{name} on the {on} model")
    return ", and ".join(filter(None, [", ".join(everywhere), *some]))


def _read_by_algorithm(field: str) -> Rule:
    """An update rule's hyper-parameter matters when the spec's algorithm reads it (its entry)."""
    return lambda spec: spec.algorithm in algorithms_reading(field)


def _algorithms(field: str) -> str:
    return ", ".join(algorithms_reading(field)) or "no algorithm"


def _read_by_data(field: str) -> Rule:
    """A data-set parameter matters when the spec's data set reads it (its registry entry)."""
    return lambda spec: _classifier(spec) and spec.dataset in datasets_reading(field)


def _data_sets(field: str) -> str:
    return ", ".join(datasets_reading(field)) or "no data set"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a run spec."""

    name: str                          # the RunSpec attribute
    kind: type                         # int, float, bool or str (element type of a list field)
    default: Any
    help: str
    query: str = ""                    # URL / canonical name (default: name)
    low: float | None = None           # inclusive range of numbers (each element of a list)
    high: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    is_list: bool = False
    list_limit: int = 0
    relevant: Rule = _always           # does the field change the result of this spec?
    applies_to: str = "all"            # for people: which models / datasets use it
    check: Rule = _always              # validate the range only when this holds
    flag_aliases: tuple[str, ...] = ()
    optional: bool = False             # None is a value ("from the dataset")
    choice_help: Callable[[], dict[str, str]] | None = None   # one line per choice (the schema)

    @property
    def url_name(self) -> str:
        return self.query or self.name

    @property
    def flag(self) -> str:
        return "--" + self.url_name.replace("_", "-")

    def describe(self) -> str:
        """Help text with the allowed values and the default, for CLI help and the schema."""
        parts = [self.help]
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        elif self.low is not None:
            parts.append(f"in [{self.low:g}, {self.high:g}]" + (f" {self.unit}" if self.unit else ""))
        if self.is_list:
            parts.append(f"at most {self.list_limit} values")
        if self.applies_to != "all":
            parts.append(f"used by {self.applies_to}")
        if self.default not in (None, "", ()):
            shown = ",".join(map(str, self.default)) if isinstance(self.default, tuple) else self.default
            parts.append(f"default {shown}")
        return "; ".join(parts)


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("model", str, "linear", "the model trained", choices=MODELS,
              choice_help=lambda: {n: k.description for n, k in models().items()}),
    FieldSpec("dataset", str, "worst_case", "the data set", choices=DATASETS, relevant=_classifier,
              choice_help=lambda: {n: k.description for n, k in registered_datasets().items()}),
    FieldSpec("algorithm", str, "gd", "the update rule", choices=ALGORITHMS,
              choice_help=lambda: {n: a.help for n, a in algorithm_entries().items()}),
    FieldSpec("n", int, None, "number of points (fixed by some data sets)", low=2, high=MAX_N,
              relevant=_classifier, optional=True, check=lambda s: False),
    FieldSpec("d", int, None, "dimension (fixed by some data sets)", low=1, high=MAX_D,
              optional=True, check=lambda s: False),
    FieldSpec("step_sizes", float, (1.0,), "step sizes γ (η); a list 0.1,1,10, a range "
              "1e-3:1e3:log50 or 0.1:100:x10", query="step_size", low=STEP_SIZE_RANGE[0],
              high=STEP_SIZE_RANGE[1], is_list=True, list_limit=MAX_BATCH),
    FieldSpec("seeds", int, (0,), "init seeds: 0,1,2 or 0:7", query="seed", low=0,
              high=2**32 - 1, is_list=True, list_limit=MAX_BATCH,
              relevant=lambda s: _classifier(s) or s.init == "random"),
    FieldSpec("max_iters", int, 1000, "iterations (GD steps) at most", low=1, high=MAX_ITERS),
    FieldSpec("init_scale", float, 1.0, "norm of the random init (nonlinear models, random "
              "and fig3 shallow inits)", low=1e-12, high=1e6, flag_aliases=("--scale",),
              relevant=lambda s: _read_by_model("init_scale")(s) and (
                  not _shallow(s) or s.init in ("random", "fig3"))),
    FieldSpec("dtype", str, "float64", "floating-point precision", choices=DTYPES),
    FieldSpec("device", str, "auto", "where the batched engine runs", choices=DEVICES),
    FieldSpec("run_to_max", bool, False, "keep iterating after a run solves (to see the "
              "post-solve loss)"),
    FieldSpec("history_points", int, 512, "evenly spaced iterations kept per run (first, solve "
              "and last always)", low=8, high=100_000),
    FieldSpec("tail_points", int, 0, "also keep the last K iterations exactly (orbit diagrams)",
              low=0, high=10_000, relevant=lambda s: bool(s.tail_points)),
    FieldSpec("perceptron_gap", bool, True, "carry the matching perceptron runs to measure the "
              "distance to them", relevant=lambda s: _classifier(s) and _has_companion(s),
              applies_to=_companions()),
    FieldSpec("mu", float, 0.7, "minimal example: b₂ = (1+μ, 1, …, 1)", low=1e-9, high=1e6,
              relevant=_read_by_data("mu"), applies_to=_data_sets("mu")),
    FieldSpec("margin", float, 0.1, "Gaussian data: the margin", low=0.0, high=1e6,
              relevant=_read_by_data("margin"), applies_to=_data_sets("margin")),
    FieldSpec("data_seed", int, 0, "seed of generated data", low=0, high=2**32 - 1,
              relevant=_read_by_data("data_seed"), applies_to=_data_sets("data_seed")),
    FieldSpec("classes", int, (0, 1), "the two classes (−1, +1)", low=0, high=9, is_list=True,
              list_limit=2, relevant=_read_by_data("classes"), applies_to=_data_sets("classes"),
              check=lambda s: s.dataset in datasets_reading("classes")),
    FieldSpec("path", str, "", "CIFAR-10 folder or CSV file", relevant=_read_by_data("path"),
              applies_to=_data_sets("path")),
    FieldSpec("label_column", str, "", "CSV: the label column (default: the column named "
              "'label')", relevant=_read_by_data("label_column"),
              applies_to=_data_sets("label_column")),
    FieldSpec("phi", float, 1.0, "target Φ of L = ½(aᵀb − Φ)²", low=-1e6, high=1e6,
              relevant=_read_by_model("phi"), applies_to=_models("phi"),
              check=_read_by_model("phi")),
    FieldSpec("init", str, "", "explicit (needs a and b), random (scale × random directions) or "
              "fig3 (a₀ = s·e₁, b₀ = (s/2)·e₂); default explicit when a is given, else fig3",
              choices=("",) + SHALLOW_INITS, relevant=_read_by_model("init"),
              applies_to=_models("init")),
    FieldSpec("a", float, (), "explicit init a (a list)", low=-1e150, high=1e150, is_list=True,
              list_limit=100_000, relevant=lambda s: _read_by_model("a")(s) and s.init == "explicit",
              applies_to=_models("a") + ", init explicit"),
    FieldSpec("b", float, (), "explicit init b (a list)", low=-1e150, high=1e150, is_list=True,
              list_limit=100_000, relevant=lambda s: _read_by_model("b")(s) and s.init == "explicit",
              applies_to=_models("b") + ", init explicit"),
    FieldSpec("tol", float, 1e-10, "converged when |ε| ≤ tol", low=0.0, high=1e6,
              relevant=_read_by_model("tol"), applies_to=_models("tol"),
              check=_read_by_model("tol")),
    FieldSpec("activation", str, "", "activation s (default: relu for cnn, identity otherwise)",
              choices=("",) + ACTIVATIONS, relevant=_read_by_model("activation"),
              applies_to=_models("activation")),
    FieldSpec("leak", float, 0.1, "leaky_relu: the negative slope", low=0.0, high=1.0,
              relevant=lambda s: _read_by_model("leak")(s) and s.activation == "leaky_relu",
              applies_to="leaky_relu"),
    FieldSpec("width", int, 16, "MLP hidden width m", low=1, high=65_536,
              relevant=_read_by_model("width"), applies_to=_models("width")),
    FieldSpec("bias", bool, False, "linear model: add a bias", relevant=_read_by_model("bias"),
              applies_to=_models("bias")),
    FieldSpec("train", str, "both", "MLP: the trained layers", choices=TRAINED_LAYERS,
              relevant=_read_by_model("train"), applies_to=_models("train")),
    FieldSpec("kernel_size", int, 3, "CNN: convolution kernel size", low=1, high=15,
              relevant=_read_by_model("kernel_size"),
              applies_to=_models("kernel_size"), check=_read_by_model("kernel_size")),
    FieldSpec("channels", int, 8, "CNN: channels per conv layer", low=1, high=256,
              relevant=_read_by_model("channels"),
              applies_to=_models("channels"), check=_read_by_model("channels")),
    FieldSpec("conv_layers", int, 1, "CNN: conv layers", low=1, high=2,
              relevant=_read_by_model("conv_layers"),
              applies_to=_models("conv_layers"), check=_read_by_model("conv_layers")),
    FieldSpec("readout", str, "avg", "CNN: global average pool (avg) or a linear readout of "
              "all pixels", choices=READOUTS, relevant=_read_by_model("readout"),
              applies_to=_models("readout"), check=_read_by_model("readout")),
    FieldSpec("momentum", float, 0.9, "momentum β of heavy-ball and Nesterov", low=0.0,
              high=0.9999, relevant=_read_by_algorithm("momentum"),
              applies_to=_algorithms("momentum"), check=_read_by_algorithm("momentum")),
    FieldSpec("beta1", float, 0.9, "Adam: decay of the gradient's running mean β₁", low=0.0,
              high=0.9999, relevant=_read_by_algorithm("beta1"), applies_to=_algorithms("beta1"),
              check=_read_by_algorithm("beta1")),
    FieldSpec("beta2", float, 0.999, "Adam: decay of the squared gradient's running mean β₂",
              low=0.0, high=0.999999, relevant=_read_by_algorithm("beta2"),
              applies_to=_algorithms("beta2"), check=_read_by_algorithm("beta2")),
    FieldSpec("adam_eps", float, 1e-8, "Adam: ε added to the root of the second moment",
              low=1e-30, high=1.0, relevant=_read_by_algorithm("adam_eps"),
              applies_to=_algorithms("adam_eps"), check=_read_by_algorithm("adam_eps")),
    FieldSpec("minibatch_size", int, 32, "mini-batch GD: points per batch (n or more: GD)",
              query="batch_size", low=1, high=MAX_N, relevant=_read_by_algorithm("minibatch_size"),
              applies_to=_algorithms("minibatch_size"), check=_read_by_algorithm("minibatch_size")),
    FieldSpec("sharpness_every", int, 0, "top Hessian eigenvalue (Lanczos) every K iterations; "
              "0 = never", low=0, high=MAX_ITERS,
              relevant=lambda s: _classifier(s) and bool(s.sharpness_every)),
)
BY_NAME = {f.name: f for f in FIELDS}
# The update rules' hyper-parameters: the fields some algorithm entry reads.
ALGORITHM_FIELDS = Names(lambda: (f.name for f in FIELDS
                                  if any(f.name in e.fields for e in algorithm_entries().values())))
BY_QUERY = {f.url_name: f for f in FIELDS}


def field_help(name: str) -> str:
    return BY_NAME[name].describe()


def field_range(name: str) -> tuple[float, float] | None:
    spec = BY_NAME.get(name)
    return None if spec is None or spec.low is None else (spec.low, spec.high)


def json_schema() -> dict:
    """The table as JSON Schema: the documented contract for scripts (``python -m core schema``)."""
    types = {int: "integer", float: "number", bool: "boolean", str: "string"}
    properties = {}
    for f in FIELDS:
        item: dict[str, Any] = {"type": types[f.kind]}
        if f.choices:
            item["enum"] = [c for c in f.choices]
        if f.low is not None:
            item["minimum"], item["maximum"] = f.low, f.high
        if f.is_list:
            entry: dict[str, Any] = {"type": "array", "items": item, "maxItems": f.list_limit,
                                     "default": list(f.default)}
        else:
            entry = dict(item)
            entry["default"] = f.default
            if f.optional:
                entry["type"] = [item["type"], "null"]
        entry["description"] = f.describe()
        entry["x-flag"] = f.flag
        if f.choice_help is not None:
            entry["x-choice-descriptions"] = {k: v for k, v in f.choice_help().items() if v}
        entry["x-applies-to"] = f.applies_to
        if isinstance(entry.get("default"), float) and not math.isfinite(entry["default"]):
            entry["default"] = None
        properties[f.url_name] = entry
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "GD Dynamics Explorer run spec",
            "description": "One batched sweep: every (step size × seed) pair runs in the same "
                           "tensor ops. The canonical string (sorted key=value pairs of the "
                           "fields that matter) is the cache key, the permalink and the row id.",
            "type": "object", "properties": properties, "additionalProperties": False}
