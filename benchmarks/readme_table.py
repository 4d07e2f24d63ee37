"""The README's benchmark table, generated from the benchmarks' JSON objects, so the figures and
the code can't drift apart.

    python benchmarks/bench_engine.py --format json > benchmarks/results/engine.json   # etc.
    python benchmarks/readme_table.py benchmarks/results/*.json                        # print
    python benchmarks/readme_table.py --update README.md benchmarks/results/*.json     # rewrite

``--update`` replaces what lies between the ``<!-- benchmarks:start -->`` and
``<!-- benchmarks:end -->`` markers.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"

# (benchmark, ratio) -> (what it measures, goal text, predicate on the value)
GOALS = {
    ("engine", "engine_share_of_bare_speed"): ("engine speed / bare batched loop speed", ">= 0.85",
                                               lambda v: v >= 0.85),
    ("engine", "gap_companion_overhead"): ("extra time of the perceptron-gap companion", "<= 0.30",
                                           lambda v: v <= 0.30),
    ("engine", "sparse_history_share_of_bare_speed"): ("the same, history on a stride (16 points)", "",
                                                       None),
    ("engine", "engine_vs_autograd"): ("engine vs per-run autograd loop (x faster)", "", None),
    ("engine", "engine_vs_hand"): ("engine vs per-run hand-gradient loop (x faster)", "", None),
    ("profile_engine", "ceiling_with_softplus"): ("engine/bare ceiling with the loss softplus every step "
                                                  "(bare step / (bare step + softplus))", "", None),
    ("cnn", "sharpness_overhead"): ("extra time of sharpness every 20 steps", "<= 0.25",
                                    lambda v: v <= 0.25),
    ("cnn", "sharpness_estimate_speedup_per_run"): ("sharpness of all runs, batched vs autograd+ARPACK "
                                                    "run by run (x faster)", "", None),
    ("cnn", "batched_vs_sequential"): ("batched CNN sweep vs runs one after another (x faster)", "", None),
    ("cli", "slowest_startup_s"): ("CLI start-up: slowest of --help, run --help, reproduce --list, "
                                   "schema, an argument error (s)", "<= 1.5", lambda v: v <= 1.5),
    ("cli", "python_c_pass_s"): ("the same for `python -c pass` (s)", "", None),
    ("scaling", "share_of_30s_goal"): ("complexity sweep (d = 16..2048 x 8 seeds, cold) / 30 s",
                                       "<= 1", lambda v: v <= 1),
}


def load(paths: list[str]) -> list[dict]:
    documents = []
    for path in paths:
        text = Path(path).read_text() if path != "-" else sys.stdin.read()
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("{"):
                documents.append(json.loads(line))
    return documents


def machine(document: dict) -> str:
    device = document.get("gpu") or document.get("device", "?")
    return (f"{device}, {document.get('threads', '?')} thr, {document.get('clock', 'wall')} clock, "
            f"torch {document.get('torch', '?')}, {document.get('date', '?')}")


def rows(documents: list[dict]) -> list[list[str]]:
    out = []
    for document in documents:
        name = document.get("benchmark", "?")
        for key, value in document.get("ratios", {}).items():
            if name == "pages":
                continue
            described = GOALS.get((name, key))
            if described is None:
                continue
            what, goal, check = described
            verdict = "" if check is None or not isinstance(value, (int, float)) else (
                "met" if check(value) else "not met")
            out.append([name, what, f"{value:.2f}" if isinstance(value, float) else str(value), goal,
                        verdict, machine(document)])
        if name == "pages":
            for page, seconds in document.get("seconds", {}).items():
                out.append(["pages", f"cached view of `{page}`: script start to figures (ms)",
                            f"{1e3 * seconds:.0f}", "<= 150", "met" if seconds <= 0.150 else "not met",
                            machine(document)])
    return out


def table(documents: list[dict]) -> str:
    header = ["benchmark", "measure", "value", "goal", "", "machine"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(documents)]
    return "\n".join(lines)


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", help="files of JSON objects (one per line), or - for stdin")
    parser.add_argument("--update", default="", help="a markdown file whose marked section is replaced")
    args = parser.parse_args(argv)
    text = table(load(args.files))
    if not args.update:
        print(text)
        return
    path = Path(args.update)
    content = path.read_text()
    if START not in content or END not in content:
        sys.exit(f"{path} has no {START} ... {END} section")
    before, rest = content.split(START, 1)
    _, after = rest.split(END, 1)
    path.write_text(before + START + "\n" + text + "\n" + END + after)


if __name__ == "__main__":
    main()
