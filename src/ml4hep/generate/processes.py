"""The catalogue of generated processes: names, Pythia8 settings and shard layout, derived from the config."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ml4hep.seeds import derive_seed

HIGGS_PROCESS_SETTINGS: dict[str, tuple[str, ...]] = {
    "ggh125": (
        "HiggsSM:gg2H = on",
        "25:m0 = 125.0",
        "25:onMode = off",
        "25:onIfMatch = 15 -15",
    ),
    "ztautau": (
        "WeakSingleBoson:ffbar2gmZ = on",
        "23:onMode = off",
        "23:onIfMatch = 15 -15",
        "PhaseSpace:mHatMin = 60.",
    ),
    # Both W decay leptonically (e, mu, tau): the source of a lepton plus a hadronic tau in ttbar.
    # Pythia's cross section includes the branching fractions of the open channels.
    "ttbar": (
        "Top:gg2ttbar = on",
        "Top:qqbar2ttbar = on",
        "24:onMode = off",
        "24:onIfAny = 11 13 15",
    ),
}

TOPTAG_PROCESS_SETTINGS: dict[str, tuple[str, ...]] = {
    "ttbar": (
        "Top:gg2ttbar = on",
        "Top:qqbar2ttbar = on",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4 5",
    ),
    "qcd": ("HardQCD:all = on",),
}


HEAVY_HIGGS_RELATIVE_WIDTH = 0.01


def heavy_higgs_settings(mass_gev: float) -> tuple[str, ...]:
    """Pythia8 settings for gg -> H2 -> tautau at ``mass_gev``.

    The width is fixed to 1% of the mass (a narrow resonance, as in mass-parameterised searches); Pythia's default
    H2 couplings would give a width of tens of GeV once H2 -> ttbar opens.
    """
    return (
        "Higgs:useBSM = on",
        "HiggsBSM:gg2H2 = on",
        f"35:m0 = {float(mass_gev)}",
        "35:doForceWidth = on",
        f"35:mWidth = {HEAVY_HIGGS_RELATIVE_WIDTH * float(mass_gev)}",
        "35:onMode = off",
        "35:onIfMatch = 15 -15",
    )


@dataclass(frozen=True)
class ProcessSpec:
    """One generated process.

    Attributes:
        name: Sample name, e.g. ``higgs_ztautau`` (the folder under results/samples/).
        sample_set: ``higgs`` or ``toptag`` (decides the event content written).
        settings: Pythia8 settings of the process (beam energy and extra settings included).
        events: Total events requested.
        shards: Number of generation jobs.
        parameters: Process parameters stored with the events (e.g. the heavy Higgs mass).
        ditau_filter: Options of the generator-level di-tau filter (:class:`ml4hep.generate.ditau_filter.DitauFilter`)
            for this process; empty: generated unfiltered.
    """

    name: str
    sample_set: str
    settings: tuple[str, ...]
    events: int
    shards: int
    parameters: Mapping[str, float]
    ditau_filter: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-builtin form (Snakemake records params of builtin types only, to rerun jobs when they change)."""
        data: dict[str, Any] = {
            "name": self.name,
            "sample_set": self.sample_set,
            "settings": list(self.settings),
            "events": self.events,
            "shards": self.shards,
            "parameters": dict(self.parameters),
        }
        if self.ditau_filter:  # only then: the params of unfiltered processes stay as they were (no rerun)
            data["ditau_filter"] = dict(self.ditau_filter)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(
            data["name"],
            data["sample_set"],
            tuple(data["settings"]),
            int(data["events"]),
            int(data["shards"]),
            dict(data["parameters"]),
            dict(data.get("ditau_filter", {})),
        )

    def shard_events(self, shard: int) -> int:
        """Events of one shard; the remainder of events / shards goes to the first shards."""
        if not 0 <= shard < self.shards:
            raise IndexError(f"{self.name} has {self.shards} shards, no shard {shard}")
        base, extra = divmod(self.events, self.shards)
        return base + (1 if shard < extra else 0)

    def shard_seed(self, master_seed: int, shard: int) -> int:
        """The Pythia seed of one shard, derived from the master seed, the process name and the shard index."""
        return derive_seed(master_seed, self.name, shard)


