"""``ml4hep predict`` on the finished tiny run: the scores of the workflow, outside it, and one-line errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import uproot

from ml4hep.cli import main
from ml4hep.convert import convert_higgsml_csv
from ml4hep.models.scores import SPLIT_CODES
from ml4hep.predict import NO_LABEL, PREDICTED_SPLIT, load_model, predict
from tests.test_convert import higgsml_frame, write_csv

pytestmark = pytest.mark.workflow

TOPTAG_SAMPLE = "toptag_ttbar"
HIGGS_SAMPLE = "higgs_ggh125"
CHUNK = 61
"""Events per chunk of the chunked-reading tests (a tiny shard holds 400: several chunks, the last one shorter)."""


def read_scores(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    with uproot.open(path) as file:
        return file["scores"].arrays(library="np"), str(file["samples"]).split(",")


def workflow_scores(run: Path, task: str, model: str, sample: str, shard: int) -> dict[str, np.ndarray]:
    """The workflow's scores of the events of one sample shard (every split), by entry."""
    scores, samples = read_scores(run / "results" / task / "scores" / f"{model}.root")
    rows = (scores["sample"] == samples.index(sample)) & (scores["shard"] == shard)
    return {key: values[rows] for key, values in scores.items()}


def shard_with_test_events(run: Path, task: str, sample: str) -> int:
    """A shard of ``sample`` holding events of the test split (the model never saw them)."""
    scores, samples = read_scores(run / "results" / task / "scores" / "bdt.root")
    rows = (scores["sample"] == samples.index(sample)) & (scores["split"] == SPLIT_CODES["test"])
    assert rows.any(), f"no test-split event of {sample}"
    return int(scores["shard"][rows][0])


def assert_same_scores(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray], atol: float) -> None:
    """Every event the workflow scored has the same score here (found by entry), test split included."""
    position = {int(entry): i for i, entry in enumerate(ours["entry"])}
    assert set(position) == {int(e) for e in theirs["entry"]}  # the same events pass (the Higgs selection)
    matched = np.array([position[int(e)] for e in theirs["entry"]])
    np.testing.assert_allclose(ours["score"][matched], theirs["score"], rtol=0, atol=atol)
    test = theirs["split"] == SPLIT_CODES["test"]
    assert test.any()
    assert np.all(ours["split"] == PREDICTED_SPLIT)
    # a check that can fail: the scores separate something (not all equal)
    assert np.ptp(theirs["score"][test]) > 0


