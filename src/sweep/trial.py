"""Step 6 of the data flow: one trial. :func:`train_trial` trains and tests one trial config
and returns a :class:`TrialOutcome` (no MLflow here); :func:`record_trial` writes an outcome
into its child run; :func:`run_trial` does the run's lifecycle around the two and hands
Hyperopt its result, built from one typed :class:`TrialSummary`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import secrets
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from loguru import logger

from . import artifacts
from . import metrics as M
from .config import ExperimentConfig
from .console import EpochLines, Pace, describe_params
from .faults import StorageFull, full_message, storage_problem, writing
from .pruning import Siblings
from .selection import REPEAT, TRIAL, config_id, trial_seed
from .signals import StoreLost, SweepInterrupted
from .space import apply_sample, trial_params
from .store import STORE_TIMEOUT_S

if TYPE_CHECKING:
    import torch

    from .data import Splits
    from .tracking import Tracker

STATUS_OK, STATUS_FAIL = "ok", "fail"  # hyperopt's own status strings
EVAL_PRECISION = "fp32"  # of a trial's final figures: the logged model computes in fp32
FAILURE_TRACE = "failure.txt"  # a failed trial's full traceback, an artifact of its run


@dataclass(frozen=True)
class TrialContext:
    """Everything a trial needs besides its config; small and picklable (for workers)."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    data_dir: str | None
    scratch_dir: str
    data_pickle: str | None = None
    allow_pickle: bool = False
    threads: int | None = None  # torch threads per trial (cores / parallel trials)
    store_timeout: float = STORE_TIMEOUT_S  # seconds to wait for a store that went quiet
    quiet: bool = False  # no console lines during a trial


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


@dataclass(frozen=True)
class TrialSummary:
    """One evaluated trial as the sweep sees it; Hyperopt's result dict is made from it."""

    number: int | None
    status: str  # "ok" or "fail"
    params: dict[str, Any]
    run_id: str | None
    loss: float | None = None
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    failure: str | None = None
    config_id: str = ""  # selection.config_id of params
    seed: int | None = None  # the training seed of this run
    role: str | None = None  # "trial" or "repeat" (on Spark: set by the driver afterwards)
    pruned: bool = False  # stopped by the pruner: never selected
    epochs_run: int | None = None  # epochs it trained (early stopping and pruning: fewer)

    @property
    def complete(self) -> bool:
        """Finished and not pruned: a run selection may choose."""
        return self.status == STATUS_OK and not self.pruned

    def to_result(self) -> dict[str, Any]:
        """Hyperopt's result dict (plain values, so that trials files and Spark carry it)."""
        out = dataclasses.asdict(self)
        return out if self.loss is not None else {k: v for k, v in out.items() if k != "loss"}

    @classmethod
    def of(
        cls, number: int | None, outcome: TrialOutcome, objective: str, **keys: Any
    ) -> TrialSummary:
        """A finished trial's summary (``keys``: params, run_id, config_id, seed, role)."""
        return cls(
            number,
            STATUS_OK,
            loss=outcome.loss(objective),
            val_accuracy=outcome.val_accuracy,
            test_accuracy=outcome.test_accuracy,
            pruned=outcome.pruned_at is not None,
            epochs_run=outcome.epochs_run,
            **keys,
        )

    @classmethod
    def from_result(cls, result: dict[str, Any], tid: int) -> TrialSummary:
        values = {f.name: result.get(f.name) for f in dataclasses.fields(cls)}
        cid = values["config_id"] or config_id(values["params"] or {})
        return cls(**{**values, "number": values["number"] or tid + 1, "config_id": cid})


def place_trial(requested: str, precision: str, threads: int | None) -> tuple[torch.device, str]:
    """The device and precision a trial trains with (and the torch threads it may use)."""
    import torch

    from .backends import trial_device
    from .train import DeviceError, choose_device, device_problem, resolve_precision

    problem = device_problem(requested)  # checked here too: a Spark worker is another machine
    if problem:
        raise DeviceError(problem)
    if threads:
        torch.set_num_threads(threads)  # parallel trials must not oversubscribe cores
    device = choose_device(trial_device(requested))
    return device, resolve_precision(precision, device)


