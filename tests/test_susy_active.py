"""Active learning of the SUSY exclusion: the batch selection, the gain over random sampling on a toy boundary, and
the task's outputs in the finished tiny run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml4hep.combine import susy_active_section
from ml4hep.config import load_config
from ml4hep.susy.active import (
    STRATEGIES,
    labels_to_reach,
    learning_curve,
    plan,
    select_batch,
    strategy_random_fraction,
    train_classifier,
    uncertainty,
)
from ml4hep.tables import markdown_lines


def test_selection_takes_the_least_certain_candidates():
    p = np.array([0.99, 0.51, 0.02, 0.40, 0.62, 0.49, 0.85, 0.30])
    candidates = np.array([0, 1, 2, 3, 4, 6, 7])  # point 5 (p = 0.49) is labelled already
    chosen = select_batch(p, candidates, 3, 0.0, np.random.default_rng(0))
    assert chosen.tolist() == [1, 3, 4]  # |p - 0.5| = 0.01, 0.10, 0.12
    assert uncertainty(p)[chosen].min() >= uncertainty(p)[np.setdiff1d(candidates, chosen)].max()


def test_selection_random_share_and_ties():
    p = np.full(100, 0.9)
    p[:10] = 0.5  # ten equally uncertain points
    chosen = select_batch(p, np.arange(100), 10, 0.3, np.random.default_rng(1))
    assert len(chosen) == len(set(chosen.tolist())) == 10
    assert set(chosen[:7].tolist()) <= set(range(10))  # 7 uncertain ones, among the tied ten
    assert set(chosen[7:].tolist()).isdisjoint(chosen[:7].tolist())  # 3 random ones from the rest
    # ties are broken at random, not in the pool's order
    picks = {
        tuple(sorted(select_batch(p, np.arange(100), 3, 0.0, np.random.default_rng(s)).tolist())) for s in range(5)
    }
    assert len(picks) > 1
    # the random strategy draws everything at random; never more than the candidates left
    assert strategy_random_fraction("random", 0.2) == 1.0 and strategy_random_fraction("active", 0.2) == 0.2
    assert sorted(select_batch(p, np.array([3, 50]), 5, 0.5, np.random.default_rng(2)).tolist()) == [3, 50]


def _toy(seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """A curved 2-D boundary: 'allowed' inside a disc of radius 0.7 (the analytic oracle)."""
    x = np.random.default_rng(seed).uniform(-1, 1, (n, 2))
    return x, (np.hypot(x[:, 0], x[:, 1]) < 0.7).astype(int)


TOY = {
    "classifier": "rf",
    "hyper": {"n_estimators": 20},
    "initial": 20,
    "batch": 20,
    "rounds": 8,
    "random_fraction": 0.2,
    "val_fraction": 0.0,
}


def test_active_sampling_reaches_random_accuracy_with_fewer_labels():
    x, allowed = _toy(0)
    pool, test = slice(0, 1200), slice(1200, None)
    curves = learning_curve(lambda index: allowed[index], x[pool], (x[test], allowed[test]), TOY, seed=11)
    assert [r["n_labelled"] for r in curves["active"]] == plan(20, 20, 8)
    # the same initial set, training seed and test points: the same first model
    keys = ("n_labelled", "accuracy", "accuracy_conf95", "coverage_conf95")
    assert [curves["active"][0][k] for k in keys] == [curves["random"][0][k] for k in keys]
    random_final = curves["random"][-1]["accuracy"]
    reached = labels_to_reach(curves["active"], random_final)
    # measured: active reaches random's 180-label accuracy (0.917) with 80 labels (seeds 12-14: 80, 160, 160)
    assert reached is not None and reached <= 120
    late = slice(-4, None)  # the last four rounds, 120-180 labels (active 0.951, random 0.922 on average)
    assert np.mean([r["accuracy"] for r in curves["active"][late]]) > np.mean(
        [r["accuracy"] for r in curves["random"][late]]
    )
    # the uncertain points it asks for lie near the boundary: the chosen batches are far less certain
    assert curves["active"][-2]["batch_mean_uncertainty"] > 2 * curves["random"][-2]["batch_mean_uncertainty"]


@pytest.mark.parametrize("classifier", ["bdt", "rf"])
def test_registry_classifiers_train_on_the_labelled_points(classifier):
    x, allowed = _toy(1, 200)
    hyper = {"rf": {"n_estimators": 10}, "bdt": {"n_estimators": 30, "early_stopping_rounds": 5}}[classifier]
    model = train_classifier(classifier, hyper, x, allowed, seed=3, val_fraction=0.25)
    p = model.predict({"X": x})
    assert p.shape == (200,) and np.all((p >= 0) & (p <= 1))
    assert np.mean((p >= 0.5) == (allowed == 1)) > 0.8


def test_the_pool_keeps_only_points_the_recast_can_label(test_config):
    from ml4hep.susy.active import build_pool
    from ml4hep.susy.classifiers import feature_names
    from ml4hep.susy.scan import PARAMETERS, sample_points
    from ml4hep.susy.spectrum import spectrum

    susy = test_config["susy"]
    pool = build_pool(300, 5, susy["scan"]["ranges"], susy["inputs"])
    sampled = sample_points(300, 5, susy["scan"]["ranges"])  # the scan's own sampler, same seed: same points
    kept = spectrum(sampled)["lsp"] == 0
    assert 0 < kept.sum() < 300
    assert pool["point_id"].tolist() == np.flatnonzero(kept).tolist()
    for name in PARAMETERS:
        assert np.array_equal(pool[name], sampled[name][kept])
    assert pool["X"].shape == (kept.sum(), len(feature_names(susy["inputs"])))


@pytest.fixture(scope="module")
def active_run(finished_run):
    return finished_run / "results" / "susy_active"


def test_finished_run_outputs_and_labels_per_round(active_run, finished_run):
    options = load_config(finished_run / "config" / "test.yaml")["susy_active"]
    expected = plan(options["initial"], options["batch"], options["rounds"])
    for name in ("learning_curve.csv", "learning_curve.md", "learning_curve.html", "plots/learning_curve.png"):
        assert (active_run / name).stat().st_size > 0, name
    metrics = json.loads((active_run / "metrics.json").read_text())
    assert metrics["plan"] == expected
    pool = np.load(active_run / "pool.npz", allow_pickle=False)
    for strategy in STRATEGIES:
        assert [r["n_labelled"] for r in metrics["curves"][strategy]] == expected
        for k, n in enumerate(expected):
            labelled = np.load(active_run / "labelled" / strategy / f"round{k}.npz", allow_pickle=False)
            assert len(labelled["index"]) == len(np.unique(labelled["index"])) == n  # no point labelled twice
            assert np.all(labelled["index"] < len(pool["point_id"]))
            assert np.bincount(labelled["round"].astype(int)).tolist() == [options["initial"]] + [options["batch"]] * k
        final = metrics["curves"][strategy][-1]
        assert 0 <= final["accuracy"] <= 1 and 0 <= final["coverage_conf95"] <= 1
    # both strategies start from the same labelled points
    first = [np.load(active_run / "labelled" / s / "round0.npz", allow_pickle=False)["index"] for s in STRATEGIES]
    assert np.array_equal(*first)
    rows, columns, note = susy_active_section(metrics)
    text = "\n".join(markdown_lines(rows, columns, note))
    assert "Random sampling" in text and str(expected[-1]) in text
    assert "SUSY active learning" in (finished_run / "results" / "summary" / "summary.md").read_text()


def test_a_budget_beyond_the_pool_is_one_config_error():
    from ml4hep.config import validate_config
    from ml4hep.errors import ConfigError

    with pytest.raises(ConfigError, match=r"initial \+ rounds x batch = 110 labels exceed the 100 pool points"):
        validate_config({"susy_active": {"pool": 100, "initial": 50, "batch": 30, "rounds": 2}})
    validate_config({"tasks": ["pdf"], "susy_active": {"pool": 100, "initial": 50, "batch": 30, "rounds": 2}})
