"""`make bench`: every figure the issues named, as medians next to their targets.

Run on a quiet machine for figures worth quoting. The figures and the machine go to bench-results.json (see
tests/bench/report.py); the load tests add theirs to it and `make bench` prints the one table at the end.
Raw HTTP goes through tests/kubehttp.py, so the bench follows whatever the kubeconfig asks (TLS, a token).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import proc
from tests.bench import procs
from tests.bench.report import Figure, write_results
from tests.kubehttp import KubeHTTP

JSON = {"Content-Type": "application/json"}


def _driftlab(home: Path, *args: str, env: dict[str, str] | None = None) -> proc.Result:
    full_env = {"DRIFTLAB_HOME": str(home), **(env or {})}
    result = proc.run([sys.executable, "-m", "engine.cli", *args], env=full_env, timeout=60)
    if not result.ok:
        raise SystemExit(f"driftlab {' '.join(args)} failed: {result.stderr}")
    return result


def _kubeconfig(home: Path, name: str) -> Path:
    """The cluster's kubeconfig (`driftlab cluster kubeconfig`), written beside the state folder."""
    path = home / f"{name}.kubeconfig"
    path.write_text(_driftlab(home, "cluster", "kubeconfig", "--name", name).stdout)
    return path


def _http(kubeconfig: Path, maxsize: int = 4) -> KubeHTTP:
    return KubeHTTP.from_kubeconfig(kubeconfig.read_text(), maxsize=maxsize)


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


def bench_get(http: KubeHTTP, runs: int = 300) -> Figure:
    path = "/api/v1/namespaces/default/configmaps/cm-0"
    samples = _timed(lambda: _ok(http.request("GET", path)), runs)
    return Figure("GET one object (HTTP)", statistics.median(samples), 5, runs)


def _ok(response: Any) -> Any:
    if response.status >= 300:
        raise SystemExit(f"the API answered {response.status}: {response.data[:300]!r}")
    return response


def bench_list(http: KubeHTTP, runs: int = 20) -> Figure:
    def fetch() -> None:
        body = json.loads(_ok(http.request("GET", "/api/v1/namespaces/default/configmaps")).data)
        assert len(body["items"]) >= 1000

    samples = _timed(fetch, runs)
    return Figure("LIST 1,000 ConfigMaps (HTTP)", statistics.median(samples), 150, runs)


def bench_watch(kubeconfig: Path, watchers: int = 20, updates: int = 30) -> Figure:
    """Time from a write's response to each of 20 watchers receiving the event."""
    url = "/api/v1/namespaces/default/configmaps"
    http = _http(kubeconfig)
    received: list[list[float]] = [[] for _ in range(watchers)]
    ready = threading.Barrier(watchers + 1)

    def watch(index: int) -> None:
        pool = _http(kubeconfig, maxsize=1)
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
    _ok(http.request("POST", url, json.dumps({"metadata": {"name": "watched"}}), JSON))
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
            json.dumps({"data": {"n": str(i)}}),
            {"Content-Type": "application/merge-patch+json"},
        )
        time.sleep(0.02)
    for thread in threads:
        thread.join(timeout=30)
    latencies = [(times[i] - sent[i]) * 1000 for times in received for i in range(min(len(times), len(sent)))]
    if not latencies:
        raise SystemExit("no watch events arrived")
    return Figure(f"watch delivery to {watchers} watchers", statistics.median(latencies), 50, len(latencies))


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
"""


def _kubectl(kubeconfig: Path, *args: str, input: str | None = None) -> proc.Result:
    result = proc.run([proc.tool("kubectl"), *args], env={"KUBECONFIG": str(kubeconfig)}, input=input, timeout=120)
    if not result.ok:
        raise SystemExit(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def _rolled_out(d: dict[str, Any]) -> bool:
    """What `kubectl rollout status` waits for."""
    spec, status = d.get("spec") or {}, d.get("status") or {}
    updated = status.get("updatedReplicas", 0)
    return (
        d["metadata"].get("generation", 0) <= status.get("observedGeneration", 0)
        and updated >= spec.get("replicas", 1)
        and status.get("replicas", 0) <= updated
        and status.get("availableReplicas", 0) >= updated
    )


def _wait_rolled_out(http: KubeHTTP, namespace: str, count: int) -> None:
    """Watch the namespace's Deployments until `count` of them are rolled out."""
    url = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    listing = json.loads(_ok(http.request("GET", url)).data)
    done = {d["metadata"]["name"] for d in listing["items"] if _rolled_out(d)}
    if len(done) >= count:
        return
    rv = listing["metadata"]["resourceVersion"]
    response = http.request("GET", f"{url}?watch=true&resourceVersion={rv}&timeoutSeconds=60", preload_content=False)
    buffer = b""
    for chunk in response.stream(1 << 16):
        buffer += chunk
        while b"\n" in buffer and len(done) < count:
            line, buffer = buffer.split(b"\n", 1)
            event = json.loads(line)
            if event["type"] in ("ADDED", "MODIFIED") and _rolled_out(event["object"]):
                done.add(event["object"]["metadata"]["name"])
        if len(done) >= count:
            break
    response.release_conn()
    if len(done) < count:
        raise SystemExit(f"only {len(done)} of {count} Deployments rolled out within a minute")


