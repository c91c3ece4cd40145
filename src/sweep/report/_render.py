"""The report's tables: the statistics' DataFrames as rows of display strings
(:class:`Table`, rendered by ``_page``) and the sentences around them. From DataFrames to
text; reads nothing, computes nothing.
"""

from __future__ import annotations

import math

import pandas as pd

from ..analysis import MIN_IMPORTANCE_CONFIGS
from ._page import Block, Table


def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def _pm(mean: float, std: float) -> str:
    return _pct(mean) + ("" if math.isnan(std) else f" ± {100 * std:.2f}")


def _ci(row: pd.Series, prefix: str) -> str:
    low, high = row[f"{prefix}_ci_low"], row[f"{prefix}_ci_high"]
    return "–" if math.isnan(low) else f"{100 * low:.2f}–{100 * high:.2f}"


def _interval(row: pd.Series, prefix: str) -> str:
    """Mean ± std and the 95% t-interval, or why there is none."""
    if row[f"{prefix}_n"] != row[f"{prefix}_n"] or not row[f"{prefix}_n"]:  # NaN or 0
        return "–"
    ci = "n < 2: no interval" if math.isnan(row[f"{prefix}_ci_low"]) else _ci(row, prefix)
    return f"{_pm(row[f'{prefix}_mean'], row[f'{prefix}_std'])} ({ci})"


def summary_table(summary: pd.DataFrame) -> Table:
    """One row per sweep: its selected configuration (highest mean validation accuracy)
    and how that configuration's runs did. A budget cut from its file's (``--epochs``,
    ``--subset``, a study's overrides) names the file's beside it; one at the file's own
    says so."""
    headers = (
        "sweep",
        "budget",
        "machine, precision",
        "runs (failed)",
        "configs",
        "selected configuration",
        "n",
        "val mean ± std (95% CI)",
        "test mean ± std (95% CI)",
        "train h",
    )
    rows = tuple(
        (
            str(r["sweep"]),
            f"{r['budget']} ({r['budget_note']})" if r.get("budget_note") else r["budget"],
            r["machine"],
            f"{r['runs']} ({r['failed']})",
            str(r["configurations"]),
            f"{r['selected_config']}: {r['selected_params'] or 'fixed config'}"
            if r["selected_config"]
            else "–",
            str(r["n"]),
            _interval(r, "val"),
            _interval(r, "test"),
            f"{r['train_hours']:.2f}",
        )
        for _, r in summary.iterrows()
    )
    return Table(headers, rows)


# The study's published figures (its Round 1 and Round 2 tables: best, and mean where it
# gave one) by the experiment that reproduces each row; shared/REFERENCE-RESULTS.md
PUBLISHED: dict[str, tuple[float, float | None]] = {
    "exp1_baseline_batchnorm": (0.8957, None),
    "exp2_no_batchnorm": (0.8652, None),
    "exp3_aggressive_dropout": (0.8785, None),
    "exp4_minimal_dropout": (0.9000, None),
    "exp5_deeper_4_blocks": (0.9004, None),
    "exp6_deep_training_25_epochs": (0.9176, 0.9126),
    "exp7_steplr_decay": (0.9344, 0.9308),
    "exp8_wider_512_filters": (0.9293, 0.9211),
    "exp9_residual": (0.9191, 0.9043),
    "exp10_dual_path": (0.9254, 0.9170),
    "exp11_100_epochs_early_stopping": (0.9320, 0.9283),
    "exp12_optimized_training_full": (0.9418, 0.9353),
}


def study_table(summary: pd.DataFrame) -> Table:
    """One row per sweep in the study's own columns, beside the published ones: the mean
    of every complete run, the run best on validation, and the best run on test (the
    study's "best": chosen on the figure it reports)."""
    headers = (
        "sweep",
        "budget",
        "machine, precision",
        "complete runs",
        "mean of all runs (test)",
        "best on validation: its test",
        "best test of any run (optimistic)",
        "published best",
        "published mean",
    )
    rows = []
    for _, r in summary.iterrows():
        best, mean = PUBLISHED.get(str(r["experiment"]), (math.nan, None))
        rows.append(
            (
                str(r["sweep"]),
                r["budget"],
                r["machine"],
                str(r["study_runs"]),
                _pct(r["study_mean"]),
                _pct(r["study_val_pick"]),
                _pct(r["study_best"]),
                _pct(best),
                _pct(math.nan if mean is None else mean),
            )
        )
    return Table(headers, tuple(rows))


