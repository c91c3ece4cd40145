"""*Load*, the report's first step: a store's runs (through MLflow's client, read only),
an export's (``_exports``), or both, as one runs table (one row per trial) and one sweeps
table (one row per parent run), with a reader for the two other reads (a run's per-epoch
metrics and its confusion table). Experiments are picked by name, prefix or glob; a store
that is not one, or holds no trial, is refused (:class:`ReportInputError`,
:class:`ReportError`)."""

from __future__ import annotations

import fnmatch
import os
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .. import names as M
from ..analysis import (
    epoch_history,
    history_frame,
)
from ..record import (
    StoreError,
    all_runs,
    artifact_if_any,
    check,
    is_trial,
    older_mlflow,
    shown,
    sweep_key,
    sweep_row,
    trial_row,
)
from ._exports import read_results

CURVE_METRICS = (M.TRAIN_LOSS, M.TRAIN_ACCURACY, M.VAL_LOSS, M.VAL_ACCURACY)


class ReportError(RuntimeError):
    """Nothing to report (a store without trials, none since --since): a message, not a
    crash (exit status 1)."""


class ReportInputError(ReportError):
    """Bad input, found before anything is written: a store that is missing or cannot be
    used, an --out that cannot be a folder, a flag naming nothing in the store (--metric,
    --baseline, --experiments), a file --update-* cannot rewrite (exit status 2)."""


def matches(name: str, pattern: str) -> bool:
    """Does ``pattern`` pick experiment ``name``: the name, its prefix (``exp7`` for
    ``exp7_steplr_decay``) or a glob?"""
    return name == pattern or name.startswith(pattern + "_") or fnmatch.fnmatch(name, pattern)


def _experiment_number(name: str) -> tuple[int, str]:
    """Sort key: exp2 before exp10; names without a number after, alphabetically."""
    digits = "".join(ch for ch in name.removeprefix("exp").split("_")[0] if ch.isdigit())
    return (int(digits), name) if name.startswith("exp") and digits else (10**6, name)


class Loaded(NamedTuple):
    runs: pd.DataFrame  # one row per trial (child run)
    client: Any  # MLflow's client, for the other reads
    sweeps: pd.DataFrame  # one row per sweep (parent run): runs.sweep_row


def load_runs(
    tracking_uri: str,
    experiments: list[str] | None = None,
    since: datetime | None = None,
) -> Loaded:
    """One row per trial (child run): experiment, ids, configuration, seed, role, status,
    params and final metrics (``val_accuracy``: the returned model's); one row per sweep;
    and the client, for the other reads."""

    try:  # a report reads a store, never creates or changes one
        check(tracking_uri, create=False)
    except StoreError as exc:
        raise ReportInputError(str(exc)) from None
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        client = MlflowClient(tracking_uri)
        found = client.search_experiments()
    except MlflowException as exc:
        older = older_mlflow(tracking_uri, exc)
        if older is None:
            raise
        raise ReportInputError(str(older)) from None
    names = {e.experiment_id: e.name for e in _picked(found, experiments, tracking_uri)}
    runs = all_runs(client, list(names))
    rows = [trial_row(run, names[run.info.experiment_id]) for run in runs if is_trial(run)]
    parents = [r for r in runs if not is_trial(r)]
    keys = {r.info.run_id: sweep_key(r) for r in parents}
    sweeps = pd.DataFrame([sweep_row(r, names[r.info.experiment_id]) for r in parents])
    rows = [r for r in rows if since is None or r["start_time"] >= since]
    for r in rows:
        r["sweep_key"] = keys.get(r["parent_run_id"], r["parent_run_id"])
    if not rows:
        raise ReportError(
            f"the store {shown(tracking_uri)} holds {len(names)} experiment(s) but no trial "
            "(child) runs" + (f" since {since:%Y-%m-%d}" if since else "") + "; nothing to report."
        )
    return Loaded(_ordered(pd.DataFrame(rows)), client, sweeps)


