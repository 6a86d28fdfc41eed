"""Which live objects belong to which Application: Argo CD 3's annotation tracking.

Every object an Application applies carries `argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<ns>/<name>`
(an empty group for the core API, an empty namespace for cluster-scoped objects). `<app>` is the application's
instance name: its name when it lives in the control-plane namespace (`argocd`), `<namespace>_<name>` otherwise.
An object counts as tracked only when the id also names the object itself, so a manifest copied from a managed
object (annotation and all) is not mistaken for one the app owns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
CONTROLLER_NAMESPACE = "argocd"


@dataclass(frozen=True, order=True)
class ResourceKey:
    """An object's identity for Argo CD: group, kind, namespace (empty when cluster-scoped) and name."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: JSON) -> ResourceKey:
        api_version = str(obj.get("apiVersion") or "")
        group = api_version.rpartition("/")[0]
        metadata = obj.get("metadata") or {}
        return cls(
            group, str(obj.get("kind") or ""), str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        )

    def __str__(self) -> str:
        """`apps/Deployment/shop/web`, the form Argo CD's messages use."""
        return f"{self.group}/{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class TrackingRef:
    """A parsed tracking id: the instance name of the app and the object it says it is."""

    app: str
    key: ResourceKey


def instance_name(app: JSON) -> str:
    """The app's name in tracking ids: plain in the control-plane namespace, `<ns>_<name>` elsewhere."""
    metadata = app.get("metadata") or {}
    name, namespace = str(metadata.get("name") or ""), str(metadata.get("namespace") or "")
    return name if namespace in ("", CONTROLLER_NAMESPACE) else f"{namespace}_{name}"


def tracking_id(instance: str, key: ResourceKey) -> str:
    return f"{instance}:{key.group}/{key.kind}:{key.namespace}/{key.name}"


def parse(value: object) -> TrackingRef | None:
    """The app and object a tracking id names; None when the value is not a tracking id."""
    if not isinstance(value, str):
        return None
    app, sep, rest = value.partition(":")
    group_kind, sep2, namespaced_name = rest.partition(":")
    if not sep or not sep2 or not app or "/" not in group_kind or "/" not in namespaced_name:
        return None
    group, _, kind = group_kind.partition("/")
    namespace, _, name = namespaced_name.partition("/")
    if not kind or not name:
        return None
    return TrackingRef(app, ResourceKey(group, kind, namespace, name))


def tracked_by(obj: JSON) -> str | None:
    """The instance name of the app that tracks this live object, or None.

    Objects owned by another object (the ReplicaSets of a Deployment, which copy its annotations) are never
    tracked themselves, and neither is an object whose id names some other object.
    """
    metadata = obj.get("metadata") or {}
    if metadata.get("ownerReferences"):
        return None
    ref = parse((metadata.get("annotations") or {}).get(TRACKING_ANNOTATION))
    if ref is None:
        return None
    return ref.app if ref.key == ResourceKey.of(obj) else None


def with_tracking(obj: JSON, instance: str) -> JSON:
    """A copy of a desired object carrying the tracking id of `instance`."""
    result = dict(obj)
    metadata = dict(result.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    annotations[TRACKING_ANNOTATION] = tracking_id(instance, ResourceKey.of(result))
    metadata["annotations"] = annotations
    result["metadata"] = metadata
    return result
