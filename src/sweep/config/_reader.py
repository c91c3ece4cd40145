"""The YAML reader and its limits: an experiment file read safely (a few KB, a few levels
deep, no key written twice, no tags), and its chain of ``extends:`` files resolved into one
tree, with every way a path can fail (missing, a folder, a loop, too deep) named."""

from __future__ import annotations

import copy
import errno
import os
import re
from pathlib import Path
from typing import Any

import yaml

from ..faults import first_line

# What an experiment file can be: a few KB, a few levels deep. Past these limits a file is
# refused with one message (instead of running out of memory, stack or patience).
MAX_FILE_BYTES = 1_000_000


MAX_DEPTH = 16  # mappings and lists within each other


MAX_VALUES = 20_000  # counted with YAML aliases expanded, as they would be validated


class ConfigError(ValueError):
    """An experiment file (or an override) that cannot be turned into a valid config."""


MAX_INT_DIGITS = 100  # an integer literal in a file: Python converts at most 4,300 digits


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Child values win; nested dicts merge; a ``null`` in the child removes the key."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None and key in out:
            del out[key]
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (on libyaml where the wheel has it: ten times faster), stricter
    where its defaults hide a mistake: a key written twice in one mapping is an error naming
    both lines (PyYAML keeps the last), an integer literal of more than ``MAX_INT_DIGITS``
    digits is an error (Python refuses to convert one of 4,300), and ``1e-3`` is a number,
    as in YAML 1.2 (YAML 1.1 reads it as a string)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if not isinstance(node, yaml.MappingNode):  # (`!!map` on a scalar: PyYAML says so)
            return super().construct_mapping(node, deep=deep)
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: overrides are meant
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if value_node.tag == "tag:yaml.org,2002:int":
                self._check_digits(value_node, f"key {_short(key, 60)} has ")
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: PyYAML's own error says so
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {_short(key, 60)} is written twice in one mapping, at lines {first} "
                    f"and {line}; keep one of them",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def _check_digits(self, node: yaml.ScalarNode, what: str = "") -> None:
        digits = sum(ch.isalnum() for ch in str(node.value))  # (hexadecimal digits too)
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{what}an integer literal of {digits:,} digits (at most {MAX_INT_DIGITS} are "
                "read; no setting needs more than a few)",
                node.start_mark,
            )

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        self._check_digits(node)
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)
_LOADER = _Loader


