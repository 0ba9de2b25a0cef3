"""Plots of latent spaces: the decoded manifold, maps of codes, classes and angles, trajectories over frames."""

import numbers

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .._utils import check_all_finite, check_int, check_positions, check_scalar, real_array
from ..rvae import RotationInvariantVAE
from ._base import (
    angle_wheel,
    as_values,
    check_bounds,
    check_image,
    check_shape_pair,
    class_colors,
    class_index,
    get_axes,
    is_categorical,
    pyplot,
)


# ------------------------------------------------------------------ manifold
def _decoder(estimator):
    """The RotationInvariantVAE that decodes: the estimator, or the last step of a Pipeline."""
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if not isinstance(final, RotationInvariantVAE):
        raise TypeError(f"estimator must be a RotationInvariantVAE or a Pipeline that ends in one, got "
                        f"{type(final).__name__}.")
    check_is_fitted(final)
    return final


def _check_components(components, n_components):
    items = tuple(components) if isinstance(components, (tuple, list, np.ndarray)) else None
    ok = items is not None and len(items) in (1, 2) and all(
        isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_)) for c in items)
    if not ok or len(set(items)) != len(items):
        raise ValueError(f"components must be one or two distinct latent indices, such as (0, 1), got "
                         f"{components!r}.")
    bad = [int(c) for c in items if not 0 <= c < n_components]
    if bad:
        hint = "; pass components=(0,) for a one-row manifold" if n_components == 1 else ""
        raise ValueError(f"components={tuple(int(c) for c in items)} names latent {bad[0]}, but the estimator has "
                         f"n_components={n_components} (indices 0 .. {n_components - 1}){hint}.")
    return tuple(int(c) for c in items)


def _prior_spread(decoder):
    """Mean and standard deviation of every latent: the codes' mixture with n_classes, else the prior N(0, 1)."""
    # The modes of the codes, not the prior's (widened by the posterior variance): the map spans the codes.
    return decoder.latent_prior_.code_moments()


def _check_range(value, name):
    ok = isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2 and all(
        isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and np.isfinite(v) for v in value)
    if not ok or not value[0] < value[1]:
        raise ValueError(f"{name} must be (low, high) with finite low < high (or one such pair per component), "
                         f"got {value!r}.")
    return float(value[0]), float(value[1])


def _manifold_ranges(extent, X, estimator, decoder, components):
    """(low, high) of every plotted component."""
    if extent is not None:
        if X is not None:
            raise ValueError("give extent or X (whose codes set the extent), not both.")
        per_component = (isinstance(extent, (tuple, list, np.ndarray)) and len(extent) == len(components)
                         and all(isinstance(e, (tuple, list, np.ndarray)) for e in extent))
        if per_component:
            return [_check_range(e, f"extent[{k}]") for k, e in enumerate(extent)]
        return [_check_range(extent, "extent")] * len(components)
    if X is not None:
        codes = np.asarray(estimator.transform(X))
        mean, sd = codes.mean(0), codes.std(0)
    else:
        mean, sd = _prior_spread(decoder)
    half = np.where(sd > 0, 2 * sd, 2.0)  # a latent that does not vary gets the prior's +-2
    return [(float(mean[c] - half[c]), float(mean[c] + half[c])) for c in components]


def _manifold_grid(estimator, decoder, n_per_side, extent, X, components):
    """The latent codes a manifold decodes, one per tile, in the order of the tiles (row by row from the top).

    Returns ``(Z, grids, components)``: ``Z`` of shape (n_rows * n_per_side,
    n_components), the grid values of each plotted component (ascending) and
    the checked components.
    """
    n = check_int(n_per_side, "n_per_side", minimum=2)
    components = _check_components(components, decoder.n_components)
    ranges = _manifold_ranges(extent, X, estimator, decoder, components)
    grids = [np.linspace(lo, hi, n) for lo, hi in ranges]
    rows = n if len(components) == 2 else 1
    Z = np.zeros((rows * n, decoder.n_components))
    Z[:, components[0]] = np.tile(grids[0], rows)
    if len(components) == 2:
        Z[:, components[1]] = np.repeat(grids[1][::-1], n)  # the top row holds the largest value
    return Z, grids, components


