"""The HEPData record: hepdata-lib's validator accepts it, and its numbers are the tasks' metrics.json values.

hepdata-lib writes values with 5 significant digits, so the numbers are compared to a relative 1e-4.
"""

from __future__ import annotations

import gc
import json
import tarfile
from pathlib import Path

import pytest
import yaml

from ml4hep.hepdata import TABLE_FILES, write_record

# hepdata-validator 0.3.6 (like pyhf 0.7.6) resolves its schemas with the deprecated jsonschema.RefResolver, and it
# reads the table files with open() without closing them (ResourceWarning when they are collected)
pytestmark = [
    pytest.mark.filterwarnings("ignore:jsonschema.*RefResol:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
REL = 1e-4


@pytest.fixture(autouse=True)
def collect_leaked_files():
    """The validator's unclosed files are collected within the test that opened them, under its warning filters."""
    yield
    gc.collect()


HIGGS = {
    "display_names": {"bdt": "BDT (xgboost)", "cut": "cut-based"},
    "limits": {
        "cut": {"mu_expected": 2.0, "band": [1.0, 1.4, 2.0, 2.9, 4.1], "significance": 1.1},
        "bdt": {"mu_expected": 0.8123456, "band": [0.41, 0.57, 0.8123456, 1.2, 1.71], "significance": 2.6},
    },
    "heavy_limits": {
        "400": {"mass": 400.0, "xsec_band_pb": [0.2, 0.3, 0.45, 0.7, 1.0]},
        "300": {"mass": 300.0, "xsec_band_pb": [0.5, 0.7, 1.0, 1.5, 2.2]},
    },
}
TOPTAG = {
    "taggers": {
        "pfn": {"auc": 0.91234, "auc_err": 0.004, "r30": 55.5, "r30_err": 6.1, "r50": 21.0, "r50_err": 1.7},
        "bdt": {"auc": 0.88, "auc_err": 0.005, "r30": "inf", "r30_err": None, "r50": 12.5, "r50_err": 1.1},
    }
}


def validate(folder: Path, archive: Path) -> None:
    """hepdata-validator on the folder and on the archive, with its messages on failure."""
    from hepdata_validator.full_submission_validator import FullSubmissionValidator

    for kind, target in (("directory", folder), ("archive", archive)):
        validator = FullSubmissionValidator()
        valid = validator.validate(**{kind: str(target)})
        assert valid, f"{kind}: {validator.get_messages()}"


def table(folder: Path, key: str) -> dict:
    return yaml.safe_load((folder / TABLE_FILES[key]).read_text())


def dependent(data: dict, name: str) -> list[dict]:
    return next(v for v in data["dependent_variables"] if v["header"]["name"] == name)["values"]


def check_higgs(folder: Path, higgs: dict) -> None:
    mu = table(folder, "higgs_mu")
    names = [v["value"] for v in mu["independent_variables"][0]["values"]]
    assert names == [higgs.get("display_names", {}).get(n, n) for n in higgs["limits"]]
    for value, limit in zip(dependent(mu, "Expected limit on mu"), higgs["limits"].values(), strict=True):
        band = limit["band"]
        assert value["value"] == pytest.approx(band[2], rel=REL)
        errors = {e["label"]: e["asymerror"] for e in value["errors"]}
        assert band[2] + errors["1 sigma"]["minus"] == pytest.approx(band[1], rel=REL)
        assert band[2] + errors["2 sigma"]["plus"] == pytest.approx(band[4], rel=REL)
    significances = [v["value"] for v in dependent(mu, "Expected significance")]
    assert significances == pytest.approx([v["significance"] for v in higgs["limits"].values()], rel=REL)
    if higgs.get("heavy_limits"):
        heavy = table(folder, "higgs_heavy")
        entries = sorted(higgs["heavy_limits"].values(), key=lambda e: e["mass"])
        assert [v["value"] for v in heavy["independent_variables"][0]["values"]] == [e["mass"] for e in entries]
        limits = [v["value"] for v in dependent(heavy, "Expected limit on sigma x B")]
        assert limits == pytest.approx([e["xsec_band_pb"][2] for e in entries], rel=REL)


def check_toptag(folder: Path, toptag: dict) -> None:
    data = table(folder, "toptag")
    for key, title in (("auc", "AUC"), ("r30", "R30"), ("r50", "R50")):
        values = dependent(data, title)
        expected = [float(m[key]) for m in toptag["taggers"].values()]  # an infinite rejection is "inf" in JSON
        assert [float(v["value"]) for v in values] == pytest.approx(expected, rel=REL)
        for value, m in zip(values, toptag["taggers"].values(), strict=True):
            if m.get(f"{key}_err"):
                assert value["errors"][0]["symerror"] == pytest.approx(m[f"{key}_err"], rel=REL)
            else:
                assert not value.get("errors")


def test_record_is_valid_and_holds_the_metrics(tmp_path):
    paths = {"higgs": tmp_path / "higgs.json", "toptag": tmp_path / "toptag.json", "pdf": tmp_path / "pdf.json"}
    for path, content in zip(paths.values(), (HIGGS, TOPTAG, {"closure": {}}), strict=True):
        path.write_text(json.dumps(content))
    folder = tmp_path / "hepdata"
    archive = tmp_path / "hepdata.tar.gz"
    assert write_record(paths, folder, archive) == ["higgs_mu", "higgs_heavy", "toptag"]
    validate(folder, archive)
    check_higgs(folder, HIGGS)
    check_toptag(folder, TOPTAG)
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == sorted(["submission.yaml", *TABLE_FILES.values()])
    assert not (Path.cwd() / "submission.tar.gz").exists()  # hepdata-lib's tarball is not left in the cwd


def test_record_of_one_task_and_of_none(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths, as a rule passes them
    path = tmp_path / "toptag.json"
    path.write_text(json.dumps(TOPTAG))
    assert write_record({"toptag": path}, Path("one"), Path("one.tar.gz")) == ["toptag"]
    validate(tmp_path / "one", tmp_path / "one.tar.gz")
    with pytest.raises(ValueError, match="no HEPData table"):
        write_record({}, tmp_path / "none", tmp_path / "none.tar.gz")


@pytest.mark.workflow
def test_the_run_writes_a_valid_record_of_its_metrics(finished_run):
    folder = finished_run / "results" / "hepdata"
    validate(folder, finished_run / "results" / "hepdata.tar.gz")
    check_higgs(folder, json.loads((finished_run / "results/higgs/metrics.json").read_text()))
    check_toptag(folder, json.loads((finished_run / "results/toptag/metrics.json").read_text()))
