"""The experiment file: YAML read within its limits (``_reader``), validated into a frozen
:class:`ExperimentConfig` (``_schema``: the model, training and data blocks; ``_sweep``: the
sweep, its search space and its prediction; ``_base``: strict types and bounds), loaded with
its ``extends:`` chain and overrides (``_loading``), and the sweep's identity and file names
(``_identity``). Everything after :func:`load_experiment` sees typed, immutable objects; bad
input is a :class:`ConfigError` of one paragraph naming the file, the key and the value.
"""

from ._base import parse_duration, same_value, set_dotted
from ._identity import SweepIdentity, content_hash, file_budget, legacy_stem, name_stem
from ._loading import Override, load_experiment, parse_override, to_yaml, validate
from ._reader import MAX_EXTENDS, ConfigError
from ._schema import (
    CLASSES,
    MODEL_CONFIGS,
    MODEL_KINDS,
    TRAINING_SET,
    AugmentConfig,
    CNNConfig,
    EarlyStoppingConfig,
    ExperimentConfig,
    MLPConfig,
    ModelConfig,
    OptimizerConfig,
    ResNetConfig,
    SchedulerConfig,
    TrainConfig,
    WideDeepConfig,
    split_problem,
)
from ._sweep import DISTRIBUTIONS, Distribution, DistributionKind, PrunerConfig, SweepConfig

__all__ = [
    "AugmentConfig",
    "CLASSES",
    "CNNConfig",
    "ConfigError",
    "DISTRIBUTIONS",
    "Distribution",
    "DistributionKind",
    "EarlyStoppingConfig",
    "ExperimentConfig",
    "MAX_EXTENDS",
    "MLPConfig",
    "MODEL_CONFIGS",
    "MODEL_KINDS",
    "ModelConfig",
    "OptimizerConfig",
    "Override",
    "PrunerConfig",
    "ResNetConfig",
    "SchedulerConfig",
    "SweepConfig",
    "SweepIdentity",
    "TRAINING_SET",
    "TrainConfig",
    "WideDeepConfig",
    "content_hash",
    "file_budget",
    "legacy_stem",
    "load_experiment",
    "name_stem",
    "parse_duration",
    "parse_override",
    "same_value",
    "set_dotted",
    "split_problem",
    "to_yaml",
    "validate",
]
