"""Searches replayed against a table of learning curves (``sweep.search.replay``): a
table read from an export's files, seeded searches that replay the same, a budget that
ends them, pruning that never leads to a pruned configuration being selected, and repeats
that are never pruned, as in a sweep."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

from conftest import tiny_sweep
from sweep import names as M
from sweep.analysis import config_id
from sweep.search import Table, TableError, reached, replay, selected, selected_at

LRS = [1.0e-4, 1.0e-3, 1.0e-2, 1.0e-1]
DROPOUTS = [0.0, 0.5]
EPOCHS = 4


def final(lr: float, dropout: float, seed: int) -> float:
    """A made-up landscape: 1e-3 best, dropout costs a little, seeds shift by 0.002."""
    return {1e-4: 0.70, 1e-3: 0.90, 1e-2: 0.85, 1e-1: 0.40}[lr] - 0.02 * dropout + 0.002 * seed


def write_table(folder: Path, skip: tuple[float, float] | None = None) -> Table:
    """A table's experiment file and its export: every configuration, 3 seeds, curves
    rising to their final value (a slow learning rate rises late)."""
    search = {
        "train.optimizer.lr": {"choice": LRS},
        "model.dropout": {"choice": DROPOUTS},
    }
    experiment = folder / "table.yaml"
    experiment.write_text(
        tiny_sweep("table", search=search, train={"epochs": EPOCHS}, sweep={"algo": "grid"})
    )
    runs, epochs = [], []
    for lr, dropout in itertools.product(LRS, DROPOUTS):
        if (lr, dropout) == skip:
            continue
        cid = config_id({"train.optimizer.lr": lr, "model.dropout": dropout})
        for seed in range(3):
            run_id = f"{cid}-{seed}"
            end = final(lr, dropout, seed)
            late = 0.3 if lr == 1e-4 else 0.1
            for step in range(1, EPOCHS + 1):
                value = end - late * (EPOCHS - step) / EPOCHS
                epochs.append(
                    {"run_id": run_id, "key": M.VAL_ACCURACY, "step": step, "value": value}
                )
                epochs.append({"run_id": run_id, "key": "train_loss", "step": step, "value": 1.0})
            runs.append(
                {
                    "run_id": run_id,
                    "config_id": cid,
                    "status": "FINISHED",
                    "params.train.optimizer.lr": lr,
                    "params.model.dropout": dropout,
                    M.TRAIN_SECONDS: (20.0 if seed == 0 else 2.0) * EPOCHS,  # (0: busy)
                    M.TEST_ACCURACY: end - 0.01,
                }
            )
    runs.append({"run_id": "failed", "config_id": "x", "status": "FAILED"})  # left out
    export = folder / "export"
    export.mkdir()
    pd.DataFrame(runs).to_csv(export / "runs.csv", index=False)
    pd.DataFrame(epochs).to_csv(export / "epochs.csv", index=False)
    return Table.load(experiment, export)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Table:
    return write_table(tmp_path_factory.mktemp("table"))


def test_the_table_holds_every_configuration_and_its_seeds(table: Table) -> None:
    assert len(table.runs) == 8 and all(len(r) == 3 for r in table.runs.values())
    best = config_id({"train.optimizer.lr": 1e-3, "model.dropout": 0.0})
    assert table.best_val == pytest.approx(table.mean_val(best)) == pytest.approx(0.902)
    assert table.mean_test(best) == pytest.approx(0.892)
    assert table.params[best] == {"train.optimizer.lr": 1e-3, "model.dropout": 0.0}
    assert {r.epoch_seconds for r in table.runs[best]} == {2.0}  # (the median: a busy run)


@pytest.mark.parametrize(
    "algo, pruner", [("tpe", "asha"), ("random", "median"), ("anneal", "none")]
)
def test_a_seeded_search_replays_the_same_and_ends_at_its_budget(table, algo, pruner) -> None:
    first = replay(table, algo, pruner, seed=5, budget_epochs=40)
    assert first == replay(table, algo, pruner, seed=5, budget_epochs=40)
    spent = [t.epochs for t in first]
    assert sum(spent) >= 40 > sum(spent[:-1])  # it stops at the trial that spends the budget
    others = [replay(table, algo, pruner, seed=s, budget_epochs=40) for s in range(6, 9)]
    assert any(o != first for o in others)  # (the seed matters)


@pytest.mark.parametrize("algo, pruner", itertools.product(["tpe", "random"], ["median", "asha"]))
def test_pruning_never_selects_a_pruned_configuration(table, algo, pruner) -> None:
    pruned_any = False
    for seed in range(5):
        trials = replay(table, algo, pruner, seed=seed, budget_epochs=60)
        pruned_any |= any(t.pruned for t in trials)
        complete = {t.config_id for t in trials if not t.pruned}
        for budget in range(1, 61):
            choice = selected_at(trials, budget)
            assert choice is None or choice in complete
        assert selected(trials) in complete
        for k, t in enumerate(trials):  # a configuration run before is a repeat: never pruned
            if t.config_id in {o.config_id for o in trials[:k]}:
                assert not t.pruned and t.epochs == EPOCHS
        assert all(t.epochs < EPOCHS for t in trials if t.pruned)
    assert pruned_any  # (the rules had something to prune)


def test_the_search_reaches_the_best_when_its_selection_does(table) -> None:
    trials = replay(table, "random", "none", seed=1, budget_epochs=80)
    got = reached(trials, table, within=0.002)
    assert got is not None
    best_val = table.best_val
    chosen = [selected(trials[:k]) for k in range(1, len(trials) + 1)]
    first = next(k for k, c in enumerate(chosen, 1) if table.mean_val(c) >= best_val - 0.002)
    assert got.trials == first and got.epochs == sum(t.epochs for t in trials[:first])
    assert got.seconds == pytest.approx(2.0 * got.epochs)
    assert reached(trials[: first - 1], table, within=0.002) is None


def test_a_table_that_does_not_cover_the_space_is_refused(tmp_path: Path) -> None:
    holed = write_table(tmp_path, skip=(1e-3, 0.0))
    with pytest.raises(TableError, match="no run of"):
        for seed in range(10):
            replay(holed, "random", "none", seed=seed, budget_epochs=200)
    with pytest.raises(TableError, match="no table"):
        Table.load(tmp_path / "table.yaml", tmp_path / "nowhere")


def test_tpe_is_a_random_search_for_its_startup_trials(table) -> None:
    """Hyperopt's TPE draws its first ``n_startup_jobs`` trials at random (20 by default):
    ``sweep.tpe_startup`` sets how many."""

    def ids(algo: str, seed: int, **keys: int) -> list[str]:
        return [t.config_id for t in replay(table, algo, "none", seed, 48, **keys)]

    randoms = [ids("random", seed) for seed in range(4)]
    tpes = [ids("tpe", seed) for seed in range(4)]
    early = [ids("tpe", seed, tpe_startup=2) for seed in range(4)]
    assert tpes == randoms  # 12 trials, fewer than 20: the same draws
    assert early != randoms  # modelled from the third trial on
    assert all(e[:2] == r[:2] for e, r in zip(early, randoms, strict=True))


def test_the_committed_table_covers_its_whole_space() -> None:
    """benchmarks/tables/search_table: every configuration of its file's space, 3 runs of
    every epoch each, replayable as benchmarks/search_efficiency.py does."""
    tables = Path(__file__).parents[2] / "benchmarks" / "tables"
    table = Table.load(tables / "search_table.yaml", tables / "search_table")
    assert len(table.runs) == table.config.grid_size() == 54
    assert all(len(runs) == 3 for runs in table.runs.values())
    assert all(len(r.val) == table.epochs == 8 for runs in table.runs.values() for r in runs)
    trials = replay(table, "tpe", "asha", seed=0, budget_epochs=48)
    assert selected(trials) in table.runs and any(t.pruned for t in trials)
