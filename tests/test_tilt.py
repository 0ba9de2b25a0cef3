"""TiltRegressor on a fast synthetic tilt signal: learning, API, predict_map, bad input."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sklearn_rvae import TiltRegressor
from sklearn_rvae.datasets import make_synthetic_tilt_patches
from sklearn_rvae.tilt import PairDecision


# The synthetic patches are built from ase structures; the tests on the
# committed multislice fixture (load_abf_fixture) need neither ase nor abtem.

# A small plain CNN (the recipe's [110] physics, scan correction and pair decision off; tests switch them on).
SMALL = dict(network_shape=None, conv_layers=(16, 16, "pool", 32, 32, "pool"), fc_units=64, zone_axis=None,
             scan_correction=False, device="cpu", random_state=0)


def small(**params):
    """TiltRegressor with SMALL's settings, overridden by params."""
    return TiltRegressor(**{**SMALL, **params})


@pytest.fixture(scope="module")
def data():
    pytest.importorskip("ase")
    X, y = make_synthetic_tilt_patches(1200, size=24, random_state=0)
    return X[:1000], y[:1000], X[1000:], y[1000:]


@pytest.fixture(scope="module")
def trained(data):
    X, y, _, _ = data
    return small(max_epochs=30, augment=False).fit(X, y)


def test_learns_the_synthetic_tilts_far_better_than_the_mean(data, trained):
    _, y, Xv, yv = data
    pred = trained.predict(Xv)
    assert pred.dtype == np.float64 and pred.shape == (200, 3)
    mae = np.abs(pred - yv).mean(0)
    mean_predictor = np.abs(y.mean(0) - yv).mean(0)  # about 2.5 degrees for U(0, 10)
    assert np.all(mae < 0.6 * mean_predictor), (mae, mean_predictor)
    assert trained.score(Xv, yv) > 0.6
    assert "train_loss" in trained.history_.columns and trained.n_iter_ == 30


def test_pickle_clone_and_predict_map(data, trained):
    X, _, Xv, _ = data
    restored = pickle.loads(pickle.dumps(trained))
    np.testing.assert_array_equal(restored.predict(Xv), trained.predict(Xv))
    fresh = clone(trained)
    assert not hasattr(fresh, "net_") and fresh.get_params() == trained.get_params()
    patch = X[0].reshape(24, 24)
    image = np.tile(patch, (3, 4))
    maps = trained.predict_map(image, stride=24)
    assert maps.shape == (3, 4, 3)
    # Windows at multiples of the patch size are the patch itself.
    np.testing.assert_allclose(maps, np.broadcast_to(trained.predict(X[:1])[0], (3, 4, 3)), atol=1e-9)
    assert trained.predict_map(image).shape == (5, 7, 3)  # default stride: half a patch
    # Patches centred on given columns (rounded to the pixel; mirrored at the edges).
    centers = np.array([[11.6, 11.6], [35.6, 59.6], [0.0, 0.0]])
    at = trained.predict_map(image, centers=centers)
    assert at.shape == (3, 3)
    np.testing.assert_allclose(at[:2], np.broadcast_to(trained.predict(X[:1])[0], (2, 3)), atol=1e-9)
    assert not np.allclose(at[2], at[0])  # a mirrored corner patch is another patch


def test_predict_map_resamples_to_the_training_pixel_size(data, trained):
    from scipy import ndimage

    X, _, _, _ = data
    model = pickle.loads(pickle.dumps(trained))
    assert model.pixel_size_ == 0.25
    image = np.tile(X[:1].reshape(24, 24), (3, 3))
    np.testing.assert_array_equal(model.predict_map(image, pixel_size=0.25, stride=24), model.predict_map(image, stride=24))
    fine = np.clip(ndimage.zoom(image, 2, order=3, mode="grid-wrap", grid_mode=True), 0, None)  # 0.125 A/px
    centers = np.array([[36.0, 36.0], [60.0, 36.0]]) * 2 - 0.5  # the same columns in the finer image
    back = model.predict_map(fine, pixel_size=0.125, centers=centers)
    direct = model.predict_map(image, centers=np.array([[36.0, 36.0], [60.0, 36.0]]) - 0.5 + 0.1)
    assert np.abs(back - direct).max() < 1.0, (back, direct)
    unknown = pickle.loads(pickle.dumps(trained))
    unknown.pixel_size_ = None  # as fitted with TiltRegressor(pixel_size=None)
    with pytest.raises(ValueError, match="estimator's pixel_size"):
        unknown.predict_map(image, pixel_size=0.25)
    with pytest.raises(ValueError, match="centers must"):
        model.predict_map(image, centers=[[1.0, 2.0, 3.0]])


