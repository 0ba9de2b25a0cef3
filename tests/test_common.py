"""scikit-learn's common estimator checks over every public estimator."""

import importlib
import inspect
import pkgutil

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_rvae
from sklearn_rvae import (
    AtomPatchExtractor,
    COMTransformer,
    DiffractionPreprocessor,
    RotationInvariantVAE,
    TiltRegressor,
)
from sklearn_rvae.recipes import Recipe, make_atom_pipeline, make_diffraction_pipeline, make_particle_pipeline


def public_estimators():
    """Every estimator class a public module of the package exports (as imbalanced-learn finds its own)."""
    found = set()
    modules = [sklearn_rvae] + [
        importlib.import_module(f"sklearn_rvae.{info.name}")
        for info in pkgutil.iter_modules(sklearn_rvae.__path__)
        if not info.name.startswith("_")
    ]
    for module in modules:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            # Configuration objects (PairDecision) are BaseEstimators without fit.
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator) and hasattr(obj, "fit"):
                found.add(obj)
    return sorted(found, key=lambda cls: cls.__name__)


# The common checks feed X with any number of features (1, 2, 3, 5, 10...),
# which are not square images: image_shape=(1, -1) reads each sample as a
# one-row image of whatever width X has, the configuration that accepts
# them. Short fits keep the suite fast.
QUICK = dict(image_shape=(1, -1), max_epochs=3, batch_size=16, device="cpu", random_state=0)
CONFIGURATIONS = {
    # The recipes are pipelines of the estimators below with the recipe's settings; the diffraction one
    # takes tabular X (read as one-row patterns), so the same checks apply, with short fits. The atom
    # recipe takes images: its own test below.
    Recipe: [
        make_diffraction_pipeline(detector_shape=(1, -1), max_epochs=3, n_init=1, device="cpu",
                                  random_state=0).set_params(rvae__image_shape=(1, -1), rvae__batch_size=16),
        make_particle_pipeline(image_shape=(1, -1), max_epochs=3, device="cpu", random_state=0).set_params(
            rvae__batch_size=16),
    ],
    RotationInvariantVAE: [
        RotationInvariantVAE(**QUICK),
        RotationInvariantVAE(translation=False, decoder="spatial", hidden_layer_sizes=(16,), **QUICK),
        RotationInvariantVAE(angle_prior="uniform", rotation_symmetry=2, n_rotation_bins=4, **QUICK),
        RotationInvariantVAE(n_classes=2, **QUICK),
    ],
    # Images in, one row per atom out: the checks that feed tabular X are
    # skipped by its tags (as for sklearn's PatchExtractor).
    AtomPatchExtractor: [AtomPatchExtractor(5, min_distance=2)],
    # The same one-row reading of X as a detector; no scan_shape, because the
    # checks vary n_samples, so fit learns the centre only.
    COMTransformer: [
        COMTransformer(detector_shape=(1, -1), device="cpu"),
        COMTransformer(detector_shape=(1, -1), threshold=0.0, device="cpu"),
        COMTransformer(detector_shape=(1, -1), kernel="matmul", device="cpu"),
    ],
    DiffractionPreprocessor: [DiffractionPreprocessor(detector_shape=(1, -1))],
    # A small plain CNN; n_outputs_ comes from y (1-D in most checks, 2-D in the
    # multi-output ones). The [110] configuration needs y to be three tilts of
    # column-centred patches, which these checks do not make: it has its own
    # test below, on the committed ABF fixture.
    TiltRegressor: [
        TiltRegressor(image_shape=(1, -1), network_shape=None, conv_layers=(4, "pool", 4), fc_units=8,
                      zone_axis=None, scan_correction=False, augment=False, max_epochs=3, batch_size=16,
                      device="cpu", random_state=0),
    ],
}


def test_every_public_estimator_is_checked():
    assert set(public_estimators()) == set(CONFIGURATIONS)


def _expected_failed_checks(estimator):
    if isinstance(estimator, Recipe):
        # As scikit-learn marks them for its own Pipeline: fit fits the steps in place.
        return {check: "a Pipeline fits its steps in place (scikit-learn expects the same of its Pipeline)"
                for check in ("check_dont_overwrite_parameters", "check_estimators_overwrite_params")}
    if isinstance(estimator, TiltRegressor):
        return {
            "check_regressors_train": (
                "asks for R^2 > 0.5 on training data after the quick 3-epoch fit of a CNN on 1-row "
                "'images' of tabular data; learning is tested on synthetic tilt patches in test_tilt.py"
            ),
        }
    return {}


