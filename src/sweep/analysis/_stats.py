"""Pure statistics over a runs table (one row per trial, as the report loads it): per
experiment summaries, comparisons against a baseline, the best-so-far rule. No MLflow, no
plotting; every function takes and returns plain values or DataFrames.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution, FloatDistribution
from scipy import stats
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from .. import names as M
from ..names import RunStatus
from ..train import training_images
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


def searched_params(frame: pd.DataFrame) -> list[str]:
    """Param columns that vary within at least one experiment (the searched ones)."""
    return [
        c
        for c in _param_columns(frame)
        if (frame.groupby("experiment")[c].nunique(dropna=True) > 1).any()
    ]


def _param_columns(frame: pd.DataFrame) -> list[str]:
    """The config's params, without what differs between runs of one configuration (the
    seed) or describes where it ran."""
    skip = ("params.resolved.", "params.name", "params.hypothesis", "params.train.seed")
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
            row["p_value"] = _welch_p(v, base)
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


def _welch_p(values: pd.Series, base: pd.Series) -> float:
    if values.std() == 0 and base.std() == 0:  # identical runs: no test to make
        return 0.0 if values.mean() != base.mean() else 1.0
    with warnings.catch_warnings():  # one side's runs all equal: scipy warns, rightly computes
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        return float(stats.ttest_ind(values, base, equal_var=False).pvalue)


# ----------------------------------------------------------------------------- importance
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


def natural_key(value: Any) -> tuple[int, float, str]:
    """Numbers in numeric order before text (for a choice's categories and axes)."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


# ----------------------------------------------------------------------------- cost
def pareto_front(cost: pd.Series, value: pd.Series) -> pd.Series:
    """True where no other point costs no more and scores at least as well, one of the two
    strictly (lower cost, higher value are better); NaN points are never on it."""
    ok = cost.notna() & value.notna()
    c, v = cost[ok].astype(float).to_numpy(), value[ok].astype(float).to_numpy()
    dominated = ((c[None, :] <= c[:, None]) & (v[None, :] >= v[:, None])) & (
        (c[None, :] < c[:, None]) | (v[None, :] > v[:, None])
    )
    front = pd.Series(False, index=cost.index)
    front[ok] = ~dominated.any(axis=1)
    return front


COST_FIELDS = ("parameters", "seconds_per_epoch", "seconds_per_run", "images_per_second")


def costs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration of each unit: its parameters, training seconds per epoch
    and per run and images per second (means over its finished runs), the validation and
    test statistics of :func:`configurations`, and whether it is on the Pareto front of
    validation accuracy against parameters (``front_parameters``) and against training
    seconds per run (``front_seconds``) among the configurations of the same budget."""
    finished = frame[frame["status"] == RunStatus.FINISHED].copy()
    per_run = finished.get(M.TRAIN_SECONDS, pd.Series(np.nan, index=finished.index)).astype(float)
    epochs = finished.get(M.EPOCHS_RUN, pd.Series(np.nan, index=finished.index)).astype(float)
    images = [
        _images(r.get("params.data.subset"), r.get("params.data.val_fraction"))
        for _, r in finished.iterrows()
    ]
    finished["seconds_per_run"] = per_run
    finished["seconds_per_epoch"] = per_run / epochs
    finished["images_per_second"] = epochs * pd.Series(images, index=finished.index) / per_run
    finished["parameters"] = finished.get(M.NUM_PARAMETERS, np.nan)
    table = configurations(frame)
    keys = ["sweep", "config_id"]
    means = finished.groupby(keys, sort=False)[list(COST_FIELDS)].mean().reset_index()
    table = table.merge(means, on=keys, how="left")
    table["front_parameters"] = False
    table["front_seconds"] = False
    for _, group in table.groupby("budget", sort=False):
        table.loc[group.index, "front_parameters"] = pareto_front(
            group["parameters"], group["val_mean"]
        )
        table.loc[group.index, "front_seconds"] = pareto_front(
            group["seconds_per_run"], group["val_mean"]
        )
    return table


def _images(subset: Any, val_fraction: Any) -> float:
    """Training images per epoch from a run's params (NaN where it logged none: an older
    or failed run)."""

    try:
        fraction = float(val_fraction)
    except (TypeError, ValueError):
        return math.nan
    if math.isnan(fraction) or subset is None or subset != subset:  # (NaN: none logged)
        return math.nan
    try:
        count = None if str(subset) in ("None", "null") else int(float(subset))  # None: all
    except ValueError:
        return math.nan
    return float(training_images(count, fraction))


# the study's parameter-efficiency table (REFERENCE-RESULTS.md): parameters, accuracy, minutes
PUBLISHED_EFFICIENCY = (
    (300_000, 800_000, "93–94%", "2–4 min"),
    (1_200_000, 4_100_000, "92–93%", "5–8 min"),
)
EFFICIENCY_BANDS = (0, 300_000, 800_000, 1_200_000, 4_100_000, math.inf)


def efficiency(costs_table: pd.DataFrame) -> pd.DataFrame:
    """The study's parameter-efficiency table regenerated: per budget and band of parameter
    counts (the study's bands: 300K–800K and 1.2M–4.1M, and those between and around them),
    the configurations in it, the range of their validation and test means and of their
    training minutes per run, beside the published figures of the band."""
    table = costs_table.dropna(subset=["parameters"])
    rows = []
    for budget_, group in table.groupby("budget", sort=False):
        bands = pd.cut(group["parameters"], EFFICIENCY_BANDS, right=False)
        for band, members in group.groupby(bands, observed=True):
            published = next(
                ((acc, mins) for lo, hi, acc, mins in PUBLISHED_EFFICIENCY if lo == band.left),
                ("–", "–"),
            )
            rows.append(
                {
                    "budget": budget_,
                    "low": band.left,
                    "high": band.right,
                    "configurations": len(members),
                    "runs": int(members["runs"].sum()),
                    "val_low": members["val_mean"].min(),
                    "val_high": members["val_mean"].max(),
                    "test_low": members["test_mean"].min(),
                    "test_high": members["test_mean"].max(),
                    "minutes_low": members["seconds_per_run"].min() / 60,
                    "minutes_high": members["seconds_per_run"].max() / 60,
                    "published_accuracy": published[0],
                    "published_minutes": published[1],
                }
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- findings
SUPPORTED, CONTRADICTED = "supported", "contradicted"
NOT_DETECTABLE = "not detectable at this budget"
# which sign of a detectable difference each relative prediction expects (+1: higher)
_EXPECTED_SIGN = {"better_than": 1, "worse_than": -1, "no_better_than": -1, "no_worse_than": 1}
_SAYS = {
    "better_than": "better than",
    "worse_than": "worse than",
    "no_better_than": "no better than",
    "no_worse_than": "no worse than",
}


def prediction_text(expect: dict[str, Any] | None) -> str:
    """A file's ``expect:`` in words: 'worse than exp1_baseline_batchnorm', 'at least
    94.50%', 'between 89.00% and 90.00%'."""
    if not expect:
        return "–"
    metric = str(expect.get("metric", M.TEST_ACCURACY)).replace("_", " ")
    if "at_least" in expect:
        return f"{metric} at least {100 * expect['at_least']:.2f}%"
    if "between" in expect:
        low, high = expect["between"]
        return f"{metric} between {100 * low:.2f}% and {100 * high:.2f}%"
    rule = next(k for k in _SAYS if k in expect)
    return f"{metric} {_SAYS[rule]} {expect[rule]}"


def findings(
    frame: pd.DataFrame, summary: pd.DataFrame, sweeps: pd.DataFrame, alpha: float = 0.05
) -> pd.DataFrame:
    """One row per unit (sweep): its hypothesis and prediction (its file's ``expect:``,
    from the latest of its parent runs), the comparison the prediction implies, on the runs
    of the selected configurations: against another experiment (its latest unit at a
    comparable budget, :func:`_comparable`) the difference in mean with Welch's 95%
    interval and p-value, Holm-corrected across the rows; against a figure the mean's 95%
    t-interval, at the file's own budget; and a verdict in words."""
    chosen = frame[frame["selected"] & (frame["status"] == RunStatus.FINISHED)]
    latest = frame.sort_values("start_time").groupby("unit")["parent_run_id"].last()
    meta = sweeps.set_index("parent_run_id") if len(sweeps) else pd.DataFrame()

    def info_of(unit: str) -> pd.Series:
        parent = latest.get(unit)
        return meta.loc[parent] if parent in meta.index else pd.Series(dtype=object)

    rows = []
    for _, unit in summary.iterrows():
        info = info_of(unit["unit"])
        expect = info.get("expect") if isinstance(info.get("expect"), dict) else None
        row = {
            "unit": unit["unit"],
            "label": unit["label"],
            "hypothesis": info.get("hypothesis") or "",
            "prediction": prediction_text(expect),
            "against": "–",
            "n": len(_values(chosen, unit["unit"], M.TEST_ACCURACY)),
            "effect": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "p_value": math.nan,
            "verdict": "no prediction declared (expect: in its file)",
        }
        if expect:
            metric = expect.get("metric", M.TEST_ACCURACY)
            values = _values(chosen, unit["unit"], metric)
            row["n"] = len(values)
            if "at_least" in expect or "between" in expect:
                _against_figure(row, expect, values, frame[frame["unit"] == unit["unit"]], info)
            else:
                _against_experiment(row, expect, values, unit, summary, chosen, info_of)
        rows.append(row)
    out = pd.DataFrame(rows)
    _holm(out, alpha)
    return out


def _values(chosen: pd.DataFrame, unit: str, metric: str) -> pd.Series:
    if metric not in chosen:
        return pd.Series(dtype=float)
    return chosen.loc[chosen["unit"] == unit, metric].dropna().astype(float)


def _against_figure(
    row: dict[str, Any], expect: dict[str, Any], values: pd.Series, runs: pd.DataFrame, info: Any
) -> None:
    low, high = (expect["at_least"], math.inf) if "at_least" in expect else expect["between"]
    row["against"] = prediction_text(expect).split(" ", 2)[-1]
    s = describe(values)
    if s is not None:
        row["effect"], row["ci_low"], row["ci_high"] = s.mean, s.ci_low, s.ci_high
    differs = _file_budget_differs(runs, info.get("file_budget"))
    if differs:
        row["verdict"] = f"budgets differ (the file's: {differs})"
    elif s is None or s.n < 2:
        row["verdict"] = "not enough runs (n < 2)"
    elif low <= s.ci_low and s.ci_high <= high:
        row["verdict"] = SUPPORTED
    elif s.ci_high < low or s.ci_low > high:
        row["verdict"] = CONTRADICTED
    else:
        row["verdict"] = NOT_DETECTABLE


def _file_budget_differs(runs: pd.DataFrame, budget_: Any) -> str | None:
    """The file's own budget in words where the runs trained under another (an
    ``--epochs``/``--subset`` on the command line); None where it is the same or unknown."""
    if not isinstance(budget_, dict):
        return None
    epochs, subset = str(budget_.get("epochs")), str(budget_.get("subset"))
    ran_epochs = set(runs.get("params.train.epochs", pd.Series(dtype=str)).dropna())
    ran_subset = set(runs.get("params.data.subset", pd.Series(dtype=str)).dropna())
    if ran_epochs <= {epochs} and ran_subset <= {subset}:
        return None
    images = "all images" if subset == "None" else f"{subset} img"
    return f"{epochs} ep, {images}"


def _comparable(unit: pd.Series, base: pd.Series, info_of: Any) -> bool:
    """Two sweeps whose difference is the idea's: the same images and device, and epochs
    that differ as their files' do — the same where the files set the same, more for the
    one whose file sets more (exp6's 25 against exp1's 5, both cut to fewer with
    ``--epochs``: the epochs are then the idea). Files unknown: the same budget."""
    ours, theirs = (
        info_of(unit["unit"]).get("file_budget"),
        info_of(base["unit"]).get("file_budget"),
    )
    if unit["budget"].split(", ", 1)[-1] != base["budget"].split(", ", 1)[-1]:
        return False
    if not (isinstance(ours, dict) and isinstance(theirs, dict)):
        return unit["budget"] == base["budget"]
    ran = [_leading_int(b) for b in (unit["budget"], base["budget"])]
    if None in ran:  # (runs of several epoch counts)
        return False
    return np.sign(ran[0] - ran[1]) == np.sign(ours["epochs"] - theirs["epochs"])


def _leading_int(text: str) -> int | None:
    head = text.split(" ", 1)[0]
    return int(head) if head.isdigit() else None


def _against_experiment(
    row: dict[str, Any],
    expect: dict[str, Any],
    values: pd.Series,
    unit: pd.Series,
    summary: pd.DataFrame,
    chosen: pd.DataFrame,
    info_of: Any,
) -> None:
    rule = next(k for k in _EXPECTED_SIGN if k in expect)
    metric = expect.get("metric", M.TEST_ACCURACY)
    candidates = summary[summary["experiment"] == expect[rule]]
    if candidates.empty:
        row["verdict"] = f"{expect[rule]} is not in this report"
        return
    fits = [_comparable(unit, c, info_of) for _, c in candidates.iterrows()]
    comparable = any(fits)  # (the latest comparable one, else the latest)
    base = (candidates[fits] if comparable else candidates).iloc[-1]
    row["against"] = base["label"]
    base_values = _values(chosen, base["unit"], metric)
    if len(values) and len(base_values):
        row["effect"] = values.mean() - base_values.mean()
    if not comparable:
        row["verdict"] = "budgets differ"
    elif len(values) < 2 or len(base_values) < 2:
        row["verdict"] = "not enough runs (n < 2)"
    else:
        with warnings.catch_warnings():  # one side's runs all equal: scipy warns, computes
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            interval = scipy_stats.ttest_ind(values, base_values, equal_var=False)
            interval = interval.confidence_interval(0.95)
        row["p_value"] = _welch_p(values, base_values)
        row["ci_low"], row["ci_high"] = float(interval.low), float(interval.high)
        row["rule"] = rule
        row["verdict"] = NOT_DETECTABLE  # (until Holm's correction says otherwise)


def _holm(out: pd.DataFrame, alpha: float) -> None:
    """Holm's correction across the rows tested, then their verdicts."""

    out["p_holm"] = math.nan
    tested = out["p_value"].notna()
    if not tested.any():
        return
    reject, adjusted, *_ = multipletests(out.loc[tested, "p_value"], alpha, method="holm")
    out.loc[tested, "p_holm"] = adjusted
    for index, detected in zip(out.index[tested], reject, strict=True):
        if not detected:
            out.loc[index, "verdict"] = NOT_DETECTABLE
            continue
        sign = 1 if out.loc[index, "effect"] > 0 else -1
        out.loc[index, "verdict"] = (
            SUPPORTED if sign == _EXPECTED_SIGN[out.loc[index, "rule"]] else CONTRADICTED
        )
