"""IDX reader/writer: round trips for every type code, and a clear error for every kind of damage."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numconv.data import IDXFormatError, read_idx, write_idx
from numconv.data import idx as idx_module

DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}


def random_array(rng, dtype, shape):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        values = rng.standard_normal(shape) * 1e3
        values.flat[0] = np.finfo(dtype).max  # extremes survive the byte swapping
        return values.astype(dtype)
    info = np.iinfo(dtype)
    values = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    values.flat[0] = info.min
    return values


@given(
    code=st.sampled_from(sorted(DTYPES)),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    gz=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_round_trip_every_type_code(tmp_path_factory, code, shape, gz, seed):
    array = random_array(np.random.default_rng(seed), DTYPES[code], shape)
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    raw = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    # the header is exactly the specification's
    assert raw[:4] == bytes([0, 0, code, len(shape)])
    assert struct.unpack(f">{len(shape)}I", raw[4:4 + 4 * len(shape)]) == tuple(shape)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.dtype.isnative and back.flags.writeable
    np.testing.assert_array_equal(back, array)


def test_body_is_big_endian(tmp_path):
    path = write_idx(tmp_path / "x.idx", np.array([1, 256], dtype=np.int16))
    assert path.read_bytes()[8:] == b"\x00\x01\x01\x00"
    path = write_idx(tmp_path / "f.idx", np.array([1.0], dtype=np.float32))
    assert path.read_bytes()[8:] == struct.pack(">f", 1.0)


def test_gzip_detected_from_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz = write_idx(tmp_path / "a.gz", array)
    renamed = tmp_path / "plain-name"
    os.replace(gz, renamed)
    np.testing.assert_array_equal(read_idx(renamed), array)


def test_reads_real_layout_written_by_hand(tmp_path):
    # An MNIST-style label file written byte by byte, independently of write_idx.
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 5) + bytes([7, 2, 1, 0, 4]))
    np.testing.assert_array_equal(read_idx(path, ndim=1), [7, 2, 1, 0, 4])


# ---------------------------------------------------------------------------------------------- damaged files

def write_bytes(tmp_path, data: bytes, gz=False):
    path = tmp_path / ("bad.gz" if gz else "bad")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


GOOD = b"\x00\x00\x08\x02" + struct.pack(">II", 2, 3) + bytes(range(6))


@pytest.mark.parametrize("gz", [False, True])
def test_valid_reference_bytes_read(tmp_path, gz):
    np.testing.assert_array_equal(read_idx(write_bytes(tmp_path, GOOD, gz)), np.arange(6).reshape(2, 3))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("data, message", [
    (b"\x01\x00\x08\x02" + GOOD[4:], r"first two bytes must be zero, got 0x01 0x00"),
    (b"\x00\x00\x07\x02" + GOOD[4:], r"unknown IDX type code 0x07"),
    (b"\x00\x00\x08\x00" + GOOD[4:], r"announces 0 dimensions"),
    (b"\x00\x00\x08\x03" + GOOD[4:12], r"announces 3 dimensions \(16 header bytes\) but the file ends after 12"),
    (b"\x00\x00\x08\x02" + struct.pack(">II", 2, 0), r"zero size in shape \(2, 0\)"),
    (GOOD[:-1], r"expected 18 bytes \(header \+ uint8 array of shape \(2, 3\)\), got 17 bytes \(truncated\)"),
    (GOOD + b"\x00\x00\x00", r"expected 18 bytes .* got 21 bytes \(3 trailing bytes\)"),
    (b"\x00\x00", r"too short for an IDX header \(2 bytes"),
    (b"\x00\x00\x0d\x01" + struct.pack(">I", 4) + b"\x00" * 15, r"expected 24 bytes .*float32.*got 23 bytes"),
])
def test_damaged_files_raise_one_clear_error(tmp_path, gz, data, message):
    path = write_bytes(tmp_path, data, gz)
    with pytest.raises(IDXFormatError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)  # the message names the file
    assert isinstance(info.value, ValueError)


def test_expected_dimension_count(tmp_path):
    path = write_idx(tmp_path / "images.idx", np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(IDXFormatError, match=r"expected a 3-D IDX file, got a 2-D one"):
        read_idx(path, ndim=3)


def test_absurd_header_refused_before_allocating(tmp_path):
    path = write_bytes(tmp_path, b"\x00\x00\x0e\x03" + struct.pack(">III", 60000, 60000, 60000))
    with pytest.raises(IDXFormatError, match=r"more than the limit"):
        read_idx(path)
    small = write_idx(tmp_path / "s.idx", np.zeros(100, dtype=np.uint8))
    with pytest.raises(IDXFormatError, match=r"100 bytes, more than the limit of 99"):
        read_idx(small, max_bytes=99)


@pytest.mark.parametrize("damage", ["flip", "truncate", "crc", "garbage"])
def test_corrupt_gzip_is_one_clear_error(tmp_path, damage):
    data = bytearray(gzip.compress(GOOD + bytes(1000)))
    if damage == "flip":
        data[12:20] = b"\xff" * 8  # inside the deflate stream
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "crc":
        data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    else:
        data += b"not gzip"
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(IDXFormatError, match=r"corrupt gzip stream") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert info.value.__cause__ is None  # no zlib traceback chained on


def test_a_pickle_is_refused_not_unpickled(tmp_path):
    path = tmp_path / "evil.idx"
    path.write_bytes(pickle.dumps(np.arange(3)))
    with pytest.raises(IDXFormatError, match="not an IDX file"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.idx")


# ---------------------------------------------------------------------------------------------- the writer

@pytest.mark.parametrize("array, error, message", [
    (np.zeros(3, dtype=np.int64), TypeError, r"cannot hold dtype int64"),
    (np.zeros(3, dtype=bool), TypeError, r"cannot hold dtype bool"),
    (np.zeros(3, dtype=np.uint16), TypeError, r"cannot hold dtype uint16"),
    (np.zeros((2, 0), dtype=np.uint8), ValueError, r"between 1 and 2\*\*32 - 1, got shape \(2, 0\)"),
    (np.uint8(3), ValueError, r"1 to 16 dimensions, got shape \(\)"),
])
def test_write_refuses_what_idx_cannot_hold(tmp_path, array, error, message):
    with pytest.raises(error, match=message):
        write_idx(tmp_path / "x.idx", array)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_write_is_atomic(tmp_path, monkeypatch, name):
    path = write_idx(tmp_path / name, np.arange(4, dtype=np.uint8))
    before = path.read_bytes()

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(idx_module.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.arange(8, dtype=np.uint8))
    # the old file is untouched and no temporary file is left behind
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_gzip_output_is_reproducible(tmp_path):
    a = write_idx(tmp_path / "a.gz", np.arange(50, dtype=np.int32)).read_bytes()
    b = write_idx(tmp_path / "b.gz", np.arange(50, dtype=np.int32)).read_bytes()
    assert a == b  # no timestamp or file name in the gzip header


def test_written_file_has_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_idx(tmp_path / "x.idx", np.arange(3, dtype=np.uint8))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
