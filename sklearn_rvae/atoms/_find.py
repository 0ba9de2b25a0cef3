"""Find atomic columns in an image: local maxima, then a 2-D Gaussian fit per column.

Positions are (row, col) in pixels, row 0 at the top and the centre of pixel
(i, j) at (i, j). (AtomAI and Atomap document (x, y) = (col, row).)
"""

import numpy as np
from scipy import ndimage
from scipy import sparse
from scipy.sparse.linalg import cg
from scipy.spatial import cKDTree
from skimage.feature import peak_local_max

from .._deprecation import renamed_parameters
from .._utils import check_all_finite, check_bool, check_open, check_positions, check_scalar

# The peaks are looked for on the image smoothed by a Gaussian of
# min_distance * _SMOOTH pixels: about the width of a column when min_distance
# is set just under the column spacing. Chosen on validation frames.
_SMOOTH = 0.2
# The first, per-column fits use the pixels within min_distance * _FIT_RADIUS
# of each centre (the joint fit then uses every pixel).
_FIT_RADIUS = 0.6
_JOINT_STEPS = 6
_THRESHOLD_FRACTION = 0.25
# Smoothed counts are skewed: noise maxima reach 5 sd where counts are sparse.
_NOISE_SDS = 8.0
# Steps of the joint fit whose residual is searched for faint columns.
_RESIDUAL_STEPS = 4
# ... and of the joint fit that goes on from it, with the faint columns added.
_FINAL_STEPS = 4
_ROW_SHIFT_PRIOR = 0.3
# No fit moves a column by more than this fraction of min_distance.
_MAX_MOVE = 0.3
_GAUSS_NEWTON_STEPS = 8


def check_image(image, name="image", ndim=(2,)):
    """Return ``image`` as a finite float64 array with one of the dimensions ``ndim``."""
    check_open(image, name)
    try:
        arr = np.asarray(image)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of numbers, got {type(image).__name__}.") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}.")
    if arr.ndim not in ndim:
        what = " or ".join({2: "(h, w)", 3: "(n_frames, h, w)"}[d] for d in ndim)
        raise ValueError(f"{name} must be an image {what}; got an array of shape {arr.shape}.")
    if arr.size == 0 or min(arr.shape[-2:]) < 3:
        raise ValueError(f"{name} must be at least 3x3 pixels; got shape {arr.shape}.")
    arr = arr.astype(np.float64)
    check_all_finite(arr, name, hint="; replace them before finding atoms")
    return arr


def _window(shape, centres, radius):
    """Integer pixel windows around ``centres``: rows, cols (n, m) and an in-image mask."""
    reach = int(np.ceil(radius))
    d = np.arange(-reach, reach + 1)
    dr, dc = [a.ravel() for a in np.meshgrid(d, d, indexing="ij")]
    disk = dr**2 + dc**2 <= radius**2
    dr, dc = dr[disk], dc[disk]
    base = np.rint(centres).astype(int)
    rows = base[:, :1] + dr
    cols = base[:, 1:] + dc
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    return rows, cols, inside


def _gather(image, rows, cols, inside):
    return np.where(inside, image[np.clip(rows, 0, image.shape[0] - 1), np.clip(cols, 0, image.shape[1] - 1)], 0.0)


def _spots(params, rows, cols):
    """Gaussian spots (without background) of ``params`` (n, 5) on pixels (n, m)."""
    _, amp, r, c, log_s = params.T
    # A free width can run off on a few noisy pixels; such a step is then
    # rejected, but must not overflow on the way.
    s2 = np.exp(2 * np.clip(log_s, -5.0, 5.0))[:, None]
    d2 = (rows - r[:, None]) ** 2 + (cols - c[:, None]) ** 2
    return amp[:, None] * np.exp(-d2 / (2 * s2)), d2, s2


