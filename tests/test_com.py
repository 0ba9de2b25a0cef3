"""COMTransformer and sklearn_rvae.dpc: analytical tests in the style of LiberTEM's and pyxem's."""

import pickle

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_rvae import COMTransformer, EmptyFrameWarning, ExcludedFramesWarning, dpc


def splat(shifts, detector=(16, 16), center=(7.5, 7.5), counts=100.0):
    """Frames whose centre of mass is exactly ``center + shift`` (bilinear splat of one spot)."""
    shifts = np.asarray(shifts, dtype=np.float64).reshape(-1, 2)
    n = len(shifts)
    frames = np.zeros((n,) + tuple(detector))
    y = center[0] + shifts[:, 1]
    x = center[1] + shifts[:, 0]
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - y0, x - x0
    i = np.arange(n)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            np.add.at(frames, (i, y0 + dy, x0 + dx), wy * wx * counts)
    return frames


def atomic_phase(shape=(40, 40), spacing=10, sigma=2.0):
    """A lattice of Gaussian 'atoms' and its deflection field (gradient, pointing at the atoms)."""
    sy, sx = shape
    yy, xx = np.mgrid[:sy, :sx]
    phi = np.zeros(shape)
    for cy in np.arange(spacing / 2, sy, spacing):
        for cx in np.arange(spacing / 2, sx, spacing):
            phi += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    gy, gx = np.gradient(phi)
    return phi, 3.0 * np.stack([gx, gy], -1)


def scan_from_field(field, rotation_deg, flip, descan=None, detector=(16, 16)):
    """4-D data whose calibrated COM (with the given rotation / flip) is ``field``."""
    sy, sx = field.shape[:2]
    detector_vectors = field.reshape(-1, 2) @ np.linalg.inv(dpc.rotation_matrix(rotation_deg, flip)).T
    if descan is not None:
        detector_vectors = detector_vectors + descan.reshape(-1, 2)
    return splat(detector_vectors, detector).reshape(sy, sx, *detector)


# --------------------------------------------------------------- exact COM
def test_single_bright_pixel_gives_its_position():
    frames = np.zeros((4, 9, 11))
    positions = [(0, 0), (8, 10), (3, 7), (4, 5)]
    for frame, (r, c) in zip(frames, positions):
        frame[r, c] = 5.0
    com = COMTransformer(center=(4, 5), descan=False).fit(frames)
    expected = np.array([[c - 5, r - 4] for r, c in positions], dtype=float)
    np.testing.assert_array_equal(com.transform(frames), expected)


