from __future__ import annotations

import re
import socket

import awkward as ak
import numpy as np
import pytest

from ml4hep.errors import EmptySampleError, InputFileError
from ml4hep.io import read_sample, read_tree, to_branches, write_root


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.root"
    jets = ak.zip({"pt": ak.Array([[50.0, 30.0], [], [40.0]]), "eta": ak.Array([[0.1, -1.0], [], [2.0]])})
    write_root(path, {"events": {"met": np.array([10.0, 20.0, 30.0]), "jet": jets}})
    return path


def test_round_trip(good_file):
    events = read_tree(good_file)
    assert events.met.tolist() == [10.0, 20.0, 30.0]
    assert events.jet_pt.tolist() == [[50.0, 30.0], [], [40.0]]
    assert events.njet.tolist() == [2, 0, 1]


def test_to_branches_round_trip_keeps_one_counter(good_file, tmp_path):
    out = write_root(tmp_path / "again.root", {"events": to_branches(read_tree(good_file))})
    again = read_tree(out)
    assert sorted(again.fields) == sorted(read_tree(good_file).fields)
    assert again.jet_eta.tolist() == [[0.1, -1.0], [], [2.0]]


def test_branch_map_renames(good_file):
    events = read_tree(good_file, ["missing_et"], branch_map={"missing_et": "met"})
    assert events.missing_et.tolist() == [10.0, 20.0, 30.0]


def test_no_partial_file_is_left_behind(tmp_path):
    with pytest.raises(TypeError):
        write_root(tmp_path / "bad.root", {"events": {"x": object()}})
    assert list(tmp_path.iterdir()) == []


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match=r"nope\.root: file does not exist"):
        read_tree(tmp_path / "nope.root")


def test_not_a_root_file(tmp_path):
    path = tmp_path / "notes.root"
    path.write_text("these are not ROOT bytes\n" * 10)
    with pytest.raises(InputFileError, match=r"notes\.root: not a readable ROOT file"):
        read_tree(path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.root"
    path.touch()
    with pytest.raises(InputFileError, match=r"empty\.root: file is empty"):
        read_tree(path)


def test_truncated_file(good_file, tmp_path):
    data = good_file.read_bytes()
    path = tmp_path / "truncated.root"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"truncated\.root: "):
        read_tree(path)


def test_missing_tree(good_file):
    with pytest.raises(InputFileError, match=r"good\.root: no TTree 'Delphes' \(trees in the file: \['events'\]\)"):
        read_tree(good_file, tree="Delphes")


def test_missing_branch(good_file):
    with pytest.raises(InputFileError, match=r"good\.root: TTree 'events' lacks branch\(es\) tau_pt"):
        read_tree(good_file, ["met", "tau_pt"])
    with pytest.raises(InputFileError, match=r"lacks branch\(es\) met \(as 'MET'\)"):
        read_tree(good_file, ["met"], branch_map={"met": "MET"})


def test_empty_tree(tmp_path):
    path = write_root(tmp_path / "empty_tree.root", {"events": {"met": np.array([], dtype=float)}})
    with pytest.raises(EmptySampleError, match=r"empty_tree\.root: TTree 'events' has no entries"):
        read_tree(path)
    assert len(read_tree(path, allow_empty=True)) == 0
    with pytest.raises(EmptySampleError, match="sample 'higgs_ztautau' has no entries"):
        read_sample([path, path], name="higgs_ztautau")


def test_read_sample_concatenates_shards(good_file):
    events = read_sample([good_file, good_file], ["met"])
    assert len(events) == 6


def test_refused_connection_and_unknown_host_fail_at_once(caplog):
    for url, problem in (
        (f"root://127.0.0.1:{_free_port()}//nowhere/top.root", "connection refused by 127.0.0.1"),
        ("root://no-such-host.invalid//nowhere/top.root", "unknown host 'no-such-host.invalid'"),
    ):
        caplog.clear()
        with caplog.at_level("WARNING"), pytest.raises(InputFileError, match=re.escape(problem)):
            read_tree(url, retries=3, retry_wait=5.0)
        assert "retry" not in caplog.text, "a refused connection or an unknown host is not retried"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_folder_given_as_input_is_one_clear_error(tmp_path):
    with pytest.raises(InputFileError, match=re.escape(str(tmp_path)) + ": is a folder, not a ROOT file"):
        read_tree(tmp_path)


def test_the_next_write_removes_a_stale_partial_and_a_failed_write_keeps_the_old_file(tmp_path):
    """A killed write leaves only the hidden temporary; the next write of the same file removes it. A write that
    fails leaves the previous file as it was and no temporary."""
    from ml4hep.io import partial_path, write_json

    for target, write in (
        (tmp_path / "a.root", lambda path, x: write_root(path, {"events": {"x": np.array([x])}})),
        (tmp_path / "a.json", lambda path, x: write_json(path, {"x": x})),
    ):
        stale = partial_path(target)
        stale.write_bytes(b"half a file from a killed job")
        write(target, 1.0)
        assert not stale.exists()
        before = target.read_bytes()
        with pytest.raises(TypeError):
            write(target, object())  # not storable: the write fails midway
        assert target.read_bytes() == before and not stale.exists()
