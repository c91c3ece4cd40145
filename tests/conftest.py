"""Shared fixtures and helpers: the test tiers, tiny synthetic Fashion-MNIST-shaped IDX
files, the real data path, system tools some tests need, and one way to run the command
line in a new process.

The tiers (docs/tests.md): a test marked ``slow`` starts a process, a browser or Spark,
or needs the real data; one marked ``sweep`` runs sweeps in this process against a
temporary store; every other test is ``unit``: no store, no process, no real data, which
the guard below enforces (``make test-unit`` runs just those, in seconds).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import gzip
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib.font_manager  # noqa: F401 (its font cache is built once, here, not in a test)
import numpy as np
import psutil
import pytest
import torch  # its CUDA bindings look for libraries with ldconfig: once, here

from sweep.train import FILES, DataError, find_data_dir

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# which tier runs: "unit" (make test-unit) scales property-based tests down; "full" runs all
TIER = os.environ.get("SWEEP_TEST_TIER", "full")


# ----------------------------------------------------------------------------- threads
# pytest-xdist runs a worker per core. With torch's default (a thread per core in every
# worker and in every process a test starts) twice as many threads as cores are busy, and
# OpenMP's waiting threads spin on cores the other worker needs: small steps then take
# several times as long. Each worker, and the processes it starts, gets its share.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, (os.cpu_count() or 1) // WORKERS)
torch.set_num_threads(THREADS)
os.environ["OMP_NUM_THREADS"] = str(THREADS)  # read by torch in each new process


def examples(full: int) -> int:
    """Hypothesis examples for a property: ``full`` in the full run, a few in the unit tier."""
    return full if TIER != "unit" else max(2, full // 25)


# ----------------------------------------------------------------------------- tiers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(m) for m in ("slow", "sweep", "cuda")):
            item.add_marker(pytest.mark.unit)


class TierError(AssertionError):
    """A test of the unit tier reached for what only the sweep or slow tiers may use."""


@pytest.fixture(autouse=True)
def unit_tier_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit test opens no MLflow store and starts no process: where it does, it fails
    here, naming the marker it needs."""
    if request.node.get_closest_marker("unit") is None:
        return
    if "real_data_dir" in request.fixturenames:
        raise TierError("a unit test reads no real data: mark it @pytest.mark.slow")
    from mlflow.tracking import MlflowClient

    def no_store(*args: object, **kwargs: object) -> None:
        raise TierError("a unit test opens no MLflow store: mark it @pytest.mark.sweep")

    def no_process(*args: object, **kwargs: object) -> None:
        raise TierError("a unit test starts no process: mark it @pytest.mark.slow")

    monkeypatch.setattr(MlflowClient, "__init__", no_store)
    monkeypatch.setattr(subprocess.Popen, "__init__", no_process)


def require(available: bool, what: str) -> None:
    """A test that needs something this machine lacks: fails in CI (which must have it),
    skips with the reason elsewhere."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI must provide {what}")
    pytest.skip(f"needs {what}")


# ----------------------------------------------------------------------------- waiting
# A test waits for a state, never for a number of seconds: a process it watches may take as
# long as it needs while it is alive and getting somewhere, which a machine several times
# slower, or busy with other work, still is. Getting somewhere: its output grew, or it (with
# the processes it started) used at least BUSY of a core over the last STALL seconds. One
# that did neither is stuck (a deadlock, a wait for what never comes), and fails the test.
# Where the test measured a step of the work (a start to a first epoch, a first sweep) a
# wait also gets a bound of SLACK times what is left in such steps (``within``), against a
# process busy going nowhere.
STALL = 300.0
BUSY = 0.02  # of one core: a process waiting on a lock or a socket uses less
SLACK = 10  # the machine may get this much busier within a test


def _cpu_seconds(pid: int) -> float:
    """CPU time used by process ``pid`` and every process under it (theirs included once
    reaped), or 0.0 once it is gone."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


