"""Security, end to end: the embedded API wants its kubeconfig's token over TLS, every listener is on loopback,
the Git server wants the lab's accounts, state is private to its owner, and untrusted courses run nothing
without consent."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from engine import proc
from engine.course import load_course
from engine.lab.progress import ProgressStore
from engine.lab.session import LabSession
from engine.lab.trust import UntrustedCourse

from ..kubehttp import KubeHTTP
from .conftest import Cluster, start_cluster
from .test_lab import BASICS, COURSE, ROOT, Driftlab

SHIPPED = "push-pipelines"  # a shipped course whose lab has a Git server
SHIPPED_STATE = "push-pipelines"
SHIPPED_CLUSTER = "lab-push-pipelines"
UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}
LOOPBACK = {"127.0.0.1", "::1"}
NODE_PORT_SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: exposed, namespace: shop}
spec:
  type: NodePort
  selector: {app: shop}
  ports: [{port: 80, targetPort: 8080}]
"""


# The embedded API: TLS and a bearer token -----------------------------------------------------------------------


def _anonymous(cluster: Cluster) -> KubeHTTP:
    """The cluster's address and CA, without its token."""
    http = KubeHTTP.from_kubeconfig(cluster.kubeconfig.read_text())
    http.headers = {}
    return http


def test_the_api_is_served_over_tls_with_the_kubeconfigs_ca(cluster: Cluster) -> None:
    doc = yaml.safe_load(cluster.kubeconfig.read_text())
    entry = doc["clusters"][0]["cluster"]
    assert entry["server"].startswith("https://127.0.0.1:")
    assert doc["users"][0]["user"]["token"]
    ca = base64.b64decode(entry["certificate-authority-data"]).decode()
    port = int(entry["server"].rsplit(":", 1)[1])
    for name in ("127.0.0.1", "localhost"):
        context = ssl.create_default_context(cadata=ca)
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # no system CA vouches for it
        urllib.request.urlopen(f"{entry['server']}/healthz", timeout=10)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:  # no plain HTTP on the port
        plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"200" not in plain.recv(1024)


def test_requests_without_the_token_or_with_a_wrong_one_are_unauthorized(cluster: Cluster) -> None:
    anonymous = _anonymous(cluster)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic bGVhcm5lcjp4"}):
        for method, path in (("GET", "/api/v1/namespaces"), ("GET", "/api"), ("POST", "/api/v1/namespaces")):
            answer = anonymous.request(method, path, body="{}" if method == "POST" else None, headers=headers)
            assert answer.status == 401, (method, path, headers)
            assert json.loads(answer.data) == UNAUTHORIZED
    assert cluster.http.request("GET", "/api/v1/namespaces").status == 200


def test_health_and_version_are_public_but_a_wrong_token_is_refused_there_too(cluster: Cluster) -> None:
    anonymous = _anonymous(cluster)
    for path in ("/healthz", "/livez", "/readyz"):
        answer = anonymous.request("GET", path)
        assert (answer.status, answer.data) == (200, b"ok")
    version = anonymous.request("GET", "/version")
    assert version.status == 200 and json.loads(version.data)["major"] == "1"
    wrong = anonymous.request("GET", "/healthz", headers={"Authorization": "Bearer wrong"})
    assert wrong.status == 401 and json.loads(wrong.data) == UNAUTHORIZED


def test_kubectl_without_the_right_token_must_log_in(cluster: Cluster, tmp_path: Path) -> None:
    """What kubectl says against a real server: with discovery not cached yet, the generic 401 text after its
    discovery complaints; with it cached, the Status message."""
    env = {**cluster.env, "KUBECACHEDIR": str(tmp_path / "cache")}
    cold = proc.run([proc.tool("kubectl"), "get", "pods", "--token=not-the-token"], env=env)
    assert cold.returncode == 1
    assert cold.stderr.strip().splitlines()[-1] == (
        "error: You must be logged in to the server (the server has asked for the client to provide credentials)"
    )
    assert proc.run([proc.tool("kubectl"), "get", "pods"], env=env).ok
    warm = proc.run([proc.tool("kubectl"), "get", "pods", "--token=not-the-token"], env=env)
    assert warm.returncode == 1
    assert warm.stderr.strip() == "error: You must be logged in to the server (Unauthorized)"
    doc = yaml.safe_load(cluster.kubeconfig.read_text())
    doc["users"][0]["user"] = {"username": "someone", "password": "guess"}
    tokenless = tmp_path / "tokenless.kubeconfig"
    tokenless.write_text(yaml.safe_dump(doc))
    basic = proc.run([proc.tool("kubectl"), "--kubeconfig", str(tokenless), "get", "pods"], env=env)
    assert basic.returncode == 1
    assert basic.stderr.strip() == "error: You must be logged in to the server (Unauthorized)"


