"""The Higgs data path streamed from chunked split files gives the models, windows and limits of the arrays in memory.

Every check writes a small synthetic split as the workflow does (a chunked ROOT file, small chunks so that a split
spans several) and compares the streamed path with the same rows in memory.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml4hep.chunked import ROW, ChunkedSplit
from ml4hep.higgs.classifiers import CLASSIFIERS, classifier_splits, train_mass_window
from ml4hep.higgs.dataset import open_split
from ml4hep.higgs.features import FEATURE_NAMES
from ml4hep.higgs.limits import chunked_templates, classifier_limits, heavy_mass_limits
from ml4hep.higgs.parameterised import MASS_NETWORKS, curve_rows
from ml4hep.higgs.regression import MassRegressor
from ml4hep.models import FitContext
from ml4hep.models.scores import write_scores
from ml4hep.stats import histogram_templates
from ml4hep.training import ArrayBatches, fit, seed_everything
from tests.test_higgs_classifiers import synthetic_split as classifier_split
from tests.test_higgs_classifiers import write_split_file
from tests.test_higgs_parameterised import BACKGROUNDS, HEAVY, LEFT_OUT, MASSES
from tests.test_higgs_parameterised import synthetic_split as mass_split
from tests.test_higgs_regression import synthetic_split as regression_split

CHUNK = 128
# pyhf 0.7.6 validates specs with the deprecated jsonschema.RefResolver
LIMIT_WARNINGS = pytest.mark.filterwarnings("ignore:jsonschema.RefResolver is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small models: one thread is as fast on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def on_disk(tmp_path, arrays, chunk_size=CHUNK):
    """Each split as a chunked ROOT file and as an .npz (read whole: the in-memory path)."""
    roots, npzs = {}, {}
    for name, split in arrays.items():
        roots[name] = write_split_file(tmp_path / f"{name}.root", split, chunk_size)
        npzs[name] = tmp_path / f"{name}.npz"
        np.savez(npzs[name], **split)
    return roots, npzs


@pytest.fixture(scope="module")
def sm_files(tmp_path_factory):
    rng = np.random.default_rng(21)
    arrays = {split: classifier_split(rng, n) for split, n in (("train", 1500), ("val", 700), ("test", 700))}
    return on_disk(tmp_path_factory.mktemp("sm"), arrays)


@pytest.mark.parametrize("external_memory", [False, True])
def test_the_streamed_bdt_has_the_trees_of_the_in_memory_matrix(sm_files, monkeypatch, external_memory):
    """A quantised matrix fed chunk by chunk (binned in memory, or in external-memory pages on disk): the same trees,
    bit for bit, as xgboost's in-memory matrix of the arrays and as the scikit-learn wrapper the BDT used before
    (the quantile sketch of the chunks is the one-batch sketch here)."""
    import xgboost

    from ml4hep.models.boosted import XGBoostClassifier

    if external_memory:
        monkeypatch.setattr(XGBoostClassifier, "external_memory_rows", 0)
    roots, npzs = sm_files
    streamed, memory = classifier_splits(roots, ["heavy"]), classifier_splits(npzs, ["heavy"])
    hyper = {"n_estimators": 40, "max_depth": 3, "learning_rate": 0.2, "early_stopping_rounds": 5}
    models = {}
    for kind, splits in (("streamed", streamed), ("memory", memory)):
        models[kind] = CLASSIFIERS.create("bdt", hyper)
        info = models[kind].fit(splits["train"], splits["val"], FitContext(seed=4))
        models[kind].info = info
    a, b = models["streamed"], models["memory"]
    assert a.booster.save_raw("json") == b.booster.save_raw("json")
    assert a.info == b.info and 0 < a.info["best_iteration"] < 39
    np.testing.assert_array_equal(a.predict(streamed["test"]), b.predict(memory["test"]))

    train, val = memory["train"], memory["val"]
    weights = {name: a._loss_weights(split) for name, split in (("train", train), ("val", val))}
    wrapper = xgboost.XGBClassifier(
        **hyper, random_state=4, n_jobs=2, device="cpu", eval_metric="logloss", tree_method="hist"
    )
    wrapper.fit(
        train["X"],
        train["label"],
        sample_weight=weights["train"],
        eval_set=[(val["X"], val["label"])],
        sample_weight_eval_set=[weights["val"]],
        verbose=False,
    )
    assert wrapper.get_booster().save_raw("json") == a.booster.save_raw("json")


def test_the_bdt_with_the_regressed_mass_streams_it_joined_to_the_chunks(sm_files, tmp_path):
    """bdt_mreg: the regressed mass (a scores file of every event) is a column joined to each chunk's features."""
    roots, npzs = sm_files
    rng = np.random.default_rng(8)
    every = {name: dict(np.load(path)) for name, path in npzs.items()}
    regressed = {name: rng.normal(100.0, 20.0, len(split["label"])) for name, split in every.items()}
    write_scores(tmp_path / "regression.root", every, regressed)
    streamed = classifier_splits(roots, ["heavy"], tmp_path / "regression.root", chunk_size=CHUNK)
    memory = classifier_splits(npzs, ["heavy"], tmp_path / "regression.root")
    assert list(streamed["train"]["feature_names"]) == list(memory["train"]["feature_names"])
    x = np.concatenate([c["X"] for c in streamed["test"].chunks(["X"])])
    np.testing.assert_array_equal(x, memory["test"]["X"])
    hyper = {"n_estimators": 20, "max_depth": 3, "learning_rate": 0.2, "early_stopping_rounds": 5}
    a, b = CLASSIFIERS.create("bdt_mreg", hyper), CLASSIFIERS.create("bdt_mreg", hyper)
    assert a.fit(streamed["train"], streamed["val"], FitContext(seed=1)) == b.fit(
        memory["train"], memory["val"], FitContext(seed=1)
    )
    assert a.booster.save_raw("json") == b.booster.save_raw("json")