def _fit_gaussians(data, rows, cols, weight, params, max_move, fixed=()):
    """Damped Gauss-Newton fits of background + Gaussian spot, all columns at once.

    ``params`` holds (background, amplitude, row, col, log sigma) per column.
    A step that would take a centre more than ``max_move`` pixels from
    where it started, or increase the residual, is not taken for that
    column: a faint column on a bright one's flank must not slide onto it. The parameters
    listed in ``fixed`` (0 background ... 4 log width) are not fitted.
    """
    def cost(p):
        spot, _, _ = _spots(p, rows, cols)
        return np.sum(weight * (data - p[:, :1] - spot) ** 2, axis=1)

    current = cost(params)
    start = params[:, 2:4].copy()
    damping = np.full(len(params), 1e-3)
    for _ in range(_GAUSS_NEWTON_STEPS):
        spot, d2, s2 = _spots(params, rows, cols)
        g = spot / np.maximum(params[:, 1:2], 1e-12)
        jac = np.stack(
            [
                np.ones_like(spot),
                g,
                spot * (rows - params[:, 2:3]) / s2,
                spot * (cols - params[:, 3:4]) / s2,
                spot * d2 / s2,
            ],
            axis=2,
        )  # (n, m, 5)
        jac[:, :, list(fixed)] = 0.0
        resid = data - params[:, :1] - spot
        jw = jac * weight[:, :, None]
        hess = np.einsum("nmi,nmj->nij", jw, jac)
        grad = np.einsum("nmi,nm->ni", jw, resid)
        hess += damping[:, None, None] * np.eye(5) * np.diagonal(hess, axis1=1, axis2=2)[:, :, None]
        hess += 1e-9 * np.eye(5) + np.diag(np.isin(np.arange(5), fixed).astype(float))
        try:
            step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            break
        trial = params + step
        trial_cost = cost(trial)
        ok = (
            np.isfinite(trial_cost)
            & (trial_cost <= current)
            & (np.hypot(*(trial[:, 2:4] - start).T) <= max_move)
            & (trial[:, 1] > 0)
        )
        params = np.where(ok[:, None], trial, params)
        current = np.where(ok, trial_cost, current)
        damping = np.where(ok, damping / 3, damping * 10)
    return params


def _render_spots(shape, params, reach):
    """Image of all fitted spots (no background), each drawn within ``reach`` pixels."""
    rows, cols, inside = _window(shape, params[:, 2:4], reach)
    spot, _, _ = _spots(params, rows, cols)
    out = np.zeros(shape)
    np.add.at(out, (rows[inside], cols[inside]), spot[inside])
    return out


def refine_positions(image, positions, min_distance):
    """Sub-pixel centres of given columns: the refinement of :func:`find_atoms`.

    Each column is first fitted alone (background, height, centre) on the
    pixels within ``0.6 * min_distance`` of its centre, with one probe
    width for all (the median of free fits); then all columns are fitted at
    once on the whole image (:func:`find_atoms` describes that fit), so that
    the tails of close neighbours do not pull the centres. Columns within
    ``min_distance / 2`` of the edge keep their own fits. Bright columns;
    invert an ABF image first.

    Parameters
    ----------
    image : array-like of shape (h, w)
        Bright columns on a darker background, in counts if possible (the
        joint fit weighs pixels as Poisson counts).
    positions : array-like of shape (n, 2)
        Starting (row, col) centres, pixels, within about ``0.3 *
        min_distance`` of the true ones.
    min_distance : float
        Closest spacing of the columns, pixels.

    Returns
    -------
    positions : ndarray of shape (n, 2)
        Refined (row, col) centres, in the order given.
    """
    image = check_image(image)
    min_distance = check_scalar(min_distance, "min_distance", positive=True)
    positions = check_positions(positions)
    if len(positions) == 0:
        return positions.copy()
    low = image.min()
    params = _fit_columns(image - low, positions, min_distance)
    return _refine_jointly(image - low, params, min_distance, low)[0]


def _refine_jointly(work, params, min_distance, count_offset, start=None, steps=None):
    """Centres from the joint fit (own fits by the edge) and which of them are columns of the image.

    ``params`` are the columns' own fits; the joint fit starts from ``start``
    (default ``params``) and runs ``steps`` steps (default ``_JOINT_STEPS``).
    """
    band = int(np.ceil(min_distance / 2))
    joint, _ = _joint_fit(work, params if start is None else start, band=band,
                          max_move=min_distance / 2, count_offset=count_offset, steps=steps)
    # The joint fit leaves the pixels by the edge out; the columns there keep
    # their own fits, whose local background takes up the tails of the
    # columns outside.
    h, w = work.shape
    by_edge = np.any((params[:, 2:4] < band) | (params[:, 2:4] > np.array([h, w]) - 1 - band), axis=1)
    positions = np.where(by_edge[:, None], params[:, 2:4], joint[:, 2:4])
    # Maxima on the edge made by columns just outside the image end outside
    # it in the joint fit, and "columns" of no positive height are none.
    real = np.all((joint[:, 2:4] >= -0.5) & (joint[:, 2:4] <= np.array([h, w]) - 0.5), axis=1)
    return positions, real & (joint[:, 1] > 0)


