"""Postfit: reject outlier replicas and stack the kept ones into one ensemble file.

Rule (documented in the config's ``pdf.postfit``): for every closure fit, a replica is rejected when

* its fit failed (non-finite values) or its kept weights do not satisfy positivity, or
* its chi2/N against the fitted central data (fit covariance, fitted points) exceeds
  median + ``chi2_nsigma`` x sigma, with sigma the larger of 1.4826 x MAD of the fit's replicas and sqrt(2 / N), the
  statistical scatter of chi2/N over N Gaussian points (a robust 4-sigma rule by default; NNPDF's postfit uses a
  4-sigma cut on the chi2 distribution). The floor keeps well-fitted replicas when the replicas agree closely
  (a MAD of 0.005 would otherwise reject a replica 0.03 above the median).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.errors import InputFileError
from ml4hep.pdf.pseudodata import FitInputs

log = logging.getLogger(__name__)

STACKED = (
    "pdf_grid",
    "xf_out",
    "predictions",
    "best_epoch",
    "epochs_run",
    "best_chi2_train",
    "best_chi2_val",
    "positivity_ok",
    "seconds",
    "alpha",
    "beta",
    "sum_rules",
)


def chi2_per_point(prediction: np.ndarray, data: np.ndarray, cov: np.ndarray) -> float:
    """(T - D)^T C^-1 (T - D) / N."""
    residual = np.asarray(prediction) - np.asarray(data)
    return float(residual @ np.linalg.solve(cov, residual) / len(residual))


def load_replica(path: str | Path) -> dict[str, np.ndarray]:
    """Read one replica file (no pickles)."""
    if not Path(path).exists():
        raise InputFileError(str(path), "replica file does not exist")
    with np.load(path, allow_pickle=False) as content:
        return {k: content[k] for k in content.files}


def select(chi2: np.ndarray, ok: np.ndarray, nsigma: float, points: int | None = None) -> np.ndarray:
    """Kept replicas: finite, ``ok`` and chi2/N below median + nsigma * sigma (of the finite, ok ones).

    Args:
        chi2: chi2/N per replica.
        ok: Whether each replica passed positivity and finished.
        nsigma: Width of the cut in units of sigma.
        points: N, the number of points of chi2/N: sigma is at least sqrt(2 / N) (no floor when None).
    """
    chi2 = np.asarray(chi2, float)
    good = np.isfinite(chi2) & np.asarray(ok, bool)
    if not good.any():
        return good
    median = np.median(chi2[good])
    sigma = max(1.4826 * np.median(np.abs(chi2[good] - median)), np.sqrt(2 / points) if points else 1e-12)
    return good & (chi2 <= median + nsigma * sigma)


def postfit(
    input_files: Sequence[str], replica_files: Sequence[Sequence[str]], options: Mapping[str, Any], output: str
) -> dict[str, Any]:
    """Select the replicas of every fit and write the ensemble.

    Args:
        input_files: Fit inputs per closure fit.
        replica_files: Per fit, its replica files.
        options: The config's ``pdf`` block.
        output: Ensemble ``npz``: per kept replica (over all fits) the stacked replica arrays, plus ``fit`` and
            ``replica`` numbers, the output x-grid and the FK grid.

    Returns:
        Summary: requested, kept, and per fit the rejected replicas with the reason.
    """
    nsigma = float(options["postfit"]["chi2_nsigma"])
    kept_arrays: dict[str, list[np.ndarray]] = {k: [] for k in STACKED}
    fit_ids: list[int] = []
    replica_ids: list[int] = []
    summary: dict[str, Any] = {"requested": 0, "kept": 0, "fits": {}}
    x_out = xgrid = None
    for k, (inputs_path, files) in enumerate(zip(input_files, replica_files, strict=True)):
        inputs = FitInputs.load(inputs_path)
        fitted = inputs.fitted_points()
        cov = inputs.cov_fit[np.ix_(fitted, fitted)]
        replicas = [load_replica(path) for path in files]
        chi2 = np.array([chi2_per_point(r["predictions"][fitted], inputs.data[fitted], cov) for r in replicas])
        ok = np.array([bool(r["positivity_ok"]) and np.all(np.isfinite(r["pdf_grid"])) for r in replicas])
        kept = select(chi2, ok, nsigma, int(fitted.sum()))
        reasons = {
            int(i): ("positivity or failed fit" if not ok[i] else f"chi2/N {chi2[i]:.3f} outlier")
            for i in np.flatnonzero(~kept)
        }
        summary["fits"][str(k)] = {
            "requested": len(replicas),
            "kept": int(kept.sum()),
            "rejected": reasons,
            "chi2_per_point": chi2.tolist(),
        }
        summary["requested"] += len(replicas)
        summary["kept"] += int(kept.sum())
        log.info("fit %d: kept %d of %d replicas", k, kept.sum(), len(replicas))
        for i in np.flatnonzero(kept):
            for key in STACKED:
                kept_arrays[key].append(replicas[i][key])
            fit_ids.append(k)
            replica_ids.append(i)
        x_out, xgrid = replicas[0]["x_out"], replicas[0]["xgrid"]
    if summary["kept"] == 0:
        raise InputFileError(str(output), "postfit rejected every replica")
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        output,
        fit=np.array(fit_ids),
        replica=np.array(replica_ids),
        x_out=x_out,
        xgrid=xgrid,
        **{key: np.stack(values) for key, values in kept_arrays.items()},
    )
    return summary


def load_ensemble(path: str | Path) -> dict[str, np.ndarray]:
    """Read the ensemble written by :func:`postfit`."""
    return load_replica(path)