@pytest.mark.parametrize("cls", public_estimators(), ids=lambda cls: cls.__name__)
def test_a_bool_is_not_a_number(cls):
    """True for a numeric parameter is a mistake (taper=True is not a taper of 1 px): rejected by name.

    scikit-learn's own Interval takes a bool for an int; ``verbose`` takes one
    by design, and ``random_state=True`` is refused when fit draws the seed.
    """
    from sklearn.base import clone
    from sklearn.utils._param_validation import InvalidParameterError

    estimator = CONFIGURATIONS[cls][0]
    checked = 0
    for name, constraints in cls._parameter_constraints.items():
        if "boolean" in constraints or name in ("verbose", "random_state"):
            continue
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter .* Got True"):
            clone(estimator).set_params(**{name: True})._validate_params()
        checked += 1
    assert checked >= 3


# The checks feed random data with negative values, so many "frames" have a
# negative total and COMTransformer warns about each one, as it should.
@pytest.mark.filterwarnings("ignore::sklearn_rvae.EmptyFrameWarning")
@parametrize_with_checks(
    [est for cls in public_estimators() for est in CONFIGURATIONS.get(cls, [])],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_tilt_regressor_with_the_110_physics_and_the_pair_decision_keeps_the_contract():
    """The recipe's configuration (zone axis, scan correction, pair decision; a small network), on the ABF
    fixture: the scikit-learn contract that the generic checks above test for the plain CNN."""
    import pickle

    import numpy as np
    from sklearn.base import clone

    from sklearn_rvae.datasets import load_abf_fixture
    from sklearn_rvae.tilt import PairDecision

    X, y = load_abf_fixture()
    X_train, y_train, X_test = X[:96], y[:96], X[96:112]
    reg = TiltRegressor(conv_layers=(4, "pool", 4), fc_units=8, max_epochs=1, pair_decision=PairDecision(
        n_neighbors=50, max_refinements=1), device="cpu", random_state=0)
    params = pickle.dumps(reg.get_params())
    fresh = clone(reg)
    assert fresh.get_params()["pair_decision"] is not reg.pair_decision  # clone copies the configuration object
    reg.fit(X_train, y_train)
    assert pickle.dumps(reg.get_params()) == params  # fit leaves the parameters alone
    assert reg.pair_library_ is not None and reg.net_.module_.aligner is not None
    assert not hasattr(fresh, "net_")
    fitted = pickle.dumps(reg)
    pred = reg.predict(X_test)
    assert pickle.dumps(reg) == fitted  # predict leaves the fitted estimator as it was
    assert pred.shape == (16, 3) and np.all(np.isfinite(pred)) and np.isfinite(reg.score(X_test, y[96:112]))
    np.testing.assert_array_equal(pickle.loads(fitted).predict(X_test), pred)
    np.testing.assert_array_equal(fresh.fit(X_train, y_train).predict(X_test), pred)  # random_state reproduces
    # The decision's settings are reachable by set_params, and change predict without a new fit.
    assert not np.array_equal(reg.set_params(pair_decision__n_local_templates=0).predict(X_test), pred)
    with pytest.raises(ValueError, match="features"):
        reg.predict(X_test[:, :-1])


def test_the_atom_recipe_keeps_the_contract():
    """The atom recipe takes images, not tabular X (as its first step, whose tags skip the tabular checks): the
    contract by hand, on a small simulated frame."""
    import pickle

    import numpy as np
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    from sklearn_rvae.datasets import make_stem_image

    image, _ = make_stem_image(size=96, dopants={"Si": 2}, n_vacancies=1, random_state=3)
    pipe = make_atom_pipeline(7.1, n_classes=2, max_epochs=2, device="cpu", random_state=0)

    def settings():  # the steps' parameters, without the step objects (which fit fills in)
        return pickle.dumps({k: v for k, v in pipe.get_params(deep=True).items() if "__" in k})

    params = settings()
    fresh = clone(pipe)
    with pytest.raises(NotFittedError):
        fresh.predict(image)
    labels = pipe.fit_predict(image)
    assert settings() == params  # fit leaves the parameters alone
    where = pipe["patches"].locate(image)
    assert labels.shape == (len(where),) and set(labels) <= {0, 1}
    codes = pipe.transform(image)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(pipe)).transform(image), codes)
    np.testing.assert_array_equal(clone(pipe).fit(image).transform(image), codes)  # random_state: reproducible
    with pytest.raises(ValueError, match="bond_length"):
        make_atom_pipeline(1.0)
    with pytest.raises(TypeError, match="bond_length"):
        make_atom_pipeline("7.1")


def test_the_atom_recipe_scales_with_the_bond():
    """The settings that classed graphene's environments at 7.1 px (window 32, columns 5 px apart, taper 5),
    and the same proportions on another lattice."""
    pipe = make_atom_pipeline(7.1)
    patches, rvae = pipe["patches"], pipe["rvae"]
    assert (patches.window_size, patches.min_distance, patches.taper, patches.mask, patches.standardize) == \
        (32, 5.0, 5.0, "disk", True)
    assert (rvae.angle_prior, rvae.translation, rvae.n_components) == ("uniform", False, 2)
    wide = make_atom_pipeline(14.0)["patches"]
    assert (wide.window_size, wide.min_distance, wide.taper) == (64, 9.8, 9.8)
