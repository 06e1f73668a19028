"""Converters from the public benchmark formats into ml4hep ROOT files.

HiggsML (:func:`convert_higgsml_csv`)
    The ATLAS Higgs Machine Learning Challenge 2014 (H -> tau tau) CSV: either the Kaggle ``training.csv``
    (``EventId``, 13 ``DER_*`` and 17 ``PRI_*`` features, ``Weight``, ``Label``) or the CERN open-data file
    ``atlas-higgs-challenge-2014-v2.csv`` (the same columns plus ``KaggleSet`` and ``KaggleWeight``). It becomes a
    TTree ``events`` with one entry per event:

    * every ``DER_*`` and ``PRI_*`` column as a branch of the same name, float64, except ``PRI_jet_num`` (int32);
    * ``EventId`` (int64);
    * ``weight`` (float64), from ``Weight``;
    * ``label`` (int32), 1 for ``s`` (signal), 0 for ``b`` (background);
    * when the file has them, ``kaggle_set`` (int32: ``t`` = 0 training, ``b`` = 1 public leaderboard,
      ``v`` = 2 private leaderboard, ``u`` = 3 unused) and ``kaggle_weight`` (float64), from ``KaggleSet`` and
      ``KaggleWeight``.

    Undefined values: the HiggsML documentation (Adam-Bourdarios et al., "Learning to discover: the Higgs boson
    machine learning challenge", 2014) sets a feature that is meaningless or cannot be computed for an event (for
    example the jet variables of an event with fewer jets, or ``DER_mass_MMC`` when the MMC fit fails) to exactly
    ``-999.0``. The conversion keeps ``-999.0`` unchanged (it is neither replaced by NaN nor dropped), so a consumer
    must mask it explicitly, e.g. ``values == -999.0``. Other columns of the CSV are ignored.

TopLandscape (:func:`convert_toplandscape_hdf5`)
    The top-tagging reference dataset of Kasieczka et al. (arXiv:1902.09914): a pandas HDFStore table (key
    ``table``) with one row per jet, constituent columns ``E_i``, ``PX_i``, ``PY_i``, ``PZ_i`` (i = 0 .. 199,
    pT-ordered, zero padded) and ``is_signal_new``; other columns (``truthE``, ``truthPX``, ..., ``ttv``) are
    ignored. It becomes the jet-level schema of :mod:`ml4hep.generate.toptag`: ``jet_pt``, ``jet_eta``, ``jet_phi``,
    ``jet_mass`` (float64), ``is_signal_new`` (int32), ``weight`` (float64, 1.0) and the jagged constituents
    ``part_E``, ``part_px``, ``part_py``, ``part_pz`` (float64, counter ``npart``).

Both converters read their input in chunks and write through :func:`ml4hep.io.write_root`, so memory stays bounded
and an interrupted conversion leaves no partial output file.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd

from ml4hep.errors import ConfigError, EmptySampleError, InputFileError
from ml4hep.io import EVENTS_TREE, check_output_path, write_root

HIGGSML_UNDEFINED = -999.0
"""Value of a HiggsML feature that is undefined for an event (kept as is by the conversion)."""

HIGGSML_DER_COLUMNS: tuple[str, ...] = (
    "DER_mass_MMC",
    "DER_mass_transverse_met_lep",
    "DER_mass_vis",
    "DER_pt_h",
    "DER_deltaeta_jet_jet",
    "DER_mass_jet_jet",
    "DER_prodeta_jet_jet",
    "DER_deltar_tau_lep",
    "DER_pt_tot",
    "DER_sum_pt",
    "DER_pt_ratio_lep_tau",
    "DER_met_phi_centrality",
    "DER_lep_eta_centrality",
)
HIGGSML_PRI_COLUMNS: tuple[str, ...] = (
    "PRI_tau_pt",
    "PRI_tau_eta",
    "PRI_tau_phi",
    "PRI_lep_pt",
    "PRI_lep_eta",
    "PRI_lep_phi",
    "PRI_met",
    "PRI_met_phi",
    "PRI_met_sumet",
    "PRI_jet_num",
    "PRI_jet_leading_pt",
    "PRI_jet_leading_eta",
    "PRI_jet_leading_phi",
    "PRI_jet_subleading_pt",
    "PRI_jet_subleading_eta",
    "PRI_jet_subleading_phi",
    "PRI_jet_all_pt",
)
HIGGSML_FEATURES: tuple[str, ...] = HIGGSML_DER_COLUMNS + HIGGSML_PRI_COLUMNS
HIGGSML_REQUIRED: tuple[str, ...] = ("EventId", *HIGGSML_FEATURES, "Weight", "Label")
HIGGSML_LABELS: dict[str, int] = {"b": 0, "s": 1}
HIGGSML_KAGGLE_SETS: dict[str, int] = {"t": 0, "b": 1, "v": 2, "u": 3}
_INT32_FEATURES = frozenset({"PRI_jet_num"})

TOPLANDSCAPE_COMPONENTS: tuple[str, ...] = ("E", "PX", "PY", "PZ")
TOPLANDSCAPE_LABEL = "is_signal_new"
_PART_FIELDS: dict[str, str] = {"E": "E", "PX": "px", "PY": "py", "PZ": "pz"}


# ----------------------------------------------------------------------------------------------------------------
# HiggsML CSV
# ----------------------------------------------------------------------------------------------------------------


def convert_higgsml_csv(
    csv_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    chunk_rows: int = 200_000,
) -> dict[str, Any]:
    """Convert a HiggsML challenge CSV into a ROOT file with TTree ``events`` (schema in the module docstring).

    Args:
        csv_path: The Kaggle ``training.csv`` or the open-data ``atlas-higgs-challenge-2014-v2.csv``.
        output_path: ROOT file to write (written atomically).
        chunk_rows: CSV rows read and written per chunk.

    Returns:
        Summary: ``rows``, ``signal_rows``, ``background_rows``, ``sum_weights`` (of ``Weight``) and ``output``
        (the written path).

    Raises:
        InputFileError: the file is missing or unreadable, lacks a required column, or holds a ``Label`` other
            than ``s``/``b``, a ``KaggleSet`` other than ``t``/``b``/``v``/``u``, or an empty/non-numeric value.
        EmptySampleError: the file holds no data rows.
    """
    path = str(csv_path)
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    _require_file(path)
    check_output_path(output_path, path)
    header = _csv_header(path)
    missing = [column for column in HIGGSML_REQUIRED if column not in header]
    if missing:
        raise InputFileError(path, f"not a HiggsML CSV: missing column(s) {', '.join(missing)}")
    optional = [column for column in ("KaggleSet", "KaggleWeight") if column in header]
    columns = [*HIGGSML_REQUIRED, *optional]
    dtypes: dict[str, Any] = {column: np.float64 for column in (*HIGGSML_FEATURES, "Weight", "KaggleWeight")}
    dtypes.update({"EventId": np.float64, "Label": str, "KaggleSet": str})

    summary: dict[str, Any] = {"rows": 0, "signal_rows": 0, "background_rows": 0, "sum_weights": 0.0}

    def chunks() -> Iterator[dict[str, np.ndarray]]:
        try:
            with pd.read_csv(
                path,
                usecols=columns,
                dtype={c: t for c, t in dtypes.items() if c in columns},
                chunksize=chunk_rows,
                keep_default_na=False,
                na_values=[""],
                # The C parser's default is not exact in the last bit; the file's numbers are kept as written.
                float_precision="round_trip",
            ) as reader:  # closed also when a chunk is rejected
                for frame in reader:
                    if len(frame):
                        yield _higgsml_branches(path, frame, first_row=summary["rows"] + 1, summary=summary)
        except InputFileError:
            raise
        except (ValueError, pd.errors.ParserError) as error:
            raise InputFileError(path, f"cannot parse the CSV ({_first_line(error)})") from error

    stream = chunks()
    first = next(stream, None)
    if first is None:
        raise EmptySampleError(path, "HiggsML CSV has a header but no data rows (empty sample)")
    write_root(output_path, {EVENTS_TREE: itertools.chain([first], stream)})
    summary["output"] = str(output_path)
    return summary


def _higgsml_branches(
    path: str, frame: pd.DataFrame, *, first_row: int, summary: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Branches of one CSV chunk; updates ``summary`` in place.

    Args:
        path: The CSV (for error messages).
        frame: The chunk.
        first_row: Data-row number (1-based) of the chunk's first row.
        summary: Running totals.

    Returns:
        Branch name -> array.
    """
    rows = f"data rows {first_row}-{first_row + len(frame) - 1}"
    numeric = [c for c in ("EventId", *HIGGSML_FEATURES, "Weight", "KaggleWeight") if c in frame.columns]
    values = frame[numeric].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        counts = bad.sum(axis=0)
        named = ", ".join(
            f"{c} ({n} rows, first data row {first_row + int(np.argmax(bad[:, k]))})"
            for k, (c, n) in enumerate(zip(numeric, counts, strict=True))
            if n
        )
        raise InputFileError(path, f"empty or non-finite values in {rows}: {named}")
    event_id = frame["EventId"].to_numpy(dtype=np.float64)
    if np.any(event_id != np.round(event_id)):
        raise InputFileError(path, f"EventId holds non-integer values in {rows}")
    jet_num = frame["PRI_jet_num"].to_numpy(dtype=np.float64)
    if np.any(jet_num != np.round(jet_num)):
        raise InputFileError(path, f"PRI_jet_num holds non-integer values in {rows}")

    label = _map_codes(path, frame["Label"], HIGGSML_LABELS, "Label", rows)
    branches: dict[str, np.ndarray] = {"EventId": event_id.astype(np.int64)}
    for column in HIGGSML_FEATURES:
        dtype = np.int32 if column in _INT32_FEATURES else np.float64
        branches[column] = frame[column].to_numpy(dtype=np.float64).astype(dtype)
    weight = frame["Weight"].to_numpy(dtype=np.float64)
    branches["weight"] = weight
    branches["label"] = label
    if "KaggleSet" in frame.columns:
        branches["kaggle_set"] = _map_codes(path, frame["KaggleSet"], HIGGSML_KAGGLE_SETS, "KaggleSet", rows)
    if "KaggleWeight" in frame.columns:
        branches["kaggle_weight"] = frame["KaggleWeight"].to_numpy(dtype=np.float64)

    n_signal = int(np.count_nonzero(label))
    summary["rows"] += len(frame)
    summary["signal_rows"] += n_signal
    summary["background_rows"] += len(frame) - n_signal
    summary["sum_weights"] += float(weight.sum())
    return branches


