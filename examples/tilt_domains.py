"""A per-column tilt map of a two-domain SrTiO3 [110] ABF image, with TiltRegressor.predict_map.

The image joins two held-out simulations (test images of ``bench_tilt.py``,
never seen in training): the left half one tilt system, the right half
another. Both are rendered from their periodic noise-free images onto one
0.25 A grid, then get the benchmark's shot noise (1e5 e/A^2) and 0.2 px
scan-row noise. ``predict_map(image, pixel_size=0.25, centers=...)`` predicts
the tilts of every B column at least half a patch away from the image
edges and the domain boundary. The script prints, per domain, the true
tilts of its columns (a-b-c- anti-phase: neighbouring columns have the
angles negated), the MAE of the predictions, and how many columns got the
right member of the [110] mid-plane-mirror pair. It saves a figure of the
image with each column coloured by its predicted and its true gamma.

It needs a fitted ``TiltRegressor()`` (the defaults: 48 px patches, the
pair decision with rendered templates) and the simulation cache, both from
the benchmark::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_tilt.py --save-model benchmarks/out/tilt_model.joblib
    python examples/tilt_domains.py --model benchmarks/out/tilt_model.joblib
"""

import argparse
import time
from pathlib import Path

import joblib
import numpy as np

from sklearn_rvae.datasets import make_perovskite_abf, postprocess_abf

ROOT = Path(__file__).resolve().parent.parent
SAMPLING = 0.25  # Angstrom per pixel


def columns_in(cells, cell, center_entry, shape, window):
    """Pixel positions and tilts of cell's B columns in its render centred on center_entry, within window.

    The render puts center_entry's column at the image centre; the others sit at their offsets from it,
    repeated by the cell's period. window = (row0, row1, col0, col1), half-open, in pixels.
    """
    entries = np.flatnonzero(cells.cell == cell)
    rows = 1 + np.count_nonzero(cells.qy[cell])  # the cell image's own size (the arrays are zero-padded)
    cols = 1 + np.count_nonzero(cells.qx[cell])
    period = np.array([rows, cols]) * cells.pixel_sizes[cell] / SAMPLING  # pixels of the render
    center = (np.array(shape) - 1) / 2
    found, tilts = [], []
    for e in entries:
        base = center + (cells.position[e] - cells.position[center_entry]) / SAMPLING
        for i in range(-int(shape[0] // period[0]) - 2, int(shape[0] // period[0]) + 3):
            for j in range(-int(shape[1] // period[1]) - 2, int(shape[1] // period[1]) + 3):
                r, c = base + (i, j) * period
                if window[0] <= r < window[1] and window[2] <= c < window[3]:
                    found.append((r, c))
                    tilts.append(cells.tilts[e])
    found = np.array(found).reshape(-1, 2)
    # A tiled cell lists a column and its copy: keep one of each position.
    _, keep = np.unique(np.round(found, 3), axis=0, return_index=True)
    return found[np.sort(keep)], np.array(tilts).reshape(-1, 3)[np.sort(keep)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "benchmarks" / "out" / "tilt_model.joblib")
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / "out" / "abf_cache")
    parser.add_argument("--n-train", type=int, default=700, help="bench_tilt.py's --n-train: test images follow")
    parser.add_argument("--height", type=int, default=128, help="image rows, pixels")
    parser.add_argument("--width", type=int, default=256, help="image columns, pixels (two domains side by side)")
    parser.add_argument("--n-jobs", type=int, default=None, help="TiltRegressor(n_jobs=...) for the pair decision")
    parser.add_argument("--no-flip-gamma", action="store_true", help="PairDecision(flip_gamma=False)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    if not args.model.exists():
        raise SystemExit(f"{args.model} does not exist: train and save a model with the command in this "
                         f"script's docstring first.")
    model = joblib.load(args.model).set_params(n_jobs=args.n_jobs, pair_decision__flip_gamma=not args.no_flip_gamma)
    half = model.image_shape_[0] // 2

    # The held-out test images' noise-free periodic images, from the benchmark's cache.
    # On the simulated grid without the mirror, as the benchmark's test images: cells.cell is the image index.
    *_, cells = make_perovskite_abf(args.n_train + 100, material="SrTiO3", random_state=0, patches_per_image=1,
                                    patch_size=model.image_shape_[0], pixel_grid="cell", mid_plane_mirror=False,
                                    cache_dir=args.cache)
    held_out = np.arange(args.n_train, args.n_train + 100)
    first = held_out[0]
    # The second domain: the held-out image whose tilt magnitudes differ most from the first's.
    magnitude = np.array([np.abs(cells.tilts[cells.cell == c]).mean(0) for c in held_out])
    second = held_out[np.argmax(np.abs(magnitude - magnitude[0]).sum(1))]

    shape = (args.height, args.width)
    boundary = args.width // 2
    image = np.empty(shape)
    centers, truth, domain = [], [], []
    for d, (cell, cols) in enumerate(((first, slice(0, boundary)), (second, slice(boundary, args.width)))):
        entry = np.flatnonzero(cells.cell == cell)[0]
        image[:, cols] = cells.render([entry], shape, (0.0, 0.0), SAMPLING)[0][:, cols]
        window = (half, args.height - half, max(cols.start, half) if d == 0 else boundary + half,
                  boundary - half if d == 0 else args.width - half)
        found, tilts = columns_in(cells, cell, entry, shape, window)
        centers.append(found)
        truth.append(tilts)
        domain.append(np.full(len(found), d))
    centers, truth, domain = np.concatenate(centers), np.concatenate(truth), np.concatenate(domain)
    image = postprocess_abf(image, pixel_size=SAMPLING, source_size=0.0, dose=1e5, scan_jitter=0.2, random_state=0)

    t = time.perf_counter()
    pred = model.predict_map(image, pixel_size=SAMPLING, centers=centers)
    elapsed = time.perf_counter() - t
    print(f"{args.height} x {args.width} px image at {SAMPLING} A/px, {len(centers)} B columns, predict_map in "
          f"{elapsed:.1f} s ({len(centers) / elapsed:.1f} columns/s)")
    partner = truth[:, [1, 0, 2]] * (1, 1, -1)
    right = np.abs(pred - truth).sum(1) < np.abs(pred - partner).sum(1)
    for d, cell in enumerate((first, second)):
        mine = domain == d
        signs = ", ".join(sorted({"/".join(f"{v:+.1f}" for v in t) for t in truth[mine]}))
        mae = np.abs(pred[mine] - truth[mine]).mean(0)
        print(f"domain {d} (test image {cell - args.n_train}): {mine.sum()} columns, true tilts {signs} deg; "
              f"MAE {mae[0]:.2f} / {mae[1]:.2f} / {mae[2]:.2f} deg; pair right {right[mine].sum()} of {mine.sum()}")

    figure(image, centers, pred, truth, boundary, args.out / "tilt_domains.png")


def figure(image, centers, pred, truth, boundary, path):
    """The image with every column coloured by its predicted and its true gamma, on one symmetric scale."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[plot]'): no figure")
        return
    from sklearn_rvae.plotting import plot_tilt_map

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), constrained_layout=True)
    limit = np.abs(truth[:, 2]).max() or None  # None: each map's own, when every true gamma is 0
    for ax, tilts, title in ((axes[0], pred, "predicted gamma"), (axes[1], truth, "true gamma")):
        plot_tilt_map(image, centers, tilts, angle="gamma", vmax=limit, colorbar=False, ax=ax)
        ax.axvline(boundary - 0.5, color="y", lw=1)
        ax.set_title(title)
    fig.colorbar(axes[0].collections[-1], ax=axes, label="gamma (deg)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
