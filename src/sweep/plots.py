"""Every figure, as a pure function of a DataFrame (or an array) returning a matplotlib
Figure. Used by the trials and the sweep (their artifacts) and by the report; nothing here
reads MLflow or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from . import metrics as M  # noqa: E402
from .data import CLASS_NAMES  # noqa: E402
from .stats import best_so_far  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")

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
        order = sorted(data[col].unique(), key=_natural)
        sns.stripplot(
            data=data, x=col, y=metric, hue="experiment", ax=ax, legend=False, order=order
        )
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    ax.set_xlabel(col.removeprefix("params."))
    ax.set_ylabel(metric.replace("_", " "))


def _natural(value: Any) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))
