"""Simulation-based inference with the shower's joint likelihood ratios (the ``sbi`` task, arXiv:1805.12244).

A Pythia 8 e+e- -> Z -> hadrons sample carries, event by event, the ratio of its shower history's probability at
another final-state shower scale θ and at θ0 = 1 (:mod:`ml4hep.generate.sbi`). :mod:`ml4hep.sbi.gold` turns the
weights at a few θ into a continuous joint ratio r(x, z | θ, θ0) and joint score t(x, z | θ);
:mod:`ml4hep.sbi.estimators` learns the likelihood ratio r(x | θ, θ0) from them (histogram, CARL, ROLR, RASCAL,
ALICE, one registry); :mod:`ml4hep.sbi.inference` turns a learned ratio into −2 ln r curves and intervals on θ.
"""
