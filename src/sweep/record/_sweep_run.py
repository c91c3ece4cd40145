"""What a sweep's parent run holds, written here: its start (tags, params, the resolved
config and the file), its prediction tags, and at its end the summary metrics, the trials
table, the search's history, the selected trial's figures and model, and the analysis."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from loguru import logger
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

from .. import names as M
from ..analysis import SweepResult, TrialSummary, best_so_far, optimization_history
from ..config import ExperimentConfig, SweepIdentity, content_hash, file_budget, to_yaml
from ..faults import StorageFull, full_message, storage_problem, writing
from ..names import Role, RunStatus
from ..signals import StoreLost
from ..train import example_images, load_scorer
from ._artifacts import BEST_ALIAS, log_figures, log_model, log_sweep_analysis
from ._tracker import Tracker, source_tags


def record_sweep(
    tracker: Tracker,
    result: SweepResult,
    config: ExperimentConfig,
    scratch: Path,
    trained: ExperimentConfig | None,
) -> str | None:
    """Parent metrics, trials table, optimization history, the best trial's figures and
    model (``trained``: its configuration as it trained), and the sweep's analysis;
    returns the registered model's version (None: no model logged)."""
    best, selected = result.best, result.selected
    values = {M.N_TRIALS: len(result.trials), M.N_FAILED: result.n_failed}
    values |= {M.EPOCHS_TRAINED: result.epochs_trained, M.EPOCHS_POSSIBLE: result.epochs_possible}
    values |= {M.REPEATS_OWED: result.repeats_owed}
    tracker.set_tags(result.parent_run_id, {M.TAG_ENDED_BY: result.ended_by})
    if best is not None:  # the selected configuration's means over its runs
        values[M.BEST_VAL_ACCURACY] = float(np.mean([t.val_accuracy for t in selected]))
        values[M.BEST_TEST_ACCURACY] = float(np.mean([t.test_accuracy for t in selected]))
        values[M.SELECTED_RUNS] = len(selected)
    tracker.log_metrics(result.parent_run_id, values)
    table = pd.DataFrame([_table_row(t) for t in result.trials])
    tracker.log_table(result.parent_run_id, table, "trials.csv")
    objective = config.sweep.objective
    numbers = [t.number for t in result.trials]
    history = pd.DataFrame({"trial": numbers, objective: _objective_values(result)})
    _log_search(tracker, result.parent_run_id, history, objective)
    figure = optimization_history(
        history, objective, maximize=objective == M.VAL_ACCURACY, title=config.name
    )
    tracker.log_figure(result.parent_run_id, figure, "optimization_history.png")
    version = None
    if best is not None and best.run_id:
        tags = {M.TAG_BEST_TRIAL: best.run_id, M.TAG_BEST_CONFIG: best.config_id}
        tracker.set_tags(result.parent_run_id, tags)
        log_figures(tracker, best.run_id, f"trial {best.number}")  # (drawn once, here)
        version = _log_best_model(tracker, best, config, trained, scratch)
    _log_analysis(tracker, result, config)  # (after what the sweep is for: its selection)
    return version


def _log_analysis(tracker: Tracker, result: SweepResult, config: ExperimentConfig) -> None:
    """Importance, interactions and cost on the parent run (:mod:`sweep.analysis`). One
    that cannot be drawn is a warning, not a lost sweep (a store that fails is the
    caller's: the sweep resumes and tries again)."""
    try:
        log_sweep_analysis(tracker, result.experiment_id, config.name, result.parent_run_id)
    except (MlflowException, SQLAlchemyError, StoreLost):
        raise
    except Exception as exc:
        if problem := storage_problem(exc):
            raise StorageFull(full_message("logging the sweep's analysis", problem)) from None
        logger.warning("the sweep's analysis was not logged: {}: {}", type(exc).__name__, exc)


def _log_search(tracker: Tracker, parent: str, history: Any, objective: str) -> None:
    """Each trial's objective and the best so far on the parent, at step = trial number,
    so that MLflow's UI charts the search."""
    ordered = history.dropna().sort_values("trial")
    best = best_so_far(ordered[objective], maximize=objective == M.VAL_ACCURACY)
    logged = tracker.metric_steps(parent, f"trial_{objective}")  # (an extended sweep's)
    for number, value, top in zip(ordered["trial"], ordered[objective], best, strict=True):
        if int(number) in logged:
            continue
        values = {f"trial_{objective}": float(value), f"best_{objective}_so_far": float(top)}
        tracker.log_metrics(parent, values, step=int(number))