def test_augmented_fit_is_reproducible_and_leaves_global_rng_alone(data):
    X, y, Xv, _ = data
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = small(max_epochs=2, augment=True).fit(X[:200], y[:200])
    assert torch.equal(torch.get_rng_state(), before)
    b = small(max_epochs=2, augment=True).fit(X[:200], y[:200])
    np.testing.assert_array_equal(a.predict(Xv), b.predict(Xv))
    some = small(max_epochs=1, augment=("poisson", "blur", "scan_distortion")).fit(X[:64], y[:64])
    assert np.all(np.isfinite(some.predict(Xv)))


def test_poisson_augmentation_draws_the_asked_counts():
    from sklearn_rvae.tilt._module import Augment

    x = torch.full((64, 1, 16, 16), 0.7, dtype=torch.float64)
    torch.manual_seed(0)
    for counts in (100.0, 4400.0):
        noisy = Augment(("poisson",), counts_range=(counts, counts)).train()(x)
        # Poisson: relative standard deviation 1 / sqrt(mean count).
        relative = (noisy.std() / noisy.mean()).item()
        assert abs(relative * np.sqrt(counts) - 1) < 0.05, (counts, relative)


def test_scan_distortion_shifts_each_row_independently():
    from sklearn_rvae.tilt._module import Augment

    ramp = torch.arange(32, dtype=torch.float64).expand(256, 1, 32, 32).clone()  # value = x in pixels
    torch.manual_seed(0)
    shifted = Augment(("scan_distortion",), scan_jitter=0.2).train()(ramp)
    shift = (shifted - ramp)[:, 0, :, 8:24].mean(-1)  # per row, away from the reflected edges
    assert abs(shift.std().item() / 0.2 - 1) < 0.1
    neighbours = np.corrcoef(shift[:, :-1].ravel().numpy(), shift[:, 1:].ravel().numpy())[0, 1]
    assert abs(neighbours) < 0.1, neighbours


@pytest.mark.parametrize(
    "X, y, params, match",
    [
        (np.ones((10, 64)), np.ones((10, 3, 1)), {}, r"dim 3, while dim <= 2"),
        (np.ones((10, 64)), np.ones((10, 2)), {"zone_axis": "110"}, r"needs y of shape \(n_samples, 3\)"),
        (np.full((10, 64), np.nan), np.ones((10, 3)), {}, "NaN"),
        (-np.ones((10, 64)), np.ones((10, 3)), {}, "Negative values"),
        (np.ones((10, 60)), np.ones((10, 3)), {}, "image_shape"),
        (np.ones((10, 64)), np.ones((10, 3)), {"augment": ("zoom",)}, "zoom"),
        (np.ones((10, 64)), np.ones((10, 3)), {"conv_layers": ("pool", 4)}, "conv_layers"),
        (np.ones((10, 64)), np.ones((10, 3)), {"conv_layers": (4, "pool", "pool")}, "conv_layers"),
        (np.ones((10, 64)), np.ones((10, 3)), {"conv_layers": (4, 2.5)}, "conv_layers"),
        (np.ones((10, 64)), np.ones((10, 3)), {"conv_layers": ()}, "conv_layers"),
        (np.ones((10, 64)), np.ones((10, 3)), {"zone_axis": None, "pair_decision": PairDecision()}, "zone_axis='110'"),
        (np.ones((10, 64)), np.ones((10, 3)), {"counts_range": (0.0, 10.0)}, "counts_range"),
        (np.ones((10, 64)), np.ones((10, 3)), {"counts_range": (20.0, 10.0)}, "counts_range"),
        (np.ones((1, 64)), np.ones((1, 3)), {}, "minimum of 2"),
    ],
)
def test_bad_input_is_a_clear_error(X, y, params, match):
    # (1-D y and any number of columns are fine: n_outputs_ comes from y.)
    with pytest.raises(ValueError, match=match):
        small(max_epochs=1, **params).fit(X, y)


