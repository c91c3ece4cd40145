"""Step 1 of the data flow: experiment YAML -> validated, frozen ``ExperimentConfig``.

Everything after :func:`load_experiment` sees typed, immutable objects, never a raw dict.
Errors are raised as :class:`ConfigError` with one paragraph naming the file, the key and
the value, so that the CLI can print them without a traceback.
"""

from __future__ import annotations

import math
import operator
import re
import urllib.parse
from functools import reduce
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from ._reader import _short


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# Numbers are numbers: a YAML `true`, "3" or 3.0 where a whole number is meant is refused,
# never converted (pydantic's strict mode, field by field, so that YAML lists still fill
# tuples). A float field takes a whole number (1 is 1.0), never a boolean or a string.
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]

# Seeds go to NumPy, scikit-learn and torch: whole numbers in [0, 2^32).
Seed = Annotated[int, Strict(), Field(ge=0, le=2**32 - 1)]

# Upper bounds no one reaches by intent: past them a value is a typo (an extra digit),
# refused at load instead of training until it is killed.
MAX_EPOCHS = 10_000  # epochs, and every count of epochs (patience, step size, warm-up)
MAX_TRIALS = 100_000  # max_evals, no_progress_stop
MAX_REPEATS = 1_000  # repeats, repeat_top, parallelism
MAX_BATCH = 65_536  # images per batch (the training set has 60,000)
MAX_WIDTH = 65_536  # filters, units and hidden widths
MAX_SECONDS = 366 * 24 * 3600.0  # a sweep's time budget: at most a year

_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?)h)?(?:(\d+(?:\.\d*)?)m)?(?:(\d+(?:\.\d*)?)s)?")


def parse_duration(text: str) -> float:
    """``"2h"``, ``"90m"``, ``"1h30m"``, ``"45s"`` or ``"600"`` -> seconds."""
    compact = text.strip().replace(" ", "").lower()
    try:
        return float(compact)
    except ValueError:
        pass
    match = _DURATION.fullmatch(compact)
    if not compact or match is None:
        raise ValueError(
            f"a duration is written like 2h, 90m, 1h30m, 45s or 600 (seconds), got {text!r}"
        )
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


# ----------------------------------------------------------------------------- models
class CNNConfig(_Frozen):
    """Conv blocks (conv-[BN]-ReLU-pool-dropout) whose widths double up to ``filters``."""

    kind: Literal["cnn"] = "cnn"
    num_blocks: Int = Field(3, ge=1, le=4)  # 28 px halves per block: 4 blocks end at 1x1
    filters: Int = Field(
        256, ge=4, le=MAX_WIDTH
    )  # channels of the last block; block i has filters/2^(n-1-i)
    units1: Int = Field(192, ge=1, le=MAX_WIDTH)  # first dense layer
    units2: Int = Field(96, ge=1, le=MAX_WIDTH)  # second dense layer
    dropout: tuple[Float, ...] = (0.05, 0.15, 0.1)  # one rate per conv block
    dense_dropout: Float = Field(0.0, ge=0.0, lt=1.0)  # after each dense layer
    batchnorm: Bool = True
    residual: Bool = False  # an extra 3x3 conv pair per block with an identity shortcut
    dual_path: Bool = False  # a second tower of 5x5 convs, concatenated before the dense head

    @field_validator("dropout")
    @classmethod
    def _rates(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 <= r < 1.0 for r in v):
            raise ValueError(f"every dropout rate must be in [0, 1), got {list(v)}")
        return v

    @model_validator(mode="after")
    def _one_rate_per_block(self) -> CNNConfig:
        if len(self.dropout) != self.num_blocks:
            raise ValueError(
                f"dropout needs one rate per conv block: num_blocks is {self.num_blocks} "
                f"but dropout has {len(self.dropout)} values {list(self.dropout)}"
            )
        if self.filters % 2 ** (self.num_blocks - 1):
            raise ValueError(
                f"filters={self.filters} must be divisible by 2^(num_blocks-1)="
                f"{2 ** (self.num_blocks - 1)} (block widths halve from the last block)"
            )
        return self


