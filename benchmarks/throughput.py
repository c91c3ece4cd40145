"""Training and evaluation throughput: the project's `fit()` against the conventional
DataLoader loop, in the same process, on the same real images.

    uv run python benchmarks/throughput.py                  # mlp, small_cnn, exp12_cnn
    uv run python benchmarks/throughput.py --models mlp --images 20000
    uv run python benchmarks/throughput.py --sweep          # + orchestration overhead
    uv run python benchmarks/throughput.py --sweep-only     # only the orchestration overhead

Prints a table; results go in BENCHMARKS.md with the machine and command.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path[:0] = [
    str(Path(__file__).resolve().parent),
    str(Path(__file__).resolve().parents[1] / "src"),
]

from conventional import train_conventional  # noqa: E402

from sweep.config import CNNConfig, MLPConfig, TrainConfig  # noqa: E402
from sweep.train import Splits, build_model, count_parameters, evaluate, fit, make_splits  # noqa: E402  # noqa: E402  # noqa: E402

MODELS = {
    # name: (model config, batch size of its experiment)
    "mlp": (MLPConfig(), 256),
    "small_cnn": (
        CNNConfig(num_blocks=2, filters=64, units1=128, units2=64, dropout=(0.1, 0.2)),
        128,
    ),
    "exp12_cnn": (CNNConfig(), 64),
}
REPO = Path(__file__).resolve().parents[1]


def fresh(cfg) -> nn.Module:
    torch.manual_seed(0)
    return build_model(cfg)


def bare_step_rate(model: nn.Module, batch: int, seconds: float, channels_last: bool) -> float:
    """Images/s of forward+backward+step on one fixed, pre-normalised batch."""
    x = torch.randn(batch, 1, 28, 28)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n += batch
    return n / (time.perf_counter() - start)


def eval_rate(model: nn.Module, x: torch.Tensor, batch: int) -> float:
    evaluate(model, x[:batch], torch.zeros(batch, dtype=torch.long), batch_size=batch)
    start = time.perf_counter()
    evaluate(model, x, torch.zeros(len(x), dtype=torch.long), batch_size=batch)
    return len(x) / (time.perf_counter() - start)


def bench_model(name: str, splits: Splits, images: int, seconds: float) -> dict:
    cfg, batch = MODELS[name]
    train = TrainConfig(epochs=1, batch_size=batch, precision="fp32")
    images *= 5 if name == "mlp" else 1  # the MLP is fast: more images for a steady figure
    x, y = splits.x_train[:images], splits.y_train[:images]
    tiny_val = Splits(x, y, splits.x_val[:64], splits.y_val[:64], splits.x_test, splits.y_test)

    conventional_s = train_conventional(fresh(cfg), x, y, train)
    result = fit(fresh(cfg), tiny_val, train)
    model = fresh(cfg)
    is_cnn = cfg.kind == "cnn"
    bare = bare_step_rate(model, batch, seconds, channels_last=is_cnn)
    if is_cnn:
        model = model.to(memory_format=torch.channels_last)
    test_x = torch.from_numpy(splits.x_test[:4096])
    evals = {b: eval_rate(model, test_x, b) for b in (256, 512, 1024)}
    fast = images / result.train_seconds
    conventional = images / conventional_s
    return {
        "model": name,
        "params": count_parameters(model),
        "batch": batch,
        "conventional": conventional,
        "fit": fast,
        "ratio": fast / conventional,
        "bare": bare,
        "loop_share": fast / bare,
        **{f"eval@{b}": r for b, r in evals.items()},
    }


def sweep_overhead(subset: int) -> dict:
    """Run the quickstart sweep (on a subset) as a user would and measure the share of its
    wall time spent outside fit(): start-up, Hyperopt, MLflow, test evaluation, artifacts."""
    from backends import run  # the same measured CLI run as the backend comparison

    return run("local", subset, max_evals=4)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--images", type=int, default=6000, help="training images per measurement")
    p.add_argument("--seconds", type=float, default=8.0, help="length of the bare benchmark")
    p.add_argument("--sweep", action="store_true", help="also measure orchestration overhead")
    p.add_argument("--sweep-subset", type=int, default=20000, help="0: all images")
    p.add_argument("--sweep-only", action="store_true", help="only the orchestration overhead")
    args = p.parse_args()

    if args.sweep_only:
        print_sweep_overhead(args.sweep_subset)
        return
    splits = make_splits(val_fraction=0.1, seed=0)
    print(
        f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )
    print(f"# {args.images} real training images per measurement, fp32, 1 epoch\n")
    header = (
        "| model | params | batch | DataLoader loop img/s | fit() img/s | speed-up | "
        "bare fwd+bwd img/s | fit / bare | eval img/s @256 | @512 | @1024 |"
    )
    print(header)
    print("|" + " --- |" * 11)
    for name in args.models:
        r = bench_model(name, splits, args.images, args.seconds)
        print(
            f"| {r['model']} | {r['params']:,} | {r['batch']} | {r['conventional']:.0f} | "
            f"{r['fit']:.0f} | {r['ratio']:.2f}x | {r['bare']:.0f} | "
            f"{100 * r['loop_share']:.0f}% | {r['eval@256']:.0f} | {r['eval@512']:.0f} | "
            f"{r['eval@1024']:.0f} |",
            flush=True,
        )
    if args.sweep:
        print_sweep_overhead(args.sweep_subset)


def print_sweep_overhead(subset: int) -> None:
    s = sweep_overhead(subset)
    train = s["fit"] * s["trials"]
    outside = s["wall"] - train
    print(
        f"\nquickstart sweep, --subset {subset or 'none'}: {s['trials']} trials, wall "
        f"{s['wall']:.1f} s, inside fit() {train:.1f} s, outside {outside:.1f} s "
        f"({100 * outside / s['wall']:.1f}% of wall time)\n"
    )
    print("| outside fit() | s | share of wall |")
    print("| --- | --- | --- |")
    parts = {
        "before the first trial (start-up, imports, store, parent run)": s["before_trials"],
        "in the trials (data split, test evaluation, recording)": s["in_trials"],
        "between the trials (Hyperopt, the sweep's state)": s["between_trials"],
        "after the last trial (figures, model, summary)": s["after_trials"],
    }
    for name, seconds in parts.items():
        print(f"| {name} | {seconds:.1f} | {100 * seconds / s['wall']:.1f}% |")


if __name__ == "__main__":
    main()
