"""Every dtype a user might pass -- bool, the integer types, float16/32, complex, object (with and
without None) and strings -- as X of every estimator, as the image / field / angles / codes of a few
functions, as TiltRegressor's y, and as the columns of link_atoms' table.
"""

import numpy as np

from .fixtures import DTYPES, SPECS, _tilt_run, a, as_dtype, atoms_table, b, codes, f, img, tilt_data, tilt_est
from .harness import add


def build():
    """Add the 'dtypes' cases to CASES, in order."""
    from sklearn_rvae import dpc, metrics
    from sklearn_rvae import atoms as atoms_mod

    cat = "dtypes"
    for spec in SPECS.values():
        for dt, expect in DTYPES:
            def fn(spec=spec, dt=dt):
                X = as_dtype(spec.X(), dt)
                return spec.run(spec.make(), X, X)

            add(cat, spec.name, f"X of dtype {dt}", fn, expect=expect, shape=spec.shape(spec.X()))
    for dt, expect in DTYPES:
        add(cat, "atoms.find_atoms", f"image of dtype {dt}",
            lambda dt=dt: atoms_mod.find_atoms(as_dtype(img(), dt), min_distance=5), expect=expect,
            names=("image",), shape=(None, 2))
        add(cat, "dpc.integrate_gradient", f"field of dtype {dt}",
            lambda dt=dt: dpc.integrate_gradient(as_dtype(np.round(100 * f()), dt)), expect=expect,
            names=("field",), shape=(6, 6))
        add(cat, "metrics.circular_correlation", f"angles of dtype {dt}",
            lambda dt=dt: metrics.circular_correlation(as_dtype(np.round(a) % 128, dt),
                                                       as_dtype(np.round(b) % 128, dt)),
            expect=expect, names=("angle_a", "angle_b"), shape=None)
        add(cat, "metrics.knn_outlier_score", f"codes of dtype {dt}",
            lambda dt=dt: metrics.knn_outlier_score(as_dtype(np.round(codes() * 20) % 100, dt)), expect=expect,
            names=("codes",), shape=(40,))
    for dt, expect in (("int64", "ok"), ("complex128", "error"), ("str (words)", "error"), ("object+None", "error")):
        add(cat, "TiltRegressor.fit", f"y of dtype {dt}",
            lambda dt=dt: _tilt_run(tilt_est(), tilt_data()[0], tilt_data()[0], as_dtype(np.round(tilt_data()[1] * 5)
                                                                                           % 100, dt)),
            expect=expect, names=("y",), shape=(16, 3))
    add(cat, "atoms.link_atoms", "frame column of strings",
        lambda: atoms_mod.link_atoms(atoms_table().astype({"frame": str}), search_range=3), names=("frame",))
    add(cat, "atoms.link_atoms", "row column of dtype object (numbers)",
        lambda: atoms_mod.link_atoms(atoms_table().astype({"row": object}), search_range=3), expect="either",
        names=("row",), shape=(48, 5))
