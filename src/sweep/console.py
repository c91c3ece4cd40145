"""What a sweep shows on a terminal: a progress bar of trials on stderr, never sharing a
line with the log lines (they are written above it), and values at 4 significant digits."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any


def show(value: Any) -> str:
    """A value as printed: floats at 4 significant digits (0.002148, not 0.002148409069...)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def describe_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={show(v)}" for k, v in params.items()) or "(fixed config)"


class _Bar:
    """What Hyperopt's ``fmin`` drives (``update``, ``postfix``), shown in the objective's own
    terms: "best val_accuracy 0.9022", not Hyperopt's negative loss."""

    def __init__(self, bar: Any, objective: str):
        self.bar = bar
        self.objective = objective

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
        self.bar.set_postfix_str(f"best {self.objective} {value:.4f}", refresh=False)


def progress(enabled: bool, objective: str) -> bool | Callable[..., Any]:
    """``fmin``'s ``show_progressbar``: a bar on the real stderr where it is a terminal and
    the bar is wanted, else none (plain lines)."""
    stream = sys.stderr
    if not enabled or not stream.isatty():
        return False

    @contextlib.contextmanager
    def bar(initial: int, total: int) -> Iterator[_Bar]:
        from tqdm import tqdm

        with tqdm(
            total=total, initial=initial, file=stream, unit="trial", dynamic_ncols=True
        ) as pbar:
            yield _Bar(pbar, objective)

    return bar
