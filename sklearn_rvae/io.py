"""Open 4D-STEM files lazily, for COMTransformer and friends.

``load_4dstem`` returns an array-like that the estimators stream chunk by
chunk (an h5py or zarr dataset, a ``numpy.memmap`` or a dask array), never
the whole cube in memory, plus the file's metadata. HDF5 and zarr are read
with h5py / zarr; the microscope formats (Merlin .mib, Gatan .dm4, FEI/TFS
.emd, hspy, blockfile .blo, MRC and the rest) through RosettaSciIO's readers,
not hand-written parsers. Install them with ``pip install sklearn_rvae[files]``.

A file that cannot be read, or does not hold a complete 3-D / 4-D array of
detector counts, raises ``FileFormatError`` naming the file, what is wrong
with it and what was expected; a reader's own exception is chained to it.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from sklearn_rvae.io import load_4dstem
>>> path = os.path.join(tempfile.mkdtemp(), "scan.npy")
>>> np.save(path, np.ones((2, 3, 8, 8), dtype=np.uint16))
>>> data, metadata = load_4dstem(path)
>>> data.shape, type(data).__name__, metadata["format"]
((2, 3, 8, 8), 'memmap', 'npy')
"""

import importlib
import itertools
import math
import numbers
import os
from pathlib import Path

import numpy as np

from ._utils import check_bool

__all__ = ["FileFormatError", "load_4dstem"]

_HDF5 = {".h5", ".hdf5", ".hdf", ".nxs"}
_ZARR = {".zarr"}
_ZARR_METADATA = ("zarr.json", ".zarray", ".zgroup")
# RosettaSciIO formats stored as a directory rather than a file.
_DIRECTORY_FORMATS = {".zspy"}
# Missing chunks spelled out in an error message; the rest are counted.
_MAX_LISTED = 8


class FileFormatError(OSError, ValueError):
    """A file that exists but is not, or no longer, the data set expected.

    An ``OSError``, as the readers' own errors for unreadable files are, and
    a ``ValueError``, as for any other bad input value.
    """


def _require(module, what):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"Reading {what} needs the optional package {module.split('.')[0]!r}: "
            "pip install 'sklearn_rvae[files]'."
        ) from exc


def _read(path, what, expected, func, *args, **kwargs):
    """Call a reader; its exception becomes a FileFormatError naming the file."""
    try:
        return func(*args, **kwargs)
    except MemoryError:
        raise
    except Exception as exc:
        raise FileFormatError(
            f"{path}: {what} failed ({type(exc).__name__}: {exc}); expected {expected}."
        ) from exc


def _expect_file(path, expected):
    if path.is_dir():
        raise FileFormatError(f"{path}: is a directory; expected {expected}, a single file.")
    if path.stat().st_size == 0:
        raise FileFormatError(f"{path}: the file is empty (0 bytes); expected {expected}.")


def _check_array(shape, dtype, path, what):
    """The data must be a 3-D or 4-D array of real numbers."""
    shape = tuple(int(s) for s in shape)
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise FileFormatError(
            f"{path}: {what} holds Python objects (dtype {dtype}), which only pickle can load, "
            "and pickle runs code from the file; expected integer or float detector counts."
        )
    if dtype.kind not in "buif":
        raise FileFormatError(
            f"{path}: {what} has dtype {dtype}; expected real numbers (integer or float detector counts)."
        )
    if len(shape) not in (3, 4):
        raise FileFormatError(
            f"{path}: {what} has shape {shape} ({len(shape)}-D); expected a 4D-STEM data set, "
            "3-D (n_positions, ky, kx) or 4-D (sy, sx, ky, kx)."
        )


def _check_dataset_type(dataset, types, path, what):
    if dataset is not None and (not isinstance(dataset, types) or isinstance(dataset, bool)):
        raise TypeError(
            f"dataset must be None or {what} in {path}, got {dataset!r} ({type(dataset).__name__})."
        )


def _pick(candidates, path, kind="datasets"):
    """(name, data) of the only 3-D / 4-D candidate; asks when there are several."""
    if len(candidates) != 1:
        raise ValueError(
            f"{path}: holds {len(candidates)} 3-D/4-D {kind} {sorted(candidates)}; choose one with dataset=..."
        )
    return next(iter(candidates.items()))


def _span(noun, start, stop):
    return f"{noun} {start}" if stop - start == 1 else f"{noun}s {start}-{stop - 1}"