def test_disk_at_known_position_and_uniform_frame_gives_centre():
    yy, xx = np.mgrid[:32, :32]
    disks = np.stack([(np.hypot(yy - 12.0, xx - 19.0) <= 5).astype(float), np.ones((32, 32))])
    com = COMTransformer(center=(15.5, 15.5), descan=False).fit(disks)
    np.testing.assert_allclose(com.transform(disks), [[3.5, -3.5], [0.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize("mask", [None, "array", 5.0, (2.0, 6.0)])
def test_matches_scipy_center_of_mass(mask):
    rng = np.random.default_rng(0)
    frames = rng.random((30, 13, 15))
    center = (6.0, 7.0)
    yy, xx = np.mgrid[:13, :15]
    distance = np.hypot(yy - center[0], xx - center[1])
    if mask is None:
        weight = np.ones((13, 15))
    elif isinstance(mask, str):
        mask = rng.random((13, 15)) > 0.4
        weight = mask.astype(float)
    elif isinstance(mask, float):
        weight = (distance <= mask).astype(float)
    else:
        weight = ((distance >= mask[0]) & (distance <= mask[1])).astype(float)
    com = COMTransformer(center=center, descan=False, mask=mask).fit(frames)
    ref = np.array([ndi.center_of_mass(f * weight) for f in frames])
    expected = np.stack([ref[:, 1] - center[1], ref[:, 0] - center[0]], 1)
    np.testing.assert_allclose(com.transform(frames), expected, atol=1e-12)


def test_threshold_zeroes_pixels_below_it():
    rng = np.random.default_rng(1)
    frames = rng.random((10, 8, 8))
    com = COMTransformer(center=(3.5, 3.5), descan=False, threshold=0.5).fit(frames)
    ref = np.array([ndi.center_of_mass(np.where(f >= 0.5, f, 0)) for f in frames])
    np.testing.assert_allclose(com.transform(frames), ref[:, ::-1] - 3.5, atol=1e-12)


@pytest.mark.parametrize("kernel", ["auto", "matmul"])
def test_uint16_counts_match_float64_within_float32_precision(kernel):
    rng = np.random.default_rng(2)
    counts = rng.poisson(3000, size=(64, 64, 64)).astype(np.uint16)
    com16 = COMTransformer(descan=False, kernel=kernel).fit(counts)
    com64 = COMTransformer(descan=False).fit(counts.astype(np.float64))
    np.testing.assert_allclose(com16.transform(counts), com64.transform(counts.astype(np.float64)), atol=1e-5)
    np.testing.assert_allclose(com16.center_, com64.center_, atol=1e-6)


def test_fit_learns_centre_as_mean_com_and_refines_radial_mask():
    rng = np.random.default_rng(3)
    shifts = rng.normal(scale=0.3, size=(50, 2)) + [2.0, -1.5]
    frames = splat(shifts, (24, 24), center=(11.5, 11.5))
    com = COMTransformer(mask=4.0).fit(frames)
    # The disk starts at the detector centre, the spot is 2.5 px away; after
    # the refinement pass the disk sits on the spot and holds all of it.
    np.testing.assert_allclose(com.center_, [11.5 - 1.5, 11.5 + 2.0] + shifts.mean(0)[::-1] - [-1.5, 2.0], atol=1e-9)
    np.testing.assert_allclose(com.transform(frames).mean(0), 0.0, atol=1e-9)


def test_empty_frame_is_reported_and_nan_free():
    frames = splat([[0.5, 0.5], [1.0, -1.0], [0.0, 0.0]], (8, 8), center=(3.5, 3.5))
    frames[1] = 0.0
    with pytest.warns(ExcludedFramesWarning, match=r"1 with no positive \(masked\) intensity.*\[1\]"):
        com = COMTransformer(descan=False).fit(frames)
    np.testing.assert_array_equal(com.empty_frames_, [1])
    np.testing.assert_array_equal(com.excluded_frames_, [1])
    with pytest.warns(EmptyFrameWarning, match=r"1 frame\(s\) with no positive.*\[1\] \(COM shift set to 0\)"):
        out = com.transform(frames)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[1], [0.0, 0.0])


def test_median3x3_matches_scipy():
    from sklearn_rvae.com._flags import _median3x3

    grid = np.random.default_rng(0).normal(size=(7, 5, 2))
    expected = np.stack([ndi.median_filter(grid[..., i], size=3, mode="nearest") for i in range(2)], -1)
    np.testing.assert_array_equal(_median3x3(grid), expected)


def test_near_zero_total_frame_does_not_corrupt_the_calibration():
    # Issue 23's reproducer: one frame whose total is near zero (negative
    # pixels and one bright one) used to move the centre by 4 px and turn
    # the fitted rotation by 90 degrees.
    a = np.ones((4, 4, 8, 8))
    a[..., 3:5, 3:5] = 20
    a[0, 0] = -0.2
    a[0, 0, 0, 7] = 13.3
    with pytest.warns(ExcludedFramesWarning, match="below 1% of the median"):
        com = COMTransformer(device="cpu").fit(a)
    np.testing.assert_allclose(com.center_, [3.5, 3.5])
    assert com.rotation_deg_ == 0.0
    np.testing.assert_array_equal(com.excluded_frames_, [0])
    with pytest.warns(EmptyFrameWarning, match=r"below 1%.*\[0\]"):
        out = com.transform(a)
    np.testing.assert_allclose(out, 0.0, atol=1e-9)


@pytest.mark.parametrize("flip", [False, True])
def test_hot_pixel_and_blanked_frame_leave_the_clean_calibration(flip):
    _, field = atomic_phase((24, 24), spacing=8, sigma=1.5)
    X = scan_from_field(field, 35.0, flip, descan=np.stack(np.mgrid[:24, :24], -1) * [0.02, -0.01] + 0.5,
                        detector=(24, 24))
    rng = np.random.default_rng(0)
    X = rng.poisson(X * 400 / X.sum((2, 3), keepdims=True)).astype(np.float32)
    clean = COMTransformer().fit(X)
    assert len(clean.excluded_frames_) == 0
    bad = X.copy()
    bad[5, 7, 0, 23] += 2000.0  # a hot pixel at the detector's corner
    bad[15, 3] = 0.0  # a blanked frame: two dark counts
    bad[15, 3, 2, 5] = bad[15, 3, 20, 11] = 1.0
    with pytest.warns(ExcludedFramesWarning) as record:
        robust = COMTransformer().fit(bad)
    message = str(record[0].message)
    assert "1 with total intensity below 1% of the median frame's (a blanked frame), first at positions [363]" in message
    assert "1 with COM far off its scan neighbours' (a hot pixel or a cosmic-ray hit), first at positions [127]" in message
    np.testing.assert_array_equal(robust.excluded_frames_, [127, 363])
    assert list(robust.excluded_reasons_) == [
        "COM far off its scan neighbours' (a hot pixel or a cosmic-ray hit)",
        "total intensity below 1% of the median frame's (a blanked frame)",
    ]
    np.testing.assert_allclose(robust.center_, clean.center_, atol=0.01)
    assert abs(robust.rotation_deg_ - clean.rotation_deg_) < 0.2 and robust.flip_ == clean.flip_
    np.testing.assert_allclose(robust.descan_coef_, clean.descan_coef_, atol=0.01)
    with pytest.warns(EmptyFrameWarning, match=r"\[363\] \(COM shift set to 0\).*\[127\] \(COM shift kept\)"):
        out = robust.transform(bad)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[363], [0.0, 0.0])
    keep = np.setdiff1d(np.arange(len(out)), [127, 363])
    np.testing.assert_allclose(out[keep], clean.transform(X)[keep], atol=0.02)


# ----------------------------------------------------------- calibration
@pytest.mark.parametrize(
    "rotation_deg, flip",
    [(0.0, False), (30.0, False), (-120.0, True), (180.0, False), (-180.0, True), (95.0, False), (0.0, True)],
)
def test_fit_recovers_rotation_and_flip(rotation_deg, flip):
    _, field = atomic_phase()
    X = scan_from_field(field, rotation_deg, flip)
    com = COMTransformer(descan=False, center=(7.5, 7.5)).fit(X)
    assert com.flip_ is flip
    assert abs((com.rotation_deg_ - rotation_deg + 180) % 360 - 180) < 1e-6
    assert com.curl_fraction_ < 1e-10
    np.testing.assert_allclose(com.transform(X).reshape(field.shape), field, atol=1e-9)


def test_fit_recovers_a_transposed_detector():
    _, field = atomic_phase()
    X = np.ascontiguousarray(scan_from_field(field, 0.0, False).transpose(0, 1, 3, 2))
    com = COMTransformer(descan=False, center=(7.5, 7.5)).fit(X)
    # Swapping detector axes is a mirror: flip + 90 degrees in this convention.
    assert com.flip_ is True and abs(com.rotation_deg_ - 90.0) < 1e-6
    np.testing.assert_allclose(com.transform(X).reshape(field.shape), field, atol=1e-9)


def test_constant_and_linear_descan_are_removed_exactly():
    _, field = atomic_phase()
    sy, sx = field.shape[:2]
    rows, cols = np.mgrid[:sy, :sx]
    descan = np.stack([0.7 + 0.02 * rows - 0.015 * cols, -0.4 + 0.01 * rows + 0.03 * cols], -1)
    clean = scan_from_field(field, 40.0, True)
    walked = scan_from_field(field, 40.0, True, descan=descan)
    a = COMTransformer().fit(clean)
    b = COMTransformer().fit(walked)
    assert b.flip_ is True and abs(b.rotation_deg_ - 40.0) < 1e-6
    np.testing.assert_allclose(b.transform(walked), a.transform(clean), atol=1e-9)
    # The plane is reported in the scan frame (after rotation); the plane
    # fit is linear, so the descan's own slopes show up rotated.
    assert b.descan_coef_.shape == (2, 3)
    slopes = dpc.rotation_matrix(40.0, True) @ dpc.fit_plane(descan)[:, 1:]
    np.testing.assert_allclose(b.descan_coef_[:, 1:] - a.descan_coef_[:, 1:], slopes, atol=1e-9)


def test_hand_set_rotation_and_flip_are_used():
    _, field = atomic_phase()
    X = scan_from_field(field, 25.0, False)
    com = COMTransformer(rotation_deg=25.0, flip=False, descan=False, center=(7.5, 7.5)).fit(X)
    assert com.rotation_deg_ == 25.0 and com.flip_ is False
    np.testing.assert_allclose(com.transform(X).reshape(field.shape), field, atol=1e-9)
    wrong = COMTransformer(rotation_deg=0.0, flip=False, descan=False, center=(7.5, 7.5)).fit(X)
    assert wrong.curl_fraction_ > 0.1


def test_rotation_convention_is_liberte_ms():
    # LiberTEM's apply_correction: (y', x') = [[cos, sin], [-sin, cos]] @ flip_y @ (y, x).
    t = np.radians(33.0)
    libertem = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]]) @ np.array([[-1, 0], [0, 1]])
    y, x = 0.3, -1.2
    y2, x2 = libertem @ [y, x]
    np.testing.assert_allclose(dpc.apply_rotation([x, y], 33.0, True), [x2, y2])
    # With y down on screen, +90 degrees turns "right" into "down": clockwise.
    np.testing.assert_allclose(dpc.apply_rotation([1.0, 0.0], 90.0, False), [0.0, 1.0], atol=1e-15)


