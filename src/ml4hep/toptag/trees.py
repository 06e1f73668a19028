"""Clustering trees of the top-tagging jets, as fixed-size arrays for the recursive network.

Each jet's leading ``max_constituents`` constituents (N, the same slots as the constituent array ``x``) are
reclustered with FastJet (kT, Cambridge/Aachen or anti-kT, R = 1000 so that every jet is one binary tree, E-scheme)
and the clustering history is stored per jet as N - 1 internal nodes in merge order (Louppe, Cho, Becot, Cranmer,
arXiv:1702.00748); ``desc_pt`` is the paper's sequence baseline instead, a chain adding the constituents one by one
in order of decreasing pT:

* node slots: 0 .. N-1 are the leaves (slot i is constituent i, row i of ``x``); N + k is the k-th merging;
* ``tree_children`` (N-1, 2): the slots of the two nodes merged at step k, the harder (larger pT) first, so that
  the tree does not depend on the order of the constituents in the input (as the paper's "permute by pT"); -1 for
  the padding steps of a jet with n < N constituents, which has n - 1 mergings (the root is slot N + n - 2, or
  slot 0 for a single constituent);
* ``tree_x`` (N-1, 8): the features of each merged node in the columns of
  :data:`ml4hep.toptag.preprocess.CONSTITUENT_FEATURES`, computed from the node's four-momentum in the jet's
  frame (the same rotation, jet energy and Σ pT as the constituents), so that a leaf's features are its row of
  ``x`` and a merged node's are those of the pseudo-particle it stands for;
* ``tree_level`` (N-1,): the node's height above the leaves (1 for a merging of two constituents,
  1 + the larger of its children's otherwise; 0 for padding), by which the network batches its recursion.

The history is read through the ``fastjet`` package's multi-event interface, one "event" per jet:
``ClusterSequence.jets()`` gives all 2n - 1 pseudojets in history order (the n inputs, then one per merging) and
``unique_history_order()`` the history as a post-order walk of the tree (each merging after its two parents), from
which a stack recovers the parents of every merging, for all jets of a chunk at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import awkward as ak
import numpy as np

FOUR_MOMENTUM = ("px", "py", "pz", "E")
TREE_COLUMNS = ("tree_x", "tree_children", "tree_level")
"""Feature-file columns of the clustering trees."""
TREE_TAGGER = "rnn_tree"
"""The tagger that reads the trees: the feature files hold them when it is among ``toptag.taggers``."""


def feature_tree_algorithm(options: Mapping[str, Any]) -> str | None:
    """The algorithm of the trees stored with the features, or None when no tagger reads them.

    Args:
        options: The feature options of the rule (``tree_algorithm``) or the whole ``toptag`` config section (the
            algorithm of ``models.rnn_tree`` when ``rnn_tree`` is among ``taggers``).

    Example:
        >>> feature_tree_algorithm({"taggers": ["pfn", "rnn_tree"], "models": {"rnn_tree": {"algorithm": "kt"}}})
        'kt'
        >>> feature_tree_algorithm({"tree_algorithm": None}) is None
        True
    """
    if "tree_algorithm" in options:
        return options["tree_algorithm"]
    if TREE_TAGGER not in options.get("taggers", ()):
        return None
    return str(options["models"][TREE_TAGGER].get("algorithm", "kt"))


def _padded(values: ak.Array, size: int, fill: float = 0.0) -> np.ndarray:
    """A jagged array padded (or clipped) to ``size`` entries per jet."""
    return ak.to_numpy(ak.fill_none(ak.pad_none(values, size, axis=1, clip=True), fill))


def _history_parents(order: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The two parents (history indices) of every merging from FastJet's post-order history walk.

    Args:
        order: (jets, L) ``unique_history_order`` padded with -1.
        counts: Constituents per jet (n); history indices below n are inputs, n .. 2n-2 mergings, and the last
            entry (2n - 1) is the final merging with the beam, skipped.

    Returns:
        (jets, max n - 1, 2) parents of merging k (history index n + k) as history indices, -1 for padding.
    """
    n_jets = len(counts)
    steps = max(int(counts.max(initial=1)) - 1, 0)
    parents = np.full((n_jets, steps, 2), -1, np.int64)
    stack = np.zeros((n_jets, max(steps + 1, 1)), np.int64)
    depth = np.zeros(n_jets, np.int64)
    rows = np.arange(n_jets)
    for column in order.T:
        leaf = (column >= 0) & (column < counts)
        merging = (column >= counts) & (column < 2 * counts - 1)
        r = rows[leaf]
        stack[r, depth[r]] = column[r]
        depth[r] += 1
        r = rows[merging]
        parents[r, column[r] - counts[r], 0] = stack[r, depth[r] - 2]
        parents[r, column[r] - counts[r], 1] = stack[r, depth[r] - 1]
        stack[r, depth[r] - 2] = column[r]
        depth[r] -= 1
    if np.any(depth[counts > 0] != 1):
        raise ValueError("a clustering history is not one binary tree per jet")
    return parents


