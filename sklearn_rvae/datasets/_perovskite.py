"""Perovskite ABO3 supercells with Glazer octahedral tilts (ASE Atoms).

Corner sharing ties neighbouring octahedra together: along every B-O-B
link, the rotation components perpendicular to the link must be opposite
on the two B sites, otherwise the shared oxygen would have to be in two
places. Glazer's notation describes exactly the patterns that respect it:
the rotation about axis k alternates in sign between neighbours along the
two axes perpendicular to k, and along k itself it keeps its sign
(in-phase, ``+``) or alternates (anti-phase, ``-``). Each oxygen is placed
at the mean of where its two B neighbours' rotated octahedra put it, so it
is shared by construction and B-O bonds keep their length to second order
in the angle; the pseudo-cubic spacing shrinks by the projection of the
rotated bond (``a cos(tilt)`` for a single tilt), as in tilted perovskites.
"""

import math
import numbers
import os
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params

from .._deprecation import renamed_parameters
from .._periodic_cells import PeriodicCells
from .._perovskite_symmetry import MIRRORS_110
from .._progress import Progress
from .._utils import (
    Interval,
    check_annulus,
    check_int_tuple,
    check_real_tuple,
    local_random_state,
    seed_from,
)
from ._checks import check_poisson_mean

PEROVSKITES = {
    # name: (A, B, pseudo-cubic lattice constant in Angstrom)
    "SrTiO3": ("Sr", "Ti", 3.905),
    "CaTiO3": ("Ca", "Ti", 3.83),
    "BaTiO3": ("Ba", "Ti", 4.00),
    "LaAlO3": ("La", "Al", 3.79),
}


def _rotation_matrix(angles_deg):
    """Small-rotation matrix for rotations (degrees) about x, y, z: exp of the skew matrix."""
    w = np.radians(np.asarray(angles_deg, dtype=np.float64))
    theta = np.linalg.norm(w)
    if theta == 0:
        return np.eye(3)
    k = w / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * K + (1 - math.cos(theta)) * K @ K


def _check_glazer(glazer):
    if not isinstance(glazer, (str, tuple, list, np.ndarray)):
        raise ValueError(f"glazer must give '+', '-' or '0' for each of the axes a, b, c (for example 'a-b-c+' or "
                         f"('-', '-', '+')), got {glazer!r}.")
    if isinstance(glazer, str):
        signs = glazer.replace("a", "").replace("b", "").replace("c", "").replace("0", "")
        if len(glazer) == 6 and all(ch in "+-0" for ch in glazer[1::2]):
            signs = glazer[1::2]
        glazer = tuple(signs)
    glazer = tuple(glazer)
    if len(glazer) != 3 or not all(g in ("+", "-", "0") for g in glazer):
        raise ValueError(
            f"glazer must give '+', '-' or '0' for each of the axes a, b, c (for example 'a-b-c+' or "
            f"('-', '-', '+')), got {glazer!r}."
        )
    return glazer


def octahedral_signs(index, glazer):
    """Sign (+1, -1 or 0) of the rotation about each axis for the B site at integer ``index``."""
    glazer = _check_glazer(glazer)
    index = np.asarray(index)
    signs = np.ones(index.shape[:-1] + (3,))
    for k in range(3):
        if glazer[k] == "0":
            signs[..., k] = 0
            continue
        others = [m for m in range(3) if m != k]
        parity = index[..., others[0]] + index[..., others[1]]
        if glazer[k] == "-":
            parity = parity + index[..., k]
        signs[..., k] = np.where(parity % 2 == 0, 1, -1)
    return signs


