"""Scale: X (or the image, field, codes, angles, Z) multiplied by factors from 1e-300 to 1e300, and
float32 near its overflow, must give finite output or a clear error, and the same output where the
estimator documents scale invariance.
"""

import numpy as np

from .fixtures import R, SPECS, X16, a, b, codes, dp_est, f, fitted_rvae, img
from .harness import add, close_pair


def build():
    """Add the 'scale' cases to CASES, in order."""
    from sklearn_rvae import dpc, metrics
    from sklearn_rvae import atoms as atoms_mod

    cat = "scale"
    for spec in SPECS.values():
        for factor in (1e6, 1e-6):
            add(cat, spec.name, f"X x {factor:g}: finite output",
                lambda spec=spec, factor=factor: spec.run(spec.make(), spec.X() * factor, spec.X() * factor),
                expect="ok", shape=spec.shape(spec.X()))
        for factor in (1e150, 1e-300):
            add(cat, spec.name, f"X x {factor:g}: finite output or a clear error",
                lambda spec=spec, factor=factor: spec.run(spec.make(), spec.X() * factor, spec.X() * factor),
                expect="either", shape=spec.shape(spec.X()))
        add(cat, spec.name, "float32 X x 1e36 (float32 overflow inside?)",
            lambda spec=spec: spec.run(spec.make(), (spec.X() * 1e36).astype(np.float32),
                                       (spec.X() * 1e36).astype(np.float32)),
            expect="either", shape=spec.shape(spec.X()))
    for name, spec in (("COMTransformer", SPECS["COMTransformer"]), ("DiffractionPreprocessor",
                                                                     SPECS["DiffractionPreprocessor"]),
                       ("RotationInvariantVAE", SPECS["RotationInvariantVAE"])):
        for factor in (1e6, 1e-6):
            add(cat, name, f"X x {factor:g} gives the same output as X (documented scale invariance)",
                lambda spec=spec, factor=factor: (spec.run(spec.make(), spec.X() * factor, spec.X() * factor),
                                                  spec.run(spec.make(), spec.X(), spec.X())),
                expect="ok", check=close_pair(1e-3, 1e-3))
    for factor in (1e150, 1e300):
        add(cat, "DiffractionPreprocessor", f"scaling='power', power=4, X x {factor:g}: finite or a clear error",
            lambda factor=factor: SPECS["DiffractionPreprocessor"].run(
                dp_est(scaling="power", power=4.0), X16() * factor, X16() * factor),
            expect="either", shape=(16, 64))
    for factor in (1e6, 1e-6):
        add(cat, "atoms.find_atoms", f"image x {factor:g}: finite, same number of columns",
            lambda factor=factor: (len(atoms_mod.find_atoms(img() * factor, min_distance=5)),
                                   len(atoms_mod.find_atoms(img(), min_distance=5))), expect="ok",
            check=lambda r: None if r[0] == r[1] else f"found {r[0]} columns, {r[1]} unscaled")
        add(cat, "dpc.integrate_gradient", f"field x {factor:g}: finite",
            lambda factor=factor: dpc.integrate_gradient(f() * factor), expect="ok", shape=(6, 6))
        add(cat, "dpc.fit_rotation", f"field x {factor:g}: finite",
            lambda factor=factor: dpc.fit_rotation(f() * factor), expect="ok", kind=None)
        add(cat, "metrics.knn_outlier_score", f"codes x {factor:g}: finite",
            lambda factor=factor: metrics.knn_outlier_score(codes() * factor), expect="ok", shape=(40,))
        add(cat, "metrics.mahalanobis_outlier_score", f"codes x {factor:g}: finite",
            lambda factor=factor: metrics.mahalanobis_outlier_score(codes() * factor), expect="ok", shape=(40,))
    add(cat, "metrics.mahalanobis_outlier_score", "codes x 1e200: finite or clear error",
        lambda: metrics.mahalanobis_outlier_score(codes() * 1e200, robust=False), expect="either", shape=(40,),
        names=("codes",))
    add(cat, "dpc.integrate_gradient", "field x 1e300: finite or clear error",
        lambda: dpc.integrate_gradient(f() * 1e300), expect="either", shape=(6, 6), names=("field",))
    add(cat, "dpc.direction_colors", "field x 1e300: finite or clear error",
        lambda: dpc.direction_colors(f() * 1e300), expect="either", shape=(6, 6, 3), names=("field",))
    add(cat, "metrics.circular_correlation", "angles x 1e20 (huge angles): finite or clear error",
        lambda: metrics.circular_correlation(a * 1e20, b * 1e20), expect="either", names=("angle_a",), kind=None)
    add(cat, "RotationInvariantVAE.inverse_transform", "Z x 1e6: finite",
        lambda: fitted_rvae().inverse_transform(fitted_rvae().transform(R()) * 1e6), expect="either", shape=(24, 64),
        names=("Z",))
