"""How much a simulated SrTiO3 [110] ABF patch can tell about the tilts: Cramer-Rao bound and the mirror pair.

Two numbers set what any regressor can reach at a given dose, before
any learning:

* the Cramer-Rao bound: with Poisson noise (variance = expected counts)
  and a known column position, the smallest standard deviation of an
  unbiased estimate of each angle from one 32 x 32 patch, from the
  finite-difference Jacobian of the noise-free image;
* the [110] projection is almost blind to the mirror through the
  specimen mid-plane, which maps the tilts (alpha, beta, gamma) onto
  (beta, alpha, -gamma): only dynamical scattering (entrance and exit
  surfaces differ) tells the two apart. ``chi2`` is the summed squared
  difference of the two noise-free images in units of the noise
  variance; two images are told apart reliably only when it is well
  above 1.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/abf_information.py
"""

import numpy as np

from sklearn_rvae.datasets import orient_110, perovskite_supercell, postprocess_abf, simulate_abf

SAMPLING = 0.25


def image(tilts, **settings):
    atoms = orient_110(perovskite_supercell("SrTiO3", tilts, "a-b-c-", repeats=(2, 2, 2)))
    return postprocess_abf(simulate_abf(atoms, x_repeats=2, pixel_size=SAMPLING, **settings), pixel_size=SAMPLING,
                           source_size=0.3)


def main():
    tilts = np.array([5.0, -3.0, 4.0])
    mirror = np.array([tilts[1], tilts[0], -tilts[2]])
    doses = (2e4, 1e5, 5e5)
    for settings in ({}, {"thickness_periods": 12}, {"defocus": 40.0}):
        base = image(tilts, **settings)
        per_patch = 32 * 32 / base.size  # Fisher information scales with the area
        jac = []
        for k in range(3):
            step = np.zeros(3)
            step[k] = 0.5
            jac.append(((image(tilts + step, **settings) - image(tilts - step, **settings)) / 1.0).ravel())
        jac = np.array(jac)
        other = image(mirror, **settings)
        label = ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults (44 A, focus at entrance)"
        print(f"\n{label}; tilts {tilts.tolist()} vs mirror {mirror.tolist()}")
        for dose in doses:
            variance = base.ravel() / (dose * SAMPLING**2)
            fisher = (jac / variance) @ jac.T * per_patch
            bound = np.sqrt(np.diag(np.linalg.inv(fisher)))
            chi2 = float(((base - other).ravel() ** 2 / variance).sum() * per_patch)
            print(f"  dose {dose:8.0e} e/A^2: CRB (deg) a/b/g {'/'.join(f'{b:.2f}' for b in bound)}; "
                  f"mirror pair chi2 {chi2:.1f}")


if __name__ == "__main__":
    main()
