from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import torch

from conftest import EXPERIMENTS
from sweep.config import CNNConfig, MLPConfig, WideDeepConfig, load_experiment
from sweep.train import REGISTRY, build_model, count_parameters

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

    assert MODEL_KINDS == ("cnn", "mlp", "wide_deep", "resnet")
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


def test_wide_deep_is_the_studys_row_wise_model() -> None:
    """Keras' Dense on a 28x28 input acts on each row: 28 -> 30 -> 30 per row, the raw row
    appended (28 x 58), flattened into softmax: 18,170 trainable parameters at 30 units."""
    model = build_model(WideDeepConfig(units=30))
    assert count_parameters(model) == 18_170
    assert model.out.in_features == 28 * (30 + 28)
    assert count_parameters(build_model(WideDeepConfig(units=64))) == (
        28 * 64 + 64 + 2 * 64 + 64 * 64 + 64 + 2 * 64 + 28 * (64 + 28) * 10 + 10
    )


def test_wide_deep_shares_its_weights_across_rows() -> None:
    torch.manual_seed(0)
    model = build_model(WideDeepConfig()).eval()  # running BatchNorm statistics: per row
    x = torch.randn(3, 1, 28, 28)
    copied = x.clone()
    copied[:, 0, 10] = x[:, 0, 3]  # row 10 becomes a copy of row 3
    before, after = model.row_features(x), model.row_features(copied)
    assert before.shape == (3, 28, 30 + 28)
    assert torch.equal(after[:, 10], before[:, 3])  # the same weights on every row
    others = [r for r in range(28) if r != 10]
    assert torch.equal(after[:, others], before[:, others])  # a row's features are its own
    assert torch.equal(before[:, :, 30:], x[:, 0])  # the raw rows, appended per row


def _study_range(path: Path) -> tuple[float, float]:
    """The range stated in the file: ``# parameters: 1.28M-3.97M``."""
    m = re.search(r"parameters: (\d+\.\d+)M-(\d+\.\d+)M", path.read_text())
    assert m, f"{path} states no parameter range"
    return float(m[1]) * 1e6, float(m[2]) * 1e6


def test_exp8_spans_the_studys_wider_models() -> None:
    """The study's wider runs had 1.2M-4.1M parameters; exp8's search space spans that
    range, and its file states the range it spans."""
    path = EXPERIMENTS / "exp8.yaml"
    config = load_experiment(path)
    sizes = []
    for values in itertools.product(*(d.args for d in config.search.values())):
        fields = {k.removeprefix("model."): v for k, v in zip(config.search, values, strict=True)}
        sizes.append(count_parameters(build_model(config.model.model_copy(update=fields))))
    low, high = min(sizes), max(sizes)
    assert 1.2e6 <= low <= 1.3e6 and 3.9e6 <= high <= 4.1e6, (low, high)
    stated = _study_range(path)
    assert stated == (round(low / 1e4) * 1e4, round(high / 1e4) * 1e4), (stated, low, high)
