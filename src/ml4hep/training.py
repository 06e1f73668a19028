"""Training utilities shared by the tasks: device choice, seeding, a fit loop with early stopping, checkpoints.

Checkpoints are plain ``state_dict``s (plus primitive metadata) saved with ``torch.save`` and read back with
``torch.load(..., weights_only=True)``, so loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ml4hep.errors import ConfigError

log = logging.getLogger(__name__)


def select_device(requested: str = "auto") -> torch.device:
    """The torch device for a training job, logged with what is visible.

    Args:
        requested: ``auto`` (CUDA when visible, else CPU), ``cuda`` or ``cpu``.

    Returns:
        The device.

    Raises:
        ConfigError: ``cuda`` was requested and no GPU is visible.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
    has_cuda = torch.cuda.is_available()
    if requested == "cpu" or (requested == "auto" and not has_cuda):
        reason = "as configured" if requested == "cpu" else f"no GPU usable: {_no_cuda_reason()}"
        log.info("device: cpu (%s; CUDA_VISIBLE_DEVICES=%s)", reason, visible)
        return torch.device("cpu")
    if requested in ("auto", "cuda") and has_cuda:
        log.info(
            "device: cuda (%s, %d visible; CUDA_VISIBLE_DEVICES=%s)",
            torch.cuda.get_device_name(0),
            torch.cuda.device_count(),
            visible,
        )
        return torch.device("cuda")
    if requested == "cuda":
        raise ConfigError(
            f"config key 'device' is 'cuda' but no GPU is visible ({_no_cuda_reason()}; CUDA_VISIBLE_DEVICES={visible})"
        )
    raise ConfigError(f"config key 'device': unknown device {requested!r}")


def _no_cuda_reason() -> str:
    """Why torch sees no CUDA device: a CPU-only build, or no device visible to this process."""
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is built without CUDA"
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        return "CUDA_VISIBLE_DEVICES is empty"
    return "torch finds no CUDA device"


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so that a training job is reproducible on the CPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def balanced_weights(labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-event loss weights giving both classes the same total weight (and mean weight 1).

    Args:
        labels: 0/1 labels.
        weights: Event weights (None: unit weights). Negative weights are kept.

    Returns:
        Rescaled weights.
    """
    labels = np.asarray(labels)
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
    out = np.empty_like(w)
    for value in (0, 1):
        selected = labels == value
        total = w[selected].sum()
        out[selected] = w[selected] / total * len(labels) / 2 if total != 0 else 0.0
    return out


class EarlyStopping:
    """Early stopping with best-weights restore, shared by every torch training (networks and PDF replicas).

    Patience counts epochs since the lowest monitored value of any epoch; the weights kept are those of the lowest
    value among the *admissible* epochs (for a PDF replica: those whose positivity penalty is within tolerance; for
    an ordinary network every epoch is admissible, and the two coincide).

    Example:
        >>> from torch import nn
        >>> model = nn.Linear(1, 1)
        >>> stopper = EarlyStopping(patience=2)
        >>> [stopper.update(epoch, loss, model) for epoch, loss in enumerate([3.0, 2.0, 2.5, 2.4])]
        [False, False, False, True]
        >>> stopper.best_epoch, stopper.best_value
        (1, 2.0)
    """

    def __init__(self, patience: int) -> None:
        self.patience = int(patience)
        self.best_epoch = -1
        self.best_value = math.inf
        self.lowest_epoch = -1
        self.lowest_value = math.inf
        self.best_state: dict[str, torch.Tensor] | None = None

    def update(self, epoch: int, value: float, model: nn.Module, admissible: bool = True) -> bool:
        """Record the monitored value of ``epoch`` (and the weights when they are the best); True: stop now."""
        if value < self.lowest_value:
            self.lowest_value, self.lowest_epoch = value, epoch
        if admissible and value < self.best_value:
            self.best_value, self.best_epoch = value, epoch
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return epoch - self.lowest_epoch >= self.patience

    def restore(self, model: nn.Module) -> bool:
        """Load the kept weights into ``model``; False when no admissible epoch was seen (weights left as they are)."""
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True

    def state_dict(self) -> dict[str, Any]:
        """The state to put in a checkpoint (tensors and plain numbers only)."""
        return {
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "lowest_epoch": self.lowest_epoch,
            "lowest_value": self.lowest_value,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state written by :meth:`state_dict`."""
        self.best_epoch, self.best_value = int(state["best_epoch"]), float(state["best_value"])
        self.lowest_epoch, self.lowest_value = int(state["lowest_epoch"]), float(state["lowest_value"])
        self.best_state = state["best_state"]


def rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every random state a training step draws from (torch, CUDA, numpy, Python, and ``generator``)."""
    _, keys, position, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.as_tensor(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    if generator is not None:
        state["generator"] = generator.get_state()
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any], generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached"],
        )
    )
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["internal"]), python_state["gauss"]))
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TrainingCheckpoint:
    """A per-epoch checkpoint of a training job, so that a killed or retried job resumes where it stopped.

    It holds the model, optimiser and scheduler states, the epoch, every RNG state, the early-stopping state and
    the history, and a ``fingerprint`` of what the training depends on (hyper-parameters, seed, inputs): a
    checkpoint of another configuration is ignored, not resumed. It is written atomically each epoch, read with
    ``torch.load(weights_only=True)`` and removed once the training has finished.

    Args:
        path: Checkpoint file (None: no checkpoints).
        fingerprint: Identity of the training; a checkpoint with another one is discarded.
    """

    def __init__(self, path: str | Path | None, fingerprint: str = "") -> None:
        self.path = Path(path) if path is not None else None
        self.fingerprint = fingerprint

    def save(self, state: Mapping[str, Any]) -> None:
        """Write ``state`` (plus the fingerprint) atomically."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.partial")
        torch.save({**state, "fingerprint": self.fingerprint}, partial)
        os.replace(partial, self.path)

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none (or it belongs to another training or cannot be read)."""
        if self.path is None or not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - a torn checkpoint is not fatal: start afresh
            log.warning("checkpoint %s unreadable (%s): starting afresh", self.path, error)
            return None
        if state.get("fingerprint") != self.fingerprint:
            log.info("checkpoint %s belongs to another training: starting afresh", self.path)
            return None
        return state

    def remove(self) -> None:
        """Delete the checkpoint (the training has finished)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)


