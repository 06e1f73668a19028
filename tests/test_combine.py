import csv
import json

import matplotlib.pyplot as plt
import pytest

from ml4hep.combine import limit_rows, write_limits, write_summary
from ml4hep.plots.summary import overview_figure

HIGGS = {
    "display_names": {"cut": "Visible-mass window", "bdt": "BDT (xgboost)"},
    "auc": {"cut": 0.61, "bdt": 0.81},
    "auc_err": {"cut": 0.01, "bdt": 0.02},
    "ams": {"cut": 1.5, "bdt": 2.25},
    "ams_err": {"cut": 0.1, "bdt": 0.2},
    "limits": {
        "cut": {"mu_expected": 9.0, "band": [5.0, 6.5, 9.0, 12.5, 17.0], "significance": 0.21},
        "bdt": {"mu_expected": 3.4, "band": [2.0, 2.5, 3.4, 4.9, 6.8], "significance": 0.52},
    },
    "regression": {"resolution_regressed": 0.14, "resolution_visible": 0.26},
    "parameterised": {
        "mass_left_out": 500.0,
        "auc_parameterised": 0.97,
        "auc_dedicated": 0.96,
        "auc_unparameterised": 0.95,
    },
    "heavy_limits": {
        "300": {"mass": 300.0, "left_out": False, "xsec_band_pb": [1, 2, 3, 4, 5], "significance": 0.1},
        "500": {"mass": 500.0, "left_out": True, "xsec_band_pb": [2, 3, 4, 5, 6]},
    },
}
TOPTAG = {
    "n_test": 1403,
    "display_names": {"bdt": "BDT (substructure)"},
    "taggers": {
        "bdt": {
            "auc": 0.982,
            "auc_err": 0.003,
            "accuracy": 0.93,
            "accuracy_err": 0.01,
            "r30": 427.0,
            "r30_err": 273.0,
            "r50": "inf",
            "r50_err": None,
        }
    },
}


@pytest.fixture
def task_files(tmp_path):
    paths = {}
    for task, metrics in (("higgs", HIGGS), ("toptag", TOPTAG)):
        paths[task] = tmp_path / task / "metrics.json"
        paths[task].parent.mkdir()
        paths[task].write_text(json.dumps(metrics))
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        fig.savefig(tmp_path / task / "key.png")
        plt.close(fig)
    return paths


def test_summary_has_a_section_per_task_with_its_numbers(task_files, tmp_path):
    plots = {task: path.parent / "key.png" for task, path in task_files.items()}
    write_summary(task_files, plots, tmp_path / "summary" / "summary.md", tmp_path / "summary" / "summary.tex")
    md = (tmp_path / "summary" / "summary.md").read_text()
    assert md.index("## Higgs") < md.index("## Top tagging")
    assert "| BDT (xgboost) | 0.810 ± 0.020 | 2.25 ± 0.20 | 3.4 | 0.52 |" in md
    assert "| BDT (substructure) | 0.9820 ± 0.0030 | 0.930 ± 0.010 | 427 ± 273 | inf |" in md
    assert "regressed 0.140, visible 0.260" in md and "parameterised 0.9700" in md
    assert "![Top tagging](../toptag/key.png)" in md
    tex = (tmp_path / "summary" / "summary.tex").read_text()
    assert r"\section*{Higgs H$\to$$\tau$$\tau$ (lep-had)}" in tex
    assert r"0.810 $\pm$ 0.020" in tex


def test_limit_table_holds_every_higgs_and_susy_row(tmp_path):
    exclusion = tmp_path / "exclusion.csv"
    exclusion.write_text(
        "plane,bin,points,fraction_true,fraction_predicted\nm_gluino vs m_LSP,1000-1500 / 0-500,40,0.75,0.7\n"
    )
    metrics = tmp_path / "higgs_metrics.json"
    metrics.write_text(json.dumps(HIGGS))
    rows = limit_rows({"higgs": metrics}, [exclusion])
    write_limits(rows, tmp_path / "l.csv", tmp_path / "l.md", tmp_path / "l.tex", tmp_path / "l.html")
    with open(tmp_path / "l.csv", newline="") as stream:
        table = list(csv.DictReader(stream))
    assert len(table) == 2 + 2 + 1
    bdt = next(r for r in table if r["analysis"].endswith("BDT (xgboost)"))
    assert float(bdt["expected"]) == 3.4 and float(bdt["minus2"]) == 2.0 and float(bdt["significance"]) == 0.52
    heavy = [r for r in table if r["unit"] == "pb"]
    assert [r["parameter"] for r in heavy] == ["m_H = 300 GeV", "m_H = 500 GeV (left out of training)"]
    assert float(heavy[1]["expected"]) == 4.0
    susy = table[-1]
    assert float(susy["expected"]) == 0.7 and float(susy["recast_fraction"]) == 0.75
    assert "1000-1500 / 0-500" in (tmp_path / "l.md").read_text()
    assert r"\end{tabular}" in (tmp_path / "l.tex").read_text()
    html = (tmp_path / "l.html").read_text()  # the report's rendering: one row per limit, cells escaped
    assert html.count("<tr>") == 1 + 5 and "<td>1000-1500 / 0-500</td>" in html and "σ×B" in html


def test_overview_has_one_panel_per_task(task_files, tmp_path):
    plots = {task: path.parent / "key.png" for task, path in task_files.items()}
    overview_figure(plots, [tmp_path / "o.png", tmp_path / "o.pdf"])
    image = plt.imread(tmp_path / "o.png")
    assert image.shape[1] > image.shape[0]  # two panels side by side
    assert (tmp_path / "o.pdf").stat().st_size > 1000
