"""Model builders, looked up by ``model.kind`` in a registry.

Every model takes a ``[N, 1, 28, 28]`` float batch and returns ``[N, 10]`` logits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..config import CNNConfig, MLPConfig, ModelConfig, ResNetConfig, WideDeepConfig

NUM_CLASSES = 10
SIDE = 28  # images are SIDE x SIDE
PIXELS = SIDE * SIDE


def _conv_bn(c_in: int, c_out: int, kernel: int, batchnorm: bool) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=not batchnorm),
        *([nn.BatchNorm2d(c_out)] if batchnorm else []),
    ]


class ResidualPair(nn.Module):
    """Two 3x3 convs with an identity shortcut: ``relu(x + f(x))``."""

    def __init__(self, channels: int, batchnorm: bool):
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(channels, channels, 3, batchnorm),
            nn.ReLU(inplace=True),
            *_conv_bn(channels, channels, 3, batchnorm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


def conv_tower(cfg: CNNConfig, kernel: int) -> nn.Sequential:
    """``num_blocks`` blocks of conv-[BN]-ReLU-[residual pair]-maxpool-dropout."""
    layers: list[nn.Module] = []
    c_in = 1
    for i, rate in enumerate(cfg.dropout):
        c_out = cfg.filters // 2 ** (cfg.num_blocks - 1 - i)
        layers += [*_conv_bn(c_in, c_out, kernel, cfg.batchnorm), nn.ReLU(inplace=True)]
        if cfg.residual:
            layers.append(ResidualPair(c_out, cfg.batchnorm))
        layers += [nn.MaxPool2d(2), nn.Dropout(rate)]
        c_in = c_out
    return nn.Sequential(*layers)


class CNN(nn.Module):
    """One conv tower (or two, 3x3 and 5x5, for the dual-path variant) and a dense head."""

    def __init__(self, cfg: CNNConfig):
        super().__init__()
        self.towers = nn.ModuleList([conv_tower(cfg, 3)])
        if cfg.dual_path:
            self.towers.append(conv_tower(cfg, 5))
        side = SIDE // 2**cfg.num_blocks
        features = len(self.towers) * cfg.filters * side * side
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(features, cfg.units1),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dense_dropout),
            nn.Linear(cfg.units1, cfg.units2),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dense_dropout),
            nn.Linear(cfg.units2, NUM_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [tower(x) for tower in self.towers]
        return self.head(torch.cat(features, dim=1) if len(features) > 1 else features[0])


def build_mlp(cfg: MLPConfig) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    width = PIXELS
    for units in cfg.hidden:
        layers.append(nn.Linear(width, units, bias=not cfg.batchnorm))
        if cfg.batchnorm:
            layers.append(nn.BatchNorm1d(units))
        layers += [nn.ReLU(inplace=True), nn.Dropout(cfg.dropout)]
        width = units
    layers.append(nn.Linear(width, NUM_CLASSES))
    return nn.Sequential(*layers)


class WideDeep(nn.Module):
    """The study's wide-and-deep network, row-wise as Keras built it.

    Keras applies ``Dense`` to the last axis of a 28x28 input, so the deep path
    (Dense-ReLU-BN twice, then dropout) runs on each 28-pixel row with weights shared by
    all rows (28 x ``units`` features). The raw rows are concatenated to it row by row
    (28 x (``units`` + 28)), flattened, and fed to one softmax layer: 18,170 trainable
    parameters at 30 units. Initialisation and BatchNorm follow Keras' defaults (Glorot
    uniform weights, zero biases; BatchNorm eps 1e-3, running averages with momentum 0.99).
    """

    def __init__(self, cfg: WideDeepConfig):
        super().__init__()
        self.dense1 = nn.Linear(SIDE, cfg.units)
        self.bn1 = nn.BatchNorm1d(cfg.units, eps=1e-3, momentum=0.01)
        self.dense2 = nn.Linear(cfg.units, cfg.units)
        self.bn2 = nn.BatchNorm1d(cfg.units, eps=1e-3, momentum=0.01)
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(SIDE * (cfg.units + SIDE), NUM_CLASSES)
        for layer in (self.dense1, self.dense2, self.out):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    @staticmethod
    def _per_row(bn: nn.BatchNorm1d, h: torch.Tensor) -> torch.Tensor:
        """BatchNorm over the feature axis of ``[N, rows, features]`` (statistics over
        images and rows, as Keras' BatchNormalization on the last axis)."""
        return bn(h.transpose(1, 2)).transpose(1, 2)

    def row_features(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 28, units + 28]``: each row's deep features, then its raw pixels."""
        rows = x.reshape(x.shape[0], SIDE, SIDE)  # [N, row, pixel]
        h = self._per_row(self.bn1, torch.relu(self.dense1(rows)))
        h = self._per_row(self.bn2, torch.relu(self.dense2(h)))
        return torch.cat([self.dropout(h), rows], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.row_features(x).flatten(1))


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [*_conv_bn(c_in, c_out, 3, batchnorm=True), nn.ReLU(inplace=True)]


class ResNet(nn.Module):
    """A compact residual network in the manner of the CIFAR-10 speed-runs' ResNet-9:
    stem conv (and, with ``stem_pool``, a max-pool to 14 x 14); per stage conv to its
    width, max-pool, residual pairs; global pooling; linear. Few parameters where the image
    is large, most where it is small."""

    def __init__(self, cfg: ResNetConfig):
        super().__init__()
        layers: list[nn.Module] = _conv_bn_relu(1, cfg.stem)
        if cfg.stem_pool:
            layers.append(nn.MaxPool2d(2))
        c_in = cfg.stem
        for width in cfg.widths:
            layers += [*_conv_bn_relu(c_in, width), nn.MaxPool2d(2)]
            layers += [ResidualPair(width, batchnorm=True) for _ in range(cfg.blocks)]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveMaxPool2d(1) if cfg.pool == "max" else nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c_in, NUM_CLASSES)
        self.whiten = cfg.whiten
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = cfg.bn_momentum
        if cfg.identity_init:
            convs = [m for m in self.features.modules() if isinstance(m, nn.Conv2d)]
            for conv in convs[1:]:  # (not the stem: one channel in)
                identity_init(conv)

    def init_from_images(self, x: torch.Tensor) -> None:
        """With ``whiten``, before training: the stem's filters from the 3x3 patches of
        ``x`` (``[N, 1, 28, 28]`` as the model sees them), frozen."""
        if self.whiten:
            stem = self.features[0]
            stem.weight.data.copy_(whitening_filters(x, stem.out_channels).to(stem.weight))
            stem.weight.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


