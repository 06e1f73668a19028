"""The documentation: the strict MkDocs build, the generated pages, and every snakemake command the docs give."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from ml4hep.config import (
    DEFAULT_CONFIG_PATH,
    consistency_problems,
    load_schema,
    merge_configs,
    read_yaml,
    validate_config,
)
from ml4hep.docs import CONFIG_MARKER, config_reference, main, results_page, schema_keys

from .conftest import ROOT, copy_workflow

DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built with ``mkdocs build --strict`` into a temporary folder, with every HTTP(S) request refused."""
    out = tmp_path_factory.mktemp("site")
    blocked = "http://127.0.0.1:9"  # the discard port: a plugin that fetched anything would fail the build
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "HTTP_PROXY": blocked,
        "HTTPS_PROXY": blocked,
        "http_proxy": blocked,
        "https_proxy": blocked,
        "NO_PROXY": "",
        "no_proxy": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return out


def test_strict_build_writes_every_page(site):
    class Loader(yaml.SafeLoader):
        """mkdocs.yml's own tags (``!relative``) read as plain values."""

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    nav = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)["nav"]  # a SafeLoader subclass

    def pages(entries):
        for entry in entries:
            for value in entry.values():
                yield from pages(value) if isinstance(value, list) else [value]

    for page in pages(nav):
        name = page.removesuffix(".md")
        html = site / ("index.html" if name == "index" else f"{name}/index.html")
        assert html.is_file(), f"{page} was not built"
    listed = set(pages(nav))
    assert {p.name for p in (ROOT / "docs").glob("*.md")} == listed, "every page of docs/ is in the nav and back"
    api = (site / "api" / "index.html").read_text()
    for module in ("ml4hep.models", "ml4hep.training", "ml4hep.io", "ml4hep.config", "ml4hep.stats", "ml4hep.metrics"):
        assert f'id="{module}"' in api, f"{module} is missing from the API reference"


def test_configuration_page_names_every_schema_key(site):
    keys = [key for key, _ in schema_keys()]
    assert len(keys) > 100 and "toptag.models.particlenet.k" in keys and "inputs.<name>.files" in keys
    text = config_reference()
    html = (site / "configuration" / "index.html").read_text()
    assert CONFIG_MARKER in (ROOT / "docs" / "configuration.md").read_text()
    missing = [key for key in keys if f"`{key}`" not in text]
    assert not missing, f"keys missing from the reference: {missing}"
    rendered = [key for key in keys if f"<code>{key.replace('<', '&lt;').replace('>', '&gt;')}</code>" in html]
    assert rendered == keys, f"keys missing from the built page: {sorted(set(keys) - set(rendered))}"
    assert "<code>20261122</code>" in html, "the seed's default is shown"


def test_schema_has_no_stray_keywords():
    """An unquoted comma in a flow mapping (``{description: a, b}``) silently makes a key ``b`` and cuts the text."""
    allowed = {
        "$schema",
        "$defs",
        "$ref",
        "title",
        "description",
        "type",
        "properties",
        "additionalProperties",
        "items",
        "default",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "uniqueItems",
        "minProperties",
        "propertyNames",
        "required",
        "if",
        "then",
        "else",
        "oneOf",
        "anyOf",
        "allOf",
        "not",
    }
    stray = []

    def walk(node, path, named):
        if isinstance(node, dict):
            for key, value in node.items():
                if not named and key not in allowed:
                    stray.append(f"{path}/{key}")
                # below properties/$defs the keys are names, and defaults and enums hold values
                if key not in ("default", "enum", "const"):
                    walk(value, f"{path}/{key}", key in ("properties", "$defs") and not named)
        elif isinstance(node, list):
            for value in node:
                walk(value, path, False)

    walk(load_schema(), "", False)
    assert not stray, f"not JSON-Schema keywords (an unquoted comma in a description?): {stray}"


def test_config_examples_of_the_docs_are_valid():
    """Every ``yaml`` block of the README and the docs is a valid config, merged over the default as Snakemake does."""
    blocks = [
        (path.name, block)
        for path in DOC_FILES
        for block in re.findall(r"^```yaml\n(.*?)^```", path.read_text(), re.S | re.M)
    ]
    assert len(blocks) >= 3
    for name, block in blocks:
        config = validate_config(merge_configs(read_yaml(DEFAULT_CONFIG_PATH), yaml.safe_load(block)))
        assert not consistency_problems(config), (name, block)


