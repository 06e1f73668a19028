"""Expected limits of the SM H->tautau analysis from the test-split score histograms, with pyhf.

Per classifier: the test-split scores are binned (edges at quantiles of the signal scores, then adjacent bins merged
from the low-score end until each holds at least ``min_background_events`` simulated background events, so that no
bin's background estimate rests on one or two events), signal and background templates with their MC statistical
errors and a background normalisation uncertainty go into a pyhf model, and the expected 95% CL CLs upper limit on
the signal strength mu (with its ±1σ/±2σ band) and the expected discovery significance are computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.higgs.dataset import load_split, process_mask, select_events
from ml4hep.models.scores import read_scores
from ml4hep.stats import (
    build_model,
    expected_significance,
    expected_upper_limit,
    histogram_templates,
    merge_bin_edges,
)
from ml4hep.tables import Column, number, write_table


def score_binning(scores: np.ndarray, labels: np.ndarray, n_bins: int, min_background_events: int) -> np.ndarray:
    """Bin edges: quantiles of the signal scores, merged so every bin has enough simulated background events."""
    signal_scores = scores[labels == 1]
    edges = np.unique(np.quantile(signal_scores, np.linspace(0, 1, n_bins + 1)))
    edges[0], edges[-1] = min(edges[0], scores.min()), max(edges[-1], scores.max()) + 1e-9
    if len(edges) < 2:
        return np.array([scores.min(), scores.max() + 1e-9])
    background_events, _ = np.histogram(scores[labels == 0], bins=edges)
    return merge_bin_edges(edges, background_events.astype(float), float(min_background_events))


def classifier_limits(
    test_path: str | Path,
    scores: Mapping[str, str | Path],
    heavy: Sequence[str],
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Expected limit on mu and expected significance for every classifier.

    Args:
        test_path: Test split of the event table.
        scores: Classifier -> scores file (``test`` scores of the SM events).
        heavy: Heavy-Higgs samples (not part of the SM analysis).
        options: ``bins``, ``min_background_events``, ``background_norm_uncertainty``.

    Returns:
        Classifier -> {mu_expected, band, significance, edges, signal, background}.
    """
    test = load_split(test_path)
    test = select_events(test, ~process_mask(test, heavy))
    results = {}
    for name, path in scores.items():
        s = read_scores(path, "test")
        edges = score_binning(s, test["label"], int(options["bins"]), int(options["min_background_events"]))
        templates = histogram_templates(s, test["label"], test["weight"], edges)
        model = build_model(**templates, background_norm_uncertainty=float(options["background_norm_uncertainty"]))
        limit = expected_upper_limit(model)
        results[name] = {
            "mu_expected": limit["mu_expected"],
            "band": list(map(float, limit["band"])),
            "significance": expected_significance(model),
            "edges": list(map(float, edges)),
            "signal": list(map(float, templates["signal"])),
            "background": list(map(float, templates["background"])),
        }
    return results


def write_limit_tables(
    limits: Mapping[str, Any], csv_path: str | Path, md_path: str | Path, tex_path: str | Path
) -> None:
    """Expected limits table: median, ±1σ, ±2σ on mu and the expected significance per classifier."""
    from ml4hep.higgs.evaluate import DISPLAY_NAMES

    rows = [
        {
            "classifier": name,
            "mu_expected": v["mu_expected"],
            "minus2": v["band"][0],
            "minus1": v["band"][1],
            "plus1": v["band"][3],
            "plus2": v["band"][4],
            "significance": v["significance"],
        }
        for name, v in limits.items()
    ]
    columns = [
        Column("Classifier", lambda r: DISPLAY_NAMES.get(r["classifier"], r["classifier"]), align="l"),
        Column("expected μ limit (95% CL)", lambda r: number(r["mu_expected"]), latex=r"$\mu_{95}^{\mathrm{exp}}$"),
        Column("−1σ / +1σ", lambda r: f"{number(r['minus1'])} / {number(r['plus1'])}"),
        Column("−2σ / +2σ", lambda r: f"{number(r['minus2'])} / {number(r['plus2'])}"),
        Column("expected Z₀", lambda r: f"{r['significance']:.2f}", latex=r"$Z_0^{\mathrm{exp}}$"),
    ]
    write_table(rows, columns, csv=csv_path, md=md_path, tex=tex_path)


