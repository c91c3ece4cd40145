"""Step 7 of the data flow: the Hyperopt loop. Builds the space, runs ``fmin`` with a
self-contained objective (one trial = one child run), and records the sweep's summary.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import signal
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from . import backends
from . import metrics as M
from . import state as st
from .config import ConfigError, ExperimentConfig, content_hash, to_yaml
from .space import apply_sample, build_space, trial_params
from .tracking import DEFAULT_TRACKING_URI, Tracker, git_commit, with_retry

STATUS_OK, STATUS_FAIL = "ok", "fail"  # hyperopt's own status strings

# Set by the first Ctrl-C / SIGTERM: the running trial finishes its epoch, then stops.
STOP = threading.Event()


class SweepInterrupted(KeyboardInterrupt):
    """The sweep was asked to stop; its state is saved and it can be resumed."""


class ResumeError(ConfigError):
    """An interrupted sweep cannot be resumed as asked (for example, its config changed)."""


@dataclass(frozen=True)
class RunOptions:
    """How to run a sweep (not what to run: that is the ExperimentConfig)."""

    tracking_uri: str = DEFAULT_TRACKING_URI
    data_dir: str | None = None
    device: str = "auto"
    show_progress: bool = True
    fresh: bool = False  # ignore an interrupted sweep of the same experiment; start anew
    data_pickle: str | None = None  # the older pickle format instead of the IDX files
    allow_pickle: bool = False  # loading a pickle runs code: only on explicit request
    spark_master: str | None = None  # spark backend: default $SPARK_MASTER or local[N]


@dataclass(frozen=True)
class TrialContext:
    """Everything a trial needs besides its config; small and picklable (for workers)."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    data_dir: str | None
    device: str
    scratch_dir: str
    data_pickle: str | None = None
    allow_pickle: bool = False
    threads: int | None = None  # torch threads per trial (cores / parallel trials)


@dataclass(frozen=True)
class TrialSummary:
    number: int
    status: str  # "ok" or "fail"
    params: dict[str, Any]
    run_id: str | None
    loss: float | None = None
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    failure: str | None = None


@dataclass(frozen=True)
class SweepResult:
    experiment_id: str
    parent_run_id: str
    objective: str
    trials: tuple[TrialSummary, ...] = field(default_factory=tuple)

    @property
    def finished(self) -> tuple[TrialSummary, ...]:
        return tuple(t for t in self.trials if t.status == STATUS_OK)

    @property
    def n_failed(self) -> int:
        return len(self.trials) - len(self.finished)

    @property
    def best(self) -> TrialSummary | None:
        """The trial with the lowest hyperopt loss (selected on validation, never test)."""
        done = self.finished
        return min(done, key=lambda t: t.loss) if done else None


