"""The input contract of the public API, property-based (hypothesis; issue 23).

Whatever a user passes -- any dtype, any shape (empty, 1-D, wrong ndim),
values with NaN / inf / huge / tiny numbers, parameters at and beyond their
bounds -- every public estimator and function either

* returns a finite result of the documented shape and dtype, or
* raises a ``ValueError`` / ``TypeError`` from this package (or from
  scikit-learn's parameter / data validation, which names the argument),
  never from inside numpy, scipy, torch or h5py, and never anything else.

The number of examples is bounded (25 per test, ``CONTRACT_EXAMPLES`` to
change it) and every fit is tiny, so the file runs in well under a minute.
``benchmarks/reliability_sweep.py`` is the hand-written counterpart.
"""

import functools
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sklearn_rvae
from sklearn_rvae import (
    AtomPatchExtractor,
    COMTransformer,
    DiffractionPreprocessor,
    RotationInvariantVAE,
    TiltRegressor,
)
from sklearn_rvae import dpc, metrics
from sklearn_rvae.atoms import find_atoms
from sklearn_rvae.datasets import make_rotated_shapes, make_stem_image

CONTRACT = settings(
    max_examples=int(os.environ.get("CONTRACT_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

PACKAGE_DIR = os.path.dirname(os.path.abspath(sklearn_rvae.__file__))
SKLEARN_VALIDATION = ("sklearn/utils/_param_validation.py", "sklearn/utils/validation.py")


@pytest.fixture(autouse=True, scope="module")
def _bounded_memory():
    """Cap the address space while these tests run (Linux), so that an input
    that makes the package ask for tens of GB fails as a MemoryError -- a
    contract failure, reported -- instead of the machine killing the run."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    except (ImportError, OSError, StopIteration, ValueError):
        yield
        return
    cap = vm + 8 * 2**30
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# ----------------------------------------------------------------------------- the contract
def assert_clear_error(excinfo):
    """A ValueError / TypeError whose raising frame is this package's or scikit-learn's validation.

    ``excinfo`` is a ``pytest.ExceptionInfo`` (or the exception itself). The
    raising frame is the innermost frame of the exception the user sees
    (the last one of its traceback), not of its ``__cause__``.
    """
    exc = getattr(excinfo, "value", excinfo)
    tb = exc.__traceback__
    assert tb is not None, f"{type(exc).__name__} without a traceback: {exc}"
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = os.path.abspath(tb.tb_frame.f_code.co_filename).replace("\\", "/")
    where = f"{filename}:{tb.tb_lineno}"
    summary = f"{type(exc).__name__}: {str(exc)[:300]} (raised at {where})"
    assert isinstance(exc, (ValueError, TypeError)), f"not a ValueError/TypeError: {summary}"
    # numpy's own subclasses (UFuncTypeError, AxisError, ...) come from C code
    # called on a package line: the frame is the package's, the message numpy's.
    module = type(exc).__module__.split(".")[0]
    assert module in ("builtins", "sklearn_rvae", "sklearn"), f"a {type(exc).__module__} exception: {summary}"
    in_package = filename.startswith(PACKAGE_DIR.replace("\\", "/") + "/")
    in_validation = any(filename.endswith(s) for s in SKLEARN_VALIDATION)
    assert in_package or in_validation, f"raised from inside a dependency, not by sklearn_rvae: {summary}"


def outcome(fn):
    """``fn()``'s result, or None after asserting that what it raised is a clear error."""
    try:
        result = fn()
    except Exception as exc:  # every exception is checked: only clear ones pass
        event(f"raised {type(exc).__name__}")
        assert_clear_error(pytest.ExceptionInfo.from_current())
        return None
    event("returned a result")
    return result


def assert_finite(result, shape=None, kind="f", what="result"):
    arr = np.asarray(result)
    assert arr.dtype != object, f"{what} has dtype object"
    if shape is not None:
        assert arr.ndim == len(shape) and all(s is None or s == g for s, g in zip(shape, arr.shape)), (
            f"{what} has shape {arr.shape}, documented {shape}"
        )
    if kind is not None:
        assert arr.dtype.kind in kind, f"{what} has dtype {arr.dtype}, documented kind {kind!r}"
    if arr.dtype.kind in "fc":
        n_bad = int(arr.size - np.isfinite(arr).sum())
        assert n_bad == 0, f"{what} has {n_bad} of {arr.size} values NaN or inf (no error was raised)"


# ----------------------------------------------------------------------------- strategies
DTYPES = [np.float64, np.float32, np.float16, np.int16, np.uint16, np.int64, np.uint8, np.bool_]


def values(dtype, dirty):
    """Ordinary intensities (0..100); ``dirty``: anything the dtype holds, NaN, +-inf, huge, tiny, subnormal."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        return hnp.from_dtype(dtype) if dirty else st.integers(0, 100)
    width = 8 * dtype.itemsize
    clean = st.floats(0, 100, width=width)
    if not dirty:
        return clean
    return st.one_of(clean, hnp.from_dtype(dtype, allow_nan=True, allow_infinity=True, allow_subnormal=True))


@st.composite
def arrays(draw, good_shapes, max_dims=4, max_side=9):
    """An array of any dtype in DTYPES, half the time of a valid shape (else any: 0-sized, 0-D, wrong ndim),
    half the time with clean values (else with NaN, inf, huge, tiny, negative ones mixed in)."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.one_of(
        st.sampled_from(good_shapes),
        hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side),
    ))
    return draw(hnp.arrays(dtype, shape, elements=values(dtype, dirty=draw(st.booleans()))))


