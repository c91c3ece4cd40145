"""The last step of the data flow: MLflow store -> per-experiment statistics, comparisons,
figures and a report (Markdown, HTML, CSV). Reads the store; never trains.
"""

from __future__ import annotations

import base64
import fnmatch
import html
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import metrics as M

PAGE = 1000
ACTIONPLAN_START = (
    "<!-- results:start (written by `python analyze_results.py --update-actionplan`) -->"
)
ACTIONPLAN_END = "<!-- results:end -->"


class ReportError(RuntimeError):
    """Nothing to report (empty store, no matching experiments...): a message, not a crash."""


# ----------------------------------------------------------------------------- loading
def _all_runs(client: Any, experiment_ids: list[str]) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, max_results=PAGE, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _names(name: str, pattern: str) -> bool:
    """Does ``pattern`` pick experiment ``name``: the name, its prefix (``exp7`` for
    ``exp7_steplr_decay``) or a glob?"""
    return name == pattern or name.startswith(pattern + "_") or fnmatch.fnmatch(name, pattern)


def _experiment_number(name: str) -> tuple[int, str]:
    """Sort key: exp2 before exp10; names without a number after, alphabetically."""
    digits = "".join(ch for ch in name.removeprefix("exp").split("_")[0] if ch.isdigit())
    return (int(digits), name) if name.startswith("exp") and digits else (10**6, name)


def load_runs(
    tracking_uri: str,
    experiments: list[str] | None = None,
    since: datetime | None = None,
) -> tuple[pd.DataFrame, Any]:
    """One row per trial (child run): experiment, ids, status, params and final metrics."""
    import os

    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client = MlflowClient(tracking_uri)
    found = client.search_experiments()
    if experiments:
        found = [e for e in found if any(_names(e.name, pat) for pat in experiments)]
    if not found:
        which = f" matching {' '.join(experiments)}" if experiments else ""
        raise ReportError(
            f"no experiments{which} in {tracking_uri}. Run a sweep first: "
            "python -m sweep experiments/quickstart.yaml"
        )
    names = {e.experiment_id: e.name for e in found}
    rows = []
    for run in _all_runs(client, list(names)):
        tags = run.data.tags
        if M.TAG_PARENT not in tags:
            continue  # a sweep (parent) run
        start = datetime.fromtimestamp(run.info.start_time / 1000)
        if since and start < since:
            continue
        row: dict[str, Any] = {
            "experiment": names[run.info.experiment_id],
            "parent_run_id": tags[M.TAG_PARENT],
            "run_id": run.info.run_id,
            "trial": int(tags.get(M.TAG_TRIAL, 0)) or None,
            "status": run.info.status,
            "start_time": start,
            "failure": tags.get(M.TAG_FAILURE),
        }
        row.update({f"params.{k}": v for k, v in run.data.params.items()})
        row.update(run.data.metrics)
        rows.append(row)
    if not rows:
        raise ReportError(
            f"the store {tracking_uri} holds {len(names)} experiment(s) but no trial (child) "
            "runs" + (f" since {since:%Y-%m-%d}" if since else "") + "; nothing to report."
        )
    frame = pd.DataFrame(rows)
    frame["order"] = frame["experiment"].map(_experiment_number)
    frame = frame.sort_values(["order", "start_time"]).drop(columns="order")
    return frame.reset_index(drop=True), client


# ----------------------------------------------------------------------------- statistics
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


def _budget(group: pd.DataFrame) -> str:
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


def summarize(frame: pd.DataFrame, metric: str = M.TEST_ACCURACY) -> pd.DataFrame:
    """One row per experiment: trials, failures, stats of validation and test accuracy,
    the best trial (by ``metric``) and its params, the budget and the training time."""
    varying = searched_params(frame)
    rows = []
    for name, group in frame.groupby("experiment", sort=False):
        finished = group[group["status"] == "FINISHED"]
        row: dict[str, Any] = {
            "experiment": name,
            "sweeps": group["parent_run_id"].nunique(),
            "trials": len(group),
            "finished": len(finished),
            "failed": int((group["status"] == "FAILED").sum()),
            "budget": _budget(group),
            "train_hours": float(group.get(M.TRAIN_SECONDS, pd.Series(dtype=float)).sum()) / 3600,
        }
        for col, short in ((M.BEST_VAL_ACCURACY, "val"), (M.TEST_ACCURACY, "test")):
            s = describe(finished[col]) if col in finished else None
            for field in ("n", "mean", "std", "ci_low", "ci_high", "median", "best"):
                row[f"{short}_{field}"] = getattr(s, field) if s else math.nan
        if metric in finished and finished[metric].notna().any():
            best = finished.loc[finished[metric].idxmax()]
            row["best_run_id"] = best["run_id"]
            row["best_params"] = ", ".join(
                f"{c.removeprefix('params.')}={_short(best[c])}"
                for c in varying
                if pd.notna(best.get(c)) and group[c].nunique() > 1
            )
        else:
            row["best_run_id"], row["best_params"] = None, ""
        rows.append(row)
    return pd.DataFrame(rows)


