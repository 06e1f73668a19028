"""The recast: the slow reference that labels a pMSSM-19 point excluded or allowed.

Per point (neutralino LSP only):

1. tree-level spectrum (:mod:`ml4hep.susy.spectrum`);
2. 13 TeV production cross sections (:mod:`ml4hep.susy.xsec`);
3. decay into simplified-model topologies, each with a parent mass and a mass gap to the LSP:

   * ``gluino`` (gluino pairs, and half of squark-gluino): g -> q q chi10 (q = u d s c b) or, when open,
     g -> t t chi10 with branching ratios from the off-shell squark propagators (:func:`gluino_branching_ratios`:
     each squark state once, weight m^-4); parent m_gluino;
   * ``squark`` (half of squark-gluino, parent the mean squark mass) and ``squark_{uL,uR,dL,dR}`` (pairs of each
     first- and second-generation squark, parent that squark): q -> q chi10;
   * ``stop`` (stop_1 pairs): t chi10 when m_st1 - m_chi10 > m_t, b W chi10 (three-body) when above m_W + m_b;
   * ``sbottom`` (sbottom_1 pairs): b chi10;
   * ``ewkino`` (chargino-neutralino and chargino pairs): via W/Z/h, or via sleptons (far more leptons) when a charged
     slepton or sneutrino lies between chi1+- and chi10; gap m_chi1p - m_chi10;
   * ``slepton_L`` / ``slepton_R`` (selectron and smuon pairs): l chi10;

4. signal-region efficiencies from documented parametrisations (:data:`EFFICIENCIES`):
   ``eff = A * S((dm - dm0) / w_dm) * S((m - m0) / w_m)`` for dm > dm_min, else 0, with S the logistic function:
   a plateau A reached once the mass gap dm and the parent mass m are well above the thresholds dm0 and m0 (hard
   cuts on missing energy and effective mass). These are not fitted to a published efficiency map; they are chosen
   to give limits of the size of the 13 TeV, 139 fb^-1 simplified-model limits (gluino ~2.2 TeV, squarks ~1.8 TeV,
   stop ~1.2 TeV, wino C1N2 ~0.6 TeV via WZ and ~1.1 TeV via sleptons, sleptons ~0.7 TeV, all for a light LSP);
5. expected signal yield per signal region s = L * sum_t sigma_t * BR_t * eff_t,SR;
6. a pyhf CLs test (one-bin counting model ``uncorrelated_background`` with the region's background, its
   uncertainty and the observed count, all from config; ``qtilde``, asymptotic) of mu = 1 in every region with at
   least ``min_signal_events`` expected signal events (with fewer, no counting region can exclude at 95% CL: even
   with no background and no observed event CLs = exp(-s) > 0.37 for s < 1). Given ``toys`` (off by default), the
   observed CLs of the small-background regions is corrected by pyhf's toys where the label can change
   (:mod:`ml4hep.susy.toys`).
   The best region is the one with the lowest expected CLs (asymptotic); the point is excluded when the observed
   CLs of that region is below 0.05.

The time of steps 1-6 is measured per point.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ml4hep.susy.spectrum import M_BOTTOM, M_TOP, M_W, spectrum
from ml4hep.susy.xsec import SQUARKS, cross_sections


class CLsCorrection(Protocol):
    """What the recast needs of a toy CLs table (:class:`ml4hep.susy.toys.ToyCLs`, which imports this module)."""

    def covers(self, region: str, signal: float) -> bool:
        """Whether the region's CLs at this expected signal is corrected."""

    def __call__(self, region: str, signal: float, asymptotic: float) -> float:
        """The corrected observed CLs."""


log = logging.getLogger(__name__)
logging.getLogger("pyhf").setLevel(logging.WARNING)  # pyhf logs every model it builds at INFO

CLS_THRESHOLD = 0.05

ALLOWED, EXCLUDED, NOT_LABELLED = 0, 1, -1
"""Values of the ``excluded`` column: allowed, excluded, not labelled (LSP not the lightest neutralino)."""


@dataclass(frozen=True)
class Efficiency:
    """Signal-region efficiency of one topology: A * S((dm - dm0) / w_dm) * S((m - m0) / w_m) for dm > dm_min."""

    plateau: float
    dm0: float
    w_dm: float
    m0: float
    w_m: float
    dm_min: float

    def __call__(self, parent: np.ndarray, gap: np.ndarray) -> np.ndarray:
        """Efficiency for parent masses ``parent`` and mass gaps ``gap`` (GeV)."""
        value = self.plateau * _logistic((gap - self.dm0) / self.w_dm) * _logistic((parent - self.m0) / self.w_m)
        return np.where(gap > self.dm_min, value, 0.0)


