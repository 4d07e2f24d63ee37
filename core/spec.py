"""Run specifications: an immutable, hashable description of one batched sweep.

A :class:`RunSpec` only stores settings (scikit-learn style). Its canonical string
(``spec.canonical()``) is a URL query string with sorted keys; it is the cache key
(together with the core code version), the permalink of a dashboard view and the id of
an exported row. ``RunSpec.from_query`` parses it back, so the round trip is exact.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

from .errors import SpecError
from .lists import parse_list, parse_number

MODELS = ("linear", "two_layer_conv", "mlp", "cnn", "shallow_linear")
READOUTS = ("avg", "linear")
IMAGE_DATASETS = ("digits", "cifar10")
DATASETS = ("worst_case", "two_point", "minimal", "gaussian", "breast_cancer", "digits",
            "cifar10", "csv")
ALGORITHMS = ("gd", "normalized_gd", "batch_perceptron", "normalized_batch_perceptron",
              "generalized_perceptron", "gradient_flow")
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

# Datasets whose size is fixed by their definition: name -> (n or None, d or None).
FIXED_SHAPES = {
    "worst_case": (None, 2),
    "two_point": (2, 2),
    "minimal": (2, None),
    "breast_cancer": (None, 30),
    "digits": (None, 64),
    "cifar10": (None, 3072),
}
DEFAULT_SHAPES = {
    "worst_case": (1000, 2),
    "two_point": (2, 2),
    "minimal": (2, 64),
    "gaussian": (200, 20),
    "breast_cancer": (569, 30),
    "digits": (None, 64),      # n: every sample of the two classes
    "cifar10": (1000, 3072),
    "csv": (None, None),       # from the file
}




def _fmt_float(x: float) -> str:
    if math.isinf(x) or math.isnan(x):
        return repr(x)
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return _fmt_float(value)
    if isinstance(value, tuple):
        return ",".join(_fmt(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class RunSpec:
    """One batched sweep: every (step size x seed) pair runs in the same tensor ops."""

    model: str = "linear"
    dataset: str = "worst_case"
    algorithm: str = "gd"
    n: int | None = None
    d: int | None = None
    step_sizes: tuple[float, ...] = (1.0,)
    seeds: tuple[int, ...] = (0,)
    max_iters: int = 1000
    init_scale: float = 1.0
    dtype: str = "float64"
    device: str = "auto"
    run_to_max: bool = False
    history_points: int = 512
    tail_points: int = 0       # also keep the last K iterations exactly (orbit diagrams)
    perceptron_gap: bool = True  # carry the matching perceptron runs to measure the gap
    # dataset parameters
    mu: float = 0.7
    margin: float = 0.1
    data_seed: int = 0
    classes: tuple[int, ...] = (0, 1)
    path: str = ""
    label_column: str = ""
    # shallow linear network a·b (science.md §3)
    phi: float = 1.0
    init: str = ""               # explicit (a, b given) | random | fig3; "" picks explicit or fig3
    a: tuple[float, ...] = ()
    b: tuple[float, ...] = ()
    tol: float = 1e-10
    # model parameters
    activation: str = ""         # "" = the model's default: relu for cnn, identity otherwise
    leak: float = 0.1
    width: int = 16
    bias: bool = False
    train: str = "both"
    kernel_size: int = 3
    channels: int = 8
    conv_layers: int = 1
    readout: str = "avg"
    sharpness_every: int = 0     # top Hessian eigenvalue every K iterations (0 = never)

    # ------------------------------------------------------------------ derived
    @property
    def batch_size(self) -> int:
        return len(self.step_sizes) * len(self.seeds)

    def relevant_fields(self) -> list[str]:
        """The fields that change the result of this spec (the others are ignored)."""
        if self.model == "shallow_linear":
            names = ["model", "algorithm", "d", "step_sizes", "max_iters", "dtype", "device",
                     "run_to_max", "history_points", "phi", "init", "tol"]
            if self.tail_points:
                names.append("tail_points")
            names += {"explicit": ["a", "b"], "random": ["init_scale", "seeds"],
                      "fig3": ["init_scale"]}.get(self.init, [])
            return sorted(names)
        names = ["model", "dataset", "algorithm", "n", "d", "step_sizes", "seeds",
                 "max_iters", "dtype", "device", "run_to_max", "history_points"]
        if self.tail_points:
            names.append("tail_points")
        if self.algorithm == "gd" or (self.algorithm == "normalized_gd" and self.model == "linear"):
            names.append("perceptron_gap")
        if self.sharpness_every:
            names.append("sharpness_every")
        if self.model == "cnn":
            names += ["kernel_size", "channels", "conv_layers", "readout"]
        if self.model != "linear":
            names += ["init_scale", "activation", "width" if self.model == "mlp" else None]
            if self.activation == "leaky_relu":
                names.append("leak")
            if self.model == "mlp":
                names.append("train")
        if self.model == "linear":
            names.append("bias")
        names += {
            "minimal": ["mu"],
            "gaussian": ["margin", "data_seed"],
            "digits": ["classes"],
            "cifar10": ["classes", "path"],
            "csv": ["path", "label_column"],
        }.get(self.dataset, [])
        return sorted(name for name in names if name)

    def canonical(self) -> str:
        """Sorted ``key=value`` query string of the relevant fields (stable, URL-safe)."""
        pairs = []
        for name in self.relevant_fields():
            value = getattr(self, name)
            if value is None or value == "":
                continue
            pairs.append((QUERY_NAMES[name], _fmt(value)))
        return urlencode(pairs, safe=",/:")

    def __str__(self) -> str:
        return self.canonical()

    def replace(self, **changes: Any) -> "RunSpec":
        return dataclasses.replace(self, **changes)

    def single(self, step_size: float, seed: int) -> "RunSpec":
        """The spec of one run of the sweep (its canonical string is the run's row id)."""
        return self.replace(step_sizes=(float(step_size),), seeds=(int(seed),))

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_query(cls, query: str | Mapping[str, Any]) -> "RunSpec":
        """Parse a canonical string, URL query, or a mapping of query names to values."""
        if isinstance(query, str):
            items = parse_qsl(query.lstrip("?"), keep_blank_values=True)
        else:
            items = list(query.items())
        values: dict[str, Any] = {}
        for key, raw in items:
            name = FIELD_BY_QUERY.get(key)
            if name is None:
                raise SpecError(key, f"unknown field; allowed: {', '.join(sorted(FIELD_BY_QUERY))}")
            if isinstance(raw, (list, tuple)) and name not in TUPLE_FIELDS:
                raw = raw[0] if raw else ""
            values[name] = parse_field(name, raw)
        return make_spec(**values)

    def to_query(self) -> dict[str, str]:
        """The canonical string as a dict (for ``st.query_params``)."""
        return dict(parse_qsl(self.canonical(), keep_blank_values=True))


QUERY_NAMES = {f.name: ("step_size" if f.name == "step_sizes" else "seed" if f.name == "seeds"
                        else f.name) for f in dataclasses.fields(RunSpec)}
FIELD_BY_QUERY = {query: name for name, query in QUERY_NAMES.items()}
FIELD_TYPES = {
    "n": int, "d": int, "max_iters": int, "data_seed": int, "width": int, "history_points": int, "tail_points": int, "kernel_size": int,
    "channels": int, "conv_layers": int, "sharpness_every": int,
    "init_scale": float, "mu": float, "margin": float, "leak": float,
    "run_to_max": bool, "bias": bool, "perceptron_gap": bool, "phi": float, "tol": float,
    "step_sizes": float, "seeds": int, "classes": int, "a": float, "b": float,
}
TUPLE_FIELDS = {"step_sizes", "seeds", "classes", "a", "b"}


# How many values each list field may hold (checked before the list is built).
LIST_LIMITS = {"step_sizes": MAX_BATCH, "seeds": MAX_BATCH, "classes": 2, "a": 100_000,
               "b": 100_000}


def _parse_scalar(name: str, kind: type, raw: Any) -> Any:
    field = QUERY_NAMES.get(name, name)
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        if kind is float and not math.isfinite(raw):
            raise SpecError(field, f"expected a finite number, got {float(raw)}")
        return raw
    text = str(raw).strip()
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise SpecError(field, f"expected true/false, got {text[:40]!r}")
    if kind in (int, float):
        return parse_number(field, text, kind)
    return raw


def parse_field(name: str, raw: Any) -> Any:
    """Convert a string (or list of strings) from a URL, CLI flag or widget to the field's type."""
    kind = FIELD_TYPES.get(name, str)
    if name in TUPLE_FIELDS:
        field = QUERY_NAMES.get(name, name)
        if isinstance(raw, (list, tuple)):
            return parse_list(field, [str(v) for v in raw], kind, limit=LIST_LIMITS[name])
        text = "" if raw is None else str(raw)
        if not text.strip():
            return ()
        return parse_list(field, text, kind, limit=LIST_LIMITS[name])
    if raw is None:
        return None
    if kind in (int, float) and str(raw).strip() in ("", "none", "None"):
        return None
    if kind is str:
        text = str(raw)
        if len(text) > MAX_TEXT_FIELD:
            raise SpecError(QUERY_NAMES.get(name, name), f"at most {MAX_TEXT_FIELD} characters")
        return text
    return _parse_scalar(name, kind, raw)


MAX_TEXT_FIELD = 4096


# ---------------------------------------------------------------------- validation
def _check_choice(field: str, value: str, choices: Iterable[str]) -> None:
    if value not in choices:
        shown = str(value) if len(str(value)) <= 60 else str(value)[:60] + "…"
        raise SpecError(field, f"{shown!r} is not one of {', '.join(choices)}")


def _check_range(field: str, value: float | int, low: float, high: float) -> None:
    if not (low <= value <= high) or (isinstance(value, float) and math.isnan(value)):
        raise SpecError(field, f"must be in [{low:g}, {high:g}], got {value:g}")


def validate(spec: RunSpec) -> RunSpec:
    """Check every field and fill in dataset-determined sizes. Returns the resolved spec."""
    _check_choice("model", spec.model, MODELS)
    _check_choice("dataset", spec.dataset, DATASETS)
    _check_choice("algorithm", spec.algorithm, ALGORITHMS)
    _check_choice("dtype", spec.dtype, DTYPES)
    _check_choice("device", spec.device, DEVICES)
    activation = spec.activation or ("relu" if spec.model == "cnn" else "identity")
    _check_choice("activation", activation, ACTIVATIONS)
    spec = dataclasses.replace(spec, activation=activation)
    _check_choice("train", spec.train, TRAINED_LAYERS)

    if not spec.step_sizes:
        raise SpecError("step_size", "needs at least one value")
    for gamma in spec.step_sizes:
        _check_range("step_size", gamma, *STEP_SIZE_RANGE)
    if not spec.seeds:
        raise SpecError("seed", "needs at least one value")
    for seed in spec.seeds:
        _check_range("seed", seed, 0, 2**32 - 1)
    if spec.batch_size > MAX_BATCH:
        raise SpecError("step_size", f"step sizes x seeds must be at most {MAX_BATCH}, "
                        f"got {len(spec.step_sizes)} x {len(spec.seeds)} = {spec.batch_size}")
    _check_range("max_iters", spec.max_iters, 1, MAX_ITERS)
    _check_range("history_points", spec.history_points, 8, 100_000)
    _check_range("tail_points", spec.tail_points, 0, 10_000)
    _check_range("init_scale", spec.init_scale, 1e-12, 1e6)
    _check_range("mu", spec.mu, 1e-9, 1e6)
    _check_range("margin", spec.margin, 0.0, 1e6)
    _check_range("data_seed", spec.data_seed, 0, 2**32 - 1)
    _check_range("leak", spec.leak, 0.0, 1.0)
    _check_range("width", spec.width, 1, 65_536)
    _check_range("sharpness_every", spec.sharpness_every, 0, MAX_ITERS)
    if spec.model == "cnn":
        _check_choice("readout", spec.readout, READOUTS)
        _check_range("kernel_size", spec.kernel_size, 1, 15)
        _check_range("channels", spec.channels, 1, 256)
        _check_range("conv_layers", spec.conv_layers, 1, 2)
        if spec.dataset not in IMAGE_DATASETS:
            raise SpecError("dataset", f"cnn needs images: one of {', '.join(IMAGE_DATASETS)}, "
                            f"got {spec.dataset}")

    if spec.model == "shallow_linear":
        return _validate_shallow(spec)
    if spec.algorithm == "gradient_flow":
        raise SpecError("algorithm", "gradient_flow is available for the shallow_linear model")
    if spec.algorithm in ("batch_perceptron", "normalized_batch_perceptron") and spec.model != "linear":
        raise SpecError("algorithm", f"{spec.algorithm} is defined for the linear model; "
                        "use generalized_perceptron for two_layer_conv or mlp")
    if spec.dataset in ("digits", "cifar10"):
        if len(spec.classes) != 2 or spec.classes[0] == spec.classes[1]:
            raise SpecError("classes", f"needs two different classes, got {_fmt(spec.classes)}")
        for c in spec.classes:
            _check_range("classes", c, 0, 9)
    if spec.dataset in ("cifar10", "csv") and not spec.path:
        raise SpecError("path", f"the {spec.dataset} dataset needs a path")

    n, d = spec.n, spec.d
    fixed_n, fixed_d = FIXED_SHAPES.get(spec.dataset, (None, None))
    default_n, default_d = DEFAULT_SHAPES[spec.dataset]
    if fixed_n is not None and n is not None and n != fixed_n:
        raise SpecError("n", f"the {spec.dataset} dataset has n = {fixed_n}, got {n}")
    if fixed_d is not None and d is not None and d != fixed_d:
        raise SpecError("d", f"the {spec.dataset} dataset has d = {fixed_d}, got {d}")
    n = n if n is not None else (fixed_n if fixed_n is not None else default_n)
    d = d if d is not None else (fixed_d if fixed_d is not None else default_d)
    low_n = 3 if spec.dataset == "worst_case" else 2
    if n is not None:
        _check_range("n", n, low_n, MAX_N)
    if d is not None:
        _check_range("d", d, 2 if spec.model == "two_layer_conv" else 1, MAX_D)
    if spec.dataset == "breast_cancer" and n is not None and n > 569:
        raise SpecError("n", f"must be in [2, 569] for breast_cancer, got {n}")

    step_sizes = tuple(float(g) for g in spec.step_sizes)
    return dataclasses.replace(spec, n=n, d=d, step_sizes=step_sizes,
                               seeds=tuple(int(s) for s in spec.seeds),
                               classes=tuple(int(c) for c in spec.classes))


def _validate_shallow(spec: RunSpec) -> RunSpec:
    if spec.algorithm not in ("gd", "gradient_flow"):
        raise SpecError("algorithm", f"shallow_linear runs gd or gradient_flow, got {spec.algorithm!r}")
    _check_range("phi", spec.phi, -1e6, 1e6)
    _check_range("tol", spec.tol, 0.0, 1e6)
    init = spec.init or ("explicit" if spec.a or spec.b else "fig3")
    _check_choice("init", init, SHALLOW_INITS)
    d = spec.d
    if init == "explicit":
        if not spec.a or not spec.b:
            raise SpecError("a" if not spec.a else "b", "explicit init needs both a and b")
        if len(spec.a) != len(spec.b):
            raise SpecError("b", f"a and b need the same length, got {len(spec.a)} and {len(spec.b)}")
        if d is not None and d != len(spec.a):
            raise SpecError("d", f"a and b have length {len(spec.a)}, got d = {d}")
        d = len(spec.a)
        for name in ("a", "b"):
            for value in getattr(spec, name):
                _check_range(name, value, -1e150, 1e150)
    elif spec.a or spec.b:
        raise SpecError("init", f"a and b are only used with init=explicit, not {init}")
    d = d if d is not None else 2
    _check_range("d", d, 2 if init == "fig3" else 1, 100_000)
    seeds = spec.seeds if init == "random" else (0,)
    resolved = dataclasses.replace(spec, init=init, d=d, n=None, dataset=RunSpec.dataset,
                                   step_sizes=tuple(float(g) for g in spec.step_sizes),
                                   seeds=tuple(int(s) for s in seeds),
                                   a=tuple(float(v) for v in spec.a),
                                   b=tuple(float(v) for v in spec.b))
    if resolved.batch_size > MAX_BATCH:
        raise SpecError("step_size", f"step sizes x seeds must be at most {MAX_BATCH}")
    return resolved


def make_spec(**fields: Any) -> RunSpec:
    """Build and validate a spec from keyword fields (raises :class:`SpecError`)."""
    known = {f.name for f in dataclasses.fields(RunSpec)}
    for name in fields:
        if name not in known:
            raise SpecError(name, f"unknown field; allowed: {', '.join(sorted(known))}")
    return validate(RunSpec(**{k: v for k, v in fields.items() if v is not None or k in ("n", "d")}))