def _levels(children: np.ndarray, n_slots: int) -> np.ndarray:
    """Height of every merging above the leaves (0 for padding), from children slots in merge order."""
    n_jets, steps, _ = children.shape
    height = np.zeros((n_jets, n_slots + steps), np.int64)
    rows = np.arange(n_jets)
    for k in range(steps):
        real = children[:, k, 0] >= 0
        left, right = np.maximum(children[:, k, 0], 0), np.maximum(children[:, k, 1], 0)
        height[:, n_slots + k] = np.where(real, 1 + np.maximum(height[rows, left], height[rows, right]), 0)
    return height[:, n_slots:]


def _fastjet_history(algorithm: str) -> TreeBuilder:
    """A tree builder reading the clustering history of FastJet's ``algorithm`` (e.g. ``kt_algorithm``)."""

    def build(leading: Mapping[str, ak.Array], counts: np.ndarray, n_slots: int) -> tuple[np.ndarray, np.ndarray]:
        import fastjet
        import vector

        from ml4hep.toptag.substructure import RECLUSTER_R

        vector.register_awkward()
        n_jets, steps = len(counts), n_slots - 1
        children = np.full((n_jets, steps, 2), -1, np.int64)
        four = np.zeros((n_jets, steps, 4))
        multi = np.flatnonzero(counts >= 2)
        if not multi.size:
            return children, four
        particles = ak.zip({name: a[multi] for name, a in leading.items()}, with_name="Momentum4D")
        definition = fastjet.JetDefinition(getattr(fastjet, algorithm), RECLUSTER_R)
        sequence = fastjet.ClusterSequence(particles, definition)
        nodes, order = sequence.jets(), sequence.unique_history_order()
        n = counts[multi]
        if not np.array_equal(ak.to_numpy(ak.num(nodes, axis=1)), 2 * n - 1):
            raise ValueError("a clustering history is not one binary tree per jet")
        parents = _history_parents(_padded(order, 2 * n_slots, -1).astype(np.int64), n)
        # (jets, 2N-1, 4) in history order: inputs 0 .. n-1, merging k at n + k
        node_four = np.stack([_padded(nodes[name], 2 * n_slots - 1) for name in FOUR_MOMENTUM], axis=-1)
        step = np.arange(steps)
        real = step[None, :] < (n - 1)[:, None]
        history_index = np.where(real, n[:, None] + step[None, :], 0)
        four[multi] = np.where(real[..., None], np.take_along_axis(node_four, history_index[..., None], axis=1), 0.0)
        # history index -> slot: inputs keep theirs, merging k moves to N + k
        slots = np.where(parents >= n[:, None, None], parents - n[:, None, None] + n_slots, parents)
        children[multi, : parents.shape[1]] = np.where(parents >= 0, slots, -1)
        return children, four

    return build


