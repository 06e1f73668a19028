"""Failure handling: a job (or the whole run) killed with SIGKILL mid-run leaves no output that a later rule could
consume, and rerunning completes the workflow."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from ml4hep.errors import InputFileError
from ml4hep.io import read_run_info, read_tree

from .conftest import SNAKEMAKE, copy_workflow, run_snakemake

pytestmark = pytest.mark.workflow

SHARD = "results/samples/higgs_heavyh300/0.root"
ARGS = (SHARD, "--cores", "1", "--configfile", "config/test.yaml")


def descendants(pid: int) -> list[int]:
    """PIDs of all processes below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def start_and_find_job(workdir: Path, timeout: float = 60) -> tuple[subprocess.Popen, int]:
    """Start snakemake on the shard and return it with the PID of the running generate_sample job script."""
    run = subprocess.Popen(
        [*SNAKEMAKE, *ARGS],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [p for p in descendants(run.pid) if "generate_sample" in cmdline(p) and "python" in cmdline(p)]
        if jobs:
            return run, jobs[0]
        if run.poll() is not None:
            raise AssertionError(f"snakemake ended before the job was seen:\n{run.communicate()[0][-3000:]}")
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    raise AssertionError("the generate_sample job did not start")


def assert_rerun_completes(workdir: Path) -> None:
    plan = run_snakemake(workdir, "-n", *ARGS)
    assert "generate_sample" in plan.stdout, "the killed job is planned again"
    run_snakemake(workdir, *ARGS)
    assert read_run_info(workdir / SHARD)["events_generated"] == 100
    assert not list((workdir / "results/samples").rglob(".*.partial")), "no temporary file is left behind"


def test_killed_job_leaves_no_output_and_the_rerun_completes(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    run, job = start_and_find_job(workdir)
    os.kill(job, signal.SIGKILL)
    output, _ = run.communicate(timeout=60)
    assert run.returncode != 0, output
    assert "Error in rule generate_sample" in output
    assert not (workdir / SHARD).exists(), "a killed job's output is not left for later rules"
    assert_rerun_completes(workdir)


def test_killed_run_is_redone_after_unlock(tmp_path):
    """SIGKILL to Snakemake and its job together: the output is absent, the stale lock is removed with --unlock
    (as Snakemake's message says) and the rerun (rerun-incomplete in the default profile) completes."""
    workdir = copy_workflow(tmp_path / "wf")
    run, _ = start_and_find_job(workdir)
    os.killpg(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    assert not (workdir / SHARD).exists()
    assert list((workdir / ".snakemake/incomplete").iterdir()), "Snakemake recorded the job as incomplete"
    locked = run_snakemake(workdir, *ARGS, check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout, locked.stdout[-3000:]
    run_snakemake(workdir, "--unlock", *ARGS)
    assert_rerun_completes(workdir)


def test_writer_killed_mid_file_leaves_no_output(tmp_path):
    """ml4hep.io.write_root writes a hidden temporary file and renames it when complete."""
    target = tmp_path / "shard.root"
    ready = tmp_path / "ready"
    code = textwrap.dedent(f"""
        import time
        import numpy as np
        from pathlib import Path
        from ml4hep.io import write_root

        def chunks():
            for i in range(1000):
                if i == 2:
                    Path({str(ready)!r}).touch()
                    time.sleep(60)
                yield {{"x": np.arange(1000.0) + i}}

        write_root({str(target)!r}, {{"events": chunks()}})
    """)
    writer = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and writer.poll() is None:
            time.sleep(0.05)
        assert ready.exists(), "the writer did not reach the middle of the file"
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert not target.exists()
    assert (tmp_path / ".shard.root.partial").exists(), "the half-written data went to the temporary name"
    with pytest.raises(InputFileError, match="does not exist"):
        read_tree(target)


def nan_weight_copy(good: Path, bad: Path) -> Path:
    """``good`` with the weight of entry 0 set to NaN (a bad input the import refuses)."""
    from ml4hep.io import to_branches, write_root

    events = read_tree(good)
    weights = np.asarray(events["weight"], dtype=np.float64).copy()
    weights[0] = np.nan
    events = ak.with_field(events, weights, "weight")
    return write_root(bad, {"events": to_branches(events)})


def test_failed_rerun_keeps_the_earlier_good_output(tmp_path, tiny_samples):
    """A rerun (the user's file changed) that fails: Snakemake removes the job's output, the workflow keeps the
    earlier good one under results/.previous/ and says so, the error is one line naming the user's file, the job is
    planned again, and the next successful run drops the kept copy."""
    workdir = copy_workflow(tmp_path / "wf")
    user = tmp_path / "user" / "mine.root"
    user.parent.mkdir()
    shutil.copy2(tiny_samples["higgs_ztautau"], user)
    (workdir / "mine.yaml").write_text(f"inputs: {{mine: {{files: [{user}], set: higgs}}}}\n")
    target = "results/samples/mine/0.root"
    args = (target, "--cores", "1", "--configfile", "config/test.yaml", "mine.yaml")
    run_snakemake(workdir, *args)
    good = (workdir / target).read_bytes()

    nan_weight_copy(tiny_samples["higgs_ztautau"], tmp_path / "bad.root")
    os.replace(tmp_path / "bad.root", user)
    failed = run_snakemake(workdir, *args, check=False)
    assert failed.returncode != 0
    errors = [line for line in failed.stdout.splitlines() if line.startswith("ERROR in rule import_sample")]
    assert errors == [
        f"ERROR in rule import_sample: {user}: branch 'weight' holds nan at entry 0 (1 entries with NaN "
        "or infinite values)"
    ], failed.stdout[-3000:]
    assert not (workdir / target).exists(), "Snakemake removes the output of the failed job"
    kept = workdir / "results/.previous/samples/mine/0.root"
    assert kept.read_bytes() == good, "the earlier good output is kept"
    kept_before_rerun = shutil.copy2(kept, tmp_path / "kept.root")
    assert f"kept as results/.previous/samples/mine/0.root ({target} until a rerun succeeds)" in failed.stdout

    shutil.copy2(tiny_samples["higgs_ztautau"], user)
    run_snakemake(workdir, *args)  # the failed job runs again: its output is missing
    assert ak.to_list(read_tree(workdir / target)) == ak.to_list(read_tree(kept_before_rerun))
    assert not (workdir / "results/.previous").exists(), "a successful rerun drops the kept copy"


def test_device_cuda_without_a_gpu_stops_a_local_run_before_the_first_job(tmp_path, monkeypatch):
    """The check runs when the run starts (Snakemake's onstart), where the jobs run on this machine: nothing runs,
    nothing is written, and the message names the key. (With --executor slurm the check is not made there: the
    GPU is on the nodes; ml4hep.devices.local_device_problems(local=False), tests/test_config.py.)"""
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "cuda.yaml").write_text("device: cuda\n")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU for torch, also on a machine that has one
    run = run_snakemake(
        workdir,
        "results/susy/scan/0.root",
        "--cores",
        "1",
        "--configfile",
        "config/test.yaml",
        "cuda.yaml",
        check=False,
    )
    assert run.returncode != 0
    lines = [line for line in run.stdout.splitlines() if "invalid configuration" in line]
    assert len(lines) == 1 and lines[0].startswith("invalid configuration: config key 'device' is 'cuda'"), run.stdout
    assert "susy_scan" in run.stdout and not (workdir / "results").exists(), "no job ran"


def test_a_later_job_names_the_users_files_not_the_copies(tmp_path, tiny_samples):
    """Both top-tagging samples replaced by the user's files, both holding QCD jets only: the import checks pass,
    and the split job, which reads the per-shard feature files made from the copies, names the user's files."""
    workdir = copy_workflow(tmp_path / "wf")
    files = {name: tmp_path / f"{name}_mine.root" for name in ("toptag_ttbar", "toptag_qcd")}
    for path in files.values():
        shutil.copy2(tiny_samples["toptag_qcd"], path)
    (workdir / "mine.yaml").write_text(
        "inputs:\n" + "".join(f"  {name}: {{files: [{path}], set: toptag}}\n" for name, path in files.items())
    )
    run = run_snakemake(
        workdir,
        "results/toptag/features/train.root",
        "--cores",
        "2",
        "--configfile",
        "config/test.yaml",
        "mine.yaml",
        check=False,
    )
    assert run.returncode != 0
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("ERROR in rule toptag_features")]
    assert line == (
        f"ERROR in rule toptag_features: {files['toptag_ttbar']} (as results/toptag/features/shards/toptag_ttbar/"
        f"0.root), {files['toptag_qcd']} (as results/toptag/features/shards/toptag_qcd/0.root): top-tagging needs "
        "both top (1) and QCD (0) jets; labels found: [0]"
    )
