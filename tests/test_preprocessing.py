"""DiffractionPreprocessor: centring, crop, binning, scaling, pipelines."""

import numpy as np
import pytest
from sklearn.decomposition import NMF, PCA
from sklearn.pipeline import make_pipeline

from sklearn_rvae import DiffractionPreprocessor, RotationInvariantVAE


def disk_patterns(centers, size=33, radius=4.0):
    yy, xx = np.mgrid[:size, :size]
    return np.stack([
        (np.hypot(yy - cy, xx - cx) <= radius).astype(float) * 100 + 1 for cy, cx in centers
    ]).reshape(len(centers), -1)


def test_mean_centring_moves_the_beam_to_the_centre():
    X = disk_patterns([(12.0, 19.0)] * 4)
    pre = DiffractionPreprocessor(scaling="none", normalize="none").fit(X)
    np.testing.assert_allclose(pre.center_, [12.0, 19.0], atol=1e-9)
    out = pre.transform(X).reshape(4, 33, 33)
    yy, xx = np.mgrid[:33, :33]
    disk = out[0] > 50
    assert abs(yy[disk].mean() - 16) < 1e-9 and abs(xx[disk].mean() - 16) < 1e-9


def test_each_centring_removes_per_pattern_shifts_and_mean_keeps_them():
    X = disk_patterns([(16.0, 16.0), (14.0, 18.0), (17.0, 13.0)])
    each = DiffractionPreprocessor(center="each", scaling="none", normalize="none").fit(X).transform(X)
    # Compare away from the edges, where the shift pulls in zeros.
    inner = (slice(None), slice(6, 27), slice(6, 27))
    each = each.reshape(3, 33, 33)[inner]
    np.testing.assert_allclose(each[1], each[0], atol=1e-9)
    np.testing.assert_allclose(each[2], each[0], atol=1e-9)
    mean = DiffractionPreprocessor(center="mean", scaling="none", normalize="none").fit(X).transform(X)
    assert np.abs(mean[1] - mean[0]).max() > 50


def test_crop_and_binning_sum_blocks():
    rng = np.random.default_rng(0)
    X = rng.poisson(3.0, size=(5, 32 * 32)).astype(float)
    pre = DiffractionPreprocessor(center="none", crop=16, binning=4, scaling="none", normalize="none").fit(X)
    out = pre.transform(X)
    assert pre.output_shape_ == (4, 4) and out.shape == (5, 16)
    expected = X.reshape(5, 32, 32)[:, 8:24, 8:24].reshape(5, 4, 4, 4, 4).sum((2, 4)).reshape(5, -1)
    np.testing.assert_allclose(out, expected)


def test_scalings_and_normalisations():
    X = disk_patterns([(16.0, 16.0)] * 2)
    log = DiffractionPreprocessor(center="none", normalize="none").fit(X)
    np.testing.assert_allclose(log.transform(X), np.log1p(X / log.reference_intensity_))
    power = DiffractionPreprocessor(center="none", scaling="power", power=0.5, normalize="max").fit(X)
    np.testing.assert_allclose(power.transform(X).max(1), 1.0)
    total = DiffractionPreprocessor(center="none", scaling="none", normalize="sum").fit(X)
    np.testing.assert_allclose(total.transform(X).sum(1), 1.0)
    zero = np.zeros((2, 33 * 33))
    assert np.all(np.isfinite(DiffractionPreprocessor(center="none").fit(X).transform(zero)))


def test_blur_smooths_after_binning():
    from scipy import ndimage

    X = disk_patterns([(16.0, 16.0), (15.0, 17.0)])
    plain = DiffractionPreprocessor(center="none", binning=3, scaling="none", normalize="none").fit(X)
    blurred = DiffractionPreprocessor(center="none", binning=3, scaling="none", normalize="none", blur=1.5).fit(X)
    expected = ndimage.gaussian_filter(plain.transform(X).reshape(2, 11, 11), (0, 1.5, 1.5), mode="nearest")
    np.testing.assert_allclose(blurred.transform(X), expected.reshape(2, -1))


