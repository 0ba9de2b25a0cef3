"""ABF-STEM images of a perovskite cell by multislice (abTEM), and the experimental conditions added to them.

``simulate_abf`` runs the microscope on one periodic cell (noise-free, a
fraction of the beam per pixel); ``postprocess_abf`` adds what a recording
adds: the source's blur, shot noise at a dose and scan-row jitter.
"""

import math
import numbers

import numpy as np
from sklearn.utils._param_validation import validate_params

from .._deprecation import renamed_parameters
from .._utils import Interval, check_annulus, local_random_state
from ._checks import check_poisson_mean
from ._perovskite_crystal import _check_atoms

_POSITIVE = [Interval(numbers.Real, 0, None, closed="neither")]
_MICROSCOPE = {
    "energy": _POSITIVE,
    "semiangle": _POSITIVE,
    "detector": ["array-like", None],
    "defocus": [Interval(numbers.Real, None, None, closed="neither")],
    "thickness_periods": [Interval(numbers.Integral, 1, None, closed="left")],
    "frozen_phonons": [Interval(numbers.Integral, 0, None, closed="left")],
    "pixel_size": _POSITIVE,
    "potential_sampling": _POSITIVE,
    "slice_thickness": _POSITIVE,
}


def _check_detector(detector, semiangle):
    """``(inner, outer)`` ABF angles in mrad, ``None`` meaning ``(semiangle / 2, semiangle)``."""
    if detector is None:
        return semiangle / 2, semiangle
    return check_annulus(detector, "detector", unit="mrad", what="angles", strict=True)


