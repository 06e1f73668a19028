"""ml4hep.previous: the outputs a run redoes are kept until their jobs succeed again."""

from __future__ import annotations

from pathlib import Path

from ml4hep.previous import keep_previous, previous_note, prune_previous


def test_kept_until_the_output_exists_again(tmp_path):
    done = tmp_path / "results/higgs/metrics.json"
    failed = tmp_path / "results/samples/mine/0.root"
    for path in (done, failed):
        path.parent.mkdir(parents=True)
        path.write_text(f"good {path.name}")
    stale = tmp_path / "results/samples/mine/.1.root.partial"
    stale.write_text("half")
    assert (
        keep_previous(["results/higgs/metrics.json", "results/samples/mine/0.root", "results/none.csv"], tmp_path) == 2
    )
    failed.unlink()  # Snakemake removes a job's outputs when it starts
    done.write_text("new")  # a job that succeeded replaced its output
    missing = prune_previous(tmp_path, ["results/samples/mine/1.root"])
    assert missing == [Path("results/samples/mine/0.root")]
    assert (tmp_path / "results/.previous/samples/mine/0.root").read_text() == "good 0.root"
    assert not (tmp_path / "results/.previous/higgs").exists() and not stale.exists()
    assert "kept as results/.previous/samples/mine/0.root" in previous_note(missing)
    # a later run that fails before remaking it keeps the earlier good file rather than nothing
    assert keep_previous(["results/samples/mine/0.root"], tmp_path) == 0
    assert prune_previous(tmp_path) == missing
    failed.write_text("remade")
    assert prune_previous(tmp_path) == [] and not (tmp_path / "results/.previous").exists()
    assert previous_note([]) is None
