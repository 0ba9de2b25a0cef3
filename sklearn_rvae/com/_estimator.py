"""COMTransformer: centre-of-mass / DPC analysis of 4D-STEM data."""

import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet

from .. import dpc
from .._frames import frame_source
from .._masks import mask_weights, parse_mask, radial_distance, ring
from .._progress import Progress
from .._utils import Interval, check_annulus, check_real_tuple, check_scalar, resolve_device
from ._flags import REASONS, TRANSFORM_EFFECT, EmptyFrameWarning, ExcludedFramesWarning, flag_frames, flagged_frames
from ._module import DetectorMomentsModule
from ._stream import chunk_frames, stream_moments


class _MomentsNet(NeuralNet):
    """The skorch net that owns the moments module and its device.

    Nothing is trained: the net gives COMTransformer the same composition as
    the other estimators (module, device placement, CUDA-to-CPU unpickling).
    The streaming loop calls ``module_`` directly, chunk by chunk, because
    skorch's DataLoader iteration would copy every frame through a collate
    step and cannot read HDF5 / zarr / dask sources.
    """

    def initialize_optimizer(self, *args, **kwargs):
        # A fixed linear map: no parameters, so no optimizer.
        self.optimizer_ = None
        return self


class COMTransformer(TransformerMixin, BaseEstimator):
    """Centre-of-mass (COM) / differential phase contrast analysis of 4D-STEM data.

    For every scan position the transformer returns the shift of the centre
    of mass of the diffraction pattern from a reference centre, in detector
    pixels, normalised by the frame's (masked) intensity and corrected for
    descan, scan rotation and flip, so that the result is a vector field in
    the scan frame: the beam deflection, which points towards atomic columns.
    ``fit`` learns that calibration from the data; the methods
    :meth:`field`, :meth:`charge_density`, :meth:`curl`, :meth:`phase` and
    :meth:`virtual_images` turn it into maps.

    Axes and signs. Frames are ``(ky, kx)`` arrays with row 0 at the top of
    the screen; COM vectors are ``(x, y)`` = (along kx, along ky) on the
    detector. Scan maps are ``(sy, sx)`` with ``sy`` the slow axis (rows,
    down) and ``sx`` the fast one (columns, right); the output columns
    ``com_x``, ``com_y`` are the components along scan columns and scan rows.
    The correction maps a detector vector ``v`` to ``R(rotation_deg) F v``:
    ``F`` mirrors the detector y component when ``flip`` is true, and
    ``R(t)`` sends ``(x, y)`` to ``(x cos t - y sin t, x sin t + y cos t)``,
    so with y down a positive angle turns vectors *clockwise on screen*. This
    is LiberTEM's ``scan_rotation`` / ``flip_y`` convention (calibrations
    carry over); ``examples/plot_com_calibration.py`` draws it.

    Parameters
    ----------
    detector_shape : tuple (ky, kx) or None, default=None
        Frame shape for 2-D X of shape (n_positions, ky * kx). ``None`` infers
        a square detector; one entry may be -1. 3-D and 4-D inputs carry it.
    scan_shape : tuple (sy, sx) or None, default=None
        Scan shape for 2-D X (raster order, rows first). Needed by ``fit`` to
        learn descan and rotation and by the map methods; a 4-D X carries it.
        Without it ``fit`` learns only the centre.
    mask : None, "disk", float, (float, float) or array of shape (ky, kx), default=None
        Detector pixels that count, as every ``mask`` of the package takes
        them. ``None``: the whole detector. ``"disk"``: the disk inscribed
        in the detector, about the centre. A number ``r``: a disk of radius
        r pixels about the centre. A pair
        ``(r_inner, r_outer)``: an annulus. An array: per-pixel weights
        (boolean or non-negative). Radial masks are centred on ``center``
        when given, else on the fitted centre (``fit`` refines it once).
        Detector rows the mask leaves out entirely are never read, which
        makes a disk mask faster than no mask; a NaN or inf pixel anywhere
        in the rows that are read raises a ``ValueError``.
    threshold : float or None, default=None
        Pixels with intensity below it count as zero (detector noise floor).
    center : "mean" or (float, float), default="mean"
        Reference centre of the beam, as ``DiffractionPreprocessor(center=...)``
        takes it: ``"mean"``, the mean COM over the scan (the undeflected
        beam for a thin sample); ``(cy, cx)``, a known centre in detector
        pixels. ``None``, the old spelling of ``"mean"``, is deprecated.
    rotation_deg : float or None, default=None
        Scan rotation in degrees; ``None`` fits it (needs ``scan_shape``).
    flip : bool or None, default=None
        Detector flip; ``None`` fits it (needs ``scan_shape``).
    descan : bool, default=True
        Fit and remove a plane of shift across the scan (descan: the beam
        walks on the detector as it scans). It also removes any real
        uniform or linearly varying field, so switch it off for mesoscale
        fields.
    mrad_per_px : float or None, default=None
        Detector calibration, for physical units in the map methods.
    scan_step : float or None, default=None
        Scan step in Angstrom, for physical units in the map methods.
    energy : float or None, default=None
        Beam energy in eV, for the field, charge and phase in physical units.
    chunk_size : int or "auto", default="auto"
        Frames per chunk. ``"auto"`` takes in-memory data in large views
        (no copy), and chunks read from files near 16 MiB.
    kernel : {"auto", "fused", "matmul"}, default="auto"
        How frames are summed on the CPU. ``"fused"``: a numba kernel that
        reads each pixel once, integers and float32 alike (``pip install
        sklearn_rvae[fast]``). ``"matmul"``: torch's matrix product, with
        integer chunks first converted to float32 in a small cached buffer
        (about half the speed). ``"auto"``: the fused kernel for integers,
        and for float32 whichever of the two a measurement made once per
        process finds faster (BLAS streams the product at the memory read
        rate on some CPUs and far below it on others); the matmul without
        numba. float64 frames and GPUs always take the matmul.
    device : str, default="auto"
        ``"auto"`` (a CUDA GPU when present), ``"cpu"`` or ``"cuda[:N]"``.
    verbose : int, default=0
        Show a progress bar (tqdm) of reading the frames in ``fit`` and ``transform``
        (frames done, time left), at most once a second: for files and
        arrays larger than memory.

    Attributes
    ----------
    center_ : ndarray of shape (2,)
        Reference centre ``(cy, cx)`` in detector pixels.
    rotation_deg_ : float
    flip_ : bool
    descan_coef_ : ndarray of shape (2, 3)
        Descan plane in the scan frame (after rotation): for output component
        ``i`` the removed shift is ``descan_coef_[i] @ [1, row, col]``.
        Zero when ``descan=False`` or no scan shape is known.
    curl_fraction_ : float or None
        Squared curl over squared curl plus divergence of the corrected
        training field: near 0 when the calibration is right. ``None``
        without a scan shape.
    scan_shape_ : tuple or None
    detector_shape_ : tuple
    mean_pattern_ : ndarray of shape (ky, kx)
        Mean diffraction pattern of the training data.
    bright_field_radius_ : float
        Radius in pixels of the bright-field disk in ``mean_pattern_`` (half
        maximum), the default scale of :meth:`virtual_images`.
    empty_frames_ : ndarray of int
        Positions of the training frames with no masked intensity.
    excluded_frames_ : ndarray of int
        Positions of the training frames left out of the centre, descan and
        rotation fits (an :class:`ExcludedFramesWarning` says so): no
        positive intensity, a total below 1% of the median frame's (beam
        blanked), or a COM more than ten times the scan's typical distance
        from the median of its 3 x 3 scan neighbours (a hot pixel, a cosmic
        ray). A sample changes neither that abruptly.
    excluded_reasons_ : ndarray of str
        Why, for each of ``excluded_frames_``.
    kernel_ : str
        The kernel that summed the training frames: ``"fused (numba)"`` or
        ``"matmul (torch)"``.
    net_ : skorch NeuralNet
        Holds the moments module on ``device``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rvae import COMTransformer
    >>> frames = np.zeros((6, 9, 9))
    >>> frames[:, 4, 4] = 1.0
    >>> frames[2, 4, 6] = 3.0  # one frame with extra intensity to the right
    >>> com = COMTransformer(center=(4, 4), descan=False).fit(frames)
    >>> com.transform(frames)[[0, 2]].round(3)
    array([[0. , 0. ],
           [1.5, 0. ]])
    """

    _parameter_constraints: dict = {
        "detector_shape": ["array-like", None],
        "scan_shape": ["array-like", None],
        "mask": [StrOptions({"disk"}), Interval(numbers.Real, 0, None, closed="neither"), "array-like", None],
        "threshold": [Interval(numbers.Real, None, None, closed="neither"), None],
        "center": [StrOptions({"mean"}), "array-like", None],
        "rotation_deg": [Interval(numbers.Real, None, None, closed="neither"), None],
        "flip": ["boolean", None],
        "descan": ["boolean"],
        "mrad_per_px": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "scan_step": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "energy": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "kernel": [StrOptions({"auto", "fused", "matmul"})],
        "device": [str, torch.device],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        detector_shape=None,
        scan_shape=None,
        mask=None,
        threshold=None,
        center="mean",
        rotation_deg=None,
        flip=None,
        descan=True,
        mrad_per_px=None,
        scan_step=None,
        energy=None,
        chunk_size="auto",
        kernel="auto",
        device="auto",
        verbose=0,
    ):
        self.detector_shape = detector_shape
        self.scan_shape = scan_shape
        self.mask = mask
        self.threshold = threshold
        self.center = center
        self.rotation_deg = rotation_deg
        self.flip = flip
        self.descan = descan
        self.mrad_per_px = mrad_per_px
        self.scan_step = scan_step
        self.energy = energy
        self.chunk_size = chunk_size
        self.kernel = kernel
        self.device = device
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the reference centre, descan plane, scan rotation and flip.

        Parameters
        ----------
        X : array-like of shape (n_positions, ky * kx), (n_positions, ky, kx) or (sy, sx, ky, kx)
            Frames as an ndarray, ``numpy.memmap``, h5py / zarr dataset or
            dask array; read in chunks. Integer counts stay integers until a
            chunk is summed. At least 2 positions; descan and rotation need
            at least 2 x 2.
        y : None
            Ignored.

        Returns
        -------
        self : COMTransformer
        """
        source = frame_source(
            self, X, detector_shape=self.detector_shape, scan_shape=self.scan_shape, reset=True,
            ensure_min_samples=2,
        )
        self.detector_shape_ = source.detector_shape
        self.scan_shape_ = source.scan_shape
        mask_image = self._mask_image(source.detector_shape)
        center_param = self._check_center()
        self._build_net(mask_image, center_param if center_param is not None else self._geometric_center())

        moments, pattern_sum = self._moments(source, with_pattern=True, name="X")
        com_abs, empty = self._absolute_com(moments)
        flags = flag_frames(moments[:, 0], com_abs, source.scan_shape)
        if center_param is None:
            center = self._mean_center(com_abs, flags)
            if mask_image is not None and mask_image[0] == "radial":
                # The disk / annulus was drawn about the detector centre; draw
                # it about the beam and measure again.
                self._build_net(mask_image, center)
                moments, _ = self._moments(source, name="X")
                com_abs, empty = self._absolute_com(moments)
                flags = flag_frames(moments[:, 0], com_abs, source.scan_shape)
                center = self._mean_center(com_abs, flags)
        else:
            center = np.asarray(center_param, dtype=np.float64)  # the net already sits there
        self.center_ = center
        self.kernel_ = self.net_.module_.kernel_for(source.dtype)
        self.empty_frames_ = np.flatnonzero(empty)
        self.excluded_frames_ = np.flatnonzero(flags)
        self.excluded_reasons_ = np.array([REASONS[f] for f in flags[self.excluded_frames_]], dtype=object)
        self._warn_excluded(flags)

        n = len(com_abs)
        self.mean_pattern_ = (pattern_sum / n).reshape(source.detector_shape)
        self.bright_field_radius_ = _bright_field_radius(self.mean_pattern_)

        shift = self._shift(com_abs, empty)  # detector frame, (x, y)
        detector_plane = np.zeros((2, 3))
        self.curl_fraction_ = None
        rotation = 0.0 if self.rotation_deg is None else float(self.rotation_deg)
        flip = False if self.flip is None else bool(self.flip)
        scan = self.scan_shape_
        if scan is not None and scan[0] >= 2 and scan[1] >= 2:
            field = shift.reshape(scan[0], scan[1], 2)
            valid = (flags == 0).reshape(scan)
            if self.descan:
                detector_plane = dpc.fit_plane(field, mask=valid)
                field = field - dpc.evaluate_plane(detector_plane, scan)
            field = np.where(valid[..., None], field, 0.0)
            rotation, flip, self.curl_fraction_ = dpc.fit_rotation(
                field, rotation_deg=self.rotation_deg, flip=self.flip
            )
        self.rotation_deg_ = float(rotation)
        self.flip_ = bool(flip)
        # Rotation is linear, so the plane fitted in the detector frame,
        # rotated, is the least-squares plane of the rotated field.
        self.descan_coef_ = dpc.rotation_matrix(self.rotation_deg_, self.flip_) @ detector_plane
        return self

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Calibrated COM shift per scan position.

        Parameters
        ----------
        X : array-like or dataset, frames as in :meth:`fit`
            With descan on and a fitted scan shape, X must hold that whole
            scan (the plane is a function of the scan position).

        Returns
        -------
        com : ndarray of shape (n_positions, 2)
            ``[com_x, com_y]`` in detector pixels, in the scan frame (see the
            class docstring). Frames with no masked intensity, or a total
            below 1% of the median frame's, give ``0``; they and frames whose
            COM stands far off their scan neighbours' (kept as measured) are
            named in an :class:`EmptyFrameWarning`.
        """
        check_is_fitted(self)
        source = self._source(X)
        return self._calibrated_com(source, "transform")

    def get_feature_names_out(self, input_features=None):
        """``["com_x", "com_y"]``."""
        check_is_fitted(self, "n_features_in_")
        return np.asarray(["com_x", "com_y"], dtype=object)

    # ----------------------------------------------------------------- maps
    def com_map(self, X):
        """:meth:`transform` reshaped to the scan: (sy, sx, 2), last axis (x, y)."""
        check_is_fitted(self)
        source = self._source(X)
        scan = self._map_scan_shape(source)
        return self._calibrated_com(source, "com_map").reshape(scan[0], scan[1], 2)

    def field(self, X, thickness=None):
        """Transverse electric field, ``(sy, sx, 2)`` with ``(E_x, E_y)``.

        The field points opposite to the deflection (away from nuclei).
        Units: with ``mrad_per_px`` and ``energy`` set, the projected field
        ``E t`` in volts, or ``E`` in V/Angstrom when ``thickness``
        (Angstrom) is given; with ``mrad_per_px`` only, the negative
        deflection in mrad; with neither, the negative COM shift in pixels.
        """
        deflection = self._deflection(self.com_map(X))
        if self.mrad_per_px is not None and self.energy is not None:
            field = -deflection * 1e-3 * dpc.interaction_voltage(self.energy)
            if thickness is not None:
                field = field / check_scalar(thickness, "thickness", positive=True)
            return field
        if thickness is not None:
            raise ValueError("thickness needs mrad_per_px and energy (the physical conversion) to be set.")
        return -deflection

    def charge_density(self, X, thickness=None):
        """Projected charge density ``eps0 div E``, (sy, sx); positive on nuclei.

        With ``mrad_per_px``, ``energy`` and ``scan_step`` set: electrons per
        Angstrom^2 (``e`` the elementary charge, so nuclei positive), or per
        Angstrom^3 when ``thickness`` is given. Otherwise minus the
        divergence of the calibrated COM map, in pixels per scan step.
        """
        com = self.com_map(X)
        if self._physical():
            projected_field = -self._deflection(com) * 1e-3 * dpc.interaction_voltage(self.energy)  # V
            div = dpc.divergence(projected_field, spacing=self.scan_step * 1e-10)  # V / m
            rho = dpc.VACUUM_PERMITTIVITY * div / dpc.ELEMENTARY_CHARGE * 1e-20  # e / Angstrom^2
            return rho if thickness is None else rho / check_scalar(thickness, "thickness", positive=True)
        if thickness is not None:
            raise ValueError("thickness needs mrad_per_px, energy and scan_step to be set.")
        return -dpc.divergence(com)

    def curl(self, X):
        """Curl of the calibrated COM map, (sy, sx), pixels per scan step.

        The calibration check: a thin sample's deflection is a gradient, so
        this is noise when rotation and flip are right.
        """
        return dpc.curl(self.com_map(X))

    def phase(self, X, padding="mirror", highpass=0.0):
        """Integrated DPC phase (iCOM), (sy, sx), mean zero, peaks on atoms.

        In radians when ``mrad_per_px``, ``energy`` and ``scan_step`` are set
        (``grad phi = 2 pi theta / lambda``); otherwise the integral of the
        COM map in pixels x scan steps. ``padding`` and ``highpass`` (cycles
        per Angstrom, or per scan step without ``scan_step``) as in
        :func:`sklearn_rvae.dpc.integrate_gradient`.
        """
        com = self.com_map(X)
        if self._physical():
            gradient = 2 * math.pi * self._deflection(com) * 1e-3 / dpc.electron_wavelength(self.energy)
            return dpc.integrate_gradient(gradient, spacing=self.scan_step, padding=padding, highpass=highpass)
        return dpc.integrate_gradient(com, padding=padding, highpass=highpass)

    def virtual_images(self, X, detectors=None):
        """Virtual detector images from annuli about the fitted centre.

        Parameters
        ----------
        X : frames, as in :meth:`transform`
        detectors : dict of name -> (r_inner, r_outer) or None
            Radii in detector pixels (``r_outer`` may be ``inf``). ``None``
            gives BF ``(0, r)``, ABF ``(r / 2, r)`` and ADF ``(1.25 r, inf)``
            with ``r = bright_field_radius_``.

        Returns
        -------
        dict of name -> ndarray of shape (sy, sx), or (n_positions,) when no
        scan shape is known: the summed intensity in each annulus. A ring
        of ``detectors`` that holds no pixel of the detector is an error; a
        default ring beyond the detector is left out with a warning.
        """
        check_is_fitted(self)
        distance = radial_distance(self.detector_shape_, self.center_)
        if detectors is None:
            r = self.bright_field_radius_
            detectors = {"BF": (0.0, r), "ABF": (r / 2, r), "ADF": (1.25 * r, math.inf)}
            # A default ring beyond a small detector is left out, and said so; a given one is an error.
            beyond = [name for name, (inner, _) in detectors.items() if inner > distance.max()]
            if beyond:
                warnings.warn(
                    f"virtual_images: the default {', '.join(beyond)} ring(s) start beyond this "
                    f"{distance.shape[0]} x {distance.shape[1]} detector, whose pixels reach {distance.max():.3g} px "
                    f"from the centre: left out. Pass detectors= to choose the rings.", UserWarning, stacklevel=2)
                detectors = {name: radii for name, radii in detectors.items() if name not in beyond}
        if not isinstance(detectors, dict) or not detectors:
            raise TypeError("detectors must be a non-empty dict of name -> (r_inner, r_outer).")
        source = self._source(X)
        weights = []
        for name, radii in detectors.items():
            label = f"detectors[{name!r}]"
            weights.append(ring(distance, _annulus(radii, label), self.center_, label, radii, outer_closed=False,
                                where="detector"))
        module = DetectorMomentsModule(self.detector_shape_, weights=np.stack(weights), kernel=self.kernel)
        sums, _ = self._moments(source, module=module, name="X")
        shape = (-1,) if source.scan_shape is None and self.scan_shape_ is None else self._map_scan_shape(source)
        return {name: sums[:, i].reshape(shape) for i, name in enumerate(detectors)}

    # ------------------------------------------------------------ internals
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def _source(self, X):
        return frame_source(
            self, X, detector_shape=self.detector_shape_, scan_shape=None, reset=False,
        )

    def _map_scan_shape(self, source):
        scan = source.scan_shape or self.scan_shape_
        if scan is None:
            raise ValueError("Maps need the scan shape: pass a 4-D X or set scan_shape before fit.")
        if math.prod(scan) != source.n_frames:
            raise ValueError(
                f"scan_shape={tuple(scan)} does not match n_positions={source.n_frames}."
            )
        return tuple(scan)

    def _geometric_center(self):
        ky, kx = self.detector_shape_
        return np.array([(ky - 1) / 2.0, (kx - 1) / 2.0])

    def _check_center(self):
        if self.center is None:
            warnings.warn("COMTransformer: center=None is spelled center='mean' since 0.2; None will be refused in "
                          "0.3.", FutureWarning, stacklevel=4)
            return None
        if isinstance(self.center, str):  # "mean", checked by the constraints
            return None
        return np.array(check_real_tuple(self.center, "center", 2, expected="a pair of finite numbers (cy, cx)"))

    def _mask_image(self, detector_shape):
        """The mask parameter, checked (``parse_mask``)."""
        return parse_mask(self.mask, detector_shape, where="detector")

    def _build_net(self, mask_image, center):
        device = resolve_device(self.device)
        ky, kx = self.detector_shape_
        weight = mask_weights(mask_image, (ky, kx), center, "mask", self.mask, where="detector")
        yy, xx = np.mgrid[:ky, :kx]
        # First moments about the centre, not pixel 0: the sums stay small
        # and float32 keeps its precision.
        weights = np.stack([weight, weight * (xx - center[1]), weight * (yy - center[0])])
        self.net_ = _MomentsNet(
            module=DetectorMomentsModule,
            module__detector_shape=(ky, kx),
            module__weights=weights,
            module__threshold=self.threshold,
            module__kernel=self.kernel,
            criterion=torch.nn.MSELoss,  # required by skorch; never used
            device=device,
        ).initialize()
        self._origin = np.asarray(center, dtype=np.float64)

    def _moments(self, source, module=None, with_pattern=False, name="X"):
        """Stream the source through the moments module (``stream_moments``): float64 (n, n_out)."""
        module = self.net_.module_ if module is None else module
        step = chunk_frames(source, self.chunk_size, module, self.net_.device)
        progress = Progress(type(self).__name__, source.n_frames, self.verbose, unit="frames")
        return stream_moments(source, module, self.net_.device, step, progress, with_pattern, name)

    def _calibrated_com(self, source, where):
        moments, _ = self._moments(source, name="X")
        com_abs, _ = self._absolute_com(moments)
        scan = source.scan_shape or self.scan_shape_
        if scan is not None and math.prod(scan) != source.n_frames:
            scan = None
        flags = flag_frames(moments[:, 0], com_abs, scan)
        self._warn_flags(flags, where)
        # Without (enough) intensity there is no COM: 0, flagged. An outlying
        # COM is measured, so it is kept and flagged.
        no_com = (flags == 1) | (flags == 2)
        return self._calibrate(self._shift(com_abs, no_com), no_com, source)

    def _absolute_com(self, moments):
        """COM in detector pixels (cy, cx) -> returned as (x, y) absolute, and the empty mask."""
        total = moments[:, 0]
        empty = ~(total > 0)
        safe = np.where(empty, 1.0, total)
        com_x = moments[:, 1] / safe + self._origin[1]
        com_y = moments[:, 2] / safe + self._origin[0]
        com = np.stack([com_x, com_y], 1)
        com[empty] = np.nan
        return com, empty

    def _mean_center(self, com_abs, flags):
        if np.all(flags == 1):
            raise ValueError("Every frame of X has zero (masked) intensity: no centre of mass to fit.")
        mean_x, mean_y = np.mean(com_abs[flags == 0], axis=0)
        return np.array([mean_y, mean_x])

    def _shift(self, com_abs, empty):
        shift = com_abs - np.array([self.center_[1], self.center_[0]])
        shift[empty] = 0.0
        return shift

    def _calibrate(self, shift, empty, source):
        out = dpc.apply_rotation(shift, self.rotation_deg_, self.flip_)
        if np.any(self.descan_coef_):
            scan = source.scan_shape or self.scan_shape_
            if scan is None or math.prod(scan) != source.n_frames:
                raise ValueError(
                    f"scan_shape={self.scan_shape_} does not match n_positions={source.n_frames}: "
                    "the descan correction depends on the scan position, so X must hold the whole "
                    "scan (or fit with descan=False)."
                )
            out = out - dpc.evaluate_plane(self.descan_coef_, scan).reshape(-1, 2)
        out[empty] = 0.0
        return out

    def _warn_flags(self, flags, where):
        if np.any(flags):
            parts = flagged_frames(flags, noun=" frame(s)", effect=TRANSFORM_EFFECT)
            warnings.warn(f"In {where}: {parts}.", EmptyFrameWarning, stacklevel=4)

    def _warn_excluded(self, flags):
        if not np.any(flags):
            return
        warnings.warn(
            f"fit left {np.count_nonzero(flags)} of {len(flags)} frame(s) out of the centre, descan and "
            f"rotation fits: {flagged_frames(flags)}. They are listed in excluded_frames_ / excluded_reasons_; "
            "transform gives frames without intensity a COM shift of 0.",
            ExcludedFramesWarning,
            stacklevel=3,
        )

    def _physical(self):
        return self.mrad_per_px is not None and self.energy is not None and self.scan_step is not None

    def _deflection(self, com):
        return com * self.mrad_per_px if self.mrad_per_px is not None else com


def _annulus(radii, name):
    """``(r_inner, r_outer)`` detector radii in pixels, ``0 <= r_inner < r_outer``; ``r_outer`` may be inf."""
    return check_annulus(radii, name, unit="pixels", strict=True, open_outer=True)


def _bright_field_radius(pattern):
    """Radius of the region above half the maximum of a mean pattern, in pixels."""
    peak = float(np.max(pattern))
    if not peak > 0:
        return 0.0
    return float(np.sqrt(np.count_nonzero(pattern >= 0.5 * peak) / np.pi))


