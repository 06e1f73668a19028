"""Estimators of the likelihood ratio r(x | θ, θ0): one class each, in the registry :data:`SBI_ESTIMATORS`.

Each is a :class:`ml4hep.models.Model` and predicts ln r̂(x | θ, θ0) for a split with columns ``X`` (the
observables) and ``theta``; it is trained on nominal events (drawn at θ0) with their gold (``coefficients`` of
:mod:`ml4hep.sbi.gold`). Each training event gets a θ drawn log-uniformly in the variation range and enters twice:
once as an event of θ0 (``y`` = 0, weight 1) and once as an event of θ (``y`` = 1, weight r(x, z | θ, θ0):
reweighting to θ is equivalent to drawing at θ). The estimators differ in what they learn from (arXiv:1805.12244):

* ``histogram``: the classic baseline, the ratio of the reweighted to the nominal histogram of one observable, on a
  grid of θ (interpolated linearly in ln θ);
* ``carl``: a parameterised classifier of θ against θ0, r̂ = s / (1 − s); the network's logit is ln r̂. It uses the
  weights only to draw events at θ (no gold);
* ``rolr``: regresses the joint ratio: squared error of r̂ against r(x, z) for θ0 events and of 1/r̂ against
  1/r(x, z) for θ events;
* ``rascal``: ROLR plus ``alpha`` times the squared error of the score t̂ = ∂ ln r̂ / ∂θ (autograd) against the
  joint score t(x, z | θ), on the θ events;
* ``alice``: the cross-entropy against the soft label s(x, z) = r / (1 + r) on both halves;
* ``cascal`` and ``alices``: CARL's and ALICE's cross-entropies plus ``alpha`` times the score's squared error, as
  RASCAL's (the training loop's ``bce_mse`` loss).

Every network is an MLP of the standardised observables and ln θ, seeded and trained with
:func:`ml4hep.training.fit` (early stopping on the validation split, a checkpoint per epoch), and normalised after
the training so that the mean of r̂ over the nominal events is 1 at every θ (:mod:`ml4hep.sbi.networks`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ml4hep.models import FitContext, Registry, Split
from ml4hep.models.network import TorchClassifier
from ml4hep.sbi.gold import joint_score, log_ratio
from ml4hep.sbi.observables import OBSERVABLES

if TYPE_CHECKING:
    from torch import nn

SBI_ESTIMATORS = Registry("sbi")
"""Estimator name -> model class."""


def draw_thetas(n: int, theta_range: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """``n`` values of θ drawn uniformly in ln θ over ``theta_range``."""
    low, high = np.log(theta_range[0]), np.log(theta_range[1])
    return np.exp(rng.uniform(low, high, size=int(n)))


def gold_pairs(split: Split, theta_range: tuple[float, float], seed: int, draws: int = 1) -> dict[str, np.ndarray]:
    """The training examples of a split of nominal events: each event (``draws`` times) as a θ0 and a θ event.

    Args:
        split: ``X`` and ``coefficients`` of nominal events.
        theta_range: Range of the θ drawn (log-uniform).
        seed: Seed of the draw.
        draws: θ values drawn per event.

    Returns:
        ``X``, ``theta``, ``y`` (0: θ0 event, 1: θ event), ``log_r`` (the joint ln r(x, z | θ, θ0)), ``score`` (the
        joint score t(x, z | θ)) and ``weight`` (1 for θ0 events, r for θ events).

    Example:
        >>> split = {"X": np.zeros((3, 2)), "coefficients": np.array([[1.0], [0.0], [-1.0]])}
        >>> pairs = gold_pairs(split, (0.5, 2.0), seed=1)
        >>> pairs["y"].tolist(), bool(np.allclose(pairs["log_r"][:3], pairs["log_r"][3:]))
        ([0.0, 0.0, 0.0, 1.0, 1.0, 1.0], True)
    """
    rng = np.random.default_rng(seed)
    x = np.repeat(np.asarray(split["X"], dtype=np.float64), draws, axis=0)
    coefficients = np.repeat(np.asarray(split["coefficients"], dtype=np.float64), draws, axis=0)
    theta = draw_thetas(len(x), theta_range, rng)
    log_r = log_ratio(coefficients, theta)
    score = joint_score(coefficients, theta)
    n = len(x)
    return {
        "X": np.concatenate([x, x]),
        "theta": np.concatenate([theta, theta]),
        "y": np.concatenate([np.zeros(n), np.ones(n)]),
        "log_r": np.concatenate([log_r, log_r]),
        "score": np.concatenate([score, score]),
        "weight": np.concatenate([np.ones(n), np.exp(log_r)]),
    }


@SBI_ESTIMATORS.register("histogram")
class HistogramRatio:
    """The ratio of the reweighted to the nominal histogram of one observable, on a grid of θ.

    Args:
        observable: Which of :data:`ml4hep.sbi.observables.OBSERVABLES`.
        bins: Quantile bins of the training events at θ0.
        grid_points: θ values of the stored ratios (log-spaced over ``theta_range``).
        theta_range: Range of θ.
        edges: Trained state: the bin edges.
        grid: Trained state: the θ grid.
        table: Trained state: ln r̂ per grid point and bin.
        **_training: The training keys of the config section (nothing to train here).
    """

    suffix: ClassVar[str] = ".npz"
    display_name: ClassVar[str] = "Histogram"

    def __init__(
        self,
        observable: str = "multiplicity",
        bins: int = 20,
        grid_points: int = 41,
        theta_range: tuple[float, float] = (0.5, 2.0),
        edges: np.ndarray | None = None,
        grid: np.ndarray | None = None,
        table: np.ndarray | None = None,
        **_training: Any,
    ) -> None:
        self.observable = str(observable)
        self.bins = int(bins)
        self.grid_points = int(grid_points)
        self.theta_range = (float(theta_range[0]), float(theta_range[1]))
        self.edges, self.grid, self.table = edges, grid, table

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Fill the histograms of the training events (nothing is tuned on ``val``)."""
        x = np.asarray(train["X"])[:, OBSERVABLES.index(self.observable)]
        edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, self.bins + 1)))
        edges[0], edges[-1] = -np.inf, np.inf
        self.edges = edges
        self.grid = np.geomspace(*self.theta_range, self.grid_points)
        nominal = np.histogram(x, edges)[0] / len(x)
        rows = []
        for theta in self.grid:
            weights = np.exp(log_ratio(np.asarray(train["coefficients"]), theta))
            rows.append(np.histogram(x, edges, weights=weights)[0] / weights.sum())
        self.table = np.log(np.asarray(rows) / nominal)
        return {"device": "cpu", "bins": len(edges) - 1, "observable": self.observable}

    def predict(self, split: Split) -> np.ndarray:
        """The estimate ln r̂ per example (the bin's ratio, linear in ln θ between grid points)."""
        x = np.asarray(split["X"])[:, OBSERVABLES.index(self.observable)]
        column = np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, len(self.edges) - 2)
        position = np.interp(np.log(np.asarray(split["theta"])), np.log(self.grid), np.arange(len(self.grid)))
        low = np.clip(np.floor(position).astype(int), 0, len(self.grid) - 2)
        fraction = position - low
        return (1 - fraction) * self.table[low, column] + fraction * self.table[low + 1, column]

    def save(self, path: str | Path) -> None:
        """Edges, grid and table as ``.npz`` with the settings as JSON text."""
        settings = {"observable": self.observable, "bins": self.bins, "grid_points": self.grid_points}
        np.savez(path, edges=self.edges, grid=self.grid, table=self.table, settings=json.dumps(settings))

    @classmethod
    def load(cls, path: str | Path) -> HistogramRatio:
        """Read what :meth:`save` wrote (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as data:
            settings = json.loads(str(data["settings"]))
            grid = data["grid"]
            return cls(**settings, theta_range=(grid[0], grid[-1]), edges=data["edges"], grid=grid, table=data["table"])


class _RatioNetwork:
    """Shared part of the parameterised networks: inputs (X, θ, y), the gold examples, ln r̂ predictions.

    Args:
        hidden: Widths of the hidden layers.
        theta_range: Range of the θ drawn for training.
        draws: θ values drawn per training event.
        **hyper: Training keys (:data:`ml4hep.models.network.TRAINING_KEYS`) and the subclass's own.
    """

    suffix: ClassVar[str] = ".pt"
    is_network: ClassVar[bool] = True
    inputs: ClassVar[tuple[str, ...]] = ("X", "theta", "y")
    head: ClassVar[str] = "logit"
    defaults: ClassVar[dict[str, Any]] = {
        **TorchClassifier.defaults,
        "hidden": [64, 64],
        "theta_range": [0.5, 2.0],
        "draws": 1,
    }

    def network_shape(self, train: Split) -> dict[str, Any]:
        """Width of X and its standardisation (the mean and spread of the training events)."""
        x = np.asarray(train["X"])
        return {
            "n_inputs": int(x.shape[1]),
            "mean": x.mean(axis=0).tolist(),
            "std": np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0).tolist(),
        }

    def build_network(self, n_inputs: int, mean: list[float], std: list[float]) -> nn.Module:
        """The MLP with its head (:class:`ml4hep.sbi.networks.RatioModule`)."""
        from ml4hep.sbi.networks import RatioModule

        return RatioModule(n_inputs, list(self.hyper["hidden"]), mean, std, self.head, self.hyper["theta_range"])

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Train, then normalise r̂ on the nominal events of both splits (:func:`ml4hep.sbi.networks.calibrate`)."""
        from ml4hep.sbi.networks import calibrate

        info = super().fit(train, val, context)
        info["max_abs_calibration"] = calibrate(self.network, np.concatenate([train["X"], val["X"]]))
        return info

    def training_examples(self, split: Split, purpose: str, seed: int) -> Split:
        """The gold pairs of the split (θ drawn with the training's seed; the validation split with another)."""
        offset = {"train": 0, "val": 1}[purpose]
        theta_range = (float(self.hyper["theta_range"][0]), float(self.hyper["theta_range"][1]))
        return gold_pairs(split, theta_range, seed + offset, int(self.hyper["draws"]))

    def predict(self, split: Split) -> np.ndarray:
        """The estimate ln r̂(x | θ, θ0) per example of a split with ``X`` and ``theta``."""
        from ml4hep.sbi.networks import predict_log_ratio

        return predict_log_ratio(self.network, np.asarray(split["X"]), np.asarray(split["theta"]))


