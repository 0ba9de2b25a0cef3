"""Learning from scans larger than memory: memory, speed and partial_fit of the rrVAE pipeline (issue 33).

The pipeline is the 4D-STEM one of the README::

    make_pipeline(DiffractionPreprocessor(subtract_mean=True, blur=1.5, binning=B),
                  RotationInvariantVAE(2, translation=False))

on a synthetic scan: a bright-field disk deflected across the scan plus a
diffracted spot whose angle turns with the position (so the rotation model
has something to remove). Parts, each a subcommand:

``memory``
    The scan written to zarr and HDF5 at two sizes (uint16 counts). Each
    file is fitted (one epoch) and transformed in a child process whose
    address space is capped at what it had after start-up plus
    ``--memory-limit-mb``; the larger scan is at least 4x that cap. Reports
    the peak resident memory above the starting point (VmHWM - VmRSS),
    wall times and patterns per second; the child also tries to load the
    whole scan, which must fail.
``speed``
    Preprocessed patterns (float32) in memory against the same patterns in
    a zarr store in the page cache: ``RotationInvariantVAE.fit`` alternated,
    patterns per second of each, best of ``--rounds``.
``realsize``
    A 256 x 256 scan of 256 x 256 uint16 (8.6 GB) written to zarr, binned
    to 64 x 64, fitted for one epoch and transformed, with wall time,
    patterns per second and peak memory (no cap: the machine's memory).
``partial``
    ``partial_fit`` over the chunks of a zarr scan, the held-out ELBO after
    each call; then ``dask_ml.wrappers.Incremental`` when dask-ml imports.

Usage::

    .venv/bin/python benchmarks/bench_out_of_core.py speed
    .venv/bin/python benchmarks/bench_out_of_core.py memory --scan 128 384 --detector 128
    .venv/bin/python benchmarks/bench_out_of_core.py realsize
    .venv/bin/python benchmarks/bench_out_of_core.py partial

Files go to ``--out`` (default ``benchmarks/out/out_of_core``, ignored by
git); the JSON results are printed and saved there.
"""

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_com import _status_kb, cpu_model  # the process's memory from /proc, the CPU's name

ROOT = Path(__file__).resolve().parent