def _fit_shared_width(data, rows, cols, weight, params, min_distance):
    """Fit every column with one probe width: the median width of free fits.

    A width fitted per column on a few noisy pixels lets that centre wander.
    """
    free = _fit_gaussians(data, rows, cols, weight, params.copy(), max_move=_MAX_MOVE * min_distance)
    width = np.exp(free[:, 4])
    sane = (width > 0.3) & (width < 2 * min_distance)
    params = params.copy()
    if sane.any():
        params[:, 4] = np.log(np.median(width[sane]))
    return _fit_gaussians(data, rows, cols, weight, params, max_move=_MAX_MOVE * min_distance, fixed=(4,))


def _fit_columns(image, positions, min_distance):
    """(background, height, row, col, log sigma) of every column; see refine_positions."""
    radius = max(_FIT_RADIUS * min_distance, 1.5)
    rows, cols, inside = _window(image.shape, positions, radius)
    data = _gather(image, rows, cols, inside)
    weight = inside.astype(np.float64)
    low = np.array([np.min(d[m]) if m.any() else 0.0 for d, m in zip(data, inside)])
    high = np.array([np.max(d[m]) if m.any() else 1.0 for d, m in zip(data, inside)])
    sigma0 = max(min_distance / 4, 0.5)
    params = np.column_stack(
        [low, np.maximum(high - low, 1e-6), positions, np.full(len(positions), np.log(sigma0))]
    )
    return _fit_shared_width(data, rows, cols, weight, params, min_distance)