def load_results(
    folder: str | Path, experiments: list[str] | None = None, since: datetime | None = None
) -> Loaded:
    """The runs and sweeps exported under ``folder`` (``python -m sweep export-results``),
    as :func:`load_runs` gives a store's, with a reader for the other reads."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportInputError(
            f"--results {folder}: no such folder. Name the folder export-results wrote."
        )
    runs, reader, sweeps = read_results(folder)
    if runs.empty:
        raise ReportError(f"--results {folder}: no exported experiment (no runs.csv) in it.")
    if experiments:
        keep = [e for e in runs["experiment"].unique() if any(matches(e, p) for p in experiments)]
        if not keep:
            raise ReportInputError(
                f"--experiments {' '.join(experiments)}: no experiment exported in {folder} "
                "matches. Name experiments, prefixes or globs."
            )
        runs = runs[runs["experiment"].isin(keep)]
        sweeps = sweeps[sweeps["experiment"].isin(keep)]
    if since is not None:
        runs = runs[runs["start_time"] >= since]
    return Loaded(_ordered(runs), reader, sweeps.reset_index(drop=True))


class _Both:
    """The other reads of a report over a store and exports together: the store first."""

    def __init__(self, *readers: Any) -> None:
        self.readers = readers

    def get_metric_history(self, run_id: str, key: str) -> list[Any]:
        for reader in self.readers:
            if found := reader.get_metric_history(run_id, key):
                return found
        return []

    def download_artifacts(self, run_id: str, name: str, dst: str) -> str:
        for reader in self.readers:
            if (found := artifact_if_any(reader, run_id, name, dst)) is not None:
                return str(found)
        raise FileNotFoundError(f"{run_id}/{name}")


def load_sources(
    tracking_uri: str | None,
    results: str | Path | None,
    experiments: list[str] | None = None,
    since: datetime | None = None,
) -> Loaded:
    """A store's runs, exported runs, or both (a run in both counts once, as the store
    has it)."""
    loaded = [
        *([load_runs(tracking_uri, experiments, since)] if tracking_uri else []),
        *([load_results(results, experiments, since)] if results else []),
    ]
    if len(loaded) == 1:
        return loaded[0]
    runs = pd.concat([x.runs for x in loaded]).drop_duplicates("run_id", keep="first")
    sweeps = pd.concat([x.sweeps for x in loaded]).drop_duplicates("parent_run_id")
    return Loaded(_ordered(runs), _Both(*(x.client for x in loaded)), sweeps)


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["seed"] = frame["seed"].astype("Int64")  # a run failed before its params: no seed
    frame["order"] = frame["experiment"].map(_experiment_number)
    frame = frame.sort_values(["order", "start_time"]).drop(columns="order")
    return frame.reset_index(drop=True)


def _picked(found: list[Any], experiments: list[str] | None, tracking_uri: str) -> list[Any]:
    """The experiments ``--experiments`` names (all by default); one it names that is not
    in the store is bad input."""
    if experiments:
        every = sorted(e.name for e in found if e.name != "Default")
        found = [e for e in found if any(matches(e.name, pat) for pat in experiments)]
        if not found:
            raise ReportInputError(
                f"--experiments {' '.join(experiments)}: no experiment in "
                f"{shown(tracking_uri)} matches (it holds: {', '.join(every[:20]) or 'none'}"
                f"{' ...' if len(every) > 20 else ''}). Name experiments, prefixes or globs."
            )
    if not found:
        raise ReportError(
            f"no experiments in {shown(tracking_uri)}. Run a sweep first: "
            "python -m sweep experiments/quickstart.yaml"
        )
    return found


def assign_units(frame: pd.DataFrame, pool: bool = False) -> pd.DataFrame:
    """Add ``unit`` (what one row of the report summarises: one sweep, or with ``pool``
    the sweeps of one experiment with the same config) and ``sweep``, its label."""
    frame = frame.copy()
    key = frame["sweep_key"] if pool else frame["parent_run_id"]
    frame["unit"] = frame["experiment"] + "/" + key
    if pool:  # a run with the configuration and seed of an earlier one is a copy of it
        frame = frame[~frame.duplicated(["unit", "config_id", "seed"]) | frame["seed"].isna()]
    labels = {}
    for experiment, group in frame.groupby("experiment", sort=False):
        units = list(dict.fromkeys(group["unit"]))
        for unit in units:
            sweeps = group.loc[group["unit"] == unit, "parent_run_id"].unique()
            which = f"sweep {sweeps[0][:8]}"
            if len(sweeps) > 1:
                which = f"{len(sweeps)} sweeps of config {unit.split('/')[-1][:8]}"
            alone = len(units) == 1 and len(sweeps) == 1
            labels[unit] = experiment if alone else f"{experiment} ({which})"
    frame["sweep"] = frame["unit"].map(labels)
    return frame


def load_curves(client: Any, summary: pd.DataFrame) -> pd.DataFrame:
    """The per-epoch metrics of the run that stands for each row's selected configuration,
    as :func:`plots.history_frame` lays them out (one frame, labelled by ``label``)."""

    frames = []
    for _, row in summary.iterrows():
        if not row.get("best_run_id"):
            continue
        run_id = row["best_run_id"]
        history = epoch_history({k: client.get_metric_history(run_id, k) for k in CURVE_METRICS})
        frames.append(history_frame(history, experiment=row["label"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
