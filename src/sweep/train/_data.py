"""Step 3 of the data flow: find, read and verify the Fashion-MNIST IDX files, and split
them into train / validation / test tensors (uint8, kept whole in memory).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger
from sklearn.model_selection import train_test_split

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

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
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
TORCHVISION_DIR = Path("data/FashionMNIST/raw")

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


@dataclass(frozen=True)
class Splits:
    """Images as uint8 ``[N, 28, 28]``, labels as int64 ``[N]`` (numpy, device-agnostic)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def parts(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Images and labels of each split, by the split's role."""
        return {
            "training": (self.x_train, self.y_train),
            "validation": (self.x_val, self.y_val),
            "test": (self.x_test, self.y_test),
        }


def training_images(subset: int | None, val_fraction: float) -> int:
    """Training images per epoch: the (subset of the) 60,000 less the validation split
    (scikit-learn's split rounds the validation share up)."""
    n = subset or 60_000
    return n - math.ceil(n * val_fraction)


def digest(images: np.ndarray, labels: np.ndarray) -> str:
    """A digest of every byte of a split's images and labels, and of their shapes."""

    h = hashlib.blake2b(digest_size=16)
    for array in (images, labels):
        h.update(f"{array.dtype.str}{array.shape}".encode())
        h.update(np.ascontiguousarray(array).data)
    return h.hexdigest()


def source_of(data_dir: str | Path | None = None, pickle_file: str | None = None) -> str:
    """Where the data is read from: the IDX files' folder, or the pickle file."""
    return str(Path(pickle_file).resolve() if pickle_file else find_data_dir(data_dir).resolve())


def candidate_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """Where to look, in order: explicit, $SWEEP_DATA_DIR, torchvision's layout, Debian's."""
    dirs = []
    if data_dir:
        dirs.append(Path(data_dir))
    if os.environ.get("SWEEP_DATA_DIR"):
        dirs.append(Path(os.environ["SWEEP_DATA_DIR"]))
    dirs += [TORCHVISION_DIR, DEBIAN_DIR]
    return dirs


def _file_in(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def find_data_dir(data_dir: str | Path | None = None) -> Path:
    """The first folder holding all four files; an explicit folder must hold them."""
    dirs = candidate_dirs(data_dir)
    explicit = data_dir or os.environ.get("SWEEP_DATA_DIR")
    for folder in dirs:
        if all(_file_in(folder, stem) for stem in FILES):
            return folder
        if explicit and folder == dirs[0]:
            missing = [s for s in FILES if not _file_in(folder, s)]
            raise DataError(
                f"Fashion-MNIST: {folder} is missing {', '.join(missing)} (.gz or raw). "
                + HOW_TO_GET
            )
    looked = ", ".join(str(d) for d in dirs)
    raise DataError(f"Fashion-MNIST files not found (looked in {looked}). " + HOW_TO_GET)


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
        path = _file_in(folder, stem)
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


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` items drawn with the class proportions of ``y``."""

    if n >= len(y):
        return np.arange(len(y))
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)


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


def load_source(
    data_dir: str | Path | None = None, pickle_file: str | None = None, allow_pickle: bool = False
) -> dict[str, np.ndarray]:
    """The four arrays from the IDX search path, or from an explicitly allowed pickle."""
    if pickle_file:
        path = os.path.abspath(pickle_file)  # (a relative name means another file elsewhere)
        return _pickled(path, allow_pickle, _stamp(path))
    return load_arrays(find_data_dir(data_dir))


def split_indices(
    y: np.ndarray, *, val_fraction: float, subset: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation images' indices: a stratified ``subset`` (all where
    None), then a stratified split of it (scikit-learn's ValueError where it cannot)."""

    pool = stratified_subset(y, subset, seed) if subset else np.arange(len(y))
    train_idx, val_idx = train_test_split(
        pool, test_size=val_fraction, stratify=y[pool], random_state=seed
    )
    return np.sort(train_idx), np.sort(val_idx)


def split_problem_in(
    y: np.ndarray, *, val_fraction: float, subset: int | None, seed: int
) -> str | None:
    """Why these labels cannot be split so (too few of a class for a stratified split, a
    class left without a training or a validation image); None where they can."""
    counts = np.bincount(y, minlength=len(CLASS_NAMES))
    held = ", ".join(f"{CLASS_NAMES[c]} {n:,}" for c, n in enumerate(counts))
    try:
        train, val = split_indices(y, val_fraction=val_fraction, subset=subset, seed=seed)
    except ValueError as exc:
        return f"its training images ({held}) cannot be split so: {exc}"
    present = set(np.flatnonzero(counts))
    for side, idx in (("training", train), ("validation", val)):
        missing = sorted(present - set(np.unique(y[idx])))
        if missing:
            names = ", ".join(CLASS_NAMES[c] for c in missing)
            return (
                f"its training images ({held}) leave no {side} image of {names} with "
                f"data.val_fraction {val_fraction:g}"
                + (f" and data.subset {subset:,}" if subset else "")
            )
    return None


def make_splits(
    data_dir: str | Path | None = None,
    *,
    val_fraction: float = 0.1,
    subset: int | None = None,
    seed: int = 0,
    pickle_file: str | None = None,
    allow_pickle: bool = False,
) -> Splits:
    """Stratified, seeded train/validation split of the training images; test held out."""
    arrays = load_source(data_dir, pickle_file, allow_pickle)
    x, y = arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS]
    train_idx, val_idx = split_indices(y, val_fraction=val_fraction, subset=subset, seed=seed)
    return Splits(
        x_train=x[train_idx],
        y_train=y[train_idx].astype(np.int64),
        x_val=x[val_idx],
        y_val=y[val_idx].astype(np.int64),
        x_test=arrays[TEST_IMAGES],
        y_test=arrays[TEST_LABELS].astype(np.int64),
    )


def download(root: str | Path = "data") -> Path:
    """Fetch the files through torchvision (needs the network) into ``root/FashionMNIST/raw``."""
    from torchvision.datasets import FashionMNIST

    try:
        FashionMNIST(str(root), train=True, download=True)
        FashionMNIST(str(root), train=False, download=True)
    except Exception as exc:  # no network, a proxy, a partial file...
        raise DataError(
            f"Fashion-MNIST: the torchvision download failed ({exc}). " + HOW_TO_GET
        ) from None
    return Path(root) / "FashionMNIST" / "raw"
