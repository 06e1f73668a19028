"""Higgs classifiers and their evaluation on a synthetic event table with a known answer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml4hep import io
from ml4hep.higgs.classifiers import CLASSIFIERS, classifier_splits
from ml4hep.higgs.evaluate import best_ams_threshold, evaluate_classifiers, selected_ams, write_tables
from ml4hep.higgs.features import FEATURE_NAMES, UNDEFINED
from ml4hep.metrics import ams
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
