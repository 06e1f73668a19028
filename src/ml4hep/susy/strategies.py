"""The names of the active-learning sampling strategies (a light module: the workflow reads them when it is parsed)."""

from __future__ import annotations

STRATEGIES: tuple[str, ...] = ("active", "random")
"""The two sampling strategies: uncertainty sampling (with a random share) and random sampling."""
