"""fmnist-sweep: declarative Hyperopt sweeps over PyTorch models, recorded in MLflow.

The names a notebook needs (imported on first use, so that the command line starts fast)::

    from sweep import load_experiment, train_trial, run_sweep, build_report

    config = load_experiment("experiments/exp15_fast.yaml", {"train.epochs": 1})
    outcome = train_trial(config)  # one model, nothing recorded: its figures and weights
    result = run_sweep(load_experiment("experiments/quickstart.yaml"))  # into ./mlflow.db
    build_report("sqlite:///mlflow.db", "reports")  # reports/analysis.html
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .analysis import SweepResult
    from .config import ExperimentConfig, load_experiment
    from .report import build_report
    from .search import RunOptions, run_sweep
    from .train import TrialOutcome, train_trial

# name -> the module that defines it
_PUBLIC = {
    "ExperimentConfig": "config",
    "load_experiment": "config",
    "RunOptions": "search",
    "SweepResult": "analysis",
    "run_sweep": "search",
    "TrialOutcome": "train",
    "train_trial": "train",
    "build_report": "report",
}
__all__ = [
    "ExperimentConfig",
    "RunOptions",
    "SweepResult",
    "TrialOutcome",
    "build_report",
    "load_experiment",
    "run_sweep",
    "train_trial",
]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'sweep' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
