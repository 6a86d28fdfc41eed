"""The embedded API under 50 concurrent clients: mixed reads, writes and watches for a minute.

Clients work without pause (a closed loop: each sends its next request when the last one is answered), spread
over a few namespaces. Each watcher watches one resource of one namespace from a listed resourceVersion, as an
informer does (reconnecting from its last resourceVersion if the stream ends). At the end every write a
watcher should see must have arrived, in resourceVersion order, exactly once, and no later after the write's
answer than a read may take (p99 ≤ 250 ms): a watcher that falls behind shows the learner a stale cluster.
DRIFTLAB_LOAD_CLIENTS and DRIFTLAB_LOAD_SECONDS set the size (50 clients, 60 s).
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.bench.report import Figure, add_results, table
from tests.integration.conftest import Cluster, start_cluster
from tests.kubehttp import KubeHTTP
from tests.unit.test_deployments_support import deployment

from .conftest import percentile, setting

NAMESPACES = 5
SEEDS = 20  # ConfigMaps each namespace starts with: what GET and LIST read
OWN_CONFIGMAPS = 5  # at most this many of a client's own ConfigMaps live at once
READ_TARGET_MS = 250
WRITE_TARGET_MS = 500
WATCH_TARGET_MS = READ_TARGET_MS  # a watch is a read: its events must not lag further behind than a GET's answer
WATCHED = ("configmaps", "deployments")
SETTLE_SECONDS = 30.0  # how long watchers get, after the last write, to deliver it
JSON_TYPE = {"Content-Type": "application/json"}
MERGE = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}

READS = ("GET", "LIST")
OPERATIONS = {  # operation: weight
    "GET": 30,
    "LIST": 15,
    "create ConfigMap": 10,
    "update ConfigMap": 10,
    "patch ConfigMap": 10,
    "delete ConfigMap": 10,
    "create Deployment": 5,
    "patch Deployment": 5,
    "delete Deployment": 5,
}


def _path(resource: str, namespace: str, name: str = "") -> str:
    base = "/api/v1" if resource == "configmaps" else "/apis/apps/v1"
    return f"{base}/namespaces/{namespace}/{resource}" + (f"/{name}" if name else "")


@dataclass(frozen=True)
class Write:
    """A write a watcher of its namespace and resource must see: the event type and the resourceVersion."""

    resource: str
    namespace: str
    name: str
    event: str
    rv: int
    answered: float


@dataclass(frozen=True)
class Seen:
    event: str
    name: str
    rv: int
    at: float


@dataclass
class Client:
    """One client doing mixed reads and writes on its namespace, with objects of its own to write."""

    index: int
    http: KubeHTTP
    namespace: str
    rng: random.Random
    latencies: dict[str, list[float]] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    configmaps: dict[str, int] = field(default_factory=dict)  # name: resourceVersion
    deployments: dict[str, int] = field(default_factory=dict)  # name: replicas
    made: int = 0

    def run(self, start: threading.Barrier, deadline: list[float]) -> None:
        start.wait()
        names, weights = list(OPERATIONS), list(OPERATIONS.values())
        while time.perf_counter() < deadline[0]:
            self.do(self.rng.choices(names, weights)[0])

    def do(self, operation: str) -> None:
        if operation.endswith("ConfigMap"):
            operation = self._configmap_operation(operation)
        elif operation.endswith("Deployment"):
            operation = self._deployment_operation(operation)
        getattr(self, "_" + operation.lower().replace(" ", "_"))()

    def _configmap_operation(self, operation: str) -> str:
        if not self.configmaps:
            return "create ConfigMap"
        if operation == "create ConfigMap" and len(self.configmaps) >= OWN_CONFIGMAPS:
            return "delete ConfigMap"
        return operation

    def _deployment_operation(self, operation: str) -> str:
        if not self.deployments:
            return "create Deployment"
        return "delete Deployment" if operation == "create Deployment" else operation

    def _call(self, operation: str, method: str, path: str, body: Any = None, headers: Any = None) -> Any:
        """The request, timed; the answer's body, or None after an error (recorded)."""
        data = json.dumps(body) if body is not None else None
        start = time.perf_counter()
        try:
            answer = self.http.request(method, path, data, headers)
        except urllib3.exceptions.HTTPError as err:
            self.errors.append(f"{operation} {path}: {err}")
            return None
        self.latencies.setdefault(operation, []).append((time.perf_counter() - start) * 1000)
        if answer.status >= 300:
            self.errors.append(f"{operation} {path}: {answer.status} {answer.data[:200]!r}")
            return None
        return json.loads(answer.data)

    def _wrote(self, resource: str, event: str, answer: dict[str, Any]) -> int:
        meta = answer["metadata"]
        rv = int(meta["resourceVersion"])
        self.writes.append(Write(resource, self.namespace, meta["name"], event, rv, time.perf_counter()))
        return rv

    def _get(self) -> None:
        self._call("GET", "GET", _path("configmaps", self.namespace, f"seed-{self.rng.randrange(SEEDS)}"))

    def _list(self) -> None:
        self._call("LIST", "GET", _path("configmaps", self.namespace))

    def _create_configmap(self) -> None:
        self.made += 1
        name = f"c{self.index}-{self.made}"
        body = {"metadata": {"name": name}, "data": {"v": "0"}}
        answer = self._call("create ConfigMap", "POST", _path("configmaps", self.namespace), body, JSON_TYPE)
        if answer is not None:
            self.configmaps[name] = self._wrote("configmaps", "ADDED", answer)

    def _update_configmap(self) -> None:
        name = self.rng.choice(list(self.configmaps))
        meta = {"name": name, "resourceVersion": str(self.configmaps[name])}
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": str(self.rng.random())}}
        answer = self._call("update ConfigMap", "PUT", _path("configmaps", self.namespace, name), body, JSON_TYPE)
        if answer is not None:
            self.configmaps[name] = self._wrote("configmaps", "MODIFIED", answer)

    def _patch_configmap(self) -> None:
        name = self.rng.choice(list(self.configmaps))
        body = {"data": {"v": str(self.rng.random())}}
        answer = self._call("patch ConfigMap", "PATCH", _path("configmaps", self.namespace, name), body, MERGE)
        if answer is not None:
            self.configmaps[name] = self._wrote("configmaps", "MODIFIED", answer)

    def _delete_configmap(self) -> None:
        name = self.rng.choice(list(self.configmaps))
        answer = self._call("delete ConfigMap", "DELETE", _path("configmaps", self.namespace, name))
        del self.configmaps[name]
        if answer is not None:
            self._wrote("configmaps", "DELETED", answer)

    def _create_deployment(self) -> None:
        self.made += 1
        name = f"d{self.index}-{self.made}"
        body = deployment(name, replicas=1, image="nginx")
        answer = self._call("create Deployment", "POST", _path("deployments", self.namespace), body, JSON_TYPE)
        if answer is not None:
            self.deployments[name] = 1
            self._wrote("deployments", "ADDED", answer)

    def _patch_deployment(self) -> None:
        name = self.rng.choice(list(self.deployments))
        replicas = 3 - self.deployments[name]  # 1 ↔ 2: a patch that changes nothing makes no event
        body = {"spec": {"replicas": replicas}}
        answer = self._call("patch Deployment", "PATCH", _path("deployments", self.namespace, name), body, STRATEGIC)
        if answer is not None:
            self.deployments[name] = replicas
            self._wrote("deployments", "MODIFIED", answer)

    def _delete_deployment(self) -> None:
        name = self.rng.choice(list(self.deployments))
        answer = self._call("delete Deployment", "DELETE", _path("deployments", self.namespace, name))
        del self.deployments[name]
        if answer is not None:
            deleting = bool((answer.get("metadata") or {}).get("deletionTimestamp"))
            self._wrote("deployments", "MODIFIED" if deleting else "DELETED", answer)


