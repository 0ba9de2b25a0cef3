"""Differential phase contrast (DPC) from centre-of-mass maps.

Functions on COM vector maps of shape ``(sy, sx, 2)`` whose last axis holds
the ``(x, y)`` components: x along scan columns (fast axis, to the right),
y along scan rows (slow axis, down on screen). ``COMTransformer`` produces
such maps already corrected for descan, rotation and flip; these functions
turn them into physics.

Signs. The electron is attracted by the positive nuclei, so its centre of
mass moves *towards* atomic columns: the COM (deflection) field converges
on the columns and its divergence is negative there. The electric field
points the other way (away from the nuclei), the projected charge density
``rho = eps0 div E`` is positive at the columns, and the phase ``phi`` with
``deflection = (lambda / 2 pi) grad phi`` peaks there.

Bad input. Every argument is checked where it enters, and an error names
it. A NaN or infinite value in a field is an error, not a NaN result: a
derivative would spread one bad scan position to its neighbours and the
Fourier integral to the whole map. Fill or interpolate missing positions
first; only :func:`fit_plane` takes a ``mask``, and ignores whatever lies
outside it (NaN included).

Examples
--------
>>> import numpy as np
>>> from sklearn_rvae.dpc import divergence, curl, integrate_gradient
>>> yy, xx = np.mgrid[:32, :32] - 15.5
>>> phi = np.exp(-(xx**2 + yy**2) / 20)
>>> gy, gx = np.gradient(phi)
>>> field = np.stack([gx, gy], -1)
>>> bool(divergence(field)[16, 16] < 0), float(abs(curl(field)).max()) < 1e-12
(True, True)
>>> rec = integrate_gradient(field)
>>> float(np.corrcoef(rec.ravel(), phi.ravel())[0, 1]) > 0.99
True
"""

import math
import numbers

import numpy as np

from ._utils import check_all_finite, check_scalar, real_array, scale_of

# CODATA 2018
ELECTRON_REST_ENERGY_EV = 510998.95
PLANCK_C_EV_ANGSTROM = 12398.419843320026  # h * c in eV * Angstrom
VACUUM_PERMITTIVITY = 8.8541878128e-12  # F / m
ELEMENTARY_CHARGE = 1.602176634e-19  # C

__all__ = [
    "apply_rotation",
    "curl",
    "direction_colors",
    "divergence",
    "electron_wavelength",
    "fit_plane",
    "fit_rotation",
    "integrate_gradient",
    "interaction_voltage",
]


def _check_field_finite(array, name, where=None, hint="; fill or interpolate missing scan positions first"):
    check_all_finite(array, name, where, hint)


def _check_flip(flip, allow_none=False):
    if isinstance(flip, (bool, np.bool_)) or (allow_none and flip is None):
        return None if flip is None else bool(flip)
    # A string such as "no" would be truthy: take only real booleans.
    raise TypeError(f"flip must be True or False{' or None (fit it)' if allow_none else ''}, got {flip!r}.")


def _finite_result(result, what):
    # Finite input can still overflow (a spacing of 1e-320, or 1e200 whose
    # squared frequencies underflow to zero): say so rather than return inf.
    if not np.all(np.isfinite(result)):
        raise ValueError(f"the result overflows float64 for {what}; express them in other units.")
    return result


def _check_field(field, name="field"):
    field = real_array(field, name)
    if field.ndim != 3 or field.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (sy, sx, 2) with (x, y) components, got {field.shape}.")
    if field.shape[0] < 2 or field.shape[1] < 2:
        raise ValueError(f"{name} needs at least 2 x 2 scan positions for derivatives, got {field.shape[:2]}.")
    _check_field_finite(field, name)
    return field


def divergence(field, spacing=1.0):
    """Divergence ``d field_x / dx + d field_y / dy`` (central differences).

    Parameters
    ----------
    field : array of shape (sy, sx, 2)
        Vector map, last axis (x, y).
    spacing : float, default=1.0
        Scan step (finite, > 0), in the length unit the result should be per.

    Returns
    -------
    ndarray of shape (sy, sx)

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:4, :5].astype(float)
    >>> divergence(np.stack([xx, yy], -1), spacing=0.5)[0, 0]  # d x / dx + d y / dy, per 0.5
    np.float64(4.0)
    """
    f = _check_field(field)
    spacing = check_scalar(spacing, "spacing", positive=True)
    scale = scale_of(f)
    f = f / scale
    with np.errstate(over="ignore", invalid="ignore"):
        div = (np.gradient(f[..., 0], axis=1) + np.gradient(f[..., 1], axis=0)) / spacing * scale
    return _finite_result(div, f"this field and spacing={spacing!r}")