def _n_shards(events: int, events_per_shard: int) -> int:
    return max(1, math.ceil(events / events_per_shard))


def generated_processes(config: Mapping[str, Any]) -> dict[str, ProcessSpec]:
    """All processes the config asks to generate, by sample name (user inputs of the same name excluded).

    Args:
        config: Validated configuration.

    Returns:
        Sample name -> specification.
    """
    per_shard = int(config["events_per_shard"])
    specs: dict[str, ProcessSpec] = {}
    higgs = config["samples"]["higgs"]
    higgs_common = (f"Beams:eCM = {float(higgs['ecm_gev'])}", *higgs["extra_pythia_settings"])
    entries: list[tuple[str, str, tuple[str, ...], int, dict[str, float]]] = []
    filters: dict[str, dict[str, Any]] = {}
    ditau_filter = {k: v for k, v in higgs["ditau_filter"].items() if k != "processes"}
    for process, options in higgs["processes"].items():
        settings = (*higgs_common, *HIGGS_PROCESS_SETTINGS[process])
        mass = 91.1876 if process == "ztautau" else 125.0 if process == "ggh125" else 0.0
        entries.append((f"higgs_{process}", "higgs", settings, options["events"], {"resonance_mass": mass}))
        if process in higgs["ditau_filter"]["processes"]:
            filters[f"higgs_{process}"] = ditau_filter
    heavy = higgs["heavy_higgs"]
    for mass in heavy["masses_gev"]:
        settings = (*higgs_common, *heavy_higgs_settings(mass))
        entries.append((f"higgs_heavyh{mass}", "higgs", settings, heavy["events"], {"resonance_mass": float(mass)}))
        if "heavy_higgs" in higgs["ditau_filter"]["processes"]:
            filters[f"higgs_heavyh{mass}"] = ditau_filter
    top = config["samples"]["toptag"]
    top_common = (
        f"Beams:eCM = {float(top['ecm_gev'])}",
        f"PhaseSpace:pTHatMin = {float(top['pthat_min_gev'])}",
        f"PhaseSpace:pTHatMax = {float(top['pthat_max_gev'])}",
        f"PartonLevel:MPI = {'on' if top['mpi'] else 'off'}",
        *top["extra_pythia_settings"],
    )
    for process, options in top["processes"].items():
        settings = (*top_common, *TOPTAG_PROCESS_SETTINGS[process])
        entries.append((f"toptag_{process}", "toptag", settings, options["events"], {}))
    user_inputs = config.get("inputs", {})
    for name, sample_set, settings, events, parameters in entries:
        if name in user_inputs or events == 0:  # replaced by the user's files, or dropped
            continue
        shards = _n_shards(events, per_shard)
        specs[name] = ProcessSpec(name, sample_set, settings, events, shards, parameters, filters.get(name, {}))
    return specs


def shard_config(config: Mapping[str, Any], sample_set: str) -> dict[str, Any]:
    """The part of the config a generation job of ``sample_set`` depends on.

    The workflow passes this (not the whole config) to generation jobs, so that Snakemake's params trigger reruns
    a process's shards when its own settings change, and not when another process's event count changes.

    Args:
        config: Validated configuration.
        sample_set: ``higgs`` or ``toptag``.

    Returns:
        A config with the master seed, luminosity, batch size and the set's object options (without the per-process
        event counts, which are in the process specification).
    """
    # The di-tau filter travels in the specifications of the processes it filters, so it reruns only those.
    own = ("processes", "heavy_higgs", "ditau_filter")
    section = {k: v for k, v in config["samples"][sample_set].items() if k not in own}
    return {
        "seed": config["seed"],
        "luminosity_fb": config["luminosity_fb"],
        "batch_size": config["batch_size"],
        "samples": {sample_set: section},
    }
