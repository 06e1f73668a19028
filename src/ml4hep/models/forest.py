"""A random forest (scikit-learn) behind the model interface, saved as plain arrays (no pickle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ml4hep.models.base import FitContext, Split


class ForestArrays:
    """A random forest as plain arrays (one row per node, trees concatenated), evaluated with numpy.

    Attributes:
        left, right: Child node indices (global; -1 for a leaf).
        feature: Split feature per node (-2 for a leaf).
        threshold: Split threshold per node (go left when x <= threshold).
        value: P(class 1) at each node (the leaf fraction of class 1).
        roots: Root node index of each tree.
    """

    def __init__(
        self,
        left: np.ndarray,
        right: np.ndarray,
        feature: np.ndarray,
        threshold: np.ndarray,
        value: np.ndarray,
        roots: np.ndarray,
    ) -> None:
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
        return cls(
            *(np.concatenate(parts[k]) for k in ("left", "right", "feature", "threshold", "value")),
            np.array(roots, dtype=np.int64),
        )

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
            np.savez(
                stream,
                left=self.left,
                right=self.right,
                feature=self.feature,
                threshold=self.threshold,
                value=self.value,
                roots=self.roots,
            )
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ForestArrays:
        """Read arrays written by :meth:`save` (``allow_pickle=False``)."""
        with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as data:  # closed even when torn
            return cls(data["left"], data["right"], data["feature"], data["threshold"], data["value"], data["roots"])


class RandomForest:
    """scikit-learn's random forest; P(class 1) is the mean of the trees' leaf fractions.

    Attributes:
        features: Column of the split holding the inputs.
        label: Column with the 0/1 labels.

    Args:
        n_estimators: Number of trees.
        max_depth: Depth limit (None: none).
        min_samples_leaf: Smallest leaf.
        max_features: Features tried per split (scikit-learn's meaning).
    """

    name: ClassVar[str] = "rf"
    suffix: ClassVar[str] = ".npz"
    features: ClassVar[str] = "X"
    label: ClassVar[str] = "label"

    def __init__(
        self,
        n_estimators: int = 100,
        max_depth: int | None = None,
        min_samples_leaf: int = 1,
        max_features: str | float | int | None = "sqrt",
    ) -> None:
        self.hyper = {
            "n_estimators": int(n_estimators),
            "max_depth": max_depth,
            "min_samples_leaf": int(min_samples_leaf),
            "max_features": max_features,
        }
        self.arrays: ForestArrays | None = None

    def fit(self, train: Split, val: Split, context: FitContext) -> dict[str, Any]:
        """Grow the forest on ``train`` (``val`` is not used: a forest has no early stopping)."""
        from sklearn.ensemble import RandomForestClassifier

        forest = RandomForestClassifier(**self.hyper, random_state=int(context.seed) % 2**32, n_jobs=context.threads)
        forest.fit(train[self.features], np.asarray(train[self.label]).astype(int))
        self.arrays = ForestArrays.from_sklearn(forest)
        return {"device": "cpu", "nodes": int(len(self.arrays.left))}

    def predict(self, split: Split) -> np.ndarray:
        """P(class 1) per example."""
        return self.arrays.predict_proba(split[self.features])

    def save(self, path: str | Path) -> None:
        """The trees as arrays in an ``.npz``."""
        self.arrays.save(path)

    @classmethod
    def load(cls, path: str | Path) -> RandomForest:
        """Read the arrays (``allow_pickle=False``)."""
        model = cls()
        model.arrays = ForestArrays.load(path)
        return model
