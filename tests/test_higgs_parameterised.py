"""Mass-parameterised classifier: interpolation to a left-out mass on a synthetic known answer, the background mass
assignment, the loss weights, the table and the left-out-mass errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ml4hep.errors import ConfigError
from ml4hep.higgs.parameterised import (
    LEFT_OUT_KEY,
    MASS_FEATURE,
    MASS_NETWORKS,
    MassSample,
    background_masses,
    load_network,
    loss_weights,
    mass_sample,
    network_context,
    parameterised_inputs,
    run_parameterised,
    signal_mass_distribution,
    training_masses,
    with_mass,
)
from ml4hep.higgs.parameterised_table import (
    CURVE_KEYS,
    NETWORKS,
    curve_from_metrics,
    table_rows,
    write_auc_table,
    write_curve_table,
)
from ml4hep.metrics import auc
from ml4hep.models import FitContext
from ml4hep.plots.higgs import plot_auc_vs_mass
from ml4hep.training import load_checkpoint, predict

MASSES = (200.0, 300.0, 400.0, 500.0, 600.0)
LEFT_OUT = 400.0
HEAVY = [(f"heavyh{m:g}", m) for m in MASSES]
BACKGROUNDS = ["bkg_a", "bkg_b"]
NAMES = np.array(["sm_signal", *BACKGROUNDS, *(name for name, _ in HEAVY)])
FAST = {"hidden": [32, 32], "dropout": 0.0, "epochs": 25, "batch_size": 256, "learning_rate": 3e-3, "patience": 5}


def synthetic_split(rng, n_signal, n_background):
    """x0 peaks at the mass for the signal (N(m, 0.1 m)) and is flat (50-900) for the background; x1 separates the
    classes a little at every mass; x2, x3 are noise; an SM signal process is present and must be ignored."""
    blocks = []
    n_sm = n_background // 4
    for number, name in enumerate(NAMES):
        if name == "sm_signal":
            n, x0, weight, label, resonance = n_sm, rng.normal(125.0, 12.5, n_sm), 0.1, 1, 125.0
        elif name in BACKGROUNDS:
            n, x0, label, resonance = n_background, rng.uniform(50.0, 900.0, n_background), 0, 91.0
            weight = 1.0 if name == "bkg_a" else 0.5
        else:
            mass = dict(HEAVY)[str(name)]
            n, x0, label, resonance = n_signal, rng.normal(mass, 0.1 * mass, n_signal), 1, mass
            weight = 2.0 ** (-(mass - 200.0) / 100.0)  # falling cross section
        x1 = rng.normal(0.7 if label else 0.0, 1.0, n)
        x = np.column_stack([x0, x1, rng.normal(size=(n, 2))])
        blocks.append(
            {
                "X": x,
                "label": np.full(n, label),
                "weight": np.full(n, weight / n),
                "process": np.full(n, number),
                "truth_mass": np.full(n, resonance),
                "resonance_mass": np.full(n, resonance),
            }
        )
    split = {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0]}
    order = rng.permutation(len(split["label"]))
    split = {key: value[order] for key, value in split.items()}
    split.update(feature_names=np.array(["x0", "x1", "x2", "x3"]), process_names=NAMES)
    return split


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small networks: one intra-op thread is as fast, and far faster on a loaded 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def splits():
    rng = np.random.default_rng(7)
    return {
        "train": synthetic_split(rng, 700, 3000),
        "val": synthetic_split(rng, 300, 1200),
        "test": synthetic_split(rng, 1000, 4000),
    }


def outputs(tmp_path):
    return {"model_dir": tmp_path / "models", "metrics_path": tmp_path / "metrics.json"}


def test_parameterised_net_interpolates_to_the_left_out_mass(splits, tmp_path):
    paths = outputs(tmp_path)
    metrics = run_parameterised(splits, HEAVY, BACKGROUNDS, LEFT_OUT, FAST, FitContext(seed=3), **paths)

    assert metrics["mass_left_out"] == LEFT_OUT
    assert metrics["training_masses"] == [m for m in MASSES if m != LEFT_OUT]
    param, dedicated, unparam = (metrics[f"auc_{n}"] for n in ("parameterised", "dedicated", "unparameterised"))
    # Never trained at 400 GeV, the parameterised net is about as good there as the net trained only at 400 GeV ...
    assert param == pytest.approx(dedicated, abs=0.03)
    # ... and not worse than the net trained on the same masses without the mass input (which cannot localise x0).
    assert param >= unparam - 0.01
    assert min(param, unparam, dedicated) > 0.6
    assert param > 0.85
    assert set(metrics["auc_vs_mass"]) == {f"{m:g}" for m in MASSES}
    assert metrics["auc_vs_mass"]["400"]["parameterised"] == param
    for mass in MASSES:  # one dedicated net per mass (default), every AUC of the table defined
        assert all(0.5 < metrics["auc_vs_mass"][f"{mass:g}"][n] <= 1.0 for n in NETWORKS)

    saved = json.loads(paths["metrics_path"].read_text())
    assert saved["auc_parameterised"] == pytest.approx(param)
    # The render step: table and figure from the saved metrics alone.
    table, plots = (tmp_path / "auc.csv", tmp_path / "auc.md"), (tmp_path / "auc.png", tmp_path / "auc.pdf")
    write_auc_table(table_rows(saved), *table)
    plot_auc_vs_mass(curve_from_metrics(saved), saved["mass_left_out"], plots)
    curve_csv = tmp_path / "auc_vs_mass.csv"
    write_curve_table(curve_from_metrics(saved), curve_csv)
    csv_lines = table[0].read_text().splitlines()
    assert csv_lines[0] == "mass,left_out,parameterised,dedicated,unparameterised,n_signal,n_background"
    assert [line.split(",")[1] for line in csv_lines[1:]] == ["false", "false", "true", "false", "false"]
    assert "**400 (left out)**" in table[1].read_text()
    assert all(p.stat().st_size > 0 for p in plots)
    # The curves: one row per mass and network, every network evaluated at every mass.
    networks = ["parameterised", "unparameterised", *(f"dedicated_m{m:g}" for m in MASSES)]
    curve_lines = curve_csv.read_text().splitlines()
    assert curve_lines[0] == ",".join(CURVE_KEYS)
    cells = [dict(zip(CURVE_KEYS, line.split(","), strict=True)) for line in curve_lines[1:]]
    assert sorted((float(c["mass"]), c["network"]) for c in cells) == sorted((m, n) for m in MASSES for n in networks)
    curve = {(row["mass"], row["network"]): row["auc"] for row in saved["curve"]}
    for mass in MASSES:
        # A single-mass network is best near its own mass: x0 peaks there (the point of the parameterisation).
        farthest = max(MASSES, key=lambda m: abs(m - mass))
        assert curve[(mass, f"dedicated_m{mass:g}")] > curve[(farthest, f"dedicated_m{mass:g}")] + 0.05
        assert metrics["auc_vs_mass"][f"{mass:g}"][f"dedicated_m{mass:g}"] == curve[(mass, f"dedicated_m{mass:g}")]
    # At the left-out mass no single-mass network trained elsewhere beats the parameterised one by much.
    assert metrics["best_other_dedicated"] in {"dedicated_m300", "dedicated_m500"}
    assert param > metrics["auc_best_other_dedicated"] - 0.01

    state, meta = load_checkpoint(paths["model_dir"] / "parameterised.pt")
    assert meta["inputs"] == ["x0", "x1", "x2", "x3", MASS_FEATURE]
    assert LEFT_OUT not in meta["training_masses"]
    assert state["standardiser.mean"].shape == (5,)
    _, meta = load_checkpoint(paths["model_dir"] / "unparameterised.pt")
    assert meta["inputs"] == ["x0", "x1", "x2", "x3"]
    _, meta = load_checkpoint(paths["model_dir"] / "dedicated_m400.pt")
    assert meta["training_masses"] == [LEFT_OUT]

    # The network file as the heavy-Higgs limits read it: a HiggsDNN taking the features and the mass.
    network, meta = load_network(paths["model_dir"] / "parameterised.pt")
    test = mass_sample(splits["test"], HEAVY, BACKGROUNDS, [LEFT_OUT])
    model = MASS_NETWORKS.load("parameterised", paths["model_dir"] / "parameterised.pt")
    np.testing.assert_allclose(predict(network, [with_mass(test.X, LEFT_OUT)]), model.scores_at(test.X, LEFT_OUT))
    assert metrics["training"]["parameterised"]["n_train"] == 4 * 700 + 2 * 3000


def test_networks_resume_from_their_checkpoints(splits, tmp_path):
    """A retried job finds each network's checkpoint in the checkpoint folder and resumes it exactly."""
    hyper = {**FAST, "epochs": 3, "dedicated_masses": "left_out"}
    first = run_parameterised(splits, HEAVY, BACKGROUNDS, LEFT_OUT, hyper, FitContext(seed=3), **outputs(tmp_path))
    folder = tmp_path / "checkpoints"
    context = FitContext(seed=3, checkpoint=folder)
    masses = training_masses(MASSES, LEFT_OUT)
    hyper_2 = {"heavy": HEAVY, "backgrounds": BACKGROUNDS, "masses": masses, **hyper, "epochs": 2}
    model = MASS_NETWORKS.create("parameterised", hyper_2)
    model.fit(splits["train"], splits["val"], network_context(context, "parameterised"))  # killed after epoch 2
    assert (folder / "parameterised.ckpt").exists()
    resumed = run_parameterised(splits, HEAVY, BACKGROUNDS, LEFT_OUT, hyper, context, **outputs(tmp_path / "again"))
    assert resumed["table"] == first["table"]
    assert resumed["training"]["parameterised"]["resumed_from_epoch"] == 1
    assert resumed["training"]["unparameterised"]["resumed_from_epoch"] is None
    assert not list(folder.glob("*.ckpt"))


