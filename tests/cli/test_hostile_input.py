"""Hostile input, by class: every name the schema accepts runs and gets files of its own,
paths that loop or chain without end, messages that stay one short paragraph, flags that
combine, splits that cannot be drawn, and the process's own surroundings gone (a deleted
working folder, standard output that cannot be written). Each class is generated, not only
its first example: a refusal is exit 2 and one line naming what is wrong, nothing written.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import EXPERIMENTS, REPO, examples, run_main, tiny_sweep
from sweep.__main__ import main
from sweep.cli import _shell as shell
from sweep.config import (
    CLASSES,
    MAX_EXTENDS,
    TRAINING_SET,
    ConfigError,
    ExperimentConfig,
    legacy_stem,
    load_experiment,
    name_stem,
    split_problem,
)

SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def run(argv: list[str], folder: Path) -> tuple[int, str, str]:
    """``python -m sweep ARGV`` in this process, in ``folder``: status, stdout, stderr."""
    done = run_main(argv, folder)
    return done.code, done.out, done.err


PICKLE_WARNING = "loading pickled data from"  # (said before a pickle is read: it runs code)


def refused(code: int, err: str, *words: str) -> None:
    """Exit 2 with one line, ``error: ...``, naming ``words`` (after the pickle's warning,
    where one was read)."""
    assert code == 2, err
    err = "".join(line for line in err.splitlines(True) if PICKLE_WARNING not in line)
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    last = err.strip()
    assert len(last) <= shell.MAX_MESSAGE + len("error: ") + 40, len(last)
    for word in words:
        assert word in last, (word, last)


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# ----------------------------------------------------------------------------- 1, 2: names
names = st.one_of(
    st.text(min_size=1, max_size=200),
    st.text(st.characters(categories=["Lo", "So", "Zs", "Pd", "Po"]), min_size=1, max_size=200),
    st.text("ab _-.~", min_size=1, max_size=12),
    st.sampled_from(["my sweep", "my_sweep", "😀", "😀😀", "漢" * 100, "exp12", ".x", "-x"]),
    st.sampled_from(["exp", "exp.2", "Exp1", "exp1", "a.trials.pkl", "a.done.pkl", "a?b", "$1"]),
)


def accepted(name: str) -> bool:
    try:
        ExperimentConfig(name=name)
    except ValueError:
        return False
    return True


@settings(SETTINGS, max_examples=examples(300))
@given(name=names)
def test_every_accepted_name_has_a_short_portable_stem(name: str) -> None:
    assume(accepted(name))
    stem = name_stem(name)
    assert stem and stem.isascii() and len(stem.encode()) <= 200
    assert set(stem) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
    assert not stem.startswith((".", "-"))
    assert len(f"{stem}.2.checkpoints".encode()) < 255  # a file name on every file system


def sweep_files(name: str) -> set[str]:
    """Every file and folder the sweeps of ``name`` keep in ``.sweep/`` (as the sweep
    names them), case-folded (macOS and Windows file systems ignore case)."""
    from sweep.search import _state as resume

    base = resume.state_path("sqlite:////store/mlflow.db", name)
    out = set()
    for slot in (1, 2, 3, 12):
        path = resume.slot_path(base, slot)
        lock = path.with_name(path.name.replace(".trials.pkl", ".lock"))
        out |= {path, resume.done_path(path), resume.scratch_dir(path), lock}
        out.add(path.with_name(path.name.replace(".trials.pkl", ".owner.json")))
    return {p.name.casefold() for p in out}


@settings(SETTINGS, max_examples=examples(300))
@given(a=names, b=names)
def test_two_names_never_share_a_stem_nor_a_file(a: str, b: str) -> None:
    assume(a != b and accepted(a) and accepted(b))
    assert name_stem(a) != name_stem(b)
    assert not sweep_files(a) & sweep_files(b), (a, b)


@settings(SETTINGS, max_examples=examples(300))
@given(name=names)
def test_every_accepted_name_is_its_registered_models_name(name: str) -> None:
    """The selected model is loaded as models:/NAME@best: MLflow reads the name back."""
    from mlflow.store.artifact.utils.models import _parse_model_uri
    from mlflow.utils.validation import _validate_experiment_name, _validate_model_name

    assume(accepted(name))
    _validate_model_name(name)
    _validate_experiment_name(name)
    parsed = _parse_model_uri(f"models:/{name}@best")
    assert (parsed.name, parsed.alias) == (name, "best")


def test_names_that_shared_a_state_file_no_longer_do() -> None:
    for a, b in [("my sweep", "my_sweep"), ("😀", "🎉"), ("é", "_"), ("a b", "a+b")]:
        if accepted(a) and accepted(b):
            assert legacy_stem(a) == legacy_stem(b)
            assert name_stem(a) != name_stem(b)
    assert name_stem("exp12") == "exp12"  # a plain name keeps its files


# ----------------------------------------------------------------------------- 3: paths
@pytest.mark.parametrize("length", [1, 2, 3])
def test_a_symlink_loop_as_the_file_or_in_extends_is_refused(tmp_path: Path, length: int) -> None:
    links = [tmp_path / f"loop{i}.yaml" for i in range(length)]
    for i, link in enumerate(links):
        link.symlink_to(links[(i + 1) % length].name)
    (tmp_path / "child.yaml").write_text("name: child\nextends: loop0.yaml\n")
    before = listing(tmp_path)
    for argv in (["loop0.yaml"], ["child.yaml"], [str(links[-1]), "--dry-run"]):
        code, _, err = run([*argv, "--no-progress"], tmp_path)
        refused(code, err, "symbolic link that loops")
    assert listing(tmp_path) == before


@pytest.mark.parametrize("depth", [MAX_EXTENDS + 1, 200, 2000])
def test_a_chain_of_extends_too_deep_names_its_depth_and_first_file(
    tmp_path: Path, depth: int
) -> None:
    for i in range(depth):
        parent = f"extends: c{i + 1}.yaml\n" if i + 1 < depth else ""
        (tmp_path / f"c{i}.yaml").write_text(f"name: c{i}\n{parent}")
    before = listing(tmp_path)
    code, _, err = run(["c0.yaml", "--dry-run"], tmp_path)
    refused(code, err, "c0.yaml", f"more than {MAX_EXTENDS} files deep")
    assert "brackets" not in err
    assert listing(tmp_path) == before
    code, _, err = run([f"c{depth - MAX_EXTENDS}.yaml", "--dry-run"], tmp_path)
    assert code == 0, err  # a chain of exactly the limit is read


@pytest.mark.parametrize("kind", ["folder", "fifo", "dangling", "under a file", "nul"])
def test_paths_that_lie_are_refused_naming_the_path(tmp_path: Path, kind: str) -> None:
    name = {"under a file": "plain.yaml/x.yaml", "nul": "a\x00b.yaml"}.get(kind, "exp.yaml")
    (tmp_path / "plain.yaml").write_text("name: plain\n")
    if kind == "folder":
        (tmp_path / name).mkdir()
    elif kind == "fifo":
        os.mkfifo(tmp_path / name)
    elif kind == "dangling":
        (tmp_path / name).symlink_to("nowhere.yaml")
    (tmp_path / "child.yaml").write_text(f"name: child\nextends: {json_str(name)}\n")
    before = listing(tmp_path)
    for argv in ([name, "--dry-run"], ["child.yaml", "--dry-run"]):
        code, _, err = run(argv, tmp_path)
        refused(code, err)
    assert listing(tmp_path) == before


def json_str(text: str) -> str:
    return yaml.safe_dump(text).strip().removesuffix("...").strip()


# ----------------------------------------------------------------------------- 4: messages
@settings(SETTINGS, max_examples=examples(20))
@given(
    n=st.sampled_from([2, 5, 50, 10_000]),
    where=st.sampled_from(["", "train", "model", "sweep.pruner"]),
    width=st.sampled_from([1, 60, 5000]),
)
def test_a_file_of_many_unknown_keys_gets_a_short_message(n: int, where: str, width: int) -> None:
    import tempfile

    assume(n * width < 500_000)  # (a larger file is refused for its size, before its keys)
    keys = {f"{'k' * width}{i}": 1 for i in range(n)}
    tree: dict = {"name": "many"}
    node = tree
    for part in filter(None, where.split(".")):
        node = node.setdefault(part, {})
    node.update(keys)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "many.yaml").write_text(yaml.safe_dump(tree))
        code, _, err = run(["many.yaml", "--dry-run"], folder)
    refused(code, err, "many.yaml", "unknown key")
    assert len(err) < 700, len(err)
    if n > 5:
        assert f"{n - 4:,} more" in err, err


def test_many_invalid_values_name_the_first_few_and_how_many_more(tmp_path: Path) -> None:
    bad = {
        "train": {"epochs": "x", "batch_size": -1, "seed": -1, "label_smoothing": 5},
        "model": {"filters": 3, "units1": 0},
        "sweep": {"max_evals": 0},
    }
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"name": "bad", **bad}))
    code, _, err = run(["bad.yaml", "--dry-run"], tmp_path)
    refused(code, err, "bad.yaml", "more problems")
    assert err.count("key '") == 3, err


def test_every_refusal_is_cut_to_one_paragraph(capsys: pytest.CaptureFixture) -> None:
    shell.error("x" * 1_000_000 + "\n\n" + "y")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) <= shell.MAX_MESSAGE + len("error: \n")


# ----------------------------------------------------------------------------- 5: flags
# (key, a value its field refuses, the flag that sets the same key, a valid value for it)
CLASHES = [
    ("train.epochs", "1e309", "--epochs", "1"),
    ("train.epochs", "-3", "--epochs", "1"),
    ("train.epochs", "abc", "--epochs", "2"),
    ("sweep.max_evals", "0", "--max-evals", "2"),
    ("sweep.repeats", "[1]", "--repeats", "1"),
    ("data.subset", "5", "--subset", "600"),
    ("sweep.seed", "-1", "--seed", "3"),
    ("train.seed", "1.5", "--seed", "3"),
    ("train.device", "gpu9", "--device", "cpu"),
    ("sweep.pruner.kind", "bogus", "--pruner", "median"),
    ("sweep.time_budget", "'soon'", "--time-budget", "1h"),
    ("sweep.time_budget_grace", "never", "--time-budget-grace", "epoch"),
    ("sweep.backend", "cloud", "--backend", "local"),
    ("sweep.parallelism", "0", "--parallelism", "2"),
]


@pytest.mark.parametrize(("key", "bad", "flag", "good"), CLASHES)
def test_an_invalid_set_is_refused_whichever_flag_wins(
    tmp_path: Path, key: str, bad: str, flag: str, good: str
) -> None:
    (tmp_path / "q.yaml").write_text((EXPERIMENTS / "quickstart.yaml").read_text())
    for argv in (
        ["--set", f"{key}={bad}", flag, good],
        [flag, good, "--set", f"{key}={bad}"],
        ["--set", f"{key}={bad}", "--set", f"{key}={good}"],
    ):
        code, _, err = run(["q.yaml", *argv, "--dry-run"], tmp_path)
        refused(code, err, f"--set {key}={bad}", key)
    code, _, err = run(["q.yaml", "--set", f"{key}={good}", flag, good, "--dry-run"], tmp_path)
    assert code == 0, err


@pytest.mark.parametrize(
    "flag", ["--tracking-uri", "--data-dir", "--data-pickle", "--spark-master", None]
)
@pytest.mark.parametrize("blank", ["", " ", "\t", "\n"])
def test_an_empty_uri_path_or_name_is_refused_never_defaulted(
    tmp_path: Path, flag: str | None, blank: str
) -> None:
    (tmp_path / "q.yaml").write_text((EXPERIMENTS / "quickstart.yaml").read_text())
    argv = [blank, "--no-progress"] if flag is None else ["q.yaml", flag, blank, "--no-progress"]
    code, _, err = run(argv, tmp_path)
    refused(code, err, "empty")
    assert listing(tmp_path) == {"q.yaml"}


# ----------------------------------------------------------------------------- 6: splits
LABELS = np.repeat(np.arange(CLASSES), TRAINING_SET // CLASSES)


def splits_drawn(subset: int | None, val_fraction: float) -> bool:
    """Whether the data's own splitting (data.make_splits's two stratified splits) draws
    them on Fashion-MNIST's balanced 60,000 labels, each class on each side."""
    from sklearn.model_selection import train_test_split

    from sweep.train import stratified_subset

    try:
        pool = stratified_subset(LABELS, subset, 0) if subset else np.arange(len(LABELS))
        train, val = train_test_split(
            pool, test_size=val_fraction, stratify=LABELS[pool], random_state=0
        )
    except ValueError:
        return False
    classes = set(range(CLASSES))
    return set(LABELS[train]) == classes and set(LABELS[val]) == classes


