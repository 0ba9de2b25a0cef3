"""Deciding the [110] mid-plane-mirror pair by the likelihood of a patch under the training patches.

Along [110] the tilts (alpha, beta, gamma) and (beta, alpha, -gamma) give
nearly the same ABF image; only dynamical scattering tells them apart. A
network learns the tilts up to that pair well but the pair itself poorly.
Given an estimate of the tilts, this module asks
which member the recorded patch fits better: the training patches whose
tilts lie near each member are templates, each template's Poisson
likelihood has the unknown shift of every scan row integrated out, and the
evidence for a member is the sum over its templates. The nearest templates
also cover the nuisances a tilt does not fix (the column's sub-pixel
position, which column of the cell), so the decision needs no model of
them. The chosen member's tilts then come from a linear model of the patch
in the tilts fitted to its few most likely templates, which share the
patch's nuisances: it interpolates between templates about a degree apart.
A patch of another material (or thickness) differs from every template by
a smooth gain along its rows (the A-site columns' contrast): where the
evidence asks for it, that gain is divided out before the decision, and
the local fit has it as a free nuisance. A network's gamma is its weakest
angle: with ``flip_gamma`` both members are also looked up with gamma's
sign flipped, and the most likely of the four candidates wins.
"""

import numbers

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy.spatial import cKDTree
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Hidden, StrOptions
from threadpoolctl import threadpool_limits

from .._deprecation import register, renamed_parameters, renamed_value
from .._perovskite_symmetry import MIRRORS_110
from .._utils import Interval

#: The 180-degree rotation of the projection maps a column's tilts onto the other member of the pair.
PAIR_MAP = np.asarray(MIRRORS_110[3][1], dtype=np.float64)
#: Gamma's sign flipped: with flip_gamma, each member of the start is also looked up this way.
GAMMA_FLIP = np.diag([1.0, 1.0, -1.0])

#: RMS (degrees) of the Gaussian prior on the local fit's step from its templates' mean tilts.
_LOCAL_PRIOR = 2.0
#: Largest step (degrees, per angle) the local fit may take from its templates' mean tilts.
_MAX_LOCAL_STEP = 3.0
#: RMS (pixels) of the Gaussian prior on the local fit's sub-pixel shift of the patch (clipped at 1 px).
_SHIFT_PRIOR = 0.5
#: RMS (relative) of the Gaussian prior on each harmonic of a patch's row gain against the templates.
_GAIN_PRIOR = 0.02


