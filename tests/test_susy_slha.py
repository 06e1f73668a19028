import numpy as np
import pytest

from ml4hep.cli import main
from ml4hep.susy.scan import PARAMETERS, sample_points
from ml4hep.susy.slha import SLHAError, read_slha, write_slha
from ml4hep.susy.spectrum import mass_block, spectrum


def one_point(seed=4):
    points = sample_points(1, seed)
    return {name: float(points[name][0]) for name in PARAMETERS}


def test_round_trip(tmp_path):
    point = one_point()
    masses = spectrum({k: np.array([v]) for k, v in point.items()})
    path = write_slha(tmp_path / "p.slha", point, mass_block(masses))
    back = read_slha(path)
    assert list(back) == list(PARAMETERS)
    for name in PARAMETERS:
        assert back[name] == pytest.approx(point[name], rel=1e-7)
    assert "BLOCK MASS" in path.read_text()


def _entry(line, index, value):
    """Whether ``line`` is the SLHA entry ``index value``."""
    parts = line.split()
    return len(parts) == 2 and parts[0] == str(index) and float(parts[1]) == pytest.approx(value)


def _without(text, predicate):
    return "\n".join(line for line in text.splitlines() if not predicate(line)) + "\n"


def test_missing_block_is_named(tmp_path):
    text = write_slha(tmp_path / "p.slha", one_point()).read_text()
    bad = tmp_path / "no_extpar.slha"
    bad.write_text(text.replace("BLOCK EXTPAR", "BLOCK OTHER"))
    with pytest.raises(SLHAError, match="missing block EXTPAR"):
        read_slha(bad)


def test_missing_parameter_is_named(tmp_path):
    text = write_slha(tmp_path / "p.slha", one_point()).read_text()
    bad = tmp_path / "no_mu.slha"
    bad.write_text(_without(text, lambda line: line.split()[:1] == ["23"]))
    with pytest.raises(SLHAError, match=r"EXTPAR 23 \(mu\)"):
        read_slha(bad)


def test_tanb_from_minpar_or_named_when_missing(tmp_path):
    point = one_point()
    text = write_slha(tmp_path / "p.slha", point).read_text()
    only_minpar = tmp_path / "minpar.slha"
    only_minpar.write_text(_without(text, lambda line: line.split()[:1] == ["25"]))
    assert read_slha(only_minpar)["tanb"] == pytest.approx(point["tanb"])
    neither = tmp_path / "neither.slha"
    neither.write_text(_without(only_minpar.read_text(), lambda line: _entry(line, 3, point["tanb"])))
    with pytest.raises(SLHAError, match="tan beta"):
        read_slha(neither)


def test_garbage_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.slha"
    garbage.write_text("BLOCK EXTPAR\n   1   not-a-number\n")
    with pytest.raises(SLHAError):
        read_slha(garbage)
    with pytest.raises(SLHAError, match="does not exist"):
        read_slha(tmp_path / "nothing.slha")


def test_cli_prints_one_line_for_a_malformed_file(tmp_path, capsys):
    point = one_point()
    text = write_slha(tmp_path / "p.slha", point).read_text()
    bad = tmp_path / "no_m3.slha"
    bad.write_text(_without(text, lambda line: _entry(line, 3, point["M3"])))
    assert main(["susy", "predict", str(bad), "--models", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_m3.slha" in err[0] and "EXTPAR 3 (M3)" in err[0]


def test_scan_shard_writes_root_and_slha(tmp_path):
    from ml4hep.susy.scan import read_points, scan_shard

    scan_shard(4, 9, None, tmp_path / "scan.root", slha_dir=tmp_path / "slha", first_id=10)
    table = read_points(tmp_path / "scan.root", extra=("point_id",))
    assert list(table["point_id"]) == [10, 11, 12, 13]
    for i, point_id in enumerate(table["point_id"]):
        back = read_slha(tmp_path / "slha" / f"point_{point_id}.slha")
        for name in PARAMETERS:
            assert back[name] == pytest.approx(table[name][i], rel=1e-7)


def test_a_duplicated_block_or_entry_is_reported_as_a_duplicate(tmp_path):
    text = write_slha(tmp_path / "p.slha", one_point()).read_text()
    block = text[text.upper().index("BLOCK EXTPAR") :]
    twice = tmp_path / "twice.slha"
    twice.write_text(text.rstrip("\n") + "\n" + block)
    with pytest.raises(SLHAError, match=r"block EXTPAR appears twice \(lines \d+ and \d+\)"):
        read_slha(twice)
    entry = next(line for line in block.splitlines()[1:] if line.split() and line.split()[0] == "3")
    repeated = tmp_path / "repeated.slha"
    repeated.write_text(text.replace(entry, f"{entry}\n{entry}", 1))
    with pytest.raises(SLHAError, match=r"entry EXTPAR 3 appears twice"):
        read_slha(repeated)


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_a_non_finite_parameter_in_a_table_is_an_error(tmp_path, value):
    from ml4hep.errors import InputFileError
    from ml4hep.susy.scan import read_points, write_csv

    points = sample_points(3, 1)
    table = write_csv(tmp_path / "points.csv", points)
    lines = table.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[2].split(",")
    row[header.index("tanb")] = value
    lines[2] = ",".join(row)
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=rf"column tanb holds {value} at row 1"):
        read_points(table)
