"""Training one model, recording nothing: the data (``_data``, its files read by
``_files``), the model registry (``_models``), devices and precision (``_devices``),
augmentation (``_augment``), scoring with the one pixel transform (``_scoring``), the
optimizer and schedules (``_optim``), ``fit`` (``_fit``) and one trial trained and tested
(``_trial``: :func:`train_trial` -> :class:`TrialOutcome`). No MLflow, no Hyperopt.
"""

from ._augment import augment
from ._data import (
    CLASS_NAMES,
    Splits,
    digest,
    download,
    find_data_dir,
    load_source,
    make_splits,
    split_problem_in,
    stratified_subset,
    training_images,
)
from ._devices import choose_device, cpu_model, cpu_runs_bf16, device_problem, resolve_precision
from ._files import (
    FILES,
    HOW_TO_GET,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_LABELS,
    DataError,
    PickleError,
    load_arrays,
    load_pickle,
    read_idx,
)
from ._fit import DivergedError, fit
from ._models import REGISTRY, build_model, count_parameters
from ._optim import make_optimizer
from ._scoring import MEAN, STD, evaluate, to_input
from ._trial import (
    EVAL_PRECISION,
    DataPlace,
    TrialCheckpoint,
    TrialOutcome,
    example_images,
    final_figures,
    load_scorer,
    place_trial,
    save_weights,
    train_trial,
)

__all__ = [
    "CLASS_NAMES",
    "DataError",
    "DataPlace",
    "DivergedError",
    "EVAL_PRECISION",
    "FILES",
    "HOW_TO_GET",
    "MEAN",
    "PickleError",
    "REGISTRY",
    "STD",
    "Splits",
    "TEST_IMAGES",
    "TEST_LABELS",
    "TRAIN_LABELS",
    "TrialCheckpoint",
    "TrialOutcome",
    "augment",
    "build_model",
    "choose_device",
    "count_parameters",
    "cpu_model",
    "cpu_runs_bf16",
    "device_problem",
    "digest",
    "download",
    "evaluate",
    "example_images",
    "final_figures",
    "find_data_dir",
    "fit",
    "load_arrays",
    "load_pickle",
    "load_scorer",
    "load_source",
    "make_optimizer",
    "make_splits",
    "place_trial",
    "read_idx",
    "resolve_precision",
    "save_weights",
    "split_problem_in",
    "stratified_subset",
    "to_input",
    "train_trial",
    "training_images",
]
