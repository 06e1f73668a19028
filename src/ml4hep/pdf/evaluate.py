"""The PDF task's results: chi2 per dataset, closure estimators, sum rules, ensemble at Q, plots, metrics.json."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.io import write_json
from ml4hep.pdf.closure import estimators
from ml4hep.pdf.postfit import chi2_per_point, load_ensemble, load_replica
from ml4hep.pdf.pseudodata import FitInputs
from ml4hep.pdf.theory import EKO_PIDS, load_table, settings_hash
from ml4hep.pdf.truth import (
    FIT_BASIS,
    les_houches_basis,
    les_houches_flavours,
    physical,
    rotation,
    truth_on_grid,
)
from ml4hep.plots import pdf as plots
from ml4hep.tables import Column, number, write_table

log = logging.getLogger(__name__)

BAND_FLAVOURS = ("g", "sigma", "uv", "dv")


def flavours_from_basis(xf: np.ndarray) -> dict[str, np.ndarray]:
    """g, Sigma, u_v, d_v from x f in FIT_BASIS (first axis of size len(FIT_BASIS) second to last)."""
    basis = {name: xf[..., k, :] for k, name in enumerate(FIT_BASIS)}
    phys = physical(basis)
    return {"g": basis["g"], "sigma": basis["sigma"], "uv": phys["uv"], "dv": phys["dv"]}


def truth_flavours(x: np.ndarray) -> dict[str, np.ndarray]:
    """The same four curves of the Les Houches toy set."""
    basis = les_houches_basis(x)
    flavours = les_houches_flavours(x)
    return {"g": basis["g"], "sigma": basis["sigma"], "uv": flavours["uv"], "dv": flavours["dv"]}


def evolve_ensemble(pdf_grid: np.ndarray, table: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """x f (g, Sigma, u_v, d_v) at the evolution table's Q on the FK grid, shape (replicas, nx) each."""  # noqa: D403
    flavours_q0 = np.einsum("ab,rbk->rak", rotation(), pdf_grid)  # INPUT_PIDS at Q0
    out = np.einsum("pjak,rak->rpj", table["operator"], flavours_q0)  # EKO_PIDS at Q
    x = table["xgrid"]
    pid = {p: i for i, p in enumerate(EKO_PIDS)}

    def xf(p: int) -> np.ndarray:
        return x * out[:, pid[p], :]

    quarks = [xf(q) + xf(-q) for q in range(1, 6)]
    return {"x": x, "g": xf(21), "sigma": sum(quarks), "uv": xf(2) - xf(-2), "dv": xf(1) - xf(-1)}


