"""PDF task: closure estimators (R_bv, xi_1sigma in and out of sample), the closure truths, the postfit rule."""

from __future__ import annotations

import numpy as np
import pytest

from ml4hep.pdf.closure import estimators, expected_xi, fit_estimators
from ml4hep.pdf.evaluate import closure_estimators, closure_note, write_closure_table
from ml4hep.pdf.fit import quadrature
from ml4hep.pdf.postfit import chi2_per_point, select
from ml4hep.pdf.pseudodata import FitInputs
from ml4hep.pdf.truth import truth_basis, truth_flavours


def _covariance(n, rng):
    a = rng.normal(size=(n, n)) * 0.1
    return a @ a.T + np.diag(rng.uniform(0.5, 1.0, n))


def test_faithful_ensembles_give_r_bv_one_and_xi_068():
    """Many fits whose mean scatters around the truth exactly as much as their replicas: R_bv ~ 1, xi ~ 0.68."""
    rng = np.random.default_rng(0)
    n, replicas = 40, 200
    cov = _covariance(n, rng)
    chol = np.linalg.cholesky(cov)
    truth = rng.normal(size=n)
    fits = []
    for _ in range(30):
        centre = truth + chol @ rng.normal(size=n)  # the fit's error, distributed like the data noise
        predictions = centre + rng.normal(size=(replicas, n)) @ chol.T  # spread with the same covariance
        fits.append((predictions, truth, cov))
    result = estimators(fits, bootstrap=20)
    assert abs(result["r_bv"] - 1) < 0.1
    assert abs(result["xi_1sigma"] - 0.68) < 0.05
    assert result["r_bv_err"] > 0


def test_overconfident_ensembles_give_r_bv_above_one():
    rng = np.random.default_rng(1)
    n = 30
    cov = _covariance(n, rng)
    chol = np.linalg.cholesky(cov)
    truth = np.zeros(n)
    fits = [
        (truth + chol @ rng.normal(size=n) + 0.3 * rng.normal(size=(50, n)) @ chol.T, truth, cov) for _ in range(20)
    ]
    result = estimators(fits, bootstrap=0)
    assert 2.5 < result["r_bv"] < 4.5  # spread 0.3 of the true error: R_bv ~ 1 / 0.3
    assert result["xi_1sigma"] < 0.4


def test_bias_and_variance_definitions():
    cov = np.diag([4.0, 1.0])
    truth = np.array([0.0, 0.0])
    predictions = np.array([[2.0, 1.0], [4.0, 1.0]])  # mean (3, 1)
    single = fit_estimators(predictions, truth, cov)
    assert single["bias"] == np.float64((9 / 4 + 1) / 2)
    assert single["variance"] == np.float64((1 / 4) / 2)
    assert chi2_per_point(np.array([3.0, 1.0]), truth, cov) == single["bias"]


def test_postfit_rejects_outliers_and_failed_replicas():
    chi2 = np.array([1.0, 1.1, 0.9, 1.05, 0.95, 5.0, 1.02, np.nan])
    ok = np.array([True, True, True, True, False, True, True, True])
    kept = select(chi2, ok, 4.0)
    assert kept.tolist() == [True, True, True, True, False, False, True, False]


def test_postfit_keeps_good_replicas_when_the_replicas_agree_closely():
    """A spread far below the statistical scatter sqrt(2/N) of chi2/N does not make a 4-MAD cut reject good fits."""
    chi2 = np.array([1.030, 1.031, 1.029, 1.032, 1.030, 1.028, 1.057, 1.60])
    ok = np.ones(len(chi2), bool)
    assert not select(chi2, ok, 4.0)[6]  # 1.057 is 5 MADs above the median, without the floor
    kept = select(chi2, ok, 4.0, points=861)  # sqrt(2/861) = 0.048: the cut is at 1.22
    assert kept.tolist() == [True] * 7 + [False]


def _two_dataset_inputs(truth, cov, n_fitted):
    """FitInputs of a toy: the first n_fitted points fitted (dataset FIT), the rest held out (dataset HELD)."""
    n = len(truth)
    return FitInputs(
        datasets=["FIT", "HELD"],
        fitted=np.array([True, False]),
        point_dataset=(np.arange(n) >= n_fitted).astype(int),
        x=np.zeros(n),
        q2=np.zeros(n),
        data=truth,
        truth=truth,
        cov_sampling=cov,
        cov_fit=cov,
        fk=np.zeros((n, 6, 1)),
        positivity_fk=np.zeros((1, 6, 1)),
        xgrid=np.ones(1),
        level=2,
    )


