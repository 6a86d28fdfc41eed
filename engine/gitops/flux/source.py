"""The embedded source-controller: GitRepository objects fetched into artifacts.

Each reconcile fetches the repository with the credentials of `spec.secretRef` (username/password), resolves the
ref, and when the revision is new stores the tree as an artifact and records it in `status.artifact`. Conditions
follow Flux: Ready and ArtifactInStorage (`stored artifact for revision '<rev>'`), Reconciling while it works,
ArtifactOutdated when a new revision is being stored, FetchFailed (GitOperationFailed, AuthenticationFailed)
while fetching fails, Stalled for a URL it can never use. A push to the lab's Git server queues the repositories
that follow the pushed ref; a new artifact queues the Kustomizations that use it at once.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import logging
import shutil
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from ... import proc
from ...cluster.client import JSON, KubeClient
from ...cluster.errors import ClusterError, NotFound
from ..controller import Controller, Key, Timing, key_of, parse_duration
from ..events import EventRecorder
from ..fetch import Credentials, FetchError, fetch
from . import status
from .errors import FluxError
from .predicates import ChangeFilter, requested_at
from .refs import GitRef, check_url, is_pushed_repository
from .storage import Artifact, Storage

log = logging.getLogger(__name__)

KIND = "GitRepository"
API_VERSION = "source.toolkit.fluxcd.io/v1"
DEFAULT_TIMEOUT = 60.0
MAX_BACKOFF_STEPS = 10


class GitRepositoryController(Controller):
    api_version = API_VERSION
    kind = KIND
    name = "source-controller"

    def __init__(
        self,
        client: KubeClient,
        timing: Timing,
        cache: Path,
        storage: Storage,
        git_servers: Collection[str] = (),
    ) -> None:
        super().__init__(client, timing)
        self.cache = Path(cache)
        self.storage = storage
        self.git_servers = tuple(git_servers)
        self.events = EventRecorder(client, self.name)
        self.filter = ChangeFilter()
        self._listeners: list[Callable[[Key], None]] = []
        self._revisions: dict[Key, str] = {}
        self._failures: dict[Key, int] = {}

    # Queueing ------------------------------------------------------------------------------------------------

    def on_new_artifact(self, listener: Callable[[Key], None]) -> None:
        """Call `listener(key)` whenever a GitRepository's artifact revision changes (from the informer thread)."""
        self._listeners.append(listener)

    def on_change(self, event: str, obj: JSON) -> None:
        key = key_of(obj)
        self._notify_revision(event, key, obj)
        if self.filter.wants(event, obj):
            self.enqueue(key)

    def _notify_revision(self, event: str, key: Key, obj: JSON) -> None:
        if event == "DELETED":
            self._revisions.pop(key, None)
            return
        artifact = Artifact.from_status((obj.get("status") or {}).get("artifact"))
        revision = artifact.revision if artifact else ""
        if revision and self._revisions.get(key) != revision:
            self._revisions[key] = revision
            for listener in self._listeners:
                listener(key)

    def keys_for_push(self, repo: str, ref: str) -> Iterable[Key]:
        for obj in self.objects():
            spec = obj.get("spec") or {}
            if spec.get("suspend") is True or not isinstance(spec.get("url"), str):
                continue
            if not is_pushed_repository(spec["url"], repo, self.git_servers):
                continue
            try:
                follows = GitRef.parse(spec.get("ref")).follows(ref)
            except FluxError:
                continue
            if follows:
                yield key_of(obj)

    # Reconcile -----------------------------------------------------------------------------------------------

    def reconcile(self, key: Key) -> float | None:
        """One look at a GitRepository; while the cluster API fails, try again with the back-off."""
        try:
            return self._reconcile(key)
        except ClusterError as err:
            log.info("source-controller: GitRepository %s/%s: %s", *key, err)
            return self.backoff(key, DEFAULT_TIMEOUT)

    def _reconcile(self, key: Key) -> float | None:
        namespace, name = key
        obj = self.client.get(self.resource, name, namespace)
        if obj is None:
            self._failures.pop(key, None)
            return None
        metadata = obj.get("metadata") or {}
        if metadata.get("deletionTimestamp"):
            return self._delete(obj, key)
        if status.FINALIZER not in (metadata.get("finalizers") or []):
            obj = self._add_finalizer(obj)
        if (obj.get("spec") or {}).get("suspend") is True:
            return None
        return _Run(self, obj).execute()

    def _add_finalizer(self, obj: JSON) -> JSON:
        metadata = obj.get("metadata") or {}
        finalizers = [*(metadata.get("finalizers") or []), status.FINALIZER]
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": metadata.get("resourceVersion")}}
        return self.client.patch(self.resource, metadata["name"], metadata.get("namespace"), patch)

    def _delete(self, obj: JSON, key: Key) -> None:
        """Garbage-collect the artifacts and the mirror, then let the object go."""
        namespace, name = key
        self.storage.remove_all(KIND, namespace, name)
        shutil.rmtree(self.mirror(key), ignore_errors=True)
        self._failures.pop(key, None)
        metadata = obj.get("metadata") or {}
        finalizers = [f for f in metadata.get("finalizers") or [] if f != status.FINALIZER]
        if finalizers != list(metadata.get("finalizers") or []):
            with contextlib.suppress(NotFound):
                self.client.patch(self.resource, name, namespace, {"metadata": {"finalizers": finalizers}})
        return None

    def mirror(self, key: Key) -> Path:
        return self.cache / "git" / key[0] / key[1]

    def backoff(self, key: Key, interval: float) -> float:
        """The retry delay after a failure: 1s doubling per failure in a row, never beyond the interval."""
        failures = min(self._failures.get(key, 0), MAX_BACKOFF_STEPS)
        self._failures[key] = failures + 1
        return self.timing.delay(min(2.0**failures, interval))

    def succeeded(self, key: Key) -> None:
        self._failures.pop(key, None)


