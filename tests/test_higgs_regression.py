"""Di-tau mass regression: figure-of-merit definitions, a synthetic known answer, and the job on tiny samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ml4hep.errors import ConfigError, InputFileError
from ml4hep.higgs.dataset import build_dataset, load_split, select_events
from ml4hep.higgs.features import FEATURE_NAMES, UNDEFINED
from ml4hep.higgs.regression import (
    MassRegressor,
    fold_numbers,
    regression_splits,
    regression_weights,
    summarise_regression,
)
from ml4hep.higgs.resolution import (
    bin_labels,
    common_events,
    estimates_on_test,
    mass_bins,
    metrics_bins,
    overall_resolution,
    resolution_summary,
    resolution_table,
    table_rows,
    write_resolution_table,
)
from ml4hep.models import FitContext
from ml4hep.models.scores import read_scores
from ml4hep.models.step import train_and_score
from ml4hep.plots.higgs import plot_regression

RESONANCES = {"ztautau": 91.19, "ggh125": 125.0, "heavyh300": 300.0, "heavyh500": 500.0, "ttbar": 0.0}
FAST = {"hidden": [32, 32], "epochs": 20, "batch_size": 128, "learning_rate": 3e-3, "patience": 5, "folds": 0}


def run_job(paths, hyper, seed, model_path, predictions_path, metrics_path, checkpoint=None):
    """The rule higgs_regression: the regressor through the one train-and-score step."""
    splits = regression_splits(paths)
    return train_and_score(
        MassRegressor(**hyper),
        splits,
        FitContext(seed=seed, checkpoint=checkpoint),
        model_path=model_path,
        scores_path=predictions_path,
        info_path=metrics_path,
        summarise=summarise_regression,
    )


def synthetic_split(rng, n):
    """Truth mass around each resonance; m_vis = m * f with f ~ U(0.4, 0.8) and f (with 2% noise) in another column.

    The regression can recover m = m_vis / f; the visible mass alone has a relative resolution of
    (0.7 - 0.5) / 2 / 0.6 = 0.167. The collinear column is m * N(1, 0.25), undefined for 30% of the events.
    """
    names = np.array(list(RESONANCES))
    process = rng.choice(len(names), size=n, p=[0.4, 0.2, 0.15, 0.15, 0.1])
    resonance = np.array(list(RESONANCES.values()))[process]
    truth = np.where(resonance > 0, resonance * (1 + 0.03 * rng.normal(size=n)), np.nan)
    fraction = rng.uniform(0.4, 0.8, size=n)
    x = rng.normal(size=(n, len(FEATURE_NAMES)))
    proxy = np.where(np.isfinite(truth), truth, rng.uniform(50, 400, size=n))
    x[:, FEATURE_NAMES.index("DER_mass_vis")] = proxy * fraction
    x[:, FEATURE_NAMES.index("DER_pt_ratio_lep_tau")] = fraction * (1 + 0.02 * rng.normal(size=n))
    collinear = proxy * (1 + 0.25 * rng.normal(size=n))
    x[:, FEATURE_NAMES.index("DER_mass_collinear")] = np.where(rng.uniform(size=n) < 0.3, UNDEFINED, collinear)
    return {
        "X": x,
        "feature_names": np.array(FEATURE_NAMES),
        "label": (resonance != 91.19).astype(int),
        "weight": np.ones(n),
        "process": process,
        "process_names": names,
        "truth_mass": truth,
        "resonance_mass": resonance,
    }


def test_response_definitions_on_hand_values():
    truth = np.full(5, 100.0)
    stats = overall_resolution(truth, np.array([100.0, 200.0, 300.0, 400.0, 500.0]))
    # r = 1..5: median 3, q25 2, q75 4 -> bias 2, resolution (4 - 2) / 2 / 3.
    assert stats["median_response"] == pytest.approx(3.0)
    assert stats["bias"] == pytest.approx(2.0)
    assert stats["resolution"] == pytest.approx(1.0 / 3.0)
    assert (stats["n_used"], stats["n_undefined"]) == (5, 0)

    # Undefined estimates (-999, NaN) are left out and counted; events without a true mass are ignored.
    truth = np.array([50.0, 100.0, 200.0, 400.0, 80.0, 90.0, np.nan, 0.0])
    estimate = truth * np.array([0.8, 0.9, 1.0, 1.1, 1.2, 1.0, 1.0, 1.0])
    estimate[5] = UNDEFINED
    estimate[4] = np.nan
    stats = overall_resolution(truth, estimate)
    assert (stats["n_used"], stats["n_undefined"]) == (4, 2)
    # r = 0.8, 0.9, 1.0, 1.1: median 0.95, q25 0.875, q75 1.025.
    assert stats["bias"] == pytest.approx(-0.05)
    assert stats["resolution"] == pytest.approx(0.075 / 0.95)

    empty = overall_resolution(np.array([100.0]), np.array([UNDEFINED]))
    assert empty["n_used"] == 0 and empty["n_undefined"] == 1 and np.isnan(empty["resolution"])


def test_scaled_estimate_has_the_expected_bias_and_resolution():
    rng = np.random.default_rng(0)
    truth = rng.uniform(80, 600, size=20000)
    noise = rng.normal(0, 0.05, size=truth.size)
    stats = overall_resolution(truth, 0.9 * truth * (1 + noise))
    assert stats["bias"] == pytest.approx(-0.1, abs=0.003)
    # Gaussian: IQR / 2 = 0.674 sigma, sigma = 0.9 * 0.05, divided by the median 0.9.
    assert stats["resolution"] == pytest.approx(0.674 * 0.05, rel=0.05)


def test_bins_and_table():
    edges = mass_bins(np.array([0.0, 91.1876, 125.0, 125.0, 300.0, np.nan]))
    assert edges[0] == 0 and np.isinf(edges[-1]) and len(edges) == 4
    assert edges[1] == pytest.approx(np.sqrt(91.1876 * 125.0))
    assert edges[2] == pytest.approx(np.sqrt(125.0 * 300.0))
    assert bin_labels(edges)[0] == "<106.8" and bin_labels(edges)[-1] == ">=193.6"
    assert bin_labels(edges, [91.1876, 125, 300])[1] == "125 (106.8-193.6)"
    assert list(mass_bins(np.zeros(3))) == [0.0, np.inf]

    truth = np.array([90.0, 92.0, 124.0, 126.0, 299.0, 301.0])
    estimates = {"a": truth * 1.1, "b": np.where(truth > 200, UNDEFINED, truth * 0.5)}
    rows = resolution_table(truth, estimates, edges, same_events=False)
    assert [(r["bin"], r["estimator"]) for r in rows][:3] == [("<106.8", "a"), ("<106.8", "b"), ("106.8-193.6", "a")]
    assert len(rows) == 6
    assert all(r["bias"] == pytest.approx(0.1) for r in rows if r["estimator"] == "a")
    last_b = rows[-1]
    assert last_b["estimator"] == "b" and last_b["n_used"] == 0 and last_b["n_undefined"] == 2

    # Like for like (the default): where b is undefined, a is not counted either, and says how many b lacks.
    rows = resolution_table(truth, estimates, edges)
    last_a, last_b = rows[-2], rows[-1]
    assert last_a["n_used"] == last_b["n_used"] == 0 and np.isnan(last_a["resolution"])
    assert (last_a["n_undefined"], last_b["n_undefined"]) == (0, 2)
    assert [r["n_used"] for r in rows[:4]] == [2, 2, 2, 2]


def test_estimators_are_compared_on_the_same_events():
    """The collinear mass is undefined on the events where it would be worst: on its own events it looks better
    than it is; the table compares every estimator on the events where all are defined."""
    rng = np.random.default_rng(3)
    n = 4000
    truth = rng.uniform(80.0, 400.0, n)
    hard = rng.uniform(size=n) < 0.4  # events where every estimator is poor
    spread = np.where(hard, 0.4, 0.05)
    columns = {name: truth * (1 + spread * rng.normal(size=n)) for name in ("regressed", "visible", "collinear")}
    columns["collinear"] = np.where(hard & (rng.uniform(size=n) < 0.9), UNDEFINED, columns["collinear"])
    x = np.zeros((n, len(FEATURE_NAMES)))
    x[:, FEATURE_NAMES.index("DER_mass_vis")] = columns["visible"]
    x[:, FEATURE_NAMES.index("DER_mass_collinear")] = columns["collinear"]
    test = {
        "X": x,
        "feature_names": np.array(FEATURE_NAMES),
        "truth_mass": truth,
        "resonance_mass": np.full(n, 125.0),
    }
    metrics = resolution_summary(test, columns["regressed"])
    common = common_events(columns)
    assert metrics["n_compared"] == common.sum() < metrics["n_test"] == n
    for name, estimate in columns.items():
        on_common = overall_resolution(truth[common], estimate[common])
        assert metrics[f"resolution_{name}"] == pytest.approx(on_common["resolution"])
    # Same spread, same events: the same resolution within statistics. Each on its own defined events, the
    # collinear mass (undefined on most hard events) would look far better than the visible mass.
    assert metrics["resolution_collinear"] == pytest.approx(metrics["resolution_visible"], rel=0.15)
    own = {name: overall_resolution(truth, columns[name])["resolution"] for name in ("visible", "collinear")}
    assert own["collinear"] < 0.6 * own["visible"]
    overall = [row for row in metrics["table"] if row["bin"] == "all"]
    assert {row["n_used"] for row in overall} == {int(common.sum())}
    assert [row["n_undefined"] for row in overall] == [0, 0, int((~common).sum())]


def test_process_weighting_flattens():
    process = np.array([0, 0, 0, 1, 2, 2])
    weights = regression_weights(process)
    assert weights.mean() == pytest.approx(1.0)
    totals = [weights[process == p].sum() for p in range(3)]
    assert totals == pytest.approx([2.0, 2.0, 2.0])
    assert list(regression_weights(process, "none")) == [1.0] * 6


def test_regression_beats_the_visible_mass_on_synthetic_events(tmp_path):
    rng = np.random.default_rng(7)
    train, val, test = synthetic_split(rng, 2000), synthetic_split(rng, 600), synthetic_split(rng, 1000)
    model = MassRegressor(**FAST)
    info = model.fit(train, val, FitContext(seed=3))
    assert info["best_epoch"] >= 0 and np.isfinite(min(info["val_loss"])) and model.out_of_fold is None
    regressed = model.predict(test)
    assert regressed.shape == (1000,) and np.all(np.isfinite(regressed)) and np.all(regressed > 0)
    visible = overall_resolution(test["truth_mass"], test["X"][:, FEATURE_NAMES.index("DER_mass_vis")])
    dnn = overall_resolution(test["truth_mass"], regressed)
    assert visible["resolution"] == pytest.approx(0.167, abs=0.02)
    assert visible["bias"] == pytest.approx(-0.4, abs=0.03)
    assert dnn["resolution"] < 0.6 * visible["resolution"]
    assert abs(dnn["bias"]) < 0.05

    # The whole job on the same events: files, metrics and a checkpoint that reloads to the same predictions.
    splits = {}
    for name, split in (("train", train), ("val", val), ("test", test)):
        splits[name] = tmp_path / f"{name}.npz"
        np.savez(splits[name], **split)
    out = {k: tmp_path / k for k in ("model.pt", "pred.root", "t.csv", "t.md", "p.png", "p.pdf", "m.json")}
    metrics = run_job(splits, {**FAST, "epochs": 12}, 3, out["model.pt"], out["pred.root"], out["m.json"])
    render(splits["test"], out["pred.root"], out["m.json"], (out["t.csv"], out["t.md"]), (out["p.png"], out["p.pdf"]))
    assert metrics["resolution_regressed"] < metrics["resolution_visible"]
    assert metrics["n_undefined_collinear"] > 0 and metrics["n_compared"] < metrics["n_test"]
    assert metrics["model"] == "mass_regression" and metrics["n_train"] == int(np.isfinite(train["truth_mass"]).sum())
    reloaded = MassRegressor.load(out["model.pt"])
    assert reloaded.hyper["target"] == "log" and reloaded.hyper["hidden"] == [32, 32]
    np.testing.assert_allclose(reloaded.predict(test), read_scores(out["pred.root"], "test"), rtol=1e-5)
    assert "125 (106.8-193.6)" in out["t.md"].read_text()


def test_training_split_is_predicted_out_of_fold(tmp_path):
    """With k folds the training events get the mass of the network trained without their fold; the validation
    and test events (and the model file) that of the network trained on all of them."""
    rng = np.random.default_rng(11)
    data = {"train": synthetic_split(rng, 600), "val": synthetic_split(rng, 200), "test": synthetic_split(rng, 200)}
    paths = {}
    for name, split in data.items():
        paths[name] = tmp_path / f"{name}.npz"
        np.savez(paths[name], **split)
    hyper = {**FAST, "epochs": 3, "folds": 3}
    out = tmp_path / "out"
    run_job(paths, hyper, 5, out / "m.pt", out / "p.root", out / "m.json", checkpoint=out / "m.ckpt")
    assert not list(out.glob("*.ckpt*"))  # the fold checkpoints and the main one are removed at the end
    full = MassRegressor.load(out / "m.pt")
    scores = {name: read_scores(out / "p.root", name) for name in data}
    for name in ("val", "test"):
        np.testing.assert_allclose(scores[name], full.predict(data[name]), rtol=1e-6)
    in_sample = full.predict(data["train"])
    assert not np.allclose(scores["train"], in_sample, rtol=1e-3)
    # Fold 1 by hand: trained on the other folds with the fold's seed, it predicts fold 1 as the file says.
    folds = fold_numbers(600, 3, 5)
    assert sorted(np.bincount(folds)) == [200, 200, 200]
    by_hand = MassRegressor(**{**hyper, "folds": 0})
    by_hand.fit(select_events(data["train"], folds != 1), data["val"], FitContext(seed=(5 + 7919 * 2) % 2**31))
    held_out = select_events(data["train"], folds == 1)
    np.testing.assert_allclose(scores["train"][folds == 1], by_hand.predict(held_out), rtol=1e-6)
    # folds 0: the old in-sample predictions of the full network.
    run_job(paths, {**hyper, "folds": 0}, 5, out / "m0.pt", out / "p0.root", out / "m0.json")
    np.testing.assert_allclose(read_scores(out / "p0.root", "train"), in_sample, rtol=1e-6)


def render(test, predictions, metrics_path, table_paths, plot_paths):
    """The render rule higgs_regression_plots: resolution table and figure from the regression's files."""
    metrics = json.loads(Path(metrics_path).read_text())
    write_resolution_table(table_rows(metrics), *table_paths)
    truth, estimates = estimates_on_test(test, predictions)
    plot_regression(truth, estimates, plot_paths, metrics_bins(metrics))


