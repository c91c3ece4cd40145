"""A trial's evaluation as numbers: the confusion matrix, the per-class report and the
per-epoch curves, from labels and predictions, or read back from what a run holds (its
metric histories, its ``confusion_matrix.csv``). Pure: no store, no figure (those are
:mod:`sweep.record`' and :mod:`sweep.analysis`'). The trial records these, ``predict``
prints them, and the report reads them back, all through the functions here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

from ..train import CLASS_NAMES

CLASSES = range(len(CLASS_NAMES))
TRUE = "true"  # the confusion table's first column: the true class of each row


def confusion(y_true: Sequence[int], y_pred: Sequence[int]) -> np.ndarray:
    """Counts ``[true class, predicted class]`` over all ten classes (scikit-learn's)."""

    return confusion_matrix(y_true, y_pred, labels=CLASSES)


def confusion_frame(cm: np.ndarray) -> pd.DataFrame:
    """The confusion matrix as a table: the true class, then one column per predicted one."""
    frame = pd.DataFrame(cm, columns=list(CLASS_NAMES)).assign(**{TRUE: CLASS_NAMES})
    return frame[[TRUE, *CLASS_NAMES]]


def read_confusion(path: str | Path) -> np.ndarray:
    """The matrix of a :func:`confusion_frame` written as CSV."""
    return pd.read_csv(path, index_col=TRUE).to_numpy()


def per_class(y_true: Sequence[int], y_pred: Sequence[int]) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class (scikit-learn's report)."""

    report = classification_report(
        y_true,
        y_pred,
        labels=CLASSES,
        target_names=CLASS_NAMES,
        output_dict=True,
        zero_division=0,
    )
    rows = [
        {
            "class": name,
            **{k: report[name][k] for k in ("precision", "recall", "f1-score")},
            "support": int(report[name]["support"]),
        }
        for name in CLASS_NAMES
    ]
    return pd.DataFrame(rows)


def summary_text(y_true: Sequence[int], y_pred: Sequence[int]) -> str:
    """Accuracy and the per-class report, as a console shows them."""

    text = classification_report(
        y_true, y_pred, labels=CLASSES, target_names=CLASS_NAMES, digits=4, zero_division=0
    )
    return f"accuracy {accuracy_score(y_true, y_pred):.4f} on {len(y_true)} images\n{text}"


def predictions_text(y_pred: Iterable[int]) -> str:
    """One label per line, in the order of the images."""
    return "".join(f"{int(p)}\n" for p in y_pred)


def epoch_history(histories: Mapping[str, Iterable[Any]]) -> tuple[dict[str, float], ...]:
    """Metric histories (``key -> MLflow Metric``s logged with step = epoch) -> one dict per
    epoch, in epoch order, as :func:`sweep.train.fit` reports them."""
    epochs: dict[int, dict[str, float]] = {}
    for key, history in histories.items():
        for m in history:
            epochs.setdefault(m.step, {})[key] = m.value
    return tuple(epochs[step] for step in sorted(epochs))
