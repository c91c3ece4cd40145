"""Step 5 of the data flow: ``fit()`` trains one model on in-memory splits and reports each
epoch through a callback; ``evaluate()`` scores a model. No MLflow here.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import metrics as M
from .config import TrainConfig
from .data import Splits
from .models import SIDE

# Fashion-MNIST training-set pixel statistics, for per-batch normalisation
MEAN, STD = 0.2860, 0.3530

EpochCallback = Callable[[int, dict[str, float]], None]
TensorPair = tuple[torch.Tensor, torch.Tensor]


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


class DeviceError(RuntimeError):
    """The device asked for is not one this machine's torch can use."""


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


def describe_devices() -> str:
    """What this machine's torch can use, in words."""
    build = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    return (
        f"torch {torch.__version__} ({build}) with {gpus or 'no'} CUDA device"
        f"{'' if gpus == 1 else 's'} visible and {'an' if mps else 'no'} Apple MPS device"
    )


def device_problem(requested: str) -> str | None:
    """Why this machine's torch cannot train on ``requested``; None when it can."""
    if requested in ("auto", "cpu"):
        return None
    if requested.startswith("cuda"):
        index = int(requested.partition(":")[2] or 0)
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        usable = index < gpus
    else:  # mps
        usable = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if usable:
        return None
    return f"device {requested!r} was asked for, but this machine has {describe_devices()}"


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # Linux's names of the bf16 instructions


def cpu_runs_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes in bf16 natively (not emulated) and oneDNN can use it.
    Linux lists the instructions among the CPU's flags; elsewhere PyTorch's own CPU probe
    (``torch.cpu``) answers. (``torch.backends.cpu.get_cpu_capability()`` names only the
    vector width it dispatches to, ``AVX512`` on a CPU with AVX512-BF16 too.)"""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        text = cpuinfo.read_text()
    except OSError:
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    flags = next(
        (ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []
    )
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> bf16 where the hardware runs it natively, else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_runs_bf16() else "fp32"
    return "fp32"


def eval_batch_size(requested: int | None, device: torch.device) -> int:
    """The configured evaluation batch, or the measured default for the device."""
    if requested:
        return requested
    return 256 if device.type == "cpu" else 1024


def to_input(x: torch.Tensor, channels_last: bool, pixels: str = "standardized") -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` -> float ``[N, 1, 28, 28]``, standardized or in [0, 1]."""
    out = x.unsqueeze(1).float().div_(255.0)
    if pixels == "standardized":
        out = out.sub_(MEAN).div_(STD)
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


def predict_logits(model: nn.Module, x: torch.Tensor, tta: tuple[str, ...] = ()) -> torch.Tensor:
    """``model``'s logits of the input batch ``x`` (in fp32); with ``tta`` (``hflip``), the
    log of the mean softmax of the image and of its mirror image: still logits, whose
    softmax is the average of the views'."""
    logits = model(x).float()
    if "hflip" not in tta:
        return logits
    mirrored = model(x.flip(-1)).float()
    return torch.stack([logits.log_softmax(1), mirrored.log_softmax(1)]).logsumexp(0) - math.log(2)