def test_bad_inputs(tmp_path):
    rng = np.random.default_rng(1)
    split = synthetic_split(rng, 200)
    with pytest.raises(ConfigError, match="unknown config key .higgs.regression.hiden."):
        MassRegressor(hiden=[8])
    with pytest.raises(ConfigError, match="target"):
        MassRegressor(target="sqrt")
    no_truth = {**split, "truth_mass": np.full(200, np.nan)}
    with pytest.raises(ValueError, match="no event with a true"):
        MassRegressor(**FAST).fit(no_truth, split, FitContext())
    path = tmp_path / "data.npz"
    np.savez(path, **no_truth)
    with pytest.raises(InputFileError, match="true di-tau mass"):
        regression_splits({"train": path, "val": path, "test": path})


def test_job_on_tiny_samples(tiny_samples, tmp_path):
    samples = {name: [str(tiny_samples[name])] for name in ("higgs_ztautau", "higgs_ggh125")}
    roles = {"higgs_ztautau": "background", "higgs_ggh125": "signal"}
    splits = {s: tmp_path / f"{s}.root" for s in ("train", "val", "test")}
    build_dataset(samples, roles, {"jet_pt_min": 30, "split": {"train": 0.5, "val": 0.25, "test": 0.25}}, 5, splits)
    out = tmp_path / "out"
    paths = {
        "model": out / "model.pt",
        "pred": out / "pred.root",
        "csv": out / "table.csv",
        "md": out / "table.md",
        "png": out / "plot.png",
        "pdf": out / "plot.pdf",
        "metrics": out / "metrics.json",
    }
    metrics = run_job(
        splits,
        {"hidden": [16, 16], "epochs": 4, "batch_size": 64, "patience": 2},
        2,
        *(paths[k] for k in ("model", "pred", "metrics")),
    )
    render(splits["test"], paths["pred"], paths["metrics"], (paths["csv"], paths["md"]), (paths["png"], paths["pdf"]))
    for path in paths.values():
        assert path.exists() and path.stat().st_size > 0, path
    for key in (
        "resolution_regressed",
        "resolution_visible",
        "resolution_collinear",
        "bias_regressed",
        "bias_visible",
        "bias_collinear",
    ):
        assert key in metrics
    assert np.isfinite(metrics["resolution_regressed"]) and np.isfinite(metrics["bias_visible"])
    saved = json.loads(paths["metrics"].read_text())
    assert saved["resolution_visible"] == pytest.approx(metrics["resolution_visible"])
    assert metrics["folds"] == 5  # the schema's default: the training split out of fold
    for split, path in splits.items():
        predictions = read_scores(paths["pred"], split)
        assert predictions.shape == (len(load_split(path)["label"]),)
        assert np.all(np.isfinite(predictions)) and np.all(predictions > 0)
    rows = paths["csv"].read_text().splitlines()
    assert rows[0].startswith("bin,bin_low,bin_high,estimator")
    assert len(rows) == 1 + 3 * (2 + 1)  # two resonance bins and the overall rows, three estimators each


@pytest.mark.parametrize("script", ["higgs_regression_plots.py", "higgs_parameterised_plots.py"])
def test_the_render_rules_import_no_compute_or_torch_code(script):
    """Restyling a figure re-renders; retraining needs none of the render code, and a change of the training code
    or of the networks re-renders nothing (the render rules' code is their scripts' import closure)."""
    from ml4hep.workflow_code import import_closure

    root = Path(__file__).resolve().parents[1]
    closure = {
        path.relative_to(root / "src").as_posix() for path in import_closure(root / "scripts" / script, root / "src")
    }
    assert "ml4hep/plots/higgs_mass.py" in closure
    for compute in ("regression", "parameterised", "classifiers", "networks", "evaluate"):
        assert f"ml4hep/higgs/{compute}.py" not in closure, compute
    assert not closure & {"ml4hep/training.py", "ml4hep/networks.py", "ml4hep/models/network.py"}
