"""Rotation-invariant deep learning for electron microscopy, as scikit-learn estimators."""

from ._com import COMTransformer, EmptyFrameWarning
from ._rvae import RotationInvariantVAE

__version__ = "0.1.0"
__all__ = ["COMTransformer", "EmptyFrameWarning", "RotationInvariantVAE", "__version__"]