def plot_manifold(estimator, *, n_per_side=12, extent=None, X=None, components=(0, 1), angle=0.0, ax=None,
                  cmap="gray", save=None):
    """Decode a grid of latent values and tile the images: the latent manifold.

    The plot rVAE users look at first (AtomAI's ``manifold2d``): what the
    decoder draws over a square grid of two content latents ``a`` and
    ``b`` (``components``), the other latents at 0, upright unless
    ``angle`` is given. Each latent takes ``n_per_side`` evenly spaced
    values from its ``extent`` (``numpy.linspace(low, high, n_per_side)``):
    ``a`` increases from left to right, ``b`` from the bottom to the top
    row. The axes carry the latent values, so a tile's centre sits at its
    code.

    Parameters
    ----------
    estimator : RotationInvariantVAE or Pipeline
        Fitted. A Pipeline must end in a RotationInvariantVAE; the images
        are then in the units of that last step's input.
    n_per_side : int, default=12
        Tiles along each latent (>= 2).
    extent : (low, high), ((low_a, high_a), (low_b, high_b)) or None, default=None
        Range of the latent values: one pair for every component or one per
        component. ``None``: the mean +- 2 standard deviations of the codes
        of ``X`` when it is given, else of the prior (+-2 for the normal
        prior; with ``n_classes``, the spread of the mixture fitted to the
        training codes).
    X : array-like of shape (n_samples, n_features) or None, default=None
        Data whose codes (``estimator.transform(X)``) set the extent.
    components : (int, int) or (int,), default=(0, 1)
        The latents along x and y (0-based). One component draws a single
        row of ``n_per_side`` tiles.
    angle : float, default=0.0
        Rotation of every decoded image, degrees counter-clockwise on
        screen (the estimator's pose convention); 0 is the upright template.
    ax : matplotlib Axes or None, default=None
        Where to draw; ``None`` makes a new figure.
    cmap : str or Colormap, default="gray"
    save : str, path-like or None, default=None
        Also save the figure there (the format from the suffix, e.g. ``.png``).

    Returns
    -------
    ax : matplotlib Axes
        ``ax.images[-1]`` is the tiled image, shape
        ``(n_rows * h, n_per_side * w)`` with ``(h, w)`` the
        estimator's ``image_shape_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae import RotationInvariantVAE
    >>> from sklearn_rvae.plotting import plot_manifold
    >>> X = np.random.default_rng(0).random((20, 64))
    >>> rvae = RotationInvariantVAE(2, max_epochs=1, device="cpu", random_state=0).fit(X)
    >>> ax = plot_manifold(rvae, n_per_side=5)
    >>> ax.images[-1].get_array().shape
    (40, 40)
    """
    pyplot()  # the plot extra's error before any work
    decoder = _decoder(estimator)
    angle = check_scalar(angle, "angle", expected="a finite angle in degrees")
    Z, grids, components = _manifold_grid(estimator, decoder, n_per_side, extent, X, components)
    n = len(grids[0])
    rows = len(Z) // n
    h, w = decoder.image_shape_
    tiles = decoder.inverse_transform(Z, angle=angle).reshape(rows, n, h, w).transpose(0, 2, 1, 3)
    tiles = tiles.reshape(rows * h, n * w)

    ax = get_axes(ax, figsize=(6, 6))
    step_a = grids[0][1] - grids[0][0]
    left, right = grids[0][0] - step_a / 2, grids[0][-1] + step_a / 2
    if len(components) == 2:
        step_b = grids[1][1] - grids[1][0]
        bottom, top = grids[1][0] - step_b / 2, grids[1][-1] + step_b / 2
    else:
        step_b, bottom, top = 1.0, -0.5, 0.5
    # Square pixels whatever the two ranges: aspect = (x units per pixel) / (y units per pixel).
    aspect = (step_a / w) / (step_b / h)
    ax.imshow(tiles, cmap=cmap, extent=(left, right, bottom, top), origin="upper", aspect=aspect,
              interpolation="nearest")
    ax.set_xlabel(f"z{components[0] + 1}")
    if len(components) == 2:
        ax.set_ylabel(f"z{components[1] + 1}")
    else:
        ax.set_yticks([])
    if save is not None:
        ax.figure.savefig(save, bbox_inches="tight")
    return ax