def test_kubeconfigs_stay_valid_across_restarts(tmp_path: Path) -> None:
    own = start_cluster(tmp_path, name="restarted")
    try:
        before = own.kubeconfig.read_text()
        own.driftlab("cluster", "down", "--name", "restarted")
        own.driftlab("cluster", "up", "--name", "restarted")
        after = own.driftlab("cluster", "kubeconfig", "--name", "restarted").stdout
        assert yaml.safe_load(after)["users"] == yaml.safe_load(before)["users"]
        doc, then = yaml.safe_load(after), yaml.safe_load(before)
        assert (
            doc["clusters"][0]["cluster"]["certificate-authority-data"]
            == (then["clusters"][0]["cluster"]["certificate-authority-data"])
        )
        # The first kubeconfig, with the server's new port when it moved, still authenticates.
        then["clusters"][0]["cluster"]["server"] = doc["clusters"][0]["cluster"]["server"]
        own.kubeconfig.write_text(yaml.safe_dump(then))
        assert own.kubectl("get", "namespace", "default", "-o", "name").stdout.strip() == "namespace/default"
    finally:
        own.driftlab("cluster", "down", "--name", "restarted", "--purge", check=False)


# A shipped course's lab: listeners, the Git server, private state ----------------------------------------------


@dataclass
class ShippedLab:
    driftlab: Driftlab

    @property
    def home(self) -> Path:
        return self.driftlab.home

    def record(self, *parts: str) -> dict[str, object]:
        return dict(json.loads(self.home.joinpath(*parts, "daemon.json").read_text()))

    @property
    def git_port(self) -> int:
        return int(str(self.record("labs", SHIPPED_STATE)["port"]))

    def accounts(self) -> dict[str, dict[str, str]]:
        return dict(json.loads((self.home / "labs" / SHIPPED_STATE / "git-credentials.json").read_text()))


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShippedLab]:
    driftlab = Driftlab(tmp_path_factory.mktemp("shipped"))
    driftlab.ok("lab", "up", SHIPPED)
    try:
        yield ShippedLab(driftlab)
    finally:
        driftlab.run("lab", "down", "--all", "--purge")


def _listening(pid: int) -> set[tuple[str, int]]:
    """The (address, port) of every TCP socket process `pid` listens on, from /proc/net/tcp{,6} by inode."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                found.add((_address(address), int(port, 16)))
    return found


def _address(hex_text: str) -> str:
    """An address as /proc/net/tcp writes it: 32-bit words in host (little-endian) order."""
    raw = b"".join(bytes.fromhex(hex_text[i : i + 8])[::-1] for i in range(0, len(hex_text), 8))
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _wait_listening(pid: int, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while port not in {p for _, p in _listening(pid)}:
        assert time.monotonic() < deadline, f"nothing listens on port {port} after {timeout:g}s"
        time.sleep(0.05)


def _serve(driftlab: Driftlab) -> subprocess.Popen[str]:
    """`driftlab serve` with its defaults (and a free port), once it says it serves."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--port", str(port)],
        env={**os.environ, **driftlab.env},
        cwd=ROOT,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.startswith("Serving driftlab at"), line
    return process


