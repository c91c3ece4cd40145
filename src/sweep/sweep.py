"""Step 7 of the data flow: the Hyperopt loop. Opens (or resumes) the sweep's parent run,
runs ``fmin`` over the space with one trial per child run, and records the sweep's summary.
Where trials run is the backend's business; how a sweep resumes is :mod:`sweep.resume`'s.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from . import metrics as M
from . import resume, selection
from .artifacts import BEST_ALIAS, log_figures, log_model, log_sweep_analysis
from .backends import Backend, make_backend, store_lost
from .config import ExperimentConfig, SweepIdentity, content_hash, file_budget, to_yaml
from .console import Pace, progress
from .faults import StorageFull, full_message, storage_problem, writing
from .signals import GracefulStop, StoreLost, SweepInterrupted
from .space import apply_sample, build_space, grid_points, start_points
from .store import DEFAULT_TRACKING_URI, STORE_TIMEOUT_S
from .tracking import Tracker, source_tags
from .trial import STATUS_OK, Objective, TrialContext, TrialSummary, example_images, load_scorer

__all__ = ["RunOptions", "SweepInterrupted", "SweepResult", "run_sweep", "no_progress_stop"]

# why a sweep ended, as its parent's tag sweep.ended_by: every planned trial ran, the time
# budget ran out, no new best for sweep.no_progress_stop trials, or it was interrupted
ENDED_MAX_EVALS, ENDED_BUDGET, ENDED_NO_PROGRESS, ENDED_INTERRUPTED = (
    "max_evals",
    "time_budget",
    "no_progress",
    "interrupted",
)


@dataclass(frozen=True)
class RunOptions:
    """How to run a sweep (not what to run: that is the ExperimentConfig)."""

    tracking_uri: str = DEFAULT_TRACKING_URI
    data_dir: str | None = None
    show_progress: bool = True
    fresh: bool = False  # ignore an interrupted sweep of the same experiment; start anew
    data_pickle: str | None = None  # the older pickle format instead of the IDX files
    allow_pickle: bool = False  # loading a pickle runs code: only on explicit request
    spark_master: str | None = None  # spark backend: default $SPARK_MASTER or local[N]
    store_timeout: float = STORE_TIMEOUT_S  # then the sweep stops as after Ctrl-C
    quiet: bool = False  # no console lines during a trial


@dataclass(frozen=True)
class SweepResult:
    experiment_id: str
    parent_run_id: str
    objective: str
    trials: tuple[TrialSummary, ...] = field(default_factory=tuple)
    model_version: str | None = None  # of the registered model: the selected configuration
    ended_by: str = ENDED_MAX_EVALS  # why no more trials ran (see ENDINGS)
    repeats_owed: int = 0  # runs the repeats still owed when the time budget ran out
    epochs_possible: int = 0  # the most epochs the sweep could have trained

    @property
    def epochs_trained(self) -> int:
        """The epochs its runs trained (early stopping and pruning: fewer than planned)."""
        return sum(t.epochs_run or 0 for t in self.trials)

    @property
    def finished(self) -> tuple[TrialSummary, ...]:
        return tuple(t for t in self.trials if t.status == STATUS_OK)

    @property
    def n_failed(self) -> int:
        return len(self.trials) - len(self.finished)

    @property
    def selected(self) -> tuple[TrialSummary, ...]:
        """The finished runs of the selected configuration: the one with the highest mean
        validation accuracy over its runs (the test set never takes part)."""
        complete = [t for t in self.finished if t.complete]  # (a pruned run is never chosen)
        cid = selection.best((t.config_id, t.val_accuracy) for t in complete)
        return tuple(t for t in complete if t.config_id == cid)

    @property
    def best(self) -> TrialSummary | None:
        """The run that stands for the selected configuration (its model is logged): the
        one of its runs with the highest validation accuracy."""
        runs = self.selected
        return max(runs, key=lambda t: t.val_accuracy or 0.0) if runs else None


@dataclass
class _Sweep:
    """One sweep being run: its state on disk and where its files go."""

    state: resume.SweepState
    resumed: bool
    path: Path  # the state file
    scratch: Path  # the trials' weights until the sweep ends
    experiment_id: str
    ended_by: str = ENDED_MAX_EVALS  # set by the search when something else ended it
    repeats_owed: int = 0

    def save(self, trials: Any) -> None:
        resume.save(self.path, dataclasses.replace(self.state, trials=trials))


def no_progress_stop(patience: int):
    """Hyperopt ``early_stop_fn``: stop after ``patience`` finished trials without a new best.

    Looks only at finished trials (a running trial has no loss yet), and keeps no state of
    its own, so it is right after a resume too.
    """

    def stop(trials: Any, *_: Any) -> tuple[bool, list[Any]]:
        losses = [
            t["result"]["loss"]
            for t in trials.trials
            if t["result"].get("status") == STATUS_OK and "loss" in t["result"]
        ]
        if len(losses) <= patience:
            return False, []
        best_at = int(np.argmin(losses))
        return len(losses) - 1 - best_at >= patience, []

    return stop


def _after_each_trial(save: Any, stop: Any, graceful: GracefulStop | None):
    """An ``early_stop_fn``: save the state, stop if asked to, then ask the stopping rule."""

    def fn(trials: Any, *args: Any) -> tuple[bool, list[Any]]:
        save()
        if graceful is not None:
            graceful.check("between trials")
        return stop(trials, *args) if stop else (False, [])

    return fn


def _algo(config: ExperimentConfig) -> Any:
    from hyperopt import anneal, rand, tpe

    if config.sweep.algo == "grid":
        return _grid(grid_points(config))
    return {"tpe": tpe.suggest, "random": rand.suggest, "anneal": anneal.suggest}[
        config.sweep.algo
    ]


def _grid(points: list[dict[str, int]]) -> Any:
    """A Hyperopt algorithm that proposes the grid's points, the least-run first (ties in
    grid order): every combination once, then every combination again, and so on."""
    from hyperopt.fmin import generate_trial

    def key(point: dict[str, int]) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(point.items()))

    def suggest(new_ids: list[int], domain: Any, trials: Any, seed: int) -> list[Any]:
        counts = Counter(
            key({k: int(v[0]) for k, v in doc["misc"]["vals"].items() if v})
            for doc in trials.trials
        )
        docs = []
        for tid in new_ids:
            point = min(points, key=lambda p: counts[key(p)])  # the first of the least-run
            counts[key(point)] += 1
            docs.append(generate_trial(tid, point))
        return docs

    return suggest


def _starts(config: ExperimentConfig, trials: Any, rerun: list[Any]) -> list[dict[str, Any]]:
    """The ``sweep.start_with`` points not proposed yet, as trial documents: the first
    trials of a sweep are its starting points, so a resumed sweep that has evaluated k
    trials (and has ``rerun`` to run again) owes the points after those."""
    from hyperopt.fmin import generate_trial

    proposed = resume.n_evaluated(trials) + len(rerun)
    return [generate_trial(0, point) for point in start_points(config)[proposed:]]


def _left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (None: no deadline)."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _search_size(config: ExperimentConfig) -> int:
    """Runs of the search phase: ``max_evals``; for a grid, its size times ``repeats``."""
    s = config.sweep
    return config.grid_size() * s.repeats if s.algo == "grid" else s.max_evals


def _owed_runs(trials: Any, config: ExperimentConfig) -> list[dict[str, Any]]:
    """Trial documents to run again (one per run owed by ``repeats``), as proposals."""
    summaries = summarize(trials)
    counts: dict[str, int] = {}
    first: dict[str, dict[str, Any]] = {}
    for t, doc in zip(summaries, _evaluated(trials), strict=True):
        counts[t.config_id] = counts.get(t.config_id, 0) + 1
        first.setdefault(t.config_id, doc)
    runs = [(t.config_id, t.val_accuracy) for t in summaries if t.complete]
    owed = selection.missing_runs(runs, counts, config.sweep.repeats, config.sweep.repeat_top)
    return [first[cid] for cid in owed]


def _evaluated(trials: Any) -> list[dict[str, Any]]:
    return [t for t in trials.trials if t.get("result", {}).get("status") in (STATUS_OK, "fail")]


def summarize(trials: Any) -> tuple[TrialSummary, ...]:
    """Hyperopt's trials -> one summary per evaluated trial, in order."""
    return tuple(TrialSummary.from_result(t["result"], t["tid"]) for t in _evaluated(trials))