@SBI_ESTIMATORS.register("carl")
class Carl(_RatioNetwork, TorchClassifier):
    """CARL: a classifier of θ events against θ0 events, parameterised in θ; its logit is ln r̂."""

    display_name: ClassVar[str] = "CARL"
    loss: ClassVar[str] = "bce"

    def targets(self, split: Split) -> np.ndarray:
        """The half of each example (1: a θ event)."""
        return np.asarray(split["y"])

    def loss_weights(self, split: Split) -> np.ndarray:
        """1 for θ0 events and r(x, z) for θ events, both halves of equal total weight."""
        from ml4hep.training import balanced_weights

        return balanced_weights(split["y"], split["weight"])


@SBI_ESTIMATORS.register("alice")
class Alice(Carl):
    """ALICE: the cross-entropy against the soft label r(x, z) / (1 + r(x, z)) of every example."""

    display_name: ClassVar[str] = "ALICE"

    def targets(self, split: Split) -> np.ndarray:
        """The soft label r / (1 + r) of the joint ratio."""
        return 1.0 / (1.0 + np.exp(-np.asarray(split["log_r"])))


@SBI_ESTIMATORS.register("rolr")
class Rolr(_RatioNetwork, TorchClassifier):
    """ROLR: r̂ regresses r(x, z) on θ0 events and 1/r̂ regresses 1/r(x, z) on θ events."""

    display_name: ClassVar[str] = "ROLR"
    loss: ClassVar[str] = "mse"
    head: ClassVar[str] = "ratio"

    def targets(self, split: Split) -> np.ndarray:
        """r(x, z) for θ0 events, 1 / r(x, z) for θ events."""
        y, log_r = np.asarray(split["y"]), np.asarray(split["log_r"])
        return np.exp(np.where(y == 0, log_r, -log_r))

    def loss_weights(self, split: Split) -> np.ndarray:
        """As CARL's: 1 for θ0 events, r(x, z) for θ events, halves of equal total weight."""
        from ml4hep.training import balanced_weights

        return balanced_weights(split["y"], split["weight"])