class _Run:
    """One reconcile of one GitRepository: fetch, store, and write the status."""

    def __init__(self, controller: GitRepositoryController, obj: JSON) -> None:
        self.c = controller
        self.obj = obj
        metadata = obj.get("metadata") or {}
        self.key: Key = (str(metadata.get("namespace") or ""), str(metadata["name"]))
        self.generation = int(metadata.get("generation") or 0)
        self.spec: JSON = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        self.original: JSON = copy.deepcopy(obj.get("status") or {})
        self.status: JSON = dict(obj.get("status") or {})
        self.conditions: list[JSON] = list(self.status.get("conditions") or [])
        self.old_artifact = Artifact.from_status(self.status.get("artifact"))
        self.failed_before = self._has(status.FETCH_FAILED) or self._has(status.STALLED)

    def _has(self, type_: str) -> bool:
        return status.status_of(self.conditions, type_) == "True"

    def set(self, type_: str, state: str, reason: str, message: str) -> None:
        self.conditions = status.put(self.conditions, type_, state, reason, message, self.generation)

    def drop(self, type_: str) -> None:
        self.conditions = status.drop(self.conditions, type_)

    def execute(self) -> float | None:
        interval = self._interval()
        if interval is None:
            return None
        try:
            url = check_url(self.spec.get("url"))
            ref = GitRef.parse(self.spec.get("ref"))
        except FluxError as err:
            return self._stalled(err)
        self._progress_on_new_generation()
        try:
            sha, revision = self._fetch(url, ref)
            self._store(sha, revision)
        except FluxError as err:
            return self._failed(err, interval)
        self._succeeded()
        return self.c.timing.delay(interval)

    def _interval(self) -> float | None:
        try:
            return parse_duration(self.spec.get("interval"))
        except ValueError as err:
            self._stalled(FluxError(f"spec.interval: {err}", "InvalidSpec"))
            return None

    def _progress_on_new_generation(self) -> None:
        observed = self.status.get("observedGeneration")
        if observed != self.generation:
            before = observed if observed is not None else -1
            self._progressing(f"processing object: new generation {before} -> {self.generation}")
            self._write()

    def _progressing(self, message: str) -> None:
        self.set(status.RECONCILING, "True", status.PROGRESSING, message)
        self.set(status.READY, "Unknown", status.PROGRESSING, message)

    def _fetch(self, url: str, ref: GitRef) -> tuple[str, str]:
        credentials = self._credentials()
        timeout = self._timeout()
        try:
            sha = fetch(url, ref.fetch_ref(), self.c.mirror(self.key), credentials, timeout)
        except FetchError as err:
            raise FluxError(
                f"failed to checkout and determine revision: unable to clone '{url}': {_detail(err, ref)}",
                status.GIT_OPERATION_FAILED,
            ) from None
        self.drop(status.FETCH_FAILED)
        return sha, ref.revision(sha)

    def _timeout(self) -> float:
        try:
            return parse_duration(self.spec.get("timeout"), DEFAULT_TIMEOUT)
        except ValueError:
            return DEFAULT_TIMEOUT

    def _credentials(self) -> Credentials | None:
        secret_ref = self.spec.get("secretRef")
        if not isinstance(secret_ref, dict) or not secret_ref.get("name"):
            return None
        namespace, secret_name = self.key[0], str(secret_ref["name"])
        where = f"failed to get secret '{namespace}/{secret_name}'"
        try:
            secret = self.c.client.get(self.c.client.resolve("Secret", "v1"), secret_name, namespace)
        except ClusterError as err:
            raise FluxError(f"{where}: {where}: {err}", status.AUTHENTICATION_FAILED) from None
        if secret is None:
            raise FluxError(f'{where}: {where}: secrets "{secret_name}" not found', status.AUTHENTICATION_FAILED)
        return basic_auth(secret)

    def _store(self, sha: str, revision: str) -> None:
        if (
            self.old_artifact is not None
            and self.old_artifact.revision == revision
            and self.c.storage.exists(self.old_artifact)
        ):
            return
        message = status.new_upstream(revision)
        if self.old_artifact is not None:
            self.set(status.ARTIFACT_OUTDATED, "True", status.NEW_REVISION, message)
        self._progressing(f"building artifact: {message}")
        self._write()
        namespace, name = self.key
        artifact = self.c.storage.archive(KIND, namespace, name, revision, self.c.mirror(self.key), sha)
        self.c.storage.collect(artifact)
        self.status["artifact"] = artifact.to_status()
        self.drop(status.ARTIFACT_OUTDATED)
        subject = _subject(self.c.mirror(self.key), sha)
        self.c.events.normal(self.obj, status.NEW_ARTIFACT, status.stored_commit(subject))

    def _succeeded(self) -> None:
        artifact = Artifact.from_status(self.status.get("artifact"))
        message = status.stored_revision(artifact.revision if artifact else "")
        for type_ in (status.FETCH_FAILED, status.STALLED, status.RECONCILING, status.ARTIFACT_OUTDATED):
            self.drop(type_)
        self.set(status.ARTIFACT_IN_STORAGE, "True", status.SUCCEEDED, message)
        self.set(status.READY, "True", status.SUCCEEDED, message)
        if self.failed_before and artifact is not None and self.old_artifact == artifact:
            self.c.events.normal(self.obj, status.SUCCEEDED, message)
        self.c.succeeded(self.key)
        self._write()

    def _failed(self, err: FluxError, interval: float) -> float:
        reason = err.reason or status.GIT_OPERATION_FAILED
        self.set(status.FETCH_FAILED, "True", reason, str(err))
        self.set(status.READY, "False", reason, str(err))
        self.set(status.RECONCILING, "True", status.PROGRESSING_WITH_RETRY, str(err))
        self.c.events.warning(self.obj, reason, str(err))
        self._write()
        return self.c.backoff(self.key, interval)

    def _stalled(self, err: FluxError) -> None:
        reason = err.reason or "InvalidSpec"
        self.drop(status.RECONCILING)
        self.set(status.FETCH_FAILED, "True", reason, str(err))
        self.set(status.STALLED, "True", reason, str(err))
        self.set(status.READY, "False", reason, str(err))
        self.status["observedGeneration"] = self.generation
        self.c.events.warning(self.obj, reason, str(err))
        self._write()
        return None

    def _write(self) -> None:
        self.status["conditions"] = self.conditions
        handled = requested_at(self.obj)
        if handled is not None:
            self.status["lastHandledReconcileAt"] = handled
        if status.status_of(self.conditions) == "True":
            self.status["observedGeneration"] = self.generation
        if self.status == self.original:
            return
        self.original = copy.deepcopy(self.status)
        metadata = self.obj.get("metadata") or {}
        with contextlib.suppress(NotFound):
            self.c.client.patch(
                self.c.resource,
                metadata["name"],
                metadata.get("namespace"),
                {"status": self.status},
                subresource="status",
                field_manager=self.c.name,
            )


def basic_auth(secret: JSON) -> Credentials | None:
    data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
    values = {}
    for key in ("username", "password"):
        raw = data.get(key)
        try:
            values[key] = base64.b64decode(raw).decode() if isinstance(raw, str) else ""
        except (ValueError, UnicodeDecodeError):
            values[key] = ""
    if not values["username"] and not values["password"]:
        return None
    return Credentials(values["username"], values["password"])


def _detail(err: FetchError, ref: GitRef) -> str:
    if err.auth:
        return "authentication required"
    text = str(err)
    remote = ref.remote_ref()
    if text.startswith("unable to resolve") and remote is not None:
        return f'couldn\'t find remote ref "{remote}"'
    return text


def _subject(mirror: Path, sha: str) -> str:
    result = proc.run(["git", "-C", str(mirror), "log", "-1", "--format=%s", sha], timeout=10)
    return result.stdout.strip() if result.ok else sha
