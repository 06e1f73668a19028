"""Mass-decorrelated top taggers, each trained at one decorrelation strength, in the registry :data:`DECORRELATED`.

* ``flatness_bdt``: gradient boosting with the flatness loss of Rogozhnikov et al. (arXiv:1410.4140, hep_ml's
  ``UGradientBoostingClassifier`` with ``BinFlatnessLossFunction``): ExpLoss plus ``strength`` times the
  non-uniformity of the QCD selection efficiency across bins of the jet mass. Strength 0 is plain ExpLoss
  boosting with the same trees. hep_ml's trees are scikit-learn trees; their arrays (children, feature, threshold)
  and hep_ml's leaf values are saved as JSON and evaluated here, so the model is never pickled.
* ``uboost``: uBoost (Stevens and Williams, arXiv:1305.7248; hep_ml's ``uBoostClassifier``), an average of
  AdaBoost BDTs each boosted towards a QCD efficiency flat in the mass at its own cut; ``strength`` is their
  uniforming rate (0: plain AdaBoost). Saved as JSON tree arrays like the flatness BDT.
* ``disco``: a dense network on the substructure features trained with BCE plus ``strength`` times the squared
  distance correlation between its output and the jet mass on the QCD jets of each batch (DisCo, Kasieczka and
  Shih, arXiv:2001.05310).

All read the ``substructure`` column without the ``exclude_inputs`` (by default the jet and soft-drop masses),
so a strength of 0 is the same tagger without the mass as input; the strength then trades rejection for a QCD
mass distribution that a cut leaves unchanged (:mod:`ml4hep.toptag.decorrelation` measures it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ml4hep.models import FitContext, Registry, Split

if TYPE_CHECKING:
    import torch

DECORRELATED = Registry("toptag decorrelation")
"""Decorrelation method name -> model class (one model per strength)."""

MASS_FEATURES = ("mass", "sd_mass")
"""Substructure columns a tagger can be decorrelated from."""


def substructure_column(split: Split, name: str) -> np.ndarray:
    """One column of the split's ``substructure`` array, by its name in ``substructure_names``."""
    names = [str(n) for n in split["substructure_names"]]
    return np.asarray(split["substructure"], dtype=np.float64)[:, names.index(name)]


def input_columns(split: Split, exclude: Sequence[str]) -> list[str]:
    """The substructure names a decorrelated tagger reads: all but ``exclude``.

    Raises:
        ConfigError: ``exclude`` leaves no input.
    """
    from ml4hep.errors import ConfigError

    columns = [str(n) for n in split["substructure_names"] if str(n) not in set(exclude)]
    if not columns:
        raise ConfigError(
            "toptag.decorrelation.exclude_inputs: excludes every substructure feature, nothing to train on"
        )
    return columns


def input_array(split: Split, columns: Sequence[str]) -> np.ndarray:
    """The substructure columns ``columns`` of ``split``, in that order."""
    names = [str(n) for n in split["substructure_names"]]
    return np.asarray(split["substructure"], dtype=np.float64)[:, [names.index(c) for c in columns]]


def tree_inputs(split: Split, columns: Sequence[str]) -> np.ndarray:
    """The input columns as scikit-learn's trees split them (float32), for evaluating hep_ml's trees."""
    return input_array(split, columns).astype(np.float32)


def uniform_column(mass: str) -> str:
    """The name of the mass column in the training frame of a hep_ml classifier (beside the inputs)."""
    return f"_uniform_{mass}"


def uniform_frame(split: Split, columns: Sequence[str], mass: str) -> Any:
    """The pandas frame a hep_ml classifier trains on: the input columns, and the mass its loss flattens in.

    hep_ml reads the uniform variable from the same frame as the inputs; ``train_features`` keeps it out of the
    trees when it is not an input.
    """
    import pandas

    frame = pandas.DataFrame(input_array(split, columns), columns=list(columns))
    frame[uniform_column(mass)] = substructure_column(split, mass)
    return frame


