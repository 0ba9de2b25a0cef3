"""Training data of TiltRegressor: ABF-STEM patches of tilted perovskites, streamed from a cache of simulations.

``make_perovskite_abf`` simulates images of perovskite cells with random
tilts (``_perovskite_crystal`` builds them, ``_abf`` images them), caches
every image on disk, and cuts patches around the B columns, on the
simulated grid, on exact pixel grids from the cells' Fourier series, or
by simulating each scan window. ``mirror_patches_110`` adds the projection's
exact mirrors; ``load_abf_fixture`` reads the committed multislice patches.
"""

import contextlib
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
from .._utils import Interval, active_client, check_int_tuple, check_real_tuple, local_random_state, seed_from
from ._abf import _MICROSCOPE, _check_detector, postprocess_abf, simulate_abf
from ._checks import check_poisson_mean
from ._perovskite_crystal import (PEROVSKITES, _check_glazer, _oriented_cell, b_cation_columns, mirror_mid_plane,
                                  perovskite_supercell)


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
        but ``-1 - n_jobs``). With a ``dask.distributed`` client active, the
        images go to its workers instead (every worker thread at once), with
        the same output; the cache must then be a folder they all see.
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
    # With a dask.distributed client active the images go to its workers (joblib's dask backend), every
    # worker thread at once; else n_jobs processes here.
    client = active_client()
    workers = sum(client.nthreads().values()) if client is not None else (
        int(n_jobs) if n_jobs and n_jobs > 0 else 1)
    batch = max(1, workers) * 4
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        with joblib.parallel_backend("dask") if client is not None else contextlib.nullcontext():
            results = joblib.Parallel(n_jobs=-1 if client is not None else n_jobs)(
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
