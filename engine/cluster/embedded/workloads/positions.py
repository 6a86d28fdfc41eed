"""YAML read as plain Python with the line and column where every value and mapping key starts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml


class _Resolver(yaml.resolver.BaseResolver):
    """Resolves null, booleans and decimal integers only, so versions such as 1.10 stay text."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Resolver.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


class _Composer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Resolver):
    """A loader that composes nodes (with their marks) and constructs nothing."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)


Position = tuple[int, int]


@dataclass
class Marks:
    """Where each value, and each mapping key, starts; both keyed by the path of indexes and keys."""

    values: dict[tuple[Any, ...], Position] = field(default_factory=dict)
    keys: dict[tuple[Any, ...], Position] = field(default_factory=dict)

    def value_at(self, path: tuple[Any, ...]) -> Position:
        """Where the value at `path` starts; the document's start if there is none."""
        return self.values.get(path, (1, 1))


class YamlProblem(Exception):
    """A document that cannot be read; `position` is None when the YAML library gives none."""

    def __init__(self, position: Position | None, message: str) -> None:
        super().__init__(message)
        self.position = position
        self.message = message


def load(text: str) -> tuple[Any, Marks] | None:
    """The document in `text` as plain Python (mapping keys are text) and where its parts are; None for an
    empty document. Raise `YamlProblem` for invalid YAML, recursive aliases and duplicate keys."""
    try:
        node = yaml.compose(text, Loader=_Composer)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        message = err.problem or "invalid YAML"
        if err.context:
            message = f"{message} ({err.context})"
        raise YamlProblem(_position(mark) if mark is not None else (1, 1), message) from None
    except yaml.YAMLError as err:
        raise YamlProblem(None, str(err)) from None
    if node is None:
        return None
    marks = Marks()
    return _to_python(node, (), marks, set()), marks


def _position(mark: yaml.Mark) -> Position:
    return mark.line + 1, mark.column + 1


def _to_python(node: yaml.Node, path: tuple[Any, ...], marks: Marks, active: set[int]) -> Any:
    marks.values[path] = _position(node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if id(node) in active:
        raise YamlProblem(_position(node.start_mark), "recursive YAML aliases are not supported")
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            return [_to_python(child, (*path, i), marks, active) for i, child in enumerate(node.value)]
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem(_position(key_node.start_mark), "mapping keys must be plain text")
            key = key_node.value
            if key in result:
                raise YamlProblem(_position(key_node.start_mark), f'duplicate key "{key}"')
            marks.keys[(*path, key)] = _position(key_node.start_mark)
            result[key] = _to_python(value_node, (*path, key), marks, active)
        return result
    finally:
        active.discard(id(node))


def _scalar(node: yaml.ScalarNode) -> Any:
    if node.tag.endswith(":null"):
        return None
    if node.tag.endswith(":bool"):
        return node.value.lower() == "true"
    if node.tag.endswith(":int"):
        return int(node.value)
    return node.value