def test_predict_checks_the_patch_size(trained):
    with pytest.raises(ValueError, match="features"):
        trained.predict(np.ones((2, 25 * 25)))
    with pytest.raises(ValueError, match="at least the patch size"):
        trained.predict_map(np.ones((10, 10)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the error on machines without a GPU")
def test_cuda_without_gpu_is_a_clear_error(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="no CUDA GPU"):
        small(device="cuda", max_epochs=1).fit(X[:8], y[:8])


def test_fits_the_committed_abf_fixture_in_a_pipeline():
    from sklearn.pipeline import make_pipeline

    from sklearn_rvae.datasets import load_abf_fixture

    X, y = load_abf_fixture()  # real multislice patches, no abtem needed
    model = make_pipeline(small(max_epochs=2, pixel_size=0.25)).fit(X[:96], y[:96])
    pred = model.predict(X[96:])
    assert pred.shape == (32, 3) and np.all(np.isfinite(pred))


def test_pixel_standardisation_uses_the_training_patches(data):
    from sklearn_rvae.tilt._module import standardize_patches

    X, y, _, _ = data
    on = small(max_epochs=1).fit(X[:64], y[:64])
    z = standardize_patches(torch.as_tensor(X[:64], dtype=torch.float64).reshape(64, 1, 24, 24))
    np.testing.assert_allclose(on.net_.module_.pixel_mean[0, 0].numpy(), z.mean(0)[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(on.net_.module_.pixel_scale[0, 0].numpy(), z.std(0, unbiased=False)[0].numpy(),
                               rtol=1e-5)
    restored = pickle.loads(pickle.dumps(on))
    np.testing.assert_array_equal(restored.predict(X[64:80]), on.predict(X[64:80]))


def test_scan_row_aligner_recovers_known_row_shifts():
    from sklearn_rvae.tilt import ScanRowAligner, appearance_model, shift_rows

    pytest.importorskip("ase")
    X, _ = make_synthetic_tilt_patches(600, size=32, random_state=0)  # noise-free
    clean = torch.as_tensor(X[400:], dtype=torch.float64).reshape(-1, 32, 32)
    aligner = ScanRowAligner(*appearance_model(X[:400], (32, 32)), jitter=0.2).double()
    gen = torch.Generator().manual_seed(0)
    true = torch.randn(len(clean), 32, generator=gen, dtype=torch.float64) * 0.2
    true -= true.mean(1, keepdim=True)  # a patch's mean offset is its column's position, kept
    jittered = shift_rows(clean, true)
    found = aligner.estimate(jittered / jittered.mean((1, 2), keepdim=True))
    # The first and last rows see the patch edge in one direction only.
    assert (found - true)[:, 2:-2].pow(2).mean().sqrt() < 0.1  # measured 0.077, against 0.2 left alone
    # With shot noise at the benchmark's counts, shifting the rows back removes most of the jitter's error.
    electrons = 4400 / clean.mean()
    noisy = torch.poisson(jittered * electrons, generator=gen) / electrons
    found = aligner.estimate(noisy / noisy.mean((1, 2), keepdim=True))
    inner = (slice(None), slice(None), slice(3, -3))
    ratio = (shift_rows(jittered, -found) - clean)[inner].pow(2).mean() / (jittered - clean)[inner].pow(2).mean()
    assert ratio < 0.5, ratio  # measured 0.36
    # The module shifts the rows of raw intensities (any scale) the same way.
    np.testing.assert_allclose(aligner(5 * noisy[:, None])[:, 0].numpy(), 5 * shift_rows(noisy, -found).numpy())


def test_scan_correction_aligns_rows_in_fit_and_predict():
    from sklearn_rvae.datasets import load_abf_fixture

    X, y = load_abf_fixture()
    with pytest.raises(ValueError, match="scan_correction=True needs scan_jitter > 0"):
        small(scan_correction=True, scan_jitter=0.0, max_epochs=1).fit(X, y)
    reg = small(scan_correction=True, scan_jitter=0.2, max_epochs=2, augment=("poisson", "scan_distortion"),
                        counts_range=(4000.0, 4000.0)).fit(X[:96], y[:96])
    aligner = reg.net_.module_.aligner
    assert aligner is not None and aligner.components.shape == (20, 1024)
    pred = reg.predict(X[96:])
    assert pred.shape == (32, 3) and np.all(np.isfinite(pred))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X[96:]), pred)
    assert small(max_epochs=1).fit(X[:96], y[:96]).net_.module_.aligner is None


def test_zone_axis_110_makes_predictions_exactly_mirror_equivariant():
    from sklearn_rvae.datasets import load_abf_fixture, mirror_patches_110

    X, y = load_abf_fixture()
    reg = small(zone_axis="110", pair_decision="network", max_epochs=2, augment=("poisson",),
                counts_range=(500.0, 500.0)).fit(X[:96], y[:96])
    # The four mirrors of the held-out patches, and what their predictions must be: the mirrored tilts.
    X4, pred4 = mirror_patches_110(X[96:].astype(np.float64), reg.predict(X[96:]))
    np.testing.assert_allclose(reg.predict(X4), pred4, atol=1e-9)
    plain = small(max_epochs=2).fit(X[:96], y[:96])
    assert not np.allclose(plain.predict(X4), mirror_patches_110(X[96:], plain.predict(X[96:]))[1], atol=1e-3)
    with pytest.raises(ValueError, match=r"zone_axis='110' .* needs y of shape \(n_samples, 3\), got \(8, 1\)"):
        small(zone_axis="110", max_epochs=1).fit(X[:8], y[:8, 0])


def test_pair_invariants_decode_to_the_tilts_on_the_direct_predictions_side():
    from sklearn_rvae.tilt._estimator import _decode_pair

    rng = np.random.default_rng(0)
    y = rng.uniform(-10, 10, (200, 3))
    d, g = y[:, 0] - y[:, 1], y[:, 2]
    exact = np.column_stack([y, d * d - g * g, 2 * d * g])
    np.testing.assert_allclose(_decode_pair(exact), y, atol=1e-9)
    # A direct prediction of the right sign but the wrong size: the invariants' root fixes half the error.
    scaled = exact.copy()
    scaled[:, :3] = np.column_stack([(d * 0.5 + (y[:, 0] + y[:, 1])) / 2, ((y[:, 0] + y[:, 1]) - d * 0.5) / 2, g * 0.5])
    decoded = _decode_pair(scaled)
    np.testing.assert_allclose(decoded[:, 0] - decoded[:, 1], 0.75 * d, atol=1e-9)
    np.testing.assert_allclose(decoded[:, 2], 0.75 * g, atol=1e-9)
    # The direct prediction picks the member of the pair: point it at (beta, alpha, -gamma).
    flipped = exact.copy()
    flipped[:, :3] = y[:, [1, 0, 2]] * (1, 1, -1)
    np.testing.assert_allclose(_decode_pair(flipped), y[:, [1, 0, 2]] * (1, 1, -1), atol=1e-9)


def test_zone_axis_110_learns_the_pair_invariants_and_a_plain_cnn_does_not():
    from sklearn_rvae.datasets import load_abf_fixture, mirror_patches_110

    X, y = load_abf_fixture()
    plain = small(max_epochs=1, augment=False).fit(X[:96], y[:96])
    assert plain.target_mean_.shape == (3,) and plain.net_.module_.flips is None
    reg = small(zone_axis="110", pair_decision="network", max_epochs=2, augment=False).fit(X[:96], y[:96])
    assert reg.target_mean_.shape == (5,) and reg.net_.module_.label_maps.shape == (4, 5, 5)
    pred = reg.predict(X[96:])
    assert pred.shape == (32, 3)
    X4, pred4 = mirror_patches_110(X[96:].astype(np.float64), pred)
    np.testing.assert_allclose(reg.predict(X4), pred4, atol=1e-9)


def test_pair_likelihood_decides_the_pair_from_the_templates_and_keeps_the_mirrors():
    import pickle

    from sklearn_rvae.tilt import PairDecision
    from sklearn_rvae.tilt._pair_library import GAMMA_FLIP, PAIR_MAP
    from sklearn_rvae.datasets import load_abf_fixture, mirror_patches_110

    X, y = load_abf_fixture()
    with pytest.raises(ValueError, match="pair_decision is for the .* needs zone_axis='110'"):
        small(pair_decision=PairDecision(), max_epochs=1).fit(X[:8], y[:8])
    pair = PairDecision(n_neighbors=50)
    reg = small(zone_axis="110", pair_decision=pair, scan_jitter=0.2, max_epochs=2,
                        augment=False).fit(X[:96], y[:96])
    # The patches are kept; their three mirrors are templates too, made when needed.
    assert reg.pair_library_.X.shape == (96, 32, 32) and reg.pair_library_.y.shape == (4 * 96, 3)
    pred = reg.predict(X[96:])
    # predict = the templates' local fit for the member they pick, from the network's estimate.
    network = reg.set_params(pair_decision="network").predict(X[96:])
    reg.set_params(pair_decision=pair)
    chosen, templates, _ = reg.pair_library_.decide(X[96:], network, PairDecision(n_local_templates=8))
    np.testing.assert_allclose(pred, templates)
    # The candidates: the network's estimate, its pair partner, and both with gamma's sign flipped.
    maps = [np.eye(3), PAIR_MAP, GAMMA_FLIP, PAIR_MAP @ GAMMA_FLIP]
    assert all(any(np.allclose(c, n @ m.T) for m in maps) for c, n in zip(chosen, network))
    # local=0 (no refit needed): the chosen candidate averaged with the templates' weighted mean.
    chosen, templates, _ = reg.pair_library_.decide(X[96:], network, PairDecision(n_local_templates=0))
    np.testing.assert_allclose(reg.set_params(pair_decision__n_local_templates=0).predict(X[96:]), (chosen + templates) / 2)
    reg.set_params(pair_decision__n_local_templates=8)
    # flip_gamma=False: the two members of the network's estimate only.
    chosen, templates, _ = reg.pair_library_.decide(X[96:], network, PairDecision(flip_gamma=False))
    np.testing.assert_allclose(reg.set_params(pair_decision__flip_gamma=False).predict(X[96:]), templates)
    assert all(np.allclose(c, n) or np.allclose(c, n @ PAIR_MAP.T) for c, n in zip(chosen, network))
    reg.set_params(pair_decision__flip_gamma=True)
    # row_gain=0: no gain divided out of the patches, none in the local fit.
    _, templates, _ = reg.pair_library_.decide(X[96:], network, PairDecision(row_gain=0))
    np.testing.assert_allclose(reg.set_params(pair_decision__row_gain=0).predict(X[96:]), templates)
    reg.set_params(pair_decision__row_gain=4)
    # refine: the local fit repeated around its own tilts, up to that many times (default 3).
    _, once, _ = reg.pair_library_.decide(X[96:], network, PairDecision(max_refinements=1))
    np.testing.assert_allclose(reg.set_params(pair_decision__max_refinements=1).predict(X[96:]), once)
    assert np.abs(once - pred).max() > 1e-3  # the repeats moved some estimates
    reg.set_params(pair_decision__max_refinements=3)
    with pytest.raises(ValueError, match="'max_refinements' parameter of PairDecision must be an int in the range"):
        reg.pair_library_.decide(X[96:], network, PairDecision(max_refinements=0))
    with pytest.raises(ValueError, match=r"PairDecision n_local_templates must be 0 or from 4 to min\(20, n_neighbors\)=20"):
        clone(reg).set_params(pair_decision__n_local_templates=3).fit(X[:96], y[:96])
    assert reg.pair_decision.n_local_templates == 8  # clone copied the settings, and set_params changed the copy
    X4, pred4 = mirror_patches_110(X[96:].astype(np.float64), pred)
    np.testing.assert_allclose(reg.predict(X4), pred4, atol=1e-6)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X[96:]), pred)


