"""Torch module behind COMTransformer: weighted sums ("moments") of detector frames.

Centre of mass and virtual detectors are linear in the frame: for a frame
``I`` and weight images ``W_j`` the module returns ``sum(I * W_j)``. COM needs
three (masked intensity, intensity times x, intensity times y); each virtual
detector adds one. The sums are memory-bound, about three multiply-adds per
pixel read, so the layout of the one matmul decides the speed. Measured on a
2-core CPU on a 64x64x128x128 float32 cube (best of 5):

* ``W (n_out, K) @ frames.T (K, m)``: 23 GB/s for n_out <= 3, above the
  ``torch.sum`` read floor (19-20 GB/s): BLAS streams each frame once.
* ``frames (m, K) @ W.T (K, n_out)``: 12 GB/s, the same numbers the other way.
* per-row ``(m * ky, kx) @ (kx, 2)`` with a second reduction: 14 GB/s.

So the module keeps the weights as an ``(n_out, K)`` matrix and multiplies
from the left. That holds for the Intel CPU above; on an AMD EPYC the same
matmul ran at 0.12x the read floor, which is why float32 frames go through the
fused numba kernel instead whenever it measured faster on the machine at hand
(``fused_float32_is_faster``, once per process). Frames are cropped to the rows the weights touch (a disk mask
skips the rows outside the disk without reading them: a strided view, no
copy).
"""

import time

import numpy as np
import torch
from torch import nn

from ._kernel import fused_moments_kernel, padded_weights

_FUSED_FLOAT32 = None


def fused_float32_is_faster():
    """Whether the fused kernel sums float32 frames faster than torch's matmul here.

    Measured once per process (about 0.1 s) on 512 frames of 128 x 128 with
    the three COM weights, best of three each; False without numba.
    """
    global _FUSED_FLOAT32
    if _FUSED_FLOAT32 is None:
        kernel = fused_moments_kernel()
        if kernel is None:
            return False
        k = 128 * 128
        frames = np.ones((512, k), dtype=np.float32)
        weights = np.ones((3, k), dtype=np.float32)
        out = np.empty((512, 3), dtype=np.float32)
        threshold = np.float32(-np.inf)

        def best(fn):
            fn()  # warm up (and compile)
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            return min(times)

        w, f = torch.from_numpy(weights), torch.from_numpy(frames)
        matmul = best(lambda: torch.mm(w, f.T))
        fused = best(lambda: kernel(frames, 0, k, weights, threshold, out))
        _FUSED_FLOAT32 = bool(fused < matmul)
    return _FUSED_FLOAT32


class DetectorMomentsModule(nn.Module):
    """Per-frame weighted sums of detector frames.

    Parameters
    ----------
    detector_shape : tuple (ky, kx)
        Shape of one frame.
    weights : ndarray of shape (n_weights, ky, kx)
        Weight images, for example ``[mask, mask * (x - cx), mask * (y - cy)]``.
    threshold : float or None
        Pixels with intensity below it count as zero.
    kernel : {"auto", "fused", "matmul"}
        How frames are summed on the CPU (see ``COMTransformer``).

    Forward
    -------
    ``frames`` of shape (m, ky * kx), float32 or float64; returns the sums,
    shape (m, n_weights), in the frames' dtype. Integer counts, and float32
    frames where it is faster, go through ``fused_moments`` (one pass) when
    numba is installed; otherwise callers convert integers chunk by chunk.
    """

    def __init__(self, detector_shape, weights, threshold=None, kernel="auto"):
        super().__init__()
        self.kernel = kernel
        ky, kx = (int(s) for s in detector_shape)
        self.detector_shape = (ky, kx)
        self.threshold = None if threshold is None else float(threshold)
        weights = np.asarray(weights, dtype=np.float64).reshape(-1, ky, kx)
        used = np.flatnonzero(np.any(weights != 0, axis=(0, 2)))
        self.rows = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 1)
        r0, r1 = self.rows
        self.register_buffer("weights", torch.from_numpy(weights[:, r0:r1].reshape(len(weights), -1).copy()).float())
        # float64 copy for float64 input, so that precision is the caller's choice.
        self.register_buffer("weights64", torch.from_numpy(weights[:, r0:r1].reshape(len(weights), -1).copy()))

    @property
    def n_outputs(self):
        return self.weights.shape[0]

    def kernel_for(self, dtype):
        """Which code sums frames of ``dtype`` here: ``"fused (numba)"`` or ``"matmul (torch)"``."""
        dtype = np.dtype(dtype)
        fusable = dtype.kind in "ui" or dtype == np.float32
        if self.kernel == "matmul" or self.weights.device.type != "cpu" or not fusable:
            return "matmul (torch)"
        if fused_moments_kernel() is None:
            if self.kernel == "fused":
                raise ValueError("kernel='fused' needs numba: pip install 'sklearn_rvae[fast]', or kernel='auto'.")
            return "matmul (torch)"
        if self.kernel == "fused" or dtype.kind in "ui" or fused_float32_is_faster():
            return "fused (numba)"
        return "matmul (torch)"

    def fused_moments(self, frames):
        """Sums in one fused pass (numba), or None where ``forward`` is the path.

        ``frames``: ndarray of shape (m, ky * kx), integers or float32. Returns
        float32 (m, n_weights), the same numbers as ``forward`` on the frames
        converted to float32 (up to the order of the float32 additions).
        """
        if self.kernel_for(frames.dtype) != "fused (numba)":
            return None
        kernel = fused_moments_kernel()
        ky, kx = self.detector_shape
        r0, r1 = self.rows
        frames = np.ascontiguousarray(frames.reshape(frames.shape[0], ky * kx))
        weights = padded_weights(self.weights.numpy())
        out = np.empty((frames.shape[0], weights.shape[0]), dtype=np.float32)
        threshold = -np.inf if self.threshold is None else self.threshold
        kernel(frames, r0 * kx, r1 * kx, weights, np.float32(threshold), out)
        return out[:, : self.n_outputs]

    def forward(self, frames):
        ky, kx = self.detector_shape
        r0, r1 = self.rows
        flat = frames.reshape(frames.shape[0], ky * kx)
        if flat.dtype not in (torch.float32, torch.float64):
            flat = flat.to(torch.float32)
        # Rows r0:r1 of every frame are one contiguous run: a strided view.
        flat = flat[:, r0 * kx : r1 * kx]
        if self.threshold is not None:
            # ``x < t`` is False for NaN, so non-finite pixels survive and are reported.
            flat = torch.where(flat < self.threshold, torch.zeros((), dtype=flat.dtype, device=flat.device), flat)
        weights = self.weights64 if flat.dtype == torch.float64 else self.weights
        return torch.mm(weights, flat.T).T
