"""PDF task on the finished tiny run: the closure estimators in and out of sample, and what their table says."""

from __future__ import annotations

import json

import numpy as np

from ml4hep.pdf.pseudodata import FitInputs


def test_the_tiny_run_reports_the_closure_in_and_out_of_sample(finished_run):
    """The tiny config holds NMC out: its points give the out-of-sample estimators, BCDMS the in-sample ones."""
    folder = finished_run / "results" / "pdf"
    closure = json.loads((folder / "metrics.json").read_text())["closure"]
    inputs = FitInputs.load(folder / "inputs" / "fit0.npz")
    held = ~inputs.fitted_points()
    assert closure["out_of_sample"]["datasets"] == ["NMC_NC_NOTFIXED_P_EM-SIGMARED"]
    assert closure["out_of_sample"]["points"] == int(held.sum()) > 0
    assert closure["in_sample"]["points"] == int((~held).sum())
    assert closure["on"] == "held-out data" and closure["r_bv"] == closure["out_of_sample"]["r_bv"]
    for part in (closure["in_sample"], closure["out_of_sample"]):
        assert np.isfinite(part["r_bv"]) and 0 <= part["xi_1sigma"] <= 1
        assert part["fits"] == 1 and not part["error_includes_fit_scatter"]
    table = (folder / "closure.md").read_text()
    assert "in sample (fitted data)" in table and "out of sample (held-out data)" in table
    assert "leaves out the fit-to-fit scatter" in table  # one closure fit in the tiny config
    assert (folder / "plots" / "closure.png").stat().st_size > 0
