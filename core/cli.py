"""``python -m core``: the stable scripting interface.

    python -m core run --model linear --dataset worst_case --n 1000 \
        --algorithm normalized_gd --step-size 100,10,1,0.1 --max-iters 5000 --format json
    python -m core sweep-d --models linear:batch_perceptron,two_layer_conv:gd:scaled \
        --dataset minimal --d 16:2048:x2 --seed 0:7 --format text
    python -m core sweep --base 'dataset=minimal&seed=0:7' --vary d=16:256:x2 \
        --vary model=linear,two_layer_conv --measure iterations_to_solve --fit power
    python -m core reproduce [CLAIM ...] [--all] [--format text|json]
    python -m core cache info|clear

Output: a table for people (``summary``; ``text`` for sweep-d) when stdout is a terminal,
JSON when it is piped or redirected or ``--output`` names a file; ``--format`` chooses.
Every command that computes a view prints one full link to it (``view: http://…``; base
``GDX_BASE_URL``, default the local dashboard http://localhost:8501).
Bad input exits with code 2 and one line on stderr naming the flag and what it allows.
"""
from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from typing import Sequence

from core.kernel.fields import ALGORITHM_FIELDS, BY_NAME, json_schema
from core.kernel.spec import QUERY_NAMES, SpecError, make_spec
from core.kernel.fields import ALGORITHMS, MAX_DIMS
from core.kernel.lists import DEFAULT_LIMIT, parse_list, parse_number
from core.kernel.settings import SETTINGS, base_url, env_number, env_text
from core.report.site import spec_link, view_link
from core.engine import distributed

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
    """argparse type of a list flag: core.kernel.lists.parse_list, bounded before it builds."""
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


# The spec flags of each command, generated from the field table (core.kernel.fields): the flag,
# its type, choices, range and help come from there; a flag not given leaves the field at
# the table's default.
COMMON_FIELDS = ("dataset", "n", "seeds", "max_iters", "init_scale", "dtype", "device")
RUN_FIELDS = ("model", "algorithm", "d", "step_sizes", "run_to_max", "history_points",
              "perceptron_gap", "tail_points")
FIELD_GROUPS = {
    "dataset parameters": ("mu", "margin", "data_seed", "classes", "path", "label_column"),
    "shallow_linear (a·b) parameters": ("phi", "a", "b", "init", "tol"),
    "update rule parameters": ALGORITHM_FIELDS,
    "model parameters": ("activation", "leak", "width", "bias", "train", "kernel_size",
                         "channels", "conv_layers", "readout", "sharpness_every"),
}


def add_spec_flag(parser, name: str, default=None) -> None:
    field = BY_NAME[name]
    options = dict(dest=field.name, default=default, help=field.describe())
    if field.kind is bool:
        if field.default:           # on by default: the flag turns it off
            options["help"] = "turn off: " + options["help"]
            parser.add_argument("--no-" + field.flag[2:], action="store_const", const=False,
                                **options)
        else:
            parser.add_argument(field.flag, *field.flag_aliases, action="store_const",
                                const=True, **options)
        return
    if field.is_list:
        options["type"] = _list_arg(field.url_name, field.kind, limit=field.list_limit)
    elif field.kind in (int, float):
        options["type"] = _INT if field.kind is int else _FLOAT
    if field.choices:
        options["choices"] = field.choices
    else:
        options["metavar"] = field.url_name.upper()
    parser.add_argument(field.flag, *field.flag_aliases, **options)


def _add_common(parser: argparse.ArgumentParser, defaults: dict) -> None:
    for name in COMMON_FIELDS:
        add_spec_flag(parser, name, defaults.get(name))
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--output", "-o", help="write to this file instead of stdout")
    parser.add_argument("--progress", action="store_true", help="show progress on stderr")
    for title, names in FIELD_GROUPS.items():
        group = parser.add_argument_group(title)
        for name in names:
            add_spec_flag(group, name, defaults.get(name))


FORMAT_HELP = ("default: {people} (a table for people) when stdout is a terminal, json when it is "
               "piped, redirected or --output is given")
