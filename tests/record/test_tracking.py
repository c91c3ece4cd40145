"""The tracker's own logic (sweep.record), without a store behind it: retrying while
SQLite is busy, waiting out a store that does not answer, and giving up after
--store-timeout, at once from then on. A real outage is in test_reliability."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException

from conftest import bare_tracker
from sweep.record import with_retry
from sweep.signals import StoreLost


def failing(times: int, message: str, calls: list[int]):
    def fn() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise MlflowException(message)
        return "answered"

    return fn


def test_a_busy_sqlite_store_is_asked_again_until_it_answers() -> None:
    calls: list[int] = []
    assert with_retry(failing(3, "database is locked", calls), first_wait=0.001) == "answered"
    assert len(calls) == 4


def test_any_other_error_is_raised_at_once() -> None:
    calls: list[int] = []
    with pytest.raises(MlflowException, match="no such run"):
        with_retry(failing(3, "no such run", calls), first_wait=0.001)
    assert len(calls) == 1


def test_a_store_that_stops_answering_is_waited_for_and_then_goes_on() -> None:
    tracker, calls = bare_tracker(), []
    tracker.store_timeout = 5.0  # (asked again every 0.25 s: it answers on the third try)
    assert tracker.retrying(failing(2, "connection refused", calls)) == "answered"
    assert len(calls) == 3 and not tracker.lost


def test_a_store_silent_past_its_timeout_is_lost_and_not_asked_again() -> None:
    tracker, calls = bare_tracker(), []
    tracker.store_timeout = 0.0
    with pytest.raises(StoreLost, match="did not answer for 0 s"):
        tracker.retrying(failing(100, "connection refused", calls))
    assert tracker.lost and len(calls) == 1
    with pytest.raises(StoreLost):
        tracker.retrying(lambda: calls.append(2))
    assert calls == [1]


def test_a_ctrl_c_while_waiting_gives_up_at_once() -> None:
    tracker, calls = bare_tracker(), []
    tracker.should_stop = lambda: True
    with pytest.raises(StoreLost, match="does not answer$"):
        tracker.retrying(failing(100, "connection refused", calls))
    assert len(calls) == 1
