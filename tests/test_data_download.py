"""Downloads, served by a local HTTP server or file:// URLs: no real network is touched."""

import contextlib
import functools
import hashlib
import http.server
import io
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from numconv.data import MNIST, ChecksumMismatchError, DownloadError, FashionMNIST, download_resources, write_idx
from numconv.data import datasets
from numconv.data.download import (
    FASHION_MNIST_RESOURCES, MNIST_RESOURCES, Resource, download_file,
)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory):
    """An HTTP server on localhost serving ``directory``; yields its base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url():
    """A localhost URL nobody listens on (connection refused, like a machine without network)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def resource_for(path: Path) -> Resource:
    data = path.read_bytes()
    return Resource(path.name, len(data), hashlib.sha256(data).hexdigest())


@pytest.fixture
def served(tmp_path):
    """Four small MNIST-style .gz files in tmp/server, and their resources."""
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in [("train", 12), ("t10k", 5)]:
        write_idx(server_dir / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(server_dir / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8))
    resources = tuple(resource_for(p) for p in sorted(server_dir.iterdir()))
    return server_dir, resources


def test_download_success_leaves_only_the_verified_files(tmp_path, served):
    server_dir, resources = served
    with serve(server_dir) as url:
        paths = download_resources(resources, tmp_path / "dest", [url])
    for path, resource in zip(paths, resources):
        assert path.read_bytes() == (server_dir / resource.filename).read_bytes()
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == sorted(r.filename for r in resources)


def test_checksum_mismatch_discards_the_file(tmp_path, served):
    server_dir, resources = served
    wrong = resources[0]._replace(sha256="0" * 64)
    with serve(server_dir) as url:
        with pytest.raises(ChecksumMismatchError) as info:
            download_resources([wrong], tmp_path / "dest", [url])
    message = str(info.value)
    assert f"expected SHA-256 {'0' * 64}" in message and f"got {resources[0].sha256}" in message
    assert list((tmp_path / "dest").iterdir()) == []  # neither the file nor a temporary part


def test_oversized_response_is_cut_off(tmp_path, served):
    server_dir, resources = served
    short = resources[0]._replace(size=100)
    with serve(server_dir) as url:
        with pytest.raises(ChecksumMismatchError, match="more than the expected 100 bytes"):
            download_resources([short], tmp_path / "dest", [url])
    assert list((tmp_path / "dest").iterdir()) == []


def test_no_network_says_what_to_do(tmp_path, served):
    _, resources = served
    with pytest.raises(DownloadError) as info:
        download_resources(resources[:1], tmp_path / "dest", [closed_port_url()], timeout=5)
    message = str(info.value)
    assert "could not download" in message and "Check the network connection" in message
    assert str(tmp_path / "dest") in message
    assert list((tmp_path / "dest").iterdir()) == []


def test_next_mirror_is_tried(tmp_path, served):
    server_dir, resources = served
    with serve(server_dir) as url:
        paths = download_resources(resources, tmp_path / "dest", [closed_port_url(), url + "missing/", url],
                                   timeout=5)
    assert all(p.is_file() for p in paths)


def test_bad_mirror_then_good_mirror(tmp_path, served):
    server_dir, resources = served
    evil = tmp_path / "evil"
    evil.mkdir()
    for r in resources:
        (evil / r.filename).write_bytes(b"\x00" * r.size)  # right size, wrong bytes
    with serve(evil) as bad, serve(server_dir) as good:
        download_resources(resources, tmp_path / "dest", [bad, good])
        with pytest.raises(ChecksumMismatchError, match="checksum mismatch"):
            download_resources(resources, tmp_path / "dest2", [bad])


def test_file_urls_and_injected_opener(tmp_path, served):
    server_dir, resources = served
    paths = download_resources(resources, tmp_path / "a", [server_dir.as_uri()])
    assert all(p.is_file() for p in paths)

    calls = []

    def opener(url, timeout):
        calls.append(url)
        return io.BytesIO((server_dir / url.rsplit("/", 1)[1]).read_bytes())

    download_resources(resources, tmp_path / "b", ["https://example.invalid/data"], opener=opener)
    assert calls == [f"https://example.invalid/data/{r.filename}" for r in resources]
    download_resources(resources, tmp_path / "b", ["https://example.invalid/data"], opener=opener)
    assert len(calls) == len(resources)  # files already there are not fetched again