def curl(field, spacing=1.0):
    """Curl ``d field_y / dx - d field_x / dy`` (central differences).

    The deflection field of a thin sample is a gradient, so its curl is zero;
    a large curl after calibration means a wrong rotation or flip.

    Parameters
    ----------
    field : array of shape (sy, sx, 2)
        Vector map, last axis (x, y).
    spacing : float, default=1.0
        Scan step (finite, > 0), in the length unit the result should be per.

    Returns
    -------
    ndarray of shape (sy, sx)
    """
    f = _check_field(field)
    spacing = check_scalar(spacing, "spacing", positive=True)
    scale = scale_of(f)
    f = f / scale
    with np.errstate(over="ignore", invalid="ignore"):
        rot = (np.gradient(f[..., 1], axis=1) - np.gradient(f[..., 0], axis=0)) / spacing * scale
    return _finite_result(rot, f"this field and spacing={spacing!r}")


def apply_rotation(vectors, rotation_deg, flip):
    """Map detector-frame vectors to the scan frame: flip first, then rotate.

    ``flip`` mirrors the detector y component (``y -> -y``); the rotation by
    ``rotation_deg`` then maps ``(x, y)`` to
    ``(x cos t - y sin t, x sin t + y cos t)``. With y pointing down on screen
    a positive angle turns vectors clockwise on screen. This is LiberTEM's
    ``scan_rotation`` / ``flip_y`` convention, so calibrations carry over.

    Parameters
    ----------
    vectors : array of shape (..., 2)
        ``(x, y)`` components in the detector frame (finite).
    rotation_deg : float
        Finite angle in degrees.
    flip : bool

    Returns
    -------
    ndarray of shape (..., 2)

    Examples
    --------
    >>> apply_rotation([1.0, 0.0], 90, flip=False).round(12).tolist()  # +x turns into +y (down)
    [0.0, 1.0]
    >>> apply_rotation([0.0, 1.0], 0, flip=True).tolist()
    [0.0, -1.0]
    """
    vectors = real_array(vectors, "vectors")
    if vectors.ndim < 1 or vectors.shape[-1] != 2:
        raise ValueError(f"vectors must have shape (..., 2) with (x, y) components, got {vectors.shape}.")
    _check_field_finite(vectors, "vectors")
    return vectors @ rotation_matrix(rotation_deg, flip).T


def rotation_matrix(rotation_deg, flip):
    """The 2 x 2 matrix of :func:`apply_rotation` acting on ``(x, y)`` column vectors."""
    t = math.radians(check_scalar(rotation_deg, "rotation_deg", expected="a finite angle in degrees"))
    flip = _check_flip(flip)
    c, s = math.cos(t), math.sin(t)
    rot = np.array([[c, -s], [s, c]])
    return rot @ np.diag([1.0, -1.0]) if flip else rot


