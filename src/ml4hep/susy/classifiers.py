"""Classifiers of the recast label (SUSY-AI style): random forest, xgboost BDT and a torch MLP.

Every classifier outputs P(allowed) per point, a raw confidence ``|2 P - 1|`` (for the random forest P is the mean of
the trees' leaf fractions, so the confidence is the margin of the trees' vote) and a confidence calibrated on the
validation split as in SUSY-AI (:mod:`ml4hep.susy.confidence`; the table is in the classifier's ``_info.json``).
Inputs are the 19 parameters, optionally with the tree-level masses (``inputs: parameters_and_masses``), except
``rf_parameters``: SUSY-AI's forest on the 19 parameters alone whatever ``susy.inputs`` says (the like-for-like
comparison, first in every table).

Each classifier is one class in the registry :data:`CLASSIFIERS` (:mod:`ml4hep.models`). Models are saved without
pickle: the random forest as the arrays of its trees in an ``.npz`` (read with ``allow_pickle=False`` and evaluated by
:class:`~ml4hep.models.forest.ForestArrays`, identical to scikit-learn's ``predict_proba``), the BDT as xgboost JSON,
the MLP as a torch ``state_dict`` (read with ``weights_only=True``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ml4hep.models import Registry, Split
from ml4hep.models.boosted import XGBoostClassifier
from ml4hep.models.forest import RandomForest
from ml4hep.models.network import TorchClassifier
from ml4hep.susy.confidence import Calibration, raw_confidence
from ml4hep.susy.scan import PARAMETERS
from ml4hep.susy.spectrum import spectrum

if TYPE_CHECKING:
    from torch import nn

CLASSIFIERS = Registry("susy")
"""Classifier name -> model class (random forest, xgboost, torch MLP); ``predict`` gives P(allowed)."""

MASS_FEATURES = (
    "m_gluino",
    "m_chi10",
    "m_chi20",
    "m_chi1p",
    "m_uL",
    "m_uR",
    "m_dL",
    "m_dR",
    "m_st1",
    "m_st2",
    "m_sb1",
    "m_eL",
    "m_eR",
    "m_snu",
    "m_stau1",
)
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


confidence = raw_confidence
"""Raw confidence of a prediction, |2 P(allowed) - 1| (see :mod:`ml4hep.susy.confidence` for the calibrated one)."""

PARAMETER_COLUMN = "X_parameters"
"""Split column holding the 19 parameters alone (for :class:`SusyForestParameters`, whatever ``susy.inputs``)."""

CALIBRATION_BINS = 10
"""Bins of P(allowed) of the calibration (SUSY-AI bins the classifier output; ten keep ~10 validation points per
bin on the tiny config)."""


def classifier_inputs(name: str, inputs: str) -> str:
    """The input set a classifier trains on: its own (``rf_parameters``: ``parameters``) or ``susy.inputs``."""
    return getattr(CLASSIFIERS.model_class(name), "input_set", None) or inputs


def hyper_parameters(name: str, susy: Mapping[str, Any]) -> dict[str, Any]:
    """The classifier's hyper-parameters from the ``susy`` config section (``rf_parameters`` shares ``susy.rf``)."""
    return dict(susy[getattr(CLASSIFIERS.model_class(name), "hyper_section", None) or name])


def load_split(path: str | Path) -> dict[str, np.ndarray]:
    """A dataset split written by :func:`ml4hep.susy.dataset.build_dataset` (``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def p_allowed(model: Any, x: np.ndarray) -> np.ndarray:
    """P(allowed) of points ``x`` (rows: points, columns: the classifier's inputs) from a trained classifier."""
    # the networks read "X" (their ``inputs``); the forests and BDTs name their column ``features``
    return model.predict({getattr(model, "features", "X"): np.atleast_2d(np.asarray(x, dtype=np.float64))})


def split_p_allowed(model: Any, split: Mapping[str, np.ndarray]) -> np.ndarray:
    """P(allowed) of the points of a dataset split, from the split's column of the classifier's inputs."""
    return p_allowed(model, split[getattr(model, "features", "X")])


@CLASSIFIERS.register("rf_parameters")
class SusyForestParameters(RandomForest):
    """SUSY-AI's classifier as SUSY-AI built it: a random forest on the 19 pMSSM parameters alone (``susy.rf``)."""

    display_name = "Random forest, 19 parameters (as SUSY-AI)"
    label = "allowed"
    features = PARAMETER_COLUMN
    input_set = "parameters"
    hyper_section = "rf"


@CLASSIFIERS.register("rf")
class SusyForest(RandomForest):
    """SUSY-AI's random forest: P(allowed) is the mean of the trees' leaf fractions (the vote's margin)."""

    display_name = "Random forest"
    label = "allowed"


@CLASSIFIERS.register("bdt")
class SusyBDT(XGBoostClassifier):
    """xgboost with the plain (unweighted) log-loss: the target is the accuracy of the label."""

    display_name = "BDT (xgboost)"
    label = "allowed"
    weighting = "none"


@CLASSIFIERS.register("mlp")
class SusyMLP(TorchClassifier):
    """A dense network on standardised inputs; one logit of P(allowed)."""

    display_name = "MLP (torch)"
    label = "allowed"
    weighting = "none"

    def network_shape(self, train: Split) -> dict[str, Any]:
        """The number of inputs."""
        return {"n_inputs": int(train["X"].shape[1])}

    def build_network(self, **shape: Any) -> nn.Module:
        """The standardised dense stack."""
        from ml4hep.networks import StandardisedMLP

        return StandardisedMLP(shape["n_inputs"], self.hyper["hidden"], float(self.hyper["dropout"]))

    def prepare(self, network: nn.Module, train: Split) -> None:
        """Standardise with the training mean and spread."""
        network.standardiser.fit(train["X"])


def validation_summary(
    splits: Mapping[str, Split], scores: Mapping[str, np.ndarray], inputs: str | None = None
) -> dict[str, Any]:
    """The classifier's inputs, its validation accuracy and calibration, and the training range of each parameter.

    P(allowed) >= 0.5 counts as allowed; ``susy predict`` flags points outside the training ranges and gives the
    calibrated confidence from ``calibration`` (:class:`~ml4hep.susy.confidence.Calibration` on the validation split).

    Args:
        splits: The dataset splits.
        scores: P(allowed) per split.
        inputs: The classifier's input set (:func:`classifier_inputs`); None: the splits' ``X`` columns.
    """
    train = splits["train"]
    ranges = {p: [float(np.min(train[p])), float(np.max(train[p]))] for p in PARAMETERS if p in train}
    names = feature_names(inputs) if inputs else [str(f) for f in train["feature_names"]]
    calibration = Calibration.fit(splits["val"]["allowed"], scores["val"], CALIBRATION_BINS)
    return {
        "feature_names": names,
        "val_accuracy": float(np.mean((scores["val"] >= 0.5) == (splits["val"]["allowed"] == 1))),
        "calibration": calibration.to_dict(),
        "training_ranges": ranges,
    }


def load_calibration(info_path: str | Path) -> Calibration:
    """The calibration in a classifier's ``_info.json``."""
    import json

    from ml4hep.errors import InputFileError

    info = json.loads(Path(info_path).read_text())
    if "calibration" not in info:
        raise InputFileError(str(info_path), "no confidence calibration (retrain the classifier)")
    return Calibration.from_dict(info["calibration"])
