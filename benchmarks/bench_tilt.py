"""TiltRegressor on simulated ABF patches: SrTiO3 held-out and CaTiO3 generalisation (issue 4 protocol).

Generates (or reads from the cache) SrTiO3 [110] training and test sets and
a CaTiO3 test set with the same microscope settings
(``make_perovskite_abf``), trains TiltRegressor, and compares it with
``Pipeline([PCA, Ridge])`` and k-NN regression on the same data. Prints the
mean absolute error per angle, the generation and training times and the
inference throughput.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_tilt.py --n-train 600 --n-test 100 --jobs 2
    PYTHONPATH=. .venv/bin/python benchmarks/bench_tilt.py --n-train 40 --n-test 10 --epochs 1   # smoke run
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_rvae import TiltRegressor
from sklearn_rvae.datasets import make_perovskite_abf

ROOT = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--dose", type=float, default=2e4, help="electrons per square Angstrom")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "abf_cache")
    args = parser.parse_args()

    settings = dict(dose=args.dose, scan_noise=0.2, cache_dir=args.cache, n_jobs=args.jobs, verbose=True)
    t0 = time.perf_counter()
    X, y = make_perovskite_abf(args.n_train + args.n_test, material="SrTiO3", random_state=0, **settings)
    Xc, yc = make_perovskite_abf(args.n_test, material="CaTiO3", random_state=1, **settings)
    generation = time.perf_counter() - t0
    Xtr, ytr, Xte, yte = X[: args.n_train], y[: args.n_train], X[args.n_train :], y[args.n_train :]
    print(f"data: {len(X) + len(Xc)} patches of {int(np.sqrt(X.shape[1]))} px, "
          f"{generation:.0f} s to generate or read")

    sqrt = FunctionTransformer(np.sqrt)
    models = {
        "TiltRegressor": TiltRegressor(max_epochs=args.epochs, device=args.device, random_state=0),
        "PCA(50) + Ridge": make_pipeline(sqrt, StandardScaler(), PCA(min(50, args.n_train - 1)), Ridge(1.0)),
        "k-NN (k=5)": make_pipeline(sqrt, StandardScaler(), KNeighborsRegressor(min(5, args.n_train))),
    }
    print(f"\n{'model':18s} {'train s':>8s} {'SrTiO3 MAE a/b/g (deg)':>26s} {'CaTiO3 MAE a/b/g (deg)':>26s} {'patches/s':>10s}")
    for name, model in models.items():
        t = time.perf_counter()
        model.fit(Xtr, ytr)
        train_time = time.perf_counter() - t
        t = time.perf_counter()
        pred = model.predict(Xte)
        rate = len(Xte) / (time.perf_counter() - t)
        mae = np.abs(pred - yte).mean(0)
        mae_c = np.abs(model.predict(Xc) - yc).mean(0)
        print(f"{name:18s} {train_time:8.0f} {'/'.join(f'{m:.2f}' for m in mae):>26s} "
              f"{'/'.join(f'{m:.2f}' for m in mae_c):>26s} {rate:10.0f}")


if __name__ == "__main__":
    main()