fractions = st.one_of(
    st.floats(1e-6, 0.999999),
    st.sampled_from([0.0001, 0.05, 0.09, 0.1, 0.5, 0.9, 0.95, 0.99, 0.9998, 0.9999]),
)
subsets = st.one_of(
    st.none(), st.integers(100, TRAINING_SET), st.sampled_from([100, 101, 109, 59_990, 59_995])
)


@settings(SETTINGS, max_examples=examples(200))
@given(subset=subsets, val_fraction=fractions)
def test_a_split_is_accepted_exactly_when_it_can_be_drawn(
    subset: int | None, val_fraction: float
) -> None:
    assert (split_problem(val_fraction, subset) is None) == splits_drawn(subset, val_fraction)


@pytest.mark.parametrize(
    ("subset", "val_fraction"), [(100, 0.05), (None, 0.0001), (100, 0.95), (59_995, 0.1)]
)
def test_a_split_that_cannot_be_drawn_is_refused_at_load(
    tmp_path: Path, subset: int | None, val_fraction: float
) -> None:
    (tmp_path / "q.yaml").write_text((EXPERIMENTS / "quickstart.yaml").read_text())
    argv = ["q.yaml", "--set", f"data.val_fraction={val_fraction}", "--no-progress"]
    argv += ["--subset", str(subset)] if subset else []
    code, _, err = run(argv, tmp_path)
    refused(code, err, "data.")
    assert listing(tmp_path) == {"q.yaml"}  # no store


