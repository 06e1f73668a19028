"""The truth reference of the ``sbi`` task: a fine-binned likelihood ratio from a large, separate nominal sample.

The exact r(x | θ, θ0) of the shower is unknown, but it is the expectation of the gold at fixed x,
r(x | θ, θ0) = E[r(x, z | θ, θ0) | x] over nominal events (arXiv:1805.12244, eq. 14). In bins b of the observables
that expectation is the ratio of the reweighted to the unweighted bin content,

    r(b | θ, θ0) = (Σ_{i ∈ b} w_i(θ) / Σ_i w_i(θ)) / (n_b / n),

the exact likelihood ratio of the binned observables up to the statistics of the sample it is filled from. The
reference is filled from its own sample (``sbi.reference``, seeds of their own), which no estimator trains on, with
quantile bins in several observables at once; its −2 ln r curve on the direct samples is the "truth" curve that the
estimators' curves and intervals are compared with. Binning loses the information of x within a bin, so the
reference is a (slightly) conservative truth: an estimator that uses all observables unbinned may be a little
narrower than it, one that is much narrower is overconfident.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from ml4hep.sbi.gold import log_ratio
from ml4hep.sbi.observables import OBSERVABLES


def quantile_edges(x: np.ndarray, bins: int) -> np.ndarray:
    """Quantile bin edges of ``x`` (coinciding edges merged, the outer ones open).

    Example:
        >>> quantile_edges(np.arange(10.0), 2).tolist()
        [-inf, 4.5, inf]
    """
    edges = np.unique(np.quantile(np.asarray(x, dtype=np.float64), np.linspace(0.0, 1.0, int(bins) + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


class BinnedTruth:
    """ln r(b | θ, θ0) of the joint bins of a few observables, on a grid of θ, filled from a nominal sample.

    Args:
        observables: Which of :data:`ml4hep.sbi.observables.OBSERVABLES` are binned.
        edges: Bin edges per observable.
        grid: θ values of the table (increasing).
        table: ln r per grid point and joint bin (grid, bins); 0 in bins that the sample left empty.
        counts: Unweighted events per joint bin (a health check: the statistics behind each ratio).
    """

    suffix: ClassVar[str] = ".npz"
    display_name: ClassVar[str] = "Truth (binned)"

    def __init__(
        self,
        observables: Sequence[str],
        edges: Sequence[np.ndarray],
        grid: np.ndarray,
        table: np.ndarray,
        counts: np.ndarray,
    ) -> None:
        self.observables = [str(name) for name in observables]
        self.edges = [np.asarray(e, dtype=np.float64) for e in edges]
        self.grid, self.table, self.counts = np.asarray(grid), np.asarray(table), np.asarray(counts)

    @property
    def shape(self) -> tuple[int, ...]:
        """Bins per observable."""
        return tuple(len(e) - 1 for e in self.edges)

    def bin_index(self, x: np.ndarray) -> np.ndarray:
        """The joint bin of every event (rows of ``x``, all observables)."""
        columns = [OBSERVABLES.index(name) for name in self.observables]
        per_axis = [
            np.clip(np.searchsorted(e, x[:, c], side="right") - 1, 0, len(e) - 2)
            for e, c in zip(self.edges, columns, strict=True)
        ]
        return np.ravel_multi_index(per_axis, self.shape)

    @classmethod
    def fill(
        cls, x: np.ndarray, coefficients: np.ndarray, observables: Sequence[str], bins: int, grid: np.ndarray
    ) -> BinnedTruth:
        """Fill the reference from nominal events ``x`` with their gold ``coefficients`` (:mod:`ml4hep.sbi.gold`).

        Args:
            x: (events, observables) of the reference sample.
            coefficients: Their gold polynomial coefficients.
            observables: The observables binned jointly.
            bins: Quantile bins per observable (of the sample at θ0).
            grid: θ values at which the ratio is tabulated.

        Returns:
            The filled reference.
        """
        columns = [OBSERVABLES.index(name) for name in observables]
        edges = [quantile_edges(x[:, c], bins) for c in columns]
        empty = cls(observables, edges, grid, np.zeros((len(grid), 0)), np.zeros(0))
        index = empty.bin_index(x)
        n_bins = int(np.prod(empty.shape))
        counts = np.bincount(index, minlength=n_bins).astype(np.float64)
        nominal = counts / counts.sum()
        rows = []
        for theta in np.asarray(grid, dtype=np.float64):
            weights = np.exp(log_ratio(coefficients, theta))
            reweighted = np.bincount(index, weights=weights, minlength=n_bins) / weights.sum()
            with np.errstate(divide="ignore", invalid="ignore"):
                rows.append(np.where(counts > 0, np.log(reweighted / nominal), 0.0))
        return cls(observables, edges, grid, np.asarray(rows), counts)

    def predict(self, split: dict[str, np.ndarray]) -> np.ndarray:
        """The reference's ln r(b(x) | θ, θ0) per example (``X`` and ``theta``), linear in ln θ between grid points."""
        column = self.bin_index(np.asarray(split["X"]))
        position = np.interp(np.log(np.asarray(split["theta"])), np.log(self.grid), np.arange(len(self.grid)))
        low = np.clip(np.floor(position).astype(int), 0, len(self.grid) - 2)
        fraction = position - low
        return (1 - fraction) * self.table[low, column] + fraction * self.table[low + 1, column]

    def summary(self) -> dict[str, float | int | list[str]]:
        """The reference's statistics: events, bins, filled bins and the events in the median filled bin."""
        filled = self.counts[self.counts > 0]
        return {
            "observables": self.observables,
            "events": int(self.counts.sum()),
            "bins": int(self.counts.size),
            "filled_bins": int(filled.size),
            "median_events_per_filled_bin": float(np.median(filled)) if filled.size else 0.0,
        }

    def save(self, path: str | Path) -> None:
        """Edges, grid, table and counts as ``.npz`` (plain arrays, the observables as JSON text)."""
        edges = {f"edges_{k}": e for k, e in enumerate(self.edges)}
        np.savez(
            path,
            grid=self.grid,
            table=self.table,
            counts=self.counts,
            observables=json.dumps(self.observables),
            **edges,
        )

    @classmethod
    def load(cls, path: str | Path) -> BinnedTruth:
        """Read what :meth:`save` wrote (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as data:
            observables = json.loads(str(data["observables"]))
            edges = [data[f"edges_{k}"] for k in range(len(observables))]
            return cls(observables, edges, data["grid"], data["table"], data["counts"])
