"""The library code a rule script runs: the import closure of the script over the ``ml4hep`` package.

Snakemake reruns a job when one of its inputs changed. Listing the library files a rule uses by hand goes stale as
soon as a module gains an import; :func:`import_closure` instead reads the script with :mod:`ast` and follows every
``import ml4hep.x``, ``from ml4hep.x import y`` (``y`` a function or a submodule) and relative import, at module
level or inside functions, through the package sources. Every package ``__init__.py`` on the way is part of the
closure (importing ``ml4hep.a.b`` runs ``ml4hep/__init__.py`` and ``ml4hep/a/__init__.py``), and so are the data
files a module reads from its own folder: a module that uses ``__file__`` and names a file or folder next to it in a
string literal (``Path(__file__).parent / "data"``) depends on that file or on every file under that folder.

The paths come back relative to a base folder (the workflow's working directory), so a finished project moved to
another folder declares the same inputs and has nothing to rerun.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGE = "ml4hep"


def module_file(name: str, source_root: Path) -> Path | None:
    """The source file of module ``name`` (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``) under ``source_root``."""
    base = source_root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path, source_root: Path) -> str:
    """The dotted name of the module in ``path`` (``a/b/__init__.py`` -> ``a.b``)."""
    parts = list(path.relative_to(source_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(level: int, module: str | None, current: str, is_package: bool) -> str:
    """The absolute name of ``from <level dots><module> import ...`` written in module ``current``."""
    parts = current.split(".") if is_package else current.split(".")[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, module] if module else parts)


def imported_names(tree: ast.AST, current: str = "", is_package: bool = False) -> set[str]:
    """Every module name an import statement of ``tree`` may load, at any depth (functions, ``if`` blocks).

    ``from a import b`` gives both ``a`` and ``a.b`` (``b`` may be a submodule); the caller keeps the names that
    exist as files.

    Args:
        tree: Parsed source.
        current: Dotted name of the module (needed for relative imports).
        is_package: Whether the module is a package ``__init__.py`` (relative imports then start inside it).
    """
    names: set[str] = set()
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(node.level, node.module, current, is_package) if node.level else node.module
            if not base:
                continue
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


_STATEMENT_BLOCKS = ("body", "orelse", "handlers", "finalbody", "cases")


def _statements(tree: ast.AST) -> Iterator[ast.AST]:
    """Every statement of ``tree``, at any depth: an import is a statement, so expressions need no visit."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        for field in _STATEMENT_BLOCKS:
            block = getattr(node, field, None)
            if isinstance(block, list):
                pending.extend(block)


def _parents(name: str) -> Iterator[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``."""
    parts = name.split(".")
    for end in range(1, len(parts) + 1):
        yield ".".join(parts[:end])


def data_files(path: Path, tree: ast.AST) -> list[Path]:
    """Files next to module ``path`` that it reads through ``__file__`` (see the module docstring)."""
    if "__file__" not in path.read_text() or not any(
        isinstance(node, ast.Name) and node.id == "__file__" for node in ast.walk(tree)
    ):
        return []
    found: set[Path] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or not _plain_name(node.value):
            continue
        target = path.parent / node.value
        if target.is_file() and target.suffix != ".py":
            found.add(target)
        elif target.is_dir() and target.name != "__pycache__":
            found.update(
                f
                for f in target.rglob("*")
                if f.is_file() and "__pycache__" not in f.parts and f.suffix not in (".py", ".pyc")
            )
    return sorted(found)


def _plain_name(text: str) -> bool:
    """Whether ``text`` could name a file below a module's folder (no empty, absolute or ``..`` path)."""
    if not text.strip() or len(text) > 200 or "\n" in text or text.startswith(("/", "\\")):
        return False
    return all(part not in ("", ".", "..") for part in text.split("/"))


@functools.cache
def _module_facts(path: Path, mtime_ns: int, current: str, is_package: bool) -> tuple[frozenset[str], tuple[Path, ...]]:
    """What a module (at one version: its mtime) imports and which data files it reads, worked out once.

    A workflow asks for the closure of every rule script when it is parsed, and those closures share most of their
    modules: reading each module's tree once instead of once per closure halves the time of a dry run.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    return frozenset(imported_names(tree, current, is_package)), tuple(data_files(path, tree))


def import_closure(script: Path, source_root: Path, package: str = PACKAGE, without: Iterable[str] = ()) -> list[Path]:
    """The package files that running ``script`` may import or read, recursively.

    Args:
        script: A Python file (a rule script, or a module of the package).
        source_root: Folder holding the package (``src``).
        package: Top-level package whose imports are followed; other imports are ignored.
        without: Dotted module names not followed (nor what only they import): for a rule whose jobs never take
            the code path that imports them lazily (e.g. the other sample set's event builder).

    Raises:
        ValueError: A name in ``without`` is not a module of the package (a stale exclusion after a move).

    Returns:
        Sorted absolute file paths: modules, package ``__init__.py`` files and module data files.
    """
    script, source_root = Path(script).resolve(), Path(source_root).resolve()
    skip = set(without)
    unknown = sorted(name for name in skip if module_file(name, source_root) is None)
    if unknown:
        raise ValueError(f"import_closure of {script.name}: no module {', '.join(unknown)} under {source_root}")
    lookup = functools.cache(lambda name: module_file(name, source_root))
    seen: set[Path] = set()
    files: set[Path] = set()
    pending = [(script, _script_module(script, source_root), False)]
    while pending:
        path, current, is_package = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        names, data = _module_facts(path, path.stat().st_mtime_ns, current, is_package)
        if path != script or _inside(script, source_root):
            files.add(path)
            files.update(data)
        for name in sorted(names):
            if name.split(".")[0] != package:
                continue
            for parent in _parents(name):
                if parent in skip:
                    break
                found = lookup(parent)
                if found is not None and found not in seen:
                    pending.append((found, parent, found.name == "__init__.py"))
    return sorted(files)


def _inside(path: Path, folder: Path) -> bool:
    return folder in path.parents


def _script_module(script: Path, source_root: Path) -> str:
    return module_name(script, source_root) if _inside(script, source_root) else "__main__"


@functools.cache
def _cached_code(script: str, source_root: str, base: str, without: tuple[str, ...]) -> tuple[str, ...]:
    paths = import_closure(Path(script), Path(source_root), without=without)
    return tuple(os.path.relpath(path, base) for path in paths)


def script_code(
    script: str | Path, source_root: str | Path, base: str | Path = ".", without: Iterable[str] = ()
) -> list[str]:
    """The import closure of ``script`` as paths relative to ``base`` (cached: a workflow asks once per script).

    Args:
        script: The rule script.
        source_root: Folder holding the package (``src``).
        base: Folder the paths are relative to (the workflow's working directory).
        without: See :func:`import_closure`.

    Returns:
        Sorted relative paths, e.g. ``["src/ml4hep/__init__.py", "src/ml4hep/errors.py", ...]``.
    """
    return list(
        _cached_code(
            str(Path(script).resolve()),
            str(Path(source_root).resolve()),
            str(Path(base).resolve()),
            tuple(sorted(without)),
        )
    )
