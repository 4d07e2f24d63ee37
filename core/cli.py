"""``python -m core``: the stable scripting interface.

    python -m core run --model linear --dataset worst_case --n 1000 \
        --algorithm normalized_gd --step-size 100,10,1,0.1 --max-iters 5000 --format json
    python -m core sweep-d --models linear:batch_perceptron,two_layer_conv:gd:scaled \
        --dataset minimal --d 16:2048:x2 --seed 0:7 --format text
    python -m core reproduce [CLAIM ...] [--all] [--format text|json]
    python -m core cache info|clear

Bad input exits with code 2 and one line on stderr naming the flag and what it allows.
"""
from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from typing import Sequence

from .spec import (ACTIVATIONS, ALGORITHMS, DATASETS, DEVICES, DTYPES, MODELS, QUERY_NAMES,
                   LIST_LIMITS, MAX_BATCH, MAX_DIMS, READOUTS, TRAINED_LAYERS, SpecError, make_spec)
from .lists import DEFAULT_LIMIT, parse_list, parse_number
from .settings import env_number
from . import distributed

EXIT_USAGE = 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(message)


def flag_name(field: str) -> str:
    """A SpecError's field as the user typed it: ``--step-size``, or an environment variable."""
    if field.isupper():
        return field
    return "--" + QUERY_NAMES.get(field, field).replace("_", "-")


def _list_arg(field: str, kind: type, geometric: bool = False, limit: int = DEFAULT_LIMIT):
    """argparse type of a list flag: core.lists.parse_list, bounded before it builds."""
    def convert(text: str):
        try:
            return parse_list(field, text, kind, geometric=geometric, limit=limit)
        except SpecError as error:
            raise argparse.ArgumentTypeError(str(error).split(": ", 1)[-1]) from None
    convert.__name__ = "list of numbers"
    return convert


def _number_arg(kind: type):
    """argparse type of a number flag: plain ASCII digits, finite (argparse names the flag)."""
    def convert(text: str):
        try:
            return parse_number("value", text, kind)
        except SpecError as error:
            raise argparse.ArgumentTypeError(str(error).split(": ", 1)[-1]) from None
    convert.__name__ = "integer" if kind is int else "number"
    return convert


_INT = _number_arg(int)
_FLOAT = _number_arg(float)


