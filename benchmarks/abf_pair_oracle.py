"""How well could the [110] mid-plane-mirror pair be told apart with everything known?

The ceiling for any tilt regressor on ``bench_tilt.py``'s data. For each
training patch, ``make_perovskite_abf(mid_plane_mirror=True)`` gives the
noise-free patch of the same column, with the same sub-pixel offset, in the
slab seen from its other surface: tilts (beta, alpha, -gamma). An oracle
that knows both noise-free patches decides between them with the Poisson
likelihood ratio of the noisy patch (with and without integrating out the
unknown scan shift of every row, or with the rows aligned first as
``TiltRegressor(scan_correction=True)`` aligns them). Its error rate, and the mean absolute
error its wrong decisions cost (|alpha - beta| on alpha and beta, 2|gamma|
on gamma), bound from below what a regressor that must also estimate the
tilts can reach at that dose. It also prints the pair's chi^2 (the squared
distance between the members in units of the shot noise).

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/abf_pair_oracle.py --dose 2e4 1e5 1e6
    PYTHONPATH=. .venv/bin/python benchmarks/abf_pair_oracle.py --patch-size 48
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from sklearn_rvae.datasets import make_perovskite_abf
from sklearn_rvae.tilt import ScanRowAligner, appearance_model, shift_rows

ROOT = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-images", type=int, default=700)
    parser.add_argument("--dose", type=float, nargs="+", default=[1e5], help="electrons per square Angstrom")
    parser.add_argument("--scan-noise", type=float, default=0.2, help="RMS row jitter of the data set, pixels")
    parser.add_argument("--patch-size", type=int, default=32,
                        help="patch side in pixels (bench_tilt.py's --patch-size)")
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "abf_cache")
    args = parser.parse_args()

    common = dict(material="SrTiO3", random_state=0, patches_per_image=4, patch_size=args.patch_size,
                  pixel_grid="cell", cache_dir=args.cache, n_jobs=2)
    front, y, _, _ = make_perovskite_abf(args.n_images, mid_plane_mirror=False, **common)
    back, y_back, _, _ = make_perovskite_abf(args.n_images, mid_plane_mirror=True, **common)
    np.testing.assert_allclose(y_back, y[:, [1, 0, 2]] * (1, 1, -1))
    cost = np.column_stack([np.abs(y[:, 0] - y[:, 1]), 2 * np.abs(y[:, 2])])
    sampling = 0.25
    for dose in args.dose:
        electrons = dose * sampling**2  # per pixel of unit beam fraction
        chi2 = ((front - back) ** 2 / front).sum(1) * electrons
        rng = np.random.default_rng(0)

        def log_ratio(x):
            return (x * electrons * np.log(front / back) - (front - back) * electrons).sum(1)

        shot = rng.poisson(front * electrons) / electrons
        # The data set's own noisy patches (scan noise, then shot noise), which the oracle does not model.
        recorded, *_ = make_perovskite_abf(args.n_images, mid_plane_mirror=False, dose=dose,
                                           scan_jitter=args.scan_noise, **common)
        print(f"{dose:g} e/A^2: pair chi^2 median {np.median(chi2):.1f} (quartiles "
              f"{np.percentile(chi2, 25):.1f}-{np.percentile(chi2, 75):.1f})", flush=True)
        cases = [("shot noise", shot, log_ratio), (f"+ {args.scan_noise:g} px scan noise", recorded, log_ratio),
                 ("+ scan noise, integrated", recorded,
                  lambda x: scan_aware_log_ratio(x, front, back, electrons, args.scan_noise)),
                 ("+ scan noise, rows aligned", recorded,
                  lambda x: aligned_log_ratio(x, front, back, electrons, args.scan_noise))]
        for label, x, statistic in cases:
            wrong = statistic(x) < 0
            mae = (wrong[:, None] * cost).mean(0)
            print(f"  {label:26s} decided right {1 - wrong.mean():.3f}; MAE from wrong decisions: "
                  f"alpha/beta {mae[0]:.2f}, gamma {mae[1]:.2f} deg", flush=True)


def aligned_log_ratio(x, front, back, electrons, scan_noise, edge=2):
    """Poisson log-likelihood ratio at the row offsets that ``TiltRegressor(scan_correction=True)`` finds.

    The offsets come from its ``ScanRowAligner``, with the appearance model
    (mean and 20 principal components) of the noise-free patches ``front``;
    the oracle's two templates are shifted by them, row by row.
    """
    size = int(np.sqrt(x.shape[1]))
    aligner = ScanRowAligner(*appearance_model(front, (size, size)), jitter=scan_noise).double()
    patches = torch.as_tensor(x, dtype=torch.float64).reshape(-1, size, size)
    with torch.no_grad():
        offsets = aligner.estimate(patches / patches.mean((1, 2), keepdim=True))

    def expected(clean):
        rows = torch.as_tensor(clean, dtype=torch.float64).reshape(-1, size, size)
        return (shift_rows(rows, offsets).numpy()[..., edge:-edge] * electrons).clip(1e-12)

    counts = x.reshape(-1, size, size)[..., edge:-edge] * electrons
    mean_front, mean_back = expected(front), expected(back)
    return (counts * np.log(mean_front / mean_back) - (mean_front - mean_back)).sum((1, 2))


def scan_aware_log_ratio(x, front, back, electrons, scan_noise, n_shifts=25, edge=2):
    """Poisson log-likelihood ratio with each row's unknown x shift integrated out.

    The rows of a recorded patch are shifted independently (Gaussian, RMS
    ``scan_noise`` pixels, linear interpolation) before the shot noise; the
    likelihood of each row is averaged over a grid of shifts. ``edge``
    columns on each side are left out (the patches hold no margin to shift).
    """
    size = int(np.sqrt(x.shape[1]))
    shifts = np.linspace(-4 * scan_noise, 4 * scan_noise, n_shifts)
    log_prior = -0.5 * (shifts / scan_noise) ** 2
    log_prior -= np.logaddexp.reduce(log_prior)
    counts = x.reshape(-1, size, size)[..., edge:-edge] * electrons
    columns = np.arange(size, dtype=np.float64)

    def log_likelihood(clean):
        rows = clean.reshape(-1, size, size)
        total = np.zeros(len(rows))
        for start in range(0, len(rows), 256):
            block = rows[start : start + 256]
            per_shift = []
            for s in shifts:
                # ndimage.shift(row, s, order=1): value at column c comes from c - s.
                source = np.clip(columns - s, 0, size - 1)
                low = np.floor(source).astype(int)
                high = np.minimum(low + 1, size - 1)
                frac = source - low
                mean = (block[..., low] * (1 - frac) + block[..., high] * frac)[..., edge:-edge] * electrons
                per_shift.append((counts[start : start + 256] * np.log(mean) - mean).sum(-1))
            per_shift = np.stack(per_shift, -1) + log_prior  # (patches, rows, shifts)
            total[start : start + 256] = np.logaddexp.reduce(per_shift, -1).sum(-1)
        return total

    return log_likelihood(front) - log_likelihood(back)


if __name__ == "__main__":
    main()
