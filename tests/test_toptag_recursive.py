"""The clustering trees (ml4hep.toptag.trees) and the recursive network on them (ml4hep.toptag.recursive)."""

from __future__ import annotations

import json

import awkward as ak
import fastjet
import numpy as np
import pytest
import torch
import vector

from ml4hep.errors import InputFileError
from ml4hep.models import FitContext
from ml4hep.onnx_export import check_onnx_matches
from ml4hep.toptag.preprocess import constituent_arrays, tree_arrays
from ml4hep.toptag.recursive import RecursiveTreeNetwork
from ml4hep.toptag.substructure import RECLUSTER_R
from ml4hep.toptag.taggers import TAGGERS
from ml4hep.toptag.trees import (
    ALGORITHMS,
    SEEDED_ALGORITHMS,
    clustering_trees,
    feature_tree_algorithm,
    feature_tree_options,
    jet_uniforms,
)

vector.register_awkward()

SLOTS = 12
FASTJET = {"kt": fastjet.kt_algorithm, "cambridge": fastjet.cambridge_algorithm, "antikt": fastjet.antikt_algorithm}


def toy_jets(rng: np.random.Generator, counts: list[int]) -> ak.Array:
    """Massless constituents around the jet axis at η = 0.3, φ = 1: a hard core plus softer ones further out."""
    jets = []
    for n in counts:
        pt = 500.0 * rng.dirichlet(np.full(n, 0.7))
        eta = 0.3 + rng.normal(0.0, 0.25, n)
        phi = 1.0 + rng.normal(0.0, 0.25, n)
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        jets.append({"px": px, "py": py, "pz": pz, "E": pt * np.cosh(eta)})
    parts = {f"part_{name}": ak.Array([jet[name].tolist() for jet in jets]) for name in ("px", "py", "pz", "E")}
    total = {name: np.array([jet[name].sum() for jet in jets]) for name in ("px", "py", "pz", "E")}
    jet_pt = np.hypot(total["px"], total["py"])
    return ak.zip(
        {
            **parts,
            "jet_pt": jet_pt,
            "jet_eta": np.arcsinh(total["pz"] / jet_pt),
            "jet_phi": np.arctan2(total["py"], total["px"]),
            "jet_mass": np.sqrt(np.maximum(total["E"] ** 2 - jet_pt**2 - total["pz"] ** 2, 0.0)),
            "is_signal_new": np.zeros(len(jets), np.int64),
        },
        depth_limit=1,
    )


def trees_of(jets: ak.Array, algorithm: str, slots: int = SLOTS) -> dict[str, np.ndarray]:
    return clustering_trees(jets.part_px, jets.part_py, jets.part_pz, jets.part_E, slots, algorithm)


