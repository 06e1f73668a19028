"""Mass-parameterised classifier for the heavy-Higgs search (Baldi et al., arXiv:1601.07913).

Signal: the heavy-Higgs processes named by the caller, each with its generated mass; background: the named
background processes (e.g. ``higgs_ztautau``, ``higgs_ttbar``). Three kinds of network, all a
:class:`ml4hep.higgs.networks.HiggsDNN` with the same hyper-parameters and a
:class:`~ml4hep.models.standardiser.Standardiser` fitted on their own training inputs:

* ``parameterised``: trained on every generated mass except ``left_out_mass``; its inputs are the features plus the
  mass parameter as an extra (last) column. Signal events carry their generated mass; every background event gets a
  mass drawn at random, uniformly, from the *training* signal masses (one draw per event and per split, seeded by
  :func:`background_masses`). Evaluated at mass ``m``, every event (background included) gets ``m``.
* ``dedicated``: trained at one mass only (signal of that mass against the background), features only. By default
  (``dedicated_masses: all``) one dedicated network is trained per generated mass, so that the parameterised network
  can be compared with the best network available at every mass; ``left_out`` trains only the one at the left-out
  mass.
* ``unparameterised``: trained on the same masses as the parameterised network, features only.

Loss weights: ``balanced_weights(label, weight)``, i.e. the physics weights with both classes scaled to the same
total. The heavy-Higgs cross section falls steeply with the mass (a factor ~7000 from 300 to 800 GeV in the
generated samples), so with physics weights the lightest training masses dominate the signal class;
``signal_weighting: per_mass`` first gives every training mass the same total signal weight (the equal-size samples
per mass of Baldi et al.). Validation (early stopping) uses the validation split with the same treatment
(background masses drawn from the training masses).

Figure of merit: on the test split, for every generated mass ``m`` (the left-out one included), the AUC weighted by
the physics weights of the signal at ``m`` against the background, for the parameterised network evaluated at ``m``,
the unparameterised network and the dedicated network at ``m``.

Hyper-parameters: the ``higgs.parameterised`` section of the config; a key the caller does not give takes
the schema's default (``config/schema.yaml``, the only place where defaults are written).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml4hep.config import section
from ml4hep.errors import ConfigError
from ml4hep.higgs.dataset import load_split, process_mask
from ml4hep.higgs.networks import HiggsDNN
from ml4hep.io import write_json
from ml4hep.metrics import auc
from ml4hep.tables import Column, write_table
from ml4hep.training import (
    FitResult,
    balanced_weights,
    fit,
    predict,
    save_checkpoint,
    seed_everything,
    select_device,
)

log = logging.getLogger(__name__)

LEFT_OUT_KEY = "higgs.parameterised.left_out_mass"
"""Config key named in the errors about the left-out mass."""

MASS_FEATURE = "mass_parameter"
"""Name of the extra input column of the parameterised network."""

NETWORKS = ("parameterised", "dedicated", "unparameterised")
DISPLAY_NAMES = {"parameterised": "Parameterised", "dedicated": "Dedicated", "unparameterised": "Unparameterised"}
SIGNAL_WEIGHTINGS = ("physics", "per_mass")
DEDICATED_MASSES = ("all", "left_out")
SPLIT_STREAMS = {"train": 0, "val": 1, "test": 2}
"""Random stream of each split for the background mass draws (other split names get a stream from their name)."""

MASS_TOLERANCE_GEV = 1e-3
"""Two masses closer than this are the same generated mass."""


@dataclass
class MassSample:
    """Signal (heavy Higgs at the selected masses) and background events of one split.

    Attributes:
        X: Features (n, n_features), float64.
        label: 1 for signal, 0 for background.
        weight: Physics weights.
        mass: Generated mass of the signal events; NaN for background events.
    """

    X: np.ndarray
    label: np.ndarray
    weight: np.ndarray
    mass: np.ndarray

    def __len__(self) -> int:
        return len(self.label)


def _hyper(hyper: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's hyper-parameters over the schema's defaults of ``higgs.parameterised``, checked by the schema."""
    return section("higgs.parameterised", hyper)


def same_mass(a: float, b: float) -> bool:
    """Whether two masses are the same generated mass (within :data:`MASS_TOLERANCE_GEV`)."""
    return abs(float(a) - float(b)) <= MASS_TOLERANCE_GEV


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