# ------------------------------------------------------------------ maps
def test_divergence_and_curl_of_hand_built_fields():
    yy, xx = np.mgrid[:9, :9].astype(float)
    source = np.stack([xx, yy], -1)  # div 2, curl 0
    vortex = np.stack([-yy, xx], -1)  # div 0, curl 2
    np.testing.assert_allclose(dpc.divergence(source), 2.0)
    np.testing.assert_allclose(dpc.curl(source), 0.0)
    np.testing.assert_allclose(dpc.divergence(vortex), 0.0)
    np.testing.assert_allclose(dpc.curl(vortex), 2.0)
    np.testing.assert_allclose(dpc.divergence(source, spacing=0.5), 4.0)
    # Deflection points at atoms: negative divergence on the column.
    _, field = atomic_phase()
    assert dpc.divergence(field)[5, 5] < 0


@pytest.mark.parametrize("padding", ["mirror", "zero"])
def test_integrated_phase_of_gaussians_matches_up_to_a_constant(padding):
    yy, xx = np.mgrid[:48, :56].astype(float)
    phi = sum(
        a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s**2))
        for a, cy, cx, s in [(1.0, 20, 15, 3.0), (0.6, 30, 40, 4.0), (-0.4, 10, 45, 2.5)]
    )
    # The analytic gradient.
    grad = np.zeros(phi.shape + (2,))
    for a, cy, cx, s in [(1.0, 20, 15, 3.0), (0.6, 30, 40, 4.0), (-0.4, 10, 45, 2.5)]:
        g = a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s**2))
        grad[..., 0] += -(xx - cx) / s**2 * g
        grad[..., 1] += -(yy - cy) / s**2 * g
    rec = dpc.integrate_gradient(grad, padding=padding)
    error = rec - (phi - phi.mean())
    assert np.abs(error).max() < 0.02 * np.abs(phi).max()


