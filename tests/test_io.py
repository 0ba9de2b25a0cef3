"""Bad files and bad shape parameters get a clear error naming them (issue 23)."""

import os
import pickle
import re

import numpy as np
import pytest

from sklearn_rvae import COMTransformer
from sklearn_rvae.io import FileFormatError, load_4dstem


def _scan(shape=(4, 5, 8, 8)):
    # Counts >= 1 everywhere: no chunk is all fill value.
    return np.random.default_rng(0).poisson(5, size=shape).astype(np.uint16) + 1


def _raises_on(path, match, exc=FileFormatError, **kwargs):
    """load_4dstem(path) raises exc whose message starts with the path and matches."""
    with pytest.raises(exc) as info:
        load_4dstem(path, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert re.search(match, message), message
    return info.value


def test_file_format_error_is_a_value_error_and_an_os_error():
    assert issubclass(FileFormatError, ValueError) and issubclass(FileFormatError, OSError)


# ------------------------------------------------------------------ .npy
def test_npy_empty_truncated_and_not_npy(tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    _raises_on(tmp_path / "empty.npy", r"empty \(0 bytes\)")
    np.save(tmp_path / "full.npy", _scan())
    (tmp_path / "cut.npy").write_bytes((tmp_path / "full.npy").read_bytes()[:300])
    _raises_on(tmp_path / "cut.npy", r"truncated.*shape \(4, 5, 8, 8\) of uint16, 2560 bytes.*only 172 bytes")
    (tmp_path / "text.npy").write_text("sy,sx\n1,2\n")
    err = _raises_on(tmp_path / "text.npy", r"not a NumPy \.npy file")
    assert "allow_pickle" not in str(err)
    (tmp_path / "dir.npy").mkdir()
    _raises_on(tmp_path / "dir.npy", "is a directory")


class _Marker:
    """Unpickling this creates a directory: proof that pickle ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_npy_with_python_objects_is_refused_never_unpickled(tmp_path):
    marker = str(tmp_path / "unpickled")
    np.save(tmp_path / "objects.npy", np.array([_Marker(marker), None], dtype=object), allow_pickle=True)
    _raises_on(tmp_path / "objects.npy", r"Python objects \(dtype object\)")
    (tmp_path / "pickle.npy").write_bytes(pickle.dumps(_Marker(marker)))
    _raises_on(tmp_path / "pickle.npy", r"not a NumPy \.npy file")
    assert not os.path.exists(marker)


@pytest.mark.parametrize(
    "array, match",
    [
        (np.ones((6, 16)), r"shape \(6, 16\) \(2-D\); expected .*3-D .* or 4-D"),
        (np.ones((2, 2, 2, 2, 2)), r"5-D"),
        (np.ones((2, 2, 4, 4), dtype=np.complex64), "dtype complex64; expected real numbers"),
        (np.zeros((2, 4, 4), dtype=[("a", "u2"), ("b", "f4")]), "expected real numbers"),
        (np.array(["a", "b"]).reshape(1, 1, 2), "dtype <U1"),
    ],
)
def test_npy_data_must_be_3d_or_4d_real_numbers(tmp_path, array, match):
    np.save(tmp_path / "bad.npy", array)
    _raises_on(tmp_path / "bad.npy", match)


def test_npy_still_loads_and_rejects_a_dataset(tmp_path):
    np.save(tmp_path / "ok.npy", _scan())
    data, metadata = load_4dstem(tmp_path / "ok.npy")
    assert isinstance(data, np.memmap) and data.shape == (4, 5, 8, 8) and metadata == {"format": "npy"}
    _raises_on(tmp_path / "ok.npy", r"dataset='scan'.*single array", exc=ValueError, dataset="scan")


def test_bad_path_and_keyword_types():
    with pytest.raises(TypeError, match="path must be a str or a pathlib.Path.*123"):
        load_4dstem(123)
    with pytest.raises(TypeError, match="allow_missing_chunks must be True or False, got 'yes'"):
        load_4dstem("scan.npy", allow_missing_chunks="yes")


# ------------------------------------------------------------------ HDF5
def test_hdf5_unreadable_files(tmp_path):
    h5py = pytest.importorskip("h5py")
    (tmp_path / "empty.h5").write_bytes(b"")
    _raises_on(tmp_path / "empty.h5", r"empty \(0 bytes\).*HDF5")
    (tmp_path / "text.h5").write_text("not an HDF5 file")
    err = _raises_on(tmp_path / "text.h5", r"opening it with h5py failed \(OSError: .*signature.*expected an HDF5 file")
    assert isinstance(err.__cause__, OSError)
    with h5py.File(tmp_path / "full.h5", "w") as f:
        f.create_dataset("scan", data=_scan())
    (tmp_path / "cut.h5").write_bytes((tmp_path / "full.h5").read_bytes()[:3000])
    _raises_on(tmp_path / "cut.h5", r"truncated file")
    (tmp_path / "dir.h5").mkdir()
    _raises_on(tmp_path / "dir.h5", "is a directory")


def test_hdf5_dataset_parameter(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("entry/scan", data=_scan())
        f.create_dataset("entry/small", data=np.ones(3))
        f.create_dataset("entry/complex", data=np.ones((2, 2, 3, 3), dtype=np.complex64))
    with pytest.raises(TypeError, match=r"dataset must be None or the name \(a str\).*a\.h5, got 0 \(int\)"):
        load_4dstem(tmp_path / "a.h5", dataset=0)
    _raises_on(tmp_path / "a.h5", r"dataset='nope' is not in the file.*'entry/complex', 'entry/scan'",
               exc=ValueError, dataset="nope")
    _raises_on(tmp_path / "a.h5", r"dataset='entry' is a Group, not a dataset", exc=ValueError, dataset="entry")
    _raises_on(tmp_path / "a.h5", r"dataset '/entry/small' has shape \(3,\) \(1-D\)", dataset="entry/small")
    _raises_on(tmp_path / "a.h5", r"dataset '/entry/complex' has dtype complex64", dataset="/entry/complex")
    data, metadata = load_4dstem(tmp_path / "a.h5", dataset="/entry/scan")
    assert data.shape == (4, 5, 8, 8) and metadata["dataset"] == "/entry/scan"


def test_hdf5_chunks_never_written_are_named(tmp_path):
    h5py = pytest.importorskip("h5py")
    X = _scan()
    with h5py.File(tmp_path / "a.h5", "w") as f:
        partial = f.create_dataset("partial", shape=X.shape, chunks=(1, 5, 8, 8), dtype=X.dtype)
        partial[:2] = X[:2]  # the acquisition stopped after two scan rows
        f.create_dataset("blank", shape=X.shape, dtype=X.dtype)
    _raises_on(tmp_path / "a.h5", r"2 of 4 chunks of dataset '/partial' are not stored.*fill value 0.*"
               r"chunk \(2, 0, 0, 0\): scan row 2, cols 0-4; chunk \(3, 0, 0, 0\): scan row 3.*"
               r"allow_missing_chunks=True",
               dataset="partial")
    _raises_on(tmp_path / "a.h5", r"dataset '/blank' was never written", dataset="blank")
    data, _ = load_4dstem(tmp_path / "a.h5", dataset="partial", allow_missing_chunks=True)
    np.testing.assert_array_equal(data[2:], 0)


def test_hdf5_corrupt_chunk_names_the_frames_and_the_file(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("scan", data=_scan(), chunks=(1, 5, 8, 8), compression="gzip")
    with h5py.File(tmp_path / "a.h5", "r") as f:
        info = f["scan"].id.get_chunk_info(2)
    raw = bytearray((tmp_path / "a.h5").read_bytes())
    raw[info.byte_offset : info.byte_offset + info.size] = b"\xff" * info.size
    (tmp_path / "a.h5").write_bytes(bytes(raw))
    data, _ = load_4dstem(tmp_path / "a.h5")  # the chunk index is intact
    with pytest.raises(FileFormatError, match=r"frames 10-14 \(scan row 2, cols 0-4\) of X, a h5py\.Dataset "
                       r"'/scan' in .*a\.h5: OSError") as info:
        COMTransformer(chunk_size=5).fit(data)
    assert isinstance(info.value.__cause__, OSError)


# ------------------------------------------------------------------ zarr
def test_zarr_not_a_store(tmp_path):
    pytest.importorskip("zarr")
    (tmp_path / "empty.zarr").mkdir()
    _raises_on(tmp_path / "empty.zarr", "is not a zarr store, it holds no zarr metadata")
    (tmp_path / "junk.zarr").mkdir()
    (tmp_path / "junk.zarr" / "notes.txt").write_text("x")
    _raises_on(tmp_path / "junk.zarr", "is not a zarr store")
    (tmp_path / "file.zarr").write_text("x")
    _raises_on(tmp_path / "file.zarr", "is a file; expected a zarr store")
    (tmp_path / "bad.zarr").mkdir()
    (tmp_path / "bad.zarr" / "zarr.json").write_text("{not json")
    err = _raises_on(tmp_path / "bad.zarr", "zarr.open failed")
    assert err.__cause__ is not None


def test_zarr_dataset_parameter_and_nested_arrays(tmp_path):
    zarr = pytest.importorskip("zarr")
    root = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    root.create_group("entry").create_array("scan", shape=(4, 5, 8, 8), dtype="u2")[:] = _scan()
    root.create_array("line", shape=(3,), dtype="f4")
    data, _ = load_4dstem(tmp_path / "g.zarr")  # found in a subgroup
    assert data.shape == (4, 5, 8, 8)
    with pytest.raises(TypeError, match=r"dataset must be None or the name \(a str\) of an array.*got 1 \(int\)"):
        load_4dstem(tmp_path / "g.zarr", dataset=1)
    _raises_on(tmp_path / "g.zarr", r"dataset='nope' is not in the store.*\['entry/scan'\]",
               exc=ValueError, dataset="nope")
    _raises_on(tmp_path / "g.zarr", r"dataset='entry' is a group", exc=ValueError, dataset="entry")
    _raises_on(tmp_path / "g.zarr", r"array 'line' has shape \(3,\) \(1-D\)", dataset="line")
    zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=(2, 8, 8), dtype="u2")[:] = 1
    _raises_on(tmp_path / "a.zarr", r"single zarr array.*dataset='scan'", exc=ValueError, dataset="scan")


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_missing_chunk_is_named_not_read_as_zeros(tmp_path, zarr_format):
    zarr = pytest.importorskip("zarr")
    X = _scan()
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=X.shape, chunks=(2, 5, 8, 8), dtype=X.dtype,
                          zarr_format=zarr_format)
    z[:] = X
    key = "c/1/0/0/0" if zarr_format == 3 else "1.0.0.0"
    os.remove(tmp_path / "a.zarr" / key)
    _raises_on(tmp_path / "a.zarr", r"1 of 2 chunks of the array are not stored.*fill_value=0.*"
               r"chunk \(1, 0, 0, 0\): scan rows 2-3, cols 0-4\..*write_empty_chunks.*allow_missing_chunks=True")
    data, _ = load_4dstem(tmp_path / "a.zarr", allow_missing_chunks=True)
    np.testing.assert_array_equal(data[:2], X[:2])


def test_zarr_missing_chunks_3d_partial_detector_and_shards(tmp_path):
    zarr = pytest.importorskip("zarr")
    z = zarr.create_array(str(tmp_path / "stack.zarr"), shape=(30, 8, 8), chunks=(3, 4, 8), dtype="u2")
    z[:] = 1
    for key in ["c/0/1/0", "c/2/0/0", *(f"c/{i}/0/0" for i in range(3, 10))]:
        os.remove(tmp_path / "stack.zarr" / key)
    _raises_on(tmp_path / "stack.zarr", r"9 of 20 chunks.*chunk \(0, 1, 0\): frames 0-2 \(detector rows 4-7, "
               r"cols 0-7\); chunk \(2, 0, 0\): frames 6-8 \(detector rows 0-3.*and 1 more")
    s = zarr.create_array(str(tmp_path / "sharded.zarr"), shape=(4, 5, 8, 8), chunks=(1, 5, 8, 8),
                          shards=(2, 5, 8, 8), dtype="u2")
    s[:] = 1
    os.remove(tmp_path / "sharded.zarr" / "c/0/0/0/0")
    _raises_on(tmp_path / "sharded.zarr", r"1 of 2 shards .* shard \(0, 0, 0, 0\): scan rows 0-1, cols 0-4")


def test_zarr_chunk_left_out_as_empty_needs_the_keyword(tmp_path):
    zarr = pytest.importorskip("zarr")
    X = _scan()
    X[2:] = 0  # whole chunk of fill value: zarr 3 does not write it by default
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=X.shape, chunks=(2, 5, 8, 8), dtype=X.dtype,
                          config={"write_empty_chunks": False})
    z[:] = X
    _raises_on(tmp_path / "a.zarr", r"chunk \(1, 0, 0, 0\): scan rows 2-3.*write_empty_chunks=False")
    data, _ = load_4dstem(tmp_path / "a.zarr", allow_missing_chunks=True)
    np.testing.assert_array_equal(data[:], X)


def test_zarr_corrupt_chunk_names_the_frames_and_the_store(tmp_path):
    zarr = pytest.importorskip("zarr")
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=(4, 5, 8, 8), chunks=(1, 5, 8, 8), dtype="u2")
    z[:] = _scan()
    (tmp_path / "a.zarr" / "c/2/0/0/0").write_bytes(b"garbage" * 20)
    data, _ = load_4dstem(tmp_path / "a.zarr")
    with pytest.raises(FileFormatError, match=r"frames 10-12 \(scan row 2, cols 0-2\) of X, a zarr\.Array at "
                       r"file://.*a\.zarr: .*corrupt or truncated") as info:
        COMTransformer(chunk_size=3).fit(data)
    assert info.value.__cause__ is not None
    flat = zarr.create_array(str(tmp_path / "flat.zarr"), shape=(20, 64), chunks=(10, 64), dtype="u2")
    flat[:] = 1
    (tmp_path / "flat.zarr" / "c/1/0").write_bytes(b"garbage" * 20)
    with pytest.raises(FileFormatError, match=r"frames 10-19 \(scan rows 2-3, all cols\)"):
        COMTransformer(scan_shape=(4, 5), chunk_size=10).fit(zarr.open_array(str(tmp_path / "flat.zarr"), mode="r"))


# ------------------------------------------------------------------ RosettaSciIO
def test_mib_empty_directory_garbage_and_dataset_type(tmp_path):
    rsciio = pytest.importorskip("rsciio")
    if not any("mib" in p["file_extensions"] for p in rsciio.IO_PLUGINS):
        pytest.skip("RosettaSciIO has no .mib reader")
    (tmp_path / "empty.mib").write_bytes(b"")
    _raises_on(tmp_path / "empty.mib", r"empty \(0 bytes\); expected a QuantumDetector file")
    (tmp_path / "dir.mib").mkdir()
    _raises_on(tmp_path / "dir.mib", "is a directory")
    (tmp_path / "text.mib").write_text("hello, not a detector file\n" * 10)
    err = _raises_on(tmp_path / "text.mib", r"RosettaSciIO's QuantumDetector reader failed \(\w+: ")
    assert err.__cause__ is not None
    with pytest.raises(TypeError, match=r"index \(an int\) of a signal.*got 'scan' \(str\)"):
        load_4dstem(tmp_path / "text.mib", dataset="scan")


# ------------------------------------------------------------------ shape parameters
@pytest.mark.parametrize(
    "params, X, match",
    [
        ({"scan_shape": (-4, -4)}, np.ones((16, 16)), r"scan_shape must be a pair of positive integers, got \(-4, -4"),
        ({"scan_shape": (0, 4)}, np.ones((4, 2, 4, 4)), r"scan_shape must be a pair of positive integers"),
        ({"scan_shape": (4, -1)}, np.ones((16, 16)), r"scan_shape must be a pair of positive integers, got \(4, -1\)"),
        ({"scan_shape": (4.0, 4)}, np.ones((16, 16)), r"scan_shape must be a pair"),
        ({"scan_shape": (2, 2, 4)}, np.ones((16, 16)), r"scan_shape must be a pair"),
        ({"detector_shape": (-4, -4)}, np.ones((4, 16)), r"detector_shape must be .*-1 \(inferred\), got \(-4, -4\)"),
        ({"detector_shape": (-1, -1)}, np.ones((4, 16)), r"detector_shape must be"),
        ({"detector_shape": (0, 16)}, np.ones((4, 16)), r"detector_shape must be"),
        ({"detector_shape": (-1, 5)}, np.ones((4, 4, 4)), r"detector_shape=\(-1, 5\) does not match X.*\(4, 4\)"),
        ({"detector_shape": (6, -1)}, np.ones((2, 2, 4, 6)), r"detector_shape=\(6, -1\) does not match X"),
        ({"detector_shape": (4, 4)}, np.ones((2, 2, 4, 6)), r"detector_shape=\(4, 4\) does not match X"),
    ],
)
def test_shape_parameters_must_be_positive_pairs(params, X, match):
    with pytest.raises(ValueError, match=match):
        COMTransformer(**params).fit(X)


@pytest.mark.parametrize(
    "detector_shape, X, expected",
    [
        ((-1, 4), np.ones((3, 16)), (4, 4)),
        ((2, -1), np.ones((3, 16)), (2, 8)),
        ((-1, 6), np.ones((3, 4, 6)), (4, 6)),
        ((4, -1), np.ones((2, 2, 4, 6)), (4, 6)),
        ((np.int64(4), 6), np.ones((2, 2, 4, 6)), (4, 6)),
    ],
)
def test_detector_shape_with_one_inferred_entry(detector_shape, X, expected):
    assert COMTransformer(detector_shape=detector_shape).fit(X).detector_shape_ == expected
