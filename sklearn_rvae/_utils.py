"""Helpers shared by the estimators: devices, seeding, threads, the dask client, image shapes, input validation.

The argument checks (``check_scalar``, ``check_int``, ``check_bool``,
``check_real_tuple``, ``check_int_tuple``, ``check_annulus``, ``real_array``, ``check_positions``,
``check_all_finite`` and the ``Interval`` constraint that refuses bools) are
the package's one set, for the estimators, the functions and the
simulators alike; each error names the parameter, the value and what is
expected. Scalar checks raise a ``TypeError`` for what is not a number and a
``ValueError`` for a number out of range; the tuple checks a ``ValueError``.
"""

import contextlib
import math
import numbers
import sys
import threading

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval as _SklearnInterval
from sklearn.utils.validation import validate_data
from threadpoolctl import threadpool_limits


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
    if len(shape) != 2 or not all(_is_int(s) for s in shape):
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


def check_open(value, name):
    """``value`` unless it is an HDF5 dataset of a closed file: then an error naming ``name``.

    h5py's own message for a closed file ("identifier is not of specified
    type") names neither the argument nor the cause. Every entry point that
    reads an array (``validate_numeric``, ``real_array``, the frame reader)
    comes through here.
    """
    if type(value).__module__.startswith("h5py") and not getattr(getattr(value, "id", None), "valid", True):
        raise ValueError(
            f"{name} is an h5py dataset whose file has been closed. Keep the file open while the data are "
            f"used: with h5py.File(path) as f: ... pass f['dataset'] inside the with-block."
        )
    return value


def validate_numeric(estimator, X, y="no_validation", **check_params):
    """scikit-learn's ``validate_data``, with a ``TypeError`` that names X or y for text.

    numpy's own message for words in a numeric array ("could not convert
    string to float") names neither the argument nor what is expected.
    """
    check_open(X, "X")
    if not (isinstance(y, str) and y == "no_validation"):
        check_open(y, "y")
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
    check_open(value, name)
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


def check_positions(positions, name="positions", n=None, min_count=0):
    """(row, col) pixel positions as finite float64 of shape (m, 2), or an error naming ``name``.

    A DataFrame (``locate``, ``find_atoms(..., as_frame=True)``) gives its
    ``row`` and ``col`` columns. ``n``: the count the positions must have
    (one per value); ``min_count``: the fewest that mean anything here.

    >>> check_positions([[1, 2.5]]).tolist()
    [[1.0, 2.5]]
    """
    if hasattr(positions, "columns") and hasattr(positions, "to_numpy"):  # a DataFrame
        missing = [c for c in ("row", "col") if c not in positions.columns]
        if missing:
            raise ValueError(f"{name} is a DataFrame without the column(s) {missing}: it needs 'row' and 'col'; "
                             f"its columns are {list(positions.columns)}.")
        positions = positions[["row", "col"]].to_numpy()
    positions = real_array(positions, name)
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"{name} must be (row, col) pixel positions of shape (n, 2), got shape {positions.shape}.")
    check_all_finite(positions, name)
    if n is not None and len(positions) != n:
        raise ValueError(f"{name} holds {len(positions)} positions but there are {n} values: "
                         f"they must be one per position.")
    if len(positions) < min_count:
        raise ValueError(f"{name} holds {len(positions)} positions; at least {min_count} needed.")
    return positions


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


