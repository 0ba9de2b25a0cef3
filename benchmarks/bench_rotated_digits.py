"""Rotated-digits benchmark: RotationInvariantVAE against PCA, NMF and the peers.

Protocol (issues 2 and 21): make_rotated_digits(size=20, max_angle in {60, 180}),
n_components=2, batch 100, lr 1e-3, --epochs epochs (60 for the recorded
figures). For each method: KMeans(10) adjusted Rand index on the 2-D codes,
5-fold 5-NN accuracy, circular correlation of the inferred angle with the
true one, and training seconds per epoch.

Speed ratios are measured side by side: the two programs are alternated
(--timing-rounds rounds of --timing-epochs epochs each) and the ratio of
their median seconds per epoch is reported, as well as the full-run figures.

    python benchmarks/bench_rotated_digits.py                   # full protocol, ours + PCA/NMF
    python benchmarks/bench_rotated_digits.py --peers           # + AtomAI rVAE and pyroVED iVAE
    python benchmarks/bench_rotated_digits.py --epochs 20       # the README's quick run

Rows: PCA, NMF, RotationInvariantVAE with its defaults (normal angle prior),
with angle_prior="uniform" (full-circle pose), with decoder="spatial";
with --peers, AtomAI's rVAE and pyroVED's iVAE.

--peers needs the peers' venv: ``bash benchmarks/peers/setup.sh`` builds it ($PEER_VENV).
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _peers  # the peers' venv (benchmarks/peers/setup.sh)
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import NMF, PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from sklearn_rvae import RotationInvariantVAE
from sklearn_rvae.datasets import make_rotated_digits
from sklearn_rvae.metrics import circular_correlation

HERE = Path(__file__).resolve().parent


def scores(Z, y, angle_pred=None, angle_true=None):
    ari = adjusted_rand_score(y, KMeans(10, n_init=10, random_state=0).fit_predict(Z))
    knn = cross_val_score(KNeighborsClassifier(5), Z, y, cv=5).mean()
    r = r_digit = np.nan
    if angle_pred is not None:
        r = circular_correlation(angle_pred, angle_true)
        # Each digit's template may sit at its own offset; within one digit
        # the offset cancels, so this isolates how well the pose is read.
        r_digit = np.mean([circular_correlation(angle_pred[y == d], angle_true[y == d]) for d in np.unique(y)])
    return {"KMeans ARI": ari, "5-NN acc": knn, "angle r": r, "angle r within digit": r_digit}


def rvae(decoder, seed, **kw):
    # Estimator defaults except for the protocol's settings.
    return RotationInvariantVAE(
        n_components=2,
        decoder=decoder,
        batch_size=100,
        lr=1e-3,
        random_state=seed,
        device="cpu",
        **kw,
    )


def run_ours(decoder, X, y, angle, epochs, seed, **kw):
    est = rvae(decoder, seed, max_epochs=epochs, **kw)
    t = time.perf_counter()
    Z = est.fit_transform(X)
    wall = time.perf_counter() - t
    a, _ = est.transform_pose(X)
    row = scores(Z, y, a, angle)
    row["s/epoch"] = est.history_["dur"].mean()
    row["fit wall s"] = wall
    return row, Z


def run_peer(which, X, epochs, seed, tmp, data_tag):
    # One file per data set: the peers must see the same images as our rows.
    x_path = Path(tmp) / f"X_{data_tag}.npy"
    if not x_path.exists():
        np.save(x_path, X.reshape(-1, 20, 20).astype(np.float32))
    out = Path(tmp) / f"{which}_{epochs}_{time.monotonic_ns()}.npz"
    _peers.run_peer("_peer_rvae.py", which, x_path, epochs, seed, out, stdout=subprocess.DEVNULL)
    return dict(np.load(out))


def alternate(label_a, fn_a, label_b, fn_b, rounds):
    """Median seconds/epoch of two programs timed in alternation (A, B, A, B...)."""
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(fn_a())
        tb.append(fn_b())
    a, b = float(np.median(ta)), float(np.median(tb))
    return {"A": label_a, "B": label_b, "A s/epoch": a, "B s/epoch": b, "B/A": b / a, "rounds": rounds}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--max-angles", type=float, nargs="+", default=[60, 180])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peers", action="store_true", help="also run AtomAI rVAE and pyroVED iVAE")
    p.add_argument("--no-spatial", action="store_true", help="skip the (slow) spatial decoder")
    p.add_argument("--timing-rounds", type=int, default=3)
    p.add_argument("--timing-epochs", type=int, default=3)
    p.add_argument("--out", type=Path, default=HERE / "out")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.peers:
        _peers.require_peers()

    import torch

    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); epochs={args.epochs} seed={args.seed}", flush=True)
    rows, codes, timings = [], {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for max_angle in args.max_angles:
            X, y, angle = make_rotated_digits(size=20, max_angle=max_angle, random_state=args.seed)
            base = {"max_angle": int(max_angle)}
            for name, model in [("PCA(2)", PCA(2, random_state=args.seed)),
                                ("NMF(2)", NMF(2, init="nndsvda", max_iter=1000, random_state=args.seed))]:
                Z = model.fit_transform(X)
                codes[(max_angle, name)] = Z
                rows.append({**base, "method": name, **scores(Z, y)})
            variants = [("conv", {}), ("conv", {"angle_prior": "uniform"})]
            if not args.no_spatial:
                variants.append(("spatial", {}))
            for dec, kw in variants:
                row, Z = run_ours(dec, X, y, angle, args.epochs, args.seed, **kw)
                label = f"decoder={dec}" + "".join(f", {k}={v!r}" for k, v in kw.items())
                codes[(max_angle, f"rVAE {dec}" + (" uniform" if kw else ""))] = Z
                rows.append({**base, "method": f"RotationInvariantVAE {label}", **row})
                print(pd.DataFrame([rows[-1]]).to_string(index=False, header=len(rows) == 3), flush=True)
            if args.peers:
                for which, label in [("atomai", "AtomAI rVAE"), ("pyroved", "pyroVED iVAE (r)")]:
                    res = run_peer(which, X, args.epochs, args.seed, tmp, f"angle{max_angle:g}")
                    rows.append({**base, "method": label, **scores(res["z"], y, res["angle"], angle),
                                 "s/epoch": float(res["sec_per_epoch"])})
                    print(pd.DataFrame([rows[-1]]).to_string(index=False, header=False), flush=True)

        # Side-by-side speed, on the max_angle=60 data.
        X, y, angle = make_rotated_digits(size=20, max_angle=60, random_state=args.seed)
        E = args.timing_epochs

        def ours(dec, **kw):
            def fn():
                est = rvae(dec, args.seed, max_epochs=E, **kw).fit(X)
                return float(est.history_["dur"].median())
            return fn

        timings.append(alternate("rVAE conv", ours("conv"), "rVAE conv, angle_prior='uniform'",
                                 ours("conv", angle_prior="uniform"), args.timing_rounds))
        if not args.no_spatial:
            timings.append(alternate("rVAE conv", ours("conv"), "rVAE spatial", ours("spatial"), args.timing_rounds))
            if args.peers:
                timings.append(alternate(
                    "rVAE spatial", ours("spatial"), "AtomAI rVAE",
                    lambda: float(run_peer("atomai", X, E, args.seed, tmp, "timing")["sec_per_epoch"]), args.timing_rounds))
                timings.append(alternate(
                    "rVAE conv", ours("conv"), "pyroVED iVAE",
                    lambda: float(run_peer("pyroved", X, E, args.seed, tmp, "timing")["sec_per_epoch"]), args.timing_rounds))

    table = pd.DataFrame(rows)
    print("\n## Latent quality (n_components=2)\n")
    print(table.to_markdown(index=False, floatfmt=".3f"))
    table.to_csv(args.out / "rotated_digits.csv", index=False)
    if timings:
        print("\n## Speed, alternated side by side (median s/epoch; B/A = how many times slower B is)\n")
        print(pd.DataFrame(timings).to_markdown(index=False, floatfmt=".3f"))
        pd.DataFrame(timings).to_csv(args.out / "rotated_digits_speed.csv", index=False)
    np.savez(args.out / "rotated_digits_codes.npz", **{f"{m}|{a:g}": Z for (a, m), Z in codes.items()})
    fig_path = plot(codes, args.max_angles, args.seed, args.out / "rotated_digits_latents.png")
    if fig_path:
        print(f"\nfigure: {fig_path}")
    return table


def plot(codes, max_angles, seed, path):
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed (pip install 'sklearn_rvae[plot]'): no figure written")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = ["PCA(2)", "NMF(2)", "rVAE conv", "rVAE conv uniform"]
    fig, axes = plt.subplots(len(max_angles), len(methods), figsize=(4 * len(methods), 3.8 * len(max_angles)), squeeze=False)
    for i, max_angle in enumerate(max_angles):
        _, y, _ = make_rotated_digits(size=20, max_angle=max_angle, random_state=seed)
        for j, m in enumerate(methods):
            ax = axes[i, j]
            Z = codes[(max_angle, m)]
            sc = ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
            label = {"rVAE conv": "RotationInvariantVAE", "rVAE conv uniform": "angle_prior='uniform'"}.get(m, m)
            ax.set_title(f"{label}\nmax_angle={int(max_angle)}", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(sc, ax=axes, ticks=range(10), label="digit")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