def test_background_masses_are_seeded_and_only_training_masses(splits):
    masses = training_masses(MASSES, LEFT_OUT)
    assert masses == [200.0, 300.0, 500.0, 600.0]
    draws = background_masses(2000, masses, seed=11, split="train")
    np.testing.assert_array_equal(draws, background_masses(2000, masses, seed=11, split="train"))
    assert not np.array_equal(draws, background_masses(2000, masses, seed=12, split="train"))
    assert not np.array_equal(draws, background_masses(2000, masses, seed=11, split="val"))
    assert set(np.unique(draws)) == set(masses)  # every training mass, roughly uniformly
    assert np.bincount(np.searchsorted(masses, draws)).min() > 400

    train = mass_sample(splits["train"], HEAVY, BACKGROUNDS, masses)
    assert not np.isin(train.mass, [LEFT_OUT]).any()  # no left-out signal in the training events
    assert (train.label == 1).sum() == 4 * 700 and (train.label == 0).sum() == 2 * 3000  # SM signal ignored
    x = parameterised_inputs(train, masses, seed=11, split="train")
    background = train.label == 0
    np.testing.assert_array_equal(x[~background, -1], train.mass[~background])
    np.testing.assert_array_equal(x[background, -1], background_masses(background.sum(), masses, 11, "train"))
    np.testing.assert_array_equal(x[:, :-1], train.X.astype(np.float32))


