"""Naming the objects an agent manages: Flux's inventory ids and the `Kind/namespace/name` form of its events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True, order=True)
class ObjectRef:
    """One managed object, as Flux's inventory records it: `<namespace>_<name>_<group>_<kind>` plus the version."""

    namespace: str
    name: str
    group: str
    kind: str
    version: str = "v1"

    @classmethod
    def of(cls, obj: JSON) -> ObjectRef:
        api_version = str(obj.get("apiVersion") or "")
        group, _, version = api_version.rpartition("/")
        metadata = obj.get("metadata") or {}
        return cls(
            str(metadata.get("namespace") or ""), str(metadata.get("name") or ""), group, str(obj["kind"]), version
        )

    @classmethod
    def from_entry(cls, entry: JSON) -> ObjectRef | None:
        """An inventory entry `{id, v}`; None when the id is malformed."""
        parts = str(entry.get("id") or "").split("_")
        if len(parts) != 4 or not parts[1] or not parts[3]:
            return None
        namespace, name, group, kind = parts
        return cls(namespace, name, group, kind, str(entry.get("v") or "v1"))

    @property
    def id(self) -> str:
        return f"{self.namespace}_{self.name}_{self.group}_{self.kind}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def entry(self) -> JSON:
        return {"id": self.id, "v": self.version}

    def same_object(self, other: ObjectRef) -> bool:
        """Whether both name the same object, whatever the version they were read in."""
        return self.id == other.id

    def __str__(self) -> str:
        """`Deployment/shop/web`, or `Namespace/shop` for cluster-scoped objects."""
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"
