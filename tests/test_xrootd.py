"""Remote inputs: root:// URLs read through uproot + fsspec-xrootd from a real XRootD server on 127.0.0.1.

The server is Debian's xrootd-server (installed with apt-get when missing and running as root, else the tests are
skipped), started on a free port with a private configuration and stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import yaml

from ml4hep.errors import InputFileError
from ml4hep.io import read_tree, write_root

from .cluster import XROOTD_BINARIES, XROOTD_PACKAGES, XROOTD_USER, XRootDServer, ensure_packages, free_port
from .conftest import copy_workflow, run_snakemake

pytestmark = pytest.mark.xrootd


def top_jets(n: int = 50, seed: int = 3) -> dict:
    """A small file in the top-tagging sample schema (jets with a jagged list of constituents)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 6, n)
    flat = {name: rng.normal(size=int(counts.sum())) for name in ("E", "px", "py", "pz")}
    return {
        "jet_pt": rng.uniform(550, 650, n),
        "jet_eta": rng.uniform(-2, 2, n),
        "jet_phi": rng.uniform(-3, 3, n),
        "jet_mass": rng.uniform(0, 250, n),
        "is_signal_new": rng.integers(0, 2, n).astype(np.int32),
        "part": ak.zip({name: ak.unflatten(values, counts) for name, values in flat.items()}),
    }


@pytest.fixture(scope="module")
def export():
    """A directory the server's unprivileged user can read (pytest's own temporary tree is private to root)."""
    reason = ensure_packages(XROOTD_PACKAGES, XROOTD_BINARIES)
    if reason:
        pytest.skip(f"no XRootD server: {reason}")
    base = Path(tempfile.mkdtemp(prefix="ml4hep-xrootd-"))
    os.chmod(base, 0o755)
    (base / "data").mkdir()
    write_root(base / "data" / "top.root", {"events": top_jets()})
    if os.geteuid() == 0:
        for path in (base, *base.rglob("*")):
            shutil.chown(path, XROOTD_USER)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def server(export):
    xrootd = XRootDServer(export / "server", export / "data")
    try:
        yield xrootd.start()
    finally:
        assert xrootd.stop() == [], "xrootd needed SIGKILL"
        assert not xrootd.daemons.running()


def test_remote_read_equals_local_read(server, export):
    url = server.url("top.root")
    assert url.startswith("root://127.0.0.1:")
    remote, local = read_tree(url), read_tree(export / "data" / "top.root")
    assert remote.fields == local.fields and len(remote) == 50
    for field in local.fields:
        assert ak.all(ak.ravel(remote[field]) == ak.ravel(local[field])), field


def test_missing_remote_file_is_one_clear_error_without_retries(server, caplog):
    with caplog.at_level("WARNING"), pytest.raises(InputFileError, match=r"missing\.root.*no such file"):
        read_tree(server.url("missing.root"), retries=3, retry_wait=2.0)
    assert "retry" not in caplog.text, "a file the server says does not exist is not retried"


def test_read_retries_a_timeout_until_the_server_is_up(export, tmp_path):
    """First the port is a black hole (its accept queue is full, so connecting times out: transient); then the
    server starts there: the read succeeds on a retry, which is logged."""
    port = free_port()
    late = XRootDServer(export / "late", export / "data", port=port)
    url = late.url("top.root")
    code = (
        "import logging, sys; logging.basicConfig(level=logging.INFO)\n"
        "import ml4hep.io\n"
        "ml4hep.io.PROBE_TIMEOUT = 0.5\n"
        "print('imported', flush=True)\n"
        f"print('entries', len(ml4hep.io.read_tree({url!r}, retries=6, retry_wait=3.0)))\n"
    )
    hole = socket.socket()
    hole.bind(("127.0.0.1", port))
    hole.listen(0)
    queued = socket.create_connection(("127.0.0.1", port))  # fills the accept queue: later SYNs are dropped
    reader = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # The first probe starts after the reader's imports (seconds on a busy machine) and times out after 0.5 s in
        # the black hole; the server then starts during the 3 s wait before the retry (a probe between the hole's
        # close and the server's listen would be refused, and a refusal is not retried).
        assert reader.stdout.readline().strip() == "imported"
        time.sleep(1.5)
        queued.close()
        hole.close()
        late.start()
        output, _ = reader.communicate(timeout=90)
    finally:
        if reader.poll() is None:
            reader.kill()
        late.stop()
    assert reader.returncode == 0, output
    assert "entries 50" in output
    assert "retry 1 of 6" in output and "no answer from 127.0.0.1" in output, output


@pytest.mark.workflow
def test_workflow_imports_a_root_url(server, export, tmp_path):
    """A sample given as a root:// URL in the config goes through import_sample like a local file."""
    workdir = copy_workflow(tmp_path / "wf")
    override = workdir / "config" / "remote.yaml"
    override.write_text(
        yaml.safe_dump({"inputs": {"remote_top": {"files": [server.url("top.root")], "set": "toptag"}}})
    )
    run_snakemake(
        workdir,
        "results/samples/remote_top/0.root",
        "--cores",
        "1",
        "--configfile",
        "config/test.yaml",
        str(override.relative_to(workdir)),
    )
    imported = read_tree(workdir / "results/samples/remote_top/0.root")
    source = read_tree(export / "data" / "top.root")
    assert len(imported) == len(source) == 50
    for field in ("jet_pt", "part_px", "is_signal_new"):
        assert ak.all(ak.ravel(imported[field]) == ak.ravel(source[field])), field
    assert "imported 50 entries from root://" in (workdir / "results/logs/import_sample/remote_top/0.log").read_text()
