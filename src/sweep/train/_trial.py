"""One trial trained and tested, recording nothing: :func:`train_trial` fits a trial's
config on its data split and returns a :class:`TrialOutcome` (its figures, predictions and
weights); :class:`TrialCheckpoint` keeps a running trial's training state between epochs
so that a trial cut off goes on from its last epoch. No MLflow and no Hyperopt here: the
search runs trials, ``record`` writes them."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from loguru import logger

from .. import names as M
from ..config import ExperimentConfig
from ..faults import StorageFull, writing
from ..signals import SweepInterrupted
from ._data import Splits, make_splits, source_of
from ._devices import DeviceError, choose_device, device_problem, resolve_precision
from ._fit import fit
from ._models import build_model, count_parameters
from ._scoring import Scorer, evaluate


@dataclass(frozen=True)
class DataPlace:
    """Where a trial's data is and how many threads it may use: a folder of IDX files
    (None: found as ``make data`` put it), or a pickle (read only if allowed)."""

    data_dir: str | None = None
    data_pickle: str | None = None
    allow_pickle: bool = False
    threads: int | None = None  # torch threads per trial (cores / parallel trials)


def place_trial(requested: str, precision: str, threads: int | None) -> tuple[torch.device, str]:
    """The device and precision a trial trains with (and the torch threads it may use)."""
    problem = device_problem(requested)  # checked here too: a Spark worker is another machine
    if problem:
        raise DeviceError(problem)
    if threads:
        torch.set_num_threads(threads)  # parallel trials must not oversubscribe cores
    device = choose_device(requested)
    return device, resolve_precision(precision, device)


EVAL_PRECISION = "fp32"  # of a trial's final figures: the logged model computes in fp32


@dataclass(frozen=True)
class TrialOutcome:
    """What one trained and tested trial produced: everything that gets recorded."""

    history: tuple[dict[str, float], ...]
    val_accuracy: float  # of the returned model: what the sweep selects on
    val_loss: float
    best_val_accuracy: float  # highest of any epoch
    test_accuracy: float
    test_loss: float
    splits: Splits  # the data it was trained, validated and tested on
    data_source: str  # where that data was read from
    predictions: np.ndarray
    state_dict: dict[str, Any]  # the returned model's weights, on the CPU
    num_parameters: int
    epochs_run: int
    model_epoch: int  # whose weights were tested (restore-best or last)
    train_seconds: float
    device: str
    precision: str
    pruned_at: int | None = None  # the epoch after which the pruner stopped it

    def loss(self, objective: str) -> float:
        """Hyperopt minimises: -accuracy, or the loss itself."""
        return -self.val_accuracy if objective == M.VAL_ACCURACY else self.val_loss


def train_trial(
    trial: ExperimentConfig,
    where: DataPlace | None = None,
    device: torch.device | None = None,
    **hooks: Any,
) -> TrialOutcome:
    """Train one trial config on its data split and test it, recording nothing (a
    notebook's way to fit one model: an experiment's searched keys keep their file values).
    ``where``: where the data is (default: found as ``make data`` put it). ``hooks`` are
    :func:`sweep.train.fit`'s (``on_epoch``, ``should_stop``, ``should_prune``,
    ``checkpoint``, ``resume_from``). Raises :class:`SweepInterrupted` when
    ``should_stop()`` cut the training short."""
    ctx = where or DataPlace()
    if device is None:
        device, _ = place_trial(trial.train.device, trial.train.precision, ctx.threads)
    d = trial.data
    splits = make_splits(
        ctx.data_dir,
        val_fraction=d.val_fraction,
        subset=d.subset,
        seed=d.split_seed,
        pickle_file=ctx.data_pickle,
        allow_pickle=ctx.allow_pickle,
    )
    torch.manual_seed(trial.train.seed)  # init and batch order: this run's own seed
    model = build_model(trial.model).to(device)
    fitted = fit(model, splits, trial.train, device=device, tta=trial.eval.tta, **hooks)
    if fitted.interrupted:
        raise SweepInterrupted(f"trial stopped after epoch {fitted.epochs_run}")
    val, test = final_figures(model, splits, trial)
    return TrialOutcome(
        history=fitted.history,
        val_accuracy=val.accuracy,
        val_loss=val.loss,
        best_val_accuracy=fitted.best_val_accuracy,
        test_accuracy=test.accuracy,
        test_loss=test.loss,
        splits=splits,
        data_source=source_of(ctx.data_dir, ctx.data_pickle),
        predictions=test.predictions,
        state_dict={k: v.detach().cpu() for k, v in model.state_dict().items()},
        num_parameters=count_parameters(model),
        epochs_run=fitted.epochs_run,
        model_epoch=fitted.model_epoch,
        train_seconds=fitted.train_seconds,
        device=device.type,
        precision=fitted.precision,
        pruned_at=fitted.pruned_at,
    )


def final_figures(model: Any, splits: Splits, trial: ExperimentConfig) -> tuple[Any, Any]:
    """The returned model's validation and test figures, as the logged model computes them:
    in fp32, whatever precision training used (bf16's per-epoch figures differ in the last
    digits), so that ``predict`` with the registered model reproduces them exactly."""
    return tuple(
        evaluate(
            model,
            torch.from_numpy(x),
            torch.from_numpy(y),
            batch_size=trial.train.eval_batch_size,
            precision=EVAL_PRECISION,
            pixels=trial.train.pixels,
            tta=trial.eval.tta,
        )
        for x, y in ((splits.x_val, splits.y_val), (splits.x_test, splits.y_test))
    )


def load_scorer(trial: ExperimentConfig, checkpoint: Path) -> Any:
    """The trained network of ``trial`` from its saved weights, with its input scaling."""
    model = build_model(trial.model)
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
    return Scorer(model, trial.train.pixels, trial.eval.tta).eval()


def example_images(n: int = 2) -> Any:
    """An input example of a logged model: ``n`` images, float32 pixels 0-255, N x 1 x 28 x 28."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, 1, 28, 28)).astype(np.float32)