def leaf_sets(children: np.ndarray, slots: int, relabel: np.ndarray | None = None) -> set[frozenset[int]]:
    """The constituents under each merged node of one jet's tree (leaf slots mapped through ``relabel``)."""
    below: dict[int, frozenset[int]] = {}

    def leaves(slot: int) -> frozenset[int]:
        if slot < slots:
            return frozenset([int(slot if relabel is None else relabel[slot])])
        return below[slot]

    for k, (left, right) in enumerate(children):
        if left >= 0:
            below[slots + k] = leaves(left) | leaves(right)
    return set(below.values())


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_each_tree_has_2n_minus_1_nodes_sums_its_children_and_splits_as_fastjet(algorithm):
    jets = toy_jets(np.random.default_rng(1), [9, 12, 17, 2, 1])
    trees = trees_of(jets, algorithm)
    counts = np.minimum(ak.to_numpy(ak.num(jets.part_px)), SLOTS)
    for jet, n in enumerate(counts):
        children, level = trees["tree_children"][jet], trees["tree_level"][jet]
        real = children[:, 0] >= 0
        assert real.sum() == n - 1 and not real[n - 1 :].any()  # n leaves + n - 1 mergings = 2n - 1 nodes
        used = np.sort(children[real].ravel())
        # every node but the root (slot N + n - 2) is the child of exactly one merging
        expected = np.concatenate([np.arange(n), SLOTS + np.arange(n - 2)]) if n >= 2 else np.zeros(0)
        np.testing.assert_array_equal(used, expected)
        leaves = np.stack([ak.to_numpy(jets[f"part_{c}"][jet][:SLOTS]) for c in ("px", "py", "pz", "E")], axis=1)
        four = np.concatenate([leaves, np.zeros((SLOTS - n, 4)), trees["four"][jet]])
        pt = np.hypot(four[:, 0], four[:, 1])
        for k in np.flatnonzero(real):
            left, right = children[k]
            np.testing.assert_allclose(four[SLOTS + k], four[left] + four[right], rtol=1e-12)
            assert pt[left] >= pt[right]  # the harder child first
            assert level[k] == 1 + max(level[c - SLOTS] if c >= SLOTS else 0 for c in (left, right))
    if algorithm not in FASTJET:
        return
    # the root's two children hold the constituents of FastJet's two exclusive jets
    particles = ak.zip({c: jets[f"part_{c}"][:3, :SLOTS] for c in ("px", "py", "pz", "E")}, with_name="Momentum4D")
    definition = fastjet.JetDefinition(FASTJET[algorithm], RECLUSTER_R)
    subjets = fastjet.ClusterSequence(particles, definition).exclusive_jets_constituent_index(2).tolist()
    for jet, pair in enumerate(subjets):
        children = trees["tree_children"][jet]
        root = children[counts[jet] - 2]
        assert {frozenset(s) for s in pair} == {_under(children, int(c)) for c in root}


def _under(children: np.ndarray, slot: int) -> frozenset[int]:
    if slot < SLOTS:
        return frozenset([int(slot)])
    left, right = children[slot - SLOTS]
    return _under(children, left) | _under(children, right)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_no_jets_give_empty_trees(algorithm):
    # a shard's feature file takes its branch types from the features of zero jets
    trees = trees_of(toy_jets(np.random.default_rng(9), [3])[:0], algorithm)
    assert trees["tree_children"].shape == (0, SLOTS - 1, 2) and trees["four"].shape == (0, SLOTS - 1, 4)


def test_kt_cambridge_and_antikt_trees_differ_and_antikt_is_the_deepest():
    jets = toy_jets(np.random.default_rng(2), [12] * 20)
    trees = {algorithm: trees_of(jets, algorithm) for algorithm in FASTJET}
    for jet in range(3):
        families = {a: leaf_sets(t["tree_children"][jet], SLOTS) for a, t in trees.items()}
        assert families["kt"] != families["cambridge"] != families["antikt"] != families["kt"]
    depth = {a: t["tree_level"].max(axis=1).mean() for a, t in trees.items()}
    # anti-kT grows one hard branch by adding the softer constituents one at a time
    assert depth["antikt"] > depth["kt"] and depth["antikt"] > depth["cambridge"]


def test_the_descending_pt_sequence_adds_the_constituents_hardest_first():
    jets = toy_jets(np.random.default_rng(8), [7, 15])
    trees = trees_of(jets, "desc_pt")
    for jet, n in enumerate((7, SLOTS)):
        pt = np.hypot(ak.to_numpy(jets.part_px[jet][:SLOTS]), ak.to_numpy(jets.part_py[jet][:SLOTS]))
        hardest_first = np.argsort(-pt)
        children = trees["tree_children"][jet]
        np.testing.assert_array_equal(children[0], hardest_first[:2])
        np.testing.assert_array_equal(children[1 : n - 1, 0], SLOTS + np.arange(n - 2))
        np.testing.assert_array_equal(children[1 : n - 1, 1], hardest_first[2:n])
        np.testing.assert_array_equal(
            trees["tree_level"][jet], np.where(np.arange(SLOTS - 1) < n - 1, np.arange(1, SLOTS), 0)
        )