def window_by_arrays(val, regularisation, step=5.0, **minimum):
    """The window scan on the whole arrays (what the mass window did before its histograms)."""
    from ml4hep.metrics import ams

    mass = val["X"][:, FEATURE_NAMES.index("DER_mass_vis")]
    signal = val["label"] == 1
    best = {"low": 0.0, "high": 0.0, "val_ams": -1.0}
    for low in np.arange(20.0, 120.0 + 1e-9, step):
        for high in np.arange(low + step, 200.0 + 1e-9, step):
            inside = (mass >= low) & (mass <= high)
            s, b = val["weight"][inside & signal].sum(), val["weight"][inside & ~signal].sum()
            if (
                s < 0.2 * val["weight"][signal].sum()
                or np.count_nonzero(inside & ~signal) < minimum.get("min_background_events", 0)
                or b < minimum.get("min_background_yield", 0.0)
            ):
                continue
            if (value := float(ams(s, b, regularisation))) > best["val_ams"]:
                best = {"low": float(low), "high": float(high), "val_ams": value}
    return best


@pytest.mark.parametrize("minimum", [{}, {"min_background_events": 150}, {"min_background_yield": 4000.0}])
def test_the_mass_window_from_chunk_filled_histograms_is_the_array_scan(sm_files, minimum):
    roots, npzs = sm_files
    val = classifier_splits(npzs, ["heavy"])["val"]
    val = {key: np.asarray(value) for key, value in val.items()}
    val["X"][:40, FEATURE_NAMES.index("DER_mass_vis")] = np.arange(20.0, 220.0, 5.0)  # events on the edges
    path = write_split_file(roots["val"].with_name("edges.root"), val, CHUNK)
    expected = window_by_arrays(val, 10.0, **minimum)
    for split in (open_split(path, CHUNK), val):
        window = train_mass_window(split, 10.0, **minimum)
        assert (window["low"], window["high"]) == (expected["low"], expected["high"])
        assert window["val_ams"] == pytest.approx(expected["val_ams"], rel=1e-12)
    assert expected["low"] < 100.0 < expected["high"]


class InOrder(ArrayBatches):
    """In-memory arrays batched in a given row order (the streamed epoch's), whatever the generator."""

    def __init__(self, inputs, target, weight, order):
        super().__init__(inputs, target, weight)
        self.order = torch.as_tensor(order)

    def batches(self, batch_size, generator=None):
        for begin in range(0, len(self.order), batch_size):
            index = self.order[begin : begin + batch_size]
            yield [t[index] for t in self.tensors], self.target[index], self.weight[index]


