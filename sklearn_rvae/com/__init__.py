"""Centre of mass / DPC of 4D-STEM data: the transformer, its torch module and the fused kernel."""

from ._estimator import COMTransformer, EmptyFrameWarning, ExcludedFramesWarning

__all__ = ["COMTransformer", "EmptyFrameWarning", "ExcludedFramesWarning"]
