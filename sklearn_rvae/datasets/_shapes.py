"""Rotated asymmetric shapes: a full-circle test bed where every angle is defined."""

import numbers

import numpy as np
from sklearn.utils._param_validation import validate_params

from .._utils import Interval, local_random_state

# Each shape is a union of axis-aligned rectangles (x0, x1, y0, y1) in units
# of the image half-width, y down. None has a rotational or mirror symmetry,
# so its angle is defined over the whole circle and a turned copy never
# matches another shape.
_SHAPES = {
    "L": [(-0.45, -0.15, -0.55, 0.55), (-0.45, 0.45, 0.25, 0.55)],
    "F": [(-0.4, -0.1, -0.6, 0.6), (-0.4, 0.45, -0.6, -0.3), (-0.4, 0.25, -0.1, 0.15)],
    "P": [(-0.4, -0.1, -0.6, 0.6), (-0.4, 0.4, -0.6, -0.35), (-0.4, 0.4, -0.05, 0.2),
          (0.15, 0.4, -0.6, 0.2)],
    "T": [(-0.55, 0.55, -0.55, -0.25), (-0.35, -0.05, -0.55, 0.6)],
    "J": [(0.1, 0.4, -0.6, 0.55), (-0.45, 0.4, 0.3, 0.55), (-0.45, -0.2, 0.05, 0.55),
          (-0.1, 0.4, -0.6, -0.4)],
    "h": [(-0.45, -0.15, -0.6, 0.6), (-0.45, 0.4, -0.05, 0.2), (0.15, 0.4, -0.05, 0.6)],
}
SHAPE_NAMES = tuple(_SHAPES)


def _render(rects, angle_deg, shift, size, supersample):
    """Anti-aliased image of a union of rectangles turned CCW on screen by angle_deg."""
    n = size * supersample
    half = size / 2.0
    # Sub-pixel sample positions, relative to the image centre, in pixels.
    c = (np.arange(n) + 0.5) / supersample - half
    xx, yy = np.meshgrid(c, c)
    xx, yy = xx - shift[0], yy - shift[1]
    # Output pixel p shows the upright shape at R(angle) p (the convention of
    # warp_images and scipy.ndimage.rotate, y down): CCW on screen.
    t = np.deg2rad(angle_deg)
    u = (np.cos(t) * xx - np.sin(t) * yy) / half
    v = (np.sin(t) * xx + np.cos(t) * yy) / half
    inside = np.zeros_like(u, dtype=bool)
    for x0, x1, y0, y1 in rects:
        inside |= (u >= x0) & (u <= x1) & (v >= y0) & (v <= y1)
    return inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "size": [Interval(numbers.Integral, 8, None, closed="left")],
        "n_classes": [Interval(numbers.Integral, 1, len(_SHAPES), closed="both")],
        "max_angle": [Interval(numbers.Real, 0, 180, closed="both")],
        "max_shift": [Interval(numbers.Real, 0, None, closed="left")],
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_rotated_shapes(n_samples=1600, size=24, n_classes=4, max_angle=180, max_shift=1.0,
                        noise=0.05, random_state=0):
    """Asymmetric block shapes (L, F, P, T, J, h) at random angles.

    Each image is one shape, drawn analytically (4x4 supersampling, no
    resampling of a bitmap) turned about the image centre by an angle drawn
    uniformly from ``[-max_angle, max_angle)`` degrees, moved by a shift
    drawn uniformly from ``[-max_shift, max_shift]`` pixels along each axis,
    with Gaussian pixel noise. None of the shapes has a rotational symmetry,
    so every image's angle is defined over the whole circle: the test bed of
    ``RotationInvariantVAE(angle_prior="uniform")``.

    Parameters
    ----------
    n_samples : int, default=1600
        Number of images; the classes take turns (balanced to within one).
    size : int, default=24
        Side of the images, pixels (at least 8).
    n_classes : int, default=4
        Number of shapes, from 1 to 6, taken in the order of ``SHAPE_NAMES``.
    max_angle : float, default=180
        Largest absolute rotation, degrees, in [0, 180].
    max_shift : float, default=1.0
        Largest shift along each axis, pixels (finite, >= 0).
    noise : float, default=0.05
        Standard deviation of the added Gaussian noise (the shapes are 1 on
        0; finite, >= 0).
    random_state : int, RandomState instance or None, default=0
        Seed of the classes' order, the angles, shifts and noise; ``None``
        draws one from the OS (numpy's global random state is left as it
        was).

    Returns
    -------
    X : ndarray of shape (n_samples, size * size)
        Flattened images, row-major.
    y : ndarray of shape (n_samples,)
        Shape classes, 0 to ``n_classes - 1`` (``SHAPE_NAMES[y]``).
    angle : ndarray of shape (n_samples,)
        Rotation of each image in degrees, counter-clockwise on screen with
        row 0 at the top (the convention of ``scipy.ndimage.rotate`` and
        ``RotationInvariantVAE.transform_pose``).

    Examples
    --------
    >>> from sklearn_rvae.datasets import make_rotated_shapes
    >>> X, y, angle = make_rotated_shapes(n_samples=8, size=16)
    >>> X.shape, sorted(set(y.tolist()))
    ((8, 256), [0, 1, 2, 3])
    """
    rng = local_random_state(random_state)
    y = rng.permutation(np.arange(n_samples) % n_classes)
    angle = rng.uniform(-max_angle, max_angle, n_samples)
    shift = rng.uniform(-max_shift, max_shift, (n_samples, 2))
    shapes = [_SHAPES[name] for name in SHAPE_NAMES[:n_classes]]
    X = np.stack([_render(shapes[c], a, s, size, 4) for c, a, s in zip(y, angle, shift)])
    X = X.reshape(n_samples, -1) + noise * rng.standard_normal((n_samples, size * size))
    return X, y, angle
