"""Masks over a detector or a patch window: one type wherever a ``mask`` is taken.

A mask says which pixels of a frame count, and how much:

- ``None``: every pixel;
- ``"disk"``: the disk inscribed in the frame (radius half its shorter side);
- a number ``r``: the disk of radius ``r`` pixels;
- a pair ``(r_inner, r_outer)``: the annulus between them (``r_outer`` may be ``inf``);
- an array of the frame's shape: per-pixel weights, boolean or non-negative.

Radial masks are about a centre the caller knows: ``COMTransformer`` the
beam's, ``AtomPatchExtractor`` the atom's at the window's centre.
``parse_mask`` checks a mask once (before any pixel is read) and
``mask_weights`` turns it into weights about a centre.

>>> import numpy as np
>>> mask_weights(parse_mask("disk", (5, 5)), (5, 5), (2.0, 2.0)).astype(int)
array([[0, 1, 1, 1, 0],
       [1, 1, 1, 1, 1],
       [1, 1, 1, 1, 1],
       [1, 1, 1, 1, 1],
       [0, 1, 1, 1, 0]])
"""

import numpy as np

from ._utils import check_annulus, check_scalar

EXPECTED = ('None, "disk", a radius in pixels, (r_inner, r_outer) or an array of per-pixel weights of the '
            "frame's shape")


def parse_mask(mask, shape, name="mask", where="frame"):
    """A checked mask: ``None``, ``("radial", (inner, outer))`` or ``("array", weights)`` for frames of ``shape``.

    ``where`` names the frame in errors (the detector, the window).
    """
    if mask is None:
        return None
    if isinstance(mask, str):
        if mask != "disk":
            raise ValueError(f"{name} must be {EXPECTED}; got the string {mask!r}.")
        return ("radial", (0.0, min(shape) / 2))
    if np.ndim(mask) == 0:
        return ("radial", (0.0, check_scalar(mask, f"{name} (a disk radius in pixels)", positive=True)))
    if np.ndim(mask) == 1:
        return ("radial", check_annulus(mask, name, unit="pixels", strict=True, open_outer=True))
    image = np.asarray(mask)
    if image.shape != tuple(shape):
        raise ValueError(f"{name} has shape {image.shape}, but the {where} is {tuple(shape)}; {name} must be "
                         f"{EXPECTED}.")
    if image.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be boolean or numeric weights, got dtype {image.dtype}.")
    image = image.astype(np.float64)
    if not np.all(np.isfinite(image)) or np.any(image < 0):
        raise ValueError(f"{name} weights must be finite and non-negative.")
    if not np.any(image > 0):
        raise ValueError(f"{name} selects no {where} pixel.")
    return ("array", image)


def radial_distance(shape, center):
    """Distance of every pixel of a ``shape`` frame from ``center`` (row, col), pixels."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.hypot(yy - center[0], xx - center[1])


def ring(distance, radii, center, name, value, outer_closed, where="frame"):
    """Weights 1 on the pixels ``inner <= distance < outer`` (``<=`` with ``outer_closed``), 0 elsewhere.

    A ring that holds no pixel is an error naming the parameter, its value
    and the distances the frame's pixels span: a blank virtual image or a
    COM of nothing says nothing about the sample.
    """
    inner, outer = radii
    inside = (distance >= inner) & ((distance <= outer) if outer_closed else (distance < outer))
    if not inside.any():
        raise ValueError(
            f"{name}={value!r} covers no pixel of the {distance.shape[0]} x {distance.shape[1]} {where}: "
            f"its pixels lie {distance.min():.3g} to {distance.max():.3g} px from the centre "
            f"({center[0]:.4g}, {center[1]:.4g}). Give radii in pixels within that range."
        )
    return inside.astype(np.float64)


def mask_weights(parsed, shape, center, name="mask", value=None, where="frame"):
    """Per-pixel weights of a parsed mask about ``center``: ones without a mask; a radial mask includes its rim."""
    if parsed is None:
        return np.ones(shape)
    kind, data = parsed
    if kind == "radial":
        return ring(radial_distance(shape, center), data, center, name, value, outer_closed=True, where=where)
    return data
