"""Plots of fields over a scan or an image: the COM / DPC vector field and per-column tilt maps."""

import numbers

import numpy as np

from .. import dpc
from .._utils import check_all_finite, check_int, check_positions, check_scalar, real_array
from ._base import check_bounds, check_image, direction_wheel, get_axes, pyplot

_TILT_NAMES = ("alpha", "beta", "gamma")


def plot_vector_field(field, *, max_magnitude=None, ax=None, extent=None, wheel=True, quiver_step=None):
    """A COM / DPC vector field as colours: hue = direction, brightness = magnitude, with its colour wheel.

    The colours are :func:`sklearn_rvae.dpc.direction_colors`: hue runs
    with ``arctan2(y, x)``, red along +x (to the right), yellow-green along
    +y (down on screen), cyan along -x, violet along -y; black where the
    field is zero. The wheel inset is drawn by the same function, so it is
    the key of this map whatever the convention.

    Parameters
    ----------
    field : array-like of shape (n_rows, n_cols, 2)
        The vector at every scan position, last axis ``(x, y)``: x along
        scan columns (the fast axis, to the right), y along scan rows (the
        slow axis, down on screen), as ``COMTransformer.com_map`` returns
        it (already corrected for descan, rotation and flip; detector
        pixels) and as :mod:`sklearn_rvae.dpc` takes it. A deflection field
        points towards the atomic columns; ``COMTransformer.field`` (the
        electric field) points away. Finite.
    max_magnitude : float or None, default=None
        Magnitude shown at full brightness (larger ones are clipped);
        ``None``: the field's largest.
    ax : matplotlib Axes or None, default=None
        Where to draw; ``None`` makes a new figure.
    extent : (left, right, bottom, top) or None, default=None
        Data coordinates of the map's edges (matplotlib's ``imshow``), for
        example the scan positions in Angstrom. Row 0 stays at the top.
    wheel : bool or (x0, y0, width, height), default=True
        The colour-wheel inset (lower-right corner, or at these Axes
        fractions): +x to the right, +y down, as on the map.
    quiver_step : int or None, default=None
        Also draw an arrow every ``quiver_step`` scan positions (in the
        scan frame: +y points down on screen).

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae.plotting import plot_vector_field
    >>> field = np.zeros((4, 4, 2))
    >>> field[:, :2, 0], field[:, 2:, 0] = 1.0, -1.0  # +x on the left, -x on the right
    >>> ax = plot_vector_field(field)
    >>> rgb = ax.images[0].get_array()
    >>> rgb[0, 0].tolist(), rgb[0, 3].tolist()  # red and cyan
    ([1.0, 0.0, 0.0], [0.0, 1.0, 1.0])
    """
    pyplot()  # the plot extra's error before any work
    field = real_array(field, "field")
    if field.ndim != 3 or field.shape[-1] != 2 or field.shape[0] < 1 or field.shape[1] < 1:
        raise ValueError(f"field must have shape (n_rows, n_cols, 2) with (x, y) components (x along scan "
                         f"columns, y along scan rows), got shape {field.shape}.")
    check_all_finite(field, "field")
    step = None if quiver_step is None else check_int(quiver_step, "quiver_step", minimum=1)
    rgb = dpc.direction_colors(field, max_magnitude=max_magnitude)
    ax = get_axes(ax)
    ax.imshow(rgb, extent=extent, interpolation="nearest")
    if step is not None:
        _quiver(ax, field, step, extent)
    if wheel is not False:
        direction_wheel(ax, check_bounds(wheel, "wheel"))
    return ax


