"""scikit-learn's common estimator checks over every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_rvae import RotationInvariantVAE


def _estimators():
    # The common checks feed X with any number of features (1, 2, 3, 5, 10...),
    # which are not square images: image_shape=(1, -1) reads each sample as a
    # one-row image of whatever width X has, the configuration that accepts
    # them. Short fits keep the suite fast.
    quick = dict(image_shape=(1, -1), max_epochs=3, batch_size=16, device="cpu", random_state=0)
    return [
        RotationInvariantVAE(**quick),
        RotationInvariantVAE(translation=False, decoder="spatial", hidden_layer_sizes=(16,), **quick),
    ]


@parametrize_with_checks(_estimators())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