def test_pair_likelihood_with_cell_templates():
    import sys
    from pathlib import Path

    from sklearn_rvae.tilt._pair_library import CellPairLibrary
    from sklearn_rvae.datasets import mirror_patches_110

    sys.path.insert(0, str(Path(__file__).parent))
    from test_periodic import _library_cells

    rng = np.random.default_rng(0)
    cells = _library_cells(rng, n=80)
    # Patches recorded anywhere: the column within half a pixel of the centre, the pixel size 2% either way.
    entries = rng.integers(0, len(cells), 120)
    X = np.stack([cells.render([e], (20, 20), rng.uniform(-0.5, 0.5, 2), 0.25 * (1 + rng.uniform(-0.02, 0.02, 2)))[0]
                  for e in entries])
    X = (rng.poisson(X * 2e4) / 2e4).reshape(len(X), -1)
    y = cells.tilts[entries]
    from sklearn_rvae.tilt import PairDecision

    params = dict(SMALL, zone_axis="110", pair_decision=PairDecision(), scan_jitter=0.2, max_epochs=2, augment=False)
    with pytest.raises(ValueError, match=r"set TiltRegressor\(pixel_size=...\)"):
        TiltRegressor(**dict(params, pixel_size=None)).fit(X[:100], y[:100], cells=cells)
    with pytest.raises(ValueError, match="there is none"):
        TiltRegressor(**dict(params, pair_decision="network")).fit(X[:100], y[:100], cells=cells)
    with pytest.raises(TypeError, match="cells must be a PeriodicCells"):
        TiltRegressor(**params).fit(X[:100], y[:100], cells=X)
    reg = TiltRegressor(**dict(params, pair_decision=PairDecision(n_local_templates=4))).fit(
        X[:100], y[:100], cells=cells)
    assert isinstance(reg.pair_library_, CellPairLibrary) and reg.pair_library_.n_neighbors == 100
    fitted = pickle.dumps(reg)
    pred = reg.predict(X[100:])
    # predict leaves the fitted estimator as it was (the per-patch geometry is the call's own).
    assert pickle.dumps(reg) == fitted
    assert pred.shape == (20, 3) and np.all(np.isfinite(pred))
    # The templates follow the patch: its mirrors get the mirrored geometry and templates, so the tilts mirror.
    X4, pred4 = mirror_patches_110(X[100:], pred)
    np.testing.assert_allclose(reg.predict(X4), pred4, atol=1e-5)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X[100:]), pred)
    # The pair decision shared out over processes: each patch is decided alone, so nothing changes.
    np.testing.assert_array_equal(reg.set_params(n_jobs=2).predict(X[100:]), pred)
    reg.set_params(n_jobs=None)
    with pytest.raises(ValueError, match="n_jobs"):
        TiltRegressor(**dict(params, n_jobs=1.5)).fit(X[:100], y[:100])


