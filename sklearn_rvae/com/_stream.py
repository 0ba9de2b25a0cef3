"""Streaming frames through COMTransformer's moments module: memory, files and dask alike.

Every source (``FrameSource``) goes through ``stream_moments`` chunk by
chunk, with bounded memory; a dask array maps over its blocks instead, so
the work runs on whatever dask scheduler is active.
"""

import math
import warnings

import numpy as np
import torch

from .._frames import LAZY_CHUNK_BYTES


def chunk_frames(source, chunk_size, module, device):
    """Frames per chunk: ``chunk_size``, or with ``"auto"`` a size that suits the source and the kernel."""
    if chunk_size != "auto":
        return int(chunk_size)
    per_frame = source.n_features * 4
    if source.kind == "memory":
        # Views cost nothing: big chunks for floats and for the fused
        # integer kernel; otherwise integers are converted in a buffer
        # that should stay in cache.
        fused = module.kernel_for(source.dtype) == "fused (numba)"
        target = 256 * 2**20 if source.dtype.kind == "f" or fused else 8 * 2**20
        if device != "cpu":
            target = 256 * 2**20
    else:
        target = LAZY_CHUNK_BYTES
    return max(1, target // per_frame)


def stream_moments(source, module, device, step, progress, with_pattern=False, name="X"):
    """Stream the source through the moments ``module`` (on ``device``), ``step`` frames a chunk: float64 (n, n_out).

    A dask source maps over its blocks on the CPU (any dask scheduler); the
    others go chunk by chunk, integer frames converted one chunk at a time.
    ``progress`` advances per chunk. Non-finite results are errors naming
    ``name`` and the frames.
    """
    module = module.to(device)
    device = torch.device(device)
    n_out = module.n_outputs
    if source.kind == "dask":
        out, pattern = _dask_moments(source, module.cpu(), with_pattern)
        module.to(device)
    else:
        out = np.empty((source.n_frames, n_out))
        pattern = np.zeros(source.n_features) if with_pattern else None
        buffer = None
        with torch.inference_mode(), warnings.catch_warnings():
            # Read-only sources (memmaps, files) give read-only arrays;
            # the tensors over them are only read.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            for start, chunk in source.chunks(step):
                # None unless CPU, numba and integer (or, where faster, float32) frames.
                fused = module.fused_moments(chunk)
                if fused is not None:
                    out[start : start + len(chunk)] = fused
                    if with_pattern:
                        pattern += chunk.sum(0, dtype=np.float64)
                    progress.advance(len(chunk))
                    continue
                frames = torch.from_numpy(chunk)
                if device.type == "cpu":
                    if frames.dtype not in (torch.float32, torch.float64):
                        # Convert one cached chunk at a time, never the cube.
                        if buffer is None or buffer.shape[0] < len(chunk):
                            buffer = torch.empty((len(chunk), source.n_features), dtype=torch.float32)
                        frames = buffer[: len(chunk)].copy_(frames)
                else:
                    frames = frames.to(device, non_blocking=False)
                    if frames.dtype not in (torch.float32, torch.float64):
                        frames = frames.to(torch.float32)
                result = module(frames)
                out[start : start + len(chunk)] = result.cpu().numpy()
                if with_pattern:
                    pattern += frames.sum(0).double().cpu().numpy()
                progress.advance(len(chunk))
    bad = ~np.all(np.isfinite(out), axis=1)
    if np.any(bad):
        where = np.flatnonzero(bad)
        sample = source.frames_at(where[:10])
        if np.all(np.isfinite(sample)):
            # Finite frames whose float32 sums overflow: COM is scale-free.
            raise ValueError(
                f"{name} holds intensities up to {np.abs(sample).max():.3g}: the weighted sums of "
                f"{len(where)} frame(s), first at positions {where[:10].tolist()}, overflow float32. "
                f"Divide {name} by its maximum first (the centre of mass does not depend on the scale)."
            )
        raise ValueError(
            f"{name} contains NaN or infinity in {len(where)} frame(s), first at positions "
            f"{where[:10].tolist()}; COM needs finite detector values."
        )
    return out, pattern


def _dask_moments(source, module, with_pattern):
    """Moments of a dask array, one task per block (runs on any dask scheduler)."""
    import dask.array as da

    data = source.data
    n_features = source.n_features
    n_out = module.n_outputs
    n_detector_axes = 1 if source.layout == "flat" else 2
    lead = data.ndim - n_detector_axes
    # Whole frames in every block; the scan axes keep the user's chunking.
    data = data.rechunk({axis: -1 for axis in range(lead, data.ndim)})
    moments = data.map_blocks(
        _block_moments, module, n_detector_axes,
        drop_axis=list(range(lead, data.ndim)), new_axis=lead,
        chunks=data.chunks[:lead] + ((n_out,),), dtype=np.float64,
    )
    if with_pattern:
        pattern = data.sum(axis=tuple(range(lead)), dtype=np.float64).reshape(n_features)
        out, pattern = da.compute(moments, pattern)
    else:
        (out,), pattern = da.compute(moments), None
    return np.asarray(out).reshape(-1, n_out), pattern


def _block_moments(block, module, n_detector_axes):
    frames = np.asarray(block)
    lead = frames.shape[: frames.ndim - n_detector_axes]
    flat = frames.reshape(-1, math.prod(frames.shape[frames.ndim - n_detector_axes :]))
    if not flat.dtype.isnative:
        flat = flat.astype(flat.dtype.newbyteorder("="))
    fused = module.fused_moments(flat)
    if fused is not None:
        return fused.astype(np.float64).reshape(*lead, module.n_outputs)
    with torch.inference_mode():
        t = torch.from_numpy(np.ascontiguousarray(flat))
        if t.dtype not in (torch.float32, torch.float64):
            t = t.to(torch.float32)
        out = module(t).double().numpy()
    return out.reshape(*lead, module.n_outputs)
