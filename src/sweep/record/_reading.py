"""A store opened for reading only, for the commands that never write to it (predict,
export-best, ui): its experiments, a sweep's latest finished parent run, a run's text
artifact, a logged model (loaded from a copy). MLflow's and SQLAlchemy's errors stay
theirs (:data:`STORE_ERRORS`); :func:`not_found` tells "no such thing" from a store that
answered with an error."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pytorch
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sqlalchemy.exc import SQLAlchemyError

from .. import names as M
from ..names import RunStatus
from ._store import NOT_FOUND
from ._tracker import fluent_store

STORE_ERRORS = (MlflowException, SQLAlchemyError)  # the store answered with an error


def not_found(exc: BaseException) -> bool:
    """MLflow's answer that a run, an experiment, an artifact or a model does not exist
    (or a model URI it cannot parse)."""
    return isinstance(exc, MlflowException) and (
        exc.error_code in NOT_FOUND or str(exc).startswith("Not a proper")
    )


def artifact_if_any(client: Any, run_id: str, name: str, folder: str | Path) -> Path | None:
    """A run's artifact ``name`` copied into ``folder``; None where the run has none of that
    name. ``client`` is MLflow's or one that answers the same call (an export's reader); a
    store that answered with an error raises."""
    try:
        return Path(client.download_artifacts(run_id, name, str(folder)))
    except (MlflowException, FileNotFoundError) as exc:
        if isinstance(exc, FileNotFoundError) or not_found(exc):
            return None
        raise


class StoreReader:
    """MLflow's client on one store, asked only questions that read."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.client = MlflowClient(uri)

    def experiments(self) -> list[tuple[str, str]]:
        """(name, id) of every experiment but MLflow's Default."""
        return [
            (e.name, e.experiment_id)
            for e in self.client.search_experiments()
            if e.name != "Default"
        ]

    def run(self, run_id: str) -> Any:
        return self.client.get_run(run_id)

    def experiment_id(self, name: str) -> str | None:
        experiment = self.client.get_experiment_by_name(name)
        return None if experiment is None else experiment.experiment_id

    def latest_sweep(self, experiment_id: str) -> Any | None:
        """The newest finished parent run that selected a configuration, or None."""
        runs = self.client.search_runs(
            [experiment_id],
            f"tags.`{M.TAG_BEST_TRIAL}` != '' and attributes.status = '{RunStatus.FINISHED}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return runs[0] if runs else None

    def artifact_text(self, run_id: str, path: str) -> str:
        """A run's text artifact, read from a copy; a missing one is FileNotFoundError."""
        try:
            with tempfile.TemporaryDirectory() as folder:
                local = self.client.download_artifacts(run_id, path, folder)
                return Path(local).read_text(encoding="utf-8")
        except MlflowException as exc:
            if exc.error_code in NOT_FOUND:
                raise FileNotFoundError(2, str(exc).splitlines()[0], path) from None
            raise

    def logged_models(self, run_id: str) -> list[str]:
        """The ids of the models a run logged, oldest first."""
        outputs = self.client.get_run(run_id).outputs
        return [o.model_id for o in (outputs.model_outputs if outputs else [])]

    def load_model(self, source: str) -> Any:
        """The PyTorch model at ``source`` (models:/...), loaded from a copy: MLflow writes a
        file (registered_model_meta) beside a registered model it loads in place."""
        with (
            fluent_store(self.uri),  # (load_model resolves the store globally)
            tempfile.TemporaryDirectory(prefix="sweep-predict-") as copy,
        ):
            return mlflow.pytorch.load_model(source, dst_path=copy, map_location="cpu")
