"""Find and verify the Fashion-MNIST files (read by ``_files``),
and split them into train / validation / test tensors (uint8, kept whole in memory).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ._files import (
    FILES,
    HOW_TO_GET,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    DataError,
    cached_pickle,
    file_in,
    load_arrays,
)

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

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
TORCHVISION_DIR = Path("data/FashionMNIST/raw")


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


def find_data_dir(data_dir: str | Path | None = None) -> Path:
    """The first folder holding all four files; an explicit folder must hold them."""
    dirs = candidate_dirs(data_dir)
    explicit = data_dir or os.environ.get("SWEEP_DATA_DIR")
    for folder in dirs:
        if all(file_in(folder, stem) for stem in FILES):
            return folder
        if explicit and folder == dirs[0]:
            missing = [s for s in FILES if not file_in(folder, s)]
            raise DataError(
                f"Fashion-MNIST: {folder} is missing {', '.join(missing)} (.gz or raw). "
                + HOW_TO_GET
            )
    looked = ", ".join(str(d) for d in dirs)
    raise DataError(f"Fashion-MNIST files not found (looked in {looked}). " + HOW_TO_GET)


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` items drawn with the class proportions of ``y``."""

    if n >= len(y):
        return np.arange(len(y))
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)


def load_source(
    data_dir: str | Path | None = None, pickle_file: str | None = None, allow_pickle: bool = False
) -> dict[str, np.ndarray]:
    """The four arrays from the IDX search path, or from an explicitly allowed pickle."""
    if pickle_file:
        return cached_pickle(pickle_file, allow_pickle)
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
