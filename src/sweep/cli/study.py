"""``python -m sweep study STUDY.yaml [--tracking-uri URI] [--time-budget 3h] [--export
results]``: every sweep a study file lists, one after another into one store, within one
time budget. A sweep that finished (of exactly its config) is skipped, and so is one whose
finished results ``--export DIR`` holds already (exported here or on another machine), one
that was cut off goes on where it stopped, and each that finishes is exported (as
``export-results`` does) at once. Before and after, a table says where each sweep stands,
the epochs and images left and, from the speeds this store's finished runs measured on
this machine (the sweep's own, else its model kind's), about how long they take. Run the
same command again to go on.

Exit statuses as for ``run``: 0 every sweep done or the time budget spent (the same command
goes on), 2 bad input (the study file or one of its experiment files, a flag), 1 a sweep
failed, 3 a write refused for want of room or permission, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from ..names import DEFAULT_TRACKING_URI
from ._shell import EXIT_BAD_INPUT, Parser, error, nonblank

if TYPE_CHECKING:
    from ..search import Planned

MIN_SECONDS = 60  # less time than this left: no sweep is started


def parse_args(argv: list[str]) -> argparse.Namespace:
    from ..config import parse_duration

    def duration(text: str) -> float:
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    p = Parser(prog="python -m sweep study", description=__doc__.split("\n\n")[0])
    p.add_argument("study", type=nonblank, help="the study file (a name and its sweeps)")
    p.add_argument(
        "--tracking-uri", type=nonblank, help=f"the store (default {DEFAULT_TRACKING_URI})"
    )
    p.add_argument(
        "--time-budget", type=duration, help="stop starting sweeps after this (2h, 90m, ...)"
    )
    p.add_argument("--export", type=nonblank, metavar="DIR", help="export each finished sweep")
    p.add_argument("--data-dir", type=nonblank, help="folder with the Fashion-MNIST IDX files")
    p.add_argument("--plan", action="store_true", help="say where each sweep stands; run none")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from ..config import ConfigError
    from ..record import absolute_uri, shown
    from ..search import load_study

    uri = absolute_uri(args.tracking_uri or DEFAULT_TRACKING_URI)
    try:
        study, configs = load_study(args.study)
    except ConfigError as exc:
        error(exc)
        return EXIT_BAD_INPUT
    deadline = time.monotonic() + args.time_budget if args.time_budget else None
    print(f"study {study.name}: {len(configs)} sweeps into {shown(uri)}", file=sys.stderr)
    exported = _exported(args.export, configs)
    _table(uri, configs, exported)
    if args.plan:
        return 0
    code = _run(args, uri, configs, deadline, exported)
    _table(uri, configs, _exported(args.export, configs))
    return code


def _exported(folder: str | None, configs: list[Any]) -> set[str]:
    """The names of the sweeps whose finished results ``folder`` holds (of the same setup:
    the config but its seeds)."""
    from ..config import SweepIdentity
    from ..report import exported_finished
    from ..search import planned_runs

    if not folder:
        return set()
    return {
        config.name
        for _, config, _ in configs
        if exported_finished(
            folder, config.name, SweepIdentity.of(config).setup, planned_runs(config)
        )
    }


def _run(
    args: argparse.Namespace,
    uri: str,
    configs: list[Any],
    deadline: float | None,
    exported: set[str],
) -> int:
    """Each sweep not done, in order, within the time left; the first that does not finish
    (a failure, an interruption, the budget spent inside it) ends the study's run."""
    from ..search import plan
    from . import run

    for planned in plan(uri, configs, exported):
        if planned.done:
            continue
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left < MIN_SECONDS:
            print("time budget spent: the same command goes on from here", file=sys.stderr)
            return 0
        code = run.main(_run_argv(args, uri, planned, left))
        if code != 0:
            return code
        if not plan(uri, [(planned.path, planned.config, planned.overrides)])[0].done:
            return 0
        if args.export:
            _export(uri, planned.config.name, args.export)
    return 0