def test_transformer_maps_physics_signs():
    phi, field = atomic_phase()
    X = scan_from_field(field, 0.0, False)
    com = COMTransformer(descan=False, center=(7.5, 7.5), rotation_deg=0, flip=False).fit(X)
    rho = com.charge_density(X)
    assert rho[5, 5] > 0 and rho[5, 5] == rho.max()  # nuclei positive
    assert np.abs(com.curl(X)).max() < 1e-9
    np.testing.assert_allclose(com.field(X), -field, atol=1e-9)
    phase = com.phase(X)
    assert np.corrcoef(phase.ravel(), phi.ravel())[0, 1] > 0.99
    # Physical units: 300 kV, 0.5 mrad/px, 0.2 A steps, 100 A thick.
    physical = clone(com).set_params(mrad_per_px=0.5, energy=300e3, scan_step=0.2).fit(X)
    e_field = physical.field(X, thickness=100.0)
    pv = dpc.interaction_voltage(300e3)
    assert 4.8e5 < pv < 4.9e5  # p v / e at 300 keV is about 489 kV
    np.testing.assert_allclose(e_field, -field * 0.5e-3 * pv / 100.0, rtol=1e-9, atol=1e-12)
    assert physical.charge_density(X)[5, 5] > 0
    assert np.corrcoef(physical.phase(X).ravel(), phi.ravel())[0, 1] > 0.99
    assert dpc.electron_wavelength(300e3) == pytest.approx(0.019687, rel=1e-4)


