"""Wrong and edge shapes: empty X, no features, 1-D and too many dimensions, single samples, non-square
frames, feature counts that differ between fit and transform, mismatched lengths of paired
arguments, lists, DataFrames and sparse matrices, for every estimator and for the functions of
atoms, dpc and metrics.
"""

import numpy as np

from .fixtures import R, SPECS, T, X16, Y, a, ape_est, atom_image, atoms_table, b, codes, com_est, com_frames, d, dp_est
from .fixtures import f, fitted_com, fitted_rvae, img, labels, orbit, pos, rot_images, rvae_est, tilt_est, with_value
from .harness import add


def build():  # noqa: C901 - a long, flat list
    """Add the 'shapes' cases to CASES, in order."""
    import pandas as pd

    from sklearn_rvae import dpc, metrics
    from sklearn_rvae import atoms as atoms_mod

    cat = "shapes"
    com = SPECS["COMTransformer"]
    for desc, X, expect, shape in [
        ("X empty (0, 64)", lambda: np.empty((0, 64)), "error", None),
        ("X with 0 features (16, 0)", lambda: np.empty((16, 0)), "error", None),
        ("X 1-D (64,)", lambda: X16()[0], "error", None),
        ("X 5-D (1, 4, 4, 8, 8)", lambda: X16().reshape(1, 4, 4, 8, 8), "error", None),
        ("X 3-D stack (16, 8, 8)", lambda: X16().reshape(16, 8, 8), "ok", (16, 2)),
        ("X 4-D scan (4, 4, 8, 8)", lambda: X16().reshape(4, 4, 8, 8), "ok", (16, 2)),
        ("X list of lists", lambda: X16().tolist(), "ok", (16, 2)),
        ("X pandas DataFrame", lambda: pd.DataFrame(X16()), "ok", (16, 2)),
        ("X scipy.sparse csr", lambda: __import__("scipy.sparse").sparse.csr_matrix(X16()), "either", (16, 2)),
        ("X non-square frames (16, 60) without detector_shape", lambda: X16()[:, :60], "error", None),
        ("X with 9 frames for scan_shape=(4, 4)", lambda: X16()[:9], "error", None),
    ]:
        add(cat, "COMTransformer.fit", desc, lambda X=X: com.run(com_est(), X(), X()), expect=expect, shape=shape,
            names=("X", "scan_shape"))
    add(cat, "COMTransformer.fit", "a single frame (1, 64) without scan_shape",
        lambda: com_est(scan_shape=None).fit(X16()[:1]).transform(X16()[:1]), names=("X",))
    add(cat, "COMTransformer.fit", "scan_shape=(1, 16): one scan row", lambda: com.run(
        com_est(scan_shape=(1, 16)), X16(), X16()), expect="either", shape=(16, 2), names=("scan_shape",))
    add(cat, "COMTransformer.fit", "detector_shape=(4, 16) on 8x8 frames of a 3-D X",
        lambda: com.run(com_est(detector_shape=(4, 16)), X16().reshape(16, 8, 8), X16().reshape(16, 8, 8)),
        names=("detector_shape",))
    add(cat, "COMTransformer.transform", "X with 49 features after fit on 64",
        lambda: com_est().fit(X16()).transform(com_frames(k=7)), names=("X", "features"))
    add(cat, "COMTransformer.transform", "fewer positions (8) than the fitted scan (descan on)",
        lambda: com_est().fit(X16()).transform(X16()[:8]), names=("X", "scan_shape", "scan"))
    add(cat, "COMTransformer.com_map", "X without scan_shape fitted",
        lambda: com_est(scan_shape=None).fit(X16()).com_map(X16()), names=("scan_shape", "X"))

    dp = SPECS["DiffractionPreprocessor"]
    for desc, X, expect, shape, kw in [
        ("X empty (0, 64)", lambda: np.empty((0, 64)), "error", None, {}),
        ("X with 0 features (16, 0)", lambda: np.empty((16, 0)), "error", None, {}),
        ("X 1-D (64,)", lambda: X16()[0], "error", None, {}),
        ("X 3-D (16, 8, 8)", lambda: X16().reshape(16, 8, 8), "either", (16, 64), {}),
        ("a single pattern (1, 64)", lambda: X16()[:1], "ok", (1, 64), {}),
        ("a single pattern with subtract_mean=True", lambda: X16()[:1], "error", None, {"subtract_mean": True}),
        ("non-square (16, 60) without detector_shape", lambda: X16()[:, :60], "error", None, {}),
        ("detector_shape=(5, 5) for 64 features", lambda: X16(), "error", None, {"detector_shape": (5, 5)}),
        ("crop=9 larger than the 8x8 detector", lambda: X16(), "error", None, {"crop": 9}),
        ("binning=9 on an 8x8 detector", lambda: X16(), "error", None, {"binning": 9}),
        ("X pandas DataFrame", lambda: pd.DataFrame(X16()), "ok", (16, 64), {}),
        ("X scipy.sparse csr", lambda: __import__("scipy.sparse").sparse.csr_matrix(X16()), "either", (16, 64), {}),
    ]:
        names = ("X",) + tuple(kw)
        add(cat, "DiffractionPreprocessor.fit", desc, lambda X=X, kw=kw: dp.run(dp_est(**kw), X(), X()),
            expect=expect, shape=shape, names=names)
    add(cat, "DiffractionPreprocessor.transform", "X with 49 features after fit on 64",
        lambda: dp_est().fit(X16()).transform(com_frames(k=7)), names=("X", "features"))

    ape = SPECS["AtomPatchExtractor"]
    for desc, X, expect, shape in [
        ("X 1-D", lambda: img()[0], "error", None),
        ("X 4-D (1, 1, 40, 40)", lambda: img()[None, None], "error", None),
        ("X empty (0, 0)", lambda: np.empty((0, 0)), "error", None),
        ("X 2x2 image", lambda: img()[:2, :2], "error", None),
        ("X 8x8 image, smaller than window_size=9", lambda: img()[:8, :8], "error", None),  # names window_size
        ("X 3-D stack of 2 frames", lambda: np.stack([img(), img(seed=1)]), "ok", (None, 81)),
        ("X constant image (no atoms)", lambda: np.full((40, 40), 7.0), "either", (0, 81)),
        ("X list of lists", lambda: img().tolist(), "ok", (None, 81)),
    ]:
        add(cat, "AtomPatchExtractor.fit_transform", desc, lambda X=X: ape.run(ape_est(), X(), X()), expect=expect,
            shape=shape, names=("X", "window_size"))
    add(cat, "AtomPatchExtractor.transform_at", "atoms without a col column",
        lambda: ape_est().fit(img()).transform_at(img(), pd.DataFrame({"row": [10.0]})), names=("atoms", "col"))
    add(cat, "AtomPatchExtractor.transform_at", "frame 5 of a 1-frame X",
        lambda: ape_est().fit(img()).transform_at(img(), pd.DataFrame({"frame": [5], "row": [10.0], "col": [10.0]})),
        names=("atoms", "frame"))
    add(cat, "AtomPatchExtractor.transform_at", "atoms as an ndarray (n, 2)",
        lambda: ape_est().fit(img()).transform_at(img(), np.array([[10.0, 10.0]])), expect="either",
        names=("atoms",), shape=(1, 81))

    for desc, image, kw, expect, shape in [
        ("image 1-D", lambda: img()[0], {}, "error", None),
        ("image 3-D", lambda: img()[None], {}, "error", None),
        ("image (0, 0)", lambda: np.empty((0, 0)), {}, "error", None),
        ("image 2x2", lambda: img()[:2, :2], {}, "error", None),
        ("constant image", lambda: np.full((40, 40), 3.0), {}, "either", (0, 2)),
        ("all-zero image", lambda: np.zeros((40, 40)), {}, "either", (0, 2)),
        ("min_distance=40 not smaller than a 40x40 image", img, {"min_distance": 40}, "error", None),
        ("image list of lists", lambda: img().tolist(), {}, "ok", (None, 2)),
        ("image 3 x 400 (thin)", lambda: atom_image(400)[:3], {}, "either", (None, 2)),
    ]:
        kw = {"min_distance": 5, **kw}
        add(cat, "atoms.find_atoms", desc, lambda image=image, kw=kw: atoms_mod.find_atoms(image(), **kw),
            expect=expect, shape=shape, names=("image", "min_distance"))
    add(cat, "atoms.refine_positions", "positions of shape (2,)", lambda: atoms_mod.refine_positions(
        img(), [4.0, 4.0], 5), names=("positions",))
    add(cat, "atoms.refine_positions", "positions empty (0, 2)", lambda: atoms_mod.refine_positions(
        img(), np.empty((0, 2)), 5), expect="ok", names=("positions",), shape=(0, 2))
    add(cat, "atoms.cut_patches", "positions 1-D", lambda: atoms_mod.cut_patches(img(), [4.0, 4.0], 9),
        names=("positions",))
    add(cat, "atoms.cut_patches", "image 3-D", lambda: atoms_mod.cut_patches(img()[None], [[4.0, 4.0]], 9),
        names=("image",))
    add(cat, "atoms.link_atoms", "atoms without a frame column",
        lambda: atoms_mod.link_atoms(atoms_table().drop(columns="frame"), search_range=3), names=("frame", "atoms"))
    add(cat, "atoms.link_atoms", "atoms empty DataFrame with the columns",
        lambda: atoms_mod.link_atoms(atoms_table().iloc[:0], search_range=3), expect="either", names=("atoms",),
        shape=(0, 5))
    add(cat, "atoms.link_atoms", "drift of shape (2, 2) for 3 frames",
        lambda: atoms_mod.link_atoms(atoms_table(), search_range=3, drift=np.zeros((2, 2))), names=("drift",))
    add(cat, "atoms.class_changes", "atoms without an atom column",
        lambda: atoms_mod.class_changes(atoms_table()), names=("atom", "atoms"))
    add(cat, "atoms.class_changes", "column='missing'",
        lambda: atoms_mod.class_changes(atoms_mod.link_atoms(atoms_table(), search_range=3), column="missing"),
        names=("column", "missing"))

    rv = SPECS["RotationInvariantVAE"]
    for desc, X, kw, expect, shape in [
        ("X empty (0, 64)", lambda: np.empty((0, 64)), {}, "error", None),
        ("X 1-D", lambda: R()[0], {}, "error", None),
        ("X 3-D (24, 8, 8)", lambda: R().reshape(24, 8, 8), {}, "error", None),
        ("a single sample", lambda: R()[:1], {}, "error", None),
        ("two samples", lambda: R()[:2], {}, "ok", (2, 2)),
        ("non-square (24, 60) without image_shape", lambda: R()[:, :60], {}, "error", None),
        ("image_shape=(5, 5) for 64 features", R, {"image_shape": (5, 5)}, "error", None),
        ("image_shape=(4, 16) non-square", R, {"image_shape": (4, 16)}, "ok", (24, 2)),
        ("image_shape=(8, -1)", R, {"image_shape": (8, -1)}, "ok", (24, 2)),
        ("2x2 images", lambda: R()[:, :4], {}, "either", (24, 2)),
        ("1x1 images", lambda: R()[:, :1], {}, "either", (24, 2)),
        ("n_classes=30 > n_samples", R, {"n_classes": 30}, "error", None),
        ("batch_size larger than n_samples", R, {"batch_size": 1000}, "ok", (24, 2)),
        ("X pandas DataFrame", lambda: pd.DataFrame(R()), {}, "ok", (24, 2)),
    ]:
        add(cat, "RotationInvariantVAE.fit", desc, lambda X=X, kw=kw: rv.run(rvae_est(**kw), X(), X()),
            expect=expect, shape=shape, names=("X",) + tuple(kw))
    add(cat, "RotationInvariantVAE.transform", "X with 49 features after fit on 64",
        lambda: fitted_rvae().transform(rot_images(k=7)), names=("X", "features"))
    add(cat, "RotationInvariantVAE.inverse_transform", "Z with 3 columns for n_components=2",
        lambda: fitted_rvae().inverse_transform(np.zeros((3, 3))), names=("Z", "n_components"))
    add(cat, "RotationInvariantVAE.inverse_transform", "Z 1-D",
        lambda: fitted_rvae().inverse_transform(np.zeros(2)), expect="either", names=("Z",), shape=None)
    add(cat, "RotationInvariantVAE.inverse_transform", "angle of length 2 for 3 codes",
        lambda: fitted_rvae().inverse_transform(np.zeros((3, 2)), angle=[0.0, 1.0]), names=("angle",))
    add(cat, "RotationInvariantVAE.reconstruct", "X with 49 features", lambda: fitted_rvae().reconstruct(
        rot_images(k=7)), names=("X", "features"))
    add(cat, "RotationInvariantVAE.score", "X with NaN", lambda: fitted_rvae().score(with_value(R(), np.nan)))
    add(cat, "RotationInvariantVAE.predict_proba", "X with 49 features (n_classes=2)",
        lambda: rvae_est(n_classes=2).fit(R()).predict_proba(rot_images(k=7)), names=("X", "features"))
    add(cat, "RotationInvariantVAE.fit_predict", "n_classes=2, two samples", lambda: rvae_est(n_classes=2).fit_predict(
        R()[:2]), expect="either", shape=(2,), kind="iu")
    add(cat, "TiltRegressor.score", "y with NaN", lambda: tilt_est().fit(T(), Y()).score(T(), with_value(Y(), np.nan)),
        names=("y",))
    add(cat, "AtomPatchExtractor.locate", "X 1-D", lambda: ape_est().locate(img()[0]))
    add(cat, "COMTransformer.charge_density", "thickness=0", lambda: fitted_com(
        mrad_per_px=0.5, energy=200e3, scan_step=0.2).charge_density(X16(), thickness=0), names=("thickness",))
    add(cat, "COMTransformer.curl", "X of 9 frames for a 4x4 scan", lambda: fitted_com().curl(X16()[:9]),
        names=("X", "scan_shape"))
    add(cat, "COMTransformer.get_feature_names_out", "before fit",
        lambda: com_est().get_feature_names_out(), names=("COMTransformer", "fit"))
    add(cat, "RotationInvariantVAE.sample", "n_samples=0",
        lambda: fitted_rvae().sample(0), expect="either", names=("n_samples",), shape=(0, 64))
    add(cat, "RotationInvariantVAE.transform_pose", "return_posterior=True with a normal prior",
        lambda: fitted_rvae().transform_pose(R(), return_posterior=True), expect="either",
        names=("return_posterior", "angle_prior"))

    for desc, X, y, kw, expect, shape in [
        ("X empty (0, 64)", lambda: np.empty((0, 64)), lambda: np.empty((0, 3)), {}, "error", None),
        ("X 1-D", lambda: T()[0], Y, {}, "error", None),
        ("y of shape (16, 2): two outputs", T, lambda: Y()[:, :2], {}, "ok", (16, 2)),
        ("y of shape (16, 2) with zone_axis='110' (needs three tilts)", T, lambda: Y()[:, :2],
         {"zone_axis": "110"}, "error", None),
        ("y with 10 rows for 16 samples", T, lambda: Y()[:10], {}, "error", None),
        ("a single sample", lambda: T()[:1], lambda: Y()[:1], {}, "error", None),
        ("y 1-D: one output, 1-D predictions", T, lambda: Y()[:, 0], {}, "ok", (16,)),
        ("network_shape=(10, 10) larger than the patch", T, Y, {"network_shape": (10, 10)}, "error", None),
        ("network_shape=(5, 5): parity differs from 8", T, Y, {"network_shape": (5, 5)}, "error", None),
        ("image_shape=(4, 16) non-square", T, Y, {"image_shape": (4, 16)}, "either", (16, 3)),
    ]:
        add(cat, "TiltRegressor.fit", desc, lambda X=X, y=y, kw=kw: tilt_est(**kw).fit(X(), y()).predict(X()),
            expect=expect, shape=shape, names=("X", "y") + tuple(kw))
    add(cat, "TiltRegressor.predict", "X with 49 features after fit on 64",
        lambda: tilt_est().fit(T(), Y()).predict(T()[:, :49]), names=("X", "features"))
    add(cat, "TiltRegressor.predict_map", "image 1-D",
        lambda: tilt_est().fit(T(), Y()).predict_map(img()[0]), names=("image",))
    add(cat, "TiltRegressor.predict_map", "image 6x6, smaller than the patch",
        lambda: tilt_est().fit(T(), Y()).predict_map(img()[:6, :6]), names=("image",))
    add(cat, "TiltRegressor.predict_map", "centers of shape (3,)",
        lambda: tilt_est().fit(T(), Y()).predict_map(img(), centers=[10.0, 10.0, 3.0]), names=("centers",))
    add(cat, "TiltRegressor.predict_map", "a 40x40 image (grid)",
        lambda: tilt_est().fit(T(), Y()).predict_map(img()), expect="ok", names=("image",), shape=(9, 9, 3))

    for target, fn, desc, expect, names, shape in [
        ("dpc.divergence", lambda: dpc.divergence(np.zeros((6, 6, 3))), "field (6, 6, 3)", "error", ("field",), None),
        ("dpc.divergence", lambda: dpc.divergence(np.zeros((1, 1, 2))), "field (1, 1, 2)", "error", ("field",), None),
        ("dpc.divergence", lambda: dpc.divergence(np.zeros((6, 6))), "field 2-D", "error", ("field",), None),
        ("dpc.curl", lambda: dpc.curl(np.zeros((2, 6, 6, 2))), "field 4-D", "error", ("field",), None),
        ("dpc.curl", lambda: dpc.curl(np.zeros((2, 2, 2))), "field (2, 2, 2)", "ok", ("field",), (2, 2)),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(np.zeros((1, 5, 2))), "field (1, 5, 2)", "error",
         ("field",), None),
        ("dpc.fit_plane", lambda: dpc.fit_plane(np.zeros(6)), "values 1-D", "error", ("values",), None),
        ("dpc.fit_plane", lambda: dpc.fit_plane(f(), mask=np.ones((3, 3), bool)), "mask (3, 3) for a 6x6 scan",
         "error", ("mask",), None),
        ("dpc.fit_plane", lambda: dpc.fit_plane(f(), mask=np.zeros((6, 6), bool)), "mask all False", "error",
         ("mask",), None),
        ("dpc.evaluate_plane", lambda: dpc.evaluate_plane(np.zeros((2, 2)), (4, 4)), "coef (2, 2)", "error",
         ("coef",), None),
        ("dpc.evaluate_plane", lambda: dpc.evaluate_plane(np.zeros((2, 3)), (4, 4, 1)), "scan_shape of 3 entries",
         "error", ("scan_shape",), None),
        ("dpc.apply_rotation", lambda: dpc.apply_rotation(np.zeros(3), 10.0, False), "vectors (3,)", "error",
         ("vectors",), None),
        ("dpc.direction_colors", lambda: dpc.direction_colors(np.zeros((4, 4, 3))), "field (4, 4, 3)", "error",
         ("field",), None),
        ("dpc.direction_colors", lambda: dpc.direction_colors(np.zeros((0, 2))), "field (0, 2)", "either",
         ("field",), (0, 3)),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(np.zeros((6, 6))), "field 2-D", "error", ("field",), None),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(np.zeros((6, 6, 2))), "field all zero", "either", ("field",),
         None),
    ]:
        add(cat, target, desc, fn, expect=expect, names=names, shape=shape)

    for target, fn, desc, expect, names in [
        ("metrics.circular_correlation", lambda: metrics.circular_correlation(a, b[:10]), "lengths 20 and 10",
         "error", ("angle_a", "angle_b")),
        ("metrics.circular_correlation", lambda: metrics.circular_correlation([1.0], [2.0]), "length 1", "error",
         ("angle_a", "angle_b")),
        ("metrics.circular_correlation", lambda: metrics.circular_correlation([], []), "length 0", "error",
         ("angle_a", "angle_b")),
        ("metrics.circular_correlation", lambda: metrics.circular_correlation(np.full(5, 10.0), np.arange(5.0)),
         "angle_a constant (correlation undefined)", "error", ("angle_a",)),
        ("metrics.angle_residuals_by_class", lambda: metrics.angle_residuals_by_class(a, b, labels[:5]),
         "labels shorter", "error", ("labels",)),
        ("metrics.angle_error_by_class", lambda: metrics.angle_error_by_class([], [], []), "empty", "error",
         ("angle_pred",)),
        ("metrics.symmetry_equivalence_spread", lambda: metrics.symmetry_equivalence_spread(codes(), np.arange(40)),
         "every orbit a singleton", "error", ("orbit",)),
        ("metrics.symmetry_equivalence_spread", lambda: metrics.symmetry_equivalence_spread(codes(), orbit[:10]),
         "orbit shorter than codes", "error", ("orbit", "codes")),
        ("metrics.orbit_angle_error", lambda: metrics.orbit_angle_error(np.arange(40.0), np.arange(40),
                                                                        np.arange(40.0)),
         "every orbit a singleton (no pairs)", "error", ("orbit",)),
        ("metrics.orbit_angle_error", lambda: metrics.orbit_angle_error(np.arange(40.0), orbit[:8], np.arange(40.0)),
         "orbit shorter than angle_deg", "error", ("orbit", "angle_deg")),
        ("metrics.mahalanobis_outlier_score", lambda: metrics.mahalanobis_outlier_score(codes(1)), "a single code",
         "error", ("codes",)),
        ("metrics.mahalanobis_outlier_score", lambda: metrics.mahalanobis_outlier_score(np.empty((0, 2))),
         "no codes", "error", ("codes",)),
        ("metrics.knn_outlier_score", lambda: metrics.knn_outlier_score(codes(1)), "a single code", "error",
         ("codes", "n_neighbors")),
        ("metrics.knn_outlier_score", lambda: metrics.knn_outlier_score(np.zeros((2, 2, 2))), "codes 3-D",
         "error", ("codes",)),
        ("metrics.lattice_site_mahalanobis_score",
         lambda: metrics.lattice_site_mahalanobis_score(codes(len(pos)), pos[:, :1], 2 * np.eye(2)),
         "positions (n, 1)", "error", ("positions",)),
        ("metrics.lattice_site_mahalanobis_score",
         lambda: metrics.lattice_site_mahalanobis_score(codes(len(pos)), pos, [[1.0, 0.0], [2.0, 0.0]]),
         "singular lattice", "error", ("lattice",)),
        ("metrics.defect_detection_auc", lambda: metrics.defect_detection_auc(codes(10, 1).ravel(), d),
         "scores shorter than distance", "error", ("scores", "distance")),
        ("metrics.defect_detection_auc", lambda: metrics.defect_detection_auc([], []), "empty", "error",
         ("scores", "distance")),
    ]:
        add(cat, target, desc, fn, expect=expect, names=names)
