"""The labelled dataset: label shards merged, points without a neutralino LSP set aside (counted), split by seed."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.io import read_tree
from ml4hep.splitting import split_indices
from ml4hep.susy.classifiers import PARAMETER_COLUMN, feature_names, features
from ml4hep.susy.recast import CLS_THRESHOLD, EXCLUDED, NOT_LABELLED, SIGNAL_REGIONS
from ml4hep.susy.scan import PARAMETERS, POINTS_TREE
from ml4hep.susy.spectrum import LSP_CODES, MASS_COLUMNS

KEPT_COLUMNS = (
    *PARAMETERS,
    *MASS_COLUMNS,
    "lsp",
    "excluded",
    "cls",
    "cls_asymptotic",
    "cls_toys",
    "best_region",
    "seconds",
    *(f"s_{r}" for r in SIGNAL_REGIONS),
)
"""Columns read from the label shards."""


def read_labels(paths: Sequence[str | os.PathLike[str]]) -> dict[str, np.ndarray]:
    """Read and concatenate label shards (TTree ``points``)."""
    parts = [read_tree(p, KEPT_COLUMNS, tree=POINTS_TREE, allow_empty=True) for p in paths]
    return {c: np.concatenate([np.asarray(part[c]) for part in parts]) for c in KEPT_COLUMNS}


def build_dataset(
    label_paths: Sequence[str | os.PathLike[str]],
    outputs: Mapping[str, str | os.PathLike[str]],
    fractions: Mapping[str, float],
    inputs: str,
    seed: int,
) -> dict[str, Any]:
    """Merge the label shards, keep the neutralino-LSP points and write seeded train/val/test splits.

    Args:
        label_paths: Label shards.
        outputs: Split name -> ``.npz`` path (``X``, ``allowed`` (1 allowed, 0 excluded), ``feature_names``,
            ``X_parameters`` (the 19 parameters alone, the inputs of ``rf_parameters``) and every kept column).
        fractions: Split name -> fraction (stratified by the label).
        inputs: ``parameters`` or ``parameters_and_masses``.
        seed: Seed of the split.

    Returns:
        Summary: points scanned, LSP types (counts), labelled points, excluded fraction, split sizes, the allowed
        fraction of the training split (the majority-class baseline's class), mean recast seconds per labelled point,
        the labels whose CLs came from toys and how many of them the toys changed.
    """
    table = read_labels(label_paths)
    labelled = table["excluded"] != NOT_LABELLED
    lsp_counts = {LSP_CODES[int(code)]: int((table["lsp"] == code).sum()) for code in LSP_CODES}
    kept = {k: v[labelled] for k, v in table.items()}
    allowed = (kept["excluded"] != EXCLUDED).astype(np.int32)
    x = features(kept, inputs)
    x_parameters = features(kept, "parameters")
    splits = split_indices(allowed, fractions, seed)
    names = np.array(feature_names(inputs))
    for split, index in splits.items():
        Path(outputs[split]).parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            outputs[split],
            X=x[index],
            **{PARAMETER_COLUMN: x_parameters[index]},
            allowed=allowed[index],
            feature_names=names,
            **{k: v[index] for k, v in kept.items()},
        )
    return {
        "points_scanned": int(len(table["excluded"])),
        "lsp_types": lsp_counts,
        "left_out_non_neutralino_lsp": int((~labelled).sum()),
        "labelled": int(labelled.sum()),
        "excluded": int((kept["excluded"] == EXCLUDED).sum()),
        "fraction_excluded": float(np.mean(kept["excluded"] == EXCLUDED)) if labelled.any() else float("nan"),
        "best_region_counts": {
            r: int((kept["best_region"][kept["excluded"] == EXCLUDED] == i).sum()) for i, r in enumerate(SIGNAL_REGIONS)
        },
        "splits": {s: int(len(i)) for s, i in splits.items()},
        "train_fraction_allowed": float(allowed[splits["train"]].mean()) if len(splits["train"]) else float("nan"),
        "recast_seconds_per_point": float(kept["seconds"].mean()) if labelled.any() else float("nan"),
        "cls_from_toys": int(kept["cls_toys"].sum()),
        # the label the asymptotic CLs alone would give: the toys' effect on the labels
        "labels_changed_by_toys": int(
            np.sum(
                (kept["excluded"] == EXCLUDED)
                != ((kept["best_region"] >= 0) & (kept["cls_asymptotic"] < CLS_THRESHOLD))
            )
        ),
        "inputs": list(names),
    }
