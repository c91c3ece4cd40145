"""The conventional PyTorch training loop, as a reference to measure `sweep.train.fit`
against: a torchvision-style Dataset (PIL image -> ToTensor -> Normalize per sample) and
`DataLoader(shuffle=True)`. Same model, optimizer and loss as `fit()`."""

from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from sweep.config import TrainConfig
from sweep.train import MEAN, STD, make_optimizer


class FashionMNISTLike(Dataset):
    """What `torchvision.datasets.FashionMNIST` does per item: uint8 -> PIL -> transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels
        self.transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(self.images[i], mode="L")
        return self.transform(image), int(self.labels[i])


def train_conventional(
    model: nn.Module, images: np.ndarray, labels: np.ndarray, cfg: TrainConfig
) -> float:
    """Train ``cfg.epochs`` epochs the usual way; returns the seconds it took."""
    loader = DataLoader(
        FashionMNISTLike(images, labels),
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    optimizer = make_optimizer(model, cfg)
    started = time.perf_counter()
    for _ in range(cfg.epochs):
        model.train()
        for xb, yb in loader:
            loss = nn.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return time.perf_counter() - started


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    """Evaluation through the same per-sample transform."""
    loader = DataLoader(FashionMNISTLike(images, labels), batch_size=512)
    model.eval()
    correct = 0
    with torch.inference_mode():
        for xb, yb in loader:
            correct += int((model(xb).argmax(1) == yb).sum())
    return correct / len(labels)
