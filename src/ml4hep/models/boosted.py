"""Gradient-boosted trees (xgboost) behind the model interface, saved as xgboost JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ml4hep.models.base import FitContext, Split


class XGBoostClassifier:
    """An xgboost classifier with early stopping on the validation split.

    Subclasses (one per task) set which columns they read and how events are weighted.

    Attributes:
        features: Column of the split holding the inputs (2-d).
        feature_names: Column with the input names (for the feature importance).
        label: Column with the 0/1 labels.
        weighting: ``balanced`` (both classes the same total weight, event weights from ``weight`` when
            ``event_weights``), or ``none`` (plain log-loss: the target is the accuracy of the label).
        event_weights: Whether the ``weight`` column enters the loss.
        threads: Threads of the boosting (None: the job's threads).

    Args:
        n_estimators: Maximum number of trees.
        max_depth: Depth of each tree.
        learning_rate: Shrinkage.
        early_stopping_rounds: Rounds without validation improvement before stopping.
    """

    name: ClassVar[str] = "xgboost"
    suffix: ClassVar[str] = ".json"
    features: ClassVar[str] = "X"
    feature_names: ClassVar[str] = "feature_names"
    label: ClassVar[str] = "label"
    weighting: ClassVar[str] = "balanced"
    event_weights: ClassVar[bool] = True
    threads: ClassVar[int | None] = None

    def __init__(
        self, n_estimators: int = 200, max_depth: int = 4, learning_rate: float = 0.1, early_stopping_rounds: int = 20
    ) -> None:
        self.hyper = {
            "n_estimators": int(n_estimators),
            "max_depth": int(max_depth),
            "learning_rate": float(learning_rate),
            "early_stopping_rounds": int(early_stopping_rounds),
        }
        self.booster: Any = None

    def _loss_weights(self, split: Split) -> np.ndarray | None:
        from ml4hep.training import balanced_weights

        if self.weighting == "none":
            return None
        return balanced_weights(split[self.label], split["weight"] if self.event_weights else None)

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Boost on ``train`` until the validation log-loss stops improving."""
        import xgboost

        from ml4hep.training import select_device

        device = select_device(context.device)
        model = xgboost.XGBClassifier(
            **self.hyper,
            random_state=int(context.seed) % 2**31,
            n_jobs=self.threads or context.threads,
            device=device.type,
            eval_metric="logloss",
            tree_method="hist",
        )
        val_weights = self._loss_weights(val)
        model.fit(
            train[self.features],
            np.asarray(train[self.label]).astype(int),
            sample_weight=self._loss_weights(train),
            eval_set=[(val[self.features], np.asarray(val[self.label]).astype(int))],
            sample_weight_eval_set=None if val_weights is None else [val_weights],
            verbose=False,
        )
        self.booster = model.get_booster()
        self.booster.set_param({"device": "cpu"})
        info: dict[str, Any] = {"device": device.type, "best_iteration": int(model.best_iteration)}
        if self.feature_names in train:
            names = [str(n) for n in train[self.feature_names]]
            info["feature_importance"] = dict(zip(names, map(float, model.feature_importances_), strict=True))
        return info

    def predict(self, split: Split) -> np.ndarray:
        """P(signal) per example, from the trees up to the best validation iteration."""
        best = self.booster.attr("best_iteration")
        trees = (0, int(best) + 1) if best is not None else (0, 0)
        x = np.asarray(split[self.features])
        return self.booster.inplace_predict(x, iteration_range=trees).astype(np.float64)

    def save(self, path: str | Path) -> None:
        """Write the model in xgboost's own JSON format."""
        self.booster.save_model(str(path))

    @classmethod
    def load(cls, path: str | Path) -> XGBoostClassifier:
        """Read the JSON model (xgboost's loader: no pickle)."""
        import xgboost

        model = cls()
        model.booster = xgboost.Booster()
        model.booster.load_model(str(path))
        model.booster.set_param({"device": "cpu", "nthread": 1})
        return model
