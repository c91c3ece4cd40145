"""``python -m sweep export-best EXPERIMENT.yaml|PARENT_RUN_ID --out best.yaml``: the
configuration a sweep selected, as a runnable experiment file with no search.

It reads the store and never writes to it. Exit statuses: 2 bad input (a flag, the
store's URI, a store that is missing or no MLflow store, a SWEEP that names no finished
sweep in it or an experiment file that does not load, an --out that cannot be written), 1
the store answered with an error or the selected run's files are missing or broken, 3 the
file's write refused for want of room or permission.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from .. import names as M
from ..faults import first_line
from ..names import DEFAULT_TRACKING_URI
from ._shell import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    Parser,
    error,
    file_and_store,
    nonblank,
    reading,
    store_answered,
    write_failed,
)


class ExportError(Exception):
    """No sweep, or no selected configuration, to export: one paragraph (bad input)."""


class BrokenRun(ExportError):
    """The selected run's files in the store are missing or unreadable (status 1)."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = Parser(
        prog="python -m sweep export-best",
        description="Write the configuration a sweep selected as an experiment file.",
    )
    p.add_argument(
        "sweep",
        type=nonblank,
        help="the experiment file (its latest finished sweep) or a parent run id",
    )
    p.add_argument("--out", type=nonblank, required=True, help="the experiment file to write")
    p.add_argument(
        "--tracking-uri", type=nonblank, help=f"the store (default {DEFAULT_TRACKING_URI})"
    )
    return p.parse_args(argv)


def parent_run(store: Any, sweep: str) -> Any:
    """The parent run ``sweep`` names (in a :class:`sweep.record.StoreReader`): by id, or
    the latest finished sweep of a file."""
    if not sweep.endswith((".yaml", ".yml")):
        return store.run(sweep)
    from ..config import load_experiment

    name = load_experiment(sweep).name
    experiment_id = store.experiment_id(name)
    if experiment_id is None:
        raise ExportError(f"{sweep}: no experiment {name!r} in the store; run its sweep first.")
    parent = store.latest_sweep(experiment_id)
    if parent is None:
        raise ExportError(f"{sweep}: no finished sweep of experiment {name!r} in the store.")
    return parent


def best_config(store: Any, parent: Any) -> dict[str, Any]:
    """The selected trial's configuration (as it trained: its seed, epochs and data)."""
    import yaml

    from ..analysis import base_seed

    best = parent.data.tags.get(M.TAG_BEST_TRIAL)
    if not best:
        raise ExportError(f"sweep {parent.info.run_id} selected no configuration.")
    try:
        tree = yaml.safe_load(store.artifact_text(best, "trained/config.yaml"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BrokenRun(
            f"run {best}, the trial sweep {parent.info.run_id} selected: its artifact "
            f"trained/config.yaml cannot be read ({first_line(exc)}). Its files are missing "
            "or damaged; run the sweep again."
        ) from None
    if not (
        isinstance(tree, dict)
        and {"name", "train", "sweep"} <= tree.keys()
        and all(isinstance(tree[k], dict) for k in ("train", "sweep"))
        and isinstance(tree["train"].get("seed"), int)
    ):
        raise BrokenRun(f"run {best}: trained/config.yaml is not an experiment's config.")
    # (a name is at most 200 characters: a long one gives up its end for the suffix)
    tree["name"] = f"{tree['name'][: 200 - len('_best')].rstrip()}_best"
    tree["hypothesis"] = (
        f"The configuration sweep {parent.info.run_id} selected (trial run {best}) reaches its "
        "validation accuracy again."
    )
    tree["search"] = {}
    tree.pop("expect", None)  # (the original's prediction is not this file's)
    tree["train"]["seed"] = base_seed(tree["train"]["seed"], 1)  # trial 1: the run's own seed
    tree["sweep"] |= {"algo": "grid", "max_evals": 1, "repeats": 1}
    return tree


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return reading(lambda: _export(args))


def _export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    uri = file_and_store(args.out, args.tracking_uri, "experiment")
    if uri is None:
        return EXIT_BAD_INPUT
    import yaml

    from ..config import ConfigError, load_experiment
    from ..record import STORE_ERRORS, StoreReader

    try:
        store = StoreReader(uri)
        parent = parent_run(store, args.sweep)
        text = yaml.safe_dump(best_config(store, parent), sort_keys=False)
    except (ExportError, ConfigError, *STORE_ERRORS) as exc:
        return _refused(exc, args.sweep, uri)
    try:
        write_checked(out, text, load_experiment)
    except ConfigError as exc:  # the selected configuration no longer loads
        error(
            f"the configuration sweep {parent.info.run_id} selected does not load as an "
            f"experiment file ({exc}); {out} was not written."
        )
        return EXIT_FAILED
    except OSError as exc:
        return write_failed(exc, out)
    print(
        f"wrote {out}, the configuration sweep {parent.info.run_id} selected: run it with "
        f"python -m sweep {out}",
        file=sys.stderr,
    )
    return 0


def _refused(exc: Exception, sweep: str, uri: str) -> int:
    """Say why no configuration can be exported, in one line; the exit status."""
    from ..record import STORE_ERRORS, shown

    if isinstance(exc, BrokenRun):
        error(str(exc))
        return EXIT_FAILED
    if not isinstance(exc, STORE_ERRORS):  # ExportError, ConfigError
        error(str(exc))
        return EXIT_BAD_INPUT
    missing = (
        f"{sweep}: no such sweep in {shown(uri)} ({first_line(exc)}). Name the experiment "
        "file, or the id of a sweep's parent run."
    )
    return store_answered(uri, exc, missing)


def write_checked(out: Path, text: str, load: Any) -> None:
    """``text`` to ``out`` only if ``load`` accepts it as an experiment file (a file that
    does not run is never left behind)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=out.parent, prefix=out.name, suffix=".tmp", delete=False
    ) as fh:
        fh.write(text)
    try:
        load(fh.name)
        os.replace(fh.name, out)
    finally:
        Path(fh.name).unlink(missing_ok=True)
