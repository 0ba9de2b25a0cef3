"""Atom-resolved images: find atomic columns, cut atom-centred patches, link atoms across frames."""

from ._find import find_atoms, refine_positions
from ._link import class_changes, link_atoms
from ._patches import AtomPatchExtractor, cut_patches

__all__ = [
    "AtomPatchExtractor",
    "class_changes",
    "cut_patches",
    "find_atoms",
    "link_atoms",
    "refine_positions",
]
