"""Perovskite builder: ideal cube at zero tilt, shared oxygens, bond lengths, Glazer signs."""

import numpy as np
import pytest

pytest.importorskip("ase")
from sklearn_rvae.datasets import perovskite_supercell  # noqa: E402
from sklearn_rvae.datasets._perovskite_crystal import octahedral_signs  # noqa: E402


def test_zero_tilt_is_the_ideal_cubic_perovskite():
    atoms = perovskite_supercell("SrTiO3", (0, 0, 0), "a0a0a0", repeats=(2, 2, 2))
    a = 3.905
    assert len(atoms) == 8 * 5 and atoms.get_chemical_formula() == "O24Sr8Ti8"
    frac = np.round(atoms.get_scaled_positions() * 2, 9) % 1  # in cubic-cell units
    expected = {0: [0, 0, 0], 1: [0.5, 0.5, 0.5]}
    for tag, offset in expected.items():
        np.testing.assert_allclose(frac[atoms.get_tags() == tag], np.broadcast_to(offset, (8, 3)), atol=1e-9)
    o = frac[atoms.get_tags() == 2]
    # Each O sits at a face centre: two coordinates 0.5, one 0.
    assert np.all(np.sort(o, 1) == np.array([0, 0.5, 0.5]))
    d = atoms.get_all_distances(mic=True)
    ti = np.flatnonzero(atoms.get_tags() == 1)
    ox = np.flatnonzero(atoms.get_tags() == 2)
    np.testing.assert_allclose(np.sort(d[np.ix_(ti, ox)], 1)[:, :6], a / 2, atol=1e-12)


@pytest.mark.parametrize("glazer", ["a-b-c-", "a+b+c+", "a0a0c-", "a-a-c+"])
@pytest.mark.parametrize("tilts", [(3.0, 2.0, 1.0), (10.0, 7.0, 4.0), (10.0, 10.0, 10.0)])
def test_every_oxygen_shared_by_two_b_with_bonds_preserved(glazer, tilts):
    atoms = perovskite_supercell("SrTiO3", tilts, glazer, repeats=(2, 2, 2))
    d = atoms.get_all_distances(mic=True)
    b = np.flatnonzero(atoms.get_tags() == 1)
    ox = np.flatnonzero(atoms.get_tags() == 2)
    bo = d[np.ix_(ox, b)]
    neighbours = np.sort(bo, 1)
    # Exactly two B within a bond length of each O; the next is far.
    assert np.all(neighbours[:, 1] < 3.905 / 2 * 1.01) and np.all(neighbours[:, 2] > 3.0)
    np.testing.assert_allclose(neighbours[:, :2], 3.905 / 2, rtol=0.01)
    # ...and each B has six O.
    assert np.all(np.sum(d[np.ix_(b, ox)] < 3.905 / 2 * 1.01, axis=1) == 6)


def test_glazer_signs_alternate_as_specified():
    index = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    minus = octahedral_signs(index, "a-b-c-")
    # Anti-phase: every neighbour flips every rotation.
    assert np.all(minus[1:] == -minus[0])
    plus = octahedral_signs(index, "a0a0c+")
    # In-phase about c: neighbours along c keep the sign, neighbours in the plane flip it.
    assert plus[3, 2] == plus[0, 2] and plus[1, 2] == -plus[0, 2] and plus[2, 2] == -plus[0, 2]
    assert np.all(plus[:, :2] == 0)


def test_bad_parameters():
    with pytest.raises(ValueError, match="glazer"):
        perovskite_supercell(glazer="a*b-c-")
    with pytest.raises(ValueError, match="even"):
        perovskite_supercell(tilts=(5, 0, 0), glazer="a-b0c0", repeats=(3, 2, 2))
    with pytest.raises(ValueError, match="tilts"):
        perovskite_supercell(tilts=(45, 0, 0))
    with pytest.raises(ValueError, match="material"):
        perovskite_supercell("NaCl")


