"""Closure estimators (NNPDF4.0 closure tests, arXiv:2111.05787, section 6) and chi2 per dataset.

For closure fit l with kept replicas T_r (predictions), their mean E[T], the truth predictions f and the experimental
covariance C of the N estimator points (held-out datasets when the config holds some out, else the fitted ones):

* bias     B_l = (E[T] - f)^T C^-1 (E[T] - f) / N
* variance V_l = mean_r (T_r - E[T])^T C^-1 (T_r - E[T]) / N
* R_bv = sqrt(sum_l B_l / sum_l V_l): 1 when the ensemble spread matches the actual error of its mean.
* xi_1sigma = fraction of (fit, direction) pairs where |E[T] - f| < sigma, in the eigenbasis of C (sigma: the
  replicas' standard deviation along that direction): 0.68 for a faithful Gaussian uncertainty.

Their statistical uncertainty is estimated by a bootstrap over replicas and, when there are several fits, over fits
as well: only then does the ± include the fit-to-fit scatter (the level-1 shift is drawn once per fit, so one fit
cannot measure how much the estimators move with it; ``error_includes_fit_scatter`` says which). The per-fit values
and their standard deviation over fits are returned too.

NNPDF4.0 (arXiv:2109.02653, section 6) computes both estimators out of sample, on datasets left out of the closure
fits; :func:`ml4hep.pdf.evaluate.closure_estimators` gives them on the held-out datasets and, beside them, on the
fitted data (in sample). For a Gaussian ensemble whose spread is R_bv times too small, xi_1sigma is
erf(1 / (sqrt(2) R_bv)) (:func:`expected_xi`): 0.683 at R_bv = 1, the consistency check NNPDF quotes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _whiten(cov: np.ndarray) -> np.ndarray:
    chol = np.linalg.cholesky(cov)
    return np.linalg.inv(chol)


def fit_estimators(
    predictions: np.ndarray, truth: np.ndarray, cov: np.ndarray, bases: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, float]:
    """Bias, variance and the xi_1sigma count of one fit.

    Args:
        predictions: Replica predictions, shape (replicas, points).
        truth: Truth predictions.
        cov: Experimental covariance of the points.
        bases: (L^-1 with C = L L^T, eigenvectors of C), when already computed.

    Returns:
        ``bias``, ``variance`` (both per point) and ``inside`` (the fraction of eigen-directions where the truth is
        within one replica standard deviation of the mean).
    """
    whiten, vectors = bases if bases is not None else _bases(cov)
    mean = predictions.mean(axis=0)
    delta = whiten @ (mean - truth)
    spread = (predictions - mean) @ whiten.T
    n = len(truth)
    bias = float(delta @ delta / n)
    variance = float(np.mean(np.sum(spread**2, axis=1)) / n)
    rotated = (predictions - truth) @ vectors
    sigma = rotated.std(axis=0, ddof=1) if len(predictions) > 1 else np.zeros(n)
    inside = float(np.mean(np.abs(rotated.mean(axis=0)) < sigma))
    return {"bias": bias, "variance": variance, "inside": inside}


def _bases(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _whiten(cov), np.linalg.eigh(cov)[1]


def expected_xi(r_bv: float) -> float:
    """xi_1sigma of a Gaussian ensemble with bias/variance ratio ``r_bv``: erf(1 / (sqrt(2) R_bv)).

    Example:
        >>> round(expected_xi(1.0), 3)
        0.683
    """
    return math.erf(1.0 / (math.sqrt(2.0) * r_bv)) if r_bv > 0 else float("nan")


def estimators(
    fits: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], bootstrap: int = 200, seed: int = 0
) -> dict[str, float]:
    """R_bv and xi_1sigma over closure fits, with bootstrap uncertainties.

    Args:
        fits: Per fit (replica predictions, truth predictions, covariance) on the estimator points.
        bootstrap: Resamples (replicas within each fit, and fits when there are several).
        seed: Seed of the resampling.

    Returns:
        ``r_bv``, ``r_bv_err``, ``xi_1sigma``, ``xi_1sigma_err`` (bootstrap; with one fit over its replicas only),
        ``error_includes_fit_scatter`` (several fits), ``r_bv_per_fit``, ``xi_1sigma_per_fit`` and their standard
        deviations over fits ``r_bv_fit_std``, ``xi_1sigma_fit_std`` (NaN with one fit), ``xi_expected`` (from
        R_bv, :func:`expected_xi`), ``bias``, ``variance``, ``fits``, ``replicas`` (mean per fit), ``points``.
    """

    def combine(parts: list[dict[str, float]]) -> tuple[float, float]:
        variance = sum(p["variance"] for p in parts)
        r_bv = float(np.sqrt(sum(p["bias"] for p in parts) / variance)) if variance > 0 else float("nan")
        return r_bv, float(np.mean([p["inside"] for p in parts]))

    bases = [_bases(cov) for _, _, cov in fits]
    parts = [fit_estimators(*fit, bases=basis) for fit, basis in zip(fits, bases, strict=True)]
    r_bv, xi = combine(parts)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(bootstrap if all(len(f[0]) > 2 for f in fits) else 0):
        chosen = rng.integers(0, len(fits), len(fits)) if len(fits) > 1 else [0]
        resampled = []
        for k in chosen:
            predictions, truth, cov = fits[k]
            rows = rng.integers(0, len(predictions), len(predictions))
            if len(np.unique(rows)) < 2:  # no spread left: R_bv undefined for this resample
                break
            resampled.append(fit_estimators(predictions[rows], truth, cov, bases[k]))
        else:
            samples.append(combine(resampled))
    errors = np.std(samples, axis=0, ddof=1) if len(samples) > 1 else [float("nan")] * 2
    per_fit_r = [float(np.sqrt(p["bias"] / p["variance"])) if p["variance"] > 0 else float("nan") for p in parts]
    per_fit_xi = [p["inside"] for p in parts]
    several = len(fits) > 1
    return {
        "r_bv": r_bv,
        "r_bv_err": float(errors[0]),
        "xi_1sigma": xi,
        "xi_1sigma_err": float(errors[1]),
        "error_includes_fit_scatter": several,
        "r_bv_per_fit": per_fit_r,
        "xi_1sigma_per_fit": per_fit_xi,
        "r_bv_fit_std": float(np.std(per_fit_r, ddof=1)) if several else float("nan"),
        "xi_1sigma_fit_std": float(np.std(per_fit_xi, ddof=1)) if several else float("nan"),
        "xi_expected": expected_xi(r_bv),
        "bias": float(np.mean([p["bias"] for p in parts])),
        "variance": float(np.mean([p["variance"] for p in parts])),
        "fits": len(fits),
        "replicas": float(np.mean([len(f[0]) for f in fits])),
        "points": int(len(fits[0][1])),
    }