class MLPConfig(_Frozen):
    """The dense baseline: Dense-[BN]-ReLU-Dropout per hidden layer, then softmax."""

    kind: Literal["mlp"] = "mlp"
    hidden: tuple[Annotated[Int, Field(ge=1, le=MAX_WIDTH)], ...] = Field(
        (256, 128), max_length=64
    )
    dropout: Float = Field(0.2, ge=0.0, lt=1.0)
    batchnorm: Bool = True


class WideDeepConfig(_Frozen):
    """Row-wise deep path (Dense-ReLU-BN twice, dropout) beside each raw pixel row."""

    kind: Literal["wide_deep"] = "wide_deep"
    units: Int = Field(30, ge=1, le=MAX_WIDTH)
    dropout: Float = Field(0.5, ge=0.0, lt=1.0)


class ResNetConfig(_Frozen):
    """A compact residual network (ResNet-9 style): a 3x3 conv stem of ``stem`` channels;
    per entry of ``widths`` a stage of conv3x3 to that width, 2x2 max-pool (28 px -> 14 -> 7
    ...) and ``blocks`` residual pairs; global pooling; one linear layer. BatchNorm after
    every conv. At the defaults, 464K parameters."""

    kind: Literal["resnet"] = "resnet"
    stem: Int = Field(32, ge=1, le=MAX_WIDTH)  # channels of the stem conv (28 x 28)
    widths: tuple[Annotated[Int, Field(ge=1, le=MAX_WIDTH)], ...] = Field(
        (64, 128), min_length=1, max_length=4
    )  # one stage each; each stage halves the side, so at most 4 (28 -> 1)
    blocks: Int = Field(1, ge=0, le=8)  # residual pairs (conv-BN-ReLU twice) per stage
    pool: Literal["max", "avg"] = "max"  # global pooling before the linear layer


# The model kinds, listed once: a new kind is a class here and a builder in models.REGISTRY.
MODEL_CONFIGS: tuple[type[_Frozen], ...] = (CNNConfig, MLPConfig, WideDeepConfig, ResNetConfig)
MODEL_KINDS: tuple[str, ...] = tuple(
    get_args(c.model_fields["kind"].annotation)[0] for c in MODEL_CONFIGS
)
ModelConfig = Annotated[reduce(operator.or_, MODEL_CONFIGS), Field(discriminator="kind")]


# ----------------------------------------------------------------------------- training
class OptimizerConfig(_Frozen):
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: Float = Field(1e-3, gt=0.0)
    weight_decay: Float = Field(0.0, ge=0.0)
    momentum: Float = Field(0.9, ge=0.0, lt=1.0)  # SGD only
    nesterov: Bool = False  # SGD only: Nesterov momentum
    # SGD only: weight decay applied to the weights directly (w -= lr * wd * w, as AdamW
    # does), not added to the gradient where momentum would carry it
    decoupled_weight_decay: Bool = False

    @model_validator(mode="after")
    def _sgd_only(self) -> OptimizerConfig:
        if self.name != "sgd" and (self.nesterov or self.decoupled_weight_decay):
            raise ValueError(
                "nesterov and decoupled_weight_decay are SGD's (adamw decays decoupled "
                "already): set name: sgd, or remove them"
            )
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        return self


class SchedulerConfig(_Frozen):
    """How the learning rate moves. ``step`` and ``plateau`` act once per epoch; ``onecycle``
    (up from lr/25 to lr over ``warmup`` of the steps, then down to lr/25e4) and ``cosine``
    (up from 0 over ``warmup``, then a half cosine down to ``min_lr``) act after every
    batch."""

    name: Literal["none", "step", "plateau", "onecycle", "cosine"] = "none"
    # onecycle, cosine: the fraction of all training steps spent warming up (0.25 of 20
    # epochs: 5 epochs)
    warmup: Float = Field(0.25, ge=0.0, lt=1.0)
    anneal: Literal["cos", "linear"] = "cos"  # onecycle: the shape of its way up and down
    step_size: Int = Field(10, ge=1, le=MAX_EPOCHS)  # StepLR: epochs between decays
    gamma: Float = Field(0.5, gt=0.0, le=1.0)  # StepLR: factor per decay
    factor: Float = Field(0.5, gt=0.0, lt=1.0)  # ReduceLROnPlateau: factor on a plateau
    patience: Int = Field(2, ge=0, le=MAX_EPOCHS)  # ReduceLROnPlateau: epochs without gain
    min_lr: Float = Field(1e-6, ge=0.0)  # ReduceLROnPlateau's floor; cosine's end
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"  # ReduceLROnPlateau

    @model_validator(mode="after")
    def _warmup(self) -> SchedulerConfig:
        if self.name == "onecycle" and self.warmup == 0:
            raise ValueError("onecycle needs warmup > 0 (its way up); cosine can start at lr")
        return self