def background_masses(n: int, masses: Sequence[float], seed: int, split: str = "train") -> np.ndarray:
    """Mass parameter of background events: one draw per event, uniform over ``masses``.

    Args:
        n: Number of background events.
        masses: The training signal masses (never the left-out one).
        seed: Seed of the run; the draws depend on it and on ``split`` only.
        split: Split name (each split has its own random stream).

    Returns:
        ``n`` masses, each one of ``masses``.
    """
    stream = SPLIT_STREAMS.get(split)
    if stream is None:
        stream = int.from_bytes(split.encode(), "little") % 2**31 + len(SPLIT_STREAMS)
    rng = np.random.default_rng([int(seed) % 2**63, stream])
    return rng.choice(np.asarray(masses, dtype=np.float64), size=int(n))


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
        The events, in the split's order; signal labelled by process (not by the file's ``label``).

    Raises:
        ConfigError: A named process is not in the split's ``process_names``.
    """
    known = [str(n) for n in split["process_names"]]
    for name in [n for n, _ in heavy] + list(backgrounds):
        if name not in known:
            raise ConfigError(
                f"higgs.parameterised: process {name!r} is not in the event table (processes: {', '.join(known)})"
            )
    mass = np.full(len(split["process"]), np.nan)
    for name, value in heavy:
        if masses is None or any(same_mass(value, m) for m in masses):
            mass[process_mask(split, [name])] = float(value)
    signal = np.isfinite(mass)
    background = process_mask(split, list(backgrounds)) & ~signal
    keep = signal | background
    return MassSample(
        X=np.asarray(split["X"][keep], dtype=np.float64),
        label=signal[keep].astype(np.int64),
        weight=np.asarray(split["weight"][keep], dtype=np.float64),
        mass=mass[keep],
    )


def with_mass(X: np.ndarray, mass: np.ndarray | float) -> np.ndarray:
    """Features with the mass parameter appended as the last column (float32)."""
    column = np.broadcast_to(np.asarray(mass, dtype=np.float64), (len(X),))
    return np.column_stack([X, column]).astype(np.float32)


def parameterised_inputs(sample: MassSample, masses: Sequence[float], seed: int, split: str) -> np.ndarray:
    """Inputs of the parameterised network for training/validation: generated mass, or a drawn one for background."""
    mass = sample.mass.copy()
    background = sample.label == 0
    mass[background] = background_masses(int(background.sum()), masses, seed, split)
    return with_mass(sample.X, mass)


def loss_weights(sample: MassSample, signal_weighting: str = "physics") -> np.ndarray:
    """Class-balanced loss weights (:func:`ml4hep.training.balanced_weights` of the physics weights).

    Args:
        sample: The training or validation events.
        signal_weighting: ``physics`` (physics weights as they are) or ``per_mass`` (every signal mass first scaled to
            the same total weight).

    Returns:
        One weight per event.
    """
    weight = sample.weight.copy()
    if signal_weighting == "per_mass":
        for value in np.unique(sample.mass[sample.label == 1]):
            selected = (sample.label == 1) & (sample.mass == value)
            total = weight[selected].sum()
            if total != 0:
                weight[selected] /= total
    elif signal_weighting != "physics":
        raise ValueError(f"unknown signal weighting {signal_weighting!r}; known: {', '.join(SIGNAL_WEIGHTINGS)}")
    return balanced_weights(sample.label, weight)


def train_network(
    x_train: np.ndarray,
    train: MassSample,
    x_val: np.ndarray,
    val: MassSample,
    hyper: Mapping[str, Any],
    seed: int,
    device: torch.device,
    description: str,
) -> tuple[HiggsDNN, FitResult]:
    """Train one :class:`HiggsDNN` (standardiser fitted on ``x_train``) with class-balanced weights.

    Args:
        x_train: Training inputs (features, plus the mass column for the parameterised network).
        train: Training events (labels, weights, masses).
        x_val: Validation inputs.
        val: Validation events.
        hyper: Hyper-parameters (the ``higgs.parameterised`` config section).
        seed: Seed of the weights and the shuffling.
        device: Where to train.
        description: Name in the log.

    Returns:
        The model (on the CPU, best validation epoch loaded) and its history.

    Raises:
        ValueError: The training or validation events lack one of the classes.
    """
    for name, sample in (("training", train), ("validation", val)):
        if not (sample.label == 1).any() or not (sample.label == 0).any():
            raise ValueError(f"{description}: the {name} events need both signal and background")
    seed_everything(seed)
    model = HiggsDNN(x_train.shape[1], hyper["hidden"], float(hyper["dropout"]))
    model.standardiser.fit(x_train)
    result = fit(
        model,
        [x_train],
        train.label,
        [x_val],
        val.label,
        train_weight=loss_weights(train, hyper["signal_weighting"]),
        val_weight=loss_weights(val, hyper["signal_weighting"]),
        epochs=int(hyper["epochs"]),
        batch_size=int(hyper["batch_size"]),
        learning_rate=float(hyper["learning_rate"]),
        patience=int(hyper["patience"]),
        device=device,
        seed=seed,
        description=description,
    )
    model.to("cpu")
    log.info(
        "%s: %d training events, best epoch %d of %d, val loss %.5f",
        description,
        len(train),
        result.best_epoch,
        len(result.train_loss),
        result.best_val_loss,
    )
    return model, result


def _scores(model: HiggsDNN, x: np.ndarray) -> np.ndarray:
    return predict(model, [x.astype(np.float32)], batch_size=4096, device=torch.device("cpu"))


def _auc(sample: MassSample, scores: np.ndarray) -> float:
    if not (sample.label == 1).any() or not (sample.label == 0).any():
        return math.nan
    return auc(sample.label, scores, sample.weight)


def mass_label(mass: float) -> str:
    """A mass as written in names, keys and labels (``400`` for 400.0 GeV)."""
    return f"{float(mass):g}"


def write_auc_table(
    rows: Sequence[Mapping[str, Any]], csv_path: str | Path, md_path: str | Path, tex_path: str | Path | None = None
) -> None:
    """AUC per generated mass (rows) and network (columns), the left-out mass marked.

    Args:
        rows: ``mass``, ``left_out``, ``n_signal``, ``n_background`` and one AUC per network (NaN: not trained).
        csv_path: CSV file (NaN written as empty).
        md_path: Markdown file (the left-out row marked "(left out)", a missing AUC as "–").
        tex_path: LaTeX file (optional).
    """

    def mass(row: Mapping[str, Any]) -> str:
        return f"**{mass_label(row['mass'])} (left out)**" if row["left_out"] else mass_label(row["mass"])

    def auc_cell(name: str) -> Column:
        return Column(
            f"AUC {DISPLAY_NAMES[name].lower()}", lambda row: f"{row[name]:.4f}" if math.isfinite(row[name]) else "–"
        )

    write_table(
        rows,
        [Column("Mass [GeV]", mass, align="l"), *(auc_cell(n) for n in NETWORKS)],
        csv=csv_path,
        md=md_path,
        tex=tex_path,
        csv_keys=("mass", "left_out", *NETWORKS, "n_signal", "n_background"),
    )


def _load(split: str | Path | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return dict(split) if isinstance(split, Mapping) else load_split(split)


def run_parameterised(
    splits: Mapping[str, str | Path | Mapping[str, np.ndarray]],
    heavy: Sequence[tuple[str, float]],
    backgrounds: Sequence[str],
    left_out_mass: float | None,
    hyper: Mapping[str, Any],
    seed: int,
    device_name: str,
    model_dir: str | Path,
    metrics_path: str | Path,
) -> dict[str, Any]:
    """Train the parameterised, dedicated and unparameterised networks and compare them on the test split.

    Args:
        splits: ``train``, ``val`` and ``test``: a dataset file of :mod:`ml4hep.higgs.dataset` or its columns.
        heavy: (process name, generated mass in GeV) of each heavy-Higgs process.
        backgrounds: Background process names.
        left_out_mass: Mass held out of the parameterised and unparameterised training (None: ``hyper``'s
            ``left_out_mass``).
        hyper: Hyper-parameters (the ``higgs.parameterised`` config section).
        seed: Seed of the training and of the background mass draws.
        device_name: ``auto``, ``cpu`` or ``cuda``.
        model_dir: Directory of the checkpoints (:func:`ml4hep.training.save_checkpoint`): ``parameterised.pt``,
            ``unparameterised.pt`` and ``dedicated_m{mass}.pt``; the metadata name the inputs and the masses.
        metrics_path: JSON of the returned dictionary (non-finite numbers written as null); its ``table`` rows
            give the AUC table (:func:`write_auc_table`) and the figure (:func:`ml4hep.plots.higgs.plot_auc_vs_mass`)
            in a render step (:func:`table_rows`).

    Returns:
        ``mass_left_out``, ``auc_parameterised``, ``auc_dedicated``, ``auc_unparameterised`` (test AUCs at the
        left-out mass), ``auc_vs_mass`` (mass label -> network -> AUC; NaN/null where no dedicated network was
        trained), ``table`` (the rows of the table), ``training_masses``, ``generated_masses``, per network
        ``training`` (events, best epoch, epochs run, seconds), ``device``, ``seed``, ``seconds`` and the
        hyper-parameters used.

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
    feature_names = [str(n) for n in data["train"]["feature_names"]]
    device = select_device(device_name)
    start = time.perf_counter()
    model_dir = Path(model_dir)
    metadata = {
        "hidden": [int(h) for h in hyper["hidden"]],
        "dropout": float(hyper["dropout"]),
        "seed": int(seed),
        "signal_weighting": str(hyper["signal_weighting"]),
        "heavy": [[n, float(m)] for n, m in heavy],
        "backgrounds": list(backgrounds),
        "left_out_mass": left_out,
    }

    train = {s: mass_sample(data[s], heavy, backgrounds, masses) for s in ("train", "val")}
    models: dict[str, HiggsDNN] = {}
    training: dict[str, dict[str, Any]] = {}

    def record(
        key: str,
        network: str,
        model: HiggsDNN,
        result: FitResult,
        sample: MassSample,
        seconds: float,
        inputs: list[str],
        trained_on: list[float],
    ) -> None:
        models[key] = model
        training[key] = {
            "n_train": len(sample),
            "best_epoch": int(result.best_epoch),
            "epochs_run": len(result.train_loss),
            "best_val_loss": float(result.best_val_loss),
            "seconds": seconds,
        }
        save_checkpoint(
            model,
            model_dir / f"{key}.pt",
            {
                **metadata,
                "network": network,
                "inputs": inputs,
                "training_masses": trained_on,
                "best_epoch": int(result.best_epoch),
            },
        )

    t0 = time.perf_counter()
    x = {s: parameterised_inputs(train[s], masses, seed, s) for s in ("train", "val")}
    model, result = train_network(
        x["train"], train["train"], x["val"], train["val"], hyper, seed, device, "parameterised"
    )
    record(
        "parameterised",
        "parameterised",
        model,
        result,
        train["train"],
        time.perf_counter() - t0,
        feature_names + [MASS_FEATURE],
        masses,
    )

    t0 = time.perf_counter()
    x = {s: train[s].X.astype(np.float32) for s in ("train", "val")}
    model, result = train_network(
        x["train"], train["train"], x["val"], train["val"], hyper, seed, device, "unparameterised"
    )
    record(
        "unparameterised",
        "unparameterised",
        model,
        result,
        train["train"],
        time.perf_counter() - t0,
        feature_names,
        masses,
    )

    dedicated_at = generated if hyper["dedicated_masses"] == "all" else [left_out]
    for mass in dedicated_at:
        t0 = time.perf_counter()
        single = {s: mass_sample(data[s], heavy, backgrounds, [mass]) for s in ("train", "val")}
        model, result = train_network(
            single["train"].X.astype(np.float32),
            single["train"],
            single["val"].X.astype(np.float32),
            single["val"],
            hyper,
            seed,
            device,
            f"dedicated {mass_label(mass)} GeV",
        )
        record(
            f"dedicated_m{mass_label(mass)}",
            "dedicated",
            model,
            result,
            single["train"],
            time.perf_counter() - t0,
            feature_names,
            [mass],
        )

    rows: list[dict[str, Any]] = []
    for mass in generated:
        test = mass_sample(data["test"], heavy, backgrounds, [mass])
        row: dict[str, Any] = {"mass": mass, "left_out": same_mass(mass, left_out)}
        row["parameterised"] = _auc(test, _scores(models["parameterised"], with_mass(test.X, mass)))
        dedicated = models.get(f"dedicated_m{mass_label(mass)}")
        row["dedicated"] = _auc(test, _scores(dedicated, test.X)) if dedicated is not None else math.nan
        row["unparameterised"] = _auc(test, _scores(models["unparameterised"], test.X))
        row["n_signal"] = int((test.label == 1).sum())
        row["n_background"] = int((test.label == 0).sum())
        rows.append(row)
        log.info(
            "m = %g GeV%s: AUC parameterised %.4f, dedicated %.4f, unparameterised %.4f",
            mass,
            " (left out)" if row["left_out"] else "",
            row["parameterised"],
            row["dedicated"],
            row["unparameterised"],
        )

    at_left_out = next(row for row in rows if row["left_out"])
    metrics: dict[str, Any] = {
        "mass_left_out": left_out,
        **{f"auc_{name}": at_left_out[name] for name in NETWORKS},
        "auc_vs_mass": {mass_label(row["mass"]): {name: row[name] for name in NETWORKS} for row in rows},
        "table": rows,
        "generated_masses": generated,
        "training_masses": masses,
        "training": training,
        "device": device.type,
        "seed": int(seed),
        "seconds": time.perf_counter() - start,
        "hyper": {k: (list(v) if isinstance(v, list | tuple) else v) for k, v in hyper.items()},
    }
    metrics["hyper"]["left_out_mass"] = left_out
    Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
    write_json(metrics_path, metrics)
    return metrics


def table_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of the AUC table from the metrics JSON of :func:`run_parameterised` (null AUCs read as NaN)."""
    return [
        {key: math.nan if value is None and key in NETWORKS else value for key, value in row.items()}
        for row in metrics["table"]
    ]


def load_network(path: str | Path) -> tuple[HiggsDNN, dict[str, Any]]:
    """Rebuild a network saved by :func:`run_parameterised` (``weights_only`` loading) with its metadata."""
    from ml4hep.training import load_checkpoint

    state, metadata = load_checkpoint(path)
    n_inputs = len(metadata["inputs"])
    model = HiggsDNN(n_inputs, metadata["hidden"], metadata["dropout"])
    model.load_state_dict(state)
    return model.eval(), metadata
