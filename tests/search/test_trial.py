"""One trial without a store: its keys (sweep.search), its summary as Hyperopt carries it
(sweep.analysis), and what sweep.train.train_trial returns, on tiny synthetic data. The
trial's run in MLflow is in test_sweep and test_e2e."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sweep.analysis import TrialSummary, config_id
from sweep.config import ExperimentConfig
from sweep.search import _trial as trial
from sweep.train import DataPlace, build_model, count_parameters, train_trial


def test_a_trials_keys_are_its_searched_values_their_id_and_its_own_seed() -> None:
    sample = {"train.optimizer.lr": 0.01, "model.dropout": 0.2}
    params, cid, seed = trial._trial_keys(sample, seed_base=10, number=3)
    assert params == sample and cid == config_id(sample) and seed == 13
    _, _, unnumbered = trial._trial_keys(sample, seed_base=10, number=None)  # (Spark)
    assert unnumbered > 10


def test_a_summary_goes_through_hyperopts_result_and_back_unchanged() -> None:
    summary = TrialSummary(
        2, trial.STATUS_OK, {"model.dropout": 0.1}, "run", loss=-0.9, val_accuracy=0.9,
        test_accuracy=0.88, config_id="abc", seed=3, role="trial", epochs_run=4,
    )  # fmt: skip
    assert TrialSummary.from_result(summary.to_result(), tid=1) == summary
    failed = TrialSummary(None, trial.STATUS_FAIL, {"model.dropout": 0.1}, None)
    result = failed.to_result()
    assert "loss" not in result  # (Hyperopt: a failed trial has no loss)
    back = TrialSummary.from_result(result, tid=4)
    assert back.number == 5 and back.config_id == config_id({"model.dropout": 0.1})
    assert not back.complete


def test_train_trial_tests_the_model_it_returns_in_fp32(synthetic_dir: Path) -> None:
    config = ExperimentConfig.model_validate(
        {
            "name": "one",
            "model": {"kind": "mlp", "hidden": [16]},
            "train": {"epochs": 1, "precision": "bf16"},
            "data": {"subset": 600},
        }
    )
    outcome = train_trial(config, DataPlace(str(synthetic_dir)))
    fresh = build_model(config.model)
    assert (outcome.precision, outcome.epochs_run) == ("bf16", 1)
    assert outcome.num_parameters == count_parameters(fresh)
    assert set(outcome.state_dict) == set(fresh.state_dict())  # on the CPU, for the file
    accuracy = float(np.mean(outcome.predictions == outcome.splits.y_test))
    assert accuracy == outcome.test_accuracy  # the final figures are the predictions'
    assert outcome.splits.x_train.shape[0] == 540 and len(outcome.predictions) == 10_000
