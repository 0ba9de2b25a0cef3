"""Cramér-Rao bound on the column positions of make_stem_image's default frames (issue 22's RMSE bar).

The default fast model: graphene columns of ``dose`` counts (carbon), a
Gaussian probe of FWHM 1 Angstrom at 0.2 Angstrom per pixel, a flat
background of 5% of the dose, Poisson noise, and every scan row displaced
sideways by a normal ``scan_jitter`` (0.2 px). The Fisher information of a
60 x 60 px patch is built for every column's (x, y) at once (the neighbours'
tails overlap), with the column heights known (free heights add little) and,
for the jitter, one sideways shift per scan row with its N(0, jitter^2)
prior (a Bayesian bound). The bound is the 2-D position RMSE that no
unbiased estimator can beat, averaged over the columns at least 10 px inside.

    .venv/bin/python benchmarks/find_atoms_crb.py
"""

import argparse

import numpy as np


def bound(dose, jitter, free_heights, pixel_size=0.2, fwhm=1.0, background=0.05, side=60):
    sigma = fwhm / pixel_size / (2 * np.sqrt(2 * np.log(2)))
    a, bond = 2.46 / pixel_size, 1.42 / pixel_size
    a1, a2 = np.array([a, 0.0]), np.array([a / 2, a * np.sqrt(3) / 2])
    cells = [i * a1 + j * a2 for i in range(-12, 13) for j in range(-12, 13)]
    pts = np.array([c + b + side / 2 + 0.3 for c in cells for b in (np.zeros(2), np.array([0.0, bond]))])
    pts = pts[np.all((pts > -8) & (pts < side + 8), axis=1)]  # (x, y), columns whose tails reach the patch
    n = len(pts)
    yy, xx = np.mgrid[:side, :side].astype(float)
    g = np.exp(-((xx[None] - pts[:, 0, None, None]) ** 2 + (yy[None] - pts[:, 1, None, None]) ** 2) / (2 * sigma**2))
    mu = dose * (background + g.sum(0))
    dx = dose * g * (xx[None] - pts[:, 0, None, None]) / sigma**2
    dy = dose * g * (yy[None] - pts[:, 1, None, None]) / sigma**2
    blocks = [dx.reshape(n, -1), dy.reshape(n, -1)]
    if free_heights:
        blocks.append((dose * g).reshape(n, -1))
    n_rows = 0
    if jitter > 0:
        # A row moved sideways by s samples every column of that row at x + s.
        rows = np.zeros((side, side, side))
        rows[np.arange(side), np.arange(side), :] = -dx.sum(0)
        blocks.append(rows.reshape(side, -1))
        n_rows = side
    J = np.concatenate(blocks)
    F = (J / mu.ravel()) @ J.T
    if n_rows:
        F[-n_rows:, -n_rows:] += np.eye(n_rows) / jitter**2
    C = np.linalg.inv(F)
    var = C.diagonal()[:n] + C.diagonal()[n : 2 * n]
    inside = np.all((pts > 10) & (pts < side - 10), axis=1)
    return float(np.sqrt(var[inside].mean()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--doses", default="40,10", help="comma-separated counts on a carbon column")
    args = parser.parse_args()
    print("counts  scan jitter  heights  RMSE bound (px)")
    for dose in (float(d) for d in args.doses.split(",")):
        for jitter in (0.0, 0.2):
            for free in (False, True):
                print(f"{dose:6.0f}  {jitter:11.1f}  {'free' if free else 'known':7s}  "
                      f"{bound(dose, jitter, free):.3f}")


if __name__ == "__main__":
    main()
