"""Di-tau mass regression: a DNN estimating the true di-tau mass from the HiggsML features, against m_vis and m_col.

The model is :class:`MassRegressor`, a :class:`~ml4hep.models.network.TorchClassifier` with a regression loss
(one value per event: the protocol's ``predict`` is the regressed mass in GeV), trained through
:func:`ml4hep.models.step.train_and_score` like every other model: checkpoint every epoch and exact resume, the
model file, a scores file (``score`` = the regressed mass of every event of every split) and the metrics JSON.

The network is a :class:`MassRegressionDNN` (the :class:`ml4hep.higgs.networks.HiggsDNN` with one output, -999
inputs -> 0), trained with a mean-squared-error loss on the events that have a true di-tau mass (``truth_mass``
finite and positive: Z, H(125) and the heavy Higgs bosons, a spread of true masses from ~90 to ~800 GeV; ttbar has
none).

Target: by default ``log(m_true / 100 GeV)`` (``hyper["target"] = "log"``); its squared error is, to first order, the
squared *relative* error of the mass, so a 10% miss costs the same at 91 GeV and at 800 GeV, which is what the
relative resolution measures (:mod:`ml4hep.higgs.resolution`). The prediction is ``100 GeV * exp(output)``.
``"linear"`` regresses ``m_true / 100 GeV`` instead (prediction ``100 GeV * output``), which weighs heavy masses more.

Loss weights (``hyper["weighting"]``): ``"process"`` (default) gives every process the same total weight (mean
weight 1 per event), which flattens the true-mass spectrum over the generated resonances so that no one process (the
Z peak in a physics-weighted sample) dominates the fit; ``"none"`` weights every event 1. Physics weights (cross
sections) are not used: they would make the Z all of the loss. Validation uses the same weighting; the epoch with
the lowest validation loss is kept (early stopping).

Out-of-fold predictions (``hyper["folds"]`` = k, default 5): the regressed mass is an input of the ``bdt_mreg``
classifier, which trains on the training split. Predicted by the network that was fitted on the same events, the
mass would be better there than anywhere else, and the BDT would learn to trust it too much. So the training split
is cut into k folds (seeded from the training's seed), k networks are trained each without one fold (same
hyper-parameters, early stopping on the validation split) and each predicts its left-out fold; the validation and
test splits (and the model file) get the network trained on the whole training split. ``folds: 0`` predicts the
training split in sample (the old behaviour).

Hyper-parameters: the ``higgs.regression`` section of the config; a key the caller does not give takes
the schema's default (``config/schema.yaml``, the only place where defaults are written).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import nn

from ml4hep.chunked import DEFAULT_CHUNK_SIZE, AugmentedRows, is_chunked
from ml4hep.config import section
from ml4hep.errors import InputFileError
from ml4hep.higgs.classifiers import HiggsDenseNetwork
from ml4hep.higgs.dataset import open_split, select_events
from ml4hep.higgs.networks import HiggsDNN
from ml4hep.higgs.resolution import estimator_columns, has_truth, resolution_summary
from ml4hep.models import FitContext, Split
from ml4hep.models.base import fingerprint

log = logging.getLogger(__name__)

MASS_SCALE_GEV = 100.0
"""Mass unit of the regression target (GeV)."""

TARGETS = ("log", "linear")
WEIGHTINGS = ("process", "none")
FOLD_STREAM = 16
"""Random stream of the fold assignment (apart from the network's own seeding)."""
ONNX_OUTPUT = "mass_gev"
"""Output of the ONNX export: the regressed di-tau mass in GeV."""
ONNX_ATOL_GEV = 1e-3
"""Largest |torch - onnxruntime| difference of the exported mass (float32 at up to ~1 TeV: ~1e-4 GeV)."""


class MassRegressionDNN(HiggsDNN):
    """A :class:`HiggsDNN` whose single output is the mass target (same ``state_dict`` keys as ``HiggsDNN``).

    Args:
        n_inputs: Number of features.
        hidden: Widths of the hidden layers.
        dropout: Dropout probability after each hidden layer.
        target: ``log`` (output = log(m / scale)) or ``linear`` (output = m / scale).
    """

    def __init__(
        self, n_inputs: int, hidden: Sequence[int] = (64, 64, 64), dropout: float = 0.0, target: str = "log"
    ) -> None:
        if target not in TARGETS:
            raise ValueError(f"unknown mass-regression target {target!r}; known: {', '.join(TARGETS)}")
        super().__init__(n_inputs, hidden, dropout)
        self.target = target


def mass_to_target(mass: np.ndarray, target: str = "log", scale: float = MASS_SCALE_GEV) -> np.ndarray:
    """The training target of masses in GeV."""
    scaled = np.asarray(mass, dtype=np.float64) / scale
    return np.log(scaled) if target == "log" else scaled


def target_to_mass(output: np.ndarray, target: str = "log", scale: float = MASS_SCALE_GEV) -> np.ndarray:
    """Masses in GeV from network outputs."""
    output = np.asarray(output, dtype=np.float64)
    return scale * (np.exp(output) if target == "log" else output)


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


def fold_numbers(n: int, folds: int, seed: int) -> np.ndarray:
    """The fold (0 .. folds - 1) of each of ``n`` training events: equal sizes, a seeded permutation.

    Example:
        >>> np.bincount(fold_numbers(10, 3, seed=1)).tolist()
        [4, 3, 3]
    """
    rng = np.random.default_rng([int(seed) % 2**63, FOLD_STREAM])
    numbers = np.empty(int(n), dtype=np.int64)
    numbers[rng.permutation(int(n))] = np.arange(int(n)) % int(folds)
    return numbers


class MassRegressor(HiggsDenseNetwork):
    """The di-tau mass regression behind the model interface: ``predict`` is the regressed mass (GeV) per event.

    Args:
        **hyper: The ``higgs.regression`` section (missing keys: the schema's defaults; unknown keys: a
            :class:`~ml4hep.errors.ConfigError` naming the key).

    Attributes:
        out_of_fold: After :meth:`fit`, the out-of-fold regressed mass of every training event (None with
            ``folds`` < 2); :func:`~ml4hep.models.step.train_and_score` writes it as the training split's scores.
    """

    name: ClassVar[str] = "mass_regression"
    display_name: ClassVar[str] = "DNN regression"
    loss: ClassVar[str] = "mse"
    raw_outputs: ClassVar[bool] = True
    standardised_dtype: ClassVar[type] = np.float32

    def __init__(self, **hyper: Any) -> None:
        weight_decay = hyper.pop("weight_decay", 0.0)  # a key of the training loop, not of the config section
        super().__init__(**section("higgs.regression", hyper), weight_decay=weight_decay)
        if self.hyper["target"] not in TARGETS:
            raise ValueError(f"unknown mass-regression target {self.hyper['target']!r}; known: {', '.join(TARGETS)}")
        self.out_of_fold: np.ndarray | None = None

    def training_examples(self, split: Split, purpose: str, seed: int) -> Split:
        """The events with a true di-tau mass, with their regression targets and loss weights.

        Raises:
            ValueError: No event of the split has a true mass.
        """
        mask = has_truth(split)
        if not mask.any():
            raise ValueError(f"the {purpose} split has no event with a true di-tau mass to regress")
        if is_chunked(split):  # the features stay on disk; the per-event targets and weights are small
            events = select_events(split, mask)
            return AugmentedRows(
                events,
                {
                    "target": mass_to_target(events["truth_mass"], self.hyper["target"]),
                    "weight": regression_weights(events["process"], self.hyper["weighting"]),
                },
            )
        return {
            "X": np.asarray(split["X"][mask], dtype=np.float32),
            "target": mass_to_target(split["truth_mass"][mask], self.hyper["target"]),
            "weight": regression_weights(split["process"][mask], self.hyper["weighting"]),
        }

    def targets(self, split: Split) -> np.ndarray:
        """The regression target of each event."""
        return np.asarray(split["target"])

    def loss_weights(self, split: Split) -> np.ndarray:
        """The per-process weights of :func:`regression_weights`."""
        return np.asarray(split["weight"])

    def build_network(self, **shape: Any) -> nn.Module:
        """The regression DNN with the configured layers, dropout and target."""
        return MassRegressionDNN(
            shape["n_inputs"], self.hyper["hidden"], float(self.hyper["dropout"]), self.hyper["target"]
        )

    def scores_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """The regressed mass in GeV."""
        return target_to_mass(outputs, self.hyper["target"])

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """The out-of-fold networks (``folds`` >= 2), then the network on the whole training split."""
        folds = int(self.hyper["folds"])
        self.out_of_fold = self.fit_out_of_fold(train, val, context, folds) if folds >= 2 else None
        info = super().fit(train, val, context)
        info.update(n_train=int(has_truth(train).sum()), folds=folds if folds >= 2 else 0)
        log.info(
            "mass regression: %d training events, best epoch %d of %d%s",
            info["n_train"],
            info["best_epoch"],
            info["epochs_run"],
            f", training split predicted out of {folds} folds" if folds >= 2 else "",
        )
        return info

    def fit_out_of_fold(self, train: Split, val: Split, context: FitContext, folds: int) -> np.ndarray:
        """The regressed mass of every training event by the network trained without its fold.

        Each fold's training has its own checkpoint (``{checkpoint}.fold{k}``, kept until all folds are done, so
        that a retried job resumes the folds it had finished or started) and its own seed.
        """
        from ml4hep.training import TrainingCheckpoint

        numbers = fold_numbers(train.n_rows if is_chunked(train) else len(train["X"]), folds, context.seed)
        predictions = np.zeros(len(numbers))
        checkpoints = []
        for fold in range(folds):
            checkpoint = None if context.checkpoint is None else Path(f"{context.checkpoint}.fold{fold}")
            checkpoints.append(checkpoint)
            fold_context = dataclasses.replace(
                context,
                seed=(int(context.seed) + 7919 * (fold + 1)) % 2**31,
                checkpoint=checkpoint,
                fingerprint=fingerprint(context.fingerprint, "fold", fold, folds),
            )
            model = type(self)(**{**self.hyper, "folds": 0})
            model.fit(select_events(train, numbers != fold), val, fold_context)
            predictions[numbers == fold] = model.predict(select_events(train, numbers == fold))
        for checkpoint in checkpoints:
            TrainingCheckpoint(checkpoint).remove()
        return predictions

    def metadata(self) -> dict[str, Any]:
        """The target, its mass unit and the hidden layers, for readers of the file."""
        return {"target": self.hyper["target"], "scale_gev": MASS_SCALE_GEV, "hidden": list(self.hyper["hidden"])}

    def export_onnx(self, path: str | Path, split: Split, atol: float = ONNX_ATOL_GEV) -> float:
        """Export the network with its target turned into GeV (:class:`~ml4hep.higgs.networks.MassInGeV`).

        The graph's input is ``X`` (the HiggsML features, -999 where undefined), its output
        :data:`ONNX_OUTPUT` the regressed mass in GeV; its metadata name the model, the task and the features.

        Returns:
            The largest |torch - onnxruntime| difference of the mass (GeV) on (one chunk of) ``split``.
        """
        import torch

        from ml4hep.higgs.networks import MassInGeV
        from ml4hep.onnx_export import check_onnx_matches

        inputs = tuple(torch.as_tensor(a) for a in self.example_inputs(split))
        network = MassInGeV(self.network, self.hyper["target"], MASS_SCALE_GEV).eval()
        return check_onnx_matches(
            network, inputs, path, list(self.inputs), atol=atol, output_name=ONNX_OUTPUT, metadata=self.onnx_metadata()
        )


def regression_splits(paths: Mapping[str, str | Path], chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict[str, Split]:
    """The event tables of the regression (every event: those without a true mass are predicted too).

    The splits stay on disk (:func:`ml4hep.higgs.dataset.open_split`): the training streams the features chunk
    by chunk, with the targets and loss weights of the events with a true mass in memory.

    Raises:
        InputFileError: The training or validation file has no event with a true di-tau mass (e.g. HiggsML data).
    """
    data = {name: open_split(path, chunk_size) for name, path in paths.items()}
    for name in ("train", "val"):
        if not has_truth(data[name]).any():
            raise InputFileError(
                str(paths[name]),
                "no event with a true di-tau mass (truth_mass): the mass regression needs generated samples",
            )
    return data


def summarise_regression(splits: Mapping[str, Split], scores: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The resolution metrics of the test split (:func:`ml4hep.higgs.resolution.resolution_summary`).

    Of the features only the visible and collinear masses are read (chunk by chunk from a streamed split).
    """
    metrics = resolution_summary(estimator_columns(splits["test"]), scores["test"])
    log.info(
        "mass resolution (test, %d events): regressed %.3f, visible %.3f, collinear %.3f",
        metrics["n_compared"],
        metrics["resolution_regressed"],
        metrics["resolution_visible"],
        metrics["resolution_collinear"],
    )
    return metrics
