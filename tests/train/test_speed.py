"""The fast path learns what the conventional one does: fp32 vs bf16, in-memory batching vs
the DataLoader loop, on a subset of the real data. Speed itself is measured by
benchmarks/throughput.py, not here."""

from __future__ import annotations

import sys

import pytest
import torch

from conftest import REPO
from sweep.config import MLPConfig, TrainConfig
from sweep.train import build_model, evaluate, fit, make_splits

pytestmark = pytest.mark.slow  # the real data

sys.path.insert(0, str(REPO / "benchmarks"))
from conventional import train_conventional  # noqa: E402


@pytest.fixture(scope="module")
def splits(real_data_dir):
    # 3,000 validation images: one image is 0.033 points
    return make_splits(real_data_dir, val_fraction=0.25, subset=12000, seed=0)


def val_accuracy(model, splits) -> float:
    return evaluate(model, torch.from_numpy(splits.x_val), torch.from_numpy(splits.y_val)).accuracy


def trained(splits, precision: str):
    torch.manual_seed(0)
    model = build_model(MLPConfig())
    fit(model, splits, TrainConfig(epochs=4, batch_size=128, precision=precision))
    return model


def test_bf16_matches_fp32_within_half_a_point(splits) -> None:
    fp32 = val_accuracy(trained(splits, "fp32"), splits)
    bf16 = val_accuracy(trained(splits, "bf16"), splits)
    assert fp32 > 0.8
    assert abs(fp32 - bf16) <= 0.005, (fp32, bf16)


def test_in_memory_loop_matches_the_dataloader_loop(splits) -> None:
    cfg = TrainConfig(epochs=4, batch_size=128, precision="fp32")
    fast = val_accuracy(trained(splits, "fp32"), splits)
    torch.manual_seed(0)
    model = build_model(MLPConfig())
    train_conventional(model, splits.x_train, splits.y_train, cfg)
    usual = val_accuracy(model, splits)
    # different batch orders: the two differ by sampling noise only. Each accuracy on 3,000
    # images has a standard error of about 0.65 points, their difference about 0.9: allow 2.
    assert abs(fast - usual) <= 0.02, (fast, usual)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_trains_with_data_on_the_gpu(splits) -> None:
    torch.manual_seed(0)
    model = build_model(MLPConfig()).cuda()
    result = fit(model, splits, TrainConfig(epochs=2, batch_size=256, precision="auto"))
    assert result.precision in ("bf16", "fp32")
    assert next(model.parameters()).is_cuda
    assert result.val_accuracy > 0.8


@pytest.mark.skipif(
    not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    reason="needs Apple MPS",
)
def test_mps_path_trains(splits) -> None:
    torch.manual_seed(0)
    model = build_model(MLPConfig()).to("mps")
    assert fit(model, splits, TrainConfig(epochs=1, batch_size=256)).val_accuracy > 0.7
