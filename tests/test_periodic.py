"""Periodic cells rendered on any pixel grid, and the pair library that renders its templates from them."""

import numpy as np

from sklearn_rvae.tilt._pair_library import PAIR_MAP, CellPairLibrary, PairDecision
from sklearn_rvae._periodic_cells import PeriodicCells
from sklearn_rvae._perovskite_symmetry import MIRRORS_110


def _toy_cell(rng, ny=24, nx=30, pixel=(0.26, 0.24), tilt=(0.0, 0.0, 0.0)):
    """A smooth periodic image: Gaussian 'columns' on a lattice and a fainter one the tilts displace (as
    oxygen columns are fainter than the cations, which the tilts do not move)."""
    y, x = np.mgrid[:ny, :nx] * np.asarray(pixel)[:, None, None]
    height, width = ny * pixel[0], nx * pixel[1]
    image = np.ones((ny, nx))
    sites = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75), (0.5, 0.5)]
    for k, (fy, fx) in enumerate(sites):
        cy, cx = fy * height, fx * width
        if k == 4:
            cy, cx = cy + 0.03 * tilt[0] - 0.01 * tilt[2], cx + 0.03 * tilt[1] + 0.003 * tilt[0] * tilt[2]
        dy = (y - cy + height / 2) % height - height / 2
        dx = (x - cx + width / 2) % width - width / 2
        image -= (0.3 if k < 4 else 0.08) * np.exp(-(dy**2 + dx**2) / (2 * 0.35**2))
    return image, (0.25 * ny, 0.25 * nx)


def test_render_reproduces_the_image_on_its_own_grid_and_differentiates_exactly():
    rng = np.random.default_rng(0)
    image, column = _toy_cell(rng)
    cells = PeriodicCells([image], [(0.26, 0.24)], [np.array([column])], [np.zeros((1, 3))])
    # The column at pixel (6, 7.5): a 24 x 30 grid of the cell's own pixels whose centre is 11.5, 14.5 px from it.
    ny, nx = image.shape
    own = cells.render([0], (ny, nx), (column[0] - (ny - 1) / 2, column[1] - (nx - 1) / 2), 0.26)[0]
    np.testing.assert_allclose(own[:, 0], image[:, 0], atol=1e-4)  # rows at 0.26 A: the first column matches
    square = PeriodicCells([image], [(0.25, 0.25)], [np.array([column])], [np.zeros((1, 3))])
    own = square.render([0], (ny, nx), (column[0] - (ny - 1) / 2, column[1] - (nx - 1) / 2), 0.25)[0]
    np.testing.assert_allclose(own, image, atol=1e-10)
    # Rectangular pixels, one geometry per entry.
    sampling = np.array([(0.25, 0.245), (0.255, 0.25)])
    patches, grads = cells.render([0, 0], (16, 18), [(0.1, -0.3), (0.4, 0.2)], sampling, derivatives=True)
    assert patches.shape == (2, 16, 18) and grads.shape == (4, 2, 16, 18)
    e = 1e-6
    for k, delta in enumerate(np.eye(4) * e):
        moved = cells.render([0, 0], (16, 18), np.array([(0.1, -0.3), (0.4, 0.2)]) + delta[:2], sampling + delta[2:])
        np.testing.assert_allclose((moved - patches) / e, grads[k], atol=1e-3 * np.abs(grads[k]).max())


def test_distinct_join_and_subset():
    rng = np.random.default_rng(1)
    image, column = _toy_cell(rng)
    other, _ = _toy_cell(rng, tilt=(3.0, -2.0, 1.0))
    tiled = np.tile(image, (1, 2))  # a cell that repeats across its width: its two columns are one template
    a = PeriodicCells([tiled], [(0.26, 0.24)], [np.array([column, (column[0], column[1] + 30)])],
                      [np.zeros((2, 3))])
    b = PeriodicCells([other], [(0.26, 0.24)], [np.array([column])], [np.ones((1, 3))])
    assert len(a) == 2 and len(a.distinct((16, 16), 0.25)) == 1
    joined = PeriodicCells.join([a, b])
    assert len(joined) == 3 and joined.coefficients.shape[0] == 2
    np.testing.assert_allclose(joined.render([2], (16, 16), (0.2, 0.1), 0.25), b.render([0], (16, 16), (0.2, 0.1), 0.25))
    assert np.array_equal(joined.subset([1]).tilts, np.ones((1, 3)))


def _library_cells(rng, n=60):
    images, columns, tilts = [], [], []
    for t in rng.uniform(-10, 10, (n, 3)):
        image, column = _toy_cell(rng, tilt=t)
        images.append(image), columns.append(np.array([column])), tilts.append(t[None])
    return PeriodicCells(images, [(0.26, 0.24)] * n, columns, tilts)


def test_cell_library_renders_mirrored_templates_and_finds_the_patch_geometry():
    rng = np.random.default_rng(2)
    cells = _library_cells(rng)
    library = CellPairLibrary(cells, (32, 32), 0.25, n_neighbors=20, n_best=10)
    # A mirrored entry is its column rendered at the mirrored offset and flipped, with its tilts mapped.
    offset = np.array([0.3, -0.2])
    for m, (dims, tilts) in enumerate(MIRRORS_110):
        entry = m * len(cells) + 5
        patch, grads = library._render([entry], offset, 0.25, derivatives=True)
        sign = np.array([-1.0 if (a - 2) in dims else 1.0 for a in (0, 1)])
        base = cells.render([5], (32, 32), sign * offset, 0.25)[0]
        np.testing.assert_allclose(patch[0], np.flip(base, dims) if dims else base, atol=1e-12)
        np.testing.assert_allclose(library.y[entry], np.asarray(tilts) @ cells.tilts[5])
        e = 1e-6
        moved = library._render([entry], offset + (e, 0), 0.25)
        np.testing.assert_allclose((moved - patch) / e, grads[0], atol=1e-3 * np.abs(grads[0]).max())
    # The geometry of a noisy patch recorded at an offset and pixel sizes (rows, columns) 3% off: found to a few hundredths
    # of a pixel and about 1% (a toy of few features; SrTiO3 ABF patches: 0.006 px and 0.2% RMS).
    errors = []
    for j in range(20):
        truth = np.array([*rng.uniform(-0.5, 0.5, 2), *(0.25 * (1 + rng.uniform(-0.03, 0.03, 2)))])
        clean = cells.render([j], (32, 32), truth[:2], truth[2:])[0]
        x = rng.poisson(clean * 5e4) / 5e4
        start = cells.tilts[j] + rng.normal(scale=1.0, size=3)
        offset, sampling = library._prepare(x, np.stack([start, start @ PAIR_MAP.T]))
        errors.append([*(offset - truth[:2]), *((sampling - truth[2:]) / 0.25)])
    errors = np.abs(errors)
    assert errors[:, :2].max() < 0.05 and errors[:, 2:].max() < 0.015, errors.max(0)
    chosen, posterior, log_odds = library.decide(x[None].reshape(1, -1), start[None], PairDecision(n_local_templates=0, row_gain=0))
    assert posterior.shape == (1, 3) and np.isfinite(log_odds).all()
