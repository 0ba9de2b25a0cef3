"""Checks that belong to the simulators alone.

The generic checks (``Interval`` without bools, ``check_int_tuple``,
``check_real_tuple``, ``check_annulus``, ``check_scalar``, ...) are the
library's, in :mod:`sklearn_rvae._utils`; only the limit of numpy's Poisson
sampler, which bounds the simulated dose, lives here.
"""

# numpy's Poisson sampler refuses means above about 9.2e18; stay well below.
MAX_POISSON_MEAN = 1e18


def check_poisson_mean(mean, name):
    """The largest expected count the noise is drawn for must be one numpy can sample."""
    if mean > MAX_POISSON_MEAN:
        raise ValueError(f"{name} is too large: it asks for Poisson counts with a mean of {mean:.3g}, "
                         f"above the {MAX_POISSON_MEAN:.0e} numpy can draw.")