def test_virtual_images_sum_annuli():
    rng = np.random.default_rng(4)
    X = rng.random((3, 4, 12, 12))
    com = COMTransformer(center=(5.5, 5.5), descan=False).fit(X)
    images = com.virtual_images(X, detectors={"BF": (0, 3), "ADF": (4, np.inf)})
    yy, xx = np.mgrid[:12, :12]
    d = np.hypot(yy - 5.5, xx - 5.5)
    np.testing.assert_allclose(images["BF"], (X * (d < 3)).sum((2, 3)))
    np.testing.assert_allclose(images["ADF"], (X * (d >= 4)).sum((2, 3)))
    # This noise fills the detector: the default ADF ring (1.25 r, inf) starts beyond its corners.
    with pytest.warns(UserWarning, match=r"default ADF ring\(s\) start beyond this 12 x 12 detector.*left out"):
        defaults = com.virtual_images(X)
    assert set(defaults) == {"BF", "ABF"} and defaults["BF"].shape == (3, 4)


def test_bright_field_radius_of_a_disk():
    yy, xx = np.mgrid[:64, :64]
    disk = (np.hypot(yy - 31.5, xx - 31.5) < 12).astype(float)
    com = COMTransformer().fit(np.stack([disk] * 4).reshape(2, 2, 64, 64))
    assert abs(com.bright_field_radius_ - 12) < 0.3


# --------------------------------------------------------------- sources
@pytest.fixture(scope="module")
def scan_data():
    _, field = atomic_phase((12, 10), spacing=5)
    X = (scan_from_field(field, 20.0, True) * 10).astype(np.uint16)
    com = COMTransformer().fit(X)
    return X, com, com.transform(X)


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 10, 1000])
def test_chunked_input_matches(scan_data, chunk_size):
    X, com, expected = scan_data
    chunked = COMTransformer(chunk_size=chunk_size).fit(X)
    np.testing.assert_array_equal(chunked.transform(X), expected)
    np.testing.assert_array_equal(chunked.center_, com.center_)


def test_2d_3d_strided_and_memmap_inputs_match(scan_data, tmp_path):
    X, com, expected = scan_data
    np.testing.assert_array_equal(com.transform(X.reshape(120, -1)), expected)
    np.testing.assert_array_equal(com.transform(X.reshape(120, 16, 16)), expected)
    strided = np.asfortranarray(X)
    np.testing.assert_array_equal(com.transform(strided), expected)
    path = tmp_path / "cube.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    np.testing.assert_array_equal(com.transform(mm), expected)
    np.testing.assert_array_equal(COMTransformer().fit(mm).transform(mm), expected)


def test_hdf5_and_zarr_inputs_match(scan_data, tmp_path):
    h5py = pytest.importorskip("h5py")
    zarr = pytest.importorskip("zarr")
    X, com, expected = scan_data
    with h5py.File(tmp_path / "cube.h5", "w") as f:
        f.create_dataset("data", data=X, chunks=(1, 10, 16, 16))
        f.create_dataset("flat", data=X.reshape(120, -1))
        f.create_dataset("big_endian", data=X.astype(">u2"))
    with h5py.File(tmp_path / "cube.h5", "r") as f:
        fitted = COMTransformer(chunk_size=4).fit(f["data"])
        np.testing.assert_array_equal(fitted.transform(f["data"]), expected)
        np.testing.assert_array_equal(com.transform(f["big_endian"]), expected)
        flat = COMTransformer(scan_shape=(12, 10)).fit(f["flat"])
        np.testing.assert_array_equal(flat.transform(f["flat"]), expected)
    z = zarr.open_array(str(tmp_path / "cube.zarr"), mode="w", shape=X.shape, chunks=(2, 5, 16, 16), dtype=X.dtype)
    z[:] = X
    z = zarr.open_array(str(tmp_path / "cube.zarr"), mode="r")
    np.testing.assert_array_equal(COMTransformer(chunk_size=6).fit(z).transform(z), expected)


