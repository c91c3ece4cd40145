"""Step 5 of the data flow: ``fit()`` trains one model on in-memory splits and reports each
epoch through a callback; ``evaluate()`` scores a model. No MLflow here.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import metrics as M
from .config import TrainConfig
from .data import Splits

# Fashion-MNIST training-set pixel statistics, for per-batch normalisation
MEAN, STD = 0.2860, 0.3530

EpochCallback = Callable[[int, dict[str, float]], None]


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


@dataclass(frozen=True)
class EvalResult:
    loss: float
    accuracy: float
    predictions: np.ndarray  # int64 class index per image


def choose_device(requested: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; an explicit name wins."""
    if requested != "auto":
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> bf16 where the hardware runs it natively, else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        capability = torch.backends.cpu.get_cpu_capability()
        return "bf16" if capability in ("AVX512_BF16", "AMX") else "fp32"
    return "fp32"


def eval_batch_size(requested: int | None, device: torch.device) -> int:
    """The configured evaluation batch, or the measured default for the device."""
    if requested:
        return requested
    return 256 if device.type == "cpu" else 1024


def to_input(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` -> normalised float ``[N, 1, 28, 28]``."""
    out = x.unsqueeze(1).float().div_(255.0).sub_(MEAN).div_(STD)
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


def augment(x: torch.Tensor, hflip: bool, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts of a uint8 batch, vectorised (no per-image loop)."""
    n = x.shape[0]
    if hflip:
        flip = torch.rand(n, generator=gen).lt(0.5).to(x.device)
        x = torch.where(flip[:, None, None], x.flip(-1), x)
    if pad:
        padded = nn.functional.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen).to(x.device)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen).to(x.device)
        base = torch.arange(28, device=x.device)
        rows = (dy[:, None] + base)[:, :, None]
        cols = (dx[:, None] + base)[:, None, :]
        x = padded[torch.arange(n, device=x.device)[:, None, None], rows, cols]
    return x


def _autocast(device: torch.device, precision: str) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def _uses_channels_last(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int | None = None,
    precision: str = "fp32",
) -> EvalResult:
    """Mean cross-entropy, accuracy and predictions of ``model`` on uint8 images ``x``."""
    device = next(model.parameters()).device
    batch_size = eval_batch_size(batch_size, device)
    channels_last = _uses_channels_last(model)
    model.eval()
    loss_sum = torch.zeros((), device=device)
    preds = []
    with torch.inference_mode(), _autocast(device, precision):
        for start in range(0, len(x), batch_size):
            xb = to_input(x[start : start + batch_size].to(device), channels_last)
            yb = y[start : start + batch_size].to(device)
            logits = model(xb).float()
            loss_sum += nn.functional.cross_entropy(logits, yb, reduction="sum")
            preds.append(logits.argmax(1))
    predictions = torch.cat(preds)
    accuracy = (predictions == y.to(device)).float().mean().item()
    return EvalResult(
        loss=loss_sum.item() / max(len(x), 1),
        accuracy=accuracy,
        predictions=predictions.cpu().numpy(),
    )


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    o = cfg.optimizer
    if o.name == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
        )
    cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig):  # noqa: ANN201
    s = cfg.scheduler
    if s.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    if s.name == "plateau":
        mode = "min" if s.monitor == M.VAL_LOSS else "max"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=s.factor, patience=s.patience, min_lr=s.min_lr
        )
    return None


def _improved(monitor: str, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value < best if monitor == M.VAL_LOSS else value > best


def fit(
    model: nn.Module,
    splits: Splits,
    cfg: TrainConfig,
    *,
    device: torch.device | None = None,
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FitResult:
    """Train ``model`` (already initialised) on ``splits.x_train`` for ``cfg.epochs`` epochs.

    The whole training set lives on ``device`` as uint8; each epoch draws a seeded
    permutation and slices batches from it. After each epoch ``on_epoch(epoch, metrics)``
    is called with the names in :data:`metrics.EPOCH_METRICS` (epochs count from 1).
    ``should_stop()`` is asked after each epoch; True ends training early (interrupted).
    Raises :class:`DivergedError` if the loss becomes NaN or infinite.
    """
    device = device or next(model.parameters()).device
    model.to(device)
    precision = resolve_precision(cfg.precision, device)
    channels_last = _uses_channels_last(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)

    x_train = torch.from_numpy(splits.x_train).to(device)
    y_train = torch.from_numpy(splits.y_train).to(device)
    x_val = torch.from_numpy(splits.x_val).to(device)
    y_val = torch.from_numpy(splits.y_val).to(device)

    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    stopper = cfg.early_stopping
    monitor = stopper.monitor if stopper else M.VAL_LOSS
    best_value: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch, waited = 0, 0
    history: list[dict[str, float]] = []
    n = len(x_train)
    started = time.perf_counter()
    stopped_early = False

    for epoch in range(1, cfg.epochs + 1):
        model.train()
        lr = optimizer.param_groups[0]["lr"]
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        order = torch.randperm(n, generator=gen).to(device)
        for start in range(0, n, cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            if len(idx) < 2 and start:  # a 1-image tail batch breaks BatchNorm; skip it
                continue
            xb = x_train[idx]
            if cfg.augment.hflip or cfg.augment.crop_padding:
                xb = augment(xb, cfg.augment.hflip, cfg.augment.crop_padding, gen)
            xb, yb = to_input(xb, channels_last), y_train[idx]
            with _autocast(device, precision):
                logits = model(xb)
            loss = nn.functional.cross_entropy(logits.float(), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(idx)
            correct += (logits.argmax(1) == yb).sum()
        train_loss = loss_sum.item() / n
        if not math.isfinite(train_loss):
            raise DivergedError(f"training loss became {train_loss} in epoch {epoch}")

        val = evaluate(model, x_val, y_val, batch_size=cfg.eval_batch_size, precision=precision)
        record = {
            M.TRAIN_LOSS: train_loss,
            M.TRAIN_ACCURACY: correct.item() / n,
            M.VAL_LOSS: val.loss,
            M.VAL_ACCURACY: val.accuracy,
            M.LR: lr,
        }
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)

        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(record[cfg.scheduler.monitor])
            else:
                scheduler.step()

        if _improved(monitor, record[monitor], best_value):
            best_value, best_epoch, waited = record[monitor], epoch, 0
            if stopper and stopper.restore_best:
                best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
        if stopper and waited >= stopper.patience:
            stopped_early = True
            break
        if should_stop is not None and should_stop():
            break

    model_epoch = len(history)
    if best_state is not None:
        model.load_state_dict(best_state)
        model_epoch = best_epoch
    chosen = history[model_epoch - 1]
    return FitResult(
        history=tuple(history),
        model_epoch=model_epoch,
        val_accuracy=chosen[M.VAL_ACCURACY],
        val_loss=chosen[M.VAL_LOSS],
        best_val_accuracy=max(r[M.VAL_ACCURACY] for r in history),
        epochs_run=len(history),
        train_seconds=time.perf_counter() - started,
        stopped_early=stopped_early,
        precision=precision,
    )
