"""``fit()`` trains one model on in-memory splits and reports each
epoch through a callback: the epochs with the optimizer and schedulers of ``_optim``, early
stopping, weight averaging, the training state a checkpoint keeps. No MLflow here.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .. import names as M
from ..config import TrainConfig
from ..names import FitEnd
from ._augment import augment, cutout, erase
from ._data import Splits
from ._devices import _autocast, resolve_precision
from ._optim import PER_BATCH, batches_per_epoch, decay_weights, make_optimizer, make_scheduler
from ._scoring import _uses_channels_last, evaluate, to_input

WHITENING_IMAGES = 10_000  # the training images a whitened stem's patches are taken from
FIRST_FLIPS_SEED = 7_919  # added to train.seed: the generator of alternate flips' first epoch

EpochCallback = Callable[[int, dict[str, float]], None]
TensorPair = tuple[torch.Tensor, torch.Tensor]


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class FitResult:
    """What one training run produced. ``history`` holds one metrics dict per epoch."""

    history: tuple[dict[str, float], ...]
    model_epoch: int  # the epoch whose weights the model holds now (restore-best or last)
    val_accuracy: float  # of the returned model: what a sweep selects on
    val_loss: float
    best_val_accuracy: float  # highest validation accuracy of any epoch
    epochs_run: int
    train_seconds: float
    stopped_early: bool
    precision: str
    pruned_at: int | None = None  # the epoch after which the pruner stopped it
    interrupted: bool = False  # should_stop() ended it before its last epoch


class _EarlyStopping:
    """Tracks the monitored value; keeps the best epoch's weights when asked to."""

    def __init__(self, cfg: TrainConfig):
        self.rule = cfg.early_stopping
        self.monitor = self.rule.monitor if self.rule else M.VAL_LOSS
        self.best_value: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_epoch, self.waited = 0, 0

    def update(self, epoch: int, record: dict[str, float], model: nn.Module) -> bool:
        """Record one epoch; True when training should stop early."""
        value = record[self.monitor]
        better = self.best_value is None or (
            value < self.best_value if self.monitor == M.VAL_LOSS else value > self.best_value
        )
        if better:
            self.best_value, self.best_epoch, self.waited = value, epoch, 0
            if self.rule and self.rule.restore_best:
                self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.waited += 1
        return bool(self.rule) and self.waited >= self.rule.patience

    def state(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("best_value", "best_state", "best_epoch", "waited")}

    def load(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)

    def restore(self, model: nn.Module, epochs_run: int) -> int:
        """Load the best weights if kept; returns the epoch whose weights the model holds."""
        if self.best_state is None:
            return epochs_run
        model.load_state_dict(self.best_state)
        return self.best_epoch


@dataclass
class _Loop:
    """One training run's fixed parts: the data on the device and how to step."""

    model: nn.Module
    cfg: TrainConfig
    device: torch.device
    precision: str
    channels_last: bool
    optimizer: torch.optim.Optimizer
    gen: torch.Generator
    started: float = 0.0  # perf_counter() when training started (earlier, if resumed)
    per_batch: Any = None  # a schedule stepped after every batch (onecycle, cosine)
    ema: Any = None  # torch's AveragedModel of the weights (train.ema), or None
    tta: tuple[str, ...] = ()  # the views validation averages (eval.tta)
    first_flips: torch.Tensor | None = None  # hflip: alternate: which images epoch 1 flips

    @property
    def scored(self) -> nn.Module:
        """The weights that are validated, kept and returned: the average, where kept."""
        return self.ema.module if self.ema is not None else self.model

    def _augmented(self, xb: torch.Tensor, idx: torch.Tensor, epoch: int) -> torch.Tensor:
        a = self.cfg.augment
        if a.hflip or a.crop_padding:
            flip = None  # (random, or none)
            if self.first_flips is not None:  # alternate: the first epoch's, then the other way
                flip = self.first_flips[idx] ^ (epoch % 2 == 0)
            xb = augment(xb, bool(a.hflip), a.crop_padding, self.gen, flip)
        if a.random_erasing:
            xb = erase(xb, a.random_erasing, self.gen)
        if a.cutout:
            xb = cutout(xb, a.cutout, self.gen)
        return xb

    def _step(self, loss: torch.Tensor) -> None:
        """One optimizer step, and what goes with it: SGD's decoupled decay before it, the
        per-batch schedule and the weights' average after it."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        o = self.cfg.optimizer
        if o.decoupled_weight_decay and o.weight_decay:
            decay_weights(self.optimizer, o.weight_decay)
        self.optimizer.step()
        if self.per_batch is not None:
            self.per_batch.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    def train_epoch(self, x: torch.Tensor, y: torch.Tensor, epoch: int = 1) -> tuple[float, float]:
        """One pass over a seeded permutation of ``x``; mean loss and accuracy."""
        model, cfg, n = self.model, self.cfg, len(x)
        model.train()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        order = torch.randperm(n, generator=self.gen).to(self.device)
        for start in range(0, n, cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            if len(idx) < 2 and start:  # a 1-image tail batch breaks BatchNorm; skip it
                continue
            xb = to_input(self._augmented(x[idx], idx, epoch), self.channels_last, cfg.pixels)
            yb = y[idx]
            with _autocast(self.device, self.precision):
                logits = model(xb)
            loss = nn.functional.cross_entropy(
                logits.float(), yb, label_smoothing=cfg.label_smoothing
            )
            self._step(loss)
            loss_sum += loss.detach() * len(idx)
            correct += (logits.argmax(1) == yb).sum()
        return loss_sum.item() / n, correct.item() / n

    def epoch(self, epoch: int, train: TensorPair, val: TensorPair) -> dict[str, float]:
        """Train one epoch, then validate: the epoch's metrics (the lr it trained with)."""
        lr = self.optimizer.param_groups[0]["lr"]
        train_loss, train_accuracy = self.train_epoch(*train, epoch)
        if not math.isfinite(train_loss):
            raise DivergedError(f"training loss became {train_loss} in epoch {epoch}")
        scored = evaluate(
            self.scored,
            *val,
            batch_size=self.cfg.eval_batch_size,
            precision=self.precision,
            pixels=self.cfg.pixels,
            tta=self.tta,
        )
        return {
            M.TRAIN_LOSS: train_loss,
            M.TRAIN_ACCURACY: train_accuracy,
            M.VAL_LOSS: scored.loss,
            M.VAL_ACCURACY: scored.accuracy,
            M.LR: lr,
        }


