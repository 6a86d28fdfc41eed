"""The machinery every embedded agent controller runs on: an informer, a work queue and a reconcile loop.

Like a controller built with controller-runtime: an informer lists and then watches one custom resource,
keeps the objects in a cache and queues the key of every object that changed; a worker takes keys off the
queue one at a time and calls `reconcile`, which returns when to look at the object again (its interval, a
retry) or None. A key is never reconciled by two workers at once, and a key queued while it is being
reconciled runs again afterwards. Other controllers (a source that fetched a new revision) and the lab (a
push) queue keys with `enqueue`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .. import durations
from ..cluster.api import ApiResource
from ..cluster.client import JSON, KubeClient, WatchStream
from ..cluster.errors import ClusterError, Expired

log = logging.getLogger(__name__)

RETRY_WATCH = 1.0
MIN_INTERVAL = 0.5

Key = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class Timing:
    """How agent intervals relate to real time: `scale` 1 is real time, tests and course tests shrink it.

    Every interval an agent waits (a Kustomization's `interval`, a retry, a dependency re-check, Argo CD's
    poll and self-heal back-off) goes through `delay`, which never goes below `MIN_INTERVAL` so a scale of 0
    still leaves a visible order of events.
    """

    scale: float = 1.0

    def delay(self, seconds: float) -> float:
        return max(seconds * self.scale, MIN_INTERVAL) if seconds > 0 else 0.0


def parse_duration(text: object, default: float | None = None) -> float:
    """Seconds in a Go duration (`1m30s`, `500ms`, `5m`); `default` when absent, ValueError when malformed."""
    if text is None or text == "":
        if default is None:
            raise ValueError("a duration is required")
        return default
    value = str(text).strip()
    if value == "0":
        return 0.0
    found = durations.seconds(value, durations.UNIT_SECONDS)
    if found is None:
        raise ValueError(f"invalid duration {value!r}: use Go's form, such as 30s, 1m or 1h30m")
    return found


class WorkQueue:
    """Keys to reconcile, deduplicated, with delayed adds; a key being processed is never handed out twice."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ready: list[Key] = []
        self._queued: set[Key] = set()
        self._busy: set[Key] = set()
        self._again: set[Key] = set()
        self._timers: list[tuple[float, int, Key]] = []
        self._due: dict[Key, float] = {}
        self._counter = itertools.count()
        self._closed = False

    def add(self, key: Key) -> None:
        with self._cond:
            self._add(key)

    def add_after(self, key: Key, seconds: float) -> None:
        """Queue `key` in `seconds`, unless it is already due sooner."""
        if seconds <= 0:
            self.add(key)
            return
        with self._cond:
            due = time.monotonic() + seconds
            if self._due.get(key, float("inf")) <= due:
                return
            self._due[key] = due
            heapq.heappush(self._timers, (due, next(self._counter), key))
            self._cond.notify_all()

    def _add(self, key: Key) -> None:
        if key in self._busy:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._ready.append(key)
        self._cond.notify_all()

    def get(self) -> Key | None:
        """The next key to reconcile (blocking); None once the queue is closed."""
        with self._cond:
            while not self._closed:
                self._move_due_timers()
                if self._ready:
                    key = self._ready.pop(0)
                    self._queued.discard(key)
                    self._busy.add(key)
                    return key
                timeout = self._timers[0][0] - time.monotonic() if self._timers else None
                self._cond.wait(timeout=max(timeout, 0.0) if timeout is not None else None)
            return None

    def done(self, key: Key) -> None:
        with self._cond:
            self._busy.discard(key)
            if key in self._again:
                self._again.discard(key)
                self._add(key)

    def _move_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            due, _, key = heapq.heappop(self._timers)
            if self._due.get(key) == due:
                del self._due[key]
                self._add(key)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._ready) + len(self._timers)