class Interval(_SklearnInterval):
    """scikit-learn's ``Interval`` constraint, except that a bool is not a number (``energy=True`` is a mistake)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_int(value, name, *, minimum=None, expected=None):
    """``value`` as an int (>= ``minimum`` if given); a bool or a float such as 2.0 is not an int.

    >>> check_int(3, "n_frames", minimum=1)
    3
    >>> check_int(0, "n_frames", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: n_frames must be an int >= 1, got 0.
    """
    if expected is None:
        expected = "an int" + (f" >= {minimum}" if minimum is not None else "")
    if not _is_int(value):
        raise TypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__}).")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return int(value)


def _as_tuple(value):
    """A tuple of the items of a list, tuple or 1-D array; None for anything else."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return tuple(value.tolist())
    return None


def check_int_tuple(value, name, length, minimum=1):
    """``length`` integers >= ``minimum`` (a tuple, list or array), as a tuple of ints."""
    items = _as_tuple(value)
    if items is None or len(items) != length or not all(_is_int(v) and v >= minimum for v in items):
        raise ValueError(f"{name} must be {length} integers >= {minimum}, got {value!r}.")
    return tuple(int(v) for v in items)


def check_real_tuple(value, name, length, *, minimum=None, positive=False, expected=None):
    """``length`` finite real numbers (>= ``minimum`` or > 0 if asked), as a tuple of floats.

    >>> check_real_tuple([1, 2.5], "center", 2)
    (1.0, 2.5)
    >>> check_real_tuple((1.0, "2"), "center", 2)
    Traceback (most recent call last):
    ...
    ValueError: center must be 2 finite numbers, got (1.0, '2').
    """
    items = _as_tuple(value)
    ok = items is not None and len(items) == length and all(_is_real(v) and math.isfinite(v) for v in items)
    if ok:
        items = tuple(float(v) for v in items)
        ok = (minimum is None or min(items) >= minimum) and (not positive or min(items) > 0)
    if not ok:
        if expected is None:
            bound = f" >= {minimum}" if minimum is not None else " > 0" if positive else ""
            expected = f"{length} finite numbers{bound}"
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return items


def check_annulus(value, name, *, unit, what="radii", strict=False, open_outer=False):
    """``(inner, outer)`` as two floats with ``0 <= inner <= outer`` (``<`` when ``strict``).

    Both finite, except that ``open_outer`` lets ``outer`` be ``inf``.
    ``unit`` and ``what`` only word the error.

    >>> check_annulus((0, 3), "mask", unit="pixels", strict=True)
    (0.0, 3.0)
    >>> check_annulus((2.0, 1.0), "radius", unit="Angstrom")
    Traceback (most recent call last):
    ...
    ValueError: radius must be (inner, outer) finite radii in Angstrom with 0 <= inner <= outer, got (2.0, 1.0).
    """
    relation = "<" if strict else "<="
    expected = (f"(inner, outer) {what} in {unit} with 0 <= inner {relation} outer (outer may be inf)" if open_outer
                else f"(inner, outer) finite {what} in {unit} with 0 <= inner {relation} outer")
    items = _as_tuple(value)
    ok = items is not None and len(items) == 2 and all(_is_real(v) for v in items)
    if ok:
        inner, outer = (float(v) for v in items)
        ok = (math.isfinite(inner) and (math.isfinite(outer) or (open_outer and outer == math.inf))
              and 0 <= inner and (inner < outer if strict else inner <= outer))
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return inner, outer


@contextlib.contextmanager
def one_torch_thread_off_main():
    """One torch thread for work run by a pool's worker thread; the main thread keeps its own.

    dask's threaded scheduler, a distributed worker's threads and joblib's
    threading backend run one task per core at once: a block of inference,
    a fit of a grid search. torch's own threads on top of that would
    oversubscribe the cores (two fits of two threads each on two cores ran
    12x slower per epoch). OpenMP's thread count belongs to the calling
    thread, so this limits the worker alone (``torch.set_num_threads``
    would change it for every thread). The main thread runs with all of
    torch's threads: a process pool's worker (joblib's loky) runs its tasks
    there, with the threads the pool gave its process.
    """
    if threading.current_thread() is threading.main_thread():
        yield
        return
    torch.get_num_threads()  # torch sets a new thread's OpenMP count on first use: do it first
    with threadpool_limits(1, user_api="openmp"):
        yield


def active_client():
    """The ``dask.distributed`` client that dask computes with now, or None (distributed unused or absent)."""
    if "distributed" not in sys.modules:  # never imported: no client can be active
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def scattered(value):
    """``value`` on every worker of the active distributed client (a Future that tasks take), else itself.

    A fitted model in a task graph is pickled into every task that uses it:
    hundreds of copies for a scan of hundreds of chunks. Scattered, it
    travels once per worker.
    """
    client = active_client()
    if client is None:
        return value
    return client.scatter(value, broadcast=True, hash=False)
