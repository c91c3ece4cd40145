from __future__ import annotations

import numpy as np
from hyperopt import Trials, fmin, rand

from conftest import EXPERIMENTS
from sweep.config import load_experiment
from sweep.search import apply_sample, build_space


def sample_configs(path, n=20):
    config = load_experiment(path)
    seen = []

    def objective(sample):
        seen.append(apply_sample(config, sample))
        return 0.0

    fmin(
        objective,
        build_space(config),
        algo=rand.suggest,
        max_evals=n,
        trials=Trials(),
        rstate=np.random.default_rng(0),
        show_progressbar=False,
    )
    return config, seen


def test_choices_sample_values_not_indices() -> None:
    _, seen = sample_configs(EXPERIMENTS / "exp12.yaml")
    assert {c.model.filters for c in seen} <= {256, 192, 128}
    assert {c.model.units2 for c in seen} <= {128, 96, 64}
    assert len({c.model.filters for c in seen}) > 1


def test_list_choices_and_continuous_dimensions(tmp_path) -> None:
    _, seen = sample_configs(EXPERIMENTS / "exp13.yaml")
    assert all(len(c.model.dropout) == 3 for c in seen)
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: c\nsearch:\n  train.optimizer.lr: {loguniform: [1.0e-4, 1.0e-2]}\n"
        "  train.batch_size: {int: [32, 40]}\n  model.units1: {quniform: [64, 256, 64]}\n"
    )
    _, seen = sample_configs(path, 30)
    assert all(1e-4 <= c.train.optimizer.lr <= 1e-2 for c in seen)
    assert all(
        isinstance(c.train.batch_size, int) and 32 <= c.train.batch_size <= 40 for c in seen
    )
    assert {c.model.units1 for c in seen} <= {64, 128, 192, 256}


def test_sampling_is_reproducible_with_a_seed() -> None:
    _, a = sample_configs(EXPERIMENTS / "exp12.yaml", 5)
    _, b = sample_configs(EXPERIMENTS / "exp12.yaml", 5)
    assert [c.model for c in a] == [c.model for c in b]


def test_every_distribution_kind_has_one_builder() -> None:
    from sweep.config import DISTRIBUTIONS
    from sweep.search import BUILDERS

    assert set(BUILDERS) == set(DISTRIBUTIONS)
