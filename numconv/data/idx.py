"""Read and write IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a tiny header followed by one array in C order, big-endian::

    offset 0   two zero bytes
    offset 2   type code: 0x08 uint8, 0x09 int8, 0x0B int16,
               0x0C int32, 0x0D float32, 0x0E float64
    offset 3   number of dimensions d (1 byte)
    offset 4   d sizes, each a big-endian uint32
    then       prod(sizes) items of the type, big-endian

``read_idx`` checks every part of that: the magic bytes, the type code, the
dimension count, that no size is zero, and that the body holds *exactly*
``prod(sizes)`` items (a truncated download or trailing garbage is a
``ValueError`` naming the file and both byte counts). Files may be gzipped
(``.gz``, or any file starting with the gzip magic bytes); a damaged gzip
stream is reported as one clear error, not a zlib traceback. Nothing is ever
unpickled.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ._files import atomic_write, check_regular_file

__all__ = ["read_idx", "write_idx", "IDXFormatError", "IDX_TYPE_CODES"]

#: type code -> big-endian NumPy dtype, as in the IDX specification
IDX_TYPE_CODES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_TYPE_CODES.items()}

#: refuse headers announcing more than this many body bytes (a corrupt header,
#: not a real data set: MNIST's largest file is 47 MB)
DEFAULT_MAX_BYTES = 1 << 33  # 8 GiB
_MAX_NDIM = 16
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


class IDXFormatError(ValueError):
    """An IDX file is malformed: bad magic, bad sizes, wrong length, corrupt gzip."""


def _open(path: Path):
    """Open ``path`` for reading, transparently un-gzipping it if it is gzipped.

    Only a regular file is opened: reading a FIFO or a device could block
    for ever, or never end.
    """
    check_regular_file(path, f"IDX file '{path}'", IDXFormatError)
    raw = open(path, "rb")
    is_gzip = raw.read(2) == _GZIP_MAGIC
    raw.seek(0)
    if is_gzip:
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw, True
    return raw, raw, False


def _read_exact(stream, n: int) -> bytes:
    """Read up to ``n`` bytes (fewer only at the end of the stream)."""
    parts, got = [], 0
    while got < n:
        part = stream.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_into(stream, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``stream``; return how many bytes were read."""
    got = 0
    while got < len(buffer):
        n = stream.readinto(buffer[got:])
        if not n:
            break
        got += n
    return got


def _count_rest(stream, limit: int = 64 * _CHUNK) -> int:
    """How many bytes are left in ``stream`` (read and discarded; counting stops past ``limit``)."""
    total = 0
    while total <= limit:
        part = stream.read(_CHUNK)
        if not part:
            break
        total += len(part)
    return total


