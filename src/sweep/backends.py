"""Where trials run: in this process (the default), or as Apache Spark tasks through
Hyperopt's SparkTrials, locally (``local[N]``) or on a cluster."""

from __future__ import annotations

import os
import sys
from typing import Any

from loguru import logger

INSTALL_HINT = (
    "The Spark backend needs pyspark (and Java 17): run `uv sync --extra spark` "
    "(or `pip install 'fmnist-sweep[spark]'`)."
)


class BackendError(RuntimeError):
    """A backend that cannot be used as asked (missing pyspark, Spark Connect...)."""


def resolve_master(master: str | None, parallelism: int) -> str:
    """``--spark-master``, else ``$SPARK_MASTER``, else ``local[parallelism]``."""
    return master or os.environ.get("SPARK_MASTER") or f"local[{parallelism}]"


def spark_session(master: str, app_name: str = "fmnist-sweep") -> Any:
    """A classic (not Connect) SparkSession whose Python workers use this interpreter."""
    if master.startswith("sc://") or os.environ.get("SPARK_REMOTE"):
        raise BackendError(
            f"Spark Connect ({master if master.startswith('sc://') else '$SPARK_REMOTE'}) "
            "is not supported by Hyperopt's SparkTrials; give a classic master such as "
            "local[4], spark://host:7077 or k8s://..., and unset SPARK_REMOTE."
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise BackendError(INSTALL_HINT) from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    is_remote = getattr(spark, "is_remote", None)
    if callable(is_remote) and is_remote():
        raise BackendError("the active Spark session is a Spark Connect session; " + INSTALL_HINT)
    return spark


def spark_trials(master: str, parallelism: int, timeout_s: float | None, tracking_uri: str) -> Any:
    """Hyperopt's SparkTrials on a session for ``master``."""
    try:
        from hyperopt import SparkTrials
    except ImportError:
        raise BackendError(INSTALL_HINT) from None
    if not master.startswith("local") and tracking_uri.startswith(("sqlite:", "file:")):
        logger.warning(
            "tracking URI {} is a file on this machine, but Spark master {} may run trials on "
            "other machines, which cannot write to it. Use an MLflow server that the workers "
            "can reach (see README, 'Running on a cluster').",
            tracking_uri,
            master,
        )
    spark = spark_session(master)
    return SparkTrials(
        parallelism=parallelism,
        timeout=int(timeout_s) if timeout_s else None,
        spark_session=spark,
    )


def threads_per_trial(master: str, parallelism: int) -> int | None:
    """On one machine, share its cores among the parallel trials; elsewhere leave it."""
    if not master.startswith("local"):
        return None
    return max(1, (os.cpu_count() or 1) // parallelism)
