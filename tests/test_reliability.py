"""Sweeps that survive: resume after kill -9 / Ctrl-C / SIGTERM, refusal to resume a changed
experiment, concurrent writers, and bad input (real processes, real signals)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient

from conftest import (
    REPO,
    SLACK,
    run_cli,
    run_watched,
    start_cli,
    wait_for_exit,
    wait_for_line,
    wait_until,
    write_mlp_sweep,
)
from sweep import names as M
from sweep.__main__ import main


# Trial 2 is long enough (3 epochs of 8,100 images, seconds each) to be caught running on
# any machine: the tests wait for its first epoch in the store, then interrupt it (2 epochs
# to spare), or trial 1 the same way. The waits follow the work (conftest's Watch): the
# first one lasts while the sweep gets somewhere; it measures how long this machine, as
# loaded now, took to get there (``reached``), and later waits are bounded by SLACK times
# that, as often as the work left holds that much work.
def write_sweep(folder: Path, name: str, epochs: int = 3, subset: int = 9000) -> Path:
    return write_mlp_sweep(
        folder, name, epochs=epochs, subset=subset, hidden=[256, 256], batch_size=32
    )


def start(path: Path, folder: Path, data: Path) -> tuple:
    return start_cli(path, "--data-dir", data, cwd=folder)


def wait_for_trial(folder: Path, name: str, number: int, proc, log: Path) -> float:
    """Until trial ``number`` is running and has logged an epoch (a row in the store); the
    seconds from ``proc``'s start to then."""
    started = psutil.Process(proc.pid).create_time()
    wait_for_line(log, f"sweep {name} | experiment", proc)  # a store now
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    exp = client.get_experiment_by_name(name)

    def running() -> bool:
        runs = client.search_runs(
            [exp.experiment_id],
            f"tags.`{M.TAG_TRIAL}` = '{number}' and attributes.status = 'RUNNING'",
        )
        return any(M.VAL_ACCURACY in r.data.metrics for r in runs)

    wait_until(running, proc, log, f"trial {number}'s first epoch in the store")
    return time.time() - started


def children(folder: Path, name: str):
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if M.TAG_PARENT not in r.data.tags]
    kids = [r for r in runs if M.TAG_PARENT in r.data.tags]
    return parents, kids


def check_resumed(folder: Path, name: str, first_parent: str) -> None:
    parents, kids = children(folder, name)
    assert [p.info.run_id for p in parents] == [first_parent]
    assert parents[0].info.status == "FINISHED"
    # one run per trial: the cut-off trial went on in its own run, after its last epoch
    assert len(kids) == 2 and {k.info.status for k in kids} == {"FINISHED"}
    assert sorted(int(k.data.tags[M.TAG_TRIAL]) for k in kids) == [1, 2]
    went_on = next(k for k in kids if k.data.tags[M.TAG_TRIAL] == "2")
    assert (
        int(went_on.data.tags[M.TAG_RESUMED_FROM]) >= 1 and M.TAG_FAILURE not in went_on.data.tags
    )
    assert not (folder / ".sweep" / f"{name}.trials.pkl").exists()
    assert not list((folder / ".sweep").glob("*.checkpoints/*.ckpt"))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_graceful_stop_exits_130_and_resumes(tmp_path: Path, synthetic_dir: Path, sig) -> None:
    name = f"stopped_{sig.name.lower()}"
    path = write_sweep(tmp_path, name)
    proc, log = start(path, tmp_path, synthetic_dir)
    # Ctrl-C in trial 2 (trial 1 kept); SIGTERM, which stops the same way, in trial 1
    in_trial = 2 if sig == signal.SIGINT else 1
    # a start and 1 epoch (trial 1) or 4 (trial 2): as much as any wait below has left
    reached = wait_for_trial(tmp_path, name, in_trial, proc, log)
    proc.send_signal(sig)
    assert wait_for_exit(proc, log, within=SLACK * reached) == 130, log.read_text()[-3000:]
    text = log.read_text()
    assert "Run the same command again to resume" in text and "Traceback" not in text
    parents, kids = children(tmp_path, name)
    assert parents[0].info.status == "KILLED"
    assert sorted(k.info.status for k in kids) == ["FINISHED", "KILLED"][2 - in_trial :]
    assert (tmp_path / ".sweep" / f"{name}.trials.pkl").is_file()
    if sig == signal.SIGTERM:
        return  # resuming is the same as after Ctrl-C (and after kill -9, above)

    # (a changed experiment is refused instead: test_fresh_starts_a_new_sweep)
    proc, log = start(path, tmp_path, synthetic_dir)  # a start, 2 epochs left, the wrap-up
    assert wait_for_exit(proc, log, within=SLACK * reached) == 0, log.read_text()[-3000:]
    check_resumed(tmp_path, name, parents[0].info.run_id)


