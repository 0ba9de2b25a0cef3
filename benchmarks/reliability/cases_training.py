"""Training failure: learning rates that make RotationInvariantVAE and TiltRegressor diverge, constant
X and constant y must give finite results or a clear error that names the cause, never NaN codes or
predictions.
"""

import numpy as np

from .fixtures import R, T, _tilt_run, rv_spec, rvae_est, tilt_est
from .harness import add


def build():
    """Add the 'training failure' cases to CASES, in order."""
    cat = "training failure"
    add(cat, "RotationInvariantVAE", "lr=10, max_epochs=3 on small data: must raise, not return NaN codes",
        lambda: rv_spec.run(rvae_est(lr=10.0, max_epochs=3), R(), R()), expect="either", names=("lr",),
        shape=(24, 2))
    add(cat, "RotationInvariantVAE", "lr=1e3, max_epochs=2", lambda: rv_spec.run(rvae_est(lr=1e3, max_epochs=2), R(),
                                                                                   R()),
        expect="either", names=("lr",), shape=(24, 2))
    add(cat, "RotationInvariantVAE", "lr=10, max_epochs=3, n_init=2", lambda: rv_spec.run(
        rvae_est(lr=10.0, max_epochs=3, n_init=2), R(), R()), expect="either", names=("lr",), shape=(24, 2))
    add(cat, "RotationInvariantVAE", "lr=10, early_stopping=True", lambda: rv_spec.run(
        rvae_est(lr=10.0, max_epochs=3, early_stopping=True, validation_fraction=0.25), R(), R()), expect="either",
        names=("lr",), shape=(24, 2))
    add(cat, "RotationInvariantVAE", "lr=10, decoder='spatial', angle_prior='uniform'", lambda: rv_spec.run(
        rvae_est(lr=10.0, max_epochs=3, decoder="spatial", angle_prior="uniform", n_rotation_bins=4), R(), R()),
        expect="either", names=("lr",), shape=(24, 2))
    add(cat, "RotationInvariantVAE", "lr=10: score_samples finite or fit raised", lambda: rvae_est(
        lr=10.0, max_epochs=3).fit(R()).score_samples(R()), expect="either", names=("lr",), shape=(24,))
    add(cat, "RotationInvariantVAE", "lr=10: sample finite or fit raised", lambda: rvae_est(
        lr=10.0, max_epochs=3).fit(R()).sample(3, random_state=0), expect="either", names=("lr",), shape=(3, 64))
    add(cat, "RotationInvariantVAE", "n_classes=2 with lr=10", lambda: rvae_est(
        lr=10.0, max_epochs=3, n_classes=2).fit(R()).predict_proba(R()), expect="either", names=("lr",),
        shape=(24, 2))
    add(cat, "RotationInvariantVAE", "constant X (all pixels 7)", lambda: rv_spec.run(
        rvae_est(), np.full((24, 64), 7.0), np.full((24, 64), 7.0)), expect="either", shape=(24, 2))
    add(cat, "TiltRegressor", "lr=1e4, max_epochs=2: must raise, not predict NaN", lambda: _tilt_run(
        tilt_est(lr=1e4, max_epochs=2), T(), T()), expect="either", names=("lr",), shape=(16, 3))
    add(cat, "TiltRegressor", "y constant (zero spread)", lambda: _tilt_run(tilt_est(), T(), T(), np.ones((16, 3))),
        expect="either", names=("y",), shape=(16, 3))
    add(cat, "TiltRegressor", "constant X", lambda: _tilt_run(tilt_est(), np.full((16, 64), 5.0),
                                                              np.full((16, 64), 5.0)),
        expect="either", shape=(16, 3))
