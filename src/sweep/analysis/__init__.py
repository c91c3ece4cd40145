"""Pure analysis: tables and figures in, tables and figures out (no store, no search).
Evaluation of predictions (``_evaluation``), the selection rule and seeds (``_selection``),
what a sweep's trials came to (``_outcomes``), statistics (``_stats``), findings against a
file's prediction (``_findings``), cost (``_costs``), fANOVA importance (``_fanova``), one
sweep's analysis (``_importance``) and every figure (``_figures``).
"""

from ._costs import costs, efficiency
from ._evaluation import (
    confusion,
    confusion_frame,
    epoch_history,
    per_class,
    predictions_text,
    read_confusion,
    summary_text,
)
from ._fanova import MIN_IMPORTANCE_CONFIGS
from ._figures import (
    confusion_matrix_figure,
    cost_figure,
    history_frame,
    learning_curves,
    metric_per_experiment,
    optimization_history,
    params_vs_metric,
)
from ._findings import budget_notes, findings
from ._importance import analyse, importance_rows, searched
from ._outcomes import SweepResult, TrialSummary
from ._selection import REPEAT, TRIAL, base_seed, best, config_id, missing_runs, roles, trial_seed
from ._stats import (
    best_so_far,
    compare,
    configurations,
    describe,
    mark_selected,
    searched_params,
    summarize,
)

__all__ = [
    "MIN_IMPORTANCE_CONFIGS",
    "REPEAT",
    "SweepResult",
    "TRIAL",
    "TrialSummary",
    "analyse",
    "base_seed",
    "best",
    "best_so_far",
    "budget_notes",
    "compare",
    "config_id",
    "configurations",
    "confusion",
    "confusion_frame",
    "confusion_matrix_figure",
    "cost_figure",
    "costs",
    "describe",
    "efficiency",
    "epoch_history",
    "findings",
    "history_frame",
    "importance_rows",
    "learning_curves",
    "mark_selected",
    "metric_per_experiment",
    "missing_runs",
    "optimization_history",
    "params_vs_metric",
    "per_class",
    "predictions_text",
    "read_confusion",
    "roles",
    "searched",
    "searched_params",
    "summarize",
    "summary_text",
    "trial_seed",
]