@pytest.mark.parametrize(
    "weighting, draw, expected",
    [
        ("cross_section", "signal", "signal"),  # the background follows the steeply falling signal distribution
        ("equal", "signal", "uniform"),
        ("cross_section", "uniform", "uniform"),  # the behaviour before: the mass parameter tells the classes apart
    ],
)
def test_background_masses_follow_the_signal_mass_distribution(splits, weighting, draw, expected):
    masses = training_masses(MASSES, LEFT_OUT)
    hyper = {**FAST, "signal_weighting": weighting, "background_mass_draw": draw}
    model = MASS_NETWORKS.create(
        "parameterised", {"heavy": HEAVY, "backgrounds": BACKGROUNDS, "masses": masses, **hyper}
    )
    examples = model.training_examples(splits["train"], "train", seed=11)
    mass, label, weight = examples["X"][:, -1].astype(np.float64), examples["label"], examples["weight"]

    def shares(selected):
        return np.array([weight[selected & (mass == m)].sum() for m in masses]) / weight[selected].sum()

    signal_shares = shares(label == 1)
    if weighting == "equal":
        np.testing.assert_allclose(signal_shares, 0.25)
    else:
        np.testing.assert_allclose(signal_shares, [1, 0.5, 0.125, 0.0625] / np.sum([1, 0.5, 0.125, 0.0625]))
    target = signal_shares if expected == "signal" else np.full(4, 0.25)
    # 6000 background events: a share's statistical spread is below 0.01.
    np.testing.assert_allclose(shares(label == 0), target, atol=0.025)
    # Drawn from the signal's distribution, the mass parameter alone separates nothing.
    mass_auc = auc(label, -mass, weight)
    if draw == "signal":
        assert mass_auc == pytest.approx(0.5, abs=0.02)
    else:
        assert mass_auc > 0.7


