"""Where ``PeriodicCells`` lived before it moved to the ground floor (``sklearn_rvae._periodic_cells``).

Pickles of fitted models made before the move name it here.
"""

from .._periodic_cells import PeriodicCells  # noqa: F401
