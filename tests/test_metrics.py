from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ml4hep.metrics import (
    accuracy,
    ams,
    ams_curve,
    auc,
    background_rejection,
    bootstrap,
    bootstrap_values,
    roc,
    selection_scan,
)


def test_auc_agrees_with_sklearn_and_hand_value():
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    assert auc(labels, scores) == pytest.approx(0.75)  # 3 of 4 signal-background pairs ordered right
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    s = rng.normal(y, 1.0)
    w = rng.uniform(0.5, 2, 500)
    assert auc(y, s, w) == pytest.approx(roc_auc_score(y, s, sample_weight=w))


def test_background_rejection_hand_values():
    # 10 signal at scores 10..19, 10 background at 0..9 plus one background at 15.5.
    scores = np.r_[np.arange(10, 20), np.arange(0, 10), 15.5].astype(float)
    labels = np.r_[np.ones(10), np.zeros(11)].astype(int)
    # eps_S = 0.3: the 3 highest signals (17, 18, 19) pass, no background: rejection infinite.
    assert math.isinf(background_rejection(labels, scores, 0.3))
    # eps_S = 0.5: threshold between 14 and 15: the background at 15.5 passes: eps_B = 1/11.
    assert background_rejection(labels, scores, 0.5) == pytest.approx(11.0)
    eps_s, eps_b, _ = roc(labels, scores)
    assert eps_s[-1] == 1 and eps_b[-1] == 1


def test_random_scores_have_no_rejection_power():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 20000)
    s = rng.uniform(size=20000)
    assert auc(y, s) == pytest.approx(0.5, abs=0.02)
    assert background_rejection(y, s, 0.3) == pytest.approx(1 / 0.3, rel=0.1)


def test_ams_hand_values():
    # s = 10, b = 90, b_r = 10: sqrt(2 (110 ln 1.1 - 10))
    assert float(ams(10, 90)) == pytest.approx(math.sqrt(2 * (110 * math.log(1.1) - 10)))
    assert float(ams(0, 50)) == 0.0
    # For s << b the AMS tends to s / sqrt(b + b_r).
    assert float(ams(1, 1e6, 0)) == pytest.approx(1e-3, rel=1e-3)


def test_ams_curve_matches_direct_sums():
    labels = np.array([1, 0, 1, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    weights = np.array([2.0, 5.0, 3.0, 100.0, 1.0])
    thresholds, values = ams_curve(labels, scores, weights)
    assert thresholds.tolist() == [0.9, 0.8, 0.7, 0.2, 0.1]
    assert values[2] == pytest.approx(float(ams(5.0, 5.0)))


def test_accuracy_and_bootstrap():
    assert accuracy([1, 0, 1, 1], [1, 0, 0, 1]) == 0.75
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    s = rng.normal(y, 1.0)
    value, error = bootstrap(lambda a, b: auc(a, b), [y, s], n_resamples=50, seed=1)
    assert value == auc(y, s)
    assert 0.002 < error < 0.03
    assert bootstrap(lambda a, b: auc(a, b), [y, s], 50, 1) == (value, error)


def test_selection_scan_counts_background_mc_events_and_yields():
    labels = np.array([1, 0, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    weights = np.array([1.0, 5.0, 7.0, 2.0, 100.0])
    scan = selection_scan(labels, scores, weights)
    assert scan["threshold"].tolist() == [0.9, 0.8, 0.3, 0.1]
    assert scan["signal"].tolist() == [1.0, 1.0, 3.0, 3.0]
    assert scan["background"].tolist() == [0.0, 12.0, 12.0, 112.0]
    assert scan["background_events"].tolist() == [0, 2, 2, 3]


def test_bootstrap_resamples_each_sample_on_its_own():
    rng = np.random.default_rng(3)
    first, second = rng.normal(0.0, 1.0, 400), rng.normal(0.0, 1.0, 100)
    values = bootstrap_values(lambda a, b: a.mean() - b.mean(), [[first], [second]], 300, 4)
    # independent resamples: the spread of the difference adds both standard errors in quadrature
    assert np.std(values, ddof=1) == pytest.approx(math.hypot(1 / 20, 1 / 10), rel=0.15)
    one = bootstrap_values(lambda a: a.mean(), [[first]], 300, 4)
    assert np.std(one, ddof=1) == pytest.approx(1 / 20, rel=0.15)
    assert bootstrap(lambda a: a.mean(), [first], 300, 4)[1] == pytest.approx(np.std(one, ddof=1))
