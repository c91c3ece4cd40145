"""``python -m sweep export-best EXPERIMENT.yaml|PARENT_RUN_ID --out best.yaml``: the
configuration a sweep selected, as a runnable experiment file with no search."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import metrics as M
from .faults import first_line
from .selection import base_seed
from .store import DEFAULT_TRACKING_URI, existing, shown


class ExportError(Exception):
    """No sweep, or no selected configuration, to export: one paragraph."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sweep export-best",
        description="Write the configuration a sweep selected as an experiment file.",
    )
    p.add_argument(
        "sweep", help="the experiment file (its latest finished sweep) or a parent run id"
    )
    p.add_argument("--out", required=True, help="the experiment file to write")
    p.add_argument("--tracking-uri", help=f"the store (default {DEFAULT_TRACKING_URI})")
    return p.parse_args(argv)


def parent_run(client: Any, sweep: str) -> Any:
    """The parent run ``sweep`` names: by id, or the latest finished sweep of a file."""
    if not sweep.endswith((".yaml", ".yml")):
        return client.get_run(sweep)
    from .config import load_experiment

    name = load_experiment(sweep).name
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs(
        [experiment.experiment_id] if experiment else [],
        f"tags.`{M.TAG_BEST_TRIAL}` != '' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        raise ExportError(f"{sweep}: no finished sweep of experiment {name!r} in the store.")
    return runs[0]


def best_config(client: Any, parent: Any) -> dict[str, Any]:
    """The selected trial's configuration (as it trained: its seed, epochs and data)."""
    import yaml

    best = parent.data.tags.get(M.TAG_BEST_TRIAL)
    if not best:
        raise ExportError(f"sweep {parent.info.run_id} selected no configuration.")
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(best, "trained/config.yaml", folder)
        tree = yaml.safe_load(Path(path).read_text())
    if not isinstance(tree, dict) or not {"name", "train", "sweep"} <= tree.keys():
        raise ExportError(f"run {best}: trained/config.yaml is not an experiment's config.")
    tree["name"] = f"{tree['name']}_best"
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
    uri = existing(args.tracking_uri)
    if uri is None:
        return 2
    from .console import quiet_libraries

    quiet_libraries()
    import yaml
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from .config import ConfigError, load_experiment

    out = Path(args.out)
    try:
        client = MlflowClient(uri)
        parent = parent_run(client, args.sweep)
        tree = best_config(client, parent)
        write_checked(out, yaml.safe_dump(tree, sort_keys=False), load_experiment)
    except (ExportError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MlflowException as exc:
        first = first_line(exc)
        print(f"error: {args.sweep}: not found in {shown(uri)} ({first}).", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror or exc}.", file=sys.stderr)
        return 2
    print(
        f"wrote {out}, the configuration sweep {parent.info.run_id} selected: run it with "
        f"python -m sweep {out}",
        file=sys.stderr,
    )
    return 0


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
