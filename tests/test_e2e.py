"""End to end: the real CLI on the real data into a fresh mlflow.db, read back with MLflow's
client and through the REST API of a real `mlflow ui` process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from mlflow.tracking import MlflowClient

from conftest import (
    EXPERIMENTS,
    Watch,
    free_port,
    kill_tree,
    run_cli,
    run_main,
    run_watched,
    wait_for_exit,
)
from sweep import names as M

if TYPE_CHECKING:
    from mlflow.entities import Run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ui_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def exp12_run(tmp_path_factory, real_data_dir, ui_port: int) -> subprocess.CompletedProcess:
    folder = tmp_path_factory.mktemp("exp12")
    done = run_cli(
        EXPERIMENTS / "exp12.yaml",
        *("--max-evals", "2", "--epochs", "1", "--subset", "1500"),
        *("--no-progress", "--ui-port", str(ui_port)),
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 runs (0 failed); selected on mean validation accuracy" in done.stderr
    done.folder = folder
    return done


@pytest.fixture(scope="module")
def exp12_store(exp12_run) -> Path:
    return exp12_run.folder


@pytest.fixture(scope="module")
def mlflow_ui(exp12_store: Path, ui_port: int):
    """A real `mlflow ui` process on the store; yields its address."""
    mlflow = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen(
        [str(mlflow), "ui", "--port", str(ui_port), "--host", "127.0.0.1", "--workers", "1"],
        cwd=exp12_store,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # (GenAI jobs)
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{ui_port}"
    try:
        watch = Watch(proc, [])  # it starts for as long as it gets somewhere (conftest)
        while True:
            try:
                # (a timeout per request only: an answer not yet there is asked for again)
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except OSError:
                why = "it exited" if proc.poll() is not None else watch.stuck()
                if why:
                    kill_tree(proc)
                    pytest.fail(
                        f"mlflow ui did not start ({why}): {proc.stderr.read().decode()[-2000:]}"
                    )
                time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        wait_for_exit(proc)  # its workers stop for as long as they get somewhere


def test_the_console_holds_the_sweep_s_own_lines_only(exp12_run) -> None:
    """No third-party progress bars or log lines: each line is a timed log line, the best
    configurations' table, or the links and the predict command."""
    ours = re.compile(r"^(\d\d:\d\d:\d\d |best \d+ configuration|  \S|Browse it |Score the )")
    strangers = [line for line in exp12_run.stderr.splitlines() if not ours.match(line)]
    assert not strangers, strangers


