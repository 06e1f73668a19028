from __future__ import annotations

import numpy as np
import pytest

from ml4hep.errors import InputFileError
from ml4hep.io import read_tree, write_root
from ml4hep.samples import import_sample, summarize, write_summary


def test_import_with_branch_map_restores_the_schema(tiny_samples, tmp_path):
    original = read_tree(tiny_samples["toptag_qcd"])
    renamed = {("jetPT" if k == "jet_pt" else k): original[k] for k in original.fields if not k.startswith("n")}
    renamed = {k: v for k, v in renamed.items() if not k.startswith("part_")}
    import awkward as ak

    renamed["part"] = ak.zip({c: original[f"part_{c}"] for c in ("E", "px", "py", "pz")})
    user = write_root(tmp_path / "user.root", {"Jets": renamed})
    entry = {"format": "root", "set": "toptag", "tree": "Jets", "branch_map": {"jet_pt": "jetPT"}}
    n = import_sample(entry, str(user), tmp_path / "imported.root")
    imported = read_tree(tmp_path / "imported.root")
    assert n == len(original)
    assert imported.jet_pt.tolist() == original.jet_pt.tolist()
    assert imported.part_E.tolist() == original.part_E.tolist()
    assert "npart" in imported.fields


def test_import_names_missing_branches(tiny_samples, tmp_path):
    entry = {"format": "root", "set": "higgs", "tree": "events", "branch_map": {}}
    with pytest.raises(InputFileError, match=r"toptag_qcd\.root: TTree 'events' lacks branch\(es\) lep_pt"):
        import_sample(entry, str(tiny_samples["toptag_qcd"]), tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()


def test_summary_table(tiny_samples, test_config, tmp_path):
    from ml4hep.generate.processes import generated_processes

    spec = generated_processes(test_config)["higgs_ztautau"]
    rows = summarize({"higgs_ztautau": [tiny_samples["higgs_ztautau"]]})
    assert rows[0]["entries"] == len(read_tree(tiny_samples["higgs_ztautau"], ["met"]))
    assert rows[0]["sigma_pb"] > 100  # Z/gamma* -> tautau above 60 GeV is of order a nanobarn
    fraction = spec.shard_events(0) / spec.events
    # The Z->tautau events carry the di-tau filter's generator weights (docs/higgs.md, "The generation filter").
    generator = read_tree(tiny_samples["higgs_ztautau"], ["generator_weight"]).generator_weight
    expected = rows[0]["sigma_pb"] * 1e3 * 140 * fraction * float(np.mean(generator))
    np.testing.assert_allclose(rows[0]["sum_weights"], expected, rtol=1e-9)
    write_summary(rows, tmp_path / "s.csv", tmp_path / "s.md")
    assert "| higgs_ztautau |" in (tmp_path / "s.md").read_text()


@pytest.mark.parametrize(("branch", "value"), [("part_px", np.nan), ("jet_pt", np.inf), ("weight", np.nan)])
def test_import_names_the_first_non_finite_entry(tiny_samples, tmp_path, branch, value):
    import awkward as ak

    original = read_tree(tiny_samples["toptag_qcd"])
    columns = {k: original[k] for k in original.fields if not k.startswith("n") and not k.startswith("part_")}
    parts = {c: original[f"part_{c}"] for c in ("E", "px", "py", "pz")}
    if branch.startswith("part_"):
        flat = ak.to_numpy(ak.flatten(parts["px"])).copy()
        flat[int(np.sum(ak.to_numpy(ak.num(parts["px"]))[:3])) + 1] = value  # the second constituent of entry 3
        parts["px"] = ak.unflatten(flat, ak.num(parts["px"]))
    else:
        column = ak.to_numpy(columns[branch]).astype(float).copy()
        column[3] = value
        columns[branch] = column
    columns["part"] = ak.zip(parts)
    user = write_root(tmp_path / "bad.root", {"events": columns})
    entry = {"format": "root", "set": "toptag", "tree": "events", "branch_map": {}}
    with pytest.raises(InputFileError, match=rf"bad\.root: branch '{branch}' holds {value!r} at entry 3"):
        import_sample(entry, str(user), tmp_path / "out.root")
    assert not (tmp_path / "out.root").exists()


def test_a_job_error_names_the_users_file_not_the_copy(tmp_path, capfd):
    """A later job reads the imported copy under results/samples/ (or a table derived from it); its one-line error
    names the file the user listed in `inputs`."""
    from types import SimpleNamespace

    from ml4hep.errors import EmptySampleError
    from ml4hep.rules import rule_context

    inputs = {"mine": {"files": ["/data/a.root", "/data/b.root"]}}
    smk = SimpleNamespace(log=[str(tmp_path / "job.log")], rule="higgs_features", config={"inputs": inputs})
    copies = f"{tmp_path}/results/higgs/features/shards/mine/0.npz, results/samples/mine/1.root"
    with pytest.raises(SystemExit), rule_context(smk):
        raise EmptySampleError(copies, "no event of 'mine' passes the lep-had selection")
    line = capfd.readouterr().err.strip()
    assert line == (
        f"ERROR in rule higgs_features: /data/a.root (as {tmp_path}/results/higgs/features/shards/mine/0.npz), "
        "/data/b.root (as results/samples/mine/1.root): no event of 'mine' passes the lep-had selection"
    )
    assert line.split(": ", 1)[1] in (tmp_path / "job.log").read_text()
