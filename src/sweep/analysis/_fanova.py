"""fANOVA importance of a sweep's searched parameters (Optuna's evaluator over an
in-memory study of its complete runs). Pure: a runs table in, a table out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution, FloatDistribution

from .. import names as M
from ..names import RunStatus
from ._stats import natural_key

# configurations (with complete runs) below which a forest fits noise, not parameters
MIN_IMPORTANCE_CONFIGS = 10


@dataclass(frozen=True)
class Importance:
    """How much of the objective's variation each searched parameter explains (fANOVA),
    over ``n`` complete runs of ``configurations`` configurations; where there are too
    few, ``table`` is empty and ``reason`` says why."""

    n: int
    configurations: int
    table: pd.DataFrame  # param, importance (fractions summing to 1), values (distinct)
    reason: str | None = None


def importance(
    runs: pd.DataFrame,
    params: list[str],
    specs: dict[str, str] | None = None,
    objective: str = M.VAL_ACCURACY,
    seed: int = 0,
) -> Importance:
    """Optuna's fANOVA (a random forest fitted to parameters -> objective, its variance
    split between the parameters; Hutter et al. 2014) over an in-memory study of the
    complete runs (finished, not pruned) of one sweep, in the order they started.
    ``specs``: each param's search spec as its parent run logged it (``loguniform[...]`` is
    searched on a log scale, ``choice`` as categories); without one a numeric param is a
    number, anything else a category."""

    complete = runs[(runs["status"] == RunStatus.FINISHED) & runs[objective].notna()]
    if "start_time" in complete:  # in the order they ran (the forest's bootstrap sees it)
        complete = complete.sort_values(["start_time", "run_id"])
    n, configs = len(complete), complete["config_id"].nunique()
    empty = pd.DataFrame(columns=["param", "importance", "values"])
    if configs < MIN_IMPORTANCE_CONFIGS:  # (a repeat adds a seed, not a point of the space)
        why = (
            f"too few complete trials to say (n = {n} runs of {configs} configurations; "
            f"at least {MIN_IMPORTANCE_CONFIGS} configurations)"
        )
        return Importance(n, configs, empty, why)
    values = {p: complete[p].astype(str) for p in params if p in complete}
    varied = [p for p, v in values.items() if v.nunique() > 1]
    if not varied:
        return Importance(n, configs, empty, "no searched parameter took two values")
    if complete[objective].astype(float).std() == 0:
        return Importance(n, configs, empty, f"{objective} is the same in every run")
    dists = {p: _distribution(values[p], (specs or {}).get(p)) for p in varied}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for i in range(n):
        point = {p: _point(values[p].iloc[i], dists[p]) for p in varied}
        value = float(complete[objective].iloc[i])
        study.add_trial(optuna.trial.create_trial(params=point, distributions=dists, value=value))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    rows = [
        {"param": p, "importance": float(v), "values": values[p].nunique()}
        for p, v in found.items()
    ]
    return Importance(n, configs, pd.DataFrame(rows, columns=empty.columns))


def _distribution(values: pd.Series, spec: str | None) -> Any:
    kind = spec.split("[", 1)[0] if spec else None
    numbers = pd.to_numeric(values, errors="coerce")
    if kind == "choice" or numbers.isna().any() or (kind is None and numbers.nunique() <= 6):
        return CategoricalDistribution(sorted(values.unique(), key=natural_key))
    low, high = float(numbers.min()), float(numbers.max())
    return FloatDistribution(low, high, log=kind == "loguniform" and low > 0)


def _point(value: str, dist: Any) -> Any:
    return value if isinstance(dist, CategoricalDistribution) else float(value)
