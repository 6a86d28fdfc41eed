"""A workshop on the presenter's laptop: twenty learners, each with a lab of the first course, on one machine.

Each learner has a state folder of their own, which is what keeps labs apart: lab, cluster and progress names
come from the course, so two learners in one folder would share one lab. The folders are the workshop's
(`<presenter's home>/learners/<name>/`, as `driftlab serve --workshop` keeps them). Everything runs through the
real CLI and kubectl, with the lab's own (realistic) pod timings, as a workshop would. Each learner also has the
app open on the lesson (`driftlab start --workshop antipatterns` in a tmux window, the learner's name typed
first: what each browser tab of `driftlab serve --workshop antipatterns` runs), so the memory counted is what
the presenter's machine carries: a TUI and a cluster daemon per learner.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine import proc
from engine.course import load_course
from engine.lab.progress import ProgressStore
from engine.lab.runner import tool_environment
from tests.bench import procs
from tests.bench.report import Figure, add_results, table
from tests.tui.tmux import Tmux

from .conftest import percentile, setting

COURSE = Path(__file__).resolve().parents[2] / "courses" / "antipatterns"
# The target is on PSS, what the machine spends: summing RSS counts every shared library once per process.
MEMORY_TARGET_MB = 3 * 1024
CHECK_LATENCY_TARGET_MS = 500
LATENCY_RUNS = 30
IDLE_WINDOW = 10.0
IDLE_WINDOWS = 3  # the apps have just painted and still settle (first evaluations, the lab panel): the last counts
PARALLEL = 4  # learners starting at once: a room does not press Enter in the same second
SECOND_STEP = "Find out why, and fix it"


@dataclass
class Learner:
    index: int
    root: Path
    presenter_home: Path

    @property
    def name(self) -> str:
        return f"learner-{self.index:02d}"

    @property
    def home(self) -> Path:
        """The learner's folder in the workshop, as the app picks it from the name typed (engine.paths)."""
        return self.presenter_home / "learners" / self.name

    @property
    def env(self) -> dict[str, str]:
        user = self.root / "user-home"
        return {"DRIFTLAB_HOME": str(self.home), "HOME": str(user), "KUBECACHEDIR": str(user / "kube-cache")}

    @property
    def kubeconfig(self) -> Path:
        return self.home / "clusters" / "lab-antipatterns" / "lab.kubeconfig"

    def driftlab(self, *args: str, timeout: float = 180) -> proc.Result:
        return proc.run([sys.executable, "-m", "engine.cli", *args], env=self.env, timeout=timeout)

    def kubectl(self, *args: str) -> proc.Result:
        return proc.run([proc.tool("kubectl"), *args], env={**self.env, "KUBECONFIG": str(self.kubeconfig)})


def _must(result: proc.Result, what: str) -> proc.Result:
    assert result.ok, f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def learners(tmp_path: Path) -> Iterator[list[Learner]]:
    count = setting("DRIFTLAB_LOAD_LABS", 20)
    made = [Learner(i, tmp_path / f"learner-{i:02d}", tmp_path / "presenter-home") for i in range(count)]
    for learner in made:
        (learner.root / "user-home").mkdir(parents=True)
    try:
        yield made
    finally:
        with ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(lambda learner: learner.driftlab("lab", "down", "--all", "--purge"), made))
        for left in procs.under(tmp_path):
            proc.kill_group(left.pid)


def _lab_up(learner: Learner) -> float:
    start = time.perf_counter()
    _must(learner.driftlab("lab", "up", "antipatterns"), f"lab up for learner {learner.index}")
    return (time.perf_counter() - start) * 1000


def _solve_first_step(learner: Learner) -> proc.Result:
    """The first step's solution typed into bash in the course folder with the lab's KUBECONFIG, then
    `driftlab check` (which gives each check its timeout)."""
    step = load_course(COURSE).steps[0]
    env = {**learner.env, **tool_environment(learner.kubeconfig)}
    for command in step.solution.commands if step.solution else []:
        _must(proc.run(["bash", "-c", command], env=env, cwd=COURSE), f"learner {learner.index}: {command}")
    return learner.driftlab("check", "antipatterns")


