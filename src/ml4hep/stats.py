"""Expected limits and significances with pyhf (numpy backend, asymptotic formulae).

The model is a single channel with one bin per histogram entry (e.g. a classifier-score histogram of the test split):

* ``signal`` scaled by the signal strength ``mu`` (``normfactor``, the parameter of interest);
* ``background`` optionally with a normalisation uncertainty u (``normsys``, lo = 1 - u, hi = 1 + u);
* MC statistical uncertainties as ``staterror`` modifiers: every sample with errors carries a ``staterror`` of the same
  name, which pyhf combines per bin in quadrature (one gamma per bin, Barlow-Beeston "lite"); bins without any MC
  error get a fixed gamma.

Bins without expected background make the background-only likelihood degenerate, so :func:`build_model` refuses them
with a ``ValueError``; merge them away first with :func:`merge_low_background_bins` (adjacent bins are merged from
the low-score end until each has at least ``min_background`` expected background events).

Limits are CLs upper limits with the ``qtilde`` test statistic on background-only Asimov data; the expected
discovery significance uses ``q0`` on signal-plus-background (mu = 1) Asimov data (Cowan, Cranmer, Gross, Vitells,
arXiv:1007.1727). The expected CLs band of pyhf's asymptotic calculator depends on mu only through sqrt(q~_mu,A), so
:func:`expected_upper_limit` solves for that directly (one fixed-mu profile per point, identical results to scanning
``pyhf.infer.hypotest``, which needs five fits per point); ``scan=`` runs pyhf's own grid scan instead.

The fixed-mu fits do not use pyhf's default optimizer: with large yields (~1e6 events per bin) and MC errors of tens
of percent, SLSQP with finite-difference gradients stops at or near its starting point and still reports success
(the Poisson curvature in a staterror gamma is ~2 nu, its constraint curvature 1 / sigma^2), so q_mu jumps by orders
of magnitude from one mu to the next. The staterror gammas are profiled in closed form instead (see
:class:`_Profile`); every likelihood value is still pyhf's ``model.logpdf``.

Importing this module sets pyhf's backend to numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyhf
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.stats import norm

pyhf.set_backend("numpy")

CHANNEL = "score"
"""Name of the single channel of :func:`build_model`."""

POI = "mu"
"""Name of the signal-strength parameter of interest."""

_BAND_NSIGMA = (-2, -1, 0, 1, 2)
_MAX_BRACKET_STEPS = 60


def _as_counts(name: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1D sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values: {arr}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got {arr}")
    return arr


def _as_errors(name: str, values: Sequence[float] | np.ndarray | None, nbins: int) -> np.ndarray | None:
    if values is None:
        return None
    arr = _as_counts(name, values)
    if arr.size != nbins:
        raise ValueError(f"{name} has {arr.size} bins, the histograms have {nbins}")
    return arr


def build_model(
    signal: Sequence[float] | np.ndarray,
    background: Sequence[float] | np.ndarray,
    *,
    signal_mc_err: Sequence[float] | np.ndarray | None = None,
    background_mc_err: Sequence[float] | np.ndarray | None = None,
    background_norm_uncertainty: float = 0.0,
) -> pyhf.pdf.Model:
    """One-channel pyhf model with signal strength ``mu`` as parameter of interest.

    Args:
        signal: Expected signal counts per bin (mu = 1).
        background: Expected background counts per bin; must be > 0 in every bin.
        signal_mc_err: Absolute MC statistical error of ``signal`` per bin (None: no MC error).
        background_mc_err: Absolute MC statistical error of ``background`` per bin (None: no MC error).
        background_norm_uncertainty: Relative background normalisation uncertainty u in [0, 1) as a ``normsys``
            (lo = 1 - u, hi = 1 + u); 0 adds no modifier.

    Returns:
        The pyhf model (POI ``mu``, default bounds [0, 10]; the functions here widen them as needed).

    Raises:
        ValueError: On different lengths, negative or non-finite inputs, no signal at all, u outside [0, 1), or a bin
            with zero background (merge it first with :func:`merge_low_background_bins`).
    """
    sig = _as_counts("signal", signal)
    bkg = _as_counts("background", background)
    if sig.size != bkg.size:
        raise ValueError(f"signal has {sig.size} bins but background has {bkg.size}")
    empty = np.flatnonzero(bkg <= 0)
    if empty.size:
        raise ValueError(
            f"background must be > 0 in every bin, bins {empty.tolist()} are empty; "
            "merge them first with ml4hep.stats.merge_low_background_bins"
        )
    if not np.any(sig > 0):
        raise ValueError("signal is zero in every bin: no sensitivity to mu")
    sig_err = _as_errors("signal_mc_err", signal_mc_err, sig.size)
    bkg_err = _as_errors("background_mc_err", background_mc_err, bkg.size)
    u = float(background_norm_uncertainty)
    if not 0.0 <= u < 1.0:
        raise ValueError(f"background_norm_uncertainty must be in [0, 1), got {u}")

    stat_name = f"staterror_{CHANNEL}"
    sig_mods: list[dict[str, Any]] = [{"name": POI, "type": "normfactor", "data": None}]
    bkg_mods: list[dict[str, Any]] = []
    if sig_err is not None:
        sig_mods.append({"name": stat_name, "type": "staterror", "data": sig_err.tolist()})
    if bkg_err is not None:
        bkg_mods.append({"name": stat_name, "type": "staterror", "data": bkg_err.tolist()})
    if u > 0:
        bkg_mods.append({"name": "background_norm", "type": "normsys", "data": {"lo": 1.0 - u, "hi": 1.0 + u}})
    spec = {
        "channels": [
            {
                "name": CHANNEL,
                "samples": [
                    {"name": "signal", "data": sig.tolist(), "modifiers": sig_mods},
                    {"name": "background", "data": bkg.tolist(), "modifiers": bkg_mods},
                ],
            }
        ]
    }
    return pyhf.Model(spec, poi_name=POI)


def _merge_groups(background: np.ndarray, min_background: float) -> list[tuple[int, int]]:
    """Half-open index ranges of merged bins, walking from the low-score (index 0) end."""
    groups: list[tuple[int, int]] = []
    start, acc = 0, 0.0
    for i, b in enumerate(background):
        acc += b
        if acc >= min_background:
            groups.append((start, i + 1))
            start, acc = i + 1, 0.0
    if start < background.size:  # high-score remainder below the threshold joins the last full bin
        if groups:
            groups[-1] = (groups[-1][0], background.size)
        else:
            groups.append((0, background.size))
    return groups


def merge_low_background_bins(
    signal: Sequence[float] | np.ndarray,
    background: Sequence[float] | np.ndarray,
    sig_err: Sequence[float] | np.ndarray | None,
    bkg_err: Sequence[float] | np.ndarray | None,
    min_background: float,
) -> dict[str, np.ndarray | None]:
    """Merge adjacent bins until each has at least ``min_background`` expected background events.

    Bins are accumulated from the low-score end (index 0) and closed as soon as their background reaches
    ``min_background``; a high-score remainder below the threshold is merged into the last closed bin. If the total
    background is below ``min_background`` everything ends in one bin. Counts add, errors add in quadrature, so the
    totals are conserved. Use :func:`merge_bin_edges` for the matching bin edges.

    Args:
        signal: Signal counts per bin.
        background: Background counts per bin.
        sig_err: Absolute signal MC errors per bin, or None.
        bkg_err: Absolute background MC errors per bin, or None.
        min_background: Minimum expected background per merged bin (> 0).

    Returns:
        ``{"signal", "background", "signal_mc_err", "background_mc_err"}`` (errors None where given None), ready for
        ``build_model(**merged)``.

    Raises:
        ValueError: On inconsistent lengths, negative values or ``min_background <= 0``.
    """
    sig = _as_counts("signal", signal)
    bkg = _as_counts("background", background)
    if sig.size != bkg.size:
        raise ValueError(f"signal has {sig.size} bins but background has {bkg.size}")
    if not min_background > 0:
        raise ValueError(f"min_background must be > 0, got {min_background}")
    s_err = _as_errors("sig_err", sig_err, sig.size)
    b_err = _as_errors("bkg_err", bkg_err, bkg.size)
    groups = _merge_groups(bkg, float(min_background))

    def _sum(arr: np.ndarray) -> np.ndarray:
        return np.array([arr[a:b].sum() for a, b in groups])

    def _quad(arr: np.ndarray | None) -> np.ndarray | None:
        return None if arr is None else np.sqrt(_sum(arr**2))

    return {
        "signal": _sum(sig),
        "background": _sum(bkg),
        "signal_mc_err": _quad(s_err),
        "background_mc_err": _quad(b_err),
    }


def merge_bin_edges(
    edges: Sequence[float] | np.ndarray, background: Sequence[float] | np.ndarray, min_background: float
) -> np.ndarray:
    """Bin edges after :func:`merge_low_background_bins` with the same ``background`` and ``min_background``.

    Args:
        edges: Original bin edges (``len(background) + 1`` values).
        background: Original background counts per bin.
        min_background: Minimum expected background per merged bin.

    Returns:
        The merged bin edges.
    """
    bkg = _as_counts("background", background)
    edges_arr = np.asarray(edges, dtype=float)
    if edges_arr.size != bkg.size + 1:
        raise ValueError(f"need {bkg.size + 1} edges for {bkg.size} bins, got {edges_arr.size}")
    groups = _merge_groups(bkg, float(min_background))
    return np.array([edges_arr[a] for a, _ in groups] + [edges_arr[groups[-1][1]]])


def histogram_templates(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, bins: int | Sequence[float] | np.ndarray
) -> dict[str, np.ndarray]:
    """Weighted signal and background histograms of a score with their MC statistical errors.

    Args:
        scores: Classifier score per event.
        labels: 1 for signal, 0 for background.
        weights: Event weights normalised to the expected yield (None: unit weights).
        bins: Number of bins or bin edges, as for :func:`numpy.histogram` (an integer spans the score range).

    Returns:
        ``{"signal", "background", "signal_mc_err", "background_mc_err"}`` with per-bin sums of weights and
        sqrt(sum w^2), ready for ``build_model(**templates)``. Events outside the edges are dropped.
    """
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels)
    w = np.ones_like(scores) if weights is None else np.asarray(weights, dtype=float)
    if not scores.shape == labels.shape == w.shape:
        raise ValueError(f"scores, labels and weights differ in shape: {scores.shape}, {labels.shape}, {w.shape}")
    edges = np.histogram_bin_edges(scores, bins=bins)
    is_sig = labels == 1
    out: dict[str, np.ndarray] = {}
    for key, mask in (("signal", is_sig), ("background", ~is_sig)):
        out[key] = np.histogram(scores[mask], bins=edges, weights=w[mask])[0]
        out[f"{key}_mc_err"] = np.sqrt(np.histogram(scores[mask], bins=edges, weights=w[mask] ** 2)[0])
    return out


def asimov_data(model: pyhf.pdf.Model, mu: float) -> np.ndarray:
    """Asimov data (main bins and auxdata) for signal strength ``mu`` at the nominal nuisance parameters.

    Args:
        model: A model from :func:`build_model`.
        mu: Signal strength.

    Returns:
        The expected data including auxiliary data.
    """
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = mu
    return np.asarray(model.expected_data(pars))


def _par_bounds(model: pyhf.pdf.Model, mu_max: float) -> list[tuple[float, float]]:
    bounds = [tuple(b) for b in model.config.suggested_bounds()]
    i = model.config.poi_index
    bounds[i] = (0.0, max(float(bounds[i][1]), 10.0 * mu_max))
    return bounds


def _rough_limit(model: pyhf.pdf.Model) -> float:
    """Order-of-magnitude guess for the expected 95% CL limit on mu from the summed counts."""
    data = asimov_data(model, 0.0)[: model.config.nmaindata]
    s_tot = float(np.sum(asimov_data(model, 1.0)[: model.config.nmaindata] - data))
    b_tot = float(np.sum(data))
    return max(2.0 * np.sqrt(b_tot), 3.0) / s_tot


def cls_band_targets(cl: float = 0.95) -> np.ndarray:
    r"""Values of sqrt(q~_mu,A) at which the expected CLs of the -2..+2 sigma bands equals 1 - cl.

    pyhf's asymptotic calculator gives the expected CLs of the N-sigma band as
    CLs_N = Phi(N - sqrt(q_mu,A)) / Phi(N) (arXiv:1007.1727), so the band edge solves
    sqrt(q_mu,A) = N + Phi^-1(1 - (1 - cl) Phi(N)); with sqrt(q_mu,A) = mu / sigma this is the textbook
    mu_up+N = sigma (Phi^-1(1 - alpha Phi(N)) + N).

    Args:
        cl: Confidence level.

    Returns:
        Five targets for N = -2, -1, 0, 1, 2.
    """
    n = np.asarray(_BAND_NSIGMA, dtype=float)
    return n + norm.isf((1.0 - cl) * norm.cdf(n))


class _Profile:
    r"""Profiled -2 ln L at fixed mu, robust for large counts and large MC statistical errors.

    pyhf's default fit (SLSQP with finite-difference gradients) fails silently on models with large yields: the
    Poisson curvature in a staterror gamma is ~2 nu (1e6 and more for a million events per bin), the constraint
    curvature only 1 / sigma^2 (a few to a hundred) and the gradients at the start ~1e5, so SLSQP's quasi-Newton
    steps (unit initial Hessian) overshoot, the line search gives up and the result is reported as converged at (or
    near) the starting point, which makes q_mu jump by orders of magnitude between neighbouring mu.

    Here the staterror gammas are profiled in closed form instead (Barlow-Beeston "lite"): with
    nu_i = A_i + gamma_i B_i (B_i the samples carrying the staterror), -2 ln L is convex in gamma_i and its
    minimum solves B gamma^2 + (A - a B + sigma^2 B^2) gamma + sigma^2 B (A - n) - a A = 0 (n the bin count, a the
    auxiliary datum, sigma the relative error of the Gaussian constraint), of which the larger root is taken. The
    remaining free nuisance parameters (the background ``normsys``, if any) are minimised numerically on the
    gamma-profiled likelihood: Brent's method for one parameter, Powell's method for more. Every -2 ln L is
    pyhf's own ``model.logpdf``, so only the minimisation differs from pyhf.
    """

    def __init__(self, model: pyhf.pdf.Model, data: np.ndarray) -> None:
        cfg = model.config
        self.model = model
        self.data = np.asarray(data, dtype=float)
        self.init = np.asarray(cfg.suggested_init(), dtype=float)
        bounds = np.asarray(cfg.suggested_bounds(), dtype=float)
        free = ~np.asarray(cfg.suggested_fixed(), dtype=bool)
        self.poi = cfg.poi_index
        free[self.poi] = False
        self.stat_idx = np.zeros(0, dtype=int)
        stat = [name for name, kind in cfg.modifiers if kind == "staterror"]
        if len(stat) == 1 and len(cfg.channels) == 1 and cfg.param_set(stat[0]).n_parameters == cfg.nmaindata:
            sl = cfg.par_slice(stat[0])
            idx = np.arange(sl.start, sl.stop)
            offset = cfg.nmaindata
            for name in cfg.auxdata_order:
                if name == stat[0]:
                    break
                offset += len(cfg.param_set(name).auxdata)
            keep = free[idx]  # gammas of bins without MC error are fixed by pyhf
            self.stat_idx = idx[keep]
            self.stat_bins = np.flatnonzero(keep)
            self.stat_aux = self.data[offset + self.stat_bins]
            self.stat_var = np.asarray(cfg.param_set(stat[0]).sigmas, dtype=float)[keep] ** 2
            self.stat_lo, self.stat_hi = bounds[self.stat_idx, 0], bounds[self.stat_idx, 1]
            free[self.stat_idx] = False
        self.outer = np.flatnonzero(free)
        self.outer_bounds = bounds[self.outer]
        self.outer_start = self.init[self.outer]

    def _with_gammas(self, pars: np.ndarray) -> np.ndarray:
        if self.stat_idx.size == 0:
            return pars
        p = pars.copy()
        p[self.stat_idx] = 0.0
        a_part = np.asarray(self.model.expected_actualdata(p), dtype=float)[self.stat_bins]
        p[self.stat_idx] = 1.0
        b_part = np.asarray(self.model.expected_actualdata(p), dtype=float)[self.stat_bins] - a_part
        n, aux, var = self.data[self.stat_bins], self.stat_aux, self.stat_var
        lin = a_part - aux * b_part + var * b_part**2
        const = var * b_part * (a_part - n) - aux * a_part
        disc = np.sqrt(np.maximum(lin**2 - 4.0 * b_part * const, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):  # larger root, without cancellation
            root = np.where(lin > 0, -2.0 * const / (lin + disc), (disc - lin) / (2.0 * b_part))
        gammas = np.where(b_part > 0, root, aux)  # no yield under the gamma: only its constraint is left
        p[self.stat_idx] = np.clip(gammas, self.stat_lo, self.stat_hi)
        return p

    def _twice_nll(self, pars: np.ndarray) -> float:
        return -2.0 * float(np.asarray(self.model.logpdf(pars, self.data))[0])

    def twice_nll(self, mu: float) -> tuple[float, np.ndarray]:
        """Minimum of -2 ln L over the nuisance parameters at fixed mu, and the parameters there."""
        pars = self.init.copy()
        pars[self.poi] = mu

        def profiled(x: np.ndarray) -> float:
            p = pars.copy()
            p[self.outer] = x
            return self._twice_nll(self._with_gammas(p))

        if self.outer.size == 1:
            res = minimize_scalar(
                lambda x: profiled(np.array([x])),
                bounds=tuple(self.outer_bounds[0]),
                method="bounded",
                options={"xatol": 1e-9},
            )
            x = np.array([res.x])
        elif self.outer.size > 1:
            res = minimize(
                profiled,
                self.outer_start,
                method="Powell",
                bounds=self.outer_bounds,
                options={"xtol": 1e-9, "ftol": 1e-13, "maxfev": 100_000},
            )
            if not res.success:
                raise RuntimeError(f"profile fit at mu = {mu:g} failed: {res.message}")
            self.outer_start = res.x  # warm start for the next mu
            x = res.x
        else:
            x = np.zeros(0)
        pars[self.outer] = x
        pars = self._with_gammas(pars)
        value = self._twice_nll(pars)
        if not np.isfinite(value):
            raise RuntimeError(f"profile fit at mu = {mu:g} gave -2 ln L = {value} (parameters {pars.tolist()})")
        return value, pars


class _AsimovQmu:
    """sqrt(q~_mu) on background-only Asimov data, one profile (:class:`_Profile`) per point (cached).

    On this data the unconditional maximum (mu >= 0) is at mu = 0 and nominal nuisance parameters, where every
    Poisson and constraint term is maximal, so -2 ln L there is evaluated directly instead of fitted.
    """

    def __init__(self, model: pyhf.pdf.Model) -> None:
        self.model = model
        self.data = asimov_data(model, 0.0)
        self.profile = _Profile(model, self.data)
        nominal = self.profile.init.copy()
        nominal[model.config.poi_index] = 0.0
        self.twice_nll_min = self.profile._twice_nll(nominal)
        self.cache: dict[float, float] = {0.0: 0.0}

    def __call__(self, mu: float) -> float:
        mu = float(mu)
        if mu not in self.cache:
            if not (np.isfinite(mu) and mu >= 0):
                raise RuntimeError(f"sqrt(q_mu,A) requested at mu = {mu}")
            q = self.profile.twice_nll(mu)[0] - self.twice_nll_min
            if not np.isfinite(q):
                raise RuntimeError(f"q_mu,A = {q} at mu = {mu:g}: a fit failed, no limit returned")
            if q < -1e-6 * max(1.0, abs(self.twice_nll_min)):
                raise RuntimeError(
                    f"q_mu,A = {q:g} < 0 at mu = {mu:g}: the background-only Asimov data are not at the likelihood "
                    "maximum, the model is not what expected_upper_limit assumes"
                )
            self.cache[mu] = float(np.sqrt(max(q, 0.0)))
        return self.cache[mu]

    def check_monotonic(self) -> None:
        """Raise RuntimeError if the cached sqrt(q_mu,A) are not non-decreasing in mu (a failed profile)."""
        mus = np.array(sorted(self.cache))
        vals = np.array([self.cache[m] for m in mus])
        drop = np.flatnonzero(np.diff(vals) < -1e-6 * max(1.0, float(vals.max())))
        if drop.size:
            i = int(drop[0])
            raise RuntimeError(
                f"sqrt(q_mu,A) is not increasing in mu ({vals[i]:g} at mu = {mus[i]:g}, {vals[i + 1]:g} at "
                f"mu = {mus[i + 1]:g}): a fit failed, no limit returned"
            )


def _solve_increasing(func: _AsimovQmu, target: float, rtol: float) -> float:
    """Solve func(mu) = target for a monotonically increasing, nearly linear func with func(0) = 0.

    Secant steps through the two cached points closest to the target (the first one through the origin, i.e.
    mu * target / func(mu)) until a step is below ``rtol``; if that does not converge, Brent's method on a bracket
    from the cache, widened by factors of 4 if needed. The root is accepted only if func there is within
    ``10 rtol`` of the target (a jump of func, i.e. a failed fit, raises RuntimeError instead of returning the
    jump as the root).
    """
    root = None
    for _ in range(30):
        (m1, t1), (m2, t2) = sorted(func.cache.items(), key=lambda kv: abs(kv[1] - target))[:2]
        slope = (t1 - t2) / (m1 - m2)
        if not (np.isfinite(slope) and slope > 0):
            break
        new = m1 + (target - t1) / slope
        if new <= 0:
            new = 0.5 * min(m for m in func.cache if m > 0)
        if abs(new - m1) <= rtol * new:
            root = float(new)
            break
        func(new)
    if root is None or abs(func(root) - target) > 10 * rtol * target:
        lo = max(m for m, v in func.cache.items() if v < target)
        above = [m for m, v in func.cache.items() if v > target and m > lo]
        hi = min(above) if above else 4.0 * max(lo, 1e-12)
        for _ in range(_MAX_BRACKET_STEPS):
            if func(hi) > target:
                break
            lo, hi = hi, 4.0 * hi
        else:
            raise RuntimeError(f"could not bracket sqrt(q_mu,A) = {target:g} (mu up to {hi:g})")
        root = float(brentq(lambda m: func(m) - target, lo, hi, rtol=rtol, xtol=1e-15))
    if not abs(func(root) - target) <= 10 * rtol * target:
        raise RuntimeError(
            f"sqrt(q_mu,A) jumps across {target:g} at mu = {root:g} (value {func(root):g} there): a fit failed, "
            "no limit returned"
        )
    return root


def expected_upper_limit(
    model: pyhf.pdf.Model, *, cl: float = 0.95, scan: Sequence[float] | np.ndarray | None = None, rtol: float = 1e-4
) -> dict[str, Any]:
    r"""Expected CLs upper limit on mu (qtilde, asymptotic) for background-only Asimov data.

    The expected CLs values of pyhf's asymptotic calculator (``pyhf.infer.hypotest(..., test_stat="qtilde",
    return_expected_set=True)``) depend on mu only through sqrt(q~_mu,A) on background-only Asimov data (see
    :func:`cls_band_targets`), so without ``scan`` each band edge is found by solving sqrt(q~_mu,A)(mu) = target,
    one fixed-mu profile per evaluated point (a full ``hypotest`` runs five fits per point). The profile is not
    pyhf's SLSQP fit, which fails silently on large-count models with sizeable MC errors, but the closed-form
    staterror profile of :class:`_Profile` (identical to pyhf's fit where that converges). The range is automatic:
    the first point is the rough estimate mu0 = max(2 sqrt(B), 3) / S of the summed counts; as sqrt(q~_mu,A) is
    close to mu / sigma, secant steps from mu = 0 and the cached points converge in a few fits whether the limit is
    1e-3 or 1e4 (Brent's method on a widened bracket is the fallback). Failed fits are detected rather than
    returned as a limit: sqrt(q~_mu,A) must be finite, non-decreasing in mu over all evaluated points and within
    10 rtol of the target at each root, and the band strictly increasing. With ``scan``, pyhf's own
    ``pyhf.infer.intervals.upper_limits.upper_limit`` grid scan is run instead (five SLSQP fits per point, limits
    linearly interpolated on the grid; the POI upper bound is widened to 10 times the largest scan point) as a
    cross-check for small models: it inherits the fit failures on large-count models.

    Args:
        model: A model from :func:`build_model`.
        cl: Confidence level (CLs < 1 - cl is excluded).
        scan: Optional POI values for pyhf's grid scan instead of the automatic root finding.
        rtol: Relative tolerance of the automatic root finding.

    Returns:
        ``{"mu_expected": median, "band": [-2 sigma, -1 sigma, median, +1 sigma, +2 sigma], "cl": cl}``.

    Raises:
        RuntimeError: If a profile fit fails (non-finite or negative q~_mu,A, sqrt(q~_mu,A) decreasing or jumping
            across a target, or a degenerate band).
    """
    level = 1.0 - cl
    if scan is not None:
        grid = np.asarray(scan, dtype=float)
        _, exp, _ = pyhf.infer.intervals.upper_limits.upper_limit(
            asimov_data(model, 0.0),
            model,
            grid,
            level=level,
            return_results=True,
            test_stat="qtilde",
            par_bounds=_par_bounds(model, float(grid.max())),
        )
        band = [float(x) for x in exp]
        return {"mu_expected": band[2], "band": band, "cl": cl}

    sqrt_qmu = _AsimovQmu(model)
    sqrt_qmu(_rough_limit(model))
    targets = cls_band_targets(cl)
    band = [0.0] * len(targets)
    for k in (2, 1, 3, 0, 4):  # median first, then outwards: each solve starts from its neighbours
        band[k] = _solve_increasing(sqrt_qmu, float(targets[k]), rtol)
    sqrt_qmu.check_monotonic()
    if not np.all(np.diff(band) > 0):
        raise RuntimeError(f"degenerate expected band {band}: a fit failed, no limit returned")
    return {"mu_expected": band[2], "band": band, "cl": cl}


def expected_significance(model: pyhf.pdf.Model) -> float:
    """Expected (median) discovery significance Z0 for signal-plus-background Asimov data with mu = 1.

    Computed as Z0 = sqrt(q0) on the Asimov data, which equals ``norm.isf(p0)`` of
    ``pyhf.infer.hypotest(0.0, asimov, model, test_stat="q0")`` but does not underflow for large Z0. The mu = 0 fit
    is the robust profile of :func:`expected_upper_limit` (pyhf's own fit fails silently for large yields); the
    unconditional maximum is the Asimov point itself.

    Raises:
        RuntimeError: If the profile fit fails (non-finite or negative q0).

    Args:
        model: A model from :func:`build_model`.

    Returns:
        The expected significance in standard deviations.
    """
    data = asimov_data(model, 1.0)
    nominal = np.asarray(model.config.suggested_init(), dtype=float)
    nominal[model.config.poi_index] = 1.0
    profile = _Profile(model, data)
    q0 = profile.twice_nll(0.0)[0] - profile._twice_nll(nominal)  # the Asimov data are the maximum (mu-hat = 1)
    if q0 < -1e-6 * max(1.0, abs(profile._twice_nll(nominal))):
        raise RuntimeError(f"q0 = {q0:g} < 0 on the mu = 1 Asimov data: the profile fit at mu = 0 failed")
    return float(np.sqrt(max(q0, 0.0)))


def profile_parameters(model: pyhf.pdf.Model, data: Sequence[float] | np.ndarray, mu: float) -> np.ndarray:
    """The parameters of the fixed-mu profile fit to ``data`` (the fit of :func:`expected_upper_limit`).

    The post-fit yields of a workspace are ``model.expected_actualdata`` of these parameters.

    Args:
        model: A model from :func:`build_model`.
        data: Main bins and auxiliary data, e.g. :func:`asimov_data`.
        mu: The fixed signal strength.

    Returns:
        The fitted parameters in pyhf's order (``mu`` among them, at the given value).
    """
    return _Profile(model, np.asarray(data, dtype=float)).twice_nll(float(mu))[1]


def significance_from_pvalue(p: float) -> float:
    """One-sided significance Z = Phi^-1(1 - p)."""
    return float(norm.isf(p))
