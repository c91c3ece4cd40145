"""The last step of the data flow: MLflow store -> report, in four steps. *Load* reads
everything from MLflow (the runs table, the best trials' curves, one artifact);
:mod:`sweep.analysis` summarises, compares and judges each hypothesis, :mod:`sweep.analysis`
says which searched parameters matter and what accuracy costs; :mod:`sweep.analysis` draws;
:mod:`sweep.report` writes the same table rows as Markdown and as HTML, and the tables as
CSV. Reads the store; never trains.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .. import names as M
from ..analysis import (
    analyse,
    compare,
    configurations,
    confusion_matrix_figure,
    cost_figure,
    epoch_history,
    history_frame,
    importance_rows,
    learning_curves,
    mark_selected,
    metric_per_experiment,
    optimization_history,
    params_vs_metric,
    read_confusion,
    searched,
    searched_params,
    summarize,
)
from ..analysis import costs as stats_costs
from ..analysis import efficiency as stats_efficiency
from ..analysis import findings as stats_findings
from ..names import RunStatus
from ..record import (
    SEARCH_SPEC,
    StoreError,
    all_runs,
    check,
    is_trial,
    older_mlflow,
    shown,
    sweep_key,
    sweep_row,
    trial_row,
    unwritable,
)
from ._exports import read_results
from ._render import (
    Block,
    Figure,
    configurations_table,
    cost_blocks,
    findings_blocks,
    importance_blocks,
    result_blocks,
    summary_table,
    to_html,
    to_markdown,
)

RESULTS_END = "<!-- results:end -->"  # (the start line names its flag: see markers)
CURVE_METRICS = (M.TRAIN_LOSS, M.TRAIN_ACCURACY, M.VAL_LOSS, M.VAL_ACCURACY)


class ReportError(RuntimeError):
    """Nothing to report (a store without trials, none since --since): a message, not a
    crash (exit status 1)."""


class ReportInputError(ReportError):
    """Bad input, found before anything is written: a store that is missing or cannot be
    used, an --out that cannot be a folder, a flag naming nothing in the store (--metric,
    --baseline, --experiments), a file --update-* cannot rewrite (exit status 2)."""


# ----------------------------------------------------------------------------- load
def matches(name: str, pattern: str) -> bool:
    """Does ``pattern`` pick experiment ``name``: the name, its prefix (``exp7`` for
    ``exp7_steplr_decay``) or a glob?"""
    return name == pattern or name.startswith(pattern + "_") or fnmatch.fnmatch(name, pattern)


def _experiment_number(name: str) -> tuple[int, str]:
    """Sort key: exp2 before exp10; names without a number after, alphabetically."""
    digits = "".join(ch for ch in name.removeprefix("exp").split("_")[0] if ch.isdigit())
    return (int(digits), name) if name.startswith("exp") and digits else (10**6, name)


class Loaded(NamedTuple):
    runs: pd.DataFrame  # one row per trial (child run)
    client: Any  # MLflow's client, for the other reads
    sweeps: pd.DataFrame  # one row per sweep (parent run): runs.sweep_row


def load_runs(
    tracking_uri: str,
    experiments: list[str] | None = None,
    since: datetime | None = None,
) -> Loaded:
    """One row per trial (child run): experiment, ids, configuration, seed, role, status,
    params and final metrics (``val_accuracy``: the returned model's); one row per sweep;
    and the client, for the other reads."""

    try:  # a report reads a store, never creates or changes one
        check(tracking_uri, create=False)
    except StoreError as exc:
        raise ReportInputError(str(exc)) from None
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        client = MlflowClient(tracking_uri)
        found = client.search_experiments()
    except MlflowException as exc:
        older = older_mlflow(tracking_uri, exc)
        if older is None:
            raise
        raise ReportInputError(str(older)) from None
    names = {e.experiment_id: e.name for e in _picked(found, experiments, tracking_uri)}
    runs = all_runs(client, list(names))
    rows = [trial_row(run, names[run.info.experiment_id]) for run in runs if is_trial(run)]
    parents = [r for r in runs if not is_trial(r)]
    keys = {r.info.run_id: sweep_key(r) for r in parents}
    sweeps = pd.DataFrame([sweep_row(r, names[r.info.experiment_id]) for r in parents])
    rows = [r for r in rows if since is None or r["start_time"] >= since]
    for r in rows:
        r["sweep_key"] = keys.get(r["parent_run_id"], r["parent_run_id"])
    if not rows:
        raise ReportError(
            f"the store {shown(tracking_uri)} holds {len(names)} experiment(s) but no trial "
            "(child) runs" + (f" since {since:%Y-%m-%d}" if since else "") + "; nothing to report."
        )
    return Loaded(_ordered(pd.DataFrame(rows)), client, sweeps)


def load_results(
    folder: str | Path, experiments: list[str] | None = None, since: datetime | None = None
) -> Loaded:
    """The runs and sweeps exported under ``folder`` (``python -m sweep export-results``),
    as :func:`load_runs` gives a store's, with a reader for the other reads."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportInputError(
            f"--results {folder}: no such folder. Name the folder export-results wrote."
        )
    runs, reader, sweeps = read_results(folder)
    if runs.empty:
        raise ReportError(f"--results {folder}: no exported experiment (no runs.csv) in it.")
    if experiments:
        keep = [e for e in runs["experiment"].unique() if any(matches(e, p) for p in experiments)]
        if not keep:
            raise ReportInputError(
                f"--experiments {' '.join(experiments)}: no experiment exported in {folder} "
                "matches. Name experiments, prefixes or globs."
            )
        runs = runs[runs["experiment"].isin(keep)]
        sweeps = sweeps[sweeps["experiment"].isin(keep)]
    if since is not None:
        runs = runs[runs["start_time"] >= since]
    return Loaded(_ordered(runs), reader, sweeps.reset_index(drop=True))


