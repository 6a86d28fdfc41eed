"""Deleting an Application: with `resources-finalizer.argocd.argoproj.io` its objects go first.

With the finalizer (or its `/foreground` form) every object the app tracks is deleted with foreground
propagation (`/background`: background), except CustomResourceDefinitions and objects annotated
`argocd.argoproj.io/sync-options: Delete=false`; once none of them is left the finalizer is removed and the
API server deletes the app. Without it the app goes at once and its objects stay, orphaned but still carrying
their tracking ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...cluster.client import KubeClient
from ...cluster.errors import ClusterError
from .live import LiveState
from .options import delete_disabled
from .tracking import ResourceKey, instance_name

JSON = dict[str, Any]
FINALIZER = "resources-finalizer.argocd.argoproj.io"
POLICIES = {FINALIZER: "Foreground", f"{FINALIZER}/foreground": "Foreground", f"{FINALIZER}/background": "Background"}


def cascade_policy(app: JSON) -> str | None:
    """The propagation policy the app's resources finalizer asks for; None without one."""
    for finalizer in (app.get("metadata") or {}).get("finalizers") or []:
        if finalizer in POLICIES:
            return POLICIES[finalizer]
    return None


def deletable(obj: JSON) -> bool:
    return obj.get("kind") != "CustomResourceDefinition" and not delete_disabled(obj)


class Finalizer:
    """Runs the cascade of a deleted app; `patch(app, changes)` writes the app."""

    def __init__(self, client: KubeClient, live: LiveState, patch: Callable[[JSON, JSON], JSON]) -> None:
        self.client = client
        self.live = live
        self.patch = patch

    def finalize(self, app: JSON) -> bool:
        """Delete the app's objects; True once they are all gone and the finalizer was removed."""
        policy = cascade_policy(app)
        if policy is None:
            return True
        remaining = [key for key, obj in self.live.tracked(instance_name(app)).items() if deletable(obj)]
        for key in remaining:
            self._delete(key, policy)
        if any(self.live.get(key) is not None for key in remaining):
            return False
        finalizers = [f for f in (app.get("metadata") or {}).get("finalizers") or [] if f not in POLICIES]
        self.patch(app, {"metadata": {"finalizers": finalizers}})
        return True

    def _delete(self, key: ResourceKey, policy: str) -> None:
        """Delete one object unless it is already going, then refresh what the cache knows of it."""
        current = self.live.get(key) or {}
        resource = self.live.resource(
            key.group, key.kind, str(current.get("apiVersion") or "").rpartition("/")[2] or None
        )
        if resource is None:
            return
        namespace = key.namespace or None
        try:
            if not (current.get("metadata") or {}).get("deletionTimestamp"):
                self.client.delete(resource, key.name, namespace, propagation=policy)
            fresh = self.client.get(resource, key.name, namespace)
        except ClusterError:
            return
        if fresh is None:
            self.live.forget(key)
        else:
            fresh.setdefault("apiVersion", resource.api_version)
            fresh.setdefault("kind", resource.kind)
            self.live.remember(fresh)
