"""Every message a run prints at its end: the dry run, the summary, the links to the sweep
in MLflow's UI, what to do after an interruption or a sweep whose trials all failed.
Printing only; :mod:`sweep.cli.run` acts."""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING

from ..names import DEFAULT_TRACKING_URI, SweepEnd
from ._shell import EXIT_FAILED, EXIT_INTERRUPTED

if TYPE_CHECKING:
    from ..analysis import SweepResult
    from ..config import ExperimentConfig


def print_dry_run(config: ExperimentConfig) -> None:
    from ..config import to_yaml

    print(f"# resolved config of {config.name}")
    print(to_yaml(config).split("\nsearch:")[0].rstrip())
    print("# search space")
    if not config.search:
        print("(none: every trial uses the fixed config)")
    for key, dist in config.search.items():
        print(f"{key}: {dist.describe()}")
    s = config.sweep
    goal = "maximising" if s.objective == "val_accuracy" else "minimising"
    seeds = f"trial N trains with seed train.seed + N = {config.train.seed} + N"
    if s.algo == "grid" and not config.search:
        print(f"# no search: the fixed configuration is trained {s.repeats} time(s); {seeds}")
        return
    runs = f"{s.max_evals} trials"
    if s.algo == "grid":
        runs = f"every one of {config.grid_size()} combinations {s.repeats} time(s)"
    print(
        f"# {s.algo} search, {runs}, seed {s.seed}, {goal} {s.objective} on the validation "
        f"split; {seeds}"
    )
    if s.start_with:
        print(f"# its first {len(s.start_with)} trial(s): the sweep.start_with configurations")
    if s.repeats > 1 and s.algo != "grid":
        print(
            f"# then the best {s.repeat_top} configuration(s) by mean validation accuracy "
            f"are trained again until each has {s.repeats} runs"
        )


def interrupted(argv: list[str]) -> int:
    from ..record import hides_password, shown

    args = [a for a in argv if a != "--fresh"]
    again = " ".join(["python -m sweep", *(shlex.quote(shown(a)) for a in args)])
    hidden = any(map(hides_password, args))
    print(
        "\nSweep interrupted; finished trials are saved. Run the same command again to "
        f"resume it:\n  {again}\n(add --fresh to start over instead"
        + ("; the store's password is shown as ***)" if hidden else ")"),
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED


def all_failed(result: SweepResult, tracking_uri: str) -> None:
    """One paragraph instead of a traceback: how many, the first error, where its trace is."""
    from ..record import FAILURE_TRACE, shown

    first = result.trials[0] if result.trials else None
    detail = (
        f" The first error, in trial {first.number}: {first.failure}. Its full traceback is "
        f"the artifact {FAILURE_TRACE} of run {first.run_id}."
        if first
        else " No trial reported back (with Spark, see the Spark job's logs)."
    )
    print(
        f"\nerror: all {len(result.trials)} trials of the sweep failed.{detail} "
        f"The sweep (parent run {result.parent_run_id} in {shown(tracking_uri)}) is marked FAILED "
        "and will not be resumed: fix the cause, then run the same command again to start "
        "a new sweep.",
        file=sys.stderr,
    )


def print_links(result: SweepResult, tracking_uri: str, port: int, name: str) -> None:
    """Where to see the sweep: its runs and the selected trial, in the UI's Model-training
    view (a fresh browser would otherwise open MLflow's GenAI view, which shows no runs)."""
    from ..record import BEST_ALIAS, hides_password, shown
    from .ui import ui_base, ui_links

    best = result.best
    links = ui_links(ui_base(tracking_uri, port), result.experiment_id, best and best.run_id)
    local = not tracking_uri.startswith(("http://", "https://"))
    lines = [
        f"Browse it with `mlflow ui --backend-store-uri {shown(tracking_uri)} --port {port}`"
        + (" (type the password for ***)" if hides_password(tracking_uri) else "")
        + ", then open"
        if local
        else "Browse it at",
        f"  the sweep's runs:   {links['runs']}",
    ]
    if "run" in links:
        lines.append(f"  the selected trial: {links['run']}")
    if result.model_version:
        store = (
            ""
            if tracking_uri == _default_uri()
            else f" --tracking-uri {shlex.quote(shown(tracking_uri))}"
        )
        lines.append(
            "Score the test set with the selected model:\n"
            f"  python -m sweep predict {shlex.quote(f'models:/{name}@{BEST_ALIAS}')} --out "
            f"PRED.dat{store}"
        )
    print("\n".join(lines), file=sys.stderr)


def _default_uri() -> str:
    from ..record import absolute_uri

    return absolute_uri(DEFAULT_TRACKING_URI)


def summary(result: SweepResult, tracking_uri: str, port: int, name: str) -> int:
    """The sweep's last lines: what it selected, why it ended, the table, the links."""
    import pandas as pd
    from loguru import logger

    from ..analysis import describe
    from ..console import best_table, describe_params
    from ..record import shown

    best = result.best
    if best is None:
        all_failed(result, tracking_uri)
        return EXIT_FAILED
    runs = result.selected
    params = describe_params(best.params)
    val = describe(pd.Series([t.val_accuracy for t in runs]))
    test = describe(pd.Series([t.test_accuracy for t in runs]))
    interval = (
        f" (95% CI {test.ci_low:.4f}-{test.ci_high:.4f})"
        if test.n > 1
        else " (1 run: no interval)"
    )
    logger.info(
        "{} runs ({} failed); selected on mean validation accuracy: config {} | {} | "
        "{} run(s), trials {} | val_acc {:.4f} | test_acc {:.4f}{} | parent run {} in {}",
        len(result.trials),
        result.n_failed,
        best.config_id,
        params,
        len(runs),
        ", ".join(str(t.number) for t in runs),
        val.mean,
        test.mean,
        interval,
        result.parent_run_id,
        shown(tracking_uri),
    )
    owed = f", {result.repeats_owed} repeat run(s) owed not run" if result.repeats_owed else ""
    more = (
        "; the same command goes on with the rest"
        if result.ended_by == SweepEnd.TIME_BUDGET
        else ""
    )
    planned, most = result.epochs_planned, result.epochs_possible
    of = f"{planned:,} planned, at most {most:,}" if 0 < planned < most else f"at most {most:,}"
    logger.info(
        "ended by {}{}; trained {:,} epochs of {}{}",
        result.ended_by.replace("_", " "),
        owed,
        result.epochs_trained,
        of,
        more,
    )
    print(best_table(result.trials), file=sys.stderr)
    print_links(result, tracking_uri, port, name)
    return 0