def test_network_shape_feeds_the_cnn_the_central_crop_and_the_templates_the_whole_patch():
    from sklearn_rvae.datasets import load_abf_fixture

    X, y = load_abf_fixture()  # 32 x 32 patches centred on a B column
    crop = X.reshape(-1, 32, 32)[:, 6:26, 4:28].reshape(len(X), -1)
    params = dict(SMALL, max_epochs=2, augment=("poisson",))
    wide = TiltRegressor(**dict(params, network_shape=(20, 24))).fit(X[:96], y[:96])
    narrow = TiltRegressor(**dict(params, image_shape=(20, 24))).fit(crop[:96], y[:96])
    assert wide.network_shape_ == (20, 24) and wide.image_shape_ == (32, 32) and wide.n_features_in_ == 32 * 32
    # The same network, trained and applied on the crops.
    np.testing.assert_allclose(wide.predict(X[96:]), narrow.predict(crop[96:]), rtol=1e-6, atol=1e-6)
    # The templates are whole patches: the pair is decided on all 32 x 32 pixels.
    from sklearn_rvae.tilt import PairDecision

    reg = TiltRegressor(**dict(params, network_shape=(20, 24), zone_axis="110", pair_decision=PairDecision(n_neighbors=50),
                               scan_jitter=0.2)).fit(X[:96], y[:96])
    assert reg.pair_library_.X.shape == (96, 32, 32)
    assert reg.predict(X[96:]).shape == (len(X) - 96, 3)
    for bad in [(21, 24), (34, 32), (0, 32), (20,)]:
        with pytest.raises(ValueError, match="network_shape"):
            TiltRegressor(**dict(params, network_shape=bad)).fit(X[:8], y[:8])


