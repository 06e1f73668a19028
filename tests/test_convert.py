"""Tests of the HiggsML CSV and TopLandscape HDF5 converters."""

from __future__ import annotations

import re
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest

from ml4hep.cli import main
from ml4hep.convert import (
    HIGGSML_DER_COLUMNS,
    HIGGSML_FEATURES,
    HIGGSML_PRI_COLUMNS,
    convert_higgsml_csv,
    convert_toplandscape_hdf5,
)
from ml4hep.errors import ConfigError, EmptySampleError, InputFileError, OutputPathError
from ml4hep.io import read_tree

N_ROWS = 20


def higgsml_frame(n: int = N_ROWS, *, open_data: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    data: dict[str, object] = {"EventId": np.arange(100000, 100000 + n)}
    for column in HIGGSML_FEATURES:
        data[column] = np.round(rng.uniform(-3.0, 300.0, n), 3)
    data["PRI_jet_num"] = rng.integers(0, 4, n)
    data["DER_mass_MMC"] = np.where(np.arange(n) % 4 == 0, -999.0, data["DER_mass_MMC"])
    data["PRI_jet_leading_pt"] = np.where(data["PRI_jet_num"] == 0, -999.0, data["PRI_jet_leading_pt"])
    data["Weight"] = rng.uniform(0.001, 5.0, n)
    data["Label"] = np.where(np.arange(n) % 3 == 0, "s", "b")
    if open_data:
        data["KaggleSet"] = np.array(["t", "b", "v", "u"])[np.arange(n) % 4]
        data["KaggleWeight"] = rng.uniform(0.001, 5.0, n)
    return pd.DataFrame(data)


def write_csv(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("open_data", [False, True])
def test_higgsml_round_trip(tmp_path, open_data):
    frame = higgsml_frame(open_data=open_data)
    csv = write_csv(frame, tmp_path / "training.csv")
    out = tmp_path / "higgs.root"
    summary = convert_higgsml_csv(csv, out, chunk_rows=7)  # several chunks

    expected_signal = int((frame["Label"] == "s").sum())
    assert summary["rows"] == N_ROWS
    assert summary["signal_rows"] == expected_signal
    assert summary["background_rows"] == N_ROWS - expected_signal
    assert summary["sum_weights"] == pytest.approx(frame["Weight"].sum())

    events = read_tree(out)
    expected_fields = {"EventId", *HIGGSML_DER_COLUMNS, *HIGGSML_PRI_COLUMNS, "weight", "label"}
    if open_data:
        expected_fields |= {"kaggle_set", "kaggle_weight"}
    assert set(events.fields) == expected_fields
    assert len(HIGGSML_DER_COLUMNS) == 13 and len(HIGGSML_PRI_COLUMNS) == 17

    for column in HIGGSML_FEATURES:
        values = ak.to_numpy(events[column])
        assert values.dtype == (np.int32 if column == "PRI_jet_num" else np.float64), column
        np.testing.assert_array_equal(values, frame[column].to_numpy())
    assert ak.to_numpy(events["EventId"]).dtype == np.int64
    np.testing.assert_array_equal(ak.to_numpy(events["EventId"]), frame["EventId"].to_numpy())
    np.testing.assert_array_equal(ak.to_numpy(events["weight"]), frame["Weight"].to_numpy())

    undefined = frame["DER_mass_MMC"].to_numpy() == -999.0
    assert undefined.any()
    assert np.all(ak.to_numpy(events["DER_mass_MMC"])[undefined] == -999.0)

    label = ak.to_numpy(events["label"])
    assert label.dtype == np.int32
    np.testing.assert_array_equal(label, (frame["Label"] == "s").to_numpy().astype(np.int32))

    if open_data:
        kaggle_set = ak.to_numpy(events["kaggle_set"])
        assert kaggle_set.dtype == np.int32
        mapping = {"t": 0, "b": 1, "v": 2, "u": 3}
        np.testing.assert_array_equal(kaggle_set, frame["KaggleSet"].map(mapping).to_numpy())
        np.testing.assert_array_equal(ak.to_numpy(events["kaggle_weight"]), frame["KaggleWeight"].to_numpy())


def test_higgsml_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(InputFileError, match=re.escape(str(path)) + ".*does not exist"):
        convert_higgsml_csv(path, tmp_path / "out.root")


def test_higgsml_missing_columns(tmp_path):
    csv = write_csv(higgsml_frame().drop(columns=["Label", "PRI_met"]), tmp_path / "test.csv")
    with pytest.raises(InputFileError, match=re.escape(csv) + r".*missing column\(s\) PRI_met, Label") as info:
        convert_higgsml_csv(csv, tmp_path / "out.root")
    assert not isinstance(info.value, EmptySampleError)
    assert not (tmp_path / "out.root").exists()


def test_higgsml_bad_label(tmp_path):
    frame = higgsml_frame()
    frame.loc[[2, 5, 11], "Label"] = "x"
    csv = write_csv(frame, tmp_path / "training.csv")
    with pytest.raises(InputFileError, match=re.escape(csv) + r".*Label.*'x' \(3 rows\)"):
        convert_higgsml_csv(csv, tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()


def test_higgsml_bad_kaggle_set(tmp_path):
    frame = higgsml_frame(open_data=True)
    frame.loc[4, "KaggleSet"] = "q"
    csv = write_csv(frame, tmp_path / "open.csv")
    with pytest.raises(InputFileError, match=re.escape(csv) + r".*KaggleSet.*'q' \(1 rows\)"):
        convert_higgsml_csv(csv, tmp_path / "out.root")


def test_higgsml_empty_value(tmp_path):
    frame = higgsml_frame()
    frame["DER_pt_h"] = frame["DER_pt_h"].astype(object)
    frame.loc[3, "DER_pt_h"] = ""
    csv = write_csv(frame, tmp_path / "training.csv")
    with pytest.raises(InputFileError, match=re.escape(csv) + r".*DER_pt_h \(1 rows, first data row 4\)"):
        convert_higgsml_csv(csv, tmp_path / "out.root")


def test_higgsml_no_rows(tmp_path):
    csv = write_csv(higgsml_frame().iloc[:0], tmp_path / "empty.csv")
    with pytest.raises(EmptySampleError, match=re.escape(csv) + ".*no data rows"):
        convert_higgsml_csv(csv, tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()
    blank = tmp_path / "blank.csv"
    blank.write_text("")
    with pytest.raises(EmptySampleError, match=re.escape(str(blank))):
        convert_higgsml_csv(blank, tmp_path / "out.root")


# ----------------------------------------------------------------------------------------------------------------
# TopLandscape
# ----------------------------------------------------------------------------------------------------------------

SLOTS = 3
# (E, px, py, pz) per slot; jet 1 has one zero-padded slot, jet 3 two.
JETS = [
    [(50.0, 30.0, 20.0, 30.0), (40.0, 25.0, -10.0, 28.0), (10.0, 6.0, 2.0, 7.0)],
    [(80.0, -40.0, 30.0, 55.0), (30.0, -20.0, 10.0, 18.0), (0.0, 0.0, 0.0, 0.0)],
    [(60.0, 10.0, -45.0, 35.0), (20.0, 5.0, -15.0, 10.0), (5.0, 1.0, -4.0, 2.0)],
    [(70.0, -50.0, -40.0, 20.0), (0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)],
]
LABELS = [1, 0, 1, 0]


def toplandscape_frame() -> pd.DataFrame:
    values = np.array(JETS, dtype=np.float32)  # (jets, slots, 4)
    data: dict[str, object] = {}
    for k, component in enumerate(("E", "PX", "PY", "PZ")):
        for i in range(SLOTS):
            data[f"{component}_{i}"] = values[:, i, k]
    for component in ("truthE", "truthPX", "truthPY", "truthPZ"):
        data[component] = np.full(len(JETS), 123.0, dtype=np.float32)
    data["ttv"] = np.zeros(len(JETS), dtype=np.int64)
    data["is_signal_new"] = np.array(LABELS, dtype=np.int64)
    return pd.DataFrame(data)


def write_h5(frame: pd.DataFrame, path, key: str = "table") -> str:
    frame.to_hdf(path, key=key, format="table")
    return str(path)


def test_toplandscape_conversion(tmp_path):
    h5 = write_h5(toplandscape_frame(), tmp_path / "train.h5")
    out = tmp_path / "top.root"
    summary = convert_toplandscape_hdf5(h5, out, chunk_rows=3)  # two chunks
    assert summary["jets"] == 4
    assert summary["signal_jets"] == 2
    assert summary["background_jets"] == 2
    assert summary["constituent_slots"] == SLOTS

    jets = read_tree(out)
    assert set(jets.fields) == {
        "jet_pt", "jet_eta", "jet_phi", "jet_mass", "is_signal_new", "weight",
        "npart", "part_E", "part_px", "part_py", "part_pz",
    }  # fmt: skip
    assert ak.to_list(jets["npart"]) == [3, 2, 3, 1]
    assert ak.to_list(ak.num(jets["part_E"])) == [3, 2, 3, 1]
    assert ak.all(jets["part_E"] > 0)
    np.testing.assert_array_equal(ak.to_numpy(jets["is_signal_new"]), LABELS)
    assert ak.to_numpy(jets["is_signal_new"]).dtype == np.int32
    np.testing.assert_array_equal(ak.to_numpy(jets["weight"]), np.ones(4))

    # constituents in the file's order, padding dropped
    assert ak.to_list(jets["part_E"][1]) == [80.0, 30.0]
    assert ak.to_list(jets["part_px"][1]) == [-40.0, -20.0]
    assert ak.to_list(jets["part_pz"][3]) == [20.0]

    # jet four-vector by hand for jet 1 (two real constituents)
    e = 80.0 + 30.0
    px = -40.0 - 20.0
    py = 30.0 + 10.0
    pz = 55.0 + 18.0
    pt = np.sqrt(px**2 + py**2)
    assert jets["jet_pt"][1] == pytest.approx(pt)
    assert jets["jet_mass"][1] == pytest.approx(np.sqrt(e**2 - px**2 - py**2 - pz**2))
    assert jets["jet_eta"][1] == pytest.approx(np.arcsinh(pz / pt))
    assert jets["jet_phi"][1] == pytest.approx(np.arctan2(py, px))
    phi = ak.to_numpy(jets["jet_phi"])
    assert np.all((phi >= -np.pi) & (phi <= np.pi))
    assert np.all(ak.to_numpy(jets["jet_mass"]) >= 0)


def test_toplandscape_truncation(tmp_path):
    h5 = write_h5(toplandscape_frame(), tmp_path / "train.h5")
    out = tmp_path / "top.root"
    convert_toplandscape_hdf5(h5, out, max_constituents=2)
    jets = read_tree(out)
    assert ak.to_list(jets["npart"]) == [2, 2, 2, 1]
    assert ak.to_list(jets["part_E"][0]) == [50.0, 40.0]
    # the jet four-vector still uses every constituent
    assert jets["jet_pt"][0] == pytest.approx(np.hypot(30.0 + 25.0 + 6.0, 20.0 - 10.0 + 2.0))


def test_toplandscape_missing_file(tmp_path):
    path = tmp_path / "nope.h5"
    with pytest.raises(InputFileError, match=re.escape(str(path)) + ".*does not exist"):
        convert_toplandscape_hdf5(path, tmp_path / "out.root")


def test_toplandscape_not_hdf5(tmp_path):
    path = tmp_path / "fake.h5"
    path.write_text("this is not HDF5\n")
    with pytest.raises(InputFileError, match=re.escape(str(path)) + ".*not a readable HDF5 file"):
        convert_toplandscape_hdf5(path, tmp_path / "out.root")


def test_toplandscape_missing_key(tmp_path):
    h5 = write_h5(toplandscape_frame(), tmp_path / "train.h5", key="jets")
    with pytest.raises(InputFileError, match=re.escape(h5) + r".*no key 'table'.*/jets"):
        convert_toplandscape_hdf5(h5, tmp_path / "out.root")


def test_toplandscape_missing_columns(tmp_path):
    h5 = write_h5(toplandscape_frame().drop(columns=["PY_1", "is_signal_new"]), tmp_path / "train.h5")
    with pytest.raises(InputFileError, match=re.escape(h5) + r".*missing column\(s\) PY_1, is_signal_new"):
        convert_toplandscape_hdf5(h5, tmp_path / "out.root")
    frame = toplandscape_frame()
    h5 = write_h5(frame.drop(columns=[c for c in frame.columns if c.startswith("E_")]), tmp_path / "noE.h5")
    with pytest.raises(InputFileError, match=re.escape(h5) + r".*missing column\(s\) E_0"):
        convert_toplandscape_hdf5(h5, tmp_path / "out.root")


def test_toplandscape_empty(tmp_path):
    h5 = write_h5(toplandscape_frame(), tmp_path / "empty.h5")
    with pd.HDFStore(h5) as store:  # pandas does not write an empty table: write one, then delete its rows
        store.remove("table", start=0, stop=len(JETS))
    with pytest.raises(EmptySampleError, match=re.escape(h5) + ".*no rows"):
        convert_toplandscape_hdf5(h5, tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()


@pytest.mark.parametrize("fmt", ["higgsml", "toplandscape"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path, fmt):
    source = (
        write_csv(higgsml_frame(), tmp_path / "same.csv")
        if fmt == "higgsml"
        else write_h5(toplandscape_frame(), tmp_path / "same.h5")
    )
    before = Path(source).read_bytes()
    convert = convert_higgsml_csv if fmt == "higgsml" else convert_toplandscape_hdf5
    (tmp_path / "sub").mkdir()
    link = tmp_path / "sub" / "link"
    link.symlink_to(source)
    for output in (source, tmp_path / "sub" / ".." / Path(source).name, link):
        with pytest.raises(OutputPathError, match="is the input file"):
            convert(source, output)
    with pytest.raises(OutputPathError, match="is a folder"):
        convert(source, tmp_path / "sub")
    assert Path(source).read_bytes() == before


def test_cli_refuses_the_input_as_output_in_one_line(tmp_path, capsys):
    csv = write_csv(higgsml_frame(), tmp_path / "same.csv")
    assert main(["convert", "higgsml", csv, csv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is the input file" in err[0] and csv in err[0]


def test_toplandscape_non_finite_constituent_is_named_not_taken_for_padding(tmp_path):
    frame = toplandscape_frame()
    frame.loc[2, "E_1"] = np.nan
    h5 = write_h5(frame, tmp_path / "nan.h5")
    with pytest.raises(InputFileError, match=re.escape(h5) + r".*column E_1 holds nan at row 2"):
        convert_toplandscape_hdf5(h5, tmp_path / "out.root")
    frame = toplandscape_frame()
    frame.loc[0, "PX_0"] = np.inf
    h5 = write_h5(frame, tmp_path / "inf.h5")
    with pytest.raises(InputFileError, match=r"column PX_0 holds inf at row 0"):
        convert_toplandscape_hdf5(h5, tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()


def test_toplandscape_zero_constituents_is_one_clear_error(tmp_path):
    h5 = write_h5(toplandscape_frame(), tmp_path / "train.h5")
    with pytest.raises(ConfigError, match="max_constituents must be a positive"):
        convert_toplandscape_hdf5(h5, tmp_path / "out.root", max_constituents=0)


def test_toplandscape_plain_hdf5_node_is_named_as_not_a_pandas_table(tmp_path):
    import tables

    path = tmp_path / "plain.h5"
    with tables.open_file(path, "w") as handle:
        handle.create_array("/", "table", np.zeros((3, 4)))
    with pytest.raises(InputFileError, match=r"node '/table' is not a pandas table"):
        convert_toplandscape_hdf5(path, tmp_path / "out.root")