def fit_plane(values, mask=None):
    """Least-squares plane over the scan for each component.

    Parameters
    ----------
    values : array of shape (sy, sx, c)
        Finite at every position the mask keeps.
    mask : bool array of shape (sy, sx) or None
        Positions to fit, at least one; the others are ignored (their
        values may be NaN). ``None`` fits every position.

    Returns
    -------
    coef : ndarray of shape (c, 3)
        ``[offset, per scan row, per scan column]``: the plane is
        ``offset + coef_row * row + coef_col * col`` with integer indices.
        Fewer than three positions off one line leave the plane
        underdetermined: the least-squares plane of smallest norm is
        returned, which still passes through the values it was given.

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = np.mgrid[:3, :4]
    >>> values = (1.0 + 2.0 * rows - 0.5 * cols)[..., None]
    >>> values[0, 0] = np.nan  # a bad position, masked out
    >>> fit_plane(values, mask=np.isfinite(values[..., 0])).round(6).tolist()
    [[1.0, 2.0, -0.5]]
    """
    values = real_array(values, "values")
    if values.ndim != 3 or 0 in values.shape:
        raise ValueError(f"values must have shape (sy, sx, c) with sy, sx, c >= 1, got {values.shape}.")
    sy, sx = values.shape[:2]
    rows, cols = np.mgrid[:sy, :sx]
    design = np.stack([np.ones(sy * sx), rows.ravel(), cols.ravel()], 1)
    target = values.reshape(sy * sx, -1)
    if mask is not None:
        mask = np.asarray(mask)
        # Only booleans: an integer array could be meant as indices, not a mask.
        if mask.dtype != bool:
            raise TypeError(f"mask must be a boolean array of shape (sy, sx) = {(sy, sx)}, got dtype {mask.dtype}.")
        if mask.shape != (sy, sx):
            raise ValueError(f"mask must have the scan shape (sy, sx) = {(sy, sx)} of values, got {mask.shape}.")
        if not mask.any():
            raise ValueError("mask is all False: there is no position to fit the plane to.")
        keep = mask.ravel()
        design, target = design[keep], target[keep]
    _check_field_finite(values, "values", where=None if mask is None else mask[..., None],
                      hint="" if mask is None else " (a position the mask keeps)")
    # Columns that are constant (one scan row or column) would make the
    # system singular; lstsq returns the minimum-norm plane then.
    scale = scale_of(target)
    coef, *_ = np.linalg.lstsq(design, target / scale, rcond=None)
    with np.errstate(over="ignore"):
        coef = coef.T * scale
    return _finite_result(coef, "these values")


def evaluate_plane(coef, scan_shape):
    """Values of :func:`fit_plane` planes over the scan, shape (sy, sx, c).

    Parameters
    ----------
    coef : array of shape (c, 3)
        Finite plane coefficients, as :func:`fit_plane` returns them.
    scan_shape : (int, int)
        ``(sy, sx)``, each >= 1.
    """
    coef = real_array(coef, "coef")
    if coef.ndim != 2 or coef.shape[1] != 3:
        raise ValueError(f"coef must have shape (c, 3) (offset, per row, per column), got {coef.shape}.")
    _check_field_finite(coef, "coef", hint="")
    shape = tuple(scan_shape) if isinstance(scan_shape, (tuple, list, np.ndarray)) else ()
    if len(shape) != 2 or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, (bool, np.bool_)) and n >= 1 for n in shape
    ):
        raise ValueError(f"scan_shape must be two integers (sy, sx) >= 1, got {scan_shape!r}.")
    sy, sx = (int(n) for n in shape)
    rows, cols = np.mgrid[:sy, :sx]
    with np.errstate(over="ignore", invalid="ignore"):
        plane = (
            coef[:, 0][None, None, :]
            + rows[..., None] * coef[:, 1][None, None, :]
            + cols[..., None] * coef[:, 2][None, None, :]
        )
    return _finite_result(plane, "these coef and scan_shape")


