"""HistFactory workspaces of the limits: pyhf reads them, and pyhf with the minuit optimiser reproduces the project's
closed-form profile limits on them; pre- and post-fit yields; validation-split binning; the SUSY benchmarks.

Tolerance of the comparison: at the project's limit mu_95 pyhf's expected CLs must be 0.05 within 5e-4 (1% of
CLs). Near the limit d ln CLs / d ln mu is about -3 to -4, so this is about 0.3% on mu. The closed-form profile
solves the staterror gammas exactly and finds mu_95 to a relative 1e-4 in sqrt(q~_mu); minuit's stopping
(EDM below 2e-4 at pyhf's default tolerance) moves -2 ln L by well below 1e-3. So the expected difference is
~1e-5 in CLs, and the tolerance leaves room for the minimiser without hiding a wrong model (a missing normsys
or staterror moves the limit by several percent).
"""

from __future__ import annotations

import csv
import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyhf
import pytest

from ml4hep.higgs.limits import binned_limit, limit_entry, limit_workspace, score_binning, validation_binning
from ml4hep.stats import histogram_templates
from ml4hep.susy.benchmarks import benchmark_workspace, choose_benchmarks
from ml4hep.susy.recast import SIGNAL_REGIONS, cls_test
from ml4hep.workspaces import write_workspace

# pyhf 0.7.6 validates specs with the deprecated jsonschema.RefResolver
pytestmark = pytest.mark.filterwarnings("ignore:jsonschema.RefResolver is deprecated:DeprecationWarning")

CLS_TOLERANCE = 5e-4
HIGGS_WORKSPACES = ("cut", "bdt", "dnn")
SUSY_ROLES = ("excluded", "borderline", "allowed")


@pytest.fixture
def minuit():
    """pyhf with the minuit optimiser (iminuit) for one test; the project's default backend afterwards.

    Tolerance 1e-3, not pyhf's 0.1: the tiny run's heavy-Higgs limits sit at mu of 1e5 to 1e7 (a few signal events
    under 1e6 background ones), where migrad's default EDM goal stops short of the minimum (CLs 0.0487 at the
    closed-form limit; 0.05000 at 1e-3); goals below 1e-3 exceed what float precision resolves there.
    """
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=1e-3))
    yield
    pyhf.set_backend("numpy", "scipy")


def expected_cls(spec: dict, mu: float) -> tuple[float, list[float]]:
    """Observed and expected (-2..+2 sigma) CLs of ``mu`` on a workspace (qtilde, asymptotic)."""
    workspace = pyhf.Workspace(spec)
    model = workspace.model()
    observed, expected = pyhf.infer.hypotest(
        mu, workspace.data(model), model, test_stat="qtilde", return_expected_set=True
    )
    return float(observed), [float(e) for e in expected]


