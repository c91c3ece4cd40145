"""A write refused for want of room or permission is named for what it is and stops the
sweep at once (no retrying: a full disk is no outage); faults injected where each write
happens, no store or process needed. The real thing, a full tmpfs during a sweep, is in
test_reliability."""

from __future__ import annotations

import errno
import pickle
import sqlite3
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import OperationalError

from conftest import bare_tracker
from sweep.faults import StorageFull, storage_problem, writing
from sweep.signals import StoreLost


def full_sqlite() -> MlflowException:
    """What MLflow raises when SQLite cannot grow its file: its own "temporarily
    unavailable", the cause only in the message."""
    cause = OperationalError(
        "INSERT INTO metrics", {}, sqlite3.OperationalError("database or disk is full")
    )
    return MlflowException(
        f"(sqlite3.OperationalError) {cause}", error_code="TEMPORARILY_UNAVAILABLE"
    )


def test_a_full_sqlite_store_stops_at_once_without_retrying() -> None:
    tracker, calls = bare_tracker(), []

    def write() -> None:
        calls.append(1)
        raise full_sqlite()

    with pytest.raises(StorageFull, match="writing to the store .* failed: no space left"):
        tracker._call(write)
    assert calls == [1]  # not the 180 s of a store that does not answer
    with pytest.raises(StorageFull):  # and every later write at once
        tracker._call(lambda: calls.append(2))
    assert calls == [1]


def test_an_artifact_that_cannot_be_written_names_its_path() -> None:
    tracker = bare_tracker()

    def copy() -> None:
        raise OSError(
            errno.ENOSPC, "No space left on device", "/store/mlruns/1/abc/predictions.txt"
        )

    with pytest.raises(
        StorageFull, match="no space left on the device: /store/mlruns/1/abc/predictions.txt"
    ):
        tracker._call(copy)


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.EROFS, "read-only"), (errno.EDQUOT, "quota"), (errno.EACCES, "permission denied")],
)
def test_a_read_only_folder_or_a_quota_is_named(code: int, words: str) -> None:
    assert words in storage_problem(OSError(code, "refused", "/x/y"))


def test_sqlite_s_disk_io_error_is_a_full_disk_where_the_folder_has_no_room(monkeypatch) -> None:
    import sweep.record._tracker

    monkeypatch.setattr(
        sweep.record._tracker,
        "folder_refuses_writes",
        lambda folder: f"no space left on the device: {folder}",
    )
    with pytest.raises(StorageFull, match="no space left on the device: /nowhere"):
        bare_tracker()._call(lambda: (_ for _ in ()).throw(MlflowException("disk I/O error")))


def test_other_errors_are_not_storage_faults() -> None:
    assert storage_problem(ValueError("bad value")) is None
    assert storage_problem(OSError(errno.ENOENT, "gone", "/x")) is None
    assert storage_problem(MlflowException("connection refused")) is None
    # and a store that does not answer is still retried, then lost (not a full disk)
    tracker = bare_tracker()
    tracker.store_timeout = 0.0
    with pytest.raises(StoreLost) as caught:
        tracker._call(lambda: (_ for _ in ()).throw(MlflowException("connection refused")))
    assert not isinstance(caught.value, StorageFull)


def test_the_cause_is_found_through_the_exceptions_it_came_from() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/d/file")
        except OSError as inner:
            raise RuntimeError(
                "[enforce fail at inline_container.cc:671] unexpected pos"
            ) from inner
    except RuntimeError as outer:
        assert storage_problem(outer) == "no space left on the device: /d/file"


def test_the_sweep_state_is_never_half_written_on_a_full_disk(tmp_path: Path, monkeypatch) -> None:
    from sweep.search import _state as resume

    path = tmp_path / "x.trials.pkl"
    resume.save(path, "the state before")

    def full(*args, **kwargs) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pickle, "dump", full)
    with pytest.raises(StorageFull, match="saving the sweep's state failed: no space left"):
        resume.save(path, "the state after")
    monkeypatch.undo()
    assert pickle.loads(path.read_bytes()) == "the state before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.trials.pkl"]  # no temporary file


def test_a_checkpoint_on_a_full_disk_stops_the_trial(tmp_path: Path, monkeypatch) -> None:
    from sweep.train import TrialCheckpoint
    from sweep.train._trial import torch_bytes

    ckpt = TrialCheckpoint(tmp_path / "trial-001.ckpt", "cid", 1)

    def full(self, data) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(
        StorageFull, match="checkpoint of epoch 3 failed: no space left .*trial-001"
    ):
        ckpt.saver("run")({"epoch": 3, "history": []})
    monkeypatch.undo()
    assert not list(tmp_path.iterdir())
    assert torch_bytes({"a": 1})  # (what is written: torch.save's bytes)


def test_writing_passes_other_errors_through(tmp_path: Path) -> None:
    with pytest.raises(ValueError), writing("anything", tmp_path):
        raise ValueError("not a storage fault")
