"""The model protocol, the per-task registry and the context a training runs in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

Split = Mapping[str, np.ndarray]
"""One data split: column name -> array (first axis: examples), as the tasks' feature files hold them."""


@dataclass(frozen=True)
class FitContext:
    """Where and how a training runs.

    Attributes:
        seed: Seed of every random step of the training.
        device: ``auto``, ``cpu`` or ``cuda``.
        threads: CPU threads the job may use.
        checkpoint: Per-epoch checkpoint file of torch trainings (None: no checkpoints).
        fingerprint: Identity of the training (hyper-parameters, seed, inputs); a checkpoint with another one is
            not resumed.
    """

    seed: int = 0
    device: str = "cpu"
    threads: int = 1
    checkpoint: str | Path | None = None
    fingerprint: str = ""


@runtime_checkable
class Model(Protocol):
    """What every trainable model implements.

    Attributes:
        name: The registry name (set by :meth:`Registry.register`).
        suffix: Extension of the model file (``.json``, ``.npz``, ``.pt``).
    """

    name: ClassVar[str]
    suffix: ClassVar[str]

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Train on ``train`` (``val`` for early stopping or tuning); return a JSON-ready training summary."""
        ...

    def predict(self, split: Split) -> np.ndarray:
        """One score per example (higher: more signal-like)."""
        ...

    def save(self, path: str | Path) -> None:
        """Write the trained model (no pickle)."""
        ...

    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Read a model written by :meth:`save` (no unpickling)."""
        ...


ModelClass = TypeVar("ModelClass", bound=type)


class Registry:
    """The models of one task by name: adding a model is one class and one ``@registry.register`` line.

    Example:
        >>> registry = Registry("demo")
        >>> @registry.register("constant")
        ... class Constant:
        ...     suffix = ".json"
        ...     def __init__(self, value: float = 0.5) -> None:
        ...         self.value = value
        >>> registry.create("constant", {"value": 0.2}).value
        0.2
        >>> registry.names()
        ['constant']
    """

    def __init__(self, task: str) -> None:
        self.task = task
        self._classes: dict[str, type] = {}

    def register(self, name: str) -> Callable[[ModelClass], ModelClass]:
        """Class decorator adding a model under ``name`` (set as the class's ``name``, the task as its ``task``)."""

        def add(cls: ModelClass) -> ModelClass:
            if name in self._classes:
                raise ValueError(f"{self.task}: model {name!r} is registered twice")
            cls.name = name
            cls.task = self.task
            self._classes[name] = cls
            return cls

        return add

    def model_class(self, name: str) -> type:
        """The class registered as ``name``.

        Raises:
            ValueError: No such model (the message lists the known ones).
        """
        if name not in self._classes:
            raise ValueError(f"unknown {self.task} model {name!r}; known: {', '.join(self._classes)}")
        return self._classes[name]

    def create(self, name: str, hyper: Mapping[str, Any] | None = None) -> Any:
        """A new, untrained model ``name`` with the hyper-parameters ``hyper`` (the config's section)."""
        return self.model_class(name)(**dict(hyper or {}))

    def load(self, name: str, path: str | Path) -> Any:
        """The trained model ``name`` read from ``path``.

        Raises:
            InputFileError: The file does not exist or cannot be read as such a model (truncated, another format).
        """
        from ml4hep.errors import InputFileError, Ml4hepError

        if not Path(path).is_file():
            raise InputFileError(str(path), f"model file of {self.task} model '{name}' does not exist (train it first)")
        try:
            return self.model_class(name).load(path)
        except Ml4hepError:
            raise
        except Exception as error:  # noqa: BLE001 - the readers (numpy, xgboost, torch) raise many types
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InputFileError(str(path), f"not a readable {self.task} '{name}' model ({first})") from None

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._classes)

    def is_network(self, name: str) -> bool:
        """Whether model ``name`` is a torch network (a GPU rule, a checkpoint per epoch, an ONNX export)."""
        return bool(getattr(self.model_class(name), "is_network", False))

    def display_names(self) -> dict[str, str]:
        """Name -> label for tables and plots (a class's ``display_name``, else its name)."""
        return {name: str(getattr(cls, "display_name", name)) for name, cls in self._classes.items()}

    def networks(self) -> list[str]:
        """The torch networks among the models."""
        return [name for name in self._classes if self.is_network(name)]

    def baselines(self) -> list[str]:
        """The models that are not torch networks (cut windows, trees)."""
        return [name for name in self._classes if not self.is_network(name)]

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-ready ``parts`` (hyper-parameters, seeds, input file sizes)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def input_fingerprint(paths: Mapping[str, str | Path]) -> dict[str, list[int]]:
    """Size and modification time of each input file, for :func:`fingerprint`."""
    stats = {name: Path(path).stat() for name, path in paths.items()}
    return {name: [stat.st_size, stat.st_mtime_ns] for name, stat in stats.items()}


def job_context(
    *,
    seed: int,
    device: str,
    threads: int,
    hyper: Mapping[str, Any],
    inputs: Mapping[str, str | Path],
    checkpoint: str | Path | None = None,
) -> FitContext:
    """The :class:`FitContext` of a workflow job, fingerprinted by its hyper-parameters, seed and input files."""
    return FitContext(
        seed=int(seed),
        device=str(device),
        threads=int(threads),
        checkpoint=checkpoint,
        fingerprint=fingerprint(dict(hyper), int(seed), input_fingerprint(inputs)),
    )
