"""TiltRegressor inference throughput against n_jobs, measured in one run on the same patches.

Loads a model saved by ``bench_tilt.py --save-model`` (its templates are in
it), reads the SrTiO3 test patches that ``bench_tilt.py`` scores (from its
cache) and times ``predict`` with the network alone and with the pair
decision (``pair_decision``) at each ``n_jobs``. Each setting runs twice;
the second (warm: joblib's worker processes already started) is quoted, the
first is printed too. The predictions must be the same at every
``n_jobs``: the script stops otherwise.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/tilt_inference_speed.py \\
        --load-model benchmarks/out/tilt_model.joblib --n-jobs 1,2

(a model of this version: models pickled before issue 24 are not read).
"""

import argparse
import time

import joblib
import numpy as np
from joblib import cpu_count

from bench_tilt import ROOT
from sklearn_rvae.datasets import make_perovskite_abf
from sklearn_rvae.tilt import PairDecision


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-model", required=True)
    parser.add_argument("--n-jobs", default="1,2", help="comma-separated n_jobs values")
    parser.add_argument("--n-patches", type=int, default=200, help="SrTiO3 test patches timed (at most 200)")
    parser.add_argument("--n-train", type=int, default=700, help="bench_tilt.py's --n-train (the test stream follows)")
    parser.add_argument("--patch-size", type=int, default=48)
    parser.add_argument("--no-flip-gamma", action="store_true", help="PairDecision(flip_gamma=False)")
    parser.add_argument("--cache", default=str(ROOT / "out" / "abf_cache"))
    args = parser.parse_args()

    pair = PairDecision(n_local_templates=8, row_gain=4, max_refinements=3, flip_gamma=not args.no_flip_gamma)
    model = joblib.load(args.load_model).set_params(pair_decision=pair)
    X, *_ = make_perovskite_abf(args.n_train + 100, material="SrTiO3", random_state=0, patches_per_image=2,
                                pixel_grid="cell", mid_plane_mirror=False, dose=1e5, scan_jitter=0.2,
                                patch_size=args.patch_size, cache_dir=args.cache)
    X = X[2 * args.n_train :][: args.n_patches]
    print(f"{len(X)} SrTiO3 test patches of {args.patch_size} px; {cpu_count()} CPUs", flush=True)

    def timed(**params):
        model.set_params(**params)
        times, pred = [], None
        for _ in range(2):
            t = time.perf_counter()
            pred = model.predict(X)
            times.append(time.perf_counter() - t)
        return pred, times

    _, (cold, warm) = timed(pair_decision="network", n_jobs=None)
    print(f"{'network alone':28s} {len(X) / warm:8.1f} patches/s", flush=True)
    reference, rates = None, {}
    for n_jobs in (int(v) for v in args.n_jobs.split(",")):
        pred, (cold, warm) = timed(pair_decision=pair, n_jobs=n_jobs)
        if reference is None:
            reference = pred
        elif not np.array_equal(pred, reference):
            raise SystemExit(f"n_jobs={n_jobs} changed the predictions by up to {np.abs(pred - reference).max():.3g}")
        rates[n_jobs] = len(X) / warm
        print(f"{'pair decision, n_jobs=' + str(n_jobs):28s} {rates[n_jobs]:8.1f} patches/s "
              f"(first call {len(X) / cold:.1f}); x{rates[n_jobs] / next(iter(rates.values())):.2f}", flush=True)


if __name__ == "__main__":
    main()
