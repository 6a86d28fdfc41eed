"""Live sources for the lab panel: the cluster's objects (watched), Git history and pipeline runs (re-read).

Each feed runs on its own daemon thread and hands plain values (rows, histories, runs, log lines) to callbacks
on that thread, only when they changed; whoever shows them moves them to their own thread. `stop()` ends the
thread. Nothing here raises on a failed read: the cluster feed reports the connection state instead, and the
Git and pipeline feeds report their problem in what they hand over.

The cluster feeds watch (no polling): every event is followed, after a short quiet spell, by one fresh list of
each kind, rendered by `resources_view`: the resources tree (namespaces, workloads, pods) by `resource_tree`,
the GitOps agents' sources and syncs (GitRepositories, Kustomizations, Applications) by `agent_rows`. Between
events the tree is re-rendered from the last lists now and then, only so that ages stay current.

The Git repos and the pipeline store belong to the lab's daemon, another process whose changes reach no
watch, so those two feeds re-read them on a short interval (reading a few refs, or one indexed SQLite query,
is cheap).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Self

from ..checks.context import CheckContext
from ..checks.reader import JSON, ApiResource, Read, Reader, ReadError, UnknownKind
from ..checks.watcher import WatchLoop
from .resources_view import AgentRow, CommitRow, RepoHistory, ResourceRow, agent_rows, resource_tree

if TYPE_CHECKING:
    from ..pipeline import LogLine, PipelineStore, Run

log = logging.getLogger(__name__)

KINDS = (
    ("namespaces", "v1"),
    ("deployments", "apps/v1"),
    ("statefulsets", "apps/v1"),
    ("daemonsets", "apps/v1"),
    ("jobs", "batch/v1"),
    ("replicasets", "apps/v1"),
    ("pods", "v1"),
)
WORKLOAD_PLURALS = ("deployments", "statefulsets", "daemonsets", "jobs")
CRDS = ("customresourcedefinitions", "apiextensions.k8s.io/v1")
DEBOUNCE = 0.15
AGE_INTERVAL = 5.0
RETRY_INTERVAL = 1.0
GIT_INTERVAL = 2.0
PIPELINE_INTERVAL = 0.5
COMMITS = 10
RUNS = 20

Clock = Callable[[], float]


class _WatchedFeed:
    """What the cluster feeds share: one WatchLoop per kind, and after each burst of events (once `debounce`
    seconds passed) one fresh list of every kind, handed to `_render`; between events `_render` runs every
    `age_interval` seconds. Kinds are resolved once the API answers; `_resolve` says which to watch."""

    thread_name = "watched-feed"

    def __init__(
        self,
        reader: Reader,
        on_connection: Callable[[bool, str], None],
        *,
        clock: Clock,
        debounce: float,
        age_interval: float,
    ) -> None:
        self.reader = reader
        self.on_connection = on_connection
        self.clock = clock
        self.debounce = debounce
        self.age_interval = age_interval
        self._dirty = threading.Event()
        self._stopped = threading.Event()
        self._loops: dict[str, WatchLoop] = {}
        self._resources: list[ApiResource] = []
        self._objects: dict[str, list[JSON]] | None = None
        self._connected: bool | None = None
        self._context = CheckContext(reader=reader)
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._dirty.set()
        loops = list(self._loops.values())
        for loop in loops:
            loop.stop()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for loop in loops:
            loop.join()

    def trigger(self) -> None:
        """Read everything again soon (watch events call this)."""
        self._dirty.set()

    def _run(self) -> None:
        self._dirty.set()
        while not self._stopped.is_set():
            if self._dirty.wait(self.age_interval) and not self._stopped.is_set():
                self._stopped.wait(self.debounce)
                self._dirty.clear()
                if self._watch():
                    self._fetch()
            self._render()

    def _watch(self) -> bool:
        """Watch every kind `_resolve` names (once); False while the API cannot be reached (retried later)."""
        try:
            resources = self._resolve()
        except ReadError as err:
            self._tell(False, str(err))
            self._stopped.wait(RETRY_INTERVAL)
            self._dirty.set()
            return False
        for resource in resources:
            key = f"{resource.group}/{resource.plural}"
            if key not in self._loops and not self._stopped.is_set():
                trigger = self._trigger_for(resource)
                loop = WatchLoop(Read(resource, None), self._context, trigger, quiet_first_list=False)
                self._loops[key] = loop
                loop.start()
        self._resources = [resource for resource in resources if resource.plural in self._plurals()]
        return True

    def _resolve(self) -> list[ApiResource]:
        """The kinds to watch; ReadError while the API cannot say."""
        raise NotImplementedError

    def _plurals(self) -> set[str]:
        """Which of the watched kinds are listed and rendered (others only trigger)."""
        raise NotImplementedError

    def _trigger_for(self, resource: ApiResource) -> Callable[[], None]:
        """What a watch of `resource` calls on each event."""
        return self.trigger

    def _fetch(self) -> None:
        try:
            self._objects = {resource.plural: self.reader.fetch(Read(resource, None)) for resource in self._resources}
        except ReadError as err:
            self._tell(False, str(err))
            return
        self._tell(True, "")

    def _render(self) -> None:
        raise NotImplementedError

    def _tell(self, connected: bool, message: str) -> None:
        if connected != self._connected:
            self._connected = connected
            _call(self.on_connection, connected, message)


class ResourceFeed(_WatchedFeed):
    """The resources tree of a cluster, kept current by watches; `on_rows` gets each new tree and
    `on_connection(connected, message)` each change of reachability (the reader reconnects by itself)."""

    thread_name = "resource-feed"

    def __init__(
        self,
        reader: Reader,
        on_rows: Callable[[list[ResourceRow]], None],
        on_connection: Callable[[bool, str], None],
        *,
        clock: Clock = time.time,
        debounce: float = DEBOUNCE,
        age_interval: float = AGE_INTERVAL,
    ) -> None:
        super().__init__(reader, on_connection, clock=clock, debounce=debounce, age_interval=age_interval)
        self.on_rows = on_rows
        self._rows: list[ResourceRow] | None = None

    def _resolve(self) -> list[ApiResource]:
        return [self.reader.resolve(kind, api_version) for kind, api_version in KINDS]

    def _plurals(self) -> set[str]:
        return {kind for kind, _ in KINDS}

    def _render(self) -> None:
        if self._objects is None or self._stopped.is_set():
            return
        objects = self._objects
        workloads = [item for plural in WORKLOAD_PLURALS for item in objects[plural]]
        rows = resource_tree(objects["namespaces"], workloads, objects["replicasets"], objects["pods"], self.clock())
        if rows != self._rows:
            self._rows = rows
            _call(self.on_rows, rows)


class GitOpsFeed(_WatchedFeed):
    """The GitOps agents' sources and syncs (GitRepositories, Kustomizations, Applications), kept current by
    watches on them; `on_rows` gets each new list and `on_connection` each change of reachability.

    Kinds the cluster does not serve (an agent the lab does not run, or CRDs not installed yet) are left out;
    while some are missing, CustomResourceDefinitions are watched too, so a kind installed later is picked up."""

    thread_name = "gitops-feed"

    def __init__(
        self,
        reader: Reader,
        on_rows: Callable[[list[AgentRow]], None],
        on_connection: Callable[[bool, str], None],
        *,
        debounce: float = DEBOUNCE,
    ) -> None:
        super().__init__(reader, on_connection, clock=time.time, debounce=debounce, age_interval=AGE_INTERVAL)
        self.on_rows = on_rows
        self._rows: list[AgentRow] | None = None
        self._found: dict[str, ApiResource] = {}
        self._look_again = True

    def _resolve(self) -> list[ApiResource]:
        """The agents' kinds found so far; missing ones are looked for again only after a CRD changed."""
        from ..gitops.status import API_VERSIONS

        if self._look_again:
            for kind, api_version in API_VERSIONS.items():
                if kind not in self._found:
                    with contextlib.suppress(UnknownKind):
                        self._found[kind] = self.reader.resolve(kind, api_version)
            self._look_again = False
        found = list(self._found.values())
        if len(found) < len(API_VERSIONS):
            found.append(self.reader.resolve(*CRDS))
        return found

    def _trigger_for(self, resource: ApiResource) -> Callable[[], None]:
        if resource.plural != CRDS[0]:
            return self.trigger

        def crds_changed() -> None:
            self._look_again = True
            self.trigger()

        return crds_changed

    def _plurals(self) -> set[str]:
        return {"gitrepositories", "kustomizations", "applications"}

    def _render(self) -> None:
        if self._objects is None or self._stopped.is_set():
            return
        rows = agent_rows(item for items in self._objects.values() for item in items)
        if rows != self._rows:
            self._rows = rows
            _call(self.on_rows, rows)


