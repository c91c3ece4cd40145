"""The commands that read a store — ``report`` (``analyze_results.py``), ``predict``,
``export-best``, ``ui`` — are as strict as ``run``: every expected failure is one line on
stderr starting with ``error: ``, never a traceback, with run's exit statuses (2 bad input:
a flag, a path, a URI of an unknown kind, a file that is no MLflow store; 1 a store that
answered with an error, data missing or broken), and none of them ever writes to the store:
its bytes and its folder are the same after each, whatever it answered.

Each command's ``main(argv)`` runs in this process, in a folder of its own; the classes of
bad input are generated (Hypothesis) where they have more members than a list would hold.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import sqlite3
import string
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from conftest import REPO, Done, examples, run_cli, run_main, tiny_sweep
from sweep.cli import export_best as export
from sweep.cli import export_results, predict, ui
from sweep.cli import report as report_command
from sweep.record import kind, shown

COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "report": report_command.main,
    "predict": predict.main,
    "export-best": export.main,
    "export-results": export_results.main,
    "ui": ui.main,
}
NAME = "exp1_tiny"  # the small store's experiment
SETTINGS = settings(
    deadline=None,
    derandomize=True,  # the same cases on every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def run(command: str, argv: list[str], folder: Path) -> Done:
    """``python -m sweep COMMAND ARGV`` in this process, in ``folder``."""
    assert command in COMMANDS
    return run_main([command, *argv], folder)


def one_line(done: Done, code: int, *words: str) -> None:
    """Status ``code`` and one line on stderr, ``error: ...``, naming ``words``."""
    assert done.code == code, done.err
    assert done.err.startswith("error: ") and done.err.count("\n") == 1, done.err
    assert "Traceback" not in done.err
    for word in words:
        assert word in done.err, (word, done.err)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the sha256 of its bytes, every folder by name."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "folder"
        for p in folder.rglob("*")
    }


def reading(command: str, uri: str | None, out: Path) -> list[str]:
    """Arguments that make ``command`` read the store ``uri`` (None: the default one), its
    output (if any) in ``out``."""
    store = [] if uri is None else ["--tracking-uri", uri]
    return {
        "report": ["--out", str(out / "report"), *store],
        "predict": [f"models:/{NAME}@best", "--out", str(out / "pred.txt"), *store],
        "export-best": [f"{NAME}.yaml", "--out", str(out / "best.yaml"), *store],
        "export-results": ["--out", str(out / "results"), *store],
        "ui": store,
    }[command]


@contextlib.contextmanager
def a_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


# ----------------------------------------------------------------------------- blank values
BLANK = "\0"  # where the value goes in each template below
SLOTS = {
    "report": [
        ["--tracking-uri", BLANK],
        ["--out", BLANK],
        ["--experiments", BLANK],
        ["--experiments", "exp1", BLANK],
        ["--baseline", BLANK],
        ["--metric", BLANK],
        ["--update-actionplan", BLANK],
        ["--update-readme", BLANK],
    ],
    "predict": [
        [BLANK, "--out", "p.txt"],
        ["models:/x@best", "--out", BLANK],
        ["models:/x@best", "--out", "p.txt", "--images", BLANK],
        ["models:/x@best", "--out", "p.txt", "--images", "i", "--labels", BLANK],
        ["models:/x@best", "--out", "p.txt", "--data-dir", BLANK],
        ["models:/x@best", "--out", "p.txt", "--tracking-uri", BLANK],
    ],
    "export-best": [
        [BLANK, "--out", "b.yaml"],
        ["x.yaml", "--out", BLANK],
        ["x.yaml", "--out", "b.yaml", "--tracking-uri", BLANK],
    ],
    "export-results": [
        ["--out", BLANK],
        ["--tracking-uri", BLANK],
        ["--experiments", BLANK],
    ],
    "ui": [["--tracking-uri", BLANK]],
}
CASES = [(command, argv) for command, slots in SLOTS.items() for argv in slots]
blanks = st.text(" \t\n\r\x0b\x0c\xa0\u2003", max_size=4)  # an unset variable, "  ", ...


@settings(SETTINGS, max_examples=examples(100))
@given(case=st.sampled_from(CASES), value=st.one_of(blanks, st.just("a\0b")))
def test_an_empty_or_blank_value_is_refused_never_read_as_the_default(case, value) -> None:
    command, template = case
    argv = [value if a == BLANK else a for a in template]
    with a_folder() as folder:
        done = run(command, argv, folder)
        assert list(folder.iterdir()) == []  # no store, no report folder, no file
    assert done.code == 2, (argv, done.err)
    assert "Traceback" not in done.err
    assert done.err.count("\n") == 1, done.err  # one line, no usage block
    last = done.err.strip()
    assert last.startswith(f"error: python -m sweep {command}: argument "), done.err
    assert ("empty" if value.strip(" \t\n\r\x0b\x0c\xa0\u2003") == "" else "NUL") in last, last


# ----------------------------------------------------------------------------- store URIs
schemes = st.from_regex(r"[A-Za-z][A-Za-z0-9+.-]{0,12}", fullmatch=True)
rests = st.text(string.ascii_letters + string.digits + "/.:@_-?=&%", max_size=40)


@settings(SETTINGS, max_examples=examples(100))
@given(command=st.sampled_from(list(COMMANDS)), scheme=schemes, rest=rests)
@example(command="ui", scheme="postgres", rest="//me:secret@db/mlflow")
@example(command="ui", scheme="sqlite", rest="//relative.db")  # (two slashes: no file)
@example(command="report", scheme="file", rest="///tmp/mlruns")
def test_a_uri_of_an_unknown_kind_is_refused(command: str, scheme: str, rest: str) -> None:
    uri = f"{scheme}:{rest}"
    assume(kind(uri) == "other")
    with a_folder() as folder:
        done = run(command, reading(command, uri, folder), folder)
        assert list(folder.iterdir()) == []
    one_line(done, 2, shown(uri))
    assert "secret" not in done.err


# ----------------------------------------------------------------------------- not stores
HEADER = b"SQLite format 3\x00"
junk = st.one_of(
    st.binary(min_size=1, max_size=4096),
    st.binary(max_size=4096).map(lambda b: HEADER + b),  # an SQLite header, then anything
    st.text(max_size=200).map(str.encode),  # notes, a YAML file, ...
)


@settings(SETTINGS, max_examples=examples(100))
@given(command=st.sampled_from(list(COMMANDS)), data=junk)
@example(command="ui", data=b"")  # the empty file MLflow would make a 1 MB store of
@example(command="report", data=b"")
@example(command="predict", data=b"x")  # shorter than SQLite's header: read as empty
def test_a_file_that_is_no_store_is_refused_and_left_as_it_was(command: str, data: bytes) -> None:
    with a_folder() as folder:
        (folder / "mlflow.db").write_bytes(data)  # the default store, no --tracking-uri
        before = snapshot(folder)
        done = run(command, reading(command, None, folder), folder)
        assert snapshot(folder) == before
    one_line(done, 2, "mlflow.db")


def sqlite_file(path: Path, *statements: str) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as con:
        for sql in statements:
            con.execute(sql)
        con.commit()
    return path


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize(
    "statements, words",
    [
        (["CREATE TABLE notes (text)"], "not an MLflow store"),
        (["CREATE TABLE experiments (experiment_id)"], "no schema revision"),
        (["PRAGMA user_version = 7"], "holds no MLflow store yet"),  # an SQLite file, no tables
    ],
    ids=["another_program", "half_made", "no_tables"],
)
def test_an_sqlite_file_that_is_no_mlflow_store_is_refused(
    command: str, statements: list[str], words: str, tmp_path: Path
) -> None:
    db = sqlite_file(tmp_path / "other.db", *statements)
    before = snapshot(tmp_path)
    done = run(command, reading(command, f"sqlite:///{db}", tmp_path / "out"), tmp_path)
    one_line(done, 2, words, "other.db")
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- outputs
def make(kind_: str, at: Path) -> None:
    """Put a thing of ``kind_`` at ``at``."""
    if kind_ == "file":
        at.write_text("mine\n")
    elif kind_ == "folder":
        at.mkdir()
    elif kind_ == "fifo":
        os.mkfifo(at)
    elif kind_ == "dangling":
        at.symlink_to(at.parent / "nowhere")


# (what is at "thing", the --out given, words of the answer)
REPORT_OUTS = [
    ("file", "thing", "is not a folder"),
    ("file", "thing/sub", "is a file"),
    ("file", "thing/a/b/c", "is a file"),
    ("fifo", "thing", "is not a folder"),
    ("dangling", "thing", "link to nothing"),
    ("dangling", "thing/sub", "link to nothing"),
]
FILE_OUTS = [
    ("folder", "thing", "is a folder"),
    ("file", "thing/p.txt", "is a file"),
    ("fifo", "thing", "not a regular file"),
    ("dangling", "thing/p.txt", "link to nothing"),
]
OUT_CASES = [("report", *c) for c in REPORT_OUTS] + [
    (command, *c) for command in ("predict", "export-best") for c in FILE_OUTS
]


@pytest.mark.parametrize("command, thing, out, words", OUT_CASES)
def test_an_out_that_cannot_be_written_is_refused_first(
    command: str, thing: str, out: str, words: str, tmp_path: Path
) -> None:
    """Checked before the store (there is none here) is even looked for."""
    make(thing, tmp_path / "thing")
    argv = {
        "report": ["--out", out],
        "predict": [f"models:/{NAME}@best", "--out", out],
        "export-best": [f"{NAME}.yaml", "--out", out],
    }[command]
    before = snapshot(tmp_path)  # (a FIFO is listed, never read)
    done = run(command, argv, tmp_path)
    one_line(done, 2, f"--out {out}", words)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["report", "predict", "export-best"])
def test_an_out_in_a_folder_that_refuses_writes_is_refused(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    # (as root every folder takes writes: the check is made to see a folder that does not)
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: Path(p).absolute() != locked and real(p, mode, **kw)
    )
    argv = {
        "report": ["--out", "locked/report"],
        "predict": [f"models:/{NAME}@best", "--out", "locked/p.txt"],
        "export-best": [f"{NAME}.yaml", "--out", "locked/b.yaml"],
    }[command]
    done = run(command, argv, tmp_path)
    monkeypatch.undo()
    one_line(done, 2, "locked", "refuses writes")
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize(
    "content, words",
    [
        (None, "no such file"),
        ("folder", "a folder"),
        ("# a page without markers\n", "no results markers"),
        (b"\xff\xfe\x00 not UTF-8", "not UTF-8"),
    ],
    ids=["missing", "folder", "no_markers", "not_utf8"],
)
@pytest.mark.parametrize("flag", ["--update-actionplan", "--update-readme"])
def test_a_file_update_cannot_rewrite_is_refused_before_the_report(
    flag: str, content, words: str, tmp_path: Path
) -> None:
    page = tmp_path / "PAGE.md"
    if content == "folder":
        page.mkdir()
    elif isinstance(content, bytes):
        page.write_bytes(content)
    elif content is not None:
        page.write_text(content)
    before = snapshot(tmp_path)
    done = run("report", [flag, "PAGE.md"], tmp_path)  # (no store: checked before it)
    one_line(done, 2, f"{flag} PAGE.md", words)
    assert snapshot(tmp_path) == before  # no reports/ folder either


def test_ui_on_a_missing_file_says_so_and_creates_nothing(tmp_path: Path) -> None:
    done = run("ui", [], tmp_path)
    assert done.code == 0 and "run a sweep first" in done.err and "Traceback" not in done.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http", "5001.5", ""])
def test_ui_refuses_a_port_that_is_none(port: str, tmp_path: Path) -> None:
    done = run("ui", ["--port", port], tmp_path)
    assert done.code == 2 and "argument --port" in done.err and "Traceback" not in done.err


# ----------------------------------------------------------------------------- a real store
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, synthetic_dir: Path) -> Path:
    """A folder with mlflow.db: one finished 2-trial sweep, its selected model registered
    (models:/exp1_tiny@best), and the sweep's experiment file."""
    from sweep.config import load_experiment
    from sweep.search import RunOptions, run_sweep

    folder = tmp_path_factory.mktemp("subcommands")
    path = folder / f"{NAME}.yaml"
    path.write_text(tiny_sweep(NAME, hypothesis="test"))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    options = RunOptions(tracking_uri=uri, data_dir=str(synthetic_dir), show_progress=False)
    result = run_sweep(load_experiment(path), path, options)
    assert result.model_version is not None
    return folder


