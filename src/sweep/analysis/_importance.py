"""One sweep's analysis, from its runs table: which searched parameters matter
(:func:`fanova.importance`), how they act together (every run in parallel coordinates, the
two most important in a heat map), and what its configurations cost (:func:`_costs.costs`,
Pareto fronts). Tables and figures only: the report shows them for every sweep, and a
sweep logs its own on its parent run when it ends. Pure: no MLflow, no files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import names as M
from ..names import RunStatus
from . import _fanova as fanova
from . import _figures as plots
from . import _stats as stats

OBJECTIVE = M.VAL_ACCURACY  # what importance explains: the returned model's, on validation


@dataclass(frozen=True)
class SweepAnalysis:
    label: str  # the sweep and its budget, as the report names it
    params: list[str]  # its searched params (the columns that vary between configurations)
    importance: fanova.Importance
    figures: list[tuple[str, str, Any]] = field(default_factory=list)  # caption, name, Figure


def searched(runs: pd.DataFrame, specs: dict[str, str] | None) -> list[str]:
    """The params the sweep searched: those its parent logged as a search spec, else those
    that differ between its configurations."""
    varying = stats.varying_params(runs)
    if specs:
        return [p for p in specs if p in runs] or varying
    return varying


def analyse(
    runs: pd.DataFrame,
    label: str,
    slug: str,
    specs: dict[str, str] | None = None,
    costs: pd.DataFrame | None = None,
) -> SweepAnalysis:
    """The analysis of one sweep (``runs``: its rows of the runs table). Figures are named
    ``{slug}_importance.png`` and so on; ``costs`` (its rows of :func:`_costs.costs`) adds
    the cost figure."""

    params = searched(runs, specs)
    found = fanova.importance(runs, params, specs, OBJECTIVE)
    log = [p for p, spec in (specs or {}).items() if spec.startswith("loguniform")]
    figures = []
    if not found.table.empty:
        title = f"{label}: importance for {OBJECTIVE} (n = {found.n} runs, fANOVA)"
        figures.append(
            (
                f"Importance of the searched parameters: {label}",
                f"{slug}_importance.png",
                plots.importance_bars(found.table, title),
            )
        )
    runs_with_value = runs[
        runs["status"].isin([RunStatus.FINISHED, "PRUNED"]) & runs[OBJECTIVE].notna()
    ]
    if params and runs_with_value["config_id"].nunique() > 1:
        figure = plots.parallel_coordinates(runs, params, OBJECTIVE, f"{label}: every run", log)
        figures.append((f"Parallel coordinates: {label}", f"{slug}_parallel.png", figure))
    top = list(found.table.sort_values("importance", ascending=False)["param"][:2])
    if len(top) == 2:
        title = f"{label}: mean {OBJECTIVE} by its two most important parameters"
        figure = plots.interaction_heatmap(runs, top[1], top[0], OBJECTIVE, title)
        figures.append(
            (f"Interaction of the two most important: {label}", f"{slug}_interactions.png", figure)
        )
    if costs is not None and costs["parameters"].notna().any():
        figure = plots.cost_figure(costs, f"{label}: accuracy against cost")
        figures.append((f"Cost of each configuration: {label}", f"{slug}_costs.png", figure))
    return SweepAnalysis(label, params, found, figures)


def importance_rows(analysis: SweepAnalysis) -> list[dict[str, Any]]:
    """The importance table's rows for one sweep: a row per param, or one saying why
    there are none."""
    found = analysis.importance
    base = {"sweep": analysis.label, "n": found.n, "configurations": found.configurations}
    if found.table.empty:
        return [
            {
                **base,
                "param": "–",
                "importance": None,
                "values": None,
                "note": found.reason or "no searched parameter",
            }
        ]
    ordered = found.table.sort_values("importance", ascending=False)
    return [{**base, **row, "note": ""} for row in ordered.to_dict("records")]
