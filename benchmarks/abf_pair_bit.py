"""Can a linear model tell the members of the [110] mid-plane mirror pair apart?

The mirror through the specimen's mid-plane maps the tilts (alpha, beta,
gamma) to (beta, alpha, -gamma) and leaves the projected potential
unchanged; only dynamical scattering tells the two apart. Each pair has one
member with gamma > 0, so sign(gamma) is the bit a tilt regressor must learn
beyond what projection shows. This script trains a logistic regression on
sqrt, standardised, PCA-reduced patches (the training set of
``bench_tilt.py``: 700 SrTiO3 images x 4 column-centred patches x 4 exact
mirrors) to predict sign(gamma), and reports its accuracy on the next 100
images (2 patches each), noise-free and at the benchmark's dose.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/abf_pair_bit.py --dose 0 1e5 1e6
    PYTHONPATH=. .venv/bin/python benchmarks/abf_pair_bit.py --dose 1e5 1e6 --scan-noise 0
    # what the pair shares: ridge R^2 of its invariants
    PYTHONPATH=. .venv/bin/python benchmarks/abf_pair_bit.py --dose 0 1e5 --invariants

With ``--invariants`` it fits a ridge regression (same preprocessing) to
the quantities the mirror pair shares, alpha + beta, (alpha - beta)^2 -
gamma^2 and 2 (alpha - beta) gamma (with z = (alpha - beta) + i gamma, the
pair is +-z and these are alpha + beta and z^2), and for contrast to alpha
and gamma themselves, and prints the test R^2 of each.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_rvae.datasets import make_perovskite_abf, mirror_patches_110

ROOT = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=700)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--components", type=int, nargs="+", default=[200])
    parser.add_argument("--dose", type=float, nargs="+", default=[0.0, 1e5], help="0: noise-free")
    parser.add_argument("--scan-noise", type=float, default=0.2, help="RMS row jitter, pixels, with a dose")
    parser.add_argument("--invariants", action="store_true", help="ridge R^2 of the pair's invariants instead")
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "abf_cache")
    args = parser.parse_args()

    for dose in args.dose:
        noise = dict(dose=None, scan_jitter=0.0) if dose == 0 else dict(dose=dose, scan_jitter=args.scan_noise)
        # 32 px patches on the simulated grid, without the mirror.
        grid = dict(patch_size=32, pixel_grid="cell", mid_plane_mirror=False)
        X, y, _, _ = make_perovskite_abf(args.n_train, material="SrTiO3", random_state=0, patches_per_image=4,
                                         cache_dir=args.cache, n_jobs=2, **grid, **noise)
        Xall, yall, _, _ = make_perovskite_abf(args.n_train + args.n_test, material="SrTiO3", random_state=0,
                                               patches_per_image=2, cache_dir=args.cache, n_jobs=2, **grid, **noise)
        Xte, yte = Xall[2 * args.n_train :], yall[2 * args.n_train :]
        X, y = mirror_patches_110(X, y)
        label = "noise-free" if dose == 0 else f"{dose:g} e/A^2, scan noise {args.scan_noise:g} px"
        if args.invariants:
            def targets(t):
                d, g = t[:, 0] - t[:, 1], t[:, 2]
                return np.column_stack([t[:, 0] + t[:, 1], d**2 - g**2, 2 * d * g, t[:, 0], g])

            reg = make_pipeline(FunctionTransformer(np.sqrt), StandardScaler(), PCA(args.components[0], random_state=0),
                                RidgeCV(alphas=np.logspace(-3, 4, 15)))
            reg.fit(X, targets(y))
            truth = targets(yte)
            r2 = 1 - ((reg.predict(Xte) - truth) ** 2).mean(0) / truth.var(0)
            names = ["alpha+beta", "(a-b)^2-g^2", "2(a-b)g", "alpha", "gamma"]
            print(f"{label}: ridge R^2 " + ", ".join(f"{n} {r:.2f}" for n, r in zip(names, r2)), flush=True)
            continue
        for n in args.components:
            t = time.perf_counter()
            clf = make_pipeline(FunctionTransformer(np.sqrt), StandardScaler(), PCA(n, random_state=0),
                                LogisticRegressionCV(Cs=8, max_iter=2000))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, y[:, 2] > 0)
            hit = clf.predict(Xte) == (yte[:, 2] > 0)
            large = np.abs(yte[:, 2]) > 3
            print(f"{label}, PCA({n}): sign(gamma) accuracy "
                  f"{hit.mean():.3f}; with |gamma| > 3 deg {hit[large].mean():.3f} "
                  f"({time.perf_counter() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
