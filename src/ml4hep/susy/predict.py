"""Prediction for user points (the ``ml4hep susy predict`` command): SLHA files, folders of them, or tables.

Like the SUSY-AI web tool: for each point the class (excluded or allowed), P(allowed), the confidence (calibrated on
the validation split as SUSY-AI's, and the raw |2P - 1|) and the time.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.errors import InputFileError
from ml4hep.susy.classifiers import CLASSIFIERS, confidence, feature_names, features, p_allowed
from ml4hep.susy.confidence import Calibration
from ml4hep.susy.scan import PARAMETERS, read_points
from ml4hep.susy.slha import read_slha
from ml4hep.susy.spectrum import LSP_CODES, spectrum

log = logging.getLogger(__name__)


def collect_points(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Read points from SLHA files, folders of SLHA files (``*.slha``, ``*.spc``) and ROOT/CSV tables.

    Args:
        paths: Files or folders.

    Returns:
        (one name per point, parameter -> array).

    Raises:
        InputFileError: a path is missing, a folder holds no SLHA file, or a file lacks a block or parameter.
    """
    names: list[str] = []
    rows: list[Mapping[str, float]] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted([*path.glob("*.slha"), *path.glob("*.spc")])
            if not files:
                raise InputFileError(str(path), "folder holds no SLHA file (*.slha, *.spc)")
            for file in files:
                rows.append(read_slha(file))
                names.append(str(file))
        elif path.suffix.lower() in (".root", ".csv"):
            table = read_points(path)
            for i in range(len(table[PARAMETERS[0]])):
                rows.append({p: float(table[p][i]) for p in PARAMETERS})
                names.append(f"{path}[{i}]")
        else:
            rows.append(read_slha(path))
            names.append(str(path))
    return names, {p: np.array([row[p] for row in rows], dtype=np.float64) for p in PARAMETERS}


def point_flags(points: Mapping[str, np.ndarray], ranges: Mapping[str, Sequence[float]]) -> list[list[str]]:
    """Why a prediction is an extrapolation, per point.

    Flagged: parameters outside the training ranges, an LSP that is not the lightest neutralino, a tachyonic
    sfermion (SUSY-AI flags points outside its training region the same way).

    Args:
        points: Parameter -> array.
        ranges: Parameter -> [low, high] seen in training (``training_ranges`` of the classifier's info).

    Returns:
        One list of flags per point (empty: inside the training region).
    """
    n = len(points[PARAMETERS[0]])
    flags: list[list[str]] = [[] for _ in range(n)]
    for name, (low, high) in ranges.items():
        for i in np.flatnonzero((points[name] < low) | (points[name] > high)):
            flags[i].append(f"{name} = {points[name][i]:g} outside the training range [{low:g}, {high:g}]")
    lsp = spectrum({p: points[p] for p in PARAMETERS})["lsp"]
    for i in np.flatnonzero(lsp != 0):
        flags[i].append(f"LSP is a {LSP_CODES[int(lsp[i])]}" if lsp[i] > 0 else "tachyonic sfermion")
    return flags


def load_predictor(models_dir: str | os.PathLike[str], classifier: str) -> tuple[Any, str]:
    """The trained classifier and its input set (from ``{classifier}_info.json`` next to the model)."""
    model = Path(models_dir) / f"{classifier}{CLASSIFIERS.model_class(classifier).suffix}"
    info_path = Path(models_dir) / f"{classifier}_info.json"
    if not info_path.is_file():
        raise InputFileError(str(info_path), "training summary missing (run the workflow first)")
    names = json.loads(info_path.read_text()).get("feature_names", [])
    inputs = "parameters" if names == feature_names("parameters") else "parameters_and_masses"
    if names and names != feature_names(inputs):
        raise InputFileError(str(info_path), "the model's inputs are not a known input set")
    return CLASSIFIERS.load(classifier, model), inputs


def predict(
    paths: Sequence[str | os.PathLike[str]], models_dir: str | os.PathLike[str], classifier: str = "rf"
) -> list[dict[str, Any]]:
    """Classify points: one row per point with ``name``, ``class``, ``p_allowed``, ``confidence``, ``ms``.

    ``confidence`` is calibrated (the validation accuracy of the point's bin of P(allowed), from the classifier's
    info; None for a model trained before the calibration), ``raw_confidence`` is |2P - 1|. ``ms`` is the time per
    point of the classification (inputs from the parameters included), measured over the whole batch.
    """
    names, points = collect_points(paths)
    predictor, inputs = load_predictor(models_dir, classifier)
    start = time.perf_counter()
    allowed = p_allowed(predictor, features(points, inputs))
    ms = 1e3 * (time.perf_counter() - start) / max(len(names), 1)
    raw = confidence(allowed)
    info = json.loads((Path(models_dir) / f"{classifier}_info.json").read_text())
    calibrated = Calibration.from_dict(info["calibration"])(allowed) if "calibration" in info else [None] * len(raw)
    flags = point_flags(points, info.get("training_ranges", {}))
    for name, point_flag in zip(names, flags, strict=True):
        if point_flag:
            log.warning("%s: extrapolation (%s)", name, "; ".join(point_flag))
    return [
        {
            "name": name,
            "class": "allowed" if p >= 0.5 else "excluded",
            "p_allowed": float(p),
            "confidence": None if c is None else float(c),
            "raw_confidence": float(r),
            "ms": ms,
            "extrapolation": bool(f),
            "flags": f,
        }
        for name, p, c, r, f in zip(names, allowed, calibrated, raw, flags, strict=True)
    ]


def format_rows(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Printable lines: a header and one line per point."""
    width = max([len("point"), *(len(r["name"]) for r in rows)])
    lines = [f"{'point':<{width}}  {'class':<8}  P(allowed)  confidence  |2P - 1|  time/point"]
    lines += [
        f"{r['name']:<{width}}  {r['class']:<8}  {r['p_allowed']:10.3f}  {_number(r['confidence']):>10}  "
        f"{r['raw_confidence']:8.3f}  "
        f"{r['ms']:7.3f} ms" + ("  (extrapolation)" if r.get("extrapolation") else "")
        for r in rows
    ]
    return lines


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