def test_orient_110_keeps_every_atom_and_the_bonds():
    from sklearn_rvae.datasets import orient_110

    for tilts in [(0, 0, 0), (8, 5, 3)]:
        bulk = perovskite_supercell("SrTiO3", tilts, "a-b-c-", repeats=(2, 2, 2))
        turned = orient_110(bulk)
        assert turned.get_chemical_formula() == "O48Sr16Ti16"  # twice the 2x2x2 cell, nothing lost
        assert np.allclose(turned.cell.array, np.diag(turned.cell.lengths()))
        d = turned.get_all_distances(mic=True)
        np.fill_diagonal(d, np.inf)
        assert d.min() == pytest.approx(3.905 / 2, rel=0.01)  # shortest = Ti-O bond
        assert turned.info["zone_axis"] == "110"


CHEAP = dict(thickness_periods=1, potential_sampling=0.16, pixel_size=0.4, patch_size=12, semiangle=20.0)
# make_perovskite_abf's defaults before they became the TiltRegressor recipe's: the simulated grid, no mirror.
CELL = dict(pixel_grid="cell", mid_plane_mirror=False)


def test_make_perovskite_abf_caches_resumes_and_grows(tmp_path):
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import make_perovskite_abf

    X, y, _, _ = make_perovskite_abf(3, cache_dir=tmp_path, dose=1e5, patches_per_image=1, random_state=1, **CELL,
                                     **CHEAP)
    assert X.shape == (3, 144) and X.dtype == np.float32 and y.shape == (3, 3)
    assert np.all(np.abs(y) <= 10) and len(np.unique(np.abs(y[:, 0]))) == 3  # no duplicated image
    assert np.all(X > 0) and np.all(X < 1.2)  # ABF: a fraction of the beam, dark atoms
    files = sorted(tmp_path.rglob("image_*.npz"))
    assert len(files) == 3
    files[1].unlink()  # an interrupted run: the next call recomputes only this one
    X2, y2, _, _ = make_perovskite_abf(3, cache_dir=tmp_path, dose=1e5, patches_per_image=1, random_state=1, **CELL,
                                       **CHEAP)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    X4, y4, _, _ = make_perovskite_abf(4, cache_dir=tmp_path, dose=1e5, patches_per_image=1, random_state=1, n_jobs=2,
                                       **CELL, **CHEAP)
    np.testing.assert_array_equal(X4[:3], X)
    assert len(sorted(tmp_path.rglob("image_*.npz"))) == 4
    # The cache holds the simulation only: more patches and another dose reuse it.
    X8, y8, _, _ = make_perovskite_abf(4, cache_dir=tmp_path, dose=1e4, patches_per_image=2, random_state=1, **CELL,
                                       **CHEAP)
    assert X8.shape == (8, 144) and len(sorted(tmp_path.rglob("image_*.npz"))) == 4
    # Patches of one image carry that image's angles, with the sense of their column.
    np.testing.assert_allclose(np.abs(y8[::2]), np.abs(y4))
    np.testing.assert_allclose(np.abs(y8[1::2]), np.abs(y4))


def test_make_perovskite_abf_all_patches_of_each_image(tmp_path):
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import make_perovskite_abf

    X, y, groups, _ = make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image="all", random_state=1, **CELL,
                                          **CHEAP)
    assert len(X) == len(y) == len(groups) and np.array_equal(groups, np.sort(groups))
    assert set(groups) == {0, 1} and X.dtype == np.float32
    # Every patch that a random cut can give is among them, once, with its column's tilts.
    X8, y8, groups8, _ = make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image=8, random_state=1, **CELL,
                                             **CHEAP)
    np.testing.assert_array_equal(groups8, np.repeat([0, 1], 8))
    for patch, tilts, image in zip(X8, y8, groups8):
        same = np.flatnonzero(np.all(X == patch, axis=1))
        assert len(same) == 1 and groups[same[0]] == image
        np.testing.assert_array_equal(y[same[0]], tilts)
    for image in (0, 1):
        mine = X[groups == image]
        assert len(np.unique(mine, axis=0)) == len(mine) > 8
    # With noise: the same patches and targets, each with its own noise.
    Xn, yn, _, _ = make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image="all", dose=1e5, random_state=1,
                                       **CELL, **CHEAP)
    np.testing.assert_array_equal(yn, y)
    assert np.corrcoef(Xn.ravel(), X.ravel())[0, 1] > 0.9 and not np.array_equal(Xn, X)
    with pytest.raises(ValueError, match="patches_per_image must be a positive integer or 'all'"):
        make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image="every", **CELL)


