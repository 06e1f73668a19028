"""Tree-level pMSSM-19 spectrum, vectorised over points (numpy).

* gluino: |M3|;
* neutralinos: the 4x4 mass matrix in the basis (bino, wino, higgsino_d, higgsino_u),

  .. code-block:: text

      (  M1        0       -cb sw mZ   sb sw mZ )
      (  0         M2       cb cw mZ  -sb cw mZ )
      ( -cb sw mZ  cb cw mZ   0        -mu      )
      (  sb sw mZ -sb cw mZ  -mu        0       )

  diagonalised with ``numpy.linalg.eigh``; masses are the absolute eigenvalues, ordered; the bino/wino/higgsino
  fractions of the lightest are the squares of its eigenvector components;
* charginos: the singular values of X = ((M2, sqrt2 mW sb), (sqrt2 mW cb, mu));
* sfermions: soft mass squared + fermion mass squared + D-term mZ^2 cos2b (T3 - Q sw^2) (left) or
  mZ^2 cos2b Q sw^2 (right); the third generation mixes left and right with m_t (At - mu cot b),
  m_b (Ab - mu tan b), m_tau (Atau - mu tan b); the first two generations are unmixed and degenerate;
* the LSP: the lightest of all sparticles. Points whose LSP is not the lightest neutralino, or with a tachyonic
  sfermion (negative mass squared), are flagged by ``lsp`` (see :data:`LSP_CODES`).

Loop corrections are not included (the masses are tree-level by design: a small, self-contained reference).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

M_Z = 91.1876
M_W = 80.379
SIN2_W = 0.23122
M_TOP = 173.0
M_BOTTOM = 4.18
M_TAU = 1.777

LSP_CODES: dict[int, str] = {
    0: "neutralino",
    1: "chargino",
    2: "gluino",
    3: "squark",
    4: "charged slepton",
    5: "sneutrino",
    -1: "tachyonic sfermion",
}
"""Value of the ``lsp`` column -> name; only 0 (the lightest neutralino) enters the training."""

MASS_COLUMNS: tuple[str, ...] = (
    "m_gluino",
    "m_chi10",
    "m_chi20",
    "m_chi30",
    "m_chi40",
    "m_chi1p",
    "m_chi2p",
    "m_uL",
    "m_uR",
    "m_dL",
    "m_dR",
    "m_squark",
    "m_st1",
    "m_st2",
    "m_sb1",
    "m_sb2",
    "m_eL",
    "m_eR",
    "m_snu",
    "m_stau1",
    "m_stau2",
    "m_snutau",
)
"""Physical masses (GeV) returned by :func:`spectrum`; ``m_squark`` is the mean first/second-generation squark."""

PDG_IDS: dict[str, int] = {
    "m_gluino": 1000021,
    "m_chi10": 1000022,
    "m_chi20": 1000023,
    "m_chi30": 1000025,
    "m_chi40": 1000035,
    "m_chi1p": 1000024,
    "m_chi2p": 1000037,
    "m_uL": 1000002,
    "m_uR": 2000002,
    "m_dL": 1000001,
    "m_dR": 2000001,
    "m_st1": 1000006,
    "m_st2": 2000006,
    "m_sb1": 1000005,
    "m_sb2": 2000005,
    "m_eL": 1000011,
    "m_eR": 2000011,
    "m_snu": 1000012,
    "m_stau1": 1000015,
    "m_stau2": 2000015,
    "m_snutau": 1000016,
}
"""SLHA MASS-block PDG id of each mass (second generation = first)."""


def neutralino_matrix(m1, m2, mu, tanb) -> np.ndarray:
    """The tree-level neutralino mass matrices, shape (n, 4, 4)."""
    m1, m2, mu, tanb = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, float)) for x in (m1, m2, mu, tanb)))
    beta = np.arctan(tanb)
    cb, sb = np.cos(beta), np.sin(beta)
    sw, cw = np.sqrt(SIN2_W), np.sqrt(1.0 - SIN2_W)
    matrix = np.zeros((len(m1), 4, 4))
    matrix[:, 0, 0] = m1
    matrix[:, 1, 1] = m2
    matrix[:, 2, 3] = matrix[:, 3, 2] = -mu
    for i, j, value in ((0, 2, -cb * sw * M_Z), (0, 3, sb * sw * M_Z), (1, 2, cb * cw * M_Z), (1, 3, -sb * cw * M_Z)):
        matrix[:, i, j] = matrix[:, j, i] = value
    return matrix


def neutralinos(m1, m2, mu, tanb) -> tuple[np.ndarray, np.ndarray]:
    """Neutralino masses (n, 4), ascending, and the lightest's (bino, wino, higgsino) fractions (n, 3)."""
    values, vectors = np.linalg.eigh(neutralino_matrix(m1, m2, mu, tanb))
    order = np.argsort(np.abs(values), axis=1)
    masses = np.take_along_axis(np.abs(values), order, axis=1)
    lightest = np.take_along_axis(vectors, order[:, None, :1], axis=2)[:, :, 0] ** 2
    return masses, np.column_stack([lightest[:, 0], lightest[:, 1], lightest[:, 2] + lightest[:, 3]])


