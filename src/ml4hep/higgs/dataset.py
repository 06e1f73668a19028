"""The Higgs task's event table: lep-had selection and HiggsML features of every process, split by seed.

Each split file (a chunked ROOT file, :mod:`ml4hep.chunked`: TTree ``features``, one entry per event) holds, per
selected event: the feature matrix ``X`` (a fixed-size array branch; its columns ``feature_names`` =
:data:`ml4hep.higgs.features.FEATURE_NAMES`, stored beside the tree), ``label`` (1 for the signal processes, 0 for
backgrounds; heavy-Higgs events carry label 1 and are told apart by ``process``), ``weight`` (expected events at the
configured luminosity: σ·L/N times the selection, divided by the split's fraction so that every split estimates the
full expected yield), ``process`` (index into ``process_names``), ``truth_mass`` (true di-tau mass, NaN where there
is none) and ``resonance_mass`` (the generated resonance mass; 0 for ttbar).

A real HiggsML file (converted with ``format: higgsml_csv``) is read through the same feature code
(:func:`ml4hep.higgs.features.features_from_higgsml`), with its ``label`` and ``weight``; it has no truth mass.

The workflow builds the table in two steps: :func:`shard_table` per sample shard (one job each: the raw events of
one shard are read, selected and turned into features; a small ``.npz`` of the selected events), then
:func:`split_tables`, which splits each shard's events with a seed of (seed, sample, shard) and writes the split
files chunk by chunk as the shards come (one shard's table in memory at a time). Every training and scoring streams
the split files (:func:`open_split`; :class:`ml4hep.chunked.SelectedRows` for a selection of the events,
:class:`ml4hep.chunked.AugmentedRows` for per-event arrays joined to the chunks), so their memory does not grow
with the number of events; :func:`read_columns` reads a few per-event columns whole (the evaluation, the limits)
and :func:`load_split` a whole file (the plots, tests). ``.npz`` files with the same columns (tests, older runs)
are read too.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ml4hep.chunked import DEFAULT_CHUNK_SIZE, ChunkedSplit, ChunkedWriter, SelectedRows, is_chunked
from ml4hep.errors import EmptySampleError
from ml4hep.higgs.features import (
    FEATURE_NAMES,
    check_features,
    features_from_higgsml,
    higgsml_features,
    select_lephad,
)
from ml4hep.io import read_sample
from ml4hep.samples import REQUIRED_BRANCHES
from ml4hep.splitting import shard_seed, split_indices

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
# What a generated Higgs sample carries: the branches every Higgs sample has, and the generator truth.
GENERATED_BRANCHES = (*REQUIRED_BRANCHES["higgs"], "truth_ditau_mass", "resonance_mass")


def empty_table() -> dict[str, np.ndarray]:
    """The columns of :func:`process_table` with no event."""
    return {
        "X": np.zeros((0, len(FEATURE_NAMES))),
        "label": np.zeros(0, np.int64),
        "weight": np.zeros(0),
        "truth_mass": np.zeros(0),
        "resonance_mass": np.zeros(0),
        "shard": np.zeros(0, np.int64),
        "entry": np.zeros(0, np.int64),
    }


def process_table(
    name: str, paths: Sequence[str], label: int, jet_pt_min: float, allow_empty: bool = False
) -> dict[str, np.ndarray]:
    """Selected events of one generated process with their features.

    Args:
        name: Sample name (for messages).
        paths: Its ROOT files.
        label: 1 (signal) or 0 (background).
        jet_pt_min: Jet threshold of the HiggsML features.
        allow_empty: Return an empty table when no event passes (one shard of a sample) instead of raising.

    Returns:
        Columns ``X``, ``label``, ``weight``, ``truth_mass``, ``resonance_mass``, ``shard``, ``entry``.
    """
    events = read_sample(paths, GENERATED_BRANCHES, name=name, origin=True)
    selected = select_lephad(events)
    if len(selected) == 0:
        if allow_empty:
            log.info("%s: no event of %d passes the lep-had selection", name, len(events))
            return empty_table()
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
        "shard": ak.to_numpy(selected.shard),
        "entry": ak.to_numpy(selected.entry),
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
        "shard": ak.to_numpy(events.shard),
        "entry": ak.to_numpy(events.entry),
    }


TABLE_COLUMNS = ("X", "label", "weight", "truth_mass", "resonance_mass", "shard", "entry")
"""Columns of a shard's table (:func:`shard_table`)."""


