"""Inside a container on a real cluster: act out one image catalogue entry as a real process.

The image names its catalogue entry in `DRIFTLAB_IMAGE` and carries the lab's catalogue at `DRIFTLAB_CATALOGUE`.
The run plan is the embedded kubelet's (the same code decides the lines, the exit and the HTTP answers); here it
is played against the wall clock: lines go to stdout when they are due, the HTTP server answers on the entry's
port, the process exits with the planned code, and SIGTERM ends it only if the entry stops on SIGTERM.
Probe requests (User-Agent `kube-probe/...`) fail while the entry's probe timeline says they fail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..embedded.workloads import Catalogue, ImageBehaviour, PullFailure, RunPlan, parse_catalogue

WINDOW = 30.0
NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
TERMINATION_LOG = Path("/dev/termination-log")
# Mounts every container has; the others are the pod's volumes, whose files the entry may read as config keys.
_RUNTIME_MOUNTS = ("/", "/proc", "/dev", "/sys", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf")
_RUNTIME_PREFIXES = ("/proc/", "/dev/", "/sys/", "/var/run/secrets/kubernetes.io/")


class Container:
    """One run of a catalogue entry: what it knows of itself and its plan."""

    def __init__(self, behaviour: ImageBehaviour, env: Mapping[str, str], files: Mapping[str, str]) -> None:
        self.behaviour = behaviour
        self.env = dict(env)
        self.files = dict(files)
        self.config = {**{Path(path).name: text for path, text in files.items()}, **self.env}
        self.pod = self.env.get("HOSTNAME") or socket.gethostname()
        self.namespace = _read(NAMESPACE_FILE).strip() or "default"
        self.pod_ip = _own_address()
        pod = {"metadata": {"name": self.pod, "namespace": self.namespace}}
        self.plan: RunPlan = behaviour.run_plan(
            self.env, pod=pod, files=self.files, config=self.config, pod_ip=self.pod_ip
        )
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.output = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, line: str) -> None:
        with self.output:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def answer(self, path: str, method: str, client: str, user_agent: str) -> tuple[int, str, dict[str, str]]:
        """(status, body, headers) for one request, and its access-log line written."""
        probe = self._probe_failure(user_agent)
        if probe is not None:
            return probe
        request = self.behaviour.http_request(
            self.pod,
            self.env,
            self.config,
            path=path,
            namespace=self.namespace,
            files=self.plan.files_at(self.elapsed()),
            pod_ip=self.pod_ip,
            method=method,
        )
        answer = self.behaviour.http_answer(request)
        line = self.behaviour.access_log_line(request, answer, client=client, user_agent=user_agent)
        if line:
            self.say(line)
        return answer.status, answer.body, dict(answer.headers)

    def _probe_failure(self, user_agent: str) -> tuple[int, str, dict[str, str]] | None:
        if not user_agent.startswith("kube-probe/"):
            return None
        at = self.elapsed()
        for timeline in (self.plan.liveness, self.plan.readiness):
            if not timeline.passing(at):
                return timeline.status, timeline.message or "not ready\n", {"Content-Type": "text/plain"}
        return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _own_address() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return ""


def volume_files(mountinfo: str) -> dict[str, str]:
    """Files of the pod's volumes (ConfigMaps, Secrets, ...) mounted into this container: path -> text."""
    files: dict[str, str] = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        point = fields[4]
        if point in _RUNTIME_MOUNTS or point.startswith(_RUNTIME_PREFIXES):
            continue
        root = Path(point)
        if root.is_file():
            files[point] = _read(root)
        elif root.is_dir():
            for entry in sorted(root.iterdir()):
                if not entry.name.startswith("..") and entry.is_file():
                    files[str(entry)] = _read(entry)
    return files


def _handler(container: Container) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "driftlab"
        sys_version = ""

        def _serve(self) -> None:
            status, body, headers = container.answer(
                self.path, self.command, self.client_address[0], self.headers.get("User-Agent", "")
            )
            data = body.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:
            """The entry's access log replaces the standard library's."""

    return Handler


def serve(container: Container, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("", port), _handler(container))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def play(container: Container, stop: threading.Event) -> int:
    """Write the plan's lines as they fall due; the exit code when the plan ends or SIGTERM stops it.

    The plan replays its timeline from the start on every question, so it is asked once per window of
    WINDOW seconds (lines in (shown, horizon]), not on every line."""
    plan, shown, ending = container.plan, -1.0, container.plan.exit
    while True:
        horizon = container.elapsed() + WINDOW
        if ending is not None:
            horizon = min(horizon, ending.after)
        for line in plan.logs(horizon, since=max(shown, 0.0), started_at=container.started_at):
            if line.at <= shown:
                continue
            if stop.wait(max(0.0, line.at - container.elapsed())):
                return 0
            container.say(line.text)
        shown = horizon
        if stop.wait(max(0.0, horizon - container.elapsed())):
            return 0
        if ending is not None and horizon >= ending.after:
            if ending.message:
                _write_termination_message(ending.message)
            return ending.code


def _write_termination_message(message: str) -> None:
    with contextlib.suppress(OSError):
        TERMINATION_LOG.write_text(message, encoding="utf-8")


def resolve(catalogue: Catalogue, image: str) -> ImageBehaviour:
    found = catalogue.resolve(image)
    if isinstance(found, PullFailure):
        raise SystemExit(f"driftlab image runner: {image} is not in the lab's image catalogue")
    return found


def main() -> int:
    image = os.environ.get("DRIFTLAB_IMAGE", "")
    if not image:
        raise SystemExit("driftlab image runner: DRIFTLAB_IMAGE names no image (the image was not built by driftlab)")
    catalogue_path = Path(os.environ.get("DRIFTLAB_CATALOGUE", "/driftlab/images.yaml"))
    catalogue = parse_catalogue(catalogue_path.read_text(encoding="utf-8"), str(catalogue_path))
    behaviour = resolve(catalogue, image)
    container = Container(behaviour, os.environ, volume_files(_read(Path("/proc/self/mountinfo"))))
    stop = threading.Event()
    if container.plan.stops_on_sigterm:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    else:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    port = int(os.environ.get("DRIFTLAB_PORT", "0")) or behaviour.http_port
    if port is not None:
        serve(container, port)
    return play(container, stop)


if __name__ == "__main__":
    sys.exit(main())
