"""PyTorch modules of the rotationally invariant VAE (rVAE and rrVAE).

Latent layout, shared by both decoders: ``[angle, (dx, dy), z_1 ... z_n]``.
Every latent has a standard normal prior (with ``n_classes``, z has a
mixture of ``n_classes`` normals instead: :class:`GaussianMixturePrior`); the angle and shift are scaled by
their prior widths before they are applied (``angle = rotation_prior * u``),
which is the same model as a N(0, prior**2) prior on the pose itself.

The pose convention, the pixel grid and warping are in ``_geometry``; the
objective in ``_losses``; the sparse turns of the circular model in
``_turns``; the class mixture prior in ``_prior``.
"""

import math
import warnings

import torch
from torch import nn

from ._geometry import pixel_grid, upright_coordinates, warp_images
from ._losses import _LOG_2PI, NegativeELBO, kl_standard_normal, negative_log_likelihood  # noqa: F401
from ._prior import GaussianMixturePrior  # noqa: F401  (pickles made before the split name it here)
from ._turns import TurnedSquaredError, turn_all, turn_matrix

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU, "elu": nn.ELU}


def _mlp(sizes, activation):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), _ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """Amortised Gaussian posterior over ``[pose, z]`` from a flattened image."""

    def __init__(self, n_pixels, n_latent, hidden_layer_sizes, activation):
        super().__init__()
        self.body = _mlp([n_pixels, *hidden_layer_sizes], activation)
        self.head = nn.Linear(hidden_layer_sizes[-1], 2 * n_latent)  # [mean, log_var]

    def forward(self, x):
        return self.head(self.body(x)).chunk(2, dim=1)


class SpatialDecoder(nn.Module):
    """The rVAE's spatial decoder: an MLP over (rotated, shifted coordinate, z).

    It evaluates the network once per pixel, so its cost grows with
    ``h * w * hidden**2`` per sample. Two departures from the reference
    design (AtomAI, pyroVED):

    - the coordinate enters with ``n_fourier`` random Fourier features
      (Tancik et al. 2020; fixed frequencies drawn N(0, 3**2) per unit of
      half-width). The plain coordinate MLP is biased towards smooth images
      and underfits: on rotated digits at 60 epochs it reached KMeans ARI
      0.42 and 5-NN accuracy 0.60, against 0.61 and 0.73 with 16 features,
      for 14% more time per epoch;
    - ``concat([features, z]) @ W`` is computed as ``features @ W_f + z @ W_z``
      so the z part is done once per image, not once per pixel (the same
      function, less work).
    """

    def __init__(self, image_shape, n_components, hidden_layer_sizes, activation, n_fourier=16):
        super().__init__()
        self.register_buffer("points", pixel_grid(image_shape), persistent=False)
        self.coord_scale = max(image_shape) / 2.0
        # Fixed, not learned; seeded so every fit uses the same frequencies.
        freqs = torch.randn(2, n_fourier, generator=torch.Generator().manual_seed(0)) * 3.0
        self.register_buffer("freqs", freqs)
        first = hidden_layer_sizes[0]
        self.coord_in = nn.Linear(2 + 2 * n_fourier, first)
        self.z_in = nn.Linear(n_components, first, bias=False)
        self.act = _ACTIVATIONS[activation]()
        self.body = nn.Sequential(
            *_mlp(list(hidden_layer_sizes), activation),
            nn.Linear(hidden_layer_sizes[-1], 1),
        )

    def forward(self, z, angle, shift):
        coords = upright_coordinates(self.points, angle, shift) / self.coord_scale
        proj = coords @ self.freqs
        features = torch.cat([coords, torch.sin(proj), torch.cos(proj)], dim=-1)
        h = self.act(self.coord_in(features) + self.z_in(z).unsqueeze(1))
        return self.body(h).squeeze(-1)


class ConvDecoder(nn.Module):
    """Fast decoder (``decoder="conv"``): draw the upright image once, then resample it.

    An MLP maps z to the whole upright image and :func:`warp_images` applies
    the pose by differentiable bilinear resampling (a spatial-transformer
    decoder), so the network runs once per image instead of once per pixel.
    It has no convolution layer: on a CPU, a transposed-convolution head
    measured 1.6x slower per training step at 20x20 pixels without better
    latents. ``output_fn`` (sigmoid for the Bernoulli likelihood) is applied
    before the warp, so the zero fill of the resampling means zero intensity.
    """

    def __init__(self, image_shape, n_components, hidden_layer_sizes, activation):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.register_buffer("points", pixel_grid(image_shape), persistent=False)
        self.trunk = _mlp([n_components, *hidden_layer_sizes], activation)
        self.out = nn.Linear(hidden_layer_sizes[-1], image_shape[0] * image_shape[1])

    def upright(self, z):
        return self.out(self.trunk(z)).view(-1, 1, *self.image_shape)

    def forward(self, z, angle, shift, output_fn=None):
        img = self.upright(z)
        if output_fn is not None:
            img = output_fn(img)
        return warp_images(img, angle, shift, self.points).flatten(1)