def test_signal_mass_distribution_is_the_weight_share_per_mass():
    mass = np.array([300.0, 300.0, 500.0, 800.0, np.nan, np.nan])
    sample = MassSample(np.zeros((6, 1)), np.isfinite(mass).astype(np.int64), np.ones(6), mass)
    weight = np.array([1.0, 2.0, 1.0, 0.0, 5.0, 5.0])
    np.testing.assert_allclose(signal_mass_distribution(sample, weight, [300.0, 500.0, 800.0]), [0.75, 0.25, 0.0])
    np.testing.assert_allclose(signal_mass_distribution(sample, np.zeros(6), [300.0, 500.0]), [0.5, 0.5])
    draws = background_masses(4000, [300.0, 500.0, 800.0], 3, "val", [0.75, 0.25, 0.0])
    assert not (draws == 800.0).any()
    assert (draws == 300.0).mean() == pytest.approx(0.75, abs=0.03)


def test_loss_weights_balance_classes_and_optionally_masses(splits):
    sample = mass_sample(splits["train"], HEAVY, BACKGROUNDS, training_masses(MASSES, LEFT_OUT))
    signal = sample.label == 1
    for weighting in ("equal", "cross_section"):
        w = loss_weights(sample, weighting)
        assert w[signal].sum() == pytest.approx(w[~signal].sum())
        assert w.mean() == pytest.approx(1.0)
    physics = loss_weights(sample, "cross_section")
    totals = [physics[sample.mass == m].sum() for m in (200.0, 600.0)]
    assert totals[0] / totals[1] == pytest.approx(16.0)  # the falling cross section
    equal = loss_weights(sample, "equal")
    assert loss_weights(sample) == pytest.approx(equal)  # Baldi et al.'s weighting is the default
    # Background keeps its physics weights (bkg_a twice bkg_b per event).
    assert np.unique(np.round(equal[~signal] / equal[~signal].min(), 6)).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="unknown signal weighting"):
        loss_weights(sample, "physics")


