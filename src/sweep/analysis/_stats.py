"""Pure statistics over a runs table (one row per trial, as the report loads it): per
experiment summaries, comparisons against a baseline, the best-so-far rule. No MLflow, no
plotting; every function takes and returns plain values or DataFrames. Findings against a
file's prediction are in ``_findings``, costs in ``_costs``, fANOVA in ``_fanova``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from .. import names as M
from ..names import RunStatus
from . import _selection as selection

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


def machine(group: pd.DataFrame) -> str:
    """Where the trials ran and in what precision, e.g. 'AMD EPYC (no native bf16), fp32'
    or 'cuda, bf16': on a CPU its model, from the runs that recorded it ('CPU ?' for older
    runs); several values joined by '/'."""

    def distinct(col: str) -> list[str]:
        found = group[col].dropna().astype(str) if col in group else pd.Series(dtype=str)
        return sorted(set(found) - {"", "None", "nan"})

    devices = distinct("params.resolved.device") or ["?"]
    place = "/".join(devices)
    if devices == ["cpu"]:
        place = "/".join(distinct("params.resolved.cpu")) or "CPU ?"
        native = distinct("params.resolved.cpu_bf16")
        place += {"True": " (native bf16)", "False": " (no native bf16)"}.get("/".join(native), "")
    return f"{place}, {'/'.join(distinct('params.resolved.precision')) or '?'}"


def searched_params(frame: pd.DataFrame) -> list[str]:
    """Param columns that vary within at least one experiment (the searched ones)."""
    return [
        c
        for c in _param_columns(frame)
        if (frame.groupby("experiment")[c].nunique(dropna=True) > 1).any()
    ]


def _param_columns(frame: pd.DataFrame) -> list[str]:
    """The config's params, without what differs between runs of one configuration (the
    seed), describes where it ran, or how the search ran (``sweep.``: a time budget that
    differs between two chunks of one sweep is no setting of what trains)."""
    skip = ("params.resolved.", "params.name", "params.hypothesis", "params.train.seed")
    skip += ("params.sweep.",)
    return [c for c in frame.columns if c.startswith("params.") and not c.startswith(skip)]


def short(value: Any) -> str:
    """A param value for a table: floats to 4 significant digits."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(value) if number.is_integer() else f"{number:.4g}"


def mark_selected(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``selected``: the runs of each unit's (sweep's) selected configuration, by the
    sweep's own rule (highest mean validation accuracy; :func:`selection.best`)."""
    frame = frame.copy()
    frame["selected"] = False
    for _, group in frame.groupby("unit", sort=False):
        ok = group[group["status"] == RunStatus.FINISHED]
        cid = selection.best(zip(ok["config_id"], ok[M.VAL_ACCURACY].astype(float), strict=True))
        frame.loc[group.index, "selected"] = group["config_id"] == cid
    return frame


def _params_of(group: pd.DataFrame, varying: list[str]) -> str:
    first = group.iloc[0]
    return ", ".join(
        f"{c.removeprefix('params.')}={short(first[c])}" for c in varying if pd.notna(first.get(c))
    )


def _stat_columns(row: dict[str, Any], finished: pd.DataFrame) -> None:
    for col, prefix in ((M.VAL_ACCURACY, "val"), (M.TEST_ACCURACY, "test")):
        s = describe(finished[col]) if col in finished else None
        for f in STAT_FIELDS:
            row[f"{prefix}_{f}"] = getattr(s, f) if s else math.nan


