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

A second truth, ``reshaped`` (:func:`reshaped_flavours`), is there so that a closure test can be tuned on one truth
and reported on another: other small- and large-x exponents (outside the middle of the fit's preprocessing ranges,
which sit on the Les Houches exponents), a polynomial factor in u_v and g, a larger d̄ - ū asymmetry; its
normalisations are fixed by the same three sum rules (Euler beta functions)::

    x u_v = A_u x^0.6 (1-x)^3.5 (1 + 3x)    x d_v = A_d x^0.7 (1-x)^4.5      x g = A_g x^-0.2 (1-x)^4 (1 + 2x)
    x dbar = 0.15 x^-0.15 (1-x)^7           x ubar = (1-x)^1.5 x dbar        x s = x sbar = 0.15 x (ubar + dbar)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import beta as euler_beta

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


def reshaped_flavours(x: np.ndarray) -> dict[str, np.ndarray]:
    """Momentum densities x f of the second toy truth (module docstring), same keys as :func:`les_houches_flavours`.

    Example:
        >>> f = reshaped_flavours(np.array([0.1]))
        >>> bool(f["dbar"][0] > f["ubar"][0] > f["s"][0] > 0)
        True
    """
    x = np.asarray(x, float)
    a_u = 2.0 / (euler_beta(0.6, 4.5) + 3 * euler_beta(1.6, 4.5))  # int u_v dx = 2
    a_d = 1.0 / euler_beta(0.7, 5.5)  # int d_v dx = 1
    # momentum carried by the quarks: int x (u_v + d_v + 2 ubar + 2 dbar + 2 s) dx, with s = 0.15 (ubar + dbar)
    valence = a_u * (euler_beta(1.6, 4.5) + 3 * euler_beta(2.6, 4.5)) + a_d * euler_beta(1.7, 5.5)
    sea = 0.15 * (euler_beta(0.85, 8.0) + euler_beta(0.85, 9.5)) * (2 + 2 * 0.15)
    a_g = (1.0 - valence - sea) / (euler_beta(0.8, 5.0) + 2 * euler_beta(1.8, 5.0))
    dbar = 0.15 * x**-0.15 * (1 - x) ** 7
    ubar = (1 - x) ** 1.5 * dbar
    return {
        "uv": a_u * x**0.6 * (1 - x) ** 3.5 * (1 + 3 * x),
        "dv": a_d * x**0.7 * (1 - x) ** 4.5,
        "g": a_g * x**-0.2 * (1 - x) ** 4 * (1 + 2 * x),
        "ubar": ubar,
        "dbar": dbar,
        "s": 0.15 * (ubar + dbar),
    }


TRUTHS: dict[str, Callable[[np.ndarray], dict[str, np.ndarray]]] = {
    "les_houches": les_houches_flavours,
    "reshaped": reshaped_flavours,
}
"""Closure truths by config name (``pdf.closure.truth``): x f of the flavours at Q0."""


def truth_flavours(x: np.ndarray, name: str = "les_houches") -> dict[str, np.ndarray]:
    """Momentum densities x f of a closure truth of :data:`TRUTHS` (one clear error for an unknown name)."""
    if name not in TRUTHS:
        raise ValueError(f"unknown truth PDF {name!r} (known: {sorted(TRUTHS)})")
    return TRUTHS[name](x)


def flavour_basis(f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Momentum densities x f in :data:`FIT_BASIS` from those of the flavours (s = sbar, no charm)."""
    sea = 2 * f["ubar"] + 2 * f["dbar"]
    return {
        "g": f["g"],
        "sigma": f["uv"] + f["dv"] + sea + 2 * f["s"],
        "v": f["uv"] + f["dv"],
        "v3": f["uv"] - f["dv"],
        "t3": f["uv"] + 2 * f["ubar"] - f["dv"] - 2 * f["dbar"],
        "t8": f["uv"] + f["dv"] + sea - 4 * f["s"],
    }


def les_houches_basis(x: np.ndarray) -> dict[str, np.ndarray]:
    """Momentum densities x f of the toy set in :data:`FIT_BASIS`."""
    return flavour_basis(les_houches_flavours(x))


def truth_basis(x: np.ndarray, name: str = "les_houches") -> dict[str, np.ndarray]:
    """Momentum densities x f of a closure truth in :data:`FIT_BASIS`."""
    return flavour_basis(truth_flavours(x, name))


def basis_array(basis: dict[str, np.ndarray]) -> np.ndarray:
    """Stack basis functions in :data:`FIT_BASIS` order (shape (len(FIT_BASIS), nx))."""
    return np.stack([basis[name] for name in FIT_BASIS])


def truth_on_grid(xgrid: np.ndarray, name: str = "les_houches") -> np.ndarray:
    """The truth PDF f (not x f) in FIT_BASIS on an x-grid (x = 1 gives 0), shape (len(FIT_BASIS), nx)."""
    x = np.asarray(xgrid, float)
    with np.errstate(divide="ignore"):  # x = 0 never occurs on an FK grid; x = 1 gives 0 below
        xf = basis_array(truth_basis(x, name))
    return np.where(x < 1, xf / np.where(x > 0, x, 1), 0.0)


def predictions(fk: np.ndarray, pdf_basis: np.ndarray) -> np.ndarray:
    """Observables from an FK table (points, INPUT_PIDS, nx) and f in FIT_BASIS (len(FIT_BASIS), nx)."""
    return np.einsum("iak,ab,bk->i", fk, rotation(), pdf_basis)
