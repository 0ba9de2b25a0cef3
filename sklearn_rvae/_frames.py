"""Chunked access to 4D-STEM frames, whatever holds them.

A 4D-STEM data set is a scan of detector frames. Users hold it as a
``(n_positions, ky * kx)`` matrix (the scikit-learn view), a
``(sy, sx, ky, kx)`` cube, a ``numpy.memmap``, an HDF5 or zarr dataset on
disk, or a dask array. ``FrameSource`` hides the difference: it yields
chunks of frames as ``(start, ndarray of shape (m, ky * kx))`` and never
holds more than one chunk of a lazy source in memory.
"""

import math
import numbers
import os
import warnings

import numpy as np

from ._utils import check_open, resolve_image_shape, validate_numeric
from .io import FileFormatError

# A lazy chunk (read from disk) holds about this many bytes once converted
# to float32: small against any machine's memory, large enough that the
# per-read overhead of HDF5 / zarr is negligible.
LAZY_CHUNK_BYTES = 16 * 2**20


def _kind(X):
    check_open(X, "X")
    module = type(X).__module__ or ""
    if module.startswith("dask."):
        return "dask"
    if module.startswith(("h5py", "zarr")):
        return "lazy"
    return "memory"


def is_streamed(X):
    """True for input an estimator must not convert whole: files, memmaps, dask arrays."""
    return _kind(X) != "memory" or isinstance(X, np.memmap)


def in_memory_frames(X):
    """An in-memory stack (n, ky, kx) or scan (sy, sx, ky, kx) as (n, ky * kx) and its frame shape, else (X, None)."""
    if isinstance(X, np.ndarray) and X.ndim in (3, 4):
        return X.reshape(-1, X.shape[-2] * X.shape[-1]), tuple(X.shape[-2:])
    return X, None


def _check_dtype(dtype, name="X"):
    dtype = np.dtype(dtype)
    if dtype.kind not in "buif":
        raise TypeError(
            f"{name} must hold real numbers (integer or float detector counts), got dtype {dtype}."
        )
    return dtype


def _check_shape_param(value, name, allow_infer=False):
    """A pair of positive ints; with ``allow_infer`` one entry may be -1 (inferred)."""
    if value is None:
        return None
    expected = "a pair of positive integers" + (", one of which may be -1 (inferred)" if allow_infer else "")
    try:
        shape = tuple(value)
    except TypeError:
        raise ValueError(f"{name} must be {expected}, got {value!r}.") from None
    if (
        len(shape) != 2
        or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape)
        or not all(s > 0 or (allow_infer and s == -1) for s in shape)
        or shape.count(-1) > 1
    ):
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return tuple(int(s) for s in shape)


