"""Workshop mode on Linux: each learner's session runs in a network of its own, so every learner's embedded
cluster serves the course's NodePort on a 127.0.0.1 of their own. Two learners in `driftlab serve --workshop
antipatterns` both deploy the shop on 127.0.0.1:30100, and each one's curl and check reach their own shop; a
learner who comes back (a new tab, so a new network) finds their lab, objects and progress again. Where the
machine refuses namespaces the server says plainly that learners share 127.0.0.1.

What a learner types in their shell is run here with nsenter in their session's namespaces (those of their
cluster's daemon), with their folder and their lab's kubeconfig, as the lesson's terminal gives them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pyte
import pytest

from engine import netns, proc
from engine.cluster.embedded.record import read_record
from engine.lab.progress import ProgressStore
from engine.lab.runner import tool_environment
from engine.tui.web import app_command, binding_note
from engine.tui.workshop import LearnerNetwork, enter_own_network, network_for_learners, network_note
from tests.bench import procs

from .test_serve import DRIFTLAB, read_line, serving

COURSE = Path(__file__).resolve().parents[2] / "courses" / "antipatterns"
CLUSTER = "lab-antipatterns"
FIRST, SECOND, THIRD = "deploy-by-hand", "fix-the-order", "timing"
SECOND_TITLE, THIRD_TITLE = "Find out why, and fix it", "Same commands, different result"
SHOP = "http://127.0.0.1:30100/"
WAIT = 90.0

SHARED = (
    "workshop: learners share this machine's 127.0.0.1 ({}); courses with NodePorts will clash: a second "
    "learner's shop cannot take the port, and their curl reaches the first learner's shop"
)
OWN = (
    "workshop: each learner's session has a network of its own, so 127.0.0.1 there is theirs alone: their labs "
    "(on the embedded cluster) never clash on a port"
)


@functools.cache
def refused() -> str | None:
    """Why this machine cannot give a session a network of its own (None: it can), or a tool missing here."""
    if shutil.which("nsenter") is None or shutil.which("unshare") is None:
        return "nsenter and unshare (util-linux) are needed to act inside a learner's namespaces"
    return netns.probe()


# The decision, made once when the server starts ---------------------------------------------------------------


def test_the_server_decides_once_and_says_what_it_means() -> None:
    assert network_for_learners({}, probe=lambda: None) == LearnerNetwork(True)
    assert network_for_learners({"DRIFTLAB_BACKEND": "embedded"}, probe=lambda: None) == LearnerNetwork(True)
    assert network_for_learners({}, probe=lambda: "user namespaces are off") == LearnerNetwork(
        False, "user namespaces are off"
    )
    kind = network_for_learners({"DRIFTLAB_BACKEND": "kind"}, probe=lambda: pytest.fail("no need to probe"))
    assert kind == LearnerNetwork(
        False, "DRIFTLAB_BACKEND=kind: labs on that backend are reached through this machine's own network"
    )
    assert network_note(LearnerNetwork(True)) == OWN
    assert network_note(LearnerNetwork(False, "no namespaces")) == SHARED.format("no namespaces")
    lines = binding_note("127.0.0.1", 8000, "http://127.0.0.1:8000", [], LearnerNetwork(True))
    assert lines[-1] == OWN
    python = sys.executable
    assert (
        app_command(None, workshop=True, own_network=True) == f"{python} -m engine.cli start --workshop --own-network"
    )
    assert app_command("antipatterns", trusted=True, workshop=True, own_network=True) == (
        f"{python} -m engine.cli start --workshop --own-network antipatterns --trust"
    )


def test_a_session_the_system_refuses_after_all_shares_the_network_and_one_half_made_stops(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("DRIFTLAB_BACKEND", raising=False)

    def refuse(moved: bool) -> Callable[[], None]:
        def isolate() -> None:
            raise netns.IsolationError("user namespaces are off", moved=moved)

        return isolate

    monkeypatch.setattr(netns, "isolate", refuse(False))
    assert enter_own_network() is False
    assert "this session shares the machine's 127.0.0.1: user namespaces are off" in caplog.text
    assert "DRIFTLAB_BACKEND" not in os.environ
    monkeypatch.setattr(netns, "isolate", refuse(True))
    with pytest.raises(netns.IsolationError, match="user namespaces are off"):
        enter_own_network()
    monkeypatch.setattr(netns, "isolate", lambda: None)
    assert enter_own_network() is True
    assert os.environ["DRIFTLAB_BACKEND"] == "embedded"


def test_own_network_goes_with_workshop() -> None:
    result = subprocess.run([sys.executable, "-m", "engine.cli", "start", "--own-network", "antipatterns"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "--own-network goes with --workshop" in result.stderr


def test_a_process_that_runs_threads_is_refused_saying_why() -> None:
    code = (
        "import threading, engine.netns as n\n"
        "held = threading.Event()\n"
        "threading.Thread(target=held.wait, daemon=True).start()\n"
        "raise SystemExit(n.main())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (
        1,
        "a process must make its namespaces before it starts any thread",
    )


@pytest.mark.skipif(refused() is not None, reason=f"no network namespaces here: {refused()}")
def test_an_isolated_process_has_a_loopback_of_its_own() -> None:
    """A port this machine's 127.0.0.1 holds is free in the namespace, and a listener there is reached there."""
    code = (
        "import socket, sys, engine.netns as n\n"
        "n.isolate()\n"
        "port = int(sys.argv[1])\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
        "    print('reached the outside listener')\n"
        "except OSError:\n"
        "    pass\n"
        "with socket.socket() as mine:\n"
        "    mine.bind(('127.0.0.1', port)); mine.listen(1)\n"
        "    socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
        "print('own', port)\n"
    )
    with socket.socket() as outside:
        outside.bind(("127.0.0.1", 0))
        outside.listen(1)
        port = outside.getsockname()[1]
        result = subprocess.run([sys.executable, "-c", code, str(port)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"own {port}\n", "")


@pytest.mark.skipif(not DRIFTLAB.exists() or shutil.which("unshare") is None, reason="needs driftlab and unshare")
def test_where_namespaces_are_refused_the_banner_says_learners_share_127_0_0_1(driftlab_home: Path) -> None:
    """The server runs where user namespaces are limited to none (as a sysctl or AppArmor can make them)."""
    limit = "echo 0 > /proc/sys/user/max_user_namespaces"
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c", limit], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a user namespace with no user namespaces in it: {probe.stderr.decode().strip()}")
    port = free_port()
    command = f'{limit} && exec "$0" serve --workshop --port {port}'
    env = {**os.environ, "DRIFTLAB_HOME": str(driftlab_home)}
    server = subprocess.Popen(["unshare", "--user", "--map-root-user", "sh", "-c", command, str(DRIFTLAB)],
                              env=env, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        said = banner(server)
    finally:
        server.kill()
        server.wait(10)
    reason = "the limit of user or network namespaces is reached (user.max_user_namespaces, user.max_net_namespaces)"
    assert said[0] == f"Serving a driftlab workshop at http://127.0.0.1:{port} (Ctrl+C stops it)"
    assert said[2] == SHARED.format(reason)


def banner(server: subprocess.Popen[str]) -> list[str]:
    """The three lines a workshop server says once it listens (said together: the last two are buffered)."""
    first = read_line(server.stderr, 30)
    assert server.stderr is not None
    return [line.strip() for line in (first, server.stderr.readline(), server.stderr.readline())]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Two learners and a reconnect, through the real server ------------------------------------------------------


class Tab:
    """One browser tab on the workshop: what its terminal shows, read as it comes in (so the app never waits
    on a browser that does not read)."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        self.websocket = websocket
        self.screen = pyte.Screen(110, 34)
        self.stream = pyte.ByteStream(self.screen)
        self.changed = asyncio.Event()
        self.closed = False

    async def read(self) -> None:
        async for message in self.websocket:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.stream.feed(message.data)
                self.changed.set()
        self.closed = True
        self.changed.set()

    def shows(self, text: str) -> bool:
        return any(text in line for line in self.screen.display)

    async def until(self, text: str, timeout: float = WAIT) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.shows(text):
            assert not self.closed, f"the tab closed before showing {text!r}:\n" + "\n".join(self.screen.display)
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(deadline - loop.time(), 0.01))
            except TimeoutError:
                raise AssertionError(f"{text!r} not shown:\n" + "\n".join(self.screen.display)) from None

    async def type(self, text: str) -> None:
        await self.websocket.send_json(["stdin", text])


@contextlib.asynccontextmanager
async def tab(port: int, learner: str) -> AsyncIterator[Tab]:
    """A tab whose learner typed their name and whose lesson says the lab is ready."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{port}/ws?width=110&height=34") as websocket,
    ):
        opened = Tab(websocket)
        reader = asyncio.create_task(opened.read())
        try:
            await opened.until("Who are you?")
            await opened.type(learner + "\r")
            await opened.until("lab ready")
            yield opened
        finally:
            await websocket.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


