"""Columnar event-record helpers on a hand-made toy event."""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

from ml4hep.generate.record import FlatRecord, delta_phi, find_ancestor, jagged, sum_by_group

vector.register_awkward()


def toy_batch():
    """Two events. Event 0: system, proton, proton, Z(23) -> tau-(15) tau+(-15); tau- -> nu_tau pi- pi0, pi0 -> 2 gamma;
    tau+ -> nubar_tau e+ nu_e; a hadron from a gluon. Event 1: system, gluon, hadron."""
    rows0 = [  # id, status, mother1, daughter1, daughter2, px, py, pz, e
        (90, -11, 0, 0, 0, 0, 0, 0, 14000),
        (2212, -12, 0, 0, 0, 0, 0, 7000, 7000),
        (2212, -12, 0, 0, 0, 0, 0, -7000, 7000),
        (23, -22, 1, 4, 5, 0, 0, 0, 91),
        (15, -23, 3, 6, 8, 40, 0, 0, 45.5),
        (-15, -23, 3, 9, 11, -40, 0, 0, 45.5),
        (16, 91, 4, 0, 0, 10, 0, 0, 10),
        (-211, 91, 4, 0, 0, 20, 0, 0, 20),
        (111, -91, 4, 12, 13, 10, 0, 0, 10),
        (-16, 91, 5, 0, 0, -10, 0, 0, 10),
        (-11, 91, 5, 0, 0, -20, 0, 0, 20),
        (12, 91, 5, 0, 0, -10, 0, 0, 10),
        (22, 91, 8, 0, 0, 5, 0, 0, 5),
        (22, 91, 8, 0, 0, 5, 0, 0, 5),
        (21, -31, 1, 15, 15, 0, 3, 0, 3),
        (211, 83, 14, 0, 0, 0, 3, 0, 3),
    ]
    rows1 = [(90, -11, 0, 0, 0, 0, 0, 0, 14000), (21, -31, 0, 2, 2, 1, 0, 0, 1), (211, 83, 1, 0, 0, 1, 0, 0, 1)]

    names = ("id", "status", "mother1", "daughter1", "daughter2")

    def particle(row):
        return {
            **dict(zip(names, row[:5], strict=True)),
            "p": dict(zip(("px", "py", "pz", "e"), map(float, row[5:]), strict=True)),
        }

    return ak.Array([[particle(r) for r in rows0], [particle(r) for r in rows1]])


def test_flatten_uses_global_indices():
    rec = FlatRecord.from_batch(toy_batch())
    assert rec.n_events == 2 and rec.counts.tolist() == [16, 3]
    assert rec.mother1[16 + 2] == 16 + 1
    assert rec.is_final.sum() == 8 + 1


def test_tau_descendants_are_found_through_intermediate_decays():
    rec = FlatRecord.from_batch(toy_batch())
    final = np.flatnonzero(rec.is_final)
    ancestor = find_ancestor(rec, final, (15,))
    by_particle = dict(zip(final.tolist(), ancestor.tolist(), strict=True))
    assert by_particle[12] == 4 and by_particle[13] == 4  # photons of the pi0 of the tau-
    assert by_particle[7] == 4 and by_particle[10] == 5
    assert by_particle[15] == -1 and by_particle[18] == -1  # hadrons from gluons: the walk stops at the parton


def test_visible_tau_momentum_by_group():
    rec = FlatRecord.from_batch(toy_batch())
    final = np.flatnonzero(rec.is_final)
    ancestor = find_ancestor(rec, final, (15,))
    visible = ~np.isin(rec.abs_pid[final], (12, 14, 16))
    group = np.where(visible & (ancestor == 4), 0, np.where(visible & (ancestor == 5), 1, -1))
    (px,) = sum_by_group(group, 2, rec.px[final])
    assert px.tolist() == [30.0, -20.0]  # pi- + 2 photons; e+ only


def test_last_copy_and_helpers():
    rec = FlatRecord.from_batch(toy_batch())
    last = rec.is_last_copy()
    assert last[4] and last[5] and last[3]
    assert not last[6]
    np.testing.assert_allclose(delta_phi(np.pi - 0.1, -np.pi + 0.1), -0.2)
    grouped = jagged({"x": np.array([1.0, 2.0, 3.0])}, np.array([0, 0, 2]), 3)
    assert grouped.x.tolist() == [[1.0, 2.0], [], [3.0]]
