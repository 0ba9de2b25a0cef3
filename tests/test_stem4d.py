"""Simulated graphene 4D-STEM (abTEM, small and fast) and the symmetry / defect metrics."""

import numpy as np
import pytest

from sklearn_rvae import COMTransformer, DiffractionPreprocessor
from sklearn_rvae.metrics import (
    defect_detection_auc,
    mahalanobis_outlier_score,
    orbit_angle_error,
    symmetry_equivalence_spread,
)

pytest.importorskip("abtem")
from sklearn_rvae.datasets import graphene_supercell, make_graphene_4dstem, make_graphene_orbits  # noqa: E402

FAST = dict(repeats=(4, 2), energy=80e3, semiangle=25.0, max_angle=30.0, potential_sampling=0.08)


@pytest.fixture(scope="module")
def vacancy(tmp_path_factory):
    cache = tmp_path_factory.mktemp("sim")
    return make_graphene_4dstem(defect="vacancy", scan_step=0.6, cache_dir=cache, **FAST), cache


def test_supercell_structure_and_defects():
    atoms, xy, sub = graphene_supercell((4, 2))
    assert len(atoms) == 32 and xy is None and set(sub) == {0, 1}
    d = atoms.get_all_distances(mic=True)
    np.fill_diagonal(d, np.inf)
    # Every carbon has three neighbours at 1.42 A.
    assert np.allclose(np.sort(d, 1)[:, :3], 2.46 / np.sqrt(3), atol=1e-6)
    vac, vxy, _ = graphene_supercell((4, 2), "vacancy")
    assert len(vac) == 31 and np.allclose(np.sort(np.hypot(*(vac.positions[:, :2] - vxy).T))[:3], 1.42, atol=0.01)
    si, sxy, _ = graphene_supercell((4, 2), "Si", defect_site=5)
    assert si.get_chemical_symbols().count("Si") == 1 and np.allclose(si.positions[5, :2], sxy)


def test_scan_shapes_metadata_and_ground_truth(vacancy):
    g, _ = vacancy
    sy, sx, ky, kx = g.data.shape
    assert (sy, sx) == g.distance.shape == g.site_class.shape and ky == kx
    assert g.data.dtype == np.float32 and np.all(g.data >= 0)
    # Noise-free patterns hold the fraction of the beam inside the detector.
    assert np.all(g.data.sum((2, 3)) <= 1.0 + 1e-3) and g.data.sum((2, 3)).min() > 0.5
    m = g.metadata
    assert m["energy_eV"] == 80e3 and m["scan_step_A"] == 0.6 and m["defect"] == "vacancy"
    assert m["mrad_per_px"] == pytest.approx(0.0418 / min(g.atoms.cell.lengths()[:2]) * 1e3, rel=0.01)
    # Ground truth agrees with the structure: distance to the removed atom, classes by nearest atom.
    expected = np.hypot(*(g.positions.reshape(-1, 2) - g.defect_xy).T).reshape(sy, sx)
    cell = g.atoms.cell.lengths()[:2]
    near = expected < min(cell) / 2
    np.testing.assert_allclose(g.distance[near], expected[near], atol=1e-9)
    assert set(np.unique(g.site_class)) <= {0, 1, 2}
    assert g.site_class.ravel()[np.argmin(g.distance)] == 2  # the vacant site has no atom within 1 A


def test_cache_resumes_without_losing_or_repeating(vacancy, tmp_path):
    g, cache = vacancy
    chunks = sorted(p for p in cache.rglob("positions_*.npy"))
    assert chunks, "the simulation left no chunk on disk"
    # Delete one chunk: the next call recomputes only it and gives the same data.
    chunks[-1].unlink()
    again = make_graphene_4dstem(defect="vacancy", scan_step=0.6, cache_dir=cache, **FAST)
    np.testing.assert_allclose(again.data, g.data, rtol=1e-5, atol=1e-7)
    assert len(sorted(cache.rglob("positions_*.npy"))) == len(chunks)


def test_dose_gives_poisson_counts(vacancy):
    g, cache = vacancy
    noisy = make_graphene_4dstem(defect="vacancy", scan_step=0.6, cache_dir=cache, dose=1e5, binning=2, **FAST)
    assert np.allclose(noisy.data, np.round(noisy.data)) and noisy.data.shape[2] == g.data.shape[2] // 2
    assert noisy.metadata["mrad_per_px"] == pytest.approx(2 * g.metadata["mrad_per_px"])


