"""The AUC-vs-mass table of the mass-parameterised networks, and what its render step needs (no torch).

The compute step (:mod:`ml4hep.higgs.parameterised`) writes the rows into its metrics JSON; the render rule
(``higgs_parameterised_plots``) writes the table and the figure from them with this module and
:func:`ml4hep.plots.higgs.plot_auc_vs_mass`.
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
