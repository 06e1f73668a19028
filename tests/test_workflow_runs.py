"""Workflow tests that run jobs beyond the finished tiny run (a HiggsML CSV through the Higgs rules, the PDF chain
at NLO, a retraining with the same config, the report in a browser): a file of their own, so that the test workers
run them beside tests/test_workflow.py's checks of the finished run."""

from __future__ import annotations

import json
import shutil

import pytest

from ml4hep.config import load_config

from .conftest import TEST_CONFIG, copy_workflow, planned_jobs, run_snakemake
from .test_workflow import write_override

pytestmark = pytest.mark.workflow


def higgsml_csv_from_generated(feature_dir, path):
    """The SM events of the finished run's Higgs event table in the HiggsML challenge's CSV layout."""
    import numpy as np
    import pandas as pd

    from ml4hep.convert import HIGGSML_FEATURES
    from ml4hep.higgs.dataset import load_split

    frames = []
    for split, fraction in (("train", 0.5), ("val", 0.25), ("test", 0.25)):
        data = load_split(feature_dir / f"{split}.root")
        names = [str(n) for n in data["feature_names"]]
        sm = ~np.char.startswith(data["process_names"][data["process"]].astype(str), "higgs_heavyh")
        columns = {name: data["X"][sm, names.index(name)] for name in names}
        # The challenge's MMC mass is not computed here; the collinear mass stands in for it.
        columns["DER_mass_MMC"] = columns["DER_mass_collinear"]
        frame = pd.DataFrame({name: columns[name] for name in HIGGSML_FEATURES})
        frame["Weight"] = data["weight"][sm] * fraction  # undo the split's scaling to the full yield
        frame["Label"] = np.where(data["label"][sm] == 1, "s", "b")
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "EventId", np.arange(100000, 100000 + len(table)))
    table.to_csv(path, index=False)
    return len(table), float(table["Weight"].sum())


