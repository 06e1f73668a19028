"""Seeds of every random step, derived from the config's master seed and the step's name."""

from __future__ import annotations

import hashlib
import json

# Pythia accepts seeds in [0, 900000000]; 0 means "seed from the clock", which would break reproducibility.
PYTHIA_MAX_SEED = 900_000_000


def derive_seed(master: int, *keys: object, maximum: int = PYTHIA_MAX_SEED) -> int:
    """A reproducible seed in ``[1, maximum]`` for one random step, from the master seed and the step's keys.

    Args:
        master: The config's master seed.
        *keys: What identifies the step (e.g. process name and shard index).
        maximum: Largest seed the consumer accepts.

    Returns:
        A seed that changes when any key changes and is the same on every machine.
    """
    text = json.dumps([int(master), *[str(k) for k in keys]])
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little") % maximum + 1
