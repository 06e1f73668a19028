"""Di-tau mass regression: a DNN estimating the true di-tau mass from the HiggsML features, against m_vis and m_col.

The network is a :class:`ml4hep.higgs.networks.HiggsDNN` (same standardised inputs, -999 -> 0) with one output,
trained with a mean-squared-error loss on the events that have a true di-tau mass (``truth_mass`` finite and
positive: Z, H(125) and the heavy Higgs bosons, a spread of true masses from ~90 to ~800 GeV; ttbar has none).

Target: by default ``log(m_true / 100 GeV)`` (``hyper["target"] = "log"``); its squared error is, to first order, the
squared *relative* error of the mass, so a 10% miss costs the same at 91 GeV and at 800 GeV, which is what the
relative resolution below measures. The prediction is ``100 GeV * exp(output)``. ``"linear"`` regresses
``m_true / 100 GeV`` instead (prediction ``100 GeV * output``), which weighs heavy masses more.

Loss weights (``hyper["weighting"]``): ``"process"`` (default) gives every process the same total weight (mean
weight 1 per event), which flattens the true-mass spectrum over the generated resonances so that no one process (the
Z peak in a physics-weighted sample) dominates the fit; ``"none"`` weights every event 1. Physics weights (cross
sections) are not used: they would make the Z all of the loss. Validation uses the same weighting; the epoch with
the lowest validation loss is kept (early stopping).

Figures of merit, per estimator (``regressed``, ``visible`` = ``DER_mass_vis``, ``collinear`` =
``DER_mass_collinear``), on events with a finite true mass, unweighted:

* response ``r = m_estimate / m_true``;
* bias ``= median(r) - 1``;
* relative resolution ``= (IQR(r) / 2) / median(r)``, IQR = 75th - 25th percentile (linear interpolation, numpy's
  default), i.e. the half-width of the central 50% of the response in units of its median (for a Gaussian response,
  0.674 sigma / mean);
* events where the estimator is undefined (-999 or not finite; only the collinear mass can be) are left out of the
  median and IQR and counted separately (``n_undefined``).

Hyper-parameters: the ``higgs.regression`` section of the config; a key the caller does not give takes
the schema's default (``config/schema.yaml``, the only place where defaults are written).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml4hep.config import section
from ml4hep.errors import InputFileError
from ml4hep.higgs.dataset import load_split
from ml4hep.higgs.features import FEATURE_NAMES, UNDEFINED
from ml4hep.higgs.networks import HiggsDNN
from ml4hep.io import write_json
from ml4hep.tables import Column, write_table
from ml4hep.training import FitResult, fit, load_checkpoint, predict, save_checkpoint, seed_everything, select_device

log = logging.getLogger(__name__)

MASS_SCALE_GEV = 100.0
"""Mass unit of the regression target (GeV)."""

TARGETS = ("log", "linear")
WEIGHTINGS = ("process", "none")
ESTIMATORS = ("regressed", "visible", "collinear")
ESTIMATOR_COLUMNS = {"visible": "DER_mass_vis", "collinear": "DER_mass_collinear"}
DISPLAY_NAMES = {"regressed": "DNN regression", "visible": "Visible mass", "collinear": "Collinear mass"}
TABLE_COLUMNS = (
    "bin",
    "bin_low",
    "bin_high",
    "estimator",
    "n_used",
    "n_undefined",
    "median_response",
    "bias",
    "resolution",
)


class MassRegressionDNN(HiggsDNN):
    """A :class:`HiggsDNN` whose single output is the mass target (same ``state_dict`` keys as ``HiggsDNN``).

    Args:
        standardiser: Input standardisation (fitted on the training features).
        n_inputs: Number of features.
        hidden: Widths of the hidden layers.
        dropout: Dropout probability after each hidden layer.
        target: ``log`` (output = log(m / scale)) or ``linear`` (output = m / scale).
        scale: Mass unit of the target in GeV.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: Sequence[int] = (64, 64, 64),
        dropout: float = 0.0,
        target: str = "log",
        scale: float = MASS_SCALE_GEV,
    ) -> None:
        if target not in TARGETS:
            raise ValueError(f"unknown mass-regression target {target!r}; known: {', '.join(TARGETS)}")
        super().__init__(n_inputs, hidden, dropout)
        self.target = target
        self.scale = float(scale)

    def mass_to_target(self, mass: np.ndarray) -> np.ndarray:
        """The training target of masses in GeV."""
        scaled = np.asarray(mass, dtype=np.float64) / self.scale
        return np.log(scaled) if self.target == "log" else scaled

    def target_to_mass(self, output: np.ndarray) -> np.ndarray:
        """Masses in GeV from network outputs."""
        output = np.asarray(output, dtype=np.float64)
        return self.scale * (np.exp(output) if self.target == "log" else output)


