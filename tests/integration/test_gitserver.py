"""The lab's Git server with the real `git` CLI: clone, push, accounts, refusals and push events."""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import proc
from engine.gitserver import cgi
from engine.gitserver.credentials import Credentials
from engine.gitserver.errors import GitServerError
from engine.gitserver.events import ZERO, PushEvent
from engine.gitserver.seed import SeedCommit, seed_repo
from engine.gitserver.server import GitServer

from .gitops_support import RunningServer

HISTORY = """\
commits:
  - author: Maya Okafor <maya@shop.example>
    date: 2024-05-02T09:14:00+02:00
    message: Start the shop service
    paths: [README.md, app/]
  - author: Tom Becker <tom@shop.example>
    date: 2024-05-03T16:40:00+02:00
    message: |
      Add the deploy manifests

      A Deployment and a Service, applied by hand for now.
    paths: [deploy/]
  - author: Maya Okafor <maya@shop.example>
    date: 2024-05-06T11:02:00+02:00
    message: Deploy on every push
"""


class Lab:
    """A seeded repository root, its credentials, the running server and the push events it reported."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "git"
        self.credentials = Credentials.generate()
        self.events: queue.Queue[tuple[float, PushEvent]] = queue.Queue()
        source = tmp / "repos" / "shop"
        for name, text in {
            "README.md": "# shop\n",
            "app/main.py": "print('shop')\n",
            "deploy/deployment.yaml": "kind: Deployment\n",
            "deploy/service.yaml": "kind: Service\n",
            ".driftlab/pipeline.yaml": "jobs: []\n",
        }.items():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_text(text)
        (tmp / "repos" / "shop.history.yaml").write_text(HISTORY)
        seed_repo(self.root, "shop", source)
        self.user_home = tmp / "home"
        self.user_home.mkdir()

    def record(self, event: PushEvent) -> None:
        self.events.put((time.monotonic(), event))

    def env(self, server: GitServer, account: str | None = "learner") -> dict[str, str]:
        env = {
            "HOME": str(self.user_home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "GIT_CONFIG_COUNT": "0",
            "GIT_AUTHOR_NAME": "Learner",
            "GIT_AUTHOR_EMAIL": "learner@example.com",
            "GIT_COMMITTER_NAME": "Learner",
            "GIT_COMMITTER_EMAIL": "learner@example.com",
        }
        if account is not None:
            env.update(server.git_env(account))
        return env

    def git(
        self, server: GitServer, *args: str, account: str | None = "learner", cwd: Path | None = None
    ) -> proc.Result:
        return proc.run(["git", *args], env=self.env(server, account), cwd=cwd, timeout=60)

    def clone(self, server: GitServer, target: str = "work", account: str | None = "learner") -> Path:
        result = self.git(server, "clone", "-q", server.clone_url("shop"), str(self.tmp / target), account=account)
        assert result.ok, result.stderr
        return self.tmp / target

    def next_event(self) -> tuple[float, PushEvent]:
        return self.events.get(timeout=5)


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(tmp_path)


@pytest.fixture
def server(lab: Lab) -> Iterator[GitServer]:
    with RunningServer(GitServer(lab.root, lab.credentials, lab.record)) as running:
        yield running


def commit_file(lab: Lab, server: GitServer, work: Path, name: str, text: str) -> str:
    (work / name).write_text(text)
    for args in (("add", name), ("commit", "-q", "-m", f"Change {name}")):
        result = lab.git(server, *args, cwd=work)
        assert result.ok, result.stderr
    return lab.git(server, "rev-parse", "HEAD", cwd=work).stdout.strip()


def raw_request(server: GitServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes exactly as given (no client-side path clean-up) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return int(lines[0].split()[1]), headers, body


def dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2 :]
    return out


def auth_header(username: str, password: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def get(server: GitServer, target: str, *headers: str) -> tuple[int, dict[str, str], bytes]:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return raw_request(server, ("\r\n".join(lines) + "\r\n\r\n").encode())


# -- clone, push and accounts ---------------------------------------------------------------------------------


def test_learner_clones_commits_and_pushes(lab: Lab, server: GitServer) -> None:
    work = lab.clone(server)
    assert (work / "deploy" / "service.yaml").read_text() == "kind: Service\n"
    old = lab.git(server, "rev-parse", "HEAD", cwd=work).stdout.strip()
    new = commit_file(lab, server, work, "CHANGELOG.md", "first change\n")

    pushed = lab.git(server, "push", "origin", "main", cwd=work)
    pushed_at = time.monotonic()

    assert pushed.ok, pushed.stderr
    arrived, event = lab.next_event()
    assert event == PushEvent("shop", "refs/heads/main", old, new, "learner")
    assert arrived - pushed_at < 1.0
    remote_head = proc.run(["git", "--git-dir", str(lab.root / "shop.git"), "rev-parse", "main"])
    assert remote_head.stdout.strip() == new


def test_large_pushes_and_clones_stream_through(lab: Lab, server: GitServer) -> None:
    work = lab.clone(server)
    (work / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    assert lab.git(server, "add", "blob.bin", cwd=work).ok
    assert lab.git(server, "commit", "-q", "-m", "Add a large file", cwd=work).ok

    pushed = lab.git(server, "-c", "http.postBuffer=65536", "push", "origin", "main", cwd=work)
    assert pushed.ok, pushed.stderr
    again = lab.clone(server, "second")

    assert (again / "blob.bin").read_bytes() == (work / "blob.bin").read_bytes()


def test_clone_url_has_no_credentials_and_nothing_is_written_to_the_clone(lab: Lab, server: GitServer) -> None:
    url = server.clone_url("shop")
    work = lab.clone(server)

    assert url == f"http://127.0.0.1:{server.port}/shop.git"
    stored = (work / ".git" / "config").read_text()
    for account in lab.credentials.accounts:
        assert account.password not in stored
    assert lab.git(server, "remote", "get-url", "origin", cwd=work).stdout.strip() == url
    assert not (lab.user_home / ".git-credentials").exists()


def test_deploy_account_fetches_but_may_not_push(lab: Lab, server: GitServer) -> None:
    work = lab.clone(server, "deploy-work", account="deploy")
    commit_file(lab, server, work, "sneaky.txt", "no\n")

    pushed = lab.git(server, "push", "origin", "main", cwd=work, account="deploy")

    assert not pushed.ok
    assert "403" in pushed.stderr
    assert "remote: driftlab: the 'deploy' account may only fetch" in pushed.stderr
    assert lab.events.empty()


def test_anonymous_requests_get_a_basic_auth_challenge(server: GitServer) -> None:
    status, headers, body = get(server, "/shop.git/info/refs?service=git-upload-pack")

    assert status == 401
    assert headers["www-authenticate"] == 'Basic realm="driftlab"'
    assert b"driftlab shell" in body


def test_git_without_credentials_cannot_clone(lab: Lab, server: GitServer) -> None:
    result = lab.git(server, "clone", server.clone_url("shop"), str(lab.tmp / "anon"), account=None)

    assert not result.ok
    assert "could not read Username" in result.stderr
    assert not (lab.tmp / "anon").exists()


def test_wrong_password_makes_git_report_failed_authentication(lab: Lab, server: GitServer) -> None:
    url = server.clone_url("shop").replace("http://", "http://learner:not-the-password@")
    result = lab.git(server, "clone", url, str(lab.tmp / "wrong"), account=None)

    assert not result.ok
    assert "Authentication failed" in result.stderr


def test_unknown_repository_is_not_found(lab: Lab, server: GitServer) -> None:
    result = lab.git(server, "clone", server.clone_url("nothere"), str(lab.tmp / "x"))
    account = lab.credentials.learner

    assert not result.ok
    assert "not found" in result.stderr
    assert get(server, "/nothere.git/info/refs?service=git-upload-pack", auth_header(account.username, "x"))[0] == 401
    status, _, _ = get(
        server, "/nothere.git/info/refs?service=git-upload-pack", auth_header(account.username, account.password)
    )
    assert status == 404


def test_seeded_history_arrives_with_the_clone(lab: Lab, server: GitServer) -> None:
    work = lab.clone(server)
    log = lab.git(server, "log", "--format=%an <%ae>|%aI|%s", cwd=work).stdout.splitlines()

    assert log == [
        "Maya Okafor <maya@shop.example>|2024-05-06T11:02:00+02:00|Deploy on every push",
        "Tom Becker <tom@shop.example>|2024-05-03T16:40:00+02:00|Add the deploy manifests",
        "Maya Okafor <maya@shop.example>|2024-05-02T09:14:00+02:00|Start the shop service",
    ]
    first = lab.git(server, "show", "--name-only", "--format=", "HEAD~2", cwd=work).stdout.split()
    assert sorted(first) == ["README.md", "app/main.py"]
    assert lab.git(server, "symbolic-ref", "HEAD", cwd=work).stdout.strip() == "refs/heads/main"


# -- push events ----------------------------------------------------------------------------------------------


def test_twenty_pushes_in_a_row_report_their_events_in_order(lab: Lab, server: GitServer) -> None:
    work = lab.clone(server)
    expected = []
    old = lab.git(server, "rev-parse", "HEAD", cwd=work).stdout.strip()
    for i in range(20):
        new = commit_file(lab, server, work, "counter.txt", f"{i}\n")
        pushed = lab.git(server, "push", "-q", "origin", "main", cwd=work)
        assert pushed.ok, pushed.stderr
        expected.append((old, new))
        old = new

    received = [lab.next_event()[1] for _ in range(20)]

    assert [(e.old, e.new) for e in received] == expected
    assert {e.ref for e in received} == {"refs/heads/main"}
    assert lab.events.empty()


def test_branch_creation_and_deletion_are_reported(lab: Lab, server: GitServer) -> None:
    work = lab.clone(server)
    head = lab.git(server, "rev-parse", "HEAD", cwd=work).stdout.strip()

    assert lab.git(server, "push", "origin", "main:refs/heads/feature", cwd=work).ok
    created = lab.next_event()[1]
    assert lab.git(server, "push", "origin", ":refs/heads/feature", cwd=work).ok
    deleted = lab.next_event()[1]

    assert (created.ref, created.old, created.new, created.branch) == ("refs/heads/feature", ZERO, head, "feature")
    assert (deleted.old, deleted.new, deleted.deleted) == (head, ZERO, True)


def test_a_failing_push_handler_does_not_stop_later_events(lab: Lab) -> None:
    calls: list[PushEvent] = []

    def flaky(event: PushEvent) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("handler bug")
        lab.record(event)

    with RunningServer(GitServer(lab.root, lab.credentials, flaky)) as server:
        work = lab.clone(server)
        commit_file(lab, server, work, "a.txt", "a\n")
        assert lab.git(server, "push", "-q", "origin", "main", cwd=work).ok
        second = commit_file(lab, server, work, "b.txt", "b\n")
        assert lab.git(server, "push", "-q", "origin", "main", cwd=work).ok

        assert lab.next_event()[1].new == second


def test_async_push_handlers_are_awaited(lab: Lab) -> None:
    async def handler(event: PushEvent) -> None:
        await asyncio.sleep(0)
        lab.record(event)

    with RunningServer(GitServer(lab.root, lab.credentials, handler)) as server:
        work = lab.clone(server)
        new = commit_file(lab, server, work, "a.txt", "a\n")
        assert lab.git(server, "push", "-q", "origin", "main", cwd=work).ok

        assert lab.next_event()[1].new == new


def test_hooks_keep_reporting_after_a_restart_on_another_port(lab: Lab) -> None:
    with RunningServer(GitServer(lab.root, lab.credentials, lab.record)) as first:
        first_port = first.port
        work = lab.clone(first)
    with RunningServer(GitServer(lab.root, lab.credentials, lab.record)) as second:
        assert second.port != first_port
        assert lab.git(second, "remote", "set-url", "origin", second.clone_url("shop"), cwd=work).ok
        new = commit_file(lab, second, work, "after-restart.txt", "x\n")
        assert lab.git(second, "push", "-q", "origin", "main", cwd=work).ok

        assert lab.next_event()[1].new == new


def test_push_notices_need_the_servers_token(server: GitServer) -> None:
    body = b'{"repo": "shop", "pusher": "learner", "updates": []}'
    request = (
        b"POST /_driftlab/push HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
        b"X-Driftlab-Push-Token: guessed\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    assert raw_request(server, request)[0] == 403


# -- refusals before any subprocess ---------------------------------------------------------------------------


class Spawned(list[list[str]]):
    """The backends a server started, each with its process and loop, so a test can follow them."""

    def __init__(self) -> None:
        super().__init__()
        self.processes: list[tuple[asyncio.AbstractEventLoop, asyncio.subprocess.Process]] = []
        self.started = threading.Event()

    def exit_code(self, index: int = 0) -> int:
        loop, process = self.processes[index]
        return asyncio.run_coroutine_threadsafe(process.wait(), loop).result(timeout=10)


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> Spawned:
    """Every backend the server starts, so a test can show that a refusal ran nothing."""
    started = Spawned()
    real = cgi.proc.start_streaming

    async def counting(args: list[str], **kwargs: object) -> asyncio.subprocess.Process:
        started.append(list(args))
        process = await real(args, **kwargs)  # type: ignore[arg-type]
        started.processes.append((asyncio.get_running_loop(), process))
        started.started.set()
        return process

    monkeypatch.setattr(cgi.proc, "start_streaming", counting)
    return started


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/../shop.git/info/refs?service=git-upload-pack", 400),
        ("/shop.git/../../etc/passwd", 400),
        ("/shop.git/./info/refs?service=git-upload-pack", 400),
        ("/%2e%2e/shop.git/info/refs?service=git-upload-pack", 400),
        ("/shop.git%2Finfo%2Frefs?service=git-upload-pack", 400),
        ("/a%2Fb.git/info/refs?service=git-upload-pack", 400),
        ("//etc/passwd", 400),
        ("/etc/passwd", 404),
        ("http://127.0.0.1/shop.git/info/refs?service=git-upload-pack", 400),
        ("/Shop.git/info/refs?service=git-upload-pack", 400),
        ("/.seed-shop.git/info/refs?service=git-upload-pack", 400),
        ("/shop.git\\..\\x/info/refs", 400),
        ("/shop.git/HEAD", 404),
        ("/shop.git/objects/info/packs", 404),
        ("/shop.git/config", 404),
        ("/shop.git/info/refs", 404),
        ("/shop.git/info/refs?service=git-upload-archive", 404),
    ],
)
def test_path_tricks_are_refused_before_anything_runs(
    lab: Lab, server: GitServer, spawned: Spawned, target: str, status: int
) -> None:
    account = lab.credentials.learner
    answer = get(server, target, auth_header(account.username, account.password))

    assert answer[0] == status
    assert spawned == []


def test_a_symlink_leaving_the_root_is_no_repository(lab: Lab, server: GitServer, spawned: Spawned) -> None:
    outside = lab.tmp / "outside.git"
    proc.run(["git", "init", "-q", "--bare", str(outside)])
    (lab.root / "escape.git").symlink_to(outside)
    inside = lab.root / "alias.git"
    inside.symlink_to(lab.root / "shop.git")
    account = lab.credentials.learner
    auth = auth_header(account.username, account.password)

    assert get(server, "/escape.git/info/refs?service=git-upload-pack", auth)[0] == 404
    assert spawned == []
    assert get(server, "/alias.git/info/refs?service=git-upload-pack", auth)[0] == 200


def test_wrong_methods_are_refused(lab: Lab, server: GitServer, spawned: Spawned) -> None:
    account = lab.credentials.learner
    auth = auth_header(account.username, account.password)

    assert get(server, "/shop.git/git-upload-pack", auth)[0] == 405
    assert spawned == []


# -- protocol details -----------------------------------------------------------------------------------------


def pkt(line: str) -> bytes:
    return f"{len(line) + 4:04x}{line}".encode()


def test_gzip_request_bodies_are_decoded(lab: Lab, server: GitServer) -> None:
    head = proc.run(["git", "--git-dir", str(lab.root / "shop.git"), "rev-parse", "main"]).stdout.strip()
    body = gzip.compress(pkt(f"want {head}\n") + b"0000" + pkt("done\n"))
    account = lab.credentials.learner
    request = (
        "POST /shop.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/x-git-upload-pack-request\r\nContent-Encoding: gzip\r\n"
        f"{auth_header(account.username, account.password)}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    status, headers, answer = raw_request(server, request)

    assert status == 200
    assert headers["content-type"] == "application/x-git-upload-pack-result"
    assert answer.startswith(b"0008NAK\n")
    assert b"PACK" in answer


def test_a_corrupt_gzip_body_gets_no_pack(lab: Lab, server: GitServer) -> None:
    body = b"\x1f\x8b\x08\x00" + b"not really gzip" * 10
    account = lab.credentials.learner
    request = (
        "POST /shop.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/x-git-upload-pack-request\r\nContent-Encoding: gzip\r\n"
        f"{auth_header(account.username, account.password)}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    answer = raw_request(server, request)[2]

    assert b"PACK" not in answer
    assert b"NAK" not in answer


def test_other_body_encodings_are_refused(lab: Lab, server: GitServer, spawned: Spawned) -> None:
    account = lab.credentials.learner
    request = (
        "POST /shop.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/x-git-upload-pack-request\r\nContent-Encoding: br\r\n"
        f"{auth_header(account.username, account.password)}\r\nContent-Length: 4\r\n\r\n0000"
    ).encode()

    assert raw_request(server, request)[0] == 415
    assert spawned == []


def test_info_refs_answer_is_git_smart_http(lab: Lab, server: GitServer) -> None:
    account = lab.credentials.deploy
    status, headers, body = get(
        server, "/shop.git/info/refs?service=git-upload-pack", auth_header(account.username, account.password)
    )

    assert status == 200
    assert headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert body.startswith(b"001e# service=git-upload-pack\n0000")
    assert b"refs/heads/main" in body


def test_listens_on_every_given_address_with_one_port(lab: Lab) -> None:
    server = GitServer(lab.root, lab.credentials, lab.record, host=["127.0.0.1", "127.0.0.2"])
    with RunningServer(server):
        assert server.urls == [f"http://127.0.0.1:{server.port}", f"http://127.0.0.2:{server.port}"]
        url = server.clone_url("shop", host="127.0.0.2")
        result = lab.git(server, "clone", "-q", url, str(lab.tmp / "via-second"))

        assert result.ok, result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "localhost", ""])
def test_never_listens_on_all_interfaces_or_names(lab: Lab, host: str) -> None:
    with pytest.raises(GitServerError):
        GitServer(lab.root, lab.credentials, lab.record, host=host)


def test_a_port_in_use_is_a_clear_error(lab: Lab, server: GitServer) -> None:
    other = GitServer(lab.root, lab.credentials, lab.record, port=server.port)

    with pytest.raises(GitServerError, match="cannot listen"):
        asyncio.run(other.start())


def test_stop_is_clean_and_repeatable(lab: Lab) -> None:
    async def scenario() -> tuple[bool, bool]:
        server = GitServer(lab.root, lab.credentials, lab.record)
        async with server:
            running = server.running
        await server.stop()
        return running, server.running

    assert asyncio.run(scenario()) == (True, False)


def test_a_client_that_hangs_up_mid_request_leaves_no_backend(lab: Lab, server: GitServer, spawned: Spawned) -> None:
    account = lab.credentials.learner
    request = (
        "POST /shop.git/git-upload-pack HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-git-upload-pack-request\r\nTransfer-Encoding: chunked\r\n"
        f"{auth_header(account.username, account.password)}\r\n\r\n4\r\n0000\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        assert spawned.started.wait(timeout=10)

    assert spawned.exit_code() == -signal.SIGKILL
    status, _, _ = get(
        server, "/shop.git/info/refs?service=git-upload-pack", auth_header(account.username, account.password)
    )
    assert status == 200


def test_seed_commits_given_in_code_are_served(lab: Lab, server: GitServer) -> None:
    from datetime import UTC, datetime

    source = lab.tmp / "repos" / "docs"
    source.mkdir(parents=True)
    (source / "index.md").write_text("hello\n")
    seed_repo(
        lab.root, "docs", source, [SeedCommit("Ana", "ana@example.com", datetime(2024, 1, 2, tzinfo=UTC), "Docs\n")]
    )

    result = lab.git(server, "ls-remote", server.clone_url("docs"))

    assert result.ok, result.stderr
    assert "refs/heads/main" in result.stdout
