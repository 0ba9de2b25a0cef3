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

import numpy as np

from ._utils import resolve_image_shape, validate_numeric
from .io import FileFormatError

# A lazy chunk (read from disk) holds about this many bytes once converted
# to float32: small against any machine's memory, large enough that the
# per-read overhead of HDF5 / zarr is negligible.
LAZY_CHUNK_BYTES = 16 * 2**20


def _kind(X):
    module = type(X).__module__ or ""
    if module.startswith("dask."):
        return "dask"
    if module.startswith(("h5py", "zarr")):
        return "lazy"
    return "memory"


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
    """

    def __init__(self, data, kind, detector_shape, scan_shape, layout):
        self.data = data
        self.kind = kind
        self.detector_shape = detector_shape
        self.n_features = detector_shape[0] * detector_shape[1]
        self.layout = layout  # "flat" (n, K), "stack" (n, ky, kx) or "scan" (sy, sx, ky, kx)
        self.n_frames = int(np.prod(data.shape[:-1] if layout == "flat" else data.shape[:-2]))
        self.scan_shape = scan_shape
        self.dtype = np.dtype(data.dtype)

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

    def chunks(self, frames_per_chunk):
        """Yield ``(start, frames)`` with frames an ndarray of shape (m, ky * kx)."""
        n, K = self.n_frames, self.n_features
        step = max(1, int(frames_per_chunk))
        if self.layout != "scan":
            for start in range(0, n, step):
                chunk = self._read(slice(start, start + step), start, min(start + step, n))
                yield start, _native(chunk.reshape(len(chunk), K))
            return
        # (sy, sx, ky, kx): whole scan rows when they fit the chunk (one
        # contiguous slab in raster order), else pieces of one row.
        sy, sx = self.data.shape[:2]
        if step >= sx:
            rows = step // sx
            for r in range(0, sy, rows):
                chunk = self._read(slice(r, r + rows), r * sx, min(r + rows, sy) * sx)
                yield r * sx, _native(chunk.reshape(-1, K))
        else:
            for r in range(sy):
                for c in range(0, sx, step):
                    chunk = self._read((r, slice(c, c + step)), r * sx + c, r * sx + min(c + step, sx))
                    yield r * sx + c, _native(chunk.reshape(-1, K))

    def _read(self, index, start, stop):
        """Frames start..stop - 1; a file's read error names them and the file."""
        try:
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


def frame_source(estimator, X, *, detector_shape, scan_shape, reset, ensure_min_samples=1):
    """Validate X and wrap it in a FrameSource.

    2-D in-memory input goes through scikit-learn's ``validate_data`` (feature
    counts, names, dtypes, sparse and empty input), without the finiteness
    scan: non-finite frames are caught from the moments, which costs nothing
    (a NaN or inf pixel makes its frame's sums non-finite).
    """
    kind = _kind(X)
    scan_shape = _check_shape_param(scan_shape, "scan_shape")
    detector_param = _check_shape_param(detector_shape, "detector_shape", allow_infer=True)
    if kind == "memory" and not (isinstance(X, np.ndarray) and X.ndim >= 3):
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
        det = resolve_image_shape(detector_shape, X.shape[1], name="detector_shape")
        source = FrameSource(X, "memory", det, None, "flat")
    else:
        shape = tuple(int(s) for s in X.shape)
        ndim = len(shape)
        _check_dtype(X.dtype)
        if ndim == 2:
            det = resolve_image_shape(detector_shape, shape[1], name="detector_shape")
            layout = "flat"
        elif ndim in (3, 4):
            det = shape[-2:]
            if detector_param is not None and any(p not in (-1, d) for p, d in zip(detector_param, det)):
                raise ValueError(
                    f"detector_shape={detector_param} does not match X, whose frames have shape {det} "
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
        source = FrameSource(data, kind, det, scan_shape, layout)
    if scan_shape is not None and math.prod(scan_shape) != source.n_frames:
        raise ValueError(
            f"scan_shape={scan_shape} does not match n_positions={source.n_frames}: "
            f"sy * sx = {math.prod(scan_shape)}."
        )
    source.scan_shape = scan_shape
    return source


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
