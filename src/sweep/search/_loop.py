"""A sweep from start to end. Opens (or resumes, or extends) the
sweep's parent run, runs its phases (``_phases``: the search and the repeats, one trial per
child run) and records its summary. Where trials run is the backend's business (``_backends``),
what is saved to resume it is ``_state``'s.
"""

from __future__ import annotations

import dataclasses
import shutil
from contextlib import suppress
from pathlib import Path
from typing import Any

from hyperopt import Trials
from loguru import logger

from .. import names as M
from ..analysis import SweepResult
from ..config import ExperimentConfig, SweepIdentity
from ..faults import StorageFull
from ..names import RunStatus, SweepEnd
from ..record import Tracker, prediction_tags, record_sweep, start_parent
from ..signals import GracefulStop, StoreLost, SweepInterrupted
from ..train import load_source
from . import _state as resume
from ._backends import make_backend
from ._phases import OpenSweep, RunOptions, SweepSession, most_epochs, run_phases, summarize
from ._space import apply_sample


def _open(
    tracker: Tracker,
    config: ExperimentConfig,
    yaml_path: str | Path | None,
    path: Path,
    fresh: bool,
) -> OpenSweep:
    """The interrupted sweep in the state file ``path`` to resume, the finished one to
    extend, or a new parent run; its state is on disk before this returns, so that a stop
    from here on can be resumed. The sweep's identity is computed here, once."""

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
        parent = start_parent(tracker, experiment_id, config, identity, yaml_path)
        saved = resume.SweepState(config.name, parent, identity, Trials())
        try:
            resume.save(path, saved)
        except StorageFull:  # never a parent left RUNNING with no state to resume it
            with suppress(Exception):
                tracker.end_run(parent, RunStatus.FAILED)
            raise
    scratch = resume.prepare_scratch(path, resumed)
    return OpenSweep(saved, resumed, path, scratch, experiment_id)


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


def run_sweep(
    config: ExperimentConfig,
    yaml_path: str | Path | None = None,
    options: RunOptions | None = None,
    stop: GracefulStop | None = None,
) -> SweepResult:
    """Run one sweep, or resume an interrupted one: a parent run, ``max_evals`` trials, a
    summary. Raises :class:`SweepInterrupted` on Ctrl-C/SIGTERM (``stop``: the caller's
    flag, whose signal handlers it installed; by default one installed here)."""

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
        status = RunStatus.FAILED
        try:
            stop.check("while starting")
            rerun = resume.reopen(tracker, sweep.state) if sweep.resumed else []
            if not sweep.resumed:
                logger.info("sweep {} | experiment {} | parent run {}", *_names(config, sweep))
            session = SweepSession(
                config=config,
                options=options,
                backend=backend,
                tracker=tracker,
                sweep=sweep,
                stop=stop,
                trials=backend.trials(sweep.state.trials),
            )
            result, status = _run_open(session, rerun)
            return result
        except StoreLost:
            status = RunStatus.KILLED  # not recorded: the store is gone; a resumed sweep marks it
            tracker.lost = True  # (a trial's own client may have found out first)
            raise
        except KeyboardInterrupt as exc:
            status = RunStatus.KILLED
            budget = stop.reason == SweepEnd.TIME_BUDGET
            ended = SweepEnd.TIME_BUDGET if budget else SweepEnd.INTERRUPTED
            tracker.set_tags(sweep.state.parent_run_id, {M.TAG_ENDED_BY: ended})
            raise SweepInterrupted(str(exc) or "interrupted") from None
        finally:
            if not tracker.lost:
                tracker.end_run(sweep.state.parent_run_id, status)
            if not sweep.path.exists():  # complete: no resume will want the weights
                shutil.rmtree(sweep.scratch, ignore_errors=True)


def _run_open(session: SweepSession, rerun: list[dict[str, Any]]) -> tuple[SweepResult, RunStatus]:
    """An open sweep's phases, then its summary recorded on its parent run: the result, and
    the status the parent run ends with."""
    config, sweep, trials = session.config, session.sweep, session.trials
    run_phases(session, rerun)
    result = _result(config, sweep, trials)
    trained = _trained(config, result)
    version = record_sweep(session.tracker, result, config, sweep.scratch, trained)
    session.stop.check("while writing the summary")
    status = RunStatus.FINISHED if result.finished else RunStatus.FAILED
    if sweep.ended_by == SweepEnd.TIME_BUDGET:  # summarised, and the same command goes on
        status = RunStatus.KILLED  # (its state kept: resumed like an interrupted sweep)
    else:
        done = dataclasses.replace(sweep.state, trials=session.backend.snapshot(trials))
        resume.finish(sweep.path, done, config.sweep.max_evals)  # nothing to resume
    return dataclasses.replace(result, model_version=version), status


def _names(config: ExperimentConfig, sweep: OpenSweep) -> tuple[str, str, str]:
    return config.name, sweep.experiment_id, sweep.state.parent_run_id


def _trained(config: ExperimentConfig, result: SweepResult) -> ExperimentConfig | None:
    """The selected run's configuration as it trained (its model is logged), or None."""
    best = result.best
    if best is None:
        return None
    return apply_sample(config, {**best.params, "train.seed": best.seed})


def _result(config: ExperimentConfig, sweep: OpenSweep, trials: Trials) -> SweepResult:
    return SweepResult(
        sweep.experiment_id,
        sweep.state.parent_run_id,
        config.sweep.objective,
        summarize(trials),
        ended_by=sweep.ended_by,
        repeats_owed=sweep.repeats_owed,
        epochs_planned=(epochs := most_epochs(config, sweep.state)).planned,
        epochs_possible=epochs.most,
    )
