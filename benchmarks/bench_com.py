"""COMTransformer speed: against the memory read floor, numpy and LiberTEM; out-of-core.

Measures, in one run and in alternation (round-robin, best of --rounds):

* the read floor: ``torch.from_numpy(cube.reshape(-1, 128)).sum(1)`` on the
  float32 cube, and the same pass over the uint16 cube's bytes (viewed as
  float32, so it is the same memory read of half as many bytes);
* ``numpy cube.sum(axis=(2, 3))``;
* ``COMTransformer.transform`` on the float32 and on the uint16 cube (with
  the fused numba kernel, and without it: the torch buffer path);
* LiberTEM's ``CoMUDF`` with two threads on both cubes (a persistent process
  in the peer venv, ``benchmarks/_peer_com.py``), with a cross-check that it
  computes the same shifts.

Then, unless ``--no-out-of-core``: the cube written to HDF5 and to zarr, and
fit + transform run in a child process whose address space is limited to
what it had after start-up plus ``--memory-limit-mb`` (the cube is at least
4x larger). The child also tries to load the whole cube under that limit,
which must fail, so the limit is shown to be real.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_com.py            # 64x64x128x128
    PYTHONPATH=. .venv/bin/python benchmarks/bench_com.py --scan 32 --detector 64 --rounds 2 --no-peer
"""

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from _peers import PEER_PYTHON, peer_env, require_peers  # the peers' venv (benchmarks/peers/setup.sh)
from sklearn_rvae import COMTransformer

ROOT = Path(__file__).resolve().parent


def make_cube(scan, detector, seed=0):
    """Poisson counts of a bright-field disk that moves a little across the scan."""
    rng = np.random.default_rng(seed)
    ky = kx = detector
    yy, xx = np.mgrid[:ky, :kx]
    cube = np.empty((scan, scan, ky, kx), dtype=np.uint16)
    shifts = rng.normal(scale=1.5, size=(scan, scan, 2))
    r = detector / 5
    for i in range(scan):
        disk = np.hypot(yy[None] - ky / 2 - shifts[i, :, 1, None, None], xx[None] - kx / 2 - shifts[i, :, 0, None, None]) < r
        cube[i] = rng.poisson(disk * 200.0 + 2.0).astype(np.uint16)
    return cube


def best_time(fn, state):
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    state.append(seconds)


