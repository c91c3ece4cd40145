"""The samplers a sweep proposes its trials with, all of one kind: a Hyperopt algorithm
(``suggest(new_ids, domain, trials, seed)``). Hyperopt's own (TPE, random, annealing), the
grid's (every combination, the least-run first), the starting points (``sweep.start_with``,
as trial documents ahead of the search) and the replay of the trials an interruption cut
off, which wraps any of the others."""

from __future__ import annotations

import copy
from collections import Counter
from functools import partial
from typing import Any

from hyperopt import JOB_STATE_NEW, Trials, anneal, rand, tpe
from hyperopt.fmin import generate_trial

from ..config import ExperimentConfig
from ._space import grid_points, start_points
from ._state import n_evaluated


def algorithm(config: ExperimentConfig) -> Any:
    if config.sweep.algo == "grid":
        return grid(grid_points(config))
    if config.sweep.algo == "tpe":
        return partial(tpe.suggest, n_startup_jobs=config.sweep.tpe_startup)
    return {"random": rand.suggest, "anneal": anneal.suggest}[config.sweep.algo]


def grid(points: list[dict[str, int]]) -> Any:
    """A Hyperopt algorithm that proposes the grid's points, the least-run first (ties in
    grid order): every combination once, then every combination again, and so on."""

    def key(point: dict[str, int]) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(point.items()))

    def suggest(new_ids: list[int], domain: Any, trials: Trials, seed: int) -> list[Any]:
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


def starting_points(
    config: ExperimentConfig, trials: Trials, rerun: list[Any]
) -> list[dict[str, Any]]:
    """The ``sweep.start_with`` points not proposed yet, as trial documents: the first
    trials of a sweep are its starting points, so a resumed sweep that has evaluated k
    trials (and has ``rerun`` to run again) owes the points after those."""

    proposed = n_evaluated(trials) + len(rerun)
    return [generate_trial(0, point) for point in start_points(config)[proposed:]]


def replay_first(algo: Any, pending: list[dict[str, Any]]) -> Any:
    """A Hyperopt algorithm that first proposes ``pending`` trials again (those cut off by
    an interruption, same parameters, new ids), then asks ``algo``."""
    queue = list(pending)

    def suggest(new_ids: list[int], domain: Any, trials: Trials, seed: int) -> list[Any]:
        if not queue:
            return algo(new_ids, domain, trials, seed)
        return [relabel(queue.pop(0), tid) for tid in new_ids[: len(queue)]]

    return suggest


def relabel(doc: dict[str, Any], tid: int) -> dict[str, Any]:
    """A copy of a trial document as a new, not yet evaluated trial with id ``tid``."""
    doc = copy.deepcopy(doc)
    doc.update(
        state=JOB_STATE_NEW,
        tid=tid,
        result={"status": "new"},
        book_time=None,
        refresh_time=None,
        owner=None,
    )
    doc["misc"]["tid"] = tid
    doc["misc"]["idxs"] = {k: [tid] if v else [] for k, v in doc["misc"]["idxs"].items()}
    return doc
