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


def selection_scan(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """What a selection ``score >= threshold`` keeps, at every distinct score.

    Args:
        labels: 1 for signal, 0 for background.
        scores: Classifier output.
        weights: Event weights normalised to expected counts.

    Returns:
        ``threshold`` (decreasing), the weighted ``signal`` and ``background`` kept and the number of background MC
        events kept (``background_events``), one entry per threshold.

    Example:
        >>> scan = selection_scan(np.array([1, 0, 1]), np.array([0.9, 0.5, 0.5]), np.array([1.0, 2.0, 3.0]))
        >>> scan["threshold"].tolist(), scan["background"].tolist(), scan["background_events"].tolist()
        ([0.9, 0.5], [0.0, 2.0], [0, 1])
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    sorted_scores = np.asarray(scores)[order]
    w = np.asarray(weights, dtype=float)[order]
    background = np.asarray(labels)[order] == 0
    last_of_value = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    return {
        "threshold": sorted_scores[last_of_value],
        "signal": np.cumsum(np.where(background, 0.0, w))[last_of_value],
        "background": np.cumsum(np.where(background, w, 0.0))[last_of_value],
        "background_events": np.cumsum(background)[last_of_value],
    }


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
    scan = selection_scan(labels, scores, weights)
    return scan["threshold"], ams(scan["signal"], scan["background"], regularisation)


def bootstrap_values(
    metric: Callable[..., float],
    samples: Sequence[Sequence[np.ndarray | None]],
    n_resamples: int = 100,
    seed: int = 0,
) -> np.ndarray:
    """The metric on bootstrap resamples of one or more independent samples.

    Each sample (e.g. the validation and the test split) is resampled with replacement on its own, and the metric
    receives the arrays of all samples in order, so that a metric which tunes on one sample and reports on another
    (an AMS threshold) is redone in full on every resample.

    Args:
        metric: Function of the arrays of all samples, concatenated in order.
        samples: Each sample's aligned per-event arrays (None entries are passed through).
        n_resamples: Bootstrap resamples.
        seed: Seed of the resampling.

    Returns:
        The finite values (resamples where the metric is not defined, e.g. one class only, are left out).

    Example:
        >>> values = bootstrap_values(lambda a, b: a.mean() - b.mean(), [[np.arange(10.0)], [np.zeros(5)]], 20, 1)
        >>> len(values), bool(values.min() < 4.5 < values.max())
        (20, True)
    """
    rng = np.random.default_rng(seed)
    sizes = [len(next(a for a in arrays if a is not None)) for arrays in samples]
    values = []
    for _ in range(n_resamples):
        resampled: list[np.ndarray | None] = []
        for arrays, n in zip(samples, sizes, strict=True):
            index = rng.integers(0, n, n)
            resampled.extend(None if a is None else np.asarray(a)[index] for a in arrays)
        try:
            values.append(metric(*resampled))
        except ValueError:  # a resample with one class only
            continue
    finite = np.asarray(values, dtype=float)
    return finite[np.isfinite(finite)]


def spread(values: np.ndarray) -> float:
    """Standard deviation of bootstrap values (nan with fewer than two)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


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
    return float(metric(*arrays)), spread(bootstrap_values(metric, [arrays], n_resamples, seed))
