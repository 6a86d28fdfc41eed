"""The embedded kustomize-controller: Kustomization objects applied from their source's artifact.

The reconcile follows the real controller's order: deletion (the finalizer prunes per `deletionPolicy`),
suspension, the source and its artifact, `dependsOn`, progress conditions, path, build (a failed build stops
here: nothing applied, nothing pruned), staged server-side apply, inventory, prune, health checks, success.
Health checks do not block the worker: the reconcile records what it waits for and looks again every 5s
(scaled) until the objects are ready or the timeout passes; a new revision or spec cancels the wait.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ...cluster.client import JSON, KubeClient
from ...cluster.errors import ClusterError, NotFound
from ..build import BuildError, PathNotFound
from ..controller import Controller, Key, Timing, key_of
from ..events import EventRecorder
from ..objects import ObjectRef
from . import generate, health, inventory, prune, status
from .apply import SKIPPED, Applier, Change, prepare
from .errors import FluxError
from .predicates import ChangeFilter, requested_at
from .source import API_VERSION as SOURCE_API_VERSION
from .source import GitRepositoryController
from .spec import KustomizationSpec, SourceRef, parse
from .storage import Artifact, Storage

log = logging.getLogger(__name__)

KIND = "Kustomization"
API_VERSION = "kustomize.toolkit.fluxcd.io/v1"
HEALTH_POLL = 5.0
TERMINATION_POLL = 2.0


@dataclass
class HealthWait:
    """A health check in progress: what it waits for, since when, and what would make it obsolete."""

    generation: int
    revision: str
    requested: str | None
    refs: list[ObjectRef]
    reconcile_start: float
    started: float
    deadline: float
    was_healthy: bool
    announce: bool

    def still_valid(self, generation: int, revision: str, requested: str | None) -> bool:
        return (self.generation, self.revision, self.requested) == (generation, revision, requested)


class KustomizationController(Controller):
    api_version = API_VERSION
    kind = KIND
    name = "kustomize-controller"

    def __init__(
        self, client: KubeClient, timing: Timing, storage: Storage, sources: GitRepositoryController, cache: Path
    ) -> None:
        super().__init__(client, timing)
        self.storage = storage
        self.sources = sources
        self.workdir = Path(cache) / "tmp"
        self.events = EventRecorder(client, self.name)
        self.filter = ChangeFilter()
        self.waits: dict[Key, HealthWait] = {}
        self.terminating: dict[Key, float] = {}

    # Queueing ------------------------------------------------------------------------------------------------

    def on_change(self, event: str, obj: JSON) -> None:
        if self.filter.wants(event, obj):
            self.enqueue(key_of(obj))

    def source_changed(self, source: Key) -> None:
        """A GitRepository has a new artifact: every Kustomization using it reconciles now."""
        for obj in self.objects():
            ref = (obj.get("spec") or {}).get("sourceRef") or {}
            namespace = ref.get("namespace") or (obj.get("metadata") or {}).get("namespace")
            if ref.get("kind") == "GitRepository" and (namespace, ref.get("name")) == source:
                self.enqueue(key_of(obj))

    def dependency_ready(self, dependency: Key) -> None:
        """Kustomization `dependency` became ready: its waiting dependents need not wait for their re-check."""
        for obj in self.objects():
            own_namespace = (obj.get("metadata") or {}).get("namespace")
            for item in (obj.get("spec") or {}).get("dependsOn") or []:
                if isinstance(item, dict) and (item.get("namespace") or own_namespace, item.get("name")) == dependency:
                    self.enqueue(key_of(obj))

    # Reconcile -----------------------------------------------------------------------------------------------

    def reconcile(self, key: Key) -> float | None:
        """One look at a Kustomization; while the cluster API fails, try again after the retry interval."""
        try:
            return self._reconcile(key)
        except ClusterError as err:
            log.info("kustomize-controller: Kustomization %s/%s: %s", *key, err)
            return self.timing.delay(self._retry_of(key))

    def _retry_of(self, key: Key) -> float:
        cached = self.cached(key)
        try:
            return parse(cached).retry if cached is not None else status.DEPENDENCY_REQUEUE
        except FluxError:
            return status.DEPENDENCY_REQUEUE

    def _reconcile(self, key: Key) -> float | None:
        obj = self.client.get(self.resource, key[1], key[0])
        if obj is None:
            self.waits.pop(key, None)
            self.terminating.pop(key, None)
            return None
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            return self._finalize(obj, key)
        if status.FINALIZER not in ((obj.get("metadata") or {}).get("finalizers") or []):
            obj = self._add_finalizer(obj)
        if (obj.get("spec") or {}).get("suspend") is True:
            self.waits.pop(key, None)
            return None
        try:
            spec = parse(obj)
        except FluxError as err:
            return _Run(self, obj, None).stall(str(err))
        return _Run(self, obj, spec).execute()

    def _add_finalizer(self, obj: JSON) -> JSON:
        metadata = obj.get("metadata") or {}
        finalizers = [*(metadata.get("finalizers") or []), status.FINALIZER]
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": metadata.get("resourceVersion")}}
        return self.client.patch(self.resource, metadata["name"], metadata.get("namespace"), patch)

    def source_of(self, ref: SourceRef) -> JSON | None:
        """The source object (from the source-controller's cache, else the API); FluxError for other kinds."""
        if ref.kind != "GitRepository":
            raise FluxError(f"source `{ref.name}` kind '{ref.kind}' not supported", status.ARTIFACT_FAILED)
        cached = self.sources.cached((ref.namespace, ref.name))
        if cached is not None:
            return cached
        return self.client.get(self.client.resolve("GitRepository", SOURCE_API_VERSION), ref.name, ref.namespace)

    # Deletion ------------------------------------------------------------------------------------------------

    def _finalize(self, obj: JSON, key: Key) -> float | None:
        """The finalizer: prune what the Kustomization applied when its deletion policy says so, then let go."""
        refs = inventory.read((obj.get("status") or {}).get("inventory"))
        if key in self.terminating:
            left = prune.still_present(self.client, refs)
            if left and time.monotonic() < self.terminating[key]:
                return self.timing.delay(TERMINATION_POLL)
            if left:
                self._event(obj, "Warning", "failed to wait for resources termination")
            return self._release(obj, key)
        try:
            spec = parse(obj)
        except FluxError:
            return self._release(obj, key)
        if spec.suspend or not refs or not spec.deletes_on_removal():
            return self._release(obj, key)
        name, namespace = key[1], key[0]
        result = prune.delete_all(self.client, refs, name, namespace)
        if result.error:
            self._event(obj, "Warning", "pruning for deleted resource failed")
            return self.timing.delay(spec.retry)
        if result.changes:
            self._event(obj, "Normal", result.message())
        if spec.deletion_policy == "WaitForTermination":
            self.terminating[key] = time.monotonic() + self.timing.delay(spec.timeout)
            return self.timing.delay(TERMINATION_POLL)
        return self._release(obj, key)

    def _release(self, obj: JSON, key: Key) -> None:
        self.waits.pop(key, None)
        self.terminating.pop(key, None)
        metadata = obj.get("metadata") or {}
        finalizers = [f for f in metadata.get("finalizers") or [] if f != status.FINALIZER]
        if finalizers == list(metadata.get("finalizers") or []):
            return None
        with contextlib.suppress(NotFound):
            self.client.patch(self.resource, key[1], key[0], {"metadata": {"finalizers": finalizers}})
        return None

    def _event(self, obj: JSON, type_: str, message: str) -> None:
        """An event whose reason is the Ready condition's reason, as Flux's events are."""
        conditions = list((obj.get("status") or {}).get("conditions") or [])
        reason = status.reason_of(conditions) or ("error" if type_ == "Warning" else "info")
        self.events.record(obj, type_, reason, message)


class _Run:
    """One reconcile of one Kustomization, from source to status."""

    def __init__(self, controller: KustomizationController, obj: JSON, spec: KustomizationSpec | None) -> None:
        self.c = controller
        self.obj = obj
        self.spec = spec
        metadata = obj.get("metadata") or {}
        self.name = str(metadata["name"])
        self.namespace = str(metadata.get("namespace") or "")
        self.key: Key = (self.namespace, self.name)
        self.generation = int(metadata.get("generation") or 0)
        self.requested = requested_at(obj)
        self.status: JSON = copy.deepcopy(obj.get("status") or {})
        self.conditions: list[JSON] = list(self.status.get("conditions") or [])
        self.start = time.monotonic()

    # Conditions and writes -----------------------------------------------------------------------------------

    def set(self, type_: str, state: str, reason: str, message: str) -> None:
        self.conditions = status.put(self.conditions, type_, state, reason, message, self.generation)

    def write(self) -> None:
        self.status["conditions"] = self.conditions
        patch = {"status": self.status}
        with contextlib.suppress(NotFound):
            self.c.client.patch(
                self.c.resource, self.name, self.namespace, patch, subresource="status", field_manager=self.c.name
            )

    def settle(self) -> None:
        """Finish the status as Flux does after every reconcile, and write it."""
        self.status["conditions"] = self.conditions
        status.finalize(self.status, self.generation, self.requested)
        self.conditions = self.status["conditions"]
        self.write()

    def event(self, type_: str, message: str, reason: str | None = None) -> None:
        chosen = reason or status.reason_of(self.conditions) or ("error" if type_ == "Warning" else "info")
        self.c.events.record(self.obj, type_, chosen, message)

    # Outcomes ------------------------------------------------------------------------------------------------

    def stall(self, message: str) -> None:
        self.set(status.READY, "False", "InvalidSpec", message)
        self.set(status.STALLED, "True", "InvalidSpec", message)
        self.status["observedGeneration"] = self.generation
        self.event("Warning", message)
        self.settle()
        return None

    def fail(self, reason: str, message: str, delay: float | None = None, event: bool = True) -> float:
        assert self.spec is not None
        self.set(status.READY, "False", reason, message)
        if event:
            self.event("Warning", message)
        self.settle()
        return self.c.timing.delay(delay if delay is not None else self.spec.retry)

    def succeed(self, revision: str, reconcile_start: float) -> float:
        assert self.spec is not None
        self.c.waits.pop(self.key, None)
        self.status["lastAppliedRevision"] = revision
        self.set(status.READY, "True", status.RECONCILIATION_SUCCEEDED, status.applied(revision))
        self.settle()
        self.event("Normal", status.finished(time.monotonic() - reconcile_start, self.spec.interval))
        self.c.dependency_ready(self.key)
        return self.c.timing.delay(self.spec.interval)

    # The reconcile -------------------------------------------------------------------------------------------

    def execute(self) -> float | None:
        assert self.spec is not None
        try:
            source = self.c.source_of(self.spec.source)
        except FluxError as err:
            return self.fail(status.ARTIFACT_FAILED, str(err))
        if source is None:
            message = f'gitrepositories.source.toolkit.fluxcd.io "{self.spec.source.name}" not found'
            return self.fail(status.ARTIFACT_FAILED, message, event=False)
        artifact = Artifact.from_status((source.get("status") or {}).get("artifact"))
        if artifact is None:
            message = status.artifact_not_found(status.DEPENDENCY_REQUEUE)
            return self.fail(status.ARTIFACT_FAILED, message, status.DEPENDENCY_REQUEUE, event=False)
        not_ready = self.dependencies(artifact.revision)
        if not_ready is not None:
            self.set(status.READY, "False", status.DEPENDENCY_NOT_READY, not_ready)
            self.event("Normal", status.dependencies_not_ready(status.DEPENDENCY_REQUEUE))
            self.settle()
            return self.c.timing.delay(status.DEPENDENCY_REQUEUE)
        wait = self.c.waits.get(self.key)
        if wait is not None and wait.still_valid(self.generation, artifact.revision, self.requested):
            return self.check_health(wait)
        self.c.waits.pop(self.key, None)
        return self.reconcile(artifact)

    def dependencies(self, revision: str) -> str | None:
        """Why a dependency is not ready yet (Flux's messages), or None when all are."""
        assert self.spec is not None
        resource = self.c.resource
        for dependency in self.spec.depends_on:
            found = self.c.client.get(resource, dependency.name, dependency.namespace)
            if found is None:
                return (
                    f"dependency '{dependency}' not found: "
                    f'kustomizations.kustomize.toolkit.fluxcd.io "{dependency.name}" not found'
                )
            found_status = found.get("status") or {}
            conditions = list(found_status.get("conditions") or [])
            current = (found.get("metadata") or {}).get("generation") == found_status.get("observedGeneration")
            if not conditions or not current or status.status_of(conditions) != "True":
                return f"dependency '{dependency}' is not ready"
            if self._same_source(found) and found_status.get("lastAppliedRevision") != revision:
                return f"dependency '{dependency}' revision is not up to date"
        return None

    def _same_source(self, other: JSON) -> bool:
        assert self.spec is not None
        ref = (other.get("spec") or {}).get("sourceRef") or {}
        namespace = ref.get("namespace") or (other.get("metadata") or {}).get("namespace")
        mine = self.spec.source
        return (ref.get("kind"), ref.get("name"), namespace) == (mine.kind, mine.name, mine.namespace)

    def reconcile(self, artifact: Artifact) -> float | None:
        assert self.spec is not None
        revision = artifact.revision
        self.set(status.READY, "Unknown", status.PROGRESSING, "Reconciliation in progress")
        self.set(status.RECONCILING, "True", status.PROGRESSING, status.fetching(revision, self.spec.timeout))
        self.write()
        old = inventory.read(self.status.get("inventory"))
        self.c.workdir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="kustomization-", dir=self.c.workdir) as tmp:
            try:
                objects = self.build(artifact, Path(tmp))
            except _Stop as stop:
                return stop.delay
        return self.apply(objects, old, revision)

    def build(self, artifact: Artifact, root: Path) -> list[JSON]:
        assert self.spec is not None
        if not self.c.storage.exists(artifact):
            message = status.artifact_missing(status.DEPENDENCY_REQUEUE)
            raise _Stop(self.fail(status.ARTIFACT_FAILED, message, status.DEPENDENCY_REQUEUE, event=False))
        try:
            self.c.storage.extract(artifact, root)
        except FluxError as err:
            raise _Stop(self.fail(status.ARTIFACT_FAILED, str(err))) from None
        try:
            objects = generate.build(root, self.spec)
        except PathNotFound as err:
            raise _Stop(self.fail(status.ARTIFACT_FAILED, str(err))) from None
        except BuildError as err:
            self.status["lastAttemptedRevision"] = artifact.revision
            raise _Stop(self.fail(status.BUILD_FAILED, f"kustomize build failed: {err}")) from None
        self.status["lastAttemptedRevision"] = artifact.revision
        return objects

    def apply(self, objects: list[JSON], old: list[ObjectRef], revision: str) -> float | None:
        assert self.spec is not None
        prepared = prepare(objects, self.name, self.namespace, self.spec.common_metadata)
        try:
            changes = Applier(self.c.client, self.spec.force).apply_staged(prepared)
        except FluxError as err:
            return self.fail(err.reason or status.RECONCILIATION_FAILED, str(err))
        changed = "\n".join(str(change) for change in changes if change.changed)
        if changed:
            self.event("Normal", changed)
        applied = [change.ref for change in changes]
        self.status["inventory"] = inventory.write(applied)
        if self.spec.prune:
            delay = self.prune(inventory.stale(old, applied), applied)
            if delay is not None:
                return delay
        if not self.spec.wait and not self.spec.health_checks:
            self.conditions = status.drop(self.conditions, status.HEALTHY)
            return self.succeed(revision, self.start)
        return self.start_health(changes, revision, bool(changed))

    def prune(self, stale: list[ObjectRef], applied: list[ObjectRef]) -> float | None:
        if not stale:
            return None
        result = prune.delete_all(self.c.client, stale, self.name, self.namespace)
        if result.error:
            self.status["inventory"] = inventory.write(inventory.merge(applied, result.survivors))
            return self.fail(status.PRUNE_FAILED, result.error)
        if result.changes:
            self.event("Normal", result.message())
        return None

    # Health --------------------------------------------------------------------------------------------------

    def start_health(self, changes: list[Change], revision: str, drifted: bool) -> float:
        assert self.spec is not None
        if self.spec.wait:
            refs = [change.ref for change in changes if change.action != SKIPPED]
        else:
            refs = list(self.spec.health_checks)
        refs = health.without_self(refs, self.name, self.namespace)
        if not refs:
            self.conditions = status.drop(self.conditions, status.HEALTHY)
            return self.succeed(revision, self.start)
        was_healthy = status.status_of(self.conditions, status.HEALTHY) == "True"
        new_revision = self.status.get("lastAppliedRevision") != revision
        message = status.running_health_checks(revision, self.spec.timeout)
        self.set(status.RECONCILING, "True", status.PROGRESSING, message)
        self.set(status.HEALTHY, "Unknown", status.PROGRESSING, message)
        self.write()
        now = time.monotonic()
        wait = HealthWait(
            self.generation, revision, self.requested, refs, self.start, now,
            now + self.c.timing.delay(self.spec.timeout), was_healthy, new_revision and drifted,
        )  # fmt: skip
        self.c.waits[self.key] = wait
        return self.check_health(wait)

    def check_health(self, wait: HealthWait) -> float:
        assert self.spec is not None
        results = {ref: health.object_status(self._live(ref)) for ref in wait.refs}
        elapsed = time.monotonic() - wait.started
        if health.all_current(results):
            message = status.health_passed(elapsed)
            self.set(status.HEALTHY, "True", status.SUCCEEDED, message)
            if not wait.was_healthy or wait.announce:
                self.event("Normal", message)
            return self.succeed(wait.revision, wait.reconcile_start)
        if time.monotonic() < wait.deadline:
            return self.c.timing.delay(HEALTH_POLL)
        self.c.waits.pop(self.key, None)
        detail = health.not_ready(results)
        self.set(status.HEALTHY, "False", status.HEALTH_CHECK_FAILED, detail)
        return self.fail(status.HEALTH_CHECK_FAILED, status.health_failed(elapsed, detail))

    def _live(self, ref: ObjectRef) -> JSON | None:
        try:
            resource = self.c.client.resolve(ref.kind, ref.api_version or None)
        except ClusterError:
            return None
        return self.c.client.get(resource, ref.name, ref.namespace if resource.namespaced else None)


class _Stop(Exception):
    """A reconcile step failed and already wrote its status; `delay` is when to try again."""

    def __init__(self, delay: float | None) -> None:
        super().__init__("reconcile stopped")
        self.delay = delay
