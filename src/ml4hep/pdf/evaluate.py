"""The PDF task's results: chi2 per dataset, closure estimators, sum rules, ensemble at Q, plots, metrics.json."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.io import write_json
from ml4hep.pdf import truth as toy
from ml4hep.pdf.closure import estimators
from ml4hep.pdf.postfit import chi2_per_point, load_ensemble, load_replica
from ml4hep.pdf.pseudodata import FitInputs
from ml4hep.pdf.theory import EKO_PIDS, load_table, settings_hash
from ml4hep.pdf.truth import FIT_BASIS, physical, rotation, truth_on_grid
from ml4hep.plots import pdf as plots
from ml4hep.tables import Column, number, with_error, write_table

log = logging.getLogger(__name__)

BAND_FLAVOURS = ("g", "sigma", "uv", "dv")
TRUTH_LABELS = {"les_houches": "truth (Les Houches toy)", "reshaped": "truth (reshaped toy)"}


def flavours_from_basis(xf: np.ndarray) -> dict[str, np.ndarray]:
    """g, Sigma, u_v, d_v from x f in FIT_BASIS (first axis of size len(FIT_BASIS) second to last)."""
    basis = {name: xf[..., k, :] for k, name in enumerate(FIT_BASIS)}
    phys = physical(basis)
    return {"g": basis["g"], "sigma": basis["sigma"], "uv": phys["uv"], "dv": phys["dv"]}


def truth_flavours(x: np.ndarray, name: str = "les_houches") -> dict[str, np.ndarray]:
    """The same four curves of a closure truth (:data:`ml4hep.pdf.truth.TRUTHS`)."""
    basis = toy.truth_basis(x, name)
    flavours = toy.truth_flavours(x, name)
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


def estimator_parts(
    inputs: Sequence[FitInputs], ensemble: Mapping[str, np.ndarray], held_out: bool
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per closure fit with two or more kept replicas: (predictions, truth, sampling covariance) on its points.

    Args:
        inputs: Fit inputs per closure fit.
        ensemble: ``predictions`` (replicas, all points) and ``fit`` (closure fit of each replica).
        held_out: The held-out datasets' points (out of sample) or the fitted ones (in sample).
    """
    parts = []
    for k, fit in enumerate(inputs):
        points = ~fit.fitted_points() if held_out else fit.fitted_points()
        predictions = ensemble["predictions"][ensemble["fit"] == k][:, points]
        if len(predictions) >= 2:
            parts.append((predictions, fit.truth[points], fit.cov_sampling[np.ix_(points, points)]))
    return parts


def closure_estimators(
    inputs: Sequence[FitInputs], ensemble: Mapping[str, np.ndarray], seed: int, bootstrap: int = 200
) -> dict[str, Any]:
    """R_bv and xi_1sigma in sample (fitted data) and out of sample (held-out datasets, as NNPDF4.0 measures them).

    Args:
        inputs: Fit inputs per closure fit.
        ensemble: ``predictions`` (kept replicas, all points) and ``fit`` (closure fit of each replica).
        seed: Seed of the bootstrap.
        bootstrap: Bootstrap resamples of the errors.

    Returns:
        ``in_sample`` and ``out_of_sample`` (None when no dataset is held out), each the dict of
        :func:`ml4hep.pdf.closure.estimators` plus its ``datasets``; the top level repeats the out-of-sample values
        when there are some (else the in-sample ones), ``on`` saying which.
    """
    first = inputs[0]
    fitted_names = [n for n, f in zip(first.datasets, first.fitted, strict=True) if f]
    held_names = [n for n, f in zip(first.datasets, first.fitted, strict=True) if not f]
    samples: dict[str, Any] = {
        "in_sample": {
            **estimators(estimator_parts(inputs, ensemble, False), bootstrap, seed),
            "datasets": fitted_names,
        },
        "out_of_sample": None,
    }
    if held_names:
        out = estimators(estimator_parts(inputs, ensemble, True), bootstrap, seed)
        samples["out_of_sample"] = {**out, "datasets": held_names}
    headline = samples["out_of_sample"] or samples["in_sample"]
    on = "held-out data" if samples["out_of_sample"] else "fitted data"
    return {**{k: v for k, v in headline.items() if k != "datasets"}, "on": on, **samples}


SAMPLE_LABELS = {"in_sample": "in sample (fitted data)", "out_of_sample": "out of sample (held-out data)"}


