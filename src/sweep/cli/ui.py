"""`make ui`'s first words: for each experiment in a store, the direct link to its runs in
the MLflow UI's Model-training view. Reads the store; never creates nor changes one.

    python -m sweep ui [--tracking-uri sqlite:///mlflow.db] [--port 5001]
"""

from __future__ import annotations

import argparse
import sys

from ..names import DEFAULT_TRACKING_URI, UI_PORT
from ._shell import (
    EXIT_BAD_INPUT,
    Parser,
    guarded,
    nonblank,
    read_store,
    reading,
    store_answered,
)

# MLflow 3's UI opens an experiment in its GenAI view unless told otherwise: the URL's
# workflowType (and the experiment tag the tracker sets, read where the UI's workflow
# switch allows) ask for the classic "Model training" view that shows runs.
ML_VIEW = "workflowType=machine_learning"


def ui_base(tracking_uri: str, port: int = UI_PORT) -> str:
    """The address of the UI that shows this store: the tracking server itself, or the
    local ``mlflow ui`` on ``port``."""
    from ..record import shown

    if tracking_uri.startswith(("http://", "https://")):
        return shown(tracking_uri).rstrip("/")
    return f"http://localhost:{port}"


def ui_links(base: str, experiment_id: str, run_id: str | None = None) -> dict[str, str]:
    """Direct links into the Model-training view: the experiment's runs, and one run."""
    links = {"runs": f"{base}/#/experiments/{experiment_id}?{ML_VIEW}"}
    if run_id:
        links["run"] = f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{ML_VIEW}"
    return links


def _port(text: str) -> int:
    """A TCP port, 1 to 65535 (argparse type)."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    """Print the links; 0 also where the SQLite file does not exist yet (nothing to link
    to), 2 for bad input (a flag, a URI of an unknown kind, a file that is no MLflow store,
    one MLflow would write to on opening it), 1 where the store answered with an error."""
    p = Parser(prog="python -m sweep ui", description=__doc__)
    p.add_argument(
        "--tracking-uri", type=nonblank, default=DEFAULT_TRACKING_URI, help="the MLflow store"
    )
    p.add_argument("--port", type=_port, default=UI_PORT, help="port of the local mlflow ui")
    args = p.parse_args(argv)
    return reading(lambda: _links(args))


def _links(args: argparse.Namespace) -> int:
    from ..record import absolute_uri, sqlite_path

    try:
        db = sqlite_path(absolute_uri(args.tracking_uri))
        missing = db is not None and bool(db.name.strip())
        missing = missing and not db.exists() and not db.is_symlink()
    except (OSError, ValueError):  # a name too long: the check below says so
        missing = False
    if missing:
        print(f"no store at {db} yet: run a sweep first (make sweep)", file=sys.stderr)
        return 0
    uri = read_store(args.tracking_uri)  # never creates a store, nor writes to one
    if uri is None:
        return EXIT_BAD_INPUT
    from ..record import STORE_ERRORS, StoreReader

    base = ui_base(uri, args.port)
    try:
        found = StoreReader(uri).experiments()
    except STORE_ERRORS as exc:
        return store_answered(uri, exc)
    print(f"The MLflow UI at {base} shows each sweep's runs under 'Model training':")
    for name, experiment_id in found:
        print(f"  {name}: {ui_links(base, experiment_id)['runs']}")
    return 0


if __name__ == "__main__":
    sys.exit(guarded(main))
