"""Theory as a linear map: FK tables from the PDF at Q0 on an x-grid to DIS observables, built with eko and yadism.

For every dataset the FK table ``fk`` of shape (points, input flavours, grid points) gives the observable as
``O_i = sum_{a,k} fk[i, a, k] f_a(x_k, Q0)`` with ``f`` the PDF (not x f) of the input flavours
:data:`INPUT_PIDS` (g, light quarks and antiquarks, charm; bottom, top and photon vanish at Q0 here).

How it is built:

1. eko evolves (at the settings' ``order``, LO or NLO) from Q0 to a modest set of Q^2 nodes per dataset: nodes
   evenly spaced in ln Q^2 (spacing from the settings) inside each range of fixed flavour number, the bottom
   threshold being a node on both sides. Datasets have hundreds of distinct Q^2 values; the evolution operator is
   smooth in ln Q^2 within a flavour range, so it is interpolated there with a cubic spline (quadratic or linear
   with fewer nodes).
2. The observable's coefficients ``C[i, p, j]`` (point, output flavour, grid point: ``O_i = sum C f(x_j, Q_i^2)``)
   are contracted with the operator at every point. At LO they are the parton-model formula,
   F2 = x sum_q e_q^2 (q + qbar)(x, Q^2), reached through eko's own x-space interpolation (photon exchange, no F_L:
   the reduced cross-section equals F2 at this order). At NLO they come from yadism (zero-mass VFNS, photon
   exchange, no target-mass corrections): ``C = sum_k a_s(Q^2)^k C_k`` with a_s = alpha_s / (4 pi) from eko's
   running coupling at the same order; reduced cross-sections are F2 - y^2 / (1 + (1 - y)^2) F_L.

eko compiles with numba on first use (13-24 minutes per fresh environment), so the tables of the shipped settings are
kept as small versioned files in the repository under ``theory/fk/<hash>/``, where ``<hash>`` is :func:`settings_hash`
of the theory settings: the workflow rebuilds them only when the settings change (a new hash, a new folder).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ml4hep.errors import ConfigError, InputFileError

log = logging.getLogger(__name__)

FK_FORMAT_VERSION = 1
"""Bump when the content or layout of an FK file changes (it enters the hash)."""

EKO_PIDS = (22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6)
"""eko's flavour basis (order of the operator's flavour axes)."""

INPUT_PIDS = (21, -4, -3, -2, -1, 1, 2, 3, 4)
"""Input flavours at Q0 kept in an FK table (b, t and the photon are zero at Q0 = 1.65 GeV)."""

CHARGES2 = {1: 1 / 9, 2: 4 / 9, 3: 1 / 9, 4: 4 / 9, 5: 1 / 9, 6: 4 / 9}

POSITIVITY_OBSERVABLES = ("xup", "xdp", "xsp", "xg")
"""Positivity pseudo-observables: x(u+ubar), x(d+dbar), x(s+sbar) and x g at the positivity Q^2."""


def settings_hash(settings: Mapping[str, Any], dataset_versions: Mapping[str, str] | None = None) -> str:
    """Twelve hex digits identifying the theory settings (and the FK format version).

    Args:
        settings: Theory settings (the config's ``pdf.theory`` block).
        dataset_versions: Optional extra identity (e.g. the nnpdf-data version) mixed into the hash.

    Returns:
        The hash, used as the FK folder name.
    """
    content = {"format": FK_FORMAT_VERSION, "settings": _canonical(settings), "extra": dict(dataset_versions or {})}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _canonical(value: Any) -> Any:
    """Numbers as floats (so that 5 and 5.0 in a config give the same hash), mappings with sorted keys."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return float(value)


def xgrid(settings: Mapping[str, Any]) -> np.ndarray:
    """The interpolation x-grid: log-spaced from x_min to x_mid, linear from x_mid to 1 (1 included)."""
    grid = settings["xgrid"]
    low = np.geomspace(grid["x_min"], grid["x_mid"], int(grid["n_log"]))
    high = np.linspace(grid["x_mid"], 1.0, int(grid["n_lin"]) + 1)
    return np.unique(np.round(np.concatenate([low, high]), 14))


def thresholds(settings: Mapping[str, Any]) -> list[float]:
    """Squared heavy-quark masses (matching scales) in GeV^2: c, b, t."""
    masses = settings["masses"]
    return [float(masses[q]) ** 2 for q in ("c", "b", "t")]


def nf_at(q2: float, settings: Mapping[str, Any]) -> int:
    """Active flavours at Q^2 (at most 5: no top in these fits)."""
    return 3 + sum(q2 >= t for t in thresholds(settings)[:2])


def q2_nodes(q2: np.ndarray, settings: Mapping[str, Any]) -> list[tuple[float, int]]:
    """(Q^2, nf) evolution nodes covering the points' Q^2, evenly spaced in ln Q^2 per flavour range.

    Args:
        q2: The points' Q^2 (all above Q0^2).
        settings: Theory settings (``q2_spacing`` = largest node spacing in ln Q^2).

    Returns:
        Sorted nodes: per flavour number, from the smallest to the largest Q^2 of the points in that range.
    """
    nodes: list[tuple[float, int]] = []
    for nf in sorted({nf_at(float(v), settings) for v in q2}):
        inside = np.array([v for v in q2 if nf_at(float(v), settings) == nf])
        lo, hi = math.log(inside.min()), math.log(inside.max())
        count = 1 if hi - lo <= 0 else max(2, math.ceil((hi - lo) / float(settings["q2_spacing"])) + 1)
        nodes.extend((float(v), nf) for v in np.exp(np.linspace(lo, hi, count)))
    return nodes


ORDERS = {"LO": 0, "NLO": 1}
"""Perturbative orders: the highest power of a_s in the coefficient functions (eko's order is this plus one)."""

MIN_NLO_EV_OP_ITERATIONS = 40
"""Fewer evolution steps at NLO leave 4-40% errors in the large-x sea against the Les Houches NLO table."""

OBSERVABLES = {"F2": "F2_total", "SIGMARED": "XSHERANC_total"}
"""yadism observable of each commondata observable kind (the name's last ``-`` part)."""


def perturbative_order(settings: Mapping[str, Any]) -> int:
    """The settings' order as the highest power of a_s (LO: 0, NLO: 1).

    Raises:
        ConfigError: For an unknown order, or NLO with too few evolution steps.
    """
    order = settings["order"]
    if order not in ORDERS:
        raise ConfigError(f"config key 'pdf.theory.order': {order!r} is not one of {sorted(ORDERS)}")
    iterations = int(settings["ev_op_iterations"])
    if ORDERS[order] >= 1 and iterations < MIN_NLO_EV_OP_ITERATIONS:
        raise ConfigError(
            f"config key 'pdf.theory.ev_op_iterations': {iterations} is too few at {order} "
            f"(at least {MIN_NLO_EV_OP_ITERATIONS}; fewer leave percent-level evolution errors)"
        )
    return ORDERS[order]


def observable_kind(dataset: str) -> str:
    """The DIS observable of a dataset from its name (``..._EM-F2`` is F2, ``..._EP-SIGMARED`` a reduced xsec).

    Raises:
        ConfigError: For an observable the theory has no coefficient functions for.
    """
    kind = dataset.rsplit("-", 1)[-1]
    if kind not in OBSERVABLES or "_NC_" not in dataset:
        raise ConfigError(
            f"config key 'pdf.datasets': {dataset!r} is neither a neutral-current F2 nor a "
            "neutral-current reduced cross-section (SIGMARED) set; the theory has no coefficient "
            "functions for it"
        )
    return kind


def _eko_theory_card(settings: Mapping[str, Any]) -> Any:
    from eko.runner import TheoryCard
    from ekobox.cards import example

    theory = example.raw_theory()
    theory["order"] = [perturbative_order(settings) + 1, 0]
    reference = settings.get("alphas_reference")  # (alpha_s, scale in GeV, nf): benchmarks only, not in the config
    alphas, scale, nf_ref = reference if reference else (settings["alphas_mz"], settings["mz"], 5)
    theory["couplings"] = {"alphas": float(alphas), "alphaem": 0.007496252, "ref": (float(scale), int(nf_ref))}
    theory["heavy"] = {
        "masses": [[float(settings["masses"][q]), float("nan")] for q in ("c", "b", "t")],
        "masses_scheme": "POLE",
        "matching_ratios": [1.0, 1.0, 1.0],
    }
    return TheoryCard.from_dict(theory)


def _eko_cards(settings: Mapping[str, Any], nodes: Sequence[tuple[float, int]]) -> tuple[Any, Any]:
    from eko.runner import OperatorCard
    from ekobox.cards import example

    operator = example.raw_operator()
    q0 = float(settings["q0"])
    operator["init"] = (q0, nf_at(q0**2, settings))
    operator["mugrid"] = [(float(math.sqrt(q2)), int(nf)) for q2, nf in nodes]
    operator["xgrid"] = [float(v) for v in xgrid(settings)]
    configs = dict(operator["configs"])
    configs.update(
        interpolation_polynomial_degree=int(settings["interpolation_degree"]),
        interpolation_is_log=True,
        ev_op_iterations=int(settings["ev_op_iterations"]),
        n_integration_cores=1,
    )
    operator["configs"] = configs
    return _eko_theory_card(settings), OperatorCard.from_dict(operator)


def evolve(settings: Mapping[str, Any], nodes: Sequence[tuple[float, int]]) -> dict[tuple[float, int], np.ndarray]:
    """Run eko from Q0 to the nodes.

    Args:
        settings: Theory settings.
        nodes: (Q^2, nf) targets.

    Returns:
        (Q^2, nf) -> operator of shape (14, nx, 14, nx) in eko's flavour basis :data:`EKO_PIDS`.
    """
    import eko

    theory, operator = _eko_cards(settings, nodes)
    start = time.perf_counter()
    operators: dict[tuple[float, int], np.ndarray] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "eko.tar"
        eko.runner.solve(theory, operator, path)
        with eko.EKO.read(path) as evolution:
            available = list(evolution.evolgrid)
            for q2, nf in nodes:
                key = min((ep for ep in available if ep[1] == nf), key=lambda ep: abs(ep[0] - q2))
                operators[(q2, nf)] = np.array(evolution[key].operator)
    log.info("eko: %d nodes on %d x points in %.1f s", len(nodes), len(xgrid(settings)), time.perf_counter() - start)
    return operators


def interpolation_matrix(x: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
    """The x-space interpolation of eko from the grid to the points' x: f(x_i) = sum_k W[i, k] f(x_k)."""
    from eko.interpolation import InterpolatorDispatcher, XGrid

    dispatcher = InterpolatorDispatcher(
        XGrid(xgrid(settings), log=True), int(settings["interpolation_degree"]), mode_N=False
    )
    return np.asarray(dispatcher.get_interpolation(np.asarray(x, float)))


def f2_weights() -> np.ndarray:
    """Output-flavour weights of the LO F2 (per x): e_q^2 for quarks and antiquarks of every flavour."""
    return np.array([CHARGES2.get(abs(pid), 0.0) if pid not in (21, 22) else 0.0 for pid in EKO_PIDS])


def positivity_weights(observable: str) -> np.ndarray:
    """Output-flavour weights of a positivity pseudo-observable (times x)."""
    chosen = {"xup": (2, -2), "xdp": (1, -1), "xsp": (3, -3), "xg": (21,)}[observable]
    return np.array([1.0 if pid in chosen else 0.0 for pid in EKO_PIDS])


def parton_model_coefficients(x: np.ndarray, weights: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
    """Coefficients of an observable x sum_p w_p f_p(x, Q^2): ``C[i, p, j] = x_i w_ip W_ij`` (W: x interpolation).

    Args:
        x: Points' x.
        weights: Output-flavour weights per point, shape (points, 14), in eko's basis :data:`EKO_PIDS`.
        settings: Theory settings.

    Returns:
        Coefficients of shape (points, 14, grid points).
    """
    interp = interpolation_matrix(x, settings)
    return np.asarray(x)[:, None, None] * weights[:, :, None] * interp[:, None, :]


def _eko_running_coupling(settings: Mapping[str, Any]) -> Any:
    """The running strong coupling of eko at the settings' order, masses and thresholds (the evolution's own)."""
    from eko.couplings import Couplings, couplings_mod_ev
    from eko.io.types import EvolutionMethod

    theory = _eko_theory_card(settings)
    return Couplings(
        couplings=theory.couplings,
        order=theory.order,
        method=couplings_mod_ev(EvolutionMethod.ITERATE_EXACT),
        masses=[m**2 for m, _ in theory.heavy.masses],
        hqm_scheme=theory.heavy.masses_scheme,
        thresholds_ratios=[1.0, 1.0, 1.0],
    )


def strong_coupling(settings: Mapping[str, Any], q2: np.ndarray) -> np.ndarray:
    """a_s = alpha_s / (4 pi) at the points' Q^2, from eko's running at the settings' order (the evolution's own)."""
    running = _eko_running_coupling(settings)
    return np.array([running.a_s(float(v), nf_to=nf_at(float(v), settings)) for v in q2])


def _yadism_theory(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The theory card for yadism: NNPDF theory 200 (nnpdf-data) with the settings' order, masses and coupling.

    The scheme is zero-mass VFNS without target-mass corrections, as the LO formula.
    """
    from nnpdf_data import THEORY_CARDS_PATH, theorydbutils
    from nnpdf_data.theory import TheoryCard

    raw = theorydbutils.fetch_theory(THEORY_CARDS_PATH, 200)
    masses = settings["masses"]
    raw.update(
        PTO=perturbative_order(settings),
        FNS="ZM-VFNS",
        TMC=0,
        IC=1,
        Q0=float(settings["q0"]),
        mc=float(masses["c"]),
        Qmc=float(masses["c"]),
        mb=float(masses["b"]),
        Qmb=float(masses["b"]),
        mt=float(masses["t"]),
        Qmt=float(masses["t"]),
        alphas=float(settings["alphas_mz"]),
        Qref=float(settings["mz"]),
        MZ=float(settings["mz"]),
        ModEv="EXA",
    )
    return {key: value for key, value in TheoryCard(**raw).asdict().items() if value is not None}


def _run_quietly(yadism: Any, theory: Mapping[str, Any], runcard: Mapping[str, Any]) -> Any:
    """Run yadism with its console silenced and the ``yadism``/``eko`` loggers restored afterwards.

    yadism resets those loggers on every run, prints a banner, and logs a CRITICAL "NaNs are encountered" line for
    every point and order after its clean-up whether or not it found any (finite values are checked by the caller).
    """
    import yadism.log

    loggers = [logging.getLogger(name) for name in ("yadism", "eko")]
    saved = [(logger.level, list(logger.handlers), logger.propagate) for logger in loggers]
    yadism.log.silent_mode = True
    loggers[0].propagate = False
    try:
        return yadism.run_yadism(dict(theory), dict(runcard))
    finally:
        for logger, (level, handlers, propagate) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.handlers = handlers
            logger.propagate = propagate


def yadism_coefficients(
    settings: Mapping[str, Any], kind: str, x: np.ndarray, q2: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Coefficients ``C[i, p, j]`` of F2 or the reduced cross-section from yadism, summed over orders of a_s.

    Args:
        settings: Theory settings (order, masses, coupling, x-grid).
        kind: ``F2`` or ``SIGMARED`` (see :data:`OBSERVABLES`).
        x: Points' x.
        q2: Points' Q^2.
        y: Points' inelasticity (enters the reduced cross-section through F_L).

    Returns:
        Coefficients of shape (points, 14, grid points) in eko's basis :data:`EKO_PIDS`.

    Raises:
        ValueError: If yadism returns non-finite coefficients at a point.
    """
    import yadism

    name = OBSERVABLES[kind]
    grid = [float(v) for v in xgrid(settings)]
    runcard = {
        "observables": {
            name: [{"x": float(a), "Q2": float(b), "y": float(c)} for a, b, c in zip(x, q2, y, strict=True)]
        },
        "prDIS": "EM",
        "ProjectileDIS": "electron",
        "PolarizationDIS": 0.0,
        "TargetDIS": "proton",
        "PropagatorCorrection": 0.0,
        "NCPositivityCharge": None,
        "interpolation_xgrid": grid,
        "interpolation_polynomial_degree": int(settings["interpolation_degree"]),
        "interpolation_is_log": True,
    }
    output = _run_quietly(yadism, _yadism_theory(settings), runcard)
    order = [list(output["pids"]).index(pid) for pid in EKO_PIDS]
    a_s = strong_coupling(settings, q2)
    coefficients = np.zeros((len(x), len(EKO_PIDS), len(grid)))
    for i, point in enumerate(output[name]):
        for (power_s, power_em, log_r, log_f), (values, _) in point.orders.items():
            if power_em or log_r or log_f:  # no QED; scale logarithms vanish at central scales
                continue
            values = np.asarray(values)[order]
            if not np.all(np.isfinite(values)):
                raise ValueError(f"yadism: non-finite {name} coefficients at x = {x[i]}, Q^2 = {q2[i]}")
            coefficients[i] += a_s[i] ** power_s * values
    return coefficients


def observable_coefficients(
    settings: Mapping[str, Any], kind: str, x: np.ndarray, q2: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Coefficients of a DIS observable at the settings' order: the parton-model formula at LO, yadism beyond."""
    if perturbative_order(settings) == 0:
        return parton_model_coefficients(x, np.tile(f2_weights(), (len(x), 1)), settings)
    return yadism_coefficients(settings, kind, x, q2, y)


def contract(
    operators: Mapping[tuple[float, int], np.ndarray],
    q2: np.ndarray,
    coefficients: np.ndarray,
    settings: Mapping[str, Any],
) -> np.ndarray:
    """FK table from evolution operators at nodes and the observable's coefficients at the points.

    The operator is interpolated in ln Q^2 per flavour range to each point's Q^2, then
    ``fk[i, a, k] = sum_{p, j} C[i, p, j] E_i[p, j, a, k]``.

    Args:
        operators: (Q^2, nf) -> eko operator (14, nx, 14, nx).
        q2: Points' Q^2.
        coefficients: ``C[i, p, j]`` of shape (points, 14, nx) (see :func:`parton_model_coefficients`).
        settings: Theory settings.

    Returns:
        FK table of shape (points, len(INPUT_PIDS), nx).
    """
    from scipy.interpolate import make_interp_spline

    inputs = [EKO_PIDS.index(pid) for pid in INPUT_PIDS]
    fk = np.zeros((len(q2), len(INPUT_PIDS), coefficients.shape[2]))
    nodes = sorted(operators)
    for nf in sorted({nf for _, nf in nodes}):
        segment = [node for node in nodes if node[1] == nf]
        rows = np.flatnonzero([nf_at(float(v), settings) == nf for v in q2])
        if not len(rows):
            continue
        # stack (nodes, 14 out, nx out, 9 in, nx in)
        stack = np.stack([operators[node][:, :, inputs, :] for node in segment])
        log_nodes = np.log([node[0] for node in segment])
        if len(segment) == 1:
            at_points = np.repeat(stack, len(rows), axis=0)
        else:
            spline = make_interp_spline(log_nodes, stack, k=min(3, len(segment) - 1), axis=0)
            at_points = spline(np.clip(np.log(q2[rows]), log_nodes[0], log_nodes[-1]))
        fk[rows] = np.einsum("ipj,ipjak->iak", coefficients[rows], at_points)
    return fk


def build_dataset_fk(
    settings: Mapping[str, Any], name: str, x: np.ndarray, q2: np.ndarray, y: np.ndarray, index: np.ndarray
) -> dict[str, np.ndarray]:
    """FK table of one DIS dataset for its points inside the theory's domain (Q^2 > Q0^2, x >= x_min).

    Args:
        settings: Theory settings.
        name: Dataset name (its observable kind from :func:`observable_kind`; stored in the file).
        x: All points' x.
        q2: All points' Q^2.
        y: All points' inelasticity.
        index: The points' numbers in the commondata file.

    Returns:
        Arrays to store: ``fk``, ``index`` (commondata point numbers covered), ``x``, ``q2``, ``xgrid``,
        ``input_pids``, ``name``, ``seconds``.
    """
    start = time.perf_counter()
    kind = observable_kind(name)
    inside = (q2 > float(settings["q0"]) ** 2) & (x >= float(settings["xgrid"]["x_min"])) & (x < 1)
    nodes = q2_nodes(q2[inside], settings)
    log.info(
        "%s (%s, %s): %d of %d points in the theory domain, %d Q^2 nodes",
        name,
        kind,
        settings["order"],
        inside.sum(),
        len(x),
        len(nodes),
    )
    coefficients = observable_coefficients(settings, kind, x[inside], q2[inside], y[inside])
    operators = evolve(settings, nodes)
    fk = contract(operators, q2[inside], coefficients, settings)
    return {
        "fk": fk,
        "index": np.asarray(index)[inside],
        "x": x[inside],
        "q2": q2[inside],
        "xgrid": xgrid(settings),
        "input_pids": np.array(INPUT_PIDS),
        "name": np.asarray(name),
        "seconds": np.asarray(time.perf_counter() - start),
    }


def positivity_kinematics(settings: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, Q^2, observable index) of the positivity pseudo-points: every observable at every x."""
    pos = settings["positivity"]
    xs = np.geomspace(float(pos["x_min"]), float(pos["x_max"]), int(pos["points"]))
    x = np.tile(xs, len(POSITIVITY_OBSERVABLES))
    which = np.repeat(np.arange(len(POSITIVITY_OBSERVABLES)), len(xs))
    return x, np.full(len(x), float(pos["q2"])), which


def build_positivity_fk(settings: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """FK table of the positivity pseudo-observables (:data:`POSITIVITY_OBSERVABLES`) at the positivity Q^2."""
    start = time.perf_counter()
    x, q2, which = positivity_kinematics(settings)
    operators = evolve(settings, q2_nodes(q2, settings))
    weights = np.stack([positivity_weights(POSITIVITY_OBSERVABLES[k]) for k in which])
    fk = contract(operators, q2, parton_model_coefficients(x, weights, settings), settings)
    return {
        "fk": fk,
        "index": np.arange(len(x)),
        "x": x,
        "q2": q2,
        "observable": which,
        "xgrid": xgrid(settings),
        "input_pids": np.array(INPUT_PIDS),
        "name": np.asarray("POSITIVITY"),
        "seconds": np.asarray(time.perf_counter() - start),
    }


def build_evolution(settings: Mapping[str, Any], q: float) -> dict[str, np.ndarray]:
    """The evolution operator from Q0 to Q on the grid (output: 14 eko flavours; input: :data:`INPUT_PIDS`)."""
    start = time.perf_counter()
    q2 = float(q) ** 2
    node = (q2, nf_at(q2, settings))
    operator = evolve(settings, [node])[node]
    inputs = [EKO_PIDS.index(pid) for pid in INPUT_PIDS]
    return {
        "operator": operator[:, :, inputs, :],
        "q": np.asarray(float(q)),
        "xgrid": xgrid(settings),
        "output_pids": np.array(EKO_PIDS),
        "input_pids": np.array(INPUT_PIDS),
        "seconds": np.asarray(time.perf_counter() - start),
    }


LHAPDF_PIDS = (-5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5)
"""Output flavours of the LHAPDF grids (the top and the photon are zero in these fits and left out)."""


def lhapdf_subgrids(settings: Mapping[str, Any], q_knots: Sequence[float]) -> list[list[tuple[float, int]]]:
    """The (Q, nf) knots of the LHAPDF grid, one list per range of fixed flavour number.

    The knots are Q0, the configured ``q_knots`` above Q0 and every heavy-quark threshold between them; a threshold
    closes one subgrid and opens the next (LHAPDF's convention, so that the grid is discontinuous there as the
    variable-flavour evolution is).

    Args:
        settings: Theory settings (``q0``, ``masses``).
        q_knots: Scales in GeV above Q0.

    Returns:
        Subgrids of (Q in GeV, nf), each in increasing Q.

    Example:
        >>> settings = {"q0": 1.65, "masses": {"c": 1.51, "b": 4.92, "t": 172.5}}
        >>> [[q for q, _ in grid] for grid in lhapdf_subgrids(settings, [3.0, 10.0])]
        [[1.65, 3.0, 4.92], [4.92, 10.0]]
    """
    q0 = float(settings["q0"])
    top = max(float(q) for q in q_knots)
    edges = [math.sqrt(t) for t in thresholds(settings)[:2] if q0 < math.sqrt(t) < top]
    knots = sorted({q0, *(float(q) for q in q_knots if float(q) > q0), *edges})
    subgrids: list[list[tuple[float, int]]] = [[]]
    for q in knots:
        if q in edges:  # the last knot below the threshold, then the first above it
            subgrids[-1].append((q, nf_at(q**2, settings) - 1))
            subgrids.append([])
        subgrids[-1].append((q, nf_at(q**2, settings)))
    return subgrids


def build_lhapdf_evolution(settings: Mapping[str, Any], q_knots: Sequence[float]) -> dict[str, np.ndarray]:
    """The evolution operators from Q0 to every knot of the LHAPDF grid, and alpha_s there.

    Args:
        settings: Theory settings.
        q_knots: Scales in GeV above Q0 (:func:`lhapdf_subgrids` adds Q0 and the thresholds).

    Returns:
        ``operator`` of shape (knots, :data:`LHAPDF_PIDS`, nx, :data:`INPUT_PIDS`, nx), ``q`` and ``nf`` per knot,
        ``subgrid`` (the subgrid of each knot), ``alphas`` (alpha_s at each knot, with the knot's nf), ``xgrid``,
        the flavour lists and the requested ``q_knots``.
    """
    start = time.perf_counter()
    knots = [knot for grid in lhapdf_subgrids(settings, q_knots) for knot in grid]
    subgrid = [number for number, grid in enumerate(lhapdf_subgrids(settings, q_knots)) for _ in grid]
    nodes = [(q**2, nf) for q, nf in knots]
    operators = evolve(settings, nodes)
    outputs = [EKO_PIDS.index(pid) for pid in LHAPDF_PIDS]
    inputs = [EKO_PIDS.index(pid) for pid in INPUT_PIDS]
    operator = np.stack([operators[node][np.ix_(outputs, range(len(xgrid(settings))), inputs)] for node in nodes])
    alphas = 4 * math.pi * _strong_coupling_with_nf(settings, nodes)
    return {
        "operator": operator,
        "q": np.array([q for q, _ in knots]),
        "nf": np.array([nf for _, nf in knots]),
        "subgrid": np.array(subgrid),
        "alphas": alphas,
        "q_knots": np.array([float(q) for q in q_knots]),
        "xgrid": xgrid(settings),
        "output_pids": np.array(LHAPDF_PIDS),
        "input_pids": np.array(INPUT_PIDS),
        "seconds": np.asarray(time.perf_counter() - start),
    }


def _strong_coupling_with_nf(settings: Mapping[str, Any], nodes: Sequence[tuple[float, int]]) -> np.ndarray:
    """a_s at each (Q^2, nf) node with that nf (both sides of a threshold), from eko's running."""
    running = _eko_running_coupling(settings)
    return np.array([running.a_s(float(q2), nf_to=int(nf)) for q2, nf in nodes])


def save_table(content: Mapping[str, np.ndarray], path: str | Path, settings: Mapping[str, Any]) -> Path:
    """Write an FK table (compressed npz, float64) with the settings as JSON text inside."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial.npz")
    np.savez_compressed(partial, settings=np.asarray(json.dumps(settings, sort_keys=True)), **content)
    partial.replace(path)
    return path


def load_table(path: str | Path) -> dict[str, np.ndarray]:
    """Read an FK table written by :func:`save_table` (no pickles)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(str(path), "FK table does not exist (run the pdf_theory rule to build it)")
    with np.load(path, allow_pickle=False) as content:
        return {k: content[k] for k in content.files}


def build_table(
    kind: str,
    settings: Mapping[str, Any],
    output: str | Path,
    *,
    dataset: str | None = None,
    variant: str | None = "legacy",
    evolve_to_q: float | None = None,
) -> Path:
    """Build one theory file, as the ``pdf_theory`` rule does.

    Args:
        kind: ``dataset`` (FK table of a commondata set), ``positivity`` or ``evolution``.
        settings: Theory settings.
        output: File to write.
        dataset: Dataset name for ``dataset``.
        variant: Commondata variant for ``dataset``.
        evolve_to_q: Target scale (GeV) for ``evolution``.

    Returns:
        The written path.
    """
    from ml4hep.pdf.commondata import load_dataset

    if kind == "dataset":
        if dataset is None:
            raise ConfigError("pdf theory: a dataset FK table needs a dataset name")
        data = load_dataset(dataset, variant)
        content = build_dataset_fk(settings, dataset, data.x, data.q2, data.y, data.index)
    elif kind == "positivity":
        content = build_positivity_fk(settings)
    elif kind == "evolution":
        content = build_evolution(settings, float(evolve_to_q if evolve_to_q is not None else 100.0))
    else:
        raise ConfigError(f"pdf theory: unknown table kind {kind!r}")
    log.info("%s: built in %.1f s", Path(output).name, float(content["seconds"]))
    return save_table(content, output, settings)