# Any scalar a user might pass for a number: wrong types, bools, NaN, inf, huge, tiny, 0, negatives.
wild = st.one_of(
    st.none(), st.booleans(), st.text(max_size=3), st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
)
# The same for counts and sizes, without huge finite numbers in between: a
# size of 1e300 must be refused, but one of 1e9 is a valid request for GBs.
wild_count = st.one_of(
    st.none(), st.booleans(), st.text(max_size=3), st.integers(-3, 3),
    st.sampled_from([math.nan, math.inf, -math.inf, -1.5, 0.0, 2.5, 1e-300, 1e300]),
)


@st.composite
def parameters(draw, **valid):
    """Keyword arguments: each from its valid strategy, except (in most examples) one or two,
    which take a wild value (``wild_count`` for names in ``COUNTS``)."""
    names = sorted(valid)
    broken = draw(st.lists(st.sampled_from(names), max_size=2, unique=True)) if names else []
    out = {}
    for name in names:
        if name in broken:
            out[name] = draw(wild_count if name in COUNTS else wild)
        else:
            out[name] = draw(valid[name])
    return out


# Parameters that size arrays or loops: only small or absurd values (see wild_count).
COUNTS = {"n_components", "batch_size", "n_rotation_bins", "rotation_symmetry", "window_size", "chunk_size",
          "crop", "binning", "n_samples", "size", "n_classes", "n_neighbors", "n_draws", "capacity_epochs",
          "kernel_size", "fc_units"}


def frames(n=16, k=8):
    yy, xx = np.mgrid[:k, :k]
    i = np.arange(n)[:, None, None]
    cy, cx = (k - 1) / 2 + 0.4 * np.sin(i), (k - 1) / 2 + 0.4 * np.cos(2 * i)
    return np.round(100 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 4.5) + 1).reshape(n, k * k)


def lattice_image(size=24, spacing=8):
    rr, cc = np.mgrid[:size, :size]
    img = np.full((size, size), 5.0)
    for r in range(4, size, spacing):
        for c in range(4, size, spacing):
            img += 90 * np.exp(-((rr - r - 0.3) ** 2 + (cc - c + 0.2) ** 2) / 2.9)
    return np.random.default_rng(0).poisson(img).astype(float)


def blobs(n=12, k=8, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-np.pi, np.pi, n)[:, None, None]
    yy, xx = np.mgrid[:k, :k] - (k - 1) / 2
    u, v = xx * np.cos(a) + yy * np.sin(a), -xx * np.sin(a) + yy * np.cos(a)
    return np.exp(-(u**2 / 12.5 + v**2 / 1.6)).reshape(n, -1)


