"""The dense network of the Higgs task (classifier, mass regression and parameterised network share it)."""

from __future__ import annotations

from collections.abc import Sequence

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
