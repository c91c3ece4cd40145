"""The ``sweep:`` block (algorithm, trials, repeats, budgets, pruner, start points), the
search space's dimensions (``{KIND: ARGS}``) and a file's prediction (``expect:``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    Field,
    Strict,
    field_validator,
    model_validator,
)

from ._base import (
    MAX_EPOCHS,
    MAX_REPEATS,
    MAX_SECONDS,
    MAX_TRIALS,
    Bool,
    Float,
    Frozen,
    Int,
    Seed,
    parse_duration,
    same_value,
)
from ._reader import _short

TPE_STARTUP = 20  # Hyperopt's own default (tpe._default_n_startup_jobs)


class PrunerConfig(Frozen):
    """Stop a trial that is clearly behind the sweep's other trials at the same epoch.

    ``median``: after ``warmup_epochs``, below the median validation accuracy of the other
    trials that reached this epoch (at least ``min_trials`` of them). ``asha``: at the rungs
    ``min_epochs * eta**k``, only the best ``1/eta`` of the trials that reached the rung go on.
    """

    kind: Literal["none", "median", "asha"] = "none"
    warmup_epochs: Int = Field(1, ge=0, le=MAX_EPOCHS)  # median: epochs before comparing
    min_trials: Int = Field(2, ge=1, le=MAX_TRIALS)  # median: other trials needed at an epoch
    min_epochs: Int = Field(1, ge=1, le=MAX_EPOCHS)  # asha: the first rung
    eta: Int = Field(3, ge=2, le=100)  # asha: reduction factor


class SweepConfig(Frozen):
    # grid: every combination of the choice dimensions, once per seed (max_evals unused)
    algo: Literal["tpe", "random", "anneal", "grid"] = "tpe"
    max_evals: Int = Field(10, ge=1, le=MAX_TRIALS)
    # tpe: the trials it draws at random before it models the results (Hyperopt's
    # n_startup_jobs, 20 by default: a TPE sweep of 20 trials or fewer is a random search)
    tpe_startup: Int = Field(TPE_STARTUP, ge=1, le=MAX_TRIALS)
    # runs (seeds) per configuration for the top configurations after the search
    # (grid: for every combination)
    repeats: Int = Field(1, ge=1, le=MAX_REPEATS)
    repeat_top: Int = Field(1, ge=1, le=MAX_REPEATS)  # how many best configurations get repeats
    seed: Seed = 42
    objective: Literal["val_loss", "val_accuracy"] = "val_accuracy"
    # a wall-clock budget for the whole sweep: "2h", "90m", "1h30m", "45s", or seconds; no
    # trial starts after it (at most a year). timeout_minutes: the same, in minutes
    time_budget: Float | None = Field(None, gt=0.0, le=MAX_SECONDS)
    timeout_minutes: Float | None = Field(None, gt=0.0, le=MAX_SECONDS / 60)
    # at the budget, the running trial: "trial" lets it finish, then the sweep ends with its
    # summary; "epoch" stops it after its epoch, as Ctrl-C does (resumable)
    time_budget_grace: Literal["trial", "epoch"] = "trial"
    # stop after N trials without a new best
    no_progress_stop: Int | None = Field(None, ge=1, le=MAX_TRIALS)
    backend: Literal["local", "spark"] = "local"  # spark: Hyperopt's SparkTrials
    parallelism: Int = Field(2, ge=1, le=MAX_REPEATS)  # spark: trials running at once
    # log the selected configuration's model and register it (like MLflow's log_models);
    # false keeps only its weights and config as run artifacts (saves torch.export's seconds)
    log_model: Bool = True
    # draw every trial's learning curves and confusion matrix (about a second a trial);
    # false draws the selected trial's only (every trial keeps its numbers)
    trial_figures: Bool = False
    # MLflow's system metrics on every trial run (CPU, memory, disk, network; GPU where
    # there is one), sampled every 10 s: how busy the machine was
    system_metrics: Bool = True
    pruner: PrunerConfig = PrunerConfig()
    # configurations tried first, in order, before the search proposes its own (counted in
    # max_evals, seeded and recorded like any trial, and learnt from): each a mapping of
    # every searched key to a value inside its search dimension, e.g. a published winner
    start_with: tuple[dict[str, Any], ...] = Field((), max_length=MAX_TRIALS)

    @field_validator("time_budget", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v) if isinstance(v, str) else v

    def budget_seconds(self) -> float | None:
        """The sweep's wall-clock budget in seconds (``time_budget``, else
        ``timeout_minutes``), or None."""
        if self.time_budget is not None:
            return self.time_budget
        return self.timeout_minutes * 60 if self.timeout_minutes is not None else None


# ----------------------------------------------------------------------------- search space
# The distribution kinds, listed once (space.py has one builder for each).
DistributionKind = Literal["choice", "uniform", "loguniform", "quniform", "int"]


DISTRIBUTIONS: tuple[str, ...] = get_args(DistributionKind)


class Distribution(Frozen):
    """One search dimension, written in YAML as ``{KIND: ARGS}``.

    ``choice: [a, b, c]``; ``uniform: [low, high]``; ``loguniform: [low, high]``;
    ``quniform: [low, high, q]``; ``int: [low, high]`` (integers, both ends included).
    """

    kind: DistributionKind
    args: tuple[Any, ...]

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        if isinstance(data, dict) and set(data) != {"kind", "args"}:
            if len(data) != 1 or next(iter(data)) not in DISTRIBUTIONS:
                raise ValueError(
                    f"a search dimension is one of {{{', '.join(DISTRIBUTIONS)}}}: ARGS, "
                    f"got {data!r}"
                )
            ((kind, args),) = data.items()
            return {"kind": kind, "args": args}
        if not isinstance(data, dict):
            raise ValueError(
                f"a search dimension is a mapping like {{choice: [1, 2]}}, got {data!r}"
            )
        return data

    @model_validator(mode="after")
    def _check_args(self) -> Distribution:
        kind, args = self.kind, self.args
        if kind == "choice":
            if not args:
                raise ValueError("choice needs at least one option")
            return self
        arity = 3 if kind == "quniform" else 2
        if len(args) != arity or not all(
            isinstance(a, int | float) and not isinstance(a, bool) and abs(a) < 2**53 for a in args
        ):
            shape = "[low, high, q]" if arity == 3 else "[low, high]"
            raise ValueError(f"{kind} needs {shape} as finite numbers, got {_short(list(args))}")
        low, high = args[0], args[1]
        if kind == "int" and not all(isinstance(a, int) for a in args):
            raise ValueError(f"int needs integer bounds, got {list(args)}")
        if low >= high:
            raise ValueError(f"{kind} needs low < high, got low={low}, high={high}")
        if kind == "loguniform" and low <= 0:
            raise ValueError(f"loguniform needs low > 0, got {low}")
        if kind == "quniform" and args[2] <= 0:
            raise ValueError(f"quniform needs a step q > 0, got {args[2]}")
        return self

    def contains(self, value: Any) -> bool:
        """Whether the dimension can produce ``value`` (a choice: one of its options, of
        the same kind: ``true`` is not 1; a range: a number within its bounds)."""
        if self.kind == "choice":
            return any(same_value(value, option) for option in self.args)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or (self.kind == "int" and not isinstance(value, int)):
            return False
        if (
            self.kind == "quniform"
            and abs(value / self.args[2] - round(value / self.args[2])) > 1e-9
        ):
            return False  # (quniform draws multiples of q)
        return self.args[0] <= value <= self.args[1]

    def extremes(self) -> tuple[Any, ...]:
        """Values that span the dimension, used to check that every sample is valid."""
        if self.kind == "choice":
            return self.args
        return (self.args[0], self.args[1])

    def describe(self) -> str:
        return f"{self.kind}{list(self.args)}"


# what a hypothesis predicts, as the report checks it (``expect:``): one of these keys
EXPECT_RELATIVE = ("better_than", "worse_than", "no_better_than", "no_worse_than")


EXPECT_ABSOLUTE = ("at_least", "between")


EXPECT_METRICS = ("test_accuracy", "val_accuracy")


Fraction = Annotated[float, Strict(), Field(ge=0, le=1)]


class Expectation(Frozen):
    """The prediction of an experiment's hypothesis in a form the report can check: the
    selected configuration's mean ``metric`` compared with another experiment's
    (``better_than: exp1_baseline_batchnorm``...) or with a figure (``at_least: 0.945``,
    ``between: [0.89, 0.90]``). One key of the six; not part of what a sweep trains."""

    metric: Literal["test_accuracy", "val_accuracy"] = "test_accuracy"
    better_than: str | None = Field(None, min_length=1, max_length=200)
    worse_than: str | None = Field(None, min_length=1, max_length=200)
    no_better_than: str | None = Field(None, min_length=1, max_length=200)
    no_worse_than: str | None = Field(None, min_length=1, max_length=200)
    at_least: Fraction | None = None
    between: tuple[Fraction, Fraction] | None = None

    @model_validator(mode="after")
    def _one_prediction(self) -> Expectation:
        given = [k for k in (*EXPECT_RELATIVE, *EXPECT_ABSOLUTE) if getattr(self, k) is not None]
        if len(given) != 1:
            keys = ", ".join((*EXPECT_RELATIVE, *EXPECT_ABSOLUTE))
            found = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(f"give exactly one of {keys} ({found})")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError("between: the low figure comes first, e.g. [0.89, 0.90]")
        return self

    @property
    def rule(self) -> str:
        """``worse_than``, ``at_least``...: the key given."""
        return next(
            k for k in (*EXPECT_RELATIVE, *EXPECT_ABSOLUTE) if getattr(self, k) is not None
        )

    @property
    def baseline(self) -> str | None:
        """The experiment a relative prediction is compared with (None: a figure)."""
        return getattr(self, self.rule) if self.rule in EXPECT_RELATIVE else None
