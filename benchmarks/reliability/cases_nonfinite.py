"""Non-finite values: NaN, +inf and -inf in X at fit and at transform/predict of every estimator, in y,
in the arguments of their other methods (Z, angle, shift, highpass, thickness, detectors), as
constructor parameters, and in the inputs and parameters of the functions of atoms, dpc, metrics and
datasets.
"""

import numpy as np

from .fixtures import SPECS, _tilt_run, a, ape_est, atom_image, atoms_table, b, codes, com_est, com_frames, d, f
from .fixtures import fitted_com, fitted_rvae, img, labels, orbit, pos, rot_images, rvae_est, tilt_data, tilt_est
from .fixtures import with_value
from .harness import add


def build():  # noqa: C901 - a long, flat list
    """Add the 'non-finite' cases to CASES, in order."""
    import pandas as pd

    from sklearn_rvae import dpc, metrics
    from sklearn_rvae import atoms as atoms_mod
    from sklearn_rvae import datasets as ds

    cat = "non-finite"
    for spec in SPECS.values():
        for bad in (np.nan, np.inf, -np.inf):
            label = {True: "NaN"}.get(bool(np.isnan(bad)), "+inf" if bad > 0 else "-inf")

            def fit_bad(spec=spec, bad=bad):
                X = spec.X()
                return spec.run(spec.make(), with_value(X, bad), X)

            def transform_bad(spec=spec, bad=bad):
                X = spec.X()
                return spec.run(spec.make(), X, with_value(X, bad))

            add(cat, f"{spec.name}.fit", f"one {label} pixel in X at fit", fit_bad)
            add(cat, f"{spec.name}.transform", f"one {label} pixel in X at transform/predict", transform_bad)
        add(cat, f"{spec.name}.fit", "X all NaN at fit",
            lambda spec=spec: spec.run(spec.make(), np.full(np.shape(spec.X()), np.nan), spec.X()))
    for bad in (np.nan, np.inf):
        add(cat, "TiltRegressor.fit", f"y with a {bad}", lambda bad=bad: _tilt_run(
            tilt_est(), tilt_data()[0], tilt_data()[0], with_value(tilt_data()[1], bad, 4)), names=("y",))
    add(cat, "TiltRegressor.predict_map", "image with NaN",
        lambda: tilt_est().fit(*tilt_data()).predict_map(with_value(atom_image(), np.nan, 50)), names=("image",))

    add(cat, "RotationInvariantVAE.inverse_transform", "Z with NaN",
        lambda: fitted_rvae().inverse_transform(with_value(np.zeros((3, 2)), np.nan, 1)), names=("Z",))
    add(cat, "RotationInvariantVAE.inverse_transform", "angle=NaN",
        lambda: fitted_rvae().inverse_transform(np.zeros((3, 2)), angle=np.nan), names=("angle",))
    add(cat, "RotationInvariantVAE.inverse_transform", "shift=[inf, 0]",
        lambda: fitted_rvae().inverse_transform(np.zeros((3, 2)), shift=[np.inf, 0.0]), names=("shift",))
    add(cat, "RotationInvariantVAE.score_samples", "X with NaN",
        lambda: fitted_rvae().score_samples(with_value(rot_images(), np.nan)))
    add(cat, "RotationInvariantVAE.transform_pose", "X with inf",
        lambda: fitted_rvae().transform_pose(with_value(rot_images(), np.inf)))
    add(cat, "RotationInvariantVAE.inverse_transform", "Z huge (1e300)",
        lambda: fitted_rvae().inverse_transform(np.full((3, 2), 1e300)), expect="either", names=("Z",),
        shape=(3, 64))

    add(cat, "COMTransformer.phase", "highpass=NaN", lambda: fitted_com().phase(com_frames(), highpass=np.nan),
        names=("highpass",))
    add(cat, "COMTransformer.field", "thickness=NaN", lambda: fitted_com(mrad_per_px=0.5, energy=200e3).field(
        com_frames(), thickness=np.nan), names=("thickness",))
    add(cat, "COMTransformer.virtual_images", "detectors={'BF': (0, NaN)}",
        lambda: fitted_com().virtual_images(com_frames(), detectors={"BF": (0.0, np.nan)}),
        names=("detectors", "BF"))

    # constructor parameters set to NaN / inf
    nonfinite_params = [
        (SPECS["COMTransformer"], "threshold"), (SPECS["COMTransformer"], "rotation_deg"),
        (SPECS["COMTransformer"], "mrad_per_px"), (SPECS["COMTransformer"], "scan_step"),
        (SPECS["COMTransformer"], "energy"), (SPECS["COMTransformer"], "mask"),
        (SPECS["DiffractionPreprocessor"], "power"), (SPECS["DiffractionPreprocessor"], "blur"),
        (SPECS["AtomPatchExtractor"], "min_distance"), (SPECS["AtomPatchExtractor"], "threshold"),
        (SPECS["RotationInvariantVAE"], "noise_scale"), (SPECS["RotationInvariantVAE"], "beta"),
        (SPECS["RotationInvariantVAE"], "angle_prior"), (SPECS["RotationInvariantVAE"], "translation_prior"),
        (SPECS["RotationInvariantVAE"], "lr"),
        (SPECS["TiltRegressor"], "scan_jitter"), (SPECS["TiltRegressor"], "lr"),
        (SPECS["TiltRegressor"], "pixel_size"),
    ]
    for spec, param in nonfinite_params:
        for bad in (np.nan, np.inf):
            add(cat, spec.name, f"{param}={bad}",
                lambda spec=spec, param=param, bad=bad: spec.run(spec.make(**{param: bad}), spec.X(), spec.X()),
                names=(param,))
    add(cat, "COMTransformer", "center=(NaN, 3.5)", lambda: SPECS["COMTransformer"].run(
        com_est(center=(np.nan, 3.5)), com_frames(), com_frames()), names=("center",))
    add(cat, "COMTransformer", "mask=(1, inf) annulus (documented: inf outer radius)", lambda: SPECS[
        "COMTransformer"].run(com_est(mask=(1.0, np.inf)), com_frames(), com_frames()), expect="either",
        names=("mask",), shape=(16, 2))
    add(cat, "RotationInvariantVAE", "capacity=(NaN, 1, 1)", lambda: SPECS["RotationInvariantVAE"].run(
        rvae_est(capacity=(np.nan, 1, 1.0)), rot_images(), rot_images()), names=("capacity",))
    add(cat, "RotationInvariantVAE", "validation_fraction=NaN (early_stopping)", lambda: SPECS[
        "RotationInvariantVAE"].run(rvae_est(early_stopping=True, validation_fraction=np.nan), rot_images(),
                                    rot_images()), names=("validation_fraction",))
    add(cat, "TiltRegressor", "counts_range=(NaN, 100)", lambda: _tilt_run(
        tilt_est(augment=("poisson",), counts_range=(np.nan, 100.0)), *[tilt_data()[0]] * 2),
        names=("counts_range",))
    add(cat, "TiltRegressor", "validation_fraction=inf (early_stopping)", lambda: _tilt_run(
        tilt_est(early_stopping=True, validation_fraction=np.inf), *[tilt_data()[0]] * 2),
        names=("validation_fraction",))

    # functions
    for arg, bad in (("min_distance", np.nan), ("min_distance", np.inf), ("threshold", np.nan),
                     ("threshold", np.inf), ("exclude_border", np.nan), ("exclude_border", np.inf)):
        kw = {"min_distance": 5, arg: bad}
        add(cat, "atoms.find_atoms", f"{arg}={bad}", lambda kw=kw: atoms_mod.find_atoms(img(), **kw), names=(arg,),
            expect="either" if (arg, bad) == ("threshold", np.inf) else "error")
    add(cat, "atoms.find_atoms", "image with NaN", lambda: atoms_mod.find_atoms(with_value(img(), np.nan, 100),
                                                                                 min_distance=5), names=("image",))
    add(cat, "atoms.refine_positions", "positions with NaN", lambda: atoms_mod.refine_positions(
        img(), [[4.0, 4.0], [np.nan, 12.0]], 5), names=("positions",))
    add(cat, "atoms.cut_patches", "positions with inf", lambda: atoms_mod.cut_patches(
        img(), [[4.0, np.inf]], 9), names=("positions",))
    add(cat, "atoms.link_atoms", "search_range=NaN", lambda: atoms_mod.link_atoms(atoms_table(), search_range=np.nan),
        names=("search_range",))
    add(cat, "atoms.link_atoms", "a NaN row position",
        lambda: atoms_mod.link_atoms(atoms_table().assign(row=lambda d: d.row.where(d.index != 3)), search_range=3),
        names=("row", "atoms"))
    add(cat, "atoms.link_atoms", "drift with inf",
        lambda: atoms_mod.link_atoms(atoms_table(), search_range=3, drift=[[0, 0], [np.inf, 0], [0, 0]]),
        names=("drift",))
    add(cat, "AtomPatchExtractor.transform_at", "atoms with NaN row", lambda: ape_est().fit(img()).transform_at(
        img(), pd.DataFrame({"row": [10.0, np.nan], "col": [10.0, 12.0]})), names=("atoms", "row"))

    add(cat, "dpc.divergence", "field with NaN", lambda: dpc.divergence(with_value(f(), np.nan)), names=("field",))
    add(cat, "dpc.divergence", "spacing=NaN", lambda: dpc.divergence(f(), spacing=np.nan), names=("spacing",))
    add(cat, "dpc.divergence", "spacing=inf", lambda: dpc.divergence(f(), spacing=np.inf), names=("spacing",))
    add(cat, "dpc.curl", "spacing=NaN", lambda: dpc.curl(f(), spacing=np.nan), names=("spacing",))
    add(cat, "dpc.curl", "field with -inf", lambda: dpc.curl(with_value(f(), -np.inf)), names=("field",))
    add(cat, "dpc.apply_rotation", "rotation_deg=NaN", lambda: dpc.apply_rotation(f(), np.nan, False),
        names=("rotation_deg",))
    add(cat, "dpc.apply_rotation", "vectors with NaN", lambda: dpc.apply_rotation(with_value(f(), np.nan), 10.0,
                                                                                   False), names=("vectors",))
    add(cat, "dpc.rotation_matrix", "rotation_deg=inf", lambda: dpc.rotation_matrix(np.inf, False),
        names=("rotation_deg",))
    add(cat, "dpc.fit_plane", "values with NaN", lambda: dpc.fit_plane(with_value(f(), np.nan)), names=("values",))
    add(cat, "dpc.evaluate_plane", "coef with NaN", lambda: dpc.evaluate_plane(np.full((2, 3), np.nan), (4, 4)),
        names=("coef",))
    add(cat, "dpc.fit_rotation", "field with inf", lambda: dpc.fit_rotation(with_value(f(), np.inf)),
        names=("field",))
    add(cat, "dpc.fit_rotation", "rotation_deg=NaN", lambda: dpc.fit_rotation(f(), rotation_deg=np.nan),
        names=("rotation_deg",))
    add(cat, "dpc.fit_rotation", "column_quantile=NaN", lambda: dpc.fit_rotation(f(), column_quantile=np.nan),
        names=("column_quantile",))
    add(cat, "dpc.integrate_gradient", "field with NaN", lambda: dpc.integrate_gradient(with_value(f(), np.nan)),
        names=("field",))
    add(cat, "dpc.integrate_gradient", "spacing=inf", lambda: dpc.integrate_gradient(f(), spacing=np.inf),
        names=("spacing",))
    add(cat, "dpc.integrate_gradient", "highpass=NaN", lambda: dpc.integrate_gradient(f(), highpass=np.nan),
        names=("highpass",))
    add(cat, "dpc.electron_wavelength", "energy=NaN", lambda: dpc.electron_wavelength(np.nan), names=("energy",))
    add(cat, "dpc.electron_wavelength", "energy=inf", lambda: dpc.electron_wavelength(np.inf), names=("energy",))
    add(cat, "dpc.interaction_voltage", "energy=NaN", lambda: dpc.interaction_voltage(np.nan), names=("energy",))
    add(cat, "dpc.direction_colors", "field with NaN", lambda: dpc.direction_colors(with_value(f(), np.nan)),
        names=("field",))
    add(cat, "dpc.direction_colors", "max_magnitude=NaN", lambda: dpc.direction_colors(f(), max_magnitude=np.nan),
        names=("max_magnitude",))

    add(cat, "metrics.circular_correlation", "angle_a with NaN",
        lambda: metrics.circular_correlation(with_value(a, np.nan, 2), b), names=("angle_a",))
    add(cat, "metrics.circular_correlation", "angle_b with inf",
        lambda: metrics.circular_correlation(a, with_value(b, np.inf, 2)), names=("angle_b",))
    add(cat, "metrics.angle_residuals_by_class", "angle_pred with NaN",
        lambda: metrics.angle_residuals_by_class(with_value(a, np.nan, 2), b, labels), names=("angle_pred",))
    add(cat, "metrics.angle_residuals_by_class", "period=NaN",
        lambda: metrics.angle_residuals_by_class(a, b, labels, period=np.nan), names=("period",))
    add(cat, "metrics.angle_residuals_by_class", "period=inf",
        lambda: metrics.angle_residuals_by_class(a, b, labels, period=np.inf), names=("period",))
    add(cat, "metrics.angle_error_by_class", "angle_true with inf",
        lambda: metrics.angle_error_by_class(a, with_value(b, np.inf, 2), labels), names=("angle_true",))
    add(cat, "metrics.symmetry_equivalence_spread", "codes with NaN",
        lambda: metrics.symmetry_equivalence_spread(with_value(codes(), np.nan), orbit), names=("codes",))
    add(cat, "metrics.orbit_angle_error", "angle_deg with NaN",
        lambda: metrics.orbit_angle_error(with_value(np.arange(40.0), np.nan, 2), orbit, np.arange(40.0) * 3),
        names=("angle_deg",))
    add(cat, "metrics.orbit_angle_error", "rotation_deg with inf",
        lambda: metrics.orbit_angle_error(np.arange(40.0), orbit, with_value(np.arange(40.0), np.inf, 2)),
        names=("rotation_deg",))
    add(cat, "metrics.mahalanobis_outlier_score", "codes with NaN",
        lambda: metrics.mahalanobis_outlier_score(with_value(codes(), np.nan)), names=("codes",))
    add(cat, "metrics.mahalanobis_outlier_score", "codes with inf (robust=False)",
        lambda: metrics.mahalanobis_outlier_score(with_value(codes(), np.inf), robust=False), names=("codes",))
    add(cat, "metrics.knn_outlier_score", "codes with NaN",
        lambda: metrics.knn_outlier_score(with_value(codes(), np.nan)), names=("codes",))
    add(cat, "metrics.lattice_site_mahalanobis_score", "codes with NaN",
        lambda: metrics.lattice_site_mahalanobis_score(with_value(codes(len(pos)), np.nan), pos, 2 * np.eye(2),
                                                       n_neighbors=4), names=("codes",))
    add(cat, "metrics.lattice_site_mahalanobis_score", "lattice with NaN",
        lambda: metrics.lattice_site_mahalanobis_score(codes(len(pos)), pos, [[2.0, np.nan], [0, 2.0]],
                                                       n_neighbors=4), names=("lattice",))
    add(cat, "metrics.defect_detection_auc", "scores with NaN",
        lambda: metrics.defect_detection_auc(with_value(codes(40, 1).ravel(), np.nan), d), names=("scores",))
    add(cat, "metrics.defect_detection_auc", "distance with NaN",
        lambda: metrics.defect_detection_auc(codes(40, 1).ravel(), with_value(d, np.nan)), names=("distance",))
    add(cat, "metrics.defect_detection_auc", "radius=NaN",
        lambda: metrics.defect_detection_auc(codes(40, 1).ravel(), d, radius=np.nan), names=("radius",))

    for fn, kw, arg in [
        (ds.make_rotated_digits, {"max_angle": np.nan}, "max_angle"),
        (ds.make_rotated_digits, {"max_angle": np.inf}, "max_angle"),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "max_angle": np.nan}, "max_angle"),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "max_shift": np.inf}, "max_shift"),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "noise": np.nan}, "noise"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "pixel_size": np.nan}, "pixel_size"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "peak_counts": np.nan},
         "peak_counts"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "peak_counts": np.inf},
         "peak_counts"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "probe_fwhm": np.nan}, "probe_fwhm"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "background": np.inf}, "background"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "scan_jitter": np.nan},
         "scan_jitter"),
        (ds.make_stem_image, {"size": 48, "dopants": {"Si": 1}, "n_vacancies": 0, "rotation": np.nan}, "rotation"),
        (ds.make_stem_movie, {"n_frames": 2, "size": 48, "dopants": {"Si": 1}, "n_vacancies": 0,
                              "drift": (np.nan, 0.0)}, "drift"),
        (ds.make_stem_movie, {"n_frames": 2, "size": 48, "dopants": {"Si": 1}, "n_vacancies": 0,
                              "displacement": np.inf}, "displacement"),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "tilt_range": (np.nan, 5.0)}, "tilt_range"),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "sigma": np.inf}, "sigma"),
    ]:
        add(cat, f"datasets.{fn.__name__}", f"{arg}={kw[arg]}", lambda fn=fn, kw=kw: fn(**kw), names=(arg,))
