"""Closure study: every replica of several closure fits in one process, for the tuning record of docs/pdf.md.

The workflow fits one job per batch of replicas; measuring which per-replica randomness widens the ensemble needs
the same closure test under many settings, so :func:`closure_study` does what ``pdf_inputs`` ->
``pdf_replica_batch`` -> ``pdf_postfit`` -> the closure part of ``pdf_evaluate`` do, in one call: the same seeds
(:func:`ml4hep.seeds.derive_seed` with the workflow's keys), the same replica preparation
(:func:`ml4hep.pdf.fit.prepare_replica`), the same postfit rule and estimators. The replicas of all fits train as
one stacked model when the fits share their fit covariance (the t0 covariance does: it is made from the truth),
which costs the slowest replica's epochs once instead of once per fit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.pdf import fit as replica_fit
from ml4hep.pdf.evaluate import closure_estimators
from ml4hep.pdf.postfit import chi2_per_point, select
from ml4hep.pdf.pseudodata import FitInputs, build_inputs
from ml4hep.seeds import derive_seed

log = logging.getLogger(__name__)


def closure_study(
    options: Mapping[str, Any],
    data_files: Mapping[str, str | Path],
    fk_files: Mapping[str, str | Path],
    positivity_file: str | Path,
    master_seed: int,
    device: str = "cpu",
) -> dict[str, Any]:
    """Fit ``closure.fits`` closure fits of ``replicas`` replicas each and return their closure estimators.

    Args:
        options: The config's ``pdf`` block (validated).
        data_files: Dataset name -> cached commondata file (``results/pdf/data/``).
        fk_files: Dataset name -> FK table.
        positivity_file: Positivity FK table.
        master_seed: The config's ``seed``.
        device: ``cpu``, ``cuda`` or ``auto``.

    Returns:
        ``closure`` (as :func:`ml4hep.pdf.evaluate.closure_estimators`), ``kept`` and ``requested`` replicas,
        ``seconds`` (wall time of the fits), ``epochs_run`` and ``best_epoch`` (means over replicas).
    """
    from ml4hep.training import select_device

    fits = int(options["closure"]["fits"])
    replicas = int(options["replicas"])
    inputs = [
        build_inputs(data_files, fk_files, positivity_file, options, derive_seed(master_seed, "pdf", "level1", k))
        for k in range(fits)
    ]
    prepared = [
        replica_fit.prepare_replica(fit_inputs, options, derive_seed(master_seed, "pdf", "replica", k, r))
        for k, fit_inputs in enumerate(inputs)
        for r in range(replicas)
    ]
    fit_of = np.repeat(np.arange(fits), replicas)
    fitted = inputs[0].fitted_points()
    covariances = [fit_inputs.cov_fit[np.ix_(fitted, fitted)] for fit_inputs in inputs]
    shared = all(np.array_equal(covariances[0], cov) for cov in covariances[1:])
    groups = [np.arange(len(prepared))] if shared else [np.flatnonzero(fit_of == k) for k in range(fits)]
    torch_device = select_device(device)
    start = time.perf_counter()
    results = []
    for group in groups:
        models, data, train = zip(*(prepared[i] for i in group), strict=True)
        results += replica_fit.fit_replicas(
            models,
            inputs[0].fk[fitted],
            inputs[0].xgrid,
            np.stack(data),
            covariances[int(fit_of[group[0]])],
            np.stack(train),
            inputs[0].positivity_fk,
            options["training"],
            torch_device,
        )
    seconds = time.perf_counter() - start
    predictions = np.stack(
        [
            np.einsum("ibk,bk->i", inputs[0].fk, replica_fit.pdf_on_xgrid(model, inputs[0].xgrid))
            for model, *_ in prepared
        ]
    )
    kept = _postfit(inputs, predictions, fit_of, np.array([r.positivity_ok for r in results]), options)
    ensemble = {"predictions": predictions[kept], "fit": fit_of[kept]}
    closure = closure_estimators(inputs, ensemble, derive_seed(master_seed, "pdf", "bootstrap"))
    return {
        "closure": closure,
        "kept": int(kept.sum()),
        "requested": len(prepared),
        "seconds": seconds,
        "epochs_run": float(np.mean([r.epochs_run for r in results])),
        "best_epoch": float(np.mean([r.best_epoch for r in results])),
    }


def _postfit(
    inputs: list[FitInputs], predictions: np.ndarray, fit_of: np.ndarray, ok: np.ndarray, options: Mapping[str, Any]
) -> np.ndarray:
    """The postfit rule of :func:`ml4hep.pdf.postfit.postfit`, per fit, on predictions in memory."""
    kept = np.zeros(len(predictions), bool)
    for k, fit_inputs in enumerate(inputs):
        members = np.flatnonzero(fit_of == k)
        fitted = fit_inputs.fitted_points()
        cov = fit_inputs.cov_fit[np.ix_(fitted, fitted)]
        chi2 = np.array([chi2_per_point(predictions[i][fitted], fit_inputs.data[fitted], cov) for i in members])
        finite = np.isfinite(predictions[members]).all(axis=1)
        chosen = select(chi2, ok[members] & finite, float(options["postfit"]["chi2_nsigma"]), int(fitted.sum()))
        kept[members[chosen]] = True
    return kept
