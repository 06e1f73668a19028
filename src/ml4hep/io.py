"""ROOT input and output with uproot, and the checks that turn bad files into one clear message.

Every reader in ml4hep goes through :func:`read_tree`, which names the file and the problem for a missing file, a
file that is not ROOT or is truncated, a missing tree or branch, and an empty tree. Writers go through
:func:`write_root`, which writes to a temporary name and renames (:func:`atomic_output`), so a killed job never leaves
a partial file that a later rule could consume, and the next write of the same file removes a stale temporary.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import socket
import sys
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from ml4hep.errors import EmptySampleError, InputFileError

EVENTS_TREE = "events"
RUN_TREE = "run"
# Seconds an XRootD operation may take before uproot gives up on it (one attempt; read_tree retries).
REMOTE_TIMEOUT = 60
# XRootD's client keeps a server whose connection failed marked bad for XRD_STREAMERRORWINDOW seconds (1800 by
# default), so every retry within half an hour would fail at once; read_tree's retries wait seconds, so the window
# is set to this unless the user set the variable.
XRD_STREAM_ERROR_WINDOW = 1

log = logging.getLogger(__name__)


class _TransientRemoteError(Exception):
    """A remote read failed in a way that may succeed on a later attempt (timeout, lost connection)."""


def _raise_if_transient(path: str, error: BaseException) -> None:
    """Raise _TransientRemoteError for a remote I/O failure that a retry may cure.

    That is a timeout or a lost connection, not an error the server reported (XRootD codes [3000-3999]: no such
    file, not authorised), nor anything about a local file.
    """
    if not is_remote(path) or not isinstance(error, OSError | ConnectionError | TimeoutError):
        return
    if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
        return
    if "Server responded with an error: [30" in str(error) or "[FATAL] Invalid address" in str(error):
        return
    raise _TransientRemoteError(_short(error)) from error


def is_remote(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a URL (``root://``, ``https://``, ...) rather than a local file."""
    return "://" in str(path) and not str(path).startswith("file://")