def test_make_perovskite_abf_grid_offset_moves_the_image_under_the_pixels(tmp_path):
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import make_perovskite_abf

    X, y, _, _ = make_perovskite_abf(1, cache_dir=tmp_path, patches_per_image="all", random_state=1, **CELL, **CHEAP)
    # A whole pixel moves the columns and their cuts with the image: the same patches, in the same order.
    X1, y1, _, _ = make_perovskite_abf(1, cache_dir=tmp_path, patches_per_image="all", grid_offset=(1.0, -1.0),
                                       random_state=1, **CELL, **CHEAP)
    np.testing.assert_allclose(X1, X, atol=1e-5)
    np.testing.assert_array_equal(y1, y)
    # Half a pixel puts the columns where no cut of the unmoved image has them.
    Xh, *_ = make_perovskite_abf(1, cache_dir=tmp_path, patches_per_image="all", grid_offset=(0.5, 0.5),
                                 random_state=1, **CELL, **CHEAP)
    nearest = np.abs(Xh[:, None, :] - X[None]).max(-1).min(1)
    assert np.all(nearest > 1e-3 * X.max()), nearest
    assert len(sorted(tmp_path.rglob("image_*.npz"))) == 1  # one simulation serves every offset
    with pytest.raises(ValueError, match=r"grid_offset must be two finite shifts in pixels \(rows, columns\)"):
        make_perovskite_abf(1, cache_dir=tmp_path, grid_offset=(0.5, np.nan), **CELL, **CHEAP)


def test_make_perovskite_abf_mid_plane_mirror_pairs(tmp_path):
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import make_perovskite_abf

    X, y, _, _ = make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image=2, random_state=1, **CELL, **CHEAP)
    Xm, ym, _, _ = make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image=2, random_state=1, pixel_grid="cell",
                                       mid_plane_mirror=True, **CHEAP)
    assert len(sorted(tmp_path.rglob("image_*.npz"))) == 4  # a cache of its own
    # The same draws and columns, with the tilts mirrored ...
    np.testing.assert_allclose(ym, y[:, [1, 0, 2]] * (1, 1, -1))
    # ... and an image that differs only by dynamical scattering: little, but not nothing.
    difference = np.abs(Xm - X).max(1) / X.std(1)
    assert np.all(difference > 1e-3) and np.all(difference < 0.5), difference


def test_translation_by_one_cell_negates_anti_phase_tilts():
    # Why a patch's target is its centre column's rotation: the a-b-c- crystal
    # moved by one perovskite cell is the crystal with every angle negated.
    tilts = np.array([7.0, -4.0, 3.0])
    plus = perovskite_supercell("SrTiO3", tilts, "a-b-c-", repeats=(2, 2, 2))
    minus = perovskite_supercell("SrTiO3", -tilts, "a-b-c-", repeats=(2, 2, 2))
    for step in np.eye(3):
        moved = (plus.positions + step * plus.cell.lengths() / 2) % plus.cell.lengths()
        d = np.linalg.norm(
            (moved[:, None] - minus.positions[None] + minus.cell.lengths() / 2) % minus.cell.lengths()
            - minus.cell.lengths() / 2, axis=-1)
        assert d.min(1).max() < 1e-9
    assert not np.allclose(plus.positions, minus.positions)


def test_b_columns_along_110_carry_one_rotation_sense():
    from sklearn_rvae.datasets import orient_110
    from sklearn_rvae.datasets import b_cation_columns

    atoms = orient_110(perovskite_supercell("SrTiO3", (6, 5, 4), "a-b-c-", repeats=(2, 2, 2)))
    columns, signs = b_cation_columns(atoms, (32, 44))
    assert columns.shape == (8, 2)  # 16 Ti in the [110] cell, two per column
    assert np.all(np.abs(signs) == 1) and sorted(signs[:, 0]) == [-1] * 4 + [1] * 4
    assert np.all(signs == signs[:, :1])  # a-b-c-: one sense for all three angles
    # In-phase tilt about a: a [110] column mixes both senses, so no net rotation about a.
    atoms = orient_110(perovskite_supercell("SrTiO3", (6, 5, 4), "a+b-c-", repeats=(2, 2, 2)))
    _, signs = b_cation_columns(atoms, (32, 44))
    assert np.all(signs[:, 0] == 0) and np.all(np.abs(signs[:, 1:]) == 1)


