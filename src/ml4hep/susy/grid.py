"""Simplified-model efficiency grid from Pythia8 + FastJet: gluino pairs, g -> q q chi10, in the jets + MET regions.

For each (m_gluino, m_chi10) of the grid, ``events`` events of p p -> gluino gluino at 13 TeV are generated with
Pythia8 (SUSY processes ``SUSY:gg2gluinogluino`` and ``SUSY:qqbar2gluinogluino``, spectrum and the forced decay
g -> q qbar chi10, q = u, d, s, c, from an SLHA file written here; every other sparticle at 5 TeV; MPI off), and
selected at particle level (no detector smearing):

* jets: anti-kT R = 0.4 (FastJet) of all visible final-state particles with |eta| < 4.9, pT > 50 GeV, |eta| < 2.8;
* missing transverse momentum: minus the vector sum of those visible particles;
* m_eff = MET + scalar sum of the jet pT;
* ``jets_met_2j``: >= 2 jets, pT(j1), pT(j2) > 250 GeV, MET > 300 GeV, MET / sqrt(HT) > 16 GeV^1/2, m_eff > 2800 GeV;
* ``jets_met_4j``: >= 4 jets with pT > 100 GeV, MET > 300 GeV, MET / m_eff > 0.2, m_eff > 2200 GeV.

The efficiency is the fraction of events passing. :class:`GridEfficiency` interpolates it bilinearly in
(m_gluino, m_chi10 / m_gluino), clamped to the grid; with ``susy.efficiency_grid.use_in_recast`` it replaces the
parametrised efficiencies of the ``gluino_qq`` topology in the recast.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.susy.recast import EFFICIENCIES

log = logging.getLogger(__name__)

GRID_REGIONS = ("jets_met_2j", "jets_met_4j")
"""Signal regions the grid provides efficiencies for (the gluino topology's regions)."""

INVISIBLE = (12, 14, 16, 1000022)
HEAVY = 5000.0
_SPARTICLES = (
    1000001,
    1000002,
    1000003,
    1000004,
    1000005,
    1000006,
    2000001,
    2000002,
    2000003,
    2000004,
    2000005,
    2000006,
    1000011,
    1000012,
    1000013,
    1000014,
    1000015,
    1000016,
    2000011,
    2000013,
    2000015,
    1000023,
    1000025,
    1000035,
    1000024,
    1000037,
    35,
    36,
    37,
)


def gluino_slha(m_gluino: float, m_lsp: float) -> str:
    """SLHA spectrum of the simplified model: gluino and bino-like LSP light, all else at 5 TeV, g -> q q chi10."""
    lines = [
        "BLOCK MODSEL",
        "    1   0",
        "BLOCK SMINPUTS",
        "    1   1.27934e+02",
        "    3   1.18000e-01",
        "    4   9.11876e+01",
        "    5   4.18000e+00",
        "    6   1.73000e+02",
        "BLOCK MINPAR",
        "    3   1.0e+01",
        "BLOCK MASS",
        f"   1000021   {m_gluino:.6e}",
        f"   1000022   {max(m_lsp, 0.0):.6e}",
        "        25   125.0",
    ]
    lines += [f"   {pdg}   {HEAVY:.6e}" for pdg in _SPARTICLES]
    lines += [
        "BLOCK NMIX",
        "  1  1  1.0",
        "  2  2  1.0",
        "  3  3  0.70710678",
        "  3  4  -0.70710678",
        "  4  3  0.70710678",
        "  4  4  0.70710678",
    ]
    for block in ("UMIX", "VMIX", "STOPMIX", "SBOTMIX", "STAUMIX"):
        lines += [f"BLOCK {block}", "  1  1  1.0", "  2  2  1.0"]
    lines += ["BLOCK ALPHA", "  -0.1", "DECAY   1000021   1.0"]
    lines += [f"   0.25   3   1000022   {q}  {-q}" for q in (1, 2, 3, 4)]
    lines += ["DECAY   1000022   0.0"]
    return "\n".join(lines) + "\n"


def select(particles: Any) -> dict[str, np.ndarray]:
    """Per-event pass flags of the grid's signal regions for one ``nextBatch`` result."""
    import awkward as ak
    import fastjet

    from ml4hep.generate.record import FlatRecord, jagged, pt_eta_phi_m

    rec = FlatRecord.from_batch(particles.prt)
    n = rec.n_events
    final = np.flatnonzero(rec.is_final & ~np.isin(rec.abs_pid, INVISIBLE))
    _, eta, _, _ = pt_eta_phi_m(rec.px[final], rec.py[final], rec.pz[final], rec.e[final])
    final = final[np.abs(eta) < 4.9]
    met_x = -np.bincount(rec.event[final], weights=rec.px[final], minlength=n)
    met_y = -np.bincount(rec.event[final], weights=rec.py[final], minlength=n)
    met = np.hypot(met_x, met_y)
    inputs = jagged(
        {"px": rec.px[final], "py": rec.py[final], "pz": rec.pz[final], "E": rec.e[final]}, rec.event[final], n
    )
    jets = fastjet.ClusterSequence(inputs, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)).inclusive_jets(
        min_pt=50.0
    )
    flat = ak.flatten(jets)
    counts = ak.to_numpy(ak.num(jets))
    event = np.repeat(np.arange(n), counts)
    pt, eta, _, _ = pt_eta_phi_m(*(ak.to_numpy(getattr(flat, c)) for c in ("px", "py", "pz", "E")))
    good = (pt > 50.0) & (np.abs(eta) < 2.8)
    pt, event = pt[good], event[good]
    ht = np.bincount(event, weights=pt, minlength=n)
    meff = met + ht
    order = np.lexsort((-pt, event))
    pt, event = pt[order], event[order]
    rank = np.arange(len(pt)) - np.searchsorted(event, event)
    lead = np.zeros((n, 2))
    for r in (0, 1):
        lead[event[rank == r], r] = pt[rank == r]
    n_100 = np.bincount(event[pt > 100.0], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        two = (lead[:, 1] > 250.0) & (met > 300.0) & (met / np.sqrt(np.maximum(ht, 1e-9)) > 16.0) & (meff > 2800.0)
        four = (n_100 >= 4) & (met > 300.0) & (met / np.maximum(meff, 1e-9) > 0.2) & (meff > 2200.0)
    return {"jets_met_2j": two, "jets_met_4j": four}


def simulate_point(m_gluino: float, m_lsp: float, events: int, seed: int, batch_size: int = 200) -> dict[str, Any]:
    """Efficiencies of the grid's regions at one (m_gluino, m_chi10): Pythia8 events through :func:`select`."""
    import pythia8mc

    from ml4hep.generate.pythia import COMMON_SETTINGS, stdout_to_stderr

    with tempfile.TemporaryDirectory() as scratch:
        slha = Path(scratch) / "gluino.slha"
        slha.write_text(gluino_slha(m_gluino, m_lsp))
        with stdout_to_stderr():
            pythia = pythia8mc.Pythia("", False)
            for setting in (
                *COMMON_SETTINGS,
                "Beams:eCM = 13000.",
                "SUSY:gg2gluinogluino = on",
                "SUSY:qqbar2gluinogluino = on",
                f"SLHA:file = {slha}",
                "PartonLevel:MPI = off",
                f"Random:seed = {int(seed)}",
            ):
                pythia.readString(setting)
            if not pythia.init():
                from ml4hep.errors import GenerationError

                raise GenerationError(f"Pythia8 did not initialise the gluino grid point ({m_gluino}, {m_lsp})")
            passed = dict.fromkeys(GRID_REGIONS, 0)
            done = 0
            while done < events:
                batch = pythia.nextBatch(min(batch_size, events - done), "skip")
                if len(batch) == 0:
                    continue
                for region, flags in select(batch).items():
                    passed[region] += int(flags.sum())
                done += len(batch)
            sigma_fb = pythia.infoPython().sigmaGen() * 1e12
    return {
        "m_gluino": float(m_gluino),
        "m_lsp": float(m_lsp),
        "events": done,
        "sigma_lo_fb": sigma_fb,
        **{f"eff_{r}": passed[r] / done for r in GRID_REGIONS},
    }


def efficiency_grid(
    gluino_masses: Sequence[float],
    lsp_fractions: Sequence[float],
    events: int,
    seed: int,
    output: str | os.PathLike[str],
) -> list[dict[str, Any]]:
    """Simulate every grid point and write the grid CSV (one row per point, efficiencies with binomial errors)."""
    from ml4hep.config import derive_seed

    rows = []
    for m_gluino in gluino_masses:
        for fraction in lsp_fractions:
            row = simulate_point(m_gluino, fraction * m_gluino, events, derive_seed(seed, m_gluino, fraction))
            row["lsp_fraction"] = float(fraction)
            for region in GRID_REGIONS:
                eff = row[f"eff_{region}"]
                row[f"err_{region}"] = float(np.sqrt(max(eff * (1 - eff), 1.0 / events) / events))
            log.info("gluino grid %s", row)
            rows.append(row)
    keys = [
        "m_gluino",
        "m_lsp",
        "lsp_fraction",
        "events",
        "sigma_lo_fb",
        *[f"{k}_{r}" for r in GRID_REGIONS for k in ("eff", "err")],
    ]
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=keys)
        writer.writeheader()
        writer.writerows([{k: row[k] for k in keys} for row in rows])
    return rows


