"""Can a rotation explain a symmetry orbit? Rotating graphene diffraction patterns on a coarse detector.

For each orbit of make_graphene_orbits (positions related by 120 degrees
about a C column: their patterns are the same pattern rotated), turn the
first member's pattern by -120 and +120 degrees (cubic spline,
scipy.ndimage.rotate about the detector centre) and compare it with the
second member's:

    ratio = |rotate(a) - b| / |b - a|

below 1: the rotation explains the orbit; about 1 or above: resampling the
pattern changes it as much as the orbit does, so no rotation model can see
the symmetry. Median over the orbits, for several preprocessings (the same
DiffractionPreprocessor steps the benchmark uses; the mean pattern is that of
the whole supercell scan plus the orbits).

Usage (needs the cached simulations of bench_symmetry_graphene.py)::

    PYTHONPATH=. .venv/bin/python benchmarks/graphene_rotation_aliasing.py
"""

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage

from sklearn_rvae import DiffractionPreprocessor
from sklearn_rvae.datasets import make_graphene_4dstem, make_graphene_orbits

ROOT = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "sim_cache")
    args = parser.parse_args()
    scan = make_graphene_4dstem(repeats=(8, 4), defect="vacancy", scan_step=0.25, cache_dir=args.cache)
    orbits = make_graphene_orbits(repeats=(8, 4), n_orbits=40, cache_dir=args.cache)
    grid = scan.data.reshape(-1, np.prod(scan.data.shape[2:])).astype(np.float64)
    patterns = orbits.data.reshape(len(orbits.data), -1).astype(np.float64)
    shape = orbits.data.shape[1:]
    both = np.concatenate([grid, patterns])
    variants = {
        "linear": dict(scaling="none"),
        "log": dict(scaling="log"),
        "linear, blur 0.7": dict(scaling="none", blur=0.7),
        "linear, blur 1.5": dict(scaling="none", blur=1.5),
        "linear, blur 3.0": dict(scaling="none", blur=3.0),
        "log, blur 1.5": dict(scaling="log", blur=1.5),
        "linear, blur 1.5, minus mean": dict(scaling="none", blur=1.5, subtract_mean=True),
        "linear, minus mean": dict(scaling="none", subtract_mean=True),
    }
    print(f"{len(np.unique(orbits.orbit))} orbits, patterns {shape[0]}x{shape[1]}; median |rotate(a) - b| / |b - a|")
    print(f"{'preprocessing':30s} {'-120 deg':>9s} {'+120 deg':>9s}")
    for name, params in variants.items():
        pre = DiffractionPreprocessor(center="none", normalize="none", **params).fit(both)
        P = pre.transform(patterns).reshape(-1, *shape)
        ratios = {-120: [], 120: []}
        for k in np.unique(orbits.orbit):
            a, b = P[orbits.orbit == k][:2]
            for angle in ratios:
                turned = ndimage.rotate(a, angle, reshape=False, order=3, mode="nearest")
                ratios[angle].append(np.linalg.norm(turned - b) / np.linalg.norm(b - a))
        print(f"{name:30s} {np.median(ratios[-120]):9.3f} {np.median(ratios[120]):9.3f}")


if __name__ == "__main__":
    main()
