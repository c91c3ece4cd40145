"""What each configuration costs (parameters, seconds per epoch and per run, images per
second), its Pareto front against accuracy, and its efficiency band beside the published
models. Pure: a runs table in, a table out."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .. import names as M
from ..names import RunStatus
from ..train import training_images
from ._stats import configurations


def pareto_front(cost: pd.Series, value: pd.Series) -> pd.Series:
    """True where no other point costs no more and scores at least as well, one of the two
    strictly (lower cost, higher value are better); NaN points are never on it."""
    ok = cost.notna() & value.notna()
    c, v = cost[ok].astype(float).to_numpy(), value[ok].astype(float).to_numpy()
    dominated = ((c[None, :] <= c[:, None]) & (v[None, :] >= v[:, None])) & (
        (c[None, :] < c[:, None]) | (v[None, :] > v[:, None])
    )
    front = pd.Series(False, index=cost.index)
    front[ok] = ~dominated.any(axis=1)
    return front


COST_FIELDS = ("parameters", "seconds_per_epoch", "seconds_per_run", "images_per_second")


def costs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration of each unit: its parameters, training seconds per epoch
    and per run and images per second (means over its finished runs), the validation and
    test statistics of :func:`configurations`, and whether it is on the Pareto front of
    validation accuracy against parameters (``front_parameters``) and against training
    seconds per run (``front_seconds``) among the configurations of the same budget."""
    finished = frame[frame["status"] == RunStatus.FINISHED].copy()
    per_run = finished.get(M.TRAIN_SECONDS, pd.Series(np.nan, index=finished.index)).astype(float)
    epochs = finished.get(M.EPOCHS_RUN, pd.Series(np.nan, index=finished.index)).astype(float)
    images = [
        _images(r.get("params.data.subset"), r.get("params.data.val_fraction"))
        for _, r in finished.iterrows()
    ]
    finished["seconds_per_run"] = per_run
    finished["seconds_per_epoch"] = per_run / epochs
    finished["images_per_second"] = epochs * pd.Series(images, index=finished.index) / per_run
    finished["parameters"] = finished.get(M.NUM_PARAMETERS, np.nan)
    table = configurations(frame)
    keys = ["sweep", "config_id"]
    means = finished.groupby(keys, sort=False)[list(COST_FIELDS)].mean().reset_index()
    table = table.merge(means, on=keys, how="left")
    table["front_parameters"] = False
    table["front_seconds"] = False
    for _, group in table.groupby("budget", sort=False):
        table.loc[group.index, "front_parameters"] = pareto_front(
            group["parameters"], group["val_mean"]
        )
        table.loc[group.index, "front_seconds"] = pareto_front(
            group["seconds_per_run"], group["val_mean"]
        )
    return table


def _images(subset: Any, val_fraction: Any) -> float:
    """Training images per epoch from a run's params (NaN where it logged none: an older
    or failed run)."""

    try:
        fraction = float(val_fraction)
    except (TypeError, ValueError):
        return math.nan
    if math.isnan(fraction) or subset is None or subset != subset:  # (NaN: none logged)
        return math.nan
    try:
        count = None if str(subset) in ("None", "null") else int(float(subset))  # None: all
    except ValueError:
        return math.nan
    return float(training_images(count, fraction))


# the study's parameter-efficiency table (REFERENCE-RESULTS.md): parameters, accuracy, minutes
PUBLISHED_EFFICIENCY = (
    (300_000, 800_000, "93–94%", "2–4 min"),
    (1_200_000, 4_100_000, "92–93%", "5–8 min"),
)


EFFICIENCY_BANDS = (0, 300_000, 800_000, 1_200_000, 4_100_000, math.inf)


def efficiency(costs_table: pd.DataFrame) -> pd.DataFrame:
    """The study's parameter-efficiency table regenerated: per budget and band of parameter
    counts (the study's bands: 300K–800K and 1.2M–4.1M, and those between and around them),
    the configurations in it, the range of their validation and test means and of their
    training minutes per run, beside the published figures of the band."""
    table = costs_table.dropna(subset=["parameters"])
    rows = []
    for budget_, group in table.groupby("budget", sort=False):
        bands = pd.cut(group["parameters"], EFFICIENCY_BANDS, right=False)
        for band, members in group.groupby(bands, observed=True):
            published = next(
                ((acc, mins) for lo, hi, acc, mins in PUBLISHED_EFFICIENCY if lo == band.left),
                ("–", "–"),
            )
            rows.append(
                {
                    "budget": budget_,
                    "low": band.left,
                    "high": band.right,
                    "configurations": len(members),
                    "runs": int(members["runs"].sum()),
                    "val_low": members["val_mean"].min(),
                    "val_high": members["val_mean"].max(),
                    "test_low": members["test_mean"].min(),
                    "test_high": members["test_mean"].max(),
                    "minutes_low": members["seconds_per_run"].min() / 60,
                    "minutes_high": members["seconds_per_run"].max() / 60,
                    "published_accuracy": published[0],
                    "published_minutes": published[1],
                }
            )
    return pd.DataFrame(rows)
