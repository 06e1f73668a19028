"""H->tautau signal/background classifiers: visible-mass window (cut-based reference), xgboost BDT, torch DNN.

All three train on the ``train`` split of :mod:`ml4hep.higgs.dataset` with the SM signal (``label`` 1 among the
non-heavy processes) against the backgrounds, classes balanced in the loss by weight (every event is kept), and
write their scores on the validation and test splits.

Undefined HiggsML features (-999) enter the BDT as they are (trees split them off) and the DNN as 0 after
standardisation (the mean of the defined values) plus, through ``PRI_jet_num``, the information that they are
undefined.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ml4hep.higgs.dataset import load_split, process_mask, select_events
from ml4hep.higgs.features import UNDEFINED
from ml4hep.metrics import ams
from ml4hep.networks import dense_stack

log = logging.getLogger(__name__)

CLASSIFIERS = ("cut", "bdt", "dnn", "bdt_mreg")
REGRESSED_MASS_FEATURE = "DER_mass_regressed"


def with_regressed_mass(split: Mapping[str, np.ndarray], regressed: np.ndarray) -> dict[str, np.ndarray]:
    """The split with the regressed di-tau mass appended as an extra feature column."""
    out = dict(split)
    out["X"] = np.column_stack([split["X"], regressed])
    out["feature_names"] = np.append(split["feature_names"], REGRESSED_MASS_FEATURE)
    return out


class Standardiser(nn.Module):
    """Input standardisation with the mean and spread of the defined (not -999) training values; undefined -> 0."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        """Mean and standard deviation per column over the defined values."""
        defined = x != UNDEFINED
        count = np.maximum(defined.sum(axis=0), 1)
        mean = np.where(defined, x, 0.0).sum(axis=0) / count
        var = np.where(defined, (x - mean) ** 2, 0.0).sum(axis=0) / count
        return cls(mean, np.where(var > 0, np.sqrt(var), 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised inputs, undefined values set to 0."""
        return torch.where(x == UNDEFINED, torch.zeros_like(x), (x - self.mean) / self.std)


