"""The combine step: one summary of every task's headline metrics, one table of all limits, one overview figure.

Everything here is read from the tasks' own outputs (``results/{task}/metrics.json`` and their tables), so a number
in the summary is the number its task computed in this run. Tasks left out of the config are left out here.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ml4hep.tables import Column, latex_cell, latex_lines, markdown_lines, number, with_error, write_table


def display_name(metrics: Mapping[str, Any], name: str) -> str:
    """The label of a model in tables: the task writes its models' display names into its ``metrics.json``."""
    return str((metrics.get("display_names") or {}).get(name, name))


TASK_TITLES = {
    "higgs": "Higgs H→ττ (lep-had)",
    "toptag": "Top tagging",
    "pdf": "PDF replicas (closure test)",
    "susy": "SUSY limits (pMSSM-19 classifier)",
    "susy_active": "SUSY active learning (recast labels on demand)",
    "sbi": "Simulation-based inference (FSR scale from joint likelihood ratios)",
}

Section = tuple[list[dict[str, Any]], list[Column], str | None]


def _get(mapping: Mapping[str, Any] | None, *keys: str) -> Any:
    """``mapping[k1][k2]...`` or None where a level is missing."""
    value: Any = mapping
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def higgs_section(metrics: Mapping[str, Any]) -> Section:
    """Per classifier: AUC, AMS, expected μ limit and significance; the regression and parameterised lines."""
    rows = []
    for name in metrics["auc"]:
        rows.append(
            {
                "name": display_name(metrics, name),
                "auc": metrics["auc"][name],
                "auc_err": _get(metrics, "auc_err", name),
                "ams": metrics["ams"][name],
                "ams_err": _get(metrics, "ams_err", name),
                "mu": _get(metrics, "limits", name, "mu_expected"),
                "z0": _get(metrics, "limits", name, "significance"),
            }
        )
    columns = [
        Column("Classifier", "name", align="l"),
        Column("AUC", lambda r: with_error(r["auc"], r["auc_err"], 3)),
        Column("AMS", lambda r: with_error(r["ams"], r["ams_err"], 2)),
        Column("expected μ limit (95% CL)", lambda r: number(r["mu"])),
        Column("expected Z₀", lambda r: number(r["z0"], 2)),
    ]
    notes = []
    regression = metrics.get("regression")
    if regression:
        notes.append(
            f"Di-τ mass resolution: regressed {regression['resolution_regressed']:.3f}, visible "
            f"{regression['resolution_visible']:.3f}."
        )
    parameterised = metrics.get("parameterised")
    if parameterised:
        notes.append(
            f"At the left-out heavy-Higgs mass {parameterised['mass_left_out']:g} GeV: AUC parameterised "
            f"{parameterised['auc_parameterised']:.4f}, dedicated {parameterised['auc_dedicated']:.4f}, "
            f"without the mass input {parameterised['auc_unparameterised']:.4f}."
        )
    return rows, columns, " ".join(notes) or None


def toptag_section(metrics: Mapping[str, Any]) -> Section:
    """Per tagger: AUC, accuracy, R30 and R50 with bootstrap errors."""
    rows = [{"name": display_name(metrics, name), **m} for name, m in metrics["taggers"].items()]
    columns = [
        Column("Tagger", "name", align="l"),
        Column("AUC", lambda r: with_error(r["auc"], r.get("auc_err"), 4)),
        Column("Accuracy", lambda r: with_error(r["accuracy"], r.get("accuracy_err"), 3)),
        Column("R30", lambda r: with_error(r["r30"], r.get("r30_err"), 0)),
        Column("R50", lambda r: with_error(r["r50"], r.get("r50_err"), 0)),
        Column("1/JSD (εS = 0.5)", lambda r: number(r.get("inverse_jsd"), 3)),
    ]
    notes = [f"{metrics['n_test']} test jets."] if "n_test" in metrics else []
    decorrelation = metrics.get("decorrelation")
    if decorrelation:
        strongest = {
            method: max(scans, key=lambda m: m["strength"])
            for method, scans in decorrelation["decorrelated"].items()
            if scans
        }
        notes.append(
            "Mass-decorrelated, strongest strength (R50, 1/JSD, dCorr² of score and QCD mass): "
            + "; ".join(
                f"{decorrelation['display_names'].get(method, method)} {m['strength']:g}: {number(m['r50'], 3)}, "
                f"{number(m['inverse_jsd'], 3)}, {number(m['distance_correlation'], 2)}"
                for method, m in strongest.items()
            )
            + " (results/toptag/decorrelation.md)."
        )
    return rows, columns, " ".join(notes) or None