def read_grid(path: str | os.PathLike[str]) -> list[dict[str, float]]:
    """Rows of a grid CSV written by :func:`efficiency_grid`."""
    with open(path, newline="") as stream:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(stream)]


class GridEfficiency:
    """Efficiency of one region from the grid, bilinear in (m_gluino, m_chi10 / m_gluino), clamped to the grid."""

    def __init__(self, rows: Iterable[Mapping[str, float]], region: str) -> None:
        from scipy.interpolate import RegularGridInterpolator

        rows = list(rows)
        self.masses = np.unique([r["m_gluino"] for r in rows])
        self.fractions = np.unique([r["lsp_fraction"] for r in rows])
        table = np.full((len(self.masses), len(self.fractions)), np.nan)
        for r in rows:
            table[np.searchsorted(self.masses, r["m_gluino"]), np.searchsorted(self.fractions, r["lsp_fraction"])] = r[
                f"eff_{region}"
            ]
        if np.isnan(table).any() or len(self.masses) < 2 or len(self.fractions) < 2:
            raise ValueError("the efficiency grid needs a full rectangle of at least 2 x 2 points")
        self.interpolator = RegularGridInterpolator((self.masses, self.fractions), table)

    def __call__(self, parent: np.ndarray, gap: np.ndarray) -> np.ndarray:
        """Efficiency for gluino masses ``parent`` and mass gaps ``gap`` to the LSP."""
        parent, gap = np.broadcast_arrays(np.asarray(parent, float), np.asarray(gap, float))
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = np.clip(1.0 - gap / parent, self.fractions[0], self.fractions[-1])
        mass = np.clip(parent, self.masses[0], self.masses[-1])
        out = self.interpolator(np.column_stack([mass.ravel(), fraction.ravel()])).reshape(parent.shape)
        return np.where(gap > 0, np.nan_to_num(out), 0.0)