def n_positions(X):
    X = np.asarray(X)
    return int(np.prod(X.shape[:-1] if X.ndim == 2 else X.shape[:-2]))


# ----------------------------------------------------------------------------- COMTransformer
@CONTRACT
@given(X=arrays([(16, 64), (16, 8, 8), (4, 4, 8, 8), (2, 9)], max_dims=5))
@example(X=frames() * np.nan)
@example(X=np.where(np.arange(64) == 5, np.inf, frames()))
@example(X=np.empty((0, 64)))
@example(X=frames()[0])
@example(X=frames().astype(np.uint16))
@example(X=frames().astype(np.float16))
@example(X=frames() * 1e300)
@example(X=frames() * 1e-300)
@example(X=frames() - 50.0)  # negative intensities
def test_com_transformer(X):
    com = COMTransformer(device="cpu")
    out = outcome(lambda: com.fit(X).transform(X))
    if out is not None:
        assert_finite(out, (n_positions(X), 2))


@CONTRACT
@given(kw=parameters(
    threshold=st.one_of(st.none(), st.floats(-10, 200)), rotation_deg=st.one_of(st.none(), st.floats(-720, 720)),
    mask=st.one_of(st.none(), st.floats(0.5, 20), st.tuples(st.floats(0, 2), st.floats(2.5, 20))),
    center=st.one_of(st.none(), st.tuples(st.floats(0, 7), st.floats(0, 7))), flip=st.sampled_from([None, True, False]),
    chunk_size=st.one_of(st.just("auto"), st.integers(1, 40)), descan=st.booleans(),
    mrad_per_px=st.one_of(st.none(), st.floats(0.01, 5)), energy=st.one_of(st.none(), st.floats(1e3, 1e6)),
    scan_step=st.one_of(st.none(), st.floats(0.01, 5)),
))
@example(kw={"threshold": 1e300})
@example(kw={"rotation_deg": math.nan})
@example(kw={"threshold": math.nan})
@example(kw={"center": (math.nan, 3.5)})
@example(kw={"mask": (1.0, math.inf)})
def test_com_transformer_parameters(kw):
    X = frames()
    com = COMTransformer(scan_shape=(4, 4), device="cpu", **kw)
    out = outcome(lambda: com.fit(X).transform(X))
    if out is not None:
        assert_finite(out, (16, 2))
        for name, fn in (("phase", com.phase), ("field", com.field), ("charge_density", com.charge_density),
                         ("curl", com.curl)):
            res = outcome(lambda: fn(X))
            if res is not None:
                assert_finite(res, (4, 4) if name != "field" else (4, 4, 2), what=name)


# ----------------------------------------------------------------------------- DiffractionPreprocessor
@CONTRACT
@given(X=arrays([(6, 64), (1, 64), (6, 60)], max_dims=3), kw=parameters(
    crop=st.one_of(st.none(), st.integers(1, 8)), binning=st.integers(1, 4), power=st.floats(0.01, 4),
    blur=st.floats(0, 3), center=st.sampled_from(["mean", "each", "none"]), subtract_mean=st.booleans(),
    scaling=st.sampled_from(["none", "log", "power"]), normalize=st.sampled_from(["none", "max", "sum", "std"]),
))
@example(X=np.full((6, 64), np.nan), kw={})
@example(X=frames()[:6] * 1e300, kw={"subtract_mean": True})
@example(X=frames()[:6] * 1e300, kw={"scaling": "power", "power": 4.0})
@example(X=frames()[:6].astype(str), kw={})
@example(X=frames()[:6], kw={"blur": 1e9})  # asks for a kernel of 8e9 pixels
def test_diffraction_preprocessor(X, kw):
    pre = DiffractionPreprocessor(**kw)
    out = outcome(lambda: pre.fit(X).transform(X))
    if out is not None:
        assert_finite(out, (len(X), int(np.prod(pre.output_shape_))))


