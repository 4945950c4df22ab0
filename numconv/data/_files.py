"""Atomic writes: a temporary file next to the destination, fsync'ed, then renamed over it.

Every file numconv writes (IDX files, downloads, checkpoints, training
histories) goes through :func:`atomic_write`.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def check_regular_file(path, where: str, error=ValueError) -> None:
    """Raise ``error`` unless ``path`` is a regular file (after symlinks); ``FileNotFoundError`` if missing.

    A FIFO, a socket or a device would make a reader block or never reach
    the end, so numconv reads none of them.
    """
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise error(f"{where} is a directory, not a file")
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or socket"
        raise error(f"{where} is {kind}, not a regular file; numconv reads only regular files")


def create_temp(destination: Path, suffix: str = ".tmp"):
    """Create a new hidden file next to ``destination``; return ``(fd, path)``.

    Unlike ``tempfile.mkstemp`` (always mode 0600), the file gets the
    ordinary permissions the umask allows, so the renamed result looks like
    any other file the user writes.
    """
    while True:
        path = destination.parent / f".{destination.name}.{secrets.token_hex(4)}{suffix}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue


def _naming(error: OSError, path) -> OSError:
    """``error`` about the hidden temporary file, told about the file the caller asked for ("cannot use 'out.png'")."""
    return type(error)(error.errno, error.strerror, str(path))


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); silently skipped where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write, suffix: str = ".tmp") -> None:
    """Write a file so that readers see the old version or the new one, never half of one.

    The content goes to a hidden temporary file in the same directory
    (``.<name>.<random><suffix>``), which is flushed and fsync'ed, renamed over
    ``path`` with ``os.replace`` (atomic on POSIX and Windows), and then the
    directory is fsync'ed so the rename itself survives a power cut. If
    ``write`` raises, the temporary file is removed and ``path`` is
    untouched. If the process is killed mid-write, the temporary file stays
    behind, but ``path`` still holds the previous version; the temporary
    file is never read by numconv and may be deleted.

    Parameters
    ----------
    path : str or os.PathLike
        The destination. Its directory must exist. If it is a symlink, the
        file it points to is replaced (the link itself stays).
    write : callable
        ``write(f)`` writes the content into the open binary file ``f``; it
        may raise to abandon the write (a download whose checksum is wrong).
    suffix : str
        Ending of the temporary file's name.
    """
    # A symlink is followed: the file it points to is replaced, and the link stays a link.
    path = Path(os.path.realpath(os.fspath(path)))
    if not path.parent.is_dir():
        raise FileNotFoundError(2, "the folder to write into does not exist", str(path.parent))
    # Not tempfile.mkstemp: its files are always mode 0600, and the renamed
    # file should have the permissions any other file the user writes has.
    try:
        fd, tmp = create_temp(path, suffix)
    except OSError as error:
        raise _naming(error, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        # Leave no stray temp file; the old `path` (if any) is untouched.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError) and error.filename is not None and os.fspath(error.filename) == os.fspath(tmp):
            raise _naming(error, path) from None
        raise
    fsync_dir(path.parent)
