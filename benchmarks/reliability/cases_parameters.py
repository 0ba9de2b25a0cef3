"""Parameters at and beyond their bounds: zero, negative, huge, fractional, of the wrong type or an
unknown string, for every constructor parameter of every estimator (a table per estimator), for the
arguments of their methods, and for the functions of atoms, dpc, metrics and datasets.
"""

import math

import numpy as np

from .fixtures import R, SPECS, T, X16, Y, _short_repr, _tilt_run, a, atoms_table, b, codes, d, dp_est, f, fitted_com
from .fixtures import fitted_rvae, img, labels, movie, pos, rv_spec, rvae_est, stem, tilt_est
from .harness import E, EI, O, _pkg, add, check_result


def build():  # noqa: C901 - a long, flat list
    """Add the 'parameters' cases to CASES, in order."""
    from sklearn_rvae import dpc, metrics
    from sklearn_rvae import atoms as atoms_mod
    from sklearn_rvae import datasets as ds

    cat = "parameters"
    HUGE = 10**9

    def est_params(spec, table, extra_names=()):
        for param, values in table.items():
            for value, expect, *override in values:
                shape = (override[0] if override else spec.shape(spec.X())) if expect != "error" else None
                names = (param,) + tuple(extra_names) + (("X",) if expect == "either" else ())
                names += EXTRA_NAMES.get((spec.name, param), ())
                add(cat, spec.name, f"{param}={_short_repr(value)}",
                    lambda spec=spec, param=param, value=value: spec.run(spec.make(**{param: value}), spec.X(),
                                                                         spec.X()),
                    expect=expect, names=names, shape=shape)

    # A mismatch between a parameter and the data: naming either side is clear.
    EXTRA_NAMES = {}
    est_params(SPECS["COMTransformer"], {
        "detector_shape": [((0, 0), E), ((-2, 8), E), ("abc", E), ((8.5, 8), E), ((8, -1), O)],
        "scan_shape": [((0, 4), E), ((-4, -4), E), ("ab", E), ((4, 4, 1), E), ((2, 8), O)],
        "mask": [(0, E), (-1.0, E), (1e9, EI), ("abc", E), ((5.0, 2.0), E), (np.ones((3, 3)), E),
                 (-np.ones((8, 8)), E), (np.ones((8, 8), bool), O)],
        "threshold": [(-1.0, O), (1e300, EI), ("abc", E)],
        "center": [((100.0, 100.0), EI), ((4.0,), E), ("ab", E)],
        "rotation_deg": [(1e300, EI), ("abc", E), (720.0, O)],
        "flip": [("yes", E), (2, E)],
        "descan": [("no", E), (None, E)],
        "mrad_per_px": [(0, E), (-1.0, E), ("a", E)],
        "scan_step": [(0, E), (-1.0, E)],
        "energy": [(0, E), (-1.0, E), (1e300, EI)],
        "chunk_size": [(0, E), (-1, E), (1, O), (HUGE, O), (2.5, E), ("big", E)],
        "device": [("gpu", E), ("cuda:7", E), (3, E)],
        "verbose": [(-1, EI), ("a", E)],
    })
    est_params(SPECS["DiffractionPreprocessor"], {
        "detector_shape": [((0, 0), E), ((7, -1), E), ("x", E)],
        "center": [("left", E), (None, E), ("each", O), ("none", O)],
        "crop": [(0, E), (-1, E), (1, O, (16, 1)), (HUGE, E), (2.5, E)],
        "binning": [(0, E), (-1, E), (2.5, E), (2, O, (16, 16))],
        "scaling": [("sqrt", E), ("power", O)],
        "power": [(0, E), (-1.0, E), (1e6, EI)],
        "blur": [(-1.0, E), (1e6, EI), (1e9, EI), ("a", E)],
        "normalize": [("l2", E), ("std", O), ("sum", O)],
        "subtract_mean": [("yes", E), (True, O)],
    })
    ape_spec = SPECS["AtomPatchExtractor"]
    est_params(ape_spec, {
        "window_size": [(0, E), (2, E), (-1, E), (9.5, E), ("9", E), (HUGE, E), (3, O, (None, 9))],
        "min_distance": [(0, E), (-1.0, E), (1e6, E), ("5", E), (True, E)],
        "threshold": [("a", E), (1e300, EI), (-1e300, EI)],
        "invert": [("yes", E), (True, EI)],
        "refine": [(2, E), (False, O)],
        "exclude_border": [("none", E), (-1.0, E), (False, O), (4.0, O)],
        "mask": [("circle", E), ("disk", O)],
        "standardize": [(None, E), (True, O)],
    })
    est_params(SPECS["RotationInvariantVAE"], {
        "n_components": [(0, E), (-1, E), (2.5, E), ("2", E), (200, O, (24, 200))],
        "image_shape": [((0, 0), E), ((-1, -1), E), ((8, 8, 1), E), ("8x8", E)],
        "translation": [("yes", E), (False, O)],
        "decoder": [("mlp", E), ("spatial", O)],
        "hidden_layer_sizes": [((), E), ((0,), E), ((-5,), E), ((8.5,), E), ("big", E)],
        "activation": [("sigmoid", E), ("relu", O)],
        "likelihood": [("poisson", E), ("bernoulli", E)],  # X is 0..100: outside [0, 1]
        "noise_scale": [(0, E), (-1.0, E), (1e-30, EI), (1e30, EI)],
        "beta": [(-1.0, E), (0.0, O), (1e300, EI)],
        "capacity": [((1.0, 2), E), ((-1.0, 1, 1.0), E), ((1.0, 0, 1.0), E), ((1.0, 1, 0.0), E), ((5.0, 2, 1.0), O)],
        "angle_prior": [(0, E), (-1.0, E), ("flat", E), ("uniform", O), (1e300, EI)],
        "rotation_symmetry": [(0, E), (-1, E), (1000, EI), (2.5, E)],
        "n_rotation_bins": [(1, E), (0, E), (4, O)],
        "translation_prior": [(0, E), (-1.0, E), (1e300, EI)],
        "n_classes": [(1, E), (0, E), (3, O), (2.5, E)],
        "lr": [(0, E), (-1.0, E)],
        "batch_size": [(0, E), (-1, E), (HUGE, O), (1, O)],
        "max_epochs": [(0, E), (-1, E), (2.5, E)],
        "early_stopping": [("yes", E), (True, O)],
        "n_iter_no_change": [(0, E)],
        "n_init": [(0, E), (2, O)],
        "device": [("gpu", E), ("cuda:7", E)],
        "callbacks": [("abc", E), ([1], E)],
        "random_state": [("a", E), (-1, E), (np.random.RandomState(0), O)],
        "verbose": [(-1, EI), ("a", E)],
    })
    dp_spec = SPECS["DiffractionPreprocessor"]
    for value, expect in ((1e6, EI), (0.0, E), (math.nan, E), (1e-300, EI)):  # power only acts with scaling="power"
        add(cat, dp_spec.name, f"scaling='power', power={value}",
            lambda value=value: dp_spec.run(dp_est(scaling="power", power=value), X16(), X16()), expect=expect,
            names=("power", "X"), shape=(16, 64) if expect != E else None)
    for value, expect in ((0.0, E), (1.0, E), (-0.1, E), (0.01, EI)):
        add(cat, rv_spec.name, f"validation_fraction={value} (early_stopping=True)",
            lambda value=value: rv_spec.run(rvae_est(early_stopping=True, validation_fraction=value), R(), R()),
            expect=expect, names=("validation_fraction",), shape=(24, 2) if expect != E else None)
    add(cat, rv_spec.name, "likelihood='bernoulli' with X in [0, 1]",
        lambda: rv_spec.run(rvae_est(likelihood="bernoulli"), R() / 100, R() / 100), expect="ok", shape=(24, 2),
        names=("likelihood",))
    add(cat, "RotationInvariantVAE.transform", "likelihood='bernoulli', transform X outside [0, 1]",
        lambda: rvae_est(likelihood="bernoulli").fit(R() / 100).transform(R()), expect="error",
        names=("X", "likelihood"))
    for desc, call, names, expect, shape in [
        ("sample(n_samples=-1)", lambda m: m.sample(-1), ("n_samples",), E, None),
        ("sample(n_samples=2.5)", lambda m: m.sample(2.5), ("n_samples",), E, None),
        ("sample(n_samples=True)", lambda m: m.sample(True), ("n_samples",), EI, (1, 64)),
        ("sample(random_state=-1)", lambda m: m.sample(2, random_state=-1), ("random_state",), E, None),
        ("sample(random_state='a')", lambda m: m.sample(2, random_state="a"), ("random_state",), E, None),
        ("sample(upright='yes')", lambda m: m.sample(2, upright="yes"), ("upright",), E, None),
        ("score_samples(n_draws=0)", lambda m: m.score_samples(R(), n_draws=0), ("n_draws",), E, None),
        ("score_samples(n_draws=-1)", lambda m: m.score_samples(R(), n_draws=-1), ("n_draws",), E, None),
        ("inverse_transform(angle='a')", lambda m: m.inverse_transform(np.zeros((2, 2)), angle="a"), ("angle",), E,
         None),
        ("transform_pose(return_posterior='yes')", lambda m: m.transform_pose(R(), return_posterior="yes"),
         ("return_posterior",), E, None),
        ("inverse_transform(angle=1e300)", lambda m: m.inverse_transform(np.zeros((2, 2)), angle=1e300), ("angle",),
         EI, (2, 64)),
    ]:
        add(cat, "RotationInvariantVAE." + desc.split("(")[0], desc, lambda call=call: call(fitted_rvae()),
            expect=expect, names=names, shape=shape)

    est_params(SPECS["TiltRegressor"], {
        "conv_layers": [((), E), ((0,), E), ((-4,), E), ((2.5,), E), (("pool", 4), E), ((4, "pool", "pool"), E),
                        ("a", E)],
        "network_shape": [((64, 64), E), ((7, 8), E), ("a", E)],
        "fc_units": [(0, E), (-1, E)],
        "augment": [("yes", E), (("rotate",), E), (("noise",), O), (True, O)],
        "counts_range": [((1.0,), E), ((-1.0, 10.0), E), ((100.0, 10.0), E), ("a", E)],
        "scan_jitter": [(-1.0, E)],
        "scan_correction": [("yes", E)],
        "zone_axis": [("111", E)],
        "pair_decision": [(_pkg().tilt.PairDecision(), E), ("yes", E), (True, E)],  # needs zone_axis="110"
        "lr": [(0, E), (-1.0, E)],
        "batch_size": [(0, E), (HUGE, O)],
        "max_epochs": [(0, E)],
        "n_iter_no_change": [(0, E)],
        "pixel_size": [(0, E), (-1.0, E)],
        "device": [("gpu", E)],
        "n_jobs": [("a", E), (0, EI)],
        "random_state": [("a", E)],
        "verbose": [("a", E)],
    })
    for kw, expect in [
        ({"n_local_templates": 2}, E), ({"n_neighbors": 2, "n_local_templates": 8}, E), ({"max_refinements": 0}, E),
        ({"row_gain": 9}, E), ({"n_local_templates": 21}, E), ({"n_local_templates": -1}, E), ({"row_gain": -1}, E),
        ({"n_neighbors": 0}, E), ({"flip_gamma": "yes"}, E), ({}, O), ({"n_local_templates": 0}, O),
    ]:
        add(cat, "TiltRegressor", f"zone_axis='110', pair_decision=PairDecision(**{kw})",
            lambda kw=kw: _tilt_run(tilt_est(zone_axis="110", pair_decision=_pkg().tilt.PairDecision(**kw)), T(), T()),
            expect=expect, names=tuple(kw) or ("X",), shape=(16, 3) if expect != E else None)
    add(cat, "TiltRegressor", "zone_axis='110', pair_decision='auto' (PairDecision())",
        lambda: _tilt_run(tilt_est(zone_axis="110", pair_decision="auto"), T(), T()), expect=O, shape=(16, 3))
    add(cat, "TiltRegressor", "zone_axis='110', scan_correction=True, pair_decision='network'",
        lambda: _tilt_run(tilt_est(zone_axis="110", scan_correction=True, scan_jitter=0.2, pair_decision="network"),
                          T(), T()), expect=O, shape=(16, 3))
    for value, expect in ((0.0, E), (1.0, E)):
        add(cat, "TiltRegressor", f"validation_fraction={value} (early_stopping=True)",
            lambda value=value: _tilt_run(tilt_est(early_stopping=True, validation_fraction=value), T(), T()),
            expect=expect, names=("validation_fraction",))
    for desc, kw, names in [
        ("predict_map(pixel_size=-1) with pixel_size set", {"pixel_size": -1.0}, ("pixel_size",)),
        ("predict_map(stride=0)", {"stride": 0}, ("stride",)),
        ("predict_map(stride=2.5)", {"stride": 2.5}, ("stride",)),
    ]:
        add(cat, "TiltRegressor.predict_map", desc,
            lambda kw=kw: tilt_est(pixel_size=0.25).fit(T(), Y()).predict_map(img(), **kw), names=names)
    for desc, kw, names in [
        ("phase(padding='reflect')", {"padding": "reflect"}, ("padding",)),
        ("phase(highpass=-1)", {"highpass": -1.0}, ("highpass",)),
        ("phase(highpass='a')", {"highpass": "a"}, ("highpass",)),
    ]:
        add(cat, "COMTransformer.phase", desc, lambda kw=kw: fitted_com().phase(X16(), **kw), names=names)
    add(cat, "COMTransformer.field", "field(thickness=-1)", lambda: fitted_com(mrad_per_px=0.5, energy=200e3).field(
        X16(), thickness=-1.0), names=("thickness",))
    add(cat, "COMTransformer.virtual_images", "detectors={'BF': (3, 1)} (inner > outer)",
        lambda: fitted_com().virtual_images(X16(), detectors={"BF": (3.0, 1.0)}), names=("detectors", "BF"))
    add(cat, "COMTransformer.virtual_images", "detectors={'BF': 2} (not a pair)",
        lambda: fitted_com().virtual_images(X16(), detectors={"BF": 2.0}), names=("detectors", "BF"))

    for desc, kw, names, expect, shape in [
        ("min_distance=0", {"min_distance": 0}, ("min_distance",), E, None),
        ("min_distance=-1", {"min_distance": -1}, ("min_distance",), E, None),
        ("min_distance='5'", {"min_distance": "5"}, ("min_distance",), E, None),
        ("min_distance=True", {"min_distance": True}, ("min_distance",), E, None),
        ("min_distance=0.5 (below a pixel)", {"min_distance": 0.5}, ("min_distance",), EI, (None, 2)),
        ("zeros image with one pixel -1, min_distance=1 (found by hypothesis)", {"min_distance": 1.0,
                                                                               "image": "dip"},
         ("image", "min_distance"), EI, (None, 2)),
        ("threshold='a'", {"min_distance": 5, "threshold": "a"}, ("threshold",), E, None),
        ("exclude_border=-1", {"min_distance": 5, "exclude_border": -1}, ("exclude_border",), E, None),
        ("exclude_border='a'", {"min_distance": 5, "exclude_border": "a"}, ("exclude_border",), E, None),
        ("exclude_border=1e6 (drops every column)", {"min_distance": 5, "exclude_border": 1e6}, ("exclude_border",),
         EI, (0, 2)),
        ("invert='yes'", {"min_distance": 5, "invert": "yes"}, ("invert",), E, None),
        ("refine=1", {"min_distance": 5, "refine": 1}, ("refine",), E, None),
    ]:
        def call(kw=kw):
            kw = dict(kw)
            image = img() if kw.pop("image", None) is None else np.where(np.arange(480).reshape(16, 30) == 31,
                                                                         -1.0, 0.0)
            return atoms_mod.find_atoms(image, **kw)

        add(cat, "atoms.find_atoms", desc, call, names=names, expect=expect, shape=shape)
    add(cat, "atoms.refine_positions", "min_distance=0",
        lambda: atoms_mod.refine_positions(img(), [[4.0, 4.0]], 0), names=("min_distance",))
    for ws in (0, 2.5, "9"):
        add(cat, "atoms.cut_patches", f"window_size={ws!r}",
            lambda ws=ws: atoms_mod.cut_patches(img(), [[4.0, 4.0]], ws), names=("window_size",))
    for desc, kw, names, expect in [
        ("search_range=0", {"search_range": 0}, ("search_range",), E),
        ("search_range=-1", {"search_range": -1}, ("search_range",), E),
        ("search_range='a'", {"search_range": "a"}, ("search_range",), E),
        ("memory=-1", {"search_range": 3, "memory": -1}, ("memory",), E),
        ("memory=1.5", {"search_range": 3, "memory": 1.5}, ("memory",), E),
        ("drift='no'", {"search_range": 3, "drift": "no"}, ("drift",), E),
        ("search_range=1e6", {"search_range": 1e6}, ("search_range",), EI),
    ]:
        add(cat, "atoms.link_atoms", desc, lambda kw=kw: atoms_mod.link_atoms(atoms_table(), **kw), names=names,
            expect=expect, shape=(48, 5) if expect != E else None)
    add(cat, "atoms.link_atoms", "atoms as an ndarray",
        lambda: atoms_mod.link_atoms(atoms_table()[["frame", "row", "col"]].to_numpy(), search_range=3),
        names=("atoms",))
    for desc, kw, names in [
        ("min_frames=0", {"min_frames": 0}, ("min_frames",)),
        ("min_frames='a'", {"min_frames": "a"}, ("min_frames",)),
        ("column=3", {"column": 3}, ("column",)),
    ]:
        add(cat, "atoms.class_changes", desc,
            lambda kw=kw: atoms_mod.class_changes(atoms_mod.link_atoms(atoms_table(), search_range=3), **kw),
            names=names)

    for target, fn, desc, expect, names, shape in [
        ("dpc.divergence", lambda: dpc.divergence(f(), spacing=0), "spacing=0", E, ("spacing",), None),
        ("dpc.divergence", lambda: dpc.divergence(f(), spacing=-1.0), "spacing=-1", E, ("spacing",), None),
        ("dpc.divergence", lambda: dpc.divergence(f(), spacing="a"), "spacing='a'", E, ("spacing",), None),
        ("dpc.curl", lambda: dpc.curl(f(), spacing=0), "spacing=0", E, ("spacing",), None),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(f(), padding="reflect"), "padding='reflect'", E,
         ("padding",), None),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(f(), highpass=-1.0), "highpass=-1", E,
         ("highpass",), None),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(f(), highpass="a"), "highpass='a'", E,
         ("highpass",), None),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(f(), spacing=0), "spacing=0", E, ("spacing",),
         None),
        ("dpc.integrate_gradient", lambda: dpc.integrate_gradient(f(), highpass=1e300), "highpass=1e300", EI,
         ("highpass",), (6, 6)),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(0), "energy=0", E, ("energy",), None),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(-1.0), "energy=-1", E, ("energy",), None),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength("a"), "energy='a'", E, ("energy",), None),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(None), "energy=None", E, ("energy",), None),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(1e300), "energy=1e300", EI, ("energy",), None),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(1e200), "energy=1e200 (wavelength > 0?)", EI,
         ("energy",), "positive"),
        ("dpc.interaction_voltage", lambda: dpc.interaction_voltage(1e-300), "energy=1e-300 (voltage > 0?)", EI,
         ("energy",), "positive"),
        ("dpc.electron_wavelength", lambda: dpc.electron_wavelength(np.array([1e5, 2e5])), "energy an array", EI,
         ("energy",), None),
        ("dpc.interaction_voltage", lambda: dpc.interaction_voltage(-1.0), "energy=-1", E, ("energy",), None),
        ("dpc.interaction_voltage", lambda: dpc.interaction_voltage("a"), "energy='a'", E, ("energy",), None),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(f(), column_quantile=1.5), "column_quantile=1.5", E,
         ("column_quantile",), None),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(f(), column_quantile=-0.5), "column_quantile=-0.5", E,
         ("column_quantile",), None),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(f(), rotation_deg="a"), "rotation_deg='a'", E,
         ("rotation_deg",), None),
        ("dpc.fit_rotation", lambda: dpc.fit_rotation(f(), flip="a"), "flip='a'", E, ("flip",), None),
        ("dpc.rotation_matrix", lambda: dpc.rotation_matrix("a", False), "rotation_deg='a'", E, ("rotation_deg",),
         None),
        ("dpc.rotation_matrix", lambda: dpc.rotation_matrix(30.0, "no"), "flip='no'", E, ("flip",), None),
        ("dpc.apply_rotation", lambda: dpc.apply_rotation(f(), None, False), "rotation_deg=None", E,
         ("rotation_deg",), None),
        ("dpc.direction_colors", lambda: dpc.direction_colors(f(), max_magnitude=-1.0), "max_magnitude=-1", E,
         ("max_magnitude",), None),
        ("dpc.direction_colors", lambda: dpc.direction_colors(f(), max_magnitude=0), "max_magnitude=0", E,
         ("max_magnitude",), None),
        ("dpc.direction_colors", lambda: dpc.direction_colors(f(), max_magnitude="a"), "max_magnitude='a'", E,
         ("max_magnitude",), None),
        ("dpc.evaluate_plane", lambda: dpc.evaluate_plane(np.zeros((2, 3)), (0, 0)), "scan_shape=(0, 0)", EI,
         ("scan_shape",), (0, 0, 2)),
        ("dpc.evaluate_plane", lambda: dpc.evaluate_plane(np.zeros((2, 3)), (-2, 3)), "scan_shape=(-2, 3)", E,
         ("scan_shape",), None),
    ]:
        if shape == "positive":  # a physical quantity: finite and > 0
            add(cat, target, desc, fn, expect=expect, names=names,
                check=lambda r: check_result(r) or (None if r > 0 else f"returned {r!r}, not > 0"))
        else:
            add(cat, target, desc, fn, expect=expect, names=names, shape=shape)

    for target, fn, desc, expect, names in [
        ("metrics.circular_correlation", lambda: metrics.circular_correlation(a, b, degrees="no"), "degrees='no'", E,
         ("degrees",)),
        ("metrics.angle_residuals_by_class", lambda: metrics.angle_residuals_by_class(a, b, labels, period=0),
         "period=0", E, ("period",)),
        ("metrics.angle_residuals_by_class", lambda: metrics.angle_residuals_by_class(a, b, labels, period=-360),
         "period=-360", E, ("period",)),
        ("metrics.angle_residuals_by_class", lambda: metrics.angle_residuals_by_class(a, b, labels, period=0.01),
         "period=0.01 (grid of 0 points)", EI, ("period",)),
        ("metrics.angle_residuals_by_class", lambda: metrics.angle_residuals_by_class(a, b, labels, period="a"),
         "period='a'", E, ("period",)),
        ("metrics.knn_outlier_score", lambda: metrics.knn_outlier_score(codes(), n_neighbors=0), "n_neighbors=0", E,
         ("n_neighbors",)),
        ("metrics.knn_outlier_score", lambda: metrics.knn_outlier_score(codes(), n_neighbors=40), "n_neighbors=40",
         E, ("n_neighbors",)),
        ("metrics.knn_outlier_score", lambda: metrics.knn_outlier_score(codes(), n_neighbors=2.5),
         "n_neighbors=2.5", E, ("n_neighbors",)),
        ("metrics.mahalanobis_outlier_score", lambda: metrics.mahalanobis_outlier_score(codes(), random_state="a"),
         "random_state='a'", E, ("random_state",)),
        ("metrics.mahalanobis_outlier_score", lambda: metrics.mahalanobis_outlier_score(codes(), robust="no"),
         "robust='no'", E, ("robust",)),
        ("metrics.lattice_site_mahalanobis_score",
         lambda: metrics.lattice_site_mahalanobis_score(codes(len(pos)), pos, 2 * np.eye(2), covariance="x"),
         "covariance='x'", E, ("covariance",)),
        ("metrics.lattice_site_mahalanobis_score",
         lambda: metrics.lattice_site_mahalanobis_score(codes(len(pos)), pos, 2 * np.eye(2), n_neighbors=0),
         "n_neighbors=0", E, ("n_neighbors",)),
        ("metrics.defect_detection_auc", lambda: metrics.defect_detection_auc(codes(40, 1).ravel(), d, radius=-1),
         "radius=-1 (nothing near)", E, ("radius",)),
        ("metrics.defect_detection_auc", lambda: metrics.defect_detection_auc(codes(40, 1).ravel(), d, radius="a"),
         "radius='a'", E, ("radius",)),
    ]:
        add(cat, target, desc, fn, expect=expect, names=names)

    for fn, kw, arg, expect in [
        (ds.make_rotated_digits, {"size": 0}, "size", E),
        (ds.make_rotated_digits, {"size": 4}, "size", E),
        (ds.make_rotated_digits, {"size": -1}, "size", E),
        (ds.make_rotated_digits, {"size": 2.5}, "size", E),
        (ds.make_rotated_digits, {"max_angle": -10}, "max_angle", E),
        (ds.make_rotated_digits, {"max_angle": 200}, "max_angle", E),
        (ds.make_rotated_digits, {"random_state": "a"}, "random_state", E),
        (ds.make_rotated_shapes, {"n_samples": 0}, "n_samples", EI),
        (ds.make_rotated_shapes, {"n_samples": -1}, "n_samples", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 0}, "size", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 4}, "size", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "n_classes": 0}, "n_classes", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "n_classes": 7}, "n_classes", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "max_angle": -1}, "max_angle", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "max_angle": 400}, "max_angle", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "max_shift": -1}, "max_shift", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "noise": -1}, "noise", E),
        (ds.make_rotated_shapes, {"n_samples": 8, "size": 8, "n_classes": 6}, "n_classes", O),
        (ds.make_stem_image, {**stem, "size": 0}, "size", E),
        (ds.make_stem_image, {**stem, "size": -10}, "size", E),
        (ds.make_stem_image, {**stem, "pixel_size": 0}, "pixel_size", E),
        (ds.make_stem_image, {**stem, "pixel_size": -1}, "pixel_size", E),
        (ds.make_stem_image, {**stem, "dopants": {"Xx": 1}}, "dopants", E),
        (ds.make_stem_image, {**stem, "dopants": {"Si": -1}}, "dopants", E),
        (ds.make_stem_image, {**stem, "n_vacancies": -1}, "n_vacancies", E),
        (ds.make_stem_image, {**stem, "peak_counts": -1}, "peak_counts", E),
        (ds.make_stem_image, {**stem, "probe_fwhm": 0}, "probe_fwhm", E),
        (ds.make_stem_image, {**stem, "model": "lorentz"}, "model", E),
        (ds.make_stem_image, {**stem, "rotation": "a"}, "rotation", E),
        (ds.make_stem_image, {**stem, "random_state": "a"}, "random_state", E),
        (ds.make_stem_movie, {**movie, "n_frames": 0}, "n_frames", E),
        (ds.make_stem_movie, {**movie, "n_frames": -1}, "n_frames", E),
        (ds.make_stem_movie, {**movie, "hop_frames": "a"}, "hop_frames", E),
        (ds.make_stem_movie, {**movie, "drift_jitter": -1.0}, "drift_jitter", E),
        (ds.make_synthetic_tilt_patches, {"n_samples": 0, "size": 8}, "n_samples", EI),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 0}, "size", E),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "material": "XYZ"}, "material", E),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "glazer": "bad"}, "glazer", E),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "sigma": 0}, "sigma", E),
        (ds.make_synthetic_tilt_patches, {"n_samples": 4, "size": 8, "tilt_range": (10.0, 0.0)}, "tilt_range", E),
    ]:
        add(cat, f"datasets.{fn.__name__}", f"{arg}={kw[arg]!r}", lambda fn=fn, kw=kw: fn(**kw), names=(arg,),
            expect=expect)
    for fn, kw, arg in [
        (ds.graphene_supercell, {"repeats": (0, 2)}, "repeats"),
        (ds.graphene_supercell, {"defect": "xx"}, "defect"),
        (ds.perovskite_supercell, {"material": "XYZ"}, "material"),
        (ds.perovskite_supercell, {"tilts": (np.nan, 0.0, 0.0)}, "tilts"),
        (ds.perovskite_supercell, {"repeats": (0, 2, 2)}, "repeats"),
        (ds.zincblende_110, {"material": "XYZ"}, "material"),
        (ds.zincblende_110, {"strain": np.nan}, "strain"),
        (ds.orient_110, {"atoms": "abc"}, "atoms"),
        (ds.mirror_mid_plane, {"atoms": "abc"}, "atoms"),
        (ds.simulate_abf, {"atoms": "abc"}, "atoms"),
        (ds.postprocess_abf, {"image": np.ones((8, 8)), "pixel_size": np.nan}, "pixel_size"),
        (ds.postprocess_abf, {"image": np.ones((8, 8)), "pixel_size": 0.25, "dose": -1}, "dose"),
        (ds.postprocess_abf, {"image": np.full((8, 8), np.nan), "pixel_size": 0.25}, "image"),
        (ds.make_graphene_4dstem, {"energy": -1}, "energy"),
        (ds.make_graphene_4dstem, {"repeats": (0, 2)}, "repeats"),
        (ds.make_graphene_4dstem, {"binning": 0}, "binning"),
        (ds.make_graphene_4dstem, {"scan_step": np.nan}, "scan_step"),
        (ds.make_graphene_4dstem, {"dose": -1}, "dose"),
        (ds.make_graphene_4dstem, {"potential_sampling": 0}, "potential_sampling"),
        (ds.make_graphene_4dstem, {"semiangle": np.inf}, "semiangle"),
        (ds.make_graphene_orbits, {"n_orbits": 0}, "n_orbits"),
        (ds.make_graphene_orbits, {"radius": (np.nan, 1.0)}, "radius"),
        (ds.make_graphene_orbits, {"order": 0}, "order"),
        (ds.make_zincblende_4dstem, {"material": "XYZ"}, "material"),
        (ds.make_zincblende_4dstem, {"strain": np.nan}, "strain"),
        (ds.make_zincblende_pairs, {"n_pairs": 0}, "n_pairs"),
        (ds.make_perovskite_abf, {"n_samples": -1}, "n_samples"),
        (ds.make_perovskite_abf, {"n_samples": 2, "patch_size": 0}, "patch_size"),
        (ds.make_perovskite_abf, {"n_samples": 2, "tilt_range": np.nan}, "tilt_range"),
        (ds.make_perovskite_abf, {"n_samples": 2, "dose": 0}, "dose"),
        (ds.make_perovskite_abf, {"n_samples": 2, "energy": np.nan}, "energy"),
        (ds.mirror_patches_110, {"X": np.zeros((3, 64)), "y": np.full((3, 3), np.nan)}, "y"),
    ]:
        add(cat, f"datasets.{fn.__name__}", f"{arg}={_short_repr(kw[arg])}", lambda fn=fn, kw=kw: fn(**kw),
            names=(arg,))
    add(cat, "datasets.environment_names", "dopants=('Xx',) (not an element make_stem_image knows)",
        lambda: ds.environment_names(("Xx",)), expect="either", names=("dopants", "Xx"), kind=None)
    add(cat, "datasets.environment_names", "dopants='Si' (a string, not a tuple)",
        lambda: ds.environment_names("Si"), expect="either", names=("dopants",), kind=None)
    add(cat, "datasets.mirror_patches_110", "X with 63 features (not square)",
        lambda: ds.mirror_patches_110(np.zeros((3, 63)), np.zeros((3, 3))), names=("X", "image_shape"))
    add(cat, "datasets.mirror_patches_110", "y of shape (3, 2)",
        lambda: ds.mirror_patches_110(np.zeros((3, 64)), np.zeros((3, 2))), names=("y",))
    add(cat, "datasets.load_abf_fixture", "no arguments (valid)", lambda: ds.load_abf_fixture(), expect="ok",
        kind=None)