def _map_codes(path: str, column: pd.Series, codes: dict[str, int], name: str, rows: str) -> np.ndarray:
    """Map a column of one-letter codes to int32, raising InputFileError naming unknown values and their counts.

    Args:
        path: The input file (for error messages).
        column: The codes.
        codes: Code -> integer.
        name: Column name (for error messages).
        rows: Description of the rows (for error messages).

    Returns:
        int32 array.
    """
    text = column.astype(str).str.strip()
    mapped = text.map(codes)
    unknown = mapped.isna().to_numpy()
    if unknown.any():
        counts = text[unknown].value_counts()
        listed = ", ".join(f"{value!r} ({count} rows)" for value, count in counts.items())
        allowed = "/".join(codes)
        raise InputFileError(path, f"{name} must be one of {allowed}; found {listed} in {rows}")
    return mapped.to_numpy(dtype=np.int32)


def _csv_header(path: str) -> list[str]:
    """Column names of a CSV file.

    Args:
        path: The CSV.

    Returns:
        The names.

    Raises:
        EmptySampleError: the file is empty.
        InputFileError: the file cannot be read as CSV.
    """
    try:
        header = pd.read_csv(path, nrows=0)
    except pd.errors.EmptyDataError as error:
        raise EmptySampleError(path, "file is empty (no header line, no data rows)") from error
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise InputFileError(path, f"not a readable CSV file ({_first_line(error)})") from error
    return [str(name) for name in header.columns]


