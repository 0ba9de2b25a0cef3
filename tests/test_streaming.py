"""Learning from sources larger than memory (issue 33): HDF5, zarr, memmap and dask, read by chunks."""

import os
import pickle

import dask.array as da
import h5py
import numpy as np
import pytest
import zarr
from sklearn.pipeline import make_pipeline

from sklearn_rvae import AtomPatchExtractor, DiffractionPreprocessor, RotationInvariantVAE
from sklearn_rvae import _frames, _streaming
from sklearn_rvae.datasets import make_rotated_digits
from sklearn_rvae.io import FileFormatError

MODEL = dict(n_components=2, max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, _, _ = make_rotated_digits(size=16, max_angle=60)
    return X[:300].astype(np.float32)


def _sources(X, tmp_path, chunk=50):
    """The same images as an HDF5 dataset, a zarr array, a dask array and a memmap."""
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("X", data=X, chunks=(chunk, X.shape[1]))
    z = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=X.shape, chunks=(chunk, X.shape[1]),
                        dtype=X.dtype)
    z[:] = X
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=X.dtype, shape=X.shape)
    mm[:] = X
    mm.flush()
    return {
        "hdf5": h5py.File(tmp_path / "x.h5", "r")["X"],
        "zarr": zarr.open_array(str(tmp_path / "x.zarr"), mode="r"),
        "dask": da.from_array(X, chunks=(chunk, X.shape[1])),
        "memmap": np.load(tmp_path / "x.npy", mmap_mode="r"),
    }


