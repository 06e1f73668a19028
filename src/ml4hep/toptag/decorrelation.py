"""Background sculpting of the top taggers: 1/JSD of the QCD mass distributions that pass and fail a cut, vs R50.

A tagger whose cut at εS = 50% (the working point of R50) keeps QCD jets of some masses more than others reshapes
(sculpts) the QCD mass distribution, so a bump hunt or side-band fit in the jet mass after the cut goes wrong.
The measure is the Jensen-Shannon divergence (base 2, so in [0, 1]) between the normalised mass histograms of the
QCD jets that pass and that fail the cut; 1/JSD is large for a tagger that does not sculpt (as in the DisCo paper,
arXiv:2001.05310). Its trade-off against R50 = 1/εB at εS = 50% is what the decorrelated taggers
(:mod:`ml4hep.toptag.decorrelated`) are scanned over.

With few QCD jets passing, the pass histogram is sparse and the JSD is large even for a cut that does not depend on
the mass at all; :func:`unsculpted_inverse_jsd` gives that statistical ceiling (the mean JSD of random selections of
the same number of QCD jets), so that a small test split can be read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.metrics import background_rejection
from ml4hep.tables import Column, number, with_error, write_table

SIGNAL_EFFICIENCY = 0.5
"""εS of the cut whose passing and failing QCD jets are compared (the working point of R50)."""


@dataclass(frozen=True)
class MassBinning:
    """Fixed mass bins of the JSD; masses outside [low, high) are counted in the first or last bin.

    Example:
        >>> MassBinning(0.0, 300.0, 3).counts(np.array([-5.0, 50.0, 150.0, 250.0, 999.0])).tolist()
        [2, 1, 2]
    """

    low: float = 0.0
    high: float = 300.0
    bins: int = 20

    @property
    def edges(self) -> np.ndarray:
        """The bin edges."""
        return np.linspace(self.low, self.high, self.bins + 1)

    def counts(self, mass: np.ndarray) -> np.ndarray:
        """Jets per bin (under- and overflow folded into the end bins)."""
        width = (self.high - self.low) / self.bins
        clipped = np.clip(np.asarray(mass, dtype=np.float64), self.low, self.high - 0.5 * width)
        return np.histogram(clipped, bins=self.edges)[0]


def jensen_shannon(first: np.ndarray, second: np.ndarray) -> float:
    """JSD (base 2) between two histograms, each normalised to unit area; NaN when either is empty.

    scipy's ``jensenshannon`` is the Jensen-Shannon *distance*, the square root of the divergence.

    Example:
        >>> jensen_shannon(np.array([1, 0]), np.array([0, 1]))
        1.0
        >>> jensen_shannon(np.array([2, 2]), np.array([5, 5]))
        0.0
    """
    from scipy.spatial.distance import jensenshannon

    if np.sum(first) <= 0 or np.sum(second) <= 0:
        return math.nan
    return float(jensenshannon(np.asarray(first, float), np.asarray(second, float), base=2) ** 2)


def cut_at_signal_efficiency(labels: np.ndarray, scores: np.ndarray, signal_efficiency: float) -> float:
    """The score threshold (pass: score >= threshold) kept by the ⌈εS·N_S⌉ highest-scoring signal jets."""
    signal = np.sort(np.asarray(scores)[np.asarray(labels) == 1])[::-1]
    return float(signal[max(math.ceil(signal_efficiency * len(signal)), 1) - 1])


@dataclass(frozen=True)
class Sculpting:
    """Rejection and sculpting of one tagger at εS = 50%.

    Attributes:
        r50: 1/εB at εS = 50% (interpolated on the ROC curve, as in the taggers' table; inf: no QCD passes).
        jsd: JSD of the passing and failing QCD mass histograms (None: no QCD jet passes, or none fails).
        inverse_jsd: 1/JSD (None where the JSD is undefined; inf for identical histograms).
        threshold: The score cut.
        n_background_pass: QCD jets passing the cut.
        n_background: QCD jets in the split.
        unsculpted_inverse_jsd: 1/JSD expected of a cut that ignores the mass and keeps as many QCD jets
            (:func:`unsculpted_inverse_jsd`; None: none pass).
        distance_correlation: dCorr²(score, mass) of the QCD jets (:func:`background_distance_correlation`):
            0 when the score is independent of the mass; it uses every QCD jet, not only those passing the cut.
        distance_correlation_error: Its bootstrap standard deviation over the QCD jets (None: no bootstrap).
    """

    r50: float
    jsd: float | None
    inverse_jsd: float | None
    threshold: float
    n_background_pass: int
    n_background: int
    unsculpted_inverse_jsd: float | None = None
    distance_correlation: float | None = None
    distance_correlation_error: float | None = None


def sculpting(
    labels: np.ndarray,
    scores: np.ndarray,
    mass: np.ndarray,
    binning: MassBinning,
    signal_efficiency: float = SIGNAL_EFFICIENCY,
    *,
    random_draws: int = 0,
    distance_correlation_jets: int = 0,
    bootstrap: int = 0,
    seed: int = 0,
) -> Sculpting:
    """R50 and 1/JSD of one tagger's scores.

    Args:
        labels: 1 for top, 0 for QCD.
        scores: The tagger's scores.
        mass: The jet mass (the variable whose QCD distribution is compared).
        binning: Fixed mass bins.
        signal_efficiency: εS of the cut.
        random_draws: Random mass-independent selections for :attr:`Sculpting.unsculpted_inverse_jsd` (0: none).
        distance_correlation_jets: At most this many QCD jets for :attr:`Sculpting.distance_correlation` (0: none).
        bootstrap: Bootstrap replicas of the QCD jets for :attr:`Sculpting.distance_correlation_error` (0: none).
        seed: Seed of those draws, of that subsample and of the bootstrap.

    Returns:
        The :class:`Sculpting` of the scores.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> labels = np.repeat([1, 0], 2000)
        >>> mass = np.concatenate([rng.normal(175, 20, 2000), rng.uniform(20, 280, 2000)])
        >>> flat = np.concatenate([rng.normal(1, 1, 2000), rng.normal(0, 1, 2000)])
        >>> sculpting(labels, flat, mass, MassBinning()).inverse_jsd > 50  # the cut ignores the mass
        True
        >>> sculpting(labels, -abs(mass - 175), mass, MassBinning()).inverse_jsd < 2  # it is a mass window
        True
    """
    labels, scores, mass = np.asarray(labels), np.asarray(scores, dtype=np.float64), np.asarray(mass)
    threshold = cut_at_signal_efficiency(labels, scores, signal_efficiency)
    background = labels == 0
    passing = background & (scores >= threshold)
    failing = background & (scores < threshold)
    jsd = jensen_shannon(binning.counts(mass[passing]), binning.counts(mass[failing]))
    n_pass = int(passing.sum())
    unsculpted = None
    if random_draws > 0 and 0 < n_pass < int(background.sum()):
        unsculpted = unsculpted_inverse_jsd(mass[background], binning, n_pass, random_draws, seed)
    dcorr = dcorr_error = None
    if distance_correlation_jets > 0 and background.sum() > 1:
        replicas = background_distance_correlations(
            scores[background], mass[background], distance_correlation_jets, bootstrap, seed
        )
        dcorr, dcorr_error = float(replicas[0]), (float(np.std(replicas[1:])) if bootstrap > 1 else None)
    return Sculpting(
        r50=background_rejection(labels, scores, signal_efficiency),
        jsd=None if math.isnan(jsd) else jsd,
        inverse_jsd=None if math.isnan(jsd) else (math.inf if jsd == 0 else 1.0 / jsd),
        threshold=threshold,
        n_background_pass=n_pass,
        n_background=int(background.sum()),
        unsculpted_inverse_jsd=unsculpted,
        distance_correlation=dcorr,
        distance_correlation_error=dcorr_error,
    )


def unsculpted_inverse_jsd(
    background_mass: np.ndarray, binning: MassBinning, n_pass: int, draws: int, seed: int
) -> float:
    """1 / the mean JSD of ``draws`` random selections of ``n_pass`` of the QCD jets (a cut that ignores the mass).

    This is the largest 1/JSD that a cut keeping ``n_pass`` of these jets can be expected to show: the JSD of a
    finite sample is not zero even without sculpting.
    """
    rng = np.random.default_rng(seed)
    n = len(background_mass)
    values = []
    for _ in range(draws):
        chosen = np.zeros(n, dtype=bool)
        chosen[rng.choice(n, size=n_pass, replace=False)] = True
        values.append(jensen_shannon(binning.counts(background_mass[chosen]), binning.counts(background_mass[~chosen])))
    mean = float(np.mean(values))
    return math.inf if mean == 0 else 1.0 / mean


DISTANCE_CORRELATION_JETS = 2000
"""QCD jets (a seeded subsample when there are more) of the distance correlation: its cost and memory grow as N²."""


def background_distance_correlation(scores: np.ndarray, mass: np.ndarray, max_jets: int, seed: int) -> float:
    """dCorr²(score, mass) of QCD jets, on at most ``max_jets`` of them (a seeded subsample).

    The estimator is :func:`ml4hep.toptag.decorrelated.distance_correlation`, DisCo's penalty
    (:func:`weighted_distance_correlations` evaluates it with unit weights).

    Example:
        >>> mass = np.random.default_rng(2).uniform(20, 280, 500)
        >>> background_distance_correlation(mass**2, mass, 2000, 0) > 0.9  # a function of the mass
        True
        >>> background_distance_correlation(np.random.default_rng(3).normal(size=500), mass, 2000, 0) < 0.02
        True
    """
    return float(background_distance_correlations(scores, mass, max_jets, 0, seed)[0])


def background_distance_correlations(
    scores: np.ndarray, mass: np.ndarray, max_jets: int, bootstrap: int, seed: int
) -> np.ndarray:
    """dCorr²(score, mass) of QCD jets and of ``bootstrap`` resamplings of them, (1 + bootstrap,).

    At most ``max_jets`` jets (a seeded subsample) are used; the subsample and the resamplings depend only on the
    number of jets and the seed, so that two taggers' values on the same jets with the same seed are paired
    (:func:`distance_correlation_difference`).
    """
    scores, mass = np.asarray(scores, dtype=np.float64), np.asarray(mass, dtype=np.float64)
    if len(scores) > max_jets:
        chosen = np.random.default_rng(seed).choice(len(scores), size=max_jets, replace=False)
        scores, mass = scores[chosen], mass[chosen]
    return weighted_distance_correlations(scores, mass, bootstrap_weights(len(scores), bootstrap, seed))


def bootstrap_weights(n: int, draws: int, seed: int) -> np.ndarray:
    """(n, 1 + draws) weights: ones (the sample itself), then the counts of ``draws`` resamplings with replacement.

    Example:
        >>> weights = bootstrap_weights(5, 3, seed=0)
        >>> weights.shape, weights.sum(axis=0).tolist(), weights[:, 0].tolist()
        ((5, 4), [5.0, 5.0, 5.0, 5.0], [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=draws).T if n else np.zeros((0, 0))
    return np.concatenate([np.ones((n, 1)), counts.reshape(n, draws)], axis=1)


def weighted_distance_correlations(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted dCorr²(x, y) of :func:`ml4hep.toptag.decorrelated.distance_correlation`, for each weight column.

    With the double-centred distance matrices A and B, the weighted row sums of a centred matrix vanish, so
    Σ w_i w_j A_ij B_ij = wᵀ(D_x ∘ D_y)w - 2N Σ_i w_i r_i s_i + N² m n (r = D_x w / N, m = w·r / N, and s, n of
    D_y): a few matrix products over all weight columns at once, with the distance matrices built once (a
    bootstrap of N = 2000 jets costs what one evaluation costs).

    Args:
        x: (N,) values.
        y: (N,) values.
        weights: (N, K) weights, each column of mean 1 (bootstrap counts or ones).

    Returns:
        (K,) dCorr² values in [0, 1].
    """
    n = len(x)
    distance_x, distance_y = np.abs(x[:, None] - x[None, :]), np.abs(y[:, None] - y[None, :])
    row_x, row_y = distance_x @ weights / n, distance_y @ weights / n  # (N, K)
    mean_x, mean_y = (weights * row_x).sum(0) / n, (weights * row_y).sum(0) / n

    def covariance(product: np.ndarray, row_a: np.ndarray, row_b: np.ndarray, mean_a, mean_b) -> np.ndarray:
        quadratic = (weights * (product @ weights)).sum(0)
        return (quadratic - 2 * n * (weights * row_a * row_b).sum(0) + n**2 * mean_a * mean_b) / n**2

    xy = covariance(distance_x * distance_y, row_x, row_y, mean_x, mean_y)
    xx = covariance(distance_x**2, row_x, row_x, mean_x, mean_x)
    yy = covariance(distance_y**2, row_y, row_y, mean_y, mean_y)
    return xy / np.maximum(np.sqrt(np.maximum(xx * yy, 0.0)), np.finfo(np.float64).tiny)


def distance_correlation_difference(
    first: np.ndarray, second: np.ndarray, mass: np.ndarray, max_jets: int, bootstrap: int, seed: int
) -> tuple[float, float]:
    """dCorr²(first, mass) - dCorr²(second, mass) on the same QCD jets, and its paired bootstrap deviation.

    The two taggers' values move together over the resamplings (the same jets), so the difference is resolved far
    better than the two errors added in quadrature would say.

    Example:
        >>> rng = np.random.default_rng(4)
        >>> mass = rng.uniform(20, 280, 300)
        >>> by_mass, noise = mass + rng.normal(0, 30, 300), rng.normal(size=300)
        >>> difference, error = distance_correlation_difference(by_mass, noise, mass, 2000, 50, seed=1)
        >>> difference > 5 * error
        True
    """
    one = background_distance_correlations(first, mass, max_jets, bootstrap, seed)
    two = background_distance_correlations(second, mass, max_jets, bootstrap, seed)
    return float(one[0] - two[0]), float(np.std(one[1:] - two[1:]))


def evaluate_decorrelation(
    labels: np.ndarray,
    mass: np.ndarray,
    plain: Mapping[str, np.ndarray],
    decorrelated: Mapping[str, Sequence[tuple[float, np.ndarray]]],
    binning: MassBinning,
    *,
    mass_name: str,
    display_names: Mapping[str, str],
    random_draws: int,
    seed: int,
    bootstrap: int = 0,
) -> dict[str, Any]:
    """R50 and 1/JSD of the plain taggers and of every decorrelated tagger at every strength (test split).

    Args:
        labels: Test labels.
        mass: Test jet masses.
        plain: Plain tagger -> its test scores.
        decorrelated: Method -> (strength, test scores) per strength.
        binning: Mass bins of the JSD.
        mass_name: Which mass (a substructure column name), for the output.
        display_names: Tagger or method -> label for tables and plots.
        random_draws: Draws of :func:`unsculpted_inverse_jsd` per tagger.
        seed: Seed of those draws and of the bootstrap (the same resamplings for every tagger).
        bootstrap: Bootstrap replicas of the dCorr² error.

    Returns:
        The ``decorrelation.json`` content: ``plain.{name}`` and ``decorrelated.{method}`` (a list over the
        strengths), each with ``r50``, ``jsd``, ``inverse_jsd``, ``n_background_pass`` and more.
    """

    def entry(scores: np.ndarray) -> dict[str, Any]:
        return asdict(
            sculpting(
                labels,
                scores,
                mass,
                binning,
                random_draws=random_draws,
                distance_correlation_jets=DISTANCE_CORRELATION_JETS,
                bootstrap=bootstrap,
                seed=seed,
            )
        )

    return {
        "signal_efficiency": SIGNAL_EFFICIENCY,
        "mass": mass_name,
        "binning": asdict(binning),
        "n_test": int(len(labels)),
        "n_background": int(np.sum(np.asarray(labels) == 0)),
        "bootstrap": int(bootstrap),
        "display_names": {name: display_names.get(name, name) for name in [*plain, *decorrelated]},
        "plain": {name: entry(scores) for name, scores in plain.items()},
        "decorrelated": {
            method: [{"strength": float(strength), **entry(scores)} for strength, scores in scans]
            for method, scans in decorrelated.items()
        },
    }


def table_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per plain tagger and per decorrelated tagger and strength."""
    names = result["display_names"]
    rows = [{"tagger": name, "label": names[name], "strength": None, **m} for name, m in result["plain"].items()]
    for method, scans in result["decorrelated"].items():
        rows += [{"tagger": method, "label": names[method], **m} for m in scans]
    return rows


def write_decorrelation_tables(result: Mapping[str, Any], csv_path: str | Path, md_path: str | Path) -> None:
    """The sculpting table: R50, 1/JSD, the QCD jets passing and the unsculpted 1/JSD of each tagger."""
    binning = result["binning"]
    columns = [
        Column("Tagger", "label", align="l"),
        Column("strength", lambda r: "—" if r["strength"] is None else f"{r['strength']:g}"),
        Column("R50", lambda r: number(r["r50"], 3)),
        Column("1/JSD", lambda r: number(r["inverse_jsd"], 3)),
        Column("QCD passing", lambda r: f"{r['n_background_pass']} / {r['n_background']}"),
        Column("1/JSD without sculpting", lambda r: number(r["unsculpted_inverse_jsd"], 3)),
        Column("dCorr² (QCD)", lambda r: with_error(r["distance_correlation"], r.get("distance_correlation_error"), 3)),
    ]
    note = (
        f"Cut at εS = {result['signal_efficiency']:g} on the test split; JSD (base 2) between the {result['mass']} "
        f"histograms of the QCD jets passing and failing it, {binning['bins']} bins from {binning['low']:g} to "
        f"{binning['high']:g} GeV. 1/JSD without sculpting: random selections of as many QCD jets. dCorr²: squared "
        "distance correlation of score and mass over the QCD jets (0: independent), ± its bootstrap deviation "
        f"({result.get('bootstrap', 0)} resamplings of the QCD jets)."
    )
    keys = ["tagger", "strength", "r50", "jsd", "inverse_jsd", "n_background_pass", "n_background"]
    write_table(
        table_rows(result),
        columns,
        csv=csv_path,
        md=md_path,
        csv_keys=[*keys, "unsculpted_inverse_jsd", "distance_correlation", "distance_correlation_error", "threshold"],
        note=note,
    )


def add_to_metrics(metrics: dict[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    """Put the sculpting numbers into the top-tagging ``metrics.json`` content (in place, and returned).

    Every plain tagger gets ``inverse_jsd`` (and ``n_background_pass``); ``decorrelation`` holds the whole scan.
    """
    for name, entry in result["plain"].items():
        if name in metrics.get("taggers", {}):
            metrics["taggers"][name]["inverse_jsd"] = entry["inverse_jsd"]
            metrics["taggers"][name]["n_background_pass_r50"] = entry["n_background_pass"]
            metrics["taggers"][name]["distance_correlation"] = entry["distance_correlation"]
            metrics["taggers"][name]["distance_correlation_error"] = entry.get("distance_correlation_error")
    metrics["decorrelation"] = dict(result)
    return metrics


def decorrelation_from_files(
    test_path: str | Path,
    plain_scores: Mapping[str, str | Path],
    decorrelated_scores: Mapping[str, Sequence[tuple[float, str | Path]]],
    options: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """:func:`evaluate_decorrelation` on the test split of a run, from its split file and scores files.

    Args:
        test_path: Test split features.
        plain_scores: Plain tagger -> scores file.
        decorrelated_scores: Method -> (strength, scores file) per strength.
        options: The ``toptag.decorrelation`` config section (``mass``, ``mass_bins``, ``random_draws``,
            ``bootstrap``).
        seed: Seed of the random selections.
    """
    from ml4hep.models.scores import read_scores
    from ml4hep.toptag.decorrelated import DECORRELATED, read_substructure_split, substructure_column
    from ml4hep.toptag.taggers import TAGGERS

    test = read_substructure_split(test_path)
    return evaluate_decorrelation(
        test["label"],
        substructure_column(test, options["mass"]),
        {name: read_scores(path, "test") for name, path in plain_scores.items()},
        {
            method: [(strength, read_scores(path, "test")) for strength, path in scans]
            for method, scans in decorrelated_scores.items()
        },
        MassBinning(**options["mass_bins"]),
        mass_name=options["mass"],
        display_names={**TAGGERS.display_names(), **DECORRELATED.display_names()},
        random_draws=options["random_draws"],
        seed=seed,
        bootstrap=int(options.get("bootstrap", 0)),
    )
