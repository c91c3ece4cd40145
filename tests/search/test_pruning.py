"""The pruning rules on numbers: a trial clearly behind the others at an epoch stops, the
first trial to reach an epoch never does."""

from __future__ import annotations

import pytest

from sweep.config import PrunerConfig
from sweep.search import applies, is_rung, should_prune

MEDIAN = PrunerConfig(kind="median", warmup_epochs=1, min_trials=2)
ASHA = PrunerConfig(kind="asha", min_epochs=1, eta=3)


def test_the_first_trial_to_reach_an_epoch_is_never_pruned() -> None:
    for cfg in (MEDIAN, ASHA):
        for epoch in range(1, 10):
            assert not should_prune(0.10, [], epoch, cfg), (cfg.kind, epoch)


def test_median_prunes_a_trial_clearly_behind_after_the_warm_up() -> None:
    others = [0.86, 0.88, 0.90]
    assert should_prune(0.70, others, 2, MEDIAN)
    assert not should_prune(0.70, others, 1, MEDIAN)  # the warm-up epoch
    assert not should_prune(0.89, others, 2, MEDIAN)  # above the median
    assert not should_prune(0.70, [0.9], 2, MEDIAN)  # fewer than min_trials others


def test_asha_keeps_the_top_third_at_its_rungs() -> None:
    assert [e for e in range(1, 30) if is_rung(e, ASHA)] == [1, 3, 9, 27]
    others = [0.90, 0.88, 0.86, 0.84, 0.82]  # six trials at the rung: the best two go on
    assert not should_prune(0.95, others, 3, ASHA)
    assert not should_prune(0.89, others, 3, ASHA)  # second of six
    assert should_prune(0.87, others, 3, ASHA)  # third of six
    assert not should_prune(0.50, others, 4, ASHA)  # not a rung
    assert should_prune(0.50, [0.9], 3, ASHA)  # two at the rung: only the better goes on
    assert not should_prune(0.95, [0.9], 3, ASHA)


def test_no_pruner_never_prunes() -> None:
    assert not should_prune(0.0, [1.0] * 10, 5, PrunerConfig())


def test_the_other_trials_are_read_only_where_the_rule_can_stop_one() -> None:
    assert [e for e in range(1, 10) if applies(e, ASHA)] == [1, 3, 9]
    assert [e for e in range(1, 5) if applies(e, MEDIAN)] == [2, 3, 4]
    assert not any(applies(e, PrunerConfig()) for e in range(1, 10))


@pytest.mark.sweep
def test_sibling_values_come_from_the_store_and_finished_histories_are_read_once(
    tmp_path,
) -> None:
    """The other child runs' objective at a step: failed and killed ones left out, a run
    that has not reached the step left out, a finished run's history read only once."""
    from sweep import names as M
    from sweep.record import Tracker
    from sweep.search import Siblings

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = tracker.experiment_id("siblings")
    parent = tracker.start_run(exp, "sweep", {})
    me = tracker.start_run(exp, "trial-004", {}, parent_run_id=parent)

    def child(name: str, values: list[float], status: str) -> str:
        run_id = tracker.start_run(exp, name, {}, parent_run_id=parent)
        for step, value in enumerate(values, start=1):
            tracker.log_metrics(run_id, {M.VAL_ACCURACY: value}, step=step)
        if status != "RUNNING":
            tracker.end_run(run_id, status)
        return run_id

    child("trial-001", [0.5, 0.6, 0.7], "FINISHED")
    child("trial-002", [0.9, 0.1], "FAILED")
    running = child("trial-003", [0.4], "RUNNING")
    other_sweep = tracker.start_run(exp, "sweep", {})
    tracker.log_metrics(
        tracker.start_run(exp, "x", {}, parent_run_id=other_sweep), {M.VAL_ACCURACY: 0.99}, step=1
    )
    tracker.log_metrics(me, {M.VAL_ACCURACY: 0.3}, step=1)

    reads: list[str] = []
    history = tracker.client.get_metric_history
    tracker.client.get_metric_history = lambda run_id, key: (
        reads.append(run_id) or history(run_id, key)
    )
    siblings = Siblings(tracker, exp, parent, me, M.VAL_ACCURACY)
    assert sorted(siblings.values_at(1)) == [0.4, 0.5]
    assert siblings.values_at(2) == [0.6]  # trial 3 has not reached epoch 2
    tracker.log_metrics(running, {M.VAL_ACCURACY: 0.45}, step=2)
    assert sorted(siblings.values_at(2)) == [0.45, 0.6]
    assert reads.count(running) == 3  # a running trial is read again each time
    assert len(reads) - reads.count(running) == 1  # the finished one once


class FakeSiblings:
    """The two questions a trial's pruning check asks the store."""

    def __init__(self, others: list[float], same_config: bool = False):
        self.others, self.same_config, self.asked = others, same_config, []

    def has_config(self, cid: str) -> bool:
        return self.same_config

    def values_at(self, epoch: int) -> list[float]:
        self.asked.append(epoch)
        return self.others


