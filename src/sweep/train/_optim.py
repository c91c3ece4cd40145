"""The optimizer (SGD, Adam or AdamW; weight decay on every parameter; BatchNorm's at their
own learning rate where ``bn_lr_scale`` says so) and the learning-rate schedules (StepLR,
ReduceLROnPlateau, cosine, one-cycle; warm-up) that ``fit`` steps."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .. import names as M
from ..config import TrainConfig


def param_groups(model: nn.Module, cfg: TrainConfig) -> Any:
    """The model's parameters, or with ``bn_lr_scale`` two groups: the rest at ``lr``,
    BatchNorm's weights and biases at ``lr * bn_lr_scale``."""
    o = cfg.optimizer
    if o.bn_lr_scale == 1.0:
        return model.parameters()
    norms = {id(p) for m in model.modules() if isinstance(m, BATCH_NORMS) for p in m.parameters()}
    rest = [p for p in model.parameters() if id(p) not in norms]
    bn = [p for p in model.parameters() if id(p) in norms]
    return [{"params": rest}, {"params": bn, "lr": o.lr * o.bn_lr_scale}]


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    o = cfg.optimizer
    params = param_groups(model, cfg)
    if o.name == "sgd":
        coupled = 0.0 if o.decoupled_weight_decay else o.weight_decay  # (else: decay_weights)
        return torch.optim.SGD(
            params,
            lr=o.lr,
            momentum=o.momentum,
            weight_decay=coupled,
            nesterov=o.nesterov,
        )
    cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
    return cls(params, lr=o.lr, weight_decay=o.weight_decay)


@torch.no_grad()
def decay_weights(optimizer: torch.optim.Optimizer, weight_decay: float) -> None:
    """SGD's decoupled weight decay, before its step: ``w -= lr * wd * w`` at the step's
    learning rate, as AdamW decays (torch's SGD adds ``wd * w`` to the gradient instead)."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.requires_grad:  # (a frozen whitened stem stays as it was set)
                p.mul_(1.0 - group["lr"] * weight_decay)


def batches_per_epoch(n: int, batch_size: int) -> int:
    """The optimizer steps of one epoch over ``n`` images (a 1-image tail is skipped)."""
    full, tail = divmod(n, batch_size)
    return max(1, full + (tail >= 2 or (tail == 1 and full == 0)))


BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
PER_BATCH = ("onecycle", "cosine")  # schedulers stepped after every batch, not every epoch


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps: int = 1):  # noqa: ANN201
    """The learning-rate schedule; ``steps``: optimizer steps per epoch (the per-batch
    schedules span ``epochs * steps``)."""
    s = cfg.scheduler
    total = max(1, cfg.epochs * steps)
    if s.name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[group["lr"] for group in optimizer.param_groups],  # (each group's peak)
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
