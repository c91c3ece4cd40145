"""Every figure, as a pure function of a DataFrame (or an array) returning a matplotlib
Figure. Used by the trials and the sweep (their artifacts) and by the report; nothing here
reads MLflow or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib

from ..names import RunStatus

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .. import names as M  # noqa: E402
from ..train import CLASS_NAMES  # noqa: E402
from ._stats import best_so_far, natural_key  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")
# titles and labels quote experiment names and values as written: "cost_$1_vs_$2" is text,
# never a formula for matplotlib's mathtext to parse (and fail on)
matplotlib.rcParams["text.parse_math"] = False

SPLITS = {"train": (M.TRAIN_LOSS, M.TRAIN_ACCURACY), "validation": (M.VAL_LOSS, M.VAL_ACCURACY)}


def history_frame(history: Sequence[dict[str, float]], **labels: Any) -> pd.DataFrame:
    """Per-epoch metrics (one dict per epoch, epochs from 1) -> the long frame that
    :func:`learning_curves` draws: epoch, split, loss, accuracy, and any ``labels``."""
    rows = [
        {"epoch": epoch, "split": split, "loss": r.get(loss), "accuracy": r.get(acc), **labels}
        for epoch, r in enumerate(history, start=1)
        for split, (loss, acc) in SPLITS.items()
    ]
    return pd.DataFrame(rows, columns=["epoch", "split", "loss", "accuracy", *labels])


def learning_curves(frame: pd.DataFrame, title: str = "", hue: str | None = None) -> plt.Figure:
    """Loss and accuracy per epoch, training vs validation, side by side; with ``hue`` (a
    column such as ``experiment``) one colour per value and the split as the line style."""
    fig, axes = plt.subplots(1, 2, figsize=(11 if hue else 10, 4))
    for ax, what in zip(axes, ("loss", "accuracy"), strict=True):
        data = frame.dropna(subset=[what])
        style = {"hue": hue, "style": "split"} if hue else {"hue": "split"}
        sns.lineplot(data=data, x="epoch", y=what, marker="o", ax=ax, **style)
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.set_title(f"{what} per epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if hue and ax.get_legend() is not None:
            ax.get_legend().remove()
    if hue:
        handles, labels = axes[1].get_legend_handles_labels()
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix_figure(cm: np.ndarray, title: str = "Confusion matrix") -> plt.Figure:
    """Counts with true labels as rows; class names on both axes."""
    fig, ax = plt.subplots(figsize=(8.5, 7))
    sns.heatmap(
        cm,
        annot=True,
        fmt="d",
        cmap="Blues",
        cbar=False,
        xticklabels=CLASS_NAMES,
        yticklabels=CLASS_NAMES,
        annot_kws={"size": 8},
        ax=ax,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    plt.setp(ax.get_xticklabels(), rotation=40, ha="right")
    fig.tight_layout()
    return fig


def optimization_history(
    frame: pd.DataFrame,
    value: str,
    *,
    maximize: bool,
    hue: str | None = None,
    units: str | None = None,
    title: str = "",
) -> plt.Figure:
    """Each trial's ``value`` by trial number, and the best so far (in the objective's
    direction) as a step line; ``units`` (a column such as ``sweep``) draws one line each."""
    data = frame.sort_values([c for c in (units, "trial") if c]).copy()
    keys = data[units] if units else pd.Series(0, index=data.index)
    best = data.groupby(keys, sort=False)[value].transform(lambda v: best_so_far(v, maximize))
    data["best so far"] = best
    fig, ax = plt.subplots(figsize=(9, 5) if hue else (7, 4))
    points = {"hue": hue, "legend": False} if hue else {"label": "trial"}
    sns.scatterplot(data=data, x="trial", y=value, alpha=0.6, ax=ax, **points)
    colour = {"hue": hue} if hue else {"color": "C3", "label": "best so far"}
    sns.lineplot(
        data=data.dropna(subset=["best so far"]),
        x="trial",
        y="best so far",
        units=units,
        estimator=None,
        drawstyle="steps-post",
        ax=ax,
        **colour,
    )
    ax.set_xlabel("trial")
    ax.set_ylabel(value.replace("_", " "))
    ax.set_title(title or "Optimization history")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ax.get_legend() is not None:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def metric_per_experiment(frame: pd.DataFrame, metric: str, order: list[str]) -> plt.Figure:
    """A box per row (an experiment, or a sweep) with every run's ``metric`` as a dot."""
    label = metric.replace("_", " ")
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.45 * len(order) + 1.2)))
    common = {"data": frame, "y": "experiment", "x": metric, "order": order, "ax": ax}
    sns.boxplot(color="0.9", showfliers=False, **common)
    sns.stripplot(hue="experiment", palette="deep", legend=False, size=6, jitter=0.15, **common)
    ax.set_xlabel(label)
    ax.set_ylabel("")
    ax.set_title(f"{label} of every run")
    return fig