class _Poller:
    """A daemon thread that calls `poll()` every `interval` seconds until stopped."""

    name = "poller"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> _Poller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.close()

    def wake(self) -> None:
        """Poll again now rather than at the next interval."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self.poll()
            except Exception:
                log.exception("%s failed", self.name)
            self._wake.wait(self.interval)
            self._wake.clear()

    def poll(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the poller holds open (after its thread ended)."""


def repo_history(repos_dir: Path, name: str, branch: str, limit: int = COMMITS) -> RepoHistory:
    """The newest `limit` commits of `branch` in the lab's bare repository `name`, or why there are none."""
    from ..gitserver.repos import find_repo

    path = find_repo(repos_dir, name)
    if path is None:
        return RepoHistory(name, branch, problem="not created yet: the lab's Git server creates it at lab up")
    import git

    try:
        with git.Repo(path) as repo:
            commits = tuple(
                CommitRow(commit.hexsha, str(commit.summary), str(commit.author.name or ""), commit.committed_date)
                for commit in repo.iter_commits(branch, max_count=limit)
            )
    except (git.GitError, ValueError, OSError) as err:
        message = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        return RepoHistory(name, branch, problem=f"cannot read branch {branch!r}: {message}")
    return RepoHistory(name, branch, commits)


class GitFeed(_Poller):
    """Recent commits of each of the lab's repos; `on_history` gets the list whenever a branch moved."""

    name = "git-feed"

    def __init__(
        self,
        repos_dir: Path,
        repos: Sequence[tuple[str, str]],
        on_history: Callable[[list[RepoHistory]], None],
        *,
        interval: float = GIT_INTERVAL,
    ) -> None:
        super().__init__(interval)
        self.repos_dir = repos_dir
        self.repos = list(repos)
        self.on_history = on_history
        self._last: list[RepoHistory] | None = None

    def poll(self) -> None:
        history = [repo_history(self.repos_dir, name, branch) for name, branch in self.repos]
        if history != self._last:
            self._last = history
            _call(self.on_history, history)


