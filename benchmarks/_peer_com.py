"""LiberTEM's CoMUDF as a persistent peer process (runs in the peer venv).

Started by bench_com.py with the paths of the cubes (.npy) on the command
line; loads them into memory, then for every line ``<name>`` read on stdin
runs CoMUDF once on that cube with two threads and prints a JSON line with
the wall time. The first request per cube also returns the COM maps (.npy
beside the cube) for a correctness cross-check.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
from libertem.api import Context
from libertem.udf.com import CoMParams, CoMUDF


def main():
    paths = dict(arg.split("=", 1) for arg in sys.argv[1:])
    cubes = {name: np.load(path) for name, path in paths.items()}
    ctx = Context.make_with("threads", cpus=2)
    datasets = {name: ctx.load("memory", data=cube, sig_dims=2) for name, cube in cubes.items()}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            continue
        cube = cubes[name]
        ky, kx = cube.shape[-2:]
        # Centre (ky-1)/2, (kx-1)/2 in pixel-index coordinates, as COMTransformer(center=...).
        udf = CoMUDF(CoMParams(cy=(ky - 1) / 2, cx=(kx - 1) / 2))
        t0 = time.perf_counter()
        res = ctx.run_udf(dataset=datasets[name], udf=udf)
        seconds = time.perf_counter() - t0
        field = np.stack([res["raw_shifts"].data[..., 1], res["raw_shifts"].data[..., 0]], -1)
        out = str(Path(paths[name]).with_name(f"com_{name}.npy"))  # beside the cube, in the output folder
        np.save(out, field)
        print(json.dumps({"seconds": seconds, "com": out}), flush=True)


if __name__ == "__main__":
    main()
