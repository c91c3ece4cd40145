"""``python -m sweep [run] EXPERIMENT.yaml``: load and validate the experiment, check the
store, the data and the device, run the sweep; every expected failure is one paragraph and
an exit status (:mod:`sweep.cli` holds the words).

Heavy libraries (torch, MLflow, hyperopt) are imported only after validation, so that
``--help``, ``--dry-run`` and bad input answer quickly.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import _arguments as cli
from . import _messages as say
from ._shell import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_ROOM, error, guarded

if TYPE_CHECKING:
    from ..config import ExperimentConfig
    from ..search import RunOptions
    from ..signals import GracefulStop


def _configure_logging() -> None:
    from loguru import logger
    from tqdm import tqdm

    from ..console import quiet_libraries

    quiet_libraries()  # the console says what matters

    logger.remove()
    logger.add(
        lambda msg: tqdm.write(msg, end="", file=sys.stderr),
        format="<green>{time:HH:mm:ss}</green> {message}",
        colorize=sys.stderr.isatty(),
    )


def _store_uri(args: argparse.Namespace) -> str:
    """The store's URI; a relative SQLite path made absolute."""
    from ..names import DEFAULT_TRACKING_URI
    from ..record import absolute_uri

    return absolute_uri(args.tracking_uri or DEFAULT_TRACKING_URI)


def _options(args: argparse.Namespace) -> RunOptions:
    from ..search import RunOptions

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


def _on_a_cluster(config: ExperimentConfig, args: argparse.Namespace) -> bool:
    """Trials on a Spark cluster run on other machines: each checks its device there."""
    from ..search import resolve_master

    master = resolve_master(args.spark_master, config.sweep.parallelism)
    return config.sweep.backend == "spark" and not master.startswith("local")


def _device_problem(device: str) -> str | None:
    """Checked before anything is written: a device this machine cannot use."""
    from ..train import device_problem

    problem = device_problem(device)
    if problem is None:
        return None
    return (
        f"key 'train.device' (or --device): {problem}. Run with --device auto (the best "
        "device present) or --device cpu, or change train.device in the file."
    )


def _pickle_split_problem(config: ExperimentConfig, args: argparse.Namespace) -> str | None:
    """Whether the splits can be drawn from a ``--data-pickle`` file's own training images
    (the config's check counts Fashion-MNIST's 60,000), by the data's own splitting of its
    labels: checked before the store is made, like a file that cannot be read as the
    baselines' pickle (bad input both)."""
    if not (args.data_pickle and args.allow_pickle):
        return None
    from ..train import TRAIN_LABELS, DataError, load_source, split_problem_in

    try:
        labels = load_source(pickle_file=args.data_pickle, allow_pickle=True)[TRAIN_LABELS]
    except DataError as exc:
        return str(exc)
    data = config.data
    problem = split_problem_in(
        labels, val_fraction=data.val_fraction, subset=data.subset, seed=data.split_seed
    )
    return f"{args.data_pickle}: {problem}." if problem else None


def _checked(args: argparse.Namespace) -> ExperimentConfig | int:
    """The validated config, once the data's splits, the store and the device are checked
    (before anything is written); else the exit status, its message printed (a dry run: 0)."""
    from ..config import ConfigError, load_experiment

    try:
        config = load_experiment(args.experiment, cli.overrides_from(args))
    except ConfigError as exc:
        error(exc)
        return EXIT_BAD_INPUT
    if args.dry_run:
        say.print_dry_run(config)
        return 0
    problem = _pickle_split_problem(config, args)
    if problem:
        error(problem)
        return EXIT_BAD_INPUT
    from ..record import StoreError, check

    try:  # once, with short timeouts, before anything is written (and before heavy imports)
        check(_store_uri(args), create=True)
    except StoreError as exc:
        error(exc)
        return EXIT_BAD_INPUT
    problem = None if _on_a_cluster(config, args) else _device_problem(config.train.device)
    if problem:
        error(f"{args.experiment}: {problem}")
        return EXIT_BAD_INPUT
    return config


def _run(args: argparse.Namespace, stop: GracefulStop) -> int:
    """Check, then run; every expected failure is one message and an exit code."""
    config = _checked(args)
    if isinstance(config, int):
        return config
    _configure_logging()
    from ..config import ConfigError
    from ..record import STORE_ERRORS, StoreError, answered_with_error
    from ..search import BackendError, run_sweep
    from ..train import DataError, PickleError

    options = _options(args)
    stop.check("while starting")
    try:
        result = run_sweep(config, args.experiment, options, stop)
    # resuming a sweep whose file changed, an unreadable pickle, a store of an older MLflow
    except (ConfigError, PickleError, StoreError) as exc:
        error(exc)
        return EXIT_BAD_INPUT
    except (DataError, BackendError) as exc:
        error(exc)
        return EXIT_FAILED
    except STORE_ERRORS as exc:  # the store answered with an error
        then = "Finished trials are kept; fix the store, then run the same command to resume."
        error(answered_with_error(options.tracking_uri, exc, then))
        return EXIT_FAILED
    code = say.summary(result, options.tracking_uri, args.ui_port, config.name)
    if stop.is_set():  # the signal came as the sweep was ending: nothing is left to resume
        print("\nStopped; the sweep had already finished.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the sweep the arguments describe; its exit status."""
    argv = sys.argv[1:] if argv is None else argv
    args = cli.run_arguments(argv)
    from ..signals import GracefulStop

    stop = GracefulStop()
    try:  # a first Ctrl-C from here on stops at the next safe point, a second at once
        with stop.handling_signals():
            return _run(args, stop)
    except KeyboardInterrupt as exc:  # SweepInterrupted, StoreLost and StorageFull too
        from ..faults import StorageFull
        from ..signals import StoreLost

        if isinstance(exc, StorageFull):
            print(f"\nerror: {exc}.", file=sys.stderr)
            return EXIT_NO_ROOM
        if isinstance(exc, StoreLost):
            print(f"\nerror: {exc}; the sweep stopped.", file=sys.stderr)
        return say.interrupted(argv)


if __name__ == "__main__":
    sys.exit(guarded(main))
