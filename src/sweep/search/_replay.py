"""Searches replayed against a table of learning curves (a tabular benchmark, as HPOBench
and LCBench do it): a space's every configuration trained once with a few seeds by an
ordinary sweep, then any number of searches run against the table in seconds. The replay
uses a sweep's own parts, not copies of them: the samplers (:func:`algorithm` over
:func:`build_space`, through Hyperopt's ``fmin``), the pruning check a trial runs after each
epoch (:func:`_pruner`, with the table standing in for the store) and the selection rule
(:func:`best`). Each proposed configuration is answered by one of its table runs, drawn
per trial; its epochs are fed to the pruner one by one and their seconds summed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hyperopt import STATUS_OK, Trials, fmin

from .. import names as M
from ..analysis import best, config_id
from ..config import ExperimentConfig, load_experiment
from ..names import RunStatus
from ._samplers import algorithm
from ._space import build_space, trial_params
from ._trial import _pruner


class TableError(ValueError):
    """A table that cannot be replayed: missing files, or a space it does not cover."""


@dataclass(frozen=True)
class TableRun:
    """One run (one seed) of a configuration, as the table holds it."""

    val: tuple[float, ...]  # validation accuracy after each epoch
    test: float  # held-out test accuracy of the run's model (its last epoch's)
    epoch_seconds: float  # training seconds per epoch (its configuration's median)


@dataclass(frozen=True)
class Table:
    """Every configuration of ``config``'s search space and its runs, by config id."""

    config: ExperimentConfig  # the sweep that trained it: its search block is the space
    runs: Mapping[str, tuple[TableRun, ...]]
    params: Mapping[str, dict[str, Any]]  # config id -> its searched values

    @classmethod
    def load(cls, experiment: str | Path, folder: str | Path) -> Table:
        """The table from the experiment file that trained it and its export (``python -m
        sweep export-results``: ``folder/runs.csv`` and ``folder/epochs.csv``). Only runs
        that finished every epoch count."""
        config = load_experiment(experiment)
        folder = Path(folder)
        try:
            runs = pd.read_csv(folder / "runs.csv", dtype={"config_id": str})
            epochs = pd.read_csv(folder / "epochs.csv")
        except (OSError, pd.errors.ParserError) as exc:
            raise TableError(f"{folder}: no table of runs there ({exc})") from None
        epochs = epochs[epochs["key"] == M.VAL_ACCURACY]
        curves = {rid: g.sort_values("step")["value"] for rid, g in epochs.groupby("run_id")}
        done = runs[runs["status"] == RunStatus.FINISHED]
        keys = list(config.search)
        table: dict[str, list[TableRun]] = {}
        params: dict[str, dict[str, Any]] = {}
        for _, r in done.iterrows():
            curve = curves.get(r["run_id"])
            if curve is None or len(curve) != config.train.epochs:
                continue
            values = {k: _value(r.get(f"params.{k}")) for k in keys}
            cid = str(r["config_id"])
            params[cid] = values
            seconds = float(r[M.TRAIN_SECONDS]) / config.train.epochs
            run = TableRun(tuple(float(v) for v in curve), float(r[M.TEST_ACCURACY]), seconds)
            table.setdefault(cid, []).append(run)
        if not table:
            raise TableError(f"{folder}: no finished run of {config.name} to replay")
        return cls(config, {c: _same_pace(v) for c, v in table.items()}, params)

    @property
    def epochs(self) -> int:
        return self.config.train.epochs

    def mean_val(self, cid: str) -> float:
        """The configuration's mean final validation accuracy over its runs."""
        return float(np.mean([r.val[-1] for r in self.runs[cid]]))

    def mean_test(self, cid: str) -> float:
        """The configuration's mean held-out test accuracy over its runs."""
        return float(np.mean([r.test for r in self.runs[cid]]))

    @property
    def best_val(self) -> float:
        """The best configuration's mean final validation accuracy."""
        return max(self.mean_val(c) for c in self.runs)


def _value(text: Any) -> Any:
    """A logged param read back: JSON where it is JSON (numbers, lists), else the text."""
    try:
        return json.loads(str(text))
    except ValueError:
        return text


def _same_pace(runs: list[TableRun]) -> tuple[TableRun, ...]:
    """A configuration's runs, each at the median of their seconds per epoch: the runs of
    one configuration cost the same, so a run timed while the machine was busy does not
    make its configuration look slow."""
    pace = float(np.median([r.epoch_seconds for r in runs]))
    return tuple(dataclasses.replace(r, epoch_seconds=pace) for r in runs)