# ----------------------------------------------------------------------------------------------------------------
# TopLandscape HDF5
# ----------------------------------------------------------------------------------------------------------------


def convert_toplandscape_hdf5(
    h5_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    key: str = "table",
    max_constituents: int = 200,
    chunk_rows: int = 100_000,
) -> dict[str, Any]:
    """Convert a TopLandscape HDF5 file into the top-tagging jet schema (module docstring).

    Constituents are the slots with ``E > 0`` (zero padding dropped), in the file's order (pT-ordered), truncated to
    ``max_constituents``. The jet four-vector is the sum of all non-padded constituents (before truncation, as for
    a jet of :mod:`ml4hep.generate.toptag`), with ``jet_phi`` in [-pi, pi] and
    ``jet_mass = sqrt(max(E^2 - p^2, 0))``; a row without any constituent gets a zero four-vector (pT, eta, phi and
    mass 0).

    Args:
        h5_path: The HDF5 file (pandas HDFStore; ``table`` format, ``fixed`` also works but reads all columns).
        output_path: ROOT file to write (written atomically).
        key: Key of the table in the store.
        max_constituents: Constituents kept per jet.
        chunk_rows: Jets read and written per chunk.

    Returns:
        Summary: ``jets``, ``signal_jets``, ``background_jets``, ``constituent_slots`` (slots in the file) and
        ``output`` (the written path).

    Raises:
        InputFileError: the file is missing or not HDF5, lacks ``key`` (the keys present are named), lacks
            constituent or label columns, or has a label other than 0/1.
        EmptySampleError: the table holds no jets.
    """
    path = str(h5_path)
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    if max_constituents < 1:
        raise ConfigError(f"max_constituents must be a positive number of constituents, got {max_constituents}")
    _require_file(path)
    check_output_path(output_path, path)
    try:
        store = pd.HDFStore(path, mode="r")
    except Exception as error:  # tables raises HDF5ExtError, OSError, ... for non-HDF5 bytes
        raise InputFileError(path, f"not a readable HDF5 file ({_last_line(error)})") from error
    with store:
        node = "/" + key.strip("/")
        keys = [k for k in store.keys() if k != "/"]
        if node not in keys:
            raw = sorted(n._v_pathname for n in store._handle.walk_nodes("/") if n._v_pathname != "/")
            if node in raw:
                raise InputFileError(
                    path,
                    f"node '{node}' is not a pandas table (a plain HDF5 node, e.g. written by "
                    "h5py; TopLandscape files are pandas HDFStore tables, df.to_hdf(..., "
                    "format='table'))",
                )
            raise InputFileError(
                path,
                f"no key '{key}' in the HDF5 file (pandas keys present: {keys or 'none'}; "
                f"HDF5 nodes: {raw[:10] or 'none'})",
            )
        try:
            storer = store.get_storer(node)
            head = store.select(node, start=0, stop=0)
        except Exception as error:
            raise InputFileError(path, f"key '{key}' is not a pandas table ({_first_line(error)})") from error
        n_slots, columns = _toplandscape_columns(path, key, [str(c) for c in head.columns])
        is_table = bool(getattr(storer, "is_table", False))
        n_rows = int(storer.nrows) if is_table else None
        summary: dict[str, Any] = {"jets": 0, "signal_jets": 0, "background_jets": 0, "constituent_slots": n_slots}

        def chunks() -> Iterator[dict[str, Any]]:
            start = 0
            while n_rows is None or start < n_rows:
                try:
                    frame = store.select(
                        node, start=start, stop=start + chunk_rows, columns=columns if is_table else None
                    )
                except Exception as error:
                    raise InputFileError(
                        path, f"cannot read rows {start}-{start + chunk_rows} of key '{key}' ({_first_line(error)})"
                    ) from error
                if len(frame) == 0:
                    return
                yield _toplandscape_branches(path, frame, n_slots, max_constituents, start, summary)
                start += len(frame)
                if len(frame) < chunk_rows:
                    return

        stream = chunks()
        first = next(stream, None)
        if first is None:
            raise EmptySampleError(path, f"table '{key}' has no rows (empty sample)")
        write_root(output_path, {EVENTS_TREE: itertools.chain([first], stream)})
    summary["output"] = str(output_path)
    return summary


