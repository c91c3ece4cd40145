"""The analysis of a sweep on tables made by hand: fANOVA importance (and when it says
nothing), Pareto fronts, costs, the study's efficiency bands, the findings' verdicts, the
figures, and the `expect:` block that the findings read."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from sweep import names as M
from sweep.analysis import _costs, _fanova, _findings
from sweep.analysis import _figures as plots
from sweep.analysis import _stats as stats
from sweep.config import ConfigError, ExperimentConfig, SweepIdentity, validate


def runs_table(n: int, seed: int = 0, effect: float = 0.1) -> pd.DataFrame:
    """``n`` finished runs of a 3-parameter search whose validation accuracy depends on the
    learning rate alone (plus a little noise)."""
    rng = np.random.default_rng(seed)
    lr = 10 ** rng.uniform(-4, -2, n)
    rows = pd.DataFrame(
        {
            "unit": "exp1/p",
            "experiment": "exp1",
            "sweep": "exp1",
            "parent_run_id": "p",
            "run_id": [f"r{i}" for i in range(n)],
            "config_id": [f"c{i}" for i in range(n)],
            "status": "FINISHED",
            "start_time": pd.date_range("2026-12-01", periods=n, freq="min"),
            "params.train.optimizer.lr": [str(v) for v in lr],
            "params.model.dropout": [str(v) for v in rng.uniform(0, 0.5, n)],
            "params.train.batch_size": [str(v) for v in rng.choice([64, 256], n)],
            "params.train.epochs": "2",
            "params.data.subset": "1000",
            "params.data.val_fraction": "0.1",
            "params.resolved.device": "cpu",
        }
    )
    rows[M.VAL_ACCURACY] = 0.8 + effect * (np.log10(lr) + 4) / 2 + rng.normal(0, 0.002, n)
    rows[M.TEST_ACCURACY] = rows[M.VAL_ACCURACY] - 0.01
    return rows


SPECS = {
    "params.train.optimizer.lr": "loguniform[0.0001, 0.01]",
    "params.model.dropout": "uniform[0.0, 0.5]",
    "params.train.batch_size": "choice[64, 256]",
}
PARAMS = list(SPECS)


def test_importance_names_the_parameter_the_objective_depends_on() -> None:
    found = _fanova.importance(runs_table(20), PARAMS, SPECS)
    assert found.reason is None and found.n == 20 and found.configurations == 20
    table = found.table.set_index("param")
    assert table["importance"].sum() == pytest.approx(1.0)
    assert table["importance"].idxmax() == "params.train.optimizer.lr"
    assert table.loc["params.train.optimizer.lr", "importance"] > 0.8
    assert table.loc["params.train.batch_size", "values"] == 2


def test_a_searched_list_is_a_category() -> None:
    runs = runs_table(12)
    widths = ["[48, 96]", "[64, 128]", "[96, 192]"]
    runs["params.model.widths"] = [widths[i % 3] for i in range(12)]
    runs[M.VAL_ACCURACY] += [0.05 * (i % 3) for i in range(12)]
    specs = {**SPECS, "params.model.widths": "choice[[48, 96], [64, 128], [96, 192]]"}
    found = _fanova.importance(runs, [*PARAMS, "params.model.widths"], specs)
    assert found.table.set_index("param").loc["params.model.widths", "values"] == 3
    fig = plots.interaction_heatmap(
        runs, "params.model.widths", "params.train.optimizer.lr", M.VAL_ACCURACY, "t"
    )
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == widths


def test_importance_is_the_same_from_the_same_runs() -> None:
    a = _fanova.importance(runs_table(12), PARAMS, SPECS).table
    b = _fanova.importance(runs_table(12), PARAMS, SPECS).table
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    "case, reason",
    [
        ("too_few", "too few complete trials to say (n = 9 runs of 9 configurations; at least 10"),
        ("pruned", "too few complete trials to say (n = 8 runs of 8 configurations; at least 10"),
        ("repeats", "too few complete trials to say (n = 12 runs of 4 configurations; at least"),
        ("flat", "val_accuracy is the same in every run"),
        ("one_value", "no searched parameter took two values"),
    ],
)
def test_importance_says_why_it_says_nothing(case: str, reason: str) -> None:
    runs = runs_table(9 if case == "too_few" else 12)
    if case == "pruned":  # a pruned run's figure is from fewer epochs: never counted
        runs.loc[:3, "status"] = "PRUNED"
    if case == "flat":
        runs[M.VAL_ACCURACY] = 0.9
    if case == "one_value":
        runs[PARAMS] = "1"
    if case == "repeats":  # 4 configurations, 3 seeds each: 4 points of the space
        runs[PARAMS + ["config_id"]] = runs[PARAMS + ["config_id"]].iloc[[0, 1, 2, 3] * 3].values
    found = _fanova.importance(runs, PARAMS, SPECS)
    assert found.reason.startswith(reason) and found.table.empty


def test_pareto_front_keeps_what_nothing_beats_at_its_cost() -> None:
    cost = pd.Series([1.0, 2.0, 3.0, 3.0, 4.0, np.nan])
    value = pd.Series([0.80, 0.79, 0.85, 0.84, 0.85, 0.99])
    front = _costs.pareto_front(cost, value)
    # 2.0 costs more than 1.0 and scores less; 3.0 at 0.84 is beaten at its cost; 4.0
    # scores no more than 3.0 for more; NaN is never on it
    assert list(front) == [True, False, True, False, False, False]


def costed(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs.copy()
    runs["selected"] = False
    runs[M.NUM_PARAMETERS] = [1000.0 * (1 + i % 3) for i in range(len(runs))]
    runs[M.TRAIN_SECONDS] = [10.0 + i for i in range(len(runs))]
    runs[M.EPOCHS_RUN] = 2.0
    return runs


def test_costs_per_configuration_and_their_fronts() -> None:
    runs = costed(runs_table(6))
    table = _costs.costs(runs).set_index("config_id")
    for _, run in runs.iterrows():
        row = table.loc[run["config_id"]]
        assert row["parameters"] == run[M.NUM_PARAMETERS]
        assert row["seconds_per_run"] == run[M.TRAIN_SECONDS]
        assert row["seconds_per_epoch"] == run[M.TRAIN_SECONDS] / 2
        assert row["images_per_second"] == pytest.approx(2 * 900 / run[M.TRAIN_SECONDS])
        assert row["val_mean"] == pytest.approx(run[M.VAL_ACCURACY])
    for flag, cost in (("front_parameters", M.NUM_PARAMETERS), ("front_seconds", M.TRAIN_SECONDS)):
        expected = {
            r["config_id"]
            for _, r in runs.iterrows()
            if not any(
                (o[cost] <= r[cost] and o[M.VAL_ACCURACY] >= r[M.VAL_ACCURACY])
                and (o[cost] < r[cost] or o[M.VAL_ACCURACY] > r[M.VAL_ACCURACY])
                for _, o in runs.iterrows()
            )
        }
        assert set(table.index[table[flag]]) == expected


def test_efficiency_bands_beside_the_published_ones() -> None:
    runs = costed(runs_table(4))
    runs[M.NUM_PARAMETERS] = [250_000.0, 500_000.0, 700_000.0, 2_000_000.0]
    table = _costs.efficiency(_costs.costs(runs))
    bands = {(r["low"], r["high"]): r for _, r in table.iterrows()}
    middle = bands[(300_000, 800_000)]
    assert middle["configurations"] == 2 and middle["published_accuracy"] == "93–94%"
    assert middle["val_low"] == pytest.approx(runs[M.VAL_ACCURACY].iloc[1:3].min())
    assert bands[(1_200_000, 4_100_000)]["published_minutes"] == "5–8 min"
    assert bands[(0, 300_000)]["published_accuracy"] == "–"


# ----------------------------------------------------------------------------- findings
def unit_runs(unit: str, experiment: str, values: list[float], epochs: str = "2") -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "unit": unit,
            "experiment": experiment,
            "parent_run_id": f"{unit}-parent",
            "config_id": "c",
            "selected": True,
            "status": "FINISHED",
            "start_time": pd.Timestamp("2026-12-01"),
            "params.train.epochs": epochs,
            "params.data.subset": "1000",
            M.TEST_ACCURACY: values,
            M.VAL_ACCURACY: values,
        },
        index=range(n),
    )


def judged(units: list[tuple[str, list[float], dict | None, str]], file_budget=None):
    """Findings of units (experiment name, test accuracies, expect:, budget)."""
    frame = pd.concat(
        [unit_runs(f"{name}/u", name, values) for name, values, _, _ in units], ignore_index=True
    )
    summary = pd.DataFrame(
        {
            "unit": [f"{name}/u" for name, *_ in units],
            "experiment": [name for name, *_ in units],
            "label": [f"{name} [{budget}]" for name, *_, budget in units],
            "budget": [budget for *_, budget in units],
        }
    )
    sweeps = pd.DataFrame(
        {
            "parent_run_id": [f"{name}/u-parent" for name, *_ in units],
            "hypothesis": [f"{name} says so" for name, *_ in units],
            "expect": [expect for _, _, expect, _ in units],
            "file_budget": [file_budget] * len(units),
        }
    )
    return frame, _findings.findings(frame, summary, sweeps).set_index("unit")


BASE = [0.80, 0.81, 0.79]
HIGHER = [0.90, 0.91, 0.89]
LOWER = [0.70, 0.71, 0.69]
SAME = [0.80, 0.82, 0.79]


@pytest.mark.parametrize(
    "expect, values, verdict",
    [
        ({"better_than": "exp1"}, HIGHER, "supported"),
        ({"worse_than": "exp1"}, HIGHER, "contradicted"),
        ({"no_better_than": "exp1"}, HIGHER, "contradicted"),
        ({"no_worse_than": "exp1"}, HIGHER, "supported"),
        ({"no_better_than": "exp1"}, LOWER, "supported"),
        ({"no_better_than": "exp1"}, SAME, "not detectable at this budget"),
        ({"no_worse_than": "exp1"}, LOWER, "contradicted"),
        ({"worse_than": "exp1"}, LOWER, "supported"),
        ({"better_than": "exp1"}, BASE, "not detectable at this budget"),  # the same runs
        ({"better_than": "exp1"}, SAME, "not detectable at this budget"),
        ({"better_than": "exp9"}, HIGHER, "exp9 is not in this report"),
        (None, HIGHER, "no prediction declared (expect: in its file)"),
        ({"at_least": 0.85}, HIGHER, "supported"),
        ({"at_least": 0.95}, HIGHER, "contradicted"),
        ({"at_least": 0.90}, HIGHER, "not detectable at this budget"),
        ({"between": [0.85, 0.95]}, HIGHER, "supported"),
        ({"between": [0.88, 0.92]}, HIGHER, "not detectable at this budget"),
        ({"between": [0.70, 0.75]}, HIGHER, "contradicted"),
    ],
)
def test_a_prediction_gets_its_verdict(expect, values, verdict) -> None:
    frame, found = judged([("exp1", BASE, None, "2 ep"), ("exp2", values, expect, "2 ep")])
    row = found.loc["exp2/u"]
    assert row["verdict"] == verdict
    assert row["hypothesis"] == "exp2 says so" and row["n"] == 3
    if expect and "better_than" in str(expect) and verdict != "exp9 is not in this report":
        test = scipy_stats.ttest_ind(values, BASE, equal_var=False)
        assert row["effect"] == pytest.approx(np.mean(values) - np.mean(BASE))
        assert row["p_value"] == pytest.approx(test.pvalue)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(test.confidence_interval()))
    if expect and ("at_least" in expect or "between" in expect):
        s = stats.describe(pd.Series(values))
        assert (row["effect"], row["ci_low"], row["ci_high"]) == pytest.approx(
            (s.mean, s.ci_low, s.ci_high)
        )


def test_holm_corrects_across_the_findings() -> None:
    units = [("exp1", BASE, None, "2 ep")]
    units += [(f"exp{i}", v, {"better_than": "exp1"}, "2 ep") for i, v in ((2, HIGHER), (3, SAME))]
    _, found = judged(units)
    p = [scipy_stats.ttest_ind(v, BASE, equal_var=False).pvalue for v in (HIGHER, SAME)]
    _, adjusted, *_ = multipletests(p, 0.05, method="holm")
    assert list(found.loc[["exp2/u", "exp3/u"], "p_holm"]) == pytest.approx(list(adjusted))
    assert math.isnan(found.loc["exp1/u", "p_holm"])


def test_no_verdict_where_budgets_differ() -> None:
    _, found = judged(
        [("exp1", BASE, None, "2 ep"), ("exp2", HIGHER, {"better_than": "exp1"}, "4 ep")]
    )
    assert found.loc["exp2/u", "verdict"] == "budgets differ"
    assert found.loc["exp2/u", "effect"] == pytest.approx(0.1)
    _, found = judged(
        [("exp2", HIGHER, {"at_least": 0.85}, "2 ep")], file_budget={"epochs": 5, "subset": None}
    )
    assert found.loc["exp2/u", "verdict"] == "budgets differ (the file's: 5 ep, all images)"
    _, found = judged(
        [("exp2", HIGHER, {"at_least": 0.85}, "2 ep")], file_budget={"epochs": 2, "subset": 1000}
    )
    assert found.loc["exp2/u", "verdict"] == "supported"


def test_epochs_may_differ_where_the_files_set_them_differently() -> None:
    """exp6 (25 epochs) against exp1 (5), both cut to fewer: the epochs are the idea."""
    frame = pd.concat(
        [unit_runs("exp1/u", "exp1", BASE, "2"), unit_runs("exp6/u", "exp6", HIGHER, "4")],
        ignore_index=True,
    )
    summary = pd.DataFrame(
        {
            "unit": ["exp1/u", "exp6/u"],
            "experiment": ["exp1", "exp6"],
            "label": ["exp1 [2 ep]", "exp6 [4 ep]"],
            "budget": ["2 ep, 1000 img, cpu", "4 ep, 1000 img, cpu"],
        }
    )

    def verdict(files: tuple[int, int], budgets: tuple[str, str] | None = None) -> str:
        sweeps = pd.DataFrame(
            {
                "parent_run_id": ["exp1/u-parent", "exp6/u-parent"],
                "hypothesis": ["", "more epochs help"],
                "expect": [None, {"better_than": "exp1"}],
                "file_budget": [
                    {"epochs": files[0], "subset": None},
                    {"epochs": files[1], "subset": None},
                ],
            }
        )
        table = summary if budgets is None else summary.assign(budget=list(budgets))
        return _findings.findings(frame, table, sweeps).set_index("unit").loc["exp6/u", "verdict"]

    assert verdict((5, 25)) == "supported"
    assert verdict((5, 5)) == "budgets differ"  # the same file epochs: the cut is not the idea
    assert verdict((25, 5)) == "budgets differ"  # the cut turned the idea around
    same = ("4 ep, 1000 img, cpu", "4 ep, 1000 img, cpu")
    assert verdict((5, 25), same) == "budgets differ"  # the cut took the idea away
    assert verdict((25, 25), same) == "supported"
    other = ("2 ep, 1000 img, cpu", "4 ep, 2000 img, cpu")
    assert verdict((5, 25), other) == "budgets differ"  # and never other images


def test_one_run_is_not_enough_for_a_verdict() -> None:
    _, found = judged(
        [("exp1", BASE, None, "2 ep"), ("exp2", [0.9], {"better_than": "exp1"}, "2 ep")]
    )
    assert found.loc["exp2/u", "verdict"] == "not enough runs (n < 2)"


def test_prediction_in_words() -> None:
    assert _findings.prediction_text({"worse_than": "exp1_b"}) == "test accuracy worse than exp1_b"
    assert _findings.prediction_text({"at_least": 0.945}) == "test accuracy at least 94.50%"
    text = _findings.prediction_text({"between": [0.89, 0.9], "metric": "val_accuracy"})
    assert text == "val accuracy between 89.00% and 90.00%"
    assert _findings.prediction_text(None) == "–"


# ----------------------------------------------------------------------------- expect:
def config(**expect) -> ExperimentConfig:
    return validate({"name": "e", "expect": expect}, "e.yaml")


def test_expect_takes_one_prediction() -> None:
    assert config(worse_than="exp1").expect.baseline == "exp1"
    assert config(at_least=0.9).expect.rule == "at_least"
    assert config(between=[0.89, 0.9]).expect.baseline is None


@pytest.mark.parametrize(
    "expect, words",
    [
        ({}, "give exactly one of"),
        ({"at_least": 0.9, "worse_than": "exp1"}, "got worse_than, at_least"),
        ({"between": [0.9, 0.8]}, "the low figure comes first"),
        ({"at_least": 94.5}, "key 'expect.at_least'"),
        ({"better": "exp1"}, "unknown key"),
        ({"at_least": 0.9, "metric": "loss"}, "key 'expect.metric'"),
    ],
)
def test_a_wrong_expect_is_refused_by_name(expect: dict, words: str) -> None:
    with pytest.raises(ConfigError, match="e.yaml") as caught:
        config(**expect)
    assert words in str(caught.value)


def test_expect_is_not_part_of_what_a_sweep_is() -> None:
    plain = validate({"name": "e"}, "e.yaml")
    assert SweepIdentity.of(config(at_least=0.9)) == SweepIdentity.of(plain)
    assert "expect.at_least" not in config(at_least=0.9).fixed_params()


# ----------------------------------------------------------------------------- figures
def test_parallel_coordinates_draws_every_run_and_dashes_the_pruned() -> None:
    runs = runs_table(8)
    runs.loc[:1, "status"] = "PRUNED"
    fig = plots.parallel_coordinates(
        runs, PARAMS, M.VAL_ACCURACY, "t", ["params.train.optimizer.lr"]
    )
    lines = [ln for ln in fig.axes[0].lines if len(ln.get_xdata()) == len(PARAMS) + 1]
    assert len(lines) == 8
    assert sum(ln.get_linestyle() == "--" for ln in lines) == 2
    assert "(2 pruned: dashed)" in fig.axes[0].get_title()


def test_heat_map_cells_hold_the_mean_of_their_runs() -> None:
    runs = runs_table(12)
    fig = plots.interaction_heatmap(
        runs, "params.train.batch_size", "params.train.optimizer.lr", M.VAL_ACCURACY, "t"
    )
    cells = [t.get_text().split("\n") for t in fig.axes[0].texts if "n=" in t.get_text()]
    counts = [int(n.removeprefix("(n=").rstrip(")")) for _, n in cells]
    means = [float(m.rstrip("%")) / 100 for m, _ in cells]
    assert sum(counts) == 12  # every run in one cell (two batch sizes x four quartiles)
    assert len(cells) <= 8
    weighted = sum(m * n for m, n in zip(means, counts, strict=True)) / 12
    assert weighted == pytest.approx(runs[M.VAL_ACCURACY].mean(), abs=5e-5)


def test_importance_bars_and_cost_figure_draw() -> None:
    found = _fanova.importance(runs_table(12), PARAMS, SPECS)
    fig = plots.importance_bars(found.table, "t")
    assert len(fig.axes[0].patches) == 3
    costs = _costs.costs(costed(runs_table(6)))
    fig = plots.cost_figure(costs, "t")
    assert [ax.get_xscale() for ax in fig.axes[:2]] == ["log", "log"]


def test_each_row_says_where_its_runs_trained_and_in_what_precision() -> None:
    def runs(**columns: list) -> pd.DataFrame:
        return pd.DataFrame({f"params.resolved.{k}": v for k, v in columns.items()})

    zen3 = runs(
        device=["cpu"] * 2, cpu=["AMD EPYC"] * 2, cpu_bf16=[False] * 2, precision=["fp32"] * 2
    )
    assert stats.machine(zen3) == "AMD EPYC (no native bf16), fp32"
    zen4 = runs(device=["cpu"], cpu=["AMD EPYC 9B14"], cpu_bf16=["True"], precision=["bf16"])
    assert stats.machine(zen4) == "AMD EPYC 9B14 (native bf16), bf16"
    assert stats.machine(runs(device=["cpu"], precision=["fp32"])) == "CPU ?, fp32"  # (older)
    assert stats.machine(runs(device=["cuda", "cuda"], precision=["bf16", "fp32"])) == (
        "cuda, bf16/fp32"
    )
    assert stats.machine(pd.DataFrame({"run_id": ["a"]})) == "?, ?"


def test_a_time_budget_that_differs_between_chunks_of_a_sweep_is_no_searched_setting() -> None:
    from sweep.analysis import _stats

    unit = pd.DataFrame(
        {
            "experiment": ["e"] * 3,
            "params.model.filters": ["64", "128", "64"],
            "params.train.seed": ["1", "2", "3"],
            "params.sweep.time_budget": ["600.0", "600.0", "1999.0"],  # a resumed chunk
        }
    )
    assert _stats.varying_params(unit) == ["params.model.filters"]
    assert _stats.searched_params(unit) == ["params.model.filters"]


def test_a_rows_budget_says_how_it_stands_to_its_files_in_the_summary_table(tmp_path) -> None:
    """Cut from its file's: the file's beside it; at the file's own: says so; unknown:
    nothing."""
    from sweep.report._render import summary_table

    frame = pd.concat([unit_runs("cut/u", "cut", BASE), unit_runs("own/u", "own", BASE)])
    summary = pd.DataFrame({"unit": ["cut/u", "own/u", "unknown/u"]})
    sweeps = pd.DataFrame(
        {
            "parent_run_id": ["cut/u-parent", "own/u-parent"],
            "file_budget": [{"epochs": 5, "subset": None}, {"epochs": 2, "subset": 1000}],
        }
    )
    notes = _findings.budget_notes(frame, summary, sweeps)
    assert notes == ["the file's: 5 ep, all images", "the file's own", ""]  # (no parent known)
    from sweep.report._exports import read_runs

    frame.to_csv(tmp_path / "runs.csv", index=False)  # (an export, read back as text)
    read_back = read_runs(tmp_path / "runs.csv").astype({"start_time": "datetime64[ns]"})
    assert _findings.budget_notes(read_back, summary, sweeps) == notes
    row = {"sweep": "cut", "budget": "2 ep, 1000 img, cpu", "machine": "m", "runs": 3}
    row |= {"failed": 0, "configurations": 1, "selected_config": None, "n": 0}
    row |= {"val_n": 0, "test_n": 0, "train_hours": 0.0}
    table = summary_table(pd.DataFrame([row | {"budget_note": note} for note in notes]))
    assert [r[1] for r in table.rows] == [
        "2 ep, 1000 img, cpu (the file's: 5 ep, all images)",
        "2 ep, 1000 img, cpu (the file's own)",
        "2 ep, 1000 img, cpu",
    ]
