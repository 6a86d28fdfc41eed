"""Controlling an embedded cluster from the command line: start, stop, inspect, and hand out a kubeconfig."""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import urllib.request
from pathlib import Path

from ... import paths, proc
from ...errors import DriftlabError
from .. import kubeconfig
from ..backend import ClusterStatus, Progress
from . import tls
from .record import LOG_FILE, read_record, write_record

__all__ = ["ClusterStatus", "EmbeddedCluster"]

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
HOST = "127.0.0.1"


def server_url(port: object) -> str | None:
    """The API's address as kubeconfigs name it (HTTPS on the loopback address)."""
    return f"https://{HOST}:{port}" if port else None


def _answers(server: str, state: Path) -> bool:
    """Whether the API answers `/healthz` over TLS with this cluster's CA (health needs no token)."""
    found = tls.read_client_credentials(state)
    if found is None:
        return False
    try:
        context = tls.client_context(found[0])
        with urllib.request.urlopen(f"{server}/healthz", timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


class EmbeddedCluster:
    """An embedded cluster named `name`, whose state lives under the driftlab home."""

    backend = "embedded"
    embedded_agents = True

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
        server = server_url(port)
        running = isinstance(pid, int) and proc.alive(pid) and server is not None and _answers(server, self.state_dir)
        return ClusterStatus(self.name, running, pid if isinstance(pid, int) else None, server, self.state_dir)

    def up(self, progress: Progress | None = None) -> ClusterStatus:
        """Start the daemon unless it already runs; return once the API answers (it starts too fast to need
        `progress`)."""
        current = self.status()
        if current.running:
            return current
        if current.pid and proc.alive(current.pid):
            proc.stop(current.pid, STOP_TIMEOUT)
        maker = self._make_credentials() if tls.missing(self.state_dir) else None
        started = proc.start_daemon(
            [
                sys.executable,
                "-m",
                "engine.cluster.embedded.daemon",
                "--state",
                str(self.state_dir),
                "--name",
                self.name,
            ],
            log_path=self.state_dir / LOG_FILE,
            timeout=START_TIMEOUT,
        )
        if maker is not None:
            maker.join()
        if not started:
            raise DriftlabError(
                f"the embedded cluster {self.name!r} did not start; its log is {self.state_dir / LOG_FILE}:\n"
                + proc.log_tail(self.state_dir / LOG_FILE)
            )
        # The daemon said it answers; no need to ask it again.
        record = read_record(self.state_dir)
        pid = record.get("pid")
        server = server_url(record.get("port"))
        return ClusterStatus(self.name, True, pid if isinstance(pid, int) else None, server, self.state_dir)

    def _make_credentials(self) -> threading.Thread:
        """Make the CA, certificate and token while the daemon loads (it waits for them on their lock), so the
        first start costs no more than later ones; a failure here is left for the daemon to meet and log."""

        def make() -> None:
            with contextlib.suppress(Exception):
                tls.ensure(self.state_dir)

        maker = threading.Thread(target=make, name="cluster-credentials", daemon=True)
        maker.start()
        return maker

    def down(self, purge: bool = False) -> bool:
        """Stop the daemon; with purge, also delete every object and the state folder. True if it was running."""
        status = self.status() if self.exists() else None
        was_running = bool(status and status.pid and proc.alive(status.pid))
        if status and status.pid and was_running:
            proc.stop(status.pid, STOP_TIMEOUT)
        if status and status.pid and not purge:
            self._forget_pid()
        if purge and self.exists():
            shutil.rmtree(self.state_dir)
        return was_running

    def _forget_pid(self) -> None:
        """Drop the pid from the record once the daemon is gone (a crash leaves it), so nothing reports it as
        left over."""
        record = read_record(self.state_dir)
        if "pid" in record:
            record.pop("pid")
            write_record(self.state_dir, record)

    def agent_git_host(self) -> str:
        """The lab's daemon hosts the embedded agents, so they reach the Git server on the loopback address."""
        return HOST

    def kubeconfig(self, namespace: str | None = None) -> str:
        """A kubeconfig with the cluster's address, the CA its certificate is signed by and its bearer token."""
        record = read_record(self.state_dir) if self.exists() else {}
        server = server_url(record.get("port"))
        found = tls.read_client_credentials(self.state_dir) if server else None
        if server is None or found is None:
            raise DriftlabError(
                f"there is no cluster named {self.name!r}; create it with: driftlab cluster up --name {self.name}"
            )
        ca_pem, token = found
        return kubeconfig.render(self.name, server, namespace or "default", ca_pem=ca_pem, token=token)
