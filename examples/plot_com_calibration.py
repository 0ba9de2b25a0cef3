"""COM / DPC with COMTransformer: the axis and rotation convention, and a calibration.

A synthetic 4D-STEM scan of a lattice of atomic columns: every frame is a
bright-field disk (Poisson counts) shifted by the deflection towards the
nearest columns, seen through a detector that is rotated by 35 degrees,
mirrored, and walks across the scan (descan). COMTransformer learns the
centre, descan, rotation and flip from the data alone, then gives the
corrected vector field, charge density, curl and integrated phase.

Run::

    python examples/plot_com_calibration.py            # 48 x 48 scan, 32 x 32 detector
    python examples/plot_com_calibration.py --full     # 96 x 96 scan, 64 x 64 detector

It prints the fitted calibration and saves ``examples/out/com_calibration.png``
(the first panel is the convention picture referenced by COMTransformer's
docstring).
"""

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage

from sklearn_rvae import COMTransformer
from sklearn_rvae.dpc import apply_rotation, rotation_matrix


def lattice_phase(scan, spacing=12, sigma=2.2):
    yy, xx = np.mgrid[:scan, :scan]
    phi = np.zeros((scan, scan))
    for cy in np.arange(spacing / 2, scan, spacing):
        for cx in np.arange(spacing / 2, scan, spacing):
            phi += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    gy, gx = np.gradient(phi)
    return phi, 4.0 * np.stack([gx, gy], -1)


def simulate(scan, detector, rotation_deg, flip, seed=0):
    phi, deflection = lattice_phase(scan)
    rows, cols = np.mgrid[:scan, :scan]
    descan = np.stack([0.5 + 0.01 * rows, -0.3 + 0.015 * cols], -1)
    on_detector = deflection.reshape(-1, 2) @ np.linalg.inv(rotation_matrix(rotation_deg, flip)).T
    on_detector = on_detector.reshape(scan, scan, 2) + descan
    yy, xx = np.mgrid[:detector, :detector]
    disk = (np.hypot(yy - (detector - 1) / 2, xx - (detector - 1) / 2) < detector / 5).astype(float)
    disk = ndimage.gaussian_filter(disk, 0.7)
    rng = np.random.default_rng(seed)
    frames = np.empty((scan, scan, detector, detector), dtype=np.uint16)
    for i in range(scan):
        for j in range(scan):
            dx, dy = on_detector[i, j]
            shifted = ndimage.shift(disk, (dy, dx), order=1)
            frames[i, j] = rng.poisson(400 * shifted + 1)
    return frames, deflection, phi




def draw_convention(ax):
    ax.set_title("convention: y down, +angle = clockwise\nv_scan = R(angle) F v_detector", fontsize=9)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(1.5, -1.5)  # y down, as images are shown
    ax.set_aspect("equal")
    ax.axhline(0, color="0.85", lw=0.8)
    ax.axvline(0, color="0.85", lw=0.8)
    v = np.array([1.0, 0.0])
    for deg, color in [(0, "k"), (30, "tab:blue"), (90, "tab:orange")]:
        w = apply_rotation(v, deg, False)
        ax.annotate("", xy=w, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=color, lw=1.5))
        ax.text(*(w * 1.18), f"R({deg}) x", color=color, fontsize=8, ha="center", va="center")
    w = apply_rotation([0.0, 0.8], 0, True)
    ax.annotate("", xy=w, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="tab:red", lw=1.5))
    ax.text(w[0] + 0.05, w[1] - 0.15, "F (0, 0.8): flip mirrors y", color="tab:red", fontsize=8)
    ax.text(1.3, 0.12, "x (kx / scan col)", fontsize=7, ha="right")
    ax.text(0.05, 1.4, "y (ky / scan row)", fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="96 x 96 scan and 64 x 64 detector")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = parser.parse_args()
    scan, detector = (96, 64) if args.full else (48, 32)
    true_rotation, true_flip = 35.0, True

    X, deflection, phi = simulate(scan, detector, true_rotation, true_flip)
    com = COMTransformer().fit(X)
    print(f"scan {scan}x{scan}, detector {detector}x{detector}, {X.dtype} counts")
    print(f"fitted: rotation_deg_={com.rotation_deg_:.2f} (true {true_rotation}), flip_={com.flip_} "
          f"(true {true_flip}), curl fraction {com.curl_fraction_:.4f}")
    print(f"        center_={np.round(com.center_, 2)}, bright-field radius {com.bright_field_radius_:.1f} px")
    field = com.com_map(X)
    error = np.abs(field - (deflection - deflection.mean((0, 1)))).max()
    print(f"corrected COM vs true deflection: max |error| {error:.3f} px "
          f"(the descan plane also removes the field's own linear part)")
    phase = com.phase(X)
    print(f"phase vs true phase: correlation {np.corrcoef(phase.ravel(), phi.ravel())[0, 1]:.3f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_rvae.plotting import plot_vector_field

    raw = COMTransformer(rotation_deg=0.0, flip=False, descan=False).fit(X)
    fig, axes = plt.subplots(2, 3, figsize=(11, 7.4), layout="constrained")
    draw_convention(axes[0, 0])
    plot_vector_field(raw.com_map(X), ax=axes[0, 1])
    axes[0, 1].set_title("raw COM (detector frame)\ncolour = direction", fontsize=9)
    plot_vector_field(field, ax=axes[0, 2])
    axes[0, 2].set_title(f"calibrated COM: {com.rotation_deg_:.1f} deg, flip={com.flip_}", fontsize=9)
    for ax, image, title in [
        (axes[1, 0], com.charge_density(X), "charge density (-div COM)"),
        (axes[1, 1], com.curl(X), f"curl (calibration check)"),
        (axes[1, 2], phase, "integrated phase (iCOM)"),
    ]:
        vmax = np.abs(image).max() if "curl" in title else None
        shown = ax.imshow(image, cmap="RdBu_r" if "curl" in title else "magma",
                          vmin=-vmax if vmax else None, vmax=vmax)
        ax.set_title(title, fontsize=9)
        fig.colorbar(shown, ax=ax, shrink=0.8)
    for ax in axes.ravel()[1:]:
        ax.set_xticks([])
        ax.set_yticks([])
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "com_calibration.png", dpi=110)
    print(f"saved {args.out / 'com_calibration.png'}")


if __name__ == "__main__":
    main()