def _step_scheduler(scheduler: Any, record: dict[str, float], cfg: TrainConfig) -> None:
    """After an epoch (the per-batch schedules step in the epoch instead)."""
    if cfg.scheduler.name in PER_BATCH:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(record[cfg.scheduler.monitor])
    elif scheduler is not None:
        scheduler.step()


def training_state(
    epoch: int, loop: _Loop, scheduler: Any, stopper: _EarlyStopping, history: list[Any]
) -> dict[str, Any]:
    """Everything training needs to go on after ``epoch`` as if it had never stopped:
    weights, optimizer, scheduler, early stopping, the random generators, the history.
    Its tensors are the live ones: save (or copy) it at once."""
    return {
        "epoch": epoch,
        "model": loop.model.state_dict(),
        "optimizer": loop.optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "stopper": stopper.state(),
        "generator": loop.gen.get_state(),
        "torch_rng": torch.get_rng_state(),
        # the training device's only: no CUDA context for a CPU trial, and a resume on a
        # machine with fewer GPUs still works
        "cuda_rng": torch.cuda.get_rng_state(loop.device) if loop.device.type == "cuda" else None,
        "history": list(history),
        "ema": loop.ema.state_dict() if loop.ema is not None else None,
    }


def _load_training_state(
    state: dict[str, Any], loop: _Loop, scheduler: Any, stopper: _EarlyStopping
) -> list[dict[str, float]]:
    """Put a :func:`training_state` back; returns the history up to its epoch."""
    loop.model.load_state_dict(state["model"])
    loop.optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    stopper.load(state["stopper"])
    loop.gen.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and loop.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], loop.device)
    if loop.ema is not None and state.get("ema") is not None:
        loop.ema.load_state_dict(state["ema"])
    return list(state["history"])


@dataclass(frozen=True)
class _Hooks:
    """What :func:`fit` calls after each epoch (see there)."""

    on_epoch: EpochCallback | None
    should_stop: Callable[[], bool] | None
    should_prune: Callable[[int, dict[str, float]], bool] | None
    checkpoint: Callable[[dict[str, Any]], None] | None


def _epochs(
    loop: _Loop,
    scheduler: Any,
    stopper: _EarlyStopping,
    history: list[dict[str, float]],
    data: tuple[TensorPair, TensorPair],
    hooks: _Hooks,
    over: str | None = None,
) -> tuple[str, int]:
    """The epochs after those in ``history`` (appended to it); returns why they ended
    (``done``, ``early`` stopping, ``pruned``, ``stopped`` when asked to) and the last epoch.
    The checkpoint of an epoch is written before its metrics are reported, so that a
    resumed run finds every reported epoch in it, and after the pruner's verdict, which it
    keeps (as it keeps a finished training's end): a resumed run does not train on
    (``over``: how its training ended)."""
    cfg, epoch = loop.cfg, len(history)
    if over:
        return over, epoch
    for epoch in range(len(history) + 1, cfg.epochs + 1):
        record = loop.epoch(epoch, *data)
        history.append(record)
        _step_scheduler(scheduler, record, cfg)
        ended = FitEnd.EARLY if stopper.update(epoch, record, loop.scored) else None
        ended = FitEnd.DONE if ended is None and epoch == cfg.epochs else ended
        if ended is None and hooks.should_prune and hooks.should_prune(epoch, record):
            ended = FitEnd.PRUNED
        if hooks.checkpoint is not None:
            state = training_state(epoch, loop, scheduler, stopper, history)
            seconds = time.perf_counter() - loop.started
            hooks.checkpoint({**state, "seconds": seconds, "ended": ended})
        if hooks.on_epoch is not None:
            hooks.on_epoch(epoch, record)
        if ended is not None:
            return ended, epoch
        if hooks.should_stop is not None and hooks.should_stop():
            return FitEnd.STOPPED, epoch
    return FitEnd.DONE, epoch


