"""Simulated 4D-STEM of graphene (multislice, abTEM), with defects and ground truth.

abTEM and ASE are the ``sim`` extra (``pip install sklearn_rvae[sim]``),
imported only when a simulation runs. Simulations are cached on disk in
chunks of probe positions: an interrupted run resumes where it stopped,
without losing or repeating a position, and a finished one is read back.
"""

import hashlib
import json
import math
import numbers
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from .._deprecation import renamed_parameters
from .._progress import Progress
from .._utils import Interval, active_client, check_annulus, check_int_tuple, check_real_tuple, local_random_state
from ._checks import check_poisson_mean

GRAPHENE_A = 2.46  # lattice constant, Angstrom
_DOPANTS = {"Si", "N", "B"}
_CHUNK_POSITIONS = 64


def _require_sim():
    try:
        import abtem
        import ase
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "Simulating 4D-STEM data needs the optional packages abtem and ase: "
            "pip install 'sklearn_rvae[sim]'."
        ) from exc
    return abtem, ase


def electron_wavelength(energy):
    from ..dpc import electron_wavelength as wavelength

    return wavelength(energy)


_POSITIVE = [Interval(numbers.Real, 0, None, closed="neither")]
_DEFECTS = [StrOptions({"vacancy"} | _DOPANTS), None]
# Constraints the simulators share; what they cannot say (tuples, ranges that
# depend on the cell) is checked in the functions.
_SIMULATION = {
    "repeats": ["array-like"],
    "energy": _POSITIVE,
    "semiangle": _POSITIVE,
    "max_angle": _POSITIVE,
    "binning": [Interval(numbers.Integral, 1, None, closed="left")],
    "dose": [Interval(numbers.Real, 0, None, closed="neither"), None],
    "potential_sampling": _POSITIVE,
    "cache_dir": [str, os.PathLike, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "n_jobs": [Interval(numbers.Integral, 1, None, closed="left")],
}
_SCAN = {"scan_step": _POSITIVE, "scan_extent": ["array-like", None]}


_DEFECT_SITE = [Interval(numbers.Integral, 0, None, closed="left"), None]


@validate_params(
    {"repeats": ["array-like"], "defect": _DEFECTS, "defect_site": _DEFECT_SITE},
    prefer_skip_nested_validation=True,
)
def graphene_supercell(repeats=(4, 2), defect=None, defect_site=None):
    """Orthogonal graphene supercell (ASE Atoms) with an optional point defect.

    Parameters
    ----------
    repeats : (int, int)
        Orthogonal unit cells (2.46 x 4.26 Angstrom, 4 atoms) along x and y,
        each >= 1.
    defect : None, "vacancy", "Si", "N" or "B"
    defect_site : int or None
        Index of the atom replaced or removed (0 .. 4 * nx * ny - 1);
        ``None`` takes the atom nearest the centre of the supercell.

    Returns
    -------
    atoms : ase.Atoms
    defect_xy : ndarray of shape (2,) or None
        Position of the defect in Angstrom.
    sublattice : ndarray of int
        0 (A) or 1 (B) per remaining atom.
    """
    if defect is not None and defect != "vacancy" and defect not in _DOPANTS:
        raise ValueError(f"defect must be None, 'vacancy' or a dopant in {sorted(_DOPANTS)}, got {defect!r}.")
    nx, ny = check_int_tuple(repeats, "repeats", 2)
    if defect_site is not None:
        if defect is None:
            raise ValueError(f"defect_site={defect_site!r} places a defect, but defect is None.")
        if not 0 <= defect_site < 4 * nx * ny:
            raise ValueError(f"defect_site must index one of the {4 * nx * ny} atoms, got {defect_site!r}.")
    _, ase = _require_sim()
    a = GRAPHENE_A
    b = a * math.sqrt(3)
    # Orthogonal cell: A at (0, 0), B at (0, a / sqrt 3), A at (a/2, b/2), B at (a/2, b/2 + a / sqrt 3).
    basis = np.array([[0.0, 0.0], [0.0, a / math.sqrt(3)], [a / 2, b / 2], [a / 2, b / 2 + a / math.sqrt(3)]])
    sub = np.array([0, 1, 0, 1])
    xy, sublattice = [], []
    for i in range(nx):
        for j in range(ny):
            xy.append(basis + [i * a, j * b])
            sublattice.append(sub)
    xy = np.concatenate(xy) + [a / 4, a / (4 * math.sqrt(3))]  # keep atoms off the cell edges
    sublattice = np.concatenate(sublattice)
    cell = (nx * a, ny * b, 4.0)
    positions = np.column_stack([xy, np.full(len(xy), 2.0)])
    atoms = ase.Atoms("C" * len(xy), positions=positions, cell=cell, pbc=True)
    defect_xy = None
    if defect is not None:
        if defect_site is None:
            defect_site = int(np.argmin(np.hypot(*(xy - np.array(cell[:2]) / 2).T)))
        if not 0 <= defect_site < len(atoms):
            raise ValueError(f"defect_site must index one of the {len(atoms)} atoms, got {defect_site}.")
        defect_xy = xy[defect_site].copy()
        if defect == "vacancy":
            del atoms[defect_site]
            sublattice = np.delete(sublattice, defect_site)
        else:
            atoms[defect_site].symbol = defect
    return atoms, defect_xy, sublattice


def _cache_key(params, atoms):
    payload = json.dumps(params, sort_keys=True, default=str).encode()
    payload += np.round(atoms.positions, 6).tobytes() + atoms.numbers.tobytes() + np.round(atoms.cell.array, 6).tobytes()
    return hashlib.sha1(payload).hexdigest()[:16]


def _simulate(atoms, positions, *, energy, semiangle, max_angle, potential_sampling, cache_dir, key, verbose, n_jobs=1,
              slice_thickness=None):
    """Diffraction patterns (n, ky, kx) at the given probe positions (Angstrom, (x, y))."""
    abtem, _ = _require_sim()
    n = len(positions)
    chunks = [(s, min(s + _CHUNK_POSITIONS, n)) for s in range(0, n, _CHUNK_POSITIONS)]
    folder = None
    if cache_dir is not None:
        folder = Path(cache_dir) / key
        folder.mkdir(parents=True, exist_ok=True)
    abtem.config.set({"device": "cpu", "fft": "fftw", "diagnostics.progress_bar": False})
    # A monolayer is one slice; a crystal is cut into slices of slice_thickness.
    thickness = atoms.cell[2, 2] if slice_thickness is None else slice_thickness
    potential = abtem.Potential(atoms, sampling=potential_sampling, slice_thickness=thickness, projection="infinite")
    probe = abtem.Probe(energy=energy, semiangle_cutoff=semiangle)
    probe.grid.match(potential)
    detector = abtem.PixelatedDetector(max_angle=max_angle, resample="uniform")
    parts = []

    def cached(start, stop):
        return None if folder is None else folder / f"positions_{start:07d}_{stop:07d}.npy"

    # Only what is left to simulate counts, so the time left is that of the simulation.
    todo = sum(stop - start for start, stop in chunks if cached(start, stop) is None or not cached(start, stop).exists())
    progress = Progress("abTEM", todo, verbose, unit="probe positions")
    for k, (start, stop) in enumerate(chunks):
        path = cached(start, stop)
        if path is not None and path.exists():
            parts.append(np.load(path))
            continue
        measurement = probe.scan(potential, scan=abtem.CustomScan(positions[start:stop]), detectors=detector)
        # On a dask.distributed cluster when a client is active, else n_jobs threads here.
        client = active_client()
        where = {"scheduler": client} if client is not None else {"scheduler": "threads", "num_workers": n_jobs}
        patterns = np.asarray(measurement.compute(progress_bar=False, **where).array, dtype=np.float32)
        # abTEM indexes (kx, ky); the package's frames are (ky, kx), rows = y.
        patterns = np.swapaxes(patterns.reshape(stop - start, *patterns.shape[-2:]), 1, 2)
        if path is not None:
            # Write then rename, so an interrupted write never leaves a half chunk.
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, patterns)
            os.replace(tmp, path)
        parts.append(patterns)
        progress.advance(stop - start)
    patterns = np.concatenate(parts)
    side = min(patterns.shape[1:])
    y0 = (patterns.shape[1] - side) // 2
    x0 = (patterns.shape[2] - side) // 2
    # resample="uniform" takes the coarser of the two reciprocal samplings.
    mrad_per_px = electron_wavelength(energy) / min(atoms.cell[0, 0], atoms.cell[1, 1]) * 1e3
    return patterns[:, y0 : y0 + side, x0 : x0 + side], mrad_per_px


