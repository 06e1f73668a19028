"""All figures of the workflow, one module per task, drawn in one style (:mod:`ml4hep.plots.style`, mplhep).

Compute code (training, generation, fits) returns and writes numbers; the render rules read them and call these
functions, so changing a colour or a caption re-renders and never retrains.
"""
