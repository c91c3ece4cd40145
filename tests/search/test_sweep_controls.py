"""Sweeps that fit the user's day: known configurations first (``sweep.start_with``), a
time budget for the whole sweep, an estimate and an ETA from this machine's pace, the
epochs trained against the most possible, and MLflow's system metrics on every trial
(in-process sweeps of a tiny MLP on synthetic data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from loguru import logger
from mlflow.tracking import MlflowClient

from sweep import names as M
from sweep.config import ConfigError, load_experiment
from sweep.search import RunOptions, run_sweep
from sweep.signals import SweepInterrupted

pytestmark = pytest.mark.sweep  # sweeps in this process, into temporary stores

CONTROLS = """
name: controls
model: {kind: mlp, hidden: [64], dropout: 0.0}
train: {epochs: 3, batch_size: 100}
search:
  model.hidden: {choice: [[64], [32, 32]]}
  train.optimizer.lr: {loguniform: [1.0e-3, 1.0e-2]}
sweep:
  algo: tpe
  max_evals: 4
  seed: 1
  log_model: false
  start_with:
    - {model.hidden: [32, 32], train.optimizer.lr: 0.004}
    - {model.hidden: [64], train.optimizer.lr: 0.002}
data: {subset: 3000}
"""


def run(folder: Path, data: Path, text: str = CONTROLS, **sweep_keys):
    path = folder / "sweep.yaml"
    path.write_text(text)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    options = RunOptions(tracking_uri=uri, data_dir=str(data), show_progress=False)
    overrides = {f"sweep.{k}": v for k, v in sweep_keys.items()}
    return run_sweep(load_experiment(path, overrides), path, options), MlflowClient(uri)


def children(client: MlflowClient, parent: str) -> list:
    runs = client.search_runs(
        [client.get_run(parent).info.experiment_id], f"tags.`{M.TAG_PARENT}` = '{parent}'"
    )
    return sorted(runs, key=lambda r: int(r.data.tags[M.TAG_TRIAL]))


@pytest.fixture(scope="module")
def controlled(tmp_path_factory, synthetic_dir):
    """One sweep, its console lines kept; system metrics sampled every second."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "1")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), format="{message}")
    try:
        result, client = run(tmp_path_factory.mktemp("controls"), synthetic_dir)
    finally:
        logger.remove(sink)
        mp.undo()
    return result, client, lines


def test_the_start_points_are_the_first_trials_in_order_with_their_values(controlled) -> None:
    result, client, _ = controlled
    kids = children(client, result.parent_run_id)
    assert len(kids) == 4  # counted in max_evals
    first, second = (k.data.params for k in kids[:2])
    assert (first["model.hidden"], first["train.optimizer.lr"]) == ("[32, 32]", "0.004")
    assert (second["model.hidden"], second["train.optimizer.lr"]) == ("[64]", "0.002")
    seeds = [int(k.data.params["train.seed"]) for k in kids]
    assert seeds == [1, 2, 3, 4]  # seeded like any trial
    # TPE then proposes its own
    assert all(k.data.params["train.optimizer.lr"] not in ("0.004", "0.002") for k in kids[2:])


def test_the_sweep_says_what_it_may_train_and_what_it_trained(controlled) -> None:
    result, client, lines = controlled
    assert any("at most 12 epochs of 2,700 images" in line for line in lines), lines[:5]
    estimates = [i for i, line in enumerate(lines) if line.startswith("estimate: ETA")]
    epochs = [i for i, line in enumerate(lines) if "| epoch" in line or "epochs in" in line]
    assert estimates and epochs and estimates[0] < epochs[0] + 2, lines  # after epoch 1
    parent = client.get_run(result.parent_run_id)
    kids = children(client, result.parent_run_id)
    trained = sum(int(k.data.metrics[M.EPOCHS_RUN]) for k in kids)
    assert parent.data.metrics[M.EPOCHS_TRAINED] == trained == result.epochs_trained
    assert parent.data.metrics[M.EPOCHS_POSSIBLE] == 12
    assert parent.data.tags[M.TAG_ENDED_BY] == "max_evals"


def test_every_trial_run_has_mlflow_s_system_metrics(controlled) -> None:
    result, client, _ = controlled
    for kid in children(client, result.parent_run_id):
        metrics = kid.data.metrics
        assert "system/cpu_utilization_percentage" in metrics, sorted(metrics)
        assert "system/system_memory_usage_megabytes" in metrics
        assert 0 <= metrics["system/cpu_utilization_percentage"] <= 100 * 64


def test_a_start_point_outside_the_space_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "controls.yaml"
    for bad, words in (
        ("{model.hidden: [16], train.optimizer.lr: 0.004}", "model.hidden=[16] is outside"),
        ("{model.hidden: [64], train.optimizer.lr: 0.5}", "train.optimizer.lr=0.5 is outside"),
        ("{model.hidden: [64]}", "no value for the searched key(s) train.optimizer.lr"),
        ("{model.hidden: [64], train.optimizer.lr: 0.002, train.epochs: 2}", "not a searched"),
    ):
        text = CONTROLS.replace("{model.hidden: [64], train.optimizer.lr: 0.002}", bad)
        path.write_text(text)
        with pytest.raises(ConfigError, match=r"sweep\.start_with\[1\]") as err:
            load_experiment(path)
        assert words in str(err.value), str(err.value)
    path.write_text("name: x\nmodel: {kind: mlp}\nsweep: {start_with: [{}]}\n")
    with pytest.raises(ConfigError, match="there is no search"):
        load_experiment(path)
    # a key fixed on the command line leaves the starting points as well
    path.write_text(CONTROLS)
    fixed = load_experiment(path, {"model.hidden": [64]})
    assert [set(p) for p in fixed.sweep.start_with] == [{"train.optimizer.lr"}] * 2