def perovskite_supercell(material="SrTiO3", tilts=(0.0, 0.0, 0.0), glazer="a-b-c-", repeats=(2, 2, 2), *, a=None,
                         species=None):
    """ABO3 supercell with octahedral rotations, as an ASE Atoms object (pseudo-cubic axes x, y, z).

    Parameters
    ----------
    material : str, default="SrTiO3"
        A preset of :data:`PEROVSKITES` (SrTiO3, CaTiO3, BaTiO3, LaAlO3).
    tilts : (alpha, beta, gamma), degrees
        Rotation angles of the octahedra about the pseudo-cubic a, b, c axes.
    glazer : str or 3-tuple, default="a-b-c-"
        Phase of the rotation along each axis: ``'+'`` in-phase, ``'-'``
        anti-phase, ``'0'`` none (the angle is ignored); letters are
        ignored, so ``'a-a-c+'`` and ``'-,-,+'`` both work.
    repeats : (int, int, int), default=(2, 2, 2)
        Pseudo-cubic cells along x, y, z; must be even along every axis
        whose sign pattern alternates, so that the supercell is periodic.
    a : float or None
        Lattice constant override, Angstrom (finite, > 0).
    species : (A, B) or None
        Cation override, for example ``("Ba", "Zr")``: two chemical symbols.

    Returns
    -------
    atoms : ase.Atoms
        Atoms tagged 0 (A), 1 (B) and 2 (O); ``atoms.info`` holds the
        tilts, the Glazer pattern, the lattice constant and, for each O,
        the indices of its two B neighbours (``"o_neighbours"``).
    """
    import ase
    from ase.data import atomic_numbers

    known = isinstance(material, str) and material in PEROVSKITES
    if not known and (species is None or a is None):
        raise ValueError(f"material must be one of {sorted(PEROVSKITES)} (or give species and a), got {material!r}.")
    A, B, a0 = PEROVSKITES[material] if known else (None, None, None)
    if species is not None:
        if not (isinstance(species, (tuple, list)) and len(species) == 2
                and all(isinstance(e, str) and e in atomic_numbers for e in species)):
            raise ValueError(f"species must be two chemical symbols (A, B), for example ('Ba', 'Zr'), got {species!r}.")
        A, B = species
    if a is not None and not (isinstance(a, numbers.Real) and not isinstance(a, bool) and math.isfinite(a) and a > 0):
        raise ValueError(f"a must be None or a finite lattice constant > 0 in Angstrom, got {a!r}.")
    a = a0 if a is None else float(a)
    tilts = np.array(check_real_tuple(tilts, "tilts", 3, expected="three finite angles in degrees within +-20"))
    if np.any(np.abs(tilts) > 20):
        raise ValueError(f"tilts must be three finite angles in degrees within +-20, got {tuple(tilts.tolist())}.")
    glazer = _check_glazer(glazer)
    repeats = check_int_tuple(repeats, "repeats", 3)
    for axis in range(3):
        alternating = any(
            glazer[k] != "0" and (k != axis or glazer[k] == "-") for k in range(3)
        )
        if alternating and repeats[axis] % 2:
            raise ValueError(
                f"repeats[{axis}]={repeats[axis]} must be even: the Glazer pattern {''.join(glazer)} alternates "
                "along that axis, so an odd supercell is not periodic."
            )
    nx, ny, nz = repeats
    index = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij"), -1).reshape(-1, 3)
    signs = octahedral_signs(index, glazer)
    rotations = [_rotation_matrix(s * tilts) for s in signs]
    # Rigid octahedra pull their B neighbours closer: along axis k the B-B
    # spacing is the projection of two rotated half-bonds, a * R_kk. R_kk
    # depends on the squared angles only, so it is the same for every site.
    shrink = np.array([rotations[0][k, k] for k in range(3)]) if len(rotations) else np.ones(3)
    spacing = a * shrink
    b_sites = (index + 0.5) * spacing
    flat = {tuple(i): n for n, i in enumerate(index)}
    positions, symbols, tags, o_neighbours = [], [], [], []
    for i in index:
        positions.append(i * spacing)
        symbols.append(A)
        tags.append(0)
    for n in range(len(index)):
        positions.append(b_sites[n])
        symbols.append(B)
        tags.append(1)
    # Each B owns the O at +a/2 along x, y and z; the neighbour across sees it at -a/2.
    for n, i in enumerate(index):
        for k in range(3):
            step = np.zeros(3, dtype=int)
            step[k] = 1
            m = flat[tuple((i + step) % repeats)]
            half = np.zeros(3)
            half[k] = a / 2
            link = np.zeros(3)
            link[k] = spacing[k]
            from_n = b_sites[n] + rotations[n] @ half
            from_m = b_sites[n] + link - rotations[m] @ half
            positions.append((from_n + from_m) / 2)
            symbols.append("O")
            tags.append(2)
            o_neighbours.append((len(index) + n, len(index) + m))
    cell = np.diag(np.array(repeats, dtype=np.float64) * spacing)
    atoms = ase.Atoms(symbols, positions=np.array(positions), cell=cell, pbc=True, tags=tags)
    # Per-atom rotation senses: the label of the octahedron around each B (0 rows for A and O).
    tilt_signs = np.zeros((len(atoms), 3))
    tilt_signs[len(index) : 2 * len(index)] = signs
    atoms.set_array("tilt_signs", tilt_signs)
    atoms.wrap()
    atoms.info.update(tilts=tuple(tilts), glazer="".join(glazer), a=a, o_neighbours=np.array(o_neighbours))
    return atoms


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "size": [Interval(numbers.Integral, 4, None, closed="left")],
        "tilt_range": ["array-like"],
        "material": [StrOptions(set(PEROVSKITES))],
        "glazer": [str, tuple, list, np.ndarray],
        "sigma": [Interval(numbers.Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_synthetic_tilt_patches(n_samples=400, *, size=24, tilt_range=(0.0, 10.0), material="SrTiO3",
                                glazer="a-b-c-", sigma=0.35, random_state=0):
    """Fast stand-in for ABF patches: projected [001] images of tilted perovskite supercells.

    Each patch renders a 2x2x2 supercell projected along z as Gaussian
    columns with ABF-like (dark atom) contrast, weights ``Z ** 1.7``: no
    multislice, so hundreds of patches take a second, but the oxygen
    columns move with the tilts as they do in the real images. Meant for
    tests and quick experiments, not for the benchmark figures.

    Parameters
    ----------
    n_samples : int, default=400
    size : int, default=24
        Side of the patches, pixels (at least 4).
    tilt_range : (float, float), default=(0.0, 10.0)
        Each tilt is drawn uniformly from ``[low, high]`` degrees, with
        ``-20 <= low <= high <= 20``.
    material, glazer
        As in :func:`perovskite_supercell`.
    sigma : float, default=0.35
        Standard deviation of a column's Gaussian, Angstrom; wide enough to
        reach the pixel centres.
    random_state : int, RandomState instance or None, default=0
        Seeds the tilts; ``None`` draws a seed from the OS (numpy's global
        random state is left as it was).

    Returns
    -------
    X : ndarray of shape (n_samples, size * size), positive intensities
    y : ndarray of shape (n_samples, 3), tilts in degrees
    """
    from ase.data import atomic_numbers

    lo, hi = check_real_tuple(tilt_range, "tilt_range", 2, expected="(low, high) degrees with -20 <= low <= high <= 20")
    if not -20 <= lo <= hi <= 20:
        raise ValueError(f"tilt_range must be (low, high) degrees with -20 <= low <= high <= 20, got {tilt_range!r}.")
    glazer = _check_glazer(glazer)
    rng = local_random_state(random_state)
    y = rng.uniform(lo, hi, size=(n_samples, 3))
    X = np.empty((n_samples, size * size))
    for i, tilts in enumerate(y):
        atoms = perovskite_supercell(material, tilts, glazer, repeats=(2, 2, 2))
        extent = atoms.cell.lengths()[:2]
        grid = (np.arange(size) + 0.5) / size
        gx, gy = grid * extent[0], grid * extent[1]
        image = np.zeros((size, size))
        weights = np.array([atomic_numbers[s] for s in atoms.get_chemical_symbols()]) ** 1.7
        for (x, yy, _), w in zip(atoms.positions, weights):
            dx = (gx - x + extent[0] / 2) % extent[0] - extent[0] / 2
            dy = (gy - yy + extent[1] / 2) % extent[1] - extent[1] / 2
            image += w * np.exp(-(dy[:, None] ** 2 + dx[None, :] ** 2) / (2 * sigma**2))
        if not image.max() > 0:
            raise ValueError(f"sigma={sigma!r} Angstrom is too small: no column reaches a pixel centre "
                             f"(pixels of {extent[0] / size:.3g} x {extent[1] / size:.3g} Angstrom).")
        X[i] = (1.0 - 0.7 * image / image.max()).ravel()
    return X, y


def orient_110(atoms):
    """Re-cut a pseudo-cubic perovskite supercell so the beam (z) runs along [110].

    x runs along [1-10], y along [001]. The supercell must have equal even
    repeats along x and y (so the cut is periodic). With unequal tilts
    about a and b the [1-10] and [110] spacings differ slightly and the cut
    cell is off orthogonal by a fraction of a degree; it is squared up
    (abTEM needs an orthogonal cell), a strain of that order.
    """
    import itertools

    import ase

    _check_atoms(atoms)
    cell = atoms.cell.array
    # New cell vectors, rows: [1-10], [001], [110] of the supercell.
    new = np.array([cell[0] - cell[1], cell[2], cell[0] + cell[1]])
    images = np.array(list(itertools.product(range(-2, 3), repeat=3))) @ cell
    positions = (atoms.positions[None, :, :] + images[:, None, :]).reshape(-1, 3)
    symbols = np.tile(atoms.get_chemical_symbols(), len(images))
    tags = np.tile(atoms.get_tags(), len(images))
    tilt_signs = np.tile(atoms.arrays["tilt_signs"], (len(images), 1)) if "tilt_signs" in atoms.arrays else None
    frac = positions @ np.linalg.inv(new)
    # Keep one copy of every atom: fractional coordinates in [0, 1), with a
    # tolerance so that atoms on a face are neither lost nor doubled
    # (ase.build.cut drops some of them).
    keep = np.all((frac > -1e-6) & (frac < 1 - 1e-6), axis=1)
    frac = np.clip(frac[keep], 0, None)
    if len(frac) != 2 * len(atoms):
        raise ValueError(f"atoms must be a periodic pseudo-cubic supercell (as perovskite_supercell makes) that the "
                         f"[110] cell tiles: the cut holds {len(frac)} atoms, expected {2 * len(atoms)}.")
    lengths = np.linalg.norm(new, axis=1)
    square = ase.Atoms(symbols[keep], scaled_positions=frac, cell=np.diag(lengths), pbc=True, tags=tags[keep])
    if tilt_signs is not None:
        square.set_array("tilt_signs", tilt_signs[keep])
    square.info.update(atoms.info)
    square.info["zone_axis"] = "110"
    return square


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


def _check_atoms(atoms):
    import ase

    if not isinstance(atoms, ase.Atoms):
        raise TypeError(f"atoms must be an ase.Atoms cell, got {type(atoms).__name__}.")


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


@renamed_parameters(sampling="pixel_size", scan_noise="scan_jitter")
@validate_params(
    {
        **_MICROSCOPE,
        "material": [StrOptions(set(PEROVSKITES))],
        "glazer": [str, tuple, list, np.ndarray],
        "method": [StrOptions({"multislice", "prism"})],
        "source_size": [Interval(numbers.Real, 0, None, closed="left")],
        "scan_jitter": [Interval(numbers.Real, 0, None, closed="left")],
        "mid_plane_mirror": ["boolean", StrOptions({"both"})],
        "cache_dir": [str, os.PathLike, None],
        "random_state": ["random_state"],
        "n_jobs": [Interval(numbers.Integral, None, None, closed="neither"), None],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def make_perovskite_abf(n_samples=700, *, tilt_range=10.0, material="SrTiO3", glazer="a-b-c-", patch_size=48,
                        patches_per_image=16, energy=300e3, semiangle=25.0, detector=None, defocus=0.0,
                        thickness_periods=4, frozen_phonons=0, pixel_size=0.25, potential_sampling=0.08,
                        slice_thickness=2.0, method="multislice", source_size=0.3, dose=None, scan_jitter=0.0,
                        mid_plane_mirror="both", grid_offset=(0.0, 0.0), pixel_grid="exact", scale_jitter=0.03,
                        cache_dir=None, random_state=0, n_jobs=1, verbose=False):
    """Simulated ABF-STEM patches of a tilted perovskite along [110], their tilts, images and cells.

    The defaults make the training data of the ``TiltRegressor()`` recipe:
    700 SrTiO3 images, each
    followed by its mid-plane mirror, 16 patches of 48 pixels per image, on
    exact pixel grids with a 3% pixel-size jitter. They are noise-free: the
    regressor adds the noise at fit (Poisson counts and scan-row jitter,
    fresh every epoch). Test data as the benchmark records them, on the
    simulated grid, without the mirror and with noise::

        make_perovskite_abf(100, random_state=..., patch_size=48, patches_per_image=2, pixel_grid="cell",
                            mid_plane_mirror=False, dose=1e5, scan_jitter=0.2)

    The default 700 images and their 700 mirrors take about 50 minutes of
    simulation on a 2-core CPU (about 2 s per image per core); give
    ``cache_dir`` so that an interrupted run resumes where it stopped.

    Image ``i`` draws its tilts (uniform in ``+-tilt_range`` degrees) from a
    generator seeded by ``(random_state, i)``, so any subset of the images
    can be (re)computed alone: the data set caches one noise-free image per
    file under ``cache_dir``, resumes after an interruption without losing
    or repeating images, grows when ``n_samples`` grows, and runs images in
    parallel with joblib (``n_jobs``). The cache holds the simulation only,
    so patch size, dose and noise can change without simulating again.

    Each image covers one periodic cell (2x2x2 pseudo-cubic supercell cut
    along [110]). A patch is a ``patch_size`` square centred, to within a
    random half pixel, on a B-cation column, and its target is the rotation
    of *that* column's octahedra: with anti-phase tilts the neighbouring
    columns carry the opposite angles, so a patch cut anywhere else would
    have no well-defined label (the crystal translated by one perovskite
    cell is the crystal with all three angles negated). Along [110] every
    B column holds octahedra of one sense for ``-`` tilts and for ``+``
    tilts about c; for ``+`` about a or b a column mixes both senses, and
    that target component is 0 (no net projected rotation).

    Parameters
    ----------
    n_samples : int, default=700
        Number of simulated images (each with its mirror for
        ``mid_plane_mirror="both"``).
    tilt_range, material, glazer : simulated structure, see :func:`perovskite_supercell`.
    patch_size : int, default=48
        Side of the patches, pixels (at least 4).
    patches_per_image : int or "all", default=16
        Patches cut from each image, at different columns (so with
        opposite signs for anti-phase tilts) and with independent noise
        (with ``mid_plane_mirror="both"``, a mirror's patches share the
        positions and noise draws of their image's).
        ``"all"`` (``pixel_grid="cell"`` only): every B column at every
        position its half-pixel cut can take (up to four), each once (the
        columns of a tiled cell repeat exactly), in a fixed order; the same
        images give 16 patches each along [110] for ``a-b-c-`` instead of a
        random few, at no extra simulation. Their number per image varies:
        see ``groups``.
    energy, semiangle, detector, defocus, thickness_periods, frozen_phonons, pixel_size : microscope settings
        See :func:`simulate_abf`.
    potential_sampling, slice_thickness, method : multislice settings, see :func:`simulate_abf`.
    source_size, dose, scan_jitter : experimental conditions, see :func:`postprocess_abf`
        The defaults (no dose, no scan noise) give noise-free patches.
    mid_plane_mirror : bool or "both", default="both"
        ``False``: the slab as built. ``True``: the slab mirrored through
        its mid-plane (the beam enters through the other surface), with the
        same draws and the tilts of every column mapped to (beta, alpha,
        -gamma). ``"both"``: every image followed by its mirror, exactly the
        rows of a ``False`` and a ``True`` call interleaved per image. The
        [110] projection barely sees this mirror (only dynamical scattering
        does), so the two members are the matched pairs a model must tell
        apart; they share tilts, and so share a group: keep them on the same
        side of a train/test split. Each has its own cache (the ``False``
        and ``True`` calls' caches).
    grid_offset : (float, float), default=(0.0, 0.0)
        With ``pixel_grid="cell"``: the periodic image moved by this many
        pixels (rows, columns) before the cuts (a Fourier shift, exact), so
        the columns sit at other sub-pixel offsets.
    pixel_grid : {"exact", "cell", "scan"}, default="exact"
        ``"cell"``: the simulated grid, ``pixel_size`` or a little finer so
        that the periodic cell spans whole pixels (its columns then sit at
        the same sub-pixel offsets in every patch). ``"exact"``: each patch
        on a grid of exactly ``pixel_size`` Angstrom per pixel (times the
        scale jitter) with its column anywhere within half a pixel of the
        centre, as a microscope records it, evaluated from the periodic
        image's Fourier series (the returned ``cells``; it aliases a little
        at 0.25 A per pixel). ``"scan"``: the same geometry, each patch
        simulated directly on its own scan grid (about 2.5 times the cost
        of a cell per patch, cached apart): the honest test of a model
        that ``"exact"`` data trained. Both need an integer
        ``patches_per_image`` and no ``grid_offset``.
    scale_jitter : float, default=0.03
        With ``pixel_grid`` ``"exact"`` or ``"scan"``: each patch's pixel size is
        ``pixel_size * (1 + u)``, ``u`` uniform in ``+-scale_jitter`` (a
        calibration error, or another lattice constant). Ignored by ``"cell"``.
    cache_dir : str, path or None, default=None
        Folder of the cache (a sub-folder per simulation settings, one file
        per image); ``None`` simulates every image and keeps nothing.
    random_state : int, RandomState instance or None, default=0
        An int seeds image ``i`` with ``(random_state, i)``; a RandomState
        or ``None`` (the OS) first draws such an int, so the images are new
        every call (and so are their cache files). numpy's global random
        state is left as it was.
    n_jobs : int or None, default=1
        joblib workers simulating images (``None``: 1; negative: all CPUs
        but ``-1 - n_jobs``).
    verbose : bool or int, default=False
        Show a progress bar (tqdm) of the simulation.

    Returns
    -------
    X : ndarray (n_patches, patch_size ** 2), float32
        Intensities (fraction of the beam). ``n_patches`` is ``n_samples *
        patches_per_image`` for an integer ``patches_per_image``, twice
        that for ``mid_plane_mirror="both"``.
    y : ndarray (n_patches, 3)
        Tilts (alpha, beta, gamma) of the patch's centre column, degrees.
    groups : ndarray (n_patches,) of int
        The image each row was cut from (both members of a pair share it):
        the groups of a split by image (``GroupKFold``,
        ``GroupShuffleSplit``). The rows are in image order: image ``i``'s
        patches, then (for ``"both"``) its mirror's patches, then image
        ``i + 1``'s.
    cells : PeriodicCells or None
        The noise-free (source-blurred) periodic images the patches come
        from, their B columns and those columns' tilts: the templates of
        ``TiltRegressor.fit(..., cells=...)``. ``cells.cell`` of a column
        is its image ``i`` for ``mid_plane_mirror`` ``False`` or ``True``;
        for ``"both"`` it is ``2 * i`` for image ``i`` and ``2 * i + 1`` for
        its mirror (``cells.cell // 2`` is the group). ``None`` for
        ``pixel_grid="scan"``, which has no periodic images.
    """
    grid_offset, glazer, random_state = _check_abf_arguments(
        n_samples=n_samples, patches_per_image=patches_per_image, patch_size=patch_size, tilt_range=tilt_range,
        dose=dose, pixel_size=pixel_size, n_jobs=n_jobs, detector=detector, semiangle=semiangle,
        grid_offset=grid_offset, pixel_grid=pixel_grid, scale_jitter=scale_jitter, glazer=glazer,
        random_state=random_state)
    # What the simulation (and so the cache key) depends on; the patches' settings only for "scan", whose
    # simulations are the patches' own windows.
    simulation = dict(
        tilt_range=tilt_range, material=material, glazer=glazer, random_state=random_state, pixel_size=pixel_size,
        microscope=dict(energy=energy, semiangle=semiangle, detector=detector, defocus=defocus,
                        thickness_periods=thickness_periods, frozen_phonons=frozen_phonons,
                        potential_sampling=potential_sampling, slice_thickness=slice_thickness, method=method),
        scan=dict(patch_size=patch_size, patches_per_image=patches_per_image, scale_jitter=scale_jitter)
        if pixel_grid == "scan" else None)
    cut = dict(pixel_grid=pixel_grid, patch_size=patch_size, patches_per_image=patches_per_image,
               scale_jitter=scale_jitter, pixel_size=pixel_size, source_size=source_size, dose=dose,
               scan_jitter=scan_jitter, grid_offset=grid_offset, material=material, glazer=glazer)
    # The simulations of each image: the slab as built, its mirror, or both (in that order).
    mirrors = (False, True) if isinstance(mid_plane_mirror, str) else (bool(mid_plane_mirror),)
    patches, targets, groups, cell_parts = [], [], [], []
    for i, mirrored, sim in _simulated_images(n_samples, mirrors, simulation, cache_dir, n_jobs, verbose):
        # Patch geometry and noise have their own stream per image, so changing them never changes the
        # simulated tilts, and the mirror's patches are those of a mid_plane_mirror=True call.
        rng = np.random.default_rng([int(random_state), int(i), 1])
        image_patches, image_targets, cell_part = _image_patches(sim, mirrored, cut, rng)
        patches += image_patches
        targets += image_targets
        groups += [i] * len(image_patches)
        cell_parts.append(cell_part)
    X = np.asarray(patches, dtype=np.float32).reshape(-1, patch_size * patch_size)
    y = np.asarray(targets, dtype=np.float64).reshape(-1, 3)
    cells = None if pixel_grid == "scan" else PeriodicCells(*zip(*cell_parts))
    return X, y, np.asarray(groups, dtype=np.int64), cells


def _check_abf_arguments(*, n_samples, patches_per_image, patch_size, tilt_range, dose, pixel_size, n_jobs, detector,
                         semiangle, grid_offset, pixel_grid, scale_jitter, glazer, random_state):
    """What ``validate_params`` cannot say of make_perovskite_abf's arguments; the normalised
    ``(grid_offset, glazer, random_state)``."""

    def integer(value):
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    def real(value):
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)

    if not (integer(n_samples) and n_samples >= 1):
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    if not (integer(patches_per_image) and patches_per_image >= 1
            or isinstance(patches_per_image, str) and patches_per_image == "all"):
        raise ValueError(f"patches_per_image must be a positive integer or 'all', got {patches_per_image!r}.")
    if not (integer(patch_size) and patch_size >= 4):
        raise ValueError(f"patch_size must be an integer >= 4 pixels, got {patch_size!r}.")
    # perovskite_supercell takes tilts within +-20 degrees.
    if not (real(tilt_range) and 0 <= tilt_range <= 20):
        raise ValueError(f"tilt_range must be a finite angle in degrees in [0, 20], got {tilt_range!r}.")
    if dose is not None and not (real(dose) and dose > 0):
        raise ValueError(f"dose must be None or a finite number > 0 of electrons per square Angstrom, got {dose!r}.")
    if dose is not None:
        # A patch's pixels hold at most about the whole beam.
        check_poisson_mean(dose * pixel_size**2, f"dose={dose!r}")
    if n_jobs == 0:
        raise ValueError("n_jobs must be None, a positive number of workers or negative (all but some), got 0.")
    _check_detector(detector, semiangle)
    try:
        offset = tuple(float(v) for v in np.ravel(grid_offset))
    except (TypeError, ValueError):
        offset = ()
    if len(offset) != 2 or not all(math.isfinite(v) for v in offset):
        raise ValueError(f"grid_offset must be two finite shifts in pixels (rows, columns), got {grid_offset!r}.")
    if pixel_grid not in ("cell", "exact", "scan"):
        raise ValueError(f"pixel_grid must be 'cell', 'exact' or 'scan', got {pixel_grid!r}.")
    if pixel_grid != "cell" and (patches_per_image == "all" or any(offset)):
        raise ValueError(f"pixel_grid={pixel_grid!r} places every column at a random sub-pixel offset: it needs an "
                         f"integer patches_per_image and grid_offset=(0, 0), got patches_per_image="
                         f"{patches_per_image!r} and grid_offset={grid_offset!r} (pixel_grid='cell' takes those).")
    if not (real(scale_jitter) and 0 <= scale_jitter < 0.5):
        raise ValueError(f"scale_jitter must be a relative pixel-size spread in [0, 0.5), got {scale_jitter!r}.")
    if not integer(random_state):
        # Image i is seeded by (random_state, i): a RandomState or None (the OS) first draws that int.
        random_state = seed_from(random_state)
    return offset, _check_glazer(glazer), random_state


def _cache_params(simulation, mirrored):
    """The settings that name an image's cache folder (``format=2``): unchanged keys, so old caches stay valid.

    ``mid_plane_mirror`` is there only when set (the unmirrored caches predate it), and the patch settings
    only for ``"scan"``.
    """
    params = dict(format=2, tilt_range=simulation["tilt_range"], material=simulation["material"],
                  glazer="".join(simulation["glazer"]), sampling=simulation["pixel_size"],
                  random_state=simulation["random_state"], **simulation["microscope"])
    if mirrored:
        params["mid_plane_mirror"] = True
    if simulation["scan"] is not None:
        params.update(pixel_grid="scan", **simulation["scan"])
    return params


def _cache_key(params):
    """The 16 hex digits of the cache folder ``perovskite_abf_<key>`` of the settings ``params``."""
    import hashlib
    import json

    return hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _simulated_images(n_samples, mirrors, simulation, cache_dir, n_jobs, verbose):
    """Yield ``(i, mirrored, simulation)`` of images ``0 .. n_samples - 1``, each in the order of ``mirrors``.

    The images not in the cache are simulated first (by joblib, a few batches at a time so that an
    interruption loses little) and written to it; the others are read from it as they are yielded.
    """
    import joblib

    folders = {}
    for mirrored in mirrors:
        folders[mirrored] = None
        if cache_dir is not None:
            folders[mirrored] = Path(cache_dir) / f"perovskite_abf_{_cache_key(_cache_params(simulation, mirrored))}"
            folders[mirrored].mkdir(parents=True, exist_ok=True)

    def path(i, mirrored):
        return None if folders[mirrored] is None else folders[mirrored] / f"image_{i:07d}.npz"

    jobs = [(i, m) for i in range(n_samples) for m in mirrors]
    todo = [job for job in jobs if path(*job) is None or not path(*job).exists()]
    done = len(jobs) - len(todo)
    if verbose:
        print(f"make_perovskite_abf: {done} of {len(jobs)} images cached, {len(todo)} to simulate", flush=True)
    computed = {}
    progress = Progress("make_perovskite_abf", len(todo), verbose, unit="images")
    batch = max(1, int(n_jobs) if n_jobs and n_jobs > 0 else 1) * 4
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        results = joblib.Parallel(n_jobs=n_jobs)(
            joblib.delayed(_simulate_image)(i, m, simulation, path(i, m)) for i, m in chunk)
        computed.update(zip(chunk, results))
        progress.advance(len(chunk))
    for i, mirrored in jobs:
        if (i, mirrored) in computed:
            sim = computed.pop((i, mirrored))
        else:
            with np.load(path(i, mirrored)) as f:
                sim = {k: f[k] for k in f.files}
        yield i, mirrored, sim


def _oriented_cell(material, tilts, glazer):
    """The [110] cell (2x2x2 pseudo-cubic supercell) that image of these tilts simulates."""
    return orient_110(perovskite_supercell(material, tilts, glazer, repeats=(2, 2, 2)))


def _simulate_image(i, mirrored, simulation, path=None):
    """Image ``i`` (noise-free): the periodic cell's image, or with ``simulation["scan"]`` its patches' windows.

    Returns the dict the cache stores (written to ``path`` unless ``None``): the tilts, the B columns' rotation
    senses ``signs`` and either ``image`` with the ``columns`` in pixels, or ``windows`` with the ``chosen``
    columns, their sub-pixel ``offsets`` and pixel sizes ``scales``.
    """
    random_state = int(simulation["random_state"])
    rng = np.random.default_rng([random_state, int(i)])
    tilts = rng.uniform(-simulation["tilt_range"], simulation["tilt_range"], 3)
    atoms = _oriented_cell(simulation["material"], tilts, simulation["glazer"])
    if mirrored:
        atoms = mirror_mid_plane(atoms)
    settings = dict(simulation["microscope"], random_state=int(rng.integers(2**31)))
    pixel_size, scan = simulation["pixel_size"], simulation["scan"]
    if scan is not None:
        # Each patch's own scan grid: a random column, at a random sub-pixel offset and pixel size (a stream of
        # its own, shared by the mirror).
        geometry = np.random.default_rng([random_state, int(i), 2])
        fractions, signs = b_cation_columns(atoms, (1, 1))
        where = fractions * atoms.cell.lengths()[[1, 0]]  # Angstrom (y, x)
        order = geometry.permutation(len(where))
        chosen = np.array([order[p % len(order)] for p in range(scan["patches_per_image"])])
        offsets = geometry.uniform(-0.5, 0.5, (scan["patches_per_image"], 2))
        scales = pixel_size * (1 + geometry.uniform(-scan["scale_jitter"], scan["scale_jitter"],
                                                  scan["patches_per_image"]))
        size = scan["patch_size"] + 2 * _MARGIN
        windows = [simulate_abf(atoms, pixel_size=s, window=(tuple(where[c] - ((size - 1) / 2 + u) * s), (size, size)),
                                **settings) for c, u, s in zip(chosen, offsets, scales)]
        result = dict(windows=np.asarray(windows, dtype=np.float32), tilts=tilts, chosen=chosen,
                      offsets=offsets, scales=scales, signs=signs)
    else:
        # The [1-10] half-cell translation, (1, -1, 0) in pseudo-cubic cells, keeps every rotation sense
        # unless a or b tilts in phase: then half of the width is scanned and tiled (2x cheaper, exact).
        x_repeats = 1 if "+" in simulation["glazer"][:2] else 2
        image = simulate_abf(atoms, pixel_size=pixel_size, x_repeats=x_repeats, **settings)
        columns, signs = b_cation_columns(atoms, image.shape)
        result = dict(image=image.astype(np.float32), tilts=tilts, columns=columns, signs=signs)
    if path is not None:
        # Write then rename: an interrupted write never leaves a half file.
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **result)
        os.replace(tmp, path)
    return result


def _image_patches(sim, mirrored, cut, rng):
    """The patches of one simulated image, their targets, and its periodic cell (``None`` for ``"scan"``).

    ``cut`` holds make_perovskite_abf's patch settings; ``rng`` the image's patch stream (geometry, then
    noise, in the order of the patches).
    """
    column_tilts = sim["signs"] * sim["tilts"]
    if mirrored:
        column_tilts = column_tilts[:, [1, 0, 2]] * (1, 1, -1)
    if cut["pixel_grid"] == "scan":
        patches = _scan_patches(sim, cut, rng)
        return patches, [column_tilts[c] for c in sim["chosen"]], None
    cell_part = _periodic_image(sim, column_tilts, cut)
    image, pixel_size, columns, _ = cell_part
    if cut["pixel_grid"] == "exact":
        cuts = _exact_cuts(PeriodicCells(*([part] for part in cell_part)), len(columns), cut, rng)
    elif cut["patches_per_image"] == "all":
        cuts = _every_cut(image, columns, cut["patch_size"])
    else:
        order = rng.permutation(len(columns))
        cuts = [(order[p % len(order)], None) for p in range(cut["patches_per_image"])]
    noise = (cut["pixel_size"], cut["dose"], cut["scan_jitter"], rng)
    patches = [(_cut_patch(image, columns[c], cut["patch_size"], *noise) if window is None
                else _finish_window(window, *noise)).ravel() for c, window in cuts]
    return patches, [column_tilts[c] for c, _ in cuts], cell_part


def _scan_patches(sim, cut, rng):
    """The patches of ``pixel_grid="scan"``: the simulated windows, source-blurred, with their noise."""
    from scipy import ndimage

    patches = []
    for window, s in zip(sim["windows"], sim["scales"]):
        # Not periodic: the margin takes the blur's edge.
        window = ndimage.gaussian_filter(window.astype(np.float64), cut["source_size"] / 2.3548 / s, mode="reflect")
        patches.append(_finish_window(window, cut["pixel_size"], cut["dose"], cut["scan_jitter"], rng).ravel())
    return patches


def _periodic_image(sim, column_tilts, cut):
    """The noise-free periodic image of a simulated cell (source-blurred, moved by ``grid_offset``), its pixel size
    (rows, columns) in Angstrom, its B columns in pixels and their tilts: one cell of :class:`PeriodicCells`."""
    image = postprocess_abf(sim["image"], pixel_size=cut["pixel_size"], source_size=cut["source_size"])  # periodic: wrap
    columns = sim["columns"]
    if any(cut["grid_offset"]):
        # The periodic, blurred image moved by a Fourier phase: exact, and the columns move with it.
        from scipy import ndimage

        image = np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(image), cut["grid_offset"])).real
        columns = columns + np.asarray(cut["grid_offset"], dtype=np.float64)
    # The cell's extent is not cached; it follows from the structure (milliseconds to build).
    extent = _oriented_cell(cut["material"], sim["tilts"], cut["glazer"]).cell.lengths()
    pixel_size = (extent[1] / image.shape[0], extent[0] / image.shape[1])
    return image, pixel_size, columns, column_tilts


