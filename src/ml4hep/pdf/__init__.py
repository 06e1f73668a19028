"""PDF-replica task: NNPDF-style neural-network fits of proton PDFs to DIS data, with closure tests.

Modules: :mod:`commondata` (nnpdf-data points and covariances), :mod:`theory` (eko evolution -> FK tables),
:mod:`truth` (Les Houches toy PDFs, flavour bases), :mod:`pseudodata` (level 0/1/2 closure data, replicas, splits),
:mod:`fit` (the torch replica fit), :mod:`postfit` (outlier rejection, ensemble), :mod:`closure` (R_bv, xi_1sigma),
:mod:`plots` (bands, chi2 curves, tables).
"""
