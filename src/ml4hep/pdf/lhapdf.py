"""The fitted PDF ensemble (and the closure truth) as LHAPDF6 sets, on an (x, Q) grid from Q0 upward.

A set is a folder ``<name>/`` with ``<name>.info`` (YAML metadata) and one ``<name>_NNNN.dat`` per member in
LHAPDF's ``lhagrid1`` format: member 0 is the mean of the replicas (LHAPDF's convention for ``ErrorType:
replicas``), members 1..N the replicas of the first fit (in closure mode with several fits, the first fit's
ensemble, as the band plots show it). The closure truth (the Les Houches toy PDFs at Q0) is a one-member set of
its own, evolved the same way.

The grid: x on the fit's interpolation grid (the FK tables' x-grid, 1e-5 to 1), Q on the knots of
:func:`ml4hep.pdf.theory.lhapdf_subgrids` (Q0, the configured ``pdf.lhapdf.q_knots`` and the b threshold, where
one subgrid ends and the next begins). The values are x f(x, Q) of the flavours
:data:`ml4hep.pdf.theory.LHAPDF_PIDS`, computed with the evolution operators from Q0 to every knot that eko built
once for the theory settings (``theory/fk/<hash>/LHAPDF-<knots hash>.npz``, versioned like the FK tables); alpha_s
is tabulated on the same knots (``AlphaS_Type: ipol``).

Use it as any LHAPDF set::

    export LHAPDF_DATA_PATH=$PWD/results/pdf/lhapdf:$LHAPDF_DATA_PATH
    python -c "import lhapdf; print(lhapdf.mkPDF('ml4hep_pdf', 0).xfxQ(21, 0.01, 100.0))"

or with the pure-Python reader ``parton``: ``parton.mkPDF('ml4hep_pdf', 0, pdfdir='results/pdf/lhapdf')``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.errors import ConfigError, InputFileError
from ml4hep.pdf.theory import INPUT_PIDS, LHAPDF_PIDS, ORDERS, lhapdf_subgrids, load_table

LHAPDF_FORMAT_VERSION = 1
"""Bump when the content or layout of an LHAPDF evolution file changes (it enters the file's name)."""


def lhapdf_table_name(q_knots: Sequence[float]) -> str:
    """Name of the evolution file for these Q knots (in the theory settings' folder), e.g. ``LHAPDF-1a2b3c4d``.

    Example:
        >>> lhapdf_table_name([10.0, 100.0]) == lhapdf_table_name([10, 100])
        True
    """
    text = json.dumps({"format": LHAPDF_FORMAT_VERSION, "q_knots": [float(q) for q in q_knots]})
    return f"LHAPDF-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


MIN_SUBGRID_KNOTS = 4
"""Knots a subgrid needs for LHAPDF's (and parton's) cubic interpolation in ln Q^2."""


def check_q_knots(settings: Mapping[str, Any], q_knots: Sequence[float]) -> None:
    """Refuse Q knots that leave a subgrid with fewer than :data:`MIN_SUBGRID_KNOTS` knots.

    Raises:
        ConfigError: Naming the subgrid's range and the config key.
    """
    for grid in lhapdf_subgrids(settings, q_knots):
        if len(grid) < MIN_SUBGRID_KNOTS:
            raise ConfigError(
                f"config key 'pdf.lhapdf.q_knots': the subgrid from {grid[0][0]:g} to {grid[-1][0]:g} GeV has "
                f"{len(grid)} knot(s) (Q0 and the thresholds included); cubic interpolation needs {MIN_SUBGRID_KNOTS}"
            )


def evolved_grids(pdf_grid: np.ndarray, table: Mapping[str, np.ndarray]) -> np.ndarray:
    """The momentum densities x f on the LHAPDF grid, from PDFs at Q0 in the fit basis.

    Args:
        pdf_grid: f (not x f) in :data:`ml4hep.pdf.truth.FIT_BASIS` on the table's x-grid, shape (members, 6, nx).
        table: An LHAPDF evolution file (:func:`ml4hep.pdf.theory.build_lhapdf_evolution`).

    Returns:
        x f of shape (members, knots, :data:`LHAPDF_PIDS`, nx).
    """
    from ml4hep.pdf.truth import rotation  # imported here: pdf.smk imports this module at every parse (scipy)

    flavours_q0 = np.einsum("ab,mbk->mak", rotation(), pdf_grid)
    evolved = np.einsum("qpjak,mak->mqpj", table["operator"], flavours_q0)
    return table["xgrid"][None, None, None, :] * evolved


def _numbers(values: np.ndarray) -> str:
    return " ".join(f"{v:.12e}" for v in np.asarray(values, float))


def member_text(xf: np.ndarray, table: Mapping[str, np.ndarray], header: Mapping[str, Any]) -> str:
    """One member's ``.dat`` file in ``lhagrid1`` format.

    Args:
        xf: x f of the member, shape (knots, flavours, nx).
        table: The LHAPDF evolution file (knots, subgrids, x-grid).
        header: The member's YAML header (``PdfType``, ...).

    Returns:
        The file's text: the header, then one block per subgrid (x knots, Q knots, flavours, then one line of
        flavour values per (x, Q) with Q running fastest).
    """
    lines = [*(f"{key}: {value}" for key, value in header.items()), "Format: lhagrid1", "---"]
    subgrid = np.asarray(table["subgrid"])
    for number in np.unique(subgrid):
        knots = np.flatnonzero(subgrid == number)
        lines += [_numbers(table["xgrid"]), _numbers(table["q"][knots]), " ".join(map(str, LHAPDF_PIDS))]
        block = xf[knots]  # (knots, flavours, nx)
        lines += [_numbers(block[q, :, ix]) for ix in range(block.shape[2]) for q in range(block.shape[0])]
        lines.append("---")
    return "\n".join(lines) + "\n"


def info_text(description: str, members: int, table: Mapping[str, np.ndarray], options: Mapping[str, Any]) -> str:
    """The set's ``.info`` file (YAML).

    Args:
        description: ``SetDesc``.
        members: Number of members (mean and replicas).
        table: The LHAPDF evolution file.
        options: The config's ``pdf`` block (theory settings: order, masses, alpha_s).
    """
    theory = options["theory"]
    masses = theory["masses"]
    entries: dict[str, Any] = {
        "SetDesc": json.dumps(description),
        "SetIndex": 0,
        "Authors": json.dumps("ml4hep"),
        "Reference": json.dumps("ml4hep workflow (NNPDF-style replicas)"),
        "Format": "lhagrid1",
        "DataVersion": 1,
        "NumMembers": members,
        "Particle": 2212,
        "Flavors": "[" + ", ".join(map(str, LHAPDF_PIDS)) + "]",
        "OrderQCD": ORDERS[theory["order"]],
        "FlavorScheme": "variable",
        "NumFlavors": int(max(table["nf"])),
        "ErrorType": "replicas",
        "XMin": f"{float(table['xgrid'][0]):.12e}",
        "XMax": f"{float(table['xgrid'][-1]):.12e}",
        "QMin": f"{float(table['q'][0]):.12e}",
        "QMax": f"{float(table['q'][-1]):.12e}",
        "MZ": float(theory["mz"]),
        "MUp": 0.0,
        "MDown": 0.0,
        "MStrange": 0.0,
        "MCharm": float(masses["c"]),
        "MBottom": float(masses["b"]),
        "MTop": float(masses["t"]),
        "AlphaS_MZ": float(theory["alphas_mz"]),
        "AlphaS_OrderQCD": ORDERS[theory["order"]],
        "AlphaS_Type": "ipol",
        "AlphaS_Qs": "[" + ", ".join(f"{q:.12e}" for q in table["q"]) + "]",
        "AlphaS_Vals": "[" + ", ".join(f"{a:.12e}" for a in table["alphas"]) + "]",
    }
    return "".join(f"{key}: {value}\n" for key, value in entries.items())


def write_set(
    folder: str | Path,
    name: str,
    xf: np.ndarray,
    table: Mapping[str, np.ndarray],
    options: Mapping[str, Any],
    *,
    description: str,
    replicas: bool = True,
) -> Path:
    """Write one LHAPDF6 set into ``folder/name`` (replaced whole: a half-written set never stays).

    Args:
        folder: Parent folder (LHAPDF_DATA_PATH entry).
        name: Set name.
        xf: x f per member, shape (members, knots, flavours, nx): the replicas, or the single truth member.
        table: The LHAPDF evolution file.
        options: The config's ``pdf`` block.
        description: ``SetDesc``.
        replicas: Whether ``xf`` holds replicas (member 0 becomes their mean) or one central member.

    Returns:
        The set's folder.
    """
    target = Path(folder) / name
    partial = Path(folder) / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    members = [("central", xf.mean(axis=0) if replicas else xf[0])]
    if replicas:
        members += [("replica", member) for member in xf]
    for number, (kind, values) in enumerate(members):
        header: dict[str, Any] = {"PdfType": kind}
        if kind == "replica":
            header["FromMCReplica"] = number
        (partial / f"{name}_{number:04d}.dat").write_text(member_text(values, table, header))
    (partial / f"{name}.info").write_text(info_text(description, len(members), table, options))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def write_lhapdf_sets(
    ensemble_file: str | Path,
    table_file: str | Path,
    options: Mapping[str, Any],
    fit_set: str | Path,
    truth_set: str | Path | None = None,
) -> dict[str, Any]:
    """The ``pdf_lhapdf`` rule: the ensemble's LHAPDF set and, in closure mode, the truth's.

    Args:
        ensemble_file: The postfit ensemble (``pdf_grid``: f at Q0 per kept replica, ``fit``: its closure fit).
        table_file: The LHAPDF evolution file of the theory settings and Q knots.
        options: The config's ``pdf`` block.
        fit_set: Folder of the fitted set (its name is the folder's name).
        truth_set: Folder of the truth's set (None: none written).

    Returns:
        Summary: members, knots, x points and the folders written.

    Raises:
        InputFileError: The evolution file is of other Q knots or another x-grid than the ensemble's.
    """
    from ml4hep.pdf.postfit import load_ensemble

    table = load_table(table_file)
    ensemble = load_ensemble(ensemble_file)
    knots = [float(q) for q in options["lhapdf"]["q_knots"]]
    if not np.array_equal(table["q_knots"], knots):
        raise InputFileError(str(table_file), f"built for Q knots {table['q_knots'].tolist()}, not {knots}")
    if tuple(table["input_pids"]) != INPUT_PIDS or tuple(table["output_pids"]) != LHAPDF_PIDS:
        raise InputFileError(str(table_file), "holds other flavours than this version of ml4hep writes (rebuild it)")
    if not np.allclose(table["xgrid"], ensemble["xgrid"], rtol=1e-12, atol=0):
        raise InputFileError(str(table_file), "x-grid differs from the ensemble's (other theory settings?)")
    first = ensemble["fit"] == 0
    order = options["theory"]["order"]
    fit_set, written = Path(fit_set), []
    xf = evolved_grids(ensemble["pdf_grid"][first], table)
    written.append(
        write_set(
            fit_set.parent,
            fit_set.name,
            xf,
            table,
            options,
            description=f"ml4hep {order} fit, {int(first.sum())} replicas, Q0 = {options['theory']['q0']} GeV",
        )
    )
    if truth_set is not None:
        from ml4hep.pdf.truth import truth_on_grid

        truth = evolved_grids(truth_on_grid(table["xgrid"], options["closure"]["truth"])[None], table)
        truth_set = Path(truth_set)
        written.append(
            write_set(
                truth_set.parent,
                truth_set.name,
                truth,
                table,
                options,
                replicas=False,
                description=f"Les Houches toy PDFs at Q0 = {options['theory']['q0']} GeV (closure truth), {order}",
            )
        )
    return {
        "members": int(first.sum()) + 1,
        "knots": len(table["q"]),
        "x_points": len(table["xgrid"]),
        "sets": [str(path) for path in written],
    }