def _descending_pt_sequence(
    leading: Mapping[str, ak.Array], counts: np.ndarray, n_slots: int
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's "desc-pT" ordering: a chain adding the constituents one by one, hardest first."""
    leaves = np.stack([_padded(leading[name], n_slots) for name in FOUR_MOMENTUM], axis=-1)  # (jets, N, 4)
    n_jets, steps = len(counts), n_slots - 1
    pt = np.hypot(leaves[..., 0], leaves[..., 1])
    order = np.argsort(np.where(np.arange(n_slots) < counts[:, None], -pt, np.inf), axis=1, kind="stable")
    real = np.arange(steps)[None, :] < (counts - 1)[:, None]
    previous = np.concatenate([order[:, :1], n_slots + np.arange(steps - 1)[None, :].repeat(n_jets, 0)], axis=1)
    children = np.where(real[..., None], np.stack([previous, order[:, 1:]], axis=-1), -1)
    four = np.cumsum(np.take_along_axis(leaves, order[..., None], axis=1), axis=1)[:, 1:]
    return children, np.where(real[..., None], four, 0.0)


TreeBuilder = Callable[[Mapping[str, ak.Array], np.ndarray, int], tuple[np.ndarray, np.ndarray]]
ALGORITHMS: dict[str, TreeBuilder] = {
    "kt": _fastjet_history("kt_algorithm"),
    "cambridge": _fastjet_history("cambridge_algorithm"),
    "antikt": _fastjet_history("antikt_algorithm"),
    "desc_pt": _descending_pt_sequence,
}
"""Config name -> builder of the trees (children slots and four-momenta of the mergings, from the leading
constituents and their counts); fastjet is imported where a tree is built, so that the workflow reads
:func:`feature_tree_algorithm` without it."""


def clustering_trees(
    px: ak.Array, py: ak.Array, pz: ak.Array, energy: ak.Array, max_constituents: int, algorithm: str
) -> dict[str, np.ndarray]:
    """The clustering trees of the leading ``max_constituents`` constituents of each jet.

    Args:
        px: Constituent x momenta, jagged (one list per jet, in the order of the constituent slots).
        py: Constituent y momenta.
        pz: Constituent z momenta.
        energy: Constituent energies.
        max_constituents: Leaves per tree (N; the first N constituents are clustered).
        algorithm: A name of :data:`ALGORITHMS`.

    Returns:
        ``tree_children`` (jets, N-1, 2) int64 slots, ``tree_level`` (jets, N-1) int64 and ``four`` (jets, N-1, 4)
        px, py, pz, E of the merged nodes (zero for padding), as described in the module docstring.

    Raises:
        ValueError: Unknown algorithm, or a history that is not one tree per jet.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown clustering algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    n_slots = int(max_constituents)
    leading = dict(zip(FOUR_MOMENTUM, (a[:, :n_slots] for a in (px, py, pz, energy)), strict=True))
    counts = ak.to_numpy(ak.num(leading["px"], axis=1)).astype(np.int64)
    children, four = ALGORITHMS[algorithm](leading, counts, n_slots)
    leaves = np.stack([_padded(leading[name], n_slots) for name in FOUR_MOMENTUM], axis=-1)
    slot_four = np.concatenate([leaves, four], axis=1)  # (jets, 2N-1, 4) by slot
    pt = np.hypot(slot_four[..., 0], slot_four[..., 1])
    flat_children = np.maximum(children, 0).reshape(len(counts), 2 * (n_slots - 1))
    pt_of = np.take_along_axis(pt, flat_children, axis=1).reshape(children.shape)
    swap = pt_of[..., 1] > pt_of[..., 0]  # the harder child first
    children[swap] = children[swap][:, ::-1]
    return {"tree_children": children, "tree_level": _levels(children, n_slots), "four": four}


def node_rows(chunk: Mapping[str, np.ndarray]) -> np.ndarray:
    """The features of the real nodes of some jets (leaves and mergings, no padding), one row per node.

    Args:
        chunk: ``x``, ``mask``, ``tree_x`` and ``tree_level`` of some jets.

    Example:
        >>> x, tree_x = np.ones((1, 3, 2)), np.full((1, 2, 2), 2.0)
        >>> node_rows({"x": x, "mask": np.array([[1, 1, 0]]), "tree_x": tree_x, "tree_level": np.array([[1, 0]])})
        array([[1., 1.],
               [1., 1.],
               [2., 2.]])
    """
    x, tree_x = np.asarray(chunk["x"]), np.asarray(chunk["tree_x"])
    return np.concatenate([x[np.asarray(chunk["mask"]) > 0], tree_x[np.asarray(chunk["tree_level"]) > 0]])