def _joint_fit(image, params, band=0, max_move=np.inf, count_offset=0.0, steps=None):
    """Fit all columns at once, with one background, probe width and scan-row shifts.

    Poisson-weighted Levenberg-Marquardt on the whole image with a sparse
    Jacobian (each column reaches 3.5 widths): a column's fit accounts for
    its neighbours' tails exactly instead of treating them as background.
    Every scan row also gets a sideways shift (a ridge keeps them near 0,
    prior sd ``_ROW_SHIFT_PRIOR`` pixels), shared by all the columns it
    crosses: row jitter is fitted instead of landing in the centres. A step
    that raises the cost is not taken; a column that would end more than
    ``max_move`` pixels from where it started is stopped at that distance.
    Pixels weigh 1 / (model + ``count_offset``), the Poisson variance of
    counts; ``count_offset=None`` weighs them alike. Returns the parameters
    and the row shifts.
    """
    (h, w), n = image.shape, len(params)
    background = float(np.median(params[:, 0]))
    # A width beyond half the image is no column (a flat or empty image can
    # drive it there), and its window would not fit in memory.
    max_sigma = max(h, w) / 2
    sigma = min(float(np.exp(np.median(params[:, 4]))), max_sigma)
    amp, pos = params[:, 1].copy(), params[:, 2:4].copy()
    shift = np.zeros(h)
    start = pos.copy()
    flat_image = image.ravel()
    floor = 0.05 * max(float(np.median(amp)), 1e-12)
    ridge = 1.0 / _ROW_SHIFT_PRIOR**2
    # Columns just outside the image are not fitted, but their tails reach
    # into it: the pixels within ``band`` of the edge are left out of the cost.
    seen = np.zeros((h, w), dtype=bool)
    seen[band:h - band, band:w - band] = True
    seen = seen.ravel()

    def evaluate(amp, pos, background, sigma, shift):
        rows, cols, inside = _window((h, w), pos, 3.5 * sigma)
        rows_c = np.clip(rows, 0, h - 1)
        dx = cols + shift[rows_c] - pos[:, 1:]
        d2 = (rows - pos[:, :1]) ** 2 + dx**2
        g = np.exp(-d2 / (2 * sigma**2)) * inside
        pixel = rows_c * w + np.clip(cols, 0, w - 1)
        model = background + np.bincount(pixel.ravel(), (amp[:, None] * g).ravel(), minlength=h * w)
        return model, (rows, rows_c, dx, inside, d2, g, pixel)

    def weigh(model):
        if count_offset is None:
            return seen.astype(np.float64)
        return seen / np.maximum(model + count_offset, floor)

    def cost(model, shift, weight):
        return np.sum(weight * (flat_image - model) ** 2) + ridge * shift @ shift

    # Iteratively reweighted: the Poisson weights are those of the model at
    # the start of each step.
    model, (rows, rows_c, dx, inside, d2, g, pixel) = evaluate(amp, pos, background, sigma, shift)
    n_par = 3 * n + 2 + h
    damping = 1e-3
    for _ in range(_JOINT_STEPS if steps is None else steps):
        weight = weigh(model)
        current = cost(model, shift, weight)
        ag = amp[:, None] * g
        atom = np.nonzero(inside)[0]
        d_col = ag * dx / sigma**2
        entry_rows = np.concatenate([pixel[inside]] * 5 + [np.arange(h * w)])
        entry_cols = np.concatenate(
            [atom * 3, atom * 3 + 1, atom * 3 + 2, np.full(len(atom), 3 * n + 1),
             3 * n + 2 + rows_c[inside], np.full(h * w, 3 * n)]
        )
        values = np.concatenate(
            [g[inside], (ag * (rows - pos[:, :1]) / sigma**2)[inside], d_col[inside],
             (ag * d2 / sigma**3)[inside], -d_col[inside], np.ones(h * w)]
        )
        jac = sparse.csr_matrix((values, (entry_rows, entry_cols)), shape=(h * w, n_par))
        jtw = jac.T.multiply(weight).tocsr()
        prior = np.zeros(n_par)
        prior[3 * n + 2:] = ridge
        hess = (jtw @ jac + sparse.diags(prior)).tocsr()
        grad = jtw @ (flat_image - model)
        grad[3 * n + 2:] -= ridge * shift
        diag = hess.diagonal()
        while damping <= 1e6:
            # Conjugate gradients (the damped normal matrix is positive
            # definite); a direct sparse solve costs 50 times as much here.
            damped = hess + sparse.diags(damping * diag + 1e-12)
            precondition = sparse.diags(1.0 / damped.diagonal())
            step, _ = cg(damped, grad, rtol=1e-5, maxiter=100, M=precondition)
            trial = (
                amp + step[0:3 * n:3],
                pos + np.column_stack([step[1:3 * n:3], step[2:3 * n:3]]),
                background + step[3 * n],
                sigma + step[3 * n + 1],
                shift + step[3 * n + 2:],
            )
            if 0.1 < trial[3] < max_sigma and np.all(np.isfinite(step)):
                result = evaluate(*trial)
                if cost(result[0], trial[4], weight) <= current:
                    break
            damping *= 10
        else:
            break
        amp, pos, background, sigma, shift = trial
        model, (rows, rows_c, dx, inside, d2, g, pixel) = result
        damping = max(damping / 10, 1e-6)
    move = np.hypot(*(pos - start).T)
    far = move > max_move
    pos[far] = start[far] + (pos[far] - start[far]) * (max_move / move[far])[:, None]
    return np.column_stack([np.full(n, background), amp, pos, np.full(n, np.log(sigma))]), shift


def _smoothed_noise(image, sigma):
    """Standard deviation of white pixel noise after a Gaussian filter of ``sigma``.

    The pixel noise is the scaled median absolute difference of
    neighbouring pixels (robust to the columns' own gradients).
    """
    diff = np.diff(image, axis=1).ravel() / np.sqrt(2)
    deviation = np.abs(diff - np.median(diff))
    noise = 1.4826 * np.median(deviation)
    if noise == 0:
        # Counts near zero (vacuum at low dose): most differences are 0 and
        # the median says nothing; the mean absolute deviation still does.
        noise = 1.2533 * np.mean(deviation)
    return noise / (2 * np.sqrt(np.pi) * sigma)


