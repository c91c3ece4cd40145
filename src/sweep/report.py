"""The last step of the data flow: MLflow store -> report, in four steps. *Load* reads
everything from MLflow (the runs table, the best trials' curves, one artifact);
:mod:`sweep.stats` summarises and compares; :mod:`sweep.plots` draws; *render* writes the
same table rows as Markdown and as HTML, and the runs as CSV. Reads the store; never trains.
"""

from __future__ import annotations

import base64
import fnmatch
import html
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from . import metrics as M
from . import stats
from .store import shown

PAGE = 1000
RESULTS_END = "<!-- results:end -->"  # (the start line names its flag: see markers)
CURVE_METRICS = (M.TRAIN_LOSS, M.TRAIN_ACCURACY, M.VAL_LOSS, M.VAL_ACCURACY)


class ReportError(RuntimeError):
    """Nothing to report (empty store, no matching experiments...): a message, not a crash."""


# ----------------------------------------------------------------------------- load
def matches(name: str, pattern: str) -> bool:
    """Does ``pattern`` pick experiment ``name``: the name, its prefix (``exp7`` for
    ``exp7_steplr_decay``) or a glob?"""
    return name == pattern or name.startswith(pattern + "_") or fnmatch.fnmatch(name, pattern)


def _experiment_number(name: str) -> tuple[int, str]:
    """Sort key: exp2 before exp10; names without a number after, alphabetically."""
    digits = "".join(ch for ch in name.removeprefix("exp").split("_")[0] if ch.isdigit())
    return (int(digits), name) if name.startswith("exp") and digits else (10**6, name)


def _all_runs(client: Any, experiment_ids: list[str]) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, max_results=PAGE, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _trial_row(run: Any, experiment: str) -> dict[str, Any]:
    tags, metrics = run.data.tags, run.data.metrics
    seed = run.data.params.get("train.seed")
    row: dict[str, Any] = {
        "experiment": experiment,
        "parent_run_id": tags[M.TAG_PARENT],
        "run_id": run.info.run_id,
        # runs recorded before configurations were named count as one configuration each
        "config_id": tags.get(M.TAG_CONFIG, run.info.run_id[:8]),
        "seed": int(seed) if seed is not None else None,
        "role": tags.get(M.TAG_ROLE, "trial"),
        "trial": int(tags.get(M.TAG_TRIAL, 0)) or None,
        # a pruned run stopped early on purpose: never selected, never in the statistics
        "status": "PRUNED" if tags.get(M.TAG_PRUNED) == "true" else run.info.status,
        "start_time": datetime.fromtimestamp(run.info.start_time / 1000),
        "failure": tags.get(M.TAG_FAILURE),
    }
    row.update({f"params.{k}": v for k, v in run.data.params.items()})
    row.update(metrics)
    row[M.VAL_ACCURACY] = _returned_model_val(metrics, run.data.params)
    return row


def _returned_model_val(metrics: dict[str, float], params: dict[str, str]) -> float | None:
    """What selection uses: the validation accuracy of the model the run returned. Runs
    recorded before it was logged: the best epoch's if the run restored the best weights,
    else the last epoch's."""
    if M.MODEL_VAL_ACCURACY in metrics:
        return metrics[M.MODEL_VAL_ACCURACY]
    restored = params.get("train.early_stopping.restore_best") == "True"
    return metrics.get(M.BEST_VAL_ACCURACY if restored else M.VAL_ACCURACY)


def _sweep_key(run: Any) -> str:
    """What sweeps must share to be pooled: the whole config, overrides included, except
    its seeds (``SweepIdentity.setup``, under its older name in older stores); a sweep
    recorded without it pools with none."""
    tags = run.data.tags
    return tags.get(M.TAG_SETUP_HASH) or tags.get(M.TAG_SETUP_HASH_BEFORE) or run.info.run_id


