"""The sbi task: the gold parameterisation, the learned ratios on a toy with an analytic ratio, the shower weights
against a directly generated sample, the intervals' coverage, and the task's outputs in the finished run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ml4hep.models import FitContext
from ml4hep.sbi.estimators import SBI_ESTIMATORS, gold_pairs
from ml4hep.sbi.gold import fit_coefficients, joint_score, log_ratio
from ml4hep.sbi.inference import interval, log_ratio_table, summarise, theta_grid

THETA_RANGE = (0.5, 2.0)


def toy_events(n: int, seed: int) -> dict[str, np.ndarray]:
    """A simulator with a latent z and an analytic ratio.

    z ~ N(ln θ, 1), x = z + N(0, 1): the joint ratio is r(x, z | θ, 1) = exp(z ln θ − ln²θ / 2) (coefficients
    z and −1/2 of the gold polynomial) and the true one r(x | θ, 1) = exp((x ln θ − ln²θ / 2) / 2).
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    x = z + rng.normal(size=n)
    return {"X": x[:, None], "coefficients": np.stack([z, np.full(n, -0.5)], axis=1)}


def true_log_ratio(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    return (x * np.log(theta) - np.log(theta) ** 2 / 2) / 2


def test_gold_polynomial_recovers_weights_and_score():
    thetas = [0.5, 0.707, 1.414, 2.0]
    a, b = np.array([0.3, -1.2]), np.array([0.1, 0.4])
    weights = np.exp(a[:, None] * np.log(thetas) + b[:, None] * np.log(thetas) ** 2)
    coefficients = fit_coefficients(weights, thetas, 2)
    assert np.allclose(coefficients, np.stack([a, b], axis=1))
    assert np.allclose(log_ratio(coefficients, 1.0), 0.0)  # r(θ0, θ0) = 1
    step = 1e-6
    numeric = (log_ratio(coefficients, 1.3 + step) - log_ratio(coefficients, 1.3 - step)) / (2 * step)
    assert np.allclose(joint_score(coefficients, 1.3), numeric, rtol=1e-6)


def test_gold_pairs_reweight_theta0_events_to_theta():
    """The θ half of the pairs, weighted by the joint ratio, has the mean of events drawn at θ (E[x] = ln θ)."""
    pairs = gold_pairs(toy_events(40000, 1), THETA_RANGE, seed=2)
    theta_half = pairs["y"] == 1
    close_to_2 = theta_half & (pairs["theta"] > 1.8)
    mean = np.average(pairs["X"][close_to_2, 0], weights=pairs["weight"][close_to_2])
    expected = np.mean(np.log(pairs["theta"][close_to_2]))
    assert mean == pytest.approx(expected, abs=0.08)
    assert np.average(pairs["X"][~theta_half, 0]) == pytest.approx(0.0, abs=0.03)


def test_learned_ratios_recover_the_toy_ratio_and_gold_helps():
    """Every estimator learns ln r(x | θ, θ0) of the toy; the gold-trained ROLR/RASCAL match or beat CARL."""
    train, val = toy_events(2000, 3), toy_events(1000, 4)
    rng = np.random.default_rng(5)
    theta = np.exp(rng.uniform(np.log(0.5), np.log(2.0), 2000))
    x = rng.normal(size=2000) * np.sqrt(2) + np.log(theta)  # events of p(x | θ)
    truth = true_log_ratio(x, theta)
    # ~1 CPU-s per estimator; on three seeds CARL's RMS error was 0.033-0.063, the better of ROLR/RASCAL's 0.020-0.034
    hyper = {"epochs": 20, "batch_size": 128, "patience": 3, "learning_rate": 0.005, "hidden": [16, 16]}
    errors = {}
    for name in ("carl", "rolr", "rascal", "alice"):
        model = SBI_ESTIMATORS.create(name, {**hyper, "theta_range": list(THETA_RANGE)})
        model.fit(train, val, FitContext(seed=6))
        errors[name] = float(np.sqrt(np.mean((model.predict({"X": x[:, None], "theta": theta}) - truth) ** 2)))
    scale = float(np.sqrt(np.mean(truth**2)))  # the error of ln r̂ = 0
    assert all(error < 0.25 * scale for error in errors.values()), (errors, scale)
    assert min(errors["rolr"], errors["rascal"]) <= 1.1 * errors["carl"], errors


def true_score(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """∂ ln r(x | θ, 1) / ∂θ of the toy."""
    return (x - np.log(theta)) / (2 * theta)


def test_bce_mse_loss_adds_the_weighted_squared_error_to_the_cross_entropy():
    import torch

    from ml4hep.training import _weighted_loss

    output = torch.tensor([[0.3, 1.0], [-0.2, 2.0]])
    target = torch.tensor([[0.7, 0.5], [0.1, 2.5]])
    weight = torch.tensor([[1.0, 2.0], [1.0, 0.0]])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(output[:, 0], target[:, 0], reduction="none")
    expected = (bce.sum() + 2.0 * (1.0 - 0.5) ** 2) / weight.sum()
    assert float(_weighted_loss("bce_mse", output, target, weight)) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("name", ["cascal", "alices"])
def test_score_augmented_estimators_learn_the_toy_ratio_and_score(name):
    """CASCAL and ALICES (cross-entropy + α × the score's squared error) recover ln r(x | θ, θ0) and its score."""
    train, val = toy_events(2000, 3), toy_events(1000, 4)
    rng = np.random.default_rng(5)
    theta = np.exp(rng.uniform(np.log(0.5), np.log(2.0), 2000))
    x = rng.normal(size=2000) * np.sqrt(2) + np.log(theta)  # events of p(x | θ)
    hyper = {"epochs": 20, "batch_size": 128, "patience": 3, "learning_rate": 0.005, "hidden": [16, 16]}
    model = SBI_ESTIMATORS.create(name, {**hyper, "alpha": 1.0, "theta_range": list(THETA_RANGE)})
    assert model.loss == "bce_mse"
    model.fit(train, val, FitContext(seed=6))
    truth, score = true_log_ratio(x, theta), true_score(x, theta)
    step = 1e-3  # the learned score by a central difference of the prediction (the network's own is autograd)
    up = model.predict({"X": x[:, None], "theta": theta * (1 + step)})
    down = model.predict({"X": x[:, None], "theta": theta * (1 - step)})
    learned_score = (up - down) / (2 * step * theta)
    ratio_error = np.sqrt(np.mean((model.predict({"X": x[:, None], "theta": theta}) - truth) ** 2))
    score_error = np.sqrt(np.mean((learned_score - score) ** 2))
    # on three seeds: ratio errors 0.019-0.036 of a scale 0.30, score errors 0.050-0.13 of a scale 0.83
    assert ratio_error < 0.2 * np.sqrt(np.mean(truth**2)), ratio_error
    assert score_error < 0.25 * np.sqrt(np.mean(score**2)), score_error


def test_histogram_estimator_is_the_binned_ratio(tmp_path):
    train = toy_events(20000, 7)
    model = SBI_ESTIMATORS.create("histogram", {"observable": "tau", "bins": 8, "theta_range": list(THETA_RANGE)})
    model.fit(train, train, FitContext())
    model.save(tmp_path / "histogram.npz")
    loaded = SBI_ESTIMATORS.load("histogram", tmp_path / "histogram.npz")
    x = np.array([-1.0, 0.0, 1.0])
    predicted = loaded.predict({"X": x[:, None], "theta": np.full(3, 1.5)})
    assert np.allclose(predicted, model.predict({"X": x[:, None], "theta": np.full(3, 1.5)}))
    # a binned ratio is flatter than the true one but has its sign and ordering
    assert np.all(np.diff(predicted) > 0)
    assert np.sign(predicted[[0, 2]]).tolist() == np.sign(true_log_ratio(x[[0, 2]], 1.5)).tolist()


def test_network_estimator_saves_and_loads_with_its_calibration(tmp_path):
    train, val = toy_events(600, 8), toy_events(300, 9)
    hyper = {"epochs": 2, "batch_size": 128, "hidden": [8], "theta_range": list(THETA_RANGE)}
    model = SBI_ESTIMATORS.create("rascal", hyper)
    info = model.fit(train, val, FitContext(seed=1))
    assert info["max_abs_calibration"] >= 0
    model.save(tmp_path / "rascal.pt")
    loaded = SBI_ESTIMATORS.load("rascal", tmp_path / "rascal.pt")
    split = {"X": val["X"], "theta": np.full(len(val["X"]), 1.7)}
    assert np.allclose(loaded.predict(split), model.predict(split))
    # normalised: the mean of r̂ over the nominal events it was calibrated on is 1
    both = np.concatenate([train["X"], val["X"]])
    r_hat = np.exp(model.predict({"X": both, "theta": np.full(len(both), 1.7)}))
    assert r_hat.mean() == pytest.approx(1.0, abs=0.01)


class ExactGaussian:
    """ln r(x | θ, 1) of x ~ N(ln θ, 1), as a model with ``predict``."""

    def predict(self, split):
        log_theta = np.log(split["theta"])
        return split["X"][:, 0] * log_theta - log_theta**2 / 2


def test_intervals_of_the_exact_ratio_cover():
    theta_true, n_events = 1.3, 100
    x = np.random.default_rng(10).normal(np.log(theta_true), 1.0, size=20000)[:, None]
    grid = theta_grid([0.5, 2.0], 121)
    result = summarise(grid, log_ratio_table(ExactGaussian(), x, grid), theta_true, n_events, 400, seed=11)
    # Gaussian in ln θ with σ = 1/sqrt(N): the interval is ln θ_true ± 1/sqrt(N) (± 1.96/sqrt(N) at 95%)
    assert np.log(result["low68"]) == pytest.approx(np.log(theta_true) - 0.1, abs=0.02)
    assert np.log(result["high68"]) == pytest.approx(np.log(theta_true) + 0.1, abs=0.02)
    assert np.log(result["high95"] / result["low95"]) == pytest.approx(2 * 1.96 * 0.1, abs=0.03)
    assert result["coverage68"] == pytest.approx(0.68, abs=0.07)
    assert result["coverage95"] == pytest.approx(0.95, abs=0.04)
    assert result["theta_hat_mean"] == pytest.approx(theta_true, rel=0.03)


def binned_toy_ratio(edges: np.ndarray, theta: float) -> np.ndarray:
    """ln of the exact binned ratio of the toy: x ~ N(ln θ, 2) integrated over each bin, at θ and at θ0 = 1."""
    from math import erf

    def cdf(mean: float) -> np.ndarray:
        return np.array([0.5 * (1 + erf((e - mean) / 2.0)) if np.isfinite(e) else float(e > 0) for e in edges])

    return np.log(np.diff(cdf(np.log(theta))) / np.diff(cdf(0.0)))


def test_truth_reference_is_the_binned_likelihood_ratio(tmp_path):
    """Filled from a large separate sample, the reference is the exact ratio of the binned observable; its
    intervals are those of the exact unbinned ratio, a little wider (binning loses information)."""
    from ml4hep.sbi.truth import BinnedTruth

    reference = toy_events(100000, 12)
    grid = theta_grid(THETA_RANGE, 41)
    truth = BinnedTruth.fill(reference["X"], reference["coefficients"], ["tau"], 30, grid)
    truth.save(tmp_path / "truth.npz")
    loaded = BinnedTruth.load(tmp_path / "truth.npz")
    for k in (5, 35):
        assert np.allclose(loaded.table[k], binned_toy_ratio(truth.edges[0], grid[k]), atol=0.03), k
    assert loaded.summary()["filled_bins"] == 30
    # the inference on events drawn at θ_true: the truth's expected interval against the exact ratio's
    theta_true, n_events = 1.3, 100
    x = np.random.default_rng(13).normal(np.log(theta_true), np.sqrt(2.0), size=10000)[:, None]
    exact = summarise(grid, log_ratio_table(ExactToy(), x, grid), theta_true, n_events, 200, seed=14)
    binned = summarise(grid, log_ratio_table(loaded, x, grid), theta_true, n_events, 200, seed=14)
    assert binned["low68"] < theta_true < binned["high68"]
    assert exact["width68"] <= binned["width68"] < 1.1 * exact["width68"], (exact["width68"], binned["width68"])


class ExactToy:
    """ln r(x | θ, 1) of the toy (x ~ N(ln θ, 2)), as a model with ``predict``."""

    def predict(self, split):
        return true_log_ratio(split["X"][:, 0], np.asarray(split["theta"]))


def test_interval_stops_at_the_grid_ends():
    grid = np.geomspace(0.5, 2.0, 11)
    assert interval(grid, np.zeros(11), 1.0) == (0.5, 2.0)


def test_shower_weights_reproduce_a_directly_generated_sample(tmp_path):
    """Nominal events reweighted to θ = 0.5 match events showered at θ = 0.5 (renormMultFac 0.25); unweighted ones do
    not. θ = 0.5 is where Pythia's 0.5 GeV cutoff broke the agreement (it raised the direct shower's cutoff, and the
    weights' α_s variation was capped); with the common 1 GeV cutoff the reweighted p-value was 0.06-0.93 on four
    samples of this size, the unweighted one below 1e-15."""
    from ml4hep.generate.sbi import generate_sbi_shard
    from ml4hep.sbi.dataset import chi2_compare, read_shards
    from ml4hep.sbi.observables import OBSERVABLES

    thetas = [0.5, 0.707, 1.414, 2.0]
    generate_sbi_shard(tmp_path / "nominal.root", events=1500, seed=21, energy_gev=91.2, thetas=thetas)
    generate_sbi_shard(tmp_path / "direct.root", events=1500, seed=22, energy_gev=91.2, thetas=thetas, theta=0.5)
    nominal = read_shards([tmp_path / "nominal.root"], weights=True)
    direct = read_shards([tmp_path / "direct.root"], weights=False)
    assert float(direct["theta"]) == 0.5
    assert nominal["weights"].shape == (1500, 4)
    ratio = np.exp(log_ratio(fit_coefficients(nominal["weights"], thetas, 4), 0.5))
    column = OBSERVABLES.index("multiplicity")
    reweighted = chi2_compare(direct["X"][:, column], nominal["X"][:, column], ratio, 10)
    unweighted = chi2_compare(direct["X"][:, column], nominal["X"][:, column], np.ones(len(ratio)), 10)
    assert reweighted["p_value"] > 1e-3, reweighted
    assert unweighted["p_value"] < 1e-3, unweighted


def test_sbi_outputs_in_finished_run(finished_run):
    results = Path(finished_run) / "results"
    metrics = json.loads((results / "sbi" / "metrics.json").read_text())
    assert set(metrics["estimators"]) >= {"truth", "histogram", "carl", "rascal"}
    assert metrics["display_names"]["rascal"] == "RASCAL"
    # the truth reference comes from its own sample and sits in the table and the value-of-gold ratios
    assert metrics["reference"]["events"] > 0
    assert metrics["width_gain"]["truth"]["truth"] == pytest.approx(1.0)
    for name, m in metrics["estimators"].items():
        assert 0 < m["width68"] < m["width95"], name
        assert 0 <= m["coverage68"] <= m["coverage95"] <= 1, name
    # the shower weights describe the direct sample (χ²/ndf of ~1 expected; 3 would be a clear failure)
    assert metrics["validation"]["chi2_ndf"] < 3
    with (results / "sbi" / "intervals.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {row["estimator"] for row in rows} == set(metrics["estimators"])
    assert all(float(row["low68"]) <= float(row["high68"]) for row in rows)
    assert "RASCAL" in (results / "sbi" / "intervals.html").read_text()
    assert (results / "sbi" / "plots" / "llr.png").stat().st_size > 0
    assert (results / "sbi" / "plots" / "validation.png").stat().st_size > 0
    assert "Simulation-based inference" in (results / "summary" / "summary.md").read_text()


def test_doctests_of_the_sbi_modules():
    import doctest

    from ml4hep.generate import sbi as generate_sbi
    from ml4hep.sbi import dataset, estimators, gold, inference, summary, truth

    for module in (generate_sbi, dataset, estimators, gold, inference, summary, truth):
        assert doctest.testmod(module).failed == 0, module.__name__
