"""PDF task: replica fits (sum rules, level-0 closure, the gluon inside its band, early stopping, batched fits)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from ml4hep.config import validate_config
from ml4hep.pdf import fit, pseudodata, theory
from ml4hep.pdf.batches import replica_batches
from ml4hep.pdf.commondata import covariance, load_dataset
from ml4hep.pdf.truth import FIT_BASIS, les_houches_basis, truth_on_grid

from .conftest import ROOT, copy_workflow, run_snakemake

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
    return {
        "fk": np.concatenate(fks),
        "grid": grid,
        "level0": np.concatenate(truth),
        "cov": covariance(parts, truth),
        "positivity": positivity,
        "dataset": np.concatenate([np.full(len(p), k) for k, p in enumerate(parts)]),
    }


def _fits(setup, data, seeds, **training):
    """Replicas of ``data`` with their own split, exponents and initial weights, fitted as one stacked model."""
    n = len(data)
    models, trains = [], []
    for seed in seeds:
        trains.append(pseudodata.training_split(setup["dataset"], np.arange(n), 0.75, seed))
        alpha, beta = fit.draw_preprocessing(OPTIONS["preprocessing"], np.random.default_rng(seed))
        torch.manual_seed(seed)
        models.append(fit.PDFModel(OPTIONS["network"]["hidden"], alpha, beta))
    results = fit.fit_replicas(
        models,
        setup["fk"],
        setup["grid"],
        np.stack([data] * len(seeds)),
        setup["cov"],
        np.stack(trains),
        setup["positivity"],
        {**OPTIONS["training"], **training},
    )
    return list(zip(models, results, trains, strict=True))


@pytest.fixture(scope="module")
def level0(setup):
    torch.set_num_threads(1)
    return _fits(setup, setup["level0"], range(4), epochs=1200, patience=1200)


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
    small = {
        "fk": setup["fk"][points],
        "grid": setup["grid"],
        "positivity": setup["positivity"],
        "cov": setup["cov"][np.ix_(points, points)],
        "dataset": setup["dataset"][points],
    }
    data = setup["level0"][points] + rng.multivariate_normal(np.zeros(40), 4 * small["cov"])
    train = pseudodata.training_split(small["dataset"], points, 0.5, 1)
    torch.manual_seed(1)
    model = fit.PDFModel([60, 60], [1.1, 1.1, 0.3, 0.3, 0.3, 1.1], [4.0, 3.0, 3.0, 3.0, 3.0, 3.0])
    options = {**OPTIONS["training"], "epochs": 1500, "patience": 1500, "record_every": 1, "learning_rate": 0.01}
    result = fit.fit_replica(model, small["fk"], small["grid"], data, small["cov"], train, small["positivity"], options)
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


def _replica(setup, seed, fraction):
    """A replica as its own job would set it up: own data fluctuation, split, exponents and initial weights."""
    n = len(setup["level0"])
    data = setup["level0"] + np.random.default_rng(100 + seed).multivariate_normal(np.zeros(n), setup["cov"])
    train = pseudodata.training_split(setup["dataset"], np.arange(n), fraction, seed)
    alpha, beta = fit.draw_preprocessing(OPTIONS["preprocessing"], np.random.default_rng(seed))
    torch.manual_seed(seed)
    return fit.PDFModel(OPTIONS["network"]["hidden"], alpha, beta), data, train


def test_batched_fit_gives_each_replica_its_separate_result(setup):
    """Three replicas with training sets of different sizes, fitted one by one and as one stacked model."""
    torch.set_num_threads(1)
    options = {**OPTIONS["training"], "epochs": 300, "patience": 30, "record_every": 1}
    fractions = [0.75, 0.6, 0.9]
    alone = []
    for seed, fraction in enumerate(fractions):
        model, data, train = _replica(setup, seed, fraction)
        alone.append(
            (
                model,
                fit.fit_replica(
                    model, setup["fk"], setup["grid"], data, setup["cov"], train, setup["positivity"], options
                ),
            )
        )
    models, data, train = zip(*(_replica(setup, seed, f) for seed, f in enumerate(fractions)), strict=True)
    assert len({int(mask.sum()) for mask in train}) == 3
    batched = fit.fit_replicas(
        models, setup["fk"], setup["grid"], np.stack(data), setup["cov"], np.stack(train), setup["positivity"], options
    )
    assert len({result.epochs_run for _, result in alone}) > 1, "a replica stops while the others go on"
    for (model, result), batch_model, batch_result in zip(alone, models, batched, strict=True):
        assert batch_result.best_epoch == result.best_epoch
        assert batch_result.epochs_run == result.epochs_run
        assert batch_result.positivity_ok == result.positivity_ok
        assert batch_result.best_chi2_val == pytest.approx(result.best_chi2_val, rel=1e-10)
        assert batch_result.best_chi2_train == pytest.approx(result.best_chi2_train, rel=1e-10)
        np.testing.assert_allclose(batch_result.chi2_val, result.chi2_val, rtol=1e-10)
        pdf = fit.pdf_on_xgrid(model, setup["grid"])
        np.testing.assert_allclose(
            fit.pdf_on_xgrid(batch_model, setup["grid"]), pdf, rtol=1e-10, atol=1e-10 * np.abs(pdf).max()
        )


def test_replica_batches_cover_every_replica_once():
    assert replica_batches(5, 2) == [[0, 1], [2, 3], [4]]  # 2 does not divide 5: the last batch is shorter
    assert replica_batches(3, 1) == [[0], [1], [2]]
    assert replica_batches(3, 8) == [[0, 1, 2]]
    with pytest.raises(ValueError, match="at least 1"):
        replica_batches(3, 0)


def _fit_inputs(setup):
    """FitInputs of the test's points (level 2: replicas fluctuate around the level-0 data)."""
    n = len(setup["level0"])
    return pseudodata.FitInputs(
        datasets=["BCDMS", "NMC"],
        fitted=np.array([True, True]),
        point_dataset=setup["dataset"],
        x=np.zeros(n),
        q2=np.zeros(n),
        data=setup["level0"],
        truth=setup["level0"],
        cov_sampling=setup["cov"],
        cov_fit=setup["cov"],
        fk=setup["fk"],
        positivity_fk=setup["positivity"],
        xgrid=setup["grid"],
        level=2,
    )