class _JointScoreTerm:
    """The joint-score term of RASCAL, CASCAL and ALICES: ``alpha`` × the squared error of t̂ on θ events.

    Mixed in before an estimator: the targets are (the estimator's own target, the joint score) and the loss weights
    (its own weight, ``alpha`` × that on θ events and 0 on θ0 events: the joint score is that of the θ events'
    histories).
    """

    defaults: ClassVar[dict[str, Any]] = {**_RatioNetwork.defaults, "alpha": 1.0}

    @property
    def network_hyper(self) -> dict[str, Any]:
        """The network's keys (``alpha`` belongs to the loss)."""
        return {k: v for k, v in super().network_hyper.items() if k != "alpha"}

    def targets(self, split: Split) -> np.ndarray:
        """(The estimator's target, the joint score t(x, z | θ)) per example."""
        return np.stack([super().targets(split), np.asarray(split["score"])], axis=1)

    def loss_weights(self, split: Split) -> np.ndarray:
        """(The estimator's weight, ``alpha`` × that on θ events and 0 on θ0 events) per example."""
        own_weight = super().loss_weights(split)
        score_weight = float(self.hyper["alpha"]) * np.where(np.asarray(split["y"]) == 1, own_weight, 0.0)
        return np.stack([own_weight, score_weight], axis=1)


