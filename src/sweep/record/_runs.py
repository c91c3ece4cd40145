"""MLflow runs -> the runs table: one row per trial (child run) with its configuration,
seed, role, status, params and final metrics, and one row per sweep (parent run) with what
its file said (hypothesis, prediction, budget, search space). The report reads a whole
store this way; a sweep reads its own trials back this way when it ends. Reads only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, get_args

import pandas as pd

from .. import names as M
from ..config import DistributionKind

PAGE = 1000
SEARCH_SPEC = "search_spec"  # a sweeps row: {param column: "choice[...]", ...}
SPEC_KINDS = get_args(DistributionKind)  # a parent logs a searched key as its spec


def all_runs(client: Any, experiment_ids: list[str], filter_string: str = "") -> list[Any]:
    """Every run of the experiments (MLflow pages its answers)."""
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            experiment_ids, filter_string, max_results=PAGE, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def is_trial(run: Any) -> bool:
    """A child run (a trial or a repeat); parents are sweeps."""
    return M.TAG_PARENT in run.data.tags


def trial_row(run: Any, experiment: str) -> dict[str, Any]:
    tags, metrics = run.data.tags, run.data.metrics
    seed = run.data.params.get("train.seed")
    row: dict[str, Any] = {
        "experiment": experiment,
        "parent_run_id": tags[M.TAG_PARENT],
        "run_id": run.info.run_id,
        # runs recorded before configurations were named count as one configuration each
        "config_id": tags.get(M.TAG_CONFIG, run.info.run_id[:8]),
        "seed": int(seed) if seed is not None else None,
        "role": tags.get(M.TAG_ROLE, "trial"),
        "trial": int(tags.get(M.TAG_TRIAL, 0)) or None,
        # a pruned run stopped early on purpose: never selected, never in the statistics
        "status": "PRUNED" if tags.get(M.TAG_PRUNED) == "true" else run.info.status,
        "start_time": datetime.fromtimestamp(run.info.start_time / 1000),
        "failure": tags.get(M.TAG_FAILURE),
    }
    row.update({f"params.{k}": v for k, v in run.data.params.items()})
    row.update(metrics)
    row[M.VAL_ACCURACY] = returned_model_val(metrics, run.data.params)
    return row


def returned_model_val(metrics: dict[str, float], params: dict[str, str]) -> float | None:
    """What selection uses: the validation accuracy of the model the run returned. Runs
    recorded before it was logged: the best epoch's if the run restored the best weights,
    else the last epoch's."""
    if M.MODEL_VAL_ACCURACY in metrics:
        return metrics[M.MODEL_VAL_ACCURACY]
    restored = params.get("train.early_stopping.restore_best") == "True"
    return metrics.get(M.BEST_VAL_ACCURACY if restored else M.VAL_ACCURACY)


def sweep_key(run: Any) -> str:
    """What sweeps must share to be pooled: the whole config, overrides included, except
    its seeds (``SweepIdentity.setup``, under its older name in older stores); a sweep
    recorded without it pools with none."""
    tags = run.data.tags
    return tags.get(M.TAG_SETUP_HASH) or tags.get(M.TAG_SETUP_HASH_BEFORE) or run.info.run_id


def sweep_row(run: Any, experiment: str) -> dict[str, Any]:
    """A parent run: its hypothesis, its prediction (the file's ``expect:``), the budget
    its file sets, and its search space ({param column: spec}); None where an older store
    has none of them. Then what it was (its setup's hash, :func:`sweep_key`) and how it
    ended (its status, and why: ``sweep.ended_by``)."""
    tags, params = run.data.tags, run.data.params
    searched = {
        f"params.{k}": v
        for k, v in params.items()
        if isinstance(v, str) and v.endswith("]") and v.split("[", 1)[0] in SPEC_KINDS
    }
    return {
        "experiment": experiment,
        "parent_run_id": run.info.run_id,
        "start_time": datetime.fromtimestamp(run.info.start_time / 1000),
        "hypothesis": tags.get(M.TAG_NOTE, ""),
        "expect": _json(tags.get(M.TAG_EXPECT)),
        "file_budget": _json(tags.get(M.TAG_FILE_BUDGET)),
        SEARCH_SPEC: searched,
        "sweep_key": sweep_key(run),
        "status": run.info.status,
        "ended_by": tags.get(M.TAG_ENDED_BY),
    }


def _json(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def sweep_frame(client: Any, experiment_id: str, experiment: str, parent_run_id: str):
    """One sweep's trials as the runs table (what its parent run's figures are drawn
    from), and its sweeps row."""
    children = all_runs(client, [experiment_id], f"tags.`{M.TAG_PARENT}` = '{parent_run_id}'")
    frame = pd.DataFrame([trial_row(r, experiment) for r in children])
    return frame, sweep_row(client.get_run(parent_run_id), experiment)
