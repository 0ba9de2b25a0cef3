"""Finding atoms, atom-centred patches, the STEM simulator and the rVAE's classes."""

import pickle

import numpy as np
import pytest
from scipy.spatial import cKDTree
from sklearn.base import clone
from sklearn.decomposition import NMF, PCA
from sklearn.pipeline import make_pipeline

from sklearn_rvae import AtomPatchExtractor, RotationInvariantVAE
from sklearn_rvae.atoms import cut_patches, find_atoms
from sklearn_rvae.datasets import environment_names, make_stem_image, make_stem_movie


def _spots(shape, centres, sigma=1.8, heights=None):
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    heights = np.ones(len(centres)) if heights is None else heights
    return sum(h * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * sigma**2)) for (r, c), h in zip(centres, heights))


def _grid(rng, n=5, spacing=9.0, origin=8.0):
    base = np.array([(origin + i * spacing, origin + j * spacing) for i in range(n) for j in range(n)])
    return base + rng.uniform(-0.5, 0.5, base.shape)


def _match(found, truth):
    d, j = cKDTree(truth).query(found)
    return d, j


def test_exact_subpixel_positions_noise_free():
    rng = np.random.default_rng(0)
    truth = _grid(rng)
    image = 0.05 + _spots((56, 56), truth)
    found = find_atoms(image, min_distance=6)
    assert len(found) == len(truth)
    d, j = _match(found, truth)
    assert len(np.unique(j)) == len(truth)
    assert d.max() < 0.01
    # Integer peaks alone are off by up to half a pixel: refinement did the work.
    coarse, _ = _match(find_atoms(image, min_distance=6, refine=False), truth)
    assert coarse.max() > 0.2


def test_dark_columns_with_invert():
    rng = np.random.default_rng(1)
    truth = _grid(rng)
    image = 1.0 - 0.5 * _spots((56, 56), truth)
    found = find_atoms(image, min_distance=6, invert=True)
    d, _ = _match(found, truth)
    assert len(found) == len(truth) and d.max() < 0.01
    # Without inversion the "columns" found are the gaps between the dark ones.
    wrong = find_atoms(image, min_distance=6)
    assert np.median(_match(wrong, truth)[0]) > 2


def test_faint_column_beside_bright_one_is_found():
    # A carbon-like column 7 px from one four times as bright, with a probe
    # as wide as the bond: no local maximum of its own in the smoothed image.
    truth = np.array([[20.0, 20.0], [20.3, 27.1], [30.0, 14.0]])
    image = 0.1 + _spots((44, 44), truth, sigma=2.1, heights=np.array([4.2, 1.0, 1.0]))
    found = find_atoms(image, min_distance=5)
    d, j = _match(found, truth)
    assert sorted(j.tolist()) == [0, 1, 2] and d.max() < 0.05


def test_edges_and_border():
    rng = np.random.default_rng(2)
    truth = np.array([[0.4, 20.0], [20.0, 39.2], [20.0, 20.0], [38.8, 5.0]])
    image = rng.poisson(2 + 200 * _spots((40, 40), truth)).astype(float)
    found = find_atoms(image, min_distance=5)
    d, _ = _match(found, truth)
    assert len(found) == 4 and d.max() < 0.3
    inner = find_atoms(image, min_distance=5, exclude_border=5)
    assert len(inner) == 1 and _match(inner, truth)[1][0] == 2


def test_simulated_graphene_at_low_dose():
    image, atoms = make_stem_image(size=128, dopants={"Si": 4}, n_vacancies=2, peak_counts=40, random_state=5)
    truth = atoms[["row", "col"]].to_numpy()
    found = find_atoms(image, min_distance=5)
    d_truth, _ = cKDTree(found).query(truth)
    d_found, _ = cKDTree(truth).query(found)
    inside = np.all((truth > 2) & (truth < 125), axis=1)
    assert np.mean(d_truth[inside] < 2) >= 0.99  # recall away from the edges
    assert np.mean(d_truth < 2) >= 0.95  # ... and with the atoms cut by the edges
    assert np.mean(d_found < 2) >= 0.98  # precision
    assert np.sqrt(np.mean(d_truth[inside & (d_truth < 2)] ** 2)) < 0.25


