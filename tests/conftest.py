"""Shared fixtures: tiny synthetic Fashion-MNIST-shaped IDX files, and the real data path."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from sweep.data import FILES, DataError, find_data_dir

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def synthetic_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """Learnable images: class k lights up a class-specific 7x7 patch, plus noise."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for k in range(10):
        r, c = divmod(k, 4)
        images[labels == k, r * 7 : r * 7 + 7, c * 7 : c * 7 + 7] = 220
    return images


def write_idx_dir(folder: Path, compress: bool = False) -> Path:
    """The four files with the real counts (60,000 / 10,000) and synthetic content."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", 60_000), ("t10k", 10_000)):
        labels = (np.arange(count) % 10).astype(np.uint8)
        np.random.default_rng(1).shuffle(labels)
        images = synthetic_images(labels, seed=count)
        for stem, array in (
            (f"{split}-images-idx3-ubyte", images),
            (f"{split}-labels-idx1-ubyte", labels),
        ):
            data = idx_bytes(array)
            if compress:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(data, compresslevel=1))
            else:
                (folder / stem).write_bytes(data)
    assert set(p.name.removesuffix(".gz") for p in folder.iterdir()) == set(FILES)
    return folder


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_idx_dir(tmp_path_factory.mktemp("fmnist-synthetic"))


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real Fashion-MNIST (installed by `make test`'s set-up)."""
    try:
        return find_data_dir()
    except DataError as exc:
        pytest.fail(f"end-to-end tests need the real data: {exc}")