class Learner:
    """A learner of the workshop: their folder, and their shell in their session's namespaces."""

    def __init__(self, presenter_home: Path, name: str, tmp_path: Path) -> None:
        self.name = name
        self.home = presenter_home / "learners" / name
        self.cache = tmp_path / f"kube-cache-{name}"

    @property
    def cluster_pid(self) -> int:
        pid = read_record(self.home / "clusters" / CLUSTER).get("pid")
        assert isinstance(pid, int), f"{self.name} has no cluster daemon"
        return pid

    def shell(self, command: str, timeout: float = 120) -> proc.Result:
        """`command` in bash in the course folder, in the namespaces of this learner's cluster daemon."""
        kubeconfig = self.home / "clusters" / CLUSTER / "lab.kubeconfig"
        env = {"DRIFTLAB_HOME": str(self.home), "KUBECACHEDIR": str(self.cache), **tool_environment(kubeconfig)}
        enter = ["nsenter", "--target", str(self.cluster_pid), "--user", "--net", "--preserve-credentials"]
        return proc.run([*enter, "bash", "-c", command], env=env, cwd=COURSE, timeout=timeout)

    def must(self, command: str) -> str:
        result = self.shell(command)
        assert result.ok, f"{self.name}: {command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def shop_pod(self) -> str:
        """Who answers this learner's curl on 127.0.0.1:30100: a pod of their own cluster (checked here)."""
        answer = json.loads(self.must(f"curl -s --max-time 3 {SHOP}"))
        pods = self.must("kubectl get pods -n dev -l app=shop -o name").split()
        assert f"pod/{answer['pod']}" in pods, f"{self.name}'s curl reached {answer}, not one of their pods {pods}"
        return str(answer["pod"])

    def progress(self) -> tuple[bool, str | None]:
        with ProgressStore(self.home / "progress.sqlite3") as store:
            found = store.load("antipatterns")
        return found.passed(FIRST), found.current_step


