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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ml4hep.chunked import DEFAULT_CHUNK_SIZE, AugmentedRows, is_chunked, read_column
from ml4hep.higgs.dataset import open_split, process_mask, select_events
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


def with_regressed_mass(split: Mapping[str, np.ndarray], regressed: np.ndarray) -> Mapping[str, np.ndarray]:
    """The split with the regressed di-tau mass appended as an extra feature column.

    A split streamed from disk stays there: the column is joined to each chunk (:class:`~ml4hep.chunked.
    AugmentedRows`).
    """
    names = np.append(split["feature_names"], REGRESSED_MASS_FEATURE)
    if is_chunked(split):
        return AugmentedRows(split, widen={"X": np.asarray(regressed)}, metadata={"feature_names": names})
    out = dict(split)
    out["X"] = np.column_stack([split["X"], regressed])
    out["feature_names"] = names
    return out


def mass_window_scores(mass_vis: np.ndarray, low: float, high: float) -> np.ndarray:
    """Score of the cut-based reference: 1 inside the visible-mass window, 0 outside."""
    return ((mass_vis >= low) & (mass_vis <= high)).astype(float)


WINDOW_RANGE = (20.0, 120.0, 200.0)
"""Lowest lower edge, highest lower edge and highest upper edge of the scanned visible-mass windows (GeV)."""


@dataclass
class WindowHistograms:
    """Visible-mass histograms of the validation split for the window scan, filled chunk by chunk.

    Bins are the scan's steps, ``[e_k, e_k+1)``; a window ``[low, high]`` is closed at both ends, so the events
    exactly at an edge are kept apart too (``at_edge_*``), which makes the scan's sums those of the events
    themselves.

    Attributes:
        edges: The scan's edges.
        weight: Sum of weights per class (0 background, 1 signal) and bin, shape (2, n_bins).
        events: MC events per class and bin.
        at_edge_weight: Sum of weights of the events exactly at each edge, shape (2, n_edges).
        at_edge_events: MC events exactly at each edge.
        total_signal: Signal weight of the split (every mass).
    """

    edges: np.ndarray
    weight: np.ndarray
    events: np.ndarray
    at_edge_weight: np.ndarray
    at_edge_events: np.ndarray
    total_signal: float = 0.0

    @classmethod
    def empty(cls, step: float) -> WindowHistograms:
        """No event yet, bins of ``step`` GeV over :data:`WINDOW_RANGE`."""
        edges = np.arange(WINDOW_RANGE[0], WINDOW_RANGE[2] + 1e-9, step)
        bins, n = (2, len(edges) - 1), (2, len(edges))
        return cls(edges, np.zeros(bins), np.zeros(bins, np.int64), np.zeros(n), np.zeros(n, np.int64))

    def fill(self, mass: np.ndarray, label: np.ndarray, weight: np.ndarray) -> None:
        """Add one chunk of events (visible mass, label, physics weight)."""
        import hist

        signal = np.asarray(label) == 1
        weight = np.asarray(weight, dtype=np.float64)
        axis = hist.axis.Variable(self.edges, flow=False)
        for cls, mask in ((0, ~signal), (1, signal)):
            filled = hist.Hist(axis, storage=hist.storage.Weight()).fill(mass[mask], weight=weight[mask])
            self.weight[cls] += filled.values()
            self.events[cls] += hist.Hist(axis, storage=hist.storage.Int64()).fill(mass[mask]).values()
            at = np.searchsorted(self.edges, mass[mask])
            exact = (at < len(self.edges)) & (self.edges[np.minimum(at, len(self.edges) - 1)] == mass[mask])
            np.add.at(self.at_edge_weight[cls], at[exact], weight[mask][exact])
            np.add.at(self.at_edge_events[cls], at[exact], 1)
        self.total_signal += float(weight[signal].sum())

    def window(self, low: int, high: int) -> tuple[float, float, int]:
        """Signal weight, background weight and background MC events in ``[edges[low], edges[high]]``."""
        inside = slice(low, high)
        s = self.weight[1, inside].sum() + self.at_edge_weight[1, high]
        b = self.weight[0, inside].sum() + self.at_edge_weight[0, high]
        return float(s), float(b), int(self.events[0, inside].sum() + self.at_edge_events[0, high])