def torch_bytes(obj: Any) -> bytes:
    """``obj`` as ``torch.save`` writes it, in memory: written with Python's own file calls,
    a full disk is an ``OSError`` naming its errno and file (torch's writer says only
    "unexpected pos")."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save_weights(outcome: TrialOutcome, path: Path) -> None:
    """The trial's weights in the sweep's scratch folder (the best trial's are logged)."""
    with writing("saving the trial's weights", path):
        path.write_bytes(torch_bytes(outcome.state_dict))


@dataclass(frozen=True)
class TrialCheckpoint:
    """A running trial's training state after its last epoch, in the sweep's scratch
    folder, so that a trial cut off (Ctrl-C, ``kill -9``) goes on from there in its own run
    when the sweep resumes. Local trials only: they are numbered in order, so the resumed
    sweep's trial N finds trial N's file (and checks it is the same configuration and seed)."""

    path: Path | None
    config_id: str
    seed: int

    @classmethod
    def of(cls, scratch: str, number: int | None, cid: str, seed: int) -> TrialCheckpoint:
        path = Path(scratch) / f"trial-{number:03d}.ckpt" if number else None
        return cls(path, cid, seed)

    def load(self) -> dict[str, Any] | None:
        """The saved state, if there is one of this configuration and seed."""
        if self.path is None or not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:  # unreadable: the trial starts over
            return None
        same = (state.get("config_id"), state.get("seed")) == (self.config_id, self.seed)
        return state if same else None

    def saver(self, run_id: str) -> Callable[[dict[str, Any]], None] | None:
        """Writes a state (atomically: a new file, then a rename). A full disk, a quota or
        a read-only folder stops the sweep (:class:`StorageFull`: resumable once mended);
        another fault (the folder gone) is a warning: the trial trains on without it."""
        if self.path is None:
            return None
        path, keys = self.path, {"run_id": run_id, "config_id": self.config_id, "seed": self.seed}

        def save(state: dict[str, Any]) -> None:
            tmp = path.with_suffix(".tmp")
            try:
                with writing(f"writing the checkpoint of epoch {state['epoch']}", tmp):
                    tmp.write_bytes(torch_bytes({**state, **keys}))
                    tmp.replace(path)
            except StorageFull:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
                raise
            except OSError as exc:
                logger.warning("checkpoint of epoch {} not written: {}", state["epoch"], exc)
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)

        return save

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path.with_suffix(".tmp").unlink(missing_ok=True)
