"""PyTorch modules of the rotationally invariant VAE (rVAE and rrVAE).

Latent layout, shared by both decoders: ``[angle, (dx, dy), z_1 ... z_n]``.
Every latent has a standard normal prior (with ``n_classes``, z has a
mixture of ``n_classes`` normals instead: :class:`GaussianMixturePrior`); the angle and shift are scaled by
their prior widths before they are applied (``angle = rotation_prior * u``),
which is the same model as a N(0, prior**2) prior on the pose itself.

Pose convention (used everywhere in the package): an image is a (h, w) array
shown with row 0 at the top. A positive angle rotates the image
counter-clockwise on screen about its centre, as ``scipy.ndimage.rotate``
does; the shift ``(dx, dy)`` is in pixels, dx along columns (right) and dy
along rows (down), applied after the rotation.
"""

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

_LOG_2PI = math.log(2.0 * math.pi)
_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU, "elu": nn.ELU}


def _mlp(sizes, activation):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), _ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


def pixel_grid(image_shape):
    """Pixel-centre coordinates (x, y) relative to the image centre, shape (h*w, 2)."""
    h, w = image_shape
    ys = torch.arange(h, dtype=torch.float32) - (h - 1) / 2.0
    xs = torch.arange(w, dtype=torch.float32) - (w - 1) / 2.0
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def upright_coordinates(points, angle, shift):
    """Map output pixel positions to the upright frame: ``R(angle) (p - shift)``.

    ``points`` (P, 2) in pixels, ``angle`` (B,) in radians, ``shift`` (B, 2)
    in pixels or None. Returns (B, P, 2). With y pointing down, this matrix
    makes the output the upright image rotated counter-clockwise on screen.
    """
    p = points.unsqueeze(0)
    if shift is not None:
        p = p - shift.unsqueeze(1)
    cos = torch.cos(angle)[:, None]
    sin = torch.sin(angle)[:, None]
    x, y = p[..., 0], p[..., 1]
    return torch.stack([cos * x - sin * y, sin * x + cos * y], dim=-1)


def warp_images(images, angle, shift, points=None):
    """Rotate (about the centre) then shift a batch of images, differentiably.

    ``images`` (B, C, h, w); ``angle`` (B,) radians; ``shift`` (B, 2) pixels
    or None; ``points``, optionally, ``pixel_grid((h, w))`` computed once by
    the caller. Pixels that come from outside the frame are zero. Same result
    as ``F.affine_grid`` + ``grid_sample``, with the grid built directly from
    the pixel coordinates (fewer small ops per step).
    """
    b, _, h, w = images.shape
    if points is None:
        points = pixel_grid((h, w)).to(images)
    # grid_sample reads coordinates normalised to [-1, 1] over the frame's
    # outer pixel edges (align_corners=False): x / (w/2), y / (h/2).
    grid = upright_coordinates(points, angle, shift) * points.new_tensor([2.0 / w, 2.0 / h])
    return F.grid_sample(
        images, grid.view(b, h, w, 2), mode="bilinear", padding_mode="zeros", align_corners=False
    )


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
      for 14% more time per epoch (benchmarks/RESULTS.md);
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



