"""Fused moments of detector frames, compiled with numba when it is installed.

Detectors write integer counts. Torch has no fused integer-to-float
multiply-add on the CPU, so the torch path converts each chunk to float32 in
a buffer and then multiplies: two passes, about half the read floor per
frame on a 2-core machine. This kernel converts and accumulates in one pass
and reads each frame once: on the same machine it reaches the memory read
floor of the uint16 bytes. It takes float32
frames too: BLAS streams ``W @ frames.T`` at the read rate on some CPUs and at
a tenth of it on others, so ``DetectorMomentsModule`` times both once per
process and keeps the faster. It is optional
(``pip install sklearn_rvae[fast]``; abTEM, the ``sim`` extra, brings numba
too); without numba the torch path gives the same numbers, more slowly.

The loop takes four frames at a time and three weight rows at a time: twelve
float32 accumulators, so each weight element is loaded once per four frames
and LLVM vectorises the pixel loop (``reassoc`` lets it reorder the sums;
no other fast-math flag, so the threshold compare keeps IEEE semantics: a
NaN pixel is never below the threshold, so it reaches the sums and its frame
is reported as non-finite, as on the torch path).
"""

import numpy as np

try:  # optional: the torch path serves when it is missing
    import numba
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    numba = None

_KERNEL = None


def fused_moments_kernel():
    """The compiled kernel, or None when numba is not installed (compiled on first use)."""
    global _KERNEL
    if _KERNEL is None and numba is not None:
        _KERNEL = _compile()
    return _KERNEL


def _compile():
    flags = {"reassoc", "contract"}

    @numba.njit(parallel=True, fastmath=flags, cache=True, nogil=True)
    def moments(frames, col0, col1, weights, threshold, out):  # pragma: no cover - compiled
        # frames (n, K) integers or float32; weights (3 * g, col1 - col0) float32; out (n, 3 * g) float32.
        n = frames.shape[0]
        n_blocks = (n + 3) // 4
        zero = np.float32(0.0)
        for b in numba.prange(n_blocks):
            i0 = 4 * b
            # Past the last frame, re-read it (cheap) and skip the write.
            i1 = min(i0 + 1, n - 1)
            i2 = min(i0 + 2, n - 1)
            i3 = min(i0 + 3, n - 1)
            # 1-D contiguous slices: with 2-D indexing inside the pixel loop
            # LLVM did not vectorise it (6 GB/s instead of 19).
            f0 = frames[i0, col0:col1]
            f1 = frames[i1, col0:col1]
            f2 = frames[i2, col0:col1]
            f3 = frames[i3, col0:col1]
            for g in range(weights.shape[0] // 3):
                wa = weights[3 * g]
                wb = weights[3 * g + 1]
                wc = weights[3 * g + 2]
                a0 = zero; a1 = zero; a2 = zero
                b0 = zero; b1 = zero; b2 = zero
                c0 = zero; c1 = zero; c2 = zero
                d0 = zero; d1 = zero; d2 = zero
                for j in range(col1 - col0):
                    w0 = wa[j]; w1 = wb[j]; w2 = wc[j]
                    v = np.float32(f0[j])
                    v = zero if v < threshold else v
                    a0 += w0 * v; a1 += w1 * v; a2 += w2 * v
                    v = np.float32(f1[j])
                    v = zero if v < threshold else v
                    b0 += w0 * v; b1 += w1 * v; b2 += w2 * v
                    v = np.float32(f2[j])
                    v = zero if v < threshold else v
                    c0 += w0 * v; c1 += w1 * v; c2 += w2 * v
                    v = np.float32(f3[j])
                    v = zero if v < threshold else v
                    d0 += w0 * v; d1 += w1 * v; d2 += w2 * v
                o = 3 * g
                out[i0, o] = a0; out[i0, o + 1] = a1; out[i0, o + 2] = a2
                if i0 + 1 < n:
                    out[i1, o] = b0; out[i1, o + 1] = b1; out[i1, o + 2] = b2
                if i0 + 2 < n:
                    out[i2, o] = c0; out[i2, o + 1] = c1; out[i2, o + 2] = c2
                if i0 + 3 < n:
                    out[i3, o] = d0; out[i3, o + 1] = d1; out[i3, o + 2] = d2

    return moments


def padded_weights(weights):
    """float32 weights with rows padded by zeros to a multiple of three."""
    weights = np.asarray(weights, dtype=np.float32)
    n_out = weights.shape[0]
    pad = -n_out % 3
    if pad:
        weights = np.concatenate([weights, np.zeros((pad, weights.shape[1]), np.float32)])
    return np.ascontiguousarray(weights)
