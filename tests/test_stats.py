"""Tests of ml4hep.stats against the asymptotic formulae of Cowan et al., arXiv:1007.1727."""

from __future__ import annotations

import numpy as np
import pyhf
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from ml4hep import stats
from ml4hep.plots.stats import brazil_plot

ALPHA = 0.05
NSIGMA = (-2, -1, 0, 1, 2)

# pyhf 0.7.6 validates specs with the deprecated jsonschema.RefResolver
pytestmark = pytest.mark.filterwarnings("ignore:jsonschema.RefResolver is deprecated:DeprecationWarning")


def cls_band_gaussian(s: float, b: float) -> list[float]:
    """mu_up+N = sigma (Phi^-1(1 - alpha Phi(N)) + N), sigma = sqrt(b) / s (arXiv:1007.1727, CLs bands)."""
    sigma = np.sqrt(b) / s
    return [sigma * (norm.isf(ALPHA * norm.cdf(n)) + n) for n in NSIGMA]


def cls_band_asimov(s: float, b: float) -> list[float]:
    """Same with the exact one-bin Poisson Asimov q_mu,A = 2 (mu s - b ln(1 + mu s / b)) instead of (mu / sigma)^2."""

    def root(n: int) -> float:
        target = norm.isf(ALPHA * norm.cdf(n)) + n
        return brentq(lambda mu: np.sqrt(2 * (mu * s - b * np.log1p(mu * s / b))) - target, 1e-9, 1e9)

    return [root(n) for n in NSIGMA]


def z_asimov(s: float, b: float) -> float:
    return float(np.sqrt(2 * ((s + b) * np.log1p(s / b) - s)))


def test_one_bin_limit_matches_asymptotic_formula():
    s, b = 10.0, 1000.0
    res = stats.expected_upper_limit(stats.build_model([s], [b]))
    gauss = cls_band_gaussian(s, b)
    assert res["mu_expected"] == res["band"][2]
    assert res["mu_expected"] == pytest.approx(1.96 * np.sqrt(b) / s, rel=0.03)
    # sigma = sqrt(b)/s neglects the mu s / b ~ 5% correction: a few percent, growing with the band
    np.testing.assert_allclose(res["band"], gauss, rtol=0.05)
    np.testing.assert_allclose(res["band"][1:4], gauss[1:4], rtol=0.03)
    # with the exact Poisson Asimov q_mu,A the asymptotic formula is reproduced much more closely
    np.testing.assert_allclose(res["band"], cls_band_asimov(s, b), rtol=0.005)
    assert np.all(np.diff(res["band"]) > 0)


@pytest.mark.parametrize(("s", "b"), [(1000.0, 50.0), (0.05, 1000.0)])
def test_limit_scan_range_is_automatic(s, b):
    res = stats.expected_upper_limit(stats.build_model([s], [b]))
    np.testing.assert_allclose(res["band"], cls_band_asimov(s, b), rtol=0.01)


def test_limit_is_where_pyhf_hypotest_gives_cls_alpha():
    s, b = np.array([2.0, 4.0, 8.0]), np.array([300.0, 100.0, 30.0])
    model = stats.build_model(s, b, signal_mc_err=0.1 * s, background_mc_err=0.05 * b, background_norm_uncertainty=0.1)
    res = stats.expected_upper_limit(model)
    data = stats.asimov_data(model, 0.0)
    for k, mu in enumerate(res["band"]):
        _, expected = pyhf.infer.hypotest(mu, data, model, test_stat="qtilde", return_expected_set=True)
        assert float(expected[k]) == pytest.approx(ALPHA, rel=1e-3)


def test_cls_band_targets():
    targets = stats.cls_band_targets(0.95)
    assert targets[2] == pytest.approx(1.959964, rel=1e-6)
    np.testing.assert_allclose(norm.cdf(np.array(NSIGMA) - targets) / norm.cdf(NSIGMA), ALPHA)


def test_limit_with_explicit_scan_agrees():
    model = stats.build_model([10.0], [1000.0])
    auto = stats.expected_upper_limit(model)
    grid = stats.expected_upper_limit(model, scan=np.linspace(1.0, 15.0, 57))
    np.testing.assert_allclose(grid["band"], auto["band"], rtol=0.01)


def test_cl_level():
    model = stats.build_model([10.0], [1000.0])
    assert stats.expected_upper_limit(model, cl=0.90)["mu_expected"] < stats.expected_upper_limit(model)["mu_expected"]


def test_expected_significance_matches_asimov_formula():
    s, b = 10.0, 100.0
    model = stats.build_model([s], [b])
    z = stats.expected_significance(model)
    assert z == pytest.approx(z_asimov(s, b), rel=0.01)
    # same as the p-value route of pyhf.infer.hypotest
    p0 = pyhf.infer.hypotest(0.0, stats.asimov_data(model, 1.0), model, test_stat="q0")
    assert stats.significance_from_pvalue(float(p0)) == pytest.approx(z, rel=1e-3)


