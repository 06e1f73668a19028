"""The dense network of the Higgs task (classifier, mass regression and parameterised network share it)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ml4hep.higgs.features import UNDEFINED
from ml4hep.networks import StandardisedMLP


class HiggsDNN(StandardisedMLP):
    """A :class:`~ml4hep.networks.StandardisedMLP` whose standardisation masks HiggsML's -999 ("undefined" -> 0).

    Args:
        n_inputs: Input features.
        hidden: Hidden layer widths.
        dropout: Dropout probability.
    """

    def __init__(self, n_inputs: int, hidden: Sequence[int] = (64, 64, 64), dropout: float = 0.1) -> None:
        super().__init__(n_inputs, hidden, dropout, undefined=UNDEFINED)


class MassInGeV(nn.Module):
    """A mass-regression network whose output is the regressed mass in GeV (its target turned back into a mass).

    The ONNX export of :class:`ml4hep.higgs.regression.MassRegressor` is this module, so that a reader of the
    graph needs nothing but the graph: no target convention, no mass unit.

    Args:
        network: The regression network (output: the target of ``target``).
        target: ``log`` (output = log(m / scale)) or ``linear`` (output = m / scale).
        scale_gev: The mass unit of the target (GeV).

    Example:
        >>> import torch
        >>> class Zero(nn.Module):
        ...     def forward(self, x):
        ...         return x.sum(-1) * 0
        >>> MassInGeV(Zero(), "log", 100.0)(torch.ones(2, 3)).tolist()
        [100.0, 100.0]
    """

    def __init__(self, network: nn.Module, target: str, scale_gev: float) -> None:
        super().__init__()
        if target not in ("log", "linear"):
            raise ValueError(f"unknown mass-regression target {target!r}; known: log, linear")
        self.network = network
        self.logarithmic = target == "log"
        self.scale_gev = float(scale_gev)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The regressed mass (GeV) per event."""
        output = self.network(x)
        return self.scale_gev * (torch.exp(output) if self.logarithmic else output)