class EarlyStoppingConfig(_Frozen):
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    patience: Int = Field(5, ge=1, le=MAX_EPOCHS)  # epochs without improvement, then stop
    restore_best: Bool = True  # evaluate the test set with the best epoch's weights


class AugmentConfig(_Frozen):
    hflip: Bool = False  # random horizontal flip, p=0.5
    # random erasing (Zhong et al.): with this probability per image, a rectangle of 2-40%
    # of its area (aspect 0.3-3.3) is filled with random pixels; 0 is off
    random_erasing: Float = Field(0.0, ge=0.0, le=1.0)
    cutout: Int = Field(0, ge=0, le=28)  # a square of this side zeroed in every image (0 off)
    crop_padding: Int = Field(0, ge=0, le=8)  # random shift by up to this many pixels


class TrainConfig(_Frozen):
    epochs: Int = Field(10, ge=1, le=MAX_EPOCHS)
    batch_size: Int = Field(64, ge=1, le=MAX_BATCH)
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    early_stopping: EarlyStoppingConfig | None = None
    augment: AugmentConfig = AugmentConfig()
    # training loss only: the target puts 1 - s on its class and s/10 on every class
    # (validation and test losses stay plain cross-entropy, comparable across runs)
    label_smoothing: Float = Field(0.0, ge=0.0, lt=1.0)
    # weights averaged after every step, w_ema = d * w_ema + (1 - d) * w (BatchNorm's
    # statistics too), validated, tested and logged in place of the raw weights; a decay
    # of 0.999 averages over about 1,000 steps. None: off
    ema: Float | None = Field(None, gt=0.0, lt=1.0)
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    # how pixels enter the model: standardized, (x/255 - mean) / std of the training images;
    # unit, x/255 in [0, 1] (the Keras baselines' preprocessing)
    pixels: Literal["standardized", "unit"] = "standardized"
    # None: 256 on a CPU (faster there than larger batches: cache), 1024 on a GPU
    eval_batch_size: Int | None = Field(None, ge=1, le=MAX_BATCH)
    seed: Seed = 0  # model init and batch order; trial N trains with seed + N
    # auto: CUDA, then Apple MPS, then the CPU; whether the named one exists is checked
    # before anything runs (train.device_problem)
    device: str = "auto"

    @field_validator("device")
    @classmethod
    def _device_name(cls, v: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v):
            raise ValueError(
                f"unknown device {v!r}: use auto (the best one present), cpu, cuda, cuda:N "
                "(the N-th GPU) or mps (Apple silicon)"
            )
        return v


class EvalConfig(_Frozen):
    """How a model is scored, in validation (every epoch, and for selection) and test
    alike, and by the logged model: ``tta: [hflip]`` averages the softmax of the image and
    of its mirror image (test-time augmentation)."""

    tta: tuple[Literal["hflip"], ...] = Field((), max_length=1)


# ----------------------------------------------------------------------------- data, sweep
TRAINING_SET = 60_000  # Fashion-MNIST's training images (validation is split from them)
CLASSES = 10


