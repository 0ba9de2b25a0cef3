"""Helpers shared by the estimators: devices, seeding, image shapes, input validation."""

import contextlib
import math
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data


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


def real_array(value, name):
    """``value`` as a float64 array, or an error naming ``name`` (text, complex or ragged input)."""
    try:
        array = np.asarray(value)
    except ValueError:  # numpy refuses ragged nested sequences
        raise ValueError(f"{name} must be a rectangular array of numbers, got a ragged sequence.") from None
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got complex values (dtype {array.dtype}).")
    if array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an array of real numbers, got objects such as "
                            f"{array.ravel()[:1].tolist()!r}.") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}.")
    return array.astype(np.float64, copy=False)


def check_all_finite(array, name, where=None, hint=""):
    """ValueError naming ``name`` if ``array`` holds NaN or inf (only where ``where`` is True, if given)."""
    bad = ~np.isfinite(array)
    if where is not None:
        bad &= where
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or infinite value(s), the first at index {first}{hint}."
        )


def check_scalar(value, name, *, positive=False, nonnegative=False, expected=None):
    """``value`` as a float: real, finite and, if asked, > 0 or >= 0; else an error naming ``name``."""
    if expected is None:
        expected = "a finite number" + (" > 0" if positive else " >= 0" if nonnegative else "")
    real = isinstance(value, numbers.Real) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"
    )
    if not real or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0) or (nonnegative and value < 0):
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return value


def scale_of(array):
    """``max |array|`` when squares or sums of it would leave float64's range, else 1.

    For functions that are linear or scale-free in ``array``: they can work
    on ``array / scale``; ordinary values are left untouched.
    """
    top = float(np.max(np.abs(array))) if array.size else 0.0
    return top if top > 0 and not 1e-100 < top < 1e100 else 1.0


def check_bool(value, name):
    """``value`` as a bool; only real booleans pass (a string such as "no" would be truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)