# ------------------------------------------------------------------ maps
def _layout(values, positions, scan_shape, image, name):
    """Check where ``values`` go; return (values as an array, positions or None, image or None)."""
    values = as_values(values, name)
    if positions is not None and scan_shape is not None:
        raise ValueError("give positions (values scattered at (row, col)) or scan_shape (values reshaped to "
                         "a scan), not both.")
    if positions is None and image is not None:
        raise ValueError("image is drawn under values scattered at positions; give positions (n, 2) as well "
                         "(over a scan the values form the image).")
    if positions is None and scan_shape is None:
        if values.ndim != 2:
            raise ValueError(f"{name} of shape {values.shape} is not a map: give scan_shape=(rows, columns) to "
                             f"reshape them, positions (n, 2) to scatter them, or a 2-D map.")
        return values, None, None
    if values.ndim == 2 and (values.shape[1] == 1 or (scan_shape is not None and values.shape == tuple(scan_shape))):
        values = values.ravel()  # a column, or a map that already has the scan's shape
    if values.ndim != 1:
        raise ValueError(f"{name} must hold one value per position, shape (n,), got shape {values.shape}; "
                         f"for codes of shape (n, n_components) pass one column, e.g. Z[:, 0].")
    if scan_shape is not None:
        sy, sx = check_shape_pair(scan_shape, "scan_shape")
        if sy * sx != values.size:
            raise ValueError(f"scan_shape={(sy, sx)} holds {sy * sx} positions but {name} has {values.size} "
                             f"values.")
        return values.reshape(sy, sx), None, None
    positions = check_positions(positions, n=len(values))
    return values, positions, None if image is None else check_image(image)


def _scatter_axes(ax, image):
    """Under scattered points: the image in grey, or equal axes with row 0 at the top."""
    if image is not None:
        ax.imshow(image, cmap="gray")
    else:
        ax.set_aspect("equal")
        if not ax.yaxis_inverted():
            ax.invert_yaxis()


def _draw_classes(ax, values, positions, image, extent, s, legend, label):
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    classes, index = class_index(values)
    colors = class_colors(classes)
    if positions is None:
        ax.imshow(index, cmap=ListedColormap(colors), norm=BoundaryNorm(np.arange(len(classes) + 1) - 0.5,
                                                                       len(classes)),
                  extent=extent, interpolation="nearest")
        handles = [Patch(color=c, label=str(k)) for k, c in zip(classes, colors)]
    else:
        _scatter_axes(ax, image)
        handles = [ax.scatter(positions[index == k, 1], positions[index == k, 0], color=colors[k], s=s,
                              label=str(cls)) for k, cls in enumerate(classes)]
    if legend:
        ax.legend(handles=handles, title=label, fontsize="small", title_fontsize="small", loc="upper right")
    return ax


def _draw_numbers(ax, values, positions, image, extent, s, cmap, vmin, vmax, colorbar, label, name):
    values = real_array(values, name)
    check_all_finite(values, name, where=~np.isnan(values), hint="; NaN (left blank) marks a missing value")
    if positions is None:
        shown = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, extent=extent, interpolation="nearest")
    else:
        _scatter_axes(ax, image)
        shown = ax.scatter(positions[:, 1], positions[:, 0], c=values, cmap=cmap, vmin=vmin, vmax=vmax, s=s)
    if colorbar:
        ax.figure.colorbar(shown, ax=ax, label=label)
    return shown