def bench_rollout(kubeconfig: Path, runs: int = 7) -> Figure:
    """`kubectl apply` of a 3-replica Deployment until `kubectl rollout status` reports success."""
    _kubectl(kubeconfig, "create", "namespace", "single")
    samples = []
    for i in range(runs):
        name = f"web-{i}"
        start = time.perf_counter()
        _kubectl(kubeconfig, "apply", "-n", "single", "-f", "-", input=DEPLOYMENT.format(name=name))
        _kubectl(kubeconfig, "rollout", "status", "-n", "single", f"deploy/{name}", "--timeout=60s")
        samples.append((time.perf_counter() - start) * 1000)
    _kubectl(kubeconfig, "delete", "namespace", "single", "--timeout=60s")
    return Figure("apply to rollout status, 3 replicas", statistics.median(samples), 500, runs)


def _free_pod_slots(http: KubeHTTP) -> int:
    nodes = json.loads(_ok(http.request("GET", "/api/v1/nodes")).data)["items"]
    capacity = sum(int((n.get("status") or {}).get("allocatable", {}).get("pods", 0)) for n in nodes)
    pods = json.loads(_ok(http.request("GET", "/api/v1/pods")).data)["items"]
    return capacity - sum(1 for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))


def bench_many_rollouts(kubeconfig: Path, http: KubeHTTP, count: int = 50) -> Figure:
    """`kubectl apply` of 50 three-replica Deployments until every one of them is rolled out."""
    name = f"apply to rolled out, {count} Deployments"
    free = _free_pod_slots(http)
    if free < 3 * count:
        print(f"{name}: the node has room for {free} more pods, {3 * count} are needed", file=sys.stderr)
        return Figure(name, float("inf"), 10_000, 0)
    _kubectl(kubeconfig, "create", "namespace", "many")
    manifests = "---".join(DEPLOYMENT.format(name=f"web-{i}") for i in range(count))
    start = time.perf_counter()
    _kubectl(kubeconfig, "apply", "-n", "many", "-f", "-", input=manifests)
    _wait_rolled_out(http, "many", count)
    return Figure(name, (time.perf_counter() - start) * 1000, 10_000, 1)


DAEMON_RSS_TARGET_MB = 200


def daemon_memory(home: Path) -> Figure:
    """The cluster daemon's resident memory (VmRSS) after the rollouts."""
    daemons = [p for p in procs.under(home) if p.role == "cluster daemon"]
    if len(daemons) != 1:
        raise SystemExit(f"expected one cluster daemon under {home}, found {daemons}")
    return Figure("cluster daemon resident memory after them", daemons[0].rss_mb, DAEMON_RSS_TARGET_MB, 1, "MB")


def bench_workloads(home: Path) -> list[Figure]:
    name = "workloads"
    _driftlab(home, "cluster", "up", "--name", name, env={"DRIFTLAB_TIMING_SCALE": "0"})
    kubeconfig = _kubeconfig(home, name)
    try:
        figures = [bench_rollout(kubeconfig)]
        figures.append(bench_many_rollouts(kubeconfig, _http(kubeconfig)))
        figures.append(daemon_memory(home))
    finally:
        _driftlab(home, "cluster", "down", "--name", name, "--purge")
    return figures