def configurations(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration of each unit: its runs, and the statistics of its
    finished runs (independent seeds)."""
    rows = []
    for (_, cid), group in frame.groupby(["unit", "config_id"], sort=False):
        varying = varying_params(frame[frame["unit"] == group["unit"].iloc[0]])
        finished = group[group["status"] == RunStatus.FINISHED]
        row: dict[str, Any] = {
            "experiment": group["experiment"].iloc[0],
            "sweep": group["sweep"].iloc[0],
            "config_id": cid,
            "budget": budget(group),
            "params": _params_of(group, varying),
            "runs": len(group),
            "selected": bool(group["selected"].any()),
        }
        _stat_columns(row, finished)
        rows.append(row)
    return pd.DataFrame(rows)


def varying_params(unit: pd.DataFrame) -> list[str]:
    """The searched params of one unit: those that differ between its configurations."""
    return [c for c in _param_columns(unit) if unit[c].nunique(dropna=True) > 1]


def study_figures(unit: pd.DataFrame) -> dict[str, Any]:
    """A sweep's test accuracy the way the published study reports it, over every complete
    run whatever its configuration: the mean of all of them (``study_mean``, over
    ``study_runs``), the run best on validation (``study_val_pick``: the honest one of the
    three), and the best of any run (``study_best``: chosen on the figure it reports, so
    optimistic)."""
    done = unit[unit["status"] == RunStatus.FINISHED]
    done = done[done[M.TEST_ACCURACY].notna()] if M.TEST_ACCURACY in done else done.iloc[:0]
    if done.empty:
        return {"study_runs": 0, "study_mean": math.nan, "study_val_pick": math.nan,
                "study_best": math.nan}  # fmt: skip
    test = done[M.TEST_ACCURACY].astype(float)
    pick = done[M.VAL_ACCURACY].astype(float).idxmax()
    return {
        "study_runs": len(done),
        "study_mean": float(test.mean()),
        "study_val_pick": float(test[pick]),
        "study_best": float(test.max()),
    }


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per unit (a sweep, or pooled sweeps): its runs and failures, the selected
    configuration with the statistics of its runs, the budget and the training time.
    ``frame`` has the ``unit``, ``sweep`` and ``selected`` columns (:func:`mark_selected`)."""
    rows = []
    for _, group in frame.groupby("unit", sort=False):
        chosen = group[group["selected"] & (group["status"] == RunStatus.FINISHED)]
        seconds = group.get(M.TRAIN_SECONDS, pd.Series(dtype=float))
        row: dict[str, Any] = {
            "experiment": group["experiment"].iloc[0],
            "sweep": group["sweep"].iloc[0],
            "unit": group["unit"].iloc[0],
            "runs": len(group),
            "failed": int((group["status"] == RunStatus.FAILED).sum()),
            "configurations": group["config_id"].nunique(),
            "budget": budget(group),
            "machine": machine(group),
            "train_hours": float(seconds.sum()) / 3600,
            "selected_config": chosen["config_id"].iloc[0] if len(chosen) else None,
            "selected_params": _params_of(chosen, varying_params(group)) if len(chosen) else "",
            "n": len(chosen),
            "best_run_id": None,
        }
        _stat_columns(row, chosen)
        row.update(study_figures(group))
        if len(chosen):  # the run that stands for the configuration: its best on validation
            row["best_run_id"] = chosen.loc[chosen[M.VAL_ACCURACY].astype(float).idxmax()][
                "run_id"
            ]
        rows.append(row)
    return pd.DataFrame(rows)


def compare(
    frame: pd.DataFrame, baseline: str, metric: str = M.TEST_ACCURACY, alpha: float = 0.05
) -> pd.DataFrame:
    """Each unit against the ``baseline`` unit, on the runs of each one's selected
    configuration (independent seeds): difference in mean ``metric``, Welch's t-test,
    p-values Holm-corrected across the comparisons made, and a plain verdict."""

    chosen = frame[frame["selected"] & (frame["status"] == RunStatus.FINISHED)]
    values = {u: g[metric].dropna().astype(float) for u, g in chosen.groupby("unit", sort=False)}
    base = values.get(baseline, pd.Series(dtype=float))
    rows = []
    for unit in frame["unit"].unique():
        v = values.get(unit, pd.Series(dtype=float))
        row: dict[str, Any] = {"unit": unit, "baseline": baseline, "n": len(v)}
        row["diff"] = v.mean() - base.mean() if len(v) and len(base) else math.nan
        row["p_value"] = row["p_holm"] = math.nan
        if unit == baseline:
            row["verdict"] = "(reference)"
        elif len(v) < 2 or len(base) < 2:
            row["verdict"] = "not enough repeats (n < 2)"
        else:
            row["p_value"] = welch_p(v, base)
        rows.append(row)
    out = pd.DataFrame(rows)
    tested = out["p_value"].notna()
    if tested.any():
        reject, adjusted, *_ = multipletests(out.loc[tested, "p_value"], alpha, method="holm")
        out.loc[tested, "p_holm"] = adjusted
        out.loc[tested, "verdict"] = [
            ("better" if d > 0 else "worse") if r else "no detectable difference"
            for r, d in zip(reject, out.loc[tested, "diff"], strict=True)
        ]
    return out


def welch_p(values: pd.Series, base: pd.Series) -> float:
    if values.std() == 0 and base.std() == 0:  # identical runs: no test to make
        return 0.0 if values.mean() != base.mean() else 1.0
    with warnings.catch_warnings():  # one side's runs all equal: scipy warns, rightly computes
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        return float(stats.ttest_ind(values, base, equal_var=False).pvalue)


def natural_key(value: Any) -> tuple[int, float, str]:
    """Numbers in numeric order before text (for a choice's categories and axes)."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))
