from __future__ import annotations

import pytest
import torch

from sweep.config import CNNConfig, MLPConfig, WideDeepConfig
from sweep.models import REGISTRY, build_model, count_parameters

CASES = {
    "cnn": CNNConfig(),
    "cnn_no_bn": CNNConfig(batchnorm=False),
    "cnn_4_blocks": CNNConfig(num_blocks=4, dropout=(0.1,) * 4),
    "cnn_residual": CNNConfig(residual=True, filters=64),
    "cnn_dual_path": CNNConfig(dual_path=True, filters=64),
    "mlp": MLPConfig(),
    "wide_deep": WideDeepConfig(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_model_maps_images_to_ten_logits(name: str) -> None:
    model = build_model(CASES[name])
    out = model(torch.randn(5, 1, 28, 28))
    assert out.shape == (5, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_registry_covers_every_kind() -> None:
    from sweep.config import MODEL_KINDS

    assert MODEL_KINDS == ("cnn", "mlp", "wide_deep")
    assert set(REGISTRY) == set(MODEL_KINDS)


def test_exp12_cnn_is_in_the_published_size_range() -> None:
    n = count_parameters(build_model(CNNConfig()))
    assert 300_000 <= n <= 900_000, n  # "300K-800K parameters was the sweet spot"


def test_knobs_change_the_model() -> None:
    base = count_parameters(build_model(CNNConfig(filters=64)))
    assert count_parameters(build_model(CNNConfig(filters=64, residual=True))) > base
    assert count_parameters(build_model(CNNConfig(filters=64, dual_path=True))) > base
    no_bn = build_model(CNNConfig(batchnorm=False))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in no_bn.modules())
    # published MLP: 784-256-128-10 with BatchNorm
    assert (
        count_parameters(build_model(MLPConfig()))
        == 784 * 256 + 256 * 2 + 256 * 128 + 128 * 2 + 128 * 10 + 10
    )
    # wide & deep: 784 -> 30 -> 30, concatenated with the 784 raw pixels -> 10
    assert build_model(WideDeepConfig()).out.in_features == 784 + 30
