"""Metric, param and tag names, and the states a run, a trial, a training and a sweep end
in: defined once here, used by training, recording, the search and the report."""

from __future__ import annotations

from enum import StrEnum

# defaults the command line shows (read before anything heavy is imported)
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
STORE_TIMEOUT_S = 180.0  # how long a sweep waits for a store that stopped answering
UI_PORT = 5001  # where `make ui` (mlflow ui --port 5001) serves a local store


class RunStatus(StrEnum):
    """An MLflow run's status."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class Role(StrEnum):
    """What a run is to its sweep (its tag ``sweep.role``): the parent, a configuration's
    first run, or a later run (another seed) of a configuration already run."""

    SWEEP = "sweep"
    TRIAL = "trial"
    REPEAT = "repeat"


class TrialStatus(StrEnum):
    """A trial's result status, as Hyperopt reads it (its own ``STATUS_OK``/``STATUS_FAIL``)."""

    OK = "ok"
    FAIL = "fail"


class FitEnd(StrEnum):
    """How ``fit`` ended: all its epochs, early stopping, the pruner, or a stop request."""

    DONE = "done"
    EARLY = "early"
    PRUNED = "pruned"
    STOPPED = "stopped"


class SweepEnd(StrEnum):
    """Why a sweep ended (its parent's tag ``sweep.ended_by``): every planned trial ran, the
    time budget ran out, no new best for ``sweep.no_progress_stop`` trials, or a stop."""

    MAX_EVALS = "max_evals"
    TIME_BUDGET = "time_budget"
    NO_PROGRESS = "no_progress"
    INTERRUPTED = "interrupted"


# per epoch, logged with step=epoch on each child run
TRAIN_LOSS = "train_loss"
TRAIN_ACCURACY = "train_accuracy"
VAL_LOSS = "val_loss"
VAL_ACCURACY = "val_accuracy"
LR = "lr"
EPOCH_METRICS = (TRAIN_LOSS, TRAIN_ACCURACY, VAL_LOSS, VAL_ACCURACY, LR)

# once per trial (child run)
MODEL_VAL_ACCURACY = "model_val_accuracy"  # of the returned model: what selection uses
BEST_VAL_ACCURACY = "best_val_accuracy"
TEST_ACCURACY = "test_accuracy"
TEST_LOSS = "test_loss"
EPOCHS_RUN = "epochs_run"
TRAIN_SECONDS = "train_seconds"
BEST_EPOCH = "best_epoch"
NUM_PARAMETERS = "num_parameters"

# once per sweep (parent run)
# best_val_accuracy and best_test_accuracy on a parent: the selected configuration's means
BEST_TEST_ACCURACY = "best_test_accuracy"
SELECTED_RUNS = "selected_runs"  # how many runs (seeds) of the selected configuration
N_TRIALS = "n_trials"
N_FAILED = "n_failed"
EPOCHS_TRAINED = "epochs_trained"  # by all its runs
EPOCHS_POSSIBLE = "epochs_possible"  # at most: every planned run at its full epochs
REPEATS_OWED = "repeats_owed"  # runs owed to the best configurations, not run (time budget)

# tags
TAG_ROLE = "sweep.role"  # "sweep" on parents; "trial" or "repeat" on children
TAG_CONFIG = "sweep.config_id"  # children: the configuration (hash of searched values)
# parents: the hash of the config (file and overrides) but its seeds: sweeps that share it
# are pooled in a report (SweepIdentity.setup); older stores call it sweep.config_hash
TAG_SETUP_HASH = "sweep.setup_hash"
TAG_SETUP_HASH_BEFORE = "sweep.config_hash"
TAG_BEST_CONFIG = "sweep.best_config"  # parents: the selected configuration
TAG_YAML = "sweep.yaml"
TAG_YAML_HASH = "sweep.yaml_hash"
TAG_TRIAL = "sweep.trial"
TAG_FAILURE = "sweep.failure_reason"
TAG_BEST_TRIAL = "sweep.best_trial"
TAG_PARENT = "mlflow.parentRunId"
TAG_EXTENDED_TO = "sweep.extended_to"  # a finished sweep run again with more trials
TAG_NOTE = "mlflow.note.content"  # a run's description in the UI
TAG_PRUNED = "sweep.pruned"  # children: "true" where the pruner stopped the trial
TAG_PRUNED_AT = "sweep.pruned_at_epoch"  # children: the last epoch a pruned trial trained
TAG_RESUMED_FROM = "sweep.resumed_from_epoch"  # children: went on after this epoch
# children: "DEVICE PRECISION" where a trial went on with other ones than it started with
TAG_RESUMED_ON = "sweep.resumed_on"
TAG_ENDED_BY = "sweep.ended_by"  # parents: max_evals, time_budget, no_progress, interrupted
TAG_MODEL_ERROR = "sweep.model_error"  # parents: why the selected model was not logged
TAG_EXPECT = "sweep.expect"  # parents: the file's expect: block as JSON (what it predicts)
# parents: the budget the experiment file itself sets, as JSON {"epochs": E, "subset": S}
# (a command line's --epochs or --subset makes the sweep's own budget differ from it)
TAG_FILE_BUDGET = "sweep.file_budget"

# a trial's evaluation artifacts: the confusion matrix as numbers (every trial) and drawn,
# with the learning curves (the selected trial; every trial with sweep.trial_figures)
CONFUSION_TABLE = "confusion_matrix.csv"
CONFUSION_FIGURE = "confusion_matrix.png"
CURVES = "curves.png"