def closure_rows(closure: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One table row per sample (in, out) of :func:`closure_estimators`."""
    return [
        {**part, "sample": SAMPLE_LABELS[key], "datasets": ", ".join(part["datasets"])}
        for key in SAMPLE_LABELS
        if (part := closure.get(key))
    ]


def closure_note(closure: Mapping[str, Any], level: int) -> str:
    """What the closure table's ± mean: with one fit the fit-to-fit scatter is not in them."""
    fits = int(closure["fits"])
    error = (
        f"± : bootstrap over the {fits} closure fits and their replicas, so it includes the fit-to-fit scatter "
        "(each fit its own level-1 shift); 'fit std': the standard deviation of the per-fit values."
        if closure["error_includes_fit_scatter"]
        else "± : bootstrap over the replicas of the single closure fit: it leaves out the fit-to-fit scatter "
        "(the level-1 shift is drawn once per fit; run several fits, pdf.closure.fits, to include it)."
    )
    return (
        f"Level-{level} closure, {fits} fit(s). R_bv = sqrt(bias / variance) and ξ_1σ (fraction of covariance "
        "eigen-directions where the truth lies within the replicas' 1σ of their mean) as in arXiv:2111.05787; "
        "NNPDF4.0 (arXiv:2109.02653) quotes them out of sample. ξ from R_bv: erf(1/(√2 R_bv)), the Gaussian "
        f"expectation. Targets: R_bv = 1, ξ_1σ = 0.68. {error}"
    )


def write_closure_table(closure: Mapping[str, Any], level: int, outputs: Mapping[str, str]) -> None:
    """The closure table (CSV, Markdown, LaTeX) with in- and out-of-sample rows."""
    columns = [
        Column("Sample", "sample", align="l"),
        Column("Datasets", "datasets", align="l"),
        Column("N", "points"),
        Column("Fits", "fits"),
        Column("R_bv", lambda r: with_error(r["r_bv"], r["r_bv_err"], 3), latex=r"$R_\mathrm{bv}$"),
        Column("ξ_1σ", lambda r: with_error(r["xi_1sigma"], r["xi_1sigma_err"], 3), latex=r"$\xi_{1\sigma}$"),
        Column("R_bv fit std", lambda r: number(r["r_bv_fit_std"], 3)),
        Column("ξ_1σ fit std", lambda r: number(r["xi_1sigma_fit_std"], 3)),
        Column("ξ from R_bv", lambda r: number(r["xi_expected"], 3)),
    ]
    keys = ["sample", "datasets", "points", "fits", "replicas", "r_bv", "r_bv_err", "xi_1sigma", "xi_1sigma_err"]
    keys += ["r_bv_fit_std", "xi_1sigma_fit_std", "xi_expected", "bias", "variance", "error_includes_fit_scatter"]
    write_table(
        closure_rows(closure),
        columns,
        csv=outputs["closure_csv"],
        md=outputs["closure_md"],
        tex=outputs["closure_tex"],
        csv_keys=keys,
        note=closure_note(closure, level),
    )


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
        outputs: Output paths by key (metrics, chi2_csv/md/tex, closure_csv/md/tex, closure_plot(_pdf), ensemble_q,
            band_*, bands_q, curves).

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
        metrics["closure"] = {"level": inputs[0].level, "truth": options["closure"]["truth"], **closure}
        write_closure_table(closure, inputs[0].level, outputs)
        plots.closure_summary(
            {SAMPLE_LABELS[k]: closure[k] for k in SAMPLE_LABELS if closure.get(k)},
            f"level-{inputs[0].level} closure, {closure['fits']} fit(s), truth {options['closure']['truth']}",
            [outputs["closure_plot"], outputs["closure_plot_pdf"]],
        )
    else:
        metrics["closure"] = {"level": None, "r_bv": None, "xi_1sigma": None}
        for key in ("closure_csv", "closure_md", "closure_tex"):  # data mode: nothing to compare with a truth
            Path(outputs[key]).write_text("no closure test in data mode\n")
        plots.closure_summary({}, "data mode: no closure test", [outputs["closure_plot"], outputs["closure_plot_pdf"]])
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
    truth_name = options["closure"]["truth"]
    truth = truth_flavours(x_out, truth_name) if closure_mode else None
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
            TRUTH_LABELS.get(truth_name, f"truth ({truth_name})"),
        )
    table = load_table(evolution_file)
    evolved = evolve_ensemble(ensemble["pdf_grid"][first], table)
    q = float(table["q"])
    truth_q = None
    if closure_mode:
        truth_grid = truth_on_grid(table["xgrid"], truth_name)
        truth_q = {k: v[0] for k, v in evolve_ensemble(truth_grid[None], table).items() if k != "x"}
    inner = (evolved["x"] >= 1e-4) & (evolved["x"] < 1)
    plots.bands_grid(
        evolved["x"][inner],
        {k: evolved[k][:, inner] for k in BAND_FLAVOURS},
        None if truth_q is None else {k: truth_q[k][inner] for k in BAND_FLAVOURS},
        f"Q = {q:g} GeV{level}",
        [outputs["bands_q"], outputs["bands_q_pdf"]],
        TRUTH_LABELS.get(truth_name, f"truth ({truth_name})"),
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
