"""Atom-centred patches of images and movies, as a scikit-learn transformer."""

import numbers

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Hidden, StrOptions

from .._deprecation import register, renamed_value
from .._frames import frame_source, is_streamed
from .._masks import mask_weights, parse_mask, radial_distance
from .._utils import Interval, check_positions
from ._find import check_image, find_atoms
from ._link import _numbers, _whole_numbers


def _frames(X):
    """``X`` as a stack of frames (n_frames, h, w) of float64."""
    X = check_image(X, name="X", ndim=(2, 3))
    return X[None] if X.ndim == 2 else X


def cut_patches(image, positions, window_size):
    """Square windows of ``image`` centred on sub-pixel ``positions`` (bilinear).

    Parameters
    ----------
    image : ndarray of shape (h, w)
    positions : ndarray of shape (n, 2)
        (row, col) centres in pixels.
    window_size : int
        Side of the windows. Pixel (i, j) of a window centred on (r, c)
        samples the image at (r + i - (window_size - 1) / 2, c + j - ...):
        the centre falls on a pixel for odd sizes, between four for even.

    Returns
    -------
    patches : ndarray of shape (n, window_size, window_size)
        Pixels outside the image read as the nearest edge pixel.
    """
    if not isinstance(window_size, numbers.Integral) or isinstance(window_size, bool) or window_size < 1:
        # Not check_int: cut_patches has always raised a ValueError, for a non-int too.
        raise ValueError(f"window_size must be an int >= 1, got {window_size!r}.")
    image = check_image(image)
    positions = check_positions(positions)
    offsets = np.arange(window_size) - (window_size - 1) / 2
    rows = positions[:, 0, None, None] + offsets[None, :, None]
    cols = positions[:, 1, None, None] + offsets[None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    out = ndimage.map_coordinates(image, [rows.ravel(), cols.ravel()], order=1, mode="nearest")
    return out.reshape(len(positions), window_size, window_size)


def _cut_chunk(extractor, source, start, stop, positions):
    """The finished patches of frames ``start .. stop - 1`` at the given positions per frame."""
    h, w = source.detector_shape
    frames = check_image(source.read(start, stop).reshape(-1, h, w), name="X", ndim=(3,))
    patches = [cut_patches(image, pos, extractor.window_size) for image, pos in zip(frames, positions)]
    return extractor._finish(np.concatenate(patches))


class AtomPatchExtractor(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Cut a window centred on every atomic column of an image or movie.

    In the manner of ``sklearn.feature_extraction.image.PatchExtractor``:
    one image (h, w) or frames (n_frames, h, w) in, one row per atom out.
    The columns are found by :func:`sklearn_rvae.atoms.find_atoms` and each
    window is interpolated (bilinear) so that the fitted sub-pixel centre
    sits at the window's centre. :meth:`locate` gives the frame and position
    of every patch, in the order of the rows of :meth:`transform`, to map
    codes and classes back onto the image. Stateless: ``fit`` only checks
    the parameters.

    Parameters
    ----------
    window_size : int
        Side of the square patches, pixels (at least 3). For graphene at
        0.2 A/px, 32 (6.4 A) shows an atom's first and second neighbours.
    min_distance : float
        Smallest distance between two columns, pixels; see
        :func:`~sklearn_rvae.atoms.find_atoms`.
    threshold : float or None, default=None
        Passed to :func:`~sklearn_rvae.atoms.find_atoms`.
    invert : bool, default=False
        Dark columns (ABF, BF): passed to ``find_atoms``. The patches are
        cut from the image as it is, not inverted.
    refine : bool, default=True
        Passed to ``find_atoms``.
    exclude_border : bool or float, default=True
        Atoms near the edges of the image: ``True`` leaves out those whose
        window leaves the image; ``False`` keeps them, the missing pixels
        read as the nearest edge pixel; a number leaves out the atoms closer
        than that many pixels to an edge, as ``find_atoms(exclude_border=...)``
        does, and pads the windows of the others. ``locate(X).attrs["n_excluded"]``
        counts the atoms left out.
    edge : {"drop", "pad"}
        The old name of ``exclude_border`` (``"drop"`` is ``True``, ``"pad"``
        ``False``); deprecated.
    mask : None, "disk", float, (float, float) or array of shape (window_size, window_size), default=None
        Window pixels that count, as every ``mask`` of the package takes
        them; the others are set to 0. ``"disk"`` keeps the disk inscribed
        in the window: a turned patch's corners come from outside the
        window, so only the disk looks the same at every orientation. With
        ``standardize``, the recommended input of a full-circle
        ``RotationInvariantVAE`` (see the Examples). A number ``r``: the
        disk of radius r pixels about the atom; ``(r_inner, r_outer)``: an
        annulus (the neighbours without the atom); an array: per-pixel
        weights that multiply each patch (boolean or non-negative).
    standardize : bool, default=False
        Subtract each patch's mean and divide by its standard deviation
        (over the pixels the mask keeps): patches then differ by their
        pattern, not by the dose or contrast of their frame. Leave it off
        for NMF, which needs non-negative input.
    taper : float or None, default=None
        Standard deviation, in pixels, of a Gaussian weight
        ``exp(-r**2 / (2 * taper**2))`` that multiplies each patch, r being
        the distance from the atom; applied last, after ``mask`` and
        ``standardize``. It fades the far neighbours, so that a model's
        classes follow the near ones: a window of graphene at 32 px also
        shows the second and third neighbours, and in its pixels a carbon
        two bonds from a Si (4.2 times as bright as a carbon) differs from
        bulk carbon by more than a carbon beside a vacancy does; such
        carbons are also six times as many. For classes by first neighbours, about 0.7 of the
        nearest-neighbour distance (5 px for graphene at 0.2 A/px, whose
        bond is 7.1 px; chosen on validation frames).

    Attributes
    ----------
    n_features_out_ : int
        ``window_size ** 2``.

    See Also
    --------
    sklearn_rvae.atoms.find_atoms : the column positions alone.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_rvae import AtomPatchExtractor
    >>> from sklearn_rvae.datasets import make_stem_image
    >>> image, atoms = make_stem_image(size=96, dopants={"Si": 2}, n_vacancies=1)
    >>> extractor = AtomPatchExtractor(16, min_distance=5)
    >>> patches = extractor.fit_transform(image)
    >>> patches.shape[1], len(extractor.locate(image)) == len(patches)
    (256, True)
    >>> codes = make_pipeline(AtomPatchExtractor(16, min_distance=5), PCA(2)).fit_transform(image)

    The recipe for a rotation-invariant model of a crystal's atoms, which
    look the same whichever way their neighbours point (max_epochs as
    validated, 30 or more; 2 here to keep the example quick):

    >>> from sklearn_rvae import RotationInvariantVAE
    >>> pipe = make_pipeline(
    ...     AtomPatchExtractor(32, min_distance=5, mask="disk", standardize=True),
    ...     RotationInvariantVAE(2, angle_prior="uniform", rotation_symmetry=3,
    ...                          translation=False, max_epochs=2, random_state=0))
    >>> pipe.fit_transform(image).shape[1]
    2
    """

    _parameter_constraints = {
        "window_size": [Interval(numbers.Integral, 3, None, closed="left")],
        "min_distance": [Interval(numbers.Real, 0, None, closed="neither")],
        "threshold": [Interval(numbers.Real, None, None, closed="neither"), None],
        "invert": ["boolean"],
        "refine": ["boolean"],
        "exclude_border": ["boolean", Interval(numbers.Real, 0, None, closed="left")],
        "edge": [StrOptions({"drop", "pad"}), Hidden(StrOptions({"deprecated"}))],
        "mask": [StrOptions({"disk"}), Interval(numbers.Real, 0, None, closed="neither"), "array-like", None],
        "standardize": ["boolean"],
        "taper": [Interval(numbers.Real, 0, None, closed="neither"), None],
    }

    def __init__(self, window_size, *, min_distance, threshold=None, invert=False, refine=True,
                 exclude_border=True, mask=None, standardize=False, taper=None, edge="deprecated"):
        self.window_size = window_size
        self.min_distance = min_distance
        self.threshold = threshold
        self.invert = invert
        self.refine = refine
        self.exclude_border = exclude_border
        self.mask = mask
        self.standardize = standardize
        self.taper = taper
        self.edge = edge

    def fit(self, X, y=None):
        """Check the parameters and the shape of ``X``; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (h, w) or (n_frames, h, w)
        y : ignored

        Returns
        -------
        self : AtomPatchExtractor
        """
        self._validate_params()
        self._check_window(_frames(X))
        self.n_features_out_ = self.window_size**2
        return self

    @property
    def _n_features_out(self):
        return self.window_size**2

    def _check_window(self, frames):
        if self.window_size > min(frames.shape[1:]):
            raise ValueError(
                f"window_size={self.window_size} is larger than the images "
                f"({frames.shape[1]}x{frames.shape[2]} pixels)."
            )
        parse_mask(self.mask, (self.window_size,) * 2, where="window")  # a bad mask is named before any search

    def _atoms(self, frames):
        """Per frame, the kept centres and the number excluded at the edges."""
        self._check_window(frames)
        half = (self.window_size - 1) / 2
        exclude = renamed_value(self, "edge", "exclude_border", convert=lambda edge: edge == "drop")
        distance = 0.0 if isinstance(exclude, (bool, np.bool_)) else float(exclude)
        out = []
        for image in frames:
            pos = find_atoms(image, min_distance=self.min_distance, threshold=self.threshold,
                             invert=self.invert, refine=self.refine)
            n_found = len(pos)
            if distance > 0:  # as find_atoms leaves them out: the image's edge lies half a pixel out
                limit = np.array(image.shape) - 0.5 - distance
                pos = pos[np.all((pos >= distance - 0.5) & (pos <= limit), axis=1)]
            elif exclude:  # True: the atoms whose window leaves the image
                # Bilinear sampling reads the pixel past the last sample too.
                limit = np.array(image.shape) - 1 - half
                pos = pos[np.all((pos >= half) & (pos <= limit), axis=1)]
            out.append((pos, n_found - len(pos)))
        return out

    def locate(self, X):
        """Frame and position of every patch, in the order of :meth:`transform`.

        Parameters
        ----------
        X : array-like of shape (h, w) or (n_frames, h, w)

        Returns
        -------
        atoms : pandas.DataFrame
            Columns ``frame`` (0 for a single image), ``row``, ``col``
            (pixels, row 0 at the top). ``atoms.attrs["n_excluded"]`` is
            the number of atoms left out near the edges (``exclude_border``).
        """
        self._validate_params()
        found = [atom for _, _, chunk in self._found(X) for atom in chunk]
        atoms = pd.DataFrame(
            {
                "frame": np.concatenate([np.full(len(p), t) for t, (p, _) in enumerate(found)]).astype(int),
                "row": np.concatenate([p[:, 0] for p, _ in found]),
                "col": np.concatenate([p[:, 1] for p, _ in found]),
            }
        )
        atoms.attrs["n_excluded"] = int(sum(n for _, n in found))
        return atoms

    def transform(self, X):
        """Patches centred on the atoms of every frame.

        Parameters
        ----------
        X : array-like of shape (h, w) or (n_frames, h, w)

        Returns
        -------
        patches : ndarray of shape (n_atoms, window_size ** 2)
            Flattened row-major, frame after frame, in the order of
            :meth:`locate`.
        """
        self._validate_params()
        if is_streamed(X) and np.ndim(X) == 3:
            return self._lazy_patches(X)
        frames = _frames(X)
        patches = [cut_patches(image, pos, self.window_size)
                   for image, (pos, _) in zip(frames, self._atoms(frames))]
        return self._finish(np.concatenate(patches))

    def _movie(self, X):
        """A streamed movie (n_frames, h, w) as a FrameSource."""
        return frame_source(self, X, detector_shape=None, scan_shape=None, reset=False, whole_frames=True)

    def _found(self, X):
        """``(start, stop, atoms per frame)`` by chunks of frames; one chunk for in-memory X."""
        if is_streamed(X) and np.ndim(X) == 3:
            source = self._movie(X)
            h, w = source.detector_shape
            for start, stop in source.spans(source.storage_step()):
                frames = check_image(source.read(start, stop).reshape(-1, h, w), name="X", ndim=(3,))
                yield start, stop, self._atoms(frames)
            return
        frames = _frames(X)
        yield 0, len(frames), self._atoms(frames)

    def _lazy_patches(self, X):
        """Patches of a streamed movie as a dask array: the atoms found in one pass, the patches cut per chunk.

        The positions (two numbers per atom) are found now, so the result's
        shape is known; each block reads its frames again when computed.
        """
        import dask
        import dask.array as da

        source = self._movie(X)
        blocks = []
        for start, stop, atoms in self._found(X):
            n = sum(len(pos) for pos, _ in atoms)
            block = dask.delayed(_cut_chunk)(self, source, start, stop, [pos for pos, _ in atoms])
            blocks.append(da.from_delayed(block, shape=(n, self.window_size**2), dtype=np.float64))
        return da.concatenate(blocks)

    def transform_at(self, X, atoms):
        """Patches centred on given positions (for example linked, or corrected, atoms).

        Parameters
        ----------
        X : array-like of shape (h, w) or (n_frames, h, w)
        atoms : pandas.DataFrame
            Columns ``row``, ``col`` and, for frames, ``frame``.

        Returns
        -------
        patches : ndarray of shape (len(atoms), window_size ** 2)
            In the order of the rows of ``atoms``; pixels outside the image
            read as the nearest edge pixel.
        """
        self._validate_params()
        frames = _frames(X)
        self._check_window(frames)
        missing = {"row", "col"} - set(getattr(atoms, "columns", ()))
        if missing:
            raise ValueError(f"atoms must be a DataFrame with columns row, col (and frame); missing {sorted(missing)}.")
        frame = (_whole_numbers(atoms, "frame") if "frame" in atoms
                 else np.zeros(len(atoms), dtype=np.int64))
        if len(frame) and (frame.min() < 0 or frame.max() >= len(frames)):
            raise ValueError(f"atoms['frame'] must lie in 0 .. {len(frames) - 1}; got {frame.min()} .. {frame.max()}.")
        pos = np.column_stack([_numbers(atoms, "row"), _numbers(atoms, "col")]).reshape(-1, 2)
        out = np.empty((len(atoms), self.window_size, self.window_size))
        for t in np.unique(frame):
            sel = frame == t
            out[sel] = cut_patches(frames[t], pos[sel], self.window_size)
        return self._finish(out)

    def _finish(self, patches):
        """Mask, standardise and taper flat or square patches; (n, window_size ** 2)."""
        patches = patches.reshape(len(patches), self.window_size**2)
        shape, middle = (self.window_size,) * 2, ((self.window_size - 1) / 2,) * 2
        weights = mask_weights(parse_mask(self.mask, shape, where="window"), shape, middle, "mask", self.mask,
                               where="window").ravel()
        keep = weights > 0
        radius = radial_distance(shape, middle).ravel()
        if self.standardize and len(patches):
            inside = patches[:, keep]
            sd = inside.std(axis=1, keepdims=True)
            # A flat patch (no atom, no noise) stays all zeros.
            patches = (patches - inside.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
        patches = patches * weights
        if self.taper is not None:
            patches = patches * np.exp(-(radius**2) / (2.0 * self.taper**2))
        return patches

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


register(AtomPatchExtractor, edge="exclude_border")
