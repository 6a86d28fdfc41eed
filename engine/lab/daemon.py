"""The lab's daemon: a detached process per lab that serves its Git repos, runs their push pipelines and hosts
the lab's embedded GitOps agents.

`LabRuntime.up()` starts it when the lab defines `repos` or `agents`; `down` stops it. At start it seeds the
repos from `<lab folder>/repos/` (existing ones are kept), serves them with `GitServer` on 127.0.0.1 at the
port of the last run when it is still free, and hands every push to a `PipelineRunner` whose steps get the
lab's kubeconfig in KUBECONFIG, and to the GitOps agents the lab names (Flux, Argo CD), which it starts
against the lab's cluster right after it answers (so `lab up` does not wait for them). On a kind cluster the
Git server also listens on the kind network's gateway (given as extra hosts, never all interfaces), so the
real agents inside the cluster can pull from it, and each push is told to those agents at once (`--notify`,
see gitops/notify.py). Like the embedded cluster's daemon it tells its parent it
is ready through an inherited pipe, and keeps its pid and port in a small record (`daemon.json`) in the
lab's state folder, beside its log. It can also be started ahead of a cluster that is starting (`start_ahead`):
it then loads, seeds and serves meanwhile, and writes its record and says it is ready only once its parent has
told it the cluster's pid through a second pipe (or stops, when the pipe closes untold: the cluster never came
up). What the first answer does not need (the agents, the pipeline file's model, GitPython for runs) is loaded
after it. It holds a lock for its lifetime, so a pid in the record that is alive
but not holding the lock belongs to some other process. It stops by itself when the cluster it was started
for stops, so labs that are removed by stopping their cluster (course tests) leave nothing behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import paths, proc
from ..errors import DriftlabError

if TYPE_CHECKING:
    from ..gitops.agents import GitOpsAgents
    from ..gitops.notify import PushNotifier
    from ..gitserver.events import PushEvent
    from ..pipeline import PipelineRunner

RECORD_FILE = "daemon.json"
LOCK_FILE = "daemon.lock"
LOG_FILE = "daemon.log"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CLUSTER_WAIT_TIMEOUT = 4 * START_TIMEOUT  # a daemon started ahead of its cluster waits this long to hear of it
ANSWER_TIMEOUT = 2.0
CLUSTER_WATCH_INTERVAL = 2.0
AGENT_RETRY_START = 1.0
AGENT_RETRY_MAX = 30.0
HOST = "127.0.0.1"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabDaemonStatus:
    """Whether the lab's daemon runs, and where its Git server listens."""

    running: bool
    pid: int | None
    port: int | None
    cluster_pid: int | None = None
    hosts: tuple[str, ...] = ()

    @property
    def git_url(self) -> str | None:
        """The Git server's base URL (the last one known when the daemon is stopped)."""
        return f"http://{HOST}:{self.port}" if self.port else None

    def url_on(self, host: str) -> str | None:
        """The Git server's base URL on one of the addresses it listens on (None when it does not)."""
        if not self.port or (host != HOST and host not in self.hosts):
            return None
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"


# Record ------------------------------------------------------------------------------------------------------