def fake_run(folder: Path) -> Path:
    """A results folder with the four tasks' headline metrics and a provenance record."""
    metrics = {
        "higgs": {
            "auc": {"bdt": 0.8123},
            "auc_err": {"bdt": 0.004},
            "ams": {"bdt": 1.234},
            "ams_err": {"bdt": 0.05},
            "limits": {"bdt": {"mu_expected": 0.61, "significance": 2.5}},
            "display_names": {"bdt": "BDT (xgboost)"},
        },
        "toptag": {"taggers": {"pfn": {"auc": 0.9567, "accuracy": 0.891, "r30": 123.0, "r50": 34.0}}, "n_test": 1000},
        "pdf": {
            "theory": {"order": "LO"},
            "closure": {"level": 2, "r_bv": 0.876, "xi_1sigma": 0.74},
            "replicas": {"kept": 19, "requested": 20},
            "chi2": {"BCDMS_NC_NOTFIXED_P_EM-F2": 1.01},
        },
        "susy": {
            "classifiers": {"rf": {"accuracy": 0.9345, "accuracy_conf95": 1.0, "coverage_conf95": 0.217}},
            "fraction_excluded": 0.573,
            "seconds_per_point": {"recast": 0.04, "classifier": 0.0004},
        },
    }
    for task, content in metrics.items():
        (folder / task).mkdir(parents=True)
        (folder / task / "metrics.json").write_text(json.dumps(content))
    provenance = {
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False},
        "date": "2026-12-01T09:00:00+00:00",
        "platform": "Linux-6.1-x86_64",
        "machine": {"hostname": "node7", "processor": "x86_64", "cpus": 2},
        "packages": {"ml4hep": "0.1.0", "torch": "2.13.0"},
        "config_hash": "abc",
        "seed": 7,
        "training": {"toptag/models/pfn": {"device": "cpu", "seed": 1}},
        "rule_times": {"susy/label": {"jobs": 4, "seconds": 80.0}, "combine": {"jobs": 1, "seconds": 2.0}},
    }
    (folder / "provenance.json").write_text(json.dumps(provenance))
    return folder


def test_results_page_from_a_fake_run(tmp_path):
    results = fake_run(tmp_path / "results")
    out = tmp_path / "docs" / "results.md"
    assert main(["results", "--results", str(results), "--out", str(out)]) == 0
    text = out.read_text()
    for expected in (
        "0123456789abcdef0123456789abcdef01234567",
        "2026-12-01T09:00:00+00:00",
        "node7",
        "2 CPUs",
        "torch 2.13.0",
        "BDT (xgboost)",
        "0.812 ± 0.004",
        "0.9567",
        "0.876",
        "19 / 20",
        "0.9345",
        "`susy/label` | 4 | 80.0",
        "## Top tagging",
        "## SUSY limits",
    ):
        assert expected in text, expected
    (results / "toptag" / "metrics.json").unlink()
    assert "## Top tagging" not in results_page(results), "a task without metrics is left out"


def test_results_page_without_a_run_says_how_to_make_it(tmp_path):
    text = results_page(tmp_path)
    assert "No finished run" in text and "python -m ml4hep.docs results" in text
    assert (ROOT / "docs" / "results.md").read_text().startswith("# Results")


def test_no_reference_to_paths_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    offenders = [
        name
        for name in tracked + ["README.md", *(f"docs/{p.name}" for p in (ROOT / "docs").iterdir())]
        if (ROOT / name).is_file()
        and (ROOT / name).suffix in {".md", ".py", ".yaml", ".yml", ".toml", ".smk"}
        and "../" + "shared" in (ROOT / name).read_text(errors="ignore")
    ]
    assert not offenders, offenders


def test_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in re.findall(r"\]\((docs/[\w-]+\.md)", readme):
        assert (ROOT / page).is_file(), page


# --- every snakemake command of the README and the docs, in its own argument order -------------------------------

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
# Commands the docs show failing on purpose, or that need a finished run: a word of the command -> the message.
EXPECTED_ERRORS = {"seedz=3": "unknown config key 'seedz'", "--report": "marked for report but does not exist"}


def doc_commands(text: str) -> list[str]:
    """Every ``snakemake ...`` command in the code blocks and inline code of a Markdown text (comments dropped)."""
    pieces = [line for block in FENCE.findall(text) for line in block.splitlines()]
    pieces += INLINE.findall(FENCE.sub("", text))
    found = []
    for piece in pieces:
        for part in re.split(r"&&|;|\|\|", piece.strip().removeprefix("$ ")):
            words = part.split(" #")[0].split()
            if len(words) > 1 and words[0].rsplit("/", 1)[-1] == "snakemake":
                found.append(" ".join(words))
    return found