# ----------------------------------------------------------------------------- atoms
@CONTRACT
@given(image=arrays([(24, 24), (2, 24, 24), (16, 30)], max_dims=4, max_side=12), kw=parameters(
    min_distance=st.floats(1, 12), threshold=st.one_of(st.none(), st.floats(-10, 200)), exclude_border=st.floats(0, 6),
    invert=st.booleans(), refine=st.booleans(),
))
@example(image=lattice_image(), kw={"min_distance": 5.0})
@example(image=np.where(np.eye(24, dtype=bool), np.nan, lattice_image()), kw={"min_distance": 5.0})
@example(image=lattice_image() * 1e-300, kw={"min_distance": 5.0})
@example(image=lattice_image() * 1e300, kw={"min_distance": 5.0})
@example(image=np.zeros((24, 24)), kw={"min_distance": 5.0})
@example(image=np.where(np.arange(480).reshape(16, 30) == 31, -1.0, 0.0), kw={"min_distance": 1.0})
def test_find_atoms(image, kw):
    out = outcome(lambda: find_atoms(image, **kw))
    if out is not None:
        assert_finite(out, (None, 2))
        assert out.dtype == np.float64


@CONTRACT
@given(X=arrays([(24, 24), (2, 24, 24)], max_dims=4, max_side=12), kw=parameters(
    window_size=st.integers(3, 12), min_distance=st.floats(1, 10), exclude_border=st.one_of(st.booleans(), st.floats(0, 6)),
    mask=st.sampled_from([None, "disk"]), standardize=st.booleans(), threshold=st.one_of(st.none(),
                                                                                          st.floats(-10, 200)),
))
@example(X=lattice_image(), kw={"window_size": 9, "min_distance": 5.0, "mask": "disk", "standardize": True})
@example(X=np.full((24, 24), 3.0), kw={"window_size": 9, "min_distance": 5.0, "standardize": True})
def test_atom_patch_extractor(X, kw):
    kw = {"window_size": 9, "min_distance": 5.0, **kw}
    ape = AtomPatchExtractor(**kw)
    out = outcome(lambda: ape.fit(X).transform(X))
    if out is not None:
        assert_finite(out, (None, kw["window_size"] ** 2))
        assert out.dtype == np.float64


# ----------------------------------------------------------------------------- RotationInvariantVAE
def _rvae(**kw):
    return RotationInvariantVAE(**{"n_components": 2, "hidden_layer_sizes": (8,), "batch_size": 8, "max_epochs": 1,
                                   "device": "cpu", "random_state": 0, **kw})


@CONTRACT
@given(X=arrays([(12, 64), (2, 16), (12, 60)], max_dims=3, max_side=8))
@example(X=np.where(np.arange(64) == 3, np.nan, blobs()))
@example(X=blobs() * 1e300)
@example(X=blobs() * 1e-300)
@example(X=blobs().astype(np.float16))
@example(X=(blobs() * 100).astype(np.uint16))
@example(X=blobs()[:1])
@example(X=np.zeros((12, 0)))
def test_rvae_fit_transform(X):
    model = _rvae()
    out = outcome(lambda: model.fit(X).transform(X))
    if out is not None:
        assert_finite(out, (len(X), 2))
        angle, shift = model.transform_pose(X)
        assert_finite(angle, (len(X),), what="angle")
        assert_finite(shift, (len(X), 2), what="shift")


@CONTRACT
@given(kw=parameters(
    n_components=st.integers(1, 3), lr=st.floats(1e-4, 1e-1), beta=st.floats(0, 4),
    angle_prior=st.one_of(st.just("uniform"), st.floats(0.5, 180)), translation_prior=st.floats(0.1, 5),
    noise_scale=st.one_of(st.none(), st.floats(1e-3, 10)), capacity=st.one_of(st.none(), st.tuples(
        st.floats(0, 5), st.integers(1, 3), st.floats(0.1, 2))), rotation_symmetry=st.integers(1, 6),
    n_rotation_bins=st.integers(2, 6), decoder=st.sampled_from(["conv", "spatial"]), batch_size=st.integers(1, 20),
    translation=st.booleans(), activation=st.sampled_from(["tanh", "relu", "silu", "elu"]),
    n_classes=st.one_of(st.none(), st.integers(2, 3)),
))
@example(kw={"lr": 10.0})
@example(kw={"lr": 1e300})
@example(kw={"beta": 1e300})
@example(kw={"noise_scale": 1e-300})
def test_rvae_parameters(kw):
    X = blobs()
    model = _rvae(max_epochs=2, **kw)
    out = outcome(lambda: model.fit(X).transform(X))
    if out is not None:
        assert_finite(out, (len(X), model.n_components))
        assert_finite(model.score_samples(X), (len(X),), what="score_samples")
        if model.n_classes is not None:
            assert_finite(model.predict_proba(X), (len(X), model.n_classes), what="predict_proba")


