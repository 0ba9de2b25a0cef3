"""The prior over the codes z with ``n_classes``: a mixture of Gaussian modes, and its numpy view.

``GaussianMixturePrior`` is the torch module the rVAE's KL term uses once
the classes are fitted (``_classes.fit_class_prior``); ``LatentPrior`` is
what a user, ``sample`` and the plotting read from a fitted model.
"""

import math

import numpy as np
import torch
from torch import nn

from ._losses import _LOG_2PI


class GaussianMixturePrior(nn.Module):
    """A categorical class c over the content z, each class a mixture of normal modes.

    Two mixtures share the weights w_m and means mu_m. The codes' mixture
    (``code_covariances``: the modes of the posterior means, tight) gives
    the classes: class c owns the modes m with ``mode_class[m] == c``, and
    q(c | x) is the sum of its modes' responsibilities at the posterior mean
    of z (as in VaDE, Jiang et al. 2017). A class of several modes holds an
    environment whose codes form more than one group (an environment seen
    from both sublattices, say). The prior p(z) = sum_m w_m N(z; mu_m,
    Sigma_m) has those modes widened by their codes' posterior variance
    (``covariances``: the moments of the aggregate posterior), so that a
    mode narrower than the posteriors it holds does not inflate the KL. The
    KL term of the ELBO is minimised over q(m | x) exactly: with KL_m =
    KL(q(z | x) || N(mu_m, Sigma_m)), it is -log sum_m w_m exp(-KL_m), at
    q(m | x) proportional to w_m exp(-KL_m). The mixtures are set with
    :meth:`set_mixture` (the estimator fits them to the codes of the trained
    network); until then every mode is N(0, I), where this is the standard
    normal prior exactly.
    """

    def __init__(self, n_classes, n_components, n_modes=None):
        super().__init__()
        n_modes = n_classes if n_modes is None else int(n_modes)
        self.n_classes = int(n_classes)
        eye = torch.eye(n_components).expand(n_modes, -1, -1).clone()
        self.register_buffer("means", torch.zeros(n_modes, n_components))
        self.register_buffer("covariances", eye)
        self.register_buffer("code_covariances", eye.clone())
        self.register_buffer("log_weights", torch.full((n_modes,), -math.log(n_modes)))
        self.register_buffer("mode_class", torch.arange(n_modes) % self.n_classes)

    def __setstate__(self, state):
        super().__setstate__(state)
        if "mode_class" not in self._buffers:  # pickled before classes had several modes: one each
            n_modes = len(self.means)
            self.n_classes = n_modes
            self.register_buffer("mode_class", torch.arange(n_modes, device=self.means.device))
        # Pickled before the prior's modes were widened: classes as they were, the prior as tight
        # as the codes (score as low as it was then; refit for the widened prior).
        if "code_covariances" not in self._buffers:
            self.register_buffer("code_covariances", self.covariances.clone())

    def set_mixture(self, weights, means, covariances, mode_class=None, code_covariances=None):
        """Set w (m,), mu (m, d), Sigma (m, d, d) and, optionally, each mode's class (m,).

        Without ``mode_class`` the classes stay as they are (at first, mode m
        in class ``m % n_classes``). ``code_covariances`` (m, d, d), the
        modes of the posterior means that the responsibilities use, default
        to ``covariances``.
        """
        like = self.means
        self.log_weights.copy_(torch.log(torch.as_tensor(weights, dtype=like.dtype)))
        self.means.copy_(torch.as_tensor(means, dtype=like.dtype))
        self.covariances.copy_(torch.as_tensor(covariances, dtype=like.dtype))
        codes = covariances if code_covariances is None else code_covariances
        self.code_covariances.copy_(torch.as_tensor(codes, dtype=like.dtype))
        if mode_class is not None:
            self.mode_class.copy_(torch.as_tensor(mode_class, dtype=torch.long))

    def class_log_proba(self, z):
        """log q(c | z), shape (B, n_classes): each class's modes' responsibilities summed."""
        log_gamma = self.log_responsibility(z)
        out = log_gamma.new_full((z.shape[0], self.n_classes), -math.inf)
        for c in range(self.n_classes):
            own = self.mode_class == c
            if own.any():
                out[:, c] = torch.logsumexp(log_gamma[:, own], dim=1)
        return out

    def _solve(self, rhs, covariances):
        """Sigma_m^-1 rhs for rhs (B, k, d), and log det Sigma_m (k,), over the k modes."""
        chol = torch.linalg.cholesky(covariances)  # (k, d, d)
        half = torch.linalg.solve_triangular(chol, rhs.permute(1, 2, 0), upper=False)  # (k, d, B)
        log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)
        return half, chol, log_det

    def log_responsibility(self, z):
        """Log-responsibility of every mode at z under the codes' mixture, shape (B, n_modes)."""
        half, _, log_det = self._solve(z[:, None, :] - self.means, self.code_covariances)
        maha = (half**2).sum(1).T  # (B, k)
        log_norm = -0.5 * (maha + log_det + z.shape[1] * _LOG_2PI)
        return torch.log_softmax(self.log_weights + log_norm, dim=1)

    def kl(self, mean, log_var):
        """Per-sample KL of q(z | x) = N(mean, diag exp(log_var)) and the best q(m | x) against the prior.

        min over q(m) of sum_m q_m KL_m + KL(q(m) || w) = -logsumexp_m(log w_m - KL_m).
        """
        half, chol, log_det = self._solve(mean[:, None, :] - self.means, self.covariances)
        maha = (half**2).sum(1).T  # (B, k)
        inv = torch.cholesky_inverse(chol)  # (k, d, d)
        trace = log_var.exp() @ torch.diagonal(inv, dim1=1, dim2=2).T  # (B, k)
        per_mode = 0.5 * (trace + maha - mean.shape[1] + log_det[None] - log_var.sum(1, keepdim=True))
        return -torch.logsumexp(self.log_weights - per_mode, dim=1)


