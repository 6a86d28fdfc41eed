"""The agents' view of their own objects, read from what they write: revision, readiness, message.

Shared by `driftlab gitops status`, the `gitops` check kind and the TUI's GitOps tab, so all three say the
same thing. Flux: Ready condition (for the current generation) and `lastAppliedRevision` (Kustomization) or
`status.artifact.revision` (GitRepository); Argo CD: `sync.status` and `health.status`, `sync.revision`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..cluster.client import KubeClient
from ..cluster.errors import UnknownKind

JSON = dict[str, Any]

API_VERSIONS = {
    "GitRepository": "source.toolkit.fluxcd.io/v1",
    "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
    "Application": "argoproj.io/v1alpha1",
}
AGENT_OF = {"GitRepository": "flux", "Kustomization": "flux", "Application": "argocd"}
FLUX_NAME_LABEL = "kustomize.toolkit.fluxcd.io/name"
FLUX_NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace"
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
_LONG_HEX_RE = re.compile(r"([0-9a-f]{8})[0-9a-f]{32,}")


@dataclass(frozen=True)
class AgentObject:
    """One source or sync as its agent reports it."""

    kind: str
    namespace: str
    name: str
    revision: str
    ready: bool
    state: str  # Flux: True/False/Unknown; Argo CD: "Synced/Healthy"
    message: str
    suspended: bool = False

    @property
    def failed(self) -> bool:
        """Whether the agent reports a failure (not merely work in progress, as Ready=Unknown while it runs)."""
        if self.kind == "Application":
            return self.state.endswith("/Degraded") or (self.state.startswith("Unknown/") and bool(self.message))
        return self.state == "False"

    @property
    def agent(self) -> str:
        return AGENT_OF[self.kind]

    @property
    def short_revision(self) -> str:
        """As `flux get` shows it: long hex cut to 8 characters (`main@sha1:450796dd`)."""
        return _LONG_HEX_RE.sub(r"\1", self.revision)


def readiness(obj: JSON) -> tuple[bool, str]:
    """Whether an agent's object is ready, and its own words for its state."""
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    if obj.get("kind") == "Application":
        sync = str((status.get("sync") or {}).get("status") or "Unknown")
        health = str((status.get("health") or {}).get("status") or "Unknown")
        return sync == "Synced" and health == "Healthy", f"{sync} and {health}"
    ready = _condition(status, "Ready")
    if ready is None:
        return False, "not reconciled yet"
    generation = (obj.get("metadata") or {}).get("generation")
    observed = ready.get("observedGeneration", status.get("observedGeneration"))
    if generation is not None and observed is not None and observed != generation:
        return False, "not reconciled since its last change"
    return ready.get("status") == "True", str(ready.get("message") or ready.get("reason") or "")


def _condition(status: JSON, type_: str) -> JSON | None:
    conditions = status.get("conditions") if isinstance(status.get("conditions"), list) else []
    return next((c for c in conditions if isinstance(c, dict) and c.get("type") == type_), None)


def applied_revision(obj: JSON) -> str:
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    if obj.get("kind") == "Application":
        return str((status.get("sync") or {}).get("revision") or "")
    if obj.get("kind") == "GitRepository":
        return str((status.get("artifact") or {}).get("revision") or "")
    return str(status.get("lastAppliedRevision") or "")


def describe(obj: JSON) -> AgentObject:
    metadata = obj.get("metadata") or {}
    ready, message = readiness(obj)
    kind = str(obj.get("kind"))
    if kind == "Application":
        status = obj.get("status") or {}
        sync = (status.get("sync") or {}).get("status") or "Unknown"
        health = (status.get("health") or {}).get("status") or "Unknown"
        state = f"{sync}/{health}"
        conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
        operation = (status.get("operationState") or {}).get("message") or ""
        message = "; ".join(str(c.get("message")) for c in conditions if c.get("message")) or operation or message
    else:
        condition = _condition(obj.get("status") or {}, "Ready")
        state = str(condition.get("status")) if condition else "Unknown"
    suspended = bool((obj.get("spec") or {}).get("suspend"))
    return AgentObject(
        kind,
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
        applied_revision(obj),
        ready,
        state,
        message,
        suspended,
    )


def read_all(client: KubeClient, namespace: str | None = None) -> list[AgentObject]:
    """Every source and sync in the cluster (or one namespace); kinds the cluster does not serve are skipped."""
    found: list[AgentObject] = []
    for kind, api_version in API_VERSIONS.items():
        try:
            resource = client.resolve(kind, api_version)
        except UnknownKind:
            continue
        items, _ = client.list(resource, namespace)
        found.extend(describe(item) for item in items)
    return sorted(found, key=lambda row: (list(API_VERSIONS).index(row.kind), row.namespace, row.name))


def manager_of(obj: JSON) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of the agent object that manages `obj`, read from its labels or annotation."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    labels = metadata.get("labels") or {}
    if labels.get(FLUX_NAME_LABEL):
        return "Kustomization", str(labels.get(FLUX_NAMESPACE_LABEL) or ""), str(labels[FLUX_NAME_LABEL])
    tracking = str((metadata.get("annotations") or {}).get(ARGO_TRACKING) or "")
    if ":" in tracking:
        app = tracking.split(":", 1)[0]
        namespace, _, name = app.rpartition("_")
        return "Application", namespace or "argocd", name
    return None


def lists(owner: JSON, kind: str, group: str, namespace: str, name: str) -> bool:
    """Whether the agent's object still lists an object among those it applied (inventory or resources)."""
    status = owner.get("status") if isinstance(owner.get("status"), dict) else {}
    if owner.get("kind") == "Application":
        return any(
            isinstance(item, dict)
            and item.get("kind") == kind
            and (item.get("group") or "") == group
            and item.get("name") == name
            and (item.get("namespace") or "") == namespace
            for item in status.get("resources") or []
        )
    wanted = f"{namespace}_{name}_{group}_{kind}"
    entries = (status.get("inventory") or {}).get("entries") or []
    return any(isinstance(entry, dict) and entry.get("id") == wanted for entry in entries)


def table(rows: list[AgentObject]) -> list[str]:
    """`driftlab gitops status` lines: KIND, NAMESPACE/NAME, REVISION, SUSPENDED, READY, MESSAGE."""
    header = ("KIND", "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE")
    body = [
        (row.kind, f"{row.namespace}/{row.name}", row.short_revision, str(row.suspended), row.state, row.message)
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header) - 1)]
    return [
        "   ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)) + "   " + line[-1]
        for line in [header, *body]
    ]