class Watch:
    """Whether a process is getting anywhere (see above); ``logs`` are where it writes."""

    def __init__(self, proc: subprocess.Popen, logs: list[Path], within: float | None = None):
        self.proc, self.logs, self.within = proc, logs, within
        self.started = time.monotonic()
        self.samples = collections.deque([(self.started, *self._sample())])

    def _sample(self) -> tuple[float, int]:
        written = sum(p.stat().st_size for p in self.logs if p.exists())
        return _cpu_seconds(self.proc.pid), written

    def stuck(self) -> str | None:
        """Why to give up on the process now, or None."""
        now = time.monotonic()
        if now - self.samples[-1][0] >= 1.0:
            self.samples.append((now, *self._sample()))
            while len(self.samples) > 2 and now - self.samples[1][0] >= STALL:
                self.samples.popleft()  # the first sample: the newest one STALL s old
        (then, cpu_then, written_then), (_, cpu, written) = self.samples[0], self.samples[-1]
        if now - then >= STALL and written == written_then and cpu - cpu_then < BUSY * STALL:
            return f"stuck: no output and {cpu - cpu_then:.1f} s of CPU time in {now - then:.0f} s"
        if self.within is not None and now - self.started > self.within:
            return (
                f"not done in {self.within:.0f} s, {SLACK} times the work left as measured "
                "in this test, though still busy"
            )
        return None

    def give_up(self, what: str, why: str) -> None:
        kill_tree(self.proc)
        tail = self.logs[-1].read_text(errors="replace")[-3000:] if self.logs else ""
        pytest.fail(f"never saw {what} ({why}):\n{tail}")


def kill_tree(proc: subprocess.Popen) -> None:
    """Kill ``proc`` (started by the test) and every process under it."""
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def wait_until(
    ready: Callable[[], bool],
    proc: subprocess.Popen,
    log: Path,
    what: str,
    within: float | None = None,
) -> None:
    """Poll for a state (a log line, a store row) while ``proc`` is alive and getting
    somewhere (:class:`Watch`)."""
    watch = Watch(proc, [log], within)
    while not ready():
        if proc.poll() is not None:
            watch.give_up(what, f"the process exited with {proc.returncode}")
        if why := watch.stuck():
            watch.give_up(what, why)
        time.sleep(0.1)


def wait_for_line(
    log: Path, text: str, proc: subprocess.Popen, within: float | None = None
) -> None:
    wait_until(lambda: text in log.read_text(), proc, log, repr(text), within)


def wait_for_exit(
    proc: subprocess.Popen, log: Path | None = None, within: float | None = None
) -> int:
    """``proc``'s exit status, waited for while it gets somewhere (:class:`Watch`); one
    that stops getting anywhere is killed and fails the test."""
    return _wait_for_exit(proc, [log] if log else [], within, "the process exit")


def _wait_for_exit(
    proc: subprocess.Popen, logs: list[Path], within: float | None, what: str
) -> int:
    watch = Watch(proc, logs, within)
    while proc.poll() is None:
        if why := watch.stuck():
            watch.give_up(what, why)
        time.sleep(0.1)
    return proc.returncode


def run_watched(
    argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, within: float | None = None
) -> subprocess.CompletedProcess:
    """``subprocess.run(argv, capture_output=True, text=True)``, waited for while the
    process gets somewhere (:class:`Watch`); its output goes through files outside ``cwd``."""
    with tempfile.TemporaryDirectory(prefix="run-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out.open("wb") as out_fh, err.open("wb") as err_fh:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out_fh, stderr=err_fh)
        what = f"the exit of {' '.join(map(str, argv))[:200]}"
        code = _wait_for_exit(proc, [out, err], within, what)
        # (decoded as text=True does: the locale's encoding, universal newlines)
        stdout, stderr = (io.TextIOWrapper(io.BytesIO(p.read_bytes())).read() for p in (out, err))
    return subprocess.CompletedProcess(argv, code, stdout, stderr)


# ----------------------------------------------------------------------------- processes
@dataclasses.dataclass(frozen=True)
class Done:
    """What a command run in this process ended with: its status, stdout and stderr."""

    code: int
    out: str
    err: str


def run_main(argv: list[str], folder: Path) -> Done:
    """``python -m sweep ARGV`` in this process (its ``main``, guard included), in
    ``folder``; an argparse refusal's SystemExit is its status."""
    from sweep.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        contextlib.chdir(folder),
    ):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return Done(code, out.getvalue(), err.getvalue())


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONUNBUFFERED": "1"}


