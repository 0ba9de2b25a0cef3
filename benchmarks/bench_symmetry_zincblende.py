"""Zincblende polarity against a non-polar control: rrVAE, PCA and NMF on 180-degree pairs (issue 5).

GaAs viewed along [110] shows Ga-As dumbbells. Turning the probe position by
180 degrees about a dumbbell centre swaps the dumbbell's two columns; in
projection the lattice maps onto itself, so the two diffraction patterns
are nearly the same pattern turned by 180 degrees, and what remains is the
polarity (Ga against As) plus 3-D effects (the two columns' atoms sit at
different depths). The control is the same structure with one species (Ge
at GaAs's lattice constant, so that both share one detector sampling),
which keeps the 3-D effects and has no polarity.

For each crystal: a 4D-STEM scan of the whole cell and 40 such pairs
(abTEM, cached under --cache), then

* the pattern-level signal: median over pairs of |rot180(a) - b| / |b - a|
  (exact pixel rotation, odd detector), i.e. the part of the difference
  between the two positions that no rotation explains;
* the symmetry-equivalence spread of rrVAE, PCA and NMF codes over the
  pairs (fitted on scan + pairs, preprocessing as the graphene benchmark),
  and rrVAE's angle error against the 180-degree rotation.

A rotation-invariant model that sees polarity gives GaAs pairs a larger
spread than Ge pairs; PCA and NMF spread both, whatever the polarity.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_symmetry_zincblende.py
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import NMF, PCA

from sklearn_rvae import DiffractionPreprocessor, RotationInvariantVAE
from sklearn_rvae.datasets import make_zincblende_4dstem, make_zincblende_pairs
from sklearn_rvae.metrics import orbit_angle_error, symmetry_equivalence_spread

ROOT = Path(__file__).resolve().parent
GAAS_A = 5.653


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scan-step", type=float, default=0.25)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--components", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--n-init", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "sim_cache")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "zincblende")
    args = parser.parse_args()
    n = args.components
    rows = []
    for material in ("Ge", "GaAs"):
        t0 = time.perf_counter()
        common = dict(material=material, repeats=(2, 2), lattice_constant=GAAS_A, cache_dir=args.cache,
                      n_jobs=args.n_jobs)
        scan = make_zincblende_4dstem(scan_step=args.scan_step, verbose=True, **common)
        pairs = make_zincblende_pairs(n_pairs=args.pairs, **common)
        print(f"{material}: simulation (or cache read) {time.perf_counter() - t0:.0f} s, scan {scan.data.shape}, "
              f"pairs {pairs.data.shape}")
        patterns = pairs.data.astype(np.float64)
        ratio = np.median([
            np.linalg.norm(np.rot90(a, 2) - b) / np.linalg.norm(b - a) for a, b in zip(patterns[0::2], patterns[1::2])
        ])
        grid = scan.data.reshape(-1, np.prod(scan.data.shape[2:])).astype(np.float64)
        flat = patterns.reshape(len(patterns), -1)
        both = np.concatenate([grid, flat])
        base = dict(center="none", scaling="none", normalize="none", blur=1.5)
        residual = DiffractionPreprocessor(subtract_mean=True, **base).fit(both)
        smooth = DiffractionPreprocessor(**base).fit(both)
        models = {
            "rrVAE": (residual, RotationInvariantVAE(
                n_components=n, translation=False, angle_prior=172.0, max_epochs=args.epochs,
                batch_size=args.batch_size, n_init=args.n_init, device="cpu", random_state=0)),
            "PCA": (residual, PCA(n)),
            "NMF": (smooth, NMF(n, init="nndsvda", max_iter=2000, random_state=0)),
        }
        row = dict(material=material, rot180_residual=float(ratio))
        for name, (pre, model) in models.items():
            model.fit(pre.transform(both))
            codes = model.transform(pre.transform(flat))
            row[f"{name}_spread"] = symmetry_equivalence_spread(codes, pairs.orbit)
            if name == "rrVAE":
                angle = model.transform_pose(pre.transform(flat))[0]
                row["rrVAE_angle_error_deg"], _ = orbit_angle_error(angle, pairs.orbit, pairs.rotation_deg)
                row["rrVAE_init_losses"] = model.init_losses_.round(2).tolist()
        rows.append(row)
        print(json.dumps(row))
    print(f"\n{n} components, {args.pairs} pairs per crystal (Ge: the non-polar control at GaAs's lattice constant)")
    print(f"{'crystal':8s} {'|rot180(a)-b|/|b-a|':>20s} {'rrVAE spread':>13s} {'rrVAE angle err':>16s} "
          f"{'PCA spread':>11s} {'NMF spread':>11s}")
    for r in rows:
        print(f"{r['material']:8s} {r['rot180_residual']:20.3f} {r['rrVAE_spread']:13.3f} "
              f"{r['rrVAE_angle_error_deg']:12.1f} deg {r['PCA_spread']:11.3f} {r['NMF_spread']:11.3f}")
    ge, gaas = rows
    print(f"polarity contrast GaAs / Ge: pattern level {gaas['rot180_residual'] / ge['rot180_residual']:.2f}x, "
          f"rrVAE spread {gaas['rrVAE_spread'] / max(ge['rrVAE_spread'], 1e-12):.2f}x, "
          f"PCA spread {gaas['PCA_spread'] / ge['PCA_spread']:.2f}x")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