@torch.no_grad()
def identity_init(conv: nn.Conv2d) -> None:
    """The first of ``conv``'s filters pass its input channels through unchanged (one
    each, as ``nn.init.dirac_``); where it has more filters than input channels, the
    others keep their random initialisation."""
    n = min(conv.in_channels, conv.out_channels)
    nn.init.dirac_(conv.weight[:n])


WHITENING_EPS = 5e-4  # added to each eigenvalue (of standardized pixels' patches)


def whitening_filters(x: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` 3x3 filters (``[n, 1, 3, 3]``) that whiten the 3x3 patches of images ``x``:
    each eigenvector of the patches' covariance divided by the root of its eigenvalue
    (plus :data:`WHITENING_EPS`), then its negative, the largest eigenvalues first, so that
    a ReLU after them keeps both signs."""
    patches = nn.functional.unfold(x.float(), 3).transpose(1, 2).reshape(-1, 9).double()
    patches = patches - patches.mean(0)
    values, vectors = torch.linalg.eigh(patches.T @ patches / len(patches))
    values, vectors = values.flip(0), vectors.flip(1)  # (eigh: ascending)
    filters = vectors.T / (values + WHITENING_EPS).sqrt()[:, None]
    signed = torch.stack([filters, -filters], 1).reshape(2 * 9, 9)
    return signed[:n].reshape(n, 1, 3, 3).float()


REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "cnn": CNN,
    "mlp": build_mlp,
    "wide_deep": WideDeep,
    "resnet": ResNet,
}


def build_model(cfg: ModelConfig) -> nn.Module:
    """A fresh, randomly initialised model for ``cfg`` (seed the RNG before calling)."""
    return REGISTRY[cfg.kind](cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
