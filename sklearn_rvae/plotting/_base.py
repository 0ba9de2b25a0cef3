"""What the plotting functions share: the lazy matplotlib import, the Axes, the checks, the colours, the keys.

Nothing here imports matplotlib at import time; :func:`pyplot` does, when a
function draws.
"""

import numpy as np
import pandas as pd

from .. import dpc
from .._utils import check_all_finite, check_int_tuple, check_real_tuple, real_array

MISSING_MATPLOTLIB = "sklearn_rvae.plotting needs matplotlib: pip install 'sklearn_rvae[plot]'"

# Where a colour wheel goes by default: the lower-right corner, in Axes fractions (x0, y0, width, height).
WHEEL_BOUNDS = (0.73, 0.02, 0.25, 0.25)


def pyplot():
    """``matplotlib.pyplot``, or an ImportError that names the ``plot`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(MISSING_MATPLOTLIB) from exc
    return plt


def get_axes(ax, figsize=None):
    """``ax`` itself (checked), or the Axes of a new figure when ``ax`` is None."""
    plt = pyplot()
    if ax is None:
        return plt.subplots(figsize=figsize)[1]
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None (a new figure), got {type(ax).__name__}.")
    return ax


# ------------------------------------------------------------------ checks
def check_shape_pair(value, name):
    """``(sy, sx)``: two ints >= 1."""
    return check_int_tuple(value, name, 2, minimum=1)


def check_image(image, name="image"):
    """A finite 2-D array of real numbers."""
    image = real_array(image, name)
    if image.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows, columns), got shape {image.shape}.")
    check_all_finite(image, name)
    return image


def check_bounds(value, name):
    """A wheel's place: True (the default corner) or (x0, y0, width, height) in Axes fractions."""
    if value is True:
        return WHEEL_BOUNDS
    expected = "True, False or (x0, y0, width, height) in Axes fractions with width and height > 0"
    bounds = check_real_tuple(value, name, 4, expected=expected)
    if min(bounds[2:]) <= 0:
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return bounds


def as_values(values, name):
    """``values`` as a numpy array (a Series or DataFrame column keeps its dtype)."""
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise ValueError(f"{name} must hold one value per position; got a DataFrame with "
                             f"{values.shape[1]} columns: pass one of them.")
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        return values.to_numpy()
    try:
        return np.asarray(values)
    except ValueError:
        raise ValueError(f"{name} must be a rectangular array, got a ragged sequence.") from None


def is_categorical(values):
    """Classes rather than numbers: integers, booleans, text or objects."""
    return values.dtype.kind in "biuOSU"


# ------------------------------------------------------------------ colours
def class_colors(classes):
    """One RGBA colour per class, shape (n_classes, 4).

    Non-negative integer classes pick ``tab10`` by their value when all are
    below 10, so a class has the same colour in every such plot; with a class
    from 10 to 19 all take ``tab20`` colours (then class 3 changes colour);
    other classes go by rank (``turbo`` beyond 20).
    """
    plt = pyplot()
    classes = np.asarray(classes)
    integral = classes.dtype.kind in "iub" or (
        classes.dtype.kind == "f" and np.all(np.isfinite(classes)) and np.all(classes == np.round(classes)))
    if integral and len(classes) and classes.min() >= 0 and classes.max() < 20:
        keys = classes.astype(int)
    else:
        keys = np.arange(len(classes))
    top = int(keys.max()) + 1 if len(keys) else 1
    if top <= 10:
        return plt.get_cmap("tab10")(keys)
    if top <= 20:
        return plt.get_cmap("tab20")(keys)
    return plt.get_cmap("turbo")(keys / (top - 1))


def class_index(values):
    """Sorted classes and the index of each value among them."""
    classes, index = np.unique(values, return_inverse=True)
    return classes, index.reshape(values.shape)


# ------------------------------------------------------------------ keys
def _disk(n=129, margin=1.4):
    """Pixel offsets (x right, y down) of an n x n wheel image in units of the wheel's radius (the image
    reaching ``margin`` radii from the centre, room for the labels), and the disk mask."""
    half = (n - 1) / 2
    yy, xx = (np.mgrid[:n, :n] - half) / half * margin
    return xx, yy, np.hypot(xx, yy) <= 1.0


def _wheel_axes(ax, bounds):
    inset = ax.inset_axes(bounds)
    inset.set_axis_off()
    inset.set_label("colour wheel")
    return inset


def _wheel_labels(inset, xx, labels):
    """Text at (direction x, y down) offsets, just outside the wheel."""
    n = xx.shape[0]
    half, margin = (n - 1) / 2, float(xx.max())
    style = dict(fontsize=6, ha="center", va="center", color="k",
                 bbox=dict(boxstyle="round,pad=0.1", fc="w", ec="none", alpha=0.7))
    for text, (dx, dy) in labels:
        inset.text(half + 1.2 / margin * half * dx, half + 1.2 / margin * half * dy, text, **style)


def direction_wheel(ax, bounds):
    """Inset key of :func:`sklearn_rvae.dpc.direction_colors`: hue = direction, brightness = magnitude.

    Drawn by ``direction_colors`` itself on vectors (x right, y down), so the
    key cannot disagree with the map.
    """
    xx, yy, inside = _disk()
    rgb = dpc.direction_colors(np.stack([xx, yy], -1) * inside[..., None], max_magnitude=1.0)
    inset = _wheel_axes(ax, bounds)
    inset.imshow(np.dstack([rgb, inside.astype(float)]), interpolation="bilinear")
    _wheel_labels(inset, xx, [("+x", (1, 0)), ("+y", (0, 1))])
    return inset


def angle_wheel(ax, bounds, cmap, period):
    """Inset key of an angle map: angle a sits at 360 a / period degrees counter-clockwise from +x."""
    xx, yy, inside = _disk()
    ring = inside & (np.hypot(xx, yy) >= 0.5)
    fraction = (np.arctan2(-yy, xx) / (2 * np.pi)) % 1.0  # counter-clockwise on screen
    rgba = pyplot().get_cmap(cmap)(fraction)
    rgba[..., 3] = ring
    inset = _wheel_axes(ax, bounds)
    inset.imshow(rgba, interpolation="bilinear")
    _wheel_labels(inset, xx, [(f"{a:g}", d) for a, d in
                              [(0.0, (1, 0)), (period / 4, (0, -1)), (period / 2, (-1, 0)), (-period / 4, (0, 1))]])
    return inset
