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

AUGMENTATIONS = ("affine", "noise", "poisson", "blur", "scan_distortion", "crop")


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


class TiltCNN(nn.Module):
    """Deep CNN: flattened patches (B, h * w) -> standardised targets (B, n_targets)."""

    def __init__(self, image_shape, n_targets=3, conv_channels=(64,) * 7 + (128,) * 3, kernel_size=4,
                 pool_after=(5, 10), fc_units=512, augment=AUGMENTATIONS, counts_range=(50.0, 1000.0),
                 scan_jitter=0.3, pixel_stats=None):
        super().__init__()
        self.image_shape = tuple(image_shape)
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

    def forward(self, x):
        b = x.shape[0]
        x = x.reshape(b, 1, *self.image_shape)
        if self.training and self.augment is not None:
            x = self.augment(x)
        # sqrt compresses the dynamic range (Poisson-like noise becomes
        # roughly uniform), then each patch is standardised: the model sees
        # contrast, not dose.
        x = standardize_patches(x)
        x = (x - self.pixel_mean.to(x.dtype)) / self.pixel_scale.to(x.dtype)
        return self.head(self.features(x))


def standardize_patches(x):
    """sqrt, then each patch to zero mean and unit variance (tensor (B, 1, h, w))."""
    x = torch.sqrt(x.clamp_min(0))
    mean = x.mean((1, 2, 3), keepdim=True)
    std = x.std((1, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.where(std > 0, std, torch.ones_like(std))
