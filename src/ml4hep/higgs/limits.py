"""Expected limits of the SM H->tautau analysis from the test-split score histograms, with pyhf.

Per classifier: the test-split scores are binned with edges taken from the *validation* split (quantiles of its
signal scores, then adjacent bins merged from the low-score end until each holds at least ``min_background_events``
simulated validation background events, so that no bin's background estimate rests on one or two events; the
reporting split tunes nothing), signal and background templates with their MC statistical
errors and a background normalisation uncertainty go into a pyhf model, and the expected 95% CL CLs upper limit on
the signal strength mu (with its ±1σ/±2σ band) and the expected discovery significance are computed.

When the MC errors of the validation binning are too large for a limit at every band quantile (tiny samples), one
inclusive bin is used instead (:func:`binned_limit`; flagged as ``binning`` in the output).

The templates are filled chunk by chunk (:func:`chunked_templates`, ``hist`` histograms with weight storage): the
event columns of the split files (label, weight, process; never the features) and the scores file are read one
chunk of events at a time, so the memory of a limit does not grow with the number of events beyond the one score
per event of the validation split that the quantile edges are taken from. The heavy-Higgs limits stream the
features through the parameterised network the same way.

Every limit is also written as a HistFactory JSON workspace (:func:`limit_workspace`, :mod:`ml4hep.workspaces`)
with its pre- and post-fit yields per bin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.chunked import DEFAULT_CHUNK_SIZE, ROW, ChunkedSplit, is_chunked
from ml4hep.higgs.dataset import open_split, process_mask, read_columns, select_events
from ml4hep.models.scores import read_scores
from ml4hep.stats import build_model, expected_significance, expected_upper_limit, merge_bin_edges
from ml4hep.tables import Column, number, write_table
from ml4hep.workspaces import expected_workspace, write_workspace, write_yield_tables, yield_rows

log = logging.getLogger(__name__)


def score_binning(scores: np.ndarray, labels: np.ndarray, n_bins: int, min_background_events: int) -> np.ndarray:
    """Bin edges: quantiles of the signal scores, merged so every bin has enough simulated background events."""
    signal_scores = scores[labels == 1]
    edges = np.unique(np.quantile(signal_scores, np.linspace(0, 1, n_bins + 1)))
    edges[0], edges[-1] = min(edges[0], scores.min()), max(edges[-1], scores.max()) + 1e-9
    if len(edges) < 2:
        return np.array([scores.min(), scores.max() + 1e-9])
    background_events, _ = np.histogram(scores[labels == 0], bins=edges)
    return merge_bin_edges(edges, background_events.astype(float), float(min_background_events))


def validation_binning(
    val_scores: np.ndarray,
    val_labels: np.ndarray,
    test_scores: np.ndarray,
    test_labels: np.ndarray,
    n_bins: int,
    min_background_events: int,
) -> np.ndarray:
    """Limit bin edges from the validation split, for the test-split templates.

    The edges are :func:`score_binning` of the validation scores; the outer edges are widened to the test scores'
    range (so no test event falls outside), and a test bin without any background event is merged into its
    lower neighbour, because the model is undefined there (:func:`ml4hep.stats.build_model`). That last step only
    removes empty bins; it chooses no edge.
    """
    edges = score_binning(val_scores, val_labels, n_bins, min_background_events)
    edges[0] = min(edges[0], float(test_scores.min()))
    edges[-1] = max(edges[-1], float(test_scores.max()) + 1e-9)
    background_events, _ = np.histogram(test_scores[test_labels == 0], bins=edges)
    return merge_bin_edges(edges, background_events.astype(float), 1.0)


LIMIT_COLUMNS = ("label", "weight", "process")
"""Event columns of the split files that the limits read (never the features)."""


def chunked_templates(
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], edges: np.ndarray
) -> dict[str, np.ndarray]:
    """:func:`ml4hep.stats.histogram_templates` filled from chunks of (scores, labels, weights).

    Each class is a ``hist`` histogram with weight storage (sum of weights and of squared weights per bin),
    filled chunk by chunk; the events outside the edges fall in its flow bins and are dropped, as in
    :func:`~ml4hep.stats.histogram_templates` (the limit edges span every score, so none is). The sums are added
    event by event in the order given, so chunks of any size give exactly the histograms of the whole arrays.

    Example:
        >>> first = np.array([0.1, 0.6]), np.array([0, 1]), np.array([2.0, 1.0])
        >>> second = np.array([0.9]), np.array([1]), np.array([3.0])
        >>> templates = chunked_templates([first, second], np.array([0.0, 0.5, 1.0]))
        >>> templates["signal"].tolist(), templates["background_mc_err"].tolist()
        ([0.0, 4.0], [2.0, 0.0])
    """
    import hist

    edges = np.asarray(edges, dtype=np.float64)
    axis = hist.axis.Variable(edges)
    classes = {key: hist.Hist(axis, storage=hist.storage.Weight()) for key in ("signal", "background")}
    for scores, labels, weights in chunks:
        signal = np.asarray(labels) == 1
        scores, weights = np.asarray(scores, dtype=np.float64), np.asarray(weights, dtype=np.float64)
        # numpy's last bin is closed, hist's is not: a score at the upper edge belongs to the last bin
        scores = np.where(scores == edges[-1], np.nextafter(edges[-1], -np.inf), scores)
        classes["signal"].fill(scores[signal], weight=weights[signal])
        classes["background"].fill(scores[~signal], weight=weights[~signal])
    out: dict[str, np.ndarray] = {}
    for key, histogram in classes.items():
        out[key] = np.asarray(histogram.values(), dtype=np.float64)
        out[f"{key}_mc_err"] = np.sqrt(np.asarray(histogram.variances(), dtype=np.float64))
    return out


def score_chunks(
    split: Any, scores_path: str | Path, split_name: str, mask: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(scores, labels, weights) of a split file's events chunk by chunk, with their scores from the scores file.

    Args:
        split: The split file (:class:`~ml4hep.chunked.ChunkedSplit`).
        scores_path: A scores file with one score per event of ``mask`` (:mod:`ml4hep.models.scores`).
        split_name: The split's name in the scores file.
        mask: The events that were scored (None: every event), e.g. the SM events.
    """
    scores = ScoreReader(scores_path, split_name)
    for chunk in split.chunks(["label", "weight"]):
        keep = np.ones(len(chunk[ROW]), bool) if mask is None else mask[chunk[ROW]]
        yield scores.take(int(keep.sum())), chunk["label"][keep], chunk["weight"][keep]
    scores.close()


