"""The last step of the data flow: store or exports -> report. *Load* (``_loading``) reads
the runs; :mod:`sweep.analysis` summarises, compares, judges each hypothesis, says which
searched parameters matter and what accuracy costs; ``_drawing`` saves the figures;
``_render`` writes the same table rows as Markdown and as HTML; the tables go out as CSV
too. Reads the store; never trains, never writes to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .. import names as M
from ..analysis import (
    analyse,
    budget_notes,
    compare,
    configurations,
    cost_figure,
    importance_rows,
    mark_selected,
    searched,
    summarize,
)
from ..analysis import costs as stats_costs
from ..analysis import efficiency as stats_efficiency
from ..analysis import findings as stats_findings
from ..names import RunStatus
from ..record import (
    SEARCH_SPEC,
    shown,
    unwritable,
)
from ._drawing import draw_figures, save_figures, selected_confusion_matrix
from ._loading import ReportInputError, assign_units, load_curves, load_sources, matches
from ._page import Block, to_html, to_markdown
from ._render import (
    configurations_table,
    cost_blocks,
    findings_blocks,
    importance_blocks,
    result_blocks,
    summary_table,
)


@dataclass(frozen=True)
class Report:
    summary: pd.DataFrame
    comparison: pd.DataFrame
    runs: pd.DataFrame
    markdown: str  # the result tables (what the command prints)
    summary_markdown: str  # the first of them: one row per sweep
    files: tuple[Path, ...]
    findings: pd.DataFrame  # stats.findings: each sweep's hypothesis and its verdict


def _check_metric(frame: pd.DataFrame, metric: str) -> None:
    if metric not in frame.columns:
        known = sorted(c for c in frame.columns if c.endswith("accuracy"))
        raise ReportInputError(
            f"--metric {metric}: no trial logged the metric {metric!r}; metrics with accuracy in "
            f"the store: {', '.join(known) or 'none'}. Pick one with --metric."
        )


def _pick_baseline(summary: pd.DataFrame, baseline: str | None) -> str:
    """The unit to compare against: the latest sweep of the named experiment (default:
    the first experiment); a sweep's label or run id prefix picks one sweep."""
    names = list(dict.fromkeys(summary["experiment"]))
    if baseline is None:
        baseline = names[0]
    for _, row in summary.iloc[::-1].iterrows():
        if baseline in (row["sweep"], row["experiment"]) or row["unit"].split("/")[1].startswith(
            baseline
        ):
            return row["unit"]
    found = [n for n in names if matches(n, baseline)]
    if not found:
        raise ReportInputError(
            f"--baseline {baseline}: no sweep or experiment of that name among the "
            f"experiments reported ({', '.join(names)}). Name one of them, or a sweep's run "
            "id prefix."
        )
    return summary[summary["experiment"] == found[0]]["unit"].iloc[-1]


def _comparison(frame: pd.DataFrame, summary: pd.DataFrame, baseline: str, metric: str):
    comparison = compare(frame, baseline, metric)
    # a difference between runs made under different budgets is not the idea's alone
    budgets = dict(zip(summary["unit"], summary["budget"], strict=True))
    differ = comparison["unit"].map(budgets) != budgets[baseline]
    comparison.loc[differ, "verdict"] += " (budgets differ)"
    return comparison


RUNS_COLUMNS = (
    "experiment",
    "parent_run_id",
    "run_id",
    "config_id",
    "seed",
    "role",
    "status",
    M.VAL_ACCURACY,
    M.TEST_ACCURACY,
    M.EPOCHS_RUN,
    "selected",
)


def _runs_csv(frame: pd.DataFrame, path: Path) -> None:
    """One row per child run: the columns above first, then every param and metric."""
    frame = frame.copy()
    for col in RUNS_COLUMNS:
        if col not in frame:
            frame[col] = None
    rest = [c for c in frame.columns if c not in RUNS_COLUMNS and c not in ("unit", "sweep_key")]
    frame[list(RUNS_COLUMNS) + rest].to_csv(path, index=False)


