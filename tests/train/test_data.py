from __future__ import annotations

import gzip
import shutil
import tempfile
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import examples, idx_bytes, write_idx_dir
from sweep.train import DataError, find_data_dir, load_arrays, make_splits, read_idx
from sweep.train import _data as data


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


# ----------------------------------------------------------------------------- data bombs
# the header is read first, then exactly the body it declares: a file that holds (or
# inflates to) more, or declares more than Fashion-MNIST has, is refused in bounded memory
PROPERTY = settings(
    max_examples=examples(100),
    deadline=None,
    derandomize=True,  # the same cases on every run: CI stays reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
MAGIC = {"images": 2051, "labels": 2049}


def header(kind: str, n: int) -> bytes:
    dims = (n, 28, 28) if kind == "images" else (n,)
    return MAGIC[kind].to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


def write(folder: Path, kind: str, raw: bytes, gz: bool) -> Path:
    path = folder / f"{kind}-idx-ubyte{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(raw, compresslevel=1) if gz else raw)
    return path


def read_refused(path: Path, kind: str, count: int | None) -> str:
    """The DataError's message for reading ``path``: one paragraph naming the file."""
    with pytest.raises(DataError) as refused:
        read_idx(path, MAGIC[kind], count)
    message = str(refused.value)
    assert str(path) in message and "\n" not in message and "make data" in message, message
    return message


@PROPERTY
@given(
    kind=st.sampled_from(sorted(MAGIC)),
    n=st.integers(1, 40),
    extra=st.integers(-2000, 2000).filter(bool),
    filler=st.sampled_from([0, 7, 255]),
    gz=st.booleans(),
    declared_count=st.booleans(),
)
def test_a_body_longer_or_shorter_than_its_header_declares_is_refused(
    kind: str, n: int, extra: int, filler: int, gz: bool, declared_count: bool
) -> None:
    """N items declared, N items' bytes + ``extra`` held (gzipped or raw): the exact body
    reads; more is refused as more than the header declares, less as truncated."""
    rng = np.random.default_rng(n)
    shape = (n, 28, 28) if kind == "images" else (n,)
    array = rng.integers(0, 256 if kind == "images" else 10, shape)
    exact = idx_bytes(array.astype(np.uint8))
    assert exact[: len(header(kind, n))] == header(kind, n)
    count = None if declared_count else n
    body = len(exact) - len(header(kind, n))
    extra = max(extra, -body)  # at most the whole body missing
    raw = exact + bytes([filler]) * extra if extra > 0 else exact[: len(exact) + extra]
    with tempfile.TemporaryDirectory() as tmp:
        good = read_idx(write(Path(tmp), kind, exact, gz), MAGIC[kind], count)
        assert np.array_equal(good, array) and good.flags.writeable
        message = read_refused(write(Path(tmp), kind, raw, gz), kind, count)
    if extra > 0:
        assert ("inflates past" if gz else "holds more than") in message, message
        assert f"declares shape {shape}" in message and f"{body:,} bytes" in message, message
    else:
        assert f"holds {body + extra} bytes of data, expected {body}" in message, message
        assert "truncated" in message


@PROPERTY
@given(
    kind=st.sampled_from(sorted(MAGIC)),
    n=st.integers(60_001, 2**32 - 1),
    gz=st.booleans(),
    declared_count=st.booleans(),
)
@example(kind="images", n=10**9, gz=False, declared_count=False)
@example(kind="images", n=10**9, gz=True, declared_count=False)
def test_a_header_declaring_more_than_fashion_mnist_is_refused_without_allocating(
    kind: str, n: int, gz: bool, declared_count: bool
) -> None:
    """Where no count is expected (predict --images) a header's count is believed up to
    the 60,000 of the largest file, never beyond: nothing of its size is allocated."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), kind, header(kind, n) + bytes(1000), gz)
        tracemalloc.start()
        try:
            message = read_refused(path, kind, 60_000 if declared_count else None)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    if declared_count:
        assert f"declares shape ({n}," in message, message
    else:
        assert f"declares {n:,} items, more than the 60,000" in message, message
    assert peak < 4 << 20, peak  # a read's chunk, not n items


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A valid header of the 60,000 training items (images, labels) followed by 200 MB of
    zeros, gzipped (to under 1 MB), written a chunk at a time."""
    folder, out = tmp_path_factory.mktemp("bombs"), {}
    for kind in MAGIC:
        out[kind] = folder / f"{kind}.gz"
        squeeze = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: the gzip format
        with out[kind].open("wb") as fh:
            fh.write(squeeze.compress(header(kind, 60_000)))
            zeros = bytes(1 << 20)
            for _ in range(200):
                fh.write(squeeze.compress(zeros))
            fh.write(squeeze.flush())
        assert out[kind].stat().st_size < 2 << 20
    return out


@pytest.mark.parametrize("kind", sorted(MAGIC))
def test_a_gzip_bomb_is_refused_in_bounded_memory(bombs: dict[str, Path], kind: str) -> None:
    """200 MB inflated behind a valid header: refused after the declared body and one byte
    more, the peak within twice the array a normal load makes (+ a read's chunk)."""
    array_size = 60_000 * (28 * 28 if kind == "images" else 1)
    for count in (60_000, None):
        tracemalloc.start()
        try:
            message = read_refused(bombs[kind], kind, count)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert "inflates past what its header declares" in message, message
        assert f"{array_size:,} bytes of data" in message and "inflates to more" in message
        assert peak < 2 * array_size + (2 << 20), (peak, array_size)


def test_pickle_needs_explicit_permission_and_reads_both_layouts(tmp_path: Path) -> None:
    import pickle

    from sweep.train import load_pickle

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
