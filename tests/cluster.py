"""Real services for the HPC tests: a single-node SLURM cluster (with a pretend GPU) and an XRootD server.

Both are started from Debian's packages on this machine, with every file (configuration, state, logs, pid files,
the munge socket) under a private directory, on free ports, so that nothing in /etc or /run is changed and two
test runs cannot collide. Each daemon is stopped by the PID it wrote, never by name.

The tests call :func:`ensure_packages` first; it returns a reason to skip when the packages are missing and cannot
be installed (not root, no apt-get, or no package index reachable). Facts behind the choices below:
``/work/shared/notes/slurm-single-node.md``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SLURM_PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
SLURM_BINARIES = ("/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/sbin/munged")
XROOTD_PACKAGES = ("xrootd-server",)
XROOTD_BINARIES = ("/usr/bin/xrootd",)
XROOTD_USER = "daemon"
# Partitions named as in profiles/slurm/config.yaml, so that the profile is tested unchanged.
CPU_PARTITION = "cpu"
GPU_PARTITION = "gpu"


def ensure_packages(packages: tuple[str, ...], binaries: tuple[str, ...]) -> str | None:
    """Install Debian ``packages`` with apt-get unless ``binaries`` already exist.

    Returns:
        None when the binaries are there afterwards, else the reason a test must be skipped.
    """
    if all(os.path.exists(b) for b in binaries):
        return None
    if os.geteuid() != 0:
        return f"needs root to apt-get install {' '.join(packages)} (running as uid {os.geteuid()})"
    if shutil.which("apt-get") is None:
        return f"needs apt-get to install {' '.join(packages)} (not a Debian-like system)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    result = subprocess.run(install, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        return f"apt-get install {' '.join(packages)} failed: {tail[0] if tail else result.returncode}"
    missing = [b for b in binaries if not os.path.exists(b)]
    return f"installed {' '.join(packages)} but {missing} are missing" if missing else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(condition, timeout: float, what: str, log: Path | None = None) -> None:
    """Poll ``condition`` every 0.25 s until it is true; raise with the log's tail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Daemons:
    """PIDs of the daemons a test started, stopped in reverse order by :meth:`stop`."""

    pids: list[tuple[str, int]] = field(default_factory=list)

    def add_from_pidfile(self, name: str, pidfile: Path, log: Path | None = None, timeout: float = 15) -> int:
        """Wait for ``pidfile`` and record the PID in it."""
        _wait_for(
            lambda: pidfile.exists() and pidfile.read_text().strip().isdigit(), timeout, f"{name}'s pid file", log
        )
        pid = int(pidfile.read_text().strip())
        self.pids.append((name, pid))
        return pid

    def stop(self, timeout: float = 10) -> list[str]:
        """SIGTERM each daemon (SIGKILL after ``timeout`` s); returns the names of those that had to be killed."""
        killed = []
        for name, pid in reversed(self.pids):
            if not _alive(pid):
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
                killed.append(name)
        self.pids.clear()
        return killed

    def running(self) -> list[str]:
        """Names of the recorded daemons still alive."""
        return [name for name, pid in self.pids if _alive(pid)]