class Scorer(nn.Module):
    """A trained network with its input scaling and its test-time augmentation, as it is
    logged and served: float32 pixel values 0-255 of shape ``[N, 1, 28, 28]`` in, the 10
    class logits out (in fp32)."""

    def __init__(self, model: nn.Module, pixels: str = "standardized", tta: tuple[str, ...] = ()):
        super().__init__()
        self.model = model
        self.pixels = pixels
        self.tta = tuple(tta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x.float() / 255.0  # the same operations as to_input, in the same order
        if self.pixels == "standardized":
            out = (out - MEAN) / STD
        return predict_logits(self.model, out, self.tta)


ERASE_AREA = (0.02, 0.4)  # random erasing: the rectangle's share of the image (Zhong et al.)
ERASE_ASPECT = (0.3, 1 / 0.3)  # and its height / width


def _box_masks(
    top: torch.Tensor, left: torch.Tensor, h: torch.Tensor, w: torch.Tensor
) -> torch.Tensor:
    """``[n, 28, 28]`` masks, one box per image: rows ``top`` to ``top + h``, columns
    ``left`` to ``left + w`` (a box may stand over the edge: the part inside is masked)."""
    grid = torch.arange(SIDE)
    rows = (grid >= top[:, None]) & (grid < (top + h)[:, None])
    cols = (grid >= left[:, None]) & (grid < (left + w)[:, None])
    return rows[:, :, None] & cols[:, None, :]


def erase(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Random erasing of a uint8 batch: with probability ``p`` per image, a rectangle of
    2-40% of its area and aspect 0.3-3.3, inside the image, filled with random pixels."""
    n = x.shape[0]
    area = torch.empty(n).uniform_(*ERASE_AREA, generator=gen) * SIDE * SIDE
    aspect = torch.empty(n).uniform_(*map(math.log, ERASE_ASPECT), generator=gen).exp()
    h = (area * aspect).sqrt().round().clamp(1, SIDE).long()
    w = (area / aspect).sqrt().round().clamp(1, SIDE).long()
    top = (torch.rand(n, generator=gen) * (SIDE - h + 1)).long()
    left = (torch.rand(n, generator=gen) * (SIDE - w + 1)).long()
    chosen = torch.rand(n, generator=gen).lt(p)
    mask = (_box_masks(top, left, h, w) & chosen[:, None, None]).to(x.device)
    noise = torch.randint(0, 256, x.shape, generator=gen, dtype=torch.uint8).to(x.device)
    return torch.where(mask, noise, x)


def cutout(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """Cutout: a ``size`` x ``size`` square of every image of a uint8 batch set to 0, its
    centre anywhere in the image (so part of it may fall outside)."""
    n = x.shape[0]
    top = torch.randint(0, SIDE, (n,), generator=gen) - size // 2
    left = torch.randint(0, SIDE, (n,), generator=gen) - size // 2
    side = torch.full((n,), size)
    return x.masked_fill(_box_masks(top, left, side, side).to(x.device), 0)


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
    pixels: str = "standardized",
    tta: tuple[str, ...] = (),
) -> EvalResult:
    """Mean cross-entropy, accuracy and predictions of ``model`` on uint8 images ``x``
    (``tta``: the views whose softmax is averaged, see :func:`predict_logits`)."""
    device = next(model.parameters()).device
    batch_size = eval_batch_size(batch_size, device)
    channels_last = _uses_channels_last(model)
    model.eval()
    loss_sum = torch.zeros((), device=device)
    preds = []
    with torch.inference_mode(), _autocast(device, precision):
        for start in range(0, len(x), batch_size):
            xb = to_input(x[start : start + batch_size].to(device), channels_last, pixels)
            yb = y[start : start + batch_size].to(device)
            logits = predict_logits(model, xb, tta)
            loss_sum += nn.functional.cross_entropy(logits, yb, reduction="sum")
            preds.append(logits.argmax(1))
    predictions = torch.cat(preds)
    accuracy = (predictions == y.to(device)).sum().item() / len(y)  # float64: 0.6701 exactly
    return EvalResult(
        loss=loss_sum.item() / max(len(x), 1),
        accuracy=accuracy,
        predictions=predictions.cpu().numpy(),
    )


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    o = cfg.optimizer
    if o.name == "sgd":
        coupled = 0.0 if o.decoupled_weight_decay else o.weight_decay  # (else: decay_weights)
        return torch.optim.SGD(
            model.parameters(),
            lr=o.lr,
            momentum=o.momentum,
            weight_decay=coupled,
            nesterov=o.nesterov,
        )
    cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)


@torch.no_grad()
def decay_weights(optimizer: torch.optim.Optimizer, weight_decay: float) -> None:
    """SGD's decoupled weight decay, before its step: ``w -= lr * wd * w`` at the step's
    learning rate, as AdamW decays (torch's SGD adds ``wd * w`` to the gradient instead)."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.mul_(1.0 - group["lr"] * weight_decay)


def batches_per_epoch(n: int, batch_size: int) -> int:
    """The optimizer steps of one epoch over ``n`` images (a 1-image tail is skipped)."""
    full, tail = divmod(n, batch_size)
    return max(1, full + (tail >= 2 or (tail == 1 and full == 0)))


PER_BATCH = ("onecycle", "cosine")  # schedulers stepped after every batch, not every epoch


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps: int = 1):  # noqa: ANN201
    """The learning-rate schedule; ``steps``: optimizer steps per epoch (the per-batch
    schedules span ``epochs * steps``)."""
    s = cfg.scheduler
    total = max(1, cfg.epochs * steps)
    if s.name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=cfg.optimizer.lr,
            total_steps=total,
            pct_start=s.warmup,
            anneal_strategy=s.anneal,
            cycle_momentum=False,  # the optimizer's momentum (or Adam's betas) stays as set
        )
    if s.name == "cosine":
        warm, floor = s.warmup * total, min(1.0, s.min_lr / cfg.optimizer.lr)  # (never up)

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / (warm + 1)
            done = min(1.0, (step - warm) / max(1.0, total - warm))
            return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * done))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if s.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    if s.name == "plateau":
        mode = "min" if s.monitor == M.VAL_LOSS else "max"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=s.factor, patience=s.patience, min_lr=s.min_lr
        )
    return None


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

    @property
    def scored(self) -> nn.Module:
        """The weights that are validated, kept and returned: the average, where kept."""
        return self.ema.module if self.ema is not None else self.model

    def _augmented(self, xb: torch.Tensor) -> torch.Tensor:
        a = self.cfg.augment
        if a.hflip or a.crop_padding:
            xb = augment(xb, a.hflip, a.crop_padding, self.gen)
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

    def train_epoch(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
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
            xb, yb = to_input(self._augmented(x[idx]), self.channels_last, cfg.pixels), y[idx]
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
        train_loss, train_accuracy = self.train_epoch(*train)
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
        ended = "early" if stopper.update(epoch, record, loop.scored) else None
        ended = "done" if ended is None and epoch == cfg.epochs else ended
        if ended is None and hooks.should_prune and hooks.should_prune(epoch, record):
            ended = "pruned"
        if hooks.checkpoint is not None:
            state = training_state(epoch, loop, scheduler, stopper, history)
            seconds = time.perf_counter() - loop.started
            hooks.checkpoint({**state, "seconds": seconds, "ended": ended})
        if hooks.on_epoch is not None:
            hooks.on_epoch(epoch, record)
        if ended is not None:
            return ended, epoch
        if hooks.should_stop is not None and hooks.should_stop():
            return "stopped", epoch
    return "done", epoch


def _averaged(model: nn.Module, decay: float | None) -> Any:
    """torch's exponential moving average of ``model``'s weights and BatchNorm statistics,
    or None without a decay."""
    if decay is None:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

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
    return loop, scheduler


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
        stopped_early=ended == "early",
        precision=loop.precision,
        pruned_at=last if ended == "pruned" else None,
        interrupted=ended == "stopped",
    )
