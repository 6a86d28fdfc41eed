"""The status vocabulary Flux's controllers share: condition types, reasons, message formats and Go durations.

Kept in one place so `kubectl describe`, `flux get` and the checks see exactly the words real Flux writes.
"""

from __future__ import annotations

from typing import Any

from ...cluster.embedded.gofmt import go_duration
from ..conditions import find, remove_condition, set_condition

JSON = dict[str, Any]

FINALIZER = "finalizers.fluxcd.io"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
HEALTHY = "Healthy"
FETCH_FAILED = "FetchFailed"
ARTIFACT_IN_STORAGE = "ArtifactInStorage"
ARTIFACT_OUTDATED = "ArtifactOutdated"

PROGRESSING = "Progressing"
PROGRESSING_WITH_RETRY = "ProgressingWithRetry"
SUCCEEDED = "Succeeded"
RECONCILIATION_SUCCEEDED = "ReconciliationSucceeded"
RECONCILIATION_FAILED = "ReconciliationFailed"
ARTIFACT_FAILED = "ArtifactFailed"
BUILD_FAILED = "BuildFailed"
PRUNE_FAILED = "PruneFailed"
HEALTH_CHECK_FAILED = "HealthCheckFailed"
DEPENDENCY_NOT_READY = "DependencyNotReady"
GIT_OPERATION_FAILED = "GitOperationFailed"
AUTHENTICATION_FAILED = "AuthenticationFailed"
URL_INVALID = "URLInvalid"
NEW_REVISION = "NewRevision"
NEW_ARTIFACT = "NewArtifact"

DEPENDENCY_REQUEUE = 30.0  # kustomize-controller's --requeue-dependency default


def put(conditions: list[JSON], type_: str, status: str, reason: str, message: str, generation: int) -> list[JSON]:
    """`conditions` with one set, ordered as Flux orders them: Ready first, then the others by type."""
    updated = set_condition(conditions, type_, status, reason, message, generation)
    return sorted(updated, key=lambda c: (c.get("type") != READY, str(c.get("type"))))


def drop(conditions: list[JSON], type_: str) -> list[JSON]:
    return remove_condition(conditions, type_)


def reason_of(conditions: list[JSON], type_: str = READY) -> str:
    condition = find(conditions, type_)
    return str(condition.get("reason") or "") if condition else ""


def status_of(conditions: list[JSON], type_: str = READY) -> str:
    condition = find(conditions, type_)
    return str(condition.get("status") or "") if condition else ""


def finalize(status: JSON, generation: int, requested_at: str | None) -> JSON:
    """What Flux does to every status before writing it: echo the request, settle Reconciling and generation."""
    if requested_at is not None:
        status["lastHandledReconcileAt"] = requested_at
    conditions = list(status.get("conditions") or [])
    ready = status_of(conditions, READY)
    if ready == "True":
        conditions = drop(conditions, RECONCILING)
        status["observedGeneration"] = generation
    elif ready == "False" and find(conditions, RECONCILING) is not None:
        reconciling = dict(find(conditions, RECONCILING) or {})
        conditions = put(
            conditions, RECONCILING, "True", PROGRESSING_WITH_RETRY, str(reconciling.get("message") or ""), generation
        )
    status["conditions"] = conditions
    return status


# Kustomization messages ---------------------------------------------------------------------------------------


def applied(revision: str) -> str:
    return f"Applied revision: {revision}"


def finished(elapsed: float, interval: float) -> str:
    return f"Reconciliation finished in {go_duration(elapsed)}, next run in {go_duration(interval)}"


def fetching(revision: str, timeout: float) -> str:
    return f"Fetching manifests for revision {revision} with a timeout of {go_duration(timeout)}"


def running_health_checks(revision: str, timeout: float) -> str:
    return f"Running health checks for revision {revision} with a timeout of {go_duration(timeout)}"


def artifact_not_found(retry: float) -> str:
    return f"Source artifact not found, retrying in {go_duration(retry)}"


def artifact_missing(retry: float) -> str:
    return f"Source is not ready, artifact not found, retrying in {go_duration(retry)}"


def dependencies_not_ready(retry: float) -> str:
    return f"Dependencies do not meet ready condition, retrying in {go_duration(retry)}"


def health_passed(elapsed: float) -> str:
    return f"Health check passed in {go_duration(elapsed)}"


def health_failed(elapsed: float, detail: str) -> str:
    return f"health check failed after {go_duration(elapsed)}: {detail}"


# GitRepository messages ---------------------------------------------------------------------------------------


def stored_revision(revision: str) -> str:
    return f"stored artifact for revision '{revision}'"


def stored_commit(subject: str) -> str:
    """The NewArtifact event: the commit subject, cut to 50 characters as Flux does."""
    first = subject.split("\n", 1)[0]
    return f"stored artifact for commit '{first[:50] + '...' if len(first) > 50 else first}'"


def new_upstream(revision: str) -> str:
    return f"new upstream revision '{revision}'"