def _reap_children() -> None:
    """Collect exited daemon parents (the daemons fork; their first process exits at once)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


@dataclass
class SlurmCluster:
    """A single-node SLURM cluster with a ``cpu`` and a ``gpu`` partition, the node advertising one pretend GPU.

    Attributes:
        root: Private directory holding slurm.conf, gres.conf, state, spool, logs and the munge socket.
        env: Environment for SLURM commands and for Snakemake (``SLURM_CONF`` points at the private config).
        daemons: The started daemons.
    """

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    daemons: Daemons = field(default_factory=Daemons)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def ctld_log(self) -> Path:
        return self.root / "log" / "slurmctld.log"

    def start(self, timeout: float = 60) -> SlurmCluster:
        """Write the configuration, start munged, slurmctld and slurmd, and wait until the node is idle."""
        host = socket.gethostname().split(".")[0]
        for sub in ("state", "spool", "log", "run", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        munge_dir = self.root / "munge"
        key = munge_dir / "munge.key"
        key.write_bytes(os.urandom(128))  # a private key: only this cluster's daemons and clients share it
        os.chmod(key, 0o600)
        os.chmod(munge_dir, 0o700)
        munge_socket = munge_dir / "munge.socket"
        memory_mb = int(_total_memory_mb() * 0.8)
        cpus = os.cpu_count() or 1
        ctld_port = slurmd_port = free_port()
        while slurmd_port == ctld_port:
            slurmd_port = free_port()
        run = self.root / "run"
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=ml4hep-test",
                    f"SlurmctldHost={host}(127.0.0.1)",
                    f"SlurmctldPort={ctld_port}",
                    f"SlurmdPort={slurmd_port}",
                    "SlurmUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={munge_socket}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "MinJobAge=300",
                    "ReturnToService=2",
                    "AccountingStorageType=accounting_storage/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "JobCompType=jobcomp/none",
                    "MpiDefault=none",
                    "SchedulerType=sched/backfill",
                    "GresTypes=gpu",
                    f"StateSaveLocation={self.root / 'state'}",
                    f"SlurmdSpoolDir={self.root / 'spool'}",
                    f"SlurmctldPidFile={run / 'slurmctld.pid'}",
                    f"SlurmdPidFile={run / 'slurmd.pid'}",
                    f"SlurmctldLogFile={self.ctld_log}",
                    f"SlurmdLogFile={self.root / 'log' / 'slurmd.log'}",
                    "SlurmctldDebug=debug",
                    "SlurmdDebug=info",
                    f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN",
                    f"PartitionName={CPU_PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                    f"PartitionName={GPU_PARTITION} Nodes=ALL MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        # The pretend GPU: a device file is required (without File= the node goes INVAL).
        (self.root / "gres.conf").write_text(f"NodeName={host} Name=gpu File=/dev/null Count=1\n")
        # The jobstep plugin drops every SLURM_* variable (SLURM_CONF too) before its srun inside a job, so srun
        # would look for /etc/slurm/slurm.conf; a shim first in PATH points it back at the private configuration.
        shims = self.root / "bin"
        shims.mkdir(exist_ok=True)
        srun = shims / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec /usr/bin/srun "$@"\n')
        srun.chmod(0o755)
        self.env = {**os.environ, "SLURM_CONF": str(self.conf), "PATH": f"{shims}:{os.environ.get('PATH', '')}"}

        munge_pid = munge_dir / "munged.pid"
        munge_log = self.root / "log" / "munged.log"
        subprocess.run(
            [
                "/usr/sbin/munged",
                "--force",
                f"--socket={munge_socket}",
                f"--key-file={key}",
                f"--pid-file={munge_pid}",
                f"--log-file={munge_log}",
                f"--seed-file={munge_dir / 'seed'}",
            ],
            check=True,
            capture_output=True,
        )
        self.daemons.add_from_pidfile("munged", munge_pid, munge_log)
        subprocess.run(["/usr/sbin/slurmctld", "-f", str(self.conf)], check=True, env=self.env, capture_output=True)
        self.daemons.add_from_pidfile("slurmctld", run / "slurmctld.pid", self.ctld_log)
        subprocess.run(["/usr/sbin/slurmd", "-f", str(self.conf)], check=True, env=self.env, capture_output=True)
        self.daemons.add_from_pidfile("slurmd", run / "slurmd.pid", self.root / "log" / "slurmd.log")
        _reap_children()
        _wait_for(
            lambda: self.node_states() == {"idle"}, timeout, "the node to be idle", self.root / "log" / "slurmd.log"
        )
        return self

    def node_states(self) -> set[str]:
        """States of the node as sinfo prints them per partition (``idle``, ``mix``, ``alloc``, ...)."""
        result = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True)
        return set(result.stdout.split()) if result.returncode == 0 else set()

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still knows (finished ones stay MinJobAge seconds), as ``scontrol show job`` fields."""
        result = subprocess.run(
            ["scontrol", "show", "job", "--oneliner", "--details"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return [_fields(line) for line in result.stdout.splitlines() if line.startswith("JobId=")]

    def stop(self) -> list[str]:
        """Stop the daemons by PID; returns those that needed SIGKILL."""
        return self.daemons.stop()


def _fields(line: str) -> dict[str, str]:
    """``Key=Value Key=Value ...`` (values without spaces, as ``scontrol --oneliner`` prints them) -> dict."""
    out = {}
    for token in line.split():
        key, sep, value = token.partition("=")
        if sep:
            out[key] = value
    return out


def _total_memory_mb() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 4000


@dataclass
class XRootDServer:
    """A standalone XRootD data server on 127.0.0.1 exporting ``export`` read-only.

    Attributes:
        root: Private directory (configuration, logs, admin and pid files).
        export: The directory served; ``root://127.0.0.1:{port}//{export}/name`` reads ``export/name``.
        port: The TCP port.
    """

    root: Path
    export: Path
    port: int = 0
    daemons: Daemons = field(default_factory=Daemons)

    def url(self, name: str) -> str:
        """The root:// URL of ``export/name``."""
        return f"root://127.0.0.1:{self.port}/{self.export / name}"

    def start(self, timeout: float = 20) -> XRootDServer:
        """Write the configuration, start xrootd in the background and wait until its port accepts connections."""
        self.port = self.port or free_port()
        for sub in ("admin", "run", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        config = self.root / "xrootd.cfg"
        config.write_text(
            "\n".join(
                [
                    f"all.export {self.export} r/o",
                    f"all.adminpath {self.root / 'admin'}",
                    f"all.pidpath {self.root / 'run'}",
                    f"xrd.port {self.port}",
                    "xrd.network nodnr",
                    "",
                ]
            )
        )
        log = self.root / "log" / "xrootd.log"
        command = [
            "/usr/bin/xrootd",
            "-b",
            "-l",
            str(log),
            "-c",
            str(config),
            "-s",
            str(self.root / "run" / "xrootd.pid"),
        ]
        if os.geteuid() == 0:  # xrootd refuses to run as root: it runs as ``daemon``, which must own its files
            command += ["-R", XROOTD_USER]
            for path in (self.root, *self.root.rglob("*")):
                shutil.chown(path, XROOTD_USER)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"xrootd did not start: {result.stderr.strip() or result.stdout.strip()}")
        self.daemons.add_from_pidfile("xrootd", self.root / "run" / "xrootd.pid", log)
        _reap_children()
        _wait_for(self._accepts, timeout, f"xrootd on port {self.port}", log)
        return self

    def _accepts(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> list[str]:
        """Stop the server by PID."""
        return self.daemons.stop()
