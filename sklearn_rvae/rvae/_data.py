"""What RotationInvariantVAE reads: images in memory, or frames streamed from a file or dask array.

In memory, X is validated as scikit-learn does and converted whole. A
streamed source (``FrameSource.streamed``) is read a chunk at a time: one
pass gives the offset and scale of the Gaussian model, then every read
converts its chunk (integer counts to float, offset, scale, float32) and
checks it, naming the frames that are bad.
"""

import numpy as np

from .._frames import frame_source, in_memory_frames, is_streamed
from .._streaming import (
    Moments,
    StreamedFrames,
    chunks_with_progress,
    evenly_spaced,
    non_finite_error,
    picked,
    valid_spans,
)
from .._utils import resolve_image_shape, validate_numeric


def check_image_shape(image_shape, frames_shape):
    """``image_shape`` given and contradicting the frames' own shape is an error."""
    if image_shape is None or frames_shape is None:
        return
    given = tuple(image_shape)
    if len(given) != 2 or any(g not in (-1, f) for g, f in zip(given, frames_shape)):
        raise ValueError(
            f"image_shape={image_shape!r} does not match X, whose images have shape {frames_shape} "
            "(the last two axes of a 3-D or 4-D X)."
        )


def streamed_source(estimator, X, reset, ensure_min_samples=1):
    """A FrameSource over a file, memmap or dask array of images (n, h*w), (n, h, w) or (sy, sx, h, w)."""
    image_shape = estimator.image_shape if reset else estimator.image_shape_
    source = frame_source(
        estimator, X, detector_shape=None if np.ndim(X) > 2 else image_shape, scan_shape=None,
        reset=reset, ensure_min_samples=ensure_min_samples, whole_frames=True, shape_name="image_shape",
    )
    if np.ndim(X) > 2:
        check_image_shape(image_shape, source.detector_shape)
    return source


def edge_pixels(frames, image_shape):
    """The pixels on the edges of each image (rows 0 and h-1, columns 0 and w-1), flattened."""
    h, w = image_shape
    images = frames.reshape(len(frames), h, w)
    return np.concatenate([images[:, [0, -1], :].reshape(-1), images[:, :, [0, -1]].reshape(-1)])


def stream_statistics(source, step, image_shape, gaussian, verbose=0, label="RotationInvariantVAE"):
    """One pass: ``(offset, scale, low, high)`` of a streamed source.

    The offset is the median of the edge pixels of evenly spaced frames
    (every frame up to 2**22 edge pixels, so it equals the in-memory median
    on such data), the scale the standard deviation of every pixel; low and
    high the extremes. Raises on non-finite frames, naming them.
    """
    h, w = image_shape
    sample = evenly_spaced(source.n_frames, 2 * (h + w))
    moments, low, high = Moments(), np.inf, -np.inf
    edges, bad, n_bad = [], [], 0
    for start, chunk in chunks_with_progress(source, step, f"{label} (statistics)", verbose):
        lo, hi = float(chunk.min()), float(chunk.max())  # NaN or inf anywhere shows here
        if not (np.isfinite(lo) and np.isfinite(hi)):
            where = start + np.flatnonzero(~np.isfinite(chunk).all(1))
            n_bad += len(where)
            bad.extend(where[:10].tolist())
            del bad[10:]
            continue
        low, high = min(low, lo), max(high, hi)
        if gaussian:
            moments.add(chunk)
            edges.append(edge_pixels(chunk[picked(sample, start, start + len(chunk))], image_shape))
    if n_bad:
        raise non_finite_error("X", bad, n_bad, "the model needs finite pixel values.")
    if not gaussian:
        return 0.0, 1.0, low, high
    offset = float(np.median(np.concatenate(edges), overwrite_input=True))
    scale = float(np.sqrt(moments.variance))
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    return offset, scale, low, high