def split_problem(
    val_fraction: float, subset: int | None, available: int = TRAINING_SET, classes: int = CLASSES
) -> str | None:
    """Why the stratified splits cannot be drawn: a subset that leaves fewer than one
    image per class outside it, a validation or training split with fewer images than
    classes (scikit-learn's stratified split needs one of each class on each side);
    None where they can."""
    n = min(subset, available) if subset else available
    if subset and available - classes < subset < available:
        return (
            f"data.subset {subset:,} of the {available:,} training images leaves "
            f"{available - subset} outside it, fewer than the {classes} classes, so no "
            f"stratified subset can be drawn. Use data.subset {available - classes:,} or less, "
            f"or leave it out for all {available:,}"
        )
    n_val = math.ceil(val_fraction * n)
    if n_val >= classes and n - n_val >= classes:
        return None
    side = "validation" if n_val < classes else "training"
    count = n_val if n_val < classes else n - n_val
    low, high = classes / n, (n - classes) / n
    return (
        f"data.val_fraction {val_fraction:g} of {n:,} images leaves {count} {side} images, "
        f"fewer than the {classes} classes: every class needs a training and a validation "
        f"image (and a validation split too small to score selects nothing). Use a "
        f"val_fraction between {math.ceil(low * 1e4) / 1e4:g} and {math.floor(high * 1e4) / 1e4:g}"
        + (", or a larger data.subset" if subset else "")
    )


class DataConfig(_Frozen):
    val_fraction: Float = Field(0.1, gt=0.0, lt=1.0)  # stratified, from the training images
    # use only this many training images (stratified; the training set has 60,000)
    subset: Int | None = Field(None, ge=100, le=TRAINING_SET)
    split_seed: Seed = 0  # the same split for every trial of every sweep

    @model_validator(mode="after")
    def _splittable(self) -> DataConfig:
        problem = split_problem(self.val_fraction, self.subset)
        if problem:
            raise ValueError(problem)
        return self


class PrunerConfig(_Frozen):
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


class SweepConfig(_Frozen):
    # grid: every combination of the choice dimensions, once per seed (max_evals unused)
    algo: Literal["tpe", "random", "anneal", "grid"] = "tpe"
    max_evals: Int = Field(10, ge=1, le=MAX_TRIALS)
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


class Distribution(_Frozen):
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


class Expectation(_Frozen):
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


class ExperimentConfig(_Frozen):
    name: str = Field(min_length=1, max_length=200)
    hypothesis: str = ""
    expect: Expectation | None = None  # what the hypothesis predicts (the report checks it)
    model: ModelConfig = CNNConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    data: DataConfig = DataConfig()
    sweep: SweepConfig = SweepConfig()
    search: dict[str, Distribution] = {}

    @field_validator("name")
    @classmethod
    def _printable(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the name (the MLflow experiment) must not be blank")
        if not v.isprintable():
            raise ValueError("the name (the MLflow experiment) must be printable text")
        if "/" in v or ":" in v or v.startswith("..") or v == ".":
            raise ValueError(
                "the name is also the name of the registered model, which cannot hold '/' "
                "or ':' nor start with '..': choose another name"
            )
        uri = f"models:/{v}@best"  # how the selected model is named (MLflow parses it so)
        if urllib.parse.urlparse(uri, allow_fragments=False).path != uri.removeprefix("models:"):
            raise ValueError(
                "the name is also the registered model's, loaded as models:/NAME@best, which "
                "cannot hold '?' (a URI reads a query from there): choose another name"
            )
        return v

    @model_validator(mode="before")
    @classmethod
    def _default_model_kind(cls, data: Any) -> Any:
        """A ``model:`` block without ``kind`` is a CNN (the default model)."""
        model = data.get("model") if isinstance(data, dict) else None
        if isinstance(model, dict) and "kind" not in model:
            data = {**data, "model": {"kind": "cnn", **model}}
        return data

    def grid_size(self) -> int:
        """How many combinations the choice dimensions make (1 for an empty search)."""
        return math.prod(len(d.args) for d in self.search.values())

    def fixed_params(self) -> dict[str, Any]:
        """The config without the search space, flattened to dotted keys."""
        return flatten(self.model_dump(mode="json", exclude={"search", "hypothesis", "expect"}))


# ----------------------------------------------------------------------------- helpers
def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``tree["a"]["b"] = value`` for ``dotted="a.b"``, creating dicts as needed."""
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise KeyError(dotted)
        node = child
    node[leaf] = value


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same kind (``True`` is not ``1``; a list equals a tuple)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return isinstance(a, bool) == isinstance(b, bool) and a == b