def test_every_listener_of_a_lab_is_on_loopback(shipped: ShippedLab) -> None:
    driftlab = shipped.driftlab
    kubeconfig = driftlab.kubeconfig(SHIPPED_CLUSTER)
    applied = proc.run(
        [proc.tool("kubectl"), "apply", "-f", "-", "-o", "json"],
        env={**driftlab.env, "KUBECONFIG": str(kubeconfig)},
        input=NODE_PORT_SERVICE,
    )
    assert applied.ok, applied.stderr
    node_port = int(json.loads(applied.stdout)["spec"]["ports"][0]["nodePort"])
    cluster_pid = int(str(shipped.record("clusters", SHIPPED_CLUSTER)["pid"]))
    lab_pid = int(str(shipped.record("labs", SHIPPED_STATE)["pid"]))
    api_port = int(str(shipped.record("clusters", SHIPPED_CLUSTER)["port"]))
    _wait_listening(cluster_pid, node_port)
    serve = _serve(driftlab)
    try:
        listeners = {pid: _listening(pid) for pid in (cluster_pid, lab_pid, serve.pid)}
    finally:
        serve.kill()
        serve.wait(10)
    assert {port for _, port in listeners[cluster_pid]} >= {api_port, node_port}
    assert shipped.git_port in {port for _, port in listeners[lab_pid]}
    assert listeners[serve.pid]
    wide = {pid: found for pid, found in listeners.items() if {address for address, _ in found} - LOOPBACK}
    assert wide == {}


def _git(*args: str, cwd: Path | None = None) -> proc.Result:
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/"}
    return proc.run(["git", "-c", "credential.helper=", *args], env=env, cwd=cwd, timeout=60)


def test_git_needs_the_labs_accounts_and_the_deploy_account_only_reads(shipped: ShippedLab, tmp_path: Path) -> None:
    base = f"127.0.0.1:{shipped.git_port}/app.git"
    accounts = shipped.accounts()
    learner, deploy = accounts["learner"], accounts["deploy"]

    def url(user: dict[str, str] | None = None, password: str | None = None) -> str:
        if user is None:
            return f"http://{base}"
        return f"http://{user['username']}:{password or user['password']}@{base}"

    for service in ("git-upload-pack", "git-receive-pack"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url()[: -len('/app.git')]}/app.git/info/refs?service={service}", timeout=10)
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"] == 'Basic realm="driftlab"'

    anonymous = _git("clone", url(), str(tmp_path / "anonymous"))
    assert not anonymous.ok and "could not read Username" in anonymous.stderr
    wrong = _git("clone", url(learner, "not-the-password"), str(tmp_path / "wrong"))
    assert not wrong.ok and "Authentication failed" in wrong.stderr
    wrong_user = _git("clone", url({"username": "deploy2", "password": learner["password"]}), str(tmp_path / "x"))
    assert not wrong_user.ok and "Authentication failed" in wrong_user.stderr

    work = tmp_path / "work"
    assert _git("clone", url(learner), str(work)).ok
    for remote in (url(), url(learner, "not-the-password")):
        fetched = _git("fetch", remote, cwd=work)
        assert not fetched.ok, remote
        pushed = _git("push", remote, "HEAD:refs/heads/not-allowed", cwd=work)
        assert not pushed.ok, remote

    reader = tmp_path / "reader"
    assert _git("clone", url(deploy), str(reader)).ok
    assert _git("fetch", url(deploy), cwd=reader).ok
    refused_push = _git("push", url(deploy), "HEAD:refs/heads/from-deploy", cwd=reader)
    assert not refused_push.ok
    assert "the 'deploy' account may only fetch" in refused_push.stderr
    assert _git("push", url(learner), "HEAD:refs/heads/from-learner", cwd=work).ok
    heads = _git("ls-remote", "--heads", url(deploy), cwd=reader).stdout
    assert "refs/heads/from-learner" in heads and "from-deploy" not in heads and "not-allowed" not in heads


