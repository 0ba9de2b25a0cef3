"""scikit-learn's common estimator checks over every public estimator."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_rvae import COMTransformer, DiffractionPreprocessor, RotationInvariantVAE


def _estimators():
    # The common checks feed X with any number of features (1, 2, 3, 5, 10...),
    # which are not square images: image_shape=(1, -1) reads each sample as a
    # one-row image of whatever width X has, the configuration that accepts
    # them. Short fits keep the suite fast.
    quick = dict(image_shape=(1, -1), max_epochs=3, batch_size=16, device="cpu", random_state=0)
    return [
        RotationInvariantVAE(**quick),
        RotationInvariantVAE(translation=False, decoder="spatial", hidden_layer_sizes=(16,), **quick),
        # The same one-row reading of X as a detector; no scan_shape, because
        # the checks vary n_samples, so fit learns the centre only.
        COMTransformer(detector_shape=(1, -1), device="cpu"),
        COMTransformer(detector_shape=(1, -1), threshold=0.0, device="cpu"),
        DiffractionPreprocessor(detector_shape=(1, -1)),
    ]


# The checks feed random data with negative values, so many "frames" have a
# negative total and COMTransformer warns about each one, as it should.
@pytest.mark.filterwarnings("ignore::sklearn_rvae.EmptyFrameWarning")
@parametrize_with_checks(_estimators())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
