"""Clustering trees of the top-tagging jets, as fixed-size arrays for the recursive network.

Each jet's leading ``max_constituents`` constituents (N, the same slots as the constituent array ``x``) are
reclustered with FastJet (kT, Cambridge/Aachen or anti-kT, R = 1000 so that every jet is one binary tree, E-scheme)
and the clustering history is stored per jet as N - 1 internal nodes in merge order (Louppe, Cho, Becot, Cranmer,
arXiv:1702.00748); the paper's baselines are built without clustering: ``desc_pt`` (and ``asc_pt``) a chain adding
the constituents one by one in order of decreasing (increasing) pT, and ``random`` a random binary tree, merging
two nodes drawn at random from the pool of unmerged ones until one is left (the draws are a hash of the seed and the
jet's constituents, so a jet's tree is the same whatever the chunk, shard or order of the jets):

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
TreeBuilder = Callable[[Mapping[str, ak.Array], np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]
"""(leading constituents' px, py, pz, E; their counts; slots N; seed) -> children slots and four-momenta of the
mergings."""
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


SEEDED_ALGORITHMS = ("random",)
"""The tree algorithms that draw random numbers (from ``tree_seed``)."""


def feature_tree_options(toptag: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The tree options of the feature rule: the algorithm and, for a random one, its seed.

    The seed is left out of the other algorithms' options, so that it never reruns their features.

    Example:
        >>> toptag = {"taggers": ["rnn_tree"], "models": {"rnn_tree": {"algorithm": "random"}}}
        >>> feature_tree_options(toptag, 5)
        {'tree_algorithm': 'random', 'tree_seed': 5}
        >>> feature_tree_options({"taggers": ["pfn"]}, 5)
        {'tree_algorithm': None}
    """
    algorithm = feature_tree_algorithm(toptag)
    return {"tree_algorithm": algorithm, **({"tree_seed": int(seed)} if algorithm in SEEDED_ALGORITHMS else {})}


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

    def build(
        leading: Mapping[str, ak.Array], counts: np.ndarray, n_slots: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
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


def _leaf_four(leading: Mapping[str, ak.Array], n_slots: int) -> np.ndarray:
    """(jets, N, 4) px, py, pz, E of the leading constituents by slot, zero for padding."""
    return np.stack([_padded(leading[name], n_slots) for name in FOUR_MOMENTUM], axis=-1)


def _pt_sequence(descending: bool) -> TreeBuilder:
    """The paper's sequence baselines: a chain adding the constituents one by one in order of pT."""

    def build(
        leading: Mapping[str, ak.Array], counts: np.ndarray, n_slots: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        leaves = _leaf_four(leading, n_slots)
        n_jets, steps = len(counts), n_slots - 1
        pt = np.hypot(leaves[..., 0], leaves[..., 1])
        key = -pt if descending else pt
        order = np.argsort(np.where(np.arange(n_slots) < counts[:, None], key, np.inf), axis=1, kind="stable")
        real = np.arange(steps)[None, :] < (counts - 1)[:, None]
        previous = np.concatenate([order[:, :1], n_slots + np.arange(steps - 1)[None, :].repeat(n_jets, 0)], axis=1)
        children = np.where(real[..., None], np.stack([previous, order[:, 1:]], axis=-1), -1)
        four = np.cumsum(np.take_along_axis(leaves, order[..., None], axis=1), axis=1)[:, 1:]
        return children, np.where(real[..., None], four, 0.0)

    return build


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on uint64 arrays (wrapping arithmetic): a fast, well-mixed hash."""
    with np.errstate(over="ignore"):
        z = values + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def jet_uniforms(leaves: np.ndarray, seed: int, draws: int) -> np.ndarray:
    """(jets, draws) uniform numbers in [0, 1) that depend only on the seed and each jet's own leaves.

    A counter-based generator keyed by a hash of the jet's four-momenta: the draws of a jet do not depend on the
    other jets in the chunk, so chunking, sharding and the order of the jets leave every jet's tree unchanged.

    Example:
        >>> leaves = np.arange(24.0).reshape(2, 3, 4)
        >>> u = jet_uniforms(leaves, seed=1, draws=5)
        >>> u.shape, bool(((u >= 0) & (u < 1)).all()), np.array_equal(jet_uniforms(leaves[::-1], 1, 5), u[::-1])
        ((2, 5), True, True)
    """
    bits = (
        np.ascontiguousarray(leaves, dtype=np.float64)
        .reshape(len(leaves), int(np.prod(leaves.shape[1:])))
        .view(np.uint64)
    )
    key = _splitmix64(np.full(len(leaves), np.uint64(int(seed) % 2**64)))
    for column in bits.T:
        key = _splitmix64(key ^ column)
    with np.errstate(over="ignore"):
        counters = key[:, None] + _GOLDEN * np.arange(1, draws + 1, dtype=np.uint64)[None, :]
    return (_splitmix64(counters) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _random_tree(
    leading: Mapping[str, ak.Array], counts: np.ndarray, n_slots: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's random binary trees: merge two nodes drawn at random from the pool until one is left."""
    leaves = _leaf_four(leading, n_slots)
    n_jets, steps = len(counts), n_slots - 1
    uniforms = jet_uniforms(leaves, seed, 2 * steps)
    slot_four = np.concatenate([leaves, np.zeros((n_jets, steps, 4))], axis=1)
    children = np.full((n_jets, steps, 2), -1, np.int64)
    pool = np.tile(np.arange(n_slots), (n_jets, 1))  # the first `size` entries of a row: its unmerged nodes
    for step in range(steps):
        rows = np.flatnonzero(counts - step >= 2)
        size = counts[rows] - step
        first = np.minimum((uniforms[rows, 2 * step] * size).astype(np.int64), size - 1)
        second = np.minimum((uniforms[rows, 2 * step + 1] * (size - 1)).astype(np.int64), size - 2)
        second += second >= first  # a different entry
        left, right = pool[rows, first], pool[rows, second]
        node = n_slots + step
        children[rows, step] = np.stack([left, right], axis=-1)
        slot_four[rows, node] = slot_four[rows, left] + slot_four[rows, right]
        # the merged node takes the first's place, the pool's last entry the second's
        pool[rows, first] = node
        pool[rows, second] = pool[rows, size - 1]
    return children, slot_four[:, n_slots:]


ALGORITHMS: dict[str, TreeBuilder] = {
    "kt": _fastjet_history("kt_algorithm"),
    "cambridge": _fastjet_history("cambridge_algorithm"),
    "antikt": _fastjet_history("antikt_algorithm"),
    "desc_pt": _pt_sequence(descending=True),
    "asc_pt": _pt_sequence(descending=False),
    "random": _random_tree,
}
"""Config name -> builder of the trees (children slots and four-momenta of the mergings, from the leading
constituents, their counts, the slots and the seed); fastjet is imported where a tree is built, so that the workflow
reads :func:`feature_tree_algorithm` without it."""


def clustering_trees(
    px: ak.Array,
    py: ak.Array,
    pz: ak.Array,
    energy: ak.Array,
    max_constituents: int,
    algorithm: str,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The clustering trees of the leading ``max_constituents`` constituents of each jet.

    Args:
        px: Constituent x momenta, jagged (one list per jet, in the order of the constituent slots).
        py: Constituent y momenta.
        pz: Constituent z momenta.
        energy: Constituent energies.
        max_constituents: Leaves per tree (N; the first N constituents are clustered).
        algorithm: A name of :data:`ALGORITHMS`.
        seed: Seed of a random tree (:data:`SEEDED_ALGORITHMS`; the others ignore it).

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
    children, four = ALGORITHMS[algorithm](leading, counts, n_slots, int(seed))
    leaves = _leaf_four(leading, n_slots)
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
