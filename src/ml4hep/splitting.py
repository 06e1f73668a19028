"""Seeded, stratified train/validation/test splits shared by the tasks."""

from __future__ import annotations

import zlib
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


def shard_seed(seed: int, sample: str, shard: int) -> int:
    """The seed of one sample shard's split: from the configured seed, the sample name and the shard number only.

    Splitting each shard with its own seed makes the split of an event depend on its shard alone, so that shards
    are split by independent jobs, one at a time, and adding a sample or a shard leaves the others' splits as they
    were.
    """
    sequence = np.random.SeedSequence([int(seed) % 2**63, zlib.crc32(sample.encode()), int(shard)])
    return int(sequence.generate_state(1, np.uint64)[0])
