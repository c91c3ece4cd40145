"""Whether a store can be used, checked once with short timeouts before anything reads or
writes it: a SQLite file (there, readable, MLflow's tables and schema revision, opened
read-only where a command only reads), an MLflow server (its health answer) or a PostgreSQL
database (reachable, the schema there or creatable); and the lock that lets one process
create a new PostgreSQL store's tables. Every fault is a :class:`StoreError`."""

from __future__ import annotations

import contextlib
import http.client
import os
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy
from alembic.script import ScriptDirectory
from mlflow.store.db.base_sql_model import Base
from mlflow.store.db.utils import _get_alembic_config

from ..faults import first_line
from ..names import DEFAULT_TRACKING_URI
from ._store import KINDS_HINT, StoreError, _older, absolute_uri, kind, shown, sqlite_path

CHECK_TIMEOUT_S = 5  # per connection attempt while checking a store


# pg_advisory_lock key that serialises creating MLflow's tables in a new PostgreSQL database
_SCHEMA_LOCK = 0x6D6C666C6F77  # "mlflow"


def is_the_store(path: str | Path, uri: str) -> bool:
    """Whether ``path`` is the database file of the SQLite store ``uri`` (a command's
    output must never be: writing it would destroy the store)."""
    db = sqlite_path(uri)
    if db is None:
        return False
    try:
        path = Path(path)
        return path.resolve() == db.resolve() or (path.exists() and path.samefile(db))
    except (OSError, ValueError):
        return False


def check(uri: str, *, create: bool) -> None:
    """Raise :class:`StoreError` unless ``uri`` names a store this MLflow can use.

    ``create``: a SQLite file or PostgreSQL schema that does not exist yet may be created
    (a sweep); otherwise a missing store is an error, and so is any store MLflow would
    write to on opening it (a report, predict, export-best and ui only read): one without
    all of MLflow's tables or its Default experiment, or of an older schema."""
    which = kind(uri)
    if which == "sqlite" and not Path(uri.removeprefix("sqlite:///")).name.strip():
        raise StoreError(
            f"--tracking-uri {shown(uri)} names no file: its file name is empty or blank (an "
            "unset shell variable?). Name the store's file, e.g. sqlite:///mlflow.db."
        )
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


_DEFAULT_EXPERIMENT = "SELECT 1 FROM experiments WHERE experiment_id = 0"


_SQLITE_HEADER = b"SQLite format 3\x00"


def _has_default_experiment(execute, query: str) -> bool:  # noqa: ANN001 (a DB-API execute)
    try:
        return execute(query).fetchone() is not None
    except Exception:  # an experiments table of some other program: no MLflow columns
        return False


def _check_opens_read_only(
    uri: str, tables: set[str], revision: str | None, has_default: bool
) -> None:
    """For a command that only reads (create=False): refuse any store MLflow's
    SqlAlchemyStore would write to when it opens it, before it is opened. It creates or
    upgrades the tables where any of its own is missing, and adds the Default experiment
    (id 0) where there is none."""

    _, head = _known_revisions()  # (imports every MLflow table into Base.metadata)
    if revision is None:
        raise StoreError(
            f"the store {shown(uri)} has MLflow's tables but no schema revision "
            "(alembic_version): MLflow never completed it, and opening it would write to it "
            "(this command never does). Name another store, or run a sweep into this one first."
        )
    if revision != head:  # (a newer one was refused by _check_revision): MLflow would
        raise _older(uri)  # upgrade it where tables are missing, else refuse it
    missing = sorted(set(Base.metadata.tables) - tables)
    if missing:
        raise StoreError(
            f"the store {shown(uri)} lacks MLflow's table(s) {', '.join(missing[:5])}: it is "
            "damaged or incomplete, and opening it would write to it (this command never "
            "does). Name another store, or restore this one from a backup."
        )
    if not has_default:
        raise StoreError(
            f"the store {shown(uri)} has no Default experiment (id 0), which MLflow would "
            "write into it on opening it; this command only reads. Run a sweep into it "
            "first, or name another store."
        )


def _check_sqlite(uri: str, db: Path, create: bool) -> None:
    try:
        found = db.exists()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        why = getattr(exc, "strerror", None) or exc
        raise StoreError(f"{shown(uri)} names no usable file ({why}). {KINDS_HINT}") from None
    if not found:
        if create:
            return
        raise StoreError(
            f"there is no store at {uri} (no file {db}). Run a sweep first, or name the store "
            "with --tracking-uri."
        )
    if not db.is_file():
        raise StoreError(f"{uri} names {db}, which is not a file. Name an MLflow SQLite store.")
    if not create and not os.access(db, os.R_OK):
        raise StoreError(f"{db} cannot be read (permission denied). Name a store you can read.")
    try:  # SQLite reads a file shorter than its header as an empty database, to be written
        with db.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"{db} cannot be read ({exc.strerror or exc}).") from None
    if header and header != _SQLITE_HEADER:
        raise StoreError(
            f"{db} is not an MLflow store (not an SQLite database: it does not start as one). "
            "Name the right file with --tracking-uri, or move this one away."
        )
    has_default = False
    try:  # read-only: checking never writes, never creates
        with contextlib.closing(
            sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=CHECK_TIMEOUT_S)
        ) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            revision = None
            if "alembic_version" in tables:
                row = con.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
            if not create and "experiments" in tables:
                has_default = _has_default_experiment(con.execute, _DEFAULT_EXPERIMENT)
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
        what = "an empty file" if not header else "an SQLite database without tables"
        raise StoreError(f"{uri} holds no MLflow store yet ({what}). Run a sweep first.")
    _check_revision(uri, revision)
    if not create:
        _check_opens_read_only(uri, tables, revision, has_default)


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
    engine = _engine(uri)
    has_default = False
    try:
        with engine.connect() as con:
            tables = set(sqlalchemy.inspect(con).get_table_names())
            revision = None
            if "alembic_version" in tables:
                revision = con.execute(
                    sqlalchemy.text("SELECT version_num FROM alembic_version")
                ).scalar()
            if not create and "experiments" in tables:
                has_default = _has_default_experiment(
                    lambda q: con.execute(sqlalchemy.text(q)), _DEFAULT_EXPERIMENT
                )
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
    if not create:
        _check_opens_read_only(uri, tables, revision, has_default)


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


def existing(tracking_uri: str | None) -> str:
    """The checked, absolute URI of a store that must exist already (for the commands that
    only read one: report, predict, export-best, ui); :class:`StoreError` where it cannot
    be used (the caller prints it and exits with status 2). Only None means the default
    store: an empty or blank URI (an unset shell variable) is refused."""
    try:
        uri = absolute_uri(DEFAULT_TRACKING_URI if tracking_uri is None else tracking_uri)
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        why = getattr(exc, "strerror", None) or exc
        raise StoreError(f"--tracking-uri {shown(str(tracking_uri))}: {why}.") from None
    if not uri.strip():
        raise StoreError(
            "--tracking-uri is empty. Name the store, or leave the flag out for "
            f"{DEFAULT_TRACKING_URI}."
        )
    check(uri, create=False)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return uri
