"""The package's import graph: no cycles (imports inside functions included), and light modules stay light."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

from ml4hep.workflow_code import imported_names, module_name

from .conftest import ROOT

SOURCE = ROOT / "src"


def import_graph() -> dict[str, set[str]]:
    """Module -> the ml4hep modules it imports anywhere in its body (packages' __init__ excluded as edges)."""
    graph = {}
    for path in sorted((SOURCE / "ml4hep").rglob("*.py")):
        name = module_name(path, SOURCE)
        tree = ast.parse(path.read_text())
        imported = imported_names(tree, name, path.name == "__init__.py")
        graph[name] = {
            module
            for module in imported
            if module.startswith("ml4hep.")
            and module != name
            and (SOURCE / module.replace(".", "/")).with_suffix(".py").is_file()
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a list of modules (first = last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return [*stack[stack.index(child) :], child]
            if child not in state and (cycle := visit(child)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def parse_time_modules() -> list[str]:
    """The ml4hep modules that the Snakefile and the rule files import at module level (every workflow parse)."""
    files = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]
    found = {m.group(1) for f in files for m in re.finditer(r"^(?:from|import) (ml4hep[\w.]*)", f.read_text(), re.M)}
    return sorted(found)


def test_parsing_the_workflow_and_the_summary_import_no_heavy_library():
    # Every snakemake call (and every job on a cluster node) parses the workflow: torch, sklearn and xgboost
    # cost seconds each to import, and the combine step must not pull them in through a task module either.
    modules = [*parse_time_modules(), "ml4hep.combine"]
    assert {"ml4hep.toptag.taggers", "ml4hep.higgs.classifiers", "ml4hep.pdf.batches"} <= set(modules)
    heavy = ("torch", "sklearn", "xgboost", "pythia8mc", "eko", "yadism", "fastjet", "scipy", "hep_ml", "onnxruntime")
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], f"a workflow parse imports {loaded}"
