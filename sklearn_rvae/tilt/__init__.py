"""Octahedral tilts from ABF-STEM: the regressor and the pieces it is built from.

``TiltRegressor`` is the estimator; ``PairDecision`` holds the settings of
its pair decision. ``PairLibrary`` / ``CellPairLibrary`` decide between a tilt and its mid-plane mirror (``PAIR_MAP``) by template
likelihood; ``PeriodicCells`` holds the periodic images the cell templates
are rendered from; ``MIRRORS_110`` are the exact mirrors of a [110]
projection; ``ScanRowAligner``, ``appearance_model`` and ``shift_rows`` are
the scan-row model that aligns the rows of a patch before the CNN sees it.
"""

from .._periodic_cells import PeriodicCells
from .._perovskite_symmetry import MIRRORS_110
from ._estimator import TiltRegressor
from ._module import ScanRowAligner, appearance_model, shift_rows
from ._pair_library import PAIR_MAP, CellPairLibrary, PairDecision, PairLibrary

__all__ = [
    "MIRRORS_110",
    "PAIR_MAP",
    "CellPairLibrary",
    "PairDecision",
    "PairLibrary",
    "PeriodicCells",
    "ScanRowAligner",
    "TiltRegressor",
    "appearance_model",
    "shift_rows",
]
