"""The report of an MLflow store's sweeps, under its own name: the same command, flags and
output as ``python -m sweep report`` (``--help`` lists them; sweep.cli.report runs it).

    python analyze_results.py                       # every experiment in ./mlflow.db
    python analyze_results.py --update-actionplan   # rewrite ACTIONPLAN.md's results
"""

from __future__ import annotations

import sys

from sweep.cli._shell import guarded
from sweep.cli.report import main

if __name__ == "__main__":
    sys.exit(guarded(lambda: main(prog="python analyze_results.py")))
