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

import argparse
import sys
from datetime import datetime


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python analyze_results.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--tracking-uri",
        default="sqlite:///mlflow.db",
        help="MLflow store to read (default: sqlite:///mlflow.db)",
    )
    p.add_argument(
        "--experiments",
        nargs="+",
        metavar="NAME",
        help="experiment names, name prefixes (exp7) or globs ('exp1*')",
    )
    p.add_argument(
        "--since",
        type=datetime.fromisoformat,
        metavar="DATE",
        help="only trials started on or after DATE (YYYY-MM-DD[THH:MM])",
    )
    p.add_argument(
        "--metric",
        default="test_accuracy",
        help="what the comparison and the figures summarise (default: test_accuracy); "
        "selection is always on validation accuracy",
    )
    p.add_argument(
        "--baseline",
        help="reference: an experiment (its latest sweep) or a sweep's run id prefix "
        "(default: the lowest-numbered experiment)",
    )
    p.add_argument(
        "--pool",
        action="store_true",
        help="one row per experiment and config: merge its sweeps that ran the same config "
        "(file and overrides); default: one row per sweep",
    )
    p.add_argument("--out", default="reports", help="output folder (default: reports/)")
    p.add_argument(
        "--update-actionplan",
        nargs="?",
        const="ACTIONPLAN.md",
        metavar="PATH",
        help="rewrite the results section of ACTIONPLAN.md (or PATH)",
    )
    p.add_argument(
        "--update-readme",
        nargs="?",
        const="README.md",
        metavar="PATH",
        help="rewrite the results table of README.md (or PATH): one row per sweep",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, "src")  # runnable from a checkout without installing
    from sweep.console import quiet_libraries
    from sweep.report import ReportError, build_report, update_actionplan, update_section
    from sweep.store import shown

    quiet_libraries()

    try:
        report = build_report(
            args.tracking_uri,
            args.out,
            experiments=args.experiments,
            since=args.since,
            metric=args.metric,
            baseline=args.baseline,
            pool=args.pool,
        )
        print(report.markdown)
        print(
            f"\nwrote {', '.join(str(f) for f in report.files[:3])} and "
            f"{len(report.files) - 3} figures"
        )
        context = (
            f"Measured from `{shown(args.tracking_uri)}` on {datetime.now():%Y-%m-%d}. Each row "
            "states its budget (epochs per run, training images, device) and n, the runs "
            "(seeds) of its selected configuration; test accuracies are on the 10,000 "
            "held-out test images, which never take part in selection."
        )
        if args.update_actionplan:
            update_actionplan(args.update_actionplan, report.markdown, context)
            print(f"updated the results section of {args.update_actionplan}")
        if args.update_readme:
            update_section(args.update_readme, report.summary_markdown, context, "--update-readme")
            print(f"updated the results table of {args.update_readme}")
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
