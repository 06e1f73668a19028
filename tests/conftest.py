"""Shared fixtures: the tiny test config, tiny generated samples, and a scratch copy of the workflow."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from ml4hep.config import load_config
from ml4hep.generate.processes import generated_processes
from ml4hep.generate.shard import generate_shard

# Two workers each running Snakemake with --cores 2 oversubscribe the cores; OpenMP threads that spin while they wait
# (torch's default) then burn the CPU the other worker needs: a tiny ParT training took twice as long. Passive
# waiting changes no number (the thread counts stay), only what waiting costs. Every job of the tests inherits it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TEST_CONFIG = ("--configfile", "config/test.yaml")


# The file whose first test builds the shared finished run, and the files that need no finished run but take long
# (their own workflow runs, a SLURM cluster, an XRootD server, tiny samples): these go to the other worker while the
# finished run is built.
BUILDS_THE_FINISHED_RUN = "test_workflow.py"
LONG_WITHOUT_THE_FINISHED_RUN = ("test_slurm.py", "test_failure.py", "test_docs.py", "test_xrootd.py", "test_cli.py")
SHARED_RUN_FIXTURES = {"finished_run", "own_run"}
LONG_WITH_THE_FINISHED_RUN = ("test_workflow_runs.py", "test_rerun.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the files for the workers, and skip the ``slow`` tests unless asked (``pytest -m slow``).

    The tiny finished run takes minutes and most workflow tests read it: its builder goes first, then every file that
    needs no finished run (the long ones first), then the other files that read it. The workers take whole files in
    this order (``--dist=loadfile --no-loadscope-reorder``), so one builds the run while the other works through the
    tests that do not wait for it.
    """
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.path.name, []).append(item)

    def rank(name: str) -> tuple[int, int]:
        if name == BUILDS_THE_FINISHED_RUN:
            return (0, 0)
        if any(SHARED_RUN_FIXTURES & set(getattr(item, "fixturenames", ())) for item in by_file[name]):
            long = LONG_WITH_THE_FINISHED_RUN
            return (3, long.index(name) if name in long else len(long))
        if name in LONG_WITHOUT_THE_FINISHED_RUN:
            return (1, LONG_WITHOUT_THE_FINISHED_RUN.index(name))
        return (2, 0)

    items[:] = [item for name in sorted(by_file, key=rank) for item in by_file[name]]
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with pytest -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# The tiny run's build is the suite's critical path: most workflow tests wait for it. A worker that starts with another
# file yields the CPU to it (niceness is inherited by every process the worker starts, and cannot be lowered again
# without privileges, so the worker stays at it): the build takes what it can use, the other tests fill the rest. A
# mild value, so that the tests beside the build that wait on daemons and jobs (SLURM, XRootD, killed runs) stay
# well inside their timeouts.
BESIDE_THE_BUILD_NICENESS = 5
_priority_chosen = False


def pytest_runtest_setup(item: pytest.Item) -> None:
    """On a worker's first test: lower its priority unless it builds the finished run (see above)."""
    global _priority_chosen
    if _priority_chosen or not _is_xdist_worker() or os.environ.get("ML4HEP_FINISHED_RUN"):
        return
    _priority_chosen = True
    if item.path.name != BUILDS_THE_FINISHED_RUN:
        os.nice(BESIDE_THE_BUILD_NICENESS)


@pytest.fixture(scope="session")
def test_config() -> dict:
    return load_config(ROOT / "config" / "test.yaml")


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that ``build`` fills once per test run, shared by the pytest-xdist workers (each is a process with
    its own session: without the lock every worker would build its own copy)."""
    shared = tmp_path_factory.getbasetemp().parent if _is_xdist_worker() else tmp_path_factory.getbasetemp()
    folder = shared / name
    with FileLock(str(shared / f"{name}.lock")):
        if not (folder / ".built").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way in another worker
            folder.mkdir(parents=True)
            build(folder)
            (folder / ".built").touch()
    return folder


def _is_xdist_worker() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ


TINY_SAMPLE_PROCESSES = ("higgs_ztautau", "higgs_ggh125", "toptag_ttbar", "toptag_qcd")


@pytest.fixture(scope="session")
def tiny_samples(test_config, tmp_path_factory) -> dict[str, Path]:
    """Shard 0 of a few processes of the test config, generated through the library (no Snakemake)."""
    specs = generated_processes(test_config)

    def generate(out: Path) -> None:
        for name in TINY_SAMPLE_PROCESSES:
            generate_shard(specs[name], 0, test_config, out / f"{name}.root", progress=False)

    out = built_once(tmp_path_factory, "tiny_samples", generate)
    return {name: out / f"{name}.root" for name in TINY_SAMPLE_PROCESSES}


def copy_workflow(destination: Path) -> Path:
    """Copy what a workflow run needs (Snakefile, rules, scripts, config, profiles, library sources, FK tables)."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "Snakefile", destination / "Snakefile")
    for folder in ("workflow", "scripts", "config", "profiles", "src", "envs", "theory"):
        shutil.copytree(ROOT / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir`` and return the finished process (stdout and stderr merged)."""
    result = subprocess.run(
        [*SNAKEMAKE, *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-5000:]}")
    return result


def planned_jobs(output: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job in a dry run's output."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule )", output):
        rule = re.match(r"(?:local)?rule (\w+):", block.strip())
        if rule:
            wildcards = re.search(r"wildcards: (.*)", block)
            jobs.append((rule.group(1), wildcards.group(1).strip() if wildcards else ""))
    return jobs


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """A scratch copy of the workflow after a real run of the tiny config (shared by the test modules: tests that
    change files in it copy it first, see tests/test_rerun.py)."""

    reused = os.environ.get("ML4HEP_FINISHED_RUN")
    if reused:  # a developer's finished run, so that one test file does not cost a whole tiny run
        if not (Path(reused) / ".built").is_file():
            raise pytest.UsageError(f"ML4HEP_FINISHED_RUN={reused}: no finished run there (no .built file)")
        return Path(reused)

    def run(workdir: Path) -> None:
        copy_workflow(workdir)
        run_snakemake(workdir, "--cores", "2", *TEST_CONFIG, timeout=3600)  # ~15 min on 2 busy cores

    return built_once(tmp_path_factory, "finished_run", run)


def copy_finished_run(finished_run: Path, destination: Path) -> Path:
    """The finished project copied to another folder, file times kept (.snakemake/ metadata included)."""
    shutil.copytree(finished_run, destination, symlinks=True, copy_function=shutil.copy2)
    return destination


@pytest.fixture
def own_run(finished_run, tmp_path) -> Path:
    """A private copy of the finished run, for a test that writes into it or forces reruns (the shared one stays
    as the run left it, whatever the order of the tests)."""
    return copy_finished_run(finished_run, tmp_path / "own_run")