def grid_overrides(path: str | os.PathLike[str] | None) -> dict[tuple[str, str], GridEfficiency]:
    """(topology, region) -> grid efficiency for the recast (empty when no grid is used)."""
    if path is None:
        return {}
    rows = read_grid(path)
    return {("gluino_qq", region): GridEfficiency(rows, region) for region in GRID_REGIONS}


def compare_with_parametrisation(rows: Sequence[Mapping[str, float]]) -> list[dict[str, Any]]:
    """Grid efficiency next to the recast's parametrised one, per grid point and region."""
    out = []
    for row in rows:
        parent, gap = np.array([row["m_gluino"]]), np.array([row["m_gluino"] - row["m_lsp"]])
        for region in GRID_REGIONS:
            parametrised = float(EFFICIENCIES["gluino_qq"][region](parent, gap)[0])
            out.append(
                {
                    "m_gluino": row["m_gluino"],
                    "m_lsp": row["m_lsp"],
                    "region": region,
                    "grid": row[f"eff_{region}"],
                    "grid_error": row[f"err_{region}"],
                    "parametrised": parametrised,
                }
            )
    return out


def run_grid(
    options: Mapping[str, Any], seed: int, csv_path: str | os.PathLike[str], json_path: str | os.PathLike[str]
) -> dict[str, Any]:
    """The grid rule: simulate the grid, compare it with the parametrisation, write CSV and JSON.

    The figure is drawn from the CSV by a render rule (:func:`ml4hep.plots.susy.plot_efficiency_grid`).

    Args:
        options: ``gluino_masses``, ``lsp_fractions``, ``events`` (config ``susy.efficiency_grid``).
        seed: Seed of the grid (each point derives its own).
        csv_path: The grid (input of the recast when ``use_in_recast``).
        json_path: Comparison with the parametrisation and a summary.

    Returns:
        The summary.
    """
    from ml4hep.io import write_json

    rows = efficiency_grid(options["gluino_masses"], options["lsp_fractions"], int(options["events"]), seed, csv_path)
    comparison = compare_with_parametrisation(rows)
    summary: dict[str, Any] = {"points": len(rows), "events_per_point": int(options["events"])}
    for region in GRID_REGIONS:
        entries = [c for c in comparison if c["region"] == region]
        diff = np.array([c["grid"] - c["parametrised"] for c in entries])
        summary[region] = {
            "mean_grid": float(np.mean([c["grid"] for c in entries])),
            "mean_parametrised": float(np.mean([c["parametrised"] for c in entries])),
            "mean_difference": float(diff.mean()),
            "max_abs_difference": float(np.abs(diff).max()),
        }
    write_json(json_path, {"summary": summary, "comparison": comparison})
    return summary


def parametrised_curve(region: str, m_gluino: float, fractions: np.ndarray) -> np.ndarray:
    """The recast's parametrised gluino efficiency in ``region`` along m_chi10 / m_gluino at one gluino mass."""
    parent = np.full_like(fractions, m_gluino)
    return EFFICIENCIES["gluino_qq"][region](parent, parent * (1 - fractions))
