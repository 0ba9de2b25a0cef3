"""Deciding the [110] mid-plane-mirror pair by the likelihood of a patch under the training patches.

Along [110] the tilts (alpha, beta, gamma) and (beta, alpha, -gamma) give
nearly the same ABF image; only dynamical scattering tells them apart. A
network learns the tilts up to that pair well but the pair itself poorly
(benchmarks/RESULTS.md). Given an estimate of the tilts, this module asks
which member the recorded patch fits better: the training patches whose
tilts lie near each member are templates, each template's Poisson
likelihood has the unknown shift of every scan row integrated out, and the
evidence for a member is the sum over its templates. The nearest templates
also cover the nuisances a tilt does not fix (the column's sub-pixel
position, which column of the cell), so nothing else has to be modelled.
"""

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import logsumexp

from .datasets._perovskite import MIRRORS_110

#: The 180-degree rotation of the projection maps a column's tilts onto the other member of the pair.
PAIR_MAP = np.asarray(MIRRORS_110[3][1], dtype=np.float64)


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
    """

    def __init__(self, X, y, image_shape, *, n_neighbors=400, n_best=20, scan_jitter=0.0, n_grid=17, n_rounds=2):
        # Only the patches are stored (and pickled); their mirrors are made when needed (_templates), in
        # mirror_patches_110's order, so entry m * n + j is patch j under mirror m.
        y = np.asarray(y, dtype=np.float64)
        y4 = np.concatenate([y @ np.asarray(tilts, dtype=np.float64).T for _, tilts in MIRRORS_110])
        self.X = np.ascontiguousarray(np.asarray(X).reshape(len(y), *image_shape), dtype=np.float32)
        self.y = y4
        self.image_shape = tuple(image_shape)
        self.n_neighbors = int(min(n_neighbors, len(y4)))
        self.n_best = int(min(n_best, self.n_neighbors))
        self.scan_jitter = float(scan_jitter)
        self.n_rounds = int(n_rounds)
        self.tree = cKDTree(y4)
        if self.scan_jitter > 0:
            self.grid = np.linspace(-4 * self.scan_jitter, 4 * self.scan_jitter, n_grid)
            self.step = self.grid[1] - self.grid[0]
            # The prior's log density (per pixel of shift) at the grid points.
            self.log_prior = -0.5 * (self.grid / self.scan_jitter) ** 2 - np.log(self.scan_jitter * np.sqrt(2 * np.pi))
        else:
            self.grid, self.log_prior, self.step = np.zeros(1), np.zeros(1), None

    def _templates(self, idx):
        """Templates (len(idx), h, w), float64, of the mirrored library's entries idx."""
        mirror, base = np.divmod(np.asarray(idx), len(self.X))
        out = self.X[base].astype(np.float64)
        for m, (dims, _) in enumerate(MIRRORS_110):
            if dims and np.any(mirror == m):
                out[mirror == m] = np.flip(out[mirror == m], dims)
        return out

    def _shifted(self, T):
        """Templates T (m, h, w) with every row shifted by each grid offset: (m, h, G, w), edges held."""
        w = T.shape[-1]
        pos = np.clip(np.arange(w)[None, :] - self.grid[:, None], 0, w - 1)
        i0 = np.clip(np.floor(pos).astype(int), 0, max(w - 2, 0))
        frac = pos - i0
        i1 = np.minimum(i0 + 1, w - 1)
        return T[:, :, i0] * (1 - frac) + T[:, :, i1] * frac

    def _electrons(self, x, T):
        """Electrons per unit intensity of patch x (Poisson: variance = mean / N), from its best template T."""
        S = self._shifted(T[None])[0]  # (h, G, w)
        best = ((x[:, None, :] - S) ** 2).sum(-1).argmin(-1)  # each row at its best offset
        S = S[np.arange(len(S)), best]
        residual = ((x - S) ** 2).sum()
        return float(np.clip(S.sum() / max(residual, 1e-30), 1e-6, 1e12))

    def _log_likelihood(self, x, T, electrons):
        """Poisson log-likelihood (up to a constant) of patch x (h, w) under templates T (m, h, w)."""
        S = np.clip(self._shifted(T), 1e-6, None)  # (m, h, G, w)
        w = T.shape[-1]
        edge = 2 if w > 8 and self.scan_jitter > 0 else 0  # rows shifted past the edge repeat its pixel
        terms = electrons * (x[None, :, None, :] * np.log(S) - S)
        per_row = terms[..., edge : w - edge].sum(-1) + self.log_prior  # (m, h, G)
        if self.step is None:
            return per_row[..., 0].sum(-1)
        return self._integrate(per_row).sum(-1)

    def _integrate(self, L):
        """log of the integral over the shift g of exp(L(g)), L sampled on the grid (last axis).

        At these counts a row's likelihood is often narrower than the grid step, so the sum over the grid
        would depend on where the grid points fall: around a sharp peak (curvature over 1 per squared
        step) the parabola through the best three points gives the peak and its width (Laplace's method).
        """
        k = np.clip(L.argmax(-1), 1, L.shape[-1] - 2)[..., None]
        c0, c1, c2 = (np.take_along_axis(L, k + d, -1)[..., 0] for d in (-1, 0, 1))
        curvature = c0 - 2 * c1 + c2  # second difference, per squared step
        sharp = curvature < -1
        safe = np.where(sharp, curvature, -1.0)
        offset = np.clip((c0 - c2) / (2 * safe), -1, 1)
        peak = c1 - 0.25 * (c0 - c2) * offset
        laplace = peak + 0.5 * np.log(2 * np.pi * self.step**2 / -safe)
        return np.where(sharp, laplace, logsumexp(L, axis=-1) + np.log(self.step))

    def _score(self, x, centers):
        """Log evidence of patch x (h, w) for each member, from the templates nearest its tilts centers (2, 3),
        and each member's likelihood-weighted mean tilts."""
        flat = x.reshape(-1)
        _, neighbors = self.tree.query(centers, k=self.n_neighbors)
        best, templates, scores = [], [], []
        for idx in neighbors:
            T = self._templates(idx)
            flat_T = np.clip(T.reshape(len(idx), -1), 1e-6, None)
            # Plain likelihood, without the scan rows: only its ranking matters, and that is free of the dose.
            plain = np.log(flat_T) @ flat - flat_T.sum(1)
            order = np.argsort(plain)[-self.n_best :]
            best.append(idx[order])
            templates.append(T[order])  # kept: the full likelihood scores these again
            scores.append(plain.max())
        member = int(np.argmax(scores))
        electrons = self._electrons(x, templates[member][-1])
        evidence, estimates = [], []
        for idx, T in zip(best, templates):
            ll = self._log_likelihood(x, T, electrons)
            evidence.append(logsumexp(ll))
            weights = np.exp(ll - ll.max())
            estimates.append(weights / weights.sum() @ self.y[idx])
        return evidence, estimates

    def decide(self, X, tilts):
        """Which member of the pair each patch shows, and the templates' estimate of its tilts.

        Parameters
        ----------
        X : ndarray (n, h * w)
        tilts : ndarray (n, 3)
            An estimate of each patch's tilts, either member of the pair.

        Returns
        -------
        swap : ndarray (n,) of bool
            True where the other member, ``tilts @ PAIR_MAP.T``, fits better.
        posterior : ndarray (n, 3)
            Likelihood-weighted mean tilts of the chosen member's best templates.
        log_odds : ndarray (n,)
            Log evidence of the chosen member over the other (>= 0).
        """
        h, w = self.image_shape
        X = np.asarray(X, dtype=np.float64).reshape(-1, h, w)
        tilts = np.asarray(tilts, dtype=np.float64)
        candidates = np.stack([tilts, tilts @ PAIR_MAP.T], 1)  # (n, 2, 3)
        swap = np.zeros(len(X), dtype=bool)
        posterior = np.empty((len(X), 3))
        log_odds = np.empty(len(X))
        for i, x in enumerate(X):
            centers = candidates[i]
            for _ in range(self.n_rounds):
                evidence, estimates = self._score(x, centers)
                centers = np.stack(estimates)
            chosen = int(evidence[1] > evidence[0])
            swap[i] = bool(chosen)
            posterior[i] = estimates[chosen]
            log_odds[i] = abs(evidence[1] - evidence[0])
        return swap, posterior, log_odds