def _quiver(ax, field, step, extent):
    """Arrows every ``step`` positions, pointing as the field does on screen, the longest ``0.9 * step`` long."""
    sy, sx = field.shape[:2]
    left, right, bottom, top = (-0.5, sx - 0.5, sy - 0.5, -0.5) if extent is None else extent
    per_col, per_row = (right - left) / sx, (bottom - top) / sy  # data units per scan step (signed)
    rows, cols = np.mgrid[step // 2 : sy : step, step // 2 : sx : step]
    u = field[rows, cols, 0] * per_col  # a pixel-frame vector in data coordinates
    v = field[rows, cols, 1] * per_row
    longest = float(np.hypot(u, v).max()) if u.size else 0.0
    if longest == 0:
        return
    x, y = left + (cols + 0.5) * per_col, top + (rows + 0.5) * per_row
    ax.quiver(x, y, u, v, angles="xy", scale_units="xy", scale=longest / (0.9 * step * abs(per_col)),
              color="w", width=0.004, pivot="middle")


def _tilt_values(tilts, n, angle):
    tilts = real_array(tilts, "tilts")
    if tilts.ndim == 1:
        values, name = tilts, "tilt"
    elif tilts.ndim == 2 and tilts.shape[1] == 3:
        if isinstance(angle, str) and angle in _TILT_NAMES:
            k = _TILT_NAMES.index(angle)
        elif isinstance(angle, numbers.Integral) and not isinstance(angle, (bool, np.bool_)) and 0 <= angle < 3:
            k = int(angle)
        else:
            raise ValueError(f"angle must be 'alpha', 'beta', 'gamma' or a column index 0, 1 or 2, got {angle!r}.")
        values, name = tilts[:, k], _TILT_NAMES[k]
    else:
        raise ValueError(f"tilts must have shape (n_columns, 3) (alpha, beta, gamma, as TiltRegressor.predict_map "
                         f"returns them) or (n_columns,), got shape {tilts.shape}.")
    if len(values) != n:
        raise ValueError(f"tilts holds {len(values)} columns' angles but centers holds {n} positions: they must "
                         f"be one per column.")
    check_all_finite(values, "tilts")
    return values, name


def plot_tilt_map(image, centers, tilts, *, angle="gamma", ax=None, cmap="coolwarm", vmax=None, s=40,
                  colorbar=True, label=None):
    """Atomic columns coloured by one octahedral tilt angle, over the image.

    Parameters
    ----------
    image : array-like of shape (H, W)
        The (ABF) image, drawn in grey.
    centers : array-like of shape (n_columns, 2) or DataFrame
        ``(row, col)`` pixel positions of the columns, as given to
        ``TiltRegressor.predict_map(image, centers=...)`` (a DataFrame
        gives its ``row`` and ``col`` columns).
    tilts : array-like of shape (n_columns, 3) or (n_columns,)
        ``(alpha, beta, gamma)`` in degrees per column, as
        ``predict_map(..., centers=...)`` returns them, or one angle per
        column.
    angle : {"alpha", "beta", "gamma"} or int, default="gamma"
        The column of ``tilts`` shown (0, 1, 2); ignored for 1-D ``tilts``.
    ax : matplotlib Axes or None, default=None
        Where to draw; ``None`` makes a new figure.
    cmap : str or Colormap, default="coolwarm"
        A diverging colormap: tilts are signed, and neighbouring columns
        of an anti-phase (``-``) tilt system have opposite signs.
    vmax : float or None, default=None
        Colour limits ``(-vmax, vmax)``, symmetric about 0; ``None``: the
        largest ``|angle|`` shown (1 degree when all are 0). Pass one value
        to compare several maps.
    s : float, default=40
        Marker area.
    colorbar : bool, default=True
    label : str or None, default=None
        The colorbar's label; ``None``: ``"<angle> (deg)"``.

    Returns
    -------
    ax : matplotlib Axes
        ``ax.collections[-1]`` holds the columns (for a colorbar shared by
        several maps).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae.plotting import plot_tilt_map
    >>> centers = np.array([[8.0, 8.0], [8.0, 24.0], [24.0, 8.0], [24.0, 24.0]])
    >>> tilts = np.array([[1.0, 1.0, 3.0], [-1.0, -1.0, -3.0], [-1.0, -1.0, -3.0], [1.0, 1.0, 3.0]])
    >>> ax = plot_tilt_map(np.zeros((32, 32)), centers, tilts, angle="gamma")
    >>> ax.collections[-1].get_clim()
    (-3.0, 3.0)
    """
    pyplot()  # the plot extra's error before any work
    image = check_image(image)
    centers = check_positions(centers, "centers")
    values, name = _tilt_values(tilts, len(centers), angle)
    if vmax is None:
        vmax = float(np.abs(values).max()) if values.size else 0.0
        vmax = vmax if vmax > 0 else 1.0
    else:
        vmax = check_scalar(vmax, "vmax", positive=True, expected="None or a finite angle in degrees > 0")
    ax = get_axes(ax)
    ax.imshow(image, cmap="gray")
    points = ax.scatter(centers[:, 1], centers[:, 0], c=values, cmap=cmap, vmin=-vmax, vmax=vmax, s=s,
                        edgecolors="k")
    ax.set_axis_off()
    if colorbar:
        ax.figure.colorbar(points, ax=ax, label=f"{name} (deg)" if label is None else label)
    return ax