def _exact_cuts(cell, n_columns, cut, rng):
    """``(column, window)`` of ``pixel_grid="exact"``: each window rendered from the one-image ``cell`` on its own
    grid, its column at a random sub-pixel offset and its pixel size jittered."""
    order = rng.permutation(n_columns)
    size = cut["patch_size"] + 2 * _MARGIN
    cuts = []
    for p in range(cut["patches_per_image"]):
        c = order[p % len(order)]
        offset_px = rng.uniform(-0.5, 0.5, 2)
        scale = cut["pixel_size"] * (1 + rng.uniform(-cut["scale_jitter"], cut["scale_jitter"]))
        cuts.append((c, cell.render([c], (size, size), offset_px, scale)[0]))
    return cuts


def _every_cut(image, columns, patch_size):
    """``(column, window)`` of ``patches_per_image="all"``: every column at every position its half-pixel cut can
    take, each distinct window once."""
    cuts, seen = [], []
    for c, center in enumerate(columns):
        for origin in _cut_origins(center, patch_size):
            window = _window(image, origin, patch_size)
            # Columns of a tiled cell repeat (exactly, up to the rounding of a grid_offset): one patch each.
            if not any(np.allclose(window, other, rtol=0, atol=1e-9) for other in seen):
                seen.append(window)
                cuts.append((c, window))
    return cuts


