"""One-line plots of what the estimators find (matplotlib, the ``plot`` extra).

* :func:`plot_manifold`: the latent manifold, images decoded over a grid
  of latent values (AtomAI's ``manifold2d``), with saving built in;
* :func:`plot_latent_map`: a code, or classes, over a scan or the atoms of
  an image;
* :func:`plot_angle_map`: angles as hue, with a colour wheel;
* :func:`plot_vector_field`: the COM / DPC vector field, with its wheel;
* :func:`plot_tilt_map`: columns coloured by a tilt angle over the image;
* :func:`plot_trajectories`: the codes of linked atoms over the frames.

Each draws into the ``ax`` it is given or makes a figure, and returns the
Axes. Importing this module does not import matplotlib; the functions do,
and say which extra installs it when it is missing
(``pip install 'sklearn_rvae[plot]'``).

Examples
--------
>>> import numpy as np
>>> from sklearn_rvae import plotting
>>> ax = plotting.plot_angle_map(np.linspace(-180, 180, 16), scan_shape=(4, 4))
>>> ax.images[0].get_array().shape
(4, 4)
"""

from ._fields import plot_tilt_map, plot_vector_field
from ._latent import plot_angle_map, plot_latent_map, plot_manifold, plot_trajectories

__all__ = [
    "plot_angle_map",
    "plot_latent_map",
    "plot_manifold",
    "plot_tilt_map",
    "plot_trajectories",
    "plot_vector_field",
]
