"""The sweep loop and the MLflow layout, on synthetic data (fast, offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from support import TINY, run_tiny
from sweep import names as M
from sweep.config import load_experiment
from sweep.search import no_progress_stop

pytestmark = pytest.mark.sweep  # sweeps in this process, into temporary stores


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, synthetic_dir):
    return run_tiny(tmp_path_factory.mktemp("sweep"), synthetic_dir)


def test_parent_and_nested_children(tiny_sweep) -> None:
    result, client = tiny_sweep
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[M.TAG_ROLE] == "sweep"
    assert parent.data.tags[M.TAG_YAML].endswith("tiny.yaml")
    assert len(parent.data.tags[M.TAG_YAML_HASH]) == 16
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`{M.TAG_PARENT}` = '{result.parent_run_id}'"
    )
    assert len(children) == 3
    assert {c.info.status for c in children} == {"FINISHED"}
    assert parent.data.metrics[M.N_TRIALS] == 3 and parent.data.metrics[M.N_FAILED] == 0


def test_child_params_metrics_and_history(tiny_sweep) -> None:
    result, client = tiny_sweep
    child = client.get_run(result.trials[0].run_id)
    params = child.data.params
    assert params["train.epochs"] == "2" and params["model.kind"] == "mlp"
    assert "train.optimizer.lr" in params and "model.hidden" in params
    import torch

    from sweep.train import cpu_model, cpu_runs_bf16

    # where it trained: what a run's speed and the precision `auto` picks depend on
    assert params["resolved.cpu"] == cpu_model() and params["resolved.torch"] == torch.__version__
    assert params["resolved.cpu_bf16"] == str(cpu_runs_bf16())
    for name in (M.BEST_VAL_ACCURACY, M.TEST_ACCURACY, M.TEST_LOSS, M.EPOCHS_RUN, M.TRAIN_SECONDS):
        assert name in child.data.metrics, name
    for name in M.EPOCH_METRICS:
        history = client.get_metric_history(child.info.run_id, name)
        assert [h.step for h in history] == [1, 2], name


def test_child_artifacts(tiny_sweep, tmp_path: Path) -> None:
    """Every trial: its confusion matrix as numbers, the per-class report, the predictions;
    the selected trial also its curves and confusion matrix drawn (from what its run holds)."""
    import pandas as pd

    result, client = tiny_sweep
    for trial in result.trials:
        names = {a.path for a in client.list_artifacts(trial.run_id)}
        assert {"confusion_matrix.csv", "per_class_report.csv", "predictions.txt"} <= names
        drawn = {"curves.png", "confusion_matrix.png"} & names
        assert drawn == (
            {"curves.png", "confusion_matrix.png"} if trial.run_id == result.best.run_id else set()
        )
    child = result.best.run_id
    for name in ("curves.png", "confusion_matrix.png"):
        figure = Path(client.download_artifacts(child, name, str(tmp_path)))
        assert figure.stat().st_size > 10_000
    cm = pd.read_csv(client.download_artifacts(child, "confusion_matrix.csv", str(tmp_path)))
    assert cm.shape == (10, 11) and cm.drop(columns="true").to_numpy().sum() == 10_000
    preds = Path(client.download_artifacts(child, "predictions.txt", str(tmp_path)))
    lines = preds.read_text().splitlines()
    assert len(lines) == 10_000 and all(line.isdigit() and int(line) < 10 for line in lines)


def test_trial_figures_draws_every_trials_figures(tmp_path: Path, synthetic_dir: Path) -> None:
    text = TINY.replace(
        "max_evals: 3, seed: 1", "max_evals: 2, seed: 1, trial_figures: true, log_model: false"
    )
    result, client = run_tiny(tmp_path, synthetic_dir, text)
    for trial in result.trials:
        names = {a.path for a in client.list_artifacts(trial.run_id)}
        assert {"curves.png", "confusion_matrix.png", "confusion_matrix.csv"} <= names


def test_each_trial_records_its_data_as_dataset_inputs(tiny_sweep, synthetic_dir) -> None:
    """Training, validation and test splits as MLflow dataset inputs, with the digest of
    all their bytes: the same for every trial of a sweep on the same data."""
    from sweep.train import digest, make_splits

    result, client = tiny_sweep
    splits = make_splits(synthetic_dir, subset=1000, val_fraction=0.1, seed=0)
    expected = {f"fashion-mnist-{role}": digest(*xy) for role, xy in splits.parts().items()}
    for trial in result.trials:
        inputs = client.get_run(trial.run_id).inputs.dataset_inputs
        found = {i.dataset.name: i.dataset.digest for i in inputs}
        assert found == expected
        by_name = {i.dataset.name: i for i in inputs}
        training = by_name["fashion-mnist-training"]
        assert {t.key: t.value for t in training.tags} == {"mlflow.data.context": "training"}
        assert '"features_shape": [900, 28, 28]' in training.dataset.profile
        assert all(i.dataset.source == f'{{"uri": "{synthetic_dir.resolve()}"}}' for i in inputs)


def test_best_trial_is_selected_on_validation_and_keeps_the_model(tiny_sweep) -> None:
    result, client = tiny_sweep
    best = result.best
    assert best is not None
    assert best.loss == min(t.loss for t in result.finished)  # -val_accuracy
    parent = client.get_run(result.parent_run_id)
    assert parent.data.metrics[M.BEST_TEST_ACCURACY] == pytest.approx(best.test_accuracy)
    assert parent.data.tags[M.TAG_BEST_TRIAL] == best.run_id
    light = {a.path for a in client.list_artifacts(best.run_id, "trained")}
    assert light == {"trained/state_dict.pt", "trained/config.yaml"}
    # the logged model, which runs:/RUN/model also names
    assert "model/MLmodel" in {a.path for a in client.list_artifacts(best.run_id, "model")}
    parent_files = {a.path for a in client.list_artifacts(result.parent_run_id)}
    assert {
        "trials.csv",
        "optimization_history.png",
        "tiny.yaml",
        "config_resolved.yaml",
    } <= parent_files


@pytest.mark.slow  # several sweeps
def test_a_diverging_trial_is_failed_and_the_sweep_goes_on(tmp_path, synthetic_dir) -> None:
    text = TINY.replace(
        "  train.optimizer.lr: {loguniform: [1.0e-3, 1.0e-2]}",
        "  train.optimizer.lr: {choice: [1.0e-3, 1.0e+30]}\n"
        "  train.optimizer.name: {choice: [sgd]}",
    ).replace("max_evals: 3", "max_evals: 6")
    result, client = run_tiny(tmp_path, synthetic_dir, text)
    assert 0 < result.n_failed < 6
    failed = [t for t in result.trials if t.status == "fail"]
    run = client.get_run(failed[0].run_id)
    assert run.info.status == "FAILED"
    assert "Diverged" in run.data.tags[M.TAG_FAILURE]
    assert client.get_run(result.parent_run_id).data.metrics[M.N_FAILED] == result.n_failed


def test_no_progress_stop_looks_only_at_finished_trials() -> None:
    def trials(*losses):
        class T:
            pass

        t = T()
        t.trials = [
            {"result": {"status": "ok", "loss": v}}
            if v is not None
            else {"result": {"status": "new"}}
            for v in losses
        ]
        return t

    stop = no_progress_stop(2)
    assert stop(trials(0.5, 0.4, None))[0] is False
    assert stop(trials(0.5, 0.4, 0.6, None))[0] is False
    assert stop(trials(0.5, 0.4, 0.6, 0.7))[0] is True


def test_a_parent_that_cannot_be_set_up_is_not_left_running(
    tmp_path, synthetic_dir, monkeypatch
) -> None:
    import sweep.record._sweep_run

    def broken(config):
        raise RuntimeError("the artifact store refused the file")

    monkeypatch.setattr(sweep.record._sweep_run, "to_yaml", broken)
    with pytest.raises(RuntimeError, match="refused"):
        run_tiny(tmp_path, synthetic_dir)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_the_device_is_not_part_of_the_sweeps_identity(tmp_path) -> None:
    from sweep.config import SweepIdentity

    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    cpu = SweepIdentity.of(load_experiment(path, {"train.device": "cpu"}))
    assert cpu == SweepIdentity.of(load_experiment(path, {"train.device": "cuda"}))
    assert cpu.config != SweepIdentity.of(load_experiment(path, {"train.epochs": 3})).config


def test_each_part_of_the_identity_leaves_out_what_it_is_named_for(tmp_path) -> None:
    """config: everything that trains; search: all but max_evals; setup: all but seeds."""
    from sweep.config import SweepIdentity

    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    base = SweepIdentity.of(load_experiment(path))
    more = SweepIdentity.of(load_experiment(path, {"sweep.max_evals": 9}))
    seeded = SweepIdentity.of(load_experiment(path, {"train.seed": 7, "sweep.seed": 7}))
    budget = SweepIdentity.of(load_experiment(path, {"sweep.time_budget": "1h"}))
    assert more.config != base.config and more.search == base.search
    assert more.setup != base.setup  # (a longer sweep is another setup)
    assert seeded.config != base.config and seeded.search != base.search
    assert seeded.setup == base.setup
    assert budget == base


def test_a_key_added_later_counts_in_the_identity_only_where_it_is_set() -> None:
    """Sweeps recorded before ``sweep.tpe_startup`` and ``model.stem_pool`` existed resume
    and pool with the same config today (the quick start's and exp15's identities as they
    were); a TPE with another start-up, or a pooled stem, is another sweep."""
    from sweep.config import SweepIdentity

    path = Path(__file__).parents[2] / "experiments" / "quickstart.yaml"
    base = SweepIdentity.of(load_experiment(path))
    assert base == SweepIdentity("d1d843aa387f1db3", "39d6e1cfb95f89df", "caa99e5a4e8024d4")
    assert SweepIdentity.of(load_experiment(path, {"sweep.tpe_startup": 20})) == base
    other = SweepIdentity.of(load_experiment(path, {"sweep.tpe_startup": 5}))
    assert other.config != base.config and other.setup != base.setup
    fast = Path(__file__).parents[2] / "experiments" / "exp15_fast.yaml"
    resnet = SweepIdentity.of(load_experiment(fast, {"model.stem_pool": False}))
    assert resnet == SweepIdentity("01b6014f9cac3ede", "0db3c177495d4e32", "4fbd735e438f617e")
    assert SweepIdentity.of(load_experiment(fast, {"model.stem_pool": True})) != resnet


def test_an_unreadable_state_file_is_a_clear_error(tmp_path, synthetic_dir, monkeypatch, capsys):
    from sweep.__main__ import main
    from sweep.search import _state as resume

    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    state = resume.state_path(uri, "tiny")
    state.parent.mkdir(parents=True)
    state.write_bytes(b"\x80\x04not a pickle of this version")
    args = [str(path), "--data-dir", str(synthetic_dir), "--tracking-uri", uri, "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err and "--fresh" in err and "Traceback" not in err


def test_predict_by_run_id_and_its_errors(tiny_sweep, synthetic_dir, tmp_path, capsys) -> None:
    """The selected run's id scores the test set with exactly its logged accuracy; a run
    without a model, a malformed MODEL, a missing images file, --labels alone and an
    unwritable output are each one paragraph and status 2."""
    from sweep.cli.predict import main as predict

    result, client = tiny_sweep
    uri = client.tracking_uri
    data = ["--tracking-uri", uri, "--data-dir", str(synthetic_dir)]
    out = tmp_path / "PRED.dat"
    assert predict([result.best.run_id, "--out", str(out), *data]) == 0
    logged = client.get_run(result.best.run_id).data.metrics[M.TEST_ACCURACY]
    assert f"accuracy {logged:.4f} on 10000 images" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 10_000

    other = next(t.run_id for t in result.trials if t.run_id != result.best.run_id)
    cases = {
        "logged no model": [other, "--out", str(tmp_path / "a.dat")],
        "neither models:/": ["best-model", "--out", str(tmp_path / "b.dat")],
        "no such file": [
            result.best.run_id, "--out", str(tmp_path / "c.dat"), "--images", "nowhere.idx"
        ],
        "cannot write": [result.best.run_id, "--out", str(tmp_path / "PRED.dat" / "d.dat")],
    }  # fmt: skip
    for words, args in cases.items():
        assert predict([*args, *data]) == 2, words
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and err.count("\n") == 1, err
    with pytest.raises(SystemExit) as exit_:
        predict([result.best.run_id, "--out", "e.dat", "--labels", "x.idx", *data])
    assert exit_.value.code == 2 and "--labels goes with --images" in capsys.readouterr().err
