"""Metrics for rotation-aware models."""

import numpy as np


def circular_correlation(angle_a, angle_b, degrees=True):
    """Circular correlation coefficient of two sets of angles.

    Jammalamadaka and SenGupta's coefficient,
    ``sum(sin(a - mean_a) sin(b - mean_b)) / sqrt(sum sin^2(a - mean_a) sum sin^2(b - mean_b))``
    with circular means: 1 for angles that agree up to a constant offset, -1
    for opposite senses of rotation, about 0 for unrelated angles.

    Parameters
    ----------
    angle_a, angle_b : array-like of shape (n_samples,)
        Angles, in degrees (or radians with ``degrees=False``).
    degrees : bool, default=True
        Unit of the angles.

    Returns
    -------
    r : float
        Correlation coefficient in [-1, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae.metrics import circular_correlation
    >>> a = np.linspace(-60, 60, 50)
    >>> round(circular_correlation(a, a + 30), 6)
    1.0
    """
    a = np.asarray(angle_a, dtype=np.float64).ravel()
    b = np.asarray(angle_b, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(
            f"angle_a and angle_b must have the same length of at least 2, got {a.size} and {b.size}."
        )
    if degrees:
        a, b = np.deg2rad(a), np.deg2rad(b)
    sa = np.sin(a - np.angle(np.exp(1j * a).mean()))
    sb = np.sin(b - np.angle(np.exp(1j * b).mean()))
    return float((sa * sb).sum() / np.sqrt((sa**2).sum() * (sb**2).sum()))
