"""Reading Fashion-MNIST's files: the IDX format (header first, then exactly the bytes it
declares, gzip or raw; a file holding or inflating past its header is refused) and the
older pickle format (only on explicit request: unpickling runs code), cached per file
version."""

from __future__ import annotations

import functools
import gzip
import os
import pickle
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

# the four IDX files' stems (each also read as STEM.gz)
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
# file stem -> (magic number, expected item count)
FILES = {
    TRAIN_IMAGES: (2051, 60_000),
    TRAIN_LABELS: (2049, 60_000),
    TEST_IMAGES: (2051, 10_000),
    TEST_LABELS: (2049, 10_000),
}

HOW_TO_GET = (
    "Get them with `make data` (installs Debian's package dataset-fashion-mnist where apt "
    "is available, otherwise downloads through torchvision into ./data), or put the four "
    f"files ({', '.join(f'{stem}.gz' for stem in FILES)}) in a folder and pass --data-dir or "
    "set SWEEP_DATA_DIR."
)


class DataError(RuntimeError):
    """Missing, truncated or malformed dataset files."""


class PickleError(DataError):
    """A ``--data-pickle`` file that cannot be read as the older baselines' pickle: bad
    input, named by the command line like a bad experiment file."""


def file_in(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


# the most items an IDX file may declare where no count is expected (``predict --images``):
# Fashion-MNIST's largest file, so a header cannot make the reader allocate more
MAX_ITEMS = max(count for _, count in FILES.values())


_CHUNK = 1 << 20  # bytes read at a time: what a read holds beside the array being filled


def _fill(fh: Any, out: np.ndarray) -> int:
    """Read into ``out`` (flat uint8) until it is full or the file ends, a chunk at a time
    (GzipFile.read may return fewer bytes than asked); how many bytes were read."""
    view, got = memoryview(out), 0
    while got < len(view):
        n = fh.readinto(view[got : got + _CHUNK])
        if not n:
            break
        got += n
    return got


def _refuse(fh: Any, gz: bool, message: str) -> DataError:
    """A header that is not the one expected. A gzipped file is read on first (discarding
    it a chunk at a time, at most as far as Fashion-MNIST's largest file goes), so that a
    broken gzip stream is still reported as one, as when the whole file was read first."""
    if gz:
        left = 16 + MAX_ITEMS * 28 * 28
        while left > 0 and (chunk := fh.read(min(_CHUNK, left))):
            left -= len(chunk)
    return DataError(message + HOW_TO_GET)


def read_idx(path: Path, magic: int, count: int | None = None) -> np.ndarray:
    """Read one IDX file (gzipped or not), checking magic number, shape and size (``count``
    items, or as many as the file declares, at most :data:`MAX_ITEMS`).

    The header is read and checked first, then exactly the bytes it declares, straight into
    the array returned; a file holding more than its header declares (a gzip bomb) is
    refused after reading one byte more, so memory stays that of the array whatever the
    file inflates to."""
    gz = path.suffix == ".gz"
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as fh:
            return _read_idx(fh, path, gz, magic, count)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"Fashion-MNIST: cannot read {path} ({exc}); the file is truncated or not gzip. "
            "Delete it and fetch it again. " + HOW_TO_GET
        ) from None