@functools.lru_cache(maxsize=1)
def _fitted_rvae():
    return _rvae().fit(blobs())


@CONTRACT
@given(Z=arrays([(3, 2), (1, 2), (3, 3)], max_dims=3, max_side=4), kw=parameters(
    angle=st.one_of(st.none(), st.floats(-720, 720)),
    shift=st.one_of(st.none(), st.tuples(st.floats(-3, 3), st.floats(-3, 3))),
))
@example(Z=np.array([[np.nan, 0.0]]), kw={})
@example(Z=np.zeros((3, 2)), kw={"angle": math.inf})
@example(Z=np.zeros((3, 2)), kw={"shift": (math.inf, 0.0)})
@example(Z=np.full((3, 2), 1e300), kw={})
def test_rvae_inverse_transform(Z, kw):
    model = _fitted_rvae()
    out = outcome(lambda: model.inverse_transform(Z, **kw))
    if out is not None:
        assert_finite(out, (len(np.atleast_2d(Z)), 64))


@CONTRACT
@given(kw=parameters(n_samples=st.integers(0, 5), random_state=st.one_of(st.none(), st.integers(0, 10)),
                     upright=st.booleans()),
       n_draws=st.one_of(st.integers(1, 4), wild_count))
@example(kw={"n_samples": -1}, n_draws=4)
@example(kw={"n_samples": 2, "random_state": -1}, n_draws=4)
@example(kw={"n_samples": 2}, n_draws=0)
@example(kw={"n_samples": True}, n_draws=4)
def test_rvae_sample_and_score(kw, n_draws):
    model = _fitted_rvae()
    out = outcome(lambda: model.sample(**{"n_samples": 1, **kw}))
    if out is not None:
        assert_finite(out, (kw.get("n_samples", 1), 64))
    scores = outcome(lambda: model.score_samples(blobs(), n_draws=n_draws))
    if scores is not None:
        assert_finite(scores, (12,))


# ----------------------------------------------------------------------------- TiltRegressor
@st.composite
def tilt_data(draw):
    X = draw(arrays([(8, 64), (2, 64)], max_dims=3, max_side=8))
    n = len(X) if np.ndim(X) else 0
    y = draw(st.one_of(
        hnp.arrays(np.float64, (n, 3), elements=st.floats(-10, 10)),
        arrays([(n, 3), (n,), (n, 2)], max_dims=3, max_side=8),
    ))
    return X, y


@CONTRACT
@given(data=tilt_data(), kw=parameters(
    lr=st.floats(1e-4, 1e-1), scan_jitter=st.floats(0, 2),
    augment=st.sampled_from([False, True, ("noise",), ("affine", "blur")]), batch_size=st.integers(1, 16),
    zone_axis=st.sampled_from([None, "110"]), scan_correction=st.booleans(),
))
@example(data=(np.full((8, 64), 5.0), np.zeros((8, 3))), kw={})
@example(data=(np.random.default_rng(0).random((8, 64)), np.full((8, 3), np.nan)), kw={})
@example(data=(np.random.default_rng(0).random((8, 64)) * 1e300, np.zeros((8, 3))), kw={})
@example(data=(np.random.default_rng(0).random((8, 64)), np.random.default_rng(1).normal(size=(8, 3))),
         kw={"lr": 1e4})
def test_tilt_regressor(data, kw):
    X, y = data
    reg = TiltRegressor(**{"network_shape": None, "conv_layers": (4, 4, "pool"), "fc_units": 8, "max_epochs": 2,
                           "zone_axis": None, "scan_correction": False, "pair_decision": "network",
                           "augment": False, "device": "cpu", "random_state": 0, **kw})
    out = outcome(lambda: reg.fit(X, y).predict(X))
    if out is not None:
        # One output per column of y; a 1-D y gives 1-D predictions.
        y = np.asarray(y)
        assert_finite(out, (len(X),) if y.ndim == 1 or y.shape[1] == 1 else (len(X), y.shape[1]))