class _Both:
    """The other reads of a report over a store and exports together: the store first."""

    def __init__(self, *readers: Any) -> None:
        self.readers = readers

    def get_metric_history(self, run_id: str, key: str) -> list[Any]:
        for reader in self.readers:
            if found := reader.get_metric_history(run_id, key):
                return found
        return []

    def download_artifacts(self, run_id: str, name: str, dst: str) -> str:
        for reader in self.readers[:-1]:
            try:
                return reader.download_artifacts(run_id, name, dst)
            except Exception:  # (not in this one: the next)
                continue
        return self.readers[-1].download_artifacts(run_id, name, dst)


def load_sources(
    tracking_uri: str | None,
    results: str | Path | None,
    experiments: list[str] | None = None,
    since: datetime | None = None,
) -> Loaded:
    """A store's runs, exported runs, or both (a run in both counts once, as the store
    has it)."""
    loaded = [
        *([load_runs(tracking_uri, experiments, since)] if tracking_uri else []),
        *([load_results(results, experiments, since)] if results else []),
    ]
    if len(loaded) == 1:
        return loaded[0]
    runs = pd.concat([x.runs for x in loaded]).drop_duplicates("run_id", keep="first")
    sweeps = pd.concat([x.sweeps for x in loaded]).drop_duplicates("parent_run_id")
    return Loaded(_ordered(runs), _Both(*(x.client for x in loaded)), sweeps)


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["seed"] = frame["seed"].astype("Int64")  # a run failed before its params: no seed
    frame["order"] = frame["experiment"].map(_experiment_number)
    frame = frame.sort_values(["order", "start_time"]).drop(columns="order")
    return frame.reset_index(drop=True)


