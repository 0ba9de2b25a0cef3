import numpy as np
import pytest
from scipy import ndimage
from sklearn.datasets import load_digits

from sklearn_rvae.datasets import SHAPE_NAMES, make_rotated_digits, make_rotated_shapes
from sklearn_rvae.metrics import (
    angle_error_by_class,
    angle_residuals_by_class,
    circular_correlation,
    defect_detection_auc,
    knn_outlier_score,
    lattice_site_mahalanobis_score,
    mahalanobis_outlier_score,
)


def test_make_rotated_digits_shapes_range_and_angles():
    X, y, angle = make_rotated_digits(size=16, max_angle=30, random_state=3)
    assert X.shape == (1797, 256) and y.shape == angle.shape == (1797,)
    assert X.min() >= 0 and X.max() <= 1
    assert np.abs(angle).max() <= 30 and np.abs(angle).max() > 25
    np.testing.assert_array_equal(y, load_digits().target)
    # each image is its upsampled digit rotated by the reported angle
    up = ndimage.zoom(load_digits().images[7] / 16.0, 2.0, order=1)
    np.testing.assert_allclose(
        X[7].reshape(16, 16), np.clip(ndimage.rotate(up, angle[7], reshape=False, order=1), 0, 1)
    )
    X2, _, angle2 = make_rotated_digits(size=16, max_angle=30, random_state=3)
    np.testing.assert_array_equal(X, X2)
    assert not np.allclose(angle, make_rotated_digits(size=16, max_angle=30, random_state=4)[2])


def test_make_rotated_digits_validates():
    with pytest.raises(ValueError, match="max_angle"):
        make_rotated_digits(max_angle=200)
    with pytest.raises(ValueError, match="size"):
        make_rotated_digits(size=4)


def test_make_rotated_shapes_angles_follow_the_rotate_convention():
    X, y, angle = make_rotated_shapes(n_samples=60, size=24, n_classes=6, noise=0.0, max_shift=0.0, random_state=2)
    assert X.shape == (60, 576) and set(y.tolist()) == set(range(6)) and len(SHAPE_NAMES) == 6
    assert np.bincount(y).min() == 10  # classes take turns
    Xu, yu, _ = make_rotated_shapes(n_samples=6, size=24, n_classes=6, max_angle=0, noise=0.0, max_shift=0.0)
    for i in range(10):
        ref = Xu[list(yu).index(y[i])].reshape(24, 24)
        right = ndimage.rotate(ref, angle[i], reshape=False, order=1)
        wrong = ndimage.rotate(ref, -angle[i], reshape=False, order=1)
        err = np.abs(right - X[i].reshape(24, 24)).mean()
        assert err < 0.03
        if abs(np.sin(np.deg2rad(angle[i]))) > 0.3:
            assert np.abs(wrong - X[i].reshape(24, 24)).mean() > 2 * err


def test_no_shape_matches_a_turned_copy_of_itself_or_another():
    # The angle is defined over the whole circle only if no turn maps a shape
    # onto itself (or onto another class).
    X, y, _ = make_rotated_shapes(n_samples=6, size=32, n_classes=6, max_angle=0, noise=0.0, max_shift=0.0)
    images = [X[list(y).index(c)].reshape(32, 32) for c in range(6)]
    for a, img in enumerate(images):
        for t in range(15, 360, 15):
            turned = ndimage.rotate(img, t, reshape=False, order=1)
            for b, other in enumerate(images):
                if a != b or t:
                    assert np.abs(turned - other).mean() > 0.04, (SHAPE_NAMES[a], SHAPE_NAMES[b], t)


def test_angle_error_by_class_removes_each_offset_and_can_fail():
    rng = np.random.default_rng(0)
    true = rng.uniform(-180, 180, 300)
    labels = np.repeat([0, 1, 2], 100)
    pred = true + np.array([40.0, -100.0, 170.0])[labels] + rng.normal(0, 2.0, 300)
    errors = angle_error_by_class(pred, true, labels)
    assert set(errors) == {0, 1, 2} and all(1.0 < e < 2.0 for e in errors.values())
    # the opposite sense of rotation is not an offset
    assert min(angle_error_by_class(-pred, true, labels).values()) > 40
    # with a 3-fold period, offsets of 120 degrees vanish
    sym = angle_error_by_class(true + 120.0 * rng.integers(0, 3, 300), true, labels, period=120.0)
    assert max(sym.values()) < 1e-6
    with pytest.raises(ValueError, match="same non-zero length"):
        angle_error_by_class(pred[:5], true, labels)
    with pytest.raises(ValueError, match="period"):
        angle_error_by_class(pred, true, labels, period=0)
    # a class with 40% of its images turned by 180 degrees keeps a small
    # median, and the residuals show the turned ones
    flipped = pred.copy()
    flipped[:40] += 180.0
    assert angle_error_by_class(flipped, true, labels)[0] < 5.0
    residuals = angle_residuals_by_class(flipped, true, labels)
    assert np.mean(np.abs(residuals[:100]) > 150) == pytest.approx(0.4)