def pruning_check(objective: str, siblings: FakeSiblings):
    from sweep.config import ExperimentConfig
    from sweep.search._trial import _pruner

    config = ExperimentConfig.model_validate(
        {
            "name": "x",
            "sweep": {
                "objective": objective,
                "pruner": {"kind": "median", "warmup_epochs": 1, "min_trials": 1},
            },
        }
    )
    return _pruner(config, siblings, "cid")


def test_a_trial_with_the_higher_validation_loss_is_the_one_pruned() -> None:
    """objective val_loss: lower is better, so a trial above the others' loss is behind."""
    check = pruning_check("val_loss", FakeSiblings([0.30, 0.32]))
    assert check(2, {"val_loss": 0.90, "val_accuracy": 0.5})
    assert not check(2, {"val_loss": 0.20, "val_accuracy": 0.5})
    check = pruning_check("val_accuracy", FakeSiblings([0.80, 0.82]))
    assert check(2, {"val_loss": 0.2, "val_accuracy": 0.50})
    assert not check(2, {"val_loss": 0.9, "val_accuracy": 0.90})


def test_a_configuration_the_sweep_ran_before_is_never_pruned() -> None:
    """On Spark the driver marks repeats only afterwards: the store says the sweep has a
    run of this configuration, so this one is a repeat and goes on."""
    siblings = FakeSiblings([0.80, 0.82], same_config=True)
    check = pruning_check("val_accuracy", siblings)
    assert not check(1, {"val_accuracy": 0.1}) and not check(2, {"val_accuracy": 0.1})
    assert siblings.asked == []  # (not even read)


def test_the_runs_owed_to_the_best_configurations_are_never_pruned(monkeypatch) -> None:
    """The repeats phase runs its trials with prune=False (and a local repeat is a repeat)."""
    import inspect

    import sweep.search._trial as trial
    from sweep.config import ExperimentConfig

    calls: list[tuple] = []
    signature = inspect.signature(trial.run_trial)
    monkeypatch.setattr(trial, "run_trial", lambda *a, **k: calls.append((a, k)) or {})
    config = ExperimentConfig.model_validate({"name": "x"})
    ctx = trial.TrialContext("sqlite:///x.db", "1", "parent", None, "scratch")
    trial.Objective(config, ctx, 1, prune=False)({})
    trial.Objective(config, ctx, None, prune=False)({})  # (Spark: numbered afterwards)
    trial.Objective(config, ctx, 1)({})
    pruned = [signature.bind(*a, **k).arguments.get("prune", True) for a, k in calls]
    assert pruned == [False, False, True]


@pytest.mark.sweep
def test_a_sweep_prunes_the_trial_that_is_behind(tmp_path, synthetic_dir) -> None:
    """Two configurations, one that cannot learn (lr 1e-7): the first trial runs its 4
    epochs; the second is stopped after epoch 2, tagged, recorded FINISHED, not selected."""
    from mlflow.tracking import MlflowClient

    from sweep import names as M
    from sweep.config import load_experiment
    from sweep.search import RunOptions, run_sweep

    path = tmp_path / "prune.yaml"
    path.write_text(
        "name: prune\n"
        "model: {kind: mlp, hidden: [32], dropout: 0.0}\n"
        "train: {epochs: 4, batch_size: 100, optimizer: {name: sgd, lr: 0.1}}\n"
        "search:\n  train.optimizer.lr: {choice: [0.1, 1.0e-7]}\n"
        "sweep: {algo: grid, log_model: false,\n"
        "        pruner: {kind: median, warmup_epochs: 1, min_trials: 1}}\n"
        "data: {subset: 1000}\n"
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    options = RunOptions(tracking_uri=uri, data_dir=str(synthetic_dir), show_progress=False)
    result = run_sweep(load_experiment(path), path, options)
    client = MlflowClient(uri)
    first, second = (client.get_run(t.run_id) for t in result.trials)
    assert first.data.metrics[M.EPOCHS_RUN] == 4 and M.TAG_PRUNED not in first.data.tags
    assert second.data.tags[M.TAG_PRUNED] == "true" and second.data.tags[M.TAG_PRUNED_AT] == "2"
    assert second.data.metrics[M.EPOCHS_RUN] == 2 and second.info.status == "FINISHED"
    assert [t.pruned for t in result.trials] == [False, True]
    assert result.best.run_id == first.info.run_id

    # the report reads the tag: the pruned run is counted, never selected nor averaged
    from sweep.analysis import mark_selected
    from sweep.report import load_runs

    frame = load_runs(uri).runs
    assert dict(zip(frame["run_id"], frame["status"], strict=True)) == {
        first.info.run_id: "FINISHED",
        second.info.run_id: "PRUNED",
    }
    frame = mark_selected(frame.assign(unit="prune"))
    assert frame.loc[frame["selected"], "run_id"].tolist() == [first.info.run_id]


def test_a_pruned_run_is_never_selected() -> None:
    from sweep.analysis import SweepResult, TrialSummary
    from sweep.search import STATUS_OK

    def run(n: int, val: float, pruned: bool) -> TrialSummary:
        return TrialSummary(
            n, STATUS_OK, {"x": n}, f"r{n}", -val, val, val, config_id=f"c{n}", pruned=pruned
        )

    result = SweepResult("1", "p", "val_accuracy", (run(1, 0.80, False), run(2, 0.95, True)))
    assert result.best.run_id == "r1"