def test_the_defaults_are_the_validated_recipe():
    """TiltRegressor() is the recipe of benchmarks/RESULTS.md's headline (issue 24), in at most 22 parameters."""
    reg = TiltRegressor()
    params = reg.get_params(deep=False)
    assert len([name for name, value in params.items() if value != "deprecated"]) <= 22  # old names aside
    assert params["network_shape"] == (32, 32) and params["zone_axis"] == "110" and params["scan_correction"]
    assert params["augment"] == ("poisson", "scan_distortion") and params["max_epochs"] == 6
    decision = reg._pair_decision()  # "auto" with the zone axis: the pair decision's defaults
    assert isinstance(decision, PairDecision) and decision.get_params() == PairDecision().get_params()
    assert reg.set_params(zone_axis=None)._pair_decision() is None  # "auto": the network, without the zone axis
    assert reg.set_params(zone_axis="110", pair_decision="network")._pair_decision() is None
    # The decision's settings from "auto": they start from PairDecision()'s defaults.
    tuned = TiltRegressor().set_params(pair_decision__n_local_templates=4, pair_decision__max_refinements=1)
    assert tuned.pair_decision.get_params() == PairDecision(n_local_templates=4, max_refinements=1).get_params()
    assert TiltRegressor().get_params()["pair_decision"] == "auto"  # the default is left alone
    with pytest.raises(ValueError, match="pair_decision__n_local_templates sets the pair decision, but pair_decision='network'"):
        TiltRegressor(pair_decision="network").set_params(pair_decision__n_local_templates=4)


