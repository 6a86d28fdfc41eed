"""YAML loading that remembers where every node came from, so a problem can name its line and column.

PyYAML's composer gives nodes with marks; this module turns them into plain Python data (dicts, lists,
scalars) plus two maps from a node's path (`("steps", 0, "checks", 1, "cel", "expression")`) to the mark of
its value and of its key. It also reports what plain `yaml.safe_load` silently accepts: duplicate keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..yamlguard import expansion, guarded_loader

NodePath = tuple[Any, ...]
_PLAIN_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
MAX_DEPTH = 100
"""Deepest nesting of lists and mappings accepted; real course, lab and manifest files stay far below it."""
MAX_ALIAS_EXPANSION = 100_000
"""How many values aliases may add to a document once expanded: enough for any honest reuse, far too few for
an alias bomb ("billion laughs"), which is refused before anything is expanded."""


@dataclass(frozen=True, order=True)
class Mark:
    """A 1-based line and column, as editors and compilers count them."""

    line: int
    column: int

    @classmethod
    def of(cls, mark: yaml.Mark) -> Mark:
        return cls(mark.line + 1, mark.column + 1)


START = Mark(1, 1)


class YAMLSyntaxError(Exception):
    """The text is not YAML; parsing stops at the first such error, so there is only one."""

    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


@dataclass
class Document:
    """One YAML document: its data and where each part of it was written."""

    data: Any
    start: Mark = START
    values: dict[NodePath, Mark] = field(default_factory=dict)
    keys: dict[NodePath, Mark] = field(default_factory=dict)
    problems: list[tuple[Mark, str]] = field(default_factory=list)

    def value_mark(self, path: NodePath) -> Mark:
        """Where the value at `path` starts; for a path that does not exist, its deepest existing parent."""
        for end in range(len(path), -1, -1):
            mark = self.values.get(tuple(path[:end]))
            if mark is not None:
                return mark
        return self.start

    def key_mark(self, path: NodePath) -> Mark:
        """Where the key naming `path` is written (its value's mark for list items and the root)."""
        return self.keys.get(tuple(path)) or self.value_mark(path)

    def locate(self, loc: tuple[Any, ...]) -> NodePath:
        """The deepest existing path along `loc`, skipping parts that name nothing in the data.

        Validation errors carry locations with extra parts (union branch tags, names of missing fields);
        walking the data keeps the parts that exist and ignores the rest.
        """
        path: list[Any] = []
        current = self.data
        for part in loc:
            if _has(current, part):
                current = current[part]
                path.append(part)
        return tuple(path)


def _has(container: Any, part: Any) -> bool:
    if isinstance(container, dict):
        return _hashable(part) and part in container
    if isinstance(container, list):
        return isinstance(part, int) and not isinstance(part, bool) and 0 <= part < len(container)
    return False


_Loader = guarded_loader(MAX_DEPTH)


def load_documents(text: str) -> list[Document]:
    """Every document in `text`; raises YAMLSyntaxError for text that does not parse."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as err:
        raise _syntax_error(err) from None
    except yaml.reader.ReaderError as err:
        raise _reader_error(text, err) from None
    except yaml.YAMLError as err:
        raise YAMLSyntaxError(START, f"invalid YAML: {' '.join(str(err).split())}") from None
    except RecursionError:
        raise YAMLSyntaxError(START, f"invalid YAML: nested more than {MAX_DEPTH} levels deep") from None
    for node in nodes:
        if node is not None:
            _check_expansion(node)
    return [_Builder().document(node) for node in nodes if node is not None]


def _check_expansion(root: Node) -> None:
    """Refuse a document whose aliases would expand it beyond MAX_ALIAS_EXPANSION values or MAX_DEPTH levels.

    Sizes and depths are computed once per node (aliases share nodes), without recursion, so a bomb costs no
    more than its text; an alias that refers to its own ancestor counts once here and is reported while building.
    """
    measured = expansion(root)
    if measured.added > MAX_ALIAS_EXPANSION:
        message = (
            f"invalid YAML: aliases (*name) expand this document by more than {MAX_ALIAS_EXPANSION} values; "
            "write the values out instead of nesting aliases"
        )
        raise YAMLSyntaxError(Mark.of(root.start_mark), message)
    if measured.depth > MAX_DEPTH:
        message = f"invalid YAML: aliases (*name) nest this document more than {MAX_DEPTH} levels deep"
        raise YAMLSyntaxError(Mark.of(root.start_mark), message)


def load_document(text: str) -> Document | None:
    """The single document in `text`, or None when the text holds no document at all."""
    documents = load_documents(text)
    if len(documents) > 1:
        raise YAMLSyntaxError(documents[1].start, "expected a single YAML document, found more than one")
    return documents[0] if documents else None


def _reader_error(text: str, err: yaml.reader.ReaderError) -> YAMLSyntaxError:
    """A character YAML does not allow (NUL, most control characters), at its line and column."""
    before = text[: err.position]
    mark = Mark(before.count("\n") + 1, err.position - (before.rfind("\n") + 1) + 1)
    character = err.character if isinstance(err.character, str) else chr(err.character)
    return YAMLSyntaxError(mark, f"invalid YAML: the character {character!r} is not allowed in YAML text")


def _syntax_error(err: yaml.MarkedYAMLError) -> YAMLSyntaxError:
    """PyYAML's message, reworded for the mistakes authors make most (indentation, tabs, quotes, colons)."""
    problem, context = err.problem or "", err.context or ""
    mark = Mark.of(err.problem_mark) if err.problem_mark is not None else START
    opened = Mark.of(err.context_mark) if err.context_mark is not None else None
    where = f"line {opened.line}, column {opened.column}" if opened else ""
    if problem.startswith("expected <block end>") and opened:
        return YAMLSyntaxError(
            mark, f"invalid YAML: bad indentation; this line does not line up with the block at {where}"
        )
    if problem == "mapping values are not allowed here":
        message = "invalid YAML: unexpected ':' (quote a value that contains ': ', or check the indentation)"
        return YAMLSyntaxError(mark, message)
    if problem.startswith("found character '\\t'"):
        return YAMLSyntaxError(mark, "invalid YAML: a tab character; indent with spaces")
    if context == "while scanning a quoted scalar" and opened:
        return YAMLSyntaxError(opened, "invalid YAML: this quoted string is never closed")
    if problem.endswith("but got '<stream end>'") and opened:
        return YAMLSyntaxError(opened, "invalid YAML: this bracket is never closed")
    if problem.startswith("found undefined alias"):
        return YAMLSyntaxError(mark, f"invalid YAML: {problem} (no anchor '&' of that name comes before it)")
    message = f"invalid YAML: {problem or context or 'cannot parse'}"
    if context and problem and opened:
        message += f" ({context} at {where})"
    return YAMLSyntaxError(mark, message)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class _Builder:
    """Walks a composed node tree once, building data and recording marks and problems."""

    def __init__(self) -> None:
        self.constructor = yaml.SafeLoader("")
        self.doc = Document(data=None)
        self.active: set[int] = set()

    def document(self, node: Node) -> Document:
        self.doc.start = Mark.of(node.start_mark)
        self.doc.data = self.build(node, ())
        return self.doc

    def build(self, node: Node, path: NodePath) -> Any:
        self.doc.values[path] = Mark.of(node.start_mark)
        if id(node) in self.active:
            self.problem(node, "an alias refers to a node that contains it; such recursive data is not allowed")
            return None
        self.active.add(id(node))
        if node.tag not in _PLAIN_COLLECTION_TAGS and not isinstance(node, ScalarNode):
            self.problem(node, f"unknown YAML tag '{node.tag}'; course and lab files use plain YAML without tags")
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
            return self.scalar(node)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: ScalarNode) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            self.problem(node, f"unknown YAML tag '{node.tag}'; course and lab files use plain YAML without tags")
            return node.value
        except Exception as err:  # PyYAML's constructors fail in many ways: `!!int x`, `!!timestamp`, 2024-13-45
            kind = node.tag.rsplit(":", 1)[-1]
            self.problem(node, f"invalid {kind} '{node.value}': {err}")
            return node.value

    def mapping(self, node: MappingNode, path: NodePath) -> dict[Any, Any]:
        self.duplicates(node)
        try:
            self.constructor.flatten_mapping(node)
        except yaml.constructor.ConstructorError as err:
            self.problem(node, f"invalid YAML: {err.problem}")
            return {}
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node)
            if key is None and not isinstance(key_node, ScalarNode):
                continue
            self.doc.keys[(*path, key)] = Mark.of(key_node.start_mark)
            result[key] = self.build(value_node, (*path, key))
        return result

    def key(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            self.problem(node, "a mapping key must be a plain value such as a name, not a list or a mapping")
            return None
        return self.scalar(node)

    def duplicates(self, node: MappingNode) -> None:
        """Keys written twice in the same mapping; keys brought in by a `<<` merge may be overridden."""
        seen: dict[tuple[str, str], Mark] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            identity = (key_node.tag, key_node.value)
            mark = Mark.of(key_node.start_mark)
            first = seen.setdefault(identity, mark)
            if first != mark:
                self.doc.problems.append(
                    (mark, f"duplicate key '{key_node.value}' (first at line {first.line}, column {first.column})")
                )

    def problem(self, node: Node, message: str) -> None:
        self.doc.problems.append((Mark.of(node.start_mark), message))