def train_trial(
    trial: ExperimentConfig,
    ctx: TrialContext | None = None,
    device: torch.device | None = None,
    **hooks: Any,
) -> TrialOutcome:
    """Train one trial config on its data split and test it, recording nothing (a
    notebook's way to fit one model: an experiment's searched keys keep their file values).
    ``ctx``: where the data is (default: found as ``make data`` put it). ``hooks`` are
    :func:`sweep.train.fit`'s (``on_epoch``, ``should_stop``, ``should_prune``,
    ``checkpoint``, ``resume_from``). Raises :class:`SweepInterrupted` when
    ``should_stop()`` cut the training short."""
    import torch

    from .data import make_splits, source_of
    from .models import build_model, count_parameters
    from .train import fit

    ctx = ctx or TrialContext("", "", "", data_dir=None, scratch_dir="")
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
    import torch

    from .train import evaluate

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


def record_trial(
    tracker: Tracker, run_id: str, outcome: TrialOutcome, title: str, figures: bool = True
) -> None:
    """Final metrics and the evaluation artifacts of a finished trial (``figures``: drawn
    too), into its child run (and where the pruner stopped it, the tags that say so)."""
    if outcome.pruned_at is not None:
        tags = {M.TAG_PRUNED: "true", M.TAG_PRUNED_AT: str(outcome.pruned_at)}
        tracker.set_tags(run_id, tags)
    tracker.log_metrics(
        run_id,
        {
            M.MODEL_VAL_ACCURACY: outcome.val_accuracy,
            M.BEST_VAL_ACCURACY: outcome.best_val_accuracy,
            M.TEST_ACCURACY: outcome.test_accuracy,
            M.TEST_LOSS: outcome.test_loss,
            M.EPOCHS_RUN: outcome.epochs_run,
            M.BEST_EPOCH: outcome.model_epoch,
            M.TRAIN_SECONDS: outcome.train_seconds,
            M.NUM_PARAMETERS: outcome.num_parameters,
        },
    )
    artifacts.log_datasets(tracker, run_id, outcome.data_source, outcome.splits.parts())
    y_test = outcome.splits.y_test
    artifacts.log_evaluation(
        tracker, run_id, y_test, outcome.predictions, outcome.history, title, figures
    )


def load_scorer(trial: ExperimentConfig, checkpoint: Path) -> Any:
    """The trained network of ``trial`` from its saved weights, with its input scaling."""
    import torch

    from .models import build_model
    from .train import Scorer

    model = build_model(trial.model)
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
    return Scorer(model, trial.train.pixels, trial.eval.tta).eval()


def example_images(n: int = 2) -> Any:
    """An input example of a logged model: ``n`` images, float32 pixels 0-255, N x 1 x 28 x 28."""
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, 1, 28, 28)).astype(np.float32)


