"""Running the `operation` an Application asks for (`argocd app sync` sets it; so does automated sync).

As the real controller processes it: a new operation is recorded as `status.operationState` with phase Running
and `startedAt`; the sync pass runs against a fresh comparison at the operation's revision; a failed pass is
retried per `operation.retry` (automated syncs: 5 times, 5 s doubling up to 3 min), the state saying
`<message>. Retrying attempt #N at 3:04PM.` meanwhile and `<message> (retried N times).` at the end. A pass
still waiting for pruned objects to go stays Running. On completion `finishedAt` is set, `operation` is
cleared, a successful sync is added to `status.history`, and an OperationCompleted event says
`Sync operation to <sha> succeeded` (or `failed: <message>`). `Terminating` (set by `argocd app terminate-op`)
ends the operation as Failed, `Operation terminated`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..controller import Timing
from ..events import EventRecorder, now
from . import autosync
from .fields import dig, integer, mapping, sequence, text, timestamp
from .options import SyncOptions
from .state import StateLoader
from .status import history_entry, merge_patch, with_history
from .sync import ERROR, FAILED, RUNNING, SUCCEEDED, Plan, Syncer
from .tracking import ResourceKey

JSON = dict[str, Any]
Patch = Callable[[JSON, JSON], JSON]

TERMINATING = "Terminating"
PENDING_RECHECK = 1.0
IN_CLUSTER = "https://kubernetes.default.svc"


@dataclass
class Step:
    """The app after an operation step, and when to look again if the operation is not finished."""

    app: JSON
    wait: float | None = None


def destination_error(spec: JSON) -> str | None:
    """Why the destination is not the one cluster this agent manages (None when it is)."""
    destination = spec.get("destination") or {}
    server, name = destination.get("server"), destination.get("name")
    if server and name:
        return f"application destination can't have both name and server defined: {name} {server}"
    if server and server.rstrip("/") != IN_CLUSTER:
        return f"unable to find destination server: there are no clusters with this URL: {server}"
    if name and name != "in-cluster":
        return f"unable to find destination server: there are no clusters with this name: {name}"
    if not server and not name:
        return "Destination server missing from app spec"
    return None


def _not_a_sync(state: JSON) -> str | None:
    """Why the operation cannot run: only `operation.sync` is something this agent does."""
    if isinstance(dig(state, "operation").get("sync"), dict):
        return None
    return "operation.sync is required: the embedded Argo CD runs sync operations only"


def kitchen(moment: datetime) -> str:
    """Go's time.Kitchen layout: `3:04PM`."""
    return moment.strftime("%I:%M%p").lstrip("0")