def configurations_table(configs: pd.DataFrame) -> Table:
    headers = (
        "sweep",
        "config",
        "params",
        "runs",
        "val mean ± std (95% CI)",
        "test mean ± std (95% CI)",
        "selected",
    )
    rows = tuple(
        (
            f"{r['sweep']} [{r['budget']}]",
            r["config_id"],
            r["params"] or "fixed config",
            str(r["runs"]),
            _interval(r, "val"),
            _interval(r, "test"),
            "yes" if r["selected"] else "",
        )
        for _, r in configs.iterrows()
    )
    return Table(headers, rows)


def comparison_table(comparison: pd.DataFrame, labels: dict[str, str]) -> Table:
    """``labels``: each unit's sweep label with its budget."""
    rows = tuple(
        (
            labels[r["unit"]],
            str(r["n"]),
            "–" if math.isnan(r["diff"]) else f"{100 * r['diff']:+.2f} points",
            "–" if math.isnan(r["p_value"]) else f"{r['p_value']:.3g}",
            "–" if math.isnan(r["p_holm"]) else f"{r['p_holm']:.3g}",
            r["verdict"],
        )
        for _, r in comparison.iterrows()
    )
    headers = ("sweep", "n", "difference in mean", "p (Welch)", "p (Holm)", "verdict")
    return Table(headers, rows)


def result_blocks(summary: pd.DataFrame, comparison: pd.DataFrame, metric: str) -> list[Block]:
    """The two tables and the sentences around them."""
    labels = dict(zip(summary["unit"], summary["label"], strict=True))
    baseline = labels[comparison["baseline"].iloc[0]]
    return [
        "Each sweep's **selected configuration** is the one with the highest mean validation "
        "accuracy over its runs (one seed each); the test set is never used to choose. "
        "n = runs of that configuration; intervals are 95% t-intervals of the mean.",
        summary_table(summary),
        "**The study's way of reporting**, over every complete run of each sweep whatever "
        "its configuration: the mean of all runs, the run best on validation (its test "
        "accuracy), and the best test accuracy of any run, which is chosen on the figure it "
        "reports and so optimistic (the study's own figures were the best of its trials on "
        "the split it selected on). The published figures, beside them, are at the study's "
        "budgets (its files' epochs on all 54,000 training images): a row compares with "
        "them only at that budget.",
        study_table(summary),
        f"Compared with **{baseline}** on `{metric}` of the selected configurations' runs "
        "(Welch's t-test; p-values Holm-corrected across the comparisons; 5% level):",
        comparison_table(comparison, labels),
    ]


def _num(x: float, fmt: str) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def importance_table(rows: pd.DataFrame) -> Table:
    """One row per searched param of each sweep (its share of the variance of validation
    accuracy), or one row saying why a sweep has none."""
    headers = ("sweep", "n (configurations)", "searched parameter", "importance", "values")
    body = tuple(
        (
            r["sweep"],
            f"{r['n']} ({r['configurations']})",
            str(r["param"]).removeprefix("params."),
            r["note"] if r["note"] else _num(r["importance"], ".2f"),
            "–" if pd.isna(r["values"]) else str(int(r["values"])),
        )
        for _, r in rows.iterrows()
    )
    return Table(headers, body)


def cost_table(costs: pd.DataFrame) -> Table:
    """One row per configuration: what it costs and what it scores; the Pareto columns
    say where it is on the front of validation accuracy against parameters or time."""
    headers = (
        "sweep",
        "config",
        "params",
        "parameters",
        "s / epoch",
        "s / run",
        "images / s",
        "val mean ± std (95% CI)",
        "test mean ± std (95% CI)",
        "Pareto front (parameters, time)",
    )
    body = tuple(
        (
            f"{r['sweep']} [{r['budget']}]",
            r["config_id"],
            r["params"] or "fixed config",
            _num(r["parameters"], ",.0f"),
            _num(r["seconds_per_epoch"], ".1f"),
            _num(r["seconds_per_run"], ".1f"),
            _num(r["images_per_second"], ",.0f"),
            _interval(r, "val"),
            _interval(r, "test"),
            ", ".join(
                name
                for name, flag in (("parameters", "front_parameters"), ("time", "front_seconds"))
                if r[flag]
            )
            or "–",
        )
        for _, r in costs.iterrows()
    )
    return Table(headers, body)


def _band(low: float, high: float) -> str:
    def k(x: float) -> str:
        return f"{x / 1e6:g}M" if x >= 1e6 else f"{x / 1e3:g}K"

    if low == 0:
        return f"under {k(high)}"
    return f"{k(low)} and more" if math.isinf(high) else f"{k(low)}–{k(high)}"


