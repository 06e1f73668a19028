"""The ``sbi`` task's split files: plain arrays in ``.npz`` (numpy only, so that a training job loads nothing more)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np


def save_split(path: str | Path, split: Mapping[str, np.ndarray]) -> None:
    """One split as ``.npz`` (plain arrays; read back without pickle)."""
    np.savez(path, **{key: np.asarray(value) for key, value in split.items()})


def load_split(path: str | Path) -> dict[str, np.ndarray]:
    """A split written by :func:`save_split`."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
