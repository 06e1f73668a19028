from __future__ import annotations

import pytest

from ml4hep.cli import main
from ml4hep.io import read_tree

from .conftest import ROOT


def test_check_config_lists_processes(capsys):
    assert main(["check-config", str(ROOT / "config" / "test.yaml")]) == 0
    out = capsys.readouterr().out
    assert "higgs_ztautau: 4000 events in 10 shard(s)" in out


def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("seed: -3\n")
    assert main(["check-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ml4hep: error: invalid configuration") and "config key 'seed'" in err
    assert "Traceback" not in err


def test_generate_one_shard(tmp_path):
    out = tmp_path / "qcd.root"
    assert main(["generate", "--config", str(ROOT / "config" / "test.yaml"), "--process", "toptag_qcd",
                 "--output", str(out)]) == 0
    assert len(read_tree(out, ["jet_pt"])) > 0


def test_version_is_printed(capsys):
    from ml4hep import __version__

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"ml4hep {__version__}"
