"""Active learning of the SUSY exclusion (Caron, Heskes, Otten, Stienen, arXiv:1905.08628).

The recast (:mod:`ml4hep.susy.recast`) is the slow oracle. Instead of labelling a whole scan, active learning
labels a small random initial set, then repeats: train the classifier on every label so far, score an unlabelled
**pool** of candidate points (only their parameters, cheap), ask the recast for the ``batch`` points the classifier
is least sure of (P(allowed) closest to 0.5) plus a random share, retrain. The **random** strategy labels the same
number of points per round, drawn at random from the same pool, and trains the same classifier with the same seeds:
the two learning curves (test accuracy against the number of labelled points) show how many recast calls the
uncertainty sampling saves.

The workflow runs the steps as rules (``workflow/rules/susy_active.smk``): :func:`pool_job` samples the pool and
labels the initial set, :func:`round_job` is one round for both strategies, :func:`evaluate_job` trains on the last
round's labels and assembles the curves. :func:`learning_curve` runs the same loop in memory for any oracle (the
tests use an analytic toy boundary).

Example:
    >>> import numpy as np
    >>> p = np.array([0.9, 0.52, 0.1, 0.45, 0.7])
    >>> select_batch(p, np.arange(5), 2, 0.0, np.random.default_rng(1)).tolist()
    [1, 3]
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ml4hep.errors import ConfigError, InputFileError
from ml4hep.models import FitContext
from ml4hep.seeds import derive_seed
from ml4hep.susy.classifiers import CALIBRATION_BINS, CLASSIFIERS, feature_names, features, load_split
from ml4hep.susy.confidence import HEADLINE_CONFIDENCE, Calibration, confidence_table, level_key
from ml4hep.susy.scan import PARAMETERS, sample_points
from ml4hep.susy.spectrum import spectrum
from ml4hep.susy.strategies import STRATEGIES

if TYPE_CHECKING:
    from ml4hep.susy.toys import ToyCLs

log = logging.getLogger(__name__)


Oracle = Callable[[np.ndarray], np.ndarray]
"""Labels (1 allowed, 0 excluded) of the pool rows given by an index array."""


def strategy_random_fraction(strategy: str, random_fraction: float) -> float:
    """The random share of a strategy's batch: ``random_fraction`` for ``active``, all of it for ``random``."""
    shares = {"active": float(random_fraction), "random": 1.0}
    if strategy not in shares:
        raise ConfigError(f"unknown active-learning strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    return shares[strategy]


def uncertainty(p_allowed: np.ndarray) -> np.ndarray:
    """How unsure the classifier is: 0.5 - |P(allowed) - 0.5| (0.5 at a coin flip, 0 when unanimous)."""
    return 0.5 - np.abs(np.asarray(p_allowed, dtype=np.float64) - 0.5)


def select_batch(
    p_allowed: np.ndarray,
    candidates: np.ndarray,
    batch: int,
    random_fraction: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The next points to label: the least certain candidates, plus a random share.

    Ties (a forest's vote fractions are multiples of 1/trees) are broken at random, so that a flat region of the
    score is not sampled in the pool's order.

    Args:
        p_allowed: P(allowed) of every pool point.
        candidates: Indices of the pool points not labelled yet.
        batch: Points to choose.
        random_fraction: Share of the batch drawn uniformly from the candidates left after the uncertain ones
            (1: plain random sampling, 0: pure uncertainty sampling).
        rng: The round's generator.

    Returns:
        Indices into the pool (``batch`` of them, or every candidate when there are fewer), uncertain ones first.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    batch = min(int(batch), len(candidates))
    n_random = round(float(random_fraction) * batch)
    shuffled = rng.permutation(candidates)
    order = np.argsort(-uncertainty(np.asarray(p_allowed)[shuffled]), kind="stable")
    uncertain = shuffled[order[: batch - n_random]]
    rest = np.setdiff1d(candidates, uncertain)
    chosen = rng.choice(rest, size=n_random, replace=False) if n_random else np.zeros(0, dtype=np.int64)
    return np.concatenate([uncertain, chosen]).astype(np.int64)


def train_classifier(
    classifier: str,
    hyper: Mapping[str, Any],
    x: np.ndarray,
    allowed: np.ndarray,
    seed: int,
    val_fraction: float = 0.0,
    device: str = "cpu",
) -> Any:
    """A classifier of the SUSY registry trained on the labelled points.

    Args:
        classifier: Name in :data:`ml4hep.susy.classifiers.CLASSIFIERS` (``rf``, ``bdt``, ``mlp``).
        hyper: Its hyper-parameters (the ``susy.<classifier>`` config section).
        x: Inputs of the labelled points.
        allowed: Their labels (1 allowed, 0 excluded).
        seed: Training seed.
        val_fraction: Share of the labelled points held out for early stopping (BDT, MLP); 0 validates on the
            training points (the forest ignores the validation split).
        device: Torch device of a network.

    Returns:
        The trained model (``predict({"X": x})`` gives P(allowed)).
    """
    allowed = np.asarray(allowed).astype(np.int32)
    train_index = np.arange(len(allowed))
    val_index = train_index
    if val_fraction > 0:
        rng = np.random.default_rng(derive_seed(seed, "val"))
        permuted = rng.permutation(len(allowed))
        n_val = max(1, round(val_fraction * len(allowed)))
        val_index, train_index = np.sort(permuted[:n_val]), np.sort(permuted[n_val:])
    model = CLASSIFIERS.create(classifier, hyper)
    splits = {
        name: {"X": x[index], "allowed": allowed[index], "weight": np.ones(len(index))}
        for name, index in (("train", train_index), ("val", val_index))
    }
    model.fit(splits["train"], splits["val"], FitContext(seed=int(seed), device=device, threads=1))
    return model


Points = tuple[np.ndarray, np.ndarray]
"""(inputs, labels 1 allowed / 0 excluded) of a set of points."""


def test_metrics(model: Any, test: Points, validation: Points | None = None) -> dict[str, Any]:
    """Accuracy, and accuracy and coverage at confidence >= 0.95, on the test points.

    The confidence is the SUSY task's (:mod:`ml4hep.susy.confidence`): calibrated on the ``validation`` points (in
    the workflow the SUSY task's validation split), so that the learning curves' "accuracy at confidence >= 0.95"
    means what the SUSY table's does. Without validation points it is the raw |2P - 1| (``confidence`` says which).
    """
    calibration = None
    if validation is not None:
        calibration = Calibration.fit(validation[1], model.predict({"X": validation[0]}), CALIBRATION_BINS)
    table = confidence_table(test[1], model.predict({"X": test[0]}), calibration, levels=(HEADLINE_CONFIDENCE,))
    key = level_key(HEADLINE_CONFIDENCE)
    headline = key if calibration is not None else f"raw_{key}"
    return {
        "accuracy": table["accuracy"],
        "accuracy_conf95": table[f"accuracy_{headline}"],
        "coverage_conf95": table[f"coverage_{headline}"],
        "accuracy_raw_conf95": table[f"accuracy_raw_{key}"],
        "coverage_raw_conf95": table[f"coverage_raw_{key}"],
        "confidence": "calibrated" if calibration is not None else "raw",
    }


def plan(initial: int, batch: int, rounds: int) -> list[int]:
    """Labelled points after each round: ``initial``, ``initial + batch``, ... (``rounds + 1`` entries)."""
    return [int(initial) + k * int(batch) for k in range(int(rounds) + 1)]


def learning_round(
    strategy: str,
    x_pool: np.ndarray,
    labelled: np.ndarray,
    allowed: np.ndarray,
    test: Points,
    settings: Mapping[str, Any],
    train_seed: int,
    select_seed: int,
    validation: Points | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """One round of one strategy: train on the labels so far, measure on the test points, choose the next batch.

    Args:
        strategy: ``active`` or ``random``.
        x_pool: Inputs of every pool point.
        labelled: Pool indices labelled so far.
        allowed: Their labels.
        test: (inputs, labels) of the test points.
        settings: ``classifier``, ``hyper``, ``batch``, ``random_fraction``, ``val_fraction``.
        train_seed: Seed of the training (the same for both strategies in a round).
        select_seed: Seed of the random picks and tie breaks.
        validation: (inputs, labels) the confidence is calibrated on (see :func:`test_metrics`), or None.

    Returns:
        (the round's record: labelled points, test metrics, the batch's mean uncertainty; the pool indices to label
        next).
    """
    model = train_classifier(
        settings["classifier"], settings["hyper"], x_pool[labelled], allowed, train_seed, settings["val_fraction"]
    )
    record: dict[str, Any] = {
        "n_labelled": int(len(labelled)),
        "fraction_allowed": float(np.mean(allowed)),
        **test_metrics(model, test, validation),
    }
    p_pool = model.predict({"X": x_pool})
    candidates = np.setdiff1d(np.arange(len(x_pool)), labelled)
    share = strategy_random_fraction(strategy, settings["random_fraction"])
    chosen = select_batch(p_pool, candidates, settings["batch"], share, np.random.default_rng(select_seed))
    record["batch_mean_uncertainty"] = float(np.mean(uncertainty(p_pool[chosen]))) if len(chosen) else None
    return record, chosen


def learning_curve(
    oracle: Oracle,
    x_pool: np.ndarray,
    test: Points,
    settings: Mapping[str, Any],
    seed: int,
    validation: Points | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Both strategies' whole loop in memory: what the workflow's rules do, for any oracle.

    Args:
        oracle: Labels of pool rows (the recast, or a toy boundary).
        x_pool: Inputs of the pool.
        test: (inputs, labels) of the test points.
        settings: ``classifier``, ``hyper``, ``initial``, ``batch``, ``rounds``, ``random_fraction``,
            ``val_fraction``.
        seed: Seed of the run (the initial set, the trainings and the random picks derive from it as in the
            workflow).
        validation: (inputs, labels) of the points the confidence is calibrated on, or None (raw confidence).

    Returns:
        Strategy -> one record per round (``n_labelled``, ``accuracy``, ``accuracy_conf95``, ``coverage_conf95``...).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(-1, 1, (400, 2))
        >>> def oracle(index):
        ...     return (x[index, 1] > 0.5 * np.sin(3 * x[index, 0])).astype(int)
        >>> settings = dict(classifier="rf", hyper={"n_estimators": 10}, initial=20, batch=10, rounds=2,
        ...                 random_fraction=0.2, val_fraction=0.0)
        >>> curves = learning_curve(oracle, x[:300], (x[300:], oracle(np.arange(300, 400))), settings, seed=3)
        >>> [r["n_labelled"] for r in curves["active"]]
        [20, 30, 40]
    """
    initial = initial_indices(len(x_pool), settings["initial"], derive_seed(seed, "initial"))
    curves: dict[str, list[dict[str, Any]]] = {}
    for strategy in STRATEGIES:
        labelled, allowed = initial, oracle(initial)
        records = []
        for k in range(int(settings["rounds"]) + 1):
            record, chosen = learning_round(
                strategy,
                x_pool,
                labelled,
                allowed,
                test,
                settings,
                derive_seed(seed, "train", k),
                derive_seed(seed, "select", k),
                validation,
            )
            records.append({"round": k, **record})
            if k < int(settings["rounds"]):
                labelled, allowed = np.concatenate([labelled, chosen]), np.concatenate([allowed, oracle(chosen)])
        curves[strategy] = records
    return curves


def initial_indices(pool_size: int, initial: int, seed: int) -> np.ndarray:
    """The random initial set (pool indices), the same for both strategies."""
    if initial > pool_size:
        raise ConfigError(
            f"config key 'susy_active.initial' = {initial} exceeds the {pool_size} pool points with a neutralino LSP "
            "(raise 'susy_active.pool')"
        )
    return np.sort(np.random.default_rng(seed).choice(pool_size, size=int(initial), replace=False)).astype(np.int64)


def labels_to_reach(curve: Sequence[Mapping[str, Any]], target: float) -> int | None:
    """The fewest labelled points at which a curve's accuracy reaches ``target`` (None if it never does)."""
    for record in curve:
        if record["accuracy"] >= target - 1e-12:
            return int(record["n_labelled"])
    return None


# The workflow's jobs: files in, files out.


def build_pool(n: int, seed: int, ranges: Mapping[str, Sequence[float]], inputs: str) -> dict[str, np.ndarray]:
    """Sample ``n`` candidate points with the scan's sampler and keep those the recast can label.

    Points whose LSP is not the lightest neutralino are dropped here: the recast would not label them, and the
    spectrum that tells is a cheap vectorised step, not a recast call.

    Returns:
        The parameters, the classifier inputs ``X``, ``feature_names`` and ``point_id`` (row of the sampled set).
    """
    points = sample_points(n, seed, ranges)
    keep = spectrum(points)["lsp"] == 0
    kept = {name: points[name][keep] for name in PARAMETERS}
    return {
        **kept,
        "X": features(kept, inputs),
        "feature_names": np.array(feature_names(inputs)),
        "point_id": np.flatnonzero(keep).astype(np.int64),
    }


def recast_oracle(
    pool: Mapping[str, np.ndarray],
    recast: Mapping[str, Any],
    overrides: Mapping[tuple[str, str], Any] | None = None,
    toys: ToyCLs | None = None,
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The recast as an oracle of pool rows: (labels 1 allowed / 0 excluded, recast seconds per point).

    ``overrides`` and ``toys`` are the SUSY task's (the Pythia8 efficiency grid, the toy CLs), so that the oracle
    labels as the task's dataset is labelled.
    """
    from ml4hep.susy.recast import EXCLUDED, label_points

    def label(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(index) == 0:
            return np.zeros(0, dtype=np.int32), np.zeros(0)
        columns = label_points(
            {name: np.asarray(pool[name])[index] for name in PARAMETERS},
            recast["signal_regions"],
            recast["luminosity_fb"],
            recast["min_signal_events"],
            recast["xsec_order"],
            overrides=overrides or {},
            toys=toys,
        )
        return (columns["excluded"] != EXCLUDED).astype(np.int32), columns["seconds"]

    return label


def write_labelled(path: str | os.PathLike[str], labelled: Mapping[str, np.ndarray]) -> None:
    """A strategy's labelled set: ``index`` (pool rows), ``allowed``, ``round`` (when labelled), ``seconds``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{k: np.asarray(v) for k, v in labelled.items()})


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """An ``.npz`` of this task (``allow_pickle=False``)."""
    if not os.path.exists(path):
        raise InputFileError(str(path), "file does not exist")
    return load_split(path)


def pool_job(
    options: Mapping[str, Any],
    ranges: Mapping[str, Sequence[float]],
    inputs: str,
    recast: Mapping[str, Any],
    seeds: Mapping[str, int],
    pool_path: str | os.PathLike[str],
    labelled_paths: Mapping[str, str | os.PathLike[str]],
    overrides: Mapping[tuple[str, str], Any] | None = None,
    toys: ToyCLs | None = None,
) -> dict[str, Any]:
    """Rule susy_active_pool: sample the pool, label the random initial set (round 0 of both strategies).

    Args:
        options: The ``susy_active`` config section.
        ranges: ``susy.scan.ranges``.
        inputs: ``susy.inputs``.
        recast: ``susy.recast``.
        seeds: ``pool`` and ``initial`` seeds.
        pool_path: Pool ``.npz``.
        labelled_paths: Strategy -> its round-0 labelled set.
        overrides: Efficiencies replacing the recast's parametrisation (the Pythia8 grid), or None.
        toys: The toy CLs of the small-background regions, or None.

    Returns:
        Summary: points sampled, pool size, initial labels and their recast time.
    """
    pool = build_pool(int(options["pool"]), seeds["pool"], ranges, inputs)
    size = len(pool["point_id"])
    needed = int(options["initial"]) + int(options["rounds"]) * int(options["batch"])
    if needed > size:
        raise ConfigError(
            f"config key 'susy_active': initial + rounds x batch = {needed} labels exceed the {size} pool points with "
            f"a neutralino LSP (of {options['pool']} sampled); raise 'susy_active.pool' or lower the budget"
        )
    Path(pool_path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(pool_path, **pool)
    index = initial_indices(size, int(options["initial"]), seeds["initial"])
    allowed, seconds = recast_oracle(pool, recast, overrides, toys)(index)
    for path in labelled_paths.values():
        write_labelled(path, {"index": index, "allowed": allowed, "round": np.zeros(len(index)), "seconds": seconds})
    return {
        "sampled": int(options["pool"]),
        "pool": size,
        "initial": int(len(index)),
        "initial_fraction_allowed": float(allowed.mean()) if len(allowed) else None,
        "recast_seconds_per_point": float(seconds.mean()) if len(seconds) else None,
    }


def _settings(options: Mapping[str, Any], hyper: Mapping[str, Any]) -> dict[str, Any]:
    return {**options, "hyper": dict(hyper)}


def _points(path: str | os.PathLike[str], pool: Mapping[str, np.ndarray]) -> Points:
    """A split of the SUSY task (test or validation), checked to have the pool's inputs."""
    split = read_npz(path)
    if [str(f) for f in split["feature_names"]] != [str(f) for f in pool["feature_names"]]:
        raise InputFileError(str(path), "the split's inputs differ from the pool's (susy.inputs changed?)")
    return split["X"], split["allowed"]


def round_job(
    round_number: int,
    options: Mapping[str, Any],
    hyper: Mapping[str, Any],
    recast: Mapping[str, Any],
    seeds: Mapping[str, int],
    pool_path: str | os.PathLike[str],
    test_path: str | os.PathLike[str],
    val_path: str | os.PathLike[str],
    previous: Mapping[str, str | os.PathLike[str]],
    outputs: Mapping[str, str | os.PathLike[str]],
    overrides: Mapping[tuple[str, str], Any] | None = None,
    toys: ToyCLs | None = None,
) -> dict[str, Any]:
    """Rule susy_active_round: round ``k`` of both strategies, from the labelled sets of round ``k - 1``.

    Each strategy trains on its labels, is measured on the test split, chooses its batch from the pool and has the
    recast label it. The record of round ``k - 1`` (the training's labelled points and test metrics) is returned.

    Args:
        round_number: ``k`` (1, 2, ...).
        options: The ``susy_active`` config section.
        hyper: The classifier's hyper-parameters.
        recast: ``susy.recast``.
        seeds: ``train`` and ``select`` seeds of this round.
        pool_path: The pool.
        test_path: The SUSY task's test split.
        val_path: The SUSY task's validation split (the confidence's calibration).
        previous: Strategy -> labelled set after round ``k - 1``.
        outputs: Strategy -> labelled set after round ``k``.
        overrides: Efficiencies replacing the recast's parametrisation, or None.
        toys: The toy CLs of the small-background regions, or None.

    Returns:
        ``{"round": k - 1, "strategies": {strategy: record}}``.
    """
    pool = read_npz(pool_path)
    test, validation = _points(test_path, pool), _points(val_path, pool)
    oracle = recast_oracle(pool, recast, overrides, toys)
    settings = _settings(options, hyper)
    records = {}
    for strategy in STRATEGIES:
        labelled = read_npz(previous[strategy])
        record, chosen = learning_round(
            strategy,
            pool["X"],
            labelled["index"],
            labelled["allowed"],
            test,
            settings,
            seeds["train"],
            seeds["select"],
            validation,
        )
        allowed, seconds = oracle(chosen)
        write_labelled(
            outputs[strategy],
            {
                "index": np.concatenate([labelled["index"], chosen]),
                "allowed": np.concatenate([labelled["allowed"], allowed]),
                "round": np.concatenate([labelled["round"], np.full(len(chosen), round_number)]),
                "seconds": np.concatenate([labelled["seconds"], seconds]),
            },
        )
        record["batch_fraction_allowed"] = float(allowed.mean()) if len(allowed) else None
        records[strategy] = record
        log.info("round %d, %s: %s", round_number, strategy, record)
    return {"round": round_number - 1, "strategies": records}


def evaluate_job(
    options: Mapping[str, Any],
    hyper: Mapping[str, Any],
    train_seed: int,
    pool_path: str | os.PathLike[str],
    test_path: str | os.PathLike[str],
    val_path: str | os.PathLike[str],
    rounds: Sequence[Mapping[str, Any]],
    final: Mapping[str, str | os.PathLike[str]],
    display_name: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Rule susy_active_evaluate: train on the last round's labels and assemble both learning curves.

    Args:
        options: The ``susy_active`` config section.
        hyper: The classifier's hyper-parameters.
        train_seed: Seed of the last round's training.
        pool_path: The pool.
        test_path: The SUSY task's test split.
        val_path: The SUSY task's validation split (the confidence's calibration).
        rounds: The records of the round jobs (rounds 0 to ``rounds - 1``).
        final: Strategy -> labelled set after the last round.
        display_name: The classifier's display name.

    Returns:
        (``metrics.json`` content, the learning-curve table's rows: one per strategy and round).
    """
    pool = read_npz(pool_path)
    test, validation = _points(test_path, pool), _points(val_path, pool)
    curves: dict[str, list[dict[str, Any]]] = {s: [] for s in STRATEGIES}
    for entry in sorted(rounds, key=lambda r: r["round"]):
        for strategy in STRATEGIES:
            curves[strategy].append({"round": int(entry["round"]), **entry["strategies"][strategy]})
    seconds = []
    for strategy in STRATEGIES:
        labelled = read_npz(final[strategy])
        model = train_classifier(
            options["classifier"],
            hyper,
            pool["X"][labelled["index"]],
            labelled["allowed"],
            train_seed,
            options["val_fraction"],
        )
        curves[strategy].append(
            {
                "round": int(options["rounds"]),
                "n_labelled": int(len(labelled["index"])),
                "fraction_allowed": float(np.mean(labelled["allowed"])),
                **test_metrics(model, test, validation),
            }
        )
        seconds.append(labelled["seconds"])
    expected = plan(options["initial"], options["batch"], options["rounds"])
    for strategy, curve in curves.items():
        got = [r["n_labelled"] for r in curve]
        if got != expected:
            raise InputFileError(
                str(final[strategy]), f"{strategy} labelled points per round {got}, expected {expected}"
            )
    random_final = curves["random"][-1]["accuracy"]
    metrics = {
        "classifier": options["classifier"],
        "display_names": {
            "active": f"Active (least certain, {options['random_fraction']:.0%} random)",
            "random": "Random sampling",
            options["classifier"]: display_name,
        },
        "n_test": int(len(test[1])),
        "pool": int(len(pool["point_id"])),
        "sampled": int(options["pool"]),
        "plan": expected,
        "curves": curves,
        "final": {s: curves[s][-1] for s in STRATEGIES},
        "random_final_accuracy": random_final,
        "active_labels_to_reach_random": labels_to_reach(curves["active"], random_final),
        "recast_seconds_per_point": float(np.mean(np.concatenate(seconds))),
    }
    rows = [{"strategy": s, **record} for s in STRATEGIES for record in curves[s]]
    return metrics, rows


def write_curve_table(rows: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any], paths: Mapping[str, Any]) -> None:
    """The learning-curve table (CSV, Markdown, LaTeX, HTML): one row per strategy and round."""
    from ml4hep.tables import Column, number, write_table

    names = metrics["display_names"]
    columns = [
        Column("Strategy", lambda r: names.get(r["strategy"], r["strategy"]), align="l"),
        Column("Round", "round"),
        Column("Labelled points", "n_labelled"),
        Column("Accuracy", lambda r: number(r["accuracy"], 4)),
        Column("Accuracy (conf. ≥ 0.95)", lambda r: number(r["accuracy_conf95"], 4)),
        Column("Coverage (conf. ≥ 0.95)", lambda r: number(r["coverage_conf95"], 3)),
    ]
    write_table(
        rows,
        columns,
        csv=paths["csv"],
        md=paths["md"],
        tex=paths["tex"],
        html=paths.get("html"),
        csv_keys=(
            "strategy",
            "round",
            "n_labelled",
            "accuracy",
            "accuracy_conf95",
            "coverage_conf95",
            "accuracy_raw_conf95",
            "coverage_raw_conf95",
        ),
        note=f"Classifier {names.get(metrics['classifier'], metrics['classifier'])} trained on the points labelled "
        f"so far, measured on {metrics['n_test']} test points of the SUSY task; confidence calibrated on the SUSY "
        "validation split (accuracy per P(allowed) bin, as in the SUSY table).",
    )