def test_simulate_abf_contrast_and_bad_parameters():
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import make_perovskite_abf, orient_110, postprocess_abf, simulate_abf

    atoms = orient_110(perovskite_supercell("SrTiO3", (0, 0, 0), "a0a0a0", repeats=(2, 2, 2)))
    image = simulate_abf(atoms, thickness_periods=1, potential_sampling=0.16, pixel_size=0.4, semiangle=20.0)
    assert image.shape == (20, 28)  # 7.81 x 11.05 A at 0.4 A/px, rows = y
    assert 0.2 < image.mean() < 1.0 and image.std() > 0.01
    noisy = postprocess_abf(image, pixel_size=0.4, dose=1e4, scan_jitter=0.5, random_state=0)
    assert noisy.shape == image.shape and abs(noisy.mean() - image.mean()) < 0.05
    with pytest.raises(ValueError, match="detector"):
        simulate_abf(atoms, detector=(20.0, 10.0))
    with pytest.raises(ValueError, match="dose"):
        postprocess_abf(image, pixel_size=0.4, dose=-1.0)
    with pytest.raises(ValueError, match="n_samples"):
        make_perovskite_abf(0)


def test_mirror_patches_110_match_the_simulated_mirror_images():
    from sklearn_rvae.datasets import mirror_patches_110

    X = np.arange(2 * 12).reshape(2, 12).astype(float)
    y = np.array([[1.0, 2.0, 3.0], [-4.0, 5.0, -6.0]])
    X4, y4 = mirror_patches_110(X, y, image_shape=(3, 4))
    assert X4.shape == (8, 12) and y4.shape == (8, 3)
    np.testing.assert_array_equal(X4[2].reshape(3, 4), X[0].reshape(3, 4)[:, ::-1])
    np.testing.assert_array_equal(y4[[2, 4, 6]], [[-2, -1, -3], [-1, -2, 3], [2, 1, -3]])
    with pytest.raises(ValueError, match="not square"):
        mirror_patches_110(X, y)
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import orient_110, simulate_abf
    from sklearn_rvae.datasets import b_cation_columns

    def image(t):
        atoms = orient_110(perovskite_supercell("SrTiO3", t, "a-b-c-", repeats=(2, 2, 2)))
        # The default 0.08 A potential sampling: at 0.16 A the 49-point grid breaks the y mirror.
        return simulate_abf(atoms, x_repeats=2, thickness_periods=1, pixel_size=0.4, semiangle=20.0), atoms

    tilts = np.array([5.0, -3.0, 4.0])
    base, atoms = image(tilts)
    (r0, c0) = b_cation_columns(atoms, base.shape)[0][0]
    assert abs(r0 - round(r0)) < 1e-9 and abs(c0 - round(c0)) < 1e-9  # on the pixel grid: flip about it exactly
    r0, c0 = round(r0), round(c0)
    rows, cols = np.arange(base.shape[0]), np.arange(base.shape[1])
    flipped_x = base[:, (2 * int(c0) - cols) % base.shape[1]]
    flipped_y = base[(2 * int(r0) - rows) % base.shape[0]]
    _, y4 = mirror_patches_110(np.zeros((1, 4)), tilts[None])
    ylr, yud = y4[1], y4[2]
    np.testing.assert_allclose(flipped_x, image(ylr)[0], atol=1e-4 * base.std() + 1e-6)
    np.testing.assert_allclose(flipped_y, image(yud)[0], atol=1e-4 * base.std() + 1e-6)
    # The mid-plane mirror (beta, alpha, -gamma) is not a symmetry of the image.
    assert np.abs(image(np.array([-3.0, 5.0, -4.0]))[0] - base).max() > 0.02 * base.std()


