"""Configurations, seeds, repeats and the selection rule: the selected configuration is the
one with the highest mean validation accuracy, in the CLI summary, the parent run, the
report and runs.csv alike. The sweeps here are real (Hyperopt, MLflow) but their training
is replaced by outcomes whose accuracies the test chooses."""

from __future__ import annotations

import contextlib
import io
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from conftest import REPO, tiny_sweep
from sweep import names as M
from sweep.analysis import _selection as selection
from sweep.config import ConfigError, load_experiment
from sweep.search import _trial as trial_module
from sweep.train import Splits, TrialOutcome, build_model

pytestmark = pytest.mark.sweep  # sweeps in this process, into temporary stores

# dropout -> (validation accuracy, test accuracy): the validation-best (0.1) is not the
# test-best (0.2)
ACCURACY = {0.1: (0.90, 0.80), 0.2: (0.85, 0.95), 0.3: (0.80, 0.70)}


def selection_sweep(name: str, sweep: str) -> str:
    """A grid or search over three dropouts; ``sweep``: the whole sweep block, as YAML."""
    return tiny_sweep(
        name,
        replace=("search", "sweep"),
        model={"hidden": [8]},
        train={"seed": 100},
        search={"model.dropout": {"choice": [0.1, 0.2, 0.3]}},
        sweep=yaml.safe_load(sweep),
    )


def fake_outcome(trial, ctx, device=None, **hooks) -> TrialOutcome:
    """What training would return, with the accuracies of ACCURACY (a little noise by seed)."""
    on_epoch = hooks.get("on_epoch")
    val, test = ACCURACY[trial.model.dropout]
    noise = (trial.train.seed % 7) * 1e-4
    y = np.arange(100) % 10
    if on_epoch is not None:
        on_epoch(1, {M.VAL_ACCURACY: val + noise, M.VAL_LOSS: 0.3})
    return TrialOutcome(
        history=({M.VAL_ACCURACY: val + noise, M.VAL_LOSS: 0.3},),
        val_accuracy=val + noise,
        val_loss=0.3,
        best_val_accuracy=val + noise,
        test_accuracy=test + noise,
        test_loss=0.4,
        splits=Splits(*(np.zeros((100, 28, 28), np.uint8), y) * 3),
        data_source="synthetic",
        predictions=y,
        state_dict=build_model(trial.model).state_dict(),  # the best is logged as a model
        num_parameters=10,
        epochs_run=1,
        model_epoch=1,
        train_seconds=0.01,
        device="cpu",
        precision="fp32",
    )


@pytest.fixture(autouse=True)
def no_figures(monkeypatch) -> None:
    """The runs' figures and reports are not what these tests look at (test_sweep's are)."""
    from sweep.record import _trial_run

    monkeypatch.setattr(_trial_run, "log_evaluation", lambda *args, **kwargs: None)


@pytest.fixture
def fake_training(monkeypatch) -> None:
    monkeypatch.setattr(trial_module, "train_trial", fake_outcome)


def run_cli_here(*args: str, cwd: Path) -> tuple[int, str]:
    """``python -m sweep ARGS`` in this process (so that the fake training applies)."""
    from sweep.__main__ import main

    err = io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
        code = main(list(args))
    return code, err.getvalue()


def sweep_case(tmp_path: Path, data: Path, name: str, sweep: str) -> tuple:
    """An experiment file with this ``sweep:`` block, its config, a store and run options."""
    from sweep.search import RunOptions

    path = tmp_path / f"{name}.yaml"
    path.write_text(selection_sweep(name, sweep))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    options = RunOptions(tracking_uri=uri, data_dir=str(data), show_progress=False)
    return path, load_experiment(path), uri, options


def child_runs(uri: str, name: str) -> list:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id], f"tags.`{M.TAG_PARENT}` != ''")
    return sorted(runs, key=lambda r: int(r.data.tags[M.TAG_TRIAL]))


