"""Chunked columnar split files: ROOT TTrees written basket by basket and read back by entry ranges.

A split file (e.g. ``results/toptag/features/train.root``) holds one TTree ``features`` with one branch per column;
columns with a fixed inner shape (constituents ``(32, 8)``, images ``(1, 16, 16)``) are fixed-size array branches.
It is written by :class:`ChunkedWriter`, ``chunk_size`` rows per basket, and read by :class:`ChunkedSplit`, which
reads ``[start, stop)`` entry ranges of the columns it is asked for, so neither side ever holds more than a few
chunks in memory.

Why ROOT through uproot: it is already the format of the samples and of the scores friend trees (one reader and
one viewer for every file of the workflow), it is columnar (a job reads only the branches it needs: the cut and BDT
taggers never decompress the constituents), it is chunked (baskets, read with ``entry_start``/``entry_stop``), it
is compressed, and uproot writes it incrementally (``extend``) with no dependency beyond the project's; h5py and
pyarrow are not in the environment.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from ml4hep.errors import InputFileError

FEATURES_TREE = "features"
DEFAULT_CHUNK_SIZE = 4096
"""Rows per basket (and per read) when the config does not say otherwise."""
DEFAULT_BUFFER_CHUNKS = 4
"""Chunks shuffled together in one buffer of a shuffled epoch."""
ROW = "__row__"
"""Key of the row numbers (positions in the file) in every chunk yielded by :class:`ChunkedSplit`."""


M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter of the size from which allocations are memory-mapped."""


def limit_heap_growth(threshold: int = 128 * 1024) -> bool:
    """Keep freed chunk buffers from accumulating in the heap of a streaming job (glibc only; else a no-op).

    glibc raises its mmap threshold each time a large block is freed, so that later chunk- and batch-sized buffers
    come from the heap, where fragmentation keeps them resident: a job streaming 16x the jets then ends with a
    larger peak RSS although it holds no more data (measured: +116 MB instead of +17 MB when scoring 70k jets).
    A fixed threshold maps every buffer above ``threshold`` bytes and returns it to the system when freed. The
    streaming rule scripts call this first.

    Returns:
        Whether the setting was applied.
    """
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False


def _branch_types(chunk: Mapping[str, np.ndarray]) -> dict[str, np.dtype]:
    """The TTree branch type of every column (a subarray dtype for fixed inner shapes)."""
    types = {}
    for name, array in chunk.items():
        array = np.asarray(array)
        types[name] = np.dtype((array.dtype, array.shape[1:])) if array.ndim > 1 else array.dtype
    return types


