"""`make bench`: the embedded cluster's figures, as medians next to their targets.

Run on a quiet machine for figures worth quoting; the table is also written to bench-results.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import urllib3

from engine import proc


@dataclass
class Figure:
    name: str
    median_ms: float
    target_ms: float
    runs: int

    @property
    def ok(self) -> bool:
        return self.median_ms <= self.target_ms


def _driftlab(home: Path, *args: str) -> proc.Result:
    result = proc.run([sys.executable, "-m", "engine.cli", *args], env={"DRIFTLAB_HOME": str(home)}, timeout=60)
    if not result.ok:
        raise SystemExit(f"driftlab {' '.join(args)} failed: {result.stderr}")
    return result


def _server(home: Path, name: str) -> str:
    record = json.loads((home / "clusters" / name / "daemon.json").read_text())
    return f"http://127.0.0.1:{record['port']}"


def bench_cold_start(home: Path, runs: int = 5) -> Figure:
    """`cluster up` from nothing to an answering API, with a fresh state folder each time."""
    samples = []
    for i in range(runs):
        name = f"cold{i}"
        start = time.perf_counter()
        _driftlab(home, "cluster", "up", "--name", name)
        samples.append((time.perf_counter() - start) * 1000)
        _driftlab(home, "cluster", "down", "--name", name, "--purge")
    return Figure("cluster up, cold start to first answer", statistics.median(samples), 1000, runs)


def _timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def bench_get(http: urllib3.PoolManager, server: str, runs: int = 300) -> Figure:
    url = f"{server}/api/v1/namespaces/default/configmaps/cm-0"
    samples = _timed(lambda: http.request("GET", url), runs)
    return Figure("GET one object (HTTP)", statistics.median(samples), 5, runs)


def bench_list(http: urllib3.PoolManager, server: str, runs: int = 20) -> Figure:
    url = f"{server}/api/v1/namespaces/default/configmaps"

    def fetch() -> None:
        body = json.loads(http.request("GET", url).data)
        assert len(body["items"]) >= 1000

    samples = _timed(fetch, runs)
    return Figure("LIST 1,000 ConfigMaps (HTTP)", statistics.median(samples), 150, runs)


def bench_watch(http: urllib3.PoolManager, server: str, watchers: int = 20, updates: int = 30) -> Figure:
    """Time from a write's response to each of 20 watchers receiving the event."""
    url = f"{server}/api/v1/namespaces/default/configmaps"
    received: list[list[float]] = [[] for _ in range(watchers)]
    ready = threading.Barrier(watchers + 1)

    def watch(index: int) -> None:
        pool = urllib3.PoolManager()
        response = pool.request(
            "GET",
            f"{url}?watch=true&fieldSelector=metadata.name%3Dwatched&timeoutSeconds=60",
            preload_content=False,
        )
        ready.wait()
        buffer = b""
        for chunk in response.stream(1024):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if json.loads(line)["type"] == "MODIFIED":
                    received[index].append(time.perf_counter())
            if len(received[index]) >= updates:
                break
        response.release_conn()

    threads = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(watchers)]
    http.request(
        "POST",
        url,
        body=json.dumps({"metadata": {"name": "watched"}}),
        headers={"Content-Type": "application/json"},
    )
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(0.3)
    sent = []
    for i in range(updates):
        sent.append(time.perf_counter())
        http.request(
            "PATCH",
            f"{url}/watched",
            body=json.dumps({"data": {"n": str(i)}}),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        time.sleep(0.02)
    for thread in threads:
        thread.join(timeout=30)
    latencies = [(times[i] - sent[i]) * 1000 for times in received for i in range(min(len(times), len(sent)))]
    if not latencies:
        raise SystemExit("no watch events arrived")
    return Figure(f"watch delivery to {watchers} watchers", statistics.median(latencies), 50, len(latencies))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["DRIFTLAB_HOME"] = str(home)
        figures = [bench_cold_start(home)]
        _driftlab(home, "cluster", "up", "--name", "bench")
        server = _server(home, "bench")
        http = urllib3.PoolManager(maxsize=4)
        try:
            for i in range(1000):
                http.request(
                    "POST",
                    f"{server}/api/v1/namespaces/default/configmaps",
                    body=json.dumps({"metadata": {"name": f"cm-{i}"}, "data": {"k": "v" * 20}}),
                    headers={"Content-Type": "application/json"},
                )
            figures += [bench_get(http, server), bench_list(http, server), bench_watch(http, server)]
        finally:
            _driftlab(home, "cluster", "down", "--name", "bench", "--purge")
    width = max(len(f.name) for f in figures)
    print(f"{'figure':<{width}}  {'median':>10}  {'target':>10}  {'runs':>5}  ok")
    for f in figures:
        print(
            f"{f.name:<{width}}  {f.median_ms:>8.1f}ms  {f.target_ms:>8.0f}ms  {f.runs:>5}  {'yes' if f.ok else 'NO'}"
        )
    Path("bench-results.json").write_text(json.dumps([{**f.__dict__, "ok": f.ok} for f in figures], indent=2) + "\n")
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