def _table_row(t: TrialSummary) -> dict[str, Any]:
    return {
        "trial": t.number,
        "status": t.status,
        "config_id": t.config_id,
        "role": t.role,
        "pruned": bool(t.pruned),
        "seed": t.seed,
        **t.params,
        "loss": t.loss,
        M.VAL_ACCURACY: t.val_accuracy,
        M.TEST_ACCURACY: t.test_accuracy,
        "run_id": t.run_id,
        "failure": t.failure,
    }


def _objective_values(result: SweepResult) -> list[float]:
    """Each trial's objective in its own sign (validation accuracy or loss); NaN if failed."""
    sign = -1.0 if result.objective == M.VAL_ACCURACY else 1.0  # hyperopt minimises -accuracy
    return [np.nan if t.loss is None else sign * t.loss for t in result.trials]


def _log_best_model(
    tracker: Tracker,
    best: TrialSummary,
    config: ExperimentConfig,
    trained: ExperimentConfig,
    scratch: Path,
) -> str | None:
    """The selected trial's weights and config as light artifacts of its run, and (unless
    ``sweep.log_model`` is false) the model, registered as the experiment's name with the
    alias ``best``; returns its
    version. A model that cannot be logged is a warning and a tag, not a failed sweep
    (a store that fails is the caller's: the sweep resumes and tries again)."""
    checkpoint = scratch / f"{best.run_id}.pt"
    if not checkpoint.is_file():
        logger.warning("no model logged: the selected run's weights are not in {}", scratch)
        return None
    try:
        with writing("saving the selected model's files", scratch):
            (scratch / "config.yaml").write_text(to_yaml(trained))
            shutil.copyfile(checkpoint, scratch / "state_dict.pt")
        tracker.log_file(best.run_id, scratch / "state_dict.pt", "trained")
        tracker.log_file(best.run_id, scratch / "config.yaml", "trained")
        if not config.sweep.log_model:
            return None
        model = load_scorer(trained, checkpoint)
        version = log_model(tracker, best.run_id, model, config.name, example_images())
    except (MlflowException, SQLAlchemyError):
        raise
    except Exception as exc:
        if problem := storage_problem(exc):  # (torch.export's temporary files, say)
            raise StorageFull(full_message("logging the selected model", problem)) from None
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("the selected model could not be logged: {}", reason)
        tracker.set_tags(best.run_id, {M.TAG_MODEL_ERROR: reason[:5000]})
        return None
    logger.info("registered model {} version {} (alias @{})", config.name, version, BEST_ALIAS)
    return version


def prediction_tags(config: ExperimentConfig, yaml_path: str | Path | None) -> dict[str, str]:
    """What the findings judge a sweep by: its file's ``expect:`` and the budget the file
    itself sets (set when the sweep starts, and again when it resumes or is extended)."""
    tags = {}
    if config.expect is not None:
        tags[M.TAG_EXPECT] = config.expect.model_dump_json(exclude_none=True)
    if yaml_path is not None and (budget := file_budget(yaml_path)):
        tags[M.TAG_FILE_BUDGET] = budget
    return tags


def start_parent(
    tracker: Tracker,
    experiment_id: str,
    config: ExperimentConfig,
    identity: SweepIdentity,
    yaml_path: str | Path | None,
) -> str:
    """A new parent run, tagged with its file, the file's hash, the setup's hash (what
    pools it with other sweeps in a report) and the git commit."""
    tags = {**source_tags(yaml_path), M.TAG_ROLE: Role.SWEEP}
    tags[M.TAG_SETUP_HASH] = identity.setup
    if config.hypothesis:  # the run's description in MLflow's UI
        tags[M.TAG_NOTE] = config.hypothesis
    tags |= prediction_tags(config, yaml_path)
    if yaml_path is not None:
        tags[M.TAG_YAML] = str(yaml_path)
        tags[M.TAG_YAML_HASH] = content_hash(yaml_path)
    run_name = f"sweep-{datetime.now():%Y%m%d-%H%M%S}"
    parent = tracker.start_run(experiment_id, run_name, tags)
    try:
        # a searched key is its search spec (the file's base value never trains)
        search = {k: d.describe() for k, d in config.search.items()}
        fixed = {k: v for k, v in config.fixed_params().items() if k not in search}
        tracker.log_params(parent, {**fixed, **search})
        tracker.log_text(parent, to_yaml(config), "config_resolved.yaml")
        if yaml_path is not None:
            tracker.log_file(parent, yaml_path)
    except BaseException as exc:  # never a parent left RUNNING with no state to resume it
        tracker.end_run(
            parent, RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        )
        raise
    return parent
