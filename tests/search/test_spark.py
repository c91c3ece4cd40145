"""The Spark backend's refusals. A real local Spark session (local[2]) running a 4-trial
sweep, two trials at a time, into one parent run in PostgreSQL is part of
tests/record/test_store.py's run of docs/record.md's shared-store section."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli, tiny_sweep

pytestmark = pytest.mark.slow

SWEEP = tiny_sweep(
    "spark_sweep",
    hypothesis="trials run side by side under SparkTrials",
    model={"hidden": [128], "dropout": 0.1},
    train={"epochs": 2, "batch_size": 64},
    sweep={"max_evals": 4, "seed": 3, "backend": "spark", "parallelism": 2},
    data={"subset": 2000},
)


def test_spark_connect_is_refused_clearly(tmp_path: Path, real_data_dir) -> None:
    path = tmp_path / "spark.yaml"
    path.write_text(SWEEP)
    done = run_cli(path, "--spark-master", "sc://localhost:15002", cwd=tmp_path)
    assert done.returncode == 1
    assert "Spark Connect" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists()