def test_dask_input_matches_with_odd_chunks(scan_data):
    da = pytest.importorskip("dask.array")
    X, com, expected = scan_data
    lazy = da.from_array(X, chunks=(5, 3, 8, 16))
    fitted = COMTransformer().fit(lazy)
    np.testing.assert_allclose(fitted.transform(lazy), expected, atol=1e-12)
    np.testing.assert_allclose(fitted.mean_pattern_, com.mean_pattern_, atol=1e-9)
    np.testing.assert_allclose(com.transform(da.from_array(X.reshape(120, -1), chunks=(17, 100))), expected, atol=1e-12)


def test_dask_on_a_local_cluster_with_two_workers(scan_data):
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    import dask.array as da

    X, com, expected = scan_data
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        lazy = da.from_array(X, chunks=(3, 10, 16, 16))
        fitted = COMTransformer().fit(lazy)
        out = fitted.transform(lazy)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_allclose(out, expected, atol=1e-12)
    np.testing.assert_allclose(fitted.rotation_deg_, com.rotation_deg_)


# ---------------------------------------------------------- estimator API
def test_pipeline_pandas_pickle_clone(scan_data):
    X, com, expected = scan_data
    flat = X.reshape(120, -1)
    pipe = make_pipeline(COMTransformer(scan_shape=(12, 10)), StandardScaler(), KMeans(3, n_init=2, random_state=0))
    labels = pipe.fit_predict(flat)
    assert labels.shape == (120,)
    frame = clone(com).set_output(transform="pandas").fit(X).transform(X)
    assert list(frame.columns) == ["com_x", "com_y"]
    np.testing.assert_array_equal(frame.to_numpy(), expected)
    restored = pickle.loads(pickle.dumps(com))
    np.testing.assert_array_equal(restored.transform(X), expected)
    fresh = clone(com)
    assert not hasattr(fresh, "center_") and fresh.get_params() == com.get_params()


# ------------------------------------------------------------- bad input
def test_float32_overflow_is_told_apart_from_nan():
    X = np.ones((4, 4, 8, 8), np.float32) * 1e37
    with pytest.raises(ValueError, match=r"intensities up to 1e\+37.*overflow float32. Divide X by its maximum"):
        COMTransformer().fit(X)
    com = COMTransformer().fit(X / 1e37)
    assert np.all(np.isfinite(com.transform(X / 1e37)))


def test_nan_and_inf_frames_are_named():
    X = np.ones((6, 8, 8))
    X[2, 0, 0] = np.nan
    X[4, 7, 7] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinity in 2 frame\(s\).*\[2, 4\]"):
        COMTransformer().fit(X)
    good = COMTransformer(mask=2.0, center=(3.5, 3.5)).fit(np.ones((6, 8, 8)))
    inside = np.ones((6, 8, 8))
    inside[3, 4, 4] = -np.inf
    with pytest.raises(ValueError, match=r"NaN or infinity in 1 frame\(s\).*\[3\]"):
        good.transform(inside)
    # Rows outside a mask are never read (that is what makes a disk mask
    # fast), so a bad pixel there cannot change the result.
    assert np.all(np.isfinite(good.transform(X)))


@pytest.mark.parametrize(
    "params, X, match",
    [
        ({}, np.ones((4, 12)), "detector_shape"),
        ({"detector_shape": (5, 5)}, np.ones((4, 16)), "detector_shape"),
        ({"detector_shape": (4, 4)}, np.ones((3, 2, 5, 5)), "detector_shape"),
        ({"scan_shape": (3, 3)}, np.ones((8, 16)), r"scan_shape=\(3, 3\) does not match n_positions=8"),
        ({"scan_shape": (2, 3)}, np.ones((3, 2, 4, 4)), "scan_shape"),
        ({"mask": -1.0}, np.ones((4, 16)), "mask"),
        ({"mask": (3.0, 1.0)}, np.ones((4, 16)), "mask"),
        ({"mask": (-1.0, 2.0)}, np.ones((4, 16)), "mask"),
        ({"mask": np.ones((3, 3))}, np.ones((4, 16)), r"mask has shape \(3, 3\)"),
        ({"mask": np.zeros((4, 4))}, np.ones((4, 16)), "mask selects no detector pixel"),
        ({"center": (1.0, 2.0, 3.0)}, np.ones((4, 16)), "center"),
        ({"center": ("a", "b")}, np.ones((4, 16)), r"center must be a pair of finite numbers \(cy, cx\), got \('a'"),
        ({"mask": (1.0, np.nan)}, np.ones((4, 16)),
         r"mask must be \(inner, outer\) radii in pixels with 0 <= inner < outer \(outer may be inf\)"),
        ({"mask": np.array(np.inf)}, np.ones((4, 16)), r"mask \(a disk radius in pixels\) must be a finite number > 0"),
        ({}, np.ones((1, 16)), "minimum of 2"),
        ({}, np.ones((0, 16)), "0 sample"),
        ({}, np.ones((2, 2, 3, 4, 4)), "2-D"),
    ],
)
def test_bad_input_names_the_parameter(params, X, match):
    with pytest.raises(ValueError, match=match):
        COMTransformer(**params).fit(X)


