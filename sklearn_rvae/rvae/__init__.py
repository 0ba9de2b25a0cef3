"""The rotation-invariant VAE (rVAE / rrVAE) and its torch module."""

from ._estimator import RotationInvariantVAE

__all__ = ["RotationInvariantVAE"]
