"""More than one worker on dask: inference over a 4-D scan and a grid search, 2 workers against 1 (issue 35).

Each part runs the same work twice in one run, side by side: on a
``LocalCluster(n_workers=1, threads_per_worker=1)`` and on a
``LocalCluster(n_workers=2, threads_per_worker=1)`` (this machine has 2
cores), workers as processes; the one-worker run goes first, then the
two-worker one, ``--rounds`` times alternated; the best of each is kept.
The workers import the package before the clock starts (a cluster pays
that once, not per scan or search), and zarr decodes with one thread per
worker (``--zarr-threads``): by default each worker's zarr starts a thread
per core, so two workers on two cores oversubscribe them (the two-worker run
was slower with zarr's default, the one-worker run faster, using the core
that dask left free).

``inference``
    The README's 4D-STEM pipeline (``DiffractionPreprocessor(subtract_mean=True,
    blur=1.5, binning=2)``, ``RotationInvariantVAE(2, translation=False)``) fitted
    in memory on every 4th scan row of a synthetic scan (``bench_out_of_core.scan_rows``:
    a deflected disk and a turning spot), then the whole scan, a zarr store of
    ``--scan`` x ``--scan`` positions of 64 x 64 uint16 in chunks of one scan row,
    transformed on the cluster (a lazy dask array per step, computed at the end).
    Reports patterns per second and checks the codes against the in-memory ones.
``search``
    ``GridSearchCV`` of 6 candidates (``n_components`` 2 / 4 x ``angle_prior`` 17.2 / 60 /
    180 degrees), 3-fold, over the rrVAE on preprocessed patterns, its fits sent to the
    two-worker cluster through joblib's dask backend, against the same search in this
    process at one torch thread: joblib runs a search on a one-worker cluster in the
    calling process anyway (with all of its threads), so that is the one-worker run.

``train``
    ``RotationInvariantVAE()`` fitted on rotated digits (1,797 images, ``--train-epochs``
    epochs, ``--train-batch`` over the group) in this process at one torch thread, then
    data-parallel in two single-thread processes (gloo, ``torch.multiprocessing``): the
    median epoch and the KMeans ARI of the codes, for each seed of ``--seeds``.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_distributed.py inference
    PYTHONPATH=. .venv/bin/python benchmarks/bench_distributed.py search
    PYTHONPATH=. .venv/bin/python benchmarks/bench_distributed.py train --seeds 0 1 2

Files go to ``--out`` (default ``benchmarks/out/distributed``, ignored by git).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from bench_com import cpu_model
from bench_out_of_core import scan_rows, write_scan

ROOT = Path(__file__).resolve().parent
DETECTOR = 64


def clusters(workers):
    """``(n_workers, LocalCluster)`` in turn: processes, one thread each, no dashboard."""
    from distributed import LocalCluster

    for n in workers:
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            yield n, cluster


def _warm_up(zarr_threads=None):
    """Import the package on a worker (its first task would otherwise pay for it, 2-3 s); cap zarr's threads."""
    import zarr

    import sklearn_rvae  # noqa: F401

    if zarr_threads:
        zarr.config.set({"threading.max_workers": zarr_threads})


def inference(args):
    import dask.array as da
    import zarr
    from distributed import Client
    from sklearn.pipeline import make_pipeline

    from sklearn_rvae import DiffractionPreprocessor, RotationInvariantVAE

    scan = (args.scan, args.scan)
    path = args.out / f"scan{args.scan}_d{DETECTOR}.zarr"
    write_scan(path, "zarr", scan, DETECTOR)
    store = zarr.open_array(str(path), mode="r")
    sample = scan_rows(scan, DETECTOR, range(0, scan[0], 4)).reshape(-1, DETECTOR * DETECTOR)
    pipe = make_pipeline(DiffractionPreprocessor(subtract_mean=True, blur=1.5, binning=2),
                         RotationInvariantVAE(2, translation=False, max_epochs=args.epochs, device="cpu",
                                              random_state=0)).fit(sample)
    lazy = da.from_zarr(store, chunks=(args.rows_per_block, scan[1], DETECTOR, DETECTOR))
    reference = pipe.transform(np.asarray(store[: args.check_rows]))
    n = scan[0] * scan[1]
    rates = {}
    for _ in range(args.rounds):
        for workers, cluster in clusters((1, 2)):
            with Client(cluster) as client:
                client.run(_warm_up, args.zarr_threads)  # once per cluster, not per scan: not timed
                t0 = time.perf_counter()
                codes = pipe.transform(lazy).compute()
                seconds = time.perf_counter() - t0
            rates.setdefault(workers, []).append(n / seconds)
            error = float(np.max(np.abs(codes[: len(reference)] - reference)))
            print(f"{workers} worker(s): {n / seconds:.0f} patterns/s ({seconds:.1f} s); codes against "
                  f"in memory: max difference {error:.2g}", flush=True)
    best = {w: max(r) for w, r in rates.items()}
    return {"scan": list(scan), "detector": DETECTOR, "rows_per_block": args.rows_per_block, "patterns_per_s": rates,
            "best": best, "speed_up": best[2] / best[1]}


