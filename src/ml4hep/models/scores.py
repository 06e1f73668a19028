"""Scores as ROOT friend trees: ``results/{task}/scores/{model}.root``, TTree ``scores``.

One entry per scored example with the example's origin in the samples (``sample``: position in the sample list
stored beside the tree as ``samples``; ``shard``: file of that sample; ``entry``: entry in that file's ``events``
tree), its ``split`` (0 train, 1 val, 2 test), ``label``, ``weight`` and ``score``. A user opens it next to the
ntuples::

    import uproot
    scores = uproot.open("results/toptag/scores/pfn.root")["scores"].arrays(library="np")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import uproot

from ml4hep.errors import InputFileError
from ml4hep.io import write_root
from ml4hep.models.base import Split

SCORES_TREE = "scores"
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
ORIGIN_COLUMNS = ("sample", "shard", "entry")


def scores_branches(split_name: str, split: Split, scores: np.ndarray, label: str = "label") -> dict[str, np.ndarray]:
    """The scores-tree branches of one split (origin columns are -1 where the split does not carry them)."""
    n = len(scores)
    branches = {
        column: np.asarray(split[column], dtype=np.int64) if column in split else np.full(n, -1, np.int64)
        for column in ORIGIN_COLUMNS
    }
    branches.update(
        split=np.full(n, SPLIT_CODES[split_name], dtype=np.int8),
        label=np.asarray(split[label], dtype=np.int32),
        weight=np.asarray(split["weight"], dtype=np.float64) if "weight" in split else np.ones(n),
        score=np.asarray(scores, dtype=np.float64),
    )
    return branches


def write_scores(
    path: str | Path,
    splits: Mapping[str, Split],
    scores: Mapping[str, np.ndarray],
    samples: Sequence[str] = (),
    label: str = "label",
) -> Path:
    """Write the scores of every split into one ``scores`` tree (atomically), splits in train, val, test order."""
    chunks = [scores_branches(name, splits[name], scores[name], label) for name in SPLIT_CODES if name in scores]
    path = write_root(path, {SCORES_TREE: chunks})
    if samples:
        with uproot.update(path) as file:
            file["samples"] = ",".join(samples)
    return path


def read_scores(path: str | Path, split: str) -> np.ndarray:
    """The scores of one split, in the order of the split's rows.

    Raises:
        InputFileError: The file is not a scores file.
    """
    try:
        with uproot.open(path) as file:
            tree = file[SCORES_TREE]
            arrays = tree.arrays(["split", "score"], library="np")
    except (OSError, KeyError, ValueError) as error:
        raise InputFileError(str(path), f"not a scores file with a '{SCORES_TREE}' tree ({error})") from None
    return arrays["score"][arrays["split"] == SPLIT_CODES[split]]