def test_exp12_leaves_one_parent_and_two_finished_children(exp12_store: Path) -> None:
    client = MlflowClient(f"sqlite:///{exp12_store / 'mlflow.db'}")
    exp = client.get_experiment_by_name("exp12_optimized_training_full")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if M.TAG_PARENT not in r.data.tags]
    children = [r for r in runs if M.TAG_PARENT in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    assert {c.data.tags[M.TAG_PARENT] for c in children} == {parents[0].info.run_id}
    assert {c.info.status for c in children} == {"FINISHED"}
    first = next(c for c in children if c.data.tags[M.TAG_TRIAL] == "1")
    published = {"model.filters": "256", "model.units1": "192", "model.units2": "96"}
    assert {k: first.data.params[k] for k in published} == published  # sweep.start_with
    for child in children:
        assert {"model.filters", "model.units1", "model.units2"} <= set(child.data.params)
        assert child.data.params["train.epochs"] == "1"
        history = client.get_metric_history(child.info.run_id, M.VAL_ACCURACY)
        assert [h.step for h in history] == [1]
        assert 0.5 < child.data.metrics[M.TEST_ACCURACY] <= 1.0  # real data, 1 epoch


def test_the_best_model_is_registered_and_predicts_as_logged(
    exp12_store: Path, real_data_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """models:/NAME@best scores the 10,000 test images with exactly the logged accuracy."""
    import mlflow.pyfunc
    import numpy as np

    from sweep.cli.predict import main as predict

    name = "exp12_optimized_training_full"
    uri = f"sqlite:///{exp12_store / 'mlflow.db'}"
    client = MlflowClient(uri)
    version = client.get_model_version_by_alias(name, "best")
    runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    parent = next(r for r in runs if M.TAG_PARENT not in r.data.tags)
    assert version.run_id == parent.data.tags[M.TAG_BEST_TRIAL]  # the selected trial's run
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    assert logged.experiment_id == parent.info.experiment_id  # not "Default"
    assert logged.artifact_location.startswith((exp12_store / "mlruns" / name).as_uri())
    best_run = client.get_run(version.run_id)
    # as in a new process: MLflow reads MLFLOW_TRACKING_URI where nothing set its tracking
    # URI (an in-process sweep or predict of another test may have: it wins over the variable)
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    model = mlflow.pyfunc.load_model(f"models:/{name}@best")
    images = np.random.default_rng(0).integers(0, 256, (3, 1, 28, 28)).astype(np.float32)
    assert model.predict(images).shape == (3, 10)

    out = tmp_path / "PRED_cnn.dat"
    code = predict([f"models:/{name}@best", "--out", str(out), "--tracking-uri", uri])
    assert code == 0, capsys.readouterr().err
    labels = [int(line) for line in out.read_text().splitlines()]
    assert len(labels) == 10_000 and set(labels) <= set(range(10))
    printed = capsys.readouterr().out
    logged = best_run.data.metrics[M.TEST_ACCURACY]
    assert f"accuracy {logged:.4f} on 10000 images" in printed, (logged, printed[:200])
    assert "macro avg" in printed and "weighted avg" in printed
    assert (tmp_path / "PRED_cnn_confusion_matrix.png").stat().st_size > 10_000


def test_mlflow_ui_lists_the_runs(mlflow_ui: str) -> None:
    base = f"{mlflow_ui}/api/2.0/mlflow"
    name = "exp12_optimized_training_full"
    with urllib.request.urlopen(f"{base}/experiments/get-by-name?experiment_name={name}") as r:
        exp_id = json.load(r)["experiment"]["experiment_id"]
    request = urllib.request.Request(
        f"{base}/runs/search",
        data=json.dumps({"experiment_ids": [exp_id]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as r:
        runs = json.load(r)["runs"]
    tags = [{t["key"]: t["value"] for t in run["data"].get("tags", [])} for run in runs]
    parents = [t for t in tags if M.TAG_PARENT not in t]
    assert len(runs) == 3 and len(parents) == 1
    assert sum(M.TAG_PARENT in t for t in tags) == 2
    selected = parents[0][M.TAG_BEST_TRIAL]  # its figures drawn; every trial its numbers
    for child in (r for r, t in zip(runs, tags, strict=True) if M.TAG_PARENT in t):
        run_id = child["info"]["run_id"]
        with urllib.request.urlopen(f"{base}/artifacts/list?run_id={run_id}") as r:
            files = {f["path"] for f in json.load(r).get("files", [])}
        assert {"confusion_matrix.csv", "predictions.txt"} <= files
        drawn = {"curves.png", "confusion_matrix.png"} <= files
        assert drawn == (run_id == selected)


def get(url: str) -> dict:
    with urllib.request.urlopen(url) as r:
        return json.load(r)


def test_mlflow_ui_shows_the_model_the_description_git_and_the_search(mlflow_ui: str) -> None:
    """What MLflow's UI shows, read over its REST API: the registered model and its alias,
    the hypothesis as the parent's description, MLflow's git and source tags, the search as
    a metric of the parent by trial number, and the trials' data as dataset inputs."""
    base = f"{mlflow_ui}/api/2.0/mlflow"
    name = "exp12_optimized_training_full"
    version = get(f"{base}/registered-models/alias?name={name}&alias=best")["model_version"]
    model = get(f"{base}/registered-models/get?name={name}")["registered_model"]
    assert {"alias": "best", "version": version["version"]} in model["aliases"]
    best = get(f"{base}/runs/get?run_id={version['run_id']}")["run"]
    tags = {t["key"]: t["value"] for t in best["data"]["tags"]}
    parent_id = tags[M.TAG_PARENT]

    parent = get(f"{base}/runs/get?run_id={parent_id}")["run"]
    tags = {t["key"]: t["value"] for t in parent["data"]["tags"]}
    assert tags["mlflow.note.content"].startswith("40 epochs with StepLR")
    assert re.fullmatch(r"[0-9a-f]{40}", tags["mlflow.source.git.commit"])
    assert tags["mlflow.source.type"] == "LOCAL" and tags["mlflow.user"]
    assert tags[M.TAG_BEST_TRIAL] == version["run_id"]
    params = {p["key"]: p["value"] for p in parent["data"]["params"]}
    assert params["model.filters"] == "choice[256, 192, 128]"  # searched: its spec
    assert params["train.epochs"] == "1"  # fixed: its value
    for key in ("trial_val_accuracy", "best_val_accuracy_so_far"):
        history = get(f"{base}/metrics/get-history?run_id={parent_id}&metric_key={key}")
        assert sorted(m["step"] for m in history["metrics"]) == [1, 2], key

    inputs = best["inputs"]["dataset_inputs"]
    training = next(i for i in inputs if i["dataset"]["name"] == "fashion-mnist-training")
    assert training["tags"] == [{"key": "mlflow.data.context", "value": "training"}]
    assert re.fullmatch(r"[0-9a-f]{32}", training["dataset"]["digest"])


def browser(chromium: str, url: str, profile: Path, *extra: str) -> str:
    """What a fresh headless Chromium shows at ``url`` once the page has settled: the DOM."""
    done = run_watched(  # while Chromium gets somewhere (a slow machine's page takes longer)
        [
            chromium,
            *("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"),
            *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
            *("--hide-scrollbars", "--window-size=1600,800", "--virtual-time-budget=30000"),
            f"--user-data-dir={profile}",
            *(extra or ("--dump-dom",)),
            url,
        ],
        cwd=profile.parent,
    )
    return done.stdout


def test_the_printed_links_open_the_runs_in_a_browser(
    exp12_run, mlflow_ui: str, chromium: str, tmp_path: Path
) -> None:
    links = re.findall(
        r"(http://localhost:\d+/\S+workflowType=machine_learning)", exp12_run.stderr
    )
    assert len(links) == 2, exp12_run.stderr[-2000:]
    runs_page, trial_page = (link.replace("localhost", "127.0.0.1") for link in links)
    client = MlflowClient(f"sqlite:///{exp12_run.folder / 'mlflow.db'}")
    exp = client.get_experiment_by_name("exp12_optimized_training_full")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    parent = next(
        r for r in client.search_runs([exp.experiment_id]) if M.TAG_PARENT not in r.data.tags
    )

    dom = browser(chromium, runs_page, tmp_path / "a")
    assert parent.info.run_name in dom, dom[-2000:]  # the runs table, not the GenAI view
    dom = browser(chromium, trial_page, tmp_path / "b")
    assert M.VAL_ACCURACY in dom and M.TEST_ACCURACY in dom
    dom = browser(chromium, trial_page.replace("?", "/artifacts?"), tmp_path / "c")
    assert all(name in dom for name in ("curves.png", "confusion_matrix.png", "predictions.txt"))

    # the README's picture: SWEEP_SCREENSHOT=docs/mlflow_ui.png, see the README's quick start
    shot = Path(os.environ.get("SWEEP_SCREENSHOT") or tmp_path / "runs.png").resolve()
    browser(chromium, runs_page, tmp_path / "d", f"--screenshot={shot}")
    assert shot.is_file() and shot.stat().st_size > 10_000


@pytest.mark.parametrize("name", ["wide_deep"])  # (mlp_baseline: the repeats test below)
def test_baselines_run_end_to_end(
    tmp_path: Path, real_data_dir, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sweep.__main__ import main

    monkeypatch.chdir(tmp_path)  # in-process: the CLI's main(), without a new interpreter
    args = [str(EXPERIMENTS / f"{name}.yaml"), "--repeats", "1", "--epochs", "1"]
    assert main([*args, "--subset", "2000", "--no-progress"]) == 0
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_experiment_dry_runs(tmp_path: Path, path: Path) -> None:
    done = run_main([str(path), "--dry-run"], tmp_path)  # (in-process: the CLI's main())
    assert done.code == 0, done.err
    assert "# search space" in done.out
    assert not (tmp_path / "mlflow.db").exists()


def test_bad_input_exits_2_without_creating_a_store(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntrain: {epochs: 0}\n")
    done = run_cli(str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert "train.epochs" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_repeats_of_one_fixed_configuration(tmp_path: Path, real_data_dir) -> None:
    """The baseline's recipe (no search, 3 seeds in its file); the report gives n=3 and an
    interval."""
    done = run_cli(
        EXPERIMENTS / "mlp_baseline.yaml",
        *("--epochs", "1", "--subset", "2000"),
        *("--no-progress", "--set", "sweep.log_model=false"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "predict" not in done.stderr  # no model: no command to predict with it
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("mlp_baseline")
    kids = client.search_runs([exp.experiment_id], f"tags.`{M.TAG_PARENT}` != ''")
    assert len(kids) == 3
    assert {k.data.params["model.dropout"] for k in kids} == {"0.2"}
    assert len({k.data.tags[M.TAG_CONFIG] for k in kids}) == 1
    assert sorted(int(k.data.params["train.seed"]) for k in kids) == [1, 2, 3]
    assert sorted(k.data.tags[M.TAG_ROLE] for k in kids) == ["repeat", "repeat", "trial"]
    from sweep.report import build_report  # the command itself: tests/report/test_report.py

    report = build_report(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "r")
    lines = report.markdown.splitlines()
    row = next(line for line in lines if line.startswith("| mlp_baseline |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2].endswith(("fp32", "bf16")) and cells[3] == "3 (0)" and cells[6] == "3"
    assert re.fullmatch(r"\d+\.\d\d% ± \d+\.\d\d \(\d+\.\d\d–\d+\.\d\d\)", cells[8]), cells


BF16_SWEEP = """
name: bf16_check
hypothesis: the logged figures are the registered model's, whatever precision trained it
model: {kind: cnn, num_blocks: 2, filters: 16, units1: 32, units2: 16, dropout: [0.0, 0.0]}
train: {epochs: 1, batch_size: 64, precision: bf16}
sweep: {algo: grid, repeats: 1}
data: {subset: 1200}
"""  # (bf16 forced: emulated where the CPU lacks it, slow but tiny here)


def test_a_bf16_trained_model_predicts_exactly_what_its_run_logged(
    real_data_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """Trained in bf16, the final figures (validation for selection, test, predictions)
    are the registered model's in fp32: `predict` reproduces every one of them."""
    import mlflow.pyfunc
    import numpy as np

    from sweep.train import make_splits

    (tmp_path / "bf16.yaml").write_text(BF16_SWEEP)
    done = run_cli("bf16.yaml", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run = registered_model_predicts_as_logged("bf16_check", tmp_path, capsys)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model("models:/bf16_check@best")
    splits = make_splits(real_data_dir, val_fraction=0.1, subset=1200, seed=0)
    logits = model.predict(splits.x_val[:, None].astype(np.float32))
    val_accuracy = float((np.asarray(logits).argmax(1) == splits.y_val).mean())
    assert val_accuracy == run.data.metrics[M.MODEL_VAL_ACCURACY]  # what selection used
    assert run.data.params["resolved.precision"] == "bf16"
    assert run.data.params["resolved.eval_precision"] == "fp32"


def test_exp15_s_recipe_runs_and_its_logged_model_applies_the_tta(
    real_data_dir: Path, tmp_path: Path, capsys
) -> None:
    """exp15's file on a tiny budget: the residual network (narrowed here: scoring the
    10,000 test images twice, TTA, is most of this test's time), the one-cycle schedule,
    label smoothing and flip TTA in validation, test and the registered model alike."""
    from sweep.config import load_experiment
    from sweep.train import build_model, count_parameters

    narrow = {"model.stem": 8, "model.widths": [16, 32]}
    sets = ("--set", "model.stem=8", "--set", "model.widths=[16, 32]")
    done = run_cli(
        EXPERIMENTS / "exp15_fast.yaml",
        *("--epochs", "2", "--subset", "1500", "--repeats", "1", "--no-progress", *sets),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # the logged model averages both views, as the run's predictions did
    run = registered_model_predicts_as_logged("exp15_fast", tmp_path, capsys)
    params = run.data.params
    assert params["model.kind"] == "resnet" and params["eval.tta"] == "['hflip']"
    assert params["train.scheduler.name"] == "onecycle"
    narrowed = build_model(load_experiment(EXPERIMENTS / "exp15_fast.yaml", narrow).model)
    assert run.data.metrics[M.NUM_PARAMETERS] == count_parameters(narrowed)  # (463,594 wide)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    lr = [m.value for m in client.get_metric_history(run.info.run_id, M.LR)]
    assert lr[0] == pytest.approx(3e-3 / 25) and lr[1] > lr[0]  # stepped within epoch 1


@pytest.mark.parametrize(
    ("file", "widths"),
    [("exp17_speedrun", ["16", "32"]), ("exp18_accuracy", ["32", "64"])],
)
def test_the_speedrun_files_run_and_their_registered_model_predicts_as_logged(
    real_data_dir: Path, tmp_path: Path, capsys, file: str, widths: list[str]
) -> None:
    """exp17's and exp18's files on a tiny budget (narrowed, as exp15's above, each to a
    quarter of its widths): the pooled, whitened stem set from the training images before
    training, identity-initialised convs and alternating flips; the registered model
    predicts the 10,000 test images exactly as the run logged them."""
    narrowed = f"model.widths=[{', '.join(widths)}]"
    argv = [str(EXPERIMENTS / f"{file}.yaml"), "--epochs", "1", "--subset", "1500"]
    argv += ["--repeats", "1", "--no-progress", "--set", narrowed]
    done = run_main(argv, tmp_path)  # (in-process: the CLI's main())
    assert done.code == 0, done.err[-3000:]
    run = registered_model_predicts_as_logged(file, tmp_path, capsys)
    params = run.data.params
    assert (params["model.stem"], params["model.stem_pool"]) == ("18", "True")
    assert (params["model.whiten"], params["model.identity_init"]) == ("True", "True")
    assert params["train.augment.hflip"] == "alternate"
    assert params["model.widths"] == f"[{', '.join(widths)}]"


def registered_model_predicts_as_logged(name: str, folder: Path, capsys) -> Run:
    """Checks that `predict` with ``models:/NAME@best`` of the store in ``folder`` writes
    exactly the predictions its run logged (all 10,000 test labels) and prints the run's
    test accuracy; returns that run."""
    from sweep.cli.predict import main as predict

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    run = client.get_run(client.get_model_version_by_alias(name, "best").run_id)
    out = folder / "PRED.dat"
    assert predict([f"models:/{name}@best", "--out", str(out), "--tracking-uri", uri]) == 0
    logged = client.download_artifacts(run.info.run_id, "predictions.txt", str(folder))
    assert out.read_text() == Path(logged).read_text()
    test_accuracy = run.data.metrics[M.TEST_ACCURACY]
    assert f"accuracy {test_accuracy:.4f} on 10000 images" in capsys.readouterr().out
    return run