class HiggsDNN(nn.Module):
    """Fully connected network with standardised inputs and dropout; one output (a logit, or a value)."""

    def __init__(self, standardiser: Standardiser, n_inputs: int, hidden: Sequence[int] = (64, 64, 64),
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.standardiser = standardiser
        self.net = dense_stack(n_inputs, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One output per event."""
        return self.net(self.standardiser(x)).squeeze(-1)


def mass_window_scores(mass_vis: np.ndarray, low: float, high: float) -> np.ndarray:
    """Score of the cut-based reference: 1 inside the visible-mass window, 0 outside."""
    return ((mass_vis >= low) & (mass_vis <= high)).astype(float)


def train_mass_window(
    val: Mapping[str, np.ndarray], regularisation: float, step: float = 5.0, min_signal_efficiency: float = 0.2
) -> dict[str, float]:
    """The visible-mass window with the best AMS on the validation split.

    Windows keeping less than ``min_signal_efficiency`` of the signal are not considered: on a small validation
    split they would be tuned to a handful of events.
    """
    column = [str(n) for n in val["feature_names"]].index("DER_mass_vis")
    mass = val["X"][:, column]
    signal = val["label"] == 1
    best = {"low": 0.0, "high": 0.0, "val_ams": -1.0}
    total_signal = val["weight"][signal].sum()
    for low in np.arange(20.0, 120.0 + 1e-9, step):
        for high in np.arange(low + step, 200.0 + 1e-9, step):
            inside = (mass >= low) & (mass <= high)
            if val["weight"][inside & signal].sum() < min_signal_efficiency * total_signal:
                continue
            value = float(ams(val["weight"][inside & signal].sum(), val["weight"][inside & ~signal].sum(),
                              regularisation))
            if value > best["val_ams"]:
                best = {"low": float(low), "high": float(high), "val_ams": value}
    return best


def train_classifier(
    name: str,
    splits: Mapping[str, str | Path],
    options: Mapping[str, Any],
    heavy: Sequence[str],
    seed: int,
    device_name: str,
    model_path: str | Path,
    scores_path: str | Path,
    info_path: str | Path,
    regressed_mass: str | Path | None = None,
) -> dict[str, Any]:
    """Train one SM classifier and write its model, its val/test scores (for the SM events) and an info JSON.

    Args:
        name: ``cut``, ``bdt``, ``dnn``, or ``bdt_mreg`` (the BDT with the regressed di-tau mass as an extra input).
        splits: Split name -> dataset file.
        options: The ``higgs`` config section.
        heavy: Heavy-Higgs sample names (left out of the SM classification).
        seed: Seed of the training.
        device_name: ``auto``, ``cpu`` or ``cuda``.
        model_path: Model file (JSON for cut and bdt, torch checkpoint for dnn).
        scores_path: ``.npz`` with ``val`` and ``test`` scores for the SM events of each split.
        info_path: Training summary.
        regressed_mass: Predictions file of :mod:`ml4hep.higgs.regression` (needed by ``bdt_mreg``).

    Returns:
        The info dictionary.
    """
    data = {s: load_split(p) for s, p in splits.items()}
    if name == "bdt_mreg":
        if regressed_mass is None:
            raise ValueError("bdt_mreg needs the regressed-mass predictions")
        with np.load(regressed_mass, allow_pickle=False) as predictions:
            data = {s: with_regressed_mass(d, predictions[s]) for s, d in data.items()}
    sm = {s: select_events(d, ~process_mask(d, heavy)) for s, d in data.items()}
    train, val, test = sm["train"], sm["val"], sm["test"]
    info: dict[str, Any] = {"classifier": name, "n_train": int(len(train["label"])), "seed": seed}
    start = time.perf_counter()
    if name == "cut":
        window = train_mass_window(val, float(options["ams_regularisation"]))
        Path(model_path).write_text(json.dumps(window, indent=2))
        column = [str(n) for n in val["feature_names"]].index("DER_mass_vis")
        scores = {s: mass_window_scores(sm[s]["X"][:, column], window["low"], window["high"]) for s in ("val", "test")}
        info.update(window=window, device="cpu")
    elif name in ("bdt", "bdt_mreg"):
        scores, extra = _train_bdt(train, val, test, options["bdt"], seed, device_name, model_path)
        info.update(extra)
    elif name == "dnn":
        scores, extra = _train_dnn(train, val, test, options["dnn"], seed, device_name, model_path)
        info.update(extra)
    else:
        raise ValueError(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}")
    info["seconds"] = time.perf_counter() - start
    np.savez(scores_path, val=scores["val"], test=scores["test"])
    Path(info_path).write_text(json.dumps(info, indent=2))
    return info


def _train_bdt(train, val, test, hyper, seed, device_name, model_path):
    from ml4hep.training import fit_xgboost, select_device

    device = select_device(device_name)
    model = fit_xgboost(train["X"], train["label"], val["X"], val["label"], hyper, train_weight=train["weight"],
                        val_weight=val["weight"], seed=seed, device=device)
    model.save_model(model_path)
    scores = {s: model.predict_proba(d["X"])[:, 1] for s, d in (("val", val), ("test", test))}
    names = [str(n) for n in train["feature_names"]]
    importance = dict(zip(names, map(float, model.feature_importances_), strict=True))
    return scores, {"device": device.type, "best_iteration": int(model.best_iteration),
                    "feature_importance": importance}


def _train_dnn(train, val, test, hyper, seed, device_name, model_path):
    from ml4hep.training import balanced_weights, fit, predict, save_checkpoint, seed_everything, select_device

    device = select_device(device_name)
    seed_everything(seed)
    model = HiggsDNN(Standardiser.fit(train["X"]), train["X"].shape[1], hyper["hidden"], hyper["dropout"])
    result = fit(model, [train["X"].astype(np.float32)], train["label"], [val["X"].astype(np.float32)], val["label"],
                 train_weight=balanced_weights(train["label"], train["weight"]),
                 val_weight=balanced_weights(val["label"], val["weight"]), epochs=int(hyper["epochs"]),
                 batch_size=int(hyper["batch_size"]), learning_rate=float(hyper["learning_rate"]),
                 patience=int(hyper["patience"]), device=device, seed=seed, description="higgs dnn")
    model.to("cpu")
    scores = {s: predict(model, [d["X"].astype(np.float32)], device=torch.device("cpu"))
              for s, d in (("val", val), ("test", test))}
    save_checkpoint(model, model_path, {"hidden": list(map(int, hyper["hidden"])), "dropout": float(hyper["dropout"]),
                                        "best_epoch": result.best_epoch})
    return scores, {"device": device.type, "best_epoch": result.best_epoch, "epochs_run": len(result.train_loss),
                    "train_loss": result.train_loss, "val_loss": result.val_loss,
                    "train_events_per_second": result.examples_per_second}