def read_record(state: Path) -> dict[str, Any]:
    try:
        data = json.loads((state / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_record(state: Path, record: dict[str, Any]) -> None:
    paths.write_private(state / RECORD_FILE, json.dumps(record, indent=2) + "\n")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _lock_held(state: Path) -> bool:
    """Whether some process (the daemon) holds the state folder's lock."""
    try:
        with open(state / LOCK_FILE, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except OSError:
        return False


def answers(port: int, timeout: float = ANSWER_TIMEOUT) -> bool:
    """Whether the Git server answers an HTTP request. A connection alone proves nothing: the kernel accepts
    connections for a daemon that is stopped or stuck, which then never replies."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"HEAD / HTTP/1.0\r\nHost: " + HOST.encode() + b"\r\n\r\n")
            sock.recv(1)  # any reply, even closing the connection, is the daemon acting
            return True
    except ConnectionResetError:
        return True
    except OSError:
        return False


def silent(port: int, timeout: float = ANSWER_TIMEOUT) -> bool:
    """Whether a daemon takes connections on the port but never replies: stopped or stuck (not merely gone)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"HEAD / HTTP/1.0\r\nHost: " + HOST.encode() + b"\r\n\r\n")
            sock.recv(1)
            return False
    except TimeoutError:
        return True
    except OSError:
        return False


def session_members(leader: int) -> list[int]:
    """Processes still in the session a daemon led (it starts one of its own): what it started and left behind
    when it died (a Git backend serving a push, say). Linux /proc; elsewhere none are found."""
    return [pid for pid in proc.members(session=leader) if pid != leader]


def end_leftovers(leader: int) -> list[int]:
    """Kill what a daemon that is gone left in its session; their pids. Only once the leader is gone: then no
    new process can take the session's id, so every member found is the dead daemon's."""
    if proc.alive(leader):
        return []
    members = session_members(leader)
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return members


# Control (from the command line) -----------------------------------------------------------------------------


class LabDaemon:
    """The daemon of one lab, by the name of its state folder (see `paths.lab_dir`)."""

    def __init__(
        self,
        name: str,
        repos_dir: Path,
        kubeconfig: Path,
        cluster: str = "",
        agents: Sequence[str] = (),
        agent_scale: float = 1.0,
        hosts: Sequence[str] | Callable[[], Sequence[str]] = (),
        notify: Sequence[str] = (),
    ) -> None:
        self.name = paths.check_name(name)
        self.repos_dir = Path(repos_dir)
        self.kubeconfig = Path(kubeconfig)
        self.cluster = cluster
        self.agents = list(agents)
        self.agent_scale = agent_scale
        self._hosts = hosts
        self.notify = list(notify)

    def hosts(self) -> list[str]:
        """Addresses the Git server listens on besides 127.0.0.1 (asked for only when the daemon starts: finding
        the kind network's gateway runs the container runtime)."""
        return list(self._hosts() if callable(self._hosts) else self._hosts)

    @property
    def state_dir(self) -> Path:
        return paths.lab_dir(self.name)

    @property
    def log_path(self) -> Path:
        return self.state_dir / LOG_FILE

    def status(self) -> LabDaemonStatus:
        record = read_record(self.state_dir)
        pid, port = _int(record.get("pid")), _int(record.get("port"))
        running = pid is not None and proc.alive(pid) and _lock_held(self.state_dir)
        hosts = tuple(str(host) for host in record.get("hosts") or [] if isinstance(host, str))
        return LabDaemonStatus(running, pid if running else None, port, _int(record.get("cluster_pid")), hosts)

    def up(self, cluster_pid: int | None = None) -> LabDaemonStatus:
        """Start the daemon unless a healthy one serves this lab for this cluster; return once it serves."""
        hosts = self.hosts()
        current = self.status()
        record = read_record(self.state_dir)
        same = (
            current.cluster_pid == cluster_pid
            and record.get("agents", []) == self.agents
            and record.get("notify", []) == self.notify
            and list(record.get("hosts") or []) == list(hosts)
        )
        answering = bool(current.running and current.port and answers(current.port))
        if answering and same:
            return current
        self._clear(current, record, answering)
        args = self._args(hosts)
        if cluster_pid is not None:
            args += ["--cluster-pid", str(cluster_pid)]
        self._spawn(args)
        return self.status()

    def start_ahead(self) -> PendingDaemon:
        """Start a new daemon for a cluster that is about to start, without waiting for it: it loads, seeds its
        repos and opens its Git server while the cluster starts, then waits to be told the cluster's pid
        (`PendingDaemon.serve`). A daemon running now serves a cluster that is gone (a cluster that starts gets
        a new pid), so it is replaced."""
        hosts = self.hosts()
        current = self.status()
        record = read_record(self.state_dir)
        self._clear(current, record, bool(current.running and current.port and answers(current.port)))
        return PendingDaemon.launch(self, self._args(hosts))

    def _clear(self, current: LabDaemonStatus, record: dict[str, Any], answering: bool) -> None:
        """Stop the daemon running now, end what a crashed one left, and make the state folder ready."""
        if current.running and current.pid:
            if answering:
                proc.stop(current.pid, STOP_TIMEOUT)
            else:  # stuck or stopped: it would not act on SIGTERM either
                log.warning("the daemon of lab %s (pid %d) does not answer; killing it", self.name, current.pid)
                proc.kill_group(current.pid)
                _wait_gone(current.pid, STOP_TIMEOUT)
        old = _int(record.get("pid"))
        if old is not None:
            end_leftovers(old)
        paths.private_dir(self.state_dir)

    def _args(self, hosts: Sequence[str]) -> list[str]:
        """The daemon's command line, but for the cluster's pid and the pipes."""
        args = [
            sys.executable,
            "-m",
            "engine.lab.daemon",
            "--name",
            self.name,
            "--repos",
            str(self.repos_dir),
            "--kubeconfig",
            str(self.kubeconfig),
        ]
        if self.cluster:
            args += ["--cluster", self.cluster]
        if self.agents:
            args += ["--agents", ",".join(self.agents), "--agent-scale", str(self.agent_scale)]
        if self.notify:
            args += ["--notify", ",".join(self.notify)]
        for host in hosts:
            args += ["--host", host]
        return args

    def failed(self) -> DriftlabError:
        """The error of a daemon that did not start, with its log's tail."""
        return DriftlabError(
            f"the Git server, pipelines and agents of lab {self.name!r} did not start; "
            f"its log is {self.log_path}:\n" + proc.log_tail(self.log_path)
        )

    def down(self) -> bool:
        """Stop the daemon; True if it was running. A pid a crash left in the record is dropped either way."""
        status = self.status()
        if status.pid is not None:
            if not (status.port and answers(status.port)):
                with contextlib.suppress(ProcessLookupError):  # a stopped daemon acts on SIGTERM once it runs
                    os.kill(status.pid, signal.SIGCONT)
            proc.stop(status.pid, STOP_TIMEOUT)
        record = read_record(self.state_dir)
        old = _int(record.get("pid"))
        if old is not None:
            end_leftovers(old)
        if "pid" in record:
            record.pop("pid")
            write_record(self.state_dir, record)
        return status.pid is not None

    def _spawn(self, args: list[str]) -> None:
        if not proc.start_daemon(args, log_path=self.log_path, timeout=START_TIMEOUT):
            raise self.failed()


@dataclass
class PendingDaemon:
    """A lab daemon started ahead of its cluster (`LabDaemon.start_ahead`), not yet told the cluster's pid.

    Exactly one of `serve` and `cancel` must follow: until then the daemon holds the lab's lock and waits
    (at most CLUSTER_WAIT_TIMEOUT, or until this process ends)."""

    daemon: LabDaemon
    child: subprocess.Popen[bytes]
    ready_fd: int
    cluster_fd: int

    @classmethod
    def launch(cls, daemon: LabDaemon, args: list[str]) -> PendingDaemon:
        ready_read, ready_write = os.pipe()
        cluster_read, cluster_write = os.pipe()
        try:
            child = proc.spawn_detached(
                [*args, "--ready-fd", str(ready_write), "--cluster-pid-fd", str(cluster_read)],
                log_path=daemon.log_path,
                pass_fds=(ready_write, cluster_read),
            )
        except BaseException:
            for fd in (ready_read, cluster_write):
                os.close(fd)
            raise
        finally:
            os.close(ready_write)
            os.close(cluster_read)
        return cls(daemon, child, ready_read, cluster_write)

    def serve(self, cluster_pid: int | None, timeout: float = START_TIMEOUT) -> LabDaemonStatus:
        """Tell the daemon its cluster's pid (None: a cluster without one) and return once it serves."""
        try:
            with contextlib.suppress(OSError):  # a daemon that died already: its silence on the pipe says so
                os.write(self.cluster_fd, f"{cluster_pid or ''}\n".encode())
            self._close("cluster_fd")
            ready, _, _ = select.select([self.ready_fd], [], [], timeout)
            message = os.read(self.ready_fd, 64) if ready else b""
        finally:
            self.cancel()
        if not message.startswith(b"ready"):
            if self.child.poll() is None:
                self.child.terminate()
            raise self.daemon.failed()
        return self.daemon.status()

    def cancel(self) -> None:
        """Give the daemon up (the cluster did not start): it sees its pipe close untold and stops by itself."""
        self._close("cluster_fd")
        self._close("ready_fd")

    def _close(self, which: str) -> None:
        fd = getattr(self, which)
        if fd >= 0:
            setattr(self, which, -1)
            os.close(fd)


def _wait_gone(pid: int, timeout: float) -> None:
    """Wait for a process that is not our child to end (a pidfd, where Linux has one)."""
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, AttributeError, OSError):
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def stop_all(clusters: set[str] | None = None) -> list[str]:
    """Stop every lab daemon (only those started for the named clusters, when given); their names."""
    root = paths.lab_states_dir()
    if not root.is_dir():
        return []
    stopped = []
    for folder in sorted(child for child in root.iterdir() if (child / RECORD_FILE).is_file()):
        record = read_record(folder)
        if clusters is not None and record.get("cluster") not in clusters:
            continue
        with contextlib.suppress(ValueError):
            if LabDaemon(folder.name, Path(), Path()).down():
                stopped.append(folder.name)
    return stopped


# The daemon itself -------------------------------------------------------------------------------------------


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


async def _watch_cluster(pid: int, stop: asyncio.Event) -> None:
    """Stop the daemon once the cluster it serves is gone: its pipelines would have nothing to deploy to."""
    while not stop.is_set():
        if not proc.alive(pid):
            log.info("the lab's cluster (pid %d) stopped; stopping", pid)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CLUSTER_WATCH_INTERVAL)


