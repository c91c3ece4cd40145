"""What a trial's child run holds, written from one place: :class:`TrialRun`. Its epochs
(``fit``'s ``on_epoch`` callback, and a resumed trial's history again where the run missed
it), its params, its final figures and evaluation artifacts, and how it ended (finished,
pruned, interrupted, failed) all go through the one object the search opens for the trial.
"""

from __future__ import annotations

import traceback
from typing import Any

from loguru import logger

from .. import names as M
from ..analysis import TRIAL
from ..faults import StorageFull, full_message, storage_problem
from ..names import RunStatus
from ..signals import StoreLost
from ..train import TrialCheckpoint, TrialOutcome
from ._artifacts import log_datasets, log_evaluation
from ._tracker import Tracker

FAILURE_TRACE = "failure.txt"  # a failed trial's full traceback, an artifact of its run
CUT_OFF = (RunStatus.RUNNING, RunStatus.KILLED)  # a run a checkpoint may go on in


class TrialRun:
    """One trial's MLflow run. ``earlier``: the params a run that goes on already has;
    ``saved``: the training state it goes on from (None: a new run)."""

    def __init__(
        self,
        tracker: Tracker,
        run_id: str,
        earlier: dict[str, str] | None = None,
        saved: dict[str, Any] | None = None,
    ) -> None:
        self.tracker = tracker
        self.run_id = run_id
        self.earlier = earlier or {}
        self.saved = saved

    @classmethod
    def start_or_continue(
        cls,
        tracker: Tracker,
        experiment_id: str,
        parent_run_id: str,
        label: str,
        role: str | None,
        ckpt: TrialCheckpoint,
    ) -> TrialRun:
        """The cut-off run the trial's checkpoint names, back to RUNNING, or a new one
        (``label``: the trial's number, or a random label where the driver numbers it)."""
        numbered = ckpt.path is not None
        name = f"trial-{int(label):03d}" if numbered else f"trial-{label}"
        saved = ckpt.load()
        run = tracker.get_run(saved["run_id"]) if saved is not None else None
        if run is not None and _cut_off(run, parent_run_id):
            trial = cls(tracker, saved["run_id"], dict(run.data.params), saved)
            trial._go_on(run, name)
            return trial
        ckpt.remove()  # (another configuration's, or its run is gone)
        tags = {M.TAG_ROLE: role or TRIAL, M.TAG_CONFIG: ckpt.config_id}
        tags |= {M.TAG_TRIAL: label} if numbered else {}
        run_id = tracker.start_run(experiment_id, name, tags, parent_run_id=parent_run_id)
        return cls(tracker, run_id)

    def _go_on(self, run: Any, name: str) -> None:
        """Back to RUNNING, with the epochs its checkpoint has and the run missed."""
        self.tracker.reopen_run(self.run_id)
        logged = self.tracker.metric_steps(self.run_id, M.VAL_ACCURACY)
        for epoch, values in enumerate(self.saved["history"], start=1):
            if epoch not in logged:  # (killed between its checkpoint and its metrics)
                self.epoch(epoch, values)
        self.tracker.set_tags(self.run_id, {M.TAG_RESUMED_FROM: str(self.saved["epoch"])})
        for stale in {M.TAG_FAILURE, M.TAG_PRUNED, M.TAG_PRUNED_AT} & set(run.data.tags):
            self.tracker.delete_tag(self.run_id, stale)  # (set again if so)
        logger.info("{} goes on in run {} after epoch {}", name, self.run_id, self.saved["epoch"])

    def params(self, params: dict[str, Any]) -> None:
        """The trial's params. A run that goes on keeps those it has (MLflow keeps a param's
        first value); where it goes on with another device or precision, the tag
        ``sweep.resumed_on`` says which (its history then matches an uninterrupted run's
        only within that device's tolerance)."""
        earlier = self.earlier
        self.tracker.log_params(self.run_id, {k: v for k, v in params.items() if k not in earlier})
        resolved = [str(params[k]) for k in ("resolved.device", "resolved.precision")]
        before = [earlier.get(k) for k in ("resolved.device", "resolved.precision")]
        if earlier and resolved != before:
            self.tracker.set_tags(self.run_id, {M.TAG_RESUMED_ON: " ".join(resolved)})
            logger.warning(
                "run {} started on {} and goes on with {}",
                self.run_id,
                " ".join(map(str, before)),
                " ".join(resolved),
            )

    def epoch(self, epoch: int, values: dict[str, float]) -> None:
        """One epoch's metrics, at step = epoch (``fit``'s ``on_epoch``)."""
        self.tracker.log_metrics(self.run_id, values, step=epoch)

    def finished(self, outcome: TrialOutcome, title: str, figures: bool = True) -> None:
        """Final metrics and the evaluation artifacts of a finished trial (``figures``:
        drawn too), and where the pruner stopped it, the tags that say so."""
        if outcome.pruned_at is not None:
            tags = {M.TAG_PRUNED: "true", M.TAG_PRUNED_AT: str(outcome.pruned_at)}
            self.tracker.set_tags(self.run_id, tags)
        self.tracker.log_metrics(
            self.run_id,
            {
                M.MODEL_VAL_ACCURACY: outcome.val_accuracy,
                M.BEST_VAL_ACCURACY: outcome.best_val_accuracy,
                M.TEST_ACCURACY: outcome.test_accuracy,
                M.TEST_LOSS: outcome.test_loss,
                M.EPOCHS_RUN: outcome.epochs_run,
                M.BEST_EPOCH: outcome.model_epoch,
                M.TRAIN_SECONDS: outcome.train_seconds,
                M.NUM_PARAMETERS: outcome.num_parameters,
            },
        )
        log_datasets(self.tracker, self.run_id, outcome.data_source, outcome.splits.parts())
        y_test, history = outcome.splits.y_test, outcome.history
        log_evaluation(
            self.tracker, self.run_id, y_test, outcome.predictions, history, title, figures
        )

    def interrupted(self, ckpt: TrialCheckpoint, exc: KeyboardInterrupt) -> None:
        """Say how an interrupted trial goes on. Where the store is lost, nothing more is
        written (the run stays RUNNING: a resumed sweep marks it)."""
        if isinstance(exc, StoreLost):
            self.tracker.lost = True
            return
        goes_on = ckpt.path is not None and ckpt.path.is_file()
        why = "goes on from its last epoch" if goes_on else "runs again"
        self.tracker.set_tags(self.run_id, {M.TAG_FAILURE: f"interrupted; {why} when resumed"})

    def failed(self, label: str, exc: Exception) -> str:
        """A failed trial's reason and traceback; returns the reason. A write refused for
        want of room (a temporary file, say) is no failure of the trial: it stops the sweep
        (:class:`StorageFull`), and the trial runs again when resumed."""
        if problem := storage_problem(exc):
            self.tracker.lost = True
            raise StorageFull(full_message(f"trial {label}", problem)) from None
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("trial {:>3} failed: {}", label, reason)
        self.tracker.set_tags(self.run_id, {M.TAG_FAILURE: reason[:5000]})
        self.tracker.log_text(self.run_id, traceback.format_exc(), FAILURE_TRACE)
        return reason

    def end(self, status: RunStatus) -> None:
        """The run's end, unless the store is lost (it stays RUNNING: resumed later)."""
        if not self.tracker.lost:
            self.tracker.end_run(self.run_id, status)


def _cut_off(run: Any, parent_run_id: str) -> bool:
    """A run of this sweep that did not finish: one a checkpoint may go on in."""
    mine = run.data.tags.get(M.TAG_PARENT) == parent_run_id
    return mine and run.info.status in CUT_OFF
