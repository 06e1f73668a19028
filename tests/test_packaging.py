"""The project's own files agree with each other: pins, the README's commands and CI."""

from __future__ import annotations

import re
import tomllib

import yaml

from .conftest import ROOT


def test_conda_env_pins_equal_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "envs" / "ml4hep.yaml").read_text())
    pip_pins = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(p for p in pip_pins if "==" in p) == sorted(project["dependencies"])
    assert all("==" in d for d in project["dependencies"]), "every dependency is pinned"
    assert "pythia8mc==8.317.2" in project["dependencies"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci_command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci_command in readme
    assert "pytest" in ci_command
    main_command = re.search(r"snakemake --cores all", readme)
    assert main_command, "the README gives the main job's command"


def test_docs_extra_is_pinned_and_in_the_test_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["docs"] and all("==" in d for d in extras["docs"]), "every docs dependency is pinned"
    assert set(extras["docs"]) <= set(extras["test"]), "the test suite builds the docs with the same pins"