def test_grid_runs_each_combination_once_per_seed_and_selects_on_validation(
    tmp_path: Path, synthetic_dir: Path, fake_training
) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(selection_sweep("grid_case", "{algo: grid, repeats: 2}"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, out = run_cli_here(
        str(path), "--tracking-uri", uri, "--data-dir", str(synthetic_dir), "--no-progress",
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, out
    runs = child_runs(uri, "grid_case")
    dropouts = [float(r.data.params["model.dropout"]) for r in runs]
    assert Counter(dropouts) == {0.1: 2, 0.2: 2, 0.3: 2}  # every combination, once per seed
    assert dropouts[:3] == [0.1, 0.2, 0.3]  # the whole grid first, then again
    seeds = [int(r.data.params["train.seed"]) for r in runs]
    assert seeds == [101, 102, 103, 104, 105, 106]  # train.seed + trial number
    roles = [r.data.tags[M.TAG_ROLE] for r in runs]
    assert roles == ["trial"] * 3 + ["repeat"] * 3
    ids = {
        d: {r.data.tags[M.TAG_CONFIG] for r, x in zip(runs, dropouts, strict=True) if x == d}
        for d in ACCURACY
    }
    assert all(len(v) == 1 for v in ids.values()) and len(set.union(*ids.values())) == 3
    chosen = ids[0.1].pop()

    # the CLI summary and the parent run name the validation-best configuration
    assert f"config {chosen} | model.dropout=0.1 | 2 run(s)" in out
    assert "test_acc 0.80" in out and "(95% CI" in out
    parent = MlflowClient(uri).get_run(runs[0].data.tags[M.TAG_PARENT])
    assert parent.data.tags[M.TAG_BEST_CONFIG] == chosen
    assert parent.data.metrics[M.BEST_TEST_ACCURACY] == pytest.approx(0.80, abs=1e-3)
    assert parent.data.metrics[M.SELECTED_RUNS] == 2

    # so do the report and runs.csv (analyze_results.py's defaults)
    sys.path.insert(0, str(REPO))
    import analyze_results

    out_dir = tmp_path / "report"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert analyze_results.main(["--tracking-uri", uri, "--out", str(out_dir)]) == 0
    row = next(line for line in printed.getvalue().splitlines() if line.startswith("| grid_case"))
    assert f"{chosen}: model.dropout=0.1" in row
    table = pd.read_csv(out_dir / "runs.csv")
    assert set(table.loc[table["selected"], "params.model.dropout"]) == {0.1}
    assert table["selected"].sum() == 2
    assert table.columns[:11].tolist() == [
        "experiment", "parent_run_id", "run_id", "config_id", "seed", "role", "status",
        "val_accuracy", "test_accuracy", "epochs_run", "selected",
    ]  # fmt: skip
    assert sorted(table["seed"]) == seeds


def test_a_duplicate_proposal_is_a_repeat_with_its_own_seed(
    tmp_path: Path, synthetic_dir: Path, fake_training
) -> None:
    from sweep.search import run_sweep

    # 5 proposals over 3 values: at least two are duplicates
    sweep = "{algo: random, max_evals: 5, seed: 1}"
    path, config, uri, options = sweep_case(tmp_path, synthetic_dir, "dup_case", sweep)
    result = run_sweep(config, path, options)
    runs = child_runs(uri, "dup_case")
    assert len(runs) == len(result.trials) == 5
    seen: set[str] = set()
    for run in runs:
        cid = run.data.tags[M.TAG_CONFIG]
        assert run.data.tags[M.TAG_ROLE] == ("repeat" if cid in seen else "trial")
        seen.add(cid)
    assert len(seen) < 5  # there were duplicates, recorded as repeats
    by_config: dict[str, list[int]] = {}
    for run in runs:
        by_config.setdefault(run.data.tags[M.TAG_CONFIG], []).append(
            int(run.data.params["train.seed"])
        )
    assert all(len(set(s)) == len(s) for s in by_config.values())  # no seed twice
    assert [t.role for t in result.trials] == [r.data.tags[M.TAG_ROLE] for r in runs]


def test_repeats_train_the_best_configurations_until_each_has_n_runs(
    tmp_path: Path, synthetic_dir: Path, fake_training
) -> None:
    from sweep.search import run_sweep

    sweep = "{algo: random, max_evals: 3, seed: 3, repeats: 3, repeat_top: 2}"
    path, config, uri, options = sweep_case(tmp_path, synthetic_dir, "rep_case", sweep)
    result = run_sweep(config, path, options)
    runs = Counter(float(t.params["model.dropout"]) for t in result.trials)
    searched = Counter(float(t.params["model.dropout"]) for t in result.trials[:3])
    top = [d for d in (0.1, 0.2, 0.3) if d in searched][:2]  # the two best found
    assert all(runs[d] == 3 for d in top)
    assert sum(runs.values()) == 3 + sum(3 - searched[d] for d in top)
    assert [t.role for t in result.trials[3:]] == ["repeat"] * (len(result.trials) - 3)


def test_selection_rules() -> None:
    runs = [("a", 0.80), ("b", 0.90), ("a", 0.82), ("c", float("nan")), ("b", 0.70)]
    assert selection.rank(runs) == [("a", pytest.approx(0.81), 2), ("b", 0.80, 2)]
    assert selection.best(runs) == "a"  # highest mean, not the highest single run (b: 0.90)
    assert selection.best([("x", None)]) is None
    assert selection.roles(["a", "b", "a", "a"]) == ["trial", "trial", "repeat", "repeat"]
    counts = {"a": 2, "b": 2, "c": 1}
    assert selection.missing_runs(runs, counts, repeats=3, top=1) == ["a"]
    assert selection.missing_runs(runs, counts, repeats=3, top=5) == ["a", "b"]
    assert selection.config_id({"x": 1, "y": [0.1]}) == selection.config_id({"y": [0.1], "x": 1})
    assert selection.trial_seed(100, 3) == 103


def test_grid_needs_choice_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    text = tiny_sweep(
        "bad", sweep={"algo": "grid"}, search={"model.dropout": {"uniform": [0.1, 0.3]}}
    )
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"key 'sweep.algo'.*model.dropout is uniform"):
        load_experiment(path)


def test_a_sweep_cut_off_in_its_repeats_resumes_them(
    tmp_path: Path, synthetic_dir: Path, monkeypatch
) -> None:
    from sweep.search import run_sweep
    from sweep.signals import SweepInterrupted

    calls = []

    def cut_off_at_the_first_repeat(trial, *args, **kwargs):
        calls.append(trial.model.dropout)
        if len(calls) == 4:  # the search's 3 runs are done; the repeats begin
            raise SweepInterrupted("stopped in epoch 1")
        return fake_outcome(trial, *args, **kwargs)

    # the search's 3 runs, then the best configuration's repeats
    sweep = "{algo: random, max_evals: 3, seed: 5, repeats: 3}"
    path, config, uri, options = sweep_case(tmp_path, synthetic_dir, "cut_case", sweep)
    monkeypatch.setattr(trial_module, "train_trial", cut_off_at_the_first_repeat)
    with pytest.raises(SweepInterrupted):
        run_sweep(config, path, options)
    monkeypatch.setattr(trial_module, "train_trial", fake_outcome)
    result = run_sweep(config, path, options)  # resumes the same parent
    counts = Counter(float(t.params["model.dropout"]) for t in result.trials)
    best = max(counts, key=lambda d: ACCURACY[d][0])  # the validation-best one searched
    assert counts[best] == 3 and len(result.trials) == 3 + 3 - Counter(calls[:3])[best]
    assert [t.number for t in result.trials] == list(range(1, len(result.trials) + 1))
    runs = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name("cut_case").experiment_id],
        f"tags.`{M.TAG_PARENT}` = '{result.parent_run_id}'",
    )
    statuses = Counter(r.info.status for r in runs)
    assert statuses == {"FINISHED": len(result.trials), "KILLED": 1}