@renamed_parameters(sampling="pixel_size")
@validate_params(
    {
        **_MICROSCOPE,
        "phonon_sigma": [Interval(numbers.Real, 0, None, closed="left")],
        "x_repeats": [Interval(numbers.Integral, 1, None, closed="left")],
        "window": [tuple, list, None],
        "random_state": [Interval(numbers.Integral, 0, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def simulate_abf(atoms, *, energy=300e3, semiangle=25.0, detector=None, defocus=0.0, thickness_periods=4,
                 frozen_phonons=0, phonon_sigma=0.08, pixel_size=0.25, potential_sampling=0.08, slice_thickness=2.0,
                 method="multislice", x_repeats=1, window=None, random_state=0):
    """ABF-STEM image of one periodic cell (abTEM), shape (ny, nx), fraction of the beam.

    Parameters
    ----------
    atoms : ase.Atoms
        Orthogonal periodic cell, beam along z (for example :func:`orient_110`).
    energy : float, default=300e3
        eV.
    semiangle : float, default=25.0
        Probe convergence semi-angle, mrad.
    detector : (inner, outer) or None
        ABF collection angles in mrad; ``None`` is ``(semiangle / 2, semiangle)``.
    defocus : float, default=0.0
        Angstrom (positive = underfocus, abTEM's convention).
    thickness_periods : int, default=4
        Repeats of the cell along the beam.
    frozen_phonons : int, default=0
        Number of frozen-phonon configurations (0: static lattice).
    phonon_sigma : float, default=0.08
        RMS thermal displacement, Angstrom.
    pixel_size : float, default=0.25
        Output pixel size (scan step), Angstrom.
    potential_sampling : float, default=0.08
        Real-space sampling of the potential and waves, Angstrom. The FFT
        grid is rounded up to an FFT-friendly size (2^a 3^b 5^c 7^d): a
        prime grid is several times slower.
    slice_thickness : float, default=2.0
        Multislice slice thickness, Angstrom.
    method : {"multislice", "prism"}, default="multislice"
        Multislice per probe position, or PRISM (abTEM's S-matrix, without
        interpolation). Measured on the 2-core CPU for a 44 x 32 scan of a
        2x2x2 SrTiO3 supercell along [110], 44 A thick: 9.1 s multislice
        against 12.1 s PRISM at 0.08 A potential sampling, but 23.9 s
        against 15.7 s at 0.06 A; the cheaper method depends on the grid.
    x_repeats : int, default=1
        The structure (slab included) repeats itself ``x_repeats`` times
        across the cell width, so only the first ``1 / x_repeats`` of the
        width is scanned and the image is tiled: exact, and that many times
        cheaper. The caller vouches for the symmetry (for ``a-b-c-`` tilts
        along [110], the [1-10] half-cell translation is one).
    window : ((y0, x0), (h, w)) or None
        Scan only an ``h`` x ``w`` grid of exactly ``pixel_size`` Angstrom
        per pixel, its first pixel at ``(y0, x0)`` Angstrom (positions past
        the cell wrap: the potential is periodic). This is how a microscope
        samples: no whole-pixel cell, no tiling (``x_repeats`` is ignored).
    random_state : int or None
        Seeds the frozen phonons (``None``: abTEM's own fresh seed).

    The image has ``ceil(width / pixel_size)`` (rounded up to a multiple of
    ``x_repeats``) by ``ceil(height / pixel_size)`` pixels, pixel ``j`` at
    ``j * width / nx``: the pixel size is ``pixel_size`` or a little finer.
    """
    _check_atoms(atoms)
    inner, outer = _check_detector(detector, semiangle)
    if not (isinstance(method, str) and method in ("prism", "multislice")):
        raise ValueError(f"method must be 'prism' or 'multislice', got {method!r}.")
    if window is not None:
        try:
            (y0, x0), (wh, ww) = window
        except (TypeError, ValueError):
            y0 = x0 = wh = ww = None
        corner_ok = all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in (y0, x0))
        size_ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in (wh, ww))
        if not (corner_ok and size_ok):
            raise ValueError(f"window must be ((y0, x0), (h, w)): a finite corner in Angstrom and a size of at least "
                             f"1 x 1 pixels, got {window!r}.")
    import abtem

    abtem.config.set({"device": "cpu", "fft": "fftw"})
    crystal = atoms * (1, 1, int(thickness_periods))
    extent = crystal.cell.lengths()[:2]
    gpts = tuple(_fft_friendly(int(np.ceil(e / potential_sampling))) for e in extent)
    if frozen_phonons:
        crystal = abtem.FrozenPhonons(crystal, num_configs=int(frozen_phonons), sigmas=phonon_sigma, seed=random_state)
    potential = abtem.Potential(crystal, gpts=gpts, slice_thickness=slice_thickness, projection="infinite")
    x_repeats = int(x_repeats)
    if x_repeats < 1:
        raise ValueError(f"x_repeats must be a positive integer, got {x_repeats!r}.")
    nx = x_repeats * int(np.ceil(extent[0] / x_repeats / pixel_size - 1e-9))
    ny = int(np.ceil(extent[1] / pixel_size - 1e-9))
    if window is not None:
        (y0, x0), (wh, ww) = window
        x_repeats, nx, ny = 1, int(ww), int(wh)
        scan = abtem.GridScan(start=(x0, y0), end=(x0 + ww * pixel_size, y0 + wh * pixel_size), gpts=(ww, wh),
                              endpoint=False)
    else:
        scan = abtem.GridScan(start=(0, 0), end=(extent[0] / x_repeats, extent[1]), gpts=(nx // x_repeats, ny),
                              endpoint=False)
    abf = abtem.AnnularDetector(inner=inner, outer=outer)
    if method == "prism":
        probe = abtem.SMatrix(potential=potential, energy=energy, semiangle_cutoff=semiangle, interpolation=1)
        if defocus:
            measurement = probe.scan(scan=scan, detectors=abf, ctf=abtem.CTF(defocus=defocus))
        else:
            measurement = probe.scan(scan=scan, detectors=abf)
    else:
        probe = abtem.Probe(energy=energy, semiangle_cutoff=semiangle, defocus=defocus)
        measurement = probe.scan(potential, scan=scan, detectors=abf)
    if frozen_phonons:
        measurement = measurement.mean(0)
    image = np.asarray(measurement.compute(progress_bar=False).array, dtype=np.float64)
    return np.tile(image.T, (1, x_repeats))  # abTEM indexes (x, y); rows are y here


def _fft_friendly(n):
    while True:
        m = n
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


@renamed_parameters(sampling="pixel_size", scan_noise="scan_jitter")
@validate_params(
    {
        "image": ["array-like"],
        "pixel_size": _POSITIVE,
        "source_size": [Interval(numbers.Real, 0, None, closed="left")],
        "dose": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "scan_jitter": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def postprocess_abf(image, *, pixel_size, source_size=0.3, dose=None, scan_jitter=0.0, random_state=None):
    """Experimental conditions on a simulated image: source blur, shot noise, scan noise.

    Parameters
    ----------
    image : ndarray (ny, nx), fraction of the beam
        Finite real values.
    pixel_size : float
        Angstrom per pixel.
    source_size : float, default=0.3
        FWHM of the Gaussian effective source, Angstrom.
    dose : float or None
        Electrons per square Angstrom; Poisson counts when given (at most
        1e18 electrons per pixel).
    scan_jitter : float, default=0.0
        RMS row displacement along the fast axis, pixels.
    random_state : int, RandomState instance or None, default=None
        Seeds the scan and shot noise; ``None`` draws a seed from the OS
        (numpy's global random state is left as it was).
    """
    from scipy import ndimage

    out = np.asarray(image)
    if out.dtype.kind not in "biuf" or out.ndim != 2 or out.size == 0:
        raise ValueError(f"image must be a non-empty 2-D array of real numbers, got dtype {out.dtype} "
                         f"and shape {out.shape}.")
    out = out.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"image contains {int(np.sum(~np.isfinite(out)))} NaN or infinite value(s).")
    if dose is not None:
        check_poisson_mean(dose * pixel_size**2 * max(float(out.max()), 0.0), f"dose={dose!r}")
    rng = local_random_state(random_state)
    if source_size:
        out = ndimage.gaussian_filter(out, source_size / 2.3548 / pixel_size, mode="wrap")
    if scan_jitter:
        shifts = rng.normal(scale=scan_jitter, size=out.shape[0])
        out = np.stack([ndimage.shift(row, s, order=1, mode="wrap") for row, s in zip(out, shifts)])
    if dose is not None:
        electrons = dose * pixel_size**2
        out = rng.poisson(np.clip(out, 0, None) * electrons) / electrons
    return out
