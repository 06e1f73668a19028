"""One model interface for every trainable model of the workflow.

Every model (a cut window, a boosted decision tree, a random forest, a torch network) is one class implementing
:class:`~ml4hep.models.base.Model`: ``fit`` on the training split with the validation split for early stopping,
``predict`` a score per example, ``save`` and ``load`` without pickle. Each task keeps one
:class:`~ml4hep.models.base.Registry` of its models, and :func:`~ml4hep.models.step.train_and_score` is the one
step that trains a model and writes its model file, its scores (a ROOT friend tree) and its info JSON.
"""

from ml4hep.models.base import FitContext, Model, Registry, Split

__all__ = ["FitContext", "Model", "Registry", "Split"]