@dataclass
class Watcher:
    """A watch on one resource of one namespace from `rv`, resumed from the last event's resourceVersion when
    the stream ends (as client-go's informers do)."""

    http: KubeHTTP
    resource: str
    namespace: str
    rv: int
    stop: threading.Event
    seen: list[Seen] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0

    def run(self) -> None:
        while not self.stop.is_set() and not self.errors:
            self._stream()
            self.reconnects += 0 if self.stop.is_set() else 1
        self.reconnects = max(self.reconnects - 1, 0)  # the first connection is not a reconnection

    def _stream(self) -> None:
        query = f"?watch=true&resourceVersion={self.rv}&timeoutSeconds=600"
        timeout = urllib3.Timeout(connect=5, read=2)
        try:
            answer = self.http.request(
                "GET", _path(self.resource, self.namespace) + query, preload_content=False, timeout=timeout
            )
        except urllib3.exceptions.HTTPError as err:
            self.errors.append(f"watch {self.resource} in {self.namespace}: {err}")
            return
        if answer.status != 200:
            self.errors.append(f"watch {self.resource} in {self.namespace}: {answer.status} {answer.data[:200]!r}")
            return
        buffer = b""
        try:
            for chunk in answer.stream(1 << 16):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._event(json.loads(line))
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError):
            pass  # quiet for a while (the run is over, or this namespace is idle): reconnect unless stopped
        finally:
            answer.release_conn()

    def _event(self, event: dict[str, Any]) -> None:
        if event["type"] == "ERROR":
            self.errors.append(f"watch {self.resource} in {self.namespace}: {event['object']}")
            return
        meta = event["object"]["metadata"]
        rv = int(meta["resourceVersion"])
        self.seen.append(Seen(event["type"], meta["name"], rv, time.perf_counter()))
        self.rv = rv

    def missing(self, writes: list[Write]) -> list[Write]:
        got = {(s.event, s.name, s.rv) for s in self.seen}
        return [w for w in writes if (w.event, w.name, w.rv) not in got]