class Standardise:
    """A raw chunk -> ``(frames - offset) / scale`` in ``dtype``, checked; picklable (it travels with the model).

    With ``dtype=None`` the arithmetic runs in float32 for float32 frames and
    in float64 for the others, as on in-memory X (so that a streamed fit sees
    the same numbers), and the result is float32 for the network. Given
    ``out`` (float32 rows), the result is written there: float64 work goes
    through a few rows at a time, so no copy of the chunk is made.
    """

    # Rows of float64 work per piece when writing into ``out`` (about 4 MiB).
    PIECE_BYTES = 4 * 2**20

    def __init__(self, offset, scale, bernoulli, dtype=None):
        self.offset, self.scale, self.bernoulli, self.dtype = offset, scale, bernoulli, dtype

    def __call__(self, frames, start=0, out=None):
        work = self.dtype or (np.float32 if frames.dtype == np.float32 else np.float64)
        offset, scale = np.asarray(self.offset, dtype=work), np.asarray(self.scale, dtype=work)
        if out is None:
            result = np.subtract(frames, offset, dtype=work)
            result /= scale
        elif work == out.dtype:
            result = np.subtract(frames, offset, out=out, dtype=work)
            result /= scale
        else:
            rows = max(1, self.PIECE_BYTES // max(1, frames.shape[1] * np.dtype(work).itemsize))
            for r in range(0, len(frames), rows):
                piece = np.subtract(frames[r : r + rows], offset, dtype=work)
                piece /= scale
                out[r : r + rows] = piece
            result = out
        span = (start, start + len(frames))
        if not np.isfinite(result).all():
            raw = frames.astype(np.float64, copy=False)
            finite = np.isfinite(raw).all(1)
            if not finite.all():
                where = start + np.flatnonzero(~finite)
                raise non_finite_error("X", where, len(where), "the model needs finite pixel values.", span=span)
            raise ValueError(
                f"X spans {raw.min():.3g} to {raw.max():.3g} in frames {span[0]}-{span[1] - 1}, "
                "beyond float32 once centred and scaled; rescale X (e.g. divide by its maximum) before fit."
            )
        if self.bernoulli and (frames.min() < 0 or frames.max() > 1):
            raise ValueError(
                f"likelihood='bernoulli' needs X in [0, 1]; frames {span[0]}-{span[1] - 1} hold "
                f"values in [{frames.min():.4g}, {frames.max():.4g}]. Scale X or use likelihood='gaussian'."
            )
        return result if self.dtype or out is not None else result.astype(np.float32, copy=False)


def _edge_level(X, image_shape):
    """Median of the pixels on the edges of the images (rows 0 and h-1, columns 0 and w-1)."""
    return float(np.median(edge_pixels(X, image_shape)))


class TrainingData:
    """What a fit trains on: ``train`` (float32 array, or ``StreamedFrames``) and how it was scaled."""

    def __init__(self, train, image_shape, offset, scale, low, high, n, streamed):
        self.train, self.image_shape, self.offset, self.scale = train, image_shape, offset, scale
        self.low, self.high, self.n, self.streamed = low, high, n, streamed

    def causes(self, estimator):
        """The likely causes of a diverged training, for ``train_net``."""
        span = "" if self.low is None else f" (X spans {self.low:.3g} to {self.high:.3g})"

        def causes():
            every = (f"; every one of the n_init={estimator.n_init} starts diverged"
                     if estimator.n_init > 1 else "")
            return (
                f"a learning rate too large (lr={estimator.lr}; try 10x smaller), a KL weight or capacity that "
                f"fights the reconstruction (beta={estimator.beta}, capacity={estimator.capacity}), or X on an "
                f"extreme scale{span}{every}"
            )

        return causes


def training_data(estimator, X, reset, ensure_min_samples):
    """X checked and ready for training: in memory as float32, or streamed by chunks (``TrainingData``)."""
    if is_streamed(X):
        source = streamed_source(estimator, X, reset=reset, ensure_min_samples=ensure_min_samples)
        image_shape = resolve_image_shape(source.detector_shape if reset else estimator.image_shape_,
                                          source.n_features)
        estimator._check_enough_for_classes(source.n_frames)
        step = source.storage_step()
        low, high = None, None
        if reset:
            offset, scale, low, high = stream_statistics(
                source, step, image_shape, estimator.likelihood == "gaussian", estimator.verbose
            )
        else:
            offset, scale = estimator.data_offset_, estimator.data_scale_
        if estimator.likelihood == "bernoulli" and low is not None and (low < 0 or high > 1):
            estimator._check_X_range(np.array([low, high]))
        spans = valid_spans(source, step, estimator.validation_fraction) if estimator.early_stopping and reset else \
            source.spans(step)
        train = StreamedFrames(source, spans, Standardise(offset, scale, estimator.likelihood == "bernoulli"))
        return TrainingData(train, image_shape, offset, scale, low, high, source.n_frames, True)
    X, frames_shape = in_memory_frames(X)
    check_image_shape(estimator.image_shape if reset else estimator.image_shape_, frames_shape)
    X = validate_numeric(estimator, X, reset=reset, dtype=[np.float64, np.float32],
                         ensure_min_samples=ensure_min_samples)
    estimator._check_enough_for_classes(len(X))
    image_shape = resolve_image_shape(frames_shape or (estimator.image_shape if reset else estimator.image_shape_),
                                      X.shape[1])
    estimator._check_X_range(X)
    offset, scale = (0.0, 1.0) if reset else (estimator.data_offset_, estimator.data_scale_)
    if reset and estimator.likelihood == "gaussian":
        offset = _edge_level(X, image_shape)
        scale = float(np.std(X, dtype=np.float64))
        if not np.isfinite(scale) or scale <= 0:
            scale = 1.0
    Xt = ((X - offset) / scale).astype(np.float32)
    if not np.all(np.isfinite(Xt)):
        raise ValueError(
            f"X spans {X.min():.3g} to {X.max():.3g}, beyond float32 once centred and scaled; "
            "rescale X (e.g. divide by its maximum) before fit."
        )
    return TrainingData(Xt, image_shape, offset, scale, float(X.min()), float(X.max()), len(X), False)


def chunks_of(train):
    """The training frames chunk by chunk: the array itself in memory, each span of a stream."""
    if isinstance(train, StreamedFrames):
        return (train.read_span(span) for span in train.spans)
    return (train,)
