"""The rVAE's objective: per-sample negative log-likelihood and KL terms, and the skorch criterion."""

import math

import numpy as np
import torch
from torch import nn

_LOG_2PI = math.log(2.0 * math.pi)


def negative_log_likelihood(x, recon, log_scale, likelihood, pixel_axis=1):
    """Per-sample negative log-likelihood summed over pixels (nats).

    ``x`` and ``recon`` (B, P), ``log_scale`` (B,). For the Bernoulli
    likelihood the images may lie along another ``pixel_axis`` of a larger
    tensor (the circular model's (P, K, B) stack of turned copies).
    """
    if likelihood == "bernoulli":
        p = recon.clamp(1e-6, 1.0 - 1e-6)
        return -(x * torch.log(p) + (1.0 - x) * torch.log1p(-p)).sum(pixel_axis)
    ls = log_scale.unsqueeze(1)
    return (0.5 * (x - recon) ** 2 * torch.exp(-2.0 * ls) + ls + 0.5 * _LOG_2PI).sum(1)


def kl_standard_normal(mean, log_var):
    """Per-sample, per-latent KL(N(mean, exp(log_var)) || N(0, 1)), shape (B, L)."""
    return 0.5 * (mean**2 + torch.exp(log_var) - 1.0 - log_var)


def elbo_terms(outputs, x, likelihood, module=None):
    """Per-sample (negative log-likelihood, KL) from the module's output tuple.

    The circular module's tuple (five entries) carries both terms already:
    they are summed over its rotation bins inside the module. ``module``
    gives the prior of z (a class mixture) for the four-entry tuple.
    """
    if len(outputs) == 5:
        return outputs[3], outputs[4]
    recon, log_scale, mean, log_var = outputs
    nll = negative_log_likelihood(x, recon, log_scale, likelihood)
    if module is None or module.class_prior is None:
        return nll, kl_standard_normal(mean, log_var).sum(1)
    n_pose = module.n_pose
    kl = kl_standard_normal(mean[:, :n_pose], log_var[:, :n_pose]).sum(1)
    return nll, kl + module.kl_content(mean[:, n_pose:], log_var[:, n_pose:])


def monte_carlo_elbo(module, X, n_draws, batch_size, device):
    """ELBO of every row of X (float64, the module's units), averaged over ``n_draws`` posterior draws.

    The standard normal draws are fixed (seeded, in antithetic pairs) and the
    same for every row, so a row's value depends on that row alone, not on
    its position in X, and repeated calls agree. KL weight 1.
    """
    n_lat = module.n_noise
    half = torch.randn(max(1, -(-n_draws // 2)), n_lat, generator=torch.Generator().manual_seed(0),
                       dtype=torch.float64)
    draws = torch.cat([half, -half]).to(device)
    out = np.empty(X.shape[0])
    with torch.no_grad():
        module.eval()
        for start in range(0, X.shape[0], batch_size):
            xb = torch.as_tensor(X[start : start + batch_size], device=device)
            total = torch.zeros(xb.shape[0], dtype=torch.float64, device=xb.device)
            for eps in draws:
                nll, kl = elbo_terms(module(xb, noise=eps.expand(xb.shape[0], n_lat)), xb, module.likelihood, module)
                total -= nll + kl
            out[start : start + batch_size] = (total / len(draws)).cpu().numpy()
    return out


class NegativeELBO(nn.Module):
    """Training criterion: mean over the batch of ``NLL + beta * KL``.

    With ``capacity=(c_max, n_epochs, gamma)`` the KL term is replaced by
    ``gamma * |KL - C|`` with C growing linearly from 0 to ``c_max`` nats over
    ``n_epochs`` (Burgess et al., 2018), as in AtomAI's rVAE.
    """

    def __init__(self, likelihood="gaussian", beta=1.0, capacity=None):
        super().__init__()
        self.likelihood = likelihood
        self.beta = beta
        self.capacity = capacity

    def forward(self, outputs, x, epoch=1, module=None):
        nll, kl = elbo_terms(outputs, x, self.likelihood, module)
        if self.capacity is None:
            return (nll + self.beta * kl).mean()
        c_max, n_epochs, gamma = self.capacity
        c = c_max * min(1.0, max(epoch - 1, 0) / max(n_epochs, 1))
        return nll.mean() + gamma * (kl.mean() - c).abs()
