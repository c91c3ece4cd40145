"""Step 1 of the data flow: experiment YAML -> validated, frozen ``ExperimentConfig``.

Everything after :func:`load_experiment` sees typed, immutable objects, never a raw dict.
Errors are raised as :class:`ConfigError` with one paragraph naming the file, the key and
the value, so that the CLI can print them without a traceback.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import json
import math
import operator
import os
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from .faults import first_line


class ConfigError(ValueError):
    """An experiment file (or an override) that cannot be turned into a valid config."""


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
MAX_INT_DIGITS = 100  # an integer literal in a file: Python converts at most 4,300 digits
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


# What an experiment file can be: a few KB, a few levels deep. Past these limits a file is
# refused with one message (instead of running out of memory, stack or patience).
MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 16  # mappings and lists within each other
MAX_VALUES = 20_000  # counted with YAML aliases expanded, as they would be validated


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (on libyaml where the wheel has it: ten times faster), stricter
    where its defaults hide a mistake: a key written twice in one mapping is an error naming
    both lines (PyYAML keeps the last), an integer literal of more than ``MAX_INT_DIGITS``
    digits is an error (Python refuses to convert one of 4,300), and ``1e-3`` is a number,
    as in YAML 1.2 (YAML 1.1 reads it as a string)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if not isinstance(node, yaml.MappingNode):  # (`!!map` on a scalar: PyYAML says so)
            return super().construct_mapping(node, deep=deep)
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: overrides are meant
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if value_node.tag == "tag:yaml.org,2002:int":
                self._check_digits(value_node, f"key {_short(key, 60)} has ")
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: PyYAML's own error says so
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {_short(key, 60)} is written twice in one mapping, at lines {first} "
                    f"and {line}; keep one of them",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def _check_digits(self, node: yaml.ScalarNode, what: str = "") -> None:
        digits = sum(ch.isalnum() for ch in str(node.value))  # (hexadecimal digits too)
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{what}an integer literal of {digits:,} digits (at most {MAX_INT_DIGITS} are "
                "read; no setting needs more than a few)",
                node.start_mark,
            )

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        self._check_digits(node)
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)
_LOADER = _Loader


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


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Child values win; nested dicts merge; a ``null`` in the child removes the key."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None and key in out:
            del out[key]
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same kind (``True`` is not ``1``; a list equals a tuple)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _check_start_with(config: ExperimentConfig, source: str) -> None:
    """Each ``sweep.start_with`` point names every searched key, each with a value its
    search dimension can produce."""
    searched = set(config.search)
    for i, point in enumerate(config.sweep.start_with):
        where = f"{source}: key 'sweep.start_with[{i}]'"
        if not searched:
            raise ConfigError(
                f"{where}: there is no search, so no configuration to start with: every trial "
                "is the fixed config. Remove start_with, or add a search."
            )
        if config.sweep.algo == "grid":
            raise ConfigError(
                f"{where}: a grid runs every combination already; start_with is for the "
                "tpe, random and anneal searches. Remove it, or change sweep.algo."
            )
        unknown, missing = sorted(set(point) - searched), sorted(searched - set(point))
        if unknown:
            raise ConfigError(
                f"{where}: {listed([_part(k) for k in unknown])} is not a searched key (the "
                f"search has {listed([_part(k) for k in sorted(searched)]) or 'none'}). Name "
                "searched keys only."
            )
        if missing:
            raise ConfigError(
                f"{where}: gives no value for the searched key(s) "
                f"{listed([_part(k) for k in missing])}: a starting point is a whole "
                "configuration. Add them."
            )
        for key, value in point.items():
            dist = config.search[key]
            if not dist.contains(value):
                raise ConfigError(
                    f"{where}: {key}={_short(value)} is outside its search dimension "
                    f"{dist.describe()}. Use a value the search can produce."
                )


def _short(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters (a message stays one paragraph)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _part(key: Any) -> str:
    """One part of a dotted key as printed: odd keys (a newline, 5,000 characters) as repr."""
    text = str(key)
    return text if text.isprintable() and len(text) <= 60 else _short(key, 60)


def _key(path: tuple[Any, ...]) -> str:
    return ".".join(_part(p) for p in path) or "(top level)"


def check_shape(tree: Any, where: str) -> None:
    """Refuse what no experiment file is: deeper than ``MAX_DEPTH``, more than ``MAX_VALUES``
    values (YAML aliases can repeat one value without end), or a value containing itself."""
    stack: list[tuple[Any, tuple[Any, ...], frozenset[int]]] = [(tree, (), frozenset())]
    count = 0
    while stack:
        node, path, above = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ConfigError(
                f"{where}: holds more than {MAX_VALUES:,} values (counting each use of a YAML "
                "alias); an experiment file needs a few dozen. Write it out plainly."
            )
        if not isinstance(node, dict | list):
            continue
        if id(node) in above:
            raise ConfigError(
                f"{where}: key '{_key(path)}' contains itself (a YAML alias to a value that "
                "encloses it). Write the value out plainly."
            )
        if len(path) >= MAX_DEPTH:
            raise ConfigError(
                f"{where}: key '{_key(path[:3])}' is nested more than {MAX_DEPTH} levels deep; "
                "an experiment file is a few levels of mappings. Check the brackets."
            )
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((value, (*path, key), above | {id(node)}) for key, value in items)


def _check_nesting(data: bytes, where: str) -> None:
    """Refuse a file nested deeper than ``MAX_DEPTH`` from its parse events, before it is
    built into objects (which recurses once per level and would exhaust the stack)."""
    depth = 0
    for event in yaml.parse(data, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1
                raise ConfigError(
                    f"{where}: nested more than {MAX_DEPTH} levels deep at line {line}; an "
                    "experiment file is a few levels of mappings. Check the brackets."
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _read_yaml(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    where = f"{path}" if not chain else f"{path} (extended by {chain[-1]})"
    try:
        if not path.exists() and path.is_symlink():
            raise ConfigError(
                f"{where}: a symbolic link to {os.readlink(path)}, which does not exist. Point "
                "the link at an experiment file."
            )
        if not path.exists():
            raise ConfigError(f"{where}: no such experiment file. Check the path.")
        if not path.is_file():
            raise ConfigError(f"{where}: not a file. Name an experiment YAML file.")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{where}: {size:,} bytes, more than the {MAX_FILE_BYTES:,} an experiment file "
                "may have (they are a few KB). Name the right file."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot be read ({exc.strerror or exc}). Check the path and its permissions."
        ) from None
    try:  # bytes: PyYAML reads UTF-8, and UTF-16 with a byte-order mark
        _check_nesting(data, where)
        raw = yaml.load(data, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)
        problem = problem or first_line(exc)
        hint = " Save it as UTF-8 text." if isinstance(exc, yaml.reader.ReaderError) else ""
        raise ConfigError(
            f"{where}: not valid YAML{at}: {problem}.{hint} Fix it and run again."
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{where}: nested too deeply to read (more than {MAX_DEPTH} levels is never an "
            "experiment). Check the brackets."
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: an experiment file must be a mapping of keys (name, model, train, ...), "
            f"got a {type(raw).__name__}."
        )
    check_shape(raw, where)
    return raw


def _real(path: Path, where: str) -> Path:
    """``path`` with every symbolic link followed; a link that loops is refused. (A path
    that does not exist comes back as it is, for the reader to say so.)"""
    try:
        return path.resolve(strict=True)
    except FileNotFoundError:
        return path.absolute()
    except RuntimeError:  # (Python 3.11 and 3.12 say "Symlink loop"; later ones raise ELOOP)
        pass
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise ConfigError(
                f"{where} cannot be read ({exc.strerror or exc}). Check the path."
            ) from None
    except ValueError as exc:  # a NUL character
        raise ConfigError(f"{where} cannot be a file name ({exc}). Fix the name.") from None
    raise ConfigError(
        f"{where} is a symbolic link that loops (following it leads back to a link on its own "
        "way, never to a file). Point the link at an experiment file, or name the file itself."
    )


def _parent_path(path: Path, parent: Any) -> Path:
    """The file named by ``extends:``, relative to the file that names it."""
    if not isinstance(parent, str) or not parent.strip() or "\0" in parent:
        raise ConfigError(
            f"{path}: key 'extends' must be the name of an experiment file, got {_short(parent)}."
        )
    named = f"{path}: key 'extends' names {_short(parent)}, which"
    parent_path = _real(path.parent / parent, named)
    try:
        found = parent_path.is_file()
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{named} cannot be a file ({getattr(exc, 'strerror', None) or exc}). Fix the name."
        ) from None
    if not found and parent_path.exists():
        raise ConfigError(
            f"{named} is not a file ({parent_path} is a folder or a device). Name an "
            "experiment YAML file."
        )
    if not found:
        raise ConfigError(
            f"{named} does not exist (looked for {parent_path}). Fix the name or create that file."
        )
    return parent_path


MAX_EXTENDS = 32  # files in one chain of extends: (an experiment extends one or two)


def _resolve(path: Path) -> dict[str, Any]:
    """Read ``path`` and the chain of files it ``extends:``, then merge each file over its
    parent (the file named on the command line last)."""
    first = _real(path, f"{path}:")
    chain: list[Path] = []
    trees: list[dict[str, Any]] = []
    current = first
    while True:
        if current in chain:
            cycle = " -> ".join(p.name for p in (*chain, current))
            raise ConfigError(f"{first}: key 'extends' forms a cycle: {cycle}. Break the cycle.")
        if len(chain) == MAX_EXTENDS:
            raise ConfigError(
                f"{first}: its chain of 'extends' is more than {MAX_EXTENDS} files deep "
                f"({chain[0].name} -> {chain[1].name} -> ... -> {chain[-1].name} -> "
                f"{current.name} -> ...); an experiment extends one or two files. Shorten the "
                "chain."
            )
        raw = _read_yaml(current, tuple(chain))
        parent = raw.pop("extends", None)
        chain.append(current)
        trees.append(raw)
        if parent is None:
            break
        current = _parent_path(current, parent)
    merged = trees[-1]
    for raw in reversed(trees[:-1]):
        for own in ("hypothesis", "expect"):  # a hypothesis belongs to one file, never inherited
            merged.pop(own, None)
        merged = deep_merge(merged, raw)
    return merged


def listed(items: list[str], shown: int = 4) -> str:
    """``a, b, c, d and 9,996 more``: a list that keeps a message one short paragraph."""
    more = len(items) - shown
    if more <= 1:
        return ", ".join(items)
    return f"{', '.join(items[:shown])} and {more:,} more"


def _explain(exc: ValidationError, source: str) -> ConfigError:
    """Pydantic's errors as one paragraph: the first few, and how many more (a file of
    10,000 unknown keys is refused in a few lines, not a megabyte)."""
    errors = exc.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    lines = []
    if len(unknown) > 1:
        keys = [f"'{_loc(e)}'" for e in unknown]
        lines.append(
            f"unknown keys {listed(keys)} (check the spelling; see the README for the valid keys)"
        )
        errors = [e for e in errors if e["type"] != "extra_forbidden"]
    for err in errors:
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the README for the valid keys)"
        value = err.get("input")
        shown = (
            ""
            if err["type"] == "missing" or isinstance(value, dict)
            else f" (got {_short(value)})"
        )
        lines.append(f"key '{_loc(err)}': {_short_text(msg, 300)}{shown}")
    text = "; ".join(lines[:3])
    if len(lines) > 3:
        text += f"; and {len(lines) - 3:,} more problems"
    return ConfigError(f"{source}: {text}.")


def _loc(err: Any) -> str:
    """Where a pydantic error is, as a dotted key (the model's tag dropped)."""
    loc = _key(tuple(p for p in err["loc"] if not str(p).startswith("function-")))
    # the tagged union adds the tag to the location ("model.cnn.filters"): drop it
    for kind in MODEL_KINDS:
        loc = loc.replace(f"model.{kind}.", "model.")
    return loc


def _short_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.epochs=3"`` -> ``("train.epochs", 3)``; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {_short(text)}: expected KEY=VALUE, e.g. train.epochs=3.")
    key, _, value = text.partition("=")
    try:
        parsed = yaml.load(value, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except (yaml.YAMLError, RecursionError):
        raise ConfigError(f"--set {_short(text)}: the value is not valid YAML.") from None
    check_shape(parsed, f"--set {_short(text)}")
    return key.strip(), parsed


def validate(tree: dict[str, Any], source: str) -> ExperimentConfig:
    """Turn a merged dict into a config, checking the search space against it."""
    try:
        config = ExperimentConfig.model_validate(tree)
    except ValidationError as exc:
        raise _explain(exc, source) from None
    other = [f"{_part(k)} is {d.kind}" for k, d in config.search.items() if d.kind != "choice"]
    if config.sweep.algo == "grid" and other:
        raise ConfigError(
            f"{source}: key 'sweep.algo': grid enumerates choice dimensions only, but search "
            f"{listed(other)}. Make those dimensions choices, or use algo tpe, random or "
            "anneal."
        )
    _check_start_with(config, source)
    _check_split_search(config, source)
    for dotted, dist in config.search.items():
        for value in dist.extremes():
            trial = copy.deepcopy(tree)
            trial.pop("search", None)
            try:
                _check_path(trial, dotted)
                set_dotted(trial, dotted, value)
                ExperimentConfig.model_validate(trial)
            except KeyError:
                raise ConfigError(
                    f"{source}: key 'search.{_part(dotted)}' names no config field. Search keys "
                    "are dotted paths into the config, e.g. model.filters or train.optimizer.lr."
                ) from None
            except ValidationError as exc:
                reason = _explain(exc, source)
                raise ConfigError(
                    f"{source}: key 'search.{_part(dotted)}': the value {_short(value)} would "
                    f"make an invalid trial config: {str(reason).removeprefix(source + ': ')}"
                ) from None
    return config


def _check_split_search(config: ExperimentConfig, source: str) -> None:
    """Where the search draws ``data.subset`` or ``data.val_fraction``, every trial's split
    can be drawn. Each dimension alone is checked with the file's other value; together,
    the worst trials are the smallest subset with the smallest (fewest validation images)
    and the largest fraction (fewest training images)."""
    subset, fraction = config.search.get("data.subset"), config.search.get("data.val_fraction")
    if subset is None or fraction is None:
        return

    def numbers(dist: Distribution) -> list[Any]:
        return [v for v in dist.extremes() if isinstance(v, int | float) or v is None]

    sizes = [TRAINING_SET if v is None else v for v in numbers(subset)]
    if not sizes or not numbers(fraction):
        return  # (a value of the wrong type: refused above)
    smallest = min(sizes)
    for val_fraction in (min(numbers(fraction)), max(numbers(fraction))):
        problem = split_problem(val_fraction, None if smallest == TRAINING_SET else smallest)
        if problem:
            raise ConfigError(
                f"{source}: key 'search': a trial drawing data.subset={smallest} and "
                f"data.val_fraction={val_fraction:g} cannot split the data: {problem}. Narrow "
                "one of the two dimensions."
            )


def _check_path(tree: dict[str, Any], dotted: str) -> None:
    """Raise KeyError unless ``dotted`` names a field of the (validated) config."""
    config = ExperimentConfig.model_validate({k: v for k, v in tree.items() if k != "search"})
    node: Any = config
    for part in dotted.split("."):
        fields = type(node).model_fields if isinstance(node, BaseModel) else {}
        if part not in fields:
            raise KeyError(dotted)
        node = getattr(node, part)


def _unsearch_start(tree: dict[str, Any], dotted: str) -> None:
    """A key fixed by an override leaves the ``sweep.start_with`` points too (a point left
    with no key is dropped)."""
    sweep = tree.get("sweep") if isinstance(tree, dict) else None
    points = sweep.get("start_with") if isinstance(sweep, dict) else None
    if not isinstance(points, list) or dotted.startswith("sweep.start_with"):
        return
    kept = [
        {k: v for k, v in p.items() if k != dotted} if isinstance(p, dict) else p for p in points
    ]
    tree["sweep"]["start_with"] = [p for p in kept if p != {}]


@dataclass(frozen=True)
class Override:
    """One value typed on the command line for one dotted key, and how it was typed
    (``--epochs 1``, ``--set train.epochs=1e309``), for the message that refuses it."""

    key: str
    value: Any
    origin: str


def _overrides(given: dict[str, Any] | Sequence[Override] | None) -> list[Override]:
    if isinstance(given, dict):
        return [Override(k, v, f"override '{_part(k)}'") for k, v in given.items()]
    return list(given or ())


def _check_override(tree: dict[str, Any], override: Override) -> None:
    """Refuse an override whose own value is invalid for its key, whatever other flags
    set later (``--set train.epochs=1e309 --epochs 1`` is refused, not dropped)."""
    try:
        _check_path(tree, override.key)
    except KeyError:
        raise ConfigError(
            f"{override.origin}: '{_part(override.key)}' names no field of this experiment's "
            "config. Keys are dotted paths such as train.epochs; each model kind has its own "
            "(see the README)."
        ) from None
    except ValidationError:
        pass  # the file itself is invalid: validate() says why
    trial = copy.deepcopy(tree)
    _set(trial, override)
    try:
        ExperimentConfig.model_validate(trial)
    except ValidationError as exc:
        mine = [e for e in exc.errors() if f"{_loc(e)}.".startswith(f"{override.key}.")]
        if mine:
            first = mine[0]
            msg = _short_text(first["msg"].removeprefix("Value error, "), 300)
            got = _short(override.value)
            got = "" if got in msg else f" (got {got})"
            raise ConfigError(
                f"{override.origin}: key '{_part(override.key)}': {msg}{got}. Fix the value."
            ) from None


def _set(tree: dict[str, Any], override: Override) -> None:
    try:
        set_dotted(tree, override.key, override.value)
    except KeyError:
        raise ConfigError(
            f"{override.origin}: '{_part(override.key)}' cannot be set: the file gives a value "
            "that is not a mapping above it. Fix the file."
        ) from None


def load_experiment(
    path: str | Path, overrides: dict[str, Any] | Sequence[Override] | None = None
) -> ExperimentConfig:
    """Read, inherit (``extends:``), override (dotted keys) and validate one experiment.
    Each override's value is checked as it is applied (on the file and the overrides
    before it: a later flag never hides an invalid value), then the merged config."""
    path = Path(path)
    tree = _resolve(path)
    for override in _overrides(overrides):  # each checked on the file and those before it
        _check_override(tree, override)
        dotted = override.key
        _set(tree, override)
        if isinstance(tree.get("search"), dict):  # a fixed override replaces its search
            tree["search"].pop(dotted, None)
        _unsearch_start(tree, dotted)
    return validate(tree, str(path))


def content_hash(path: str | Path) -> str:
    """Hash of the fully resolved experiment (so a change in a parent file counts too)."""
    resolved = _resolve(Path(path))
    text = yaml.safe_dump(resolved, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_budget(path: str | Path) -> str:
    """The training budget the file itself sets, as JSON: ``{"epochs": 5, "subset": null}``
    (what a command line's ``--epochs``/``--subset`` change); "" if the file alone is not
    a valid experiment (an override completes it)."""
    try:
        config = load_experiment(path)
    except ConfigError:
        return ""
    return json.dumps({"epochs": config.train.epochs, "subset": config.data.subset})


# how long a sweep may run: not what it trains (a sweep its budget ended goes on without)
_BUDGET_KEYS = ("time_budget", "timeout_minutes", "time_budget_grace")


def config_digest(
    config: ExperimentConfig, train: tuple[str, ...] = (), sweep: tuple[str, ...] = ()
) -> str:
    """A short hash of the config without the ``train`` and ``sweep`` keys named, nor
    those that change where it trains or what is drawn and logged, never what is trained
    (``train.device``, ``sweep.trial_figures``, ``sweep.log_model``,
    ``sweep.system_metrics``), nor how long it may run (its time budget)."""
    exclude: dict[str, Any] = {
        "expect": True,  # (a statement about the result, like the hypothesis's words)
        "train": {"device", *train},
        "sweep": {"trial_figures", "log_model", "system_metrics", *_BUDGET_KEYS, *sweep},
    }
    text = config.model_dump_json(exclude=exclude)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SweepIdentity:
    r"""What a sweep is, hashed once when it opens: three :func:`config_digest`\ s of its
    config (file and command-line overrides), each named for what it hashes. None of them
    covers where the sweep trains, what it draws and logs, or how long it may run."""

    config: str  # the whole config: an interrupted sweep resumes only with the same
    search: str  # the config but sweep.max_evals: a finished sweep is extended by more trials
    setup: str  # the config but its seeds: sweeps of one setup are pooled in a report

    @classmethod
    def of(cls, config: ExperimentConfig) -> SweepIdentity:
        return cls(
            config=config_digest(config),
            search=config_digest(config, sweep=("max_evals",)),
            setup=config_digest(config, train=("seed",), sweep=("seed",)),
        )


# A name that is already a plain file name (lower-case letters, digits, "_" and "-") is its
# own stem; any other is its portable characters (at most 40) then "~" and a hash of the
# exact name. "~" and "." are in no stem's first part, and no plain stem has capitals, so
# the mapping is one-to-one, also where a file system ignores case, and the suffixes the
# sweep adds (".2.trials.pkl", ".done.pkl", ".lock", ".checkpoints") never make one stem's
# file another's.
_PLAIN_STEM = re.compile(r"[a-z0-9_][a-z0-9_-]{0,199}")


def name_stem(name: str) -> str:
    """The experiment ``name`` as the stem of its files (state file, checkpoints, artifact
    folder): ``exp12`` -> ``exp12``; ``my sweep`` -> ``my_sweep~04da9ba84a9e``; a name in
    any script and of any length -> at most 53 ASCII bytes (a plain name keeps its up to
    200). Two names never share a stem."""
    if _PLAIN_STEM.fullmatch(name):
        return name
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", name).lstrip("-")[:40]
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{readable}~{digest}"


def legacy_stem(name: str) -> str:
    """The stem earlier versions gave a name's state file (many names to one stem)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def to_yaml(config: ExperimentConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
