"""One trial of a sweep: :func:`run_trial` opens its run (:class:`sweep.record.TrialRun`),
trains it (:func:`sweep.train.train_trial`, with the pruner and the checkpoint), and turns
whatever happened (finished, pruned, failed, interrupted, the store or the disk lost) into
the run's end and Hyperopt's result, made from one :class:`TrialSummary`. :class:`Objective`
is what ``fmin`` calls.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from loguru import logger

from .. import names as M
from ..analysis import REPEAT, TRIAL, TrialSummary, config_id, trial_seed
from ..config import ExperimentConfig
from ..console import EpochLines, Pace, describe_params
from ..names import STORE_TIMEOUT_S, RunStatus, TrialStatus
from ..record import Tracker, TrialRun, system_metrics
from ..signals import SweepInterrupted
from ..train import (
    EVAL_PRECISION,
    DataPlace,
    TrialCheckpoint,
    TrialOutcome,
    cpu_model,
    cpu_runs_bf16,
    place_trial,
    save_weights,
    train_trial,
)
from ._backends import trial_device
from ._pruning import Siblings, applies, should_prune
from ._space import apply_sample, trial_params

STATUS_OK, STATUS_FAIL = TrialStatus.OK, TrialStatus.FAIL  # Hyperopt's own status strings


@dataclass(frozen=True)
class TrialContext:
    """Everything a trial needs besides its config; small and picklable (for workers)."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    data_dir: str | None
    scratch_dir: str
    data_pickle: str | None = None
    allow_pickle: bool = False
    threads: int | None = None  # torch threads per trial (cores / parallel trials)
    store_timeout: float = STORE_TIMEOUT_S  # seconds to wait for a store that went quiet
    quiet: bool = False  # no console lines during a trial

    @property
    def place(self) -> DataPlace:
        """Where the trial's data is, for :func:`sweep.train.train_trial`."""
        return DataPlace(self.data_dir, self.data_pickle, self.allow_pickle, self.threads)


def _pruning(
    config: ExperimentConfig, tracker: Tracker, ctx: TrialContext, run_id: str, cid: str
) -> Callable[[int, dict[str, float]], bool] | None:
    """The pruning check of trial run ``run_id``, asking the store about its siblings."""
    objective = config.sweep.objective
    siblings = Siblings(tracker, ctx.experiment_id, ctx.parent_run_id, run_id, objective)
    return _pruner(config, siblings, cid)


def _pruner(
    config: ExperimentConfig, siblings: Siblings, cid: str
) -> Callable[[int, dict[str, float]], bool] | None:
    """The trial's pruning check: its objective at an epoch against the sweep's other
    trials at that epoch, read from the store (so trials elsewhere count too). A run of a
    configuration the sweep has run before is a repeat and never pruned (on Spark, where
    the driver marks repeats afterwards, the store says so)."""
    rule, objective = config.sweep.pruner, config.sweep.objective
    if rule.kind == "none":
        return None
    sign = 1.0 if objective == M.VAL_ACCURACY else -1.0  # higher is better for the rules
    repeat: list[bool] = []  # (asked once, where the rule first applies)

    def check(epoch: int, values: dict[str, float]) -> bool:
        if not applies(epoch, rule):
            return False
        if not repeat:
            repeat.append(siblings.has_config(cid))
        if repeat[0]:
            return False
        others = siblings.values_at(epoch)
        return should_prune(sign * values[objective], [sign * v for v in others], epoch, rule)

    return check


def run_trial(
    config: ExperimentConfig,
    sample: dict[str, Any],
    number: int | None,
    ctx: TrialContext,
    should_stop: Callable[[], bool] | None = None,
    role: str | None = None,
    prune: bool = True,
    pace: Pace | None = None,
) -> dict[str, Any]:
    """One sampled config as a nested run: start it, train, record, end it. A failure
    (divergence, an exception) becomes ``STATUS_FAIL``, not a crash. ``prune``: false for
    the runs owed to the best configurations. ``pace``: the sweep's, told each epoch."""
    params, cid, seed = _trial_keys(sample, config.train.seed, number)
    tracker = Tracker(ctx.tracking_uri, ctx.store_timeout, should_stop)
    label = str(number) if number else uuid.uuid4().hex[:6]
    ckpt = TrialCheckpoint.of(ctx.scratch_dir, number, cid, seed)
    where = (ctx.experiment_id, ctx.parent_run_id)
    run = TrialRun.start_or_continue(tracker, *where, label, role, ckpt)
    watch = config.sweep.system_metrics
    monitor = system_metrics(tracker, run.run_id, run.saved) if watch else None
    status = RunStatus.FAILED
    keys = {"params": params, "run_id": run.run_id, "config_id": cid, "seed": seed, "role": role}
    try:  # (a sampled combination the config refuses is a failed trial too)
        trial = apply_sample(config, {**sample, "train.seed": seed})
        requested = trial_device(trial.train.device)
        device, precision = place_trial(requested, trial.train.precision, ctx.threads)
        run.params({**trial.fixed_params(), **_resolved(device.type, precision)})
        prunes = prune and role != REPEAT
        pruner = _pruning(config, tracker, ctx, run.run_id, cid) if prunes else None
        outcome = train_trial(
            trial,
            ctx.place,
            device,
            on_epoch=_on_epoch(run, EpochLines(label, quiet=ctx.quiet), pace),
            should_stop=should_stop,
            should_prune=pruner,
            checkpoint=ckpt.saver(run.run_id),
            resume_from=run.saved,
        )
        run.finished(outcome, f"trial {label}", config.sweep.trial_figures)
        save_weights(outcome, Path(ctx.scratch_dir) / f"{run.run_id}.pt")
        status = RunStatus.FINISHED
        summary = TrialSummary.of(number, outcome, config.sweep.objective, **keys)
        _log_finished(label, summary, outcome)
        return summary.to_result()
    except KeyboardInterrupt as exc:  # SweepInterrupted too: the trial goes on when resumed
        status = RunStatus.KILLED
        run.interrupted(ckpt, exc)
        raise
    except Exception as exc:  # a failed trial is recorded; the sweep goes on
        status = RunStatus.FAILED  # (a full disk instead: nothing is written, it goes on)
        reason = run.failed(label, exc)
        return TrialSummary(number, STATUS_FAIL, failure=reason, **keys).to_result()
    finally:
        if monitor is not None and not tracker.lost:
            monitor.finish()  # (its last sample logged while the run is open)
        run.end(status)
        if status != RunStatus.KILLED and not tracker.lost:
            ckpt.remove()


