"""The package's public names: what a notebook imports from ``sweep`` (docs/train.md, "From a
notebook"). Tiny synthetic data; nothing recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

import sweep


def test_the_public_names_resolve_to_the_modules_that_define_them() -> None:
    from sweep.config import _loading as config
    from sweep.report import _build as report
    from sweep.search import _loop as loop
    from sweep.search import _phases as phases
    from sweep.train import _trial as trial

    assert sweep.load_experiment is config.load_experiment
    assert sweep.run_sweep is loop.run_sweep and sweep.RunOptions is phases.RunOptions
    assert sweep.train_trial is trial.train_trial and sweep.build_report is report.build_report
    assert all(getattr(sweep, name) is not None for name in sweep.__all__)
    with pytest.raises(AttributeError, match="no attribute 'fit_everything'"):
        _ = sweep.fit_everything


def test_a_notebook_fits_one_model_from_an_experiment_file_and_nothing_is_recorded(
    tmp_path: Path, synthetic_dir: Path, monkeypatch
) -> None:
    path = tmp_path / "one.yaml"
    path.write_text("name: one\nmodel: {kind: mlp, hidden: [32]}\ntrain: {epochs: 2}\n")
    monkeypatch.setenv("SWEEP_DATA_DIR", str(synthetic_dir))
    monkeypatch.chdir(tmp_path)
    config = sweep.load_experiment(path, {"data.subset": 1000})
    outcome = sweep.train_trial(config)
    assert outcome.epochs_run == 2 and len(outcome.history) == 2
    assert outcome.test_accuracy > 0.5  # (the synthetic classes are easy to tell apart)
    assert len(outcome.predictions) == 10_000 and outcome.splits.x_train.shape[0] == 900
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.yaml"]  # no store, no files
