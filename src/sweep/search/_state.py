"""Resuming: the sweep state on disk (the Hyperopt Trials, the parent run and the sweep's
identity, saved atomically next to the MLflow store before and after every trial) and what
a resumed sweep does with it: reopen the parent, mark cut-off runs KILLED, and propose the
trials that were cut off again, with the same parameters.

The state file is a pickle, so it is only ever read from the store's own ``.sweep/`` folder.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import os
import pickle
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from filelock import FileLock, Timeout
from hyperopt import JOB_STATE_DONE, JOB_STATE_NEW, JOB_STATE_RUNNING, Trials
from loguru import logger

from .. import names as M
from ..config import ConfigError, SweepIdentity, legacy_stem, name_stem
from ..faults import writing
from ..names import RunStatus
from ..record import sqlite_path

if TYPE_CHECKING:
    from ..record import Tracker

STATE_DIR = ".sweep"


class ResumeError(ConfigError):
    """An interrupted sweep cannot be resumed as asked (for example, its config changed)."""


class SweepBusy(ConfigError):
    """The sweep is running now, in another live process."""


KEYED_ON = (
    "An interrupted sweep (NAME.trials.pkl) is resumed by a run whose whole config "
    "(identity.config) is the same; a finished one (NAME.done.pkl) is extended by a run "
    "that asks for more trials of the same search (identity.search: all but max_evals). "
    "Neither hash covers the device, what is drawn and logged, or the time budget."
)


@dataclass
class SweepState:
    experiment: str
    parent_run_id: str
    identity: SweepIdentity
    trials: Trials  # hyperopt.Trials
    searched: bool = False  # the search phase is over: only repeats are left
    max_evals: int | None = None  # of a finished sweep: the search budget it was run with
    search_until: int | None = None  # of an extended sweep: evaluated trials to search up to
    keyed_on: str = KEYED_ON  # what the file is matched by, in words

    def __setstate__(self, state: dict[str, Any]) -> None:
        """An older file's one ``config_hash``: the whole config's hash in an interrupted
        sweep's file, the search's in a finished one's (each file is matched on that one)."""
        if "config_hash" in state:
            digest = state.pop("config_hash")
            state["identity"] = SweepIdentity(config=digest, search=digest, setup="")
        self.__dict__.update({"keyed_on": KEYED_ON, **state})


# ----------------------------------------------------------------------------- on disk
def store_dir(tracking_uri: str) -> Path:
    """The folder of a SQLite or file store; the working directory for a server URI."""

    db = sqlite_path(tracking_uri)
    if db is not None:
        return db.resolve().parent
    parsed = urlparse(tracking_uri)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path or ".").resolve().parent
    return Path.cwd()


def state_path(tracking_uri: str, experiment: str) -> Path:
    """``.sweep/STEM.trials.pkl`` beside the store, ``STEM`` one name's own
    (:func:`~sweep.config.name_stem`)."""
    return store_dir(tracking_uri) / STATE_DIR / f"{name_stem(experiment)}.trials.pkl"


def adopt_legacy(path: Path, experiment: str) -> None:
    """Move the files an earlier version kept for ``experiment`` under a stem that other
    names could share (``my sweep`` and ``my_sweep`` both ``my_sweep``) to its own stem:
    only where the saved state names this very experiment and its own files do not exist."""
    old = path.with_name(f"{legacy_stem(experiment)}.trials.pkl")
    if old == path:
        return

    lock = FileLock(old.with_name(old.name.replace(".trials.pkl", ".lock")))
    try:
        lock.acquire(timeout=0.5)
    except Timeout:  # an earlier version runs that sweep now: leave its files alone
        return
    try:
        for src, dst in ((old, path), (done_path(old), done_path(path))):
            try:
                saved = load(src)
            except ResumeError:
                continue
            if saved is None or saved.experiment != experiment or dst.exists():
                continue
            with writing("moving the sweep's state to its own file", dst):
                if src == old and scratch_dir(old).is_dir() and not scratch_dir(dst).exists():
                    os.replace(scratch_dir(old), scratch_dir(dst))
                os.replace(src, dst)
    finally:
        Path(lock.lock_file).unlink(missing_ok=True)
        lock.release()


def scratch_dir(path: Path) -> Path:
    """Beside the state file: the trials' weights, kept until the sweep ends."""
    return path.with_name(path.name.replace(".trials.pkl", ".checkpoints"))


