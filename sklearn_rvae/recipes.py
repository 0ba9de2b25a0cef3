"""Recipes: the validated settings of each use, as one call that returns a scikit-learn pipeline.

A recipe is the configuration a guide's headline figure comes from, so that
a newcomer reaches it without reading any docstring's Examples. Everything
a recipe sets stays a parameter of the pipeline it returns (``set_params``,
grid searches, ``clone``, pickling), named as in its steps. The uses and
their recipes:

- atom environments in HAADF or ABF images and movies: :func:`make_atom_pipeline`;
- symmetry breaking in 4D-STEM scans: :func:`make_diffraction_pipeline`;
- particles and other objects at any angle, in windows cut around each:
  :func:`make_particle_pipeline`;
- octahedral tilts from ABF images: ``TiltRegressor()``, whose defaults are
  its recipe.

docs/recipes.md shows each with its data, the figure it reaches and the
command that measured it.
"""

from copy import deepcopy

from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from ._preprocessing import DiffractionPreprocessor
from ._utils import check_scalar
from .atoms import AtomPatchExtractor
from .rvae import RotationInvariantVAE

__all__ = ["Recipe", "make_atom_pipeline", "make_diffraction_pipeline", "make_particle_pipeline"]


class Recipe(Pipeline):
    """A ``Pipeline`` that declares the input of its first step: images, non-negative intensities.

    scikit-learn's ``Pipeline`` takes only the sparse and pairwise input tags
    from its steps; a recipe takes all of its first step's, so that tools
    that read the tags (the common estimator checks among them) know that it
    takes, say, non-negative diffraction intensities. Otherwise it is the
    ``Pipeline`` it was built as.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        first = self.steps[0][1]
        if first is not None and first != "passthrough":
            tags.input_tags = deepcopy(get_tags(first).input_tags)
        return tags


def make_atom_pipeline(bond_length, n_classes=None, *, invert=False, max_epochs=60, device="auto",
                       random_state=None):
    """Codes and classes of atomic environments: columns found, patches cut, a full-circle rVAE.

    The recipe, in units of the nearest-neighbour distance of the columns
    (the bond): windows of 4.5 bonds (the first three shells), centred on
    every column found at least 0.7 bond apart; each window masked to its
    inscribed disk (its corners would turn in from outside), standardised,
    and weighted by a Gaussian of 0.7 bond about the atom, so that the
    first neighbours decide; then ``RotationInvariantVAE`` with two codes, a
    uniform angle prior (an atom's neighbours point any way) and no shift
    (the windows are centred). With ``n_classes``, the pipeline clusters
    (``fit_predict``, ``predict``): on simulated HAADF frames of graphene
    with Si dopants and vacancies (bond 7.1 px), the four classes match the
    four first-neighbour environments (C, C beside Si, Si, C beside a
    vacancy) at 1.000 (docs/recipes.md).

    Parameters
    ----------
    bond_length : float
        Nearest-neighbour distance of the columns, in pixels (graphene at
        0.2 Angstrom per pixel: 1.42 / 0.2 = 7.1).
    n_classes : int or None, default=None
        Number of environment classes; ``None`` gives the codes alone
        (``fit_transform``).
    invert : bool, default=False
        Dark columns (ABF, BF images).
    max_epochs : int, default=60
        Passes over the atoms. Train for about 1,000 optimiser steps or
        more (``max_epochs`` times the number of atoms / 100): 60 suits the
        3,000 atoms of four 256 x 256 frames; one frame of 760 atoms needs 120.
    device : str, default="auto"
        Torch device of the rVAE.
    random_state : int, RandomState instance or None, default=None
        Seed of the rVAE's fit.

    Returns
    -------
    pipeline : Recipe
        A ``Pipeline`` with the steps ``"patches"`` (:class:`~sklearn_rvae.AtomPatchExtractor`) and
        ``"rvae"`` (:class:`~sklearn_rvae.RotationInvariantVAE`). Its input
        is one image ``(h, w)`` or frames ``(n_frames, h, w)``;
        ``pipeline["patches"].locate(image)`` gives the frame and position of
        each row of the output.

    Examples
    --------
    >>> from sklearn_rvae.recipes import make_atom_pipeline
    >>> pipe = make_atom_pipeline(7.1, n_classes=4)
    >>> pipe["patches"].window_size, pipe["patches"].min_distance, pipe["patches"].taper
    (32, 5.0, 5.0)
    """
    bond = check_scalar(bond_length, "bond_length", positive=True,
                        expected="the nearest-neighbour distance of the columns, pixels > 0")
    if bond < 2:
        raise ValueError(f"bond_length={bond_length!r} pixels leaves the columns less than 2 pixels apart, too close "
                         "to find them apart; give the nearest-neighbour distance in pixels (graphene at 0.2 A per "
                         "pixel: 7.1).")
    window = 2 * max(2, round(4.5 * bond / 2))  # even, so that the centre falls between pixels as the extractor cuts
    near = round(0.7 * bond, 1)
    return Recipe([
        ("patches", AtomPatchExtractor(window, min_distance=near, invert=invert, mask="disk", standardize=True,
                                       taper=near)),
        ("rvae", RotationInvariantVAE(2, angle_prior="uniform", translation=False, n_classes=n_classes,
                                      max_epochs=max_epochs, device=device, random_state=random_state)),
    ])


def make_diffraction_pipeline(n_components=2, *, detector_shape=None, crop=None, binning=1, max_epochs=200,
                              n_init=3, device="auto", random_state=None):
    """Symmetry breaking in a 4D-STEM scan: each pattern's difference from the mean, a rotation-only VAE.

    The recipe: the direct beam of the mean pattern moved to the detector
    centre (the model turns patterns about it), linear intensities smoothed
    by a Gaussian of 1.5 detector pixels (a turned pattern's sharp disk
    edges alias on a coarse detector), minus the mean pattern and scaled
    (the mean carries the crystal's point-group symmetry; the residuals keep
    what differs between positions); then ``RotationInvariantVAE`` without
    shift, a wide normal angle prior (172 degrees), batches of 512 and the
    best of ``n_init`` trainings (the angle is a non-convex latent). On a
    simulated graphene scan with a vacancy, symmetry-equivalent positions
    get one code and the codes find the vacancy (docs/recipes.md).

    Parameters
    ----------
    n_components : int, default=2
        Content codes per pattern.
    detector_shape : tuple (ky, kx) or None, default=None
        Pattern shape, when X holds flattened patterns; ``None`` infers a
        square one. A 4-D scan ``(sy, sx, ky, kx)`` gives it itself.
    crop : int or None, default=None
        Side of the square kept about the centre, detector pixels.
    binning : int, default=1
        Sum over ``binning x binning`` blocks: bin a 256 x 256 detector to
        64 x 64 or less, the size the recipe was measured at (35 x 35).
    max_epochs : int, default=200
    n_init : int, default=3
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    pipeline : Recipe
        A ``Pipeline`` with the steps ``"preprocess"`` (:class:`~sklearn_rvae.DiffractionPreprocessor`)
        and ``"rvae"`` (:class:`~sklearn_rvae.RotationInvariantVAE`).

    Examples
    --------
    >>> from sklearn_rvae.recipes import make_diffraction_pipeline
    >>> pipe = make_diffraction_pipeline(binning=4)
    >>> pipe["preprocess"].blur, pipe["rvae"].angle_prior
    (1.5, 172.0)
    """
    return Recipe([
        ("preprocess", DiffractionPreprocessor(detector_shape=detector_shape, center="mean", crop=crop,
                                               binning=binning, scaling="none", blur=1.5, normalize="none",
                                               subtract_mean=True)),
        ("rvae", RotationInvariantVAE(n_components, translation=False, angle_prior=172.0, batch_size=512,
                                      max_epochs=max_epochs, n_init=n_init, device=device,
                                      random_state=random_state)),
    ])


def make_particle_pipeline(n_classes=None, *, image_shape=None, max_epochs=60, device="auto", random_state=None):
    """Shapes and orientations of particles (or any objects) at any angle, one window around each.

    The recipe: ``RotationInvariantVAE`` with two codes, a uniform angle
    prior (a particle may point any way) and a shift (a window is centred on
    an object only roughly). On simulated asymmetric shapes at every angle,
    the codes cluster the four shapes with an adjusted Rand index of 1.000
    and every angle is within 10 degrees once each shape's own offset is
    removed (docs/recipes.md). The windows come from your segmentation: one
    flattened window per object, all of one size, the object near the
    middle.

    Parameters
    ----------
    n_classes : int or None, default=None
        Number of shape classes; ``None`` gives the codes alone.
    image_shape : tuple (h, w) or None, default=None
        Shape of a window; ``None`` infers a square one.
    max_epochs : int, default=60
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    pipeline : Recipe
        A ``Pipeline`` with the step ``"rvae"``
        (:class:`~sklearn_rvae.RotationInvariantVAE`): ``transform`` gives
        the codes, ``pipeline["rvae"].transform_pose`` the angle and shift.

    Examples
    --------
    >>> from sklearn_rvae.recipes import make_particle_pipeline
    >>> make_particle_pipeline(n_classes=4)["rvae"].angle_prior
    'uniform'
    """
    return Recipe([
        ("rvae", RotationInvariantVAE(2, image_shape=image_shape, angle_prior="uniform", translation=True,
                                      n_classes=n_classes, max_epochs=max_epochs, device=device,
                                      random_state=random_state)),
    ])