@dataclass
class FitResult:
    """Outcome of :func:`fit`.

    Attributes:
        best_epoch: Epoch (0-based) with the lowest validation loss; its weights are loaded into the model.
        best_val_loss: That loss.
        train_loss: Training loss per epoch.
        val_loss: Validation loss per epoch.
        seconds: Wall time (of this job; a resumed training counts from the resume).
        examples_per_second: Training throughput (examples seen per second of training).
        resumed_from_epoch: Last epoch of the checkpoint this training resumed from (None: from the start).
    """

    best_epoch: int
    best_val_loss: float
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    examples_per_second: float = 0.0
    resumed_from_epoch: int | None = None


def _tensor(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    tensor = torch.as_tensor(array)
    return tensor.float() if tensor.is_floating_point() else tensor


def _weighted_loss(loss_name: str, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    if loss_name == "bce":
        per_example = nn.functional.binary_cross_entropy_with_logits(output, target, reduction="none")
    elif loss_name == "mse":
        per_example = (output - target) ** 2
    elif loss_name == "bce_mse":
        # a cross-entropy and regressions in one loss (ALICES, CASCAL: the ratio's logit and the score's squared
        # error, arXiv:1805.12244): column 0 is a logit against a (soft) label, the other columns are squared errors
        logit = nn.functional.binary_cross_entropy_with_logits(output[:, :1], target[:, :1], reduction="none")
        per_example = torch.cat([logit, (output[:, 1:] - target[:, 1:]) ** 2], dim=1)
    else:
        raise ValueError(f"unknown loss {loss_name!r}")
    return (per_example * weight).sum() / weight.sum().clamp_min(1e-12)


Batch = tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]
"""One mini-batch: the model's inputs, the targets and the loss weights."""


@runtime_checkable
class BatchSource(Protocol):
    """Where :func:`fit` and :func:`predict` take their batches from: arrays in memory or a file read in chunks."""

    def __len__(self) -> int:
        """Number of examples."""
        ...

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Every example once: shuffled when ``generator`` is given (a training epoch), else in order."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """The source's own random state (plain numbers), saved in the training checkpoint."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        ...


class ArrayBatches:
    """Batches of in-memory arrays (a training epoch permutes them with ``torch.randperm`` on the generator).

    Args:
        inputs: Arrays fed to the model (first axis: examples).
        target: Targets (None: zeros, for prediction).
        weight: Loss weights (None: 1).
    """

    def __init__(
        self, inputs: Sequence[np.ndarray], target: np.ndarray | None = None, weight: np.ndarray | None = None
    ) -> None:
        self.tensors = [_tensor(a) for a in inputs]
        n = len(self.tensors[0]) if self.tensors else 0
        self.target = _tensor(np.zeros(n, np.float32) if target is None else np.asarray(target, np.float32))
        self.weight = _tensor(np.ones(n, np.float32) if weight is None else np.asarray(weight, np.float32))

    def __len__(self) -> int:
        return len(self.target)

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Batches of ``batch_size`` examples, permuted by ``generator`` (None: in order)."""
        n = len(self)
        if generator is None:
            for begin in range(0, n, batch_size):
                part = slice(begin, begin + batch_size)
                yield [t[part] for t in self.tensors], self.target[part], self.weight[part]
            return
        permutation = torch.randperm(n, generator=generator)
        for begin in range(0, n, batch_size):
            index = permutation[begin : begin + batch_size]
            yield [t[index] for t in self.tensors], self.target[index], self.weight[index]

    def state_dict(self) -> dict[str, Any]:
        """Nothing: the permutations come from the training's generator, which the checkpoint holds."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Nothing to restore."""


class StreamedBatches:
    """Batches read from a split file chunk by chunk (:class:`ml4hep.chunked.ChunkedSplit`).

    A training epoch takes the split's shuffled chunks (chunk order permuted, rows permuted within a buffer of
    chunks, seeded by the split's seed and epoch counter, which is this source's state); batches have
    ``batch_size`` rows across buffer boundaries. Targets and loss weights are small per-row arrays held in
    memory and looked up by row number; only the input columns (constituents, images) are streamed.

    Args:
        split: The split file.
        inputs: Columns fed to the model, in the order of its ``forward`` arguments.
        target: Per-row targets (None: zeros, for prediction).
        weight: Per-row loss weights (None: 1).
    """

    def __init__(
        self, split: Any, inputs: Sequence[str], target: np.ndarray | None = None, weight: np.ndarray | None = None
    ) -> None:
        self.split = split
        self.inputs = list(inputs)
        n = split.n_rows
        self.target = np.zeros(n, np.float32) if target is None else np.asarray(target, np.float32)
        self.weight = np.ones(n, np.float32) if weight is None else np.asarray(weight, np.float32)

    def __len__(self) -> int:
        return int(self.split.n_rows)

    def _batch(self, chunk: Mapping[str, np.ndarray], part: slice) -> Batch:
        from ml4hep.chunked import ROW

        rows = chunk[ROW][part]
        inputs = [_tensor(np.asarray(chunk[name][part], dtype=np.float32)) for name in self.inputs]
        return inputs, _tensor(self.target[rows]), _tensor(self.weight[rows])

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Every row once: the split's shuffled epoch when ``generator`` is given (it is not used), else in order."""
        from ml4hep.chunked import ROW

        chunks = self.split.shuffled_chunks(self.inputs) if generator is not None else self.split.chunks(self.inputs)
        pending: dict[str, np.ndarray] | None = None
        for chunk in chunks:
            if pending is not None:
                chunk = {name: np.concatenate([pending[name], chunk[name]]) for name in chunk}
            n = len(chunk[ROW])
            full = n - n % batch_size
            for begin in range(0, full, batch_size):
                yield self._batch(chunk, slice(begin, begin + batch_size))
            pending = {name: array[full:] for name, array in chunk.items()} if full < n else None
        if pending is not None:
            yield self._batch(pending, slice(None))

    def state_dict(self) -> dict[str, Any]:
        """The split's shuffling state."""
        return self.split.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the split's shuffling state."""
        self.split.load_state_dict(state)


def _as_source(
    inputs: Sequence[np.ndarray] | BatchSource, target: np.ndarray | None, weight: np.ndarray | None
) -> BatchSource:
    return inputs if isinstance(inputs, BatchSource) else ArrayBatches(inputs, target, weight)


@torch.no_grad()
def _validation_loss(model: nn.Module, source: BatchSource, loss: str, batch_size: int, device: torch.device) -> float:
    """The weighted mean loss over ``source``, accumulated batch by batch."""
    model.eval()
    numerator, denominator = 0.0, 0.0
    for inputs, target, weight in source.batches(batch_size):
        output = model(*[t.to(device) for t in inputs]).float().cpu()
        numerator += float(_weighted_loss(loss, output, target, weight)) * float(weight.sum())
        denominator += float(weight.sum())
    return numerator / denominator if denominator > 0 else float("nan")


def fit(
    model: nn.Module,
    train_inputs: Sequence[np.ndarray] | BatchSource,
    train_target: np.ndarray | None,
    val_inputs: Sequence[np.ndarray] | BatchSource,
    val_target: np.ndarray | None,
    *,
    train_weight: np.ndarray | None = None,
    val_weight: np.ndarray | None = None,
    loss: str = "bce",
    epochs: int = 30,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    patience: int = 5,
    device: torch.device | None = None,
    seed: int = 0,
    description: str = "train",
    checkpoint: TrainingCheckpoint | None = None,
    after_epoch: Callable[[int], None] | None = None,
) -> FitResult:
    """Train ``model`` with Adam, stop when the validation loss has not improved for ``patience`` epochs.

    The weights of the best validation epoch are kept (:class:`EarlyStopping`) and loaded at the end. With a
    ``checkpoint`` the whole training state is saved after every epoch (with the data source's shuffling state),
    and a training that finds a checkpoint of its own fingerprint resumes from it (logged as ``resumed from epoch
    k``); on the CPU the resumed training ends with exactly the weights of an uninterrupted one.

    The data are either arrays in memory (small sets: the Higgs, SUSY and regression tasks) or
    :class:`BatchSource` objects such as :class:`StreamedBatches`, which read a split file chunk by chunk, so that
    the memory of a training does not grow with the number of examples.

    Args:
        model: Module called as ``model(*inputs)`` returning one output per example.
        train_inputs: Arrays fed to the model (first axis: examples), or a :class:`BatchSource` (which then
            carries the targets and weights).
        train_target: Targets (0/1 for ``bce``, values for ``mse``); None with a source.
        val_inputs: Validation arrays, or a source.
        val_target: Validation targets; None with a source.
        train_weight: Loss weights per training example (None: 1); ignored with a source.
        val_weight: Loss weights per validation example (None: 1); ignored with a source.
        loss: ``bce`` (logits), ``mse``, or ``bce_mse`` (two-column outputs, targets and weights: column 0 a
            logit against a soft label, the others squared errors; the weights set each term's share).
        epochs: Maximum number of epochs.
        batch_size: Mini-batch size.
        learning_rate: Adam learning rate.
        weight_decay: Adam weight decay.
        patience: Epochs without improvement before stopping.
        device: Where to train (default CPU).
        seed: Seed of the shuffling (of in-memory arrays; a streamed source has its own seed).
        description: Label of the progress bar.
        checkpoint: Where to save (and resume) the training state each epoch (None: nowhere).
        after_epoch: Called with the epoch number after its checkpoint is written (tests use it to kill a job).

    Returns:
        The training history and the best epoch.
    """
    device = device or torch.device("cpu")
    model.to(device)
    train_source = _as_source(train_inputs, train_target, train_weight)
    val_source = _as_source(val_inputs, val_target, val_weight)
    n_train = len(train_source)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    stopper = EarlyStopping(patience)
    result = FitResult(best_epoch=-1, best_val_loss=float("inf"))
    checkpoint = checkpoint or TrainingCheckpoint(None)
    first_epoch = 0
    saved = checkpoint.load()
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        stopper.load_state_dict(saved["early_stopping"])
        set_rng_state(saved["rng"], generator)
        train_source.load_state_dict(saved.get("data", {}))
        result.train_loss, result.val_loss = list(saved["train_loss"]), list(saved["val_loss"])
        first_epoch = int(saved["epoch"]) + 1
        result.resumed_from_epoch = int(saved["epoch"])
        log.info("%s: resumed from epoch %d (%s)", description, result.resumed_from_epoch, checkpoint.path)
    start = time.perf_counter()
    training_seconds, epochs_trained = 0.0, 0
    stop = saved is not None and bool(saved["stopped"])
    bar = tqdm(range(first_epoch, epochs), desc=description, mininterval=5.0, initial=first_epoch, total=epochs)
    for epoch in bar if not stop else ():
        model.train()
        epoch_start = time.perf_counter()
        total, seen = 0.0, 0.0
        for inputs, target, weight in train_source.batches(batch_size, generator):
            optimiser.zero_grad()
            output = model(*[t.to(device) for t in inputs])
            batch_loss = _weighted_loss(loss, output, target.to(device), weight.to(device))
            batch_loss.backward()
            optimiser.step()
            total += float(batch_loss.detach()) * len(target)
            seen += len(target)
        training_seconds += time.perf_counter() - epoch_start
        epochs_trained += 1
        result.train_loss.append(total / max(seen, 1))
        val_loss = _validation_loss(model, val_source, loss, 4 * batch_size, device)
        result.val_loss.append(val_loss)
        bar.set_postfix(train=f"{result.train_loss[-1]:.4f}", val=f"{val_loss:.4f}")
        stop = stopper.update(epoch, val_loss, model)
        checkpoint.save(
            {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "epoch": epoch,
                "stopped": stop,
                "early_stopping": stopper.state_dict(),
                "rng": rng_state(generator),
                "data": train_source.state_dict(),
                "train_loss": result.train_loss,
                "val_loss": result.val_loss,
            }
        )
        if after_epoch is not None:
            after_epoch(epoch)
        if stop:
            log.info(
                "%s: early stop at epoch %d (best %d, val loss %.5f)",
                description,
                epoch,
                stopper.best_epoch,
                stopper.best_value,
            )
            break
    stopper.restore(model)
    result.best_epoch, result.best_val_loss = stopper.best_epoch, stopper.best_value
    result.seconds = time.perf_counter() - start
    result.examples_per_second = n_train * epochs_trained / training_seconds if training_seconds > 0 else float("nan")
    return result


@torch.no_grad()
def predict(
    model: nn.Module,
    inputs: Sequence[np.ndarray] | BatchSource,
    *,
    batch_size: int = 1024,
    device: torch.device | None = None,
    raw: bool = False,
) -> np.ndarray:
    """Model outputs for all examples, in batches, in eval mode.

    Args:
        model: The module.
        inputs: Arrays fed to the model, or a :class:`BatchSource` (read in order, e.g. chunk by chunk).
        batch_size: Examples per forward pass.
        device: Where to run (default: where the model is).
        raw: Return raw outputs (logits); otherwise the sigmoid of them.

    Returns:
        One float per example.
    """
    model.eval()
    device = device or next(model.parameters()).device
    source = _as_source(inputs, None, None)
    outputs = [model(*[t.to(device) for t in batch]).float().cpu() for batch, _, _ in source.batches(batch_size)]
    output = torch.cat(outputs) if outputs else torch.zeros(0)
    return (output if raw else torch.sigmoid(output)).numpy().astype(np.float64)


def save_checkpoint(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Save the model's ``state_dict`` and primitive metadata (hyper-parameters, history) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    torch.save(
        {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "metadata": metadata or {}},
        partial,
    )
    os.replace(partial, path)
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint` without unpickling objects (``weights_only=True``)."""
    content = torch.load(path, map_location="cpu", weights_only=True)
    return content["state_dict"], content["metadata"]


def fit_xgboost(
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    hyper: dict[str, Any],
    *,
    train_weight: np.ndarray | None = None,
    val_weight: np.ndarray | None = None,
    seed: int = 0,
    device: torch.device | None = None,
    n_jobs: int = 2,
) -> Any:
    """An xgboost classifier with class-balanced weights and early stopping on the validation split.

    Args:
        train_x: Training features.
        train_y: Training labels (0/1).
        val_x: Validation features.
        val_y: Validation labels.
        hyper: ``n_estimators``, ``max_depth``, ``learning_rate``, ``early_stopping_rounds``.
        train_weight: Event weights of the training split (balanced per class here).
        val_weight: Event weights of the validation split.
        seed: Seed of the boosting.
        device: CPU or CUDA.
        n_jobs: Threads.

    Returns:
        The fitted ``xgboost.XGBClassifier`` (save it with ``save_model(path.json)``).
    """
    import xgboost

    model = xgboost.XGBClassifier(
        n_estimators=int(hyper["n_estimators"]),
        max_depth=int(hyper["max_depth"]),
        learning_rate=float(hyper["learning_rate"]),
        early_stopping_rounds=int(hyper["early_stopping_rounds"]),
        random_state=seed,
        n_jobs=n_jobs,
        device=(device or torch.device("cpu")).type,
        eval_metric="logloss",
        tree_method="hist",
    )
    model.fit(
        train_x,
        train_y,
        sample_weight=balanced_weights(train_y, train_weight),
        eval_set=[(val_x, val_y)],
        sample_weight_eval_set=[balanced_weights(val_y, val_weight)],
        verbose=False,
    )
    return model