class PairDecision(BaseEstimator):
    """Settings of ``TiltRegressor``'s pair decision by template likelihood.

    ``TiltRegressor()`` decides the [110] mid-plane-mirror pair by the
    likelihood of each patch instead of by the network, with
    ``PairDecision()``; pass ``TiltRegressor(pair_decision=PairDecision(...))``
    to change its settings. The training patches and their mirrors (or
    the cells of ``fit(..., cells=...)``) are kept as templates. For the
    network's estimate and its pair partner, the ``neighbors`` templates
    with the nearest tilts are scored by their Poisson likelihood, with the
    unknown shift of every scan row integrated out (prior RMS
    ``TiltRegressor.scan_jitter``; the dose is estimated from the patch).
    The member with the larger summed likelihood wins, and ``predict``
    returns its tilts from a linear model of the patch in the tilts, fitted
    to its ``n_local_templates`` most likely templates. Train on noise-free simulations
    (with the ``"poisson"`` augmentation) so the templates are sharp. It
    costs memory (the templates) and 0.1-0.25 s per patch on a 2-core CPU
    (32-48 px patches). Change the settings after fit with
    ``set_params(pair_decision__n_local_templates=...)`` (from
    ``PairDecision()``'s defaults when ``pair_decision`` is ``"auto"``);
    ``n_neighbors`` takes effect at the next fit.

    Parameters
    ----------
    n_neighbors : int or None, default=None
        Templates per member; ``None``: 400 training patches, or 100 columns
        of ``fit(..., cells=...)`` (a cell's column stands for the four
        half-pixel cuts of it that a patch library holds).
    n_local_templates : int, default=8
        Templates (0, or 4 to 20) of the local linear model that gives the
        chosen member's tilts. Templates of the patch's own column and
        sub-pixel offset lie about a degree apart, so the best of them is
        off by about half that; between them the patch is nearly linear in
        the tilts, and the tilts (with a sub-pixel shift of the patch) that
        maximise its Poisson likelihood under that model are found. 0: the
        mean of the network's estimate and the likelihood-weighted mean
        tilts of the best templates.
    row_gain : int, default=4
        Harmonics (0 to 8) of a smooth gain along the patch's rows by which
        it may differ from every template, as a patch of another material
        does (its A-site columns scatter differently). When the gain's Bayes
        factor says so, it is divided out of the patch before the decision,
        and the local fit has it as a free nuisance. 0: neither.
    max_refinements : int, default=3
        With ``n_local_templates``: how many times (at least 1) the local fit is
        repeated with its templates, and for ``fit(..., cells=...)`` the
        patch's geometry, taken around the previous fit's tilts; it stops
        early when a fit moves less than 0.05 degree.
    flip_gamma : bool, default=True
        Also look up both members of the network's estimate with gamma's
        sign flipped, and keep the most likely of the four: gamma is the
        network's weakest angle. About 1.5x the decision's cost; on
        validation SrTiO3 0.28 / 0.27 / 0.39 degrees against 0.29 / 0.28 /
        0.44 without.
    neighbors, local, refine : deprecated
        The old names of ``n_neighbors``, ``n_local_templates`` and
        ``max_refinements``.

    Examples
    --------
    >>> from sklearn_rvae.tilt import PairDecision, TiltRegressor
    >>> reg = TiltRegressor(pair_decision=PairDecision(n_local_templates=8))
    >>> reg.set_params(pair_decision__max_refinements=1).pair_decision
    PairDecision(max_refinements=1)
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_local_templates": [Interval(numbers.Integral, 0, 20, closed="both")],
        "row_gain": [Interval(numbers.Integral, 0, 8, closed="both")],
        "max_refinements": [Interval(numbers.Integral, 1, None, closed="left")],
        "flip_gamma": ["boolean"],
        "neighbors": [Interval(numbers.Integral, 1, None, closed="left"), None, Hidden(StrOptions({"deprecated"}))],
        "local": [Interval(numbers.Integral, 0, 20, closed="both"), Hidden(StrOptions({"deprecated"}))],
        "refine": [Interval(numbers.Integral, 1, None, closed="left"), Hidden(StrOptions({"deprecated"}))],
    }

    def __init__(self, *, n_neighbors=None, n_local_templates=8, row_gain=4, max_refinements=3, flip_gamma=True,
                 neighbors="deprecated", local="deprecated", refine="deprecated"):
        self.n_neighbors = n_neighbors
        self.n_local_templates = n_local_templates
        self.row_gain = row_gain
        self.max_refinements = max_refinements
        self.flip_gamma = flip_gamma
        self.neighbors = neighbors
        self.local = local
        self.refine = refine

    def __setstate__(self, state):
        # Pickled before the renames: the old names held the values.
        for old, new in (("neighbors", "n_neighbors"), ("local", "n_local_templates"), ("refine", "max_refinements")):
            if new not in state:
                state[new], state[old] = state.get(old), "deprecated"
        super().__setstate__(state)

    def settings(self):
        """``(n_neighbors, n_local_templates, row_gain, max_refinements, flip_gamma)``, old names read (warned)."""
        return (renamed_value(self, "neighbors", "n_neighbors"), int(renamed_value(self, "local", "n_local_templates")),
                int(self.row_gain), int(renamed_value(self, "refine", "max_refinements")), bool(self.flip_gamma))

    def resolved_neighbors(self, with_cells):
        """Templates per member: ``n_neighbors``, or its default for patches (400) or cells (100)."""
        n_neighbors = self.settings()[0]
        if n_neighbors is not None:
            return int(n_neighbors)
        return 100 if with_cells else 400

    def check(self, n_neighbors):
        """Validate the settings for a library of ``n_neighbors`` templates per member (fit and predict call it)."""
        self._validate_params()
        n_local = self.settings()[1]
        if n_local and not 4 <= n_local <= min(20, n_neighbors):
            raise ValueError(f"PairDecision n_local_templates must be 0 or from 4 to min(20, n_neighbors)="
                             f"{min(20, n_neighbors)} templates (a linear model in three tilts), got {n_local!r}.")



register(PairDecision, neighbors="n_neighbors", local="n_local_templates", refine="max_refinements")

class PairLibrary:
    """Training patches of a [110] projection (and their three exact mirrors) as likelihood templates.

    Parameters
    ----------
    X : ndarray (n, h * w)
        Training patches, non-negative intensities; noise-free simulations
        give sharp templates (noisy ones still work, less well).
    y : ndarray (n, 3)
        Their tilts (alpha, beta, gamma), degrees.
    image_shape : (h, w)
    n_neighbors : int
        Templates per member: the training patches (mirrors included) with
        the nearest tilts.
    n_best : int
        Of those, how many get the full likelihood (scan rows integrated
        out); the others cannot matter, their plain likelihood is far lower.
    scan_jitter : float
        RMS shift of each scan row along x, pixels: the prior of the shifts
        integrated out, on a grid of ``n_grid`` points within +-4 RMS.
        0 means no scan noise.
    n_rounds : int
        After the first round each member's templates are looked up again
        around that member's likelihood-weighted tilts: a start a degree or
        two off then still finds the templates that fit.

    The decision's settings (the local fit, the row gain, the refits and
    gamma's flip) are a :class:`PairDecision`, passed to :meth:`decide`.
    """

    def __init__(self, X, y, image_shape, *, n_neighbors=400, n_best=20, scan_jitter=0.0, n_grid=17, n_rounds=2):
        # Only the patches are stored (and pickled); their mirrors are made when needed (_templates), in
        # mirror_patches_110's order, so entry m * n + j is patch j under mirror m.
        y = np.asarray(y, dtype=np.float64)
        self.X = np.ascontiguousarray(np.asarray(X).reshape(len(y), *image_shape), dtype=np.float32)
        self._configure(y, image_shape, n_neighbors, n_best, scan_jitter, n_grid, n_rounds)

    def _configure(self, y, image_shape, n_neighbors, n_best, scan_jitter, n_grid, n_rounds):
        """The settings, and the tilts of the n templates y (n, 3) and of their three mirrors."""
        y4 = np.concatenate([y @ np.asarray(tilts, dtype=np.float64).T for _, tilts in MIRRORS_110])
        self.y = y4
        self.image_shape = tuple(image_shape)
        self.n_neighbors = int(min(n_neighbors, len(y4)))
        self.n_best = int(min(n_best, self.n_neighbors))
        self.scan_jitter = float(scan_jitter)
        self.n_rounds = int(n_rounds)
        self.tree = cKDTree(y4)
        # Rows shifted past the edge repeat its pixel: those columns are left out of every likelihood.
        self._edge = 2 if self.image_shape[1] > 8 and self.scan_jitter > 0 else 0
        if self.scan_jitter > 0:
            self.grid = np.linspace(-4 * self.scan_jitter, 4 * self.scan_jitter, n_grid)
            self.step = self.grid[1] - self.grid[0]
            # The prior's log density (per pixel of shift) at the grid points.
            self.log_prior = -0.5 * (self.grid / self.scan_jitter) ** 2 - np.log(self.scan_jitter * np.sqrt(2 * np.pi))
        else:
            self.grid, self.log_prior, self.step = np.zeros(1), np.zeros(1), None

    def _row_basis(self, row_gain):
        """1 and the cosines and sines of row_gain harmonics over the patch height: (h, 1 + 2 row_gain)."""
        h = self.image_shape[0]
        phase = 2 * np.pi * (np.arange(h) - (h - 1) / 2) / h
        return np.column_stack([np.ones(h)] + [f(k * phase) for k in range(1, row_gain + 1) for f in (np.cos, np.sin)])

    def _row_gain(self, x, template, electrons, row_gain):
        """The smooth gain along the rows of patch x against a template (h,), normalised to a mean of 1, or
        None when the evidence prefers none.

        Each row's summed counts against the template's (a row sum barely feels the scan noise) are fitted by
        a scale times the gain's harmonics; the gain is kept when its Bayes factor against a scale alone
        exceeds 1, with a Gaussian prior of RMS _GAIN_PRIOR on each harmonic: a patch of the templates'
        material shows only noise there.
        """
        cols = slice(self._edge, x.shape[-1] - self._edge)
        counts = electrons * x[:, cols].sum(1)
        expected = electrons * np.clip(template[:, cols].sum(1), 1e-12, None)
        ratio = counts / expected
        basis = self._row_basis(row_gain)
        # Poisson: a ratio's variance is ratio / expected counts; weighted least squares, then the
        # harmonics' evidence against the fitted scale.
        weight = expected / np.clip(ratio, 1e-6, None)
        scale = (weight * ratio).sum() / weight.sum()
        residual = ratio - scale
        B = basis[:, 1:] * scale
        B = B - (weight @ B / weight.sum())  # orthogonal to the scale, which both models fit
        A = (B * weight[:, None]).T @ B
        b = (B * weight[:, None]).T @ residual
        posterior = A + np.eye(len(b)) / _GAIN_PRIOR**2
        log_bayes = 0.5 * b @ np.linalg.solve(posterior, b) - 0.5 * np.linalg.slogdet(posterior * _GAIN_PRIOR**2)[1]
        if log_bayes <= 0:
            return None
        gain = ratio / scale
        coef = np.linalg.lstsq(basis * np.sqrt(weight)[:, None], gain * np.sqrt(weight), rcond=None)[0]
        fitted = basis @ coef
        return fitted / fitted.mean()

    def _prepare(self, x, centers):
        """The geometry of patch x that its templates are looked up at: nothing for stored templates."""
        return None

    def _templates(self, idx, geometry):
        """Templates (len(idx), h, w), float64, of the mirrored library's entries idx (stored: no geometry)."""
        mirror, base = np.divmod(np.asarray(idx), len(self.X))
        out = self.X[base].astype(np.float64)
        for m, (dims, _) in enumerate(MIRRORS_110):
            if dims and np.any(mirror == m):
                out[mirror == m] = np.flip(out[mirror == m], dims)
        return out

    @staticmethod
    def _taps(shifts, w):
        """Linear interpolation of a row of w pixels moved by each of shifts (pixels), edges held: the left
        and right source pixels and the right one's weight, each of shape (len(shifts), w)."""
        pos = np.clip(np.arange(w)[None, :] - np.asarray(shifts)[:, None], 0, w - 1)
        i0 = np.clip(np.floor(pos).astype(int), 0, max(w - 2, 0))
        return i0, np.minimum(i0 + 1, w - 1), pos - i0

    def _shifted(self, T):
        """Templates T (m, h, w) with every row shifted by each grid offset: (m, h, G, w), edges held."""
        i0, i1, frac = self._taps(self.grid, T.shape[-1])
        return T[:, :, i0] * (1 - frac) + T[:, :, i1] * frac

    def _electrons(self, x, T):
        """Electrons per unit intensity of patch x (Poisson: variance = mean / N), from its best template T."""
        S = self._shifted(T[None])[0]  # (h, G, w)
        best = ((x[:, None, :] - S) ** 2).sum(-1).argmin(-1)  # each row at its best offset
        S = S[np.arange(len(S)), best]
        residual = ((x - S) ** 2).sum()
        return float(np.clip(S.sum() / max(residual, 1e-30), 1e-6, 1e12))

    def _per_row(self, x, T, electrons):
        """Poisson log-likelihood (up to a constant) of each row of patch x (h, w) under templates T (m, h, w)
        shifted by each grid offset, plus the offset's log prior: (m, h, G)."""
        S = np.clip(self._shifted(T), 1e-6, None)  # (m, h, G, w)
        w = T.shape[-1]
        terms = electrons * (x[None, :, None, :] * np.log(S) - S)
        return terms[..., self._edge : w - self._edge].sum(-1) + self.log_prior

    def _log_likelihood(self, x, T, electrons):
        """Poisson log-likelihood (up to a constant) of patch x (h, w) under templates T (m, h, w)."""
        per_row = self._per_row(x, T, electrons)
        if self.step is None:
            return per_row[..., 0].sum(-1)
        return self._integrate(per_row).sum(-1)

    @staticmethod
    def _three_best(L):
        """The grid index k of the largest L (last axis; kept off the ends) and L at k - 1, k, k + 1."""
        k = np.clip(L.argmax(-1), 1, L.shape[-1] - 2)
        return (k, *(np.take_along_axis(L, (k + d)[..., None], -1)[..., 0] for d in (-1, 0, 1)))

    def _integrate(self, L):
        """log of the integral over the shift g of exp(L(g)), L sampled on the grid (last axis).

        At these counts a row's likelihood is often narrower than the grid step, so the sum over the grid
        would depend on where the grid points fall: around a sharp peak (curvature over 1 per squared
        step) the parabola through the best three points gives the peak and its width (Laplace's method).
        """
        _, c0, c1, c2 = self._three_best(L)
        curvature = c0 - 2 * c1 + c2  # second difference, per squared step
        sharp = curvature < -1
        safe = np.where(sharp, curvature, -1.0)
        offset = np.clip((c0 - c2) / (2 * safe), -1, 1)
        peak = c1 - 0.25 * (c0 - c2) * offset
        laplace = peak + 0.5 * np.log(2 * np.pi * self.step**2 / -safe)
        return np.where(sharp, laplace, logsumexp(L, axis=-1) + np.log(self.step))

    def _nearest(self, x, center, geometry):
        """The n_best of the n_neighbors templates nearest the tilts center (at the patch's geometry), by their
        plain likelihood (without the scan rows: only its ranking matters, and that is free of the dose), best
        last."""
        distance, _ = self.tree.query(center, k=self.n_neighbors)
        # All templates as near as the k-th: an image's columns share its tilts, and a tie broken by rounding
        # would make the mirrored patch's templates differ.
        idx = np.sort(self.tree.query_ball_point(center, np.atleast_1d(distance)[-1] * (1 + 1e-9) + 1e-12))
        T = self._templates(idx, geometry)
        flat_T = np.clip(T.reshape(len(idx), -1), 1e-6, None)
        plain = np.log(flat_T) @ x.reshape(-1) - flat_T.sum(1)
        order = np.argsort(plain)[-self.n_best :]
        return idx[order], T[order], plain[order[-1]]

    def _nearest_members(self, x, centers, geometry):
        """Each member's best templates by plain likelihood (see _nearest) around its tilts centers (2, 3),
        the most likely of them all, and the patch's electrons per unit intensity against that one."""
        members = [self._nearest(x, c, geometry) for c in centers]
        best = members[int(np.argmax([m[2] for m in members]))][1][-1]
        return members, best, self._electrons(x, best)

    def _score(self, x, centers, geometry, nearest=None):
        """Each member's best templates (indices, images, full log-likelihoods), from the templates nearest
        its tilts centers (2, 3) (or ``nearest``, from _nearest_members), and the patch's electrons per unit
        intensity."""
        members, _, electrons = self._nearest_members(x, centers, geometry) if nearest is None else nearest
        return [(idx, T, self._log_likelihood(x, T, electrons)) for idx, T, _ in members], electrons

    def _weighted_tilts(self, idx, ll):
        weights = np.exp(ll - ll.max())
        return weights / weights.sum() @ self.y[idx]

    def _row_shifts(self, x, template, electrons):
        """Each scan row's most likely shift (pixels) of patch x against a template: the best grid point,
        refined by the parabola through it and its neighbours."""
        k, c0, c1, c2 = self._three_best(self._per_row(x, template[None], electrons)[0])  # rows (h,)
        curvature = c0 - 2 * c1 + c2
        safe = np.where(curvature < 0, curvature, -1.0)
        offset = np.where(curvature < 0, np.clip((c0 - c2) / (2 * safe), -1, 1), 0.0)
        return self.grid[k] + offset * self.step

    def _shift_rows(self, T, shifts):
        """Images T (k, h, w) with row r shifted by shifts[r] pixels along x (edges held, as _shifted)."""
        i0, i1, frac = self._taps(shifts, T.shape[-1])
        rows = np.arange(len(shifts))[:, None]
        return T[:, rows, i0] * (1 - frac) + T[:, rows, i1] * frac

    def _local_fit(self, x, idx, T, ll, electrons, n_local, row_gain):
        """Tilts of patch x under a linear model of the patch in the tilts, fitted to its n_local most likely
        templates.

        The templates lie about a degree apart for any one nuisance (column, sub-pixel offset), so the best
        template, or a weighted mean of a few, is off by about half that; the most likely few share the
        patch's nuisances, and between them the patch is nearly linear in the tilts. The model's rows are
        shifted like the patch's scan rows (against its best template, then against the fit), and the tilts,
        with a sub-pixel shift of the whole patch, maximise the Poisson likelihood (Gauss-Newton) under a
        weak Gaussian prior around the templates' mean. A smooth gain along the rows (row_gain harmonics
        times the model) is free: a patch of another material differs from its templates by one.
        """
        best = np.argsort(ll)[::-1][:n_local]
        tilts = self.y[idx[best]]
        center = tilts.mean(0)
        design = np.column_stack([np.ones(len(best)), tilts - center])
        coef = np.linalg.lstsq(design, T[best].reshape(len(best), -1), rcond=None)[0]
        coef = coef.reshape(4, *self.image_shape)
        # Two more directions: the whole patch shifted by a fraction of a pixel (down, right), which the
        # templates hold only at the offsets the training images happened to have.
        gradient = np.gradient(coef[0])
        gains = self._row_basis(row_gain).T[:, :, None] * coef[0] if row_gain else np.empty((0, *coef[0].shape))
        coef = np.concatenate([coef, -gradient[0][None], -gradient[1][None], gains])
        # The gain's harmonics are free (a vanishing prior keeps the solve regular).
        prior = np.diag([_LOCAL_PRIOR**-2] * 3 + [_SHIFT_PRIOR**-2] * 2 + [1e-8] * len(gains))
        w = x.shape[-1]
        cols = slice(self._edge, w - self._edge)
        reference = T[best[0]]
        # A linear model is trusted only over about the templates' own spread.
        limit = np.array([_MAX_LOCAL_STEP] * 3 + [1.0] * 2 + [np.inf] * len(gains))
        # Twice: the scan rows are aligned against the best template, then against the fitted model.
        for _alignment in range(2 if self.step is not None else 1):
            shifted = coef if self.step is None else self._shift_rows(coef, self._row_shifts(x, reference, electrons))
            a = shifted[0][:, cols].ravel()
            J = shifted[1:, :, cols].reshape(len(coef) - 1, -1)
            residual = x[:, cols].ravel() - a
            step = np.zeros(len(J))
            for _ in range(3):
                weight = electrons / np.clip(a + step @ J, 1e-6, None)
                step = np.linalg.solve((J * weight) @ J.T + prior, (J * weight) @ residual)
            step = np.clip(step, -limit, limit)
            reference = coef[0] + np.tensordot(step, coef[1:], 1)
        return center + step[:3]

    def decide(self, X, tilts, decision=None, n_jobs=None):
        """Which member of the pair each patch shows, and the templates' estimate of its tilts.

        Parameters
        ----------
        X : ndarray (n, h * w)
        tilts : ndarray (n, 3)
            An estimate of each patch's tilts, either member of the pair.
        decision : PairDecision or None
            The decision's settings; ``None`` is ``PairDecision()``.
        n_jobs : int or None
            Processes (joblib) over which the patches are shared out; each
            patch is decided alone, so the result does not depend on it.
            ``None`` is 1 outside a ``joblib.parallel_config`` context.

        Returns
        -------
        chosen : ndarray (n, 3)
            The candidate that fits best: ``tilts``, the other member
            ``tilts @ PAIR_MAP.T``, or (``flip_gamma``) either with gamma's
            sign flipped.
        posterior : ndarray (n, 3)
            The chosen candidate's tilts from its templates: the local
            linear fit (``n_local``), else their likelihood-weighted mean.
        log_odds : ndarray (n,)
            Log evidence of the chosen candidate over its pair partner (>= 0).
        """
        decision = PairDecision() if decision is None else decision
        if not isinstance(decision, PairDecision):
            raise TypeError(f"decision must be a PairDecision or None, got {decision!r}.")
        decision.check(self.n_neighbors)
        _, n_local, row_gain, n_refine, flip_gamma = decision.settings()
        h, w = self.image_shape
        X = np.asarray(X, dtype=np.float64).reshape(-1, h, w)
        tilts = np.asarray(tilts, dtype=np.float64).reshape(len(X), 3)
        n_chunks = min(effective_n_jobs(n_jobs), len(X))
        if n_chunks > 1:
            # One contiguous chunk per process: the library (templates or cells) goes to each worker once,
            # pickled: read from joblib's memory maps instead, a chunk took twice as long.
            bounds = np.linspace(0, len(X), n_chunks + 1).astype(int)
            parts = Parallel(n_jobs=n_chunks, max_nbytes=None)(
                delayed(self._decide)(X[a:b], tilts[a:b], n_local, row_gain, n_refine, flip_gamma)
                for a, b in zip(bounds[:-1], bounds[1:]))
            return tuple(np.concatenate(part) for part in zip(*parts))
        return self._decide(X, tilts, n_local, row_gain, n_refine, flip_gamma)

    def _decide(self, X, tilts, n_local, row_gain, n_refine, flip_gamma):
        """decide's work on patches X (n, h, w), in this process."""
        # Its matrices are small: BLAS threads only spin (one thread was 13% faster on 2 cores).
        with threadpool_limits(limits=1, user_api="blas"):
            return self._decide_patches(X, tilts, n_local, row_gain, n_refine, flip_gamma)

    def _decide_patches(self, X, tilts, n_local, row_gain, n_refine, flip_gamma):
        # Pair partners next to each other (k and k ^ 1): the start's two members, then both with gamma flipped.
        maps = [np.eye(3), PAIR_MAP] + [GAMMA_FLIP, PAIR_MAP @ GAMMA_FLIP] * flip_gamma
        candidates = np.stack([tilts @ m.T for m in maps], 1)  # (n, 2 or 4, 3)
        chosen = np.empty((len(X), 3))
        posterior = np.empty((len(X), 3))
        log_odds = np.empty(len(X))
        for i, x in enumerate(X):
            # The geometry and the gain are the start's members' alone, as without flip_gamma (validated so).
            members_of_start = candidates[i, :2]
            geometry = self._prepare(x, members_of_start)
            nearest = None
            if row_gain:
                # Against the most likely template near either member: one gain for both, so neither gains
                # freedom the other lacks.
                nearest = self._nearest_members(x, members_of_start, geometry)
                gain = self._row_gain(x, *nearest[1:], row_gain)
                if gain is not None:
                    x, nearest = x / gain[:, None], None
            if flip_gamma:
                nearest = None  # the start's two members' look-up: the rounds look up all four
            centers = candidates[i]
            for _ in range(self.n_rounds):
                members, electrons = self._score(x, centers, geometry, nearest)
                nearest = None
                centers = np.stack([self._weighted_tilts(idx, ll) for idx, _, ll in members])
            evidence = np.array([logsumexp(ll) for _, _, ll in members])
            best = int(np.argmax(evidence))
            chosen[i] = candidates[i, best]
            log_odds[i] = evidence[best] - evidence[best ^ 1]
            posterior[i] = centers[best]
            if n_local:
                first = self._local_fit(x, *members[best], electrons, n_local, row_gain)
                posterior[i] = self._refine(x, first, electrons, n_local, row_gain, n_refine)
        return chosen, posterior, log_odds

    def _refine(self, x, estimate, electrons, n_local, row_gain, n_refine):
        """The local fit again with its templates (and, for rendered ones, the patch's geometry) taken around the
        previous fit's tilts, until it moves less than 0.05 degree or n_refine times: the first fit's
        templates lie around the start, and a start degrees off leaves it short of the patch's tilts."""
        for _ in range(n_refine):
            idx, T, _ = self._nearest(x, estimate, self._prepare(x, estimate[None]))
            ll = self._log_likelihood(x, T, electrons)
            previous, estimate = estimate, self._local_fit(x, idx, T, ll, electrons, n_local, row_gain)
            if np.abs(estimate - previous).max() < 0.05:
                break
        return estimate


