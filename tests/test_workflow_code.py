"""The import closure of rule scripts (ml4hep.workflow_code) on a small fake package and on the real scripts."""

from __future__ import annotations

import os
from pathlib import Path

from ml4hep.workflow_code import import_closure, module_file, script_code

ROOT = Path(__file__).resolve().parents[1]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def fake_project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "src/ml4hep/__init__.py": "",
            "src/ml4hep/errors.py": "",
            "src/ml4hep/io.py": "from ml4hep.errors import Error\n",
            "src/ml4hep/unused.py": "",
            "src/ml4hep/task/__init__.py": "from . import helpers\n",
            "src/ml4hep/task/helpers.py": "import numpy\n",
            "src/ml4hep/task/compute.py": (
                "from typing import TYPE_CHECKING\n"
                "from ..io import read\n"
                "if TYPE_CHECKING:\n    from ml4hep.typing_only import T\n"
                "def heavy():\n    from ml4hep.task import lazy\n    import ml4hep.other.deep\n"
            ),
            "src/ml4hep/task/lazy.py": "from .lazier import x\n",
            "src/ml4hep/task/lazier.py": "",
            "src/ml4hep/typing_only.py": "",
            "src/ml4hep/other/__init__.py": "",
            "src/ml4hep/other/deep.py": "",
            "src/ml4hep/tables/__init__.py": "from pathlib import Path\nDATA = Path(__file__).parent / 'data'\n",
            "src/ml4hep/tables/data/a.csv": "1\n",
            "src/ml4hep/tables/data/sub/b.csv": "2\n",
            "scripts/job.py": "from ml4hep.task.compute import heavy\nfrom ml4hep import tables\nimport os\n",
        },
    )
    return tmp_path


def relative(paths: list[Path], root: Path) -> list[str]:
    return [str(p.relative_to(root / "src" / "ml4hep")) for p in paths]


def test_closure_follows_every_kind_of_import(tmp_path):
    root = fake_project(tmp_path)
    closure = relative(import_closure(root / "scripts/job.py", root / "src"), root)
    assert closure == sorted(
        [
            "__init__.py",
            "errors.py",
            "io.py",
            "task/__init__.py",
            "task/helpers.py",
            "task/compute.py",
            "task/lazy.py",
            "task/lazier.py",
            "typing_only.py",
            "other/__init__.py",
            "other/deep.py",
            "tables/__init__.py",
            "tables/data/a.csv",
            "tables/data/sub/b.csv",
        ]
    )
    assert "unused.py" not in closure and "scripts/job.py" not in closure


def test_without_prunes_a_lazy_branch(tmp_path):
    root = fake_project(tmp_path)
    closure = relative(import_closure(root / "scripts/job.py", root / "src", without=["ml4hep.task.lazy"]), root)
    assert "task/lazy.py" not in closure and "task/lazier.py" not in closure
    assert "task/compute.py" in closure


def test_paths_are_relative_to_the_working_directory(tmp_path):
    root = fake_project(tmp_path)
    code = script_code(root / "scripts/job.py", root / "src", base=root)
    assert code[0] == "src/ml4hep/__init__.py" and all(not os.path.isabs(p) for p in code)
    moved = tmp_path.parent / f"{tmp_path.name}_moved"
    os.rename(root, moved)
    assert script_code(moved / "scripts/job.py", moved / "src", base=moved) == code


def test_closure_sees_an_edit(tmp_path):
    root = fake_project(tmp_path)
    before = relative(import_closure(root / "scripts/job.py", root / "src"), root)
    module = root / "src/ml4hep/task/lazier.py"
    module.write_text("from ml4hep import unused\n")
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 10**9))
    after = relative(import_closure(root / "scripts/job.py", root / "src"), root)
    assert sorted(set(after) - set(before)) == ["unused.py"]


def test_real_scripts():
    src = ROOT / "src"
    assert module_file("ml4hep.susy", src) == src / "ml4hep/susy/__init__.py"
    label = script_code(ROOT / "scripts/susy_label.py", src, base=ROOT)
    assert "src/ml4hep/susy/xsec.py" in label and "src/ml4hep/susy/data/13TeV_gg_nnllfast.csv" in label
    generation = script_code(ROOT / "scripts/generate_sample.py", src, base=ROOT, without=["ml4hep.generate.toptag"])
    assert "src/ml4hep/generate/higgs.py" in generation and "src/ml4hep/generate/toptag.py" not in generation
    assert not any("plots" in path for path in generation)


def test_a_stale_exclusion_is_an_error(tmp_path):
    import pytest

    root = fake_project(tmp_path)
    with pytest.raises(ValueError, match="no module ml4hep.task.gone"):
        import_closure(root / "scripts/job.py", root / "src", without=["ml4hep.task.gone"])