def _picked(found: list[Any], experiments: list[str] | None, tracking_uri: str) -> list[Any]:
    """The experiments ``--experiments`` names (all by default); one it names that is not
    in the store is bad input."""
    if experiments:
        every = sorted(e.name for e in found if e.name != "Default")
        found = [e for e in found if any(matches(e.name, pat) for pat in experiments)]
        if not found:
            raise ReportInputError(
                f"--experiments {' '.join(experiments)}: no experiment in "
                f"{shown(tracking_uri)} matches (it holds: {', '.join(every[:20]) or 'none'}"
                f"{' ...' if len(every) > 20 else ''}). Name experiments, prefixes or globs."
            )
    if not found:
        raise ReportError(
            f"no experiments in {shown(tracking_uri)}. Run a sweep first: "
            "python -m sweep experiments/quickstart.yaml"
        )
    return found


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

    labels = dict(zip(summary["unit"], summary["label"], strict=True))
    finished = frame[frame["status"] == RunStatus.FINISHED].assign(
        experiment=frame["unit"].map(labels)
    )
    label = metric.replace("_", " ")
    has_metric = metric in finished and finished[metric].notna().any()
    figures = []
    if has_metric:
        fig = metric_per_experiment(finished, metric, list(summary["label"]))
        figures.append(
            (
                f"{label.capitalize()} of every run (budget in brackets)",
                "accuracy_per_experiment",
                fig,
            )
        )
    if not curves.empty:
        fig = learning_curves(
            curves, "Learning curves of each sweep's selected configuration", hue="experiment"
        )
        figures.append(
            (
                "Learning curves (the best run of each selected configuration)",
                "learning_curves",
                fig,
            )
        )
    varying = searched_params(finished)
    if varying and has_metric:
        fig = params_vs_metric(finished, varying, metric)
        figures.append(("Searched parameters vs accuracy", "params_vs_accuracy", fig))
    if finished[M.VAL_ACCURACY].notna().any():
        fig = optimization_history(
            _optimization_frame(frame.assign(experiment=frame["unit"].map(labels))),
            M.VAL_ACCURACY,
            maximize=True,
            hue="experiment",
            units="sweep",
            title="Optimization history (each line one sweep)",
        )
        figures.append(("Optimization history", "optimization_history", fig))
    return [(caption, f"{name}.png", fig) for caption, name, fig in figures]


# ----------------------------------------------------------------------------- the report
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
        table = load_artifact(client, best["best_run_id"], M.CONFUSION_TABLE, out)
        if table is None:
            return None
        cm = read_confusion(table)
        table.unlink()
        figure = confusion_matrix_figure(cm, f"{best['label']}: test set")
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
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    drawn = draw_figures(frame, summary, load_curves(client, summary), metric)
    importance_md, costs_md, analysed = _analysis(frame, summary, sweeps, out)
    figures = _save(out, [*drawn, *analysed])
    cm = _selected_confusion_matrix(client, summary, out)
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


def _save(out: Path, drawn: list[tuple[str, str, Any]]) -> list[Figure]:
    figures = []
    for caption, name, fig in drawn:
        fig.savefig(out / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        figures.append(Figure(caption, name))
    return figures


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


def markers(flag: str) -> tuple[str, str]:
    """The two lines between which ``analyze_results.py FLAG`` writes its results."""
    return (
        f"<!-- results:start (written by `python analyze_results.py {flag}`) -->",
        RESULTS_END,
    )


def section_page(path: str | Path, flag: str) -> str:
    """The text of the Markdown file ``flag`` rewrites, once it is found readable, writable
    and holding both results markers (checked before the report is built, and again before
    the file is written)."""
    path = Path(path)
    start, end = markers(flag)
    try:
        page = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportInputError(
            f"{flag} {path}: no such file. Name the Markdown file whose results section it "
            "rewrites."
        ) from None
    except IsADirectoryError:
        raise ReportInputError(f"{flag} {path}: a folder, not a Markdown file.") from None
    except UnicodeDecodeError as exc:
        raise ReportInputError(
            f"{flag} {path}: not UTF-8 text ({exc.reason} at byte {exc.start}); name a "
            "Markdown file."
        ) from None
    except (OSError, ValueError) as exc:  # no permission, a name too long, a NUL byte
        why = getattr(exc, "strerror", None) or exc
        raise ReportInputError(f"{flag} {path}: cannot be read ({why}).") from None
    why = unwritable(path, folder=False)
    if why:
        raise ReportInputError(f"{flag} {path}: {why}.")
    if start not in page or end not in page:
        raise ReportInputError(
            f"{flag} {path}: the file has no results markers; add the two lines {start} "
            f"and {end} where the results go."
        )
    return page


def update_section(path: str | Path, text: str, context: str, flag: str) -> None:
    """Replace the text between the results markers of ``path``; keep the rest."""
    path = Path(path)
    start, end = markers(flag)
    page = section_page(path, flag)
    head, rest = page.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n\n{context}\n\n{text}\n\n{end}{tail}", encoding="utf-8")


def update_actionplan(path: str | Path, tables: str, context: str) -> None:
    """ACTIONPLAN.md's results section: both result tables."""
    update_section(path, tables, context, "--update-actionplan")
