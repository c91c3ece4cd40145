"""Ctrl-C at any moment: a real SIGINT, sent to this process by the real handler's own
process at a chosen phase of a sweep (start-up, between trials, while the summary is
written), ends the command with exit 130, the resume hint, no traceback and no run left
RUNNING; the interrupted sweep then resumes to completion."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import tiny_sweep
from sweep import names as M
from sweep.__main__ import main

pytestmark = pytest.mark.slow  # a dozen sweeps


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def runs(folder: Path, name: str) -> list:
    db = folder / "mlflow.db"
    if not db.exists():
        return []
    client = MlflowClient(f"sqlite:///{db}")
    exp = client.get_experiment_by_name(name)
    return client.search_runs([exp.experiment_id]) if exp else []


def sweep_args(folder: Path, name: str, data: Path) -> list[str]:
    path = folder / f"{name}.yaml"
    path.write_text(tiny_sweep(name, sweep={"algo": "random"}))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return [str(path), "--data-dir", str(data), "--tracking-uri", uri, "--no-progress"]


def interrupted(args: list[str], capsys: pytest.CaptureFixture) -> str:
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "Run the same command again to resume" in err, err
    assert "Traceback" not in err
    return err


def resumes_to_the_end(folder: Path, name: str, args: list[str]) -> None:
    assert main(args) == 0
    found = runs(folder, name)
    parents = [r for r in found if M.TAG_PARENT not in r.data.tags]
    kids = [r for r in found if M.TAG_PARENT in r.data.tags]
    assert [p.info.status for p in parents] == ["FINISHED"]  # the same parent, resumed
    assert sum(k.info.status == "FINISHED" for k in kids) == 2
    assert not [r for r in found if r.info.status == "RUNNING"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def patch():
    """Patches that a test can undo before it resumes the sweep."""
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def ctrl_c_on_call(patch: pytest.MonkeyPatch, module, name: str, times: int = 1) -> None:
    """Make ``module.name`` receive ``times`` SIGINTs as it is called, then run as usual."""
    real = getattr(module, name)

    def interrupted_call(*args, **kwargs):
        for _ in range(times):
            ctrl_c()
        return real(*args, **kwargs)

    patch.setattr(module, name, interrupted_call)


def test_before_the_store_is_touched(tmp_path, synthetic_dir, patch, capsys) -> None:
    import sweep.search._loop

    ctrl_c_on_call(patch, sweep.search._loop, "load_source")  # (the data's first check)
    args = [*sweep_args(tmp_path, "early", synthetic_dir), "--fresh"]
    err = interrupted(args, capsys)
    assert not (tmp_path / "mlflow.db").exists()  # nothing written
    hint = next(line for line in err.splitlines() if line.startswith("  python -m sweep"))
    assert "--fresh" not in hint  # the command that resumes, not one that starts over


def test_while_the_store_is_created(tmp_path, synthetic_dir, patch, capsys) -> None:
    import sweep.search._loop

    class Interrupting(sweep.search._loop.Tracker):
        def __init__(self, *args):
            ctrl_c()  # arrives while the store is being created
            super().__init__(*args)

    patch.setattr(sweep.search._loop, "Tracker", Interrupting)
    args = sweep_args(tmp_path, "startup", synthetic_dir)
    interrupted(args, capsys)
    found = runs(tmp_path, "startup")
    assert [r.info.status for r in found] == ["KILLED"]  # the parent; no trial ran
    patch.undo()
    resumes_to_the_end(tmp_path, "startup", args)


def test_between_trials(tmp_path, synthetic_dir, patch, capsys) -> None:
    from sweep.search import _state as resume

    real = resume.save

    def save_then_ctrl_c(path, state):
        real(path, state)
        if resume.n_evaluated(state.trials) == 1:  # trial 1 done, trial 2 not started
            ctrl_c()

    patch.setattr(resume, "save", save_then_ctrl_c)
    args = sweep_args(tmp_path, "between", synthetic_dir)
    interrupted(args, capsys)
    found = runs(tmp_path, "between")
    kids = [r for r in found if M.TAG_PARENT in r.data.tags]
    assert [k.info.status for k in kids] == ["FINISHED"]  # trial 2 never started
    assert not [r for r in found if r.info.status == "RUNNING"]
    patch.undo()
    resumes_to_the_end(tmp_path, "between", args)


def test_while_the_summary_is_written(tmp_path, synthetic_dir, patch, capsys) -> None:
    import sweep.search._loop

    ctrl_c_on_call(
        patch, sweep.search._loop, "record_sweep"
    )  # the summary is written as it arrives
    args = sweep_args(tmp_path, "summary", synthetic_dir)
    interrupted(args, capsys)
    found = runs(tmp_path, "summary")
    parents = [r for r in found if M.TAG_PARENT not in r.data.tags]
    assert [p.info.status for p in parents] == ["KILLED"]
    assert not [r for r in found if r.info.status == "RUNNING"]
    patch.undo()
    resumes_to_the_end(tmp_path, "summary", args)


def test_a_second_signal_stops_at_once(tmp_path, synthetic_dir, patch, capsys) -> None:
    import sweep.train._fit

    ctrl_c_on_call(patch, sweep.train._fit, "_step_scheduler", times=2)  # in trial 1's first epoch
    args = sweep_args(tmp_path, "twice", synthetic_dir)
    interrupted(args, capsys)
    found = runs(tmp_path, "twice")
    assert sorted(r.info.status for r in found) == ["KILLED", "KILLED"]  # parent, trial 1
