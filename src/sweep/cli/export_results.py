"""``python -m sweep export-results [--tracking-uri URI] [--experiments ...] --out results``:
a store's sweeps as text that outlives its machine (:func:`sweep.report.export_results`):
per experiment ``results/STEM/`` with runs.csv, sweeps.csv, epochs.csv, the finished runs'
confusion matrices and exported.json. Commit the folder; the report reads it back with
``--results``.

It reads the store and never writes to it. Exit statuses as for ``report``: 2 bad input (a
flag, the store's URI, a store that is missing or no MLflow store, an --out that cannot be
a folder), 1 nothing to export or a store that answered with an error, 3 a write refused
for want of room or permission.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..names import DEFAULT_TRACKING_URI
from ._shell import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    Parser,
    error,
    nonblank,
    read_store,
    reading,
    store_answered,
    write_failed,
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = Parser(
        prog="python -m sweep export-results",
        description="Write a store's sweeps as text files, one folder per experiment.",
    )
    p.add_argument(
        "--tracking-uri", type=nonblank, help=f"the store (default {DEFAULT_TRACKING_URI})"
    )
    p.add_argument(
        "--experiments",
        type=nonblank,
        nargs="+",
        metavar="NAME",
        help="experiment names, name prefixes or globs (default: all)",
    )
    p.add_argument("--out", type=nonblank, default="results", help="the folder (default results)")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return reading(lambda: _export(args))


def _export(args: argparse.Namespace) -> int:
    from ..record import (
        STORE_ERRORS,
        shown,
        sqlite_path,
        unwritable,
    )
    from ..report import ReportError, ReportInputError, export_results, load_runs

    out = Path(args.out)
    why = unwritable(out, folder=True)
    if why:
        error(f"cannot write --out {out}: {why}. Name a folder the exports may go to.")
        return EXIT_BAD_INPUT
    uri = read_store(args.tracking_uri)
    if uri is None:
        return EXIT_BAD_INPUT
    try:
        loaded = load_runs(uri, args.experiments)
        out.mkdir(parents=True, exist_ok=True)
        db = sqlite_path(uri)  # (its file's name: no path of this machine in the export)
        source = f"sqlite:///{db.name}" if db else shown(uri)
        folders = export_results(loaded, source, out)
    except ReportInputError as exc:
        error(str(exc))
        return EXIT_BAD_INPUT
    except ReportError as exc:
        error(str(exc))
        return EXIT_FAILED
    except OSError as exc:
        return write_failed(exc, out)
    except STORE_ERRORS as exc:
        return store_answered(uri, exc)
    for folder in folders:
        print(f"wrote {folder}", file=sys.stderr)
    return 0
