"""Every public argument is checked where it enters (issue 23).

A bad argument raises an error that names it (never an error from inside
numpy, never a silent NaN or inf); good edge cases still work; and
``random_state=None`` leaves numpy's global random state alone.
"""

import importlib.util

import numpy as np
import pytest

from sklearn_rvae import datasets as D
from sklearn_rvae import dpc, metrics

needs_ase = pytest.mark.skipif(importlib.util.find_spec("ase") is None, reason="needs the sim extra (ase)")
needs_abtem = pytest.mark.skipif(importlib.util.find_spec("abtem") is None, reason="needs the sim extra (abtem)")

FIELD = np.random.default_rng(0).normal(size=(5, 6, 2))


def with_nan(array, index):
    out = np.array(array, dtype=np.float64)
    out[index] = np.nan
    return out


def case(func, *args, error=ValueError, match, id, marks=(), **kwargs):
    return pytest.param(func, args, kwargs, error, match, id=id, marks=marks)


def check_raises(func, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(*args, **kwargs)


# ----------------------------------------------------------------------------- dpc

DPC_BAD = [
    case(dpc.divergence, FIELD, spacing=0.0, match="spacing", id="divergence-spacing-0"),
    case(dpc.divergence, FIELD, spacing=-1.0, match="spacing", id="divergence-spacing-negative"),
    case(dpc.divergence, FIELD, spacing=np.nan, match="spacing", id="divergence-spacing-nan"),
    case(dpc.divergence, FIELD, spacing="1", error=TypeError, match="spacing", id="divergence-spacing-str"),
    case(dpc.divergence, FIELD, spacing=1e-320, match="spacing", id="divergence-overflow"),
    case(dpc.divergence, with_nan(FIELD, (1, 1, 0)), match=r"field contains 1 NaN.*\(1, 1, 0\)", id="divergence-nan"),
    case(dpc.divergence, FIELD[..., :1], match="field", id="divergence-one-component"),
    case(dpc.divergence, FIELD[:1], match="field", id="divergence-one-row"),
    case(dpc.divergence, "abc", error=TypeError, match="field", id="divergence-str"),
    case(dpc.divergence, FIELD + 1j, error=TypeError, match="field", id="divergence-complex"),
    case(dpc.divergence, [[[0.0, 1.0]], [[0.0]]], match="field", id="divergence-ragged"),
    case(dpc.curl, FIELD, spacing=np.inf, match="spacing", id="curl-spacing-inf"),
    case(dpc.curl, with_nan(FIELD, (0, 2, 1)), match="field", id="curl-nan"),
    case(dpc.apply_rotation, np.ones((3, 3)), 10.0, False, match="vectors", id="rotation-vectors-shape"),
    case(dpc.apply_rotation, with_nan(FIELD, (1, 1, 0)), 10.0, False, match="vectors", id="rotation-vectors-nan"),
    case(dpc.apply_rotation, FIELD, np.nan, False, match="rotation_deg", id="rotation-angle-nan"),
    case(dpc.apply_rotation, FIELD, np.inf, False, match="rotation_deg", id="rotation-angle-inf"),
    case(dpc.apply_rotation, FIELD, "10", False, error=TypeError, match="rotation_deg", id="rotation-angle-str"),
    case(dpc.apply_rotation, FIELD, 10.0, "no", error=TypeError, match="flip", id="rotation-flip-str"),
    case(dpc.rotation_matrix, np.nan, False, match="rotation_deg", id="rotation-matrix-nan"),
    case(dpc.fit_plane, FIELD, np.zeros((5, 6), bool), match="mask is all False", id="plane-mask-all-false"),
    case(dpc.fit_plane, FIELD, np.ones((3, 3), bool), match="mask", id="plane-mask-shape"),
    case(dpc.fit_plane, FIELD, np.ones((5, 6), int), error=TypeError, match="mask", id="plane-mask-int"),
    case(dpc.fit_plane, np.ones(5), match="values", id="plane-values-1d"),
    case(dpc.fit_plane, np.ones((0, 3, 1)), match="values", id="plane-values-empty"),
    case(dpc.fit_plane, with_nan(FIELD, (2, 3, 1)), match=r"values contains 1 NaN.*\(2, 3, 1\)", id="plane-nan"),
    case(dpc.evaluate_plane, np.ones((2, 2)), (3, 3), match="coef", id="evaluate-coef-shape"),
    case(dpc.evaluate_plane, np.full((2, 3), np.nan), (3, 3), match="coef", id="evaluate-coef-nan"),
    case(dpc.evaluate_plane, np.ones((2, 3)), (3, 0), match="scan_shape", id="evaluate-scan-shape-0"),
    case(dpc.evaluate_plane, np.ones((2, 3)), 3, match="scan_shape", id="evaluate-scan-shape-int"),
    case(dpc.fit_rotation, FIELD, rotation_deg=np.nan, match="rotation_deg", id="fit-rotation-angle-nan"),
    case(dpc.fit_rotation, FIELD, flip="yes", error=TypeError, match="flip", id="fit-rotation-flip-str"),
    case(dpc.fit_rotation, FIELD, column_quantile=2.0, match="column_quantile", id="fit-rotation-quantile-2"),
    case(dpc.fit_rotation, FIELD, column_quantile=np.nan, match="column_quantile", id="fit-rotation-quantile-nan"),
    case(dpc.fit_rotation, with_nan(FIELD, (4, 5, 0)), match="field", id="fit-rotation-nan"),
    case(dpc.integrate_gradient, FIELD, highpass="a", error=TypeError, match="highpass", id="integrate-highpass-str"),
    case(dpc.integrate_gradient, FIELD, highpass=-1.0, match="highpass", id="integrate-highpass-negative"),
    case(dpc.integrate_gradient, FIELD, spacing=0.0, match="spacing", id="integrate-spacing-0"),
    case(dpc.integrate_gradient, FIELD, spacing=1e200, match="spacing", id="integrate-spacing-underflow"),
    case(dpc.integrate_gradient, FIELD, padding=np.array(["a"]), match="padding", id="integrate-padding-array"),
    case(dpc.integrate_gradient, FIELD, padding="wrap", match="padding", id="integrate-padding-unknown"),
    case(dpc.integrate_gradient, with_nan(FIELD, (0, 0, 0)), match="field", id="integrate-nan"),
    case(dpc.electron_wavelength, "300", error=TypeError, match="energy", id="wavelength-str"),
    case(dpc.electron_wavelength, np.array([1.0, 2.0]), error=TypeError, match="energy", id="wavelength-array"),
    case(dpc.electron_wavelength, 0.0, match="energy", id="wavelength-zero"),
    case(dpc.interaction_voltage, np.nan, match="energy", id="voltage-nan"),
    case(dpc.direction_colors, FIELD, 0.0, match="max_magnitude", id="colors-max-0"),
    case(dpc.direction_colors, FIELD, np.nan, match="max_magnitude", id="colors-max-nan"),
    case(dpc.direction_colors, FIELD, -1.0, match="max_magnitude", id="colors-max-negative"),
    case(dpc.direction_colors, np.zeros((0, 2)), match="field", id="colors-empty"),
    case(dpc.direction_colors, np.ones((4, 3)), match="field", id="colors-shape"),
    case(dpc.direction_colors, with_nan(FIELD, (0, 0, 1)), match="field", id="colors-nan"),
]


@pytest.mark.parametrize("func, args, kwargs, error, match", DPC_BAD)
def test_dpc_rejects_bad_arguments(func, args, kwargs, error, match):
    check_raises(func, args, kwargs, error, match)


def test_fit_plane_with_one_position_and_nan_outside_the_mask():
    values = np.full((3, 4, 2), np.nan)
    values[1, 2] = [5.0, -1.0]
    mask = np.zeros((3, 4), bool)
    mask[1, 2] = True
    coef = dpc.fit_plane(values, mask=mask)
    # Underdetermined: the smallest plane that still passes through the one value.
    np.testing.assert_allclose(dpc.evaluate_plane(coef, (3, 4))[1, 2], [5.0, -1.0])
    rows, cols = np.mgrid[:3, :4]
    plane = (1.0 + 2.0 * rows - 0.5 * cols)[..., None]
    plane[0, 0] = np.nan
    np.testing.assert_allclose(dpc.fit_plane(plane, mask=np.isfinite(plane[..., 0])), [[1.0, 2.0, -0.5]])


def test_dpc_good_edge_cases():
    # The smallest field, numpy scalars, 0-d arrays and numpy booleans are all fine.
    yy, xx = np.mgrid[:2, :2].astype(float)
    ramp = np.stack([xx, yy], -1)
    np.testing.assert_allclose(dpc.divergence(ramp, spacing=np.float32(0.5)), 4.0)
    np.testing.assert_allclose(dpc.curl(ramp, spacing=np.array(2.0)), 0.0)
    np.testing.assert_allclose(dpc.apply_rotation([1.0, 0.0], np.float64(90.0), np.bool_(False)), [0.0, 1.0],
                               atol=1e-12)
    assert dpc.direction_colors(np.zeros((2, 2, 2))).max() == 0.0
    # A field without curl or divergence leaves the angle undetermined: 0, no flip, fraction 0.
    assert dpc.fit_rotation(np.ones((4, 4, 2))) == (0.0, False, 0.0)
    assert dpc.fit_rotation(FIELD, rotation_deg=np.float32(30.0), flip=np.bool_(True))[1] is True
    phi = dpc.integrate_gradient(FIELD, spacing=1e-10, highpass=0)
    assert phi.shape == (5, 6) and np.all(np.isfinite(phi))


# ----------------------------------------------------------------------------- metrics

ANGLES = np.random.default_rng(1).uniform(-60, 60, 20)
CODES = np.random.default_rng(2).normal(size=(30, 2))
POSITIONS = np.random.default_rng(3).uniform(0, 10, (30, 2))
ORBIT = np.repeat(np.arange(10), 3)

METRICS_BAD = [
    case(metrics.circular_correlation, with_nan(ANGLES, 0), ANGLES, match="angle_a", id="cc-nan"),
    case(metrics.circular_correlation, ANGLES, np.r_[ANGLES[1:], np.inf], match="angle_b", id="cc-inf"),
    case(metrics.circular_correlation, np.full(20, 30.0), ANGLES, match="undefined for constant input: angle_a",
         id="cc-constant-a"),
    case(metrics.circular_correlation, ANGLES, np.full(20, -5.0), match="undefined for constant input: angle_b",
         id="cc-constant-b"),
    case(metrics.circular_correlation, [0.0, 180.0, 0.0], [1.0, 2.0, 3.0], match="angle_a", id="cc-0-or-180"),
    case(metrics.circular_correlation, [0.0, 120.0, 240.0], [1.0, 2.0, 3.0], match="circular mean of angle_a",
         id="cc-evenly-spread"),
    case(metrics.circular_correlation, ["a", "b"], [1.0, 2.0], error=TypeError, match="angle_a", id="cc-str"),
    case(metrics.circular_correlation, ANGLES + 1j, ANGLES, error=TypeError, match="angle_a", id="cc-complex"),
    case(metrics.circular_correlation, [], [], match="angle_a and angle_b", id="cc-empty"),
    case(metrics.circular_correlation, ANGLES, ANGLES[:-1], match="same length", id="cc-length"),
    case(metrics.circular_correlation, ANGLES, ANGLES, degrees="yes", error=TypeError, match="degrees",
         id="cc-degrees-str"),
    case(metrics.angle_residuals_by_class, ANGLES, ANGLES, with_nan(np.zeros(20), 3), match="labels",
         id="residuals-nan-label"),
    case(metrics.angle_residuals_by_class, with_nan(ANGLES, 3), ANGLES, np.zeros(20), match="angle_pred",
         id="residuals-nan-pred"),
    case(metrics.angle_residuals_by_class, ANGLES, ANGLES + 1j, np.zeros(20), error=TypeError, match="angle_true",
         id="residuals-complex"),
    case(metrics.angle_residuals_by_class, ANGLES, ANGLES, np.zeros(20), period=np.inf, match="period",
         id="residuals-period-inf"),
    case(metrics.angle_residuals_by_class, ANGLES, ANGLES, np.zeros(20), period=1e9, match="period",
         id="residuals-period-huge"),
    case(metrics.angle_residuals_by_class, ANGLES, ANGLES, np.zeros(20), period="360", error=TypeError,
         match="period", id="residuals-period-str"),
    case(metrics.angle_residuals_by_class, ANGLES[:2], ANGLES[:2], np.array([1, "a"], dtype=object),
         error=TypeError, match="labels", id="residuals-mixed-labels"),
    case(metrics.angle_error_by_class, [], [], [], match="non-zero length", id="error-empty"),
    case(metrics.symmetry_equivalence_spread, np.ones((30, 2)), ORBIT, match="undefined for constant codes",
         id="spread-constant"),
    case(metrics.symmetry_equivalence_spread, CODES, with_nan(ORBIT, 0), match="orbit", id="spread-nan-orbit"),
    case(metrics.symmetry_equivalence_spread, with_nan(CODES, (0, 1)), ORBIT, match="codes", id="spread-nan-codes"),
    case(metrics.symmetry_equivalence_spread, CODES + 1j, ORBIT, error=TypeError, match="codes",
         id="spread-complex"),
    case(metrics.symmetry_equivalence_spread, CODES, ORBIT[:-1], match="orbit", id="spread-length"),
    case(metrics.orbit_angle_error, [1.0, 2.0], [0, 1], [0.0, 0.0], match="orbit", id="orbit-error-no-pair"),
    case(metrics.orbit_angle_error, [1.0, 2.0], [0, 0], [0.0], match="rotation_deg", id="orbit-error-length"),
    case(metrics.orbit_angle_error, [np.nan, 2.0], [0, 0], [0.0, 1.0], match="angle_deg", id="orbit-error-nan"),
    case(metrics.orbit_angle_error, ["a", "b"], [0, 0], [0.0, 1.0], error=TypeError, match="angle_deg",
         id="orbit-error-str"),
    case(metrics.mahalanobis_outlier_score, with_nan(CODES, (0, 0)), match="codes", id="mahalanobis-nan"),
    case(metrics.mahalanobis_outlier_score, [[1.0, 2.0]], match="codes", id="mahalanobis-one-sample"),
    case(metrics.mahalanobis_outlier_score, CODES, random_state="x", match="random_state", id="mahalanobis-seed"),
    case(metrics.mahalanobis_outlier_score, CODES, robust="no", error=TypeError, match="robust",
         id="mahalanobis-robust"),
    case(metrics.knn_outlier_score, CODES, n_neighbors=True, match="n_neighbors", id="knn-bool"),
    case(metrics.knn_outlier_score, CODES, n_neighbors=30, match="n_neighbors", id="knn-too-many"),
    case(metrics.knn_outlier_score, np.zeros((0, 2)), match="codes", id="knn-empty"),
    case(metrics.knn_outlier_score, np.ones((2, 2, 2)), match="codes", id="knn-3d"),
    case(metrics.lattice_site_mahalanobis_score, CODES, POSITIONS, [[np.nan, 0.0], [0.0, 1.0]], n_neighbors=2,
         match="lattice", id="lattice-nan"),
    case(metrics.lattice_site_mahalanobis_score, CODES, POSITIONS, np.eye(2), covariance=np.array(["a"]),
         match="covariance", id="lattice-covariance-array"),
    case(metrics.lattice_site_mahalanobis_score, CODES, POSITIONS.astype(str), np.eye(2), error=TypeError,
         match="positions", id="lattice-positions-str"),
    case(metrics.lattice_site_mahalanobis_score, CODES, with_nan(POSITIONS, (3, 1)), np.eye(2), n_neighbors=2,
         match="positions", id="lattice-positions-nan"),
    case(metrics.defect_detection_auc, [np.nan, 1.0], [0.0, 5.0], match="scores", id="auc-nan-scores"),
    case(metrics.defect_detection_auc, [0.0, 1.0, 2.0], [0.0, np.nan, 5.0], match="distance", id="auc-nan-distance"),
    case(metrics.defect_detection_auc, [0.0, 1.0, 2.0], [0.0, -1.0, 5.0], match="distance",
         id="auc-negative-distance"),
    case(metrics.defect_detection_auc, [0.0, 1.0, 2.0], [0.0, 5.0], match="scores and distance", id="auc-length"),
    case(metrics.defect_detection_auc, [0.0, 1.0], [0.0, 5.0], radius=np.nan, match="radius", id="auc-radius-nan"),
]


@pytest.mark.parametrize("func, args, kwargs, error, match", METRICS_BAD)
def test_metrics_reject_bad_arguments(func, args, kwargs, error, match):
    check_raises(func, args, kwargs, error, match)


def test_metrics_good_edge_cases():
    assert metrics.circular_correlation([0.0, 90.0], [10.0, 100.0]) == pytest.approx(1.0)
    # A tiny but real spread is not "constant".
    tiny = 30.0 + 1e-6 * np.arange(10)
    assert metrics.circular_correlation(tiny, -tiny) == pytest.approx(-1.0)
    # Orbits of one member have no pair and are skipped.
    assert metrics.orbit_angle_error([5.0, 0.0, 120.0], [7, 0, 0], [0.0, 0.0, 120.0]) == (0.0, 1)
    # Identical codes are all at distance 0 from their bulk (well defined, unlike a ratio of variances).
    np.testing.assert_array_equal(metrics.mahalanobis_outlier_score(np.ones((20, 2))), 0.0)
    # inf: no defect in reach, so far.
    assert metrics.defect_detection_auc([0.9, 0.1, 0.2], [0.0, 4.0, np.inf]) == 1.0
    assert metrics.angle_residuals_by_class([10.0], [0.0], ["a"], period=360).tolist() == [0.0]


def test_metrics_random_state_none_leaves_the_global_rng_alone():
    np.random.seed(5)
    before = np.random.get_state()
    metrics.mahalanobis_outlier_score(CODES, random_state=None)
    assert_same_state(before, np.random.get_state())


# ----------------------------------------------------------------------------- datasets

FAST = dict(repeats=(4, 2), energy=80e3, semiangle=25.0, max_angle=30.0, potential_sampling=0.08)
ZB = dict(energy=80e3, semiangle=20.0, max_angle=25.0, potential_sampling=0.1, periods=1, slice_thickness=4.0)
PV = dict(patch_size=8, thickness_periods=1, pixel_size=0.6, potential_sampling=0.2, energy=100e3)
STEM = dict(size=64, dopants={"Si": 1}, n_vacancies=0)


def _atoms_110():
    return D.orient_110(D.perovskite_supercell("SrTiO3", (0, 0, 0), "a0a0a0", repeats=(2, 2, 2)))


DATASETS_BAD = [
    case(D.make_rotated_digits, size=4, match="size", id="digits-size"),
    case(D.make_rotated_digits, max_angle=np.nan, match="max_angle", id="digits-angle-nan"),
    case(D.make_rotated_digits, max_angle=True, match="max_angle", id="digits-angle-bool"),
    case(D.make_rotated_digits, random_state="x", match="random_state", id="digits-seed"),
    case(D.make_rotated_shapes, max_shift=np.inf, match="max_shift", id="shapes-shift-inf"),
    case(D.make_rotated_shapes, noise=np.nan, match="noise", id="shapes-noise-nan"),
    case(D.make_rotated_shapes, n_classes=7, match="n_classes", id="shapes-classes"),
    case(D.make_rotated_shapes, n_samples=0, match="n_samples", id="shapes-n-samples"),
    case(D.make_stem_image, **{**STEM, "pixel_size": 0.0}, match="pixel_size", id="image-pixel-size"),
    case(D.make_stem_image, **{**STEM, "peak_counts": np.nan}, match="peak_counts", id="image-peak-counts-nan"),
    case(D.make_stem_image, **{**STEM, "peak_counts": 1e20}, match="peak_counts", id="image-peak-counts-poisson"),
    case(D.make_stem_image, **{**STEM, "background": 1e300}, match="background", id="image-background-poisson"),
    case(D.make_stem_image, **{**STEM, "probe_fwhm": 1e3}, match="probe_fwhm", id="image-probe-wider-than-view"),
    case(D.make_stem_image, **{**STEM, "scan_jitter": 100.0}, match="scan_jitter", id="image-jitter"),
    case(D.make_stem_image, **{**STEM, "dopants": {"Xe": 1}}, match="dopants", id="image-dopant-element"),
    case(D.make_stem_image, **{**STEM, "dopants": {"Si": -1}}, match="dopants", id="image-dopant-count"),
    case(D.make_stem_image, **{**STEM, "dopants": {"Si": 40}}, match="dopants", id="image-too-many-defects"),
    case(D.make_stem_image, **{**STEM, "rotation": np.inf}, match="rotation", id="image-rotation-inf"),
    case(D.make_stem_image, **{**STEM, "model": "x"}, match="model", id="image-model"),
    case(D.make_stem_movie, n_frames=3, hop_frames=[1.5], **STEM, match="hop_frames", id="movie-hop-fraction"),
    case(D.make_stem_movie, n_frames=3, hop_frames=[3], **STEM, match="hop_frames", id="movie-hop-range"),
    case(D.make_stem_movie, n_frames=3, hop_frames=[np.nan], **STEM, match="hop_frames", id="movie-hop-nan"),
    case(D.make_stem_movie, n_frames=3, hop_frames=[1], **{**STEM, "dopants": {}}, match="hop_frames",
         id="movie-hop-without-dopant"),
    case(D.make_stem_movie, n_frames=3, drift=(np.nan, 0.0), **STEM, match="drift", id="movie-drift-nan"),
    case(D.make_stem_movie, n_frames=3, drift=(100.0, 0.0), **STEM, match="drift", id="movie-drift-huge"),
    case(D.make_stem_movie, n_frames=3, drift_jitter=np.inf, **STEM, match="drift_jitter", id="movie-drift-jitter"),
    case(D.make_stem_movie, n_frames=3, displacement=1.0, **STEM, match="displacement", id="movie-displacement"),
    case(D.make_stem_movie, n_frames=0, **STEM, match="n_frames", id="movie-frames"),
    case(D.environment_names, "Si", match="dopants", id="environment-names-str"),
    case(D.make_synthetic_tilt_patches, 2, tilt_range=(5.0, 1.0), match="tilt_range", id="tilt-range-order",
         marks=needs_ase),
    case(D.make_synthetic_tilt_patches, 2, tilt_range=(0.0, 30.0), match="tilt_range", id="tilt-range-20",
         marks=needs_ase),
    case(D.make_synthetic_tilt_patches, 2, sigma=0.0, match="sigma", id="tilt-sigma-0", marks=needs_ase),
    case(D.make_synthetic_tilt_patches, 2, sigma=1e-4, match="sigma", id="tilt-sigma-tiny", marks=needs_ase),
    case(D.make_synthetic_tilt_patches, 2, material="NaCl", match="material", id="tilt-material", marks=needs_ase),
    case(D.make_synthetic_tilt_patches, 2, glazer=5, match="glazer", id="tilt-glazer", marks=needs_ase),
    case(D.perovskite_supercell, a=np.nan, match="a must be", id="supercell-a-nan", marks=needs_ase),
    case(D.perovskite_supercell, "custom", species=("Ba", "Qq"), a=4.0, match="species", id="supercell-species",
         marks=needs_ase),
    case(D.perovskite_supercell, repeats=(2.5, 2, 2), match="repeats", id="supercell-repeats", marks=needs_ase),
    case(D.perovskite_supercell, tilts=(np.nan, 0, 0), match="tilts", id="supercell-tilts-nan", marks=needs_ase),
    case(D.postprocess_abf, np.full((4, 4), np.nan), pixel_size=0.4, match="image", id="post-image-nan"),
    case(D.postprocess_abf, np.zeros(4), pixel_size=0.4, match="image", id="post-image-1d"),
    case(D.postprocess_abf, np.ones((4, 4)), pixel_size=0.4, dose=1e30, match="dose", id="post-dose-poisson"),
    case(D.postprocess_abf, np.ones((4, 4)), pixel_size=0.0, match="pixel_size", id="post-pixel-size"),
    case(D.postprocess_abf, np.ones((4, 4)), pixel_size=0.4, random_state="x", match="random_state", id="post-seed"),
    case(D.mirror_patches_110, np.zeros((2, 16)), np.full((2, 3), np.nan), match="y", id="mirror-y-nan"),
    case(D.mirror_patches_110, np.zeros((2, 16)), np.zeros((2, 3)), image_shape=(4.0, 4), match="image_shape",
         id="mirror-image-shape"),
    case(D.mirror_patches_110, np.full((2, 16), "a"), np.zeros((2, 3)), error=TypeError, match="X",
         id="mirror-X-str"),
    case(D.make_perovskite_abf, 1, tilt_range=30.0, match="tilt_range", id="abf-tilt-range"),
    case(D.make_perovskite_abf, 1, dose=np.inf, match="dose", id="abf-dose-inf"),
    case(D.make_perovskite_abf, 1, detector=(np.nan, 1.0), match="detector", id="abf-detector-nan"),
    case(D.make_perovskite_abf, 1, n_jobs=0, match="n_jobs", id="abf-n-jobs"),
    case(D.make_perovskite_abf, 1, mid_plane_mirror=1, match="mid_plane_mirror", id="abf-mirror-flag"),
    case(D.make_perovskite_abf, 1, mid_plane_mirror="Both", match="mid_plane_mirror", id="abf-mirror-str"),
    case(D.make_perovskite_abf, 1, patches_per_image="all", match="pixel_grid='exact'.*needs an integer",
         id="abf-all-needs-cell"),
    case(D.make_perovskite_abf, 1, random_state=-1, match="random_state", id="abf-seed"),
    case(D.make_perovskite_abf, 1, energy=0.0, match="energy", id="abf-energy"),
    case(D.make_perovskite_abf, True, match="n_samples", id="abf-n-samples-bool"),
    case(D.graphene_supercell, (0, 2), match="repeats", id="graphene-cell-repeats-0"),
    case(D.graphene_supercell, 4, match="repeats", id="graphene-cell-repeats-int"),
    case(D.graphene_supercell, (4, 2), "Xe", match="defect", id="graphene-cell-defect"),
    case(D.graphene_supercell, (4, 2), "Si", 99, match="defect_site", id="graphene-cell-site-range"),
    case(D.graphene_supercell, (4, 2), None, 3, match="defect_site", id="graphene-cell-site-without-defect"),
    case(D.make_graphene_4dstem, **{**FAST, "repeats": (4.5, 2)}, match="repeats", id="graphene-repeats"),
    case(D.make_graphene_4dstem, **{**FAST, "energy": True}, match="energy", id="graphene-energy-bool"),
    case(D.make_graphene_4dstem, **{**FAST, "energy": np.nan}, match="energy", id="graphene-energy-nan"),
    case(D.make_graphene_4dstem, **FAST, scan_extent=(np.nan, 1.0), match="scan_extent", id="graphene-extent-nan"),
    case(D.make_graphene_4dstem, **FAST, scan_extent=(0.1, 1.0), match="scan_extent", id="graphene-extent-small"),
    case(D.make_graphene_4dstem, **FAST, dose=1e30, match="dose", id="graphene-dose-poisson"),
    case(D.make_graphene_4dstem, **FAST, defect_site=2.5, match="defect_site", id="graphene-site-float"),
    case(D.make_graphene_4dstem, **FAST, random_state="x", match="random_state", id="graphene-seed"),
    case(D.make_graphene_4dstem, **FAST, n_jobs=0, match="n_jobs", id="graphene-n-jobs"),
    case(D.make_graphene_4dstem, **FAST, cache_dir=3, match="cache_dir", id="graphene-cache-dir"),
    case(D.make_graphene_4dstem, **FAST, scan_step=0.6, scan_extent=(1.3, 1.3), binning=10**6, match="binning",
         id="graphene-binning-past-detector", marks=needs_abtem),
    case(D.make_graphene_orbits, **FAST, radius=(1.0, 0.5), match="radius", id="orbits-radius-order"),
    case(D.make_graphene_orbits, **FAST, radius=(np.nan, 0.5), match="radius", id="orbits-radius-nan"),
    case(D.make_graphene_orbits, **FAST, order=0, match="order", id="orbits-order"),
    case(D.make_graphene_orbits, **FAST, n_orbits=0, match="n_orbits", id="orbits-n"),
    case(D.zincblende_110, "NaCl", match="material", id="zincblende-material"),
    case(D.zincblende_110, strain="a", match="strain", id="zincblende-strain-str"),
    case(D.zincblende_110, periods=0, match="periods", id="zincblende-periods"),
    case(D.zincblende_110, antisite="yes", match="antisite", id="zincblende-antisite"),
    case(D.zincblende_110, repeats=(1,), match="repeats", id="zincblende-repeats"),
    case(D.make_zincblende_4dstem, lattice_constant=np.inf, match="lattice_constant", id="zb-lattice-inf"),
    case(D.make_zincblende_4dstem, slice_thickness=0.0, match="slice_thickness", id="zb-slice"),
    case(D.make_zincblende_pairs, n_pairs=0, match="n_pairs", id="zb-pairs-n"),
    case(D.make_zincblende_pairs, radius=(-1.0, 1.0), match="radius", id="zb-pairs-radius"),
]


@pytest.mark.parametrize("func, args, kwargs, error, match", DATASETS_BAD)
def test_datasets_reject_bad_arguments(func, args, kwargs, error, match):
    check_raises(func, args, kwargs, error, match)


@needs_abtem
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(detector=(20.0, 10.0)), "detector"),
        (dict(window=((0.0, 0.0), (2.5, 3))), "window"),
        (dict(energy=np.inf), "energy"),
        (dict(method="x"), "method"),
        (dict(x_repeats=0), "x_repeats"),
        (dict(random_state=-1), "random_state"),
    ],
)
def test_simulate_abf_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.simulate_abf(_atoms_110(), **kwargs)
    with pytest.raises(TypeError, match="atoms"):
        D.simulate_abf("SrTiO3")