class ChunkedWriter:
    """Write rows to a ``features`` tree ``chunk_size`` rows per basket, atomically (temporary name, renamed).

    Rows are buffered until a full chunk is there, so that baskets have equal sizes whatever the sizes of the
    pieces added (one shard's share of a split, say).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "demo.root"
        >>> with ChunkedWriter(path, chunk_size=2, metadata={"names": "a,b"}) as writer:
        ...     writer.add({"x": np.zeros((3, 2), np.float32), "label": np.arange(3)})
        >>> ChunkedSplit(path).n_rows
        3

    Args:
        path: Output file.
        chunk_size: Rows per basket.
        metadata: Strings stored beside the tree (e.g. column names of a 2-d column).
        template: Empty column arrays giving the branch types, for a file that may receive no rows.
    """

    def __init__(
        self,
        path: str | Path,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        *,
        metadata: Mapping[str, str] | None = None,
        template: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.path = Path(path)
        self.chunk_size = int(chunk_size)
        self.metadata = dict(metadata or {})
        self.template = dict(template or {})
        self.n_rows = 0
        self._buffer: list[dict[str, np.ndarray]] = []
        self._buffered = 0
        self._file: Any = None
        self._tree: Any = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = self.path.with_name(f".{self.path.name}.partial")

    def __enter__(self) -> ChunkedWriter:
        self._file = uproot.recreate(self._partial)
        return self

    def add(self, rows: Mapping[str, np.ndarray]) -> None:
        """Append rows (column -> array, equal first axes)."""
        rows = {name: np.asarray(array) for name, array in rows.items()}
        if not self.template:
            self.template = {name: array[:0] for name, array in rows.items()}
        n = len(next(iter(rows.values())))
        if n == 0:
            return
        self._buffer.append(rows)
        self._buffered += n
        while self._buffered >= self.chunk_size:
            self._flush(self.chunk_size)

    def _flush(self, size: int) -> None:
        """Write the first ``size`` buffered rows as one basket."""
        columns = {name: np.concatenate([piece[name] for piece in self._buffer]) for name in self._buffer[0]}
        chunk = {name: array[:size] for name, array in columns.items()}
        rest = {name: array[size:] for name, array in columns.items()}
        self._buffered -= size
        self._buffer = [rest] if self._buffered else []
        self._extend(chunk)

    def _extend(self, chunk: Mapping[str, np.ndarray]) -> None:
        if self._tree is None:
            self._tree = self._file.mktree(FEATURES_TREE, _branch_types(chunk))
        self._tree.extend(dict(chunk))
        self.n_rows += len(next(iter(chunk.values())))

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        try:
            if kind is None:
                if self._buffered:
                    self._flush(self._buffered)
                if self._tree is None:
                    if not self.template:
                        raise ValueError(f"{self.path}: no rows and no template to give the branch types")
                    self._tree = self._file.mktree(FEATURES_TREE, _branch_types(self.template))
                for key, text in self.metadata.items():
                    self._file[key] = str(text)
            self._file.close()
            if kind is None:
                os.replace(self._partial, self.path)
        finally:
            self._partial.unlink(missing_ok=True)


def write_chunked(
    path: str | Path,
    chunks: Iterable[Mapping[str, np.ndarray]],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    metadata: Mapping[str, str] | None = None,
) -> int:
    """Write an iterable of row chunks with :class:`ChunkedWriter`; returns the number of rows."""
    with ChunkedWriter(path, chunk_size, metadata=metadata) as writer:
        for chunk in chunks:
            writer.add(chunk)
    return writer.n_rows


class ChunkedSplit(Mapping[str, np.ndarray]):
    """One split file read chunk by chunk: a lazy column mapping plus chunked and shuffled iteration.

    ``split[column]`` reads a whole column (meant for the small per-row columns: labels, weights, origin, the
    substructure features); the large ones (constituents, images) are read with :meth:`chunks` or
    :meth:`shuffled_chunks`, whose memory is bounded by ``chunk_size`` x ``buffer_chunks`` rows whatever the size
    of the file. Metadata strings stored beside the tree (e.g. ``substructure_names``, comma-separated) are
    columns too, as arrays of strings.

    Shuffling (:meth:`shuffled_chunks`): the chunk order is permuted, then ``buffer_chunks`` chunks at a time are
    read and their rows permuted together. The permutations of epoch ``e`` come from ``numpy.random.default_rng
    ((seed, e))``, and the epoch counter is the source's state (:meth:`state_dict`), saved in the training
    checkpoint, so that a resumed training draws exactly the batches of an uninterrupted one.

    Args:
        path: The split file.
        chunk_size: Rows per read.
        buffer_chunks: Chunks shuffled together.
        seed: Seed of the shuffling.

    Raises:
        InputFileError: The file is not a split file.
    """

    def __init__(
        self,
        path: str | Path,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        buffer_chunks: int = DEFAULT_BUFFER_CHUNKS,
        seed: int = 0,
    ) -> None:
        self.path = Path(path)
        self.chunk_size = max(int(chunk_size), 1)
        self.buffer_chunks = max(int(buffer_chunks), 1)
        self.seed = int(seed)
        self.epoch = 0
        try:
            self._file = uproot.open(self.path, array_cache=None)  # memory stays that of the chunks read
            self._tree = self._file[FEATURES_TREE]
            self._metadata = {
                key.split(";")[0]: str(self._file[key])
                for key, cls in self._file.classnames().items()
                if cls == "TObjString"
            }
        except (OSError, KeyError, ValueError) as error:
            raise InputFileError(str(path), f"not a split file with a '{FEATURES_TREE}' tree ({error})") from None
        self.columns = tuple(self._tree.keys())
        self.n_rows = int(self._tree.num_entries)
        self._cache: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.columns) + len(self._metadata)

    def __iter__(self) -> Iterator[str]:
        return iter((*self.columns, *self._metadata))

    def __contains__(self, key: object) -> bool:
        return key in self.columns or key in self._metadata

    def __getitem__(self, key: str) -> np.ndarray:
        if key in self._metadata:
            text = self._metadata[key]
            return np.array(text.split(",") if text else [], dtype=str)
        if key not in self.columns:
            raise KeyError(key)
        if key not in self._cache:
            self._cache[key] = self.read([key], 0, self.n_rows)[key]
        return self._cache[key]

    def read(self, columns: Sequence[str], start: int, stop: int) -> dict[str, np.ndarray]:
        """Rows ``[start, stop)`` of ``columns``."""
        if stop <= start:
            return {name: self._empty(name) for name in columns}
        return self._tree.arrays(list(columns), entry_start=int(start), entry_stop=int(stop), library="np")

    def _empty(self, name: str) -> np.ndarray:
        return self._tree.arrays([name], entry_start=0, entry_stop=0, library="np")[name]

    def chunk_ranges(self) -> list[tuple[int, int]]:
        """The ``[start, stop)`` ranges of the chunks, in file order."""
        return [(start, min(start + self.chunk_size, self.n_rows)) for start in range(0, self.n_rows, self.chunk_size)]

    def _chunk(self, columns: Sequence[str], start: int, stop: int) -> dict[str, np.ndarray]:
        return {**self.read(columns, start, stop), ROW: np.arange(start, stop, dtype=np.int64)}

    def chunks(self, columns: Sequence[str]) -> Iterator[dict[str, np.ndarray]]:
        """The rows of ``columns`` chunk by chunk, in file order (with their row numbers under :data:`ROW`)."""
        for start, stop in self.chunk_ranges():
            yield self._chunk(columns, start, stop)

    def shuffled_chunks(self, columns: Sequence[str]) -> Iterator[dict[str, np.ndarray]]:
        """One shuffled epoch: buffers of ``buffer_chunks`` chunks in permuted order, rows permuted in a buffer.

        Every row comes exactly once (row numbers under :data:`ROW`). Starting the iteration advances the epoch
        counter.
        """
        rng = np.random.default_rng((self.seed, self.epoch))
        self.epoch += 1
        ranges = self.chunk_ranges()
        order = rng.permutation(len(ranges))
        for begin in range(0, len(order), self.buffer_chunks):
            parts = [self._chunk(columns, *ranges[i]) for i in order[begin : begin + self.buffer_chunks]]
            buffer = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
            rows = rng.permutation(len(buffer[ROW]))
            yield {name: array[rows] for name, array in buffer.items()}

    def state_dict(self) -> dict[str, int]:
        """The shuffling state (seed and the next epoch), for a training checkpoint."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])

    def reopened(self, *, seed: int | None = None, chunk_size: int | None = None) -> ChunkedSplit:
        """The same file as a new source (own shuffling state), with another seed or chunk size."""
        return ChunkedSplit(
            self.path,
            self.chunk_size if chunk_size is None else chunk_size,
            self.buffer_chunks,
            self.seed if seed is None else seed,
        )

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class SelectedRows(Mapping[str, np.ndarray]):
    """The rows of a :class:`ChunkedSplit` where ``mask`` is true, read chunk by chunk like the split itself.

    It has the split's interface (columns, ``n_rows``, :meth:`chunks`, :meth:`shuffled_chunks`, :meth:`read`,
    the shuffling state, :meth:`reopened`), so that a training streams a selection of a file (the Higgs SM
    events without the heavy-Higgs samples, say) without a copy of it. Chunks are the file's chunks filtered, and
    their row numbers (:data:`ROW`) are positions among the selected rows.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "demo.root"
        >>> _ = write_chunked(path, [{"x": np.arange(6.0)}], chunk_size=4)
        >>> selected = SelectedRows(ChunkedSplit(path, chunk_size=4), np.arange(6) % 2 == 0)
        >>> [chunk["x"].tolist() for chunk in selected.chunks(["x"])], selected.n_rows
        ([[0.0, 2.0], [4.0]], 3)

    Args:
        split: The split file.
        mask: One boolean per row of the file.
    """

    def __init__(self, split: ChunkedSplit, mask: np.ndarray) -> None:
        self.split = split
        self.mask = np.asarray(mask, dtype=bool)
        if len(self.mask) != split.n_rows:
            raise ValueError(f"{split.path}: a selection of {len(self.mask)} rows for a file of {split.n_rows}")
        self.rows = np.flatnonzero(self.mask)
        self.position = np.cumsum(self.mask) - 1
        self.n_rows = len(self.rows)
        self.columns = split.columns
        self.chunk_size = split.chunk_size
        self.path = split.path

    def __len__(self) -> int:
        return len(self.split)

    def __iter__(self) -> Iterator[str]:
        return iter(self.split)

    def __contains__(self, key: object) -> bool:
        return key in self.split

    def __getitem__(self, key: str) -> np.ndarray:
        values = self.split[key]
        return values[self.mask] if key in self.split.columns else values

    def _selected(self, chunk: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        keep = self.mask[chunk[ROW]]
        out = {name: array[keep] for name, array in chunk.items()}
        out[ROW] = self.position[chunk[ROW][keep]]
        return out

    def read(self, columns: Sequence[str], start: int, stop: int) -> dict[str, np.ndarray]:
        """Selected rows ``[start, stop)`` of ``columns`` (positions among the selected rows)."""
        rows = self.rows[start:stop]
        if len(rows) == 0:
            return self.split.read(columns, 0, 0)
        block = self.split.read(columns, int(rows[0]), int(rows[-1]) + 1)
        keep = self.mask[rows[0] : rows[-1] + 1]
        return {name: array[keep] for name, array in block.items()}

    def chunks(self, columns: Sequence[str]) -> Iterator[dict[str, np.ndarray]]:
        """The selected rows of the file's chunks, in file order."""
        for chunk in self.split.chunks(columns):
            yield self._selected(chunk)

    def shuffled_chunks(self, columns: Sequence[str]) -> Iterator[dict[str, np.ndarray]]:
        """The selected rows of one shuffled epoch of the file (:meth:`ChunkedSplit.shuffled_chunks`)."""
        for chunk in self.split.shuffled_chunks(columns):
            yield self._selected(chunk)

    def state_dict(self) -> dict[str, int]:
        """The file's shuffling state."""
        return self.split.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the file's shuffling state."""
        self.split.load_state_dict(state)

    def reopened(self, *, seed: int | None = None, chunk_size: int | None = None) -> SelectedRows:
        """The same selection of a new source of the file (:meth:`ChunkedSplit.reopened`)."""
        return SelectedRows(self.split.reopened(seed=seed, chunk_size=chunk_size), self.mask)

    def close(self) -> None:
        """Close the file."""
        self.split.close()