def network_of(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


@pytest.fixture
def workshop(driftlab_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, Path]]:
    """`driftlab serve --workshop antipatterns`, which said that each learner has a network of their own; the
    labs' pods start five times faster than a workshop's."""
    reason = refused()
    if reason is not None:
        pytest.skip(f"no network namespaces here: {reason}")
    monkeypatch.setenv("DRIFTLAB_TIMING_SCALE", "0.2")
    try:
        with serving(driftlab_home, "--workshop", "antipatterns") as (server, port):
            said = banner(server)
            assert said[2] == OWN
            yield port, driftlab_home
    finally:
        for left in procs.under(tmp_path):
            proc.kill_group(left.pid)
            proc.stop(left.pid, 5)


def test_two_learners_each_reach_their_own_shop_on_127_0_0_1_and_come_back_to_it(
    workshop: tuple[int, Path], tmp_path: Path
) -> None:
    port, home = workshop
    ada, bob = Learner(home, "ada", tmp_path), Learner(home, "bob", tmp_path)

    async def first_steps(learner: Learner, lesson: Tab) -> None:
        """Step 1 as its solution says, then step 2's fix: the lesson's own checks (which ask the shop on
        127.0.0.1:30100 and make sure one of the learner's pods answered) record both steps."""
        await asyncio.to_thread(learner.must, "kubectl apply -f manifests/dev/shop.yaml")
        await lesson.until("Step 1 done ✓")
        await lesson.type("n")
        await lesson.until(SECOND_TITLE)
        await asyncio.to_thread(learner.must, "kubectl apply -f manifests/dev/shop-config.yaml")
        await lesson.until("Step 2 done ✓")

    async def both_learners() -> None:
        async with tab(port, "ada") as ada_tab, tab(port, "bob") as bob_tab:
            networks = {network_of(ada.cluster_pid), network_of(bob.cluster_pid), network_of(os.getpid())}
            assert len(networks) == 3
            await asyncio.gather(first_steps(ada, ada_tab), first_steps(bob, bob_tab))

    asyncio.run(both_learners())
    ada_pods = {ada.shop_pod() for _ in range(3)}
    bob_pods = {bob.shop_pod() for _ in range(3)}
    assert ada_pods and bob_pods and not ada_pods & bob_pods
    for learner in (ada, bob):
        assert learner.must("kubectl get events -n dev --field-selector reason=FailedToOpenNodePort -o name") == ""
        assert learner.progress() == (True, THIRD)

    # Ada's browser drops and she comes back: a new tab, a new network. Her cluster from before still runs in
    # the old one, where nobody reaches it; the lesson's `lab up` replaces it.
    before = ada.cluster_pid
    old_network = network_of(before)

    async def ada_again() -> None:
        async with tab(port, "ada") as again:
            await again.until(THIRD_TITLE)

    asyncio.run(ada_again())
    assert ada.cluster_pid != before and not proc.alive(before)
    assert network_of(ada.cluster_pid) not in (old_network, network_of(bob.cluster_pid))
    ada.must("kubectl rollout status deployment/shop -n dev --timeout=60s")
    assert ada.shop_pod() not in bob_pods
    # Her tab is closed (nothing else records progress now); step 2's checks pass again in her new network.
    said = ada.must(f"driftlab check antipatterns --step {SECOND}")
    assert f"step {SECOND} passed" in said and f'answers from {SHOP} show "version": "1.0.0"' in said
    assert ada.progress() == (True, THIRD) and bob.progress() == (True, THIRD)
    bob.shop_pod()  # Bob's shop, in Bob's network, was left alone
