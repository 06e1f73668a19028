"""HEPData records of the run's tables, written with hepdata-lib and checked by its validator.

The record holds the limit tables of the Higgs task (the expected μ limit per classifier, the expected σ×B limit
per heavy-Higgs mass, each with its ±1σ and ±2σ band as asymmetric uncertainties) and the top-tagging table (AUC,
R30 and R50 per tagger with their bootstrap errors). Every number is read from the task's ``metrics.json`` (this
module imports no task code), so the record says exactly what the run measured. The output is what hepdata.net
takes: ``submission.yaml`` and one YAML file per table in a folder, and a ``.tar.gz`` of them beside it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # hepdata-validator 0.3.6 imports jsonschema's deprecated RefResolver API; nothing to act on in this project
    warnings.filterwarnings("ignore", "jsonschema.*(RefResolver|RefResolutionError)", DeprecationWarning)
    from hepdata_lib import Submission, Table, Uncertainty, Variable

TABLE_FILES = {
    "higgs_mu": "higgs_mu_limits.yaml",
    "higgs_heavy": "heavy_higgs_limits.yaml",
    "toptag": "top_tagging_performance.yaml",
}
"""Table -> its file in the record (hepdata-lib names the file after the table's name)."""

COMMENT = (
    "ml4hep workflow run: expected limits and top-tagging performance on simulated (Pythia 8) samples. Every number "
    "is computed on the test split of its task."
)


def _display(metrics: Mapping[str, Any], name: str) -> str:
    return str((metrics.get("display_names") or {}).get(name, name))


def _band_variable(name: str, units: str, bands: list[list[float]]) -> Variable:
    """A dependent variable holding the medians, the ±1σ and ±2σ bands as asymmetric (down, up) uncertainties."""
    variable = Variable(name, is_independent=False, is_binned=False, units=units)
    variable.values = [band[2] for band in bands]
    for label, low, high in (("1 sigma", 1, 3), ("2 sigma", 0, 4)):
        uncertainty = Uncertainty(label, is_symmetric=False)
        uncertainty.values = [(band[low] - band[2], band[high] - band[2]) for band in bands]
        variable.add_uncertainty(uncertainty)
    variable.add_qualifier("CL", "95%")
    variable.add_qualifier("SQRT(S)", 13, "TeV")
    return variable


def higgs_mu_table(metrics: Mapping[str, Any]) -> Table | None:
    """Expected 95% CL CLs limit on the H(125)→ττ signal strength per classifier (None without limits)."""
    limits = metrics.get("limits") or {}
    if not limits:
        return None
    table = Table("Higgs mu limits")
    table.description = (
        "Expected 95% CL CLs upper limits on the signal strength mu of H(125)->tautau (lep-had) per classifier, "
        "from the test-split score templates (pyhf, asymptotic qtilde); uncertainties are the expected 1 and 2 "
        "sigma bands."
    )
    table.location = "results/higgs/limits.csv"
    table.keywords["observables"] = ["MU"]
    table.keywords["reactions"] = ["P P --> H --> TAU+ TAU-"]
    classifier = Variable("Classifier", is_independent=True, is_binned=False)
    classifier.values = [_display(metrics, name) for name in limits]
    table.add_variable(classifier)
    table.add_variable(_band_variable("Expected limit on mu", "", [limits[name]["band"] for name in limits]))
    significance = Variable("Expected significance", is_independent=False, is_binned=False)
    significance.values = [float(limits[name]["significance"]) for name in limits]
    table.add_variable(significance)
    return table


def higgs_heavy_table(metrics: Mapping[str, Any]) -> Table | None:
    """Expected 95% CL CLs limit on σ×B(H→ττ) per heavy-Higgs mass (None without heavy-Higgs limits)."""
    heavy = metrics.get("heavy_limits") or {}
    if not heavy:
        return None
    entries = sorted(heavy.values(), key=lambda entry: entry["mass"])
    table = Table("Heavy Higgs limits")
    table.description = (
        "Expected 95% CL CLs upper limits on sigma x B(H->tautau) of a heavy Higgs boson vs its mass, from the "
        "parameterised network's test-split score templates; uncertainties are the expected 1 and 2 sigma bands."
    )
    table.location = "results/higgs/heavy_limits.csv"
    table.keywords["observables"] = ["SIG*BR"]
    table.keywords["reactions"] = ["P P --> H --> TAU+ TAU-"]
    mass = Variable("Heavy Higgs mass", is_independent=True, is_binned=False, units="GeV")
    mass.values = [float(entry["mass"]) for entry in entries]
    table.add_variable(mass)
    table.add_variable(
        _band_variable("Expected limit on sigma x B", "pb", [entry["xsec_band_pb"] for entry in entries])
    )
    return table


def toptag_table(metrics: Mapping[str, Any]) -> Table | None:
    """AUC, R30 and R50 per tagger with their bootstrap errors (None without taggers)."""
    taggers = metrics.get("taggers") or {}
    if not taggers:
        return None
    table = Table("Top tagging performance")
    table.description = (
        "Top-tagging performance on the test jets: ROC AUC and background rejection 1/eps_B at signal efficiency "
        "0.3 (R30) and 0.5 (R50) per tagger; uncertainties are the standard deviations over bootstrap resamples."
    )
    table.location = "results/toptag/metrics.json"
    table.keywords["observables"] = ["AUC", "1/EFF"]
    table.keywords["reactions"] = ["P P --> TOP TOPBAR X", "P P --> JET JET X"]
    tagger = Variable("Tagger", is_independent=True, is_binned=False)
    tagger.values = [_display(metrics, name) for name in taggers]
    table.add_variable(tagger)
    for key, title in (("auc", "AUC"), ("r30", "R30"), ("r50", "R50")):
        variable = Variable(title, is_independent=False, is_binned=False)
        variable.values = [float(m[key]) for m in taggers.values()]  # "inf" (no background left) -> .inf
        errors = [m.get(f"{key}_err") for m in taggers.values()]
        if any(e is not None for e in errors):
            # a rejection without a bootstrap error (infinite) gets none: hepdata-lib leaves zero errors out
            error = Uncertainty("bootstrap", is_symmetric=True)
            error.values = [float(e) if e is not None else 0.0 for e in errors]
            variable.add_uncertainty(error)
        variable.add_qualifier("SQRT(S)", 14, "TeV")
        table.add_variable(variable)
    return table


TABLES: dict[str, tuple[str, Callable[[Mapping[str, Any]], Table | None]]] = {
    "higgs_mu": ("higgs", higgs_mu_table),
    "higgs_heavy": ("higgs", higgs_heavy_table),
    "toptag": ("toptag", toptag_table),
}
"""Table -> (the task whose metrics.json it reads, its builder)."""


def build_submission(metrics: Mapping[str, Mapping[str, Any]]) -> tuple[Submission, list[str]]:
    """The submission of every table whose task ran; returns it and the tables' keys (of :data:`TABLE_FILES`)."""
    submission = Submission()
    submission.comment = COMMENT
    keys = []
    for key, (task, builder) in TABLES.items():
        table = builder(metrics[task]) if task in metrics else None
        if table is not None:
            submission.add_table(table)
            keys.append(key)
    return submission, keys


def write_record(metrics_paths: Mapping[str, str | Path], outdir: str | Path, archive: str | Path) -> list[str]:
    """Write the validated record: ``submission.yaml`` and the tables into ``outdir``, their tarball to ``archive``.

    The tarball lies outside the folder because the validator rejects a folder holding anything but the record.

    Args:
        metrics_paths: Task -> its ``metrics.json`` (tasks other than ``higgs`` and ``toptag`` are ignored).
        outdir: The record's folder; anything else in it is removed first.
        archive: The ``.tar.gz`` of the record (what hepdata.net's upload takes).

    Returns:
        The keys of the tables written (of :data:`TABLE_FILES`).

    Raises:
        ValueError: If there is no table to write, or hepdata-lib's validator rejects the record.
    """
    metrics = {task: json.loads(Path(path).read_text()) for task, path in metrics_paths.items()}
    submission, keys = build_submission(metrics)
    if not keys:
        raise ValueError("no HEPData table: neither the higgs nor the toptag task is configured")
    outdir, archive = Path(outdir).resolve(), Path(archive).resolve()  # absolute: the work happens in a scratch cwd
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):  # the tarball goes to the cwd
        try:
            submission.create_files(str(outdir), validate=True, remove_old=True)
        except AssertionError as error:  # hepdata-lib reports an invalid record by an assertion
            raise ValueError(f"{outdir}: the HEPData validator rejects the record ({error})") from None
        shutil.move(Path(scratch) / "submission.tar.gz", archive)
    return keys