@SBI_ESTIMATORS.register("rascal")
class Rascal(_JointScoreTerm, Rolr):
    """RASCAL: the ROLR loss plus ``alpha`` × the squared error of the score on θ events.

    The network returns (ratio term, t̂) per example; with the loss weights of :class:`_JointScoreTerm` the
    training loop's weighted squared error is the RASCAL loss.
    """

    display_name: ClassVar[str] = "RASCAL"
    head: ClassVar[str] = "ratio_and_score"


class _ScoreAugmented(_JointScoreTerm):
    """The score term of CASCAL and ALICES: ``alpha`` × the squared error of t̂ = ∂ ln r̂ / ∂θ against t(x, z | θ).

    Mixed into a cross-entropy estimator (CARL, ALICE). The network returns (ln r̂, t̂) per example (autograd through
    the parameterised MLP); with the targets and loss weights of :class:`_JointScoreTerm` the training loop's
    ``bce_mse`` loss is the cross-entropy plus ``alpha`` × the score's squared error.
    """

    head: ClassVar[str] = "logit_and_score"
    loss: ClassVar[str] = "bce_mse"


@SBI_ESTIMATORS.register("cascal")
class Cascal(_ScoreAugmented, Carl):
    """CASCAL: CARL's cross-entropy plus ``alpha`` × the squared error of the score on θ events."""

    display_name: ClassVar[str] = "CASCAL"


@SBI_ESTIMATORS.register("alices")
class Alices(_ScoreAugmented, Alice):
    """ALICES: ALICE's cross-entropy against r / (1 + r) plus ``alpha`` × the squared error of the score."""

    display_name: ClassVar[str] = "ALICES"


def estimator_hyper(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The hyper-parameters of estimator ``name``: the shared training keys, its own section, and the θ range."""
    section = config["sbi"]
    variations = [float(t) for t in section["variations"]]
    hyper = {**section["training"], **section["models"].get(name, {})}
    return {**hyper, "theta_range": [min(variations), max(variations)]}
