"""Open 4D-STEM files lazily, for COMTransformer and friends.

``load_4dstem`` returns an array-like that the estimators stream chunk by
chunk (an h5py or zarr dataset, a ``numpy.memmap`` or a dask array), never
the whole cube in memory, plus the file's metadata. HDF5 and zarr are read
with h5py / zarr; the microscope formats (Merlin .mib, Gatan .dm4, FEI/TFS
.emd, hspy, blockfile .blo, MRC and the rest) through RosettaSciIO's readers,
not hand-written parsers. Install them with ``pip install sklearn_rvae[files]``.

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
from pathlib import Path

import numpy as np

__all__ = ["load_4dstem"]

_HDF5 = {".h5", ".hdf5", ".hdf", ".nxs"}
_ZARR = {".zarr"}


def _require(module, what):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"Reading {what} needs the optional package {module.split('.')[0]!r}: "
            "pip install 'sklearn_rvae[files]'."
        ) from exc


def _pick(candidates, path, dataset):
    if dataset is not None:
        if dataset not in candidates:
            raise ValueError(f"dataset={dataset!r} is not in {path}; its 3-D/4-D datasets are {sorted(candidates)}.")
        return candidates[dataset]
    if len(candidates) != 1:
        raise ValueError(
            f"{path} holds {len(candidates)} 3-D/4-D datasets {sorted(candidates)}; "
            "choose one with dataset=..."
        )
    return next(iter(candidates.values()))


def load_4dstem(path, *, dataset=None):
    """Open a 4D-STEM data set without loading it.

    Parameters
    ----------
    path : str or Path
        ``.npy`` (memory-mapped), HDF5 (``.h5``, ``.hdf5``, ``.hdf``,
        ``.nxs``), ``.zarr`` (a directory), or any format RosettaSciIO reads.
    dataset : str or None, default=None
        Name of the dataset inside an HDF5 / zarr file, or the index (as an
        int) of the signal a RosettaSciIO reader returns. ``None`` takes the
        only 3-D or 4-D one and asks when there are several.

    Returns
    -------
    data : array-like of shape (sy, sx, ky, kx) or (n, ky, kx)
        Lazy: h5py / zarr dataset, ``numpy.memmap`` or dask array. The HDF5
        file stays open as long as the dataset is referenced.
    metadata : dict
        ``"format"``, and what the file says: HDF5 / zarr attributes, or
        RosettaSciIO's ``axes`` (with scales and units), ``metadata`` and
        ``original_metadata``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file or directory: {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, mmap_mode="r"), {"format": "npy"}
    if suffix in _HDF5:
        h5py = _require("h5py", "HDF5 files")
        handle = h5py.File(path, "r")
        candidates = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.ndim in (3, 4):
                candidates[name] = obj

        handle.visititems(visit)
        data = _pick(candidates, path, dataset)
        return data, {"format": "hdf5", "dataset": data.name, "attrs": dict(data.attrs)}
    if suffix in _ZARR:
        zarr = _require("zarr", "zarr stores")
        store = zarr.open(str(path), mode="r")
        if hasattr(store, "shape"):
            candidates = {"": store}
        else:
            candidates = {name: arr for name, arr in store.arrays() if arr.ndim in (3, 4)}
        data = _pick(candidates, path, dataset)
        return data, {"format": "zarr", "attrs": dict(data.attrs)}
    rsciio = _require("rsciio", f"{suffix or 'this'} files")
    plugins = [p for p in rsciio.IO_PLUGINS if suffix.lstrip(".") in [e.lower() for e in p["file_extensions"]]]
    if not plugins:
        raise ValueError(f"No reader for {suffix!r} files: RosettaSciIO has none, and it is not .npy, HDF5 or zarr.")
    reader = importlib.import_module(plugins[0]["api"]).file_reader
    signals = reader(str(path), lazy=True)
    candidates = {i: s for i, s in enumerate(signals) if np.ndim(s["data"]) in (3, 4)}
    signal = _pick(candidates, path, dataset)
    return signal["data"], {
        "format": plugins[0]["name"],
        "axes": signal.get("axes"),
        "metadata": signal.get("metadata", {}),
        "original_metadata": signal.get("original_metadata", {}),
    }