def shard_table(path: str | Path, name: str, shard: int, role: str, jet_pt_min: float, output: str | Path) -> int:
    """Selected events of one sample shard with their features, written as a small ``.npz``.

    Args:
        path: The shard.
        name: Its sample's name.
        shard: Its position in the sample's files (the ``shard`` origin column).
        role: ``signal``, ``background``, ``heavy`` or ``higgsml``.
        jet_pt_min: Jet threshold of the HiggsML features.
        output: The table file.

    Returns:
        Selected events.
    """
    if role == "higgsml":
        table = higgsml_table(name, [str(path)])
    else:
        table = process_table(name, [str(path)], int(role in ("signal", "heavy")), jet_pt_min, allow_empty=True)
    table["shard"] = np.full(len(table["label"]), int(shard), dtype=np.int64)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    np.savez(output, **{column: table[column] for column in TABLE_COLUMNS})
    return len(table["label"])


SPLIT_COLUMNS = ("X", "label", "weight", "process", "truth_mass", "resonance_mass", "sample", "shard", "entry")
"""Per-event columns of a split file (``feature_names`` and ``process_names`` are stored beside them)."""


def split_tables(
    tables: Mapping[str, Sequence[str | Path]],
    options: Mapping[str, Any],
    seed: int,
    outputs: Mapping[str, str | Path],
) -> dict[str, dict[str, float]]:
    """Split every shard's table by a seed of (seed, sample, shard) and write the train/val/test files.

    Each shard is split on its own, stratified by label (so each process is split with the configured fractions),
    and tables are read one at a time, their shares appended to the split files (:class:`ml4hep.chunked.
    ChunkedWriter`, ``options["chunk_size"]`` events per basket); the split of an event depends on its shard
    alone.

    Args:
        tables: Sample name -> its shards' tables (:func:`shard_table`), in shard order.
        options: The ``higgs`` config section (``split``, optionally ``chunk_size``).
        seed: Seed of the split.
        outputs: Split name -> output file (``.root``).

    Returns:
        Per process: selected events and expected yield (sum of weights).

    Raises:
        EmptySampleError: No event of a sample passes the selection.
    """
    fractions = {split: float(options["split"][split]) for split in SPLITS}
    total = sum(fractions.values())
    summary: dict[str, dict[str, float]] = {}
    metadata = {"feature_names": ",".join(FEATURE_NAMES), "process_names": ",".join(tables)}
    empty = empty_table()
    template = {
        **{column: empty[column] for column in TABLE_COLUMNS},
        "process": np.zeros(0, np.int64),
        "sample": np.zeros(0, np.int64),
    }
    chunk_size = int(options.get("chunk_size", DEFAULT_CHUNK_SIZE))
    with ExitStack() as files:  # a failure leaves no split file (each writer renames only when done)
        writers = {
            split: files.enter_context(ChunkedWriter(outputs[split], chunk_size, metadata=metadata, template=template))
            for split in SPLITS
        }
        for number, (name, paths) in enumerate(tables.items()):
            selected, expected = 0, 0.0
            for shard, path in enumerate(paths):
                table = load_split(path)
                if len(table["label"]) == 0:  # no event of this shard passes the selection
                    continue
                table["process"] = table["sample"] = np.full(len(table["label"]), number, dtype=np.int64)
                for split, index in split_indices(table["label"], fractions, shard_seed(seed, name, shard)).items():
                    piece = {column: table[column][index] for column in SPLIT_COLUMNS}
                    piece["weight"] = piece["weight"] * total / fractions[split]
                    writers[split].add(piece)
                selected += len(table["label"])
                expected += float(table["weight"].sum())
            if selected == 0:
                raise EmptySampleError(", ".join(map(str, paths)), f"no event of '{name}' passes the lep-had selection")
            summary[name] = {"selected_events": selected, "expected_yield": expected}
    return summary


