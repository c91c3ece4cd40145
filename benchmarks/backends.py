"""The quickstart sweep on the local backend versus Spark local[2], on this machine.

    uv run --extra spark python benchmarks/backends.py [--subset 10000] [--max-evals 4]

Runs the real CLI twice into fresh stores and prints wall time, trials per hour, and the
time each trial spent outside fit() (MLflow, test evaluation, artifacts, and for Spark the
task dispatch), read back from the runs."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[1]


def run(backend: str, subset: int, max_evals: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        start, started_at = time.perf_counter(), time.time()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sweep",
                str(REPO / "experiments" / "quickstart.yaml"),
                *(("--subset", str(subset)) if subset else ()),  # 0: all 54,000 images
                "--max-evals",
                str(max_evals),
                "--no-progress",
                "--backend",
                backend,
                "--parallelism",
                "2",
            ],
            cwd=tmp,
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        )
        wall = time.perf_counter() - start
        client = MlflowClient(f"sqlite:///{tmp}/mlflow.db")
        exp = client.get_experiment_by_name("quickstart")
        runs = client.search_runs([exp.experiment_id])
        parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
        kids = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
        spans = [(k.info.end_time - k.info.start_time) / 1000 for k in kids]
        train = [k.data.metrics["train_seconds"] for k in kids]
        sweep_s = (parent.info.end_time - parent.info.start_time) / 1000
        first = min(k.info.start_time for k in kids) / 1000
        last = max(k.info.end_time for k in kids) / 1000
    return {
        "backend": backend if backend == "local" else "spark local[2]",
        "wall": wall,
        "sweep": sweep_s,
        "trials": len(kids),
        "per_hour": len(kids) / wall * 3600,
        "trial": sum(spans) / len(spans),
        "fit": sum(train) / len(train),
        "outside": sum(s - t for s, t in zip(spans, train, strict=True)) / len(spans),
        # where the time outside fit() goes, from the runs' own start and end times
        "before_trials": first - started_at,  # start-up, imports, the store, the parent run
        "in_trials": sum(spans) - sum(train),  # data split, test evaluation, recording
        "between_trials": (last - first) - sum(spans),  # Hyperopt, the sweep's own state
        "after_trials": started_at + wall - last,  # figures, the model, the summary
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--subset", type=int, default=10000)
    p.add_argument("--max-evals", type=int, default=4)
    args = p.parse_args()
    print(
        f"# quickstart, --subset {args.subset}, {args.max_evals} trials, {os.cpu_count()} cores\n"
    )
    print(
        "| backend | wall s | parent run s | trials/hour | mean trial run s | mean fit() s "
        "| mean outside fit() s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for backend in ("local", "spark"):
        r = run(backend, args.subset, args.max_evals)
        print(
            f"| {r['backend']} | {r['wall']:.1f} | {r['sweep']:.1f} | {r['per_hour']:.0f} | "
            f"{r['trial']:.1f} | {r['fit']:.1f} | {r['outside']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
