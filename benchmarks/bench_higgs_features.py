"""Benchmark of the Higgs lep-had selection and HiggsML features against a raw read and a per-event Python loop.

What is measured, in one run, on one set of Higgs-set ROOT files (single process, no threads):

1. Columnar throughput against a raw read.

   (ref) Reference: ``uproot.open(f)["events"].arrays(list(GENERATED_BRANCHES))`` for every file, i.e. reading
         exactly the branches the Higgs dataset reads into awkward arrays, nothing else. One untimed warm-up read
         (page cache, uproot's interpretation set-up), then ``--repeats`` timed reads; the median is reported.
   (info) ``read_sample(paths, GENERATED_BRANCHES)`` per sample (``ml4hep.io``: the same read plus file checks and
         ``ak.zip``), timed the same way, to show what the checked reader adds to the raw read.
   (a)   Ours: ``select_lephad(events)`` followed by ``higgsml_features(selected, jet_pt_min=...)`` on the events
         already in memory (read once with ``read_sample`` per sample, not timed), one call pair per sample as
         ``ml4hep.higgs.dataset.process_table`` does. One untimed warm-up, then ``--repeats`` timed runs, median;
         the two steps are also reported separately. ``events/s`` counts input events (before the selection);
         ``x raw read = t_ours / t_raw_read`` is the cost of selection + features in units of the I/O that any
         feature computation needs anyway.

2. Columnar against a straightforward per-event Python loop, on a subset: the first ``--loop-events`` events,
   taken evenly from each sample (first ``N // samples`` events of each), concatenated into one array.

   The loop (:func:`loop_features`) iterates over the events as Python dicts (``ak.to_list`` of the record array;
   the conversion is timed separately and not part of the loop time) and computes with ``math`` only: the
   selection (exactly one lepton, at least one hadronic tau, lepton and first tau of opposite charge), jets above
   ``jet_pt_min`` sorted by pT, and all 30 features of ``FEATURE_NAMES``: the 17 ``PRI_*`` (tau, lepton, MET,
   ``PRI_jet_num`` capped at 3, leading/subleading jet, ``PRI_jet_all_pt``) and the 13 ``DER_*``
   (``DER_mass_transverse_met_lep``, ``DER_mass_vis`` with the tau mass, ``DER_pt_h``, ``DER_deltaeta_jet_jet``,
   ``DER_mass_jet_jet`` with jet masses, ``DER_prodeta_jet_jet``, ``DER_deltar_tau_lep``, ``DER_pt_tot``,
   ``DER_sum_pt``, ``DER_pt_ratio_lep_tau``, ``DER_met_phi_centrality`` with its 1e-4 rad collinear shift,
   ``DER_lep_eta_centrality``, ``DER_mass_collinear``), with -999 where undefined. Written from the definitions in
   the docstring of ``ml4hep.higgs.features``, not from its code.

   Check: the loop must select exactly the events ``select_lephad`` selects, and every feature of every selected
   event must agree with ``higgsml_features``: |loop - columnar| <= 1e-9 * max(1, |columnar|) (absolute below 1,
   relative above), and -999 in the same places. The benchmark fails (exit 1) otherwise.

   Timing: loop and columnar (``select_lephad`` + ``higgsml_features``, one call pair on the same array) each get
   one untimed warm-up and ``--repeats`` timed runs, median. ``speed-up = t_loop / t_columnar``, also given with the
   ``ak.to_list`` conversion added to the loop (a loop has to get its events out of the arrays somehow).

   Scaling: the columnar code pays a fixed cost per call (tens of awkward operations, each with Python-level
   dispatch) and a small cost per event, the loop a cost per event only; on a few thousand events the fixed cost
   can dominate. So the same comparison (and check) is also made on all events and on all events repeated
   ``--tile`` times in memory (``ak.concatenate``). The fixed cost is measured directly (the columnar pair on the
   first 10 events), and the marginal columnar cost per event is (t_largest - t_fixed) / (n_largest - 10).

Samples: ``--samples FILE...`` (e.g. ``results/samples/higgs_*/*.root``; files are grouped into samples by their
directory). Default: ``results/samples/higgs_ztautau/*.root`` and ``results/samples/higgs_ggh125/*.root`` if any
exist, else ``--events`` events of ``higgs_ztautau`` generated with ``generate_shard`` into a temporary directory
(the generation time is printed but is not part of any measurement).

Usage::

    python benchmarks/bench_higgs_features.py [--samples FILE ...] [--events 2000] [--repeats 21]
                                              [--loop-events 2000] [--tile 10] [--jet-pt-min 30]
                                              [--output results/benchmarks/higgs_features.json]
"""

