"""TiltRegressor: octahedral tilt angles from ABF-STEM patches with a deep CNN."""

import numbers

import numpy as np
import torch
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import Hidden, StrOptions
from sklearn.utils.validation import check_is_fitted, check_non_negative
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR

from .._deprecation import register, renamed_parameters, renamed_value
from .._periodic_cells import PeriodicCells
from .._frames import frame_source, is_streamed
from .._streaming import ChunkMethod, map_frames
from .._torch_estimator import TorchEstimatorBase
from .._training import BatchIndexLoader, train_net
from .._utils import Interval, check_positions, check_real_tuple, resolve_image_shape, seed_from, validate_numeric
from ._module import AUGMENTATIONS, SYMMETRIES, ScanRowAligner, TiltCNN, appearance_model, standardize_patches
from ._pair_library import CellPairLibrary, PairDecision, PairLibrary


# The stemdl recipe's fixed parts, kept as stemdl has them:
# 4 x 4 convolutions, and a Huber loss whose delta (in standard deviations of the
# targets) starts at 1 and shrinks by 0.9 per epoch down to 0.05.
_KERNEL_SIZE = 4
_HUBER_DELTA = 1.0
_DELTA_DECAY = 0.9
_MIN_DELTA = 0.05


class _HuberDeltaDecay(Callback):
    """Shrink the Huber delta every epoch: robust early, close to L2-free L1 late."""

    def __init__(self, start, decay, minimum):
        self.start, self.decay, self.minimum = start, decay, minimum

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1
        net.criterion_.delta = max(self.minimum, self.start * self.decay**epoch)


class _TiltNet(NeuralNetRegressor):
    """Private skorch regressor; TiltRegressor composes it."""


def _decode_pair(pred):
    """(alpha, beta, gamma, u, v) -> (alpha, beta, gamma): alpha - beta + i gamma from sqrt(u + iv), signed
    by and averaged with the direct prediction."""
    total, direct = pred[:, 0] + pred[:, 1], (pred[:, 0] - pred[:, 1]) + 1j * pred[:, 2]
    root = np.sqrt(pred[:, 3] + 1j * pred[:, 4])
    root = np.where((np.conj(direct) * root).real >= 0, root, -root)
    z = (direct + root) / 2
    return np.column_stack([(total + z.real) / 2, (total - z.real) / 2, z.imag])


def _central_crop(X, image_shape, crop_shape):
    """The central crop_shape of flattened image_shape patches, flattened (X itself when they agree)."""
    if tuple(crop_shape) == tuple(image_shape):
        return X
    (h, w), (ch, cw) = image_shape, crop_shape
    top, left = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(X.reshape(len(X), h, w)[:, top : top + ch, left : left + cw]).reshape(len(X), -1)