class Informer:
    """Lists and watches one resource across namespaces, keeps the objects, and reports every change."""

    def __init__(self, client: KubeClient, resource: ApiResource, on_change: Callable[[str, JSON], None]) -> None:
        self.client = client
        self.resource = resource
        self.on_change = on_change
        self.cache: dict[Key, JSON] = {}
        self.synced = threading.Event()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._stream: WatchStream | None = None
        self._thread = threading.Thread(target=self._run, name=f"informer-{resource.plural}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._stream is not None:
            self._stream.close()
        self._thread.join(timeout=5)

    def get(self, key: Key) -> JSON | None:
        with self._lock:
            return self.cache.get(key)

    def objects(self) -> list[JSON]:
        with self._lock:
            return list(self.cache.values())

    def _run(self) -> None:
        version = ""
        while not self._stopped.is_set():
            try:
                if not version:
                    version = self._relist()
                version = self._follow(version)
            except Expired:
                version = ""
            except ClusterError as err:
                log.info("watch on %s: %s", self.resource.plural, err)
                version = ""
                self._stopped.wait(RETRY_WATCH)

    def _relist(self) -> str:
        items, version = self.client.list(self.resource)
        fresh = {key_of(item): item for item in items}
        with self._lock:
            gone = [obj for key, obj in self.cache.items() if key not in fresh]
            self.cache = fresh
        for obj in gone:
            self.on_change("DELETED", obj)
        for item in items:
            self.on_change("ADDED", item)
        self.synced.set()
        return version

    def _follow(self, version: str) -> str:
        self._stream = self.client.watch(self.resource, None, version)
        try:
            for kind, obj in self._stream:
                if self._stopped.is_set():
                    break
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind == "BOOKMARK":
                    continue
                obj.setdefault("apiVersion", self.resource.api_version)
                obj.setdefault("kind", self.resource.kind)
                with self._lock:
                    if kind == "DELETED":
                        self.cache.pop(key_of(obj), None)
                    else:
                        self.cache[key_of(obj)] = obj
                self.on_change(kind, obj)
        finally:
            self._stream.close()
        return version


def key_of(obj: JSON) -> Key:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


class Controller(ABC):
    """One reconciler over one custom resource. Subclasses name the resource and implement `reconcile`."""

    api_version: str
    kind: str
    name: str  # the controller's name: its field manager and the source of its events

    def __init__(self, client: KubeClient, timing: Timing | None = None) -> None:
        self.client = client
        self.timing = timing or Timing()
        self.queue = WorkQueue()
        self.informer: Informer | None = None
        self._worker: threading.Thread | None = None

    @property
    def resource(self) -> ApiResource:
        return self.client.resolve(self.kind, self.api_version)

    def start(self) -> None:
        self.informer = Informer(self.client, self.resource, self.on_change)
        self.informer.start()
        self._worker = threading.Thread(target=self._work, name=f"controller-{self.name}", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self.queue.close()
        if self.informer is not None:
            self.informer.stop()
        if self._worker is not None:
            self._worker.join(timeout=10)

    def on_change(self, event: str, obj: JSON) -> None:
        """An informer event: queue the object (subclasses may skip changes that only touched status)."""
        self.enqueue(key_of(obj))

    def enqueue(self, key: Key, after: float = 0.0) -> None:
        if after > 0:
            self.queue.add_after(key, after)
        else:
            self.queue.add(key)

    def objects(self) -> list[JSON]:
        return self.informer.objects() if self.informer is not None else []

    def cached(self, key: Key) -> JSON | None:
        return self.informer.get(key) if self.informer is not None else None

    def _work(self) -> None:
        while True:
            key = self.queue.get()
            if key is None:
                return
            try:
                after = self.reconcile(key)
            except Exception:  # a controller bug must not stop the agent; the next event retries
                log.exception("%s: reconciling %s/%s failed", self.name, *key)
                after = self.timing.delay(10.0)
            finally:
                self.queue.done(key)
            if after is not None:
                self.queue.add_after(key, after)

    @abstractmethod
    def reconcile(self, key: Key) -> float | None:
        """Bring the object named by `key` to its desired state; seconds until the next look, or None."""

    def keys_for_push(self, repo: str, ref: str) -> Iterable[Key]:
        """Objects to reconcile now because `ref` of the lab repository `repo` moved (none by default)."""
        return ()


def wait_synced(controllers: Iterable[Controller], timeout: float = 10.0) -> None:
    """Wait until every controller's informer has listed once (tests and the lab start use it)."""
    deadline = time.monotonic() + timeout
    for controller in controllers:
        if controller.informer is not None:
            with contextlib.suppress(Exception):
                controller.informer.synced.wait(max(deadline - time.monotonic(), 0))