def test_a_batch_job_writes_the_files_of_separate_jobs(setup, tmp_path):
    """run_replicas with two replicas (one batch of a non-dividing replicas_per_job) against two run_replica jobs."""
    from ml4hep.training import load_checkpoint

    torch.set_num_threads(1)
    inputs = _fit_inputs(setup).save(tmp_path / "inputs.npz")
    options = {**OPTIONS, "training": {**OPTIONS["training"], "epochs": 150, "patience": 20}}
    seeds = [11, 12]
    paths = {kind: [tmp_path / kind / f"replica{k}" for k in range(2)] for kind in ("alone", "batch")}
    for seed, path in zip(seeds, paths["alone"], strict=True):
        fit.run_replica(str(inputs), options, seed, "cpu", f"{path}.npz", f"{path}.pt")
    fit.run_replicas(
        str(inputs), options, seeds, "cpu", [f"{p}.npz" for p in paths["batch"]], [f"{p}.pt" for p in paths["batch"]]
    )
    for alone, batch in zip(paths["alone"], paths["batch"], strict=True):
        a, b = np.load(f"{alone}.npz"), np.load(f"{batch}.npz")
        assert a.files == b.files
        for key in a.files:
            if key == "seconds":
                continue
            if a[key].dtype.kind == "f":
                np.testing.assert_allclose(b[key], a[key], rtol=1e-10, atol=1e-10 * np.abs(a[key]).max(), err_msg=key)
            else:
                np.testing.assert_array_equal(b[key], a[key], err_msg=key)
        (state_a, meta_a), (state_b, meta_b) = load_checkpoint(f"{alone}.pt"), load_checkpoint(f"{batch}.pt")
        assert meta_a == meta_b and list(state_a) == list(state_b)
        for key, value in state_a.items():
            torch.testing.assert_close(state_b[key], value, rtol=1e-10, atol=1e-12)