def pdf_section(metrics: Mapping[str, Any]) -> Section:
    """Closure estimators, replicas kept and χ² per data point of every dataset."""
    closure = metrics.get("closure", {})
    replicas = metrics.get("replicas", {})
    rows = [
        {"quantity": "theory order", "value": str(metrics.get("theory", {}).get("order", "–"))},
        {"quantity": "closure level", "value": str(closure.get("level", "–"))},
        *_closure_rows(closure),
        {
            "quantity": "replicas kept / requested",
            "value": f"{replicas.get('kept', '–')} / {replicas.get('requested', '–')}",
        },
    ]
    for dataset, chi2 in metrics.get("chi2", {}).items():
        value = chi2 if not isinstance(chi2, Mapping) else chi2.get("central", chi2.get("chi2_per_point"))
        rows.append({"quantity": f"χ²/N {dataset}", "value": number(value)})
    columns = [Column("Quantity", "quantity", align="l"), Column("Value", "value")]
    return rows, columns, "NNPDF4.0 closure test: R_bv = 1.03 ± 0.05, ξ_1σ = 0.69 ± 0.02 (arXiv:2111.05787)."


def _closure_rows(closure: Mapping[str, Any]) -> list[dict[str, str]]:
    """R_bv and ξ_1σ out of sample (held-out datasets, NNPDF4.0's) and in sample, each labelled."""
    samples = [(f" {label}", closure[key]) for key, label in _SAMPLES if closure.get(key)] or [("", closure)]
    return [
        row
        for label, part in samples
        for row in (
            {"quantity": f"bias-variance ratio R_bv{label}", "value": _estimate(part, "r_bv")},
            {"quantity": f"ξ_1σ{label}", "value": _estimate(part, "xi_1sigma")},
        )
    ]


_SAMPLES = (("out_of_sample", "out of sample"), ("in_sample", "in sample"))


def _estimate(closure: Mapping[str, Any], key: str) -> str:
    """A closure estimator with its error when the closure test gives one (several fits)."""
    value, error = closure.get(key), closure.get(f"{key}_err")
    return with_error(value, error, 2) if error is not None else number(value)


def susy_section(metrics: Mapping[str, Any]) -> Section:
    """Per classifier: accuracy overall and at confidence ≥ 0.95 with its coverage."""
    rows = [{"name": display_name(metrics, name), **m} for name, m in metrics["classifiers"].items()]
    columns = [
        Column("Classifier", "name", align="l"),
        Column("Accuracy", lambda r: with_error(r.get("accuracy"), None, 4)),
        Column("Accuracy (conf. ≥ 0.95)", lambda r: with_error(r.get("accuracy_conf95"), None, 4)),
        Column("Coverage (conf. ≥ 0.95)", lambda r: with_error(r.get("coverage_conf95"), None, 3)),
    ]
    seconds = metrics.get("seconds_per_point", {})
    note = f"Fraction of points excluded: {number(metrics.get('fraction_excluded'))}."
    if seconds.get("recast") and seconds.get("classifier"):
        note += (
            f" Time per point: recast {seconds['recast']:.3g} s, classifier {seconds['classifier']:.3g} s "
            f"(speed-up {seconds['recast'] / seconds['classifier']:.3g})."
        )
    headline = metrics.get("headline_classifier")
    if headline in metrics["classifiers"]:
        note += f" First row: {display_name(metrics, headline)}, like for like with SUSY-AI."
    if "confidence" in metrics:
        note += " Confidence calibrated on the validation split (accuracy per P(allowed) bin, as SUSY-AI's)."
    return rows, columns, note + " SUSY-AI (arXiv:1605.02797): 93.2% overall, > 99% at confidence ≥ 0.95."


