"""Pythia8 set-up and batched generation (``Pythia.nextBatch`` returns awkward arrays)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import awkward as ak

from ml4hep.errors import GenerationError

log = logging.getLogger(__name__)

# Quiet, reproducible, LHC-like defaults: particles with c*tau > 10 mm (K0S, Lambda, pi+-) are stable as in a
# detector; no event listings in the logs.
COMMON_SETTINGS = (
    "Random:setSeed = on",
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowProcess = 0",
    "Next:numberShowInfo = 0",
    "Init:showProcesses = off",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
    "Init:showMultipartonInteractions = off",
    "Print:quiet = on",
)

MB_TO_FB = 1e12
MB_TO_PB = 1e9


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send C++ output on file descriptor 1 to 2, so Pythia's banners land in the rule log, not in data streams."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@dataclass
class PythiaRun:
    """A configured and initialised Pythia8 instance.

    Attributes:
        pythia: The ``pythia8mc.Pythia`` object.
        settings: All settings read, in order (for provenance).
        user_hooks: The ``UserHooks`` object given to Pythia, if any (held here so that it lives as long as Pythia).
    """

    pythia: object
    settings: tuple[str, ...]
    user_hooks: object | None = None

    def batches(self, n_events: int, batch_size: int) -> Iterator[ak.Array]:
        """Generate ``n_events`` accepted events in batches.

        Args:
            n_events: Events to generate.
            batch_size: Events per batch.

        Yields:
            ``nextBatch`` results (records with ``prt`` and ``info``); failed events are retried until the
            requested number is reached.
        """
        remaining = n_events
        failures = 0
        while remaining > 0:
            size = min(batch_size, remaining)
            batch = self.pythia.nextBatch(size, "skip")
            if len(batch) < size:
                failures += size - len(batch)
                if failures > max(100, n_events):
                    raise GenerationError(f"Pythia failed on {failures} events; check the process settings")
            if len(batch):
                remaining -= len(batch)
                yield batch

    def cross_section_mb(self) -> tuple[float, float]:
        """Pythia's estimate of the generated cross section and its error, in mb."""
        info = self.pythia.infoPython()
        return float(info.sigmaGen()), float(info.sigmaErr())

    def n_tried(self) -> int:
        """Number of events Pythia tried (for the efficiency)."""
        return int(self.pythia.infoPython().nTried())


def make_pythia(settings: Sequence[str], seed: int, user_hooks: object | None = None) -> PythiaRun:
    """Create and initialise Pythia8 with ``settings`` and ``seed``.

    Args:
        settings: Process and tune settings (``readString`` lines).
        seed: Random seed in [1, 900000000].
        user_hooks: A ``pythia8mc.UserHooks`` object to set before initialisation (e.g. the di-tau filter of
            :mod:`ml4hep.generate.ditau_filter`).

    Returns:
        The initialised run.

    Raises:
        GenerationError: a setting is not understood or initialisation fails.
    """
    import pythia8mc  # imported here: importing Pythia prints a banner and is slow

    all_settings = (*COMMON_SETTINGS, *settings, f"Random:seed = {int(seed)}")
    with stdout_to_stderr():
        pythia = pythia8mc.Pythia("", False)
        for line in all_settings:
            if not pythia.readString(line):
                raise GenerationError(f"Pythia8 rejected the setting {line!r}")
        if user_hooks is not None:
            pythia.setUserHooksPtr(user_hooks)
        if not pythia.init():
            raise GenerationError(f"Pythia8 initialisation failed with settings {list(settings)}")
    log.info("Pythia8 initialised (seed %d) with: %s", seed, "; ".join(settings))
    return PythiaRun(pythia=pythia, settings=all_settings, user_hooks=user_hooks)