def dry_run_arguments(command: str, workdir: Path) -> list[str]:
    """The command's arguments in their order, with ``--cores N`` as ``--cores 1`` and missing config files
    (``my.yaml``) as ``config/test.yaml``; nothing is moved, so a target after ``--configfile`` stays there."""
    words = shlex.split(command)[1:]
    out = []
    for index, word in enumerate(words):
        if index and words[index - 1] in ("--cores", "-c"):
            word = "1"
        elif word.endswith((".yaml", ".yml")) and not (workdir / word).exists():
            word = "config/test.yaml"
        out.append(word)
    return out


def swallowed_targets(arguments: list[str], workdir: Path) -> list[str]:
    """The words Snakemake's own parser takes as config files although they are not config files in ``workdir``."""
    from snakemake.cli import get_argument_parser

    parsed = get_argument_parser().parse_args(arguments)
    return [
        str(path)
        for path in parsed.configfile or []
        if not (path.suffix in (".yaml", ".yml", ".json") and (workdir / path).is_file())
    ]


def test_the_argument_check_catches_a_target_after_configfile(tmp_path):
    copy_workflow(tmp_path)
    bad = dry_run_arguments("snakemake --cores all --configfile my_higgsml.yaml results/higgs/metrics.json", tmp_path)
    assert bad == ["--cores", "1", "--configfile", "config/test.yaml", "results/higgs/metrics.json"]
    assert swallowed_targets(bad, tmp_path) == ["results/higgs/metrics.json"]
    good = dry_run_arguments("snakemake results/higgs/metrics.json --cores all --configfile my.yaml", tmp_path)
    assert swallowed_targets(good, tmp_path) == []


# Snakemake's command line run in one process for several commands (the library imports are paid once; every run
# parses the workflow afresh, and a run's job count equals that of a separate process).
RUNNER = """
import json, sys
from snakemake.cli import main
for index, argv in enumerate(json.loads(sys.argv[1])):
    print(f"@@@ start {index}", file=sys.stderr, flush=True)
    try:
        main(["-n", *argv])
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    print(f"@@@ end {index} {code}", file=sys.stderr, flush=True)
"""


def dry_runs(argument_lists: list[tuple[str, ...]], workdir: Path, workers: int = 2) -> list[tuple[int, str]]:
    """``snakemake -n`` of each argument list in ``workdir``: (exit code, output) each, in the given order."""
    batches = [argument_lists[start::workers] for start in range(workers)]

    def run(batch: list[tuple[str, ...]]) -> list[tuple[int, str]]:
        done = subprocess.run(
            [sys.executable, "-c", RUNNER, json.dumps(batch)],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=1200,
        )
        results = []
        for index in range(len(batch)):
            match = re.search(rf"@@@ start {index}\n(.*?)@@@ end {index} (-?\d+)", done.stdout, re.S)
            assert match, f"the dry runs stopped before command {index}:\n{done.stdout[-3000:]}"
            results.append((int(match.group(2)), match.group(1)))
        return results

    with ThreadPoolExecutor(max_workers=workers) as pool:
        per_batch = list(pool.map(run, batches))
    ordered: list[tuple[int, str]] = [(0, "")] * len(argument_lists)
    for start, results in enumerate(per_batch):
        for offset, result in enumerate(results):
            ordered[start + offset * workers] = result
    return ordered


@pytest.mark.workflow
def test_every_documented_snakemake_command_dry_runs(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    commands = {}
    for path in DOC_FILES:
        for command in doc_commands(path.read_text()):
            commands.setdefault(tuple(dry_run_arguments(command, workdir)), []).append(f"{path.name}: {command}")
    assert (
        len(commands) > 10
        and ("results/higgs/metrics.json", "--cores", "1", "--configfile", "config/test.yaml") in commands
    ), "the HiggsML command is among those checked"
    problems = []
    for arguments, where in commands.items():
        swallowed = swallowed_targets(list(arguments), workdir)
        if swallowed:
            problems.append(f"{where[0]}: {swallowed} would be read as config files (targets go before --configfile)")

    runs = dry_runs(list(commands), workdir)
    for arguments, (code, output) in zip(commands, runs, strict=True):
        expected = [message for word, message in EXPECTED_ERRORS.items() if word in arguments]
        if not (code != 0 and expected[0] in output if expected else code == 0):
            problems.append(
                f"{commands[arguments][0]}: snakemake -n {' '.join(arguments)} gave rc {code}:\n{output[-1500:]}"
            )
    assert not problems, "\n\n".join(problems)
