"""The Spark backend end to end: a real local Spark session (local[2]) runs a 4-trial sweep,
two trials at a time, into one parent run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import require, run_cli
from sweep import metrics as M

pytestmark = pytest.mark.slow

SWEEP = """
name: spark_sweep
hypothesis: trials run side by side under SparkTrials
model: {kind: mlp, hidden: [128], dropout: 0.1}
train: {epochs: 2, batch_size: 64}
search:
  train.optimizer.lr: {loguniform: [1.0e-3, 1.0e-2]}
sweep: {algo: tpe, max_evals: 4, seed: 3, backend: spark, parallelism: 2}
data: {subset: 2000}
"""


def test_spark_local_2_runs_four_nested_trials_in_parallel(tmp_path: Path, real_data_dir) -> None:
    import pyspark  # noqa: F401  (installed by `make test`; its absence is a failure)

    require(shutil.which("java") is not None, "Java 17 for Spark (make test-deps)")
    path = tmp_path / "spark.yaml"
    path.write_text(SWEEP)
    done = run_cli(path, "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("spark_sweep")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if M.TAG_PARENT not in r.data.tags]
    kids = [r for r in runs if M.TAG_PARENT in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(kids) == 4
    assert {k.data.tags[M.TAG_PARENT] for k in kids} == {parents[0].info.run_id}
    assert {k.info.status for k in kids} == {"FINISHED"}
    assert sorted(int(k.data.tags[M.TAG_TRIAL]) for k in kids) == [1, 2, 3, 4]
    for kid in kids:
        history = client.get_metric_history(kid.info.run_id, M.VAL_ACCURACY)
        assert [h.step for h in history] == [1, 2]
        assert kid.data.params["train.epochs"] == "2"
    spans = sorted((k.info.start_time, k.info.end_time) for k in kids)
    overlapping = sum(1 for (s1, e1), (s2, e2) in zip(spans, spans[1:], strict=False) if s2 < e1)
    assert overlapping >= 1, spans  # at least two trials ran at the same time
    assert parents[0].data.metrics[M.N_TRIALS] == 4
    # numbered, and labelled trial or repeat, by the driver in the order proposed
    kids.sort(key=lambda k: int(k.data.tags[M.TAG_TRIAL]))
    configs = [k.data.tags[M.TAG_CONFIG] for k in kids]
    roles = ["repeat" if c in configs[:i] else "trial" for i, c in enumerate(configs)]
    assert [k.data.tags[M.TAG_ROLE] for k in kids] == roles
    assert len({k.data.params["train.seed"] for k in kids}) == 4  # parallel: still 4 seeds


def test_spark_connect_is_refused_clearly(tmp_path: Path, real_data_dir) -> None:
    path = tmp_path / "spark.yaml"
    path.write_text(SWEEP)
    done = run_cli(path, "--spark-master", "sc://localhost:15002", cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    assert "Spark Connect" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists()
