"""Cross-trial pruning rules: after each epoch a trial compares its validation accuracy
with the sweep's other trials at the same epoch and stops when it is clearly behind.

The rules are pure functions of numbers; :class:`Siblings` asks the store for the other
trials' values (so that trials on other processes or machines count). The trial
(:mod:`sweep.search`) puts the two together after each epoch.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import names as M
from ..config import PrunerConfig
from ..names import RunStatus

if TYPE_CHECKING:
    from ..record import Tracker


def median_rule(value: float, others: Sequence[float], epoch: int, cfg: PrunerConfig) -> bool:
    """The median rule: after the warm-up, stop below the median of the other trials'
    values at this epoch (when at least ``min_trials`` of them reached it). Unlike Optuna's
    MedianPruner, which compares a trial's best value so far with completed trials only,
    it compares this epoch's value with every trial that reached the epoch (pruned and
    running ones too): stricter, and it works before any trial has completed."""
    if epoch <= cfg.warmup_epochs or len(others) < cfg.min_trials:
        return False
    return value < statistics.median(others)


def is_rung(epoch: int, cfg: PrunerConfig) -> bool:
    """Whether ``epoch`` is one of ASHA's rungs: ``min_epochs * eta**k``."""
    rung = cfg.min_epochs
    while rung < epoch:
        rung *= cfg.eta
    return rung == epoch


def asha_rule(value: float, others: Sequence[float], epoch: int, cfg: PrunerConfig) -> bool:
    """Asynchronous successive halving: at a rung, go on only in the best ``1/eta`` of the
    trials that reached it (this one included; at least one goes on)."""
    if not others or not is_rung(epoch, cfg):
        return False
    ranked = sorted([value, *others], reverse=True)
    keep = max(1, len(ranked) // cfg.eta)
    return value < ranked[keep - 1]


def applies(epoch: int, cfg: PrunerConfig) -> bool:
    """Whether the rule can stop a trial at ``epoch`` at all (so that the other trials'
    values are read only where they can matter)."""
    if cfg.kind == "median":
        return epoch > cfg.warmup_epochs
    if cfg.kind == "asha":
        return is_rung(epoch, cfg)
    return False


def should_prune(value: float, others: Sequence[float], epoch: int, cfg: PrunerConfig) -> bool:
    """The configured rule's verdict on a trial at ``epoch`` (higher values are better)."""
    if cfg.kind == "median":
        return median_rule(value, others, epoch, cfg)
    if cfg.kind == "asha":
        return asha_rule(value, others, epoch, cfg)
    return False


@dataclass
class Siblings:
    """The other child runs of ``parent_run_id`` than ``run_id``, as one trial's pruning
    check asks about them: their ``key`` at an epoch, and whether one trained the same
    configuration. A finished run's history (which no longer changes) is read once."""

    tracker: Tracker
    experiment_id: str
    parent_run_id: str
    run_id: str
    key: str
    finished: dict[str, dict[int, float]] = field(default_factory=dict)

    def values_at(self, step: int) -> list[float]:
        """``key`` at ``step`` in each other child run that reached that step (interrupted
        and failed attempts left out). One search per call."""
        parent = f"tags.`{M.TAG_PARENT}` = '{self.parent_run_id}'"
        values = []
        for run in self.tracker.search_runs([self.experiment_id], parent):
            other, status = run.info.run_id, run.info.status
            if other == self.run_id or status in (RunStatus.FAILED, RunStatus.KILLED):
                continue
            if self.key not in run.data.metrics:
                continue
            history = self.finished.get(other)
            if history is None:
                logged = self.tracker.metric_history(other, self.key)
                history = {m.step: m.value for m in sorted(logged, key=lambda m: m.timestamp)}
                if status == RunStatus.FINISHED:
                    self.finished[other] = history
            if step in history:
                values.append(history[step])
        return values

    def has_config(self, config_id: str) -> bool:
        """Whether another child run of the parent trained configuration ``config_id``."""
        query = (
            f"tags.`{M.TAG_PARENT}` = '{self.parent_run_id}' "
            f"and tags.`{M.TAG_CONFIG}` = '{config_id}'"
        )
        runs = self.tracker.search_runs([self.experiment_id], query)
        return any(r.info.run_id != self.run_id for r in runs)