@DECORRELATED.register("flatness_bdt")
class FlatnessBDT:
    """uGB with the bin flatness loss on the QCD jets' mass (hep_ml), saved as JSON tree arrays.

    Args:
        strength: hep_ml's ``fl_coefficient``: weight of the flatness loss against the ExpLoss (0: none).
        mass: Substructure column the QCD efficiency is made flat in.
        exclude_inputs: Substructure columns the trees do not read.
        n_estimators: Trees.
        max_depth: Depth of each tree.
        learning_rate: Shrinkage.
        n_bins: Mass bins of the flatness loss (hep_ml uses two shifted binnings of this many bins).
        power: Power of the efficiency difference in the flatness loss.
    """

    suffix: ClassVar[str] = ".json"
    display_name: ClassVar[str] = "uGB + flatness loss"

    def __init__(
        self,
        strength: float = 0.0,
        mass: str = "mass",
        exclude_inputs: Sequence[str] = MASS_FEATURES,
        n_estimators: int = 100,
        max_depth: int = 3,
        learning_rate: float = 0.1,
        n_bins: int = 10,
        power: float = 2.0,
    ) -> None:
        self.hyper: dict[str, Any] = {
            "strength": float(strength),
            "mass": str(mass),
            "exclude_inputs": [str(c) for c in exclude_inputs],
            "n_estimators": int(n_estimators),
            "max_depth": int(max_depth),
            "learning_rate": float(learning_rate),
            "n_bins": int(n_bins),
            "power": float(power),
        }
        self.inputs: list[str] = []
        self.initial_step = 0.0
        self.trees: list[dict[str, np.ndarray]] = []

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Boost on the training split (no early stopping: the flatness loss has no validation value in hep_ml)."""
        import pandas
        from hep_ml.gradientboosting import UGradientBoostingClassifier
        from hep_ml.losses import BinFlatnessLossFunction

        from ml4hep.metrics import auc

        self.inputs = input_columns(train, self.hyper["exclude_inputs"])
        frame = uniform_frame(train, self.inputs, self.hyper["mass"])
        loss = BinFlatnessLossFunction(
            [uniform_column(self.hyper["mass"])],
            uniform_label=0,
            n_bins=self.hyper["n_bins"],
            power=self.hyper["power"],
            fl_coefficient=self.hyper["strength"],
        )
        classifier = UGradientBoostingClassifier(
            loss=loss,
            n_estimators=self.hyper["n_estimators"],
            max_depth=self.hyper["max_depth"],
            learning_rate=self.hyper["learning_rate"],
            train_features=self.inputs,
            random_state=int(context.seed) % 2**31,
        )
        classifier.fit(frame, np.asarray(train["label"]).astype(int))
        self.initial_step = float(classifier.initial_step)
        self.trees = [_tree_arrays(tree, leaf_values) for tree, leaf_values in classifier.estimators]
        val_frame = pandas.DataFrame(input_array(val, self.inputs), columns=self.inputs)
        val_scores = self.predict(val)
        return {
            "device": "cpu",
            "strength": self.hyper["strength"],
            "inputs": self.inputs,
            "val_auc": auc(np.asarray(val["label"]), val_scores),
            # the JSON trees against hep_ml's own prediction of the fitted model
            "max_abs_diff_hep_ml": float(np.max(np.abs(classifier.predict_proba(val_frame)[:, 1] - val_scores))),
        }

    def decision_function(self, split: Split) -> np.ndarray:
        """The boosted sum: initial step plus the shrunk leaf values of every tree."""
        x = tree_inputs(split, self.inputs)
        return _tree_sum(self.trees, x, [self.hyper["learning_rate"]] * len(self.trees), self.initial_step)

    def predict(self, split: Split) -> np.ndarray:
        """The logistic function of the boosted sum (hep_ml's ``predict_proba``)."""
        from scipy.special import expit

        return expit(self.decision_function(split))

    def save(self, path: str | Path) -> None:
        """Hyper-parameters, input names and every tree's arrays as JSON."""
        content = {
            "model": self.name,
            "hyper": self.hyper,
            "inputs": self.inputs,
            "initial_step": self.initial_step,
            "trees": _trees_to_lists(self.trees),
        }
        Path(path).write_text(json.dumps(content))

    @classmethod
    def load(cls, path: str | Path) -> FlatnessBDT:
        """Read the JSON written by :meth:`save`."""
        content = json.loads(Path(path).read_text())
        model = cls(**content["hyper"])
        model.inputs = [str(c) for c in content["inputs"]]
        model.initial_step = float(content["initial_step"])
        model.trees = _trees_from_lists(content["trees"])
        return model


@DECORRELATED.register("uboost")
class UBoost:
    """hep_ml's uBoost (Stevens and Williams, arXiv:1305.7248) on the QCD jets' mass, saved as JSON tree arrays.

    uBoost is an average of ``efficiency_steps`` boosted decision trees (AdaBoost, SAMME), the k-th boosted towards
    a QCD selection efficiency that is flat in the mass at its cut at a global QCD efficiency of k / (steps + 1):
    after each tree the QCD jets in mass neighbourhoods (``n_neighbors`` nearest in mass) that pass the cut more
    often than the target get more weight, by ``strength`` (hep_ml's ``uniforming_rate``; 0 is plain AdaBoost).
    Each BDT's output is sigmoid((score - its cut) / ``smoothing``), and the tagger's score is their mean (hep_ml's
    ``uBoostClassifier.predict_proba``). The trees are scikit-learn trees; their arrays, the tree weights and each
    BDT's cut are saved as JSON and evaluated here, so the model is never pickled.

    Args:
        strength: The ``uniforming_rate`` of every uBoostBDT (hep_ml's ``uBoostClassifier`` fixes it at 1).
        mass: Substructure column the QCD efficiency is made flat in.
        exclude_inputs: Substructure columns the trees do not read.
        n_estimators: Trees per BDT.
        efficiency_steps: BDTs (target efficiencies).
        max_depth: Depth of each tree.
        n_neighbors: Mass neighbours of the local efficiencies.
        smoothing: Width of the sigmoid of each BDT's cut (None: hep_ml's 10 / ``efficiency_steps``).
    """

    suffix: ClassVar[str] = ".json"
    display_name: ClassVar[str] = "uBoost"

    def __init__(
        self,
        strength: float = 1.0,
        mass: str = "mass",
        exclude_inputs: Sequence[str] = MASS_FEATURES,
        n_estimators: int = 40,
        efficiency_steps: int = 20,
        max_depth: int = 2,
        n_neighbors: int = 50,
        smoothing: float | None = None,
    ) -> None:
        self.hyper: dict[str, Any] = {
            "strength": float(strength),
            "mass": str(mass),
            "exclude_inputs": [str(c) for c in exclude_inputs],
            "n_estimators": int(n_estimators),
            "efficiency_steps": int(efficiency_steps),
            "max_depth": int(max_depth),
            "n_neighbors": int(n_neighbors),
            "smoothing": 10.0 / int(efficiency_steps) if smoothing is None else float(smoothing),
        }
        self.inputs: list[str] = []
        self.bdts: list[dict[str, Any]] = []

    def classifier(self, seed: int) -> Any:
        """An unfitted hep_ml ``uBoostClassifier`` with these hyper-parameters (its uniforming rate is 1)."""
        from hep_ml.uboost import uBoostClassifier
        from sklearn.tree import DecisionTreeClassifier

        return uBoostClassifier(
            uniform_features=[uniform_column(self.hyper["mass"])],
            uniform_label=0,
            train_features=self.inputs,
            n_neighbors=self.hyper["n_neighbors"],
            efficiency_steps=self.hyper["efficiency_steps"],
            n_estimators=self.hyper["n_estimators"],
            base_estimator=DecisionTreeClassifier(max_depth=self.hyper["max_depth"]),
            smoothing=self.hyper["smoothing"],
            random_state=int(seed) % 2**31,
        )

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Fit the BDTs (hep_ml's ``uBoostClassifier.fit`` with the strength as their uniforming rate)."""
        from ml4hep.metrics import auc

        self.inputs = input_columns(train, self.hyper["exclude_inputs"])
        classifier = self.classifier(context.seed)
        fit_uboost(classifier, uniform_frame(train, self.inputs, self.hyper["mass"]), train["label"], self.strength)
        self.bdts = [_uboost_bdt_arrays(bdt) for bdt in classifier.classifiers]
        val_scores = self.predict(val)
        hep_ml_scores = classifier.predict_proba(uniform_frame(val, self.inputs, self.hyper["mass"]))[:, 1]
        return {
            "device": "cpu",
            "strength": self.hyper["strength"],
            "inputs": self.inputs,
            "val_auc": auc(np.asarray(val["label"]), val_scores),
            # the JSON trees against hep_ml's own prediction of the fitted model
            "max_abs_diff_hep_ml": float(np.max(np.abs(hep_ml_scores - val_scores))),
        }

    @property
    def strength(self) -> float:
        """The uniforming rate."""
        return float(self.hyper["strength"])

    def predict(self, split: Split) -> np.ndarray:
        """The mean over the BDTs of sigmoid((score - cut) / smoothing) (hep_ml's ``predict_proba``)."""
        from hep_ml.commonutils import sigmoid_function

        x = tree_inputs(split, self.inputs)
        # hep_ml's order of the sum: Python's sum over the BDTs, then the division
        total = sum(
            sigmoid_function(_tree_sum(bdt["trees"], x, bdt["weights"]) - bdt["score_cut"], self.hyper["smoothing"])
            for bdt in self.bdts
        )
        return np.asarray(total, dtype=np.float64) / len(self.bdts)

    def save(self, path: str | Path) -> None:
        """Hyper-parameters, input names and every BDT's cut, tree weights and tree arrays as JSON."""
        bdts = [{**bdt, "trees": _trees_to_lists(bdt["trees"])} for bdt in self.bdts]
        content = {"model": self.name, "hyper": self.hyper, "inputs": self.inputs, "bdts": bdts}
        Path(path).write_text(json.dumps(content))

    @classmethod
    def load(cls, path: str | Path) -> UBoost:
        """Read the JSON written by :meth:`save`."""
        content = json.loads(Path(path).read_text())
        model = cls(**content["hyper"])
        model.inputs = [str(c) for c in content["inputs"]]
        model.bdts = [
            {
                "score_cut": float(bdt["score_cut"]),
                "weights": [float(w) for w in bdt["weights"]],
                "trees": _trees_from_lists(bdt["trees"]),
            }
            for bdt in content["bdts"]
        ]
        return model


def fit_uboost(classifier: Any, frame: Any, labels: np.ndarray, uniforming_rate: float) -> Any:
    """hep_ml's ``uBoostClassifier.fit``, with ``uniforming_rate`` passed to its uBoostBDTs (hep_ml leaves them at 1).

    The same steps as hep_ml 0.8.0's: one mass-neighbour matrix for all BDTs, target efficiencies evenly spaced in
    (0, 1), each BDT fitted with unit weights and the classifier's seed; at ``uniforming_rate`` 1 the fit is
    hep_ml's own (a test checks it).

    Returns:
        ``classifier``, fitted.
    """
    from hep_ml.commonutils import compute_knn_indices_of_same_class
    from hep_ml.uboost import uBoostBDT

    labels = np.asarray(labels).astype(int)
    neighbours = compute_knn_indices_of_same_class(
        frame[classifier.uniform_features].to_numpy(), labels, n_neighbours=classifier.n_neighbors
    )
    classifier.target_efficiencies = np.linspace(0, 1, classifier.efficiency_steps + 2)[1:-1]
    features = frame[classifier.train_features]
    classifier.classifiers = [
        uBoostBDT(
            uniform_features=classifier.uniform_features,
            uniform_label=classifier.uniform_label,
            target_efficiency=efficiency,
            n_neighbors=classifier.n_neighbors,
            n_estimators=classifier.n_estimators,
            base_estimator=classifier.base_estimator,
            uniforming_rate=float(uniforming_rate),
            random_state=classifier.random_state,
            smoothing=classifier.smoothing,
        ).fit(features, labels, sample_weight=np.ones(len(labels)), neighbours_matrix=neighbours)
        for efficiency in classifier.target_efficiencies
    ]
    return classifier


def _uboost_bdt_arrays(bdt: Any) -> dict[str, Any]:
    """One fitted uBoostBDT (SAMME: each tree votes ±1 with its weight) as its cut, tree weights and tree arrays."""
    trees = []
    for tree in bdt.estimators_:
        # the tree's vote at each node: 2 × (predicted class) - 1, its classes being [0, 1]
        votes = 2.0 * tree.classes_[np.argmax(tree.tree_.value[:, 0, :], axis=1)] - 1.0
        trees.append(_tree_arrays(tree, votes))
    return {"score_cut": float(bdt.score_cut), "weights": [float(w) for w in bdt.estimator_weights_], "trees": trees}


_TREE_DTYPES = {"left": np.int64, "right": np.int64, "feature": np.int64, "threshold": np.float64, "values": np.float64}


def _tree_arrays(tree: Any, leaf_values: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays that evaluate one fitted scikit-learn tree, with hep_ml's values per node."""
    structure = tree.tree_
    arrays = {
        "left": structure.children_left,
        "right": structure.children_right,
        "feature": structure.feature,
        "threshold": structure.threshold,
        "values": leaf_values,
    }
    return {key: np.asarray(value, dtype=_TREE_DTYPES[key]) for key, value in arrays.items()}


def _trees_to_lists(trees: Sequence[Mapping[str, np.ndarray]]) -> list[dict[str, list[float]]]:
    """Tree arrays as JSON lists."""
    return [{key: value.tolist() for key, value in tree.items()} for tree in trees]


def _trees_from_lists(trees: Sequence[Mapping[str, list[float]]]) -> list[dict[str, np.ndarray]]:
    """The tree arrays of :func:`_trees_to_lists`' JSON lists."""
    return [{key: np.asarray(tree[key], dtype=dtype) for key, dtype in _TREE_DTYPES.items()} for tree in trees]


def _tree_sum(
    trees: Sequence[Mapping[str, np.ndarray]], x: np.ndarray, weights: Sequence[float], start: float = 0.0
) -> np.ndarray:
    """``start`` + Σ_t weights[t] × (value of the leaf of each row in tree t), summed in tree order as hep_ml does."""
    total = np.full(len(x), start, dtype=np.float64)
    for tree, weight in zip(trees, weights, strict=True):
        total += weight * tree["values"][_leaves(tree, x)]
    return total


def _leaves(tree: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The leaf of every row, descending all rows one level per step (scikit-learn's ``apply``: go left if <=)."""
    node = np.zeros(len(x), dtype=np.int64)
    rows = np.arange(len(x))
    while True:
        inner = tree["left"][node] >= 0
        if not inner.any():
            return node
        feature = np.where(inner, tree["feature"][node], 0)
        go_left = x[rows, feature] <= tree["threshold"][node]
        node = np.where(inner, np.where(go_left, tree["left"][node], tree["right"][node]), node)


def distance_correlation(x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Squared distance correlation dCorr²(x, y) (Székely et al.), the DisCo penalty of arXiv:2001.05310.

    It is 0 only when x and y are independent (for any relation, not only a linear one) and 1 when one is a linear
    function of the other; the DisCo reference implementation's weighted estimator (weights normalised to mean 1).

    Args:
        x: One value per example (the classifier output).
        y: The variable to decorrelate from (the jet mass), same length.
        weights: Per-example weights (None: 1).

    Returns:
        A differentiable scalar in [0, 1].

    Example:
        >>> import torch
        >>> x = torch.linspace(-1, 1, 101)
        >>> round(float(distance_correlation(x, 3 * x + 2)), 6)
        1.0
        >>> 0.0 < float(distance_correlation(x, x**2)) < 1.0
        True
    """
    import torch

    w = torch.ones_like(x) if weights is None else weights / weights.mean()

    def centred(values: torch.Tensor) -> torch.Tensor:
        distances = (values[:, None] - values[None, :]).abs()
        row = (distances * w[None, :]).mean(dim=1)
        return distances - row[:, None] - row[None, :] + (row * w).mean()

    a, b = centred(x), centred(y)

    def covariance(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return ((first * second * w[None, :]).mean(dim=1) * w).mean()

    denominator = torch.sqrt(covariance(a, a) * covariance(b, b))
    return covariance(a, b) / denominator.clamp_min(torch.finfo(x.dtype).tiny)


@DECORRELATED.register("disco")
class DiscoNetwork:
    """A dense network on the substructure features, BCE + ``strength`` × dCorr²(output, mass) on QCD jets.

    Args:
        strength: DisCo's λ (0: plain class-balanced BCE).
        mass: Substructure column the output is decorrelated from.
        exclude_inputs: Substructure columns the network does not read.
        hidden: Hidden layer widths.
        dropout: Dropout after each hidden layer.
        epochs: Maximum epochs.
        batch_size: Mini-batch size (the penalty is estimated on the QCD jets of each batch: keep it large).
        learning_rate: Adam learning rate.
        patience: Epochs without improvement of the validation loss (BCE + penalty) before stopping.
    """

    suffix: ClassVar[str] = ".pt"
    display_name: ClassVar[str] = "DisCo (dense net)"

    def __init__(
        self,
        strength: float = 0.0,
        mass: str = "mass",
        exclude_inputs: Sequence[str] = MASS_FEATURES,
        hidden: Sequence[int] = (64, 64),
        dropout: float = 0.0,
        epochs: int = 300,
        batch_size: int = 512,
        learning_rate: float = 0.003,
        patience: int = 50,
    ) -> None:
        self.hyper: dict[str, Any] = {
            "strength": float(strength),
            "mass": str(mass),
            "exclude_inputs": [str(c) for c in exclude_inputs],
            "hidden": [int(h) for h in hidden],
            "dropout": float(dropout),
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "learning_rate": float(learning_rate),
            "patience": int(patience),
        }
        self.inputs: list[str] = []
        self.network: Any = None

    def _build(self) -> Any:
        from ml4hep.networks import StandardisedMLP

        return StandardisedMLP(len(self.inputs), self.hyper["hidden"], self.hyper["dropout"])

    def _tensors(self, split: Split) -> tuple[torch.Tensor, ...]:
        import torch

        from ml4hep.training import balanced_weights

        labels = np.asarray(split["label"])
        return (
            torch.as_tensor(input_array(split, self.inputs), dtype=torch.float32),
            torch.as_tensor(labels, dtype=torch.float32),
            torch.as_tensor(balanced_weights(labels), dtype=torch.float32),
            torch.as_tensor(substructure_column(split, self.hyper["mass"]), dtype=torch.float32),
        )

    def _loss(self, logits: torch.Tensor, label: torch.Tensor, weight: torch.Tensor, mass: torch.Tensor) -> Any:
        import torch

        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, label, weight=weight)
        background = label == 0
        if self.hyper["strength"] == 0 or int(background.sum()) < 2:
            return bce
        penalty = distance_correlation(torch.sigmoid(logits[background]), mass[background])
        return bce + self.hyper["strength"] * penalty

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Adam on shuffled mini-batches, early stopping on the validation loss, the best epoch's weights kept."""
        import torch

        from ml4hep.training import EarlyStopping, seed_everything

        torch.set_num_threads(context.threads)
        seed_everything(context.seed)
        self.inputs = input_columns(train, self.hyper["exclude_inputs"])
        self.network = self._build()
        x, label, weight, mass = self._tensors(train)
        self.network.standardiser.fit(x.numpy())
        val_tensors = self._tensors(val)
        optimiser = torch.optim.Adam(self.network.parameters(), lr=self.hyper["learning_rate"])
        generator = torch.Generator().manual_seed(int(context.seed))
        stopper = EarlyStopping(self.hyper["patience"])
        val_losses: list[float] = []
        for epoch in range(self.hyper["epochs"]):
            self.network.train()
            for batch in torch.randperm(len(x), generator=generator).split(self.hyper["batch_size"]):
                optimiser.zero_grad()
                self._loss(self.network(x[batch]), label[batch], weight[batch], mass[batch]).backward()
                optimiser.step()
            self.network.eval()
            with torch.no_grad():
                val_losses.append(float(self._loss(self.network(val_tensors[0]), *val_tensors[1:])))
            if stopper.update(epoch, val_losses[-1], self.network):
                break
        stopper.restore(self.network)
        self.network.eval()
        return {
            "device": "cpu",
            "strength": self.hyper["strength"],
            "inputs": self.inputs,
            "parameters": int(sum(p.numel() for p in self.network.parameters())),
            "best_epoch": stopper.best_epoch,
            "val_loss": val_losses,
        }

    def predict(self, split: Split) -> np.ndarray:
        """sigmoid(logit) per jet."""
        import torch

        with torch.no_grad():
            logits = self.network(torch.as_tensor(input_array(split, self.inputs), dtype=torch.float32))
        return torch.sigmoid(logits).numpy().astype(np.float64)

    def save(self, path: str | Path) -> None:
        """The ``state_dict`` with the hyper-parameters and input names as JSON text."""
        from ml4hep.training import save_checkpoint

        metadata = {"model": self.name, "hyper": json.dumps(self.hyper), "inputs": json.dumps(self.inputs)}
        save_checkpoint(self.network, path, metadata)

    @classmethod
    def load(cls, path: str | Path) -> DiscoNetwork:
        """Rebuild the network and load its weights (``weights_only=True``)."""
        from ml4hep.training import load_checkpoint

        state, metadata = load_checkpoint(path)
        model = cls(**json.loads(metadata["hyper"]))
        model.inputs = json.loads(metadata["inputs"])
        model.network = model._build()
        model.network.load_state_dict(state)
        model.network.eval()
        return model


def strength_label(strength: float) -> str:
    """A strength for legends and tables (``0``, ``3``, ``0.3``, ``1e+03``)."""
    return f"{strength:g}" if math.isfinite(strength) else str(strength)


SPLIT_COLUMNS = ("substructure", "substructure_names", "label", "weight", "sample", "shard", "entry")
"""The columns of a split file that the decorrelated taggers and their scores files need."""


def read_substructure_split(path: str | Path) -> dict[str, np.ndarray]:
    """The substructure, label and origin columns of a split file, in memory (never the constituents or images)."""
    from ml4hep.toptag.preprocess import load_split

    split = load_split(path)
    return {column: np.asarray(split[column]) for column in SPLIT_COLUMNS if column in split}


def train_strengths(
    method: str,
    hyper: Mapping[str, Any],
    strengths: Sequence[float],
    split_paths: Mapping[str, str | Path],
    *,
    models: Sequence[str | Path],
    scores: Sequence[str | Path],
    infos: Sequence[str | Path],
    seed: int,
    threads: int = 1,
    samples: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Train the decorrelated tagger ``method`` at every strength (same seed), writing model, scores and info each.

    Args:
        method: A name of :data:`DECORRELATED`.
        hyper: Its hyper-parameters (without the strength).
        strengths: The decorrelation strengths, one model each.
        split_paths: ``train``, ``val`` and ``test`` split files.
        models: Model file per strength.
        scores: Scores file per strength.
        infos: Info JSON per strength.
        seed: Seed of every training (the same for each strength, so that only the strength differs).
        threads: CPU threads.
        samples: Sample names of the ``sample`` origin column.

    Returns:
        The training summaries.
    """
    from ml4hep.models.base import job_context
    from ml4hep.models.step import train_and_score

    splits = {name: read_substructure_split(path) for name, path in split_paths.items()}
    summaries = []
    for index, strength in enumerate(strengths):
        model = DECORRELATED.create(method, {**hyper, "strength": strength})
        context = job_context(seed=seed, device="cpu", threads=threads, hyper=model.hyper, inputs=split_paths)
        summaries.append(
            train_and_score(
                model,
                splits,
                context,
                model_path=models[index],
                scores_path=scores[index],
                info_path=infos[index],
                samples=samples,
            )
        )
    return summaries


def decorrelated_hyper(decorrelation: Mapping[str, Any], method: str) -> dict[str, Any]:
    """A decorrelated tagger's hyper-parameters from the ``toptag.decorrelation`` config section (no strength).

    Example:
        >>> section = {"mass": "mass", "exclude_inputs": ["mass"], "disco": {"strengths": [0, 3], "epochs": 5}}
        >>> decorrelated_hyper(section, "disco")
        {'epochs': 5, 'mass': 'mass', 'exclude_inputs': ['mass']}
    """
    own = {key: value for key, value in decorrelation[method].items() if key != "strengths"}
    return {**own, "mass": decorrelation["mass"], "exclude_inputs": list(decorrelation["exclude_inputs"])}
