"""Loading an experiment: the resolved tree and the overrides (``--set``, flags) checked as
they are applied, then validated into a frozen :class:`ExperimentConfig`; pydantic's errors
said in one paragraph that names the file, the key and the value."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from ._base import set_dotted
from ._reader import _LOADER, ConfigError, _key, _part, _resolve, _short, check_shape
from ._schema import MODEL_KINDS, TRAINING_SET, ExperimentConfig, split_problem
from ._sweep import Distribution


def listed(items: list[str], shown: int = 4) -> str:
    """``a, b, c, d and 9,996 more``: a list that keeps a message one short paragraph."""
    more = len(items) - shown
    if more <= 1:
        return ", ".join(items)
    return f"{', '.join(items[:shown])} and {more:,} more"


def _explain(exc: ValidationError, source: str) -> ConfigError:
    """Pydantic's errors as one paragraph: the first few, and how many more (a file of
    10,000 unknown keys is refused in a few lines, not a megabyte)."""
    errors = exc.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    lines = []
    if len(unknown) > 1:
        keys = [f"'{_loc(e)}'" for e in unknown]
        lines.append(
            f"unknown keys {listed(keys)} (check the spelling; docs/config.md lists the "
            "valid keys)"
        )
        errors = [e for e in errors if e["type"] != "extra_forbidden"]
    for err in errors:
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; docs/config.md lists the valid keys)"
        value = err.get("input")
        shown = (
            ""
            if err["type"] == "missing" or isinstance(value, dict)
            else f" (got {_short(value)})"
        )
        lines.append(f"key '{_loc(err)}': {_short_text(msg, 300)}{shown}")
    text = "; ".join(lines[:3])
    if len(lines) > 3:
        text += f"; and {len(lines) - 3:,} more problems"
    return ConfigError(f"{source}: {text}.")


def _loc(err: Any) -> str:
    """Where a pydantic error is, as a dotted key (the model's tag dropped)."""
    loc = _key(tuple(p for p in err["loc"] if not str(p).startswith("function-")))
    # the tagged union adds the tag to the location ("model.cnn.filters"): drop it
    for kind in MODEL_KINDS:
        loc = loc.replace(f"model.{kind}.", "model.")
    return loc


def _short_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.epochs=3"`` -> ``("train.epochs", 3)``; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {_short(text)}: expected KEY=VALUE, e.g. train.epochs=3.")
    key, _, value = text.partition("=")
    try:
        parsed = yaml.load(value, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except (yaml.YAMLError, RecursionError):
        raise ConfigError(f"--set {_short(text)}: the value is not valid YAML.") from None
    check_shape(parsed, f"--set {_short(text)}")
    return key.strip(), parsed


def validate(tree: dict[str, Any], source: str) -> ExperimentConfig:
    """Turn a merged dict into a config, checking the search space against it."""
    try:
        config = ExperimentConfig.model_validate(tree)
    except ValidationError as exc:
        raise _explain(exc, source) from None
    other = [f"{_part(k)} is {d.kind}" for k, d in config.search.items() if d.kind != "choice"]
    if config.sweep.algo == "grid" and other:
        raise ConfigError(
            f"{source}: key 'sweep.algo': grid enumerates choice dimensions only, but search "
            f"{listed(other)}. Make those dimensions choices, or use algo tpe, random or "
            "anneal."
        )
    _check_start_with(config, source)
    _check_split_search(config, source)
    for dotted, dist in config.search.items():
        for value in dist.extremes():
            trial = copy.deepcopy(tree)
            trial.pop("search", None)
            try:
                _check_path(trial, dotted)
                set_dotted(trial, dotted, value)
                ExperimentConfig.model_validate(trial)
            except KeyError:
                raise ConfigError(
                    f"{source}: key 'search.{_part(dotted)}' names no config field. Search keys "
                    "are dotted paths into the config, e.g. model.filters or train.optimizer.lr."
                ) from None
            except ValidationError as exc:
                reason = _explain(exc, source)
                raise ConfigError(
                    f"{source}: key 'search.{_part(dotted)}': the value {_short(value)} would "
                    f"make an invalid trial config: {str(reason).removeprefix(source + ': ')}"
                ) from None
    return config


def _check_split_search(config: ExperimentConfig, source: str) -> None:
    """Where the search draws ``data.subset`` or ``data.val_fraction``, every trial's split
    can be drawn. Each dimension alone is checked with the file's other value; together,
    the worst trials are the smallest subset with the smallest (fewest validation images)
    and the largest fraction (fewest training images)."""
    subset, fraction = config.search.get("data.subset"), config.search.get("data.val_fraction")
    if subset is None or fraction is None:
        return

    def numbers(dist: Distribution) -> list[Any]:
        return [v for v in dist.extremes() if isinstance(v, int | float) or v is None]

    sizes = [TRAINING_SET if v is None else v for v in numbers(subset)]
    if not sizes or not numbers(fraction):
        return  # (a value of the wrong type: refused above)
    smallest = min(sizes)
    for val_fraction in (min(numbers(fraction)), max(numbers(fraction))):
        problem = split_problem(val_fraction, None if smallest == TRAINING_SET else smallest)
        if problem:
            raise ConfigError(
                f"{source}: key 'search': a trial drawing data.subset={smallest} and "
                f"data.val_fraction={val_fraction:g} cannot split the data: {problem}. Narrow "
                "one of the two dimensions."
            )


def _check_path(tree: dict[str, Any], dotted: str) -> None:
    """Raise KeyError unless ``dotted`` names a field of the (validated) config."""
    config = ExperimentConfig.model_validate({k: v for k, v in tree.items() if k != "search"})
    node: Any = config
    for part in dotted.split("."):
        fields = type(node).model_fields if isinstance(node, BaseModel) else {}
        if part not in fields:
            raise KeyError(dotted)
        node = getattr(node, part)


def _unsearch_start(tree: dict[str, Any], dotted: str) -> None:
    """A key fixed by an override leaves the ``sweep.start_with`` points too (a point left
    with no key is dropped)."""
    sweep = tree.get("sweep") if isinstance(tree, dict) else None
    points = sweep.get("start_with") if isinstance(sweep, dict) else None
    if not isinstance(points, list) or dotted.startswith("sweep.start_with"):
        return
    kept = [
        {k: v for k, v in p.items() if k != dotted} if isinstance(p, dict) else p for p in points
    ]
    tree["sweep"]["start_with"] = [p for p in kept if p != {}]


@dataclass(frozen=True)
class Override:
    """One value typed on the command line for one dotted key, and how it was typed
    (``--epochs 1``, ``--set train.epochs=1e309``), for the message that refuses it."""

    key: str
    value: Any
    origin: str


def _overrides(given: dict[str, Any] | Sequence[Override] | None) -> list[Override]:
    if isinstance(given, dict):
        return [Override(k, v, f"override '{_part(k)}'") for k, v in given.items()]
    return list(given or ())


def _check_override(tree: dict[str, Any], override: Override) -> None:
    """Refuse an override whose own value is invalid for its key, whatever other flags
    set later (``--set train.epochs=1e309 --epochs 1`` is refused, not dropped)."""
    try:
        _check_path(tree, override.key)
    except KeyError:
        raise ConfigError(
            f"{override.origin}: '{_part(override.key)}' names no field of this experiment's "
            "config. Keys are dotted paths such as train.epochs; each model kind has its own "
            "(docs/config.md lists them)."
        ) from None
    except ValidationError:
        pass  # the file itself is invalid: validate() says why
    trial = copy.deepcopy(tree)
    _set(trial, override)
    try:
        ExperimentConfig.model_validate(trial)
    except ValidationError as exc:
        mine = [e for e in exc.errors() if f"{_loc(e)}.".startswith(f"{override.key}.")]
        if mine:
            first = mine[0]
            msg = _short_text(first["msg"].removeprefix("Value error, "), 300)
            got = _short(override.value)
            got = "" if got in msg else f" (got {got})"
            raise ConfigError(
                f"{override.origin}: key '{_part(override.key)}': {msg}{got}. Fix the value."
            ) from None


def _set(tree: dict[str, Any], override: Override) -> None:
    try:
        set_dotted(tree, override.key, override.value)
    except KeyError:
        raise ConfigError(
            f"{override.origin}: '{_part(override.key)}' cannot be set: the file gives a value "
            "that is not a mapping above it. Fix the file."
        ) from None


def load_experiment(
    path: str | Path, overrides: dict[str, Any] | Sequence[Override] | None = None
) -> ExperimentConfig:
    """Read, inherit (``extends:``), override (dotted keys) and validate one experiment.
    Each override's value is checked as it is applied (on the file and the overrides
    before it: a later flag never hides an invalid value), then the merged config."""
    path = Path(path)
    tree = _resolve(path)
    for override in _overrides(overrides):  # each checked on the file and those before it
        _check_override(tree, override)
        dotted = override.key
        _set(tree, override)
        if isinstance(tree.get("search"), dict):  # a fixed override replaces its search
            tree["search"].pop(dotted, None)
        _unsearch_start(tree, dotted)
    return validate(tree, str(path))


def to_yaml(config: ExperimentConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def _check_start_with(config: ExperimentConfig, source: str) -> None:
    """Each ``sweep.start_with`` point names every searched key, each with a value its
    search dimension can produce."""
    searched = set(config.search)
    for i, point in enumerate(config.sweep.start_with):
        where = f"{source}: key 'sweep.start_with[{i}]'"
        if not searched:
            raise ConfigError(
                f"{where}: there is no search, so no configuration to start with: every trial "
                "is the fixed config. Remove start_with, or add a search."
            )
        if config.sweep.algo == "grid":
            raise ConfigError(
                f"{where}: a grid runs every combination already; start_with is for the "
                "tpe, random and anneal searches. Remove it, or change sweep.algo."
            )
        unknown, missing = sorted(set(point) - searched), sorted(searched - set(point))
        if unknown:
            raise ConfigError(
                f"{where}: {listed([_part(k) for k in unknown])} is not a searched key (the "
                f"search has {listed([_part(k) for k in sorted(searched)]) or 'none'}). Name "
                "searched keys only."
            )
        if missing:
            raise ConfigError(
                f"{where}: gives no value for the searched key(s) "
                f"{listed([_part(k) for k in missing])}: a starting point is a whole "
                "configuration. Add them."
            )
        for key, value in point.items():
            dist = config.search[key]
            if not dist.contains(value):
                raise ConfigError(
                    f"{where}: {key}={_short(value)} is outside its search dimension "
                    f"{dist.describe()}. Use a value the search can produce."
                )