def done_path(path: Path) -> Path:
    """Where a finished sweep's trials are kept, for a later, longer run to extend."""
    return path.with_name(path.name.replace(".trials.pkl", ".done.pkl"))


def find_extendable(
    tracker: Tracker, identity: SweepIdentity, path: Path, max_evals: int
) -> SweepState | None:
    """The finished sweep of this search, if this run asks for more trials (``max_evals``)
    than it ran (the caller asks for a search, never for a grid)."""
    try:
        saved = load(done_path(path))
    except ResumeError:
        return None
    if saved is None or saved.identity.search != identity.search or saved.max_evals is None:
        return None
    more = max_evals - saved.max_evals  # (repeat runs do not count)
    if more <= 0:
        return None
    parent = tracker.get_run(saved.parent_run_id)
    if parent is None or parent.info.status != RunStatus.FINISHED:
        return None
    until = n_evaluated(saved.trials) + more
    return SweepState(
        saved.experiment, saved.parent_run_id, identity, saved.trials,
        max_evals=max_evals, search_until=until,
    )  # fmt: skip


def finish(path: Path, state: SweepState, max_evals: int) -> None:
    """A complete sweep: nothing left to resume; its trials and its search budget
    (``max_evals``) kept for a longer run."""
    save(done_path(path), dataclasses.replace(state, max_evals=max_evals))
    path.unlink(missing_ok=True)