def test_bad_dtype_and_positions():
    with pytest.raises((TypeError, ValueError), match="real numbers|complex"):
        COMTransformer().fit(np.ones((4, 2, 4, 4), dtype=np.complex64))
    _, field = atomic_phase((6, 6), spacing=3)
    X = scan_from_field(field, 0.0, False)
    com = COMTransformer().fit(X)
    with pytest.raises(ValueError, match="whole scan"):
        com.transform(X.reshape(36, -1)[:10])
    with pytest.raises(ValueError, match="n_positions"):
        COMTransformer(scan_shape=(6, 6)).fit(X.reshape(36, -1)).curl(X.reshape(36, -1)[:30])
    with pytest.raises(ValueError, match="thickness"):
        com.field(X, thickness=10.0)
    with pytest.raises(ValueError, match=r"detectors\['BF'\] must be \(inner, outer\) radii in pixels with 0 <= inner < outer"):
        com.virtual_images(X, detectors={"BF": (2.0, 2.0)})
    physical = COMTransformer(mrad_per_px=0.5, energy=300e3, scan_step=0.2).fit(X)
    with pytest.raises(ValueError, match="thickness must be a finite number > 0, got -1"):
        physical.field(X, thickness=-1.0)
    with pytest.raises(TypeError, match="thickness must be a finite number > 0, got '10'"):
        physical.charge_density(X, thickness="10")


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the error on machines without a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        COMTransformer(device="cuda").fit(np.ones((4, 16)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(scan_data):
    X, com, expected = scan_data
    gpu = COMTransformer(device="cuda").fit(X)
    np.testing.assert_allclose(gpu.transform(X), expected, atol=1e-5)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(gpu)).transform(X), expected, atol=1e-5)


# --------------------------------------------------------------------- io
def test_load_4dstem_formats_stream_into_the_transformer(scan_data, tmp_path):
    h5py = pytest.importorskip("h5py")
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("rsciio")
    from rsciio.hspy import file_writer

    from sklearn_rvae.io import load_4dstem

    X, com, expected = scan_data
    np.save(tmp_path / "a.npy", X)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("entry/scan", data=X)
        f.create_dataset("entry/small", data=np.ones(3))
    z = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=X.shape, dtype=X.dtype)
    z[:] = X
    axes = [
        {"name": n, "size": s, "offset": 0.0, "scale": 1.0, "units": "px", "navigate": i < 2}
        for i, (n, s) in enumerate(zip("yxvu", X.shape))
    ]
    file_writer(str(tmp_path / "a.hspy"), {
        "data": X, "axes": axes, "metadata": {"General": {"title": "scan"}, "Signal": {"signal_type": ""}},
        "original_metadata": {}, "tmp_parameters": {}, "learning_results": {}, "models": {},
        "attributes": {"_lazy": False}, "package_info": {"name": "", "version": ""},
    })
    for name, fmt in [("a.npy", "npy"), ("a.h5", "hdf5"), ("a.zarr", "zarr"), ("a.hspy", "HSPY")]:
        data, metadata = load_4dstem(tmp_path / name)
        assert metadata["format"] == fmt
        # Lazy in every case: a memmap for .npy, a file-backed dataset or dask array otherwise.
        assert isinstance(data, np.memmap) if fmt == "npy" else not isinstance(data, np.ndarray)
        np.testing.assert_allclose(com.transform(data), expected, atol=1e-12)
    with pytest.raises(ValueError, match="dataset='nope'"):
        load_4dstem(tmp_path / "a.h5", dataset="nope")
    with pytest.raises(FileNotFoundError):
        load_4dstem(tmp_path / "missing.h5")
    (tmp_path / "a.xyz").write_text("")
    with pytest.raises(ValueError, match="No reader"):
        load_4dstem(tmp_path / "a.xyz")


