"""Experiment YAML -> validated, frozen ``ExperimentConfig``.

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
    Field,
    field_validator,
    model_validator,
)

from ._base import MAX_BATCH, MAX_EPOCHS, MAX_WIDTH, Bool, Float, Frozen, Int, Seed, flatten
from ._sweep import Distribution, Expectation, SweepConfig

# ----------------------------------------------------------------------------- models
WHITENING_FILTERS = 18  # a whitened 3x3 stem on one channel: 9 eigenvectors, each signed


class CNNConfig(Frozen):
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


class MLPConfig(Frozen):
    """The dense baseline: Dense-[BN]-ReLU-Dropout per hidden layer, then softmax."""

    kind: Literal["mlp"] = "mlp"
    hidden: tuple[Annotated[Int, Field(ge=1, le=MAX_WIDTH)], ...] = Field(
        (256, 128), max_length=64
    )
    dropout: Float = Field(0.2, ge=0.0, lt=1.0)
    batchnorm: Bool = True


class WideDeepConfig(Frozen):
    """Row-wise deep path (Dense-ReLU-BN twice, dropout) beside each raw pixel row."""

    kind: Literal["wide_deep"] = "wide_deep"
    units: Int = Field(30, ge=1, le=MAX_WIDTH)
    dropout: Float = Field(0.5, ge=0.0, lt=1.0)


class ResNetConfig(Frozen):
    """A compact residual network (ResNet-9 style): a 3x3 conv stem of ``stem`` channels;
    per entry of ``widths`` a stage of conv3x3 to that width, 2x2 max-pool (28 px -> 14 -> 7
    ...) and ``blocks`` residual pairs; global pooling; one linear layer. BatchNorm after
    every conv. At the defaults, 464K parameters."""

    kind: Literal["resnet"] = "resnet"
    stem: Int = Field(32, ge=1, le=MAX_WIDTH)  # channels of the stem conv (28 x 28)
    widths: tuple[Annotated[Int, Field(ge=1, le=MAX_WIDTH)], ...] = Field(
        (64, 128), min_length=1, max_length=4
    )  # one stage each; each stage halves the side, so at most 4 (28 -> 1; 3 with stem_pool)
    blocks: Int = Field(1, ge=0, le=8)  # residual pairs (conv-BN-ReLU twice) per stage
    pool: Literal["max", "avg"] = "max"  # global pooling before the linear layer
    # a 2x2 max-pool after the stem: the stages run at half the side (14 -> 7 -> 3 ...),
    # about a quarter of the multiply-adds; the stem alone sees the full 28 x 28
    stem_pool: Bool = False
    # the stem's filters set, before training, to whiten the training images' 3x3 patches
    # (each eigenvector of their covariance over the root of its eigenvalue, and its
    # negative: at most 18) and left untrained, as the CIFAR-10 speed-runs do
    whiten: Bool = False
    # each conv after the stem starts as the identity on its input channels (the rest of
    # its filters at random), so that the network starts close to its shortcuts
    identity_init: Bool = False
    # BatchNorm's running statistics: new = (1 - m) * old + m * batch (torch's 0.1; the
    # speed-runs use a faster 0.6 for networks trained in few steps)
    bn_momentum: Float = Field(0.1, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _fits_the_image(self) -> ResNetConfig:
        if self.whiten and self.stem > WHITENING_FILTERS:
            raise ValueError(
                f"model.stem is {self.stem}, but a whitened stem has at most "
                f"{WHITENING_FILTERS} filters (each of the 9 eigenvectors of the 3x3 patches "
                f"and its negative): set stem to {WHITENING_FILTERS} or less, or whiten: false"
            )
        if self.stem_pool and len(self.widths) > 3:
            raise ValueError(
                f"model.widths has {len(self.widths)} stages, but with stem_pool the stages "
                "start at 14 x 14 and a fourth would have no pixel left: list at most 3 "
                "widths, or set stem_pool: false"
            )
        return self


# The model kinds, listed once: a new kind is a class here and a builder in models.REGISTRY.
MODEL_CONFIGS: tuple[type[Frozen], ...] = (CNNConfig, MLPConfig, WideDeepConfig, ResNetConfig)
MODEL_KINDS: tuple[str, ...] = tuple(
    get_args(c.model_fields["kind"].annotation)[0] for c in MODEL_CONFIGS
)
ModelConfig = Annotated[reduce(operator.or_, MODEL_CONFIGS), Field(discriminator="kind")]


# ----------------------------------------------------------------------------- training
class OptimizerConfig(Frozen):
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: Float = Field(1e-3, gt=0.0)
    weight_decay: Float = Field(0.0, ge=0.0)
    momentum: Float = Field(0.9, ge=0.0, lt=1.0)  # SGD only
    nesterov: Bool = False  # SGD only: Nesterov momentum
    # SGD only: weight decay applied to the weights directly (w -= lr * wd * w, as AdamW
    # does), not added to the gradient where momentum would carry it
    decoupled_weight_decay: Bool = False
    # BatchNorm's weights and biases train at lr x this (the speed-runs raise it: those few
    # parameters move the whole network's activations); every schedule keeps the ratio
    bn_lr_scale: Float = Field(1.0, gt=0.0, le=1000.0)

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


class SchedulerConfig(Frozen):
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


class EarlyStoppingConfig(Frozen):
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    patience: Int = Field(5, ge=1, le=MAX_EPOCHS)  # epochs without improvement, then stop
    restore_best: Bool = True  # evaluate the test set with the best epoch's weights


class AugmentConfig(Frozen):
    # true: a random horizontal flip, p=0.5; alternate: each image flipped at random in the
    # first epoch, then the other way from the epoch before (the speed-runs' alternating
    # flip: every image seen both ways in every two epochs)
    hflip: Bool | Literal["alternate"] = False
    # random erasing (Zhong et al.): with this probability per image, a rectangle of 2-40%
    # of its area (aspect 0.3-3.3) is filled with random pixels; 0 is off
    random_erasing: Float = Field(0.0, ge=0.0, le=1.0)
    cutout: Int = Field(0, ge=0, le=28)  # a square of this side zeroed in every image (0 off)
    crop_padding: Int = Field(0, ge=0, le=8)  # random shift by up to this many pixels


class TrainConfig(Frozen):
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


class EvalConfig(Frozen):
    """How a model is scored, in validation (every epoch, and for selection) and test
    alike, and by the logged model (test-time augmentation): ``tta: [hflip]`` averages the
    softmax of the image and of its mirror image; ``translate`` adds each view shifted one
    pixel down and right and one pixel up and left (edges repeated), 3 views each."""

    tta: tuple[Literal["hflip", "translate"], ...] = Field((), max_length=2)

    @field_validator("tta")
    @classmethod
    def _once_each(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"{list(v)} names a view twice: list hflip and translate once each")
        return v


# ----------------------------------------------------------------------------- data
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


class DataConfig(Frozen):
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


class ExperimentConfig(Frozen):
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