class RotationInvariantVAEModule(nn.Module):
    """rVAE (rotation + translation) or rrVAE (rotation only) as one module.

    ``forward(x)`` returns ``(mean, log_scale, latent_mean, latent_log_var)``:
    the mean image under the decoded pose (probabilities for the Bernoulli
    likelihood), the Gaussian log-scale broadcast to the batch, and the
    posterior parameters of ``[angle, (dx, dy), z]``. In training mode the
    latents are sampled; in eval mode their means are used.
    """

    def __init__(
        self,
        image_shape,
        n_components=2,
        translation=True,
        decoder="conv",
        hidden_layer_sizes=(128, 128),
        activation="tanh",
        likelihood="gaussian",
        noise_scale=None,
        rotation_prior=1.0,
        translation_prior=2.0,
    ):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.n_components = int(n_components)
        self.translation = bool(translation)
        self.n_pose = 3 if translation else 1
        self.likelihood = likelihood
        self.rotation_prior = float(rotation_prior)
        self.translation_prior = float(translation_prior)
        n_pixels = self.image_shape[0] * self.image_shape[1]
        self.encoder = MLPEncoder(
            n_pixels, self.n_pose + self.n_components, hidden_layer_sizes, activation
        )
        decoder_cls = {"conv": ConvDecoder, "spatial": SpatialDecoder}[decoder]
        self.decoder = decoder_cls(
            self.image_shape, self.n_components, hidden_layer_sizes, activation
        )
        learn = noise_scale is None
        self.log_scale = nn.Parameter(
            torch.tensor(0.0 if learn else math.log(noise_scale)), requires_grad=learn
        )
        # A GaussianMixturePrior over z, attached after training (n_classes).
        self.class_prior = None

    def kl_content(self, mean, log_var):
        """Per-sample KL of the content z against its prior (standard normal, or the class mixture)."""
        if self.class_prior is None:
            return kl_standard_normal(mean, log_var).sum(1)
        return self.class_prior.kl(mean, log_var)

    def content_posterior(self, x):
        """Mean and log-variance of q(z | x), the content without the pose."""
        mean, log_var = self.encoder(x)
        return mean[:, self.n_pose :], log_var[:, self.n_pose :]

    @property
    def n_noise(self):
        """Standard normal draws per sample: the pose, then z."""
        return self.n_pose + self.n_components

    def split_latent(self, latent):
        """Return (angle in radians, shift in pixels or None, z)."""
        angle = latent[:, 0] * self.rotation_prior
        shift = latent[:, 1:3] * self.translation_prior if self.translation else None
        return angle, shift, latent[:, self.n_pose :]

    def decode(self, z, angle, shift):
        if isinstance(self.decoder, ConvDecoder):
            fn = torch.sigmoid if self.likelihood == "bernoulli" else None
            return self.decoder(z, angle, shift, output_fn=fn)
        out = self.decoder(z, angle, shift)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def forward(self, x, noise=None):
        mean, log_var = self.encoder(x)
        latent = mean
        if self.training or noise is not None:
            if noise is None:
                noise = torch.randn_like(mean)
            latent = mean + torch.exp(0.5 * log_var) * noise
        angle, shift, z = self.split_latent(latent)
        recon = self.decode(z, angle, shift)
        return recon, self.log_scale.expand(x.shape[0]), mean, log_var