def test_mirror_mid_plane_is_the_structure_with_beta_alpha_minus_gamma():
    from sklearn_rvae.datasets import mirror_mid_plane, orient_110
    from sklearn_rvae.datasets import b_cation_columns

    tilts = np.array([6.0, -2.5, 4.0])
    mirrored = mirror_mid_plane(orient_110(perovskite_supercell("SrTiO3", tilts, "a-b-c-", repeats=(2, 2, 2))))
    direct = orient_110(perovskite_supercell("SrTiO3", tilts[[1, 0, 2]] * (1, 1, -1), "a-b-c-", repeats=(2, 2, 2)))
    np.testing.assert_allclose(mirrored.cell.lengths(), direct.cell.lengths(), atol=1e-9)
    box = direct.cell.lengths()

    def offsets(shift):
        d = (mirrored.positions[:, None] + shift - direct.positions[None] + box / 2) % box - box / 2
        same = np.array(mirrored.get_chemical_symbols())[:, None] == np.array(direct.get_chemical_symbols())[None]
        return np.where(same, np.linalg.norm(d, axis=-1), np.inf).min(1)

    # The two cells coincide up to a lattice translation.
    b = np.flatnonzero(direct.get_tags() == 1)
    shifts = [direct.positions[j] - mirrored.positions[b[0]] for j in b]
    shift = min(shifts, key=lambda s: offsets(s).max())
    assert offsets(shift).max() < 1e-6
    # Each column keeps its place in the image and carries the mirrored tilts: the column of the
    # direct build it lands on has those tilts.
    cols_m, signs_m = b_cation_columns(mirrored, (32, 44))
    cols_d, signs_d = b_cation_columns(direct, (32, 44))
    pixel = np.array([box[1] / 32, box[0] / 44])  # (row, col) pixels of the (y, x) box
    image_box = np.array([32, 44])
    moved = (cols_m + shift[[1, 0]] / pixel) % image_box
    d = np.abs((moved[:, None] - cols_d[None] + image_box / 2) % image_box - image_box / 2).sum(-1)
    order = d.argmin(1)
    assert d.min(1).max() < 1e-6 and sorted(order) == list(range(len(cols_d)))
    label_m = (signs_m * tilts)[:, [1, 0, 2]] * (1, 1, -1)
    np.testing.assert_allclose(signs_d[order] * tilts[[1, 0, 2]] * (1, 1, -1), label_m)


def test_make_perovskite_abf_exact_and_scan_grids(tmp_path):
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import make_perovskite_abf
    from sklearn_rvae.datasets._perovskite import _MARGIN

    X, y, _, cells = make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image=3, pixel_grid="exact",
                                         scale_jitter=0.0, mid_plane_mirror=False, random_state=1, **CHEAP)
    Xc, yc, _, _ = make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image=3, random_state=1, **CELL, **CHEAP)
    assert X.shape == Xc.shape == (6, 144) and len(sorted(tmp_path.rglob("image_*.npz"))) == 2  # one simulation
    # Every target is the tilts of one of its image's columns; the patches sit at other offsets than the cuts.
    for target, image in zip(y, np.repeat([0, 1], 3)):
        assert np.any(np.all(np.isclose(cells.tilts[cells.cell == image], target), axis=1))
    assert not np.allclose(X, Xc, atol=1e-3)
    # Scan windows: simulated on their own grid, cached apart, and the rendering of the periodic image agrees
    # with them (up to the aliasing of the coarse test grid).
    Xs, ys, _, _ = make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image=2, pixel_grid="scan", random_state=1,
                                       scale_jitter=0.02, mid_plane_mirror=False, **CHEAP)
    assert Xs.shape == (4, 144) and len(sorted(tmp_path.rglob("image_*.npz"))) == 4
    np.testing.assert_allclose(np.abs(ys), np.abs(np.repeat(yc[::3], 2, axis=0)))
    for f in sorted(tmp_path.rglob("image_*.npz")):
        with np.load(f) as sim:
            if "windows" not in sim.files:
                continue
            i = int(f.stem.split("_")[1])
            for c, offset, scale, window in zip(sim["chosen"], sim["offsets"], sim["scales"], sim["windows"]):
                entry = np.flatnonzero(cells.cell == i)[c]
                rendered = cells.render([entry], window.shape, offset, scale)[0]
                # cells hold the source-blurred images; compare the centres, away from the window's edge
                core = (slice(_MARGIN, -_MARGIN),) * 2
                assert np.corrcoef(rendered[core].ravel(), window[core].ravel())[0, 1] > 0.9
                assert abs(scale / CHEAP["pixel_size"] - 1) <= 0.02
    Xs2, *_ = make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image=2, pixel_grid="scan", random_state=1,
                                  scale_jitter=0.02, mid_plane_mirror=False, **CHEAP)
    np.testing.assert_array_equal(Xs2, Xs)
    with pytest.raises(ValueError, match="needs an integer patches_per_image"):
        make_perovskite_abf(1, cache_dir=tmp_path, patches_per_image="all", pixel_grid="exact", **CHEAP)
    with pytest.raises(ValueError, match="pixel_grid must be 'cell', 'exact' or 'scan'"):
        make_perovskite_abf(1, cache_dir=tmp_path, pixel_grid="fine", **CHEAP)
    with pytest.raises(ValueError, match="scale_jitter must be"):
        make_perovskite_abf(1, cache_dir=tmp_path, pixel_grid="exact", scale_jitter=0.7, **CHEAP)


