"""How the PDF replicas are grouped into jobs (kept apart from the fit so that parsing the workflow needs no torch)."""

from __future__ import annotations


def replica_batches(replicas: int, per_job: int) -> list[list[int]]:
    """The replicas each ``pdf_replica_batch`` job fits: consecutive runs of ``per_job`` (the last may be shorter).

    Example:
        >>> replica_batches(5, 2)
        [[0, 1], [2, 3], [4]]
    """
    if per_job < 1:
        raise ValueError(f"replicas per job must be at least 1, not {per_job}")
    return [list(range(start, min(start + per_job, replicas))) for start in range(0, replicas, per_job)]
