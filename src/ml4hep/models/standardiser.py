"""One input standardisation for the networks, with an optional "undefined" value that is masked out."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn


class Standardiser(nn.Module):
    """``(x - mean) / std`` per column with the training mean and spread (buffers, saved in the state_dict).

    With ``undefined`` set (HiggsML's -999), entries equal to it are left out of the mean and spread and set to 0
    (the mean of the defined values) after standardisation.

    Args:
        n_inputs: Number of columns.
        undefined: The value meaning "undefined" (None: every value counts).

    Example:
        >>> scaler = Standardiser(2, undefined=-999.0).fit(np.array([[1.0, -999.0], [3.0, 4.0], [5.0, 6.0]]))
        >>> scaler(torch.tensor([[3.0, -999.0]])).tolist()
        [[0.0, 0.0]]
    """

    def __init__(self, n_inputs: int, undefined: float | None = None) -> None:
        super().__init__()
        self.undefined = undefined
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("std", torch.ones(n_inputs))

    def fit(self, x: np.ndarray) -> Standardiser:
        """Set mean and spread from training inputs (over the defined values); a constant column keeps std 1."""
        x = np.asarray(x, dtype=np.float64)
        defined = np.ones_like(x, dtype=bool) if self.undefined is None else x != self.undefined
        count = np.maximum(defined.sum(axis=0), 1)
        mean = np.where(defined, x, 0.0).sum(axis=0) / count
        var = np.where(defined, (x - mean) ** 2, 0.0).sum(axis=0) / count
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(np.where(var > 0, np.sqrt(var), 1.0), dtype=torch.float32))
        return self

    def fit_chunks(self, chunks: Callable[[], Iterable[np.ndarray]]) -> Standardiser:
        """:meth:`fit` on inputs read chunk by chunk: ``chunks()`` is iterated twice (mean, then spread).

        The memory is that of one chunk; the result equals :meth:`fit` on all chunks together up to the rounding
        of the sums.
        """
        count = total = None
        for x in chunks():
            x = np.asarray(x, dtype=np.float64)
            defined = np.ones_like(x, dtype=bool) if self.undefined is None else x != self.undefined
            part = defined.sum(axis=0), np.where(defined, x, 0.0).sum(axis=0)
            count, total = part if count is None else (count + part[0], total + part[1])
        if count is None:
            return self
        mean = total / np.maximum(count, 1)
        squares = np.zeros_like(mean)
        for x in chunks():
            x = np.asarray(x, dtype=np.float64)
            defined = np.ones_like(x, dtype=bool) if self.undefined is None else x != self.undefined
            squares += np.where(defined, (x - mean) ** 2, 0.0).sum(axis=0)
        var = squares / np.maximum(count, 1)
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(np.where(var > 0, np.sqrt(var), 1.0), dtype=torch.float32))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised inputs (undefined entries: 0)."""
        scaled = (x - self.mean) / self.std
        if self.undefined is None:
            return scaled
        return torch.where(x == self.undefined, torch.zeros_like(x), scaled)