@renamed_parameters(border="exclude_border")
def find_atoms(image, *, min_distance, threshold=None, invert=False, refine=True, exclude_border=False):
    """Sub-pixel positions of the atomic columns in an image.

    The image is smoothed by a Gaussian of ``0.2 * min_distance`` pixels;
    its maxima over a disk of half ``min_distance``, thinned to
    ``min_distance`` apart (``skimage.feature.peak_local_max``), are the
    columns, those below ``threshold`` dropped. With ``refine=True``:

    - each column is fitted alone (a Gaussian of one probe width for all);
    - the image less a short joint fit of those columns (below) is
      searched again: a faint column on a bright one's flank (C bonded to
      Si) is no maximum of the image, only of that residual;
    - all columns are fitted at once: Poisson-weighted Levenberg-Marquardt
      on the whole image, one background, one probe width, a height and
      centre per column and a sideways shift per scan row (row jitter),
      with a sparse Jacobian; columns by the edge keep their own fits;
    - maxima made by columns just outside the image, which the joint fit
      moves out of it, are dropped.

    So ``refine`` changes which columns are found, not only where.

    Parameters
    ----------
    image : array-like of shape (h, w)
        A HAADF (bright columns) or, with ``invert=True``, an ABF or BF
        (dark columns) image. Any real dtype; NaN or infinite pixels are an
        error.
    min_distance : float
        Smallest distance between two columns, pixels: set it a little
        under the shortest column spacing (for graphene at 0.2 A/px, whose
        C-C bond is 7.1 px, about 5).
    threshold : float or None, default=None
        Lowest height of a column on the smoothed image (after inversion),
        in the image's units. ``None`` puts it a quarter of the way from
        the background (the smoothed image's 1st percentile) to the median
        height of the local maxima: columns of very different brightness
        (C next to Si) pass together; and at least eight standard
        deviations of the (smoothed) pixel noise above the background, so
        that in an image mostly of vacuum most noise maxima do not pass.
        Below about one count per pixel the noise is too skewed for that:
        set the threshold (a few counts) there.
    invert : bool, default=False
        Columns are dark (ABF, BF): the image is negated before the search.
    refine : bool, default=True
        Fit sub-pixel centres; ``False`` returns the integer peak pixels.
    exclude_border : float or bool, default=False
        Drop columns closer than ``exclude_border`` pixels to an edge of the
        image (for example half a patch width, for patches that stay inside
        the image); ``True`` is ``min_distance``, as in scikit-image's
        ``peak_local_max``. The default keeps every column, refined from
        the part of it that is seen.

    Returns
    -------
    positions : ndarray of shape (n_atoms, 2)
        (row, col) of each column in pixels, float64, row 0 at the top and
        the centre of pixel (i, j) at (i, j); sorted by row, then column.

    Notes
    -----
    The joint fit holds a sparse Jacobian of the whole image: about 1.4 kB
    per pixel at its peak (some 100 MB for 256x256, 370 MB for 512x512).
    For much larger images, find the atoms tile by tile, with tiles that
    overlap by a few ``min_distance``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae.atoms import find_atoms
    >>> rr, cc = np.mgrid[:32, :32]
    >>> image = np.exp(-((rr - 10.3) ** 2 + (cc - 20.6) ** 2) / 4.5)
    >>> find_atoms(image, min_distance=4).round(2)
    array([[10.3, 20.6]])
    """
    image = check_image(image)
    min_distance = check_scalar(min_distance, "min_distance", positive=True)
    threshold = None if threshold is None else check_scalar(threshold, "threshold")
    if isinstance(exclude_border, (bool, np.bool_)):
        border = min_distance if exclude_border else 0.0
    else:
        border = check_scalar(exclude_border, "exclude_border", nonnegative=True,
                              expected="a finite number of pixels >= 0, or a bool")
    check_bool(invert, "invert")
    check_bool(refine, "refine")
    if min_distance >= max(image.shape):
        raise ValueError(
            f"min_distance={min_distance!r} pixels is not smaller than the image {image.shape}."
        )
    work = -image if invert else image
    smooth_sigma = max(_SMOOTH * min_distance, 0.5)
    smooth = ndimage.gaussian_filter(work, smooth_sigma, mode="nearest")
    # A maximum over a disk of half min_distance, then maxima closer than
    # min_distance thinned (peak_local_max keeps the brighter). A wider
    # disk would let a bright Si column's shoulder hide its C neighbours.
    reach = max(int(min_distance / 2), 1)
    disk = np.hypot(*np.mgrid[-reach:reach + 1, -reach:reach + 1]) <= max(min_distance / 2, 1)
    peaks = peak_local_max(smooth, min_distance=max(int(min_distance), 1), footprint=disk, p_norm=2, exclude_border=False)
    if len(peaks) == 0:
        return np.empty((0, 2))
    heights = smooth[peaks[:, 0], peaks[:, 1]]
    if threshold is None:
        # A quarter of the way from the background (the smoothed image's 1st
        # percentile) to the typical column (the median maximum): faint and
        # bright columns pass together, noise in the holes does not.
        # Where most maxima are noise (an image mostly of vacuum), the
        # median is noise too; a column must also stand eight noise standard
        # deviations (of the smoothed image) above the background.
        background = np.percentile(smooth, 1)
        threshold = background + max(
            _THRESHOLD_FRACTION * (np.median(heights) - background),
            _NOISE_SDS * _smoothed_noise(work, smooth_sigma),
        )
    peaks = peaks[heights > threshold].astype(np.float64)
    positions = peaks
    if refine and len(peaks):
        # Fit on a non-negative copy: the fit has its own background term,
        # but an inverted image is negative everywhere.
        low = work.min()
        work = work - low
        params = _fit_columns(work, peaks, min_distance)
        # A faint column on the flank of a bright one (C bonded to Si, with
        # a probe as wide as the bond) is no local maximum of the image, but
        # it is one of the image less the fitted columns. One more search,
        # on that residual, at the same height above background.
        # The residual of a short joint fit, not of the columns' own fits: a
        # Si's own fit takes up part of its C neighbours' counts, which then
        # stand too low in the residual (at 10 counts, 28% of the C bonded
        # to a Si were lost that way on the validation frames).
        fitted, _ = _joint_fit(work, params, band=int(np.ceil(min_distance / 2)),
                               max_move=min_distance / 2, count_offset=None if invert else low,
                               steps=_RESIDUAL_STEPS)
        sigma = float(np.exp(fitted[0, 4]))
        residual = work - fitted[0, 0] - _render_spots(work.shape, fitted, 4 * sigma + min_distance)
        residual += np.median(params[:, 0])
        residual = ndimage.gaussian_filter(residual, max(_SMOOTH * min_distance, 0.5), mode="nearest")
        found = peak_local_max(residual, min_distance=max(int(min_distance), 1), footprint=disk,
                               p_norm=2, exclude_border=False).astype(np.float64)
        level = np.median(params[:, 0])
        found = found[residual[found[:, 0].astype(int), found[:, 1].astype(int)] - level
                      > threshold - np.percentile(smooth, 1)] if len(found) else found
        if len(found):
            gap, _ = cKDTree(params[:, 2:4]).query(found)
            found = found[gap >= min_distance]
        start = fitted
        if len(found):
            params = _fit_columns(work, np.vstack([params[:, 2:4], found]), min_distance)
            # The joint fit goes on from where the short one stopped; the new
            # columns start from their own fits.
            added = params[len(fitted):].copy()
            added[:, [0, 4]] = fitted[0, [0, 4]]
            start = np.vstack([fitted, added])
        # Poisson weights need the counts themselves: the level taken off to
        # make the image non-negative goes back in; an inverted image has no
        # such counts, and its pixels weigh alike.
        positions, real = _refine_jointly(work, params, min_distance, None if invert else low,
                                          start=start, steps=_FINAL_STEPS)
        positions = positions[real]
    h, w = image.shape
    keep = (
        (positions[:, 0] >= border - 0.5) & (positions[:, 0] <= h - 0.5 - border)
        & (positions[:, 1] >= border - 0.5) & (positions[:, 1] <= w - 0.5 - border)
    )
    positions = positions[keep]
    return positions[np.lexsort((positions[:, 1], positions[:, 0]))]
