"""The top-tagging sample as arXiv:1902.09914 defines it: the leading jet of each event, no multiple parton
interactions, the event number of every jet, a train/val/test split by event, and z (and the jet frame) of the
constituents the networks see, so that the EFN ignores what lies beyond the ``max_constituents`` cut."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch

from ml4hep.config import validate_config
from ml4hep.generate.processes import generated_processes, shard_config
from ml4hep.generate.pythia import make_pythia
from ml4hep.generate.toptag import JETS_PER_EVENT, TopTagJetBuilder, candidate_jets
from ml4hep.io import read_tree
from ml4hep.splitting import split_groups, split_indices
from ml4hep.toptag.models import ANGLE_COLUMNS, Z_COLUMN, build_model
from ml4hep.toptag.preprocess import CONSTITUENT_FEATURES, assign_splits, constituent_arrays

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def test_candidates_are_the_leading_jet_or_all_jets():
    pt = ak.Array([[600.0, 700.0, 580.0], [], [560.0]])
    assert candidate_jets(pt, "leading").tolist() == [[False, True, False], [], [True]]
    assert candidate_jets(pt, "all").tolist() == [[True, True, True], [], [True]]
    with pytest.raises(ValueError, match="leading, all"):
        candidate_jets(pt, "second")


def test_mpi_is_off_by_default_and_a_switch_turns_it_on(test_config):
    for name, spec in generated_processes(test_config).items():
        if name.startswith("toptag_"):
            assert "PartonLevel:MPI = off" in spec.settings
    on = validate_config({"samples": {"toptag": {"mpi": True}}})
    assert "PartonLevel:MPI = on" in generated_processes(on)["toptag_qcd"].settings
    assert not any("PartonLevel:MPI" in line for line in generated_processes(on)["higgs_ztautau"].settings)


def test_leading_jet_only_keeps_each_events_hardest_jet(test_config):
    spec = generated_processes(test_config)["toptag_qcd"]
    options = shard_config(test_config, "toptag")["samples"]["toptag"]
    builders = {which: TopTagJetBuilder({**options, "jets_per_event": which}, signal=False) for which in JETS_PER_EVENT}
    parts: dict[str, list] = {which: [] for which in JETS_PER_EVENT}
    # 60 dijet events in batches of 25, so that the event numbers run across batches; both selections see them.
    for batch in make_pythia(spec.settings, spec.shard_seed(test_config["seed"], 0)).batches(60, 25):
        for which, build in builders.items():
            parts[which].append(build(batch))
    event = {which: np.concatenate([p["event"] for p in parts[which]]) for which in JETS_PER_EVENT}
    pt = {which: np.concatenate([p["jet_pt"] for p in parts[which]]) for which in JETS_PER_EVENT}
    assert len(np.unique(event["leading"])) == len(event["leading"]) > 10, "at most one jet per event"
    assert len(np.unique(event["all"])) < len(event["all"]), "dijets: some events give two jets in the window"
    assert event["all"].min() >= 0 and event["all"].max() < 60 and event["leading"].max() >= 25
    for number, leading_pt in zip(event["leading"], pt["leading"], strict=True):
        assert leading_pt == pt["all"][event["all"] == number].max(), "the hardest jet of its event"


def test_tiny_sample_has_one_jet_per_event(tiny_samples, test_config):
    assert test_config["samples"]["toptag"]["jets_per_event"] == "leading"
    for name in ("toptag_ttbar", "toptag_qcd"):
        event = ak.to_numpy(read_tree(tiny_samples[name], ["event"]).event)
        assert len(event) > 20 and len(np.unique(event)) == len(event)
        assert event.min() >= 0 and event.max() < test_config["events_per_shard"]


def test_split_keeps_the_jets_of_an_event_together():
    rng = np.random.default_rng(3)
    events = np.repeat(np.arange(400), rng.integers(1, 4, 400))  # one to three jets per event
    rng.shuffle(events)  # the jets of an event need not be adjacent
    labels = (events % 4 == 0).astype(int)  # the label is the event's
    options = {"split": FRACTIONS, "predefined_split": None}
    masks = assign_splits(labels, "toptag_qcd", 2, options, 11, events)
    assert np.array_equal(sum(m.astype(int) for m in masks.values()), np.ones(len(events), int)), "disjoint, complete"
    seen = [set(events[mask].tolist()) for mask in masks.values()]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert [len(s) for s in seen] == [240, 80, 80], "the fractions are of events"
    assert np.mean(labels[masks["test"]]) == pytest.approx(np.mean(labels), abs=0.05), "stratified"
    again = assign_splits(labels, "toptag_qcd", 2, options, 11, events)
    assert all(np.array_equal(masks[name], again[name]) for name in masks)
    # One jet per event (the files without event numbers): the plain stratified split of the jets.
    single, plain = split_groups(labels, np.arange(len(labels)), FRACTIONS, 1), split_indices(labels, FRACTIONS, 1)
    assert all(np.array_equal(single[name], plain[name]) for name in FRACTIONS)


def jet(pt, eta, phi):
    """One jet of massless constituents at (pt, eta, phi), its axis the pT-weighted centre (kept fixed below)."""
    pt, eta, phi = (np.asarray(v, float) for v in (pt, eta, phi))
    fields = {
        "part_px": pt * np.cos(phi),
        "part_py": pt * np.sin(phi),
        "part_pz": pt * np.sinh(eta),
        "part_E": pt * np.cosh(eta),
    }
    return {"jet_pt": 600.0, "jet_eta": 0.1, "jet_phi": 0.2, "jet_mass": 170.0, "is_signal_new": 1, **fields}


def jets(*rows):
    return ak.Array([{key: (list(v) if isinstance(v, np.ndarray) else v) for key, v in row.items()} for row in rows])


SLOTS = 8
RNG = np.random.default_rng(8)
PT = np.sort(RNG.uniform(10, 150, 12))[::-1]  # 12 constituents, 8 kept
ETA = 0.1 + RNG.normal(0, 0.3, 12)
PHI = 0.2 + RNG.normal(0, 0.3, 12)


def efn():
    torch.manual_seed(4)
    return build_model("efn", phi_sizes=[16, 16], f_sizes=[16], dropout=0.0).eval()


def efn_with_unnormalised_z(model, x, mask, z):
    """The EFN fed z as given (the old preprocessing: z over the whole jet), without its own normalisation."""
    latent = torch.einsum("bp,bpl->bl", z * mask, model.phi(x[..., ANGLE_COLUMNS]))
    return model.output(model.f(latent)).squeeze(-1)


def test_z_sums_to_one_over_the_kept_constituents():
    x, mask = constituent_arrays(jets(jet(PT, ETA, PHI)), SLOTS, rotate=True)
    assert mask.sum() == SLOTS
    z = x[..., CONSTITUENT_FEATURES.index("z")]
    np.testing.assert_allclose(z.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(z[0], PT[:SLOTS] / PT[:SLOTS].sum(), rtol=1e-6)


@torch.no_grad()
def test_efn_ignores_what_lies_beyond_the_cut_and_the_old_z_did_not():
    # Beyond the cut: the first cut constituent split collinearly, and four soft particles anywhere in the jet.
    rng = np.random.default_rng(9)
    soft = rng.uniform(1, PT[-1], 4)
    pt = np.r_[PT[:SLOTS], PT[SLOTS] / 2, PT[SLOTS] / 2, PT[SLOTS + 1 :], soft]
    eta = np.r_[ETA[: SLOTS + 1], ETA[SLOTS:], 0.1 + rng.normal(0, 0.4, 4)]
    phi = np.r_[PHI[: SLOTS + 1], PHI[SLOTS:], 0.2 + rng.normal(0, 0.4, 4)]
    order = np.argsort(-pt, kind="stable")
    before, after = jets(jet(PT, ETA, PHI)), jets(jet(pt[order], eta[order], phi[order]))
    model = efn()
    outputs = []
    for sample in (before, after):
        x, mask = (torch.from_numpy(a) for a in constituent_arrays(sample, SLOTS, rotate=True))
        outputs.append(model(x, mask))
    torch.testing.assert_close(outputs[1], outputs[0], atol=1e-6, rtol=0)
    # The old normalisation, z = pT / Σ pT over the whole jet: the extra particles beyond the cut lower every z.
    x, mask = (torch.from_numpy(a) for a in constituent_arrays(before, SLOTS, rotate=True))
    kept = x[..., Z_COLUMN] * float(PT[:SLOTS].sum())
    old_before = efn_with_unnormalised_z(model, x, mask, kept / float(PT.sum()))
    old_after = efn_with_unnormalised_z(model, x, mask, kept / float(pt.sum()))
    print("old normalisation moves the output by", float(old_after - old_before))
    assert abs(float(old_after - old_before)) > 1e-3


@torch.no_grad()
def test_efn_collinear_split_of_the_last_kept_constituent_within_the_slots():
    n = SLOTS - 1  # a free slot: both halves of the last kept constituent are seen
    split = np.r_[PT[: n - 1], PT[n - 1] / 2, PT[n - 1] / 2]
    whole = jets(jet(PT[:n], ETA[:n], PHI[:n]))
    halves = jets(jet(split, np.r_[ETA[:n], ETA[n - 1]], np.r_[PHI[:n], PHI[n - 1]]))
    model = efn()
    arrays = [constituent_arrays(sample, SLOTS, rotate=True) for sample in (whole, halves)]
    outputs = [model(torch.from_numpy(x), torch.from_numpy(mask)) for x, mask in arrays]
    torch.testing.assert_close(outputs[1], outputs[0], atol=1e-5, rtol=0)
