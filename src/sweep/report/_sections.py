"""The results sections of ACTIONPLAN.md and the README: the two marker lines between
which ``analyze_results.py --update-actionplan`` / ``--update-readme`` write, checked
(readable, writable, both markers there) before the report is built, and rewritten
keeping everything outside them."""

from __future__ import annotations

from pathlib import Path

from ..record import (
    unwritable,
)
from ._loading import ReportInputError

RESULTS_END = "<!-- results:end -->"  # (the start line names its flag: see markers)


def markers(flag: str) -> tuple[str, str]:
    """The two lines between which ``analyze_results.py FLAG`` writes its results."""
    return (
        f"<!-- results:start (written by `python analyze_results.py {flag}`) -->",
        RESULTS_END,
    )


def section_page(path: str | Path, flag: str) -> str:
    """The text of the Markdown file ``flag`` rewrites, once it is found readable, writable
    and holding both results markers (checked before the report is built, and again before
    the file is written)."""
    path = Path(path)
    start, end = markers(flag)
    try:
        page = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportInputError(
            f"{flag} {path}: no such file. Name the Markdown file whose results section it "
            "rewrites."
        ) from None
    except IsADirectoryError:
        raise ReportInputError(f"{flag} {path}: a folder, not a Markdown file.") from None
    except UnicodeDecodeError as exc:
        raise ReportInputError(
            f"{flag} {path}: not UTF-8 text ({exc.reason} at byte {exc.start}); name a "
            "Markdown file."
        ) from None
    except (OSError, ValueError) as exc:  # no permission, a name too long, a NUL byte
        why = getattr(exc, "strerror", None) or exc
        raise ReportInputError(f"{flag} {path}: cannot be read ({why}).") from None
    why = unwritable(path, folder=False)
    if why:
        raise ReportInputError(f"{flag} {path}: {why}.")
    if start not in page or end not in page:
        raise ReportInputError(
            f"{flag} {path}: the file has no results markers; add the two lines {start} "
            f"and {end} where the results go."
        )
    return page


def update_section(path: str | Path, text: str, context: str, flag: str) -> None:
    """Replace the text between the results markers of ``path``; keep the rest."""
    path = Path(path)
    start, end = markers(flag)
    page = section_page(path, flag)
    head, rest = page.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n\n{context}\n\n{text}\n\n{end}{tail}", encoding="utf-8")


def update_actionplan(path: str | Path, tables: str, context: str) -> None:
    """ACTIONPLAN.md's results section: both result tables."""
    update_section(path, tables, context, "--update-actionplan")