def _check_latency(learners: list[Learner], runs: int) -> list[float]:
    """What the bench's check-latency figure measures, on one lab after another while all are up: from
    `kubectl patch` returning to the check watcher's re-evaluated result."""
    labs = max(1, min(len(learners), runs // 3))
    samples: list[float] = []
    for n in range(labs):
        learner = learners[n * len(learners) // labs]  # spread over the room
        samples += _latency_on(learner, runs // labs)
    return samples


def _latency_on(learner: Learner, runs: int) -> list[float]:
    from engine.checks.context import CheckContext
    from engine.checks.spec import Check
    from engine.checks.watcher import CheckWatcher

    even = {"kind": "cm", "name": "latency", "path": "{.data.n}", "expect": {"matches": "^[0-9]*[02468]$"}}
    checks = [Check.model_validate({"field": even})]
    _must(learner.kubectl("create", "configmap", "latency", "-n", "dev", "--from-literal=n=0"), "create")
    arrived: queue.Queue[float] = queue.Queue()
    samples = []
    context = CheckContext.from_kubeconfig(learner.kubeconfig, "dev")
    with CheckWatcher(checks, context, lambda _: arrived.put(time.perf_counter())):
        arrived.get(timeout=30)
        for i in range(1, runs + 1):
            patch = json.dumps({"data": {"n": str(i)}})
            _must(learner.kubectl("patch", "configmap", "latency", "-n", "dev", "-p", patch), "patch")
            changed = time.perf_counter()
            samples.append(max(arrived.get(timeout=30) - changed, 0) * 1000)
    _must(learner.kubectl("delete", "configmap", "latency", "-n", "dev"), "delete")
    return samples


@contextlib.contextmanager
def _apps(learners: list[Learner]) -> Iterator[list[Tmux]]:
    """`driftlab start --workshop antipatterns` for every learner (what `serve --workshop` runs), each in a
    120×40 tmux window with the presenter's home, the learner's name typed, open on the lesson."""
    windows: list[Tmux] = []
    try:
        for learner in learners:
            window = Tmux(learner.root)
            windows.append(window)
            env = {**learner.env, "DRIFTLAB_HOME": str(learner.presenter_home), "TERM": "xterm-256color",
                   "LANG": "C.UTF-8", "PATH": os.environ.get("PATH", "")}  # fmt: skip
            window.start([sys.executable, "-m", "engine.cli", "start", "--workshop", "antipatterns"], COURSE, env)
        for learner, window in zip(learners, windows, strict=True):
            window.wait_for(lambda screen: "Who are you?" in screen, "the name screen", 120)
            window.keys(learner.name)
            window.keys("Enter")
        for window in windows:
            window.wait_for(lambda screen: SECOND_STEP in screen, "the lesson on the second step", 300)
        yield windows
    finally:
        for window in windows:
            window.close()


def _idle_cpu(running: list[procs.Process]) -> dict[str, float]:
    """Percent of one core each kind of process uses over IDLE_WINDOW seconds in which nobody does anything."""
    before = {p.pid: p.cpu_seconds for p in running}
    time.sleep(IDLE_WINDOW)
    used: dict[str, float] = {}
    for p in running:
        used[p.role] = used.get(p.role, 0.0) + max(p.cpu_seconds - before[p.pid], 0.0) / IDLE_WINDOW * 100
    return used


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.load
@pytest.mark.timeout(1800)
def test_twenty_labs_on_one_machine(learners: list[Learner], tmp_path: Path) -> None:
    count = len(learners)
    with ThreadPoolExecutor(PARALLEL) as pool:
        up_times = list(pool.map(_lab_up, learners))

    running = procs.under(tmp_path)
    daemons = [p for p in running if p.role == "cluster daemon"]
    assert len(daemons) == count, f"expected {count} cluster daemons, found {running}"
    ports = procs.listening_ports({p.pid for p in running})
    assert len(ports) >= count, f"expected each of the {count} labs to listen, found ports {sorted(ports)}"

    with ThreadPoolExecutor(PARALLEL) as pool:
        checked = list(pool.map(_solve_first_step, learners))
    failed = [f"learner {i}: {r.stdout}{r.stderr}" for i, r in enumerate(checked) if not r.ok]
    assert not failed, "the first step's check did not pass after its solution:\n" + "\n".join(failed)
    first, second = (step.id for step in load_course(COURSE).steps[:2])
    for learner in learners:
        with ProgressStore(learner.home / "progress.sqlite3") as store:
            progress = store.load("antipatterns")
        assert progress.passed(first) and progress.current_step == second, f"learner {learner.index}: {progress}"

    apps_started = time.perf_counter()
    with _apps(learners):
        painted = time.perf_counter()
        for window in range(IDLE_WINDOWS):
            idle = _idle_cpu(procs.under(tmp_path))
            shown = ", ".join(f"{role} {used:.1f}%" for role, used in sorted(idle.items()) if used >= 0.1)
            since = f"{window * IDLE_WINDOW:.0f}–{(window + 1) * IDLE_WINDOW:.0f} s"
            print(f"\nCPU {since} after the apps painted: {shown}")
        apps_up = (painted - apps_started) * 1000
        running = procs.under(tmp_path)
        memory = [p for p in running if p.role in procs.ROLES.values()]  # not the kubectl a check runs now
        total_rss = sum(p.rss_mb for p in memory)
        total_pss = sum(p.pss_mb for p in memory)
        latencies = _check_latency(learners, LATENCY_RUNS)

    figures = [
        Figure(
            f"{count} labs up: PSS of all driftlab processes", total_pss, MEMORY_TARGET_MB, len(memory), "MB", "load"
        ),
        Figure(
            f"{count} labs up: check latency (kubectl change → re-evaluated result)",
            statistics.median(latencies),
            CHECK_LATENCY_TARGET_MS,
            len(latencies),
            group="load",
        ),
        Figure(f"{count} labs up: check latency p99", percentile(latencies, 99), None, len(latencies), group="load"),
        Figure(f"{count} labs: lab up, {PARALLEL} at a time", statistics.median(up_times), None, count, group="load"),
        Figure(f"{count} labs: all {count} apps opened at once, painted", apps_up, None, 1, group="load"),
        Figure(f"{count} labs up: RSS of all driftlab processes", total_rss, None, len(memory), "MB", "load"),
        Figure(f"{count} labs idle, apps open: CPU of all processes", sum(idle.values()), None, 1, "%", "load"),
    ]
    print()
    print(table([f.as_json() for f in figures]))
    by_role: dict[str, list[float]] = {}
    for found in running:
        by_role.setdefault(found.role, []).append(found.rss_mb)
    for role, sizes in sorted(by_role.items()):
        print(
            f"  {role}: {len(sizes)} processes, RSS {sum(sizes):.0f} MB (median {statistics.median(sizes):.1f} MB), "
            f"idle CPU {idle.get(role, 0.0):.1f}% of a core"
        )
    add_results(figures)

    with ThreadPoolExecutor(PARALLEL) as pool:
        downs = list(pool.map(lambda learner: learner.driftlab("lab", "down", "antipatterns"), learners))
    assert all(result.ok for result in downs), [r.stderr for r in downs if not r.ok]
    left = procs.under(tmp_path)
    assert left == [], f"processes left after lab down: {left}"
    assert not [port for port in ports if _answers(port)], "ports still answering after lab down"
    mounts = [line for line in Path("/proc/mounts").read_text().splitlines() if str(tmp_path) in line]
    assert not mounts, f"mounts left after lab down: {mounts}"

    for figure in figures:
        assert figure.ok, f"{figure.name}: {figure.median:.1f} {figure.unit}, target {figure.target}"
