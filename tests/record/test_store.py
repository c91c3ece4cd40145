"""The three kinds of store (SQLite, an MLflow tracking server, PostgreSQL) and a clear
answer for every store fault: checked before anything is written, within seconds."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import (
    REPO,
    SLACK,
    free_port,
    require,
    run_watched,
    start_cli,
    start_postgres,
    wait_for_exit,
    wait_until,
    write_mlp_sweep,
)
from sweep import names as M
from sweep.__main__ import main
from sweep.record import StoreError, check


def tiny(folder: Path, name: str, epochs: int = 1, subset: int = 1000) -> Path:
    return write_mlp_sweep(folder, name, epochs=epochs, subset=subset, hidden=[64], batch_size=64)


def refused(tmp_path: Path, capsys, uri: str, *words: str) -> None:
    """The sweep exits 2 at once with one paragraph containing ``words``; nothing written."""
    capsys.readouterr()  # (what setting up the case printed)
    path = tiny(tmp_path, "x")
    before = sorted(p.name for p in tmp_path.iterdir())
    started = time.monotonic()
    code = main([str(path), "--tracking-uri", uri, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert time.monotonic() - started < 15
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert all(w in err for w in words), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def a_store(path: Path) -> None:
    MlflowClient(f"sqlite:///{path}").search_experiments()  # creates MLflow's tables


# ----------------------------------------------------------------------------- faults
def test_a_file_that_is_not_a_store(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "junk.db").write_text("these are notes, not a database\n")
    refused(tmp_path, capsys, "sqlite:///junk.db", "junk.db", "not an MLflow store")
    assert not (tmp_path / "junk.db.lock").exists() and not (tmp_path / ".sweep").exists()


@pytest.mark.sweep
def test_a_truncated_store(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    a_store(tmp_path / "whole.db")
    data = (tmp_path / "whole.db").read_bytes()
    (tmp_path / "cut.db").write_bytes(data[: len(data) // 2])
    refused(tmp_path, capsys, "sqlite:///cut.db", "cut.db", "not an MLflow store")


@pytest.mark.sweep
def test_a_store_of_a_newer_mlflow(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    a_store(tmp_path / "new.db")
    with sqlite3.connect(tmp_path / "new.db") as con:
        con.execute("UPDATE alembic_version SET version_num = 'f00dfeed1234'")
    refused(tmp_path, capsys, "sqlite:///new.db", "newer MLflow", "f00dfeed1234")


@pytest.mark.slow
def test_a_store_of_an_older_mlflow(tmp_path: Path, synthetic_dir: Path, monkeypatch, capsys):
    """Found when MLflow opens it (a store being created right now passes through older
    revisions): still one paragraph, exit 2, and the command that upgrades it."""
    monkeypatch.chdir(tmp_path)
    make_store = (
        "import sys; from mlflow import MlflowClient; MlflowClient(sys.argv[1]).search_runs(['0'])"
    )
    # (in another process: this one would keep the store open, never checking it again)
    subprocess.run([sys.executable, "-c", make_store, "sqlite:///old.db"], check=True)
    with sqlite3.connect(tmp_path / "old.db") as con:
        con.execute("UPDATE alembic_version SET version_num = '451aebb31d03'")  # MLflow 1.0
    path = tiny(tmp_path, "x")
    args = [str(path), "--tracking-uri", "sqlite:///old.db", "--data-dir", str(synthetic_dir)]
    capsys.readouterr()
    assert main([*args, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "older MLflow" in err and "mlflow db upgrade sqlite:///" in err, err
    assert "Traceback" not in err
    from sweep.report import ReportError, load_runs

    with pytest.raises(ReportError, match="older MLflow"):
        load_runs("sqlite:///old.db")


def test_unknown_kinds_of_store_are_named(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    refused(tmp_path, capsys, "postgres://me:secret@db/mlflow", "postgresql+psycopg://", "***")
    refused(tmp_path, capsys, "mysql://me:secret@db/mlflow", "sqlite:///FILE", "me:***@")


def test_passwords_are_never_shown() -> None:
    from sweep.record import shown

    assert (
        shown("postgresql+psycopg://me:s3:cr3t@db:5432/x")
        == "postgresql+psycopg://me:***@db:5432/x"
    )
    assert shown("https://me:secret@mlflow.example/") == "https://me:***@mlflow.example/"
    assert shown("postgresql+psycopg://me@db/x") == "postgresql+psycopg://me@db/x"
    assert shown("sqlite:////tmp/a:b@c.db") == "sqlite:////tmp/a:b@c.db"
    assert shown("postgresql+psycopg://me:pa/ss@db/x") == "postgresql+psycopg://me:***@db/x"
    assert shown("--tracking-uri=http://me:pw@h:1") == "--tracking-uri=http://me:***@h:1"
    assert shown("postgresql+psycopg://me@db/x?password=pw&a=b").endswith("?password=***&a=b")


@pytest.mark.sweep
def test_a_store_that_never_answers_stops_within_the_timeout() -> None:
    """On opening it (a trial's first call) as on any later call: retried, said once on the
    console, then StoreLost; a Ctrl-C meanwhile gives up at once."""
    from sweep.record import Tracker
    from sweep.signals import StoreLost

    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(StoreLost, match="did not answer for 1 s"):
        Tracker(uri, store_timeout=1)
    assert time.monotonic() - started < 15
    started = time.monotonic()
    with pytest.raises(StoreLost, match="does not answer"):
        Tracker(uri, store_timeout=600, should_stop=lambda: True)
    assert time.monotonic() - started < 15


def test_only_a_store_that_does_not_answer_is_waited_for() -> None:
    from sweep.record import unreachable

    assert unreachable(OSError("[Errno 111] Connection refused")) == "connection refused"
    # MLflow's words for a server that answers 500: an error to report, not an outage
    assert unreachable(RuntimeError("Max retries exceeded (too many 500 error responses)")) is None
    assert unreachable(RuntimeError("Max retries exceeded (too many 503 error responses)"))


@pytest.mark.sweep
def test_a_server_that_answers_500_is_an_error_not_an_outage(
    tmp_path: Path, synthetic_dir: Path, monkeypatch, capsys
) -> None:
    """A server whose /health is OK but whose API fails: one paragraph at once, no retries."""
    import http.server
    import threading

    class Failing(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            ok = self.path == "/health"
            self.send_response(200 if ok else 500)
            self.end_headers()
            self.wfile.write(b"OK" if ok else b"{}")

        do_GET = do_POST = answer

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.chdir(tmp_path)
    uri = f"http://127.0.0.1:{server.server_port}"
    path = tiny(tmp_path, "x")
    args = [str(path), "--tracking-uri", uri, "--data-dir", str(synthetic_dir), "--no-progress"]
    started = time.monotonic()
    try:
        code = main(args)
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert code == 1 and time.monotonic() - started < 60, err
    assert f"error: the store {uri} answered with an error" in err and "500" in err, err
    assert "does not answer" not in err and "Traceback" not in err


def test_a_spark_trial_that_lost_the_store_stops_the_sweep() -> None:
    from hyperopt import Trials

    from sweep.search import cancel_when_store_lost, store_lost

    trials = Trials()
    trials.insert_trial_doc(
        {
            "tid": 0, "spec": None, "state": 3, "owner": None, "book_time": None,
            "refresh_time": None, "exp_key": None, "version": 0, "result": {"status": "new"},
            "misc": {"tid": 0, "cmd": None, "workdir": None, "idxs": {}, "vals": {},
                     "error": ("<class 'sweep.signals.StoreLost'>", "Traceback ...\n"
                               "sweep.signals.StoreLost: the store X did not answer for 4 s")},
        }
    )  # fmt: skip
    trials._fmin_cancelled = False  # (as SparkTrials has it)
    cancel_when_store_lost(trials)
    trials.refresh()  # what fmin does every few seconds: the Spark jobs are cancelled
    assert trials._fmin_cancelled
    assert store_lost(trials) == "the store X did not answer for 4 s"
    assert store_lost(Trials()) is None


def test_the_store_timeout_is_a_number_of_seconds(capsys) -> None:
    for bad in ("nan", "-1", "soon"):
        with pytest.raises(SystemExit) as exit_:
            main(["experiments/quickstart.yaml", "--store-timeout", bad])
        assert exit_.value.code == 2 and "seconds" in capsys.readouterr().err


def test_an_unreachable_server(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"http://127.0.0.1:{free_port()}"
    refused(tmp_path, capsys, uri, uri, "no MLflow tracking server answers")


def test_a_missing_driver_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    with pytest.raises(StoreError, match=r"uv sync --extra postgres") as err:
        check("postgresql+psycopg://u:secret@127.0.0.1:1/db", create=True)
    assert "secret" not in str(err.value) and "u:***@" in str(err.value)


@pytest.mark.slow
def test_the_report_never_creates_a_store(tmp_path: Path) -> None:
    done = run_watched(
        [sys.executable, str(REPO / "analyze_results.py"), "--tracking-uri", "sqlite:///no.db"],
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "there is no store at sqlite:///no.db" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no database, no lock, no report folder
    (tmp_path / "empty.db").touch()  # a file that is no store yet: not made one either
    from sweep.report import ReportError, load_runs

    with pytest.raises(ReportError, match="holds no MLflow store"):
        load_runs(f"sqlite:///{tmp_path / 'empty.db'}")
    assert (tmp_path / "empty.db").stat().st_size == 0


# ----------------------------------------------------------------------------- PostgreSQL
@pytest.mark.slow
def test_postgres_faults_are_clear(postgres, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    postgres.createdb("faults")
    refused(tmp_path, capsys, postgres.url("faults", "wrong"), "refused the login", "***")
    refused(tmp_path, capsys, postgres.url("nowhere"), "does not exist", "createdb")
    refused(tmp_path, capsys, postgres.url("faults") + "?nosuchoption=1", "refused", "***")


@pytest.mark.slow
def test_a_store_that_goes_away_stops_the_sweep_resumably(
    postgres, tmp_path: Path, synthetic_dir: Path
) -> None:
    """The database stops during trial 1: the sweep says so while it retries, stops after
    --store-timeout like Ctrl-C (exit 130, the resume hint), and resumes once it is back."""
    postgres.createdb("away")
    uri = postgres.url("away")
    path = tiny(tmp_path, "away", epochs=6, subset=9000)  # (5 epochs to spare)
    args = [path, "--tracking-uri", uri, "--data-dir", synthetic_dir, "--store-timeout", "4"]
    proc, log = start_cli(*args, cwd=tmp_path)
    started = time.monotonic()
    client = MlflowClient(uri)

    def trial_1_running() -> bool:
        exp = client.get_experiment_by_name("away")
        runs = client.search_runs([exp.experiment_id]) if exp else []
        return any(M.VAL_ACCURACY in r.data.metrics for r in runs)

    try:
        wait_until(trial_1_running, proc, log, "trial 1's first epoch in the store")
    finally:
        postgres.stop()
    # a step of the work, as this machine runs it now: a start (imports, data, store) and a
    # first epoch. No later step takes longer; each wait below gets SLACK times its steps.
    step = time.monotonic() - started
    try:
        # the epoch under way (a step), then --store-timeout (4 s) of retries
        code = wait_for_exit(proc, log, within=SLACK * step + 4)
        assert code == 130, log.read_text()[-3000:]
    finally:
        postgres.start()
    text = log.read_text()
    assert "does not answer" in text and "did not answer for 4 s" in text
    assert "Run the same command again to resume" in text and "Traceback" not in text
    assert "sweep:sweep@" not in text and "sweep:***@" in text  # the password, hidden

    proc, log = start_cli(*args, cwd=tmp_path)  # the store is back: the same command resumes
    # a start, the epochs left of trial 1 and trial 2's 6 (11 at most), the sweep's wrap-up
    assert wait_for_exit(proc, log, within=SLACK * 13 * step) == 0, log.read_text()[-3000:]
    assert "resuming sweep" in log.read_text()
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("away").experiment_id])
    parents = [r for r in runs if M.TAG_PARENT not in r.data.tags]
    finished = [r for r in runs if M.TAG_PARENT in r.data.tags and r.info.status == "FINISHED"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(int(r.data.tags[M.TAG_TRIAL]) for r in finished) == [1, 2]


# ----------------------------------------------------------------------------- the docs
def readme_block(heading: str) -> str:
    """The first ```bash block after ``heading`` in docs/record.md (the README's reference
    page for stores)."""
    text = (REPO / "docs" / "record.md").read_text()
    after = text[text.index(f"\n{heading}\n") :]
    return after.split("```bash\n", 1)[1].split("```", 1)[0]


@pytest.mark.slow
def test_the_docs_shared_store_section_word_for_word(tmp_path: Path, real_data_dir) -> None:
    """The section's commands, as written, against the PostgreSQL it describes: two sweeps
    at once into a new database (one on Spark), a tracking server on it, a sweep through
    the server, and the report."""
    require(shutil.which("uv") is not None and shutil.which("curl") is not None, "uv and curl")
    block = readme_block("## A shared store")
    pg_folder = Path(tempfile.mkdtemp(prefix="pg-"))
    server, stop = start_postgres(pg_folder, 5433)
    work = tmp_path / "project"  # the project's folder, as far as the commands can tell
    work.mkdir()
    for name in ("experiments", "analyze_results.py"):
        (work / name).symlink_to(REPO / name)
    try:
        server.createdb("mlflow")
        log = tmp_path / "log.txt"
        with log.open("w") as sink:  # a file: the server in the background keeps it open
            proc = subprocess.Popen(
                ["bash", "-eu", "-c", block],
                cwd=work,
                env={**os.environ, "UV_PROJECT": str(REPO)},
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the server it starts in the background goes with it
            )
        try:
            wait_for_exit(proc, log)  # (no step measured: while the commands get somewhere)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        out = log.read_text()
        assert proc.returncode == 0, out[-4000:]
        assert "Traceback" not in out, out[-4000:]
        # the console is the sweep's own: no artifact bars of MLflow's (a server's store
        # downloads through its HTTP repository, which draws one per download)
        assert "Downloading artifacts" not in out and "Uploading" not in out, out[-4000:]
        client = MlflowClient(server.url("mlflow"))
        kids = {}
        for name, trials in (("mlp_baseline", 2), ("mlp_search", 2), ("wide_deep", 1)):
            runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])
            parents = [r for r in runs if M.TAG_PARENT not in r.data.tags]
            kids[name] = [r for r in runs if M.TAG_PARENT in r.data.tags]
            assert len(parents) == 1 and len(kids[name]) == trials, (name, out[-3000:])
            assert {r.info.status for r in runs} == {"FINISHED"}, name
        spark_trials_ran_side_by_side(client, kids["mlp_search"])
        rows = [line for line in out.splitlines() if line.startswith("| ")]  # the report
        assert {"mlp_baseline", "mlp_search", "wide_deep"} <= {
            r.split("|")[1].strip() for r in rows
        }
        # the experiment created through the server: its artifacts stored by the server
        assert any((work / "mlartifacts").rglob("curves.png"))
    finally:
        stop()
        shutil.rmtree(pg_folder, ignore_errors=True)


def spark_trials_ran_side_by_side(client: MlflowClient, kids: list) -> None:
    """A Spark sweep (local[2], 2 trials): one parent, numbered trials with their history,
    both at the same time, labelled trial/repeat in the order proposed, a seed each."""
    assert len({k.data.tags[M.TAG_PARENT] for k in kids}) == 1
    assert sorted(int(k.data.tags[M.TAG_TRIAL]) for k in kids) == [1, 2]
    for kid in kids:
        history = client.get_metric_history(kid.info.run_id, M.VAL_ACCURACY)
        assert [h.step for h in history] == [1]
    spans = sorted((k.info.start_time, k.info.end_time) for k in kids)
    overlapping = sum(1 for (s1, e1), (s2, e2) in zip(spans, spans[1:], strict=False) if s2 < e1)
    assert overlapping >= 1, spans  # at least two trials ran at the same time
    kids = sorted(kids, key=lambda k: int(k.data.tags[M.TAG_TRIAL]))
    configs = [k.data.tags[M.TAG_CONFIG] for k in kids]
    roles = ["repeat" if c in configs[:i] else "trial" for i, c in enumerate(configs)]
    assert [k.data.tags[M.TAG_ROLE] for k in kids] == roles
    assert len({k.data.params["train.seed"] for k in kids}) == 2  # parallel: still 2 seeds
