"""The checks a checkpoint passes before numconv trusts it: container, description, entry sizes, values.

Kept apart from ``numconv._ckpt_file`` (which encodes, writes and reads)
and ``numconv.checkpoint`` (which restores) so each file reads in one
sitting. Every failure is one ``CheckpointError`` line naming the file and
the first problem found.
"""

from __future__ import annotations

import json
import math
import numbers
import os

import numpy as np

from .data._files import check_regular_file

FORMAT = "numconv-checkpoint"
FORMAT_VERSION = 1
META_KEY = "__meta__"
#: the description (``__meta__``) of a real checkpoint is a few KB; refuse one that would inflate past this
MAX_META_BYTES = 64 << 20
#: arrays outside the model and optimizer sections (none in a checkpoint numconv writes) may total this much
MAX_OTHER_BYTES = 64 << 20


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt, or does not fit the model."""


_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or the end record of an empty zip
_NPY_START = b"\x93NUMPY"


def _check_container(path: str) -> None:
    """Refuse, in one line, a file that is not even a zip archive.

    ``np.load`` guesses a file's kind from its first bytes (zip, ``.npy``,
    else pickle); this check gives each wrong kind its own message first.
    """
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    check_regular_file(path, f"checkpoint '{path}'", CheckpointError)  # a FIFO would block the reader
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as error:
        raise CheckpointError(f"checkpoint '{path}' cannot be read ({error.strerror or error})") from None
    if head.startswith(_ZIP_STARTS):
        return
    if not head:
        raise CheckpointError(f"checkpoint '{path}' is empty (0 bytes)")
    if head.startswith(_NPY_START):
        raise CheckpointError(f"checkpoint '{path}' is a single .npy array, not a numconv checkpoint (.npz)")
    if head[0] == 0x80:  # the PROTO opcode every pickle since protocol 2 starts with
        raise CheckpointError(f"checkpoint '{path}' is a Python pickle, not a numconv checkpoint; numconv never "
                              "unpickles files, because unpickling can run arbitrary code")
    if not any(head):
        raise CheckpointError(f"checkpoint '{path}' starts with zero bytes, not a zip (.npz) header: the file is "
                              "damaged (an interrupted copy, or a disk error)")
    raise CheckpointError(f"checkpoint '{path}' is not a zip (.npz) file, so not a numconv checkpoint "
                          f"(it starts with {head[:8]!r})")


def _foreign_hint(names) -> str:
    """A pointer for the files people most often mistake for a numconv checkpoint."""
    if any(name.endswith(".pkl") for name in names):
        return ("; it looks like a PyTorch file (torch.save), which holds pickles: load it with torch, then give "
                "its arrays to model.load_state_dict, or convert a torch model with numconv.interop.from_torch")
    return ""


def _entry_header(npz, key: str, path: str) -> tuple[tuple, np.dtype]:
    """The shape and dtype an entry's ``.npy`` header announces, read without reading (or unpickling) its data.

    Raises ``CheckpointError`` for an entry holding Python objects: such an
    entry is a pickle, and numconv never unpickles.
    """
    name = f"{key}.npy" if f"{key}.npy" in npz.zip.namelist() else key
    declared = npz.zip.getinfo(name).file_size  # from the zip's directory: nothing inflated yet
    if key == META_KEY and declared > MAX_META_BYTES:
        raise CheckpointError(f"checkpoint '{path}': its description ('{META_KEY}') would inflate to {declared:,} "
                              f"bytes, more than the limit of {MAX_META_BYTES:,}; the file is not a real checkpoint")
    with npz.zip.open(name) as f:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise CheckpointError(f"checkpoint '{path}': entry '{key}' uses .npy format version "
                                  f"{version[0]}.{version[1]}, which numconv never writes")
        shape, _, dtype = read_header(f)
        header_bytes = f.tell()
    if dtype.hasobject:
        raise CheckpointError(f"checkpoint '{path}': entry '{key}' holds Python objects (a pickle); numconv never "
                              "unpickles, because unpickling can run arbitrary code, so the file is refused")
    if header_bytes + math.prod(shape) * dtype.itemsize != declared:
        raise CheckpointError(f"checkpoint '{path}' is corrupt: entry '{key}' declares {declared:,} bytes, but its "
                              f"header announces shape {tuple(shape)} of {dtype} "
                              f"({header_bytes + math.prod(shape) * dtype.itemsize:,} bytes)")
    return shape, dtype


def _check_header(document, path) -> None:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint '{path}' is not a numconv checkpoint (format {document.get('format')!r})"
                              if isinstance(document, dict) else f"checkpoint '{path}' is not a numconv checkpoint")
    version = document.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise CheckpointError(
            f"checkpoint '{path}' has format version {version!r}; this numconv reads versions 1 to "
            f"{FORMAT_VERSION} (upgrade numconv to read it)"
        )
    if not isinstance(document.get("tree"), dict):
        raise CheckpointError(f"checkpoint '{path}' has no description of its contents")


def _check_entries(expected: dict, present: list, path) -> None:
    missing = [k for k in expected if k not in present]
    unexpected = [k for k in present if k not in expected]
    if missing:
        raise CheckpointError(f"checkpoint '{path}' is corrupt: entry '{missing[0]}' is listed but missing "
                              f"({len(missing)} missing in all)")
    if unexpected:
        raise CheckpointError(f"checkpoint '{path}' is corrupt: unexpected entry '{unexpected[0]}' "
                              f"({len(unexpected)} unexpected in all)")


# ---------------------------------------------------------------------------- sizes before inflating
def entry_limits(model=None, optimizer=None):
    """A check ``(key, shape, dtype, path) -> None`` that refuses an entry the given objects could not use.

    Run on every entry's header before any data is inflated, so a small file
    whose entries would inflate to gigabytes is refused for the cost of
    reading its headers. A model entry the model has must have its shape;
    any other model entry, and every optimizer state entry, may be no larger
    than the largest array of the model (twice that, for float64 state
    loaded into float32); anything else (a checkpoint numconv writes has no
    other arrays) may total ``MAX_OTHER_BYTES``. Smaller mismatches are left
    to the full checks that follow, whose messages name the first difference
    in the model's order.
    """
    state = model.state_dict() if model is not None else {}
    shapes = {f"model/{k}": np.shape(v) for k, v in state.items()}
    largest = 2 * max((np.asarray(v).nbytes for v in state.values()), default=0)
    other = [0]

    def check(key: str, shape, dtype, path: str) -> None:
        nbytes = math.prod(shape) * dtype.itemsize
        if key in shapes:
            if tuple(shape) != tuple(shapes[key]):
                raise CheckpointError(f"checkpoint '{path}' has '{key[6:]}' of shape {tuple(shape)}; the model "
                                      f"expects {tuple(shapes[key])}")
            return
        if key.startswith(("model/", "optim/state/")):
            if nbytes > largest:
                raise CheckpointError(f"checkpoint '{path}': entry '{key}' would inflate to {nbytes:,} bytes, more "
                                      f"than any array of the model ({largest // 2:,} bytes); the file is refused")
            return
        other[0] += nbytes
        if other[0] > MAX_OTHER_BYTES:
            raise CheckpointError(f"checkpoint '{path}': entry '{key}' ({nbytes:,} bytes) takes the arrays outside "
                                  f"the model and optimizer past {MAX_OTHER_BYTES:,} bytes; the file is refused")

    return check


# ---------------------------------------------------------------------------- values
def check_state_values(tree: dict, path: str) -> None:
    """Refuse an ``epoch``, ``history`` or ``config`` a training checkpoint could not have, naming the key."""
    epoch = tree.get("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise CheckpointError(f"checkpoint '{path}': 'epoch' should be an int >= 0, got {epoch!r}")
    history = tree.get("history") or []
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise CheckpointError(f"checkpoint '{path}': 'history' should be a list of dicts (one per epoch), got "
                              f"{type(history).__name__}")
    config = tree.get("config") or {}
    if not isinstance(config, dict):
        raise CheckpointError(f"checkpoint '{path}': 'config' should be a dict, got {type(config).__name__}")


# ---------------------------------------------------------------------------- fitting the objects restored
def check_state_dict(model, state: dict, where: str = "checkpoint") -> None:
    """Raise ``CheckpointError`` naming the first key, shape or dtype that does not fit ``model``.

    The model's entries are checked in the model's order, so the message
    names the first layer that differs; then entries the model lacks.
    Nothing is loaded: call this before ``model.load_state_dict`` so that a
    mismatch leaves the model untouched and the message names the file.

    Parameters
    ----------
    model : Module
    state : dict of str -> ndarray
        E.g. the ``model`` section of a checkpoint.
    where : str
        How the message names the source, e.g. ``"checkpoint 'run/last.npz'"``.
    """
    ours = model.state_dict()
    for key, value in ours.items():
        if key not in state:
            listed = ", ".join(list(state)[:4]) + (", ..." if len(state) > 4 else "")
            raise CheckpointError(f"{where}: the model has '{key}' but the file does not "
                                  f"(the file has {listed or 'nothing'})")
        theirs = np.asarray(state[key])
        if theirs.shape != value.shape:
            raise CheckpointError(
                f"{where} has '{key}' of shape {tuple(theirs.shape)}; the model expects {tuple(value.shape)}"
            )
        if theirs.dtype != value.dtype:
            raise CheckpointError(
                f"{where} has '{key}' of dtype {theirs.dtype}; the model expects {value.dtype} "
                f"(convert the model with .to(np.{theirs.dtype}) first)"
            )
    for key in state:
        if key not in ours:
            raise CheckpointError(f"{where} has '{key}', which the model does not have")


#: the bit generators numpy offers; a stored state must name one of them
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _check_generator_state(state, path: str) -> None:
    """Refuse a random-generator state that ``set_rng_state`` could not (or should not) use."""
    if state is None:
        raise CheckpointError(f"checkpoint '{path}' has no random-generator state")
    try:
        parsed = json.loads(state) if isinstance(state, (str, bytes)) else state
        name = parsed["bit_generator"]
        if name not in _BIT_GENERATORS:
            raise ValueError(f"unknown bit generator {name!r}")
        getattr(np.random, name)().state = parsed  # numpy validates the state itself
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise CheckpointError(f"checkpoint '{path}' has a malformed random-generator state ({error})") from None
