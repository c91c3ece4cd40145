"""An open sweep's two phases: the search (``max_evals`` trials, or the grid, with its
stopping rules and its time budget) and the repeats it owes its best configurations, each
one ``fmin`` call over the sweep's Hyperopt trials (:class:`SweepSession`); and the counts
both need (runs owed, the most epochs left)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from hyperopt import Trials, fmin
from hyperopt.exceptions import AllTrialsFailed
from loguru import logger

from ..analysis import TrialSummary, missing_runs
from ..config import ExperimentConfig
from ..console import Pace, progress
from ..names import DEFAULT_TRACKING_URI, STORE_TIMEOUT_S, SweepEnd, TrialStatus
from ..record import Tracker
from ..signals import GracefulStop, StoreLost
from ..train import training_images
from . import _state as resume
from ._backends import Backend, store_lost
from ._samplers import algorithm, replay_first, starting_points
from ._space import build_space
from ._trial import Objective, TrialContext


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


@dataclass
class OpenSweep:
    """One sweep being run: its state on disk and where its files go."""

    state: resume.SweepState
    resumed: bool
    path: Path  # the state file
    scratch: Path  # the trials' weights until the sweep ends
    experiment_id: str
    ended_by: str = SweepEnd.MAX_EVALS  # set by the search when something else ended it
    repeats_owed: int = 0

    def save(self, trials: Trials) -> None:
        resume.save(self.path, dataclasses.replace(self.state, trials=trials))


def no_progress_stop(patience: int):
    """Hyperopt ``early_stop_fn``: stop after ``patience`` finished trials without a new best.

    Looks only at finished trials (a running trial has no loss yet), and keeps no state of
    its own, so it is right after a resume too.
    """

    def stop(trials: Trials, *_: Any) -> tuple[bool, list[Any]]:
        losses = [
            t["result"]["loss"]
            for t in trials.trials
            if t["result"].get("status") == TrialStatus.OK and "loss" in t["result"]
        ]
        if len(losses) <= patience:
            return False, []
        best_at = int(np.argmin(losses))
        return len(losses) - 1 - best_at >= patience, []

    return stop


def _after_each_trial(save: Any, stop: Any, graceful: GracefulStop | None):
    """An ``early_stop_fn``: save the state, stop if asked to, then ask the stopping rule."""

    def fn(trials: Trials, *args: Any) -> tuple[bool, list[Any]]:
        save()
        if graceful is not None:
            graceful.check("between trials")
        return stop(trials, *args) if stop else (False, [])

    return fn


def _left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (None: no deadline)."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _search_size(config: ExperimentConfig) -> int:
    """Runs of the search phase: ``max_evals``; for a grid, its size times ``repeats``."""
    s = config.sweep
    return config.grid_size() * s.repeats if s.algo == "grid" else s.max_evals


def _owed_runs(trials: Trials, config: ExperimentConfig) -> list[dict[str, Any]]:
    """Trial documents to run again (one per run owed by ``repeats``), as proposals."""
    summaries = summarize(trials)
    counts: dict[str, int] = {}
    first: dict[str, dict[str, Any]] = {}
    for t, doc in zip(summaries, _evaluated(trials), strict=True):
        counts[t.config_id] = counts.get(t.config_id, 0) + 1
        first.setdefault(t.config_id, doc)
    runs = [(t.config_id, t.val_accuracy) for t in summaries if t.complete]
    owed = missing_runs(runs, counts, config.sweep.repeats, config.sweep.repeat_top)
    return [first[cid] for cid in owed]


def _evaluated(trials: Trials) -> list[dict[str, Any]]:
    return [
        t
        for t in trials.trials
        if t.get("result", {}).get("status") in (TrialStatus.OK, TrialStatus.FAIL)
    ]


def summarize(trials: Trials) -> tuple[TrialSummary, ...]:
    """Hyperopt's trials -> one summary per evaluated trial, in order."""
    return tuple(TrialSummary.from_result(t["result"], t["tid"]) for t in _evaluated(trials))


def _context(options: RunOptions, backend: Backend, sweep: OpenSweep) -> TrialContext:
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

    return training_images(config.data.subset, config.data.val_fraction)


def planned_runs(config: ExperimentConfig, search_until: int | None = None) -> int:
    """The runs a sweep trains when nothing stops it early: its search (``max_evals``, or
    the grid times ``repeats``; ``search_until`` for an extended one) and the repeats it
    owes its best configurations."""
    s = config.sweep
    runs = search_until or _search_size(config)
    return runs if s.algo == "grid" else runs + s.repeat_top * (s.repeats - 1)


class Epochs(NamedTuple):
    """A sweep's epochs when nothing stops it early: ``planned`` (its search and the
    repeats of the configurations best after the search), ``most`` (repeats can move which
    configuration is best, and the new best is owed its repeats too: at most every searched
    configuration ``repeats`` times) and the most one trial trains."""

    planned: int
    most: int
    per_trial: int


def most_epochs(config: ExperimentConfig, state: resume.SweepState) -> Epochs:
    """The sweep's :class:`Epochs`, every run at its full epochs."""
    epochs = config.search.get("train.epochs")
    per_trial = max(int(v) for v in epochs.extremes()) if epochs else config.train.epochs
    s = config.sweep
    searched = state.search_until or _search_size(config)
    most = searched if s.algo == "grid" else searched * s.repeats
    return Epochs(
        planned_runs(config, state.search_until) * per_trial, most * per_trial, per_trial
    )


