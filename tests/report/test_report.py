"""analyze_results.py on a store made by the real orchestrator (three small sweeps)."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from conftest import REPO, loaded_in_chromium, run_cli, tiny_sweep
from sweep import names as M
from sweep.analysis import compare
from sweep.config import load_experiment
from sweep.report import markers
from sweep.search import RunOptions, run_sweep

pytestmark = pytest.mark.sweep  # sweeps in this process, into temporary stores


def report_sweep(name: str, low: float, high: float, seed: int, **changes) -> str:
    """A random search of the learning rate in [low, high], 3 trials, 2 runs of the best."""
    blocks = {
        "hypothesis": "test",
        "train": {"epochs": 2},
        "search": {"train.optimizer.lr": {"loguniform": [low, high]}},
        "sweep": {
            "algo": "random",
            "max_evals": 3,
            "seed": seed,
            "repeats": 2,
            "log_model": False,
        },
    }
    return tiny_sweep(name, **{**blocks, **changes})


@pytest.fixture(scope="module")
def store(tmp_path_factory, synthetic_dir) -> Path:
    folder = tmp_path_factory.mktemp("report")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    options = RunOptions(tracking_uri=uri, data_dir=str(synthetic_dir), show_progress=False)
    for i, (name, low, high) in enumerate(
        [("exp1_slow_lr", 1e-4, 3e-4), ("exp2_fast_lr", 3e-3, 1e-2), ("exp3_mid_lr", 1e-3, 2e-3)]
    ):
        path = folder / f"{name}.yaml"
        path.write_text(report_sweep(name, low, high, seed=i))
        run_sweep(load_experiment(path), path, options)
    return folder


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def analyze(*args: str, cwd: Path) -> Done:
    """``analyze_results.py ARGS`` in this process (its command line is run once in a new
    process by test_the_command_in_a_new_process)."""
    sys.path.insert(0, str(REPO))
    import analyze_results

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), redirect_stdout(out), redirect_stderr(err):
        code = analyze_results.main(list(args))
    return Done(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def report(store: Path) -> Done:
    done = analyze(cwd=store)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def cells_of(stdout: str, name: str) -> list[str]:
    row = next(line for line in stdout.splitlines() if line.startswith(f"| {name} |"))
    return [c.strip() for c in row.strip("|").split("|")]


def test_table_matches_a_recomputation_from_mlflow(store: Path, report) -> None:
    """Each sweep's row: its selected configuration (highest mean validation accuracy over
    its runs, recomputed here from the runs' metrics) and that configuration's runs."""
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    for name in ("exp1_slow_lr", "exp2_fast_lr", "exp3_mid_lr"):
        exp = client.get_experiment_by_name(name)
        runs = client.search_runs([exp.experiment_id], f"tags.`{M.TAG_PARENT}` != ''")
        configs: dict[str, list] = {}
        for r in runs:
            configs.setdefault(r.data.tags[M.TAG_CONFIG], []).append(r)
        mean_val = {
            c: np.mean([r.data.metrics[M.MODEL_VAL_ACCURACY] for r in rs])
            for c, rs in configs.items()
        }
        chosen = max(mean_val, key=mean_val.get)
        test = np.array([r.data.metrics[M.TEST_ACCURACY] for r in configs[chosen]])
        assert len(test) == 2  # the search's best, then repeats up to 2 runs
        cells = cells_of(report.stdout, name)
        assert cells[1] == "2 ep, 600 img, cpu (the file's own)"  # (the files set 2 and 600)
        assert cells[2] == machine_of(runs)
        assert cells[3] == f"{len(runs)} (0)" and cells[4] == str(len(configs))
        assert cells[5].startswith(f"{chosen}: train.optimizer.lr=")
        assert cells[6] == "2"
        half = 12.706205 * test.std(ddof=1) / np.sqrt(2)  # t(0.975, 1 df)
        assert cells[8] == (
            f"{100 * test.mean():.2f}% ± {100 * test.std(ddof=1):.2f} "
            f"({100 * (test.mean() - half):.2f}–{100 * (test.mean() + half):.2f})"
        )
        assert f"{100 * mean_val[chosen]:.2f}% ±" in cells[7]


def machine_of(runs: list) -> str:
    """Where these runs trained, as a row says it: this machine's CPU, whether it runs bf16
    natively, and the precision the runs resolved."""
    from sweep.train import cpu_model, cpu_runs_bf16

    precisions = sorted({r.data.params["resolved.precision"] for r in runs})
    native = "native bf16" if cpu_runs_bf16() else "no native bf16"
    return f"{cpu_model()} ({native}), {'/'.join(precisions)}"


def study_cells(stdout: str, name: str) -> list[str]:
    """The row of sweep ``name`` in the table of the study's columns (the second table)."""
    block = stdout.split("**The study's way of reporting**", 1)[1]
    row = next(line for line in block.splitlines() if line.startswith(f"| {name} |"))
    return [c.strip() for c in row.strip("|").split("|")]