def mirror_mid_plane(atoms):
    """The [110] cell (from :func:`orient_110`) mirrored through a plane normal to the beam (z -> -z).

    A slab of repeated mirrored cells is the original slab seen from its
    other surface. Each column keeps its (x, y); its octahedral tilts
    (alpha, beta, gamma) become (beta, alpha, -gamma).
    """
    _check_atoms(atoms)
    mirrored = atoms.copy()
    depth = mirrored.cell.lengths()[2]
    positions = mirrored.positions
    positions[:, 2] = (-positions[:, 2]) % depth
    mirrored.positions = positions
    mirrored.info["mid_plane_mirror"] = not atoms.info.get("mid_plane_mirror", False)
    return mirrored


def b_cation_columns(atoms, image_shape):
    """Pixel positions of the B-cation columns of a [110] cell, and the rotation senses of their octahedra.

    Parameters
    ----------
    atoms : ase.Atoms
        A cell from :func:`perovskite_supercell` oriented by :func:`orient_110`
        (B cations tagged 1, ``tilt_signs`` per atom).
    image_shape : tuple (ny, nx)
        Pixels of the image that covers the cell.

    Returns
    -------
    columns : ndarray of shape (n_columns, 2)
        ``(row, col)`` of each column in pixels, row 0 at the top.
    signs : ndarray of shape (n_columns, 3)
        Mean rotation senses (alpha, beta, gamma) of the column's octahedra.
    """
    ny, nx = image_shape
    width, height = atoms.cell.lengths()[:2]
    b = atoms.get_tags() == 1
    xy = atoms.positions[b, :2] % (width, height)
    senses = atoms.arrays["tilt_signs"][b]
    key = np.round(xy / 0.1).astype(int)  # atoms of one column share (x, y) to well under 0.1 A
    key = key % np.round(np.array([width, height]) / 0.1).astype(int)
    columns, signs = [], []
    for k in np.unique(key, axis=0):
        member = np.all(key == k, axis=1)
        columns.append(xy[member][0][::-1] / (height / ny, width / nx))
        signs.append(senses[member].mean(0))
    return np.array(columns), np.array(signs)