@functools.cache  # the limit takes seconds; the tests only read the entry
def synthetic_entry(seed: int = 1, norm: float = 0.1) -> dict:
    """A limit entry of a five-bin classifier-score analysis with MC errors and a background normalisation."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(4000) < 0.3).astype(int)
    scores = np.clip(rng.normal(0.3 + 0.4 * labels, 0.2), 0, 1)
    weights = np.where(labels == 1, 0.05, 2.0)
    edges = np.linspace(0, 1 + 1e-7, 6)
    templates = histogram_templates(scores, labels, weights, edges)
    return limit_entry(templates, edges, {"background_norm_uncertainty": norm})


def test_workspace_reproduces_the_closed_form_limit_with_minuit(minuit, tmp_path):
    entry = synthetic_entry()
    spec, _ = limit_workspace(entry, "synthetic")
    path = write_workspace(tmp_path / "ws.json", spec)
    spec = json.loads(path.read_text())  # what a user reads
    assert {m["type"] for s in spec["channels"][0]["samples"] for m in s["modifiers"]} == {
        "normfactor",
        "staterror",
        "normsys",
    }
    band = entry["band"]
    observed, expected = expected_cls(spec, band[2])
    assert expected[2] == pytest.approx(0.05, abs=CLS_TOLERANCE)
    assert observed == pytest.approx(expected[2], abs=CLS_TOLERANCE)  # the observations are the Asimov counts
    _, expected_plus1 = expected_cls(spec, band[3])
    assert expected_plus1[3] == pytest.approx(0.05, abs=CLS_TOLERANCE)


def test_a_workspace_without_the_background_normalisation_gives_another_limit(minuit):
    # the comparison is sensitive to the model: the same templates without the 10% normsys exclude a lower mu
    entry = synthetic_entry(norm=0.1)
    loose = synthetic_entry(norm=0.0)
    spec, _ = limit_workspace(loose, "no_norm")
    _, expected = expected_cls(spec, entry["band"][2])
    assert expected[2] < 0.05 - 5 * CLS_TOLERANCE  # 0.045: ten times the tolerance away


def test_pyhf_cls_command_reads_the_workspace(tmp_path):
    entry = synthetic_entry()
    spec, _ = limit_workspace(entry, "synthetic")
    path = write_workspace(tmp_path / "ws.json", spec)
    pyhf_cli = Path(sys.executable).with_name("pyhf")
    result = subprocess.run(
        [str(pyhf_cli), "cls", str(path), "--test-poi", str(entry["mu_expected"]), "--optimizer", "minuit"],
        capture_output=True,
        text=True,
        check=True,
    )
    cls = json.loads(result.stdout)
    assert cls["CLs_exp"][2] == pytest.approx(0.05, abs=CLS_TOLERANCE)
    assert cls["CLs_obs"] == pytest.approx(0.05, abs=CLS_TOLERANCE)


def test_yields_pre_and_post_fit():
    entry = synthetic_entry()
    _, rows = limit_workspace(entry, "synthetic")
    assert len(rows) == len(entry["edges"]) - 1
    assert [r["signal_prefit"] for r in rows] == pytest.approx(entry["signal"])
    assert [r["background_prefit"] for r in rows] == pytest.approx(entry["background"])
    assert [r["observed"] for r in rows] == pytest.approx(entry["background"])  # background-only Asimov
    mu = entry["mu_expected"]

    def chi2(signal_key, background_key, scale):
        return sum((scale * r[signal_key] + r[background_key] - r["observed"]) ** 2 / r["observed"] for r in rows)

    # at fixed mu the fit pulls the background down where the signal is: the post-fit prediction is closer to the data
    assert chi2("signal_postfit", "background_postfit", 1.0) < chi2("signal_prefit", "background_prefit", mu)
    assert rows[-1]["background_postfit"] < rows[-1]["background_prefit"]


def test_limit_binning_comes_from_the_validation_split():
    rng = np.random.default_rng(3)
    val_labels = (rng.random(3000) < 0.4).astype(int)
    val_scores = rng.random(3000) ** np.where(val_labels == 1, 0.5, 2.0)
    test_labels = (rng.random(3000) < 0.4).astype(int)
    test_scores = rng.random(3000) ** np.where(test_labels == 1, 0.3, 3.0)
    edges = validation_binning(val_scores, val_labels, test_scores, test_labels, 8, 20)
    from_val = score_binning(val_scores, val_labels, 8, 20)
    from_test = score_binning(test_scores, test_labels, 8, 20)
    np.testing.assert_allclose(edges[1:-1], from_val[1:-1])
    assert len(from_test) != len(edges) or not np.allclose(edges, from_test)  # the test split would bin differently
    assert edges[0] <= test_scores.min() and edges[-1] > test_scores.max()
    # changing the test scores does not move an inner edge
    shifted = validation_binning(val_scores, val_labels, test_scores * 0.999, test_labels, 8, 20)
    np.testing.assert_allclose(shifted[1:-1], edges[1:-1])


def fake_labels() -> dict[str, np.ndarray]:
    """Recast columns of six points: three excluded (one borderline), two allowed, one without a tested region."""
    cls = np.array([0.001, 0.02, 0.049, 0.3, 0.8, 1.0])
    n = cls.size
    labels = {
        "point_id": np.arange(100, 100 + n),
        "best_region": np.array([0, 1, 0, 2, 0, -1]),
        "cls": cls,
        "excluded": np.array([1, 1, 1, 0, 0, 0]),
        "m_gluino": np.full(n, 2000.0),
        "m_chi10": np.full(n, 100.0),
    }
    for region in SIGNAL_REGIONS:
        labels[f"s_{region}"] = np.array([40.0, 25.0, 12.0, 6.0, 2.0, 0.0])
        labels[f"cls_obs_{region}"] = cls
        labels[f"cls_exp_{region}"] = cls
    return labels


def test_benchmark_points_are_an_excluded_a_borderline_and_an_allowed_one():
    chosen = choose_benchmarks(fake_labels())
    assert chosen == {"excluded": 1, "borderline": 2, "allowed": 3}  # medians of the excluded and allowed


def test_benchmark_workspace_is_the_recast_model(minuit):
    regions = {r: {"background": 12.0, "background_uncertainty": 2.5, "observed": 11} for r in SIGNAL_REGIONS}
    labels = fake_labels()
    spec = benchmark_workspace(labels, 2, regions, "borderline")
    assert [c["name"] for c in spec["channels"]] == [SIGNAL_REGIONS[0]]
    pyhf.set_backend("numpy", "scipy")
    reference = cls_test(12.0, 12.0, 2.5, 11)  # the recast's own test (pyhf's default fit)
    pyhf.set_backend("numpy", "minuit")
    observed, expected = expected_cls(spec, 1.0)
    assert observed == pytest.approx(reference[0], rel=1e-3)
    assert expected[2] == pytest.approx(reference[1], rel=1e-3)


# The finished tiny run: every limit is a workspace that pyhf evaluates like the project.


@pytest.mark.workflow
def test_every_higgs_limit_of_the_run_is_a_workspace(finished_run, minuit):
    results = finished_run / "results" / "higgs"
    limits = json.loads((results / "limits.json").read_text())
    heavy = json.loads((results / "heavy_limits.json").read_text())
    entries = {name: limits[name] for name in HIGGS_WORKSPACES}
    entries |= {f"heavy_m{key}": entry for key, entry in heavy.items()}
    for name, entry in entries.items():
        spec = json.loads((results / "workspaces" / f"{name}.json").read_text())
        observed, expected = expected_cls(spec, entry["mu_expected"])
        assert expected[2] == pytest.approx(0.05, abs=CLS_TOLERANCE), name
        assert observed == pytest.approx(0.05, abs=CLS_TOLERANCE), name
        with open(results / "workspaces" / f"{name}_yields.csv", newline="") as stream:
            rows = list(csv.DictReader(stream))
        assert len(rows) == len(entry["edges"]) - 1
        assert sum(float(r["signal_prefit"]) for r in rows) == pytest.approx(sum(entry["signal"]))


@pytest.mark.workflow
def test_the_susy_benchmarks_of_the_run_are_workspaces_of_the_recast(finished_run, minuit):
    folder = finished_run / "results" / "susy" / "workspaces"
    with open(folder / "benchmarks.csv", newline="") as stream:
        rows = {row["role"]: row for row in csv.DictReader(stream)}
    assert set(rows) == set(SUSY_ROLES)
    for role in SUSY_ROLES:
        observed, expected = expected_cls(json.loads((folder / f"{role}.json").read_text()), 1.0)
        assert observed == pytest.approx(float(rows[role]["cls_obs"]), rel=2e-3, abs=1e-4), role
        assert expected[2] == pytest.approx(float(rows[role]["cls_exp"]), rel=2e-3, abs=1e-4), role
    assert float(rows["borderline"]["cls_obs"]) == min(
        (float(r["cls_obs"]) for r in rows.values()), key=lambda c: abs(np.log(c / 0.05))
    )


def test_a_limit_too_mc_limited_for_its_bins_falls_back_to_one_bin(caplog):
    # four simulated background events (of weight 1e5) under all the signal: the shared MC-stat gamma caps sqrt(q)
    # near sqrt(4), below the median's target 1.96 and the +2 sigma band's 3.66, so no limit exists in these bins;
    # the inclusive bin has 44 events
    scores = np.concatenate([np.full(20, 0.1), np.full(20, 0.5), np.full(4, 0.9), np.full(5, 0.9)])
    labels = np.concatenate([np.zeros(44), np.ones(5)]).astype(int)
    weights = np.concatenate([np.full(44, 1e5), np.full(5, 0.1)])
    edges = np.array([0.0, 0.3, 0.7, 1.0])
    options = {"background_norm_uncertainty": 0.1}
    with pytest.raises(RuntimeError):
        limit_entry(histogram_templates(scores, labels, weights, edges), edges, options)
    entry = binned_limit(scores, labels, weights, edges, options)
    assert entry["binning"] == "inclusive" and entry["edges"] == [0.0, 1.0]
    assert np.all(np.isfinite(entry["band"])) and "inclusive bin" in caplog.text
