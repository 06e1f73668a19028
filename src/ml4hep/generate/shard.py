"""One generation job: a (process, shard) pair generated, analysed columnar and written as a ROOT file."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from tqdm import tqdm

from ml4hep.errors import GenerationError
from ml4hep.generate.ditau_filter import DitauFilter, make_hook
from ml4hep.generate.processes import ProcessSpec
from ml4hep.generate.pythia import MB_TO_FB, MB_TO_PB, PythiaRun, make_pythia
from ml4hep.io import EVENTS_TREE, RUN_TREE, write_root

log = logging.getLogger(__name__)

_FILTER_STREAM = 1  # the di-tau filter's coins and vetoes draw from their own stream of the shard seed


def _charge_lookup(run: PythiaRun) -> Callable[[np.ndarray], np.ndarray]:
    """Electric charge of PDG ids from Pythia's particle data (cached per id)."""
    cache: dict[int, float] = {}
    data = run.pythia.particleData

    def charge_of(pids: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(pids, return_inverse=True)
        for pid in unique.tolist():
            if pid not in cache:
                cache[pid] = float(data.charge(int(pid)))
        return np.array([cache[p] for p in unique.tolist()])[inverse]

    return charge_of


def generate_shard(
    spec: ProcessSpec,
    shard: int,
    config: Mapping[str, Any],
    output: str | Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate one shard of a process and write it to ``output``.

    Args:
        spec: The process.
        shard: Shard index (decides the seed and the number of events).
        config: Validated configuration.
        output: ROOT file to write (TTrees ``events`` and ``run``).
        progress: Show a tqdm progress bar (on stderr, i.e. in the rule log).

    Returns:
        Summary: events generated and written, cross section, seconds, seed.
    """
    seed = spec.shard_seed(config["seed"], shard)
    n_events = spec.shard_events(shard)
    batch_size = int(config["batch_size"])
    start = time.perf_counter()
    ditau = DitauFilter.from_options(spec.ditau_filter) if spec.ditau_filter else None
    hook = make_hook(ditau, np.random.default_rng((seed, _FILTER_STREAM))) if ditau else None
    run = make_pythia(spec.settings, seed, user_hooks=hook)
    if hook is not None:
        hook.attach(run.pythia)
    rng = np.random.default_rng(seed)
    # Each set's event builder is imported in its branch: a generation job depends only on its own set's code.
    if spec.sample_set == "higgs":
        from ml4hep.generate.higgs import build_higgs_events

        section = config["samples"]["higgs"]
        build = partial(
            build_higgs_events,
            objects=section["objects"],
            smearing=section["smearing"],
            rng=rng,
            charge_of=_charge_lookup(run),
        )
    elif spec.sample_set == "toptag":
        from ml4hep.generate.toptag import TopTagJetBuilder

        build = TopTagJetBuilder(config["samples"]["toptag"], signal=spec.name.endswith("ttbar"))
    else:
        raise GenerationError(f"unknown sample set {spec.sample_set!r} for {spec.name}")
    parts: list[dict[str, Any]] = []
    generator_weights: list[np.ndarray] = []
    with tqdm(total=n_events, desc=f"{spec.name}[{shard}]", unit="evt", mininterval=5.0, disable=not progress) as bar:
        for batch in run.batches(n_events, batch_size):
            parts.append(build(batch))
            if hook is not None:
                generator_weights.append(hook.take_weights(len(batch)))
            bar.update(len(batch))
    sigma_mb, sigma_err_mb = run.cross_section_mb()
    if not parts:
        raise GenerationError(f"{spec.name}[{shard}]: no events generated")
    branches = {key: _concatenate([p[key] for p in parts]) for key in parts[0]}
    n_rows = len(next(iter(branches.values())))
    # Sum of weights over all shards of the process = sigma x luminosity (with this shard's sigma estimate).
    # With the di-tau filter, sigma is that of the events kept after its veto, and each event carries its
    # generator weight (forced decays, 1 / keep probability), so the weights still sum to sigma x L on average.
    weight = sigma_mb * MB_TO_FB * float(config["luminosity_fb"]) / spec.events
    if spec.sample_set == "higgs":
        generator_weight = np.concatenate(generator_weights) if generator_weights else np.ones(n_rows)
        branches["generator_weight"] = generator_weight
        branches["weight"] = weight * generator_weight
    else:
        branches["weight"] = np.full(n_rows, weight)
    for name, value in spec.parameters.items():
        branches[name] = np.full(n_rows, value)
    seconds = time.perf_counter() - start
    run_info = {
        "sigma_pb": np.array([sigma_mb * MB_TO_PB]),
        "sigma_err_pb": np.array([sigma_err_mb * MB_TO_PB]),
        "events_generated": np.array([n_events], dtype=np.int64),
        "events_tried": np.array([run.n_tried()], dtype=np.int64),
        "events_process_total": np.array([spec.events], dtype=np.int64),
        "entries_written": np.array([n_rows], dtype=np.int64),
        "luminosity_fb": np.array([float(config["luminosity_fb"])]),
        "seed": np.array([seed], dtype=np.int64),
        "shard": np.array([shard], dtype=np.int64),
        "shards": np.array([spec.shards], dtype=np.int64),
        "seconds": np.array([seconds]),
        # The di-tau filter's bookkeeping (1 and 0 without it): events it looked at, and vetoed.
        "ditau_decay_weight": np.array([hook.decay_weight if hook else 1.0]),
        "events_filter_seen": np.array([hook.seen if hook else 0], dtype=np.int64),
        "events_filter_vetoed": np.array([hook.vetoed if hook else 0], dtype=np.int64),
    }
    write_root(output, {EVENTS_TREE: branches, RUN_TREE: run_info})
    summary = {
        "process": spec.name,
        "shard": shard,
        "seed": seed,
        "events_generated": n_events,
        "entries_written": n_rows,
        "sigma_pb": sigma_mb * MB_TO_PB,
        "seconds": seconds,
        "events_per_second": n_events / seconds if seconds > 0 else float("nan"),
    }
    log.info("%s", summary)
    return summary


def _concatenate(arrays: list[Any]) -> Any:
    if isinstance(arrays[0], np.ndarray):
        return np.concatenate(arrays)
    return ak.concatenate(arrays)
