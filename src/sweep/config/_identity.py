"""A sweep's identity: hashes of its config (the whole, its search, its setup) computed once
when it opens, the file's own budget, and the stem a name gives its files."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ._loading import load_experiment
from ._reader import ConfigError, _resolve
from ._schema import ExperimentConfig
from ._sweep import TPE_STARTUP


def content_hash(path: str | Path) -> str:
    """Hash of the fully resolved experiment (so a change in a parent file counts too)."""
    resolved = _resolve(Path(path))
    text = yaml.safe_dump(resolved, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_budget(path: str | Path) -> str:
    """The training budget the file itself sets, as JSON: ``{"epochs": 5, "subset": null}``
    (what a command line's ``--epochs``/``--subset`` change); "" if the file alone is not
    a valid experiment (an override completes it)."""
    try:
        config = load_experiment(path)
    except ConfigError:
        return ""
    return json.dumps({"epochs": config.train.epochs, "subset": config.data.subset})


# how long a sweep may run: not what it trains (a sweep its budget ended goes on without)
_BUDGET_KEYS = ("time_budget", "timeout_minutes", "time_budget_grace")


# the keys added after sweeps were recorded, dotted, with their defaults
_LATER_KEYS: dict[str, Any] = {
    "sweep.tpe_startup": TPE_STARTUP,
    "model.stem_pool": False,
    "model.whiten": False,
    "model.identity_init": False,
    "model.bn_momentum": 0.1,
    "train.optimizer.bn_lr_scale": 1.0,
}


def config_digest(
    config: ExperimentConfig, train: tuple[str, ...] = (), sweep: tuple[str, ...] = ()
) -> str:
    """A short hash of the config without the ``train`` and ``sweep`` keys named, nor
    those that change where it trains or what is drawn and logged, never what is trained
    (``train.device``, ``sweep.trial_figures``, ``sweep.log_model``,
    ``sweep.system_metrics``), nor how long it may run (its time budget)."""
    exclude: dict[str, Any] = {
        "expect": True,  # (a statement about the result, like the hypothesis's words)
        "train": dict.fromkeys(("device", *train), True),
        "sweep": dict.fromkeys(
            ("trial_figures", "log_model", "system_metrics", *_BUDGET_KEYS, *sweep), True
        ),
    }
    # keys added after sweeps were recorded count where they are set: at their default the
    # sweep is the one an earlier version ran, and resumes and pools with it
    for dotted, default in _LATER_KEYS.items():
        *blocks, key = dotted.split(".")
        part, where = config, exclude
        for block in blocks:
            part, where = getattr(part, block), where.setdefault(block, {})
        if getattr(part, key, default) == default:  # (a model kind without the key: as unset)
            where[key] = True
    text = config.model_dump_json(exclude=exclude)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SweepIdentity:
    r"""What a sweep is, hashed once when it opens: three :func:`config_digest`\ s of its
    config (file and command-line overrides), each named for what it hashes. None of them
    covers where the sweep trains, what it draws and logs, or how long it may run."""

    config: str  # the whole config: an interrupted sweep resumes only with the same
    search: str  # the config but sweep.max_evals: a finished sweep is extended by more trials
    setup: str  # the config but its seeds: sweeps of one setup are pooled in a report

    @classmethod
    def of(cls, config: ExperimentConfig) -> SweepIdentity:
        return cls(
            config=config_digest(config),
            search=config_digest(config, sweep=("max_evals",)),
            setup=config_digest(config, train=("seed",), sweep=("seed",)),
        )


# A name that is already a plain file name (lower-case letters, digits, "_" and "-") is its
# own stem; any other is its portable characters (at most 40) then "~" and a hash of the
# exact name. "~" and "." are in no stem's first part, and no plain stem has capitals, so
# the mapping is one-to-one, also where a file system ignores case, and the suffixes the
# sweep adds (".2.trials.pkl", ".done.pkl", ".lock", ".checkpoints") never make one stem's
# file another's.
_PLAIN_STEM = re.compile(r"[a-z0-9_][a-z0-9_-]{0,199}")


def name_stem(name: str) -> str:
    """The experiment ``name`` as the stem of its files (state file, checkpoints, artifact
    folder): ``exp12`` -> ``exp12``; ``my sweep`` -> ``my_sweep~04da9ba84a9e``; a name in
    any script and of any length -> at most 53 ASCII bytes (a plain name keeps its up to
    200). Two names never share a stem."""
    if _PLAIN_STEM.fullmatch(name):
        return name
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", name).lstrip("-")[:40]
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{readable}~{digest}"


def legacy_stem(name: str) -> str:
    """The stem earlier versions gave a name's state file (many names to one stem)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)
