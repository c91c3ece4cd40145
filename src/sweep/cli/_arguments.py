"""The command line's words: the argument tables of ``python -m sweep [run]`` and of the
report (``python -m sweep report``, ``analyze_results.py``), and every message a run prints
at its end: the dry run, the summary, the links, what to do after an interruption or a
sweep whose trials all failed. Parsing and printing only; :mod:`sweep.cli.run` acts.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from ..names import DEFAULT_TRACKING_URI, STORE_TIMEOUT_S, UI_PORT
from ._shell import EXIT_FAILED, EXIT_INTERRUPTED, Parser, nonblank

if TYPE_CHECKING:
    from ..analysis import SweepResult
    from ..config import ExperimentConfig, Override

REPORT_USAGE = """\
Aggregate the sweeps in an MLflow store into a report: one row per sweep with its selected
configuration (highest mean validation accuracy over its seeds; the test set never
chooses), statistics per configuration, comparisons against a baseline, figures, runs.csv,
and (optionally) ACTIONPLAN.md's results section.

    python analyze_results.py                       # every experiment in ./mlflow.db
    python analyze_results.py --experiments exp1 exp7 'exp1*' --baseline exp1
    python analyze_results.py --pool                # merge sweeps of one experiment and config
    python analyze_results.py --update-actionplan   # rewrite ACTIONPLAN.md's results
    python analyze_results.py --update-readme       # rewrite the README's results table

(`python -m sweep report` takes the same flags.)
"""


def run_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """``python -m sweep [run] EXPERIMENT.yaml [flags]``."""
    p = Parser(
        prog="python -m sweep",
        description="Run a Hyperopt sweep described by an experiment YAML file; every trial "
        "is a nested MLflow run under one parent run per sweep.",
        epilog="More commands (add --help to any): `python -m sweep report` writes the "
        "report of a store's sweeps (as analyze_results.py does); `python -m sweep predict "
        "MODEL --out FILE` scores images with a logged model (models:/NAME@best); `python -m "
        "sweep export-best EXPERIMENT.yaml|PARENT_RUN_ID --out best.yaml` writes the "
        "configuration a sweep selected as an experiment file; `python -m sweep ui` prints "
        "the links into the MLflow UI. `python -m sweep run FILE` is `python -m sweep FILE`.",
    )
    p.add_argument(
        "experiment", type=nonblank, help="experiment file, e.g. experiments/exp12.yaml"
    )
    p.add_argument("--max-evals", type=int, metavar="N", help="number of trials (sweep.max_evals)")
    p.add_argument(
        "--repeats",
        type=int,
        metavar="N",
        help="after the search, train the best configuration(s) until each has N runs, one "
        "seed each (sweep.repeats)",
    )
    p.add_argument("--epochs", type=int, metavar="N", help="epochs per trial (train.epochs)")
    p.add_argument(
        "--subset",
        type=int,
        metavar="N",
        help="use only N stratified training images (data.subset)",
    )
    p.add_argument("--seed", type=int, help="seed of the search and of training")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config field by its dotted path, e.g. --set train.batch_size=128",
    )
    p.add_argument(
        "--tracking-uri",
        type=nonblank,
        default=None,
        help="MLflow tracking URI (default: sqlite:///mlflow.db in the working directory)",
    )
    p.add_argument(
        "--store-timeout",
        type=_seconds,
        default=STORE_TIMEOUT_S,
        metavar="SECONDS",
        help="if the store stops answering during a sweep, retry this long, then stop as "
        f"after Ctrl-C (resumable; default {STORE_TIMEOUT_S:.0f})",
    )
    p.add_argument(
        "--data-dir", type=nonblank, help="folder with the four Fashion-MNIST IDX files"
    )
    p.add_argument(
        "--data-pickle",
        type=nonblank,
        metavar="FILE",
        help="read the data from a pickle ((x_train, y_train), (x_test, y_test)) or four "
        "arrays dumped in a row); needs --allow-pickle",
    )
    p.add_argument(
        "--allow-pickle",
        action="store_true",
        help="allow --data-pickle: unpickling runs code, so only for files you trust",
    )
    p.add_argument(
        "--device",
        help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps (train.device)",
    )
    p.add_argument(
        "--backend",
        choices=["local", "spark"],
        help="where trials run: local (in this process) or spark (SparkTrials)",
    )
    p.add_argument(
        "--parallelism", type=int, metavar="N", help="spark: trials at once (sweep.parallelism)"
    )
    p.add_argument(
        "--spark-master",
        type=nonblank,
        metavar="URL",
        help="spark: the cluster (default $SPARK_MASTER, else local[PARALLELISM])",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and print the resolved config and search space; run nothing",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start a new sweep even if an interrupted one of this experiment can be resumed",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--quiet", action="store_true", help="no lines during a trial (one per trial stays)"
    )
    p.add_argument(
        "--pruner",
        choices=["none", "median", "asha"],
        help="stop trials clearly behind the others at the same epoch (sweep.pruner.kind)",
    )
    p.add_argument(
        "--time-budget",
        metavar="DURATION",
        help="no trial starts after this wall-clock time, e.g. 2h, 90m, 1h30m, 45s "
        "(sweep.time_budget)",
    )
    p.add_argument(
        "--time-budget-grace",
        choices=["trial", "epoch"],
        help="at the budget, the running trial finishes (trial, the default) or stops after "
        "its epoch, resumable as after Ctrl-C (epoch) (sweep.time_budget_grace)",
    )
    p.add_argument(
        "--ui-port",
        type=int,
        default=UI_PORT,
        metavar="N",
        help=f"port of the local `mlflow ui` in the links printed at the end (default {UI_PORT})",
    )
    return p.parse_args(argv)


def _seconds(text: str) -> float:
    """A finite number of seconds, at least 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