def bench_check_latency(home: Path, runs: int = 30) -> Figure:
    """From `kubectl patch` returning to the check watcher's re-evaluated result (debounce included)."""
    import queue

    from engine.checks.context import CheckContext
    from engine.checks.spec import Check
    from engine.checks.watcher import CheckWatcher

    name = "checks"
    _driftlab(home, "cluster", "up", "--name", name)
    kubeconfig = _kubeconfig(home, name)
    _kubectl(kubeconfig, "create", "configmap", "latency", "--from-literal=n=0")
    even = {"kind": "cm", "name": "latency", "path": "{.data.n}", "expect": {"matches": "^[0-9]*[02468]$"}}
    arrived: queue.Queue[float] = queue.Queue()
    samples = []
    try:
        context = CheckContext.from_kubeconfig(kubeconfig, "default")
        checks = [Check.model_validate({"field": even})]
        with CheckWatcher(checks, context, lambda _: arrived.put(time.perf_counter())):
            arrived.get(timeout=30)
            for i in range(1, runs + 1):
                _kubectl(kubeconfig, "patch", "configmap", "latency", "-p", json.dumps({"data": {"n": str(i)}}))
                changed = time.perf_counter()
                samples.append(max(arrived.get(timeout=30) - changed, 0) * 1000)
    finally:
        _driftlab(home, "cluster", "down", "--name", name, "--purge")
    return Figure("check latency: kubectl change → re-evaluated result", statistics.median(samples), 250, runs)


def _shipped_courses() -> list[Path]:
    root = Path(__file__).resolve().parents[2] / "courses"
    return sorted(folder for folder in root.iterdir() if (folder / "course.yaml").is_file())


def bench_lab_up(home: Path, runs: int = 5) -> list[Figure]:
    """`driftlab lab up COURSE` from no cluster at all to the first step ready, for each course in courses/;
    then the largest resident memory of a lab's cluster daemon and of its lab daemon (Git server, pipelines,
    GitOps agents), each read a second after a lab up, over every course."""
    figures = []
    largest: dict[str, tuple[float, str]] = {}
    for folder in _shipped_courses():
        samples = []
        for run in range(runs):
            start = time.perf_counter()
            _driftlab(home, "lab", "up", str(folder))
            samples.append((time.perf_counter() - start) * 1000)
            if run == runs - 1:
                time.sleep(1)  # the lab daemon's agents start after it answers
                for found in procs.under(home):
                    if found.rss_mb > largest.get(found.role, (0.0, ""))[0]:
                        largest[found.role] = (found.rss_mb, folder.name)
            _driftlab(home, "lab", "down", str(folder), "--purge")
        figures.append(Figure(f"lab up to first step ready ({folder.name})", statistics.median(samples), 2000, runs))
    for role in ("cluster daemon", "lab daemon"):
        rss, course = largest.get(role, (float("inf"), "none ran"))
        figures.append(Figure(f"{role} resident memory after lab up ({course})", rss, DAEMON_RSS_TARGET_MB, 1, "MB"))
    return figures


def bench_course_tests(home: Path) -> list[Figure]:
    """Wall time of `driftlab course test` for each course in courses/ (a failed test counts as infinite)."""
    figures = []
    for folder in _shipped_courses():
        start = time.perf_counter()
        result = proc.run(
            [sys.executable, "-m", "engine.cli", "course", "test", str(folder)],
            env={"DRIFTLAB_HOME": str(home)},
            timeout=1800,
        )
        seconds = time.perf_counter() - start
        if not result.ok:
            print(f"course test {folder.name} failed:\n{result.stdout}{result.stderr}", file=sys.stderr)
            seconds = float("inf")
        figures.append(Figure(f"course test wall time ({folder.name})", seconds, 120, 1, "s"))
    return figures


