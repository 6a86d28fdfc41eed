"""git's smart-HTTP backend (`git http-backend`) run as a CGI program, with bodies streamed both ways.

The request body goes to the backend's stdin as it arrives, exactly as the client sent it: no length is
given, so the backend reads to end of input, and a gzip body is passed on with `HTTP_CONTENT_ENCODING` for
git to inflate itself (the server runs aiohttp with automatic decompression off). The backend's head
(`Status:` and other header lines, then a blank line) becomes the HTTP status and headers, and the rest of
its output is streamed to the client as it is produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from .. import proc
from .errors import GitServerError

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_HEAD = 64 * 1024
STDERR_KEPT = 8 * 1024
REAP_TIMEOUT = 10.0
_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_STATUS_RE = re.compile(r"^([1-5][0-9][0-9])(?:\s+(.*))?$")
# Headers that describe the connection, not the content; aiohttp sets its own.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"}


class CgiError(GitServerError):
    """The backend did not answer with a valid CGI head."""


@dataclass(frozen=True)
class CgiHead:
    status: int = 200
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


def parse_cgi_head(lines: list[str]) -> CgiHead:
    """The status and headers of a CGI answer, from its header lines (without the blank line ending them)."""
    status, reason, headers = 200, "", []
    for line in lines:
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _TOKEN_RE.match(name):
            raise CgiError(f"bad header line from the Git backend: {line[:100]!r}")
        if name.lower() == "status":
            match = _STATUS_RE.match(value)
            if not match:
                raise CgiError(f"bad Status header from the Git backend: {value[:100]!r}")
            status, reason = int(match.group(1)), match.group(2) or ""
        elif name.lower() not in _HOP_BY_HOP:
            headers.append((name, value))
    return CgiHead(status, reason, headers)


async def read_cgi_head(stdout: asyncio.StreamReader) -> CgiHead:
    """Read the CGI head off the backend's output, leaving the body in the stream."""
    lines: list[str] = []
    size = 0
    while True:
        try:
            raw = await stdout.readuntil(b"\n")
        except asyncio.IncompleteReadError as err:
            raise CgiError("the Git backend stopped before the end of its headers") from err
        except asyncio.LimitOverrunError as err:
            raise CgiError("the Git backend sent an overlong header line") from err
        size += len(raw)
        if size > MAX_HEAD:
            raise CgiError("the Git backend sent too many headers")
        line = raw.rstrip(b"\r\n")
        if not line:
            return parse_cgi_head(lines)
        lines.append(line.decode("latin-1"))


def backend_env(
    *,
    project_root: Path,
    path_info: str,
    method: str,
    query: str,
    content_type: str,
    remote_user: str,
    remote_addr: str,
    can_push: bool,
    git_protocol: str | None = None,
    content_encoding: str | None = None,
    max_push_size: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of one backend run: CGI variables and the git settings the server insists on.

    Nothing of the server's own environment leaks in but PATH and HOME; user and system git config are off so
    a learner's settings cannot change what the server does. `http.receivepack` repeats the account check
    inside git itself. A push is checked object by object (`receive.fsckObjects`), may not delete the branch
    HEAD names (`receive.denyDeleteCurrent`, behind the pre-receive hook's own check) and, with
    `max_push_size`, is cut off once its pack grows past that many bytes (`receive.maxInputSize`), before it
    fills the disk.
    """
    config = [
        ("http.receivepack", "true" if can_push else "false"),
        ("http.uploadpack", "true"),
        ("receive.fsckObjects", "true"),
        ("receive.denyDeleteCurrent", "refuse"),
    ]
    if max_push_size:
        config.append(("receive.maxInputSize", str(max_push_size)))
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", str(project_root)),
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GIT_PROJECT_ROOT": str(project_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path_info,
        "REQUEST_METHOD": method,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "REMOTE_USER": remote_user,
        "REMOTE_ADDR": remote_addr,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_COUNT": str(len(config)),
    }
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
    if git_protocol:
        env["HTTP_GIT_PROTOCOL"] = git_protocol
    if content_encoding:
        env["HTTP_CONTENT_ENCODING"] = content_encoding
    env.update(extra or {})
    return env


async def _feed(request: web.Request, stdin: asyncio.StreamWriter) -> None:
    """Copy the request body into the backend; a backend that stops reading ends the copy quietly."""
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            stdin.write(chunk)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.close()


async def _drain_stderr(stderr: asyncio.StreamReader) -> bytes:
    """Keep the end of the backend's stderr for the log; reading it all keeps the pipe from filling."""
    kept = b""
    while chunk := await stderr.read(CHUNK):
        kept = (kept + chunk)[-STDERR_KEPT:]
    return kept


def _failure(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers={"Cache-Control": "no-cache"})


async def run_backend(request: web.Request, env: dict[str, str], git: str = "git") -> web.StreamResponse:
    """Answer one request with `git http-backend`; the process never outlives the request."""
    try:
        process = await proc.start_streaming([git, "http-backend"], env=env, inherit_env=False)
    except OSError as err:
        log.error("cannot start git http-backend: %s", err)
        return _failure(500, f"driftlab: cannot run git http-backend: {err.strerror or err}")
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    feeder = asyncio.create_task(_feed(request, process.stdin))
    errors = asyncio.create_task(_drain_stderr(process.stderr))
    try:
        try:
            head = await read_cgi_head(process.stdout)
        except CgiError as err:
            log.error("%s for %s %s", err, env.get("REQUEST_METHOD"), env.get("PATH_INFO"))
            return _failure(502, f"driftlab: {err}")
        response = web.StreamResponse(status=head.status, reason=head.reason or None)
        for name, value in head.headers:
            response.headers.add(name, value)
        await response.prepare(request)
        while chunk := await process.stdout.read(CHUNK):
            await response.write(chunk)
        await feeder
        await response.write_eof()
        return response
    finally:
        await _finish(process, feeder, errors, env)


async def _finish(
    process: asyncio.subprocess.Process, feeder: asyncio.Task[None], errors: asyncio.Task[bytes], env: dict[str, str]
) -> None:
    """Stop the backend if the request ended early, reap it, and log what it said on stderr."""
    finished = process.stdout is not None and process.stdout.at_eof()
    feeder.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await feeder
    if not finished:
        _kill(process)
    try:
        code = await asyncio.wait_for(process.wait(), REAP_TIMEOUT)
    except TimeoutError:
        _kill(process)
        code = await process.wait()
    stderr = await errors
    if code != 0 or stderr:
        log.log(
            logging.WARNING if code != 0 or b"fatal:" in stderr else logging.DEBUG,
            "git http-backend %s %s exited %s: %s",
            env.get("REQUEST_METHOD"),
            env.get("PATH_INFO"),
            code,
            stderr.decode(errors="replace").strip(),
        )


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
