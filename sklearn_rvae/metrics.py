"""Metrics for rotation-aware models.

Every argument is checked where it enters and an error names it: NaN or
infinite values, mismatched lengths, empty input, text or complex numbers
where real numbers are expected. A metric that is undefined for the input
(a correlation of constant angles, a spread ratio of identical codes)
raises a ValueError that says so, rather than returning NaN or a number
made of rounding errors.
"""

import numbers
import warnings

import numpy as np

from ._utils import check_all_finite, check_bool, check_scalar, local_random_state, real_array, scale_of


def _finite_vector(value, name):
    """A finite real 1-D array: one value per sample.

    A column or a row (n, 1) / (1, n) is taken as its n values; any other
    shape is an error, never flattened (an (n, 2) array of angles flattened
    would be scored as 2n samples and give a number that means nothing).
    """
    array = real_array(value, name)
    if sum(size > 1 for size in array.shape) > 1:
        raise ValueError(f"{name} must be 1-D, one value per sample, got an array of shape {array.shape}.")
    array = array.reshape(-1)
    check_all_finite(array, name)
    return array


def _codes(codes, name="codes", min_samples=1):
    """Finite real codes of shape (n_samples, n_components); 1-D is one component; extreme scales divided out."""
    codes = real_array(codes, name)
    if codes.ndim == 1:
        codes = codes[:, None]
    if codes.ndim != 2 or codes.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n_samples, n_components), got {codes.shape}.")
    if len(codes) < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples, got {len(codes)}.")
    check_all_finite(codes, name)
    # Every metric of codes here is scale-free; variances of 1e200 (or 1e-200) are not representable.
    return codes / scale_of(codes)


def _labels(labels, name, n=None):
    """Group labels, 1-D (of length ``n`` if given), comparable and without NaN."""
    try:
        labels = np.asarray(labels)
    except ValueError:
        raise ValueError(f"{name} must be a sequence of labels, got a ragged sequence.") from None
    if sum(size > 1 for size in labels.shape) > 1:
        raise ValueError(f"{name} must be 1-D, one label per sample, got an array of shape {labels.shape}.")
    labels = labels.reshape(-1)
    if n is not None and len(labels) != n:
        raise ValueError(f"{name} must have one label per sample ({n}), got {len(labels)}.")
    # NaN labels never equal themselves: each would be a group of its own.
    if labels.dtype.kind in "fc" and np.isnan(labels).any():
        raise ValueError(f"{name} contains NaN; give every sample a label.")
    try:
        np.unique(labels)
    except TypeError:
        raise TypeError(f"{name} must be labels of one kind (all numbers or all strings), "
                        f"got {labels[:3].tolist()!r}...") from None
    return labels


def _check_n_neighbors(n_neighbors, upper, detail):
    if not (isinstance(n_neighbors, numbers.Integral) and not isinstance(n_neighbors, (bool, np.bool_))
            and 1 <= n_neighbors and upper(n_neighbors)):
        raise ValueError(f"n_neighbors must be an integer >= 1 with {detail}, got {n_neighbors!r}.")
    return int(n_neighbors)


