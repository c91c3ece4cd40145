"""Every number, count and switch of the config schema, given a value of the wrong kind (a
boolean, a string that happens to parse, a fraction where a whole number is meant), out of
its range, or as an integer literal too long to convert: the command exits 2 with one
paragraph naming the file, the key and the value, no traceback, and nothing written.

The fields are read from the schema itself (pydantic's field info), so a new field is
covered the day it is added; Hypothesis draws the bad values.
"""

from __future__ import annotations

import contextlib
import io
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types as at
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from conftest import examples
from support import no_sweep, run  # noqa: F401 (no_sweep: a fixture)
from sweep.__main__ import main
from sweep.config import MODEL_CONFIGS, ExperimentConfig

HUGE = "__huge_literal__"  # replaced in the file's text by an integer of 5,000 digits


@dataclass(frozen=True)
class Field:
    """One number or switch of the schema: its dotted key, its type and its bounds."""

    key: str
    kind: type  # int, float or bool
    low: float = -math.inf  # inclusive
    high: float = math.inf
    element: bool = False  # one value of a list (model.dropout, model.hidden)


def _bounds(metadata: list[Any]) -> tuple[float, float]:
    low, high = -math.inf, math.inf
    for m in metadata:
        if isinstance(m, at.Ge):
            low = m.ge
        elif isinstance(m, at.Gt):
            low = m.gt + (1 if isinstance(m.gt, int) else 1e-9)
        elif isinstance(m, at.Le):
            high = m.le
        elif isinstance(m, at.Lt):
            high = m.lt - (1 if isinstance(m.lt, int) else 1e-9)
    return low, high


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """``Annotated[int, ...] | None`` -> (int, the Annotated metadata)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) > 1:  # a union of models: walked one by one
            return annotation, []
        (annotation,) = options
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        metadata = [m for e in extra for m in getattr(e, "metadata", [e])]
        return base, metadata
    return annotation, []


def fields_of(model: type[BaseModel], prefix: str) -> list[Field]:
    out = []
    for name, info in model.model_fields.items():
        base, inner = _unwrap(info.annotation)
        key = f"{prefix}{name}"
        if isinstance(base, type) and issubclass(base, BaseModel):
            out += fields_of(base, key + ".")
        elif base in (int, float, bool):
            out.append(Field(key, base, *_bounds([*info.metadata, *inner])))
        elif typing.get_origin(base) is tuple:
            element, meta = _unwrap(typing.get_args(base)[0])
            if element in (int, float):
                out.append(Field(key, element, *_bounds(meta), element=True))
    return out


# (model, the numbers of every model kind and of every other block of the file)
FIELDS = [("cnn", f) for f in fields_of(MODEL_CONFIGS[0], "model.") if f.key != "model.kind"] + [
    (c.model_fields["kind"].default, f) for c in MODEL_CONFIGS[1:] for f in fields_of(c, "model.")
]
FIELDS += [
    ("mlp", f)
    for block in ("train", "data", "sweep")
    for f in fields_of(ExperimentConfig.model_fields[block].annotation, f"{block}.")
]


def test_the_schema_walk_finds_every_block() -> None:
    keys = {f.key for _, f in FIELDS}
    for key in (
        "model.filters",
        "model.hidden",
        "model.dropout",
        "model.batchnorm",
        "train.epochs",
        "train.batch_size",
        "train.optimizer.lr",
        "train.early_stopping.patience",
        "train.augment.crop_padding",
        "data.subset",
        "sweep.max_evals",
        "sweep.repeats",
        "sweep.pruner.eta",
    ):
        assert key in keys, key
    bounded = [f.key for _, f in FIELDS if f.kind is int and f.high == math.inf]
    assert not bounded, f"integers without an upper bound: {bounded}"


def bad_values(field: Field) -> st.SearchStrategy[Any]:
    """Values of the wrong kind or out of range for ``field``."""
    strings = st.sampled_from(["1", "0.5", "true", "", "3 epochs"])
    if field.kind is bool:
        return st.one_of(st.integers(0, 1), strings, st.floats(0, 1))
    wrong = [st.booleans(), strings, st.none() if field.element else st.just([1])]
    if field.kind is int:
        wrong.append(
            st.floats(allow_nan=False).filter(lambda v: v != int(v) if math.isfinite(v) else True)
        )
        wrong.append(st.just(HUGE))
    if field.high < math.inf:
        top = field.high + 1 if field.kind is int else field.high * 1.5 + 1
        wrong.append(st.integers(int(math.ceil(top)), 10**40))
    if field.low > -math.inf:
        wrong.append(st.integers(-(10**40), int(math.floor(field.low)) - 1))
    return st.one_of(wrong)


def base_tree(kind: str) -> dict[str, Any]:
    tree: dict[str, Any] = {"name": "values", "model": {"kind": kind}}
    if kind == "cnn":
        tree["model"] |= {"num_blocks": 2, "filters": 8, "dropout": [0.1, 0.1]}
    tree["train"] = {"epochs": 1, "early_stopping": {"patience": 2}}
    return tree


def with_value(tree: dict[str, Any], field: Field, value: Any) -> dict[str, Any]:
    *parents, leaf = field.key.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    if field.element:
        good = 0.1 if field.kind is float else 8
        node[leaf] = [value, good] if leaf == "dropout" else [good, value]
    else:
        node[leaf] = value
    return tree


def run_main(path: Path) -> tuple[int, str]:
    """The command line on ``path``, in its folder, with the sweep itself replaced."""
    return run([path.name, "--no-progress"], path.parent)


@pytest.mark.usefixtures("no_sweep")
@pytest.mark.parametrize(("kind", "field"), FIELDS, ids=[f"{k}:{f.key}" for k, f in FIELDS])
@settings(
    max_examples=examples(6),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_bad_value_of_any_field_exits_2_naming_it(
    kind: str, field: Field, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    value = data.draw(bad_values(field), label="value")
    folder = tmp_path_factory.mktemp("values")
    text = yaml.safe_dump(with_value(base_tree(kind), field, value), sort_keys=False)
    path = folder / "values.yaml"
    path.write_text(text.replace(f"'{HUGE}'", "9" * 5000).replace(HUGE, "9" * 5000))
    code, err = run_main(path)
    assert code == 2, (field.key, value, err)
    assert "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one paragraph
    assert "values.yaml" in err, err
    leaf = field.key.rsplit(".", 1)[-1]
    assert f"'{field.key}" in err or f"'{leaf}'" in err or "integer literal" in err, err
    assert sorted(p.name for p in folder.iterdir()) == ["values.yaml"], err  # nothing written


@pytest.mark.usefixtures("no_sweep")
def test_the_bounds_are_named_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("name: values\ntrain: {epochs: 1000000000000000000000000000000}\n")
    code, err = run_main(path)
    assert code == 2 and "key 'train.epochs'" in err and "less than or equal to 10000" in err


@pytest.mark.usefixtures("no_sweep")
def test_numbers_are_numbers_not_booleans_nor_strings(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    for text in (
        "train: {epochs: true}",
        "train: {epochs: '3'}",
        "train: {optimizer: {lr: '1e-3'}}",
    ):
        path.write_text(f"name: values\n{text}\n")
        code, err = run_main(path)
        assert code == 2, (text, err)
    # YAML 1.2's exponent without a dot is a number, as a user means it
    path.write_text("name: values\nmodel: {kind: mlp}\ntrain: {optimizer: {lr: 3e-4}}\n")
    assert run_main(path)[0] == 0


@pytest.mark.usefixtures("no_sweep")
@pytest.mark.parametrize("name", ["' '", "'\t  '", "''"])
def test_a_blank_name_is_refused_before_anything_runs(tmp_path: Path, name: str) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(f"name: {name}\nmodel: {{kind: mlp}}\n")
    code, err = run_main(path)
    assert code == 2 and "key 'name'" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["values.yaml"]


@pytest.mark.usefixtures("no_sweep")
def test_a_key_written_twice_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "name: base\nmodel:\n  kind: mlp\n  dropout: 0.1\n  dropout: 0.2\n"
    )
    (tmp_path / "values.yaml").write_text(
        "extends: base.yaml\nname: first\ntrain: {epochs: 1}\nname: second\n"
    )
    code, err = run_main(tmp_path / "values.yaml")
    assert code == 2 and "values.yaml" in err and "'name' is written twice" in err, err
    assert "lines 2 and 4" in err, err
    (tmp_path / "values.yaml").write_text("extends: base.yaml\nname: first\n")
    code, err = run_main(tmp_path / "values.yaml")  # in the file it extends
    assert code == 2 and "base.yaml" in err and "'dropout' is written twice" in err, err
    assert "lines 4 and 5" in err, err
    # a YAML merge key is an override, as meant, not a key written twice
    (tmp_path / "base.yaml").write_text("name: base\nmodel: {kind: mlp}\n")
    (tmp_path / "values.yaml").write_text(
        "extends: base.yaml\nname: merged\nsweep:\n  <<: {max_evals: 2, seed: 1}\n  max_evals: 3\n"
    )
    assert run_main(tmp_path / "values.yaml")[0] == 0


@pytest.mark.usefixtures("no_sweep")
def test_an_override_with_a_bad_value_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("name: values\nmodel: {kind: mlp}\n")
    for override in ("train.epochs=true", "train.batch_size=1e9", f"sweep.max_evals={'9' * 5000}"):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.chdir(tmp_path):
            code = main([path.name, "--set", override])
        assert code == 2, (override, err.getvalue())
        assert "Traceback" not in err.getvalue() and err.getvalue().count("\n") == 1


@pytest.mark.slow
def test_a_pickle_that_cannot_be_read_exits_2_in_one_paragraph(tmp_path: Path) -> None:
    from conftest import run_cli

    (tmp_path / "values.yaml").write_text("name: values\nmodel: {kind: mlp}\ntrain: {epochs: 1}\n")
    (tmp_path / "data.pkl").write_text("x_train,y_train\n1,2\n")  # a text file
    done = run_cli(
        "values.yaml", "--data-pickle", "data.pkl", "--allow-pickle", "--no-progress", cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "data.pkl: cannot be read as a pickle" in errors[0], done.stderr
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()
