"""What a GitOps agent would do with the Git head, before it does it: `driftlab gitops diff`.

Each agent compares in its own way (engine.gitops.flux.diff, engine.gitops.argo.diff); this module holds
what they share: the change record, the lines printed (`► Deployment/shop/web created`, as `flux diff` prints
them) and the rule for the exit code: 1 when something would be deleted, the change that needs a second look.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..cluster.client import KubeClient
from ..errors import DriftlabError
from .objects import ObjectRef
from .status import API_VERSIONS

CREATED = "created"
DRIFTED = "drifted"
DELETED = "deleted"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Change:
    """One object the agent would create, change (drifted), delete, or leave alone (skipped), and why."""

    ref: ObjectRef
    action: str
    detail: str = ""


def diff(client: KubeClient, kind: str, name: str, namespace: str, local: Path | None = None) -> list[Change]:
    """The changes the agent object `kind` `namespace/name` would make."""
    obj = client.get(client.resolve(kind, API_VERSIONS[kind]), name, namespace)
    if obj is None:
        raise DriftlabError(f"{kind} {namespace}/{name} not found")
    if kind == "Kustomization":
        from .flux.diff import diff_kustomization

        return diff_kustomization(client, obj, local)
    if kind == "Application":
        from .argo.diff import diff_application

        return diff_application(client, obj, local)
    raise DriftlabError(f"a {kind} applies nothing to diff: name a Kustomization or an Application")


def lines(changes: Iterable[Change]) -> list[str]:
    """`► Kind/ns/name action`, details indented under it."""
    out: list[str] = []
    for change in changes:
        out.append(f"► {change.ref} {change.action}")
        out += [f"    {line}" for line in change.detail.splitlines()]
    return out


def deletes(changes: Iterable[Change]) -> bool:
    return any(change.action == DELETED for change in changes)