def _random_state(random_state):
    # Checked here, so that a bad seed is named; None draws from the OS, never from np.random's global state.
    try:
        return local_random_state(random_state)
    except ValueError:
        raise ValueError(f"random_state must be None, an int or a numpy RandomState, got {random_state!r}.") from None


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

    Raises
    ------
    ValueError
        Where the coefficient is undefined: when the angles of either set
        have no spread about their circular mean (all equal, or equal up to
        180 degrees), and when a set's circular mean is undefined (angles
        spread evenly around the circle, mean resultant length ~ 0).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae.metrics import circular_correlation
    >>> a = np.linspace(-60, 60, 50)
    >>> round(circular_correlation(a, a + 30), 6)
    1.0
    """
    a = _finite_vector(angle_a, "angle_a")
    b = _finite_vector(angle_b, "angle_b")
    if a.shape != b.shape or a.size < 2:
        raise ValueError(
            f"angle_a and angle_b must have the same length of at least 2, got {a.size} and {b.size}."
        )
    if check_bool(degrees, "degrees"):
        a, b = np.deg2rad(a), np.deg2rad(b)
    spread = []
    for name, angle in (("angle_a", a), ("angle_b", b)):
        resultant = np.exp(1j * angle).mean()
        if abs(resultant) < 1e-12:
            raise ValueError(
                f"the circular correlation is undefined: the circular mean of {name} is undefined "
                f"(its angles are spread evenly around the circle, mean resultant length {abs(resultant):.1e})."
            )
        sin = np.sin(angle - np.angle(resultant))
        # Sines of rounding-error size are no spread: a constant input gives ~1e-16, not 0.
        if np.sum(sin**2) <= angle.size * (64 * np.finfo(np.float64).eps) ** 2:
            raise ValueError(
                f"the circular correlation is undefined for constant input: {name} has no spread about "
                "its circular mean (all its angles are equal, or equal up to 180 degrees)."
            )
        spread.append(sin)
    sa, sb = spread
    r = (sa * sb).sum() / np.sqrt((sa**2).sum() * (sb**2).sum())
    return float(np.clip(r, -1.0, 1.0))


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
        Period of the angle, degrees, in (0, 360] (``360 / n`` for n-fold
        symmetric objects).

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
    pred = _finite_vector(angle_pred, "angle_pred")
    true = _finite_vector(angle_true, "angle_true")
    labels = _labels(labels, "labels")
    if not (pred.shape == true.shape == labels.shape) or pred.size == 0:
        raise ValueError(
            "angle_pred, angle_true and labels must have the same non-zero length, got "
            f"{pred.size}, {true.size} and {labels.size}."
        )
    period = check_scalar(period, "period", expected="a period in degrees in (0, 360]")
    # The search grid has 10 points per degree: a period past a full turn means nothing and costs memory.
    if not 0 < period <= 360:
        raise ValueError(f"period must be a period in degrees in (0, 360], got {period!r}.")

    def wrap(d):
        return (d + period / 2) % period - period / 2

    residuals = np.empty_like(pred)
    for label in np.unique(labels):
        mask = labels == label
        diff = wrap(pred[mask] - true[mask])
        # At least 36 grid points, so that a period under a tenth of a degree still has a grid.
        grid = np.linspace(-period / 2, period / 2, max(int(round(period * 10)), 36), endpoint=False)
        best = grid[np.argmin(np.abs(wrap(diff[None, :] - grid[:, None])).mean(axis=1))]
        step = period / len(grid)
        fine = best + np.linspace(-step, step, 201)
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


def matched_balanced_accuracy(labels_true, classes):
    """Balanced accuracy of found classes against true labels, each class matched to one label.

    A clustering names its classes in no particular order: each class is
    matched to one label, one to one, so that the mean recall over the
    labels is largest (the Hungarian method on the recall matrix), and the
    balanced accuracy of the matched classes is returned. A class matched
    to no label (more classes than labels) counts as wrong.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        The true label of every sample.
    classes : array-like of shape (n_samples,)
        The class found for every sample (``fit_predict``).

    Returns
    -------
    score : float
        In [0, 1]; 1 when the classes are the labels up to their names.

    Examples
    --------
    >>> from sklearn_rvae.metrics import matched_balanced_accuracy
    >>> matched_balanced_accuracy(["C", "C", "Si", "V"], [2, 2, 0, 1])
    1.0
    """
    from scipy.optimize import linear_sum_assignment

    labels_true = _labels(labels_true, "labels_true")
    classes = _labels(classes, "classes", n=len(labels_true))
    if len(labels_true) == 0:
        raise ValueError("labels_true is empty; give the label of at least one sample.")
    names, truth = np.unique(labels_true, return_inverse=True)
    found, pred = np.unique(classes, return_inverse=True)
    counts = np.zeros((len(names), len(found)))
    np.add.at(counts, (truth, pred), 1)
    recall = counts / counts.sum(1, keepdims=True)
    label_of, class_of = linear_sum_assignment(-recall)
    return float(recall[label_of, class_of].sum() / len(names))


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

    Raises
    ------
    ValueError
        When all the codes are the same (a collapsed encoder): the ratio is
        then 0 / 0, undefined, not a perfect score.

    Examples
    --------
    >>> import numpy as np
    >>> orbit = np.repeat(np.arange(4), 3)
    >>> symmetry_equivalence_spread(np.repeat(np.arange(4.0), 3)[:, None], orbit)
    0.0
    """
    codes = _codes(codes)
    orbit = _labels(orbit, "orbit", len(codes))
    labels, counts = np.unique(orbit, return_counts=True)
    if len(labels) < 2 or np.any(counts < 2):
        raise ValueError("orbit needs at least 2 groups of at least 2 samples each.")
    total = codes.var(0).sum()
    if total == 0:
        raise ValueError("the spread is undefined for constant codes: every sample has the same code, "
                         "so within-orbit and total variance are both 0.")
    within = np.mean([codes[orbit == k].var(0).sum() for k in labels])
    return float(within / total)


