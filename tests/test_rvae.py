"""Behaviour of RotationInvariantVAE: pose, persistence, composition, seeds, errors."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from scipy import ndimage
from skorch.callbacks import Callback
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from sklearn_rvae import RotationInvariantVAE
from sklearn_rvae.datasets import make_rotated_digits
from sklearn_rvae.metrics import circular_correlation
from sklearn_rvae.rvae._geometry import pixel_grid, upright_coordinates, warp_images


@pytest.fixture(scope="module")
def digits180():
    X, y, angle = make_rotated_digits(size=20, max_angle=180, random_state=0)
    return X, y, angle


@pytest.fixture(scope="module")
def fitted180(digits180):
    X, _, _ = digits180
    return RotationInvariantVAE(max_epochs=40, random_state=0).fit(X)


@pytest.fixture(scope="module")
def small_digits():
    X, y, angle = make_rotated_digits(size=12, max_angle=60, random_state=0)
    return X[:300], y[:300], angle[:300]


def _quick(**kw):
    params = dict(max_epochs=3, batch_size=64, random_state=0, device="cpu")
    params.update(kw)
    return RotationInvariantVAE(**params)


# --------------------------------------------------------------- pose model
def _asymmetric_image(h=21, w=27):
    img = np.zeros((h, w))
    img[5:9, 6:20] = 1
    img[5:16, 6:9] = 1
    return ndimage.gaussian_filter(img, 1.0)


@pytest.mark.parametrize("angle", [30.0, -45.0, 90.0])
def test_warp_matches_scipy_rotate_convention(angle):
    img = _asymmetric_image()
    ref = ndimage.rotate(img, angle, reshape=False, order=1)
    t = torch.tensor(img, dtype=torch.float64)[None, None]
    out = warp_images(t, torch.tensor([np.deg2rad(angle)], dtype=torch.float64), None)
    np.testing.assert_allclose(out[0, 0].numpy(), ref, atol=1e-6)
    # the opposite sign is far off, so the check can fail
    wrong = warp_images(t, torch.tensor([-np.deg2rad(angle)], dtype=torch.float64), None)
    assert np.abs(wrong[0, 0].numpy() - ref).mean() > 0.05


def test_warp_shift_convention_and_spatial_coordinates_agree():
    img = _asymmetric_image()
    t = torch.tensor(img, dtype=torch.float64)[None, None]
    shifted = warp_images(t, torch.zeros(1, dtype=torch.float64), torch.tensor([[3.0, 2.0]], dtype=torch.float64))
    np.testing.assert_allclose(shifted[0, 0].numpy(), ndimage.shift(img, (2, 3), order=1), atol=1e-6)
    # the spatial decoder's coordinate map describes the same pose as the warp
    angle = torch.tensor([0.5], dtype=torch.float64)
    shift = torch.tensor([[3.0, -2.0]], dtype=torch.float64)
    coords = upright_coordinates(pixel_grid(img.shape).double(), angle, shift)[0].numpy()
    h, w = img.shape
    sampled = ndimage.map_coordinates(
        img, [coords[:, 1] + (h - 1) / 2, coords[:, 0] + (w - 1) / 2], order=1
    ).reshape(img.shape)
    np.testing.assert_allclose(sampled, warp_images(t, angle, shift)[0, 0].numpy(), atol=1e-6)


@pytest.mark.parametrize("turns, window", [(1, (-80, -10)), (-1, (10, 80))])
def test_rotating_input_by_90_moves_angle_by_90_and_keeps_z(digits180, fitted180, turns, window):
    # Trained on digits at all orientations. The normal angle prior keeps
    # inferred angles within about +-100 degrees, and an image turned beyond
    # that is read as a template turned by 180 degrees (blurred digits look
    # alike both ways up), so the rotation is applied to images whose new
    # angle stays inside: (-80, -10) turned +90, (10, 80) turned -90.
    X, _, _ = digits180
    rvae = fitted180
    a_all, _ = rvae.transform_pose(X)
    sel = X[(a_all > window[0]) & (a_all < window[1])][:300]
    assert len(sel) > 100
    rotated = np.stack([np.rot90(x.reshape(20, 20), turns).ravel() for x in sel])  # CCW on screen
    a0, _ = rvae.transform_pose(sel)
    a1, _ = rvae.transform_pose(rotated)
    delta = (a1 - a0 + 180.0) % 360.0 - 180.0
    target = 90.0 * turns
    assert np.median(np.abs(delta - target)) < 8.0
    assert np.mean(np.abs(delta - target) < 20.0) > 0.85
    Z = rvae.transform(X)
    dz = np.linalg.norm(rvae.transform(rotated) - rvae.transform(sel), axis=1)
    # z moves far less than the spread of the codes over the data set
    assert np.median(dz) < 0.3 * np.mean(np.std(Z, axis=0)) * np.sqrt(2)


def test_quality_on_rotated_digits():
    # A short version of the benchmark protocol (benchmarks/bench_rotated_digits.py).
    X, y, angle = make_rotated_digits(size=20, max_angle=60, random_state=0)
    rvae = RotationInvariantVAE(max_epochs=30, angle_prior=np.degrees(0.5), random_state=0)
    Z = rvae.fit_transform(X)
    labels = KMeans(10, n_init=10, random_state=0).fit_predict(Z)
    assert adjusted_rand_score(y, labels) > 0.45
    a, shift = rvae.transform_pose(X)
    assert circular_correlation(a, angle) > 0.95
    assert shift.shape == (len(X), 2)


def test_inverse_transform_with_pose_equals_reconstruct(small_digits):
    X, _, _ = small_digits
    rvae = _quick().fit(X)
    a, s = rvae.transform_pose(X)
    rec = rvae.inverse_transform(rvae.transform(X), angle=a, shift=s)
    np.testing.assert_allclose(rec, rvae.reconstruct(X), atol=1e-8)
    upright = rvae.inverse_transform(rvae.transform(X))
    assert upright.shape == X.shape
    assert not np.allclose(upright, rec)


def test_rrvae_has_no_shift(small_digits):
    X, _, _ = small_digits
    rvae = _quick(translation=False, decoder="spatial", hidden_layer_sizes=(32, 32)).fit(X)
    angle, shift = rvae.transform_pose(X)
    assert shift is None and angle.shape == (len(X),)
    assert np.all((angle >= -180) & (angle < 180))
    with pytest.raises(ValueError, match="translation=False"):
        rvae.inverse_transform(rvae.transform(X), shift=(1.0, 0.0))


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_score_is_mean_elbo_and_deterministic(small_digits, likelihood):
    X, _, _ = small_digits
    rvae = _quick(likelihood=likelihood).fit(X)
    s = rvae.score_samples(X)
    assert s.shape == (len(X),) and np.all(np.isfinite(s))
    assert rvae.score(X) == pytest.approx(s.mean())
    np.testing.assert_array_equal(s, rvae.score_samples(X))


def test_longer_training_raises_the_elbo(small_digits):
    X, _, _ = small_digits
    short = _quick(max_epochs=1).fit(X)
    longer = _quick(max_epochs=30).fit(X)
    assert longer.score(X) > short.score(X)
    assert longer.history_["train_loss"].iloc[-1] < longer.history_["train_loss"].iloc[0]


def test_sample_shapes_and_seed(small_digits):
    X, _, _ = small_digits
    rvae = _quick().fit(X)
    a = rvae.sample(5, random_state=1)
    assert a.shape == (5, X.shape[1])
    np.testing.assert_array_equal(a, rvae.sample(5, random_state=1))
    assert not np.allclose(a, rvae.sample(5, random_state=2))
    assert rvae.sample(3, random_state=0, upright=True).shape == (3, X.shape[1])
    with pytest.raises(ValueError, match="n_samples"):
        rvae.sample(0)


def test_latent_prior_is_public_and_what_sample_draws_from(small_digits):
    X, _, _ = small_digits
    plain = _quick().fit(X).latent_prior_
    np.testing.assert_array_equal(plain.means, np.zeros((1, 2)))
    np.testing.assert_array_equal(plain.covariances, np.eye(2)[None])
    assert plain.mode_class is None and plain.weights.tolist() == [1.0]
    model = _quick(n_classes=2, max_epochs=5).fit(X)
    prior = model.latent_prior_
    m = len(prior.weights)
    assert prior.means.shape == (m, 2) and prior.covariances.shape == prior.code_covariances.shape == (m, 2, 2)
    assert prior.weights.sum() == pytest.approx(1.0) and set(prior.mode_class) == {0, 1}
    # The prior widens the codes' modes by their posterior variance.
    assert np.all(np.diagonal(prior.covariances, axis1=1, axis2=2) >= np.diagonal(prior.code_covariances, axis1=1,
                                                                                      axis2=2) - 1e-12)
    z = prior.sample(20000, np.random.RandomState(0))
    np.testing.assert_allclose(z.mean(0), prior.weights @ prior.means, atol=0.05 * z.std(0).max())


def test_feature_names_and_pandas_output(small_digits):
    X, _, _ = small_digits
    rvae = _quick(n_components=3).set_output(transform="pandas").fit(X)
    out = rvae.transform(X)
    assert list(out.columns) == ["rotationinvariantvae0", "rotationinvariantvae1", "rotationinvariantvae2"]
    assert list(rvae.get_feature_names_out()) == list(out.columns)


def test_history_and_early_stopping(small_digits):
    X, _, _ = small_digits
    rvae = _quick(max_epochs=4).fit(X)
    assert len(rvae.history_) == 4 == rvae.n_iter_
    assert {"epoch", "train_loss", "dur"} <= set(rvae.history_.columns)
    es = _quick(max_epochs=200, early_stopping=True, n_iter_no_change=2, lr=1e-2).fit(X)
    assert "valid_loss" in es.history_.columns
    assert es.n_iter_ < 200


def test_user_callbacks_are_cloned(small_digits):
    X, _, _ = small_digits

    class CountEpochs(Callback):
        def initialize(self):
            self.n_epochs_ = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.n_epochs_ += 1

    cb = CountEpochs()
    rvae = _quick(max_epochs=3, callbacks=[cb]).fit(X)
    assert not hasattr(cb, "n_epochs_")  # the user's object is untouched
    used = [c for _, c in rvae.net_.callbacks_ if isinstance(c, CountEpochs)]
    assert len(used) == 1 and used[0].n_epochs_ == 3


def test_capacity_annealing_runs_and_is_validated(small_digits):
    X, _, _ = small_digits
    rvae = _quick(capacity=(5.0, 2, 10.0)).fit(X)
    assert np.isfinite(rvae.history_["train_loss"]).all()
    for bad in [(5.0, 0, 1.0), (np.nan, 5, 1.0), (5.0, 2, np.inf), (5.0, 2)]:
        with pytest.raises(ValueError, match="capacity"):
            _quick(capacity=bad).fit(X)


def test_diverging_training_raises_and_keeps_its_history(small_digits):
    X, _, _ = small_digits
    rvae = _quick(lr=10.0, max_epochs=3)
    with pytest.raises(ValueError, match=r"Training diverged: the loss became nan at epoch \d+, batch \d+.*lr=10"):
        rvae.fit(X)
    assert len(rvae.history_) >= 1 and not hasattr(rvae, "net_")


def test_validation_fraction_must_leave_training_data(small_digits):
    X, _, _ = small_digits
    with pytest.raises(ValueError, match=r"validation_fraction=0.99 leaves 0 training"):
        _quick(early_stopping=True, validation_fraction=0.99).fit(X[:20])


# ------------------------------------------------- persistence and sklearn
def test_pickle_and_joblib_round_trips_give_identical_output(small_digits, tmp_path):
    X, _, _ = small_digits
    rvae = _quick().fit(X)
    fitted = pickle.dumps(rvae)
    Z = rvae.transform(X)
    rvae.score_samples(X[:10]), rvae.reconstruct(X[:10]), rvae.transform_pose(X[:10]), rvae.sample(2)
    assert pickle.dumps(rvae) == fitted  # inference leaves the fitted estimator as it was
    again = pickle.loads(pickle.dumps(rvae))
    np.testing.assert_array_equal(again.transform(X), Z)
    np.testing.assert_array_equal(again.transform_pose(X)[0], rvae.transform_pose(X)[0])
    path = tmp_path / "rvae.joblib"
    joblib.dump(rvae, path)
    np.testing.assert_array_equal(joblib.load(path).transform(X), Z)


def test_clone_of_fitted_is_unfitted(small_digits):
    X, _, _ = small_digits
    rvae = _quick(n_components=3).fit(X)
    c = clone(rvae)
    assert not hasattr(c, "net_") and c.get_params() == rvae.get_params()


@pytest.mark.parametrize("scaler", [StandardScaler(), MinMaxScaler()])
def test_pipeline_scaler_rvae_kmeans(small_digits, scaler):
    X, y, _ = small_digits
    pipe = Pipeline([("scale", scaler), ("rvae", _quick(max_epochs=5)), ("km", KMeans(10, n_init=3, random_state=0))])
    labels = pipe.fit_predict(X)
    assert labels.shape == y.shape and len(np.unique(labels)) > 1


def test_gridsearch_on_elbo_with_two_jobs(small_digits):
    X, _, _ = small_digits
    gs = GridSearchCV(_quick(max_epochs=3), {"n_components": [2, 3]}, cv=2, n_jobs=2)
    gs.fit(X)
    assert gs.best_params_["n_components"] in (2, 3)
    assert np.all(np.isfinite(gs.cv_results_["mean_test_score"]))


def test_random_state_reproducible_and_global_rng_untouched(small_digits):
    X, _, _ = small_digits
    np.random.seed(123)
    torch.manual_seed(123)
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.get_rng_state().clone()
    Z1 = _quick(random_state=7).fit_transform(X)
    Z2 = _quick(random_state=7).fit_transform(X)
    np.testing.assert_array_equal(Z1, Z2)
    assert not np.allclose(Z1, _quick(random_state=8).fit_transform(X))
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)
    # random_state=None draws fresh entropy, not from numpy's global RNG.
    Z3 = _quick(random_state=None).fit_transform(X)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert not np.allclose(Z3, _quick(random_state=None).fit_transform(X))


# ---------------------------------------------------------------- bad input
def test_nan_and_inf_are_rejected(small_digits):
    X, _, _ = small_digits
    bad = X.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _quick().fit(bad)
    bad[3, 5] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        _quick().fit(bad)
    rvae = _quick().fit(X)
    with pytest.raises(ValueError, match="NaN"):
        rvae.transform(np.where(np.arange(X.shape[1]) == 0, np.nan, X))


def test_image_shape_errors(small_digits):
    X, _, _ = small_digits  # 144 pixels
    with pytest.raises(ValueError, match=r"image_shape=\(10, 10\).*144"):
        _quick(image_shape=(10, 10)).fit(X)
    with pytest.raises(ValueError, match="not a square number.*image_shape"):
        _quick().fit(X[:, :143])
    with pytest.raises(ValueError, match="image_shape must be a pair"):
        _quick(image_shape=(12, 12, 1)).fit(X)
    # a non-square image works when its shape is given, with -1 inferred
    rect = _quick(image_shape=(-1, 16)).fit(X[:, :128])
    assert rect.image_shape_ == (8, 16)
    rvae = _quick().fit(X)
    with pytest.raises(ValueError, match="144 features"):
        rvae.transform(X[:, :100])


def test_too_few_samples_and_empty_input(small_digits):
    X, _, _ = small_digits
    with pytest.raises(ValueError, match="1 sample"):
        _quick().fit(X[:1])
    with pytest.raises(ValueError, match="0 sample"):
        _quick().fit(X[:0])
    with pytest.raises(ValueError, match="0 feature"):
        _quick().fit(np.empty((5, 0)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_requested_without_gpu(small_digits):
    X, _, _ = small_digits
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        _quick(device="cuda").fit(X)


def test_bad_device_and_params(small_digits):
    X, _, _ = small_digits
    with pytest.raises(ValueError, match="device"):
        _quick(device="tpu").fit(X)
    with pytest.raises(ValueError, match="n_components"):
        _quick(n_components=0).fit(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        _quick(hidden_layer_sizes=(0,)).fit(X)
    with pytest.raises(ValueError, match="bernoulli.*\\[0, 1\\]"):
        _quick(likelihood="bernoulli").fit(X * 2.0)


def test_inverse_transform_checks_z(small_digits):
    X, _, _ = small_digits
    rvae = _quick().fit(X)
    with pytest.raises(ValueError, match="n_components=2"):
        rvae.inverse_transform(np.zeros((3, 5)))
    Z = np.zeros((3, 2))
    for kwargs, match in [
        ({"angle": [1.0, 2.0]}, r"angle must have shape scalar .* or \(3,\)"),
        ({"angle": np.nan}, "angle must be finite"),
        ({"angle": "up"}, "angle must be numbers"),
        ({"shift": [1.0, 2.0, 3.0]}, r"shift must have shape \(2,\) .* or \(3, 2\)"),
        ({"shift": [[np.inf, 0.0]] * 3}, "shift must be finite"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            rvae.inverse_transform(Z, **kwargs)
    assert rvae.inverse_transform(Z, angle=[0.0, 90.0, 180.0], shift=[1.0, 0.0]).shape == (3, X.shape[1])
    for n_draws in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_draws must be an integer >= 1"):
            rvae.score_samples(X[:4], n_draws=n_draws)


@pytest.mark.parametrize("decoder", ["conv", "spatial"])
@pytest.mark.parametrize("translation", [True, False])
@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_every_model_variant_fits_and_decodes(small_digits, decoder, translation, likelihood):
    X = small_digits[0][:100]
    rvae = _quick(
        decoder=decoder, translation=translation, likelihood=likelihood,
        max_epochs=2, hidden_layer_sizes=(32, 32),
    ).fit(X)
    Z = rvae.transform(X)
    assert Z.shape == (100, 2) and np.isfinite(Z).all()
    angle, shift = rvae.transform_pose(X)
    assert np.isfinite(angle).all() and (shift is None) == (not translation)
    rec = rvae.reconstruct(X)
    assert rec.shape == X.shape and np.isfinite(rec).all()
    if likelihood == "bernoulli":
        assert rec.min() >= 0 and rec.max() <= 1
    assert np.isfinite(rvae.score(X))


def test_fixed_noise_scale_is_kept_in_data_units(small_digits):
    X, _, _ = small_digits
    rvae = _quick(noise_scale=0.05, max_epochs=3).fit(X)
    log_scale = rvae.net_.module_.log_scale
    assert not log_scale.requires_grad
    # the model works on X / data_scale_, so its scale is 0.05 / data_scale_
    assert float(log_scale) == pytest.approx(np.log(0.05 / rvae.data_scale_))
    learned = _quick(max_epochs=3).fit(X).net_.module_.log_scale
    assert learned.requires_grad and learned.item() != 0.0


def test_n_init_keeps_the_lowest_loss_and_n_init_1_is_unchanged():
    X, _, _ = make_rotated_digits(size=12, max_angle=60, random_state=0)
    X = X[:200]
    params = dict(max_epochs=3, batch_size=64, random_state=0, device="cpu")
    one = RotationInvariantVAE(**params).fit(X)
    three = RotationInvariantVAE(n_init=3, **params).fit(X)
    assert three.init_losses_.shape == (3,) and one.init_losses_.shape == (1,)
    # The first training of n_init=3 is the n_init=1 training.
    assert three.init_losses_[0] == one.init_losses_[0]
    kept = float(three.history_["train_loss"].iloc[-1])
    assert kept == three.init_losses_.min()
    if np.argmin(three.init_losses_) == 0:
        np.testing.assert_array_equal(three.transform(X), one.transform(X))
    assert len(set(three.init_losses_.tolist())) == 3  # different seeds
