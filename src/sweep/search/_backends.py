"""Where trials run: in this process (:class:`LocalBackend`, the default), or as Apache
Spark tasks through Hyperopt's SparkTrials (:class:`SparkBackend`), locally (``local[N]``) or
on a cluster. Both have one small interface, so the sweep loop never asks which it has.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from hyperopt import Trials
from loguru import logger

from .. import names as M
from ..analysis import roles
from . import _state as resume

if TYPE_CHECKING:
    from ..config import SweepConfig
    from ..record import Tracker

Objective = Callable[[dict[str, Any]], dict[str, Any]]

INSTALL_HINT = (
    "The Spark backend needs pyspark (and Java 17): run `uv sync --extra spark` "
    "(or `pip install 'fmnist-sweep[spark]'`)."
)


class BackendError(RuntimeError):
    """A backend that cannot be used as asked (missing pyspark, Spark Connect...)."""


def resolve_master(master: str | None, parallelism: int) -> str:
    """``--spark-master``, else ``$SPARK_MASTER``, else ``local[parallelism]``."""
    return master or os.environ.get("SPARK_MASTER") or f"local[{parallelism}]"


def spark_session(master: str, app_name: str = "fmnist-sweep") -> Any:
    """A classic (not Connect) SparkSession whose Python workers use this interpreter."""
    if master.startswith("sc://") or os.environ.get("SPARK_REMOTE"):
        raise BackendError(
            f"Spark Connect ({master if master.startswith('sc://') else '$SPARK_REMOTE'}) "
            "is not supported by Hyperopt's SparkTrials; give a classic master such as "
            "local[4], spark://host:7077 or k8s://..., and unset SPARK_REMOTE."
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise BackendError(INSTALL_HINT) from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    is_remote = getattr(spark, "is_remote", None)
    if callable(is_remote) and is_remote():
        raise BackendError("the active Spark session is a Spark Connect session; " + INSTALL_HINT)
    return spark


def spark_trials(master: str, parallelism: int, timeout_s: float | None, tracking_uri: str) -> Any:
    """Hyperopt's SparkTrials on a session for ``master``."""
    try:
        from hyperopt import SparkTrials
    except ImportError:
        raise BackendError(INSTALL_HINT) from None
    if not master.startswith("local") and tracking_uri.startswith(("sqlite:", "file:")):
        logger.warning(
            "tracking URI {} is a file on this machine, but Spark master {} may run trials on "
            "other machines, which cannot write to it. Use an MLflow server that the workers "
            "can reach (see docs/search.md, 'Running on a cluster').",
            tracking_uri,
            master,
        )
    spark = spark_session(master)
    return SparkTrials(
        parallelism=parallelism,
        timeout=int(timeout_s) if timeout_s else None,
        spark_session=spark,
    )