def _toplandscape_columns(path: str, key: str, present: Sequence[str]) -> tuple[int, list[str]]:
    """Find the number of constituent slots and the columns to read.

    Args:
        path: The HDF5 file (for error messages).
        key: The table's key (for error messages).
        present: Columns of the table.

    Returns:
        (slots n, columns ``E_0..E_{n-1}``, ``PX_...``, ``PY_...``, ``PZ_...``, ``is_signal_new``).
    """
    have = set(present)
    e_slots = {int(m.group(1)) for c in present if (m := re.fullmatch(r"E_(\d+)", c))}
    n_slots = 0
    while n_slots in e_slots:
        n_slots += 1
    missing: list[str] = []
    if n_slots == 0:
        missing.append("E_0 (no constituent columns E_0, E_1, ...)")
    for component in TOPLANDSCAPE_COMPONENTS[1:]:
        lacking = [f"{component}_{i}" for i in range(n_slots) if f"{component}_{i}" not in have]
        if len(lacking) > 5:
            missing.append(f"{', '.join(lacking[:5])} and {len(lacking) - 5} more {component}_* columns")
        elif lacking:
            missing.extend(lacking)
    if TOPLANDSCAPE_LABEL not in have:
        missing.append(TOPLANDSCAPE_LABEL)
    if missing:
        raise InputFileError(path, f"table '{key}' is not TopLandscape: missing column(s) {', '.join(missing)}")
    columns = [f"{component}_{i}" for component in TOPLANDSCAPE_COMPONENTS for i in range(n_slots)]
    return n_slots, [*columns, TOPLANDSCAPE_LABEL]


