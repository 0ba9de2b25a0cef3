"""The classes of ``RotationInvariantVAE(n_classes=...)``: modes of the codes joined by what they decode to."""

import math

import numpy as np
import torch
from scipy.cluster.hierarchy import cut_tree, linkage
from scipy.spatial.distance import squareform
from sklearn.mixture import GaussianMixture

from ._geometry import pixel_grid, warp_images
from ._prior import GaussianMixturePrior

# Modes of the code mixture per class (fit_class_prior). On the atom study's
# validation frames (tapers of 5 and 6 px), 3 and 4 per class gave the four
# environments exactly in every run; 2 missed in one of four (0.96). Fitted on
# one frame, 4 per class held on frames with the lattice turned by 7 and 41
# degrees (>= 0.98), where choosing the count by BIC (6-7 modes) fell to 0.82.
MODES_PER_CLASS = 4
_N_TURNS = 72  # 5-degree steps when comparing decoded modes over the circle


def content_posterior(module, chunks, batch_size, device):
    """Posterior mean and variance of z for every row of the chunks, each (n, n_components), in batches."""
    means, variances = [], []
    with torch.no_grad():
        module.eval()
        for Xt in chunks:
            for start in range(0, len(Xt), batch_size):
                xb = torch.as_tensor(Xt[start : start + batch_size], dtype=torch.float64, device=device)
                mean, log_var = module.content_posterior(xb)
                means.append(mean.cpu().numpy())
                variances.append(log_var.exp().cpu().numpy())
    return np.concatenate(means), np.concatenate(variances)


def join_modes(module, means, n_classes, over_circle):
    """Class of every mode: single linkage of their decoded images' distances.

    The distance of two modes is the Euclidean distance of their upright
    images within the inscribed disk, minimised over ``_N_TURNS`` turns of
    one of them when ``over_circle``.
    """
    n_modes = len(means)
    if n_modes <= n_classes:
        return np.arange(n_modes)
    with torch.no_grad():
        module.eval()
        z = torch.as_tensor(means, dtype=torch.float64, device=module.log_scale.device)
        zero = torch.zeros(n_modes, dtype=z.dtype, device=z.device)
        shift = torch.zeros(n_modes, 2, dtype=z.dtype, device=z.device) if module.translation else None
        images = module.decode(z, zero, shift)
        h, w = module.image_shape
        inside = (pixel_grid((h, w)).to(images).norm(dim=1) <= min(h, w) / 2).to(images.dtype)
        angles = torch.arange(_N_TURNS if over_circle else 1, dtype=z.dtype, device=z.device)
        angles = angles * (2 * math.pi / _N_TURNS)
        masked = images * inside
        norms = masked.square().sum(1)
        rows = []
        for image in images:  # one mode's turns against every mode: (turns, modes), not (turns, modes, pixels)
            turned = warp_images(image.view(1, 1, h, w).expand(len(angles), -1, -1, -1), angles, None)
            turned = turned.flatten(1) * inside
            sq = turned.square().sum(1)[:, None] + norms[None] - 2.0 * turned @ masked.T
            rows.append(sq.min(0).values.clamp_min(0.0).sqrt().cpu().numpy())
        dist = np.stack(rows)
    dist = np.minimum(dist, dist.T)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), "single")
    return cut_tree(tree, n_clusters=n_classes).ravel()


def fit_class_prior(module, chunks, n_classes, batch_size, seed, over_circle):
    """Fit the class mixture on the codes of the trained ``module`` and attach it; the class of every row.

    ``chunks`` are the standardised training images, one array after the
    other (one for data in memory, a chunk at a time for a stream).
Fit the class mixture on the codes of the trained network; return the classes.

    Two steps, both on the trained network. Modes: a Gaussian mixture of
    ``MODES_PER_CLASS * n_classes`` normals fitted by EM to the codes,
    because an environment's codes can form several tight groups and a
    rare class is a small group beside a large one's (four Gaussians
    picked the four largest groups, not the four environments).
    Classes: the modes' decoded images, compared by their distance
    minimised over turns (the whole circle with the uniform rotation
    prior), joined by single linkage into ``n_classes``. So two modes
    share a class when the images they stand for look alike, however far
    apart their codes lie.
    """
    device = module.log_scale.device
    # The encoder's pass of transform, in its batches (in float64, like the module by now).
    codes, variance = content_posterior(module, chunks, batch_size, device)
    # No more modes than distinct codes (EM would leave the rest empty), no fewer than classes.
    n_distinct = len(np.unique(codes, axis=0))
    n_modes = max(n_classes, min(MODES_PER_CLASS * n_classes, n_distinct))
    mixture = GaussianMixture(n_modes, covariance_type="full", n_init=3, random_state=seed).fit(codes)
    mode_class = join_modes(module, mixture.means_, n_classes, over_circle)
    # The prior's modes: the codes' modes widened by their posterior variance (the aggregate
    # posterior's moments). Modes as tight as the codes cost a KL of thousands of nats on
    # under-trained codes, far below the standard normal's; the classes use the tight ones.
    gamma = mixture.predict_proba(codes)
    widened = mixture.covariances_.copy()
    diagonal = np.arange(module.n_components)
    widened[:, diagonal, diagonal] += (gamma.T @ variance) / np.maximum(gamma.sum(0), 1e-300)[:, None]
    prior = GaussianMixturePrior(n_classes, module.n_components, n_modes).to(device=device, dtype=torch.float64)
    prior.set_mixture(mixture.weights_, mixture.means_, widened, mode_class, mixture.covariances_)
    module.class_prior = prior.train(module.training)
    with torch.no_grad():
        log_proba = prior.class_log_proba(torch.as_tensor(codes, device=device))
    return log_proba.argmax(1).cpu().numpy()
