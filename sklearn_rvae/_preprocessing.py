"""DiffractionPreprocessor: diffraction patterns made ready for rrVAE, PCA or NMF."""

import functools
import numbers

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, check_non_negative

from ._frames import FrameSource, frame_source, in_memory_frames, is_streamed
from ._streaming import Moments, chunks_with_progress, evenly_spaced, map_frames, non_finite_error, picked
from ._utils import Interval, check_real_tuple, resolve_image_shape, validate_numeric


def _beam_center(pattern):
    """Centre (cy, cx) of the direct beam: COM of the pixels above half the maximum."""
    peak = pattern.max()
    if not peak > 0:
        return (np.asarray(pattern.shape, dtype=float) - 1) / 2
    weights = np.where(pattern >= 0.5 * peak, pattern, 0.0)
    return np.asarray(ndimage.center_of_mass(weights))


@functools.lru_cache(maxsize=8)
def _axis_operator(n, shift, start, side, binning, blur):
    """The linear steps along one detector axis of length ``n`` as one matrix (m, n).

    Shifting (bilinear, zero outside), cropping ``side`` pixels from
    ``start``, binning and a Gaussian blur each act on the two detector
    axes separately and linearly, so a pattern P becomes ``Ly @ P @ Lx.T``:
    the same numbers as the steps one after the other (to rounding), in a
    fifth of the time. Each matrix is the steps applied to the identity.
    """
    op = np.eye(n)
    if shift:
        op = ndimage.shift(op, (shift, 0), order=1, mode="constant")
    op = op[start : start + side]
    if binning > 1:
        m = side // binning
        op = op[: m * binning].reshape(m, binning, n).sum(1)
    if blur > 0:
        op = ndimage.gaussian_filter1d(op, blur, axis=0, mode="nearest")
    return op


