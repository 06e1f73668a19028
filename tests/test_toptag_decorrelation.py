"""Mass decorrelation: the sculpting metric on toy distributions, the two decorrelated taggers on toy jets, and the
finished tiny run's trade-off (the decorrelated taggers sculpt less than the plain ones, measured)."""

from __future__ import annotations

import doctest
import gc
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ml4hep.errors import ConfigError
from ml4hep.models import FitContext
from ml4hep.models.scores import read_scores
from ml4hep.toptag import decorrelated, decorrelation
from ml4hep.toptag.decorrelated import (
    DECORRELATED,
    distance_correlation,
    read_substructure_split,
    substructure_column,
)
from ml4hep.toptag.decorrelation import (
    MassBinning,
    add_to_metrics,
    background_distance_correlation,
    distance_correlation_difference,
    jensen_shannon,
    sculpting,
    unsculpted_inverse_jsd,
)

NAMES = np.array(["mass", "sd_mass", "tau32", "shape"])


def toy_jets(n: int = 1500, seed: int = 0) -> dict[str, np.ndarray]:
    """Top jets at m ~ 175 GeV and QCD jets with a falling mass; tau32 separates and, for QCD, follows the mass
    (so a tagger that uses it sculpts), `shape` separates without depending on the mass."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([1, 0], n // 2)
    top = labels == 1
    mass = np.where(top, rng.normal(175, 15, n), rng.exponential(70, n) + 20)
    tau32 = np.where(top, rng.normal(0.45, 0.1, n), 0.95 - 0.0025 * np.minimum(mass, 250) + rng.normal(0, 0.05, n))
    shape = np.where(top, rng.normal(1.0, 1.0, n), rng.normal(0.0, 1.0, n))
    return {
        "substructure": np.stack([mass, mass * 0.9, tau32, shape], axis=1),
        "substructure_names": NAMES,
        "label": labels,
        "weight": np.ones(n),
    }


def test_doctests_of_the_modules():
    for module in (decorrelation, decorrelated):
        assert doctest.testmod(module).failed == 0


def test_jensen_shannon_is_zero_for_equal_shapes_and_one_for_disjoint():
    assert jensen_shannon(np.array([1, 2, 3]), np.array([10, 20, 30])) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon(np.array([5, 0, 0]), np.array([0, 3, 4])) == pytest.approx(1.0)
    assert math.isnan(jensen_shannon(np.zeros(3), np.array([1, 2, 3])))


def test_mass_binning_folds_overflow_into_the_end_bins():
    counts = MassBinning(0.0, 300.0, 20).counts(np.array([-10.0, 0.0, 299.99, 300.0, 1e4]))
    assert counts[0] == 2 and counts[-1] == 3 and counts.sum() == 5


def test_a_score_independent_of_the_mass_does_not_sculpt_and_the_mass_itself_does():
    rng = np.random.default_rng(4)
    n = 20000
    labels = np.repeat([1, 0], n // 2)
    mass = np.where(labels == 1, rng.normal(175, 20, n), rng.uniform(10, 290, n))
    independent = rng.normal(labels.astype(float), 1.0)
    flat = sculpting(labels, independent, mass, MassBinning(), distance_correlation_jets=2000)
    by_mass = sculpting(labels, mass, mass, MassBinning(), distance_correlation_jets=2000)
    assert flat.inverse_jsd > 100
    assert by_mass.inverse_jsd < 3
    assert flat.distance_correlation < 0.01 < 0.9 < by_mass.distance_correlation
    # the cut keeps half the signal in both cases
    for scores, result in ((independent, flat), (mass, by_mass)):
        assert np.mean(scores[labels == 1] >= result.threshold) == pytest.approx(0.5, abs=1e-3)
        assert result.n_background == n // 2


def test_no_background_passing_leaves_the_jsd_undefined():
    labels = np.array([1, 1, 0, 0])
    result = sculpting(labels, np.array([0.9, 0.8, 0.1, 0.2]), np.array([170.0, 180, 50, 60]), MassBinning())
    assert result.n_background_pass == 0 and result.inverse_jsd is None and math.isinf(result.r50)


def test_unsculpted_inverse_jsd_grows_with_the_jets_kept():
    mass = np.random.default_rng(5).exponential(70, 2000) + 20
    few, many = (unsculpted_inverse_jsd(mass, MassBinning(), k, 40, seed=1) for k in (5, 500))
    assert 1 < few < many


def test_distance_correlation_sees_a_nonlinear_dependence():
    x = torch.linspace(-1, 1, 401, dtype=torch.float64)
    noise = torch.as_tensor(np.random.default_rng(6).normal(size=401))
    assert float(distance_correlation(x, 2 - 5 * x)) == pytest.approx(1.0)
    assert float(torch.corrcoef(torch.stack([x, x**2]))[0, 1]) == pytest.approx(0.0, abs=1e-9)
    assert float(distance_correlation(x, x**2)) > 0.2
    assert float(distance_correlation(x, noise)) < 0.02


@pytest.mark.parametrize("method", ["flatness_bdt", "uboost", "disco"])
def test_the_strongest_decorrelation_flattens_the_toy_and_reloads(method, tmp_path):
    train, val, test = toy_jets(800, seed=1), toy_jets(800, seed=2), toy_jets(seed=3)
    fast = {
        "flatness_bdt": {"n_estimators": 30},
        "uboost": {"n_estimators": 10, "efficiency_steps": 4},
        "disco": {"hidden": [16], "epochs": 40, "learning_rate": 0.01},
    }
    hyper = {**fast[method], "exclude_inputs": ["mass", "sd_mass"]}
    background = test["label"] == 0
    dcorr = {}
    for strength in (0.0, 30.0):
        model = DECORRELATED.create(method, {**hyper, "strength": strength})
        info = model.fit(train, val, FitContext(seed=3))
        assert info["inputs"] == ["tau32", "shape"]
        scores = model.predict(test)
        dcorr[strength] = background_distance_correlation(
            scores[background], test["substructure"][background, 0], 2000, 0
        )
        path = tmp_path / f"{method}_{strength:g}{model.suffix}"
        model.save(path)
        np.testing.assert_allclose(DECORRELATED.load(method, path).predict(test), scores, rtol=0, atol=1e-7)
        if method in ("flatness_bdt", "uboost"):
            assert info["max_abs_diff_hep_ml"] < 1e-12  # the JSON trees are hep_ml's model
    assert dcorr[30.0] < 0.5 * dcorr[0.0]


# hep_ml's own uBoostClassifier.fit queries its nearest-neighbour index with a frame (ml4hep's passes an array) and
# leaves its one-thread pool open (collected at the end of the test)
@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")
@pytest.mark.filterwarnings("ignore:unclosed running multiprocessing pool:ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_uboost_at_uniforming_rate_one_is_hep_ml_s_own_fit_and_reloads_from_json_exactly(tmp_path):
    train, test = toy_jets(600, seed=4), toy_jets(400, seed=5)
    model = DECORRELATED.create("uboost", {"strength": 1.0, "n_estimators": 6, "efficiency_steps": 3})
    model.fit(train, train, FitContext(seed=8))
    reference = model.classifier(8).fit(decorrelated.uniform_frame(train, model.inputs, "mass"), train["label"])
    expected = reference.predict_proba(decorrelated.uniform_frame(test, model.inputs, "mass"))[:, 1]
    np.testing.assert_array_equal(model.predict(test), expected)
    path = tmp_path / "uboost.json"
    model.save(path)
    content = json.loads(path.read_text())  # plain JSON: no pickle, nothing executable
    assert len(content["bdts"]) == 3 and all(len(bdt["trees"]) == 6 for bdt in content["bdts"])
    np.testing.assert_array_equal(DECORRELATED.load("uboost", path).predict(test), expected)
    # the uniforming rate is the strength: another rate is another model
    other = DECORRELATED.create("uboost", {"strength": 0.0, "n_estimators": 6, "efficiency_steps": 3})
    other.fit(train, train, FitContext(seed=8))
    assert np.max(np.abs(other.predict(test) - expected)) > 1e-3
    del reference
    gc.collect()


def test_the_bootstrapped_distance_correlation_is_disco_s_weighted_estimator():
    rng = np.random.default_rng(7)
    x = rng.normal(size=200)
    y = np.abs(x) + rng.normal(0, 0.5, 200)
    weights = decorrelation.bootstrap_weights(200, 4, seed=2)
    ours = decorrelation.weighted_distance_correlations(x, y, weights)
    tensor = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    expected = [float(distance_correlation(tensor(x), tensor(y), tensor(w))) for w in weights.T]
    np.testing.assert_allclose(ours, expected, rtol=1e-10)
    assert len(set(np.round(ours, 8))) == 5  # the resamplings differ


def test_the_paired_difference_resolves_what_the_separate_errors_do_not():
    rng = np.random.default_rng(8)
    mass = rng.exponential(70, 90) + 20  # the tiny run's 90 QCD test jets
    first = mass / 100 + rng.normal(0, 0.6, 90)
    second = mass / 100 + rng.normal(0, 0.9, 90)
    difference, error = decorrelation.distance_correlation_difference(first, second, mass, 2000, 100, seed=3)
    separate = [
        np.std(decorrelation.background_distance_correlations(s, mass, 2000, 100, seed=3)[1:]) for s in (first, second)
    ]
    assert difference > 0 and error < np.hypot(*separate)
    same, same_error = decorrelation.distance_correlation_difference(first, first, mass, 2000, 20, seed=3)
    assert same == 0 and same_error == 0


def test_excluding_every_input_is_one_config_error():
    jets = toy_jets(20)
    model = DECORRELATED.create("flatness_bdt", {"exclude_inputs": list(NAMES)})
    with pytest.raises(ConfigError, match="exclude_inputs"):
        model.fit(jets, jets, FitContext())


# The finished tiny run


def decorrelation_result(run: Path) -> dict:
    return json.loads((run / "results/toptag/decorrelation.json").read_text())


def test_the_run_writes_the_trade_off_and_the_metrics(finished_run):
    result = decorrelation_result(finished_run)
    assert set(result["decorrelated"]) == {"flatness_bdt", "uboost", "disco"}
    assert (finished_run / "results/toptag/plots/sculpting.png").stat().st_size > 10_000
    assert "1/JSD" in (finished_run / "results/toptag/decorrelation.md").read_text()
    metrics = json.loads((finished_run / "results/toptag/metrics.json").read_text())
    assert metrics["decorrelation"]["plain"].keys() == metrics["taggers"].keys()
    assert all("inverse_jsd" in entry and "distance_correlation" in entry for entry in metrics["taggers"].values())


def test_the_decorrelated_taggers_sculpt_less_than_the_plain_ones(finished_run):
    result = decorrelation_result(finished_run)
    plain = result["plain"]
    results = finished_run / "results/toptag"
    test = read_substructure_split(results / "features/test.root")
    background = test["label"] == 0
    mass = substructure_column(test, result["mass"])[background]
    # dCorr² of score and mass over all ~90 test QCD jets, each decorrelated tagger at its strongest strength
    # against every plain tagger: the difference on the same bootstrap resamplings is resolved by 3 deviations
    for method, scans in result["decorrelated"].items():
        strongest = int(np.argmax([m["strength"] for m in scans]))
        assert scans[strongest]["distance_correlation_error"] > 0
        scores = read_scores(results / f"decorrelation/scores/{method}_{strongest}.root", "test")[background]
        for name in plain:
            reference = read_scores(results / f"scores/{name}.root", "test")[background]
            difference, error = distance_correlation_difference(reference, scores, mass, 2000, 200, seed=0)
            assert difference > 3 * error, (method, name, difference, error)
    # Not 1/JSD: on the tiny leading-jet split (~90 test QCD jets) two or three of them pass a decorrelated tagger's
    # cut at eps_S = 0.5, so its 1/JSD is not resolved; dCorr² over all QCD jets is.


def test_the_decorrelated_models_of_the_run_reload_and_predict_their_scores(finished_run):
    results = finished_run / "results/toptag"
    test = read_substructure_split(results / "features/test.root")
    for method, suffix in (("flatness_bdt", ".json"), ("uboost", ".json"), ("disco", ".pt")):
        for model_path in sorted((results / "decorrelation/models").glob(f"{method}_[0-9]{suffix}")):
            scores = DECORRELATED.load(method, model_path).predict(test)
            stored = read_scores(results / "decorrelation/scores" / f"{model_path.stem}.root", "test")
            np.testing.assert_allclose(scores, stored, rtol=0, atol=1e-6)


def test_add_to_metrics_names_every_plain_tagger():
    entry = {"inverse_jsd": 2.0, "n_background_pass": 3, "distance_correlation": 0.4, "distance_correlation_error": 0.1}
    result = {"plain": {"bdt": entry}}
    metrics = add_to_metrics({"taggers": {"bdt": {"auc": 0.9}}}, result)
    assert metrics["taggers"]["bdt"] == {
        "auc": 0.9,
        "inverse_jsd": 2.0,
        "n_background_pass_r50": 3,
        "distance_correlation": 0.4,
        "distance_correlation_error": 0.1,
    }
    assert metrics["decorrelation"] == result