@pytest.fixture
def load_cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = start_cluster(tmp_path, name="load")
    try:
        yield cluster
    finally:
        cluster.driftlab("cluster", "down", "--name", cluster.name, "--purge", check=False)


def _prepare(cluster: Cluster) -> list[str]:
    http = cluster.http
    names = [f"load-{i}" for i in range(NAMESPACES)]
    for name in names:
        answer = http.request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": name}}), JSON_TYPE)
        assert answer.status == 201, answer.data
        for i in range(SEEDS):
            body = json.dumps({"metadata": {"name": f"seed-{i}"}, "data": {"k": "v" * 64}})
            answer = http.request("POST", _path("configmaps", name), body, JSON_TYPE)
            assert answer.status == 201, answer.data
    return names


def _list_rv(http: KubeHTTP, resource: str, namespace: str) -> int:
    answer = http.request("GET", _path(resource, namespace))
    assert answer.status == 200, answer.data
    return int(json.loads(answer.data)["metadata"]["resourceVersion"])


def _wait_delivered(watchers: list[Watcher], expected: dict[tuple[str, str], list[Write]]) -> None:
    deadline = time.perf_counter() + SETTLE_SECONDS
    while time.perf_counter() < deadline:
        if all(not w.missing(expected.get((w.resource, w.namespace), [])) for w in watchers):
            return
        time.sleep(0.2)


def _order_problems(watcher: Watcher) -> list[str]:
    """Events out of resourceVersion order, or the same event twice."""
    problems = []
    for before, after in zip(watcher.seen, watcher.seen[1:], strict=False):
        if after.rv <= before.rv:
            problems.append(f"{watcher.resource}/{watcher.namespace}: rv {after.rv} ({after.event}) after {before.rv}")
    return problems


