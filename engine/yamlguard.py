"""Guards for reading YAML nobody vouches for: nesting too deep to compose, and alias bombs ("billion laughs")
measured before anything expands them. Courses, pipeline files and the API server's YAML bodies share them,
each with its own limits and messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


class GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting deeper than `max_depth` while composing (its composer recurses)."""

    max_depth = 100
    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nested more than {self.max_depth} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def guarded_loader(max_depth: int) -> type[GuardedLoader]:
    """A GuardedLoader class for `max_depth`."""
    return type(f"GuardedLoader{max_depth}", (GuardedLoader,), {"max_depth": max_depth})


@dataclass(frozen=True)
class Expansion:
    """A composed document's size: `values` once every alias is expanded, `distinct` as written, and `depth`."""

    values: int
    distinct: int
    depth: int

    @property
    def added(self) -> int:
        """Values the aliases add."""
        return self.values - self.distinct


def expansion(root: yaml.Node) -> Expansion:
    """Measure `root` without expanding it: each shared node is sized once, without recursion, so a bomb costs no
    more than its text; an alias to its own ancestor counts once (constructing the data reports it)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    distinct: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            size[key] = 1 + sum(size.get(id(child), 1) for child in children)
            depth[key] = 1 + max((depth.get(id(child), 1) for child in children), default=0)
            continue
        if key in distinct:
            continue
        distinct.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in distinct)
    return Expansion(size[id(root)], len(distinct), depth[id(root)])


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
