"""The CLI is the stable scripting interface: formats, exit codes, one-line errors."""
import csv
import io
import json

import pytest

from core.cli import main


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_json_document(capsys):
    code, out, err = run(capsys, "run", "--dataset", "two_point", "--step-size", "1,100",
                         "--max-iters", "50", "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert set(document) >= {"spec", "key", "cached", "runs", "canonical"}
    assert document["spec"]["dataset"] == "two_point"
    first = document["runs"][0]
    assert set(first) >= {"step_size", "seed", "iterations_to_solve", "diverged", "final_loss", "history", "id"}
    assert set(first["history"]) >= {"iteration", "loss", "accuracy", "min_margin", "grad_norm"}
    assert first["history"]["iteration"][0] == 0
    assert "step_size=1&" in first["id"] or first["id"].endswith("step_size=1")
    code, out, _ = run(capsys, "run", "--dataset", "two_point", "--step-size", "1,100",
                       "--max-iters", "50", "--format", "json")
    assert json.loads(out)["cached"] is True


def test_run_csv_has_one_row_per_recorded_iteration(capsys, tmp_path):
    target = tmp_path / "out.csv"
    code, out, err = run(capsys, "run", "--dataset", "worst_case", "--n", "100", "--algorithm",
                         "normalized_gd", "--step-size", "1,10", "--format", "csv", "--output", str(target))
    assert code == 0 and out == "", err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert {row["step_size"] for row in rows} == {"1.0", "10.0"}
    solved = {row["step_size"]: row["iterations_to_solve"] for row in rows}
    assert solved["10.0"] == "2"
    assert rows[0]["iteration"] == "0" and "loss" in rows[0]


@pytest.mark.slow
def test_sweep_d_json_and_text(capsys):
    code, out, err = run(capsys, "sweep-d", "--models", "linear:batch_perceptron,two_layer_conv:gd:scaled",
                         "--d", "16,32,...,128", "--seed", "0:5", "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["dims"] == [16, 32, 64, 128] and document["seeds"] == list(range(6))
    assert len(document["rows"]) == 2 * 4 * 6
    slopes = {label: fit["slope"] for label, fit in document["fits"].items()}
    linear = next(v for k, v in slopes.items() if k.startswith("linear"))
    assert 0.85 < linear < 1.1
    code, out, _ = run(capsys, "sweep-d", "--models", "linear:batch_perceptron", "--d", "16:64:x2",
                       "--format", "text")
    assert code == 0 and "slope of the p90" in out


@pytest.mark.parametrize("args, flag", [
    (["run", "--step-size", "-1"], "--step-size"),
    (["run", "--step-size", "abc"], "--step-size"),
    (["run", "--step-size", "1e20"], "--step-size"),
    (["run", "--dataset", "nope"], "--dataset"),
    (["run", "--dataset", "minimal", "--d", "0"], "--d"),
    (["run", "--max-iters", "0"], "--max-iters"),
    (["run", "--dataset", "csv", "--path", "/nonexistent.csv"], "--path"),
    (["run", "--dataset", "worst_case", "--n", "1"], "--n"),
    (["run", "--seed", "1,x"], "--seed"),
    (["run", "--model", "two_layer_conv", "--algorithm", "batch_perceptron"], "--algorithm"),
    (["sweep-d", "--models", "linear:nope"], "--models"),
    (["sweep-d", "--d", "0,16"], "--d"),
    (["sweep-d", "--c", "-1"], "--c"),
    (["run", "--output", "/no/such/folder/x.json"], "--output"),
    (["frobnicate"], "command"),
])
def test_bad_input_exits_2_with_one_line(capsys, args, flag):
    code, out, err = run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert flag in lines[0] or flag.lstrip("-") in lines[0]
    assert "Traceback" not in err


def test_cache_info(capsys):
    code, out, _ = run(capsys, "cache", "info")
    assert code == 0 and "code_version" in json.loads(out)