class Operations:
    """Processes operations, writing every state change through `patch` and reporting with `events`."""

    def __init__(self, loader: StateLoader, syncer: Syncer, events: EventRecorder, timing: Timing, patch: Patch):
        self.loader = loader
        self.syncer = syncer
        self.events = events
        self.timing = timing
        self.patch = patch

    def process(self, app: JSON) -> Step:
        operation = mapping(app.get("operation"))
        state = dig(app, "status", "operationState")
        if state.get("phase") not in (RUNNING, TERMINATING) or not state.get("operation"):
            state = {"operation": operation, "phase": RUNNING, "startedAt": now()}
            app = self._save(app, state)
        else:
            state = json.loads(json.dumps(state))
        if state.get("phase") == TERMINATING:
            state.update(phase=FAILED, message="Operation terminated")
            return self._finish(app, state)
        if state.get("finishedAt"):
            wait = self._retry_wait(state)
            if wait > 0:
                return Step(app, wait)
            state.pop("finishedAt", None)
            state.pop("syncResult", None)
        elif state.get("syncResult"):
            return self._resume(app, state)
        return self._run(app, state)

    def _retry_wait(self, state: JSON) -> float:
        retry = dig(state, "operation").get("retry")
        count = integer(state.get("retryCount"))
        finished = timestamp(state.get("finishedAt"))
        delay = self.timing.delay(autosync.retry_delay(retry, max(count - 1, 0)))
        if finished is None:
            return 0.0
        return delay - (datetime.now(UTC) - finished).total_seconds()

    def _resume(self, app: JSON, state: JSON) -> Step:
        """A pass that pruned objects still being deleted: done once they are gone."""
        results = sequence(dig(state, "syncResult").get("resources"))
        pruned = [_key(r) for r in results if isinstance(r, dict) and r.get("status") == "Pruned"]
        if self.syncer.still_pending(pruned):
            return Step(app, self.timing.delay(PENDING_RECHECK))
        state.update(phase=SUCCEEDED, message="successfully synced (all tasks run)")
        return self._finish(app, state)

    def _run(self, app: JSON, state: JSON) -> Step:
        spec = app.get("spec") or {}
        sync = dig(state, "operation", "sync")
        invalid = destination_error(spec) or _not_a_sync(state)
        if invalid:
            state.update(phase=FAILED, message=invalid)
            return self._finish(app, state)
        loaded = self.loader.load(app, str(sync.get("revision") or "") or None, resolve=True)
        if loaded.error:
            state.update(phase=ERROR, message=f"ComparisonError: {loaded.error}")
            return self._failed(app, state)
        policy = spec.get("syncPolicy") or {}
        plan = Plan(
            resources=loaded.comparison.resources,
            types=loaded.types,
            options=SyncOptions.of(policy.get("syncOptions"), sync.get("syncOptions")),
            prune=sync.get("prune") is True,
            namespace=(spec.get("destination") or {}).get("namespace"),
            namespace_metadata=mapping(policy.get("managedNamespaceMetadata")) or None,
            only=sync.get("resources") if isinstance(sync.get("resources"), list) else None,
        )
        outcome = self.syncer.run(plan)
        state.update(phase=outcome.phase, message=outcome.message)
        state["syncResult"] = {"resources": outcome.results, "revision": loaded.revision, "source": spec.get("source")}
        if outcome.phase == RUNNING:
            return Step(self._save(app, state), self.timing.delay(PENDING_RECHECK))
        if outcome.phase in (FAILED, ERROR):
            return self._failed(app, state)
        return self._finish(app, state)

    def _failed(self, app: JSON, state: JSON) -> Step:
        retry = dig(state, "operation").get("retry")
        limit, count = autosync.retry_limit(retry), integer(state.get("retryCount"))
        if count < limit or limit < 0:
            delay = self.timing.delay(autosync.retry_delay(retry, count))
            at = datetime.now(UTC) + timedelta(seconds=delay)
            state.update(
                phase=RUNNING,
                retryCount=count + 1,
                finishedAt=now(),
                message=f"{state.get('message')}. Retrying attempt #{count + 1} at {kitchen(at)}.",
            )
            return Step(self._save(app, state), delay)
        if count > 0:
            state["message"] = f"{state.get('message')} (retried {count} times)."
        return self._finish(app, state)

    def _finish(self, app: JSON, state: JSON) -> Step:
        state["finishedAt"] = now()
        changes: JSON = {"operation": None}
        status = dig(app, "status")
        if state.get("phase") == SUCCEEDED:
            entry = history_entry(status.get("history"), state, (app.get("spec") or {}).get("source") or {})
            limit = (app.get("spec") or {}).get("revisionHistoryLimit")
            changes["status"] = {"history": with_history(status.get("history"), entry, limit)}
        app = self._save(app, state, changes)
        self._event(app, state)
        return Step(app)

    def _save(self, app: JSON, state: JSON, extra: JSON | None = None) -> JSON:
        old = dig(app, "status").get("operationState")
        changes: JSON = dict(extra or {})
        state_patch = merge_patch(old, state) if isinstance(old, dict) and old else state
        if state_patch is not None:
            changes["status"] = {**(changes.get("status") or {}), "operationState": state_patch}
        return self.patch(app, changes) if changes else app

    def _event(self, app: JSON, state: JSON) -> None:
        partial = dig(state, "operation", "sync").get("resources")
        words = ["Partial sync operation" if partial else "Sync operation"]
        revision = text(dig(state, "syncResult").get("revision"))
        if revision:
            words += ["to", revision]
        if state.get("phase") == SUCCEEDED:
            self.events.normal(app, "OperationCompleted", " ".join([*words, "succeeded"]))
        else:
            self.events.warning(app, "OperationCompleted", " ".join([*words, "failed:", str(state.get("message"))]))


def _key(entry: JSON) -> ResourceKey:
    return ResourceKey(
        str(entry.get("group") or ""),
        str(entry.get("kind") or ""),
        str(entry.get("namespace") or ""),
        str(entry.get("name") or ""),
    )