def _read_idx(fh: Any, path: Path, gz: bool, magic: int, count: int | None) -> np.ndarray:
    ndim = 3 if magic == 2051 else 1
    header = 4 + 4 * ndim
    raw = fh.read(header)
    while len(raw) < header and (more := fh.read(header - len(raw))):
        raw += more
    if len(raw) < header:
        raise _refuse(fh, gz, f"Fashion-MNIST: {path} is too short to be an IDX file. ")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise _refuse(
            fh,
            gz,
            f"Fashion-MNIST: {path} has magic number {found}, expected {magic} "
            f"({'images' if magic == 2051 else 'labels'}); it is the wrong file. ",
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if count is None and dims[0] > MAX_ITEMS:
        raise _refuse(
            fh,
            gz,
            f"Fashion-MNIST: {path} declares {dims[0]:,} items, more than the {MAX_ITEMS:,} "
            "of Fashion-MNIST's largest file; it is not a Fashion-MNIST file. ",
        )
    count = dims[0] if count is None else count
    expected = (count, 28, 28) if ndim == 3 else (count,)
    if dims != expected:
        raise _refuse(
            fh, gz, f"Fashion-MNIST: {path} declares shape {dims}, expected {expected}. "
        )
    size = int(np.prod(expected))
    array = np.empty(size, dtype=np.uint8)  # writable, so torch can share it
    got = _fill(fh, array)
    if got != size:
        raise DataError(
            f"Fashion-MNIST: {path} holds {got} bytes of data, expected "
            f"{size}; the file is truncated. " + HOW_TO_GET
        )
    if fh.read(1):
        what = "inflates past" if gz else "holds more than"
        raise DataError(
            f"Fashion-MNIST: {path} {what} what its header declares: the header declares "
            f"shape {dims}, {size:,} bytes of data after its {header}-byte header, but the "
            f"file {'inflates to' if gz else 'holds'} more; it is not a Fashion-MNIST file "
            "(a decompression bomb, or another file written over it). Delete it and fetch it "
            "again. " + HOW_TO_GET
        )
    array = array.reshape(expected)
    if ndim == 1 and array.size and array.max() > 9:
        raise DataError(f"Fashion-MNIST: {path} has labels above 9. " + HOW_TO_GET)
    return array


@functools.lru_cache(maxsize=4)
def load_arrays(folder: Path) -> dict[str, np.ndarray]:
    """All four arrays, read once per process (trials in one process share them)."""
    out = {}
    for stem, (magic, count) in FILES.items():
        path = file_in(folder, stem)
        if path is None:
            raise DataError(f"Fashion-MNIST: {folder} has no {stem}(.gz). " + HOW_TO_GET)
        out[stem] = read_idx(path, magic, count)
    return out


def load_pickle(path: str | Path, allow: bool = False) -> dict[str, np.ndarray]:
    """The older baseline's pickle format: either one tuple ``((x_train, y_train), (x_test,
    y_test))`` or the four arrays dumped one after another. Pickle runs code while loading,
    so this needs ``allow=True`` (``--allow-pickle``) and warns."""

    path = Path(path)
    if not allow:
        raise DataError(
            f"{path}: loading a pickle can run arbitrary code, so it is off by default. If you "
            "trust this file, pass --allow-pickle; otherwise use the IDX files (make data)."
        )
    logger.warning("loading pickled data from {}: pickle runs code; only use trusted files", path)
    objects = _unpickle_all(path)
    if len(objects) == 1 and isinstance(objects[0], tuple) and len(objects[0]) == 2:
        (x_train, y_train), (x_test, y_test) = objects[0]
    elif len(objects) == 4:
        x_train, y_train, x_test, y_test = objects
    else:
        raise DataError(
            f"{path}: expected ((x_train, y_train), (x_test, y_test)) or four arrays dumped "
            f"one after another, found {len(objects)} object(s)."
        )

    def images(x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.uint8:  # floats scaled to [0, 1]
            x = np.clip(np.rint(x * 255 if x.max() <= 1.0 else x), 0, 255).astype(np.uint8)
        if x.ndim != 3 and not (x.ndim == 2 and x.shape[1] == 784):
            raise DataError(f"{path}: images must be N x 28 x 28 or N x 784, got {x.shape}.")
        return x.reshape(len(x), 28, 28)

    def labels(y: Any, n: int) -> np.ndarray:
        y = np.asarray(y).reshape(-1).astype(np.int64)
        if n == 0:
            raise DataError(f"{path}: holds no images to train on.")
        if len(y) != n or y.min() < 0 or y.max() > 9:
            raise DataError(f"{path}: need {n} labels in 0..9, got {len(y)}.")
        return y

    xt, xs = images(x_train), images(x_test)
    return {
        TRAIN_IMAGES: xt,
        TRAIN_LABELS: labels(y_train, len(xt)),
        TEST_IMAGES: xs,
        TEST_LABELS: labels(y_test, len(xs)),
    }


def _unpickle_all(path: Path) -> list[Any]:
    """Every object pickled one after another in ``path``."""

    objects = []
    try:
        with path.open("rb") as fh:
            while True:
                try:
                    objects.append(pickle.load(fh))  # noqa: S301 (explicitly allowed)
                except EOFError:
                    return objects
    except Exception as exc:  # a text file, another format, a class this code lacks
        why = f"{type(exc).__name__}: {str(exc).strip() or 'no details'}"[:300]
        raise PickleError(
            f"{path}: cannot be read as a pickle ({why}). --data-pickle takes a file written "
            "by pickle.dump: ((x_train, y_train), (x_test, y_test)) or four arrays dumped one "
            "after another; or leave it out and use the IDX files (make data)."
        ) from None


@functools.lru_cache(maxsize=2)
def _pickled(path: str, allow: bool, stamp: tuple[int, int]) -> dict[str, np.ndarray]:
    """Read once per file and version (``stamp``: its size and time of change)."""
    return load_pickle(path, allow)


def _stamp(path: str) -> tuple[int, int]:
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return (-1, -1)  # (load_pickle says why it cannot be read)
    return (found.st_size, found.st_mtime_ns)


def cached_pickle(pickle_file: str, allow: bool) -> dict[str, np.ndarray]:
    """:func:`load_pickle`, read once per file and version (a relative name is resolved
    first: in another folder it names another file)."""
    path = os.path.abspath(pickle_file)
    return _pickled(path, allow, _stamp(path))
