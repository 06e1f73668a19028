"""Torch networks behind the model interface: one class per network, one training loop for all of them."""

from __future__ import annotations

import json
import pickle  # only for its error type: models are read with torch.load(weights_only=True)
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ml4hep.models.base import FitContext, Split

if TYPE_CHECKING:  # torch is imported where a network is built, so that the registries load without it
    from torch import nn

TRAINING_KEYS = ("epochs", "batch_size", "learning_rate", "weight_decay", "patience")
"""Hyper-parameters of the training loop; every other hyper-parameter belongs to the network."""


class TorchClassifier:
    """A torch network trained with :func:`ml4hep.training.fit` (BCE on logits, early stopping, checkpoints).

    A subclass says which columns the network reads (``inputs``), how the loss weights events (``weighting``) and
    how to build the network (:meth:`build_network`, from the hyper-parameters and :meth:`network_shape`, the
    sizes that come from the data); everything else (seeding, device, early stopping, checkpoint and resume,
    saving as a ``state_dict``, loading with ``weights_only=True``, ONNX export) is here, once.

    A split may be a mapping of arrays in memory or a :class:`ml4hep.chunked.ChunkedSplit` (a split file read
    chunk by chunk): then training, validation and prediction stream the input columns batch by batch
    (:class:`ml4hep.training.StreamedBatches`) and only the per-row label and weight columns are read whole.

    A network that is not a plain classifier of the split's rows (a regression, a network that takes an extra
    parameter) says what it trains on with :meth:`training_examples` (the rows and columns of a split that it
    trains and validates on), :meth:`targets` and :meth:`loss_weights`, and turns its outputs into scores with
    :meth:`scores_from_outputs`.

    Attributes:
        inputs: Columns of the split fed to the network, in the order of its ``forward`` arguments.
        label: Column with the 0/1 labels.
        weighting: ``balanced`` (classes of equal total weight, unit event weights), ``balanced_event`` (the same
            with the ``weight`` column) or ``none``.
        loss: ``bce`` (logits against 0/1 targets), ``mse`` (a regression) or ``bce_mse`` (a logit and regressions
            in one loss, :func:`ml4hep.training.fit`).
        raw_outputs: Whether :meth:`predict` takes the raw outputs (a regression) instead of their sigmoid.

    Args:
        **hyper: Training keys (:data:`TRAINING_KEYS`) and the network's own keys.
    """

    name: ClassVar[str] = "network"
    suffix: ClassVar[str] = ".pt"
    is_network: ClassVar[bool] = True
    inputs: ClassVar[tuple[str, ...]] = ("X",)
    label: ClassVar[str] = "label"
    weighting: ClassVar[str] = "balanced"
    loss: ClassVar[str] = "bce"
    raw_outputs: ClassVar[bool] = False
    defaults: ClassVar[dict[str, Any]] = {
        "epochs": 30,
        "batch_size": 256,
        "learning_rate": 1e-3,
        "weight_decay": 0.0,
        "patience": 5,
    }

    def __init__(self, **hyper: Any) -> None:
        self.hyper = {**self.defaults, **hyper}
        self.network: nn.Module | None = None
        self.shape: dict[str, Any] = {}

    @property
    def network_hyper(self) -> dict[str, Any]:
        """The hyper-parameters of the network (all but the training keys)."""
        return {k: v for k, v in self.hyper.items() if k not in TRAINING_KEYS}

    def network_shape(self, train: Split) -> dict[str, Any]:
        """Sizes the network takes from the training data (e.g. the number of input columns)."""
        return {}

    def build_network(self, **shape: Any) -> nn.Module:
        """A new network with the hyper-parameters and ``shape``."""
        raise NotImplementedError

    def prepare(self, network: nn.Module, train: Split) -> None:
        """Set what the network learns from the training data before training (e.g. its standardiser)."""

    def training_examples(self, split: Split, purpose: str, seed: int) -> Split:
        """The rows and columns of ``split`` that the network trains (``purpose`` ``train``) or validates on.

        By default every row as it is; ``seed`` is the training's, for a selection or an input that is drawn.
        """
        return split

    def targets(self, split: Split) -> np.ndarray:
        """Per-example training targets (by default the label column)."""
        return np.asarray(split[self.label])

    def scores_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """Scores from the network's outputs (by default the outputs: the sigmoid, or raw with ``raw_outputs``)."""
        return outputs

    def arrays(self, split: Split) -> list[np.ndarray]:
        """The network's input arrays of ``split`` (in memory)."""
        return [np.asarray(split[column], dtype=np.float32) for column in self.inputs]

    def data(self, split: Split, *, targets: bool = False, seed: int | None = None) -> Any:
        """What :func:`ml4hep.training.fit` and ``predict`` take for ``split``.

        That is its input arrays, or a :class:`ml4hep.training.StreamedBatches` over a chunked split (with labels
        and loss weights when ``targets``; shuffled with ``seed``).
        """
        from ml4hep.chunked import is_chunked
        from ml4hep.training import StreamedBatches

        if not is_chunked(split):
            return self.arrays(split)
        if not targets:
            return StreamedBatches(split, self.inputs)
        return StreamedBatches(split.reopened(seed=seed), self.inputs, self.targets(split), self.loss_weights(split))

    def example_inputs(self, split: Split) -> list[np.ndarray]:
        """Input arrays of (at most one chunk of) ``split``, e.g. to check an ONNX export."""
        from ml4hep.chunked import is_chunked

        if not is_chunked(split):
            return self.arrays(split)
        rows = split.read(self.inputs, 0, min(split.n_rows, split.chunk_size))
        return [np.asarray(rows[column], dtype=np.float32) for column in self.inputs]

    def loss_weights(self, split: Split) -> np.ndarray | None:
        """Per-example loss weights."""
        from ml4hep.training import balanced_weights

        if self.weighting == "none":
            return None
        return balanced_weights(split[self.label], split["weight"] if self.weighting == "balanced_event" else None)

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Train on ``train`` with early stopping on ``val``; resume from the context's checkpoint if it has one."""
        import torch

        from ml4hep.training import TrainingCheckpoint, fit, seed_everything, select_device

        torch.set_num_threads(context.threads)
        device = select_device(context.device)
        seed_everything(context.seed)
        train = self.training_examples(train, "train", context.seed)
        val = self.training_examples(val, "val", context.seed)
        self.shape = self.network_shape(train)
        self.network = self.build_network(**self.shape)
        self.prepare(self.network, train)
        train_data, val_data = self.data(train, targets=True, seed=context.seed), self.data(val, targets=True)
        streamed = not isinstance(train_data, list)
        result = fit(
            self.network,
            train_data,
            None if streamed else self.targets(train),
            val_data,
            None if streamed else self.targets(val),
            train_weight=None if streamed else self.loss_weights(train),
            val_weight=None if streamed else self.loss_weights(val),
            loss=self.loss,
            epochs=int(self.hyper["epochs"]),
            batch_size=int(self.hyper["batch_size"]),
            learning_rate=float(self.hyper["learning_rate"]),
            weight_decay=float(self.hyper["weight_decay"]),
            patience=int(self.hyper["patience"]),
            device=device,
            seed=context.seed,
            description=self.name,
            checkpoint=TrainingCheckpoint(context.checkpoint, context.fingerprint),
        )
        self.network.to("cpu")
        return {
            "device": device.type,
            "parameters": int(sum(p.numel() for p in self.network.parameters())),
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.train_loss),
            "train_loss": result.train_loss,
            "val_loss": result.val_loss,
            "train_examples_per_second": result.examples_per_second,
            "resumed_from_epoch": result.resumed_from_epoch,
        }

    def predict(self, split: Split) -> np.ndarray:
        """sigmoid(logit) per example (or the scores of the raw outputs), on the CPU, in eval mode."""
        import torch

        from ml4hep.training import predict

        outputs = predict(self.network, self.data(split), device=torch.device("cpu"), raw=self.raw_outputs)
        return self.scores_from_outputs(outputs)

    def logits(self, split: Split) -> np.ndarray:
        """The raw network outputs per example."""
        import torch

        from ml4hep.training import predict

        return predict(self.network, self.data(split), device=torch.device("cpu"), raw=True)

    def save(self, path: str | Path) -> None:
        """The ``state_dict`` with the hyper-parameters and shape as JSON text (no pickled objects)."""
        from ml4hep.training import save_checkpoint

        metadata = {"model": self.name, "hyper": json.dumps(self.hyper), "shape": json.dumps(self.shape)}
        save_checkpoint(self.network, path, {**self.metadata(), **metadata})

    def metadata(self) -> dict[str, Any]:
        """Further plain entries of the saved file's metadata (e.g. the names of the inputs), for other readers."""
        return {}

    @classmethod
    def load(cls, path: str | Path) -> TorchClassifier:
        """Rebuild the network from the saved hyper-parameters and load its weights (``weights_only=True``)."""
        from ml4hep.errors import InputFileError
        from ml4hep.training import load_checkpoint

        try:
            state, metadata = load_checkpoint(path)
            model = cls(**json.loads(metadata["hyper"]))
            model.shape = json.loads(metadata["shape"])
            model.network = model.build_network(**model.shape)
            model.network.load_state_dict(state)
        except (OSError, RuntimeError, KeyError, ValueError, EOFError, pickle.UnpicklingError) as error:
            raise InputFileError(str(path), f"not a {cls.name} model written by ml4hep ({error})") from None
        model.network.eval()
        return model

    def export_onnx(self, path: str | Path, split: Split, atol: float = 1e-4) -> float:
        """Export to ONNX and return the largest |torch - onnxruntime| difference on ``split``.

        A chunked split is checked on its first chunk.
        """
        import torch

        from ml4hep.onnx_export import check_onnx_matches

        inputs = tuple(torch.as_tensor(a) for a in self.example_inputs(split))
        return check_onnx_matches(
            self.network.eval(), inputs, path, list(self.inputs), atol=atol, metadata=self.onnx_metadata()
        )

    def onnx_metadata(self) -> dict[str, str]:
        """The strings the ONNX graph's ``metadata_props`` hold: the model's task and registry name.

        ``ml4hep predict`` names a graph by them rather than by its file name.
        """
        return {"ml4hep_task": str(getattr(self, "task", "")), "ml4hep_model": str(getattr(self, "name", ""))}


def timed_predict(model: Any, split: Split) -> tuple[np.ndarray, float]:
    """``model.predict(split)`` and its examples per second."""
    start = time.perf_counter()
    scores = model.predict(split)
    seconds = time.perf_counter() - start
    return scores, (len(scores) / seconds if seconds > 0 else float("nan"))
