"""Temporary files for atomic writes (write, fsync, rename)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


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
