"""Aggregate the sweeps in an MLflow store into a report: one row per sweep with its selected
configuration (highest mean validation accuracy over its seeds; the test set never
chooses), statistics per configuration, comparisons against a baseline, figures, runs.csv,
and (optionally) ACTIONPLAN.md's results section.

    python analyze_results.py                       # every experiment in ./mlflow.db
    python analyze_results.py --experiments exp1 exp7 'exp1*' --baseline exp1
    python analyze_results.py --pool                # merge sweeps of one experiment and config
    python analyze_results.py --update-actionplan   # rewrite ACTIONPLAN.md's results
    python analyze_results.py --update-readme       # rewrite the README's results table
"""

from __future__ import annotations

import sys

from sweep.report_command import main

if __name__ == "__main__":
    sys.exit(main(prog="python analyze_results.py"))