def _toplandscape_branches(
    path: str, frame: pd.DataFrame, n_slots: int, max_constituents: int, start: int, summary: dict[str, Any]
) -> dict[str, Any]:
    """Jet branches of one chunk; updates ``summary`` in place.

    Args:
        path: The HDF5 file (for error messages).
        frame: The chunk.
        n_slots: Constituent slots per row.
        max_constituents: Constituents kept per jet.
        start: Row number (0-based) of the chunk's first row.
        summary: Running totals.

    Returns:
        Branch name -> array (constituents as the awkward record field ``part``).
    """
    comp = {c: frame[[f"{c}_{i}" for i in range(n_slots)]].to_numpy(dtype=np.float64) for c in TOPLANDSCAPE_COMPONENTS}
    for component, values in comp.items():
        bad = ~np.isfinite(values)
        if bad.any():
            row, slot = np.argwhere(bad)[0]
            last = start + len(frame) - 1
            raise InputFileError(
                path,
                f"column {component}_{slot} holds {float(values[row, slot])!r} at row "
                f"{start + row} ({int(bad.sum())} non-finite value(s) in rows {start}-{last}); "
                "constituents must be finite (padding is E = 0)",
            )
    real = comp["E"] > 0
    label_values = frame[TOPLANDSCAPE_LABEL].to_numpy(dtype=np.float64)
    bad = ~np.isin(label_values, (0.0, 1.0))
    if bad.any():
        found = ", ".join(repr(v) for v in np.unique(label_values[bad])[:5].tolist())
        raise InputFileError(
            path,
            f"{TOPLANDSCAPE_LABEL} must be 0 or 1; found {found} in {int(bad.sum())} rows of rows {start}-"
            f"{start + len(frame) - 1}",
        )

    e, px, py, pz = (np.where(real, comp[c], 0.0).sum(axis=1) for c in TOPLANDSCAPE_COMPONENTS)
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(pz / pt), np.sign(pz) * np.inf)
    eta = np.where((pt > 0) | (pz != 0), eta, 0.0)
    phi = np.arctan2(py, px)
    mass = np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))

    rank = np.cumsum(real, axis=1)
    kept = real & (rank <= max_constituents)
    counts = kept.sum(axis=1)
    part = ak.zip(
        {_PART_FIELDS[c]: ak.unflatten(comp[c][kept], counts) for c in TOPLANDSCAPE_COMPONENTS},
    )
    label = label_values.astype(np.int32)

    n_signal = int(np.count_nonzero(label))
    summary["jets"] += len(frame)
    summary["signal_jets"] += n_signal
    summary["background_jets"] += len(frame) - n_signal
    return {
        "jet_pt": pt,
        "jet_eta": eta,
        "jet_phi": phi,
        "jet_mass": mass,
        TOPLANDSCAPE_LABEL: label,
        "weight": np.ones(len(frame), dtype=np.float64),
        "part": part,
    }


# ----------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------


def _require_file(path: str) -> None:
    """Raise InputFileError unless ``path`` is an existing regular file.

    Args:
        path: Input path.
    """
    if not os.path.exists(path):
        raise InputFileError(path, "file does not exist")
    if not Path(path).is_file():
        raise InputFileError(path, "not a regular file")


def _first_line(error: BaseException) -> str:
    """Return the first non-empty line of an exception message, with its type."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _last_line(error: BaseException) -> str:
    """Return the last non-empty line of an exception message, with its type (HDF5 errors end with it)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}".rstrip(": ")
