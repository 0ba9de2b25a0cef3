"""TiltRegressor on simulated ABF patches: SrTiO3 held-out and CaTiO3 generalisation (issue 4 protocol).

``TiltRegressor()`` with its defaults, fitted on ``make_perovskite_abf()``'s
data with its defaults (the SrTiO3 [110] training images and their
mid-plane mirrors: abTEM multislice, 300 kV, 25 mrad, ABF 12.5-25 mrad,
44 A thick, 16 noise-free 48 px patches per image on exact 0.25 A pixels,
and the periodic cells the pair decision's templates are rendered from):
the two lines of the estimator's docstring. It is tested on held-out
SrTiO3 images (the images after the training ones in the same stream) and
on CaTiO3 images, both recorded at 1e5 e/A^2 with 0.2 px scan-row jitter,
against ``Pipeline([PCA, Ridge])`` and k-NN regression trained on the
recorded (noisy) training patches and their mirrors. Train and test are
split by simulated image, never by patch. Prints the mean absolute error
per angle, the training time and the inference throughput, and writes them
to ``benchmarks/out/tilt.csv``.

The commands of runs 1-16 in benchmarks/RESULTS.md and RESULTS_HISTORY.md (flags such as
``--symmetry --pair-likelihood``) are for this script before issue 24, at
commit a4974b6; their recipe is now the estimator's default.

Usage::

    # 1. simulate (timed; resumes from the cache if interrupted): about an hour on 2 cores
    PYTHONPATH=. .venv/bin/python benchmarks/bench_tilt.py --generate-only
    # 2. train and measure
    PYTHONPATH=. .venv/bin/python benchmarks/bench_tilt.py
    PYTHONPATH=. .venv/bin/python benchmarks/bench_tilt.py --n-train 40 --n-test 10 --epochs 1   # smoke run
"""

import argparse
import csv
import os
import time

# PyTorch's CPU allocator asks for transparent huge pages for large tensors: without them every batch's
# activations (tens of MB, fresh mmaps) are page-faulted in 4 kB at a time (measured in run 14 on this
# 2-core CPU: 290k faults/s and a quarter of the CPU in the kernel; with huge pages 12k/s, epoch 1
# 689 -> 608 s). Read when torch is imported.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_rvae import TiltRegressor
from sklearn_rvae.datasets import make_perovskite_abf, mirror_patches_110

ROOT = Path(__file__).resolve().parent
SAMPLING = 0.25  # Angstrom per pixel, make_perovskite_abf's default
# How the test images are recorded: 2 patches per image on the simulated grid, at 1e5 e/A^2 with 0.2 px row jitter.
RECORDED = dict(patch_size=48, patches_per_image=2, pixel_grid="cell", mid_plane_mirror=False, dose=1e5,
                scan_jitter=0.2)


def fmt(values):
    return "/".join(f"{v:.2f}" for v in values)


