"""The one train-and-score step: fit a model, then write its model file, its scores and its info JSON."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.io import write_json
from ml4hep.models.base import FitContext, Model, Split, job_context
from ml4hep.models.network import timed_predict
from ml4hep.models.scores import write_scores
from ml4hep.training import TrainingCheckpoint

log = logging.getLogger(__name__)


def train_and_score(
    model: Model,
    splits: Mapping[str, Split],
    context: FitContext,
    *,
    model_path: str | Path,
    scores_path: str | Path | None,
    info_path: str | Path | None,
    onnx_path: str | Path | None = None,
    samples: Sequence[str] = (),
    label: str = "label",
    info: Mapping[str, Any] | None = None,
    summarise: Callable[[Mapping[str, Split], Mapping[str, np.ndarray]], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Train ``model`` on ``splits["train"]`` (``splits["val"]`` for early stopping) and write its outputs.

    A model that sets an ``out_of_fold`` array when it is fitted (scores of the training rows by models that did
    not train on them, e.g. the Higgs mass regression's k folds) gives those as the training split's scores, so
    that a model trained on them later is not tuned on in-sample predictions.

    Args:
        model: An untrained model from a task's registry.
        splits: ``train``, ``val`` and ``test`` (every split given is scored).
        context: Seed, device, threads and checkpoint of the training.
        model_path: The model file.
        scores_path: The scores friend tree (:mod:`ml4hep.models.scores`; None: no scores file).
        info_path: The training summary (JSON; None: only returned).
        onnx_path: Where to export the model to ONNX (torch models only), checked against torch on the test split.
        samples: Sample names of the ``sample`` origin column (stored in the scores file).
        label: Label column of the splits.
        info: Extra entries for the summary.
        summarise: Task-specific entries of the summary computed from the splits and their scores.

    Returns:
        The summary written to ``info_path``.
    """
    start = time.perf_counter()
    summary: dict[str, Any] = {
        "model": model.name,
        "n_train": int(len(splits["train"][label])),
        "seed": int(context.seed),
        **(info or {}),
    }
    summary.update(model.fit(splits["train"], splits["val"], context))
    summary["train_seconds"] = time.perf_counter() - start
    model.save(model_path)
    scores = {}
    out_of_fold = getattr(model, "out_of_fold", None)
    for name, split in splits.items():
        if name == "train" and out_of_fold is not None:
            scores[name] = np.asarray(out_of_fold, dtype=np.float64)
            continue
        scores[name], rate = timed_predict(model, split)
        if name == "test":
            summary["inference_examples_per_second"] = rate
    if summarise is not None:
        summary.update(summarise(splits, scores))
    if scores_path is not None:
        write_scores(scores_path, splits, scores, samples, label)
    if onnx_path is not None:
        summary["onnx_max_abs_diff"] = model.export_onnx(onnx_path, splits["test"])
    summary["seconds"] = time.perf_counter() - start
    if info_path is not None:
        write_json(info_path, summary)
    TrainingCheckpoint(context.checkpoint).remove()
    log.info("%s trained: %s", model.name, {k: v for k, v in summary.items() if not isinstance(v, list | dict)})
    return summary


def fit_context(smk: Any, inputs: Mapping[str, str | Path], **extra: Any) -> FitContext:
    """The :class:`~ml4hep.models.base.FitContext` of a training rule script.

    It is built from the rule's ``params`` (``seed``, ``device``, ``hyper``, ``checkpoint``) and threads; ``extra``
    joins the hyper-parameters in the checkpoint's fingerprint.
    """
    return job_context(
        seed=smk.params.seed,
        device=smk.params.device,
        threads=smk.threads,
        hyper={**smk.params.hyper, **extra},
        inputs=inputs,
        checkpoint=smk.params.checkpoint,
    )