def test_a_labs_state_is_private_to_its_owner(shipped: ShippedLab) -> None:
    # Everything a lab up writes, plus a kubeconfig exported by hand.
    shipped.driftlab.ok("cluster", "kubeconfig", "--name", SHIPPED_CLUSTER, "--export")
    open_to_others = []
    checked = 0
    for folder, subfolders, files in os.walk(shipped.home):
        for name in [*subfolders, *files]:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if path.is_symlink():
                continue
            checked += 1
            if (path.is_dir() and mode & 0o011) or (path.is_file() and mode & 0o044):
                open_to_others.append(f"{oct(mode & 0o777)} {path.relative_to(shipped.home)}")
    assert os.stat(shipped.home).st_mode & 0o077 == 0
    assert checked > 20
    assert open_to_others == []
    for secret in (
        f"clusters/{SHIPPED_CLUSTER}/lab.kubeconfig",
        f"clusters/{SHIPPED_CLUSTER}/kubeconfig",
        f"clusters/{SHIPPED_CLUSTER}/token",
        f"clusters/{SHIPPED_CLUSTER}/ca.key",
        f"clusters/{SHIPPED_CLUSTER}/server.key",
        f"clusters/{SHIPPED_CLUSTER}/cluster.db",
        f"clusters/{SHIPPED_CLUSTER}/daemon.json",
        f"labs/{SHIPPED_STATE}/git-credentials.json",
        f"labs/{SHIPPED_STATE}/pipelines.db",
        f"labs/{SHIPPED_STATE}/daemon.json",
        "progress.sqlite3",
    ):
        assert (shipped.home / secret).stat().st_mode & 0o777 == 0o600, secret


# Untrusted courses ----------------------------------------------------------------------------------------------


@pytest.fixture
def untrusted(tmp_path: Path) -> Iterator[Driftlab]:
    driftlab = Driftlab(tmp_path)
    yield driftlab
    driftlab.run("lab", "down", "--all", "--purge")


def test_reset_of_an_untrusted_course_runs_its_setup_only_with_trust(untrusted: Driftlab) -> None:
    untrusted.ok("lab", "up", COURSE, "--trust")
    untrusted.kubectl("lab-basics", "delete", "configmap", "marker", "-n", "work")
    refused = untrusted.run("lab", "reset", COURSE)
    assert refused.returncode == 1
    assert "is not one of driftlab's own courses, and it would run 1 shell command" in refused.stderr
    assert f"if you trust the course, run: driftlab lab reset {COURSE} --trust" in refused.stderr
    assert "marker" not in untrusted.names("lab-basics", "configmap")
    untrusted.ok("lab", "reset", COURSE, "--trust")
    assert "marker" in untrusted.names("lab-basics", "configmap")


def test_the_tuis_demo_and_steps_need_consent_for_an_untrusted_course(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the TUI's demo key, step moves and live checks ask of the session; its dialog calls `trust()`."""
    monkeypatch.setenv("DRIFTLAB_HOME", str(tmp_path / "home"))
    course = load_course(str(BASICS))
    session = LabSession(course, trusted=False, store=ProgressStore(tmp_path / "progress.sqlite3"))
    scale = course.step("scale")
    with pytest.raises(UntrustedCourse, match="step scale, solution: kubectl scale deployment web --replicas=3"):
        session.demo_actions(scale)
    with pytest.raises(UntrustedCourse, match="step greeting, setup: kubectl create configmap marker"):
        session.go_to(scale)
    with pytest.raises(UntrustedCourse, match="step scale, check: kubectl get deployment web"):
        session.watch(scale, lambda result: None)
    session.trust()
    assert [action.text for action in session.demo_actions(scale)][-1:] == ["kubectl scale deployment web --replicas=3"]


def test_course_test_of_a_copied_shipped_course_needs_trust(untrusted: Driftlab, tmp_path: Path) -> None:
    """A shipped course copied elsewhere is no longer driftlab's own: its code needs --trust again."""
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "courses" / "antipatterns", copy / "courses" / "antipatterns")
    shutil.copytree(ROOT / "labs" / "antipatterns", copy / "labs" / "antipatterns")
    course = copy / "courses" / "antipatterns"
    refused = untrusted.run("course", "test", str(course))
    assert refused.returncode == 1
    assert "is not one of driftlab's own courses" in refused.stderr
    assert f"course test {course} --trust" in refused.stderr
    assert untrusted.clusters() == []