def _block_text(starts, stops, shape):
    """Scan positions (and detector pixels, if not all) of a block of a 3-D / 4-D array."""
    if len(shape) == 4:
        text = f"{_span('scan row', starts[0], stops[0])}, {_span('col', starts[1], stops[1])}"
    else:
        text = _span("frame", starts[0], stops[0])
    if starts[-2] > 0 or starts[-1] > 0 or stops[-2] < shape[-2] or stops[-1] < shape[-1]:
        text += f" ({_span('detector row', starts[-2], stops[-2])}, {_span('col', starts[-1], stops[-1])})"
    return text


def _scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _missing_blocks(shape, grid, present):
    """(starts, stops) of each block of the grid whose ``present(index)`` is False."""
    counts = [math.ceil(s / g) for s, g in zip(shape, grid)]
    for index in itertools.product(*(range(c) for c in counts)):
        if not present(index):
            starts = [i * g for i, g in zip(index, grid)]
            yield index, starts, [min(s + g, n) for s, g, n in zip(starts, grid, shape)]


def _missing_error(path, what, shape, missing, n_total, unit, consequence, bypass):
    listed = "; ".join(f"{unit} {index}: {_block_text(starts, stops, shape)}"
                       for index, starts, stops in missing[:_MAX_LISTED])
    if len(missing) > _MAX_LISTED:
        listed += f"; and {len(missing) - _MAX_LISTED} more"
    return FileFormatError(
        f"{path}: {len(missing)} of {n_total} {unit}s of {what} are not stored, so {consequence}: "
        f"{listed}. The scan is incomplete there (an interrupted acquisition, write or copy?). {bypass}"
    )


def _check_zarr_chunks(arr, path, what):
    """Refuse a zarr array whose chunks are not all in the store."""
    if arr.nchunks_initialized >= arr.nchunks:
        return
    # With sharding the stored objects are shards, each holding many chunks.
    grid = tuple(getattr(arr, "shards", None) or arr.chunks)
    unit = "shard" if getattr(arr, "shards", None) else "chunk"
    root = path.resolve()
    metadata = getattr(arr, "metadata", None)
    if hasattr(metadata, "encode_chunk_key"):  # zarr 3: keys relative to the array
        prefix = root / arr.path if arr.path else root

        def present(index):
            return (prefix / metadata.encode_chunk_key(index)).is_file()
    else:  # zarr 2: keys relative to the store
        def present(index):
            return (root / arr._chunk_key(index)).is_file()

    shape = tuple(arr.shape)
    missing = list(_missing_blocks(shape, grid, present))
    n_total = math.prod(math.ceil(s / g) for s, g in zip(shape, grid))
    raise _missing_error(
        path, what, shape, missing, n_total, unit,
        f"zarr would read them as fill_value={_scalar(arr.fill_value)!r} without a word",
        "If the array was written with write_empty_chunks=False (zarr 3's default) and those "
        "chunks held only the fill value, they were left out on purpose and cannot be told apart "
        "from lost ones: pass allow_missing_chunks=True to read them as the fill value.",
    )


