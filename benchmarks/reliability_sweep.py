"""Reliability sweep: bad and edge inputs over every public estimator and function (issue 23).

Tries some 400 inputs a new user might pass -- non-finite values, every
dtype, wrong shapes, parameters at and beyond their bounds, broken files,
persistence, determinism, scale, a training that diverges -- and classifies
what the package does with each, automatically:

``ok``
    A finite result of the expected shape and dtype where one is right
    (an edge input that is valid, such as float16 or integer counts), or
    where either a result or an error would be right.
``clear error``
    A ValueError / TypeError / OSError (FileNotFoundError ...) whose raising
    frame -- the innermost frame of the exception the user sees -- is in
    ``sklearn_rvae/`` or in scikit-learn's validation
    (``sklearn/utils/_param_validation.py``, ``sklearn/utils/validation.py``),
    and whose message names the parameter, argument or file.
``cryptic error``
    Anything else raised: another exception type, a frame inside numpy /
    torch / h5py / zarr / scipy, or a message that names nothing.
``silent problem``
    A result for bad input with no error and no warning, a result with NaN
    or inf or of the wrong shape / dtype, or a broken contract (pickle
    output differs, the global RNG moved, same seed gives another result).
``warned``
    A result for bad input (or a non-finite one) that came with a warning
    from the package: not silent, not an error.
``crash/hang``
    The case ran past its time limit (``signal.alarm``; default 60 s).

Every case records category, target, description, expected outcome
(``error``: the input is bad; ``ok``: the input is valid and a result is
right; ``either``: a result or a clear error are both acceptable), the
outcome, the exception type, the first line of its message and the file
of the raising frame.

Run::

    OMP_NUM_THREADS=2 python benchmarks/reliability_sweep.py --out /tmp/sweep.csv
    python benchmarks/reliability_sweep.py --category files,dtypes
    python benchmarks/reliability_sweep.py --list

Every fit is tiny (8x8 images, a few dozen samples, one or two epochs): the
whole sweep takes a few minutes on 2 cores. It prints a Markdown table of
category x outcome and every case that is neither ``ok`` nor ``clear
error`` (plus valid inputs that were rejected).
"""

import argparse
import csv
import math
import io as _io
import os
import pickle
import re
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter, OrderedDict

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

OUTCOMES = ["ok", "clear error", "cryptic error", "silent problem", "warned", "crash/hang", "harness error"]
CATEGORIES = [
    "non-finite", "dtypes", "shapes", "parameters", "files", "persistence", "determinism", "scale",
    "training failure", "calibration",
]
CLEAR_TYPES = (ValueError, TypeError, OSError)
SKLEARN_VALIDATION = ("sklearn/utils/_param_validation.py", "sklearn/utils/validation.py")


class CaseTimeout(BaseException):
    """Raised by the alarm: BaseException, so that no ``except Exception`` in the package swallows it."""


class Case:
    def __init__(self, category, target, desc, fn, expect, names, shape, kind, check):
        self.category, self.target, self.desc, self.fn = category, target, desc, fn
        self.expect, self.names, self.shape, self.kind, self.check = expect, tuple(names), shape, kind, check


CASES = []


def add(category, target, desc, fn, expect="error", names=("X",), shape=None, kind="f", check=None):
    """Register a case. ``names``: tokens one of which a clear error's message must contain."""
    assert category in CATEGORIES, category
    assert expect in ("error", "ok", "either"), expect
    CASES.append(Case(category, target, desc, fn, expect, names, shape, kind, check))


# --------------------------------------------------------------------------- data (numpy only)
def com_frames(scan=(4, 4), k=8):
    """4D-STEM frames (sy * sx, k * k): a disk whose centre moves over the scan; integer counts 1..101."""
    yy, xx = np.mgrid[:k, :k].astype(float)
    sy, sx = scan
    frames = np.empty((sy * sx, k, k))
    for i in range(sy):
        for j in range(sx):
            cy = (k - 1) / 2 + 0.4 * np.sin(i + 2 * j)
            cx = (k - 1) / 2 + 0.4 * np.cos(2 * i - j)
            frames[i * sx + j] = 100 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.5**2)) + 1
    return np.round(frames).reshape(sy * sx, k * k)


def atom_image(size=40, spacing=8, seed=0):
    """Bright Gaussian columns on a square lattice with Poisson noise; integer counts."""
    rr, cc = np.mgrid[:size, :size].astype(float)
    img = np.full((size, size), 5.0)
    for r in np.arange(4, size, spacing):
        for c in np.arange(4, size, spacing):
            img += 90 * np.exp(-((rr - r - 0.3) ** 2 + (cc - c + 0.2) ** 2) / (2 * 1.2**2))
    return np.random.default_rng(seed).poisson(img).astype(float)