def _announce(config: ExperimentConfig, epochs: Epochs) -> None:
    images = train_images(config)
    fewer = (
        ", fewer where trials stop early or are pruned"
        if config.sweep.pruner.kind != "none"
        else ", fewer where trials stop early"
        if config.train.early_stopping
        else ""
    )
    more = (
        f"; at most {epochs.most:,} if repeats move which configuration is best"
        if epochs.most > epochs.planned
        else ""
    )
    word = "planned" if more else "at most"
    logger.info(
        "{} {:,} epochs of {:,} images ({:.2f}M images{}){}",
        word,
        epochs.planned,
        images,
        epochs.planned * images / 1e6,
        fewer,
        more,
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
        stop.request(SweepEnd.TIME_BUDGET)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _noting(rule: Any, sweep: OpenSweep) -> Any:
    """The no-progress rule, noting on the sweep when it ends the search."""

    def fn(trials: Trials, *args: Any) -> tuple[bool, list[Any]]:
        done, extra = rule(trials, *args)
        if done:
            sweep.ended_by = SweepEnd.NO_PROGRESS
        return done, extra

    return fn


@dataclass
class SweepSession:
    """One sweep as it runs, made once when it opens: what it runs (``config``), how
    (``options``, the ``backend``), where it records (``tracker``), its state on disk
    (``sweep``), its stop flag and Hyperopt's trials; ``pace``: this machine's seconds per
    epoch, for the estimate (local trials only)."""

    config: ExperimentConfig
    options: RunOptions
    backend: Backend
    tracker: Tracker
    sweep: OpenSweep
    stop: GracefulStop
    trials: Trials
    pace: Pace | None = None

    @property
    def context(self) -> TrialContext:
        """What each trial needs besides its config (small and picklable, for workers)."""
        return _context(self.options, self.backend, self.sweep)

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
    ) -> None:
        """One ``fmin`` call over the sweep's trials (the search, or the repeats) up to
        ``max_evals`` evaluated trials; ``prune``: false for the runs owed to the best."""
        done = resume.n_evaluated(self.trials)
        if done >= max_evals or (timeout is not None and timeout <= 0):
            return  # (hyperopt refuses a timeout of 0: the budget is spent)
        self.backend.ready(self.trials)
        patient = self.backend.patient
        objective = Objective(
            self.config,
            self.context,
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


def run_phases(session: SweepSession, rerun: list[dict[str, Any]]) -> None:
    """The search (``max_evals`` trials, or the grid), then the repeats it owes. Notes on
    the sweep why it ended."""
    config, sweep, trials = session.config, session.sweep, session.trials
    s = config.sweep
    if session.backend.describe():
        logger.info("{}", session.backend.describe())
    epochs = most_epochs(config, sweep.state)
    _announce(config, epochs)
    per_trial = epochs.per_trial
    left = max(0, epochs.planned - per_trial * resume.n_evaluated(trials))
    if session.backend.patient:  # (parallel trials: no pace)
        session.pace = Pace(left, per_trial)
    budget = s.budget_seconds()
    deadline = time.monotonic() + budget if budget else None
    # (trials elsewhere, on Spark, read no stop flag: there the running trials finish)
    grace_epoch = s.time_budget_grace == "epoch" and session.backend.patient
    with _budget_timer(budget if grace_epoch else None, session.stop):
        if not sweep.state.searched:  # a sweep resumed in its repeats does not search again
            rule = (
                _noting(no_progress_stop(s.no_progress_stop), sweep)
                if s.no_progress_stop
                else None
            )
            algo = replay_first(algorithm(config), rerun + starting_points(config, trials, rerun))
            target = sweep.state.search_until or _search_size(config)
            session.run(algo, target, rule, _left(deadline))
            if resume.n_evaluated(trials) < target and deadline and not _left(deadline):
                sweep.ended_by = SweepEnd.TIME_BUDGET  # (resumed, the search goes on)
            else:
                sweep.state.searched = True
            session.save()
        if sweep.ended_by != SweepEnd.TIME_BUDGET:
            _repeats(session, deadline)
    session.save()
    session.backend.finish(session.tracker, trials)


def _repeats(session: SweepSession, deadline: float | None) -> None:
    """Repeats can change which configurations are best: until the best have theirs (at
    most ``repeats`` runs of each configuration the search found)."""
    while owed := _owed_runs(session.trials, session.config):
        before = len(session.done())
        if deadline is not None and _left(deadline) <= 0:
            logger.warning("time budget: {} repeat run(s) owed are not run", len(owed))
            session.sweep.ended_by, session.sweep.repeats_owed = SweepEnd.TIME_BUDGET, len(owed)
            break
        logger.info("repeats: {} more run(s) of the best configuration(s)", len(owed))
        algo = replay_first(algorithm(session.config), owed)
        session.run(algo, before + len(owed), None, _left(deadline), prune=False)
        if len(session.done()) == before:  # nothing could run: do not ask again
            logger.warning("{} repeat run(s) owed could not be run", len(owed))
            break
