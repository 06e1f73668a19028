"""The confidence of a SUSY classifier's prediction, raw and calibrated as SUSY-AI calibrates it (arXiv:1605.02797).

The raw confidence ``|2 P(allowed) - 1|`` is on each classifier's own scale: a forest's vote margin, a BDT's or an
MLP's probability. So "accuracy at confidence >= 0.95" would mean something else for each. SUSY-AI calibrates it on
a validation set: the classifier output is binned, and the confidence of a point is the fraction of the validation
points in its bin that the classifier gets right. Here that fraction is estimated as (right + 1) / (points + 2)
(Laplace's rule of succession): a bin of 5 validation points all right claims 0.86, not 1, and an empty bin 0.5, a
coin flip; with the ~80 validation points per bin of the default run the difference is ~1%. :class:`Calibration` is
that table; :func:`confidence_table` gives the accuracy and coverage at each confidence level, raw and calibrated,
for the SUSY task and the active learning.

Example:
    >>> allowed = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    >>> p = np.array([0.95, 0.9, 0.6, 0.55, 0.4, 0.05, 0.3, 0.1])
    >>> calibration = Calibration.fit(allowed, p, bins=2)
    >>> calibration.hits.tolist(), calibration.counts.tolist()  # [0, 0.5): 3 of 4 right; [0.5, 1]: 3 of 4 right
    ([3.0, 3.0], [4, 4])
    >>> calibration(np.array([0.2, 0.99])).tolist()  # (3 + 1) / (4 + 2)
    [0.6666666666666666, 0.6666666666666666]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CONFIDENCE_LEVELS = (0.68, 0.90, 0.95, 0.99)
"""Confidence thresholds of the accuracy/coverage table (SUSY-AI, arXiv:1605.02797)."""

HEADLINE_CONFIDENCE = 0.95
"""The confidence of the headline "accuracy at confidence" (SUSY-AI's 0.95)."""


def raw_confidence(p_allowed: np.ndarray) -> np.ndarray:
    """Confidence on the classifier's own scale, |2 P(allowed) - 1| (0: a coin flip, 1: unanimous)."""
    return np.abs(2.0 * np.asarray(p_allowed, dtype=np.float64) - 1.0)


def correct(allowed: np.ndarray, p_allowed: np.ndarray) -> np.ndarray:
    """Whether each prediction (allowed when P(allowed) >= 0.5) matches the label (1 allowed, 0 excluded)."""
    return (np.asarray(p_allowed) >= 0.5) == (np.asarray(allowed) == 1)


@dataclass(frozen=True)
class Calibration:
    """Accuracy per bin of P(allowed) on a validation set: the calibrated confidence of a point in that bin.

    Attributes:
        edges: Bin edges of P(allowed), from 0 to 1 (equal widths).
        hits: Validation points per bin that the classifier gets right.
        counts: Validation points per bin.
    """

    edges: np.ndarray
    hits: np.ndarray
    counts: np.ndarray

    @property
    def accuracy(self) -> np.ndarray:
        """The confidence of each bin: its validation accuracy, (right + 1) / (points + 2)."""
        return (np.asarray(self.hits, float) + 1.0) / (np.asarray(self.counts, float) + 2.0)

    @classmethod
    def fit(cls, allowed: np.ndarray, p_allowed: np.ndarray, bins: int) -> Calibration:
        """The calibration of one classifier from its validation labels and outputs, in ``bins`` bins."""
        edges = np.linspace(0.0, 1.0, int(bins) + 1)
        index = cls._bin(edges, p_allowed)
        counts = np.bincount(index, minlength=len(edges) - 1)
        hits = np.bincount(index, weights=correct(allowed, p_allowed).astype(float), minlength=len(edges) - 1)
        return cls(edges, hits, counts)

    @staticmethod
    def _bin(edges: np.ndarray, p_allowed: np.ndarray) -> np.ndarray:
        # P = 1 belongs to the last bin
        return np.clip(np.searchsorted(edges, np.asarray(p_allowed, float), side="right") - 1, 0, len(edges) - 2)

    def __call__(self, p_allowed: np.ndarray) -> np.ndarray:
        """Calibrated confidence of outputs ``p_allowed``: the validation accuracy of their bins."""
        return self.accuracy[self._bin(self.edges, p_allowed)]

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-ready form (the classifier's ``_info.json``, key ``calibration``)."""
        return {
            "edges": self.edges.tolist(),
            "hits": self.hits.tolist(),
            "counts": self.counts.tolist(),
            "confidence": self.accuracy.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float]]) -> Calibration:
        """Read :meth:`to_dict`'s form."""
        return cls(np.asarray(data["edges"], float), np.asarray(data["hits"], float), np.asarray(data["counts"]))


def level_key(level: float) -> str:
    """The key suffix of a confidence level: ``conf95`` for 0.95."""
    return f"conf{round(100 * level):d}"


def confidence_table(
    allowed: np.ndarray,
    p_allowed: np.ndarray,
    calibration: Calibration | None = None,
    levels: Sequence[float] = CONFIDENCE_LEVELS,
) -> dict[str, Any]:
    """Accuracy overall, and accuracy and coverage (fraction of the points) at each confidence level.

    Args:
        allowed: True labels (1 allowed, 0 excluded).
        p_allowed: Predicted P(allowed).
        calibration: The classifier's calibration (validation split); None leaves the calibrated keys out.
        levels: Confidence thresholds.

    Returns:
        ``accuracy``, ``n``; ``accuracy_raw_conf{NN}`` and ``coverage_raw_conf{NN}`` (raw confidence |2P - 1|,
        NN = 100 x level); with a calibration ``accuracy_conf{NN}`` and ``coverage_conf{NN}`` (calibrated, the
        headline). The accuracy among no points is NaN.

    Example:
        >>> table = confidence_table(np.array([1, 0]), np.array([0.99, 0.3]), levels=(0.95,))
        >>> table["accuracy"], table["coverage_raw_conf95"], table["accuracy_raw_conf95"]
        (1.0, 0.5, 1.0)
    """
    right = correct(allowed, p_allowed)
    out: dict[str, Any] = {"accuracy": float(right.mean()) if len(right) else float("nan"), "n": int(len(right))}
    scales = {"raw_": raw_confidence(p_allowed)}
    if calibration is not None:
        scales[""] = calibration(p_allowed)
    for prefix, conf in scales.items():
        for level in levels:
            selected = conf >= level
            key = f"{prefix}{level_key(level)}"
            out[f"accuracy_{key}"] = float(right[selected].mean()) if selected.any() else float("nan")
            out[f"coverage_{key}"] = float(selected.mean()) if len(selected) else float("nan")
    return out


def accuracy_curve(
    allowed: np.ndarray, confidence: np.ndarray, p_allowed: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and coverage of the points at or above each confidence threshold (for the figure)."""
    right = correct(allowed, p_allowed)
    accuracy = np.array([right[confidence >= t].mean() if (confidence >= t).any() else np.nan for t in thresholds])
    coverage = np.array([(confidence >= t).mean() for t in thresholds])
    return accuracy, coverage