def test_a_streamed_regression_epoch_is_the_in_memory_epoch_in_the_same_batch_order(tmp_path):
    """The regression streams the features of the events with a true mass (targets and weights joined per chunk);
    its standardiser is fitted in two passes over the chunks. In the streamed epoch's batch order the in-memory
    training ends with the same weights (to float32 rounding): what differs between the two is the batch order
    alone (chunk-buffer shuffling instead of one permutation)."""
    rng = np.random.default_rng(5)
    arrays = {split: regression_split(rng, n) for split, n in (("train", 900), ("val", 300))}
    roots, _ = on_disk(tmp_path, arrays)
    model = MassRegressor(hidden=[16, 16], epochs=1, batch_size=64, folds=0)
    streamed = model.training_examples(open_split(roots["train"], CHUNK), "train", 5)
    memory = model.training_examples(arrays["train"], "train", 5)
    rows = {key: np.concatenate([c[key] for c in streamed.chunks(["X", "target", "weight"])]) for key in memory}
    np.testing.assert_array_equal(rows["X"].astype(np.float32), memory["X"])
    np.testing.assert_array_equal(rows["target"], memory["target"])
    np.testing.assert_array_equal(rows["weight"], memory["weight"])

    order = np.concatenate([c[ROW] for c in streamed.reopened(seed=5).shuffled_chunks(["target"])])
    assert sorted(order.tolist()) == list(range(len(memory["target"]))) and not np.all(order == np.sort(order))
    val = model.training_examples(arrays["val"], "val", 5)
    sources = {
        "streamed": (streamed, model.data(streamed, targets=True, seed=5)),
        "memory": (memory, InOrder([memory["X"]], memory["target"], memory["weight"], order)),
    }
    weights = {}
    for kind, (train, source) in sources.items():
        seed_everything(5)
        network = model.build_network(n_inputs=len(FEATURE_NAMES))
        model.prepare(network, train)
        fit(network, source, None, [val["X"]], val["target"], val_weight=val["weight"], loss="mse", epochs=1,
            batch_size=64, learning_rate=3e-3, seed=5)  # fmt: skip
        weights[kind] = network.state_dict()
    for key, value in weights["memory"].items():
        torch.testing.assert_close(weights["streamed"][key], value, rtol=1e-5, atol=1e-6)


def test_the_regression_trains_and_predicts_from_split_files(tmp_path):
    """The whole regression (two out-of-fold networks) from files: predictions of every event, in file order."""
    rng = np.random.default_rng(6)
    arrays = {split: regression_split(rng, n) for split, n in (("train", 600), ("val", 200), ("test", 200))}
    roots, _ = on_disk(tmp_path, arrays)
    model = MassRegressor(hidden=[16], epochs=2, batch_size=64, folds=2)
    info = model.fit(open_split(roots["train"], CHUNK), open_split(roots["val"], CHUNK), FitContext(seed=1))
    assert info["folds"] == 2 and model.out_of_fold.shape == (600,)
    assert np.all(np.isfinite(model.out_of_fold)) and np.all(model.out_of_fold > 0)  # every event, ttbar too
    predicted = model.predict(open_split(roots["test"], CHUNK))
    np.testing.assert_allclose(predicted, model.predict(arrays["test"]), rtol=1e-6)


@pytest.fixture(scope="module")
def mass_files(tmp_path_factory):
    rng = np.random.default_rng(9)
    sizes = {"train": (60, 300), "val": (30, 120), "test": (60, 300)}
    arrays = {split: mass_split(rng, *n) for split, n in sizes.items()}
    return on_disk(tmp_path_factory.mktemp("heavy"), arrays)