def test_subtract_mean_gives_standardised_residuals_that_commute_with_symmetry():
    rng = np.random.default_rng(3)
    X = disk_patterns(rng.uniform(14, 18, size=(30, 2)))
    pre = DiffractionPreprocessor(center="none", scaling="power", power=0.5, subtract_mean=True).fit(X)
    R = pre.transform(X)
    np.testing.assert_allclose(R.mean(0), 0.0, atol=1e-12)
    assert abs(R.std() - 1.0) < 1e-12
    plain = DiffractionPreprocessor(center="none", scaling="power", power=0.5).fit(X).transform(X)
    np.testing.assert_allclose(R * pre.residual_scale_ + pre.mean_pattern_, plain)
    # With a mean pattern that is symmetric under a 90-degree turn, the residual
    # of a turned pattern is the turned residual.
    sym = np.concatenate([np.rot90(x.reshape(33, 33), k).reshape(1, -1) for x in X for k in range(4)])
    pre = DiffractionPreprocessor(center="none", scaling="none", normalize="none", subtract_mean=True).fit(sym)
    turned = np.rot90(sym[0].reshape(33, 33)).reshape(1, -1)
    np.testing.assert_allclose(pre.transform(turned), np.rot90(pre.transform(sym[:1]).reshape(33, 33)).reshape(1, -1),
                               atol=1e-12)
    with pytest.raises(ValueError, match="subtract_mean=True needs at least 2"):
        DiffractionPreprocessor(subtract_mean=True).fit(X[:1])


def test_pipelines_with_pca_nmf_and_rrvae():
    rng = np.random.default_rng(1)
    X = np.concatenate([disk_patterns([(16, 16)] * 20), disk_patterns([(15, 17)] * 20)])
    X = rng.poisson(X).astype(float)
    for model in (PCA(2), NMF(2, max_iter=500, init="nndsvda", random_state=0)):
        Z = make_pipeline(DiffractionPreprocessor(crop=24, binning=2), model).fit_transform(X)
        assert Z.shape == (40, 2)
    rrvae = make_pipeline(
        DiffractionPreprocessor(crop=24, binning=2),
        RotationInvariantVAE(translation=False, max_epochs=2, device="cpu", random_state=0),
    )
    assert rrvae.fit_transform(X).shape == (40, 2)


@pytest.mark.parametrize(
    "params, X, match",
    [
        ({}, -np.ones((3, 16)), "Negative values"),
        ({"crop": 40}, np.ones((3, 32 * 32)), "crop=40"),
        ({"binning": 8, "crop": 4}, np.ones((3, 16 * 16)), "binning=8"),
        ({}, np.ones((3, 15)), "detector_shape"),
        ({"center": "middle"}, np.ones((3, 16)), "center"),
        ({"blur": -1.0}, np.ones((3, 16)), "blur"),
    ],
)
def test_bad_parameters(params, X, match):
    with pytest.raises(ValueError, match=match):
        DiffractionPreprocessor(**params).fit(X)


@pytest.mark.parametrize("params", [
    dict(blur=1.5, binning=2), dict(crop=20, binning=3, blur=0.7), dict(center="none", crop=17),
    dict(binning=1, blur=0.0),
])
def test_the_one_matrix_steps_equal_the_steps_one_after_the_other(params):
    # Shift, crop, bin and blur are applied as Ly @ P @ Lx.T: the same numbers as scipy's steps in turn.
    from scipy import ndimage

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:32, :32]
    X = np.stack([rng.poisson(100 * np.exp(-((yy - 17.3) ** 2 + (xx - 14.6) ** 2) / 30) + 3) for _ in range(6)])
    pre = DiffractionPreprocessor(scaling="none", normalize="none", **params).fit(X)
    P = X.astype(np.float64)
    if pre.center == "mean":
        P = np.stack([ndimage.shift(p, (15.5, 15.5) - pre.center_, order=1, mode="constant") for p in P])
    side = params.get("crop")
    if side:
        y0 = (32 - side) // 2
        P = P[:, y0 : y0 + side, y0 : y0 + side]
    b = params["binning"] if "binning" in params else 1
    n = P.shape[1] // b * b
    P = P[:, :n, :n].reshape(len(P), n // b, b, n // b, b).sum((2, 4))
    if params.get("blur"):
        P = ndimage.gaussian_filter(P, (0, params["blur"], params["blur"]), mode="nearest")
    np.testing.assert_allclose(pre.transform(X), P.reshape(len(P), -1), rtol=1e-12, atol=1e-9)