def _finish(patterns, *, binning, dose, scan_step, rng):
    if binning > min(patterns.shape[1:]):
        raise ValueError(f"binning={binning} is larger than the {patterns.shape[1]} x {patterns.shape[2]} pixel "
                         "detector: raise max_angle or bin less.")
    if binning > 1:
        n, h, w = patterns.shape
        h, w = h // binning * binning, w // binning * binning
        patterns = patterns[:, :h, :w].reshape(n, h // binning, binning, w // binning, binning).sum((2, 4))
    if dose is not None:
        electrons = dose * scan_step**2
        patterns = rng.poisson(patterns.astype(np.float64) * electrons).astype(np.float32)
    return patterns


def _scan_grid(atoms, scan_step, scan_extent, defect_xy, name):
    """Probe positions: the whole cell, or a ``scan_extent`` window centred on the defect (or the cell centre).

    Returns nx, ny, the origin (x, y) and the grid of shape (ny, nx, 2) holding (x, y) in Angstrom.
    """
    cell = np.array(atoms.cell.lengths()[:2])
    if scan_step >= cell.min():
        raise ValueError(f"scan_step={scan_step} must be smaller than the {name} {tuple(np.round(cell, 2))} Angstrom.")
    expected = (f"(width, height) in Angstrom, at least scan_step={scan_step} and within the {name} "
                f"{tuple(np.round(cell, 2))}")
    extent = cell if scan_extent is None else np.array(check_real_tuple(scan_extent, "scan_extent", 2, positive=True,
                                                                        expected=expected))
    if np.any(extent > cell + 1e-9) or np.any(extent < scan_step * (1 - 1e-9)):
        raise ValueError(f"scan_extent must be {expected}, got {scan_extent!r}.")
    nx, ny = (int(math.floor(e / scan_step + 1e-9)) for e in extent)
    middle = cell / 2 if defect_xy is None else defect_xy
    origin = np.zeros(2) if scan_extent is None else middle - (np.array([nx, ny]) - 1) * scan_step / 2
    grid = np.stack(np.meshgrid(origin[0] + np.arange(nx) * scan_step, origin[1] + np.arange(ny) * scan_step), -1)
    return nx, ny, origin, grid


def _check_dose(dose, electrons_per_dose):
    # Checked before the simulation: numpy cannot draw Poisson counts past ~1e18.
    if dose is not None:
        check_poisson_mean(dose * electrons_per_dose, f"dose={dose!r}")


def _nearest(xy, points, cell):
    """Distance from each xy to the nearest of ``points`` with periodic images, and its index."""
    d = xy[:, None, :] - points[None, :, :]
    d -= np.round(d / cell) * cell
    dist = np.hypot(d[..., 0], d[..., 1])
    return dist.min(1), dist.argmin(1)


@renamed_parameters(sampling="potential_sampling")
@validate_params(
    {**_SIMULATION, **_SCAN, "defect": _DEFECTS, "defect_site": _DEFECT_SITE},
    prefer_skip_nested_validation=True,
)
def make_graphene_4dstem(*, repeats=(4, 2), defect="vacancy", defect_site=None, energy=80e3, semiangle=25.0,
                         max_angle=40.0, scan_step=0.2, scan_extent=None, binning=1, dose=None, potential_sampling=0.04,
                         cache_dir=None, random_state=0, verbose=False, n_jobs=1):
    """4D-STEM scan of monolayer graphene with an optional point defect (abTEM multislice).

    The scan covers the whole periodic supercell; the probe is a round,
    aberration-free probe; the detector is resampled to equal angular
    sampling along both axes and cropped square.

    Parameters
    ----------
    repeats : (int, int), default=(4, 2)
        Orthogonal cells (2.46 x 4.26 Angstrom) along x and y; the defect's
        periodic images are one supercell apart.
    defect : None, "vacancy", "Si", "N" or "B", default="vacancy"
    defect_site : int or None
        Atom index of the defect; ``None``: the atom nearest the centre.
    energy : float, default=80e3
        Beam energy, eV.
    semiangle : float, default=25.0
        Probe convergence semi-angle, mrad.
    max_angle : float, default=40.0
        Detector outer angle, mrad.
    scan_step : float, default=0.2
        Probe step, Angstrom (must be smaller than the cell).
    scan_extent : (float, float) or None, default=None
        Width and height in Angstrom of the scanned window, centred on the
        defect (on the supercell centre without one); ``None`` scans the
        whole supercell. A bigger supercell gives finer detector sampling
        (``lambda / cell`` per pixel) at the cost of bigger FFTs; a window
        keeps the number of positions down.
    binning : int, default=1
        Detector binning, at most the detector's side in pixels.
    dose : float or None, default=None
        Electrons per square Angstrom; ``None`` gives noise-free patterns
        (fraction of the beam per pixel), else Poisson counts (at most
        1e18 electrons per probe position).
    potential_sampling : float, default=0.04
        Real-space sampling of the potential and wave, Angstrom.
    cache_dir : str, Path or None
        Cache and resume folder; ``None`` keeps nothing on disk.
    random_state : int, RandomState or None, default=0
        Seeds the Poisson noise; ``None`` draws a seed from the OS (numpy's
        global random state is left as it was).
    verbose : bool, default=False
        Show a progress bar (tqdm), advanced per chunk of 64 positions.
    n_jobs : int, default=1
        Threads for the multislice (dask's threaded scheduler). With a
        ``dask.distributed`` client active, abTEM computes on its workers
        instead, with the same output.

    Returns
    -------
    scan : Bunch
        With the fields:

        - data : ndarray (sy, sx, ky, kx) float32
        - positions : ndarray (sy, sx, 2), probe (x, y) in Angstrom
        - distance : ndarray (sy, sx), Angstrom to the nearest defect image (inf without defect)
        - site_class : ndarray (sy, sx) int, index into ``class_names``: the
          sublattice (A, B) of the nearest atom, or hollow when it is more
          than 1 Angstrom away
        - class_names : ["A", "B", "hollow"]
        - atoms : ase.Atoms
        - defect_xy : (2,) or None
        - metadata : dict (energy_eV, semiangle_mrad, max_angle_mrad, mrad_per_px,
          scan_step_A, sampling_A, binning, dose, repeats, defect)
    """
    _check_dose(dose, scan_step**2)
    atoms, defect_xy, sublattice = graphene_supercell(repeats, defect, defect_site)
    nx, ny, origin, grid = _scan_grid(atoms, scan_step, scan_extent, defect_xy, "supercell")
    cell = np.array(atoms.cell.lengths()[:2])
    params = dict(kind="graphene", energy=energy, semiangle=semiangle, max_angle=max_angle, sampling=potential_sampling,
                  positions=[nx, ny, scan_step, np.round(origin, 6).tolist()])
    key = _cache_key(params, atoms)
    patterns, mrad_per_px = _simulate(
        atoms, grid.reshape(-1, 2), energy=energy, semiangle=semiangle, max_angle=max_angle,
        potential_sampling=potential_sampling, cache_dir=cache_dir, key=key, verbose=verbose, n_jobs=n_jobs,
    )
    patterns = _finish(patterns, binning=binning, dose=dose, scan_step=scan_step, rng=local_random_state(random_state))
    flat = grid.reshape(-1, 2)
    if defect_xy is None:
        distance = np.full(len(flat), np.inf)
    else:
        distance, _ = _nearest(flat, defect_xy[None], cell)
    atom_distance, nearest = _nearest(flat, atoms.positions[:, :2], cell)
    site = np.where(atom_distance > 1.0, 2, sublattice[nearest])
    sy, sx = ny, nx
    return Bunch(
        data=patterns.reshape(sy, sx, *patterns.shape[1:]),
        positions=grid,
        distance=distance.reshape(sy, sx),
        site_class=site.reshape(sy, sx),
        class_names=["A", "B", "hollow"],
        atoms=atoms,
        defect_xy=defect_xy,
        metadata=dict(energy_eV=energy, semiangle_mrad=semiangle, max_angle_mrad=max_angle,
                      mrad_per_px=mrad_per_px * binning, scan_step_A=scan_step, sampling_A=potential_sampling,
                      binning=binning, dose=dose, repeats=tuple(repeats), defect=defect),
    )


@renamed_parameters(sampling="potential_sampling")
@validate_params(
    {**_SIMULATION, "n_orbits": [Interval(numbers.Integral, 1, None, closed="left")], "radius": ["array-like"],
     "order": [Interval(numbers.Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def make_graphene_orbits(*, n_orbits=24, radius=(0.15, 1.1), order=3, repeats=(4, 2), energy=80e3, semiangle=25.0,
                         max_angle=40.0, binning=1, dose=None, potential_sampling=0.04, cache_dir=None, random_state=0,
                         verbose=False):
    """Probe positions related by the 3-fold rotation about a graphene atom column.

    Each orbit is a random position within ``radius`` of the atom nearest the
    centre of a pristine supercell and its images rotated by 120 and 240
    degrees about that atom. The lattice maps onto itself under that
    rotation, so the diffraction patterns of one orbit are the same pattern
    rotated: a rotation-invariant representation should give them one code.

    Parameters
    ----------
    n_orbits : int, default=24
        Number of orbits, >= 1.
    radius : (float, float), default=(0.15, 1.1)
        Inner and outer radius (Angstrom) of the annulus the first position
        of each orbit is drawn from (uniformly in area), ``0 <= inner <= outer``.
    order : int, default=3
        Positions per orbit, turned by ``360 / order`` degrees.
    repeats, energy, semiangle, max_angle, binning, dose, potential_sampling, cache_dir, verbose
        As in :func:`make_graphene_4dstem` (``dose`` per position: at most
        1e18 electrons).
    random_state : int, RandomState or None, default=0
        Seeds the positions and the Poisson noise; ``None`` draws a seed
        from the OS (numpy's global random state is left as it was).

    Returns
    -------
    Bunch with data (n_orbits * order, ky, kx), orbit (labels), rotation_deg
    (the rotation of each position about the atom), positions (Angstrom),
    center (the atom), metadata.
    """
    radius = check_annulus(radius, "radius", unit="Angstrom")
    _check_dose(dose, 1.0)
    atoms, _, _ = graphene_supercell(repeats, None)
    cell = np.array(atoms.cell.lengths()[:2])
    center = atoms.positions[np.argmin(np.hypot(*(atoms.positions[:, :2] - cell / 2).T)), :2]
    rng = local_random_state(random_state)
    r = np.sqrt(rng.uniform(radius[0] ** 2, radius[1] ** 2, n_orbits))
    phi = rng.uniform(0, 2 * np.pi, n_orbits)
    turns = np.arange(order) * 360.0 / order
    positions, orbit, rotation = [], [], []
    for k in range(n_orbits):
        for t in turns:
            a = phi[k] + math.radians(t)
            positions.append(center + r[k] * np.array([math.cos(a), math.sin(a)]))
            orbit.append(k)
            rotation.append(t)
    positions = np.array(positions)
    params = dict(kind="graphene-orbits", energy=energy, semiangle=semiangle, max_angle=max_angle,
                  sampling=potential_sampling, positions=np.round(positions, 6).tolist())
    patterns, mrad_per_px = _simulate(
        atoms, positions, energy=energy, semiangle=semiangle, max_angle=max_angle,
        potential_sampling=potential_sampling, cache_dir=cache_dir, key=_cache_key(params, atoms), verbose=verbose,
    )
    patterns = _finish(patterns, binning=binning, dose=dose, scan_step=1.0, rng=rng)
    return Bunch(data=patterns, orbit=np.array(orbit), rotation_deg=np.array(rotation), positions=positions,
                 center=center, atoms=atoms,
                 metadata=dict(energy_eV=energy, semiangle_mrad=semiangle, max_angle_mrad=max_angle,
                               mrad_per_px=mrad_per_px * binning, sampling_A=potential_sampling, binning=binning, dose=dose))


# Lattice constants (Angstrom) of zincblende compounds: (cation, anion, a).
ZINCBLENDE = {"GaAs": ("Ga", "As", 5.653), "GaP": ("Ga", "P", 5.451), "InAs": ("In", "As", 6.058),
              "InP": ("In", "P", 5.869), "ZnS": ("Zn", "S", 5.409),
              # Diamond structure, one species: the non-polar controls.
              "Ge": ("Ge", "Ge", 5.658), "Si": ("Si", "Si", 5.431)}


_ZINCBLENDE_CRYSTAL = {
    "material": [StrOptions(set(ZINCBLENDE))],
    "repeats": ["array-like"],
    "periods": [Interval(numbers.Integral, 1, None, closed="left")],
    "strain": [Interval(numbers.Real, -0.2, 0.2, closed="neither")],
    "antisite": ["boolean"],
    "lattice_constant": [Interval(numbers.Real, 2.0, 10.0, closed="neither"), None],
}


@validate_params(_ZINCBLENDE_CRYSTAL, prefer_skip_nested_validation=True)
def zincblende_110(material="GaAs", repeats=(1, 1), periods=2, strain=0.0, antisite=False, lattice_constant=None):
    """Zincblende crystal viewed along [110] (ASE Atoms), with optional strain and antisite column.

    x runs along [1-10] (a / sqrt 2), y along [001] (a), z along the beam
    [110]; each in-plane cell holds two cation-anion dumbbells, separated by
    a / 4 along y: the polarity that breaks inversion symmetry.

    Parameters
    ----------
    material : str, one of ZINCBLENDE
    repeats : (int, int)
        In-plane repeats of the 2 a / sqrt 2 x a orthogonal cell, each >= 1.
    periods : int
        Thickness in units of 2 a / sqrt 2 (8.0 A for GaAs), >= 1.
    strain : float
        Uniaxial in-plane strain along x (0.01 = 1 percent tension), in
        (-0.2, 0.2).
    antisite : bool
        Swap cation and anion in the atomic column nearest the centre.
    lattice_constant : float or None
        Cubic lattice constant in Angstrom, in (2, 10); ``None`` takes the material's
        (for example a Ge control at GaAs's 5.653 A, so that both share one
        detector sampling).

    Returns
    -------
    atoms, defect_xy (or None), columns (k, 2) projected column positions,
    column_species (k,) 0 = cation, 1 = anion
    """
    repeats = check_int_tuple(repeats, "repeats", 2)
    _, ase = _require_sim()
    from ase.build import bulk, surface

    cation, anion, a = ZINCBLENDE[material]
    if lattice_constant is not None:
        a = float(lattice_constant)
    # Elemental (diamond) crystals are built as a two-species placeholder so
    # that the two sublattices stay labelled, then given one species.
    first, second = (cation, anion) if cation != anion else ("Zn", "S")
    with np.errstate(all="ignore"):
        cubic = bulk(f"{first}{second}", "zincblende", a=a, cubic=True)
    cell = surface(cubic, (1, 1, 0), layers=2, vacuum=None, periodic=True)
    atoms = cell * (int(repeats[0]), int(repeats[1]), int(periods))
    if strain:
        atoms.set_cell(atoms.cell.array * np.diag([1 + strain, 1, 1]), scale_atoms=True)
    xy = atoms.positions[:, :2]
    lengths = atoms.cell.lengths()[:2]
    keys = np.round(np.mod(xy, lengths), 3)
    _, column_of = np.unique(keys, axis=0, return_inverse=True)
    column_of = column_of.ravel()
    # Exact positions (the rounded keys only group the atoms).
    columns = np.array([np.mod(xy[column_of == k][0], lengths) for k in range(column_of.max() + 1)])
    symbols = np.array(atoms.get_chemical_symbols())
    column_species = np.array([0 if symbols[column_of == k][0] == first else 1 for k in range(len(columns))])
    if cation == anion:
        atoms.set_chemical_symbols([cation] * len(atoms))
    defect_xy = None
    if antisite:
        k = int(np.argmin(np.hypot(*(columns - lengths / 2).T)))
        members = np.flatnonzero(column_of == k)
        swapped = anion if column_species[k] == 0 else cation
        for i in members:
            atoms[i].symbol = swapped
        defect_xy = columns[k].copy()
    return atoms, defect_xy, columns, column_species


@renamed_parameters(sampling="potential_sampling")
@validate_params(
    {**_SIMULATION, **_SCAN, **_ZINCBLENDE_CRYSTAL, "slice_thickness": _POSITIVE},
    prefer_skip_nested_validation=True,
)
def make_zincblende_4dstem(*, material="GaAs", repeats=(1, 1), periods=2, strain=0.0, antisite=False,
                           lattice_constant=None, energy=200e3,
                           semiangle=20.0, max_angle=40.0, scan_step=0.2, scan_extent=None, slice_thickness=2.0,
                           binning=1, dose=None, potential_sampling=0.05, cache_dir=None, random_state=0, verbose=False,
                           n_jobs=1):
    """4D-STEM scan of a zincblende crystal along [110] (abTEM multislice).

    The two sublattices (cation and anion columns of each dumbbell) make the
    projected structure polar: patterns at the cation and at the anion of a
    dumbbell differ, which a model that is blind to the inversion cannot
    tell apart. Parameters are those of :func:`make_graphene_4dstem`, plus:

    Parameters
    ----------
    material : {"GaAs", "GaP", "InAs", "InP", "ZnS"}, default="GaAs"
    repeats : (int, int), default=(1, 1)
        In-plane repeats of the 8.0 x 5.65 A (GaAs) cell.
    periods : int, default=2
        Thickness in units of the 8.0 A (GaAs) period along [110].
    strain : float, default=0.0
        Uniaxial strain along x.
    antisite : bool, default=False
        Swap the species of the column nearest the centre.
    lattice_constant : float or None, default=None
        Overrides the material's cubic lattice constant (Angstrom).
    slice_thickness : float, default=2.0
        Multislice slice thickness, Angstrom.

    Returns
    -------
    Bunch with data (sy, sx, ky, kx), positions, distance (to the antisite
    column; inf without), site_class (0 cation column, 1 anion column, 2
    between columns: more than 0.7 A from any), class_names, atoms,
    columns, column_species, defect_xy, metadata.
    """
    _check_dose(dose, scan_step**2)
    atoms, defect_xy, columns, species = zincblende_110(material, repeats, periods, strain, antisite,
                                                        lattice_constant)
    nx, ny, origin, grid = _scan_grid(atoms, scan_step, scan_extent, defect_xy, "cell")
    cell = np.array(atoms.cell.lengths()[:2])
    params = dict(kind="zincblende", energy=energy, semiangle=semiangle, max_angle=max_angle, sampling=potential_sampling,
                  slice_thickness=slice_thickness, positions=[nx, ny, scan_step, np.round(origin, 6).tolist()])
    patterns, mrad_per_px = _simulate(
        atoms, grid.reshape(-1, 2), energy=energy, semiangle=semiangle, max_angle=max_angle,
        potential_sampling=potential_sampling, cache_dir=cache_dir, key=_cache_key(params, atoms), verbose=verbose, slice_thickness=slice_thickness,
        n_jobs=n_jobs,
    )
    patterns = _finish(patterns, binning=binning, dose=dose, scan_step=scan_step, rng=local_random_state(random_state))
    flat = grid.reshape(-1, 2)
    distance = np.full(len(flat), np.inf) if defect_xy is None else _nearest(flat, defect_xy[None], cell)[0]
    column_distance, nearest = _nearest(flat, columns, cell)
    site = np.where(column_distance > 0.7, 2, species[nearest])
    cation, anion, _ = ZINCBLENDE[material]
    return Bunch(
        data=patterns.reshape(ny, nx, *patterns.shape[1:]),
        positions=grid,
        distance=distance.reshape(ny, nx),
        site_class=site.reshape(ny, nx),
        class_names=[cation, anion, "between"],
        atoms=atoms,
        columns=columns,
        column_species=species,
        defect_xy=defect_xy,
        metadata=dict(energy_eV=energy, semiangle_mrad=semiangle, max_angle_mrad=max_angle,
                      mrad_per_px=mrad_per_px * binning, scan_step_A=scan_step, sampling_A=potential_sampling,
                      binning=binning, dose=dose, material=material, repeats=tuple(repeats),
                      thickness_A=float(atoms.cell[2, 2]), strain=strain, antisite=antisite),
    )


@renamed_parameters(sampling="potential_sampling")
@validate_params(
    {**_SIMULATION, **{k: v for k, v in _ZINCBLENDE_CRYSTAL.items() if k not in ("strain", "antisite")},
     "n_pairs": [Interval(numbers.Integral, 1, None, closed="left")], "radius": ["array-like"],
     "slice_thickness": _POSITIVE},
    prefer_skip_nested_validation=True,
)
def make_zincblende_pairs(*, material="GaAs", n_pairs=40, radius=(0.1, 1.0), repeats=(1, 1), periods=2,
                          lattice_constant=None, energy=200e3, semiangle=20.0, max_angle=40.0, slice_thickness=2.0,
                          binning=1, dose=None, potential_sampling=0.05, cache_dir=None, random_state=0, verbose=False,
                          n_jobs=1):
    """Probe positions related by the 180-degree rotation about a [110] dumbbell centre.

    Each pair is a random position within ``radius`` of the centre of the
    dumbbell nearest the middle of the cell and its image turned by 180
    degrees about that centre, which swaps the dumbbell's two columns. The
    projected lattice maps onto itself, so the two patterns of a pair are
    nearly the same pattern turned by 180 degrees. Not exactly, even in a
    diamond crystal (``"Ge"``, ``"Si"``): the dumbbell's two atoms sit at
    different depths along the beam, and the turn about the beam axis is not
    a symmetry of the 3-D crystal (measured: 3 percent of a pair's
    difference remains in Ge). In a zincblende
    crystal (``"GaAs"``...) the turn also swaps cation and anion, and the
    polarity adds to what remains. ``n_pairs`` (>= 1) and ``radius``
    (``0 <= inner <= outer``, Angstrom) as ``n_orbits`` and ``radius`` of
    :func:`make_graphene_orbits`; other parameters as
    :func:`make_zincblende_4dstem` (``dose`` per position: at most 1e18
    electrons).

    Returns
    -------
    Bunch with data (2 * n_pairs, ky, kx), orbit (pair labels), rotation_deg
    (0 or 180), positions (Angstrom), center (the dumbbell centre), atoms,
    metadata.
    """
    radius = check_annulus(radius, "radius", unit="Angstrom")
    _check_dose(dose, 1.0)
    atoms, _, columns, species = zincblende_110(material, repeats, periods, lattice_constant=lattice_constant)
    cell = np.array(atoms.cell.lengths()[:2])
    k = int(np.argmin(np.where(species == 0, np.hypot(*(columns - cell / 2).T), np.inf)))
    partner = int(np.argmin(np.where(species == 1, np.hypot(*(columns - columns[k]).T), np.inf)))
    center = (columns[k] + columns[partner]) / 2
    rng = local_random_state(random_state)
    r = np.sqrt(rng.uniform(radius[0] ** 2, radius[1] ** 2, n_pairs))
    phi = rng.uniform(0, 2 * np.pi, n_pairs)
    offsets = np.stack([r * np.cos(phi), r * np.sin(phi)], 1)
    positions = np.stack([center + offsets, center - offsets], 1).reshape(-1, 2)
    params = dict(kind="zincblende-pairs", energy=energy, semiangle=semiangle, max_angle=max_angle,
                  sampling=potential_sampling, slice_thickness=slice_thickness, positions=np.round(positions, 6).tolist())
    patterns, mrad_per_px = _simulate(
        atoms, positions, energy=energy, semiangle=semiangle, max_angle=max_angle,
        potential_sampling=potential_sampling, cache_dir=cache_dir, key=_cache_key(params, atoms), verbose=verbose, slice_thickness=slice_thickness,
        n_jobs=n_jobs,
    )
    patterns = _finish(patterns, binning=binning, dose=dose, scan_step=1.0, rng=rng)
    return Bunch(data=patterns, orbit=np.repeat(np.arange(n_pairs), 2), rotation_deg=np.tile([0.0, 180.0], n_pairs),
                 positions=positions, center=center, atoms=atoms,
                 metadata=dict(energy_eV=energy, semiangle_mrad=semiangle, max_angle_mrad=max_angle,
                               mrad_per_px=mrad_per_px * binning, sampling_A=potential_sampling, binning=binning, dose=dose,
                               material=material, thickness_A=float(atoms.cell[2, 2])))