def _add_common(parser: argparse.ArgumentParser, dataset_default: str) -> None:
    parser.add_argument("--dataset", default=dataset_default, choices=DATASETS)
    parser.add_argument("--n", type=_INT, help="number of points (fixed by some datasets)")
    parser.add_argument("--seed", type=_list_arg("seed", int, limit=MAX_BATCH), default=(0,), help="init seeds: 0,1,2 or 0:7")
    parser.add_argument("--max-iters", type=_INT, default=None)
    parser.add_argument("--init-scale", "--scale", type=_FLOAT, default=1.0,
                        help="norm of the random init of nonlinear models")
    parser.add_argument("--dtype", default="float64", choices=DTYPES)
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--output", "-o", help="write to this file instead of stdout")
    parser.add_argument("--progress", action="store_true", help="show progress on stderr")
    group = parser.add_argument_group("dataset parameters")
    group.add_argument("--mu", type=_FLOAT, default=0.7, help="minimal: b2 = (1+mu, 1, ..., 1)")
    group.add_argument("--margin", type=_FLOAT, default=0.1, help="gaussian: margin")
    group.add_argument("--data-seed", type=_INT, default=0, help="gaussian: data seed")
    group.add_argument("--classes", type=_list_arg("classes", int, limit=2), default=(0, 1), help="digits/cifar10: a,b")
    group.add_argument("--path", default="", help="cifar10 folder or csv file")
    group.add_argument("--label-column", default="", help="csv: label column (default label/last)")
    group = parser.add_argument_group("shallow_linear (a·b) parameters")
    group.add_argument("--phi", type=_FLOAT, default=1.0, help="target Φ of L = ½(aᵀb − Φ)²")
    group.add_argument("--a", type=_list_arg("a", float, limit=LIST_LIMITS["a"]), default=(), help="explicit init a (comma list)")
    group.add_argument("--b", type=_list_arg("b", float, limit=LIST_LIMITS["b"]), default=(), help="explicit init b (comma list)")
    group.add_argument("--init", default="", choices=("", "explicit", "random", "fig3"),
                       help="explicit (needs --a/--b), random (scale x random directions), "
                            "fig3 (a0 = s e1, b0 = (s/2) e2); default explicit if --a is given, else fig3")
    group.add_argument("--tol", type=_FLOAT, default=1e-10, help="converged when |ε| <= tol")
    group = parser.add_argument_group("model parameters")
    group.add_argument("--activation", default="", choices=("",) + ACTIVATIONS,
                       help="default: relu for cnn, identity otherwise")
    group.add_argument("--leak", type=_FLOAT, default=0.1, help="leaky_relu negative slope")
    group.add_argument("--width", type=_INT, default=16, help="mlp hidden width")
    group.add_argument("--bias", action="store_true", help="linear: add a bias")
    group.add_argument("--train", default="both", choices=TRAINED_LAYERS, help="mlp: trained layers")
    group.add_argument("--kernel-size", type=_INT, default=3, help="cnn: convolution kernel size")
    group.add_argument("--channels", type=_INT, default=8, help="cnn: channels per conv layer")
    group.add_argument("--conv-layers", type=_INT, default=1, choices=(1, 2), help="cnn: conv layers")
    group.add_argument("--readout", default="avg", choices=READOUTS,
                       help="cnn: global average pool (avg) or a linear readout of all pixels")
    group.add_argument("--sharpness-every", type=_INT, default=0,
                       help="top Hessian eigenvalue (Lanczos) every K iterations; 0 = never")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description="GD Dynamics Explorer core")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="one batched sweep over step sizes and seeds")
    run.add_argument("--model", default="linear", choices=MODELS)
    run.add_argument("--algorithm", default="gd", choices=ALGORITHMS)
    run.add_argument("--d", type=_INT, help="dimension (fixed by some datasets)")
    run.add_argument("--step-size", type=_list_arg("step_size", float, limit=MAX_BATCH), default=(1.0,),
                     help="comma list, or 1e-3:1e3:log50 / 0.1:100:x10")
    run.add_argument("--run-to-max", action="store_true",
                     help="keep iterating after a run solves (to see the post-solve loss)")
    run.add_argument("--history-points", type=_INT, default=512,
                     help="evenly spaced iterations kept per run (first, solve, last always)")
    run.add_argument("--no-perceptron-gap", action="store_true",
                     help="skip the matching perceptron runs (faster; no perceptron_gap history)")
    run.add_argument("--tail-points", type=_INT, default=0,
                     help="also keep the last K iterations exactly (orbit diagrams)")
    run.add_argument("--format", default="json", choices=("json", "csv", "summary"))
    _add_common(run, "worst_case")
    distributed.add_arguments(run)

    sweep = commands.add_parser("sweep-d", help="iterations to solve against d, log-log slopes")
    sweep.add_argument("--models", default="linear:batch_perceptron,two_layer_conv:gd:scaled",
                       help="model[:algorithm[:step]] list; step is a number or 'scaled' "
                            "(γ = c·n/λ2(d, μ))")
    sweep.add_argument("--algorithm", default="gd", choices=ALGORITHMS,
                       help="algorithm for models that name none")
    sweep.add_argument("--step-size", default="scaled", help="step for models that name none")
    sweep.add_argument("--c", type=_FLOAT, default=1.0, help="the constant of the scaled rule")
    sweep.add_argument("--d", type=_list_arg("d", int, geometric=True, limit=MAX_DIMS), default=(16, 32, 64, 128, 256),
                       help="16,32,...,2048 or 16:2048:x2")
    sweep.add_argument("--format", default="json", choices=("json", "csv", "text"))
    _add_common(sweep, "minimal")
    distributed.add_arguments(sweep)

    reproduce = commands.add_parser("reproduce", help="check the papers' claims: expected vs measured")
    reproduce.add_argument("claims", nargs="*", help="claim names (default: the quick subset)")
    reproduce.add_argument("--all", action="store_true", help="also the slow claims")
    reproduce.add_argument("--list", action="store_true", help="list the claims and exit")
    reproduce.add_argument("--format", default="text", choices=("text", "json"))
    reproduce.add_argument("--no-cache", action="store_true")
    reproduce.add_argument("--output", "-o")
    distributed.add_arguments(reproduce)

    cache = commands.add_parser("cache", help="inspect or clear the result cache")
    cache.add_argument("action", choices=("info", "clear"))
    return parser