def test_circular_correlation():
    rng = np.random.default_rng(0)
    a = rng.uniform(-60, 60, 500)
    assert circular_correlation(a, a + 40) == pytest.approx(1.0)
    assert circular_correlation(a, -a) == pytest.approx(-1.0)
    assert abs(circular_correlation(a, rng.uniform(-180, 180, 500))) < 0.15
    # wrap-around: angles near +-180 are close, not far apart
    b = np.array([179.0, -179.0, 178.0, -178.0, 0.0])
    assert circular_correlation(b, b + 1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same length"):
        circular_correlation([1, 2, 3], [1, 2])


def test_knn_outlier_score_flags_codes_away_from_a_curved_bulk():
    # Bulk codes on a ring; the outliers sit at its centre, inside the
    # Gaussian ellipse (where a Mahalanobis distance is smallest).
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    codes = np.r_[np.c_[np.cos(t), np.sin(t)], np.zeros((5, 2)) + 0.01 * np.arange(5)[:, None]]
    distance = np.r_[np.full(200, 10.0), np.zeros(5)]
    assert defect_detection_auc(knn_outlier_score(codes), distance) == 1.0
    assert defect_detection_auc(mahalanobis_outlier_score(codes, robust=False), distance) < 0.1
    with pytest.raises(ValueError, match="n_neighbors"):
        knn_outlier_score(codes, n_neighbors=0)


def test_lattice_site_mahalanobis_score_finds_a_defect_inside_the_bulk_range():
    # Codes periodic on a hexagonal lattice (incommensurate with the scan);
    # around a "defect" they shift by a fraction of the bulk's range, so a
    # plain Mahalanobis distance misses them and the per-site one does not.
    lattice = np.array([[2.46, 0.0], [1.23, 2.46 * np.sqrt(3) / 2]])
    x = np.arange(0, 20, 0.25)
    positions = np.stack(np.meshgrid(x, x), -1).reshape(-1, 2)
    frac = positions @ np.linalg.inv(lattice)
    codes = np.c_[np.cos(2 * np.pi * frac[:, 0]), np.sin(2 * np.pi * frac[:, 1])]
    distance = np.hypot(*(positions - 10.0).T)
    codes[distance <= 2.0] += 0.3
    for covariance in ("site", "pooled"):
        score = lattice_site_mahalanobis_score(codes, positions, lattice, covariance=covariance)
        assert defect_detection_auc(score, distance) > 0.99
    assert defect_detection_auc(mahalanobis_outlier_score(codes), distance) < 0.7
    # The wrong lattice mixes sites and loses the defect.
    wrong = lattice_site_mahalanobis_score(codes, positions, np.diag([2.0, 3.0]))
    assert defect_detection_auc(wrong, distance) < 0.9
    with pytest.raises(ValueError, match="lattice"):
        lattice_site_mahalanobis_score(codes, positions, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="positions"):
        lattice_site_mahalanobis_score(codes, positions[:-1], lattice)
    with pytest.raises(ValueError, match="n_neighbors"):
        lattice_site_mahalanobis_score(codes, positions, lattice, n_neighbors=0)
    with pytest.raises(ValueError, match="covariance"):
        lattice_site_mahalanobis_score(codes, positions, lattice, covariance="global")
    bad = codes.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lattice_site_mahalanobis_score(bad, positions, lattice)


def test_lattice_site_covariance_discounts_sites_whose_bulk_is_noisy():
    # Bulk codes are noisy near one site of the cell (as a model's codes
    # are where the pattern is nearly symmetric); the defect shifts codes
    # elsewhere by less than that noise. One pooled covariance ranks the
    # noisy sites first; each site's own covariance ranks the defect first.
    rng = np.random.default_rng(0)
    lattice = 2.0 * np.eye(2)
    x = np.arange(0, 24, 0.23)
    positions = np.stack(np.meshgrid(x, x), -1).reshape(-1, 2)
    reduced = positions % 2.0
    noisy = np.hypot(*(reduced - 1.0).T) < 0.5
    codes = np.c_[np.cos(np.pi * positions[:, 0]), np.cos(np.pi * positions[:, 1])]
    codes += rng.normal(size=codes.shape) * np.where(noisy, 0.3, 0.01)[:, None]
    distance = np.hypot(*(positions - [12.5, 12.5]).T)
    shifted = (distance <= 2.0) & ~noisy
    codes[shifted] += 0.1
    scored = shifted | (distance > 2.0)  # leave out the defect's positions that hide in the noise
    site = defect_detection_auc(lattice_site_mahalanobis_score(codes, positions, lattice)[scored], distance[scored])
    pooled = defect_detection_auc(
        lattice_site_mahalanobis_score(codes, positions, lattice, covariance="pooled")[scored], distance[scored])
    assert site > 0.95 and pooled < site - 0.05, (site, pooled)


def test_committed_abf_fixture_is_what_the_simulator_makes():
    from sklearn_rvae.datasets import load_abf_fixture

    X, y = load_abf_fixture()
    assert X.shape == (128, 1024) and X.dtype == np.float32 and y.shape == (128, 3)
    assert np.all(np.abs(y) <= 10) and np.all(X >= 0)
    np.testing.assert_allclose(np.abs(y[::2]), np.abs(y[1::2]))  # two columns of one image
    pytest.importorskip("ase")
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import make_perovskite_abf
    from sklearn_rvae.datasets import ABF_FIXTURE_SETTINGS

    # Regenerate the first image: the fixture is the package's own simulation, not a hand-made file.
    X1, y1, groups, _ = make_perovskite_abf(1, **ABF_FIXTURE_SETTINGS)
    np.testing.assert_allclose(y1, y[:2])
    np.testing.assert_allclose(X1, X[:2], rtol=2e-3, atol=1e-3)  # float16 storage
    np.testing.assert_array_equal(groups, [0, 0])