def bench_clone(home: Path, runs: int = 9) -> Figure:
    """`git clone` of a seeded repository (60 files, 4 commits) from the lab's Git server, as the learner."""
    import asyncio
    from datetime import UTC, datetime

    from engine.gitserver.credentials import Credentials
    from engine.gitserver.seed import SeedCommit, seed_repo
    from engine.gitserver.server import GitServer

    source = home / "clone-bench" / "shop"
    for folder, count in (("app", 40), ("deploy", 10), ("docs", 10)):
        for i in range(count):
            path = source / folder / f"file_{i}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{folder} {i}\n" * 200)
    history = [
        SeedCommit("Maya Okafor", "maya@shop.example", datetime(2024, 5, day, 9, tzinfo=UTC), f"{message}\n", paths)
        for day, message, paths in ((2, "Start", ("app",)), (3, "Manifests", ("deploy",)), (4, "Docs", ("docs",)))
    ]
    history.append(SeedCommit("Tom Becker", "tom@shop.example", datetime(2024, 5, 5, tzinfo=UTC), "Rest\n"))
    (source / "README.md").write_text("# shop\n")
    seed_repo(home / "clone-bench" / "git", "shop", source, history)

    async def measure() -> list[float]:
        server = GitServer(home / "clone-bench" / "git", Credentials.generate(), lambda _: None)
        await server.start()
        env = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", **server.git_env()}
        samples = []
        try:
            for i in range(runs):
                target = str(home / "clone-bench" / f"clone-{i}")
                start = time.perf_counter()
                result = await asyncio.to_thread(
                    proc.run, ["git", "clone", "-q", server.clone_url("shop"), target], env=env
                )
                samples.append((time.perf_counter() - start) * 1000)
                if not result.ok:
                    raise SystemExit(f"git clone failed: {result.stderr}")
        finally:
            await server.stop()
        return samples

    return Figure("clone a seeded repo (git clone over HTTP)", statistics.median(asyncio.run(measure())), 500, runs)


def bench_push_to_pipeline(home: Path, runs: int = 20) -> Figure:
    """From the Git server's push event (`on_push`) to the pipeline's first step starting, one push at a time."""
    import asyncio

    from engine.gitserver.events import ZERO, PushEvent
    from engine.pipeline import PipelineEvent, PipelineRunner

    root = home / "push-bench"
    bare, work = root / "repos" / "app.git", root / "work"

    def git(*args: str) -> str:
        result = proc.run(["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com", *args], cwd=root)
        if not result.ok:
            raise SystemExit(f"git {' '.join(args)} failed: {result.stderr}")
        return result.stdout.strip()

    root.mkdir(parents=True)
    git("init", "-q", "--bare", "-b", "main", str(bare))
    git("clone", "-q", str(bare), str(work))
    (work / ".driftlab").mkdir()
    (work / ".driftlab" / "pipeline.yaml").write_text("jobs: [{name: deploy, steps: [{name: apply, run: 'true'}]}]\n")
    shas = []
    for i in range(runs):
        (work / "n.txt").write_text(f"{i}\n")
        git("-C", str(work), "add", "-A")
        git("-C", str(work), "commit", "-q", "-m", f"Change {i}")
        shas.append(git("-C", str(work), "rev-parse", "HEAD"))
    git("-C", str(work), "push", "-q", "origin", "main")

    async def measure() -> list[float]:
        runner = PipelineRunner(root / "state" / "pipelines.db", root / "repos")
        started: asyncio.Queue[float] = asyncio.Queue()

        def on_change(event: PipelineEvent) -> None:
            if event.step is not None and event.step.status == "running":
                started.put_nowait(time.perf_counter())

        runner.add_listener(on_change)
        await runner.start()
        samples = []
        try:
            for sha in shas:
                pushed = time.perf_counter()
                runner.on_push(PushEvent("app", "refs/heads/main", ZERO, sha, "bench"))
                samples.append((await asyncio.wait_for(started.get(), 30) - pushed) * 1000)
                await runner.drain()
        finally:
            await runner.stop()
        return samples

    return Figure("push to pipeline start (first step running)", statistics.median(asyncio.run(measure())), 1000, runs)


def bench_push_to_live(home: Path, agent: str, runs: int = 9) -> Figure:
    """From `git push` returning to the pushed value being served by the API, through the embedded agent.

    Real intervals (Timing scale 1: Flux's 1m, Argo CD's ~3 min poll): only the push reconciles this fast.
    """
    from engine.gitops.controller import Timing
    from tests.integration.conftest import start_cluster
    from tests.integration.gitops_support import gitops_lab

    root = home / f"live-{agent}"
    cluster = start_cluster(root, name=f"live-{agent}")

    def value() -> str:
        answer = cluster.http.request("GET", "/api/v1/namespaces/default/configmaps/live")
        return json.loads(answer.data).get("data", {}).get("v", "") if answer.status == 200 else ""

    samples = []
    try:
        with gitops_lab(cluster, root) as lab, lab.running(agent, timing=Timing(1.0)):

            def manifest(v: str) -> dict[str, Any]:
                return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "live"}, "data": {"v": v}}

            repo = lab.repo({"app/live.yaml": manifest("0")}, name="live")
            _gitops_sync(lab, agent, lab.url("live"))
            lab.wait_for(lambda: value() == "0", 30, "the first sync")
            for i in range(1, runs + 1):
                repo.write("app/live.yaml", manifest(str(i)))
                lab.git("add", "-A", cwd=repo.path)
                lab.git("commit", "-q", "-m", f"Change {i}", cwd=repo.path)
                start = time.perf_counter()
                lab.git("push", "-q", "origin", "HEAD:main", cwd=repo.path)
                lab.wait_for(lambda i=i: value() == str(i), 30, f"change {i} live")
                samples.append((time.perf_counter() - start) * 1000)
    finally:
        cluster.driftlab("cluster", "down", "--name", cluster.name, "--purge", check=False)
    name = "Flux" if agent == "flux" else "Argo CD"
    return Figure(f"git push to change live ({name}, embedded)", statistics.median(samples), 2000, runs)