def is_chunked(split: Any) -> bool:
    """Whether ``split`` is read from disk chunk by chunk (a :class:`ChunkedSplit`, a selection or augmentation)."""
    return isinstance(split, ChunkedSplit | SelectedRows | AugmentedRows)


class AugmentedRows(Mapping[str, np.ndarray]):
    """A chunked source joined with per-row arrays held in memory, read chunk by chunk like the source.

    A training streams its inputs from the file while its per-row targets and loss weights (one number per row,
    computed from the small columns) live in memory; ``extra`` joins such arrays to every chunk (under their own
    names, shadowing a file column of the same name) and ``widen`` appends one per-row value as the last column of
    a 2-d column (the parameterised network's mass parameter, the BDT's regressed mass) without a copy of the file.
    It has the interface of :class:`ChunkedSplit` (so it nests with :class:`SelectedRows`), and row numbers
    (:data:`ROW`) are the source's.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "demo.root"
        >>> _ = write_chunked(path, [{"X": np.zeros((3, 1))}], chunk_size=2)
        >>> rows = AugmentedRows(ChunkedSplit(path, chunk_size=2), {"t": np.arange(3.0)}, widen={"X": np.ones(3)})
        >>> [(c["X"].tolist(), c["t"].tolist()) for c in rows.chunks(["X", "t"])]
        [([[0.0, 1.0], [0.0, 1.0]], [0.0, 1.0]), ([[0.0, 1.0]], [2.0])]

    Args:
        source: A :class:`ChunkedSplit`, :class:`SelectedRows` or another :class:`AugmentedRows`.
        extra: Column -> one value per row of ``source``.
        widen: 2-d column of ``source`` -> one value per row, appended as its last column.
        metadata: Non-row entries replacing or adding to the source's (e.g. the feature names of a widened ``X``).
    """

    def __init__(
        self,
        source: Any,
        extra: Mapping[str, np.ndarray] | None = None,
        *,
        widen: Mapping[str, np.ndarray] | None = None,
        metadata: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.source = source
        self.n_rows = int(source.n_rows)
        self.extra = {name: np.asarray(values) for name, values in (extra or {}).items()}
        self.widen = {name: np.asarray(values) for name, values in (widen or {}).items()}
        self.metadata = dict(metadata or {})
        for name, values in (*self.extra.items(), *self.widen.items()):
            if len(values) != self.n_rows:
                raise ValueError(f"{source.path}: {len(values)} values of {name!r} for {self.n_rows} rows")
        self.columns = (*(c for c in source.columns if c not in self.extra), *self.extra)
        self.chunk_size = source.chunk_size
        self.path = source.path

    def __len__(self) -> int:
        return len(set(self.source) | set(self.extra) | set(self.metadata))

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.source, *self.extra, *self.metadata]))

    def __contains__(self, key: object) -> bool:
        return key in self.extra or key in self.metadata or key in self.source

    def __getitem__(self, key: str) -> np.ndarray:
        if key in self.extra:
            return self.extra[key]
        if key in self.metadata:
            return self.metadata[key]
        if key in self.widen:  # the whole column: meant for small files (tests); training reads chunks
            return np.column_stack([self.source[key], self.widen[key]])
        return self.source[key]

    def _joined(self, chunk: Mapping[str, np.ndarray], columns: Sequence[str]) -> dict[str, np.ndarray]:
        rows = chunk[ROW]
        out = dict(chunk)
        for name, values in self.widen.items():
            if name in out:
                out[name] = np.column_stack([out[name], values[rows]])
        out.update({name: self.extra[name][rows] for name in columns if name in self.extra})
        return out

    def _source_columns(self, columns: Sequence[str]) -> list[str]:
        return [name for name in columns if name not in self.extra]

    def read(self, columns: Sequence[str], start: int, stop: int) -> dict[str, np.ndarray]:
        """Rows ``[start, stop)`` of ``columns``."""
        block = self.source.read(self._source_columns(columns), start, stop)
        n = len(next(iter(block.values()))) if block else max(min(stop, self.n_rows) - start, 0)
        joined = self._joined({**block, ROW: np.arange(start, start + n, dtype=np.int64)}, columns)
        del joined[ROW]
        return joined

    def chunks(self, columns: Sequence[str]) -> Iterator[dict[str, np.ndarray]]:
        """The source's chunks, in file order, with the per-row arrays joined."""
        for chunk in self.source.chunks(self._source_columns(columns)):
            yield self._joined(chunk, columns)

    def shuffled_chunks(self, columns: Sequence[str]) -> Iterator[dict[str, np.ndarray]]:
        """The source's shuffled epoch (:meth:`ChunkedSplit.shuffled_chunks`) with the per-row arrays joined."""
        for chunk in self.source.shuffled_chunks(self._source_columns(columns)):
            yield self._joined(chunk, columns)

    def state_dict(self) -> dict[str, int]:
        """The source's shuffling state."""
        return self.source.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the source's shuffling state."""
        self.source.load_state_dict(state)

    def reopened(self, *, seed: int | None = None, chunk_size: int | None = None) -> AugmentedRows:
        """The same rows of a new source of the file (:meth:`ChunkedSplit.reopened`)."""
        return AugmentedRows(
            self.source.reopened(seed=seed, chunk_size=chunk_size), self.extra, widen=self.widen, metadata=self.metadata
        )

    def close(self) -> None:
        """Close the file."""
        self.source.close()


def column_chunks(source: Any, column: str, index: int | None = None) -> Iterator[np.ndarray]:
    """One column of a chunked source chunk by chunk (``index``: only that column of a 2-d column)."""
    for chunk in source.chunks([column]):
        yield chunk[column] if index is None else chunk[column][:, index]


def read_column(source: Any, column: str, index: int | None = None) -> np.ndarray:
    """One column (or one column of a 2-d column) of a source, read chunk by chunk, or of an in-memory split.

    The memory is that of the result plus one chunk: a job that needs one feature of a file (the visible mass,
    say) never holds the whole feature matrix.
    """
    if not is_chunked(source):
        values = np.asarray(source[column])
        return values if index is None else values[:, index]
    parts = list(column_chunks(source, column, index))
    return np.concatenate(parts) if parts else np.asarray(source.read([column], 0, 0)[column])
