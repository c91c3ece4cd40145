"""The record of steps 6 and 7 of the data flow: the MLflow client behind every run a
sweep writes. One parent run per sweep, one nested child run per trial (linked by an
explicit ``mlflow.parentRunId``, never by a global active run). :class:`Tracker` holds the
client, its retries while the store is busy or does not answer, and the run primitives;
what goes into a run beyond its metrics is :mod:`sweep.record`'.

Nothing here decides anything about training; it records what it is given.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import matplotlib.pyplot as plt
import mlflow
from filelock import FileLock
from loguru import logger
from mlflow.entities import Metric, Param, RunTag
from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient, fluent
from mlflow.tracking.context.registry import resolve_tags
from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

from .. import names as M
from ..config import name_stem
from ..faults import StorageFull, folder_refuses_writes, full_message, storage_problem
from ..names import DEFAULT_TRACKING_URI, STORE_TIMEOUT_S, RunStatus
from ..signals import StoreLost
from ._checks import schema_lock
from ._store import absolute_uri, kind, older_mlflow, shown, sqlite_path

T = TypeVar("T")
# MLflow's database layer logs every error it re-raises, with a traceback, and its table
# creation at INFO: the errors reach this module, which says what went wrong in one line.
logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
# MLflow 3's UI opens an experiment in its GenAI view unless this tag (or the URL, see
# sweep.cli.ui) asks for the classic "Model training" view that shows runs
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
# what a store that does not answer looks like (HTTP, PostgreSQL, a SQLite file gone away)
_UNREACHABLE = (
    "connection refused",  # (not MLflow's "max retries exceeded": a server's 500s say so too)
    "failed to establish",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "connection reset",
    "connection aborted",
    "timed out",
    "timeout expired",  # libpq's connect_timeout
    "no route to host",
    "network is unreachable",
    "the database system is starting up",
    "the database system is shutting down",
    "name or service not known",
    "temporary failure in name resolution",
    "unable to open database file",
    "disk i/o error",
    "bad gateway",
    "service unavailable",
    "too many 429 error responses",  # a server that asks its clients to slow down
    "too many 502 error responses",  # a proxy in front of a server that is down
    "too many 503 error responses",
    "too many 504 error responses",
)


@contextlib.contextmanager
def fluent_store(uri: str, experiment_id: str | None = None) -> Iterator[None]:
    """MLflow's fluent calls (``mlflow.pytorch.log_model``, ``load_model``) pointed at the
    store ``uri`` and, for the block only, at an experiment. The store stays MLflow's
    tracking URI after the block, as ``mlflow.set_tracking_uri`` leaves it: MLflow reads a
    logged model's files through it (``runs:/RUN/model``, ``models:/...``), whichever
    client asks. The active experiment and ``MLFLOW_EXPERIMENT_ID`` (which processes started
    later would inherit) are put back as they were."""

    active, env = fluent._active_experiment_id, os.environ.get(MLFLOW_EXPERIMENT_ID.name)
    mlflow.set_tracking_uri(uri)
    try:
        if experiment_id is not None:
            mlflow.set_experiment(experiment_id=experiment_id)
        yield
    finally:
        fluent._active_experiment_id = active
        if env is None:
            os.environ.pop(MLFLOW_EXPERIMENT_ID.name, None)
        else:
            os.environ[MLFLOW_EXPERIMENT_ID.name] = env


def unreachable(exc: BaseException) -> str | None:
    """What about ``exc`` says the store does not answer (e.g. "connection refused")."""
    if getattr(exc, "error_code", None) == "TEMPORARILY_UNAVAILABLE":  # MLflow's own word
        return "temporarily unavailable"
    text = str(exc).lower()
    return next((marker for marker in _UNREACHABLE if marker in text), None)


_BATCH = 100  # MLflow accepts at most 100 params / 1000 metrics per log_batch


def with_retry(fn: Callable[[], T], attempts: int = 8, first_wait: float = 0.2) -> T:
    """Call ``fn``; where SQLite is busy ("database is locked"), back off and try again."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:  # MlflowException or SQLAlchemy's OperationalError
            busy = "locked" in str(exc).lower() or "busy" in str(exc).lower()
            if not busy or attempt == attempts - 1:
                raise
            time.sleep(first_wait * 2**attempt * (0.5 + random.random()))
    raise AssertionError("unreachable")