def _hyper(hyper: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's hyper-parameters over the schema's defaults of ``higgs.regression``, checked by the schema."""
    return section("higgs.regression", hyper)


def has_truth(split: Mapping[str, np.ndarray]) -> np.ndarray:
    """Events with a usable true di-tau mass (finite and positive)."""
    truth = np.asarray(split["truth_mass"], dtype=np.float64)
    return np.isfinite(truth) & (truth > 0)


def regression_weights(process: np.ndarray, weighting: str = "process") -> np.ndarray:
    """Per-event loss weights of the regression, mean 1.

    Args:
        process: Process index per event.
        weighting: ``process`` (every process the same total weight) or ``none`` (all 1).

    Returns:
        One weight per event.
    """
    process = np.asarray(process)
    if weighting == "none":
        return np.ones(len(process))
    if weighting != "process":
        raise ValueError(f"unknown mass-regression weighting {weighting!r}; known: {', '.join(WEIGHTINGS)}")
    numbers, inverse, counts = np.unique(process, return_inverse=True, return_counts=True)
    return len(process) / (len(numbers) * counts[inverse].astype(np.float64))


def train_mass_regression(
    train: Mapping[str, np.ndarray],
    val: Mapping[str, np.ndarray],
    hyper: Mapping[str, Any],
    seed: int,
    device: torch.device | str = "cpu",
) -> tuple[MassRegressionDNN, FitResult]:
    """Train the di-tau mass regression on the events of ``train`` with a true mass; early stopping on ``val``.

    Args:
        train: Training split (columns of :mod:`ml4hep.higgs.dataset`); events without a true mass are skipped.
        val: Validation split, same treatment.
        hyper: Hyper-parameters (the ``higgs.regression`` config section; missing keys take the schema's default).
        seed: Seed of the weights and the shuffling.
        device: Torch device, or ``auto``/``cpu``/``cuda``.

    Returns:
        The model (on the CPU, best validation epoch loaded) and the training history.

    Raises:
        ValueError: A split has no event with a true mass.
        ConfigError: A hyper-parameter, the target or the weighting is unknown.
    """
    hyper = _hyper(hyper)
    device = select_device(device) if isinstance(device, str) else device
    selected = {}
    for name, split in (("train", train), ("val", val)):
        mask = has_truth(split)
        if not mask.any():
            raise ValueError(f"the {name} split has no event with a true di-tau mass to regress")
        selected[name] = {
            "X": np.asarray(split["X"][mask], dtype=np.float32),
            "mass": np.asarray(split["truth_mass"][mask], dtype=np.float64),
            "weight": regression_weights(split["process"][mask], hyper["weighting"]),
        }
    seed_everything(seed)
    x_train = selected["train"]["X"]
    model = MassRegressionDNN(x_train.shape[1], hyper["hidden"], float(hyper["dropout"]), hyper["target"])
    model.standardiser.fit(x_train)
    result = fit(
        model,
        [x_train],
        model.mass_to_target(selected["train"]["mass"]),
        [selected["val"]["X"]],
        model.mass_to_target(selected["val"]["mass"]),
        train_weight=selected["train"]["weight"],
        val_weight=selected["val"]["weight"],
        loss="mse",
        epochs=int(hyper["epochs"]),
        batch_size=int(hyper["batch_size"]),
        learning_rate=float(hyper["learning_rate"]),
        patience=int(hyper["patience"]),
        device=device,
        seed=seed,
        description="higgs mass regression",
    )
    model.to("cpu")
    log.info(
        "mass regression: %d training events, best epoch %d of %d, val loss %.5f",
        len(x_train),
        result.best_epoch,
        len(result.train_loss),
        result.best_val_loss,
    )
    return model, result


def predict_mass(model: MassRegressionDNN, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Regressed di-tau mass in GeV for every row of ``X`` (any event, with or without a true mass)."""
    if len(X) == 0:
        return np.zeros(0)
    outputs = predict(model, [np.asarray(X, dtype=np.float32)], batch_size=batch_size, raw=True)
    return model.target_to_mass(outputs)


def load_mass_regression(path: str | Path) -> tuple[MassRegressionDNN, dict[str, Any]]:
    """Rebuild the model written by :func:`run_regression` from its checkpoint (weights only, no pickles)."""
    state, metadata = load_checkpoint(path)
    n_inputs = int(state["standardiser.mean"].shape[0])
    model = MassRegressionDNN(
        n_inputs, metadata["hidden"], metadata["dropout"], metadata["target"], metadata["scale_gev"]
    )
    model.load_state_dict(state)
    model.eval()
    return model, metadata


def overall_resolution(truth: np.ndarray, estimate: np.ndarray) -> dict[str, float | int]:
    """Response, bias and relative resolution of one mass estimator (definitions in the module docstring).

    Args:
        truth: True masses; events where it is not finite and positive are ignored (not counted).
        estimate: Estimated masses, -999 or non-finite where the estimator is undefined.

    Returns:
        ``n_used``, ``n_undefined`` (events with a true mass but no estimate), ``median_response``, ``bias``,
        ``resolution``, ``q25_response``, ``q75_response``; NaN statistics when no event is used.
    """
    truth = np.asarray(truth, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    valid = np.isfinite(truth) & (truth > 0)
    defined = valid & np.isfinite(estimate) & (estimate != UNDEFINED)
    out: dict[str, float | int] = {"n_used": int(defined.sum()), "n_undefined": int((valid & ~defined).sum())}
    if not defined.any():
        return {
            **out,
            "median_response": math.nan,
            "bias": math.nan,
            "resolution": math.nan,
            "q25_response": math.nan,
            "q75_response": math.nan,
        }
    response = estimate[defined] / truth[defined]
    q25, median, q75 = (float(v) for v in np.percentile(response, [25.0, 50.0, 75.0]))
    resolution = (q75 - q25) / 2.0 / median if median != 0 else math.nan
    return {
        **out,
        "median_response": median,
        "bias": median - 1.0,
        "resolution": resolution,
        "q25_response": q25,
        "q75_response": q75,
    }


def distinct_resonances(resonance_masses: np.ndarray) -> np.ndarray:
    """The distinct generated resonance masses, increasing (values <= 0, e.g. ttbar's 0, and NaN ignored)."""
    masses = np.asarray(resonance_masses, dtype=np.float64)
    return np.unique(np.round(masses[np.isfinite(masses) & (masses > 0)], 6))


def mass_bins(resonance_masses: np.ndarray) -> np.ndarray:
    """True-mass bin edges with one bin per distinct resonance mass.

    The inner edges are the geometric means of neighbouring resonance masses (e.g. 106.8 GeV between the Z and the
    125 GeV Higgs), the outer edges 0 and +inf, so each process falls (apart from its tails) in its own bin.

    Args:
        resonance_masses: Generated resonance masses (values <= 0, e.g. ttbar's 0, and NaN are ignored).

    Returns:
        Increasing edges, one more than the number of distinct masses (``[0, inf]`` when there is none).
    """
    distinct = distinct_resonances(resonance_masses)
    inner = np.sqrt(distinct[:-1] * distinct[1:])
    return np.concatenate([[0.0], inner, [np.inf]])


def bin_labels(bins: np.ndarray, nominal: Sequence[float] | None = None) -> list[str]:
    """Readable names of the bins in GeV (``<106.8``, ``106.8-212.1``, ``>=212.1``).

    Args:
        bins: Bin edges.
        nominal: Optional mass per bin (e.g. the resonance masses of :func:`mass_bins`), put in front:
            ``125 (106.8-212.1)``.

    Returns:
        One label per bin.
    """
    labels = []
    for number, (low, high) in enumerate(zip(bins[:-1], bins[1:], strict=True)):
        if low <= 0 and not np.isfinite(high):
            text = "all"
        elif low <= 0:
            text = f"<{high:.1f}"
        elif not np.isfinite(high):
            text = f">={low:.1f}"
        else:
            text = f"{low:.1f}-{high:.1f}"
        labels.append(text if nominal is None else f"{nominal[number]:.4g} ({text})")
    return labels


def resolution_table(
    truth: np.ndarray,
    estimates: Mapping[str, np.ndarray],
    bins: Sequence[float] | np.ndarray,
    labels: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Bias and relative resolution of every estimator in bins of the true mass.

    Args:
        truth: True masses (events without one are ignored).
        estimates: Estimator name -> masses (-999 where undefined), aligned with ``truth``.
        bins: True-mass bin edges (``low <= truth < high``), e.g. :func:`mass_bins`.
        labels: Name of each bin in the ``bin`` column (default :func:`bin_labels`).

    Returns:
        One row per bin and estimator (bins outer, estimators in the given order), keys :data:`TABLE_COLUMNS`
        (``bin`` a readable label, ``bin_low``/``bin_high`` the edges in GeV) plus ``q25_response``/``q75_response``.
    """
    truth = np.asarray(truth, dtype=np.float64)
    edges = np.asarray(bins, dtype=np.float64)
    rows = []
    names = bin_labels(edges) if labels is None else list(labels)
    for label, low, high in zip(names, edges[:-1], edges[1:], strict=True):
        inside = (truth >= low) & (truth < high)
        for name, estimate in estimates.items():
            stats = overall_resolution(truth[inside], np.asarray(estimate)[inside])
            rows.append({"bin": label, "bin_low": float(low), "bin_high": float(high), "estimator": name, **stats})
    return rows


def estimator_masses(split: Mapping[str, np.ndarray], regressed: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The mass estimators of a split: ``regressed`` (if given), ``visible``, ``collinear`` (-999 where undefined)."""
    names = [str(n) for n in split["feature_names"]]
    out = {} if regressed is None else {"regressed": np.asarray(regressed, dtype=np.float64)}
    for name, column in ESTIMATOR_COLUMNS.items():
        out[name] = np.asarray(split["X"][:, names.index(column)], dtype=np.float64)
    return out


def write_resolution_table(
    rows: Sequence[Mapping[str, Any]], csv_path: str | Path, md_path: str | Path, tex_path: str | Path | None = None
) -> None:
    """Write the resolution table as CSV (every column of :data:`TABLE_COLUMNS`), Markdown and LaTeX."""
    columns = [
        Column("True mass [GeV]", "bin", align="l"),
        Column("Estimator", lambda r: DISPLAY_NAMES.get(r["estimator"], r["estimator"]), align="l"),
        Column("Events", "n_used", align="r"),
        Column("Undefined", "n_undefined", align="r"),
        Column("Median response", lambda r: f"{r['median_response']:.3f}"),
        Column("Bias", lambda r: f"{r['bias']:+.3f}"),
        Column("Resolution", lambda r: f"{r['resolution']:.3f}"),
    ]
    write_table(
        rows,
        columns,
        csv=csv_path,
        md=md_path,
        tex=tex_path,
        csv_keys=TABLE_COLUMNS,
        note="Response r = m_estimate / m_true; bias = median(r) - 1; resolution = (IQR(r) / 2) / median(r). "
        "Undefined estimates (-999) are excluded and counted.",
    )


def run_regression(
    splits: Mapping[str, str | Path],
    hyper: Mapping[str, Any],
    seed: int,
    device_name: str,
    model_path: str | Path,
    predictions_path: str | Path,
    metrics_path: str | Path,
) -> dict[str, Any]:
    """Train the mass regression, write its checkpoint, predictions and metrics.

    The resolution table and the figure are written from these files by a render step (:func:`table_rows`,
    :func:`estimates_on_test`, :func:`write_resolution_table`, :func:`ml4hep.plots.higgs.plot_regression`).

    Args:
        splits: Split name -> dataset file; ``train``, ``val`` and ``test`` are needed, further splits only get
            predictions.
        hyper: Hyper-parameters (the ``higgs.regression`` config section).
        seed: Seed of the training.
        device_name: ``auto``, ``cpu`` or ``cuda``.
        model_path: Torch checkpoint (``state_dict`` + primitive metadata; :func:`load_mass_regression` reads it).
        predictions_path: ``.npz`` with one array per split: the regressed mass (GeV) of *every* event of the split
            (ttbar and events without a true mass included), in the split's event order.
        metrics_path: JSON of the returned dictionary (non-finite numbers written as null).

    Returns:
        ``resolution_{regressed,visible,collinear}``, ``bias_{...}`` (test split, all events with a true mass),
        ``n_test``, ``n_undefined_collinear``, ``table`` (rows of the resolution table: test split, per true-mass
        bin (:func:`mass_bins` of the test resonance masses) and estimator, then the overall rows, bin ``all``),
        ``bins`` (the true-mass bin edges), training summary
        (``n_train``, ``best_epoch``, ``epochs_run``, ``train_loss``, ``val_loss``, ``seconds``, ``device``) and
        the hyper-parameters used.

    Raises:
        InputFileError: The training or validation file has no event with a true di-tau mass (e.g. HiggsML data).
        ConfigError: A hyper-parameter, the target or the weighting is unknown.
    """
    hyper = _hyper(hyper)
    data = {name: load_split(path) for name, path in splits.items()}
    for name in ("train", "val"):
        if not has_truth(data[name]).any():
            raise InputFileError(
                str(splits[name]),
                "no event with a true di-tau mass (truth_mass): the mass regression needs generated samples",
            )
    names = [str(n) for n in data["train"]["feature_names"]]
    if names != FEATURE_NAMES:
        log.warning("feature columns differ from ml4hep.higgs.features.FEATURE_NAMES; using the file's order")
    device = select_device(device_name)
    start = time.perf_counter()
    model, result = train_mass_regression(data["train"], data["val"], hyper, seed, device)
    seconds = time.perf_counter() - start
    save_checkpoint(
        model,
        model_path,
        {
            "hidden": [int(h) for h in hyper["hidden"]],
            "dropout": float(hyper["dropout"]),
            "target": model.target,
            "scale_gev": model.scale,
            "weighting": str(hyper["weighting"]),
            "feature_names": names,
            "seed": int(seed),
            "best_epoch": int(result.best_epoch),
            "best_val_loss": float(result.best_val_loss),
        },
    )
    predictions = {name: predict_mass(model, split["X"]) for name, split in data.items()}
    Path(predictions_path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(predictions_path, **predictions)

    test = data["test"]
    valid = has_truth(test)
    truth = np.asarray(test["truth_mass"], dtype=np.float64)[valid]
    estimates = {k: v[valid] for k, v in estimator_masses(test, predictions["test"]).items()}
    bins = mass_bins(test["resonance_mass"][valid])
    resonances = distinct_resonances(test["resonance_mass"][valid])
    rows = resolution_table(
        truth, estimates, bins, bin_labels(bins, resonances) if len(resonances) == len(bins) - 1 else None
    )
    overall = {name: overall_resolution(truth, estimate) for name, estimate in estimates.items()}
    rows += [
        {"bin": "all", "bin_low": 0.0, "bin_high": math.inf, "estimator": name, **stats}
        for name, stats in overall.items()
    ]

    metrics: dict[str, Any] = {}
    for name in ESTIMATORS:
        metrics[f"resolution_{name}"] = overall[name]["resolution"]
        metrics[f"bias_{name}"] = overall[name]["bias"]
    metrics.update(
        n_test=int(valid.sum()),
        n_undefined_collinear=int(overall["collinear"]["n_undefined"]),
        table=rows,
        bins=[float(b) for b in bins],
        n_train=int(has_truth(data["train"]).sum()),
        best_epoch=int(result.best_epoch),
        epochs_run=len(result.train_loss),
        train_loss=result.train_loss,
        val_loss=result.val_loss,
        seconds=seconds,
        device=device.type,
        seed=int(seed),
        hyper={k: (list(v) if isinstance(v, list | tuple) else v) for k, v in hyper.items()},
    )
    Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
    write_json(metrics_path, metrics)
    log.info(
        "mass resolution (test): regressed %.3f, visible %.3f, collinear %.3f",
        metrics["resolution_regressed"],
        metrics["resolution_visible"],
        metrics["resolution_collinear"],
    )
    return metrics


def table_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resolution-table rows of the metrics JSON of :func:`run_regression`.

    JSON has no infinity nor NaN: the open upper edge of the last bin, written as null, is read back as infinity, and
    the other nulls (statistics of an empty bin) as NaN.
    """

    def restore(key: str, value: Any) -> Any:
        if value is not None or key in ("bin", "estimator"):
            return value
        return math.inf if key == "bin_high" else math.nan

    return [{key: restore(key, value) for key, value in row.items()} for row in metrics["table"]]


def metrics_bins(metrics: Mapping[str, Any]) -> np.ndarray:
    """The true-mass bin edges of the metrics JSON of :func:`run_regression` (null read back as infinity)."""
    return np.array([math.inf if edge is None else edge for edge in metrics["bins"]], dtype=np.float64)


def estimates_on_test(test_path: str | Path, predictions_path: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """True mass and every estimator's mass of the test events with a true mass (what the figure shows).

    Args:
        test_path: Test split of the event table.
        predictions_path: Predictions of :func:`run_regression` (the ``test`` array is used).

    Returns:
        (true masses, estimator name -> masses), aligned.
    """
    test = load_split(test_path)
    with np.load(predictions_path, allow_pickle=False) as predictions:
        regressed = predictions["test"]
    valid = has_truth(test)
    truth = np.asarray(test["truth_mass"], dtype=np.float64)[valid]
    return truth, {k: v[valid] for k, v in estimator_masses(test, regressed).items()}
