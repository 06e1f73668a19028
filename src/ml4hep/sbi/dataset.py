"""The ``sbi`` task's data: the nominal events' splits with their gold, the direct samples, the weight check.

The check: the nominal sample reweighted with the shower weights reproduces the histograms of the samples
generated directly at θ1, within their statistics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.errors import InputFileError
from ml4hep.io import read_tree
from ml4hep.sbi.gold import fit_coefficients, fit_residual, log_ratio
from ml4hep.sbi.observables import OBSERVABLES, WEIGHTS_BRANCH

SPLITS = ("train", "val", "test")


def read_shards(paths: Sequence[str | Path], *, weights: bool) -> dict[str, np.ndarray]:
    """Observables ``X`` (events, observables) of the shards, with their ``weights`` and variation points θ_v.

    Args:
        paths: ROOT files of :func:`ml4hep.generate.sbi.generate_sbi_shard`.
        weights: Read the shower weights (nominal shards).

    Returns:
        ``X``, plus ``weights`` and ``thetas`` with ``weights``, else ``theta`` (the direct shards' θ1, one value).

    Raises:
        InputFileError: Shards of one sample disagree on their θ.
    """
    branches = [*OBSERVABLES, *([WEIGHTS_BRANCH] if weights else [])]
    parts = [read_tree(path, branches) for path in paths]
    thetas = [np.asarray(read_tree(path, ["theta"], tree="run")["theta"][0], dtype=np.float64) for path in paths]
    for path, theta in zip(paths, thetas, strict=True):
        if not np.array_equal(theta, thetas[0]):
            raise InputFileError(str(path), f"θ {theta.tolist()} differs from the other shards' {thetas[0].tolist()}")
    out = {"X": np.concatenate([np.stack([p[name].to_numpy() for name in OBSERVABLES], axis=1) for p in parts])}
    if weights:
        out["weights"] = np.concatenate([p[WEIGHTS_BRANCH].to_numpy() for p in parts])
        out["thetas"] = thetas[0]
    else:
        out["theta"] = np.asarray(float(thetas[0][0]))
    return out


def nominal_splits(
    nominal: Mapping[str, np.ndarray], fractions: Sequence[float], degree: int, seed: int
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Train/val/test splits of the nominal events with their gold coefficients.

    Args:
        nominal: :func:`read_shards` of the nominal sample.
        fractions: Train and validation fractions (the test split takes the rest).
        degree: Degree of the ln r polynomial (:func:`ml4hep.sbi.gold.fit_coefficients`).
        seed: Seed of the shuffle.

    Returns:
        Split name -> {``X``, ``coefficients``, ``weights``, ``thetas``}, and the fit's quality (RMS residual of
        ln w and the mean weight at each variation point, which is 1 up to statistics for a normalised ratio).
    """
    coefficients = fit_coefficients(nominal["weights"], nominal["thetas"], degree)
    n = len(nominal["X"])
    order = np.random.default_rng(seed).permutation(n)
    n_train, n_val = int(fractions[0] * n), int(fractions[1] * n)
    pieces = {"train": order[:n_train], "val": order[n_train : n_train + n_val], "test": order[n_train + n_val :]}
    splits = {
        name: {
            "X": nominal["X"][rows],
            "coefficients": coefficients[rows],
            "weights": nominal["weights"][rows],
            "thetas": nominal["thetas"],
        }
        for name, rows in pieces.items()
    }
    quality = {
        "log_weight_rms_residual": fit_residual(nominal["weights"], nominal["thetas"], coefficients),
        **{
            f"mean_weight_{t:g}": float(w)
            for t, w in zip(nominal["thetas"], nominal["weights"].mean(axis=0), strict=True)
        },
    }
    return splits, quality


def chi2_survival(chi2: float, ndf: int) -> float:
    """P(χ² ≥ ``chi2``) for an integer ``ndf`` ≥ 1, in closed form (scipy.special alone costs seconds to import).

    Example:
        >>> round(chi2_survival(3.841459, 1), 6), round(chi2_survival(18.307038, 10), 6)
        (0.05, 0.05)
    """
    half = chi2 / 2.0
    if ndf % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, ndf // 2):
            term *= half / i
            total += term
        return float(math.exp(-half) * total)
    root = math.sqrt(chi2)
    term, total = root, 0.0
    for i in range(1, (ndf - 1) // 2 + 1):
        total += term
        term *= chi2 / (2 * i + 1)
    return float(math.erfc(root / math.sqrt(2.0)) + math.sqrt(2.0 / math.pi) * math.exp(-half) * total)


def chi2_compare(direct: np.ndarray, nominal: np.ndarray, weights: np.ndarray, bins: int) -> dict[str, Any]:
    """χ² of the normalised histogram of a directly generated sample against the reweighted nominal one.

    Bins are quantiles of the direct sample (edges that coincide, as for the integer multiplicity, are merged);
    each bin's variance is the direct sample's Poisson one plus the reweighted sample's Σw², both normalised.

    Args:
        direct: The observable in the direct sample.
        nominal: The observable in the nominal sample.
        weights: The nominal events' joint ratios r(x, z | θ1, θ0).
        bins: Number of quantile bins asked for.

    Returns:
        ``chi2``, ``ndf`` (bins − 1: the shapes are normalised), ``p_value`` and the histograms (``edges``,
        ``direct``, ``direct_err``, ``reweighted``, ``reweighted_err``, ``nominal``: fractions per bin).

    Example:
        >>> rng = np.random.default_rng(1)
        >>> result = chi2_compare(rng.normal(size=4000), rng.normal(size=4000), np.ones(4000), 10)
        >>> result["ndf"], bool(result["p_value"] > 0.001)
        (9, True)
    """
    edges = np.unique(np.quantile(direct, np.linspace(0.0, 1.0, int(bins) + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    n_direct = np.histogram(direct, edges)[0].astype(np.float64)
    sum_w = np.histogram(nominal, edges, weights=weights)[0]
    sum_w2 = np.histogram(nominal, edges, weights=weights**2)[0]
    n_nominal = np.histogram(nominal, edges)[0].astype(np.float64)
    fraction_direct, fraction_reweighted = n_direct / n_direct.sum(), sum_w / sum_w.sum()
    err_direct, err_reweighted = np.sqrt(n_direct) / n_direct.sum(), np.sqrt(sum_w2) / sum_w.sum()
    variance = err_direct**2 + err_reweighted**2
    used = variance > 0
    chi2 = float(np.sum((fraction_direct - fraction_reweighted)[used] ** 2 / variance[used]))
    ndf = int(used.sum()) - 1
    return {
        "chi2": chi2,
        "ndf": ndf,
        "chi2_ndf": chi2 / ndf if ndf > 0 else float("nan"),
        "p_value": chi2_survival(chi2, ndf) if ndf > 0 else float("nan"),
        "edges": edges.tolist(),
        "direct": fraction_direct.tolist(),
        "direct_err": err_direct.tolist(),
        "reweighted": fraction_reweighted.tolist(),
        "reweighted_err": err_reweighted.tolist(),
        "nominal": (n_nominal / n_nominal.sum()).tolist(),
    }


def validate_weights(
    nominal: Mapping[str, np.ndarray], direct: Mapping[float, np.ndarray], degree: int, bins: int
) -> dict[str, Any]:
    """Every observable of every direct sample against the nominal sample reweighted to its θ1.

    The reweighting uses the fitted polynomial (:mod:`ml4hep.sbi.gold`), i.e. the continuous gold that the
    estimators train on, also at a θ1 between the variation points.

    Args:
        nominal: :func:`read_shards` of the nominal sample.
        direct: θ1 -> observables ``X`` of the sample generated at θ1.
        degree: Degree of the ln r polynomial.
        bins: Quantile bins per histogram.

    Returns:
        ``{"theta": {"<θ1>": {observable: chi2_compare(...)}}, "chi2": Σχ², "ndf": Σndf, "chi2_ndf",
        "min_p_value"}``; the observables of one event are correlated, so Σχ² is a summary, not a χ² variate.
    """
    coefficients = fit_coefficients(nominal["weights"], nominal["thetas"], degree)
    result: dict[str, Any] = {"theta": {}}
    total_chi2, total_ndf = 0.0, 0
    for theta, x_direct in direct.items():
        ratio = np.exp(log_ratio(coefficients, theta))
        per_observable = {}
        for column, name in enumerate(OBSERVABLES):
            comparison = chi2_compare(x_direct[:, column], nominal["X"][:, column], ratio, bins)
            per_observable[name] = comparison
            total_chi2 += comparison["chi2"]
            total_ndf += comparison["ndf"]
        result["theta"][f"{theta:g}"] = per_observable
    result.update(
        chi2=total_chi2,
        ndf=total_ndf,
        chi2_ndf=total_chi2 / total_ndf if total_ndf else float("nan"),
        min_p_value=min(c["p_value"] for per in result["theta"].values() for c in per.values()),
    )
    return result
