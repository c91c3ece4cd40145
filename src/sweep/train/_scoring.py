"""Scoring a model: the one pixel transform, logits with test-time augmentation, the
logged model's :class:`Scorer`, and :func:`evaluate` over a split."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._devices import _autocast, eval_batch_size

# Fashion-MNIST training-set pixel statistics, for per-batch normalisation
MEAN, STD = 0.2860, 0.3530


@dataclass(frozen=True)
class EvalResult:
    loss: float
    accuracy: float
    predictions: np.ndarray  # int64 class index per image


def scale_pixels(x: torch.Tensor, pixels: str = "standardized") -> torch.Tensor:
    """Float pixel values 0-255 -> [0, 1], then standardized with the training set's mean
    and deviation (``pixels: standardized``) or left there (``unit``): the one input
    transform, in training, evaluation and the logged model alike."""
    out = x / 255.0
    if pixels == "standardized":
        out = (out - MEAN) / STD
    return out


def to_input(x: torch.Tensor, channels_last: bool, pixels: str = "standardized") -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` -> float ``[N, 1, 28, 28]``, standardized or in [0, 1]."""
    out = scale_pixels(x.unsqueeze(1).float(), pixels)
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


def shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """A ``[N, C, H, W]`` batch moved ``dy`` pixels down and ``dx`` right (at most 1), its
    edge rows and columns repeated into the gap."""
    padded = nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    h, w = x.shape[-2:]
    return padded[..., 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]


def views(x: torch.Tensor, tta: tuple[str, ...]) -> list[torch.Tensor]:
    """The inputs test-time augmentation scores: the batch (and its mirror image, with
    ``hflip``), each also shifted one pixel down-right and up-left (``translate``)."""
    out = [x, x.flip(-1)] if "hflip" in tta else [x]
    if "translate" in tta:
        out = [v for base in out for v in (base, shifted(base, 1, 1), shifted(base, -1, -1))]
    return out


def predict_logits(model: nn.Module, x: torch.Tensor, tta: tuple[str, ...] = ()) -> torch.Tensor:
    """``model``'s logits of the input batch ``x`` (in fp32); with ``tta`` (``hflip``,
    ``translate``: :func:`views`), the log of the mean softmax of the views: still logits,
    whose softmax is the average of the views'."""
    if not tta:
        return model(x).float()
    scored = [model(v).float().log_softmax(1) for v in views(x, tta)]
    return torch.stack(scored).logsumexp(0) - math.log(len(scored))


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
        return predict_logits(self.model, scale_pixels(x.float(), self.pixels), self.tta)


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