class CountingArray:
    """An array-like that records the largest read, for dask.array.from_array."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.largest = 0

    def __getitem__(self, key):
        out = self.array[key]
        self.largest = max(self.largest, out.size)
        return out


@pytest.mark.parametrize("kind", ["hdf5", "zarr", "dask", "memmap"])
def test_streamed_fit_equals_in_memory_fit(digits, tmp_path, kind):
    # One block holds all chunks: the batches come in the in-memory order.
    X = _sources(digits, tmp_path)[kind]
    memory = RotationInvariantVAE(**MODEL).fit(digits)
    streamed = RotationInvariantVAE(**MODEL).fit(X)
    assert streamed.data_offset_ == memory.data_offset_
    assert streamed.data_scale_ == pytest.approx(memory.data_scale_, rel=1e-12)
    np.testing.assert_allclose(streamed.history_["train_loss"], memory.history_["train_loss"], rtol=1e-5)
    Z = streamed.transform(X)
    assert isinstance(Z, da.Array)
    np.testing.assert_allclose(np.asarray(Z), memory.transform(digits), atol=1e-4)
    # A model fitted out of core transforms in-memory data, and the other way round, after pickling.
    np.testing.assert_allclose(pickle.loads(pickle.dumps(streamed)).transform(digits),
                               np.asarray(streamed.transform(X)), atol=1e-12)
    np.testing.assert_allclose(np.asarray(pickle.loads(pickle.dumps(memory)).transform(X)),
                               memory.transform(digits), atol=1e-12)


def test_streamed_inference_methods_match_in_memory(digits, tmp_path):
    X = _sources(digits, tmp_path)["zarr"]
    model = RotationInvariantVAE(angle_prior="uniform", n_classes=3, n_rotation_bins=4, max_epochs=2,
                                 random_state=0).fit(digits)
    angle, shift, posterior = model.transform_pose(X, return_posterior=True)
    expected = model.transform_pose(digits, return_posterior=True)
    for got, want in zip((angle, shift, posterior), expected):
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-10)
    np.testing.assert_allclose(np.asarray(model.predict_proba(X)), model.predict_proba(digits), atol=1e-10)
    np.testing.assert_array_equal(np.asarray(model.predict(X)), model.predict(digits))
    np.testing.assert_allclose(np.asarray(model.score_samples(X)), model.score_samples(digits), rtol=1e-10)
    assert model.score(X) == pytest.approx(model.score(digits), rel=1e-10)
    np.testing.assert_allclose(np.asarray(model.reconstruct(X)), model.reconstruct(digits), atol=1e-10)


def _small_chunks(monkeypatch, frames_per_chunk, n_features, chunks_per_block=2):
    monkeypatch.setattr(_frames, "LAZY_CHUNK_BYTES", frames_per_chunk * n_features * 4)
    monkeypatch.setattr(_streaming, "BLOCK_BYTES", chunks_per_block * frames_per_chunk * n_features * 4)


def test_nothing_is_read_whole(digits, monkeypatch):
    # Chunks of 50 frames, blocks of two: no read and no block holds more.
    _small_chunks(monkeypatch, 50, digits.shape[1])
    blocks = []
    read_block = _streaming.StreamedFrames.read_block
    monkeypatch.setattr(_streaming.StreamedFrames, "read_block",
                        lambda self, spans, out=None: blocks.append(read_block(self, spans, out)) or blocks[-1])
    counting = CountingArray(digits)
    X = da.from_array(counting, chunks=(50, digits.shape[1]))
    model = RotationInvariantVAE(n_components=2, max_epochs=4, random_state=0).fit(X)
    assert counting.largest == 50 * digits.shape[1]
    # 3 blocks an epoch, none read ahead after the last epoch.
    assert max(len(b) for b in blocks) == 100 and len(blocks) == 4 * 3
    losses = model.history_["train_loss"].to_numpy()
    assert losses[-1] < losses[0]
    Z = model.transform(X)
    assert Z.chunks[0] == (50,) * 6
    Z.compute()
    assert counting.largest == 50 * digits.shape[1]


def _to_float32(frames, start, out=None):
    if out is None:
        return frames.astype(np.float32)
    out[:] = frames
    return out


def test_block_shuffle_visits_every_frame_once_per_epoch(digits, monkeypatch):
    monkeypatch.setattr(_streaming, "BLOCK_BYTES", 2 * 40 * digits.shape[1] * 4)
    X = da.from_array(np.arange(300, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32), chunks=(40, 4))
    from sklearn_rvae._frames import frame_source

    source = frame_source(RotationInvariantVAE(), X, detector_shape=(2, 2), scan_shape=None, reset=True)
    ds = _streaming.StreamedFrames(source, source.spans(40), _to_float32)
    orders = []
    for _ in range(2):
        seen = np.concatenate([b[0][:, 0].numpy() for b in _streaming.BlockShuffleLoader(ds, 32, shuffle=True)])
        np.testing.assert_array_equal(np.sort(seen), np.arange(300))
        orders.append(seen)
    assert not np.array_equal(orders[0], orders[1])


def test_scan_and_stack_inputs(digits, tmp_path):
    scan = digits.reshape(15, 20, 16, 16)
    z = zarr.open_array(str(tmp_path / "scan.zarr"), mode="w", shape=scan.shape, chunks=(3, 20, 16, 16),
                        dtype=scan.dtype)
    z[:] = scan
    model = RotationInvariantVAE(**MODEL).fit(z)
    assert model.image_shape_ == (16, 16)
    memory = RotationInvariantVAE(**MODEL).fit(scan)  # a 4-D ndarray is images too
    assert memory.image_shape_ == (16, 16)
    np.testing.assert_allclose(np.asarray(model.transform(z)), memory.transform(digits), atol=1e-4)
    np.testing.assert_allclose(memory.transform(digits.reshape(300, 16, 16)), memory.transform(digits))
    with pytest.raises(ValueError, match=r"image_shape=\(8, 32\) does not match X"):
        RotationInvariantVAE(image_shape=(8, 32), max_epochs=1).fit(z)


def test_integer_counts_are_converted_per_chunk(tmp_path):
    counts = np.random.default_rng(0).poisson(20.0, size=(120, 64)).astype(np.uint16)
    z = zarr.open_array(str(tmp_path / "c.zarr"), mode="w", shape=counts.shape, chunks=(30, 64), dtype="u2")
    z[:] = counts
    streamed = RotationInvariantVAE(**MODEL).fit(z)
    memory = RotationInvariantVAE(**MODEL).fit(counts.astype(np.float64))
    np.testing.assert_allclose(np.asarray(streamed.transform(z)), memory.transform(counts), atol=1e-4)


def test_transform_writes_into_out(digits, tmp_path, capsys):
    X = _sources(digits, tmp_path)["hdf5"]
    model = RotationInvariantVAE(**MODEL).fit(digits)
    out = zarr.open_array(str(tmp_path / "codes.zarr"), mode="w", shape=(300, 2), chunks=(100, 2), dtype="f8")
    assert model.transform(X, out=out) is out
    np.testing.assert_allclose(out[:], model.transform(digits), atol=1e-12)
    model.set_params(verbose=1)
    model.transform(X, out=np.empty((300, 2)))
    err = capsys.readouterr().err
    assert "RotationInvariantVAE.transform: 100%" in err and "300/300" in err
    with pytest.raises(ValueError, match=r"out must have shape \(300, 2\)"):
        model.transform(X, out=np.empty((299, 2)))


def test_early_stopping_and_classes_on_a_stream(digits, tmp_path):
    X = _sources(digits, tmp_path)["zarr"]
    model = RotationInvariantVAE(n_components=2, max_epochs=3, early_stopping=True, n_classes=3,
                                 random_state=0).fit(X)
    assert "valid_loss" in model.history_ and np.all(np.isfinite(model.history_["valid_loss"]))
    assert model.labels_.shape == (300,)
    np.testing.assert_array_equal(np.asarray(model.predict(X)), model.labels_)


def test_partial_fit_continues_and_checks_features(digits, tmp_path):
    X = _sources(digits, tmp_path, chunk=60)["zarr"]
    model = RotationInvariantVAE(n_components=2, random_state=0)
    scores = []
    for start in range(0, 240, 60):
        model.partial_fit(X[start : start + 60])
        scores.append(model.score(digits[240:]))
    assert model.n_iter_ == 4 and len(model.history_) == 4
    assert scores[-1] > scores[0]
    model.partial_fit(X)  # a streamed source too
    assert model.n_iter_ == 5
    with pytest.raises(ValueError, match="X has 255 features, but RotationInvariantVAE is expecting 256"):
        model.partial_fit(digits[:, :-1])
    # Same calls, same seed: the same model.
    again = RotationInvariantVAE(n_components=2, random_state=0)
    for start in range(0, 240, 60):
        again.partial_fit(X[start : start + 60])
    again.partial_fit(X)
    np.testing.assert_allclose(again.transform(digits), model.transform(digits))


def test_partial_fit_after_fit_with_early_stopping(digits, tmp_path):
    X = _sources(digits, tmp_path)["dask"]
    model = RotationInvariantVAE(n_components=2, max_epochs=2, early_stopping=True, n_classes=3,
                                 random_state=0).fit(X)
    model.partial_fit(digits)  # in memory after streamed: no split, no early stopping
    assert model.n_iter_ == 3 and np.isnan(model.history_["valid_loss"].iloc[-1])
    model.partial_fit(X)
    assert model.labels_.shape == (300,) and model.net_.module_.class_prior is not None
    # A partial_fit that fails leaves the model as it was: inference in float64, classes kept.
    before = model.transform(digits)
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(digits[:, :-1])
    bad = digits.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match=r"first at positions \[5\]"):
        model.partial_fit(da.from_array(bad, chunks=(50, 256)))
    np.testing.assert_array_equal(model.transform(digits), before)
    assert model.predict(digits).shape == (300,)


def test_incremental_fits_a_dask_array(digits):
    from dask_ml.wrappers import Incremental

    X = da.from_array(digits, chunks=(60, 256))
    inc = Incremental(RotationInvariantVAE(n_components=2, random_state=0), shuffle_blocks=False).fit(X)
    model = inc.estimator_
    assert model.n_iter_ == 5  # one partial_fit (one epoch) per block
    losses = model.history_["train_loss"].to_numpy()
    assert losses[-1] < losses[0]
    by_hand = RotationInvariantVAE(n_components=2, random_state=0)
    for start in range(0, 300, 60):
        by_hand.partial_fit(digits[start : start + 60])
    # dask-ml runs partial_fit in a scheduler thread: float sums may round otherwise than in this one.
    np.testing.assert_allclose(model.transform(digits), by_hand.transform(digits), atol=1e-4)


def test_dask_pipeline_stays_lazy_and_matches(tmp_path):
    rng = np.random.default_rng(0)
    (ky, kx), (sy, sx) = np.mgrid[:24, :24], np.mgrid[:10, :12]
    dx, dy = 2 * np.sin(np.pi * sx / 4), 2 * np.cos(np.pi * sy / 4)
    disk = np.hypot(ky - 11.5 - dy[..., None, None], kx - 11.5 - dx[..., None, None]) < 5
    scan = rng.poisson(100.0 * disk + 1).astype(np.uint16)
    with h5py.File(tmp_path / "scan.h5", "w") as f:
        f.create_dataset("data", data=scan, chunks=(2, 12, 24, 24))
    data = h5py.File(tmp_path / "scan.h5", "r")["data"]

    def pipe():
        return make_pipeline(DiffractionPreprocessor(subtract_mean=True, blur=1.0, binning=2),
                             RotationInvariantVAE(2, translation=False, max_epochs=2, random_state=0))

    memory, streamed = pipe().fit(scan), pipe().fit(data)
    pre_m, pre_s = memory[0], streamed[0]
    np.testing.assert_allclose(pre_s.mean_pattern_, pre_m.mean_pattern_, rtol=1e-10)
    assert pre_s.residual_scale_ == pytest.approx(pre_m.residual_scale_, rel=1e-10)
    assert pre_s.reference_intensity_ == pre_m.reference_intensity_
    assert isinstance(pre_s.transform(data), da.Array)
    Z = streamed.transform(data)
    assert isinstance(Z, da.Array)
    np.testing.assert_allclose(Z.compute(), memory.transform(scan), atol=1e-4)


def test_atom_patches_of_a_lazy_movie(tmp_path):
    from sklearn_rvae.datasets import make_stem_movie

    frames, _ = make_stem_movie(n_frames=3, size=96, dopants={"Si": 2}, n_vacancies=1)
    lazy = da.from_array(frames, chunks=(1, 96, 96))
    extractor = AtomPatchExtractor(16, min_distance=5)
    patches = extractor.transform(lazy)
    assert isinstance(patches, da.Array)
    np.testing.assert_array_equal(np.asarray(patches), extractor.transform(frames))
    assert extractor.locate(lazy).equals(extractor.locate(frames))


# ------------------------------------------------------------------ bad input


def test_corrupt_chunk_names_file_and_frames(digits, tmp_path, monkeypatch):
    _small_chunks(monkeypatch, 50, digits.shape[1])
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=digits, chunks=(50, 256), compression="gzip")
    with h5py.File(path, "r") as f:
        info = f["X"].id.get_chunk_info(3)
    raw = bytearray(path.read_bytes())
    raw[info.byte_offset : info.byte_offset + info.size] = b"\xff" * info.size
    path.write_bytes(bytes(raw))
    data = h5py.File(path, "r")["X"]  # the chunk index is intact: the damage shows when frames 150-199 are read
    with pytest.raises(FileFormatError, match=r"frames 150-199 of X, a h5py.Dataset '/X' in .*t\.h5: OSError"):
        RotationInvariantVAE(**MODEL).fit(data)
    model = RotationInvariantVAE(**MODEL).fit(digits)
    with pytest.raises(FileFormatError, match=r"frames 150-199 of X"):
        model.transform(data).compute()


def test_file_changed_after_transform(digits, tmp_path):
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=digits, chunks=(50, 256))
    model = RotationInvariantVAE(**MODEL).fit(digits)
    Z = model.transform(h5py.File(path, "r")["X"])
    os.utime(path, ns=(1, 1))  # written by another program while the lazy result waits
    with pytest.raises(FileFormatError, match=r"X, a h5py.Dataset '/X' in .*c\.h5, changed on disk after it was opened"):
        Z.compute()


def test_wrong_rank_and_detector_chunks(digits, tmp_path):
    with h5py.File(tmp_path / "r.h5", "w") as f:
        f.create_dataset("X", data=digits.reshape(2, 3, 2, 25, 256))
    model = RotationInvariantVAE(**MODEL)
    with pytest.raises(ValueError, match=r"X must be 2-D .* got an array of shape \(2, 3, 2, 25, 256\)"):
        model.fit(h5py.File(tmp_path / "r.h5", "r")["X"])
    split = da.from_array(digits, chunks=(50, 128))
    with pytest.raises(ValueError, match=r"chunked across its detector axes .* X.rechunk\(\{1: -1\}\)"):
        model.fit(split)
    with pytest.raises(ValueError, match=r"chunked across its detector axes"):
        DiffractionPreprocessor().fit(split)


def test_dtype_that_cannot_hold_counts(tmp_path):
    z = zarr.open_array(str(tmp_path / "c.zarr"), mode="w", shape=(10, 16), dtype="c8")
    with pytest.raises(TypeError, match=r"X must hold real numbers .* got dtype complex64"):
        RotationInvariantVAE(**MODEL).fit(z)


def test_non_finite_frames_are_named(digits):
    bad = digits.copy()
    bad[[7, 123]] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or infinity in 2 frame\(s\), first at positions \[7, 123\]"):
        RotationInvariantVAE(**MODEL).fit(da.from_array(bad, chunks=(50, 256)))
    model = RotationInvariantVAE(**MODEL).fit(digits)
    with pytest.raises(ValueError, match=r"in 1 frame\(s\) of frames (0-49|100-149), first at positions \[(7|123)\]"):
        model.transform(da.from_array(bad, chunks=(50, 256))).compute()
    negative = np.abs(digits)
    negative[42, 3] = -1
    with pytest.raises(ValueError, match=r"Negative values .* first at positions \[42\]"):
        DiffractionPreprocessor().fit(da.from_array(negative, chunks=(50, 256)))


def test_worker_threads_run_torch_on_one_thread_and_leave_the_others(digits):
    import threading

    import torch

    model = RotationInvariantVAE(**MODEL).fit(digits)
    seen = []
    codes = model._codes

    def spy(Xt):
        seen.append((threading.current_thread() is threading.main_thread(), torch.get_num_threads()))
        return codes(Xt)

    model._codes = spy
    lazy = model.transform(da.from_array(digits, chunks=(50, 256)))
    lazy.compute(scheduler="threads", num_workers=2)
    assert all(n == 1 for main, n in seen if not main) and len(seen) == 6
    lazy.compute(scheduler="sync")
    assert seen[-1] == (True, torch.get_num_threads())
    fresh = []
    thread = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert fresh == [torch.get_num_threads()]


def test_more_bad_sources(digits, tmp_path):
    model = RotationInvariantVAE(**MODEL)
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f.create_dataset("X", data=digits > 0.5)
    with pytest.raises(TypeError, match="X must hold detector counts or intensities .* got dtype bool"):
        model.fit(h5py.File(tmp_path / "b.h5", "r")["X"])
    lazy = da.from_array(digits, chunks=(50, 256))
    with pytest.raises(ValueError, match=r"unknown chunk sizes .* X.compute_chunk_sizes\(\)"):
        model.fit(lazy[lazy[:, 0] >= 0])
    with pytest.raises(ValueError, match=r"image_shape=\(8, 8\) does not match X: X has 256 features"):
        RotationInvariantVAE(image_shape=(8, 8), max_epochs=1).fit(lazy)
    model.fit(digits)
    with pytest.raises(ValueError, match="X has 255 features, but RotationInvariantVAE is expecting 256"):
        model.transform(lazy[:, :-1])


def test_tiled_scans_are_read_in_parts(tmp_path, monkeypatch):
    # Stored tiles of 4 x 4 positions hold 16 frames; a chunk of 2 frames reads them in parts.
    monkeypatch.setattr(_frames, "LAZY_CHUNK_BYTES", 2 * 64 * 4)
    scan = np.random.default_rng(0).random((8, 8, 8, 8)).astype(np.float32)
    z = zarr.open_array(str(tmp_path / "t.zarr"), mode="w", shape=scan.shape, chunks=(4, 4, 8, 8), dtype="f4")
    z[:] = scan
    from sklearn_rvae._frames import frame_source

    source = frame_source(RotationInvariantVAE(), z, detector_shape=None, scan_shape=None, reset=True)
    step = source.storage_step()
    assert step == 2
    np.testing.assert_array_equal(np.concatenate([c for _, c in source.chunks(step)]), scan.reshape(64, 64))
    monkeypatch.setattr(_frames, "LAZY_CHUNK_BYTES", 8 * 64 * 4)  # whole tiles are 2x this: read whole
    assert source.storage_step() == 32


def test_memmap_through_a_pipeline_stays_lazy(tmp_path):
    scan = np.random.default_rng(0).poisson(50.0, size=(6, 10, 16, 16)).astype(np.uint16)
    mm = np.lib.format.open_memmap(tmp_path / "s.npy", mode="w+", dtype=scan.dtype, shape=scan.shape)
    mm[:] = scan
    mm.flush()
    data = np.load(tmp_path / "s.npy", mmap_mode="r")
    pre = DiffractionPreprocessor(subtract_mean=True, binning=2).fit(data)
    lazy = pre.transform(data)
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), DiffractionPreprocessor(subtract_mean=True, binning=2)
                               .fit(scan).transform(scan), rtol=1e-12)


def test_unwritten_zarr_chunks_are_reported(digits, tmp_path):
    z = zarr.open_array(str(tmp_path / "p.zarr"), mode="w", shape=digits.shape, chunks=(50, 256), dtype="f4")
    z[:200] = digits[:200]  # the last two chunks are never written
    with pytest.warns(UserWarning, match=r"has 2 of 6 chunks that were never written; zarr reads them as fill_value"):
        RotationInvariantVAE(**MODEL).fit(zarr.open_array(str(tmp_path / "p.zarr"), mode="r"))


def test_inference_on_a_cluster_sends_the_model_once(digits):
    """With a distributed client active, the fitted model is scattered to the workers once, not put in every
    block's task; the codes equal the in-memory ones."""
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    model = RotationInvariantVAE(**MODEL, device="cpu").fit(digits)
    lazy = da.from_array(digits, chunks=(30, digits.shape[1]))
    model_bytes = len(pickle.dumps(model))

    def largest_task(array):  # a distributed scheduler sends each task to its worker on its own
        return max(len(cloudpickle.dumps(task)) for task in dict(array.__dask_graph__()).values())

    assert largest_task(model.transform(lazy)) > model_bytes  # without a client, every block's task holds the model
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster):
        codes = model.transform(lazy)
        assert largest_task(codes) < model_bytes / 10  # a reference to the model, scattered once
        # Equal up to float64 rounding (blocks of 30 against batches of 100 sum in another order).
        np.testing.assert_allclose(codes.compute(), model.transform(digits), rtol=1e-12, atol=1e-12)
        pre = DiffractionPreprocessor(detector_shape=(16, 16)).fit(digits)
        np.testing.assert_allclose(pre.transform(lazy).compute(), pre.transform(digits), rtol=1e-12, atol=1e-12)