def git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def source_tags(yaml_path: str | Path | None) -> dict[str, str]:
    """MLflow's own source tags (user, source name and type, git commit of the code), the
    git commit taken from the experiment file's repository where the code's has none."""

    tags = resolve_tags()
    if MLFLOW_GIT_COMMIT not in tags and yaml_path is not None:
        commit = git_commit(Path(yaml_path).resolve().parent)
        if commit:
            tags[MLFLOW_GIT_COMMIT] = commit
    return tags


def _param_value(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


class Tracker:
    """A thin, retrying facade over :class:`MlflowClient` for sweeps and trials."""

    def __init__(
        self,
        tracking_uri: str = DEFAULT_TRACKING_URI,
        store_timeout: float = STORE_TIMEOUT_S,
        should_stop: Callable[[], bool] | None = None,
    ):
        self.tracking_uri = tracking_uri = absolute_uri(tracking_uri)
        self.store_timeout = store_timeout
        self.should_stop = should_stop  # a Ctrl-C while retrying: give up at once
        self.lost = False  # set once the store has not answered for store_timeout seconds
        self.fault: str | None = None  # set once a write failed for want of room
        if kind(tracking_uri) == "server":  # fail fast: this class retries, up to store_timeout
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
            # the console prints its own links (to the UI the user opens), not MLflow's
            os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        if kind(tracking_uri) == "postgresql":  # libpq's own wait for a host that is gone
            os.environ.setdefault("PGCONNECT_TIMEOUT", "10")
        try:
            db = sqlite_path(tracking_uri)
            self.client = self._open_sqlite(db) if db is not None else self._call(self._open)
        except MlflowException as exc:
            older = older_mlflow(tracking_uri, exc)
            if older is None:
                raise
            raise older from None

    def retrying(self, fn: Callable[[], T]) -> T:
        """``fn()`` (a call of :attr:`client`'s, or of MLflow's) with this tracker's retries:
        while SQLite is busy, and while the store does not answer (see :meth:`_call`)."""
        return self._call(fn)

    def _open(self) -> MlflowClient:
        with schema_lock(self.tracking_uri):  # PostgreSQL: one process creates the tables
            client = MlflowClient(tracking_uri=self.tracking_uri)
            client.search_experiments(max_results=1)
            return client

    def _call(self, fn: Callable[[], T]) -> T:
        """``fn()``, retried while SQLite is busy, and while the store does not answer (a
        console line says so) for up to ``store_timeout`` seconds; then :class:`StoreLost`."""
        if self.fault:
            raise StorageFull(self.fault)
        if self.lost:
            raise StoreLost(self._lost_message())
        since = None
        while True:
            try:
                return with_retry(fn)
            except Exception as exc:
                self._refused_write(exc)
                reason = unreachable(exc)
                if not reason:
                    raise
                now = time.monotonic()
                if since is None:
                    since = now
                    logger.warning(
                        "the store {} does not answer ({}); retrying for up to {:.0f} s "
                        "(--store-timeout)",
                        shown(self.tracking_uri),
                        reason,
                        self.store_timeout,
                    )
                stopping = self.should_stop is not None and self.should_stop()
                if now - since >= self.store_timeout or stopping:
                    self.lost = True
                    raise StoreLost(self._lost_message(stopping)) from None
                time.sleep(min(2.0, max(0.1, self.store_timeout / 20)))

    def _refused_write(self, exc: Exception) -> None:
        """Raise :class:`StorageFull` where ``exc`` says the disk refused a write (a full
        disk is no outage: waiting for it does not help), and from then on at once."""
        problem = storage_problem(exc)
        db = sqlite_path(self.tracking_uri)
        if problem is None and db is not None and unreachable(exc):
            problem = folder_refuses_writes(db.parent)  # SQLite's "disk I/O error"
        if problem is None:
            return
        self.lost = True
        self.fault = full_message(f"writing to the store {shown(self.tracking_uri)}", problem)
        raise StorageFull(self.fault) from None

    def _lost_message(self, stopping: bool = False) -> str:
        if stopping:
            return f"the store {shown(self.tracking_uri)} does not answer"
        return (
            f"the store {shown(self.tracking_uri)} did not answer for {self.store_timeout:.0f} s "
            "(--store-timeout)"
        )

    def _open_sqlite(self, db: Path) -> MlflowClient:
        """Open (creating or migrating) the SQLite store under a file lock, so that two
        sweeps starting at once against a new store do not both create its tables. The lock
        file is removed on the way out (a process waiting on it then retries on a new one)."""

        db.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(db.with_name(db.name + ".lock"))
        with lock:
            try:
                client = MlflowClient(tracking_uri=self.tracking_uri)
                self._call(lambda: client.search_experiments(max_results=1))
                return client
            finally:
                Path(lock.lock_file).unlink(missing_ok=True)

    def _artifacts(self, experiment: str) -> str | None:
        """Beside a SQLite store, not in whatever folder the sweep was started from."""
        db = sqlite_path(self.tracking_uri)
        if db is None:
            return None  # a server or another store decides for itself
        return (db.parent / "mlruns" / name_stem(experiment)).as_uri()

    # ------------------------------------------------------------------ runs
    def experiment_id(self, name: str) -> str:
        def get_or_create() -> str:
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                if found.lifecycle_stage == "deleted":
                    self.client.restore_experiment(found.experiment_id)
                return found.experiment_id
            try:
                return self.client.create_experiment(name, artifact_location=self._artifacts(name))
            except MlflowException:  # another process created it just now
                return self.client.get_experiment_by_name(name).experiment_id

        experiment_id = self._call(get_or_create)
        self._call(
            lambda: self.client.set_experiment_tag(
                experiment_id, TAG_EXPERIMENT_KIND, EXPERIMENT_KIND
            )
        )
        return experiment_id

    def start_run(
        self,
        experiment_id: str,
        run_name: str,
        tags: dict[str, str],
        parent_run_id: str | None = None,
    ) -> str:
        tags = dict(tags)
        if parent_run_id:
            tags[M.TAG_PARENT] = parent_run_id
        run = self._call(
            lambda: self.client.create_run(experiment_id, tags=tags, run_name=run_name)
        )
        return run.info.run_id

    def end_run(self, run_id: str, status: str = RunStatus.FINISHED) -> None:
        self._call(lambda: self.client.set_terminated(run_id, status=status))

    def reopen_run(self, run_id: str) -> None:
        self._call(lambda: self.client.update_run(run_id, status=RunStatus.RUNNING))

    def get_run(self, run_id: str) -> Any:
        """The run, or None where the store has no such run (deleted for good)."""
        try:
            return self._call(lambda: self.client.get_run(run_id))
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def metric_history(self, run_id: str, key: str) -> list[Any]:
        """Every value of ``key`` logged in the run (MLflow ``Metric``s, with their steps)."""
        return self._call(lambda: self.client.get_metric_history(run_id, key))

    def metric_steps(self, run_id: str, key: str) -> set[int]:
        """The steps at which ``key`` was logged in the run."""
        return {m.step for m in self.metric_history(run_id, key)}

    def search_runs(self, experiment_ids: list[str], filter_string: str = "") -> list[Any]:
        return self._call(lambda: self.client.search_runs(experiment_ids, filter_string))

    def rename_run(self, run_id: str, name: str) -> None:
        self._call(lambda: self.client.update_run(run_id, name=name))

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove tag ``key`` from the run (which must have it)."""
        self._call(lambda: self.client.delete_tag(run_id, key))

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        batch = [RunTag(k, str(v)) for k, v in tags.items()]
        self._call(lambda: self.client.log_batch(run_id, tags=batch))

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        items = [Param(k, _param_value(v)) for k, v in params.items()]
        for i in range(0, len(items), _BATCH):
            chunk = items[i : i + _BATCH]
            self._call(lambda chunk=chunk: self.client.log_batch(run_id, params=chunk))

    def log_metrics(self, run_id: str, values: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in values.items()]
        self._call(lambda: self.client.log_batch(run_id, metrics=batch))

    # ------------------------------------------------------------------ artifacts
    def log_file(self, run_id: str, path: str | Path, folder: str | None = None) -> None:
        self._call(lambda: self.client.log_artifact(run_id, str(path), folder))

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self._call(lambda: self.client.log_text(run_id, text, name))

    def log_figure(self, run_id: str, figure: Any, name: str) -> None:
        try:
            self._call(lambda: self.client.log_figure(run_id, figure, name))
        finally:
            plt.close(figure)

    def artifact_names(self, run_id: str) -> set[str]:
        """The paths of the run's top-level artifacts."""
        return {a.path for a in self._call(lambda: self.client.list_artifacts(run_id))}

    def download(self, run_id: str, name: str, folder: str | Path) -> Path:
        """Artifact ``name`` of the run, copied into ``folder``."""
        return Path(self._call(lambda: self.client.download_artifacts(run_id, name, str(folder))))

    def log_table(self, run_id: str, frame: Any, name: str) -> None:
        """``frame`` as the CSV artifact ``name`` (``folder/file.csv`` puts it in a folder)."""
        folder, _, file = name.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / file
            frame.to_csv(path, index=False)
            self.log_file(run_id, path, folder or None)