@pytest.mark.load
@pytest.mark.timeout(1200)
def test_api_under_concurrent_clients(load_cluster: Cluster) -> None:
    clients = setting("DRIFTLAB_LOAD_CLIENTS", 50)
    seconds = setting("DRIFTLAB_LOAD_SECONDS", 60)
    namespaces = _prepare(load_cluster)
    text = load_cluster.kubeconfig.read_text()
    watch_count = len(namespaces) * len(WATCHED)
    assert clients > watch_count, f"{clients} clients leave none for reads and writes beside {watch_count} watchers"

    stop = threading.Event()
    watchers = [
        Watcher(
            KubeHTTP.from_kubeconfig(text, maxsize=1), resource, ns, _list_rv(load_cluster.http, resource, ns), stop
        )
        for ns in namespaces
        for resource in WATCHED
    ]
    workers = [
        Client(i, KubeHTTP.from_kubeconfig(text, maxsize=1), namespaces[i % len(namespaces)], random.Random(i))
        for i in range(clients - watch_count)
    ]
    threads = [threading.Thread(target=w.run, daemon=True) for w in watchers]
    for thread in threads:
        thread.start()
    start = threading.Barrier(len(workers) + 1)
    deadline = [float("inf")]
    worker_threads = [threading.Thread(target=w.run, args=(start, deadline), daemon=True) for w in workers]
    for thread in worker_threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in worker_threads:
        thread.join()
    elapsed = time.perf_counter() - began

    writes = [write for worker in workers for write in worker.writes]
    expected: dict[tuple[str, str], list[Write]] = {}
    for write in writes:
        expected.setdefault((write.resource, write.namespace), []).append(write)
    _wait_delivered(watchers, expected)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)

    latencies: dict[str, list[float]] = {}
    for worker in workers:
        for operation, samples in worker.latencies.items():
            latencies.setdefault(operation, []).extend(samples)
    delivery = _delivery(watchers, expected)
    figures = _figures(clients, latencies, delivery, elapsed)
    _print(clients, watch_count, seconds, latencies, watchers, figures)
    add_results(figures)

    errors = [error for worker in workers for error in worker.errors]
    assert not errors, f"{len(errors)} request errors, the first: {errors[:5]}"
    watch_errors = [error for watcher in watchers for error in watcher.errors]
    assert not watch_errors, watch_errors
    lost = [write for w in watchers for write in w.missing(expected.get((w.resource, w.namespace), []))]
    assert not lost, f"{len(lost)} of {len(writes)} writes never reached their watcher, the first: {lost[:5]}"
    disordered = [problem for watcher in watchers for problem in _order_problems(watcher)]
    assert not disordered, f"{len(disordered)} events out of order or twice, the first: {disordered[:5]}"
    for figure in figures:
        assert figure.ok, f"{figure.name}: {figure.median:.1f} {figure.unit}, target {figure.target}"


def _delivery(watchers: list[Watcher], expected: dict[tuple[str, str], list[Write]]) -> list[float]:
    """Milliseconds from each write's answer to its event reaching the watcher (0 when the event came first)."""
    samples = []
    for watcher in watchers:
        arrival = {(s.event, s.name, s.rv): s.at for s in watcher.seen}
        for write in expected.get((watcher.resource, watcher.namespace), []):
            at = arrival.get((write.event, write.name, write.rv))
            if at is not None:
                samples.append(max(at - write.answered, 0) * 1000)
    return samples


def _figures(clients: int, latencies: dict[str, list[float]], delivery: list[float], elapsed: float) -> list[Figure]:
    reads = [v for op in READS for v in latencies.get(op, [])]
    writes = [v for op, samples in latencies.items() if op not in READS for v in samples]
    total = sum(len(samples) for samples in latencies.values())
    prefix = f"API, {clients} clients:"
    figures = [
        Figure(f"{prefix} reads (GET, LIST) p99", percentile(reads, 99), READ_TARGET_MS, len(reads), group="load"),
        Figure(f"{prefix} writes p99", percentile(writes, 99), WRITE_TARGET_MS, len(writes), group="load"),
    ]
    for operation in OPERATIONS:
        samples = latencies.get(operation, [])
        target = READ_TARGET_MS if operation in READS else WRITE_TARGET_MS
        figures.append(Figure(f"{prefix} {operation} p99", percentile(samples, 99), target, len(samples), group="load"))
    figures += [
        Figure(f"{prefix} watch delivery p99", percentile(delivery, 99), WATCH_TARGET_MS, len(delivery), group="load"),
        Figure(f"{prefix} throughput", total / elapsed, None, total, "/s", "load"),
    ]
    return figures


def _print(
    clients: int,
    watch_count: int,
    seconds: int,
    latencies: dict[str, list[float]],
    watchers: list[Watcher],
    figures: list[Figure],
) -> None:
    print(f"\n{clients} clients ({clients - watch_count} reading and writing, {watch_count} watching) for {seconds} s")
    print(f"{'operation':<20} {'count':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for operation in OPERATIONS:
        samples = latencies.get(operation, [])
        if samples:
            print(
                f"{operation:<20} {len(samples):>7} {statistics.median(samples):>8.1f} "
                f"{percentile(samples, 99):>8.1f} {max(samples):>8.1f}"
            )
    print(f"watch events received: {sum(len(w.seen) for w in watchers)}, reconnections: "
          f"{sum(w.reconnects for w in watchers)}")  # fmt: skip
    print(table([f.as_json() for f in figures]))