def susy_active_section(metrics: Mapping[str, Any]) -> Section:
    """The learning curves: per round, the labelled points and each strategy's accuracy overall and at confidence."""
    curves = metrics["curves"]
    strategies = list(curves)
    rows = [
        {"n_labelled": records[0]["n_labelled"], **{s: records[i] for i, s in enumerate(strategies)}}
        for records in zip(*(curves[s] for s in strategies), strict=True)
    ]
    columns = [Column("Labelled points", "n_labelled")]
    for strategy in strategies:
        short = display_name(metrics, strategy).split(" (")[0]
        columns += [
            Column(f"Accuracy, {short}", lambda r, s=strategy: number(r[s].get("accuracy"), 4)),
            Column(f"Conf. ≥ 0.95: accuracy / coverage, {short}", lambda r, s=strategy: _confident(r[s])),
        ]
    reached = metrics.get("active_labels_to_reach_random")
    plan = metrics.get("plan") or [rows[-1]["n_labelled"]]
    note = (
        f"{' vs '.join(display_name(metrics, s) for s in strategies)}; classifier "
        f"{display_name(metrics, metrics.get('classifier', ''))}, {metrics.get('n_test')} test points. "
    )
    note += (
        f"Active learning reaches random sampling's final accuracy with {reached} labels (random: {plan[-1]})."
        if reached is not None
        else "Active learning does not reach random sampling's final accuracy within the budget."
    )
    return rows, columns, note + " The same comparison as Caron et al. (arXiv:1905.08628)."


def _confident(record: Mapping[str, Any]) -> str:
    """Accuracy and coverage among the points with confidence ≥ 0.95."""
    return f"{number(record.get('accuracy_conf95'), 4)} / {number(record.get('coverage_conf95'), 3)}"


def sbi_section(metrics: Mapping[str, Any]) -> Section:
    """Per likelihood-ratio estimator: expected interval widths on θ, their coverage, the gain over CARL."""
    gain = _get(metrics, "width_gain", "carl") or {}
    rows = [
        {"name": display_name(metrics, name), "gain": gain.get(name), **m} for name, m in metrics["estimators"].items()
    ]
    columns = [
        Column("Estimator", "name", align="l"),
        Column("68% width on θ", lambda r: number(r.get("width68"))),
        Column("95% width on θ", lambda r: number(r.get("width95"))),
        Column("coverage 68%", lambda r: number(r.get("coverage68"), 2)),
        Column("coverage 95%", lambda r: number(r.get("coverage95"), 2)),
        Column("CARL width / width", lambda r: number(r.get("gain"))),
    ]
    validation = metrics.get("validation", {})
    note = (
        f"Pseudo-experiments of {metrics.get('events_per_experiment')} e+e- → Z events at θ_true "
        f"{', '.join(f'{t:g}' for t in metrics.get('theta_true', []))} (θ = μ_R / p_T of the final-state shower); "
        f"shower weights against direct samples: χ²/ndf {number(validation.get('chi2_ndf'))}. "
        "The value of gold (arXiv:1805.12244): ROLR and RASCAL regress the joint ratio (and score); ALICES and "
        "CASCAL add the joint score to ALICE's and CARL's cross-entropy; widths are set against the binned truth."
    )
    return rows, columns, note


SECTIONS: dict[str, Callable[[Mapping[str, Any]], Section]] = {
    "higgs": higgs_section,
    "toptag": toptag_section,
    "pdf": pdf_section,
    "susy": susy_section,
    "susy_active": susy_active_section,
    "sbi": sbi_section,
}


def write_summary(
    metrics_paths: Mapping[str, str | Path],
    plots: Mapping[str, str | Path],
    md_path: str | Path,
    tex_path: str | Path,
) -> None:
    """``summary.md`` and ``summary.tex``: one section per task (headline table, note, key plot).

    Args:
        metrics_paths: Task -> its ``metrics.json``, in the order of the sections.
        plots: Task -> its key plot (PNG; linked from the Markdown relative to ``md_path``, and the PDF next to it
            included in the LaTeX).
        md_path: Markdown output.
        tex_path: LaTeX output (a document fragment to include in a report).
    """
    md = [
        "# ml4hep summary",
        "",
        "Every number below was computed in this run on the test split of its task; the definitions are in the "
        "docs (docs/ in the repository).",
        "",
    ]
    tex = []
    for task, path in metrics_paths.items():
        rows, columns, note = SECTIONS[task](json.loads(Path(path).read_text()))
        title = TASK_TITLES.get(task, task)
        md += [f"## {title}", "", *markdown_lines(rows, columns, note), ""]
        tex += [rf"\section*{{{latex_cell(title)}}}", r"\begin{center}", *latex_lines(rows, columns), r"\end{center}"]
        if note:
            tex += [latex_cell(note), ""]
        if task in plots:
            plot = Path(plots[task])
            md += [f"![{title}]({os.path.relpath(plot, Path(md_path).parent)})", ""]
            tex += [
                r"\begin{center}",
                rf"\includegraphics[width=0.6\textwidth]{{{plot.with_suffix('.pdf')}}}",
                r"\end{center}",
            ]
    Path(md_path).parent.mkdir(parents=True, exist_ok=True)
    Path(md_path).write_text("\n".join(md) + "\n")
    Path(tex_path).write_text("\n".join(tex) + "\n")