def plot_latent_map(values, positions=None, *, scan_shape=None, image=None, categorical=None, ax=None,
                    cmap="viridis", vmin=None, vmax=None, extent=None, s=12, colorbar=True, legend=True,
                    label=None):
    """A map of one latent code, or of classes, over a scan or over the atoms of an image.

    Three layouts: values at every position of a raster scan
    (``scan_shape``, reshaped row by row as the scan was read), values at
    ``(row, col)`` pixel positions scattered over an ``image`` (atoms,
    columns), or a 2-D map as it is.

    Parameters
    ----------
    values : array-like of shape (n,) or (rows, columns)
        One value per position: a code (``Z[:, k]``), a class
        (``predict``'s labels) or any other number or label.
    positions : array-like of shape (n, 2), DataFrame or None, default=None
        ``(row, col)`` pixel positions, as ``find_atoms`` returns them; a
        DataFrame gives its ``row`` and ``col`` columns.
    scan_shape : (int, int) or None, default=None
        ``(rows, columns)`` of the scan that ``values`` follow, in raster
        order.
    image : array-like of shape (H, W) or None, default=None
        Drawn in grey under scattered positions.
    categorical : bool or None, default=None
        Draw classes: one colour each (``tab10`` by the class value for
        classes 0 .. 9, so a class keeps its colour across plots) and a
        legend. ``None``: classes when ``values`` are integers, booleans or
        text; numbers (floats) get ``cmap`` and a colorbar.
    ax : matplotlib Axes or None, default=None
        Where to draw; ``None`` makes a new figure.
    cmap : str or Colormap, default="viridis"
        For numbers.
    vmin, vmax : float or None, default=None
        Colour limits for numbers.
    extent : (left, right, bottom, top) or None, default=None
        Data coordinates of a scan map's edges (matplotlib's ``imshow``),
        for example in Angstrom.
    s : float, default=12
        Marker area of scattered positions.
    colorbar : bool, default=True
        A colorbar for numbers.
    legend : bool, default=True
        A legend for classes.
    label : str or None, default=None
        The colorbar's label or the legend's title.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae.plotting import plot_latent_map
    >>> codes = np.random.default_rng(0).normal(size=(12, 2))
    >>> ax = plot_latent_map(codes[:, 0], scan_shape=(3, 4), label="z1")
    >>> ax.images[-1].get_array().shape
    (3, 4)
    >>> ax = plot_latent_map(np.array([0, 1, 1]), [[2, 3], [5, 6], [8, 1]], image=np.zeros((10, 10)))
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['0', '1']
    """
    pyplot()  # the plot extra's error before any work
    values, positions, image = _layout(values, positions, scan_shape, image, "values")
    if categorical is None:
        categorical = is_categorical(values)
    elif not isinstance(categorical, (bool, np.bool_)):
        raise TypeError(f"categorical must be True, False or None (decide from the dtype), got {categorical!r}.")
    ax = get_axes(ax)
    if categorical:
        _draw_classes(ax, values, positions, image, extent, s, legend, label)
    else:
        _draw_numbers(ax, values, positions, image, extent, s, cmap, vmin, vmax, colorbar, label, "values")
    return ax