def test_stem_movie_good_edge_cases():
    # No dopant: the default hop is skipped (it used to fail inside numpy); integer-valued floats are frames.
    frames, atoms = D.make_stem_movie(n_frames=3, size=32, dopants={}, n_vacancies=0)
    assert frames.shape == (3, 32, 32) and set(atoms["element"]) == {"C"}
    _, atoms = D.make_stem_movie(n_frames=3, hop_frames=np.array([1.0, 1.0]), **STEM)
    assert (atoms[atoms["frame"] == 2]["element"] == "Si").sum() == 1
    _, atoms = D.make_stem_movie(n_frames=3, hop_frames=[], **STEM)
    si = atoms[atoms["element"] == "Si"].groupby("frame")["atom_id"].first()
    assert si.nunique() == 1  # no hop: the dopant stays on its site


def assert_same_state(before, after):
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


SIMULATORS = [
    pytest.param(lambda rs: D.make_rotated_digits(size=8, random_state=rs), id="make_rotated_digits"),
    pytest.param(lambda rs: D.make_rotated_shapes(n_samples=4, size=8, random_state=rs), id="make_rotated_shapes"),
    pytest.param(lambda rs: D.make_stem_image(**STEM, random_state=rs), id="make_stem_image"),
    pytest.param(lambda rs: D.make_stem_movie(n_frames=2, **STEM, random_state=rs), id="make_stem_movie"),
    pytest.param(lambda rs: D.make_synthetic_tilt_patches(2, size=8, random_state=rs), id="make_synthetic_tilt_patches",
                 marks=needs_ase),
    pytest.param(lambda rs: D.postprocess_abf(np.ones((6, 6)), pixel_size=0.5, dose=1e3, scan_jitter=0.5,
                                              random_state=rs), id="postprocess_abf"),
    pytest.param(lambda rs: D.make_perovskite_abf(1, dose=1e4, scan_jitter=0.2, random_state=rs, patches_per_image=1,
                                                  pixel_grid="cell", mid_plane_mirror=False, **PV),
                 id="make_perovskite_abf", marks=needs_abtem),
    pytest.param(lambda rs: D.make_graphene_4dstem(scan_step=0.6, scan_extent=(1.3, 1.3), dose=1e4, random_state=rs,
                                                   **FAST), id="make_graphene_4dstem", marks=needs_abtem),
    pytest.param(lambda rs: D.make_graphene_orbits(n_orbits=1, dose=1e4, random_state=rs, **FAST),
                 id="make_graphene_orbits", marks=needs_abtem),
    pytest.param(lambda rs: D.make_zincblende_4dstem(scan_step=0.8, scan_extent=(1.7, 1.7), dose=1e4,
                                                     random_state=rs, **ZB), id="make_zincblende_4dstem",
                 marks=needs_abtem),
    pytest.param(lambda rs: D.make_zincblende_pairs(n_pairs=1, dose=1e4, random_state=rs, **ZB),
                 id="make_zincblende_pairs", marks=needs_abtem),
]


@pytest.mark.parametrize("simulate", SIMULATORS)
def test_random_state_none_leaves_the_global_rng_alone(simulate):
    np.random.seed(1234)
    before = np.random.get_state()
    simulate(None)
    assert_same_state(before, np.random.get_state())