@pytest.mark.parametrize(
    "image, kwargs, match",
    [
        (np.zeros((0, 0)), {}, "at least 3x3"),
        (np.ones(50), {}, r"\(h, w\)"),
        (np.full((20, 20), np.nan), {}, "NaN"),
        (np.array([["a"]]), {}, "numbers"),
        (np.ones((20, 20)), {"min_distance": 0}, "min_distance must be a finite number > 0, got 0"),
        (np.ones((20, 20)), {"min_distance": -2.0}, r"min_distance must be a finite number > 0, got -2\.0"),
        (np.ones((20, 20)), {"min_distance": 25}, "not smaller than the image"),
        (np.ones((20, 20)), {"exclude_border": -1}, "exclude_border must be a finite number of pixels >= 0, or a bool, got -1"),
        (np.ones((20, 20)), {"exclude_border": "a"}, "exclude_border"),
        (np.ones((20, 20)), {"invert": "yes"}, "invert"),
    ],
)
def test_find_atoms_errors(image, kwargs, match):
    kwargs = {"min_distance": 4, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        find_atoms(image, **kwargs)


def test_find_atoms_on_flat_or_empty_images():
    assert find_atoms(np.zeros((30, 30)), min_distance=4).shape == (0, 2)
    # Vacuum at low dose: most pixels 0, so the noise must not read as 0.
    rng = np.random.default_rng(3)
    image = rng.poisson(0.3 + 10 * _spots((128, 128), [(40.0, 40.0), (80.0, 90.0)])).astype(float)
    # The default threshold keeps most of the noise out (it let 129 maxima
    # through when the noise read as 0); below a count per pixel, set it.
    assert len(find_atoms(image, min_distance=5)) <= 10
    found = find_atoms(image, min_distance=5, threshold=2.0)
    assert len(found) == 2 and _match(found, np.array([[40.0, 40.0], [80.0, 90.0]]))[0].max() < 0.5
    # No atoms, no patches: an empty (0, window ** 2) array.
    assert AtomPatchExtractor(8, min_distance=4).fit_transform(np.zeros((30, 30))).shape == (0, 64)


def test_cut_patches_centres_subpixel_positions():
    image = _spots((40, 40), [(17.3, 21.6)])
    patch = cut_patches(image, np.array([[17.3, 21.6]]), 9)[0]
    # Odd window: the centre pixel samples the atom's centre, and the patch
    # is symmetric about it (to the accuracy of bilinear sampling).
    assert np.unravel_index(patch.argmax(), patch.shape) == (4, 4)
    assert np.allclose(patch, patch[::-1, ::-1], atol=0.03)


def test_extractor_frames_locate_and_edges():
    frames, truth = make_stem_movie(n_frames=3, size=80, dopants={"Si": 1}, n_vacancies=1,
                                    hop_frames=(), random_state=0)
    ext = AtomPatchExtractor(16, min_distance=5)
    patches = ext.fit_transform(frames)
    where = ext.locate(frames)
    assert patches.shape == (len(where), 256)
    assert set(where["frame"]) == {0, 1, 2}
    n_all = sum(len(find_atoms(f, min_distance=5)) for f in frames)
    assert len(where) + where.attrs["n_excluded"] == n_all and where.attrs["n_excluded"] > 0
    # Every kept window lies inside its frame.
    half = 7.5
    assert (where[["row", "col"]].to_numpy() >= half).all()
    assert (where[["row", "col"]].to_numpy() <= 79 - half).all()
    # Patches follow locate's order: re-cutting at those positions gives them back.
    assert np.allclose(ext.transform_at(frames, where), patches)
    padded = AtomPatchExtractor(16, min_distance=5, exclude_border=False)
    assert len(padded.fit_transform(frames)) == n_all
    assert padded.locate(frames).attrs["n_excluded"] == 0


def test_extractor_feature_names_and_cut_patches_errors():
    image, _ = make_stem_image(size=64, dopants={"Si": 1}, n_vacancies=0)
    ext = AtomPatchExtractor(8, min_distance=5).fit(image)
    names = ext.get_feature_names_out()
    assert len(names) == 64 and names[0] == "atompatchextractor0"
    with pytest.raises(ValueError, match="positions"):
        cut_patches(image, np.array([[np.nan, 3.0]]), 5)
    with pytest.raises(ValueError, match="window_size must be an int >= 1, got 0"):
        cut_patches(image, np.array([[3.0, 3.0]]), 0)


def test_extractor_standardize_and_disk():
    image, _ = make_stem_image(size=64, dopants={"Si": 1}, n_vacancies=0)
    p = AtomPatchExtractor(12, min_distance=5, standardize=True).fit_transform(image)
    assert np.allclose(p.mean(1), 0) and np.allclose(p.std(1), 1)
    d = AtomPatchExtractor(12, min_distance=5, mask="disk", standardize=True).fit_transform(image)
    r = np.hypot(*np.meshgrid(np.arange(12) - 5.5, np.arange(12) - 5.5)).ravel()
    assert np.all(d[:, r > 6] == 0) and (r > 6).sum() > 0
    assert np.allclose(d[:, r <= 6].mean(1), 0) and np.allclose(d[:, r <= 6].std(1), 1)
    # The taper weighs the standardised disk by a Gaussian of the distance from the atom.
    t = AtomPatchExtractor(12, min_distance=5, mask="disk", standardize=True, taper=3.0).fit_transform(image)
    assert np.allclose(t, d * np.exp(-(r**2) / 18.0))


@pytest.mark.parametrize(
    "params, X, match",
    [
        ({"window_size": 40}, np.ones((20, 20)), "window_size=40 is larger"),
        ({"min_distance": 0}, np.ones((20, 20)), "min_distance"),
        ({"edge": "wrap"}, np.ones((20, 20)), "edge"),
        ({"taper": 0}, np.ones((20, 20)), "taper"),
        ({}, np.ones(20), r"\(h, w\) or \(n_frames, h, w\)"),
        ({}, np.ones((2, 2, 20, 20)), r"\(h, w\) or \(n_frames, h, w\)"),
        ({}, np.full((20, 20), np.inf), "NaN or infinite"),
    ],
)
def test_extractor_errors(params, X, match):
    ext = AtomPatchExtractor(**{"window_size": 8, "min_distance": 4, **params})
    with pytest.raises(ValueError, match=match):
        ext.fit_transform(X)


def test_transform_at_errors():
    ext = AtomPatchExtractor(8, min_distance=4)
    import pandas as pd

    with pytest.raises(ValueError, match="missing"):
        ext.transform_at(np.ones((20, 20)), pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ValueError, match="frame"):
        ext.transform_at(np.ones((2, 20, 20)), pd.DataFrame({"frame": [2], "row": [5.0], "col": [5.0]}))


def test_pipelines_clone_pickle():
    image, _ = make_stem_image(size=80, dopants={"Si": 2}, n_vacancies=1)
    for model in (PCA(2), NMF(2, max_iter=500, random_state=0)):
        pipe = make_pipeline(AtomPatchExtractor(12, min_distance=5), model)
        codes = pipe.fit_transform(image)
        again = pickle.loads(pickle.dumps(pipe))
        assert np.array_equal(again.transform(image), pipe.transform(image))
        assert codes.shape[1] == 2
        fresh = clone(pipe)
        assert not hasattr(fresh[-1], "components_")


def test_simulator_truth():
    image, atoms = make_stem_image(size=128, dopants={"Si": 3, "N": 2}, n_vacancies=2, random_state=3)
    names = environment_names(("Si", "N"))
    assert list(atoms["environment"].cat.categories) == list(names)
    counts = atoms["environment"].value_counts()
    assert counts["Si"] == 3 and counts["N"] == 2
    assert counts["C-Si"] == 9 and counts["C-N"] == 6 and counts["C-vacancy"] == 6
    # A Si column is (14 / 6) ** 1.7 = 4.2 times as bright as a carbon one.
    si = atoms[atoms.element == "Si"].iloc[0]
    c = atoms[atoms.environment == "C"].iloc[len(atoms) // 2]
    ratio = image[round(si.row), round(si.col)] / image[round(c.row), round(c.col)]
    assert 2.5 < ratio < 7
    with pytest.raises(ValueError, match="unknown dopant"):
        make_stem_image(dopants={"Xx": 1})


def test_movie_hop_and_drift():
    frames, atoms = make_stem_movie(n_frames=4, size=96, dopants={"Si": 2}, n_vacancies=0,
                                    drift=(2.0, -1.0), drift_jitter=0.0, hop_frames=(2,), random_state=1)
    by_site = atoms.pivot_table(index="atom_id", columns="frame", values="element", aggfunc="first")
    both = by_site.dropna()
    changed = both[(both[1] != both[2])]
    assert len(changed) == 2 and set(changed[1]) == {"C", "Si"}
    assert (both[0] == both[1]).all() and (both[2] == both[3]).all()
    # The sample moves by the drift in the image from frame to frame.
    a = atoms[atoms.frame == 0].set_index("atom_id")[["row", "col"]]
    b = atoms[atoms.frame == 1].set_index("atom_id")[["row", "col"]]
    step = (b - a).dropna().median().to_numpy()
    assert np.allclose(step, [2.0, -1.0], atol=0.1)
    with pytest.raises(ValueError, match="hop_frames"):
        make_stem_movie(n_frames=3, hop_frames=(3,))


# ----------------------------------------------------------------- classes
@pytest.fixture(scope="module")
def two_shapes():
    from sklearn_rvae.datasets import make_rotated_shapes

    X, y, _ = make_rotated_shapes(n_samples=400, size=16, n_classes=2, random_state=0)
    return X, y


def test_n_classes_predict(two_shapes):
    from sklearn.metrics import adjusted_rand_score

    X, y = two_shapes
    m = RotationInvariantVAE(2, n_classes=2, angle_prior="uniform", max_epochs=30,
                             device="cpu", random_state=0).fit(X)
    proba = m.predict_proba(X)
    assert proba.shape == (400, 2) and np.allclose(proba.sum(1), 1)
    assert np.array_equal(m.predict(X), proba.argmax(1))
    assert np.array_equal(m.labels_, m.predict(X)) and list(m.classes_) == [0, 1]
    assert adjusted_rand_score(y, m.labels_) > 0.9
    # The ELBO under the class mixture is comparable with the standard normal prior's, on the same
    # network: its modes are as wide as the codes' posteriors (modes as tight as the codes cost
    # hundreds of nats here).
    module = m.net_.module_
    classes_elbo, prior = m.score(X), module.class_prior
    module.class_prior = None
    normal_elbo = m.score(X)
    module.class_prior = prior
    assert abs(classes_elbo - normal_elbo) < 5, (classes_elbo, normal_elbo)
    assert m.sample(5, random_state=0).shape == (5, 256)
    again = pickle.loads(pickle.dumps(m))
    assert np.array_equal(again.predict_proba(X), proba)


def test_classes_are_the_first_neighbour_environments_at_any_lattice_angle():
    # The classes' recipe on one default frame (about 760 atoms: 18 C-vacancy,
    # 10 Si, 32 C-Si). 120 epochs, since one frame gives a quarter of the
    # benchmark's optimiser steps per epoch: 60 epochs gave 0.78 here.
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import confusion_matrix

    image, atoms = make_stem_image(random_state=0)
    pipe = make_pipeline(
        AtomPatchExtractor(32, min_distance=5, mask="disk", standardize=True, taper=5),
        RotationInvariantVAE(2, n_classes=4, angle_prior="uniform", translation=False,
                             max_epochs=120, device="cpu", random_state=0))

    def recall(image, atoms):
        _, j = cKDTree(atoms[["row", "col"]].to_numpy()).query(pipe[0].locate(image)[["row", "col"]].to_numpy())
        labels = atoms["label"].to_numpy()[j]
        return confusion_matrix(labels, pipe.predict(image), labels=range(4), normalize="true")

    pipe.fit(image)
    fitted = recall(image, atoms)
    rows, cols = linear_sum_assignment(-fitted)
    assert fitted[rows, cols].mean() >= 0.95, fitted.round(2)
    # Other frames with the lattice turned by other angles: the same classes.
    for angle in (7.0, 41.0):
        turned = recall(*make_stem_image(rotation=angle, random_state=1))
        assert turned[rows, cols].mean() >= 0.95, (angle, turned.round(2))


def test_class_prior_sums_the_modes_of_each_class():
    import torch

    from sklearn_rvae.rvae._prior import GaussianMixturePrior

    prior = GaussianMixturePrior(2, 2, n_modes=3).double()
    means = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    prior.set_mixture([0.5, 0.3, 0.2], means, np.stack([np.eye(2)] * 3), mode_class=[1, 0, 1])
    z = torch.tensor([[0.0, 0.2], [3.0, 0.5], [0.5, 3.0]], dtype=torch.float64)
    modes = prior.log_responsibility(z).exp()
    classes = prior.class_log_proba(z).exp()
    assert torch.allclose(classes[:, 0], modes[:, 1]) and torch.allclose(classes[:, 1], modes[:, 0] + modes[:, 2])
    assert classes.argmax(1).tolist() == [1, 0, 1]


def test_class_prior_kl_is_the_elbo_term_at_the_best_mode_posterior():
    # KL(q(z) q(m) || p(z | m) p(m)) minimised over q(m): -log sum_m w_m exp(-KL_m), no more than
    # with any other q(m) (the responsibilities, say); one N(0, I) mode is the standard normal's.
    import torch
    from torch.distributions import MultivariateNormal, kl_divergence

    from sklearn_rvae.rvae._losses import kl_standard_normal
    from sklearn_rvae.rvae._prior import GaussianMixturePrior

    rng = np.random.default_rng(0)
    prior = GaussianMixturePrior(2, 2, n_modes=3).double()
    spread = rng.normal(size=(3, 2, 2))
    covariances = spread @ spread.transpose(0, 2, 1) + 0.5 * np.eye(2)
    prior.set_mixture([0.5, 0.3, 0.2], rng.normal(size=(3, 2)) * 2, covariances, [1, 0, 1], covariances / 10)
    mean = torch.tensor(rng.normal(size=(5, 2)))
    log_var = torch.tensor(rng.normal(size=(5, 2)) * 0.5)
    q = MultivariateNormal(mean, torch.diag_embed(log_var.exp()))
    per_mode = torch.stack([kl_divergence(q, MultivariateNormal(prior.means[m], prior.covariances[m]))
                            for m in range(3)], dim=1)
    best = -torch.logsumexp(prior.log_weights - per_mode, dim=1)
    assert torch.allclose(prior.kl(mean, log_var), best)
    gamma = prior.log_responsibility(mean).exp()
    with_responsibilities = (gamma * (per_mode + gamma.log() - prior.log_weights)).sum(1)
    assert torch.all(best <= with_responsibilities + 1e-12) and torch.any(best < with_responsibilities - 1e-3)
    single = GaussianMixturePrior(1, 2).double()
    assert torch.allclose(single.kl(mean, log_var), kl_standard_normal(mean, log_var).sum(1))


def test_a_class_prior_pickled_before_modes_were_shared_has_one_mode_per_class():
    import pickle

    import torch

    from sklearn_rvae.rvae._prior import GaussianMixturePrior

    prior = GaussianMixturePrior(3, 2).double()
    prior.set_mixture([0.5, 0.3, 0.2], np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]), np.stack([np.eye(2)] * 3))
    # As it was pickled before mode_class and code_covariances existed.
    del prior._buffers["mode_class"], prior._buffers["code_covariances"], prior.n_classes
    old = pickle.loads(pickle.dumps(prior))
    z = torch.tensor([[0.0, 0.2], [3.0, 0.5], [0.5, 3.0]], dtype=torch.float64)
    assert old.n_classes == 3 and old.mode_class.tolist() == [0, 1, 2]
    assert torch.equal(old.code_covariances, old.covariances)
    assert torch.allclose(old.class_log_proba(z), old.log_responsibility(z))


