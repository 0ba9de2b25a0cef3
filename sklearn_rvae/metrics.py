"""Metrics for rotation-aware models."""

import numbers
import warnings

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


def angle_residuals_by_class(angle_pred, angle_true, labels, period=360.0):
    """Angle errors after removing each class's own offset.

    A model that learns one upright template per class may hold each
    template at its own orientation, so the predicted angle of a class is the
    true angle plus a constant offset (modulo ``period``). The offset is the
    circular median of ``angle_pred - angle_true`` over the class (the angle
    that minimises the mean absolute wrapped difference, searched on a
    0.1-degree grid and refined to 0.001 degree); the residual is the wrapped
    difference that is left.

    Parameters
    ----------
    angle_pred, angle_true : array-like of shape (n_samples,)
        Predicted and true angles, in degrees, in the same sense.
    labels : array-like of shape (n_samples,)
        Class of each sample (true classes, or cluster labels).
    period : float, default=360.0
        Period of the angle, degrees (``360 / n`` for n-fold symmetric
        objects).

    Returns
    -------
    residuals : ndarray of shape (n_samples,)
        Signed residual of every sample, degrees in ``[-period / 2, period / 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae.metrics import angle_residuals_by_class
    >>> true = np.array([10.0, 100.0, -170.0])
    >>> angle_residuals_by_class(true + 30.0 + np.array([1.0, 0.0, -1.0]), true, [0, 0, 0]).round(3)
    array([ 1.,  0., -1.])
    """
    pred = np.asarray(angle_pred, dtype=np.float64).ravel()
    true = np.asarray(angle_true, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if not (pred.shape == true.shape == labels.shape) or pred.size == 0:
        raise ValueError(
            "angle_pred, angle_true and labels must have the same non-zero length, got "
            f"{pred.size}, {true.size} and {labels.size}."
        )
    if not (np.isfinite(pred).all() and np.isfinite(true).all()):
        raise ValueError("angle_pred and angle_true must be finite.")
    if not (isinstance(period, numbers.Real) and period > 0):
        raise ValueError(f"period must be a positive number of degrees, got {period!r}.")

    def wrap(d):
        return (d + period / 2) % period - period / 2

    residuals = np.empty_like(pred)
    for label in np.unique(labels):
        mask = labels == label
        diff = wrap(pred[mask] - true[mask])
        grid = np.linspace(-period / 2, period / 2, int(round(period * 10)), endpoint=False)
        best = grid[np.argmin(np.abs(wrap(diff[None, :] - grid[:, None])).mean(axis=1))]
        fine = best + np.linspace(-0.1, 0.1, 201)
        best = fine[np.argmin(np.abs(wrap(diff[None, :] - fine[:, None])).mean(axis=1))]
        residuals[mask] = wrap(diff - best)
    return residuals


def angle_error_by_class(angle_pred, angle_true, labels, period=360.0):
    """Median angle error of each class after removing the class's own offset.

    The median of the absolute residuals of :func:`angle_residuals_by_class`
    within each class. A median ignores up to half of a class: read it with
    the share of residuals within a tolerance when some images may be matched
    to a turned template.

    Parameters
    ----------
    angle_pred, angle_true : array-like of shape (n_samples,)
        Predicted and true angles, in degrees, in the same sense.
    labels : array-like of shape (n_samples,)
        Class of each sample.
    period : float, default=360.0
        Period of the angle, degrees.

    Returns
    -------
    errors : dict
        ``{label: median absolute error in degrees}``, one entry per class.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae.metrics import angle_error_by_class
    >>> true = np.array([10.0, 100.0, -170.0, 40.0, 80.0, 120.0])
    >>> pred = true + np.array([30.0, 30.0, 30.0, -90.0, -90.0, -90.0]) + [1, -1, 0, 2, 0, -2]
    >>> {k: round(v, 3) for k, v in angle_error_by_class(pred, true, [0, 0, 0, 1, 1, 1]).items()}
    {0: 1.0, 1: 2.0}
    """
    residuals = np.abs(angle_residuals_by_class(angle_pred, angle_true, labels, period))
    labels = np.asarray(labels).ravel()
    return {
        (label.item() if hasattr(label, "item") else label): float(np.median(residuals[labels == label]))
        for label in np.unique(labels)
    }


def symmetry_equivalence_spread(codes, orbit):
    """Spread of codes within symmetry orbits relative to their spread overall.

    For groups of samples that are symmetry-equivalent (for example scan
    positions related by the point-group rotation of the lattice about an
    atom column), the mean within-group variance of their codes divided by
    the variance of all the codes, summed over code dimensions. 0: every
    group shares one code; about 1: the codes ignore the symmetry.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_components)
    orbit : array-like of shape (n_samples,)
        Group label of each sample; every group needs at least 2 members.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> orbit = np.repeat(np.arange(4), 3)
    >>> symmetry_equivalence_spread(np.repeat(np.arange(4.0), 3)[:, None], orbit)
    0.0
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim == 1:
        codes = codes[:, None]
    orbit = np.asarray(orbit)
    if codes.ndim != 2 or len(codes) != len(orbit):
        raise ValueError(f"codes must be (n_samples, n_components) matching orbit of length {len(orbit)}, got {codes.shape}.")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes contain NaN or infinity.")
    labels, counts = np.unique(orbit, return_counts=True)
    if len(labels) < 2 or np.any(counts < 2):
        raise ValueError("orbit needs at least 2 groups of at least 2 samples each.")
    total = codes.var(0).sum()
    if total == 0:
        return 0.0
    within = np.mean([codes[orbit == k].var(0).sum() for k in labels])
    return float(within / total)


def orbit_angle_error(angle_deg, orbit, rotation_deg):
    """How far predicted rotations within orbits are from the symmetry rotations.

    For every pair of members of an orbit, the difference of the predicted
    angles is compared with the difference of their known rotations (modulo
    360 degrees), for both senses of rotation; the sense that fits best is
    kept (image and probe rotations may run in opposite senses).

    Returns
    -------
    mean_abs_error_deg : float
    sense : +1 or -1
    """
    angle = np.asarray(angle_deg, dtype=np.float64)
    orbit = np.asarray(orbit)
    rotation = np.asarray(rotation_deg, dtype=np.float64)
    errors = {1: [], -1: []}
    for k in np.unique(orbit):
        idx = np.flatnonzero(orbit == k)
        for i in range(len(idx)):
            for j in range(i + 1, len(idx)):
                da = angle[idx[j]] - angle[idx[i]]
                dr = rotation[idx[j]] - rotation[idx[i]]
                for sense in (1, -1):
                    errors[sense].append(abs((da - sense * dr + 180.0) % 360.0 - 180.0))
    best = min(errors, key=lambda s: np.mean(errors[s]))
    return float(np.mean(errors[best])), best


def mahalanobis_outlier_score(codes, robust=True, random_state=0):
    """Mahalanobis distance of every code from the bulk of the codes.

    The bulk is estimated from the codes themselves (Minimum Covariance
    Determinant when ``robust``, which ignores the minority of outliers a
    defect produces), so no labels are needed.
    """
    from sklearn.covariance import MinCovDet

    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim == 1:
        codes = codes[:, None]
    if robust:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "not full rank": handled below
                model = MinCovDet(random_state=random_state).fit(codes)
            return np.sqrt(model.mahalanobis(codes))
        except ValueError:
            # The bulk's codes are (nearly) identical, so its covariance is
            # singular; fall back to all codes with a small ridge.
            pass
    center = codes.mean(0)
    cov = np.atleast_2d(np.cov(codes, rowvar=False))
    cov = cov + np.eye(len(cov)) * max(1e-12, 1e-9 * np.trace(cov))
    diff = codes - center
    return np.sqrt(np.einsum("ij,jk,ik->i", diff, np.linalg.inv(cov), diff))


def knn_outlier_score(codes, n_neighbors=5):
    """Mean distance of every code to its nearest neighbours among the others.

    A distance from the bulk that needs no Gaussian shape: the codes of a
    periodic lattice fill a curved, many-times-visited set, and a defect's
    codes can sit inside its Gaussian ellipse yet away from every bulk code.
    Each dimension is first scaled to unit standard deviation.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_components)
    n_neighbors : int, default=5

    Returns
    -------
    ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> codes = np.r_[np.zeros((20, 2)) + np.arange(20)[:, None] * 0.01, [[5.0, 5.0]]]
    >>> int(np.argmax(knn_outlier_score(codes, n_neighbors=3)))
    20
    """
    from sklearn.neighbors import NearestNeighbors

    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim == 1:
        codes = codes[:, None]
    if not (isinstance(n_neighbors, numbers.Integral) and 1 <= n_neighbors < len(codes)):
        raise ValueError(f"n_neighbors must be an integer in [1, n_samples - 1 = {len(codes) - 1}], got {n_neighbors!r}.")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes contain NaN or infinity.")
    scale = codes.std(0)
    scaled = (codes - codes.mean(0)) / np.where(scale > 0, scale, 1.0)
    distances, _ = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(scaled).kneighbors(scaled)
    return distances[:, 1:].mean(1)  # column 0 is the code itself


def lattice_site_mahalanobis_score(codes, positions, lattice, n_neighbors=8, covariance="site", robust=True,
                                   random_state=0):
    """Mahalanobis distance of every code from the bulk codes at the same lattice site.

    The bulk of a periodic crystal is not one Gaussian cloud: a probe on an
    atom column and one over a hollow give different patterns, so the bulk's
    codes spread over a curved set and a defect's codes can fall inside it
    (a plain Mahalanobis distance then ranks them as ordinary). Here the
    reference distribution is conditioned on where the probe sits in the
    unit cell: every position is translated into one cell of ``lattice``,
    and its code is compared with the median code of the ``n_neighbors``
    other positions that land nearest to it there, i.e. the same site in
    other unit cells. A point defect occupies a few of a site's copies only,
    so it does not move the medians. No labels are needed, only the
    lattice, which a microscopist reads from the image or knows from the
    crystal.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_components)
    positions : array-like of shape (n_samples, 2)
        Probe positions (x, y), Angstrom.
    lattice : array-like of shape (2, 2)
        Rows are two in-plane lattice vectors (Angstrom) that the pristine
        crystal repeats by; a supercell of the primitive cell works too.
    n_neighbors : int, default=8
        Copies of the site that make its median; the scan must cover more
        unit cells than this.
    covariance : {"site", "pooled"}, default="site"
        ``"pooled"``: one covariance of all the residuals (robust with
        ``robust``). ``"site"``: each site's own covariance, from the
        residuals of its ``3 * n_neighbors`` nearest copies (the quarter
        furthest out dropped, so a defect's copies do not inflate it),
        shrunk by 0.3 towards the pooled one to steady a small-sample
        estimate. The bulk's spread differs between sites (a model's codes
        can be noisier where the pattern is nearly symmetric and its
        orientation ill-defined), and a pooled covariance lets the noisiest
        sites outrank a defect elsewhere.
    robust : bool, default=True
        Minimum Covariance Determinant for the pooled covariance.
    random_state : int, default=0
        Seeds MinCovDet.

    Returns
    -------
    ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(0, 10, 0.5)
    >>> positions = np.stack(np.meshgrid(x, x), -1).reshape(-1, 2)
    >>> codes = np.cos(np.pi * positions)  # periodic with a 2 Angstrom lattice
    >>> codes[0] += 0.2                    # a small defect inside the bulk's range
    >>> score = lattice_site_mahalanobis_score(codes, positions, 2 * np.eye(2), n_neighbors=4,
    ...                                        covariance="pooled")
    >>> int(np.argmax(score))
    0
    """
    from sklearn.neighbors import NearestNeighbors

    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim == 1:
        codes = codes[:, None]
    positions = np.asarray(positions, dtype=np.float64)
    if codes.ndim != 2 or positions.shape != (len(codes), 2):
        raise ValueError(f"positions must be (n_samples, 2) matching codes of shape {codes.shape}, "
                         f"got {positions.shape}.")
    lattice = np.asarray(lattice, dtype=np.float64)
    if lattice.shape != (2, 2) or abs(np.linalg.det(lattice)) < 1e-12:
        raise ValueError(f"lattice must be a (2, 2) array of two independent lattice vectors, got {lattice.tolist()!r}.")
    if covariance not in ("site", "pooled"):
        raise ValueError(f"covariance must be 'site' or 'pooled', got {covariance!r}.")
    n = len(codes)
    n_copies = 3 * n_neighbors if covariance == "site" else n_neighbors
    if not (isinstance(n_neighbors, numbers.Integral) and 1 <= n_neighbors and n_copies < n):
        raise ValueError(f"n_neighbors must be an integer >= 1 with {'3 * ' if covariance == 'site' else ''}"
                         f"n_neighbors < n_samples = {n}, got {n_neighbors!r}.")
    if not (np.all(np.isfinite(codes)) and np.all(np.isfinite(positions))):
        raise ValueError("codes and positions must not contain NaN or infinity.")
    reduced = ((positions @ np.linalg.inv(lattice)) % 1.0) @ lattice
    # Neighbours across the cell's edges: search the 3 x 3 periodic images.
    shifts = np.array([[i, j] for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=np.float64) @ lattice
    tiled = (reduced[None] + shifts[:, None]).reshape(-1, 2)
    _, index = NearestNeighbors(n_neighbors=n_copies + 1).fit(tiled).kneighbors(reduced)
    # Drop the position itself (centre image, index 4); with exact ties it need not come first.
    keep = index != (4 * n + np.arange(n))[:, None]
    keep[keep.all(1), -1] = False
    copies = index[keep].reshape(n, n_copies) % n
    residual = codes - np.median(codes[copies[:, :n_neighbors]], axis=1)
    pooled = None
    if robust:
        from sklearn.covariance import MinCovDet

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                pooled = MinCovDet(assume_centered=True, random_state=random_state).fit(residual).covariance_
        except ValueError:
            pass  # singular covariance: fall back to the plain one
    if pooled is None:
        pooled = np.atleast_2d(residual.T @ residual / n)
    ridge = np.eye(len(pooled)) * max(1e-12, 1e-9 * np.trace(pooled))
    if covariance == "pooled":
        return np.sqrt(np.einsum("ij,jk,ik->i", residual, np.linalg.inv(pooled + ridge), residual))
    near = residual[copies]  # (n, n_copies, d)
    order = np.argsort((near**2).sum(2), axis=1)[:, : max(1, (3 * n_copies) // 4)]
    near = np.take_along_axis(near, order[..., None], axis=1)
    local = np.einsum("nkd,nke->nde", near, near) / near.shape[1]
    cov = 0.7 * local + 0.3 * pooled + ridge
    return np.sqrt(np.einsum("nd,nd->n", residual, np.linalg.solve(cov, residual[..., None])[..., 0]))


def defect_detection_auc(scores, distance, radius=2.0):
    """ROC AUC of ``scores`` for telling positions within ``radius`` of a defect from the rest."""
    from sklearn.metrics import roc_auc_score

    near = np.asarray(distance).ravel() <= radius
    if near.all() or not near.any():
        raise ValueError(f"distance must put some positions within radius={radius} and some outside it.")
    return float(roc_auc_score(near, np.asarray(scores, dtype=np.float64).ravel()))