@pytest.mark.parametrize(("model", "atol"), [("pfn.onnx", 1e-5), ("bdt.json", 1e-9), ("cut.json", 0.0)])
def test_toptag_scores_equal_the_workflow(finished_run, tmp_path, capsys, model, atol):
    shard = shard_with_test_events(finished_run, "toptag", TOPTAG_SAMPLE)
    sample_file = finished_run / "results" / "samples" / TOPTAG_SAMPLE / f"{shard}.root"
    output = tmp_path / "scores.root"
    code = main(
        ["predict", "--model", str(finished_run / "results/toptag/models" / model), "--input", str(sample_file)]
        + ["--output", str(output)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert re.search(r"\d+ examples/s", printed), printed
    ours, samples = read_scores(output)
    assert samples == [TOPTAG_SAMPLE]
    assert np.all(ours["shard"] == shard)
    with uproot.open(sample_file) as file:
        entries = file["events"].num_entries
        labels = file["events"]["is_signal_new"].array(library="np")
    np.testing.assert_array_equal(ours["entry"], np.arange(entries))  # every jet, in file order: a friend tree
    np.testing.assert_array_equal(ours["label"], labels)
    theirs = workflow_scores(finished_run, "toptag", Path(model).stem, TOPTAG_SAMPLE, shard)
    assert_same_scores(ours, theirs, atol)


def test_a_renamed_tagger_graph_is_named_by_its_metadata(finished_run, tmp_path):
    renamed = tmp_path / "my_tagger.onnx"
    shutil.copyfile(finished_run / "results/toptag/models/particlenet.onnx", renamed)
    loaded = load_model(renamed)
    assert (loaded.task, loaded.name, loaded.kind) == ("toptag", "particlenet", "onnx")


def test_higgs_bdt_scores_equal_the_workflow(finished_run, tmp_path):
    shard = shard_with_test_events(finished_run, "higgs", HIGGS_SAMPLE)
    sample_file = finished_run / "results" / "samples" / HIGGS_SAMPLE / f"{shard}.root"
    summary = predict(finished_run / "results/higgs/models/bdt.json", sample_file, tmp_path / "s.root", label=1)
    assert summary["task"] == "higgs" and summary["kind"] == "xgboost" and summary["examples_per_second"] > 0
    ours, _ = read_scores(tmp_path / "s.root")
    theirs = workflow_scores(finished_run, "higgs", "bdt", HIGGS_SAMPLE, shard)
    assert_same_scores(ours, theirs, 1e-9)
    assert np.all(ours["label"] == 1)
    with uproot.open(sample_file) as file:
        entries = file["events"].num_entries
        weights = file["events"]["weight"].array(library="np")
    assert 0 < len(ours["entry"]) < entries  # only the events passing the lep-had selection are scored
    np.testing.assert_array_equal(ours["weight"], weights[ours["entry"]])
    unlabelled = predict(finished_run / "results/higgs/models/bdt.json", sample_file, tmp_path / "u.root")
    assert unlabelled["examples"] == len(ours["entry"])
    assert np.all(read_scores(tmp_path / "u.root")[0]["label"] == NO_LABEL)


def test_higgs_dnn_state_dict_scores_equal_the_workflow(finished_run, tmp_path):
    shard = shard_with_test_events(finished_run, "higgs", HIGGS_SAMPLE)
    sample_file = finished_run / "results" / "samples" / HIGGS_SAMPLE / f"{shard}.root"
    predict(finished_run / "results/higgs/models/dnn.pt", sample_file, tmp_path / "s.root")
    theirs = workflow_scores(finished_run, "higgs", "dnn", HIGGS_SAMPLE, shard)
    assert_same_scores(read_scores(tmp_path / "s.root")[0], theirs, 1e-6)


def higgs_shard(run: Path) -> Path:
    return run / "results" / "samples" / HIGGS_SAMPLE / f"{shard_with_test_events(run, 'higgs', HIGGS_SAMPLE)}.root"


def test_higgs_dnn_onnx_scores_equal_the_workflow(finished_run, tmp_path, capsys):
    sample_file = higgs_shard(finished_run)
    model = finished_run / "results/higgs/models/dnn.onnx"
    assert (
        main(["predict", "--model", str(model), "--input", str(sample_file), "--output", str(tmp_path / "s.root")]) == 0
    )
    printed = capsys.readouterr().out
    assert printed.startswith("higgs dnn (onnx)") and re.search(r"\d+ examples/s", printed), printed
    theirs = workflow_scores(finished_run, "higgs", "dnn", HIGGS_SAMPLE, int(sample_file.stem))
    assert_same_scores(read_scores(tmp_path / "s.root")[0], theirs, 1e-5)
    info = json.loads((finished_run / "results/higgs/models/dnn_info.json").read_text())
    assert 0 <= info["onnx_max_abs_diff"] <= 1e-4  # the training rule's own torch-vs-onnxruntime check


def test_bdt_mreg_chains_the_mass_regression(finished_run, tmp_path):
    sample_file = higgs_shard(finished_run)
    models = finished_run / "results/higgs/models"
    summary = predict(models / "bdt_mreg.json", sample_file, tmp_path / "onnx.root")  # mass_regression.onnx beside
    assert (summary["model"], summary["kind"]) == ("bdt_mreg", "xgboost")
    ours = read_scores(tmp_path / "onnx.root")[0]
    theirs = workflow_scores(finished_run, "higgs", "bdt_mreg", HIGGS_SAMPLE, int(sample_file.stem))
    # the workflow's training-split scores use out-of-fold masses (networks that did not see the event), its
    # validation and test scores the network of the model file: those are the ones predict reproduces
    held_out = theirs["split"] != SPLIT_CODES["train"]
    assert np.any(theirs["split"][held_out] == SPLIT_CODES["test"])
    position = {int(entry): i for i, entry in enumerate(ours["entry"])}
    assert set(position) == {int(e) for e in theirs["entry"]}
    matched = np.array([position[int(e)] for e in theirs["entry"][held_out]])
    np.testing.assert_allclose(ours["score"][matched], theirs["score"][held_out], rtol=0, atol=1e-6)
    # the mass matters: the plain BDT's scores are others
    plain = workflow_scores(finished_run, "higgs", "bdt", HIGGS_SAMPLE, int(sample_file.stem))
    assert not np.allclose(plain["score"], theirs["score"], atol=1e-3)
    # the torch state_dict of the regression gives the same scores as its ONNX graph
    predict(models / "bdt_mreg.json", sample_file, tmp_path / "pt.root", regressor=models / "mass_regression.pt")
    np.testing.assert_allclose(read_scores(tmp_path / "pt.root")[0]["score"], ours["score"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("model", ["bdt.json", "dnn.onnx"])
def test_chunked_reading_gives_the_whole_files_scores(finished_run, tmp_path, model):
    sample_file = higgs_shard(finished_run)
    path = finished_run / "results/higgs/models" / model
    predict(path, sample_file, tmp_path / "whole.root", chunk_size=10**9)
    predict(path, sample_file, tmp_path / "chunks.root", chunk_size=CHUNK)
    whole, chunks = read_scores(tmp_path / "whole.root")[0], read_scores(tmp_path / "chunks.root")[0]
    with uproot.open(sample_file) as file:
        assert file["events"].num_entries > 3 * CHUNK  # several chunks, the last one shorter
    for key in ("entry", "label", "weight", "split", "shard"):
        np.testing.assert_array_equal(chunks[key], whole[key])
    np.testing.assert_allclose(chunks["score"], whole["score"], rtol=0, atol=1e-6)


def test_chunked_features_are_the_workflows(finished_run):
    from ml4hep.higgs.dataset import process_table
    from ml4hep.predict import _higgs_chunks

    sample_file = higgs_shard(finished_run)
    table = process_table(HIGGS_SAMPLE, [str(sample_file)], 1, 30.0, allow_empty=True)  # the shard job's reading
    chunks = list(_higgs_chunks(sample_file, "higgs", {"jet_pt_min": 30.0}, chunk_size=CHUNK))
    assert len(chunks) > 3
    for key in ("X", "weight", "entry"):
        np.testing.assert_array_equal(np.concatenate([c[key] for c in chunks]), table[key])


def test_higgsml_csv_in_chunks(finished_run, tmp_path):
    csv = write_csv(higgsml_frame(40), tmp_path / "training.csv")
    model = finished_run / "results/higgs/models/bdt.json"
    predict(model, csv, tmp_path / "whole.root")
    predict(model, csv, tmp_path / "chunks.root", chunk_size=6)
    whole, chunks = read_scores(tmp_path / "whole.root")[0], read_scores(tmp_path / "chunks.root")[0]
    for key in whole:
        np.testing.assert_array_equal(chunks[key], whole[key])


def test_higgs_schema_errors_are_one_line(finished_run, tmp_path, capsys):
    models, higgs = finished_run / "results/higgs/models", higgs_shard(finished_run)
    out = tmp_path / "out.root"
    line = one_line_error(capsys, out, "--model", str(models / "mass_regression.onnx"), "--input", str(higgs))
    assert "mass regression is no classifier" in line and "bdt_mreg" in line
    alone = tmp_path / "bdt_mreg.json"
    alone.write_bytes((models / "bdt_mreg.json").read_bytes())
    line = one_line_error(capsys, out, "--model", str(alone), "--input", str(higgs))
    assert "needs the mass regression" in line and "--regressor" in line
    line = one_line_error(
        capsys,
        out,
        "--model",
        str(models / "bdt_mreg.json"),
        "--input",
        str(higgs),
        "--regressor",
        str(models / "dnn.onnx"),
    )
    assert "not the di-tau mass regression" in line
    converted = convert_higgsml_csv(write_csv(higgsml_frame(8), tmp_path / "h.csv"), tmp_path / "h.root")["output"]
    with uproot.open(converted) as file:
        branches = file["events"].arrays(library="np")
    lacking = tmp_path / "lacking.root"
    with uproot.recreate(lacking) as file:  # the HiggsML schema's required branches, but not every feature
        file["events"] = {name: values for name, values in branches.items() if name != "DER_pt_h"}
    line = one_line_error(capsys, out, "--model", str(models / "dnn.onnx"), "--input", str(lacking))
    assert "lacks branch(es) DER_pt_h of the 'higgsml' schema" in line
    assert not out.exists()


def toplandscape_table(sample_file: Path, slots: int) -> pd.DataFrame:
    """The jets of a sample file as a TopLandscape table (E_i, PX_i, PY_i, PZ_i zero-padded, is_signal_new)."""
    with uproot.open(sample_file) as file:
        jets = file["events"].arrays(["part_E", "part_px", "part_py", "part_pz", "is_signal_new"], library="np")
    columns: dict[str, np.ndarray] = {}
    for ours, theirs in (("part_E", "E"), ("part_px", "PX"), ("part_py", "PY"), ("part_pz", "PZ")):
        padded = np.zeros((len(jets[ours]), slots))
        for row, values in enumerate(jets[ours]):
            padded[row, : len(values)] = values[:slots]
        columns.update({f"{theirs}_{i}": padded[:, i] for i in range(slots)})
    columns["is_signal_new"] = jets["is_signal_new"]
    return pd.DataFrame(columns)


def test_toplandscape_hdf5_input(finished_run, tmp_path):
    sample_file = finished_run / "results" / "samples" / TOPTAG_SAMPLE / "0.root"
    with uproot.open(sample_file) as file:
        slots = int(max(len(v) for v in file["events"]["part_E"].array(library="np")))
    h5 = tmp_path / "toplandscape.h5"
    toplandscape_table(sample_file, slots).to_hdf(h5, key="table", format="table")
    model = finished_run / "results/toptag/models/pfn.onnx"
    predict(model, h5, tmp_path / "h5.root", sample=TOPTAG_SAMPLE, shard=0)
    predict(model, sample_file, tmp_path / "root.root")
    from_h5, from_root = read_scores(tmp_path / "h5.root")[0], read_scores(tmp_path / "root.root")[0]
    np.testing.assert_array_equal(from_h5["label"], from_root["label"])
    # the jet four-vector is rebuilt from the constituents: equal to float rounding
    np.testing.assert_allclose(from_h5["score"], from_root["score"], rtol=0, atol=1e-5)


def test_higgsml_csv_input(finished_run, tmp_path):
    frame = higgsml_frame(30)
    csv = write_csv(frame, tmp_path / "training.csv")
    model = finished_run / "results/higgs/models/bdt.json"
    predict(model, csv, tmp_path / "csv.root")
    convert_higgsml_csv(csv, tmp_path / "converted.root")
    predict(model, tmp_path / "converted.root", tmp_path / "converted_scores.root")
    from_csv, samples = read_scores(tmp_path / "csv.root")
    assert samples == ["training"]
    np.testing.assert_array_equal(from_csv["entry"], np.arange(30))  # HiggsML rows are already lep-had
    np.testing.assert_array_equal(from_csv["label"], (frame["Label"] == "s").to_numpy())
    np.testing.assert_array_equal(from_csv["weight"], frame["Weight"].to_numpy())
    np.testing.assert_array_equal(from_csv["score"], read_scores(tmp_path / "converted_scores.root")[0]["score"])
    assert np.all((from_csv["score"] > 0) & (from_csv["score"] < 1))


def one_line_error(capsys, output: Path, *args: str) -> str:
    code = main(["predict", *args, "--output", str(output)])
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    errors = [line for line in lines if line.startswith("ml4hep: error:")]
    assert len(errors) == 1 and "Traceback" not in captured.err, captured.err
    return errors[0]


def test_bad_schemas_are_one_line(finished_run, tmp_path, capsys):
    results = finished_run / "results"
    top, higgs = results / "samples" / TOPTAG_SAMPLE / "0.root", results / "samples" / HIGGS_SAMPLE / "0.root"
    out = tmp_path / "out.root"

    line = one_line_error(capsys, out, "--model", str(results / "toptag/models/pfn.onnx"), "--input", str(higgs))
    assert "holds higgs events" in line and "is a toptag model" in line
    line = one_line_error(capsys, out, "--model", str(results / "higgs/models/bdt.json"), "--input", str(top))
    assert "holds toptag events" in line and "is a higgs model" in line
    line = one_line_error(capsys, out, "--model", str(results / "toptag/models/bdt_info.json"), "--input", str(top))
    assert "bdt_info.json" in line and "neither an xgboost model nor a cut window" in line
    line = one_line_error(
        capsys,
        out,
        "--model",
        str(results / "toptag/models/pfn.onnx"),
        "--input",
        str(results / "toptag/scores/pfn.root"),
    )
    assert "no TTree 'events'" in line
    wrong_branches = tmp_path / "other.root"
    with uproot.recreate(wrong_branches) as file:
        file["events"] = {"px": np.ones(3), "py": np.ones(3)}
    line = one_line_error(
        capsys, out, "--model", str(results / "toptag/models/pfn.onnx"), "--input", str(wrong_branches)
    )
    assert "in no sample schema" in line and "lacking" in line
    line = one_line_error(
        capsys, out, "--model", str(results / "higgs/models/mass_regression.pt"), "--input", str(higgs)
    )
    assert "mass_regression.pt" in line and "neither a top tagger nor a Higgs classifier" in line
    truncated = tmp_path / "pfn.onnx"
    truncated.write_bytes((results / "toptag/models/pfn.onnx").read_bytes()[:100])
    line = one_line_error(
        capsys, out, "--model", str(truncated), "--input", str(top), "--config", str(results / "provenance.json")
    )
    assert "not a readable ONNX model" in line
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text(json.dumps({"toptag": {"max_constituents": 7}}))
    line = one_line_error(
        capsys, out, "--model", str(results / "toptag/models/pfn.onnx"), "--input", str(top), "--config", str(narrow)
    )
    assert "expects shape" in line and "--config" in line
    csv = write_csv(higgsml_frame(5), tmp_path / "training.csv")
    line = one_line_error(capsys, out, "--model", str(results / "toptag/models/pfn.onnx"), "--input", csv)
    assert "holds higgs events (higgsml schema)" in line
    assert not out.exists()
