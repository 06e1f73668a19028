"""Inference on θ with a learned ratio: −2 ln r curves, 68%/95% intervals and their coverage.

For N events x_1..x_N, the log-likelihood ratio against θ0 is Σ_i ln r̂(x_i | θ, θ0), and the profile statistic
is q(θ) = −2 Σ_i ln r̂(x_i | θ, θ0) − min_θ' (…). The *expected* curve is the one of the Asimov-like average,
N times the mean of −2 ln r̂ over all events of the pseudo-data sample (the mean of the pseudo-experiments' curves
before the minimum is subtracted); its 68% and 95% intervals are where it lies below 1 and 3.84 (Wilks, one
parameter). Pseudo-experiments of N events drawn (with replacement) from the sample generated at θ_true give the
spread of the best-fit θ̂ and the coverage: the fraction of pseudo-experiments whose interval contains θ_true.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

LEVELS = {level: NormalDist().inv_cdf(0.5 + cl / 2) ** 2 for level, cl in (("68", 0.682689), ("95", 0.95))}
"""Δ(−2 ln r) thresholds of the intervals (one parameter: the squared two-sided Gaussian quantiles, 1 and 3.84)."""


def log_ratio_table(model: Any, x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The estimate ln r̂(x_i | θ_g, θ0) of every event at every grid point, (events, grid), in one ``predict``."""
    n, g = len(x), len(grid)
    split = {"X": np.repeat(np.asarray(x), g, axis=0), "theta": np.tile(np.asarray(grid, dtype=np.float64), n)}
    return np.asarray(model.predict(split), dtype=np.float64).reshape(n, g)


def profile(curve: np.ndarray) -> np.ndarray:
    """The curve minus its minimum (last axis)."""
    return curve - curve.min(axis=-1, keepdims=True)


def expected_curve(table: np.ndarray, n_events: int) -> np.ndarray:
    """Δ(−2 ln r)(θ) of the Asimov-like average of ``n_events`` events: −2 N × the mean over the sample."""
    return profile(-2.0 * n_events * table.mean(axis=0))


def interval(grid: np.ndarray, delta: np.ndarray, threshold: float) -> tuple[float, float]:
    """The connected range around the minimum where ``delta`` ≤ ``threshold``, crossings interpolated in ln θ.

    An interval that reaches the end of the grid ends there (the grid is the prior range of θ).

    Example:
        >>> grid = np.exp(np.linspace(-1, 1, 201))
        >>> low, high = interval(grid, (np.log(grid) / 0.1) ** 2, 1.0)
        >>> round(float(np.log(low)), 3), round(float(np.log(high)), 3)
        (-0.1, 0.1)
    """
    log_grid = np.log(grid)
    best = int(np.argmin(delta))
    below = delta <= threshold
    low_index, high_index = best, best
    while low_index > 0 and below[low_index - 1]:
        low_index -= 1
    while high_index < len(grid) - 1 and below[high_index + 1]:
        high_index += 1

    def crossing(inside: int, outside: int) -> float:
        fraction = (threshold - delta[inside]) / (delta[outside] - delta[inside])
        return float(np.exp(log_grid[inside] + fraction * (log_grid[outside] - log_grid[inside])))

    low = crossing(low_index, low_index - 1) if low_index > 0 else float(grid[0])
    high = crossing(high_index, high_index + 1) if high_index < len(grid) - 1 else float(grid[-1])
    return low, high


def best_fit(grid: np.ndarray, curves: np.ndarray) -> np.ndarray:
    """θ̂ of each curve (rows): the grid minimum refined by a parabola in ln θ through it and its neighbours."""
    log_grid = np.log(grid)
    best = np.clip(np.argmin(curves, axis=1), 1, len(grid) - 2)
    rows = np.arange(len(curves))
    left, centre, right = curves[rows, best - 1], curves[rows, best], curves[rows, best + 1]
    curvature = left - 2 * centre + right
    step = log_grid[best + 1] - log_grid[best]
    shift = np.where(curvature > 0, 0.5 * (left - right) / np.where(curvature > 0, curvature, 1.0), 0.0)
    return np.exp(log_grid[best] + np.clip(shift, -1, 1) * step)


def pseudo_experiments(table: np.ndarray, n_events: int, n_experiments: int, seed: int) -> np.ndarray:
    """Δ(−2 ln r) curves of ``n_experiments`` pseudo-experiments of ``n_events`` events drawn from the sample."""
    rng = np.random.default_rng(seed)
    curves = np.empty((int(n_experiments), table.shape[1]))
    for k in range(int(n_experiments)):
        rows = rng.integers(0, len(table), size=int(n_events))
        curves[k] = -2.0 * table[rows].sum(axis=0)
    return profile(curves)


def summarise(
    grid: np.ndarray, table: np.ndarray, theta_true: float, n_events: int, n_experiments: int, seed: int
) -> dict[str, Any]:
    """Expected curve, intervals, best-fit spread and coverage of one estimator on one pseudo-data sample.

    Args:
        grid: θ grid (increasing).
        table: :func:`log_ratio_table` of the pseudo-data sample.
        theta_true: The θ the sample was generated at.
        n_events: Events per pseudo-experiment.
        n_experiments: Number of pseudo-experiments.
        seed: Seed of their draws.

    Returns:
        ``expected`` (the curve), ``low68``/``high68``/``width68`` and the same for 95 (expected intervals),
        ``theta_hat_mean``/``theta_hat_std`` and ``coverage68``/``coverage95`` (fractions of pseudo-experiments
        with Δ(−2 ln r)(θ_true) below the threshold).
    """
    expected = expected_curve(table, n_events)
    curves = pseudo_experiments(table, n_events, n_experiments, seed)
    log_grid = np.log(grid)
    at_truth = np.array([np.interp(np.log(theta_true), log_grid, curve) for curve in curves])
    theta_hat = best_fit(grid, curves)
    out: dict[str, Any] = {"theta_true": float(theta_true), "expected": expected.tolist()}
    for level, threshold in LEVELS.items():
        low, high = interval(grid, expected, threshold)
        out.update(
            {
                f"low{level}": low,
                f"high{level}": high,
                f"width{level}": high - low,
                f"coverage{level}": float(np.mean(at_truth <= threshold)),
            }
        )
    out.update(theta_hat_mean=float(theta_hat.mean()), theta_hat_std=float(theta_hat.std()))
    return out


def theta_grid(thetas: Sequence[float], points: int) -> np.ndarray:
    """The inference grid: ``points`` values log-spaced over the range of the variation points."""
    return np.geomspace(min(thetas), max(thetas), int(points))
