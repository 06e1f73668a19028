"""Training of each top tagger; every tagger writes its model and its validation/test scores.

* ``cut``: the classic baseline: a soft-drop mass window, then τ32 (score 1 - τ32 inside the window, -1 outside);
  the window is the one with the best R30 on the validation split.
* ``bdt``: xgboost on the substructure features, early stopping on validation; saved as xgboost JSON.
* ``cnn``, ``pfn``, ``efn``, ``particlenet``: torch models (:mod:`ml4hep.toptag.models`), class-balanced BCE,
  early stopping with the best validation checkpoint kept; saved as a ``state_dict`` and exported to ONNX, whose
  scores on the test split are checked against torch.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.metrics import auc, background_rejection
from ml4hep.toptag.preprocess import load_split

log = logging.getLogger(__name__)

TORCH_TAGGERS = ("cnn", "pfn", "efn", "particlenet")
ALL_TAGGERS = ("cut", "bdt", *TORCH_TAGGERS)


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


def _torch_inputs(name: str, split: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    from ml4hep.toptag.models import model_input_kind

    if model_input_kind(name) == "image":
        return (split["images"],)
    return (split["x"], split["mask"])


def train_tagger(
    name: str,
    splits: Mapping[str, str | Path],
    options: Mapping[str, Any],
    seed: int,
    device_name: str,
    model_path: str | Path,
    scores_path: str | Path,
    info_path: str | Path,
) -> dict[str, Any]:
    """Train one tagger and write its model, its scores on val and test, and an info JSON.

    Args:
        name: Tagger name (one of :data:`ALL_TAGGERS`).
        splits: Split name -> feature file from :func:`ml4hep.toptag.preprocess.build_features`.
        options: The ``toptag`` config section.
        seed: Seed of the training.
        device_name: ``auto``, ``cpu`` or ``cuda``.
        model_path: Model file (JSON for cut and bdt, torch checkpoint otherwise).
        scores_path: ``.npz`` with ``val`` and ``test`` scores.
        info_path: JSON with the training summary (device, time, throughput, ONNX check).

    Returns:
        The info dictionary.
    """
    data = {split: load_split(path) for split, path in splits.items()}
    train, val, test = data["train"], data["val"], data["test"]
    info: dict[str, Any] = {"tagger": name, "n_train": len(train["label"]), "seed": seed}
    start = time.perf_counter()
    if name == "cut":
        window = train_cut(val)
        names = [str(n) for n in val["substructure_names"]]
        Path(model_path).write_text(json.dumps(window, indent=2))
        scores = {s: cut_scores(data[s]["substructure"], names, window["low"], window["high"]) for s in ("val", "test")}
        info.update(window=window, device="cpu")
    elif name == "bdt":
        scores, bdt_info = _train_bdt(train, val, test, options["bdt"], seed, device_name, model_path)
        info.update(bdt_info)
    elif name in TORCH_TAGGERS:
        scores, torch_info = _train_torch(name, train, val, test, options, seed, device_name, model_path)
        info.update(torch_info)
    else:
        raise ValueError(f"unknown tagger {name!r}; known: {', '.join(ALL_TAGGERS)}")
    info["seconds"] = time.perf_counter() - start
    np.savez(scores_path, val=scores["val"], test=scores["test"])
    Path(info_path).write_text(json.dumps(info, indent=2))
    log.info("%s trained: %s", name, info)
    return info


def _train_bdt(train, val, test, hyper, seed, device_name, model_path):
    from ml4hep.training import fit_xgboost, select_device

    device = select_device(device_name)
    model = fit_xgboost(train["substructure"], train["label"], val["substructure"], val["label"], hyper, seed=seed,
                        device=device, n_jobs=1)
    model.save_model(model_path)
    scores = {s: model.predict_proba(d["substructure"])[:, 1] for s, d in (("val", val), ("test", test))}
    importances = dict(zip([str(n) for n in train["substructure_names"]],
                           map(float, model.feature_importances_), strict=True))
    return scores, {"device": device.type, "best_iteration": int(model.best_iteration),
                    "feature_importance": importances}


def _train_torch(name, train, val, test, options, seed, device_name, model_path):
    import torch

    from ml4hep.onnx_export import check_onnx_matches
    from ml4hep.toptag.models import build_model
    from ml4hep.training import balanced_weights, fit, predict, save_checkpoint, seed_everything, select_device

    device = select_device(device_name)
    seed_everything(seed)
    hyper = dict(options["models"].get(name, {}))
    model = build_model(name, **hyper)
    training = options["training"]
    result = fit(
        model, _torch_inputs(name, train), train["label"], _torch_inputs(name, val), val["label"],
        train_weight=balanced_weights(train["label"]), val_weight=balanced_weights(val["label"]),
        epochs=int(training["epochs"]), batch_size=int(training["batch_size"]),
        learning_rate=float(training["learning_rate"]), patience=int(training["patience"]), device=device,
        seed=seed, description=f"toptag {name}",
    )
    model.to("cpu")
    scores = {s: predict(model, _torch_inputs(name, d), device=torch.device("cpu")) for s, d in (("val", val),
                                                                                                ("test", test))}
    inference_start = time.perf_counter()
    predict(model, _torch_inputs(name, test), device=torch.device("cpu"))
    inference_seconds = time.perf_counter() - inference_start
    save_checkpoint(model, model_path, {"tagger": name, "hyper": json.dumps(hyper), "best_epoch": result.best_epoch})
    onnx_path = Path(model_path).with_suffix(".onnx")
    test_inputs = tuple(torch.as_tensor(a) for a in _torch_inputs(name, test))
    input_names = ["images"] if len(test_inputs) == 1 else ["x", "mask"]
    onnx_max_diff = check_onnx_matches(model.eval(), test_inputs, onnx_path, input_names, atol=1e-4)
    return scores, {
        "device": device.type,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.train_loss),
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "train_jets_per_second": result.examples_per_second,
        "inference_jets_per_second": len(test["label"]) / inference_seconds,
        "onnx_max_abs_diff": onnx_max_diff,
    }
