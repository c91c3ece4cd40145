"""Figures for one trial (curves, confusion matrix) and one sweep (optimization history).

Used by the tracker and by the report; every function returns a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from . import metrics as M  # noqa: E402
from .data import CLASS_NAMES  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")


def learning_curves(history: Sequence[dict[str, float]], title: str = "") -> plt.Figure:
    """Loss and accuracy per epoch, training vs validation, side by side."""
    frame = pd.DataFrame(history)
    frame["epoch"] = np.arange(1, len(frame) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, (what, train, val) in zip(
        axes,
        [("loss", M.TRAIN_LOSS, M.VAL_LOSS), ("accuracy", M.TRAIN_ACCURACY, M.VAL_ACCURACY)],
        strict=True,
    ):
        long = frame.melt("epoch", [train, val], var_name="split", value_name=what)
        long["split"] = long["split"].map({train: "train", val: "validation"})
        sns.lineplot(data=long, x="epoch", y=what, hue="split", marker="o", ax=ax)
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.set_title(f"{what} per epoch")
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
    losses: Sequence[float | None], objective: str, title: str = ""
) -> plt.Figure:
    """Each trial's objective value and the best so far, by trial number."""
    values = [np.nan if v is None else v for v in losses]
    sign = -1.0 if objective == M.VAL_ACCURACY else 1.0  # hyperopt minimises -accuracy
    shown = np.asarray(values, dtype=float) * sign
    best = pd.Series(shown).cummax() if sign < 0 else pd.Series(shown).cummin()
    trials = np.arange(1, len(shown) + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(trials, shown, "o", label="trial", alpha=0.7)
    ax.step(trials, best.ffill(), where="post", label="best so far", color="C3")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective.replace("_", " "))
    ax.set_title(title or "Optimization history")
    ax.legend()
    fig.tight_layout()
    return fig
