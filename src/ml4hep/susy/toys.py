"""Toy-based CLs (pyhf's ToyCalculator) for the recast's signal regions with a small background.

The asymptotic formulae behind :func:`ml4hep.susy.recast.cls_test` assume many events; in a region with b ≲ 10 they
need not hold (docs/susy.md gives the measured difference). Toys for every point and region would cost ~5 CPU-s
each (200 toys). But in a
counting region the background, its uncertainty and the observed count are fixed by the config: the observed CLs is a
function of the expected signal s alone. So the toys are thrown once per small-background region, on a grid of s
where the asymptotic CLs lies in ``cls_band`` (the values where the label can change), and the recast corrects the
asymptotic CLs there by the ratio toys / asymptotic, interpolated in s (:class:`ToyCLs`); outside the band it keeps
the asymptotic value. Where the toys cannot resolve the CLs (fewer than :data:`RESOLVED_TOYS` signal-plus-background
toys beyond the data) the ratio is 1: too few toys leave the asymptotic CLs, instead of biasing it.

Only the observed CLs is taken from toys: the best region is still chosen by the asymptotic expected CLs (pyhf
0.7.6's toy expected CLs fails under numpy 2, and the choice of region needs no toys).

Toys are seeded: each region's generator is seeded from the config's seed, and reseeded identically at every grid
point (common random numbers), so that the ratio in s is smooth and the run reproducible.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.seeds import derive_seed

log = logging.getLogger(__name__)

RESOLVED_TOYS = 5
"""Toys beyond the data below which a toy CLs is not used (its ratio to the asymptotic CLs is set to 1)."""


def toy_cls(signal: float, background: float, uncertainty: float, observed: float, ntoys: int, seed: int) -> float:
    """Observed CLs of mu = 1 in one counting region from pyhf's toy calculator (qtilde).

    The model is :func:`ml4hep.susy.recast.counting_spec`'s, as the asymptotic test uses it.

    Args:
        signal: Expected signal events.
        background: Expected background events.
        uncertainty: Absolute background uncertainty.
        observed: Observed events.
        ntoys: Toys per hypothesis (signal + background, and background only).
        seed: Seed of the toys.
    """
    import pyhf
    from pyhf.infer.calculators import ToyCalculator

    from ml4hep.susy.recast import counting_spec

    pyhf.set_backend("numpy")
    model = pyhf.Model(counting_spec(signal, background, uncertainty), poi_name="mu", validate=False)
    data = [float(observed), *model.config.auxdata]
    # pyhf's numpy backend samples through scipy.stats with numpy's global generator: seed it, and put it back after
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        calculator = ToyCalculator(data, model, test_stat="qtilde", ntoys=int(ntoys), track_progress=False)
        statistic = calculator.teststatistic(1.0)
        signal_plus_background, background_only = calculator.distributions(1.0)
        _, _, cls = calculator.pvalues(statistic, signal_plus_background, background_only)
    finally:
        np.random.set_state(state)
    return float(cls)


def signal_for_cls(target: float, background: float, uncertainty: float, observed: float) -> float:
    """The expected signal at which the asymptotic observed CLs equals ``target`` (bisection in log s)."""
    from ml4hep.susy.recast import cls_test

    low, high = 1e-2, 1e3
    for _ in range(40):
        middle = np.sqrt(low * high)
        if cls_test(middle, background, uncertainty, observed)[0] > target:
            low = middle
        else:
            high = middle
        if high / low < 1.01:
            break
    return float(np.sqrt(low * high))


@dataclass(frozen=True)
class ToyCLs:
    """Toy-based observed CLs on a grid of expected signal, per small-background region.

    Attributes:
        signal: Region -> the grid of expected signal events (increasing).
        cls: Region -> the toy CLs there.
        asymptotic: Region -> the asymptotic observed CLs at the same s.
        ntoys: Toys per hypothesis (the resolution: CLs below ``RESOLVED_TOYS / ntoys`` is not used).

    Example:
        >>> grid, toys, asymptotic = np.array([2.0, 4.0]), np.array([0.24, 0.0]), np.array([0.2, 0.01])
        >>> table = ToyCLs({"sr": grid}, {"sr": toys}, {"sr": asymptotic}, ntoys=100)
        >>> table.ratio("sr").tolist()  # the toys resolve the first grid point only
        [1.2, 1.0]
        >>> round(table("sr", 3.0, 0.05), 4)  # halfway: the asymptotic CLs times ~1.095
        0.0548
    """

    signal: Mapping[str, np.ndarray]
    cls: Mapping[str, np.ndarray]
    asymptotic: Mapping[str, np.ndarray]
    ntoys: int

    def ratio(self, region: str) -> np.ndarray:
        """Toy over asymptotic CLs at the grid points (1 where the toys do not resolve the CLs)."""
        resolved = self.cls[region] * self.ntoys >= RESOLVED_TOYS
        return np.where(resolved, self.cls[region] / self.asymptotic[region], 1.0)

    def regions(self) -> list[str]:
        """The regions whose CLs comes from toys inside the grid."""
        return list(self.signal)

    def covers(self, region: str, signal: float) -> bool:
        """Whether a region's CLs at ``signal`` is taken from the toys (inside the grid)."""
        grid = self.signal.get(region)
        return grid is not None and grid[0] <= signal <= grid[-1]

    def __call__(self, region: str, signal: float, asymptotic: float) -> float:
        """The CLs of ``region`` at ``signal``: the asymptotic one times the toys' ratio (log-linear in s), <= 1."""
        log_ratio = np.interp(signal, self.signal[region], np.log(self.ratio(region)))
        return float(min(1.0, asymptotic * np.exp(log_ratio)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``results/susy/toys.json``)."""
        return {
            region: {
                "signal": self.signal[region].tolist(),
                "cls_toys": self.cls[region].tolist(),
                "cls_asymptotic": self.asymptotic[region].tolist(),
                "ntoys": int(self.ntoys),
            }
            for region in self.signal
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Sequence[float]]]) -> ToyCLs:
        """Read :meth:`to_dict`'s form."""
        return cls(
            {r: np.asarray(d["signal"], float) for r, d in data.items()},
            {r: np.asarray(d["cls_toys"], float) for r, d in data.items()},
            {r: np.asarray(d["cls_asymptotic"], float) for r, d in data.items()},
            min((int(d["ntoys"]) for d in data.values()), default=1),
        )


def small_background_regions(regions: Mapping[str, Mapping[str, float]], max_background: float) -> list[str]:
    """The signal regions whose expected background is at most ``max_background``."""
    return [name for name, spec in regions.items() if float(spec["background"]) <= max_background]


def build_toys(regions: Mapping[str, Mapping[str, float]], options: Mapping[str, Any], seed: int) -> ToyCLs:
    """Throw the toys of every small-background region on its grid of expected signal.

    Args:
        regions: Signal region -> ``background``, ``background_uncertainty``, ``observed`` (config).
        options: ``susy.recast.toys`` (``max_background``, ``ntoys``, ``grid_points``, ``cls_band``).
        seed: Seed of the toys (each region's derived from it).

    Returns:
        The toy CLs table.
    """
    from ml4hep.susy.recast import cls_test

    signal, toys, asymptotic = {}, {}, {}
    for region in small_background_regions(regions, float(options["max_background"])):
        spec = regions[region]
        b, db, n = float(spec["background"]), float(spec["background_uncertainty"]), float(spec["observed"])
        high_cls, low_cls = max(options["cls_band"]), min(options["cls_band"])
        grid = np.geomspace(
            signal_for_cls(high_cls, b, db, n), signal_for_cls(low_cls, b, db, n), options["grid_points"]
        )
        region_seed = derive_seed(seed, "toys", region)
        signal[region] = grid
        toys[region] = np.array([toy_cls(s, b, db, n, options["ntoys"], region_seed) for s in grid])
        asymptotic[region] = np.array([cls_test(s, b, db, n)[0] for s in grid])
        log.info("toys %s: s %s, CLs toys %s, asymptotic %s", region, grid, toys[region], asymptotic[region])
    return ToyCLs(signal, toys, asymptotic, int(options["ntoys"]))


def toys_job(
    regions: Mapping[str, Mapping[str, float]], options: Mapping[str, Any], seed: int, output: str | Path
) -> dict[str, Any]:
    """Rule susy_toys: the toy table as JSON, with the toys' settings and CPU time."""
    start = time.process_time()
    table = build_toys(regions, options, seed)
    record = {
        "regions": table.to_dict(),
        "ntoys": int(options["ntoys"]),
        "max_background": float(options["max_background"]),
        "cls_band": [float(c) for c in options["cls_band"]],
        "seed": int(seed),
        "cpu_seconds": time.process_time() - start,
    }
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(record, indent=2))
    return record


def read_toys(paths: Sequence[str | Path]) -> ToyCLs | None:
    """The toy table of ``paths`` (the rule's input list: empty when toys are off, then None)."""
    if not paths:
        return None
    from ml4hep.errors import InputFileError

    path = Path(paths[0])
    if not path.is_file():
        raise InputFileError(str(path), "toy CLs table does not exist (rule susy_toys)")
    return ToyCLs.from_dict(json.loads(path.read_text())["regions"])