class _Pushes:
    """Where the Git server's pushes go: the pipelines, and the agents once they are made (before, they have no
    objects to queue: they list everything when they start) or the real agents' notifier."""

    def __init__(self, runner: PipelineRunner, notifier: PushNotifier | None) -> None:
        self.runner = runner
        self.notifier = notifier
        self.agents: GitOpsAgents | None = None

    def on_push(self, event: PushEvent) -> None:
        self.runner.on_push(event)
        agents = self.agents
        if agents is not None:
            agents.on_push(event)
        if self.notifier is not None:
            self.notifier.on_push(event)


class ClusterNeverStarted(Exception):
    """The parent closed the cluster's pipe without a pid, or said nothing in time: there is nothing to serve."""


def _cluster_pid(fd: int, timeout: float = CLUSTER_WAIT_TIMEOUT) -> int | None:
    """The cluster's pid as the parent tells it through `fd`: one line, empty for a cluster without a pid."""
    told = b""
    deadline = time.monotonic() + timeout
    try:
        while not told.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            chunk = os.read(fd, 64) if ready else b""
            if not chunk:
                why = "the lab's cluster did not start" if ready else "no word of the lab's cluster in time"
                raise ClusterNeverStarted(why)
            told += chunk
    finally:
        os.close(fd)
    text = told.decode(errors="replace").strip()
    return _int(int(text)) if text.isdigit() else None