class LatentPrior:
    """The prior over a fitted model's codes z, as numpy arrays: a mixture of Gaussian modes.

    Without classes it is one mode, N(0, I). With ``n_classes`` it is the
    mixture fitted to the codes of the trained network (``fit_class_prior``):
    ``weights`` (m,), ``means`` (m, d), ``covariances`` (m, d, d) of the
    prior (the codes' modes widened by their posterior variance, what
    ``sample`` draws from), ``code_covariances`` (m, d, d) of the codes
    themselves (what the class probabilities use) and ``mode_class`` (m,),
    the class each mode belongs to (``None`` without classes).
    """

    def __init__(self, weights, means, covariances, code_covariances, mode_class):
        self.weights, self.means, self.covariances = weights, means, covariances
        self.code_covariances, self.mode_class = code_covariances, mode_class

    @classmethod
    def of(cls, module, n_components):
        prior = module.class_prior
        if prior is None:
            eye = np.eye(n_components)[None]
            return cls(np.ones(1), np.zeros((1, n_components)), eye, eye.copy(), None)
        def numpy(t, dtype=np.float64):
            return t.detach().cpu().numpy().astype(dtype)
        weights = np.exp(numpy(prior.log_weights))
        return cls(weights / weights.sum(), numpy(prior.means), numpy(prior.covariances),
                   numpy(prior.code_covariances), numpy(prior.mode_class, np.int64))

    def code_moments(self):
        """Mean and standard deviation of each latent over the codes' mixture (not widened)."""
        mean = self.weights @ self.means
        second = self.weights @ (np.diagonal(self.code_covariances, axis1=1, axis2=2) + self.means**2)
        return mean, np.sqrt(np.maximum(second - mean**2, 0.0))

    def sample(self, n, rng):
        """``n`` draws of z (n, d) from the prior, with ``rng`` (a numpy RandomState)."""
        z = rng.standard_normal((n, self.means.shape[1]))
        if self.mode_class is None:
            return z  # N(0, I): the draws as they are
        mode = rng.choice(len(self.weights), size=n, p=self.weights)
        chol = np.linalg.cholesky(self.covariances)
        return self.means[mode] + np.einsum("nij,nj->ni", chol[mode], z)
