"""Higgs classifiers and their evaluation on a synthetic event table with a known answer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml4hep import io
from ml4hep.config import ConfigError, validate_config
from ml4hep.higgs.classifiers import CLASSIFIERS, classifier_splits, train_mass_window
from ml4hep.higgs.evaluate import best_ams_threshold, evaluate_classifiers, selected_ams, validated_ams, write_tables
from ml4hep.higgs.features import FEATURE_NAMES, UNDEFINED
from ml4hep.metrics import ams, bootstrap_values, spread
from ml4hep.models import FitContext
from ml4hep.models.scores import read_scores
from ml4hep.models.standardiser import Standardiser
from ml4hep.models.step import train_and_score

PROCESSES = np.array(["signal", "background", "heavy"])


def synthetic_split(rng, n):
    """Signal has DER_mass_vis ~ N(100, 10), background ~ N(70, 20); a heavy sample that the SM task ignores."""
    process = rng.choice(3, size=n, p=[0.3, 0.6, 0.1])
    label = (process != 1).astype(int)
    x = rng.normal(size=(n, len(FEATURE_NAMES)))
    column = FEATURE_NAMES.index("DER_mass_vis")
    x[:, column] = np.where(label == 1, rng.normal(100, 10, n), rng.normal(70, 20, n))
    x[rng.uniform(size=n) < 0.3, FEATURE_NAMES.index("DER_mass_jet_jet")] = UNDEFINED
    weight = np.where(label == 1, 0.5, 50.0)
    return {
        "X": x,
        "feature_names": np.array(FEATURE_NAMES),
        "label": label,
        "weight": weight,
        "process": process,
        "process_names": PROCESSES,
        "truth_mass": np.full(n, np.nan),
        "resonance_mass": np.zeros(n),
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("higgs")
    rng = np.random.default_rng(4)
    splits = {}
    for split, n in (("train", 3000), ("val", 1500), ("test", 1500)):
        splits[split] = folder / f"{split}.npz"
        np.savez(splits[split], **synthetic_split(rng, n))
    hyper = {
        "cut": {"ams_regularisation": 10.0},
        "bdt": {"n_estimators": 100, "max_depth": 3, "learning_rate": 0.1, "early_stopping_rounds": 10},
        "dnn": {
            "hidden": [16, 16],
            "dropout": 0.0,
            "epochs": 15,
            "batch_size": 128,
            "learning_rate": 0.003,
            "patience": 5,
        },
    }
    scores, infos = {}, {}
    sm = classifier_splits(splits, ["heavy"])
    for name in ("cut", "bdt", "dnn"):
        scores[name] = folder / f"{name}_scores.root"
        model_path = folder / f"{name}{CLASSIFIERS.model_class(name).suffix}"
        infos[name] = train_and_score(
            CLASSIFIERS.create(name, hyper[name]),
            sm,
            FitContext(seed=3),
            model_path=model_path,
            scores_path=scores[name],
            info_path=folder / f"{name}_info.json",
        )
    return folder, splits, scores, infos


def test_mass_window_brackets_the_signal_peak(trained):
    _, _, _, infos = trained
    window = infos["cut"]["window"]
    assert 60 <= window["low"] <= 100 <= window["high"] <= 140


def test_classifiers_beat_chance_and_the_heavy_sample_is_left_out(trained):
    folder, splits, scores, infos = trained
    metrics = evaluate_classifiers(splits, scores, ["heavy"], 10.0, 20, 1)
    for name in ("bdt", "dnn"):
        assert metrics["auc"][name] > 0.85, name
        assert metrics["auc"][name] - 3 * metrics["auc_err"][name] > 0.5
        assert metrics["ams"][name] > 0
        assert metrics["ams_q16"][name] <= metrics["ams_q84"][name]
        assert metrics["selected"][name]["background_events"] >= 0
    assert infos["bdt"]["feature_importance"]["DER_mass_vis"] == max(infos["bdt"]["feature_importance"].values())
    test = np.load(splits["test"])
    n_sm = int(np.sum(test["process"] != 2))
    assert len(read_scores(scores["bdt"], "test")) == n_sm
    write_tables(metrics, folder / "c.csv", folder / "c.md", folder / "c.tex")
    assert f"{metrics['ams']['bdt']:.2f}" in (folder / "c.md").read_text()
    json.dumps(io.json_safe(metrics), allow_nan=False)  # what write_json writes is strict JSON


def test_ams_threshold_and_selection():
    labels = np.array([1, 1, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.2])
    weights = np.array([10.0, 10.0, 1.0, 100.0, 10.0])
    threshold = best_ams_threshold(labels, scores, weights, 10.0)
    assert threshold == 0.2  # keeps all signal, drops the heavy background
    assert selected_ams(labels, scores, weights, threshold, 10.0) == pytest.approx(float(ams(30, 1, 10)))


def steep_events(rng, n_signal=1000, n_background=10000):
    """Heavy background MC weights (100 against b_r = 10) under a score that falls off steeply for the background."""
    labels = np.r_[np.ones(n_signal, int), np.zeros(n_background, int)]
    scores = np.r_[rng.beta(5, 1, n_signal), rng.beta(1, 4, n_background)]
    weights = np.r_[np.full(n_signal, 2.0), np.full(n_background, 100.0)]
    return [labels, scores, weights]


def test_a_minimum_background_moves_the_cut_looser_and_steadies_the_ams():
    rng = np.random.default_rng(1)
    val, test = steep_events(rng), steep_events(rng)
    free = {"min_background_events": 0, "min_background_yield": 0.0}
    floor = {"min_background_events": 30, "min_background_yield": 0.0}
    cuts = {name: best_ams_threshold(*val, 10.0, **sel) for name, sel in (("free", free), ("floor", floor))}
    kept = {name: int(np.sum((val[1] >= cut) & (val[0] == 0))) for name, cut in cuts.items()}
    assert kept["free"] <= 2  # the unconstrained optimum sits on a handful of background MC events
    assert kept["floor"] >= 30 and cuts["floor"] < cuts["free"]
    errors = {
        name: spread(bootstrap_values(lambda *a, s=sel: validated_ams(*a, 10.0, s), [val, test], 40, 2))
        for name, sel in (("free", free), ("floor", floor))
    }
    assert errors["floor"] < 0.5 * errors["free"]
    # the expected-yield floor binds as well: 30 events of weight 100 are 3000 expected
    by_yield = best_ams_threshold(*val, 10.0, min_background_yield=3000.0)
    assert by_yield == pytest.approx(cuts["floor"])


def test_no_admitted_threshold_falls_back_to_keeping_everything():
    labels, scores, weights = np.array([1, 0, 1]), np.array([0.9, 0.5, 0.1]), np.ones(3)
    assert best_ams_threshold(labels, scores, weights, 10.0, min_background_events=5) == 0.1


def test_the_mass_window_keeps_the_minimum_background():
    rng = np.random.default_rng(5)
    val = synthetic_split(rng, 600)
    sm = {key: val[key][val["process"] != 2] for key in ("X", "label", "weight")} | {
        "feature_names": val["feature_names"]
    }
    window = train_mass_window(sm, 10.0, min_background_events=200)
    mass = sm["X"][:, FEATURE_NAMES.index("DER_mass_vis")]
    inside = (mass >= window["low"]) & (mass <= window["high"])
    assert np.sum(inside & (sm["label"] == 0)) >= 200
    assert np.sum(inside & (sm["label"] == 0)) > np.sum(
        (mass >= (free := train_mass_window(sm, 10.0))["low"]) & (mass <= free["high"]) & (sm["label"] == 0)
    )


def test_the_ams_floor_config_keys_validate():
    defaults = validate_config({})["higgs"]["ams"]
    assert defaults == {"min_background_events": 10, "min_background_yield": 10.0}
    with pytest.raises(ConfigError, match="min_background_events"):
        validate_config({"higgs": {"ams": {"min_background_events": -1}}})
    with pytest.raises(ConfigError):
        validate_config({"higgs": {"ams": {"min_background": 10}}})


def test_standardiser_ignores_undefined_values():
    x = np.array([[1.0, UNDEFINED], [3.0, 2.0], [5.0, 4.0]])
    standardiser = Standardiser(2, undefined=UNDEFINED).fit(x)
    assert standardiser.mean.tolist() == [3.0, 3.0]
    import torch

    out = standardiser(torch.as_tensor(x, dtype=torch.float32))
    assert out[0, 1] == 0 and out[1, 1] == pytest.approx(-1.0)


def test_saved_classifiers_reload_with_the_same_scores(trained):
    folder, splits, scores, _ = trained
    test = classifier_splits(splits, ["heavy"])["test"]
    for name in ("cut", "bdt", "dnn"):
        model = CLASSIFIERS.load(name, folder / f"{name}{CLASSIFIERS.model_class(name).suffix}")
        np.testing.assert_array_equal(model.predict(test), read_scores(scores[name], "test"))


def write_split_file(path, split, chunk_size):
    """A split as the workflow writes it: a chunked ROOT file, the name lists beside the tree."""
    from ml4hep.chunked import ChunkedWriter

    names = {key: ",".join(map(str, split[key])) for key in ("feature_names", "process_names")}
    with ChunkedWriter(path, chunk_size, metadata=names) as writer:
        writer.add({key: value for key, value in split.items() if key not in names})
    return path


def test_the_dnn_streams_chunked_split_files_and_scores_them_in_order(tmp_path):
    """From split files on disk, the SM events are a view read chunk by chunk: the standardiser and the training
    stream it, and the streamed scores are the model's scores of the same events in memory, in file order."""
    from ml4hep.chunked import SelectedRows
    from ml4hep.higgs.dataset import load_split

    rng = np.random.default_rng(8)
    arrays = {split: synthetic_split(rng, n) for split, n in (("train", 2000), ("val", 800), ("test", 800))}
    paths = {split: write_split_file(tmp_path / f"{split}.root", arrays[split], 300) for split in arrays}
    splits = classifier_splits(paths, ["heavy"])
    assert all(isinstance(split, SelectedRows) for split in splits.values())
    test_arrays = {key: np.asarray(value) for key, value in load_split(paths["test"]).items()}
    sm = test_arrays["process"] != 2
    assert splits["test"].n_rows == int(sm.sum())

    hyper = {"hidden": [16, 16], "dropout": 0.0, "epochs": 6, "batch_size": 128, "learning_rate": 0.003}
    info = train_and_score(
        CLASSIFIERS.create("dnn", {**hyper, "patience": 3}),
        splits,
        FitContext(seed=2),
        model_path=tmp_path / "dnn.pt",
        scores_path=tmp_path / "dnn.root",
        info_path=tmp_path / "dnn.json",
    )
    model = CLASSIFIERS.load("dnn", tmp_path / "dnn.pt")
    x_train = np.asarray(arrays["train"]["X"])[arrays["train"]["process"] != 2]
    expected = Standardiser(x_train.shape[1], undefined=UNDEFINED).fit(x_train)
    np.testing.assert_allclose(model.network.standardiser.mean, expected.mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model.network.standardiser.std, expected.std, rtol=1e-6)
    streamed = read_scores(tmp_path / "dnn.root", "test")
    memory_test = {"X": test_arrays["X"][sm], "feature_names": test_arrays["feature_names"]}
    np.testing.assert_allclose(streamed, model.predict(memory_test), rtol=1e-6)
    assert info["n_train"] == int((arrays["train"]["process"] != 2).sum())
    metrics = evaluate_classifiers(paths, {"dnn": tmp_path / "dnn.root"}, ["heavy"], 10.0, 10, 1)
    assert metrics["auc"]["dnn"] > 0.85
