"""A device that is not there, and a sweep whose every trial fails: one clear paragraph and
an exit code, never a traceback; nothing written for a bad device, nothing left to resume
after a sweep that cannot succeed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from conftest import EXPERIMENTS
from sweep import names as M
from sweep.__main__ import main
from sweep.train import device_problem


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine whose torch sees no CUDA device and no Apple MPS."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps", "tpu", "gpu", "cuda:x"])
def test_a_device_this_machine_lacks_exits_2_and_writes_nothing(
    device: str, no_gpu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([str(EXPERIMENTS / "quickstart.yaml"), "--device", device]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one paragraph
    assert "Traceback" not in err and "train.device" in err and repr(device) in err
    assert "--device auto" in err or "use auto" in err  # what to do
    if device in ("cuda", "cuda:1", "mps"):
        assert "no CUDA devices visible and no Apple MPS device" in err  # what there is
    assert list(tmp_path.iterdir()) == []  # no store, no lock, no folder


def test_the_device_check(no_gpu) -> None:
    assert device_problem("auto") is None and device_problem("cpu") is None
    assert "'cuda'" in device_problem("cuda")


def test_an_index_past_the_last_gpu_is_refused(two_gpus) -> None:
    assert device_problem("cuda") is None and device_problem("cuda:1") is None
    problem = device_problem("cuda:2")
    assert problem and "2 CUDA devices visible" in problem


def test_a_device_in_the_file_is_checked_too(
    no_gpu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "gpu.yaml"
    path.write_text(
        "extends: " + str(EXPERIMENTS / "quickstart.yaml") + "\ntrain: {device: cuda}\n"
    )
    assert main([str(path)]) == 2
    assert "device 'cuda' was asked for" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.sweep
def test_a_sweep_whose_every_trial_fails(
    tmp_path: Path, synthetic_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import sweep.search._trial

    def broken(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(sweep.search._trial, "train_trial", broken)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "doomed.yaml"
    path.write_text(
        "name: doomed\nmodel: {kind: mlp, hidden: [16]}\ntrain: {epochs: 1}\n"
        "search: {train.optimizer.lr: {loguniform: [1.0e-3, 1.0e-2]}}\n"
        "sweep: {max_evals: 3}\ndata: {subset: 600}\n"
    )
    args = [str(path), "--data-dir", str(synthetic_dir), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "all 3 trials of the sweep failed" in err
    assert "RuntimeError: injected failure" in err and "failure.txt" in err

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("doomed").experiment_id])
    parents = [r for r in runs if M.TAG_PARENT not in r.data.tags]
    kids = [r for r in runs if M.TAG_PARENT in r.data.tags]
    assert [p.info.status for p in parents] == ["FAILED"]
    assert len(kids) == 3 and {k.info.status for k in kids} == {"FAILED"}
    trace = Path(client.download_artifacts(kids[0].info.run_id, "failure.txt", str(tmp_path)))
    assert "Traceback" in trace.read_text() and "injected failure" in trace.read_text()
    assert not (tmp_path / ".sweep" / "doomed.trials.pkl").exists()  # nothing to resume
    assert main(args) == 1  # the same command starts a new sweep, not a resume
    assert "resuming" not in capsys.readouterr().err
