"""SLHA1 input files of pMSSM-19 points (read and written with pyslha).

Input blocks: ``MINPAR`` (3: tan beta) and ``EXTPAR`` (1, 2, 3: M1, M2, M3; 11, 12, 13: At, Ab, Atau; 23: mu;
25: tan beta; 26: MA pole mass; 31-36: slepton soft masses mL1, mL2, mL3, mE1, mE2, mE3; 41-49: squark soft masses
mQ1, mQ2, mQ3, mU1, mU2, mU3, mD1, mD2, mD3). In the 19-parameter model the second generation equals the first:
entries 32, 35, 42, 45, 48 are written and, when read, ignored in favour of the first generation. ``tan beta`` is
read from ``EXTPAR 25`` or, when absent, from ``MINPAR 3``. A missing block or parameter raises
:class:`SLHAError` naming it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ml4hep.errors import InputFileError
from ml4hep.susy.parameters import PARAMETERS

EXTPAR: dict[str, int] = {
    "M1": 1,
    "M2": 2,
    "M3": 3,
    "At": 11,
    "Ab": 12,
    "Atau": 13,
    "mu": 23,
    "mA": 26,
    "mL1": 31,
    "mL3": 33,
    "mE1": 34,
    "mE3": 36,
    "mQ1": 41,
    "mQ3": 43,
    "mU1": 44,
    "mU3": 46,
    "mD1": 47,
    "mD3": 49,
}
"""pMSSM-19 parameter -> EXTPAR index (tan beta: EXTPAR 25 or MINPAR 3)."""

SECOND_GENERATION: dict[int, str] = {32: "mL1", 35: "mE1", 42: "mQ1", 45: "mU1", 48: "mD1"}
"""EXTPAR index of a second-generation soft mass -> the first-generation parameter it equals."""


class SLHAError(InputFileError):
    """An SLHA file is unreadable or lacks a block or a parameter of the pMSSM-19 input."""


def point_document(point: Mapping[str, float], spectrum: Mapping[str, float] | None = None) -> object:
    """The pyslha document of one point (MODSEL, MINPAR, EXTPAR, and MASS when a spectrum is given)."""
    import pyslha

    blocks = pyslha._dict("Blocks")
    modsel = pyslha.Block("MODSEL")
    modsel[1] = 0  # general MSSM at the input scale
    blocks["MODSEL"] = modsel
    minpar = pyslha.Block("MINPAR")
    minpar[3] = float(point["tanb"])
    blocks["MINPAR"] = minpar
    extpar = pyslha.Block("EXTPAR")
    extpar[0] = -1.0  # parameters given at the EWSB scale
    for name, index in EXTPAR.items():
        extpar[index] = float(point[name])
    extpar[25] = float(point["tanb"])
    for index, name in SECOND_GENERATION.items():
        extpar[index] = float(point[name])
    blocks["EXTPAR"] = pyslha.Block("EXTPAR", entries=dict(sorted(extpar.entries.items())))
    if spectrum:
        mass = pyslha.Block("MASS")
        for pdg, value in spectrum.items():
            mass[int(pdg)] = float(value)
        blocks["MASS"] = mass
    return pyslha.Doc(blocks)


def write_slha(
    path: str | os.PathLike[str], point: Mapping[str, float], spectrum: Mapping[int, float] | None = None
) -> Path:
    """Write one pMSSM-19 point as an SLHA1 input file.

    Args:
        path: Output file.
        point: Parameter -> value (the 19 of :data:`~ml4hep.susy.scan.PARAMETERS`).
        spectrum: Optional PDG id -> tree-level mass, written as block MASS.

    Returns:
        The path.
    """
    import pyslha

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pyslha.write(str(path), point_document(point, spectrum))
    return path


def read_slha(path: str | os.PathLike[str]) -> dict[str, float]:
    """Read the pMSSM-19 parameters of one SLHA file.

    Args:
        path: SLHA1 file with blocks MINPAR and/or EXTPAR.

    Returns:
        Parameter -> value.

    Raises:
        SLHAError: the file is missing or not parseable, or lacks EXTPAR, tan beta or an EXTPAR entry (named).
    """
    import pyslha

    path = str(path)
    if not os.path.exists(path):
        raise SLHAError(path, "file does not exist")
    duplicate = _first_duplicate(path)
    if duplicate:
        raise SLHAError(path, duplicate)
    try:
        doc = pyslha.read(path, ignorenomass=True)
    except Exception as error:  # pyslha.ParseError, ValueError on malformed numbers, ...
        raise SLHAError(path, f"not a readable SLHA file ({type(error).__name__}: {error})") from error
    blocks = {name.upper(): block for name, block in doc.blocks.items()}
    if "EXTPAR" not in blocks:
        raise SLHAError(path, f"missing block EXTPAR (blocks in the file: {', '.join(sorted(blocks)) or 'none'})")
    extpar = blocks["EXTPAR"]
    point: dict[str, float] = {}
    missing = [f"EXTPAR {index} ({name})" for name, index in EXTPAR.items() if index not in extpar]
    if missing:
        raise SLHAError(path, f"missing parameter(s) {', '.join(missing)}")
    for name, index in EXTPAR.items():
        point[name] = _number(path, extpar[index], f"EXTPAR {index} ({name})")
    if 25 in extpar:
        point["tanb"] = _number(path, extpar[25], "EXTPAR 25 (tanb)")
    elif "MINPAR" in blocks and 3 in blocks["MINPAR"]:
        point["tanb"] = _number(path, blocks["MINPAR"][3], "MINPAR 3 (tanb)")
    else:
        where = "block MINPAR" if "MINPAR" not in blocks else "MINPAR 3"
        raise SLHAError(path, f"missing tan beta: neither EXTPAR 25 nor MINPAR 3 is given ({where} is missing)")
    return {name: point[name] for name in PARAMETERS}


def _number(path: str, value: object, what: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise SLHAError(path, f"{what} is not a number: {value!r}") from error
    if not np.isfinite(number):
        raise SLHAError(path, f"{what} is not finite: {value!r}")
    return number


def _first_duplicate(path: str) -> str | None:
    """A duplicated block, or a duplicated entry of MINPAR/EXTPAR, described in words (None: none).

    pyslha keeps the last value of a repeated entry and may drop a repeated block's entries, so a file with either
    would be read silently wrong: it is refused instead.
    """
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return None
    blocks: dict[str, int] = {}
    entries: dict[tuple[str, str], int] = {}
    block = None
    for number, raw in enumerate(lines, start=1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0].upper() in ("BLOCK", "DECAY"):
            block = words[1].upper() if len(words) > 1 and words[0].upper() == "BLOCK" else None
            if block is not None:
                if block in blocks:
                    return f"block {block} appears twice (lines {blocks[block]} and {number})"
                blocks[block] = number
        elif block in ("MINPAR", "EXTPAR") and len(words) >= 2:
            key = (block, words[0])
            if key in entries:
                return f"entry {block} {words[0]} appears twice (lines {entries[key]} and {number})"
            entries[key] = number
    return None
