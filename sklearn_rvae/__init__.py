"""Rotation-invariant deep learning for electron microscopy, as scikit-learn estimators."""

from .com import COMTransformer, EmptyFrameWarning, ExcludedFramesWarning
from .atoms import AtomPatchExtractor
from ._preprocessing import DiffractionPreprocessor
from .rvae import RotationInvariantVAE
from .tilt import TiltRegressor

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
