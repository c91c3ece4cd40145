"""The report's own figures, drawn from the runs table (:mod:`sweep.analysis` draws):
the metric of every run, the selected configurations' learning curves, the searched
parameters, the optimization history, and the confusion matrix of the best selected
configuration from its numbers; saved as PNG files beside the report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from .. import names as M
from ..analysis import (
    confusion_matrix_figure,
    learning_curves,
    metric_per_experiment,
    optimization_history,
    params_vs_metric,
    read_confusion,
    searched_params,
)
from ..names import RunStatus
from ..record import artifact_if_any
from ._page import Figure


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


def selected_confusion_matrix(client: Any, summary: pd.DataFrame, out: Path) -> Figure | None:
    """The confusion matrix on the test set of the run that stands for the sweep whose
    selected configuration has the highest mean validation accuracy, drawn from its numbers
    (``confusion_matrix.csv``, in a store or an export alike) into ``out``; None where that
    run has none."""
    ranked = summary.dropna(subset=["val_mean"]).sort_values("val_mean", ascending=False)
    if ranked.empty:
        return None
    best = ranked.iloc[0]
    with tempfile.TemporaryDirectory() as folder:
        table = artifact_if_any(client, best["best_run_id"], M.CONFUSION_TABLE, folder)
        if table is None:
            return None
        cm = read_confusion(table)
    figure = confusion_matrix_figure(cm, f"{best['label']}: test set")
    figure.savefig(out / "best_confusion_matrix.png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    caption = (
        f"Confusion matrix on the test set of {best['label']}: the best run (on validation) "
        f"of its selected configuration {best['selected_config']}, run {best['best_run_id'][:8]}"
    )
    return Figure(caption, "best_confusion_matrix.png")


def save_figures(out: Path, drawn: list[tuple[str, str, Any]]) -> list[Figure]:
    figures = []
    for caption, name, fig in drawn:
        fig.savefig(out / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        figures.append(Figure(caption, name))
    return figures