def test_systematics_weaken_limit_and_significance():
    s, b = np.array([5.0, 10.0, 20.0]), np.array([400.0, 200.0, 100.0])
    nominal = stats.build_model(s, b)
    norm_syst = stats.build_model(s, b, background_norm_uncertainty=0.2)
    mc_stat = stats.build_model(s, b, signal_mc_err=0.2 * s, background_mc_err=0.1 * b)
    lim = {
        k: stats.expected_upper_limit(m)["mu_expected"]
        for k, m in {"nominal": nominal, "norm": norm_syst, "mc": mc_stat}.items()
    }
    z = {k: stats.expected_significance(m) for k, m in {"nominal": nominal, "norm": norm_syst, "mc": mc_stat}.items()}
    assert lim["norm"] > lim["nominal"] * 1.05
    assert lim["mc"] > lim["nominal"] * 1.02
    assert z["norm"] < z["nominal"] * 0.95
    assert z["mc"] < z["nominal"] * 0.98


def test_multibin_high_purity_bin_beats_single_bin():
    s, b = np.array([1.0, 2.0, 7.0]), np.array([500.0, 300.0, 20.0])
    multi = stats.expected_upper_limit(stats.build_model(s, b))["mu_expected"]
    single = stats.expected_upper_limit(stats.build_model([s.sum()], [b.sum()]))["mu_expected"]
    assert multi < 0.6 * single
    assert stats.expected_significance(stats.build_model(s, b)) > stats.expected_significance(
        stats.build_model([s.sum()], [b.sum()])
    )


def test_build_model_structure():
    model = stats.build_model(
        [1.0, 2.0], [10.0, 5.0], signal_mc_err=[0.1, 0.2], background_mc_err=[1.0, 0.0], background_norm_uncertainty=0.1
    )
    assert model.config.poi_name == "mu"
    assert set(model.config.parameters) == {"mu", "staterror_score", "background_norm"}
    assert model.config.param_set("staterror_score").n_parameters == 2
    no_syst = stats.build_model([1.0, 2.0], [10.0, 5.0])
    assert no_syst.config.parameters == ["mu"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"signal": [1.0, 2.0], "background": [1.0]}, "bins"),
        ({"signal": [1.0, -2.0], "background": [1.0, 1.0]}, "non-negative"),
        ({"signal": [1.0, 2.0], "background": [1.0, 0.0]}, "merge_low_background_bins"),
        ({"signal": [0.0, 0.0], "background": [1.0, 1.0]}, "signal is zero"),
        ({"signal": [1.0], "background": [1.0], "background_mc_err": [1.0, 1.0]}, "background_mc_err"),
        ({"signal": [1.0], "background": [1.0], "background_norm_uncertainty": 1.0}, r"\[0, 1\)"),
    ],
)
def test_build_model_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stats.build_model(**kwargs)


def test_merge_low_background_bins():
    rng = np.random.default_rng(1)
    sig = rng.uniform(0, 5, 20)
    bkg = np.concatenate([rng.uniform(5, 50, 12), [0.0, 0.5, 0.0, 2.0, 0.1, 0.0, 1.0, 0.3]])
    s_err, b_err = 0.1 * sig, 0.2 * np.sqrt(bkg)
    merged = stats.merge_low_background_bins(sig, bkg, s_err, b_err, min_background=10.0)
    assert merged["background"].min() >= 10.0
    assert merged["signal"].sum() == pytest.approx(sig.sum())
    assert merged["background"].sum() == pytest.approx(bkg.sum())
    assert np.sum(merged["signal_mc_err"] ** 2) == pytest.approx(np.sum(s_err**2))
    assert np.sum(merged["background_mc_err"] ** 2) == pytest.approx(np.sum(b_err**2))
    edges = np.linspace(0, 1, 21)
    new_edges = stats.merge_bin_edges(edges, bkg, 10.0)
    assert new_edges.size == merged["background"].size + 1
    assert new_edges[0] == 0 and new_edges[-1] == 1 and np.all(np.diff(new_edges) > 0)
    stats.build_model(**merged)  # now valid
    assert stats.merge_low_background_bins(sig, bkg, None, None, 1e6)["background"].size == 1
    assert stats.merge_low_background_bins(sig, bkg, None, None, 1.0)["signal_mc_err"] is None


