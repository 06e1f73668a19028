"""The names of the pMSSM-19 parameters (their sampling ranges are config: ``susy.scan.ranges`` in the schema)."""

from __future__ import annotations

PARAMETERS: tuple[str, ...] = (
    "M1",
    "M2",
    "M3",
    "mL1",
    "mE1",
    "mL3",
    "mE3",
    "mQ1",
    "mU1",
    "mD1",
    "mQ3",
    "mU3",
    "mD3",
    "At",
    "Ab",
    "Atau",
    "mu",
    "mA",
    "tanb",
)
"""The pMSSM-19 parameters, in the order used as classifier inputs."""
