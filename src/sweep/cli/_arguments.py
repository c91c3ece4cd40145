"""The argument tables of ``python -m sweep [run]`` and of the report (``python -m sweep
report``, ``analyze_results.py``), and the flags turned into overrides of the experiment
file. Parsing only; :mod:`sweep.cli.run` acts, ``_messages`` prints its end.
"""

from __future__ import annotations

import argparse
import math
from datetime import datetime
from typing import TYPE_CHECKING

from ..names import DEFAULT_TRACKING_URI, STORE_TIMEOUT_S, UI_PORT
from ._shell import Parser, nonblank

if TYPE_CHECKING:
    from ..config import Override

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
