"""``python -m sweep report`` (and ``analyze_results.py``): the sweeps in an MLflow store
as a report (:func:`sweep.report.build_report`), and optionally the results sections of
ACTIONPLAN.md and the README.
"""

from __future__ import annotations

import sys
from datetime import datetime

from .cli import report_arguments


def main(argv: list[str] | None = None, prog: str = "python -m sweep report") -> int:
    args = report_arguments(argv, prog)
    from .console import quiet_libraries
    from .report import ReportError, build_report, update_actionplan, update_section
    from .store import shown

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