def _gitops_sync(lab: Any, agent: str, url: str) -> None:
    """What a learner declares: Flux's GitRepository and Kustomization, or an Argo CD Application."""
    deploy = lab.credentials.deploy
    if agent == "flux":
        lab.kubectl("create", "namespace", "flux-system", check=False)
        lab.deploy_secret("flux-system")
        source = {"url": url, "interval": "1m", "ref": {"branch": "main"}, "secretRef": {"name": "git-credentials"}}
        sync = {
            "interval": "10m",
            "path": "./app",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "live"},
        }
        lab.apply(
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "live", "namespace": "flux-system"},
                "spec": source,
            },
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "live", "namespace": "flux-system"},
                "spec": {**sync, "targetNamespace": "default"},
            },
        )
        return
    lab.kubectl("create", "namespace", "argocd", check=False)
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "repo-live",
                "namespace": "argocd",
                "labels": {"argocd.argoproj.io/secret-type": "repository"},
            },
            "stringData": {"type": "git", "url": url, "username": deploy.username, "password": deploy.password},
        },
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "live", "namespace": "argocd"},
            "spec": {
                "project": "default",
                "source": {"repoURL": url, "path": "app", "targetRevision": "HEAD"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
                "syncPolicy": {"automated": {"prune": True}},
            },
        },
    )