class ScoreReader:
    """The scores of one split of a scores file, taken in order, one chunk of entries at a time."""

    def __init__(self, path: str | Path, split_name: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        import uproot

        from ml4hep.models.scores import SCORES_TREE, SPLIT_CODES

        self._file = uproot.open(path)
        self._batches = self._file[SCORES_TREE].iterate(["split", "score"], step_size=chunk_size, library="np")
        self._code = SPLIT_CODES[split_name]
        self._pending = np.zeros(0)

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` scores of the split.

        Raises:
            ValueError: The file has fewer scores of the split.
        """
        while len(self._pending) < n:
            batch = next(self._batches, None)
            if batch is None:
                raise ValueError(f"{self._file.file_path}: fewer scores than events of the split")
            self._pending = np.concatenate([self._pending, batch["score"][batch["split"] == self._code]])
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def classifier_limits(
    val_path: str | Path,
    test_path: str | Path,
    scores: Mapping[str, str | Path],
    heavy: Sequence[str],
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Expected limit on mu and expected significance for every classifier.

    Args:
        val_path: Validation split of the event table (the bin edges, :func:`validation_binning`).
        test_path: Test split of the event table (the templates).
        scores: Classifier -> scores file (``val`` and ``test`` scores of the SM events).
        heavy: Heavy-Higgs samples (not part of the SM analysis).
        options: ``bins``, ``min_background_events``, ``background_norm_uncertainty``.

    Returns:
        Classifier -> {mu_expected, band, significance, edges, signal, background and their MC errors}.
    """
    val = read_columns(val_path, ("label", "process", "process_names"))
    val_labels = val["label"][~process_mask(val, heavy)]
    test = ChunkedSplit(test_path) if Path(test_path).suffix != ".npz" else None
    test_columns = read_columns(test_path, ("label", "process", "process_names"))
    sm = ~process_mask(test_columns, heavy)
    results = {}
    for name, path in scores.items():
        test_scores = read_scores(path, "test")
        edges = validation_binning(
            read_scores(path, "val"),
            val_labels,
            test_scores,
            test_columns["label"][sm],
            int(options["bins"]),
            int(options["min_background_events"]),
        )
        if test is None:  # an .npz split (tests, older runs): its columns are in memory anyway
            weights = read_columns(test_path, ("weight",))["weight"][sm]
            results[name] = binned_limit(test_scores, test_columns["label"][sm], weights, edges, options)
        else:
            results[name] = chunked_limit(lambda p=path: score_chunks(test, p, "test", sm), edges, options)
    if test is not None:
        test.close()
    return results


def binned_limit(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, edges: np.ndarray, options: Mapping[str, Any]
) -> dict[str, Any]:
    """:func:`chunked_limit` of arrays in memory (one chunk)."""
    return chunked_limit(lambda: [(scores, labels, weights)], edges, options)


def chunked_limit(
    chunks: Callable[[], Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]],
    edges: np.ndarray,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """:func:`limit_entry` of the test-split templates in ``edges``, or of one inclusive bin if that fails.

    The templates are filled by :func:`chunked_templates` from ``chunks()`` (called again for the inclusive bin).

    With few simulated events a bin's MC error can be so large that sqrt(q~_mu,A) saturates below a band edge's
    target as mu grows (the shared staterror gamma scales signal and background down together, at a constraint
    cost of at most 1 / sigma_rel^2), so no upper limit exists at that quantile and :func:`expected_upper_limit`
    raises. The inclusive bin has the smallest relative MC error; the fallback is flagged as ``binning:
    "inclusive"`` in the entry (``"validation"`` otherwise) and logged.
    """
    try:
        entry = limit_entry(chunked_templates(chunks(), edges), edges, options)
        return {**entry, "binning": "validation"}
    except RuntimeError as error:
        log.warning("limit in the validation binning failed (%s); one inclusive bin instead", error)
    inclusive = np.array([edges[0], edges[-1]])
    return {
        **limit_entry(chunked_templates(chunks(), inclusive), inclusive, options),
        "binning": "inclusive",
    }


def limit_entry(templates: Mapping[str, np.ndarray], edges: np.ndarray, options: Mapping[str, Any]) -> dict[str, Any]:
    """The expected limit of one set of templates, with everything :func:`limit_workspace` rebuilds it from."""
    model = build_model(**templates, background_norm_uncertainty=float(options["background_norm_uncertainty"]))
    limit = expected_upper_limit(model)
    return {
        "mu_expected": limit["mu_expected"],
        "band": list(map(float, limit["band"])),
        "significance": expected_significance(model),
        "edges": list(map(float, edges)),
        **{key: list(map(float, templates[key])) for key in _TEMPLATE_KEYS},
        "background_norm_uncertainty": float(options["background_norm_uncertainty"]),
    }


_TEMPLATE_KEYS = ("signal", "background", "signal_mc_err", "background_mc_err")


def limit_workspace(entry: Mapping[str, Any], measurement: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The HistFactory workspace of one limit entry and its pre- and post-fit yields per bin.

    The entry is one of :func:`classifier_limits` or :func:`heavy_mass_limits`; the post-fit is at the median
    expected limit. The model is the one the limit was computed from (same templates, MC errors and background
    normalisation), so ``pyhf cls`` of the workspace at mu = ``entry["mu_expected"]`` gives CLs = 0.05.
    """
    model = build_model(
        **{key: entry[key] for key in _TEMPLATE_KEYS},
        background_norm_uncertainty=float(entry["background_norm_uncertainty"]),
    )
    spec = expected_workspace(model, measurement=measurement, poi_max=10.0 * float(entry["band"][-1]))
    rows = yield_rows(model, spec["observations"][0]["data"], entry["edges"], float(entry["mu_expected"]))
    return spec, rows


def write_limit_workspaces(
    limits: Mapping[str, Any], paths: Mapping[str, Sequence[str | Path]], measurement_prefix: str
) -> None:
    """Write every limit's workspace (JSON) and its yields per bin (CSV, Markdown, HTML).

    Args:
        limits: Output of :func:`classifier_limits` or :func:`heavy_mass_limits`.
        paths: Limit key -> (workspace JSON, yields CSV, yields Markdown, yields HTML).
        measurement_prefix: The measurement of limit ``key`` is named ``{measurement_prefix}{key}``.
    """
    for key, (workspace_path, csv_path, md_path, html_path) in paths.items():
        spec, rows = limit_workspace(limits[key], f"{measurement_prefix}{key}")
        write_workspace(workspace_path, spec)
        write_yield_tables(rows, csv_path, md_path, html_path)


def write_limit_tables(
    limits: Mapping[str, Any],
    csv_path: str | Path,
    md_path: str | Path,
    tex_path: str | Path,
    html_path: str | Path | None = None,
) -> None:
    """Expected limits table: median, ±1σ, ±2σ on mu and the expected significance per classifier."""
    from ml4hep.higgs.evaluate import DISPLAY_NAMES

    rows = [
        {
            "classifier": name,
            "mu_expected": v["mu_expected"],
            "minus2": v["band"][0],
            "minus1": v["band"][1],
            "plus1": v["band"][3],
            "plus2": v["band"][4],
            "significance": v["significance"],
        }
        for name, v in limits.items()
    ]
    columns = [
        Column("Classifier", lambda r: DISPLAY_NAMES.get(r["classifier"], r["classifier"]), align="l"),
        Column("expected μ limit (95% CL)", lambda r: number(r["mu_expected"]), latex=r"$\mu_{95}^{\mathrm{exp}}$"),
        Column("−1σ / +1σ", lambda r: f"{number(r['minus1'])} / {number(r['plus1'])}"),
        Column("−2σ / +2σ", lambda r: f"{number(r['minus2'])} / {number(r['plus2'])}"),
        Column("expected Z₀", lambda r: f"{r['significance']:.2f}", latex=r"$Z_0^{\mathrm{exp}}$"),
    ]
    write_table(rows, columns, csv=csv_path, md=md_path, tex=tex_path, html=html_path)


def heavy_mass_limits(
    val_path: str | Path,
    test_path: str | Path,
    model_path: str | Path,
    heavy: Sequence[tuple[str, float]],
    backgrounds: Sequence[str],
    sigma_pb: Mapping[str, float],
    left_out_mass: float,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Expected limits on sigma x BR(H -> tautau) vs the heavy-Higgs mass from the parameterised classifier.

    At each generated mass the parameterised network is evaluated with that mass as its parameter (backgrounds
    included), the test-split score histogram (edges from the validation split, :func:`validation_binning`) gives
    the expected limit on mu, and mu times the generated cross section (Pythia's sigma x BR of the sample) gives
    the limit on sigma x BR.

    Args:
        val_path: Validation split of the event table (the bin edges).
        test_path: Test split of the event table.
        model_path: The parameterised network (:func:`ml4hep.higgs.parameterised.run_parameterised`).
        heavy: (process name, mass) of each heavy-Higgs sample.
        backgrounds: Background process names.
        sigma_pb: Generated cross section (sigma x BR) of each heavy sample in pb.
        left_out_mass: The mass left out of the parameterised training (flagged in the output).
        options: ``bins``, ``min_background_events``, ``background_norm_uncertainty``.

    Returns:
        Mass (as text) -> mu limit and band, sigma x BR limit band in pb, significance, left_out flag.
    """
    from ml4hep.higgs.parameterised import load_network

    model, _ = load_network(model_path)
    val, test = open_split(val_path), open_split(test_path)
    results = {}
    for name, mass in heavy:
        _, val_labels, val_scores = _mass_scores(model, val, name, backgrounds, mass)
        events, labels, scores = _mass_scores(model, test, name, backgrounds, mass)
        edges = validation_binning(
            val_scores, val_labels, scores, labels, int(options["bins"]), int(options["min_background_events"])
        )
        weights = np.asarray(events["weight"])
        entry = chunked_limit(lambda s=scores, y=labels, w=weights: _in_chunks(s, y, w), edges, options)
        results[f"{mass:g}"] = {
            "mass": float(mass),
            **entry,
            "sigma_pb": float(sigma_pb[name]),
            "xsec_band_pb": [float(b) * float(sigma_pb[name]) for b in entry["band"]],
            "left_out": abs(float(mass) - float(left_out_mass)) < 1e-6,
        }
    return results


def _in_chunks(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    for begin in range(0, len(scores), size):
        part = slice(begin, begin + size)
        yield scores[part], labels[part], weights[part]


def _mass_scores(
    model: Any, split: Mapping[str, np.ndarray], name: str, backgrounds: Sequence[str], mass: float
) -> tuple[Mapping[str, np.ndarray], np.ndarray, np.ndarray]:
    """The events of one heavy sample and the backgrounds, their labels and the network's scores at ``mass``.

    A split streamed from disk is scored chunk by chunk (the mass column joined to each chunk's features).
    """
    from ml4hep.higgs.parameterised import with_mass_column
    from ml4hep.training import StreamedBatches, predict

    events = select_events(split, process_mask(split, [name, *backgrounds]))
    labels = process_mask(events, [name]).astype(int)
    inputs = with_mass_column(events if is_chunked(events) else events["X"], mass)
    return events, labels, predict(model, StreamedBatches(inputs, ["X"]) if is_chunked(inputs) else [inputs])


def write_heavy_limit_tables(
    limits: Mapping[str, Any],
    csv_path: str | Path,
    md_path: str | Path,
    tex_path: str | Path,
    html_path: str | Path | None = None,
) -> None:
    """Expected σ×BR limit (median, ±1σ, ±2σ) and μ limit per heavy-Higgs mass, the left-out mass marked."""
    rows = []
    for entry in limits.values():
        band = entry["xsec_band_pb"]
        rows.append(
            {
                "mass_gev": entry["mass"],
                "left_out": entry["left_out"],
                "sigma_pb": entry["sigma_pb"],
                "limit_pb": band[2],
                "minus2_pb": band[0],
                "minus1_pb": band[1],
                "plus1_pb": band[3],
                "plus2_pb": band[4],
                "mu_expected": entry["mu_expected"],
            }
        )
    columns = [
        Column(
            "m_H [GeV]",
            lambda r: f"{r['mass_gev']:g}" + (" (left out of training)" if r["left_out"] else ""),
            latex=r"$m_H$ [GeV]",
            align="l",
        ),
        Column("σ×BR generated [pb]", lambda r: number(r["sigma_pb"]), latex=r"$\sigma\times B$ generated [pb]"),
        Column(
            "expected limit on σ×BR [pb]",
            lambda r: number(r["limit_pb"]),
            latex=r"expected limit on $\sigma\times B$ [pb]",
        ),
        Column("−1σ / +1σ", lambda r: f"{number(r['minus1_pb'])} / {number(r['plus1_pb'])}"),
        Column("−2σ / +2σ", lambda r: f"{number(r['minus2_pb'])} / {number(r['plus2_pb'])}"),
        Column("expected μ limit", lambda r: number(r["mu_expected"])),
    ]
    write_table(rows, columns, csv=csv_path, md=md_path, tex=tex_path, html=html_path)
