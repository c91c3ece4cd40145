"""What a sweep shows on a terminal: a progress bar of trials on stderr, never sharing a
line with the log lines (they are written above it), and values at 4 significant digits."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
from loguru import logger
from tqdm import tqdm


def quiet_libraries() -> None:
    """No third-party output on the user's terminal or log file: MLflow's INFO lines and
    its artifact download bars ("Downloading artifacts: 100%|...") off. Set in the
    environment, so that MLflow reads it when imported, here or in a Spark worker; a user
    who sets a variable keeps it."""

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)


def show(value: Any) -> str:
    """A value as printed: floats at 4 significant digits (0.002148, not 0.002148409069...)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def describe_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={show(v)}" for k, v in params.items()) or "(fixed config)"


class EpochLines:
    """During a trial, one console line per epoch at most every ``every`` seconds (none
    with ``quiet``): epoch, train loss, validation accuracy, learning rate, s/epoch."""

    def __init__(
        self,
        label: str,
        every: float = 30.0,
        quiet: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.clock = clock
        self.label, self.every, self.quiet = label, every, quiet
        self.start = self.last = self.clock()

    def __call__(self, epoch: int, values: dict[str, float]) -> None:
        now = self.clock()
        if self.quiet or now - self.last < self.every:
            return

        self.last = now
        logger.info(
            "trial {:>3} | epoch {} | train_loss {} | val_acc {:.4f} | lr {} | {:.1f} s/epoch",
            self.label,
            epoch,
            show(values.get("train_loss", float("nan"))),
            values.get("val_accuracy", float("nan")),
            show(values.get("lr", float("nan"))),
            (now - self.start) / max(epoch, 1),
        )


def duration(seconds: float) -> str:
    """``4000`` -> ``"1h07m"``; ``95`` -> ``"1m35s"``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class Pace:
    """This machine's measured seconds per epoch, and how long the epochs a sweep may
    still train would take at that pace: an estimate after the first timed epoch, then
    refreshed as each trial ends (an early-stopped or pruned trial gives back the epochs
    it did not train). One pace for the sweep: configurations of other widths count
    at the mean of those measured so far."""

    def __init__(
        self, epochs_left: int, epochs_per_trial: int, clock: Callable[[], float] = time.monotonic
    ):
        self.left, self.per_trial, self.clock = epochs_left, epochs_per_trial, clock
        self.epochs, self.seconds = 0, 0.0
        self._trial_epochs, self._last = 0, clock()

    def trial_started(self) -> None:
        self._trial_epochs, self._last = 0, self.clock()

    def epoch(self) -> None:
        """One epoch done (of a trial on this machine): timed from the previous one."""
        now = self.clock()
        self.epochs, self.seconds = self.epochs + 1, self.seconds + now - self._last
        self._trial_epochs, self._last, self.left = self._trial_epochs + 1, now, self.left - 1
        if self.epochs == 1:
            self.announce()

    def trial_ended(self) -> None:
        """The trial's epochs it never trained leave the count."""
        self.left -= max(0, self.per_trial - self._trial_epochs)
        self._trial_epochs = self.per_trial  # (said once)
        self.announce()

    def eta(self) -> str:
        if not self.epochs:
            return ""
        per, left = self.seconds / self.epochs, max(0, self.left)
        return f"ETA {duration(left * per)} ({left} planned epochs left at {per:.1f} s/epoch)"

    def announce(self) -> None:
        if self.epochs:
            logger.info("estimate: {}", self.eta())


def best_table(trials: Any, top: int = 5) -> str:
    """The best ``top`` configurations by mean validation accuracy: val mean, test mean, n."""

    rows = [
        {"config": t.config_id, "params": describe_params(t.params), "val": t.val_accuracy,
         "test": t.test_accuracy}
        for t in trials
        if t.val_accuracy is not None
    ]  # fmt: skip
    if not rows:
        return ""
    frame = pd.DataFrame(rows).groupby(["config", "params"], sort=False)
    table = frame.agg(val=("val", "mean"), test=("test", "mean"), n=("val", "size"))
    table = table.sort_values("val", ascending=False).head(top).reset_index()
    lines = [f"best {len(table)} configuration(s), by mean validation accuracy:"]
    lines += [
        f"  {r.config}  val {r.val:.4f}  test {r.test:.4f}  n={r.n}  {r.params}"
        for r in table.itertuples()
    ]
    return "\n".join(lines)


class _Bar:
    """What Hyperopt's ``fmin`` drives (``update``, ``postfix``), shown in the objective's own
    terms: "best val_accuracy 0.9022", not Hyperopt's negative loss."""

    def __init__(self, bar: Any, objective: str, pace: Pace | None = None):
        self.bar = bar
        self.objective = objective
        self.pace = pace

    def update(self, n: int) -> None:
        self.bar.update(n)

    @property
    def postfix(self) -> str:
        return self.bar.postfix or ""

    @postfix.setter
    def postfix(self, text: str) -> None:  # Hyperopt's "best loss: -0.9021666646003723"
        try:
            loss = float(str(text).rsplit(":", 1)[-1])
        except ValueError:
            return
        value = -loss if self.objective == "val_accuracy" else loss
        eta = f", {self.pace.eta()}" if self.pace is not None and self.pace.epochs else ""
        self.bar.set_postfix_str(f"best {self.objective} {value:.4f}{eta}", refresh=False)


def progress(enabled: bool, objective: str, pace: Pace | None = None) -> bool | Callable[..., Any]:
    """``fmin``'s ``show_progressbar``: a bar on the real stderr where it is a terminal and
    the bar is wanted, else none (plain lines); with ``pace``, its ETA beside the best."""
    stream = sys.stderr
    if not enabled or not stream.isatty():
        return False

    @contextlib.contextmanager
    def bar(initial: int, total: int) -> Iterator[_Bar]:
        with tqdm(
            total=total, initial=initial, file=stream, unit="trial", dynamic_ncols=True
        ) as pbar:
            yield _Bar(pbar, objective, pace)

    return bar
