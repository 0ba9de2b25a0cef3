"""Atom-resolved images: find atomic columns, cut atom-centred patches, link atoms across frames."""

from ._find import find_atoms, refine_positions

__all__ = ["find_atoms", "refine_positions"]