def params_vs_metric(frame: pd.DataFrame, params: list[str], metric: str) -> plt.Figure:
    """One panel per searched parameter: its value against ``metric``, for the
    experiments that searched it (others merely fixed it)."""
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.6 * rows), squeeze=False)
    for ax, col in zip(axes.flat, params, strict=False):
        searched = frame.groupby("experiment")[col].transform("nunique") > 1
        _param_panel(ax, frame[searched & frame[col].notna()].copy(), col, metric)
    for ax in list(axes.flat)[len(params) :]:
        ax.set_visible(False)
    fig.suptitle("Searched parameters vs " + metric.replace("_", " "))
    fig.tight_layout()
    return fig


def _param_panel(ax: Any, data: pd.DataFrame, col: str, metric: str) -> None:
    numeric = pd.to_numeric(data[col], errors="coerce")
    continuous = numeric.notna().all() and (numeric.nunique() > 6 or (numeric % 1 != 0).any())
    if continuous:
        data[col] = numeric
        sns.scatterplot(data=data, x=col, y=metric, hue="experiment", ax=ax, legend=False)
        if col.endswith(".lr"):
            ax.set_xscale("log")
    else:
        order = sorted(data[col].unique(), key=natural_key)
        sns.stripplot(
            data=data, x=col, y=metric, hue="experiment", ax=ax, legend=False, order=order
        )
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    ax.set_xlabel(col.removeprefix("params."))
    ax.set_ylabel(metric.replace("_", " "))


def importance_bars(table: pd.DataFrame, title: str) -> plt.Figure:
    """One bar per searched parameter: its share of the objective's variance (fANOVA)."""
    data = table.sort_values("importance", ascending=False).assign(
        param=lambda t: t["param"].str.removeprefix("params.")
    )
    fig, ax = plt.subplots(figsize=(7, max(2.2, 0.5 * len(data) + 1.2)))
    sns.barplot(data=data, y="param", x="importance", color="C0", ax=ax)
    for patch, value in zip(ax.patches, data["importance"], strict=False):
        ax.text(
            patch.get_width() + 0.01,
            patch.get_y() + patch.get_height() / 2,
            f"{value:.2f}",
            va="center",
            fontsize=9,
        )
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("importance (share of the variance of the objective, fANOVA)")
    ax.set_ylabel("")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def _axis_positions(values: pd.Series, log: bool) -> tuple[pd.Series, list[float], list[str]]:
    """A column on a [0, 1] axis: categories evenly spaced in their natural order, numbers
    scaled from their least to their greatest (on a log scale with ``log``); and ticks."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all() and numbers.nunique() > 6:
        scaled = np.log10(numbers) if log and (numbers > 0).all() else numbers
        low, high = float(scaled.min()), float(scaled.max())
        span = high - low or 1.0
        ticks = np.linspace(low, high, 4)
        labels = [f"{10**t if log else t:.3g}" for t in ticks]
        return (scaled - low) / span, list((ticks - low) / span), labels
    order = sorted(values.astype(str).unique(), key=natural_key)
    where = {v: i / max(1, len(order) - 1) for i, v in enumerate(order)}
    return values.astype(str).map(where), list(where.values()), [short_label(v) for v in order]


def short_label(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() else f"{number:.3g}"


def parallel_coordinates(
    runs: pd.DataFrame, params: list[str], value: str, title: str, log: Sequence[str] = ()
) -> plt.Figure:
    """Every run a line through its searched values and its ``value`` (the last axis),
    coloured by ``value``; pruned runs dashed grey (their value is from fewer epochs).
    ``log``: params drawn on a log scale."""

    data = runs[runs["status"].isin([RunStatus.FINISHED, "PRUNED"]) & runs[value].notna()]
    axes_cols = [*params, value]
    fig, ax = plt.subplots(figsize=(max(6.0, 2.2 * len(axes_cols)), 4.6))
    placed = {}
    for i, col in enumerate(axes_cols):
        placed[col], ticks, labels = _axis_positions(data[col], col in log)
        ax.axvline(i, color="0.6", lw=1)
        for t, label in zip(ticks, labels, strict=True):
            ax.text(i + 0.03, t, label, fontsize=8, va="center", color="0.25")
    colour = Normalize(float(data[value].min()), float(data[value].max()))
    cmap = plt.get_cmap("viridis")
    for index, run in data.iterrows():
        ys = [placed[c].loc[index] for c in axes_cols]
        if run["status"] == "PRUNED":
            ax.plot(range(len(ys)), ys, color="0.55", ls="--", lw=1, alpha=0.8)
        else:
            ax.plot(range(len(ys)), ys, color=cmap(colour(run[value])), lw=1.6, alpha=0.85)
    ax.set_xticks(range(len(axes_cols)), [c.removeprefix("params.") for c in axes_cols])
    plt.setp(ax.get_xticklabels(), rotation=15, ha="right", fontsize=9)
    ax.set_yticks([])
    ax.set_xlim(-0.1, len(axes_cols) - 0.6)
    ax.grid(False)
    bar = fig.colorbar(ScalarMappable(colour, cmap), ax=ax, pad=0.02)
    bar.set_label(value.replace("_", " "))
    pruned = int((data["status"] == "PRUNED").sum())
    ax.set_title(title + (f" ({pruned} pruned: dashed)" if pruned else ""), fontsize=11)
    fig.tight_layout()
    return fig


def _cells(values: pd.Series) -> pd.Series:
    """A heat map's rows or columns: the values themselves, or for a number taking many,
    four quantile bins."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all() and numbers.nunique() > 6:
        bins = pd.qcut(numbers.rank(method="first"), 4, labels=False)
        span = numbers.groupby(bins).agg(["min", "max"])
        names = {b: f"{lo:.3g}–{hi:.3g}" for b, (lo, hi) in span.iterrows()}
        return bins.map(names)
    return values.astype(str).map(short_label)