def test_make_perovskite_abf_defaults_are_the_tilt_recipe_training_data():
    import inspect

    from sklearn_rvae.datasets import make_perovskite_abf

    defaults = {k: p.default for k, p in inspect.signature(make_perovskite_abf).parameters.items()}
    recipe = dict(n_samples=700, patch_size=48, patches_per_image=16, pixel_grid="exact", scale_jitter=0.03,
                  dose=None, scan_jitter=0.0, mid_plane_mirror="both")
    assert {k: defaults[k] for k in recipe} == recipe
    assert "return_groups" not in defaults and "return_cells" not in defaults


@pytest.mark.parametrize("pixel_grid, patches", [("exact", 3), ("cell", 3), ("cell", "all"), ("scan", 2)])
def test_make_perovskite_abf_returns_patches_tilts_groups_and_cells(tmp_path, pixel_grid, patches):
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import make_perovskite_abf
    from sklearn_rvae.tilt import PeriodicCells

    out = make_perovskite_abf(2, cache_dir=tmp_path, patches_per_image=patches, pixel_grid=pixel_grid,
                              mid_plane_mirror=False, random_state=1, **CHEAP)
    assert len(out) == 4
    X, y, groups, cells = out
    n = len(X)
    assert X.shape == (n, 144) and X.dtype == np.float32 and y.shape == (n, 3)
    assert groups.shape == (n,) and groups.dtype.kind == "i"
    if patches == "all":
        assert np.array_equal(groups, np.sort(groups)) and set(groups) == {0, 1}
    else:
        np.testing.assert_array_equal(groups, np.repeat([0, 1], patches))
    if pixel_grid == "scan":
        assert cells is None  # no periodic images
        return
    # One cell per image, cells.cell the image; every row's target is a column of its own image.
    assert isinstance(cells, PeriodicCells) and len(cells.pixel_sizes) == 2 and set(cells.cell) == {0, 1}
    for target, image in zip(y, groups):
        assert np.any(np.all(np.isclose(cells.tilts[cells.cell == image], target), axis=1))