def check_output_path(output: str | os.PathLike[str], *inputs: str | os.PathLike[str]) -> Path:
    """Refuse an output that would destroy an input or cannot be written, before any work is done.

    Args:
        output: The file to write.
        *inputs: The files the job reads (an output equal to one of them, through any path, is refused).

    Returns:
        The output as a path.

    Raises:
        OutputPathError: ``output`` is one of the inputs, a folder, or in a folder that cannot be written.

    Example:
        >>> check_output_path("out.root", "in.csv").name
        'out.root'
    """
    from ml4hep.errors import OutputPathError

    path = Path(output)
    for source in inputs:
        if is_remote(source):
            continue
        same = path.exists() and Path(source).exists() and os.path.samefile(path, source)
        if same or path.resolve() == Path(source).resolve():
            raise OutputPathError(str(path), f"is the input file {source}: writing it would destroy the input")
    if path.is_dir():
        raise OutputPathError(str(path), "is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    existing = next((folder for folder in (parent, *parent.parents) if folder.exists()), Path("."))
    if not existing.is_dir():
        raise OutputPathError(str(path), f"cannot be written ({existing} is a file, not a folder)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(str(path), f"cannot be written (no write permission in {existing})")
    return path


def partial_path(path: str | os.PathLike[str]) -> Path:
    """The hidden temporary name a writer of ``path`` writes to before renaming (``.{name}.partial`` beside it).

    Example:
        >>> str(partial_path("results/samples/x/0.root"))
        'results/samples/x/.0.root.partial'
    """
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def remove_stale_partial(path: str | os.PathLike[str]) -> bool:
    """Remove the temporary of ``path`` that a killed write left behind (nothing else writes it: one job, one output).

    Returns:
        Whether there was one.
    """
    partial = partial_path(path)
    if not os.path.lexists(partial):
        return False
    if partial.is_dir() and not partial.is_symlink():
        shutil.rmtree(partial)
    else:
        partial.unlink()
    log.info("%s: removed the temporary file %s left by an interrupted write", path, partial.name)
    return True


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write ``path`` all at once: the block writes the hidden temporary, renamed to ``path`` when it ends cleanly.

    A stale temporary of the same target is removed first; when the block raises (or the process is killed), the
    previous ``path``, if any, is left as it was and no half-written file has its name.

    Yields:
        The temporary path to write.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_output(target) as partial:
        ...     _ = partial.write_text("complete")
        >>> target.read_text(), partial.exists()
        ('complete', False)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partial(path)
    partial = partial_path(path)
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_root(
    path: str | os.PathLike[str],
    trees: Mapping[str, Mapping[str, Any] | Iterable[Mapping[str, Any]]],
) -> Path:
    """Write one or more TTrees to ``path`` atomically (a temporary name, renamed when complete).

    Args:
        path: Output file.
        trees: Tree name -> {branch name -> array}, or an iterable of such chunks (written one basket each, so a
            large conversion never holds the whole sample in memory). Awkward records of jagged arrays become a
            counter branch ``n{name}`` and branches ``{name}_{field}`` (uproot's convention).

    Returns:
        The written path.
    """
    path = Path(path)
    with atomic_output(path) as partial, uproot.recreate(partial) as file:
        for name, content in trees.items():
            chunks = iter([content]) if isinstance(content, Mapping) else iter(content)
            tree = file.mktree(name, dict(next(chunks)))
            for chunk in chunks:
                tree.extend(dict(chunk))
    return path


XROOTD_PORT = 1094
PROBE_TIMEOUT = 10.0
"""Seconds a TCP connection to a remote server may take before the attempt counts as timed out (and is retried)."""


def check_server(url: str, timeout: float | None = None) -> None:
    """Reach the server of a ``root://`` URL once with a plain TCP connection, before the XRootD client does.

    A refused connection or an unknown host cannot be cured by waiting, so it fails at once (the XRootD client
    would retry it for minutes); a timeout may be transient and is left to :func:`read_tree`'s retries.

    Args:
        url: The file's URL.
        timeout: Seconds the connection may take (default :data:`PROBE_TIMEOUT`).

    Raises:
        InputFileError: The connection is refused, or the host is unknown.
        _TransientRemoteError: The connection timed out.
    """
    timeout = PROBE_TIMEOUT if timeout is None else timeout
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("root", "xroot") or not parts.hostname:
        return
    address = (parts.hostname, parts.port or XROOTD_PORT)
    try:
        with socket.create_connection(address, timeout=timeout):
            pass
    except ConnectionRefusedError:
        raise InputFileError(url, f"connection refused by {address[0]}:{address[1]} (no XRootD server there)") from None
    except socket.gaierror as error:
        raise InputFileError(url, f"unknown host {address[0]!r} ({error.strerror})") from None
    except (TimeoutError, OSError) as error:
        problem = f"no answer from {address[0]}:{address[1]} within {timeout:g} s ({error})"
        raise _TransientRemoteError(problem) from error


def _open(path: str) -> Any:
    """Open a ROOT file; raises InputFileError naming the problem (_TransientRemoteError for a remote hiccup)."""
    if is_remote(path):
        check_server(path)
    else:
        if not os.path.exists(path):
            raise InputFileError(path, "file does not exist")
        if os.path.isdir(path):
            raise InputFileError(path, "is a folder, not a ROOT file")
        if os.path.getsize(path) == 0:
            raise InputFileError(path, "file is empty (0 bytes), not a ROOT file")
        with open(path, "rb") as stream:
            magic = stream.read(4)
        if magic != b"root":
            raise InputFileError(path, f"not a readable ROOT file (it starts with {magic!r}, not b'root')")
    try:
        # root:// goes through fsspec-xrootd (uproot's default handler for URLs).
        return uproot.open(path, timeout=REMOTE_TIMEOUT) if is_remote(path) else uproot.open(path)
    except (OSError, ConnectionError, TimeoutError) as error:
        _raise_if_transient(path, error)
        raise InputFileError(path, f"cannot open ({_short(error)})") from error
    except Exception as error:  # uproot raises ValueError, struct.error, ... for non-ROOT bytes
        raise InputFileError(path, f"not a readable ROOT file ({_short(error)})") from error


def _check_complete(path: str, file: Any) -> None:
    """A local file shorter than the end offset in its own header was cut off (e.g. a job killed mid-write)."""
    if is_remote(path):
        return
    expected = int(getattr(file.file, "fEND", 0))
    size = os.path.getsize(path)
    if size < expected:
        raise InputFileError(path, f"truncated ROOT file ({size} bytes, its header says {expected})")


def _short(error: BaseException) -> str:
    """The first line of an exception message, with its type."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def read_tree(
    path: str | os.PathLike[str],
    branches: Sequence[str] | None = None,
    *,
    tree: str = EVENTS_TREE,
    branch_map: Mapping[str, str] | None = None,
    allow_empty: bool = False,
    retries: int = 3,
    retry_wait: float = 1.0,
) -> ak.Array:
    """Read branches of a TTree into an awkward array, with checks.

    Args:
        path: Local path or URL (``root://`` is read through fsspec-xrootd).
        branches: ml4hep branch names to read; all branches when None.
        tree: Tree name.
        branch_map: ml4hep name -> name in the file, for files with other branch names.
        allow_empty: Accept a tree with no entries.
        retries: Extra attempts for a remote file whose opening or reading fails transiently (timeout, lost
            connection); each retry is logged. Errors the server reports (no such file, ...) are not retried.
        retry_wait: Seconds before the first retry (doubled each time).

    Returns:
        Array of records with fields named by the ml4hep names.

    Raises:
        InputFileError: the file is missing, not ROOT, truncated, or lacks the tree or a branch.
        EmptySampleError: the tree has no entries and ``allow_empty`` is False.
    """
    path = str(path)
    branch_map = dict(branch_map or {})
    attempts = retries + 1 if is_remote(path) else 1
    if is_remote(path):
        _prepare_xrootd()
    for attempt in range(attempts):
        try:
            return _read_tree_once(path, branches, tree, branch_map, allow_empty)
        except _TransientRemoteError as error:
            if attempt + 1 == attempts:
                raise InputFileError(path, f"cannot read after {attempts} attempt(s) ({error})") from error
            wait = retry_wait * 2**attempt
            log.warning("%s: %s; retry %d of %d in %.1f s", path, error, attempt + 1, retries, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def _prepare_xrootd() -> None:
    """Make the XRootD client retry a failed server after seconds, not half an hour (see XRD_STREAM_ERROR_WINDOW)."""
    if "XRD_STREAMERRORWINDOW" in os.environ:
        return
    os.environ["XRD_STREAMERRORWINDOW"] = str(XRD_STREAM_ERROR_WINDOW)
    if "XRootD.client" in sys.modules:  # already initialised from the environment: set it in the client too
        from XRootD.client import EnvPutInt

        EnvPutInt("StreamErrorWindow", XRD_STREAM_ERROR_WINDOW)


def _read_tree_once(
    path: str, branches: Sequence[str] | None, tree: str, branch_map: dict[str, str], allow_empty: bool
) -> ak.Array:
    """One attempt of :func:`read_tree`."""
    file = _open(path)
    with file:
        _check_complete(path, file)
        try:
            ttree = file[tree]
        except uproot.KeyInFileError as error:
            trees = sorted({k.split(";")[0] for k, c in file.classnames().items() if c.startswith("TTree")})
            raise InputFileError(path, f"no TTree '{tree}' (trees in the file: {trees or 'none'})") from error
        except Exception as error:
            _raise_if_transient(path, error)
            raise InputFileError(path, f"cannot read TTree '{tree}' ({_short(error)}); truncated file?") from error
        if not isinstance(ttree, uproot.TTree):
            raise InputFileError(path, f"'{tree}' is a {type(ttree).__name__}, not a TTree")
        wanted = list(branches) if branches is not None else [_unmapped(k, branch_map) for k in ttree.keys()]
        in_file = {name: branch_map.get(name, name) for name in wanted}
        missing = [
            f"{name} (as '{source}')" if source != name else name
            for name, source in in_file.items()
            if source not in ttree
        ]
        if missing:
            raise InputFileError(path, f"TTree '{tree}' lacks branch(es) {', '.join(missing)}")
        if ttree.num_entries == 0 and not allow_empty:
            raise EmptySampleError(path, f"TTree '{tree}' has no entries (empty sample)")
        try:
            arrays = ttree.arrays(list(in_file.values()), library="ak", how=dict)
        except Exception as error:
            _raise_if_transient(path, error)
            raise InputFileError(path, f"cannot read TTree '{tree}' ({_short(error)}); truncated file?") from error
    return ak.zip({name: arrays[source] for name, source in in_file.items()}, depth_limit=1)


def _unmapped(file_name: str, branch_map: Mapping[str, str]) -> str:
    """The ml4hep name of a branch named ``file_name`` in a user's file."""
    for ours, theirs in branch_map.items():
        if theirs == file_name:
            return ours
    return file_name


def read_run_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the one-entry ``run`` tree written by the generators (cross section, counts, seed).

    Args:
        path: A generated sample file.

    Returns:
        Branch name -> Python scalar.
    """
    run = read_tree(path, tree=RUN_TREE)
    return {field: _scalar(run[field][0]) for field in run.fields}


def _scalar(value: Any) -> Any:
    """An awkward/numpy scalar as a plain Python value."""
    return value.item() if isinstance(value, np.generic) else value


def read_sample(
    paths: Iterable[str | os.PathLike[str]],
    branches: Sequence[str] | None = None,
    *,
    tree: str = EVENTS_TREE,
    branch_map: Mapping[str, str] | None = None,
    name: str = "sample",
    origin: bool = False,
) -> ak.Array:
    """Read and concatenate the shards of one sample; an empty shard is accepted but an empty sample is not.

    Args:
        paths: The sample's files.
        branches: Branches to read (all when None).
        tree: Tree name.
        branch_map: ml4hep name -> name in the files.
        name: Sample name used in the error message.
        origin: Add the fields ``shard`` (position of the file in ``paths``) and ``entry`` (entry in that file), so
            that derived tables (features, scores) point back to the ntuples.

    Returns:
        The concatenated array.

    Raises:
        EmptySampleError: no file holds any entry.
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise EmptySampleError(name, "sample has no files")
    parts = [read_tree(p, branches, tree=tree, branch_map=branch_map, allow_empty=True) for p in paths]
    total = sum(len(part) for part in parts)
    if total == 0:
        raise EmptySampleError(", ".join(paths), f"sample '{name}' has no entries in any file")
    if origin:
        parts = [
            ak.with_field(
                ak.with_field(part, np.full(len(part), shard, dtype=np.int64), "shard"),
                np.arange(len(part), dtype=np.int64),
                "entry",
            )
            for shard, part in enumerate(parts)
        ]
    return ak.concatenate(parts) if len(parts) > 1 else parts[0]


def to_branches(events: ak.Array) -> dict[str, Any]:
    """Turn an array read by :func:`read_tree` back into branches for :func:`write_root`.

    Jagged branches named ``{collection}_{field}`` are zipped back into one record per collection, so that they are
    written with one shared counter ``n{collection}`` as the generators write them; old counters are dropped.

    Args:
        events: Records with one field per branch.

    Returns:
        Branch name (or collection name) -> array.
    """
    jagged_fields = [f for f in events.fields if events[f].ndim > 1 and "_" in f]
    collections: dict[str, dict[str, ak.Array]] = {}
    for field in jagged_fields:
        prefix, rest = field.split("_", 1)
        collections.setdefault(prefix, {})[rest] = events[field]
    counters = {f"n{prefix}" for prefix in collections}
    branches: dict[str, Any] = {}
    for field in events.fields:
        if field in counters or field in jagged_fields:
            continue
        branches[field] = events[field]
    for prefix, fields in collections.items():
        branches[prefix] = ak.zip(fields)
    return branches


def json_safe(value: Any) -> Any:
    """Strict JSON values, recursively through mappings and sequences.

    An infinity is written as the string ``"inf"`` (or ``"-inf"``), distinct from ``None`` (null: undefined or
    missing, e.g. NaN), so that a reader can tell "no background passes" from "not computed".

    Example:
        >>> json_safe({"r30": float("inf"), "auc": float("nan"), "n": [1.5]})
        {'r30': 'inf', 'auc': None, 'n': [1.5]}
    """
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_json(path: str | os.PathLike[str], content: Any) -> Path:
    """Write ``content`` as indented strict JSON (NaN and infinities as null), all at once (:func:`atomic_output`)."""
    path = Path(path)
    text = json.dumps(json_safe(content), indent=2)
    with atomic_output(path) as partial:
        partial.write_text(text)
    return path