def test_equal_weighting_gives_every_training_mass_the_same_signal_weight():
    """Unequal event counts and a weight spread within a mass: the per-mass sums still agree, the shape within a
    mass is kept."""
    rng = np.random.default_rng(5)
    counts = {300.0: 50, 500.0: 400, 800.0: 7}
    mass = np.concatenate([np.full(n, m) for m, n in counts.items()] + [np.full(300, np.nan)])
    label = np.isfinite(mass).astype(np.int64)
    weight = np.where(label == 1, 10.0 ** (-mass / 100.0), 1.0) * rng.uniform(0.5, 1.5, len(mass))
    sample = MassSample(np.zeros((len(mass), 1)), label, weight, mass)
    w = loss_weights(sample, "equal")
    sums = [w[mass == m].sum() for m in counts]
    assert sums == pytest.approx([sums[0]] * 3, rel=1e-12)
    assert sum(sums) == pytest.approx(w[label == 0].sum())
    at_500 = mass == 500.0
    np.testing.assert_allclose(w[at_500] / w[at_500].sum(), weight[at_500] / weight[at_500].sum())
    cross_section = loss_weights(sample, "cross_section")
    assert cross_section[mass == 300.0].sum() / cross_section[mass == 800.0].sum() > 1e4  # what "equal" undoes


@pytest.mark.parametrize("left_out, problem", [(450.0, "not a generated"), ("heavy", "must be a number")])
def test_left_out_mass_not_generated_names_the_key(left_out, problem):
    with pytest.raises(ConfigError, match=LEFT_OUT_KEY.replace(".", r"\.")) as error:
        training_masses(MASSES, left_out)
    assert problem in str(error.value)


def test_too_few_training_masses_names_the_key(splits, tmp_path):
    with pytest.raises(ConfigError, match=r"higgs\.parameterised\.left_out_mass.*at least 2"):
        training_masses([300.0, 500.0], 500.0)
    heavy = [("heavyh300", 300.0), ("heavyh500", 500.0)]
    paths = outputs(tmp_path)
    with pytest.raises(ConfigError, match=r"higgs\.parameterised\.left_out_mass"):
        run_parameterised(splits, heavy, BACKGROUNDS, 300.0, FAST, FitContext(), **paths)
    with pytest.raises(ConfigError, match=r"higgs\.parameterised\.left_out_mass"):
        run_parameterised(splits, HEAVY, BACKGROUNDS, None, {**FAST, "left_out_mass": 350}, FitContext(), **paths)
    with pytest.raises(ConfigError, match=r"higgs\.parameterised\.left_out_mass"):  # argument and hyper disagree
        run_parameterised(splits, HEAVY, BACKGROUNDS, 300.0, {**FAST, "left_out_mass": 500}, FitContext(), **paths)
    assert not (tmp_path / "models").exists()  # nothing trained


def test_unknown_process_and_hyper_parameter(splits, tmp_path):
    with pytest.raises(ConfigError, match="not in the event table"):
        mass_sample(splits["train"], [("heavyh999", 999.0)], BACKGROUNDS)
    with pytest.raises(ConfigError, match="unknown config key .higgs.parameterised.epoch."):
        run_parameterised(splits, HEAVY, BACKGROUNDS, LEFT_OUT, {"epoch": 3}, FitContext(), **outputs(tmp_path))


def test_table_marks_left_out_mass_and_missing_dedicated(tmp_path):
    rows = [
        {
            "mass": 300.0,
            "left_out": False,
            "parameterised": 0.91,
            "dedicated": float("nan"),
            "unparameterised": 0.88,
            "n_signal": 10,
            "n_background": 20,
        },
        {
            "mass": 500.0,
            "left_out": True,
            "parameterised": 0.95,
            "dedicated": 0.96,
            "unparameterised": 0.9,
            "n_signal": 11,
            "n_background": 20,
        },
    ]
    write_auc_table(rows, tmp_path / "t.csv", tmp_path / "t.md")
    assert (tmp_path / "t.csv").read_text().splitlines()[1] == "300.0,false,0.91,,0.88,10,20"
    md = (tmp_path / "t.md").read_text().splitlines()
    assert md[2] == "| 300 | 0.9100 | – | 0.8800 |"
    assert md[3] == "| **500 (left out)** | 0.9500 | 0.9600 | 0.9000 |"