# ---------------------------------------------------------------------------- one trial
def run_trial(
    config: ExperimentConfig, sample: dict[str, Any], number: int | None, ctx: TrialContext
) -> dict[str, Any]:
    """Train and evaluate one sampled config, recorded as a nested run; returns hyperopt's
    result dict. A failure (divergence, an exception) becomes ``STATUS_FAIL``, not a crash."""
    import torch

    from .data import make_splits
    from .models import build_model, count_parameters
    from .train import choose_device, evaluate, fit, resolve_precision

    trial = apply_sample(config, sample)
    params = trial_params(sample)
    tracker = Tracker(ctx.tracking_uri)
    # on a parallel backend the number is given afterwards, by the driver (see _number_trials)
    label = str(number) if number else uuid.uuid4().hex[:6]
    tags = {M.TAG_ROLE: "trial", **({M.TAG_TRIAL: label} if number else {})}
    run_name = f"trial-{number:03d}" if number else f"trial-{label}"
    run_id = tracker.start_run(ctx.experiment_id, run_name, tags, parent_run_id=ctx.parent_run_id)
    status = "FAILED"
    try:
        if ctx.threads:
            torch.set_num_threads(ctx.threads)  # parallel trials must not oversubscribe cores
        device = choose_device(_spread_over_gpus(ctx.device))
        precision = resolve_precision(trial.train.precision, device)
        tracker.log_params(
            run_id,
            {
                **trial.fixed_params(),
                "resolved.device": device.type,
                "resolved.precision": precision,
            },
        )
        d = trial.data
        splits = make_splits(
            ctx.data_dir,
            val_fraction=d.val_fraction,
            subset=d.subset,
            seed=d.split_seed,
            pickle_file=ctx.data_pickle,
            allow_pickle=ctx.allow_pickle,
        )
        torch.manual_seed(trial.train.seed)  # same init for every trial: only params differ
        model = build_model(trial.model).to(device)
        result = fit(
            model,
            splits,
            trial.train,
            device=device,
            on_epoch=lambda epoch, values: tracker.log_metrics(run_id, values, step=epoch),
            should_stop=STOP.is_set,
        )
        if STOP.is_set():
            raise SweepInterrupted(f"trial {label} stopped after epoch {result.epochs_run}")
        test = evaluate(
            model,
            torch.from_numpy(splits.x_test),
            torch.from_numpy(splits.y_test),
            batch_size=trial.train.eval_batch_size,
            precision=result.precision,
        )
        tracker.log_metrics(
            run_id,
            {
                M.BEST_VAL_ACCURACY: result.best_val_accuracy,
                M.TEST_ACCURACY: test.accuracy,
                M.TEST_LOSS: test.loss,
                M.EPOCHS_RUN: result.epochs_run,
                M.BEST_EPOCH: result.model_epoch,  # whose weights were tested
                M.TRAIN_SECONDS: result.train_seconds,
                M.NUM_PARAMETERS: count_parameters(model),
            },
        )
        tracker.log_evaluation(
            run_id, splits.y_test, test.predictions, result.history, f"trial {label}"
        )
        checkpoint = Path(ctx.scratch_dir) / f"{run_id}.pt"
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, checkpoint)
        status = "FINISHED"
        loss = (
            -result.val_accuracy if config.sweep.objective == M.VAL_ACCURACY else result.val_loss
        )
        logger.info(
            "trial {:>3} | {} | val_acc {:.4f} | test_acc {:.4f} | {} epochs in {:.0f}s",
            label,
            " ".join(f"{k}={v}" for k, v in params.items()) or "(fixed config)",
            result.val_accuracy,
            test.accuracy,
            result.epochs_run,
            result.train_seconds,
        )
        return {
            "status": STATUS_OK,
            "loss": loss,
            "run_id": run_id,
            "number": number,
            "params": params,
            "val_accuracy": result.val_accuracy,
            "test_accuracy": test.accuracy,
        }
    except KeyboardInterrupt:  # SweepInterrupted too: the trial runs again on resume
        status = "KILLED"
        tracker.set_tags(run_id, {M.TAG_FAILURE: "interrupted; runs again when resumed"})
        raise
    except Exception as exc:  # a failed trial is recorded; the sweep goes on
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("trial {:>3} failed: {}", label, reason)
        tracker.set_tags(run_id, {M.TAG_FAILURE: reason[:5000]})
        return {
            "status": STATUS_FAIL,
            "run_id": run_id,
            "number": number,
            "params": params,
            "failure": reason,
        }
    finally:
        tracker.end_run(run_id, status)


def _spread_over_gpus(device: str) -> str:
    """On a machine with several GPUs, parallel trials (Spark tasks) take different ones."""
    import torch

    if device != "auto" or torch.cuda.device_count() < 2:
        return device
    try:
        from pyspark import TaskContext

        task = TaskContext.get()
    except ImportError:
        task = None
    slot = task.taskAttemptId() if task is not None else os.getpid()
    return f"cuda:{slot % torch.cuda.device_count()}"


class Objective:
    """The callable handed to ``fmin``: numbers trials and runs :func:`run_trial`.

    It holds only a frozen config and a small context (no open runs, no tensors), so it
    pickles cheaply for remote workers.
    """

    def __init__(self, config: ExperimentConfig, ctx: TrialContext, first_number: int | None = 1):
        self.config = config
        self.ctx = ctx
        # numbered in call order in one process; None where copies run in parallel (Spark)
        self._numbers = itertools.count(first_number) if first_number else None

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        number = next(self._numbers) if self._numbers is not None else None
        return run_trial(self.config, sample, number, self.ctx)