def test_histogram_templates():
    scores = np.array([0.1, 0.2, 0.6, 0.9, 0.95, 0.3])
    labels = np.array([0, 0, 1, 1, 1, 0])
    weights = np.array([2.0, 2.0, 0.5, 0.5, 0.5, 3.0])
    t = stats.histogram_templates(scores, labels, weights, np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(t["signal"], [0.0, 1.5])
    np.testing.assert_allclose(t["background"], [7.0, 0.0])
    np.testing.assert_allclose(t["signal_mc_err"], [0.0, np.sqrt(0.75)])
    np.testing.assert_allclose(t["background_mc_err"], [np.sqrt(17.0), 0.0])
    assert set(t) == {"signal", "background", "signal_mc_err", "background_mc_err"}


def test_brazil_plot(tmp_path):
    masses = [120.0, 125.0, 130.0]
    limits = [stats.expected_upper_limit(stats.build_model([s], [1000.0])) for s in (8.0, 10.0, 12.0)]
    outputs = [tmp_path / "brazil.png", tmp_path / "brazil.pdf"]
    brazil_plot(
        masses,
        limits,
        outputs,
        ylabel=r"95% CL limit on $\mu$",
        observed=[lim["mu_expected"] * 1.1 for lim in limits],
        reference=1.0,
    )
    for path in outputs:
        assert path.stat().st_size > 1000
    assert (tmp_path / "brazil.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "brazil.pdf").read_bytes()[:4] == b"%PDF"


# A realistic HiggsML-like score histogram (7 bins, ~1e6 background events per bin, background MC errors of 16-45%,
# signal errors ~38%). pyhf's default SLSQP fits stop at their starting point here and still report success, which
# made the old fast solver return mu = 9.59 for all five band edges (and pyhf.infer.hypotest gives CLs = 0 from
# mu ~ 9.6 on).
LARGE_COUNT_TEMPLATES = {
    "signal": [
        5369.869546452826,
        5390.394449693626,
        5383.552815280023,
        5430.463404966786,
        5383.5528152800325,
        5322.958956766077,
        10726.546249682702,
    ],
    "signal_mc_err": [
        2029.9098697025913,
        2037.7536405612461,
        2035.1424092969698,
        2052.5385283419846,
        2035.1424092969712,
        2012.3181395859838,
        2867.3099198342175,
    ],
    "background": [
        7625932.458606735,
        1679651.8055872973,
        1239632.4901898205,
        2782538.4640490636,
        1542072.39557763,
        1063206.8799516037,
        929095.4254751652,
    ],
    "background_mc_err": [
        1253960.3298994268,
        593906.7648434109,
        506355.2551536932,
        754684.2080858768,
        528479.5355590918,
        438369.4963630056,
        392318.50757085753,
    ],
}


class _TrustConstrOptimizer(pyhf.optimize.scipy_optimizer):
    """pyhf's scipy optimizer with trust-constr instead of SLSQP: slow, but it converges on the large-count model."""

    def _minimize(self, minimizer, func, x0, do_grad=False, bounds=None, fixed_vals=None, options={}):  # noqa: B006
        options = {**options, "method": "trust-constr"}
        return super()._minimize(
            minimizer, func, x0, do_grad=do_grad, bounds=bounds, fixed_vals=fixed_vals, options=options
        )


@pytest.fixture
def trust_constr_backend():
    tensorlib, optimizer = pyhf.get_backend()
    pyhf.set_backend(tensorlib, _TrustConstrOptimizer())
    yield
    pyhf.set_backend(tensorlib, optimizer)


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning", "ignore::DeprecationWarning")
def test_large_count_model_limit_is_robust(trust_constr_backend):
    model = stats.build_model(**LARGE_COUNT_TEMPLATES, background_norm_uncertainty=0.1)
    res = stats.expected_upper_limit(model)
    band = np.array(res["band"])
    assert np.all(np.diff(band) > 0)
    # the MC errors absorb most of the signal (q_mu,A grows slower than mu^2): a wide, asymmetric band
    np.testing.assert_allclose(band, [42.534, 62.308, 99.014, 167.66, 290.30], rtol=1e-3)
    # an independent pyhf computation with a converging optimizer puts expected CLs = alpha at the median
    bounds = [tuple(b) for b in model.config.suggested_bounds()]
    bounds[model.config.poi_index] = (0.0, 1000.0)
    _, expected = pyhf.infer.hypotest(
        res["mu_expected"],
        stats.asimov_data(model, 0.0),
        model,
        test_stat="qtilde",
        return_expected_set=True,
        par_bounds=bounds,
    )
    assert float(expected[2]) == pytest.approx(ALPHA, abs=0.01)
    assert np.all(np.diff(np.asarray(expected, dtype=float)) > 0)


def test_large_count_model_significance():
    model = stats.build_model(**LARGE_COUNT_TEMPLATES, background_norm_uncertainty=0.1)
    z = stats.expected_significance(model)
    # for s << b, q0 on s+b Asimov data ~ q_mu=1 on background-only Asimov data (the old pyhf fit gave 0.31)
    assert z == pytest.approx(0.03155, rel=1e-3)
    assert z == pytest.approx(stats._AsimovQmu(model)(1.0), rel=0.02)


@pytest.mark.parametrize("failure", ["jump", "drop", "nan"])
def test_failed_fit_raises_instead_of_returning_a_limit(monkeypatch, failure):
    original = stats._Profile.twice_nll

    def broken(self, mu):
        value, pars = original(self, mu)
        if mu >= 7.0:  # between the median (6.33) and +1 sigma (8.87) limits
            value = {"jump": value + 1e4, "drop": value - 5.0, "nan": np.nan}[failure]
        return value, pars

    monkeypatch.setattr(stats._Profile, "twice_nll", broken)
    with pytest.raises(RuntimeError, match="fit failed"):
        stats.expected_upper_limit(stats.build_model([10.0], [1000.0]))
