"""Where and in which precision a model trains: the device a request names (and why one
cannot be had), whether this CPU runs bf16 natively, and the autocast context."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


class DeviceError(RuntimeError):
    """The device asked for is not one this machine's torch can use."""


def choose_device(requested: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; an explicit name wins."""
    if requested != "auto":
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_devices() -> str:
    """What this machine's torch can use, in words."""
    build = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps = getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    return (
        f"torch {torch.__version__} ({build}) with {gpus or 'no'} CUDA device"
        f"{'' if gpus == 1 else 's'} visible and {'an' if mps else 'no'} Apple MPS device"
    )


def device_problem(requested: str) -> str | None:
    """Why this machine's torch cannot train on ``requested``; None when it can."""
    if requested in ("auto", "cpu"):
        return None
    if requested.startswith("cuda"):
        index = int(requested.partition(":")[2] or 0)
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        usable = index < gpus
    else:  # mps
        usable = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if usable:
        return None
    return f"device {requested!r} was asked for, but this machine has {describe_devices()}"


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # Linux's names of the bf16 instructions


def cpu_runs_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes in bf16 natively (not emulated) and oneDNN can use it.
    Linux lists the instructions among the CPU's flags; elsewhere PyTorch's own CPU probe
    (``torch.cpu``) answers. (``torch.backends.cpu.get_cpu_capability()`` names only the
    vector width it dispatches to, ``AVX512`` on a CPU with AVX512-BF16 too.)"""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        text = cpuinfo.read_text()
    except OSError:
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    flags = next(
        (ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), []
    )
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """This machine's CPU as its maker names it (Linux's ``model name``; elsewhere what
    the platform says), for the record of where a run trained."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return platform.processor() or platform.machine() or "unknown"
    names = (
        ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")
    )
    return next(names, "") or platform.machine() or "unknown"


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> bf16 where the hardware runs it natively, else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_runs_bf16() else "fp32"
    return "fp32"


def eval_batch_size(requested: int | None, device: torch.device) -> int:
    """The configured evaluation batch, or the measured default for the device."""
    if requested:
        return requested
    return 256 if device.type == "cpu" else 1024


def _autocast(device: torch.device, precision: str) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
