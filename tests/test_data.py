from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import write_idx_dir
from sweep import data
from sweep.data import DataError, find_data_dir, load_arrays, make_splits, read_idx


def test_reads_and_verifies_synthetic_files(synthetic_dir: Path) -> None:
    arrays = load_arrays(synthetic_dir)
    assert arrays["train-images-idx3-ubyte"].shape == (60_000, 28, 28)
    assert arrays["t10k-labels-idx1-ubyte"].shape == (10_000,)
    assert arrays["train-images-idx3-ubyte"].dtype == np.uint8


def test_gzipped_files_are_read(tmp_path: Path) -> None:
    folder = write_idx_dir(tmp_path / "gz", compress=True)
    assert find_data_dir(folder) == folder
    assert load_arrays(folder)["t10k-images-idx3-ubyte"].shape == (10_000, 28, 28)


def test_split_is_stratified_disjoint_and_seeded(synthetic_dir: Path) -> None:
    s = make_splits(synthetic_dir, val_fraction=0.1, seed=0)
    assert len(s.x_train) == 54_000 and len(s.x_val) == 6_000 and len(s.x_test) == 10_000
    assert np.bincount(s.y_val, minlength=10).tolist() == [600] * 10
    assert np.bincount(s.y_train, minlength=10).tolist() == [5400] * 10
    again = make_splits(synthetic_dir, val_fraction=0.1, seed=0)
    assert np.array_equal(s.y_val, again.y_val) and np.array_equal(s.x_val, again.x_val)
    other = make_splits(synthetic_dir, val_fraction=0.1, seed=1)
    assert not np.array_equal(s.x_val, other.x_val)


def test_subset_keeps_class_balance(synthetic_dir: Path) -> None:
    s = make_splits(synthetic_dir, val_fraction=0.1, subset=3000, seed=0)
    assert len(s.x_train) + len(s.x_val) == 3000
    assert np.bincount(s.y_train, minlength=10).tolist() == [270] * 10
    assert len(s.x_test) == 10_000  # the test set is never shrunk


@pytest.mark.slow
def test_real_data_split_is_stratified(real_data_dir: Path) -> None:
    s = make_splits(real_data_dir, val_fraction=0.1, seed=0)
    assert np.bincount(s.y_val, minlength=10).tolist() == [600] * 10
    assert np.bincount(s.y_test, minlength=10).tolist() == [1000] * 10


def copy_dir(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_file_in_explicit_dir(tmp_path: Path, synthetic_dir: Path) -> None:
    folder = copy_dir(synthetic_dir, tmp_path / "d")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.*make data"):
        find_data_dir(folder)


def test_nothing_found_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWEEP_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "nowhere")
    with pytest.raises(DataError, match="not found.*dataset-fashion-mnist"):
        find_data_dir()


def test_env_var_is_searched(monkeypatch: pytest.MonkeyPatch, synthetic_dir: Path) -> None:
    monkeypatch.setenv("SWEEP_DATA_DIR", str(synthetic_dir))
    assert find_data_dir() == synthetic_dir


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: (1234).to_bytes(4, "big") + b[4:], "magic number 1234"),
        (lambda b: b[:4] + (59_999).to_bytes(4, "big") + b[8:], "declares shape"),
        (lambda b: b[:6], "too short"),
    ],
    ids=["truncated", "wrong_magic", "wrong_count", "too_short"],
)
def test_broken_files_give_clear_errors(
    tmp_path: Path, synthetic_dir: Path, damage, match
) -> None:
    raw = (synthetic_dir / "train-images-idx3-ubyte").read_bytes()
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(damage(raw))
    with pytest.raises(DataError, match=match):
        read_idx(path, 2051, 60_000)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    payload = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload)[:1000])  # cut mid-stream
    with pytest.raises(DataError, match="truncated or not gzip"):
        read_idx(path, 2049, 60_000)


def test_pickle_needs_explicit_permission_and_reads_both_layouts(tmp_path: Path) -> None:
    import pickle

    from sweep.data import load_pickle

    rng = np.random.default_rng(0)
    x_train, y_train = rng.random((50, 784)), np.arange(50) % 10  # floats in [0, 1], flat
    x_test, y_test = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20) % 10
    one = tmp_path / "one.pkl"
    one.write_bytes(pickle.dumps(((x_train, y_train), (x_test, y_test))))
    four = tmp_path / "four.pkl"
    with four.open("wb") as fh:
        for obj in (x_train, y_train, x_test, y_test):
            pickle.dump(obj, fh)
    with pytest.raises(DataError, match="--allow-pickle"):
        load_pickle(one)
    for path in (one, four):
        arrays = load_pickle(path, allow=True)
        assert arrays["train-images-idx3-ubyte"].shape == (50, 28, 28)
        assert arrays["train-images-idx3-ubyte"].dtype == np.uint8
        assert arrays["t10k-labels-idx1-ubyte"].tolist() == y_test.tolist()
