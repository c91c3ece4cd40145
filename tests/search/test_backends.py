"""Where trials run (sweep.search): the local backend's small interface and the choices
made before any Spark session exists. Spark itself is in test_spark."""

from __future__ import annotations

import os

import pytest

from sweep.config import ExperimentConfig
from sweep.search import _backends as backends


def test_the_spark_master_comes_from_the_flag_then_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("SPARK_MASTER", raising=False)
    assert backends.resolve_master(None, 3) == "local[3]"
    monkeypatch.setenv("SPARK_MASTER", "spark://head:7077")
    assert backends.resolve_master(None, 3) == "spark://head:7077"
    assert backends.resolve_master("local[2]", 3) == "local[2]"


def test_parallel_trials_on_one_machine_share_its_cores() -> None:
    cores = os.cpu_count() or 1
    assert backends.threads_per_trial("local[2]", 2) == max(1, cores // 2)
    assert backends.threads_per_trial("local[4]", 10_000) == 1
    assert backends.threads_per_trial("spark://head:7077", 2) is None  # (their own machines)


def test_spark_connect_is_refused_before_any_session_starts() -> None:
    with pytest.raises(backends.BackendError, match="Spark Connect .* not supported"):
        backends.spark_session("sc://head:15002")


def test_the_local_backend_saves_the_state_before_each_trial() -> None:
    backend = backends.make_backend(ExperimentConfig(name="x").sweep, None, "sqlite:///x.db")
    assert isinstance(backend, backends.LocalBackend) and backend.patient
    events: list[str] = []
    objective = backend.wrap(
        lambda sample: events.append("trial") or {}, lambda: events.append("save")
    )
    objective({})
    assert events == ["save", "trial"]
    saved = object()
    assert backend.trials(saved) is saved and backend.snapshot(saved) is saved
    assert backend.first_number(4) == 5 and backend.describe() is None


def test_a_spark_trial_that_lost_the_store_is_found_in_its_record() -> None:
    class Trials:
        _dynamic_trials = [
            {"misc": {}},
            {"misc": {"error": ("<class 'sweep.signals.StoreLost'>", "Traceback...\n"
                                "sweep.signals.StoreLost: the store did not answer for 3 s")}},
        ]  # fmt: skip

    assert backends.store_lost(Trials()) == "the store did not answer for 3 s"
    Trials._dynamic_trials = Trials._dynamic_trials[:1]
    assert backends.store_lost(Trials()) is None
