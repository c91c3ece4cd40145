"""`make ui`'s first words: for each experiment in a store, the direct link to its runs in
the MLflow UI's Model-training view. Reads the store; never creates one.

    python -m sweep.ui [--tracking-uri sqlite:///mlflow.db] [--port 5001]
"""

from __future__ import annotations

import argparse
import sys

from .tracking import DEFAULT_TRACKING_URI, UI_PORT, absolute_uri, sqlite_path, ui_base, ui_links


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sweep.ui", description=__doc__)
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