def _on_epoch(run: TrialRun, lines: EpochLines, pace: Pace | None) -> Callable[..., None]:
    """``fit``'s callback: the epoch into the trial's run, now and then a console line, and
    the epoch's time into the sweep's pace (for its estimate)."""

    def on_epoch(epoch: int, values: dict[str, float]) -> None:
        run.epoch(epoch, values)
        lines(epoch, values)
        if pace is not None:
            pace.epoch()

    return on_epoch


def _resolved(device: str, precision: str) -> dict[str, str]:
    """The params that say where and how a trial computed: the device and precisions, and
    the machine (its CPU, whether that CPU runs bf16 natively, the torch version), which a
    run's speed and the precision ``auto`` picks depend on."""
    return {
        "resolved.device": device,
        "resolved.precision": precision,  # of training and its per-epoch figures
        "resolved.eval_precision": EVAL_PRECISION,  # of the final figures
        "resolved.cpu": cpu_model(),
        "resolved.cpu_bf16": str(cpu_runs_bf16()),
        "resolved.torch": torch.__version__,
    }


def _trial_keys(sample: dict[str, Any], seed_base: int, number: int | None) -> tuple[Any, ...]:
    """The trial's searched values, its config id and its seed. On a parallel backend the
    number is given afterwards, by the driver: the seed then gets a random offset instead."""
    params = trial_params(sample)
    seed = trial_seed(seed_base, number or secrets.randbelow(2**31) + 1)
    return params, config_id(params), seed


def _log_finished(label: str, summary: TrialSummary, outcome: TrialOutcome) -> None:
    again = " (repeat)" if summary.role == REPEAT else ""
    pruned = " (pruned)" if summary.pruned else ""
    logger.info(
        "trial {:>3} | {} | config {}{} seed {} | val_acc {:.4f} | test_acc {:.4f} | "
        "{} epochs{} in {:.0f}s",
        label,
        describe_params(summary.params),
        summary.config_id,
        again,
        summary.seed,
        outcome.val_accuracy,
        outcome.test_accuracy,
        outcome.epochs_run,
        pruned,
        outcome.train_seconds,
    )


class Objective:
    """The callable handed to ``fmin``: numbers trials and runs :func:`run_trial`.

    It holds only a frozen config, a small context and (locally) the stop flag's reader,
    so that on a parallel backend it pickles cheaply for remote workers.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        ctx: TrialContext,
        first_number: int | None = 1,
        should_stop: Callable[[], bool] | None = None,
        seen: Iterable[str] = (),
        prune: bool = True,
        pace: Pace | None = None,
    ):
        self.config = config
        self.ctx = ctx
        self.should_stop = should_stop
        self.prune = prune  # false: the runs owed to the best configurations
        self.pace = pace  # this machine's seconds per epoch (local trials only)
        # numbered in call order in one process; None where copies run in parallel (Spark)
        self._numbers = itertools.count(first_number) if first_number else None
        self._seen = set(seen)  # config ids this sweep has run (in one process)

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        if self.should_stop is not None and self.should_stop():
            raise SweepInterrupted("stopped before the next trial")
        if self._numbers is None:  # parallel copies: the driver numbers and labels them
            return run_trial(
                self.config, sample, None, self.ctx, self.should_stop, prune=self.prune
            )
        cid = config_id(trial_params(sample))
        role = REPEAT if cid in self._seen else TRIAL
        self._seen.add(cid)
        number = next(self._numbers)
        if self.pace is not None:
            self.pace.trial_started()
        args = (self.should_stop, role, self.prune, self.pace)
        result = run_trial(self.config, sample, number, self.ctx, *args)
        if self.pace is not None:
            self.pace.trial_ended()
        return result
