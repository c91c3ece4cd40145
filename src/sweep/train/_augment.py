"""Training-time augmentation on a batch, with the run's own generator: flips, shifts,
random erasing and cutout."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._models import SIDE

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


def augment(
    x: torch.Tensor,
    hflip: bool,
    pad: int,
    gen: torch.Generator,
    flip: torch.Tensor | None = None,
) -> torch.Tensor:
    """Random horizontal flips and shifts of a uint8 batch, vectorised (no per-image loop);
    ``flip``: which images to flip, where it is not drawn at random."""
    n = x.shape[0]
    if hflip or flip is not None:
        if flip is None:
            flip = torch.rand(n, generator=gen).lt(0.5)
        x = torch.where(flip.to(x.device)[:, None, None], x.flip(-1), x)
    if pad:
        padded = nn.functional.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen).to(x.device)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen).to(x.device)
        base = torch.arange(28, device=x.device)
        rows = (dy[:, None] + base)[:, :, None]
        cols = (dx[:, None] + base)[:, None, :]
        x = padded[torch.arange(n, device=x.device)[:, None, None], rows, cols]
    return x