KINEMATIC_ALGORITHMS = sorted(set(ALGORITHMS) - set(SEEDED_ALGORITHMS))
"""The orderings defined by the constituents' momenta alone (a random tree depends on their order)."""


@pytest.mark.parametrize("algorithm", KINEMATIC_ALGORITHMS)
def test_the_same_tree_whatever_the_order_of_the_constituents(algorithm):
    rng = np.random.default_rng(3)
    jets = toy_jets(rng, [10, 7, 12])
    options = {"tree_algorithm": algorithm, "max_constituents": SLOTS, "rotate": True}
    permutations = [rng.permutation(n) for n in ak.to_numpy(ak.num(jets.part_px))]
    shuffled = ak.with_field(jets, jets.part_px, "part_px")
    for c in ("px", "py", "pz", "E"):
        field = f"part_{c}"
        shuffled = ak.with_field(
            shuffled, ak.Array([ak.to_numpy(jets[field][j])[p].tolist() for j, p in enumerate(permutations)]), field
        )
    inputs = []
    for sample in (jets, shuffled):
        x, mask = constituent_arrays(sample, SLOTS, rotate=True)
        inputs.append(
            [torch.as_tensor(a, dtype=torch.float32) for a in (x, mask, *tree_arrays(sample, options).values())]
        )
    trees_a, trees_b = tree_arrays(jets, options), tree_arrays(shuffled, options)
    for jet, p in enumerate(permutations):
        relabel = np.arange(SLOTS)
        relabel[: len(p)] = p  # slot i of the shuffled jet holds constituent p[i]
        assert leaf_sets(trees_b["tree_children"][jet], SLOTS, relabel) == leaf_sets(
            trees_a["tree_children"][jet], SLOTS
        )
        np.testing.assert_allclose(trees_a["tree_x"][jet], trees_b["tree_x"][jet], atol=1e-5)
    torch.manual_seed(0)
    for variant in ("simple", "gated"):
        network = RecursiveTreeNetwork(variant=variant, embedding=8, fc_sizes=[8]).eval()
        with torch.no_grad():
            roots = [_root_embeddings(network, *tensors) for tensors in inputs]
            logits = [network(*tensors) for tensors in inputs]
        torch.testing.assert_close(roots[0], roots[1], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(logits[0], logits[1], atol=1e-5, rtol=1e-5)


def test_random_trees_are_reproducible_with_the_seed_and_differ_between_seeds_and_jets():
    jets = toy_jets(np.random.default_rng(10), [12] * 8 + [5, 2, 1])
    trees = {
        seed: clustering_trees(jets.part_px, jets.part_py, jets.part_pz, jets.part_E, SLOTS, "random", seed)
        for seed in (1, 1, 2)
    }
    again = clustering_trees(jets.part_px, jets.part_py, jets.part_pz, jets.part_E, SLOTS, "random", 1)
    for key in ("tree_children", "tree_level", "four"):
        np.testing.assert_array_equal(trees[1][key], again[key])
    families = {seed: [leaf_sets(c, SLOTS) for c in t["tree_children"][:8]] for seed, t in trees.items()}
    assert families[1] != families[2]
    # eight jets of twelve constituents: their random trees are not all one shape
    assert len({frozenset(f) for f in families[1]}) == 8
    # nor the kT tree, nor a chain (the random trees are far shallower than a chain: depth 11)
    kt = trees_of(jets, "kt")
    assert families[1] != [leaf_sets(c, SLOTS) for c in kt["tree_children"][:8]]
    assert trees[1]["tree_level"][:8].max(axis=1).mean() < 10
    # a jet's tree does not depend on the other jets beside it (a chunk of its own gives the same tree)
    alone = clustering_trees(
        jets.part_px[3:4], jets.part_py[3:4], jets.part_pz[3:4], jets.part_E[3:4], SLOTS, "random", 1
    )
    np.testing.assert_array_equal(alone["tree_children"][0], trees[1]["tree_children"][3])


def test_random_tree_draws_are_uniform_and_the_seed_goes_only_to_random_features():
    leaves = np.random.default_rng(11).normal(size=(4000, 3, 4))
    u = jet_uniforms(leaves, seed=3, draws=2)
    assert abs(u.mean() - 0.5) < 0.02 and abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.05
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 700
    random = {"taggers": ["rnn_tree"], "models": {"rnn_tree": {"algorithm": "random"}}}
    assert feature_tree_options(random, 9) == {"tree_algorithm": "random", "tree_seed": 9}
    assert feature_tree_options({**random, "models": {"rnn_tree": {"algorithm": "kt"}}}, 9) == {"tree_algorithm": "kt"}


def test_the_ascending_pt_sequence_adds_the_softest_first():
    jets = toy_jets(np.random.default_rng(12), [6])
    children = trees_of(jets, "asc_pt")["tree_children"][0]
    pt = np.hypot(ak.to_numpy(jets.part_px[0]), ak.to_numpy(jets.part_py[0]))
    softest_first = np.argsort(pt)
    assert set(children[0]) == set(softest_first[:2])
    # each later merging adds the next harder constituent to the chain (either may be the harder child)
    for k in range(1, 5):
        assert set(children[k]) == {SLOTS + k - 1, softest_first[k + 1]}


def _root_embeddings(network: RecursiveTreeNetwork, x, mask, tree_x, children, level) -> torch.Tensor:
    embedded = network.node_embeddings(x, mask, tree_x, children, level)
    n = mask.sum(1).long()
    return embedded[torch.arange(len(n)), x.shape[1] + n - 2]


def hand_built_trees() -> tuple[torch.Tensor, ...]:
    """Four jets of at most 5 leaves: balanced, a chain, a single merging, a lone constituent."""
    nan = -1
    children = torch.tensor(
        [
            [[0, 1], [2, 3], [5, 6], [7, 4]],  # ((0 1)(2 3)) then 4: levels 1 1 2 3
            [[0, 1], [5, 2], [6, 3], [7, 4]],  # a chain: 1 2 3 4
            [[0, 1], [nan, nan], [nan, nan], [nan, nan]],
            [[nan, nan], [nan, nan], [nan, nan], [nan, nan]],
        ],
        dtype=torch.float32,
    )
    level = torch.tensor([[1, 1, 2, 3], [1, 2, 3, 4], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.float32)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.float32)
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(4, 5, 8, generator=generator) * mask.unsqueeze(-1)
    tree_x = torch.randn(4, 4, 8, generator=generator) * (level > 0).unsqueeze(-1)
    return x, mask, tree_x, children, level


def naive_logit(network: RecursiveTreeNetwork, x, mask, tree_x, children, jet: int) -> torch.Tensor:
    """One jet, node by node from the root down (recursion), as the paper writes it."""
    own = torch.relu(network.project(network.standardise(torch.cat([x[jet], tree_x[jet]]))))
    leaves = x.shape[1]

    def embedding(slot: int) -> torch.Tensor:
        if slot < leaves:
            return own[slot]
        left, right = (int(c) for c in children[jet, slot - leaves])
        return network.cell(embedding(left)[None], embedding(right)[None], own[slot][None])[0]

    n = int(mask[jet].sum())
    return network.head(embedding(leaves + n - 2 if n >= 2 else 0)[None]).squeeze()


@pytest.mark.parametrize("variant", ["simple", "gated"])
def test_level_batched_forward_equals_a_naive_per_jet_recursion(variant):
    torch.manual_seed(5)
    network = RecursiveTreeNetwork(variant=variant, embedding=6, fc_sizes=[5], dropout=0.0)
    network.standardise.fit(np.random.default_rng(0).normal(2.0, 3.0, (50, 8)))
    inputs = hand_built_trees()
    batched = network(*inputs)
    naive = torch.stack([naive_logit(network, *inputs[:4], jet) for jet in range(4)])
    torch.testing.assert_close(batched, naive, atol=1e-6, rtol=1e-6)
    # and the same gradients: the in-place level updates do not break autograd
    for a, b in zip(
        torch.autograd.grad(batched.sum(), list(network.parameters())),
        torch.autograd.grad(naive.sum(), list(network.parameters())),
        strict=True,
    ):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    # the merge-order recursion that the ONNX export traces gives the same embeddings
    own = torch.relu(network.project(network.standardise(torch.cat([inputs[0], inputs[2]], 1))))
    children = inputs[3].long().clamp_min(0)
    torch.testing.assert_close(
        network._by_merging(own, children, inputs[4]), network._by_level(own, children, inputs[4].long())
    )


def test_onnx_export_equals_torch_on_trees_deeper_than_the_traced_ones(tmp_path):
    torch.manual_seed(6)
    network = RecursiveTreeNetwork(variant="gated", embedding=6, fc_sizes=[5]).eval()
    inputs = hand_built_trees()
    shallow = tuple(t[2:] for t in inputs)  # traced on a single merging and a lone constituent
    difference = check_onnx_matches(
        network,
        inputs,
        tmp_path / "rnn.onnx",
        ["x", "mask", "tree_x", "tree_children", "tree_level"],
        example_inputs=shallow,
    )
    assert difference < 1e-5


def splits_with_trees(algorithm: str | None) -> dict:
    rng = np.random.default_rng(7)
    jets = toy_jets(rng, [8] * 30)
    x, mask = constituent_arrays(jets, SLOTS, rotate=True)
    split = {"x": x, "mask": mask, "label": np.arange(30) % 2, "weight": np.ones(30)}
    if algorithm is not None:
        split.update(tree_arrays(jets, {"tree_algorithm": algorithm, "max_constituents": SLOTS, "rotate": True}))
        split["tree_algorithm"] = np.array([algorithm])
    return {"train": split, "val": split}


def test_the_tagger_refuses_features_without_trees_or_with_other_trees():
    tagger = TAGGERS.create("rnn_tree", {"algorithm": "kt", "embedding": 4, "fc_sizes": [4], "epochs": 1})
    with pytest.raises(InputFileError, match="no clustering trees"):
        tagger.fit(**splits_with_trees(None), context=FitContext())
    with pytest.raises(InputFileError, match="hold antikt trees, the tagger wants kt trees"):
        tagger.fit(**splits_with_trees("antikt"), context=FitContext())
    info = tagger.fit(**splits_with_trees("kt"), context=FitContext())
    assert info["tree_algorithm"] == "kt" and info["epochs_run"] == 1
    assert feature_tree_algorithm({"taggers": ["pfn"], "models": {"rnn_tree": {"algorithm": "kt"}}}) is None


def test_the_finished_run_trains_the_recursive_net_on_stored_kt_trees(finished_run):
    from ml4hep.chunked import ChunkedSplit

    test = ChunkedSplit(finished_run / "results/toptag/features/test.root")
    assert [str(a) for a in test["tree_algorithm"]] == ["kt"]
    chunk = test.read(["mask", "tree_children", "tree_level"], 0, 50)
    n = chunk["mask"].sum(1).astype(int)
    np.testing.assert_array_equal((chunk["tree_children"][..., 0] >= 0).sum(1), n - 1)
    info = json.loads((finished_run / "results/toptag/models/rnn_tree_info.json").read_text())
    assert info["tree_algorithm"] == "kt" and info["onnx_max_abs_diff"] < 1e-4
    metrics = json.loads((finished_run / "results/toptag/metrics.json").read_text())
    assert metrics["taggers"]["rnn_tree"]["auc"] > 0.8
