"""The console as a terminal shows it: a short sweep under a pseudo-terminal; the progress
bar never shares a line with a log line, and logged floats are short."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import sys
import termios
from pathlib import Path

import pytest

from conftest import tiny_sweep

SWEEP = tiny_sweep(
    "console",
    model={"hidden": [32]},
    train={"batch_size": 64},
    sweep={"max_evals": 3},
    data={"subset": 1000},
)
LOG_LINE = re.compile(r"\d\d:\d\d:\d\d(\x1b\[0m)? (trial|sweep|registered|\d+ runs)")


def in_a_terminal(args: list[str], cwd: Path) -> tuple[int, bytes]:
    """Run ``args`` with a pseudo-terminal of 40 x 140 as stdin/stdout/stderr."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its console
        os.chdir(cwd)
        os.execv(args[0], args)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    out = bytearray()
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # the child has closed the terminal
            break
        if not data:
            break
        out.extend(data)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), bytes(out)


def rendered(text: str) -> list[str]:
    """The terminal's lines: each carriage return overwrites the line from its start."""
    lines = []
    for line in text.split("\n"):
        shown = ""
        for part in line.split("\r"):
            shown = part + shown[len(part) :]
        lines.append(shown)
    return lines


@pytest.mark.slow
def test_a_sweep_in_a_terminal(tmp_path: Path, synthetic_dir: Path) -> None:
    (tmp_path / "console.yaml").write_text(SWEEP)
    args = [sys.executable, "-m", "sweep", "console.yaml", "--data-dir", str(synthetic_dir)]
    code, out = in_a_terminal(args, tmp_path)
    text = out.decode(errors="replace")
    assert code == 0, text[-3000:]
    lines = rendered(text)
    bars = [line for line in lines if "%|" in line]
    logs = [line for line in lines if LOG_LINE.search(line)]
    assert bars and len(logs) >= 5, text[-3000:]  # the bar was drawn; the trials logged
    assert not [line for line in lines if "%|" in line and LOG_LINE.search(line)]
    assert any("best val_accuracy 0." in b or "best val_accuracy 1." in b for b in bars)
    assert "best loss" not in text and "Traceback" not in text and "INFO mlflow" not in text
    for line in logs:  # no float with more than 6 significant digits
        for number in re.findall(r"\d+\.\d+(?:e-?\d+)?", line):
            digits = number.split("e")[0].replace(".", "").lstrip("0")
            assert len(digits) <= 6, (number, line)


def test_epoch_lines_at_most_every_30_seconds(monkeypatch) -> None:
    from loguru import logger

    from sweep.console import EpochLines

    now = [0.0]
    seen: list[str] = []
    sink = logger.add(seen.append, format="{message}")
    try:
        lines = EpochLines("7", clock=lambda: now[0])
        values = {"train_loss": 0.123456789, "val_accuracy": 0.9, "lr": 0.00123456}
        for epoch, t in enumerate([10.0, 29.0, 31.0, 40.0, 62.0], start=1):
            now[0] = t
            lines(epoch, values)
        quiet = EpochLines("8", quiet=True, clock=lambda: now[0])
        now[0] = 200.0
        quiet(1, values)
    finally:
        logger.remove(sink)
    assert [s.split(" | ")[1] for s in seen] == ["epoch 3", "epoch 5"]
    assert "train_loss 0.1235" in seen[0] and "lr 0.001235" in seen[0]
    assert "s/epoch" in seen[0] and not [s for s in seen if s.startswith("trial   8")]


def test_the_best_five_configurations() -> None:
    from sweep.analysis import TrialSummary
    from sweep.console import best_table

    def run(cid: str, val: float, test: float) -> TrialSummary:
        params = {"model.dropout": int(cid[1:]) / 10}
        return TrialSummary(1, "ok", params, None, -val, val, test, config_id=cid)

    trials = [run(f"c{i}", 0.80 + i / 100, 0.70) for i in range(7)] + [run("c0", 0.82, 0.72)]
    lines = best_table(trials).splitlines()
    assert lines[0].startswith("best 5 configuration(s)") and len(lines) == 6
    assert lines[1].split()[0] == "c6" and "n=1" in lines[1]
    c0 = [line for line in best_table(trials, top=7).splitlines() if "c0 " in line][0]
    assert "val 0.8100" in c0 and "test 0.7100" in c0 and "n=2" in c0
