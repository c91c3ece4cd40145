"""`make ui`'s first words: for each experiment in a store, the direct link to its runs in
the MLflow UI's Model-training view. Reads the store; never creates one.

    python -m sweep ui [--tracking-uri sqlite:///mlflow.db] [--port 5001]   (or python -m sweep.ui)
"""

from __future__ import annotations

import argparse
import sys

from .store import DEFAULT_TRACKING_URI, absolute_uri, shown, sqlite_path

UI_PORT = 5001  # where `make ui` (mlflow ui --port 5001) serves a local store
# MLflow 3's UI opens an experiment in its GenAI view unless told otherwise: the URL's
# workflowType (and the experiment tag the tracker sets, read where the UI's workflow
# switch allows) ask for the classic "Model training" view that shows runs.
ML_VIEW = "workflowType=machine_learning"


def ui_base(tracking_uri: str, port: int = UI_PORT) -> str:
    """The address of the UI that shows this store: the tracking server itself, or the
    local ``mlflow ui`` on ``port``."""
    if tracking_uri.startswith(("http://", "https://")):
        return shown(tracking_uri).rstrip("/")
    return f"http://localhost:{port}"


def ui_links(base: str, experiment_id: str, run_id: str | None = None) -> dict[str, str]:
    """Direct links into the Model-training view: the experiment's runs, and one run."""
    links = {"runs": f"{base}/#/experiments/{experiment_id}?{ML_VIEW}"}
    if run_id:
        links["run"] = f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{ML_VIEW}"
    return links


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sweep ui", description=__doc__)
    p.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI, help="the MLflow store")
    p.add_argument("--port", type=int, default=UI_PORT, help="port of the local mlflow ui")
    args = p.parse_args(argv)
    uri = absolute_uri(args.tracking_uri)
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        print(f"no store at {db} yet: run a sweep first (make sweep)", file=sys.stderr)
        return 0
    from mlflow.tracking import MlflowClient

    base = ui_base(uri, args.port)
    experiments = [e for e in MlflowClient(uri).search_experiments() if e.name != "Default"]
    print(f"The MLflow UI at {base} shows each sweep's runs under 'Model training':")
    for e in experiments:
        print(f"  {e.name}: {ui_links(base, e.experiment_id)['runs']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
