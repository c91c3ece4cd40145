"""The config's ``search:`` block -> a hyperopt space, and a
sampled point -> a frozen trial config.

This is the only module that imports ``hyperopt.hp``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from hyperopt import hp
from hyperopt.pyll import scope

from ..config import Distribution, ExperimentConfig, same_value, set_dotted


def _quniform(label: str, args: tuple[Any, ...]) -> Any:
    expr = hp.quniform(label, *args)
    return scope.int(expr) if all(isinstance(a, int) for a in args) else expr


# one builder per distribution kind (config.DISTRIBUTIONS); choices sample values, not indices
BUILDERS: dict[str, Callable[[str, tuple[Any, ...]], Any]] = {
    "choice": lambda label, args: hp.choice(label, list(args)),
    "uniform": lambda label, args: hp.uniform(label, *args),
    "loguniform": lambda label, args: hp.loguniform(label, math.log(args[0]), math.log(args[1])),
    "quniform": _quniform,
    "int": lambda label, args: hp.uniformint(label, args[0], args[1]),
}


def dimension(label: str, dist: Distribution) -> Any:
    """One hyperopt expression for one search dimension."""
    return BUILDERS[dist.kind](label, dist.args)


FIXED = "(fixed config)"  # the one dimension of an empty search: Hyperopt needs one


def build_space(config: ExperimentConfig) -> Any:
    """``{"model.filters": hp.choice(...), ...}``: one labelled dimension per search key.
    An empty search is one choice of one empty sample: every trial is the fixed config."""
    if not config.search:
        return hp.choice(FIXED, [{}])
    return {dotted: dimension(dotted, dist) for dotted, dist in config.search.items()}


def _plain(value: Any) -> Any:
    """numpy scalars and tuples from hyperopt -> plain Python values for pydantic/MLflow."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def apply_sample(config: ExperimentConfig, sample: dict[str, Any]) -> ExperimentConfig:
    """The trial config: ``config`` with each sampled dotted key set, re-validated (no
    search, nor the search's starting points: a trial is one configuration)."""
    tree = config.model_dump(mode="python", exclude={"search": True, "sweep": {"start_with"}})
    for dotted, value in sample.items():
        set_dotted(tree, dotted, _plain(value))
    return ExperimentConfig.model_validate(tree)


def trial_params(sample: dict[str, Any]) -> dict[str, Any]:
    """The sampled values as plain Python (for logs and the trials table)."""
    return {k: _plain(v) for k, v in sample.items()}


def start_points(config: ExperimentConfig) -> list[dict[str, Any]]:
    """The ``sweep.start_with`` configurations as Hyperopt writes a point: ``{label:
    value}``, a choice by the index of its option (checked to be in the space at load)."""
    points = []
    for point in config.sweep.start_with:
        vals = {}
        for key, value in point.items():
            dist = config.search[key]
            if dist.kind == "choice":
                vals[key] = next(i for i, a in enumerate(dist.args) if same_value(value, a))
            else:
                vals[key] = value
        points.append(vals)
    return points


def grid_points(config: ExperimentConfig) -> list[dict[str, int]]:
    """Every combination of the (choice) search dimensions, as Hyperopt writes a point:
    ``{label: index of the chosen option}``; one empty point for an empty search."""
    if not config.search:
        return [{FIXED: 0}]
    keys = list(config.search)
    options = [range(len(config.search[k].args)) for k in keys]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*options)]