def _run_argv(
    args: argparse.Namespace, uri: str, planned: Planned, left: float | None
) -> list[str]:
    """The ``run`` command of one sweep: its file, its study's overrides, the store, the
    time left (after which it stops at an epoch's end, resumable)."""
    argv = [str(planned.path), "--tracking-uri", uri]
    for key, value in planned.overrides.items():
        argv += ["--set", f"{key}={json.dumps(value)}"]
    if left is not None:
        argv += ["--time-budget", f"{int(left)}s", "--time-budget-grace", "epoch"]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    return argv + (["--no-progress"] if args.no_progress else [])


def _export(uri: str, name: str, out: str) -> None:
    from . import export_results

    export_results.main(["--tracking-uri", uri, "--experiments", name, "--out", out])


def _table(uri: str, configs: list[Any], exported: set[str]) -> None:
    """Where each sweep stands, and about how long what is left takes here: at the median
    speed of the sweep's own finished runs in the store, else of its model kind's."""
    from ..console import duration
    from ..search import plan

    planned = plan(uri, configs, exported)
    rates = _rates(uri) if any(p.images_left for p in planned) else None
    print(
        f"{'sweep':<36} {'state':<8} {'trials':>6} {'epochs left':>11} {'images left':>12} "
        f"{'time left':>9}"
    )
    seconds, unmeasured = 0.0, 0
    for p in planned:
        rate = _rate(rates, p.config.name, p.config.model.kind) if p.images_left else None
        if rate:
            seconds += p.images_left / rate
        unmeasured += bool(p.images_left and not rate)
        when = duration(p.images_left / rate) if rate else "?" if p.images_left else ""
        row = (
            f"{p.config.name[:36]:<36} {p.state:<8} {p.trials_done:>6} {p.epochs_left:>11,} "
            f"{p.images_left:>12,} {when:>9}"
        )
        print(row.rstrip())
    images = sum(p.images_left for p in planned)
    if not images:
        print("every sweep is done")
        return
    unknown = (
        f", and {unmeasured} sweep(s) whose model has not trained here yet" if unmeasured else ""
    )
    eta = f", about {duration(seconds)}{unknown}" if seconds else unknown
    print(f"left: {images:,} training images{eta}")
    if seconds:
        print(
            "(each at the median speed of the store's finished runs of its sweep, else of its "
            "model kind; early stopping and pruning train less)"
        )


def _rates(uri: str) -> Any:
    """Training images per second of each finished run in the store, with its experiment
    and model kind (None: no store, or nothing finished yet)."""
    import pandas as pd

    from .. import names as M
    from ..record import existing
    from ..report import load_runs
    from ..train import training_images

    try:
        runs = load_runs(existing(uri)).runs
    except Exception:  # (no store yet, nothing finished: no speed to go by)
        return None
    done = runs.dropna(subset=[M.TRAIN_SECONDS, M.EPOCHS_RUN])
    done = done[done[M.TRAIN_SECONDS] > 0]
    if done.empty:
        return None
    per_epoch = [
        training_images(_int(r.get("params.data.subset")), float(r["params.data.val_fraction"]))
        for _, r in done.iterrows()
    ]
    images = pd.Series(per_epoch, index=done.index) * done[M.EPOCHS_RUN].astype(float)
    rate = images / done[M.TRAIN_SECONDS].astype(float)
    return done.assign(rate=rate, kind=done.get("params.model.kind"))[
        ["experiment", "kind", "rate"]
    ]


def _rate(rates: Any, name: str, kind: str) -> float | None:
    """The median speed of ``name``'s finished runs, else of those of its model ``kind``."""
    if rates is None:
        return None
    for same in (rates["experiment"] == name, rates["kind"] == kind):
        if same.any():
            return float(rates.loc[same, "rate"].median())
    return None


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None
