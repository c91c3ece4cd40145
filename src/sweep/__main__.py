"""The command line: parse flags, load and validate the experiment, call ``run_sweep``.

Heavy libraries (torch, MLflow, hyperopt) are imported only after validation, so that
``--help``, ``--dry-run`` and bad input answer quickly.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_NO_ROOM = 3  # a write failed for want of room or permission (resumable once mended)
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sweep",
        description="Run a Hyperopt sweep described by an experiment YAML file; every trial "
        "is a nested MLflow run under one parent run per sweep.",
        epilog="Two more commands: `python -m sweep predict MODEL --out FILE` scores images "
        "with a logged model (models:/NAME@best), and `python -m sweep export-best "
        "EXPERIMENT.yaml|PARENT_RUN_ID --out best.yaml` writes the configuration a sweep "
        "selected as an experiment file; add --help to either.",
    )
    p.add_argument("experiment", help="experiment file, e.g. experiments/exp12.yaml")
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
        default=None,
        help="MLflow tracking URI (default: sqlite:///mlflow.db in the working directory)",
    )
    p.add_argument(
        "--store-timeout",
        type=_seconds,
        default=180.0,
        metavar="SECONDS",
        help="if the store stops answering during a sweep, retry this long, then stop as "
        "after Ctrl-C (resumable; default 180)",
    )
    p.add_argument("--data-dir", help="folder with the four Fashion-MNIST IDX files")
    p.add_argument(
        "--data-pickle",
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
        default=5001,
        metavar="N",
        help="port of the local `mlflow ui` in the links printed at the end (default 5001)",
    )
    return p.parse_args(argv)


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    from .config import parse_override

    out: dict[str, Any] = {}
    for text in args.set:
        key, value = parse_override(text)
        out[key] = value
    flags = {
        "sweep.max_evals": args.max_evals,
        "sweep.repeats": args.repeats,
        "train.epochs": args.epochs,
        "data.subset": args.subset,
        "sweep.seed": args.seed,
        "train.seed": args.seed,
        "sweep.backend": args.backend,
        "sweep.parallelism": args.parallelism,
        "train.device": args.device,
        "sweep.pruner.kind": args.pruner,
        "sweep.time_budget": args.time_budget,
        "sweep.time_budget_grace": args.time_budget_grace,
    }
    out.update({k: v for k, v in flags.items() if v is not None})
    return out


def _seconds(text: str) -> float:
    """A finite number of seconds, at least 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _configure_logging() -> None:

    from loguru import logger
    from tqdm import tqdm

    from .console import quiet_libraries

    quiet_libraries()  # the console says what matters

    logger.remove()
    logger.add(
        lambda msg: tqdm.write(msg, end="", file=sys.stderr),
        format="<green>{time:HH:mm:ss}</green> {message}",
        colorize=sys.stderr.isatty(),
    )


def _print_dry_run(config: Any) -> None:
    from .config import to_yaml

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


def _store_uri(args: argparse.Namespace) -> str:
    """The store's URI; a relative SQLite path made absolute."""
    from .store import DEFAULT_TRACKING_URI, absolute_uri

    return absolute_uri(args.tracking_uri or DEFAULT_TRACKING_URI)


def _options(args: argparse.Namespace) -> Any:
    from .sweep import RunOptions

    return RunOptions(
        tracking_uri=_store_uri(args),
        data_dir=args.data_dir,
        show_progress=not args.no_progress,
        fresh=args.fresh,
        data_pickle=args.data_pickle,
        allow_pickle=args.allow_pickle,
        spark_master=args.spark_master,
        store_timeout=args.store_timeout,
        quiet=args.quiet,
    )


