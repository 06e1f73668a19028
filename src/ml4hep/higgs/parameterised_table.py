"""The AUC-vs-mass curves and table of the mass-parameterised networks, and what their render step needs (no torch).

The compute step (:mod:`ml4hep.higgs.parameterised`) writes the curve rows (one per mass and network) and the
table rows (one per mass) into its metrics JSON; the render rule (``higgs_parameterised_plots``) writes the table,
the curves' CSV and the figure from them with this module and :func:`ml4hep.plots.higgs_mass.plot_auc_vs_mass`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ml4hep.tables import Column, write_table

NETWORKS = ("parameterised", "dedicated", "unparameterised")
DISPLAY_NAMES = {"parameterised": "Parameterised", "dedicated": "Dedicated", "unparameterised": "Unparameterised"}
MASS_TOLERANCE_GEV = 1e-3
"""Two masses closer than this are the same generated mass."""


def same_mass(a: float, b: float) -> bool:
    """Whether two masses are the same generated mass (within :data:`MASS_TOLERANCE_GEV`)."""
    return abs(float(a) - float(b)) <= MASS_TOLERANCE_GEV


def mass_label(mass: float) -> str:
    """A mass as written in names, keys and labels (``400`` for 400.0 GeV).

    Example:
        >>> mass_label(400.0), mass_label(312.5)
        ('400', '312.5')
    """
    return f"{float(mass):g}"


def write_auc_table(
    rows: Sequence[Mapping[str, Any]], csv_path: str | Path, md_path: str | Path, tex_path: str | Path | None = None
) -> None:
    """AUC per generated mass (rows) and network (columns), the left-out mass marked.

    Args:
        rows: ``mass``, ``left_out``, ``n_signal``, ``n_background`` and one AUC per network (NaN: not trained).
        csv_path: CSV file (NaN written as empty).
        md_path: Markdown file (the left-out row marked "(left out)", a missing AUC as "–").
        tex_path: LaTeX file (optional).
    """

    def mass(row: Mapping[str, Any]) -> str:
        return f"**{mass_label(row['mass'])} (left out)**" if row["left_out"] else mass_label(row["mass"])

    def auc_cell(name: str) -> Column:
        return Column(
            f"AUC {DISPLAY_NAMES[name].lower()}", lambda row: f"{row[name]:.4f}" if math.isfinite(row[name]) else "–"
        )

    write_table(
        rows,
        [Column("Mass [GeV]", mass, align="l"), *(auc_cell(n) for n in NETWORKS)],
        csv=csv_path,
        md=md_path,
        tex=tex_path,
        csv_keys=("mass", "left_out", *NETWORKS, "n_signal", "n_background"),
    )


def table_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of the AUC table from the parameterised metrics JSON (null AUCs read as NaN)."""
    return [
        {key: math.nan if value is None and key in NETWORKS else value for key, value in row.items()}
        for row in metrics["table"]
    ]


CURVE_KEYS = ("mass", "network", "kind", "trained_at_mass", "left_out", "auc", "n_signal", "n_background")
"""Columns of ``auc_vs_mass.csv`` (:func:`write_curve_table`), one row per mass and network."""


def table_from_curve(curve: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The AUC table's rows (one per mass) from the curve rows (one per mass and network).

    Args:
        curve: Rows of :func:`ml4hep.higgs.parameterised.curve_rows`.

    Returns:
        Per mass: ``mass``, ``left_out``, the AUC of the ``parameterised`` and ``unparameterised`` networks and of
        the ``dedicated`` one trained at that mass (NaN where none was), ``n_signal`` and ``n_background``.

    Example:
        >>> curve = [
        ...     {"mass": 300.0, "network": "parameterised", "kind": "parameterised", "trained_at_mass": True,
        ...      "left_out": False, "auc": 0.9, "n_signal": 5, "n_background": 9},
        ...     {"mass": 300.0, "network": "dedicated_m500", "kind": "dedicated", "trained_at_mass": False,
        ...      "left_out": False, "auc": 0.8, "n_signal": 5, "n_background": 9},
        ... ]
        >>> row = table_from_curve(curve)[0]
        >>> row["parameterised"], math.isnan(row["dedicated"]), math.isnan(row["unparameterised"])
        (0.9, True, True)
    """
    rows: list[dict[str, Any]] = []
    for mass in sorted({float(row["mass"]) for row in curve}):
        at_mass = [row for row in curve if same_mass(row["mass"], mass)]
        row: dict[str, Any] = {"mass": mass, "left_out": bool(at_mass[0]["left_out"])}
        for name in NETWORKS:
            kind = [r for r in at_mass if r["kind"] == name and (name != "dedicated" or r["trained_at_mass"])]
            row[name] = float(kind[0]["auc"]) if kind else math.nan
        row["n_signal"] = int(at_mass[0]["n_signal"])
        row["n_background"] = int(at_mass[0]["n_background"])
        rows.append(row)
    return rows


def auc_by_mass(curve: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Mass label -> network -> AUC: the table's three networks and every network of the curve by its key.

    ``dedicated`` is the network trained at that mass (NaN where none was); ``dedicated_m{mass}`` are the networks
    trained at one mass, at every mass.
    """
    table = {mass_label(row["mass"]): {name: row[name] for name in NETWORKS} for row in table_from_curve(curve)}
    for row in curve:
        table[mass_label(row["mass"])][str(row["network"])] = float(row["auc"])
    return table


def best_other_dedicated(curve: Sequence[Mapping[str, Any]], left_out: float) -> dict[str, Any]:
    """At the left-out mass, the best network trained at a single other mass.

    That is what the parameterised network is measured against when no sample exists at the mass searched for.

    Returns:
        ``best_other_dedicated`` (its key, None when there is none) and ``auc_best_other_dedicated`` (NaN then).
    """
    others = [
        row
        for row in curve
        if same_mass(row["mass"], left_out)
        and row["kind"] == "dedicated"
        and not row["trained_at_mass"]
        and math.isfinite(row["auc"])
    ]
    best = max(others, key=lambda row: row["auc"], default=None)
    return {
        "best_other_dedicated": None if best is None else str(best["network"]),
        "auc_best_other_dedicated": math.nan if best is None else float(best["auc"]),
    }


def curve_from_metrics(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The curve rows from the parameterised metrics JSON (null AUCs read as NaN)."""
    return [{**row, "auc": math.nan if row["auc"] is None else float(row["auc"])} for row in metrics["curve"]]


def write_curve_table(curve: Sequence[Mapping[str, Any]], csv_path: str | Path) -> None:
    """``auc_vs_mass.csv``: one row per mass and network (:data:`CURVE_KEYS`; a NaN AUC written as empty)."""
    write_table(
        curve,
        [Column(key, lambda row, key=key: str(row[key])) for key in CURVE_KEYS],
        csv=csv_path,
        csv_keys=CURVE_KEYS,
    )