def rot_images(n=24, k=8, seed=0):
    """Elongated blobs at random angles, flattened (n, k * k), values 0..100 (integers)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(-np.pi, np.pi, n)[:, None, None]
    yy, xx = np.mgrid[:k, :k].astype(float) - (k - 1) / 2
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    return np.round(100 * np.exp(-(u**2 / (2 * 2.5**2) + v**2 / (2 * 0.9**2)))).reshape(n, -1)


def tilt_data(n=16, k=8, seed=0):
    rng = np.random.default_rng(seed)
    return np.round(rng.random((n, k * k)) * 90 + 10), rng.normal(size=(n, 3))


def vector_field(sy=6, sx=6):
    """A gradient field (sy, sx, 2), (x, y) components."""
    yy, xx = np.mgrid[:sy, :sx] - np.array([(sy - 1) / 2, (sx - 1) / 2])[:, None, None]
    phi = np.exp(-(xx**2 + yy**2) / 6.0)
    gy, gx = np.gradient(phi)
    return np.stack([gx, gy], -1)


def atoms_table(n_frames=3):
    import pandas as pd

    rows = []
    for t in range(n_frames):
        for r in range(4, 36, 8):
            for c in range(4, 36, 8):
                rows.append({"frame": t, "row": r + 0.3 * t, "col": c - 0.2 * t, "class": int((r + c + t) % 3 == 0)})
    return pd.DataFrame(rows)


def angles(n=20, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-170, 170, n)
    return a, a + 30 + rng.normal(0, 2, n)


def codes(n=40, d=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


# --------------------------------------------------------------------------- estimators
def _pkg():
    import sklearn_rvae

    return sklearn_rvae


def com_est(**kw):
    return _pkg().COMTransformer(**{"scan_shape": (4, 4), "device": "cpu", **kw})


def dp_est(**kw):
    return _pkg().DiffractionPreprocessor(**kw)


def ape_est(**kw):
    return _pkg().AtomPatchExtractor(**{"window_size": 9, "min_distance": 5, **kw})


def rvae_est(**kw):
    return _pkg().RotationInvariantVAE(**{
        "n_components": 2, "hidden_layer_sizes": (16,), "batch_size": 8, "max_epochs": 1, "device": "cpu",
        "random_state": 0, **kw})


def tilt_est(**kw):
    return _pkg().TiltRegressor(**{
        "network_shape": None, "conv_layers": (4, 4, "pool"), "fc_units": 8, "zone_axis": None,
        "scan_correction": False, "max_epochs": 1, "augment": False, "device": "cpu", "random_state": 0, **kw})


class Spec:
    """How to fit one estimator and get its main output, and what that output looks like."""

    def __init__(self, name, make, X, run, n_out, out_cols, y=None):
        self.name, self.make, self.X, self.run, self.n_out, self.out_cols, self.y = (
            name, make, X, run, n_out, out_cols, y)

    def shape(self, X_out):
        return (self.n_out(X_out), self.out_cols)


def _tilt_run(est, Xf, Xo, y=None):
    y = tilt_data()[1] if y is None else y
    return est.fit(Xf, y).predict(Xo)


SPECS = OrderedDict(
    COMTransformer=Spec("COMTransformer", com_est, com_frames, lambda e, Xf, Xo: e.fit(Xf).transform(Xo),
                        lambda X: len(X), 2),
    DiffractionPreprocessor=Spec("DiffractionPreprocessor", dp_est, com_frames,
                                 lambda e, Xf, Xo: e.fit(Xf).transform(Xo), lambda X: len(X), 64),
    AtomPatchExtractor=Spec("AtomPatchExtractor", ape_est, atom_image, lambda e, Xf, Xo: e.fit(Xf).transform(Xo),
                            lambda X: None, 81),
    RotationInvariantVAE=Spec("RotationInvariantVAE", rvae_est, rot_images,
                              lambda e, Xf, Xo: e.fit(Xf).transform(Xo), lambda X: len(X), 2),
    TiltRegressor=Spec("TiltRegressor", tilt_est, lambda: tilt_data()[0], _tilt_run, lambda X: len(X), 3),
)


# --------------------------------------------------------------------------- checks
def _arrays(result):
    """Every numeric array / scalar inside a result."""
    import pandas as pd

    if result is None or isinstance(result, (str, bool, np.bool_)):
        return
    if isinstance(result, pd.DataFrame):
        for col in result.columns:
            if pd.api.types.is_numeric_dtype(result[col]) and not pd.api.types.is_bool_dtype(result[col]):
                yield np.asarray(result[col], dtype=np.float64)
        return
    if isinstance(result, dict):
        for v in result.values():
            yield from _arrays(v)
        return
    if isinstance(result, (tuple, list)):
        for v in result:
            yield from _arrays(v)
        return
    if isinstance(result, (int, float, np.number)):
        yield np.asarray(result)
        return
    if isinstance(result, np.ndarray):
        yield result


def _primary(result):
    if isinstance(result, (tuple, list)) and result:
        return result[0]
    return result


def check_result(result, shape=None, kind="f"):
    """None when the result is finite (and of ``shape`` / dtype kind ``kind``); else what is wrong."""
    for arr in _arrays(result):
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.isfinite(arr).sum())
            return f"non-finite result ({bad} of {arr.size} values NaN/inf)"
        if arr.dtype == object:
            return f"result has dtype object (shape {arr.shape})"
    main = _primary(result)
    if shape is not None:
        got = getattr(main, "shape", None)
        if got is None or len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
            return f"result shape {got}, expected {shape}"
    if kind is not None and isinstance(main, np.ndarray) and main.dtype.kind not in kind:
        return f"result dtype {main.dtype}, expected kind {kind!r}"
    return None


def equal_pair(result):
    a, b = result
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"outputs differ in shape {a.shape} vs {b.shape}"
    if not np.array_equal(a, b, equal_nan=True):
        return f"outputs differ (max abs diff {np.nanmax(np.abs(a.astype(float) - b.astype(float))):.3g})"
    return check_result(a, kind=None)


def close_pair(rtol=1e-4, atol=1e-5):
    def check(result):
        a, b = (np.asarray(r, dtype=np.float64) for r in result)
        problem = check_result(a, kind=None) or check_result(b, kind=None)
        if problem:
            return problem
        if a.shape != b.shape:
            return f"outputs differ in shape {a.shape} vs {b.shape}"
        if not np.allclose(a, b, rtol=rtol, atol=atol):
            return f"scaled input changed the output (max abs diff {np.max(np.abs(a - b)):.3g})"
        return None

    return check


def rng_unchanged(result):
    moved = [name for name, flag in result.items() if flag]
    return f"global RNG moved: {', '.join(moved)}" if moved else None


def global_rng_probe(fn):
    """Run fn; report whether numpy's legacy global RNG and torch's RNG moved."""
    import torch

    np.random.seed(1234)
    before = np.random.get_state()
    torch_before = torch.get_rng_state().clone()
    fn()
    after = np.random.get_state()
    np_moved = not (np.array_equal(before[1], after[1]) and before[2] == after[2])
    return {"numpy.random": np_moved, "torch": not torch.equal(torch_before, torch.get_rng_state())}


# --------------------------------------------------------------------------- classification
def raising_frame(exc):
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


def _in_package(filename):
    f = filename.replace("\\", "/")
    pkg = os.path.dirname(os.path.abspath(_pkg().__file__)).replace("\\", "/") + "/"
    return f.startswith(pkg) or "/sklearn_rvae/" in f or any(f.endswith(s) for s in SKLEARN_VALIDATION)


TMPDIR = []  # the sweep's temporary directory: a message that quotes a file's path names the file


def _names(message, tokens):
    for tok in tokens:
        if tok == "<file>":
            if any(t in message for t in TMPDIR):
                return True
            continue
        if tok and re.search(r"(?<![A-Za-z0-9_])" + re.escape(str(tok)) + r"(?![A-Za-z0-9_])", message):
            return True
    return False


def _in_sklearn_validation(filename):
    f = filename.replace("\\", "/")
    return any(f.endswith(s) for s in SKLEARN_VALIDATION)


def classify_error(exc, names):
    """('clear error' | 'cryptic error', why).

    scikit-learn's validation (``validate_data`` / ``check_array`` /
    ``validate_params``) is taken to name the argument it checks, as the
    issue's definition does: its messages are about the one array or
    parameter it was given (``Expected 2D array``, ``Found array with 0
    sample(s) ... required by COMTransformer``).
    """
    frame = raising_frame(exc)
    message = str(exc)
    reasons = []
    if not isinstance(exc, CLEAR_TYPES):
        reasons.append(f"type {type(exc).__name__}")
    elif type(exc).__module__.split(".")[0] not in ("builtins", "sklearn_rvae", "sklearn"):
        # numpy's UFuncTypeError, AxisError ...: raised by C code called on a package line
        reasons.append(f"a {type(exc).__module__}.{type(exc).__name__}")
    if not _in_package(frame):
        reasons.append(f"raised in {_short(frame)}")
    if not _names(message, names) and not _in_sklearn_validation(frame):
        reasons.append(f"message names none of {list(names)}")
    return ("cryptic error" if reasons else "clear error"), "; ".join(reasons)


def _short(path):
    p = path.replace("\\", "/")
    for marker in ("site-packages/", "/sklearn_rvae/", "lib/python"):
        if marker in p:
            return p.split(marker, 1)[1] if marker != "/sklearn_rvae/" else "sklearn_rvae/" + p.split(marker, 1)[1]
    return p


def _package_warnings(caught):
    out = []
    for w in caught:
        f = (w.filename or "").replace("\\", "/")
        if issubclass(w.category, RuntimeWarning):  # numpy's overflow / invalid-value noise: not a message
            continue
        if "/sklearn_rvae/" in f or issubclass(w.category, _package_warning_types()):
            out.append(f"{w.category.__name__}: {str(w.message).splitlines()[0][:150]}")
    return out


def _package_warning_types():
    try:
        return (_pkg().EmptyFrameWarning,)
    except Exception:  # pragma: no cover
        return ()


def run_case(case, timeout):
    def _alarm(signum, frame):
        raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, _alarm)
    start = time.perf_counter()
    exc, result = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signal.alarm(timeout)
        try:
            result = case.fn()
        except CaseTimeout:
            exc = "timeout"
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: BLE001 - SystemExit from a library counts too
            exc = e
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
    seconds = time.perf_counter() - start
    pkg_warn = _package_warnings(caught)
    row = {
        "category": case.category, "target": case.target, "case": case.desc, "expected": case.expect,
        "outcome": "", "exc_type": "", "message": "", "frame": "", "detail": "",
        "warning": pkg_warn[0] if pkg_warn else "", "seconds": f"{seconds:.2f}",
    }
    if exc == "timeout":
        row.update(outcome="crash/hang", detail=f"ran past {timeout} s")
        return row
    if exc is not None:
        outcome, why = classify_error(exc, case.names)
        row.update(outcome=outcome, exc_type=type(exc).__name__, message=(str(exc).splitlines() or [""])[0][:240],
                   frame=_short(raising_frame(exc)), detail=why)
        if case.expect == "ok":
            row["detail"] = ("valid input rejected; " + why).rstrip("; ")
        return row
    try:
        if case.check is not None:
            problem = case.check(result)
        else:
            problem = check_result(result, case.shape, case.kind)
    except Exception as e:  # the harness's own failure, shown as such
        row.update(outcome="harness error", detail=f"check failed: {type(e).__name__}: {e}"[:240])
        return row
    if problem is None and case.expect == "error":
        problem = "bad input accepted: returned " + _describe(result)
    if problem is None:
        row["outcome"] = "ok"
    else:
        row.update(outcome="warned" if pkg_warn else "silent problem", detail=problem[:240])
    return row


def _describe(result):
    main = _primary(result)
    if isinstance(main, np.ndarray):
        return f"array {main.shape} {main.dtype}"
    return type(main).__name__ if not isinstance(main, (int, float)) else repr(main)


# --------------------------------------------------------------------------- helpers for cases
def _short_repr(value):
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype}, min={value.min()!r})"
    return repr(value)


def with_value(X, value, index=5):
    X = np.array(X, dtype=np.float64, copy=True)
    X.flat[index] = value
    return X


DTYPES = [
    ("bool", "either"), ("int8", "ok"), ("uint8", "ok"), ("int16", "ok"), ("uint16", "ok"), ("int32", "ok"),
    ("int64", "ok"), ("uint64", "ok"), ("float16", "ok"), ("float32", "ok"), ("complex128", "error"),
    ("object", "either"), ("object+None", "error"), ("str (numbers)", "either"), ("str (words)", "error"),
]


def as_dtype(X, name):
    """X (integer-valued, 0..127) in dtype ``name``."""
    X = np.asarray(X, dtype=np.float64)
    if name == "bool":
        return X > np.median(X)
    if name == "complex128":
        return X.astype(np.complex128) + 1j
    if name == "object":
        return X.astype(object)
    if name == "object+None":
        out = X.astype(object)
        out.flat[3] = None
        return out
    if name == "str (numbers)":
        return X.astype(str)
    if name == "str (words)":
        out = X.astype(str).astype(object)
        out.flat[3] = "bright"
        return out.astype(str)
    return X.astype(name)


# --------------------------------------------------------------------------- the cases
def build_cases():  # noqa: C901 - a long, flat list
    import pandas as pd

    from sklearn_rvae import dpc, metrics
    from sklearn_rvae import atoms as atoms_mod
    from sklearn_rvae import datasets as ds
    from sklearn_rvae.io import load_4dstem

    # ============================================================ non-finite
    cat = "non-finite"
    for spec in SPECS.values():
        for bad in (np.nan, np.inf, -np.inf):
            label = {True: "NaN"}.get(bool(np.isnan(bad)), "+inf" if bad > 0 else "-inf")

            def fit_bad(spec=spec, bad=bad):
                X = spec.X()
                return spec.run(spec.make(), with_value(X, bad), X)

            def transform_bad(spec=spec, bad=bad):
                X = spec.X()
                return spec.run(spec.make(), X, with_value(X, bad))

            add(cat, f"{spec.name}.fit", f"one {label} pixel in X at fit", fit_bad)
            add(cat, f"{spec.name}.transform", f"one {label} pixel in X at transform/predict", transform_bad)
        add(cat, f"{spec.name}.fit", "X all NaN at fit",
            lambda spec=spec: spec.run(spec.make(), np.full(np.shape(spec.X()), np.nan), spec.X()))
    for bad in (np.nan, np.inf):
        add(cat, "TiltRegressor.fit", f"y with a {bad}", lambda bad=bad: _tilt_run(
            tilt_est(), tilt_data()[0], tilt_data()[0], with_value(tilt_data()[1], bad, 4)), names=("y",))
    add(cat, "TiltRegressor.predict_map", "image with NaN",
        lambda: tilt_est().fit(*tilt_data()).predict_map(with_value(atom_image(), np.nan, 50)), names=("image",))

    def fitted_rvae(**kw):
        return rvae_est(**kw).fit(rot_images())

    add(cat, "RotationInvariantVAE.inverse_transform", "Z with NaN",
        lambda: fitted_rvae().inverse_transform(with_value(np.zeros((3, 2)), np.nan, 1)), names=("Z",))
    add(cat, "RotationInvariantVAE.inverse_transform", "angle=NaN",
        lambda: fitted_rvae().inverse_transform(np.zeros((3, 2)), angle=np.nan), names=("angle",))
    add(cat, "RotationInvariantVAE.inverse_transform", "shift=[inf, 0]",
        lambda: fitted_rvae().inverse_transform(np.zeros((3, 2)), shift=[np.inf, 0.0]), names=("shift",))
    add(cat, "RotationInvariantVAE.score_samples", "X with NaN",
        lambda: fitted_rvae().score_samples(with_value(rot_images(), np.nan)))
    add(cat, "RotationInvariantVAE.transform_pose", "X with inf",
        lambda: fitted_rvae().transform_pose(with_value(rot_images(), np.inf)))
    add(cat, "RotationInvariantVAE.inverse_transform", "Z huge (1e300)",
        lambda: fitted_rvae().inverse_transform(np.full((3, 2), 1e300)), expect="either", names=("Z",),
        shape=(3, 64))

    def fitted_com(**kw):
        return com_est(**kw).fit(com_frames())

    add(cat, "COMTransformer.phase", "highpass=NaN", lambda: fitted_com().phase(com_frames(), highpass=np.nan),
        names=("highpass",))
    add(cat, "COMTransformer.field", "thickness=NaN", lambda: fitted_com(mrad_per_px=0.5, energy=200e3).field(
        com_frames(), thickness=np.nan), names=("thickness",))
    add(cat, "COMTransformer.virtual_images", "detectors={'BF': (0, NaN)}",
        lambda: fitted_com().virtual_images(com_frames(), detectors={"BF": (0.0, np.nan)}),
        names=("detectors", "BF"))

    # constructor parameters set to NaN / inf
    nonfinite_params = [
        (SPECS["COMTransformer"], "threshold"), (SPECS["COMTransformer"], "rotation_deg"),
        (SPECS["COMTransformer"], "mrad_per_px"), (SPECS["COMTransformer"], "scan_step"),
        (SPECS["COMTransformer"], "energy"), (SPECS["COMTransformer"], "mask"),
        (SPECS["DiffractionPreprocessor"], "power"), (SPECS["DiffractionPreprocessor"], "blur"),
        (SPECS["AtomPatchExtractor"], "min_distance"), (SPECS["AtomPatchExtractor"], "threshold"),
        (SPECS["RotationInvariantVAE"], "noise_scale"), (SPECS["RotationInvariantVAE"], "beta"),
        (SPECS["RotationInvariantVAE"], "angle_prior"), (SPECS["RotationInvariantVAE"], "translation_prior"),
        (SPECS["RotationInvariantVAE"], "lr"),
        (SPECS["TiltRegressor"], "scan_jitter"), (SPECS["TiltRegressor"], "lr"),
        (SPECS["TiltRegressor"], "pixel_size"),
    ]
    for spec, param in nonfinite_params:
        for bad in (np.nan, np.inf):
            add(cat, spec.name, f"{param}={bad}",
                lambda spec=spec, param=param, bad=bad: spec.run(spec.make(**{param: bad}), spec.X(), spec.X()),
                names=(param,))
    add(cat, "COMTransformer", "center=(NaN, 3.5)", lambda: SPECS["COMTransformer"].run(
        com_est(center=(np.nan, 3.5)), com_frames(), com_frames()), names=("center",))
    add(cat, "COMTransformer", "mask=(1, inf) annulus (documented: inf outer radius)", lambda: SPECS[
        "COMTransformer"].run(com_est(mask=(1.0, np.inf)), com_frames(), com_frames()), expect="either",
        names=("mask",), shape=(16, 2))
    add(cat, "RotationInvariantVAE", "capacity=(NaN, 1, 1)", lambda: SPECS["RotationInvariantVAE"].run(
        rvae_est(capacity=(np.nan, 1, 1.0)), rot_images(), rot_images()), names=("capacity",))
    add(cat, "RotationInvariantVAE", "validation_fraction=NaN (early_stopping)", lambda: SPECS[
        "RotationInvariantVAE"].run(rvae_est(early_stopping=True, validation_fraction=np.nan), rot_images(),
                                    rot_images()), names=("validation_fraction",))
    add(cat, "TiltRegressor", "counts_range=(NaN, 100)", lambda: _tilt_run(
        tilt_est(augment=("poisson",), counts_range=(np.nan, 100.0)), *[tilt_data()[0]] * 2),
        names=("counts_range",))
    add(cat, "TiltRegressor", "validation_fraction=inf (early_stopping)", lambda: _tilt_run(
        tilt_est(early_stopping=True, validation_fraction=np.inf), *[tilt_data()[0]] * 2),
        names=("validation_fraction",))

    # functions
    img = atom_image
    for arg, bad in (("min_distance", np.nan), ("min_distance", np.inf), ("threshold", np.nan),
                     ("threshold", np.inf), ("exclude_border", np.nan), ("exclude_border", np.inf)):
        kw = {"min_distance": 5, arg: bad}
        add(cat, "atoms.find_atoms", f"{arg}={bad}", lambda kw=kw: atoms_mod.find_atoms(img(), **kw), names=(arg,),
            expect="either" if (arg, bad) == ("threshold", np.inf) else "error")
    add(cat, "atoms.find_atoms", "image with NaN", lambda: atoms_mod.find_atoms(with_value(img(), np.nan, 100),
                                                                                 min_distance=5), names=("image",))
    add(cat, "atoms.refine_positions", "positions with NaN", lambda: atoms_mod.refine_positions(
        img(), [[4.0, 4.0], [np.nan, 12.0]], 5), names=("positions",))
    add(cat, "atoms.cut_patches", "positions with inf", lambda: atoms_mod.cut_patches(
        img(), [[4.0, np.inf]], 9), names=("positions",))
    add(cat, "atoms.link_atoms", "search_range=NaN", lambda: atoms_mod.link_atoms(atoms_table(), search_range=np.nan),
        names=("search_range",))
    add(cat, "atoms.link_atoms", "a NaN row position",
        lambda: atoms_mod.link_atoms(atoms_table().assign(row=lambda d: d.row.where(d.index != 3)), search_range=3),
        names=("row", "atoms"))
    add(cat, "atoms.link_atoms", "drift with inf",
        lambda: atoms_mod.link_atoms(atoms_table(), search_range=3, drift=[[0, 0], [np.inf, 0], [0, 0]]),
        names=("drift",))
    add(cat, "AtomPatchExtractor.transform_at", "atoms with NaN row", lambda: ape_est().fit(img()).transform_at(
        img(), pd.DataFrame({"row": [10.0, np.nan], "col": [10.0, 12.0]})), names=("atoms", "row"))

    f = vector_field
    add(cat, "dpc.divergence", "field with NaN", lambda: dpc.divergence(with_value(f(), np.nan)), names=("field",))
    add(cat, "dpc.divergence", "spacing=NaN", lambda: dpc.divergence(f(), spacing=np.nan), names=("spacing",))
    add(cat, "dpc.divergence", "spacing=inf", lambda: dpc.divergence(f(), spacing=np.inf), names=("spacing",))
    add(cat, "dpc.curl", "spacing=NaN", lambda: dpc.curl(f(), spacing=np.nan), names=("spacing",))
    add(cat, "dpc.curl", "field with -inf", lambda: dpc.curl(with_value(f(), -np.inf)), names=("field",))
    add(cat, "dpc.apply_rotation", "rotation_deg=NaN", lambda: dpc.apply_rotation(f(), np.nan, False),
        names=("rotation_deg",))
    add(cat, "dpc.apply_rotation", "vectors with NaN", lambda: dpc.apply_rotation(with_value(f(), np.nan), 10.0,
                                                                                   False), names=("vectors",))
    add(cat, "dpc.rotation_matrix", "rotation_deg=inf", lambda: dpc.rotation_matrix(np.inf, False),
        names=("rotation_deg",))
    add(cat, "dpc.fit_plane", "values with NaN", lambda: dpc.fit_plane(with_value(f(), np.nan)), names=("values",))
    add(cat, "dpc.evaluate_plane", "coef with NaN", lambda: dpc.evaluate_plane(np.full((2, 3), np.nan), (4, 4)),
        names=("coef",))
    add(cat, "dpc.fit_rotation", "field with inf", lambda: dpc.fit_rotation(with_value(f(), np.inf)),
        names=("field",))
    add(cat, "dpc.fit_rotation", "rotation_deg=NaN", lambda: dpc.fit_rotation(f(), rotation_deg=np.nan),
        names=("rotation_deg",))
    add(cat, "dpc.fit_rotation", "column_quantile=NaN", lambda: dpc.fit_rotation(f(), column_quantile=np.nan),
        names=("column_quantile",))
    add(cat, "dpc.integrate_gradient", "field with NaN", lambda: dpc.integrate_gradient(with_value(f(), np.nan)),
        names=("field",))
    add(cat, "dpc.integrate_gradient", "spacing=inf", lambda: dpc.integrate_gradient(f(), spacing=np.inf),
        names=("spacing",))
    add(cat, "dpc.integrate_gradient", "highpass=NaN", lambda: dpc.integrate_gradient(f(), highpass=np.nan),
        names=("highpass",))
    add(cat, "dpc.electron_wavelength", "energy=NaN", lambda: dpc.electron_wavelength(np.nan), names=("energy",))
    add(cat, "dpc.electron_wavelength", "energy=inf", lambda: dpc.electron_wavelength(np.inf), names=("energy",))
    add(cat, "dpc.interaction_voltage", "energy=NaN", lambda: dpc.interaction_voltage(np.nan), names=("energy",))
    add(cat, "dpc.direction_colors", "field with NaN", lambda: dpc.direction_colors(with_value(f(), np.nan)),
        names=("field",))
    add(cat, "dpc.direction_colors", "max_magnitude=NaN", lambda: dpc.direction_colors(f(), max_magnitude=np.nan),
        names=("max_magnitude",))

    a, b = angles()
    add(cat, "metrics.circular_correlation", "angle_a with NaN",
        lambda: metrics.circular_correlation(with_value(a, np.nan, 2), b), names=("angle_a",))
    add(cat, "metrics.circular_correlation", "angle_b with inf",
        lambda: metrics.circular_correlation(a, with_value(b, np.inf, 2)), names=("angle_b",))
    labels = np.arange(20) % 2
    add(cat, "metrics.angle_residuals_by_class", "angle_pred with NaN",
        lambda: metrics.angle_residuals_by_class(with_value(a, np.nan, 2), b, labels), names=("angle_pred",))
    add(cat, "metrics.angle_residuals_by_class", "period=NaN",
        lambda: metrics.angle_residuals_by_class(a, b, labels, period=np.nan), names=("period",))
    add(cat, "metrics.angle_residuals_by_class", "period=inf",
        lambda: metrics.angle_residuals_by_class(a, b, labels, period=np.inf), names=("period",))
    add(cat, "metrics.angle_error_by_class", "angle_true with inf",
        lambda: metrics.angle_error_by_class(a, with_value(b, np.inf, 2), labels), names=("angle_true",))
    orbit = np.repeat(np.arange(10), 4)
    add(cat, "metrics.symmetry_equivalence_spread", "codes with NaN",
        lambda: metrics.symmetry_equivalence_spread(with_value(codes(), np.nan), orbit), names=("codes",))
    add(cat, "metrics.orbit_angle_error", "angle_deg with NaN",
        lambda: metrics.orbit_angle_error(with_value(np.arange(40.0), np.nan, 2), orbit, np.arange(40.0) * 3),
        names=("angle_deg",))
    add(cat, "metrics.orbit_angle_error", "rotation_deg with inf",
        lambda: metrics.orbit_angle_error(np.arange(40.0), orbit, with_value(np.arange(40.0), np.inf, 2)),
        names=("rotation_deg",))
    add(cat, "metrics.mahalanobis_outlier_score", "codes with NaN",
        lambda: metrics.mahalanobis_outlier_score(with_value(codes(), np.nan)), names=("codes",))
    add(cat, "metrics.mahalanobis_outlier_score", "codes with inf (robust=False)",
        lambda: metrics.mahalanobis_outlier_score(with_value(codes(), np.inf), robust=False), names=("codes",))
    add(cat, "metrics.knn_outlier_score", "codes with NaN",
        lambda: metrics.knn_outlier_score(with_value(codes(), np.nan)), names=("codes",))
    pos = np.stack(np.meshgrid(np.arange(0, 10, 0.5), np.arange(0, 5, 0.5)), -1).reshape(-1, 2)
    add(cat, "metrics.lattice_site_mahalanobis_score", "codes with NaN",
        lambda: metrics.lattice_site_mahalanobis_score(with_value(codes(len(pos)), np.nan), pos, 2 * np.eye(2),
                                                       n_neighbors=4), names=("codes",))
    add(cat, "metrics.lattice_site_mahalanobis_score", "lattice with NaN",
        lambda: metrics.lattice_site_mahalanobis_score(codes(len(pos)), pos, [[2.0, np.nan], [0, 2.0]],
                                                       n_neighbors=4), names=("lattice",))
    d = np.linspace(0, 10, 40)
    add(cat, "metrics.defect_detection_auc", "scores with NaN",
        lambda: metrics.defect_detection_auc(with_value(codes(40, 1).ravel(), np.nan), d), names=("scores",))
    add(cat, "metrics.defect_detection_auc", "distance with NaN",
        lambda: metrics.defect_detection_auc(codes(40, 1).ravel(), with_value(d, np.nan)), names=("distance",))
    add(cat, "metrics.defect_detection_auc", "radius=NaN",
        lambda: metrics.defect_detection_auc(codes(40, 1).ravel(), d, radius=np.nan), names=("radius",))

    for fn, kw, arg in [
        (ds.make_rotated_digits, {"max_angle": np.nan}, "max_angle"),
        (ds.make_rotated_digits, {"max_angle": np.inf}, "max_angle"),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "max_angle": np.nan}, "max_angle"),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "max_shift": np.inf}, "max_shift"),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "noise": np.nan}, "noise"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "pixel_size": np.nan}, "pixel_size"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "peak_counts": np.nan}, "peak_counts"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "peak_counts": np.inf}, "peak_counts"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "probe_fwhm": np.nan}, "probe_fwhm"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "background": np.inf}, "background"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "scan_jitter": np.nan},
         "scan_jitter"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "rotation": np.nan}, "rotation"),
        (ds.make_stem_movie, {"n_frames": 2, "size": 48, "dopants": {"Si": 1}, "n_vacancies": 0,
                              "drift": (np.nan, 0.0)}, "drift"),
        (ds.make_stem_movie, {"n_frames": 2, "size": 48, "dopants": {"Si": 1}, "n_vacancies": 0,
                              "displacement": np.inf}, "displacement"),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "tilt_range": (np.nan, 5.0)}, "tilt_range"),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "sigma": np.inf}, "sigma"),
    ]:
        add(cat, f"datasets.{fn.__name__}", f"{arg}={kw[arg]}", lambda fn=fn, kw=kw: fn(**kw), names=(arg,))

    # ============================================================ dtypes
    cat = "dtypes"
    for spec in SPECS.values():
        for dt, expect in DTYPES:
            def fn(spec=spec, dt=dt):
                X = as_dtype(spec.X(), dt)
                return spec.run(spec.make(), X, X)

            add(cat, spec.name, f"X of dtype {dt}", fn, expect=expect, shape=spec.shape(spec.X()))
    for dt, expect in DTYPES:
        add(cat, "atoms.find_atoms", f"image of dtype {dt}",
            lambda dt=dt: atoms_mod.find_atoms(as_dtype(img(), dt), min_distance=5), expect=expect,
            names=("image",), shape=(None, 2))
        add(cat, "dpc.integrate_gradient", f"field of dtype {dt}",
            lambda dt=dt: dpc.integrate_gradient(as_dtype(np.round(100 * f()), dt)), expect=expect,
            names=("field",), shape=(6, 6))
        add(cat, "metrics.circular_correlation", f"angles of dtype {dt}",
            lambda dt=dt: metrics.circular_correlation(as_dtype(np.round(a) % 128, dt),
                                                       as_dtype(np.round(b) % 128, dt)),
            expect=expect, names=("angle_a", "angle_b"), shape=None)
        add(cat, "metrics.knn_outlier_score", f"codes of dtype {dt}",
            lambda dt=dt: metrics.knn_outlier_score(as_dtype(np.round(codes() * 20) % 100, dt)), expect=expect,
            names=("codes",), shape=(40,))
    for dt, expect in (("int64", "ok"), ("complex128", "error"), ("str (words)", "error"), ("object+None", "error")):
        add(cat, "TiltRegressor.fit", f"y of dtype {dt}",
            lambda dt=dt: _tilt_run(tilt_est(), tilt_data()[0], tilt_data()[0], as_dtype(np.round(tilt_data()[1] * 5)
                                                                                           % 100, dt)),
            expect=expect, names=("y",), shape=(16, 3))
    add(cat, "atoms.link_atoms", "frame column of strings",
        lambda: atoms_mod.link_atoms(atoms_table().astype({"frame": str}), search_range=3), names=("frame",))
    add(cat, "atoms.link_atoms", "row column of dtype object (numbers)",
        lambda: atoms_mod.link_atoms(atoms_table().astype({"row": object}), search_range=3), expect="either",
        names=("row",), shape=(48, 5))

    # ============================================================ shapes
    cat = "shapes"
    com = SPECS["COMTransformer"]
    X16 = com_frames
    for desc, X, expect, shape in [
        ("X empty (0, 64)", lambda: np.empty((0, 64)), "error", None),
        ("X with 0 features (16, 0)", lambda: np.empty((16, 0)), "error", None),
        ("X 1-D (64,)", lambda: X16()[0], "error", None),
        ("X 5-D (1, 4, 4, 8, 8)", lambda: X16().reshape(1, 4, 4, 8, 8), "error", None),
        ("X 3-D stack (16, 8, 8)", lambda: X16().reshape(16, 8, 8), "ok", (16, 2)),
        ("X 4-D scan (4, 4, 8, 8)", lambda: X16().reshape(4, 4, 8, 8), "ok", (16, 2)),
        ("X list of lists", lambda: X16().tolist(), "ok", (16, 2)),
        ("X pandas DataFrame", lambda: pd.DataFrame(X16()), "ok", (16, 2)),
        ("X scipy.sparse csr", lambda: __import__("scipy.sparse").sparse.csr_matrix(X16()), "either", (16, 2)),
        ("X non-square frames (16, 60) without detector_shape", lambda: X16()[:, :60], "error", None),
        ("X with 9 frames for scan_shape=(4, 4)", lambda: X16()[:9], "error", None),
    ]:
        add(cat, "COMTransformer.fit", desc, lambda X=X: com.run(com_est(), X(), X()), expect=expect, shape=shape,
            names=("X", "scan_shape"))
    add(cat, "COMTransformer.fit", "a single frame (1, 64) without scan_shape",
        lambda: com_est(scan_shape=None).fit(X16()[:1]).transform(X16()[:1]), names=("X",))
    add(cat, "COMTransformer.fit", "scan_shape=(1, 16): one scan row", lambda: com.run(
        com_est(scan_shape=(1, 16)), X16(), X16()), expect="either", shape=(16, 2), names=("scan_shape",))
    add(cat, "COMTransformer.fit", "detector_shape=(4, 16) on 8x8 frames of a 3-D X",
        lambda: com.run(com_est(detector_shape=(4, 16)), X16().reshape(16, 8, 8), X16().reshape(16, 8, 8)),
        names=("detector_shape",))
    add(cat, "COMTransformer.transform", "X with 49 features after fit on 64",
        lambda: com_est().fit(X16()).transform(com_frames(k=7)), names=("X", "features"))
    add(cat, "COMTransformer.transform", "fewer positions (8) than the fitted scan (descan on)",
        lambda: com_est().fit(X16()).transform(X16()[:8]), names=("X", "scan_shape", "scan"))
    add(cat, "COMTransformer.com_map", "X without scan_shape fitted",
        lambda: com_est(scan_shape=None).fit(X16()).com_map(X16()), names=("scan_shape", "X"))

    dp = SPECS["DiffractionPreprocessor"]
    for desc, X, expect, shape, kw in [
        ("X empty (0, 64)", lambda: np.empty((0, 64)), "error", None, {}),
        ("X with 0 features (16, 0)", lambda: np.empty((16, 0)), "error", None, {}),
        ("X 1-D (64,)", lambda: X16()[0], "error", None, {}),
        ("X 3-D (16, 8, 8)", lambda: X16().reshape(16, 8, 8), "either", (16, 64), {}),
        ("a single pattern (1, 64)", lambda: X16()[:1], "ok", (1, 64), {}),
        ("a single pattern with subtract_mean=True", lambda: X16()[:1], "error", None, {"subtract_mean": True}),
        ("non-square (16, 60) without detector_shape", lambda: X16()[:, :60], "error", None, {}),
        ("detector_shape=(5, 5) for 64 features", lambda: X16(), "error", None, {"detector_shape": (5, 5)}),
        ("crop=9 larger than the 8x8 detector", lambda: X16(), "error", None, {"crop": 9}),
        ("binning=9 on an 8x8 detector", lambda: X16(), "error", None, {"binning": 9}),
        ("X pandas DataFrame", lambda: pd.DataFrame(X16()), "ok", (16, 64), {}),
        ("X scipy.sparse csr", lambda: __import__("scipy.sparse").sparse.csr_matrix(X16()), "either", (16, 64), {}),
    ]:
        names = ("X",) + tuple(kw)
        add(cat, "DiffractionPreprocessor.fit", desc, lambda X=X, kw=kw: dp.run(dp_est(**kw), X(), X()),
            expect=expect, shape=shape, names=names)
    add(cat, "DiffractionPreprocessor.transform", "X with 49 features after fit on 64",
        lambda: dp_est().fit(X16()).transform(com_frames(k=7)), names=("X", "features"))

    ape = SPECS["AtomPatchExtractor"]
    for desc, X, expect, shape in [
        ("X 1-D", lambda: img()[0], "error", None),
        ("X 4-D (1, 1, 40, 40)", lambda: img()[None, None], "error", None),
        ("X empty (0, 0)", lambda: np.empty((0, 0)), "error", None),
        ("X 2x2 image", lambda: img()[:2, :2], "error", None),
        ("X 8x8 image, smaller than window_size=9", lambda: img()[:8, :8], "error", None),  # names window_size
        ("X 3-D stack of 2 frames", lambda: np.stack([img(), img(seed=1)]), "ok", (None, 81)),
        ("X constant image (no atoms)", lambda: np.full((40, 40), 7.0), "either", (0, 81)),
        ("X list of lists", lambda: img().tolist(), "ok", (None, 81)),
    ]:
        add(cat, "AtomPatchExtractor.fit_transform", desc, lambda X=X: ape.run(ape_est(), X(), X()), expect=expect,
            shape=shape, names=("X", "window_size"))
    add(cat, "AtomPatchExtractor.transform_at", "atoms without a col column",
        lambda: ape_est().fit(img()).transform_at(img(), pd.DataFrame({"row": [10.0]})), names=("atoms", "col"))
    add(cat, "AtomPatchExtractor.transform_at", "frame 5 of a 1-frame X",
        lambda: ape_est().fit(img()).transform_at(img(), pd.DataFrame({"frame": [5], "row": [10.0], "col": [10.0]})),
        names=("atoms", "frame"))
    add(cat, "AtomPatchExtractor.transform_at", "atoms as an ndarray (n, 2)",
        lambda: ape_est().fit(img()).transform_at(img(), np.array([[10.0, 10.0]])), expect="either",
        names=("atoms",), shape=(1, 81))

    for desc, image, kw, expect, shape in [
        ("image 1-D", lambda: img()[0], {}, "error", None),
        ("image 3-D", lambda: img()[None], {}, "error", None),
        ("image (0, 0)", lambda: np.empty((0, 0)), {}, "error", None),
        ("image 2x2", lambda: img()[:2, :2], {}, "error", None),
        ("constant image", lambda: np.full((40, 40), 3.0), {}, "either", (0, 2)),
        ("all-zero image", lambda: np.zeros((40, 40)), {}, "either", (0, 2)),
        ("min_distance=40 not smaller than a 40x40 image", img, {"min_distance": 40}, "error", None),
        ("image list of lists", lambda: img().tolist(), {}, "ok", (None, 2)),
        ("image 3 x 400 (thin)", lambda: atom_image(400)[:3], {}, "either", (None, 2)),
    ]:
        kw = {"min_distance": 5, **kw}
        add(cat, "atoms.find_atoms", desc, lambda image=image, kw=kw: atoms_mod.find_atoms(image(), **kw),
            expect=expect, shape=shape, names=("image", "min_distance"))
    add(cat, "atoms.refine_positions", "positions of shape (2,)", lambda: atoms_mod.refine_positions(
        img(), [4.0, 4.0], 5), names=("positions",))
    add(cat, "atoms.refine_positions", "positions empty (0, 2)", lambda: atoms_mod.refine_positions(
        img(), np.empty((0, 2)), 5), expect="ok", names=("positions",), shape=(0, 2))
    add(cat, "atoms.cut_patches", "positions 1-D", lambda: atoms_mod.cut_patches(img(), [4.0, 4.0], 9),
        names=("positions",))
    add(cat, "atoms.cut_patches", "image 3-D", lambda: atoms_mod.cut_patches(img()[None], [[4.0, 4.0]], 9),
        names=("image",))
    add(cat, "atoms.link_atoms", "atoms without a frame column",
        lambda: atoms_mod.link_atoms(atoms_table().drop(columns="frame"), search_range=3), names=("frame", "atoms"))
    add(cat, "atoms.link_atoms", "atoms empty DataFrame with the columns",
        lambda: atoms_mod.link_atoms(atoms_table().iloc[:0], search_range=3), expect="either", names=("atoms",),
        shape=(0, 5))
    add(cat, "atoms.link_atoms", "drift of shape (2, 2) for 3 frames",
        lambda: atoms_mod.link_atoms(atoms_table(), search_range=3, drift=np.zeros((2, 2))), names=("drift",))
    add(cat, "atoms.class_changes", "atoms without an atom column",
        lambda: atoms_mod.class_changes(atoms_table()), names=("atom", "atoms"))
    add(cat, "atoms.class_changes", "column='missing'",
        lambda: atoms_mod.class_changes(atoms_mod.link_atoms(atoms_table(), search_range=3), column="missing"),
        names=("column", "missing"))

    rv = SPECS["RotationInvariantVAE"]
    R = rot_images
    for desc, X, kw, expect, shape in [
        ("X empty (0, 64)", lambda: np.empty((0, 64)), {}, "error", None),
        ("X 1-D", lambda: R()[0], {}, "error", None),
        ("X 3-D (24, 8, 8)", lambda: R().reshape(24, 8, 8), {}, "error", None),
        ("a single sample", lambda: R()[:1], {}, "error", None),
        ("two samples", lambda: R()[:2], {}, "ok", (2, 2)),
        ("non-square (24, 60) without image_shape", lambda: R()[:, :60], {}, "error", None),
        ("image_shape=(5, 5) for 64 features", R, {"image_shape": (5, 5)}, "error", None),
        ("image_shape=(4, 16) non-square", R, {"image_shape": (4, 16)}, "ok", (24, 2)),
        ("image_shape=(8, -1)", R, {"image_shape": (8, -1)}, "ok", (24, 2)),
        ("2x2 images", lambda: R()[:, :4], {}, "either", (24, 2)),
        ("1x1 images", lambda: R()[:, :1], {}, "either", (24, 2)),
        ("n_classes=30 > n_samples", R, {"n_classes": 30}, "error", None),
        ("batch_size larger than n_samples", R, {"batch_size": 1000}, "ok", (24, 2)),
        ("X pandas DataFrame", lambda: pd.DataFrame(R()), {}, "ok", (24, 2)),
    ]:
        add(cat, "RotationInvariantVAE.fit", desc, lambda X=X, kw=kw: rv.run(rvae_est(**kw), X(), X()),
            expect=expect, shape=shape, names=("X",) + tuple(kw))
    add(cat, "RotationInvariantVAE.transform", "X with 49 features after fit on 64",
        lambda: fitted_rvae().transform(rot_images(k=7)), names=("X", "features"))
    add(cat, "RotationInvariantVAE.inverse_transform", "Z with 3 columns for n_components=2",
        lambda: fitted_rvae().inverse_transform(np.zeros((3, 3))), names=("Z", "n_components"))
    add(cat, "RotationInvariantVAE.inverse_transform", "Z 1-D",
        lambda: fitted_rvae().inverse_transform(np.zeros(2)), expect="either", names=("Z",), shape=None)
    add(cat, "RotationInvariantVAE.inverse_transform", "angle of length 2 for 3 codes",
        lambda: fitted_rvae().inverse_transform(np.zeros((3, 2)), angle=[0.0, 1.0]), names=("angle",))
    add(cat, "RotationInvariantVAE.reconstruct", "X with 49 features", lambda: fitted_rvae().reconstruct(
        rot_images(k=7)), names=("X", "features"))
    add(cat, "RotationInvariantVAE.score", "X with NaN", lambda: fitted_rvae().score(with_value(R(), np.nan)))
    add(cat, "RotationInvariantVAE.predict_proba", "X with 49 features (n_classes=2)",
        lambda: rvae_est(n_classes=2).fit(R()).predict_proba(rot_images(k=7)), names=("X", "features"))
    add(cat, "RotationInvariantVAE.fit_predict", "n_classes=2, two samples", lambda: rvae_est(n_classes=2).fit_predict(
        R()[:2]), expect="either", shape=(2,), kind="iu")
    add(cat, "TiltRegressor.score", "y with NaN", lambda: tilt_est().fit(T(), Y()).score(T(), with_value(Y(), np.nan)),
        names=("y",))
    add(cat, "AtomPatchExtractor.locate", "X 1-D", lambda: ape_est().locate(img()[0]))
    add(cat, "COMTransformer.charge_density", "thickness=0", lambda: fitted_com(
        mrad_per_px=0.5, energy=200e3, scan_step=0.2).charge_density(X16(), thickness=0), names=("thickness",))
    add(cat, "COMTransformer.curl", "X of 9 frames for a 4x4 scan", lambda: fitted_com().curl(X16()[:9]),
        names=("X", "scan_shape"))
    add(cat, "COMTransformer.get_feature_names_out", "before fit",
        lambda: com_est().get_feature_names_out(), names=("COMTransformer", "fit"))
    add(cat, "RotationInvariantVAE.sample", "n_samples=0",
        lambda: fitted_rvae().sample(0), expect="either", names=("n_samples",), shape=(0, 64))
    add(cat, "RotationInvariantVAE.transform_pose", "return_posterior=True with a normal prior",
        lambda: fitted_rvae().transform_pose(R(), return_posterior=True), expect="either",
        names=("return_posterior", "angle_prior"))

    T = lambda: tilt_data()[0]  # noqa: E731
    Y = lambda: tilt_data()[1]  # noqa: E731
    for desc, X, y, kw, expect, shape in [
        ("X empty (0, 64)", lambda: np.empty((0, 64)), lambda: np.empty((0, 3)), {}, "error", None),
        ("X 1-D", lambda: T()[0], Y, {}, "error", None),
        ("y of shape (16, 2): two outputs", T, lambda: Y()[:, :2], {}, "ok", (16, 2)),
        ("y of shape (16, 2) with zone_axis='110' (needs three tilts)", T, lambda: Y()[:, :2],
         {"zone_axis": "110"}, "error", None),
        ("y with 10 rows for 16 samples", T, lambda: Y()[:10], {}, "error", None),
        ("a single sample", lambda: T()[:1], lambda: Y()[:1], {}, "error", None),
        ("y 1-D: one output, 1-D predictions", T, lambda: Y()[:, 0], {}, "ok", (16,)),
        ("network_shape=(10, 10) larger than the patch", T, Y, {"network_shape": (10, 10)}, "error", None),
        ("network_shape=(5, 5): parity differs from 8", T, Y, {"network_shape": (5, 5)}, "error", None),
        ("image_shape=(4, 16) non-square", T, Y, {"image_shape": (4, 16)}, "either", (16, 3)),
    ]:
        add(cat, "TiltRegressor.fit", desc, lambda X=X, y=y, kw=kw: tilt_est(**kw).fit(X(), y()).predict(X()),
            expect=expect, shape=shape, names=("X", "y") + tuple(kw))
    add(cat, "TiltRegressor.predict", "X with 49 features after fit on 64",
        lambda: tilt_est().fit(T(), Y()).predict(T()[:, :49]), names=("X", "features"))
    add(cat, "TiltRegressor.predict_map", "image 1-D",
        lambda: tilt_est().fit(T(), Y()).predict_map(img()[0]), names=("image",))
    add(cat, "TiltRegressor.predict_map", "image 6x6, smaller than the patch",
        lambda: tilt_est().fit(T(), Y()).predict_map(img()[:6, :6]), names=("image",))
    add(cat, "TiltRegressor.predict_map", "centers of shape (3,)",
        lambda: tilt_est().fit(T(), Y()).predict_map(img(), centers=[10.0, 10.0, 3.0]), names=("centers",))
    add(cat, "TiltRegressor.predict_map", "a 40x40 image (grid)",
        lambda: tilt_est().fit(T(), Y()).predict_map(img()), expect="ok", names=("image",), shape=(9, 9, 3))

    for target, fn, desc, expect, names, shape in [
        ("dpc.divergence", lambda: dpc.divergence(np.zeros((6, 6, 3))), "field (6, 6, 3)", "error", ("field",), None),
        ("dpc.divergence", lambda: dpc.divergence(np.zeros((1, 1, 2))), "field (1, 1, 2)", "error", ("field",), None),
        ("dpc.divergence", lambda: dpc.divergence(np.zeros((6, 6))), "field 2-D", "error", ("field",), None),
        ("dpc.curl", lambda: dpc.curl(np.zeros((2, 6, 6, 2))), "field 4-D", "error", ("field",), None),
        ("dpc.curl", lambda: dpc.curl(np.zeros((2, 2, 2))), "field (2, 2, 2)", "ok", ("field",), (2, 2)),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(np.zeros((1, 5, 2))), "field (1, 5, 2)", "error",
         ("field",), None),
        ("dpc.fit_plane", lambda: dpc.fit_plane(np.zeros(6)), "values 1-D", "error", ("values",), None),
        ("dpc.fit_plane", lambda: dpc.fit_plane(f(), mask=np.ones((3, 3), bool)), "mask (3, 3) for a 6x6 scan",
         "error", ("mask",), None),
        ("dpc.fit_plane", lambda: dpc.fit_plane(f(), mask=np.zeros((6, 6), bool)), "mask all False", "error",
         ("mask",), None),
        ("dpc.evaluate_plane", lambda: dpc.evaluate_plane(np.zeros((2, 2)), (4, 4)), "coef (2, 2)", "error",
         ("coef",), None),
        ("dpc.evaluate_plane", lambda: dpc.evaluate_plane(np.zeros((2, 3)), (4, 4, 1)), "scan_shape of 3 entries",
         "error", ("scan_shape",), None),
        ("dpc.apply_rotation", lambda: dpc.apply_rotation(np.zeros(3), 10.0, False), "vectors (3,)", "error",
         ("vectors",), None),
        ("dpc.direction_colors", lambda: dpc.direction_colors(np.zeros((4, 4, 3))), "field (4, 4, 3)", "error",
         ("field",), None),
        ("dpc.direction_colors", lambda: dpc.direction_colors(np.zeros((0, 2))), "field (0, 2)", "either",
         ("field",), (0, 3)),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(np.zeros((6, 6))), "field 2-D", "error", ("field",), None),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(np.zeros((6, 6, 2))), "field all zero", "either", ("field",),
         None),
    ]:
        add(cat, target, desc, fn, expect=expect, names=names, shape=shape)

    for target, fn, desc, expect, names in [
        ("metrics.circular_correlation", lambda: metrics.circular_correlation(a, b[:10]), "lengths 20 and 10",
         "error", ("angle_a", "angle_b")),
        ("metrics.circular_correlation", lambda: metrics.circular_correlation([1.0], [2.0]), "length 1", "error",
         ("angle_a", "angle_b")),
        ("metrics.circular_correlation", lambda: metrics.circular_correlation([], []), "length 0", "error",
         ("angle_a", "angle_b")),
        ("metrics.circular_correlation", lambda: metrics.circular_correlation(np.full(5, 10.0), np.arange(5.0)),
         "angle_a constant (correlation undefined)", "error", ("angle_a",)),
        ("metrics.angle_residuals_by_class", lambda: metrics.angle_residuals_by_class(a, b, labels[:5]),
         "labels shorter", "error", ("labels",)),
        ("metrics.angle_error_by_class", lambda: metrics.angle_error_by_class([], [], []), "empty", "error",
         ("angle_pred",)),
        ("metrics.symmetry_equivalence_spread", lambda: metrics.symmetry_equivalence_spread(codes(), np.arange(40)),
         "every orbit a singleton", "error", ("orbit",)),
        ("metrics.symmetry_equivalence_spread", lambda: metrics.symmetry_equivalence_spread(codes(), orbit[:10]),
         "orbit shorter than codes", "error", ("orbit", "codes")),
        ("metrics.orbit_angle_error", lambda: metrics.orbit_angle_error(np.arange(40.0), np.arange(40),
                                                                        np.arange(40.0)),
         "every orbit a singleton (no pairs)", "error", ("orbit",)),
        ("metrics.orbit_angle_error", lambda: metrics.orbit_angle_error(np.arange(40.0), orbit[:8], np.arange(40.0)),
         "orbit shorter than angle_deg", "error", ("orbit", "angle_deg")),
        ("metrics.mahalanobis_outlier_score", lambda: metrics.mahalanobis_outlier_score(codes(1)), "a single code",
         "error", ("codes",)),
        ("metrics.mahalanobis_outlier_score", lambda: metrics.mahalanobis_outlier_score(np.empty((0, 2))),
         "no codes", "error", ("codes",)),
        ("metrics.knn_outlier_score", lambda: metrics.knn_outlier_score(codes(1)), "a single code", "error",
         ("codes", "n_neighbors")),
        ("metrics.knn_outlier_score", lambda: metrics.knn_outlier_score(np.zeros((2, 2, 2))), "codes 3-D",
         "error", ("codes",)),
        ("metrics.lattice_site_mahalanobis_score",
         lambda: metrics.lattice_site_mahalanobis_score(codes(len(pos)), pos[:, :1], 2 * np.eye(2)),
         "positions (n, 1)", "error", ("positions",)),
        ("metrics.lattice_site_mahalanobis_score",
         lambda: metrics.lattice_site_mahalanobis_score(codes(len(pos)), pos, [[1.0, 0.0], [2.0, 0.0]]),
         "singular lattice", "error", ("lattice",)),
        ("metrics.defect_detection_auc", lambda: metrics.defect_detection_auc(codes(10, 1).ravel(), d),
         "scores shorter than distance", "error", ("scores", "distance")),
        ("metrics.defect_detection_auc", lambda: metrics.defect_detection_auc([], []), "empty", "error",
         ("scores", "distance")),
    ]:
        add(cat, target, desc, fn, expect=expect, names=names)

    # ============================================================ parameters
    cat = "parameters"
    HUGE = 10**9

    def est_params(spec, table, extra_names=()):
        for param, values in table.items():
            for value, expect, *override in values:
                shape = (override[0] if override else spec.shape(spec.X())) if expect != "error" else None
                names = (param,) + tuple(extra_names) + (("X",) if expect == "either" else ())
                names += EXTRA_NAMES.get((spec.name, param), ())
                add(cat, spec.name, f"{param}={_short_repr(value)}",
                    lambda spec=spec, param=param, value=value: spec.run(spec.make(**{param: value}), spec.X(),
                                                                         spec.X()),
                    expect=expect, names=names, shape=shape)

    E, O, EI = "error", "ok", "either"
    # A mismatch between a parameter and the data: naming either side is clear.
    EXTRA_NAMES = {}
    est_params(SPECS["COMTransformer"], {
        "detector_shape": [((0, 0), E), ((-2, 8), E), ("abc", E), ((8.5, 8), E), ((8, -1), O)],
        "scan_shape": [((0, 4), E), ((-4, -4), E), ("ab", E), ((4, 4, 1), E), ((2, 8), O)],
        "mask": [(0, E), (-1.0, E), (1e9, EI), ("abc", E), ((5.0, 2.0), E), (np.ones((3, 3)), E),
                 (-np.ones((8, 8)), E), (np.ones((8, 8), bool), O)],
        "threshold": [(-1.0, O), (1e300, EI), ("abc", E)],
        "center": [((100.0, 100.0), EI), ((4.0,), E), ("ab", E)],
        "rotation_deg": [(1e300, EI), ("abc", E), (720.0, O)],
        "flip": [("yes", E), (2, E)],
        "descan": [("no", E), (None, E)],
        "mrad_per_px": [(0, E), (-1.0, E), ("a", E)],
        "scan_step": [(0, E), (-1.0, E)],
        "energy": [(0, E), (-1.0, E), (1e300, EI)],
        "chunk_size": [(0, E), (-1, E), (1, O), (HUGE, O), (2.5, E), ("big", E)],
        "device": [("gpu", E), ("cuda:7", E), (3, E)],
        "verbose": [(-1, EI), ("a", E)],
    })
    est_params(SPECS["DiffractionPreprocessor"], {
        "detector_shape": [((0, 0), E), ((7, -1), E), ("x", E)],
        "center": [("left", E), (None, E), ("each", O), ("none", O)],
        "crop": [(0, E), (-1, E), (1, O, (16, 1)), (HUGE, E), (2.5, E)],
        "binning": [(0, E), (-1, E), (2.5, E), (2, O, (16, 16))],
        "scaling": [("sqrt", E), ("power", O)],
        "power": [(0, E), (-1.0, E), (1e6, EI)],
        "blur": [(-1.0, E), (1e6, EI), (1e9, EI), ("a", E)],
        "normalize": [("l2", E), ("std", O), ("sum", O)],
        "subtract_mean": [("yes", E), (True, O)],
    })
    ape_spec = SPECS["AtomPatchExtractor"]
    est_params(ape_spec, {
        "window_size": [(0, E), (2, E), (-1, E), (9.5, E), ("9", E), (HUGE, E), (3, O, (None, 9))],
        "min_distance": [(0, E), (-1.0, E), (1e6, E), ("5", E), (True, E)],
        "threshold": [("a", E), (1e300, EI), (-1e300, EI)],
        "invert": [("yes", E), (True, EI)],
        "refine": [(2, E), (False, O)],
        "exclude_border": [("none", E), (-1.0, E), (False, O), (4.0, O)],
        "mask": [("circle", E), ("disk", O)],
        "standardize": [(None, E), (True, O)],
    })
    est_params(SPECS["RotationInvariantVAE"], {
        "n_components": [(0, E), (-1, E), (2.5, E), ("2", E), (200, O, (24, 200))],
        "image_shape": [((0, 0), E), ((-1, -1), E), ((8, 8, 1), E), ("8x8", E)],
        "translation": [("yes", E), (False, O)],
        "decoder": [("mlp", E), ("spatial", O)],
        "hidden_layer_sizes": [((), E), ((0,), E), ((-5,), E), ((8.5,), E), ("big", E)],
        "activation": [("sigmoid", E), ("relu", O)],
        "likelihood": [("poisson", E), ("bernoulli", E)],  # X is 0..100: outside [0, 1]
        "noise_scale": [(0, E), (-1.0, E), (1e-30, EI), (1e30, EI)],
        "beta": [(-1.0, E), (0.0, O), (1e300, EI)],
        "capacity": [((1.0, 2), E), ((-1.0, 1, 1.0), E), ((1.0, 0, 1.0), E), ((1.0, 1, 0.0), E), ((5.0, 2, 1.0), O)],
        "angle_prior": [(0, E), (-1.0, E), ("flat", E), ("uniform", O), (1e300, EI)],
        "rotation_symmetry": [(0, E), (-1, E), (1000, EI), (2.5, E)],
        "n_rotation_bins": [(1, E), (0, E), (4, O)],
        "translation_prior": [(0, E), (-1.0, E), (1e300, EI)],
        "n_classes": [(1, E), (0, E), (3, O), (2.5, E)],
        "lr": [(0, E), (-1.0, E)],
        "batch_size": [(0, E), (-1, E), (HUGE, O), (1, O)],
        "max_epochs": [(0, E), (-1, E), (2.5, E)],
        "early_stopping": [("yes", E), (True, O)],
        "n_iter_no_change": [(0, E)],
        "n_init": [(0, E), (2, O)],
        "device": [("gpu", E), ("cuda:7", E)],
        "callbacks": [("abc", E), ([1], E)],
        "random_state": [("a", E), (-1, E), (np.random.RandomState(0), O)],
        "verbose": [(-1, EI), ("a", E)],
    })
    dp_spec = SPECS["DiffractionPreprocessor"]
    for value, expect in ((1e6, EI), (0.0, E), (math.nan, E), (1e-300, EI)):  # power only acts with scaling="power"
        add(cat, dp_spec.name, f"scaling='power', power={value}",
            lambda value=value: dp_spec.run(dp_est(scaling="power", power=value), X16(), X16()), expect=expect,
            names=("power", "X"), shape=(16, 64) if expect != E else None)
    rv_spec = SPECS["RotationInvariantVAE"]
    for value, expect in ((0.0, E), (1.0, E), (-0.1, E), (0.01, EI)):
        add(cat, rv_spec.name, f"validation_fraction={value} (early_stopping=True)",
            lambda value=value: rv_spec.run(rvae_est(early_stopping=True, validation_fraction=value), R(), R()),
            expect=expect, names=("validation_fraction",), shape=(24, 2) if expect != E else None)
    add(cat, rv_spec.name, "likelihood='bernoulli' with X in [0, 1]",
        lambda: rv_spec.run(rvae_est(likelihood="bernoulli"), R() / 100, R() / 100), expect="ok", shape=(24, 2),
        names=("likelihood",))
    add(cat, "RotationInvariantVAE.transform", "likelihood='bernoulli', transform X outside [0, 1]",
        lambda: rvae_est(likelihood="bernoulli").fit(R() / 100).transform(R()), expect="error",
        names=("X", "likelihood"))
    for desc, call, names, expect, shape in [
        ("sample(n_samples=-1)", lambda m: m.sample(-1), ("n_samples",), E, None),
        ("sample(n_samples=2.5)", lambda m: m.sample(2.5), ("n_samples",), E, None),
        ("sample(n_samples=True)", lambda m: m.sample(True), ("n_samples",), EI, (1, 64)),
        ("sample(random_state=-1)", lambda m: m.sample(2, random_state=-1), ("random_state",), E, None),
        ("sample(random_state='a')", lambda m: m.sample(2, random_state="a"), ("random_state",), E, None),
        ("sample(upright='yes')", lambda m: m.sample(2, upright="yes"), ("upright",), E, None),
        ("score_samples(n_draws=0)", lambda m: m.score_samples(R(), n_draws=0), ("n_draws",), E, None),
        ("score_samples(n_draws=-1)", lambda m: m.score_samples(R(), n_draws=-1), ("n_draws",), E, None),
        ("inverse_transform(angle='a')", lambda m: m.inverse_transform(np.zeros((2, 2)), angle="a"), ("angle",), E,
         None),
        ("transform_pose(return_posterior='yes')", lambda m: m.transform_pose(R(), return_posterior="yes"),
         ("return_posterior",), E, None),
        ("inverse_transform(angle=1e300)", lambda m: m.inverse_transform(np.zeros((2, 2)), angle=1e300), ("angle",),
         EI, (2, 64)),
    ]:
        add(cat, "RotationInvariantVAE." + desc.split("(")[0], desc, lambda call=call: call(fitted_rvae()),
            expect=expect, names=names, shape=shape)

    est_params(SPECS["TiltRegressor"], {
        "conv_layers": [((), E), ((0,), E), ((-4,), E), ((2.5,), E), (("pool", 4), E), ((4, "pool", "pool"), E),
                        ("a", E)],
        "network_shape": [((64, 64), E), ((7, 8), E), ("a", E)],
        "fc_units": [(0, E), (-1, E)],
        "augment": [("yes", E), (("rotate",), E), (("noise",), O), (True, O)],
        "counts_range": [((1.0,), E), ((-1.0, 10.0), E), ((100.0, 10.0), E), ("a", E)],
        "scan_jitter": [(-1.0, E)],
        "scan_correction": [("yes", E)],
        "zone_axis": [("111", E)],
        "pair_decision": [(_pkg().tilt.PairDecision(), E), ("yes", E), (True, E)],  # needs zone_axis="110"
        "lr": [(0, E), (-1.0, E)],
        "batch_size": [(0, E), (HUGE, O)],
        "max_epochs": [(0, E)],
        "n_iter_no_change": [(0, E)],
        "pixel_size": [(0, E), (-1.0, E)],
        "device": [("gpu", E)],
        "n_jobs": [("a", E), (0, EI)],
        "random_state": [("a", E)],
        "verbose": [("a", E)],
    })
    for kw, expect in [
        ({"n_local_templates": 2}, E), ({"n_neighbors": 2, "n_local_templates": 8}, E), ({"max_refinements": 0}, E),
        ({"row_gain": 9}, E), ({"n_local_templates": 21}, E), ({"n_local_templates": -1}, E), ({"row_gain": -1}, E),
        ({"n_neighbors": 0}, E), ({"flip_gamma": "yes"}, E), ({}, O), ({"n_local_templates": 0}, O),
    ]:
        add(cat, "TiltRegressor", f"zone_axis='110', pair_decision=PairDecision(**{kw})",
            lambda kw=kw: _tilt_run(tilt_est(zone_axis="110", pair_decision=_pkg().tilt.PairDecision(**kw)), T(), T()),
            expect=expect, names=tuple(kw) or ("X",), shape=(16, 3) if expect != E else None)
    add(cat, "TiltRegressor", "zone_axis='110', pair_decision='auto' (PairDecision())",
        lambda: _tilt_run(tilt_est(zone_axis="110", pair_decision="auto"), T(), T()), expect=O, shape=(16, 3))
    add(cat, "TiltRegressor", "zone_axis='110', scan_correction=True, pair_decision='network'",
        lambda: _tilt_run(tilt_est(zone_axis="110", scan_correction=True, scan_jitter=0.2, pair_decision="network"),
                          T(), T()), expect=O, shape=(16, 3))
    for value, expect in ((0.0, E), (1.0, E)):
        add(cat, "TiltRegressor", f"validation_fraction={value} (early_stopping=True)",
            lambda value=value: _tilt_run(tilt_est(early_stopping=True, validation_fraction=value), T(), T()),
            expect=expect, names=("validation_fraction",))
    for desc, kw, names in [
        ("predict_map(pixel_size=-1) with pixel_size set", {"pixel_size": -1.0}, ("pixel_size",)),
        ("predict_map(stride=0)", {"stride": 0}, ("stride",)),
        ("predict_map(stride=2.5)", {"stride": 2.5}, ("stride",)),
    ]:
        add(cat, "TiltRegressor.predict_map", desc,
            lambda kw=kw: tilt_est(pixel_size=0.25).fit(T(), Y()).predict_map(img(), **kw), names=names)
    for desc, kw, names in [
        ("phase(padding='reflect')", {"padding": "reflect"}, ("padding",)),
        ("phase(highpass=-1)", {"highpass": -1.0}, ("highpass",)),
        ("phase(highpass='a')", {"highpass": "a"}, ("highpass",)),
    ]:
        add(cat, "COMTransformer.phase", desc, lambda kw=kw: fitted_com().phase(X16(), **kw), names=names)
    add(cat, "COMTransformer.field", "field(thickness=-1)", lambda: fitted_com(mrad_per_px=0.5, energy=200e3).field(
        X16(), thickness=-1.0), names=("thickness",))
    add(cat, "COMTransformer.virtual_images", "detectors={'BF': (3, 1)} (inner > outer)",
        lambda: fitted_com().virtual_images(X16(), detectors={"BF": (3.0, 1.0)}), names=("detectors", "BF"))
    add(cat, "COMTransformer.virtual_images", "detectors={'BF': 2} (not a pair)",
        lambda: fitted_com().virtual_images(X16(), detectors={"BF": 2.0}), names=("detectors", "BF"))

    for desc, kw, names, expect, shape in [
        ("min_distance=0", {"min_distance": 0}, ("min_distance",), E, None),
        ("min_distance=-1", {"min_distance": -1}, ("min_distance",), E, None),
        ("min_distance='5'", {"min_distance": "5"}, ("min_distance",), E, None),
        ("min_distance=True", {"min_distance": True}, ("min_distance",), E, None),
        ("min_distance=0.5 (below a pixel)", {"min_distance": 0.5}, ("min_distance",), EI, (None, 2)),
        ("zeros image with one pixel -1, min_distance=1 (found by hypothesis)", {"min_distance": 1.0,
                                                                               "image": "dip"},
         ("image", "min_distance"), EI, (None, 2)),
        ("threshold='a'", {"min_distance": 5, "threshold": "a"}, ("threshold",), E, None),
        ("exclude_border=-1", {"min_distance": 5, "exclude_border": -1}, ("exclude_border",), E, None),
        ("exclude_border='a'", {"min_distance": 5, "exclude_border": "a"}, ("exclude_border",), E, None),
        ("exclude_border=1e6 (drops every column)", {"min_distance": 5, "exclude_border": 1e6}, ("exclude_border",), EI, (0, 2)),
        ("invert='yes'", {"min_distance": 5, "invert": "yes"}, ("invert",), E, None),
        ("refine=1", {"min_distance": 5, "refine": 1}, ("refine",), E, None),
    ]:
        def call(kw=kw):
            kw = dict(kw)
            image = img() if kw.pop("image", None) is None else np.where(np.arange(480).reshape(16, 30) == 31,
                                                                         -1.0, 0.0)
            return atoms_mod.find_atoms(image, **kw)

        add(cat, "atoms.find_atoms", desc, call, names=names, expect=expect, shape=shape)
    add(cat, "atoms.refine_positions", "min_distance=0",
        lambda: atoms_mod.refine_positions(img(), [[4.0, 4.0]], 0), names=("min_distance",))
    for ws in (0, 2.5, "9"):
        add(cat, "atoms.cut_patches", f"window_size={ws!r}",
            lambda ws=ws: atoms_mod.cut_patches(img(), [[4.0, 4.0]], ws), names=("window_size",))
    for desc, kw, names, expect in [
        ("search_range=0", {"search_range": 0}, ("search_range",), E),
        ("search_range=-1", {"search_range": -1}, ("search_range",), E),
        ("search_range='a'", {"search_range": "a"}, ("search_range",), E),
        ("memory=-1", {"search_range": 3, "memory": -1}, ("memory",), E),
        ("memory=1.5", {"search_range": 3, "memory": 1.5}, ("memory",), E),
        ("drift='no'", {"search_range": 3, "drift": "no"}, ("drift",), E),
        ("search_range=1e6", {"search_range": 1e6}, ("search_range",), EI),
    ]:
        add(cat, "atoms.link_atoms", desc, lambda kw=kw: atoms_mod.link_atoms(atoms_table(), **kw), names=names,
            expect=expect, shape=(48, 5) if expect != E else None)
    add(cat, "atoms.link_atoms", "atoms as an ndarray",
        lambda: atoms_mod.link_atoms(atoms_table()[["frame", "row", "col"]].to_numpy(), search_range=3),
        names=("atoms",))
    for desc, kw, names in [
        ("min_frames=0", {"min_frames": 0}, ("min_frames",)),
        ("min_frames='a'", {"min_frames": "a"}, ("min_frames",)),
        ("column=3", {"column": 3}, ("column",)),
    ]:
        add(cat, "atoms.class_changes", desc,
            lambda kw=kw: atoms_mod.class_changes(atoms_mod.link_atoms(atoms_table(), search_range=3), **kw),
            names=names)

    for target, fn, desc, expect, names, shape in [
        ("dpc.divergence", lambda: dpc.divergence(f(), spacing=0), "spacing=0", E, ("spacing",), None),
        ("dpc.divergence", lambda: dpc.divergence(f(), spacing=-1.0), "spacing=-1", E, ("spacing",), None),
        ("dpc.divergence", lambda: dpc.divergence(f(), spacing="a"), "spacing='a'", E, ("spacing",), None),
        ("dpc.curl", lambda: dpc.curl(f(), spacing=0), "spacing=0", E, ("spacing",), None),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(f(), padding="reflect"), "padding='reflect'", E,
         ("padding",), None),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(f(), highpass=-1.0), "highpass=-1", E,
         ("highpass",), None),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(f(), highpass="a"), "highpass='a'", E,
         ("highpass",), None),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(f(), spacing=0), "spacing=0", E, ("spacing",),
         None),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(f(), highpass=1e300), "highpass=1e300", EI,
         ("highpass",), (6, 6)),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(0), "energy=0", E, ("energy",), None),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(-1.0), "energy=-1", E, ("energy",), None),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength("a"), "energy='a'", E, ("energy",), None),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(None), "energy=None", E, ("energy",), None),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(1e300), "energy=1e300", EI, ("energy",), None),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(1e200), "energy=1e200 (wavelength > 0?)", EI,
         ("energy",), "positive"),
        ("dpc.interaction_voltage", lambda: dpc.interaction_voltage(1e-300), "energy=1e-300 (voltage > 0?)", EI,
         ("energy",), "positive"),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(np.array([1e5, 2e5])), "energy an array", EI,
         ("energy",), None),
        ("dpc.interaction_voltage", lambda: dpc.interaction_voltage(-1.0), "energy=-1", E, ("energy",), None),
        ("dpc.interaction_voltage", lambda: dpc.interaction_voltage("a"), "energy='a'", E, ("energy",), None),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(f(), column_quantile=1.5), "column_quantile=1.5", E,
         ("column_quantile",), None),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(f(), column_quantile=-0.5), "column_quantile=-0.5", E,
         ("column_quantile",), None),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(f(), rotation_deg="a"), "rotation_deg='a'", E,
         ("rotation_deg",), None),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(f(), flip="a"), "flip='a'", E, ("flip",), None),
        ("dpc.rotation_matrix", lambda: dpc.rotation_matrix("a", False), "rotation_deg='a'", E, ("rotation_deg",),
         None),
        ("dpc.rotation_matrix", lambda: dpc.rotation_matrix(30.0, "no"), "flip='no'", E, ("flip",), None),
        ("dpc.apply_rotation", lambda: dpc.apply_rotation(f(), None, False), "rotation_deg=None", E,
         ("rotation_deg",), None),
        ("dpc.direction_colors", lambda: dpc.direction_colors(f(), max_magnitude=-1.0), "max_magnitude=-1", E,
         ("max_magnitude",), None),
        ("dpc.direction_colors", lambda: dpc.direction_colors(f(), max_magnitude=0), "max_magnitude=0", E,
         ("max_magnitude",), None),
        ("dpc.direction_colors", lambda: dpc.direction_colors(f(), max_magnitude="a"), "max_magnitude='a'", E,
         ("max_magnitude",), None),
        ("dpc.evaluate_plane", lambda: dpc.evaluate_plane(np.zeros((2, 3)), (0, 0)), "scan_shape=(0, 0)", EI,
         ("scan_shape",), (0, 0, 2)),
        ("dpc.evaluate_plane", lambda: dpc.evaluate_plane(np.zeros((2, 3)), (-2, 3)), "scan_shape=(-2, 3)", E,
         ("scan_shape",), None),
    ]:
        if shape == "positive":  # a physical quantity: finite and > 0
            add(cat, target, desc, fn, expect=expect, names=names,
                check=lambda r: check_result(r) or (None if r > 0 else f"returned {r!r}, not > 0"))
        else:
            add(cat, target, desc, fn, expect=expect, names=names, shape=shape)

    for target, fn, desc, expect, names in [
        ("metrics.circular_correlation", lambda: metrics.circular_correlation(a, b, degrees="no"), "degrees='no'", E,
         ("degrees",)),
        ("metrics.angle_residuals_by_class", lambda: metrics.angle_residuals_by_class(a, b, labels, period=0),
         "period=0", E, ("period",)),
        ("metrics.angle_residuals_by_class", lambda: metrics.angle_residuals_by_class(a, b, labels, period=-360),
         "period=-360", E, ("period",)),
        ("metrics.angle_residuals_by_class", lambda: metrics.angle_residuals_by_class(a, b, labels, period=0.01),
         "period=0.01 (grid of 0 points)", EI, ("period",)),
        ("metrics.angle_residuals_by_class", lambda: metrics.angle_residuals_by_class(a, b, labels, period="a"),
         "period='a'", E, ("period",)),
        ("metrics.knn_outlier_score", lambda: metrics.knn_outlier_score(codes(), n_neighbors=0), "n_neighbors=0", E,
         ("n_neighbors",)),
        ("metrics.knn_outlier_score", lambda: metrics.knn_outlier_score(codes(), n_neighbors=40), "n_neighbors=40",
         E, ("n_neighbors",)),
        ("metrics.knn_outlier_score", lambda: metrics.knn_outlier_score(codes(), n_neighbors=2.5),
         "n_neighbors=2.5", E, ("n_neighbors",)),
        ("metrics.mahalanobis_outlier_score", lambda: metrics.mahalanobis_outlier_score(codes(), random_state="a"),
         "random_state='a'", E, ("random_state",)),
        ("metrics.mahalanobis_outlier_score", lambda: metrics.mahalanobis_outlier_score(codes(), robust="no"),
         "robust='no'", E, ("robust",)),
        ("metrics.lattice_site_mahalanobis_score",
         lambda: metrics.lattice_site_mahalanobis_score(codes(len(pos)), pos, 2 * np.eye(2), covariance="x"),
         "covariance='x'", E, ("covariance",)),
        ("metrics.lattice_site_mahalanobis_score",
         lambda: metrics.lattice_site_mahalanobis_score(codes(len(pos)), pos, 2 * np.eye(2), n_neighbors=0),
         "n_neighbors=0", E, ("n_neighbors",)),
        ("metrics.defect_detection_auc", lambda: metrics.defect_detection_auc(codes(40, 1).ravel(), d, radius=-1),
         "radius=-1 (nothing near)", E, ("radius",)),
        ("metrics.defect_detection_auc", lambda: metrics.defect_detection_auc(codes(40, 1).ravel(), d, radius="a"),
         "radius='a'", E, ("radius",)),
    ]:
        add(cat, target, desc, fn, expect=expect, names=names)

    stem = {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0}
    movie = {"n_frames": 2, **stem}
    for fn, kw, arg, expect in [
        (ds.make_rotated_digits, {"size": 0}, "size", E),
        (ds.make_rotated_digits, {"size": 4}, "size", E),
        (ds.make_rotated_digits, {"size": -1}, "size", E),
        (ds.make_rotated_digits, {"size": 2.5}, "size", E),
        (ds.make_rotated_digits, {"max_angle": -10}, "max_angle", E),
        (ds.make_rotated_digits, {"max_angle": 200}, "max_angle", E),
        (ds.make_rotated_digits, {"random_state": "a"}, "random_state", E),
        (ds.make_rotated_shapes, {"n_samples": 0}, "n_samples", EI),
        (ds.make_rotated_shapes, {"n_samples": -1}, "n_samples", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 0}, "size", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 4}, "size", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "n_classes": 0}, "n_classes", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "n_classes": 7}, "n_classes", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "max_angle": -1}, "max_angle", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "max_angle": 400}, "max_angle", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "max_shift": -1}, "max_shift", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "noise": -1}, "noise", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "n_classes": 6}, "n_classes", O),
        (ds.make_stem_image, {**stem, "size": 0}, "size", E),
        (ds.make_stem_image, {**stem, "size": -10}, "size", E),
        (ds.make_stem_image, {**stem, "pixel_size": 0}, "pixel_size", E),
        (ds.make_stem_image, {**stem, "pixel_size": -1}, "pixel_size", E),
        (ds.make_stem_image, {**stem, "dopants": {"Xx": 1}}, "dopants", E),
        (ds.make_stem_image, {**stem, "dopants": {"Si": -1}}, "dopants", E),
        (ds.make_stem_image, {**stem, "n_vacancies": -1}, "n_vacancies", E),
        (ds.make_stem_image, {**stem, "peak_counts": -1}, "peak_counts", E),
        (ds.make_stem_image, {**stem, "probe_fwhm": 0}, "probe_fwhm", E),
        (ds.make_stem_image, {**stem, "model": "lorentz"}, "model", E),
        (ds.make_stem_image, {**stem, "rotation": "a"}, "rotation", E),
        (ds.make_stem_image, {**stem, "random_state": "a"}, "random_state", E),
        (ds.make_stem_movie, {**movie, "n_frames": 0}, "n_frames", E),
        (ds.make_stem_movie, {**movie, "n_frames": -1}, "n_frames", E),
        (ds.make_stem_movie, {**movie, "hop_frames": "a"}, "hop_frames", E),
        (ds.make_stem_movie, {**movie, "drift_jitter": -1.0}, "drift_jitter", E),
        (ds.make_synthetic_tilt_patches, {"n_samples": 0, "size": 8}, "n_samples", EI),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 0}, "size", E),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "material": "XYZ"}, "material", E),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "glazer": "bad"}, "glazer", E),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "sigma": 0}, "sigma", E),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "tilt_range": (10.0, 0.0)}, "tilt_range", E),
    ]:
        add(cat, f"datasets.{fn.__name__}", f"{arg}={kw[arg]!r}", lambda fn=fn, kw=kw: fn(**kw), names=(arg,),
            expect=expect)
    for fn, kw, arg in [
        (ds.graphene_supercell, {"repeats": (0, 2)}, "repeats"),
        (ds.graphene_supercell, {"defect": "xx"}, "defect"),
        (ds.perovskite_supercell, {"material": "XYZ"}, "material"),
        (ds.perovskite_supercell, {"tilts": (np.nan, 0.0, 0.0)}, "tilts"),
        (ds.perovskite_supercell, {"repeats": (0, 2, 2)}, "repeats"),
        (ds.zincblende_110, {"material": "XYZ"}, "material"),
        (ds.zincblende_110, {"strain": np.nan}, "strain"),
        (ds.orient_110, {"atoms": "abc"}, "atoms"),
        (ds.mirror_mid_plane, {"atoms": "abc"}, "atoms"),
        (ds.simulate_abf, {"atoms": "abc"}, "atoms"),
        (ds.postprocess_abf, {"image": np.ones((8, 8)), "pixel_size": np.nan}, "pixel_size"),
        (ds.postprocess_abf, {"image": np.ones((8, 8)), "pixel_size": 0.25, "dose": -1}, "dose"),
        (ds.postprocess_abf, {"image": np.full((8, 8), np.nan), "pixel_size": 0.25}, "image"),
        (ds.make_graphene_4dstem, {"energy": -1}, "energy"),
        (ds.make_graphene_4dstem, {"repeats": (0, 2)}, "repeats"),
        (ds.make_graphene_4dstem, {"binning": 0}, "binning"),
        (ds.make_graphene_4dstem, {"scan_step": np.nan}, "scan_step"),
        (ds.make_graphene_4dstem, {"dose": -1}, "dose"),
        (ds.make_graphene_4dstem, {"potential_sampling": 0}, "potential_sampling"),
        (ds.make_graphene_4dstem, {"semiangle": np.inf}, "semiangle"),
        (ds.make_graphene_orbits, {"n_orbits": 0}, "n_orbits"),
        (ds.make_graphene_orbits, {"radius": (np.nan, 1.0)}, "radius"),
        (ds.make_graphene_orbits, {"order": 0}, "order"),
        (ds.make_zincblende_4dstem, {"material": "XYZ"}, "material"),
        (ds.make_zincblende_4dstem, {"strain": np.nan}, "strain"),
        (ds.make_zincblende_pairs, {"n_pairs": 0}, "n_pairs"),
        (ds.make_perovskite_abf, {"n_samples": -1}, "n_samples"),
        (ds.make_perovskite_abf, {"n_samples": 2, "patch_size": 0}, "patch_size"),
        (ds.make_perovskite_abf, {"n_samples": 2, "tilt_range": np.nan}, "tilt_range"),
        (ds.make_perovskite_abf, {"n_samples": 2, "dose": 0}, "dose"),
        (ds.make_perovskite_abf, {"n_samples": 2, "energy": np.nan}, "energy"),
        (ds.mirror_patches_110, {"X": np.zeros((3, 64)), "y": np.full((3, 3), np.nan)}, "y"),
    ]:
        add(cat, f"datasets.{fn.__name__}", f"{arg}={_short_repr(kw[arg])}", lambda fn=fn, kw=kw: fn(**kw),
            names=(arg,))
    add(cat, "datasets.environment_names", "dopants=('Xx',) (not an element make_stem_image knows)",
        lambda: ds.environment_names(("Xx",)), expect="either", names=("dopants", "Xx"), kind=None)
    add(cat, "datasets.environment_names", "dopants='Si' (a string, not a tuple)",
        lambda: ds.environment_names("Si"), expect="either", names=("dopants",), kind=None)
    add(cat, "datasets.mirror_patches_110", "X with 63 features (not square)",
        lambda: ds.mirror_patches_110(np.zeros((3, 63)), np.zeros((3, 3))), names=("X", "image_shape"))
    add(cat, "datasets.mirror_patches_110", "y of shape (3, 2)",
        lambda: ds.mirror_patches_110(np.zeros((3, 64)), np.zeros((3, 2))), names=("y",))
    add(cat, "datasets.load_abf_fixture", "no arguments (valid)", lambda: ds.load_abf_fixture(), expect="ok",
        kind=None)

    # ============================================================ files
    cat = "files"
    tmp = tempfile.mkdtemp(prefix="rvae_sweep_")
    TMPDIR[:] = [tmp]
    cube = np.round(com_frames().reshape(4, 4, 8, 8)).astype(np.uint16)

    def path(name):
        return os.path.join(tmp, name)

    def load_and_fit(p, **kw):
        data, _ = load_4dstem(p, **kw)
        return com_est(scan_shape=None).fit(data).transform(data)

    def write_npy(name, arr=cube):
        np.save(path(name), arr)
        return path(name)

    def write_bytes(name, content):
        with open(path(name), "wb") as fh:
            fh.write(content)
        return path(name)

    def write_h5(name, **datasets):
        import h5py

        with h5py.File(path(name), "w") as fh:
            for k, v in datasets.items():
                fh.create_dataset(k, data=v)
        return path(name)

    def write_zarr(name, group=False):
        import zarr

        if group:
            g = zarr.open_group(path(name), mode="w")
            for k in ("a", "b"):
                arr = g.create_array(k, shape=cube.shape, chunks=(1, 4, 8, 8), dtype=cube.dtype)
                arr[:] = cube
        else:
            arr = zarr.open_array(path(name), mode="w", shape=cube.shape, chunks=(1, 4, 8, 8), dtype=cube.dtype)
            arr[:] = cube
        return path(name)

    def chunk_file(p):
        for root, _, files in sorted(os.walk(p)):
            for fname in sorted(files):
                if not fname.endswith(".json") and not fname.startswith(".z"):
                    return os.path.join(root, fname)
        raise RuntimeError("no chunk file")

    def truncated(src, name, keep=0.5):
        raw = open(src, "rb").read()
        return write_bytes(name, raw[: int(len(raw) * keep)])

    def deleted_chunk():
        p = write_zarr("deleted.zarr")
        os.remove(chunk_file(p))
        return p

    def corrupt_chunk():
        p = write_zarr("corrupt.zarr")
        with open(chunk_file(p), "wb") as fh:
            fh.write(b"\x00garbage" * 7)
        return p

    def directory(name):
        os.makedirs(path(name), exist_ok=True)
        return path(name)

    file_cases = [
        ("missing .npy", lambda: path("missing.npy"), {}, E),
        ("missing .h5", lambda: path("missing.h5"), {}, E),
        ("valid .npy uint16 4-D", lambda: write_npy("ok.npy"), {}, O),
        ("valid .npy big-endian >u2", lambda: write_npy("big.npy", cube.astype(">u2")), {}, O),
        ("valid .npy 3-D float32", lambda: write_npy("stack.npy", cube.reshape(16, 8, 8).astype(np.float32)), {}, O),
        ("valid .h5 4-D", lambda: write_h5("ok.h5", data=cube), {}, O),
        ("valid .zarr array", lambda: write_zarr("ok.zarr"), {}, O),
        ("empty .npy (0 bytes)", lambda: write_bytes("empty.npy", b""), {}, E),
        ("empty .h5 (0 bytes)", lambda: write_bytes("empty.h5", b""), {}, E),
        ("empty .mib (0 bytes)", lambda: write_bytes("empty.mib", b""), {}, E),
        ("truncated .npy", lambda: truncated(write_npy("full.npy"), "trunc.npy"), {}, E),
        ("truncated .h5", lambda: truncated(write_h5("full.h5", data=cube), "trunc.h5"), {}, E),
        ("text file named .npy", lambda: write_bytes("text.npy", b"hello world\n" * 20), {}, E),
        ("npy bytes named .h5", lambda: write_bytes("npy_as.h5", open(write_npy("src.npy"), "rb").read()), {}, E),
        ("HDF5 bytes named .npy", lambda: write_bytes("h5_as.npy", open(write_h5("src.h5", data=cube), "rb").read()),
         {}, E),
        ("random bytes named .h5 (corrupt HDF5)",
         lambda: write_bytes("corrupt.h5", b"\x89HDF\r\n\x1a\n" + bytes(np.random.default_rng(0).integers(
             0, 256, 4000, dtype=np.uint8))), {}, E),
        ("random bytes named .dm4", lambda: write_bytes("garbage.dm4", bytes(range(256)) * 8), {}, E),
        ("random bytes named .mib", lambda: write_bytes("garbage.mib", bytes(range(256)) * 8), {}, E),
        ("unknown suffix .xyz", lambda: write_bytes("data.xyz", b"123"), {}, E),
        ("no suffix", lambda: write_bytes("noext", b"123"), {}, E),
        ("directory named .npy", lambda: directory("dir.npy"), {}, E),
        ("directory named .h5", lambda: directory("dir.h5"), {}, E),
        ("plain directory (no suffix)", lambda: directory("plain_dir"), {}, E),
        ("empty directory named .zarr", lambda: directory("empty.zarr"), {}, E),
        ("file (not a directory) named .zarr", lambda: write_bytes("file.zarr", b"zzz"), {}, E),
        ("zarr with a deleted chunk", deleted_chunk, {}, E),
        ("zarr with a corrupted chunk", corrupt_chunk, {}, E),
        ("zarr group with 2 arrays, no dataset", lambda: write_zarr("group.zarr", group=True), {}, E),
        ("zarr group, dataset='a'", lambda: write_zarr("group2.zarr", group=True), {"dataset": "a"}, O),
        ("HDF5 with two 4-D datasets, no dataset", lambda: write_h5("two.h5", a=cube, b=cube), {}, E),
        ("HDF5 dataset='nope'", lambda: write_h5("one.h5", data=cube), {"dataset": "nope"}, E),
        ("HDF5 dataset=3 (an int)", lambda: write_h5("one3.h5", data=cube), {"dataset": 3}, E),
        ("HDF5 with only a 2-D dataset", lambda: write_h5("flat.h5", data=cube.reshape(16, 64)), {}, E),
        ("HDF5 with NaN in the data", lambda: write_h5("nan.h5", data=with_value(cube, np.nan)), {}, E),
        ("HDF5 with a string dataset", lambda: write_h5("str.h5", data=cube.astype("S3")), {}, E),
        ("HDF5 with a 5-D dataset", lambda: write_h5("5d.h5", data=cube[None]), {}, E),
        ("npy with object dtype", lambda: write_npy("obj.npy", cube.astype(object)), {}, E),
        ("npy 5-D", lambda: write_npy("5d.npy", cube[None]), {}, E),
        ("npy complex", lambda: write_npy("cplx.npy", cube.astype(np.complex64)), {}, E),
        ("npy of 1 frame (1, 8, 8)", lambda: write_npy("one.npy", cube.reshape(16, 8, 8)[:1]), {}, E),
    ]
    for desc, make_path, kw, expect in file_cases:
        def fn(make_path=make_path, kw=kw):
            p = make_path()
            return load_and_fit(p, **kw)

        # A clear message names the file (quotes its path) or the argument.
        add(cat, "io.load_4dstem", desc, fn, expect=expect, shape=(16, 2) if expect == O else None,
            names=("<file>", "path", "dataset", "X"))
    add(cat, "io.load_4dstem", "path=None", lambda: load_4dstem(None), names=("path",))
    add(cat, "io.load_4dstem", "path=123", lambda: load_4dstem(123), names=("path",))
    add(cat, "io.load_4dstem", "path='' (empty string)", lambda: load_4dstem(""), names=("path",))
    add(cat, "io.load_4dstem", "dataset='x' for an .npy file (ignored?)",
        lambda: load_and_fit(write_npy("ds.npy"), dataset="x"), expect="either", names=("dataset",), shape=(16, 2))
    add(cat, "io.load_4dstem", "a valid .npy fitted twice gives the same result",
        lambda: (load_and_fit(write_npy("twice.npy")), load_and_fit(write_npy("twice.npy"))), expect="ok",
        check=equal_pair)

    # ============================================================ persistence
    cat = "persistence"
    import joblib
    from sklearn.base import clone

    def roundtrip(spec, how):
        def fn():
            X = spec.X()
            est = spec.make()
            if spec.name == "TiltRegressor":
                est.fit(X, tilt_data()[1])
                out = est.predict
            else:
                est.fit(X)
                out = est.transform
            before = out(X)
            if how == "pickle":
                est2 = pickle.loads(pickle.dumps(est))
            else:
                buf = _io.BytesIO()
                joblib.dump(est, buf)
                buf.seek(0)
                est2 = joblib.load(buf)
            after = (est2.predict if spec.name == "TiltRegressor" else est2.transform)(X)
            return before, after

        return fn

    for spec in SPECS.values():
        for how in ("pickle", "joblib"):
            add(cat, spec.name, f"{how} round trip of a fitted estimator gives identical output", roundtrip(spec, how),
                expect="ok", check=equal_pair)

        def clone_unfitted(spec=spec):
            from sklearn.utils.validation import check_is_fitted

            est = spec.make()
            c = clone(est)
            same = repr(c.get_params()) == repr(est.get_params())
            try:
                check_is_fitted(c)
                fitted = True
            except Exception:
                fitted = False
            stateless = not est.__sklearn_tags__().requires_fit
            return {"params differ": not same, "clone reports fitted": fitted and not stateless}

        add(cat, spec.name, "clone of an unfitted estimator: same params, unfitted", clone_unfitted, expect="ok",
            check=rng_unchanged_like)

        def clone_fitted(spec=spec):
            est = spec.make()
            X = spec.X()
            est.fit(X, tilt_data()[1]) if spec.name == "TiltRegressor" else est.fit(X)
            c = clone(est)
            fitted_attrs = [k for k in vars(c) if k.endswith("_") and not k.startswith("_")]
            return {f"clone keeps fitted attributes {fitted_attrs}": bool(fitted_attrs)}

        add(cat, spec.name, "clone of a fitted estimator drops the fit", clone_fitted, expect="ok",
            check=rng_unchanged_like)

        def before_fit(spec=spec):
            est = spec.make()
            method = est.predict if spec.name == "TiltRegressor" else est.transform
            return method(spec.X())

        stateless = not spec.make().__sklearn_tags__().requires_fit  # AtomPatchExtractor: nothing to learn
        add(cat, spec.name, "transform/predict before fit", before_fit, names=(spec.name, "fit"),
            expect="either" if stateless else "error", shape=spec.shape(spec.X()))

    def pickled_methods():
        m = fitted_rvae()
        m2 = pickle.loads(pickle.dumps(m))
        X = R()
        a1, s1 = m.transform_pose(X)
        a2, s2 = m2.transform_pose(X)
        return np.c_[a1, s1, m.inverse_transform(m.transform(X))], np.c_[a2, s2, m2.inverse_transform(m2.transform(X))]

    add(cat, "RotationInvariantVAE", "pickle round trip: transform_pose and inverse_transform identical",
        pickled_methods, expect="ok", check=equal_pair)

    def pickled_classes():
        m = rvae_est(n_classes=2).fit(R())
        m2 = pickle.loads(pickle.dumps(m))
        return m.predict_proba(R()), m2.predict_proba(R())

    add(cat, "RotationInvariantVAE", "pickle round trip with n_classes: predict_proba identical", pickled_classes,
        expect="ok", check=equal_pair)

    def pickled_com_maps():
        m = fitted_com()
        m2 = pickle.loads(pickle.dumps(m))
        return m.phase(X16()), m2.phase(X16())

    add(cat, "COMTransformer", "pickle round trip: phase map identical", pickled_com_maps, expect="ok",
        check=equal_pair)

    def set_params_roundtrip():
        est = rvae_est()
        est.set_params(**est.get_params())
        return rv_spec.run(est, R(), R()), rv_spec.run(rvae_est(), R(), R())

    add(cat, "RotationInvariantVAE", "set_params(**get_params()) changes nothing", set_params_roundtrip, expect="ok",
        check=equal_pair)

    # ============================================================ determinism
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

    # ============================================================ scale
    cat = "scale"
    for spec in SPECS.values():
        for factor in (1e6, 1e-6):
            add(cat, spec.name, f"X x {factor:g}: finite output",
                lambda spec=spec, factor=factor: spec.run(spec.make(), spec.X() * factor, spec.X() * factor),
                expect="ok", shape=spec.shape(spec.X()))
        for factor in (1e150, 1e-300):
            add(cat, spec.name, f"X x {factor:g}: finite output or a clear error",
                lambda spec=spec, factor=factor: spec.run(spec.make(), spec.X() * factor, spec.X() * factor),
                expect="either", shape=spec.shape(spec.X()))
        add(cat, spec.name, "float32 X x 1e36 (float32 overflow inside?)",
            lambda spec=spec: spec.run(spec.make(), (spec.X() * 1e36).astype(np.float32),
                                       (spec.X() * 1e36).astype(np.float32)),
            expect="either", shape=spec.shape(spec.X()))
    for name, spec in (("COMTransformer", SPECS["COMTransformer"]), ("DiffractionPreprocessor",
                                                                     SPECS["DiffractionPreprocessor"]),
                       ("RotationInvariantVAE", SPECS["RotationInvariantVAE"])):
        for factor in (1e6, 1e-6):
            add(cat, name, f"X x {factor:g} gives the same output as X (documented scale invariance)",
                lambda spec=spec, factor=factor: (spec.run(spec.make(), spec.X() * factor, spec.X() * factor),
                                                  spec.run(spec.make(), spec.X(), spec.X())),
                expect="ok", check=close_pair(1e-3, 1e-3))
    for factor in (1e150, 1e300):
        add(cat, "DiffractionPreprocessor", f"scaling='power', power=4, X x {factor:g}: finite or a clear error",
            lambda factor=factor: SPECS["DiffractionPreprocessor"].run(
                dp_est(scaling="power", power=4.0), X16() * factor, X16() * factor),
            expect="either", shape=(16, 64))
    for factor in (1e6, 1e-6):
        add(cat, "atoms.find_atoms", f"image x {factor:g}: finite, same number of columns",
            lambda factor=factor: (len(atoms_mod.find_atoms(img() * factor, min_distance=5)),
                                   len(atoms_mod.find_atoms(img(), min_distance=5))), expect="ok",
            check=lambda r: None if r[0] == r[1] else f"found {r[0]} columns, {r[1]} unscaled")
        add(cat, "dpc.integrate_gradient", f"field x {factor:g}: finite",
            lambda factor=factor: dpc.integrate_gradient(f() * factor), expect="ok", shape=(6, 6))
        add(cat, "dpc.fit_rotation", f"field x {factor:g}: finite",
            lambda factor=factor: dpc.fit_rotation(f() * factor), expect="ok", kind=None)
        add(cat, "metrics.knn_outlier_score", f"codes x {factor:g}: finite",
            lambda factor=factor: metrics.knn_outlier_score(codes() * factor), expect="ok", shape=(40,))
        add(cat, "metrics.mahalanobis_outlier_score", f"codes x {factor:g}: finite",
            lambda factor=factor: metrics.mahalanobis_outlier_score(codes() * factor), expect="ok", shape=(40,))
    add(cat, "metrics.mahalanobis_outlier_score", "codes x 1e200: finite or clear error",
        lambda: metrics.mahalanobis_outlier_score(codes() * 1e200, robust=False), expect="either", shape=(40,),
        names=("codes",))
    add(cat, "dpc.integrate_gradient", "field x 1e300: finite or clear error",
        lambda: dpc.integrate_gradient(f() * 1e300), expect="either", shape=(6, 6), names=("field",))
    add(cat, "dpc.direction_colors", "field x 1e300: finite or clear error",
        lambda: dpc.direction_colors(f() * 1e300), expect="either", shape=(6, 6, 3), names=("field",))
    add(cat, "metrics.circular_correlation", "angles x 1e20 (huge angles): finite or clear error",
        lambda: metrics.circular_correlation(a * 1e20, b * 1e20), expect="either", names=("angle_a",), kind=None)
    add(cat, "RotationInvariantVAE.inverse_transform", "Z x 1e6: finite",
        lambda: fitted_rvae().inverse_transform(fitted_rvae().transform(R()) * 1e6), expect="either", shape=(24, 64),
        names=("Z",))

    # ============================================================ calibration
    # Real detectors: a blanked frame, a hot pixel, a frame whose total is
    # near zero or negative must not move the calibration of the others
    # (issue 23's first reproducer), and their COM output must be finite.
    cat = "calibration"

    def gradient_scan(scan=(12, 12), k=16, rotation_deg=30.0):
        """A disk deflected by the gradient of Gaussian 'atoms', turned by the scan rotation: a calibratable scan."""
        sy, sx = scan
        yy, xx = np.mgrid[:sy, :sx].astype(float)
        phi = sum(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.5**2))
                  for cy in (3, 9) for cx in (3, 9))
        gy, gx = np.gradient(phi)
        t = np.deg2rad(rotation_deg)
        dx = 2 * (np.cos(t) * gx + np.sin(t) * gy)
        dy = 2 * (-np.sin(t) * gx + np.cos(t) * gy)
        ky, kx = np.mgrid[:k, :k].astype(float)
        c = (k - 1) / 2
        disk = np.exp(-((ky[None, None] - c - dy[..., None, None]) ** 2
                        + (kx[None, None] - c - dx[..., None, None]) ** 2) / (2 * 2.0**2))
        return np.round(100 * disk + 1)

    def calibration_vs_clean(make_bad):
        def run():
            X = gradient_scan()
            clean = com_est(scan_shape=None).fit(X)
            bad = make_bad(X.copy())
            est = com_est(scan_shape=None).fit(bad)
            return clean, est, est.transform(bad)

        def check(result):
            clean, est, out = result
            if not np.all(np.isfinite(out)):
                return "non-finite COM output"
            moved = np.max(np.abs(est.center_ - clean.center_))
            if moved > 0.05:
                return f"centre moved by {moved:.3f} px from the clean scan's"
            if abs(est.rotation_deg_ - clean.rotation_deg_) > 1.0 or est.flip_ != clean.flip_:
                return f"rotation/flip moved: {est.rotation_deg_:.2f}/{est.flip_} vs {clean.rotation_deg_:.2f}/{clean.flip_}"
            if len(est.excluded_frames_) == 0:
                return "the bad frame was not reported in excluded_frames_"
            return None

        return run, check

    def reproducer():
        a = np.ones((4, 4, 8, 8))
        a[..., 3:5, 3:5] = 20
        a[0, 0] = -0.2
        a[0, 0, 0, 7] = 13.3
        est = com_est(scan_shape=None).fit(a)
        return est, est.transform(a)

    def reproducer_check(result):
        est, out = result
        if not np.allclose(est.center_, [3.5, 3.5]) or est.rotation_deg_ != 0.0:
            return f"centre {est.center_} / rotation {est.rotation_deg_} instead of (3.5, 3.5) / 0"
        if not np.allclose(out, 0.0):
            return f"other frames' COM moved (max {np.abs(out).max():.3g} px)"
        return None

    add(cat, "COMTransformer", "issue 23 reproducer: one frame with near-zero total (negative pixels, one bright)",
        reproducer, expect="ok", check=reproducer_check)

    def blank(X):
        X[2, 5] = 0.0
        return X

    def dark_counts(X):
        X[6, 1] = 0.0
        X[6, 1, 3, 4] = 1.0
        return X

    def negative_total(X):
        X[3, 3] = -1.0
        return X

    def hot_pixel(X):
        X[4, 6, 0, 15] += 5e4
        return X

    def hot_and_blank(X):
        return hot_pixel(dark_counts(X))

    for desc, make_bad in [("a blanked frame (all zero)", blank), ("a blanked frame (one dark count)", dark_counts),
                           ("a frame with negative total", negative_total),
                           ("a hot pixel at the detector corner", hot_pixel),
                           ("a hot pixel and a blanked frame", hot_and_blank)]:
        run, check = calibration_vs_clean(make_bad)
        add(cat, "COMTransformer", f"{desc}: calibration as on the clean scan, finite COM", run,
            expect="ok", check=check)

    # ============================================================ training failure
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
    return tmp


def rng_unchanged_like(result):
    bad = [k for k, v in result.items() if v]
    return "; ".join(bad) if bad else None


# --------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="write every case to this CSV file")
    parser.add_argument("--category", default=None,
                        help="comma-separated categories to run (default: all): " + ", ".join(CATEGORIES))
    parser.add_argument("--target", default=None, help="only targets containing this substring")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per case before it counts as a hang")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--quiet", action="store_true", help="no per-case progress on stderr")
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="address space allowed on top of the start-up size (Linux), so that a case that asks "
                             "for tens of GB gets a MemoryError instead of the machine's OOM killer; 0: no cap")
    args = parser.parse_args(argv)

    import torch

    if args.memory_gb > 0:
        _cap_memory(args.memory_gb)

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    tmp = build_cases()
    cases = CASES
    if args.category:
        wanted = {c.strip() for c in args.category.split(",")}
        unknown = wanted - set(CATEGORIES)
        if unknown:
            parser.error(f"unknown categories {sorted(unknown)}; choose from {CATEGORIES}")
        cases = [c for c in cases if c.category in wanted]
    if args.target:
        cases = [c for c in cases if args.target in c.target]
    if args.list:
        for c in cases:
            print(f"{c.category:16s} {c.target:45s} [{c.expect}] {c.desc}")
        print(f"{len(cases)} cases")
        return 0

    rows = []
    fh = open(args.out, "w", newline="") if args.out else None
    fields = ["category", "target", "case", "expected", "outcome", "exc_type", "message", "frame", "detail",
              "warning", "seconds"]
    writer = csv.DictWriter(fh, fieldnames=fields) if fh else None
    if writer:
        writer.writeheader()
    t0 = time.perf_counter()
    try:
        for i, case in enumerate(cases, 1):
            row = run_case(case, args.timeout)
            rows.append(row)
            if writer:
                writer.writerow(row)
                fh.flush()
            if not args.quiet:
                print(f"[{i}/{len(cases)}] {row['outcome']:14s} {case.category:16s} {case.target}: {case.desc}"
                      + (f"  <- {row['exc_type']}: {row['message'][:100]}" if row["exc_type"] else "")
                      + (f"  [{row['detail'][:100]}]" if row["detail"] and row["outcome"] != "clear error" else ""),
                      file=sys.stderr, flush=True)
    finally:
        if fh:
            fh.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(report(rows, time.perf_counter() - t0))
    return 0


def _cap_memory(gb):
    try:
        import resource

        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = vm + int(gb * 2**30)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, StopIteration, ValueError):
        pass


def report(rows, seconds):
    cats = [c for c in CATEGORIES if any(r["category"] == c for r in rows)]
    outcomes = [o for o in OUTCOMES if any(r["outcome"] == o for r in rows) or o in OUTCOMES[:6]]
    counts = Counter((r["category"], r["outcome"]) for r in rows)
    lines = [f"Reliability sweep: {len(rows)} cases in {seconds:.0f} s "
             f"(sklearn_rvae {getattr(_pkg(), '__version__', '?')})", ""]
    lines.append("| category | cases | " + " | ".join(outcomes) + " |")
    lines.append("|---|---:|" + "---:|" * len(outcomes))
    for c in cats:
        n = sum(counts[(c, o)] for o in OUTCOMES)
        lines.append(f"| {c} | {n} | " + " | ".join(str(counts[(c, o)]) for o in outcomes) + " |")
    lines.append(f"| **all** | {len(rows)} | " + " | ".join(
        str(sum(counts[(c, o)] for c in cats)) for o in outcomes) + " |")
    bad = [r for r in rows if r["outcome"] not in ("ok", "clear error")]
    if bad:
        lines += ["", "Cases that are neither ok nor a clear error:", "",
                  "| category | target | case | outcome | exception | message / detail |", "|---|---|---|---|---|---|"]
        for r in bad:
            msg = (r["message"] + (" -- " if r["message"] and r["detail"] else "") + r["detail"]).replace("|", "\\|")
            if r["warning"]:
                msg += f" (warning: {r['warning']})".replace("|", "\\|")
            lines.append(f"| {r['category']} | {r['target']} | {r['case']} | {r['outcome']} | {r['exc_type']} | "
                         f"{msg[:300]} |")
    rejected = [r for r in rows if r["expected"] == "ok" and r["outcome"] == "clear error"]
    if rejected:
        lines += ["", "Valid inputs rejected with a clear error:", ""]
        for r in rejected:
            lines.append(f"- {r['target']}: {r['case']} -- {r['exc_type']}: {r['message'][:200]}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
