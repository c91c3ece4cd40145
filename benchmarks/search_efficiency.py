"""Samplers and pruners replayed against a table of real learning curves: every
combination of algo (tpe, random, anneal) and pruner (none, median, asha), each search
seeded 20+ ways, all answered from the committed table (benchmarks/tables/: every
configuration of a space trained once, 3 seeds, every epoch's validation accuracy) with the
sweep's own samplers, pruning check and selection rule (``sweep.search.replay``).

    uv run python benchmarks/search_efficiency.py                  # the committed table
    uv run python benchmarks/search_efficiency.py --seeds 50 --budget 320 --within 0.002

TPE draws its first ``sweep.tpe_startup`` trials at random (Hyperopt's 20 by default), so
rows ``tpe/N`` replay it with N. Prints, per combination: the epochs and seconds a search
needs until the configuration it selects is within ``--within`` of the best
configuration's mean validation accuracy (median and interquartile range over the searches
that get there) and how many never get there in ``--budget`` epochs; then the held-out
test accuracy (mean over the table's seeds) of what each selects at equal budgets of
epochs. Results go in BENCHMARKS.md with the command.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sweep.search import Table, reached, replay, selected_at  # noqa: E402

HERE = Path(__file__).resolve().parent
PRUNERS = ("none", "median", "asha")


def algos(startups: list[int]) -> dict[str, tuple[str, dict]]:
    """Each searcher by its row name: Hyperopt's three at their defaults (TPE's first 20
    trials at random), and TPE with each of ``startups`` random trials first."""
    rows = {"tpe": ("tpe", {})}
    rows |= {f"tpe/{n}": ("tpe", {"tpe_startup": n}) for n in startups}
    return rows | {"random": ("random", {}), "anneal": ("anneal", {})}


def quartiles(values: list[float]) -> str:
    """'median [q1-q3]', or '–' where there are none."""
    if not values:
        return "–"
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return f"{q2:.0f} [{q1:.0f}-{q3:.0f}]"


def describe(table: Table, within: float) -> str:
    ranked = sorted(table.runs, key=table.mean_val, reverse=True)
    near = sum(table.mean_val(c) >= table.best_val - within for c in ranked)
    sizes = sorted({len(r) for r in table.runs.values()})
    seconds = np.mean([r.epoch_seconds for runs in table.runs.values() for r in runs])
    return (
        f"table: {len(table.runs)} configurations x {'/'.join(map(str, sizes))} runs, "
        f"{table.epochs} epochs each, {seconds:.1f} s per epoch on average; the best "
        f"configuration ({ranked[0]}) has mean val {100 * table.best_val:.2f}% and mean test "
        f"{100 * table.mean_test(ranked[0]):.2f}%; {near} configuration(s) within "
        f"{100 * within:.1f} points of it"
    )


def combination(
    table: Table, algo: tuple[str, dict], pruner: str, seeds: int, budget: int, within: float
) -> dict:
    """Every seeded search of one combination: when each got within reach, what it
    selected at a quarter, half and all of the budget."""
    checkpoints = (budget // 4, budget // 2, budget)
    out: dict = {"epochs": [], "seconds": [], "trials": [], "failed": 0}
    out["tests"] = {c: [] for c in checkpoints}
    for seed in range(seeds):
        trials = replay(table, algo[0], pruner, seed, budget, **algo[1])
        out["trials"].append(len(trials))
        got = reached(trials, table, within)
        if got is None:
            out["failed"] += 1
        else:
            out["epochs"].append(got.epochs)
            out["seconds"].append(got.seconds)
        for c in checkpoints:
            choice = selected_at(trials, c)
            if choice is not None:
                out["tests"][c].append(table.mean_test(choice))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default=str(HERE / "tables" / "search_table.yaml"))
    parser.add_argument("--table", default=str(HERE / "tables" / "search_table"))
    parser.add_argument("--seeds", type=int, default=20, help="searches per combination")
    parser.add_argument("--budget", type=int, default=0, help="epochs (default: 30 full trials)")
    parser.add_argument("--within", type=float, default=0.002, help="of the best mean val acc")
    parser.add_argument("--tpe-startup", type=int, nargs="*", default=[5], help="TPE rows")
    args = parser.parse_args(argv)

    table = Table.load(args.experiment, args.table)
    budget = args.budget or 30 * table.epochs
    print(describe(table, args.within))
    print(
        f"searches: {args.seeds} seeds per combination, {budget} epochs each "
        f"(= {budget // table.epochs} full trials)\n"
    )
    checkpoints = (budget // 4, budget // 2, budget)
    head = (
        f"{'algo':<8} {'pruner':<7} {'epochs to reach':>16} {'seconds to reach':>17} "
        f"{'failed':>7} {'trials':>7} " + " ".join(f"{'test @' + str(c):>10}" for c in checkpoints)
    )
    print(head + "\n" + "-" * len(head))
    started = time.perf_counter()
    medians: dict[tuple[str, str], float] = {}
    searchers = algos(args.tpe_startup)
    for algo, pruner in itertools.product(searchers, PRUNERS):
        got = combination(table, searchers[algo], pruner, args.seeds, budget, args.within)
        medians[(algo, pruner)] = float(np.median(got["epochs"])) if got["epochs"] else np.nan
        tests = got["tests"].values()
        cells = " ".join(f"{100 * np.mean(t):>9.2f}%" if t else f"{'–':>10}" for t in tests)
        print(
            f"{algo:<8} {pruner:<7} {quartiles(got['epochs']):>16} "
            f"{quartiles(got['seconds']):>17} {got['failed']:>3}/{args.seeds:<3} "
            f"{np.mean(got['trials']):>7.1f} {cells}"
        )
    n = len(searchers) * len(PRUNERS) * args.seeds
    print(f"\n({time.perf_counter() - started:.1f} s for {n} searches)")
    print("median epochs to reach, without a pruner / with it:")
    for algo in searchers:
        ratios = [f"{p} {medians[(algo, 'none')] / medians[(algo, p)]:.2f}x" for p in PRUNERS[1:]]
        print(f"  {algo:<8} " + "  ".join(ratios))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
