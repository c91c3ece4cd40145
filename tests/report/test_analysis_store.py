"""The analysis on a store made by the real orchestrator: a 12-trial search of three
parameters and a 3-trial one that predicts it beats the first. What the report and the
parent runs show is checked against values computed here from the runs themselves, read
with MLflow's own client."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from optuna.distributions import CategoricalDistribution, FloatDistribution
from scipy import stats as scipy_stats

from conftest import loaded_in_chromium, tiny_sweep
from sweep import names as M
from sweep.config import load_experiment
from sweep.report import build_report
from sweep.search import RunOptions, run_sweep

pytestmark = pytest.mark.sweep  # sweeps in this process, into a temporary store

KNOBS = {
    "train.optimizer.lr": {"loguniform": [1.0e-4, 1.0e-3]},  # (below exp2_few's)
    "model.dropout": {"uniform": [0.0, 0.5]},
    "train.batch_size": {"choice": [50, 100]},
}
SWEEP = {"algo": "random", "seed": 3, "repeats": 2, "log_model": False}


@pytest.fixture(scope="module")
def store(tmp_path_factory, synthetic_dir) -> Path:
    folder = tmp_path_factory.mktemp("analysis")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    options = RunOptions(tracking_uri=uri, data_dir=str(synthetic_dir), show_progress=False)
    files = {
        "exp1_knobs": tiny_sweep(
            "exp1_knobs",
            hypothesis="The learning rate matters most.",
            search=KNOBS,
            sweep={**SWEEP, "max_evals": 12},
        ),
        "exp2_few": tiny_sweep(
            "exp2_few",
            hypothesis="Three trials of the learning rate beat twelve of three knobs.",
            expect={"better_than": "exp1_knobs"},
            sweep={**SWEEP, "max_evals": 3},
        ),
    }
    for name, text in files.items():
        path = folder / f"{name}.yaml"
        path.write_text(text)
        run_sweep(load_experiment(path), path, options)
    build_report(uri, folder / "reports")
    return folder


def client_of(store: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{store / 'mlflow.db'}")


def runs_of(store: Path, name: str) -> tuple[object, pd.DataFrame]:
    """The parent run of experiment ``name`` and its children as a plain table."""
    client = client_of(store)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parent = next(r for r in runs if r.data.tags.get(M.TAG_ROLE) == "sweep")
    rows = [
        {
            "config_id": r.data.tags[M.TAG_CONFIG],
            "status": r.info.status,
            "start_time": r.info.start_time,
            **{f"params.{k}": v for k, v in r.data.params.items()},
            **r.data.metrics,
        }
        for r in runs
        if r.data.tags.get(M.TAG_PARENT) == parent.info.run_id
    ]
    return parent, pd.DataFrame(rows).sort_values("start_time", ignore_index=True)


def selected(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of the configuration with the highest mean validation accuracy (of equal
    means, the first to run)."""
    finished = runs[runs["status"] == "FINISHED"]
    best = finished.groupby("config_id", sort=False)[M.MODEL_VAL_ACCURACY].mean().idxmax()
    return finished[finished["config_id"] == best]