LIMIT_KEYS = (
    "task",
    "analysis",
    "parameter",
    "quantity",
    "expected",
    "minus2",
    "minus1",
    "plus1",
    "plus2",
    "significance",
    "recast_fraction",
    "unit",
)


def higgs_limit_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Expected μ limits per SM classifier and expected σ×B limits per heavy-Higgs mass."""
    rows = []
    for name, limit in (metrics.get("limits") or {}).items():
        band = limit["band"]
        rows.append(
            {
                "task": "higgs",
                "analysis": f"H(125)→ττ, {display_name(metrics, name)}",
                "parameter": "m_H = 125 GeV",
                "quantity": "μ (95% CL CLs, expected)",
                "expected": band[2],
                "minus2": band[0],
                "minus1": band[1],
                "plus1": band[3],
                "plus2": band[4],
                "significance": limit.get("significance"),
                "unit": "",
            }
        )
    for entry in (metrics.get("heavy_limits") or {}).values():
        band = entry["xsec_band_pb"]
        left_out = " (left out of training)" if entry.get("left_out") else ""
        rows.append(
            {
                "task": "higgs",
                "analysis": "heavy H→ττ, parameterised NN",
                "parameter": f"m_H = {entry['mass']:g} GeV{left_out}",
                "quantity": "σ×B (95% CL CLs, expected)",
                "expected": band[2],
                "minus2": band[0],
                "minus1": band[1],
                "plus1": band[3],
                "plus2": band[4],
                "significance": entry.get("significance"),
                "unit": "pb",
            }
        )
    return rows


def susy_limit_rows(exclusion_csv: str | Path) -> list[dict[str, Any]]:
    """Excluded fraction per mass bin (recast truth and classifier prediction) from the SUSY exclusion table.

    The table has one row per plane and bin with ``plane``, ``bin``, ``fraction_true`` and ``fraction_predicted``
    (and optionally ``points``).
    """
    rows = []
    with open(exclusion_csv, newline="") as stream:
        for entry in csv.DictReader(stream):
            rows.append(
                {
                    "task": "susy",
                    "analysis": f"pMSSM-19 scan, {entry['plane']}",
                    "parameter": entry["bin"],
                    "quantity": "excluded fraction (classifier)",
                    "expected": _float(entry["fraction_predicted"]),
                    "recast_fraction": _float(entry["fraction_true"]),
                    "unit": "",
                }
            )
    return rows


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is None or math.isfinite(value) else None


def limit_rows(metrics_paths: Mapping[str, str | Path], exclusion_csvs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Every limit row of the run: the Higgs task's (when it ran) and the SUSY exclusion tables'."""
    rows = higgs_limit_rows(json.loads(Path(metrics_paths["higgs"]).read_text())) if "higgs" in metrics_paths else []
    for path in exclusion_csvs:
        rows += susy_limit_rows(path)
    return rows


def write_limits(
    rows: Sequence[Mapping[str, Any]],
    csv_path: str | Path,
    md_path: str | Path,
    tex_path: str | Path,
    html_path: str | Path | None = None,
) -> None:
    """The one table of all limits of all tasks (CSV with every number, Markdown, LaTeX and HTML)."""
    columns = [
        Column("Task", "task", align="l"),
        Column("Analysis", "analysis", align="l"),
        Column("Point", "parameter", align="l"),
        Column("Quantity", "quantity", align="l"),
        Column("Expected", lambda r: number(r.get("expected"))),
        Column(
            "−1σ / +1σ",
            lambda r: f"{number(r.get('minus1'))} / {number(r.get('plus1'))}" if r.get("minus1") is not None else "–",
        ),
        Column(
            "−2σ / +2σ",
            lambda r: f"{number(r.get('minus2'))} / {number(r.get('plus2'))}" if r.get("minus2") is not None else "–",
        ),
        Column("Z₀ (exp.)", lambda r: number(r.get("significance"), 2)),
        Column("Recast truth", lambda r: number(r.get("recast_fraction"))),
        Column("Unit", "unit"),
    ]
    write_table(
        [{k: row.get(k) for k in LIMIT_KEYS} for row in rows],
        columns,
        csv=csv_path,
        md=md_path,
        tex=tex_path,
        html=html_path,
        csv_keys=LIMIT_KEYS,
        note="Expected limits from the test-split templates (pyhf, asymptotic CLs); for SUSY, the excluded "
        "fraction of scan points per mass bin predicted by the classifier against the recast truth.",
    )
