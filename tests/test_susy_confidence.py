"""The calibrated confidence (SUSY-AI's accuracy per output bin): the same meaning for every classifier."""

from __future__ import annotations

import numpy as np
import pytest

from ml4hep.susy.active import test_metrics as active_metrics
from ml4hep.susy.classifiers import CLASSIFIERS, classifier_inputs, feature_names, hyper_parameters
from ml4hep.susy.confidence import Calibration, confidence_table
from ml4hep.susy.scan import PARAMETERS


def outputs(seed: int, n: int, overconfident: bool) -> tuple[np.ndarray, np.ndarray]:
    """Labels and P(allowed) of a classifier right with probability 0.55 + 0.45 |2P - 1|^3 on its own scale.

    An overconfident one reports P pushed towards 0 and 1 (|2P - 1| -> its fourth root) for the same correctness.
    """
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    right = rng.uniform(0, 1, n) < 0.55 + 0.45 * np.abs(2 * p - 1) ** 3
    allowed = np.where(right, p >= 0.5, p < 0.5).astype(int)
    if overconfident:
        p = 0.5 + 0.5 * np.sign(2 * p - 1) * np.abs(2 * p - 1) ** 0.25
    return allowed, p


def test_calibration_by_hand():
    allowed = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.95, 0.85, 0.9, 0.1, 0.2, 0.45])  # [0.5, 1]: 2 of 3 right; [0, 0.5): 2 of 3 right
    calibration = Calibration.fit(allowed, p, bins=2)
    assert calibration.hits.tolist() == [2, 2] and calibration.counts.tolist() == [3, 3]
    assert calibration.accuracy.tolist() == pytest.approx([3 / 5, 3 / 5])  # (right + 1) / (points + 2)
    four = Calibration.fit(allowed, p, bins=4)
    # [0, 0.25): 0.1 right, 0.2 wrong; [0.25, 0.5): 0.45 right; [0.5, 0.75) empty: a coin flip
    assert four.accuracy.tolist() == pytest.approx([2 / 4, 2 / 3, 1 / 2, 3 / 5])
    assert four(np.array([1.0, 0.0, 0.6])).tolist() == pytest.approx([3 / 5, 1 / 2, 1 / 2])  # P = 1: the last bin
    again = Calibration.from_dict(four.to_dict())
    assert np.array_equal(again.edges, four.edges) and np.array_equal(again.accuracy, four.accuracy)
    # five validation points, all right, do not make a 95% confidence
    assert Calibration.fit(np.ones(5), np.full(5, 0.99), bins=10)(np.array([0.99]))[0] == pytest.approx(6 / 7)


def test_confidence_table_raw_and_calibrated_by_hand():
    allowed = np.array([1, 1, 0, 0])
    p = np.array([0.99, 0.6, 0.3, 0.7])  # raw confidences 0.98, 0.2, 0.4, 0.4; correct, correct, correct, wrong
    table = confidence_table(allowed, p)
    assert table["accuracy"] == 0.75 and "accuracy_conf95" not in table
    assert table["coverage_raw_conf95"] == 0.25 and table["accuracy_raw_conf95"] == 1.0
    assert table["coverage_raw_conf99"] == 0.0 and np.isnan(table["accuracy_raw_conf99"])
    # bin confidences 0.97 (96 of 98 right), 0.6 (2 of 3), 0.99 (98 of 98)
    calibration = Calibration(np.array([0.0, 0.5, 0.9, 1.0]), np.array([96.0, 2.0, 98.0]), np.array([98, 3, 98]))
    table = confidence_table(allowed, p, calibration)
    # calibrated: 0.99, 0.6, 0.97, 0.6 -> at >= 0.95 points 0 and 2 (both right), at >= 0.99 point 0
    assert table["coverage_conf95"] == 0.5 and table["accuracy_conf95"] == 1.0
    assert table["coverage_conf99"] == 0.25


def test_calibrated_confidence_means_the_same_for_every_classifier():
    tables = {}
    for overconfident in (False, True):
        calibration = Calibration.fit(*outputs(1, 4000, overconfident), bins=20)
        tables[overconfident] = confidence_table(*outputs(2, 20000, overconfident), calibration)
    honest, over = tables[False], tables[True]
    # on its own scale the overconfident one puts far more points at |2P - 1| >= 0.95, and they are not 95% right
    assert over["coverage_raw_conf95"] > 3 * honest["coverage_raw_conf95"]
    assert honest["accuracy_raw_conf95"] > 0.95 > 0.92 > over["accuracy_raw_conf95"]
    assert over["accuracy_raw_conf90"] < 0.85 and over["coverage_raw_conf90"] > 0.3
    # calibrated on validation points, "accuracy at confidence >= c" is about c or more for both, wherever they
    # claim it; the same points (the same true correctness) reach confidence 0.68 whatever the classifier's scale
    for table in tables.values():
        for level in (68, 90, 95):
            if table[f"coverage_conf{level}"] > 0:
                assert table[f"accuracy_conf{level}"] > level / 100 - 0.03, (level, table)
    assert over["coverage_conf68"] == pytest.approx(honest["coverage_conf68"], abs=0.03)
    assert over["coverage_conf90"] == 0.0  # its best bin is 81% right: it never claims 0.9


def test_active_learning_uses_the_same_calibrated_confidence():
    class Fixed:
        def predict(self, split):
            return split["X"][:, 0]

    allowed_val, p_val = outputs(3, 3000, True)
    allowed_test, p_test = outputs(4, 3000, True)
    metrics = active_metrics(Fixed(), (p_test[:, None], allowed_test), (p_val[:, None], allowed_val))
    table = confidence_table(allowed_test, p_test, Calibration.fit(allowed_val, p_val, 10), levels=(0.95,))
    assert metrics["confidence"] == "calibrated"
    assert metrics["accuracy_conf95"] == table["accuracy_conf95"] or np.isnan(table["accuracy_conf95"])
    assert metrics["coverage_conf95"] == table["coverage_conf95"]
    assert metrics["coverage_raw_conf95"] == table["coverage_raw_conf95"]
    raw = active_metrics(Fixed(), (p_test[:, None], allowed_test))
    assert raw["confidence"] == "raw" and raw["coverage_conf95"] == table["coverage_raw_conf95"]


def test_the_19_parameter_forest_comes_first_and_reads_the_parameters_only():
    assert CLASSIFIERS.names()[0] == "rf_parameters"
    assert classifier_inputs("rf_parameters", "parameters_and_masses") == "parameters"
    assert classifier_inputs("rf", "parameters_and_masses") == "parameters_and_masses"
    assert feature_names(classifier_inputs("rf_parameters", "parameters_and_masses")) == list(PARAMETERS)
    assert hyper_parameters("rf_parameters", {"rf": {"n_estimators": 7}}) == {"n_estimators": 7}
    model = CLASSIFIERS.create("rf_parameters", {"n_estimators": 5})
    assert model.features == "X_parameters"
