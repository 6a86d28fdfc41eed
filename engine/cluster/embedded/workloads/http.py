"""HTTP answers of a container: catalogue routes, files below a docroot, JSON bodies and access-log lines."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .context import Context, render
from .errors import NotListening
from .model import Http, HttpRoute

_CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".json": "application/json",
    ".txt": "text/plain",
    ".css": "text/css",
    ".js": "application/javascript",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class HttpAnswer:
    """What a container answers to one request."""

    status: int
    body: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class HttpRequest:
    """A request to a container's HTTP server; build it with `ImageBehaviour.http_request`."""

    context: Context
    path: str = "/"
    method: str = "GET"
    now: datetime | None = None


def listens_on(http: Http | None, port: int | None) -> bool:
    """True if a server described by `http` accepts connections on `port` (None: on its own port)."""
    return http is not None and (port is None or http.port is None or http.port == port)


def answer(http: Http | None, request: HttpRequest, *, port: int | None, server: str) -> HttpAnswer:
    """The answer of the server described by `http`; raise NotListening (naming `server`) when it does not
    listen on `port`."""
    if http is None or not listens_on(http, port):
        where = f"port {port}" if port is not None else "any port"
        raise NotListening(f"{server} does not listen on {where}: connection refused")
    path = request.path.split("?", 1)[0] or "/"
    route: HttpRoute | None = http.paths.get(path)
    if route is None and http.docroot is not None:
        served = _docroot_file(http.docroot, path, request.context.files)
        if served is not None:
            name, content = served
            headers = {"Content-Type": _content_type(name), **_headers(http, request)}
            return HttpAnswer(200, content, headers)
        if path not in ("/", "/index.html"):
            route = http.not_found
    return _route_answer(route or http, http, request)


def access_log_line(
    http: Http | None, request: HttpRequest, answered: HttpAnswer, *, client: str, user_agent: str
) -> str | None:
    """The log line the server writes for a request, if the catalogue gives it an `access_log`."""
    if http is None or http.access_log is None:
        return None
    extra = {
        "status": str(answered.status),
        "bytes": str(len(answered.body.encode())),
        "client": client,
        "user_agent": user_agent,
        "path": request.path,
        "method": request.method,
    }
    return render(http.access_log, request.context, now=request.now or datetime.now(UTC), extra=extra)


def _docroot_file(docroot: str, path: str, files: Mapping[str, str]) -> tuple[str, str] | None:
    relative = posixpath.normpath("/" + path.lstrip("/")).lstrip("/")
    candidate = posixpath.join(docroot, relative) if relative and relative != "." else docroot
    for name in (candidate, posixpath.join(candidate, "index.html")):
        if name in files:
            return name, files[name]
    return None


def _route_answer(route: HttpRoute, http: Http, request: HttpRequest) -> HttpAnswer:
    extra = {"path": request.path, "method": request.method}
    now = request.now or datetime.now(UTC)
    if route.json_body is not None:
        rendered = _render_json(route.json_body, lambda text: render(text, request.context, now=now, extra=extra))
        body = json.dumps(rendered, indent=2) + "\n"
        content_type = route.content_type or "application/json; charset=utf-8"
    else:
        body = render(route.body, request.context, now=now, extra=extra) if route.body else ""
        content_type = route.content_type or http.content_type or "text/plain; charset=utf-8"
    return HttpAnswer(route.status, body, {"Content-Type": content_type, **_headers(http, request, route)})


def _headers(http: Http, request: HttpRequest, route: HttpRoute | None = None) -> dict[str, str]:
    headers = {**http.headers, **(route.headers if route is not None else {})}
    return {name: render(text, request.context) for name, text in headers.items()}


def _render_json(value: Any, render_text: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return render_text(value)
    if isinstance(value, Mapping):
        return {key: _render_json(item, render_text) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_json(item, render_text) for item in value]
    return value


def _content_type(name: str) -> str:
    return _CONTENT_TYPES.get(posixpath.splitext(name)[1].lower(), "application/octet-stream")