async def serve(args: argparse.Namespace) -> None:
    # Only what the first answer needs is loaded here: the agents (and their clients) load once it is given.
    from ..gitserver.credentials import Credentials
    from ..gitserver.seed import seed_repos
    from ..gitserver.server import GitServer
    from ..pipeline.runner import PipelineRunner

    name: str = args.name
    state = paths.lab_dir(name)
    root = paths.git_repos_dir(name)
    credentials = Credentials.load_or_generate(paths.git_credentials_file(name))
    seeded = await asyncio.to_thread(seed_repos, root, args.repos)
    log.info("repositories: %s", ", ".join(seeded) or "(none)")
    runner = PipelineRunner(paths.pipeline_store(name), root, env={"KUBECONFIG": str(args.kubeconfig)}, secrets={})
    notifier: PushNotifier | None = None
    if args.notify:
        from ..gitops.notify import PushNotifier

        notifier = PushNotifier(args.kubeconfig, args.notify)
    pushes = _Pushes(runner, notifier)

    recorded = _int(read_record(state).get("port")) or 0
    port = recorded if recorded and _port_is_free(recorded) else 0
    server = GitServer(root, credentials, on_push=pushes.on_push, host=[HOST, *args.host], port=port)
    await runner.start()
    try:
        await server.start()
    except BaseException:
        await runner.stop()
        raise
    if notifier is not None:
        notifier.git_servers = server.urls
    cluster_pid: int | None = args.cluster_pid
    if args.cluster_pid_fd is not None:
        try:
            cluster_pid = await asyncio.to_thread(_cluster_pid, args.cluster_pid_fd)
        except ClusterNeverStarted as err:
            log.info("%s; stopping", err)
            await server.stop()
            await runner.stop()
            return
    write_record(
        state,
        {
            "name": name,
            "cluster": args.cluster,
            "pid": os.getpid(),
            "port": server.port,
            "cluster_pid": cluster_pid,
            "agents": args.agents,
            "notify": args.notify,
            "hosts": args.host,
            "started": time.time(),
        },
    )
    if args.ready_fd is not None:
        os.write(args.ready_fd, b"ready\n")
        os.close(args.ready_fd)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_watch_cluster(cluster_pid, stop)) if cluster_pid else None
    starting = asyncio.create_task(_start_agents(pushes, args, server.urls, stop)) if args.agents else None
    await stop.wait()
    if watcher is not None:
        watcher.cancel()
    await server.stop()
    if starting is not None:
        await starting
    if pushes.agents is not None:
        await asyncio.to_thread(pushes.agents.stop)
    if notifier is not None:
        notifier.close()
    await runner.stop()
    record = read_record(state)
    record.pop("pid", None)
    write_record(state, record)