from __future__ import annotations

import argparse
import datetime
import glob
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from timing import summary, timed, versions, write_report  # benchmarks/timing.py, beside this script

from ml4hep.config import validate_config
from ml4hep.higgs.dataset import GENERATED_BRANCHES
from ml4hep.higgs.features import FEATURE_NAMES, UNDEFINED, higgsml_features, select_lephad
from ml4hep.io import read_sample

DEFAULT_SAMPLE_GLOBS = ("results/samples/higgs_ztautau/*.root", "results/samples/higgs_ggh125/*.root")
DEFAULT_EVENTS = 2000
DEFAULT_REPEATS = 21
DEFAULT_LOOP_EVENTS = 2000
DEFAULT_TILE = 10
FIXED_COST_EVENTS = 10
TOLERANCE = 1e-9
JET_NUM_CAP = 3
CENTRALITY_PHI_SHIFT = 1e-4
COLLINEAR_SIN_MIN = 1e-9


# ---------------------------------------------------------------------------------------------------------------
# The per-event reference implementation (pure Python, math only)
# ---------------------------------------------------------------------------------------------------------------


def _cartesian(pt: float, eta: float, phi: float, m: float) -> tuple[float, float, float, float]:
    """(px, py, pz, E) of one object."""
    pz = pt * math.sinh(eta)
    return pt * math.cos(phi), pt * math.sin(phi), pz, math.sqrt(pt * pt + pz * pz + m * m)


