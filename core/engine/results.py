"""Results of a sweep: plain numpy arrays and JSON-able metadata (never torch objects)."""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.kernel.spec import RunSpec

HISTORY_KEYS = ("loss", "accuracy", "min_margin", "grad_norm", "param_norm", "perceptron_gap")
METRIC_DESCRIPTIONS = {
    "loss": "logistic loss f(θ_t) = (1/n) Σ log(1 + exp(−m_i)) of the iterate",
    "accuracy": "fraction of points with margin m_i > 0",
    "min_margin": "min_i m_i (solved when > 0)",
    "grad_norm": "‖∇f(θ_t)‖ for GD and normalized GD; for perceptrons the norm of the update "
                 "direction per unit step",
    "param_norm": "‖θ_t‖ (perceptron maps of 2-homogeneous models are rescaled to ‖θ_0‖ each step)",
    "sharpness": "top eigenvalue of the Hessian of f (Lanczos on Hessian-vector products); "
                 "compare with 2/γ (edge of stability)",
    "perceptron_gap": "linear: ‖θ_t/γ − θ̂_t‖ to the matching batch perceptron; nonlinear: "
                      "‖θ_t/‖θ_t‖ − θ̂_t/‖θ̂_t‖‖ to the generalized perceptron (same γ, same θ_0)",
}


def _json_number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class RunRecord:
    step_size: float
    seed: int
    iterations_to_solve: int | None
    diverged: bool
    diverged_at: int | None
    last_iteration: int
    history: dict[str, np.ndarray]        # "iteration" plus metrics, same length
    params: np.ndarray | None = None      # (len(history["iteration"]), p) where recorded
    tail: dict[str, np.ndarray] | None = None  # the last tail_points iterations, exactly
    extras: dict[str, Any] = field(default_factory=dict)  # model-specific run-level values

    @property
    def final_loss(self) -> float:
        return float(self.history["loss"][-1])

    @property
    def final_accuracy(self) -> float:
        return float(self.history["accuracy"][-1]) if "accuracy" in self.history else math.nan

    def summary(self) -> dict[str, Any]:
        return {
            "step_size": self.step_size,
            "seed": self.seed,
            "iterations_to_solve": self.iterations_to_solve,
            "diverged": self.diverged,
            "diverged_at": self.diverged_at,
            "last_iteration": self.last_iteration,
            "final_loss": _json_number(self.final_loss),
            "final_accuracy": (_json_number(self.final_accuracy)
                               if "accuracy" in self.history else None),
            **self.extras,
        }