def no_progress_stop(patience: int):
    """Hyperopt ``early_stop_fn``: stop after ``patience`` finished trials without a new best.

    Looks only at finished trials (a running trial has no loss yet), and keeps no state of
    its own, so it is right after a resume too.
    """

    def stop(trials: Any, *_: Any) -> tuple[bool, list[Any]]:
        losses = [
            t["result"]["loss"]
            for t in trials.trials
            if t["result"].get("status") == STATUS_OK and "loss" in t["result"]
        ]
        if len(losses) <= patience:
            return False, []
        best_at = int(np.argmin(losses))
        return len(losses) - 1 - best_at >= patience, []

    return stop


def _algo(name: str) -> Any:
    from hyperopt import anneal, rand, tpe

    return {"tpe": tpe.suggest, "random": rand.suggest, "anneal": anneal.suggest}[name]


def summarize(trials: Any) -> tuple[TrialSummary, ...]:
    """Hyperopt's trials -> one summary per evaluated trial, in order."""
    out = []
    for t in trials.trials:
        result = t.get("result", {})
        if result.get("status") not in (STATUS_OK, STATUS_FAIL):
            continue
        out.append(
            TrialSummary(
                number=result.get("number") or t["tid"] + 1,
                status=result["status"],
                params=result.get("params", {}),
                run_id=result.get("run_id"),
                loss=result.get("loss"),
                val_accuracy=result.get("val_accuracy"),
                test_accuracy=result.get("test_accuracy"),
                failure=result.get("failure"),
            )
        )
    return tuple(out)


def _sweep_artifacts(
    tracker: Tracker,
    result: SweepResult,
    config: ExperimentConfig,
    scratch: Path,
) -> None:
    """Parent metrics, trials table, optimization history, and the best trial's model."""
    import pandas as pd

    from . import plots

    best = result.best
    values = {M.N_TRIALS: len(result.trials), M.N_FAILED: result.n_failed}
    if best is not None:
        values[M.BEST_VAL_ACCURACY] = max(t.val_accuracy for t in result.finished)
        values[M.BEST_TEST_ACCURACY] = best.test_accuracy  # of the trial selected on val
    tracker.log_metrics(result.parent_run_id, values)
    rows = [
        {
            "trial": t.number,
            "status": t.status,
            **t.params,
            "loss": t.loss,
            M.VAL_ACCURACY: t.val_accuracy,
            M.TEST_ACCURACY: t.test_accuracy,
            "run_id": t.run_id,
            "failure": t.failure,
        }
        for t in result.trials
    ]
    tracker.log_table(result.parent_run_id, pd.DataFrame(rows), "trials.csv")
    tracker.log_figure(
        result.parent_run_id,
        plots.optimization_history(
            [t.loss for t in result.trials], config.sweep.objective, f"{config.name}"
        ),
        "optimization_history.png",
    )
    if best is not None and best.run_id:
        checkpoint = scratch / f"{best.run_id}.pt"
        if checkpoint.is_file():
            trial_config = apply_sample(config, best.params)
            (scratch / "config.yaml").write_text(to_yaml(trial_config))
            tracker.log_file(best.run_id, checkpoint.rename(scratch / "state_dict.pt"), "model")
            tracker.log_file(best.run_id, scratch / "config.yaml", "model")
        tracker.set_tags(result.parent_run_id, {M.TAG_BEST_TRIAL: best.run_id})


class _Checkpointing:
    """Local-backend wrapper of the objective: saves the sweep state *before* each trial
    (so a trial cut off by a crash is run again, with the same parameters, on resume)."""

    def __init__(self, objective: Objective, save: Any):
        self.objective = objective
        self.save = save

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        self.save()
        return self.objective(sample)


def _after_each_trial(save: Any, stop: Any):
    """An ``early_stop_fn`` that saves the state, then asks the optional stopping rule."""

    def fn(trials: Any, *args: Any) -> tuple[bool, list[Any]]:
        save()
        return stop(trials, *args) if stop else (False, [])

    return fn


