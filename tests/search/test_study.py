"""A study (``python -m sweep study``): its file checked whole before anything runs, every
sweep run with its overrides into one store, finished sweeps skipped when the same command
runs again or its exports are there (on another machine), each finished sweep exported, and
a time budget that starts no sweep it cannot give a minute."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import run_main, tiny_sweep
from sweep.config import ConfigError
from sweep.search import load_study, plan


def write_study(folder: Path, body: str) -> Path:
    (folder / "a.yaml").write_text(tiny_sweep("study_a"))
    (folder / "b.yaml").write_text(tiny_sweep("study_b"))
    path = folder / "study.yaml"
    path.write_text(body)
    return path


STUDY = """
name: tiny
sweeps:
  - {file: a.yaml, set: {sweep.max_evals: 1}}
  - {file: b.yaml, set: {sweep.max_evals: 2, data.subset: 800}}
"""


def test_a_study_file_is_read_with_each_sweeps_overrides(tmp_path: Path) -> None:
    study, entries = load_study(write_study(tmp_path, STUDY))
    assert study.name == "tiny" and [c.name for _, c, _ in entries] == ["study_a", "study_b"]
    assert entries[1][1].sweep.max_evals == 2 and entries[1][1].data.subset == 800
    planned = plan(f"sqlite:///{tmp_path / 'mlflow.db'}", entries)
    assert [p.state for p in planned] == ["to run", "to run"]
    assert [p.epochs_left for p in planned] == [1, 2]  # (trials x epochs; no repeats owed)
    assert not (tmp_path / "mlflow.db").exists()  # a plan opens no store


@pytest.mark.parametrize(
    "body, words",
    [
        ("name: x\n", "sweeps"),
        ("name: x\nsweeps: []\n", "sweeps"),
        ("name: x\nsweeps: [{file: a.yaml, seed: 3}]\n", "seed"),
        ("name: x\nsweeps: [{file: nowhere.yaml}]\n", "nowhere.yaml"),
        ("name: x\nsweeps: [{file: a.yaml, set: {train.epochs: -1}}]\n", "train.epochs"),
        ("name: x\nsweeps: [{file: a.yaml}, {file: a.yaml}]\n", "two sweeps of one"),
        ("name: [x\n", "cannot be read"),
    ],
)
def test_a_study_file_that_cannot_run_is_refused_whole(tmp_path: Path, body, words) -> None:
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        load_study(write_study(tmp_path, body))
    done = run_main(["study", str(tmp_path / "study.yaml")], tmp_path)
    assert done.code == 2 and done.err.startswith("error:") and done.err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml", "study.yaml"]


@pytest.mark.sweep
def test_a_study_runs_every_sweep_once_and_exports_each(
    tmp_path: Path, synthetic_dir: Path
) -> None:
    path = write_study(tmp_path, STUDY)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = ["study", str(path), "--tracking-uri", uri, "--data-dir", str(synthetic_dir)]
    argv += ["--export", str(tmp_path / "results"), "--no-progress"]
    done = run_main(argv, tmp_path)
    assert done.code == 0, done.err
    assert "every sweep is done" in done.out
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["study_a", "study_b"]
    client = MlflowClient(uri)
    runs = {
        e.name: len(client.search_runs([e.experiment_id])) for e in client.search_experiments()
    }
    assert runs == {"Default": 0, "study_a": 2, "study_b": 3}  # (a parent and its trials)
    again = run_main(argv, tmp_path)  # the same command: nothing is left to run
    assert again.code == 0 and "every sweep is done" in again.out
    after = {
        e.name: len(client.search_runs([e.experiment_id])) for e in client.search_experiments()
    }
    assert after == runs
    # another machine: a new store, the exports committed beside the study
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"
    argv[argv.index(uri)] = elsewhere
    moved = run_main(argv, tmp_path)
    assert moved.code == 0 and "every sweep is done" in moved.out, moved.err
    rows = [line for line in moved.out.splitlines() if line.startswith("study_")]
    assert len(rows) == 4 and all(" exported " in r for r in rows)  # (the table before, after)
    assert not (tmp_path / "elsewhere" / "mlflow.db").exists()  # nothing ran, nothing opened


def counts(uri: str) -> dict[str, int]:
    """The runs of each experiment in the store."""
    client = MlflowClient(uri)
    return {
        e.name: len(client.search_runs([e.experiment_id])) for e in client.search_experiments()
    }


def test_a_time_budget_too_short_for_a_sweep_starts_none(tmp_path: Path) -> None:
    path = write_study(tmp_path, STUDY)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = run_main(["study", str(path), "--tracking-uri", uri, "--time-budget", "30s"], tmp_path)
    assert done.code == 0 and "time budget spent" in done.err
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize("name", ["reduced", "round1"])
def test_the_committed_studies_load(name: str) -> None:
    from conftest import REPO

    study, entries = load_study(REPO / "experiments" / "studies" / f"{name}.yaml")
    assert study.name == name and entries
    assert all(path.is_file() for path, _, _ in entries)


def test_a_sweeps_epochs_count_the_repeats_that_may_move_its_best(tmp_path: Path) -> None:
    from sweep.config import SweepIdentity, load_experiment
    from sweep.search._phases import most_epochs
    from sweep.search._state import SweepState

    (tmp_path / "a.yaml").write_text(
        tiny_sweep("repeated", sweep={"max_evals": 3, "repeats": 3}, train={"epochs": 2})
    )
    config = load_experiment(tmp_path / "a.yaml")
    empty = SweepState(config.name, "", SweepIdentity.of(config), None)
    # planned: 3 searched + 2 repeats of the best; at most: each searched one 3 times
    assert most_epochs(config, empty) == (10, 18, 2)
    grid = config.model_copy(update={"sweep": config.sweep.model_copy(update={"algo": "grid"})})
    planned, most, _ = most_epochs(grid, empty)
    assert planned == most  # a grid's repeats are its search


def test_the_study_table_times_each_sweep_at_its_own_speed_else_its_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    from sweep.cli import study

    rates = pd.DataFrame(
        {
            "experiment": ["study_a", "study_a", "study_a", "other", "other"],
            "kind": ["mlp", "mlp", "mlp", "cnn", "cnn"],
            "rate": [100.0, 200.0, 900.0, 50.0, 70.0],
        }
    )
    assert study._rate(rates, "study_a", "mlp") == 200.0  # its own runs' median
    assert study._rate(rates, "study_b", "cnn") == 60.0  # none yet: its model kind's
    assert (
        study._rate(rates, "study_b", "resnet") is None and study._rate(None, "a", "mlp") is None
    )
    _, entries = load_study(write_study(tmp_path, STUDY))
    monkeypatch.setattr(study, "_rates", lambda uri: rates.assign(kind="cnn"))
    study._table(f"sqlite:///{tmp_path / 'mlflow.db'}", entries, set())
    out = capsys.readouterr().out.splitlines()
    a, b = (next(line for line in out if line.startswith(n)) for n in ("study_a", "study_b"))
    images = plan(f"sqlite:///{tmp_path / 'mlflow.db'}", entries)[0].images_left
    from sweep.console import duration

    assert a.split()[-1] == duration(images / 200.0) and b.split()[-1] == "?"
    assert "1 sweep(s) whose model has not trained here yet" in out[-2]