def threads_per_trial(master: str, parallelism: int) -> int | None:
    """On one machine, share its cores among the parallel trials; elsewhere leave it."""
    if not master.startswith("local"):
        return None
    return max(1, (os.cpu_count() or 1) // parallelism)


def trial_device(device: str) -> str:
    """On a machine with several GPUs, parallel trials (Spark tasks) take different ones."""

    if device != "auto" or torch.cuda.device_count() < 2:
        return device
    try:
        from pyspark import TaskContext

        task = TaskContext.get()
    except ImportError:
        task = None
    slot = task.taskAttemptId() if task is not None else os.getpid()
    return f"cuda:{slot % torch.cuda.device_count()}"


def store_lost(trials: Trials) -> str | None:
    """Why a trial stopped because the store did not answer, or None. Locally the trial's
    :class:`StoreLost` stops the sweep itself; a Spark trial's comes back in its record."""
    for doc in trials._dynamic_trials:  # (``trials.trials`` leaves out the failed ones)
        kind, text = doc.get("misc", {}).get("error") or ("", "")
        if "StoreLost" in kind:
            last = str(text).strip().splitlines()[-1] if str(text).strip() else ""
            return last.split("StoreLost: ", 1)[-1] or "the store did not answer"
    return None


def cancel_when_store_lost(trials: Trials) -> None:
    """Make ``trials`` (SparkTrials) cancel its ``fmin`` once a trial lost the store, as
    its own timeout does: SparkTrials asks ``early_stop_fn`` only after a successful trial,
    while ``fmin`` refreshes the trials every few seconds."""
    refresh = trials.refresh

    def refresh_then_check() -> None:
        refresh()
        if not trials._fmin_cancelled and store_lost(trials):
            trials._fmin_cancelled = True
            trials._fmin_cancelled_reason = "a trial lost the store"

    trials.refresh = refresh_then_check


class LocalBackend:
    """Trials run one after another in this process, numbered as they start; the state is
    saved before each trial, so a trial cut off by a crash runs again with its parameters."""

    patient = True  # a first Ctrl-C lets the running epoch finish
    threads: int | None = None  # torch's default

    def describe(self) -> str | None:
        return None

    def trials(self, saved: Trials) -> Trials:
        """The trials object fmin runs on: the saved Trials themselves."""
        return saved

    def first_number(self, done: int) -> int | None:
        return done + 1

    def wrap(self, objective: Objective, save: Callable[[], None]) -> Objective:
        return resume.Checkpointing(objective, save)

    def snapshot(self, trials: Trials) -> Trials:
        """What the sweep state keeps of ``trials`` (picklable)."""
        return trials

    def ready(self, trials: Trials) -> None:
        """Before each ``fmin`` call on ``trials`` (the search, then each round of repeats)."""

    def finish(self, tracker: Tracker, trials: Trials) -> None:
        """Nothing left to do: trials were numbered as they ran."""


class SparkBackend:
    """Trials run as Spark tasks, ``parallelism`` at a time; they are numbered afterwards,
    in the order Hyperopt proposed them, and only finished trials are saved."""

    patient = False  # trials run in other processes: Ctrl-C cancels the Spark jobs

    def __init__(self, master: str, parallelism: int, timeout_s: float | None, uri: str):
        self.master = master
        self.parallelism = parallelism
        self.threads = threads_per_trial(master, parallelism)
        self._trials = spark_trials(master, parallelism, timeout_s, uri)
        cancel_when_store_lost(self._trials)

    def describe(self) -> str | None:
        return (
            f"Spark backend: master {self.master}, {self.parallelism} trials at once, "
            f"{self.threads or 'default'} torch threads each"
        )

    def trials(self, saved: Trials) -> Trials:
        """SparkTrials keeps no trials file of its own: the finished saved ones go into it."""
        resume.adopt(self._trials, saved)
        return self._trials

    def first_number(self, done: int) -> int | None:
        return None  # copies run in parallel: numbered by the driver afterwards

    def wrap(self, objective: Objective, save: Callable[[], None]) -> Objective:
        return objective

    def snapshot(self, trials: Trials) -> Trials:
        return resume.finished_copy(trials)

    def ready(self, trials: Trials) -> None:
        """SparkTrials stays cancelled after an early stop or its timeout, and would then
        run nothing in the next ``fmin`` call: a new call starts uncancelled."""
        trials._fmin_cancelled = False

    def finish(self, tracker: Tracker, trials: Trials) -> None:
        """Number the trials in the order Hyperopt proposed them, and mark every run of a
        configuration after its first as a repeat."""
        docs = sorted(
            (d for d in trials.trials if d.get("result", {}).get("run_id")),
            key=lambda d: d["tid"],
        )
        ids = [d["result"].get("config_id") or "" for d in docs]
        for doc, role in zip(docs, roles(ids), strict=True):
            number = doc["tid"] + 1
            doc["result"].update(number=number, role=role)
            run_id = doc["result"]["run_id"]
            tracker.set_tags(run_id, {M.TAG_TRIAL: str(number), M.TAG_ROLE: role})
            tracker.rename_run(run_id, f"trial-{number:03d}")


Backend = LocalBackend | SparkBackend


def make_backend(cfg: SweepConfig, spark_master: str | None, tracking_uri: str) -> Backend:
    """The backend a sweep config asks for (Spark: its session is started here)."""
    if cfg.backend == "spark":
        timeout = cfg.budget_seconds()
        master = resolve_master(spark_master, cfg.parallelism)
        return SparkBackend(master, cfg.parallelism, timeout, tracking_uri)
    return LocalBackend()
