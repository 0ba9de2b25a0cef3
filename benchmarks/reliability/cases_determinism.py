"""Determinism: the same random_state gives the same output twice (estimators, sampling, datasets,
metrics), transform does not depend on the order or batch of X, and random_state=None leaves numpy's
and torch's global random number generators where they were.
"""

import numpy as np

from .fixtures import R, SPECS, T, Y, codes, fitted_rvae, img, movie, rv_spec, rvae_est, stem, tilt_est
from .harness import add, close_pair, equal_pair, global_rng_probe, rng_unchanged


def build():
    """Add the 'determinism' cases to CASES, in order."""
    from sklearn_rvae import metrics
    from sklearn_rvae import atoms as atoms_mod
    from sklearn_rvae import datasets as ds

    cat = "determinism"
    for spec in SPECS.values():
        add(cat, spec.name, "same random_state, two fits -> identical output",
            lambda spec=spec: (spec.run(spec.make(), spec.X(), spec.X()), spec.run(spec.make(), spec.X(), spec.X())),
            expect="ok", check=equal_pair)
    add(cat, "RotationInvariantVAE", "transform does not depend on the order of X",
        lambda: (fitted_rvae().transform(R()[::-1])[::-1], fitted_rvae().transform(R())), expect="ok",
        check=close_pair(1e-9, 1e-12))
    add(cat, "RotationInvariantVAE", "transform does not depend on the batch (X[:5] vs X)",
        lambda: (fitted_rvae().transform(R()[:5]), fitted_rvae().transform(R())[:5]), expect="ok",
        check=close_pair(1e-9, 1e-12))
    add(cat, "RotationInvariantVAE", "fit with a RandomState(0) twice -> identical output",
        lambda: (rv_spec.run(rvae_est(random_state=np.random.RandomState(0)), R(), R()),
                 rv_spec.run(rvae_est(random_state=np.random.RandomState(0)), R(), R())), expect="ok",
        check=equal_pair)
    add(cat, "RotationInvariantVAE", "sample(random_state=0) twice -> identical",
        lambda: (fitted_rvae().sample(3, random_state=0), fitted_rvae().sample(3, random_state=0)), expect="ok",
        check=equal_pair)
    for name, call in [
        ("RotationInvariantVAE.fit", lambda: rvae_est(random_state=None).fit(R())),
        ("RotationInvariantVAE.fit (random_state=0)", lambda: rvae_est(random_state=0).fit(R())),
        ("RotationInvariantVAE.fit (early_stopping)", lambda: rvae_est(random_state=None, early_stopping=True,
                                                                       validation_fraction=0.25).fit(R())),
        ("RotationInvariantVAE.sample", lambda: fitted_rvae().sample(3, random_state=None)),
        ("RotationInvariantVAE.score_samples", lambda: fitted_rvae().score_samples(R())),
        ("TiltRegressor.fit", lambda: tilt_est(random_state=None).fit(T(), Y())),
        ("TiltRegressor.fit (augment=True)", lambda: tilt_est(random_state=None, augment=True).fit(T(), Y())),
        ("datasets.make_rotated_shapes", lambda: ds.make_rotated_shapes(8, 8, random_state=None)),
        ("datasets.make_rotated_digits", lambda: ds.make_rotated_digits(8, random_state=None)),
        ("datasets.make_stem_image", lambda: ds.make_stem_image(**stem, random_state=None)),
        ("datasets.make_stem_movie", lambda: ds.make_stem_movie(**movie, random_state=None)),
        ("datasets.make_synthetic_tilt_patches", lambda: ds.make_synthetic_tilt_patches(4, size=8,
                                                                                      random_state=None)),
        ("metrics.mahalanobis_outlier_score", lambda: metrics.mahalanobis_outlier_score(codes(), random_state=None)),
        ("atoms.find_atoms", lambda: atoms_mod.find_atoms(img(), min_distance=5)),
    ]:
        add(cat, name.split(" ")[0], f"random_state=None (or none given) leaves the global RNGs unchanged: {name}",
            lambda call=call: global_rng_probe(call), expect="ok", check=rng_unchanged)
    for name, call in [
        ("datasets.make_rotated_shapes", lambda: ds.make_rotated_shapes(8, 8, random_state=3)[0]),
        ("datasets.make_rotated_digits", lambda: ds.make_rotated_digits(8, random_state=3)[0]),
        ("datasets.make_stem_image", lambda: ds.make_stem_image(**stem, random_state=3)[0]),
        ("datasets.make_stem_movie", lambda: ds.make_stem_movie(**movie, random_state=3)[0]),
        ("datasets.make_synthetic_tilt_patches", lambda: ds.make_synthetic_tilt_patches(4, size=8, random_state=3)[0]),
        ("metrics.mahalanobis_outlier_score", lambda: metrics.mahalanobis_outlier_score(codes(), random_state=3)),
        ("atoms.find_atoms", lambda: atoms_mod.find_atoms(img(), min_distance=5)),
    ]:
        add(cat, name, "same random_state twice -> identical output", lambda call=call: (call(), call()),
            expect="ok", check=equal_pair)
