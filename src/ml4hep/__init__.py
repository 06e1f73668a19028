"""ml4hep: a reproducible, workflow-orchestrated machine-learning analysis for collider physics."""

__version__ = "0.1.0"