def load_runs(
    tracking_uri: str,
    experiments: list[str] | None = None,
    since: datetime | None = None,
) -> tuple[pd.DataFrame, Any]:
    """One row per trial (child run): experiment, ids, configuration, seed, role, status,
    params and final metrics (``val_accuracy``: the returned model's); and the client,
    for the other reads."""
    import os

    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from .store import StoreError, check, older_mlflow

    try:  # a report reads a store, never creates one
        check(tracking_uri, create=False)
    except StoreError as exc:
        raise ReportError(str(exc)) from None
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        client = MlflowClient(tracking_uri)
        found = client.search_experiments()
    except MlflowException as exc:
        older = older_mlflow(tracking_uri, exc)
        if older is None:
            raise
        raise ReportError(str(older)) from None
    if experiments:
        found = [e for e in found if any(matches(e.name, pat) for pat in experiments)]
    if not found:
        which = f" matching {' '.join(experiments)}" if experiments else ""
        raise ReportError(
            f"no experiments{which} in {shown(tracking_uri)}. Run a sweep first: "
            "python -m sweep experiments/quickstart.yaml"
        )
    names = {e.experiment_id: e.name for e in found}
    runs = _all_runs(client, list(names))
    rows = [
        _trial_row(run, names[run.info.experiment_id])
        for run in runs
        if M.TAG_PARENT in run.data.tags  # children only: parents are sweeps
    ]
    keys = {r.info.run_id: _sweep_key(r) for r in runs if M.TAG_PARENT not in r.data.tags}
    rows = [r for r in rows if since is None or r["start_time"] >= since]
    for r in rows:
        r["sweep_key"] = keys.get(r["parent_run_id"], r["parent_run_id"])
    if not rows:
        raise ReportError(
            f"the store {shown(tracking_uri)} holds {len(names)} experiment(s) but no trial "
            "(child) runs" + (f" since {since:%Y-%m-%d}" if since else "") + "; nothing to report."
        )
    frame = pd.DataFrame(rows)
    frame["seed"] = frame["seed"].astype("Int64")  # a run failed before its params: no seed
    frame["order"] = frame["experiment"].map(_experiment_number)
    frame = frame.sort_values(["order", "start_time"]).drop(columns="order")
    return frame.reset_index(drop=True), client


def assign_units(frame: pd.DataFrame, pool: bool = False) -> pd.DataFrame:
    """Add ``unit`` (what one row of the report summarises: one sweep, or with ``pool``
    the sweeps of one experiment with the same config) and ``sweep``, its label."""
    frame = frame.copy()
    key = frame["sweep_key"] if pool else frame["parent_run_id"]
    frame["unit"] = frame["experiment"] + "/" + key
    if pool:  # a run with the configuration and seed of an earlier one is a copy of it
        frame = frame[~frame.duplicated(["unit", "config_id", "seed"]) | frame["seed"].isna()]
    labels = {}
    for experiment, group in frame.groupby("experiment", sort=False):
        units = list(dict.fromkeys(group["unit"]))
        for unit in units:
            sweeps = group.loc[group["unit"] == unit, "parent_run_id"].unique()
            which = f"sweep {sweeps[0][:8]}"
            if len(sweeps) > 1:
                which = f"{len(sweeps)} sweeps of config {unit.split('/')[-1][:8]}"
            alone = len(units) == 1 and len(sweeps) == 1
            labels[unit] = experiment if alone else f"{experiment} ({which})"
    frame["sweep"] = frame["unit"].map(labels)
    return frame