def test_modes_join_by_their_images_up_to_a_turn():
    # Three modes: an L shape, the same L turned by a quarter, the L short of
    # one pixel. Up to a turn the two L's are one image: they make a class,
    # the shorter L the other. Without turns the shorter L joins the first.
    import torch

    from sklearn_rvae.rvae._classes import join_modes as _join_modes

    ell = np.zeros((15, 15))
    ell[3:12, 5] = ell[11, 5:11] = 1.0
    short = ell.copy()
    short[3, 5] = 0.0
    images = torch.tensor(np.stack([ell, np.rot90(ell), short]).reshape(3, -1))

    class Decoder(torch.nn.Module):  # decodes mode i's "code" (i, 0) to image i, upright
        image_shape, translation = (15, 15), False
        log_scale = torch.zeros(())

        def decode(self, z, angle, shift):
            assert torch.all(angle == 0) and shift is None
            return images[z[:, 0].long()]

    codes = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    assert _join_modes(Decoder(), codes, 2, over_circle=True).tolist() in ([0, 0, 1], [1, 1, 0])
    assert _join_modes(Decoder(), codes, 2, over_circle=False).tolist() in ([0, 1, 0], [1, 0, 1])


def test_predict_needs_n_classes(two_shapes):
    X, _ = two_shapes
    m = RotationInvariantVAE(max_epochs=1, device="cpu", random_state=0).fit(X[:50])
    # Without a categorical latent the estimator is no clusterer at all.
    assert not hasattr(m, "predict") and not hasattr(m, "predict_proba")
    with pytest.raises(ValueError, match="n_classes"):
        RotationInvariantVAE(n_classes=1).fit(X[:50])
    with pytest.raises(ValueError, match="n_classes=4 needs at least as many samples"):
        RotationInvariantVAE(n_classes=4, max_epochs=1).fit(X[:3])


