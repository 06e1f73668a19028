"""Building blocks shared by the tasks' torch models."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ml4hep.models.standardiser import Standardiser


def dense_stack(n_inputs: int, hidden: Sequence[int], dropout: float = 0.0, n_outputs: int = 1) -> nn.Sequential:
    """Fully connected layers: ``Linear -> ReLU -> Dropout`` per hidden width, then a linear output layer.

    Args:
        n_inputs: Input features.
        hidden: Widths of the hidden layers.
        dropout: Dropout probability after each hidden layer.
        n_outputs: Outputs of the last layer (logits or regressed values).
    """
    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden:
        layers += [nn.Linear(width, int(size)), nn.ReLU(), nn.Dropout(float(dropout))]
        width = int(size)
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class StandardisedMLP(nn.Module):
    """A :func:`dense_stack` on inputs standardised with the training mean and spread; one output per example.

    Args:
        n_inputs: Input features.
        hidden: Hidden layer widths.
        dropout: Dropout probability.
        undefined: Input value meaning "undefined" (masked in the standardisation; None: none).
    """

    def __init__(
        self, n_inputs: int, hidden: Sequence[int] = (64, 64, 64), dropout: float = 0.1, undefined: float | None = None
    ) -> None:
        super().__init__()
        self.standardiser = Standardiser(n_inputs, undefined=undefined)
        self.net = dense_stack(n_inputs, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One output (a logit, or a regressed value) per example."""
        return self.net(self.standardiser(x)).squeeze(-1)
