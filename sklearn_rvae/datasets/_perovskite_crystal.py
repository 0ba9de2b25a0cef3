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

import numpy as np

from .._utils import check_int_tuple, check_real_tuple

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


def _check_atoms(atoms):
    import ase

    if not isinstance(atoms, ase.Atoms):
        raise TypeError(f"atoms must be an ase.Atoms cell, got {type(atoms).__name__}.")


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


def _oriented_cell(material, tilts, glazer):
    """The [110] cell (2x2x2 pseudo-cubic supercell) that image of these tilts simulates."""
    return orient_110(perovskite_supercell(material, tilts, glazer, repeats=(2, 2, 2)))


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