class _StopOnSignal:
    """First SIGINT/SIGTERM: finish the current epoch, then stop. Second: stop at once.
    (Off for Spark, whose trials run in other processes: there Ctrl-C cancels the jobs.)"""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __enter__(self) -> _StopOnSignal:
        STOP.clear()
        self.previous: dict[int, Any] = {}
        if self.enabled and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if STOP.is_set():
            raise KeyboardInterrupt
        STOP.set()
        logger.warning(
            "{} received: stopping after the current epoch (again to stop at once)",
            signal.Signals(signum).name,
        )

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _number_trials(tracker: Tracker, trials: Any) -> None:
    """Parallel trials are numbered afterwards, in the order Hyperopt proposed them."""
    for doc in trials.trials:
        run_id = doc.get("result", {}).get("run_id")
        if run_id:
            number = doc["tid"] + 1
            doc["result"]["number"] = number
            tracker.set_tags(run_id, {M.TAG_TRIAL: str(number)})
            with_retry(
                lambda r=run_id, n=number: tracker.client.update_run(r, name=f"trial-{n:03d}")
            )


def _resume_or_start(
    tracker: Tracker,
    experiment_id: str,
    config: ExperimentConfig,
    yaml_path: str | Path | None,
    options: RunOptions,
) -> tuple[st.SweepState, bool]:
    """The saved state of an interrupted sweep of this experiment, or a new one."""
    from hyperopt import Trials

    path = st.state_path(options.tracking_uri, config.name)
    saved = None if options.fresh else st.load(path)
    if saved is not None:
        try:
            parent = tracker.client.get_run(saved.parent_run_id)
        except Exception:  # the run was deleted from the store: nothing to resume
            parent = None
        if parent is not None and parent.info.status != "FINISHED":
            if saved.config_hash != st.config_hash(config):
                raise ResumeError(
                    f"{yaml_path or config.name}: the experiment changed since its sweep "
                    f"{saved.parent_run_id} was interrupted (file or flags differ), so it "
                    "cannot be resumed. Run with --fresh to start a new sweep, or undo the "
                    "change to resume."
                )
            return saved, True
    tags = {M.TAG_ROLE: "sweep"}
    if yaml_path is not None:
        tags[M.TAG_YAML] = str(yaml_path)
        tags[M.TAG_YAML_HASH] = content_hash(yaml_path)
        commit = git_commit(Path(yaml_path).resolve().parent)
        if commit:
            tags[M.TAG_GIT_COMMIT] = commit
    run_name = f"sweep-{datetime.now():%Y%m%d-%H%M%S}"
    parent_id = tracker.start_run(experiment_id, run_name, tags)
    return st.SweepState(config.name, parent_id, st.config_hash(config), Trials()), False


def _replay_first(algo: Any, pending: list[dict[str, Any]]) -> Any:
    """A Hyperopt algorithm that first proposes ``pending`` trials again (those cut off by
    an interruption, same parameters, new ids), then asks ``algo``."""
    queue = list(pending)

    def suggest(new_ids: list[int], domain: Any, trials: Any, seed: int) -> list[Any]:
        if not queue:
            return algo(new_ids, domain, trials, seed)
        return [st.relabel(queue.pop(0), tid) for tid in new_ids[: len(queue)]]

    return suggest


def _reopen(tracker: Tracker, state: st.SweepState) -> list[dict[str, Any]]:
    """Resume: parent back to RUNNING, runs cut off without notice marked KILLED; returns
    the trials to run again."""
    unfinished = st.take_unfinished(state.trials)
    tracker.client.update_run(state.parent_run_id, status="RUNNING")
    parent = tracker.client.get_run(state.parent_run_id)
    stale = tracker.client.search_runs(
        [parent.info.experiment_id],
        f"tags.`{M.TAG_PARENT}` = '{state.parent_run_id}' and attributes.status = 'RUNNING'",
    )
    for run in stale:
        tracker.set_tags(run.info.run_id, {M.TAG_FAILURE: "interrupted; runs again on resume"})
        tracker.end_run(run.info.run_id, "KILLED")
    logger.info(
        "resuming sweep {}: {} trials done, {} to run again, {} runs marked KILLED",
        state.parent_run_id,
        st.n_evaluated(state.trials),
        len(unfinished),
        len(stale),
    )
    return unfinished


