"""What every part of the schema is made of: a frozen model that forbids unknown keys
(:class:`Frozen`), strict scalar types (no "3" for 3, no 1.0 for true), the bounds of every
count (epochs, trials, widths, seconds) and durations written as "1h30m"."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
)


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# Numbers are numbers: a YAML `true`, "3" or 3.0 where a whole number is meant is refused,
# never converted (pydantic's strict mode, field by field, so that YAML lists still fill
# tuples). A float field takes a whole number (1 is 1.0), never a boolean or a string.
Int = Annotated[int, Strict()]


Float = Annotated[float, Strict()]


Bool = Annotated[bool, Strict()]


# Seeds go to NumPy, scikit-learn and torch: whole numbers in [0, 2^32).
Seed = Annotated[int, Strict(), Field(ge=0, le=2**32 - 1)]


# Upper bounds no one reaches by intent: past them a value is a typo (an extra digit),
# refused at load instead of training until it is killed.
MAX_EPOCHS = 10_000  # epochs, and every count of epochs (patience, step size, warm-up)


MAX_TRIALS = 100_000  # max_evals, no_progress_stop


MAX_REPEATS = 1_000  # repeats, repeat_top, parallelism


MAX_BATCH = 65_536  # images per batch (the training set has 60,000)


MAX_WIDTH = 65_536  # filters, units and hidden widths


MAX_SECONDS = 366 * 24 * 3600.0  # a sweep's time budget: at most a year


_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?)h)?(?:(\d+(?:\.\d*)?)m)?(?:(\d+(?:\.\d*)?)s)?")


def parse_duration(text: str) -> float:
    """``"2h"``, ``"90m"``, ``"1h30m"``, ``"45s"`` or ``"600"`` -> seconds."""
    compact = text.strip().replace(" ", "").lower()
    try:
        return float(compact)
    except ValueError:
        pass
    match = _DURATION.fullmatch(compact)
    if not compact or match is None:
        raise ValueError(
            f"a duration is written like 2h, 90m, 1h30m, 45s or 600 (seconds), got {text!r}"
        )
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


# ----------------------------------------------------------------------------- helpers
def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``tree["a"]["b"] = value`` for ``dotted="a.b"``, creating dicts as needed."""
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise KeyError(dotted)
        node = child
    node[leaf] = value


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same kind (``True`` is not ``1``; a list equals a tuple)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return isinstance(a, bool) == isinstance(b, bool) and a == b
