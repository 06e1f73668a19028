import json
from functools import partial

import numpy as np
import pytest

from ml4hep.cli import main
from ml4hep.config import derive_seed
from ml4hep.models import FitContext
from ml4hep.models.forest import ForestArrays
from ml4hep.models.step import train_and_score
from ml4hep.susy.classifiers import (
    CLASSIFIERS,
    classifier_inputs,
    hyper_parameters,
    load_calibration,
    load_split,
    split_p_allowed,
    validation_summary,
)
from ml4hep.susy.confidence import confidence_table
from ml4hep.susy.dataset import build_dataset
from ml4hep.susy.recast import label_shard
from ml4hep.susy.scan import PARAMETERS, read_points, scan_shard, shard_sizes
from ml4hep.susy.slha import write_slha


@pytest.fixture(scope="module")
def tiny(test_config, tmp_path_factory):
    """The tiny config's SUSY chain through the library: scan and label shards, dataset, three classifiers."""
    susy = test_config["susy"]
    out = tmp_path_factory.mktemp("susy")
    labels, first = [], 0
    for shard, n in enumerate(shard_sizes(susy["scan"]["points"], susy["scan"]["shards"])):
        scan_shard(
            n,
            derive_seed(test_config["seed"], "susy", "scan", shard),
            susy["scan"]["ranges"],
            out / f"scan{shard}.root",
            first_id=first,
        )
        first += n
        recast = susy["recast"]
        label_shard(
            str(out / f"scan{shard}.root"),
            str(out / f"labels{shard}.root"),
            recast["signal_regions"],
            recast["luminosity_fb"],
            recast["min_signal_events"],
            recast["xsec_order"],
        )
        labels.append(out / f"labels{shard}.root")
    splits = {s: out / f"{s}.npz" for s in ("train", "val", "test")}
    summary = build_dataset(labels, splits, susy["split"], susy["inputs"], 11)
    data = {s: load_split(p) for s, p in splits.items()}
    models = out / "models"
    models.mkdir()
    suffix = {name: CLASSIFIERS.model_class(name).suffix for name in CLASSIFIERS}
    for name in CLASSIFIERS:
        train_and_score(
            CLASSIFIERS.create(name, hyper_parameters(name, susy)),
            data,
            FitContext(seed=5),
            model_path=models / f"{name}{suffix[name]}",
            scores_path=models / f"{name}.root",
            info_path=models / f"{name}_info.json",
            label="allowed",
            summarise=partial(validation_summary, inputs=classifier_inputs(name, susy["inputs"])),
        )
    return {"summary": summary, "data": data, "models": models, "suffix": suffix, "dir": out}


def test_dataset_counts(tiny, test_config):
    summary = tiny["summary"]
    assert summary["points_scanned"] == test_config["susy"]["scan"]["points"]
    assert summary["labelled"] + summary["left_out_non_neutralino_lsp"] == summary["points_scanned"]
    assert summary["lsp_types"]["neutralino"] == summary["labelled"]
    assert 0.2 < summary["fraction_excluded"] < 0.8  # both classes present in the tiny config
    assert sum(summary["splits"].values()) == summary["labelled"]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_beats_majority_guess(tiny, name):
    val, test = tiny["data"]["val"], tiny["data"]["test"]
    predictor = CLASSIFIERS.load(name, tiny["models"] / f"{name}{tiny['suffix'][name]}")
    # ~120 points, less noisy than test
    both = {k: np.concatenate([val[k], test[k]]) for k in ("X", "X_parameters", "allowed")}
    result = confidence_table(both["allowed"], split_p_allowed(predictor, both))
    majority = max(both["allowed"].mean(), 1 - both["allowed"].mean())
    assert result["accuracy"] > majority + 0.1, (name, result["accuracy"], majority)
    assert result["coverage_raw_conf68"] <= 1.0