class CircularRotationVAEModule(RotationInvariantVAEModule):
    """rVAE / rrVAE with a uniform prior on the angle over the whole circle.

    The angle is a rotation bin k (K bins spanning ``2 pi / symmetry``) plus a
    normal offset; the prior is a uniform bin and an offset of standard
    deviation half a bin width, whose mixture over the bins is uniform on the
    circle to within 1%. Inference and likelihood:

    - bin evidence: the input is turned back by every bin centre (a fixed
      sparse gather, :func:`turn_matrix`) and a small shared MLP scores each
      copy as "upright or not", so turning the input by a bin step moves the
      evidence by one bin, whatever the weights;
    - content, offset and shift: the main encoder MLP reads the copies
      averaged with the bin probabilities ``q_k`` (the input turned upright,
      invariant under a turn), once per sample;
    - the likelihood is summed exactly over the bins: the upright template is
      decoded once, resampled once by the offset and shift, and turned to
      every bin centre by the fixed sparse matrix.

    The shift ``t`` is drawn in the template's frame (applied before the
    turn), which under the isotropic normal prior is the same model as a
    shift in the image frame; reported shifts are turned into the image frame.

    ``forward(x)`` returns ``(recon, log_scale, summary, nll, kl)``: the mean
    image at the most probable bin, the Gaussian log-scale, the posterior
    summary ``[angle, (dx, dy), z, q_1 ... q_K]`` (angle in radians, shift in
    units of ``translation_prior`` in the image frame, z means, bin
    probabilities), and the per-sample expected negative log-likelihood and KL
    divergence summed over the bins.
    """

    def __init__(self, image_shape, n_components=2, translation=True, decoder="conv",
                 hidden_layer_sizes=(128, 128), activation="tanh", likelihood="gaussian",
                 noise_scale=None, rotation_symmetry=1, n_rotation_bins=12,
                 translation_prior=2.0, scorer_hidden=32):
        super().__init__(image_shape, n_components, translation, decoder, hidden_layer_sizes,
                         activation, likelihood, noise_scale, 1.0, translation_prior)
        self.rotation_symmetry = int(rotation_symmetry)
        self.n_rotation_bins = int(n_rotation_bins)
        self.bin_width = 2.0 * math.pi / (self.rotation_symmetry * self.n_rotation_bins)
        self.offset_prior = 0.5 * self.bin_width
        centers = torch.arange(self.n_rotation_bins, dtype=torch.float64) * self.bin_width
        self.register_buffer("centers", centers, persistent=False)  # float64: exact quarter turns
        turn = turn_matrix(self.image_shape, centers)
        self.register_buffer("turn_back", turn_matrix(self.image_shape, -centers), persistent=False)
        self.register_buffer("turn", turn, persistent=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            turn_t = turn.to_sparse_coo().t().coalesce().to_sparse_csr()
        self.register_buffer("turn_t", turn_t, persistent=False)
        n_pixels = self.image_shape[0] * self.image_shape[1]
        self.score_hidden = nn.Linear(n_pixels, scorer_hidden)
        self.score_act = _ACTIVATIONS[activation]()
        self.score_out = nn.Linear(scorer_hidden, 1)
        # [offset mean, offset log-var, (t mean, t log-var), z mean, z log-var]
        n_out = 2 + (4 if self.translation else 0) + 2 * self.n_components
        self.encoder = nn.Sequential(
            _mlp([n_pixels, *hidden_layer_sizes], activation), nn.Linear(hidden_layer_sizes[-1], n_out)
        )

    @property
    def n_noise(self):
        """Standard normal draws per sample: the offset, the shift, z."""
        return self.n_pose + self.n_components

    def posterior(self, x):
        """Bin log-probabilities (B, K) and the normal parameters of the offset, shift and z."""
        return self._posterior(x.T.contiguous())

    def content_posterior(self, x):
        """Mean and log-variance of q(z | x), the content without the pose."""
        return self.posterior(x)[5:]

    def _posterior(self, columns):
        copies = turn_all(self.turn_back, columns)  # (P, K, B)
        n_pix, k, b = copies.shape
        # The scorer MLP on every copy, as one product over all (bin, sample) columns.
        hidden = self.score_act(
            torch.addmm(self.score_hidden.bias[:, None], self.score_hidden.weight, copies.view(n_pix, -1))
        )
        logits = torch.addmm(self.score_out.bias[:, None], self.score_out.weight, hidden).view(k, b)
        log_q = torch.log_softmax(logits.T, dim=1)  # (B, K)
        # The copies averaged by q, one bin at a time: no second (P, K, B) tensor.
        q_t = log_q.exp().T
        upright = copies[:, 0] * q_t[0]
        for j in range(1, k):
            upright = upright + copies[:, j] * q_t[j]
        out = self.encoder(upright.T)
        offset_mean = self.bin_width * torch.tanh(out[:, 0])  # within one bin of the centre
        offset_log_var = out[:, 1]
        t_mean = t_log_var = None
        rest = out[:, 2:]
        if self.translation:
            t_mean, t_log_var, rest = rest[:, :2], rest[:, 2:4], rest[:, 4:]
        n = self.n_components
        return log_q, offset_mean, offset_log_var, t_mean, t_log_var, rest[:, :n], rest[:, n:]

    def forward(self, x, noise=None):
        columns = x.T.contiguous()  # images as columns: every (P, K, B) product runs row-major
        log_q, off_m, off_lv, t_m, t_lv, z_m, z_lv = self._posterior(columns)
        b, k = log_q.shape
        n_pix = columns.shape[0]
        sample = self.training or noise is not None
        if sample and noise is None:
            noise = torch.randn(b, self.n_noise, dtype=x.dtype, device=x.device)
        offset, t, z = off_m, t_m, z_m
        if sample:
            offset = off_m + torch.exp(0.5 * off_lv) * noise[:, 0]
            if self.translation:
                t = t_m + torch.exp(0.5 * t_lv) * noise[:, 1:3]
            z = z_m + torch.exp(0.5 * z_lv) * noise[:, self.n_pose :]
        template = self.decoder_upright(z)
        shift = None if t is None else t * self.translation_prior
        posed = warp_images(template, offset, shift, self.decoder.points).flatten(1)
        log_scale = self.log_scale.expand(b)
        if self.likelihood == "gaussian":
            sq = TurnedSquaredError.apply(self.turn, self.turn_t, posed.T.contiguous(), columns)
            nll_bins = (0.5 * sq * torch.exp(-2.0 * log_scale) + n_pix * (log_scale + 0.5 * _LOG_2PI)).T
        else:
            turned = turn_all(self.turn, posed.T, self.turn_t)  # (P, K, B)
            nll_bins = negative_log_likelihood(
                columns.unsqueeze(1), turned, None, self.likelihood, pixel_axis=0
            ).T  # (B, K)
        q = log_q.exp()
        nll = (q * nll_bins).sum(1)
        kl = (q * (log_q + math.log(k))).sum(1)  # the bin, against uniform
        kl = kl + 0.5 * (
            (off_m**2 + off_lv.exp()) / self.offset_prior**2 - 1.0 - off_lv
            + 2.0 * math.log(self.offset_prior)
        )
        kl = kl + self.kl_content(z_m, z_lv)
        best = q.argmax(1)
        angle = self.centers.to(x.dtype)[best] + off_m
        parts = [angle[:, None]]
        if self.translation:
            kl = kl + kl_standard_normal(t_m, t_lv).sum(1)
            # Image-frame shift of the chosen bin: s = R(-theta_k) t.
            parts.append(_rotate_vectors(t_m, -self.centers.to(x.dtype)[best]))
        summary = torch.cat(parts + [z_m, q], dim=1)
        # The chosen bin's image: the posed template turned by its centre.
        recon = warp_images(
            posed.view(b, 1, *self.image_shape), self.centers.to(x.dtype)[best], None, self.decoder.points
        ).flatten(1)
        return recon, log_scale, summary, nll, kl

    def decode(self, z, angle, shift):
        """Mean images at any pose, drawn the way the model draws its own.

        The angle is split into the nearest bin centre and the rest; the
        template is resampled by the rest (and the shift, turned into the
        template's frame) and then turned by the bin centre, so
        ``decode(z, angle, shift)`` at a sample's posterior pose equals its
        reconstruction whenever its offset lies within half a bin.
        """
        k = torch.remainder(torch.round(angle / self.bin_width), self.n_rotation_bins).long()
        center = self.centers.to(angle.dtype)[k]
        period = 2 * math.pi / self.rotation_symmetry  # an angle counts modulo the symmetry
        rest = torch.remainder(angle - center + period / 2, period) - period / 2
        t = None if shift is None else _rotate_vectors(shift, center)
        posed = warp_images(self.decoder_upright(z), rest, t, self.decoder.points)
        return warp_images(posed, center, None, self.decoder.points).flatten(1)

    def decoder_upright(self, z):
        """The upright template (B, 1, h, w), output function applied."""
        if isinstance(self.decoder, ConvDecoder):
            img = self.decoder.upright(z)
            return torch.sigmoid(img) if self.likelihood == "bernoulli" else img
        zero = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        shift = torch.zeros(z.shape[0], 2, dtype=z.dtype, device=z.device) if self.translation else None
        out = self.decoder(z, zero, shift)
        return (torch.sigmoid(out) if self.likelihood == "bernoulli" else out).view(-1, 1, *self.image_shape)


def _rotate_vectors(vectors, angle):
    """Turn (x, y) vectors (B, 2) by ``R(angle)``, the matrix of :func:`upright_coordinates`."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    x, y = vectors[:, 0], vectors[:, 1]
    return torch.stack([cos * x - sin * y, sin * x + cos * y], dim=1)
