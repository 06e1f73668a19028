"""Keep the previous outputs of the jobs a run redoes, so that a failed rerun loses no good result.

Snakemake removes a job's outputs when the job starts (and again when it fails), so a rerun after a config or code
change that then fails would leave nothing of the earlier, good result. When a run starts, the workflow hard-links
every existing output of the jobs it will run to ``results/.previous/<path under results>`` (no copy: the data stay
where they are, and the writers replace files by renaming, never in place). When the run ends, successfully or not,
every kept file whose output exists again is dropped; what remains are exactly the earlier outputs of jobs that
failed (or were killed), and the end of the run names them in one line. They are not put back in place: Snakemake
records a failed job's config and code, and would take a restored old file for the result of the new config.

Hidden temporaries (``.{name}.partial``) that a killed writer left of the run's outputs are removed at the end of
the run as well: by then no job of the run is writing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from ml4hep.io import remove_stale_partial

PREVIOUS = Path("results/.previous")
"""Where a run keeps the previous outputs of the jobs it redoes (relative to the working directory)."""


def kept_path(output: str | os.PathLike[str], root: str | os.PathLike[str] = ".") -> Path:
    """Where the previous version of ``output`` is kept.

    Example:
        >>> str(kept_path("results/higgs/metrics.json"))
        'results/.previous/higgs/metrics.json'
    """
    relative = Path(os.path.relpath(Path(root) / output, root))
    if relative.parts[:1] == ("results",):
        relative = Path(*relative.parts[1:])
    return Path(root) / PREVIOUS / relative


def _link(source: Path, target: Path) -> None:
    """A hard link (a copy where the file system has none, e.g. across devices)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def keep_previous(outputs: Iterable[str | os.PathLike[str]], root: str | os.PathLike[str] = ".") -> int:
    """Keep the existing ``outputs`` (of the jobs about to run) under :data:`PREVIOUS`.

    An output that does not exist keeps what an earlier run kept of it (the earlier failure's good file).

    Args:
        outputs: Output files or folders, relative to ``root``.
        root: The working directory.

    Returns:
        How many outputs were kept.
    """
    kept = 0
    for output in outputs:
        source = Path(root) / output
        if not source.exists():
            continue
        target = kept_path(output, root)
        _remove(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, copy_function=_link)
        else:
            _link(source, target)
        kept += 1
    return kept


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def prune_previous(root: str | os.PathLike[str] = ".", outputs: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Drop the kept files whose output exists again, and the temporaries that killed writers left of ``outputs``.

    Args:
        root: The working directory.
        outputs: The outputs of the run's jobs (their temporaries are stale once the run ends; those of other
            outputs may belong to another Snakemake run in the same folder, and are left alone).

    Returns:
        The outputs (relative to ``root``) whose previous version is still kept: a job removed them and did not
        write them again.
    """
    root = Path(root)
    previous = root / PREVIOUS
    for output in outputs:
        remove_stale_partial(root / output)
    if not previous.is_dir():
        return []
    missing = []
    # file by file: a kept folder output (an LHAPDF set) is dropped with the files its new version has again
    for folder, _, files in os.walk(previous):
        for name in files:
            kept = Path(folder) / name
            output = Path("results") / kept.relative_to(previous)
            if (root / output).exists():
                kept.unlink()
            else:
                missing.append(output)
    for folder, _, _ in sorted(os.walk(previous), key=lambda entry: -len(entry[0])):
        if not os.listdir(folder):
            os.rmdir(folder)
    return sorted(missing)


def previous_note(missing: Iterable[Path]) -> str | None:
    """The one line that names the kept previous outputs (None when there are none).

    Example:
        >>> print(previous_note([Path("results/samples/mine/0.root")]))  # doctest: +NORMALIZE_WHITESPACE
        ml4hep: the failed jobs removed 1 good output of an earlier run; it is kept as
        results/.previous/samples/mine/0.root (results/samples/mine/0.root until a rerun succeeds)
    """
    missing = list(missing)
    if not missing:
        return None
    shown = ", ".join(str(path) for path in missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    if len(missing) == 1:
        return (
            f"ml4hep: the failed jobs removed 1 good output of an earlier run; it is kept as {kept_path(missing[0])} "
            f"({shown} until a rerun succeeds)"
        )
    return (
        f"ml4hep: the failed jobs removed {len(missing)} good outputs of an earlier run; they are kept under "
        f"{PREVIOUS}/ ({shown}) until a rerun succeeds"
    )
