"""AppTest: the Image classifiers page (CNN kernel sizes against the linear model)."""
import pickle

import numpy as np

from core.claims.catalog import CLAIMS_BY_NAME
from tests.app_helpers import assert_clean, chart, charts, errors, table_rows, title, trace_names, values
from tests.extra_helpers import link_query, open_extra

KEY = "images."
SMALL = {"n": "60", "max_iters": "40", "sharpness_every": "10", "channels": "4",
         "kernel_size": "3", "step_size": "2"}


def runs(at):
    return {(row["model"], float(row["step size η"])): row for row in table_rows(at)}


def solved_at(row):
    value = row["iterations to 100 %"]
    return None if value == "not solved" else int(value)


def test_defaults_render_every_chart_consistently():
    at = open_extra("images")
    assert_clean(at)
    titles = [title(f) for f in charts(at)]
    assert len(titles) == 2, titles              # sharpness and loss; other views on demand
    loss = chart(at, "logistic loss")
    assert trace_names(loss)[:6] == ["CNN k=3 η=0.5", "CNN k=3 η=2", "CNN k=5 η=0.5",
                                     "CNN k=5 η=2", "linear η=0.5", "linear η=2"]
    table = runs(at)
    at.radio(key=KEY + "view").set_value("solve").run()
    assert_clean(at)
    assert at.query_params["view"] == "solve"
    accuracy = chart(at, "training accuracy")
    for trace in accuracy["data"]:
        model, eta = trace["name"].rsplit(" η=", 1)
        row = table[(model, float(eta))]
        t, acc = values(trace, "x"), values(trace, "y")
        assert np.isclose(acc[-1], float(row["final accuracy"]), atol=1e-3)
        solved = solved_at(row)
        if solved is not None:
            # iterations to 100 % = the first t >= 1 after whose update every margin is > 0
            assert acc[t == solved][0] == 1.0
            assert np.all(acc[(t >= 1) & (t < solved)] < 1.0)
        else:
            assert np.all(acc[t >= 1] < 1.0)
    # The defaults solve: the k = 5 CNN and the linear model reach 100 % at both step sizes.
    assert all(solved_at(table[(m, eta)]) is not None for m in ("CNN k=5", "linear")
               for eta in (0.5, 2.0))
    # Iterations to 100 % against the kernel size, the linear model as dotted lines.
    solve = chart(at, "iterations to 100 %")
    cnn = {t["name"]: t for t in solve["data"] if t["name"].startswith("CNN")}
    assert set(cnn) == {"CNN η=0.5", "CNN η=2"}
    assert list(values(cnn["CNN η=2"], "x")) == [3, 5]
    for eta in (0.5, 2.0):
        ys = values(cnn[f"CNN η={eta:g}"], "y")
        expected = [solved_at(table[(f"CNN k={k}", eta)]) for k in (3, 5)]
        assert np.allclose(ys, np.array([np.nan if e is None else e for e in expected], dtype=float),
                           equal_nan=True)
    # Sharpness measured every K = 25 iterations, with the edge-of-stability lines 2/η …
    sharp = chart(at, "sharpness")
    for trace in sharp["data"]:
        assert np.all(values(trace, "x") % 25 == 0)
    assert sorted(s["y0"] for s in sharp["layout"]["shapes"]) == [1.0, 4.0]
    # named over the plot, not on it; the two panels share one plot box and one legend
    assert "dotted: 2/η = 4 (η = 0.5), 1 (η = 2)" in sharp["layout"]["title"]["subtitle"]["text"]
    assert not sharp["layout"].get("annotations")
    assert sharp["layout"]["showlegend"] is False and loss["layout"].get("showlegend") is not False
    assert [(f["layout"]["margin"]["t"], f["layout"]["height"]) for f in (sharp, loss)] == \
        [(loss["layout"]["margin"]["t"], loss["layout"]["height"])] * 2
    # … and the k = 3 CNN at η = 2 hovers at its edge of stability 2/η = 1.
    eos = values(next(t for t in sharp["data"] if t["name"] == "CNN k=3 η=2"), "y")
    assert len(eos) >= 10 and np.all(np.abs(eos[len(eos) // 2:] - 1.0) < 0.35)
    at.radio(key=KEY + "view").set_value("images").run()
    assert "class 0 (label −1, top) and 1" in title(chart(at, "the images"))
    assert at.query_params["kernel_size"] == "3, 5" and at.query_params["n"] == "100"
    assert any("computed" in c.value or "from cache" in c.value for c in at.caption)


def test_changing_kernel_sizes_and_steps_changes_the_figures():
    at = open_extra("images", dict(SMALL, view="solve"))
    assert_clean(at)
    before = chart(at, "logistic loss")
    assert trace_names(before) == ["CNN k=3 η=2", "linear η=2"]
    at.text_input(key=KEY + "kernel_size").set_value("1, 5").run()
    at.text_input(key=KEY + "step_size").set_value("0.5").run()
    assert_clean(at)
    after = chart(at, "logistic loss")
    assert trace_names(after) == ["CNN k=1 η=0.5", "CNN k=5 η=0.5", "linear η=0.5"]
    assert list(values([t for t in chart(at, "iterations to 100 %")["data"]
                        if t["name"] == "CNN η=0.5"][0], "x")) == [1, 5]
    at.checkbox(key=KEY + "baseline").set_value(False).run()
    assert "linear η=0.5" not in trace_names(chart(at, "logistic loss"))
    at.selectbox(key=KEY + "model").set_value("linear").run()
    assert_clean(at)
    assert trace_names(chart(at, "logistic loss")) == ["linear η=0.5"]
    assert at.query_params["model"] == "linear" and "kernel_size" not in at.query_params


def test_bad_inputs_name_the_field():
    at = open_extra("images", SMALL)
    for key, widget, value, field in (
            ("kernel_size", "text_input", "3, 40", "kernel_size:"),
            ("classes", "text_input", "3", "classes:"),
            ("n", "number_input", 5000, "n:"),
            ("step_size", "text_input", "fast", "step_size:")):
        getattr(at, widget)(key=KEY + key).set_value(value).run()
        assert not at.exception
        assert any(m.startswith(field) for m in errors(at)), (field, errors(at))
        assert not charts(at)
        getattr(at, widget)(key=KEY + key).set_value(SMALL.get(key, "3,8")
                                                     if widget == "text_input" else 60).run()
        assert_clean(at)
    at.selectbox(key=KEY + "dataset").set_value("cifar10").run()
    assert any(m.startswith("path:") for m in errors(at)), errors(at)
    at.text_input(key=KEY + "path").set_value("/nonexistent/cifar").run()
    # A folder outside the uploads and GDX_DATA_DIRS is refused without saying whether it exists.
    assert any(m.startswith("path:") and "not an allowed location" in m for m in errors(at)), errors(at)


def test_a_claim_link_restores_the_widgets():
    page, query = link_query(CLAIMS_BY_NAME["edge_of_stability"].link())
    assert page == "images"
    query.update(max_iters="30", n="60")      # the claim runs 800 steps on 300 images: too slow here
    at = open_extra("images", query)
    assert_clean(at)
    assert not any(m.startswith("URL parameter") for m in errors(at))
    assert at.text_input(key=KEY + "classes").value == "3,8"
    assert at.text_input(key=KEY + "kernel_size").value == "3"
    assert at.text_input(key=KEY + "step_size").value == "2,8"
    assert at.number_input(key=KEY + "sharpness_every").value == 50
    assert at.number_input(key=KEY + "channels").value == 8
    assert at.checkbox(key=KEY + "run_to_max").value is True
    assert at.selectbox(key=KEY + "dtype").value == "float32"
    for name in ("classes", "kernel_size", "step_size", "sharpness_every", "readout", "dtype",
                 "run_to_max", "n", "max_iters"):
        assert at.query_params[name] == query[name], name
    assert trace_names(chart(at, "logistic loss"))[:2] == ["CNN k=3 η=2", "CNN k=3 η=8"]


def test_bad_query_parameter_is_reported():
    at = open_extra("images", dict(SMALL, readout="sideways", n="few"))
    assert not at.exception
    messages = errors(at)
    assert any(m.startswith("URL parameter readout:") for m in messages), messages
    assert any(m.startswith("URL parameter n:") for m in messages), messages
    assert at.selectbox(key=KEY + "readout").value == "avg"


def test_cifar10_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GDX_DATA_DIRS", str(tmp_path))       # the administrator's allow-list
    rng = np.random.default_rng(0)
    labels = [3, 5] * 20 + [0] * 10
    batch = {b"data": rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8),
             b"labels": labels}
    with open(tmp_path / "data_batch_1", "wb") as handle:
        pickle.dump(batch, handle)
    at = open_extra("images", dict(SMALL, dataset="cifar10", path=str(tmp_path), classes="3,5",
                                   n="30", max_iters="5", sharpness_every="0"))
    assert_clean(at)
    at.radio(key=KEY + "view").set_value("images").run()
    assert "class cat (label −1, top) and dog" in title(chart(at, "the images"))
    assert "no sharpness measured" in str(chart(at, "sharpness")["layout"]["annotations"])
    assert at.query_params["path"] == str(tmp_path)


def test_leaky_relu_shows_its_slope_and_the_runs_use_it():
    at = open_extra("images", {"activation": "leaky_relu", "leak": "0.3", "kernel_size": "3",
                              "step_size": "2", "max_iters": "20", "sharpness_every": "0"})
    assert_clean(at)
    assert at.number_input(key=KEY + "leak").value == 0.3
    assert at.query_params["leak"] == "0.3"
    ids = " ".join(code.value for code in at.code)
    assert "leak=0.3" in ids and "activation=leaky_relu" in ids, ids
    relu = open_extra("images", {"kernel_size": "3", "step_size": "2", "max_iters": "20",
                                "sharpness_every": "0"})
    assert "leak" not in relu.query_params          # the slope only matters for leaky ReLU


def test_pins_keep_the_step_size_colour_with_a_dash_of_their_own():
    at = open_extra("images", SMALL)
    assert_clean(at)
    at.button(key=KEY + "pin").click().run()          # Pin this view
    pins = at.query_params["pins"]
    assert "kernel_size=3" in pins and pins.count("|") == 1      # the CNN and the baseline
    at.text_input(key=KEY + "classes").set_value("1,7").run()
    assert_clean(at)
    loss = chart(at, "logistic loss")
    live = {t["name"]: t for t in loss["data"] if not t["name"].startswith("pin")}
    pinned = {t["name"]: t for t in loss["data"] if t["name"].startswith("pin 1 (classes 0,1)")}
    assert set(pinned) == {"pin 1 (classes 0,1): CNN k=3 η=2", "pin 1 (classes 0,1): linear η=2"}
    for name, trace in pinned.items():
        twin = live[name.split(": ", 1)[1]]
        assert trace["line"]["color"] == twin["line"]["color"]        # colour: the step size
        assert trace["line"]["dash"] != twin["line"].get("dash", "solid")
    assert any(t["name"].startswith("pin 1") for t in chart(at, "sharpness")["data"])
    again = open_extra("images", {**SMALL, "classes": "1,7", "pins": pins})
    assert_clean(again)
    assert any(t["name"].startswith("pin 1 (classes 0,1)") for t in chart(again, "logistic loss")["data"])
    refused = open_extra("images", {**SMALL, "pins": "model=cnn&kernel_size=99"})
    assert not refused.exception
    assert any(m.startswith("URL parameter pins") for m in errors(refused)), errors(refused)


def test_with_several_seeds_the_solve_chart_draws_medians_not_a_zigzag_across_seeds():
    """Seeds 0–2: the CNN line joined every seed's value in turn (up and down at each kernel
    size) and the legend listed "linear η=2: 1" once per seed."""
    at = open_extra("images", {**SMALL, "max_iters": "120", "kernel_size": "3,5", "seed": "0,1,2",
                               "sharpness_every": "0", "view": "solve"})
    assert_clean(at)
    figure = chart(at, "by kernel size")
    lines = [t for t in figure["data"] if t["name"].startswith("CNN") and t.get("showlegend") is not False]
    assert len(lines) == 1 and "median of 3 seeds" in lines[0]["name"]
    kernels = list(values(lines[0], "x"))
    assert kernels == sorted(set(kernels)) == [3, 5]            # one point per kernel size
    by_name = {t["name"]: t for t in figure["data"]}
    seeds = by_name[lines[0]["name"] + ": each seed"]
    missed = by_name.get("not 100 % within the budget")
    for k, median in zip(kernels, values(lines[0], "y")):
        times = [y for x, y in zip(values(seeds, "x"), values(seeds, "y")) if x == k]
        times += [120] * (0 if missed is None else int(np.sum(values(missed, "x") == k)))
        assert len(times) == 3                                     # every seed, solved or not
        assert np.isnan(median) if np.median(times) >= 120 else median == np.median(times)
    linear = [t["name"] for t in figure["data"] if t["name"].startswith("linear")]
    assert len(linear) == 1 and "seeds" in linear[0]              # once, naming the seeds
