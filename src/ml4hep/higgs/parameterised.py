"""Mass-parameterised classifier for the heavy-Higgs search (Baldi et al., arXiv:1601.07913).

Signal: the heavy-Higgs processes named by the caller, each with its generated mass; background: the named
background processes (e.g. ``higgs_ztautau``, ``higgs_ttbar``). Three kinds of network, all a
:class:`ml4hep.higgs.networks.HiggsDNN` with the same hyper-parameters and a
:class:`~ml4hep.models.standardiser.Standardiser` fitted on their own training inputs:

* ``parameterised``: trained on every generated mass except ``left_out_mass``; its inputs are the features plus the
  mass parameter as an extra (last) column. Signal events carry their generated mass; every background event gets a
  mass drawn at random from the *training* signal masses (one draw per event and per split, seeded by
  :func:`background_masses`), by default with the probabilities of the signal's loss-weighted mass distribution
  (``background_mass_draw: signal``), so that the mass parameter alone says nothing about the class; ``uniform``
  draws every training mass with the same probability (the behaviour before; the same as ``signal`` under equal
  signal weighting, up to the random draws). Evaluated at mass ``m``, every event (background included) gets ``m``.
* ``dedicated``: trained at one mass only (signal of that mass against the background), features only. By default
  (``dedicated_masses: all``) one dedicated network is trained per generated mass, so that the parameterised network
  can be compared with the best network available at every mass; ``left_out`` trains only the one at the left-out
  mass.
* ``unparameterised``: trained on the same masses as the parameterised network, features only.

Loss weights: the signal weights of ``signal_weighting`` (:func:`signal_weights`), then both classes scaled to the
same total (:func:`~ml4hep.training.balanced_weights`). ``equal`` (default, as Baldi et al., whose samples have the
same size at every mass) gives every training mass the same total signal weight; ``cross_section`` keeps the
physics weights (σ × L), under which the lightest masses dominate the signal class: the heavy-Higgs cross section
falls by a factor ~7000 from 300 to 800 GeV in the generated samples. Validation (early stopping) uses the
validation split with the same treatment.

Figure of merit: on the test split, for every generated mass ``m`` (the left-out one included) and every trained
network, the AUC weighted by the physics weights of the signal at ``m`` against the background
(:func:`curve_rows`): the parameterised network evaluated at ``m``, the unparameterised network, and every
dedicated network (each trained at one mass, evaluated at all of them, as in the figure of Baldi et al.).

Each network is a model class of the registry :data:`MASS_NETWORKS` (``parameterised``, ``unparameterised``,
``dedicated``: a :class:`~ml4hep.models.network.TorchClassifier` that selects its own events and inputs from the
event table), trained by :func:`ml4hep.models.step.train_and_score` with a checkpoint per epoch and exact resume.

Hyper-parameters: the ``higgs.parameterised`` section of the config; a key the caller does not give takes
the schema's default (``config/schema.yaml``, the only place where defaults are written).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ml4hep.chunked import AugmentedRows, is_chunked
from ml4hep.config import section
from ml4hep.errors import ConfigError
from ml4hep.higgs.classifiers import HiggsDenseNetwork
from ml4hep.higgs.dataset import open_split, process_mask, select_events
from ml4hep.higgs.parameterised_table import (
    DISPLAY_NAMES,
    NETWORKS,
    auc_by_mass,
    best_other_dedicated,
    curve_from_metrics,
    mass_label,
    same_mass,
    table_from_curve,
    table_rows,
    write_auc_table,
    write_curve_table,
)
from ml4hep.io import write_json
from ml4hep.metrics import auc
from ml4hep.models import FitContext, Registry, Split
from ml4hep.models.base import fingerprint
from ml4hep.models.network import TorchClassifier
from ml4hep.models.step import train_and_score
from ml4hep.training import balanced_weights

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "DISPLAY_NAMES",
    "NETWORKS",
    "auc_by_mass",
    "best_other_dedicated",
    "curve_from_metrics",
    "mass_label",
    "same_mass",
    "table_from_curve",
    "table_rows",
    "write_auc_table",
    "write_curve_table",
]

log = logging.getLogger(__name__)

LEFT_OUT_KEY = "higgs.parameterised.left_out_mass"
"""Config key named in the errors about the left-out mass."""

MASS_FEATURE = "mass_parameter"
"""Name of the extra input column of the parameterised network."""

SIGNAL_WEIGHTINGS = ("equal", "cross_section")
BACKGROUND_MASS_DRAWS = ("signal", "uniform")
DEDICATED_MASSES = ("all", "left_out")
SPLIT_STREAMS = {"train": 0, "val": 1, "test": 2}
"""Random stream of each split for the background mass draws (other split names get a stream from their name)."""


@dataclass
class MassSample:
    """Signal (heavy Higgs at the selected masses) and background events of one split.

    Attributes:
        X: Features (n, n_features), float64; of a split streamed from disk, the view of the selected events
            (:class:`~ml4hep.chunked.SelectedRows`), read chunk by chunk.
        label: 1 for signal, 0 for background.
        weight: Physics weights.
        mass: Generated mass of the signal events; NaN for background events.
    """

    X: Any
    label: np.ndarray
    weight: np.ndarray
    mass: np.ndarray

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, mask: np.ndarray) -> MassSample:
        """The events where ``mask`` is true (a streamed ``X`` stays a view)."""
        X = select_events(self.X, mask) if is_chunked(self.X) else self.X[mask]
        return MassSample(X, self.label[mask], self.weight[mask], self.mass[mask])


def _hyper(hyper: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's hyper-parameters over the schema's defaults of ``higgs.parameterised``, checked by the schema."""
    return section("higgs.parameterised", hyper)


