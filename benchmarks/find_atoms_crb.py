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


def bound(dose, jitter, free_heights, pixel_size=0.2, fwhm=1.0, background=0.05, side=60, width=None):
    sigma = fwhm / pixel_size / (2 * np.sqrt(2 * np.log(2)))
    a, bond = 2.46 / pixel_size, 1.42 / pixel_size
    a1, a2 = np.array([a, 0.0]), np.array([a / 2, a * np.sqrt(3) / 2])
    width = side if width is None else width  # a field side px high and width px wide
    reach = int(max(side, width) / a) + 4
    cells = [i * a1 + j * a2 for i in range(-2 * reach, 2 * reach) for j in range(-reach, reach)]
    pts = np.array([c + b + 0.3 for c in cells for b in (np.zeros(2), np.array([0.0, bond]))])
    # (x, y), the columns whose tails reach the field
    pts = pts[(pts[:, 0] > -8) & (pts[:, 0] < width + 8) & (pts[:, 1] > -8) & (pts[:, 1] < side + 8)]
    n = len(pts)
    yy, xx = np.mgrid[:side, :width].astype(float)
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
        rows = np.zeros((side, side, width))
        rows[np.arange(side), np.arange(side), :] = -dx.sum(0)
        blocks.append(rows.reshape(side, -1))
        n_rows = side
    J = np.concatenate(blocks)
    F = (J / mu.ravel()) @ J.T
    if n_rows:
        F[-n_rows:, -n_rows:] += np.eye(n_rows) / jitter**2
    C = np.linalg.inv(F)
    var = C.diagonal()[:n] + C.diagonal()[n : 2 * n]
    inside = (pts[:, 0] > 10) & (pts[:, 0] < width - 10) & (pts[:, 1] > 10) & (pts[:, 1] < side - 10)
    return float(np.sqrt(var[inside].mean()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--doses", default="40,10", help="comma-separated counts on a carbon column")
    parser.add_argument("--width", type=int, default=60,
                        help="width of the field, px (60 high); 256 is a whole frame's width")
    args = parser.parse_args()
    print("counts  scan jitter  heights  RMSE bound (px)")
    for dose in (float(d) for d in args.doses.split(",")):
        for jitter in (0.0, 0.2):
            for free in (False, True):
                print(f"{dose:6.0f}  {jitter:11.1f}  {'free' if free else 'known':7s}  "
                      f"{bound(dose, jitter, free, width=args.width):.3f}")


if __name__ == "__main__":
    main()
