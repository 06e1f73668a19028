"""HistFactory JSON workspaces of the project's limits, and their pre- and post-fit yields per bin.

A workspace is the statistical model of one limit as pyhf's JSON schema defines it (``channels``, ``observations``,
``measurements``, ``version``), so the limit can be redone outside the workflow: ``pyhf.Workspace`` loads it and
``pyhf cls results/higgs/workspaces/bdt.json`` evaluates it. The project's limits are *expected* limits, so the
observations of the Higgs workspaces are the background-only Asimov counts (the expected background per bin): the
"observed" CLs that ``pyhf cls`` prints is then the median expected CLs. The SUSY recast's workspaces hold the
configured observed count of the signal region instead (what the recast tests).

Pre-fit yields are the nominal templates (signal at mu = 1); post-fit yields are those of the fixed-mu profile fit
(:func:`ml4hep.stats.profile_parameters`) to the workspace's observations at the median expected limit mu_95,
i.e. how the nuisance parameters absorb the excluded signal. (A free fit to background-only Asimov data returns the
pre-fit yields and would show nothing.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyhf

from ml4hep.io import write_json
from ml4hep.stats import POI, asimov_data, profile_parameters
from ml4hep.tables import Column, number, write_table

WORKSPACE_VERSION = "1.0.0"
"""Version of pyhf's workspace schema the files follow."""


def workspace_spec(
    model: pyhf.pdf.Model,
    observations: Sequence[float] | np.ndarray,
    *,
    measurement: str,
    poi_max: float = 10.0,
) -> dict[str, Any]:
    """The HistFactory JSON workspace of a model and its observed main-bin counts (validated by pyhf).

    Args:
        model: A pyhf model (e.g. from :func:`ml4hep.stats.build_model`).
        observations: Observed counts of the main bins, in the model's channel order.
        measurement: Name of the one measurement (the POI is the model's, ``mu``).
        poi_max: Upper bound of the POI (pyhf's default 10 is too small for weak limits).

    Returns:
        The workspace as a JSON-ready dict.

    Example:
        >>> from ml4hep.stats import build_model
        >>> spec = workspace_spec(build_model([1.0], [4.0]), [4.0], measurement="demo")
        >>> pyhf.Workspace(spec).model().config.poi_name
        'mu'
    """
    counts = np.asarray(observations, dtype=float)
    if counts.shape != (model.config.nmaindata,):
        raise ValueError(f"{counts.size} observed counts for a model of {model.config.nmaindata} bins")
    slices = model.config.channel_slices
    spec = {
        "channels": model.spec["channels"],
        "observations": [{"name": ch, "data": counts[slices[ch]].tolist()} for ch in model.config.channels],
        "measurements": [
            {
                "name": measurement,
                "config": {"poi": POI, "parameters": [{"name": POI, "bounds": [[0.0, float(max(poi_max, 10.0))]]}]},
            }
        ],
        "version": WORKSPACE_VERSION,
    }
    pyhf.Workspace(spec)  # schema validation: a file that pyhf cannot read is never written
    return spec


def expected_workspace(model: pyhf.pdf.Model, *, measurement: str, poi_max: float = 10.0) -> dict[str, Any]:
    """The workspace of an expected limit: observations are the background-only Asimov counts."""
    observed = asimov_data(model, 0.0)[: model.config.nmaindata]
    return workspace_spec(model, observed, measurement=measurement, poi_max=poi_max)


def write_workspace(path: str | Path, spec: Mapping[str, Any]) -> Path:
    """Write a workspace as JSON (what ``pyhf cls`` reads)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, spec)


def yield_rows(
    model: pyhf.pdf.Model,
    observations: Sequence[float] | np.ndarray,
    edges: Sequence[float] | np.ndarray,
    mu_fit: float,
) -> list[dict[str, Any]]:
    """Pre- and post-fit yields per bin of a one-channel signal + background model.

    Args:
        model: A model from :func:`ml4hep.stats.build_model` (samples ``signal`` and ``background``).
        observations: Observed main-bin counts (those of the workspace).
        edges: Bin edges of the score histogram (``nbins + 1`` values).
        mu_fit: Signal strength of the post-fit (the median expected limit).

    Returns:
        One row per bin: ``bin``, ``low``, ``high``, ``observed``, ``signal_prefit`` (mu = 1),
        ``background_prefit``, ``background_prefit_err`` (MC statistical error), ``mu_postfit``, ``signal_postfit``
        (mu = mu_fit, after the fit) and ``background_postfit``.
    """
    cfg = model.config
    observed = np.asarray(observations, dtype=float)
    data = np.concatenate([observed, np.asarray(cfg.auxdata, dtype=float)])
    order = {name: i for i, name in enumerate(cfg.samples)}
    nominal = np.asarray(cfg.suggested_init(), dtype=float)
    nominal[cfg.poi_index] = 1.0
    prefit = np.asarray(model.main_model.expected_data(nominal, return_by_sample=True))
    postfit = np.asarray(model.main_model.expected_data(profile_parameters(model, data, mu_fit), return_by_sample=True))
    background_err = _background_mc_err(model)
    edges = np.asarray(edges, dtype=float)
    return [
        {
            "bin": i,
            "low": float(edges[i]),
            "high": float(edges[i + 1]),
            "observed": float(observed[i]),
            "signal_prefit": float(prefit[order["signal"], i]),
            "background_prefit": float(prefit[order["background"], i]),
            "background_prefit_err": float(background_err[i]),
            "mu_postfit": float(mu_fit),
            "signal_postfit": float(postfit[order["signal"], i]),
            "background_postfit": float(postfit[order["background"], i]),
        }
        for i in range(cfg.nmaindata)
    ]


def _background_mc_err(model: pyhf.pdf.Model) -> np.ndarray:
    """Absolute MC statistical error of the background template per bin (0 where it has none)."""
    for sample in model.spec["channels"][0]["samples"]:
        if sample["name"] == "background":
            for modifier in sample["modifiers"]:
                if modifier["type"] == "staterror":
                    return np.asarray(modifier["data"], dtype=float)
    return np.zeros(model.config.nmaindata)


YIELD_COLUMNS = [
    Column("Bin", lambda r: str(r["bin"]), align="r"),
    Column("Score range", lambda r: f"[{number(r['low'])}, {number(r['high'])})", align="l"),
    Column("Observed (Asimov)", lambda r: number(r["observed"])),
    Column("Signal pre-fit (μ = 1)", lambda r: number(r["signal_prefit"])),
    Column("Background pre-fit", lambda r: f"{number(r['background_prefit'])} ± {number(r['background_prefit_err'])}"),
    Column("Signal post-fit (μ = μ₉₅)", lambda r: number(r["signal_postfit"])),
    Column("Background post-fit", lambda r: number(r["background_postfit"])),
]


def write_yield_tables(
    rows: Sequence[Mapping[str, Any]],
    csv_path: str | Path,
    md_path: str | Path,
    html_path: str | Path | None = None,
    *,
    note: str | None = None,
) -> None:
    """The pre- and post-fit yields per bin as CSV (every number), Markdown and HTML (for the report)."""
    mu = rows[0]["mu_postfit"] if rows else None
    default = (
        f"Post-fit: the profile fit at μ = μ₉₅ = {number(mu)} (the median expected limit) to the observations of "
        "the workspace; pre-fit: the nominal templates, background with its MC statistical error."
    )
    write_table(rows, YIELD_COLUMNS, csv=csv_path, md=md_path, html=html_path, note=note or default)
