"""What a sweep's trials came to, as plain values: one :class:`TrialSummary` per evaluated
trial (Hyperopt's result dict is made from it and read back into it) and the sweep's
:class:`SweepResult`, whose selected configuration is the one with the highest mean
validation accuracy over its runs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..names import SweepEnd, TrialStatus
from ._selection import best, config_id

if TYPE_CHECKING:
    from ..train import TrialOutcome


@dataclass(frozen=True)
class TrialSummary:
    """One evaluated trial as the sweep sees it; Hyperopt's result dict is made from it."""

    number: int | None
    status: str  # TrialStatus: "ok" or "fail"
    params: dict[str, Any]
    run_id: str | None
    loss: float | None = None
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    failure: str | None = None
    config_id: str = ""  # selection.config_id of params
    seed: int | None = None  # the training seed of this run
    role: str | None = None  # "trial" or "repeat" (on Spark: set by the driver afterwards)
    pruned: bool = False  # stopped by the pruner: never selected
    epochs_run: int | None = None  # epochs it trained (early stopping and pruning: fewer)

    @property
    def complete(self) -> bool:
        """Finished and not pruned: a run selection may choose."""
        return self.status == TrialStatus.OK and not self.pruned

    def to_result(self) -> dict[str, Any]:
        """Hyperopt's result dict (plain values, so that trials files and Spark carry it)."""
        out = dataclasses.asdict(self) | {"status": str(self.status)}  # (no enums in a pickle)
        out["role"] = None if self.role is None else str(self.role)
        return out if self.loss is not None else {k: v for k, v in out.items() if k != "loss"}

    @classmethod
    def of(
        cls, number: int | None, outcome: TrialOutcome, objective: str, **keys: Any
    ) -> TrialSummary:
        """A finished trial's summary (``keys``: params, run_id, config_id, seed, role)."""
        return cls(
            number,
            TrialStatus.OK,
            loss=outcome.loss(objective),
            val_accuracy=outcome.val_accuracy,
            test_accuracy=outcome.test_accuracy,
            pruned=outcome.pruned_at is not None,
            epochs_run=outcome.epochs_run,
            **keys,
        )

    @classmethod
    def from_result(cls, result: dict[str, Any], tid: int) -> TrialSummary:
        values = {f.name: result.get(f.name) for f in dataclasses.fields(cls)}
        cid = values["config_id"] or config_id(values["params"] or {})
        return cls(**{**values, "number": values["number"] or tid + 1, "config_id": cid})


@dataclass(frozen=True)
class SweepResult:
    experiment_id: str
    parent_run_id: str
    objective: str
    trials: tuple[TrialSummary, ...] = field(default_factory=tuple)
    model_version: str | None = None  # of the registered model: the selected configuration
    ended_by: str = SweepEnd.MAX_EVALS  # why no more trials ran (names.SweepEnd)
    repeats_owed: int = 0  # runs the repeats still owed when the time budget ran out
    epochs_planned: int = 0  # its search and the repeats of the best after the search
    epochs_possible: int = 0  # the most epochs the sweep could have trained

    @property
    def epochs_trained(self) -> int:
        """The epochs its runs trained (early stopping and pruning: fewer than planned)."""
        return sum(t.epochs_run or 0 for t in self.trials)

    @property
    def finished(self) -> tuple[TrialSummary, ...]:
        return tuple(t for t in self.trials if t.status == TrialStatus.OK)

    @property
    def n_failed(self) -> int:
        return len(self.trials) - len(self.finished)

    @property
    def selected(self) -> tuple[TrialSummary, ...]:
        """The finished runs of the selected configuration: the one with the highest mean
        validation accuracy over its runs (the test set never takes part)."""
        complete = [t for t in self.finished if t.complete]  # (a pruned run is never chosen)
        cid = best((t.config_id, t.val_accuracy) for t in complete)
        return tuple(t for t in complete if t.config_id == cid)

    @property
    def best(self) -> TrialSummary | None:
        """The run that stands for the selected configuration (its model is logged): the
        one of its runs with the highest validation accuracy."""
        runs = self.selected
        return max(runs, key=lambda t: t.val_accuracy or 0.0) if runs else None