def test_orbits_are_rotations_of_one_pattern(tmp_path):
    o = make_graphene_orbits(n_orbits=3, cache_dir=tmp_path, **FAST)
    assert o.data.shape[0] == 9 and list(o.orbit) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    r = np.hypot(*(o.positions - o.center).T)
    np.testing.assert_allclose(r.reshape(3, 3), r.reshape(3, 3)[:, :1].repeat(3, 1))
    # The 3-fold symmetry: total intensity is the same across an orbit.
    totals = o.data.sum((1, 2)).reshape(3, 3)
    np.testing.assert_allclose(totals, totals[:, :1].repeat(3, 1), rtol=2e-3)


def test_pipelines_run_on_the_small_scan(vacancy):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline

    from sklearn_rvae import RotationInvariantVAE

    g, _ = vacancy
    X = g.data.reshape(-1, g.data.shape[2] * g.data.shape[3]).astype(np.float64)
    assert make_pipeline(DiffractionPreprocessor(), PCA(2)).fit_transform(X).shape == (len(X), 2)
    rr = make_pipeline(DiffractionPreprocessor(), RotationInvariantVAE(translation=False, max_epochs=2, device="cpu"))
    assert rr.fit_transform(X).shape == (len(X), 2)
    com = COMTransformer(mrad_per_px=g.metadata["mrad_per_px"], descan=False).fit(g.data)
    assert com.charge_density(g.data).shape == g.distance.shape


@pytest.mark.parametrize(
    "params, match",
    [
        ({"dose": -1.0}, "dose"),
        ({"scan_step": 20.0}, "scan_step"),
        ({"defect": "Xe"}, "defect"),
        ({"energy": 0.0}, "energy"),
        ({"binning": 0}, "binning"),
        ({"scan_extent": (100.0, 2.0)}, "scan_extent"),
    ],
)
def test_bad_simulation_parameters(params, match):
    kwargs = dict(FAST, **params)
    with pytest.raises(ValueError, match=match):
        make_graphene_4dstem(**kwargs)


def test_equivalence_metric_zero_when_symmetric_and_large_when_not():
    rng = np.random.default_rng(0)
    orbit = np.repeat(np.arange(20), 3)
    symmetric = rng.normal(size=(20, 2))[orbit]
    assert symmetry_equivalence_spread(symmetric, orbit) < 1e-20
    asymmetric = symmetric + rng.normal(scale=3.0, size=symmetric.shape)
    assert symmetry_equivalence_spread(asymmetric, orbit) > 0.5
    with pytest.raises(ValueError, match="orbit"):
        symmetry_equivalence_spread(symmetric[:3], orbit[:3])


def test_orbit_angle_error_finds_the_sense():
    orbit = np.repeat(np.arange(5), 3)
    rotation = np.tile([0.0, 120.0, 240.0], 5)
    base = np.repeat(np.linspace(-50, 50, 5), 3)
    assert orbit_angle_error(base - rotation, orbit, rotation) == (0.0, -1)
    error, _ = orbit_angle_error(base, orbit, rotation)
    assert error == pytest.approx(120.0)


def test_mahalanobis_auc_finds_outliers_and_survives_collapsed_codes():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(200, 2))
    codes[:10] += 8.0
    distance = np.r_[np.zeros(10), np.full(190, 5.0)]
    assert defect_detection_auc(mahalanobis_outlier_score(codes), distance) > 0.99
    collapsed = np.zeros((200, 2))
    collapsed[:10] = 1.0
    assert defect_detection_auc(mahalanobis_outlier_score(collapsed), distance) > 0.99


def test_com_calibration_of_the_simulation_is_the_identity(vacancy):
    # The simulator's detector axes are aligned with the scan, so the fitted
    # rotation must be ~0 without flip: checks the simulator's axis order
    # and the COM sign convention (deflection towards the columns) end to end.
    g, _ = vacancy
    com = COMTransformer(descan=False).fit(g.data)
    assert com.flip_ is False
    assert abs(com.rotation_deg_) < 5.0
    assert com.curl_fraction_ < 0.2