def test_conv_layers_read_like_vgg_configurations():
    from sklearn_rvae.tilt._estimator import _conv_layers

    assert _conv_layers((32, 32, "pool", 64, 64, "pool", 64, 128, "pool", 128)) == ((32, 32, 64, 64, 64, 128, 128),
                                                                                   (2, 4, 6))
    assert _conv_layers((64,) * 5 + ("pool",) + (64, 64, 128, 128, 128, "pool")) == ((64,) * 7 + (128,) * 3, (5, 10))


def test_learning_rate_anneals_by_a_cosine_over_max_epochs():
    from sklearn_rvae.datasets import load_abf_fixture

    X, y = load_abf_fixture()
    reg = small(max_epochs=4, lr=1e-3, augment=False).fit(X[:64], y[:64])
    epochs = np.arange(4)
    np.testing.assert_allclose(reg.history_["event_lr"], 1e-3 * (1 + np.cos(np.pi * epochs / 4)) / 2, rtol=1e-6)


def test_predict_follows_the_fitted_network_and_a_failed_fit_leaves_no_fitted_state():
    from sklearn.exceptions import NotFittedError

    from sklearn_rvae.datasets import load_abf_fixture

    X, y = load_abf_fixture()
    reg = small(max_epochs=1, augment=False)
    with pytest.raises(ValueError, match="network_shape"):
        reg.set_params(network_shape=(40, 40)).fit(X[:32], y[:32])  # 32 px patches
    with pytest.raises(NotFittedError):
        reg.predict(X[:2])
    plain = small(max_epochs=1, augment=False).fit(X[:64], y[:64])
    pred = plain.predict(X[64:70])
    # zone_axis changed after fit: the fitted plain network still predicts, without a pair decision.
    np.testing.assert_array_equal(plain.set_params(zone_axis="110").predict(X[64:70]), pred)
    with pytest.raises(ValueError, match="was set after a fit without a pair decision"):
        plain.set_params(pair_decision=PairDecision()).predict(X[64:70])
    with pytest.raises(ValueError, match=r"'Pool' at index 1"):
        small(conv_layers=(4, "Pool")).fit(X[:8], y[:8])
    with pytest.raises(ValueError, match="counts_range"):
        small(counts_range=("100", 200)).fit(X[:8], y[:8])
