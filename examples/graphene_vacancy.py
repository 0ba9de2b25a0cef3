"""Graphene vacancy 4D-STEM: rrVAE latent maps next to PCA / NMF components and the COM field.

Simulates (abTEM, the ``sim`` extra; cached under examples/out/sim_cache) a
4D-STEM scan of graphene around a single vacancy, then fits, on the same
preprocessed patterns, a rotation-only VAE (rrVAE), PCA and NMF with the
same number of components, and COMTransformer on the raw scan. Prints the
defect-detection AUC of each (positions within 2 A of the vacancy against
the rest, scored by the latent Mahalanobis distance; COM magnitude for COM)
and saves a figure of the maps with the vacancy marked.

Run::

    python examples/graphene_vacancy.py          # small: 6x3 cells, 6 A window, 0.3 A steps
    python examples/graphene_vacancy.py --full   # 8x4 cells, 8 A window, 0.25 A steps (the benchmark's)

The full comparison with the symmetry-equivalence metric is
benchmarks/bench_symmetry_graphene.py; its current numbers are in
benchmarks/RESULTS.md. It scans the whole supercell, so every lattice site
has copies in 32 cells and the codes can be scored against the bulk at the
same site (``metrics.lattice_site_mahalanobis_score``), which finds the
vacancy where the global Mahalanobis distance printed here does not; this
example's window holds too few cells for that.
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.decomposition import NMF, PCA

from sklearn_rvae import COMTransformer, DiffractionPreprocessor, RotationInvariantVAE
from sklearn_rvae.datasets import make_graphene_4dstem
from sklearn_rvae.metrics import defect_detection_auc, mahalanobis_outlier_score


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    repeats, window, step, epochs = ((8, 4), 8.0, 0.25, 200) if args.full else ((6, 3), 6.0, 0.3, 60)
    scan = make_graphene_4dstem(repeats=repeats, defect="vacancy", scan_step=step, scan_extent=(window, window),
                                cache_dir=args.out / "sim_cache", verbose=True)
    sy, sx, ky, kx = scan.data.shape
    print(f"scan {sy}x{sx} positions, patterns {ky}x{kx} at {scan.metadata['mrad_per_px']:.2f} mrad/px")
    X = scan.data.reshape(sy * sx, ky * kx).astype(np.float64)
    # Smoothed linear intensities (rotating a coarse pattern aliases its disk
    # edges), minus the mean pattern (the static, symmetric disks) for rrVAE
    # and PCA; NMF needs the non-negative intensities. See benchmarks/RESULTS.md.
    common = dict(center="none", scaling="none", normalize="none", blur=1.5)
    P = DiffractionPreprocessor(subtract_mean=True, **common).fit_transform(X)
    smooth = DiffractionPreprocessor(**common).fit_transform(X)
    rrvae = RotationInvariantVAE(n_components=2, translation=False, angle_prior=172.0, max_epochs=epochs,
                                 batch_size=64, n_init=3 if args.full else 1, device="cpu", random_state=0).fit(P)
    maps = {
        "rrVAE z": rrvae.transform(P),
        "PCA": PCA(2).fit_transform(P),
        "NMF": NMF(2, init="nndsvda", max_iter=2000, random_state=0).fit_transform(smooth),
    }
    angle = rrvae.transform_pose(P)[0]
    com = COMTransformer(descan=False).fit(scan.data).com_map(scan.data)
    for name, codes in maps.items():
        auc = defect_detection_auc(mahalanobis_outlier_score(codes), scan.distance)
        print(f"{name:8s} defect AUC (within 2 A), latent Mahalanobis: {auc:.3f}")
    misfit = defect_detection_auc(-rrvae.score_samples(P), scan.distance)
    print(f"rrVAE    defect AUC (within 2 A), negative ELBO:      {misfit:.3f}")
    print(f"COM      defect AUC (|shift|):       {defect_detection_auc(np.hypot(com[..., 0], com[..., 1]), scan.distance):.3f}")

    figure(scan, maps, angle, 360.0 / rrvae.rotation_symmetry, com, args.out / "graphene_vacancy.png")


def figure(scan, maps, angle, period, com, path):
    """Two components of every method, the rrVAE angle and the COM field, each with the vacancy marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_rvae.plotting import plot_angle_map, plot_latent_map, plot_vector_field

    sy, sx = scan.positions.shape[:2]
    fig, axes = plt.subplots(2, 4, figsize=(13, 6.6), layout="constrained")
    extent = [scan.positions[0, 0, 0], scan.positions[0, -1, 0], scan.positions[-1, 0, 1], scan.positions[0, 0, 1]]
    panels = [(f"{name} {k + 1}", codes[:, k]) for name, codes in maps.items() for k in range(2)]
    for ax, (title, values) in zip(axes.ravel(), panels):
        plot_latent_map(values, scan_shape=(sy, sx), extent=extent, ax=ax)
        ax.set_title(title, fontsize=9)
    plot_angle_map(angle, scan_shape=(sy, sx), period=period, extent=extent, ax=axes[1, 2])
    axes[1, 2].set_title("rrVAE angle (deg)", fontsize=9)
    plot_vector_field(com, extent=extent, ax=axes[1, 3])
    axes[1, 3].set_title("COM field (colour = direction)", fontsize=9)
    for ax in axes.ravel():
        ax.plot(*scan.defect_xy, "w+", ms=10, mew=2)
        ax.set_xlabel("x (A)", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