def torch_bytes(obj: Any) -> bytes:
    """``obj`` as ``torch.save`` writes it, in memory: written with Python's own file calls,
    a full disk is an ``OSError`` naming its errno and file (torch's writer says only
    "unexpected pos")."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save_weights(outcome: TrialOutcome, path: Path) -> None:
    """The trial's weights in the sweep's scratch folder (the best trial's are logged)."""
    with writing("saving the trial's weights", path):
        path.write_bytes(torch_bytes(outcome.state_dict))


def _recorder(
    tracker: Tracker, run_id: str, lines: EpochLines, pace: Pace | None = None
) -> Callable[..., None]:
    """Each epoch's metrics into the trial's run, and now and then a console line (and
    the epoch's time into the sweep's pace, for its estimate)."""

    def on_epoch(epoch: int, values: dict[str, float]) -> None:
        tracker.log_metrics(run_id, values, step=epoch)
        lines(epoch, values)
        if pace is not None:
            pace.epoch()

    return on_epoch


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
    def of(cls, ctx: TrialContext, number: int | None, cid: str, seed: int) -> TrialCheckpoint:
        path = Path(ctx.scratch_dir) / f"trial-{number:03d}.ckpt" if number else None
        return cls(path, cid, seed)

    def load(self) -> dict[str, Any] | None:
        """The saved state, if there is one of this configuration and seed."""
        import torch

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


def _cut_off(run: Any, parent_run_id: str) -> bool:
    """A run of this sweep that did not finish: one a checkpoint may go on in."""
    mine = run.data.tags.get(M.TAG_PARENT) == parent_run_id
    return mine and run.info.status in ("RUNNING", "KILLED")


def _start_or_continue(
    tracker: Tracker, ctx: TrialContext, label: str, role: str | None, ckpt: TrialCheckpoint
) -> tuple[str, dict[str, str], dict[str, Any] | None]:
    """The trial's run, the params it already has and the training state it goes on from:
    the cut-off run its checkpoint names, back to RUNNING, or a new one (``label``: the
    trial's number, or a random label where the driver numbers it)."""
    numbered = ckpt.path is not None
    name = f"trial-{int(label):03d}" if numbered else f"trial-{label}"
    tags = {M.TAG_ROLE: role or TRIAL, M.TAG_CONFIG: ckpt.config_id}
    tags |= {M.TAG_TRIAL: label} if numbered else {}
    saved = ckpt.load()
    run = tracker.get_run(saved["run_id"]) if saved is not None else None
    if run is not None and _cut_off(run, ctx.parent_run_id):
        run_id = saved["run_id"]
        tracker.reopen_run(run_id)
        logged = tracker.metric_steps(run_id, M.VAL_ACCURACY)
        for epoch, values in enumerate(saved["history"], start=1):
            if epoch not in logged:  # (killed between its checkpoint and its metrics)
                tracker.log_metrics(run_id, values, step=epoch)
        tracker.set_tags(run_id, {M.TAG_RESUMED_FROM: str(saved["epoch"])})
        for stale in {M.TAG_FAILURE, M.TAG_PRUNED, M.TAG_PRUNED_AT} & set(run.data.tags):
            tracker.delete_tag(run_id, stale)  # (set again if so)
        logger.info("{} goes on in run {} after epoch {}", name, run_id, saved["epoch"])
        return run_id, dict(run.data.params), saved
    ckpt.remove()  # (another configuration's, or its run is gone)
    run_id = tracker.start_run(ctx.experiment_id, name, tags, parent_run_id=ctx.parent_run_id)
    return run_id, {}, None


def _log_params(
    tracker: Tracker, run_id: str, params: dict[str, Any], earlier: dict[str, str]
) -> None:
    """The trial's params. A run that goes on keeps those it has (MLflow keeps a param's
    first value); where it goes on with another device or precision, the tag
    ``sweep.resumed_on`` says which (its history then matches an uninterrupted run's only
    within that device's tolerance)."""
    new = {k: v for k, v in params.items() if k not in earlier}
    tracker.log_params(run_id, new)
    resolved = [str(params[k]) for k in ("resolved.device", "resolved.precision")]
    before = [earlier.get(k) for k in ("resolved.device", "resolved.precision")]
    if earlier and resolved != before:
        tracker.set_tags(run_id, {M.TAG_RESUMED_ON: " ".join(resolved)})
        logger.warning(
            "run {} started on {} and goes on with {}",
            run_id,
            " ".join(map(str, before)),
            " ".join(resolved),
        )


def _pruning(
    config: ExperimentConfig, tracker: Tracker, ctx: TrialContext, run_id: str, cid: str
) -> Callable[[int, dict[str, float]], bool] | None:
    """The pruning check of trial run ``run_id``, asking the store about its siblings."""
    objective = config.sweep.objective
    siblings = Siblings(tracker, ctx.experiment_id, ctx.parent_run_id, run_id, objective)
    return _pruner(config, siblings, cid)


def _pruner(
    config: ExperimentConfig, siblings: Siblings, cid: str
) -> Callable[[int, dict[str, float]], bool] | None:
    """The trial's pruning check: its objective at an epoch against the sweep's other
    trials at that epoch, read from the store (so trials elsewhere count too). A run of a
    configuration the sweep has run before is a repeat and never pruned (on Spark, where
    the driver marks repeats afterwards, the store says so)."""
    from .pruning import applies, should_prune

    rule, objective = config.sweep.pruner, config.sweep.objective
    if rule.kind == "none":
        return None
    sign = 1.0 if objective == M.VAL_ACCURACY else -1.0  # higher is better for the rules
    repeat: list[bool] = []  # (asked once, where the rule first applies)

    def check(epoch: int, values: dict[str, float]) -> bool:
        if not applies(epoch, rule):
            return False
        if not repeat:
            repeat.append(siblings.has_config(cid))
        if repeat[0]:
            return False
        others = siblings.values_at(epoch)
        return should_prune(sign * values[objective], [sign * v for v in others], epoch, rule)

    return check


def run_trial(
    config: ExperimentConfig,
    sample: dict[str, Any],
    number: int | None,
    ctx: TrialContext,
    should_stop: Callable[[], bool] | None = None,
    role: str | None = None,
    prune: bool = True,
    pace: Pace | None = None,
) -> dict[str, Any]:
    """One sampled config as a nested run: start it, train, record, end it. A failure
    (divergence, an exception) becomes ``STATUS_FAIL``, not a crash. ``prune``: false for
    the runs owed to the best configurations. ``pace``: the sweep's, told each epoch."""
    from .tracking import Tracker, system_metrics

    params, cid, seed = _trial_keys(sample, config.train.seed, number)
    tracker = Tracker(ctx.tracking_uri, ctx.store_timeout, should_stop)
    label = str(number) if number else uuid.uuid4().hex[:6]
    ckpt = TrialCheckpoint.of(ctx, number, cid, seed)
    run_id, earlier, saved = _start_or_continue(tracker, ctx, label, role, ckpt)
    monitor = system_metrics(tracker, run_id, saved) if config.sweep.system_metrics else None
    status = "FAILED"
    keys = {"params": params, "run_id": run_id, "config_id": cid, "seed": seed, "role": role}
    try:  # (a sampled combination the config refuses is a failed trial too)
        trial = apply_sample(config, {**sample, "train.seed": seed})
        device, precision = place_trial(trial.train.device, trial.train.precision, ctx.threads)
        resolved = _resolved(device.type, precision)
        _log_params(tracker, run_id, {**trial.fixed_params(), **resolved}, earlier)
        pruner = _pruning(config, tracker, ctx, run_id, cid) if prune and role != REPEAT else None
        outcome = train_trial(
            trial,
            ctx,
            device,
            on_epoch=_recorder(tracker, run_id, EpochLines(label, quiet=ctx.quiet), pace),
            should_stop=should_stop,
            should_prune=pruner,
            checkpoint=ckpt.saver(run_id),
            resume_from=saved,
        )
        record_trial(tracker, run_id, outcome, f"trial {label}", config.sweep.trial_figures)
        save_weights(outcome, Path(ctx.scratch_dir) / f"{run_id}.pt")
        status = "FINISHED"
        summary = TrialSummary.of(number, outcome, config.sweep.objective, **keys)
        _log_finished(label, summary, outcome)
        return summary.to_result()
    except KeyboardInterrupt as exc:  # SweepInterrupted too: the trial goes on when resumed
        status = "KILLED"
        _mark_interrupted(tracker, run_id, ckpt, exc)
        raise
    except Exception as exc:  # a failed trial is recorded; the sweep goes on
        status = "FAILED"  # (a full disk instead: nothing is written, the trial goes on)
        reason = _record_failure(tracker, run_id, label, exc)
        return TrialSummary(number, STATUS_FAIL, failure=reason, **keys).to_result()
    finally:
        if monitor is not None and not tracker.lost:
            monitor.finish()  # (its last sample logged while the run is open)
        if not tracker.lost:
            tracker.end_run(run_id, status)
        if status != "KILLED" and not tracker.lost:
            ckpt.remove()


def _resolved(device: str, precision: str) -> dict[str, str]:
    """The params that say where and how a trial computed."""
    return {
        "resolved.device": device,
        "resolved.precision": precision,  # of training and its per-epoch figures
        "resolved.eval_precision": EVAL_PRECISION,  # of the final figures
    }


def _mark_interrupted(
    tracker: Tracker, run_id: str, ckpt: TrialCheckpoint, exc: KeyboardInterrupt
) -> None:
    """Say in its run how an interrupted trial goes on. Where the store is lost or the disk
    full, nothing more is written (the run stays RUNNING: a resumed sweep marks it)."""
    if isinstance(exc, StoreLost):
        tracker.lost = True
        return
    goes_on = ckpt.path is not None and ckpt.path.is_file()
    why = "goes on from its last epoch" if goes_on else "runs again"
    tracker.set_tags(run_id, {M.TAG_FAILURE: f"interrupted; {why} when resumed"})


def _record_failure(tracker: Tracker, run_id: str, label: str, exc: Exception) -> str:
    """A failed trial's reason and traceback, into its run; returns the reason. A write
    refused for want of room (a temporary file, say) is no failure of the trial: it stops
    the sweep (:class:`StorageFull`), and the trial runs again when resumed."""
    if problem := storage_problem(exc):
        tracker.lost = True
        raise StorageFull(full_message(f"trial {label}", problem)) from None
    reason = f"{type(exc).__name__}: {exc}"
    logger.warning("trial {:>3} failed: {}", label, reason)
    tracker.set_tags(run_id, {M.TAG_FAILURE: reason[:5000]})
    tracker.log_text(run_id, traceback.format_exc(), FAILURE_TRACE)
    return reason


def _trial_keys(sample: dict[str, Any], seed_base: int, number: int | None) -> tuple[Any, ...]:
    """The trial's searched values, its config id and its seed. On a parallel backend the
    number is given afterwards, by the driver: the seed then gets a random offset instead."""
    params = trial_params(sample)
    seed = trial_seed(seed_base, number or secrets.randbelow(2**31) + 1)
    return params, config_id(params), seed


def _log_finished(label: str, summary: TrialSummary, outcome: TrialOutcome) -> None:
    again = " (repeat)" if summary.role == REPEAT else ""
    pruned = " (pruned)" if summary.pruned else ""
    logger.info(
        "trial {:>3} | {} | config {}{} seed {} | val_acc {:.4f} | test_acc {:.4f} | "
        "{} epochs{} in {:.0f}s",
        label,
        describe_params(summary.params),
        summary.config_id,
        again,
        summary.seed,
        outcome.val_accuracy,
        outcome.test_accuracy,
        outcome.epochs_run,
        pruned,
        outcome.train_seconds,
    )


class Objective:
    """The callable handed to ``fmin``: numbers trials and runs :func:`run_trial`.

    It holds only a frozen config, a small context and (locally) the stop flag's reader,
    so that on a parallel backend it pickles cheaply for remote workers.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        ctx: TrialContext,
        first_number: int | None = 1,
        should_stop: Callable[[], bool] | None = None,
        seen: Iterable[str] = (),
        prune: bool = True,
        pace: Pace | None = None,
    ):
        self.config = config
        self.ctx = ctx
        self.should_stop = should_stop
        self.prune = prune  # false: the runs owed to the best configurations
        self.pace = pace  # this machine's seconds per epoch (local trials only)
        # numbered in call order in one process; None where copies run in parallel (Spark)
        self._numbers = itertools.count(first_number) if first_number else None
        self._seen = set(seen)  # config ids this sweep has run (in one process)

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        if self.should_stop is not None and self.should_stop():
            raise SweepInterrupted("stopped before the next trial")
        if self._numbers is None:  # parallel copies: the driver numbers and labels them
            return run_trial(
                self.config, sample, None, self.ctx, self.should_stop, prune=self.prune
            )
        cid = config_id(trial_params(sample))
        role = REPEAT if cid in self._seen else TRIAL
        self._seen.add(cid)
        number = next(self._numbers)
        if self.pace is not None:
            self.pace.trial_started()
        args = (self.should_stop, role, self.prune, self.pace)
        result = run_trial(self.config, sample, number, self.ctx, *args)
        if self.pace is not None:
            self.pace.trial_ended()
        return result
