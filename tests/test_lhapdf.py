"""LHAPDF6 sets of the PDF ensemble and of the closure truth, read back with an independent reader (``parton``).

The evolution operators to the grid's knots are versioned for the default (LO) theory and for
``config/pdf-nlo.yaml`` (NLO): the set's tests run on both, and a ``slow`` test rebuilds them with eko.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import parton
import pytest
import yaml

from ml4hep.config import DEFAULT_CONFIG_PATH, load_config
from ml4hep.errors import ConfigError
from ml4hep.pdf.evaluate import evolve_ensemble
from ml4hep.pdf.lhapdf import check_q_knots, evolved_grids, lhapdf_table_name, write_set
from ml4hep.pdf.postfit import load_ensemble
from ml4hep.pdf.theory import LHAPDF_PIDS, build_lhapdf_evolution, lhapdf_subgrids, load_table, settings_hash
from ml4hep.pdf.truth import basis_array, les_houches_basis, les_houches_flavours, truth_on_grid

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = load_config(DEFAULT_CONFIG_PATH, base=None)["pdf"]
Q0 = float(OPTIONS["theory"]["q0"])


def xf_parton(pdf: parton.PDF, pid: int, x: np.ndarray, q: float) -> np.ndarray:
    """x f at several x and one Q (two Q values asked: parton turns a one-value answer into a float)."""
    return pdf.xfxQ(pid, np.asarray(x, float), np.array([q, q]))[:, 0]


SHIPPED_THEORIES = {"LO": "config.yaml", "NLO": "pdf-nlo.yaml"}
"""Configs whose LHAPDF evolution is versioned (the default's and the NLO theory's), by perturbative order."""


@dataclass(frozen=True)
class Theory:
    """The PDF options of a shipped config and its versioned LHAPDF evolution file."""

    options: dict
    fk_dir: Path
    path: Path


def shipped_theory(order: str) -> Theory:
    options = load_config(ROOT / "config" / SHIPPED_THEORIES[order])["pdf"]
    fk_dir = ROOT / "theory" / "fk" / settings_hash(options["theory"])
    return Theory(options, fk_dir, fk_dir / f"{lhapdf_table_name(options['lhapdf']['q_knots'])}.npz")


@pytest.fixture(scope="module", params=list(SHIPPED_THEORIES))
def theory(request) -> Theory:
    return shipped_theory(request.param)


@pytest.fixture(scope="module")
def table(theory) -> dict[str, np.ndarray]:
    assert theory.path.is_file(), f"{theory.path} is not versioned: a run of its config would compile eko for it"
    return load_table(theory.path)


@pytest.fixture(scope="module")
def truth_set(theory, table, tmp_path_factory) -> parton.PDF:
    folder = tmp_path_factory.mktemp("lhapdf")
    xf = evolved_grids(truth_on_grid(table["xgrid"])[None], table)
    write_set(folder, "truth", xf, table, theory.options, description="Les Houches toy PDFs", replicas=False)
    return parton.mkPDF("truth", 0, pdfdir=str(folder))


def test_versioned_table_is_small_and_matches_the_settings(theory, table):
    """The file the workflow reads instead of running eko (pdf.smk's name for it: theory/fk/<hash>/LHAPDF-<knots>)."""
    assert theory.path.stat().st_size < 5e6
    assert settings_hash(json.loads(str(table["settings"]))) == settings_hash(theory.options["theory"])
    assert table["q_knots"].tolist() == [float(q) for q in theory.options["lhapdf"]["q_knots"]]
    assert table["q"][0] == Q0 and table["q"][-1] == max(theory.options["lhapdf"]["q_knots"])
    assert table["operator"].shape == (len(table["q"]), len(LHAPDF_PIDS), len(table["xgrid"]), 9, len(table["xgrid"]))
    # alpha_s falls with Q (asymptotic freedom)
    assert np.all(np.diff(table["alphas"][table["nf"] == 5]) < 0)


def test_truth_set_at_q0_is_the_les_houches_set(table, truth_set):
    x = table["xgrid"][:-1]
    exact = les_houches_flavours(x)
    np.testing.assert_allclose(xf_parton(truth_set, 21, x, Q0), exact["g"], rtol=1e-9)
    np.testing.assert_allclose(xf_parton(truth_set, 2, x, Q0) - xf_parton(truth_set, -2, x, Q0), exact["uv"], rtol=1e-9)
    np.testing.assert_allclose(xf_parton(truth_set, -1, x, Q0), exact["dbar"], rtol=1e-9)
    # between the knots: cubic interpolation in ln x of a smooth function
    between = np.sqrt(table["xgrid"][1:-2] * table["xgrid"][2:-1])
    np.testing.assert_allclose(
        xf_parton(truth_set, 21, between, Q0), les_houches_flavours(between)["g"], rtol=2e-3, atol=1e-5
    )
    assert np.all(np.abs(xf_parton(truth_set, 4, x, Q0)) < 1e-12)  # no intrinsic charm at Q0


def test_truth_set_at_100_gev_is_the_projects_evolution(theory, table, truth_set):
    evolution = load_table(theory.fk_dir / "EVOLUTION.npz")  # the table pdf_evaluate evolves the ensemble with
    q = float(evolution["q"])
    assert q in table["q"].tolist()
    ours = {k: v[0] for k, v in evolve_ensemble(truth_on_grid(evolution["xgrid"])[None], evolution).items()}
    x = evolution["xgrid"][:-1]
    np.testing.assert_allclose(xf_parton(truth_set, 21, x, q), ours["g"][:-1], rtol=1e-7, atol=1e-12)
    sigma = sum(xf_parton(truth_set, p, x, q) + xf_parton(truth_set, -p, x, q) for p in range(1, 6))
    np.testing.assert_allclose(sigma, ours["sigma"][:-1], rtol=1e-7, atol=1e-12)
    # the evolution did something: the small-x gluon grows, the large-x one falls, charm and bottom appear
    assert xf_parton(truth_set, 21, [1e-4, 1e-4], q)[0] > 2 * xf_parton(truth_set, 21, [1e-4, 1e-4], Q0)[0]
    assert xf_parton(truth_set, 21, [0.5, 0.5], q)[0] < 0.5 * xf_parton(truth_set, 21, [0.5, 0.5], Q0)[0]
    assert np.all(xf_parton(truth_set, 5, [1e-3, 1e-2], q) > 0)


@pytest.mark.parametrize("q", [Q0, 10.0, 100.0])
def test_momentum_sum_rule_holds_on_the_grid(truth_set, q):
    x = np.geomspace(1e-5, 0.999, 4000)
    total = sum(xf_parton(truth_set, pid, x, q) for pid in LHAPDF_PIDS)
    momentum = np.trapezoid(total, x)  # x f integrated over x: the momentum fractions
    assert momentum == pytest.approx(1.0, abs=0.01)


def test_nlo_table_is_its_own_evolution():
    """The NLO file is not the LO one: at 100 GeV the small-x gluon of the toy set differs by percents."""
    lo, nlo = (load_table(shipped_theory(order).path) for order in ("LO", "NLO"))
    np.testing.assert_array_equal(lo["q"], nlo["q"])
    gluon = {}
    for name, table in (("LO", lo), ("NLO", nlo)):
        xf = evolved_grids(truth_on_grid(table["xgrid"])[None], table)[0]
        gluon[name] = xf[list(table["q"]).index(100.0), LHAPDF_PIDS.index(21)]
    small_x = lo["xgrid"] < 1e-3
    assert np.all(np.abs(gluon["NLO"][small_x] / gluon["LO"][small_x] - 1) > 0.01)
    assert nlo["alphas"][-1] != pytest.approx(lo["alphas"][-1], rel=1e-4)  # two-loop running


@pytest.mark.slow
@pytest.mark.parametrize("order", list(SHIPPED_THEORIES))
def test_versioned_table_is_what_eko_builds(order):
    """Rebuild the versioned evolution with eko (minutes; a fresh environment compiles eko first, 13-24 min)."""
    theory = shipped_theory(order)
    built = build_lhapdf_evolution(theory.options["theory"], theory.options["lhapdf"]["q_knots"])
    versioned = load_table(theory.path)
    for key in ("q", "nf", "subgrid", "xgrid", "q_knots"):
        np.testing.assert_array_equal(built[key], versioned[key])
    np.testing.assert_allclose(built["operator"], versioned["operator"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(built["alphas"], versioned["alphas"], rtol=1e-12)


def test_thresholds_split_the_grid():
    subgrids = lhapdf_subgrids(OPTIONS["theory"], OPTIONS["lhapdf"]["q_knots"])
    mb = OPTIONS["theory"]["masses"]["b"]
    assert [(grid[0][1], grid[-1][1]) for grid in subgrids] == [(4, 4), (5, 5)]
    assert subgrids[0][-1][0] == subgrids[1][0][0] == mb
    with pytest.raises(ConfigError, match=r"pdf\.lhapdf\.q_knots.*1\.65 to 4\.92 GeV has 3 knot"):
        check_q_knots(OPTIONS["theory"], [3.0, 10.0, 20.0, 50.0])


@pytest.mark.workflow
def test_workflow_sets_read_back(finished_run):
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    name = (config.get("pdf", {}).get("lhapdf", {}) or {}).get("name", OPTIONS["lhapdf"]["name"])
    folder = finished_run / "results" / "pdf" / "lhapdf"
    ensemble = load_ensemble(finished_run / "results" / "pdf" / "ensemble.npz")
    first = ensemble["fit"] == 0
    info = yaml.safe_load((folder / name / f"{name}.info").read_text())
    assert info["NumMembers"] == int(first.sum()) + 1 and info["ErrorType"] == "replicas"
    assert info["Flavors"] == list(LHAPDF_PIDS) and info["QMin"] == pytest.approx(Q0)
    members = [parton.mkPDF(name, k, pdfdir=str(folder)) for k in range(info["NumMembers"])]

    # at Q0, on the fit's output x (not the grid's knots): the fitted functions themselves
    x = ensemble["x_out"][(ensemble["x_out"] > 1e-5) & (ensemble["x_out"] < 0.9)]
    inside = np.isin(ensemble["x_out"], x)
    basis = ensemble["xf_out"][first][:, :, inside]  # x f in the fit basis per replica
    for k, member in enumerate(members[1:]):
        gluon = xf_parton(member, 21, x, Q0)
        np.testing.assert_allclose(gluon, basis[k, 0], rtol=5e-3, atol=1e-4)
        singlet = sum(xf_parton(member, p, x, Q0) + xf_parton(member, -p, x, Q0) for p in range(1, 4))
        np.testing.assert_allclose(singlet, basis[k, 1], rtol=5e-3, atol=1e-4)
    central = xf_parton(members[0], 21, x, Q0)
    np.testing.assert_allclose(central, np.mean([xf_parton(m, 21, x, Q0) for m in members[1:]], axis=0), rtol=1e-9)

    # at the output scale of pdf_evaluate (results/pdf/ensemble_q.npz), on the grid's knots
    with np.load(finished_run / "results" / "pdf" / "ensemble_q.npz") as evolved:
        q, xq = float(evolved["q"]), evolved["x"][:-1]
        for k, member in enumerate(members[1:]):
            np.testing.assert_allclose(xf_parton(member, 21, xq, q), evolved["g"][k, :-1], rtol=1e-7, atol=1e-10)
            uv = xf_parton(member, 2, xq, q) - xf_parton(member, -2, xq, q)
            np.testing.assert_allclose(uv, evolved["uv"][k, :-1], rtol=1e-6, atol=1e-10)

    truth = parton.mkPDF(f"{name}_truth", 0, pdfdir=str(folder))
    xg = ensemble["xgrid"][:-1]
    np.testing.assert_allclose(xf_parton(truth, 21, xg, Q0), basis_array(les_houches_basis(xg))[0], rtol=1e-9)
