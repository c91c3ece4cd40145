"""Time to accuracy, side by side: two experiment files' recipes trained on the same
machine, the same images (the file's own split of the 60,000 training images; the 10,000
held-out test images), each at its own budget. After every epoch the weights of that epoch
are scored on the validation split and the test set, as a run's final figures are (fp32,
the file's test-time augmentation): a benchmark of how fast each recipe gets there, never
a choice (nothing here selects anything).

    uv run python benchmarks/time_to_accuracy.py                       # exp12_winner, exp15_fast
    uv run python benchmarks/time_to_accuracy.py --epochs 1 --subset 2000   # a smoke run

Prints one row per epoch and a summary: each network's multiply-adds per image and the
training images per second it ran at (and so the multiply-adds per second: how close it
runs to the CPU's peak), and the images and training seconds each recipe needed to reach
93%, 94%, 94.5%, 95% and 95.5% held-out test accuracy, or "never, within its budget".
Results go in BENCHMARKS.md with the machine and command.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sweep.config import load_experiment  # noqa: E402
from sweep.train import (  # noqa: E402  # noqa: E402
    build_model,
    choose_device,
    count_parameters,
    final_figures,  # noqa: E402
    fit,
    make_splits,  # noqa: E402
    resolve_precision,
)

TARGETS = (0.93, 0.94, 0.945, 0.95, 0.955)
FILES = ("experiments/exp12_winner.yaml", "experiments/exp15_fast.yaml")


def curve(
    path: str, epochs: int | None, seed: int, subset: int | None = None
) -> tuple[list[dict], dict]:
    """Train the file's fixed recipe once (trial 1's seed); one record per epoch."""
    overrides = {"train.epochs": epochs} if epochs else {}
    overrides |= {"data.subset": subset} if subset else {}
    config = load_experiment(REPO / path, overrides)
    d, t = config.data, config.train.model_copy(update={"seed": seed})
    splits = make_splits(None, val_fraction=d.val_fraction, subset=d.subset, seed=d.split_seed)
    device = choose_device(t.device)
    torch.manual_seed(seed)
    model = build_model(config.model).to(device)
    rows: list[dict] = []
    scoring = [0.0]  # seconds spent scoring, taken off the training time

    def score(epoch: int, values: dict) -> None:
        began = time.perf_counter()  # (scoring changes no weight; fit goes back to train())
        figures = final_figures(model, splits, config)  # (as a run's final figures are)
        scoring[0] += time.perf_counter() - began
        rows.append(
            {
                "epoch": epoch,
                "images": epoch * len(splits.x_train),
                "seconds": time.perf_counter() - started - scoring[0],
                "val": figures[0].accuracy,
                "test": figures[1].accuracy,
            }
        )
        print(
            f"{config.name:28s} {epoch:3d} {rows[-1]['images']:>10,d} "
            f"{rows[-1]['seconds']:8.0f} {figures[0].accuracy:8.4f} {figures[1].accuracy:8.4f}",
            flush=True,
        )

    started = time.perf_counter()
    fit(model, splits, t, device=device, on_epoch=score, tta=config.eval.tta)
    about = {
        "name": config.name,
        "parameters": count_parameters(model),
        "multiply_adds": multiply_adds(config),
        "rate": rows[-1]["images"] / rows[-1]["seconds"],
        "precision": resolve_precision(t.precision, device),
        "device": device.type,
        "epochs": t.epochs,
        "images": len(splits.x_train),
    }
    return rows, about


def multiply_adds(config) -> int:  # noqa: ANN001
    """Multiply-adds of one image's forward pass through the file's network (one view)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(config.model).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    return counter.get_total_flops() // 2


def reached(rows: list[dict], target: float) -> str:
    first = next((r for r in rows if r["test"] >= target), None)
    if first is None:
        return "never, within its budget"
    return f"epoch {first['epoch']}: {first['images'] / 1e6:.2f}M images, {first['seconds']:.0f} s"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", nargs="+", default=list(FILES), help="experiment files")
    p.add_argument("--epochs", type=int, help="override each file's epochs (a quick look)")
    p.add_argument("--seed", type=int, default=1, help="training seed (a sweep's trial 1: 1)")
    p.add_argument("--subset", type=int, help="training images (a quick look; default all)")
    args = p.parse_args()
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(f"{'recipe':28s} {'ep':>3s} {'images':>10s} {'train s':>8s} {'val':>8s} {'test':>8s}")
    results = [curve(path, args.epochs, args.seed, args.subset) for path in args.files]
    print("\n| recipe | parameters | M multiply-adds / image | train img/s | G multiply-adds "
          "/ s (x3: fwd+bwd) | device, precision | budget | best test (epoch) |"
          + "".join(f" to {t:.1%} test |" for t in TARGETS))  # fmt: skip
    print("| --- " * (8 + len(TARGETS)) + "|")
    for rows, about in results:
        best = max(rows, key=lambda r: r["test"])
        macs, rate = about["multiply_adds"], about["rate"]
        print(
            f"| {about['name']} | {about['parameters']:,} | {macs / 1e6:.1f} | {rate:.0f} | "
            f"{3 * macs * rate / 1e9:.1f} | {about['device']}, "
            f"{about['precision']} | {len(rows)} of {about['epochs']} epochs x "
            f"{about['images']:,} images, {rows[-1]['seconds']:.0f} s | "
            f"{best['test']:.2%} ({best['epoch']}) |"
            + "".join(f" {reached(rows, t)} |" for t in TARGETS)
        )


if __name__ == "__main__":
    main()