def heavy_mass_limits(
    test_path: str | Path,
    model_path: str | Path,
    heavy: Sequence[tuple[str, float]],
    backgrounds: Sequence[str],
    sigma_pb: Mapping[str, float],
    left_out_mass: float,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Expected limits on sigma x BR(H -> tautau) vs the heavy-Higgs mass from the parameterised classifier.

    At each generated mass the parameterised network is evaluated with that mass as its parameter (backgrounds
    included), the test-split score histogram gives the expected limit on mu, and mu times the generated cross
    section (Pythia's sigma x BR of the sample) gives the limit on sigma x BR.

    Args:
        test_path: Test split of the event table.
        model_path: The parameterised network (:func:`ml4hep.higgs.parameterised.run_parameterised`).
        heavy: (process name, mass) of each heavy-Higgs sample.
        backgrounds: Background process names.
        sigma_pb: Generated cross section (sigma x BR) of each heavy sample in pb.
        left_out_mass: The mass left out of the parameterised training (flagged in the output).
        options: ``bins``, ``min_background_events``, ``background_norm_uncertainty``.

    Returns:
        Mass (as text) -> mu limit and band, sigma x BR limit band in pb, significance, left_out flag.
    """
    from ml4hep.higgs.parameterised import load_network, with_mass
    from ml4hep.training import predict

    model, _ = load_network(model_path)
    test = load_split(test_path)
    results = {}
    for name, mass in heavy:
        events = select_events(test, process_mask(test, [name, *backgrounds]))
        labels = process_mask(events, [name]).astype(int)
        scores = predict(model, [with_mass(events["X"], mass)])
        edges = score_binning(scores, labels, int(options["bins"]), int(options["min_background_events"]))
        templates = histogram_templates(scores, labels, events["weight"], edges)
        pyhf_model = build_model(**templates, background_norm_uncertainty=float(options["background_norm_uncertainty"]))
        limit = expected_upper_limit(pyhf_model)
        results[f"{mass:g}"] = {
            "mass": float(mass),
            "mu_expected": limit["mu_expected"],
            "band": list(map(float, limit["band"])),
            "sigma_pb": float(sigma_pb[name]),
            "xsec_band_pb": [float(b) * float(sigma_pb[name]) for b in limit["band"]],
            "significance": expected_significance(pyhf_model),
            "left_out": abs(float(mass) - float(left_out_mass)) < 1e-6,
        }
    return results


def write_heavy_limit_tables(
    limits: Mapping[str, Any], csv_path: str | Path, md_path: str | Path, tex_path: str | Path
) -> None:
    """Expected σ×BR limit (median, ±1σ, ±2σ) and μ limit per heavy-Higgs mass, the left-out mass marked."""
    rows = []
    for entry in limits.values():
        band = entry["xsec_band_pb"]
        rows.append(
            {
                "mass_gev": entry["mass"],
                "left_out": entry["left_out"],
                "sigma_pb": entry["sigma_pb"],
                "limit_pb": band[2],
                "minus2_pb": band[0],
                "minus1_pb": band[1],
                "plus1_pb": band[3],
                "plus2_pb": band[4],
                "mu_expected": entry["mu_expected"],
            }
        )
    columns = [
        Column(
            "m_H [GeV]",
            lambda r: f"{r['mass_gev']:g}" + (" (left out of training)" if r["left_out"] else ""),
            latex=r"$m_H$ [GeV]",
            align="l",
        ),
        Column("σ×BR generated [pb]", lambda r: number(r["sigma_pb"]), latex=r"$\sigma\times B$ generated [pb]"),
        Column(
            "expected limit on σ×BR [pb]",
            lambda r: number(r["limit_pb"]),
            latex=r"expected limit on $\sigma\times B$ [pb]",
        ),
        Column("−1σ / +1σ", lambda r: f"{number(r['minus1_pb'])} / {number(r['plus1_pb'])}"),
        Column("−2σ / +2σ", lambda r: f"{number(r['minus2_pb'])} / {number(r['plus2_pb'])}"),
        Column("expected μ limit", lambda r: number(r["mu_expected"])),
    ]
    write_table(rows, columns, csv=csv_path, md=md_path, tex=tex_path)
