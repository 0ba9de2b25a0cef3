"""Rotation-invariant deep learning for electron microscopy, as scikit-learn estimators."""

from ._com import COMTransformer, EmptyFrameWarning, ExcludedFramesWarning
from .atoms import AtomPatchExtractor
from ._preprocessing import DiffractionPreprocessor
from ._rvae import RotationInvariantVAE
from ._tilt import TiltRegressor

__version__ = "0.1.0"
__all__ = [
    "AtomPatchExtractor",
    "COMTransformer",
    "DiffractionPreprocessor",
    "EmptyFrameWarning",
    "ExcludedFramesWarning",
    "RotationInvariantVAE",
    "TiltRegressor",
    "__version__",
]