@pytest.mark.parametrize("pixel_grid, patches", [("exact", 3), ("cell", "all"), ("scan", 2)])
def test_make_perovskite_abf_both_mirrors_interleave_the_two_calls(tmp_path, pixel_grid, patches):
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import make_perovskite_abf

    common = dict(cache_dir=tmp_path, patches_per_image=patches, pixel_grid=pixel_grid, dose=1e5, scan_jitter=0.2,
                  random_state=1, **CHEAP)
    X, y, groups, cells = make_perovskite_abf(2, mid_plane_mirror="both", **common)
    n_files = len(sorted(tmp_path.rglob("image_*.npz")))
    assert n_files == 4
    front, back = (make_perovskite_abf(2, mid_plane_mirror=m, **common) for m in (False, True))
    # The two calls read the caches "both" wrote: nothing simulated again.
    assert len(sorted(tmp_path.rglob("image_*.npz"))) == n_files
    # Image i's patches, then its mirror's (the same offsets and noise as the True call draws), one group.
    rows = [np.flatnonzero(part[2] == i) for i in (0, 1) for part in (front, back)]
    parts = [part for _ in (0, 1) for part in (front, back)]
    for k, item in enumerate("Xyg"):
        expected = np.concatenate([part[k][r] for part, r in zip(parts, rows)])
        np.testing.assert_array_equal((X, y, groups)[k], expected, err_msg=item)
    assert len(X) == len(front[0]) + len(back[0])
    if pixel_grid == "scan":
        assert cells is None
        return
    # Cells 2 i and 2 i + 1: image i and its mirror, as the False and True calls give them.
    assert len(cells.pixel_sizes) == 4 and set(cells.cell) == {0, 1, 2, 3}
    for i in (0, 1):
        for member, part in enumerate((front, back)):
            one = part[3]
            np.testing.assert_array_equal(cells.coefficients[2 * i + member], one.coefficients[i])
            np.testing.assert_array_equal(cells.tilts[cells.cell == 2 * i + member], one.tilts[one.cell == i])
            np.testing.assert_array_equal(cells.position[cells.cell == 2 * i + member], one.position[one.cell == i])
    if pixel_grid == "exact":
        # The mirror's patches are cut at its front's columns: the same targets, mirrored.
        np.testing.assert_allclose(y[groups == 0][len(rows[0]):], front[1][rows[0]][:, [1, 0, 2]] * (1, 1, -1))


def _cache_key(params):
    """The recipe of make_perovskite_abf's cache folders (perovskite_abf_<key>), spelled out to pin it."""
    import hashlib
    import json

    return hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


def test_make_perovskite_abf_cache_keys_do_not_change(tmp_path):
    # The default microscope's SrTiO3 stream (random_state=0): the benchmark's cache folder, by the recipe above.
    default = dict(format=2, tilt_range=10.0, material="SrTiO3", glazer="---", energy=300000.0, semiangle=25.0,
                   detector=None, defocus=0.0, thickness_periods=4, frozen_phonons=0, sampling=0.25,
                   potential_sampling=0.08, slice_thickness=2.0, method="multislice", random_state=0)
    assert _cache_key(default) == "52e3c4c6c7dcf3f5"
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import make_perovskite_abf

    cheap = dict(default, random_state=1, thickness_periods=1, potential_sampling=0.16, sampling=0.4, semiangle=20.0)
    # "both" reads and writes the folder of the unmirrored images and that of the mirrored ones (the only key
    # with mid_plane_mirror), whatever the patches are.
    make_perovskite_abf(1, cache_dir=tmp_path, patches_per_image=1, random_state=1, **CHEAP)
    expected = {_cache_key(cheap), _cache_key(dict(cheap, mid_plane_mirror=True))}
    assert {f.name for f in tmp_path.iterdir()} == {f"perovskite_abf_{key}" for key in expected}
    # "scan" windows depend on the patches: their settings are in the key.
    make_perovskite_abf(1, cache_dir=tmp_path, patches_per_image=1, pixel_grid="scan", scale_jitter=0.02,
                        mid_plane_mirror=True, random_state=1, **CHEAP)
    scan = dict(cheap, mid_plane_mirror=True, pixel_grid="scan", patch_size=12, patches_per_image=1,
                scale_jitter=0.02)
    expected.add(_cache_key(scan))
    assert {f.name for f in tmp_path.iterdir()} == {f"perovskite_abf_{key}" for key in expected}


def test_simulate_abf_window_scans_the_periodic_cell_anywhere():
    pytest.importorskip("abtem")
    from sklearn_rvae.datasets import orient_110, perovskite_supercell, simulate_abf

    atoms = orient_110(perovskite_supercell("SrTiO3", (4.0, -3.0, 2.0), repeats=(2, 2, 2)))
    settings = dict(thickness_periods=1, potential_sampling=0.16, semiangle=20.0)
    image = simulate_abf(atoms, pixel_size=0.4, **settings)
    height = atoms.cell.lengths()[1]
    ny = image.shape[0]
    # The first column of the cell image, scanned alone at the cell's own row pitch, from one period further
    # down (the potential is periodic).
    column = simulate_abf(atoms, pixel_size=height / ny, window=((height, 0.0), (ny, 1)), **settings)
    np.testing.assert_allclose(column[:, 0], image[:, 0], atol=1e-5)