def _logistic(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


SIGNAL_REGIONS: tuple[str, ...] = ("jets_met_2j", "jets_met_4j", "one_lepton", "two_lepton_ew")
"""Signal regions of the recast (their background and observed counts come from config)."""

EFFICIENCIES: dict[str, dict[str, Efficiency]] = {
    "gluino_qq": {
        "jets_met_4j": Efficiency(0.30, 600.0, 150.0, 1200.0, 250.0, 100.0),
        "jets_met_2j": Efficiency(0.08, 600.0, 150.0, 1200.0, 250.0, 100.0),
    },
    "gluino_tt": {
        "jets_met_4j": Efficiency(0.20, 700.0, 150.0, 1200.0, 250.0, 2 * M_TOP),
        "one_lepton": Efficiency(0.15, 700.0, 150.0, 1200.0, 250.0, 2 * M_TOP),
    },
    "squark": {
        "jets_met_2j": Efficiency(0.25, 500.0, 120.0, 1000.0, 250.0, 100.0),
        "jets_met_4j": Efficiency(0.05, 500.0, 120.0, 1000.0, 250.0, 100.0),
    },
    "stop_t": {
        "one_lepton": Efficiency(0.06, 250.0, 60.0, 500.0, 100.0, M_TOP),
        "jets_met_2j": Efficiency(0.03, 300.0, 80.0, 600.0, 150.0, M_TOP),
    },
    "stop_bw": {
        "one_lepton": Efficiency(0.01, 100.0, 20.0, 300.0, 80.0, M_W + M_BOTTOM),
    },
    "sbottom": {
        "jets_met_2j": Efficiency(0.15, 300.0, 80.0, 600.0, 150.0, 50.0),
    },
    "ewkino_wz": {
        "two_lepton_ew": Efficiency(0.004, 150.0, 40.0, 200.0, 50.0, 60.0),
    },
    "ewkino_slepton": {
        "two_lepton_ew": Efficiency(0.08, 150.0, 40.0, 200.0, 50.0, 30.0),
    },
    "slepton": {
        "two_lepton_ew": Efficiency(0.15, 100.0, 30.0, 150.0, 40.0, 20.0),
    },
}
"""Topology -> signal region -> efficiency parametrisation (only the listed regions receive signal)."""


GLUINO_CHANNELS: dict[str, tuple[str, ...]] = {
    "qq": ("m_uL", "m_uR", "m_dL", "m_dR"),
    "bb": ("m_sb1", "m_sb2"),
    "tt": ("m_st1", "m_st2"),
}
"""Gluino three-body channel -> the squark states whose off-shell propagators mediate it (u, d states twice: the s
and c squarks are degenerate with them)."""

_SECOND_GENERATION = {"qq": 2.0, "bb": 1.0, "tt": 1.0}


def gluino_branching_ratios(masses: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Branching ratios of g -> q q chi10 (q = u d s c), b b chi10 and t t chi10; they add up to 1 at every point.

    Each squark state enters once, with the weight m^-4 of its off-shell propagator (heavy, decoupled squarks; no
    phase-space or mixing factors): 8 light states (u, d, s, c x L, R), b~1 and b~2, t~1 and t~2, the tops only when
    m_gluino > 2 m_t + m_chi10. Until this function, b~1 was counted twice and b~2 not at all, and the light states
    took the mean squark mass.

    Example:
        >>> m = {k: np.array([2000.0]) for k in ("m_uL", "m_uR", "m_dL", "m_dR", "m_sb1", "m_sb2", "m_st1", "m_st2")}
        >>> m |= {"m_gluino": np.array([1500.0]), "m_chi10": np.array([100.0])}
        >>> {k: round(float(v[0]), 3) for k, v in gluino_branching_ratios(m).items()}
        {'qq': 0.667, 'bb': 0.167, 'tt': 0.167}
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = {
            channel: _SECOND_GENERATION[channel] * sum(np.asarray(masses[name], float) ** -4.0 for name in names)
            for channel, names in GLUINO_CHANNELS.items()
        }
        tops_open = masses["m_gluino"] > 2 * M_TOP + masses["m_chi10"]
        weights["tt"] = np.where(tops_open, weights["tt"], 0.0)
        total = sum(weights.values())
        return {channel: np.nan_to_num(w / total) for channel, w in weights.items()}


def topologies(masses: Mapping[str, np.ndarray], sigma: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Simplified-model topologies of every point: sigma x BR (fb), parent mass and mass gap to the LSP.

    Args:
        masses: Output of :func:`~ml4hep.susy.spectrum.spectrum`.
        sigma: Output of :func:`~ml4hep.susy.xsec.cross_sections`.

    Returns:
        Topology name (keys of :data:`EFFICIENCIES`) -> ``sigma`` (fb), ``parent`` and ``gap`` (GeV).
    """
    lsp = masses["m_chi10"]
    mg, mq = masses["m_gluino"], masses["m_squark"]
    br_top = gluino_branching_ratios(masses)["tt"]
    gluinos = sigma["gluino_pair"] + 0.5 * sigma["squark_gluino"]
    stop_gap = masses["m_st1"] - lsp
    slepton_between = np.zeros(len(lsp), dtype=bool)
    for name in ("m_eL", "m_eR", "m_snu", "m_stau1", "m_snutau"):
        slepton_between |= (masses[name] < masses["m_chi1p"]) & (masses[name] > lsp)
    ewkinos = sigma["c1n2"] + sigma["c1c1"]
    gap_ew = masses["m_chi1p"] - lsp
    return {
        "gluino_qq": {"sigma": gluinos * (1 - br_top), "parent": mg, "gap": mg - lsp},
        "gluino_tt": {"sigma": gluinos * br_top, "parent": mg, "gap": mg - lsp},
        "squark": {"sigma": 0.5 * sigma["squark_gluino"], "parent": mq, "gap": mq - lsp},
        **{
            f"squark_{name[2:]}": {
                "sigma": sigma[f"squark_pair_{name[2:]}"],
                "parent": masses[name],
                "gap": masses[name] - lsp,
            }
            for name in SQUARKS
        },
        "stop_t": {
            "sigma": np.where(stop_gap > M_TOP, sigma["stop_pair"], 0.0),
            "parent": masses["m_st1"],
            "gap": stop_gap,
        },
        "stop_bw": {
            "sigma": np.where((stop_gap <= M_TOP) & (stop_gap > M_W + M_BOTTOM), sigma["stop_pair"], 0.0),
            "parent": masses["m_st1"],
            "gap": stop_gap,
        },
        "sbottom": {"sigma": sigma["sbottom_pair"], "parent": masses["m_sb1"], "gap": masses["m_sb1"] - lsp},
        "ewkino_wz": {"sigma": np.where(slepton_between, 0.0, ewkinos), "parent": masses["m_chi1p"], "gap": gap_ew},
        "ewkino_slepton": {
            "sigma": np.where(slepton_between, ewkinos, 0.0),
            "parent": masses["m_chi1p"],
            "gap": gap_ew,
        },
        "slepton": {
            "sigma": sigma["slepton_L"] + sigma["slepton_R"],
            "parent": np.minimum(masses["m_eL"], masses["m_eR"]),
            "gap": np.minimum(masses["m_eL"], masses["m_eR"]) - lsp,
        },
    }


def signal_yields(
    masses: Mapping[str, np.ndarray],
    luminosity_fb: float,
    order: str = "nnll",
    overrides: Mapping[tuple[str, str], Any] | None = None,
) -> dict[str, np.ndarray]:
    """Expected signal events per signal region (vectorised over points).

    Args:
        masses: Output of :func:`~ml4hep.susy.spectrum.spectrum`.
        luminosity_fb: Integrated luminosity.
        order: Cross-section order of the strong channels (``nnll`` or ``nlo``).
        overrides: (topology, region) -> efficiency callable replacing the parametrisation (e.g. the Pythia8 grid
            of :mod:`ml4hep.susy.grid`).

    Returns:
        Signal region -> expected events.
    """
    tops = topologies(masses, cross_sections(masses, order))
    yields = {region: np.zeros(len(masses["m_chi10"])) for region in SIGNAL_REGIONS}
    overrides = overrides or {}
    for topology, t in tops.items():
        for region, efficiency in EFFICIENCIES[
            topology.split("_")[0] if topology.startswith("squark") else topology
        ].items():
            efficiency = overrides.get((topology, region), efficiency)
            yields[region] += luminosity_fb * t["sigma"] * efficiency(t["parent"], t["gap"])
    return {region: np.nan_to_num(value, nan=0.0) for region, value in yields.items()}


def counting_spec(signal: float, background: float, uncertainty: float, channel: str = "singlechannel") -> dict:
    """The pyhf model spec of one counting region, as :func:`cls_test` tests it.

    It is the spec of ``pyhf.simplemodels.uncorrelated_background`` (signal scaled by ``mu``, the background with an
    absolute uncertainty as a ``shapesys``); the recast's workspaces (:mod:`ml4hep.susy.benchmarks`) name the channel
    after the signal region.
    """
    return {
        "channels": [
            {
                "name": channel,
                "samples": [
                    {
                        "name": "signal",
                        "data": [float(signal)],
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {
                        "name": "background",
                        "data": [float(background)],
                        "modifiers": [{"name": "uncorr_bkguncrt", "type": "shapesys", "data": [float(uncertainty)]}],
                    },
                ],
            }
        ]
    }


def cls_test(signal: float, background: float, uncertainty: float, observed: float) -> tuple[float, float]:
    """Observed and expected CLs of mu = 1 in one counting region (pyhf, qtilde, asymptotic).

    Args:
        signal: Expected signal events.
        background: Expected background events.
        uncertainty: Absolute background uncertainty.
        observed: Observed events.

    Returns:
        (observed CLs, expected CLs).
    """
    import pyhf

    pyhf.set_backend("numpy")
    # built without re-validating the schema every time
    model = pyhf.Model(counting_spec(signal, background, uncertainty), poi_name="mu", validate=False)
    data = [float(observed), *model.config.auxdata]
    observed_cls, expected_cls = pyhf.infer.hypotest(1.0, data, model, test_stat="qtilde", return_expected=True)
    return float(observed_cls), float(expected_cls)


def label_points(
    points: Mapping[str, np.ndarray],
    regions: Mapping[str, Mapping[str, float]],
    luminosity_fb: float,
    min_signal_events: float = 1.0,
    order: str = "nnll",
    progress: bool = False,
    overrides: Mapping[tuple[str, str], Any] | None = None,
    toys: CLsCorrection | None = None,
) -> dict[str, np.ndarray]:
    """Run the full recast on every point and label it.

    Args:
        points: Parameter -> array.
        regions: Signal region -> ``background``, ``background_uncertainty``, ``observed`` (config).
        luminosity_fb: Integrated luminosity.
        min_signal_events: Regions with fewer expected signal events are not tested (cannot exclude).
        order: Cross-section order of the strong channels.
        progress: Show a tqdm progress bar.
        overrides: Efficiencies replacing the parametrisation (see :func:`signal_yields`).
        toys: Toy-based observed CLs of the small-background regions (:func:`ml4hep.susy.toys.read_toys`), or None
            (asymptotic everywhere).

    Returns:
        Column -> array per point: the masses and fractions of the spectrum, ``lsp``, ``s_{region}`` (expected
        signal), ``cls_obs_{region}`` and ``cls_exp_{region}`` (NaN when not tested), ``best_region`` (index into
        :data:`SIGNAL_REGIONS`, -1 when none was tested), ``cls`` (observed CLs there, 1 when none),
        ``cls_asymptotic`` (its asymptotic value), ``cls_toys`` (1 when ``cls`` came from toys), ``excluded`` (see
        :data:`EXCLUDED`) and ``seconds`` (recast time of the point).
    """
    missing = [r for r in SIGNAL_REGIONS if r not in regions]
    if missing:
        from ml4hep.errors import ConfigError

        raise ConfigError(f"config key 'susy.recast.signal_regions' lacks region(s) {', '.join(missing)}")
    n = len(next(iter(points.values())))
    start = time.perf_counter()
    masses = spectrum(points)
    valid = masses["lsp"] == 0
    selected = {k: v[valid] for k, v in masses.items()}
    yields_valid = (
        signal_yields(selected, luminosity_fb, order, overrides)
        if valid.any()
        else {r: np.zeros(0) for r in SIGNAL_REGIONS}
    )
    vector_seconds = (time.perf_counter() - start) / max(n, 1)
    out: dict[str, np.ndarray] = dict(masses)
    for region in SIGNAL_REGIONS:
        out[f"s_{region}"] = np.zeros(n)
        out[f"s_{region}"][valid] = yields_valid[region]
        out[f"cls_obs_{region}"] = np.full(n, np.nan)
        out[f"cls_exp_{region}"] = np.full(n, np.nan)
    out["best_region"] = np.full(n, -1, dtype=np.int32)
    out["cls"] = np.ones(n)
    out["cls_asymptotic"] = np.ones(n)
    out["cls_toys"] = np.zeros(n, dtype=np.int32)
    asymptotic = {region: np.full(n, np.nan) for region in SIGNAL_REGIONS}
    out["excluded"] = np.where(valid, ALLOWED, NOT_LABELLED).astype(np.int32)
    out["seconds"] = np.full(n, vector_seconds)
    indices = np.flatnonzero(valid)
    iterator: Sequence[int] | Any = indices
    if progress:
        from tqdm import tqdm

        iterator = tqdm(indices, desc="recast", mininterval=5.0)
    for i in iterator:
        point_start = time.perf_counter()
        best, best_expected = -1, np.inf
        for r, region in enumerate(SIGNAL_REGIONS):
            s = out[f"s_{region}"][i]
            if s < min_signal_events:
                continue
            spec = regions[region]
            obs_cls, exp_cls = cls_test(s, spec["background"], spec["background_uncertainty"], spec["observed"])
            asymptotic[region][i] = obs_cls
            if toys is not None and toys.covers(region, s):
                obs_cls = toys(region, s, obs_cls)
            out[f"cls_obs_{region}"][i], out[f"cls_exp_{region}"][i] = obs_cls, exp_cls
            if exp_cls < best_expected:
                best, best_expected = r, exp_cls
        if best >= 0:
            out["best_region"][i] = best
            out["cls"][i] = out[f"cls_obs_{SIGNAL_REGIONS[best]}"][i]
            out["cls_asymptotic"][i] = asymptotic[SIGNAL_REGIONS[best]][i]
            out["cls_toys"][i] = int(out["cls"][i] != out["cls_asymptotic"][i])
            out["excluded"][i] = EXCLUDED if out["cls"][i] < CLS_THRESHOLD else ALLOWED
        out["seconds"][i] += time.perf_counter() - point_start
    return out


def recast_point(
    point: Mapping[str, float],
    regions: Mapping[str, Mapping[str, float]],
    luminosity_fb: float,
    min_signal_events: float = 1.0,
    order: str = "nnll",
    toys: CLsCorrection | None = None,
) -> dict[str, Any]:
    """The recast of one point (a convenience wrapper of :func:`label_points`), as plain Python values."""
    columns = label_points(
        {k: np.array([float(v)]) for k, v in point.items()},
        regions,
        luminosity_fb,
        min_signal_events,
        order,
        toys=toys,
    )
    return {k: v[0].item() for k, v in columns.items()}


def label_shard(
    scan_path: str,
    output: str,
    regions: Mapping[str, Mapping[str, float]],
    luminosity_fb: float,
    min_signal_events: float = 1.0,
    order: str = "nnll",
    overrides: Mapping[tuple[str, str], Any] | None = None,
    toys: CLsCorrection | None = None,
) -> dict[str, Any]:
    """One labelling job: the recast of every point of a scan shard, written as ROOT (TTree ``points``).

    Args:
        scan_path: Scan shard.
        output: Label shard (parameters, ``point_id``, and every column of :func:`label_points`).
        regions: Signal regions (config).
        luminosity_fb: Integrated luminosity.
        min_signal_events: See :func:`label_points`.
        order: Cross-section order of the strong channels.
        overrides: (topology, region) -> efficiency replacing the parametrisation (e.g. the Pythia8 grid of
            :func:`ml4hep.susy.grid.grid_overrides`), or None.
        toys: Toy CLs of the small-background regions, or None (see :func:`label_points`).

    Returns:
        Summary: points, labelled, excluded, seconds per labelled point, and how many labels took their CLs from
        toys and how many of those the toys changed.
    """
    from ml4hep.susy.scan import read_points, write_points

    points = read_points(scan_path, extra=("point_id",))
    ids = points.pop("point_id")
    start = time.perf_counter()
    columns = label_points(
        points, regions, luminosity_fb, min_signal_events, order, progress=True, overrides=overrides or {}, toys=toys
    )
    seconds = time.perf_counter() - start
    write_points(output, points, {"point_id": ids, **columns})
    labelled = columns["excluded"] != NOT_LABELLED
    excluded_asymptotic = (columns["best_region"] >= 0) & (columns["cls_asymptotic"] < CLS_THRESHOLD)
    summary = {
        "points": int(len(ids)),
        "labelled": int(labelled.sum()),
        "excluded": int((columns["excluded"] == EXCLUDED).sum()),
        "seconds": seconds,
        "seconds_per_labelled_point": float(columns["seconds"][labelled].mean()) if labelled.any() else None,
        "cls_from_toys": int(columns["cls_toys"][labelled].sum()),
        "labels_changed_by_toys": int(np.sum(labelled & ((columns["cls"] < CLS_THRESHOLD) != excluded_asymptotic))),
    }
    log.info("recast: %s", summary)
    return summary