def efficiency_table(table: pd.DataFrame) -> Table:
    """The study's parameter-efficiency table, measured, beside the published bands."""
    headers = (
        "budget",
        "parameters",
        "configs (runs)",
        "val means",
        "test means",
        "minutes / run",
        "published accuracy",
        "published minutes",
    )
    body = tuple(
        (
            r["budget"],
            _band(r["low"], r["high"]),
            f"{r['configurations']} ({r['runs']})",
            f"{_pct(r['val_low'])}–{_pct(r['val_high'])}",
            f"{_pct(r['test_low'])}–{_pct(r['test_high'])}",
            f"{_num(r['minutes_low'], '.1f')}–{_num(r['minutes_high'], '.1f')}",
            r["published_accuracy"],
            r["published_minutes"],
        )
        for _, r in table.iterrows()
    )
    return Table(headers, body)


def _effect(r: pd.Series) -> str:
    if math.isnan(r["effect"]):
        return "–"
    interval = (
        ""
        if math.isnan(r["ci_low"])
        else f" ({100 * r['ci_low']:+.2f} to {100 * r['ci_high']:+.2f})"
    )
    if r["against"].startswith(("at least", "between")):  # a figure: the mean itself
        interval = interval.replace("+", "")
        return f"mean {_pct(r['effect'])}{interval}"
    return f"{100 * r['effect']:+.2f} points{interval}"


def findings_table(findings: pd.DataFrame) -> Table:
    """Each sweep's hypothesis, the comparison its file's prediction implies, the effect
    with its 95% interval, n, Holm's p and the verdict."""
    headers = (
        "sweep [budget]",
        "hypothesis (from its file)",
        "prediction",
        "compared with",
        "n",
        "effect (95% CI)",
        "p (Holm)",
        "verdict",
    )
    body = tuple(
        (
            r["label"],
            r["hypothesis"] or "–",
            r["prediction"],
            r["against"],
            str(r["n"]),
            _effect(r),
            _num(r["p_holm"], ".3g"),
            r["verdict"],
        )
        for _, r in findings.iterrows()
    )
    return Table(headers, body)


def findings_blocks(findings: pd.DataFrame) -> list[Block]:
    """The findings table and how to read it."""
    return [
        "## Findings",
        "Each sweep's hypothesis (its file's `hypothesis:`) against the prediction its file "
        "declares (`expect:`), on the runs of the selected configurations. Against another "
        "experiment (its latest sweep at a comparable budget): the difference in mean with "
        "Welch's 95% interval (not adjusted) and p-value, Holm-corrected across the rows "
        "tested, which decides between supported, contradicted and not detectable; the two "
        "must share training images and device, and their epochs differ as their files' do "
        "(the same, or more for the one whose file sets more). Against a figure: the mean "
        "with its 95% t-interval, which must lie inside (supported) or outside (contradicted) the "
        "predicted range, and only at the file's own budget. Otherwise: budgets differ, no "
        "verdict on the idea.",
        findings_table(findings),
    ]


def importance_blocks(importance: pd.DataFrame) -> list[Block]:
    """The importance of each sweep's searched parameters, and how it is made."""

    if not len(importance):
        return []
    return [
        "## Which searched parameters matter",
        "Each searched parameter's share of the variance of validation accuracy over a "
        "sweep's complete runs (finished, not pruned), by fANOVA (Optuna's "
        "`FanovaImportanceEvaluator` over a study made from the runs): shares sum to 1 "
        f"within a sweep. Below {MIN_IMPORTANCE_CONFIGS} configurations with complete "
        "runs a forest fits noise (a repeat adds a seed, not a point), so no share is "
        "given.",
        importance_table(importance),
    ]


def cost_blocks(costs: pd.DataFrame, efficiency: pd.DataFrame) -> list[Block]:
    """The cost of every configuration and the study's parameter-efficiency table."""
    blocks: list[Block] = [
        "## What accuracy costs",
        "Every configuration's parameters and training time (means over its finished runs; "
        "a run's `train_seconds` include each epoch's validation and checkpoint, so images "
        "per second, training images over them, is below the bare training speed). A "
        "configuration is on the Pareto front where no other of the same budget has at "
        "least its mean validation accuracy for no more parameters (or time), better in "
        "one; test accuracy is shown, never used. Times compare only between runs made on "
        "the same, otherwise quiet machine.",
        cost_table(costs),
    ]
    if len(efficiency):
        blocks += [
            "The study's parameter-efficiency table, measured (per budget and band of "
            "parameter counts: the range of the configurations' means), beside the "
            "published bands (the study's own hardware and budget: 40 epochs or fewer).",
            efficiency_table(efficiency),
        ]
    return blocks
