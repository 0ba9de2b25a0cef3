"""Helpers shared by the estimators: devices, seeding, image shapes, skorch."""

import contextlib
import math
import numbers

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor
from torch.utils.data import Subset


def resolve_device(device):
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a checked torch device string."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}.")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu' or 'cuda[:N]'."
        ) from exc
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but no CUDA GPU is available "
                "(torch.cuda.is_available() is False); use device='cpu' or device='auto'."
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} "
                "CUDA device(s) are visible."
            )
    elif parsed.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'auto', 'cpu' or 'cuda[:N]'.")
    return str(parsed)


@contextlib.contextmanager
def local_torch_seed(seed, device):
    """Seed torch inside the block and restore the global RNG states afterwards.

    ``torch.manual_seed`` also seeds every CUDA device, so on a CUDA run all
    visible devices are forked, not just the one in use.
    """
    cuda_devices = (
        list(range(torch.cuda.device_count()))
        if torch.device(device).type == "cuda"
        else []
    )
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        yield


def resolve_image_shape(image_shape, n_features, name="image_shape"):
    """Return (h, w) with h * w == n_features.

    ``None`` infers a square image; one entry may be -1 (inferred, as in
    ``numpy.reshape``).
    """
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"X has {n_features} features, which is not a square number of pixels; "
                f"pass {name}=(h, w) with h * w == {n_features}."
            )
        return (side, side)
    shape = tuple(image_shape)
    if len(shape) != 2 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape
    ):
        raise ValueError(f"{name} must be a pair of integers (h, w), got {image_shape!r}.")
    h, w = (int(s) for s in shape)
    if h == -1 and w > 0 and n_features % w == 0:
        h = n_features // w
    elif w == -1 and h > 0 and n_features % h == 0:
        w = n_features // h
    if h <= 0 or w <= 0 or h * w != n_features:
        raise ValueError(
            f"{name}={tuple(shape)} does not match X: X has {n_features} features per "
            f"sample, so {name} must be (h, w) with h * w == {n_features}."
        )
    return (h, w)


def local_random_state(random_state):
    """``check_random_state`` that never hands out numpy's global RNG.

    ``None`` gives a fresh ``RandomState`` seeded from the OS entropy pool, so
    a call with ``random_state=None`` differs from run to run without
    advancing ``np.random``'s global state (scikit-learn's ``None`` draws from,
    and so moves, the global RNG).
    """
    if random_state is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, bool) or (
        isinstance(random_state, numbers.Integral) and not 0 <= random_state < 2**32
    ):
        raise ValueError(f"random_state must be None, an int in [0, 2**32 - 1] or a RandomState, got {random_state!r}.")
    try:
        return check_random_state(random_state)
    except ValueError:
        raise ValueError(
            f"random_state must be None, an int in [0, 2**32 - 1] or a RandomState, got {random_state!r}."
        ) from None


def seed_from(random_state):
    """An int seed for torch drawn from a sklearn ``random_state``."""
    return int(local_random_state(random_state).randint(np.iinfo(np.int32).max))


def validate_numeric(estimator, X, y="no_validation", **check_params):
    """scikit-learn's ``validate_data``, with a ``TypeError`` that names X or y for text.

    numpy's own message for words in a numeric array ("could not convert
    string to float") names neither the argument nor what is expected.
    """
    try:
        return validate_data(estimator, X, y, **check_params)
    except ValueError as exc:
        if "could not convert" not in str(exc):
            raise
        for name, value in (("X", X), ("y", y)):
            if isinstance(value, str) and value == "no_validation":
                continue
            try:
                np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{name} must hold numbers (detector counts or intensities); it holds text ({exc})."
                ) from None
        raise


def clone_callbacks(callbacks):
    """Fresh copies of user skorch callbacks, so a fit never mutates the user's objects."""
    if callbacks is None:
        return []
    out = []
    for i, cb in enumerate(callbacks):
        name = None
        if isinstance(cb, tuple) and len(cb) == 2 and isinstance(cb[0], str):
            name, cb = cb
        if not isinstance(cb, Callback):
            raise TypeError(
                f"callbacks[{i}] must be a skorch Callback or a (name, Callback) pair, got {cb!r}."
            )
        cb = clone(cb, safe=False)
        out.append((name if name is not None else f"user_callback_{i}_{type(cb).__name__}", cb))
    return out


class ModuleLossNet(NeuralNet):
    """A skorch net whose criterion reads the module's tuple output and the input.

    Unsupervised models have no target: the criterion gets the whole tuple
    ``y_pred`` the module returned, the batch ``X``, the epoch number (for
    schedules such as capacity annealing) and the module (for a learned prior).
    """

    def _set_training(self, training=True):
        # skorch calls this before every batch and module.train() walks the
        # whole module tree; skip it when the mode is already right.
        if self.module_.training != training or self.criterion_.training != training:
            super()._set_training(training)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        x = to_tensor(X, device=self.device)
        return self.criterion_(y_pred, x, epoch=len(self.history), module=self.module_)


class Diverged(Exception):
    """A training loss became NaN or infinite (raised by ``DivergenceGuard``)."""

    def __init__(self, loss, epoch, batch):
        super().__init__(f"loss {loss} at epoch {epoch}, batch {batch}")
        self.loss, self.epoch, self.batch = loss, epoch, batch


class DivergenceGuard(Callback):
    """Stop training at the first batch whose loss is not finite.

    A diverged network goes on returning NaN codes and predictions; the
    estimators turn ``Diverged`` into an error that names the likely causes.
    """

    def on_epoch_begin(self, net, **kwargs):
        self.batch_ = 0

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        self.batch_ += 1
        value = loss.item() if isinstance(loss, torch.Tensor) else loss
        if value is not None and not math.isfinite(value):
            raise Diverged(value, len(net.history), self.batch_)


def history_frame(history):
    """skorch History -> per-epoch pandas DataFrame (batch records dropped)."""
    import pandas as pd

    rows = [{k: v for k, v in row.items() if k != "batches"} for row in history]
    return pd.DataFrame(rows)


class BatchIndexLoader:
    """Mini-batch iterator that takes each batch with one fancy index.

    A drop-in for skorch's ``iterator_train`` / ``iterator_valid`` over
    in-memory arrays: torch's DataLoader fetches samples one by one and
    collates them, which cost about 30% of an epoch of the fast rVAE on a
    CPU. Accepts skorch's ``Dataset`` and the ``Subset`` its ``ValidSplit``
    returns. Shuffling draws from torch's RNG (seeded per fit by the
    estimators). Yields ``(X_batch, y_batch)`` tensors; y is a placeholder
    when the net has no target.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False):
        indices = None
        if isinstance(dataset, Subset):
            dataset, indices = dataset.dataset, np.asarray(dataset.indices)
        X, y = dataset.X, dataset.y
        if indices is not None:
            X = X[indices]
            y = None if y is None else y[indices]
        self.X = torch.as_tensor(X)
        self.y = None if y is None else torch.as_tensor(y)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)

    def __len__(self):
        return -(-len(self.X) // self.batch_size)

    def __iter__(self):
        n = len(self.X)
        order = torch.randperm(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            idx = slice(start, start + self.batch_size) if order is None else order[start : start + self.batch_size]
            Xb = self.X[idx]
            yb = torch.zeros(len(Xb)) if self.y is None else self.y[idx]
            yield Xb, yb
