"""Which resource types the server serves right now: the built-ins plus whatever the stored CRDs define."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .resources import BUILTIN, UNAVAILABLE, ResourceType, from_crd


def storage_key(rtype: ResourceType) -> str:
    """Objects are stored per group and plural, so every served version of a CRD sees the same objects."""
    return f"{rtype.group}/{rtype.plural}"


class Catalog:
    def __init__(self) -> None:
        self._crds: dict[str, list[ResourceType]] = {}
        self._rebuild()

    def _rebuild(self) -> None:
        types = [*BUILTIN, *UNAVAILABLE]
        for crd_types in self._crds.values():
            types.extend(crd_types)
        self.types: tuple[ResourceType, ...] = tuple(types)
        self._by_path = {(t.group, t.version, t.plural): t for t in types}
        self._by_storage_key: dict[str, ResourceType] = {}
        for rtype in types:
            self._by_storage_key.setdefault(storage_key(rtype), rtype)
        self.generation = getattr(self, "generation", 0) + 1

    def set_crd(self, crd: dict[str, Any]) -> None:
        self._crds[crd["metadata"]["name"]] = from_crd(crd)
        self._rebuild()

    def remove_crd(self, name: str) -> None:
        if self._crds.pop(name, None) is not None:
            self._rebuild()

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def buckets(self) -> Iterable[ResourceType]:
        """One resource type per storage key: how to visit every stored object exactly once."""
        return self._by_storage_key.values()

    def by_storage_key(self, key: str) -> ResourceType | None:
        return self._by_storage_key.get(key)

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        for rtype in self.types:
            if rtype.group == group and rtype.kind == kind:
                return rtype
        return None

    def by_api_version(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rtype in self.types:
            if rtype.group == group and rtype.version == version and rtype.kind == kind:
                return rtype
        return None

    def group_versions(self) -> dict[str, list[str]]:
        """Group → versions, in first-seen order (the first one is preferred)."""
        result: dict[str, list[str]] = {}
        for rtype in self.types:
            versions = result.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        return result

    def in_group_version(self, group: str, version: str) -> Iterable[ResourceType]:
        return (t for t in self.types if t.group == group and t.version == version)