def test_a_searched_split_that_cannot_be_drawn_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        tiny_sweep("s", search={"data.val_fraction": {"uniform": [0.001, 0.2]}}, data={})
    )
    with pytest.raises(ConfigError, match="val_fraction"):
        load_experiment(path)


# ----------------------------------------------------------------------------- 9: surroundings
class _Refusing(io.StringIO):
    def __init__(self, code: int):
        super().__init__()
        self.code = code

    def write(self, text: str) -> int:
        raise OSError(self.code, os.strerror(self.code))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EPIPE, errno.EIO])
def test_standard_output_that_cannot_be_written_ends_in_one_line(
    tmp_path: Path, code: int
) -> None:
    (tmp_path / "q.yaml").write_text((EXPERIMENTS / "quickstart.yaml").read_text())
    err = io.StringIO()
    with (
        contextlib.redirect_stdout(_Refusing(code)),
        contextlib.redirect_stderr(err),
        contextlib.chdir(tmp_path),
    ):
        status = main(["q.yaml", "--dry-run"])
    assert status == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == (0 if code == errno.EPIPE else 1), lines
    assert "Traceback" not in err.getvalue()


def test_a_working_folder_deleted_under_the_command_ends_in_one_line(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    experiment = tmp_path / "q.yaml"
    experiment.write_text((EXPERIMENTS / "quickstart.yaml").read_text())
    err = io.StringIO()
    with contextlib.chdir(gone), contextlib.redirect_stderr(err):
        gone.rmdir()
        status = main([str(experiment), "--dry-run"])
    refused(status, err.getvalue(), "working folder")


# ----------------------------------------------------------------------------- 1, 2 on a store
HOSTILE = [
    *("漢" * 100, "😀", "😀😀", "my sweep", "my_sweep", "Ünïcødé ✓ " * 10, "x" * 200),
    *("cost_$1_vs_$2", "exp.2", "Exp1", "a#b;c%20d"),
]


@pytest.mark.sweep
def test_names_the_schema_accepts_run_side_by_side_in_one_store(
    tmp_path: Path, synthetic_dir: Path
) -> None:
    """Each name: a real sweep (its experiment, artifact folder, state file, and for the
    first a registered model) in one store; names that shared a state file before run as
    two sweeps, neither told that the other's experiment changed."""
    import mlflow
    from mlflow.tracking import MlflowClient

    before = os.environ.get("MLFLOW_EXPERIMENT_ID")
    for i, name in enumerate(HOSTILE):
        assert accepted(name), name
        path = tmp_path / f"n{i}.yaml"
        path.write_text(tiny_sweep(name, sweep={"log_model": i == 0, "system_metrics": False}))
        code, _, err = run(
            [str(path), "--data-dir", str(synthetic_dir), "--no-progress"], tmp_path
        )
        assert code == 0, err[-3000:]
        assert "Traceback" not in err and "changed" not in err
    state = tmp_path / ".sweep"
    done = sorted(p.name for p in state.glob("*.done.pkl"))
    assert len(done) == len(HOSTILE), done
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for name in HOSTILE:
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None
        assert experiment.artifact_location.endswith(f"/mlruns/{name_stem(name)}")
        runs = client.search_runs([experiment.experiment_id])
        assert len(runs) == 3 and {r.info.status for r in runs} == {"FINISHED"}
    assert str(client.get_model_version_by_alias(HOSTILE[0], "best").version) == "1"
    # the longest name's selected configuration exports as a file that loads (its name cut
    # to make room for "_best")
    longest = HOSTILE.index("x" * 200)
    argv = ["export-best", f"n{longest}.yaml", "--out", "best.yaml"]
    code, _, err = run(argv, tmp_path)
    assert code == 0, err
    assert load_experiment(tmp_path / "best.yaml").name == "x" * 195 + "_best"
    # the registered model of the first name scores images, as the sweep's last lines say
    model = f"models:/{HOSTILE[0]}@best"
    argv = ["predict", model, "--out", "p.dat", "--data-dir", str(synthetic_dir)]
    code, _, err = run(argv, tmp_path)
    assert code == 0, err
    assert len((tmp_path / "p.dat").read_text().splitlines()) == 10_000
    # logging and loading a model leave MLflow pointed at the store (as set_tracking_uri
    # does), and no experiment id for the processes started later to inherit
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert os.environ.get("MLFLOW_EXPERIMENT_ID") == before


@pytest.mark.sweep
def test_an_earlier_versions_state_file_is_found_under_the_new_name(
    tmp_path: Path, synthetic_dir: Path
) -> None:
    """An interrupted sweep of ``my sweep`` saved as ``my_sweep.trials.pkl`` (the earlier
    mapping) moves to its own file and resumes; ``my_sweep``'s own file is left alone."""
    from sweep.search import _state as resume

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = tmp_path / "a.yaml"
    path.write_text(tiny_sweep("my sweep", sweep={"log_model": False, "system_metrics": False}))
    code, _, err = run([str(path), "--data-dir", str(synthetic_dir), "--no-progress"], tmp_path)
    assert code == 0, err[-3000:]
    new = resume.state_path(uri, "my sweep")
    legacy = new.with_name(f"{legacy_stem('my sweep')}.trials.pkl")
    saved = resume.load(resume.done_path(new))
    assert saved is not None and saved.experiment == "my sweep"
    os.replace(resume.done_path(new), resume.done_path(legacy))
    # the file `my_sweep` owns under the same stem: not the other name's to take
    theirs = resume.SweepState("my_sweep", "0" * 32, saved.identity, saved.trials)
    resume.save(legacy, theirs)
    with resume.claim(uri, "my sweep", str(path), fresh=False) as claimed:
        assert claimed == new
    assert resume.done_path(new).is_file() and not resume.done_path(legacy).exists()
    assert pickle.loads(resume.done_path(new).read_bytes()).experiment == "my sweep"
    assert pickle.loads(legacy.read_bytes()).experiment == "my_sweep"  # left where it was
    # a longer run of the same search extends the sweep from its own file
    code, _, err = run(
        [str(path), "--data-dir", str(synthetic_dir), "--no-progress", "--max-evals", "3"],
        tmp_path,
    )
    assert code == 0, err[-3000:]
    assert f"extending sweep {saved.parent_run_id}" in err, err[-2000:]


def test_split_problem_states_the_numbers() -> None:
    text = split_problem(0.05, 100)
    assert text is not None and "5 validation images" in text and "0.1" in text
    assert split_problem(0.1, None) is None


def test_a_pickle_too_small_for_its_split_is_refused_before_the_store(tmp_path: Path) -> None:
    """The config's check counts Fashion-MNIST's 60,000 images; a ``--data-pickle`` file
    brings its own count, checked before anything is written."""
    labels = np.repeat(np.arange(CLASSES, dtype=np.uint8), 20)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    data = tmp_path / "small.pkl"
    data.write_bytes(pickle.dumps(((images, labels), (images[:10], labels[:10]))))
    (tmp_path / "q.yaml").write_text((EXPERIMENTS / "quickstart.yaml").read_text())
    before = listing(tmp_path)
    argv = ["q.yaml", "--data-pickle", "small.pkl", "--allow-pickle", "--no-progress"]
    code, _, err = run([*argv, "--set", "data.val_fraction=0.02"], tmp_path)
    refused(code, err, "small.pkl", "cannot be split", "T-shirt/top 20")
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    ("counts", "extra", "words"),
    [
        ([982] + [2] * 9, [], "no validation image"),  # classes too small for their share
        ([982] + [2] * 9, ["--subset", "100"], "cannot be split"),
        ([0] * 10, [], "holds no images"),
    ],
)
def test_a_pickle_whose_classes_cannot_be_split_is_refused(
    tmp_path: Path, counts: list[int], extra: list[str], words: str
) -> None:
    labels = np.repeat(np.arange(CLASSES, dtype=np.uint8), counts)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    test = np.zeros((10, 28, 28), dtype=np.uint8), np.arange(10, dtype=np.uint8)
    (tmp_path / "odd.pkl").write_bytes(pickle.dumps(((images, labels), test)))
    (tmp_path / "q.yaml").write_text((EXPERIMENTS / "quickstart.yaml").read_text())
    before = listing(tmp_path)
    argv = ["q.yaml", "--data-pickle", "odd.pkl", "--allow-pickle", "--no-progress", *extra]
    code, _, err = run(argv, tmp_path)
    refused(code, err, words)
    assert listing(tmp_path) == before


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "sweep", "q.yaml", "--dry-run"],
        ["-m", "sweep", "--help"],
        ["-m", "sweep", "report", "--help"],
        ["-m", "sweep", "ui", "--help"],
        [str(REPO / "analyze_results.py"), "--help"],
    ],
)
@pytest.mark.parametrize("sink", ["/dev/full", "a closed pipe", "closed"])
def test_a_real_process_whose_output_is_lost_ends_in_one_line(
    tmp_path: Path, argv: list[str], sink: str
) -> None:
    """``>/dev/full`` and a pipe whose reader has gone (``| head -1``), for real: a non-zero
    status, at most one line, no trace (a closed pipe: none, its reader has what it wanted)."""
    import subprocess
    import sys

    from conftest import _env

    (tmp_path / "q.yaml").write_text((EXPERIMENTS / "quickstart.yaml").read_text())
    command = [sys.executable, *argv]
    if sink == "/dev/full":
        with open("/dev/full", "w") as full:
            done = subprocess.run(
                command, cwd=tmp_path, env=_env(), stdout=full, stderr=subprocess.PIPE, text=True
            )
        code, err = done.returncode, done.stderr
        assert err.count("\n") == 1 and "No space left" in err, err
    elif sink == "closed":  # started with `>&-`: no standard output at all
        done = subprocess.run(
            ["sh", "-c", 'exec "$@" >&-', "sh", *command],
            cwd=tmp_path,
            env=_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        code, err = done.returncode, done.stderr
        assert err.count("\n") == 1 and "standard output is closed" in err, err
    else:  # its reader gone before the first write (deterministic, unlike a race with head)
        read, write = os.pipe()
        os.close(read)
        try:
            done = subprocess.run(
                command, cwd=tmp_path, env=_env(), stdout=write, stderr=subprocess.PIPE, text=True
            )
        finally:
            os.close(write)
        code, err = done.returncode, done.stderr
        assert err == "", err
    assert code != 0 and "Traceback" not in err


@pytest.mark.parametrize(
    ("subsets", "fractions", "ok"),
    [
        ({"choice": [100, 200]}, {"choice": [0.05, 0.1]}, False),  # 100 x 0.05: 5 images
        ({"choice": [100, 200]}, {"uniform": [0.1, 0.95]}, False),  # 100 x 0.95: 5 training
        ({"int": [100, 1000]}, {"uniform": [0.1, 0.9]}, True),
        ({"choice": [1000, None]}, {"choice": [0.01, 0.5]}, True),
    ],
)
def test_searched_subsets_and_fractions_are_checked_together(
    tmp_path: Path, subsets: dict, fractions: dict, ok: bool
) -> None:
    path = tmp_path / "s.yaml"
    search = {"data.subset": subsets, "data.val_fraction": fractions}
    path.write_text(tiny_sweep("s", search=search, data={"subset": 1000, "val_fraction": 0.1}))
    if ok:
        load_experiment(path)
        return
    with pytest.raises(ConfigError, match="cannot split the data"):
        load_experiment(path)
