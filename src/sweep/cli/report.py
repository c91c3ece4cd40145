"""``python -m sweep report`` (and ``analyze_results.py``): the sweeps in an MLflow store
as a report (:func:`sweep.report.build_report`), and optionally the results sections of
ACTIONPLAN.md and the README.

It reads the store and never writes to it. Every expected failure is one line on stderr,
``error: ...``, and the exit status ``run`` gives for its kind: 2 bad input (a flag, the
store's URI, a store that is missing or no MLflow store, an --out that cannot be a
folder, a file --update-* cannot rewrite), 1 nothing to report or a store that answered
with an error, 3 a write of the report refused for want of room or permission.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from ..names import DEFAULT_TRACKING_URI
from ._arguments import report_arguments
from ._shell import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NO_ROOM,
    error,
    store_answered,
)

if TYPE_CHECKING:
    from ..report import Report


def _error(message: str, code: int) -> int:
    error(message)
    return code


def main(argv: list[str] | None = None, prog: str = "python -m sweep report") -> int:
    args = report_arguments(argv, prog)
    try:
        return _report(args)
    except KeyboardInterrupt:
        return _error(
            f"interrupted (Ctrl-C); the store was not changed, the report in {args.out} may "
            "be incomplete.",
            EXIT_INTERRUPTED,
        )


def _report(args: argparse.Namespace) -> int:
    from ..console import quiet_libraries
    from ..record import STORE_ERRORS
    from ..report import ReportError, build_report, section_page

    quiet_libraries()
    if args.tracking_uri is None and args.results is None:
        args.tracking_uri = DEFAULT_TRACKING_URI  # (with --results alone: the exports only)
    try:
        for path, flag in _sections(args):  # before anything is read or written
            section_page(path, flag)
        report = build_report(
            args.tracking_uri,
            args.out,
            results=args.results,
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
        _update(args, report)
    except (ReportError, *STORE_ERRORS, OSError) as exc:
        return _failed(exc, args)
    return 0


def _sections(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The files to rewrite, each with its flag."""
    flags = [
        (args.update_actionplan, "--update-actionplan"),
        (args.update_readme, "--update-readme"),
    ]
    return [(path, flag) for path, flag in flags if path]


def _update(args: argparse.Namespace, report: Report) -> None:
    """The results sections of ACTIONPLAN.md and the README, where asked for."""
    from ..report import exported_on, sources, update_actionplan, update_section

    # (exports alone: the day they were exported, so that the same exports give the same text)
    day = exported_on(args.results) if args.tracking_uri is None else f"{datetime.now():%Y-%m-%d}"
    context = (
        f"Measured from {sources(args.tracking_uri, args.results)} on {day}. Each row "
        "states its budget (epochs per run, training images, device) and, in brackets, "
        "how that stands to its experiment file's own: \"the file's own\", or the file's "
        "where it was cut; and n, the runs "
        "(seeds) of its selected configuration; test accuracies are on the 10,000 "
        "held-out test images, which never take part in selection."
    )
    if args.update_actionplan:
        update_actionplan(args.update_actionplan, report.markdown, context)
        print(f"updated the results section of {args.update_actionplan}")
    if args.update_readme:
        update_section(args.update_readme, report.summary_markdown, context, "--update-readme")
        print(f"updated the results table of {args.update_readme}")


def _failed(exc: Exception, args: argparse.Namespace) -> int:
    """Say what went wrong in one line; the exit status ``run`` gives for its kind."""
    from ..faults import storage_problem
    from ..report import ReportError, ReportInputError

    if isinstance(exc, ReportInputError):
        return _error(str(exc), EXIT_BAD_INPUT)
    if isinstance(exc, ReportError):
        return _error(str(exc), EXIT_FAILED)
    if isinstance(exc, OSError):  # writing the report (the store is only read)
        problem = storage_problem(exc)
        if problem:
            return _error(
                f"{problem}; the report in {args.out} is incomplete. Make room (or allow the "
                "write), then run the same command again.",
                EXIT_NO_ROOM,
            )
        where = exc.filename or args.out
        return _error(f"cannot write {where}: {exc.strerror or exc}.", EXIT_FAILED)
    return store_answered(args.tracking_uri, exc)
