"""H->tautau signal/background classifiers, one class each in the registry :data:`CLASSIFIERS`.

* ``cut``: the visible-mass window with the best validation AMS (the cut-based reference);
* ``bdt``: xgboost, classes balanced by weight; ``bdt_mreg``: the same with the regressed di-tau mass as an extra
  input (:func:`with_regressed_mass`);
* ``dnn``: a torch network on standardised inputs.

All train on the ``train`` split of :mod:`ml4hep.higgs.dataset` with the SM signal (``label`` 1 among the
non-heavy processes) against the backgrounds (:func:`classifier_splits`), classes balanced in the loss by weight
(every event is kept).

Undefined HiggsML features (-999) enter the BDT as they are (trees split them off) and the DNN as 0 after
standardisation (the mean of the defined values) plus, through ``PRI_jet_num``, the information that they are
undefined.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ml4hep.chunked import DEFAULT_CHUNK_SIZE, is_chunked
from ml4hep.higgs.dataset import load_split, open_split, process_mask, select_events
from ml4hep.metrics import ams
from ml4hep.models import FitContext, Registry, Split
from ml4hep.models.boosted import XGBoostClassifier
from ml4hep.models.network import TorchClassifier
from ml4hep.models.scores import read_scores

if TYPE_CHECKING:
    from torch import nn

CLASSIFIERS = Registry("higgs")
"""Classifier name -> model class."""
REGRESSED_MASS_FEATURE = "DER_mass_regressed"


def with_regressed_mass(split: Mapping[str, np.ndarray], regressed: np.ndarray) -> dict[str, np.ndarray]:
    """The split with the regressed di-tau mass appended as an extra feature column."""
    out = dict(split)
    out["X"] = np.column_stack([split["X"], regressed])
    out["feature_names"] = np.append(split["feature_names"], REGRESSED_MASS_FEATURE)
    return out


def mass_window_scores(mass_vis: np.ndarray, low: float, high: float) -> np.ndarray:
    """Score of the cut-based reference: 1 inside the visible-mass window, 0 outside."""
    return ((mass_vis >= low) & (mass_vis <= high)).astype(float)


def train_mass_window(
    val: Mapping[str, np.ndarray],
    regularisation: float,
    step: float = 5.0,
    min_signal_efficiency: float = 0.2,
    min_background_events: int = 0,
    min_background_yield: float = 0.0,
) -> dict[str, float]:
    """The visible-mass window with the best AMS on the validation split.

    Windows keeping less than ``min_signal_efficiency`` of the signal, fewer than ``min_background_events``
    background MC events or less than ``min_background_yield`` expected background are not considered: on a small
    validation split they would be tuned to a handful of events.
    """
    column = [str(n) for n in val["feature_names"]].index("DER_mass_vis")
    mass = val["X"][:, column]
    signal = val["label"] == 1
    best = {"low": 0.0, "high": 0.0, "val_ams": -1.0}
    total_signal = val["weight"][signal].sum()
    for low in np.arange(20.0, 120.0 + 1e-9, step):
        for high in np.arange(low + step, 200.0 + 1e-9, step):
            inside = (mass >= low) & (mass <= high)
            s, b = val["weight"][inside & signal].sum(), val["weight"][inside & ~signal].sum()
            if (
                s < min_signal_efficiency * total_signal
                or np.count_nonzero(inside & ~signal) < min_background_events
                or b < min_background_yield
            ):
                continue
            value = float(ams(s, b, regularisation))
            if value > best["val_ams"]:
                best = {"low": float(low), "high": float(high), "val_ams": value}
    return best


def classifier_splits(
    paths: Mapping[str, str | Path],
    heavy: Sequence[str],
    regressed_mass: str | Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, Split]:
    """The SM events of each split (heavy-Higgs samples left out), with the regressed mass when given.

    The splits stay on disk (:func:`ml4hep.higgs.dataset.open_split`; the SM events a
    :class:`~ml4hep.chunked.SelectedRows` view), so that the DNN streams them and every model scores them chunk by
    chunk; the trees and the mass window read the features they need into memory. With the regressed mass (a
    column added to the features) the splits are read whole.

    Args:
        paths: Split name -> dataset file.
        heavy: Heavy-Higgs sample names.
        regressed_mass: Predictions (scores file) of :mod:`ml4hep.higgs.regression` (for ``bdt_mreg``): out of
            fold on the training split, so that the BDT does not train on in-sample regressed masses.
        chunk_size: Events per read of a streamed split.
    """
    if regressed_mass is None:
        data = {s: open_split(p, chunk_size) for s, p in paths.items()}
    else:
        data = {s: with_regressed_mass(load_split(p), read_scores(regressed_mass, s)) for s, p in paths.items()}
    return {s: select_events(d, ~process_mask(d, heavy)) for s, d in data.items()}


@CLASSIFIERS.register("cut")
class MassWindow:
    """Visible-mass window tuned on the validation AMS; score 1 inside, 0 outside.

    Args:
        ams_regularisation: b_r of the AMS.
        window: A tuned window (``low``, ``high``, ``val_ams``).
        min_background_events: Fewest background MC events a window must keep (``higgs.ams``).
        min_background_yield: Fewest expected background events a window must keep (``higgs.ams``).
    """

    suffix: ClassVar[str] = ".json"
    display_name: ClassVar[str] = "Visible-mass window"

    def __init__(
        self,
        ams_regularisation: float = 10.0,
        window: Mapping[str, float] | None = None,
        min_background_events: int = 0,
        min_background_yield: float = 0.0,
    ) -> None:
        self.ams_regularisation = float(ams_regularisation)
        self.window = dict(window or {})
        self.background_minimum = {
            "min_background_events": int(min_background_events),
            "min_background_yield": float(min_background_yield),
        }

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Choose the window on the validation split."""
        self.window = train_mass_window(val, self.ams_regularisation, **self.background_minimum)
        return {"window": self.window, "device": "cpu"}

    def predict(self, split: Split) -> np.ndarray:
        """1 inside the window, 0 outside."""
        column = [str(n) for n in split["feature_names"]].index("DER_mass_vis")
        return mass_window_scores(split["X"][:, column], self.window["low"], self.window["high"])

    def save(self, path: str | Path) -> None:
        """The window as JSON."""
        Path(path).write_text(json.dumps(self.window, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> MassWindow:
        """Read the window."""
        return cls(window=json.loads(Path(path).read_text()))


@CLASSIFIERS.register("bdt")
class HiggsBDT(XGBoostClassifier):
    """xgboost on the HiggsML features, classes balanced with the event weights."""

    display_name = "BDT (xgboost)"
    threads = 2


@CLASSIFIERS.register("bdt_mreg")
class HiggsBDTWithRegressedMass(HiggsBDT):
    """The BDT with the regressed di-tau mass as one more input (its splits come from :func:`with_regressed_mass`)."""

    display_name = "BDT + regressed mass"


class HiggsDenseNetwork(TorchClassifier):
    """A :class:`~ml4hep.higgs.networks.HiggsDNN` on the ``X`` column.

    The base of the Higgs DNN, the mass regression and the parameterised networks: -999 masked in its
    standardisation, which is fitted on the training inputs (chunk by chunk when they are streamed).
    """

    def network_shape(self, train: Split) -> dict[str, Any]:
        """The number of input columns (a streamed split: from the feature names, without reading it)."""
        return {"n_inputs": len(train["feature_names"]) if is_chunked(train) else int(np.shape(train["X"])[1])}

    def build_network(self, **shape: Any) -> nn.Module:
        """The dense network with the configured ``hidden`` layers and ``dropout``."""
        from ml4hep.higgs.networks import HiggsDNN

        return HiggsDNN(shape["n_inputs"], self.hyper["hidden"], float(self.hyper["dropout"]))

    def prepare(self, network: nn.Module, train: Split) -> None:
        """Standardise with the defined training values."""
        if is_chunked(train):
            network.standardiser.fit_chunks(lambda: (chunk["X"] for chunk in train.chunks(["X"])))
        else:
            network.standardiser.fit(train["X"])


@CLASSIFIERS.register("dnn")
class HiggsDNNClassifier(HiggsDenseNetwork):
    """The torch DNN on the HiggsML features, classes balanced by the event weights."""

    display_name = "DNN (torch)"
    weighting = "balanced_event"