@pytest.mark.slow
def test_a_running_sweep_is_never_run_twice_at_once(tmp_path: Path, synthetic_dir: Path) -> None:
    path = write_sweep(tmp_path, "busy")  # stopped in trial 1: 2 epochs to spare
    one = ("--data-dir", synthetic_dir, "--max-evals", "1")
    first, log = start_cli(path, *one, cwd=tmp_path)
    step = wait_for_trial(tmp_path, "busy", 1, first, log)  # a start and an epoch
    first.send_signal(signal.SIGSTOP)  # frozen but alive: it still owns the sweep
    try:
        again = run_cli(path, *one, "--no-progress", cwd=tmp_path, within=SLACK * step)
        assert again.returncode == 2, again.stderr[-3000:]
        assert f"is running now, in process {first.pid} on " in again.stderr
        assert "--fresh" in again.stderr and "Traceback" not in again.stderr
        errors = [line for line in again.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "--fresh" in errors[0]  # one paragraph
        beside, beside_log = start_cli(
            path,
            *("--data-dir", synthetic_dir, "--fresh", "--max-evals", "1"),
            *("--epochs", "1", "--subset", "1000"),  # a small sweep beside the long one
            cwd=tmp_path,
        )
    finally:
        first.send_signal(signal.SIGCONT)
    # 2 epochs left and the wrap-up, beside a start and 1 epoch of 1,000 images: 4 steps
    code = wait_for_exit(first, log, within=SLACK * 4 * step)
    assert code == 0, log.read_text()[-3000:]
    code = wait_for_exit(beside, beside_log, within=SLACK * 4 * step)
    assert code == 0, beside_log.read_text()[-3000:]
    parents, kids = children(tmp_path, "busy")
    assert len(parents) == 2 and {p.info.status for p in parents} == {"FINISHED"}
    first_parent = min(parents, key=lambda p: p.info.start_time)
    mine = [k for k in kids if k.data.tags[M.TAG_PARENT] == first_parent.info.run_id]
    assert [k.data.tags[M.TAG_TRIAL] for k in mine] == ["1"]  # not run twice
    assert {k.info.status for k in kids} == {"FINISHED"} and len(kids) == 2
    assert not list((tmp_path / ".sweep").glob("*.lock"))  # nothing left behind


@pytest.mark.slow  # several sweeps
def test_fresh_starts_a_new_sweep(
    tmp_path: Path, synthetic_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sweep.search import _state as st

    path = write_sweep(tmp_path, "fresh", epochs=1, subset=1000)
    monkeypatch.chdir(tmp_path)
    args = [str(path), "--data-dir", str(synthetic_dir), "--no-progress", "--max-evals", "1"]
    assert main(args) == 0
    first, _ = children(tmp_path, "fresh")
    # pretend the sweep had been interrupted: its state file and a parent left KILLED
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.update_run(first[0].info.run_id, status="KILLED")
    from hyperopt import Trials

    from sweep.config import SweepIdentity

    other = SweepIdentity(config="another-config", search="another-search", setup="x")
    st.save(
        st.state_path("sqlite:///mlflow.db", "fresh"),
        st.SweepState("fresh", first[0].info.run_id, other, Trials()),
    )
    assert main(args) == 2  # changed config: refused
    assert main([*args, "--fresh"]) == 0
    parents, _ = children(tmp_path, "fresh")
    assert sorted(p.info.status for p in parents) == ["FINISHED", "KILLED"]


@pytest.mark.slow
def test_two_sweeps_at_once_on_one_store(tmp_path: Path, synthetic_dir: Path) -> None:
    procs = []
    for name in ("left", "right"):
        path = write_sweep(tmp_path, name, epochs=1, subset=2000)
        procs.append(start(path, tmp_path, synthetic_dir))
    started = time.monotonic()
    # the first measures the work, waited for while it gets somewhere; the other, started
    # at the same time with as much to do, gets SLACK times as long
    (left, left_log), (right, right_log) = procs
    assert wait_for_exit(left, left_log) == 0, left_log.read_text()[-3000:]
    took = time.monotonic() - started
    code = wait_for_exit(right, right_log, within=SLACK * took)
    assert code == 0, right_log.read_text()[-3000:]
    for _, log in procs:
        assert "locked" not in log.read_text()
    assert not list(tmp_path.glob("*.lock"))  # the store's lock file is gone after a clean exit
    for name in ("left", "right"):
        parents, kids = children(tmp_path, name)
        assert len(parents) == 1 and parents[0].info.status == "FINISHED"
        assert len(kids) == 2 and {k.info.status for k in kids} == {"FINISHED"}


BAD = {
    "yaml_syntax": "name: x\ntrain: {epochs: 3\n",
    "not_a_mapping": "- just\n- a list\n",
    "unknown_key": "name: x\ntrian: {epochs: 3}\n",
    "unknown_nested_key": "name: x\nmodel: {filterz: 3}\n",
    "wrong_type": "name: x\ntrain: {batch_size: big}\n",
    "empty_choice": "name: x\nsearch: {model.filters: {choice: []}}\n",
    "low_above_high": "name: x\nsearch: {train.optimizer.lr: {uniform: [0.1, 0.01]}}\n",
    "loguniform_nonpositive": "name: x\nsearch: {train.optimizer.lr: {loguniform: [0, 1]}}\n",
    "zero_epochs": "name: x\ntrain: {epochs: 0}\n",
    "negative_epochs": "name: x\ntrain: {epochs: -5}\n",
    "search_path_unknown": "name: x\nsearch: {train.optimiser.lr: {choice: [0.1]}}\n",
    "search_value_invalid": "name: x\nsearch: {train.batch_size: {choice: [32, 0]}}\n",
    "unknown_distribution": "name: x\nsearch: {model.filters: {gauss: [1, 2]}}\n",
    "unknown_model_kind": "name: x\nmodel: {kind: transformer}\n",
    "dropout_per_block": "name: x\nmodel: {num_blocks: 2, dropout: [0.1, 0.1, 0.1]}\n",
    "unknown_optimizer": "name: x\ntrain: {optimizer: {name: rmsprop}}\n",
    "extends_missing": "extends: nowhere.yaml\nname: x\n",
    "extends_cycle": "extends: bad.yaml\nname: x\n",
    "missing_name": "train: {epochs: 3}\n",
    "code_in_yaml": "name: !!python/object/apply:os.system ['true']\n",
    "search_is_a_list": "name: x\nsearch: [model.filters, model.units1]\n",
    "deeply_nested": "name: x\nhypothesis: " + "[" * 5000 + "]" * 5000 + "\n",
    "contains_itself": "name: x\nmodel: &m {hidden: *m}\n",
    "alias_bomb": "name: x\na: &a [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n"
    + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n"
        for p, c in zip("abcdef", "bcdefg", strict=True)
    ),
    "extends_null_byte": 'extends: "a\\0b.yaml"\nname: x\n',
    "extends_too_long": "extends: " + "a" * 5000 + ".yaml\nname: x\n",
    "too_big": "name: x\n" + "#" * 1_100_000 + "\n",
    "infinite_lr": "name: x\ntrain: {optimizer: {lr: .inf}}\n",
    "seed_too_big": "name: x\ntrain: {seed: 100000000000000000000000}\n",
    "unprintable_name": 'name: "a\\x00b"\n',
    "latin1_bytes": "name: caf\xe9\n",
    "newline_in_a_key": 'name: x\nmodel: {"filt\\ners": 3}\n',
}
KEYS = {
    "yaml_syntax": "line",
    "not_a_mapping": "mapping",
    "unknown_key": "trian",
    "unknown_nested_key": "model.filterz",
    "wrong_type": "train.batch_size",
    "empty_choice": "model.filters",
    "low_above_high": "train.optimizer.lr",
    "loguniform_nonpositive": "train.optimizer.lr",
    "zero_epochs": "train.epochs",
    "negative_epochs": "train.epochs",
    "search_path_unknown": "train.optimiser.lr",
    "search_value_invalid": "train.batch_size",
    "unknown_distribution": "model.filters",
    "unknown_model_kind": "model",
    "dropout_per_block": "model",
    "unknown_optimizer": "train.optimizer.name",
    "extends_missing": "nowhere.yaml",
    "extends_cycle": "cycle",
    "missing_name": "name",
    "code_in_yaml": "python/object",
    "search_is_a_list": "search",
    "deeply_nested": "nested more than",
    "contains_itself": "model.hidden",
    "alias_bomb": "more than 20,000 values",
    "extends_null_byte": "extends",
    "extends_too_long": "extends",
    "too_big": "bytes",
    "infinite_lr": "train.optimizer.lr",
    "seed_too_big": "train.seed",
    "unprintable_name": "name",
    "latin1_bytes": "UTF-8",
    "newline_in_a_key": "model.'filt\\ners'",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_files_exit_2_before_anything_is_written(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.yaml"
    path.write_bytes(BAD[case].encode("latin-1" if case == "latin1_bytes" else "utf-8"))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(path) in err and KEYS[case] in err, err
    assert err.count("\n") == 1  # one paragraph
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / ".sweep").exists()


def test_a_file_saved_as_utf16_is_read(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "utf16.yaml"
    path.write_bytes("name: utf16\nmodel: {filters: 64}\n".encode("utf-16"))  # with its BOM
    assert main([str(path), "--dry-run"]) == 0
    assert "filters: 64" in capsys.readouterr().out


def test_broken_data_gives_a_clear_error(
    tmp_path: Path, synthetic_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import shutil

    broken = tmp_path / "data"
    shutil.copytree(synthetic_dir, broken)
    raw = (broken / "t10k-images-idx3-ubyte").read_bytes()
    (broken / "t10k-images-idx3-ubyte").write_bytes(raw[:1000])
    monkeypatch.chdir(tmp_path)
    assert main([str(REPO / "experiments" / "quickstart.yaml"), "--data-dir", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "truncated" in err and "t10k-images" in err
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
def test_kill_9_in_a_trials_third_epoch_then_resume(tmp_path: Path, synthetic_dir: Path) -> None:
    """kill -9 in epoch 3 of 4 of trial 2 (trial 1 finished), resume: trial 1 kept, trial 2
    goes on from epoch 3 in its own child run and ends with the history an uninterrupted
    run of the same trial has (same seed, CPU)."""
    import torch

    path = write_sweep(tmp_path, "went_on", epochs=4, subset=4500)
    proc, log = start(path, tmp_path, synthetic_dir)
    ckpt = tmp_path / ".sweep" / "went_on.checkpoints" / "trial-002.ckpt"

    def epoch_saved() -> int:
        try:
            return torch.load(ckpt, weights_only=True)["epoch"] if ckpt.is_file() else 0
        except (OSError, RuntimeError, EOFError):  # (being replaced)
            return 0

    started = psutil.Process(proc.pid).create_time()
    wait_until(lambda: epoch_saved() == 2, proc, log, "trial 2's checkpoint of epoch 2")
    reached = time.time() - started  # a start and 6 epochs: the resumed run has less to do
    proc.kill()  # in epoch 3 (an epoch takes about a second; its checkpoint comes at its end)
    proc.wait()
    assert epoch_saved() == 2
    parents, kids = children(tmp_path, "went_on")
    assert any(k.info.status == "RUNNING" for k in kids)  # what a crash leaves behind
    proc, log = start(path, tmp_path, synthetic_dir)
    assert wait_for_exit(proc, log, within=SLACK * reached) == 0, log.read_text()[-3000:]
    assert "resuming sweep" in log.read_text() and "goes on in run" in log.read_text()
    check_resumed(tmp_path, "went_on", parents[0].info.run_id)
    _, kids = children(tmp_path, "went_on")
    assert {k.data.tags[M.TAG_TRIAL]: k.data.tags.get(M.TAG_RESUMED_FROM) for k in kids} == {
        "1": None,
        "2": "2",
    }

    # a start and 8 epochs, and the wrap-up: under twice as much as reached
    fresh = ("--data-dir", synthetic_dir, "--fresh", "--no-progress")
    again = run_cli(path, *fresh, cwd=tmp_path, within=SLACK * 2 * reached)
    assert again.returncode == 0, again.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    _, kids = children(tmp_path, "went_on")
    second = [k for k in kids if k.data.tags[M.TAG_TRIAL] == "2"]  # one per sweep
    assert len(second) == 2
    for key in (M.TRAIN_LOSS, M.VAL_ACCURACY, M.VAL_LOSS):
        histories = [
            [
                (m.step, m.value)
                for m in sorted(
                    client.get_metric_history(k.info.run_id, key), key=lambda m: m.step
                )
            ]
            for k in second
        ]
        assert [s for s, _ in histories[0]] == [1, 2, 3, 4], key
        assert [s for s, _ in histories[1]] == [1, 2, 3, 4], key
        for (_, a), (_, b) in zip(*histories, strict=True):
            assert a == pytest.approx(b, rel=1e-5, abs=1e-6), key


@pytest.mark.sweep
def test_a_trial_going_on_with_another_device_keeps_its_params_and_says_so(
    tmp_path: Path,
) -> None:
    """Started on CUDA, continued on the CPU: MLflow refuses a changed param, so the run
    keeps its first ones and the tag sweep.resumed_on names the device it went on with."""
    from sweep.record import Tracker, TrialRun

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = tracker.start_run(tracker.experiment_id("moved"), "trial-001", {})
    first = {"train.epochs": 6, "resolved.device": "cuda", "resolved.precision": "bf16"}
    TrialRun(tracker, run_id).params(first)
    assert M.TAG_RESUMED_ON not in tracker.get_run(run_id).data.tags
    earlier = dict(tracker.get_run(run_id).data.params)
    going_on = TrialRun(tracker, run_id, earlier)
    going_on.params({**first, "resolved.device": "cpu", "resolved.precision": "fp32"})
    run = tracker.get_run(run_id)
    assert run.data.params["resolved.device"] == "cuda"
    assert run.data.tags[M.TAG_RESUMED_ON] == "cpu fp32"
    going_on.params(first)  # same device again: nothing to say
    assert tracker.get_run(run_id).data.tags[M.TAG_RESUMED_ON] == "cpu fp32"


def test_a_checkpoint_that_cannot_be_written_is_a_warning(tmp_path: Path, capsys) -> None:
    """A folder gone (a full disk stops the sweep: test_faults): the trial trains on;
    nothing half-written is left."""
    from loguru import logger

    from sweep.train import TrialCheckpoint

    (tmp_path / "not-a-folder").write_text("")
    ckpt = TrialCheckpoint(tmp_path / "not-a-folder" / "trial-001.ckpt", "cid", 1)
    handler = logger.add(lambda m: print(m, end=""), level="WARNING")
    try:
        ckpt.saver("run")({"epoch": 2, "history": []})
    finally:
        logger.remove(handler)
    assert "checkpoint of epoch 2 not written" in capsys.readouterr().out
    assert ckpt.load() is None
    good = TrialCheckpoint(tmp_path / "trial-002.ckpt", "cid", 1)
    good.saver("run")({"epoch": 1, "history": []})
    assert good.load()["epoch"] == 1
    good.path.with_suffix(".tmp").write_text("left over")
    good.remove()
    assert not list(tmp_path.glob("trial-002.*"))


def _fill(folder: Path) -> Path:
    """Write zeros into ``folder`` until its file system has no byte left."""
    filler = folder / "filler"
    chunk = b"\0" * (1 << 20)
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(chunk)
        except OSError:
            pass
        try:
            while True:
                fh.write(b"\0" * 512)
        except OSError:
            pass
    return filler


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 64 MB tmpfs mounted at ``tmp_path/disk`` (root can mount one; CI runs as root)."""
    import subprocess

    from conftest import require

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True
    )
    require(mounted.returncode == 0, f"a tmpfs mount (root; got {mounted.stderr!r})")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.slow
def test_a_full_disk_stops_the_sweep_at_once_and_it_resumes_with_nothing_lost(
    small_disk: Path, tmp_path: Path, synthetic_dir: Path
) -> None:
    """The store, its artifacts, the state and the checkpoints on a small file system that
    fills up during trial 1: one line naming the path and the cause, exit 3, no retrying;
    with room again, the same command finishes every trial, each in one run."""
    import subprocess
    import sys

    from conftest import _env

    name = "full_disk"
    path = write_sweep(tmp_path, name)
    argv = [sys.executable, "-m", "sweep", str(path), "--data-dir", str(synthetic_dir)]
    log = tmp_path / "log.txt"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*argv, "--no-progress"], cwd=small_disk, env=_env(), stderr=err, stdout=err
        )
    step = wait_for_trial(small_disk, name, 1, proc, log)  # a start and an epoch
    filler = _fill(small_disk)
    filled = time.monotonic()
    code = wait_for_exit(proc, log, within=SLACK * step)  # at most the epoch under way
    stopped_in = time.monotonic() - filled
    text = log.read_text()
    assert code == 3, text[-3000:]
    assert "Traceback" not in text and "does not answer" not in text, text[-3000:]
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, text[-3000:]
    assert "no space left on the device" in errors[0] and str(small_disk) in errors[0], errors
    assert "run the same command again to resume" in errors[0]
    print(f"stopped {stopped_in:.1f} s after the disk filled: {errors[0]}")  # (-s shows it)

    filler.unlink()
    # a start, 2 epochs left of trial 1, trial 2's 3, the wrap-up: 7 steps
    again = run_watched(
        [*argv, "--no-progress"], cwd=small_disk, env=_env(), within=SLACK * 7 * step
    )
    assert again.returncode == 0, again.stderr[-3000:]
    parents, kids = children(small_disk, name)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(int(k.data.tags[M.TAG_TRIAL]) for k in kids) == [1, 2]  # no duplicate
    assert {k.info.status for k in kids} == {"FINISHED"}  # none RUNNING or KILLED