def test_the_studys_columns_match_a_recomputation_from_mlflow(store: Path, report) -> None:
    """Over every finished run of a sweep, whatever its configuration: the mean test
    accuracy, the test accuracy of the run best on validation, and the best test accuracy
    (the study's optimistic "best"); the published figures only where the study has one."""
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    for name in ("exp1_slow_lr", "exp2_fast_lr", "exp3_mid_lr"):
        exp = client.get_experiment_by_name(name)
        runs = client.search_runs([exp.experiment_id], f"tags.`{M.TAG_PARENT}` != ''")
        done = [r for r in runs if r.info.status == "FINISHED"]
        test = np.array([r.data.metrics[M.TEST_ACCURACY] for r in done])
        val = np.array([r.data.metrics[M.MODEL_VAL_ACCURACY] for r in done])
        cells = study_cells(report.stdout, name)
        assert cells[2] == machine_of(runs)
        assert cells[3] == str(len(done)) == str(len(runs))
        assert cells[4] == f"{100 * test.mean():.2f}%"
        assert cells[5] == f"{100 * test[val.argmax()]:.2f}%"
        assert cells[6] == f"{100 * test.max():.2f}%"
        assert cells[7:] == ["–", "–"]  # (no published experiment of these names)


def test_the_published_figures_stand_beside_their_experiment() -> None:
    from sweep.report import PUBLISHED, study_table

    summary = pd.DataFrame(
        [
            {"experiment": "exp7_steplr_decay", "sweep": "exp7_steplr_decay", "budget": "b",
             "machine": "m", "study_runs": 3, "study_mean": 0.9, "study_val_pick": 0.91,
             "study_best": 0.92},
            {"experiment": "exp1_baseline_batchnorm", "sweep": "exp1_baseline_batchnorm",
             "budget": "b", "machine": "m", "study_runs": 0, "study_mean": float("nan"),
             "study_val_pick": float("nan"), "study_best": float("nan")},
        ]
    )  # fmt: skip
    rows = study_table(summary).rows
    assert rows[0][4:] == ("90.00%", "91.00%", "92.00%", "93.44%", "93.08%")
    assert rows[1][2:] == ("m", "0", "–", "–", "–", "89.57%", "–")  # Round 1: best only
    experiments = {p.stem: p for p in (REPO / "experiments").glob("exp*.yaml")}
    names = {load_experiment(p).name for p in experiments.values()}
    assert set(PUBLISHED) <= names  # every published row names an experiment file