# ----------------------------------------------------------------------------- dpc
@CONTRACT
@given(field=arrays([(6, 6, 2), (2, 2, 2), (3, 7, 2)], max_dims=4, max_side=6), kw=parameters(
    spacing=st.floats(1e-3, 10), padding=st.sampled_from(["mirror", "zero", "none"]), highpass=st.floats(0, 1)))
@example(field=np.full((6, 6, 2), np.nan), kw={})
@example(field=np.full((6, 6, 2), 1e300), kw={})
@example(field=np.ones((6, 6, 2)), kw={"spacing": 1e-300})
@example(field=np.ones((6, 6, 2)), kw={"highpass": 1e300})
def test_dpc_field_functions(field, kw):
    kw = {"spacing": 1.0, "padding": "mirror", "highpass": 0.0, **kw}
    shape = np.shape(field)[:2]
    for fn in (dpc.divergence, dpc.curl):
        out = outcome(lambda: fn(field, spacing=kw["spacing"]))
        if out is not None:
            assert_finite(out, shape, what=fn.__name__)
    out = outcome(lambda: dpc.integrate_gradient(field, **kw))
    if out is not None:
        assert_finite(out, shape, what="integrate_gradient")
    out = outcome(lambda: dpc.fit_rotation(field))
    if out is not None:
        deg, flip, fraction = out
        assert math.isfinite(deg) and -180 <= deg < 180 and isinstance(flip, (bool, np.bool_))
        assert 0 <= fraction <= 1
    out = outcome(lambda: dpc.direction_colors(field))
    if out is not None:
        assert_finite(out, np.shape(field)[:-1] + (3,), what="direction_colors")
        assert out.min() >= 0 and out.max() <= 1


@CONTRACT
@given(energy=st.one_of(wild, st.floats(1, 1e7)), rotation_deg=st.one_of(wild, st.floats(-720, 720)),
       flip=st.one_of(st.booleans(), wild), vectors=arrays([(5, 2), (2,), (2, 3, 2)], max_dims=3, max_side=4))
@example(energy=math.nan, rotation_deg=math.nan, flip=False, vectors=np.zeros((5, 2)))
@example(energy=math.inf, rotation_deg=math.inf, flip=False, vectors=np.full((5, 2), np.inf))
@example(energy=1e200, rotation_deg=0.0, flip=False, vectors=np.zeros((5, 2)))
def test_dpc_scalar_functions(energy, rotation_deg, flip, vectors):
    for fn in (dpc.electron_wavelength, dpc.interaction_voltage):
        out = outcome(lambda: fn(energy))
        if out is not None:
            assert isinstance(out, float) and math.isfinite(out) and out > 0, f"{fn.__name__}({energy!r}) = {out!r}"
    out = outcome(lambda: dpc.rotation_matrix(rotation_deg, flip))
    if out is not None:
        assert_finite(out, (2, 2), what="rotation_matrix")
    out = outcome(lambda: dpc.apply_rotation(vectors, rotation_deg, flip))
    if out is not None:
        assert_finite(out, np.shape(vectors), what="apply_rotation")


@CONTRACT
@given(values=arrays([(5, 6, 2), (4, 4, 1)], max_dims=4, max_side=6),
       mask=st.one_of(st.none(), hnp.arrays(np.bool_, st.sampled_from([(5, 6), (4, 4), (2, 2)]))))
@example(values=np.full((5, 6, 2), np.nan), mask=None)
@example(values=np.ones((5, 6, 2)), mask=np.zeros((5, 6), bool))
def test_dpc_plane(values, mask):
    coef = outcome(lambda: dpc.fit_plane(values, mask=mask))
    if coef is not None:
        c = np.shape(values)[-1]
        assert_finite(coef, (c, 3), what="fit_plane")
        assert_finite(dpc.evaluate_plane(coef, np.shape(values)[:2]), np.shape(values)[:2] + (c,))