def save(path: Path, state: SweepState) -> None:
    """Write to a temporary file in the same folder, then rename: never a half-written file
    (a full disk: :class:`StorageFull`, the state before it kept)."""
    with writing("saving the sweep's state", path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# where the classes a saved state holds were defined before the package's sub-packages
MOVED = {"sweep.resume": "sweep.search._state"}


class _Unpickler(pickle.Unpickler):
    """Reads a state saved by this version or by one from before the sub-packages (whose
    SweepState lived in ``sweep.resume``), so that such a sweep still resumes."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED.get(module, module), name)


def load(path: Path) -> SweepState | None:
    if not path.is_file():
        return None
    try:
        with path.open("rb") as fh:
            state = _Unpickler(fh).load()  # our own file, in our own store folder (module doc)
    except Exception:  # another version's or a damaged file
        raise ResumeError(
            f"{path}: the saved state of an interrupted sweep cannot be read (written by "
            "another version, or damaged). Run with --fresh to start a new sweep."
        ) from None
    return state if isinstance(state, SweepState) else None


# ----------------------------------------------------------------------------- ownership
def slot_path(base: Path, slot: int) -> Path:
    """Slot 1 is the experiment's sweep; further slots hold sweeps started with --fresh
    beside a running one."""
    return base if slot == 1 else base.with_name(base.name.replace(".trials", f".{slot}.trials"))


def _owner_file(path: Path) -> Path:
    return path.with_name(path.name.replace(".trials.pkl", ".owner.json"))


def _owner(path: Path) -> str:
    try:
        o = json.loads(_owner_file(path).read_text())
        return f"process {o['pid']} on {o['host']} since {o['since']}"
    except (OSError, ValueError, KeyError):
        return "another process"


@contextmanager
def claim(tracking_uri: str, experiment: str, source: str, fresh: bool) -> Iterator[Path]:
    """Own one sweep of ``experiment`` in this store while the block runs; yields the path
    of its state file. The lock is the operating system's, so it goes with a dead process
    (``kill -9`` included) and such a sweep can be resumed. Without ``fresh`` the sweep is
    the experiment's own (slot 1), refused with :class:`SweepBusy` while a live process
    holds it; with ``fresh``, the first slot that no live process holds."""

    base = state_path(tracking_uri, experiment)
    with writing("creating the sweep's state folder", base.parent):
        base.parent.mkdir(parents=True, exist_ok=True)
    adopt_legacy(base, experiment)
    for slot in itertools.count(1):
        path = slot_path(base, slot)
        lock = FileLock(path.with_name(path.name.replace(".trials.pkl", ".lock")))
        try:
            lock.acquire(timeout=0.5)  # a moment for a holder that is just letting go
            break
        except Timeout:
            if not fresh:
                raise SweepBusy(
                    f"{source}: the sweep of experiment {experiment!r} in this store is running "
                    f"now, in {_owner(path)}. Wait for it to finish; or run with --fresh to "
                    "start a new sweep beside it; or, to run the trials of one sweep in "
                    "parallel, use --backend spark --parallelism N."
                ) from None
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now().isoformat(timespec="seconds"),
    }
    try:
        with writing("claiming the sweep", _owner_file(path)):
            _owner_file(path).write_text(json.dumps(owner))
        yield path
    finally:  # no files left behind: a contender that opened the unlinked lock file retries
        _owner_file(path).unlink(missing_ok=True)
        Path(lock.lock_file).unlink(missing_ok=True)
        lock.release()


# ----------------------------------------------------------------------------- trials
def take_unfinished(trials: Trials) -> list[dict[str, Any]]:
    """Remove the trials that were running when the sweep stopped and return them, so that
    they can be proposed again, with the same parameters, as the next trials."""

    unfinished = [
        d for d in trials._dynamic_trials if d["state"] in (JOB_STATE_RUNNING, JOB_STATE_NEW)
    ]
    trials._dynamic_trials[:] = [d for d in trials._dynamic_trials if d not in unfinished]
    trials.refresh()
    return unfinished


def n_evaluated(trials: Trials) -> int:
    return sum(doc["state"] == JOB_STATE_DONE for doc in trials._dynamic_trials)


def finished_copy(trials: Trials) -> Trials:
    """A plain ``hyperopt.Trials`` holding the finished trials of ``trials`` (for example
    SparkTrials, which cannot be pickled)."""

    plain = Trials()
    adopt(plain, trials)
    return plain


def adopt(target: Trials, saved: Trials) -> None:
    """Put copies of the finished trials of ``saved`` into another trials object."""

    docs = [copy.deepcopy(d) for d in saved._dynamic_trials if d["state"] == JOB_STATE_DONE]
    if docs:
        target.insert_trial_docs(docs)
        target._ids.update(d["tid"] for d in docs)  # so new trial ids do not collide
    target.refresh()


# ----------------------------------------------------------------------------- resuming
def find_resumable(
    tracker: Tracker, identity: SweepIdentity, path: Path, source: str
) -> SweepState | None:
    """The saved state of an interrupted sweep of this experiment, if there is one to
    resume; raises :class:`ResumeError` if the experiment changed since."""
    saved = load(path)
    if saved is None:
        return None
    parent = tracker.get_run(saved.parent_run_id)
    if parent is None:  # the run was deleted from the store: nothing to resume
        return None
    if parent.info.status == RunStatus.FINISHED:
        return None
    if saved.identity.config != identity.config:
        raise ResumeError(
            f"{source}: the experiment changed since its sweep {saved.parent_run_id} was "
            "interrupted (file or flags differ), so it cannot be resumed. Run with --fresh "
            "to start a new sweep, or undo the change to resume."
        )
    return dataclasses.replace(saved, identity=identity)


def prepare_scratch(path: Path, resumed: bool) -> Path:
    """The scratch folder of a sweep: emptied for a new one, kept for a resumed one."""
    scratch = scratch_dir(path)
    if not resumed:
        shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True, exist_ok=True)  # model checkpoints survive an interruption
    return scratch


def reopen(tracker: Tracker, state: SweepState) -> list[dict[str, Any]]:
    """Resume: parent back to RUNNING, runs cut off without notice marked KILLED; returns
    the trials to run again."""
    unfinished = take_unfinished(state.trials)
    tracker.reopen_run(state.parent_run_id)
    parent = tracker.get_run(state.parent_run_id)
    stale = tracker.search_runs(
        [parent.info.experiment_id],
        f"tags.`{M.TAG_PARENT}` = '{state.parent_run_id}' "
        f"and attributes.status = '{RunStatus.RUNNING}'",
    )
    for run in stale:
        tracker.set_tags(run.info.run_id, {M.TAG_FAILURE: "interrupted; runs again on resume"})
        tracker.end_run(run.info.run_id, RunStatus.KILLED)
    logger.info(
        "resuming sweep {}: {} trials done, {} to run again, {} runs marked KILLED",
        state.parent_run_id,
        n_evaluated(state.trials),
        len(unfinished),
        len(stale),
    )
    return unfinished


class Checkpointing:
    """Wrapper of a local objective: saves the sweep state *before* each trial, so that a
    trial cut off by a crash is run again, with the same parameters, on resume."""

    def __init__(self, objective: Callable[[dict[str, Any]], Any], save: Callable[[], None]):
        self.objective = objective
        self.save = save

    def __call__(self, sample: dict[str, Any]) -> Any:
        self.save()
        return self.objective(sample)