def uri_of(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


# what each command is told that it cannot do, on the small store (status 2)
REFUSALS: dict[str, Callable[[str, Path], list[str]]] = {
    "report": lambda uri, out: ["--tracking-uri", uri, "--out", str(out), "--metric", "nope"],
    "predict": lambda uri, out: [f"models:/{NAME}@nope", "--out", str(out), "--tracking-uri", uri],
    "export-best": lambda uri, out: ["0" * 32, "--out", str(out), "--tracking-uri", uri],
    "export-results": lambda uri, out: [
        "--out",
        str(out),
        "--tracking-uri",
        uri,
        "--experiments",
        "nope",
    ],
    "ui": lambda uri, out: ["--tracking-uri", uri, "--port", "0"],
}


@pytest.mark.sweep
@pytest.mark.parametrize("command", list(COMMANDS))
def test_reading_commands_never_write_to_the_store(
    command: str, store: Path, synthetic_dir: Path, tmp_path: Path
) -> None:
    """The store's bytes (sha256) and every file and folder beside it are the same after
    the command, whether it succeeded or refused; what it writes goes to --out only."""
    before = snapshot(store)
    done = run(
        command, reading(command, uri_of(store), tmp_path) + _data(command, synthetic_dir), store
    )
    assert done.code == 0, done.err
    assert snapshot(store) == before
    if command == "ui":
        assert f"{NAME}: http://localhost:5001/#/experiments/" in done.out
    else:
        assert list(tmp_path.iterdir()), "wrote nothing"
    done = run(command, REFUSALS[command](uri_of(store), tmp_path / "again"), store)
    assert done.code == 2 and "Traceback" not in done.err, done.err
    assert snapshot(store) == before


@pytest.mark.sweep
@pytest.mark.parametrize("command", ["predict", "export-best"])
def test_an_out_that_is_the_store_itself_is_refused(command: str, store: Path) -> None:
    before = snapshot(store)
    argv = [reading(command, None, store)[0], "--out", "mlflow.db"]  # (the default store)
    one_line(run(command, argv, store), 2, "--out mlflow.db is the store")
    assert snapshot(store) == before


def _data(command: str, synthetic_dir: Path) -> list[str]:
    return ["--data-dir", str(synthetic_dir)] if command == "predict" else []


def variant(store: Path, folder: Path, *statements: str) -> str:
    """A copy of the small store's database in ``folder``, changed by ``statements``."""
    shutil.copy(store / "mlflow.db", folder / "mlflow.db")
    sqlite_file(folder / "mlflow.db", *statements)
    return uri_of(folder)


def a_table_of_mlflow() -> str:
    from mlflow.store.db.base_sql_model import Base
    from mlflow.store.db.utils import _get_alembic_config  # noqa: F401 (fills the metadata)

    return sorted(set(Base.metadata.tables) - {"experiments", "runs"})[0]


@pytest.mark.sweep
@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize(
    "case", ["no_default_experiment", "a_table_missing", "older", "no_revision", "newer"]
)
def test_a_store_mlflow_would_write_to_is_refused_before_it_is_opened(
    command: str, case: str, store: Path, tmp_path: Path
) -> None:
    """MLflow adds a missing Default experiment, creates missing tables and upgrades an
    older schema where tables are missing, all on opening a store: refused (2) first."""
    table = a_table_of_mlflow()
    statements, words = {
        "no_default_experiment": (["DELETE FROM experiments WHERE experiment_id = 0"], "Default"),
        "a_table_missing": ([f"DROP TABLE {table}"], table),
        "older": (["UPDATE alembic_version SET version_num = '451aebb31d03'"], "older MLflow"),
        "no_revision": (["DELETE FROM alembic_version"], "no schema revision"),
        "newer": (["UPDATE alembic_version SET version_num = 'ffffffffffff'"], "newer MLflow"),
    }[case]
    uri = variant(store, tmp_path, *statements)
    before = snapshot(tmp_path)
    argv = reading(command, uri, tmp_path / "out")
    done = run(command, argv, store)  # (export-best's experiment file is there)
    one_line(done, 2, words)
    assert snapshot(tmp_path) == before


@pytest.mark.sweep
@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("fault", ["mlflow", "sqlalchemy"])
def test_a_store_that_answers_with_an_error_gives_1(
    command: str, fault: str, store: Path, synthetic_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    import mlflow.pytorch
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
    from sqlalchemy.exc import OperationalError

    def answer(*args, **kwargs):
        if fault == "mlflow":
            raise MlflowException("(sqlite3.OperationalError) database is locked\nand more")
        raise OperationalError("SELECT ...", {}, Exception("database is locked"))

    where = {
        "report": (MlflowClient, "search_experiments"),
        "ui": (MlflowClient, "search_experiments"),
        "predict": (mlflow.pytorch, "load_model"),
        "export-best": (MlflowClient, "search_runs"),
        "export-results": (MlflowClient, "search_experiments"),
    }[command]
    monkeypatch.setattr(*where, answer)
    before = snapshot(store)
    done = run(
        command, reading(command, uri_of(store), tmp_path) + _data(command, synthetic_dir), store
    )
    one_line(done, 1, "answered with an error", "database is locked")
    assert snapshot(store) == before and list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def moved_away(pattern: str) -> Iterator[None]:
    """The files or folders ``pattern`` matches, moved aside for the block."""
    found = glob.glob(pattern)
    assert found, pattern
    for path in found:
        os.rename(path, path + ".away")
    try:
        yield
    finally:
        for path in found:
            os.rename(path + ".away", path)


@pytest.mark.sweep
def test_missing_or_broken_data_gives_1_and_bad_files_2(
    store: Path, synthetic_dir: Path, tmp_path: Path
) -> None:
    uri = uri_of(store)
    model = [f"models:/{NAME}@best", "--tracking-uri", uri]
    (tmp_path / "empty").mkdir()
    done = run("predict", [*model, "--out", "p.txt", "--data-dir", "empty"], tmp_path)
    one_line(done, 1, "Fashion-MNIST")  # the test set's files missing: as for a sweep
    (tmp_path / "notes.txt").write_text("not IDX\n")
    done = run("predict", [*model, "--out", "p.txt", "--images", "notes.txt"], tmp_path)
    one_line(done, 2, "--images", "notes.txt")
    done = run("predict", [*model, "--out", "p.txt", "--images", "none.idx"], tmp_path)
    one_line(done, 2, "--images none.idx", "no such file")
    artifacts = str(store / "mlruns" / NAME)
    with moved_away(f"{artifacts}/models/*/artifacts/data"):  # the model's weights
        done = run(
            "predict", [*model, "--out", "p.txt", "--data-dir", str(synthetic_dir)], tmp_path
        )
    one_line(done, 1, "missing or damaged")
    with moved_away(f"{artifacts}/*/artifacts/trained/config.yaml"):
        done = run(
            "export-best",
            [str(store / f"{NAME}.yaml"), "--out", "b.yaml", "--tracking-uri", uri],
            tmp_path,
        )
    one_line(done, 1, "trained/config.yaml", "missing or damaged")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "notes.txt"]


@pytest.mark.sweep
def test_the_report_tells_bad_flag_values_from_nothing_to_report(
    store: Path, tmp_path: Path
) -> None:
    uri = ["--tracking-uri", uri_of(store), "--out", str(tmp_path / "r")]
    for extra, code, words in [
        (["--baseline", "exp9"], 2, "--baseline exp9"),
        (["--experiments", "exp9", "exp8*"], 2, "--experiments exp9 exp8*"),
        (["--metric", "nothing_logged"], 2, "--metric nothing_logged"),
        (["--since", "2999-01-01"], 1, "nothing to report"),
    ]:
        one_line(run("report", [*uri, *extra], tmp_path), code, words)
    assert list(tmp_path.iterdir()) == []  # refused before the folder was made


# ----------------------------------------------------------------------------- processes
@pytest.mark.slow
def test_each_command_in_a_new_process_answers_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "mlflow.db").write_bytes(b"")  # the store they would all read
    for command in COMMANDS:
        done = run_cli(command, *reading(command, None, tmp_path / "out"), cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    done = run_cli(REPO / "analyze_results.py", "--tracking-uri", "nope://x", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: --tracking-uri nope://x")
    assert (tmp_path / "mlflow.db").stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]
