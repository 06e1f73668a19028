"""Classifiers of the recast label (SUSY-AI style): random forest, xgboost BDT and a torch MLP.

Every classifier outputs P(allowed) per point and a confidence ``|2 P - 1|`` (for the random forest P is the mean of
the trees' leaf fractions, so the confidence is the margin of the trees' vote, as in SUSY-AI). Inputs are the 19
parameters, optionally with the tree-level masses (``inputs: parameters_and_masses``).

Models are saved without pickle: the random forest as the arrays of its trees in an ``.npz`` (read with
``allow_pickle=False`` and evaluated by :class:`ForestArrays`, identical to scikit-learn's ``predict_proba``), the BDT
as xgboost JSON, the MLP as a torch ``state_dict`` (read with ``weights_only=True``).
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

from ml4hep.networks import dense_stack
from ml4hep.susy.scan import PARAMETERS
from ml4hep.susy.spectrum import spectrum

log = logging.getLogger(__name__)

CLASSIFIERS = ("rf", "bdt", "mlp")
"""Classifier names (random forest, xgboost, torch MLP)."""

MASS_FEATURES = ("m_gluino", "m_chi10", "m_chi20", "m_chi1p", "m_uL", "m_uR", "m_dL", "m_dR", "m_st1", "m_st2",
                 "m_sb1", "m_eL", "m_eR", "m_snu", "m_stau1")
"""Tree-level masses added to the inputs with ``inputs: parameters_and_masses``."""


def feature_names(inputs: str) -> list[str]:
    """Input column names for ``inputs`` (``parameters`` or ``parameters_and_masses``)."""
    if inputs == "parameters":
        return list(PARAMETERS)
    if inputs == "parameters_and_masses":
        return [*PARAMETERS, *MASS_FEATURES]
    raise ValueError(f"unknown inputs {inputs!r}; use parameters or parameters_and_masses")


def features(points: Mapping[str, np.ndarray], inputs: str) -> np.ndarray:
    """The classifier inputs of points (parameters, and the masses computed here when not given)."""
    names = feature_names(inputs)
    columns = dict(points)
    if any(name not in columns for name in names):
        columns.update(spectrum({k: points[k] for k in PARAMETERS}))
    return np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in names])


def confidence(p_allowed: np.ndarray) -> np.ndarray:
    """Confidence of a prediction, |2 P(allowed) - 1| (0: a coin flip, 1: unanimous)."""
    return np.abs(2.0 * np.asarray(p_allowed) - 1.0)


class ForestArrays:
    """A random forest as plain arrays (one row per node, trees concatenated), evaluated with numpy.

    Attributes:
        left, right: Child node indices (global; -1 for a leaf).
        feature: Split feature per node (-2 for a leaf).
        threshold: Split threshold per node (go left when x <= threshold).
        value: P(class 1) at each node (the leaf fraction of class 1).
        roots: Root node index of each tree.
    """

    def __init__(self, left: np.ndarray, right: np.ndarray, feature: np.ndarray, threshold: np.ndarray,
                 value: np.ndarray, roots: np.ndarray) -> None:
        self.left, self.right, self.feature = left.astype(np.int64), right.astype(np.int64), feature.astype(np.int64)
        self.threshold, self.value, self.roots = threshold.astype(np.float64), value.astype(np.float64), roots

    @classmethod
    def from_sklearn(cls, forest: Any) -> ForestArrays:
        """Export a fitted ``sklearn.ensemble.RandomForestClassifier`` with classes (0, 1)."""
        if list(forest.classes_) != [0, 1]:
            raise ValueError(f"expected classes [0, 1], got {list(forest.classes_)}")
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("left", "right", "feature", "threshold", "value")}
        roots, offset = [], 0
        for estimator in forest.estimators_:
            tree = estimator.tree_
            leaf = tree.children_left == -1
            parts["left"].append(np.where(leaf, -1, tree.children_left + offset))
            parts["right"].append(np.where(leaf, -1, tree.children_right + offset))
            parts["feature"].append(np.where(leaf, -2, tree.feature))
            parts["threshold"].append(tree.threshold)
            counts = tree.value[:, 0, :]
            parts["value"].append(counts[:, 1] / counts.sum(axis=1))
            roots.append(offset)
            offset += tree.node_count
        return cls(*(np.concatenate(parts[k]) for k in ("left", "right", "feature", "threshold", "value")),
                   np.array(roots, dtype=np.int64))

    def tree_probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(class 1) of every tree, shape (points, trees)."""
        x = np.asarray(x, dtype=np.float64)
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        while True:
            internal = self.left[node] >= 0
            if not internal.any():
                break
            feature = np.where(internal, self.feature[node], 0)
            go_left = x[rows, feature] <= self.threshold[node]
            node = np.where(internal, np.where(go_left, self.left[node], self.right[node]), node)
        return self.value[node]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """P(class 1): the mean over the trees (scikit-learn's ``predict_proba[:, 1]``)."""
        return self.tree_probabilities(x).mean(axis=1)

    def save(self, path: str | Path) -> Path:
        """Write the arrays to an ``.npz`` (no pickled objects)."""
        with open(path, "wb") as stream:  # a file object: numpy adds no ".npz" to the name
            np.savez(stream, left=self.left, right=self.right, feature=self.feature, threshold=self.threshold,
                     value=self.value, roots=self.roots)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ForestArrays:
        """Read arrays written by :meth:`save` (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as data:
            return cls(data["left"], data["right"], data["feature"], data["threshold"], data["value"], data["roots"])


class Standardiser(nn.Module):
    """Input standardisation with the training mean and spread (buffers, saved in the state_dict)."""

    def __init__(self, n_inputs: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("std", torch.ones(n_inputs))

    def fit(self, x: np.ndarray) -> Standardiser:
        """Set mean and spread from training inputs."""
        std = x.std(axis=0)
        self.mean.copy_(torch.as_tensor(x.mean(axis=0), dtype=torch.float32))
        self.std.copy_(torch.as_tensor(np.where(std > 0, std, 1.0), dtype=torch.float32))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised inputs."""
        return (x - self.mean) / self.std