_MARGIN = 4  # pixels cut around a patch, so the scan noise shifts real neighbours into it


def _cut_origins(center, size):
    """Every top-left corner (row, col) that a patch centred on ``center`` to within half a pixel can take."""
    half = (size - 1) / 2
    return sorted({(int(np.round(center[0] + a - half)), int(np.round(center[1] + b - half)))
                   for a in (-0.4999, 0.4999) for b in (-0.4999, 0.4999)})


def _window(image, origin, size):
    """The (size + 2 margin) square of the periodic ``image`` around the patch with top-left corner origin."""
    r0, c0 = np.asarray(origin) - _MARGIN
    rows = np.arange(r0, r0 + size + 2 * _MARGIN) % image.shape[0]
    cols = np.arange(c0, c0 + size + 2 * _MARGIN) % image.shape[1]
    return image[np.ix_(rows, cols)]


def _finish_window(window, pixel_size, dose, scan_jitter, rng):
    """Shot and scan noise on a window from :func:`_window`, and the patch inside its margin."""
    patch = postprocess_abf(window, pixel_size=pixel_size, source_size=0, dose=dose, scan_jitter=scan_jitter,
                            random_state=int(rng.integers(2**31)))
    return patch[_MARGIN:-_MARGIN, _MARGIN:-_MARGIN].astype(np.float32)


