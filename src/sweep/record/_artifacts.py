"""What a run holds beyond its metrics, written through the :class:`~sweep.record.Tracker`'s
primitives: a trial's evaluation (confusion matrix, per-class report, predictions, computed
by :mod:`sweep.analysis`), its dataset inputs, its figures (drawn by :mod:`sweep.analysis`),
and the selected configuration's model, logged the MLflow way and registered.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import mlflow
import mlflow.pytorch
import numpy as np
import pandas as pd
import torch
from mlflow.data.numpy_dataset import from_numpy
from mlflow.entities import DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from .. import names as M
from ..analysis import (
    analyse,
    confusion,
    confusion_frame,
    confusion_matrix_figure,
    epoch_history,
    history_frame,
    importance_rows,
    learning_curves,
    mark_selected,
    per_class,
    predictions_text,
    read_confusion,
)
from ..analysis import costs as stats_costs
from ..train import digest
from ._runs import SEARCH_SPEC, sweep_frame
from ._tracker import fluent_store

if TYPE_CHECKING:
    from ._tracker import Tracker

BEST_ALIAS = "best"  # the registered model's alias for the sweep's selected configuration
PER_CLASS_TABLE = "per_class_report.csv"
PREDICTIONS = "predictions.txt"


def log_evaluation(
    tracker: Tracker,
    run_id: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    history: tuple[dict[str, float], ...],
    title: str,
    figures: bool = True,
) -> None:
    """Per-class report, confusion matrix (as numbers) and the test-set predictions; with
    ``figures`` also the curves and the confusion matrix drawn (about a second a trial: a
    sweep draws them for its selected trial only, see :func:`log_figures`)."""
    cm = confusion(y_true, y_pred)
    tracker.log_table(run_id, confusion_frame(cm), M.CONFUSION_TABLE)
    if figures:
        _draw(tracker, run_id, history, cm, title)
    tracker.log_table(run_id, per_class(y_true, y_pred), PER_CLASS_TABLE)
    tracker.log_text(run_id, predictions_text(y_pred), PREDICTIONS)


def log_figures(tracker: Tracker, run_id: str, title: str) -> None:
    """The curves and the confusion matrix of a finished trial, drawn from what its run
    holds (its per-epoch metrics and ``confusion_matrix.csv``), unless it has them."""
    names = tracker.artifact_names(run_id)
    if M.CURVES in names or M.CONFUSION_TABLE not in names:
        return
    with tempfile.TemporaryDirectory() as tmp:
        cm = read_confusion(tracker.download(run_id, M.CONFUSION_TABLE, tmp))
    history = {key: tracker.metric_history(run_id, key) for key in M.EPOCH_METRICS}
    _draw(tracker, run_id, epoch_history(history), cm, title)


def _draw(
    tracker: Tracker,
    run_id: str,
    history: tuple[dict[str, float], ...],
    cm: np.ndarray,
    title: str,
) -> None:
    curves = learning_curves(history_frame(history), title)
    tracker.log_figure(run_id, curves, M.CURVES)
    figure = confusion_matrix_figure(cm, f"{title}: test set")
    tracker.log_figure(run_id, figure, M.CONFUSION_FIGURE)


def log_datasets(
    tracker: Tracker, run_id: str, source: str, parts: dict[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    """Each split as an MLflow dataset input of the run (``fashion-mnist-training`` and so
    on, its role as the input's context), with a digest of all its bytes."""

    inputs = []
    for role, (images, labels) in parts.items():
        with warnings.catch_warnings():  # (a local folder matches two source kinds)
            warnings.simplefilter("ignore", UserWarning)
            dataset = from_numpy(
                images,
                targets=labels,
                source=source,
                name=f"fashion-mnist-{role}",
                digest=digest(images, labels),
            )
        tags = [InputTag(MLFLOW_DATASET_CONTEXT, role)]
        inputs.append(DatasetInput(dataset._to_mlflow_entity(), tags))
    tracker.retrying(lambda: tracker.client.log_inputs(run_id, inputs))


def _model_requirements() -> list[str]:
    """What a logged model needs to load (this environment's versions; given, so that
    MLflow need not load the model in another process to guess them)."""

    return [f"{n}=={version(n).split('+')[0]}" for n in ("torch", "numpy", "mlflow")]


def log_model(tracker: Tracker, run_id: str, model: Any, name: str, example: np.ndarray) -> str:
    """``model`` the MLflow way (``mlflow.pytorch``, with a signature and an input example)
    in run ``run_id``, registered as ``name``, the alias ``best`` pointed at the new
    version; returns that version. Saved as an exported graph (``pt2``), not a pickle:
    loading it runs no code and needs no install of this project."""
    model = model.cpu().eval()
    with torch.inference_mode():
        output = model(torch.from_numpy(example)).numpy()
    run = tracker.retrying(lambda: tracker.client.get_run(run_id))
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)  # (no pip here)
    client = tracker.client
    # log_model resolves the store and the experiment (not "Default") globally, and so does
    # the registry where it looks up the new version's source (models:/m-...)
    with fluent_store(tracker.tracking_uri, run.info.experiment_id):
        info = tracker.retrying(
            lambda: mlflow.pytorch.log_model(
                model,
                name="model",
                run_id=run_id,
                signature=infer_signature(example, output),
                input_example=example,
                serialization_format="pt2",
                pip_requirements=_model_requirements(),
            )
        )
        tracker.retrying(lambda: _registered_model(client, name))
        version = tracker.retrying(
            lambda: client.create_model_version(
                name, info.model_uri, run_id=run_id, model_id=info.model_id
            )
        ).version
        tracker.retrying(lambda: client.set_registered_model_alias(name, BEST_ALIAS, version))
    return str(version)


def _registered_model(client: Any, name: str) -> None:
    """The registered model ``name``, created if it is new (two sweeps may race)."""

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


ANALYSIS_FOLDER = "analysis"  # on a sweep's parent run: its importance, interactions, cost


def log_sweep_analysis(
    tracker: Tracker, experiment_id: str, experiment: str, parent_run_id: str
) -> None:
    """A finished sweep's analysis on its parent run, drawn from its trials as the store
    holds them (the rows the report reads): importance.csv and costs.csv, and the figures
    (importance, parallel coordinates, the two most important parameters, cost), under
    ``analysis/``."""

    frame, sweep = tracker.retrying(
        lambda: sweep_frame(tracker.client, experiment_id, experiment, parent_run_id)
    )
    if frame.empty:
        return
    frame = mark_selected(frame.assign(unit=parent_run_id, sweep=experiment))
    costs = stats_costs(frame)
    found = analyse(frame, experiment, "sweep", sweep[SEARCH_SPEC], costs)
    importance = pd.DataFrame(importance_rows(found))
    tracker.log_table(parent_run_id, importance, f"{ANALYSIS_FOLDER}/importance.csv")
    tracker.log_table(parent_run_id, costs, f"{ANALYSIS_FOLDER}/costs.csv")
    for _, name, figure in found.figures:
        name = name.removeprefix("sweep_")
        tracker.log_figure(parent_run_id, figure, f"{ANALYSIS_FOLDER}/{name}")
