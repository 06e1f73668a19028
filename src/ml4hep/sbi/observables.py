"""Names of the ``sbi`` task's per-event observables (light: the estimators and plots need no generator)."""

OBSERVABLES = ("tau", "log_y23", "rho_heavy", "rho_light", "multiplicity")
"""Per-event observables x (the estimators' inputs): 1 - thrust about the two-jet axis, ln y23 (Durham), heavy
and light jet mass² over the visible energy², number of visible final-state particles."""

WEIGHTS_BRANCH = "shower_weights"
"""Branch of the nominal samples: the weight of each variation point (columns in the order of ``run/theta``)."""
