"""A store's results as text that outlives its machine: one folder per experiment, named by
its stem, holding ``runs.csv`` (one row per trial run: its ids, configuration, seed, role,
status, params, final metrics and where it ran, as the report reads them), ``sweeps.csv``
(one row per sweep: its hypothesis, its prediction, its file's budget and its search
space), ``epochs.csv`` (every run's per-epoch metrics) and ``confusion/RUN_ID.csv`` (each
finished run's confusion matrix on the test set). Small and diffable: no model, no weights.
:func:`read_results` gives the report the same tables back, and answers the two other
questions the report asks a store (a run's metric history, a run's confusion table)."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.entities import Metric

from .. import names as M
from ..config import name_stem
from ..names import RunStatus
from ..record import artifact_if_any

RUNS, SWEEPS, EPOCHS, CONFUSION = "runs.csv", "sweeps.csv", "epochs.csv", "confusion"
EXPORTED = "exported.json"  # what was exported from where, and when
JSON_COLUMNS = ("expect", "file_budget", "search_spec")  # sweeps.csv: dicts as JSON text
TIME_COLUMNS = ("start_time",)
# the rows of the runs' and the sweeps' tables: by start time, then by id
ORDER = {RUNS: ["start_time", "run_id"], SWEEPS: ["start_time", "parent_run_id"]}


def export_results(
    loaded: Any, source: str, out: Path, experiments: list[str] | None = None
) -> list[Path]:
    """Write the runs ``loaded`` holds (the report's :class:`Loaded`: its runs and sweeps
    tables and its store's client) into ``out``, one folder per experiment, written beside,
    then renamed into place; returns the folders. The sweeps a folder holds already from
    another store (another machine's, an earlier session's) are kept; this store's sweeps
    replace their earlier export."""
    frame, client, sweeps = loaded
    written = []
    for experiment, runs in frame.groupby("experiment", sort=False):
        if experiments and experiment not in experiments:
            continue
        folder = out / name_stem(str(experiment))
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=out))
        try:
            _write(staging, runs, sweeps[sweeps["experiment"] == experiment], client)
            kept = _keep_other_sweeps(folder, staging) if folder.is_dir() else 0
            meta = {"experiment": experiment, "source": source, "runs": len(runs) + kept}
            meta |= {"kept": kept} if kept else {}  # runs of the earlier exports' other sweeps
            meta["exported"] = f"{datetime.now():%Y-%m-%d}"
            (staging / EXPORTED).write_text(json.dumps(meta, indent=1) + "\n")
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        written.append(folder)
    return written


def _keep_other_sweeps(earlier: Path, staging: Path) -> int:
    """Add to the new export in ``staging`` the rows of the ``earlier`` export's sweeps
    that it does not hold (their cells as written, text to text) and their confusion
    tables; the number of runs kept. An earlier export that cannot be read keeps nothing."""
    try:
        old = {name: _cells(earlier / name) for name in (RUNS, SWEEPS, EPOCHS)}
    except (OSError, ValueError, pd.errors.ParserError):
        return 0
    new = {name: _cells(staging / name) for name in (RUNS, SWEEPS, EPOCHS)}
    mine = set(new[SWEEPS]["parent_run_id"])
    runs = old[RUNS][~old[RUNS]["parent_run_id"].isin(mine)]
    if runs.empty:
        return 0  # (the same sweeps exported again: nothing else to keep)
    tables = {
        RUNS: runs,
        SWEEPS: old[SWEEPS][~old[SWEEPS]["parent_run_id"].isin(mine)],
        EPOCHS: old[EPOCHS][old[EPOCHS]["run_id"].isin(set(runs["run_id"]))],
    }
    for name, rows in tables.items():
        merged = pd.concat([rows, new[name]], ignore_index=True).fillna("")
        if name in ORDER:  # the order _write gives
            start, then = ORDER[name]
            order = pd.to_datetime(merged[start], errors="coerce")
            merged = merged.assign(_order=order).sort_values(["_order", then], kind="stable")
            merged = merged.drop(columns="_order")
        merged.to_csv(staging / name, index=False)
    for run_id in runs["run_id"]:
        table = earlier / CONFUSION / f"{run_id}.csv"
        if table.is_file():
            shutil.copyfile(table, staging / CONFUSION / table.name)
    return len(runs)


def _cells(path: Path) -> pd.DataFrame:
    """An exported table's cells as the text they are written as."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)


def _write(folder: Path, runs: pd.DataFrame, sweeps: pd.DataFrame, client: Any) -> None:
    runs = runs.sort_values(ORDER[RUNS])
    runs.to_csv(folder / RUNS, index=False)
    table = sweeps.copy()
    for column in JSON_COLUMNS:
        if column in table:
            table[column] = table[column].map(lambda v: json.dumps(v, sort_keys=True))
    table.sort_values(ORDER[SWEEPS]).to_csv(folder / SWEEPS, index=False)
    rows = []
    for run_id in runs["run_id"]:
        for key in M.EPOCH_METRICS:
            for m in client.get_metric_history(run_id, key):
                rows.append({"run_id": run_id, "key": key, "step": m.step, "value": m.value})
    columns = ["run_id", "key", "step", "value"]
    pd.DataFrame(rows, columns=columns).to_csv(folder / EPOCHS, index=False)
    (folder / CONFUSION).mkdir()
    for run_id in runs.loc[runs["status"] == RunStatus.FINISHED, "run_id"]:
        # a run without one is skipped (the report draws none for it); a store that answered
        # with an error raises, and nothing half-exported is kept
        local = artifact_if_any(client, run_id, M.CONFUSION_TABLE, folder / CONFUSION)
        if local is not None:
            local.rename(folder / CONFUSION / f"{run_id}.csv")


class ExportedRuns:
    """The two reads the report makes of a store beyond its tables, answered from an
    export: a run's metric history and a run's confusion table."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        epochs = [
            pd.read_csv(f / EPOCHS, dtype={"run_id": str})
            for f in folders
            if (f / EPOCHS).is_file()
        ]
        self.epochs = pd.concat(epochs, ignore_index=True) if epochs else pd.DataFrame()

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        if self.epochs.empty:
            return []
        mine = self.epochs[(self.epochs["run_id"] == run_id) & (self.epochs["key"] == key)]
        steps, values = mine["step"], mine["value"]
        return [Metric(key, float(v), 0, int(s)) for s, v in zip(steps, values, strict=True)]

    def download_artifacts(self, run_id: str, name: str, dst: str) -> str:
        if name != M.CONFUSION_TABLE:
            raise FileNotFoundError(name)
        for folder in self.folders:
            found = folder / CONFUSION / f"{run_id}.csv"
            if found.is_file():
                target = Path(dst) / M.CONFUSION_TABLE
                shutil.copyfile(found, target)
                return str(target)
        raise FileNotFoundError(f"{run_id}/{name}")


TEXT_COLUMNS = ("experiment", "run_id", "parent_run_id", "config_id", "sweep_key")
_MISSING = ["", "nan", "NaN", "None"]  # (a metric or field the run never had)


def read_runs(path: Path) -> pd.DataFrame:
    """An exported table as the store gives it: every param as the text MLflow holds
    (``None`` stays the word, "20" is not 20), ids as text (a hash of digits is no number),
    metrics as numbers; an empty cell is a value the run never had."""
    header = pd.read_csv(path, nrows=0).columns
    text = [c for c in header if c.startswith("params.") or c in TEXT_COLUMNS]
    return pd.read_csv(
        path,
        dtype=dict.fromkeys(text, str),
        keep_default_na=False,
        na_values={c: [""] if c in text else _MISSING for c in header},
    )


def read_results(folder: Path) -> tuple[pd.DataFrame, ExportedRuns, pd.DataFrame]:
    """The runs and sweeps tables of every experiment exported under ``folder`` (or of the
    one experiment ``folder`` is), and the reader of their histories and tables."""
    folders = (
        [folder]
        if (folder / RUNS).is_file()
        else sorted(f for f in folder.iterdir() if (f / RUNS).is_file())
    )
    if not folders:
        return pd.DataFrame(), ExportedRuns([]), pd.DataFrame()
    runs = pd.concat([read_runs(f / RUNS) for f in folders], ignore_index=True)
    sweeps = pd.concat([read_runs(f / SWEEPS) for f in folders], ignore_index=True)
    for table in (runs, sweeps):
        for column in TIME_COLUMNS:
            if column in table:
                table[column] = pd.to_datetime(table[column])
    for column in JSON_COLUMNS:
        if column in sweeps:
            sweeps[column] = sweeps[column].map(
                lambda t: json.loads(t) if isinstance(t, str) else None
            )
    return runs, ExportedRuns(folders), sweeps


def _from_json(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) else None


def exported_on(folder: str | Path) -> str:
    """The day of the latest export under ``folder`` (YYYY-MM-DD)."""
    folder = Path(folder)
    metas = [folder / EXPORTED] if (folder / EXPORTED).is_file() else folder.glob(f"*/{EXPORTED}")
    days = [json.loads(m.read_text()).get("exported", "") for m in metas]
    return max(days, default="")


def exported_finished(folder: str | Path, name: str, setup: str, runs: int) -> bool:
    """Whether ``folder`` (``export-results --out``) holds a finished sweep of experiment
    ``name`` of the setup ``setup`` (:attr:`SweepIdentity.setup`: the config but its
    seeds). A sweep exported with its status counts where it finished; one exported before
    the status was, where it has at least ``runs`` runs (what the sweep trains when nothing
    stops it early). Anything unreadable counts as not exported: the sweep runs."""
    where = Path(folder) / name_stem(name)
    try:
        sweeps = read_runs(where / SWEEPS)
        if {"sweep_key", "status"} <= set(sweeps.columns):
            mine = sweeps[sweeps["sweep_key"] == setup]
            return bool((mine["status"] == RunStatus.FINISHED).any())
        table = pd.read_csv(where / RUNS, usecols=["sweep_key"], dtype={"sweep_key": str})
    except (OSError, ValueError, pd.errors.ParserError):
        return False
    return int((table["sweep_key"] == setup).sum()) >= runs
