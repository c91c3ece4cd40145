"""Every MLflow write, and the reads the commands need: which store a URI names (``_store``)
and whether it can be used (``_checks``), the :class:`Tracker` with its retries
(``_tracker``) and MLflow's system metrics of a run (``_system``), what a trial's run holds
(``_trial_run``: :class:`TrialRun`), what a sweep's parent run holds (``_sweep_run``),
artifacts and the logged model (``_artifacts``), a sweep's runs read back as a table
(``_runs``) and a store opened for reading only (``_reading``).
"""

from ._artifacts import BEST_ALIAS
from ._checks import check, existing, is_the_store
from ._reading import STORE_ERRORS, StoreReader, artifact_if_any, not_found
from ._runs import SEARCH_SPEC, all_runs, is_trial, sweep_key, sweep_row, trial_row
from ._store import (
    StoreError,
    absolute_uri,
    answered_with_error,
    hides_password,
    kind,
    older_mlflow,
    shown,
    sqlite_path,
    unwritable,
)
from ._sweep_run import prediction_tags, record_sweep, start_parent
from ._system import system_metrics
from ._tracker import Tracker, unreachable, with_retry
from ._trial_run import FAILURE_TRACE, TrialRun

__all__ = [
    "BEST_ALIAS",
    "FAILURE_TRACE",
    "SEARCH_SPEC",
    "STORE_ERRORS",
    "StoreError",
    "StoreReader",
    "Tracker",
    "TrialRun",
    "absolute_uri",
    "all_runs",
    "answered_with_error",
    "artifact_if_any",
    "check",
    "existing",
    "hides_password",
    "is_the_store",
    "is_trial",
    "kind",
    "not_found",
    "older_mlflow",
    "prediction_tags",
    "record_sweep",
    "shown",
    "sqlite_path",
    "start_parent",
    "sweep_key",
    "sweep_row",
    "system_metrics",
    "trial_row",
    "unreachable",
    "unwritable",
    "with_retry",
]