def plot_angle_map(angles, positions=None, *, scan_shape=None, image=None, period=360.0, ax=None, cmap="hsv",
                   extent=None, s=12, wheel=True, colorbar=False):
    """A map of angles as hue, over a scan or over the atoms of an image, with a colour wheel.

    Angles are cyclic: ``a`` and ``a + period`` get the same colour, so a
    cyclic colormap (``"hsv"``, ``"twilight"``) shows them. The layouts are
    those of :func:`plot_latent_map`.

    Parameters
    ----------
    angles : array-like of shape (n,) or (rows, columns)
        Degrees, for example ``RotationInvariantVAE.transform_pose(X)[0]``
        (counter-clockwise on screen). NaN is left blank.
    positions : array-like of shape (n, 2), DataFrame or None, default=None
        ``(row, col)`` pixel positions (a DataFrame gives ``row``, ``col``).
    scan_shape : (int, int) or None, default=None
        ``(rows, columns)`` of the scan, raster order.
    image : array-like of shape (H, W) or None, default=None
        Drawn in grey under scattered positions.
    period : float, default=360.0
        The angles' period in degrees: ``360 / rotation_symmetry`` for an
        estimator with an n-fold ``rotation_symmetry`` (the hue then goes
        round once per ``360 / n`` degrees).
    ax : matplotlib Axes or None, default=None
        Where to draw; ``None`` makes a new figure.
    cmap : str or Colormap, default="hsv"
        A cyclic colormap.
    extent : (left, right, bottom, top) or None, default=None
        Data coordinates of a scan map's edges.
    s : float, default=12
        Marker area of scattered positions.
    wheel : bool or (x0, y0, width, height), default=True
        A colour wheel inset (in the lower-right corner, or at these Axes
        fractions): angle ``a`` sits at ``360 a / period`` degrees
        counter-clockwise from the right, labelled in degrees.
    colorbar : bool, default=False
        A colorbar from 0 to ``period`` as well, or instead.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae.plotting import plot_angle_map
    >>> ax = plot_angle_map(np.array([0.0, 90.0, 180.0, 360.0]), scan_shape=(2, 2))
    >>> im = ax.images[0]
    >>> rgba = im.cmap(im.norm(im.get_array()))
    >>> bool((rgba[0, 0] == rgba[1, 1]).all())  # 0 and 360 degrees: one colour
    True
    """
    pyplot()  # the plot extra's error before any work
    period = check_scalar(period, "period", positive=True, expected="a finite period in degrees > 0")
    angles, positions, image = _layout(angles, positions, scan_shape, image, "angles")
    angles = real_array(angles, "angles")
    check_all_finite(angles, "angles", where=~np.isnan(angles), hint="; NaN (left blank) marks a missing value")
    ax = get_axes(ax)
    _draw_numbers(ax, np.mod(angles, period), positions, image, extent, s, cmap, 0.0, period, False, None, "angles")
    if colorbar:
        ax.figure.colorbar(ax.images[-1] if positions is None else ax.collections[-1], ax=ax, label="angle (deg)")
    if wheel is not False:
        angle_wheel(ax, check_bounds(wheel, "wheel"), cmap, period)
    return ax


# ------------------------------------------------------------------ trajectories
def _trajectory_table(trajectories, codes, frame, track):
    """A DataFrame with frame, track and the code columns; the code columns' names."""
    if isinstance(trajectories, pd.DataFrame):
        if codes is None:
            raise ValueError("codes must name the DataFrame's code column(s): one name (the code against the "
                             "frame) or two (a path in the code plane), e.g. codes=('z1', 'z2').")
        names = [codes] if isinstance(codes, str) else list(codes) if isinstance(codes, (tuple, list)) else None
        if names is None or len(names) not in (1, 2):
            raise ValueError(f"codes must be one column name or two, got {codes!r}.")
        missing = [c for c in [frame, track, *names] if c not in trajectories.columns]
        if missing:
            raise ValueError(f"trajectories lacks the column(s) {missing}; its columns are "
                             f"{list(trajectories.columns)} (frame={frame!r}, track={track!r}, codes={codes!r}).")
        for c in names:
            kind = trajectories[c].dtype
            if not (pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind)):
                raise TypeError(f"trajectories[{c!r}] must hold numbers (codes), got dtype {kind}.")
        return trajectories, names
    if codes is not None:
        raise ValueError("codes names DataFrame columns; an array's codes are its last axis (pass codes=None).")
    array = real_array(trajectories, "trajectories")
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2) or array.size == 0:
        raise ValueError(f"trajectories must be a DataFrame or an array of shape (n_tracks, n_frames) or "
                         f"(n_tracks, n_frames, 1 or 2) (NaN where a track is missing), got shape "
                         f"{np.shape(trajectories)}.")
    n_tracks, n_frames, k = array.shape
    names = [f"z{j + 1}" for j in range(k)]
    table = pd.DataFrame(array.reshape(-1, k), columns=names)
    table[track] = np.repeat(np.arange(n_tracks), n_frames)
    table[frame] = np.tile(np.arange(n_frames), n_tracks)
    return table.dropna(subset=names), names


