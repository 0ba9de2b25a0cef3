"""The pose read out of the latent: the angle in degrees, the shift in pixels, the mass of each rotation bin.

The networks carry the angle in their own units: a multiple of the normal
prior's width (radians) for ``RotationInvariantVAEModule``, radians for the
circular one. Here it becomes what the estimator reports (conventions.md):
degrees counter-clockwise on screen, in ``[-180 / n, 180 / n)`` for an
n-fold ``symmetry``, and a shift ``(dx, dy)`` in pixels.
"""

import numpy as np
from scipy.special import ndtr

from ._module import CircularRotationVAEModule


def wrap_degrees(angle, symmetry):
    """``angle`` (degrees) into ``[-180 / symmetry, 180 / symmetry)``."""
    period = 360.0 / symmetry
    return (angle + period / 2) % period - period / 2


def rotation_bin_centers(symmetry, n_bins):
    """Centres of ``n_bins`` equal bins over ``360 / symmetry`` degrees, wrapped; the first at 0."""
    return wrap_degrees(np.arange(n_bins) * (360.0 / symmetry) / n_bins, symmetry)


def pose_from_latent(module, latent, symmetry):
    """``(angle, shift)`` of the posterior means ``latent`` (rows ``[angle, (dx, dy), ...]``); shift None without one."""
    scale = 1.0 if isinstance(module, CircularRotationVAEModule) else module.rotation_prior
    angle = wrap_degrees(np.rad2deg(latent[:, 0] * scale), symmetry)
    shift = latent[:, 1:3] * module.translation_prior if module.translation else None
    return angle, shift


def normal_bin_mass(mu, sigma, symmetry, n_bins):
    """Mass of N(mu, sigma^2) (radians), wrapped with the symmetry's period, in each of ``n_bins`` bins."""
    period = 2 * np.pi / symmetry
    width = period / n_bins
    lo = np.arange(n_bins) * width - width / 2
    mu = (mu + width / 2) % period - width / 2  # into [lo[0], lo[0] + period)
    n_wrap = int(np.ceil(6 * np.max(sigma, initial=0.0) / period)) + 1
    mass = np.zeros((len(mu), n_bins))
    for m in range(-n_wrap, n_wrap + 1):
        a = (lo[None, :] + m * period - mu[:, None]) / sigma[:, None]
        mass += ndtr(a + width / sigma[:, None]) - ndtr(a)
    return mass / mass.sum(1, keepdims=True)


def pose_columns(module, mean, log_var, n_components, symmetry, n_bins, return_posterior):
    """``[angle, (dx, dy), mass of each bin]`` per row, from the posterior means and log-variances.

    The circular module's posterior is a mixture over its bins, whose weights
    follow the codes in ``mean``; for a normal prior, the bins hold the mass of
    the posterior normal, wrapped on the circle.
    """
    angle, shift = pose_from_latent(module, mean, symmetry)
    columns = [angle[:, None]] + ([] if shift is None else [shift])
    if return_posterior:
        if isinstance(module, CircularRotationVAEModule):
            columns.append(mean[:, module.n_pose + n_components :])
        else:
            columns.append(normal_bin_mass(mean[:, 0] * module.rotation_prior,
                                           np.exp(0.5 * log_var[:, 0]) * module.rotation_prior, symmetry, n_bins))
    return np.concatenate(columns, axis=1)
