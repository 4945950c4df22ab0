"""MNIST, Fashion-MNIST and the Fashion-MNIST sample bundled with numconv.

``MNIST`` and ``FashionMNIST`` read the four standard IDX files
(``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``) from the
first directory that has the requested split, searching in this order:

1. ``root`` if given (also ``root/<name>`` and torchvision's ``root/<Class>/raw``),
2. ``$NUMCONV_DATA`` and ``$NUMCONV_DATA/<name>``,
3. ``~/.cache/numconv/<name>`` (``$XDG_CACHE_HOME/numconv/<name>`` if set),
4. ``/usr/share/datasets/<name>`` (Debian's ``dataset-fashion-mnist`` package),

where ``<name>`` is ``mnist`` or ``fashion-mnist``. ``download=True``
fetches missing files into ``root`` (or the cache directory), verified by
SHA-256 (see :mod:`numconv.data.download`).

``FashionMNISTSample`` needs no files at all: 6,000 training and 2,000 test
images (class-balanced) ship inside the package, so examples and tests run
offline.

Every dataset keeps ``data`` (uint8, (N, 28, 28)) and ``targets`` (int64,
(N,)) in memory. ``ds[i]`` gives ``(image, label)``: the transform receives
the uint8 image with its channel axis, (1, 28, 28), and defaults to
:class:`~numconv.data.transforms.ToFloat` (float32 in [0, 1]).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .dataset import Dataset, _as_indices, _check_index
from .download import (
    FASHION_MNIST_MIRRORS, FASHION_MNIST_RESOURCES, MNIST_MIRRORS, MNIST_RESOURCES, DownloadError,
    download_resources,
)
from .idx import read_idx
from .transforms import ToFloat

__all__ = [
    "ImageDataset", "MNIST", "FashionMNIST", "FashionMNISTSample", "DatasetNotFoundError", "search_dirs",
    "cache_dir", "get_dataset", "DATASETS", "SAMPLE_PATH",
]

#: system-wide data directories searched last (each holds ``<name>/``)
SYSTEM_DATA_DIRS = ("/usr/share/datasets",)

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_CLASSES = (
    "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
    "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
)

_DEFAULT_TRANSFORM = ToFloat()


class DatasetNotFoundError(FileNotFoundError):
    """A data set's files are in none of the searched directories.

    ``searched`` holds the directories looked in, in order.
    """

    def __init__(self, message, searched=()):
        super().__init__(message)
        self.searched = list(searched)


def cache_dir(name: str) -> Path:
    """``~/.cache/numconv/<name>`` (or ``$XDG_CACHE_HOME/numconv/<name>``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(base).expanduser() / "numconv" / name


def search_dirs(name: str, root=None, class_name: str | None = None) -> list[Path]:
    """The directories searched for data set ``name``, in order (see the module docstring)."""
    dirs = []
    if root is not None:
        root = Path(root).expanduser()
        dirs += [root, root / name]
        if class_name:
            dirs.append(root / class_name / "raw")
    env = os.environ.get("NUMCONV_DATA")
    if env:
        dirs += [Path(env).expanduser(), Path(env).expanduser() / name]
    dirs.append(cache_dir(name))
    dirs += [Path(d) / name for d in SYSTEM_DATA_DIRS]
    unique = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _find_file(directory: Path, stem: str):
    """``directory/stem`` or ``directory/stem.gz``, whichever exists (raw first), else None."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


class ImageDataset(Dataset):
    """Grayscale images and integer labels held in memory.

    Parameters
    ----------
    data : ndarray, uint8, shape (N, H, W)
    targets : array_like of int, shape (N,)
    transform : callable, optional
        Applied to each image, given as uint8 of shape (1, H, W); default
        ``ToFloat()``. If it has ``supports_batch = True`` (every numconv
        transform, and ``Compose`` of them) it is also applied to whole
        batches of shape (B, 1, H, W) by :meth:`get_batch`.
    target_transform : callable, optional
        Applied to each label (a Python int).
    """

    classes: tuple = ()

    def __init__(self, data, targets, transform=None, target_transform=None):
        where = type(self).__name__
        data = np.asarray(data)
        targets = np.asarray(targets)
        if data.dtype != np.uint8 or data.ndim != 3:
            raise ValueError(f"{where}: expected images of dtype uint8 and shape (N, H, W), "
                             f"got {data.dtype} {tuple(data.shape)}")
        if targets.ndim != 1 or (targets.size and not np.issubdtype(targets.dtype, np.integer)):
            raise ValueError(f"{where}: expected integer labels of shape (N,), got {targets.dtype} "
                             f"{tuple(targets.shape)}")
        if len(targets) != len(data):
            raise ValueError(f"{where}: {len(data)} images but {len(targets)} labels")
        if self.classes and targets.size and (targets.min() < 0 or targets.max() >= len(self.classes)):
            raise ValueError(f"{where}: labels must lie in [0, {len(self.classes) - 1}], "
                             f"got values from {targets.min()} to {targets.max()}")
        self.data = data
        self.targets = targets.astype(np.int64)
        self.transform = transform
        self.target_transform = target_transform

    @property
    def class_to_idx(self) -> dict:
        return {name: i for i, name in enumerate(self.classes)}

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        index = _check_index(index, len(self), type(self).__name__)
        transform = self.transform if self.transform is not None else _DEFAULT_TRANSFORM
        image = transform(self.data[index][None])
        label = int(self.targets[index])
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def get_batch(self, indices):
        """The samples ``indices`` as one batch, transformed in one go where possible.

        Returns
        -------
        images : ndarray, shape (B, ...)
            ``transform`` applied to the uint8 batch (B, 1, H, W) if it
            supports batches, else to each image and stacked.
        labels : ndarray, int64, shape (B,)
            (or the stacked ``target_transform`` outputs)
        """
        indices = _as_indices(indices, len(self), type(self).__name__)
        transform = self.transform if self.transform is not None else _DEFAULT_TRANSFORM
        raw = self.data[indices][:, None]
        if getattr(transform, "supports_batch", False):
            images = transform(raw)
        else:
            images = np.stack([transform(image) for image in raw])
        labels = self.targets[indices]
        if self.target_transform is not None:
            labels = np.asarray([self.target_transform(int(t)) for t in labels])
        return images, labels

    def _repr_lines(self):
        return [f"Number of datapoints: {len(self)}"]

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", *(f"    {line}" for line in self._repr_lines())]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)


class MNIST(ImageDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Directory holding the IDX files (searched first; see the module
        docstring for the rest of the search order). Downloads go here.
    train : bool
        The training split (``train-*`` files) or the test split (``t10k-*``).
    transform, target_transform : callable, optional
        See :class:`ImageDataset`.
    download : bool
        Fetch missing files into ``root`` (or ``~/.cache/numconv/<name>``),
        verified by SHA-256.

    Attributes
    ----------
    data : ndarray, uint8, shape (N, 28, 28)
    targets : ndarray, int64, shape (N,)
    classes : tuple of str
    path : pathlib.Path
        The directory the files were read from.

    Raises
    ------
    DatasetNotFoundError (a FileNotFoundError)
        The files are nowhere and ``download`` is False; the message lists
        the directories searched and how to get the data.
    IDXFormatError (a ValueError)
        A file is damaged, or labels and images disagree in number.
    """

    name = "mnist"
    classes = MNIST_CLASSES
    resources = MNIST_RESOURCES
    mirrors = MNIST_MIRRORS
    #: extra advice for the not-found message
    _install_hint = ""

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        self.root = None if root is None else Path(root).expanduser()
        self.train = bool(train)
        prefix = "train" if self.train else "t10k"
        stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
        dirs = search_dirs(self.name, root, type(self).__name__)
        found = self._locate(dirs, stems)
        if found is None and download:
            target = self.root if self.root is not None else cache_dir(self.name)
            self._download(target, prefix, dirs)
            found = self._locate([target], stems)
        if found is None:
            raise self._not_found(dirs, stems)
        self.path, (image_file, label_file) = found
        images = read_idx(image_file, ndim=3)
        labels = read_idx(label_file, ndim=1)
        where = type(self).__name__
        if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
            raise ValueError(f"{where}: expected uint8 images of shape (N, 28, 28) in '{image_file}', "
                             f"got {images.dtype} {images.shape}")
        if labels.dtype != np.uint8:
            raise ValueError(f"{where}: expected uint8 labels in '{label_file}', got {labels.dtype}")
        if len(labels) != len(images):
            raise ValueError(f"{where}: '{image_file}' holds {len(images)} images but "
                             f"'{label_file}' holds {len(labels)} labels")
        super().__init__(images, labels, transform, target_transform)

    @staticmethod
    def _locate(dirs, stems):
        for directory in dirs:
            files = [_find_file(directory, stem) for stem in stems]
            if all(files):
                return directory, files
        return None

    def _download(self, target: Path, prefix: str, searched):
        wanted = [r for r in self.resources if r.filename.startswith(prefix + "-")]
        try:
            download_resources(wanted, target, self.mirrors)
        except DownloadError as error:
            split = "training" if self.train else "test"
            places = ", ".join(str(d) for d in searched)
            raise DownloadError(
                f"{type(self).__name__}: the {split} files were in none of the places searched ({places}) and "
                f"the download failed: {error}. Without the network: put the files in a directory and pass "
                f"root=DIR (command line: --data-dir DIR) or set $NUMCONV_DATA=DIR{self._install_hint}. "
                "(FashionMNISTSample, bundled with numconv, needs no download.)"
            ) from None

    def _not_found(self, dirs, stems):
        split = "training" if self.train else "test"
        files = " and ".join(f"{stem}[.gz]" for stem in stems)
        env = "" if os.environ.get("NUMCONV_DATA") else " ($NUMCONV_DATA is not set)"
        places = ", ".join(str(d) for d in dirs)
        return DatasetNotFoundError(
            f"{type(self).__name__}: the {split} files ({files}) were not found; searched: {places}{env}. "
            f"To get them: pass download=True (command line: --download){self._install_hint}, or put the "
            f"files in a directory and pass root=DIR (command line: --data-dir DIR) or set $NUMCONV_DATA=DIR",
            searched=dirs,
        )

    def _repr_lines(self):
        return [*super()._repr_lines(), f"Location: {self.path}", f"Split: {'Train' if self.train else 'Test'}"]


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 70,000 28x28 clothing images in 10 classes.

    Same interface and search order as :class:`MNIST` (directory name
    ``fashion-mnist``). On Debian and Ubuntu, ``apt-get install
    dataset-fashion-mnist`` puts the files in ``/usr/share/datasets/fashion-mnist``.
    """

    name = "fashion-mnist"
    classes = FASHION_MNIST_CLASSES
    resources = FASHION_MNIST_RESOURCES
    mirrors = FASHION_MNIST_MIRRORS
    _install_hint = ", or install Debian's package (apt-get install dataset-fashion-mnist)"


# ---------------------------------------------------------------------------------------------------- the sample

SAMPLE_PATH = Path(__file__).resolve().parent / "sample" / "fashion_mnist_sample.npz"
#: what ``scripts/make_sample.py`` writes: per split, the SHA-256 of the arrays (see ``_arrays_sha256``)
SAMPLE_SHA256 = {
    "train": "4eda5e238acba9f3ba0e0b11bb05a1ea0f551a914123e75ecae60ef38ae6d748",
    "test": "1edcd0be0323632afc88a78831d6b60c39be6725c6b6b88eeb68a02d8ff81a0c",
}
SAMPLE_SIZES = {"train": 6000, "test": 2000}


def _arrays_sha256(arrays: dict) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``arrays`` (sorted by name).

    It identifies the *content*; the ``.npz`` file's own bytes also depend on
    the NumPy and zlib versions that wrote and compressed it.
    """
    digest = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        digest.update(a.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def load_sample_arrays(split: str, path=None) -> dict:
    """The bundled sample's arrays for ``split`` ("train" or "test"), checked.

    Returns ``{"images": uint8 (N, 28, 28), "labels": uint8 (N,),
    "source_index": uint16 (N,)}``; ``source_index`` is each image's
    position in the official Fashion-MNIST file it was taken from.
    """
    path = SAMPLE_PATH if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FashionMNISTSample: the bundled sample is missing from this installation "
                                f"({path}); reinstall numconv, or rebuild it with scripts/make_sample.py")
    keys = {f"{split}_images": ((SAMPLE_SIZES[split], 28, 28), np.uint8),
            f"{split}_labels": ((SAMPLE_SIZES[split],), np.uint8),
            f"{split}_source_index": ((SAMPLE_SIZES[split],), np.uint16)}
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in keys}
    except Exception as error:  # noqa: BLE001 - a damaged zip fails in many ways (BadZipFile, EOFError, ...)
        detail = (str(error).strip().splitlines() or [""])[0]
        raise ValueError(f"FashionMNISTSample: the bundled sample {path} is unreadable ({type(error).__name__}: "
                         f"{detail}); reinstall numconv") from None
    for key, (shape, dtype) in keys.items():
        if arrays[key].shape != shape or arrays[key].dtype != dtype:
            raise ValueError(f"FashionMNISTSample: {path}: '{key}' should be {np.dtype(dtype)} {shape}, "
                             f"got {arrays[key].dtype} {arrays[key].shape}")
    actual = _arrays_sha256(arrays)
    if actual != SAMPLE_SHA256[split]:
        raise ValueError(f"FashionMNISTSample: {path}: the {split} arrays do not match their checksum "
                         f"(expected SHA-256 {SAMPLE_SHA256[split]}, got {actual}); reinstall numconv")
    return {name.split("_", 1)[1]: a for name, a in arrays.items()}