EPILOG = ("Output: a table for people when stdout is a terminal, JSON when it is piped or "
          "redirected (--format chooses). Commands that compute print one link to their "
          "dashboard view (GDX_BASE_URL, default http://localhost:8501). Bad input: exit 2 "
          "and one line naming the flag.")


def output_format(args: argparse.Namespace, people: str) -> str:
    """--format, or the default: for people on a terminal, JSON for programs (like ls and git,
    which change their output when it is not a terminal)."""
    if args.format:
        return args.format
    if args.output:
        return "json"
    try:
        return people if sys.stdout.isatty() else "json"
    except (AttributeError, ValueError):         # stdout closed or replaced
        return "json"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description="GD Dynamics Explorer core",
                     epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="one batched sweep over step sizes and seeds")
    for name in RUN_FIELDS:
        add_spec_flag(run, name)
    run.add_argument("--format", default=None, choices=("json", "csv", "summary"),
                     help=FORMAT_HELP.format(people="summary"))
    _add_common(run, {})
    distributed.add_arguments(run)

    sweep = commands.add_parser("sweep-d", help="iterations to solve against d, log-log slopes")
    sweep.add_argument("--models", default="linear:batch_perceptron,two_layer_conv:gd:scaled",
                       help="model[:algorithm[:step]] list; step is a number or 'scaled' "
                            "(γ = c·n/λ2(d, μ))")
    sweep.add_argument("--algorithm", default="gd", choices=ALGORITHMS,
                       help="algorithm for models that name none")
    sweep.add_argument("--step-size", default="scaled", help="step for models that name none")
    sweep.add_argument("--c", type=_FLOAT, default=1.0, help="the constant of the scaled rule γ = c·n/λ₂, in [1e-09, 100]")
    sweep.add_argument("--d", dest="dims", type=_list_arg("d", int, geometric=True, limit=MAX_DIMS),
                       default=(16, 32, 64, 128, 256),
                       help=f"the dimensions: 16,32,...,2048 or 16:2048:x2; at most {MAX_DIMS} values")
    sweep.add_argument("--format", default=None, choices=("json", "csv", "text"),
                       help=FORMAT_HELP.format(people="text"))
    _add_common(sweep, {"dataset": "minimal", "max_iters": 20000})
    distributed.add_arguments(sweep)

    add_lab_sweep(commands)

    reproduce = commands.add_parser("reproduce", help="check the papers' claims: expected vs measured")
    reproduce.add_argument("claims", nargs="*", help="claim names (default: the quick subset)")
    reproduce.add_argument("--all", action="store_true", help="also the slow claims")
    reproduce.add_argument("--list", action="store_true", help="list the claims and exit")
    reproduce.add_argument("--format", default="text", choices=("text", "json"))
    reproduce.add_argument("--no-cache", action="store_true")
    reproduce.add_argument("--mutants", action="store_true",
                           help="run the claims under each semantic mutant (core/claims/mutants.py) and print "
                                "the kill matrix (exit 1 if a mutant survives)")
    reproduce.add_argument("--mutant", action="append", default=None, metavar="NAME",
                           help="with --mutants: only this mutant (repeatable)")
    reproduce.add_argument("--output", "-o")
    distributed.add_arguments(reproduce)

    commands.add_parser("schema", help="the run-spec fields as JSON Schema (the scripting contract)")

    cache = commands.add_parser("cache", help="inspect or clear the result cache")
    cache.add_argument("action", choices=("info", "clear"))
    cache.add_argument("--format", default=None, choices=("text", "json"),
                       help="info: " + FORMAT_HELP.format(people="text"))
    cache.set_defaults(output=None)
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
        _to_stdout(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise SpecError("output", f"could not write {output!r}: {error.strerror or error}") from None


def _to_stdout(data: str | bytes) -> None:
    """Write and flush stdout; a stdout that cannot take it (a full disk, /dev/full, an I/O
    error) is one line naming --output (exit 2), not an internal error. A reader that left
    (BrokenPipeError) is main's quiet exit."""
    try:
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:      # ValueError: "I/O operation on closed file"
        _silence_stdout()                       # the interpreter's final flush must not fail
        reason = getattr(error, "strerror", None) or str(error)
        raise SpecError("output", f"could not write to stdout ({reason}); give --output FILE") from None


def _progress_printer(enabled: bool):
    if not enabled:
        return None

    def show(fraction: float) -> None:
        sys.stderr.write(f"\r{100 * fraction:5.1f} %{distributed.shard_note()}")
        if fraction >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


def _spec_fields(args: argparse.Namespace, exclude: tuple[str, ...] = ()) -> dict:
    """The spec fields given on the command line (flags not given are left out)."""
    return {name: value for name, value in vars(args).items()
            if name in BY_NAME and name not in exclude and value is not None}


def check_flags_read(spec, given: dict) -> None:
    """A flag the spec's model (or data set) does not read is an error naming the flag and the
    model, not a silently ignored value. A flag given at its default changes nothing and passes."""
    from core.kernel.registry import model_kind, models_reading

    for name, value in given.items():
        field = BY_NAME[name]
        if field.relevant(spec) or value == field.default:
            continue
        if name in DATASET_FIELDS and BY_NAME["dataset"].relevant(spec):
            where = f"the {spec.dataset} data set"
        elif name in model_kind(spec.model).fields:
            where = f"the {spec.model} model with these settings"
        else:
            where = f"the {spec.model} model"
        readers = field.applies_to if field.applies_to != "all" else ", ".join(models_reading(name))
        raise SpecError(name, f"not read by {where}" + (f" (used by {readers})" if readers else ""))


DATASET_FIELDS = set(FIELD_GROUPS["dataset parameters"])


def command_run(args: argparse.Namespace) -> None:
    given = _spec_fields(args)
    spec = make_spec(**given)                       # argument errors answer before torch loads
    check_flags_read(spec, given)
    from core.api import run_spec
    from core.report.notes import identical_seeds

    note = identical_seeds(spec)
    if note:
        print(f"note: {note}", file=sys.stderr)
    outcome = run_spec(spec, use_cache=not args.no_cache, progress=_progress_printer(args.progress))
    result = outcome.result
    link = spec_link(spec, base_url())
    form = output_format(args, "summary")
    if form == "json":
        text = json.dumps({**result.to_dict(outcome.cached), "view": link}, indent=1,
                          allow_nan=False)
    elif form == "csv":
        text = result.to_csv()
    else:
        text = format_summary(spec.canonical(), outcome.cached, result.summary_rows())
        text += f"\n\nview: {link}"
    _write(text, args.output)
    if form == "csv":                  # the rows stay a plain table: the link goes to stderr
        print(f"view: {link}", file=sys.stderr)


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
    from core.analysis.scaling import parse_curves

    curves = parse_curves(args.models, args.algorithm, args.step_size)
    base = make_spec(model=curves[0].model, algorithm=curves[0].algorithm, d=args.dims[0],
                     history_points=16, **_spec_fields(args, exclude=("algorithm",)))
    from core.analysis.scaling import sweep_dimensions

    result = sweep_dimensions(base, curves, list(args.dims), c=args.c, use_cache=not args.no_cache,
                              progress=_progress_printer(args.progress))
    link = view_link("complexity", complexity_query(base, curves, args), base_url())
    form = output_format(args, "text")
    if form == "json":
        text = json.dumps({**result.to_dict(), "view": link}, indent=1)
    elif form == "csv":
        text = result.to_csv()
    else:
        text = format_sweep_text(result) + f"\n\nview: {link}"
    _write(text, args.output)
    if form == "csv":
        print(f"view: {link}", file=sys.stderr)


def complexity_query(base, curves, args: argparse.Namespace) -> str:
    """The Iteration-complexity page's URL of a sweep-d: its curves, c, d, seeds, budget, data
    set and the parameters the data set and the curves' models read (the page's controls)."""
    from urllib.parse import urlencode

    from core.kernel.registry import dataset_kind, model_kind
    from core.kernel.spec import _fmt

    query = {"curves": ",".join(f"{c.model}:{c.algorithm}:{c.step}" for c in curves),
             "c": _fmt(float(args.c)), "dims": _fmt(tuple(args.dims)), "seed": _fmt(base.seeds),
             "max_iters": _fmt(base.max_iters), "dataset": base.dataset}
    read = set(dataset_kind(base.dataset).fields)
    for curve in curves:
        read |= set(model_kind(curve.model).fields)
    for name in sorted(read):
        value = getattr(base, name, None)
        if value not in (None, "", ()):
            query[QUERY_NAMES[name]] = _fmt(value)
    return urlencode(query, safe=",:")


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
        lines.append("slope of the p90 (unsolved seeds at the budget): " + ("n/a (fewer than 2 points)" if fit is None else
                     f"{fit.slope:.3f}  (95 % bootstrap CI {fit.ci_low:.3f} to {fit.ci_high:.3f})"))
    return "\n".join(lines)


# ---------------------------------------------------------------------- sweep (the lab)
LAB_FORMATS = ("summary", "csv", "json", "parquet")


def add_lab_sweep(commands) -> None:
    """``sweep``: any fields against any measures (core.analysis.lab), one row per run."""
    sweep = commands.add_parser("sweep", help="vary 1-3 fields of a base spec; one row per run "
                                "with every field and measure (the lab)")
    sweep.add_argument("--base", default="", help="the base spec: a canonical string as `run` "
                       "prints it (default: every field at its default)")
    sweep.add_argument("--vary", action="append", default=[], metavar="FIELD=VALUES",
                       help="a field and its values, e.g. d=16:2048:x2 or model=linear,mlp; "
                            "one to three times")
    sweep.add_argument("--measure", action="append", default=[], metavar="NAME",
                       help="a measure to report (repeat or comma-separate; default: all); "
                            "`--measure list` lists them")
    sweep.add_argument("--step-rule", default="fixed", choices=("fixed", "scaled"),
                       help="scaled: γ = c·n/λ₂(d, μ) on the minimal example, the step sizes "
                            "being the constants c")
    sweep.add_argument("--fit", default="none", choices=("none", "power", "linear"),
                       help="fit the first measure against --x per group of the other fields")
    sweep.add_argument("--x", default=None, help="the varied field on the fit's x axis "
                       "(default: the first numeric one)")
    sweep.add_argument("--time-budget", type=_FLOAT, default=3600.0,
                       help="refuse a plan that may take longer (seconds, every run to its "
                            "max_iters); default 3600")
    sweep.add_argument("--format", default="summary", choices=LAB_FORMATS)
    sweep.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    sweep.add_argument("--output", "-o", help="write to this file instead of stdout")
    sweep.add_argument("--progress", action="store_true", help="one line per batched run on stderr")
    distributed.add_arguments(sweep)


def command_lab_sweep(args: argparse.Namespace) -> None:
    from core.analysis import lab

    names = [part.strip() for item in args.measure for part in item.split(",") if part.strip()]
    if names == ["list"]:
        _write("\n".join(f"{m.name:24s} {m.help}" for m in lab.MEASURES), args.output)
        return
    if not (0 < args.time_budget <= 10 ** 7):
        raise SpecError("time_budget", f"must be in (0, 1e+07], got {args.time_budget:g}")
    if args.format == "parquet" and not args.output and sys.stdout.isatty():
        raise SpecError("output", "parquet is binary: give --output FILE (or redirect stdout)")
    plan = lab.plan(args.base, args.vary, names or None, step_rule=args.step_rule,
                    time_budget=args.time_budget)
    if args.progress:
        print(plan.describe(), file=sys.stderr)

    def report(index: int, total: int, spec, cached: bool) -> None:
        if args.progress:
            print(f"[{index + 1}/{total}] {'cached' if cached else 'computed'}  "
                  f"{spec.canonical()}", file=sys.stderr)
    result = lab.run(plan, use_cache=not args.no_cache, on_spec=report)
    table = result.table
    measure = plan.measures[0]
    fits = None
    if args.fit != "none":
        fits = lab.fit(table, x=args.x, measure=measure, kind=args.fit)
    link = lab.lab_link(table.attrs, base_url() or None, measure=measure,
                        fit="" if args.fit == "none" else args.fit)
    if args.format == "parquet":
        data = lab.to_parquet(table)
        if args.output:
            try:
                with open(args.output, "wb") as stream:
                    stream.write(data)
            except OSError as error:
                raise SpecError("output", f"could not write {args.output!r}: "
                                f"{error.strerror or error}") from None
        else:
            _to_stdout(data)
        print(f"view: {link}", file=sys.stderr)
        return
    if args.format == "csv":
        _write(lab.to_csv(table), args.output)
        print(f"view: {link}", file=sys.stderr)
        return
    if args.format == "json":
        document = {"base": table.attrs["base"], "vary": table.attrs["vary"],
                    "measures": list(plan.measures), "step_rule": plan.step_rule,
                    "runs": len(table), "batched_runs": len(plan.specs), "cached": result.cached,
                    "seconds": round(result.seconds, 3), "link": link, "rows": lab.to_rows(table),
                    "fits": [] if fits is None else lab.to_rows(fits)}
        _write(json.dumps(document, indent=1, allow_nan=False), args.output)
        return
    _write(format_lab_summary(lab, plan, result, fits, link), args.output)


def format_lab_summary(lab, plan, result, fits, link: str) -> str:
    """For people: the plan, per combination of the varied fields the median of each measure
    (unsolved runs counted), the fits and the view link."""
    table = result.table
    varied = [lab.column_of(table, name) for name in plan.varied if name != "seed"]
    lines = [f"base: {plan.base.canonical()}",
             f"{len(table)} runs in {len(plan.specs)} batched runs ({result.cached} from the "
             f"cache) in {result.seconds:.1f} s", ""]
    columns = varied + list(plan.measures)
    grouped = table.groupby(varied, sort=False, dropna=False) if varied else [((), table)]
    rows = []
    for key, part in grouped:
        key = key if isinstance(key, tuple) else (key,)
        row = [_cell(name, value) for name, value in zip(varied, key)]
        for name in plan.measures:
            values = part[name]
            if lab.MEASURE_BY_NAME[name].kind is bool:
                row.append(f"{int(values.fillna(False).sum())}/{len(values)}")
                continue
            numbers = values.astype(float).dropna()
            text = "-" if numbers.empty else f"{numbers.median():.4g}"
            if name == "iterations_to_solve" and values.isna().any():
                text += f" ({int(values.isna().sum())} unsolved)"
            row.append(text)
        rows.append(row)
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    lines.append("  ".join(c.rjust(w) for c, w in zip(columns, widths)) + "   (medians over runs)")
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    if fits is not None:
        lines.append("")
        by = [c for c in fits.columns if c not in lab.FIT_COLUMNS]
        for _, fit in fits.iterrows():
            censored = f", {fit.censored} censored at max_iters" if fit.censored else ""
            lines.append(f"{lab.group_label(fit, by)}: slope of the median of {fit.measure} "
                         f"against {fit.x} ({fit.kind}) {_cell('', fit.slope)}  (95 % CI "
                         f"{_cell('', fit.ci_low)} to {_cell('', fit.ci_high)}; {fit.points} "
                         f"points{censored})")
        if len(fits) == 2:
            lines.append(lab.compare(fits).sentence)
    lines += ["", f"view: {link}"]
    return "\n".join(lines)


def command_reproduce(args: argparse.Namespace) -> int:
    from core.claims.catalog import CLAIMS, check, format_text, select

    if args.list:
        _write("\n".join(f"{c.name:28s} {'quick' if c.fast else 'slow '}  {c.paper}" for c in CLAIMS),
               args.output)
        return 0
    if args.mutants:
        return _reproduce_mutants(args, select(args.claims, args.all))
    verdicts = [check(claim, use_cache=not args.no_cache) for claim in select(args.claims, args.all)]
    if args.format == "json":
        _write(json.dumps([v.to_dict() for v in verdicts], indent=1), args.output)
    else:
        _write(format_text(verdicts), args.output)
    return 0 if all(v.measurement.passed for v in verdicts) else 1


def _reproduce_mutants(args: argparse.Namespace, claims) -> int:
    from core.claims.mutants import MUTANTS, MUTANTS_BY_NAME, kill_matrix

    names = args.mutant or [m.name for m in MUTANTS]
    unknown = [name for name in names if name not in MUTANTS_BY_NAME]
    if unknown:
        raise SpecError("mutant", f"unknown mutant {unknown[0]!r}; known: {', '.join(MUTANTS_BY_NAME)}")
    matrix = kill_matrix([MUTANTS_BY_NAME[name] for name in names], claims)
    _write(json.dumps(matrix.to_dict(), indent=1) if args.format == "json" else matrix.format_text(),
           args.output)
    return 0 if matrix.ok else 1


def cache_summary(cache) -> dict:
    """What ``cache info`` reports, gathered in this one place. A figure the cache itself
    reports (``ResultCache.info()``, e.g. the orphaned value files) is merged in
    here and then shown by both formats."""
    from core.store.cache import CODE_VERSION
    from core.store.uploads import upload_usage

    summary = {"directory": cache.directory, "entries": len(cache), "bytes": cache.volume(),
               "limit_bytes": int(env_number("GDX_CACHE_SIZE_MB") * 2**20),
               "read_only": cache.read_only, "code_version": CODE_VERSION,
               "uploads": upload_usage()}
    if callable(getattr(cache, "info", None)):
        summary.update(cache.info())
    return summary


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def format_cache_summary(summary: dict) -> str:
    uploads = summary["uploads"]
    orphans = summary.get("orphans")
    lines = [f"cache:        {summary['directory']}" + ("  (read-only)" if summary["read_only"] else ""),
             f"entries:      {summary['entries']}, {_size(summary['bytes'])} of "
             f"{_size(summary['limit_bytes'])} (GDX_CACHE_SIZE_MB)",
             f"uploads:      {uploads['files']} file{'s' * (uploads['files'] != 1)}, "
             f"{_size(uploads['bytes'])} of {_size(uploads['quota_bytes'])} (GDX_UPLOAD_QUOTA_MB)",
             "orphans:      " + ("not counted by this version" if orphans is None else
                                 f"{orphans} (removed by `cache clear`)" if orphans else "none"),
             f"code version: {summary['code_version']}"]
    return "\n".join(lines)


def command_cache(args: argparse.Namespace) -> None:
    from core.store.cache import ResultCache
    from core.store.uploads import clear_uploads

    cache = ResultCache()
    if args.action == "clear":
        removed = cache.clear()
        files = clear_uploads()
        _write(f"removed {removed} entries and {files} uploads from {cache.directory}", None)
    else:
        summary = cache_summary(cache)
        if output_format(args, "text") == "json":
            _write(json.dumps(summary), None)
        else:
            _write(format_cache_summary(summary), None)
    _print_warnings(cache.take_warnings())


def _print_warnings(lines) -> None:
    for line in dict.fromkeys(lines):
        print(line, file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        check_output(getattr(args, "output", None))
        if sys.stdout is None and not getattr(args, "output", None):
            raise SpecError("output", "stdout is closed; give --output FILE or leave stdout open")
        for setting in SETTINGS:                     # a bad setting is refused up front
            env_number(setting)
        base_url()
        commands = {"run": command_run, "sweep-d": command_sweep, "cache": command_cache,
                    "sweep": command_lab_sweep,
                    "reproduce": command_reproduce,
                    "schema": lambda _args: _write(json.dumps(json_schema(), indent=1,
                                                              ensure_ascii=False), None)}
        with distributed.from_args(args):          # --backend, --ray-address
            code = commands[args.command](args) or 0
        api = sys.modules.get(f"{__package__}.api")     # loaded only by commands that compute
        if api is not None:
            _print_warnings(api.drain_warnings())
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
    except BrokenPipeError:           # the reader left (`| head`): stop quietly, as Unix tools do
        _silence_stdout()
        return 141                    # 128 + SIGPIPE, what a shell reports for such a tool
    except Exception as error:  # never a traceback for users; GDX_DEBUG=1 shows it
        if env_text("GDX_DEBUG"):
            raise
        print(f"error: internal error ({type(error).__name__}: {error}); rerun with GDX_DEBUG=1 "
              "for the traceback", file=sys.stderr)
        return 1