def training_masses(masses: Sequence[float], left_out_mass: float) -> list[float]:
    """The generated masses the parameterised and unparameterised networks train on.

    Args:
        masses: Generated signal masses (GeV).
        left_out_mass: The mass held out of their training.

    Returns:
        The other masses, sorted.

    Raises:
        ConfigError: ``left_out_mass`` is not a generated mass, or fewer than 2 masses remain; the message names
            :data:`LEFT_OUT_KEY`.
    """
    generated = sorted({float(m) for m in masses})
    listed = ", ".join(f"{m:g}" for m in generated)
    try:
        left_out = float(left_out_mass)
    except (TypeError, ValueError):
        raise ConfigError(
            f"config key '{LEFT_OUT_KEY}' must be a number (one of the generated heavy-Higgs "
            f"masses: {listed}), not {left_out_mass!r}"
        ) from None
    if not any(same_mass(m, left_out) for m in generated):
        raise ConfigError(
            f"config key '{LEFT_OUT_KEY}' = {left_out:g} GeV is not a generated heavy-Higgs mass (generated: {listed})"
        )
    remaining = [m for m in generated if not same_mass(m, left_out)]
    if len(remaining) < 2:
        raise ConfigError(
            f"config key '{LEFT_OUT_KEY}' = {left_out:g} GeV leaves {len(remaining)} mass(es) to "
            f"train the parameterised network on; at least 2 are needed (generated: {listed})"
        )
    return remaining


