"""The lab's Git server: bare repositories under one folder, served over HTTP by git's own backend.

How to host it: construct `GitServer(root, credentials, on_push, host=[...], port=...)`, `await start()` on
the daemon's event loop, keep the loop running, `await stop()` on the way out. The first host is the one
learners are shown and the one the push hook reports to, so keep 127.0.0.1 first and add others (the kind
network's gateway) after it; all hosts share one port. `on_push` is called on the loop, once per updated
ref and in push order, shortly after git has updated the ref; it should hand the event on (a queue, a task)
rather than do slow work itself. It may also be a coroutine function. Requests go through these steps,
each refusing before anything runs: the path (see `repos`), basic auth (401 with a `WWW-Authenticate`
challenge so git asks for credentials), the repository (404: a push does not create one), the account's
right to push (403). What a push may change is then up to git and the pre-receive hook (see `prereceive`):
no file over `max_blob_size` bytes (default 100 MiB, or `DRIFTLAB_GIT_MAX_FILE_SIZE`), no pack over
`max_push_size` (default 2 GiB, or `DRIFTLAB_GIT_MAX_PUSH_SIZE`), and the default branch is neither deleted
nor rewritten; other branches and tags may be created, force-pushed and deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import ipaddress
import json
import logging
import os
import secrets
import shutil
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web

from .. import proc
from .cgi import backend_env, run_backend
from .client import clone_url, git_env
from .credentials import LEARNER, Account, Credentials
from .errors import GitServerError, RepoPathError
from .events import PushEvent
from .hooks import NOTICE_PATH, TOKEN_HEADER, NoticeError, hook_env, install_hook, parse_notice
from .prereceive import MAX_BLOB_SIZE
from .repos import RECEIVE_PACK, SERVICES, RepoRequest, find_repo, list_repos, parse_request_path

log = logging.getLogger(__name__)

REALM = "driftlab"
MAX_NOTICE = 16 * 1024 * 1024  # 10,000 updates of refs up to 1 KiB long, as JSON
MAX_PUSH_SIZE = 2 * 1024 * 1024 * 1024
FILE_SIZE_ENV = "DRIFTLAB_GIT_MAX_FILE_SIZE"
PUSH_SIZE_ENV = "DRIFTLAB_GIT_MAX_PUSH_SIZE"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
SHUTDOWN_TIMEOUT = 5.0
ENCODINGS = ("", "gzip", "x-gzip")
PushCallback = Callable[[PushEvent], object]


def check_hosts(host: str | Sequence[str]) -> list[str]:
    """Listening addresses must be IP addresses of specific interfaces, never "all interfaces"."""
    hosts = [host] if isinstance(host, str) else list(host)
    if not hosts:
        raise GitServerError("the Git server needs at least one address to listen on")
    for item in hosts:
        try:
            address = ipaddress.ip_address(item)
        except ValueError:
            raise GitServerError(f"the Git server listens on IP addresses, not {item!r}") from None
        if address.is_unspecified:
            raise GitServerError(
                f"the Git server never listens on all interfaces ({item}); name the addresses to listen on"
            )
    return hosts


def size_setting(given: int | None, variable: str, default: int) -> int:
    """A size limit: the argument when given, else the environment variable (bytes, or with k/m/g), else default."""
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise GitServerError(f"a size limit is a positive number of bytes, not {given!r}")
        return given
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    number, unit = raw.lower().removesuffix("b").removesuffix("i"), ""
    if number[-1:] in ("k", "m", "g"):
        number, unit = number[:-1], number[-1]
    if not (number.isascii() and number.isdigit()) or int(number) < 1:
        raise GitServerError(f"{variable}={raw!r}: give a size in bytes, or with k, m or g (e.g. 100m)")
    return int(number) * _UNITS[unit]


def _host_in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise GitServerError(f"the Git server cannot listen on {host} port {port}: {err.strerror or err}") from None
    return sock


def _text(status: int, message: str, **headers: str) -> web.Response:
    """An answer git shows the learner: it prints text/plain bodies of failed requests as `remote:` lines."""
    return web.Response(status=status, text=message + "\n", headers={"Cache-Control": "no-cache", **headers})


class GitServer:
    """Serves `<root>/<name>.git` at `http://HOST:PORT/<name>.git` and reports pushes to `on_push`."""

    def __init__(
        self,
        root: Path,
        credentials: Credentials,
        on_push: PushCallback | None,
        host: str | Sequence[str] = "127.0.0.1",
        port: int = 0,
        max_blob_size: int | None = None,
        max_push_size: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.max_blob_size = size_setting(max_blob_size, FILE_SIZE_ENV, MAX_BLOB_SIZE)
        self.max_push_size = size_setting(max_push_size, PUSH_SIZE_ENV, MAX_PUSH_SIZE)
        self.credentials = credentials
        self.on_push = on_push
        self.hosts = check_hosts(host)
        self._wanted_port = port
        self._port: int | None = None
        self._token = secrets.token_urlsafe(32)
        self._runner: web.AppRunner | None = None
        self._events: asyncio.Queue[PushEvent | None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._git = "git"

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on every host; returns once requests are answered. Hooks are (re)installed in every repo."""
        if self._runner is not None:
            raise GitServerError("the Git server is already running")
        self._git = _find_http_backend()
        self.root.mkdir(parents=True, exist_ok=True)
        for name in list_repos(self.root):
            install_hook(self.root / f"{name}.git")
        sockets = self._bind_all()
        events: asyncio.Queue[PushEvent | None] = asyncio.Queue()
        dispatcher = asyncio.create_task(self._dispatch(events), name="gitserver-push-events")
        self._events, self._dispatcher = events, dispatcher
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            auto_decompress=False,
        )
        try:
            await runner.setup()
            for sock in sockets:
                await web.SockSite(runner, sock).start()
        except BaseException:
            dispatcher.cancel()
            self._events = self._dispatcher = None
            await runner.cleanup()
            for sock in sockets:
                sock.close()
            raise
        self._runner = runner
        log.info("Git server on %s serving %s", ", ".join(self.urls), self.root)

    def _bind_all(self) -> list[socket.socket]:
        """One port for every host, so a repository has the same port wherever it is reached from."""
        sockets = [_bind(self.hosts[0], self._wanted_port)]
        port = int(sockets[0].getsockname()[1])
        try:
            sockets += [_bind(host, port) for host in self.hosts[1:]]
        except GitServerError:
            for sock in sockets:
                sock.close()
            raise
        self._port = port
        return sockets

    async def stop(self) -> None:
        """Stop listening, end running requests, deliver the push events already received. Safe to repeat."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if self._events is not None and self._dispatcher is not None:
            self._events.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._dispatcher), SHUTDOWN_TIMEOUT)
            except TimeoutError:
                self._dispatcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._dispatcher
        self._events = self._dispatcher = None

    async def __aenter__(self) -> GitServer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._runner is not None

    # -- addresses and client set-up ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise GitServerError("the Git server has not been started")
        return self._port

    @property
    def urls(self) -> list[str]:
        """The base URL on every listening address, the first one being the learner's."""
        return [f"http://{_host_in_url(host)}:{self.port}" for host in self.hosts]

    @property
    def url(self) -> str:
        return self.urls[0]

    def clone_url(self, name: str, host: str | None = None) -> str:
        """The URL to clone `name` from, without credentials; `host` picks another listening address."""
        if host is not None and host not in self.hosts:
            raise GitServerError(f"the Git server does not listen on {host}")
        base = f"http://{_host_in_url(host)}:{self.port}" if host else self.url
        return clone_url(base, name)

    def git_env(self, account: str | Account = LEARNER) -> dict[str, str]:
        """Environment additions that let git reach every listening address as `account`."""
        chosen = self.credentials.account(account) if isinstance(account, str) else account
        return git_env(self.urls, chosen)

    def repos(self) -> list[str]:
        return list_repos(self.root)

    # -- requests ----------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.raw_path.split("?", 1)[0] == NOTICE_PATH:
            return await self._notice(request)
        try:
            target = parse_request_path(request.raw_path)
        except RepoPathError as err:
            return _text(err.status, str(err))
        account = self.credentials.authenticate_header(request.headers.get("Authorization"))
        if account is None:
            return _text(
                401,
                "driftlab: this Git server needs the lab's credentials; `driftlab shell` sets them up for git",
                **{"WWW-Authenticate": f'Basic realm="{REALM}"'},
            )
        service = self._service(request, target)
        if isinstance(service, web.Response):
            return service
        if find_repo(self.root, target.repo) is None:
            return _text(404, self._missing(target.repo, service))
        if _content_encoding(request) not in ENCODINGS:
            return _text(415, "driftlab: request bodies may be sent plain or gzip-compressed")
        if service == RECEIVE_PACK and not account.can_push:
            return _text(
                403,
                f"driftlab: the {account.username!r} account may only fetch; "
                "push as the learner (`driftlab shell` sets that up)",
            )
        return await run_backend(request, self._env(request, target, account, service), self._git)

    def _missing(self, name: str, service: str) -> str:
        """Why a repository is not found, naming the ones that are; a push does not create repositories."""
        served = ", ".join(self.repos()) or "none"
        message = f"driftlab: there is no repository {name!r} on this server (it serves: {served})"
        if service == RECEIVE_PACK:
            message += "\ndriftlab: a push does not create a repository; the lab's repositories come from its course"
        return message

    def _service(self, request: web.Request, target: RepoRequest) -> str | web.Response:
        """The git service a smart-HTTP request asks for, or the answer refusing it."""
        if target.endpoint == "info/refs":
            service = request.query.get("service", "")
            if request.method != "GET":
                return _text(405, "driftlab: info/refs is fetched with GET", Allow="GET")
            if service not in SERVICES:
                return _text(404, "driftlab: only git's smart HTTP protocol is served here (git 1.6.6 or later)")
            return service
        if request.method != "POST":
            return _text(405, f"driftlab: {target.endpoint} takes POST", Allow="POST")
        return target.endpoint

    def _env(self, request: web.Request, target: RepoRequest, account: Account, service: str) -> dict[str, str]:
        extra: dict[str, str] = {}
        if service == RECEIVE_PACK:
            repo = find_repo(self.root, target.repo)
            if repo is not None:
                install_hook(repo)
            extra = hook_env(f"{self.url}{NOTICE_PATH}", self._token, target.repo, sys.executable, self.max_blob_size)
        protocol = request.headers.get("Git-Protocol", "")
        return backend_env(
            project_root=self.root.resolve(),
            path_info=target.path_info,
            method=request.method,
            query=f"service={service}" if target.endpoint == "info/refs" else "",
            content_type=request.headers.get("Content-Type", ""),
            remote_user=account.username,
            remote_addr=request.remote or "",
            can_push=account.can_push,
            git_protocol=protocol if protocol.isascii() and protocol.isprintable() else None,
            content_encoding=_content_encoding(request) or None,
            max_push_size=self.max_push_size,
            extra=extra,
        )

    # -- push events -------------------------------------------------------------------------------------------

    async def _notice(self, request: web.Request) -> web.Response:
        """The post-receive hook's report: queue its events and answer at once, so the push does not wait."""
        given = request.headers.get(TOKEN_HEADER, "")
        if request.method != "POST" or not hmac.compare_digest(given.encode(), self._token.encode()):
            return _text(403, "driftlab: not a push notice from this server's hook")
        if request.content_length is not None and request.content_length > MAX_NOTICE:
            return _text(413, "driftlab: push notice too large")
        try:
            body = bytearray()
            while chunk := await request.content.read(65536):
                body += chunk
                if len(body) > MAX_NOTICE:
                    return _text(413, "driftlab: push notice too large")
            events = parse_notice(json.loads(body))
        except (NoticeError, GitServerError, ValueError) as err:
            return _text(400, f"driftlab: bad push notice: {err}")
        if self._events is not None:
            for event in events:
                self._events.put_nowait(event)
        return _text(200, "ok")

    async def _dispatch(self, events: asyncio.Queue[PushEvent | None]) -> None:
        """Deliver push events one at a time in arrival order; a failing callback does not stop the next."""
        while (event := await events.get()) is not None:
            if self.on_push is None:
                continue
            try:
                result = self.on_push(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("push event handler failed for %s %s", event.repo, event.ref)


def _content_encoding(request: web.Request) -> str:
    """The body's encoding, "" for none; git's backend inflates gzip itself."""
    value = request.headers.get("Content-Encoding", "").strip().lower()
    return "" if value == "identity" else value


def _find_http_backend() -> str:
    """The git executable, checked once at start so a missing backend is a clear error, not a 500 per push."""
    git = shutil.which("git")
    if git is None:
        raise GitServerError("git is not installed (the Git server runs `git http-backend`); install git")
    result = proc.run([git, "--exec-path"], timeout=10)
    exec_path = Path(result.stdout.strip())
    if not result.ok or not (exec_path / "git-http-backend").exists():
        raise GitServerError(f"git at {git} has no http-backend (looked in {exec_path}); install git's full package")
    return git
