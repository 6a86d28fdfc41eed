"""An on-demand reconcile, as `flux reconcile` and `argocd app get --refresh` ask for one.

Flux: the `reconcile.fluxcd.io/requestedAt` annotation gets a new value, and the controller echoes it into
`status.lastHandledReconcileAt` once it has reconciled; with `with_source`, the GitRepository goes first so
the sync sees the newest commit. Argo CD: the `argocd.argoproj.io/refresh` annotation, which the controller
removes once it has compared (and, with automated sync, synced). Either way the object is watched, not
polled, until the agent has answered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from ..cluster.api import ApiResource
from ..cluster.client import JSON, KubeClient, WatchStream
from ..cluster.errors import ClusterError
from ..errors import DriftlabError
from .status import API_VERSIONS, AgentObject, describe

REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
REFRESH = "argocd.argoproj.io/refresh"
KIND_NAMES = {
    "kustomization": "Kustomization",
    "kustomizations": "Kustomization",
    "ks": "Kustomization",
    "gitrepository": "GitRepository",
    "gitrepositories": "GitRepository",
    "gitrepo": "GitRepository",
    "source": "GitRepository",
    "application": "Application",
    "applications": "Application",
    "app": "Application",
}


def request_stamp() -> str:
    """A fresh value for `reconcile.fluxcd.io/requestedAt`: the time, as `flux reconcile` writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_target(text: str) -> tuple[str, str]:
    """`ks/apps`, `Kustomization/apps`, `app/shop` or a bare name (a Kustomization) → (kind, name)."""
    kind, _, name = text.rpartition("/")
    if not kind:
        return "Kustomization", text
    found = KIND_NAMES.get(kind.lower())
    if found is None:
        raise DriftlabError(f"unknown kind {kind!r}: use ks/NAME, gitrepo/NAME or app/NAME")
    return found, name


def reconcile(
    client: KubeClient,
    kind: str,
    name: str,
    namespace: str,
    *,
    with_source: bool = False,
    timeout: float = 60.0,
    progress: Callable[[str], None] = lambda line: None,
) -> AgentObject:
    """Ask the agent to reconcile now and wait for its answer; DriftlabError when it failed or took too long."""
    resource = client.resolve(kind, API_VERSIONS[kind])
    obj = client.get(resource, name, namespace)
    if obj is None:
        raise DriftlabError(f"{kind} {namespace}/{name} not found")
    if kind == "Application":
        return _refresh(client, resource, obj, timeout, progress)
    if (obj.get("spec") or {}).get("suspend"):
        raise DriftlabError(f"{kind} {namespace}/{name}: resource is suspended")
    if with_source and kind == "Kustomization":
        source = (obj.get("spec") or {}).get("sourceRef") or {}
        if source.get("kind") == "GitRepository":
            reconcile(
                client,
                "GitRepository",
                str(source.get("name")),
                str(source.get("namespace") or namespace),
                timeout=timeout,
                progress=progress,
            )
    stamp = request_stamp()
    progress(f"annotating {kind} {name} in {namespace} namespace")
    client.patch(resource, name, namespace, {"metadata": {"annotations": {REQUESTED_AT: stamp}}})
    progress(f"waiting for {kind} reconciliation")
    done = _wait(
        client,
        resource,
        namespace,
        name,
        timeout,
        lambda o: (o.get("status") or {}).get("lastHandledReconcileAt") == stamp,
    )
    result = describe(done)
    if not result.ready:
        raise DriftlabError(f"{kind} reconciliation failed: '{result.message}'")
    return result


def _refresh(
    client: KubeClient, resource: ApiResource, obj: JSON, timeout: float, progress: Callable[[str], None]
) -> AgentObject:
    metadata = obj["metadata"]
    name, namespace = metadata["name"], metadata.get("namespace") or ""
    before = (obj.get("status") or {}).get("reconciledAt")
    progress(f"refreshing application {name} in {namespace} namespace")
    client.patch(resource, name, namespace, {"metadata": {"annotations": {REFRESH: "normal"}}})

    def answered(current: JSON) -> bool:
        annotations = (current.get("metadata") or {}).get("annotations") or {}
        status = current.get("status") or {}
        running = (status.get("operationState") or {}).get("phase") == "Running"
        return REFRESH not in annotations and status.get("reconciledAt") != before and not running

    return describe(_wait(client, resource, namespace, name, timeout, answered))


def _wait(
    client: KubeClient,
    resource: ApiResource,
    namespace: str,
    name: str,
    timeout: float,
    done: Callable[[JSON], bool],
) -> JSON:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items, version = client.list(resource, namespace, field_selector=f"metadata.name={name}")
        if not items:
            raise DriftlabError(f"{resource.kind} {namespace}/{name} was deleted")
        if done(items[0]):
            return items[0]
        stream = client.watch(resource, namespace, version, field_selector=f"metadata.name={name}")
        try:
            for kind, obj in _until(stream, deadline):
                if kind == "DELETED":
                    raise DriftlabError(f"{resource.kind} {namespace}/{name} was deleted")
                if kind in ("ADDED", "MODIFIED") and done(obj):
                    return obj
        except ClusterError:
            continue
        finally:
            stream.close()
    raise DriftlabError(
        f"timed out after {timeout:g}s waiting for {resource.kind} {namespace}/{name} to be reconciled; "
        "is the lab's agent running? (driftlab lab status)"
    )


def _until(stream: WatchStream, deadline: float) -> Iterator[tuple[str, JSON]]:
    """The stream's events until the deadline: a timer closes the stream, which ends the iteration."""
    timer = threading.Timer(max(deadline - time.monotonic(), 0), stream.close)
    timer.daemon = True
    timer.start()
    try:
        yield from stream
    finally:
        timer.cancel()