class FashionMNISTSample(ImageDataset):
    """A class-balanced sample of Fashion-MNIST bundled with numconv (no download).

    6,000 training images (600 per class, from the official training set)
    and 2,000 test images (200 per class, from the official test set),
    picked with a fixed seed by ``scripts/make_sample.py``. Fashion-MNIST is
    MIT-licensed, (c) 2017 Zalando SE; see ``numconv/data/sample/NOTICE``.

    Parameters
    ----------
    train : bool
        Training (6,000 images) or test (2,000 images) split.
    transform, target_transform : callable, optional
        See :class:`ImageDataset`. Without a transform, ``dataset[i]`` is
        ``(image, label)`` with ``image`` float32 in [0, 1], shape (1, 28, 28):
        to save it as a PNG, scale it back to bytes,
        ``np.rint(image[0] * 255).astype(np.uint8)`` (the same as ``data[i]``).

    Attributes
    ----------
    data : ndarray, uint8, shape (N, 28, 28)
        The raw pixels, 0 to 255.
    targets : ndarray, int64, shape (N,)
    source_index : ndarray, int64, shape (N,)
        Each image's index in the official file.
    """

    name = "sample"
    classes = FASHION_MNIST_CLASSES

    def __init__(self, train=True, transform=None, target_transform=None):
        self.train = bool(train)
        arrays = load_sample_arrays("train" if self.train else "test")
        self.source_index = arrays["source_index"].astype(np.int64)
        super().__init__(arrays["images"], arrays["labels"], transform, target_transform)

    def _repr_lines(self):
        return [*super()._repr_lines(), f"Split: {'Train' if self.train else 'Test'}"]


DATASETS = {"sample": FashionMNISTSample, "mnist": MNIST, "fashion-mnist": FashionMNIST}


def get_dataset(name: str, train: bool = True, root=None, download: bool = False, transform=None,
                target_transform=None):
    """Build a data set by name: ``"sample"``, ``"mnist"`` or ``"fashion-mnist"``.

    ``root`` and ``download`` are ignored for the bundled sample.
    """
    if name not in DATASETS:
        raise ValueError(f"get_dataset: unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    if name == "sample":
        return FashionMNISTSample(train=train, transform=transform, target_transform=target_transform)
    return DATASETS[name](root=root, train=train, transform=transform, target_transform=target_transform,
                          download=download)
