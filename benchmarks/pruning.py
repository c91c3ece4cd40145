"""Pruning, side by side: the same sweep (same seeds, same trials proposed first) without a
pruner and with each pruner, each into its own new store, in one process.

    uv run python benchmarks/pruning.py                          # the default sweep below
    uv run python benchmarks/pruning.py --trials 12 --epochs 6 --images 10000
    uv run python benchmarks/pruning.py --experiment experiments/exp7.yaml

Prints a table: epochs trained, wall time, the best validation accuracy found (trials that
ran to the end), and the test accuracy of the configuration each sweep selected. Results go
in BENCHMARKS.md with the machine and command.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mlflow.tracking import MlflowClient  # noqa: E402

from sweep import names as M  # noqa: E402
from sweep.config import load_experiment  # noqa: E402
from sweep.search import RunOptions, run_sweep  # noqa: E402

# A small CNN whose search holds learning rates that train well and ones that do not: the
# kind of sweep pruning is for.
DEFAULT = """
name: pruning_benchmark
hypothesis: Pruning trains far fewer epochs and finds about the same best configuration.
model: {kind: cnn, num_blocks: 2, filters: 32, units1: 128, units2: 64, dropout: [0.1, 0.2]}
train:
  epochs: 6
  batch_size: 128
  optimizer: {name: adam, lr: 1.0e-3}
search:
  model.filters: {choice: [16, 32]}
  train.optimizer.lr: {loguniform: [1.0e-5, 3.0e-2]}
sweep: {algo: tpe, max_evals: 12, seed: 7, log_model: false}
data: {subset: 10000}
"""
PRUNERS = ("none", "median", "asha")


def one_sweep(path: Path, overrides: dict, kind: str, data_dir: str | None) -> dict:
    config = load_experiment(path, {**overrides, "sweep.pruner.kind": kind})
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{folder}/mlflow.db"
        options = RunOptions(tracking_uri=uri, data_dir=data_dir, show_progress=False, quiet=True)
        started = time.perf_counter()
        result = run_sweep(config, path, options)
        wall = time.perf_counter() - started
        client = MlflowClient(uri)
        epochs = sum(client.get_run(t.run_id).data.metrics[M.EPOCHS_RUN] for t in result.finished)
        parent = client.get_run(result.parent_run_id).data.metrics
    complete = [t for t in result.finished if t.complete]
    return {
        "pruner": kind,
        "trials": len(result.trials),
        "pruned": sum(t.pruned for t in result.trials),
        "epochs": int(epochs),
        "wall_s": wall,
        "best_val": max((t.val_accuracy for t in complete), default=float("nan")),
        "selected_test": parent.get(M.BEST_TEST_ACCURACY, float("nan")),  # (all failed)
    }


def main() -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")  # the table is the output
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", help="an experiment file (default: the sweep above)")
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--data-dir")
    p.add_argument("--pruners", nargs="+", default=list(PRUNERS), choices=PRUNERS)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.experiment or Path(folder) / "pruning_benchmark.yaml")
        if not args.experiment:
            path.write_text(DEFAULT)
        overrides = {
            "sweep.max_evals": args.trials,
            "train.epochs": args.epochs,
            "data.subset": args.images,
            "sweep.log_model": False,
        }
        rows = [one_sweep(path, overrides, kind, args.data_dir) for kind in args.pruners]
    print(
        f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; {args.trials} trials x {args.epochs} epochs, "
        f"{args.images} images, {path.name if args.experiment else 'default sweep'}"
    )
    print(
        "| pruner | trials (pruned) | epochs trained | wall | best val acc (complete) "
        "| selected config's test acc |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['pruner']} | {r['trials']} ({r['pruned']}) | {r['epochs']} | "
            f"{r['wall_s']:.0f} s | {r['best_val']:.4f} | {r['selected_test']:.4f} |"
        )


if __name__ == "__main__":
    main()
