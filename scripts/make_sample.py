"""Build numconv's bundled Fashion-MNIST sample from the official files.

    python scripts/make_sample.py            # write numconv/data/sample/fashion_mnist_sample.npz
    python scripts/make_sample.py --check    # rebuild in memory, compare with the bundled file

The source is Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist``) or the four files as Zalando
publishes them. Before anything is read, each file is proved to be the
official one: either its SHA-256 is the published value, or it is Debian's
copy, whose gzip stream is the official one under a header normalised by
Debian's build (stored file name dropped, timestamp changed). Putting the
official header back (the file name and the timestamps below) must then
reproduce the published SHA-256 byte for byte.

The selection is seeded: for each class, ``per_class`` images drawn without
replacement from that class's images, then all of them put back in the
official order. The arrays are saved with ``np.savez_compressed`` (plain
uint8/uint16 arrays, no pickles), and their SHA-256 (per split, over names,
dtypes, shapes and bytes) is what ``numconv.data.datasets.SAMPLE_SHA256``
must hold; the script prints it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from numconv.data import datasets  # noqa: E402
from numconv.data.download import FASHION_MNIST_RESOURCES  # noqa: E402
from numconv.data.idx import read_idx  # noqa: E402

DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUT = REPO / "numconv" / "data" / "sample" / "fashion_mnist_sample.npz"
SEED = 20170825  # Fashion-MNIST's release date
PER_CLASS = {"train": 600, "test": 200}

# The gzip modification times in the official files' headers (2017-08-31 10:50:06 and 10:50:27 UTC).
OFFICIAL_GZIP_MTIME = {"train": 1504176606, "t10k": 1504176627}


def official_bytes(path: Path) -> bytes:
    """The file's bytes as Zalando publishes them, or raise if it is not an official copy."""
    resource = next(r for r in FASHION_MNIST_RESOURCES if r.filename == path.name)
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() == resource.sha256:
        return blob
    # Debian's copy: a 10-byte gzip header without FNAME. Rebuild the official
    # header (flags FNAME, the official mtime, XFL 0, OS 3 = Unix, the name).
    if blob[:4] != b"\x1f\x8b\x08\x00":
        raise SystemExit(f"{path}: neither the official file nor a header-normalised copy of it")
    stem = path.name[: -len(".gz")]
    mtime = OFFICIAL_GZIP_MTIME[stem.split("-")[0]]
    rebuilt = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + b"\x00\x03" + stem.encode() + b"\x00" + blob[10:]
    actual = hashlib.sha256(rebuilt).hexdigest()
    if actual != resource.sha256:
        raise SystemExit(f"{path}: with the official gzip header restored its SHA-256 is {actual}, "
                         f"not the published {resource.sha256}: not an official copy")
    print(f"  {path.name}: Debian's copy, identical to the official file once its gzip header is restored")
    return rebuilt


def load_split(source: Path, prefix: str):
    """Verified images (N, 28, 28) and labels (N,) of one official split."""
    files = [source / f"{prefix}-{kind}.gz" for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]
    with tempfile.TemporaryDirectory() as tmp:
        arrays = []
        for f in files:
            copy = Path(tmp) / f.name
            copy.write_bytes(official_bytes(f))
            arrays.append(read_idx(copy))
    images, labels = arrays
    assert images.shape == (len(labels), 28, 28) and images.dtype == np.uint8, images.shape
    return images, labels


def select(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` indices of every class, drawn without replacement, in ascending order."""
    picks = [rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False) for c in range(10)]
    return np.sort(np.concatenate(picks))


def build(source: Path, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = load_split(source, prefix)
        index = select(labels, PER_CLASS[split], rng)
        arrays[f"{split}_images"] = np.ascontiguousarray(images[index])
        arrays[f"{split}_labels"] = labels[index].astype(np.uint8)
        arrays[f"{split}_source_index"] = index.astype(np.uint16)
    return arrays


def split_hashes(arrays: dict) -> dict:
    return {split: datasets._arrays_sha256({k: v for k, v in arrays.items() if k.startswith(split + "_")})
            for split in ("train", "test")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="directory with the four .gz files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--check", action="store_true", help="only compare a rebuild with the bundled file")
    args = parser.parse_args(argv)

    print(f"reading {args.source}")
    arrays = build(args.source, args.seed)
    hashes = split_hashes(arrays)
    for split, digest in hashes.items():
        counts = np.bincount(arrays[f"{split}_labels"], minlength=10)
        print(f"  {split}: {len(arrays[f'{split}_labels'])} images, per class {counts.tolist()}, sha256 {digest}")

    if args.check:
        ok = hashes == datasets.SAMPLE_SHA256
        for split in ("train", "test"):
            bundled = datasets.load_sample_arrays(split, args.out)
            ok &= all(np.array_equal(bundled[k], arrays[f"{split}_{k}"]) for k in bundled)
        print("the bundled sample is reproduced exactly" if ok else "MISMATCH with the bundled sample")
        return 0 if ok else 1

    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, prefix=".sample.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; package data must be world-readable
        os.replace(tmp, args.out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    if hashes != datasets.SAMPLE_SHA256:
        print("update SAMPLE_SHA256 in numconv/data/datasets.py to:")
        print("SAMPLE_SHA256 = {\n" + "".join(f'    "{k}": "{v}",\n' for k, v in hashes.items()) + "}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
