"""A study: several experiment files, each with the overrides of its budget, run one after
another into one store. Its file lists them; :func:`plan` says of each whether it finished
(its sweep's state kept as finished, of exactly this config), was exported finished (by
this machine or another: the caller says which), was cut off (its state waits to be
resumed, with how many trials it has) or has not started, and how many epochs and
images it may still train, so that the study's command can skip what is done, resume what
was cut off and say what is left."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import ConfigError, ExperimentConfig, SweepIdentity, load_experiment
from . import _state as resume
from ._phases import most_epochs, train_images


class StudySweep(BaseModel):
    """One experiment file of a study (a path relative to the study file) and the
    overrides of its budget (dotted keys, as ``--set`` takes them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str = Field(min_length=1)
    set: dict[str, Any] = Field(default_factory=dict)


class StudyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    description: str = ""
    sweeps: list[StudySweep] = Field(min_length=1)


@dataclass(frozen=True)
class Planned:
    """One sweep of a study as the store has it now."""

    path: Path  # the experiment file
    config: ExperimentConfig
    overrides: dict[str, Any]  # the study's for it (dotted keys)
    state: str  # "done", "exported", "cut off" or "to run"
    trials_done: int
    epochs_left: int  # at most: every trial and repeat still owed at its full epochs
    images_left: int  # training images those epochs see

    @property
    def done(self) -> bool:
        return self.state in ("done", "exported")


Entry = tuple[Path, ExperimentConfig, dict[str, Any]]  # a file, its config, its overrides


def load_study(path: str | Path) -> tuple[StudyFile, list[Entry]]:
    """The study file and each of its sweeps' configs, every file checked before any runs:
    a study that would fail at its fifth sweep is refused at once (:class:`ConfigError`)."""
    path = Path(path)
    try:
        study = StudyFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot be read as a study file ({exc}).") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"{path}: {where}: {first['msg']}. A study file has a name and sweeps: a list of "
            "{file: EXPERIMENT.yaml, set: {dotted.key: value}}."
        ) from None
    configs = []
    for sweep in study.sweeps:
        file = (path.parent / sweep.file).resolve()
        configs.append((file, load_experiment(file, sweep.set), dict(sweep.set)))
    names = [c.name for _, c, _ in configs]
    if len(set(names)) < len(names):
        raise ConfigError(f"{path}: two sweeps of one experiment name; give each its own.")
    return study, configs


def plan(tracking_uri: str, entries: list[Entry], exported: Collection[str] = ()) -> list[Planned]:
    """Where each sweep of the study stands in the store ``tracking_uri``; ``exported``:
    the names of the sweeps whose finished results are exported already (a sweep done in
    the store stays "done")."""
    return [_planned(tracking_uri, *entry, exported) for entry in entries]


def _planned(
    tracking_uri: str,
    path: Path,
    config: ExperimentConfig,
    overrides: dict[str, Any],
    exported: Collection[str] = (),
) -> Planned:
    identity = SweepIdentity.of(config).config
    state_file = resume.state_path(tracking_uri, config.name)
    done = _saved(resume.done_path(state_file))
    if done is not None and done.identity.config == identity:
        return Planned(path, config, overrides, "done", resume.n_evaluated(done.trials), 0, 0)
    if config.name in exported:
        return Planned(path, config, overrides, "exported", 0, 0, 0)
    cut = _saved(state_file)
    if cut is not None and cut.identity.config == identity:
        planned, _, per_trial = most_epochs(config, cut)
        trials = resume.n_evaluated(cut.trials)
        left = max(0, planned - per_trial * trials)
        images = left * train_images(config)
        return Planned(path, config, overrides, "cut off", trials, left, images)
    empty = resume.SweepState(config.name, "", SweepIdentity.of(config), None)
    planned = most_epochs(config, empty).planned
    return Planned(path, config, overrides, "to run", 0, planned, planned * train_images(config))


def _saved(path: Path) -> resume.SweepState | None:
    try:
        return resume.load(path)
    except resume.ResumeError:  # unreadable: the sweep itself says so when it runs
        return None