def _toy_ensemble(held_out_spread, fits=30, replicas=100, n=40, seed=4):
    """Closure fits whose mean errs like the data noise; replicas spread by 1 (fitted) / held_out_spread (held out)."""
    rng = np.random.default_rng(seed)
    cov = _covariance(n, rng)
    chol = np.linalg.cholesky(cov)
    truth = rng.normal(size=n)
    scale = np.where(np.arange(n) < n // 2, 1.0, held_out_spread)
    predictions = []
    for _ in range(fits):
        centre = truth + chol @ rng.normal(size=n)
        predictions.append(centre + scale * (rng.normal(size=(replicas, n)) @ chol.T))
    inputs = [_two_dataset_inputs(truth, cov, n // 2) for _ in range(fits)]
    ensemble = {"predictions": np.concatenate(predictions), "fit": np.repeat(np.arange(fits), replicas)}
    return inputs, ensemble


def test_out_of_sample_estimators_of_a_faithful_gaussian_ensemble():
    """The mean errs like the data noise, the replicas spread as much: R_bv = 1 +- 0.1, xi = 0.68 +- 0.05 in and out."""
    inputs, ensemble = _toy_ensemble(held_out_spread=1.0)
    closure = closure_estimators(inputs, ensemble, seed=0, bootstrap=20)
    for key in ("in_sample", "out_of_sample"):
        part = closure[key]
        assert part["points"] == 20 and part["fits"] == 30
        assert abs(part["r_bv"] - 1) < 0.1, (key, part["r_bv"])
        assert abs(part["xi_1sigma"] - 0.68) < 0.05, (key, part["xi_1sigma"])
        assert part["error_includes_fit_scatter"] and np.isfinite(part["r_bv_fit_std"])
    assert closure["out_of_sample"]["datasets"] == ["HELD"] and closure["in_sample"]["datasets"] == ["FIT"]
    assert closure["on"] == "held-out data" and closure["r_bv"] == closure["out_of_sample"]["r_bv"]


def test_out_of_sample_estimators_see_only_the_held_out_points():
    """Replicas too narrow (0.3 of the true error) on the held-out points alone: R_bv ~ 3.3 out of sample, ~1 in it."""
    inputs, ensemble = _toy_ensemble(held_out_spread=0.3)
    closure = closure_estimators(inputs, ensemble, seed=0, bootstrap=20)
    assert abs(closure["in_sample"]["r_bv"] - 1) < 0.1
    assert 2.8 < closure["out_of_sample"]["r_bv"] < 3.9
    assert closure["out_of_sample"]["xi_1sigma"] < 0.35 < closure["in_sample"]["xi_1sigma"]
    assert expected_xi(closure["out_of_sample"]["r_bv"]) == pytest.approx(
        closure["out_of_sample"]["xi_1sigma"], abs=0.07
    )


def test_one_fit_table_says_the_error_leaves_out_the_fit_scatter(tmp_path):
    inputs, ensemble = _toy_ensemble(held_out_spread=1.0, fits=1, replicas=50)
    closure = closure_estimators(inputs, ensemble, seed=0, bootstrap=20)
    assert not closure["out_of_sample"]["error_includes_fit_scatter"]
    assert np.isnan(closure["out_of_sample"]["r_bv_fit_std"]) and closure["out_of_sample"]["r_bv_err"] > 0
    outputs = {f"closure_{ext}": str(tmp_path / f"closure.{ext}") for ext in ("csv", "md", "tex")}
    write_closure_table(closure, 2, outputs)
    text = (tmp_path / "closure.md").read_text()
    assert "leaves out the fit-to-fit scatter" in text
    assert "in sample (fitted data)" in text and "out of sample (held-out data)" in text
    several = closure_estimators(*_toy_ensemble(held_out_spread=1.0, fits=4, replicas=50), seed=0, bootstrap=5)
    assert "includes the fit-to-fit scatter" in closure_note(several["out_of_sample"], 2)


def test_expected_xi_is_the_gaussian_coverage():
    assert expected_xi(1.0) == pytest.approx(0.6827, abs=1e-4)
    assert expected_xi(0.5) == pytest.approx(0.9545, abs=1e-4)  # an ensemble twice too wide covers 2 sigma


def test_reshaped_truth_obeys_the_sum_rules_and_differs_from_les_houches():
    x, w = quadrature(20000, 10000, x_min=1e-12, x_mid=0.2)
    flavours, basis = truth_flavours(x, "reshaped"), truth_basis(x, "reshaped")
    assert (basis["g"] + basis["sigma"]) @ w == pytest.approx(1.0, abs=1e-6)
    assert (flavours["uv"] / x) @ w == pytest.approx(2.0, abs=1e-5)
    assert (flavours["dv"] / x) @ w == pytest.approx(1.0, abs=1e-5)
    assert all((f >= 0).all() for f in flavours.values())
    les_houches = truth_flavours(x, "les_houches")
    inside = (x > 1e-4) & (x < 0.7)
    for name in ("g", "uv", "dv", "dbar"):
        assert np.abs(flavours[name][inside] / les_houches[name][inside] - 1).max() > 0.2, name
    with pytest.raises(ValueError, match="unknown truth"):
        truth_flavours(x, "nnpdf40")