class TiltRegressor(RegressorMixin, TorchEstimatorBase):
    """Octahedral tilt angles (alpha, beta, gamma) from ABF-STEM image patches.

    A deep CNN after Laanait, He and Borisevich (stemdl), with the physics
    of the [110] projection built in, trained on simulated patches
    (``sklearn_rvae.datasets.make_perovskite_abf``), as a scikit-learn
    regressor: it fits, predicts, scores (R^2), clones, pickles and goes in
    pipelines and grid searches. The defaults are the validated recipe:
    fitted on ``make_perovskite_abf()``'s
    noise-free patches and their periodic cells,

    >>> X, y, groups, cells = make_perovskite_abf()            # doctest: +SKIP
    >>> reg = TiltRegressor(random_state=0).fit(X, y, cells=cells)  # doctest: +SKIP

    it reads held-out SrTiO3 patches at 1e5 e/A^2 to 0.29 / 0.31 / 0.42
    degrees, and CaTiO3, never trained on, to 0.86 / 0.80 / 1.08 (21 minutes
    of training on a 2-core CPU). The recipe: the central 32 px of 48 px patches go through a
    seven-layer CNN with fresh shot noise and scan-row jitter every epoch,
    after the scan rows are aligned; its predictions are averaged over the
    projection's mirrors and it also learns the invariants of the
    mid-plane-mirror pair; the pair is then decided, and the tilts refined,
    by the likelihood of the whole patch under templates rendered from the
    cells. The plain CNN is ``zone_axis=None, scan_correction=False``.

    Fixed parts of the recipe (as in stemdl):
    4 x 4 convolutions; Adam without weight decay, its learning rate
    annealed from ``lr`` to 0 by a cosine over ``max_epochs``; a Huber loss
    whose delta (in standard deviations of the targets) starts at 1 and
    shrinks by 0.9 per epoch down to 0.05: robust early, close to L1 late;
    and, before the CNN, sqrt, per-patch standardisation and then the
    training patches' per-pixel mean and standard deviation: every patch
    shares the lattice, the tilts live in a few percent of the contrast,
    and without this step Adam does not find them.

    Parameters
    ----------
    image_shape : tuple (h, w) or None, default=None
        Patch shape; X holds patches flattened row-major. ``None`` infers a
        square patch; one entry may be -1.
    network_shape : tuple (h, w) or None, default=(32, 32)
        The central crop of each patch that the CNN sees; ``None``: the
        whole patch. The pair decision works on the whole patch: a patch
        wider than the network needs shows more of the neighbouring
        columns' weak dynamical contrast, which decides the pair (on
        simulated SrTiO3, 48 px patches with a 32 px network: pair right
        0.90 -> 0.97). Each side no larger than the
        patch's and of the same parity, so the crop keeps the patch centre.
    conv_layers : tuple of int and "pool", default=(32, 32, "pool", 64, 64, "pool", 64, 128, "pool", 128)
        The convolutions' output channels, in order, with ``"pool"`` for a
        2x2 average pooling (the way VGG network configurations are usually written).
        stemdl's ten layers are ``(64,) * 5 + ("pool",) + (64, 64, 128, 128,
        128, "pool")``.
    fc_units : int, default=256
        Width of the tanh fully connected layer.
    augment : bool or tuple of str, default=("poisson", "scan_distortion")
        Training augmentations, applied afresh every epoch: any of
        ``"affine"`` (scale, rotation, shear), ``"noise"`` (blending with
        uniform noise), ``"poisson"`` (shot noise at a random dose),
        ``"blur"``, ``"scan_distortion"`` (row jitter) and ``"crop"``
        (random shift); ``True`` for all of them, ``False`` for none. The
        default turns noise-free simulations into recorded ones; train on
        noisy patches with ``augment=False``.
    counts_range : tuple (low, high), default=(4300.0, 4450.0)
        Poisson augmentation: mean electrons per pixel of a patch, drawn
        log-uniformly per patch (``low == high`` fixes it). Set it to the
        data's dose: for simulated patches in fractions of the beam, the
        mean fraction x dose (e/A^2) x pixel_size^2. The default is
        ``make_perovskite_abf``'s SrTiO3 at 1e5 e/A^2 and 0.25 A per pixel
        over the central 32 px.
    scan_jitter : float, default=0.2
        RMS displacement of each scan row along the fast (x) axis, pixels,
        independent from row to row: what the ``"scan_distortion"``
        augmentation adds, and the prior of ``scan_correction`` and of the
        pair decision.
    scan_correction : bool, default=True
        Align the scan rows of every patch (training, after augmentation,
        and prediction) before the CNN: each row's x offset is estimated
        against an appearance model of the training patches (their mean and
        20 leading principal components, relative intensities), within +-4
        ``scan_jitter`` under a Gaussian prior of RMS ``scan_jitter``, and
        shifted back; the mean offset of a patch's rows (the column's
        position) is kept. Unmodelled row jitter hides the weak dynamical
        contrast that tells a tilt from its mid-plane mirror (measured on
        simulated SrTiO3).
    zone_axis : {"110"} or None, default="110"
        Build the [110] projection's physics into the network (y must be
        the three tilts of column-centred patches). Its predictions are
        averaged over a patch and its three mirrors (x -> -x, y -> -y,
        both: the in-plane mirrors through a B column), each mapped back by
        its tilt transform ((-beta, -alpha, -gamma), (-alpha, -beta, gamma),
        (beta, alpha, -gamma); ``datasets.mirror_patches_110``), so a
        mirrored patch gets exactly the mirrored tilts and training on
        mirrored copies is redundant. The network also learns the two
        invariants of the mid-plane-mirror pair (alpha, beta, gamma) /
        (beta, alpha, -gamma), u = (alpha - beta)^2 - gamma^2 and
        v = 2 (alpha - beta) gamma, which the projection shows plainly:
        ``predict`` takes alpha - beta and gamma from the square root of
        u + iv, on the side of the direct prediction, averaged with it (on
        simulated SrTiO3, 1.75 / 1.67 / 2.70 degrees without the invariants,
        0.97 / 0.93 / 1.29 up to the pair with them). The CNN runs four
        times per patch. ``None``: a
        plain CNN with any number of outputs.
    pair_decision : "auto", "network" or PairDecision, default="auto"
        Who decides the mid-plane-mirror pair, which the [110] projection
        barely sees: a :class:`PairDecision` (see there for its settings)
        decides it by the likelihood of each patch under templates (the
        cells of ``fit(..., cells=...)``, or else the training patches) and
        refines the tilts; ``"network"``: the network alone; ``"auto"``:
        ``PairDecision()`` with ``zone_axis="110"``, the network otherwise.
        The decision is the slow part of inference (about 0.2 s per patch on
        a 2-core CPU; see ``n_jobs``).
    lr : float, default=2e-3
        Adam's initial learning rate.
    batch_size : int, default=64
    max_epochs : int, default=6
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` and stop when the validation loss
        stops improving for ``n_iter_no_change`` epochs (best weights kept).
        The cosine schedule still spans ``max_epochs``.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    pixel_size : float or None, default=0.25
        Angstrom per pixel of the training patches (``make_perovskite_abf``'s
        default). ``fit(..., cells=...)`` renders the templates at it, and
        ``predict_map`` resamples images recorded at another pixel size.
    sampling : float or None
        The old name of ``pixel_size``; deprecated.
    device : str, default="auto"
        ``"auto"`` is CUDA when available, else the CPU.
    n_jobs : int or None, default=None
        Processes (joblib) for the pair decision in ``predict`` and
        ``predict_map``, the slow part of inference on a CPU; -1 uses every
        core. The result does not depend on it. ``None`` is 1 outside a
        ``joblib.parallel_config`` context. The network runs on ``device``.
    callbacks : list of skorch callbacks or None
        Cloned before use. They run next to the recipe's own: the Huber
        delta's schedule and the cosine learning-rate schedule over
        ``max_epochs`` (a learning-rate scheduler of your own would step
        the rate a second time).
    random_state : int, RandomState or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    net_ : skorch NeuralNetRegressor
    image_shape_ : tuple
    network_shape_ : tuple
        The (h, w) of the central crop the CNN sees.
    n_outputs_ : int
        Outputs per patch, from y: 3 for (alpha, beta, gamma), 1 for a 1-D
        y (then ``predict`` is 1-D too), as scikit-learn's ``MLPRegressor``.
    target_mean_, target_scale_ : ndarray of shape (`n_outputs_`,)
        Standardisation of y used in training (predictions are in y's units);
        shape (5,) with ``zone_axis="110"``, the invariants u, v after the angles.
    pair_library_ : PairLibrary, CellPairLibrary or None
        The templates of the pair decision (None without one).
    pixel_size_ : float or None
        Angstrom per pixel of the training patches (``pixel_size``).
    history_ : pandas.DataFrame
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    A plain CNN on toy data (the recipe needs ``make_perovskite_abf``'s
    patches; see above):

    >>> import numpy as np
    >>> from sklearn_rvae import TiltRegressor
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.random((40, 8 * 8)), rng.normal(size=(40, 3))
    >>> reg = TiltRegressor(network_shape=None, conv_layers=(4, "pool", 4), fc_units=8, zone_axis=None,
    ...                     scan_correction=False, augment=False, max_epochs=2, device="cpu",
    ...                     random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        **TorchEstimatorBase._parameter_constraints,
        "image_shape": ["array-like", None],
        "network_shape": ["array-like", None],
        "conv_layers": [tuple, list],
        "fc_units": [Interval(numbers.Integral, 1, None, closed="left")],
        "augment": ["boolean", tuple, list],
        "counts_range": [tuple, list],
        "scan_jitter": [Interval(numbers.Real, 0, None, closed="left")],
        "scan_correction": ["boolean"],
        "zone_axis": [StrOptions({"110"}), None],
        "pair_decision": [StrOptions({"auto", "network"}), PairDecision],
        "pixel_size": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "sampling": [Interval(numbers.Real, 0, None, closed="neither"), None, Hidden(StrOptions({"deprecated"}))],
        "n_jobs": [Interval(numbers.Integral, None, None, closed="neither"), None],
    }

    def __init__(self, *, image_shape=None, network_shape=(32, 32),
                 conv_layers=(32, 32, "pool", 64, 64, "pool", 64, 128, "pool", 128), fc_units=256,
                 augment=("poisson", "scan_distortion"), counts_range=(4300.0, 4450.0), scan_jitter=0.2,
                 scan_correction=True, zone_axis="110", pair_decision="auto", lr=2e-3, batch_size=64, max_epochs=6,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, pixel_size=0.25,
                 device="auto", n_jobs=None, callbacks=None, random_state=None, verbose=0, sampling="deprecated"):
        self.image_shape = image_shape
        self.network_shape = network_shape
        self.conv_layers = conv_layers
        self.fc_units = fc_units
        self.augment = augment
        self.counts_range = counts_range
        self.scan_jitter = scan_jitter
        self.scan_correction = scan_correction
        self.zone_axis = zone_axis
        self.pair_decision = pair_decision
        self.pixel_size = pixel_size
        self.sampling = sampling
        self.n_jobs = n_jobs
        super().__init__(lr=lr, batch_size=batch_size, max_epochs=max_epochs, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change, device=device,
                         callbacks=callbacks, random_state=random_state, verbose=verbose)

    def _check_y(self, y, n_samples):
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"y must hold tilt angles in degrees (numbers); got {type(exc).__name__}: {exc}.") from None
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or len(y) != n_samples or y.shape[1] < 1:
            raise ValueError(
                f"y must have shape (n_samples,) or (n_samples, n_outputs) with n_samples={n_samples}: the "
                f"angles in degrees (alpha, beta, gamma) of each patch; got {y.shape}."
            )
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity.")
        return y

    def __setstate__(self, state):
        # Pickled before sampling was renamed pixel_size: its value was the pixel size, fitted and asked for.
        if "pixel_size" not in state:
            state["pixel_size"], state["sampling"] = state.get("sampling", 0.25), "deprecated"
            if "net_" in state:
                state["pixel_size_"] = state["pixel_size"]
        super().__setstate__(state)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, cells=None):
        """Train the CNN on patches X and angles y.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w)
            Non-negative ABF intensities, patches flattened row-major.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Angles in degrees.
        cells : PeriodicCells or None
            For the pair decision: the noise-free periodic images the
            training patches come from (the fourth value of
            ``make_perovskite_abf``), as templates rendered on each patch's own
            grid: the column's sub-pixel offset and the pixel size are
            fitted per patch, so patches recorded at any offset, or at a
            pixel size a few percent off ``pixel_size`` (a calibration error,
            another lattice constant), meet templates of their own geometry.
            Needs ``pixel_size``. ``None``: the training patches are the
            templates, at the offsets and pixel size they happen to have.

        Returns
        -------
        self : TiltRegressor
        """
        X, y = validate_numeric(self, X, y, dtype=[np.float64, np.float32], ensure_min_samples=2, multi_output=True,
                             y_numeric=True)
        y = self._check_y(y, len(X))
        n_outputs = y.shape[1]
        self._check_X(X)
        if np.abs(X).max() >= np.finfo(np.float32).max:
            raise ValueError(
                f"X spans {X.min():.3g} to {X.max():.3g}, beyond float32, in which the network trains; "
                "rescale X (e.g. divide by its maximum) before fit."
            )
        image_shape = resolve_image_shape(self.image_shape, X.shape[1])
        network_shape = self._check_network_shape(image_shape)
        channels, pool_after = _conv_layers(self.conv_layers)
        if self.augment is True:
            augment = AUGMENTATIONS
        elif self.augment is False:
            augment = ()
        else:
            augment = tuple(self.augment)
            unknown = set(augment) - set(AUGMENTATIONS)
            if unknown:
                raise ValueError(f"augment names unknown augmentations {sorted(unknown)}; choose from {AUGMENTATIONS}.")
        expected = "(low, high) mean electrons per pixel with 0 < low <= high"
        counts = check_real_tuple(self.counts_range, "counts_range", 2, positive=True, expected=expected)
        if counts[0] > counts[1]:
            raise ValueError(f"counts_range must be {expected}, got {self.counts_range!r}.")
        if self.scan_correction and not self.scan_jitter > 0:
            raise ValueError("scan_correction=True needs scan_jitter > 0, the RMS row displacement (pixels) to "
                             f"search and to use as the prior; got scan_jitter={self.scan_jitter!r}.")
        if self.zone_axis is not None and y.shape[1] != 3:
            raise ValueError(f"zone_axis={self.zone_axis!r} maps the three tilts (alpha, beta, gamma); it needs y "
                             f"of shape (n_samples, 3), got {y.shape}. Set zone_axis=None for a plain CNN.")
        decision = self._pair_decision()
        if cells is not None and not isinstance(cells, PeriodicCells):
            raise TypeError(f"cells must be a PeriodicCells (the fourth value of make_perovskite_abf) or None, "
                            f"got {type(cells).__name__}.")
        if cells is not None and decision is None:
            raise ValueError("fit(cells=...) gives the pair decision its templates, but there is none "
                             f"(zone_axis={self.zone_axis!r}, pair_decision={self.pair_decision!r}).")
        pixel_size = renamed_value(self, "sampling", "pixel_size")
        if cells is not None and pixel_size is None:
            raise ValueError("fit(cells=...) renders templates on the patches' grid: set "
                             "TiltRegressor(pixel_size=...), the Angstrom per pixel of the patches.")
        pair_library = None
        if decision is not None:
            neighbors = decision.resolved_neighbors(with_cells=cells is not None)
            decision.check(neighbors)
            pair_library = self._pair_library(X, y, image_shape, cells, neighbors, pixel_size)
        if self.zone_axis == "110":
            # The mid-plane-mirror pair's invariants, learnt next to the angles.
            d, g = y[:, 0] - y[:, 1], y[:, 2]
            y = np.column_stack([y, d * d - g * g, 2 * d * g])
        device = self._start_fit(len(X))
        seed = seed_from(self.random_state)
        target_mean = y.mean(0)
        scale = y.std(0)
        target_scale = np.where(scale > 0, scale, 1.0)
        yt = ((y - target_mean) / target_scale).astype(np.float32)

        own = [("huber_delta", _HuberDeltaDecay(_HUBER_DELTA, _DELTA_DECAY, _MIN_DELTA)),
               ("lr_cosine", LRScheduler(CosineAnnealingLR, T_max=self.max_epochs))]
        X_net = _central_crop(X, image_shape, network_shape)
        row_model = appearance_model(X_net, network_shape) if self.scan_correction else None
        pixel_stats = self._pixel_stats(X_net, network_shape, row_model)
        net = self._new_net(
            _TiltNet, seed, device, own_callbacks=own,
            module=TiltCNN,
            module__pixel_stats=pixel_stats,
            module__row_model=row_model,
            module__symmetry=self.zone_axis,
            module__target_stats=(target_mean, target_scale),
            module__image_shape=network_shape,
            module__n_targets=y.shape[1],
            module__conv_channels=channels,
            module__kernel_size=_KERNEL_SIZE,
            module__pool_after=pool_after,
            module__fc_units=self.fc_units,
            module__augment=augment,
            module__counts_range=counts,
            module__scan_jitter=self.scan_jitter,
            criterion=torch.nn.HuberLoss,
            criterion__delta=_HUBER_DELTA,
            iterator_train=BatchIndexLoader,
            iterator_valid=BatchIndexLoader,
        )
        train_net(self, net, X_net.astype(np.float32), yt, seed, device,
                  lambda: f"a learning rate too large (lr={self.lr}; try 10x smaller) or X on an extreme scale "
                          f"(X spans {X.min():.3g} to {X.max():.3g})")
        # Fitted attributes only now: a fit that fails leaves the estimator unfitted.
        self._keep_trained(net)
        self.n_outputs_ = n_outputs
        self.pair_library_ = pair_library
        self.pixel_size_ = pixel_size
        self.target_mean_, self.target_scale_ = target_mean, target_scale
        self.image_shape_ = image_shape
        self.network_shape_ = network_shape
        return self

    def predict(self, X):
        """Angles in degrees, float64 of shape (n_samples, ``n_outputs_``) (1-D when ``n_outputs_`` is 1).

        An HDF5 or zarr dataset, a ``numpy.memmap`` or a dask array of patches
        gives a dask array, predicted chunk by chunk when computed (on a
        ``dask.distributed`` cluster when a client is active: the fitted model
        goes to each worker once).
        """
        check_is_fitted(self, "net_")
        if is_streamed(X):
            source = frame_source(self, X, detector_shape=self.image_shape_, scan_shape=None, reset=False,
                                  whole_frames=True, shape_name="image_shape")
            pred = map_frames(source, source.storage_step(), ChunkMethod(self, "predict"), self.n_outputs_)
            return pred[:, 0] if self.n_outputs_ == 1 else pred
        X = validate_numeric(self, X, reset=False, dtype=[np.float64, np.float32])
        self._check_X(X)
        X_net = _central_crop(X, self.image_shape_, self.network_shape_)
        pred = self._forward(X_net, batch_size=256) * self.target_scale_ + self.target_mean_
        if len(self.target_mean_) == self.n_outputs_ + 2:  # the pair's invariants follow the angles
            pred = _decode_pair(pred)
        decision = self._fitted_pair_decision()
        if decision is not None:
            chosen, templates, _ = self.pair_library_.decide(X, pred[:, :3], decision, n_jobs=self.n_jobs)
            pred = templates if decision.settings()[1] else (chosen + templates) / 2
        return pred[:, 0] if self.n_outputs_ == 1 else pred

    @renamed_parameters(sampling="pixel_size")
    def predict_map(self, image, pixel_size=None, stride=None, centers=None):
        """Slide over a full image and predict the angles of every patch or of given columns.

        The training patches (``make_perovskite_abf``) are centred on a B
        column and their target is that column's rotation, so the natural
        map is one value per column: pass the column positions as
        ``centers`` (from any atom finder). Without them the patches sit on
        a regular grid of step ``stride``.

        Parameters
        ----------
        image : array-like of shape (H, W)
            A full ABF image (non-negative intensities).
        pixel_size : float or None
            Angstrom per pixel of ``image``. When it differs from the
            estimator's ``pixel_size`` (that of the training patches), the
            image (and ``centers``) is resampled to it first; ``None`` means
            the image already has the training pixel size. With templates
            from ``fit(..., cells=...)`` and ``pair_decision``, an image
            within 5% of ``pixel_size`` is not resampled: the templates are
            rendered at each patch's own fitted pixel size. Templates that
            are training patches (every cell over whole pixels) are
            sensitive to the pixel size: resampled by 2%, simulated SrTiO3
            loses most of its pair decisions.
        stride : int or None
            Step between grid patches in pixels (after resampling); ``None``
            is half the patch size. Ignored when ``centers`` is given.
        centers : array-like of shape (n_columns, 2) or None
            (row, col) pixel positions in ``image`` to centre patches on; the
            image is mirrored at its edges for columns near them.

        Returns
        -------
        maps : ndarray
            With ``centers``: shape (n_columns, ``n_outputs_``). Otherwise shape
            (n_rows, n_cols, ``n_outputs_``), the prediction for the patch whose
            top-left corner is at ``(row * stride, col * stride)``.
        """
        check_is_fitted(self, "net_")
        image = np.asarray(image, dtype=np.float64)
        h, w = self.image_shape_
        if image.ndim != 2:
            raise ValueError(f"image must be a 2-D array (H, W), got shape {image.shape}.")
        if not np.all(np.isfinite(image)):
            raise ValueError("image contains NaN or infinity.")
        factor = 1.0
        if pixel_size is not None:
            if self.pixel_size_ is None:
                raise ValueError("predict_map(pixel_size=...) needs the estimator's pixel_size (Angstrom per pixel "
                                 "of the training patches); set TiltRegressor(pixel_size=...) before fit.")
            if not (isinstance(pixel_size, numbers.Real) and pixel_size > 0):
                raise ValueError(f"pixel_size must be a positive pixel size in Angstrom, got {pixel_size!r}.")
            factor = float(pixel_size) / float(self.pixel_size_)
            if isinstance(self.pair_library_, CellPairLibrary) and self._fitted_pair_decision() is not None \
                    and abs(factor - 1) <= 0.05:
                # Templates rendered on each patch's own grid fit its pixel size: resampling would only blur the
                # noise (and correlate it, which their Poisson likelihood does not expect).
                factor = 1.0
            if abs(factor - 1) > 1e-9:
                from scipy import ndimage

                image = np.clip(ndimage.zoom(image, factor, order=3, mode="reflect", grid_mode=True), 0, None)
        if centers is not None:
            # At least one: a map of no columns is a mistake upstream (an atom finder that found none).
            centers = check_positions(centers, "centers", min_count=1)
            scaled = (centers + 0.5) * factor - 0.5  # pixel centres map onto pixel centres
            if np.any(scaled < -0.5) or np.any(scaled > np.array(image.shape) - 0.5):
                raise ValueError(f"centers must lie inside the image of shape {image.shape[:2]}.")
            padded = np.pad(image, ((h, h), (w, w)), mode="reflect")
            corner = np.round(scaled - (np.array([h, w]) - 1) / 2).astype(int) + (h, w)
            patches = np.stack([padded[r : r + h, c : c + w] for r, c in corner])
            return np.asarray(self.predict(patches.reshape(len(patches), h * w))).reshape(len(patches), -1)
        if image.shape[0] < h or image.shape[1] < w:
            raise ValueError(f"image must be at least the patch size {self.image_shape_}, got {image.shape}.")
        if stride is not None and (isinstance(stride, bool) or not isinstance(stride, numbers.Integral) or stride < 1):
            raise ValueError(f"stride must be a positive integer (pixels), got {stride!r}.")
        stride = max(1, min(h, w) // 2) if stride is None else int(stride)
        windows = np.lib.stride_tricks.sliding_window_view(image, (h, w))[::stride, ::stride]
        rows, cols = windows.shape[:2]
        pred = self.predict(windows.reshape(rows * cols, h * w))
        return pred.reshape(rows, cols, -1)

    def set_params(self, **params):
        """Set the parameters (scikit-learn's ``set_params``).

        A setting of the pair decision, ``pair_decision__n_local_templates=...`` and the
        like, applies to ``PairDecision()`` when ``pair_decision`` is
        ``"auto"`` (which holds no settings of its own), so that grid
        searches over the decision's settings work from the defaults.
        """
        nested = sorted(key for key in params if key.startswith("pair_decision__"))
        if nested and "pair_decision" not in params and not isinstance(self.pair_decision, PairDecision):
            if self.pair_decision != "auto":
                raise ValueError(f"{nested[0]} sets the pair decision, but pair_decision={self.pair_decision!r} has "
                                 "none; pass pair_decision=PairDecision(...) instead.")
            params = {"pair_decision": PairDecision(), **params}
        return super().set_params(**params)

    def _pair_decision(self):
        """The PairDecision in force, or None when the network decides the pair."""
        if isinstance(self.pair_decision, PairDecision):
            if self.zone_axis != "110":
                raise ValueError(f"pair_decision is for the [110] mid-plane-mirror pair; it needs zone_axis='110', "
                                 f"got zone_axis={self.zone_axis!r}.")
            return self.pair_decision
        if self.pair_decision == "auto" and self.zone_axis == "110":
            return PairDecision()
        return None

    def _fitted_pair_decision(self):
        """The PairDecision predict applies: the fitted network and templates decide whether there is one;
        ``pair_decision`` ("network", or new settings) may still be changed after fit."""
        if isinstance(self.pair_decision, str) and self.pair_decision == "network":
            return None
        if self.pair_library_ is None:
            if isinstance(self.pair_decision, PairDecision):
                raise ValueError("pair_decision=PairDecision(...) was set after a fit without a pair decision (it had "
                                 "zone_axis=None or pair_decision='network'); fit again to build its templates.")
            return None
        return self.pair_decision if isinstance(self.pair_decision, PairDecision) else PairDecision()

    def _pixel_stats(self, X_net, network_shape, row_model):
        """Per-pixel mean and scale of the training patches as the CNN sees them (rows aligned, sqrt,
        standardised, and with every mirror of the zone axis)."""
        with torch.no_grad():
            z = torch.as_tensor(X_net, dtype=torch.float64).reshape(len(X_net), 1, *network_shape)
            if row_model is not None:
                aligner = ScanRowAligner(*row_model, jitter=self.scan_jitter).double()
                z = torch.cat([aligner(chunk) for chunk in z.split(1024)])
            z = standardize_patches(z)
            if self.zone_axis is not None:
                z = torch.cat([z.flip(dims) if dims else z for dims, _ in SYMMETRIES[self.zone_axis]])
            scale = z.std(0, unbiased=False)[0].numpy()
        return z.mean(0)[0].numpy(), np.where(scale > 1e-6, scale, 1.0)

    def _pair_library(self, X, y, image_shape, cells, neighbors, pixel_size):
        """The templates of pair_decision: the training patches X (n, h * w) with their tilts y, or the cells
        rendered on each patch's grid."""
        if cells is None:
            return PairLibrary(X, y, image_shape, n_neighbors=neighbors, scan_jitter=self.scan_jitter)
        return CellPairLibrary(cells.distinct(image_shape, pixel_size), image_shape, pixel_size,
                               n_neighbors=neighbors, scan_jitter=self.scan_jitter)

    def _check_network_shape(self, image_shape):
        if self.network_shape is None:
            return image_shape
        shape = tuple(self.network_shape)
        if len(shape) != 2 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape):
            raise ValueError(f"network_shape must be a pair of integers (h, w), got {self.network_shape!r}.")
        if any(not 0 < n <= p or (p - n) % 2 for n, p in zip(shape, image_shape)):
            raise ValueError(f"network_shape={shape} must be a central crop of the patches of shape {image_shape}: "
                             f"each side positive, at most the patch's, and of the same parity.")
        return tuple(int(n) for n in shape)

    def _check_X(self, X):
        # The model square-roots intensities; sklearn's wording, which its checks expect.
        check_non_negative(X, f"{type(self).__name__} (X must hold ABF intensities)")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = self.zone_axis is None  # the [110] physics needs the three tilts
        tags.input_tags.positive_only = True
        return tags


def _conv_layers(layers):
    """``conv_layers`` as (channels, pool_after): the output channels of each convolution, and the 1-based
    convolutions a 2x2 pooling follows."""
    channels, pool_after = [], []
    for index, item in enumerate(layers):
        if isinstance(item, str) and item == "pool" and channels and (not pool_after or pool_after[-1] != len(channels)):
            pool_after.append(len(channels))
        elif isinstance(item, numbers.Integral) and not isinstance(item, bool) and item >= 1:
            channels.append(int(item))
        else:
            raise ValueError(f"conv_layers must be positive channel counts, each convolution followed by at most one "
                             f"'pool', starting with a convolution; got {layers!r} ({item!r} at index {index}).")
    if not channels:
        raise ValueError(f"conv_layers needs at least one convolution, got {layers!r}.")
    return tuple(channels), tuple(pool_after)


register(TiltRegressor, sampling="pixel_size")
