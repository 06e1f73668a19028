"""Flavour bases and the closure-test truth: the Les Houches toy PDFs (hep-ph/0204316, eq. 4.1).

The fitted functions are the evolution-basis combinations :data:`FIT_BASIS` at Q0 (NNPDF's basis without the
valence-like V8/V15 and T15): with strangeness symmetric (s = sbar) and no intrinsic charm (c = cbar = 0 at Q0),

    Sigma = u+ + d+ + s+,  T3 = u+ - d+,  T8 = u+ + d+ - 2 s+,  V = u- + d-,  V3 = u- - d-,

where q+ = q + qbar and q- = q - qbar. :func:`rotation` maps them to the flavours of the FK tables
(:data:`ml4hep.pdf.theory.INPUT_PIDS`).

The toy set (momentum fractions x f at Q0^2 = 2 GeV^2 in the original benchmark; used here as the truth at the
fit's Q0 = 1.65 GeV) is::

    x u_v = 5.107200 x^0.8 (1-x)^3      x d_v = 3.064320 x^0.8 (1-x)^4      x g = 1.7 x^-0.1 (1-x)^5
    x dbar = 0.1939875 x^-0.1 (1-x)^6   x ubar = (1-x) x dbar               x s = x sbar = 0.2 x (ubar + dbar)

It satisfies the valence sum rules (2 and 1) and the momentum sum rule (1) by construction.
"""

from __future__ import annotations

import numpy as np

from ml4hep.pdf.theory import INPUT_PIDS

FIT_BASIS = ("g", "sigma", "v", "v3", "t3", "t8")
"""Fitted functions at Q0 (the network has one output per entry)."""

LABELS = {
    "g": "g",
    "sigma": r"\Sigma",
    "v": "V",
    "v3": "V_3",
    "t3": "T_3",
    "t8": "T_8",
    "uv": "u_v",
    "dv": "d_v",
    "ubar": r"\bar u",
    "dbar": r"\bar d",
    "s": "s",
}


def rotation() -> np.ndarray:
    """Matrix R with f_pid = sum_k R[pid, k] f_k, pid over INPUT_PIDS and k over FIT_BASIS."""
    g, sigma, v, v3, t3, t8 = np.eye(len(FIT_BASIS))
    u_plus = (2 * sigma + t8) / 6 + t3 / 2
    d_plus = (2 * sigma + t8) / 6 - t3 / 2
    s_plus = (sigma - t8) / 3
    u_minus = (v + v3) / 2
    d_minus = (v - v3) / 2
    flavours = {
        21: g,
        1: (d_plus + d_minus) / 2,
        -1: (d_plus - d_minus) / 2,
        2: (u_plus + u_minus) / 2,
        -2: (u_plus - u_minus) / 2,
        3: s_plus / 2,
        -3: s_plus / 2,
        4: 0 * g,
        -4: 0 * g,
    }
    return np.stack([flavours[pid] for pid in INPUT_PIDS])


def physical(basis: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """u_v, d_v, ubar, dbar, s (= sbar) from the fitted basis functions (any common factor, e.g. x, is kept)."""
    u_plus = (2 * basis["sigma"] + basis["t8"]) / 6 + basis["t3"] / 2
    d_plus = (2 * basis["sigma"] + basis["t8"]) / 6 - basis["t3"] / 2
    uv = (basis["v"] + basis["v3"]) / 2
    dv = (basis["v"] - basis["v3"]) / 2
    return {
        "uv": uv,
        "dv": dv,
        "ubar": (u_plus - uv) / 2,
        "dbar": (d_plus - dv) / 2,
        "s": (basis["sigma"] - basis["t8"]) / 6,
    }


def les_houches_flavours(x: np.ndarray) -> dict[str, np.ndarray]:
    """Momentum densities x f of the toy set: ``uv``, ``dv``, ``g``, ``ubar``, ``dbar``, ``s`` (= sbar)."""
    x = np.asarray(x, float)
    dbar = 0.1939875 * x**-0.1 * (1 - x) ** 6
    ubar = (1 - x) * dbar
    return {
        "uv": 5.107200 * x**0.8 * (1 - x) ** 3,
        "dv": 3.064320 * x**0.8 * (1 - x) ** 4,
        "g": 1.7 * x**-0.1 * (1 - x) ** 5,
        "ubar": ubar,
        "dbar": dbar,
        "s": 0.2 * (ubar + dbar),
    }


def les_houches_basis(x: np.ndarray) -> dict[str, np.ndarray]:
    """Momentum densities x f of the toy set in :data:`FIT_BASIS`."""
    f = les_houches_flavours(x)
    sea = 2 * f["ubar"] + 2 * f["dbar"]
    return {
        "g": f["g"],
        "sigma": f["uv"] + f["dv"] + sea + 2 * f["s"],
        "v": f["uv"] + f["dv"],
        "v3": f["uv"] - f["dv"],
        "t3": f["uv"] + 2 * f["ubar"] - f["dv"] - 2 * f["dbar"],
        "t8": f["uv"] + f["dv"] + sea - 4 * f["s"],
    }


def basis_array(basis: dict[str, np.ndarray]) -> np.ndarray:
    """Stack basis functions in :data:`FIT_BASIS` order (shape (len(FIT_BASIS), nx))."""
    return np.stack([basis[name] for name in FIT_BASIS])


def truth_on_grid(xgrid: np.ndarray, name: str = "les_houches") -> np.ndarray:
    """The truth PDF f (not x f) in FIT_BASIS on an x-grid (x = 1 gives 0), shape (len(FIT_BASIS), nx)."""
    if name != "les_houches":
        raise ValueError(f"unknown truth PDF {name!r}")
    x = np.asarray(xgrid, float)
    xf = basis_array(les_houches_basis(x))
    return np.where(x < 1, xf / np.where(x > 0, x, 1), 0.0)


def predictions(fk: np.ndarray, pdf_basis: np.ndarray) -> np.ndarray:
    """Observables from an FK table (points, INPUT_PIDS, nx) and f in FIT_BASIS (len(FIT_BASIS), nx)."""
    return np.einsum("iak,ab,bk->i", fk, rotation(), pdf_basis)