def run_sweep(
    config: ExperimentConfig,
    yaml_path: str | Path | None = None,
    options: RunOptions | None = None,
) -> SweepResult:
    """Run one sweep, or resume an interrupted one: a parent run, ``max_evals`` trials,
    a summary. Returns the result; raises :class:`SweepInterrupted` on Ctrl-C/SIGTERM."""
    from hyperopt import fmin

    from .data import load_source

    options = options or RunOptions()
    # fail on missing or broken data, or an unusable backend, before any run exists
    load_source(options.data_dir, options.data_pickle, options.allow_pickle)
    s = config.sweep
    spark = s.backend == "spark"
    master = backends.resolve_master(options.spark_master, s.parallelism) if spark else ""
    timeout = s.timeout_minutes * 60 if s.timeout_minutes else None
    if spark:
        spark_trials = backends.spark_trials(master, s.parallelism, timeout, options.tracking_uri)

    tracker = Tracker(options.tracking_uri)
    experiment_id = tracker.experiment_id(config.name)
    state, resumed = _resume_or_start(tracker, experiment_id, config, yaml_path, options)
    parent = state.parent_run_id
    path = st.state_path(options.tracking_uri, config.name)
    scratch = path.with_name(path.name.replace(".trials.pkl", ".checkpoints"))
    if not resumed:
        shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True, exist_ok=True)  # model checkpoints survive an interruption
    status = "FAILED"
    try:
        rerun: list[dict[str, Any]] = []
        if resumed:
            rerun = _reopen(tracker, state)
        else:
            logger.info(
                "sweep {} | experiment {} | parent run {}", config.name, experiment_id, parent
            )
            search = {f"search.{k}": d.describe() for k, d in config.search.items()}
            tracker.log_params(parent, {**config.fixed_params(), **search})
            tracker.log_text(parent, to_yaml(config), "config_resolved.yaml")
            if yaml_path is not None:
                tracker.log_file(parent, yaml_path)

        ctx = TrialContext(
            tracking_uri=options.tracking_uri,
            experiment_id=experiment_id,
            parent_run_id=parent,
            data_dir=options.data_dir,
            device=options.device,
            scratch_dir=str(scratch),
            data_pickle=options.data_pickle,
            allow_pickle=options.allow_pickle,
            threads=backends.threads_per_trial(master, s.parallelism) if spark else None,
        )
        done = st.n_evaluated(state.trials)
        stop = no_progress_stop(s.no_progress_stop) if s.no_progress_stop else None
        if spark:
            # SparkTrials keeps no trials file of its own: save finished trials as plain Trials
            trials = spark_trials
            st.adopt(trials, state.trials)
            objective: Any = Objective(config, ctx, first_number=None)
            logger.info(
                "Spark backend: master {}, {} trials at once, {} torch threads each",
                master,
                s.parallelism,
                ctx.threads or "default",
            )

            def save() -> None:
                st.save(path, dataclasses.replace(state, trials=st.finished_copy(trials)))

        else:
            trials = state.trials

            def save() -> None:
                st.save(path, state)

            objective = _Checkpointing(Objective(config, ctx, first_number=done + 1), save)

        with _StopOnSignal(enabled=not spark):
            fmin(
                objective,
                build_space(config),
                algo=_replay_first(_algo(s.algo), rerun),
                max_evals=s.max_evals,
                timeout=timeout,
                trials=trials,
                # a resumed sweep must not replay the random draws of its first run
                rstate=np.random.default_rng([s.seed, done]),
                early_stop_fn=_after_each_trial(save, stop),
                show_progressbar=options.show_progress,
            )
        if spark:
            save()
            _number_trials(tracker, trials)
        result = SweepResult(experiment_id, parent, s.objective, summarize(trials))
        _sweep_artifacts(tracker, result, config, scratch)
        status = "FINISHED" if result.finished else "FAILED"
        path.unlink(missing_ok=True)  # complete: nothing left to resume
        return result
    except KeyboardInterrupt as exc:
        status = "KILLED"
        raise SweepInterrupted(str(exc) or "interrupted") from None
    finally:
        tracker.end_run(parent, status)
        if status != "KILLED":
            shutil.rmtree(scratch, ignore_errors=True)