def test_files_are_written(store: Path, report) -> None:
    out = store / "reports"
    for name in (
        "analysis.md",
        "analysis.html",
        "runs.csv",
        "accuracy_per_experiment.png",
        "learning_curves.png",
        "params_vs_accuracy.png",
        "optimization_history.png",
        "best_confusion_matrix.png",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    import pandas as pd

    runs = pd.read_csv(out / "runs.csv")
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    assert len(runs) == len(client.search_runs(ids, f"tags.`{M.TAG_PARENT}` != ''"))
    assert "params.train.optimizer.lr" in runs and M.TEST_ACCURACY in runs
    assert set(runs["role"]) == {"trial", "repeat"}
    assert runs.groupby("experiment")["selected"].sum().tolist() == [2, 2, 2]
    assert (runs.groupby(["parent_run_id", "seed"]).size() == 1).all()  # no seed twice
    md = (out / "analysis.md").read_text()
    assert "![" in md and "exp2_fast_lr" in md
    assert "Every configuration of every sweep" in md
    assert "2 ep, 600 img, cpu" in (out / "analysis.md").read_text().split("## ")[0]


def test_comparison_verdicts(store: Path, report) -> None:
    assert "Compared with **exp1_slow_lr [2 ep, 600 img, cpu]**" in report.stdout
    pattern = r"\| exp\d_\w+ \[2 ep, 600 img, cpu\] \| 2 \|"  # every row names its budget
    rows = [line for line in report.stdout.splitlines() if re.match(pattern, line)]
    assert len(rows) == 3
    verdicts = {line.split("|")[1].split()[0]: line.split("|")[6].strip() for line in rows}
    assert verdicts["exp1_slow_lr"] == "(reference)"
    allowed = {"better", "worse", "no detectable difference"}  # same budget: no suffix
    assert verdicts["exp2_fast_lr"] in allowed and verdicts["exp3_mid_lr"] in allowed


def test_verdict_rules() -> None:
    """Welch's test on the runs of each unit's selected configuration, Holm-corrected; a
    unit whose selected configuration has one run gets no verdict."""
    import pandas as pd

    values = {
        "a": [0.80, 0.81, 0.80, 0.81],
        "b": [0.90, 0.91, 0.90, 0.91],
        "c": [0.80, 0.82, 0.79, 0.81],
        "d": [0.95],
    }
    frame = pd.DataFrame(
        [
            {"unit": u, "status": "FINISHED", "selected": True, M.TEST_ACCURACY: v}
            for u, vs in values.items()
            for v in vs
        ]
        + [{"unit": "b", "status": "FINISHED", "selected": False, M.TEST_ACCURACY: 0.1}]
    )
    result = compare(frame, "a").set_index("unit")
    assert result.loc["b", "verdict"] == "better" and result.loc["b", "n"] == 4
    assert result.loc["c", "verdict"] == "no detectable difference"
    assert result.loc["d", "verdict"] == "not enough repeats (n < 2)"
    tested = result.dropna(subset=["p_value"])
    assert len(tested) == 2 and (tested["p_holm"] >= tested["p_value"]).all()
    low, high = sorted(tested["p_value"])  # Holm, by hand, for two p-values
    first = min(1.0, 2 * low)
    expected = {low: first, high: max(first, high)}
    for p, adjusted in zip(tested["p_value"], tested["p_holm"], strict=True):
        assert adjusted == pytest.approx(expected[p])


def test_one_row_per_sweep_unless_pooled(store: Path, tmp_path: Path, synthetic_dir: Path) -> None:
    """A second sweep of exp3 with the same config and other seeds is its own row; --pool
    merges the two."""
    import shutil

    folder = tmp_path / "two"
    shutil.copytree(store, folder, ignore=shutil.ignore_patterns("reports"))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    options = RunOptions(tracking_uri=uri, data_dir=str(synthetic_dir), show_progress=False)
    path = folder / "exp3_mid_lr.yaml"
    second = run_sweep(load_experiment(path, {"sweep.seed": 7, "train.seed": 50}), path, options)
    # an explicit URI: MLflow caches its store per URI, and "sqlite:///mlflow.db" was opened
    # in another folder by the tests before (a new process, as users run it, has no cache)
    where = ("--tracking-uri", uri, "--experiments", "exp3")
    done = analyze(*where, "--out", str(tmp_path / "a"), cwd=folder)
    assert done.returncode == 0, done.stderr
    tables = done.stdout.split("## Findings")[0]  # (the findings: a row per sweep again)
    rows = [line for line in tables.splitlines() if line.startswith("| exp3_mid_lr (sweep ")]
    assert len(rows) == 6, done.stdout  # two each: the summary, the study's way, comparison
    done = analyze(*where, "--pool", "--out", str(tmp_path / "b"), cwd=folder)
    assert done.returncode == 0, done.stderr
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("exp3_mid_lr")
    total = len(client.search_runs([exp.experiment_id], f"tags.`{M.TAG_PARENT}` != ''"))
    assert total > len(second.trials)
    row = next(line for line in done.stdout.splitlines() if "(2 sweeps of config " in line)
    assert row.split("|")[4].strip() == f"{total} (0)"


def test_pooling_leaves_out_copies_of_runs() -> None:
    """Two sweeps with the same seeds train the same runs: pooled, each counts once."""
    from sweep.report import assign_units

    frame = pd.DataFrame(
        {
            "experiment": ["e"] * 4,
            "parent_run_id": ["p1", "p1", "p2", "p2"],
            "sweep_key": ["k"] * 4,
            "config_id": ["a", "a", "a", "a"],
            "seed": pd.array([1, 2, 2, 3], dtype="Int64"),
        }
    )
    assert len(assign_units(frame, pool=False)) == 4
    pooled = assign_units(frame, pool=True)
    assert pooled["seed"].tolist() == [1, 2, 3] and pooled["unit"].nunique() == 1


def test_filters_and_baseline(store: Path, tmp_path: Path) -> None:
    done = analyze(
        "--experiments", "exp2", "exp3*", "--baseline", "exp3", "--out", str(tmp_path), cwd=store
    )
    assert done.returncode == 0, done.stderr
    assert "| exp1_slow_lr |" not in done.stdout
    assert "Compared with **exp3_mid_lr [2 ep, 600 img, cpu]**" in done.stdout
    done = analyze("--since", "2999-01-01", "--out", str(tmp_path), cwd=store)
    assert done.returncode == 1 and "no trial" in done.stderr and "Traceback" not in done.stderr


def test_update_actionplan_keeps_hand_written_text(store: Path, tmp_path: Path) -> None:
    start, end = markers("--update-actionplan")
    plan = tmp_path / "PLAN.md"
    plan.write_text(f"# Plan\nhand-written\n{start}\nold\n{end}\nafter\n")
    done = analyze("--update-actionplan", str(plan), "--out", str(tmp_path / "r"), cwd=store)
    assert done.returncode == 0, done.stderr
    text = plan.read_text()
    assert text.startswith("# Plan\nhand-written\n") and text.endswith(f"{end}\nafter\n")
    assert "old" not in text and "| exp2_fast_lr |" in text


def test_update_readme_writes_the_table_of_sweeps(store: Path, tmp_path: Path) -> None:
    start, end = markers("--update-readme")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n{start}\nold\n{end}\nafter\n")
    done = analyze("--update-readme", str(readme), "--out", str(tmp_path / "r"), cwd=store)
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert text.startswith(f"# Title\n{start}\n") and text.endswith(f"{end}\nafter\n")
    assert "| exp2_fast_lr |" in text and "Compared with" not in text and "old" not in text


@pytest.mark.parametrize("case", ["empty", "no_children", "unknown_metric"])
def test_unusable_stores_give_a_message(tmp_path: Path, store: Path, case: str) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["--tracking-uri", uri]
    if case == "no_children":
        client = MlflowClient(uri)
        run = client.create_run(client.create_experiment("lonely"))
        client.set_terminated(run.info.run_id)
    if case == "unknown_metric":
        args = ["--metric", "accuracy_of_nothing"]
    done = analyze(
        *args, "--out", str(tmp_path / "r"), cwd=store if case == "unknown_metric" else tmp_path
    )
    # a missing store and a metric no trial logged are bad input (2); no trial runs: 1
    assert done.returncode == (1 if case == "no_children" else 2), done.stderr
    assert "error:" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow  # several sweeps
def test_failed_trials_are_counted_not_averaged(tmp_path: Path, synthetic_dir: Path) -> None:
    from sweep.report import build_report

    path = tmp_path / "f.yaml"
    sweep = {"algo": "random", "max_evals": 4, "seed": 0, "repeats": 2, "log_model": False}
    path.write_text(
        report_sweep(
            "exp9_some_fail", 1e-3, 2e-3, seed=0,
            train={"optimizer": {"name": "sgd"}, "epochs": 2},
            search={"train.optimizer.lr": {"choice": [1.0e-3, 1.0e30]}},
            sweep=sweep,
        )
    )  # fmt: skip
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_sweep(
        load_experiment(path),
        path,
        RunOptions(tracking_uri=uri, data_dir=str(synthetic_dir), show_progress=False),
    )
    assert result.n_failed > 0
    rep = build_report(uri, tmp_path / "r")
    row = rep.summary.iloc[0]
    assert row["failed"] == result.n_failed and row["runs"] == len(result.trials)
    assert "did not finish" in (tmp_path / "r" / "analysis.md").read_text()


@pytest.mark.slow
def test_html_report_loads_every_image_in_chromium(
    store: Path, report, tmp_path: Path, chromium: str
) -> None:
    page = (store / "reports" / "analysis.html").read_text()
    n_images = page.count("<img ")
    assert n_images >= 5
    dom = loaded_in_chromium(chromium, page, tmp_path)
    assert f"<title>IMAGES {n_images}/{n_images}</title>" in dom, dom[:500]


@pytest.mark.slow
def test_the_command_in_a_new_process(store: Path, tmp_path: Path) -> None:
    done = run_cli(REPO / "analyze_results.py", "--out", tmp_path, cwd=store)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| exp2_fast_lr |" in done.stdout and "Traceback" not in done.stderr
    assert (tmp_path / "analysis.html").is_file()


def test_the_selected_confusion_matrix_is_drawn_from_its_numbers(tmp_path: Path) -> None:
    """The report draws the best selected run's confusion matrix from confusion_matrix.csv
    (a store and an export hold the same numbers); a run without one gives no figure; a
    store that answers with an error is not taken for a missing table."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, RESOURCE_DOES_NOT_EXIST

    from sweep.report._drawing import selected_confusion_matrix
    from sweep.train import CLASS_NAMES

    table = pd.DataFrame(np.eye(10, dtype=int) * 900, columns=CLASS_NAMES)
    table.insert(0, "true", CLASS_NAMES)

    class Client:
        def __init__(self, error: Exception | None = None) -> None:
            self.error, self.asked = error, []

        def download_artifacts(self, run_id: str, name: str, out: str) -> str:
            self.asked.append((run_id, name))
            if self.error is not None:
                raise self.error
            path = Path(out) / name
            table.to_csv(path, index=False)
            return str(path)

    summary = pd.DataFrame(
        {"val_mean": [0.9], "best_run_id": ["run1"], "label": ["exp"], "selected_config": ["abc"]}
    )
    client = Client()
    figure = selected_confusion_matrix(client, summary, tmp_path)
    assert client.asked == [("run1", "confusion_matrix.csv")]
    assert figure is not None and figure.name == "best_confusion_matrix.png"
    assert (tmp_path / figure.name).stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best_confusion_matrix.png"]
    missing = MlflowException("no such artifact", error_code=RESOURCE_DOES_NOT_EXIST)
    assert selected_confusion_matrix(Client(missing), summary, tmp_path / "a") is None
    assert selected_confusion_matrix(Client(FileNotFoundError()), summary, tmp_path) is None
    with pytest.raises(MlflowException, match="database is locked"):
        broken = MlflowException("database is locked", error_code=INTERNAL_ERROR)
        selected_confusion_matrix(Client(broken), summary, tmp_path)