def _cut_patch(image, center, size, pixel_size, dose, scan_jitter, rng):
    """A size x size patch of the periodic ``image`` centred on ``center`` (row, col) to within half a pixel."""
    jitter = rng.uniform(-0.5, 0.5, 2)
    origin = np.round(np.asarray(center) + jitter - (size - 1) / 2).astype(int)
    return _finish_window(_window(image, origin, size), pixel_size, dose, scan_jitter, rng)


#: Settings of the committed ABF fixture (``benchmarks/make_abf_fixture.py`` writes it).
#: ``make_perovskite_abf``'s defaults before they became the training recipe's are given explicitly: 32 px
#: patches on the simulated grid, no mirror.
ABF_FIXTURE_SETTINGS = dict(material="SrTiO3", random_state=0, patch_size=32, patches_per_image=2,
                            pixel_grid="cell", scale_jitter=0.0, mid_plane_mirror=False, dose=2e4, scan_jitter=0.2)


def load_abf_fixture():
    """A small committed set of simulated SrTiO3 [110] ABF patches, for tests and examples without abtem.

    Made by ``make_perovskite_abf(64, **ABF_FIXTURE_SETTINGS)``: its default
    microscope (300 kV, 25 mrad, ABF 12.5-25 mrad, 44 A, 0.25 A/px) and
    :data:`ABF_FIXTURE_SETTINGS` (32 px patches on the simulated cell grid,
    no mirror, 2e4 e/A^2 and 0.2 px of scan noise): the first 64 images of
    the benchmark's training stream, two column-centred patches each,
    stored as float16.

    Returns
    -------
    X : ndarray (128, 1024), float32 intensities (fraction of the beam)
    y : ndarray (128, 3), tilts (alpha, beta, gamma) of the centre column, degrees
    """
    from importlib import resources

    with resources.files("sklearn_rvae.datasets").joinpath("data/srtio3_abf_fixture.npz").open("rb") as f:
        with np.load(f) as data:
            return data["X"].astype(np.float32), data["y"].astype(np.float64)


