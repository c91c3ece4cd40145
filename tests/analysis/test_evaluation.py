"""A trial's evaluation as numbers (sweep.analysis): pure functions of labels and
predictions, checked against counts made by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sweep.analysis import _evaluation as evaluation
from sweep.train import CLASS_NAMES

Y_TRUE = np.array([0, 0, 1, 1, 2, 9])
Y_PRED = np.array([0, 1, 1, 1, 2, 0])


def test_the_confusion_matrix_counts_true_rows_against_predicted_columns() -> None:
    cm = evaluation.confusion(Y_TRUE, Y_PRED)
    assert cm.shape == (10, 10) and cm.sum() == len(Y_TRUE)
    assert (cm[0, 0], cm[0, 1], cm[1, 1], cm[2, 2], cm[9, 0]) == (1, 1, 2, 1, 1)


def test_the_confusion_table_reads_back_as_the_same_matrix(tmp_path) -> None:
    cm = evaluation.confusion(Y_TRUE, Y_PRED)
    frame = evaluation.confusion_frame(cm)
    assert list(frame.columns) == ["true", *CLASS_NAMES]
    frame.to_csv(tmp_path / "cm.csv", index=False)
    assert (evaluation.read_confusion(tmp_path / "cm.csv") == cm).all()


def test_the_per_class_report_has_every_class_with_its_support() -> None:
    rows = evaluation.per_class(Y_TRUE, Y_PRED).set_index("class")
    assert list(rows.index) == list(CLASS_NAMES) and rows["support"].sum() == len(Y_TRUE)
    assert rows.loc[CLASS_NAMES[1], "precision"] == pytest.approx(2 / 3)  # 2 of 3 said 1
    assert rows.loc[CLASS_NAMES[0], "recall"] == pytest.approx(1 / 2)
    assert rows.loc[CLASS_NAMES[5], "support"] == 0  # a class with no images: zeros, no warning


def test_the_summary_states_the_accuracy_and_the_predictions_one_per_line() -> None:
    assert evaluation.summary_text(Y_TRUE, Y_PRED).startswith("accuracy 0.6667 on 6 images\n")
    assert evaluation.predictions_text(Y_PRED) == "0\n1\n1\n1\n2\n0\n"


def test_metric_histories_become_one_dict_per_epoch_in_epoch_order() -> None:
    def logged(*pairs):
        return [SimpleNamespace(step=s, value=v) for s, v in pairs]

    history = evaluation.epoch_history(
        {"val_accuracy": logged((2, 0.8), (1, 0.7)), "lr": logged((1, 0.1), (2, 0.05))}
    )
    assert history == ({"val_accuracy": 0.7, "lr": 0.1}, {"val_accuracy": 0.8, "lr": 0.05})