def load_curves(client: Any, summary: pd.DataFrame) -> pd.DataFrame:
    """The per-epoch metrics of the run that stands for each row's selected configuration,
    as :func:`plots.history_frame` lays them out (one frame, labelled by ``label``)."""
    from .evaluation import epoch_history
    from .plots import history_frame

    frames = []
    for _, row in summary.iterrows():
        if not row.get("best_run_id"):
            continue
        run_id = row["best_run_id"]
        history = epoch_history({k: client.get_metric_history(run_id, k) for k in CURVE_METRICS})
        frames.append(history_frame(history, experiment=row["label"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_artifact(client: Any, run_id: str, name: str, out: Path) -> Path | None:
    """Copy one artifact of a run into ``out``; None if the run has none of that name."""
    try:
        return Path(client.download_artifacts(run_id, name, str(out)))
    except Exception:  # a run without the artifact: the report goes on without it
        return None


# ----------------------------------------------------------------------------- figures
def _optimization_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Validation accuracy per trial, numbered within each sweep (by trial number, else by
    start time)."""
    data = frame.sort_values(["parent_run_id", "trial", "start_time"], na_position="last")
    position = data.groupby("parent_run_id").cumcount() + 1
    return pd.DataFrame(
        {
            "experiment": data["experiment"],
            "sweep": data["parent_run_id"].str[:8],
            "trial": data["trial"].fillna(position).astype(int),
            M.VAL_ACCURACY: data[M.VAL_ACCURACY].astype(float),
        }
    )


def draw_figures(
    frame: pd.DataFrame,
    summary: pd.DataFrame,
    curves: pd.DataFrame,
    metric: str,
) -> list[tuple[str, str, Any]]:
    """(caption, file name, Figure) for every figure the data allows. Every figure names
    its rows by ``label`` (the sweep and its budget), never by experiment alone."""
    from . import plots

    labels = dict(zip(summary["unit"], summary["label"], strict=True))
    finished = frame[frame["status"] == "FINISHED"].assign(experiment=frame["unit"].map(labels))
    label = metric.replace("_", " ")
    has_metric = metric in finished and finished[metric].notna().any()
    figures = []
    if has_metric:
        fig = plots.metric_per_experiment(finished, metric, list(summary["label"]))
        figures.append(
            (
                f"{label.capitalize()} of every run (budget in brackets)",
                "accuracy_per_experiment",
                fig,
            )
        )
    if not curves.empty:
        fig = plots.learning_curves(
            curves, "Learning curves of each sweep's selected configuration", hue="experiment"
        )
        figures.append(
            (
                "Learning curves (the best run of each selected configuration)",
                "learning_curves",
                fig,
            )
        )
    varying = stats.searched_params(finished)
    if varying and has_metric:
        fig = plots.params_vs_metric(finished, varying, metric)
        figures.append(("Searched parameters vs accuracy", "params_vs_accuracy", fig))
    if finished[M.VAL_ACCURACY].notna().any():
        fig = plots.optimization_history(
            _optimization_frame(frame.assign(experiment=frame["unit"].map(labels))),
            M.VAL_ACCURACY,
            maximize=True,
            hue="experiment",
            units="sweep",
            title="Optimization history (each line one sweep)",
        )
        figures.append(("Optimization history", "optimization_history", fig))
    return [(caption, f"{name}.png", fig) for caption, name, fig in figures]


# ----------------------------------------------------------------------------- render
@dataclass(frozen=True)
class Table:
    """Rows of display strings, rendered both as Markdown and as HTML."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def markdown(self) -> str:
        def line(cells: tuple[str, ...]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        rule = "| " + " | ".join("---" for _ in self.headers) + " |"
        return "\n".join([line(self.headers), rule, *(line(r) for r in self.rows)])

    def html(self) -> str:
        frame = pd.DataFrame(list(self.rows), columns=list(self.headers))
        return frame.to_html(index=False, escape=True, border=0)


@dataclass(frozen=True)
class Figure:
    caption: str
    name: str


Block = str | Table | Figure  # a paragraph (Markdown emphasis allowed), a table, a figure


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
    and how that configuration's runs did."""
    headers = (
        "sweep",
        "budget",
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
            r["budget"],
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
        f"Compared with **{baseline}** on `{metric}` of the selected configurations' runs "
        "(Welch's t-test; p-values Holm-corrected across the comparisons; 5% level):",
        comparison_table(comparison, labels),
    ]


def to_markdown(blocks: list[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Table):
            parts.append(block.markdown())
        elif isinstance(block, Figure):
            parts.append(f"## {block.caption}\n\n![{block.caption}]({block.name})")
        else:
            parts.append(block)
    return "\n\n".join(parts)


def to_html(blocks: list[Block], out: Path, title: str) -> str:
    """A self-contained page: the tables as HTML, every figure embedded as base64."""
    body = []
    for block in blocks:
        if isinstance(block, Table):
            body.append(block.html())
        elif isinstance(block, Figure):
            data = base64.b64encode((out / block.name).read_bytes()).decode()
            caption = html.escape(block.caption)
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
        else:
            text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(block))
            body.append(f"<p>{text}</p>")
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


# ----------------------------------------------------------------------------- the report
@dataclass(frozen=True)
class Report:
    summary: pd.DataFrame
    comparison: pd.DataFrame
    runs: pd.DataFrame
    markdown: str  # the result tables (what the command prints)
    summary_markdown: str  # the first of them: one row per sweep
    files: tuple[Path, ...]


def _check_metric(frame: pd.DataFrame, metric: str) -> None:
    if metric not in frame.columns:
        known = sorted(c for c in frame.columns if c.endswith("accuracy"))
        raise ReportError(
            f"no trial logged the metric {metric!r}; metrics with accuracy in "
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
        raise ReportError(
            f"baseline {baseline!r} is not among the experiments ({', '.join(names)})."
        )
    return summary[summary["experiment"] == found[0]]["unit"].iloc[-1]


def _comparison(frame: pd.DataFrame, summary: pd.DataFrame, baseline: str, metric: str):
    comparison = stats.compare(frame, baseline, metric)
    # a difference between runs made under different budgets is not the idea's alone
    budgets = dict(zip(summary["unit"], summary["budget"], strict=True))
    differ = comparison["unit"].map(budgets) != budgets[baseline]
    comparison.loc[differ, "verdict"] += " (budgets differ)"
    return comparison


def _selected_confusion_matrix(client: Any, summary: pd.DataFrame, out: Path) -> Figure | None:
    """The confusion matrix of the run that stands for the sweep whose selected
    configuration has the highest mean validation accuracy, copied into ``out``."""
    ranked = summary.dropna(subset=["val_mean"]).sort_values("val_mean", ascending=False)
    if ranked.empty:
        return None
    best = ranked.iloc[0]
    target = out / "best_confusion_matrix.png"
    path = load_artifact(client, best["best_run_id"], M.CONFUSION_FIGURE, out)
    if path is not None:
        path.rename(target)
    else:  # a run whose figures were not drawn: from its numbers
        import matplotlib.pyplot as plt

        from . import plots
        from .evaluation import read_confusion

        table = load_artifact(client, best["best_run_id"], M.CONFUSION_TABLE, out)
        if table is None:
            return None
        cm = read_confusion(table)
        table.unlink()
        figure = plots.confusion_matrix_figure(cm, f"{best['label']}: test set")
        figure.savefig(target, dpi=110, bbox_inches="tight")
        plt.close(figure)
    caption = (
        f"Confusion matrix on the test set of {best['label']}: the best run (on validation) "
        f"of its selected configuration {best['selected_config']}, run {best['best_run_id'][:8]}"
    )
    return Figure(caption, "best_confusion_matrix.png")


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
    tracking_uri: str,
    out: str | Path = "reports",
    *,
    experiments: list[str] | None = None,
    since: datetime | None = None,
    metric: str = M.TEST_ACCURACY,
    baseline: str | None = None,
    pool: bool = False,
) -> Report:
    """Everything ``analyze_results.py`` does: load, summarise, compare, plot, write.
    ``metric`` is what is compared and drawn; selection is always on validation."""
    import matplotlib.pyplot as plt

    frame, client = load_runs(tracking_uri, experiments, since)
    _check_metric(frame, metric)
    frame = stats.mark_selected(assign_units(frame, pool))
    summary = stats.summarize(frame)
    summary["label"] = summary["sweep"] + " [" + summary["budget"] + "]"
    baseline = _pick_baseline(summary, baseline)
    comparison = _comparison(frame, summary, baseline, metric)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for caption, name, fig in draw_figures(frame, summary, load_curves(client, summary), metric):
        fig.savefig(out / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        figures.append(Figure(caption, name))
    cm = _selected_confusion_matrix(client, summary, out)
    figures += [cm] if cm else []
    results = result_blocks(summary, comparison, metric)
    configs = [
        "Every configuration of every sweep (its runs are independent seeds):",
        configurations_table(stats.configurations(frame)),
    ]
    blocks = [_stamp(tracking_uri), *results, *configs, *_notes(frame)]
    title = "fmnist-sweep analysis"
    (out / "analysis.md").write_text(to_markdown([f"# {title}", *blocks, *figures]) + "\n")
    (out / "analysis.html").write_text(to_html([*blocks, *figures], out, title))
    _runs_csv(frame, out / "runs.csv")
    files = (out / "analysis.md", out / "analysis.html", out / "runs.csv")
    files += tuple(out / f.name for f in figures)
    summary_md = summary_table(summary).markdown()
    return Report(summary, comparison, frame, to_markdown(results), summary_md, files)


def _stamp(tracking_uri: str) -> str:
    return (
        f"Generated {datetime.now():%Y-%m-%d %H:%M} from `{shown(tracking_uri)}`. One row per "
        "sweep; budget = epochs per run, training images, device."
    )


def _notes(frame: pd.DataFrame) -> list[str]:
    missing = int((frame["status"] != "FINISHED").sum())
    if not missing:
        return []
    return [
        f"{missing} run(s) did not finish (FAILED/KILLED/RUNNING) or were pruned and "
        "are counted in 'runs' but not in the statistics."
    ]


def markers(flag: str) -> tuple[str, str]:
    """The two lines between which ``analyze_results.py FLAG`` writes its results."""
    return (
        f"<!-- results:start (written by `python analyze_results.py {flag}`) -->",
        RESULTS_END,
    )


def update_section(path: str | Path, text: str, context: str, flag: str) -> None:
    """Replace the text between the results markers of ``path``; keep the rest."""
    path = Path(path)
    start, end = markers(flag)
    page = path.read_text()
    if start not in page or end not in page:
        raise ReportError(
            f"{path} has no results markers; add the two lines\n{start}\n{end}\n"
            "where the results go."
        )
    head, rest = page.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n\n{context}\n\n{text}\n\n{end}{tail}")


def update_actionplan(path: str | Path, tables: str, context: str) -> None:
    """ACTIONPLAN.md's results section: both result tables."""
    update_section(path, tables, context, "--update-actionplan")