def pair_stats(pred, y):
    """MAE counting either member of the mid-plane-mirror pair as right, and how often the true one is nearer.

    The mirror (alpha, beta, gamma) -> (beta, alpha, -gamma) is nearly invisible in [110] ABF."""
    mirrored = np.column_stack([y[:, 1], y[:, 0], -y[:, 2]])
    closer = np.abs(pred - mirrored).sum(1) < np.abs(pred - y).sum(1)
    return np.abs(pred - np.where(closer[:, None], mirrored, y)).mean(0), 1 - closer.mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=700, help="simulated SrTiO3 training images (and as many "
                        "mirrors): make_perovskite_abf's default")
    parser.add_argument("--n-test", type=int, default=100, help="simulated test images (SrTiO3 and CaTiO3 each)")
    parser.add_argument("--epochs", type=int, default=None, help="TiltRegressor(max_epochs=...); default: its own")
    parser.add_argument("--scan-test", type=int, default=0,
                        help="also test on this many images per material simulated directly on exact 0.25 A "
                             "pixels, one patch each at a random offset (make_perovskite_abf(pixel_grid='scan')): "
                             "SrTiO3 (fresh tilts, random_state=3), CaTiO3 (random_state=1), and the SrTiO3 ones "
                             "recorded at 0.255 A per pixel, a 2%% calibration error the model is not told of")
    parser.add_argument("--catio3-sampling", type=float, default=SAMPLING,
                        help="Angstrom per pixel of the CaTiO3 test images: 0.25 * 3.83 / 3.905 = 0.2452 puts "
                             "CaTiO3's cell on as many pixels as SrTiO3's")
    parser.add_argument("--flush-denormal", action="store_true",
                        help="torch.set_flush_denormal(True) for the whole run (CPU speed with tiny activations)")
    parser.add_argument("--load-model", type=Path, default=None,
                        help="evaluate this fitted TiltRegressor (from --save-model) instead of training one")
    parser.add_argument("--save-model", type=Path, default=None, help="joblib file for the fitted TiltRegressor")
    parser.add_argument("--jobs", type=int, default=2, help="processes simulating images")
    parser.add_argument("--predict-jobs", type=int, default=1,
                        help="TiltRegressor(n_jobs=...): processes for the pair decision in predict; the "
                             "patches/s column depends on it")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "abf_cache")
    args = parser.parse_args()
    if args.flush_denormal:
        import torch

        torch.set_flush_denormal(True)
    sim = dict(cache_dir=args.cache, n_jobs=args.jobs, verbose=True)

    t0 = time.perf_counter()
    X, y, _, cells = make_perovskite_abf(args.n_train, **sim)  # the estimator's training data: its defaults
    train_generation = time.perf_counter() - t0
    t0 = time.perf_counter()
    # The baselines learn from the same training patches as recorded (with noise), and their in-plane mirrors.
    X_rec, y_rec, _, _ = make_perovskite_abf(args.n_train, dose=RECORDED["dose"], scan_jitter=RECORDED["scan_jitter"],
                                             **sim)
    X_rec, y_rec = mirror_patches_110(X_rec, y_rec)
    # The test images follow the training ones in the same stream (indices n_train..): fresh tilts.
    Xall, yall, groups, _ = make_perovskite_abf(args.n_train + args.n_test, **RECORDED, **sim)
    test_sets = {"SrTiO3": (Xall[groups >= args.n_train], yall[groups >= args.n_train])}
    test_sets["CaTiO3"] = make_perovskite_abf(args.n_test, material="CaTiO3", random_state=1,
                                              pixel_size=args.catio3_sampling, **RECORDED, **sim)[:2]
    if args.scan_test:
        scan = dict(RECORDED, patches_per_image=1, pixel_grid="scan")
        for name, material, seed, sampling in (("SrTiO3 scan", "SrTiO3", 3, SAMPLING),
                                               ("CaTiO3 scan", "CaTiO3", 1, SAMPLING),
                                               ("SrTiO3 scan 0.255", "SrTiO3", 3, 0.255)):
            test_sets[name] = make_perovskite_abf(args.scan_test, material=material, random_state=seed,
                                                  pixel_size=sampling, **scan, **sim)[:2]
    test_generation = time.perf_counter() - t0
    print(f"training set: {args.n_train} images and their mid-plane mirrors -> {len(X)} noise-free patches of "
          f"{int(np.sqrt(X.shape[1]))} px, {train_generation:.0f} s to simulate or read; recorded training and test "
          f"sets {test_generation:.0f} s", flush=True)
    if args.generate_only:
        return

    sqrt = FunctionTransformer(np.sqrt)
    tilt = TiltRegressor(device=args.device, n_jobs=args.predict_jobs, random_state=0, verbose=1)
    if args.epochs is not None:
        tilt.set_params(max_epochs=args.epochs)
    models = {
        "TiltRegressor": tilt,
        "PCA(100) + Ridge": make_pipeline(sqrt, StandardScaler(), PCA(min(100, len(X_rec) - 1), random_state=0),
                                          RidgeCV(alphas=np.logspace(-3, 3, 13))),
        "k-NN (k=5)": make_pipeline(sqrt, StandardScaler(), KNeighborsRegressor(min(5, len(X_rec)))),
    }
    rows, predictions = [], {f"{name}_true": ys for name, (_, ys) in test_sets.items()}
    print(f"\n{'model':18s} {'train s':>8s} {'test set':>18s} {'MAE a/b/g (deg)':>17s} {'up to the pair':>17s} "
          f"{'pair right':>10s} {'patches/s':>10s}", flush=True)
    for name, model in models.items():
        t = time.perf_counter()
        if name == "TiltRegressor" and args.load_model:
            import joblib

            model = joblib.load(args.load_model).set_params(n_jobs=args.predict_jobs)
        elif name == "TiltRegressor":
            model.fit(X, y, cells=cells)
        else:
            model.fit(X_rec, y_rec)
        train_time = float("nan") if name == "TiltRegressor" and args.load_model else time.perf_counter() - t
        if name == "TiltRegressor" and args.save_model:
            import joblib

            joblib.dump(model, args.save_model)  # to re-run predict without training again
        row = dict(model=name, train_s=round(train_time, 1))
        for set_name, (Xs, ys) in test_sets.items():
            t = time.perf_counter()
            pred = model.predict(Xs)
            rate = len(Xs) / (time.perf_counter() - t)
            mae, (mae_pair, right) = np.abs(pred - ys).mean(0), pair_stats(pred, ys)
            predictions[f"{name}/{set_name}"] = pred
            print(f"{name:18s} {train_time:8.0f} {set_name:>18s} {fmt(mae):>17s} {fmt(mae_pair):>17s} {right:10.3f} "
                  f"{rate:10.0f}", flush=True)
            key = set_name.replace(" ", "_")
            row.update({f"{key}_mae_{k}": round(m, 3) for k, m in zip("abg", mae)})
            row.update({f"{key}_pair_mae_{k}": round(m, 3) for k, m in zip("abg", mae_pair)})
            row.update({f"{key}_nearer_true_member": round(right, 3), f"{key}_patches_per_s": round(rate, 1)})
        if name == "TiltRegressor":
            # The network alone (with the pair's invariants), before the pair decision: the same fitted network.
            decision = model.pair_decision
            for set_name, (Xs, ys) in test_sets.items():
                raw = model.set_params(pair_decision="network").predict(Xs)
                predictions[f"{name}/{set_name}_network"] = raw
                print(f"  network alone: {set_name} MAE {fmt(np.abs(raw - ys).mean(0))}, up to the pair "
                      f"{fmt(pair_stats(raw, ys)[0])}, pair right {pair_stats(raw, ys)[1]:.3f}", flush=True)
            model.set_params(pair_decision=decision)
        rows.append(row)
    out = ROOT / "out" / "tilt.csv"
    out.parent.mkdir(exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    np.savez(out.with_name("tilt_predictions.npz"), **predictions)
    yte = test_sets["SrTiO3"][1]
    mean_predictor = np.abs(yte - y.mean(0)).mean(0)
    print(f"\nmean predictor SrTiO3 MAE: {'/'.join(f'{m:.2f}' for m in mean_predictor)}; written {out}")


if __name__ == "__main__":
    main()