class PipelineFeed(_Poller):
    """The newest runs of a lab's pipelines and the log of one run as it is written.

    `on_runs` gets the runs (newest first) when any changed; `on_log(run_id, lines, fresh)` gets the selected
    run's new log lines (`fresh`: the log of a newly selected run, from its start). Without a selection the
    newest run is followed."""

    name = "pipeline-feed"

    def __init__(
        self,
        store_path: Path,
        on_runs: Callable[[list[Run]], None],
        on_log: Callable[[int, list[LogLine], bool], None],
        *,
        interval: float = PIPELINE_INTERVAL,
    ) -> None:
        super().__init__(interval)
        self.store_path = store_path
        self.on_runs = on_runs
        self.on_log = on_log
        self._store: PipelineStore | None = None
        self._runs: list[Run] | None = None
        self._chosen: int | None = None
        self._following: int | None = None
        self._after = 0
        self._lock = threading.Lock()

    def select(self, run_id: int | None) -> None:
        """Follow this run's log (None: the newest run's)."""
        with self._lock:
            self._chosen = run_id
        self.wake()

    def poll(self) -> None:
        store = self._open()
        if store is None:
            return
        from ..pipeline import PipelineError

        try:
            runs = store.runs(limit=RUNS)
            if runs != self._runs:
                self._runs = runs
                _call(self.on_runs, runs)
            self._follow(store, runs)
        except PipelineError as err:
            log.warning("reading pipeline runs failed: %s", err)

    def _follow(self, store: PipelineStore, runs: list[Run]) -> None:
        with self._lock:
            wanted = self._chosen if self._chosen is not None else (runs[0].id if runs else None)
        if wanted is None:
            return
        fresh = wanted != self._following
        if fresh:
            self._following, self._after = wanted, 0
        lines = store.lines(wanted, after=self._after)
        if lines:
            self._after = lines[-1].id
        if lines or fresh:
            _call(self.on_log, wanted, lines, fresh)

    def _open(self) -> PipelineStore | None:
        if self._store is None and self.store_path.exists():
            from ..pipeline import PipelineError, PipelineStore

            with contextlib.suppress(PipelineError, OSError):
                self._store = PipelineStore(self.store_path, create=False)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _call(callback: Callable[..., None], *args: object) -> None:
    """A callback that fails must not end the feed."""
    try:
        callback(*args)
    except Exception:
        log.exception("a lab feed callback failed")