def build_dataset(
    samples: Mapping[str, Sequence[str]],
    roles: Mapping[str, str],
    options: Mapping[str, Any],
    seed: int,
    outputs: Mapping[str, str | Path],
) -> dict[str, dict[str, float]]:
    """Select, compute features, split and write the Higgs event table.

    That is :func:`shard_table` of every shard (in a temporary folder beside the outputs), then
    :func:`split_tables`; the workflow runs them as separate jobs.

    Args:
        samples: Sample name -> ROOT files.
        roles: Sample name -> ``signal``, ``background``, ``heavy`` or ``higgsml`` (a labelled HiggsML file).
        options: The ``higgs`` config section (``jet_pt_min``, ``split``).
        seed: Seed of the split.
        outputs: Split name -> output file (``.root``).

    Returns:
        Per process: selected events and expected yield (sum of weights).
    """
    folder = Path(outputs["train"]).parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        tables: dict[str, list[Path]] = {}
        for name, paths in samples.items():
            tables[name] = [Path(scratch) / name / f"{shard}.npz" for shard in range(len(paths))]
            for shard, (path, output) in enumerate(zip(paths, tables[name], strict=True)):
                shard_table(path, name, shard, roles[name], float(options["jet_pt_min"]), output)
        return split_tables(tables, options, seed, outputs)


EVENT_COLUMNS = SPLIT_COLUMNS


def select_events(split: Mapping[str, np.ndarray], mask: np.ndarray) -> Mapping[str, np.ndarray]:
    """The split restricted to the events in ``mask`` (per-event columns masked, name lists kept).

    A split read from disk (:func:`open_split`, or a view of one) stays on disk: the selection is a
    :class:`~ml4hep.chunked.SelectedRows` view, read chunk by chunk.
    """
    if is_chunked(split):
        return SelectedRows(split, mask)
    return {key: value[mask] if key in EVENT_COLUMNS else value for key, value in split.items()}


def process_mask(split: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Events of the named processes."""
    numbers = [i for i, name in enumerate(split["process_names"]) if str(name) in names]
    return np.isin(split["process"], numbers)


def open_split(path: str | Path, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Mapping[str, np.ndarray]:
    """One split to stream.

    That is a :class:`~ml4hep.chunked.ChunkedSplit` of a split file (columns read when asked for, the large ones
    chunk by chunk), or the arrays of an ``.npz`` file.
    """
    if Path(path).suffix == ".npz":
        return load_split(path)
    return ChunkedSplit(path, chunk_size)


@contextmanager
def opened_split(path: str | Path, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[Mapping[str, np.ndarray]]:
    """:func:`open_split` as a context: a split file is closed when the block ends, however it ends."""
    split = open_split(path, chunk_size)
    try:
        yield split
    finally:
        if is_chunked(split):
            split.close()


def read_columns(path: str | Path, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Some columns of a split, read whole (e.g. labels and weights without the features)."""
    if Path(path).suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {column: data[column] for column in columns}
    split = ChunkedSplit(path)
    try:
        return {column: split[column] for column in columns}
    finally:
        split.close()


def load_split(path: str | Path) -> dict[str, np.ndarray]:
    """Read one split whole: a split file (ROOT) or an ``.npz`` with the same columns (no pickles)."""
    if Path(path).suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    split = ChunkedSplit(path)
    try:
        return {key: split[key] for key in split}
    finally:
        split.close()
