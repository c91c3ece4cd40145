"""The private parts of Hyperopt this project relies on (pyproject pins the minor version).

If one of these fails after an upgrade, sweep.search (_state, _backends) must be adapted before the
pin in pyproject.toml is moved."""

from __future__ import annotations

import inspect

import hyperopt
import numpy as np
from hyperopt import Trials, fmin, hp, tpe


def test_hyperopt_is_the_pinned_minor_version() -> None:
    assert hyperopt.__version__.startswith("0.3."), hyperopt.__version__


def test_trials_keeps_its_documents_and_ids_where_resume_reads_them() -> None:
    """sweep.search._state filters ``Trials._dynamic_trials`` in place and adds to
    ``Trials._ids``."""
    trials = Trials()
    fmin(
        lambda x: x**2,
        hp.uniform("x", -1, 1),
        tpe.suggest,
        3,
        trials=trials,
        rstate=np.random.default_rng(0),
        show_progressbar=False,
    )
    assert isinstance(trials._dynamic_trials, list) and len(trials._dynamic_trials) == 3
    assert all({"tid", "state", "result", "misc"} <= set(d) for d in trials._dynamic_trials)
    assert isinstance(trials._ids, set) and trials._ids == {0, 1, 2}
    trials._dynamic_trials[:] = trials._dynamic_trials[:2]  # what resume.drop_unfinished does
    trials.refresh()
    assert len(trials.trials) == 2


def test_spark_trials_has_the_cancel_flag_the_backend_resets() -> None:
    """backends.SparkBackend.ready sets ``SparkTrials._fmin_cancelled`` back to False."""
    from hyperopt.spark import SparkTrials

    assert "_fmin_cancelled" in inspect.getsource(SparkTrials)