def _short(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters (a message stays one paragraph)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _part(key: Any) -> str:
    """One part of a dotted key as printed: odd keys (a newline, 5,000 characters) as repr."""
    text = str(key)
    return text if text.isprintable() and len(text) <= 60 else _short(key, 60)


def _key(path: tuple[Any, ...]) -> str:
    return ".".join(_part(p) for p in path) or "(top level)"


def check_shape(tree: Any, where: str) -> None:
    """Refuse what no experiment file is: deeper than ``MAX_DEPTH``, more than ``MAX_VALUES``
    values (YAML aliases can repeat one value without end), or a value containing itself."""
    stack: list[tuple[Any, tuple[Any, ...], frozenset[int]]] = [(tree, (), frozenset())]
    count = 0
    while stack:
        node, path, above = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ConfigError(
                f"{where}: holds more than {MAX_VALUES:,} values (counting each use of a YAML "
                "alias); an experiment file needs a few dozen. Write it out plainly."
            )
        if not isinstance(node, dict | list):
            continue
        if id(node) in above:
            raise ConfigError(
                f"{where}: key '{_key(path)}' contains itself (a YAML alias to a value that "
                "encloses it). Write the value out plainly."
            )
        if len(path) >= MAX_DEPTH:
            raise ConfigError(
                f"{where}: key '{_key(path[:3])}' is nested more than {MAX_DEPTH} levels deep; "
                "an experiment file is a few levels of mappings. Check the brackets."
            )
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((value, (*path, key), above | {id(node)}) for key, value in items)


def _check_nesting(data: bytes, where: str) -> None:
    """Refuse a file nested deeper than ``MAX_DEPTH`` from its parse events, before it is
    built into objects (which recurses once per level and would exhaust the stack)."""
    depth = 0
    for event in yaml.parse(data, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1
                raise ConfigError(
                    f"{where}: nested more than {MAX_DEPTH} levels deep at line {line}; an "
                    "experiment file is a few levels of mappings. Check the brackets."
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _read_yaml(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    where = f"{path}" if not chain else f"{path} (extended by {chain[-1]})"
    try:
        if not path.exists() and path.is_symlink():
            raise ConfigError(
                f"{where}: a symbolic link to {os.readlink(path)}, which does not exist. Point "
                "the link at an experiment file."
            )
        if not path.exists():
            raise ConfigError(f"{where}: no such experiment file. Check the path.")
        if not path.is_file():
            raise ConfigError(f"{where}: not a file. Name an experiment YAML file.")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{where}: {size:,} bytes, more than the {MAX_FILE_BYTES:,} an experiment file "
                "may have (they are a few KB). Name the right file."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot be read ({exc.strerror or exc}). Check the path and its permissions."
        ) from None
    try:  # bytes: PyYAML reads UTF-8, and UTF-16 with a byte-order mark
        _check_nesting(data, where)
        raw = yaml.load(data, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)
        problem = problem or first_line(exc)
        hint = " Save it as UTF-8 text." if isinstance(exc, yaml.reader.ReaderError) else ""
        raise ConfigError(
            f"{where}: not valid YAML{at}: {problem}.{hint} Fix it and run again."
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{where}: nested too deeply to read (more than {MAX_DEPTH} levels is never an "
            "experiment). Check the brackets."
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: an experiment file must be a mapping of keys (name, model, train, ...), "
            f"got a {type(raw).__name__}."
        )
    check_shape(raw, where)
    return raw


def _real(path: Path, where: str) -> Path:
    """``path`` with every symbolic link followed; a link that loops is refused. (A path
    that does not exist comes back as it is, for the reader to say so.)"""
    try:
        return path.resolve(strict=True)
    except FileNotFoundError:
        return path.absolute()
    except RuntimeError:  # (Python 3.11 and 3.12 say "Symlink loop"; later ones raise ELOOP)
        pass
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise ConfigError(
                f"{where} cannot be read ({exc.strerror or exc}). Check the path."
            ) from None
    except ValueError as exc:  # a NUL character
        raise ConfigError(f"{where} cannot be a file name ({exc}). Fix the name.") from None
    raise ConfigError(
        f"{where} is a symbolic link that loops (following it leads back to a link on its own "
        "way, never to a file). Point the link at an experiment file, or name the file itself."
    )


def _parent_path(path: Path, parent: Any) -> Path:
    """The file named by ``extends:``, relative to the file that names it."""
    if not isinstance(parent, str) or not parent.strip() or "\0" in parent:
        raise ConfigError(
            f"{path}: key 'extends' must be the name of an experiment file, got {_short(parent)}."
        )
    named = f"{path}: key 'extends' names {_short(parent)}, which"
    parent_path = _real(path.parent / parent, named)
    try:
        found = parent_path.is_file()
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{named} cannot be a file ({getattr(exc, 'strerror', None) or exc}). Fix the name."
        ) from None
    if not found and parent_path.exists():
        raise ConfigError(
            f"{named} is not a file ({parent_path} is a folder or a device). Name an "
            "experiment YAML file."
        )
    if not found:
        raise ConfigError(
            f"{named} does not exist (looked for {parent_path}). Fix the name or create that file."
        )
    return parent_path


MAX_EXTENDS = 32  # files in one chain of extends: (an experiment extends one or two)


def _resolve(path: Path) -> dict[str, Any]:
    """Read ``path`` and the chain of files it ``extends:``, then merge each file over its
    parent (the file named on the command line last)."""
    first = _real(path, f"{path}:")
    chain: list[Path] = []
    trees: list[dict[str, Any]] = []
    current = first
    while True:
        if current in chain:
            cycle = " -> ".join(p.name for p in (*chain, current))
            raise ConfigError(f"{first}: key 'extends' forms a cycle: {cycle}. Break the cycle.")
        if len(chain) == MAX_EXTENDS:
            raise ConfigError(
                f"{first}: its chain of 'extends' is more than {MAX_EXTENDS} files deep "
                f"({chain[0].name} -> {chain[1].name} -> ... -> {chain[-1].name} -> "
                f"{current.name} -> ...); an experiment extends one or two files. Shorten the "
                "chain."
            )
        raw = _read_yaml(current, tuple(chain))
        parent = raw.pop("extends", None)
        chain.append(current)
        trees.append(raw)
        if parent is None:
            break
        current = _parent_path(current, parent)
    merged = trees[-1]
    for raw in reversed(trees[:-1]):
        for own in ("hypothesis", "expect"):  # a hypothesis belongs to one file, never inherited
            merged.pop(own, None)
        merged = deep_merge(merged, raw)
    return merged
