"""What a network costs per image and how fast this CPU trains it: multiply-adds per image
(counted by torch's FlopCounterMode), parameters, and training images per second of
``fit()`` over real images (fp32, or the precision asked for), with the multiply-adds per
second that makes, so that networks of different shapes can be put side by side and
against the CPU's peak.

    uv run python benchmarks/network_cost.py                      # exp15's and its variants
    uv run python benchmarks/network_cost.py --images 8000 --precision auto

Prints a table; results go in BENCHMARKS.md with the machine and command.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sweep.config import ResNetConfig, TrainConfig  # noqa: E402
from sweep.train import Splits, build_model, count_parameters, cpu_model, fit, make_splits  # noqa: E402

NETWORKS = {
    "exp15 (stem 32, [64, 128])": ResNetConfig(),
    "exp15 + stem_pool": ResNetConfig(stem_pool=True),
    "stem_pool, [128, 256]": ResNetConfig(stem_pool=True, widths=(128, 256)),
    "stem_pool, [64, 128, 256]": ResNetConfig(stem_pool=True, widths=(64, 128, 256)),
    "stem_pool, [96, 192], 2 pairs": ResNetConfig(stem_pool=True, widths=(96, 192), blocks=2),
}


def multiply_adds(cfg: ResNetConfig) -> int:
    """Multiply-adds of one image's forward pass (a training step costs about 3 times)."""
    model = build_model(cfg).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    return counter.get_total_flops() // 2


def train_rate(cfg: ResNetConfig, splits: Splits, images: int, precision: str) -> float:
    """Training images per second of one epoch of ``fit()`` over ``images`` real images
    (batch 128, as exp15), after a short warm-up epoch."""
    x, y = splits.x_train[:images], splits.y_train[:images]
    tiny_val = Splits(x, y, splits.x_val[:64], splits.y_val[:64], splits.x_test, splits.y_test)
    train = TrainConfig(epochs=1, batch_size=128, precision=precision)
    warm = Splits(x[:512], y[:512], tiny_val.x_val, tiny_val.y_val, x[:64], y[:64])
    torch.manual_seed(0)
    fit(build_model(cfg), warm, train)
    torch.manual_seed(0)
    result = fit(build_model(cfg), tiny_val, train)
    return images / result.train_seconds


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--images", type=int, default=4000, help="training images per measurement")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "auto"))
    args = p.parse_args()
    splits = make_splits(val_fraction=0.1, seed=0)
    print(
        f"# {cpu_model() or platform.machine()}, {torch.get_num_threads()} threads, torch "
        f"{torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )
    print(f"# {args.images} real training images per measurement, {args.precision}, batch 128\n")
    print("| network | params | M multiply-adds / image | train img/s | G multiply-adds / s |")
    print("| --- | --- | --- | --- | --- |")
    for name, cfg in NETWORKS.items():
        macs = multiply_adds(cfg)
        rate = train_rate(cfg, splits, args.images, args.precision)
        params = count_parameters(build_model(cfg))
        # a training step: forward, and a backward of about twice its multiply-adds
        per_second = 3 * macs * rate / 1e9
        print(f"| {name} | {params:,} | {macs / 1e6:.1f} | {rate:.0f} | {per_second:.1f} |")


if __name__ == "__main__":
    main()
