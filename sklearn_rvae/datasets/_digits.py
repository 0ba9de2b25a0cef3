"""Rotated hand-written digits: the standard test bed of rotationally invariant VAEs."""

import numbers

import numpy as np
from scipy import ndimage
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import validate_params

from .._utils import Interval, local_random_state


@validate_params(
    {
        "size": [Interval(numbers.Integral, 8, None, closed="left")],
        "max_angle": [Interval(numbers.Real, 0, 180, closed="both")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_rotated_digits(size=20, max_angle=60, random_state=0):
    """scikit-learn's 8x8 digits, upsampled and randomly rotated.

    Each of the 1797 bundled digits is scaled to [0, 1], upsampled to
    ``size x size`` by order-1 (bilinear) zoom and rotated about its centre by
    an angle drawn uniformly from ``[-max_angle, max_angle]`` degrees (order-1
    interpolation, zero fill, same frame size, so corners may be clipped).

    Parameters
    ----------
    size : int, default=20
        Side of the output images, in pixels (at least 8).
    max_angle : float, default=60
        Largest absolute rotation, in degrees, in [0, 180].
    random_state : int, RandomState instance or None, default=0
        Seed of the angles; ``None`` draws one from the OS (never from
        numpy's global random state, which is left as it was).

    Returns
    -------
    X : ndarray of shape (1797, size * size), float64 in [0, 1]
        Flattened images, row-major.
    y : ndarray of shape (1797,)
        Digit classes 0-9.
    angle : ndarray of shape (1797,)
        Rotation applied to each image, in degrees: positive is
        counter-clockwise on screen with row 0 at the top, the convention of
        ``scipy.ndimage.rotate`` and of ``RotationInvariantVAE.transform_pose``.

    Examples
    --------
    >>> from sklearn_rvae.datasets import make_rotated_digits
    >>> X, y, angle = make_rotated_digits(size=20, max_angle=60)
    >>> X.shape, float(abs(angle).max()) <= 60
    ((1797, 400), True)
    """
    rng = local_random_state(random_state)
    digits = load_digits()
    images = digits.images / 16.0
    angle = rng.uniform(-max_angle, max_angle, size=len(images))
    out = np.empty((len(images), size, size))
    for i, img in enumerate(images):
        big = ndimage.zoom(img, size / img.shape[0], order=1)
        out[i] = ndimage.rotate(big, angle[i], reshape=False, order=1, mode="constant")
    np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(len(images), -1), digits.target.copy(), angle