def test_codes_and_classes_turn_with_the_image():
    # A quarter turn of the image turns every patch by 90 degrees, a whole
    # number of rotation bins: the codes and classes must not change.
    image, _ = make_stem_image(size=96, dopants={"Si": 2}, n_vacancies=1, random_state=2)
    ext = AtomPatchExtractor(15, min_distance=5, standardize=True)
    X = ext.fit_transform(image)
    where = ext.locate(image)
    m = RotationInvariantVAE(2, n_classes=2, angle_prior="uniform", translation=False,
                             max_epochs=4, device="cpu", random_state=0).fit(X)
    turned = np.rot90(image)  # counter-clockwise: (r, c) -> (w - 1 - c, r)
    Xt = ext.transform_at(turned, where.assign(row=95 - where["col"], col=where["row"]))
    assert np.allclose(m.transform(Xt), m.transform(X), atol=1e-6)
    assert np.array_equal(m.predict(Xt), m.predict(X))


def test_abtem_columns():
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets._stem_image import abtem_column_profile

    r, c = abtem_column_profile("C")
    _, si = abtem_column_profile("Si")
    # Multislice Z-contrast: Si well above C, both falling off from the column.
    assert 3.5 < si[0] / c[0] < 6.5 and c[0] > c[10] > c[30]
    image, atoms = make_stem_image(size=96, dopants={"Si": 2}, n_vacancies=0, model="abtem", random_state=1)
    found = find_atoms(image, min_distance=5)
    truth = atoms[["row", "col"]].to_numpy()
    d, _ = cKDTree(found).query(truth)
    inside = np.all((truth > 2) & (truth < 93), axis=1)
    assert np.mean(d[inside] < 2) >= 0.99