def interaction_heatmap(runs: pd.DataFrame, x: str, y: str, value: str, title: str) -> plt.Figure:
    """The mean ``value`` of the complete runs in each cell of two parameters (numbers with
    many values in quartiles), with each cell's count of runs."""
    data = runs[(runs["status"] == RunStatus.FINISHED) & runs[value].notna()]
    cells = pd.DataFrame({"x": _cells(data[x]), "y": _cells(data[y]), value: data[value]})
    order_x = sorted(cells["x"].unique(), key=_first_number)
    order_y = sorted(cells["y"].unique(), key=_first_number)
    mean = cells.pivot_table(index="y", columns="x", values=value, aggfunc="mean")
    count = cells.pivot_table(index="y", columns="x", values=value, aggfunc="count")
    mean, count = (
        mean.reindex(index=order_y, columns=order_x),
        count.reindex(index=order_y, columns=order_x),
    )
    text = mean.map(lambda v: "" if pd.isna(v) else f"{100 * v:.2f}%")
    text = text + count.map(lambda n: "" if pd.isna(n) else f"\n(n={int(n)})")
    fig, ax = plt.subplots(
        figsize=(max(7.0, 1.3 * len(order_x) + 3.5), max(4.5, 0.9 * len(order_y) + 2.5))
    )
    sns.heatmap(
        mean,
        annot=text,
        fmt="",
        cmap="viridis",
        ax=ax,
        annot_kws={"size": 8},
        cbar_kws={"label": value.replace("_", " ")},
    )
    ax.set_xlabel(x.removeprefix("params."))
    ax.set_ylabel(y.removeprefix("params."))
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    plt.setp(ax.get_yticklabels(), rotation=0)
    ax.grid(False)  # (an empty cell: no run there)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _first_number(label: str) -> tuple[int, float, str]:
    """Sort key of a cell's label: its first number ("0.001–0.003": 0.001), else the text."""
    head = label.split("–")[0]
    return (*natural_key(head)[:2], label)


def cost_figure(costs: pd.DataFrame, title: str) -> plt.Figure:
    """Mean validation accuracy of every configuration against its parameters and against
    its training seconds per run, the Pareto front of each (validation: it selects) as a
    line; the test mean of the same configurations as open markers, shown only."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    panels = (
        ("parameters", "front_parameters", "parameters"),
        ("seconds_per_run", "front_seconds", "training seconds per run"),
    )
    for ax, (cost, front, label) in zip(axes, panels, strict=True):
        data = costs.dropna(subset=[cost, "val_mean"])
        sns.scatterplot(
            data=data, x=cost, y="val_mean", hue="sweep", ax=ax, s=45, legend=ax is axes[-1]
        )
        ax.scatter(
            data[cost],
            data["test_mean"],
            facecolors="none",
            edgecolors="0.4",
            s=30,
            label="test mean (shown only)",
        )
        for _, group in data[data[front]].groupby("budget", sort=False):
            line = group.sort_values(cost)
            ax.plot(
                line[cost],
                line["val_mean"],
                color="C3",
                lw=1.4,
                drawstyle="steps-post",
                marker="o",
                mfc="none",
                ms=11,
                label="Pareto front (validation)",
            )
        ax.set_xscale("log")
        ax.set_xlabel(label + " (log scale)")
        ax.set_ylabel("mean accuracy of the configuration's runs")
    handles, labels = axes[-1].get_legend_handles_labels()
    keep = dict(zip(labels, handles, strict=True))
    axes[-1].legend(keep.values(), keep.keys(), loc="lower right", fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
