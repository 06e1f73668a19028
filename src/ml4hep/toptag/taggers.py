"""The top taggers, one class each behind :class:`ml4hep.models.Model`, in the registry :data:`TAGGERS`.

* ``cut``: the classic baseline: a soft-drop mass window, then τ32 (score 1 - τ32 inside the window, -1 outside);
  the window is the one with the best R30 on the validation split.
* ``bdt``: xgboost on the substructure features, early stopping on validation; saved as xgboost JSON.
* ``cnn``, ``pfn``, ``efn``, ``particlenet``, ``part``: torch models (:mod:`ml4hep.toptag.models`), class-balanced BCE,
  early stopping with the best validation weights kept, a checkpoint per epoch; saved as a ``state_dict`` and
  exported to ONNX, whose scores on the test split are checked against torch.
* ``rnn_tree``: the recursive network on the clustering tree (:mod:`ml4hep.toptag.recursive`), trained the same way.

Adding a tagger is one class here (with its ``@TAGGERS.register`` line); its rule, ONNX export and evaluation
follow from the registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ml4hep.metrics import auc, background_rejection
from ml4hep.models import FitContext, Registry, Split
from ml4hep.models.boosted import XGBoostClassifier
from ml4hep.models.network import TorchClassifier

if TYPE_CHECKING:
    from torch import nn

TAGGERS = Registry("toptag")
"""Tagger name -> model class."""


def cut_scores(substructure: np.ndarray, names: list[str], low: float, high: float) -> np.ndarray:
    """Score of the cut baseline: 1 - τ32 inside the soft-drop mass window [low, high], -1 outside."""
    sd_mass = substructure[:, names.index("sd_mass")]
    tau32 = substructure[:, names.index("tau32")]
    return np.where((sd_mass >= low) & (sd_mass <= high), 1.0 - tau32, -1.0)


def train_cut(val: Mapping[str, np.ndarray], grid_step: float = 10.0) -> dict[str, float]:
    """Choose the soft-drop mass window with the best R30 on the validation split.

    With a small validation split several windows can reject every background jet at eps_S = 0.3; eps_B is then
    floored at half a jet and ties are broken by the AUC of the cut score.

    Args:
        val: Validation split.
        grid_step: Spacing of the window edges in GeV.

    Returns:
        {"low": ..., "high": ..., "val_r30": ..., "val_auc": ...}.
    """
    names = [str(n) for n in val["substructure_names"]]
    labels = val["label"]
    floor = 0.5 / max(int(np.sum(labels == 0)), 1)
    best: dict[str, float] = {}
    best_key = (-1.0, -1.0)
    for low in np.arange(80.0, 170.0 + 1e-9, grid_step):
        for high in np.arange(180.0, 300.0 + 1e-9, grid_step):
            scores = cut_scores(val["substructure"], names, low, high)
            r30 = min(background_rejection(labels, scores, 0.3), 1.0 / floor)
            key = (r30, auc(labels, scores))
            if key > best_key:
                best_key = key
                best = {"low": float(low), "high": float(high), "val_r30": key[0], "val_auc": key[1]}
    return best


@TAGGERS.register("cut")
class Tau32Window:
    """Soft-drop mass window + τ32: the window is tuned on the validation split (there is nothing to train)."""

    suffix: ClassVar[str] = ".json"
    display_name: ClassVar[str] = "Cut (m_SD, τ32)"

    def __init__(self, window: Mapping[str, float] | None = None) -> None:
        self.window = dict(window or {})

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Choose the window with the best validation R30."""
        self.window = train_cut(val)
        return {"window": self.window, "device": "cpu"}

    def predict(self, split: Split) -> np.ndarray:
        """1 - τ32 inside the window, -1 outside."""
        names = [str(n) for n in split["substructure_names"]]
        return cut_scores(split["substructure"], names, self.window["low"], self.window["high"])

    def save(self, path: str | Path) -> None:
        """The window as JSON."""
        Path(path).write_text(json.dumps(self.window, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Tau32Window:
        """Read the window."""
        return cls(json.loads(Path(path).read_text()))


@TAGGERS.register("bdt")
class SubstructureBDT(XGBoostClassifier):
    """xgboost on the substructure features (mass, soft-drop mass, τ ratios, ...), classes balanced."""

    display_name = "BDT (substructure)"
    features = "substructure"
    feature_names = "substructure_names"
    event_weights = False
    threads = 1


class _NetworkTagger(TorchClassifier):
    """A torch tagger: the network is named by ``architecture`` in :mod:`ml4hep.toptag.models`."""

    architecture: ClassVar[str]
    inputs = ("x", "mask")

    def build_network(self, **shape: Any) -> nn.Module:
        """The network with the configured sizes (unknown keys are rejected by name)."""
        from ml4hep.toptag.models import build_model

        return build_model(self.architecture, **self.network_hyper)


@TAGGERS.register("cnn")
class CNNTagger(_NetworkTagger):
    """A small CNN on jet images."""

    display_name = "CNN (jet image)"
    architecture = "cnn"
    inputs = ("images",)


@TAGGERS.register("pfn")
class PFNTagger(_NetworkTagger):
    """Particle-flow network (deep set on all constituent features)."""

    display_name = "PFN"
    architecture = "pfn"


@TAGGERS.register("efn")
class EFNTagger(_NetworkTagger):
    """Energy-flow network (IRC-safe deep set, angles weighted by z)."""

    display_name = "EFN"
    architecture = "efn"


@TAGGERS.register("particlenet")
class ParticleNetTagger(_NetworkTagger):
    """ParticleNet (EdgeConv on k nearest neighbours)."""

    display_name = "ParticleNet"
    architecture = "particlenet"


@TAGGERS.register("part")
class ParTTagger(_NetworkTagger):
    """Particle Transformer (attention with pairwise interaction features, class attention)."""

    display_name = "ParT"
    architecture = "part"


@TAGGERS.register("rnn_tree")
class RecursiveTreeTagger(_NetworkTagger):
    """QCD-aware recursive network on each jet's clustering tree (arXiv:1702.00748, :mod:`ml4hep.toptag.recursive`).

    The trees are built with the features (:mod:`ml4hep.toptag.trees`) by the ``algorithm`` of the hyper-parameters,
    which is checked against the one the feature files record.
    """

    display_name = "RecNN (clustering tree)"
    architecture = "rnn_tree"
    inputs = ("x", "mask", "tree_x", "tree_children", "tree_level")

    @property
    def network_hyper(self) -> dict[str, Any]:
        """The network's hyper-parameters: the tree algorithm belongs to the features."""
        return {k: v for k, v in super().network_hyper.items() if k != "algorithm"}

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Train on the split's trees, refusing features without trees or with trees of another algorithm."""
        from ml4hep.errors import InputFileError

        source = str(getattr(train, "path", "training split"))
        if "tree_children" not in train:
            raise InputFileError(source, "the features hold no clustering trees (built when rnn_tree is in taggers)")
        stored = [str(a) for a in train["tree_algorithm"]] if "tree_algorithm" in train else []
        wanted = self.hyper.get("algorithm")
        if stored and wanted is not None and stored != [wanted]:
            raise InputFileError(source, f"the feature files hold {stored[0]} trees, the tagger wants {wanted} trees")
        return {**super().fit(train, val, context), "tree_algorithm": stored[0] if stored else wanted}

    def prepare(self, network: nn.Module, train: Split) -> None:
        """Standardise the node features with the training split's nodes (read chunk by chunk)."""
        from ml4hep.chunked import is_chunked
        from ml4hep.toptag.trees import node_rows

        columns = ("x", "mask", "tree_x", "tree_level")

        def chunks() -> Iterator[np.ndarray]:
            for chunk in train.chunks(columns) if is_chunked(train) else [train]:
                yield node_rows(chunk)

        network.standardise.fit_chunks(chunks)


def tagger_hyper(toptag: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A tagger's hyper-parameters from the ``toptag`` config section.

    A network gets its ``models`` section over the shared ``training`` settings (a model's own ``learning_rate``, when
    not null, wins), and the CNN the image size; the BDT gets its ``bdt`` section; the cut window has none.
    """
    if name == "bdt":
        return dict(toptag["bdt"])
    if not TAGGERS.is_network(name):
        return {}
    own = {key: value for key, value in toptag["models"][name].items() if value is not None}
    hyper = {**toptag["training"], **own}
    if name == "cnn":
        hyper["pixels"] = toptag["image"]["pixels"]
    return hyper
