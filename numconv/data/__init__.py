"""Data: the IDX reader, MNIST / Fashion-MNIST, the bundled sample, DataLoader, transforms.

    from numconv.data import DataLoader, FashionMNISTSample, transforms as T

    train = FashionMNISTSample(train=True, transform=T.Compose([T.ToFloat(), T.Pad(2)]))
    loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)
    for images, labels in loader:      # float32 (64, 1, 32, 32), int64 (64,)
        ...

Nothing here unpickles, and downloads are verified by SHA-256.
"""

from . import transforms
from .dataset import Dataset, Subset, TensorDataset, random_split
from .datasets import (
    DATASETS, MNIST, DatasetNotFoundError, FashionMNIST, FashionMNISTSample, ImageDataset, cache_dir,
    get_dataset, search_dirs,
)
from .download import ChecksumMismatchError, DownloadError, download_resources
from .idx import IDXFormatError, read_idx, write_idx
from .loader import DataLoader, default_collate
from .transforms import (
    Compose, Normalize, Pad, PILToTensor, RandomCrop, RandomHorizontalFlip, Resize, ToFloat, ToPILImage, ToTensor,
)

__all__ = [
    "transforms", "Dataset", "Subset", "TensorDataset", "random_split", "ImageDataset", "MNIST", "FashionMNIST",
    "FashionMNISTSample", "DATASETS", "get_dataset", "search_dirs", "cache_dir", "DatasetNotFoundError",
    "ChecksumMismatchError", "DownloadError", "download_resources", "IDXFormatError", "read_idx", "write_idx",
    "DataLoader", "default_collate",
    # the transforms, also reachable here for brevity
    "Compose", "ToFloat", "Normalize", "Pad", "Resize", "RandomCrop", "RandomHorizontalFlip",
    "ToTensor", "PILToTensor", "ToPILImage",
]
