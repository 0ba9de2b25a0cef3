"""Broken files for io.load_4dstem: missing, empty, truncated, of another format than the suffix says,
directories, zarr stores with a deleted or corrupt chunk, HDF5 files with no, two or a wrong
dataset, data with NaN, strings, objects or the wrong number of dimensions; valid files must load
and fit. The files are written to a temporary directory that ``build`` returns.
"""

import os
import tempfile

import numpy as np

from .fixtures import com_est, com_frames, with_value
from .harness import E, O, TMPDIR, add, equal_pair


def build():
    """Add the 'files' cases to CASES, in order; return the temporary directory."""
    from sklearn_rvae.io import load_4dstem

    cat = "files"
    tmp = tempfile.mkdtemp(prefix="rvae_sweep_")
    TMPDIR[:] = [tmp]
    cube = np.round(com_frames().reshape(4, 4, 8, 8)).astype(np.uint16)

    def path(name):
        return os.path.join(tmp, name)

    def load_and_fit(p, **kw):
        data, _ = load_4dstem(p, **kw)
        return com_est(scan_shape=None).fit(data).transform(data)

    def write_npy(name, arr=cube):
        np.save(path(name), arr)
        return path(name)

    def write_bytes(name, content):
        with open(path(name), "wb") as fh:
            fh.write(content)
        return path(name)

    def write_h5(name, **datasets):
        import h5py

        with h5py.File(path(name), "w") as fh:
            for k, v in datasets.items():
                fh.create_dataset(k, data=v)
        return path(name)

    def write_zarr(name, group=False):
        import zarr

        if group:
            g = zarr.open_group(path(name), mode="w")
            for k in ("a", "b"):
                arr = g.create_array(k, shape=cube.shape, chunks=(1, 4, 8, 8), dtype=cube.dtype)
                arr[:] = cube
        else:
            arr = zarr.open_array(path(name), mode="w", shape=cube.shape, chunks=(1, 4, 8, 8), dtype=cube.dtype)
            arr[:] = cube
        return path(name)

    def chunk_file(p):
        for root, _, files in sorted(os.walk(p)):
            for fname in sorted(files):
                if not fname.endswith(".json") and not fname.startswith(".z"):
                    return os.path.join(root, fname)
        raise RuntimeError("no chunk file")

    def truncated(src, name, keep=0.5):
        raw = open(src, "rb").read()
        return write_bytes(name, raw[: int(len(raw) * keep)])

    def deleted_chunk():
        p = write_zarr("deleted.zarr")
        os.remove(chunk_file(p))
        return p

    def corrupt_chunk():
        p = write_zarr("corrupt.zarr")
        with open(chunk_file(p), "wb") as fh:
            fh.write(b"\x00garbage" * 7)
        return p

    def directory(name):
        os.makedirs(path(name), exist_ok=True)
        return path(name)

    file_cases = [
        ("missing .npy", lambda: path("missing.npy"), {}, E),
        ("missing .h5", lambda: path("missing.h5"), {}, E),
        ("valid .npy uint16 4-D", lambda: write_npy("ok.npy"), {}, O),
        ("valid .npy big-endian >u2", lambda: write_npy("big.npy", cube.astype(">u2")), {}, O),
        ("valid .npy 3-D float32", lambda: write_npy("stack.npy", cube.reshape(16, 8, 8).astype(np.float32)), {}, O),
        ("valid .h5 4-D", lambda: write_h5("ok.h5", data=cube), {}, O),
        ("valid .zarr array", lambda: write_zarr("ok.zarr"), {}, O),
        ("empty .npy (0 bytes)", lambda: write_bytes("empty.npy", b""), {}, E),
        ("empty .h5 (0 bytes)", lambda: write_bytes("empty.h5", b""), {}, E),
        ("empty .mib (0 bytes)", lambda: write_bytes("empty.mib", b""), {}, E),
        ("truncated .npy", lambda: truncated(write_npy("full.npy"), "trunc.npy"), {}, E),
        ("truncated .h5", lambda: truncated(write_h5("full.h5", data=cube), "trunc.h5"), {}, E),
        ("text file named .npy", lambda: write_bytes("text.npy", b"hello world\n" * 20), {}, E),
        ("npy bytes named .h5", lambda: write_bytes("npy_as.h5", open(write_npy("src.npy"), "rb").read()), {}, E),
        ("HDF5 bytes named .npy", lambda: write_bytes("h5_as.npy", open(write_h5("src.h5", data=cube), "rb").read()),
         {}, E),
        ("random bytes named .h5 (corrupt HDF5)",
         lambda: write_bytes("corrupt.h5", b"\x89HDF\r\n\x1a\n" + bytes(np.random.default_rng(0).integers(
             0, 256, 4000, dtype=np.uint8))), {}, E),
        ("random bytes named .dm4", lambda: write_bytes("garbage.dm4", bytes(range(256)) * 8), {}, E),
        ("random bytes named .mib", lambda: write_bytes("garbage.mib", bytes(range(256)) * 8), {}, E),
        ("unknown suffix .xyz", lambda: write_bytes("data.xyz", b"123"), {}, E),
        ("no suffix", lambda: write_bytes("noext", b"123"), {}, E),
        ("directory named .npy", lambda: directory("dir.npy"), {}, E),
        ("directory named .h5", lambda: directory("dir.h5"), {}, E),
        ("plain directory (no suffix)", lambda: directory("plain_dir"), {}, E),
        ("empty directory named .zarr", lambda: directory("empty.zarr"), {}, E),
        ("file (not a directory) named .zarr", lambda: write_bytes("file.zarr", b"zzz"), {}, E),
        ("zarr with a deleted chunk", deleted_chunk, {}, E),
        ("zarr with a corrupted chunk", corrupt_chunk, {}, E),
        ("zarr group with 2 arrays, no dataset", lambda: write_zarr("group.zarr", group=True), {}, E),
        ("zarr group, dataset='a'", lambda: write_zarr("group2.zarr", group=True), {"dataset": "a"}, O),
        ("HDF5 with two 4-D datasets, no dataset", lambda: write_h5("two.h5", a=cube, b=cube), {}, E),
        ("HDF5 dataset='nope'", lambda: write_h5("one.h5", data=cube), {"dataset": "nope"}, E),
        ("HDF5 dataset=3 (an int)", lambda: write_h5("one3.h5", data=cube), {"dataset": 3}, E),
        ("HDF5 with only a 2-D dataset", lambda: write_h5("flat.h5", data=cube.reshape(16, 64)), {}, E),
        ("HDF5 with NaN in the data", lambda: write_h5("nan.h5", data=with_value(cube, np.nan)), {}, E),
        ("HDF5 with a string dataset", lambda: write_h5("str.h5", data=cube.astype("S3")), {}, E),
        ("HDF5 with a 5-D dataset", lambda: write_h5("5d.h5", data=cube[None]), {}, E),
        ("npy with object dtype", lambda: write_npy("obj.npy", cube.astype(object)), {}, E),
        ("npy 5-D", lambda: write_npy("5d.npy", cube[None]), {}, E),
        ("npy complex", lambda: write_npy("cplx.npy", cube.astype(np.complex64)), {}, E),
        ("npy of 1 frame (1, 8, 8)", lambda: write_npy("one.npy", cube.reshape(16, 8, 8)[:1]), {}, E),
    ]
    for desc, make_path, kw, expect in file_cases:
        def fn(make_path=make_path, kw=kw):
            p = make_path()
            return load_and_fit(p, **kw)

        # A clear message names the file (quotes its path) or the argument.
        add(cat, "io.load_4dstem", desc, fn, expect=expect, shape=(16, 2) if expect == O else None,
            names=("<file>", "path", "dataset", "X"))
    add(cat, "io.load_4dstem", "path=None", lambda: load_4dstem(None), names=("path",))
    add(cat, "io.load_4dstem", "path=123", lambda: load_4dstem(123), names=("path",))
    add(cat, "io.load_4dstem", "path='' (empty string)", lambda: load_4dstem(""), names=("path",))
    add(cat, "io.load_4dstem", "dataset='x' for an .npy file (ignored?)",
        lambda: load_and_fit(write_npy("ds.npy"), dataset="x"), expect="either", names=("dataset",), shape=(16, 2))
    add(cat, "io.load_4dstem", "a valid .npy fitted twice gives the same result",
        lambda: (load_and_fit(write_npy("twice.npy")), load_and_fit(write_npy("twice.npy"))), expect="ok",
        check=equal_pair)
    return tmp
