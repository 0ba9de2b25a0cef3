"""Data sets: rotated digits (and, with the ``sim`` extra, simulated microscopy)."""

from ._digits import make_rotated_digits

__all__ = ["make_rotated_digits"]