@dataclass
class SweepResult:
    spec: RunSpec
    runs: list[RunRecord]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.meta.get("key", "")

    def run(self, step_size: float, seed: int | None = None) -> RunRecord:
        for record in self.runs:
            if math.isclose(record.step_size, step_size, rel_tol=1e-12) and (
                    seed is None or record.seed == seed):
                return record
        raise KeyError(f"no run with step size {step_size} and seed {seed}")

    # ------------------------------------------------------------ cache payload
    def to_payload(self) -> dict[str, Any]:
        """Plain data for the cache: a JSON string and a few numpy arrays. Each history (and
        tail) key is one array of every run's values end to end, with the runs' lengths, so
        a cached sweep of hundreds of runs is a handful of arrays to read, not thousands."""
        arrays: dict[str, np.ndarray] = {}
        runs_meta = []
        for index, record in enumerate(self.runs):
            meta = record.summary()
            meta["history_keys"] = list(record.history)
            meta["tail_keys"] = list(record.tail or {})
            runs_meta.append(meta)
            if record.params is not None:
                arrays[f"{index}/params"] = record.params
        for part in ("history", "tail"):
            columns = [getattr(record, part) or {} for record in self.runs]
            arrays[f"{part}_lengths"] = np.array(
                [len(next(iter(c.values()))) if c else 0 for c in columns], dtype=np.int64)
            for name in dict.fromkeys(name for c in columns for name in c):
                pieces = [np.asarray(c[name]) for c in columns if name in c]
                arrays[f"{part}/{name}"] = np.concatenate(pieces) if pieces else np.array([])
        document = {"spec": self.spec.canonical(), "meta": self.meta, "runs": runs_meta}
        return {"json": json.dumps(document, sort_keys=True), "arrays": arrays}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "SweepResult":
        """Inverse of :meth:`to_payload`; raises KeyError/ValueError on a malformed entry."""
        document = json.loads(payload["json"])
        arrays = payload["arrays"]
        spec = RunSpec.from_query(document["spec"])
        metas = document["runs"]

        def per_run(part: str, keys_field: str) -> list[dict[str, np.ndarray]]:
            lengths = np.asarray(arrays[f"{part}_lengths"], dtype=np.int64)
            if len(lengths) != len(metas) or (lengths < 0).any():
                raise ValueError(f"{part} lengths do not match the runs")
            out: list[dict[str, np.ndarray]] = [{} for _ in metas]
            names = dict.fromkeys(name for meta in metas for name in meta[keys_field])
            for name in names:
                owners = [i for i, meta in enumerate(metas) if name in meta[keys_field]]
                values = np.asarray(arrays[f"{part}/{name}"])
                if values.shape[0] != int(lengths[owners].sum()):
                    raise ValueError(f"{part} array {name!r} has the wrong length")
                for i, piece in zip(owners, np.split(values, np.cumsum(lengths[owners])[:-1])):
                    out[i][name] = piece
            return out

        histories = per_run("history", "history_keys")
        tails = per_run("tail", "tail_keys")
        runs = []
        base_keys = set(RunRecord.__dataclass_fields__) | {"final_loss", "final_accuracy",
                                                           "history_keys", "tail_keys"}
        for index, meta in enumerate(metas):
            history = histories[index]
            params = arrays.get(f"{index}/params")
            runs.append(RunRecord(float(meta["step_size"]), int(meta["seed"]),
                                  meta["iterations_to_solve"], bool(meta["diverged"]),
                                  meta["diverged_at"], int(meta["last_iteration"]), history,
                                  None if params is None else np.asarray(params),
                                  tails[index] or None,
                                  {k: v for k, v in meta.items() if k not in base_keys}))
        if len(runs) != spec.batch_size:
            raise ValueError("run count does not match the spec")
        return cls(spec, runs, document["meta"])

    # ------------------------------------------------------------ exports
    def to_dict(self, cached: bool = False, include_history: bool = True) -> dict[str, Any]:
        """The CLI's JSON document."""
        runs = []
        for record in self.runs:
            # Extras can be infinite (a Theorem-1 bound with λ(0) = Φ = 0): null in JSON.
            entry = {name: _json_number(value) if isinstance(value, float) else value
                     for name, value in record.summary().items()}
            entry["id"] = self.spec.single(record.step_size, record.seed).canonical()
            if include_history:
                entry["history"] = {
                    name: ([int(v) for v in values] if name == "iteration"
                           else [_json_number(v) for v in values])
                    for name, values in record.history.items()}
                if record.tail:
                    entry["tail"] = {name: ([int(v) for v in values] if name == "iteration"
                                            else [_json_number(v) for v in values])
                                     for name, values in record.tail.items()}
            runs.append(entry)
        return {"spec": _spec_fields(self.spec), "key": self.key, "cached": cached,
                "canonical": self.spec.canonical(), "meta": self.meta, "runs": runs}

    def to_json(self, cached: bool = False) -> str:
        return json.dumps(self.to_dict(cached), indent=1, allow_nan=False)

    def to_csv(self) -> str:
        """One row per (run, recorded iteration); ``id`` is the run's canonical spec."""
        keys = list(self.runs[0].history) if self.runs else ["iteration"]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["id", "step_size", "seed", "iterations_to_solve", "diverged"] + keys)
        for record in self.runs:
            run_id = self.spec.single(record.step_size, record.seed).canonical()
            solve = "" if record.iterations_to_solve is None else record.iterations_to_solve
            columns = [record.history[k] for k in keys]
            for row in zip(*columns):
                writer.writerow([run_id, repr(record.step_size), record.seed, solve,
                                 int(record.diverged)] + [_csv_number(v) for v in row])
        return buffer.getvalue()

    def summary_rows(self) -> list[dict[str, Any]]:
        return [record.summary() for record in self.runs]


def _csv_number(value: Any) -> str:
    """Non-finite values (divergence, or not measured) are empty cells, never 'nan'."""
    value = float(value)
    if not math.isfinite(value):
        return ""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _spec_fields(spec: RunSpec) -> dict[str, Any]:
    out = {}
    for name in spec.relevant_fields():
        value = getattr(spec, name)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out