def _pair_mass(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Invariant mass of two objects given as (pt, eta, phi, m)."""
    px1, py1, pz1, e1 = _cartesian(*a)
    px2, py2, pz2, e2 = _cartesian(*b)
    px, py, pz, e = px1 + px2, py1 + py2, pz1 + pz2, e1 + e2
    return math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0))


def _sign(x: float) -> float:
    return (x > 0) - (x < 0)


def _event_features(ev: Mapping[str, Any], jet_pt_min: float) -> list[float]:
    """The 30 features (FEATURE_NAMES order) of one selected event."""
    tau = (ev["tau_pt"][0], ev["tau_eta"][0], ev["tau_phi"][0], ev["tau_m"][0])
    lep = (ev["lep_pt"][0], ev["lep_eta"][0], ev["lep_phi"][0], 0.0)
    met, met_phi = ev["met"], ev["met_phi"]
    jets = sorted(
        (
            (pt, eta, phi, m)
            for pt, eta, phi, m in zip(ev["jet_pt"], ev["jet_eta"], ev["jet_phi"], ev["jet_m"], strict=True)
            if pt > jet_pt_min
        ),
        key=lambda jet: -jet[0],
    )
    n_jets = len(jets)
    jet_num = float(min(n_jets, JET_NUM_CAP))
    jet_all_pt = 0.0
    for jet in jets:
        jet_all_pt += jet[0]
    j1 = jets[0] if n_jets >= 1 else None
    j2 = jets[1] if n_jets >= 2 else None

    tau_x, tau_y = tau[0] * math.cos(tau[2]), tau[0] * math.sin(tau[2])
    lep_x, lep_y = lep[0] * math.cos(lep[2]), lep[0] * math.sin(lep[2])
    met_x, met_y = met * math.cos(met_phi), met * math.sin(met_phi)

    mass_vis = _pair_mass(tau, lep)
    m_t = math.sqrt(max(2.0 * lep[0] * met * (1.0 - math.cos(lep[2] - met_phi)), 0.0))
    pt_h = math.hypot(tau_x + lep_x + met_x, tau_y + lep_y + met_y)
    dphi = (tau[2] - lep[2] + math.pi) % (2.0 * math.pi) - math.pi
    deltar = math.hypot(tau[1] - lep[1], dphi)

    tot_x, tot_y = tau_x + lep_x + met_x, tau_y + lep_y + met_y
    for jet in (j1, j2):
        if jet is not None:
            tot_x += jet[0] * math.cos(jet[2])
            tot_y += jet[0] * math.sin(jet[2])
    pt_tot = math.hypot(tot_x, tot_y)

    if j2 is not None:
        deta_jj = abs(j1[1] - j2[1])
        mass_jj = _pair_mass(j1, j2)
        prodeta_jj = j1[1] * j2[1]
        gap2 = (j1[1] - j2[1]) ** 2
        offset2 = (lep[1] - 0.5 * (j1[1] + j2[1])) ** 2
        if gap2 > 0:
            lep_centrality = math.exp(-4.0 * offset2 / gap2)
        else:
            lep_centrality = 0.0 if offset2 > 0 else 1.0
    else:
        deta_jj = mass_jj = prodeta_jj = lep_centrality = UNDEFINED

    # MET phi centrality; lepton phi shifted by 1e-4 rad where tau and lepton are collinear/back to back in phi.
    lep_phi = lep[2]
    if _sign(math.sin(tau[2] - lep_phi)) == 0:
        lep_phi += CENTRALITY_PHI_SHIFT
    s = _sign(math.sin(tau[2] - lep_phi))
    a = math.sin(met_phi - lep_phi) * s
    b = math.sin(tau[2] - met_phi) * s
    norm = math.hypot(a, b)
    met_centrality = (a + b) / norm if norm > 0 else UNDEFINED

    # Collinear mass: MET = (1/x_tau - 1) pT_tau + (1/x_lep - 1) pT_lep in the transverse plane.
    det = tau_x * lep_y - tau_y * lep_x
    mass_collinear = UNDEFINED
    if abs(det) > COLLINEAR_SIN_MIN * tau[0] * lep[0]:
        extra_tau = (met_x * lep_y - met_y * lep_x) / det
        extra_lep = (tau_x * met_y - tau_y * met_x) / det
        if extra_tau >= 0 and extra_lep >= 0 and mass_vis >= 0:
            mass = mass_vis * math.sqrt(abs((1.0 + extra_tau) * (1.0 + extra_lep)))
            if math.isfinite(mass):
                mass_collinear = mass

    return [
        tau[0],
        tau[1],
        tau[2],
        lep[0],
        lep[1],
        lep[2],
        met,
        met_phi,
        ev["met_sumet"],
        jet_num,
        j1[0] if j1 else UNDEFINED,
        j1[1] if j1 else UNDEFINED,
        j1[2] if j1 else UNDEFINED,
        j2[0] if j2 else UNDEFINED,
        j2[1] if j2 else UNDEFINED,
        j2[2] if j2 else UNDEFINED,
        jet_all_pt,
        m_t,
        mass_vis,
        pt_h,
        deta_jj,
        mass_jj,
        prodeta_jj,
        deltar,
        pt_tot,
        tau[0] + lep[0] + jet_all_pt,
        lep[0] / tau[0] if tau[0] > 0 else UNDEFINED,
        met_centrality,
        lep_centrality,
        mass_collinear,
    ]


def loop_features(rows: Sequence[Mapping[str, Any]], jet_pt_min: float) -> tuple[list[int], list[list[float]]]:
    """Per-event loop: indices of the selected lep-had events and their 30 features (FEATURE_NAMES order)."""
    selected, features = [], []
    for index, ev in enumerate(rows):
        if len(ev["lep_pt"]) != 1 or len(ev["tau_pt"]) < 1 or ev["lep_charge"][0] * ev["tau_charge"][0] >= 0:
            continue
        selected.append(index)
        features.append(_event_features(ev, jet_pt_min))
    return selected, features


# ---------------------------------------------------------------------------------------------------------------
# Measurement helpers
# ---------------------------------------------------------------------------------------------------------------


def group_files(files: Sequence[str]) -> dict[str, list[str]]:
    """Sample name (the parent directory, else the file stem) -> files."""
    samples: dict[str, list[str]] = {}
    for file in files:
        path = Path(file)
        samples.setdefault(path.parent.name or path.stem, []).append(str(path))
    return samples


def generate_samples(events: int, seed: int | None, workdir: Path) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Generate ``events`` events of higgs_ztautau (one shard) into ``workdir``."""
    from ml4hep.generate.processes import generated_processes
    from ml4hep.generate.pythia import stdout_to_stderr
    from ml4hep.generate.shard import generate_shard

    raw: dict[str, Any] = {
        "events_per_shard": max(4000, events),
        "samples": {"higgs": {"processes": {"ztautau": {"events": events}}}},
    }
    if seed is not None:
        raw["seed"] = seed
    config = validate_config(raw)
    spec = generated_processes(config)["higgs_ztautau"]
    if spec.shards != 1 or spec.shard_events(0) != events:
        raise RuntimeError(f"higgs_ztautau: expected 1 shard of {events} events, got {spec.shards} shards")
    print(f"[samples] generating {events} events of higgs_ztautau ...", file=sys.stderr, flush=True)
    path = workdir / "higgs_ztautau" / "0.root"
    start = time.perf_counter()
    with stdout_to_stderr():
        result = generate_shard(spec, 0, config, path, progress=False)
    info = {
        "process": "higgs_ztautau",
        "events": int(result["events_generated"]),
        "seconds": time.perf_counter() - start,
    }
    return {"higgs_ztautau": [str(path)]}, info


def loop_subset(events: Mapping[str, ak.Array], n: int) -> ak.Array:
    """The first ``n // len(events)`` events of each sample (the remainder from the first ones), concatenated."""
    per, extra = divmod(n, len(events))
    parts = [array[: per + (1 if i < extra else 0)] for i, array in enumerate(events.values())]
    return ak.concatenate(parts) if len(parts) > 1 else parts[0]


def compare(
    loop_selected: list[int], loop_values: list[list[float]], subset: ak.Array, jet_pt_min: float
) -> dict[str, Any]:
    """Selection and per-feature agreement of the loop with select_lephad + higgsml_features on ``subset``."""
    indexed = ak.with_field(subset, np.arange(len(subset)), "bench_index")
    selected = select_lephad(indexed)
    columnar_selected = ak.to_numpy(selected.bench_index).tolist()
    columnar = higgsml_features(selected, jet_pt_min=jet_pt_min)
    same_selection = columnar_selected == loop_selected
    out: dict[str, Any] = {
        "events": len(subset),
        "selected_loop": len(loop_selected),
        "selected_columnar": len(columnar_selected),
        "same_selection": same_selection,
        "tolerance": TOLERANCE,
        "features": {},
    }
    if not same_selection:
        out["agree"] = False
        return out
    loop_matrix = np.array(loop_values, dtype=np.float64).reshape(len(loop_selected), len(FEATURE_NAMES))
    worst_scaled = 0.0
    for column, name in enumerate(FEATURE_NAMES):
        ours, theirs = columnar[name], loop_matrix[:, column]
        undefined_match = bool(np.array_equal(ours == UNDEFINED, theirs == UNDEFINED))
        diff = np.abs(theirs - ours)
        scaled = diff / np.maximum(1.0, np.abs(ours))
        worst = float(scaled.max()) if len(scaled) else 0.0
        worst_scaled = max(worst_scaled, worst if undefined_match else math.inf)
        out["features"][name] = {
            "max_abs_diff": float(diff.max()) if len(diff) else 0.0,
            "max_scaled_diff": worst,
            "undefined_match": undefined_match,
            "undefined_count": int((ours == UNDEFINED).sum()),
        }
    out["max_scaled_diff"] = worst_scaled
    out["max_abs_diff"] = max(f["max_abs_diff"] for f in out["features"].values())
    out["agree"] = bool(worst_scaled <= TOLERANCE)
    return out


def bench(
    samples: Mapping[str, list[str]], repeats: int, loop_events: int, tile: int, jet_pt_min: float
) -> dict[str, Any]:
    """All measurements of the module docstring."""
    files = [f for paths in samples.values() for f in paths]
    branches = list(GENERATED_BRANCHES)
    events = {name: read_sample(paths, GENERATED_BRANCHES, name=name) for name, paths in samples.items()}
    n_events = sum(len(a) for a in events.values())

    def raw_read() -> int:
        entries = 0
        for file in files:
            with uproot.open(file) as handle:
                entries += len(handle["events"].arrays(branches))
        return entries

    def checked_read() -> int:
        return sum(len(read_sample(paths, GENERATED_BRANCHES, name=name)) for name, paths in samples.items())

    def select_all() -> dict[str, ak.Array]:
        return {name: select_lephad(array) for name, array in events.items()}

    selected_events = select_all()

    def features_all() -> int:
        return sum(
            len(higgsml_features(array, jet_pt_min=jet_pt_min)["PRI_tau_pt"]) for array in selected_events.values()
        )

    def ours() -> int:
        return sum(
            len(higgsml_features(select_lephad(array), jet_pt_min=jet_pt_min)["PRI_tau_pt"])
            for array in events.values()
        )

    print(
        f"[columnar] raw read, read_sample, select_lephad, higgsml_features on {n_events} events x {repeats} ...",
        file=sys.stderr,
        flush=True,
    )
    if raw_read() != n_events:  # warm-up
        raise RuntimeError("raw read and read_sample disagree on the number of events")
    checked_read(), ours()  # warm-up
    raw_times, _ = timed(raw_read, repeats)
    checked_times, _ = timed(checked_read, repeats)
    select_times, _ = timed(select_all, repeats)
    feature_times, _ = timed(features_all, repeats)
    ours_times, n_selected = timed(ours, repeats)
    raw_seconds = statistics.median(raw_times)
    columnar = {
        "raw_read": summary(raw_times, n_events, raw_seconds),
        "read_sample": summary(checked_times, n_events, raw_seconds),
        "select_lephad": summary(select_times, n_events, raw_seconds),
        "higgsml_features": summary(feature_times, n_events, raw_seconds),
        "ours": summary(ours_times, n_events, raw_seconds),
    }
    columnar["ours"]["selected_events"] = n_selected

    subset = loop_subset(events, loop_events)
    everything = ak.concatenate(list(events.values())) if len(events) > 1 else next(iter(events.values()))
    sizes = [(f"first {len(subset)}", subset)]
    if len(subset) < n_events:
        sizes.append(("all", everything))
    if tile > 1:
        sizes.append((f"all x{tile}", ak.concatenate([everything] * tile)))
    comparisons = [compare_loop(label, array, repeats, jet_pt_min) for label, array in sizes]
    tiny = everything[:FIXED_COST_EVENTS]
    higgsml_features(select_lephad(tiny), jet_pt_min=jet_pt_min)  # warm-up
    fixed_times, _ = timed(lambda: higgsml_features(select_lephad(tiny), jet_pt_min=jet_pt_min), repeats)
    fixed = summary(fixed_times, len(tiny))
    largest = comparisons[-1]
    fixed["columnar_marginal_seconds_per_event"] = (largest["columnar"]["seconds"] - fixed["seconds"]) / (
        largest["events"] - len(tiny)
    )
    return {
        "files": files,
        "events_per_sample": {name: len(a) for name, a in events.items()},
        "events": n_events,
        "columnar": columnar,
        "loop_comparison": comparisons[0],
        "loop_scaling": comparisons[1:],
        "columnar_fixed_cost": fixed,
    }


def compare_loop(label: str, array: ak.Array, repeats: int, jet_pt_min: float) -> dict[str, Any]:
    """Per-event loop vs columnar on ``array``: ak.to_list, loop and columnar times, speed-up, agreement check."""
    n = len(array)
    print(
        f"[loop] {label}: per-event Python loop vs columnar on {n} events x {repeats} ...", file=sys.stderr, flush=True
    )
    to_list_times, rows = timed(lambda: ak.to_list(array), repeats)

    def loop() -> tuple[list[int], list[list[float]]]:
        return loop_features(rows, jet_pt_min)

    def columnar() -> dict[str, np.ndarray]:
        return higgsml_features(select_lephad(array), jet_pt_min=jet_pt_min)

    loop(), columnar()  # warm-up
    loop_times, (loop_selected, loop_values) = timed(loop, repeats)
    columnar_times, _ = timed(columnar, repeats)
    out: dict[str, Any] = {
        "label": label,
        "events": n,
        "selected": len(loop_selected),
        "to_list": summary(to_list_times, n),
        "loop": summary(loop_times, n),
        "columnar": summary(columnar_times, n),
    }
    loop_seconds, to_list_seconds = out["loop"]["seconds"], out["to_list"]["seconds"]
    out["speedup"] = loop_seconds / out["columnar"]["seconds"]
    out["speedup_with_to_list"] = (loop_seconds + to_list_seconds) / out["columnar"]["seconds"]
    out["check"] = compare(loop_selected, loop_values, array, jet_pt_min)
    return out


def table(result: Mapping[str, Any], repeats: int, jet_pt_min: float) -> str:
    """Plain-text tables of the results."""
    col = result["columnar"]
    labels = {
        "raw_read": "raw read (uproot, GENERATED_BRANCHES)",
        "read_sample": "read_sample (ml4hep.io, info)",
        "select_lephad": "(a1) select_lephad",
        "higgsml_features": f"(a2) higgsml_features ({len(FEATURE_NAMES)} features)",
        "ours": "(a) ours: select_lephad + higgsml_features",
    }
    header = f"{'step':<44} {'seconds':>8} {'events/s':>10} {'x raw read':>10}"
    lines = [
        f"{result['events']} events ({len(result['files'])} files, {len(result['events_per_sample'])} samples), "
        f"{col['ours']['selected_events']} selected; jet_pt_min {jet_pt_min:g} GeV; median of {repeats}",
        header,
        "-" * len(header),
    ]
    for key, label in labels.items():
        r = col[key]
        lines.append(
            f"{label:<44} {r['seconds']:>8.4f} {r['events_per_second']:>10.0f} {r['ratio_to_raw_read']:>10.2f}"
        )
    lines.append("")
    comparisons = [result["loop_comparison"], *result["loop_scaling"]]
    header = (
        f"{'loop vs columnar':<14} {'events':>7} {'sel.':>6} {'to_list s':>9} {'loop s':>8} {'loop ev/s':>10} "
        f"{'col. s':>8} {'col. ev/s':>10} {'speed-up':>8} {'+to_list':>8} {'check':>5}"
    )
    lines += [
        f"per-event Python loop vs columnar (select_lephad + higgsml_features), all {len(FEATURE_NAMES)} "
        f"features; median of {repeats}",
        header,
        "-" * len(header),
    ]
    for r in comparisons:
        lines.append(
            f"{r['label']:<14} {r['events']:>7d} {r['selected']:>6d} {r['to_list']['seconds']:>9.4f} "
            f"{r['loop']['seconds']:>8.4f} {r['loop']['events_per_second']:>10.0f} "
            f"{r['columnar']['seconds']:>8.4f} {r['columnar']['events_per_second']:>10.0f} "
            f"{r['speedup']:>8.2f} {r['speedup_with_to_list']:>8.2f} "
            f"{'ok' if r['check']['agree'] else 'FAIL':>5}"
        )
    lines.append(
        "events/s counts input events (before the selection); speed-up = t_loop / t_columnar, +to_list: "
        "with the ak.to_list conversion added to the loop."
    )
    fixed = result["columnar_fixed_cost"]
    largest = comparisons[-1]
    first = comparisons[0]
    lines.append(
        f"columnar fixed cost per call pair ({fixed['events']} events): {fixed['seconds'] * 1e3:.1f} ms; "
        f"marginal {fixed['columnar_marginal_seconds_per_event'] * 1e6:.2f} us/event ({largest['label']}); "
        f"loop {1e6 / first['loop']['events_per_second']:.2f} ({first['label']}) to "
        f"{1e6 / largest['loop']['events_per_second']:.2f} ({largest['label']}) us/event; ak.to_list "
        f"{1e6 / largest['to_list']['events_per_second']:.1f} us/event"
    )
    for r in comparisons:
        check = r["check"]
        if not check["same_selection"]:
            lines.append(
                f"{r['label']}: selection differs (loop {check['selected_loop']} events, columnar "
                f"{check['selected_columnar']})"
            )
            continue
        bad = [n for n, f in check["features"].items() if not f["undefined_match"] or f["max_scaled_diff"] > TOLERANCE]
        lines.append(
            f"{r['label']}: same {check['selected_loop']} selected events; max |diff| = "
            f"{check['max_abs_diff']:.2e}, max |diff|/max(1,|x|) = {check['max_scaled_diff']:.2e} "
            f"(tolerance {TOLERANCE:g})" + (f"; out of tolerance: {', '.join(bad)}" if bad else "")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--samples",
        nargs="+",
        default=None,
        metavar="FILE",
        help="Higgs-set ROOT files (grouped into samples by directory); default: "
        f"{' '.join(DEFAULT_SAMPLE_GLOBS)} if any exist, else generate",
    )
    parser.add_argument(
        "--events",
        "-n",
        type=int,
        default=DEFAULT_EVENTS,
        help="higgs_ztautau events to generate when there are no samples (default %(default)s)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=DEFAULT_REPEATS,
        help="timed repetitions of every measurement (default %(default)s)",
    )
    parser.add_argument(
        "--loop-events",
        type=int,
        default=DEFAULT_LOOP_EVENTS,
        help="events of the per-event loop comparison (default %(default)s)",
    )
    parser.add_argument(
        "--tile",
        type=int,
        default=DEFAULT_TILE,
        help="also compare loop and columnar on all events repeated this many times in memory "
        "(default %(default)s; 1: off)",
    )
    parser.add_argument("--jet-pt-min", type=float, default=None, help="jet threshold (default: the config's)")
    parser.add_argument("--seed", type=int, default=None, help="generation seed (default: the config's)")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("results/benchmarks/higgs_features.json"),
        help="JSON file with all numbers (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeats < 1 or args.loop_events < 1 or args.tile < 1:
        parser.error("--events, --repeats, --loop-events and --tile must be >= 1")

    defaults = validate_config({})
    jet_pt_min = float(defaults["higgs"]["jet_pt_min"] if args.jet_pt_min is None else args.jet_pt_min)
    load_before = os.getloadavg()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_higgs_features_") as tmp:
        generation = None
        if args.samples:
            missing = [f for f in args.samples if not Path(f).is_file()]
            if missing:
                parser.error(f"missing sample file(s): {', '.join(missing)}")
            samples = group_files(args.samples)
        else:
            found = [f for pattern in DEFAULT_SAMPLE_GLOBS for f in sorted(glob.glob(pattern))]
            if found:
                samples = group_files(found)
            else:
                samples, generation = generate_samples(args.events, args.seed, Path(tmp))
                print(
                    f"samples: generated {generation['events']} events of higgs_ztautau in "
                    f"{generation['seconds']:.0f} s (not measured)"
                )
        bench_start = time.perf_counter()
        result = bench(samples, args.repeats, args.loop_events, args.tile, jet_pt_min)
        measured = time.perf_counter() - bench_start
    total = time.perf_counter() - start
    load_after = os.getloadavg()

    print(table(result, args.repeats, jet_pt_min))
    print(
        f"benchmark time {measured:.0f} s (total {total:.0f} s); load average before "
        f"{' '.join(f'{x:.2f}' for x in load_before)}, after {' '.join(f'{x:.2f}' for x in load_after)} "
        f"({os.cpu_count()} CPUs)"
    )

    report = {
        "benchmark": "higgs_features",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])]),
        "method": {
            "raw_read": "uproot.open(f)['events'].arrays(list(GENERATED_BRANCHES)) for every file; 1 warm-up, "
            "median of repeats",
            "read_sample": "ml4hep.io.read_sample(paths, GENERATED_BRANCHES) per sample (checks + ak.zip); info",
            "ours": "select_lephad + higgsml_features(jet_pt_min) per sample on events in memory (read once, not "
            "timed); 1 warm-up, median of repeats; events/s = input events / seconds; ratio_to_raw_read = "
            "seconds / raw_read.seconds",
            "loop": "per-event Python loop (math only) over ak.to_list rows: selection + all 30 FEATURE_NAMES; "
            "to_list timed separately; columnar = select_lephad + higgsml_features on the same array (one "
            "call pair); speedup = loop / columnar; loop_comparison: the first loop_events events (evenly "
            "per sample); loop_scaling: all events, and all events repeated `tile` times in memory",
            "tile": args.tile,
            "columnar_fixed_cost": f"select_lephad + higgsml_features on the first {FIXED_COST_EVENTS} events "
            "(median of repeats); marginal = (t_largest - t_fixed) / (n_largest - "
            f"{FIXED_COST_EVENTS})",
            "check": f"same selected events; |loop - columnar| <= {TOLERANCE:g} * max(1, |columnar|) per value, "
            "-999 in the same places",
            "jet_pt_min": jet_pt_min,
            "repeats": args.repeats,
        },
        "samples": {
            "files": result["files"],
            "events_per_sample": result["events_per_sample"],
            "generation": generation,
        },
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "versions": versions(("uproot", "awkward", "numpy")),
        },
        "benchmark_seconds": measured,
        "total_seconds": total,
        "columnar": result["columnar"],
        "loop_comparison": result["loop_comparison"],
        "loop_scaling": result["loop_scaling"],
        "columnar_fixed_cost": result["columnar_fixed_cost"],
    }
    write_report(args.output, report)
    agree = all(r["check"]["agree"] for r in [result["loop_comparison"], *result["loop_scaling"]])
    if not agree:
        print("error: the per-event loop and the columnar features disagree", file=sys.stderr)
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