def plot_trajectories(trajectories, *, codes=None, tracks=None, frame="frame", track="atom", color_by=None,
                      highlight_frames=None, background=None, ax=None, s=4):
    """Latent trajectories of atoms over the frames of a movie.

    With one code column, each track is a line of its code against the
    frame; with two, a path through the code plane (frame by frame) over
    the codes of every row. Tracks come from
    :func:`sklearn_rvae.atoms.link_atoms` (its ``atom`` column), codes from
    the estimator's ``transform`` of the atoms' patches.

    Parameters
    ----------
    trajectories : DataFrame or array-like of shape (n_tracks, n_frames[, 1 or 2])
        A DataFrame with a ``frame`` column, a ``track`` column and the code
        columns; or codes by track and frame, NaN where a track is missing.
    codes : str, (str,) or (str, str), default=None
        The DataFrame's code column(s); ``None`` for an array.
    tracks : sequence or None, default=None
        The tracks drawn as lines (labelled ``"<track> <id>"``, for
        ``ax.legend()``); ``None`` draws every track.
    frame, track : str, default="frame", "atom"
        The DataFrame's frame and track columns.
    color_by : str or None, default=None
        A DataFrame column of classes that colours the background points
        (one colour per class and a legend, as in :func:`plot_latent_map`).
    highlight_frames : sequence of int or None, default=None
        Frames to mark: a dotted vertical line against the frame, a ring
        around the drawn tracks' points in the code plane.
    background : bool or None, default=None
        Scatter every row faintly behind the lines. ``None``: in the code
        plane only.
    ax : matplotlib Axes or None, default=None
        Where to draw; ``None`` makes a new figure.
    s : float, default=4
        Marker area of the background points.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae.plotting import plot_trajectories
    >>> codes = np.cumsum(np.random.default_rng(0).normal(size=(3, 10, 2)), axis=1)  # 3 atoms, 10 frames
    >>> ax = plot_trajectories(codes, highlight_frames=[5])
    >>> len(ax.lines), ax.get_xlabel(), ax.get_ylabel()
    (3, 'z1', 'z2')
    """
    pyplot()  # the plot extra's error before any work
    table, names = _trajectory_table(trajectories, codes, frame, track)
    if color_by is not None and color_by not in table.columns:
        raise ValueError(f"color_by={color_by!r} is not a column of trajectories; its columns are "
                         f"{list(table.columns)}.")
    if background is None:
        background = len(names) == 2
    elif not isinstance(background, (bool, np.bool_)):
        raise TypeError(f"background must be True, False or None, got {background!r}.")
    present = pd.unique(table[track])
    if tracks is None:
        tracks = present
    else:
        if isinstance(tracks, str) or not np.iterable(tracks):
            raise TypeError(f"tracks must be a sequence of track ids (values of {track!r}) or None, got {tracks!r}.")
        tracks = list(tracks)
        missing = [t for t in tracks if t not in set(present.tolist())]
        if missing:
            raise ValueError(f"tracks {missing} are not in trajectories[{track!r}].")
    marks = [] if highlight_frames is None else np.atleast_1d(real_array(highlight_frames, "highlight_frames"))

    ax = get_axes(ax)
    plane = len(names) == 2
    x_of = (lambda t: t[names[0]]) if plane else (lambda t: t[frame])
    y_of = (lambda t: t[names[1]]) if plane else (lambda t: t[names[0]])
    if background:
        if color_by is None:
            ax.scatter(x_of(table), y_of(table), color="0.6", s=s, alpha=0.4, linewidths=0)
        else:
            classes, index = class_index(table[color_by].to_numpy())
            colors = class_colors(classes)
            for k, cls in enumerate(classes):
                rows = table[index == k]
                ax.scatter(x_of(rows), y_of(rows), color=colors[k], s=s, alpha=0.4, linewidths=0, label=str(cls))
            ax.legend(title=color_by, fontsize="small", title_fontsize="small", markerscale=3)
    for t in tracks:
        path = table[table[track] == t].sort_values(frame)
        ax.plot(x_of(path), y_of(path), "-o", ms=3, lw=1, label=f"{track} {t}")
        if plane and len(marks):
            at = path[path[frame].isin(marks)]
            ax.scatter(x_of(at), y_of(at), s=50, facecolors="none", edgecolors="k", zorder=3)
    if not plane:
        for f in marks:
            ax.axvline(f, color="k", ls=":", lw=1)
    ax.set_xlabel(names[0] if plane else frame)
    ax.set_ylabel(names[1] if plane else names[0])
    return ax