def build_report(
    tracking_uri: str | None,
    out: str | Path = "reports",
    *,
    results: str | Path | None = None,
    experiments: list[str] | None = None,
    since: datetime | None = None,
    metric: str = M.TEST_ACCURACY,
    baseline: str | None = None,
    pool: bool = False,
) -> Report:
    """Everything ``analyze_results.py`` does: load, summarise, compare, analyse, plot,
    write. ``metric`` is what is compared and drawn; selection is always on validation.
    Reads the store (and ``results``, exported runs, or those alone where
    ``tracking_uri`` is None), never writes to it; writes only into ``out``."""
    check_out(out)
    frame, client, sweeps = load_sources(tracking_uri, results, experiments, since)
    _check_metric(frame, metric)
    frame = mark_selected(assign_units(frame, pool))
    summary = summarize(frame)
    summary["label"] = summary["sweep"] + " [" + summary["budget"] + "]"
    baseline = _pick_baseline(summary, baseline)
    comparison = _comparison(frame, summary, baseline, metric)
    findings = stats_findings(frame, summary, sweeps)
    summary["budget_note"] = budget_notes(frame, summary, sweeps)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    drawn = draw_figures(frame, summary, load_curves(client, summary), metric)
    importance_md, costs_md, analysed = _analysis(frame, summary, sweeps, out)
    figures = save_figures(out, [*drawn, *analysed])
    cm = selected_confusion_matrix(client, summary, out)
    figures += [cm] if cm else []
    tables = [*result_blocks(summary, comparison, metric), *findings_blocks(findings)]
    tables += importance_md
    configs = [
        "## Every configuration",
        "Every configuration of every sweep (its runs are independent seeds):",
        configurations_table(configurations(frame)),
    ]
    blocks = [_stamp(sources(tracking_uri, results)), *tables, *costs_md, *configs, *_notes(frame)]
    title = "fmnist-sweep analysis"
    (out / "analysis.md").write_text(to_markdown([f"# {title}", *blocks, *figures]) + "\n")
    (out / "analysis.html").write_text(to_html([*blocks, *figures], out, title))
    _runs_csv(frame, out / "runs.csv")
    findings.drop(columns=["unit", "rule"], errors="ignore").to_csv(
        out / FINDINGS_CSV, index=False
    )
    files = (out / "analysis.md", out / "analysis.html", out / "runs.csv")
    files += tuple(out / f.name for f in figures)
    summary_md = summary_table(summary).markdown()
    return Report(summary, comparison, frame, to_markdown(tables), summary_md, files, findings)


def check_out(out: str | Path) -> None:
    """Refuse an output folder that cannot be one (an existing file, a path under a file,
    a place that refuses writes) before the store is read or anything written."""
    why = unwritable(out, folder=True)
    if why:
        raise ReportInputError(
            f"--out {out}: {why}. Name a folder the report may be written into (it is made "
            "if missing)."
        )


IMPORTANCE_CSV, COSTS_CSV, EFFICIENCY_CSV, FINDINGS_CSV = (
    "importance.csv",
    "costs.csv",
    "efficiency.csv",
    "findings.csv",
)


def _analysis(
    frame: pd.DataFrame, summary: pd.DataFrame, sweeps: pd.DataFrame, out: Path
) -> tuple[list[Block], list[Block], list[tuple[str, str, Any]]]:
    """Importance and interactions of each sweep, and the cost of every configuration
    (:mod:`sweep.analysis`): the blocks of text and tables of each, the figures; the tables
    as CSV files in ``out`` too."""

    latest = frame.sort_values("start_time").groupby("unit")["parent_run_id"].last()
    specs = (
        dict(zip(sweeps["parent_run_id"], sweeps[SEARCH_SPEC], strict=True)) if len(sweeps) else {}
    )
    rows, figures = [], []
    for _, unit in summary.iterrows():
        runs = frame[frame["unit"] == unit["unit"]]
        parent = latest[unit["unit"]]
        if not searched(runs, specs.get(parent)):
            continue  # a fixed configuration: nothing searched to explain
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{unit['experiment']}_{parent[:8]}")
        try:
            found = analyse(runs, unit["label"], slug, specs.get(parent))
        except Exception as exc:  # one sweep's analysis: never the whole report
            rows.append(
                {
                    "sweep": unit["label"],
                    "n": len(runs),
                    "configurations": None,
                    "param": "–",
                    "note": f"not computed: {type(exc).__name__}: {exc}",
                }
            )
            continue
        rows += importance_rows(found)
        figures += found.figures
    costs = stats_costs(frame)
    if costs["parameters"].notna().any():
        figures.append(
            (
                "What accuracy costs: every configuration",
                "costs.png",
                cost_figure(
                    costs.assign(sweep=costs["sweep"] + " [" + costs["budget"] + "]"),
                    "Mean accuracy of every configuration against its cost",
                ),
            )
        )
    efficiency = stats_efficiency(costs)
    importance = pd.DataFrame(
        rows, columns=["sweep", "n", "configurations", "param", "importance", "values", "note"]
    )
    importance.to_csv(out / IMPORTANCE_CSV, index=False)
    costs.to_csv(out / COSTS_CSV, index=False)
    efficiency.to_csv(out / EFFICIENCY_CSV, index=False)
    return importance_blocks(importance), cost_blocks(costs, efficiency), figures


def sources(tracking_uri: str | None, results: str | Path | None) -> str:
    """What a report was made from, as Markdown: the store, the exports, or both."""
    named = [shown(tracking_uri)] if tracking_uri else []
    return " and ".join(f"`{x}`" for x in [*named, *([str(results)] if results else [])])


def _stamp(source: str) -> str:
    return (
        f"Generated {datetime.now():%Y-%m-%d %H:%M} from {source}. One row per "
        "sweep; budget = epochs per run, training images, device."
    )


def _notes(frame: pd.DataFrame) -> list[str]:
    missing = int((frame["status"] != RunStatus.FINISHED).sum())
    if not missing:
        return []
    return [
        f"{missing} run(s) did not finish (FAILED/KILLED/RUNNING) or were pruned and "
        "are counted in 'runs' but not in the statistics."
    ]
