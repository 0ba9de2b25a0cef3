"""Alignment of the rrVAE on the graphene supercell without restarts (issue 21).

The protocol of bench_symmetry_graphene.py (the whole 8x4 supercell with a
vacancy and 40 three-member orbits; patterns smoothed by 1.5 px, minus the
mean pattern; two components, 200 epochs) with ``n_init=1`` and every
combination of --seeds and --batch-sizes, for each --angle-prior. Reports
the symmetry-equivalence spread of the orbits' codes (lower is better; bar
<= 0.05) and the error of the orbits' angle differences against the
120-degree rotations. Each fit is written to --out as it ends, and a rerun
skips the fits already there.

    PYTHONPATH=. .venv/bin/python benchmarks/full_circle_graphene.py                 # uniform prior, 9 fits
    PYTHONPATH=. .venv/bin/python benchmarks/full_circle_graphene.py --angle-prior 172
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from sklearn_rvae import DiffractionPreprocessor, RotationInvariantVAE
from sklearn_rvae.datasets import make_graphene_4dstem, make_graphene_orbits
from sklearn_rvae.metrics import orbit_angle_error, symmetry_equivalence_spread

ROOT = Path(__file__).resolve().parent


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--angle-prior", nargs="+", default=["uniform"])
    p.add_argument("--rotation-symmetry", type=int, default=1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 512])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--components", type=int, default=2)
    p.add_argument("--cache", type=Path, default=ROOT / "out" / "sim_cache")
    p.add_argument("--out", type=Path, default=ROOT / "out" / "full_circle_graphene.json")
    args = p.parse_args()

    scan = make_graphene_4dstem(repeats=(8, 4), defect="vacancy", scan_step=0.25, cache_dir=args.cache,
                                verbose=True, n_jobs=2)
    orbits = make_graphene_orbits(repeats=(8, 4), n_orbits=40, cache_dir=args.cache)
    sy, sx, ky, kx = scan.data.shape
    grid = scan.data.reshape(sy * sx, ky * kx).astype(np.float64)
    orbit_patterns = orbits.data.reshape(len(orbits.data), -1).astype(np.float64)
    both = np.concatenate([grid, orbit_patterns])
    pre = DiffractionPreprocessor(subtract_mean=True, center="none", scaling="none", normalize="none",
                                  blur=1.5).fit(both)
    P = pre.transform(both)
    Po = pre.transform(orbit_patterns)

    done = json.loads(args.out.read_text()) if args.out.exists() else []
    print(f"machine: {platform.node()}, patterns {P.shape}")
    for prior in args.angle_prior:
        prior_value = prior if prior == "uniform" else float(prior)
        for batch in args.batch_sizes:
            for seed in args.seeds:
                key = dict(angle_prior=prior, rotation_symmetry=args.rotation_symmetry, batch_size=batch,
                           seed=seed, epochs=args.epochs)
                if any(all(r.get(k) == v for k, v in key.items()) for r in done):
                    continue
                est = RotationInvariantVAE(
                    n_components=args.components, translation=False, angle_prior=prior_value,
                    rotation_symmetry=args.rotation_symmetry, max_epochs=args.epochs, batch_size=batch,
                    n_init=1, device="cpu", random_state=seed)
                t = time.perf_counter()
                est.fit(P)
                seconds = time.perf_counter() - t
                spread = symmetry_equivalence_spread(est.transform(Po), orbits.orbit)
                error, sense = orbit_angle_error(est.transform_pose(Po)[0], orbits.orbit, orbits.rotation_deg)
                row = dict(key, spread=float(spread), angle_error_deg=float(error), angle_sense=int(sense),
                           final_loss=float(est.history_["train_loss"].iloc[-1]), fit_s=seconds,
                           s_per_epoch=float(est.history_["dur"].mean()))
                done.append(row)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(done, indent=1))
                print(json.dumps(row), flush=True)
    print("\n| angle_prior | batch | seed | spread | angle error (deg) | final loss | s/epoch |")
    print("|:---|---:|---:|---:|---:|---:|---:|")
    for r in done:
        print(f"| {r['angle_prior']} | {r['batch_size']} | {r['seed']} | {r['spread']:.3f} | "
              f"{r['angle_error_deg']:.1f} | {r['final_loss']:.0f} | {r['s_per_epoch']:.2f} |")


if __name__ == "__main__":
    main()
