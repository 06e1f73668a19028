"""Seeded, stratified train/validation/test splits shared by the tasks."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def split_indices(strata: np.ndarray, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """A random split of indices, stratified: every value of ``strata`` is split with the same fractions.

    Args:
        strata: Per-entry class (e.g. the label, or the process index).
        fractions: Split name -> fraction (normalised to sum 1).
        seed: Seed of the permutations.

    Returns:
        Split name -> sorted indices; the splits are disjoint and cover every entry.
    """
    rng = np.random.default_rng(seed)
    total = sum(fractions.values())
    out: dict[str, list[np.ndarray]] = {name: [] for name in fractions}
    for value in np.unique(strata):
        index = rng.permutation(np.flatnonzero(strata == value))
        edges = np.round(np.cumsum([0.0, *fractions.values()]) / total * len(index)).astype(int)
        for (name, _), begin, end in zip(fractions.items(), edges[:-1], edges[1:], strict=True):
            out[name].append(index[begin:end])
    return {name: np.sort(np.concatenate(parts)) for name, parts in out.items()}
