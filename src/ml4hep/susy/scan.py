"""The pMSSM-19 parameter space: names, the SUSY-AI/ATLAS sampling ranges, seeded sampling, ROOT/CSV tables.

The 19 parameters (GeV, except ``tanb``) follow the ATLAS pMSSM scan used to train SUSY-AI (ATLAS,
arXiv:1508.06608, Table 1; SUSY-AI, arXiv:1605.02797): first and second generation soft masses are equal, A-terms
of the first two generations are zero. Points are drawn uniformly in the ranges below (signs of M1, mu and the
A-terms included), one seeded job per shard.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ml4hep.config import default_config
from ml4hep.errors import InputFileError
from ml4hep.io import read_tree, write_root
from ml4hep.susy.parameters import PARAMETERS
from ml4hep.susy.slha import write_slha

POINTS_TREE = "points"
"""TTree name of scan and label files."""

MIN_ABS_MU = 80.0
"""|mu| below this is excluded by LEP chargino searches and not sampled (as in the ATLAS scan)."""


def sample_points(n: int, seed: int, ranges: Mapping[str, Sequence[float]] | None = None) -> dict[str, np.ndarray]:
    """Draw ``n`` pMSSM-19 points uniformly in ``ranges``.

    Args:
        n: Number of points.
        seed: Seed of the generator (one per shard).
        ranges: Parameter -> (low, high); missing parameters take the schema's default ``susy.scan.ranges`` (the
            ATLAS pMSSM scan ranges of arXiv:1508.06608, Table 1).

    Returns:
        Parameter -> array of ``n`` values (float64).
    """
    rng = np.random.default_rng(seed)
    defaults = default_config()["susy"]["scan"]["ranges"]
    merged = {k: tuple(v) for k, v in {**defaults, **(ranges or {})}.items()}
    unknown = sorted(set(merged) - set(PARAMETERS))
    if unknown:
        raise ValueError(f"unknown pMSSM parameter(s) {unknown}; known: {', '.join(PARAMETERS)}")
    points = {}
    for name in PARAMETERS:
        low, high = (float(x) for x in merged[name])
        points[name] = rng.uniform(low, high, n)
    # |mu| >= MIN_ABS_MU: redraw the magnitude in the allowed part of the range, keep the sign
    low, high = (float(x) for x in merged["mu"])
    small = np.abs(points["mu"]) < MIN_ABS_MU
    if small.any() and max(abs(low), abs(high)) > MIN_ABS_MU:
        top = max(abs(low), abs(high))
        points["mu"][small] = np.sign(points["mu"][small] + 1e-300) * rng.uniform(MIN_ABS_MU, top, small.sum())
        points["mu"] = np.clip(points["mu"], low, high)
    return points


def shard_sizes(total: int, shards: int) -> list[int]:
    """Points per shard: ``total`` split as evenly as possible into ``shards`` jobs."""
    base, extra = divmod(int(total), int(shards))
    return [base + (1 if i < extra else 0) for i in range(int(shards))]


def write_points(
    path: str | os.PathLike[str], points: Mapping[str, np.ndarray], extra: Mapping[str, np.ndarray] | None = None
) -> Path:
    """Write points as the TTree ``points`` (one branch per parameter, plus ``extra`` branches)."""
    branches = {name: np.asarray(points[name], dtype=np.float64) for name in PARAMETERS}
    for key, value in (extra or {}).items():
        branches[key] = np.asarray(value)
    return write_root(path, {POINTS_TREE: branches})


def read_points(path: str | os.PathLike[str], extra: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Read a table of points: a ROOT file (TTree ``points``, one branch per parameter) or a CSV file.

    Args:
        path: ``.root`` or ``.csv`` (header with the parameter names; more columns are ignored).
        extra: Further columns to read.

    Returns:
        Column -> array.

    Raises:
        InputFileError: the file is missing, unreadable, lacks a parameter column or holds a NaN or an infinity.
    """
    path = str(path)
    columns = [*PARAMETERS, *extra]
    if path.lower().endswith(".csv"):
        table = _read_csv(path, columns)
    else:
        events = read_tree(path, columns, tree=POINTS_TREE)
        table = {name: np.asarray(events[name]) for name in columns}
    for name in PARAMETERS:
        bad = ~np.isfinite(table[name])
        if bad.any():
            row = int(np.argmax(bad))
            raise InputFileError(
                path,
                f"column {name} holds {float(table[name][row])!r} at row {row} "
                f"({int(bad.sum())} non-finite value(s)); every parameter must be finite",
            )
    return table


def _read_csv(path: str, columns: Sequence[str]) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise InputFileError(path, "file does not exist")
    with open(path, newline="") as stream:
        reader = csv.DictReader(stream)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise InputFileError(path, f"CSV lacks column(s) {', '.join(missing)} (columns: {', '.join(header)})")
        rows = [{k.strip(): v for k, v in row.items() if k is not None} for row in reader]
    if not rows:
        raise InputFileError(path, "CSV has no rows")
    out = {}
    for column in columns:
        try:
            out[column] = np.array([float(row[column]) for row in rows])
        except (TypeError, ValueError) as error:
            raise InputFileError(path, f"column {column}: not a number ({error})") from error
    return out


def write_csv(path: str | os.PathLike[str], points: Mapping[str, np.ndarray]) -> Path:
    """Write the points as a CSV table (header: the parameter names)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(PARAMETERS)
        for row in zip(*(points[name] for name in PARAMETERS), strict=True):
            writer.writerow([f"{float(v):.6g}" for v in row])
    return path


def scan_shard(
    n: int,
    seed: int,
    ranges: Mapping[str, Sequence[float]] | None,
    output: str | os.PathLike[str],
    slha_dir: str | os.PathLike[str] | None = None,
    first_id: int = 0,
) -> dict[str, float]:
    """One scan job: sample ``n`` points, write them as ROOT (and as SLHA files into ``slha_dir`` when given).

    Args:
        n: Points of this shard.
        seed: The shard's seed.
        ranges: Parameter ranges (config).
        output: ROOT file (TTree ``points``, one branch per parameter and ``point_id``).
        slha_dir: Folder for one SLHA input file per point (``point_{id}.slha``), or None.
        first_id: ``point_id`` of the first point (ids are unique over shards).

    Returns:
        Summary (points, seed).
    """
    points = sample_points(n, seed, ranges)
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    write_points(output, points, {"point_id": ids})
    if slha_dir is not None:
        Path(slha_dir).mkdir(parents=True, exist_ok=True)
        for i, point_id in enumerate(ids):
            write_slha(Path(slha_dir) / f"point_{point_id}.slha", {k: float(points[k][i]) for k in PARAMETERS})
    return {"points": int(n), "seed": int(seed)}
