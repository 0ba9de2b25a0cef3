"""Find and refine atomic-column positions with Atomap and save them.

Runs inside the peers' venv built by benchmarks/peers/setup.sh (it cannot
import sklearn_rvae): ``python _peer_atomap.py IMAGES.npy SEPARATION OUT.npz``.
IMAGES.npy holds (n, h, w) float images with bright columns (HAADF-like; for
dark columns pass an inverted image: Atomap's own ABF path,
``atomap.main.run_image_filtering(s, invert_signal=True)``, uses 1/data).
Each frame goes through Atomap's documented workflow::

    am.get_atom_positions(hs.signals.Signal2D(img), separation=SEPARATION)
    sub = am.Sublattice(peaks, image=img)
    sub.find_nearest_neighbors()
    sub.refine_atom_positions_using_center_of_mass()   # percent_to_nn=0.25 (default)
    sub.refine_atom_positions_using_2d_gaussian()      # percent_to_nn=0.40 (default)

with every other argument at Atomap's default (threshold_rel=0.02, no PCA,
no background subtraction, no intensity normalisation). Atomap reports
positions as (x, y) = (column, row); this script converts them. Quirks of
Atomap 0.4.2 worth knowing when comparing: a column whose brightest pixel
lies less than int(SEPARATION) px from the image border is not found
(skimage peak_local_max's exclude_border); the Gaussian fit always frees
the rotation; an atom whose fit fails 10 times (shrinking the mask by 5% each
try) falls back to its centre of mass; images with negative values only get a
logged warning.

OUT.npz gets ``positions_0``, ``positions_1``, ... (float (n_atoms, 2) arrays
in (row, col) pixel order, i.e. ``positions[:, 0]`` indexes axis 0 of the
image), ``n_frames``, and per-frame wall times ``seconds_find`` (peak finding)
and ``seconds_refine`` (nearest neighbours + both refinements); imports and
loading are excluded.
"""

import sys
import time
import warnings

import numpy as np

with warnings.catch_warnings():
    # HyperSpy 2.5 warns about deprecated import paths that exspy (pulled in
    # by atomap.api) still uses; nothing to do with this measurement.
    warnings.simplefilter("ignore")
    import atomap.api as am
    import hyperspy.api as hs

hs.preferences.General.show_progressbar = False


def find_and_refine(img, separation):
    """Return (positions (n, 2) as (row, col), seconds_find, seconds_refine)."""
    t0 = time.perf_counter()
    peaks = am.get_atom_positions(hs.signals.Signal2D(img), separation=separation)
    t1 = time.perf_counter()
    sub = am.Sublattice(peaks, image=img)
    sub.find_nearest_neighbors()
    sub.refine_atom_positions_using_center_of_mass(show_progressbar=False)
    sub.refine_atom_positions_using_2d_gaussian(show_progressbar=False)
    t2 = time.perf_counter()
    pos = np.stack([sub.y_position, sub.x_position], axis=1).astype(np.float64)
    return pos.reshape(-1, 2), t1 - t0, t2 - t1


def main():
    x_path, separation, out = sys.argv[1:4]
    separation = float(separation)
    if separation == int(separation):
        separation = int(separation)
    images = np.load(x_path).astype(np.float64)
    if images.ndim == 2:
        images = images[None]
    result, t_find, t_refine = {}, [], []
    for i, img in enumerate(images):
        pos, tf, tr = find_and_refine(np.ascontiguousarray(img), separation)
        result[f"positions_{i}"] = pos
        t_find.append(tf)
        t_refine.append(tr)
    np.savez(
        out,
        n_frames=len(images),
        seconds_find=np.array(t_find),
        seconds_refine=np.array(t_refine),
        **result,
    )


if __name__ == "__main__":
    main()