def window_histograms(split: Split, step: float = 5.0) -> WindowHistograms:
    """:class:`WindowHistograms` of a split, filled chunk by chunk from disk (or at once from arrays)."""
    column = [str(n) for n in split["feature_names"]].index("DER_mass_vis")
    histograms = WindowHistograms.empty(step)
    chunks = split.chunks(["X", "label", "weight"]) if is_chunked(split) else [split]
    for chunk in chunks:
        histograms.fill(np.asarray(chunk["X"])[:, column], chunk["label"], chunk["weight"])
    return histograms


def train_mass_window(
    val: Mapping[str, np.ndarray],
    regularisation: float,
    step: float = 5.0,
    min_signal_efficiency: float = 0.2,
    min_background_events: int = 0,
    min_background_yield: float = 0.0,
) -> dict[str, float]:
    """The visible-mass window with the best AMS on the validation split.

    The windows ``[low, high]`` (edges every ``step`` GeV, :data:`WINDOW_RANGE`) are scanned on histograms filled
    chunk by chunk (:func:`window_histograms`), so the memory does not grow with the split. Windows keeping less
    than ``min_signal_efficiency`` of the signal, fewer than ``min_background_events`` background MC events or less
    than ``min_background_yield`` expected background are not considered: on a small validation split they would
    be tuned to a handful of events.
    """
    histograms = window_histograms(val, step)
    edges = histograms.edges
    best = {"low": 0.0, "high": 0.0, "val_ams": -1.0}
    for low in range(int(np.searchsorted(edges, WINDOW_RANGE[1] + 1e-9))):
        for high in range(low + 1, len(edges)):
            s, b, background_events = histograms.window(low, high)
            if (
                s < min_signal_efficiency * histograms.total_signal
                or background_events < min_background_events
                or b < min_background_yield
            ):
                continue
            value = float(ams(s, b, regularisation))
            if value > best["val_ams"]:
                best = {"low": float(edges[low]), "high": float(edges[high]), "val_ams": value}
    return best


def classifier_splits(
    paths: Mapping[str, str | Path],
    heavy: Sequence[str],
    regressed_mass: str | Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, Split]:
    """The SM events of each split (heavy-Higgs samples left out), with the regressed mass when given.

    The splits stay on disk (:func:`ml4hep.higgs.dataset.open_split`; the SM events a
    :class:`~ml4hep.chunked.SelectedRows` view), so that every model trains on them and scores them chunk by
    chunk (the regressed mass, one number per event, joined to each chunk's features).

    Args:
        paths: Split name -> dataset file.
        heavy: Heavy-Higgs sample names.
        regressed_mass: Predictions (scores file) of :mod:`ml4hep.higgs.regression` (for ``bdt_mreg``): out of
            fold on the training split, so that the BDT does not train on in-sample regressed masses.
        chunk_size: Events per read of a streamed split.
    """
    data = {s: open_split(p, chunk_size) for s, p in paths.items()}
    if regressed_mass is not None:
        data = {s: with_regressed_mass(d, read_scores(regressed_mass, s)) for s, d in data.items()}
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
        return mass_window_scores(read_column(split, "X", column), self.window["low"], self.window["high"])

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

    Attributes:
        standardised_dtype: The type of the inputs the standardiser is fitted on (the regression and the mass
            networks fit it on their float32 network inputs, the DNN on the float64 features).
    """

    standardised_dtype: ClassVar[type] = np.float64

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
            dtype = self.standardised_dtype
            network.standardiser.fit_chunks(lambda: (np.asarray(c["X"], dtype) for c in train.chunks(["X"])))
        else:
            network.standardiser.fit(train["X"])

    def onnx_metadata(self) -> dict[str, str]:
        """The task, the model and the HiggsML features the graph's ``X`` holds, in their order."""
        from ml4hep.higgs.features import FEATURE_NAMES

        return {**super().onnx_metadata(), "ml4hep_task": "higgs", "ml4hep_features": ",".join(FEATURE_NAMES)}


@CLASSIFIERS.register("dnn")
class HiggsDNNClassifier(HiggsDenseNetwork):
    """The torch DNN on the HiggsML features, classes balanced by the event weights."""

    display_name = "DNN (torch)"
    weighting = "balanced_event"
