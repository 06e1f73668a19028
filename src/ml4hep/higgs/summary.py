"""The Higgs task's headline ``metrics.json`` assembled from the outputs of its rules (the output contract's keys)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml4hep.higgs.evaluate import DISPLAY_NAMES

REGRESSION_KEYS = (
    "resolution_regressed",
    "resolution_visible",
    "resolution_collinear",
    "bias_regressed",
    "bias_visible",
    "bias_collinear",
)
PARAMETERISED_KEYS = ("mass_left_out", "auc_parameterised", "auc_dedicated", "auc_unparameterised", "auc_vs_mass")


def assemble_metrics(paths: Mapping[str, str | Path]) -> dict[str, Any]:
    """Headline metrics: ``auc``, ``ams``, ``regression``, ``parameterised``, ``limits`` (+ errors and extras).

    Args:
        paths: ``classifiers`` and ``limits``, and optionally ``regression``, ``parameterised`` and
            ``heavy_limits``: JSON files written by the Higgs rules (the optional parts need generated samples; on
            the real HiggsML data their keys hold None).

    Returns:
        The metrics dictionary (numbers copied from those files, computed on the test split).
    """

    def read(key: str) -> dict[str, Any]:
        return json.loads(Path(paths[key]).read_text())

    classifiers, limits = read("classifiers"), read("limits")
    metrics: dict[str, Any] = {
        "display_names": {name: DISPLAY_NAMES.get(name, name) for name in classifiers["auc"]},
        "auc": classifiers["auc"],
        "auc_err": classifiers["auc_err"],
        "ams": classifiers["ams"],
        "ams_err": classifiers["ams_err"],
        "ams_threshold": classifiers["threshold"],
        "regression": None,
        "parameterised": None,
        "limits": {
            name: {"mu_expected": v["mu_expected"], "band": v["band"], "significance": v["significance"]}
            for name, v in limits.items()
        },
    }
    if "regression" in paths:
        regression = read("regression")
        metrics["regression"] = {key: regression[key] for key in REGRESSION_KEYS}
    if "bdt" in metrics["ams"] and "bdt_mreg" in metrics["ams"]:
        metrics["ams_change_with_regressed_mass"] = metrics["ams"]["bdt_mreg"] - metrics["ams"]["bdt"]
    if "parameterised" in paths:
        parameterised = read("parameterised")
        metrics["parameterised"] = {key: parameterised[key] for key in PARAMETERISED_KEYS if key in parameterised}
    if "heavy_limits" in paths:
        metrics["heavy_limits"] = read("heavy_limits")
    return metrics
