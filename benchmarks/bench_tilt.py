"""TiltRegressor on simulated ABF patches: SrTiO3 held-out and CaTiO3 generalisation (issue 4 protocol).

Generates (or reads from the cache) SrTiO3 [110] training and test images
and CaTiO3 test images with the same microscope settings
(``make_perovskite_abf``: abTEM multislice, 300 kV, 25 mrad, ABF 12.5-25
mrad, 44 A thick, dose and scan noise as below), trains TiltRegressor, and
compares it with ``Pipeline([PCA, Ridge])`` and k-NN regression on the same
patches. Train and test are split by simulated image, never by patch.
Prints the mean absolute error per angle, the training time and the
inference throughput, and writes them to ``benchmarks/out/tilt.csv``.

Usage::

    # 1. simulate (timed; resumes from the cache if interrupted)
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

from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR

from sklearn_rvae import TiltRegressor
from sklearn_rvae.tilt import CellPairLibrary, PairDecision, PeriodicCells
from sklearn_rvae.datasets import make_perovskite_abf, mirror_patches_110

ROOT = Path(__file__).resolve().parent
SAMPLING = 0.25  # Angstrom per pixel, make_perovskite_abf's default


def fmt(values):
    return "/".join(f"{v:.2f}" for v in values)


def pair_stats(pred, y):
    """MAE counting either member of the mid-plane-mirror pair as right, and how often the true one is nearer.

    The mirror (alpha, beta, gamma) -> (beta, alpha, -gamma) is nearly invisible in [110] ABF."""
    mirrored = np.column_stack([y[:, 1], y[:, 0], -y[:, 2]])
    closer = np.abs(pred - mirrored).sum(1) < np.abs(pred - y).sum(1)
    return np.abs(pred - np.where(closer[:, None], mirrored, y)).mean(0), 1 - closer.mean()


def load_model(path, *, pair_decision, cells=None):
    """A TiltRegressor saved by --save-model, with these pair settings and its templates rebuilt.

    Models saved before ``pair_decision`` existed hold its settings as six ``pair_*`` attributes and
    ``n_targets``: they are replaced here. Their templates lack later attributes: the templates are built again
    (TiltRegressor._pair_library) from the stored training patches, or, given ``cells``, rendered from them (as
    ``fit(..., cells=cells)`` would)."""
    import joblib

    model = joblib.load(path)
    for old in ("pair_likelihood", "pair_neighbors", "pair_local", "pair_row_gain", "pair_refine", "pair_flip_gamma",
                "n_targets"):
        model.__dict__.pop(old, None)
    model.pair_decision = pair_decision
    if not hasattr(model, "n_outputs_"):
        model.n_outputs_ = 3
    if not hasattr(model, "network_shape"):  # saved before the network could see a central crop
        model.network_shape, model.network_shape_ = None, model.image_shape_
    library = getattr(model, "pair_library_", None)
    neighbors = (pair_decision or PairDecision()).resolved_neighbors(with_cells=True)
    if cells is not None:
        model.pair_library_ = model._pair_library(None, None, model.image_shape_, cells, neighbors)
    elif library is not None and not isinstance(library, CellPairLibrary):
        model.pair_library_ = model._pair_library(library.X.reshape(len(library.X), -1), library.y[: len(library.X)],
                                                  library.image_shape, None, library.n_neighbors)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=700, help="simulated SrTiO3 training images")
    parser.add_argument("--n-test", type=int, default=100, help="simulated test images (SrTiO3 and CaTiO3 each)")
    parser.add_argument("--patches", type=lambda v: v if v == "all" else int(v), default=2,
                        help="patches per training image, or 'all' (every column at every half-pixel cut; "
                             "2 per test image)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--channels", default="32,32,64,64,64,128,128", help="'stemdl' for the paper's ten layers")
    parser.add_argument("--pool-after", default="2,4,6")
    parser.add_argument("--dose", type=float, default=1e5, help="electrons per square Angstrom")
    parser.add_argument("--scan-noise", type=float, default=0.2, help="RMS row jitter, pixels")
    parser.add_argument("--fresh-noise", action="store_true",
                        help="train the CNN on noise-free patches with new shot and scan noise every epoch "
                             "(Poisson augmentation at the test data's counts); baselines keep the noisy patches")
    parser.add_argument("--pairs", action="store_true",
                        help="add each training image's mid-plane mirror (the slab seen from its other surface, "
                             "tilts (beta, alpha, -gamma)) to the training set of every model")
    parser.add_argument("--scan-correction", action="store_true",
                        help="TiltRegressor(scan_correction=True): align every patch's scan rows to an appearance "
                             "model of the training patches before the CNN")
    parser.add_argument("--symmetry", action="store_true",
                        help="TiltRegressor(symmetry='110'): the projection's exact mirrors built into the CNN, "
                             "which then trains on the unmirrored patches (the baselines keep the mirrored ones)")
    parser.add_argument("--pair-invariants", action="store_true",
                        help="TiltRegressor(pair_invariants=True) (with --symmetry): also learn the mid-plane-mirror "
                             "pair's invariants and take the magnitudes from them")
    parser.add_argument("--pair-likelihood", action="store_true",
                        help="TiltRegressor(pair_decision=PairDecision(...)) (with --symmetry): decide the mid-plane-mirror pair "
                             "by each patch's likelihood under the nearest training patches of either member")
    parser.add_argument("--pair-local", type=int, default=8,
                        help="PairDecision(local=...): templates of the local linear fit of the chosen member's "
                             "tilts (0: the network's estimate averaged with the templates' weighted mean)")
    parser.add_argument("--pair-row-gain", type=int, default=4,
                        help="PairDecision(row_gain=...): harmonics of a smooth row gain between a patch and "
                             "the templates, divided out where the evidence asks for it (0: none)")
    parser.add_argument("--pair-refine", type=int, default=3,
                        help="PairDecision(refine=...): local fits repeated around the previous fit's tilts")
    parser.add_argument("--no-flip-gamma", action="store_true",
                        help="PairDecision(flip_gamma=False): the pair decided between the network's two "
                             "members only (runs 1-16)")
    parser.add_argument("--patch-size", type=int, default=32,
                        help="patch side in pixels, of every training and test set (--scan-test windows are "
                             "simulated per size)")
    parser.add_argument("--network-size", type=int, default=None,
                        help="TiltRegressor(network_shape=...): the CNN sees the central square of this side, "
                             "the pair templates the whole patch (default: the whole patch)")
    parser.add_argument("--pixel-grid", choices=("cell", "exact"), default="cell",
                        help="training patches on the simulated grid (every cell over whole pixels, columns at "
                             "fixed sub-pixel offsets) or on exact 0.25 A pixels with columns anywhere "
                             "(make_perovskite_abf(pixel_grid=...); 'exact' needs an integer --patches)")
    parser.add_argument("--scale-jitter", type=float, default=0.0,
                        help="with --pixel-grid exact: training pixel sizes spread by this fraction (uniform)")
    parser.add_argument("--cell-templates", action="store_true",
                        help="TiltRegressor.fit(..., cells=...): templates rendered from the noise-free periodic "
                             "images on each patch's own grid (offset and pixel size fitted per patch)")
    parser.add_argument("--scan-test", type=int, default=0,
                        help="also test on this many images per material simulated directly on exact 0.25 A "
                             "pixels, one patch each at a random offset (make_perovskite_abf(pixel_grid='scan')): "
                             "SrTiO3 (fresh tilts, random_state=3), CaTiO3 (random_state=1), and the SrTiO3 ones "
                             "recorded at 0.255 A per pixel, a 2%% calibration error the model is not told of")
    parser.add_argument("--catio3-sampling", type=float, default=SAMPLING,
                        help="Angstrom per pixel of the CaTiO3 test images: 0.25 * 3.83 / 3.905 = 0.2452 puts "
                             "CaTiO3's cell on as many pixels as SrTiO3's (magnification set by the known lattice "
                             "constant, or the image resampled by it: the lattice-normalised frame)")
    parser.add_argument("--flush-denormal", action="store_true",
                        help="torch.set_flush_denormal(True) for the whole run (CPU speed with tiny activations)")
    parser.add_argument("--load-model", type=Path, default=None,
                        help="evaluate this fitted TiltRegressor (from --save-model) instead of training one")
    parser.add_argument("--save-model", type=Path, default=None, help="joblib file for the fitted TiltRegressor")
    parser.add_argument("--jobs", type=int, default=2, help="processes simulating images")
    parser.add_argument("--predict-jobs", type=int, default=1,
                        help="processes for the pair decision in predict (TiltRegressor(n_jobs=...)); the "
                             "patches/s column depends on it")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "abf_cache")
    args = parser.parse_args()
    if args.flush_denormal:
        import torch

        torch.set_flush_denormal(True)

    noise = dict(dose=args.dose, scan_noise=args.scan_noise, patch_size=args.patch_size, cache_dir=args.cache,
                 n_jobs=args.jobs, verbose=True)

    def training_set(**conditions):
        """The SrTiO3 training patches, with their mid-plane mirrors after them when --pairs."""
        sets = [make_perovskite_abf(args.n_train, material="SrTiO3", random_state=0, patches_per_image=args.patches,
                                    mid_plane_mirror=mirror, pixel_grid=args.pixel_grid,
                                    scale_jitter=args.scale_jitter, return_cells=True, **conditions)
                for mirror in (False, True)[: 1 + args.pairs]]
        return np.concatenate([s[0] for s in sets]), np.concatenate([s[1] for s in sets]), PeriodicCells.join(
            [s[2] for s in sets])

    t0 = time.perf_counter()
    X, y, cells = training_set(**noise)
    train_generation = time.perf_counter() - t0
    t0 = time.perf_counter()
    # The test images follow the training ones in the same stream (indices n_train..): fresh tilts.
    Xall, yall = make_perovskite_abf(args.n_train + args.n_test, material="SrTiO3", random_state=0,
                                     patches_per_image=2, **noise)
    Xte, yte = Xall[2 * args.n_train :], yall[2 * args.n_train :]
    Xc, yc = make_perovskite_abf(args.n_test, material="CaTiO3", random_state=1, patches_per_image=2,
                                 sampling=args.catio3_sampling, **noise)
    test_sets = {"SrTiO3": (Xte, yte), "CaTiO3": (Xc, yc)}
    if args.scan_test:
        scan = dict(noise, patches_per_image=1, pixel_grid="scan")
        for name, material, seed, sampling in (("SrTiO3 scan", "SrTiO3", 3, SAMPLING),
                                               ("CaTiO3 scan", "CaTiO3", 1, SAMPLING),
                                               ("SrTiO3 scan 0.255", "SrTiO3", 3, 0.255)):
            test_sets[name] = make_perovskite_abf(args.scan_test, material=material, random_state=seed,
                                                  sampling=sampling, **scan)
    # The two exact mirrors of the [110] projection, with their tilts transformed: 4x the patches. A CNN
    # with the mirrors built in (--symmetry) sees each patch's mirrors anyway and trains on the patches alone.
    cnn_mirrors = (lambda X, y: (X, y)) if args.symmetry else mirror_patches_110
    (cnn_X, cnn_y), (X, y) = cnn_mirrors(X, y), mirror_patches_110(X, y)
    cnn_augment, counts = False, (50.0, 1000.0)
    if args.fresh_noise:
        # The same images, columns and sub-pixel offsets as X (the noise has its own stream), so y applies.
        cnn_X, _ = cnn_mirrors(*training_set(**dict(noise, dose=None, scan_noise=0.0))[:2])
        # Mean detected electrons per pixel of each patch, as the test data record them.
        side = args.network_size or args.patch_size
        cut = (args.patch_size - side) // 2
        seen = cnn_X.reshape(len(cnn_X), args.patch_size, args.patch_size)[:, cut:cut + side, cut:cut + side]
        seen = seen.reshape(len(cnn_X), -1)
        electrons = seen.mean(1) * args.dose * SAMPLING**2  # over what the network sees
        counts, cnn_augment = (float(electrons.min()), float(electrons.max())), ("poisson", "scan_distortion")
        print(f"CNN trains on noise-free patches, shot noise at {counts[0]:.0f}-{counts[1]:.0f} electrons per pixel",
              flush=True)
    test_generation = time.perf_counter() - t0
    pairs = " and their mid-plane mirrors" if args.pairs else ""
    print(f"training set: {args.n_train} images{pairs} -> {len(X)} patches of {int(np.sqrt(X.shape[1]))} px, "
          f"{train_generation:.0f} s to simulate or read, x4 by mirrors; test sets {test_generation:.0f} s", flush=True)
    if args.generate_only:
        return

    sqrt = FunctionTransformer(np.sqrt)
    pair = None
    if args.pair_likelihood:
        pair = PairDecision(local=args.pair_local, row_gain=args.pair_row_gain, refine=args.pair_refine,
                            flip_gamma=not args.no_flip_gamma)
    models = {
        "TiltRegressor": TiltRegressor(
            conv_channels=None if args.channels == "stemdl" else tuple(int(c) for c in args.channels.split(",")),
            pool_after=(5, 10) if args.channels == "stemdl" else tuple(int(p) for p in args.pool_after.split(",")),
            fc_units=512 if args.channels == "stemdl" else 256, augment=cnn_augment, counts_range=counts,
            scan_jitter=args.scan_noise, scan_correction=args.scan_correction,
            network_shape=(args.network_size,) * 2 if args.network_size else None,
            symmetry="110" if args.symmetry else None, pair_invariants=args.pair_invariants,
            pair_decision=pair, lr=2e-3, max_epochs=args.epochs,
            callbacks=[LRScheduler(CosineAnnealingLR, T_max=args.epochs)], sampling=SAMPLING, device=args.device,
            n_jobs=args.predict_jobs,
            random_state=0, verbose=1),
        "PCA(100) + Ridge": make_pipeline(sqrt, StandardScaler(), PCA(min(100, len(X) - 1), random_state=0),
                                          RidgeCV(alphas=np.logspace(-3, 3, 13))),
        "k-NN (k=5)": make_pipeline(sqrt, StandardScaler(), KNeighborsRegressor(min(5, len(X)))),
    }
    rows, predictions = [], {f"{name}_true": ys for name, (_, ys) in test_sets.items()}
    print(f"\n{'model':18s} {'train s':>8s} {'test set':>18s} {'MAE a/b/g (deg)':>17s} {'up to the pair':>17s} "
          f"{'pair right':>10s} {'patches/s':>10s}", flush=True)
    for name, model in models.items():
        t = time.perf_counter()
        if name == "TiltRegressor" and args.load_model:
            model = load_model(args.load_model, pair_decision=pair, cells=cells if args.cell_templates else None)
            model.set_params(pair_invariants=args.pair_invariants, n_jobs=args.predict_jobs)
        elif name == "TiltRegressor":
            model.fit(cnn_X, cnn_y, cells=cells if args.cell_templates else None)
        else:
            model.fit(X, y)
        train_time = float("nan") if name == "TiltRegressor" and args.load_model else time.perf_counter() - t
        if name == "TiltRegressor" and args.save_model:
            import joblib

            joblib.dump(model, args.save_model)  # to re-run predict's post-processing without training again
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
        if name == "TiltRegressor" and (args.pair_invariants or pair is not None):
            # The network alone, before decoding the invariants and deciding the pair (these parameters only
            # change predict's post-processing, so toggling them reads the same fitted network).
            stages = [("network alone", dict(pair_invariants=False, pair_decision=None))]
            if args.pair_invariants and pair is not None:
                stages.append(("network with the invariants", dict(pair_decision=None)))
            for stage, off in stages:
                for set_name, (Xs, ys) in test_sets.items():
                    raw = model.set_params(**off).predict(Xs)[:, :3]
                    model.set_params(pair_invariants=args.pair_invariants, pair_decision=pair, n_jobs=args.predict_jobs)
                    predictions[f"{name}/{set_name}_{stage.replace(' ', '_')}"] = raw
                    print(f"  {stage}: {set_name} MAE {fmt(np.abs(raw - ys).mean(0))}, up to the pair "
                          f"{fmt(pair_stats(raw, ys)[0])}, pair right {pair_stats(raw, ys)[1]:.3f}", flush=True)
        rows.append(row)
    out = ROOT / "out" / "tilt.csv"
    out.parent.mkdir(exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    np.savez(out.with_name("tilt_predictions.npz"), **predictions)
    mean_predictor = np.abs(yte - y.mean(0)).mean(0)
    print(f"\nmean predictor SrTiO3 MAE: {'/'.join(f'{m:.2f}' for m in mean_predictor)}; written {out}")


if __name__ == "__main__":
    main()