# run's flags that set a config key: flag -> the dotted keys it sets
FLAG_KEYS = {
    "--max-evals": ("sweep.max_evals",),
    "--repeats": ("sweep.repeats",),
    "--epochs": ("train.epochs",),
    "--subset": ("data.subset",),
    "--seed": ("sweep.seed", "train.seed"),
    "--backend": ("sweep.backend",),
    "--parallelism": ("sweep.parallelism",),
    "--device": ("train.device",),
    "--pruner": ("sweep.pruner.kind",),
    "--time-budget": ("sweep.time_budget",),
    "--time-budget-grace": ("sweep.time_budget_grace",),
}


def overrides_from(args: argparse.Namespace) -> list[Override]:
    """Every value typed on the command line, in the order it applies: each ``--set``,
    then the flags (which win over a ``--set`` of the same key); each is validated on its
    own by :func:`sweep.config.load_experiment`, whichever wins."""
    from ..config import Override, parse_override

    out = []
    for text in args.set:
        key, value = parse_override(text)
        out.append(Override(key, value, f"--set {_short(text)}"))
    for flag, keys in FLAG_KEYS.items():
        value = getattr(args, flag.removeprefix("--").replace("-", "_"))
        if value is not None:
            out += [Override(key, value, f"{flag} {_short(str(value))}") for key in keys]
    return out


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def report_arguments(argv: list[str] | None, prog: str) -> argparse.Namespace:
    """The report's flags, the same under either name (``prog``). A URI, path or name given
    empty or blank (an unset shell variable) is refused (status 2), never read as the
    default."""
    p = Parser(
        prog=prog,
        description=REPORT_USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--tracking-uri",
        type=nonblank,
        help=f"MLflow store to read (default: {DEFAULT_TRACKING_URI}, unless --results alone)",
    )
    p.add_argument(
        "--results",
        type=nonblank,
        metavar="DIR",
        help="exported results (python -m sweep export-results) to read: alone, or with "
        "the store --tracking-uri names",
    )
    p.add_argument(
        "--experiments",
        type=nonblank,
        nargs="+",
        metavar="NAME",
        help="experiment names, name prefixes (exp7) or globs ('exp1*')",
    )
    p.add_argument(
        "--since",
        type=datetime.fromisoformat,
        metavar="DATE",
        help="only trials started on or after DATE (YYYY-MM-DD[THH:MM])",
    )
    p.add_argument(
        "--metric",
        type=nonblank,
        default="test_accuracy",
        help="what the comparison and the figures summarise (default: test_accuracy); "
        "selection is always on validation accuracy",
    )
    p.add_argument(
        "--baseline",
        type=nonblank,
        help="reference: an experiment (its latest sweep) or a sweep's run id prefix "
        "(default: the lowest-numbered experiment)",
    )
    p.add_argument(
        "--pool",
        action="store_true",
        help="one row per experiment and config: merge its sweeps that ran the same config "
        "(file and overrides); default: one row per sweep",
    )
    p.add_argument(
        "--out", type=nonblank, default="reports", help="output folder (default: reports/)"
    )
    p.add_argument(
        "--update-actionplan",
        type=nonblank,
        nargs="?",
        const="ACTIONPLAN.md",
        metavar="PATH",
        help="rewrite the results section of ACTIONPLAN.md (or PATH)",
    )
    p.add_argument(
        "--update-readme",
        type=nonblank,
        nargs="?",
        const="README.md",
        metavar="PATH",
        help="rewrite the results table of README.md (or PATH): one row per sweep",
    )
    return p.parse_args(argv)


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
    from ..names import DEFAULT_TRACKING_URI
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
    more = "; the same command goes on with the rest" if result.ended_by == "time_budget" else ""
    logger.info(
        "ended by {}{}; trained {:,} epochs of at most {:,}{}",
        result.ended_by.replace("_", " "),
        owed,
        result.epochs_trained,
        result.epochs_possible,
        more,
    )
    print(best_table(result.trials), file=sys.stderr)
    print_links(result, tracking_uri, port, name)
    return 0