def compare(
    frame: pd.DataFrame, baseline: str, metric: str = M.TEST_ACCURACY, alpha: float = 0.05
) -> pd.DataFrame:
    """Each experiment against ``baseline``: difference in mean ``metric``, Welch's t-test
    p-value, and a verdict that claims a difference only where the data supports it."""
    from scipy import stats

    finished = frame[frame["status"] == "FINISHED"]
    if metric not in finished:
        raise ReportError(f"no finished trial logged the metric {metric!r}.")
    base = finished.loc[finished["experiment"] == baseline, metric].dropna().astype(float)
    rows = []
    for name, group in finished.groupby("experiment", sort=False):
        values = group[metric].dropna().astype(float)
        row: dict[str, Any] = {"experiment": name, "baseline": baseline, "n": len(values)}
        if name == baseline:
            row.update(diff=0.0, p_value=math.nan, verdict="(reference)")
        elif len(values) < 2 or len(base) < 2:
            row.update(
                diff=values.mean() - base.mean() if len(values) and len(base) else math.nan,
                p_value=math.nan,
                verdict="not enough runs",
            )
        else:
            diff = values.mean() - base.mean()
            if values.std() == 0 and base.std() == 0:
                p = 0.0 if diff else 1.0
            else:
                p = float(stats.ttest_ind(values, base, equal_var=False).pvalue)
            verdict = (
                "no detectable difference" if p >= alpha else ("better" if diff > 0 else "worse")
            )
            row.update(diff=diff, p_value=p, verdict=verdict)
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- figures
def _figures(
    frame: pd.DataFrame,
    summary: pd.DataFrame,
    client: Any,
    metric: str,
    out: Path,
) -> list[tuple[str, str]]:
    """Write the PNGs; return (title, file name) pairs."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    from . import plots  # noqa: F401  (sets the Agg backend and the theme)

    finished = frame[frame["status"] == "FINISHED"].copy()
    figures: list[tuple[str, str]] = []
    order = list(summary["experiment"])
    label = metric.replace("_", " ")

    def save(fig: Any, name: str, title: str) -> None:
        fig.savefig(out / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        figures.append((title, name))

    if metric in finished and finished[metric].notna().any():
        height = max(3.0, 0.45 * len(order) + 1.2)
        fig, ax = plt.subplots(figsize=(9, height))
        sns.boxplot(
            data=finished,
            y="experiment",
            x=metric,
            order=order,
            color="0.9",
            showfliers=False,
            ax=ax,
        )
        sns.stripplot(
            data=finished,
            y="experiment",
            x=metric,
            order=order,
            hue="experiment",
            palette="deep",
            legend=False,
            size=6,
            jitter=0.15,
            ax=ax,
        )
        ax.set_xlabel(label)
        ax.set_ylabel("")
        ax.set_title(f"{label} of every trial, per experiment")
        save(fig, "accuracy_per_experiment.png", f"{label.capitalize()} per experiment")

    # learning curves of each experiment's best trial
    curves = []
    for _, row in summary.iterrows():
        if not row.get("best_run_id"):
            continue
        for key in (M.VAL_ACCURACY, M.TRAIN_ACCURACY):
            for m in client.get_metric_history(row["best_run_id"], key):
                curves.append(
                    {
                        "experiment": row["experiment"],
                        "epoch": m.step,
                        "split": key.removesuffix("_accuracy"),
                        "accuracy": m.value,
                    }
                )
    if curves:
        data = pd.DataFrame(curves)
        fig, ax = plt.subplots(figsize=(9, 5))
        sns.lineplot(
            data=data, x="epoch", y="accuracy", hue="experiment", style="split", marker="o", ax=ax
        )
        ax.set_title("Learning curves of each experiment's best trial")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
        save(fig, "learning_curves.png", "Learning curves (best trial per experiment)")

    # searched parameter vs accuracy
    varying = searched_params(finished)
    if varying and metric in finished:
        cols = min(3, len(varying))
        rows_ = math.ceil(len(varying) / cols)
        fig, axes = plt.subplots(rows_, cols, figsize=(4.5 * cols, 3.6 * rows_), squeeze=False)
        for ax, col in zip(axes.flat, varying, strict=False):
            # only the experiments that searched this parameter (others merely fixed it)
            searched = finished.groupby("experiment")[col].transform("nunique") > 1
            data = finished[searched & finished[col].notna()].copy()
            numeric = pd.to_numeric(data[col], errors="coerce")
            continuous = numeric.notna().all() and (
                numeric.nunique() > 6 or (numeric % 1 != 0).any()
            )
            if continuous:
                data[col] = numeric
                sns.scatterplot(data=data, x=col, y=metric, hue="experiment", ax=ax, legend=False)
                if col.endswith(".lr"):
                    ax.set_xscale("log")
            else:
                sns.stripplot(
                    data=data,
                    x=col,
                    y=metric,
                    hue="experiment",
                    ax=ax,
                    legend=False,
                    order=sorted(data[col].unique(), key=_natural),
                )
                plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
            ax.set_xlabel(col.removeprefix("params."))
            ax.set_ylabel(label)
        for ax in list(axes.flat)[len(varying) :]:
            ax.set_visible(False)
        fig.suptitle("Searched parameters vs " + label)
        fig.tight_layout()
        save(fig, "params_vs_accuracy.png", "Searched parameters vs accuracy")

    # optimization history: best so far by trial, per sweep
    if M.BEST_VAL_ACCURACY in finished:
        hist = []
        for (name, parent), group in frame.groupby(["experiment", "parent_run_id"], sort=False):
            group = group.sort_values("start_time")
            vals = group[M.BEST_VAL_ACCURACY].astype(float)
            best = vals.cummax().ffill()
            for i, v in enumerate(best, start=1):
                hist.append(
                    {
                        "experiment": name,
                        "sweep": parent[:8],
                        "trial": i,
                        "best validation accuracy so far": v,
                    }
                )
        data = pd.DataFrame(hist).dropna()
        if not data.empty:
            fig, ax = plt.subplots(figsize=(9, 5))
            sns.lineplot(
                data=data,
                x="trial",
                y="best validation accuracy so far",
                hue="experiment",
                units="sweep",
                estimator=None,
                drawstyle="steps-post",
                ax=ax,
            )
            ax.set_title("Optimization history (each line one sweep)")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
            save(fig, "optimization_history.png", "Optimization history")

    # the best trial's confusion matrix, as logged with the trial
    if metric in finished and finished[metric].notna().any():
        best = finished.loc[finished[metric].idxmax()]
        try:
            path = Path(
                client.download_artifacts(best["run_id"], "confusion_matrix.png", str(out))
            )
        except Exception:  # a run without the artifact: the report goes on without it
            path = None
        if path is not None:
            path.rename(out / "best_confusion_matrix.png")
            figures.append(
                (
                    f"Confusion matrix of the best trial ({best['experiment']}, "
                    f"{label} {best[metric]:.4f}, run {best['run_id'][:8]})",
                    "best_confusion_matrix.png",
                )
            )
    return figures


def _short(value: Any) -> str:
    """A param value for a table: floats to 4 significant digits."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(value) if number.is_integer() else f"{number:.4g}"