# ----------------------------------------------------------------------------- metrics
@CONTRACT
@given(a=arrays([(20,), (2,)], max_dims=2, max_side=20), b=arrays([(20,), (2,)], max_dims=2, max_side=20),
       period=st.one_of(st.floats(1, 360), wild.filter(
           lambda v: not (isinstance(v, float) and math.isfinite(v) and abs(v) > 1e4))))
@example(a=np.arange(20.0), b=np.where(np.arange(20) == 3, np.nan, np.arange(20.0)), period=360.0)
@example(a=np.full(5, 10.0), b=np.arange(5.0), period=360.0)
@example(a=np.arange(20.0), b=np.arange(20.0), period=0.01)
def test_metrics_angles(a, b, period):
    # A period of more than 1e4 degrees is left out: the offset search takes a
    # grid of period * 10 points per class (memory).
    r = outcome(lambda: metrics.circular_correlation(a, b))
    if r is not None:
        assert isinstance(r, float) and math.isfinite(r) and -1 - 1e-9 <= r <= 1 + 1e-9, r
    labels = np.arange(np.size(a)) % 2
    res = outcome(lambda: metrics.angle_residuals_by_class(a, b, labels, period=period))
    if res is not None:
        assert_finite(res, (np.size(a),), what="angle_residuals_by_class")
        assert np.all(np.abs(res) <= period / 2 + 1e-9)


@CONTRACT
@given(codes=arrays([(30, 2), (30,), (3, 2)], max_dims=3, max_side=30),
       n_neighbors=st.one_of(st.integers(1, 8), wild_count), robust=st.booleans())
@example(codes=np.full((30, 2), np.nan), n_neighbors=5, robust=True)
@example(codes=np.ones((30, 2)), n_neighbors=5, robust=True)
@example(codes=np.random.default_rng(0).normal(size=(30, 2)) * 1e200, n_neighbors=5, robust=False)
@example(codes=np.random.default_rng(0).normal(size=(1, 2)), n_neighbors=1, robust=True)
def test_metrics_codes(codes, n_neighbors, robust):
    n = len(codes) if np.ndim(codes) else 0
    out = outcome(lambda: metrics.knn_outlier_score(codes, n_neighbors=n_neighbors))
    if out is not None:
        assert_finite(out, (n,), what="knn_outlier_score")
    out = outcome(lambda: metrics.mahalanobis_outlier_score(codes, robust=robust))
    if out is not None:
        assert_finite(out, (n,), what="mahalanobis_outlier_score")


@CONTRACT
@given(scores=arrays([(20,)], max_dims=2, max_side=20), distance=arrays([(20,)], max_dims=2, max_side=20),
       radius=st.one_of(st.floats(0, 10), wild))
@example(scores=np.arange(20.0), distance=np.arange(20.0), radius=math.nan)
@example(scores=np.where(np.arange(20) == 2, np.nan, np.arange(20.0)), distance=np.arange(20.0), radius=5.0)
def test_defect_detection_auc(scores, distance, radius):
    out = outcome(lambda: metrics.defect_detection_auc(scores, distance, radius=radius))
    if out is not None:
        assert isinstance(out, float) and 0 <= out <= 1, out


# ----------------------------------------------------------------------------- datasets
@CONTRACT
@given(kw=parameters(n_samples=st.integers(0, 6), size=st.integers(8, 12), n_classes=st.integers(1, 6),
                     max_angle=st.floats(0, 180), max_shift=st.floats(0, 3), noise=st.floats(0, 1),
                     random_state=st.one_of(st.none(), st.integers(0, 10))))
@example(kw={"max_angle": math.nan})
@example(kw={"max_shift": math.inf})
@example(kw={"noise": math.nan})
def test_make_rotated_shapes(kw):
    kw = {"n_samples": 4, "size": 8, **kw}
    out = outcome(lambda: make_rotated_shapes(**kw))
    if out is not None:
        X, y, angle = out
        n, size = kw["n_samples"], kw["size"]
        assert_finite(X, (n, size * size), what="X")
        assert_finite(y, (n,), kind="iu", what="y")
        assert_finite(angle, (n,), what="angle")
        assert np.all(np.abs(angle) <= abs(kw.get("max_angle", 180)) + 1e-9)