@LIMIT_WARNINGS
def test_the_parameterised_network_streams_its_inputs_and_scores(mass_files, tmp_path):
    """Training inputs (features and mass parameter), labels and weights streamed are those in memory; a network
    trained on either has the same scores and AUC-vs-mass curve on the file and on its arrays."""
    roots, npzs = mass_files
    masses = [m for m in MASSES if m != LEFT_OUT]
    model = MASS_NETWORKS.model_class("parameterised")(HEAVY, BACKGROUNDS, masses, hidden=[8], epochs=2)
    memory = {name: dict(np.load(path)) for name, path in npzs.items()}
    streamed = model.training_examples(open_split(roots["train"], CHUNK), "train", 3)
    in_memory = model.training_examples(memory["train"], "train", 3)
    x = np.concatenate([c["X"] for c in streamed.chunks(["X"])])
    np.testing.assert_array_equal(x.astype(np.float32), in_memory["X"])
    np.testing.assert_array_equal(streamed["label"], in_memory["label"])
    np.testing.assert_array_equal(streamed["weight"], in_memory["weight"])
    assert len(streamed["feature_names"]) == in_memory["X"].shape[1]

    model.fit(open_split(roots["train"], CHUNK), open_split(roots["val"], CHUNK), FitContext(seed=3))
    test = open_split(roots["test"], CHUNK)
    np.testing.assert_allclose(model.predict(test), model.predict(memory["test"]), rtol=1e-6, atol=1e-7)
    networks = {"parameterised": model}
    curves = [curve_rows(networks, split, HEAVY, BACKGROUNDS, LEFT_OUT) for split in (test, memory["test"])]
    assert [row["auc"] for row in curves[0]] == pytest.approx([row["auc"] for row in curves[1]], abs=1e-6)

    model.save(tmp_path / "parameterised.pt")
    options = {"bins": 4, "min_background_events": 5, "background_norm_uncertainty": 0.1}
    sigma = {name: 1.0 for name, _ in HEAVY}
    limits = [
        heavy_mass_limits(
            paths["val"], paths["test"], tmp_path / "parameterised.pt", HEAVY[:2], BACKGROUNDS, sigma, LEFT_OUT, options
        )  # fmt: skip
        for paths in (roots, npzs)
    ]
    for mass, entry in limits[0].items():
        assert entry["edges"] == pytest.approx(limits[1][mass]["edges"], abs=1e-6)
        assert entry["mu_expected"] == pytest.approx(limits[1][mass]["mu_expected"], rel=1e-4)


def test_chunk_filled_templates_are_the_whole_array_histograms():
    """hist sums event by event in the order given: any chunking gives the same templates bit for bit, and they are
    numpy's histograms (a score on the upper edge in the last bin, as numpy) to the rounding of the sums."""
    rng = np.random.default_rng(2)
    n = 1500
    labels = (rng.random(n) < 0.3).astype(int)
    scores = np.clip(rng.normal(0.3 + 0.4 * labels, 0.2), 0, 1)
    weights = rng.uniform(0.1, 5.0, n)
    edges = np.array([0.0, 0.2, 0.35, 0.5, 0.8, 1.0])
    whole = chunked_templates([(scores, labels, weights)], edges)
    for size in (1, 7, 500):
        parts = [(scores[i : i + size], labels[i : i + size], weights[i : i + size]) for i in range(0, n, size)]
        chunked = chunked_templates(parts, edges)
        for key, value in whole.items():
            np.testing.assert_array_equal(chunked[key], value)
    reference = histogram_templates(scores, labels, weights, edges)
    for key, value in reference.items():
        np.testing.assert_allclose(whole[key], value, rtol=1e-12)
    assert whole["signal"].sum() == pytest.approx(weights[labels == 1].sum(), rel=1e-12)  # the scores at 1.0 too


@LIMIT_WARNINGS
def test_limits_from_split_files_equal_those_from_whole_arrays(sm_files, tmp_path):
    roots, npzs = sm_files
    rng = np.random.default_rng(3)
    splits = classifier_splits(npzs, ["heavy"])
    scores = {name: np.clip(rng.normal(0.3 + 0.4 * splits[name]["label"], 0.2), 0, 1) for name in ("val", "test")}
    write_scores(tmp_path / "scores.root", splits, scores)
    options = {"bins": 5, "min_background_events": 10, "background_norm_uncertainty": 0.1}
    limits = [
        classifier_limits(paths["val"], paths["test"], {"toy": tmp_path / "scores.root"}, ["heavy"], options)["toy"]
        for paths in (roots, npzs)
    ]
    assert isinstance(open_split(roots["test"]), ChunkedSplit)
    assert limits[0]["edges"] == limits[1]["edges"] and limits[0]["binning"] == "validation"
    for key in ("signal", "background", "signal_mc_err", "background_mc_err", "band"):
        assert limits[0][key] == limits[1][key]
    assert limits[0]["mu_expected"] == limits[1]["mu_expected"] and np.isfinite(limits[0]["mu_expected"])