def _check_hdf5_chunks(data, path, what):
    """Refuse an HDF5 dataset with chunks (or, contiguous, all storage) never written."""
    if data.size == 0 or data.is_virtual or getattr(data, "external", None):
        return
    if data.chunks is None:
        if data.id.get_storage_size() == 0:
            raise FileFormatError(
                f"{path}: {what} was never written: the file holds no storage for it, so h5py would "
                f"read it as the fill value {_scalar(data.fillvalue)!r} everywhere, without a word. Pass "
                "allow_missing_chunks=True to read it so."
            )
        return
    if not hasattr(data.id, "get_num_chunks"):  # HDF5 < 1.10.5
        return
    shape = tuple(data.shape)
    n_total = math.prod(math.ceil(s / c) for s, c in zip(shape, data.chunks))
    n_stored = data.id.get_num_chunks()
    if n_stored >= n_total:
        return
    stored = {
        tuple(o // c for o, c in zip(data.id.get_chunk_info(i).chunk_offset, data.chunks))
        for i in range(n_stored)
    }
    missing = list(_missing_blocks(shape, data.chunks, stored.__contains__))
    raise _missing_error(
        path, what, shape, missing, n_total, "chunk",
        f"h5py would read them as the fill value {_scalar(data.fillvalue)!r} without a word",
        "Pass allow_missing_chunks=True to read them as the fill value.",
    )


def _open_npy(path):
    what = "a NumPy .npy file written by numpy.save"
    _expect_file(path, what)
    fmt = np.lib.format
    # Read the header ourselves: numpy's errors for a file that is not .npy,
    # is truncated or holds objects neither name the file nor say what is
    # wrong, and a file that is not .npy must never reach pickle.
    with open(path, "rb") as f:
        try:
            version = fmt.read_magic(f)
        except ValueError as exc:
            raise FileFormatError(
                f"{path}: is not a NumPy .npy file (it does not start with the .npy magic string "
                f"b'\\x93NUMPY'); expected {what}."
            ) from exc
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        try:
            shape, _, dtype = read_header(f)
        except ValueError as exc:
            raise FileFormatError(f"{path}: the .npy header is corrupt ({exc}); expected {what}.") from exc
        offset = f.tell()
    _check_array(shape, dtype, path, "the array")
    needed = math.prod(shape) * dtype.itemsize
    held = path.stat().st_size - offset
    if held < needed:
        raise FileFormatError(
            f"{path}: is truncated: its header says shape {shape} of {dtype}, {needed} bytes of data, "
            f"but the file holds only {held} bytes after the header; expected the complete file "
            "(was the write or copy interrupted?)."
        )
    return _read(path, "numpy.load", what, np.load, path, mmap_mode="r", allow_pickle=False)


def _open_hdf5(path, dataset, allow_missing_chunks):
    h5py = _require("h5py", "HDF5 files")
    what = "an HDF5 file (.h5, .hdf5, .hdf, .nxs)"
    _check_dataset_type(dataset, str, path, "the name (a str) of a dataset")
    _expect_file(path, what)
    handle = _read(path, "opening it with h5py", what, h5py.File, path, "r")
    try:
        candidates = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.ndim in (3, 4):
                candidates[name] = obj

        _read(path, "listing its datasets", what, handle.visititems, visit)
        if dataset is None:
            _, data = _pick(candidates, path)
        else:
            data = _read(path, f"opening dataset={dataset!r}", what, handle.get, dataset)
            if not isinstance(data, h5py.Dataset):
                found = "is not in the file" if data is None else f"is a {type(data).__name__}, not a dataset"
                raise ValueError(
                    f"{path}: dataset={dataset!r} {found}; its 3-D/4-D datasets are {sorted(candidates)}."
                )
        name = f"dataset {data.name!r}"
        _check_array(data.shape, data.dtype, path, name)
        if not allow_missing_chunks:
            _check_hdf5_chunks(data, path, name)
    except BaseException:
        handle.close()
        raise
    return data, {"format": "hdf5", "dataset": data.name, "attrs": dict(data.attrs)}


def _open_zarr(path, dataset, allow_missing_chunks):
    zarr = _require("zarr", "zarr stores")
    what = "a zarr store (a directory holding zarr.json, or .zarray / .zgroup for zarr v2)"
    _check_dataset_type(dataset, str, path, "the name (a str) of an array")
    if not path.is_dir():
        raise FileFormatError(f"{path}: is a file; expected {what}.")
    if not any((path / name).is_file() for name in _ZARR_METADATA):
        raise FileFormatError(f"{path}: is not a zarr store, it holds no zarr metadata; expected {what}.")
    node = _read(path, "zarr.open", what, zarr.open, str(path), mode="r")
    if hasattr(node, "shape"):
        if dataset is not None:
            raise ValueError(
                f"{path}: is a single zarr array, not a group, so dataset={dataset!r} names nothing in it; "
                "pass dataset=None."
            )
        data, name = node, "the array"
    else:
        # zarr 3 lists nested arrays with members(max_depth=None), zarr 2 with arrays(recurse=True).
        members = node.members(max_depth=None) if hasattr(node, "members") else node.arrays(recurse=True)
        members = _read(path, "listing its arrays", what, list, members)
        candidates = {k: v for k, v in members if hasattr(v, "shape") and v.ndim in (3, 4)}
        if dataset is None:
            _, data = _pick(candidates, path, kind="arrays")
        else:
            data = _read(path, f"opening dataset={dataset!r}", what, node.get, dataset)
            if not hasattr(data, "shape"):
                found = "is not in the store" if data is None else "is a group, not an array"
                raise ValueError(
                    f"{path}: dataset={dataset!r} {found}; its 3-D/4-D arrays are {sorted(candidates)}."
                )
        name = f"array {data.path!r}"
    _check_array(data.shape, data.dtype, path, name)
    if not allow_missing_chunks:
        _check_zarr_chunks(data, path, name)
    return data, {"format": "zarr", "attrs": dict(data.attrs)}


def _open_rsciio(path, suffix, dataset):
    rsciio = _require("rsciio", f"{suffix or 'this'} files")
    plugins = [p for p in rsciio.IO_PLUGINS if suffix.lstrip(".") in [e.lower() for e in p["file_extensions"]]]
    if not plugins:
        raise ValueError(
            f"{path}: No reader for {suffix!r} files: RosettaSciIO has none, and it is not .npy, HDF5 or zarr."
        )
    plugin = plugins[0]
    what = f"a {plugin['name']} file ({suffix})"
    _check_dataset_type(dataset, numbers.Integral, path, "the index (an int) of a signal")
    if suffix not in _DIRECTORY_FORMATS:
        _expect_file(path, what)
    reader = importlib.import_module(plugin["api"]).file_reader
    signals = _read(path, f"RosettaSciIO's {plugin['name']} reader", what, reader, str(path), lazy=True)
    if dataset is None:
        candidates = {i: s for i, s in enumerate(signals) if np.ndim(s["data"]) in (3, 4)}
        dataset, signal = _pick(candidates, path, kind="signals")
    else:
        if not -len(signals) <= dataset < len(signals):
            raise ValueError(
                f"{path}: dataset={dataset!r} is out of range: the file holds {len(signals)} signal(s)."
            )
        signal = signals[dataset]
    data = signal["data"]
    _check_array(np.shape(data), data.dtype, path, f"signal {dataset}")
    return data, {
        "format": plugin["name"],
        "axes": signal.get("axes"),
        "metadata": signal.get("metadata", {}),
        "original_metadata": signal.get("original_metadata", {}),
    }


def load_4dstem(path, *, dataset=None, allow_missing_chunks=False):
    """Open a 4D-STEM data set without loading it.

    Parameters
    ----------
    path : str or Path
        ``.npy`` (memory-mapped), HDF5 (``.h5``, ``.hdf5``, ``.hdf``,
        ``.nxs``), ``.zarr`` (a directory), or any format RosettaSciIO reads.
    dataset : str, int or None, default=None
        Name of the dataset inside an HDF5 / zarr file, or the index (as an
        int) of the signal a RosettaSciIO reader returns. ``None`` takes the
        only 3-D or 4-D one and asks when there are several.
    allow_missing_chunks : bool, default=False
        HDF5 and zarr read a chunk that was never stored as the fill value,
        without error, so a scan with a lost chunk would read as zeros there.
        By default such a file is refused, naming the chunks and the scan
        positions they cover. ``True`` reads them as the fill value: for a
        zarr array written with ``write_empty_chunks=False`` (zarr 3's
        default), whose all-fill chunks are left out on purpose.

    Returns
    -------
    data : array-like of shape (sy, sx, ky, kx) or (n, ky, kx)
        Lazy: h5py / zarr dataset, ``numpy.memmap`` or dask array. The HDF5
        file stays open as long as the dataset is referenced.
    metadata : dict
        ``"format"``, and what the file says: HDF5 / zarr attributes, or
        RosettaSciIO's ``axes`` (with scales and units), ``metadata`` and
        ``original_metadata``.

    Raises
    ------
    FileNotFoundError
        No file or directory at ``path``.
    FileFormatError
        The file cannot be read (empty, truncated, corrupt, another format),
        its data is not a 3-D / 4-D array of real numbers, or chunks of it
        are missing. Both an ``OSError`` and a ``ValueError``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a pathlib.Path naming a file, got {path!r} ({type(path).__name__}).")
    check_bool(allow_missing_chunks, "allow_missing_chunks")
    if not os.fspath(path):
        raise ValueError("path is empty; pass the name of a 4D-STEM file.")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file or directory: {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if dataset is not None:
            raise ValueError(
                f"{path}: dataset={dataset!r} was given, but a .npy file holds a single array; pass dataset=None."
            )
        return _open_npy(path), {"format": "npy"}
    if suffix in _HDF5:
        return _open_hdf5(path, dataset, bool(allow_missing_chunks))
    if suffix in _ZARR:
        return _open_zarr(path, dataset, bool(allow_missing_chunks))
    return _open_rsciio(path, suffix, dataset)