def test_zincblende_structure_polarity_and_antisite():
    from sklearn_rvae.datasets import zincblende_110

    atoms, defect, columns, species = zincblende_110("GaAs")
    d = atoms.get_all_distances(mic=True)
    np.fill_diagonal(d, np.inf)
    assert np.allclose(d.min(1), 5.653 * np.sqrt(3) / 4, atol=1e-6)  # Ga-As bond
    assert defect is None and sorted(np.bincount(species)) == [4, 4]
    # Each cation column has its anion partner a/4 away along y: the dumbbell.
    lengths = atoms.cell.lengths()[:2]
    for c in columns[species == 0]:
        d = columns[species == 1] - c
        d -= np.round(d / lengths) * lengths  # periodic images
        partner = np.hypot(*d.T).min()
        assert partner == pytest.approx(5.653 / 4, abs=1e-3)
    swapped, defect, _, _ = zincblende_110("GaAs", antisite=True)
    changed = np.array(swapped.get_chemical_symbols()) != np.array(atoms.get_chemical_symbols())
    # The whole column swaps: 2 atoms per 8 A period, 2 periods.
    assert changed.sum() == 4 and np.allclose(swapped.positions[changed, :2] % swapped.cell.lengths()[:2], defect)
    strained, *_ = zincblende_110("GaAs", strain=0.02)
    assert strained.cell.lengths()[0] == pytest.approx(1.02 * atoms.cell.lengths()[0])
    with pytest.raises(ValueError, match="material"):
        zincblende_110("GaN")


def test_zincblende_scan_ground_truth(tmp_path):
    from sklearn_rvae.datasets import make_zincblende_4dstem

    z = make_zincblende_4dstem(scan_step=0.5, antisite=True, potential_sampling=0.08, max_angle=30.0, periods=1, cache_dir=tmp_path)
    sy, sx = z.distance.shape
    assert z.data.shape[:2] == (sy, sx) and z.class_names == ["Ga", "As", "between"]
    assert {0, 1, 2} == set(np.unique(z.site_class))
    assert z.distance.min() < 0.5 and z.metadata["thickness_A"] == pytest.approx(8.0, abs=0.01)


def test_diamond_control_keeps_the_sublattices_and_lattice_constant_override():
    from sklearn_rvae.datasets import zincblende_110

    gaas, _, columns, species = zincblende_110("GaAs")
    ge, _, ge_columns, ge_species = zincblende_110("Ge", lattice_constant=5.653)
    assert set(ge.get_chemical_symbols()) == {"Ge"}
    np.testing.assert_allclose(ge.positions, gaas.positions)
    np.testing.assert_array_equal(ge_species, species)
    own, *_ = zincblende_110("Ge")
    assert own.cell.lengths()[1] == pytest.approx(5.658)
    with pytest.raises(ValueError, match="lattice_constant"):
        zincblende_110("Ge", lattice_constant=-1.0)


def test_zincblende_pairs_are_180_degree_images_and_polarity_breaks_them(tmp_path):
    from sklearn_rvae.datasets import make_zincblende_pairs

    # Detector sampling from a 2 x 2 cell: coarser ones resample too roughly for the exact-turn check.
    fast = dict(n_pairs=3, repeats=(2, 2), periods=1, lattice_constant=5.653, cache_dir=tmp_path)
    residual = {}
    for material in ("Ge", "GaAs"):
        pairs = make_zincblende_pairs(material=material, **fast)
        assert pairs.data.shape[0] == 6 and pairs.data.shape[1] % 2 == 1  # odd: rot90 twice is exact
        np.testing.assert_allclose(pairs.positions[0::2] + pairs.positions[1::2], np.tile(2 * pairs.center, (3, 1)), atol=1e-9)
        np.testing.assert_array_equal(pairs.orbit, [0, 0, 1, 1, 2, 2])
        P = pairs.data.astype(np.float64)
        residual[material] = [np.linalg.norm(np.rot90(a, 2) - b) / np.linalg.norm(b - a) for a, b in zip(P[0::2], P[1::2])]
    # The 180-degree turn explains most of each pair's difference in both
    # crystals; what it leaves is larger with the polar (Ga, As) dumbbell.
    assert max(residual["Ge"] + residual["GaAs"]) < 0.5
    assert np.all(np.array(residual["GaAs"]) > np.array(residual["Ge"]))

