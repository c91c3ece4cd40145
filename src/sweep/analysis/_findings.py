"""Findings: each sweep's hypothesis, the prediction its file makes (``expect:``) and the
verdict the runs give it (supported, contradicted, or not detectable at this budget),
against a published figure or another experiment, with Welch's test and Holm's correction
over the family of comparisons. Pure: a runs table in, a table out."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from .. import names as M
from ..names import RunStatus
from ._stats import describe, welch_p

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
    info_of = _sweep_info(frame, sweeps)
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


def _sweep_info(frame: pd.DataFrame, sweeps: pd.DataFrame) -> Callable[[str], pd.Series]:
    """A unit's sweep as its latest parent run records it (hypothesis, expect, the file's
    budget); an empty Series where none is known."""
    latest = frame.sort_values("start_time").groupby("unit")["parent_run_id"].last()
    meta = sweeps.set_index("parent_run_id") if len(sweeps) else pd.DataFrame()

    def info_of(unit: str) -> pd.Series:
        parent = latest.get(unit)
        return meta.loc[parent] if parent in meta.index else pd.Series(dtype=object)

    return info_of


FILES_OWN = "the file's own"


def budget_notes(frame: pd.DataFrame, summary: pd.DataFrame, sweeps: pd.DataFrame) -> list[str]:
    """Per summary row, how its budget stands to its file's: the file's in words where its
    runs trained under another (``"the file's: 5 ep, all images"``), ``FILES_OWN`` where
    they trained at the file's own, "" where the file's is unknown."""
    info_of = _sweep_info(frame, sweeps)
    notes = []
    for unit in summary["unit"]:
        own = info_of(unit).get("file_budget")
        differs = _file_budget_differs(frame[frame["unit"] == unit], own)
        known = isinstance(own, dict)
        notes.append(f"the file's: {differs}" if differs else FILES_OWN if known else "")
    return notes


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
        row["p_value"] = welch_p(values, base_values)
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