def turn_matrix(image_shape, angles):
    """Sparse (h * w * K, h * w) CSR matrix that turns an image by each of ``angles``.

    Row ``p * K + k`` holds the bilinear weights of :func:`warp_images` at
    angle ``angles[k]`` (radians, no shift; zero outside the frame) for
    output pixel p, so ``(M @ X).view(h * w, K, B)`` turns the images held as
    the columns of X by every angle. For angles fixed once (the rotation
    bins) this gathers four pixels per output pixel: far cheaper on a CPU
    than K resamplings.
    """
    h, w = image_shape
    points = pixel_grid(image_shape).double()
    angles = torch.as_tensor(angles, dtype=torch.float64)
    n_pix = h * w
    src = upright_coordinates(points, angles, None)  # (K, P, 2)
    col = src[..., 0] + (w - 1) / 2.0
    row = src[..., 1] + (h - 1) / 2.0
    c0, r0 = torch.floor(col), torch.floor(row)
    fc, fr = col - c0, row - r0
    out_index = torch.arange(n_pix * len(angles)).view(n_pix, len(angles)).T
    rows, cols, vals = [], [], []
    for dr, dc, weight in [(0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                           (1, 0, fr * (1 - fc)), (1, 1, fr * fc)]:
        rr, cc = r0 + dr, c0 + dc
        inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w) & (weight > 0)
        rows.append(out_index[inside])
        cols.append((rr[inside] * w + cc[inside]).long())
        vals.append(weight[inside])
    with warnings.catch_warnings():
        # torch flags sparse CSR as beta and its invariant checks as off.
        warnings.simplefilter("ignore", UserWarning)
        matrix = torch.sparse_coo_tensor(
            torch.stack([torch.cat(rows), torch.cat(cols)]), torch.cat(vals).float(),
            (n_pix * len(angles), n_pix),
        )
        return matrix.coalesce().to_sparse_csr()


def _sparse_mm(matrix, dense):
    """CSR times row-major dense into a new row-major result."""
    return torch.mm(matrix, dense, out=dense.new_empty(matrix.shape[0], dense.shape[1]))


class _TurnedSquaredError(torch.autograd.Function):
    """``||turn_k(posed_b) - x_b||^2`` for every bin k and image b, as (K, B).

    One fused step instead of autograd's chain (turn, subtract, square, sum
    and their backward passes): the (P, K, B) stack of turned copies is the
    largest tensor of a training step. Here it is allocated once, the
    difference is taken in place and kept for the backward pass, which
    reuses it for the gradient (so the backward pass runs once:
    ``once_differentiable``). Differentiable in ``posed`` only.
    """

    @staticmethod
    def forward(ctx, matrix, matrix_t, posed, x):
        n_pix, b = posed.shape
        diff = _sparse_mm(matrix, posed).view(n_pix, -1, b)
        diff.sub_(x.unsqueeze(1))
        ctx.save_for_backward(matrix_t, diff)
        ctx.used = False
        return torch.linalg.vector_norm(diff, dim=0).square_()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        if ctx.used:
            raise RuntimeError("the circular rVAE's likelihood can be backpropagated once per forward pass.")
        ctx.used = True
        matrix_t, diff = ctx.saved_tensors
        n_pix, _, b = diff.shape
        diff.mul_((2.0 * grad).unsqueeze(0))
        return None, None, _sparse_mm(matrix_t, diff.view(-1, b)), None


class _SparseTurn(torch.autograd.Function):
    """``matrix @ columns`` with the transpose given, so the backward pass does
    not transpose (sort) the sparse matrix on every step."""

    @staticmethod
    def forward(ctx, matrix, matrix_t, columns):
        ctx.save_for_backward(matrix_t)
        return _sparse_mm(matrix, columns)

    @staticmethod
    def backward(ctx, grad):
        (matrix_t,) = ctx.saved_tensors
        return None, None, _sparse_mm(matrix_t, grad.contiguous())


def turn_all(matrix, columns, matrix_t=None):
    """Turn images held as the columns of ``columns`` (P, B) by every angle of a :func:`turn_matrix`.

    Returns (P, K, B): pixels first, so the turned copies of one pixel lie
    together and the products over pixels need no transposed copy. With
    ``matrix_t`` (the matrix's transpose, also CSR) the result is
    differentiable with respect to ``columns``.
    """
    n_pix, b = columns.shape
    columns = columns.contiguous()  # CSR times a row-major dense is the fast path
    if matrix_t is None:
        out = _sparse_mm(matrix, columns)
    else:
        out = _SparseTurn.apply(matrix, matrix_t, columns)
    return out.view(n_pix, -1, b)


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
            sq = _TurnedSquaredError.apply(self.turn, self.turn_t, posed.T.contiguous(), columns)
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