@pytest.mark.slow
def test_the_command_line_refuses_a_bad_start_point_with_status_2(tmp_path: Path) -> None:
    from conftest import run_cli

    path = tmp_path / "controls.yaml"
    path.write_text(CONTROLS.replace("train.optimizer.lr: 0.002}", "train.optimizer.lr: 2.0}"))
    done = run_cli(path.name, "--dry-run", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "sweep.start_with[1]" in done.stderr and "2.0 is outside" in done.stderr


def test_a_time_budget_starts_no_trial_after_it_and_the_same_command_goes_on(
    tmp_path: Path, synthetic_dir: Path, monkeypatch
) -> None:
    import time

    import sweep.search._trial

    train = sweep.search._trial.train_trial

    def slow_trial(*args, **kwargs):  # outlasts the 0.5 s budget on any machine
        time.sleep(0.6)
        return train(*args, **kwargs)

    monkeypatch.setattr(sweep.search._trial, "train_trial", slow_trial)
    slow = CONTROLS.replace("epochs: 3", "epochs: 1")
    result, client = run(tmp_path, synthetic_dir, slow, max_evals=2, time_budget="0.5s")
    assert len(result.trials) == 1 and result.ended_by == "time_budget"
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags[M.TAG_ENDED_BY] == "time_budget"
    assert parent.data.metrics[M.N_TRIALS] == 1  # summarised as it stands
    assert parent.info.status == "KILLED"  # and resumable: its state is kept
    assert (tmp_path / ".sweep" / "controls.trials.pkl").exists()
    again, _ = run(tmp_path, synthetic_dir, slow, max_evals=2)  # no budget: the rest
    assert again.parent_run_id == result.parent_run_id and len(again.trials) == 2
    kids = children(client, result.parent_run_id)
    assert [int(k.data.tags[M.TAG_TRIAL]) for k in kids] == [1, 2]  # none twice
    assert [k.data.params["train.optimizer.lr"] for k in kids] == ["0.004", "0.002"]
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags[M.TAG_ENDED_BY] == "max_evals"


def test_a_time_budget_with_epoch_grace_stops_the_running_trial_resumably(
    tmp_path: Path, synthetic_dir: Path
) -> None:
    slow = CONTROLS.replace("epochs: 3", "epochs: 40").replace("subset: 3000", "subset: 20000")
    with pytest.raises(SweepInterrupted):
        run(tmp_path, synthetic_dir, slow, time_budget="3s", time_budget_grace="epoch")
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("controls")
    (parent,) = [
        r for r in client.search_runs([exp.experiment_id]) if M.TAG_PARENT not in r.data.tags
    ]
    assert parent.info.status == "KILLED" and parent.data.tags[M.TAG_ENDED_BY] == "time_budget"
    (kid,) = children(client, parent.info.run_id)
    assert kid.info.status == "KILLED"
    assert 1 <= len(client.get_metric_history(kid.info.run_id, M.VAL_ACCURACY)) < 40
    assert (tmp_path / ".sweep" / "controls.trials.pkl").exists()  # resumable


def test_a_trial_config_has_no_starting_points_so_export_best_reloads_it() -> None:
    from sweep.config import validate
    from sweep.search import apply_sample

    config = validate(
        {
            "name": "x",
            "model": {"kind": "mlp"},
            "search": {"train.optimizer.lr": {"loguniform": [1.0e-3, 1.0e-2]}},
            "sweep": {"start_with": [{"train.optimizer.lr": 0.002}]},
        },
        "x.yaml",
    )
    trial = apply_sample(config, {"train.optimizer.lr": 0.002})
    assert trial.sweep.start_with == () and trial.search == {}
    validate(
        {**trial.model_dump(mode="json"), "sweep": {"algo": "grid"}}, "best.yaml"
    )  # (what export-best writes: a grid of the one configuration)


REFUSED_PAIR = """
name: refused_pair
model: {kind: mlp, hidden: [32], dropout: 0.0}
train: {epochs: 1, batch_size: 100, optimizer: {name: sgd}}
search:
  train.optimizer.name: {choice: [sgd, adam]}
  train.optimizer.nesterov: {choice: [false, true]}
sweep:
  algo: tpe
  max_evals: 2
  seed: 1
  log_model: false
  start_with:
    - {train.optimizer.name: adam, train.optimizer.nesterov: true}
data: {subset: 1000}
"""


def test_a_sampled_combination_the_config_refuses_is_a_failed_trial(
    tmp_path: Path, synthetic_dir: Path
) -> None:
    """adam and nesterov pass the load-time check (each dimension's values are valid on
    the file's sgd) but not as a pair: that trial fails, recorded; the sweep goes on."""
    result, client = run(tmp_path, synthetic_dir, REFUSED_PAIR)
    first = result.trials[0]
    assert first.status == "fail" and "nesterov" in first.failure, first
    assert len(result.trials) == 2
    run_ = client.get_run(first.run_id)
    assert run_.info.status == "FAILED" and M.TAG_FAILURE in run_.data.tags
