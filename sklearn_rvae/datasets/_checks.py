"""Checks of the simulators' composite arguments (tuples, arrays), in the words of scikit-learn's.

Scalars are checked by ``validate_params`` on each simulator; these cover
what its constraints cannot say, such as "two finite numbers".
"""

import math
import numbers

import numpy as np
from sklearn.utils._param_validation import Interval as _SklearnInterval

# numpy's Poisson sampler refuses means above about 9.2e18; stay well below.
MAX_POISSON_MEAN = 1e18


class Interval(_SklearnInterval):
    """scikit-learn's ``Interval`` constraint, except that a bool is not a number (``energy=True`` is a mistake)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _as_tuple(value):
    """A tuple of the items of a list, tuple or 1-D array; None for anything else."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return tuple(value.tolist())
    return None


def check_int_tuple(value, name, length, minimum=1):
    """``length`` integers >= ``minimum`` (a tuple, list or array), as a tuple of ints."""
    items = _as_tuple(value)
    if items is None or len(items) != length or not all(_is_int(v) and v >= minimum for v in items):
        raise ValueError(f"{name} must be {length} integers >= {minimum}, got {value!r}.")
    return tuple(int(v) for v in items)


def check_real_tuple(value, name, length, *, minimum=None, positive=False, expected=None):
    """``length`` finite real numbers (>= ``minimum`` or > 0 if asked), as a tuple of floats."""
    items = _as_tuple(value)
    ok = items is not None and len(items) == length and all(_is_real(v) and math.isfinite(v) for v in items)
    if ok:
        items = tuple(float(v) for v in items)
        ok = (minimum is None or min(items) >= minimum) and (not positive or min(items) > 0)
    if not ok:
        if expected is None:
            bound = f" >= {minimum}" if minimum is not None else " > 0" if positive else ""
            expected = f"{length} finite numbers{bound}"
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return items


def check_radius(radius, name="radius"):
    """``(inner, outer)`` finite radii with ``0 <= inner <= outer``."""
    inner, outer = check_real_tuple(radius, name, 2, minimum=0.0,
                                    expected="(inner, outer) finite radii in Angstrom with 0 <= inner <= outer")
    if inner > outer:
        raise ValueError(f"{name} must be (inner, outer) finite radii in Angstrom with 0 <= inner <= outer, "
                         f"got {radius!r}.")
    return inner, outer


def check_poisson_mean(mean, name):
    """The largest expected count the noise is drawn for must be one numpy can sample."""
    if mean > MAX_POISSON_MEAN:
        raise ValueError(f"{name} is too large: it asks for Poisson counts with a mean of {mean:.3g}, "
                         f"above the {MAX_POISSON_MEAN:.0e} numpy can draw.")