def test_higgsml_csv_runs_through_the_higgs_rules(finished_run, tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    n_events, total_weight = higgsml_csv_from_generated(
        finished_run / "results/higgs/features", tmp_path / "higgsml.csv"
    )
    override = write_override(
        workdir,
        "higgsml.yaml",
        {
            "inputs": {
                "higgsml": {"files": [str(tmp_path / "higgsml.csv")], "format": "higgsml_csv", "set": "higgsml"}
            },
            "higgs": {"higgsml": "higgsml"},
        },
    )
    run_snakemake(workdir, "results/higgs/metrics.json", "--cores", "2", "--configfile", "config/test.yaml", override)
    metrics = json.loads((workdir / "results/higgs/metrics.json").read_text())
    assert set(metrics["auc"]) == {"cut", "bdt", "dnn"}
    for name in ("bdt", "dnn"):
        assert metrics["auc"][name] - 2 * metrics["auc_err"][name] > 0.5, name
    assert metrics["regression"] is None and metrics["parameterised"] is None and "heavy_limits" not in metrics
    summary = json.loads((workdir / "results/higgs/features/summary.json").read_text())
    assert summary["higgsml"]["selected_events"] == n_events
    assert summary["higgsml"]["expected_yield"] == pytest.approx(total_weight, rel=1e-9), "the weights written"
    assert not (workdir / "results/logs/generate_sample").exists(), "no generated sample is needed"


def test_pdf_chain_runs_at_nlo_from_the_versioned_tables(finished_run, tmp_path):
    """config/pdf-nlo.yaml switches the theory to NLO: its FK tables are in the repository, so the PDF chain runs
    without eko, the closure uses NLO predictions (different from the LO run's) and the metrics say so."""
    from ml4hep.pdf.theory import settings_hash

    workdir = copy_workflow(tmp_path / "wf")
    result = run_snakemake(
        workdir, "results/pdf/metrics.json", "--cores", "2", "--configfile", "config/test.yaml", "config/pdf-nlo.yaml"
    )
    assert "rule pdf_theory" not in result.stdout
    nlo = json.loads((workdir / "results/pdf/metrics.json").read_text())
    lo = json.loads((finished_run / "results/pdf/metrics.json").read_text())
    expected = settings_hash(load_config(workdir / "config" / "pdf-nlo.yaml")["pdf"]["theory"])
    assert nlo["theory"] == {"order": "NLO", "fk_tables": expected} and lo["theory"]["order"] == "LO"
    assert nlo["closure"]["r_bv"] > 0 and nlo["chi2"] != lo["chi2"]
    assert nlo["chi2"]["BCDMS_NC_NOTFIXED_P_EM-F2"] < 3  # the fitted set (NMC is held out in test.yaml)


def test_the_same_config_gives_the_same_metrics(own_run):
    def headline(path):
        def strip(value):
            if isinstance(value, dict):
                return {k: strip(v) for k, v in value.items() if "second" not in k and "time" not in k}
            return value

        return strip(json.loads(path.read_text()))

    before = headline(own_run / "results/higgs/metrics.json")
    # Retraining every classifier redoes each seeded random step that decides a headline number. The feature rules'
    # reproducibility is checked byte by byte in tests/test_slurm.py, the mass regression's (its folds and its full
    # network retrained with their seeds) in tests/test_higgs_regression.py.
    retrain = ("--forcerun", "higgs_train_baseline", "higgs_train_dnn")
    result = run_snakemake(own_run, "results/higgs/metrics.json", "--cores", "2", *retrain, *TEST_CONFIG)
    rerun = {rule for rule, _ in planned_jobs(result.stdout)}
    assert {"higgs_train_baseline", "higgs_train_dnn", "higgs_evaluate"} <= rerun and "higgs_regression" not in rerun
    assert headline(own_run / "results/higgs/metrics.json") == before


def test_report_shows_the_plots_in_a_browser(own_run, tmp_path):
    from .cluster import ensure_packages

    playwright = pytest.importorskip("playwright.sync_api")
    reason = ensure_packages(("chromium",), ("/usr/bin/chromium",))
    if reason:
        pytest.skip(reason)
    report = own_run / "results" / "report.html"
    run_snakemake(own_run, *TEST_CONFIG, "--report", str(report))
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(report.as_uri())
            widths = {}

            def open_result(category, label):
                # a labelled result's row shows its labels (not its file name); the eye button shows it in place
                page.get_by_text("Results", exact=True).first.click()
                page.get_by_text(category, exact=True).first.click()
                page.locator("tr", has_text=label).first.locator("a[iconname=eye]").click()

            for category, label, plot in (
                ("Top tagging", "ROC curves of the taggers", "roc.png"),
                ("Summary", "overview of the tasks", "overview.png"),
            ):
                open_result(category, label)
                shown = page.locator("img[src^='data:image/png']").first
                shown.wait_for(state="visible", timeout=30_000)
                widths[plot] = shown.evaluate("img => Math.min(img.naturalWidth, img.getBoundingClientRect().width)")
                page.screenshot(path=str(tmp_path / f"report_{plot}"))
            # tables, the resolved config and the provenance are HTML pages shown in an iframe of the report
            pages = {}
            for category, label, expected in (
                ("Higgs", "expected μ limits", "expected μ limit (95% CL)"),
                ("Summary", "all limits", "Recast truth"),
                ("SUSY", "benchmark points of the recast", "borderline"),
                ("Configuration and provenance", "resolved config", "seed: 7"),
                ("Configuration and provenance", "provenance", "config hash"),
            ):
                open_result(category, label)
                frame = page.frame_locator("iframe").first
                frame.get_by_text(expected).first.wait_for(state="visible", timeout=30_000)
                pages[label] = frame.locator("body").inner_text()
            page.screenshot(path=str(tmp_path / "report_provenance.png"))
        finally:
            browser.close()
    assert widths["roc.png"] > 300 and widths["overview.png"] > 300, f"plots rendered in the report: {widths}"
    assert (tmp_path / "report_roc.png").stat().st_size > 20_000
    limits = json.loads((own_run / "results/higgs/limits.json").read_text())
    assert f"{limits['bdt']['mu_expected']:.3g}" in pages["expected μ limits"]  # the table's numbers, rendered
    record = json.loads((own_run / "results/provenance.json").read_text())
    assert record["config_hash"] in pages["provenance"] and record["packages"]["pyhf"] in pages["provenance"]
    assert "bootstrap: 10" in pages["resolved config"]  # the tiny config's values, defaults filled in