def test_a_finished_sweep_asked_for_more_trials_goes_on(
    tmp_path: Path, synthetic_dir: Path, fake_training
) -> None:
    """The same file with a larger --max-evals: the same parent, TPE seeing the earlier
    trials, numbered on; the search chart logged once per trial; --fresh starts anew."""
    from mlflow.tracking import MlflowClient

    path, _, uri, _ = sweep_case(tmp_path, synthetic_dir, "longer", "{algo: tpe, seed: 1}")
    args = [str(path), "--data-dir", str(synthetic_dir), "--no-progress"]
    assert run_cli_here(*args, "--max-evals", "2", cwd=tmp_path)[0] == 0
    code, err = run_cli_here(*args, "--max-evals", "4", cwd=tmp_path)
    assert code == 0 and "extending sweep" in err, err
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("longer").experiment_id])
    parents = [r for r in runs if M.TAG_PARENT not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags[M.TAG_EXTENDED_TO] == "4"
    kids = child_runs(uri, "longer")
    assert sorted(int(k.data.tags[M.TAG_TRIAL]) for k in kids) == [1, 2, 3, 4]
    history = client.get_metric_history(parents[0].info.run_id, "trial_val_accuracy")
    assert sorted(m.step for m in history) == [1, 2, 3, 4]
    # selected among all four runs; the alias on the model of that run
    best = max(kids, key=lambda k: k.data.metrics[M.VAL_ACCURACY])
    assert parents[0].data.tags[M.TAG_BEST_TRIAL] == best.info.run_id
    assert client.get_model_version_by_alias("longer", "best").run_id == best.info.run_id

    def n_parents() -> int:
        runs = client.search_runs([client.get_experiment_by_name("longer").experiment_id])
        return len([r for r in runs if M.TAG_PARENT not in r.data.tags])

    # no more trials asked for than were run: a new sweep, as before extending existed
    code, err = run_cli_here(*args, "--max-evals", "4", cwd=tmp_path)
    assert code == 0 and "extending" not in err and n_parents() == 2
    assert run_cli_here(*args, "--max-evals", "6", "--fresh", cwd=tmp_path)[0] == 0
    assert n_parents() == 3


def test_extending_counts_only_the_search_not_the_repeats(
    tmp_path: Path, synthetic_dir: Path, fake_training
) -> None:
    """A sweep of 2 trials whose best configuration was repeated (3 runs), asked for 3
    trials: one more trial of the search, in the same parent."""
    path, _, uri, _ = sweep_case(tmp_path, synthetic_dir, "more", "{algo: tpe, seed: 1}")
    args = [str(path), "--data-dir", str(synthetic_dir), "--no-progress"]
    assert run_cli_here(*args, "--max-evals", "2", "--repeats", "2", cwd=tmp_path)[0] == 0
    before = len(child_runs(uri, "more"))
    code, err = run_cli_here(*args, "--max-evals", "3", "--repeats", "2", cwd=tmp_path)
    assert code == 0 and "1 more trial(s) to search" in err, err
    runs = child_runs(uri, "more")
    assert len({r.data.tags[M.TAG_PARENT] for r in runs}) == 1
    searched = [r for r in runs if int(r.data.tags[M.TAG_TRIAL]) == before + 1]
    assert len(searched) == 1  # then the repeats the new trial may owe


def test_export_best_writes_the_selected_configuration_as_a_runnable_file(
    tmp_path: Path, synthetic_dir: Path, fake_training
) -> None:
    """The file export-best writes passes --dry-run, searches nothing, and its one trial
    trains the selected configuration with the selected run's own seed."""
    import yaml

    path, _, uri, _ = sweep_case(tmp_path, synthetic_dir, "export_case", "{algo: grid}")
    data = ("--tracking-uri", uri, "--data-dir", str(synthetic_dir), "--no-progress")
    code, out = run_cli_here(str(path), *data, cwd=tmp_path)
    assert code == 0, out
    best = next(
        r for r in child_runs(uri, "export_case") if r.data.params["model.dropout"] == "0.1"
    )

    code, out = run_cli_here(
        "export-best", str(path), "--out", "best.yaml", *data[:2], cwd=tmp_path
    )
    assert code == 0, out
    tree = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert tree["name"] == "export_case_best" and tree["search"] == {}
    assert tree["model"]["dropout"] == 0.1 and tree["data"]["subset"] == 600
    assert run_cli_here("best.yaml", "--dry-run", cwd=tmp_path)[0] == 0

    code, out = run_cli_here("best.yaml", *data, cwd=tmp_path)
    assert code == 0, out
    (again,) = child_runs(uri, "export_case_best")
    assert again.data.params["train.seed"] == best.data.params["train.seed"]
    assert again.data.metrics[M.VAL_ACCURACY] == best.data.metrics[M.VAL_ACCURACY]

    by_id = run_cli_here(
        "export-best",
        again.data.tags[M.TAG_PARENT],
        "--out",
        "again.yaml",
        *data[:2],
        cwd=tmp_path,
    )
    assert by_id[0] == 0, by_id[1]
    assert yaml.safe_load((tmp_path / "again.yaml").read_text())["model"]["dropout"] == 0.1
    missing = run_cli_here("export-best", "0" * 32, "--out", "x.yaml", *data[:2], cwd=tmp_path)
    assert missing[0] == 2 and "not found" in missing[1] and not (tmp_path / "x.yaml").exists()


def test_a_model_that_cannot_be_logged_is_a_warning_not_a_failed_sweep(
    tmp_path: Path, synthetic_dir: Path, fake_training, monkeypatch
) -> None:
    import sweep.record._sweep_run

    def fails(*args, **kwargs):
        raise RuntimeError("export failed")

    monkeypatch.setattr(sweep.record._sweep_run, "log_model", fails)
    path, _, uri, _ = sweep_case(tmp_path, synthetic_dir, "no_model", "{algo: grid}")
    code, out = run_cli_here(str(path), "--tracking-uri", uri, "--data-dir", str(synthetic_dir),
                             "--no-progress", cwd=tmp_path)  # fmt: skip
    assert code == 0, out
    assert "the selected model could not be logged: RuntimeError: export failed" in out
    assert "predict" not in out  # no model to predict with
    parent = MlflowClient(uri).get_run(child_runs(uri, "no_model")[0].data.tags[M.TAG_PARENT])
    best = MlflowClient(uri).get_run(parent.data.tags[M.TAG_BEST_TRIAL])
    assert best.data.tags[M.TAG_MODEL_ERROR] == "RuntimeError: export failed"
    assert parent.info.status == "FINISHED"