def test_the_19_parameter_forest_sees_only_the_parameters(tiny):
    info = json.loads((tiny["models"] / "rf_parameters_info.json").read_text())
    assert info["feature_names"] == list(PARAMETERS)
    assert tiny["data"]["train"]["X_parameters"].shape[1] == len(PARAMETERS)
    assert tiny["data"]["train"]["X"].shape[1] > len(PARAMETERS)  # the others see the masses too (susy.inputs)
    np.testing.assert_array_equal(
        tiny["data"]["test"]["X_parameters"], np.column_stack([tiny["data"]["test"][p] for p in PARAMETERS])
    )


def test_calibration_is_the_validation_accuracy_per_bin(tiny):
    val = tiny["data"]["val"]
    for name in CLASSIFIERS:
        calibration = load_calibration(tiny["models"] / f"{name}_info.json")
        predictor = CLASSIFIERS.load(name, tiny["models"] / f"{name}{tiny['suffix'][name]}")
        p = split_p_allowed(predictor, val)
        assert calibration.counts.sum() == len(val["allowed"])
        overall = calibration.hits.sum() / calibration.counts.sum()
        assert overall == pytest.approx(np.mean((p >= 0.5) == (val["allowed"] == 1)))  # the bins add up


def test_forest_arrays_match_scikit_learn(tiny):
    from sklearn.ensemble import RandomForestClassifier

    train, test = tiny["data"]["train"], tiny["data"]["test"]
    forest = RandomForestClassifier(n_estimators=20, random_state=3).fit(train["X"], train["allowed"])
    arrays = ForestArrays.from_sklearn(forest)
    path = arrays.save(tiny["dir"] / "forest.npz")
    np.testing.assert_allclose(ForestArrays.load(path).predict_proba(test["X"]), forest.predict_proba(test["X"])[:, 1])


def test_cli_predicts_slha_folder_and_table(tiny, capsys):
    points = read_points(tiny["dir"] / "scan0.root")
    folder = tiny["dir"] / "slha"
    for i in range(3):
        write_slha(folder / f"p{i}.slha", {k: float(points[k][i]) for k in PARAMETERS})
    assert (
        main(
            ["susy", "predict", str(folder), str(tiny["dir"] / "scan1.root"), "--models", str(tiny["models"]), "--json"]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 + len(read_points(tiny["dir"] / "scan1.root")["M1"])
    assert all(r["class"] in ("allowed", "excluded") and 0 <= r["p_allowed"] <= 1 for r in rows)
    assert all(r["raw_confidence"] == pytest.approx(abs(2 * r["p_allowed"] - 1)) for r in rows)
    assert all(0 <= r["confidence"] <= 1 for r in rows)  # calibrated: a validation accuracy
    assert (
        main(["susy", "predict", str(folder / "p0.slha"), "--models", str(tiny["models"]), "--classifier", "bdt"]) == 0
    )
    out = capsys.readouterr().out
    assert "P(allowed)" in out and "ms" in out


def test_predict_flags_extrapolation_per_point(tiny, capsys, caplog):
    points = read_points(tiny["dir"] / "scan0.root")
    folder = tiny["dir"] / "flagged"
    inside = {k: float(points[k][0]) for k in PARAMETERS}
    write_slha(folder / "inside.slha", inside)
    write_slha(folder / "far.slha", {**inside, "M3": 1e7, "tanb": 500.0})
    with caplog.at_level("WARNING"):
        assert main(["susy", "predict", str(folder), "--models", str(tiny["models"]), "--json"]) == 0
    rows = {row["name"].rsplit("/", 1)[-1]: row for row in json.loads(capsys.readouterr().out)}
    far = rows["far.slha"]
    assert far["extrapolation"] and any(f.startswith("M3 = 1e+07 outside the training range") for f in far["flags"])
    assert any(f.startswith("tanb = 500 outside") for f in far["flags"])
    assert "far.slha: extrapolation" in caplog.text
    info = json.loads((tiny["models"] / "rf_info.json").read_text())
    low, high = info["training_ranges"]["M3"]
    assert low <= inside["M3"] <= high or rows["inside.slha"]["extrapolation"]
