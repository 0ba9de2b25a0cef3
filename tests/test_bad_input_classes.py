"""The last bad inputs that slipped through, each refused as a class (issue 34).

A closed HDF5 file, a detector ring that holds no pixel, an array of angles
or labels of the wrong shape, a training loss that blows up without becoming
NaN, and an empty set of positions: each gets an error (or, for the loss, a
warning) from this package that names the argument and the problem.
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch import NeuralNet

from sklearn_rvae import COMTransformer, DiffractionPreprocessor, RotationInvariantVAE, metrics
from sklearn_rvae._training import DivergenceGuard, train_net
from sklearn_rvae.atoms import find_atoms

h5py = pytest.importorskip("h5py")


@pytest.fixture
def closed_dataset(tmp_path):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.random.default_rng(0).poisson(5.0, size=(4, 4, 8, 8)).astype(np.uint16)
    f = h5py.File(path, "r")
    data = f["data"]
    f.close()
    return data


@pytest.mark.parametrize("call", [
    lambda d: COMTransformer().fit(d),
    lambda d: DiffractionPreprocessor().fit(d),
    lambda d: RotationInvariantVAE(2, max_epochs=1).fit(d),
    lambda d: find_atoms(d, min_distance=3),
    lambda d: metrics.circular_correlation(d, np.zeros(4)),
], ids=["com", "preprocessor", "rvae", "find_atoms", "metric"])
def test_a_dataset_of_a_closed_file_is_named(closed_dataset, call):
    with pytest.raises(ValueError, match=r"h5py dataset whose file has been closed"):
        call(closed_dataset)


def test_a_virtual_detector_or_mask_outside_the_detector_is_refused():
    X = np.random.default_rng(0).poisson(5.0, size=(3, 3, 16, 16)).astype(np.float64)
    com = COMTransformer().fit(X)
    with pytest.raises(ValueError, match=r"detectors\['far'\]=\(30, 40\) covers no pixel of the 16 x 16 detector"):
        com.virtual_images(X, {"BF": (0, 3), "far": (30, 40)})
    assert set(com.virtual_images(X, {"BF": (0, 3)})) == {"BF"}
    with pytest.raises(ValueError, match=r"mask=\(30, 40\) covers no pixel"):
        COMTransformer(mask=(30, 40)).fit(X)


@pytest.mark.parametrize("call, name", [
    (lambda a: metrics.circular_correlation(a, np.zeros(10)), "angle_a"),
    (lambda a: metrics.angle_error_by_class(np.zeros(5), a, np.zeros(5)), "angle_true"),
    (lambda a: metrics.angle_error_by_class(np.zeros(10), np.zeros(10), a.astype(int)), "labels"),
])
def test_angles_and_labels_of_the_wrong_shape_are_not_flattened(call, name):
    with pytest.raises(ValueError, match=rf"{name} must be 1-D.*shape \(5, 2\)"):
        call(np.zeros((5, 2)))


def test_a_column_of_angles_is_its_values():
    a = np.linspace(0, 300, 10)
    assert metrics.circular_correlation(a[:, None], a) == pytest.approx(1.0)


class _Exploding(torch.nn.Module):
    """MSE reported times 10**(4 * epoch) (its gradient left alone): finite, and blowing up at the second epoch."""

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def forward(self, y_pred, y_true):
        mse = torch.mean((y_pred - y_true) ** 2)
        return mse + mse.detach() * (10.0 ** (4 * self.epoch) - 1)


class _Epochs(DivergenceGuard):
    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        if isinstance(net.criterion_, _Exploding):
            net.criterion_.epoch += 1


def _net(criterion):
    return NeuralNet(torch.nn.Linear(3, 1), criterion=criterion, max_epochs=4, batch_size=16, lr=1e-3,
                     train_split=None, callbacks=[("divergence_guard", _Epochs())], verbose=0)


class _Estimator:
    history_ = None


def test_a_loss_that_blows_up_but_stays_finite_warns():
    X = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = X[:, :1].copy()
    with pytest.warns(ConvergenceWarning, match=r"blew up without becoming NaN.*at epoch 2.*Likely causes: lr"):
        train_net(_Estimator(), _net(_Exploding), X, y, 0, "cpu", lambda: "lr")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        train_net(_Estimator(), _net(torch.nn.MSELoss), X, y, 0, "cpu", lambda: "lr")


def test_predict_map_with_no_centres_names_centers():
    from sklearn_rvae import TiltRegressor
    from sklearn_rvae.datasets import load_abf_fixture

    X, y = load_abf_fixture()
    model = TiltRegressor(network_shape=None, conv_layers=(4, "pool"), fc_units=8, zone_axis=None,
                          scan_correction=False, max_epochs=1, random_state=0, pixel_size=0.25).fit(X[:32], y[:32])
    image = np.random.default_rng(0).random((64, 64))
    with pytest.raises(ValueError, match=r"centers holds 0 positions; at least 1 needed"):
        model.predict_map(image, centers=np.empty((0, 2)))
    with pytest.raises(ValueError, match=r"centers must be \(row, col\) pixel positions of shape \(n, 2\)"):
        model.predict_map(image, centers=np.zeros((3, 3)))