@dataclass(frozen=True)
class ReplayTrial:
    """One trial of a replayed search."""

    config_id: str
    seed: int  # which of the configuration's table runs answered it
    epochs: int  # trained (fewer where pruned)
    seconds: float
    val: float  # validation accuracy of its last epoch: what the search saw
    pruned: bool


@dataclass
class _TableSiblings:
    """The replay's trials so far, answering the pruning check's two questions as
    :class:`~sweep.search._pruning.Siblings` answers them from the store."""

    table: Table
    trials: list[ReplayTrial] = field(default_factory=list)

    def values_at(self, step: int) -> list[float]:
        return [self._curve(t)[step - 1] for t in self.trials if t.epochs >= step]

    def has_config(self, cid: str) -> bool:
        return any(t.config_id == cid for t in self.trials)

    def _curve(self, trial: ReplayTrial) -> tuple[float, ...]:
        return self.table.runs[trial.config_id][trial.seed].val


def searching(table: Table, algo: str, pruner: str, **sweep: Any) -> ExperimentConfig:
    """The table's config as a search with ``algo`` and the ``pruner`` kind (the pruner's
    other settings as the table's file has them, else their defaults) and any other
    ``sweep`` keys given (``tpe_startup``)."""
    rule = table.config.sweep.pruner.model_copy(update={"kind": pruner})
    keys = {"algo": algo, "pruner": rule, **sweep}
    return table.config.model_copy(update={"sweep": table.config.sweep.model_copy(update=keys)})


def replay(
    table: Table,
    algo: str,
    pruner: str,
    seed: int,
    budget_epochs: int,
    max_trials: int = 1000,
    **sweep: Any,
) -> list[ReplayTrial]:
    """One search of ``algo`` with ``pruner`` (and the ``sweep`` keys given), seeded with
    ``seed``, against the table until its trials have trained ``budget_epochs`` (or
    ``max_trials`` were proposed)."""
    config = searching(table, algo, pruner, **sweep)
    siblings = _TableSiblings(table)
    draw = np.random.default_rng([seed, 1])  # which run (seed) of a configuration answers

    def objective(sample: dict[str, Any]) -> dict[str, Any]:
        cid = config_id(trial_params(sample))
        if cid not in table.runs:
            raise TableError(f"the table has no run of {trial_params(sample)}")
        k = int(draw.integers(len(table.runs[cid])))
        run = table.runs[cid][k]
        check = _pruner(config, siblings, cid)  # type: ignore[arg-type]  # (the table's)
        epoch = table.epochs  # (the last epoch ends the run: fit() asks for no verdict)
        for e in range(1, table.epochs):
            if check and check(e, {M.VAL_ACCURACY: run.val[e - 1]}):
                epoch = e
                break
        pruned = epoch < table.epochs
        trial = ReplayTrial(cid, k, epoch, epoch * run.epoch_seconds, run.val[epoch - 1], pruned)
        siblings.trials.append(trial)
        return {"status": STATUS_OK, "loss": -trial.val}

    def spent(_: Trials, *args: Any) -> tuple[bool, Any]:
        return sum(t.epochs for t in siblings.trials) >= budget_epochs, args

    fmin(
        objective,
        build_space(config),
        algo=algorithm(config),
        max_evals=max_trials,
        trials=Trials(),
        rstate=np.random.default_rng([seed, 0]),
        early_stop_fn=spent,
        show_progressbar=False,
    )
    return siblings.trials


def selected(trials: Sequence[ReplayTrial]) -> str | None:
    """The configuration the sweep's rule selects from these trials: the highest mean
    validation accuracy over its complete (not pruned) runs."""
    return best((t.config_id, t.val) for t in trials if not t.pruned)


def selected_at(trials: Sequence[ReplayTrial], epochs: float) -> str | None:
    """The selection of the trials that had finished when ``epochs`` had been trained."""
    spent, done = 0, []
    for t in trials:
        spent += t.epochs
        if spent > epochs:
            break
        done.append(t)
    return selected(done)


@dataclass(frozen=True)
class Reached:
    """When a search's selection first came within reach of the table's best."""

    trials: int
    epochs: int
    seconds: float


def reached(trials: Sequence[ReplayTrial], table: Table, within: float) -> Reached | None:
    """The first point after which the configuration the search selects has a mean
    validation accuracy (over the table's runs) within ``within`` of the best
    configuration's; None if it never does."""
    target = table.best_val - within
    epochs, seconds = 0, 0.0
    for k, t in enumerate(trials, 1):
        epochs, seconds = epochs + t.epochs, seconds + t.seconds
        choice = selected(trials[:k])
        if choice is not None and table.mean_val(choice) >= target - 1e-12:
            return Reached(k, epochs, seconds)
    return None