def scan_rows(scan, detector, rows, seed=0, dose=200.0):
    """Frames of scan rows ``rows`` (a range) of the synthetic scan, uint16, shape (len(rows), sx, k, k)."""
    sy, sx = scan
    k = detector
    ky, kx = np.mgrid[:k, :k].astype(np.float32)
    c = (k - 1) / 2
    out = np.empty((len(rows), sx, k, k), dtype=np.uint16)
    for i, r in enumerate(rows):
        rng = np.random.default_rng([seed, r])
        cols = np.arange(sx)
        dx = 0.04 * k * np.sin(2 * np.pi * cols / 16)
        dy = np.full(sx, 0.04 * k * np.cos(2 * np.pi * r / 16))
        angle = 2 * np.pi * ((r // 8 + cols // 8) % 6) / 6 + 0.3 * np.sin(cols / 5.0)
        sr, sc = c + 0.3 * k * np.sin(angle), c + 0.3 * k * np.cos(angle)
        disk = np.hypot(ky - c - dy[:, None, None], kx - c - dx[:, None, None]) < 0.12 * k
        spot = np.exp(-((ky - sr[:, None, None]) ** 2 + (kx - sc[:, None, None]) ** 2) / (2 * (0.04 * k) ** 2))
        out[i] = rng.poisson(dose * (disk + 0.5 * spot + 0.02)).astype(np.uint16)
    return out


def write_scan(path, fmt, scan, detector, seed=0, rows_per_chunk=1, cols_per_chunk=None):
    """The synthetic scan written row block by row block (never whole in memory), unless already there.

    Chunks of ``rows_per_chunk`` scan rows and ``cols_per_chunk`` columns (whole rows by default).
    Written under a temporary name and renamed when complete, so an interrupted run leaves no
    partial file behind to be taken for the scan.
    """
    path = Path(path)
    if path.exists():
        return
    partial = path.with_name(path.name + ".partial")
    if partial.is_dir():
        shutil.rmtree(partial)
    elif partial.exists():
        partial.unlink()
    _write_scan(partial, fmt, scan, detector, seed, rows_per_chunk, cols_per_chunk)
    partial.rename(path)


def _write_scan(path, fmt, scan, detector, seed, rows_per_chunk, cols_per_chunk):
    shape = (*scan, detector, detector)
    chunks = (rows_per_chunk, cols_per_chunk or scan[1], detector, detector)
    if fmt == "zarr":
        import zarr

        store = zarr.open_array(str(path), mode="w", shape=shape, chunks=chunks, dtype=np.uint16)
        for r in range(0, scan[0], rows_per_chunk):
            store[r : r + rows_per_chunk] = scan_rows(scan, detector, range(r, min(r + rows_per_chunk, scan[0])), seed)
        return
    import h5py

    with h5py.File(path, "w") as f:
        dset = f.create_dataset("data", shape=shape, chunks=chunks, dtype=np.uint16)
        for r in range(0, scan[0], rows_per_chunk):
            dset[r : r + rows_per_chunk] = scan_rows(scan, detector, range(r, min(r + rows_per_chunk, scan[0])), seed)


def open_scan(path, fmt):
    if fmt == "zarr":
        import zarr

        return zarr.open_array(str(path), mode="r")
    import h5py

    return h5py.File(path, "r")["data"]


def pipeline(binning, epochs=1, seed=0):
    from sklearn.pipeline import make_pipeline

    from sklearn_rvae import DiffractionPreprocessor, RotationInvariantVAE

    return make_pipeline(
        DiffractionPreprocessor(subtract_mean=True, blur=1.5, binning=binning),
        RotationInvariantVAE(2, translation=False, max_epochs=epochs, random_state=seed),
    )


def run_pipeline(data, binning, limit_mb=None):
    """Fit (one epoch) and transform ``data``; times, patterns per second, peak memory above the start."""
    import torch

    torch.set_num_threads(torch.get_num_threads())
    # Warm up torch's thread pool and allocator on a small in-memory scan first.
    small = scan_rows((2, 8), data.shape[-1], range(2))
    pipeline(binning).fit(small).transform(small)
    rss_before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set (VmHWM) to the current one
    if limit_mb is not None:
        limit = _status_kb("VmSize") * 1024 + limit_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    n = int(np.prod(data.shape[:2]))
    pipe = pipeline(binning)
    phases = {}

    def phase(name):
        # The peak of the phase just ended, then the peak is reset for the next.
        phases[name] = (_status_kb("VmHWM") - rss_before) / 1024
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    # What Pipeline.fit does (fit_transform is fit then transform for the preprocessor), by phases.
    t0 = time.perf_counter()
    pipe[0].fit(data)
    phase("preprocessor_fit")
    pipe[-1].fit(pipe[0].transform(data))
    phase("rvae_fit")
    t1 = time.perf_counter()
    # Written block by block into an array (transform's out=), as a user stores codes of a large scan.
    codes = pipe[-1].transform(pipe[0].transform(data), out=np.empty((n, 2)))
    t2 = time.perf_counter()
    phase("transform")
    whole = "not tried"
    if limit_mb is not None:
        try:
            whole = f"loaded {data[...].nbytes / 2**20:.0f} MiB (the limit did not bite)"
        except MemoryError:
            whole = "MemoryError (as it must)"
    nbytes = int(np.prod(data.shape)) * data.dtype.itemsize
    return {
        "scan": list(data.shape), "scan_gib": nbytes / 2**30, "limit_mib": limit_mb,
        "fit_s": t1 - t0, "transform_s": t2 - t1,
        "fit_patterns_per_s": n / (t1 - t0), "transform_patterns_per_s": n / (t2 - t1),
        "peak_rss_growth_mib": max(phases.values()), "peak_rss_growth_by_phase_mib": phases,
        "codes_finite": bool(np.all(np.isfinite(codes))), "n_codes": len(codes),
        "loading_whole_scan": whole,
    }


def child(argv):
    fmt, path, binning, limit = argv[0], argv[1], int(argv[2]), int(argv[3])
    data = open_scan(path, fmt)
    print(json.dumps(run_pipeline(data, binning, None if limit <= 0 else limit)))


def in_child(fmt, path, binning, limit_mb):
    proc = subprocess.run(
        [sys.executable, __file__, "--child", fmt, str(path), str(binning), str(limit_mb)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory(args):
    results = {}
    for side in args.scan:
        for fmt in args.formats:
            path = args.out / f"scan{side}_c{args.chunk_cols}.{'zarr' if fmt == 'zarr' else 'h5'}"
            write_scan(path, fmt, (side, side), args.detector, cols_per_chunk=args.chunk_cols)
            r = in_child(fmt, path, args.binning, args.memory_limit_mb)
            results[f"{fmt} {side}x{side}"] = r
            print(f"{fmt} {side}x{side} ({r['scan_gib']:.2f} GiB): fit {r['fit_s']:.0f} s "
                  f"({r['fit_patterns_per_s']:.0f} patterns/s), transform {r['transform_s']:.0f} s, "
                  f"peak above start {r['peak_rss_growth_mib']:.0f} MiB; whole scan: {r['loading_whole_scan']}",
                  flush=True)
    return results


def speed(args):
    import zarr

    from sklearn_rvae import DiffractionPreprocessor, RotationInvariantVAE

    scan = (args.speed_scan, args.speed_scan)
    raw = np.concatenate([scan_rows(scan, args.detector, range(r, min(r + 8, scan[0]))) for r in range(0, scan[0], 8)])
    patterns = DiffractionPreprocessor(subtract_mean=True, blur=1.5, binning=args.binning).fit_transform(raw)
    patterns = patterns.reshape(-1, patterns.shape[-1]).astype(np.float32)
    del raw
    path = args.out / "patterns.zarr"
    store = zarr.open_array(str(path), mode="w", shape=patterns.shape, chunks=(256, patterns.shape[1]),
                            dtype=patterns.dtype)
    store[:] = patterns
    stored = zarr.open_array(str(path), mode="r")
    np.asarray(stored[:])  # into the page cache
    model = dict(n_components=2, translation=False, max_epochs=args.speed_epochs, random_state=0)
    runs = {"memory": [], "zarr": []}
    for _ in range(args.rounds):
        for name, X in (("memory", patterns), ("zarr", stored)):
            t0 = time.perf_counter()
            fitted = RotationInvariantVAE(**model).fit(X)
            total = time.perf_counter() - t0
            epochs = fitted.history_["dur"].to_numpy()
            runs[name].append({"fit_s": total, "epochs_s": epochs.tolist(), "outside_epochs_s": total - epochs.sum()})
    n = len(patterns)
    # Training speed: the mean epoch of the best round; the rest of a fit (statistics pass,
    # set-up) is reported apart.
    best = {k: min(v, key=lambda r: r["fit_s"]) for k, v in runs.items()}
    pps = {k: n / np.mean(r["epochs_s"]) for k, r in best.items()}
    out = {
        "patterns": list(patterns.shape), "epochs": args.speed_epochs, "rounds": args.rounds,
        "memory_training_patterns_per_s": pps["memory"], "zarr_training_patterns_per_s": pps["zarr"],
        "ratio_zarr_to_memory_training": pps["zarr"] / pps["memory"],
        "ratio_zarr_to_memory_whole_fit": best["memory"]["fit_s"] / best["zarr"]["fit_s"],
        "runs": runs,
    }
    print(f"training: {pps['memory']:.0f} patterns/s in memory, {pps['zarr']:.0f} from zarr "
          f"(ratio {out['ratio_zarr_to_memory_training']:.2f}); whole fit of {args.speed_epochs} epoch(s) "
          f"{best['memory']['fit_s']:.1f} s against {best['zarr']['fit_s']:.1f} s "
          f"(outside the epochs: {best['memory']['outside_epochs_s']:.1f} s, {best['zarr']['outside_epochs_s']:.1f} s)",
          flush=True)
    return out


def realsize(args):
    path = args.out / "real256.zarr"
    t0 = time.perf_counter()
    write_scan(path, "zarr", (256, 256), 256, rows_per_chunk=1)
    print(f"{path}: {time.perf_counter() - t0:.0f} s to write (0 if it was there)", flush=True)
    return in_child("zarr", path, 4, 0)


def partial(args):
    import dask.array as da
    import zarr

    from sklearn_rvae import DiffractionPreprocessor, RotationInvariantVAE

    path = args.out / "partial.zarr"
    write_scan(path, "zarr", (64, 64), 64, rows_per_chunk=4)
    data = zarr.open_array(str(path), mode="r")
    held_out = scan_rows((64, 64), 64, range(64), seed=1)[::4]  # other noise, every 4th row
    pre = DiffractionPreprocessor(subtract_mean=True, blur=1.5, binning=2).fit(data)
    test = pre.transform(held_out)
    rvae = RotationInvariantVAE(2, translation=False, random_state=0)
    elbo = []
    for r in range(0, 64, 4):
        rvae.partial_fit(pre.transform(data[r : r + 4]))
        elbo.append(rvae.score(test))
        print(f"partial_fit on scan rows {r}-{r + 3}: held-out ELBO {elbo[-1]:.1f}", flush=True)
    out = {"held_out_elbo": elbo, "rising_calls": int(np.sum(np.diff(elbo) > 0)), "calls": len(elbo)}
    try:
        from dask_ml.wrappers import Incremental
    except ImportError as exc:
        out["incremental"] = f"dask-ml not importable: {exc}"
        return out
    X = pre.transform(da.from_array(data, chunks=(4, 64, 64, 64)))
    inc = Incremental(RotationInvariantVAE(2, translation=False, random_state=0), random_state=0).fit(X)
    out["incremental_calls"] = int(inc.estimator_.n_iter_)
    out["incremental_held_out_elbo"] = inc.estimator_.score(test)
    print(f"Incremental over {X.numblocks[0]} blocks: {out['incremental_calls']} partial_fit calls, "
          f"held-out ELBO {out['incremental_held_out_elbo']:.1f}", flush=True)
    return out


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["memory", "speed", "realsize", "partial"])
    parser.add_argument("--scan", type=int, nargs="+", default=[128, 384], help="scan sides for memory")
    parser.add_argument("--detector", type=int, default=128)
    parser.add_argument("--binning", type=int, default=2)
    parser.add_argument("--memory-limit-mb", type=int, default=1024)
    parser.add_argument("--formats", nargs="+", default=["zarr", "hdf5"], choices=["zarr", "hdf5"])
    parser.add_argument("--chunk-cols", type=int, default=128,
                        help="scan columns per stored chunk (one scan row each), the same at every size")
    parser.add_argument("--speed-scan", type=int, default=128)
    parser.add_argument("--speed-epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "out_of_core")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import sklearn_rvae

    result = {"part": args.part, "argv": sys.argv, "cpu": cpu_model(), "version": sklearn_rvae.__version__,
              "result": globals()[args.part](args)}
    name = args.part if args.part != "memory" or args.formats == ["zarr", "hdf5"] else f"memory_{'_'.join(args.formats)}"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
