"""MLflow's system metrics of a trial's run (CPU, memory, disk, network, GPU), with a last
sample logged when the monitor stops."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loguru import logger
from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

if TYPE_CHECKING:
    from ._tracker import Tracker


@dataclass
class _FinalSample:
    """MLflow's monitor, whose ``finish`` also logs a last sample: MLflow's own drops the
    one it took before the stop, so a trial shorter than the sampling interval would have
    none."""

    monitor: Any

    def finish(self) -> None:
        m = self.monitor
        m.finish()
        try:
            m.collect_metrics()
            m.publish_metrics(m.aggregate_metrics())
            m.mlflow_logger.flush()
        except Exception:  # (as MLflow's: a sample that cannot be logged is dropped)
            pass


def system_metrics(tracker: Tracker, run_id: str, resumed: Any = None) -> Any:
    """MLflow's own monitor of CPU, memory, disk, network (and NVIDIA GPU) use, logged into
    the run as ``system/...`` metrics at MLflow's sampling interval (10 s;
    ``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL``) until its ``finish()``. Its failures are
    its own: a sample that cannot be logged is dropped, quietly, and a monitor that cannot
    start is a warning (None). ``resumed``: a run going on, whose samples continue its
    steps."""
    logging.getLogger("mlflow.system_metrics").setLevel(logging.CRITICAL)
    try:
        monitor = SystemMetricsMonitor(
            run_id, resume_logging=resumed is not None, tracking_uri=tracker.tracking_uri
        )
        monitor.start()
    except Exception as exc:  # (psutil missing, say): the trial trains on without
        logger.warning("no system metrics for run {}: {}", run_id, exc)
        return None
    return _FinalSample(monitor)
