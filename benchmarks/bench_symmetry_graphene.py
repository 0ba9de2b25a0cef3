"""Graphene vacancy 4D-STEM: rrVAE against PCA, NMF and COM (issue 5 protocol, first version).

Simulates (abTEM, cached under --cache) a window of a graphene supercell
around a single vacancy, and orbits of probe positions related by the
3-fold rotation about a pristine atom column; fits rrVAE, PCA and NMF with
the same number of components on the preprocessed patterns of both; and
reports

* symmetry-equivalence spread on the orbits (lower is better) and, for
  rrVAE, the error of its angle differences against the 120-degree orbit
  rotations;
* ROC AUC for positions within 2 A of the vacancy against the rest, scored
  by the latent Mahalanobis distance from the bulk (robust covariance), and
  by the COM magnitude and |divergence| for COMTransformer.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_symmetry_graphene.py
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import NMF, PCA

from sklearn_rvae import COMTransformer, DiffractionPreprocessor, RotationInvariantVAE
from sklearn_rvae.datasets import make_graphene_4dstem, make_graphene_orbits
from sklearn_rvae.metrics import (
    defect_detection_auc,
    mahalanobis_outlier_score,
    orbit_angle_error,
    symmetry_equivalence_spread,
)

ROOT = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, nargs=2, default=(8, 4))
    parser.add_argument("--window", type=float, default=8.0, help="scan window side, Angstrom")
    parser.add_argument("--scan-step", type=float, default=0.25)
    parser.add_argument("--orbits", type=int, default=40)
    parser.add_argument("--components", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--rotation-prior", type=float, default=3.0)
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "sim_cache")
    args = parser.parse_args()

    t0 = time.perf_counter()
    scan = make_graphene_4dstem(repeats=tuple(args.repeats), defect="vacancy", scan_step=args.scan_step,
                                scan_extent=(args.window, args.window), cache_dir=args.cache, verbose=True)
    orbits = make_graphene_orbits(repeats=tuple(args.repeats), n_orbits=args.orbits, cache_dir=args.cache)
    print(f"simulation (or cache read): {time.perf_counter() - t0:.0f} s; scan {scan.data.shape}, "
          f"orbits {orbits.data.shape}, {scan.metadata['mrad_per_px']:.2f} mrad/px")

    sy, sx, ky, kx = scan.data.shape
    grid = scan.data.reshape(sy * sx, ky * kx).astype(np.float64)
    orbit_patterns = orbits.data.reshape(len(orbits.data), -1).astype(np.float64)
    pre = DiffractionPreprocessor(center="none", scaling="log", normalize="none").fit(np.concatenate([grid, orbit_patterns]))
    Pg, Po = pre.transform(grid), pre.transform(orbit_patterns)
    P = np.concatenate([Pg, Po])
    n = args.components
    models = {
        "rrVAE": RotationInvariantVAE(n_components=n, translation=False, max_epochs=args.epochs, batch_size=64,
                                      rotation_prior=args.rotation_prior, device="cpu", random_state=0),
        "PCA": PCA(n),
        "NMF": NMF(n, init="nndsvda", max_iter=1000, random_state=0),
    }
    rows = []
    for name, model in models.items():
        t = time.perf_counter()
        model.fit(P)
        spread = symmetry_equivalence_spread(model.transform(Po), orbits.orbit)
        auc = defect_detection_auc(mahalanobis_outlier_score(model.transform(Pg)), scan.distance)
        extra = ""
        if name == "rrVAE":
            error, sense = orbit_angle_error(model.transform_pose(Po)[0], orbits.orbit, orbits.rotation_deg)
            extra = f"angle error within orbits {error:.1f} deg (sense {sense:+d})"
        rows.append((name, spread, auc, extra, time.perf_counter() - t))
    com = COMTransformer(descan=False, mrad_per_px=scan.metadata["mrad_per_px"]).fit(scan.data)
    shift = com.com_map(scan.data)
    rows.append(("COM |shift|", None, defect_detection_auc(np.hypot(shift[..., 0], shift[..., 1]), scan.distance), "", 0))
    rows.append(("COM |div|", None, defect_detection_auc(np.abs(com.charge_density(scan.data)), scan.distance), "", 0))

    print(f"\n{'method':14s} {'equivalence spread':>19s} {'AUC (<= 2 A)':>13s}  notes")
    for name, spread, auc, extra, _ in rows:
        s = "" if spread is None else f"{spread:.3f}"
        print(f"{name:14s} {s:>19s} {auc:13.3f}  {extra}")


if __name__ == "__main__":
    main()
