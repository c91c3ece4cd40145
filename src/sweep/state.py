"""Sweep state on disk, for resuming: the Hyperopt Trials, the parent run and a hash of the
config, saved atomically next to the MLflow store after every trial (and before each one,
so that a trial cut off by a crash is run again with the same parameters).

The file is a pickle, so it is only ever read from the store's own ``.sweep/`` folder.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .config import ExperimentConfig

STATE_DIR = ".sweep"


@dataclass
class SweepState:
    experiment: str
    parent_run_id: str
    config_hash: str
    trials: Any  # hyperopt.Trials


def store_dir(tracking_uri: str) -> Path:
    """The folder of a SQLite or file store; the working directory for a server URI."""
    from .tracking import sqlite_path

    db = sqlite_path(tracking_uri)
    if db is not None:
        return db.resolve().parent
    parsed = urlparse(tracking_uri)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path or ".").resolve().parent
    return Path.cwd()


def state_path(tracking_uri: str, experiment: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", experiment)
    return store_dir(tracking_uri) / STATE_DIR / f"{safe}.trials.pkl"


def config_hash(config: ExperimentConfig) -> str:
    """Hash of everything that defines the sweep (file contents and command-line overrides)."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


def save(path: Path, state: SweepState) -> None:
    """Write to a temporary file in the same folder, then rename: never a half-written file."""
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


def load(path: Path) -> SweepState | None:
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        state = pickle.load(fh)  # our own file, in our own store folder (see module doc)
    return state if isinstance(state, SweepState) else None


def take_unfinished(trials: Any) -> list[dict[str, Any]]:
    """Remove the trials that were running when the sweep stopped and return them, so that
    they can be proposed again, with the same parameters, as the next trials."""
    from hyperopt import JOB_STATE_NEW, JOB_STATE_RUNNING

    unfinished = [
        d for d in trials._dynamic_trials if d["state"] in (JOB_STATE_RUNNING, JOB_STATE_NEW)
    ]
    trials._dynamic_trials[:] = [d for d in trials._dynamic_trials if d not in unfinished]
    trials.refresh()
    return unfinished


def relabel(doc: dict[str, Any], tid: int) -> dict[str, Any]:
    """A copy of a trial document as a new, not yet evaluated trial with id ``tid``."""
    import copy

    from hyperopt import JOB_STATE_NEW

    doc = copy.deepcopy(doc)
    doc.update(
        state=JOB_STATE_NEW,
        tid=tid,
        result={"status": "new"},
        book_time=None,
        refresh_time=None,
        owner=None,
    )
    doc["misc"]["tid"] = tid
    doc["misc"]["idxs"] = {k: [tid] if v else [] for k, v in doc["misc"]["idxs"].items()}
    return doc


def n_evaluated(trials: Any) -> int:
    from hyperopt import JOB_STATE_DONE

    return sum(doc["state"] == JOB_STATE_DONE for doc in trials._dynamic_trials)


def finished_copy(trials: Any) -> Any:
    """A plain ``hyperopt.Trials`` holding the finished trials of ``trials`` (for example
    SparkTrials, which cannot be pickled)."""
    import copy

    from hyperopt import JOB_STATE_DONE, Trials

    plain = Trials()
    docs = [copy.deepcopy(d) for d in trials._dynamic_trials if d["state"] == JOB_STATE_DONE]
    if docs:
        plain.insert_trial_docs(docs)
        plain._ids.update(d["tid"] for d in docs)  # so new trial ids do not collide
    plain.refresh()
    return plain


def adopt(target: Any, saved: Any) -> None:
    """Put the finished trials of a saved sweep into a new trials object (resume)."""
    from hyperopt import JOB_STATE_DONE

    docs = [d for d in saved._dynamic_trials if d["state"] == JOB_STATE_DONE]
    if docs:
        target.insert_trial_docs(docs)
        target._ids.update(d["tid"] for d in docs)  # so new trial ids do not collide
        target.refresh()