def test_held_out_datasets_are_not_in_the_fit(setup, tmp_path):
    """NMC held out: its central values and fit covariance, scaled by 1000, change no replica's chi2, split or fit."""
    torch.set_num_threads(1)
    options = {**OPTIONS, "training": {**OPTIONS["training"], "epochs": 20, "patience": 20, "record_every": 1}}
    base = _fit_inputs(setup)
    held = setup["dataset"] == 1
    scale = np.where(held, 1e3, 1.0)
    variants = {
        "as is": dataclasses.replace(base, fitted=np.array([True, False])),
        "scaled": dataclasses.replace(
            base, fitted=np.array([True, False]), data=base.data * scale, cov_fit=base.cov_fit * np.outer(scale, scale)
        ),
    }
    replicas = {}
    for name, inputs in variants.items():
        path = inputs.save(tmp_path / f"{name}.npz")
        fit.run_replica(str(path), options, 5, "cpu", str(tmp_path / f"{name}_r.npz"), str(tmp_path / f"{name}_r.pt"))
        replicas[name] = np.load(tmp_path / f"{name}_r.npz")
    a, b = replicas["as is"], replicas["scaled"]
    assert len(a["replica_data"]) == len(a["train"]) == (~held).sum()  # only the fitted points are fitted
    np.testing.assert_array_equal(a["train"], b["train"])
    np.testing.assert_allclose(b["chi2_train"], a["chi2_train"], rtol=1e-12)
    np.testing.assert_allclose(b["predictions"], a["predictions"], rtol=1e-12)
    assert len(a["predictions"]) == len(held)  # the held-out points are predicted all the same


def test_shared_mask_and_fixed_preprocessing_switch_the_per_replica_draws_off(setup):
    inputs = _fit_inputs(setup)
    drawn = [fit.prepare_replica(inputs, OPTIONS, seed) for seed in (1, 2)]
    assert not np.array_equal(drawn[0][2], drawn[1][2])
    assert drawn[0][0].alpha.tolist() != drawn[1][0].alpha.tolist()
    options = {
        **OPTIONS,
        "training": {**OPTIONS["training"], "shared_mask": True},
        "preprocessing": {**OPTIONS["preprocessing"], "fixed": True},
    }
    shared = [fit.prepare_replica(inputs, options, seed) for seed in (1, 2)]
    np.testing.assert_array_equal(shared[0][2], shared[1][2])  # one mask for the fit's replicas
    other_fit = fit.prepare_replica(dataclasses.replace(inputs, fit_seed=7), options, 1)
    assert not np.array_equal(other_fit[2], shared[0][2])  # but another fit has its own
    middle = [np.mean(OPTIONS["preprocessing"][name]["alpha"]) for name in FIT_BASIS]
    for model, _, _ in shared:
        np.testing.assert_allclose(model.alpha.numpy(), middle)
    weights = [dict(model.named_parameters())["net.0.weight"].detach() for model, _, _ in shared]
    assert not torch.equal(*weights)  # the initial weights stay per replica


def test_dry_run_plans_one_job_per_batch(tmp_path):
    """3 replicas, 2 per job: two fit jobs (2 + 1 replicas), the three replicas' files as today."""
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "config" / "batches.yaml").write_text("pdf:\n  replicas_per_job: 2\n")
    result = run_snakemake(
        workdir, "-n", "results/pdf/metrics.json", "--configfile", "config/test.yaml", "config/batches.yaml"
    )
    jobs = re.findall(r"^(?:local)?rule (pdf_replica\w*):\n(?:.*\n)*?\s+wildcards: (.*)", result.stdout, re.M)
    assert sorted(w for rule, w in jobs if rule == "pdf_replica_batch") == ["fit=0, batch=0", "fit=0, batch=1"]
    assert sorted(w for rule, w in jobs if rule == "pdf_replica") == [f"fit=0, replica={r}" for r in range(3)]