class SusyMLP(nn.Module):
    """Fully connected network on standardised inputs; one logit of P(allowed)."""

    def __init__(self, n_inputs: int, hidden: Sequence[int] = (128, 128, 128), dropout: float = 0.1) -> None:
        super().__init__()
        self.standardiser = Standardiser(n_inputs)
        self.net = dense_stack(n_inputs, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One logit per point."""
        return self.net(self.standardiser(x)).squeeze(-1)


def load_split(path: str | Path) -> dict[str, np.ndarray]:
    """A dataset split written by :func:`ml4hep.susy.dataset.build_dataset` (``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def train_classifier(name: str, train: Mapping[str, np.ndarray], val: Mapping[str, np.ndarray],
                     hyper: Mapping[str, Any], seed: int, device_name: str, model_path: str | Path,
                     threads: int = 1) -> dict[str, Any]:
    """Train one classifier on the train split (early stopping on val where it applies) and save it.

    Args:
        name: ``rf``, ``bdt`` or ``mlp``.
        train: Training split (``X``, ``allowed``).
        val: Validation split.
        hyper: The classifier's config section.
        seed: Seed of the training.
        device_name: ``auto``, ``cpu`` or ``cuda`` (bdt, mlp).
        model_path: ``.npz`` (rf), ``.json`` (bdt) or ``.pt`` (mlp).
        threads: CPU threads.

    Returns:
        Training summary (validation accuracy, seconds, device, ...).
    """
    x, y = train["X"], train["allowed"].astype(int)
    start = time.perf_counter()
    info: dict[str, Any] = {"classifier": name, "n_train": int(len(y)), "seed": int(seed)}
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        forest = RandomForestClassifier(
            n_estimators=int(hyper["n_estimators"]), max_depth=hyper.get("max_depth"),
            min_samples_leaf=int(hyper["min_samples_leaf"]), max_features=hyper["max_features"],
            random_state=seed % 2**32, n_jobs=threads)
        forest.fit(x, y)
        arrays = ForestArrays.from_sklearn(forest)
        arrays.save(model_path)
        info.update(device="cpu", nodes=int(len(arrays.left)))
    elif name == "bdt":
        import xgboost

        from ml4hep.training import select_device

        device = select_device(device_name)
        # plain (unweighted) log-loss: the target is the accuracy of the label, not a balanced score
        model = xgboost.XGBClassifier(
            n_estimators=int(hyper["n_estimators"]), max_depth=int(hyper["max_depth"]),
            learning_rate=float(hyper["learning_rate"]), early_stopping_rounds=int(hyper["early_stopping_rounds"]),
            random_state=seed % 2**31, n_jobs=threads, device=device.type, eval_metric="logloss", tree_method="hist")
        model.fit(x, y, eval_set=[(val["X"], val["allowed"].astype(int))], verbose=False)
        model.save_model(model_path)
        info.update(device=device.type, best_iteration=int(model.best_iteration))
    elif name == "mlp":
        from ml4hep.training import fit, save_checkpoint, seed_everything, select_device

        device = select_device(device_name)
        seed_everything(seed)
        model = SusyMLP(x.shape[1], hyper["hidden"], hyper["dropout"])
        model.standardiser.fit(x)
        result = fit(model, [x.astype(np.float32)], y, [val["X"].astype(np.float32)], val["allowed"].astype(int),
                     epochs=int(hyper["epochs"]), batch_size=int(hyper["batch_size"]),
                     learning_rate=float(hyper["learning_rate"]), patience=int(hyper["patience"]), device=device,
                     seed=seed, description="susy mlp")
        model.to("cpu")
        save_checkpoint(model, model_path, {"n_inputs": int(x.shape[1]), "hidden": [int(h) for h in hyper["hidden"]],
                                            "dropout": float(hyper["dropout"]), "best_epoch": result.best_epoch})
        info.update(device=device.type, best_epoch=result.best_epoch, epochs_run=len(result.train_loss),
                    train_loss=result.train_loss, val_loss=result.val_loss)
    else:
        raise ValueError(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}")
    info["seconds"] = time.perf_counter() - start
    info["feature_names"] = [str(f) for f in train["feature_names"]]
    p_val = Predictor.load(name, model_path).p_allowed(val["X"])
    info["val_accuracy"] = float(np.mean((p_val >= 0.5) == (val["allowed"] == 1)))
    log.info("%s: validation accuracy %.4f (%.1f s)", name, info["val_accuracy"], info["seconds"])
    return info


class Predictor:
    """A saved classifier, loaded for inference (P(allowed) and confidence), on the CPU."""

    def __init__(self, name: str, model: Any) -> None:
        self.name, self.model = name, model

    @classmethod
    def load(cls, name: str, path: str | Path) -> Predictor:
        """Load the model of classifier ``name`` from ``path`` (no unpickling)."""
        from ml4hep.errors import InputFileError

        if not Path(path).is_file():
            raise InputFileError(str(path), f"model file of classifier '{name}' does not exist (train it first)")
        if name == "rf":
            return cls(name, ForestArrays.load(path))
        if name == "bdt":
            import xgboost

            booster = xgboost.Booster()
            booster.load_model(str(path))
            booster.set_param({"device": "cpu", "nthread": 1})
            return cls(name, booster)
        if name == "mlp":
            from ml4hep.training import load_checkpoint

            state, meta = load_checkpoint(path)
            model = SusyMLP(int(meta["n_inputs"]), meta["hidden"], meta["dropout"])
            model.load_state_dict(state)
            model.eval()
            return cls(name, model)
        raise ValueError(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}")

    def p_allowed(self, x: np.ndarray) -> np.ndarray:
        """P(allowed) per point."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if self.name == "rf":
            return self.model.predict_proba(x)
        if self.name == "bdt":
            best = self.model.attr("best_iteration")
            trees = (0, int(best) + 1) if best is not None else (0, 0)
            return self.model.inplace_predict(x, iteration_range=trees).astype(np.float64)
        with torch.no_grad():
            return torch.sigmoid(self.model(torch.as_tensor(x, dtype=torch.float32))).numpy().astype(np.float64)


def write_info(path: str | Path, info: Mapping[str, Any]) -> None:
    """Write a training summary as JSON."""
    Path(path).write_text(json.dumps(dict(info), indent=2))
