"""`gitops`: what a GitOps agent reports about its own objects and about the objects it manages.

Three questions, each judged by a pure function of what was read:
- ready: a Flux Kustomization or GitRepository has Ready=True for its current generation, or an Argo CD
  Application is Synced and Healthy; with `atHead`, at the head commit of a lab repository's branch.
- managed: the target object exists and carries the agent's ownership: Flux's
  `kustomize.toolkit.fluxcd.io/name|namespace` labels or Argo CD's `argocd.argoproj.io/tracking-id`.
- pruned: the target object is gone, and the agent's object (applied and ready) no longer lists it in its
  inventory (Flux) or resources (Argo CD). An object deleted by hand is still listed until the agent puts it
  back, so this tells a prune from a `kubectl delete`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.gitops.status import API_VERSIONS, applied_revision, lists, manager_of, readiness

from ..context import CheckContext
from ..reader import JSON, Read
from ..spec import GitCheck, GitOpsCheck
from . import git
from .common import Scope, Verdict, target_read, target_title


@dataclass(frozen=True)
class GitOpsState:
    """What was read: the agent's object (None: absent), the target objects, and the Git head when asked."""

    owner: JSON | None = None
    targets: tuple[JSON, ...] = ()
    head: git.GitState | None = None


def owner_title(body: GitOpsCheck) -> str:
    return f"{body.owner_kind} {body.owner_namespace}/{body.owner_name}"


def title(body: GitOpsCheck) -> str:
    if body.managed is not None:
        by = f" by {owner_title(body)}" if body.owner_kind else " by a GitOps agent"
        return f"{target_title(body.managed)} is managed{by}"
    if body.pruned is not None:
        return f"{target_title(body.pruned)} was pruned by {owner_title(body)}"
    state = "ready" if body.ready else "not ready"
    at = f" at the head of {body.at_head}@{body.branch}" if body.at_head else ""
    return f"{owner_title(body)} is {state}{at}"


# Reading --------------------------------------------------------------------------------------------------


def owner_read(body: GitOpsCheck, scope: Scope) -> Read | None:
    """The agent's object, when the check names one."""
    if not body.owner_kind:
        return None
    resource = scope.resolve(body.owner_kind, API_VERSIONS[body.owner_kind])
    return Read(resource, body.owner_namespace, body.owner_name)


def subject_read(body: GitOpsCheck, scope: Scope) -> Read | None:
    """The object managed or pruned, when the check names one."""
    target = body.managed or body.pruned
    return target_read(target, scope) if target is not None else None


def reads(body: GitOpsCheck, scope: Scope) -> list[Read]:
    """What the check watches: the agent's object, and the target object if any."""
    return [read for read in (owner_read(body, scope), subject_read(body, scope)) if read is not None]


def head_of(body: GitOpsCheck, context: CheckContext) -> git.GitState | None:
    if body.at_head is None:
        return None
    return git.read(GitCheck(repo=body.at_head, branch=body.branch), context)


# Judging --------------------------------------------------------------------------------------------------


def judge(body: GitOpsCheck, state: GitOpsState, target: Read | None = None) -> Verdict:
    if body.managed is not None:
        return _managed(body, state, target)
    if body.pruned is not None:
        return _pruned(body, state, target)
    return _ready(body, state)


def _ready(body: GitOpsCheck, state: GitOpsState) -> Verdict:
    subject = owner_title(body)
    if state.owner is None:
        return Verdict(False, f"{subject} does not exist", "it exists", "absent")
    ready, why = readiness(state.owner)
    if body.at_head and ready:
        head = state.head
        if head is None or head.error:
            return Verdict(False, head.error if head else "the Git head could not be read", "the Git head", "no head")
        revision = applied_revision(state.owner)
        if head.head not in revision:
            shown = revision or "no revision yet"
            return Verdict(
                False,
                f"{subject} has applied {shown}, not the head of {body.at_head}@{body.branch} ({head.short})",
                f"revision {head.short}",
                shown,
            )
    if ready != body.ready:
        wanted = "ready" if body.ready else "not ready"
        return Verdict(False, f"{subject}: expected it to be {wanted}: {why}", wanted, why)
    return Verdict(True, f"{subject}: {why}", "ready" if body.ready else "not ready", why)


def _managed(body: GitOpsCheck, state: GitOpsState, target: Read | None) -> Verdict:
    subject = target.describe() if target is not None else target_title(body.managed)  # type: ignore[arg-type]
    if not state.targets:
        return Verdict(False, f"{subject} does not exist", "managed", "absent")
    obj = state.targets[0]
    owner = manager_of(obj)
    if owner is None:
        message = f"{subject} carries no GitOps agent's labels: it was not applied by one"
        return Verdict(False, message, "managed", "unmanaged")
    if body.owner_kind and owner != (body.owner_kind, body.owner_namespace, body.owner_name or ""):
        found = f"{owner[0]} {owner[1]}/{owner[2]}" if owner[1] else f"{owner[0]} {owner[2]}"
        return Verdict(False, f"{subject} is managed by {found}, not {owner_title(body)}", owner_title(body), found)
    kind, namespace, name = owner
    where = f"{namespace}/" if namespace else ""
    return Verdict(True, f"{subject} is managed by {kind} {where}{name}", "managed", "managed")


def _pruned(body: GitOpsCheck, state: GitOpsState, target: Read | None) -> Verdict:
    subject = target.describe() if target is not None else target_title(body.pruned)  # type: ignore[arg-type]
    by = owner_title(body)
    if state.targets:
        return Verdict(False, f"{subject} still exists", "pruned", "present")
    if state.owner is None:
        return Verdict(False, f"{by} does not exist, so it pruned nothing", "pruned", "no agent")
    if target is not None and lists(
        state.owner, target.resource.kind, target.resource.group, target.namespace or "", target.name or ""
    ):
        return Verdict(
            False,
            f"{subject} is gone but {by} still lists it: it was deleted by hand, and the agent will recreate it",
            "pruned",
            "deleted by hand",
        )
    return Verdict(True, f"{subject} was pruned by {by}", "pruned", "pruned")
