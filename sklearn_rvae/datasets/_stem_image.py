"""Atom-resolved HAADF-STEM images and movies of doped graphene, with ground truth.

The fast model is incoherent Z-contrast imaging: every atomic column is a
Gaussian probe spot whose height scales as Z**1.7 (or, with ``model="abtem"``,
each element's profile from a multislice line scan), on a flat background,
sampled with Poisson noise. Rows of the scan can be displaced sideways
(fly-back jitter) and a movie's field of view drifts. Coordinates are
(row, col) in pixels with row 0 at the top and the centre of pixel (i, j) at
(i, j).
"""

import functools
import numbers

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.utils._param_validation import StrOptions, validate_params

from .._deprecation import renamed_parameters
from .._utils import Interval, local_random_state
from ._checks import check_poisson_mean

GRAPHENE_LATTICE_CONSTANT = 2.46  # angstrom; the C-C bond is a / sqrt(3) = 1.42 A
ATOMIC_NUMBERS = {"B": 5, "C": 6, "N": 7, "O": 8, "Al": 13, "Si": 14, "P": 15, "S": 16, "Fe": 26}
# An environment is decided by the first neighbours only: a carbon bonded to a
# dopant is "C-<dopant>", a carbon with a missing neighbour "C-vacancy".
_BOND = GRAPHENE_LATTICE_CONSTANT / np.sqrt(3)


def environment_names(dopants=("Si",)):
    """The environment classes of ``make_stem_image`` in the order of its ``label`` column.

    ``("C", "C-vacancy")`` and then, for every dopant element,
    ``(element, "C-" + element)``; e.g. ``("C", "C-vacancy", "Si", "C-Si")``.
    """
    # A bare string would be read letter by letter ("Si" -> "S", "i").
    if isinstance(dopants, str) or not all(e in ATOMIC_NUMBERS and e != "C" for e in dopants):
        raise ValueError(f"dopants must be a sequence (or dict) of dopant elements from "
                         f"{sorted(set(ATOMIC_NUMBERS) - {'C'})}, got {dopants!r}.")
    names = ["C", "C-vacancy"]
    for element in dopants:
        names += [element, f"C-{element}"]
    return tuple(names)


def _graphene_sites(extent, angle_deg, rng):
    """Graphene columns (n, 2) in angstrom, (y, x), covering a square of side ``extent``."""
    a = GRAPHENE_LATTICE_CONSTANT
    a1 = np.array([a, 0.0])
    a2 = np.array([a / 2, a * np.sqrt(3) / 2])
    basis = np.array([[0.0, 0.0], [0.0, _BOND]])  # (x, y)
    n = int(np.ceil(1.6 * extent / a)) + 2
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    cells = i.reshape(-1, 1) * a1 + j.reshape(-1, 1) * a2
    xy = (cells[:, None, :] + basis[None]).reshape(-1, 2)
    xy += rng.uniform(0, a, 2)  # a random origin: no column is special
    t = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    xy = xy @ rot.T + extent / 2
    keep = np.all((xy > -3 * a) & (xy < extent + 3 * a), axis=1)
    return xy[keep][:, ::-1].copy()


def _place_defects(sites, neighbours, n_defects, inside, rng, min_separation=4):
    """Pick ``n_defects`` site indices, no two within ``min_separation`` bonds' reach."""
    tree = cKDTree(sites)
    candidates = rng.permutation(np.flatnonzero(inside))
    chosen, blocked = [], np.zeros(len(sites), dtype=bool)
    for idx in candidates:
        if len(chosen) == n_defects:
            break
        if blocked[idx]:
            continue
        chosen.append(idx)
        blocked[tree.query_ball_point(sites[idx], min_separation * _BOND)] = True
    if len(chosen) < n_defects:
        raise ValueError(
            f"only {len(chosen)} defects fit in the field of view with the separation this "
            f"simulator keeps between them; ask for fewer than {n_defects} (dopants plus "
            "n_vacancies), or for a larger size or pixel_size."
        )
    return np.array(chosen, dtype=int)


