"""RotationInvariantVAE: rVAE / rrVAE as a scikit-learn transformer."""

import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_array
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Hidden, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._deprecation import register, renamed_value
from .._streaming import ChunkMethod, frame_loader, map_frames, store
from .._torch_estimator import TorchEstimatorBase
from .._training import DivergedError, ModuleLossNet, agreed, train_net
from .._utils import Interval, check_bool, local_random_state, local_torch_seed, resolve_device, seed_from, validate_numeric
from ._classes import fit_class_prior
from ._data import (
    Standardise,
    check_image_shape,
    chunks_of,
    in_memory_frames,
    is_streamed,
    streamed_source,
    training_data,
)
from ._losses import NegativeELBO, monte_carlo_elbo
from ._module import CircularRotationVAEModule, RotationInvariantVAEModule
from ._pose import pose_columns, rotation_bin_centers
from ._prior import LatentPrior


def _has_classes(estimator):
    """predict, predict_proba and fit_predict exist only with a categorical latent."""
    return estimator.n_classes is not None


class RotationInvariantVAE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, TorchEstimatorBase):
    """Rotationally invariant variational autoencoder (rVAE / rrVAE).

    Each image is explained by a few content latents ``z``, an in-plane
    rotation angle and (``translation=True``) an in-plane shift. The decoder
    draws the upright image from ``z`` and the pose is applied to it, so
    rotated copies of one motif share one code: ``transform`` returns z with
    the rotation removed, ``transform_pose`` the angle and shift. With
    ``translation=False`` this is the purely rotational rrVAE used on
    centred 4D-STEM diffraction patterns (Kalinin, Ziatdinov et al.).

    Pose convention: images are ``(h, w)`` arrays shown with row 0 at the top;
    a positive angle is a counter-clockwise rotation on screen about the image
    centre (as ``scipy.ndimage.rotate``), the shift ``(dx, dy)`` is in pixels,
    dx to the right along columns and dy down along rows.

    Data larger than memory: an HDF5 or zarr dataset, a ``numpy.memmap`` or a
    dask array is read a chunk at a time by every method, never whole.
    :meth:`fit` takes the offset and scale from one pass and trains on
    minibatches shuffled over chunks and within blocks of them (128 MiB),
    the next block read in the background; :meth:`partial_fit` trains one
    epoch on what it is given. Inference on a file, memmap or dask array
    returns a dask array, computed chunk by chunk; see docs/large_scans.md.

    Parameters
    ----------
    n_components : int, default=2
        Number of content latents z.
    image_shape : tuple (h, w) or None, default=None
        Shape of one image; X holds the images flattened row-major. ``None``
        infers a square image; one entry may be -1 (inferred).
    translation : bool, default=True
        Model an in-plane shift as well as the rotation (rVAE). ``False`` is
        the rotation-only rrVAE.
    decoder : {"conv", "spatial"}, default="conv"
        ``"conv"`` generates the upright image once per sample (MLP and a
        transposed convolution) and applies the pose by differentiable
        bilinear resampling; ``"spatial"`` is the reference rVAE decoder, an
        MLP evaluated at every rotated and shifted pixel coordinate together
        with z. Both reach the same latent quality (see benchmarks/); the conv
        decoder is many times faster.
    hidden_layer_sizes : array-like of int, default=(128, 128)
        Hidden widths of the encoder MLP and of the decoder MLP.
    activation : {"tanh", "relu", "silu", "elu"}, default="tanh"
        Hidden-layer non-linearity.
    likelihood : {"gaussian", "bernoulli"}, default="gaussian"
        Observation model. ``"bernoulli"`` needs X in [0, 1].
    noise_scale : float or None, default=None
        Standard deviation of the Gaussian likelihood in units of X; ``None``
        learns it (one scalar). Ignored for ``"bernoulli"``.
    beta : float, default=1.0
        Weight of the KL term (beta-VAE). Ignored when ``capacity`` is set.
    capacity : tuple (c_max, n_epochs, gamma) or None, default=None
        Capacity annealing (Burgess et al. 2018): the loss is
        ``NLL + gamma * |KL - C|`` with C rising linearly from 0 to ``c_max``
        nats over ``n_epochs`` epochs.
    angle_prior : "uniform" or float, default=17.19 (0.3 rad)
        Prior on the angle. ``"uniform"``: every angle on the circle (modulo
        ``360 / rotation_symmetry`` degrees) is equally likely, and the
        posterior is a mixture over ``n_rotation_bins`` bins, each with a
        normal offset from its centre, read by an encoder that sees the input
        turned back by every bin centre (equivariant by construction, as in
        TARGET-VAE). It finds the pose whatever the orientation, and several
        candidate angles of an ambiguous image stay visible
        (``transform_pose(X, return_posterior=True)``). A float is the
        standard deviation, in degrees, of a normal prior on the angle (the
        classic rVAE): it works while orientations stay within about +-100
        degrees, and a prior narrower than their spread pins each template
        to its class's mean orientation (on rotated digits, +-60 degrees,
        0.3 rad recovers the angle better than 0.5-1 rad, 29-57 degrees).
        The default is exactly 0.3 rad in degrees, so that fits made before
        the angle was given in degrees are made again bit for bit.
    rotation_prior : "uniform" or float
        The old name of ``angle_prior``, in radians; deprecated.
    rotation_symmetry : int, default=1
        n-fold rotational symmetry of the objects: their angle is defined
        modulo ``360 / n`` degrees, and ``transform_pose`` reports it in
        ``[-180 / n, 180 / n)``. Graphene diffraction patterns: 6.
    n_rotation_bins : int, default=12
        Number of rotation bins over ``360 / rotation_symmetry`` degrees with
        ``angle_prior="uniform"``; each bin's offset covers the angles in
        between. The cost of a training step grows with it: 12 is the most
        that keeps an epoch within 3x the normal prior's on rotated digits,
        and 16 or 24 were no better on validation data.
        Also the bins of the angle posterior that
        ``transform_pose(..., return_posterior=True)`` reports.
    translation_prior : float, default=2.0
        Standard deviation of the normal prior on each shift component, in
        pixels.
    n_classes : int or None, default=None
        A categorical latent c over z, and the estimator clusters
        (:meth:`predict`, :meth:`predict_proba`, :meth:`fit_predict`; these
        exist only with ``n_classes``). Fitted on the codes of the trained
        network: EM finds ``4 * n_classes`` modes (an environment's codes can
        form several groups, and a rare class is a small group beside a large
        one), and single linkage joins them into ``n_classes`` by the distance
        of their decoded images, minimised over turns with the uniform
        rotation prior. A class is then a set of images that look alike up to
        a turn; :meth:`predict_proba` sums each class's modes'
        responsibilities at the posterior mean of z, as in VaDE. z's prior
        becomes the mixture of these modes, each widened by its codes'
        posterior variance, and :meth:`score` is the ELBO under it: on the
        scale of ``n_classes=None`` (as high or higher on the same network
        in our measurements). :meth:`sample` draws from that prior. Trained
        jointly with the network, one class absorbed the others in our
        measurements, and four Gaussians on the codes picked
        the four largest groups, not the four environments. For atoms, the classes follow what the
        patches show: see ``AtomPatchExtractor(taper=...)``.
    lr : float, default=1e-3
        Adam learning rate.
    batch_size : int, default=100
        Mini-batch size.
    max_epochs : int, default=100
        Number of passes over the training data (the most, with early
        stopping).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when the
        validation loss has not improved for ``n_iter_no_change`` epochs; the
        best weights are restored.
    validation_fraction : float, default=0.1
        Held-out fraction when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    n_init : int, default=1
        Number of trainings from different seeds (drawn from
        ``random_state``); the one with the lowest final loss (negative
        ELBO: the training loss, or the best validation loss with early
        stopping) is kept, as in ``KMeans(n_init=...)``. The angle is a
        non-convex latent: on simulated graphene diffraction one training
        in three settled with the angles unaligned and a far worse ELBO.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``. Asking for CUDA without a GPU raises ``ValueError``.
    callbacks : list of skorch callbacks or (name, callback) pairs, default=None
        Extra skorch callbacks; each is cloned before the fit.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order, sampling and the
        validation split. The global numpy and torch RNGs are left as they
        were.
    verbose : int, default=0
        Print skorch's per-epoch table when positive.

    Attributes
    ----------
    image_shape_ : tuple (h, w)
        Image shape used.
    data_offset_ : float
        The Gaussian model works on ``(X - data_offset_) / data_scale_``.
        The offset is the median of the training images' edge pixels: a
        turn fills the corners of an image with 0, which must read as what
        the edges show (0 for digits on black; the lattice's typical level
        for raw patches of a crystal). 0.0 for Bernoulli.
    data_scale_ : float
        The standard deviation of the training pixels; 1.0 for Bernoulli.
        Together with the offset, this makes the model indifferent to the
        units and the zero of the data.
    device_ : str
        Torch device the model was trained on (inference runs on
        ``net_.device``, which skorch sets to CPU when a CUDA-trained model
        is unpickled on a machine without a GPU).
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the PyTorch module.
    history_ : pandas.DataFrame
        One row per epoch: ``epoch``, ``train_loss`` (negative ELBO per
        sample, training objective), ``valid_loss`` with early stopping,
        ``dur`` (seconds).
    n_iter_ : int
        Number of epochs run (by the kept training).
    latent_prior_ : LatentPrior
        The prior over the codes, as numpy arrays: ``weights``, ``means``,
        ``covariances`` (what :meth:`sample` draws from),
        ``code_covariances`` (the codes' own modes) and ``mode_class``; one
        mode N(0, I) without ``n_classes``.
    init_losses_ : ndarray of shape (n_init,)
        Final loss of every training; the kept one is the smallest.
    classes_ : ndarray of shape (n_classes,)
        ``0 .. n_classes - 1``, with ``n_classes``.
    labels_ : ndarray of shape (n_samples,)
        Class of every training sample, with ``n_classes``.
    n_features_in_ : int
        Number of pixels per sample seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of X, when X is a DataFrame with string column names.

    See Also
    --------
    sklearn.decomposition.PCA : Linear latents; rotated copies get their own.

    Examples
    --------
    >>> from sklearn_rvae import RotationInvariantVAE
    >>> from sklearn_rvae.datasets import make_rotated_digits
    >>> X, y, angle = make_rotated_digits(size=20, max_angle=60)
    >>> rvae = RotationInvariantVAE(n_components=2, max_epochs=2, random_state=0)
    >>> Z = rvae.fit_transform(X)
    >>> Z.shape
    (1797, 2)
    >>> angle_deg, shift = rvae.transform_pose(X)
    >>> angle_deg.shape, shift.shape
    ((1797,), (1797, 2))
    """

    _parameter_constraints: dict = {
        **TorchEstimatorBase._parameter_constraints,
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "image_shape": ["array-like", None],
        "translation": ["boolean"],
        "decoder": [StrOptions({"conv", "spatial"})],
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions({"tanh", "relu", "silu", "elu"})],
        "likelihood": [StrOptions({"gaussian", "bernoulli"})],
        "noise_scale": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "beta": [Interval(numbers.Real, 0, None, closed="left")],
        "capacity": ["array-like", None],
        "angle_prior": [Interval(numbers.Real, 0, None, closed="neither"), StrOptions({"uniform"})],
        "rotation_prior": [
            Interval(numbers.Real, 0, None, closed="neither"),
            StrOptions({"uniform"}),
            Hidden(StrOptions({"deprecated"})),
        ],
        "rotation_symmetry": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_rotation_bins": [Interval(numbers.Integral, 2, None, closed="left")],
        "translation_prior": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_classes": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=2,
        *,
        image_shape=None,
        translation=True,
        decoder="conv",
        hidden_layer_sizes=(128, 128),
        activation="tanh",
        likelihood="gaussian",
        noise_scale=None,
        beta=1.0,
        capacity=None,
        angle_prior=math.degrees(0.3),
        rotation_symmetry=1,
        n_rotation_bins=12,
        translation_prior=2.0,
        n_classes=None,
        lr=1e-3,
        batch_size=100,
        max_epochs=100,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        n_init=1,
        device="auto",
        callbacks=None,
        random_state=None,
        verbose=0,
        rotation_prior="deprecated",
    ):
        self.n_components = n_components
        self.image_shape = image_shape
        self.translation = translation
        self.decoder = decoder
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.likelihood = likelihood
        self.noise_scale = noise_scale
        self.beta = beta
        self.capacity = capacity
        self.angle_prior = angle_prior
        self.rotation_symmetry = rotation_symmetry
        self.n_rotation_bins = n_rotation_bins
        self.translation_prior = translation_prior
        self.n_classes = n_classes
        self.n_init = n_init
        self.rotation_prior = rotation_prior
        super().__init__(lr=lr, batch_size=batch_size, max_epochs=max_epochs, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change, device=device,
                         callbacks=callbacks, random_state=random_state, verbose=verbose)

    # ------------------------------------------------------------------ fit
    def _check_hyperparameters(self):
        hidden = tuple(np.atleast_1d(self.hidden_layer_sizes).tolist())
        if len(hidden) == 0 or not all(
            isinstance(h, numbers.Integral) and h >= 1 for h in hidden
        ):
            raise ValueError(
                "hidden_layer_sizes must be a non-empty sequence of positive integers, "
                f"got {self.hidden_layer_sizes!r}."
            )
        capacity = None
        if self.capacity is not None:
            capacity = tuple(np.ravel(self.capacity).tolist())
            if (
                len(capacity) != 3
                or not all(isinstance(c, numbers.Real) and math.isfinite(c) for c in capacity)
                or capacity[0] < 0 or capacity[1] < 1 or capacity[2] <= 0
            ):
                raise ValueError(
                    "capacity must be (c_max >= 0 nats, n_epochs >= 1, gamma > 0), "
                    f"got {self.capacity!r}."
                )
            capacity = (float(capacity[0]), int(capacity[1]), float(capacity[2]))
        return hidden, capacity

    def _angle_prior(self):
        """``"uniform"``, or the normal prior's standard deviation in radians (the module's unit)."""
        prior = renamed_value(self, "rotation_prior", "angle_prior",
                              convert=lambda value: value if isinstance(value, str) else math.degrees(value),
                              note=" It is in degrees: rotation_prior=0.3 (radians) is angle_prior=math.degrees(0.3), 17.19.")
        return prior if isinstance(prior, str) else math.radians(prior)

    def __setstate__(self, state):
        # Pickled before rotation_prior (radians) was renamed angle_prior (degrees).
        if "angle_prior" not in state:
            old = state.get("rotation_prior", 0.3)
            state["angle_prior"] = old if isinstance(old, str) else math.degrees(old)
            state["rotation_prior"] = "deprecated"
        super().__setstate__(state)

    def _check_X_range(self, X, name="X"):
        if self.likelihood == "bernoulli" and (X.min() < 0 or X.max() > 1):
            raise ValueError(
                f"likelihood='bernoulli' needs {name} in [0, 1]; got values in "
                f"[{X.min():.4g}, {X.max():.4g}]. Scale X (MinMaxScaler) or use "
                "likelihood='gaussian'."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the VAE on images X.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or (sy, sx, h, w)
            Flattened images (row-major), at least 2 samples, finite values;
            or a stack or scan of images. An HDF5 or zarr dataset, a
            ``numpy.memmap`` or a dask array is streamed: read a chunk at a
            time, never whole (integer counts are converted per chunk), with
            minibatches shuffled over chunks and within blocks of them.
        y : None
            Ignored.

        Returns
        -------
        self : RotationInvariantVAE
            The fitted estimator.
        """
        data = training_data(self, X, reset=True, ensure_min_samples=2)
        hidden, capacity = self._check_hyperparameters()
        device = self._start_fit(data.n)
        rng = local_random_state(self.random_state)
        # The first seed is seed_from(random_state): n_init=1 trains as before.
        seeds = [seed_from(rng) for _ in range(self.n_init)]
        causes = data.causes(self)

        net, best, losses = None, np.inf, []
        for i, seed in enumerate(seeds):
            candidate = self._build_net(seed, data, hidden, capacity, device)
            if i == len(seeds) - 1 and net is None:
                # The last chance: a divergence now is an error.
                train_net(self, candidate, data.train, None, seed, device, causes)
            else:
                try:
                    train_net(self, candidate, data.train, None, seed, device, causes)
                except DivergedError:
                    losses.append(np.nan)
                    continue
            if self.early_stopping:
                loss = float(np.min(candidate.history[:, "valid_loss"]))
            else:
                loss = agreed(candidate.history[-1, "train_loss"])  # the same choice in every process of DDP
            losses.append(loss)
            if net is None or loss < best:
                net, best = candidate, loss
        if np.any(np.isnan(losses)):
            warnings.warn(
                f"{int(np.sum(np.isnan(losses)))} of n_init={self.n_init} starts diverged (NaN loss; "
                "init_losses_ marks them); the best of the others is kept.",
                RuntimeWarning,
                stacklevel=2,
            )
        self._set_fitted(net, data, device, seeds[0])
        self.init_losses_ = np.array(losses)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One pass (epoch) over X, keeping what is fitted: for data that come in parts.

        The first call sets the model up from its X (image shape, the
        Gaussian model's offset and scale, the network from
        ``random_state``); every call trains one epoch on its X, continuing
        the weights and the optimiser's state, as ``MLPRegressor.partial_fit``
        does. Call it over the files of a session, or over the blocks of a
        dask array (``dask_ml.wrappers.Incremental``). ``n_init`` and
        ``early_stopping`` apply to :meth:`fit` only. With ``n_classes``, the
        class mixture is fitted anew on the codes of each call's X.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or (sy, sx, h, w)
            As for :meth:`fit`, with as many pixels as the first call's.
        y : None
            Ignored.

        Returns
        -------
        self : RotationInvariantVAE
        """
        first = not hasattr(self, "net_")
        data = training_data(self, X, reset=first, ensure_min_samples=1)
        device = self.device_ if not first else resolve_device(self.device)
        if first:
            hidden, capacity = self._check_hyperparameters()
            seed = seed_from(local_random_state(self.random_state))
            net = self._build_net(seed, data, hidden, capacity, device, split=False)
            with local_torch_seed(seed, device):  # the initial weights, as fit draws them
                net.initialize()
        else:
            net, seed = self.net_, self._partial_fit_seed
            # A net from fit(early_stopping=True) holds out data and stops early: not here.
            if net.train_split is not None:
                net.train_split = None
                net.callbacks_ = [(name, cb) for name, cb in net.callbacks_ if name != "early_stopping"]
        module = net.module_
        prior = module.class_prior
        module.class_prior = None  # trained under N(0, I), as by fit; refitted below
        module.float()
        # A new seed per epoch, the same sequence for the same random_state.
        epoch_seed = (seed + len(net.history)) % np.iinfo(np.int32).max
        try:
            train_net(self, net, data.train, None, epoch_seed, device, data.causes(self), epochs=1)
        except BaseException:
            # The estimator stays usable as it was fitted (inference in float64, its classes).
            module.double()
            module.class_prior = prior
            raise
        self._set_fitted(net, data, device, seed, keep_scale=not first)
        self.init_losses_ = np.array([float(net.history[-1, "train_loss"])])
        return self

    def _check_enough_for_classes(self, n):
        if self.n_classes is not None and n < self.n_classes:
            raise ValueError(f"n_classes={self.n_classes} needs at least as many samples; X has {n}.")

    def _set_fitted(self, net, data, device, seed, keep_scale=False):
        """Set the fitted attributes at the end of a fit (a failed fit leaves the estimator as it was)."""
        net.module_.double()  # the classes are fitted on the codes inference gives
        labels = None
        if self.n_classes is not None:
            labels = self._fit_class_prior(net, data.train, seed)
        self._keep_trained(net)
        self.image_shape_ = data.image_shape
        if not keep_scale:
            self.data_offset_ = data.offset
            self.data_scale_ = data.scale
        self.device_ = device
        self._partial_fit_seed = seed
        if self.n_classes is not None:
            self.classes_ = np.arange(self.n_classes)
            self.labels_ = labels

    def _fit_class_prior(self, net, train, seed):
        """Fit the class mixture on the codes of the trained network; return the classes (``fit_class_prior``)."""
        return fit_class_prior(net.module_, chunks_of(train), self.n_classes, self.batch_size, seed,
                               over_circle=isinstance(net.module_, CircularRotationVAEModule))

    def _build_net(self, seed, data, hidden, capacity, device, split=True):
        noise_scale = None if self.noise_scale is None else self.noise_scale / data.scale
        prior = self._angle_prior()
        if prior == "uniform":
            module = CircularRotationVAEModule
            rotation = dict(
                module__rotation_symmetry=self.rotation_symmetry,
                module__n_rotation_bins=self.n_rotation_bins,
            )
        else:
            module = RotationInvariantVAEModule
            rotation = dict(module__rotation_prior=prior)
        return self._new_net(
            ModuleLossNet, seed, device, split=split, streamed=data.streamed,
            module=module,
            module__image_shape=data.image_shape,
            module__n_components=self.n_components,
            module__translation=self.translation,
            module__decoder=self.decoder,
            module__hidden_layer_sizes=hidden,
            module__activation=self.activation,
            module__likelihood=self.likelihood,
            module__noise_scale=noise_scale,
            module__translation_prior=self.translation_prior,
            **rotation,
            criterion=NegativeELBO,
            criterion__likelihood=self.likelihood,
            criterion__beta=self.beta,
            criterion__capacity=capacity,
            optimizer__fused=True,  # one kernel for all parameters: ~20% per step on CPU
            iterator_train=frame_loader,
            # A streamed loader reads the next epoch's first block ahead, except after the last.
            iterator_train__epochs=self.max_epochs if split else 1,
            iterator_valid=frame_loader,
            iterator_valid__epochs=self.max_epochs,
        )

    # ------------------------------------------------------------ inference
    @property
    def _n_features_out(self):
        return self.n_components

    def _validated(self, X):
        check_is_fitted(self)
        X, frames_shape = in_memory_frames(X)
        check_image_shape(self.image_shape_, frames_shape)
        X = validate_numeric(self, X, reset=False, dtype=[np.float64, np.float32])
        self._check_X_range(X)
        return (np.asarray(X, dtype=np.float64) - self.data_offset_) / self.data_scale_

    def _apply(self, X, method, n_out, **kwargs):
        """``method`` (a name; standardised float64 images -> (m, n_out)) over X.

        In memory, on X at once. Streamed (a file, memmap or dask array), per
        chunk: a dask array (n, n_out), computed when asked.
        """
        if not is_streamed(X):
            return getattr(self, method)(self._validated(X), **kwargs)
        check_is_fitted(self)
        source = streamed_source(self, X, reset=False)
        convert = Standardise(self.data_offset_, self.data_scale_, self.likelihood == "bernoulli", np.float64)
        return map_frames(source, source.storage_step(), ChunkMethod(self, method, convert, kwargs), n_out)

    def _codes(self, Xt):
        n_pose = self.net_.module_.n_pose
        return self._posterior_mean(Xt)[:, n_pose : n_pose + self.n_components]

    def _posterior_mean(self, X):
        """Posterior means of ``[pose, z]`` for validated X."""
        return self._forward(X)[2]

    def transform(self, X, out=None):
        """Content latents (posterior means of z), with the pose removed.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or (sy, sx, h, w)
            Flattened images, or a stack or scan of them. An HDF5 or zarr
            dataset, a ``numpy.memmap`` or a dask array gives a dask array,
            computed chunk by chunk when asked.
        out : array-like of shape (n_samples, n_components), default=None
            Where to write Z, chunk by chunk (an ndarray, a zarr array or an
            HDF5 dataset, such as ``zarr.open(path, mode="w", shape=...)``),
            with a tqdm progress bar when ``verbose``. Returned.

        Returns
        -------
        Z : ndarray or dask array of shape (n_samples, n_components)
            Posterior means of z.
        """
        Z = self._apply(X, "_codes", self.n_components)
        if out is not None:
            return store(Z, out, f"{type(self).__name__}.transform", self.verbose)
        return Z

    @available_if(_has_classes)
    def predict_proba(self, X):
        """Class probabilities q(c | x), with ``n_classes``.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or (sy, sx, h, w)
            Flattened images, or a stack or scan of them; streamed as in :meth:`transform`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The summed responsibilities of each class's modes at the image's code.
        """
        return self._apply(X, "_class_proba", self.n_classes)

    def _class_proba(self, Xt):
        prior = self._class_prior()
        with torch.no_grad():
            log_proba = prior.class_log_proba(torch.as_tensor(self._codes(Xt), device=self.net_.device))
        return log_proba.exp().cpu().numpy()

    @available_if(_has_classes)
    def predict(self, X):
        """Most probable class of every image, with ``n_classes``.

        Parameters
        ----------
        X : array-like
            As for :meth:`predict_proba`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.predict_proba(X).argmax(1)

    @available_if(_has_classes)
    def fit_predict(self, X, y=None):
        """Fit, then the class of every training image (``labels_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w)
            Flattened images.
        y : None
            Ignored.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.fit(X).labels_

    def _class_prior(self):
        check_is_fitted(self)
        return self.net_.module_.class_prior

    @property
    def latent_prior_(self):
        """The prior over the codes as numpy arrays (a ``LatentPrior``): N(0, I), or the class mixture."""
        check_is_fitted(self)
        return LatentPrior.of(self.net_.module_, self.n_components)

    def transform_pose(self, X, return_posterior=False):
        """Inferred pose of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or (sy, sx, h, w)
            Flattened images, or a stack or scan of them; streamed as in :meth:`transform`.
        return_posterior : bool, default=False
            Also return the posterior probability of each rotation bin, to
            see which images are ambiguous (two digits alike both ways up
            show two peaks 180 degrees apart).

        Returns
        -------
        angle : ndarray of shape (n_samples,)
            Most probable rotation of each image relative to the learned
            upright template, in degrees in ``[-180 / n, 180 / n)`` with n the
            ``rotation_symmetry``, counter-clockwise on screen.
        shift : ndarray of shape (n_samples, 2) or None
            ``(dx, dy)`` in pixels (dx right, dy down); None when
            ``translation=False``.
        posterior : ndarray of shape (n_samples, n_rotation_bins)
            Only with ``return_posterior=True``: the probability of each bin
            of ``rotation_bins_`` (rows sum to 1). For the uniform prior these
            are the mixture weights of the posterior; for a normal prior, the
            mass of the posterior normal (wrapped on the circle) in each bin.
        """
        check_bool(return_posterior, "return_posterior")
        check_is_fitted(self)
        n_pose = self.net_.module_.n_pose
        n_bins = self.n_rotation_bins if return_posterior else 0
        pose = self._apply(X, "_pose_columns", n_pose + n_bins, return_posterior=return_posterior)
        angle = pose[:, 0]
        shift = pose[:, 1:3] if n_pose == 3 else None
        if not return_posterior:
            return angle, shift
        return angle, shift, pose[:, n_pose:]

    def _pose_columns(self, Xt, return_posterior):
        """``[angle, (dx, dy), posterior of the bins]`` per row of Xt."""
        _, _, mean, log_var = self._forward(Xt)[:4]
        return pose_columns(self.net_.module_, mean, log_var, self.n_components, self.rotation_symmetry,
                            self.n_rotation_bins, return_posterior)

    @property
    def rotation_bins_(self):
        """Centres of the rotation bins, degrees in ``[-180 / n, 180 / n)``, shape (n_rotation_bins,)."""
        check_is_fitted(self)
        return rotation_bin_centers(self.rotation_symmetry, self.n_rotation_bins)

    def _decode(self, z, angle_rad, shift):
        module = self.net_.module_
        dev = self.net_.device  # skorch moves a CUDA-trained net to CPU when unpickled without a GPU
        with torch.no_grad():
            module.eval()
            zt = torch.as_tensor(z, dtype=torch.float64, device=dev)
            at = torch.tensor(angle_rad, dtype=torch.float64, device=dev)
            st = None
            if module.translation:
                st = torch.tensor(shift, dtype=torch.float64, device=dev)
            out = module.decode(zt, at, st)
        return out.cpu().numpy() * self.data_scale_ + self.data_offset_

    def inverse_transform(self, Z, angle=None, shift=None):
        """Decode content latents into images, optionally posed.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Content latents.
        angle : float or array-like of shape (n_samples,), default=None
            Rotation in degrees (counter-clockwise on screen); None is upright.
        shift : array-like of shape (2,) or (n_samples, 2), default=None
            ``(dx, dy)`` in pixels; None is no shift. Needs
            ``translation=True``.

        Returns
        -------
        X : ndarray of shape (n_samples, h * w)
            Mean images (probabilities for the Bernoulli likelihood), in the
            units of the training X.
        """
        check_is_fitted(self)
        Z = check_array(Z, dtype=np.float64)
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} columns, but this RotationInvariantVAE has "
                f"n_components={self.n_components}."
            )
        n = Z.shape[0]
        a = np.zeros(n) if angle is None else _per_sample(angle, n, (), "angle")
        s = None
        if self.net_.module_.translation:
            s = np.zeros((n, 2)) if shift is None else _per_sample(shift, n, (2,), "shift")
        elif shift is not None:
            raise ValueError("shift was given but this model has translation=False.")
        return self._decode(Z, np.deg2rad(a), s)

    def reconstruct(self, X):
        """Reconstruct X through the posterior means of z and the pose.

        Parameters
        ----------
        X : array-like
            As for :meth:`transform`.

        Returns
        -------
        X_rec : ndarray of shape (n_samples, h * w)
            Mean reconstructions, in the units of X.
        """
        check_is_fitted(self)
        return self._apply(X, "_reconstruction", math.prod(self.image_shape_))

    def _reconstruction(self, Xt):
        recon = self._forward(Xt)[0]
        return recon * self.data_scale_ + self.data_offset_

    def score_samples(self, X, n_draws=4):
        """Evidence lower bound (ELBO) of each sample, in nats.

        A Monte Carlo estimate over ``n_draws`` posterior draws. The standard
        normal draws are fixed (seeded, in antithetic pairs) and the same for
        every sample, so a sample's score depends on that sample alone, not
        on its position in X, and repeated calls agree. For the Gaussian
        likelihood it is the log density of X in its own units (the
        ``data_scale_`` Jacobian is included); KL weight 1 whatever ``beta``.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or (sy, sx, h, w)
            Flattened images, or a stack or scan of them; streamed as in :meth:`transform`.
        n_draws : int, default=4
            Posterior draws per sample (rounded up to an even number).

        Returns
        -------
        elbo : ndarray of shape (n_samples,)
            ELBO per sample (higher is better).
        """
        if isinstance(n_draws, bool) or not isinstance(n_draws, numbers.Integral) or n_draws < 1:
            raise ValueError(f"n_draws must be an integer >= 1, got {n_draws!r}.")
        return self._apply(X, "_elbo", 1, n_draws=n_draws)[:, 0]

    def _elbo(self, Xt, n_draws):
        out = monte_carlo_elbo(self.net_.module_, Xt, n_draws, self.batch_size, self.net_.device)
        if self.likelihood == "gaussian":
            out -= Xt.shape[1] * np.log(self.data_scale_)  # the density of X in its own units
        return out[:, None]

    def score(self, X, y=None):
        """Mean ELBO per sample (higher is better), for model selection.

        Parameters
        ----------
        X : array-like of shape (n_samples, h * w), (n_samples, h, w) or (sy, sx, h, w)
            Flattened images, or a stack or scan of them; streamed as in :meth:`transform`.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))  # a dask mean computes here

    def sample(self, n_samples=1, random_state=None, upright=False):
        """Draw images from the generative model.

        z is drawn from its prior: N(0, I), or with ``n_classes`` the mixture
        of the codes' modes widened by their posterior variance.

        Parameters
        ----------
        n_samples : int, default=1
            Number of images.
        random_state : int, RandomState instance or None, default=None
            Seed of the latent draws (the global RNGs are not touched).
        upright : bool, default=False
            Skip the pose (angle 0, no shift) instead of drawing it from the
            priors.

        Returns
        -------
        X : ndarray of shape (n_samples, h * w)
            Mean images of the drawn latents.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        check_bool(upright, "upright")
        rng = local_random_state(random_state)
        module = self.net_.module_
        z = self.latent_prior_.sample(n_samples, rng)
        angle = np.zeros(n_samples)
        shift = np.zeros((n_samples, 2)) if module.translation else None
        if not upright:
            if isinstance(module, CircularRotationVAEModule):
                angle = rng.uniform(0.0, 2 * np.pi / self.rotation_symmetry, n_samples)
            else:
                angle = rng.standard_normal(n_samples) * module.rotation_prior
            if module.translation:
                shift = rng.standard_normal((n_samples, 2)) * module.translation_prior
        return self._decode(z, angle, shift)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


def _per_sample(value, n, shape, name):
    """``value`` as float64 of shape (n, *shape): one for all samples or one per sample, finite."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numbers, got {value!r}.") from None
    if array.shape not in (shape, (n, *shape)):
        raise ValueError(
            f"{name} must have shape {shape or 'scalar'} (one for all) or {(n, *shape)} (one per row of Z), "
            f"got shape {array.shape}."
        )
    bad = ~np.isfinite(array)
    if np.any(bad):
        raise ValueError(f"{name} must be finite; it holds {np.count_nonzero(bad)} NaN or infinite value(s).")
    return np.broadcast_to(array, (n, *shape))


register(RotationInvariantVAE, rotation_prior="angle_prior")