def orbit_angle_error(angle_deg, orbit, rotation_deg):
    """How far predicted rotations within orbits are from the symmetry rotations.

    For every pair of members of an orbit, the difference of the predicted
    angles is compared with the difference of their known rotations (modulo
    360 degrees), for both senses of rotation; the sense that fits best is
    kept (image and probe rotations may run in opposite senses).

    Parameters
    ----------
    angle_deg : array-like of shape (n_samples,)
        Predicted angles, degrees.
    orbit : array-like of shape (n_samples,)
        Orbit label of each sample; orbits of one member have no pair and
        count for nothing, but at least one orbit needs two.
    rotation_deg : array-like of shape (n_samples,)
        Known rotation of each sample within its orbit, degrees.

    Returns
    -------
    mean_abs_error_deg : float
    sense : +1 or -1

    Examples
    --------
    >>> orbit_angle_error([10.0, -110.0, 130.0], [0, 0, 0], [0.0, 120.0, 240.0])
    (0.0, -1)
    """
    angle = _finite_vector(angle_deg, "angle_deg")
    rotation = _finite_vector(rotation_deg, "rotation_deg")
    if rotation.size != angle.size:
        raise ValueError(f"rotation_deg must have one angle per sample ({angle.size}), got {rotation.size}.")
    orbit = _labels(orbit, "orbit", angle.size)
    if angle.size == 0 or np.unique(orbit, return_counts=True)[1].max() < 2:
        raise ValueError("orbit must put at least two samples in one orbit: no pair to compare.")
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

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_components)
        At least 2 samples.
    robust : bool, default=True
    random_state : int, RandomState instance or None, default=0
        Seeds MinCovDet (``None`` draws a seed from the OS).

    Returns
    -------
    ndarray of shape (n_samples,)
        Identical codes are all at distance 0 from their bulk.

    Examples
    --------
    >>> import numpy as np
    >>> codes = np.r_[np.random.default_rng(0).normal(size=(50, 2)), [[9.0, 9.0]]]
    >>> int(np.argmax(mahalanobis_outlier_score(codes)))
    50
    """
    from sklearn.covariance import MinCovDet

    codes = _codes(codes, min_samples=2)
    robust = check_bool(robust, "robust")
    rng = _random_state(random_state)
    if robust:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "not full rank": handled below
                model = MinCovDet(random_state=rng).fit(codes)
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

    codes = _codes(codes, min_samples=2)
    _check_n_neighbors(n_neighbors, lambda k: k < len(codes), f"n_neighbors <= n_samples - 1 = {len(codes) - 1}")
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
    random_state : int, RandomState instance or None, default=0
        Seeds MinCovDet (``None`` draws a seed from the OS).

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

    codes = _codes(codes)
    positions = real_array(positions, "positions")
    if positions.shape != (len(codes), 2):
        raise ValueError(f"positions must be (n_samples, 2) matching codes of shape {codes.shape}, "
                         f"got {positions.shape}.")
    check_all_finite(positions, "positions")
    lattice = real_array(lattice, "lattice")
    if lattice.shape != (2, 2) or not np.all(np.isfinite(lattice)) or abs(np.linalg.det(lattice)) < 1e-12:
        raise ValueError(f"lattice must be a (2, 2) array of two finite, independent lattice vectors, "
                         f"got {lattice.tolist()!r}.")
    if not (isinstance(covariance, str) and covariance in ("site", "pooled")):
        raise ValueError(f"covariance must be 'site' or 'pooled', got {covariance!r}.")
    n = len(codes)
    factor = 3 if covariance == "site" else 1
    n_neighbors = _check_n_neighbors(n_neighbors, lambda k: factor * k < n,
                                     f"{'3 * ' if factor == 3 else ''}n_neighbors < n_samples = {n}")
    n_copies = factor * n_neighbors
    robust = check_bool(robust, "robust")
    rng = _random_state(random_state)
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
                pooled = MinCovDet(assume_centered=True, random_state=rng).fit(residual).covariance_
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
    """ROC AUC of ``scores`` for telling positions within ``radius`` of a defect from the rest.

    Parameters
    ----------
    scores : array-like of shape (n_samples,) or the scan shape
        Finite outlier scores, larger for more anomalous.
    distance : array-like of the same size
        Distance of each position from the nearest defect, >= 0; ``inf``
        (no defect) counts as far.
    radius : float, default=2.0
        Positions at most this far (finite, >= 0) count as defect positions.

    Returns
    -------
    float
        1 when every defect position scores above every other.

    Examples
    --------
    >>> defect_detection_auc([0.9, 0.1, 0.2, 0.3], [0.0, 5.0, 7.0, float("inf")])
    1.0
    """
    from sklearn.metrics import roc_auc_score

    scores = _finite_vector(scores, "scores")
    distance = real_array(distance, "distance").ravel()
    if distance.size != scores.size:
        raise ValueError(f"scores and distance must have the same size, got {scores.size} and {distance.size}.")
    if np.isnan(distance).any() or (distance < 0).any():
        raise ValueError("distance must hold distances >= 0 (inf for none), got NaN or negative values.")
    radius = check_scalar(radius, "radius", nonnegative=True)
    near = distance <= radius
    if near.all() or not near.any():
        raise ValueError(f"distance must put some positions within radius={radius} and some outside it.")
    return float(roc_auc_score(near, scores))
