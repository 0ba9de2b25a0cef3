"""Graphene vacancy 4D-STEM: rrVAE against PCA, NMF and COM (issue 5 protocol).

Simulates (abTEM, cached under --cache) a 4D-STEM scan of a graphene
supercell with a single vacancy, and orbits of probe positions related by
the 3-fold rotation about a pristine atom column; fits rrVAE, PCA and NMF
with the same number of components on the preprocessed patterns of both;
and reports

* symmetry-equivalence spread on the orbits (lower is better) and, for
  rrVAE, the error of its angle differences against the 120-degree orbit
  rotations;
* ROC AUC for positions within 2 A of the vacancy against the rest, scored
  by the latent Mahalanobis distance from the bulk (robust covariance), and
  by the COM magnitude and |divergence| for COMTransformer; also against
  the bulk proper (positions at least --bulk-radius from the vacancy);
* the same AUC scored by the latent Mahalanobis distance from the bulk codes
  at the same lattice site (metrics.lattice_site_mahalanobis_score: each
  code against the median of its site's copies in the other unit cells,
  with the site's own covariance and with one pooled covariance; the COM
  shift vector is scored the same way);
* the same AUC scored by the mean distance of the codes to their 5 nearest
  neighbours (metrics.knn_outlier_score), and by each model's misfit (rrVAE: negative ELBO; PCA,
  NMF: squared reconstruction error);
* a figure: latent maps over the scan next to the PCA / NMF component maps
  and the COM vector field (colour wheel).

Preprocessing (the choices are measured in benchmarks/RESULTS.md): linear
intensities smoothed by a Gaussian of --blur detector pixels (rotating a
pattern on a 35-pixel detector aliases the disk edges more than the orbit
changes it), minus the mean pattern for rrVAE and PCA (the mean pattern is
symmetric under the lattice rotations, the residuals carry what differs
between positions); NMF gets the same smoothed intensities without the mean
subtraction, since it needs non-negative input.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_symmetry_graphene.py
    PYTHONPATH=. .venv/bin/python benchmarks/bench_symmetry_graphene.py --components 4 --out benchmarks/out/graphene_c4
    PYTHONPATH=. .venv/bin/python benchmarks/bench_symmetry_graphene.py --window 8 --batch-size 64 --out benchmarks/out/graphene_window
    PYTHONPATH=. .venv/bin/python benchmarks/bench_symmetry_graphene.py --window 8 --epochs 60 --n-init 1  # quick

``--zarr`` runs the rrVAE from a zarr copy of the patterns (scan + orbits,
chunks of --zarr-chunk patterns): its preprocessor and rrVAE are fitted on
the store, streamed; ``--block-mib`` sets the streamed training's shuffle
block (default: the package's), to shuffle over several blocks.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import NMF, PCA
from sklearn.metrics import roc_auc_score

from sklearn_rvae import COMTransformer, DiffractionPreprocessor, RotationInvariantVAE, dpc
from sklearn_rvae.datasets import make_graphene_4dstem, make_graphene_orbits
from sklearn_rvae.metrics import (
    defect_detection_auc,
    knn_outlier_score,
    lattice_site_mahalanobis_score,
    mahalanobis_outlier_score,
    orbit_angle_error,
    symmetry_equivalence_spread,
)

ROOT = Path(__file__).resolve().parent


def bulk_auc(scores, distance, radius, bulk_radius):
    """AUC of near-defect positions against the bulk proper (the ring between is left out)."""
    distance = np.ravel(distance)
    keep = (distance <= radius) | (distance >= bulk_radius)
    return float(roc_auc_score(distance[keep] <= radius, np.ravel(scores)[keep]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, nargs=2, default=(8, 4))
    parser.add_argument("--window", type=float, default=None,
                        help="scan window side, Angstrom, centred on the vacancy (default: the whole supercell)")
    parser.add_argument("--scan-step", type=float, default=0.25)
    parser.add_argument("--orbits", type=int, default=40)
    parser.add_argument("--components", type=int, default=2)
    parser.add_argument("--blur", type=float, default=1.5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--n-init", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=512,
                        help="rrVAE mini-batch (512 aligned the angles on the supercell, 64 did not)")
    parser.add_argument("--angle-prior", type=float, default=172.0, help="degrees")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bulk-radius", type=float, default=4.0)
    parser.add_argument("--defect-site", type=int, default=None,
                        help="atom index of the vacancy (default: the atom nearest the centre, 55, sublattice B)")
    parser.add_argument("--n-jobs", type=int, default=2, help="threads for the simulation")
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "sim_cache")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "graphene")
    parser.add_argument("--zarr", action="store_true", help="fit the rrVAE from a zarr copy of the patterns")
    parser.add_argument("--zarr-chunk", type=int, default=256)
    parser.add_argument("--block-mib", type=float, default=None)
    args = parser.parse_args()

    t0 = time.perf_counter()
    extent = None if args.window is None else (args.window, args.window)
    scan = make_graphene_4dstem(repeats=tuple(args.repeats), defect="vacancy", defect_site=args.defect_site,
                                scan_step=args.scan_step,
                                scan_extent=extent, cache_dir=args.cache, verbose=True, n_jobs=args.n_jobs)
    orbits = make_graphene_orbits(repeats=tuple(args.repeats), n_orbits=args.orbits, cache_dir=args.cache)
    print(f"simulation (or cache read): {time.perf_counter() - t0:.0f} s; scan {scan.data.shape}, "
          f"orbits {orbits.data.shape}, {scan.metadata['mrad_per_px']:.2f} mrad/px")

    sy, sx, ky, kx = scan.data.shape
    grid = scan.data.reshape(sy * sx, ky * kx).astype(np.float64)
    orbit_patterns = orbits.data.reshape(len(orbits.data), -1).astype(np.float64)
    both = np.concatenate([grid, orbit_patterns])
    common = dict(center="none", scaling="none", normalize="none", blur=args.blur)
    residual = DiffractionPreprocessor(subtract_mean=True, **common).fit(both)
    smooth = DiffractionPreprocessor(**common).fit(both)
    n = args.components
    positions = scan.positions.reshape(-1, 2)
    lattice = np.diag(np.array(scan.atoms.cell.lengths()[:2]) / np.array(args.repeats))  # the orthogonal cell
    source = None
    if args.zarr:
        import zarr

        from sklearn_rvae import _streaming

        if args.block_mib is not None:
            _streaming.BLOCK_BYTES = int(args.block_mib * 2**20)
        args.out.mkdir(parents=True, exist_ok=True)
        source = zarr.open_array(str(args.out / "patterns.zarr"), mode="w", shape=both.shape,
                                 chunks=(args.zarr_chunk, both.shape[1]), dtype=np.float32)
        source[:] = both.astype(np.float32)
        source = zarr.open_array(str(args.out / "patterns.zarr"), mode="r")
        # The in-memory runs see float64 of the same float32 values.
        both = np.asarray(source[:], dtype=np.float64)
        grid, orbit_patterns = both[: len(grid)], both[len(grid) :]
        residual = DiffractionPreprocessor(subtract_mean=True, **common).fit(source)
        print(f"zarr copy: {source.shape} in chunks of {args.zarr_chunk}; "
              f"shuffle blocks of {_streaming.BLOCK_BYTES / 2**20:g} MiB")
    models = {
        "rrVAE": (residual, RotationInvariantVAE(
            n_components=n, translation=False, max_epochs=args.epochs, batch_size=args.batch_size, n_init=args.n_init,
            angle_prior=args.angle_prior, device="cpu", random_state=args.seed)),
        "PCA": (residual, PCA(n)),
        "NMF": (smooth, NMF(n, init="nndsvda", max_iter=2000, random_state=args.seed)),
    }
    rows, maps = [], {}
    for name, (pre, model) in models.items():
        t = time.perf_counter()
        Pg, Po = pre.transform(grid), pre.transform(orbit_patterns)
        if source is not None and name == "rrVAE":
            model.fit(pre.transform(source))  # a dask array, streamed chunk by chunk
        else:
            model.fit(np.concatenate([Pg, Po]))
        seconds = time.perf_counter() - t
        codes = model.transform(Pg)
        maps[name] = codes
        score = mahalanobis_outlier_score(codes)
        # The model's own misfit: negative ELBO for rrVAE, squared
        # reconstruction error for PCA / NMF.
        if name == "rrVAE":
            misfit = -model.score_samples(Pg)
        else:
            misfit = ((Pg - model.inverse_transform(codes)) ** 2).sum(1)
        row = dict(method=name, spread=symmetry_equivalence_spread(model.transform(Po), orbits.orbit),
                   auc=defect_detection_auc(score, scan.distance),
                   auc_bulk=bulk_auc(score, scan.distance, 2.0, args.bulk_radius),
                   auc_misfit=defect_detection_auc(misfit, scan.distance),
                   auc_knn=defect_detection_auc(knn_outlier_score(codes), scan.distance),
                   auc_site=defect_detection_auc(lattice_site_mahalanobis_score(codes, positions, lattice),
                                                 scan.distance),
                   auc_site_pooled=defect_detection_auc(lattice_site_mahalanobis_score(
                       codes, positions, lattice, covariance="pooled"), scan.distance), seconds=seconds)
        if name == "rrVAE":
            error, sense = orbit_angle_error(model.transform_pose(Po)[0], orbits.orbit, orbits.rotation_deg)
            row.update(angle_error_deg=error, angle_sense=sense, init_losses=model.init_losses_.round(2).tolist())
            maps["rrVAE angle"] = model.transform_pose(Pg)[0]
        rows.append(row)
    com = COMTransformer(descan=False, mrad_per_px=scan.metadata["mrad_per_px"]).fit(scan.data)
    shift = com.com_map(scan.data)
    magnitude = np.hypot(shift[..., 0], shift[..., 1])
    divergence = np.abs(com.charge_density(scan.data))
    site = lattice_site_mahalanobis_score(shift.reshape(-1, 2), positions, lattice)
    site_pooled = lattice_site_mahalanobis_score(shift.reshape(-1, 2), positions, lattice, covariance="pooled")
    for name, score in (("COM |shift|", magnitude), ("COM |div|", divergence)):
        rows.append(dict(method=name, spread=None, auc=defect_detection_auc(score, scan.distance),
                         auc_bulk=bulk_auc(score, scan.distance, 2.0, args.bulk_radius)))
    rows[-2]["auc_site"] = defect_detection_auc(site, scan.distance)  # the shift vector at its site
    rows[-2]["auc_site_pooled"] = defect_detection_auc(site_pooled, scan.distance)

    near = float(np.mean(scan.distance <= 2.0))
    print(f"\n{n} components; {100 * near:.1f}% of the positions within 2 A of the vacancy")
    print("AUC: latent Mahalanobis distance (COM: |shift|, |divergence|), within 2 A against the rest and "
          f"against positions >= {args.bulk_radius:g} A away; the same against the bulk codes at the same lattice site "
          "with the site's covariance and with a pooled one (COM: shift vector); the model's misfit "
          "(-ELBO, reconstruction error)")
    print(f"{'method':12s} {'equiv. spread':>13s} {'AUC <=2A vs rest':>17s} {f'vs >={args.bulk_radius:g}A':>9s} "
          f"{'AUC site':>8s} {'pooled':>6s} {'AUC misfit':>10s} {'AUC kNN':>8s}  notes")
    for r in rows:
        spread = "" if r["spread"] is None else f"{r['spread']:.3f}"
        misfit = f"{r['auc_misfit']:.3f}" if "auc_misfit" in r else ""
        knn = f"{r['auc_knn']:.3f}" if "auc_knn" in r else ""
        site = f"{r['auc_site']:.3f}" if "auc_site" in r else ""
        pooled = f"{r['auc_site_pooled']:.3f}" if "auc_site_pooled" in r else ""
        notes = ""
        if "angle_error_deg" in r:
            notes = (f"angle error in orbits {r['angle_error_deg']:.1f} deg (sense {r['angle_sense']:+d}); "
                     f"final losses of the {len(r['init_losses'])} inits {r['init_losses']}")
        if "seconds" in r:
            notes += f" fit {r['seconds']:.0f} s"
        print(f"{r['method']:12s} {spread:>13s} {r['auc']:17.3f} {r['auc_bulk']:9.3f} {site:>8s} {pooled:>6s} {misfit:>10s} {knn:>8s}  {notes}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(dict(args={k: str(v) for k, v in vars(args).items()},
                                                           rows=rows), indent=2))
    np.savez(args.out / "codes.npz", shift=shift, **{k.replace(" ", "_"): v for k, v in maps.items()})
    figure(scan, maps, shift, n, args.out / "graphene_maps.png")


def figure(scan, maps, shift, n, path):
    try:
        import matplotlib
    except ImportError:
        print("matplotlib missing (pip install sklearn_rvae[plot]): no figure")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sy, sx = scan.distance.shape
    pos = scan.positions
    extent = [pos[0, 0, 0], pos[0, -1, 0], pos[-1, 0, 1], pos[0, 0, 1]]
    panels = [(f"{name} {k + 1}", maps[name][:, k]) for name in ("rrVAE", "PCA", "NMF") for k in range(n)]
    panels.append(("rrVAE angle (deg)", maps["rrVAE angle"]))
    ncols = n + 1
    fig, axes = plt.subplots(3, ncols, figsize=(3.4 * ncols, 9), layout="constrained")
    flat = [axes[i, k] for i in range(3) for k in range(n)] + [axes[0, n]]
    for ax, (title, values) in zip(flat, panels):
        shown = ax.imshow(values.reshape(sy, sx), extent=extent, cmap="twilight" if "angle" in title else "viridis")
        ax.set_title(title, fontsize=9)
        fig.colorbar(shown, ax=ax, shrink=0.7)
    axes[1, n].imshow(dpc.direction_colors(shift), extent=extent)
    axes[1, n].set_title("COM field (hue = direction)", fontsize=9)
    # Colour wheel legend for the COM panel.
    yy, xx = np.mgrid[-1:1:101j, -1:1:101j]
    wheel = dpc.direction_colors(np.stack([xx, yy], -1), max_magnitude=1.0)
    wheel[np.hypot(xx, yy) > 1] = 1.0
    axes[2, n].imshow(wheel, origin="lower", extent=[-1, 1, -1, 1])
    axes[2, n].set_title("COM colour wheel", fontsize=9)
    axes[2, n].set_axis_off()
    for ax in flat + [axes[1, n]]:
        ax.plot(*scan.defect_xy, "w+", ms=10, mew=2)
        ax.set_xlabel("x (A)", fontsize=8)
    fig.savefig(path, dpi=90)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
