"""RotationInvariantVAE(angle_prior="uniform"): pose over the whole circle."""

import pickle

import numpy as np
import pytest
import torch
from scipy import ndimage

from sklearn_rvae import RotationInvariantVAE
from sklearn_rvae.datasets import make_rotated_shapes
from sklearn_rvae.metrics import angle_error_by_class
from sklearn_rvae.rvae._geometry import warp_images
from sklearn_rvae.rvae._turns import turn_all, turn_matrix


def _wrap(d, period=360.0):
    return (d + period / 2) % period - period / 2


@pytest.fixture(scope="module")
def shapes():
    return make_rotated_shapes(n_samples=800, size=20, max_shift=0.5, random_state=0)


@pytest.fixture(scope="module")
def fitted(shapes):
    X, _, _ = shapes
    return RotationInvariantVAE(angle_prior="uniform", max_epochs=40, random_state=0, device="cpu").fit(X)


def _turn(X, degrees, side):
    # scipy's rotate is counter-clockwise on screen, the package's convention
    return np.stack([ndimage.rotate(x.reshape(side, side), degrees, reshape=False, order=1).ravel() for x in X])


def test_turn_matrix_is_warp_images_at_every_angle():
    shape = (9, 13)
    angles = torch.tensor([0.0, 0.4, -2.0, 3.1], dtype=torch.float64)
    x = torch.rand(3, 9 * 13, dtype=torch.float64)
    turned = turn_all(turn_matrix(shape, angles).double(), x.T)  # (P, K, B)
    for k, a in enumerate(angles):
        ref = warp_images(x.view(3, 1, *shape), a.repeat(3), None).flatten(1)
        np.testing.assert_allclose(turned[:, k].T.numpy(), ref.numpy(), atol=1e-6)