def background_masses(
    n: int,
    masses: Sequence[float],
    seed: int,
    split: str = "train",
    probabilities: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Mass parameter of background events: one draw per event from ``masses``.

    Args:
        n: Number of background events.
        masses: The training signal masses (never the left-out one).
        seed: Seed of the run; the draws depend on it, on ``split`` and on ``probabilities`` only.
        split: Split name (each split has its own random stream).
        probabilities: Probability of each of ``masses`` (e.g. :func:`signal_mass_distribution`); None: uniform.

    Returns:
        ``n`` masses, each one of ``masses``.

    Example:
        >>> draws = background_masses(1000, [300.0, 500.0], seed=1, probabilities=[0.9, 0.1])
        >>> sorted(set(draws.tolist())), bool((draws == 300.0).mean() > 0.8)
        ([300.0, 500.0], True)
    """
    stream = SPLIT_STREAMS.get(split)
    if stream is None:
        stream = int.from_bytes(split.encode(), "little") % 2**31 + len(SPLIT_STREAMS)
    rng = np.random.default_rng([int(seed) % 2**63, stream])
    values = np.asarray(masses, dtype=np.float64)
    if probabilities is None:
        return rng.choice(values, size=int(n))
    return rng.choice(values, size=int(n), p=np.asarray(probabilities, dtype=np.float64))


def signal_mass_distribution(sample: MassSample, weight: np.ndarray, masses: Sequence[float]) -> np.ndarray:
    """The signal's weighted mass distribution: the share of the signal weight at each of ``masses``.

    Drawing the background's mass parameter from it gives the background the same loss-weighted mass distribution
    as the signal, so that the parameter carries no information about the class (Baldi et al.: "drawn from the
    signal's mass distribution").

    Args:
        sample: The events.
        weight: Their (loss) weights; only the signal's enter.
        masses: The masses to share the weight over.

    Returns:
        One probability per mass, summing to 1 (uniform when the signal has no weight at these masses).

    Raises:
        ValueError: A signal mass has negative total weight.
    """
    signal = sample.label == 1
    totals = np.array([weight[signal & (sample.mass == m)].sum() for m in masses], dtype=np.float64)
    if (totals < 0).any():
        raise ValueError("higgs.parameterised: a signal mass has negative total weight; cannot draw masses from it")
    if totals.sum() <= 0:
        return np.full(len(totals), 1.0 / len(totals))
    return totals / totals.sum()


def mass_sample(
    split: Mapping[str, np.ndarray],
    heavy: Sequence[tuple[str, float]],
    backgrounds: Sequence[str],
    masses: Sequence[float] | None = None,
) -> MassSample:
    """Heavy-Higgs signal events (at the chosen masses) and background events of a split.

    Args:
        split: Columns of :mod:`ml4hep.higgs.dataset` (``X``, ``weight``, ``process``, ``process_names``).
        heavy: (process name, generated mass) of each heavy-Higgs process.
        backgrounds: Background process names.
        masses: Signal masses to keep (None: all of ``heavy``).

    Returns:
        The events, in the split's order; signal labelled by process (not by the file's ``label``). The features
        of a split streamed from disk stay there (``X`` a view of the selected events).

    Raises:
        ConfigError: A named process is not in the split's ``process_names``.
    """
    check_processes(split, [n for n, _ in heavy] + list(backgrounds))
    mass = np.full(len(split["process"]), np.nan)
    for name, value in heavy:
        if masses is None or any(same_mass(value, m) for m in masses):
            mass[process_mask(split, [name])] = float(value)
    signal = np.isfinite(mass)
    background = process_mask(split, list(backgrounds)) & ~signal
    keep = signal | background
    return MassSample(
        X=select_events(split, keep) if is_chunked(split) else np.asarray(split["X"][keep], dtype=np.float64),
        label=signal[keep].astype(np.int64),
        weight=np.asarray(split["weight"][keep], dtype=np.float64),
        mass=mass[keep],
    )


def check_processes(split: Mapping[str, np.ndarray], names: Sequence[str]) -> None:
    """Raise :class:`~ml4hep.errors.ConfigError` naming the first of ``names`` not in the split's processes."""
    known = [str(n) for n in split["process_names"]]
    for name in names:
        if name not in known:
            raise ConfigError(
                f"higgs.parameterised: process {name!r} is not in the event table (processes: {', '.join(known)})"
            )


def with_mass(X: np.ndarray, mass: np.ndarray | float) -> np.ndarray:
    """Features with the mass parameter appended as the last column (float32)."""
    column = np.broadcast_to(np.asarray(mass, dtype=np.float64), (len(X),))
    return np.column_stack([X, column]).astype(np.float32)


def with_mass_column(events: Any, mass: np.ndarray | float) -> Any:
    """:func:`with_mass` of in-memory features, or a streamed view whose ``X`` gets the mass as its last column.

    The view (:class:`~ml4hep.chunked.AugmentedRows`) appends the column chunk by chunk, so that scoring the
    events of a file at a mass never holds their features.
    """
    if not is_chunked(events):
        return with_mass(np.asarray(events), mass)
    column = np.broadcast_to(np.asarray(mass, dtype=np.float64), (events.n_rows,))
    names = [*(str(n) for n in events["feature_names"]), MASS_FEATURE]
    return AugmentedRows(events, widen={"X": np.array(column)}, metadata={"feature_names": np.array(names)})


def parameter_masses(
    sample: MassSample,
    masses: Sequence[float],
    seed: int,
    split: str,
    probabilities: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """The mass parameter of training/validation events: the generated mass, or a drawn one for background.

    Args:
        sample: The events.
        masses: The training masses the background's masses are drawn from.
        seed: Seed of the draws.
        split: Split name (its random stream).
        probabilities: Probability of each mass (None: uniform); see :func:`signal_mass_distribution`.
    """
    mass = sample.mass.copy()
    background = sample.label == 0
    mass[background] = background_masses(int(background.sum()), masses, seed, split, probabilities)
    return mass


def parameterised_inputs(
    sample: MassSample,
    masses: Sequence[float],
    seed: int,
    split: str,
    probabilities: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Inputs of the parameterised network (in memory): the features and :func:`parameter_masses` (same arguments)."""
    return with_mass(sample.X, parameter_masses(sample, masses, seed, split, probabilities))


def signal_weights(sample: MassSample, signal_weighting: str = "equal") -> np.ndarray:
    """Event weights before the class balance: the background's physics weights and the signal's of the scheme.

    Args:
        sample: The training or validation events.
        signal_weighting: ``equal`` (every signal mass scaled to total weight 1, the physics weights kept within a
            mass) or ``cross_section`` (the physics weights as they are).

    Returns:
        One weight per event.

    Raises:
        ValueError: Unknown ``signal_weighting``.

    Example:
        >>> sample = MassSample(np.zeros((3, 1)), np.array([1, 1, 0]), np.array([4.0, 1.0, 2.0]),
        ...                     np.array([300.0, 500.0, np.nan]))
        >>> signal_weights(sample, "equal").tolist(), signal_weights(sample, "cross_section").tolist()
        ([1.0, 1.0, 2.0], [4.0, 1.0, 2.0])
    """
    weight = sample.weight.copy()
    if signal_weighting == "equal":
        for value in np.unique(sample.mass[sample.label == 1]):
            selected = (sample.label == 1) & (sample.mass == value)
            total = weight[selected].sum()
            if total != 0:
                weight[selected] /= total
    elif signal_weighting != "cross_section":
        raise ValueError(f"unknown signal weighting {signal_weighting!r}; known: {', '.join(SIGNAL_WEIGHTINGS)}")
    return weight


def loss_weights(sample: MassSample, signal_weighting: str = "equal") -> np.ndarray:
    """Class-balanced loss weights: :func:`ml4hep.training.balanced_weights` of :func:`signal_weights`.

    Args:
        sample: The training or validation events.
        signal_weighting: ``equal`` or ``cross_section`` (:func:`signal_weights`).

    Returns:
        One weight per event; both classes have the same total.
    """
    return balanced_weights(sample.label, signal_weights(sample, signal_weighting))


MASS_NETWORKS = Registry("higgs parameterised")
"""The three kinds of network of the comparison, by name."""
PREDICT_STREAM = "predict"
"""Random stream of the mass parameter of the events :meth:`ParameterisedNetwork.predict` has no mass for."""


class MassNetwork(HiggsDenseNetwork):
    """A :class:`~ml4hep.higgs.networks.HiggsDNN` separating heavy-Higgs signal at ``masses`` from background.

    Its training and validation events are the signal of the chosen masses and the background processes of the
    event table (:func:`mass_sample`, labels by process), with the class-balanced loss weights of
    :func:`loss_weights`.

    Args:
        heavy: (process name, generated mass) of every heavy-Higgs process.
        backgrounds: Background process names.
        masses: The signal masses it trains on.
        **hyper: The ``higgs.parameterised`` section (missing keys: the schema's defaults).
    """

    kind: ClassVar[str] = "network"
    weighting: ClassVar[str] = "given"
    standardised_dtype: ClassVar[type] = np.float32
    uses_mass: ClassVar[bool] = False
    """Whether the mass parameter is an input (its scores then depend on the mass evaluated at)."""

    def __init__(
        self, heavy: Sequence[Sequence[Any]], backgrounds: Sequence[str], masses: Sequence[float], **hyper: Any
    ) -> None:
        weight_decay = hyper.pop("weight_decay", 0.0)  # a key of the training loop, not of the config section
        super().__init__(**_hyper(hyper), weight_decay=weight_decay)
        self.heavy = [(str(name), float(mass)) for name, mass in heavy]
        self.backgrounds = [str(name) for name in backgrounds]
        self.masses = [float(m) for m in masses]
        self.hyper.update(heavy=[list(h) for h in self.heavy], backgrounds=self.backgrounds, masses=self.masses)
        self.feature_names: list[str] = []
        self.n_train = 0

    def mass_parameter(self, sample: MassSample, weight: np.ndarray, seed: int, purpose: str) -> np.ndarray | None:
        """The extra input of training or validation events (None: the features only; ``weight``: loss weights)."""
        return None

    def training_examples(self, split: Split, purpose: str, seed: int) -> Split:
        """Signal at the training masses and background, their inputs and loss weights.

        Raises:
            ValueError: The events lack one of the classes.
        """
        sample = mass_sample(split, self.heavy, self.backgrounds, self.masses)
        if not (sample.label == 1).any() or not (sample.label == 0).any():
            raise ValueError(f"{self.description}: the {purpose} events need both signal and background")
        if purpose == "train":
            self.feature_names = [str(n) for n in split["feature_names"]]
            self.n_train = len(sample)
        weight = loss_weights(sample, self.hyper["signal_weighting"])
        mass = self.mass_parameter(sample, weight, seed, purpose)
        if is_chunked(sample.X):  # the features stay on disk; the mass parameter is joined chunk by chunk
            events = sample.X if mass is None else with_mass_column(sample.X, mass)
            return AugmentedRows(events, {"label": sample.label, "weight": weight})
        x = sample.X.astype(np.float32) if mass is None else with_mass(sample.X, mass)
        return {"X": x, "label": sample.label, "weight": weight}

    def loss_weights(self, split: Split) -> np.ndarray:
        """The weights :meth:`training_examples` computed."""
        return np.asarray(split["weight"])

    @property
    def description(self) -> str:
        """The network in messages."""
        return self.kind

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Train (:meth:`~ml4hep.models.network.TorchClassifier.fit`) and report the events trained on."""
        info = super().fit(train, val, context)
        info["n_train"] = self.n_train
        info["best_val_loss"] = float(info["val_loss"][info["best_epoch"]]) if info["val_loss"] else math.nan
        return info

    def input_names(self) -> list[str]:
        """Names of the network's inputs."""
        return list(self.feature_names)

    def scores_at(self, X: Any, mass: float) -> np.ndarray:
        """P(signal) of events with features ``X`` for a signal of mass ``mass`` (unused without a mass input).

        ``X`` is an array or a streamed view of the events (:attr:`MassSample.X`).
        """
        return self.predict(X if is_chunked(X) else {"X": np.asarray(X, dtype=np.float32)})

    def metadata(self) -> dict[str, Any]:
        """What :func:`load_network` and other readers of the file need (inputs, masses, layers)."""
        return {
            "network": self.kind,
            "inputs": self.input_names(),
            "training_masses": self.masses,
            "hidden": [int(h) for h in self.hyper["hidden"]],
            "dropout": float(self.hyper["dropout"]),
            "signal_weighting": str(self.hyper["signal_weighting"]),
            "background_mass_draw": str(self.hyper["background_mass_draw"]),
            "heavy": [list(h) for h in self.heavy],
            "backgrounds": self.backgrounds,
        }

    @classmethod
    def load(cls, path: str | Path) -> MassNetwork:
        """Rebuild the network and its input names (``weights_only`` loading)."""
        from ml4hep.training import load_checkpoint

        model = super().load(path)
        _, metadata = load_checkpoint(path)
        names = list(metadata["inputs"])
        model.feature_names = names[:-1] if cls.kind == "parameterised" else names
        return model


@MASS_NETWORKS.register("unparameterised")
class UnparameterisedNetwork(MassNetwork):
    """Trained on the same masses as the parameterised network, without the mass input."""

    kind = "unparameterised"
    display_name = DISPLAY_NAMES["unparameterised"]


@MASS_NETWORKS.register("dedicated")
class DedicatedNetwork(MassNetwork):
    """Trained at one mass only (``masses`` has one entry)."""

    kind = "dedicated"
    display_name = DISPLAY_NAMES["dedicated"]

    @property
    def description(self) -> str:
        """The network and its mass in messages."""
        return f"dedicated {mass_label(self.masses[0])} GeV"


@MASS_NETWORKS.register("parameterised")
class ParameterisedNetwork(MassNetwork):
    """The features plus the mass parameter (last input): signal at its mass, background at a drawn training mass."""

    kind = "parameterised"
    display_name = DISPLAY_NAMES["parameterised"]
    uses_mass = True

    def mass_parameter(self, sample: MassSample, weight: np.ndarray, seed: int, purpose: str) -> np.ndarray:
        """The mass parameter (:func:`parameter_masses`), the background's drawn as configured."""
        draw = self.hyper["background_mass_draw"]
        if draw not in BACKGROUND_MASS_DRAWS:
            raise ValueError(f"unknown background mass draw {draw!r}; known: {', '.join(BACKGROUND_MASS_DRAWS)}")
        probabilities = signal_mass_distribution(sample, weight, self.masses) if draw == "signal" else None
        return parameter_masses(sample, self.masses, seed, purpose, probabilities)

    def input_names(self) -> list[str]:
        """The feature names and :data:`MASS_FEATURE`."""
        return [*self.feature_names, MASS_FEATURE]

    def scores_at(self, X: Any, mass: float) -> np.ndarray:
        """P(signal) of events with features ``X`` (an array or a streamed view) at the mass parameter ``mass``."""
        widened = with_mass_column(X, mass)
        return TorchClassifier.predict(self, widened if is_chunked(widened) else {"X": widened})

    def predict(self, split: Split) -> np.ndarray:
        """P(signal) of every event.

        Inputs with the mass column are taken as given (``X`` with one column more than the features); else each
        heavy-Higgs event is evaluated at its generated mass and every other event at a mass drawn from the training
        masses (seed 0, :data:`PREDICT_STREAM`).
        """
        if is_chunked(split):
            if "process" not in split:
                return super().predict(split)
            n = split.n_rows
        else:
            x = np.asarray(split["X"])
            if x.shape[1] == len(self.feature_names) + 1 or "process" not in split:
                return super().predict({"X": x.astype(np.float32)})
            n = len(x)
        mass = background_masses(n, self.masses, 0, PREDICT_STREAM)
        for name, value in self.heavy:
            mass[process_mask(split, [name])] = value
        widened = with_mass_column(split if is_chunked(split) else x, mass)
        return super().predict(widened if is_chunked(widened) else {"X": widened})


def _auc(sample: MassSample, scores: np.ndarray) -> float:
    if not (sample.label == 1).any() or not (sample.label == 0).any():
        return math.nan
    return auc(sample.label, scores, sample.weight)


def _load(split: str | Path | Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """A split as given (a streamed one stays on disk) or opened from its file (:func:`open_split`)."""
    if is_chunked(split):
        return split
    return dict(split) if isinstance(split, Mapping) else open_split(split)


def network_context(context: FitContext, key: str) -> FitContext:
    """The context of one network of the comparison: its own checkpoint ``{checkpoint}/{key}.ckpt`` and identity."""
    checkpoint = None if context.checkpoint is None else Path(context.checkpoint) / f"{key}.ckpt"
    return dataclasses.replace(context, checkpoint=checkpoint, fingerprint=fingerprint(context.fingerprint, key))


def curve_rows(
    models: Mapping[str, MassNetwork],
    test: Mapping[str, np.ndarray],
    heavy: Sequence[tuple[str, float]],
    backgrounds: Sequence[str],
    left_out: float,
) -> list[dict[str, Any]]:
    """The AUC-vs-mass curves of the trained networks on the test split (the figure of Baldi et al.).

    Every network is evaluated at every generated mass ``m``: its weighted AUC on the signal at ``m`` against the
    background, the parameterised network with ``m`` as its mass parameter.

    Args:
        models: Network key (``parameterised``, ``unparameterised``, ``dedicated_m{mass}``) -> trained network.
        test: The test split's columns.
        heavy: (process name, generated mass) of each heavy-Higgs process.
        backgrounds: Background process names.
        left_out: The mass held out of the parameterised and unparameterised training.

    Returns:
        One row per mass and network, masses ascending and the networks in the order of ``models``: ``mass``,
        ``network`` (the key), ``kind``, ``trained_at_mass`` (whether the network saw signal at ``mass``),
        ``left_out``, ``auc`` (NaN without both classes), ``n_signal`` and ``n_background``.
    """
    every_mass = mass_sample(test, heavy, backgrounds)  # a streamed test split stays on disk
    # Without a mass input a network's scores are the same at every mass: computed once, sliced per mass.
    fixed = {key: model.scores_at(every_mass.X, math.nan) for key, model in models.items() if not model.uses_mass}
    rows: list[dict[str, Any]] = []
    for mass in sorted({float(m) for _, m in heavy}):
        selected = (every_mass.label == 0) | (every_mass.mass == mass)
        sample = every_mass.subset(selected)
        for key, model in models.items():
            scores = model.scores_at(sample.X, mass) if model.uses_mass else fixed[key][selected]
            rows.append(
                {
                    "mass": mass,
                    "network": key,
                    "kind": model.kind,
                    "trained_at_mass": any(same_mass(mass, m) for m in model.masses),
                    "left_out": same_mass(mass, left_out),
                    "auc": _auc(sample, scores),
                    "n_signal": int((sample.label == 1).sum()),
                    "n_background": int((sample.label == 0).sum()),
                }
            )
        log.info(
            "m = %g GeV%s: AUC %s",
            mass,
            " (left out)" if same_mass(mass, left_out) else "",
            ", ".join(f"{row['network']} {row['auc']:.4f}" for row in rows if row["mass"] == mass),
        )
    return rows


def run_parameterised(
    splits: Mapping[str, str | Path | Mapping[str, np.ndarray]],
    heavy: Sequence[tuple[str, float]],
    backgrounds: Sequence[str],
    left_out_mass: float | None,
    hyper: Mapping[str, Any],
    context: FitContext,
    model_dir: str | Path,
    metrics_path: str | Path,
) -> dict[str, Any]:
    """Train the parameterised, dedicated and unparameterised networks and compare them on the test split.

    Every network is trained by :func:`ml4hep.models.step.train_and_score` (model file, checkpoint and resume).

    Args:
        splits: ``train``, ``val`` and ``test``: a dataset file of :mod:`ml4hep.higgs.dataset` or its columns.
        heavy: (process name, generated mass in GeV) of each heavy-Higgs process.
        backgrounds: Background process names.
        left_out_mass: Mass held out of the parameterised and unparameterised training (None: ``hyper``'s
            ``left_out_mass``).
        hyper: Hyper-parameters (the ``higgs.parameterised`` config section).
        context: Seed (of every network and of the background mass draws), device, threads; its ``checkpoint``
            is a folder that gets one checkpoint per network (None: no checkpoints).
        model_dir: Directory of the model files (:class:`MassNetwork`): ``parameterised.pt``,
            ``unparameterised.pt`` and ``dedicated_m{mass}.pt``; the metadata name the inputs and the masses.
        metrics_path: JSON of the returned dictionary (non-finite numbers written as null); a render step writes
            the AUC table from its ``table`` rows (:func:`table_rows`, :func:`write_auc_table`) and the curves'
            CSV and figure from its ``curve`` rows (:func:`curve_from_metrics`, :func:`write_curve_table`,
            :func:`ml4hep.plots.higgs_mass.plot_auc_vs_mass`).

    Returns:
        ``mass_left_out``, ``auc_parameterised``, ``auc_dedicated``, ``auc_unparameterised`` (test AUCs at the
        left-out mass), ``auc_best_other_dedicated`` and ``best_other_dedicated`` (the best network trained at one
        other mass, at the left-out mass), ``auc_vs_mass`` (mass label -> network -> AUC: ``parameterised``,
        ``dedicated`` (the one trained at that mass; NaN/null where none was), ``unparameterised`` and every
        ``dedicated_m{mass}``), ``table`` (the rows of the table), ``curve`` (:func:`curve_rows`),
        ``training_masses``, ``generated_masses``, per network ``training`` (events, best epoch, epochs run,
        seconds), ``device``, ``seed``, ``seconds`` and the hyper-parameters used.

    Raises:
        ConfigError: The left-out mass is not a generated mass or leaves fewer than 2 training masses (the message
            names ``higgs.parameterised.left_out_mass``), a hyper-parameter is unknown, or a named process is not in
            the dataset.
        ValueError: A split lacks signal or background events.
    """
    given = dict(hyper)
    hyper = _hyper(hyper)
    generated = sorted({float(m) for _, m in heavy})
    masses = training_masses(generated, hyper["left_out_mass"] if left_out_mass is None else left_out_mass)
    left_out = next(m for m in generated if not any(same_mass(m, t) for t in masses))
    if left_out_mass is not None and "left_out_mass" in given:
        training_masses(generated, given["left_out_mass"])
        if not same_mass(left_out, float(given["left_out_mass"])):
            raise ConfigError(
                f"config key '{LEFT_OUT_KEY}': the argument says {left_out:g} GeV, the "
                f"hyper-parameters {float(given['left_out_mass']):g} GeV"
            )
    missing = [s for s in ("train", "val", "test") if s not in splits]
    if missing:
        raise ValueError(f"run_parameterised needs the splits train, val and test (missing: {', '.join(missing)})")
    data = {name: _load(splits[name]) for name in ("train", "val", "test")}
    check_processes(data["train"], [n for n, _ in heavy] + list(backgrounds))  # before any training
    start = time.perf_counter()
    network_hyper = {**hyper, "left_out_mass": left_out}
    plan = [("parameterised", "parameterised", masses), ("unparameterised", "unparameterised", masses)]
    dedicated_at = generated if hyper["dedicated_masses"] == "all" else [left_out]
    plan += [(f"dedicated_m{mass_label(m)}", "dedicated", [m]) for m in dedicated_at]
    models: dict[str, MassNetwork] = {}
    training: dict[str, dict[str, Any]] = {}
    for key, kind, trained_on in plan:
        model = MASS_NETWORKS.model_class(kind)(heavy, backgrounds, trained_on, **network_hyper)
        summary = train_and_score(
            model,
            data,
            network_context(context, key),
            model_path=Path(model_dir) / f"{key}.pt",
            scores_path=None,
            info_path=None,
        )
        models[key] = model
        training[key] = {
            k: summary[k] for k in ("n_train", "best_epoch", "epochs_run", "best_val_loss", "resumed_from_epoch")
        }
        training[key]["seconds"] = summary["train_seconds"]
        device = summary["device"]

    curve = curve_rows(models, data["test"], heavy, backgrounds, left_out)
    rows = table_from_curve(curve)
    at_left_out = next(row for row in rows if row["left_out"])
    metrics: dict[str, Any] = {
        "mass_left_out": left_out,
        **{f"auc_{name}": at_left_out[name] for name in NETWORKS},
        **best_other_dedicated(curve, left_out),
        "auc_vs_mass": auc_by_mass(curve),
        "table": rows,
        "curve": curve,
        "generated_masses": generated,
        "training_masses": masses,
        "training": training,
        "device": device,
        "seed": int(context.seed),
        "seconds": time.perf_counter() - start,
        "hyper": {k: (list(v) if isinstance(v, list | tuple) else v) for k, v in network_hyper.items()},
    }
    Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
    write_json(metrics_path, metrics)
    return metrics


def load_network(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a network saved by :func:`run_parameterised` (``weights_only`` loading) with its metadata.

    Returns:
        The :class:`~ml4hep.higgs.networks.HiggsDNN` in eval mode (its inputs: ``metadata["inputs"]``) and the
        file's metadata.
    """
    from ml4hep.training import load_checkpoint

    _, metadata = load_checkpoint(path)
    model = MASS_NETWORKS.load(str(metadata["network"]), path)
    return model.network.eval(), metadata
