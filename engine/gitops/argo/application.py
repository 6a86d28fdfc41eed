"""The embedded Argo CD application controller: one reconciler for `Application` (argoproj.io/v1alpha1).

Each reconcile of an app runs, in the real controller's order: the deletion finalizer when the app is being
deleted; the requested operation (a sync) when there is one; a refresh, which compares Git with the cluster,
writes the status and may start an automated sync (then run at once); and schedules the next look.

A refresh either resolves the target revision again ("latest": on a poll, a push, the refresh annotation, a
spec change, after an operation) or reuses the revision compared last ("recent": when only a live object the
app tracks changed, which is how drift shows up immediately). Polls come every `timeout.reconciliation`
(120 s) plus up to 60 s of jitter, through `Timing`. The refresh annotation `argocd.argoproj.io/refresh`
(`normal` or `hard`; hard also drops the cached manifests) is removed by the status write.

The controller's own writes are remembered (the object the API returned), so a reconcile never acts on an
older copy of the app than the one it wrote, and the watch event of its own write does not queue the app
again; only changes to spec, operation, refresh annotation, finalizers or deletion do.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...cluster.client import JSON, KubeClient
from ...cluster.errors import ClusterError
from ..controller import MIN_INTERVAL, Controller, Key, Timing, key_of
from ..events import EventRecorder
from . import autosync
from .fields import dig, mapping, text, timestamp
from .finalizer import Finalizer
from .live import LiveState
from .manifests import ManifestGenerator
from .operation import Operations, destination_error
from .repo import matches_push, repo_name
from .state import AppState, StateLoader
from .status import (
    COMPARISON_ERROR,
    INVALID_SPEC,
    REPEATED_RESOURCE,
    SYNC_ERROR,
    base_fields,
    health_status,
    merge_patch,
    resource_entries,
    set_conditions,
    summary,
    sync_status,
)
from .sync import Syncer
from .tracking import instance_name, tracked_by

log = logging.getLogger(__name__)

COMPONENT = "argocd-application-controller"
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
RECONCILIATION = 120.0
JITTER = 60.0
RETRY = 10.0
DELETION_RECHECK = 1.0
MAX_PASSES = 3
RECENT, LATEST = 1, 2


def fingerprint(app: JSON) -> str:
    """What in an app, when it changes, calls for a reconcile (the controller's own status writes do not)."""
    metadata = app.get("metadata") or {}
    state = dig(app, "status", "operationState")
    parts = {
        "spec": app.get("spec"),
        "operation": app.get("operation"),
        "refresh": (metadata.get("annotations") or {}).get(REFRESH_ANNOTATION),
        "deleting": metadata.get("deletionTimestamp"),
        "finalizers": metadata.get("finalizers"),
        "phase": state.get("phase"),
    }
    return json.dumps(parts, sort_keys=True, default=str)


class ApplicationController(Controller):
    api_version = "argoproj.io/v1alpha1"
    kind = "Application"
    name = COMPONENT

    def __init__(self, client: KubeClient, cache: Path, timing: Timing | None = None) -> None:
        super().__init__(client, timing)
        self.live = LiveState(client, self._live_changed)
        self.generator = ManifestGenerator(cache)
        self.loader = StateLoader(client, self.live, self.generator)
        self.syncer = Syncer(client, self.live)
        self.events = EventRecorder(client, COMPONENT)
        self.operations = Operations(self.loader, self.syncer, self.events, self.timing, self._patch)
        self.finalizer = Finalizer(client, self.live, self._patch)
        self._lock = threading.Lock()
        self._fingerprints: dict[Key, str] = {}
        self._levels: dict[Key, int] = {}
        self._latest: dict[Key, JSON] = {}
        self._intervals: dict[Key, float] = {}

    def stop(self) -> None:
        super().stop()
        self.live.stop()

    # Queueing ------------------------------------------------------------------------------------------------

    def on_change(self, event: str, obj: JSON) -> None:
        key = key_of(obj)
        with self._lock:
            if event == "DELETED":
                for table in (self._fingerprints, self._levels, self._latest, self._intervals):
                    table.pop(key, None)
                return
            seen = fingerprint(obj)
            if self._fingerprints.get(key) == seen:
                return
            self._fingerprints[key] = seen
        self.enqueue(key)

    def enqueue(self, key: Key, after: float = 0.0) -> None:
        """Queue a refresh that resolves the revision again (a push, a spec change, a poll)."""
        if after <= 0:
            with self._lock:
                self._levels[key] = LATEST
        super().enqueue(key, after)

    def _live_changed(self, obj: JSON) -> None:
        """A tracked live object changed: refresh its app against the revision it compared last."""
        instance = tracked_by(obj)
        if instance is None:
            return
        for app in self.objects():
            if instance_name(app) == instance:
                key = key_of(app)
                with self._lock:
                    self._levels.setdefault(key, RECENT)
                self.queue.add(key)

    def keys_for_push(self, repo: str, ref: str) -> Iterable[Key]:
        for app in self.objects():
            source = (app.get("spec") or {}).get("source") or {}
            url = source.get("repoURL")
            if isinstance(url, str) and repo_name(url) == repo and matches_push(source.get("targetRevision"), ref):
                yield key_of(app)

    # Reconcile -----------------------------------------------------------------------------------------------

    def reconcile(self, key: Key) -> float | None:
        app = self._current(key)
        with self._lock:
            level = self._levels.pop(key, LATEST)
        if app is None:
            return None
        try:
            return self._reconcile(key, app, level)
        except ClusterError as err:
            log.info("argocd: %s/%s: %s", *key, err)
            return self.timing.delay(RETRY)

    def _reconcile(self, key: Key, app: JSON, level: int) -> float | None:
        if (app.get("metadata") or {}).get("deletionTimestamp"):
            self.loader.watch(app)
            return None if self.finalizer.finalize(app) else self.timing.delay(DELETION_RECHECK)
        level = self._level(key, app, level)
        if ((app.get("metadata") or {}).get("annotations") or {}).get(REFRESH_ANNOTATION) == "hard":
            self.generator.forget(str(((app.get("spec") or {}).get("source") or {}).get("repoURL") or ""))
        waits: list[float] = []
        for _ in range(MAX_PASSES):
            if app.get("operation"):
                step = self.operations.process(app)
                app = step.app
                if step.wait is not None:
                    waits.append(step.wait)
                else:
                    level = LATEST
            app, decision = self._refresh(app, level)
            if decision.retry_after is not None:
                waits.append(decision.retry_after)
            if decision.operation is None:
                break
        waits.append(max(self._until_poll(key, app), MIN_INTERVAL))
        return max(min(waits), 0.0)

    def _level(self, key: Key, app: JSON, level: int) -> int:
        """A recent-revision refresh becomes a full one when the last full one is too old or the spec moved."""
        if level == LATEST:
            return LATEST
        spec = mapping(app.get("spec"))
        sync = dig(app, "status", "sync")
        compared = mapping(sync.get("comparedTo"))
        if not sync.get("revision") or compared.get("source") != spec.get("source"):
            return LATEST
        if compared.get("destination") != spec.get("destination"):
            return LATEST
        if ((app.get("metadata") or {}).get("annotations") or {}).get(REFRESH_ANNOTATION):
            return LATEST
        return LATEST if self._until_poll(key, app) <= 0 else RECENT

    def _until_poll(self, key: Key, app: JSON) -> float:
        with self._lock:
            interval = self._intervals.setdefault(key, RECONCILIATION + random.uniform(0, JITTER))
        reconciled = timestamp(dig(app, "status").get("reconciledAt"))
        elapsed = (datetime.now(UTC) - reconciled).total_seconds() if reconciled else float("inf")
        return self.timing.delay(interval) - elapsed

    # Refresh -------------------------------------------------------------------------------------------------

    def _refresh(self, app: JSON, level: int) -> tuple[JSON, autosync.Decision]:
        spec = app.get("spec") or {}
        old = dig(app, "status")
        invalid = destination_error(spec)
        if invalid:
            status = self._invalid_status(old, spec, invalid)
            return self._write(app, status, None), autosync.Decision()
        revision = text(dig(old, "sync").get("revision")) or None
        state = self.loader.load(app, None if level == LATEST else revision, resolve=level == LATEST)
        decision = autosync.Decision()
        if state.error is None:
            decision = autosync.decide(
                app, state.sync_status, state.revision or "", state.comparison.resources, datetime.now(UTC), self.timing
            )
        status = self._status(old, spec, state, decision, stamp=level == LATEST or not old.get("reconciledAt"))
        return self._write(app, status, decision.operation), decision

    def _status(self, old: JSON, spec: JSON, state: AppState, decision: autosync.Decision, stamp: bool) -> JSON:
        status = dict(old)
        status["sync"] = sync_status(state.sync_status, state.revision, spec)
        status["health"] = health_status(state.health, old.get("health"))
        status["resources"] = resource_entries(state.comparison.resources, state.healths)
        found = summary(state.lives())
        if found:
            status["summary"] = found
        else:
            status.pop("summary", None)
        conditions = [(COMPARISON_ERROR, state.error)] if state.error else []
        conditions += [(REPEATED_RESOURCE, warning) for warning in state.warnings]
        merged = set_conditions(old.get("conditions"), conditions, (COMPARISON_ERROR, REPEATED_RESOURCE, INVALID_SPEC))
        merged = set_conditions(merged, [(SYNC_ERROR, decision.condition)] if decision.condition else [], (SYNC_ERROR,))
        _set_or_drop(status, "conditions", merged)
        fields = base_fields(state.source_type)
        if not stamp:
            fields.pop("reconciledAt")
        status.update(fields)
        return status

    def _invalid_status(self, old: JSON, spec: JSON, message: str) -> JSON:
        status = dict(old)
        status["sync"] = sync_status("Unknown", None, spec)
        status["health"] = health_status("Unknown", old.get("health"))
        conditions = set_conditions(old.get("conditions"), [(INVALID_SPEC, message)], (INVALID_SPEC, COMPARISON_ERROR))
        _set_or_drop(status, "conditions", conditions)
        status.update(base_fields(None))
        return status

    def _write(self, app: JSON, status: JSON, operation: JSON | None) -> JSON:
        """One merge patch: the status, the refresh annotation gone, and a new operation if one starts."""
        changes: JSON = {}
        status_patch = merge_patch(dig(app, "status"), status)
        if status_patch:
            changes["status"] = status_patch
        if ((app.get("metadata") or {}).get("annotations") or {}).get(REFRESH_ANNOTATION) is not None:
            changes["metadata"] = {"annotations": {REFRESH_ANNOTATION: None}}
        if operation is not None:
            changes["operation"] = operation
        if not changes:
            return app
        updated = self._patch(app, changes)
        self._report(app, status, operation)
        return updated

    def _report(self, app: JSON, status: JSON, operation: JSON | None) -> None:
        old = dig(app, "status")
        for part, word in (("sync", "sync"), ("health", "health")):
            before, after = text(dig(old, part).get("status")), text(dig(status, part).get("status"))
            if before != after:
                self.events.normal(app, "ResourceUpdated", f"Updated {word} status: {before} -> {after}")
        if operation is not None:
            revision = (operation.get("sync") or {}).get("revision")
            self.events.normal(app, "OperationStarted", f"Initiated automated sync to '{revision}'")

    # Writes --------------------------------------------------------------------------------------------------

    def _patch(self, app: JSON, changes: JSON) -> JSON:
        metadata = app.get("metadata") or {}
        updated = self.client.patch(self.resource, metadata.get("name"), metadata.get("namespace"), changes)
        updated.setdefault("apiVersion", self.api_version)
        updated.setdefault("kind", self.kind)
        key = key_of(updated)
        with self._lock:
            self._latest[key] = updated
            self._fingerprints[key] = fingerprint(updated)
        return updated

    def _current(self, key: Key) -> JSON | None:
        """The newest copy of the app: the informer's, or the one this controller last wrote."""
        cached = self.cached(key)
        with self._lock:
            written = self._latest.get(key)
        if cached is None or written is None:
            return cached
        return written if _version(written) > _version(cached) else cached


def _set_or_drop(status: JSON, field: str, value: list[Any]) -> None:
    if value:
        status[field] = value
    else:
        status.pop(field, None)


def _version(obj: JSON) -> int:
    value = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    return int(value) if value.isdigit() else 0
