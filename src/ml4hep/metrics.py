"""Performance metrics: ROC, AUC, background rejection at fixed signal efficiency, AMS, bootstrap uncertainties.

ROC and AUC are scikit-learn's (weighted where weights are given); the rest is defined here as in the papers:

* background rejection R_X = 1 / eps_B at eps_S = X (arXiv:1902.09914: R30, R50), eps_B linearly interpolated on the
  ROC curve; ``inf`` when no background passes;
* AMS = sqrt(2 ((s + b + b_r) ln(1 + s / (b + b_r)) - s)) with b_r = 10 (HiggsML challenge).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def roc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Signal and background efficiencies for every threshold.

    Args:
        labels: 1 for signal, 0 for background.
        scores: Higher means more signal-like.
        weights: Event weights (None: unit weights).

    Returns:
        (eps_S, eps_B, thresholds), eps_S non-decreasing.
    """
    from sklearn.metrics import roc_curve  # sklearn takes 1.6 s to import: not on every workflow parse

    eps_b, eps_s, thresholds = roc_curve(labels, scores, sample_weight=weights)
    return eps_s, eps_b, thresholds


def auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve (probability that a random signal scores above a random background)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores, sample_weight=weights))


def background_rejection(
    labels: np.ndarray, scores: np.ndarray, signal_efficiency: float, weights: np.ndarray | None = None
) -> float:
    """1 / eps_B at the given signal efficiency (R30 for 0.3), eps_B interpolated linearly on the ROC curve.

    Args:
        labels: 1 for signal, 0 for background.
        scores: Higher means more signal-like.
        signal_efficiency: eps_S of the working point, in (0, 1].
        weights: Event weights.

    Returns:
        The rejection; ``inf`` when no background passes at that working point.
    """
    eps_s, eps_b, _ = roc(labels, scores, weights)
    background = float(np.interp(signal_efficiency, eps_s, eps_b))
    return float("inf") if background <= 0 else 1.0 / background


def accuracy(labels: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Fraction (weighted) of correctly predicted labels."""
    correct = (np.asarray(labels) == np.asarray(predicted)).astype(float)
    return float(np.average(correct, weights=weights))


def ams(signal: np.ndarray | float, background: np.ndarray | float, regularisation: float = 10.0) -> np.ndarray:
    """Approximate median significance of the HiggsML challenge.

    Args:
        signal: Weighted signal count s.
        background: Weighted background count b.
        regularisation: b_r (10 in the challenge).

    Returns:
        sqrt(2 ((s + b + b_r) ln(1 + s / (b + b_r)) - s)).
    """
    s = np.asarray(signal, dtype=float)
    b = np.asarray(background, dtype=float) + regularisation
    return np.sqrt(np.maximum(2.0 * ((s + b) * np.log1p(s / b) - s), 0.0))


def ams_curve(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, regularisation: float = 10.0
) -> tuple[np.ndarray, np.ndarray]:
    """AMS for a selection ``score >= threshold`` at every distinct score.

    Args:
        labels: 1 for signal, 0 for background.
        scores: Classifier output.
        weights: Event weights normalised to expected counts.
        regularisation: b_r.

    Returns:
        (thresholds in decreasing order, AMS at each).
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    sorted_scores = np.asarray(scores)[order]
    w = np.asarray(weights, dtype=float)[order]
    y = np.asarray(labels)[order]
    s = np.cumsum(np.where(y == 1, w, 0.0))
    b = np.cumsum(np.where(y == 0, w, 0.0))
    last_of_value = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    return sorted_scores[last_of_value], ams(s[last_of_value], b[last_of_value], regularisation)


def bootstrap(
    metric: Callable[..., float],
    arrays: Sequence[np.ndarray | None],
    n_resamples: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """The metric on the full sample and its bootstrap standard deviation.

    Args:
        metric: Function of the arrays (e.g. ``auc(labels, scores, weights)``).
        arrays: Aligned per-event arrays (None entries are passed through).
        n_resamples: Bootstrap resamples.
        seed: Seed of the resampling.

    Returns:
        (value, uncertainty); resamples where the metric is not finite are left out of the spread.
    """
    value = metric(*arrays)
    n = len(next(a for a in arrays if a is not None))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        index = rng.integers(0, n, n)
        sample = [None if a is None else np.asarray(a)[index] for a in arrays]
        try:
            values.append(metric(*sample))
        except ValueError:  # a resample with one class only
            continue
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(value), float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")