def table(store: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(store / "reports" / name)


def test_each_parent_run_holds_its_analysis(store: Path) -> None:
    client = client_of(store)
    for name, expected in (
        ("exp1_knobs", {"importance.csv", "importance.png", "parallel.png", "interactions.png"}),
        ("exp2_few", {"importance.csv", "parallel.png"}),
    ):
        parent, _ = runs_of(store, name)
        found = {Path(a.path).name for a in client.list_artifacts(parent.info.run_id, "analysis")}
        assert found == expected | {"costs.csv", "costs.png"}, name
    parent, runs = runs_of(store, "exp2_few")
    path = client.download_artifacts(parent.info.run_id, "analysis/importance.csv", str(store))
    note = pd.read_csv(path)["note"].iloc[0]
    finished = runs[runs["status"] == "FINISHED"]
    n, configs = len(finished), finished["config_id"].nunique()
    assert note == (
        f"too few complete trials to say (n = {n} runs of {configs} configurations; "
        "at least 10 configurations)"
    )


def test_importance_is_fanova_over_the_runs_the_store_holds(store: Path) -> None:
    parent, runs = runs_of(store, "exp1_knobs")
    complete = runs[runs["status"] == "FINISHED"]
    assert len(complete) >= 10 and complete["config_id"].nunique() >= 10
    specs = {k: parent.data.params[k] for k in KNOBS}
    assert specs["train.optimizer.lr"].startswith("loguniform")
    dists = {
        "train.optimizer.lr": FloatDistribution(
            complete["params.train.optimizer.lr"].astype(float).min(),
            complete["params.train.optimizer.lr"].astype(float).max(),
            log=True,
        ),
        "model.dropout": FloatDistribution(
            complete["params.model.dropout"].astype(float).min(),
            complete["params.model.dropout"].astype(float).max(),
        ),
        "train.batch_size": CategoricalDistribution(["50", "100"]),
    }
    study = optuna.create_study(direction="maximize")
    for _, run in complete.iterrows():  # (in the order they ran)
        point = {
            "train.optimizer.lr": float(run["params.train.optimizer.lr"]),
            "model.dropout": float(run["params.model.dropout"]),
            "train.batch_size": run["params.train.batch_size"],
        }
        trial = optuna.trial.create_trial(
            params=point, distributions=dists, value=run[M.MODEL_VAL_ACCURACY]
        )
        study.add_trial(trial)
    expected = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
    )
    shown = table(store, "importance.csv")
    shown = shown[shown["sweep"].str.startswith("exp1_knobs")].set_index("param")
    assert set(shown.index) == {f"params.{k}" for k in KNOBS}
    for key, value in expected.items():
        assert shown.loc[f"params.{key}", "importance"] == pytest.approx(value)
        assert shown.loc[f"params.{key}", "n"] == len(complete)
    parent_table = client_of(store).download_artifacts(
        parent.info.run_id, "analysis/importance.csv", str(store)
    )
    on_parent = pd.read_csv(parent_table).set_index("param")
    assert on_parent["importance"].to_dict() == pytest.approx(shown["importance"].to_dict())
    few = table(store, "importance.csv")
    few = few[few["sweep"].str.startswith("exp2_few")]
    assert len(few) == 1 and few["note"].iloc[0].startswith("too few complete trials")
    page = (store / "reports" / "analysis.md").read_text()
    assert f"| {few['note'].iloc[0]} |" in page


def test_costs_and_pareto_fronts_are_the_runs_own(store: Path) -> None:
    costs = table(store, "costs.csv")
    everything = []
    for name in ("exp1_knobs", "exp2_few"):
        _, runs = runs_of(store, name)
        finished = runs[runs["status"] == "FINISHED"]
        shown = costs[costs["experiment"] == name].set_index("config_id")
        for cid, group in finished.groupby("config_id"):
            row = shown.loc[cid]
            assert row["parameters"] == group[M.NUM_PARAMETERS].mean()
            assert row["seconds_per_run"] == pytest.approx(group[M.TRAIN_SECONDS].mean())
            per_epoch = (group[M.TRAIN_SECONDS] / group[M.EPOCHS_RUN]).mean()
            assert row["seconds_per_epoch"] == pytest.approx(per_epoch)
            images = (group[M.EPOCHS_RUN] * 540 / group[M.TRAIN_SECONDS]).mean()
            assert row["images_per_second"] == pytest.approx(images)  # 600 less 10% validating
            assert row["val_mean"] == pytest.approx(group[M.MODEL_VAL_ACCURACY].mean())
            assert row["test_mean"] == pytest.approx(group[M.TEST_ACCURACY].mean())
            everything.append(
                (cid, name, row["parameters"], row["seconds_per_run"], row["val_mean"])
            )
    for column, at in (("front_parameters", 2), ("front_seconds", 3)):
        front = {
            (cid, name)
            for cid, name, *values in everything
            if not any(
                o[at] <= values[at - 2] and o[4] >= values[2]
                and (o[at] < values[at - 2] or o[4] > values[2])
                for o in everything
            )
        }  # fmt: skip
        on = costs[costs[column]]
        assert set(zip(on["config_id"], on["experiment"], strict=True)) == front


