"""Generator-level filter of the di-tau samples: forced lep-had tau decays and an acceptance veto, with weights.

Only events with one leptonic and one hadronic tau decay can pass the lep-had selection
(:func:`ml4hep.higgs.features.select_lephad`), and of those only the ones whose taus reach the acceptance. Two
means of Pythia's spend the generation on them, and the event weights keep every expected yield unbiased:

* **Forced decays** (``force_lephad``): for each event a fair coin (seeded from the shard seed) decides whether the
  tau- or the tau+ decays leptonically (e, mu); the other decays hadronically. The decay tables of Pythia's tau
  (channel ``onMode`` 2 and 3: on for the particle or the antiparticle only) are switched before the event's
  decays. Nature gives each of the two assignments the probability B_l B_h (B_l the tau's leptonic branching
  fraction, from Pythia's table), the coin 1/2, so each event weighs ``2 B_l B_h`` (about 0.455). The spin
  correlations of the pair are Pythia's, applied within the chosen channels.
* **Acceptance veto** (``keep_outside`` < 1), in two steps. At the process level (before any shower, so a vetoed
  event costs next to nothing), an event with a tau beyond ``process_max_abs_eta`` is kept with probability
  ``keep_outside``. After the parton level (showers and MPI, before hadronisation and the tau decays, which are
  most of Pythia's time), an event not already thinned whose two taus from the boson decay (their last copies,
  after photon radiation) are not both inside ``max_abs_eta`` with the softer above ``min_pt_gev`` and the harder
  above ``lead_min_pt_gev`` is kept with probability ``keep_outside``. A kept thinned event weighs
  ``1 / keep_outside``. Vetoed events are replaced by Pythia, and its cross section (``sigmaGen``) counts them out
  (it is the cross section of the events that were kept). A veto by probability, not a cut: an event outside the
  region that would still pass the selection keeps its share of the yield.

The hook keeps each finished event's weight (``onEndEvent``); :meth:`DitauHook.take_weights` hands them over per
batch and checks that there are as many as events in it.

Example:
    >>> import numpy as np
    >>> f = DitauFilter(False, keep_outside=0.25, min_pt_gev=10.0, lead_min_pt_gev=15.0, max_abs_eta=2.7)
    >>> f.inside(np.array([30.0, 30.0]), np.array([12.0, 8.0]), np.array([0.5, 0.5]), np.array([-1.0, -1.0]))
    array([ True, False])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml4hep.errors import GenerationError
from ml4hep.generate.record import CHARGED_LEPTONS, DITAU_PARENTS, TAU, FlatRecord, pt_eta_phi_m

_MAX_COPIES = 200  # safety bound on the walk from a particle to its last copy
_HARD_PROCESS_ENTRIES = 12  # the hard process's boson sits in the first entries of Pythia's event record


@dataclass(frozen=True)
class DitauFilter:
    """Options of the generator-level filter (the ``samples.higgs.ditau_filter`` config section).

    Attributes:
        force_lephad: Force one leptonic and one hadronic tau decay per event.
        keep_outside: Probability to keep an event outside the acceptance region (1: no veto).
        min_pt_gev: Both taus above this pT (GeV) to be inside.
        lead_min_pt_gev: The harder tau above this pT (GeV) to be inside.
        max_abs_eta: Both taus within this |eta| to be inside.
        process_max_abs_eta: At the process level (before the showers), events with a tau beyond this |eta| are
            thinned already.
    """

    force_lephad: bool
    keep_outside: float
    min_pt_gev: float
    lead_min_pt_gev: float
    max_abs_eta: float
    process_max_abs_eta: float = np.inf

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DitauFilter:
        """Build from the config section (or :meth:`to_options`' dict)."""
        return cls(
            bool(options["force_lephad"]),
            float(options["keep_outside"]),
            float(options["min_pt_gev"]),
            float(options["lead_min_pt_gev"]),
            float(options["max_abs_eta"]),
            float(options.get("process_max_abs_eta", np.inf)),
        )

    def to_options(self) -> dict[str, Any]:
        """Plain-builtin form (kept in the process specification, so a change reruns the filtered shards)."""
        return {
            "force_lephad": self.force_lephad,
            "keep_outside": self.keep_outside,
            "min_pt_gev": self.min_pt_gev,
            "lead_min_pt_gev": self.lead_min_pt_gev,
            "max_abs_eta": self.max_abs_eta,
            "process_max_abs_eta": self.process_max_abs_eta,
        }

    @property
    def vetoes(self) -> bool:
        """Whether the acceptance veto is active."""
        return self.keep_outside < 1.0

    def inside(self, pt1: np.ndarray, pt2: np.ndarray, eta1: np.ndarray, eta2: np.ndarray) -> np.ndarray:
        """Whether a tau pair lies in the acceptance region (element-wise)."""
        soft, hard = np.minimum(pt1, pt2), np.maximum(pt1, pt2)
        central = (np.abs(eta1) < self.max_abs_eta) & (np.abs(eta2) < self.max_abs_eta)
        return central & (soft > self.min_pt_gev) & (hard > self.lead_min_pt_gev)


def boson_tau_kinematics(rec: FlatRecord) -> tuple[np.ndarray, np.ndarray]:
    """Transverse momenta and pseudorapidities of the last copies of the boson's two taus, shape (events, 2).

    The record-side view of what the hook checks after the parton level (the tests compare the two). Events without
    such a pair get pT 0 and eta +inf (outside any acceptance region), as the hook treats them.
    """
    first = np.flatnonzero((rec.abs_pid == TAU) & np.isin(rec.abs_pid[rec.mother1], DITAU_PARENTS))
    last = first.copy()
    for _ in range(_MAX_COPIES):
        child = rec.daughter1[last]
        # A copy of a tau (photon radiation, recoil) is its first daughter with the same id.
        copied = (child != rec.offsets[rec.event[last]]) & (rec.pid[child] == rec.pid[last])
        if not copied.any():
            break
        last = np.where(copied, child, last)
    pt, eta, _, _ = pt_eta_phi_m(rec.px[last], rec.py[last], rec.pz[last], rec.e[last])
    out_pt = np.zeros((rec.n_events, 2))
    out_eta = np.full((rec.n_events, 2), np.inf)
    events = rec.event[first]
    pair = np.bincount(events, minlength=rec.n_events) == 2
    slot = np.zeros(len(first), dtype=np.int64)
    slot[1:] = events[1:] == events[:-1]  # the second tau of an event goes to column 1
    use = pair[events]
    out_pt[events[use], slot[use]] = pt[use]
    out_eta[events[use], slot[use]] = eta[use]
    return out_pt, out_eta


def leptonic_channels(entry: Any) -> list[bool]:
    """For each decay channel of a Pythia particle-data entry, whether it has an electron or muon among its products."""
    channels = []
    for i in range(entry.sizeChannels()):
        channel = entry.channel(i)
        products = [abs(channel.product(j)) for j in range(channel.multiplicity())]
        channels.append(any(p in CHARGED_LEPTONS for p in products))
    return channels


def make_hook(ditau_filter: DitauFilter, rng: np.random.Generator) -> Any:
    """A Pythia ``UserHooks`` object that applies ``ditau_filter`` (set it before ``init``, then :meth:`attach`).

    Args:
        ditau_filter: The filter options.
        rng: Random generator of the coins and the veto (seeded from the shard seed, so shards reproduce).

    Returns:
        The hook (a ``pythia8mc.UserHooks`` subclass instance).
    """
    import pythia8mc  # here, as in ml4hep.generate.pythia: the import is slow and prints a banner

    class DitauHook(pythia8mc.UserHooks):
        """Forces the tau decays and thins at the process level, thins again at the end of the parton level."""

        def __init__(self) -> None:
            super().__init__()
            self.decay_weight = 1.0
            self.seen = 0  # events looked at (process level)
            self.vetoed = 0  # ... of which vetoed, at either level
            self._tau: Any = None
            self._leptonic: list[bool] = []
            self._weight = 1.0  # the weight of the event being generated
            self._weights: list[float] = []  # of the finished events since the last take_weights

        def attach(self, pythia: Any) -> None:
            """Read the tau's decay table of an initialised Pythia (needed before generating)."""
            self._tau = pythia.particleData.particleDataEntryPtr(TAU)
            self._leptonic = leptonic_channels(self._tau)
            ratios = np.array([self._tau.channel(i).bRatio() for i in range(self._tau.sizeChannels())])
            b_lep = float(ratios[np.array(self._leptonic)].sum() / ratios.sum())
            self.decay_weight = 2.0 * b_lep * (1.0 - b_lep) if ditau_filter.force_lephad else 1.0

        def take_weights(self, n_events: int) -> np.ndarray:
            """The generator weights of the ``n_events`` events finished since the last call (one batch)."""
            if len(self._weights) != n_events:
                raise GenerationError(
                    f"the di-tau filter saw {len(self._weights)} finished events, the batch has {n_events}"
                )
            weights = self.decay_weight * np.array(self._weights)
            self._weights.clear()
            return weights

        def _thin(self) -> bool:
            """Keep with probability keep_outside (then the event weighs 1 / keep_outside); True: veto."""
            if rng.random() >= ditau_filter.keep_outside:
                self.vetoed += 1
                return True
            self._weight = 1.0 / ditau_filter.keep_outside
            return False

        def canVetoProcessLevel(self) -> bool:  # noqa: N802 (Pythia's method names)
            return True

        def doVetoProcessLevel(self, process: Any) -> bool:  # noqa: N802
            self.seen += 1
            self._weight = 1.0
            if ditau_filter.force_lephad:
                # onMode 2: on for the particle (tau-) only, 3: for the antiparticle (tau+) only.
                minus_leptonic = bool(rng.random() < 0.5)
                for i, leptonic in enumerate(self._leptonic):
                    self._tau.channel(i).onMode(2 if leptonic == minus_leptonic else 3)
            if ditau_filter.vetoes and _process_tau_max_abs_eta(process) > ditau_filter.process_max_abs_eta:
                return self._thin()
            return False

        def canVetoPartonLevel(self) -> bool:  # noqa: N802
            return ditau_filter.vetoes

        def doVetoPartonLevel(self, event: Any) -> bool:  # noqa: N802
            if self._weight != 1.0:  # thinned at the process level already
                return False
            pt, eta = _event_tau_kinematics(event)
            if ditau_filter.inside(pt[0], pt[1], eta[0], eta[1]):
                return False
            return self._thin()

        def onEndEvent(self, status: Any) -> None:  # noqa: N802
            if status == pythia8mc.UserHooks.COMPLETE:  # the events nextBatch returns
                self._weights.append(self._weight)

    return DitauHook()


def _process_tau_max_abs_eta(process: Any) -> float:
    """The larger |eta| of the boson's two taus in Pythia's process record (inf without them)."""
    etas = [
        abs(process[i].eta())
        for i in range(process.size())
        if abs(process[i].id()) == TAU and abs(process[process[i].mother1()].id()) in DITAU_PARENTS
    ]
    return max(etas) if len(etas) == 2 else np.inf


def _bottom_copy(event: Any, index: int) -> int:
    """Follow ``daughter1`` while it is a copy of the particle (same id), as :func:`boson_tau_kinematics` does."""
    for _ in range(_MAX_COPIES):
        child = event[index].daughter1()
        if child <= 0 or event[child].id() != event[index].id():
            break
        index = child
    return index


def _event_tau_kinematics(event: Any) -> tuple[np.ndarray, np.ndarray]:
    """Transverse momenta and pseudorapidities of the boson's two taus in a Pythia event (0 and inf without them)."""
    pt, eta = np.zeros(2), np.full(2, np.inf)
    found: list[int] = []
    # The boson is among the first entries (the hard process); the taus are the daughters of its last copy.
    for i in range(1, min(event.size(), _HARD_PROCESS_ENTRIES)):
        if abs(event[i].id()) in DITAU_PARENTS:
            boson = event[_bottom_copy(event, i)]
            found = [j for j in range(boson.daughter1(), boson.daughter2() + 1) if abs(event[j].id()) == TAU]
            break
    if len(found) == 2:
        for k, j in enumerate(found):
            last = event[_bottom_copy(event, j)]
            pt[k], eta[k] = last.pT(), last.eta()
    return pt, eta