def _make_agents(args: argparse.Namespace, git_servers: list[str]) -> GitOpsAgents:
    """The lab's embedded agents (loading them and their clients takes a while: this runs once the daemon
    answers, on a thread of its own)."""
    from ..gitops.agents import GitOpsAgents
    from ..gitops.controller import Timing

    agents = GitOpsAgents(args.kubeconfig, paths.lab_dir(args.name) / "gitops", args.agents, Timing(args.agent_scale))
    agents.git_servers = git_servers
    return agents


async def _start_agents(pushes: _Pushes, args: argparse.Namespace, git_servers: list[str], stop: asyncio.Event) -> None:
    """Start the GitOps agents once the daemon answers, so `lab up` does not wait for them: like controllers
    starting in a cluster, they list what was applied meanwhile and reconcile it. A failure (the cluster
    restarting, say) is logged and retried with a growing delay until the daemon stops."""
    delay = AGENT_RETRY_START
    while not stop.is_set():
        try:
            if pushes.agents is None:
                pushes.agents = await asyncio.to_thread(_make_agents, args, git_servers)
            await asyncio.to_thread(pushes.agents.start)
            return
        except Exception as err:
            log.error("the GitOps agents did not start (%s); retrying in %.0fs", err, delay)
            if pushes.agents is not None:
                await asyncio.to_thread(pushes.agents.stop)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, AGENT_RETRY_MAX)


def _agent_list(text: str) -> list[str]:
    return [name for name in text.split(",") if name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="driftlab-lab-daemon")
    parser.add_argument("--name", required=True)
    parser.add_argument("--repos", required=True, type=Path)
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--cluster", default="")
    parser.add_argument("--cluster-pid", type=int)
    parser.add_argument("--agents", type=_agent_list, default=[])
    parser.add_argument("--agent-scale", type=float, default=1.0)
    parser.add_argument("--notify", type=_agent_list, default=[], help="Real agents in the cluster to tell of pushes.")
    parser.add_argument("--host", action="append", default=[], help="Another address to serve Git on.")
    parser.add_argument("--ready-fd", type=int)
    parser.add_argument("--cluster-pid-fd", type=int, help="A pipe that tells the cluster's pid once it runs.")
    args = parser.parse_args(argv)
    paths.private_umask()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = paths.private_dir(paths.lab_dir(args.name))
    paths.make_private(state / LOG_FILE)
    lock = open(state / LOCK_FILE, "a")  # noqa: SIM115 - held for the daemon's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(f"another lab daemon already serves {state}", file=sys.stderr)
        return 3
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args))
    except Exception as err:  # the parent shows the log's tail; say what went wrong there
        log.exception("the lab daemon failed: %s", err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