def _environments(elements, neighbours, dopants):
    """Environment label of every present site (``-1`` for vacancies)."""
    names = environment_names(dopants)
    code = {name: k for k, name in enumerate(names)}
    labels = np.full(len(elements), -1, dtype=int)
    for i, element in enumerate(elements):
        if element == "":
            continue
        if element != "C":
            labels[i] = code[element]
            continue
        near = [elements[j] for j in neighbours[i]]
        if "" in near:
            labels[i] = code["C-vacancy"]
        else:
            foreign = [e for e in near if e != "C"]
            labels[i] = code[f"C-{foreign[0]}"] if foreign else code["C"]
    return labels


def _render(rows, cols, heights, shape, reach, row_jitter, profile):
    """Sum of spots ``heights * profile(d**2)`` (d in pixels) on a grid whose row r is moved by ``row_jitter[r]`` along x."""
    h, w = shape
    image = np.zeros(shape)
    offsets = np.arange(-reach, reach + 1)
    r0, c0 = np.rint(rows).astype(int), np.rint(cols).astype(int)
    rr = r0[:, None] + offsets  # (n, W)
    cc = c0[:, None] + offsets
    valid_r = (rr >= 0) & (rr < h)
    valid_c = (cc >= 0) & (cc < w)
    jitter = row_jitter[np.clip(rr, 0, h - 1)]  # (n, W): the sideways shift of each row
    dy2 = (rr - rows[:, None]) ** 2  # (n, W)
    dx = cc[:, None, :] + jitter[:, :, None] - cols[:, None, None]  # (n, W, W)
    spots = heights[:, None, None] * profile(dy2[:, :, None] + dx**2)
    mask = valid_r[:, :, None] & valid_c[:, None, :]
    flat = (np.clip(rr, 0, h - 1)[:, :, None] * w + np.clip(cc, 0, w - 1)[:, None, :])[mask]
    np.add.at(image.reshape(-1), flat, spots[mask])
    return image


