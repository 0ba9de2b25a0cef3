"""Torch module behind TiltRegressor: a deep CNN on ABF-STEM patches, with training augmentations.

The default architecture follows Laanait, He and Borisevich (stemdl): ten
4x4 convolutions (64 channels, the last three 128) with batch norm and ReLU,
average pooling after the 5th and the 10th, a 512-unit fully connected layer
with tanh and a linear head. Augmentations model experimental conditions and
run on the batch, on the model's device, only in training mode.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._perovskite_symmetry import MIRRORS_110

AUGMENTATIONS = ("affine", "noise", "poisson", "blur", "scan_distortion", "crop")

# Exact symmetries TiltRegressor(zone_axis=...) builds in: (flipped axes, tilt map) for each group element.
SYMMETRIES = {"110": MIRRORS_110}


def _gaussian_kernel(sigma, device, dtype, radius=3):
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-(x[None, :] ** 2) / (2 * sigma[:, None] ** 2))
    return k / k.sum(1, keepdim=True)


class Augment(nn.Module):
    """Random, per-image perturbations of raw (non-negative) ABF intensities."""

    def __init__(self, enabled=AUGMENTATIONS, max_rotation_deg=3.0, max_scale=0.04, max_shear=0.03,
                 max_noise_blend=0.1, counts_range=(50.0, 1000.0), max_blur=1.0, scan_jitter=0.3, max_crop_shift=2.0):
        super().__init__()
        unknown = set(enabled) - set(AUGMENTATIONS)
        if unknown:
            raise ValueError(f"unknown augmentations {sorted(unknown)}; choose from {AUGMENTATIONS}.")
        self.enabled = frozenset(enabled)
        self.max_rotation = math.radians(max_rotation_deg)
        self.max_scale = max_scale
        self.max_shear = max_shear
        self.max_noise_blend = max_noise_blend
        self.counts_range = counts_range
        self.max_blur = max_blur
        self.scan_jitter = scan_jitter
        self.max_crop_shift = max_crop_shift

    def forward(self, x):
        b, _, h, w = x.shape
        dev, dt = x.device, x.dtype

        def uniform(lo, hi, *shape):
            return lo + (hi - lo) * torch.rand(*shape, device=dev, dtype=dt)

        if self.enabled & {"affine", "crop", "scan_distortion"}:
            theta = torch.zeros(b, 2, 3, device=dev, dtype=dt)
            theta[:, 0, 0] = theta[:, 1, 1] = 1.0
            if "affine" in self.enabled:
                angle = uniform(-self.max_rotation, self.max_rotation, b)
                scale = 1 + uniform(-self.max_scale, self.max_scale, b)
                shear = uniform(-self.max_shear, self.max_shear, b)
                c, s = torch.cos(angle) * scale, torch.sin(angle) * scale
                theta[:, 0, 0], theta[:, 0, 1] = c, -s + shear
                theta[:, 1, 0], theta[:, 1, 1] = s, c
            if "crop" in self.enabled:
                # A random crop of the same size = a shift of up to max_crop_shift pixels.
                theta[:, 0, 2] = uniform(-1, 1, b) * self.max_crop_shift * 2 / max(w, 1)
                theta[:, 1, 2] = uniform(-1, 1, b) * self.max_crop_shift * 2 / max(h, 1)
            grid = F.affine_grid(theta, (b, 1, h, w), align_corners=False)
            if "scan_distortion" in self.enabled:
                # Scan lines land a little off: an independent random x offset per row (RMS scan_jitter
                # pixels), the model of postprocess_abf.
                jitter = torch.randn(b, 1, h, 1, device=dev, dtype=dt) * self.scan_jitter * 2 / max(w, 1)
                grid = grid + torch.cat([jitter.squeeze(1).expand(b, h, w)[..., None], torch.zeros_like(grid[..., :1])], -1)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        if "blur" in self.enabled and self.max_blur > 0:
            sigma = uniform(0.05, self.max_blur, b)
            k = _gaussian_kernel(sigma, dev, dt)
            r = k.shape[1] // 2
            pad = (r if w > r else w - 1, r if w > r else w - 1, 0, 0)
            xs = F.pad(x.transpose(0, 1), pad, mode="replicate" if w > 1 else "constant")
            x = F.conv2d(xs, k[:, None, None, :], groups=b).transpose(0, 1) if w > r else x
            if h > r:
                ys = F.pad(x.transpose(0, 1), (0, 0, r, r), mode="replicate")
                x = F.conv2d(ys, k[:, None, :, None], groups=b).transpose(0, 1)
        x = x.clamp_min(0)
        if "poisson" in self.enabled:
            # Mean electrons per pixel, log-uniform per patch.
            counts = torch.exp(uniform(math.log(self.counts_range[0]), math.log(self.counts_range[1]), b, 1, 1, 1))
            level = x.mean((2, 3), keepdim=True).clamp_min(1e-12)
            x = torch.poisson(x / level * counts) / counts * level
        if "noise" in self.enabled:
            blend = uniform(0, self.max_noise_blend, b, 1, 1, 1)
            noise = torch.rand_like(x) * 2 * x.mean((2, 3), keepdim=True)
            x = (1 - blend) * x + blend * noise
        return x


class ScanRowAligner(nn.Module):
    """Undo scan-row jitter: estimate each row's x offset against an appearance model and shift it back.

    The appearance model is the mean and leading principal components of
    the training patches, each divided by its mean intensity; it tracks
    what the tilts and the column's sub-pixel position do to a patch, so
    the offsets it finds are the scan's, not the structure's. Per row, the
    offset minimises the squared misfit to the patch's model reconstruction
    (offsets on a grid within +-4 ``jitter``, a Gaussian prior of RMS
    ``jitter`` weighed against the patch's own residual variance, parabolic
    refinement), in two rounds. The mean offset over a patch's rows is
    kept: it is the column's position, not scan noise.
    """

    def __init__(self, mean, components, jitter, n_grid=17, n_rounds=2):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32).reshape(-1))
        self.register_buffer("components", torch.as_tensor(np.asarray(components), dtype=torch.float32))
        self.jitter = float(jitter)
        self.n_grid = int(n_grid)
        self.n_rounds = int(n_rounds)

    def reconstruct(self, x):
        """Model patch for each of x (B, h, w), relative intensities."""
        b, h, w = x.shape
        mean, comps = self.mean.to(x.dtype), self.components.to(x.dtype)
        centred = x.reshape(b, -1) - mean
        return (mean + (centred @ comps.T) @ comps).reshape(b, h, w)

    def estimate(self, x):
        """Offsets (B, h) in pixels of the rows of x (B, h, w) against the model, patch mean removed."""
        b, h, w = x.shape
        edge = 2 if w > 8 else 0  # the rows have no margin to shift into
        grid = torch.linspace(-4 * self.jitter, 4 * self.jitter, self.n_grid, device=x.device, dtype=x.dtype)
        offsets = torch.zeros(b, h, device=x.device, dtype=x.dtype)
        for _ in range(self.n_rounds):
            model = self.reconstruct(shift_rows(x, -offsets))
            cost = torch.stack([((x - shift_rows(model, g.expand(b, h))) ** 2)[..., edge : w - edge].sum(-1)
                                for g in grid], -1)  # (B, h, n_grid)
            variance = cost.amin(-1).sum(-1).clamp_min(1e-20) / (h * (w - 2 * edge))
            cost = cost / variance[:, None, None] + (grid / self.jitter) ** 2
            k = cost.argmin(-1).clamp(1, self.n_grid - 2)
            c0, c1, c2 = (cost.gather(-1, (k + d)[..., None])[..., 0] for d in (-1, 0, 1))
            curvature = c0 - 2 * c1 + c2
            step = torch.where(curvature > 0, 0.5 * (c0 - c2) / curvature.clamp_min(1e-20), torch.zeros_like(c1))
            offsets = grid[k] + step.clamp(-1, 1) * (grid[1] - grid[0])
            offsets = offsets - offsets.mean(1, keepdim=True)
        return offsets

    def forward(self, x):
        """x (B, 1, h, w) non-negative intensities -> the same with every row shifted back."""
        b, _, h, w = x.shape
        if w < 2:
            return x
        level = x.mean((1, 2, 3), keepdim=True).clamp_min(1e-12)
        offsets = self.estimate((x / level)[:, 0])
        return shift_rows(x[:, 0], -offsets)[:, None]


def shift_rows(x, offsets):
    """Shift each row of x (B, h, w) along w by offsets (B, h) pixels, linear interpolation, edges held.

    The value at column c comes from column c - offset (``scipy.ndimage.shift`` convention).
    """
    w = x.shape[-1]
    source = (torch.arange(w, device=x.device, dtype=x.dtype) - offsets[..., None]).clamp(0, w - 1)
    low = source.floor().clamp(max=w - 2).long()
    frac = source - low
    return x.gather(-1, low) * (1 - frac) + x.gather(-1, low + 1) * frac


def appearance_model(X, image_shape, n_components=20):
    """Mean and leading principal components of patches X (n, h * w), each divided by its mean intensity."""
    X = np.asarray(X, dtype=np.float64)
    rel = X / np.maximum(X.mean(1, keepdims=True), 1e-12)
    mean = rel.mean(0)
    centred = rel - mean
    # Eigenvectors of the pixel covariance: deterministic and cheap for patch-sized pixels.
    _, vectors = np.linalg.eigh(centred.T @ centred / len(rel))
    k = min(n_components, len(rel) - 1, rel.shape[1])
    return mean, vectors[:, ::-1][:, :k].T.copy()


class TiltCNN(nn.Module):
    """Deep CNN: flattened patches (B, h * w) -> standardised targets (B, n_targets)."""

    def __init__(self, image_shape, n_targets=3, conv_channels=(64,) * 7 + (128,) * 3, kernel_size=4,
                 pool_after=(5, 10), fc_units=512, augment=AUGMENTATIONS, counts_range=(50.0, 1000.0),
                 scan_jitter=0.3, pixel_stats=None, row_model=None, symmetry=None, target_stats=None):
        super().__init__()
        self.image_shape = tuple(image_shape)
        # (mean, components) of the training patches: scan rows are aligned to them before anything else.
        self.aligner = None if row_model is None else ScanRowAligner(*row_model, jitter=scan_jitter)
        # Per-pixel mean and scale of the (sqrt, per-patch standardised) training patches: removing
        # the lattice every patch shares leaves the small tilt signal well conditioned for Adam.
        mean, scale = (np.zeros(self.image_shape), np.ones(self.image_shape)) if pixel_stats is None else pixel_stats
        self.register_buffer("pixel_mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32).reshape(
            1, 1, *self.image_shape))
        self.register_buffer("pixel_scale", torch.as_tensor(np.asarray(scale), dtype=torch.float32).reshape(
            1, 1, *self.image_shape))
        h, w = self.image_shape
        layers, c_in = [], 1
        for i, c_out in enumerate(conv_channels, start=1):
            # "same" padding for an even kernel is asymmetric: one more on the right / bottom.
            before, after = (kernel_size - 1) // 2, kernel_size // 2
            layers += [nn.ZeroPad2d((before, after, before, after)), nn.Conv2d(c_in, c_out, kernel_size, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
            if i in pool_after:
                # Pool only along axes that still have room (1-row patches pool along x only).
                kh, kw = (2 if h >= 2 else 1), (2 if w >= 2 else 1)
                layers.append(nn.AvgPool2d((kh, kw)))
                h, w = h // kh, w // kw
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c_in * h * w, fc_units), nn.Tanh(), nn.Linear(fc_units, n_targets))
        self.augment = Augment(augment, counts_range=counts_range, scan_jitter=scan_jitter) if augment else None
        # Exact symmetries of the projection built in: the output is the average over the mirrored patches of
        # the network's prediction, each mapped back by its tilt transform (in degrees, hence target_stats).
        self.flips = None
        if symmetry is not None:
            self.flips = [dims for dims, _ in SYMMETRIES[symmetry]]
            maps = [np.asarray(m, dtype=np.float64) for _, m in SYMMETRIES[symmetry]]
            if n_targets == 5:
                # Two more outputs, the mid-plane-mirror pair's invariants u = (a - b)^2 - g^2 and v = 2 (a - b) g.
                # A mirror sends a - b to sign_d (a - b) and g to sign_g g: u stays, v takes sign_d sign_g.
                maps = [np.diag([1.0, 1.0, 1.0, 1.0, (m[0] - m[1]) @ (1, -1, 0) / 2 * m[2, 2]]) @
                        np.block([[m, np.zeros((3, 2))], [np.zeros((2, 3)), np.eye(2)]]) for m in maps]
            self.register_buffer("label_maps", torch.tensor(np.stack(maps), dtype=torch.float64))
            mean, scale = (np.zeros(n_targets), np.ones(n_targets)) if target_stats is None else target_stats
            # float64, so that predictions in degrees are exactly equivariant after inference's .double().
            self.register_buffer("target_mean", torch.as_tensor(np.asarray(mean), dtype=torch.float64))
            self.register_buffer("target_scale", torch.as_tensor(np.asarray(scale), dtype=torch.float64))

    def forward(self, x):
        b = x.shape[0]
        x = x.reshape(b, 1, *self.image_shape)
        if self.training and self.augment is not None:
            x = self.augment(x)
        if self.aligner is not None:
            x = self.aligner(x)
        # sqrt compresses the dynamic range (Poisson-like noise becomes
        # roughly uniform), then each patch is standardised: the model sees
        # contrast, not dose.
        x = standardize_patches(x)
        if self.flips is None:
            x = (x - self.pixel_mean.to(x.dtype)) / self.pixel_scale.to(x.dtype)
            return self.head(self.features(x))
        x = torch.cat([x.flip(dims) if dims else x for dims in self.flips])
        x = (x - self.pixel_mean.to(x.dtype)) / self.pixel_scale.to(x.dtype)
        out = self.head(self.features(x)).reshape(len(self.flips), b, -1)
        mean, scale = self.target_mean.to(x.dtype), self.target_scale.to(x.dtype)
        degrees = torch.einsum("gij,gbj->bi", self.label_maps.to(x.dtype), out * scale + mean) / len(self.flips)
        return (degrees - mean) / scale


def standardize_patches(x):
    """sqrt, then each patch to zero mean and unit variance (tensor (B, 1, h, w))."""
    x = torch.sqrt(x.clamp_min(0))
    mean = x.mean((1, 2, 3), keepdim=True)
    std = x.std((1, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.where(std > 0, std, torch.ones_like(std))
