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


def split_groups(
    strata: np.ndarray, groups: np.ndarray, fractions: Mapping[str, float], seed: int
) -> dict[str, np.ndarray]:
    """:func:`split_indices` of whole groups (e.g. the jets of one event): the entries of a group share a split.

    The groups are split, stratified by the ``strata`` value of each group's first entry; with one entry per group
    this is :func:`split_indices` over the entries.

    Args:
        strata: Per-entry class.
        groups: Per-entry group (any integers; the entries of a group need not be adjacent).
        fractions: Split name -> fraction (normalised to sum 1).
        seed: Seed of the permutations.

    Returns:
        Split name -> sorted entry indices; disjoint, covering every entry, no group in two splits.

    Example:
        >>> groups = np.array([0, 0, 1, 2, 2, 2])
        >>> splits = split_groups(np.zeros(6), groups, {"a": 0.5, "b": 0.5}, 1)
        >>> set(groups[splits["a"]].tolist()) & set(groups[splits["b"]].tolist())
        set()
    """
    unique, first, inverse = np.unique(np.asarray(groups), return_index=True, return_inverse=True)
    by_group = split_indices(np.asarray(strata)[first], fractions, seed)
    split_of_group = np.empty(len(unique), dtype=np.int64)
    for number, index in enumerate(by_group.values()):
        split_of_group[index] = number
    split_of_entry = split_of_group[inverse.reshape(-1)]
    return {name: np.flatnonzero(split_of_entry == number) for number, name in enumerate(by_group)}


def shard_seed(seed: int, sample: str, shard: int) -> int:
    """The seed of one sample shard's split: from the configured seed, the sample name and the shard number only.

    Splitting each shard with its own seed makes the split of an event depend on its shard alone, so that shards
    are split by independent jobs, one at a time, and adding a sample or a shard leaves the others' splits as they
    were.
    """
    sequence = np.random.SeedSequence([int(seed) % 2**63, zlib.crc32(sample.encode()), int(shard)])
    return int(sequence.generate_state(1, np.uint64)[0])
