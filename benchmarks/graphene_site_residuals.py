"""Where the pooled lattice-site detection score is noisy: bulk scores by distance to the nearest atom column.

Reads the codes that ``bench_symmetry_graphene.py`` saved (``codes.npz`` in
its --out folder) and, for rrVAE and PCA, prints

* the median lattice-site Mahalanobis score (one pooled covariance) of bulk positions (>= 4 A from
  the vacancy) by the probe's distance to the nearest atom column, and the
  share of the bulk's top 1% that lies within 0.3 A of a column;
* the share of near-vacancy positions, by distance, scored above the bulk's
  99th percentile.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/graphene_site_residuals.py benchmarks/out/graphene_c4
"""

import argparse
from pathlib import Path

import numpy as np

from sklearn_rvae.datasets import make_graphene_4dstem
from sklearn_rvae.metrics import lattice_site_mahalanobis_score

ROOT = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a bench_symmetry_graphene.py --out folder")
    parser.add_argument("--repeats", type=int, nargs=2, default=(8, 4))
    parser.add_argument("--scan-step", type=float, default=0.25)
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "sim_cache")
    args = parser.parse_args()

    scan = make_graphene_4dstem(repeats=tuple(args.repeats), defect="vacancy", scan_step=args.scan_step,
                                cache_dir=args.cache)
    positions = scan.positions.reshape(-1, 2)
    cell = np.array(scan.atoms.cell.lengths()[:2])
    lattice = np.diag(cell / np.array(args.repeats))
    # Distance to the nearest column, periodic images included.
    d = positions[:, None, :] - scan.atoms.positions[None, :, :2]
    d -= np.round(d / cell) * cell
    atom_distance = np.hypot(d[..., 0], d[..., 1]).min(1)
    distance = scan.distance.ravel()
    bulk = distance >= 4.0
    codes = np.load(args.run / "codes.npz")
    print(f"bulk positions within 0.3 A of a column: {np.mean(atom_distance[bulk] < 0.3):.0%}")
    for method in ("rrVAE", "PCA"):
        score = lattice_site_mahalanobis_score(codes[method], positions, lattice, covariance="pooled")
        q99 = np.quantile(score[bulk], 0.99)
        bands = ((0, 0.3), (0.3, 0.7), (0.7, 1.1), (1.1, 2.0))
        medians = [np.median(score[bulk & (atom_distance >= lo) & (atom_distance < hi)]) for lo, hi in bands]
        top = np.mean(atom_distance[bulk & (score > q99)] < 0.3)
        flagged = [np.mean(score[(distance >= lo) & (distance < hi)] > q99)
                   for lo, hi in ((0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0))]
        print(f"{method}: bulk median score by column distance 0-0.3/0.3-0.7/0.7-1.1/1.1-2 A: "
              f"{' / '.join(f'{m:.2f}' for m in medians)}; top 1% within 0.3 A of a column: {top:.0%}; "
              f"near-vacancy positions above the bulk's 99th percentile at 0-0.5/0.5-1/1-1.5/1.5-2 A: "
              f"{' / '.join(f'{f:.0%}' for f in flagged)}")


if __name__ == "__main__":
    main()
