from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from conftest import EXPERIMENTS
from sweep.config import ConfigError, ExperimentConfig, load_experiment

ALL_FILES = sorted(EXPERIMENTS.glob("*.yaml"))


def test_all_experiment_files_are_present() -> None:
    names = {p.stem for p in ALL_FILES}
    expected = {f"exp{i}" for i in range(1, 15)} | {
        "mlp_baseline",
        "mlp_search",
        "wide_deep",
        "quickstart",
    }
    assert expected <= names


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.stem)
def test_every_experiment_loads_with_a_hypothesis(path: Path) -> None:
    config = load_experiment(path)
    assert isinstance(config, ExperimentConfig)
    assert config.hypothesis.strip(), f"{path.name} needs a hypothesis"
    # a search, or a fixed recipe trained with several seeds (the baselines)
    assert config.search or config.sweep.repeats >= 3, f"{path.name} searches nothing"


@pytest.mark.parametrize("name", ["mlp_baseline", "wide_deep"])
def test_the_baselines_are_their_recipes_with_three_seeds(name: str) -> None:
    c = load_experiment(EXPERIMENTS / f"{name}.yaml")
    assert not c.search and c.sweep.algo == "grid" and c.sweep.repeats == 3
    assert c.data.subset is None  # all the training images
    assert (c.train.optimizer.name, c.train.optimizer.lr) == ("adam", 1e-3)
    assert c.train.pixels == "unit"  # x / 255, as the Keras scripts
    if name == "wide_deep":  # 10 epochs, batch 32, no early stopping: the last epoch's weights
        assert (c.model.units, c.model.dropout) == (30, 0.5)
        assert (c.train.epochs, c.train.batch_size, c.train.early_stopping) == (10, 32, None)
    else:  # dropout 0.2, batch 256, up to 20 epochs, plateau schedule, early stopping
        assert (c.model.hidden, c.model.dropout, c.model.batchnorm) == ((256, 128), 0.2, True)
        assert (c.train.epochs, c.train.batch_size, c.train.scheduler.name) == (20, 256, "plateau")
        assert c.train.early_stopping and c.train.early_stopping.restore_best


def test_extends_inherits_and_overrides() -> None:
    exp1, exp2 = (
        load_experiment(EXPERIMENTS / "exp1.yaml"),
        load_experiment(EXPERIMENTS / "exp2.yaml"),
    )
    assert exp1.model.batchnorm and not exp2.model.batchnorm
    assert exp2.train == exp1.train and exp2.search == exp1.search
    assert exp2.hypothesis != exp1.hypothesis


def test_exp12_matches_the_published_recipe() -> None:
    c = load_experiment(EXPERIMENTS / "exp12.yaml")
    assert (c.model.num_blocks, c.model.filters, c.model.units1, c.model.units2) == (
        3,
        256,
        192,
        96,
    )
    assert c.model.dropout == (0.05, 0.15, 0.1) and c.model.batchnorm
    assert (c.train.epochs, c.train.batch_size, c.train.optimizer.lr) == (40, 64, 1e-3)
    assert (c.train.scheduler.name, c.train.scheduler.step_size, c.train.scheduler.gamma) == (
        "step",
        10,
        0.5,
    )
    assert c.train.early_stopping is not None and c.train.early_stopping.patience == 15
    assert c.search["model.filters"].args == (256, 192, 128)
    assert c.search["model.units2"].args == (128, 96, 64)
    assert c.sweep.max_evals == 10


def test_null_in_child_removes_inherited_search_key() -> None:
    c = load_experiment(EXPERIMENTS / "exp13.yaml")
    assert set(c.search) == {"model.dropout", "model.dense_dropout"}
    assert c.sweep.algo == "grid" and c.grid_size() * c.sweep.repeats == 30


def test_overrides_replace_values_and_their_search() -> None:
    c = load_experiment(EXPERIMENTS / "exp12.yaml", {"train.epochs": 1, "model.filters": 128})
    assert c.train.epochs == 1 and c.model.filters == 128
    assert "model.filters" not in c.search


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BAD = {
    "unknown_top_key": ("name: x\nmodle: {}\n", "modle"),
    "unknown_nested_key": ("name: x\ntrain: {epoch: 3}\n", "train.epoch"),
    "wrong_type": ("name: x\ntrain: {epochs: many}\n", "train.epochs"),
    "zero_epochs": ("name: x\ntrain: {epochs: 0}\n", "train.epochs"),
    "empty_choice": ("name: x\nsearch: {model.filters: {choice: []}}\n", "model.filters"),
    "low_above_high": (
        "name: x\nsearch: {train.optimizer.lr: {loguniform: [0.1, 0.01]}}\n",
        "train.optimizer.lr",
    ),
    "search_path_unknown": ("name: x\nsearch: {model.filterz: {choice: [1]}}\n", "model.filterz"),
    "search_value_invalid": (
        "name: x\nsearch: {model.filters: {choice: [64, -3]}}\n",
        "model.filters",
    ),
    "dropout_length": ("name: x\nmodel: {kind: cnn, num_blocks: 2, dropout: [0.1]}\n", "model"),
    "unknown_model_kind": ("name: x\nmodel: {kind: transformer}\n", "model"),
    "unknown_distribution": (
        "name: x\nsearch: {model.filters: {normal: [0, 1]}}\n",
        "model.filters",
    ),
    "missing_name": ("train: {epochs: 2}\n", "name"),
    "name_not_a_model_name": ("name: fashion/cnn\n", "registered model"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_name_file_and_key(tmp_path: Path, case: str) -> None:
    text, key = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    message = str(err.value)
    assert str(path) in message and key in message, message
    assert "\n" not in message


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\ntrain: {epochs: 3\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_experiment(path)


def test_extends_cycle_and_missing_parent(tmp_path: Path) -> None:
    write(tmp_path, "extends: b.yaml\nname: a\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\nname: b\n", "b.yaml")
    with pytest.raises(ConfigError, match="cycle"):
        load_experiment(tmp_path / "a.yaml")
    write(tmp_path, "extends: nowhere.yaml\nname: c\n", "c.yaml")
    with pytest.raises(ConfigError, match="nowhere.yaml"):
        load_experiment(tmp_path / "c.yaml")


def test_config_is_frozen() -> None:
    c = load_experiment(EXPERIMENTS / "quickstart.yaml")
    with pytest.raises(ValidationError):
        c.train.epochs = 3  # type: ignore[misc]