@functools.lru_cache(maxsize=None)
def abtem_column_profile(element, energy=60e3, semiangle_cutoff=32.0, inner=80.0, outer=200.0):
    """HAADF intensity against distance from one atom of ``element``, by multislice (abTEM).

    A line scan of an aberration-free probe (``energy`` eV, ``semiangle_cutoff``
    mrad) from the atom out to 4 A, in steps of 0.05 A, with an annular
    detector from ``inner`` to ``outer`` mrad. Needs the ``sim`` extra.

    Returns
    -------
    distance : ndarray
        Angstrom, from 0 to 4.
    intensity : ndarray
        The detected fraction of the probe at each distance.
    """
    try:
        import abtem
        import ase
    except ImportError as exc:  # pragma: no cover - the sim extra is a test dependency
        raise ImportError(
            'model="abtem" needs abTEM and ASE: pip install "sklearn_rvae[sim]".'
        ) from exc
    from ase.data import atomic_numbers

    if not (isinstance(element, str) and element in atomic_numbers and element != "X"):
        raise ValueError(f"element must be a chemical symbol such as 'C' or 'Si', got {element!r}.")
    for name, value in (("energy", energy), ("semiangle_cutoff", semiangle_cutoff), ("outer", outer)):
        if not (isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
    if not (isinstance(inner, numbers.Real) and not isinstance(inner, bool) and 0 <= inner < outer):
        raise ValueError(f"inner must be a detector angle in mrad with 0 <= inner < outer={outer!r}, got {inner!r}.")
    atoms = ase.Atoms(element, positions=[(6.0, 6.0, 1.0)], cell=(12.0, 12.0, 2.0))
    # Only for this computation: the user's own abTEM settings stay as they are.
    with abtem.config.set({"device": "cpu", "diagnostics.progress_bar": False}):
        potential = abtem.Potential(atoms, sampling=0.04, projection="infinite", slice_thickness=2.0)
        probe = abtem.Probe(energy=energy, semiangle_cutoff=semiangle_cutoff)
        scan = abtem.LineScan(start=(6.0, 6.0), end=(10.0, 6.0), sampling=0.05)
        detector = abtem.AnnularDetector(inner=inner, outer=outer)
        measured = probe.scan(potential, scan=scan, detectors=detector).compute()
    intensity = np.asarray(measured.array, dtype=np.float64)
    distance = np.linspace(0.0, 4.0, len(intensity))
    # Cached and shared between calls: read-only.
    distance.flags.writeable = intensity.flags.writeable = False
    return distance, intensity


_COMMON = {
    "size": [Interval(numbers.Integral, 16, None, closed="left")],
    "pixel_size": [Interval(numbers.Real, 0, None, closed="neither")],
    "dopants": [dict],
    "n_vacancies": [Interval(numbers.Integral, 0, None, closed="left")],
    "peak_counts": [Interval(numbers.Real, 0, None, closed="neither")],
    "probe_fwhm": [Interval(numbers.Real, 0, None, closed="neither")],
    "background": [Interval(numbers.Real, 0, None, closed="left")],
    "scan_jitter": [Interval(numbers.Real, 0, None, closed="left")],  # < size: _check_common
    "model": [StrOptions({"gaussian", "abtem"})],
    "random_state": ["random_state"],
}


def _check_common(dopants, size, pixel_size, probe_fwhm, scan_jitter):
    """What the constraints of ``_COMMON`` cannot say alone."""
    _check_dopants(dopants)
    # A wider probe makes a blur, not an image, and its spots would be rendered on huge stencils.
    if probe_fwhm >= size * pixel_size:
        raise ValueError(f"probe_fwhm={probe_fwhm!r} Angstrom must be smaller than the field of view, "
                         f"size * pixel_size = {size * pixel_size:g} Angstrom.")
    if scan_jitter >= size:
        raise ValueError(f"scan_jitter={scan_jitter!r} pixels must be smaller than the image width, size={size}.")


def _check_dopants(dopants):
    for element, count in dopants.items():
        if element not in ATOMIC_NUMBERS or element == "C":
            raise ValueError(
                f"dopants={dopants!r}: unknown dopant element {element!r}; "
                f"expected one of {sorted(set(ATOMIC_NUMBERS) - {'C'})}."
            )
        if not isinstance(count, numbers.Integral) or isinstance(count, bool) or count < 0:
            raise ValueError(f"dopants={dopants!r}: the count of {element!r} must be an int >= 0.")


class _Scene:
    """A graphene sheet with defects, seen through a square field of view."""

    def __init__(self, size, pixel_size, dopants, n_vacancies, angle, margin, rng):
        extent = size * pixel_size
        self.sites = _graphene_sites(extent + 2 * margin, angle, rng) - margin  # (y, x), angstrom
        tree = cKDTree(self.sites)
        self.neighbours = [
            [j for j in tree.query_ball_point(p, 1.2 * _BOND) if j != i]
            for i, p in enumerate(self.sites)
        ]
        # Defects sit well inside the field (a bond and a half from the edge,
        # or the movie's own margin) so that every one is seen in every frame.
        pad = 1.5 * _BOND + margin
        inside = np.all((self.sites > pad) & (self.sites < extent - pad), axis=1)
        wanted = sum(dopants.values()) + n_vacancies
        defects = _place_defects(self.sites, self.neighbours, wanted, inside, rng)
        self.elements = np.array(["C"] * len(self.sites), dtype=object)
        k = 0
        for element, count in dopants.items():
            self.elements[defects[k:k + count]] = element
            k += count
        self.elements[defects[k:]] = ""  # vacancies
        self.dopants = tuple(dopants)

    def hop(self, rng, centre):
        """Swap the dopant nearest ``centre`` with one of its carbon neighbours; return both sites."""
        dopant_sites = np.flatnonzero(np.isin(self.elements, self.dopants))
        site = dopant_sites[np.argmin(np.linalg.norm(self.sites[dopant_sites] - centre, axis=1))]
        carbons = [j for j in self.neighbours[site] if self.elements[j] == "C"]
        target = carbons[rng.integers(len(carbons))]
        self.elements[site], self.elements[target] = self.elements[target], self.elements[site]
        return site, target

    def frame(self, offset, pixel_size, size, peak_counts, probe_fwhm, background, scan_jitter,
              displacement, rng, model="gaussian"):
        """One noisy image and its atoms table (angstrom offset of the field, (y, x))."""
        present = self.elements != ""
        pos = self.sites + displacement * rng.standard_normal(self.sites.shape)
        pix = (pos - offset) / pixel_size - 0.5  # pixel centres at integers
        labels = _environments(self.elements, self.neighbours, self.dopants)
        z = np.array([ATOMIC_NUMBERS.get(e, 0) for e in self.elements], dtype=float)
        row_jitter = scan_jitter * rng.standard_normal(size)
        clean = np.full((size, size), background * peak_counts)
        if model == "gaussian":
            sigma = probe_fwhm / pixel_size / (2 * np.sqrt(2 * np.log(2)))
            groups = [(present, peak_counts * (z / 6.0) ** 1.7, lambda d2: np.exp(-d2 / (2 * sigma**2)),
                       int(np.ceil(4 * sigma)))]
        else:
            # Multislice profiles, each element its own shape; the C peak is ``peak_counts``.
            c_peak = abtem_column_profile("C")[1][0]
            groups = []
            for element in sorted(set(self.elements[present])):
                r, f = abtem_column_profile(element)
                r_px, f = r / pixel_size, f / c_peak
                groups.append((self.elements == element, np.full(len(z), peak_counts),
                               lambda d2, r_px=r_px, f=f: np.interp(np.sqrt(d2), r_px, f, right=0.0),
                               int(np.ceil(r_px[-1]))))
        for members, heights, profile, reach in groups:
            near = members & np.all((pix > -reach) & (pix < size - 1 + reach), axis=1)
            clean += _render(pix[near, 0], pix[near, 1], heights[near], (size, size), reach,
                             row_jitter, profile)
        check_poisson_mean(clean.max(), "peak_counts (times the brightest column, plus background)")
        image = rng.poisson(clean).astype(np.float64)
        seen = present & np.all((pix >= -0.5) & (pix < size - 0.5), axis=1)
        names = environment_names(self.dopants)
        atoms = pd.DataFrame(
            {
                "row": pix[seen, 0],
                "col": pix[seen, 1],
                "element": self.elements[seen].astype(str),
                "label": labels[seen],
                "environment": pd.Categorical.from_codes(labels[seen], names),
                "atom_id": np.flatnonzero(seen),
            }
        )
        return image, atoms


@renamed_parameters(dose="peak_counts")
@validate_params(
    {**_COMMON, "rotation": [Interval(numbers.Real, None, None, closed="neither"), None]},
    prefer_skip_nested_validation=True,
)
def make_stem_image(size=256, pixel_size=0.2, *, dopants={"Si": 12}, n_vacancies=6,  # noqa: B006
                    rotation=None, peak_counts=40.0, probe_fwhm=1.0, background=0.05, scan_jitter=0.2,
                    model="gaussian", random_state=0):
    """HAADF-STEM image of graphene with substitutional dopants and vacancies.

    Incoherent Z-contrast model: each atomic column is a Gaussian probe spot
    (``probe_fwhm``) whose height is ``peak_counts * (Z / 6) ** 1.7`` counts, so a
    Si column is 4.2 times as bright as a carbon one; a flat background of
    ``background * peak_counts`` counts; Poisson noise; every scan row displaced
    sideways by a normal ``scan_jitter``. Defects are kept at least four
    bond lengths apart, so every atom's environment is decided by its own
    first neighbours.

    Parameters
    ----------
    size : int, default=256
        Side of the square image, pixels.
    pixel_size : float, default=0.2
        Angstrom per pixel (a C-C bond is 1.42 A, 7.1 px at the default).
    dopants : dict, default={"Si": 12}
        Number of substitutional dopants of each element (B, N, O, Al, Si,
        P, S, Fe).
    n_vacancies : int, default=6
        Number of single vacancies.
    rotation : float or None, default=None
        Angle of the lattice in degrees (counter-clockwise on screen);
        ``None`` draws one uniformly from [0, 60), all orientations of
        graphene's six-fold lattice.
    peak_counts : float, default=40.0
        Expected counts at the peak of an isolated carbon column (``dose``
        before 0.2; a dose in electrons per square Angstrom elsewhere in the
        package is another quantity).
    probe_fwhm : float, default=1.0
        Full width at half maximum of the probe, angstrom (less than the
        field of view, ``size * pixel_size``).
    background : float, default=0.05
        Flat background, as a fraction of ``peak_counts``.
    scan_jitter : float, default=0.2
        Standard deviation of the sideways displacement of each scan row,
        pixels (less than ``size``).
    model : {"gaussian", "abtem"}, default="gaussian"
        Shape of a column. ``"gaussian"``: the probe spot times Z**1.7.
        ``"abtem"``: each element's HAADF profile simulated by multislice
        (:func:`abtem_column_profile`: 60 kV, 32 mrad, 80-200 mrad detector;
        the ``sim`` extra, a few seconds once per session), with its Airy
        tails and its own Z-contrast (Si/C 5.0); ``probe_fwhm`` is unused.
    random_state : int, RandomState instance or None, default=0
        Seed of the lattice offset and angle, the defects, jitter and noise;
        ``None`` draws one from the OS (numpy's global random state is left
        as it was).

    Returns
    -------
    image : ndarray of shape (size, size)
        Counts (float64).
    atoms : pandas.DataFrame
        One row per atomic column whose centre lies in the image: ``row``,
        ``col`` (true position, pixels, row 0 at the top), ``element``,
        ``label`` (int) and ``environment`` (categorical, names from
        :func:`environment_names`), ``atom_id`` (the lattice site).

    See Also
    --------
    make_stem_movie : frames of the same sheet with drift and a dopant hop.

    Examples
    --------
    >>> from sklearn_rvae.datasets import make_stem_image
    >>> image, atoms = make_stem_image(size=64, dopants={"Si": 1}, n_vacancies=0)
    >>> image.shape, atoms["environment"].value_counts()["Si"]
    ((64, 64), np.int64(1))
    """
    _check_common(dopants, size, pixel_size, probe_fwhm, scan_jitter)
    rng = np.random.default_rng(local_random_state(random_state).randint(2**31))
    angle = rng.uniform(0, 60) if rotation is None else float(rotation)
    scene = _Scene(size, pixel_size, dopants, n_vacancies, angle, 0.0, rng)
    return scene.frame(np.zeros(2), pixel_size, size, peak_counts, probe_fwhm, background, scan_jitter,
                       0.0, rng, model)


def _check_hop_frames(hop_frames, n_frames):
    """Hop frames as a list of ints in 1 .. n_frames - 1 (integer-valued floats accepted)."""
    try:
        frames = np.atleast_1d(np.asarray(hop_frames))
    except ValueError:
        frames = np.array([None])  # ragged
    integral = frames.dtype.kind in "iu" or (
        frames.dtype.kind == "f" and np.all(np.isfinite(frames)) and np.all(frames == np.round(frames))
    )
    if frames.size == 0:
        return []
    if frames.ndim != 1 or not integral or frames.min() < 1 or frames.max() >= n_frames:
        raise ValueError(f"hop_frames={hop_frames!r} must be a sequence of integer frames, each in "
                         f"1 .. n_frames - 1 = {n_frames - 1}.")
    return [int(f) for f in frames]


def _check_drift(drift, drift_jitter, size):
    try:
        values = np.asarray(drift, dtype=float)
    except (TypeError, ValueError):
        values = np.array([np.nan])
    if values.shape != (2,) or not np.all(np.isfinite(values)):
        raise ValueError(f"drift={drift!r} must be two finite numbers, (row, col) pixels per frame.")
    # Consecutive frames must overlap, or there is nothing to link.
    if np.any(np.abs(values) >= size):
        raise ValueError(f"drift={drift!r} must be smaller than the image, size={size} pixels per frame.")
    if drift_jitter >= size:
        raise ValueError(f"drift_jitter={drift_jitter!r} must be smaller than the image, size={size} pixels.")
    return values


@renamed_parameters(dose="peak_counts")
@validate_params(
    {
        **_COMMON,
        "n_frames": [Interval(numbers.Integral, 1, None, closed="left")],
        "rotation": [Interval(numbers.Real, None, None, closed="neither"), None],
        "drift": ["array-like"],
        "drift_jitter": [Interval(numbers.Real, 0, None, closed="left")],
        # Less than half a bond: the atoms table assigns every atom to its site.
        "displacement": [Interval(numbers.Real, 0, _BOND / 2, closed="left")],
        "hop_frames": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def make_stem_movie(n_frames=10, size=256, pixel_size=0.2, *, dopants={"Si": 12},  # noqa: B006
                    n_vacancies=6, rotation=None, peak_counts=40.0, probe_fwhm=1.0, background=0.05,
                    scan_jitter=0.2, drift=(1.5, -1.0), drift_jitter=0.5, displacement=0.05,
                    hop_frames=None, model="gaussian", random_state=0):
    """A HAADF-STEM movie of one graphene sheet: drift, jitter and dopant hops.

    Every frame is drawn as in :func:`make_stem_image` from the same sheet.
    Between frames the field of view drifts by ``drift`` pixels plus a
    normal ``drift_jitter``, and every atom is displaced from its site by a
    normal ``displacement`` (thermal motion, small jumps). At each frame in
    ``hop_frames`` the dopant nearest the centre of the sheet swaps places
    with one of its carbon neighbours, so from that frame on the two sites
    change element and their neighbours change environment.

    Parameters
    ----------
    n_frames : int, default=10
        Number of frames.
    size, pixel_size, dopants, n_vacancies, rotation, peak_counts, probe_fwhm, \
background, scan_jitter, model
        As in :func:`make_stem_image`.
    drift : (float, float), default=(1.5, -1.0)
        Mean motion of the sample in the image between frames, (row, col)
        pixels, each less than ``size`` (frames must overlap).
    drift_jitter : float, default=0.5
        Standard deviation of the frame-to-frame change of the drift,
        pixels, less than ``size``.
    displacement : float, default=0.05
        Standard deviation of every atom's displacement from its site in
        each frame, angstrom, less than half a C-C bond (0.71 A).
    hop_frames : sequence of int or None, default=None
        Frames at which a dopant hops (each in 1 .. n_frames - 1; a frame
        given twice hops twice); ``None`` is one hop, at frame
        ``n_frames // 2`` (none for a single frame or without dopants).
    random_state : int, RandomState instance or None, default=0
        Seed of the sheet, drift, hops and noise; ``None`` draws one from
        the OS (numpy's global random state is left as it was).

    Returns
    -------
    frames : ndarray of shape (n_frames, size, size)
        Counts (float64).
    atoms : pandas.DataFrame
        One row per atom per frame: ``frame`` and the columns of
        :func:`make_stem_image`; ``atom_id`` names the lattice site, the
        same in every frame, which is what linking recovers.

    Examples
    --------
    >>> from sklearn_rvae.datasets import make_stem_movie
    >>> frames, atoms = make_stem_movie(n_frames=3, size=64, dopants={"Si": 1},
    ...                                 n_vacancies=0, hop_frames=(2,))
    >>> frames.shape, atoms.groupby("frame")["element"].apply(lambda e: (e == "Si").sum()).tolist()
    ((3, 64, 64), [1, 1, 1])
    """
    _check_common(dopants, size, pixel_size, probe_fwhm, scan_jitter)
    has_dopant = sum(dopants.values()) > 0
    if hop_frames is None:
        hop_frames = (n_frames // 2,) if n_frames > 1 and has_dopant else ()
    hop_frames = _check_hop_frames(hop_frames, n_frames)
    if hop_frames and not has_dopant:
        raise ValueError(f"hop_frames={hop_frames!r} asks for dopant hops, but dopants={dopants!r} places no dopant.")
    drift = _check_drift(drift, drift_jitter, size)
    rng = np.random.default_rng(local_random_state(random_state).randint(2**31))
    steps = drift + drift_jitter * rng.standard_normal((n_frames, 2))
    steps[0] = 0.0
    # The sample moves by +drift in the image, so the field of view moves by -drift.
    offsets = -np.cumsum(steps, axis=0) * pixel_size
    offsets -= offsets.mean(axis=0)
    margin = float(np.abs(offsets).max())
    angle = rng.uniform(0, 60) if rotation is None else float(rotation)
    scene = _Scene(size, pixel_size, dopants, n_vacancies, angle, margin, rng)
    centre = np.full(2, size * pixel_size / 2)
    frames, tables = [], []
    for t in range(n_frames):
        for _ in range(hop_frames.count(t)):
            scene.hop(rng, centre)
        image, atoms = scene.frame(offsets[t], pixel_size, size, peak_counts, probe_fwhm, background,
                                   scan_jitter, displacement, rng, model)
        atoms.insert(0, "frame", t)
        frames.append(image)
        tables.append(atoms)
    return np.stack(frames), pd.concat(tables, ignore_index=True)