def chi2_rows(inputs: Sequence[FitInputs], ensemble: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per dataset: points, fitted or held out, central and replica-averaged chi2/N (averaged over fits)."""
    first = inputs[0]
    rows = []
    for d, name in enumerate(first.datasets):
        central, average, bias = [], [], []
        for k, fit in enumerate(inputs):
            points = fit.point_dataset == d
            cov = fit.cov_fit[np.ix_(points, points)]
            predictions = ensemble["predictions"][ensemble["fit"] == k][:, points]
            if len(predictions) == 0:
                continue
            central.append(chi2_per_point(predictions.mean(axis=0), fit.data[points], cov))
            average.append(np.mean([chi2_per_point(p, fit.data[points], cov) for p in predictions]))
            if np.isfinite(fit.truth).all():
                bias.append(
                    chi2_per_point(
                        predictions.mean(axis=0), fit.truth[points], fit.cov_sampling[np.ix_(points, points)]
                    )
                )
        rows.append(
            {
                "dataset": name,
                "points": int((first.point_dataset == d).sum()),
                "role": "fitted" if first.fitted[d] else "held out",
                "chi2_central": float(np.mean(central)),
                "chi2_replicas": float(np.mean(average)),
                "chi2_truth": float(np.mean(bias)) if bias else float("nan"),
            }
        )
    return rows


def closure_estimators(inputs: Sequence[FitInputs], ensemble: Mapping[str, np.ndarray], seed: int) -> dict[str, Any]:
    """R_bv and xi_1sigma on the held-out datasets (if any) or on the fitted ones."""
    held_out = not inputs[0].fitted.all()
    parts = []
    for k, fit in enumerate(inputs):
        points = ~fit.fitted_points() if held_out else fit.fitted_points()
        predictions = ensemble["predictions"][ensemble["fit"] == k][:, points]
        if len(predictions) >= 2:
            parts.append((predictions, fit.truth[points], fit.cov_sampling[np.ix_(points, points)]))
    result = estimators(parts, seed=seed)
    result["on"] = "held-out data" if held_out else "fitted data"
    return result


def evaluate(
    input_files: Sequence[str],
    ensemble_file: str,
    postfit_file: str,
    evolution_file: str,
    replica_files: Sequence[str],
    options: Mapping[str, Any],
    seed: int,
    outputs: Mapping[str, str],
) -> dict[str, Any]:
    """Write every result of the PDF task (see the ``pdf_evaluate`` rule for the files).

    Args:
        input_files: Fit inputs per closure fit.
        ensemble_file: The postfit ensemble.
        postfit_file: The postfit summary (JSON).
        evolution_file: Evolution table from Q0 to the output scale.
        replica_files: Replica files of the first fit (for the chi2 curves).
        options: The config's ``pdf`` block.
        seed: Seed of the bootstrap.
        outputs: Output paths by key (metrics, chi2_csv/md/tex, closure, ensemble_q, band_*, bands_q, curves).

    Returns:
        The metrics.
    """
    import json

    inputs = [FitInputs.load(path) for path in input_files]
    ensemble = load_ensemble(ensemble_file)
    summary = json.loads(Path(postfit_file).read_text())
    closure_mode = options["mode"] == "closure"
    rows = chi2_rows(inputs, ensemble)
    note = (
        "χ²/N with the fit covariance against the fitted central values (level-1 pseudo-data in closure mode), "
        "for the mean prediction (central) and averaged over replicas; 'vs truth' is the bias per dataset."
    )
    columns = [
        Column("Dataset", "dataset", align="l"),
        Column("N", "points"),
        Column("Role", "role"),
        Column("χ²/N central", lambda r: number(r["chi2_central"], 4)),
        Column("⟨χ²/N⟩ replicas", lambda r: number(r["chi2_replicas"], 4), latex=r"$\langle\chi^2/N\rangle$"),
        Column("χ²/N vs truth", lambda r: number(r["chi2_truth"], 4)),
    ]
    write_table(rows, columns, csv=outputs["chi2_csv"], md=outputs["chi2_md"], tex=outputs["chi2_tex"], note=note)

    metrics: dict[str, Any] = {
        "chi2": {row["dataset"]: row["chi2_central"] for row in rows},
        "chi2_replicas": {row["dataset"]: row["chi2_replicas"] for row in rows},
        "replicas": {"requested": summary["requested"], "kept": summary["kept"], "fits": len(inputs)},
        "theory": {"order": options["theory"]["order"], "fk_tables": settings_hash(options["theory"])},
    }
    if closure_mode:
        closure = closure_estimators(inputs, ensemble, seed)
        metrics["closure"] = {"level": inputs[0].level, **closure}
    else:
        metrics["closure"] = {"level": None, "r_bv": None, "xi_1sigma": None}
    rules = ensemble["sum_rules"]
    metrics["sum_rules"] = {
        name: {"mean": float(rules[:, i].mean()), "max_abs_deviation": float(np.abs(rules[:, i] - target).max())}
        for i, (name, target) in enumerate((("momentum", 1.0), ("valence_uv", 2.0), ("valence_dv", 1.0)))
    }
    seconds = ensemble["seconds"]
    metrics["timing"] = {
        "seconds_per_replica_fit": float(seconds.mean()),
        "epochs_per_replica": float(ensemble["epochs_run"].mean()),
        "best_epoch_mean": float(ensemble["best_epoch"].mean()),
    }
    write_json(outputs["metrics"], metrics)

    # ensembles and plots
    x_out = ensemble["x_out"]
    first = ensemble["fit"] == 0
    curves = flavours_from_basis(ensemble["xf_out"][first])
    truth = truth_flavours(x_out) if closure_mode else None
    q0 = float(options["theory"]["q0"])
    level = f", {options['theory']['order']}" + (f", level {inputs[0].level} closure" if closure_mode else "")
    for flavour in BAND_FLAVOURS:
        plots.band_figure(
            x_out,
            curves[flavour],
            None if truth is None else truth[flavour],
            flavour,
            f"Q0 = {q0:g} GeV{level}",
            [outputs[f"band_{flavour}"], outputs[f"band_{flavour}_pdf"]],
        )
    table = load_table(evolution_file)
    evolved = evolve_ensemble(ensemble["pdf_grid"][first], table)
    q = float(table["q"])
    truth_q = None
    if closure_mode:
        truth_grid = truth_on_grid(table["xgrid"])
        truth_q = {k: v[0] for k, v in evolve_ensemble(truth_grid[None], table).items() if k != "x"}
    inner = (evolved["x"] >= 1e-4) & (evolved["x"] < 1)
    plots.bands_grid(
        evolved["x"][inner],
        {k: evolved[k][:, inner] for k in BAND_FLAVOURS},
        None if truth_q is None else {k: truth_q[k][inner] for k in BAND_FLAVOURS},
        f"Q = {q:g} GeV{level}",
        [outputs["bands_q"], outputs["bands_q_pdf"]],
    )
    np.savez(
        outputs["ensemble_q"],
        q=np.asarray(q),
        x=evolved["x"],
        fit=ensemble["fit"],
        **{k: evolved[k] for k in BAND_FLAVOURS},
    )
    histories = []
    for path in list(replica_files)[: int(options["plots"]["curves"])]:
        replica = load_replica(path)
        histories.append(
            {
                "epochs": replica["epochs_recorded"],
                "train": replica["chi2_train"],
                "val": replica["chi2_val"],
                "best_epoch": replica["best_epoch"],
                "replica": Path(path).stem.removeprefix("replica"),
            }
        )
    plots.chi2_curves(histories, [outputs["curves"], outputs["curves_pdf"]])
    return metrics
