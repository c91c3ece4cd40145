"""The search: the space and its samples (``_space``), the samplers (``_samplers``: TPE,
random, anneal, the grid, start points and the replay of cut-off trials), the pruning rules
(``_pruning``), where trials run (``_backends``), the state of a sweep on disk and resuming
it (``_state``), one trial's lifecycle (``_trial``), a sweep's two phases (``_phases``: the
search and the repeats), a sweep from start to end (``_loop``: :func:`run_sweep`), a
study of several sweeps (``_study``) and searches replayed against a table of learning
curves (``_replay``). It decides; ``record`` writes.
"""

from ._backends import BackendError, cancel_when_store_lost, resolve_master, store_lost
from ._loop import run_sweep
from ._phases import RunOptions, no_progress_stop, planned_runs
from ._pruning import Siblings, applies, is_rung, should_prune
from ._replay import ReplayTrial, Table, TableError, reached, replay, selected, selected_at
from ._space import BUILDERS, apply_sample, build_space
from ._study import Planned, load_study, plan
from ._trial import STATUS_OK

__all__ = [
    "BUILDERS",
    "BackendError",
    "Planned",
    "ReplayTrial",
    "RunOptions",
    "STATUS_OK",
    "Siblings",
    "Table",
    "TableError",
    "applies",
    "apply_sample",
    "build_space",
    "cancel_when_store_lost",
    "is_rung",
    "load_study",
    "no_progress_stop",
    "plan",
    "planned_runs",
    "reached",
    "replay",
    "resolve_master",
    "run_sweep",
    "selected",
    "selected_at",
    "should_prune",
    "store_lost",
]