def test_full_circle_shapes_are_classified_and_their_angles_found(shapes, fitted):
    X, y, angle = shapes
    pred, shift = fitted.transform_pose(X)
    errors = angle_error_by_class(pred, angle, y)
    assert max(errors.values()) < 5.0, errors
    assert np.all((pred >= -180) & (pred < 180)) and shift.shape == (len(X), 2)
    Z = fitted.transform(X)
    centroids = np.stack([Z[y == c].mean(0) for c in range(4)])
    nearest = np.argmin(((Z[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == y) > 0.95


@pytest.mark.parametrize("degrees", [45.0, 135.0, 180.0, -170.0])
def test_turning_the_input_moves_the_angle_by_that_much_and_keeps_z(shapes, fitted, degrees):
    X = shapes[0][:200]
    a0, _ = fitted.transform_pose(X)
    a1, _ = fitted.transform_pose(_turn(X, degrees, 20))
    delta = _wrap(a1 - a0 - degrees)
    assert np.median(np.abs(delta)) < 4.0
    assert np.mean(np.abs(delta) < 15.0) > 0.9
    Z = fitted.transform(X)
    dz = np.linalg.norm(fitted.transform(_turn(X, degrees, 20)) - Z, axis=1)
    assert np.median(dz) < 0.2 * np.linalg.norm(Z.std(0))


def test_a_quarter_turn_rolls_the_bin_posterior_exactly(shapes):
    # With bins at multiples of 90 degrees, np.rot90 is an exact turn of the
    # pixel grid, and the encoder is equivariant by construction: the bin
    # probabilities move by one bin and z does not move, whatever the weights.
    X = shapes[0][:50]
    est = RotationInvariantVAE(angle_prior="uniform", n_rotation_bins=4, max_epochs=2,
                               random_state=0, device="cpu").fit(shapes[0])
    turned = np.stack([np.rot90(x.reshape(20, 20), 1).ravel() for x in X])  # CCW on screen
    a0, _, p0 = est.transform_pose(X, return_posterior=True)
    a1, _, p1 = est.transform_pose(turned, return_posterior=True)
    np.testing.assert_allclose(p1, np.roll(p0, 1, axis=1), atol=1e-10)
    np.testing.assert_allclose(est.transform(turned), est.transform(X), atol=1e-10)
    np.testing.assert_allclose(_wrap(a1 - a0 - 90.0), 0.0, atol=1e-8)
    np.testing.assert_allclose(est.rotation_bins_, [0.0, 90.0, -180.0, -90.0])


def test_n_fold_symmetric_objects_get_angles_modulo_360_over_n():
    # A three-armed object: the angle is defined modulo 120 degrees.
    rng = np.random.default_rng(0)
    X0, y0, _ = make_rotated_shapes(n_samples=4, size=20, max_angle=0, max_shift=0, noise=0.0)
    arm = X0[list(y0).index(0)].reshape(20, 20)
    sym = np.max([ndimage.rotate(arm, t, reshape=False, order=1) for t in (0, 120, 240)], axis=0)
    truth = rng.uniform(-180, 180, 400)
    X = np.stack([ndimage.rotate(sym, t, reshape=False, order=1).ravel() for t in truth])
    X += 0.03 * rng.standard_normal(X.shape)
    est = RotationInvariantVAE(angle_prior="uniform", rotation_symmetry=3, translation=False,
                               max_epochs=40, random_state=0, device="cpu").fit(X)
    pred, shift = est.transform_pose(X)
    assert shift is None and np.all((pred >= -60) & (pred < 60))
    assert angle_error_by_class(pred, truth, np.zeros(400), period=120.0)[0] < 5.0
    # a turn by the symmetry's angle changes nothing; 40 degrees moves it by 40 (mod 120)
    sel = X[:100]
    a0, _ = est.transform_pose(sel)
    for degrees, expected in [(120.0, 0.0), (40.0, 40.0), (-100.0, 20.0)]:
        a1, _ = est.transform_pose(_turn(sel, degrees, 20))
        assert np.median(np.abs(_wrap(a1 - a0 - expected, 120.0))) < 4.0


def test_posterior_over_bins_sums_to_one_and_peaks_at_the_angle(shapes, fitted):
    X = shapes[0][:100]
    angle, shift, posterior = fitted.transform_pose(X, return_posterior=True)
    assert posterior.shape == (100, fitted.n_rotation_bins)
    np.testing.assert_allclose(posterior.sum(1), 1.0, atol=1e-9)
    assert np.all(posterior >= 0)
    peak = fitted.rotation_bins_[posterior.argmax(1)]
    width = 360.0 / fitted.n_rotation_bins
    assert np.all(np.abs(_wrap(angle - peak)) <= width + 1e-9)


def test_normal_prior_also_reports_a_posterior_over_bins(shapes):
    X = shapes[0][:50]
    est = RotationInvariantVAE(max_epochs=2, random_state=0, device="cpu").fit(shapes[0])
    angle, _, posterior = est.transform_pose(X, return_posterior=True)
    np.testing.assert_allclose(posterior.sum(1), 1.0, atol=1e-9)
    peak = est.rotation_bins_[posterior.argmax(1)]
    assert np.all(np.abs(_wrap(angle - peak)) <= 360.0 / est.n_rotation_bins / 2 + 1e-6)


def test_reconstruct_is_inverse_transform_at_the_posterior_pose(shapes, fitted):
    X = shapes[0][:100]
    angle, shift, posterior = fitted.transform_pose(X, return_posterior=True)
    rec = fitted.reconstruct(X)
    again = fitted.inverse_transform(fitted.transform(X), angle=angle, shift=shift)
    # equal where the posterior offset lies within half a bin (the decoder
    # splits an angle at the nearest bin centre)
    width = 360.0 / fitted.n_rotation_bins
    inside = np.abs(_wrap(angle - fitted.rotation_bins_[posterior.argmax(1)])) < width / 2
    assert inside.mean() > 0.5
    np.testing.assert_allclose(rec[inside], again[inside], atol=1e-8)
    assert np.mean((rec - X) ** 2) < 0.5 * np.var(X)


def test_elbo_prefers_the_uniform_prior_on_full_circle_data(shapes, fitted):
    # score is a proper ELBO for both priors, so it can choose between them.
    X, _, _ = shapes
    Xv, _, _ = make_rotated_shapes(n_samples=300, size=20, max_shift=0.5, random_state=1)
    normal = RotationInvariantVAE(max_epochs=40, random_state=0, device="cpu").fit(X)
    assert fitted.score(Xv) > normal.score(Xv) + 5.0
    s = fitted.score_samples(Xv)
    assert np.all(np.isfinite(s))
    np.testing.assert_array_equal(s, fitted.score_samples(Xv))


def test_pickle_sample_and_variants(shapes):
    X = shapes[0][:200]
    for params in [dict(translation=False), dict(likelihood="bernoulli"),
                   dict(decoder="spatial", hidden_layer_sizes=(16,))]:
        Xi = np.clip(X, 0, 1) if params.get("likelihood") == "bernoulli" else X
        est = RotationInvariantVAE(angle_prior="uniform", n_rotation_bins=6, max_epochs=2,
                                   random_state=0, device="cpu", **params).fit(Xi)
        again = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(again.transform(Xi), est.transform(Xi))
        np.testing.assert_array_equal(again.transform_pose(Xi)[0], est.transform_pose(Xi)[0])
        assert np.isfinite(est.score(Xi))
        drawn = est.sample(4, random_state=0)
        assert drawn.shape == (4, 400) and np.isfinite(drawn).all()


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(rotation_symmetry=0), "rotation_symmetry"),
        (dict(angle_prior=-0.5), "angle_prior"),
        (dict(angle_prior="circular"), "angle_prior"),
        (dict(angle_prior="uniform", n_rotation_bins=1), "n_rotation_bins"),
    ],
)
def test_bad_rotation_parameters_name_themselves(shapes, params, match):
    with pytest.raises(ValueError, match=match):
        RotationInvariantVAE(max_epochs=1, device="cpu", **params).fit(shapes[0][:20])


def test_full_circle_digits_cluster_far_better_than_with_the_normal_prior():
    # A short version of the issue-21 protocol on another angle draw: with the
    # normal prior, each digit splits between a template and its copy turned
    # by 180 degrees.
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from sklearn_rvae.datasets import make_rotated_digits

    X, y, _ = make_rotated_digits(size=20, max_angle=180, random_state=2)
    aris = {}
    for prior in ("uniform", 17.2):
        Z = RotationInvariantVAE(angle_prior=prior, max_epochs=25, random_state=0, device="cpu").fit_transform(X)
        aris[prior] = adjusted_rand_score(y, KMeans(10, n_init=10, random_state=0).fit_predict(Z))
    assert aris["uniform"] > 0.4 and aris["uniform"] > aris[17.2] + 0.1, aris  # 0.48 and 0.32 here