def fit_rotation(field, *, rotation_deg=None, flip=None, column_quantile=0.99):
    """Scan rotation and flip that make a deflection map curl-free.

    For each flip state the curl of the rotated field is
    ``cos t * curl(u) + sin t * div(u)``, so the angle of least total squared
    curl is the eigenvector of a 2 x 2 matrix (closed form, no grid search).
    That leaves a 180-degree ambiguity (the curl does not change sign with the
    field); it is resolved by the divergence at atomic columns, where the
    deflection converges, so the divergence must be negative there. The
    columns are taken as the positions where ``|div|`` is largest (above its
    ``column_quantile`` quantile): at atomic resolution the divergence is
    sharply peaked on the columns and weak and broad between them.

    Parameters
    ----------
    field : array of shape (sy, sx, 2)
        Deflection (COM shift) map in the detector frame, ``(x, y)`` last
        axis, descan already removed.
    rotation_deg : float or None
        Fix the angle (finite, degrees) and fit only the flip.
    flip : bool or None
        Fix the flip and fit only the angle.
    column_quantile : float in [0, 1], default=0.99

    Returns
    -------
    rotation_deg : float in [-180, 180)
    flip : bool
    curl_fraction : float
        Squared curl over squared curl plus squared divergence after the
        correction: near 0 for a good calibration of atomic-resolution data.
        A field with neither curl nor divergence (a zero or uniform one)
        does not determine the angle: it gives 0 (or the fixed angle), no
        flip, and a fraction of 0.
    """
    field = _check_field(field)
    if rotation_deg is not None:
        rotation_deg = check_scalar(rotation_deg, "rotation_deg", expected="None or a finite angle in degrees")
    flip = _check_flip(flip, allow_none=True)
    column_quantile = check_scalar(column_quantile, "column_quantile", expected="a quantile in [0, 1]")
    if not 0.0 <= column_quantile <= 1.0:
        raise ValueError(f"column_quantile must be a quantile in [0, 1], got {column_quantile!r}.")
    # The angle, flip and fraction do not depend on the field's scale; squares of 1e200 would.
    field = field / scale_of(field)
    candidates = []
    for f in ([False, True] if flip is None else [bool(flip)]):
        u = field * np.array([1.0, -1.0 if f else 1.0])
        C, D = curl(u), divergence(u)
        gram = np.array([[np.sum(C * C), np.sum(C * D)], [np.sum(C * D), np.sum(D * D)]])
        if rotation_deg is None:
            eigval, eigvec = np.linalg.eigh(gram)
            c, s = eigvec[:, 0]
            theta = math.atan2(s, c)
        else:
            theta = math.radians(rotation_deg)
            c, s = math.cos(theta), math.sin(theta)
        curl_sq = float(np.sum((c * C + s * D) ** 2))
        div_map = c * D - s * C
        total = float(np.trace(gram))
        fraction = curl_sq / total if total > 0 else 0.0
        if rotation_deg is None:
            top = np.abs(div_map) >= np.quantile(np.abs(div_map), column_quantile)
            if np.sum(div_map[top]) > 0:
                theta += math.pi
        candidates.append((fraction, f, theta))
    fraction, f, theta = min(candidates, key=lambda item: item[0])
    deg = (math.degrees(theta) + 180.0) % 360.0 - 180.0
    return deg, f, fraction


def integrate_gradient(field, spacing=1.0, padding="mirror", highpass=0.0):
    """Integrate a gradient field by Fourier inversion (DPC / iCOM phase).

    Solves ``grad phi = field`` in the least-squares sense:
    ``phi_hat = -i (kx gx_hat + ky gy_hat) / (2 pi (k^2 + k_hp^2))``.

    Parameters
    ----------
    field : array of shape (sy, sx, 2)
        ``(x, y)`` gradient components, per ``spacing``.
    spacing : float, default=1.0
        Scan step.
    padding : {"mirror", "zero", "none"}, default="mirror"
        ``"mirror"`` integrates the even extension of phi (the gradient is
        mirrored with the sign changes that implies), which is periodic, so
        no edge artefacts (a cosine-transform Poisson solve). ``"zero"`` pads
        the field with zeros to twice its size; ``"none"`` treats the scan as
        periodic.
    highpass : float, default=0.0
        ``k_hp`` in cycles per unit length: damps spatial frequencies below
        it, which suppresses the long-range drift that noise and residual
        descan integrate into. At most the Nyquist frequency ``0.5 / spacing``.

    Returns
    -------
    phi : ndarray of shape (sy, sx), mean zero.
    """
    field = _check_field(field)
    if not (isinstance(padding, str) and padding in ("mirror", "zero", "none")):
        raise ValueError(f"padding must be 'mirror', 'zero' or 'none', got {padding!r}.")
    highpass = check_scalar(highpass, "highpass", nonnegative=True)
    spacing = check_scalar(spacing, "spacing", positive=True)
    if highpass * spacing > 0.5:
        # Past the Nyquist frequency every component is damped: no phase is left.
        raise ValueError(
            f"highpass={highpass!r} is above the Nyquist frequency 0.5 / spacing = {0.5 / spacing:.4g} "
            "cycles per unit length; it would damp every frequency of the scan."
        )
    scale = scale_of(field)
    field = field / scale
    sy, sx = field.shape[:2]
    gx, gy = field[..., 0], field[..., 1]
    if padding == "mirror":
        # phi(x) even about the edges  =>  gx odd in x, even in y; gy the reverse.
        gx = np.concatenate([gx, -gx[:, ::-1]], 1)
        gx = np.concatenate([gx, gx[::-1]], 0)
        gy = np.concatenate([gy, gy[:, ::-1]], 1)
        gy = np.concatenate([gy, -gy[::-1]], 0)
    elif padding == "zero":
        gx = np.pad(gx, ((0, sy), (0, sx)))
        gy = np.pad(gy, ((0, sy), (0, sx)))
    ny, nx = gx.shape
    with np.errstate(all="ignore"):
        ky = np.fft.fftfreq(ny, d=spacing)[:, None]
        kx = np.fft.rfftfreq(nx, d=spacing)[None, :]
        denom = 2j * math.pi * (kx**2 + ky**2 + highpass**2)
        denom[0, 0] = 1.0
        phi_hat = (kx * np.fft.rfft2(gx) + ky * np.fft.rfft2(gy)) / denom
        phi_hat[0, 0] = 0.0
        phi = np.fft.irfft2(phi_hat, s=(ny, nx))[:sy, :sx]
        phi = (phi - phi.mean()) * scale
    return _finite_result(phi, f"this field, spacing={spacing!r} and highpass={highpass!r}")


