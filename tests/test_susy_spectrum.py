import numpy as np
import pytest

from ml4hep.config import default_config
from ml4hep.susy.scan import MIN_ABS_MU, PARAMETERS, read_points, sample_points, write_csv, write_points
from ml4hep.susy.spectrum import M_TOP, M_W, M_Z, SIN2_W, chargino_matrix, charginos, neutralinos, spectrum


def heavy_point(**changes):
    """Everything at 4 TeV, no A-terms, tan beta 10, with ``changes``."""
    point = {name: 4000.0 for name in PARAMETERS}
    point.update(At=0.0, Ab=0.0, Atau=0.0, tanb=10.0)
    point.update(changes)
    return {k: np.array([float(v)]) for k, v in point.items()}


def sin2b(tanb):
    beta = np.arctan(tanb)
    return np.sin(2 * beta)


def test_pure_bino_limit():
    # |mu|, M2 >> M1: m_chi10 = M1 - mZ^2 sw^2 (M1 + mu sin2b) / (mu^2 - M1^2) + O(mZ^4 / mu^3)
    m1, mu, tanb = 150.0, 3000.0, 10.0
    masses, fractions = neutralinos([m1], [3500.0], [mu], [tanb])
    expected = m1 - M_Z**2 * SIN2_W * (m1 + mu * sin2b(tanb)) / (mu**2 - m1**2)
    assert masses[0, 0] == pytest.approx(expected, abs=0.05)
    assert fractions[0, 0] > 0.999


def test_pure_wino_limit():
    m2, mu, tanb = 300.0, 3000.0, 10.0
    masses, fractions = neutralinos([3500.0], [m2], [mu], [tanb])
    expected = m2 - M_W**2 * (m2 + mu * sin2b(tanb)) / (mu**2 - m2**2)
    assert masses[0, 0] == pytest.approx(expected, abs=0.05)
    assert fractions[0, 1] > 0.999
    c_masses, wino = charginos([m2], [mu], [tanb])
    assert c_masses[0, 0] == pytest.approx(expected, abs=0.1)  # chargino and neutralino degenerate at tree level
    assert c_masses[0, 1] == pytest.approx(mu, abs=5.0)
    assert wino[0] > 0.999


def test_pure_higgsino_limit():
    mu = 250.0
    masses, fractions = neutralinos([3500.0], [3600.0], [mu], [10.0])
    assert masses[0, 0] == pytest.approx(mu, abs=3.0)
    assert masses[0, 1] == pytest.approx(mu, abs=3.0)
    assert masses[0, 1] - masses[0, 0] < 3.0
    assert fractions[0, 2] > 0.99
    c_masses, wino = charginos([3600.0], [mu], [10.0])
    assert c_masses[0, 0] == pytest.approx(mu, abs=2.0)
    assert wino[0] < 0.01


def test_mass_matrices_match_their_invariants():
    rng = np.random.default_rng(3)
    m1, m2, mu, tanb = (
        rng.uniform(-2000, 2000, 50),
        rng.uniform(70, 2000, 50),
        rng.uniform(-2000, 2000, 50),
        rng.uniform(1, 60, 50),
    )
    masses, _ = neutralinos(m1, m2, mu, tanb)
    from ml4hep.susy.spectrum import neutralino_matrix

    singular = np.sort(np.linalg.svd(neutralino_matrix(m1, m2, mu, tanb), compute_uv=False), axis=1)
    np.testing.assert_allclose(masses, singular, rtol=1e-9)
    c_masses, _ = charginos(m2, mu, tanb)
    x = chargino_matrix(m2, mu, tanb)
    np.testing.assert_allclose((c_masses**2).sum(axis=1), np.einsum("nij,nij->n", x, x), rtol=1e-9)
    np.testing.assert_allclose(c_masses[:, 0] * c_masses[:, 1], np.abs(np.linalg.det(x)), rtol=1e-7)


def test_sfermions_dterms_and_mixing():
    tanb, mu = 10.0, 1000.0
    c2b = np.cos(2 * np.arctan(tanb))
    # no stop mixing when At = mu cot(beta)
    masses = spectrum(heavy_point(mQ3=1200.0, mU3=1500.0, At=mu / tanb, mu=mu, tanb=tanb, M1=100.0))
    assert masses["m_st1"][0] == pytest.approx(np.sqrt(1200**2 + M_TOP**2 + (0.5 - 2 / 3 * SIN2_W) * M_Z**2 * c2b))
    assert masses["m_st2"][0] == pytest.approx(np.sqrt(1500**2 + M_TOP**2 + 2 / 3 * SIN2_W * M_Z**2 * c2b))
    assert masses["m_eR"][0] == pytest.approx(np.sqrt(4000**2 - SIN2_W * M_Z**2 * c2b))
    # mixing pushes the lighter stop down
    mixed = spectrum(heavy_point(mQ3=1200.0, mU3=1500.0, At=3000.0, mu=mu, tanb=tanb, M1=100.0))
    assert mixed["m_st1"][0] < masses["m_st1"][0] - 50
    assert mixed["lsp"][0] == 0


def test_non_neutralino_lsp_and_tachyons_are_flagged():
    slepton = spectrum(heavy_point(M1=500.0, mE1=300.0))
    assert slepton["lsp"][0] == 4
    wino = spectrum(heavy_point(M1=800.0, M2=300.0))
    assert wino["lsp"][0] in (0, 1)
    gluino = spectrum(heavy_point(M1=900.0, M3=500.0))
    assert gluino["lsp"][0] == 2
    tachyon = spectrum(heavy_point(M1=100.0, mQ3=200.0, mU3=200.0, At=8000.0))
    assert tachyon["lsp"][0] == -1
    assert np.isnan(tachyon["m_st1"][0])
    assert spectrum(heavy_point(M1=100.0))["lsp"][0] == 0


def test_scan_is_seeded_and_in_range(tmp_path):
    a, b, c = sample_points(500, 1), sample_points(500, 1), sample_points(500, 2)
    assert all(np.array_equal(a[p], b[p]) for p in PARAMETERS)
    assert not np.array_equal(a["M1"], c["M1"])
    for name, (low, high) in default_config()["susy"]["scan"]["ranges"].items():
        assert a[name].min() >= low and a[name].max() <= high
    assert np.abs(a["mu"]).min() >= MIN_ABS_MU
    write_points(tmp_path / "p.root", a)
    write_csv(tmp_path / "p.csv", a)
    root, table = read_points(tmp_path / "p.root"), read_points(tmp_path / "p.csv")
    for name in PARAMETERS:
        np.testing.assert_array_equal(root[name], a[name])
        np.testing.assert_allclose(table[name], a[name], rtol=1e-5)


def test_table_missing_column_is_named(tmp_path):
    from ml4hep.errors import InputFileError

    path = tmp_path / "bad.csv"
    path.write_text("M1,M2\n1,2\n")
    with pytest.raises(InputFileError, match="lacks column.*M3"):
        read_points(path)
