"""The Higgs task's event table: lep-had selection and HiggsML features of every process, split by seed.

Each split file (``.npz``, plain arrays) holds, per selected event: the feature matrix ``X`` (columns
``feature_names`` = :data:`ml4hep.higgs.features.FEATURE_NAMES`), ``label`` (1 for the signal processes, 0 for
backgrounds; heavy-Higgs events carry label 1 and are told apart by ``process``), ``weight`` (expected events at the
configured luminosity: σ·L/N times the selection, divided by the split's fraction so that every split estimates the
full expected yield), ``process`` (index into ``process_names``), ``truth_mass`` (true di-tau mass, NaN where there
is none) and ``resonance_mass`` (the generated resonance mass; 0 for ttbar).

A real HiggsML file (converted with ``format: higgsml_csv``) is read through the same feature code
(:func:`ml4hep.higgs.features.features_from_higgsml`), with its ``label`` and ``weight``; it has no truth mass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ml4hep.errors import EmptySampleError
from ml4hep.higgs.features import (
    FEATURE_NAMES,
    check_features,
    features_from_higgsml,
    higgsml_features,
    select_lephad,
)
from ml4hep.io import read_sample
from ml4hep.splitting import split_indices

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
GENERATED_BRANCHES = (
    "lep_pt", "lep_eta", "lep_phi", "lep_charge", "tau_pt", "tau_eta", "tau_phi", "tau_m", "tau_charge",
    "jet_pt", "jet_eta", "jet_phi", "jet_m", "met", "met_phi", "met_sumet", "weight", "truth_ditau_mass",
    "resonance_mass",
)


def process_table(name: str, paths: Sequence[str], label: int, jet_pt_min: float) -> dict[str, np.ndarray]:
    """Selected events of one generated process with their features.

    Args:
        name: Sample name (for messages).
        paths: Its ROOT files.
        label: 1 (signal) or 0 (background).
        jet_pt_min: Jet threshold of the HiggsML features.

    Returns:
        Columns ``X``, ``label``, ``weight``, ``truth_mass``, ``resonance_mass``.
    """
    events = read_sample(paths, GENERATED_BRANCHES, name=name, origin=True)
    selected = select_lephad(events)
    if len(selected) == 0:
        raise EmptySampleError(", ".join(paths), f"no event of '{name}' passes the lep-had selection")
    features = higgsml_features(selected, jet_pt_min=jet_pt_min)
    check_features(features, ", ".join(paths))
    log.info("%s: %d of %d events pass the lep-had selection", name, len(selected), len(events))
    n = len(selected)
    return {
        "X": np.stack([features[f] for f in FEATURE_NAMES], axis=1),
        "label": np.full(n, label, dtype=np.int64),
        "weight": ak.to_numpy(selected.weight).astype(np.float64),
        "truth_mass": ak.to_numpy(selected.truth_ditau_mass).astype(np.float64),
        "resonance_mass": ak.to_numpy(selected.resonance_mass).astype(np.float64),
        "shard": ak.to_numpy(selected.shard), "entry": ak.to_numpy(selected.entry),
    }


def higgsml_table(name: str, paths: Sequence[str]) -> dict[str, np.ndarray]:
    """The events of a converted HiggsML file (already lep-had) with the same feature columns."""
    events = read_sample(paths, None, name=name, origin=True)
    features = features_from_higgsml(events)
    check_features(features, ", ".join(paths))
    n = len(events)
    return {
        "X": np.stack([features[f] for f in FEATURE_NAMES], axis=1),
        "label": ak.to_numpy(events.label).astype(np.int64),
        "weight": ak.to_numpy(events.weight).astype(np.float64),
        "truth_mass": np.full(n, np.nan),
        "resonance_mass": np.where(ak.to_numpy(events.label) == 1, 125.0, 0.0),
        "shard": ak.to_numpy(events.shard), "entry": ak.to_numpy(events.entry),
    }


def build_dataset(
    samples: Mapping[str, Sequence[str]],
    roles: Mapping[str, str],
    options: Mapping[str, Any],
    seed: int,
    outputs: Mapping[str, str | Path],
) -> dict[str, dict[str, float]]:
    """Select, compute features, split and write the Higgs event table.

    Args:
        samples: Sample name -> ROOT files.
        roles: Sample name -> ``signal``, ``background``, ``heavy`` or ``higgsml`` (a labelled HiggsML file).
        options: The ``higgs`` config section (``jet_pt_min``, ``split``).
        seed: Seed of the split.
        outputs: Split name -> output ``.npz``.

    Returns:
        Per process: selected events and expected yield (sum of weights).
    """
    tables, names = [], []
    for number, (name, paths) in enumerate(samples.items()):
        role = roles[name]
        if role == "higgsml":
            table = higgsml_table(name, paths)
        else:
            table = process_table(name, paths, int(role in ("signal", "heavy")), float(options["jet_pt_min"]))
        table["process"] = np.full(len(table["label"]), number, dtype=np.int64)
        tables.append(table)
        names.append(name)
    data = {key: np.concatenate([t[key] for t in tables]) for key in tables[0]}
    fractions = {split: float(options["split"][split]) for split in SPLITS}
    total = sum(fractions.values())
    # Stratified by process: every split holds every process in proportion.
    indices = split_indices(data["process"], fractions, seed)
    summary = {}
    for split, index in indices.items():
        Path(outputs[split]).parent.mkdir(parents=True, exist_ok=True)
        np.savez(outputs[split], X=data["X"][index], feature_names=np.array(FEATURE_NAMES), label=data["label"][index],
                 weight=data["weight"][index] * total / fractions[split], process=data["process"][index],
                 process_names=np.array(names), truth_mass=data["truth_mass"][index],
                 resonance_mass=data["resonance_mass"][index], sample=data["process"][index],
                 shard=data["shard"][index], entry=data["entry"][index])
    for number, name in enumerate(names):
        selected = data["process"] == number
        summary[name] = {"selected_events": int(selected.sum()),
                         "expected_yield": float(data["weight"][selected].sum())}
    return summary


EVENT_COLUMNS = ("X", "label", "weight", "process", "truth_mass", "resonance_mass", "sample", "shard", "entry")


def select_events(split: Mapping[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    """The split restricted to the events in ``mask`` (per-event columns masked, name lists kept)."""
    return {key: value[mask] if key in EVENT_COLUMNS else value for key, value in split.items()}


def process_mask(split: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Events of the named processes."""
    numbers = [i for i, name in enumerate(split["process_names"]) if str(name) in names]
    return np.isin(split["process"], numbers)


def load_split(path: str | Path) -> dict[str, np.ndarray]:
    """Read one split (no pickles)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
