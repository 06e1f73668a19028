"""ONNX exports of the Higgs networks: the DNN classifier and the di-tau mass regression (graph in GeV)."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

from ml4hep.errors import InputFileError
from ml4hep.higgs.classifiers import CLASSIFIERS
from ml4hep.higgs.features import FEATURE_NAMES
from ml4hep.higgs.regression import ONNX_OUTPUT, MassRegressor, target_to_mass
from ml4hep.models import FitContext
from ml4hep.onnx_export import onnx_metadata
from ml4hep.predict import load_model, load_regressor
from tests.test_higgs_regression import synthetic_split

QUICK = {"hidden": [16, 16], "epochs": 3, "batch_size": 128, "learning_rate": 3e-3, "patience": 3}


@pytest.fixture(scope="module")
def splits() -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(11)
    return {name: synthetic_split(rng, n) for name, n in (("train", 600), ("val", 300), ("test", 300))}


@pytest.mark.parametrize("target", ["log", "linear"])
def test_mass_regression_graph_gives_the_mass_in_gev(splits, tmp_path, target):
    model = MassRegressor(**QUICK, folds=0, target=target)
    model.fit(splits["train"], splits["val"], FitContext(seed=4))
    model.save(tmp_path / "mass_regression.pt")
    difference = model.export_onnx(tmp_path / "mass_regression.onnx", splits["test"])
    assert 0 <= difference < 1e-3

    session = onnxruntime.InferenceSession(str(tmp_path / "mass_regression.onnx"))
    assert [node.name for node in session.get_inputs()] == ["X"]
    assert [node.name for node in session.get_outputs()] == [ONNX_OUTPUT]
    assert onnx_metadata(session)["ml4hep_model"] == "mass_regression"
    assert onnx_metadata(session)["ml4hep_features"].split(",") == list(FEATURE_NAMES)

    x = splits["test"]["X"][:50]
    graph = session.run(None, {"X": x.astype(np.float32)})[0]
    in_gev = model.predict({"X": x})  # the model interface: the raw output turned into GeV in numpy
    np.testing.assert_allclose(graph, in_gev, rtol=1e-5)
    # the graph's output is the mass, not the target: it differs from the raw output unless the target is GeV
    assert not np.allclose(graph, model.logits({"X": x}), rtol=1e-2)
    np.testing.assert_allclose(target_to_mass(model.logits({"X": x}), target), in_gev, rtol=1e-12)
    # predict's regressor reads either file to the same masses
    from_onnx = load_regressor(tmp_path / "mass_regression.onnx")(x)
    from_torch = load_regressor(tmp_path / "mass_regression.pt")(x)
    np.testing.assert_allclose(from_onnx, from_torch, rtol=1e-5)

    with pytest.raises(InputFileError, match="mass regression is no classifier"):
        load_model(tmp_path / "mass_regression.onnx")


def test_dnn_graph_is_a_higgs_classifier(splits, tmp_path):
    model = CLASSIFIERS.create("dnn", {**QUICK, "dropout": 0.0})
    model.fit(splits["train"], splits["val"], FitContext(seed=5))
    assert model.export_onnx(tmp_path / "renamed.onnx", splits["test"]) <= 1e-4
    session = onnxruntime.InferenceSession(str(tmp_path / "renamed.onnx"))
    stored = onnx_metadata(session)
    assert (stored["ml4hep_task"], stored["ml4hep_model"]) == ("higgs", "dnn")
    assert stored["ml4hep_features"].split(",") == list(FEATURE_NAMES)
    loaded = load_model(tmp_path / "renamed.onnx")
    assert (loaded.task, loaded.name, loaded.kind, loaded.shapes) == ("higgs", "dnn", "onnx", {"X": (30,)})
    x = splits["test"]["X"]
    np.testing.assert_allclose(loaded.score({"X": x}), model.predict({"X": x}), rtol=0, atol=1e-6)
    with pytest.raises(InputFileError, match="not the di-tau mass regression"):
        load_regressor(tmp_path / "renamed.onnx")