class CellPairLibrary(PairLibrary):
    """A PairLibrary whose templates are rendered from periodic cells at each patch's own geometry.

    Training patches are templates only at the sub-pixel offsets and pixel
    size their images happened to have (every simulated cell over whole
    pixels): a patch recorded at another offset or pixel size, as a
    microscope records it, matches none of them, and the pair decision
    fails. Here every template is the Fourier series
    of a noise-free cell, evaluated on the patch's own grid: before the
    look-up, the column's sub-pixel position in the patch and the pixel size
    (in the cells' Angstrom, so another lattice constant too) are fitted to
    the mean of the templates nearest both members (one geometry for both,
    so neither gains freedom the other lacks); then all templates are
    rendered there.

    Parameters
    ----------
    cells : PeriodicCells
        Noise-free periodic images with their columns' tilts (for example
        the fourth value of ``make_perovskite_abf``).
    image_shape : (h, w)
    pixel_size : float
        Angstrom per pixel of the patches (the fit starts there).
    fit_scale : bool
        Fit the pixel size of the rows and of the columns (each within
        10%; scan distortion and simulated cells make pixels a little
        rectangular) as well as the offset.
    n_registration : int
        Templates per member in the mean the geometry is fitted to.
    Others as :class:`PairLibrary`.
    """

    @renamed_parameters(sampling="pixel_size")
    def __init__(self, cells, image_shape, pixel_size, *, n_neighbors=100, n_best=20, scan_jitter=0.0, n_grid=17,
                 n_rounds=2, fit_scale=True, n_registration=8):
        self.cells = cells
        self.pixel_size = float(pixel_size)
        self.fit_scale = bool(fit_scale)
        self.n_registration = int(n_registration)
        self._configure(cells.tilts, image_shape, n_neighbors, n_best, scan_jitter, n_grid, n_rounds)

    def __setstate__(self, state):
        if "sampling" in state:  # pickled before the rename
            state["pixel_size"] = state.pop("sampling")
        self.__dict__.update(state)

    def _render(self, idx, offset, pixel_size, derivatives=False):
        """Entries idx (mirrored library) rendered with their column at offset (pixels) from the patch centre;
        a mirrored entry is its column rendered at the mirrored offset, then flipped."""
        mirror, base = np.divmod(np.asarray(idx), len(self.cells))
        signs = np.ones((len(idx), 2))
        for m, (dims, _) in enumerate(MIRRORS_110):
            for d in dims:
                signs[mirror == m, d + 2] = -1
        out = self.cells.render(base, self.image_shape, signs * offset, pixel_size, derivatives)
        patches, grads = out if derivatives else (out, None)
        for m, (dims, _) in enumerate(MIRRORS_110):
            if dims and np.any(mirror == m):
                patches[mirror == m] = np.flip(patches[mirror == m], dims)
                if grads is not None:
                    g = np.flip(grads[:, mirror == m], dims)
                    g[:2] *= signs[mirror == m].T[:, :, None, None]
                    grads[:, mirror == m] = g
        return (patches, grads) if derivatives else patches

    def _templates(self, idx, geometry):
        offset, pixel_size = geometry
        return self._render(idx, offset, pixel_size)

    def _prepare(self, x, centers):
        """The patch's geometry (offset (2,) in pixels, pixel sizes (2,) in Angstrom): Gauss-Newton on
        (intensity, offset, pixel sizes) against the mean template of the members' nearest entries."""
        idx = np.concatenate([self.tree.query(c, k=self.n_registration)[1] for c in centers])
        offset, pixel_size = np.zeros(2), np.full(2, self.pixel_size)
        cols = slice(self._edge, x.shape[-1] - self._edge)
        target = x[:, cols].ravel()
        for _ in range(4):
            T, dT = self._render(idx, offset, pixel_size, derivatives=True)
            mean, dmean = T.mean(0)[:, cols].ravel(), dT.mean(1)[:, :, cols].reshape(4, -1)
            scale = (mean @ target) / (mean @ mean)
            J = np.vstack([mean, scale * dmean[: 2 + 2 * self.fit_scale]])
            residual = target - scale * mean
            step = np.linalg.lstsq(J.T, residual, rcond=None)[0][1:]
            offset = np.clip(offset + step[:2], -1.0, 1.0)
            if self.fit_scale:
                pixel_size = np.clip(pixel_size + step[2:], 0.9 * self.pixel_size, 1.1 * self.pixel_size)
        return offset, pixel_size
