"""Shared helpers of the benchmark scripts: repeated timing, medians and rates, the JSON report."""

from __future__ import annotations

import importlib.metadata
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def timed(function: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Wall times of ``repeats`` calls of ``function`` and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def summary(
    times: Sequence[float], count: int, raw_seconds: float | None = None, unit: str = "events"
) -> dict[str, Any]:
    """Median time, items per second (``{unit}_per_second``), and the ratio to a reference time."""
    median = statistics.median(times)
    out: dict[str, Any] = {
        "seconds": median,
        "seconds_all": list(times),
        unit: count,
        f"{unit}_per_second": count / median,
    }
    if raw_seconds is not None:
        out["ratio_to_raw_read"] = median / raw_seconds
    return out


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write the benchmark's JSON report and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


def versions(packages: Sequence[str]) -> dict[str, str]:
    """Installed versions of the libraries that do the measured work."""
    out = {}
    for package in packages:
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out
