"""Rotation-invariant deep learning for electron microscopy, as scikit-learn estimators."""

from ._com import COMTransformer, EmptyFrameWarning
from ._preprocessing import DiffractionPreprocessor
from ._rvae import RotationInvariantVAE

__version__ = "0.1.0"
__all__ = [
    "COMTransformer",
    "DiffractionPreprocessor",
    "EmptyFrameWarning",
    "RotationInvariantVAE",
    "__version__",
]
