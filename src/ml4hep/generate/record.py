"""Columnar views of Pythia8 event records (from ``Pythia.nextBatch``) and ancestry look-ups.

A batch of events is flattened into one numpy array per particle property, with global indices, so that questions
like "which tau does this final-state particle come from?" are answered for all particles of all events at once by
walking the mother pointers in lock step, instead of by a Python loop over events.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

NEUTRINOS = (12, 14, 16)
CHARGED_LEPTONS = (11, 13)
TAU = 15
TOP = 6
W_BOSON = 24
# Z/gamma* (23), SM Higgs (25), heavy neutral Higgs H2 (35)
DITAU_PARENTS = (23, 25, 35)
LIGHT_AND_B_QUARKS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class FlatRecord:
    """Particles of a batch of events as flat numpy arrays.

    Attributes:
        counts: Particles per event.
        offsets: Global index of each event's first particle (Pythia's index 0, the "system" entry).
        event: Event number (0-based within the batch) of each particle.
        pid: PDG id.
        status: Pythia status (positive for final-state particles).
        mother1: Global index of the first mother (the event's own system entry when there is none).
        daughter1: Global index of the first daughter (the system entry when there is none).
        daughter2: Global index of the last daughter.
        px, py, pz, e: Four-momentum in GeV.
    """

    counts: np.ndarray
    offsets: np.ndarray
    event: np.ndarray
    pid: np.ndarray
    status: np.ndarray
    mother1: np.ndarray
    daughter1: np.ndarray
    daughter2: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray

    @classmethod
    def from_batch(cls, particles: ak.Array) -> FlatRecord:
        """Flatten the ``prt`` field of a ``nextBatch`` result.

        Args:
            particles: Jagged array of Pythia particles (fields id, status, mother1, daughter1, daughter2, p).
        """
        counts = ak.to_numpy(ak.num(particles)).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        event = np.repeat(np.arange(len(counts)), counts)
        base = offsets[event]

        def flat(field: ak.Array, dtype: type = np.float64) -> np.ndarray:
            return ak.to_numpy(ak.flatten(field)).astype(dtype)

        momentum = particles.p
        return cls(
            counts=counts,
            offsets=offsets,
            event=event,
            pid=flat(particles.id, np.int64),
            status=flat(particles.status, np.int64),
            mother1=flat(particles.mother1, np.int64) + base,
            daughter1=flat(particles.daughter1, np.int64) + base,
            daughter2=flat(particles.daughter2, np.int64) + base,
            px=flat(momentum.px),
            py=flat(momentum.py),
            pz=flat(momentum.pz),
            e=flat(momentum.e),
        )

    @property
    def n_events(self) -> int:
        """Events in the batch."""
        return len(self.counts)

    @property
    def abs_pid(self) -> np.ndarray:
        """|PDG id|."""
        return np.abs(self.pid)

    @property
    def is_final(self) -> np.ndarray:
        """Final-state particles."""
        return self.status > 0

    @property
    def pt(self) -> np.ndarray:
        """Transverse momentum."""
        return np.hypot(self.px, self.py)

    def is_last_copy(self) -> np.ndarray:
        """Particles whose first daughter is not a copy of themselves (e.g. the decaying top or tau)."""
        has_daughter = self.daughter1 != self.offsets[self.event]
        return has_daughter & (self.pid[self.daughter1] != self.pid)


def is_colored_parton(abs_pid: np.ndarray) -> np.ndarray:
    """Quarks, gluons and diquarks: where ancestry walks from hadrons enter the parton shower."""
    diquark = (abs_pid > 1000) & (abs_pid < 6000) & ((abs_pid // 10) % 10 == 0)
    return (abs_pid <= 8) | (abs_pid == 21) | diquark


def find_ancestor(
    record: FlatRecord,
    start: np.ndarray,
    targets: tuple[int, ...],
    *,
    stop_at_partons: bool = True,
    stop_at_hadrons: bool = False,
    max_depth: int = 200,
) -> np.ndarray:
    """For each particle in ``start``, the global index of its nearest ancestor whose |id| is in ``targets``.

    The walk follows ``mother1`` for all particles at once and stops at the event's system entry, at a coloured
    parton (``stop_at_partons``; decay products of leptons never pass through partons) or at a hadron
    (``stop_at_hadrons``; used to tell prompt leptons from leptons of hadron decays).

    Args:
        record: The flattened batch.
        start: Global indices of the particles to look up.
        targets: |PDG id| values that end the walk with a hit.
        stop_at_partons: End without a hit at quarks, gluons and diquarks.
        stop_at_hadrons: End without a hit at hadrons (|id| > 100).
        max_depth: Safety bound on the number of steps.

    Returns:
        Global index of the ancestor, or -1 where there is none.
    """
    start = np.asarray(start, dtype=np.int64)
    found = np.full(len(start), -1, dtype=np.int64)
    active = np.arange(len(start))
    current = record.mother1[start]
    targets_array = np.asarray(targets)
    for _ in range(max_depth):
        if len(active) == 0:
            break
        abs_pid = record.abs_pid[current]
        hit = np.isin(abs_pid, targets_array)
        found[active[hit]] = current[hit]
        system = current == record.offsets[record.event[current]]
        done = hit | system
        if stop_at_partons:
            done |= is_colored_parton(abs_pid)
        if stop_at_hadrons:
            done |= abs_pid > 100
        active = active[~done]
        current = record.mother1[current[~done]]
    return found


def sum_by_group(group: np.ndarray, n_groups: int, *values: np.ndarray) -> list[np.ndarray]:
    """Sum each of ``values`` over entries with the same ``group`` index (entries with group < 0 are skipped).

    Args:
        group: Group index of each entry.
        n_groups: Number of groups.
        *values: Arrays aligned with ``group``.

    Returns:
        One array of length ``n_groups`` per value.
    """
    keep = group >= 0
    return [np.bincount(group[keep], weights=v[keep], minlength=n_groups) for v in values]


def pt_eta_phi_m(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
    """Convert (px, py, pz, E) into (pT, eta, phi, m); eta of a particle along the beam is +-inf."""
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(np.where(pt > 0, pz / pt, np.sign(pz) * np.inf))
    phi = np.arctan2(py, px)
    m = np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))
    return pt, eta, phi, m


def delta_phi(phi1: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """phi1 - phi2 wrapped into [-pi, pi)."""
    return (np.asarray(phi1) - np.asarray(phi2) + np.pi) % (2 * np.pi) - np.pi


def delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """Distance in the (eta, phi) plane."""
    return np.hypot(np.asarray(eta1) - np.asarray(eta2), delta_phi(phi1, phi2))


def jagged(values: dict[str, np.ndarray], event: np.ndarray, n_events: int) -> ak.Array:
    """Group flat per-object arrays into per-event lists (objects must be sorted by event).

    Args:
        values: Field name -> flat array, one entry per object.
        event: Event index of each object, non-decreasing.
        n_events: Number of events (events without objects get empty lists).

    Returns:
        Jagged array of records.
    """
    counts = np.bincount(event, minlength=n_events)
    return ak.unflatten(ak.zip(dict(values), depth_limit=1), counts)