def test_download_file_direct(tmp_path, served):
    server_dir, resources = served
    with serve(server_dir) as url:
        out = download_file(url + resources[0].filename, tmp_path / "x" / "file.gz", resources[0])
    assert out.read_bytes() == (server_dir / resources[0].filename).read_bytes()


# ---------------------------------------------------------------------------------------- through the datasets

@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMCONV_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", (str(tmp_path / "system"),))
    return tmp_path


def test_dataset_download_into_root_and_cache(isolated, served, monkeypatch):
    server_dir, resources = served
    monkeypatch.setattr(MNIST, "resources", resources)
    with serve(server_dir) as url:
        monkeypatch.setattr(MNIST, "mirrors", (url,))
        ds = MNIST(root=isolated / "root", train=False, download=True)
        assert len(ds) == 5 and ds.path == isolated / "root"
        assert sorted(p.name for p in (isolated / "root").iterdir()) == [
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]  # only the split asked for
        ds = MNIST(train=True, download=True)
        assert len(ds) == 12 and ds.path == isolated / "cache" / "numconv" / "mnist"


def test_dataset_download_failure_mentions_alternatives(isolated, monkeypatch):
    monkeypatch.setattr(FashionMNIST, "mirrors", (closed_port_url(),))
    with pytest.raises(DownloadError,
                       match=r"FashionMNIST: .*could not download .*apt-get install dataset-fashion-mnist"):
        FashionMNIST(download=True)
    assert not any((isolated / "cache" / "numconv" / "fashion-mnist").iterdir())


@pytest.mark.parametrize("cls", [FashionMNIST, MNIST])
def test_no_network_lists_the_places_searched_and_the_alternatives(isolated, monkeypatch, cls):
    """``urlopen`` fails as it does offline; the default mirrors are tried and nothing touches the network."""
    import urllib.error
    import urllib.request

    tried = []

    def offline(request, timeout=None):
        tried.append(request.full_url)
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError) as info:
        cls(train=False, download=True)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{cls.__name__}: the test files were in none of the places")
    for place in datasets.search_dirs(cls.name, class_name=cls.__name__):
        assert str(place) in message
    assert "Temporary failure in name resolution" in message
    assert "--data-dir DIR" in message and "$NUMCONV_DATA" in message and "FashionMNISTSample" in message
    assert ("apt-get install dataset-fashion-mnist" in message) == (cls is FashionMNIST)
    assert tried == [base + "t10k-images-idx3-ubyte.gz" for base in cls.mirrors]  # every mirror, then stop
    cache = isolated / "cache" / "numconv" / cls.name
    assert not cache.exists() or not any(cache.iterdir())  # no half-written file, no temporary


def test_dataset_checksum_mismatch_says_what_to_do(isolated, served, monkeypatch):
    server_dir, resources = served
    wrong = tuple(r._replace(sha256="f" * 64) for r in resources)
    monkeypatch.setattr(MNIST, "resources", wrong)
    with serve(server_dir) as url:
        monkeypatch.setattr(MNIST, "mirrors", (url,))
        with pytest.raises(ChecksumMismatchError) as info:
            MNIST(root=isolated / "root", download=True)
    message = str(info.value)
    assert "\n" not in message and "checksum mismatch" in message and "Nothing was kept" in message
    assert f"check that its SHA-256 is {'f' * 64}" in message and str(isolated / "root") in message
    assert list((isolated / "root").iterdir()) == []


DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (DEBIAN_DIR / "train-images-idx3-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist package is not installed")
def test_fashion_mnist_checksums_match_the_real_files():
    # Debian's copies differ from the official files only in the gzip header; the sample script restores
    # the official header and must then reproduce the published size and SHA-256 exactly.
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_sample.py"
    spec = importlib.util.spec_from_file_location("make_sample", script)
    make_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sample)
    for resource in FASHION_MNIST_RESOURCES:
        blob = make_sample.official_bytes(DEBIAN_DIR / resource.filename)
        assert len(blob) == resource.size and hashlib.sha256(blob).hexdigest() == resource.sha256
        assert hashlib.md5(blob).hexdigest() in {  # the MD5s torchvision publishes for the same files
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"}


def test_published_checksums_are_well_formed():
    for resources in (MNIST_RESOURCES, FASHION_MNIST_RESOURCES):
        assert [r.filename for r in resources] == [
            "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        for r in resources:
            assert len(r.sha256) == 64 and int(r.sha256, 16) >= 0 and r.size > 4000