def _averaged(model: nn.Module, decay: float | None) -> Any:
    """torch's exponential moving average of ``model``'s weights and BatchNorm statistics,
    or None without a decay."""
    if decay is None:
        return None

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _make_loop(
    model: nn.Module, cfg: TrainConfig, device: torch.device, n_train: int, tta: tuple[str, ...]
) -> tuple[_Loop, Any]:
    """The training loop's parts (its optimizer, generator, average) and the schedule."""
    precision = resolve_precision(cfg.precision, device)
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg, batches_per_epoch(n_train, cfg.batch_size))
    gen = torch.Generator().manual_seed(cfg.seed)
    channels_last = _uses_channels_last(model)
    loop = _Loop(model, cfg, device, precision, channels_last, optimizer, gen, tta=tuple(tta))
    loop.per_batch = scheduler if cfg.scheduler.name in PER_BATCH else None
    loop.ema = _averaged(model, cfg.ema)
    if cfg.augment.hflip == "alternate":  # (its own generator: the same after a resume)
        first = torch.Generator().manual_seed(cfg.seed + FIRST_FLIPS_SEED)
        loop.first_flips = torch.rand(n_train, generator=first).lt(0.5).to(device)
    return loop, scheduler


def _init_from_images(
    model: nn.Module, x_train: torch.Tensor, cfg: TrainConfig, resumed: bool
) -> None:
    """Before training, a model that sets weights from the training images (a whitened
    stem) sees the first :data:`WHITENING_IMAGES` of them as it will in training (not when
    ``resumed``: its saved weights come back)."""
    prepare = getattr(model, "init_from_images", None)
    if prepare is not None and not resumed:
        prepare(to_input(x_train[:WHITENING_IMAGES], False, cfg.pixels))


def fit(
    model: nn.Module,
    splits: Splits,
    cfg: TrainConfig,
    *,
    device: torch.device | None = None,
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    should_prune: Callable[[int, dict[str, float]], bool] | None = None,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
    resume_from: dict[str, Any] | None = None,
    tta: tuple[str, ...] = (),
) -> FitResult:
    """Train ``model`` (already initialised) on ``splits.x_train`` for ``cfg.epochs`` epochs.

    The whole training set lives on ``device`` as uint8; each epoch draws a seeded
    permutation and slices batches from it. After each epoch ``on_epoch(epoch, metrics)``
    is called with the names in :data:`metrics.EPOCH_METRICS` (epochs count from 1).
    ``should_stop()`` is asked after each epoch; True ends training early (interrupted).
    ``should_prune(epoch, metrics)`` too; True ends training (the trial is behind the
    others: ``pruned_at`` says when). ``checkpoint(state)`` receives the
    :func:`training_state` after each epoch; ``resume_from`` such a state goes on from there.
    ``tta``: the views validation averages (``eval.tta``). With ``cfg.ema`` the model is
    returned holding the weights' average (the weights that were validated).
    Raises :class:`DivergedError` if the loss becomes NaN or infinite.
    """
    device = device or next(model.parameters()).device
    model.to(device)
    if _uses_channels_last(model):
        model.to(memory_format=torch.channels_last)
    x_train, y_train, x_val, y_val = (
        torch.from_numpy(a).to(device)
        for a in (splits.x_train, splits.y_train, splits.x_val, splits.y_val)
    )
    _init_from_images(model, x_train, cfg, resumed=resume_from is not None)
    loop, scheduler = _make_loop(model, cfg, device, len(x_train), tta)
    stopper = _EarlyStopping(cfg)
    history = _load_training_state(resume_from, loop, scheduler, stopper) if resume_from else []
    loop.started = time.perf_counter() - (resume_from or {}).get("seconds", 0.0)
    hooks = _Hooks(on_epoch, should_stop, should_prune, checkpoint)
    data = ((x_train, y_train), (x_val, y_val))
    over = (resume_from or {}).get("ended")  # its training had ended: nothing to train
    ended, last = _epochs(loop, scheduler, stopper, history, data, hooks, over)
    if loop.ema is not None:  # the returned model holds what was validated
        model.load_state_dict(loop.ema.module.state_dict())
    model_epoch = stopper.restore(model, len(history))
    chosen = history[model_epoch - 1]
    return FitResult(
        history=tuple(history),
        model_epoch=model_epoch,
        val_accuracy=chosen[M.VAL_ACCURACY],
        val_loss=chosen[M.VAL_LOSS],
        best_val_accuracy=max(r[M.VAL_ACCURACY] for r in history),
        epochs_run=len(history),
        train_seconds=time.perf_counter() - loop.started,  # (before a resume too)
        stopped_early=ended == FitEnd.EARLY,
        precision=loop.precision,
        pruned_at=last if ended == FitEnd.PRUNED else None,
        interrupted=ended == FitEnd.STOPPED,
    )