def record_sweep(
    tracker: Tracker, result: SweepResult, config: ExperimentConfig, scratch: Path
) -> str | None:
    """Parent metrics, trials table, optimization history, the best trial's figures and
    model, and the sweep's analysis; returns the registered model's version (None: no
    model logged)."""
    import pandas as pd

    from . import plots

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
    figure = plots.optimization_history(
        history, objective, maximize=objective == M.VAL_ACCURACY, title=config.name
    )
    tracker.log_figure(result.parent_run_id, figure, "optimization_history.png")
    version = None
    if best is not None and best.run_id:
        tags = {M.TAG_BEST_TRIAL: best.run_id, M.TAG_BEST_CONFIG: best.config_id}
        tracker.set_tags(result.parent_run_id, tags)
        log_figures(tracker, best.run_id, f"trial {best.number}")  # (drawn once, here)
        version = _log_best_model(tracker, best, config, scratch)
    _log_analysis(tracker, result, config)  # (after what the sweep is for: its selection)
    return version


def _log_analysis(tracker: Tracker, result: SweepResult, config: ExperimentConfig) -> None:
    """Importance, interactions and cost on the parent run (:mod:`sweep.analysis`). One
    that cannot be drawn is a warning, not a lost sweep (a store that fails is the
    caller's: the sweep resumes and tries again)."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

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
    from .stats import best_so_far

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
    tracker: Tracker, best: TrialSummary, config: ExperimentConfig, scratch: Path
) -> str | None:
    """The selected trial's weights and config as light artifacts of its run, and (unless
    ``sweep.log_model`` is false) the model, registered as the experiment's name with the
    alias ``best``; returns its
    version. A model that cannot be logged is a warning and a tag, not a failed sweep
    (a store that fails is the caller's: the sweep resumes and tries again)."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    checkpoint = scratch / f"{best.run_id}.pt"
    if not checkpoint.is_file():
        logger.warning("no model logged: the selected run's weights are not in {}", scratch)
        return None
    try:
        trained = apply_sample(config, {**best.params, "train.seed": best.seed})
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


def _open(
    tracker: Tracker,
    config: ExperimentConfig,
    yaml_path: str | Path | None,
    path: Path,
    fresh: bool,
) -> _Sweep:
    """The interrupted sweep in the state file ``path`` to resume, the finished one to
    extend, or a new parent run; its state is on disk before this returns, so that a stop
    from here on can be resumed. The sweep's identity is computed here, once."""
    from hyperopt import Trials

    identity = SweepIdentity.of(config)
    experiment_id = tracker.experiment_id(config.name)
    source = str(yaml_path or config.name)
    saved = None if fresh else resume.find_resumable(tracker, identity, path, source)
    if not (fresh or saved or config.sweep.algo == "grid"):  # (a grid has no more to give)
        saved = resume.find_extendable(tracker, identity, path, config.sweep.max_evals)
        if saved is not None:  # the same search, asked for more trials: its parent goes on
            _extend(tracker, saved, path)
    resumed = saved is not None
    if resumed and (tags := prediction_tags(config, yaml_path)):
        tracker.set_tags(saved.parent_run_id, tags)  # (an expect: edited since it started)
    if saved is None:
        parent = _start_parent(tracker, experiment_id, config, identity, yaml_path)
        saved = resume.SweepState(config.name, parent, identity, Trials())
        try:
            resume.save(path, saved)
        except StorageFull:  # never a parent left RUNNING with no state to resume it
            with suppress(Exception):
                tracker.end_run(parent, "FAILED")
            raise
    scratch = resume.prepare_scratch(path, resumed)
    return _Sweep(saved, resumed, path, scratch, experiment_id)


def _extend(tracker: Tracker, saved: resume.SweepState, path: Path) -> None:
    """A finished sweep goes on in its parent run, up to its new number of trials."""
    resume.save(path, saved)
    tracker.reopen_run(saved.parent_run_id)
    tags = {M.TAG_EXTENDED_TO: str(saved.max_evals)}
    tags[M.TAG_SETUP_HASH] = saved.identity.setup  # (max_evals is part of it)
    tracker.set_tags(saved.parent_run_id, tags)
    done = resume.n_evaluated(saved.trials)
    logger.info(
        "extending sweep {}: {} runs done, {} more trial(s) to search",
        saved.parent_run_id,
        done,
        saved.search_until - done,
    )


def prediction_tags(config: ExperimentConfig, yaml_path: str | Path | None) -> dict[str, str]:
    """What the findings judge a sweep by: its file's ``expect:`` and the budget the file
    itself sets (set when the sweep starts, and again when it resumes or is extended)."""
    tags = {}
    if config.expect is not None:
        tags[M.TAG_EXPECT] = config.expect.model_dump_json(exclude_none=True)
    if yaml_path is not None and (budget := file_budget(yaml_path)):
        tags[M.TAG_FILE_BUDGET] = budget
    return tags


def _start_parent(
    tracker: Tracker,
    experiment_id: str,
    config: ExperimentConfig,
    identity: SweepIdentity,
    yaml_path: str | Path | None,
) -> str:
    """A new parent run, tagged with its file, the file's hash, the setup's hash (what
    pools it with other sweeps in a report) and the git commit."""
    tags = {**source_tags(yaml_path), M.TAG_ROLE: "sweep"}
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
        tracker.end_run(parent, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    return parent


def run_sweep(
    config: ExperimentConfig,
    yaml_path: str | Path | None = None,
    options: RunOptions | None = None,
    stop: GracefulStop | None = None,
) -> SweepResult:
    """Run one sweep, or resume an interrupted one: a parent run, ``max_evals`` trials, a
    summary. Raises :class:`SweepInterrupted` on Ctrl-C/SIGTERM (``stop``: the caller's
    flag, whose signal handlers it installed; by default one installed here)."""
    from .data import load_source

    options = options or RunOptions()
    stop = stop or GracefulStop()
    source = str(yaml_path or config.name)
    with (
        stop.handling_signals(),
        resume.claim(options.tracking_uri, config.name, source, options.fresh) as path,
    ):
        # fail on missing or broken data, or an unusable backend, before any run exists
        load_source(options.data_dir, options.data_pickle, options.allow_pickle)
        backend = make_backend(config.sweep, options.spark_master, options.tracking_uri)
        stop.check("while starting")
        tracker = Tracker(options.tracking_uri, options.store_timeout, stop.is_set)
        sweep = _open(tracker, config, yaml_path, path, options.fresh)
        status = "FAILED"
        try:
            stop.check("while starting")
            rerun = resume.reopen(tracker, sweep.state) if sweep.resumed else []
            if not sweep.resumed:
                logger.info(
                    "sweep {} | experiment {} | parent run {}",
                    config.name,
                    sweep.experiment_id,
                    sweep.state.parent_run_id,
                )
            trials = _search(config, options, backend, tracker, sweep, rerun, stop)
            result = _result(config, sweep, trials)
            version = record_sweep(tracker, result, config, sweep.scratch)
            stop.check("while writing the summary")
            status = "FINISHED" if result.finished else "FAILED"
            if sweep.ended_by == ENDED_BUDGET:  # summarised, and the same command goes on
                status = "KILLED"  # (its state kept: resumed like an interrupted sweep)
            else:
                done = dataclasses.replace(sweep.state, trials=backend.snapshot(trials))
                resume.finish(sweep.path, done, config.sweep.max_evals)  # nothing to resume
            return dataclasses.replace(result, model_version=version)
        except StoreLost:
            status = "KILLED"  # not recorded: the store is gone; a resumed sweep marks it
            tracker.lost = True  # (a trial's own client may have found out first)
            raise
        except KeyboardInterrupt as exc:
            status = "KILLED"
            ended = ENDED_BUDGET if stop.reason == ENDED_BUDGET else ENDED_INTERRUPTED
            tracker.set_tags(sweep.state.parent_run_id, {M.TAG_ENDED_BY: ended})
            raise SweepInterrupted(str(exc) or "interrupted") from None
        finally:
            if not tracker.lost:
                tracker.end_run(sweep.state.parent_run_id, status)
            if not sweep.path.exists():  # complete: no resume will want the weights
                shutil.rmtree(sweep.scratch, ignore_errors=True)


def _result(config: ExperimentConfig, sweep: _Sweep, trials: Any) -> SweepResult:
    return SweepResult(
        sweep.experiment_id,
        sweep.state.parent_run_id,
        config.sweep.objective,
        summarize(trials),
        ended_by=sweep.ended_by,
        repeats_owed=sweep.repeats_owed,
        epochs_possible=most_epochs(config, sweep.state)[0],
    )


def _context(options: RunOptions, backend: Backend, sweep: _Sweep) -> TrialContext:
    return TrialContext(
        tracking_uri=options.tracking_uri,
        experiment_id=sweep.experiment_id,
        parent_run_id=sweep.state.parent_run_id,
        data_dir=options.data_dir,
        scratch_dir=str(sweep.scratch),
        data_pickle=options.data_pickle,
        allow_pickle=options.allow_pickle,
        threads=backend.threads,
        store_timeout=options.store_timeout,
        quiet=options.quiet,
    )


def train_images(config: ExperimentConfig) -> int:
    """Training images per epoch (:func:`data.training_images`)."""
    from .data import training_images

    return training_images(config.data.subset, config.data.val_fraction)


def most_epochs(config: ExperimentConfig, state: resume.SweepState) -> tuple[int, int]:
    """The most epochs the sweep may train (every search trial and every repeat owed at
    their full epochs) and the most one trial may train."""
    s = config.sweep
    epochs = config.search.get("train.epochs")
    per_trial = max(int(v) for v in epochs.extremes()) if epochs else config.train.epochs
    runs = state.search_until or _search_size(config)
    if s.algo != "grid":
        runs += s.repeat_top * (s.repeats - 1)
    return runs * per_trial, per_trial


def _announce(config: ExperimentConfig, most: int) -> None:
    images = train_images(config)
    pruned = (
        ", fewer where trials stop early or are pruned"
        if config.sweep.pruner.kind != "none"
        else ""
    )
    logger.info(
        "at most {:,} epochs of {:,} images ({:.2f}M images{})",
        most,
        images,
        most * images / 1e6,
        pruned or (", fewer where trials stop early" if config.train.early_stopping else ""),
    )


@contextmanager
def _budget_timer(seconds: float | None, stop: GracefulStop) -> Iterator[None]:
    """With ``seconds``, ask the sweep to stop when they have passed, as Ctrl-C does: the
    running trial stops after its epoch (``time_budget_grace: epoch``)."""
    if seconds is None:
        yield
        return

    def expire() -> None:
        logger.warning("time budget reached: the running trial stops after its epoch")
        stop.request(ENDED_BUDGET)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _noting(rule: Any, sweep: _Sweep) -> Any:
    """The no-progress rule, noting on the sweep when it ends the search."""

    def fn(trials: Any, *args: Any) -> tuple[bool, list[Any]]:
        done, extra = rule(trials, *args)
        if done:
            sweep.ended_by = ENDED_NO_PROGRESS
        return done, extra

    return fn


def _search(
    config: ExperimentConfig,
    options: RunOptions,
    backend: Backend,
    tracker: Tracker,
    sweep: _Sweep,
    rerun: list[dict[str, Any]],
    stop: GracefulStop,
) -> Any:
    """The search (``max_evals`` trials, or the grid), then the repeats it owes; returns
    the trials object. Notes on ``sweep`` why it ended."""
    s = config.sweep
    trials = backend.trials(sweep.state.trials)
    if backend.describe():
        logger.info("{}", backend.describe())
    most, per_trial = most_epochs(config, sweep.state)
    _announce(config, most)
    left = most - per_trial * resume.n_evaluated(trials)
    pace = Pace(left, per_trial) if backend.patient else None  # (parallel trials: no pace)
    phase = _Phase(
        config, options, backend, _context(options, backend, sweep), trials, sweep, stop
    )
    phase.pace = pace
    budget = s.budget_seconds()
    deadline = time.monotonic() + budget if budget else None
    # (trials elsewhere, on Spark, read no stop flag: there the running trials finish)
    grace_epoch = s.time_budget_grace == "epoch" and backend.patient
    with _budget_timer(budget if grace_epoch else None, stop):
        if not sweep.state.searched:  # a sweep resumed in its repeats does not search again
            rule = (
                _noting(no_progress_stop(s.no_progress_stop), sweep)
                if s.no_progress_stop
                else None
            )
            algo = resume.replay_first(_algo(config), rerun + _starts(config, trials, rerun))
            target = sweep.state.search_until or _search_size(config)
            phase.run(algo, target, rule, _left(deadline))
            if resume.n_evaluated(trials) < target and deadline and not _left(deadline):
                sweep.ended_by = ENDED_BUDGET  # (resumed, the search goes on)
            else:
                sweep.state.searched = True
            phase.save()
        if sweep.ended_by != ENDED_BUDGET:
            _repeats(config, phase, trials, sweep, deadline)
    phase.save()
    backend.finish(tracker, trials)
    return trials


def _repeats(
    config: ExperimentConfig, phase: _Phase, trials: Any, sweep: _Sweep, deadline: float | None
) -> None:
    """Repeats can change which configurations are best: until the best have theirs (at
    most ``repeats`` runs of each configuration the search found)."""
    while owed := _owed_runs(trials, config):
        before = len(phase.done())
        if deadline is not None and _left(deadline) <= 0:
            logger.warning("time budget: {} repeat run(s) owed are not run", len(owed))
            sweep.ended_by, sweep.repeats_owed = ENDED_BUDGET, len(owed)
            break
        logger.info("repeats: {} more run(s) of the best configuration(s)", len(owed))
        algo = resume.replay_first(_algo(config), owed)
        phase.run(algo, before + len(owed), None, _left(deadline), prune=False)
        if len(phase.done()) == before:  # nothing could run: do not ask again
            logger.warning("{} repeat run(s) owed could not be run", len(owed))
            break


@dataclass
class _Phase:
    """One ``fmin`` call over the sweep's trials: the search, or the repeats."""

    config: ExperimentConfig
    options: RunOptions
    backend: Backend
    ctx: TrialContext
    trials: Any
    sweep: _Sweep
    stop: GracefulStop
    pace: Pace | None = None  # this machine's seconds per epoch: the ETA (local trials)

    def done(self) -> tuple[TrialSummary, ...]:
        return summarize(self.trials)

    def save(self) -> None:
        self.sweep.save(self.backend.snapshot(self.trials))

    def run(
        self,
        algo: Any,
        max_evals: int,
        rule: Any = None,
        timeout: float | None = None,
        prune: bool = True,
    ):
        from hyperopt import fmin
        from hyperopt.exceptions import AllTrialsFailed

        done = resume.n_evaluated(self.trials)
        if done >= max_evals or (timeout is not None and timeout <= 0):
            return  # (hyperopt refuses a timeout of 0: the budget is spent)
        self.backend.ready(self.trials)
        patient = self.backend.patient
        objective = Objective(
            self.config,
            self.ctx,
            self.backend.first_number(done),
            self.stop.is_set if patient else None,
            seen=(t.config_id for t in self.done()),
            prune=prune,
            pace=self.pace,
        )
        with self.stop.impatient(not patient), suppress(AllTrialsFailed):  # a result, too
            fmin(
                self.backend.wrap(objective, self.save),
                build_space(self.config),
                algo=algo,
                max_evals=max_evals,
                timeout=timeout,
                trials=self.trials,
                # a resumed sweep must not replay the random draws of its first run
                rstate=np.random.default_rng([self.config.sweep.seed, done]),
                early_stop_fn=_after_each_trial(
                    self.save, rule, self.stop if patient else None
                ),  # Spark calls it from another thread: no stop flag there
                show_progressbar=progress(
                    self.options.show_progress, self.config.sweep.objective, self.pace
                ),
            )
        if lost := store_lost(self.trials):
            raise StoreLost(lost)
