"""Cross-trial pruning rules: after each epoch a trial compares its validation accuracy
with the sweep's other trials at the same epoch and stops when it is clearly behind.

Only the rules live here (pure functions of numbers); where the other trials' values come
from (the store, so that trials on other processes or machines count) is the trial's
business (:mod:`sweep.trial`).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from .config import PrunerConfig


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
