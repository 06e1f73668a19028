"""The "gold": the joint likelihood ratio and the joint score of every event, continuous in θ.

Pythia gives each nominal event its weight w_v = r(x, z | θ_v, θ0) at a few variation points θ_v (and w = 1 at
θ0 = 1). Per event, ln w is fitted by least squares as a polynomial in ln θ without a constant term (so that
r(θ0) = 1 exactly)::

    ln r(x, z | θ, θ0) = Σ_k c_k (ln θ)^k,   k = 1 .. degree

which for a μ_R variation is close to exact: each emission's weight is a ratio of α_s(θ² p_T²) / α_s(p_T²) (times a
Sudakov factor), smooth in ln θ. The joint score is its derivative, t(x, z | θ) = Σ_k k c_k (ln θ)^(k-1) / θ.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ml4hep.errors import ConfigError

WEIGHT_FLOOR = 1e-12
"""Smallest weight taken into the log (a shower history impossible at θ_v would otherwise give -inf)."""


def design_matrix(thetas: Sequence[float] | np.ndarray, degree: int) -> np.ndarray:
    """The (points, degree) matrix of (ln θ)^k, k = 1 .. degree."""
    log_theta = np.log(np.asarray(thetas, dtype=np.float64))
    return log_theta[..., None] ** np.arange(1, int(degree) + 1)


def fit_coefficients(weights: np.ndarray, thetas: Sequence[float], degree: int) -> np.ndarray:
    """Per-event polynomial coefficients c_k of ln r in ln θ.

    Args:
        weights: (events, points) weights at ``thetas``.
        thetas: The variation points (none of them 1).
        degree: Degree of the polynomial (at most the number of points).

    Returns:
        (events, degree) coefficients.

    Raises:
        ConfigError: The degree exceeds the number of variation points.

    Example:
        >>> thetas = [0.5, 2.0]
        >>> weights = np.array([[0.5**1.5, 2.0**1.5]])  # ln r = 1.5 ln θ exactly
        >>> fit_coefficients(weights, thetas, 1).round(6).tolist()
        [[1.5]]
    """
    if not 1 <= int(degree) <= len(thetas):
        raise ConfigError(f"config key 'sbi.polynomial_degree': {degree} needs 1..{len(thetas)} variation points")
    design = design_matrix(thetas, degree)
    log_weights = np.log(np.clip(np.asarray(weights, dtype=np.float64), WEIGHT_FLOOR, None))
    return log_weights @ np.linalg.pinv(design).T


def log_ratio(coefficients: np.ndarray, theta: float | np.ndarray) -> np.ndarray:
    """The joint log-ratio ln r(x, z | θ, θ0) per event (``theta`` one value, or one per event)."""
    powers = design_matrix(np.broadcast_to(theta, coefficients.shape[:1]), coefficients.shape[1])
    return np.sum(coefficients * powers, axis=1)


def joint_score(coefficients: np.ndarray, theta: float | np.ndarray) -> np.ndarray:
    """t(x, z | θ) = d ln r / dθ per event (``theta`` one value, or one per event)."""
    theta = np.broadcast_to(np.asarray(theta, dtype=np.float64), coefficients.shape[:1])
    degree = coefficients.shape[1]
    lower = design_matrix(theta, degree - 1) if degree > 1 else np.zeros((len(theta), 0))
    powers = np.concatenate([np.ones((len(theta), 1)), lower], axis=1) * np.arange(1, degree + 1)
    return np.sum(coefficients * powers, axis=1) / theta


def fit_residual(weights: np.ndarray, thetas: Sequence[float], coefficients: np.ndarray) -> float:
    """RMS of ln w − fitted ln r over all events and points (how well the polynomial describes the weights)."""
    log_weights = np.log(np.clip(np.asarray(weights, dtype=np.float64), WEIGHT_FLOOR, None))
    fitted = coefficients @ design_matrix(thetas, coefficients.shape[1]).T
    return float(np.sqrt(np.mean((log_weights - fitted) ** 2)))
