"""Which MLflow store a tracking URI names, and whether it can be used: checked once, with
short timeouts, before a sweep or a report writes or reads anything.

Three kinds of store: a SQLite file (the default), an MLflow tracking server
(``http(s)://``) and a PostgreSQL database (``postgresql+psycopg://``, the ``postgres``
extra). Every fault is a :class:`StoreError`: one paragraph naming the URI (password hidden)
and what to do.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import sqlite3
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from .faults import first_line

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
STORE_TIMEOUT_S = 180.0  # how long a sweep waits for a store that stopped answering
CHECK_TIMEOUT_S = 5  # per connection attempt while checking a store
# pg_advisory_lock key that serialises creating MLflow's tables in a new PostgreSQL database
_SCHEMA_LOCK = 0x6D6C666C6F77  # "mlflow"


# scheme://user:password@host (the password may hold "/" or ":"), and ?password=...
_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
_PASSWORD_PARAM = re.compile(r"([?&]password=)[^&\s]*", re.IGNORECASE)
KINDS_HINT = (
    "Name a SQLite file (sqlite:///FILE), an MLflow tracking server (http(s)://HOST:PORT) or "
    "a PostgreSQL database (postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE)."
)


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
    return StoreError(
        f"the store {shown(uri)} was written by an older MLflow. Back it up, then upgrade it "
        f"with: mlflow db upgrade {as_command(uri)}"
    )


def as_command(uri: str) -> str:
    """The URI for a command printed for the user to run: shown, with a note if the
    password had to be hidden."""
    return shown(uri) + (" (type the password for ***)" if hides_password(uri) else "")


def existing(tracking_uri: str | None) -> str | None:
    """The checked, absolute URI of a store that must exist already (for the commands that
    read one: predict, export-best); None after printing why it cannot be used."""
    uri = absolute_uri(tracking_uri or DEFAULT_TRACKING_URI)
    try:
        check(uri, create=False)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return uri


def check(uri: str, *, create: bool) -> None:
    """Raise :class:`StoreError` unless ``uri`` names a store this MLflow can use.

    ``create``: a SQLite file or PostgreSQL schema that does not exist yet may be created
    (a sweep); otherwise a missing store is an error (a report)."""
    which = kind(uri)
    if which == "sqlite":
        _check_sqlite(uri, Path(uri.removeprefix("sqlite:///")), create)
    elif which == "server":
        _check_server(uri)
    elif which == "postgresql":
        _check_postgresql(uri, create)
    elif uri.startswith("postgres://"):
        raise StoreError(
            f"--tracking-uri {shown(uri)}: write postgresql+psycopg:// for a PostgreSQL store "
            "(the driver the postgres extra installs)."
        )
    else:
        raise StoreError(f"--tracking-uri {shown(uri)} is no store this tool knows. {KINDS_HINT}")


# ----------------------------------------------------------------------------- SQLite
def _known_revisions() -> tuple[set[str], str]:
    """Every schema revision this MLflow knows, and its newest."""
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    script = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    return {r.revision for r in script.walk_revisions()}, script.get_current_head()


def _check_revision(uri: str, revision: str | None) -> None:
    if revision is None:
        return  # tables but no revision yet: MLflow initialises or upgrades them
    known, head = _known_revisions()
    if revision not in known:
        raise StoreError(
            f"the store {shown(uri)} was written by a newer MLflow (schema {revision}; this "
            f"MLflow knows up to {head}). Upgrade MLflow (uv lock --upgrade-package mlflow) or "
            "use another store."
        )


def _check_sqlite(uri: str, db: Path, create: bool) -> None:
    if not db.exists():
        if create:
            return
        raise StoreError(
            f"there is no store at {uri} (no file {db}). Run a sweep first, or name the store "
            "with --tracking-uri."
        )
    if not db.is_file():
        raise StoreError(f"{uri} names {db}, which is not a file. Name an MLflow SQLite store.")
    try:  # read-only: checking never writes, never creates
        with contextlib.closing(
            sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=CHECK_TIMEOUT_S)
        ) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            revision = None
            if "alembic_version" in tables:
                row = con.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
    except sqlite3.DatabaseError as exc:  # "file is not a database", a truncated file
        raise StoreError(
            f"{db} is not an MLflow store ({exc}). Name the right file with --tracking-uri, "
            "or move this one away."
        ) from None
    if tables and "experiments" not in tables:
        raise StoreError(
            f"{db} is an SQLite database but not an MLflow store (it has no experiments "
            "table). Name the right file with --tracking-uri."
        )
    if not create and not tables:
        raise StoreError(f"{uri} holds no MLflow store yet (an empty file). Run a sweep first.")
    _check_revision(uri, revision)


# ----------------------------------------------------------------------------- server
def _check_server(uri: str) -> None:
    health = uri.rstrip("/") + "/health"
    where, asked = shown(uri), shown(health)
    try:
        with urllib.request.urlopen(health, timeout=CHECK_TIMEOUT_S) as response:  # noqa: S310
            answer = response.read(100).decode(errors="replace").strip()
    except urllib.error.HTTPError as exc:
        raise StoreError(
            f"the server at {where} answered {exc.code} {exc.reason} to {asked}: it is not an "
            "MLflow tracking server, or it refuses this client. Check the address."
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc.__class__.__name__
        raise StoreError(
            f"no MLflow tracking server answers at {where} ({reason}). Start it (mlflow server "
            "--backend-store-uri ... --port N) or fix --tracking-uri."
        ) from None
    if answer != "OK":
        raise StoreError(
            f"{where} answered {answer[:40]!r} to {asked}, not an MLflow tracking server's OK. "
            "Check the address."
        )


# ----------------------------------------------------------------------------- PostgreSQL
def _engine(uri: str):  # noqa: ANN202 (SQLAlchemy's Engine)
    import sqlalchemy

    try:
        return sqlalchemy.create_engine(
            uri, connect_args={"connect_timeout": CHECK_TIMEOUT_S}, poolclass=sqlalchemy.NullPool
        )
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] != "psycopg":
            raise StoreError(
                f"{shown(uri)} needs the driver {exc.name}, which is not installed. Write "
                "postgresql+psycopg:// instead (the driver the postgres extra installs: uv sync "
                "--extra postgres)."
            ) from None
        raise StoreError(
            f"{shown(uri)} needs the PostgreSQL driver, which is not installed ({exc.name}). "
            "Install it with: uv sync --extra postgres"
        ) from None
    except Exception as exc:  # a malformed URL
        raise StoreError(
            f"{shown(uri)} is not a database URL SQLAlchemy can read: {exc}"
        ) from None


def _check_postgresql(uri: str, create: bool) -> None:
    import sqlalchemy

    engine = _engine(uri)
    try:
        with engine.connect() as con:
            tables = set(sqlalchemy.inspect(con).get_table_names())
            revision = None
            if "alembic_version" in tables:
                revision = con.execute(
                    sqlalchemy.text("SELECT version_num FROM alembic_version")
                ).scalar()
    except sqlalchemy.exc.OperationalError as exc:
        raise StoreError(_postgres_fault(uri, str(exc.orig or exc))) from None
    except sqlalchemy.exc.SQLAlchemyError as exc:  # e.g. an option PostgreSQL does not know
        first = first_line(getattr(exc, "orig", None) or exc)
        raise StoreError(
            f"PostgreSQL refused {shown(uri)}: {first}. Check the URI's database and options."
        ) from None
    finally:
        engine.dispose()
    if not create and "experiments" not in tables:
        raise StoreError(
            f"the database {shown(uri)} holds no MLflow store yet. Run a sweep into it first."
        )
    if tables - {"alembic_version"} and "experiments" not in tables:
        raise StoreError(
            f"the database {shown(uri)} holds other tables but no MLflow store. Use a database "
            "of its own for MLflow."
        )
    _check_revision(uri, revision)


def _postgres_fault(uri: str, message: str) -> str:
    text = message.lower()
    where = shown(uri)
    if "password authentication failed" in text or "no password supplied" in text:
        return f"PostgreSQL refused the login of {where}. Check the user name and password."
    if "does not exist" in text and "database" in text:
        return (
            f"the database of {where} does not exist. Create it (createdb NAME, or CREATE "
            "DATABASE) and run again."
        )
    first = first_line(message, "no answer")
    return (
        f"no PostgreSQL server answers at {where} ({first}). Start it, or fix the host and "
        "port in --tracking-uri."
    )


@contextlib.contextmanager
def schema_lock(uri: str) -> Iterator[None]:
    """Serialise the first use of a store across processes and machines where two sweeps
    opening a new PostgreSQL database at once would both create MLflow's tables."""
    if kind(uri) != "postgresql":
        yield
        return
    import sqlalchemy

    engine = _engine(uri)
    try:
        with engine.connect() as con:
            con.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": _SCHEMA_LOCK})
            try:
                yield
            finally:
                con.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": _SCHEMA_LOCK})
    finally:
        engine.dispose()