def mirror_patches_110(X, y, image_shape=None):
    """Four times the [110] patches by the projection's exact mirrors, with their tilts transformed.

    Along [110] the mirror x -> -x (the plane holding the beam and c) maps
    the tilts (alpha, beta, gamma) of the centre column onto
    (-beta, -alpha, -gamma), and y -> -y (the plane holding the beam and
    [1-10]) onto (-alpha, -beta, gamma); both are exact for the multislice
    image, since neither involves the beam direction (checked against
    simulations to 2e-5 of the contrast). The mirror through the specimen
    mid-plane, (beta, alpha, -gamma), is *not* a symmetry of the image
    (the entrance and exit surfaces differ), and is not used.

    Parameters
    ----------
    X : array-like of shape (n, h * w)
        Column-centred patches (as from :func:`make_perovskite_abf`).
    y : array-like of shape (n, 3)
        Tilts (alpha, beta, gamma) in degrees.
    image_shape : (h, w) or None
        ``None`` for square patches.

    Returns
    -------
    X4 : ndarray (4 n, h * w)
        The patches, then flipped left-right, up-down, and both.
    y4 : ndarray (4 n, 3)
    """
    X = np.asarray(X)
    y = np.asarray(y)
    for name, value in (("X", X), ("y", y)):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}.")
    y = y.astype(np.float64)
    if X.ndim != 2 or y.shape != (len(X), 3):
        raise ValueError(f"X must be (n, h * w) and y (n, 3) tilts, got shapes {X.shape} and {y.shape}.")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinite tilts.")
    if image_shape is not None:
        image_shape = check_int_tuple(image_shape, "image_shape", 2)
    if image_shape is None:
        side = math.isqrt(X.shape[1])
        if side * side != X.shape[1]:
            raise ValueError(f"patches of {X.shape[1]} pixels are not square; give image_shape.")
        image_shape = (side, side)
    h, w = image_shape
    if h * w != X.shape[1]:
        raise ValueError(f"image_shape {image_shape} does not hold {X.shape[1]} pixels.")
    images = X.reshape(-1, h, w)
    X4 = np.concatenate([np.flip(images, dims) if dims else images for dims, _ in MIRRORS_110])
    y4 = np.concatenate([y @ np.asarray(tilts, dtype=np.float64).T for _, tilts in MIRRORS_110])
    return X4.reshape(4 * len(X), h * w), y4