def electron_wavelength(energy):
    """Relativistic electron wavelength in Angstrom for a beam energy in eV.

    Examples
    --------
    >>> round(electron_wavelength(300e3), 5)
    0.01969
    """
    energy = check_scalar(energy, "energy", positive=True, expected="a finite beam energy in eV > 0")
    # Two square roots: the product would overflow for absurd energies.
    pc = math.sqrt(energy) * math.sqrt(energy + 2 * ELECTRON_REST_ENERGY_EV)
    return PLANCK_C_EV_ANGSTROM / pc


def interaction_voltage(energy):
    """``p v / e`` in volts for a beam energy in eV.

    A projected transverse field ``E t`` (volts) deflects the beam by
    ``theta = -e E t / (p v)`` radians, so ``E t = -theta * p v / e``.
    """
    energy = check_scalar(energy, "energy", positive=True, expected="a finite beam energy in eV > 0")
    # E (E + 2 m) / (E + m): (E + m)^2 - m^2 cancels to 0 for tiny E.
    return energy * ((energy + 2 * ELECTRON_REST_ENERGY_EV) / (energy + ELECTRON_REST_ENERGY_EV))


def direction_colors(field, max_magnitude=None):
    """RGB image of a vector field: hue = direction, brightness = magnitude (the DPC colour wheel).

    Hue runs with ``arctan2(field_y, field_x)``: red along +x, yellow-green
    along +y, cyan along -x, violet along -y (with row 0 at the top, +y
    points down on screen). Full saturation; black where the field is zero.

    Parameters
    ----------
    field : array-like of shape (..., 2)
        Vectors (x, y), for example a COM map from ``COMTransformer.com_map``.
    max_magnitude : float or None, default=None
        Magnitude shown at full brightness (finite, > 0; larger ones are
        clipped); ``None`` takes the largest in the field (an all-zero
        field is then all black).

    Returns
    -------
    ndarray of shape (..., 3), float64 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> direction_colors(np.array([[1.0, 0.0], [0.0, 0.0]])).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    field = real_array(field, "field")
    if field.ndim < 1 or field.shape[-1] != 2:
        raise ValueError(f"field must have shape (..., 2) with (x, y) components, got {field.shape}.")
    if field.size == 0:
        raise ValueError(f"field holds no vectors, got shape {field.shape}.")
    _check_field_finite(field, "field")
    if max_magnitude is not None:
        max_magnitude = check_scalar(max_magnitude, "max_magnitude", positive=True,
                                      expected="None or a finite magnitude > 0")
    if max_magnitude is None:
        field = field / scale_of(field)  # hypot of 1e308s is inf, and inf / inf NaN
    magnitude = np.hypot(field[..., 0], field[..., 1])
    top = float(magnitude.max()) if max_magnitude is None else max_magnitude
    value = np.clip(magnitude / top, 0.0, 1.0) if top > 0 else np.zeros_like(magnitude)
    hue6 = (np.arctan2(field[..., 1], field[..., 0]) / (2 * np.pi)) % 1.0 * 6.0
    sector = np.floor(hue6).astype(int) % 6
    f = hue6 - np.floor(hue6)
    v, q, t, zero = value, value * (1 - f), value * f, np.zeros_like(value)
    # HSV -> RGB at full saturation, one sector of the wheel at a time.
    channels = [
        (v, t, zero), (q, v, zero), (zero, v, t), (zero, q, v), (t, zero, v), (v, zero, q),
    ]
    rgb = np.zeros(value.shape + (3,))
    for k, (r, g, b) in enumerate(channels):
        here = sector == k
        rgb[here] = np.stack([r[here], g[here], b[here]], -1)
    return rgb