def _interrupted(argv: list[str] | None) -> int:
    from .store import hides_password, shown

    args = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--fresh"]
    again = " ".join(["python -m sweep", *map(shown, args)])
    hidden = any(map(hides_password, args))
    print(
        "\nSweep interrupted; finished trials are saved. Run the same command again to "
        f"resume it:\n  {again}\n(add --fresh to start over instead"
        + ("; the store's password is shown as ***)" if hidden else ")"),
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED


def _all_failed(result: Any, tracking_uri: str) -> None:
    """One paragraph instead of a traceback: how many, the first error, where its trace is."""
    from .store import shown
    from .trial import FAILURE_TRACE

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


def _print_links(result: Any, tracking_uri: str, port: int, name: str) -> None:
    """Where to see the sweep: its runs and the selected trial, in the UI's Model-training
    view (a fresh browser would otherwise open MLflow's GenAI view, which shows no runs)."""
    from .store import hides_password, shown
    from .tracking import BEST_ALIAS, ui_base, ui_links

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
        store = "" if tracking_uri == _default_uri() else f" --tracking-uri {shown(tracking_uri)}"
        lines.append(
            "Score the test set with the selected model:\n"
            f"  python -m sweep predict models:/{name}@{BEST_ALIAS} --out PRED.dat{store}"
        )
    print("\n".join(lines), file=sys.stderr)


def _default_uri() -> str:
    from .store import DEFAULT_TRACKING_URI, absolute_uri

    return absolute_uri(DEFAULT_TRACKING_URI)


def _report(result: Any, tracking_uri: str, port: int, name: str) -> int:
    import pandas as pd
    from loguru import logger

    from .console import best_table, describe_params
    from .stats import describe
    from .store import shown

    best = result.best
    if best is None:
        _all_failed(result, tracking_uri)
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
    _print_links(result, tracking_uri, port, name)
    return 0


def _on_a_cluster(config: Any, args: argparse.Namespace) -> bool:
    """Trials on a Spark cluster run on other machines: each checks its device there."""
    from .backends import resolve_master

    master = resolve_master(args.spark_master, config.sweep.parallelism)
    return config.sweep.backend == "spark" and not master.startswith("local")


def _device_problem(device: str) -> str | None:
    """Checked before anything is written: a device this machine cannot use."""
    from .train import device_problem

    problem = device_problem(device)
    if problem is None:
        return None
    return (
        f"key 'train.device' (or --device): {problem}. Run with --device auto (the best "
        "device present) or --device cpu, or change train.device in the file."
    )


def _run(args: argparse.Namespace, stop: Any) -> int:
    """Load, validate and run; every expected failure is one message and an exit code."""
    from .config import ConfigError, load_experiment

    try:
        config = load_experiment(args.experiment, overrides_from(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.dry_run:
        _print_dry_run(config)
        return 0
    from .store import StoreError, check

    uri = _store_uri(args)
    try:  # once, with short timeouts, before anything is written (and before heavy imports)
        check(uri, create=True)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _configure_logging()
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    from .backends import BackendError
    from .data import DataError, PickleError
    from .store import shown
    from .sweep import run_sweep

    options = _options(args)
    problem = None if _on_a_cluster(config, args) else _device_problem(config.train.device)
    if problem:
        print(f"error: {args.experiment}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    stop.check("while starting")
    try:
        result = run_sweep(config, args.experiment, options, stop)
    # resuming a sweep whose file changed, an unreadable pickle, a store of an older MLflow
    except (ConfigError, PickleError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (DataError, BackendError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (MlflowException, SQLAlchemyError) as exc:  # the store answered with an error
        first = shown((str(exc).strip().splitlines() or ["no details"])[0][:500])
        print(
            f"error: the store {shown(options.tracking_uri)} answered with an error: {first}. "
            "Finished trials are kept; fix the store, then run the same command again to "
            "resume.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    code = _report(result, options.tracking_uri, args.ui_port, config.name)
    if stop.is_set():  # the signal came as the sweep was ending: nothing is left to resume
        print("\nStopped; the sweep had already finished.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["predict"]:  # python -m sweep predict MODEL --out FILE
        from .predict import main as predict

        return predict(argv[1:])
    if argv[:1] == ["export-best"]:  # python -m sweep export-best SWEEP --out best.yaml
        from .export import main as export_best

        return export_best(argv[1:])
    args = parse_args(argv)
    from .signals import GracefulStop

    stop = GracefulStop()
    try:  # a first Ctrl-C from here on stops at the next safe point, a second at once
        with stop.handling_signals():
            return _run(args, stop)
    except KeyboardInterrupt as exc:  # SweepInterrupted, StoreLost and StorageFull too
        from .faults import StorageFull
        from .signals import StoreLost

        if isinstance(exc, StorageFull):
            print(f"\nerror: {exc}.", file=sys.stderr)
            return EXIT_NO_ROOM
        if isinstance(exc, StoreLost):
            print(f"\nerror: {exc}; the sweep stopped.", file=sys.stderr)
        return _interrupted(argv)


if __name__ == "__main__":
    sys.exit(main())