def chargino_matrix(m2, mu, tanb) -> np.ndarray:
    """The tree-level chargino mass matrices X, shape (n, 2, 2)."""
    m2, mu, tanb = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, float)) for x in (m2, mu, tanb)))
    beta = np.arctan(tanb)
    matrix = np.empty((len(m2), 2, 2))
    matrix[:, 0, 0] = m2
    matrix[:, 0, 1] = np.sqrt(2.0) * M_W * np.sin(beta)
    matrix[:, 1, 0] = np.sqrt(2.0) * M_W * np.cos(beta)
    matrix[:, 1, 1] = mu
    return matrix


def charginos(m2, mu, tanb) -> tuple[np.ndarray, np.ndarray]:
    """Chargino masses (n, 2), ascending, and the wino fraction of the lighter one (n,)."""
    u, s, vt = np.linalg.svd(chargino_matrix(m2, mu, tanb))
    # numpy orders singular values descending: the lighter chargino is index 1
    wino = 0.5 * (u[:, 0, 1] ** 2 + vt[:, 1, 0] ** 2)
    return s[:, ::-1], wino


def _mixed_pair(ll: np.ndarray, rr: np.ndarray, lr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared masses (lighter, heavier) of a 2x2 symmetric sfermion mass-squared matrix."""
    mean = 0.5 * (ll + rr)
    root = np.sqrt((0.5 * (ll - rr)) ** 2 + lr**2)
    return mean - root, mean + root


def _mass(squared: np.ndarray) -> np.ndarray:
    """Sqrt of a mass squared; tachyonic (negative) entries become NaN."""
    with np.errstate(invalid="ignore"):
        return np.where(squared >= 0, np.sqrt(np.abs(squared)), np.nan)


def spectrum(points: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Tree-level masses of pMSSM-19 points.

    Args:
        points: Parameter -> array (the 19 of :data:`~ml4hep.susy.scan.PARAMETERS`).

    Returns:
        :data:`MASS_COLUMNS` -> masses (GeV; NaN for a tachyonic sfermion), ``bino``, ``wino``, ``higgsino``
        (fractions of the lightest neutralino), ``wino_chi1p`` (wino fraction of the lighter chargino) and ``lsp``
        (see :data:`LSP_CODES`).
    """
    p = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in points.items()}
    tanb, mu = p["tanb"], p["mu"]
    beta = np.arctan(tanb)
    c2b = np.cos(2.0 * beta)
    dz = M_Z**2 * c2b
    out: dict[str, np.ndarray] = {"m_gluino": np.abs(p["M3"])}
    n_masses, fractions = neutralinos(p["M1"], p["M2"], mu, tanb)
    for i in range(4):
        out[f"m_chi{i + 1}0"] = n_masses[:, i]
    c_masses, wino_c = charginos(p["M2"], mu, tanb)
    out["m_chi1p"], out["m_chi2p"] = c_masses[:, 0], c_masses[:, 1]
    # first/second generation: unmixed
    squared = {
        "m_uL": p["mQ1"] ** 2 + (0.5 - 2.0 / 3.0 * SIN2_W) * dz,
        "m_uR": p["mU1"] ** 2 + (2.0 / 3.0 * SIN2_W) * dz,
        "m_dL": p["mQ1"] ** 2 + (-0.5 + 1.0 / 3.0 * SIN2_W) * dz,
        "m_dR": p["mD1"] ** 2 + (-1.0 / 3.0 * SIN2_W) * dz,
        "m_eL": p["mL1"] ** 2 + (-0.5 + SIN2_W) * dz,
        "m_eR": p["mE1"] ** 2 + (-SIN2_W) * dz,
        "m_snu": p["mL1"] ** 2 + 0.5 * dz,
        "m_snutau": p["mL3"] ** 2 + 0.5 * dz,
    }
    squared["m_st1"], squared["m_st2"] = _mixed_pair(
        p["mQ3"] ** 2 + M_TOP**2 + (0.5 - 2.0 / 3.0 * SIN2_W) * dz,
        p["mU3"] ** 2 + M_TOP**2 + (2.0 / 3.0 * SIN2_W) * dz,
        M_TOP * (p["At"] - mu / tanb),
    )
    squared["m_sb1"], squared["m_sb2"] = _mixed_pair(
        p["mQ3"] ** 2 + M_BOTTOM**2 + (-0.5 + 1.0 / 3.0 * SIN2_W) * dz,
        p["mD3"] ** 2 + M_BOTTOM**2 + (-1.0 / 3.0 * SIN2_W) * dz,
        M_BOTTOM * (p["Ab"] - mu * tanb),
    )
    squared["m_stau1"], squared["m_stau2"] = _mixed_pair(
        p["mL3"] ** 2 + M_TAU**2 + (-0.5 + SIN2_W) * dz,
        p["mE3"] ** 2 + M_TAU**2 + (-SIN2_W) * dz,
        M_TAU * (p["Atau"] - mu * tanb),
    )
    tachyon = np.zeros(len(tanb), dtype=bool)
    for name, value in squared.items():
        out[name] = _mass(value)
        tachyon |= value < 0
    out["m_squark"] = 0.25 * (out["m_uL"] + out["m_uR"] + out["m_dL"] + out["m_dR"])
    out = {name: out[name] for name in MASS_COLUMNS}
    groups = {
        1: ["m_chi1p"],
        2: ["m_gluino"],
        3: ["m_uL", "m_uR", "m_dL", "m_dR", "m_st1", "m_sb1"],
        4: ["m_eL", "m_eR", "m_stau1"],
        5: ["m_snu", "m_snutau"],
    }
    lsp = np.zeros(len(tanb), dtype=np.int32)
    lightest = out["m_chi10"].copy()
    for code, names in groups.items():
        group_min = np.fmin.reduce(np.column_stack([out[n] for n in names]), axis=1)
        lighter = group_min < lightest
        lsp[lighter] = code
        lightest = np.where(lighter, group_min, lightest)
    lsp[tachyon] = -1
    out.update(bino=fractions[:, 0], wino=fractions[:, 1], higgsino=fractions[:, 2], wino_chi1p=wino_c, lsp=lsp)
    return out


def mass_block(masses: Mapping[str, np.ndarray], index: int = 0) -> dict[int, float]:
    """PDG id -> mass of one point, for an SLHA MASS block (second generation = first)."""
    block = {pdg: float(masses[name][index]) for name, pdg in PDG_IDS.items()}
    for first, second in (
        (1000001, 1000003),
        (1000002, 1000004),
        (2000001, 2000003),
        (2000002, 2000004),
        (1000011, 1000013),
        (2000011, 2000013),
        (1000012, 1000014),
    ):
        block[second] = block[first]
    return block