def _natural(value: Any) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


# ----------------------------------------------------------------------------- writing
def _pct(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def _ci(row: pd.Series, short: str) -> str:
    low, high = row[f"{short}_ci_low"], row[f"{short}_ci_high"]
    return "–" if math.isnan(low) else f"{100 * low:.2f}–{100 * high:.2f}"


def summary_markdown(summary: pd.DataFrame, comparison: pd.DataFrame) -> str:
    """The main table and the comparison table, as Markdown."""
    lines = [
        "| experiment | budget | trials (failed) | val mean ± std | val best | test mean ± std "
        "| test 95% CI | test median | test best | best trial's params | train h |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for _, r in summary.iterrows():
        std_v = "" if math.isnan(r["val_std"]) else f" ± {100 * r['val_std']:.2f}"
        std_t = "" if math.isnan(r["test_std"]) else f" ± {100 * r['test_std']:.2f}"
        lines.append(
            f"| {r['experiment']} | {r['budget']} | {r['trials']} ({r['failed']}) | "
            f"{_pct(r['val_mean'])}{std_v} | {_pct(r['val_best'])} | {_pct(r['test_mean'])}"
            f"{std_t} | {_ci(r, 'test')} | {_pct(r['test_median'])} | {_pct(r['test_best'])} | "
            f"{r['best_params'] or '–'} | {r['train_hours']:.2f} |"
        )
    lines += [
        "",
        f"Compared with **{comparison['baseline'].iloc[0]}** (Welch's t-test on the trials' "
        "accuracy, 5% level):",
        "",
        "| experiment | trials | difference in mean | p-value | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for _, r in comparison.iterrows():
        diff = "–" if math.isnan(r["diff"]) else f"{100 * r['diff']:+.2f} points"
        p = "–" if math.isnan(r["p_value"]) else f"{r['p_value']:.3g}"
        lines.append(f"| {r['experiment']} | {r['n']} | {diff} | {p} | {r['verdict']} |")
    return "\n".join(lines)


def _html(md_tables: str, figures: list[tuple[str, str]], out: Path, title: str) -> str:
    """A self-contained page: the tables as HTML, every figure embedded as base64."""
    body = []
    table: list[str] = []

    def flush() -> None:
        if not table:
            return
        rows = [r.strip("|").split(" | ") for r in table if not r.startswith("| ---")]
        head, *rest = rows
        body.append(
            "<table><thead><tr>"
            + "".join(f"<th>{html.escape(c.strip())}</th>" for c in head)
            + "</tr></thead><tbody>"
        )
        for r in rest:
            body.append(
                "<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>"
            )
        body.append("</tbody></table>")
        table.clear()

    for line in md_tables.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.strip():
            text = html.escape(line).replace("**", "")
            body.append(f"<p>{text}</p>")
    flush()
    for caption, name in figures:
        data = base64.b64encode((out / name).read_bytes()).decode()
        body.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "th{background:#f0f0f0}img{max-width:100%;border:1px solid #eee}"
        "figure{margin:2em 0}figcaption{color:#555;font-size:14px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        + "\n".join(body)
        + "</body></html>"
    )


@dataclass(frozen=True)
class Report:
    summary: pd.DataFrame
    comparison: pd.DataFrame
    runs: pd.DataFrame
    markdown: str
    files: tuple[Path, ...]


def build_report(
    tracking_uri: str,
    out: str | Path = "reports",
    *,
    experiments: list[str] | None = None,
    since: datetime | None = None,
    metric: str = M.TEST_ACCURACY,
    baseline: str | None = None,
) -> Report:
    """Everything ``analyze_results.py`` does: load, summarise, compare, plot, write."""
    frame, client = load_runs(tracking_uri, experiments, since)
    if metric not in frame.columns:
        known = sorted(
            c
            for c in frame.columns
            if c in (M.TEST_ACCURACY, M.BEST_VAL_ACCURACY) or c.endswith("accuracy")
        )
        raise ReportError(
            f"no trial logged the metric {metric!r}; metrics with accuracy in "
            f"the store: {', '.join(known) or 'none'}. Pick one with --metric."
        )
    summary = summarize(frame, metric)
    names = list(summary["experiment"])
    if baseline is None:
        baseline = names[0]
    elif baseline not in names:
        matches = [n for n in names if _names(n, baseline)]
        if not matches:
            raise ReportError(
                f"baseline {baseline!r} is not among the experiments ({', '.join(names)})."
            )
        baseline = matches[0]
    comparison = compare(frame, baseline, metric)
    # a difference between runs made under different budgets is not the idea's alone
    budgets = dict(zip(summary["experiment"], summary["budget"], strict=True))
    differ = comparison["experiment"].map(budgets) != budgets[baseline]
    comparison.loc[differ, "verdict"] += " (budgets differ)"

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = _figures(frame, summary, client, metric, out)
    tables = summary_markdown(summary, comparison)
    missing = frame[frame["status"] != "FINISHED"]
    notes = []
    if len(missing):
        notes.append(
            f"{len(missing)} trial(s) did not finish (FAILED/KILLED/RUNNING) and are "
            "counted in 'trials' but not in the statistics."
        )
    title = "fmnist-sweep analysis"
    stamp = (
        f"Generated {datetime.now():%Y-%m-%d %H:%M} from `{tracking_uri}`; metric for "
        f"'best' and the comparison: `{metric}`. Budget = epochs per trial, training "
        "images, device."
    )
    md = (
        "\n\n".join(
            [f"# {title}", stamp, tables, *notes]
            + [f"## {caption}\n\n![{caption}]({name})" for caption, name in figures]
        )
        + "\n"
    )
    (out / "analysis.md").write_text(md)
    (out / "analysis.html").write_text(
        _html("\n".join([stamp, "", tables, *notes]), figures, out, title)
    )
    runs_csv = frame.copy()
    runs_csv.to_csv(out / "runs.csv", index=False)
    files = (
        out / "analysis.md",
        out / "analysis.html",
        out / "runs.csv",
        *(out / name for _, name in figures),
    )
    return Report(summary, comparison, frame, tables, files)


def update_actionplan(path: str | Path, tables: str, context: str) -> None:
    """Replace the text between the results markers of ACTIONPLAN.md; keep the rest."""
    path = Path(path)
    text = path.read_text()
    if ACTIONPLAN_START not in text or ACTIONPLAN_END not in text:
        raise ReportError(
            f"{path} has no results markers; add the two lines\n"
            f"{ACTIONPLAN_START}\n{ACTIONPLAN_END}\nwhere the results go."
        )
    head, rest = text.split(ACTIONPLAN_START, 1)
    _, tail = rest.split(ACTIONPLAN_END, 1)
    path.write_text(f"{head}{ACTIONPLAN_START}\n\n{context}\n\n{tables}\n\n{ACTIONPLAN_END}{tail}")
