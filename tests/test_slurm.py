"""The workflow through profiles/slurm on a real single-node SLURM cluster, against a local run of the same jobs.

The cluster (Debian's slurmctld, slurmd and munge, installed with apt-get when missing) is started in a private
directory with a ``cpu`` and a ``gpu`` partition and a node that advertises one pretend GPU, so the profile runs
unchanged and the GPU rule's ``--gpus=1`` submission is exercised for real. Every daemon is stopped by PID.

Subset of the tiny workflow (config/test.yaml with ``device=auto`` so that training rules ask for a GPU, and 150
events per top-tagging sample so that each is one shard): the two sample shards (CPU jobs), the feature rule (CPU)
and the PFN training (a GPU rule): four SLURM jobs, then the same targets run locally for the comparison. Each SLURM
job pays ~6-7 s of Snakemake start-up; the two shards run side by side on the two-CPU node. Job groups are not
used: they would save one start-up and would not submit the shards as separate jobs as a cluster run does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import uproot
import yaml

from ml4hep.toptag.preprocess import load_split

from .cluster import GPU_PARTITION, SLURM_BINARIES, SLURM_PACKAGES, SlurmCluster, ensure_packages
from .conftest import ROOT, copy_workflow

pytestmark = pytest.mark.slurm

PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"
# The tiny config with 150 events per top-tagging sample (one shard each; test.yaml has two shards of each) and three
# PFN epochs: what is checked is where the jobs ran and that they give the local run's bytes, not what the PFN learns.
SUBSET = {
    "samples": {"toptag": {"processes": {"ttbar": {"events": 150}, "qcd": {"events": 150}}}},
    "toptag": {"training": {"epochs": 3}},
}
SHARDS = ["results/samples/toptag_ttbar/0.root", "results/samples/toptag_qcd/0.root"]
TARGET = "results/toptag/models/pfn_info.json"
# Run-dependent fields of the PFN info (timings); everything else must be identical.
TIMING_KEYS = {"seconds", "train_seconds", "train_examples_per_second", "inference_examples_per_second"}
SNAKEMAKE_ARGS = (TARGET, "--configfile", "config/test.yaml", "config/slurm_subset.yaml", "--config", "device=auto")


def subset_copy(destination: Path) -> Path:
    """A scratch copy of the workflow with the subset's config override."""
    workdir = copy_workflow(destination)
    (workdir / "config" / "slurm_subset.yaml").write_text(yaml.safe_dump(SUBSET))
    return workdir


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """Run ``command``; on timeout send SIGINT (Snakemake then cancels its SLURM jobs) before giving up."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        raise AssertionError(f"{' '.join(command[:4])} ran over {timeout:.0f} s:\n{output[-5000:]}") from None
    result = subprocess.CompletedProcess(command, process.returncode, output)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{output[-6000:]}")
    return result


def gpu_rules() -> set[str]:
    """Rules whose resources declare ``gpu=gpu_request()`` in workflow/rules/*.smk."""
    rules = set()
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=\s*rule \w+:)", smk.read_text()):
            name = re.match(r"\s*rule (\w+):", block)
            if name and "gpu=gpu_request()" in block:
                rules.add(name.group(1))
    return rules


def test_profile_sends_every_gpu_rule_to_the_gpu_partition():
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["executor"] == "slurm"
    assert profile["retries"] >= 1 and profile["slurm-status-command"] == "squeue"
    assert profile["default-resources"]["slurm_partition"] != GPU_PARTITION
    for key in ("mem_mb", "runtime"):
        assert key in profile["default-resources"]
    found = gpu_rules()
    assert {"toptag_train_network", "higgs_train_dnn"} <= found
    for rule in sorted(found):
        settings = profile["set-resources"].get(rule, {})
        if settings.get("gpu") == 0:  # taken off the GPU on purpose (the profile says why): then not to GPU nodes
            assert settings.get("slurm_partition", profile["default-resources"]["slurm_partition"]) != GPU_PARTITION
            continue
        assert settings.get("slurm_partition") == GPU_PARTITION, (
            f"GPU rule {rule} is not sent to the GPU partition in {PROFILE.relative_to(ROOT)}"
        )


def test_every_profile_entry_is_commented():
    lines = PROFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#") or line.strip().endswith("*gpu_job"):
            continue
        previous = lines[number - 1].strip()
        assert previous.startswith("#") or line.rstrip().endswith(":"), f"line {number + 1} has no comment: {line}"


def test_local_dry_run_schedules_gpu_rules_without_a_gpu(tmp_path):
    """``device: auto`` makes training rules ask for gpu=1; locally that resource is unlimited, so they are
    scheduled (the local reference run in the SLURM test below really runs one on this GPU-less machine)."""
    workdir = subset_copy(tmp_path / "wf")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "2", *SNAKEMAKE_ARGS],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "toptag_train_network" in result.stdout and "gpu=1" in result.stdout


def test_device_choice_is_logged_from_what_is_visible(monkeypatch, caplog):
    """A GPU job's device comes from what the job sees; without a usable GPU it runs on the CPU and says why."""
    import torch

    from ml4hep.training import select_device

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with caplog.at_level("INFO", logger="ml4hep.training"):
        device = select_device("auto")
    if torch.cuda.is_available():
        assert device.type == "cuda" and "device: cuda (" in caplog.text
    else:
        assert device.type == "cpu"
        assert re.search(r"device: cpu \(no GPU usable: .+; CUDA_VISIBLE_DEVICES=0\)", caplog.text), caplog.text


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running single-node cluster, stopped (jobs cancelled, daemons by PID) when the module's tests end."""
    reason = ensure_packages(SLURM_PACKAGES, SLURM_BINARIES)
    if reason is None and os.geteuid() != 0:
        reason = f"slurmd must run as root to start jobs (running as uid {os.geteuid()})"
    if reason:
        pytest.skip(f"no SLURM: {reason}")
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
        yield cluster
    finally:
        if cluster.daemons.running():
            subprocess.run(["scancel", "--full", "--user", str(os.getuid())], env=cluster.env, capture_output=True)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _active_jobs(cluster):
                time.sleep(0.5)
        killed = cluster.stop()
        assert not cluster.daemons.running(), "a SLURM daemon survived"
        assert not killed, f"needed SIGKILL: {killed}"


def _active_jobs(cluster: SlurmCluster) -> list[str]:
    result = subprocess.run(["squeue", "-h", "-o", "%i"], env=cluster.env, capture_output=True, text=True)
    return result.stdout.split() if result.returncode == 0 else []


def test_workflow_on_slurm_equals_local_run(slurm, tmp_path):
    local = subset_copy(tmp_path / "local")
    cluster = subset_copy(tmp_path / "cluster")
    snakemake = [sys.executable, "-m", "snakemake"]

    # The local run goes beside the cluster's: it fills the cores that SLURM leaves idle between its polls.
    local_run = subprocess.Popen(
        [*snakemake, *SNAKEMAKE_ARGS, "--cores", "2"],
        cwd=local,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    start = time.perf_counter()
    result = run(
        [
            *snakemake,
            *SNAKEMAKE_ARGS,
            "--workflow-profile",
            "profiles/slurm",
            "--verbose",
            # Faster polling than the profile's gentle site values, for a test that waits on six short jobs.
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--seconds-between-status-checks",
            "2",
        ],
        cluster,
        slurm.env,
        timeout=420,
    )
    slurm_seconds = time.perf_counter() - start
    try:
        local_output, _ = local_run.communicate(timeout=240)
    finally:
        local_run.kill()
    assert local_run.returncode == 0, local_output[-3000:]
    local_seconds = time.perf_counter() - start

    # What slurmctld received: every job of the run, the GPU one on the GPU partition with one GPU.
    jobs = slurm.jobs()
    submitted = [
        line.split("sbatch call:", 1)[1].strip() for line in result.stdout.splitlines() if "sbatch call:" in line
    ]
    gpu_calls = [c for c in submitted if "rule_toptag_train_network" in c or "toptag_train_network" in c]
    cpu_calls = [c for c in submitted if "generate_sample" in c]
    report = {
        "slurm_seconds": round(slurm_seconds, 1),
        "local_seconds": round(local_seconds, 1),
        # The sbatch options (the --wrap payload is the Snakemake call that runs the one job).
        "sbatch_gpu": [c.split(" --wrap")[0] for c in gpu_calls[:1]],
        "sbatch_cpu": [c.split(" --wrap")[0] for c in cpu_calls[:1]],
    }
    (Path(os.environ.get("ML4HEP_SLURM_REPORT", tmp_path / "slurm_report.json"))).write_text(
        json.dumps(report, indent=2)
    )
    print(json.dumps(report, indent=2))
    # per shard: generation and its top-tagging features; then the split and the PFN training
    assert len(submitted) == 2 * len(SHARDS) + 2, submitted
    assert gpu_calls and " --gpus=1" in gpu_calls[0] and f"-p {GPU_PARTITION}" in gpu_calls[0], gpu_calls
    assert cpu_calls and "--gpus" not in cpu_calls[0] and "-p cpu" in cpu_calls[0], cpu_calls
    assert [job["JobState"] for job in jobs] == ["COMPLETED"] * (2 * len(SHARDS) + 2), jobs
    gpu_jobs = [job for job in jobs if job.get("TresPerJob") == "gres:gpu:1"]
    assert len(gpu_jobs) == 1 and gpu_jobs[0]["Partition"] == GPU_PARTITION, gpu_jobs
    assert sum(job["Partition"] == "cpu" for job in jobs) == 2 * len(SHARDS) + 1

    # Inside the GPU job SLURM exposed the pretend GPU as CUDA_VISIBLE_DEVICES=0: without a CUDA device torch runs
    # on the CPU and the job says why; on a host with a real GPU 0 the job uses it.
    import torch

    train_log = (cluster / "results/logs/toptag/train_pfn.log").read_text()
    if torch.cuda.is_available():
        assert "device: cuda (" in train_log, train_log[:2000]
        assert json.loads((cluster / TARGET).read_text())["device"] == "cuda"
    else:
        assert re.search(r"device: cpu \(no GPU usable: .*; CUDA_VISIBLE_DEVICES=0\)", train_log), train_log[:2000]
        assert json.loads((cluster / TARGET).read_text())["device"] == "cpu"

    # The same outputs as the local run.
    for shard in SHARDS:
        with uproot.open(local / shard) as a, uproot.open(cluster / shard) as b:
            for tree in ("events", "run"):
                left, right = a[tree].arrays(library="np"), b[tree].arrays(library="np")
                assert left.keys() == right.keys()
                for branch in left:
                    if tree == "run" and branch == "seconds":
                        continue
                    assert all(np.array_equal(x, y) for x, y in zip(left[branch], right[branch], strict=True)), (
                        f"{shard}:{tree}/{branch} differs"
                    )
    for split in ("train", "val", "test"):
        a, b = (load_split(d / f"results/toptag/features/{split}.root") for d in (local, cluster))
        assert sorted(a) == sorted(b)
        for key in a:
            assert np.array_equal(a[key], b[key]), f"features {split}/{key} differ"
    with (
        uproot.open(local / "results/toptag/scores/pfn.root") as a,
        uproot.open(cluster / "results/toptag/scores/pfn.root") as b,
    ):
        left, right = a["scores"].arrays(library="np"), b["scores"].arrays(library="np")
        for key in left:
            np.testing.assert_allclose(left[key], right[key], rtol=0, atol=1e-6, err_msg=f"pfn scores {key}")
    info_local, info_cluster = (json.loads((d / TARGET).read_text()) for d in (local, cluster))
    for key in set(info_local) - TIMING_KEYS:
        assert info_local[key] == info_cluster[key], f"pfn info {key} differs"
