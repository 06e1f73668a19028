"""Closure estimators (NNPDF4.0 closure tests, arXiv:2111.05787, section 6) and chi2 per dataset.

For closure fit l with kept replicas T_r (predictions), their mean E[T], the truth predictions f and the experimental
covariance C of the N estimator points (held-out datasets when the config holds some out, else the fitted ones):

* bias     B_l = (E[T] - f)^T C^-1 (E[T] - f) / N
* variance V_l = mean_r (T_r - E[T])^T C^-1 (T_r - E[T]) / N
* R_bv = sqrt(sum_l B_l / sum_l V_l): 1 when the ensemble spread matches the actual error of its mean.
* xi_1sigma = fraction of (fit, direction) pairs where |E[T] - f| < sigma, in the eigenbasis of C (sigma: the
  replicas' standard deviation along that direction): 0.68 for a faithful Gaussian uncertainty.

Their statistical uncertainty is estimated by a bootstrap over replicas (and over fits when there are several).
"""

from __future__ import annotations

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


def estimators(
    fits: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], bootstrap: int = 200, seed: int = 0
) -> dict[str, float]:
    """R_bv and xi_1sigma over closure fits, with bootstrap uncertainties.

    Args:
        fits: Per fit (replica predictions, truth predictions, covariance) on the estimator points.
        bootstrap: Resamples (replicas within each fit, and fits when there are several).
        seed: Seed of the resampling.

    Returns:
        ``r_bv``, ``r_bv_err``, ``xi_1sigma``, ``xi_1sigma_err``, ``bias``, ``variance``, ``fits``, ``points``.
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
    return {
        "r_bv": r_bv,
        "r_bv_err": float(errors[0]),
        "xi_1sigma": xi,
        "xi_1sigma_err": float(errors[1]),
        "bias": float(np.mean([p["bias"] for p in parts])),
        "variance": float(np.mean([p["variance"] for p in parts])),
        "fits": len(fits),
        "points": int(len(fits[0][1])),
    }
