"""PDF task: replica fits (sum rules, level-0 closure, the gluon inside its band, early stopping)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml4hep.config import validate_config
from ml4hep.pdf import fit, pseudodata, theory
from ml4hep.pdf.commondata import covariance, load_dataset
from ml4hep.pdf.truth import FIT_BASIS, les_houches_basis, truth_on_grid

from .conftest import ROOT

OPTIONS = validate_config({})["pdf"]
FOLDER = ROOT / "theory" / "fk" / theory.settings_hash(OPTIONS["theory"])


@pytest.fixture(scope="module")
def setup():
    """Every 4th point of BCDMS and NMC after cuts, their FK tables in the fit basis, level-0 data, t0 covariance."""
    parts, fks = [], []
    for name in ("BCDMS_NC_NOTFIXED_P_EM-F2", "NMC_NC_NOTFIXED_P_EM-SIGMARED"):
        table = theory.load_table(FOLDER / f"{name}.npz")
        data, fk = pseudodata.select_points(load_dataset(name), table, OPTIONS["cuts"], {})
        keep = np.arange(0, len(data), 4)
        parts.append(data.select(keep))
        fks.append(pseudodata.to_fit_basis(fk[keep]))
    grid = table["xgrid"]
    truth = [np.einsum("ibk,bk->i", fk, truth_on_grid(grid)) for fk in fks]
    positivity = pseudodata.to_fit_basis(theory.load_table(FOLDER / "POSITIVITY.npz")["fk"])
    return {"fk": np.concatenate(fks), "grid": grid, "level0": np.concatenate(truth),
            "cov": covariance(parts, truth), "positivity": positivity,
            "dataset": np.concatenate([np.full(len(p), k) for k, p in enumerate(parts)])}


def _fit(setup, data, seed, **training):
    n = len(data)
    train = pseudodata.training_split(setup["dataset"], np.arange(n), 0.75, seed)
    alpha, beta = fit.draw_preprocessing(OPTIONS["preprocessing"], np.random.default_rng(seed))
    torch.manual_seed(seed)
    model = fit.PDFModel(OPTIONS["network"]["hidden"], alpha, beta)
    result = fit.fit_replica(model, setup["fk"], setup["grid"], data, setup["cov"], train, setup["positivity"],
                             {**OPTIONS["training"], **training})
    return model, result, train


@pytest.fixture(scope="module")
def level0(setup):
    torch.set_num_threads(1)
    return [_fit(setup, setup["level0"], seed, epochs=1200, patience=1200) for seed in range(4)]


def test_sum_rules_hold_to_1e3_before_and_after_training(level0):
    torch.manual_seed(0)
    fresh = fit.PDFModel([25, 20], [1.1, 1.1, 0.3, 0.3, 0.3, 1.1], [4.0, 3.0, 3.0, 3.0, 3.0, 3.0])
    for model in [fresh] + [m for m, _, _ in level0]:
        rules = fit.sum_rules(model)  # a finer, independent quadrature than the normalisation's
        assert abs(rules["momentum"] - 1) < 1e-3
        assert abs(rules["valence_uv"] - 2) < 1e-3
        assert abs(rules["valence_dv"] - 1) < 1e-3


def test_level0_closure_reaches_chi2_well_below_one(setup, level0):
    chi2 = []
    for model, result, _ in level0:
        prediction = np.einsum("ibk,bk->i", setup["fk"], fit.pdf_on_xgrid(model, setup["grid"]))
        residual = prediction - setup["level0"]
        chi2.append(residual @ np.linalg.solve(setup["cov"], residual) / len(residual))
        assert result.positivity_ok
    assert np.median(chi2) < 0.1, chi2
    assert max(chi2) < 0.5, chi2


def test_fit_recovers_the_truth_gluon_within_its_band(level0):
    x = np.array([0.02, 0.05, 0.1, 0.2])
    gluon = np.array([fit.evaluate(model, x)[FIT_BASIS.index("g")] for model, _, _ in level0])
    mean, std = gluon.mean(axis=0), gluon.std(axis=0, ddof=1)
    truth = les_houches_basis(x)["g"]
    assert np.all(np.abs(mean - truth) < 2 * std), (mean, std, truth)
    assert np.all(std < 0.5 * truth)  # a band, not an unconstrained spread


def test_early_stopping_keeps_the_best_validation_weights(setup):
    """Overfitting set-up: 40 noisy points, a wide network, half the points validating, no patience stop."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(3)
    points = np.arange(40)
    small = {"fk": setup["fk"][points], "grid": setup["grid"], "positivity": setup["positivity"],
             "cov": setup["cov"][np.ix_(points, points)], "dataset": setup["dataset"][points]}
    data = setup["level0"][points] + rng.multivariate_normal(np.zeros(40), 4 * small["cov"])
    train = pseudodata.training_split(small["dataset"], points, 0.5, 1)
    torch.manual_seed(1)
    model = fit.PDFModel([60, 60], [1.1, 1.1, 0.3, 0.3, 0.3, 1.1], [4.0, 3.0, 3.0, 3.0, 3.0, 3.0])
    options = {**OPTIONS["training"], "epochs": 1500, "patience": 1500, "record_every": 1, "learning_rate": 0.01}
    result = fit.fit_replica(model, small["fk"], small["grid"], data, small["cov"], train, small["positivity"],
                             options)
    val = np.array(result.chi2_val)
    train_curve = np.array(result.chi2_train)
    assert result.epochs_run == 1500
    assert result.best_epoch < 1400  # the validation minimum came well before the end: it overfitted
    assert val[-1] > 1.05 * result.best_chi2_val
    assert train_curve[-1] < result.best_chi2_train
    # the model holds the kept weights: its validation chi2 is the recorded minimum
    prediction = np.einsum("ibk,bk->i", small["fk"], fit.pdf_on_xgrid(model, small["grid"]))
    v = ~train
    residual = (prediction - data)[v]
    chi2_val = residual @ np.linalg.solve(small["cov"][np.ix_(v, v)], residual) / v.sum()
    assert chi2_val == pytest.approx(result.best_chi2_val, rel=1e-6)
    assert result.best_chi2_val == pytest.approx(val[result.epochs_recorded.index(result.best_epoch)], rel=1e-12)


def test_training_split_takes_the_fraction_of_every_dataset():
    dataset = np.repeat([0, 1, 2], [40, 8, 1])
    train = pseudodata.training_split(dataset, np.arange(len(dataset)), 0.75, 5)
    assert train[dataset == 0].sum() == 30 and train[dataset == 1].sum() == 6 and train[dataset == 2].all()
    other = pseudodata.training_split(dataset, np.arange(len(dataset)), 0.75, 6)
    assert not np.array_equal(train, other)


def test_preprocessing_exponents_are_drawn_inside_their_ranges():
    alpha, beta = fit.draw_preprocessing(OPTIONS["preprocessing"], np.random.default_rng(0))
    for k, name in enumerate(FIT_BASIS):
        low, high = OPTIONS["preprocessing"][name]["alpha"]
        assert low <= alpha[k] <= high
        low, high = OPTIONS["preprocessing"][name]["beta"]
        assert low <= beta[k] <= high
