"""Benchmark points of the SUSY scan and their recast statistical models as HistFactory JSON workspaces.

Three labelled points of the scan stand for the recast: an ``excluded`` one (the median observed CLs of the
excluded points), a ``borderline`` one (observed CLs closest to the 0.05 threshold) and an ``allowed`` one (the
median CLs of the allowed points that had a signal region to test). Each workspace is the counting model of the
point's best signal region exactly as :func:`ml4hep.susy.recast.cls_test` tests it (channel named after the region,
the configured observed count as the observation), so ``pyhf cls results/susy/workspaces/borderline.json`` prints
the recast's CLs of that point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.errors import InputFileError
from ml4hep.susy.recast import CLS_THRESHOLD, EXCLUDED, SIGNAL_REGIONS, counting_spec
from ml4hep.tables import Column, number, write_table

ROLES = ("excluded", "borderline", "allowed")
"""The benchmark points, in the order of the table."""

LABEL_COLUMNS = (
    "point_id",
    "best_region",
    "cls",
    "excluded",
    "m_gluino",
    "m_chi10",
    *(f"{kind}_{region}" for kind in ("s", "cls_obs", "cls_exp") for region in SIGNAL_REGIONS),
)


def read_labels(paths: Sequence[str | Path]) -> dict[str, np.ndarray]:
    """The recast columns :func:`choose_benchmarks` needs, of every label shard, concatenated."""
    from ml4hep.susy.scan import read_points

    shards = [read_points(path, extra=LABEL_COLUMNS) for path in paths]
    return {key: np.concatenate([shard[key] for shard in shards]) for key in LABEL_COLUMNS}


def _median_index(candidates: np.ndarray, cls: np.ndarray) -> int:
    """The candidate whose CLs is the median of the candidates' (the lower one of an even count)."""
    order = candidates[np.argsort(cls[candidates], kind="stable")]
    return int(order[(order.size - 1) // 2])


def choose_benchmarks(labels: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Row index of each benchmark point (see the module docstring); only points with a tested region count.

    A role without candidates (e.g. no excluded point in a small scan) takes the tested point nearest to it in
    CLs; the table says which label each point really has.

    Raises:
        InputFileError: If no point of the scan had a signal region to test.
    """
    cls = np.asarray(labels["cls"], dtype=float)
    tested = np.flatnonzero(np.asarray(labels["best_region"]) >= 0)
    if tested.size == 0:
        raise InputFileError("results/susy/labels", "no scan point has a signal region to test: no benchmark points")
    excluded = tested[np.asarray(labels["excluded"])[tested] == EXCLUDED]
    allowed = np.setdiff1d(tested, excluded)
    distance = np.abs(np.log(np.maximum(cls[tested], 1e-300) / CLS_THRESHOLD))  # CLs underflows to 0 far out
    borderline = int(tested[np.argmin(distance)])
    return {
        "excluded": _median_index(excluded, cls) if excluded.size else int(tested[np.argmin(cls[tested])]),
        "borderline": borderline,
        "allowed": _median_index(allowed, cls) if allowed.size else int(tested[np.argmax(cls[tested])]),
    }


def benchmark_workspace(
    labels: Mapping[str, np.ndarray], index: int, regions: Mapping[str, Mapping[str, float]], measurement: str
) -> dict[str, Any]:
    """The HistFactory workspace of the best signal region of point ``index``, as the recast tested it."""
    import pyhf

    region = SIGNAL_REGIONS[int(labels["best_region"][index])]
    config = regions[region]
    spec = counting_spec(
        float(labels[f"s_{region}"][index]), config["background"], config["background_uncertainty"], channel=region
    )
    workspace = {
        **spec,
        "observations": [{"name": region, "data": [float(config["observed"])]}],
        "measurements": [{"name": measurement, "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0",
    }
    pyhf.Workspace(workspace)  # schema validation
    return workspace


def benchmark_rows(
    labels: Mapping[str, np.ndarray], chosen: Mapping[str, int], regions: Mapping[str, Mapping[str, float]]
) -> list[dict[str, Any]]:
    """One row per benchmark point: masses, best region, its yields and the recast's CLs."""
    rows = []
    for role, i in chosen.items():
        region = SIGNAL_REGIONS[int(labels["best_region"][i])]
        rows.append(
            {
                "role": role,
                "point_id": int(labels["point_id"][i]),
                "m_gluino": float(labels["m_gluino"][i]),
                "m_chi10": float(labels["m_chi10"][i]),
                "region": region,
                "signal": float(labels[f"s_{region}"][i]),
                "background": float(regions[region]["background"]),
                "background_uncertainty": float(regions[region]["background_uncertainty"]),
                "observed": float(regions[region]["observed"]),
                "cls_obs": float(labels[f"cls_obs_{region}"][i]),
                "cls_exp": float(labels[f"cls_exp_{region}"][i]),
                "excluded": bool(labels["excluded"][i] == EXCLUDED),
            }
        )
    return rows


BENCHMARK_COLUMNS = [
    Column("Benchmark", "role", align="l"),
    Column("Point", "point_id"),
    Column("m_g̃ [GeV]", lambda r: f"{r['m_gluino']:.0f}"),
    Column("m_χ̃₁⁰ [GeV]", lambda r: f"{r['m_chi10']:.0f}"),
    Column("Signal region", "region", align="l"),
    Column("Signal", lambda r: number(r["signal"])),
    Column("Background", lambda r: f"{number(r['background'])} ± {number(r['background_uncertainty'])}"),
    Column("Observed", lambda r: f"{r['observed']:g}"),
    Column("CLs obs.", lambda r: number(r["cls_obs"])),
    Column("CLs exp.", lambda r: number(r["cls_exp"])),
    Column("Label", lambda r: "excluded" if r["excluded"] else "allowed"),
]


def write_benchmarks(
    label_paths: Sequence[str | Path],
    regions: Mapping[str, Mapping[str, float]],
    workspace_paths: Mapping[str, str | Path],
    csv_path: str | Path,
    md_path: str | Path,
    html_path: str | Path,
) -> list[dict[str, Any]]:
    """Choose the benchmark points, write their workspaces and the table of them; return the table's rows."""
    from ml4hep.workspaces import write_workspace

    labels = read_labels(label_paths)
    chosen = choose_benchmarks(labels)
    rows = benchmark_rows(labels, chosen, regions)
    for row in rows:
        spec = benchmark_workspace(labels, chosen[row["role"]], regions, f"susy_{row['role']}_point{row['point_id']}")
        write_workspace(workspace_paths[row["role"]], spec)
    write_table(
        rows,
        BENCHMARK_COLUMNS,
        csv=csv_path,
        md=md_path,
        html=html_path,
        note="CLs of μ = 1 in the point's best signal region (pyhf, qtilde, asymptotic), as the recast computed it; "
        f"a point is excluded when the observed CLs is below {CLS_THRESHOLD}.",
    )
    return rows