class FrameSource:
    """Frames of a 4D-STEM data set, read chunk by chunk.

    Attributes
    ----------
    data : the array-like, reshaped to 2-D when that is a free view
    kind : {"memory", "lazy", "dask"}
    n_frames, n_features : int
    detector_shape : (ky, kx)
    scan_shape : (sy, sx) or None
        From a 4-D input, else the ``scan_shape`` parameter when given.
    dtype : numpy dtype of the stored frames
    streamed : bool
        Not held in memory (a file, a ``numpy.memmap``, a dask array): the
        learning estimators read it a chunk at a time instead of converting it
        whole.
    """

    def __init__(self, data, kind, detector_shape, scan_shape, layout, streamed=None):
        self.data = data
        self.kind = kind
        self.detector_shape = detector_shape
        self.n_features = detector_shape[0] * detector_shape[1]
        self.layout = layout  # "flat" (n, K), "stack" (n, ky, kx) or "scan" (sy, sx, ky, kx)
        self.n_frames = int(np.prod(data.shape[:-1] if layout == "flat" else data.shape[:-2]))
        self.scan_shape = scan_shape
        self.dtype = np.dtype(data.dtype)
        self.streamed = kind != "memory" if streamed is None else bool(streamed)
        # What the file looked like when it was opened: a read that finds it
        # changed stops, rather than mixing frames of two versions.
        self.file_state = _file_state(data)

    @property
    def nbytes(self):
        return self.n_frames * self.n_features * self.dtype.itemsize

    def frames_at(self, indices):
        """The frames at positions ``indices`` (raster order), shape (len(indices), ky * kx)."""
        out = []
        for i in indices:
            i = int(i)
            index = divmod(i, self.data.shape[1]) if self.layout == "scan" else i
            out.append(np.asarray(self.data[index]).reshape(self.n_features))
        return np.stack(out)

    def spans(self, frames_per_chunk):
        """``(start, stop)`` of the chunks, in raster order.

        A scan ``(sy, sx, ky, kx)`` is cut into whole scan rows when they fit
        the chunk (one contiguous slab), else into pieces of one row. A dask
        array of frames is cut along its own blocks, as many whole blocks a
        chunk as fit ``frames_per_chunk`` (a block cut in two would be
        computed twice).
        """
        n = self.n_frames
        step = max(1, int(frames_per_chunk))
        if self.kind == "dask" and self.layout != "scan":
            return _block_spans(self.data.chunks[0], step)
        if self.layout != "scan":
            return [(start, min(start + step, n)) for start in range(0, n, step)]
        sy, sx = self.data.shape[:2]
        if step >= sx:
            rows = step // sx * sx
            return [(start, min(start + rows, n)) for start in range(0, n, rows)]
        return [(r * sx + c, r * sx + min(c + step, sx)) for r in range(sy) for c in range(0, sx, step)]

    def read(self, start, stop):
        """Frames ``start .. stop - 1`` as an ndarray of shape (m, ky * kx), in their stored dtype.

        For a scan, the span must lie within one scan row or cover whole rows
        (as :meth:`spans` cuts them).
        """
        if self.layout == "scan":
            sx = self.data.shape[1]
            if start % sx == 0 and (stop % sx == 0 or stop == self.n_frames):
                index = slice(start // sx, -(-stop // sx))
            elif start // sx == (stop - 1) // sx:
                index = (start // sx, slice(start % sx, (stop - 1) % sx + 1))
            else:
                raise ValueError(f"frames {start}-{stop - 1} are neither within one scan row nor whole rows.")
        else:
            index = slice(start, stop)
        chunk = self._read(index, start, stop)
        return _native(chunk.reshape(stop - start, self.n_features))

    def chunks(self, frames_per_chunk):
        """Yield ``(start, frames)`` with frames an ndarray of shape (m, ky * kx)."""
        for start, stop in self.spans(frames_per_chunk):
            yield start, self.read(start, stop)

    def storage_step(self, target_bytes=None):
        """Frames per chunk: about ``target_bytes`` as float32, whole storage chunks of a file.

        A read that cuts an HDF5 or zarr chunk decompresses it whole for a
        part of it; a dask array is read along its own blocks. Where whole
        stored chunks would exceed 8 times the target, the target wins: the
        stored chunks are read in parts (slower, memory still bounded).
        """
        target = LAZY_CHUNK_BYTES if target_bytes is None else target_bytes
        step = max(1, target // (4 * self.n_features))
        stored = _storage_chunks(self.data)
        if stored is None:
            return step
        aligned = self._aligned_step(stored, step)
        if aligned > 8 * step:
            # Stored chunks far larger than a chunk (a scan tiled in 16 x 16 positions of
            # 256 x 256 frames is 1 GiB as float32): read them in parts, memory before speed.
            return step
        return aligned

    def _aligned_step(self, stored, step):
        if self.layout == "scan":
            rows, cols = stored[:2]
            sx = self.data.shape[1]
            if cols < sx and rows == 1:
                return max(cols, step // cols * cols) if step < sx else max(sx, step // sx * sx)
            return max(rows * sx, step // (rows * sx) * rows * sx)
        lead = stored[0]
        return max(lead, step // lead * lead)

    def to_dask(self, frames_per_chunk):
        """The frames as a dask array (n_frames, ky * kx), one block per chunk of :meth:`spans`.

        Blocks of a file are read through :meth:`read` (its errors, the check
        that the file has not changed); a dask array keeps its own graph.
        """
        import dask.array as da

        if self.kind == "dask":
            data = self.data
            if self.layout == "scan":
                sx = data.shape[1]
                rows = max(1, int(frames_per_chunk) // sx)
                data = data.rechunk({0: rows, 1: -1})
            return data.reshape(self.n_frames, self.n_features)
        spans = self.spans(frames_per_chunk)
        if self.layout == "scan" and spans[0][1] - spans[0][0] < self.data.shape[1]:
            spans = self.spans(self.data.shape[1])  # dask blocks over (n, K) cannot cut a row into a rectangle
        chunks = (tuple(stop - start for start, stop in spans), (self.n_features,))
        from dask.base import tokenize

        name = "frames-" + tokenize(_describe(self.data), self.data.shape, str(self.dtype), self.file_state,
                                    id(self.data) if self.file_state is None else None)
        return da.from_array(_SpanReader(self), chunks=chunks, name=name, asarray=True, lock=False,
                             meta=np.empty((0, 0), dtype=self.dtype))

    def _read(self, index, start, stop):
        """Frames start..stop - 1; a file's read error names them and the file."""
        self.check_unchanged()
        try:
            if self.kind == "dask":
                return np.asarray(self.data[index].compute(scheduler="sync"))
            return np.asarray(self.data[index])
        except MemoryError:
            raise
        except Exception as exc:
            if _kind(self.data) != "lazy":
                raise
            where = f"frames {start}-{stop - 1}"
            if self.scan_shape is not None:
                sx = self.scan_shape[1]
                (r0, c0), (r1, c1) = divmod(start, sx), divmod(stop - 1, sx)
                if r0 == r1:
                    where += f" (scan row {r0}, cols {c0}-{c1})"
                elif (c0, c1) == (0, sx - 1):
                    where += f" (scan rows {r0}-{r1}, all cols)"
                else:
                    where += f" (scan positions (row, col) ({r0}, {c0}) to ({r1}, {c1}))"
            raise FileFormatError(
                f"Could not read {where} of X, {_describe(self.data)}: {type(exc).__name__}: {exc}. "
                "The file is corrupt or truncated there; expected every chunk of it to be readable."
            ) from exc

    def check_unchanged(self):
        """Raise ``FileFormatError`` when the file behind the frames changed since it was opened."""
        if self.file_state is None:
            return
        now = _file_state(self.data)
        if now != self.file_state:
            raise FileFormatError(
                f"X, {_describe(self.data)}, changed on disk after it was opened "
                f"(modified time and size were {self.file_state[1:]}, now {now[1:] if now else 'missing'}): "
                "its frames may mix two versions of the file. Open the file again and call fit or "
                "transform on it as it is now."
            )


def _block_spans(blocks, step):
    """Spans of consecutive whole blocks (sizes ``blocks``), each at most ``step`` frames or one block."""
    spans, start, stop = [], 0, 0
    for size in blocks:
        if stop > start and stop - start + size > step:
            spans.append((start, stop))
            start = stop
        stop += size
    if stop > start:
        spans.append((start, stop))
    return spans


class _SpanReader:
    """An array-like over a FrameSource for ``dask.array.from_array``: rows are frames."""

    def __init__(self, source):
        self.source = source
        self.shape = (source.n_frames, source.n_features)
        self.dtype = source.dtype
        self.ndim = 2

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(rows, numbers.Integral):
            index = range(self.shape[0])[rows]  # negative and out-of-range as for a list
            return self.source.read(index, index + 1)[0, cols]
        start, stop, step = rows.indices(self.shape[0])
        if step < 0:
            start, stop = stop + 1, start + 1
        frames = self.source.read(start, stop) if stop > start else np.empty((0, self.shape[1]), self.dtype)
        return frames[::step, cols]


def _storage_chunks(data):
    """The shape of one stored chunk (HDF5, zarr, dask), or None when contiguous or in memory."""
    kind = _kind(data)
    if kind == "dask":
        return tuple(int(c) for c in data.chunksize)
    if kind == "lazy":
        chunks = getattr(data, "chunks", None)
        if chunks is not None and len(chunks) == data.ndim:
            return tuple(int(c) for c in chunks)
    return None


def _file_state(data):
    """(path, mtime_ns, size) of the file behind an HDF5 dataset or a memmap, or a zarr array's metadata."""
    path = getattr(getattr(data, "file", None), "filename", None)  # h5py
    if path is None and isinstance(data, np.memmap):
        path = data.filename
    if path is None and type(data).__module__.startswith("zarr"):
        root = getattr(getattr(data, "store", None), "root", None) or getattr(getattr(data, "store", None), "path", None)
        if root is not None:
            for meta in ("zarr.json", ".zarray"):
                candidate = os.path.join(str(root), getattr(data, "path", "") or "", meta)
                if os.path.exists(candidate):
                    path = candidate
                    break
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return (str(path), None, None)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _describe(data):
    """The array type and, where known, its file and name, for error messages."""
    text = f"a {type(data).__module__.split('.')[0]}.{type(data).__name__}"
    filename = getattr(getattr(data, "file", None), "filename", None)  # h5py
    if filename is not None:
        return f"{text} {data.name!r} in {filename}"
    store_path = getattr(data, "store_path", None)  # zarr 3
    if store_path is not None:
        return f"{text} at {store_path}"
    store, path = getattr(data, "store", None), getattr(data, "path", None)  # zarr 2
    root = getattr(store, "path", None)
    if root is not None:
        return f"{text} at {root}/{path}" if path else f"{text} at {root}"
    return text


def _native(chunk):
    # Files written on big-endian machines (some detectors) hold
    # non-native byte order, which torch.from_numpy rejects.
    if not chunk.dtype.isnative:
        chunk = chunk.astype(chunk.dtype.newbyteorder("="))
    return chunk


def frame_source(estimator, X, *, detector_shape, scan_shape, reset, ensure_min_samples=1,
                 whole_frames=False, shape_name="detector_shape"):
    """Validate X and wrap it in a FrameSource.

    2-D in-memory input goes through scikit-learn's ``validate_data`` (feature
    counts, names, dtypes, sparse and empty input), without the finiteness
    scan: non-finite frames are caught from the moments, which costs nothing
    (a NaN or inf pixel makes its frame's sums non-finite). A
    ``numpy.memmap`` is marked ``streamed``. With ``whole_frames``, a dask
    array whose blocks cut the frames (the detector axes) is refused rather
    than rechunked, which would read every block many times, and a dtype that
    cannot hold counts (bool) is refused. ``shape_name`` is the estimator's
    name for the frame shape in messages (``image_shape`` for images).
    """
    kind = _kind(X)
    scan_shape = _check_shape_param(scan_shape, "scan_shape")
    detector_param = _check_shape_param(detector_shape, shape_name, allow_infer=True)
    if kind == "dask" and any(math.isnan(s) for s in X.shape):
        raise ValueError(
            f"X, a dask array of shape {X.shape}, has unknown chunk sizes (after boolean indexing, for "
            "example); call X.compute_chunk_sizes() first, so that its frames can be counted."
        )
    if whole_frames and np.dtype(X.dtype).kind == "b":
        raise TypeError("X must hold detector counts or intensities (integers or floats), got dtype bool.")
    memmap = isinstance(X, np.memmap)
    if kind == "memory" and not memmap and not (isinstance(X, np.ndarray) and X.ndim >= 3):
        X = validate_numeric(
            estimator,
            X,
            reset=reset,
            dtype="numeric",
            ensure_all_finite=False,
            ensure_min_samples=ensure_min_samples,
            copy=False,
        )
        _check_dtype(X.dtype)
        det = resolve_image_shape(detector_shape, X.shape[1], name=shape_name)
        source = FrameSource(X, "memory", det, None, "flat")
    else:
        shape = tuple(int(s) for s in X.shape)
        ndim = len(shape)
        _check_dtype(X.dtype)
        if ndim == 2:
            _check_n_features(estimator, shape[1], reset)  # before the shape, whose message would mislead
            det = resolve_image_shape(detector_shape, shape[1], name=shape_name)
            layout = "flat"
        elif ndim in (3, 4):
            det = shape[-2:]
            if detector_param is not None and any(p not in (-1, d) for p, d in zip(detector_param, det)):
                raise ValueError(
                    f"{shape_name}={detector_param} does not match X, whose frames have shape {det} "
                    f"(X has shape {shape}; the last two axes are the detector)."
                )
            layout = "stack" if ndim == 3 else "scan"
        else:
            raise ValueError(
                f"X must be 2-D (n_positions, ky * kx), 3-D (n_positions, ky, kx) or 4-D "
                f"(sy, sx, ky, kx); got an array of shape {shape}."
            )
        n = math.prod(shape[:-1] if layout == "flat" else shape[:-2])
        n_features = det[0] * det[1]
        if n < ensure_min_samples:
            raise ValueError(
                f"X: found array with {n} sample(s) (shape={shape}) while a minimum of "
                f"{ensure_min_samples} is required by {type(estimator).__name__}."
            )
        if n_features == 0:
            raise ValueError(f"X: found array with 0 feature(s) (shape={shape}); frames must not be empty.")
        _check_n_features(estimator, n_features, reset)
        if layout == "scan":
            if scan_shape is not None and scan_shape != shape[:2]:
                raise ValueError(
                    f"scan_shape={scan_shape} does not match X, whose scan axes have shape {shape[:2]}."
                )
            scan_shape = shape[:2]
        data = X
        if kind == "memory":
            if X.flags.c_contiguous:
                data, layout = X.reshape(n, n_features), "flat"  # a free view
            else:
                kind = "lazy"  # strided view: copy chunk by chunk, never whole
        if whole_frames and kind == "dask":
            n_det = 1 if layout == "flat" else 2
            if any(len(c) > 1 for c in X.chunks[-n_det:]):
                raise ValueError(
                    f"X, a dask array of shape {shape}, is chunked across its detector axes (chunks "
                    f"{X.chunksize}); every block must hold whole frames. Rechunk it first: "
                    f"X.rechunk({{{', '.join(f'{a}: -1' for a in range(ndim - n_det, ndim))}}})."
                )
        if whole_frames and type(X).__module__.startswith("zarr"):
            _warn_missing_zarr_chunks(X)
        source = FrameSource(data, kind, det, scan_shape, layout, streamed=memmap or kind != "memory")
    if scan_shape is not None and math.prod(scan_shape) != source.n_frames:
        raise ValueError(
            f"scan_shape={scan_shape} does not match n_positions={source.n_frames}: "
            f"sy * sx = {math.prod(scan_shape)}."
        )
    source.scan_shape = scan_shape
    return source


def _warn_missing_zarr_chunks(array):
    """Warn when chunks of a zarr array were never written: zarr reads them as its fill value."""
    try:
        written, total = array.nchunks_initialized, array.nchunks
    except Exception:  # a store that cannot list its keys: nothing to tell
        return
    if written < total:
        warnings.warn(
            f"X, {_describe(array)}, has {total - written} of {total} chunks that were never written; zarr "
            f"reads them as fill_value={array.fill_value!r}. zarr leaves out chunks that hold only that "
            "value (unless written with write_empty_chunks=True); if they were lost instead, the file is "
            "incomplete: sklearn_rvae.io.load_4dstem refuses such arrays and names the missing frames.",
            UserWarning,
            stacklevel=4,
        )


def _check_n_features(estimator, n_features, reset):
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and expected != n_features:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{expected} features as input."
        )
