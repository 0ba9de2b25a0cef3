"""Small data and estimator makers the reliability cases share.

Every data set is tiny and deterministic (numpy only): 8x8 images, a few
dozen samples. ``SPECS`` says how to fit each public estimator and what its
main output looks like; ``fitted_rvae`` / ``fitted_com`` and the short names
at the end (``img``, ``f``, ``R``, ``X16``, ``T``, ``Y``, ``a``, ``b`` ...)
are what the cases of several categories use.
"""

from collections import OrderedDict

import numpy as np

from .harness import _pkg

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


# --------------------------------------------------------------------------- shared by several categories
# Lifted out of the one build_cases() of before, unchanged: the cases of several categories use them.
def fitted_rvae(**kw):
    return rvae_est(**kw).fit(rot_images())


def fitted_com(**kw):
    return com_est(**kw).fit(com_frames())


# short names for the data makers, and the spec of RotationInvariantVAE
img = atom_image
f = vector_field
R = rot_images
X16 = com_frames
T = lambda: tilt_data()[0]  # noqa: E731
Y = lambda: tilt_data()[1]  # noqa: E731
rv_spec = SPECS["RotationInvariantVAE"]
# small inputs for the functions of metrics and datasets
a, b = angles()
labels = np.arange(20) % 2
orbit = np.repeat(np.arange(10), 4)
pos = np.stack(np.meshgrid(np.arange(0, 10, 0.5), np.arange(0, 5, 0.5)), -1).reshape(-1, 2)
d = np.linspace(0, 10, 40)
stem = {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0}
movie = {"n_frames": 2, **stem}