def check_output(output: str | None) -> None:
    """Refuse an --output path that cannot be written, before any computing (exit 2)."""
    if not output:
        return
    target = os.path.realpath(output)
    if os.path.isdir(target):
        raise SpecError("output", f"{output!r} is a folder; give a file name")
    if os.path.exists(target):
        if not stat.S_ISREG(os.stat(target).st_mode):
            raise SpecError("output", f"{output!r} is not a regular file")
        try:
            with open(target, "a"):          # writable? (appends nothing, truncates nothing)
                pass
        except OSError as error:
            raise SpecError("output", f"{output!r} is not writable ({error.strerror or error})") from None
        return
    folder = os.path.dirname(target) or "."
    if not os.path.isdir(folder):
        raise SpecError("output", f"the folder {os.path.dirname(output) or '.'!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SpecError("output", f"cannot create files in {os.path.dirname(output) or '.'!r} "
                        "(read-only or no permission)")


def _write(text: str, output: str | None) -> None:
    """stdout, or the file: written in place (through a symlink, keeping an existing file's
    inode and mode; a new file gets the umask's mode), with no temporary files."""
    if not text.endswith("\n"):
        text += "\n"
    if not output:
        sys.stdout.write(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise SpecError("output", f"could not write {output!r}: {error.strerror or error}") from None


def _progress_printer(enabled: bool):
    if not enabled:
        return None

    def show(fraction: float) -> None:
        sys.stderr.write(f"\r{100 * fraction:5.1f} %{distributed.shard_note()}")
        if fraction >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


def _spec_fields(args: argparse.Namespace) -> dict:
    return dict(dataset=args.dataset, n=args.n, seeds=args.seed, init_scale=args.init_scale,
                dtype=args.dtype, device=args.device, mu=args.mu, margin=args.margin,
                data_seed=args.data_seed, classes=args.classes, path=args.path,
                label_column=args.label_column, activation=args.activation, leak=args.leak,
                width=args.width, bias=args.bias, train=args.train, phi=args.phi, a=args.a,
                b=args.b, init=args.init, tol=args.tol, kernel_size=args.kernel_size,
                channels=args.channels, conv_layers=args.conv_layers, readout=args.readout,
                sharpness_every=args.sharpness_every)


def command_run(args: argparse.Namespace) -> None:
    from .api import run_spec

    spec = make_spec(model=args.model, algorithm=args.algorithm, d=args.d,
                     step_sizes=args.step_size, run_to_max=args.run_to_max,
                     history_points=args.history_points, tail_points=args.tail_points,
                     perceptron_gap=not args.no_perceptron_gap,
                     max_iters=args.max_iters if args.max_iters is not None else 1000,
                     **_spec_fields(args))
    outcome = run_spec(spec, use_cache=not args.no_cache, progress=_progress_printer(args.progress))
    result = outcome.result
    if args.format == "json":
        text = result.to_json(cached=outcome.cached)
    elif args.format == "csv":
        text = result.to_csv()
    else:
        text = format_summary(spec.canonical(), outcome.cached, result.summary_rows())
    _write(text, args.output)


def _cell(name: str, value) -> str:
    if value is None:
        return "not solved" if name == "iterations_to_solve" else "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "inf" if value == float("inf") else "-inf" if value == float("-inf") else \
            "nan" if value != value else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(name, v) for v in value)
    return str(value)


def format_summary(canonical: str, cached: bool, rows: list[dict]) -> str:
    """A table for people: one line per run (step size, seed, iterations to solve, diverged,
    final loss and the model's own extras)."""
    lines = [f"spec: {canonical}", f"from cache: {'yes' if cached else 'no'}", ""]
    if not rows:
        return "\n".join(lines + ["(no runs)"])
    names = list(dict.fromkeys(name for row in rows for name in row))
    cells = [[_cell(name, row.get(name)) for name in names] for row in rows]
    widths = [max(len(name), *(len(row[i]) for row in cells)) for i, name in enumerate(names)]
    lines.append("  ".join(name.rjust(w) for name, w in zip(names, widths)))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def command_sweep(args: argparse.Namespace) -> None:
    from .scaling import parse_curves, sweep_dimensions

    curves = parse_curves(args.models, args.algorithm, args.step_size)
    base = make_spec(model=curves[0].model, algorithm=curves[0].algorithm, d=args.d[0],
                     history_points=16,
                     max_iters=args.max_iters if args.max_iters is not None else 20000,
                     **_spec_fields(args))
    result = sweep_dimensions(base, curves, list(args.d), c=args.c, use_cache=not args.no_cache,
                              progress=_progress_printer(args.progress))
    if args.format == "json":
        text = json.dumps(result.to_dict(), indent=1)
    elif args.format == "csv":
        text = result.to_csv()
    else:
        text = format_sweep_text(result)
    _write(text, args.output)


def format_sweep_text(result) -> str:
    lines = [f"seeds: {len(result.seeds)}   c = {result.c:g}   base: {result.base.canonical()}"]
    for curve in result.curves:
        lines.append("")
        lines.append(curve.label)
        lines.append(f"{'d':>8} {'step':>10} {'median':>9} {'p10':>8} {'p90':>8} {'unsolved':>8}")
        for d in result.dims:
            stats = result.stats(curve, d)
            lines.append(f"{d:>8} {result.step_sizes[(curve, d)]:>10.4g} {stats['median']:>9g} "
                         f"{stats['p10']:>8g} {stats['p90']:>8g} {stats['unsolved']:>8}")
        fit = result.fits.get(curve)
        lines.append("slope of the median: " + ("n/a (fewer than 2 solved medians)" if fit is None else
                     f"{fit.slope:.3f}  (95 % bootstrap CI {fit.ci_low:.3f} to {fit.ci_high:.3f})"))
    return "\n".join(lines)


def command_reproduce(args: argparse.Namespace) -> int:
    from .claims import CLAIMS, check, format_text, select

    if args.list:
        _write("\n".join(f"{c.name:28s} {'quick' if c.fast else 'slow '}  {c.paper}" for c in CLAIMS),
               args.output)
        return 0
    verdicts = [check(claim, use_cache=not args.no_cache) for claim in select(args.claims, args.all)]
    if args.format == "json":
        _write(json.dumps([v.to_dict() for v in verdicts], indent=1), args.output)
    else:
        _write(format_text(verdicts), args.output)
    return 0 if all(v.measurement.passed for v in verdicts) else 1


def command_cache(args: argparse.Namespace) -> None:
    from .cache import CODE_VERSION, ResultCache
    from .uploads import clear_uploads, upload_usage

    cache = ResultCache()
    uploads = upload_usage()
    if args.action == "clear":
        removed = cache.clear()
        files = clear_uploads()
        print(f"removed {removed} entries and {files} uploads from {cache.directory}")
    else:
        size = cache.volume()
        print(json.dumps({"directory": cache.directory, "entries": len(cache), "bytes": size,
                          "read_only": cache.read_only, "code_version": CODE_VERSION,
                          "uploads": uploads}))
    _print_warnings(cache.take_warnings())


def _print_warnings(lines) -> None:
    for line in dict.fromkeys(lines):
        print(line, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        check_output(getattr(args, "output", None))
        env_number("GDX_MEMORY_FRACTION")            # a bad setting is refused up front
        commands = {"run": command_run, "sweep-d": command_sweep, "cache": command_cache,
                    "reproduce": command_reproduce}
        with distributed.from_args(args):          # --backend, --ray-address
            code = commands[args.command](args) or 0
        from .api import drain_warnings
        _print_warnings(drain_warnings())
        return code
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SpecError as error:
        message = str(error).split(": ", 1)[-1]
        print(f"error: {flag_name(error.field)}: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # never a traceback for users; GDX_DEBUG=1 shows it
        if os.environ.get("GDX_DEBUG"):
            raise
        print(f"error: internal error ({type(error).__name__}: {error}); rerun with GDX_DEBUG=1 "
              "for the traceback", file=sys.stderr)
        return 1
