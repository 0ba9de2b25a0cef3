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

import numpy as np

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
        Lattice constant override, Angstrom.
    species : (A, B) or None
        Cation override, for example ``("Ba", "Zr")``.

    Returns
    -------
    atoms : ase.Atoms
        Atoms tagged 0 (A), 1 (B) and 2 (O); ``atoms.info`` holds the
        tilts, the Glazer pattern, the lattice constant and, for each O,
        the indices of its two B neighbours (``"o_neighbours"``).
    """
    import ase

    if material not in PEROVSKITES and (species is None or a is None):
        raise ValueError(f"material must be one of {sorted(PEROVSKITES)} (or give species and a), got {material!r}.")
    A, B, a0 = PEROVSKITES.get(material, (None, None, None))
    if species is not None:
        A, B = species
    a = a0 if a is None else float(a)
    tilts = np.asarray(tilts, dtype=np.float64)
    if tilts.shape != (3,) or not np.all(np.isfinite(tilts)) or np.any(np.abs(tilts) > 20):
        raise ValueError(f"tilts must be three finite angles in degrees within +-20, got {tuple(np.ravel(tilts))}.")
    glazer = _check_glazer(glazer)
    repeats = tuple(int(r) for r in repeats)
    if len(repeats) != 3 or any(r < 1 for r in repeats):
        raise ValueError(f"repeats must be three positive integers, got {repeats!r}.")
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
    atoms.wrap()
    atoms.info.update(tilts=tuple(tilts), glazer="".join(glazer), a=a, o_neighbours=np.array(o_neighbours))
    return atoms


def make_synthetic_tilt_patches(n_samples=400, *, size=24, tilt_range=(0.0, 10.0), material="SrTiO3",
                                glazer="a-b-c-", sigma=0.35, random_state=0):
    """Fast stand-in for ABF patches: projected [001] images of tilted perovskite supercells.

    Each patch renders a 2x2x2 supercell projected along z as Gaussian
    columns with ABF-like (dark atom) contrast, weights ``Z ** 1.7``: no
    multislice, so hundreds of patches take a second, but the oxygen
    columns move with the tilts as they do in the real images. Meant for
    tests and quick experiments, not for the benchmark figures.

    Returns
    -------
    X : ndarray of shape (n_samples, size * size), positive intensities
    y : ndarray of shape (n_samples, 3), tilts in degrees
    """
    from ase.data import atomic_numbers
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    lo, hi = tilt_range
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
        X[i] = (1.0 - 0.7 * image / image.max()).ravel()
    return X, y