def _parse_header(head: bytes, where: str):
    """Check the 4-byte magic; return ``(dtype, ndim)``."""
    if len(head) < 4:
        raise IDXFormatError(f"{where}: too short for an IDX header ({len(head)} bytes, need at least 4)")
    if head[0] != 0 or head[1] != 0:
        raise IDXFormatError(
            f"{where}: not an IDX file (the first two bytes must be zero, got 0x{head[0]:02x} 0x{head[1]:02x})"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_TYPE_CODES:
        known = ", ".join(f"0x{c:02X} {dt.name}" for c, dt in IDX_TYPE_CODES.items())
        raise IDXFormatError(f"{where}: unknown IDX type code 0x{code:02X} (known: {known})")
    if not 1 <= ndim <= _MAX_NDIM:
        raise IDXFormatError(f"{where}: IDX header announces {ndim} dimensions (expected 1 to {_MAX_NDIM})")
    return IDX_TYPE_CODES[code], ndim


def read_idx(path, ndim: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a native-endian NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip is detected from the content, whatever the name.
    ndim : int, optional
        If given, the number of dimensions the file must have (e.g. 3 for an
        image file, 1 for a label file).
    max_bytes : int
        Refuse files whose header announces a larger body (a damaged header).

    Returns
    -------
    ndarray, shape given by the header
        dtype uint8, int8, int16, int32, float32 or float64 (native byte
        order), writeable.

    Raises
    ------
    IDXFormatError (a ValueError)
        Bad magic bytes, unknown type code, wrong or unexpected dimension count,
        a zero size, a body shorter or longer than the sizes say, or a corrupt
        gzip stream. The message names the file.
    FileNotFoundError
        ``path`` does not exist.
    """
    path = Path(path)
    where = f"IDX file '{path}'"
    stream, raw, is_gzip = _open(path)
    try:
        try:
            return _read_stream(stream, raw, is_gzip, where, ndim, max_bytes)
        except (gzip.BadGzipFile, zlib.error, EOFError) as error:
            raise IDXFormatError(f"{where}: corrupt gzip stream ({error})") from None
    finally:
        stream.close()
        raw.close()


def _read_stream(stream, raw, is_gzip: bool, where: str, ndim: int | None, max_bytes: int) -> np.ndarray:
    dtype, file_ndim = _parse_header(_read_exact(stream, 4), where)
    if ndim is not None and file_ndim != ndim:
        raise IDXFormatError(f"{where}: expected a {ndim}-D IDX file, got a {file_ndim}-D one")
    dims_bytes = _read_exact(stream, 4 * file_ndim)
    if len(dims_bytes) < 4 * file_ndim:
        raise IDXFormatError(
            f"{where}: header announces {file_ndim} dimensions ({4 + 4 * file_ndim} header bytes) "
            f"but the file ends after {4 + len(dims_bytes)} bytes"
        )
    shape = struct.unpack(f">{file_ndim}I", dims_bytes)
    if 0 in shape:
        raise IDXFormatError(f"{where}: header gives a zero size in shape {shape}")
    header_bytes = 4 + 4 * file_ndim
    body_bytes = math.prod(shape) * dtype.itemsize  # Python ints: four 32-bit sizes can overflow int64
    if body_bytes > max_bytes:
        raise IDXFormatError(
            f"{where}: header announces shape {shape} of {dtype.name}, {body_bytes} bytes, "
            f"more than the limit of {max_bytes} bytes (a damaged header?)"
        )
    expected = header_bytes + body_bytes
    if not is_gzip:
        # For a raw file the length is known up front: fail before allocating.
        actual = os.fstat(raw.fileno()).st_size
        if actual != expected:
            _raise_length(where, shape, dtype, expected, actual)
    out = np.empty(shape, dtype=dtype.newbyteorder("="))
    got = _read_into(stream, memoryview(out.reshape(-1).view(np.uint8)))
    if got < body_bytes:
        _raise_length(where, shape, dtype, expected, header_bytes + got)
    extra = _count_rest(stream)
    if extra:
        _raise_length(where, shape, dtype, expected, expected + extra)
    if dtype.byteorder == ">" and dtype.itemsize > 1 and np.little_endian:
        out.byteswap(inplace=True)  # the bytes were big-endian; make the values native
    return out


def _raise_length(where, shape, dtype, expected, actual):
    what = "truncated" if actual < expected else f"{actual - expected} trailing bytes"
    if actual - expected > 64 * _CHUNK:
        what, actual = "trailing garbage", f"more than {actual}"
    raise IDXFormatError(
        f"{where}: expected {expected} bytes (header + {dtype.name} array of shape {shape}), "
        f"got {actual} bytes ({what})"
    )


def write_idx(path, array, compresslevel: int = 6) -> Path:
    """Write ``array`` to ``path`` as an IDX file, atomically.

    The data go to a temporary file in the same directory, which is flushed,
    fsync'ed and then renamed over ``path``, so a reader never sees a
    half-written file. A name ending in ``.gz`` gives a gzipped file (with a
    zero timestamp and no stored name, so the bytes are reproducible).

    Parameters
    ----------
    path : str or os.PathLike
    array : array_like, any shape with 1 to 16 dimensions, no zero sizes
        dtype uint8, int8, int16, int32, float32 or float64 (other dtypes are
        refused rather than converted: IDX has no int64 or bool).
    compresslevel : int
        gzip level 1-9 for ``.gz`` names.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    array = np.asarray(array)
    key = (array.dtype.kind, array.dtype.itemsize)
    if key not in _CODE_OF_KIND:
        allowed = ", ".join(dt.name for dt in IDX_TYPE_CODES.values())
        raise TypeError(f"write_idx: IDX cannot hold dtype {array.dtype} (allowed: {allowed})")
    if not 1 <= array.ndim <= _MAX_NDIM:
        raise ValueError(f"write_idx: expected an array with 1 to {_MAX_NDIM} dimensions, got shape {array.shape}")
    if 0 in array.shape or max(array.shape) >= 1 << 32:
        raise ValueError(f"write_idx: every size must be between 1 and 2**32 - 1, got shape {array.shape}")
    code = _CODE_OF_KIND[key]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = np.ascontiguousarray(array, dtype=IDX_TYPE_CODES[code])

    def write(raw):
        if path.name.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=compresslevel) as gz:
                gz.write(header)
                gz.write(body.reshape(-1).view(np.uint8))
        else:
            raw.write(header)
            raw.write(body.reshape(-1).view(np.uint8))

    atomic_write(path, write)
    return path

