from __future__ import annotations

import pytest

from ml4hep.cli import main
from ml4hep.io import read_tree

from .conftest import ROOT


def test_check_config_lists_processes(capsys):
    assert main(["check-config", str(ROOT / "config" / "test.yaml")]) == 0
    out = capsys.readouterr().out
    assert "higgs_ztautau: 1400 events in 4 shard(s)" in out


def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("seed: -3\n")
    assert main(["check-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ml4hep: error: invalid configuration") and "config key 'seed'" in err
    assert "Traceback" not in err


def test_generate_one_shard(tmp_path, tiny_samples):
    """The command writes the shard that the workflow's generation job writes (same seed, same jets)."""
    out = tmp_path / "qcd.root"
    assert (
        main(
            [
                "generate",
                "--config",
                str(ROOT / "config" / "test.yaml"),
                "--process",
                "toptag_qcd",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    jets = read_tree(out, ["jet_pt", "jet_eta", "npart"])
    reference = read_tree(tiny_samples["toptag_qcd"], ["jet_pt", "jet_eta", "npart"])
    assert len(jets) == len(reference) > 10
    assert jets["jet_pt"].tolist() == reference["jet_pt"].tolist()
    assert ((jets["jet_pt"] > 550) & (jets["jet_pt"] < 650) & (abs(jets["jet_eta"]) < 2)).tolist() == [True] * len(jets)
    assert min(jets["npart"].tolist()) >= 1


def test_version_is_printed(capsys):
    from ml4hep import __version__

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"ml4hep {__version__}"


def test_check_config_merges_over_the_default_as_the_workflow_does(tmp_path, capsys):
    config = tmp_path / "mine.yaml"
    config.write_text("tasks: [toptag]\nsamples: {toptag: {processes: {qcd: {events: 900}}}}\n")
    assert main(["check-config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "merged over" in out and "tasks: toptag" in out
    assert "toptag_qcd: 900 events" in out
    assert "toptag_ttbar:" in out  # kept from the default, as Snakemake keeps it


def test_yaml_syntax_error_names_file_and_line(tmp_path, capsys):
    config = tmp_path / "broken.yaml"
    config.write_text("seed: 3\ntoptag:\n  split: {train: 0.6\n")
    assert main(["check-config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(config) in err[0] and "line 4" in err[0] and "YAML syntax error" in err[0]


@pytest.mark.parametrize("shard", ["99", "-1"])
def test_generate_a_shard_that_does_not_exist_is_one_line(tmp_path, capsys, shard):
    assert (
        main(
            [
                "generate",
                "--config",
                str(ROOT / "config" / "test.yaml"),
                "--process",
                "toptag_qcd",
                "--shard",
                shard,
                "--output",
                str(tmp_path / "x.root"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--shard {shard}: toptag_qcd has" in err[0]
    assert not (tmp_path / "x.root").exists()
