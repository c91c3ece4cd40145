"""Configurations, seeds and the one selection rule. A *configuration* is one set of searched
values, named by :func:`config_id`; each of its runs trains with its own seed, so several
runs of one configuration are independent samples of it. The selected configuration is the
one with the highest mean validation accuracy over its finished runs: the test set never
takes part. The sweep (on its trials) and the report (on a store's runs) both use
:func:`rank`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

from ..names import Role

TRIAL, REPEAT = Role.TRIAL, Role.REPEAT  # a configuration's first run, and every later one


def config_id(params: dict[str, Any]) -> str:
    """A short, stable name for one configuration: a hash of its searched values."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def trial_seed(base: int, number: int) -> int:
    """Trial ``number`` trains with ``base + number``: no two runs of a sweep share a seed."""
    return base + number


def base_seed(seed: int, number: int) -> int:
    """The ``train.seed`` with which trial ``number`` trains with ``seed``."""
    return seed - trial_seed(0, number)


def roles(config_ids: Iterable[str]) -> list[str]:
    """For runs in the order they were proposed: ``trial`` for a configuration's first run,
    ``repeat`` for each later one (a duplicate proposal, or a run added by ``repeats``)."""
    seen: set[str] = set()
    out = []
    for cid in config_ids:
        out.append(REPEAT if cid in seen else TRIAL)
        seen.add(cid)
    return out


def rank(runs: Iterable[tuple[str, float | None]]) -> list[tuple[str, float, int]]:
    """``(config_id, val_accuracy)`` of runs (None or NaN: not finished) -> ``(config_id,
    mean val accuracy, finished runs)``, best first; ties keep the first-proposed first."""
    values: dict[str, list[float]] = {}
    for cid, val in runs:
        if val is not None and not math.isnan(val):
            values.setdefault(cid, []).append(float(val))
    ranked = [(cid, sum(v) / len(v), len(v)) for cid, v in values.items()]
    return sorted(ranked, key=lambda r: -r[1])


def best(runs: Iterable[tuple[str, float | None]]) -> str | None:
    """The selected configuration: the highest mean validation accuracy; None if no run
    finished."""
    ranked = rank(runs)
    return ranked[0][0] if ranked else None


def missing_runs(
    runs: list[tuple[str, float | None]], counts: dict[str, int], repeats: int, top: int
) -> list[str]:
    """The runs still owed after the search: each of the ``top`` configurations (by mean
    validation accuracy) is trained until it has ``repeats`` runs (``counts``: the runs it
    has, finished or failed). One config id per run owed, in rank order."""
    owed = []
    for cid, _, _ in rank(runs)[:top]:
        owed += [cid] * max(0, repeats - counts.get(cid, 0))
    return owed
