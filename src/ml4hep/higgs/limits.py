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
from ml4hep.stats import (
    build_model,
    expected_significance,
    expected_upper_limit,
    histogram_templates,
    merge_bin_edges,
)


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
        with np.load(path, allow_pickle=False) as data:
            s = data["test"]
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


def write_limit_tables(limits: Mapping[str, Any], csv_path: str | Path, md_path: str | Path,
                       tex_path: str | Path) -> None:
    """Expected limits table: median, ±1σ, ±2σ on mu and the expected significance per classifier."""
    from ml4hep.higgs.evaluate import DISPLAY_NAMES

    header = "classifier,mu_expected,minus2,minus1,plus1,plus2,significance\n"
    rows = [f"{n},{v['mu_expected']},{v['band'][0]},{v['band'][1]},{v['band'][3]},{v['band'][4]},{v['significance']}"
            for n, v in limits.items()]
    Path(csv_path).write_text(header + "\n".join(rows) + "\n")
    md = ["| Classifier | expected μ limit (95% CL) | −1σ / +1σ | −2σ / +2σ | expected Z₀ |", "|---|---|---|---|---|"]
    tex = [r"\begin{tabular}{lcccc}", r"\hline",
           r"Classifier & $\mu_{95}^{\mathrm{exp}}$ & $-1\sigma$/$+1\sigma$ & $-2\sigma$/$+2\sigma$ & "
           r"$Z_0^{\mathrm{exp}}$ \\", r"\hline"]
    for name, v in limits.items():
        band = v["band"]
        cells = (DISPLAY_NAMES.get(name, name), f"{v['mu_expected']:.3g}", f"{band[1]:.3g} / {band[3]:.3g}",
                 f"{band[0]:.3g} / {band[4]:.3g}", f"{v['significance']:.2f}")
        md.append("| " + " | ".join(cells) + " |")
        tex.append(" & ".join(cells) + r" \\")
    tex += [r"\hline", r"\end{tabular}"]
    Path(md_path).write_text("\n".join(md) + "\n")
    Path(tex_path).write_text("\n".join(tex) + "\n")


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
        pyhf_model = build_model(**templates,
                                 background_norm_uncertainty=float(options["background_norm_uncertainty"]))
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
