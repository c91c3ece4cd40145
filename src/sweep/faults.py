"""What a failed write says about the machine: no room left on the device, a read-only
folder, a quota. Retrying cannot mend any of them, so such a fault stops the sweep at once,
as a Ctrl-C would (finished trials kept, resumable once there is room), with one line that
names the path and what failed, and its own exit status.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .signals import StoreLost


def first_line(error: BaseException | str, default: str = "?") -> str:
    """The first line of an error's message (MLflow's and SQLAlchemy's run to pages)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else default


# errno -> what the user reads; EACCES only where a folder's permissions forbid the write
_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EFBIG: "the file is too large for its file system",
}
# what the layers above the file system say instead of an errno (SQLite, through
# SQLAlchemy and MLflow, keeps only its message)
_TEXTS = {
    "database or disk is full": "no space left on the device (the SQLite store is full)",
    "no space left on device": "no space left on the device",
    "disk quota exceeded": "the disk quota is exceeded",
    "read-only file system": "the file system is read-only",
    "attempt to write a readonly database": "the SQLite store is read-only",
}


class StorageFull(StoreLost):
    """A write failed for want of room or permission: the sweep stops at once without
    writing more (as when the store is lost) and is resumable once the cause is mended."""


def storage_problem(exc: BaseException) -> str | None:
    """What about ``exc`` (or an exception it came from) says the disk refused a write:
    "no space left on the device: /path"; None for any other error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _ERRNOS:
            where = current.filename
            return _ERRNOS[current.errno] + (f": {where}" if where else "")
        text = str(current).lower()
        found = next((why for marker, why in _TEXTS.items() if marker in text), None)
        if found:
            return found
        current = current.__cause__ or current.__context__
    return None


def folder_refuses_writes(folder: Path, room: int = 1 << 20) -> str | None:
    """Why ``folder`` takes no writes now (less than ``room`` bytes free, a read-only file
    system, no permission); None where it does. For errors that name no cause: SQLite
    says "disk I/O error" or "unable to open database file" for a full disk too."""

    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"the file system is read-only: {folder}"
        if shutil.disk_usage(folder).free < room:
            return f"no space left on the device: {folder}"
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return f"permission denied: {folder}"
    return None


def full_message(what: str, problem: str) -> str:
    """The one line a storage fault is reported as."""
    return (
        f"{what} failed: {problem}. The sweep stopped; finished trials are kept. Free space "
        "(or make the folder writable), then run the same command again to resume"
    )


@contextmanager
def writing(what: str, path: Path | str | None = None) -> Iterator[None]:
    """Within the block, an ``OSError`` for want of room or permission becomes
    :class:`StorageFull` naming ``what`` was written (and ``path``, where the error has none)."""
    try:
        yield
    except StorageFull:
        raise
    except Exception as exc:
        problem = storage_problem(exc)
        if problem is None:
            raise
        if path is not None and str(path) not in problem:
            problem = f"{problem} ({path})"
        raise StorageFull(full_message(what, problem)) from None