# --------------------------------------------------------------- fused kernel
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
@pytest.mark.parametrize("params", [{}, {"mask": 5.0, "threshold": 3}, {"mask": (2.0, 6.0)}])
def test_fused_kernel_matches_torch_path(dtype, params):
    pytest.importorskip("numba")
    rng = np.random.default_rng(7)
    X = rng.poisson(rng.uniform(1, 60, size=(13, 1, 1)), size=(13, 16, 18)).astype(dtype)  # 13: not a multiple of 4
    est = {}
    for kernel in ("fused", "matmul"):
        est[kernel] = COMTransformer(detector_shape=(16, 18), center=(7.0, 8.5), descan=False, kernel=kernel,
                                     **params).fit(X)
        assert est[kernel].kernel_ == {"fused": "fused (numba)", "matmul": "matmul (torch)"}[kernel]
    fused = est["fused"].transform(X)
    np.testing.assert_allclose(fused, est["matmul"].transform(X), rtol=1e-5, atol=1e-5)
    detectors = {"a": (0, 3), "b": (3, 5), "c": (5, 7), "d": (7, np.inf)}  # 4 weights: padded to 6
    fused_images = est["fused"].virtual_images(X, detectors=detectors)
    for name, image in est["matmul"].virtual_images(X, detectors=detectors).items():
        np.testing.assert_allclose(fused_images[name], image, rtol=1e-6)
    if not params:  # and against scipy in float64
        ref = np.array([ndi.center_of_mass(f) for f in X.astype(np.float64)])
        np.testing.assert_allclose(fused, ref[:, ::-1] - [8.5, 7.0], atol=1e-5)


def test_fused_float32_kernel_reports_nan_frames():
    pytest.importorskip("numba")
    X = np.ones((6, 8, 8), dtype=np.float32)
    X[4, 2, 3] = np.nan
    est = COMTransformer(threshold=0.5, descan=False, kernel="fused")
    # A NaN is never below the threshold, so it reaches the sums and is reported, not zeroed.
    with pytest.raises(ValueError, match=r"NaN or infinity in 1 frame\(s\), first at positions \[4\]"):
        est.fit(X)


def test_kernel_choice_without_numba(monkeypatch):
    import sklearn_rvae.com._module as com_module

    monkeypatch.setattr(com_module, "fused_moments_kernel", lambda: None)
    X = np.random.default_rng(0).poisson(5, size=(8, 8, 8)).astype(np.uint16)
    assert COMTransformer(descan=False).fit(X).kernel_ == "matmul (torch)"
    with pytest.raises(ValueError, match="kernel='fused' needs numba"):
        COMTransformer(descan=False, kernel="fused").fit(X)
    # float64 frames always take the matmul, whatever the choice.
    assert COMTransformer(descan=False, kernel="fused").fit(X.astype(np.float64)).kernel_ == "matmul (torch)"


def test_direction_colors_is_the_hsv_colour_wheel():
    rgb = dpc.direction_colors(np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rgb, [[1, 0, 0], [0.25, 0.5, 0], [0, 0.5, 0.5], [0, 0, 0]])
    mcolors = pytest.importorskip("matplotlib.colors")
    field = np.random.default_rng(0).normal(size=(7, 5, 2))
    mag = np.hypot(field[..., 0], field[..., 1])
    hsv = np.stack([(np.arctan2(field[..., 1], field[..., 0]) / (2 * np.pi)) % 1, np.ones_like(mag), mag / mag.max()], -1)
    np.testing.assert_allclose(dpc.direction_colors(field), mcolors.hsv_to_rgb(hsv), atol=1e-12)
    np.testing.assert_allclose(dpc.direction_colors(field, max_magnitude=mag.max() / 2).max(), 1.0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        dpc.direction_colors(np.zeros((3, 3)))