@CONTRACT
@given(kw=parameters(size=st.integers(16, 64), pixel_size=st.floats(0.1, 0.5), peak_counts=st.one_of(
                         st.none(), st.floats(1, 1e3)),
                     probe_fwhm=st.floats(0.3, 2), background=st.floats(0, 1), scan_jitter=st.floats(0, 1),
                     rotation=st.one_of(st.none(), st.floats(-180, 180)), random_state=st.integers(0, 10)))
@example(kw={"peak_counts": math.nan})
@example(kw={"pixel_size": math.inf})
@example(kw={"rotation": math.nan})
@example(kw={"rotation": "a"})
def test_make_stem_image(kw):
    kw = {"size": 48, **kw}
    # A huge pixel_size would put millions of atoms in the field of view (a
    # slow but valid request): keep finite sizes <= 1 Angstrom per pixel.
    if isinstance(kw.get("pixel_size"), float) and math.isfinite(kw["pixel_size"]) and kw["pixel_size"] > 1:
        kw["pixel_size"] = 1.0
    out = outcome(lambda: make_stem_image(dopants={"Si": 1}, n_vacancies=0, **kw))
    if out is not None:
        image, atoms = out
        assert_finite(image, (kw["size"], kw["size"]), what="image")
        assert_finite(atoms[["row", "col"]].to_numpy(), (None, 2), what="atoms")


@CONTRACT
@given(codes=arrays([(12, 2), (12,)], max_dims=3, max_side=12),
       orbit=st.one_of(st.just(np.repeat(np.arange(4), 3)), hnp.arrays(np.int64, st.integers(0, 12),
                                                                          elements=st.integers(0, 5))),
       angle=arrays([(12,)], max_dims=2, max_side=12))
@example(codes=np.full((12, 2), np.nan), orbit=np.repeat(np.arange(4), 3), angle=np.arange(12.0))
@example(codes=np.ones((12, 2)), orbit=np.arange(12), angle=np.arange(12.0))
@example(codes=np.ones((12, 2)), orbit=np.repeat(np.arange(4), 3), angle=np.full(12, np.nan))
def test_metrics_orbits(codes, orbit, angle):
    out = outcome(lambda: metrics.symmetry_equivalence_spread(codes, orbit))
    if out is not None:
        assert isinstance(out, float) and math.isfinite(out) and out >= 0, out
    rotation = np.arange(np.size(orbit)) * 120.0
    out = outcome(lambda: metrics.orbit_angle_error(angle, orbit, rotation))
    if out is not None:
        error, sense = out
        assert isinstance(error, float) and math.isfinite(error) and 0 <= error <= 180, error
        assert sense in (1, -1)
    labels = np.arange(np.size(angle)) % 3
    out = outcome(lambda: metrics.angle_error_by_class(angle, np.zeros(np.shape(angle)), labels))
    if out is not None:
        assert all(isinstance(v, float) and math.isfinite(v) for v in out.values()), out


@CONTRACT
@given(codes=arrays([(40, 2)], max_dims=3, max_side=40), kw=parameters(
    n_neighbors=st.integers(1, 4), covariance=st.sampled_from(["site", "pooled"]), robust=st.booleans(),
    lattice=st.sampled_from([2 * np.eye(2), np.array([[2.0, 0.0], [1.0, 1.7]])]),
))
@example(codes=np.full((40, 2), np.nan), kw={})
@example(codes=np.ones((40, 2)), kw={})
@example(codes=np.ones((40, 2)), kw={"lattice": np.zeros((2, 2))})
def test_lattice_site_mahalanobis_score(codes, kw):
    kw = {"lattice": 2 * np.eye(2), **kw}
    positions = np.stack(np.meshgrid(np.arange(0, 5, 0.5), np.arange(0, 2, 0.5)), -1).reshape(-1, 2)
    out = outcome(lambda: metrics.lattice_site_mahalanobis_score(codes, positions, **kw))
    if out is not None:
        assert_finite(out, (40,), what="lattice_site_mahalanobis_score")