def _first_paint(home: Path, driftlab: Path, folder: Path) -> float:
    """Milliseconds from starting `driftlab` in a tmux window to the picker painted with its course rows."""
    from tests.tui.tmux import Tmux

    env = {"DRIFTLAB_HOME": str(home), "HOME": str(home), "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "PATH": os.environ.get("PATH", "")}  # fmt: skip
    tmux = Tmux(folder)
    try:
        start = time.perf_counter()
        tmux.start([str(driftlab)], home, env)
        tmux.wait_for(_course_row, "the picker's course rows", 30)
        return (time.perf_counter() - start) * 1000
    finally:
        tmux.close()


def _course_row(screen: str) -> bool:
    """A row of the picker's table: a course's title and level on one line."""
    return any("Release antipatterns" in line and "beginner" in line for line in screen.splitlines())


def bench_tui_first_paint(home: Path, runs: int = 7) -> Figure | None:
    """`driftlab` in a 120×40 tmux window, from starting it to the course picker painted with its rows."""
    import shutil

    name = "TUI: start to the picker painted with courses"
    driftlab = Path(sys.executable).parent / "driftlab"
    if shutil.which("tmux") is None or not driftlab.exists():
        print(f"{name}: skipped, it needs tmux and the installed driftlab ({driftlab})", file=sys.stderr)
        return None
    samples = []
    for i in range(runs):
        folder = home / "tui-paint" / str(i)
        folder.mkdir(parents=True)
        samples.append(_first_paint(home / "tui-paint" / "home", driftlab, folder))
    return Figure(name, statistics.median(samples), 1000, runs)


def bench_tui_check_latency(home: Path, runs: int = 7) -> Figure:
    """The lesson screen (Pilot, 120×40) on a real lab: from `kubectl create` returning to the step's check
    painted ✓. Each run opens the app afresh on the first step, with the ConfigMap it wants deleted first."""
    import asyncio

    from engine.cluster.embedded.settings import PodTimings
    from engine.lab.lab import down_all
    from engine.lab.progress import ProgressStore
    from engine.tui.app import DriftlabApp
    from engine.tui.screens.lesson import LessonScreen
    from engine.tui.widgets.checks_panel import ChecksPanel
    from tests.tui.fakes import BASICS, COURSES

    kubeconfig = home / "clusters" / "lab-basics" / "lab.kubeconfig"

    def kubectl(*args: str) -> None:
        _kubectl(kubeconfig, "-n", "work", *args)

    async def once(store: ProgressStore) -> float:
        app = DriftlabApp(
            course=str(BASICS),
            trusted=True,
            courses_root=COURSES,
            store=store,
            timings=PodTimings().scaled(0),
            keymap_file=home / "no-keys.toml",
            terminal=False,
        )
        results: asyncio.Queue[bool] = asyncio.Queue()

        def hook(message: Any) -> None:
            if isinstance(message, LessonScreen.ChecksUpdated):
                results.put_nowait(bool(message.result.passed))

        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            while await asyncio.wait_for(results.get(), 90):
                pass  # the first results fail: the ConfigMap was deleted
            await pilot.pause()
            await asyncio.to_thread(kubectl, "create", "configmap", "greeting", "--from-literal=message=hello")
            changed = time.perf_counter()
            while not await asyncio.wait_for(results.get(), 30):
                pass
            checks = app.screen.query_one(ChecksPanel)
            while "✓" not in str(checks.query_one("#checks-lines").render()):
                await pilot.pause()
            await pilot.pause()
            return (time.perf_counter() - changed) * 1000

    samples = []
    try:
        for i in range(runs):
            if i:
                kubectl("delete", "configmap", "greeting", "--ignore-not-found")
            store = ProgressStore(home / f"tui-latency-{i}.sqlite3")
            try:
                samples.append(asyncio.run(once(store)))
            finally:
                store.close()
    finally:
        down_all(purge=True)
    return Figure("TUI: kubectl change → check painted ✓", statistics.median(samples), 500, runs)


def _bench_api(home: Path) -> list[Figure]:
    """GET, LIST and watch against a cluster holding 1,000 ConfigMaps."""
    _driftlab(home, "cluster", "up", "--name", "bench")
    kubeconfig = _kubeconfig(home, "bench")
    http = _http(kubeconfig)
    try:
        for i in range(1000):
            body = json.dumps({"metadata": {"name": f"cm-{i}"}, "data": {"k": "v" * 20}})
            _ok(http.request("POST", "/api/v1/namespaces/default/configmaps", body, JSON))
        return [bench_get(http), bench_list(http), bench_watch(kubeconfig)]
    finally:
        _driftlab(home, "cluster", "down", "--name", "bench", "--purge")


Bench = Callable[[], Figure | list[Figure] | None]


def _benches(home: Path) -> list[tuple[str, Bench]]:
    """Each bench with what its figures measure, named in the table when the bench itself fails."""
    return [
        ("cluster up", lambda: bench_cold_start(home)),
        ("API GET, LIST and watch", lambda: _bench_api(home)),
        ("rollouts and cluster daemon memory", lambda: bench_workloads(home)),
        ("check latency", lambda: bench_check_latency(home)),
        ("push to pipeline start", lambda: bench_push_to_pipeline(home)),
        ("git push to change live (Flux)", lambda: bench_push_to_live(home, "flux")),
        ("git push to change live (Argo CD)", lambda: bench_push_to_live(home, "argocd")),
        ("git clone", lambda: bench_clone(home)),
        ("lab up and daemon memory", lambda: bench_lab_up(home)),
        ("course test", lambda: bench_course_tests(home)),
        ("TUI first paint", lambda: bench_tui_first_paint(home)),
        ("TUI check painted", lambda: bench_tui_check_latency(home)),
    ]


def _measure(label: str, bench: Bench) -> list[Figure]:
    """The bench's figures; a bench that fails gives one failed row instead of ending the run."""
    try:
        found = bench()
    except (Exception, SystemExit) as err:
        print(f"{label}: the bench failed: {err!r}", file=sys.stderr, flush=True)
        return [Figure(f"{label}: the bench failed ({type(err).__name__})", float("inf"), None, 0)]
    return [found] if isinstance(found, Figure) else found or []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"), help="the results file to write")
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["DRIFTLAB_HOME"] = str(home)
        for label, bench in _benches(home):
            for figure in _measure(label, bench):
                print(f"{figure.name}: {figure.median:.1f} {figure.unit} (target {figure.target})", flush=True)
                figures.append(figure)
    write_results(args.out, figures)
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