class Peer:
    def __init__(self, cubes, out):
        args = [f"{name}={path}" for name, path in cubes.items()]
        env = peer_env()
        self.proc = subprocess.Popen(
            [str(PEER_PYTHON), str(ROOT / "_peer_com.py"), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=out,
        )
        assert json.loads(self.proc.stdout.readline())["ready"]

    def run(self, name):
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def in_memory(args, out):
    cube_u16 = make_cube(args.scan, args.detector)
    cube_f32 = cube_u16.astype(np.float32)
    k = args.detector
    com = {}
    for name, cube in (("float32", cube_f32), ("uint16", cube_u16)):
        com[name] = COMTransformer().fit(cube)
        com[name].transform(cube)  # warm up
    plain = COMTransformer(center=((k - 1) / 2, (k - 1) / 2), rotation_deg=0, flip=False, descan=False).fit(cube_f32)

    peer = None
    if args.peer:
        require_peers("the LiberTEM comparison (else --no-peer)")
        paths = {}
        for name, cube in (("float32", cube_f32), ("uint16", cube_u16)):
            paths[name] = out / f"cube_{name}.npy"
            np.save(paths[name], cube)
        peer = Peer(paths, out)
        for name in paths:  # warm up, and cross-check the shifts
            reply = peer.run(name)
            theirs = np.load(reply["com"])
            ours = plain.transform(cube_f32).reshape(theirs.shape)
            print(f"LiberTEM vs ours ({name}): max |shift difference| = {np.abs(theirs - ours).max():.2e} px")

    # The path users without numba get (float32 buffer + matmul per chunk),
    # and both float32 kernels side by side, whichever "auto" chose.
    forced = {}
    for kernel, cube in (("matmul", cube_u16), ("matmul", cube_f32), ("fused", cube_f32)):
        forced[kernel, cube.dtype.name] = est = COMTransformer(kernel=kernel).fit(cube)
        est.transform(cube)  # warm up
    difference = np.abs(forced["fused", "float32"].transform(cube_f32) - forced["matmul", "float32"].transform(cube_f32))
    print(f"float32, fused kernel vs torch matmul: max |shift difference| = {difference.max():.2e} px")
    u16_bytes = torch.from_numpy(cube_u16.view(np.float32).reshape(-1, k // 2))
    methods = {
        "read floor (float32 cube)": (cube_f32.nbytes, lambda: torch.from_numpy(cube_f32.reshape(-1, k)).sum(1)),
        "read floor (uint16 cube bytes)": (cube_u16.nbytes, lambda: u16_bytes.sum(1)),
        "numpy sum(axis=(2, 3)) float32": (cube_f32.nbytes, lambda: cube_f32.sum(axis=(2, 3))),
        "COMTransformer float32": (cube_f32.nbytes, lambda: com["float32"].transform(cube_f32)),
        "  float32, torch matmul forced": (cube_f32.nbytes, lambda: forced["matmul", "float32"].transform(cube_f32)),
        "  float32, fused kernel forced": (cube_f32.nbytes, lambda: forced["fused", "float32"].transform(cube_f32)),
        "COMTransformer uint16": (cube_u16.nbytes, lambda: com["uint16"].transform(cube_u16)),
        "COMTransformer uint16 without numba": (cube_u16.nbytes, lambda: forced["matmul", "uint16"].transform(cube_u16)),
        "COMTransformer float32, disk mask": (cube_f32.nbytes, lambda: masked.transform(cube_f32)),
    }
    masked = COMTransformer(mask=k / 4).fit(cube_f32)
    if peer is not None:
        methods["LiberTEM CoMUDF 2 threads float32"] = (cube_f32.nbytes, lambda: peer.run("float32")["seconds"])
        methods["LiberTEM CoMUDF 2 threads uint16"] = (cube_u16.nbytes, lambda: peer.run("uint16")["seconds"])
    times = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, (_, fn) in methods.items():
            if name.startswith("LiberTEM"):
                times[name].append(fn())  # timed inside the peer, start-up excluded
            else:
                best_time(fn, times[name])
    if peer is not None:
        peer.close()
    rows = {name: methods[name][0] / min(t) / 1e9 for name, t in times.items()}
    return rows, cube_f32.nbytes


def out_of_core(args, out):
    import h5py
    import zarr

    cube = make_cube(args.scan, args.detector).astype(np.float32)
    results = {}
    h5 = out / "cube.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("data", data=cube, chunks=(1,) + cube.shape[1:])
    zpath = out / "cube.zarr"
    z = zarr.open_array(str(zpath), mode="w", shape=cube.shape, chunks=(1,) + cube.shape[1:], dtype=cube.dtype)
    z[:] = cube
    reference = COMTransformer().fit(cube).transform(cube)
    np.save(out / "reference.npy", reference)
    del cube
    for fmt, path in (("hdf5", h5), ("zarr", zpath)):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", fmt, str(path), str(args.memory_limit_mb), str(out / "reference.npy")],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            sys.exit(proc.stderr)
        results[fmt] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


def _status_kb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def child(fmt, path, limit_mb, reference):
    """Fit and transform a file-backed cube under an address-space limit."""
    if fmt == "hdf5":
        import h5py

        data = h5py.File(path, "r")["data"]
    else:
        import zarr

        data = zarr.open_array(path, mode="r")
    # Warm up torch's thread pool and allocator on a small cube first.
    small = np.random.default_rng(0).random((2, 2) + tuple(data.shape[2:]), dtype=np.float32)
    COMTransformer().fit(small).transform(small)
    vm_kb = _status_kb("VmSize")
    rss_before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set (VmHWM) to the current one
    limit = vm_kb * 1024 + limit_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    # Chunks of an eighth of the budget: the chunk read, its float32 view and
    # the allocator's slack must all fit.
    frame_bytes = int(np.prod(data.shape[2:])) * 4
    chunk_size = max(1, limit_mb * 2**20 // 8 // frame_bytes)
    t0 = time.perf_counter()
    com = COMTransformer(chunk_size=chunk_size).fit(data)
    t1 = time.perf_counter()
    result = com.transform(data)
    t2 = time.perf_counter()
    rss_peak = _status_kb("VmHWM")
    match = float(np.abs(result - np.load(reference)).max())
    try:
        whole = data[...]
        whole_load = f"loaded {whole.nbytes / 2**20:.0f} MiB (the limit did not bite)"
    except MemoryError:
        whole_load = "MemoryError (as it must)"
    nbytes = int(np.prod(data.shape)) * data.dtype.itemsize
    print(json.dumps({
        "cube_mib": nbytes / 2**20,
        "limit_mib": limit_mb,
        "chunk_mib": chunk_size * frame_bytes / 2**20,
        "fit_gbps": nbytes / (t1 - t0) / 1e9,
        "transform_gbps": nbytes / (t2 - t1) / 1e9,
        "peak_rss_growth_mib": (rss_peak - rss_before) / 1024,
        "max_abs_difference_vs_memory": match,
        "loading_whole_cube": whole_load,
    }))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scan", type=int, default=64)
    parser.add_argument("--detector", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-peer", dest="peer", action="store_false")
    parser.add_argument("--no-out-of-core", dest="ooc", action="store_false")
    parser.add_argument("--memory-limit-mb", type=int, default=48)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "com")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fmt, path, limit, reference = args.child
        child(fmt, path, int(limit), reference)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        numba = "numba " + importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:
        numba = "no numba"
    probe = np.ones((4, args.detector, args.detector))
    kernels = ", ".join(f"{d}: {COMTransformer(descan=False).fit(probe.astype(d)).kernel_}" for d in ("float32", "uint16"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"{cpu_model()}; {numba}; kernels chosen here: {kernels}")
    rows, nbytes = in_memory(args, args.out)
    floor = rows["read floor (float32 cube)"]
    print(f"\nIn memory, {args.scan}x{args.scan}x{args.detector}x{args.detector} "
          f"({nbytes / 2**20:.0f} MiB float32), best of {args.rounds} alternated rounds:")
    print(f"{'method':40s} {'GB/s':>7s} {'x float32 floor':>16s}")
    for name, gbps in rows.items():
        print(f"{name:40s} {gbps:7.2f} {gbps / floor:16.2f}")
    for dtype in ("float32", "uint16"):
        peer = rows.get(f"LiberTEM CoMUDF 2 threads {dtype}")
        if peer:
            print(f"COMTransformer / LiberTEM ({dtype}): {rows[f'COMTransformer {dtype}'] / peer:.2f}x")
    ours_u16 = rows["COMTransformer uint16"]
    # Two readings of "0.6x the read floor" for integer input: per frame (the
    # uint16 cube processed against the time to read the float32 cube, i.e.
    # the GB/s of the float32 equivalent), and per byte (against a read of the
    # uint16 cube's own, half as many, bytes).
    print(f"uint16, per frame (float32-equivalent GB/s / float32 floor): {2 * ours_u16 / floor:.2f}x; "
          f"per byte (against the uint16 bytes' floor): {ours_u16 / rows['read floor (uint16 cube bytes)']:.2f}x")
    result = {"in_memory_gbps": rows}
    if args.ooc:
        ooc = out_of_core(args, args.out)
        print("\nOut of core (fit + transform in a child with an address-space limit):")
        for fmt, r in ooc.items():
            print(f"  {fmt}: cube {r['cube_mib']:.0f} MiB, limit {r['limit_mib']} MiB "
                  f"({r['cube_mib'] / r['limit_mib']:.1f}x), chunks {r['chunk_mib']:.0f} MiB, fit {r['fit_gbps']:.2f} GB/s, transform "
                  f"{r['transform_gbps']:.2f} GB/s, peak RSS growth {r['peak_rss_growth_mib']:.0f} MiB, "
                  f"max |diff| vs in-memory {r['max_abs_difference_vs_memory']:.1e}; whole-cube load: "
                  f"{r['loading_whole_cube']}")
        result["out_of_core"] = ooc
    (args.out / "results.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
