"""Which MLflow store a tracking URI names, how it is shown (password hidden) and the
faults a store answers with; whether it can be used is checked in ``_checks``.

Three kinds of store: a SQLite file (the default), an MLflow tracking server
(``http(s)://``) and a PostgreSQL database (``postgresql+psycopg://``, the ``postgres``
extra). Every fault is a :class:`StoreError`: one paragraph naming the URI (password hidden)
and what to do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..faults import first_line

# scheme://user:password@host (the password may hold "/" or ":"), and ?password=...
_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
_PASSWORD_PARAM = re.compile(r"([?&]password=)[^&\s]*", re.IGNORECASE)
KINDS_HINT = (
    "Name a SQLite file (sqlite:///FILE), an MLflow tracking server (http(s)://HOST:PORT) or "
    "a PostgreSQL database (postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE)."
)


# what MLflow answers for a run, model or experiment that is not in the store, or a
# malformed name of one
NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


class StoreError(Exception):
    """A tracking store that cannot be used, explained in one paragraph."""


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None for any other store."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def absolute_uri(uri: str) -> str:
    """``sqlite:///mlflow.db`` -> ``sqlite:////abs/path/mlflow.db``: MLflow caches stores by
    URI within a process, so a relative path must not mean different files over time."""
    db = sqlite_path(uri)
    return f"sqlite:///{db.resolve()}" if db is not None else uri


def kind(uri: str) -> str:
    """``sqlite``, ``server``, ``postgresql`` or ``other`` (refused by :func:`check`)."""
    if uri.startswith("sqlite:///"):
        return "sqlite"
    if uri.startswith(("http://", "https://")):
        return "server"
    if uri.startswith(("postgresql:", "postgresql+")):
        return "postgresql"
    return "other"


def shown(uri: str) -> str:
    """The URI (or a command-line argument holding one) as printed: a password
    (``scheme://user:password@host`` or ``?password=``) replaced by ``***``."""
    return _PASSWORD_PARAM.sub(r"\1***", _PASSWORD.sub(r"\1***@", uri))


def hides_password(uri: str) -> bool:
    return shown(uri) != uri


def older_mlflow(uri: str, exc: Exception) -> StoreError | None:
    """The clear answer to MLflow's refusal of a store its older versions wrote (found
    when it opens the store), or None for any other error."""
    if "out-of-date database schema" not in str(exc):
        return None
    return _older(uri)


def _older(uri: str) -> StoreError:
    return StoreError(
        f"the store {shown(uri)} was written by an older MLflow. Back it up, then upgrade it "
        f"with: mlflow db upgrade {as_command(uri)}"
    )


def as_command(uri: str) -> str:
    """The URI for a command printed for the user to run: shown, with a note if the
    password had to be hidden."""
    return shown(uri) + (" (type the password for ***)" if hides_password(uri) else "")


def answered_with_error(
    uri: str,
    exc: BaseException,
    then: str = "Nothing was written; check the store (or server), then run the command again.",
) -> str:
    """One paragraph for an error a store reported (MLflow's or SQLAlchemy's pages of text
    cut to their first line, the password hidden), ending with what to do (``then``)."""
    first = shown(first_line(exc, "no details")[:500])
    return f"the store {shown(uri)} answered with an error: {first}. {then}"


_REFUSED = "permission denied, or a read-only file system"


def unwritable(path: str | Path, *, folder: bool) -> str | None:
    """Why a command that reads a store cannot write ``path`` (its ``--out``: a folder, or
    else a file), checked before it reads or writes anything; None where it can. Refused: a
    folder where a file goes, a file (or anything not a folder) where a folder goes, a
    path under a file, and a place this user may not write to."""
    path = Path(path)
    want = "a folder" if folder else "a file"
    try:
        if path.is_symlink() and not path.exists():
            return f"{path} is a link to nothing"
        if path.exists():
            if folder and not path.is_dir():
                return f"{path} exists and is not a folder, so it cannot be the output folder"
            if not folder and path.is_dir():
                return f"{path} is a folder, so it cannot be the output file"
            if not folder and not path.is_file():
                return f"{path} exists and is not a regular file"
            if not os.access(path, os.W_OK):
                return f"{path} cannot be written ({_REFUSED})"
        above = path.parent
        while not above.exists():
            if above.is_symlink():
                return f"{above} is a link to nothing, so {path} cannot be made"
            above = above.parent
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a loop of links
        return f"{path} cannot be {want} ({getattr(exc, 'strerror', None) or exc})"
    if not above.is_dir():
        return f"{above} is a file, so {path} cannot be {want} under it"
    # a file is written beside itself (a temporary file renamed, a figure next to it)
    if (not folder or not path.exists()) and not os.access(above, os.W_OK | os.X_OK):
        return f"{path} cannot be written: the folder {above} refuses writes ({_REFUSED})"
    return None
