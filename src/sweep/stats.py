"""Pure statistics over a runs table (one row per trial, as the report loads it): per
experiment summaries, comparisons against a baseline, the best-so-far rule. No MLflow, no
plotting; every function takes and returns plain values or DataFrames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import metrics as M

STAT_FIELDS = ("n", "mean", "std", "ci_low", "ci_high", "median", "best")


@dataclass(frozen=True)
class Stats:
    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    median: float
    best: float


def describe(values: pd.Series) -> Stats | None:
    """Mean, sample std, 95% t-interval of the mean, median and max; None if empty."""
    from scipy import stats

    v = values.dropna().astype(float).to_numpy()
    if len(v) == 0:
        return None
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if len(v) > 1 else math.nan
    if len(v) > 1:
        half = float(stats.t.ppf(0.975, len(v) - 1) * std / math.sqrt(len(v)))
        low, high = mean - half, mean + half
    else:
        low = high = math.nan
    return Stats(len(v), mean, std, low, high, float(np.median(v)), float(v.max()))


def best_so_far(values: pd.Series, maximize: bool) -> pd.Series:
    """The best value up to each position, in the objective's direction (gaps carried on)."""
    values = values.astype(float)
    best = values.cummax() if maximize else values.cummin()
    return best.ffill()


def budget(group: pd.DataFrame) -> str:
    """The training budget the trials ran under, e.g. '5 ep, 3000 img, cpu'."""

    def values(col: str) -> list[str]:
        if col not in group:
            return ["?"]
        return sorted({str(v) for v in group[col].dropna()}) or ["?"]

    epochs = "/".join(values("params.train.epochs"))
    subset = "/".join(
        v if v not in ("None", "null") else "all" for v in values("params.data.subset")
    )
    device = "/".join(values("params.resolved.device"))
    images = "all images" if subset == "all" else f"{subset} img"
    return f"{epochs} ep, {images}, {device}"


def searched_params(frame: pd.DataFrame) -> list[str]:
    """Param columns that vary within at least one experiment (the searched ones)."""
    cols = [
        c
        for c in frame.columns
        if c.startswith("params.")
        and not c.startswith(("params.resolved.", "params.name", "params.hypothesis"))
    ]
    return [c for c in cols if (frame.groupby("experiment")[c].nunique(dropna=True) > 1).any()]


def short(value: Any) -> str:
    """A param value for a table: floats to 4 significant digits."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(value) if number.is_integer() else f"{number:.4g}"


def summarize(frame: pd.DataFrame, metric: str = M.TEST_ACCURACY) -> pd.DataFrame:
    """One row per experiment: trials, failures, stats of validation and test accuracy,
    the best trial (by ``metric``) and its params, the budget and the training time."""
    varying = searched_params(frame)
    return pd.DataFrame(
        [
            _experiment_row(name, group, metric, varying)
            for name, group in frame.groupby("experiment", sort=False)
        ]
    )


def _experiment_row(
    name: str, group: pd.DataFrame, metric: str, varying: list[str]
) -> dict[str, Any]:
    finished = group[group["status"] == "FINISHED"]
    seconds = group.get(M.TRAIN_SECONDS, pd.Series(dtype=float))
    row: dict[str, Any] = {
        "experiment": name,
        "sweeps": group["parent_run_id"].nunique(),
        "trials": len(group),
        "finished": len(finished),
        "failed": int((group["status"] == "FAILED").sum()),
        "budget": budget(group),
        "train_hours": float(seconds.sum()) / 3600,
    }
    for col, prefix in ((M.BEST_VAL_ACCURACY, "val"), (M.TEST_ACCURACY, "test")):
        s = describe(finished[col]) if col in finished else None
        for f in STAT_FIELDS:
            row[f"{prefix}_{f}"] = getattr(s, f) if s else math.nan
    row["best_run_id"], row["best_params"] = None, ""
    if metric in finished and finished[metric].notna().any():
        best = finished.loc[finished[metric].idxmax()]
        row["best_run_id"] = best["run_id"]
        row["best_params"] = ", ".join(
            f"{c.removeprefix('params.')}={short(best[c])}"
            for c in varying
            if pd.notna(best.get(c)) and group[c].nunique() > 1
        )
    return row


def compare(
    frame: pd.DataFrame, baseline: str, metric: str = M.TEST_ACCURACY, alpha: float = 0.05
) -> pd.DataFrame:
    """Each experiment against ``baseline``: difference in mean ``metric``, Welch's t-test
    p-value, and a verdict that claims a difference only where the data supports it."""
    finished = frame[frame["status"] == "FINISHED"]
    base = finished.loc[finished["experiment"] == baseline, metric].dropna().astype(float)
    rows = []
    for name, group in finished.groupby("experiment", sort=False):
        values = group[metric].dropna().astype(float)
        row: dict[str, Any] = {"experiment": name, "baseline": baseline, "n": len(values)}
        if name == baseline:
            row.update(diff=0.0, p_value=math.nan, verdict="(reference)")
        else:
            row.update(_welch(values, base, alpha))
        rows.append(row)
    return pd.DataFrame(rows)


def _welch(values: pd.Series, base: pd.Series, alpha: float) -> dict[str, Any]:
    from scipy import stats

    if len(values) < 2 or len(base) < 2:
        diff = values.mean() - base.mean() if len(values) and len(base) else math.nan
        return {"diff": diff, "p_value": math.nan, "verdict": "not enough runs"}
    diff = values.mean() - base.mean()
    if values.std() == 0 and base.std() == 0:
        p = 0.0 if diff else 1.0
    else:
        p = float(stats.ttest_ind(values, base, equal_var=False).pvalue)
    verdict = "no detectable difference" if p >= alpha else ("better" if diff > 0 else "worse")
    return {"diff": diff, "p_value": p, "verdict": verdict}
