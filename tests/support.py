"""What several test files share: a tiny sweep run in this process, tiny synthetic
splits, and the command line run in this process up to where a sweep would start."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import sweep.search
from conftest import synthetic_images
from sweep.__main__ import main
from sweep.config import load_experiment
from sweep.search import RunOptions, run_sweep
from sweep.train import Splits

TINY = """
name: tiny
hypothesis: a tiny MLP learns the synthetic patterns
model: {kind: mlp, hidden: [32], dropout: 0.0}
train: {epochs: 2, batch_size: 100}
search:
  model.hidden: {choice: [[32], [16, 16]]}
  train.optimizer.lr: {loguniform: [1.0e-3, 1.0e-2]}
sweep: {algo: tpe, max_evals: 3, seed: 1}
data: {subset: 1000}
"""


def run_tiny(tmp_path: Path, synthetic_dir: Path, text: str = TINY):
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    options = RunOptions(tracking_uri=uri, data_dir=str(synthetic_dir), show_progress=False)
    result = run_sweep(load_experiment(path), path, options)
    return result, MlflowClient(uri)


def tiny_splits(n_train: int = 1000, random_labels: bool = False, seed: int = 0) -> Splits:
    rng = np.random.default_rng(seed)

    def part(n: int, s: int):
        y = np.arange(n) % 10
        rng.shuffle(y)
        x = synthetic_images(y.astype(np.uint8), seed=s)
        if random_labels:
            y = rng.integers(0, 10, n)
        return x, y.astype(np.int64)

    (xt, yt), (xv, yv), (xs, ys) = part(n_train, 1), part(200, 2), part(200, 3)
    return Splits(xt, yt, xv, yv, xs, ys)


class WouldRun(Exception):
    """Raised where the sweep would start: the file was accepted."""


def run(argv: list[str], folder: Path) -> tuple[int, str]:
    err = io.StringIO()
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(err),
        contextlib.chdir(folder),
    ):
        try:
            code = main(argv)
        except WouldRun:
            code = 0
    return code, err.getvalue()


@pytest.fixture
def no_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    def would_run(*args: Any, **kwargs: Any) -> None:
        raise WouldRun

    monkeypatch.setattr(sweep.search, "run_sweep", would_run)
