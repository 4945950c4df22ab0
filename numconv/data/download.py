"""Download the official MNIST / Fashion-MNIST files, verified by SHA-256.

Each file is streamed into a temporary file next to its destination while
its SHA-256 is computed; only when size and hash match the constants below is
it renamed into place. A mismatch deletes the temporary file and raises
:class:`ChecksumMismatchError` naming both hashes, so a damaged or tampered
file is never left where a dataset would find it.

The hashes are those of the files as their publishers serve them (the same
values the MD5s published by torchvision and the datasets' READMEs
identify). Debian's ``dataset-fashion-mnist`` package ships the same gzip
streams with a normalised gzip header (no stored file name, a different
timestamp), so its ``.gz`` files hash differently but decompress to the
identical bytes; ``scripts/make_sample.py`` checks exactly that.

Tests (and unusual networks) inject the transport: ``opener(url, timeout)``
must return a readable binary file object (the default is
``urllib.request.urlopen``), and ``mirrors`` replaces the base URLs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

from ._files import atomic_write

__all__ = [
    "Resource", "MNIST_RESOURCES", "FASHION_MNIST_RESOURCES", "MNIST_MIRRORS", "FASHION_MNIST_MIRRORS",
    "download_file", "download_resources", "ChecksumMismatchError", "DownloadError",
]

_CHUNK = 1 << 16


class Resource(NamedTuple):
    """One file of a data set: its name, exact size in bytes and SHA-256 (hex)."""

    filename: str
    size: int
    sha256: str


# Both data sets ship the same four files, in the IDX format (numconv/data/idx.py).
_IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
              "t10k-labels-idx1-ubyte.gz")


def _resources(*sizes_and_hashes) -> tuple:
    """The four IDX files of a data set, given the (size, SHA-256) of each, in the order of ``_IDX_FILES``."""
    return tuple(Resource(name, size, sha256) for name, (size, sha256) in zip(_IDX_FILES, sizes_and_hashes))


MNIST_RESOURCES = _resources(
    (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
)
# The original host (yann.lecun.com) now often refuses downloads; the mirrors
# below serve byte-identical files, which the hashes above verify.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

FASHION_MNIST_RESOURCES = _resources(
    (26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    (29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    (4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    (5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
)
# Zalando's own locations: the repository and the S3 bucket it links to.
FASHION_MNIST_MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)


class ChecksumMismatchError(ValueError):
    """A downloaded file's size or SHA-256 is not the published one."""


class DownloadError(OSError):
    """No mirror could be reached (no network, blocked, or not found)."""


def _default_opener(url: str, timeout: float):
    import urllib.request  # imported here: it costs ~20 ms and most runs never download

    request = urllib.request.Request(url, headers={"User-Agent": "numconv"})
    return urllib.request.urlopen(request, timeout=timeout)


def download_file(url: str, destination, resource: Resource, opener: Callable | None = None,
                  timeout: float = 30.0) -> Path:
    """Fetch ``url`` into ``destination`` if its size and SHA-256 match ``resource``.

    The bytes go to a temporary file in ``destination``'s directory, which is
    renamed to ``destination`` only after the checks pass.

    Parameters
    ----------
    url : str
    destination : str or os.PathLike
        The final file name.
    resource : Resource
        The expected size and SHA-256.
    opener : callable, optional
        ``opener(url, timeout)`` returning a readable binary file object.
    timeout : float
        Seconds to wait for the server.

    Raises
    ------
    ChecksumMismatchError
        The file is larger than expected, or its size or hash differs (the
        temporary file is deleted).
    OSError
        The transport failed (``urllib.error.URLError`` is an ``OSError``).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    opener = opener or _default_opener

    def write_verified(out):
        # Raising here abandons the temporary file; `destination` is only ever the verified file.
        digest = hashlib.sha256()
        size = 0
        with opener(url, timeout) as response:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > resource.size:
                    # Stop early: a server sending more than the file's size is sending something else.
                    raise ChecksumMismatchError(
                        f"{url}: received more than the expected {resource.size} bytes; discarded"
                    )
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if size != resource.size or actual != resource.sha256:
            raise ChecksumMismatchError(
                f"{url}: checksum mismatch, expected SHA-256 {resource.sha256} ({resource.size} bytes), "
                f"got {actual} ({size} bytes); the download was discarded"
            )

    atomic_write(destination, write_verified, suffix=".part")
    return destination


def download_resources(resources: Sequence[Resource], directory, mirrors: Sequence[str],
                       opener: Callable | None = None, timeout: float = 30.0, log=None) -> list[Path]:
    """Download every resource missing from ``directory``, trying each mirror in turn.

    Files already present with the right name are left alone (reading them
    checks their IDX structure). A mirror that fails (network error, HTTP
    error, wrong checksum) is skipped; if every mirror fails for a file,
    :class:`ChecksumMismatchError` is raised when some mirror served wrong
    bytes, otherwise :class:`DownloadError` saying what to do.

    Parameters
    ----------
    resources : sequence of Resource
    directory : str or os.PathLike
        Created if missing.
    mirrors : sequence of str
        Base URLs; the file name is appended.
    opener, timeout
        As for :func:`download_file`.
    log : callable, optional
        Called with one progress line per file (e.g. ``print``).

    Returns
    -------
    list of pathlib.Path
        The path of each resource, in order.
    """
    directory = Path(directory).expanduser()
    paths = []
    for resource in resources:
        target = directory / resource.filename
        paths.append(target)
        if target.exists():
            continue
        failures, mismatches = [], []
        for base in mirrors:
            url = base.rstrip("/") + "/" + resource.filename
            if log is not None:
                log(f"downloading {url}")
            try:
                download_file(url, target, resource, opener=opener, timeout=timeout)
                break
            except ChecksumMismatchError as error:
                mismatches.append(str(error))
            except OSError as error:  # URLError, HTTPError, socket timeouts, refused connections
                failures.append(f"{url}: {getattr(error, 'reason', None) or error}")
        else:
            if mismatches:
                raise ChecksumMismatchError(
                    "; ".join(mismatches + failures)
                    + f". Nothing was kept. A mirror served bytes that are not the published file (a transfer cut "
                    "short, a proxy's error page, or a changed file): try again later, or get "
                    f"{resource.filename} from a copy you trust, check that its SHA-256 is {resource.sha256}, and "
                    f"put it in {directory}"
                )
            raise DownloadError(
                f"could not download {resource.filename}: "
                + "; ".join(failures)
                + f". Check the network connection (or proxy settings), or copy the files into {directory} "
                "by hand"
            )
    return paths
