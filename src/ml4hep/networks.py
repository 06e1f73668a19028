"""Building blocks shared by the tasks' torch models."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


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