def run_cli(*args: str, cwd: Path, within: float | None = None) -> subprocess.CompletedProcess:
    """``python -m sweep ARGS`` in a new process, waited for while it gets somewhere
    (:func:`run_watched`); ``args`` may start with a script path (``analyze_results.py``)
    instead, which is then run in place of the module."""
    head = [str(args[0])] if str(args[0]).endswith(".py") else ["-m", "sweep"]
    rest = args[1:] if str(args[0]).endswith(".py") else args
    return run_watched(
        [sys.executable, *head, *map(str, rest)], cwd=cwd, env=_env(), within=within
    )


def start_cli(*args: str, cwd: Path) -> tuple[subprocess.Popen, Path]:
    """``python -m sweep ARGS`` started in the background; its stderr goes to a log file."""
    log = cwd / f"log-{time.monotonic_ns()}.txt"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sweep", *map(str, args), "--no-progress"],
            cwd=cwd,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return proc, log


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def synthetic_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """Learnable images: class k lights up a class-specific 7x7 patch, plus noise."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for k in range(10):
        r, c = divmod(k, 4)
        images[labels == k, r * 7 : r * 7 + 7, c * 7 : c * 7 + 7] = 220
    return images


def write_idx_dir(folder: Path, compress: bool = False) -> Path:
    """The four files with the real counts (60,000 / 10,000) and synthetic content."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", 60_000), ("t10k", 10_000)):
        labels = (np.arange(count) % 10).astype(np.uint8)
        np.random.default_rng(1).shuffle(labels)
        images = synthetic_images(labels, seed=count)
        for stem, array in (
            (f"{split}-images-idx3-ubyte", images),
            (f"{split}-labels-idx1-ubyte", labels),
        ):
            data = idx_bytes(array)
            if compress:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(data, compresslevel=1))
            else:
                (folder / stem).write_bytes(data)
    assert set(p.name.removesuffix(".gz") for p in folder.iterdir()) == set(FILES)
    return folder


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_idx_dir(tmp_path_factory.mktemp("fmnist-synthetic"))


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real Fashion-MNIST (installed by `make test`'s set-up)."""
    try:
        return find_data_dir()
    except DataError as exc:
        require(False, f"the real Fashion-MNIST ({exc})")
        raise


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium (`make test-deps` installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require(found is not None, "Chromium (Debian's package chromium; make test-deps)")
    return str(found)


# every test's tiny sweep: a 2-trial TPE search of an MLP's learning rate, 1 epoch of 600
# images (tiny_sweep changes what a test needs)
TINY_SWEEP = {
    "model": {"kind": "mlp", "hidden": [16], "dropout": 0.0},
    "train": {"epochs": 1, "batch_size": 100},
    "search": {"train.optimizer.lr": {"loguniform": [1.0e-3, 1.0e-2]}},
    "sweep": {"algo": "tpe", "max_evals": 2, "seed": 1},
    "data": {"subset": 600},
}


def tiny_sweep(name: str, replace: tuple[str, ...] = ("search",), **blocks: Any) -> str:
    """The YAML of the tiny sweep named ``name``: each keyword updates its block of
    :data:`TINY_SWEEP` (or replaces it, where named in ``replace``; ``search`` by default)
    or adds a key (``hypothesis``)."""
    import copy

    import yaml

    tree: dict[str, Any] = {"name": name, **copy.deepcopy(TINY_SWEEP)}
    for key, value in blocks.items():
        merge = isinstance(value, dict) and key in tree and key not in replace
        tree[key] = {**tree[key], **value} if merge else value
    return yaml.safe_dump(tree, sort_keys=False)


def write_mlp_sweep(
    folder: Path, name: str, *, epochs: int, subset: int, hidden: list[int], batch_size: int
) -> Path:
    """A 2-trial TPE sweep of an MLP's learning rate, as ``folder/name.yaml`` (no model
    logged: these sweeps test how a sweep runs, stops and resumes)."""
    path = folder / f"{name}.yaml"
    path.write_text(
        tiny_sweep(
            name,
            model={"hidden": hidden},
            train={"epochs": epochs, "batch_size": batch_size},
            sweep={"log_model": False},
            data={"subset": subset},
        )
    )
    return path


def bare_tracker(uri: str = "sqlite:////nowhere/mlflow.db") -> Any:
    """A Tracker without a store behind it: for its retry and outage logic alone."""
    from sweep.record import Tracker

    tracker = object.__new__(Tracker)
    tracker.tracking_uri, tracker.store_timeout, tracker.should_stop = uri, 180.0, None
    tracker.lost, tracker.fault = False, None
    return tracker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- PostgreSQL
class Postgres:
    """A throwaway PostgreSQL server on 127.0.0.1 (user ``sweep``, password ``sweep``)."""

    def __init__(self, port: int, start: Callable[[], None], stop: Callable[[], None]):
        self.port, self.start, self.stop = port, start, stop

    def url(self, database: str, password: str = "sweep") -> str:
        return f"postgresql+psycopg://sweep:{password}@127.0.0.1:{self.port}/{database}"

    def createdb(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


def start_postgres(folder: Path, port: int) -> tuple[Postgres, Callable[[], None]]:
    """initdb + pg_ctl start in ``folder`` (as the ``postgres`` user where we are root:
    PostgreSQL refuses to run as root). Returns the server and how to stop it."""
    bin_dir = _postgres_bin()
    require(bin_dir is not None, "PostgreSQL (Debian's postgresql package)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, pwfile = folder / "data", folder / "pw"
    pwfile.write_text("sweep\n")
    os.chmod(pwfile, 0o644)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *args], capture_output=True, text=True, check=True)

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "sweep", "--auth=scram-sha-256",
        f"--pwfile={pwfile}", "-E", "UTF8")  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    # pg_ctl -w waits for the server's state (up, or gone), giving up at once if the server
    # exits; its own 60 s limit would fail a start (crash recovery after -m immediate) that
    # is slow only because the machine is: -t lifts it, waiting while the server lives
    wait = ("-w", "-t", "3600")

    def start() -> None:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
            *wait, "start")  # fmt: skip

    def stop() -> None:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        *wait, "stop"], capture_output=True)  # fmt: skip

    start()
    return Postgres(port, start, stop), stop


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> Iterator[Postgres]:
    folder = Path(tempfile.mkdtemp(prefix="pg-"))  # short: the socket path has a length limit
    server, stop = start_postgres(folder, free_port())
    try:
        yield server
    finally:
        stop()
        shutil.rmtree(folder, ignore_errors=True)


def loaded_in_chromium(chromium: str, page: str, tmp_path: Path) -> str:
    """The DOM of the HTML ``page`` after headless Chromium loaded it, its title set to
    ``IMAGES ok/total``: how many of its images the browser could decode."""
    probe = tmp_path / "probe.html"
    probe.write_text(
        page.replace(
            "</body>",
            """<script>
      window.addEventListener('load', () => {
        const imgs = [...document.images];
        const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
        document.title = 'IMAGES ' + ok + '/' + imgs.length;
      });</script></body>""",
        )
    )
    done = run_watched(  # while Chromium gets somewhere (a slow machine's page takes longer)
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probe.as_uri(),
        ],
        cwd=tmp_path,
    )
    return done.stdout
