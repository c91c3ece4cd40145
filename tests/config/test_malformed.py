"""Generated malformed experiment files: whatever the bytes of a file or of a file it
extends, the command exits 0 or 2, never with a traceback, and writes nothing on exit 2.

Each example copies the experiment files into a fresh folder, mutates one file of a chain
(the one named on the command line or one it extends) and runs the CLI's ``main()`` in that
folder, either with ``--dry-run`` or for real with the sweep itself replaced by a
marker (a config that gets that far would start training; the checks before it still run).
"""

from __future__ import annotations

import functools
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, examples
from support import no_sweep, run  # noqa: F401 (no_sweep: a fixture)

EXPERIMENTS = REPO / "experiments"
FILES = sorted(p.name for p in EXPERIMENTS.glob("*.yaml"))
KEYS = [
    "name", "hypothesis", "extends", "model", "train", "data", "sweep", "search", "kind",
    "filters", "units1", "dropout", "hidden", "epochs", "batch_size", "optimizer", "lr",
    "scheduler", "early_stopping", "seed", "device", "precision", "algo", "max_evals",
    "repeats", "subset", "val_fraction", "model.filters", "train.optimizer.lr", "choice",
    "uniform", "loguniform", "int", "quniform",
]  # fmt: skip
WORDS = [
    "", "cnn", "mlp", "wide_deep", "adam", "sgd", "step", "plateau", "none", "tpe", "grid",
    "random", "auto", "cpu", "cuda", "cuda:7", "mps", "bf16", "val_loss", "val_accuracy",
    "exp1.yaml", "exp7.yaml", "../exp1.yaml", "/", "nowhere.yaml", "\x00", "a\x00b", "~",
    "x" * 300, "é", "\u202e", "model.filters", "spark", "local",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 600),
    st.integers(),
    st.integers(-(2**80), 2**80),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(WORDS),
)
values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers(), st.booleans()),
            kids,
            max_size=4,
        )
    ),
    max_leaves=10,
)

DEEP, ALIAS = "__deep_placeholder__", "__alias_placeholder__"
ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"]


def _containers(tree: Any, path: tuple = ()) -> list[tuple[Any, tuple]]:
    """Every mapping and list in ``tree``, with its path."""
    out = [(tree, path)] if isinstance(tree, dict | list) else []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if out else []
    for key, child in items:
        out += _containers(child, (*path, key))
    return out


def mutate_tree(tree: dict, data: st.DataObject) -> None:
    """One change at a random place: a new value of any type, a key removed, a key added,
    a deep nesting, or a self-referencing alias."""
    node, _ = data.draw(st.sampled_from(_containers(tree)), label="where")
    kind = data.draw(st.sampled_from(["replace", "remove", "add", "deep", "alias"]))
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    if kind == "add" or not keys:
        key = (
            data.draw(st.sampled_from(KEYS) | st.text(max_size=8)) if isinstance(node, dict) else 0
        )
        if isinstance(node, dict):
            node[key] = data.draw(values, label="value")
        else:
            node.insert(0, data.draw(values, label="value"))
        return
    key = data.draw(st.sampled_from(keys), label="key")
    if kind == "remove":
        del node[key]
    elif kind == "deep":
        node[key] = DEEP
    elif kind == "alias":
        node[key] = ALIAS
    else:
        node[key] = data.draw(values, label="value")


def render(tree: Any, data: st.DataObject) -> bytes:
    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=data.draw(st.booleans()))
    depth = data.draw(st.sampled_from([17, 60, 1000]), label="depth")  # 1000: past the stack
    opener = data.draw(st.sampled_from(["[", "{a: "]))
    closer = "]" if opener == "[" else "}"
    text = text.replace(DEEP, opener * depth + "1" + closer * depth)
    text = text.replace(ALIAS, data.draw(st.sampled_from(["&s [*s]", "&s {a: *s}"])))
    encoding = data.draw(st.sampled_from(ENCODINGS), label="encoding")
    raw = text.encode(encoding, errors="replace")
    if data.draw(st.integers(0, 4), label="byte edits?") == 0:  # edits of the bytes themselves
        rng = random.Random(data.draw(st.integers(0, 2**32), label="byte seed"))
        edited = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(edited) + 1)
            op = rng.choice(["insert", "delete", "replace"])
            if op == "insert" or at == len(edited):
                edited[at:at] = bytes([rng.randrange(256)])
            elif op == "delete":
                del edited[at]
            else:
                edited[at] = rng.randrange(256)
        raw = bytes(edited)
    if data.draw(st.integers(0, 30), label="huge?") == 0:
        raw += b"\n#" + b"x" * 1_100_000  # past the size limit, still valid YAML
    return raw


@functools.cache
def text_of(name: str) -> str:
    return (EXPERIMENTS / name).read_text()


@functools.cache
def chain(name: str) -> tuple[str, ...]:
    """``name`` and the files it extends, in order."""
    out = [name]
    while parent := (yaml.safe_load(text_of(out[-1])) or {}).get("extends"):
        out.append(parent)
    return tuple(out)


def snapshot(folder: Path) -> set[tuple[str, int]]:
    return {(str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*")}


@pytest.mark.usefixtures("no_sweep")
@settings(
    max_examples=examples(500),
    deadline=None,
    derandomize=True,  # the same 500 cases on every run: CI stays reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_mutated_file_exits_0_or_2_and_writes_nothing_on_2(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(FILES), label="file")
    target = data.draw(st.sampled_from(chain(name)), label="mutated")
    tree = yaml.safe_load(text_of(target))
    mutate_tree(tree, data)
    raw = render(tree, data)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for f in FILES:
            (folder / f).write_text(text_of(f))
        (folder / target).write_bytes(raw)
        before = snapshot(folder)
        argv = [name, data.draw(st.sampled_from(["--dry-run", "--no-progress"]))]
        code, err = run(argv, folder)
        after = snapshot(folder)
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err  # one paragraph
        assert any(f in err for f in chain(name)), err  # names the file
        assert after == before, err  # no store, lock file or folder