class DiffractionPreprocessor(TransformerMixin, BaseEstimator):
    """Centre, crop, bin, scale and normalise diffraction patterns.

    Steps, in this order, each optional: shift every pattern so the direct
    beam sits at the centre of the detector (sub-pixel, bilinear), crop a
    square about that centre, bin ``binning x binning`` pixels, smooth with a
    Gaussian, compress the dynamic range (``log1p`` or a power), normalise
    each pattern, and subtract the mean training pattern. The
    output is flattened row-major, square whenever a crop is set, so it goes
    straight into ``RotationInvariantVAE(translation=False)`` (whose
    rotations are about the image centre), PCA or NMF::

        make_pipeline(DiffractionPreprocessor(crop=48, binning=2), RotationInvariantVAE(translation=False))

    Parameters
    ----------
    detector_shape : tuple (ky, kx) or None, default=None
        Pattern shape; ``None`` infers a square one, one entry may be -1.
    center : {"mean", "each", "none"} or (float, float), default="mean"
        Where the direct beam is, to move it to the detector centre (the
        rotation models turn patterns about it); ``"mean"`` and a pair are
        what ``COMTransformer(center=...)`` takes as well.
        ``"mean"``: one shift for all patterns, from the direct beam of the
        mean training pattern (descan-free data, keeps each pattern's own
        deflection). ``(cy, cx)``: a known beam centre in detector pixels,
        one shift for all patterns. ``"each"``: every pattern centred on its own direct
        beam (removes deflection and descan; the beam is the pixels above
        half of the pattern's maximum). ``"none"``: no shift.
    crop : int or None, default=None
        Side in pixels of the square kept about the centre (before binning).
    binning : int, default=1
        Sum over ``binning x binning`` blocks (the crop is trimmed to a
        multiple).
    scaling : {"none", "log", "power"}, default="log"
        ``"log"``: ``log1p(I / I_ref)`` with ``I_ref`` the median positive
        intensity of the training patterns; ``"power"``: ``I ** power``.
        Compresses the direct beam against the weak diffracted signal.
    power : float, default=0.25
    blur : float, default=0.0
        Standard deviation in output pixels (after binning) of a Gaussian
        smoothing. A rotation model resamples the patterns: on a coarse
        detector the sharp disk edges alias. On simulated graphene (35 x 35
        pixels), a pattern turned by the 120-degree symmetry rotation
        differed from the symmetry-equivalent position's pattern by 1.26
        times the difference between the two positions' patterns; with
        ``blur=1.5``, by 0.26 times, and by 0.007 times with
        ``subtract_mean`` as well (benchmarks/graphene_rotation_aliasing.py).
    normalize : {"none", "max", "sum", "std"}, default="max"
        Per-pattern normalisation after scaling.
    subtract_mean : bool, default=False
        Subtract the mean training pattern and divide by the standard
        deviation of what remains (one number), so the model sees how each
        pattern differs from the average one. The mean pattern of a crystal
        carries its point-group symmetry, so the residuals keep the
        rotations that relate symmetry-equivalent positions, without the
        static disks that dominate the raw intensities. The output is then
        signed: not for NMF.

    Attributes
    ----------
    detector_shape_ : tuple
    center_ : ndarray of shape (2,)
        Direct-beam centre (cy, cx): of the mean training pattern, or the
        one given.
    output_shape_ : tuple
        Shape of one output pattern.
    reference_intensity_ : float
        ``I_ref`` of the log scaling.
    mean_pattern_ : ndarray of shape (prod(`output_shape_`),) or None
        Mean training pattern after scaling and normalisation, when
        ``subtract_mean``.
    residual_scale_ : float or None
        Standard deviation of the training residuals, when ``subtract_mean``.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae import DiffractionPreprocessor
    >>> X = np.random.default_rng(0).poisson(5.0, size=(10, 32 * 32)).astype(float)
    >>> pre = DiffractionPreprocessor(crop=24, binning=2).fit(X)
    >>> pre.transform(X).shape, pre.output_shape_
    ((10, 144), (12, 12))
    """

    _parameter_constraints: dict = {
        "detector_shape": ["array-like", None],
        "center": [StrOptions({"mean", "each", "none"}), "array-like"],
        "crop": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "binning": [Interval(numbers.Integral, 1, None, closed="left")],
        "scaling": [StrOptions({"none", "log", "power"})],
        "power": [Interval(numbers.Real, 0, None, closed="neither")],
        "blur": [Interval(numbers.Real, 0, None, closed="left")],
        "normalize": [StrOptions({"none", "max", "sum", "std"})],
        "subtract_mean": ["boolean"],
    }

    def __init__(self, *, detector_shape=None, center="mean", crop=None, binning=1, scaling="log", power=0.25,
                 blur=0.0, normalize="max", subtract_mean=False):
        self.detector_shape = detector_shape
        self.center = center
        self.crop = crop
        self.binning = binning
        self.scaling = scaling
        self.power = power
        self.blur = blur
        self.normalize = normalize
        self.subtract_mean = subtract_mean

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the direct-beam centre, the reference intensity and (``subtract_mean``) the mean pattern.

        Parameters
        ----------
        X : array-like of shape (n_patterns, ky * kx), (n_patterns, ky, kx) or (sy, sx, ky, kx)
            Non-negative intensities. An HDF5 or zarr dataset, a
            ``numpy.memmap`` or a dask array is streamed: one pass over its
            chunks for the centre and the reference intensity, a second for
            the mean pattern with ``subtract_mean``.
        y : None
            Ignored.

        Returns
        -------
        self : DiffractionPreprocessor
        """
        source = self._source(X, reset=True)
        self.detector_shape_ = source.detector_shape
        step = source.storage_step() if source.streamed else source.n_frames
        ky, kx = self.detector_shape_
        given = self._given_center(ky, kx)  # checked before the pass over the data
        # In memory every frame; streamed, up to 2**22 pixels of evenly spaced frames.
        sample = evenly_spaced(source.n_frames, ky * kx) if source.streamed else np.arange(source.n_frames)
        total, positive = Moments(axis=0), []
        for start, chunk in chunks_with_progress(source, step, "DiffractionPreprocessor (statistics)", 0):
            chunk = self._checked(chunk, start)
            if given is None:  # the mean pattern gives the beam centre
                total.add(chunk)
            kept = chunk[picked(sample, start, start + len(chunk))]
            positive.append(kept[kept > 0])
        self.center_ = _beam_center(total.mean.reshape(self.detector_shape_)) if given is None else given
        side = self._crop_side()
        if side is not None and side > min(ky, kx):
            raise ValueError(f"crop={self.crop} is larger than the detector {self.detector_shape_}.")
        h, w = (side, side) if side is not None else (ky, kx)
        if h // self.binning < 1 or w // self.binning < 1:
            raise ValueError(f"binning={self.binning} leaves no pixel of a {h} x {w} pattern.")
        self.output_shape_ = (h // self.binning, w // self.binning)
        if self.blur > max(self.output_shape_):
            raise ValueError(
                f"blur={self.blur} (pixels, after binning) is wider than the {self.output_shape_} output pattern "
                f"(n_features={h * w} in); a blur of a few pixels at most is what removes aliasing."
            )
        positive = np.concatenate(positive)
        self.reference_intensity_ = float(np.median(positive, overwrite_input=True)) if positive.size else 1.0
        self.mean_pattern_ = self.residual_scale_ = None
        if self.subtract_mean:
            if source.n_frames < 2:
                raise ValueError(f"subtract_mean=True needs at least 2 patterns to fit, got n_samples={source.n_frames}.")
            patterns = Moments(axis=0)
            for start, chunk in chunks_with_progress(source, step, "DiffractionPreprocessor (mean pattern)", 0):
                patterns.add(self._steps(self._checked(chunk, start)))
            self.mean_pattern_ = patterns.mean
            scale = float(np.sqrt(np.sum(patterns.m2) / (patterns.count * patterns.mean.size)))
            self.residual_scale_ = scale if scale > 0 else 1.0
        return self

    def transform(self, X):
        """Preprocessed patterns, shape (n_patterns, prod(``output_shape_``)).

        Parameters
        ----------
        X : array-like of shape (n_patterns, ky * kx), (n_patterns, ky, kx) or (sy, sx, ky, kx)
            Non-negative intensities. An HDF5 or zarr dataset, a
            ``numpy.memmap`` or a dask array gives a dask array, computed
            chunk by chunk when asked (so a ``Pipeline`` passes a scan on
            without holding it).

        Returns
        -------
        X_out : ndarray or dask array of shape (n_patterns, prod(``output_shape_``))
        """
        check_is_fitted(self)
        source = self._source(X, reset=False)
        n_out = int(np.prod(self.output_shape_))
        if source.streamed:
            return map_frames(source, source.storage_step(), self._transform_chunk, n_out)
        return self._transform_chunk(source.data, 0)

    def _transform_chunk(self, frames, start):
        flat = self._steps(self._checked(frames, start))
        if self.mean_pattern_ is not None:
            flat = (flat - self.mean_pattern_) / self.residual_scale_
        return flat

    def _source(self, X, reset):
        """X as a FrameSource: validated whole when in memory, else streamed."""
        detector_shape = self.detector_shape if reset else self.detector_shape_
        if is_streamed(X):
            return frame_source(self, X, detector_shape=None if np.ndim(X) > 2 else detector_shape,
                                scan_shape=None, reset=reset, whole_frames=True)
        X, frames_shape = in_memory_frames(X)
        X = validate_numeric(self, X, dtype=[np.float64, np.float32], reset=reset)
        self._check_non_negative(X)
        det = frames_shape or resolve_image_shape(detector_shape, X.shape[1], name="detector_shape")
        if frames_shape is not None and not reset and tuple(frames_shape) != tuple(self.detector_shape_):
            raise ValueError(f"X has frames of shape {frames_shape}; this DiffractionPreprocessor was fitted "
                             f"on {self.detector_shape_}.")
        return FrameSource(X, "memory", tuple(det), None, "flat")

    def _checked(self, frames, start):
        """A chunk of intensities: finite and non-negative, else an error naming its frames."""
        if frames.dtype.kind in "iub":
            if frames.dtype.kind == "i" and frames.size and frames.min() < 0:
                self._raise_negative(frames, start)
            return frames
        finite = np.isfinite(frames).all(1)
        if not finite.all():
            where = start + np.flatnonzero(~finite)
            raise non_finite_error("X", where, len(where), "diffraction intensities must be finite.",
                                   span=(start, start + len(frames)))
        if frames.size and frames.min() < 0:
            self._raise_negative(frames, start)
        return frames

    def _raise_negative(self, frames, start):
        where = start + np.flatnonzero((frames < 0).any(1))
        raise ValueError(
            f"Negative values in data passed to {type(self).__name__} (X must hold diffraction intensities): "
            f"{len(where)} frame(s), first at positions {where[:10].tolist()}."
        )

    def _given_center(self, ky, kx):
        """The beam centre given as a pair (cy, cx), checked against the detector; None for the string options."""
        if isinstance(self.center, str):
            return None
        center = np.array(check_real_tuple(self.center, "center", 2,
                                           expected="'mean', 'each', 'none' or a pair (cy, cx) of pixels"))
        if np.any(center < -0.5) or np.any(center > np.array([ky, kx]) - 0.5):
            raise ValueError(f"center={self.center!r} lies outside the {ky} x {kx} detector; give the beam "
                             "centre (cy, cx) in detector pixels.")
        return center

    def _steps(self, X):
        """Every step but the mean subtraction."""
        ky, kx = self.detector_shape_
        patterns = X.reshape(-1, ky, kx).astype(np.float64)  # integer counts converted here, per chunk
        target = (np.array([ky, kx], dtype=float) - 1) / 2
        shift = (0.0, 0.0)
        if not isinstance(self.center, str) or self.center == "mean":
            shift = tuple(float(d) if abs(d) > 1e-9 else 0.0 for d in target - self.center_)
        elif self.center == "each":
            patterns = np.stack([
                ndimage.shift(p, target - _beam_center(p), order=1, mode="constant") for p in patterns
            ])
        side = self._crop_side()
        # Cropped about the detector centre (where the beam now is).
        (y0, h), (x0, w) = [(0, k) if side is None else ((k - side) // 2, side) for k in (ky, kx)]
        if shift != (0.0, 0.0) or side is not None or self.binning > 1 or self.blur > 0:
            ly = _axis_operator(ky, shift[0], y0, h, self.binning, float(self.blur))
            lx = _axis_operator(kx, shift[1], x0, w, self.binning, float(self.blur))
            patterns = np.matmul(np.matmul(ly, patterns), lx.T)
        if self.scaling == "log":
            patterns = np.log1p(patterns / self.reference_intensity_)
        elif self.scaling == "power":
            patterns = patterns**self.power
        if not np.all(np.isfinite(patterns)):
            raise ValueError(
                f"scaling={self.scaling!r} with power={self.power} overflows float64 for X up to {X.max():.3g}; "
                "divide X by its maximum first, or lower power."
            )
        flat = patterns.reshape(len(patterns), -1)
        if self.normalize != "none":
            # Each normalisation is scale-free: divide by the peak first, so
            # that the sum or the squares of huge intensities cannot overflow.
            peak = np.abs(flat).max(1, keepdims=True)
            flat = flat / np.where(peak > 0, peak, 1.0)
            if self.normalize == "max":
                scale = flat.max(1, keepdims=True)
            elif self.normalize == "sum":
                scale = flat.sum(1, keepdims=True)
            else:
                scale = flat.std(1, keepdims=True)
            # An all-zero pattern stays zero rather than becoming NaN.
            flat = flat / np.where(scale > 0, scale, 1.0)
        return flat

    def get_feature_names_out(self, input_features=None):
        """``pixel0 ... pixelN`` of the output pattern."""
        check_is_fitted(self)
        n = int(np.prod(self.output_shape_))
        return np.asarray([f"pixel{i}" for i in range(n)], dtype=object)

    def _crop_side(self):
        return None if self.crop is None else int(self.crop)

    def _check_non_negative(self, X):
        # Intensities (counts); sklearn's wording, which its checks expect.
        check_non_negative(X, f"{type(self).__name__} (X must hold diffraction intensities)")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags
