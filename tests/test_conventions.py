"""One name per quantity: the table of docs/conventions.md against the signatures, and every old name.

The table lists, per quantity, its name and where it is a parameter; an old
name (``_deprecation.RENAMED``) must appear in no public signature except as
an estimator's deprecated parameter (default ``"deprecated"``), so that a new
parameter with an old name fails here. Each old name warns and maps to the
new one.
"""

import inspect
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import sklearn_rvae
from sklearn_rvae import datasets
from sklearn_rvae._deprecation import RENAMED

TABLE = Path(__file__).resolve().parents[1] / "docs" / "conventions.md"


def _table():
    text = TABLE.read_text()
    body = text[text.index("<!-- names-table -->"):text.index("<!-- /names-table -->")]
    rows = []
    for line in body.splitlines()[3:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = cells[1].strip("`")
        where = re.findall(r"`([\w.]+)`", cells[3])
        old = tuple(re.findall(r"`(\w+)`", cells[4]))
        rows.append((name, where, old))
    return rows


def _resolve(dotted):
    obj = sklearn_rvae
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _parameters(obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    return inspect.signature(target).parameters


@pytest.mark.parametrize("name, where, old", _table(), ids=[row[0] for row in _table()])
def test_the_table_matches_the_signatures(name, where, old):
    assert where, f"{name}: no place listed"
    for dotted in where:
        params = _parameters(_resolve(dotted))
        assert name in params, f"{dotted} has no parameter {name!r}"
        for name_before in set(old) & set(params):
            # Only as an estimator's deprecated spelling.
            assert params[name_before].default == "deprecated", f"{dotted} still takes {name_before!r} as a parameter"


def _public_callables():
    from sklearn_rvae import atoms, dpc, io, metrics, tilt

    seen = {}
    for module in (sklearn_rvae, datasets, atoms, tilt, metrics, dpc, io):
        for attr in getattr(module, "__all__", dir(module)):
            obj = getattr(module, attr, None)
            if attr.startswith("_") or not callable(obj) or not getattr(obj, "__module__", "").startswith(
                    "sklearn_rvae"):
                continue
            seen[f"{module.__name__}.{attr}"] = obj
            if inspect.isclass(obj):
                for meth, fn in inspect.getmembers(obj, inspect.isfunction):
                    if not meth.startswith("_"):
                        seen[f"{module.__name__}.{attr}.{meth}"] = fn
    return seen


# Parameters that still carry an old name, each listed under "Not yet one name" in conventions.md.
NOT_YET = set()
# An old name that means another quantity where it stays: refine the positions (a boolean), not a count.
OTHER_QUANTITY = {
    ("sklearn_rvae.atoms.find_atoms", "refine"),
    ("sklearn_rvae.atoms.AtomPatchExtractor", "refine"),
    ("sklearn_rvae.AtomPatchExtractor", "refine"),
}


def test_no_public_signature_takes_an_old_name():
    old_names = {old for renames in RENAMED.values() for old in renames}
    assert {name for _, _, old in _table() for name in old} <= old_names
    # An old name that is now another quantity's name stays where the table lists it ("dose": counts at a
    # column's peak before, electrons per square Angstrom now).
    current = {f"sklearn_rvae.{dotted}" for name, where, _ in _table() if name in old_names for dotted in where}
    found = set()
    for dotted, obj in _public_callables().items():
        try:
            params = _parameters(obj)
        except (TypeError, ValueError):
            continue
        for old in old_names & set(params):
            if params[old].default != "deprecated" and dotted not in current:
                found.add((dotted, old))
    assert found == NOT_YET | OTHER_QUANTITY


@pytest.mark.parametrize("func, old, new, value", [
    (datasets.make_graphene_4dstem, "sampling", "potential_sampling", -1.0),
    (datasets.make_graphene_orbits, "sampling", "potential_sampling", -1.0),
    (datasets.make_zincblende_4dstem, "sampling", "potential_sampling", -1.0),
    (datasets.make_zincblende_pairs, "sampling", "potential_sampling", -1.0),
    (datasets.make_perovskite_abf, "sampling", "pixel_size", -1.0),
    (datasets.make_perovskite_abf, "scan_noise", "scan_jitter", -1.0),
    (datasets.simulate_abf, "sampling", "pixel_size", -1.0),
])
def test_each_old_name_of_a_simulator_warns_and_maps_to_the_new_one(func, old, new, value):
    # A bad value proves the mapping without a simulation: the error names the new parameter.
    args = (None,) if func is datasets.simulate_abf else ()
    with pytest.warns(FutureWarning, match=rf"'{old}' was renamed '{new}'"), \
            pytest.raises((ValueError, TypeError), match=new):
        func(*args, **{old: value})
    with pytest.raises(TypeError, match=rf"got {old}= and {new}="):
        func(*args, **{old: 1.0, new: 1.0})


def test_postprocess_abf_old_names_give_the_same_image():
    image = np.random.default_rng(0).random((16, 16))
    new = datasets.postprocess_abf(image, pixel_size=0.4, dose=1e4, scan_jitter=0.5, random_state=0)
    with pytest.warns(FutureWarning) as record:
        old = datasets.postprocess_abf(image, sampling=0.4, dose=1e4, scan_noise=0.5, random_state=0)
    assert len(record) == 2
    np.testing.assert_array_equal(old, new)


def test_tilt_regressor_sampling_warns_and_is_the_pixel_size():
    from sklearn_rvae import TiltRegressor

    X = np.random.default_rng(0).random((32, 64))
    y = np.random.default_rng(1).normal(size=(32, 3))
    small = dict(network_shape=None, conv_layers=(4, "pool"), fc_units=8, zone_axis=None, scan_correction=False,
                 augment=False, max_epochs=1, device="cpu", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(FutureWarning, match=r"TiltRegressor: 'sampling' was renamed 'pixel_size'"):
            model = TiltRegressor(**small, sampling=0.3).fit(X, y)
        assert model.pixel_size_ == 0.3
        assert TiltRegressor(**small).fit(X, y).pixel_size_ == 0.25
    image = np.random.default_rng(2).random((24, 24))
    with pytest.warns(FutureWarning, match=r"predict_map\(\): 'sampling' was renamed 'pixel_size'"):
        old = model.predict_map(image, sampling=0.3, centers=[[12.0, 12.0]])
    np.testing.assert_array_equal(old, model.predict_map(image, pixel_size=0.3, centers=[[12.0, 12.0]]))


def test_pair_decision_old_names_warn_where_they_are_read():
    from sklearn_rvae.tilt import PairDecision

    old = PairDecision(neighbors=50, local=4, refine=1)
    with pytest.warns(FutureWarning) as record:
        settings = old.settings()
    assert {str(w.message).split("'")[1] for w in record} == {"neighbors", "local", "refine"}
    assert settings == PairDecision(n_neighbors=50, n_local_templates=4, max_refinements=1).settings()


def test_pickles_made_before_the_renames_load_with_the_new_names():
    from sklearn_rvae import TiltRegressor
    from sklearn_rvae.tilt import PairDecision

    X = np.random.default_rng(0).random((32, 64))
    y = np.random.default_rng(1).normal(size=(32, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = TiltRegressor(network_shape=None, conv_layers=(4, "pool"), fc_units=8, zone_axis=None,
                              scan_correction=False, augment=False, max_epochs=1, device="cpu", random_state=0).fit(X, y)
    state = dict(model.__getstate__(), sampling=0.3)  # as pickled then: no pixel_size, no pixel_size_
    del state["pixel_size"], state["pixel_size_"]
    old = TiltRegressor.__new__(TiltRegressor)
    old.__setstate__(state)
    assert (old.pixel_size, old.pixel_size_, old.sampling) == (0.3, 0.3, "deprecated")
    state = {"neighbors": 50, "local": 4, "row_gain": 4, "refine": 1, "flip_gamma": True}
    decision = PairDecision.__new__(PairDecision)
    decision.__setstate__(state)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the old values now sit under the new names
        assert decision.settings() == (50, 4, 4, 1, True)


def test_rotation_prior_in_radians_warns_and_is_the_angle_prior_in_degrees():
    from sklearn_rvae import RotationInvariantVAE
    from sklearn_rvae.datasets import make_rotated_digits

    X = make_rotated_digits(size=12, max_angle=30, random_state=0)[0][:60]
    small = dict(n_components=2, hidden_layer_sizes=(16,), max_epochs=2, batch_size=30, device="cpu", random_state=0)
    new = RotationInvariantVAE(angle_prior=30.0, **small).fit(X)
    with pytest.warns(FutureWarning, match=r"'rotation_prior' was renamed 'angle_prior'.*in degrees"):
        old = RotationInvariantVAE(rotation_prior=np.radians(30.0), **small).fit(X)
    assert old.net_.module_.rotation_prior == pytest.approx(np.radians(30.0))
    np.testing.assert_allclose(old.transform(X), new.transform(X), rtol=1e-12, atol=1e-12)
    with pytest.warns(FutureWarning):
        uniform = RotationInvariantVAE(rotation_prior="uniform", n_rotation_bins=4, **small).fit(X)
    assert uniform.transform_pose(X, return_posterior=True)[2].shape == (60, 4)
    # A model pickled before the rename (radians under the old name) loads with the prior in degrees.
    state = dict(new.__getstate__(), rotation_prior=0.3)
    del state["angle_prior"]
    loaded = RotationInvariantVAE.__new__(RotationInvariantVAE)
    loaded.__setstate__(state)
    assert (loaded.angle_prior, loaded.rotation_prior) == (pytest.approx(np.degrees(0.3)), "deprecated")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        np.testing.assert_array_equal(loaded.transform(X), new.transform(X))


def test_border_edge_and_dose_warn_and_map_to_their_new_names():
    from sklearn_rvae import AtomPatchExtractor
    from sklearn_rvae.atoms import find_atoms

    with pytest.warns(FutureWarning, match=r"make_stem_image\(\): 'dose' was renamed 'peak_counts'"):
        old_image, _ = datasets.make_stem_image(size=64, dopants={"Si": 1}, n_vacancies=0, dose=20.0, random_state=1)
    image, _ = datasets.make_stem_image(size=64, dopants={"Si": 1}, n_vacancies=0, peak_counts=20.0, random_state=1)
    np.testing.assert_array_equal(old_image, image)
    with pytest.warns(FutureWarning, match=r"find_atoms\(\): 'border' was renamed 'exclude_border'"):
        old = find_atoms(image, min_distance=5, border=6)
    np.testing.assert_array_equal(old, find_atoms(image, min_distance=5, exclude_border=6))
    assert len(old) < len(find_atoms(image, min_distance=5))
    # True is min_distance, as in scikit-image's peak_local_max.
    np.testing.assert_array_equal(find_atoms(image, min_distance=5, exclude_border=True),
                                  find_atoms(image, min_distance=5, exclude_border=5.0))
    for edge, exclude in (("drop", True), ("pad", False)):
        with pytest.warns(FutureWarning, match=r"AtomPatchExtractor: 'edge' was renamed 'exclude_border'"):
            old = AtomPatchExtractor(16, min_distance=5, edge=edge).locate(image)
        new = AtomPatchExtractor(16, min_distance=5, exclude_border=exclude).locate(image)
        assert old.equals(new) and old.attrs == new.attrs
    # A distance leaves out the atoms that find_atoms leaves out, and pads the other windows.
    near = AtomPatchExtractor(16, min_distance=5, exclude_border=3.0)
    np.testing.assert_array_equal(near.locate(image)[["row", "col"]].to_numpy(),
                                  find_atoms(image, min_distance=5, exclude_border=3.0))
    assert near.transform(image).shape == (len(near.locate(image)), 256)


def test_mask_and_center_take_one_type_everywhere():
    from sklearn_rvae import AtomPatchExtractor, COMTransformer, DiffractionPreprocessor

    image, _ = datasets.make_stem_image(size=64, dopants={"Si": 1}, n_vacancies=0, random_state=1)
    window = 15
    disk = AtomPatchExtractor(window, min_distance=5, mask="disk").transform(image)
    # "disk" is the radius of half the window; a radius, an annulus and an array of weights work alike.
    np.testing.assert_array_equal(AtomPatchExtractor(window, min_distance=5, mask=window / 2).transform(image), disk)
    np.testing.assert_array_equal(
        AtomPatchExtractor(window, min_distance=5, mask=(0.0, window / 2)).transform(image), disk)
    weights = (disk[0] != 0).reshape(window, window)
    np.testing.assert_array_equal(AtomPatchExtractor(window, min_distance=5, mask=weights).transform(image), disk)
    ring = AtomPatchExtractor(window, min_distance=5, mask=(3.0, 7.0)).transform(image).reshape(-1, window, window)
    assert np.all(ring[:, window // 2, window // 2] == 0) and np.any(ring[:, window // 2, 1] != 0)
    with pytest.raises(ValueError, match=r"mask has shape \(3, 3\), but the window is \(15, 15\)"):
        AtomPatchExtractor(window, min_distance=5, mask=np.ones((3, 3))).fit(image)

    frames = np.random.default_rng(0).poisson(50.0, size=(6, 16, 16)).astype(np.float64)
    frames[:, 6:10, 7:11] += 400.0  # a beam off the detector centre
    inscribed = COMTransformer(mask="disk", descan=False, device="cpu").fit(frames)
    assert np.allclose(inscribed.transform(frames), COMTransformer(mask=8.0, descan=False, device="cpu").fit(
        frames).transform(frames))
    with pytest.warns(FutureWarning, match="center=None is spelled center='mean'"):
        old = COMTransformer(center=None, descan=False, device="cpu").fit(frames)
    np.testing.assert_array_equal(old.center_, COMTransformer(descan=False, device="cpu").fit(frames).center_)

    # A known beam centre gives the shift that "mean" finds for itself.
    mean = DiffractionPreprocessor(center="mean", scaling="none", normalize="none").fit(frames)
    given = DiffractionPreprocessor(center=tuple(mean.center_), scaling="none", normalize="none").fit(frames)
    np.testing.assert_array_equal(given.center_, mean.center_)
    np.testing.assert_array_equal(given.transform(frames), mean.transform(frames))
    with pytest.raises(ValueError, match="center=.* lies outside the 16 x 16 detector"):
        DiffractionPreprocessor(center=(40.0, 2.0)).fit(frames)
