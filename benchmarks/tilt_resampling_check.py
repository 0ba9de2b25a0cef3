"""How a fitted TiltRegressor fares on whole ABF images resampled by a small factor (predict_map(pixel_size=...)).

The training and test patches of ``bench_tilt.py`` come from cells that the
simulator samples on whole pixels. An experimental image, or one resampled
into another lattice's frame, has cells over fractional pixels. This script
simulates ``--n-images`` fresh SrTiO3 (or ``--material``) cells with seed 3
(in no benchmark), tiles each 3x3, adds the benchmark's noise (1e5 e/A^2,
0.2 px scan rows) to the whole image, and predicts every column of the
middle cell with ``predict_map(image, pixel_size=0.25 * factor, centers=...)``
for each ``--factors`` (1: not resampled). Prints the MAE, the MAE up to the
[110] mid-plane-mirror pair and how often the pair is right.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/tilt_resampling_check.py --load-model benchmarks/out/tilt_model.joblib

(a model of this version, from ``bench_tilt.py --save-model``; models pickled before issue 24 are not read).
"""

import argparse
from pathlib import Path

import joblib
import numpy as np
from bench_tilt import fmt, pair_stats

from sklearn_rvae.datasets import (
    orient_110,
    perovskite_supercell,
    postprocess_abf,
    simulate_abf,
)
from sklearn_rvae.datasets import b_cation_columns
from sklearn_rvae.tilt import PairDecision

SAMPLING = 0.25


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-model", type=Path, required=True,
                        help="a fitted TiltRegressor (bench_tilt --save-model)")
    parser.add_argument("--material", default="SrTiO3")
    parser.add_argument("--n-images", type=int, default=40)
    parser.add_argument("--factors", default="1,1.0196", help="comma-separated resampling factors")
    args = parser.parse_args()

    model = joblib.load(args.load_model).set_params(pair_decision=PairDecision(n_local_templates=8, row_gain=4))
    rng = np.random.default_rng(3)
    cells = []
    for _ in range(args.n_images):
        tilts = rng.uniform(-10, 10, 3)
        atoms = orient_110(perovskite_supercell(args.material, tilts, "a-b-c-", repeats=(2, 2, 2)))
        image = simulate_abf(atoms, pixel_size=SAMPLING, x_repeats=2, random_state=int(rng.integers(2**31)))
        columns, signs = b_cation_columns(atoms, image.shape)
        cells.append((postprocess_abf(image, pixel_size=SAMPLING, source_size=0.3), columns, signs * tilts))
    for factor in (float(f) for f in args.factors.split(",")):
        noise = np.random.default_rng(4)  # the same noise for every factor
        pred, truth = [], []
        for image, columns, targets in cells:
            tiled = np.tile(image, (3, 3))
            noisy = postprocess_abf(tiled, pixel_size=SAMPLING, source_size=0, dose=1e5, scan_jitter=0.2,
                                    random_state=int(noise.integers(2**31)))
            pred.append(model.predict_map(noisy, pixel_size=SAMPLING * factor, centers=columns + image.shape))
            truth.append(targets)
        pred, truth = np.concatenate(pred), np.concatenate(truth)
        up_to_pair, right = pair_stats(pred, truth)
        print(f"{args.material} resampled by {factor:.4f}: {len(truth)} columns, MAE "
              f"{fmt(np.abs(pred - truth).mean(0))}, up to the pair {fmt(up_to_pair)}, pair right {right:.3f}",
              flush=True)


if __name__ == "__main__":
    main()
