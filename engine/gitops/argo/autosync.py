"""Automated sync: whether a refresh starts a sync operation, and the back-offs around it.

The rules of Argo CD's application controller, in its order: nothing unless `syncPolicy.automated` is on
(`enabled` unset counts as on), no operation is running, the app is not being deleted and it is OutOfSync.
Without `prune`, a change that only needs pruning does nothing. A revision is attempted once: after a failed
attempt the app gets the SyncError `Failed last sync attempt to [<sha>]: <message>` and waits for a new
revision; after a successful one nothing happens unless `selfHeal` is on, which re-syncs the out-of-sync
resources after a back-off of 2 s × 3^(n-1) for the n-th heal of the same revision (the first at once), capped
at 300 s. With `prune` on and `allowEmpty` off, a sync that would delete every resource is refused:
`Skipping sync attempt to [<sha>]: auto-sync will wipe out all resources`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..controller import Timing, parse_duration
from .compare import OUT_OF_SYNC, SYNCED, Resource
from .fields import dig, integer, mapping, timestamp

JSON = dict[str, Any]

SELF_HEAL_BASE = 2.0
SELF_HEAL_FACTOR = 3.0
SELF_HEAL_CAP = 300.0
DEFAULT_RETRY_LIMIT = 5
RETRY_DURATION = 5.0
RETRY_FACTOR = 2.0
RETRY_MAX = 180.0
SUCCESSFUL = "Succeeded"


@dataclass(frozen=True)
class Decision:
    """What a refresh does about automated sync: start `operation`, report `condition`, or look again later."""

    operation: JSON | None = None
    condition: str | None = None
    retry_after: float | None = None


def automated_policy(app: JSON) -> JSON | None:
    """`syncPolicy.automated` when automated sync is on (`enabled` unset counts as on)."""
    policy = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
    if not isinstance(policy, dict) or policy.get("enabled") is False:
        return None
    return policy


def self_heal_backoff(attempts: int) -> float:
    """Seconds to wait before the self-heal that follows `attempts` earlier heals of the same revision."""
    if attempts <= 0:
        return 0.0
    return min(SELF_HEAL_BASE * SELF_HEAL_FACTOR ** (attempts - 1), SELF_HEAL_CAP)


def retry_delay(retry: Any, retry_count: int) -> float:
    """Seconds before retry number `retry_count + 1` of a failed operation (`retry.backoff`, Argo's defaults)."""
    backoff = dig(retry, "backoff")
    duration = _seconds(backoff.get("duration"), RETRY_DURATION)
    factor = backoff.get("factor") if isinstance(backoff.get("factor"), int | float) else RETRY_FACTOR
    cap = _seconds(backoff.get("maxDuration"), RETRY_MAX)
    return min(duration * float(factor) ** retry_count, cap)


def retry_limit(retry: Any) -> int:
    return integer(mapping(retry).get("limit"))


def _seconds(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip().isdigit():
        return float(value.strip())
    try:
        return parse_duration(value, default)
    except ValueError:
        return default


def decide(
    app: JSON,
    sync_status: str,
    revision: str,
    resources: Sequence[Resource],
    now: datetime,
    timing: Timing | None = None,
) -> Decision:
    """The automated-sync decision of one refresh; the self-heal back-off goes through `timing` like every wait."""
    policy = automated_policy(app)
    metadata = app.get("metadata") or {}
    if policy is None or app.get("operation") or metadata.get("deletionTimestamp") or sync_status != OUT_OF_SYNC:
        return Decision()
    prune = policy.get("prune") is True
    if not prune and all(r.requires_pruning for r in resources if r.status != SYNCED):
        return Decision()
    state = dig(app, "status", "operationState")
    operation = _operation(app, revision, prune)
    if attempted(app, revision):
        if state.get("phase") != SUCCESSFUL:
            return Decision(condition=f"Failed last sync attempt to [{revision}]: {state.get('message') or ''}")
        if policy.get("selfHeal") is not True:
            return Decision()
        heals = integer(dig(state, "operation", "sync").get("selfHealAttemptsCount"))
        remaining = (timing or Timing()).delay(self_heal_backoff(heals)) - _since(state.get("finishedAt"), now)
        if remaining > 0:
            return Decision(retry_after=remaining)
        operation["sync"]["selfHealAttemptsCount"] = heals + 1
        operation["sync"]["resources"] = [_sync_resource(r) for r in resources if r.status != SYNCED]
    if prune and policy.get("allowEmpty") is not True and all(r.requires_pruning for r in resources):
        return Decision(condition=f"Skipping sync attempt to [{revision}]: auto-sync will wipe out all resources")
    return Decision(operation=operation)


def attempted(app: JSON, revision: str) -> bool:
    """Whether the last operation already synced (or tried to sync) this revision of the same source."""
    state = dig(app, "status", "operationState")
    result = dig(state, "syncResult")
    if not dig(state, "operation", "sync") or not result:
        return False
    if result.get("revision") != revision:
        return False
    return _same_source(result.get("source"), (app.get("spec") or {}).get("source"))


def _same_source(synced: Any, wanted: Any) -> bool:
    """Sources compare without targetRevision: HEAD and main may name the same commit."""
    if not isinstance(synced, dict) or not isinstance(wanted, dict):
        return True
    return _without_revision(synced) == _without_revision(wanted)


def _without_revision(source: JSON) -> JSON:
    return {key: value for key, value in source.items() if key != "targetRevision"}


def _operation(app: JSON, revision: str, prune: bool) -> JSON:
    sync_policy = (app.get("spec") or {}).get("syncPolicy") or {}
    sync: JSON = {"revision": revision, "prune": prune}
    if sync_policy.get("syncOptions"):
        sync["syncOptions"] = list(sync_policy["syncOptions"])
    retry = sync_policy.get("retry") if isinstance(sync_policy.get("retry"), dict) else {"limit": DEFAULT_RETRY_LIMIT}
    return {"sync": sync, "initiatedBy": {"automated": True}, "retry": retry}


def _sync_resource(resource: Resource) -> JSON:
    entry = {"group": resource.key.group, "kind": resource.key.kind, "name": resource.key.name}
    if resource.key.namespace:
        entry["namespace"] = resource.key.namespace
    return entry


def _since(stamp: Any, now: datetime) -> float:
    then = timestamp(stamp)
    return max((now - then).total_seconds(), 0.0) if then is not None else 0.0
