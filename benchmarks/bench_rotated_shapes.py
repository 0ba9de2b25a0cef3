"""Full-circle benchmark: asymmetric shapes at uniformly random angles (issue 21).

Protocol: make_rotated_shapes(n_samples=1600, size=24, n_classes=4,
max_angle=180, max_shift=1, noise=0.05, random_state=0), n_components=2,
batch 100, lr 1e-3, --epochs epochs (60 for the recorded figures), seed 0.
For each method: KMeans(4) adjusted Rand index and 5-fold 5-NN accuracy on
the 2-D codes; for the rVAEs, the median angle error of each shape after
removing that shape's own offset (metrics.angle_error_by_class, in the sense
of rotation that fits better; ours is counter-clockwise on screen), the share
of all images whose residual is within 10 degrees (a median alone ignores up
to half of a shape), and training seconds per epoch.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_rotated_shapes.py            # ours + PCA / NMF
    PYTHONPATH=. .venv/bin/python benchmarks/bench_rotated_shapes.py --peers    # + AtomAI rVAE, pyroVED iVAE

--peers needs the peers' venv: ``bash benchmarks/peers/setup.sh`` builds it ($PEER_VENV);
--target-vae also runs TARGET-VAE from the sources setup.sh cloned (or ``--target-vae DIR``).
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
from sklearn_rvae.datasets import make_rotated_shapes
from sklearn_rvae.metrics import angle_error_by_class, angle_residuals_by_class

HERE = Path(__file__).resolve().parent


def scores(Z, y, angle_pred=None, angle_true=None):
    row = {
        "KMeans ARI": adjusted_rand_score(y, KMeans(len(np.unique(y)), n_init=10, random_state=0).fit_predict(Z)),
        "5-NN acc": cross_val_score(KNeighborsClassifier(5), Z, y, cv=5).mean(),
    }
    if angle_pred is not None:
        by_sense = {s: angle_error_by_class(s * angle_pred, angle_true, y) for s in (1, -1)}
        sense = min(by_sense, key=lambda s: np.median(list(by_sense[s].values())))
        errors = by_sense[sense]
        residuals = angle_residuals_by_class(sense * angle_pred, angle_true, y)
        row.update({"median angle error": float(np.median(list(errors.values()))),
                    "worst shape's error": max(errors.values()),
                    # a median ignores up to half of a shape: images matched to a turned template show here
                    "within 10 deg": float(np.mean(np.abs(residuals) <= 10.0)), "sense": sense})
    return row


def run_peer(script, which, X, epochs, seed, tmp, extra_env=None):
    x_path = Path(tmp) / "X.npy"
    if not x_path.exists():
        np.save(x_path, X.reshape(len(X), 24, 24).astype(np.float32))
    out = Path(tmp) / f"{which}_{time.monotonic_ns()}.npz"
    _peers.run_peer(script, *([which] if which else []), x_path, epochs, seed, out, env=extra_env,
                    stdout=subprocess.DEVNULL)
    return dict(np.load(out))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peers", action="store_true")
    p.add_argument("--target-vae", type=Path, nargs="?", const=_peers.TARGET_VAE_SRC, default=None,
                   help="also TARGET-VAE, from its source tree (default: the one setup.sh cloned)")
    p.add_argument("--target-vae-epochs", type=int, default=None,
                   help="epochs for TARGET-VAE (default --epochs; it is about 500x slower per epoch on a CPU)")
    p.add_argument("--out", type=Path, default=HERE / "out")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    import torch

    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); epochs={args.epochs} seed={args.seed}", flush=True)
    X, y, angle = make_rotated_shapes(random_state=0)
    rows = []

    def report(row):
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1, float_format="%.3f"), flush=True)

    report({"method": "PCA(2)", **scores(PCA(2, random_state=args.seed).fit_transform(X), y)})
    nmf = NMF(2, init="nndsvda", max_iter=1000, random_state=args.seed)
    report({"method": "NMF(2) (on X clipped at 0)", **scores(nmf.fit_transform(np.clip(X, 0, None)), y)})
    for label, kw in [("RotationInvariantVAE (default, angle_prior=17.2)", {}),
                      ("RotationInvariantVAE angle_prior='uniform'", {"angle_prior": "uniform"})]:
        est = RotationInvariantVAE(n_components=2, max_epochs=args.epochs, batch_size=100, lr=1e-3,
                                   random_state=args.seed, device="cpu", **kw)
        Z = est.fit_transform(X)
        report({"method": label, **scores(Z, y, est.transform_pose(X)[0], angle),
                "s/epoch": float(est.history_["dur"].mean())})
    if args.peers or args.target_vae:
        _peers.require_peers()
    with tempfile.TemporaryDirectory() as tmp:
        peers = []
        if args.peers:
            peers += [("_peer_rvae.py", "atomai", "AtomAI rVAE", None), ("_peer_rvae.py", "pyroved", "pyroVED iVAE (r)", None)]
        if args.target_vae:
            peers.append(("_peer_target_vae.py", None, "TARGET-VAE", {"TARGET_VAE_SRC": str(args.target_vae)}))
        for script, which, label, env in peers:
            epochs = args.epochs
            if which is None and args.target_vae_epochs:
                epochs = args.target_vae_epochs
                label += f" ({epochs} epochs)"
            res = run_peer(script, which, X, epochs, args.seed, tmp, env)
            report({"method": label, **scores(res["z"], y, res["angle"], angle),
                    "s/epoch": float(res["sec_per_epoch"])})
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "rotated_shapes.csv", index=False)
    print("\n" + table.to_markdown(index=False, floatfmt=".3f"))
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
