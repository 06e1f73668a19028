"""Where the training jobs run, and whether the configured device is there.

Checked when a run starts (the Snakefile's ``onstart``), not when the workflow is parsed: only then does Snakemake
know whether the jobs run on this machine or on a cluster's nodes, and torch, which the check needs, is imported
only for ``device: cuda``, so that a parse stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml4hep.errors import ConfigError


def local_device_problems(config: Mapping[str, Any], local: bool) -> list[str]:
    """``device: cuda`` where the jobs run on this machine and torch sees no GPU; run when a run starts.

    On a cluster (``--executor slurm``, ``profiles/slurm``) the jobs run on the GPU nodes, so the machine that
    starts the run needs none; ``auto`` falls back to the CPU anywhere. torch is imported only for ``cuda``, so that
    parsing the workflow stays light.

    Args:
        config: The validated config.
        local: Whether the jobs run on this machine (Snakemake's ``workflow.local_exec``).

    Returns:
        One message naming the key, or nothing.
    """
    if not local or config["device"] != "cuda":
        return []
    from ml4hep.training import select_device

    try:
        select_device("cuda")
    except ConfigError as error:
        return [f"{error} on this machine, where the jobs run (use 'device: auto' to train on the CPU here)"]
    return []
