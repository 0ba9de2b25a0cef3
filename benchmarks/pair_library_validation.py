"""Validation of the pair decision by template likelihood (TiltRegressor(pair_decision=PairDecision())), without the test set.

The templates are the noise-free patches (``--library-patches`` per image,
or all) of the first ``--n-library`` SrTiO3 training images and their
mid-plane mirrors (and, inside ``PairLibrary``, their in-plane mirrors);
the validation patches are the benchmark's four random cuts of each
remaining training image (never in the library), with its noise (1e5
e/A^2, 0.2 px scan rows). Each starts from its true tilts blurred by
``--start-error`` degrees (Gaussian), as either member of the pair at
random, standing in for the network's estimate. Prints, per setting, how
often the true member is picked, the MAE of the picked start, of the
templates' estimate (``--local``: the local linear fit to the best
templates, else their likelihood-weighted mean), of what ``predict``
returns (the templates' estimate with a local fit, else its mean with the
start), and of that up to the pair.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/pair_library_validation.py
"""

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from sklearn_rvae.tilt import PAIR_MAP, CellPairLibrary, PairDecision, PairLibrary, PeriodicCells
from sklearn_rvae.datasets import make_perovskite_abf

ROOT = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=700, help="cached training images (library + validation)")
    parser.add_argument("--n-library", type=int, default=600)
    parser.add_argument("--start-error", type=float, default=0.9, help="RMS error of the start per angle, degrees")
    parser.add_argument("--neighbors", default="400", help="comma-separated n_neighbors to try")
    parser.add_argument("--best", default="20", help="comma-separated n_best to try")
    parser.add_argument("--rounds", type=int, default=2, help="PairLibrary(n_rounds=...)")
    parser.add_argument("--refine", default="3", help="comma-separated PairDecision(max_refinements=...) to try")
    parser.add_argument("--local", default="8", help="comma-separated PairDecision(n_local_templates=...) to try (0: none)")
    parser.add_argument("--scan-jitter", type=float, default=0.2,
                        help="PairLibrary(scan_jitter=...): the prior of the row shifts integrated out (0: none)")
    parser.add_argument("--library-patches", type=lambda v: v if v == "all" else int(v), default=4,
                        help="patches per library image (make_perovskite_abf's patches_per_image: 4, as the "
                             "benchmark's earlier runs, or 'all')")
    parser.add_argument("--offset", type=float, default=0.0,
                        help="move the validation images by this many pixels in x and y before cutting "
                             "(make_perovskite_abf's grid_offset): columns at offsets no template has")
    parser.add_argument("--quarter-pixel-library", action="store_true",
                        help="also cut the library images moved by a quarter pixel in y, x and both "
                             "(make_perovskite_abf's grid_offset): templates every quarter pixel, 4x as many")
    parser.add_argument("--library", choices=("patches", "cells"), default="patches",
                        help="templates: the library images' noise-free patches (PairLibrary), or their periodic "
                             "images rendered on each patch's own grid (CellPairLibrary)")
    parser.add_argument("--fit-scale", type=int, default=1, help="CellPairLibrary(fit_scale=...)")
    parser.add_argument("--registration", type=int, default=8, help="CellPairLibrary(n_registration=...)")
    parser.add_argument("--grid", choices=("cell", "exact"), default="cell",
                        help="validation patches on the simulated grid, or on exact pixels with columns anywhere "
                             "(make_perovskite_abf(pixel_grid='exact'))")
    parser.add_argument("--row-gain", default="4", help="comma-separated PairDecision(row_gain=...) to try (0: none)")
    parser.add_argument("--flip-gamma", default="1", help="comma-separated PairDecision(flip_gamma=...) to try (0, 1)")
    parser.add_argument("--material", default="SrTiO3",
                        help="validation patches of this material instead (random_state=2 images, never in any "
                             "benchmark): the templates stay SrTiO3; give --n-library 700 to use them all")
    parser.add_argument("--n-material", type=int, default=200, help="validation images of --material")
    parser.add_argument("--material-sampling", type=float, default=0.25,
                        help="Angstrom per pixel of the --material images: 0.25 * 3.83 / 3.905 puts CaTiO3's cell "
                             "on as many pixels as SrTiO3's (the lattice-normalised frame)")
    parser.add_argument("--patch-size", type=int, default=32,
                        help="validation patch side in pixels (another than 32 needs --library cells)")
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "abf_cache")
    args = parser.parse_args()
    if args.patch_size != 32 and args.library != "cells":
        parser.error("--patch-size other than 32 needs --library cells (the patch library is cut at 32 px)")

    common = dict(material="SrTiO3", random_state=0, cache_dir=args.cache)
    offsets = [(0.0, 0.0)] + [(0.25, 0.0), (0.0, 0.25), (0.25, 0.25)] * args.quarter_pixel_library
    # 32 px library patches on the simulated grid (X, y, groups, cells each), the unmirrored and the mirrored.
    clean = [make_perovskite_abf(args.n_train, mid_plane_mirror=m, dose=None, scan_jitter=0.0, patch_size=32,
                                 patches_per_image=args.library_patches, pixel_grid="cell", grid_offset=offset,
                                 **common)
             for offset in offsets for m in (False, True)]
    X_lib = np.concatenate([X[groups < args.n_library] for X, _, groups, _ in clean])
    y_lib = np.concatenate([y[groups < args.n_library] for _, y, groups, _ in clean])
    # The library images' cells (both members, no offsets: a rendered template has every offset).
    cells = PeriodicCells.join([c.subset(range(args.n_library)) for *_, c in clean[:2]]).distinct()
    grid = dict(pixel_grid=args.grid, patch_size=args.patch_size, scale_jitter=0.0, mid_plane_mirror=False)
    # The validation patches: the benchmark's 4 random cuts of each remaining image, with its noise (and
    # moved by --offset).
    if args.material == "SrTiO3":
        X_val, y_val, _, _ = make_perovskite_abf(args.n_train, dose=1e5, scan_jitter=0.2, patches_per_image=4,
                                                 grid_offset=(args.offset, args.offset), **grid, **common)
        X_val, y_val = X_val[4 * args.n_library :], y_val[4 * args.n_library :]
    else:
        X_val, y_val, _, _ = make_perovskite_abf(args.n_material, material=args.material, random_state=2,
                                                 dose=1e5, scan_jitter=0.2, patches_per_image=4,
                                                 pixel_size=args.material_sampling,
                                                 grid_offset=(args.offset, args.offset), cache_dir=args.cache,
                                                 **grid)
    rng = np.random.default_rng(0)
    start = y_val + rng.normal(scale=args.start_error, size=y_val.shape)
    flip = rng.random(len(y_val)) < 0.5
    start[flip] = start[flip] @ PAIR_MAP.T
    print(f"library: {len(X_lib)} patches or {len(cells)} cell columns (x4 mirrors); validation: {len(X_val)} {args.material} patches; start "
          f"error {args.start_error} deg RMS", flush=True)
    print(f"{'neighbors':>9s} {'best':>4s} {'local':>5s} {'gain':>4s} {'refine':>6s} {'flip':>4s} {'pair right':>10s} "
          f"{'start MAE':>17s} {'templates MAE':>17s} {'predict MAE':>17s} {'up to pair':>17s} {'ms/patch':>8s}")
    settings = (args.neighbors, args.best, args.local, args.row_gain, args.refine, args.flip_gamma)
    for k, m, local, gain, refine, flip in itertools.product(*(map(int, a.split(",")) for a in settings)):
        settings = dict(n_neighbors=k, n_best=m, scan_jitter=args.scan_jitter, n_rounds=args.rounds)
        decision = PairDecision(local=local, row_gain=gain, refine=refine, flip_gamma=bool(flip))
        if args.library == "cells":
            library = CellPairLibrary(cells, (args.patch_size,) * 2, 0.25, fit_scale=bool(args.fit_scale),
                                      n_registration=args.registration, **settings)
        else:
            library = PairLibrary(X_lib, y_lib, (32, 32), **settings)
        t = time.perf_counter()
        chosen, templates, _ = library.decide(X_val, start, decision)
        ms = (time.perf_counter() - t) / len(X_val) * 1e3
        right = np.mean(np.abs(chosen - y_val).sum(1) < np.abs(chosen - y_val @ PAIR_MAP.T).sum(1))

        predicted = templates if local else (chosen + templates) / 2
        mirrored = y_val @ PAIR_MAP.T
        nearer = np.abs(predicted - y_val).sum(1) < np.abs(predicted - mirrored).sum(1)
        up_to_pair = np.where(nearer[:, None], y_val, mirrored)

        def fmt(pred, truth=y_val):
            return "/".join(f"{v:.2f}" for v in np.abs(pred - truth).mean(0))

        print(f"{k:9d} {m:4d} {local:5d} {gain:4d} {refine:6d} {flip:4d} {right:10.3f} {fmt(chosen):>17s} "
              f"{fmt(templates):>17s} {fmt(predicted):>17s} {fmt(predicted, up_to_pair):>17s} {ms:8.0f}", flush=True)


if __name__ == "__main__":
    main()
