"""Controlling an embedded cluster from the command line: start, stop, inspect, and hand out a kubeconfig."""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ... import paths, proc
from ...errors import DriftlabError
from .. import kubeconfig
from .record import LOG_FILE, read_record

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    running: bool
    pid: int | None
    server: str | None
    state_dir: Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(server: str) -> bool:
    try:
        with urllib.request.urlopen(f"{server}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class EmbeddedCluster:
    """An embedded cluster named `name`, whose state lives under the driftlab home."""

    def __init__(self, name: str) -> None:
        self.name = paths.check_name(name)

    @property
    def state_dir(self) -> Path:
        return paths.cluster_dir(self.name)

    def exists(self) -> bool:
        return (paths.clusters_dir() / self.name).is_dir()

    def status(self) -> ClusterStatus:
        record = read_record(self.state_dir) if self.exists() else {}
        pid = record.get("pid")
        port = record.get("port")
        server = f"http://127.0.0.1:{port}" if port else None
        running = isinstance(pid, int) and _alive(pid) and server is not None and _answers(server)
        return ClusterStatus(self.name, running, pid if isinstance(pid, int) else None, server, self.state_dir)

    def up(self) -> ClusterStatus:
        """Start the daemon unless it already runs; return once the API answers."""
        current = self.status()
        if current.running:
            return current
        if current.pid and _alive(current.pid):
            self._stop_pid(current.pid)
        read_fd, write_fd = os.pipe()
        try:
            child = proc.spawn_detached(
                [
                    sys.executable,
                    "-m",
                    "engine.cluster.embedded.daemon",
                    "--state",
                    str(self.state_dir),
                    "--name",
                    self.name,
                    "--ready-fd",
                    str(write_fd),
                ],
                log_path=self.state_dir / LOG_FILE,
                pass_fds=(write_fd,),
            )
            os.close(write_fd)
            write_fd = -1
            ready, _, _ = select.select([read_fd], [], [], START_TIMEOUT)
            message = os.read(read_fd, 64) if ready else b""
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        if not message.startswith(b"ready"):
            if child.poll() is None:
                child.terminate()
            raise DriftlabError(
                f"the embedded cluster {self.name!r} did not start; its log is {self.state_dir / LOG_FILE}:\n"
                + self._log_tail()
            )
        return self.status()

    def down(self, purge: bool = False) -> bool:
        """Stop the daemon; with purge, also delete every object and the state folder. True if it was running."""
        status = self.status() if self.exists() else None
        was_running = bool(status and status.pid and _alive(status.pid))
        if status and status.pid and was_running:
            self._stop_pid(status.pid)
        if purge and self.exists():
            shutil.rmtree(self.state_dir)
        return was_running

    def kubeconfig(self) -> str:
        record = read_record(self.state_dir) if self.exists() else {}
        port = record.get("port")
        if not port:
            raise DriftlabError(
                f"there is no cluster named {self.name!r}; create it with: driftlab cluster up --name {self.name}"
            )
        return kubeconfig.render(self.name, f"http://127.0.0.1:{port}")

    def _stop_pid(self, pid: int) -> None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not _alive(pid) or _is_zombie(pid):
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.state_dir / LOG_FILE).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False
