"""PDF task: closure estimators (R_bv, xi_1sigma) and the postfit selection rule."""

from __future__ import annotations

import numpy as np

from ml4hep.pdf.closure import estimators, fit_estimators
from ml4hep.pdf.postfit import chi2_per_point, select


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
