"""Fits and inference side by side: threads per worker, and the engines that spread the work (joblib, dask)."""

from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, KFold
from skorch.callbacks import Callback

from sklearn_rvae import RotationInvariantVAE
from sklearn_rvae.datasets import make_rotated_digits


class ThreadsSeen(Callback):
    """Records torch's thread count at every epoch (cloned per fit: read it from net_.callbacks_)."""

    def initialize(self):
        self.seen = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.seen.append(torch.get_num_threads())


@pytest.fixture(scope="module")
def digits():
    return make_rotated_digits(size=12, max_angle=60, random_state=0)[0][:120]


def _threads(model):
    return dict(model.net_.callbacks_)["threads"].seen


def test_a_fit_in_a_worker_thread_uses_one_torch_thread(digits):
    small = dict(n_components=2, hidden_layer_sizes=(16,), max_epochs=2, batch_size=40, device="cpu", random_state=0,
                 callbacks=[("threads", ThreadsSeen())])
    main = RotationInvariantVAE(**small).fit(digits)
    assert _threads(main) == [torch.get_num_threads()] * 2
    with ThreadPoolExecutor(2) as pool:
        fitted = list(pool.map(lambda seed: RotationInvariantVAE(**{**small, "random_state": seed}).fit(digits),
                               [0, 1]))
    assert all(_threads(model) == [1, 1] for model in fitted)
    assert torch.get_num_threads() == _threads(main)[0]  # the main thread's own count is left as it was


def test_grid_search_on_a_dask_cluster_matches_the_local_one(digits):
    distributed = pytest.importorskip("distributed")
    model = RotationInvariantVAE(hidden_layer_sizes=(16,), max_epochs=3, batch_size=40, device="cpu", random_state=0)
    grid = {"n_components": [1, 2], "angle_prior": [10.0, 40.0]}
    local = GridSearchCV(model, grid, cv=KFold(2, shuffle=True, random_state=0)).fit(digits)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster), joblib.parallel_backend("dask"):
        spread = GridSearchCV(model, grid, cv=KFold(2, shuffle=True, random_state=0)).fit(digits)
    assert spread.best_params_ == local.best_params_
    # The workers train with one torch thread, the local run with this process's: sums may differ in the last bits.
    np.testing.assert_allclose(spread.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-6)


def test_a_fit_where_memory_is_trimmed_eagerly_keeps_its_allocations_on_the_heap(monkeypatch):
    """dask's workers set MALLOC_TRIM_THRESHOLD_, which fixes glibc's mmap threshold at 128 KiB: every batch's
    tensors became a fresh mmap and a fit ran twice as slow. The fit raises the threshold while it trains and
    puts it back; elsewhere it leaves the allocator alone."""
    from sklearn_rvae import _malloc

    calls = []

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))

    monkeypatch.setattr(_malloc, "_LIBC", FakeLibc())
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with _malloc.heap_kept_for_training():
        pass
    assert calls == []
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    X = make_rotated_digits(size=12, max_angle=60, random_state=0)[0][:60]
    RotationInvariantVAE(hidden_layer_sizes=(16,), max_epochs=1, batch_size=30, device="cpu", random_state=0).fit(X)
    assert calls == [(-3, 32 * 2**20), (-3, 128 * 1024)]
    calls.clear()
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1048576")  # the user's own threshold comes back
    with _malloc.heap_kept_for_training():
        pass
    assert calls == [(-3, 32 * 2**20), (-3, 1048576)]


def test_tilt_regressor_predicts_a_lazy_stack_of_patches_block_by_block(tmp_path):
    import dask.array as da
    import zarr

    from sklearn_rvae import TiltRegressor
    from sklearn_rvae.datasets import load_abf_fixture
    from sklearn_rvae.tilt import PairDecision

    X, y = load_abf_fixture()
    reg = TiltRegressor(conv_layers=(4, "pool", 4), fc_units=8, max_epochs=1, device="cpu", random_state=0,
                        pair_decision=PairDecision(n_neighbors=50, max_refinements=1)).fit(X[:96], y[:96])
    expected = reg.predict(X[96:])
    lazy = da.from_array(X[96:], chunks=(10, X.shape[1]))
    pred = reg.predict(lazy)
    assert isinstance(pred, da.Array) and pred.shape == expected.shape
    np.testing.assert_allclose(pred.compute(), expected, rtol=1e-10, atol=1e-10)
    store = zarr.open_array(str(tmp_path / "patches.zarr"), mode="w", shape=X[96:].shape, chunks=(16, X.shape[1]),
                            dtype=X.dtype)
    store[:] = X[96:]
    np.testing.assert_allclose(np.asarray(reg.predict(zarr.open_array(str(tmp_path / "patches.zarr"), mode="r"))),
                               expected, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="features"):
        reg.predict(da.from_array(X[96:, :100], chunks=(10, 100)))


def test_simulations_spread_over_an_active_cluster_give_the_local_images():
    """With a distributed client active, make_perovskite_abf sends its images to the workers and the 4D-STEM
    simulators compute abTEM's graph there: the same output as the local run for the same seed."""
    pytest.importorskip("abtem")
    distributed = pytest.importorskip("distributed")
    from sklearn_rvae.datasets import make_graphene_4dstem, make_perovskite_abf

    abf = dict(thickness_periods=1, potential_sampling=0.16, pixel_size=0.4, patch_size=12, semiangle=20.0,
               pixel_grid="cell", mid_plane_mirror=False, dose=1e5, patches_per_image=1, random_state=1)
    stem = dict(repeats=(4, 2), energy=80e3, semiangle=25.0, max_angle=30.0, potential_sampling=0.08, scan_step=0.9)
    local_abf = make_perovskite_abf(3, **abf)
    local_scan = make_graphene_4dstem(**stem)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) \
            as cluster, distributed.Client(cluster):
        with distributed.get_task_stream() as abf_tasks:
            spread_abf = make_perovskite_abf(3, **abf)
        with distributed.get_task_stream() as scan_tasks:
            spread_scan = make_graphene_4dstem(**stem)
    assert len(abf_tasks.data) >= 3 and len(scan_tasks.data) >= 1  # the work ran on the cluster
    np.testing.assert_array_equal(spread_abf[0], local_abf[0])
    np.testing.assert_array_equal(spread_abf[1], local_abf[1])
    np.testing.assert_allclose(spread_scan.data, local_scan.data, rtol=1e-6, atol=1e-9)


def test_two_processes_train_one_model_data_parallel(tmp_path):
    """In a torch.distributed process group (gloo), fit trains one model over the processes' shards: every
    process ends with the same model, the best of n_init chosen alike; early stopping is refused by name."""
    import socket

    import torch.multiprocessing as mp

    from tests._ddp_worker import fit_on_rank

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.spawn(fit_on_rank, args=(2, port, str(tmp_path)), nprocs=2)
    np.testing.assert_array_equal(np.load(tmp_path / "codes_0.npy"), np.load(tmp_path / "codes_1.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "losses_0.npy"), np.load(tmp_path / "losses_1.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "tilts_0.npy"), np.load(tmp_path / "tilts_1.npy"))
    assert "early_stopping" in (tmp_path / "error_0.txt").read_text()
