"""Zincblende polarity in 4D-STEM: can rrVAE, PCA, NMF and COM tell a Ga column from an As column?

GaAs viewed along [110] shows dumbbells: a Ga and an As column 1.4 A apart.
The two ends differ only by two units of atomic number, and that difference
(the crystal's polarity, which breaks the 2-fold rotation about the
dumbbell centre) is what this example measures. It simulates (abTEM, the
``sim`` extra; cached under examples/out/sim_cache) a 4D-STEM scan of GaAs
with an antisite column (As and Ga swapped in the column nearest the
centre), fits a rotation-only VAE (rrVAE), PCA and NMF with the same number
of components on the preprocessed patterns, and COMTransformer on the raw
scan, and prints:

* polarity: ROC AUC of telling probe positions on cation columns from
  positions on anion columns from each method's codes (logistic regression,
  5-fold cross-validated predictions; COM: its shift and divergence);
* antisite detection: ROC AUC for positions within 2 A of the antisite
  column against the rest, by the latent Mahalanobis distance and by each
  model's misfit (negative ELBO, reconstruction error); COM by |shift| and
  |divergence|;

and saves a figure of the maps with the columns marked.

Run::

    python examples/zincblende_polarity.py          # small: 0.4 A steps (1120 positions, a few minutes)
    python examples/zincblende_polarity.py --full   # 0.25 A steps (2880 positions; the benchmark's numbers)
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import NMF, PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_rvae import COMTransformer, DiffractionPreprocessor, RotationInvariantVAE
from sklearn_rvae.datasets import make_zincblende_4dstem
from sklearn_rvae.metrics import defect_detection_auc, mahalanobis_outlier_score


def polarity_auc(features, site_class):
    """Cross-validated AUC of cation-column (0) against anion-column (1) positions."""
    on_column = site_class <= 1
    X, y = np.asarray(features)[on_column], site_class[on_column]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    proba = cross_val_predict(model, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                              method="predict_proba")[:, 1]
    return float(roc_auc_score(y, proba))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--components", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--n-init", type=int, default=None)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    step = 0.25 if args.full else 0.4
    epochs = args.epochs or (200 if args.full else 60)
    n_init = args.n_init or (3 if args.full else 1)
    t0 = time.perf_counter()
    scan = make_zincblende_4dstem(material="GaAs", repeats=(2, 2), antisite=True, scan_step=step,
                                  cache_dir=args.out / "sim_cache", verbose=True, n_jobs=args.n_jobs)
    sy, sx, ky, kx = scan.data.shape
    site = scan.site_class.ravel()
    print(f"simulation (or cache read) {time.perf_counter() - t0:.0f} s: scan {sy}x{sx} positions, patterns "
          f"{ky}x{kx} at {scan.metadata['mrad_per_px']:.2f} mrad/px, GaAs {scan.metadata['thickness_A']:.1f} A thick; "
          f"{np.sum(site == 0)} positions on Ga columns, {np.sum(site == 1)} on As columns")

    X = scan.data.reshape(sy * sx, ky * kx).astype(np.float64)
    common = dict(center="none", scaling="none", normalize="none", blur=1.5)
    residual = DiffractionPreprocessor(subtract_mean=True, **common).fit(X)
    smooth = DiffractionPreprocessor(**common).fit(X)
    n = args.components
    models = {
        "rrVAE": (residual, RotationInvariantVAE(n_components=n, translation=False, angle_prior=172.0,
                                                 max_epochs=epochs, batch_size=64, n_init=n_init, device="cpu",
                                                 random_state=0)),
        "PCA": (residual, PCA(n)),
        "NMF": (smooth, NMF(n, init="nndsvda", max_iter=2000, random_state=0)),
    }
    maps = {}
    print(f"\n{n} components; AUCs (0.5 = chance)")
    print(f"{'method':8s} {'polarity':>9s} {'antisite, latent':>17s} {'antisite, misfit':>17s}")
    for name, (pre, model) in models.items():
        P = pre.transform(X)
        codes = model.fit(P).transform(P)
        misfit = -model.score_samples(P) if name == "rrVAE" else ((P - model.inverse_transform(codes)) ** 2).sum(1)
        maps[name] = codes
        print(f"{name:8s} {polarity_auc(codes, site):9.3f} "
              f"{defect_detection_auc(mahalanobis_outlier_score(codes), scan.distance):17.3f} "
              f"{defect_detection_auc(misfit, scan.distance):17.3f}")
    com_model = COMTransformer(descan=False).fit(scan.data)
    com = com_model.com_map(scan.data)
    divergence = com_model.charge_density(scan.data)
    magnitude = np.hypot(com[..., 0], com[..., 1])
    com_features = np.stack([com[..., 0].ravel(), com[..., 1].ravel(), divergence.ravel()], 1)
    print(f"{'COM':8s} {polarity_auc(com_features, site):9.3f} "
          f"{defect_detection_auc(magnitude, scan.distance):17.3f} (|shift|) "
          f"{defect_detection_auc(np.abs(divergence), scan.distance):.3f} (|div|)")
    rrvae = models["rrVAE"][1]
    figure(scan, maps, rrvae.transform_pose(models["rrVAE"][0].transform(X))[0], 360.0 / rrvae.rotation_symmetry,
           com, divergence, n, args.out / "zincblende_polarity.png")


def figure(scan, maps, angle, period, com, divergence, n, path):
    try:
        import matplotlib
    except ImportError:
        print("matplotlib missing (pip install sklearn_rvae[plot]): no figure")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_rvae.plotting import plot_angle_map, plot_latent_map, plot_vector_field

    sy, sx = scan.distance.shape
    pos = scan.positions
    extent = [pos[0, 0, 0], pos[0, -1, 0], pos[-1, 0, 1], pos[0, 0, 1]]
    codes = [(f"{name} {k + 1}", maps[name][:, k]) for name in maps for k in range(n)]
    n_panels = len(codes) + 3  # and the angle, the divergence and the COM field
    fig, axes = plt.subplots(2, (n_panels + 1) // 2, figsize=(3.3 * ((n_panels + 1) // 2), 6.2),
                             layout="constrained")
    panels = axes.ravel()
    slots = [*range(len(codes)), len(codes) + 1]  # the angle goes between the codes and the divergence
    for k, (title, values) in zip(slots, codes + [("COM divergence", divergence.ravel())]):
        plot_latent_map(values, scan_shape=(sy, sx), extent=extent, ax=panels[k])
        panels[k].set_title(title, fontsize=9)
    ax = panels[len(codes)]
    plot_angle_map(angle, scan_shape=(sy, sx), period=period, extent=extent, ax=ax)
    ax.set_title("rrVAE angle (deg)", fontsize=9)
    ax = panels[len(codes) + 2]
    plot_vector_field(com, extent=extent, ax=ax)
    ax.set_title("COM field (hue = direction)", fontsize=9)
    for ax in axes.ravel()[:n_panels]:
        for (x, y), species in zip(scan.columns, scan.column_species):
            ax.plot(x, y, "o", ms=3, mfc="none", mec="w" if species == 0 else "r", mew=0.8)
        ax.plot(*scan.defect_xy, "w+", ms=10, mew=2)
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
    for ax in axes.ravel()[n_panels:]:
        ax.set_axis_off()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    print(f"saved {path} (white rings: Ga columns, red: As, cross: the antisite)")


if __name__ == "__main__":
    main()
