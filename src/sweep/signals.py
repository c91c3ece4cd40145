"""Stopping a sweep by signal: the first SIGINT/SIGTERM asks the sweep to stop at its next
safe point (the end of an epoch, before a trial, before the summary is committed); a second
one stops at once. Trials and the sweep ask the flag; nothing reads a module global.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from loguru import logger

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SweepInterrupted(KeyboardInterrupt):
    """The sweep was asked to stop; its state is saved and it can be resumed."""


class StoreLost(SweepInterrupted):
    """The store did not answer for ``--store-timeout`` seconds: the sweep stops as after
    Ctrl-C (finished trials kept, resumable once the store is back)."""


class GracefulStop:
    """A stop flag set by the first SIGINT/SIGTERM while :meth:`handling_signals` is active.

    ``patient`` False (a backend whose trials run elsewhere, such as Spark) turns every
    signal into an immediate ``KeyboardInterrupt``, since there is no epoch here to finish.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._installed = False
        self.patient = True
        self.reason: str | None = None  # why a stop was asked for ("time_budget", a signal)

    def is_set(self) -> bool:
        return self._event.is_set()

    def request(self, reason: str = "requested") -> None:
        """Ask for a stop at the next safe point, as a first signal does."""
        self.reason = self.reason or reason
        self._event.set()

    def check(self, where: str) -> None:
        """Raise :class:`SweepInterrupted` if a stop was asked for."""
        if self._event.is_set():
            raise SweepInterrupted(f"stopped {where}")

    def _handle(self, signum: int, frame: Any) -> None:
        self.reason = self.reason or signal.Signals(signum).name
        if self._event.is_set() or not self.patient:
            self._event.set()
            raise SweepInterrupted(f"{signal.Signals(signum).name} received")
        self._event.set()

        logger.warning(
            "{} received: stopping at the next safe point (again to stop at once)",
            signal.Signals(signum).name,
        )

    @contextmanager
    def handling_signals(self) -> Iterator[GracefulStop]:
        """Install the handlers for the duration (only in the main thread, only once)."""
        if self._installed or threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        self._installed = True
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._installed = False

    @contextmanager
    def impatient(self, enabled: bool = True) -> Iterator[None]:
        """Within the block, a signal stops at once (for backends with nothing to finish)."""
        before = self.patient
        self.patient = not enabled and before
        try:
            yield
        finally:
            self.patient = before