def test_the_finding_is_the_welch_test_of_the_selected_runs(store: Path) -> None:
    parent, few = runs_of(store, "exp2_few")
    _, knobs = runs_of(store, "exp1_knobs")
    a, b = selected(few)[M.TEST_ACCURACY], selected(knobs)[M.TEST_ACCURACY]
    assert len(a) == 2 and len(b) == 2  # repeats: 2 seeds of each selected configuration
    test = scipy_stats.ttest_ind(a, b, equal_var=False)
    findings = table(store, "findings.csv").set_index("prediction")
    row = findings.loc["test accuracy better than exp1_knobs"]
    assert row["hypothesis"] == parent.data.tags[M.TAG_NOTE]
    assert row["n"] == 2 and row["effect"] == pytest.approx(a.mean() - b.mean())
    assert row["p_value"] == pytest.approx(test.pvalue)
    assert row["p_holm"] == pytest.approx(test.pvalue)  # the one row tested
    ci = test.confidence_interval()
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))
    detected = test.pvalue < 0.05
    expected = (
        ("supported" if a.mean() > b.mean() else "contradicted")
        if detected
        else ("not detectable at this budget")
    )
    assert row["verdict"] == expected
    knobs_row = findings.loc["–"]
    assert knobs_row["verdict"] == "no prediction declared (expect: in its file)"


def test_efficiency_counts_every_configuration(store: Path) -> None:
    costs, efficiency = table(store, "costs.csv"), table(store, "efficiency.csv")
    assert efficiency["configurations"].sum() == len(costs)
    assert (efficiency["low"] == 0).all()  # tiny MLPs: all under the study's 300K
    assert efficiency["val_high"].max() == pytest.approx(costs["val_mean"].max())
    assert np.isclose(efficiency["minutes_low"].min(), costs["seconds_per_run"].min() / 60)


@pytest.mark.slow  # a browser
def test_the_page_shows_every_new_table_and_figure(
    store: Path, tmp_path: Path, chromium: str
) -> None:
    page = (store / "reports" / "analysis.html").read_text()
    for heading in ("Findings", "Which searched parameters matter", "What accuracy costs"):
        assert f"<h2>{heading}</h2>" in page
    for caption in (
        "Importance of the searched parameters: exp1_knobs",
        "Parallel coordinates: exp1_knobs",
        "Interaction of the two most important: exp1_knobs",
        "Parallel coordinates: exp2_few",
        "What accuracy costs: every configuration",
    ):
        assert f"<figcaption>{caption}" in page, caption
    assert "Importance of the searched parameters: exp2_few" not in page  # too few: none
    n_images = page.count("<img ")
    dom = loaded_in_chromium(chromium, page, tmp_path)
    assert f"<title>IMAGES {n_images}/{n_images}</title>" in dom, dom[:500]


def test_an_analysis_that_fails_is_a_warning_not_a_failed_sweep(
    tmp_path: Path, synthetic_dir: Path, monkeypatch
) -> None:
    from loguru import logger

    import sweep.record._sweep_run

    def fails(*args, **kwargs):
        raise RuntimeError("no forest today")

    monkeypatch.setattr(sweep.record._sweep_run, "log_sweep_analysis", fails)
    path = tmp_path / "exp1_fails.yaml"
    path.write_text(tiny_sweep("exp1_fails", sweep={"log_model": False}))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), format="{message}", level="WARNING")
    try:
        options = RunOptions(tracking_uri=uri, data_dir=str(synthetic_dir), show_progress=False)
        result = run_sweep(load_experiment(path), path, options)
    finally:
        logger.remove(sink)
    assert len(result.finished) == 2
    assert any("the sweep's analysis was not logged: RuntimeError: no forest today" in line
               for line in lines), lines  # fmt: skip
    parent = MlflowClient(uri).get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags[M.TAG_BEST_TRIAL]
