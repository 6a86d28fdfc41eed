"""From generated manifests to the objects an Application wants live.

As Argo CD prepares its target state: namespaced objects without a namespace go to `destination.namespace`,
cluster-scoped objects lose any namespace, every object gets the app's tracking id, and an object that appears
twice keeps its last definition (with a `RepeatedResourceWarning` condition saying so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ...cluster.api import ApiResource
from .tracking import ResourceKey, with_tracking

JSON = dict[str, Any]
DEFAULT_NAMESPACE = "default"


@dataclass
class Targets:
    objects: dict[ResourceKey, JSON] = field(default_factory=dict)
    resources: dict[ResourceKey, ApiResource | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def prepare(
    manifests: Iterable[JSON],
    instance: str,
    namespace: str | None,
    resolve: Callable[[str, str, str], ApiResource | None],
) -> Targets:
    """The desired objects keyed by identity; `resolve(group, kind, version)` says how the cluster serves a kind."""
    targets = Targets()
    counts: dict[ResourceKey, int] = {}
    for manifest in manifests:
        group, _, version = str(manifest.get("apiVersion") or "").rpartition("/")
        resource = resolve(group, str(manifest.get("kind") or ""), version)
        obj = _placed(manifest, resource, namespace)
        obj = with_tracking(obj, instance)
        key = ResourceKey.of(obj)
        counts[key] = counts.get(key, 0) + 1
        targets.objects[key] = obj
        targets.resources[key] = resource
    for key, count in counts.items():
        if count > 1:
            targets.warnings.append(f"Resource {key} appeared {count} times among application resources.")
    return targets


def _placed(manifest: JSON, resource: ApiResource | None, namespace: str | None) -> JSON:
    """The object with the namespace it will live in (unknown kinds count as namespaced, as in Argo CD)."""
    obj = dict(manifest)
    metadata = dict(obj.get("metadata") or {})
    if resource is not None and not resource.namespaced:
        metadata.pop("namespace", None)
    elif not metadata.get("namespace"):
        metadata["namespace"] = namespace or DEFAULT_NAMESPACE
    obj["metadata"] = metadata
    return obj