def search(args):
    import joblib
    from distributed import Client
    from sklearn.model_selection import GridSearchCV, KFold

    from sklearn_rvae import DiffractionPreprocessor, RotationInvariantVAE

    raw = scan_rows((args.search_rows, 64), DETECTOR, range(args.search_rows)).reshape(-1, DETECTOR * DETECTOR)
    X = DiffractionPreprocessor(subtract_mean=True, blur=1.5, binning=2).fit_transform(raw)
    model = RotationInvariantVAE(translation=False, max_epochs=args.search_epochs, device="cpu", random_state=0)
    grid = {"n_components": [2, 4], "angle_prior": [17.2, 60.0, 180.0]}

    def run():
        return GridSearchCV(model, grid, cv=KFold(3, shuffle=True, random_state=0)).fit(X)

    import torch

    threads = torch.get_num_threads()
    seconds, local = {1: [], 2: []}, None
    for _ in range(args.rounds):
        # One worker with one thread: joblib runs a one-worker search in the calling process anyway
        # (its dask backend sends nothing to a cluster of one), so that is this process at one thread.
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        local = run()
        seconds[1].append(time.perf_counter() - t0)
        torch.set_num_threads(threads)
        print(f"one worker (this process, 1 thread): {seconds[1][-1]:.1f} s, best {local.best_params_}", flush=True)
        for workers, cluster in clusters((2,)):
            with Client(cluster) as client, joblib.parallel_backend("dask"):
                client.run(_warm_up)
                t0 = time.perf_counter()
                spread = run()
                seconds[workers].append(time.perf_counter() - t0)
            same = spread.best_params_ == local.best_params_
            scores = float(np.max(np.abs(spread.cv_results_["mean_test_score"] - local.cv_results_["mean_test_score"])))
            print(f"{workers} workers: {seconds[workers][-1]:.1f} s, best {spread.best_params_} "
                  f"({'the same' if same else 'NOT the same'}); scores against one worker: max difference "
                  f"{scores:.2g}", flush=True)
    best = {w: min(s) for w, s in seconds.items()}
    return {"patterns": list(X.shape), "candidates": 6, "folds": 3, "epochs": args.search_epochs,
            "seconds": seconds, "best_params": local.best_params_, "speed_up": best[1] / best[2]}


def _digits_fit(seed, epochs, batch):
    """The median epoch (s) and KMeans ARI of RotationInvariantVAE() on rotated digits."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from sklearn_rvae import RotationInvariantVAE
    from sklearn_rvae.datasets import make_rotated_digits

    X, y, _ = make_rotated_digits(size=20, max_angle=60, random_state=0)
    model = RotationInvariantVAE(max_epochs=epochs, batch_size=batch, device="cpu", random_state=seed).fit(X)
    ari = adjusted_rand_score(y, KMeans(10, n_init=10, random_state=0).fit_predict(model.transform(X)))
    return float(np.median(model.history_["dur"])), float(ari)


def _train_on_rank(rank, world, port, seed, epochs, batch, out):
    import os

    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        result = _digits_fit(seed, epochs, batch)
        if rank == 0:
            Path(out).write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def train(args):
    import socket

    import torch
    import torch.multiprocessing as mp

    torch.set_num_threads(1)
    rows = []
    for seed in args.seeds:
        epoch, ari = _digits_fit(seed, args.train_epochs, args.train_batch)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        out = args.out / f"ddp_seed{seed}.json"
        mp.spawn(_train_on_rank, args=(2, port, seed, args.train_epochs, args.train_batch, str(out)), nprocs=2)
        ddp_epoch, ddp_ari = json.loads(out.read_text())
        rows.append({"seed": seed, "one_process_epoch_s": epoch, "one_process_ari": ari,
                     "two_processes_epoch_s": ddp_epoch, "two_processes_ari": ddp_ari})
        print(f"seed {seed}: one process {epoch:.3f} s/epoch, ARI {ari:.3f}; two processes {ddp_epoch:.3f} s/epoch, "
              f"ARI {ddp_ari:.3f}", flush=True)
    return {"epochs": args.train_epochs, "batch_over_the_group": args.train_batch, "runs": rows,
            "speed_up": float(np.median([r["one_process_epoch_s"] / r["two_processes_epoch_s"] for r in rows]))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["inference", "search", "train"])
    parser.add_argument("--scan", type=int, default=128, help="positions per side of the inference scan")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the inference model's fit")
    parser.add_argument("--zarr-threads", type=int, default=1,
                        help="zarr's decoding threads per worker; 0: zarr's default, as many as the cores")
    parser.add_argument("--rows-per-block", type=int, default=1, help="scan rows per dask block of the inference")
    parser.add_argument("--check-rows", type=int, default=512, help="patterns checked against in-memory codes")
    parser.add_argument("--search-rows", type=int, default=16, help="scan rows of 64 positions for the search")
    parser.add_argument("--search-epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--train-epochs", type=int, default=20)
    parser.add_argument("--train-batch", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "distributed")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {cpu_model()}", flush=True)
    result = {"inference": inference, "search": search, "train": train}[args.part](args)
    result["machine"] = cpu_model()
    print(json.dumps(result, default=str))
    (args.out / f"{args.part}.json").write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())
