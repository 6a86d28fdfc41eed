"""The HTTP face of the embedded API server (aiohttp): routing, content negotiation, watches and subresources."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from typing import Any

from aiohttp import web

from . import discovery, openapi, patching, scale, tables, tls
from .catalog import Catalog, storage_key
from .clock import now
from .patching import PatchError
from .requests import (
    ResourcePath,
    bool_param,
    decode_body,
    field_validation,
    int_param,
    media_type,
    parse_resource_path,
)
from .resources import ResourceType
from .rest import PATCH_APPLY, PATCH_JSON, PATCH_MERGE, PATCH_STRATEGIC, PATCH_TYPES, Api, WriteOptions, patch_error
from .selectors import parse_field_selector, parse_label_selector
from .status import ApiError, bad_request, expired, method_not_allowed, path_not_found, unsupported_media_type
from .watch import CLOSE, Watcher

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024  # the real server's limit for a request body
VERSION = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.0-driftlab",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-11-01T00:00:00Z",
    "goVersion": "n/a (driftlab embedded cluster, Python)",
    "compiler": "python",
    "platform": "linux/amd64",
}
UNSUPPORTED_STREAMS = {"exec", "attach", "portforward", "proxy"}
JSON_TYPE = "application/json"
# Kinds the real server answers with a deprecation warning, which kubectl prints as "Warning: ...".
DEPRECATED = {
    ("", "v1", "Endpoints"): "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
}


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def respond(
    body: Any, status: int = 200, content_type: str = JSON_TYPE, warnings: list[str] | None = None
) -> web.Response:
    headers = {}
    if warnings:
        headers["Warning"] = ", ".join(f'299 - "{w.replace(chr(34), chr(92) + chr(34))}"' for w in warnings)
    return web.Response(
        body=_dumps(body), status=status, content_type=None, headers={"Content-Type": content_type, **headers}
    )


def error_response(err: ApiError) -> web.Response:
    return respond(err.to_status(), status=err.code)


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


UNAUTHORIZED = ApiError(401, "Unauthorized", "Unauthorized")


class ApiServer:
    """Owns the aiohttp application; every request lands in `dispatch`.

    With a `token`, every request but the public health and version paths must carry it as a bearer token,
    as a real server with anonymous access turned off demands; without one (in-process tests) none is needed.
    """

    def __init__(self, api: Api, address: str, token: str | None = None) -> None:
        self.api = api
        self.catalog: Catalog = api.catalog
        self.address = address
        self.token = token
        self.app = web.Application(client_max_size=MAX_BODY)
        self.app.router.add_route("*", r"/{tail:[\s\S]*}", self.dispatch)  # every path, a newline in it too
        self._openapi_cache: tuple[int, dict[str, Any]] | None = None

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        if self.token is not None and not self._authenticated(request):
            return error_response(UNAUTHORIZED)
        try:
            return await self._route(request)
        except ApiError as err:
            return error_response(err)
        except web.HTTPRequestEntityTooLarge:
            return error_response(
                ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY}")
            )
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as err:  # the server must answer, whatever a request does to it
            log.exception("internal error on %s %s", request.method, request.path_qs)
            return error_response(ApiError(500, "InternalError", f"Internal error occurred: {err}"))

    def _authenticated(self, request: web.Request) -> bool:
        """A wrong token is refused everywhere; no token at all only reads the public paths (as anonymous)."""
        header = request.headers.get("Authorization")
        if header is None and tls.is_public(request.path) and request.method in ("GET", "HEAD"):
            return True
        return tls.bearer_matches(header, self.token or "")

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if request.method == "GET":
            static = self._static(request, path)
            if static is not None:
                return static
        resource = parse_resource_path(self.catalog, path)
        if resource is None:
            raise path_not_found()
        if resource.rtype.unavailable:
            raise ApiError(503, "ServiceUnavailable", resource.rtype.unavailable)
        if resource.subresource in UNSUPPORTED_STREAMS:
            raise ApiError(
                400,
                "BadRequest",
                f"the embedded cluster cannot {resource.subresource} into containers: its workloads are "
                "simulated. Start the lab with the kind backend (--backend kind) to use exec, attach, cp "
                "and port-forward",
            )
        if resource.subresource == "log":
            return await self._logs(request, resource)
        if resource.subresource == "scale":
            return await self._scale(request, resource)
        if not resource.name:
            response = await self._collection(request, resource)
        else:
            response = await self._item(request, resource)
        deprecation = DEPRECATED.get((resource.rtype.group, resource.rtype.version, resource.rtype.kind))
        if deprecation and not response.prepared:
            response.headers.add("Warning", f'299 - "{deprecation}"')
        return response

    # Discovery, version, OpenAPI, health ------------------------------------------------------------------

    def _static(self, request: web.Request, path: str) -> web.Response | None:
        aggregated = "as=APIGroupDiscoveryList" in request.headers.get("Accept", "")
        if path == "/api":
            if aggregated:
                return respond(
                    discovery.aggregated(self.catalog, core=True),
                    content_type=discovery.AGGREGATED_CONTENT_TYPE,
                )
            return respond(discovery.legacy_core_versions(self.address))
        if path == "/apis":
            if aggregated:
                return respond(
                    discovery.aggregated(self.catalog, core=False),
                    content_type=discovery.AGGREGATED_CONTENT_TYPE,
                )
            return respond(discovery.legacy_groups(self.catalog))
        parts = [p for p in path.split("/") if p]
        if (parts[:1] == ["api"] and len(parts) == 2) or (parts[:1] == ["apis"] and len(parts) == 3):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            body = discovery.legacy_resources(self.catalog, group, version)
            if body is None:
                raise path_not_found()
            return respond(body)
        if parts[:1] == ["apis"] and len(parts) == 2:
            body = discovery.legacy_group(self.catalog, parts[1])
            if body is None:
                raise path_not_found()
            return respond(body)
        if path == "/version":
            return respond(VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/openapi/v3":
            return respond(self._openapi_index())
        if path.startswith("/openapi/v3/"):
            document = openapi.openapi_document_bytes(path[len("/openapi/v3/") :], self.catalog.types)
            if document is None:
                raise path_not_found()
            return web.Response(body=document, content_type=None, headers={"Content-Type": JSON_TYPE})
        if path == "/openapi/v2":
            raise path_not_found()
        return None

    def _openapi_index(self) -> dict[str, Any]:
        if self._openapi_cache is None or self._openapi_cache[0] != self.catalog.generation:
            self._openapi_cache = (self.catalog.generation, openapi.openapi_index(self.catalog.types))
        return self._openapi_cache[1]

    # Collections -------------------------------------------------------------------------------------------

    async def _collection(self, request: web.Request, res: ResourcePath) -> web.StreamResponse:
        rtype = res.rtype
        query = request.query
        if request.method == "GET":
            labels = parse_label_selector(query.get("labelSelector"))
            fields = parse_field_selector(query.get("fieldSelector"), rtype.kind, rtype.is_custom)
            if bool_param(query.get("watch")):
                return await self._watch(request, res, labels, fields)
            result = self.api.list(
                rtype,
                res.namespace,
                labels,
                fields,
                int_param("limit", query.get("limit")),
                query.get("continue", ""),
            )
            if _wants_table(request):
                return respond(
                    tables.table(
                        rtype,
                        result.items,
                        now=now(),
                        include_object=query.get("includeObject", "Metadata"),
                        resource_version=result.resource_version,
                        continue_token=result.continue_token,
                    )
                )
            meta: dict[str, Any] = {"resourceVersion": result.resource_version}
            if result.continue_token:
                meta["continue"] = result.continue_token
            return respond(
                {
                    "kind": rtype.list_kind,
                    "apiVersion": rtype.api_version,
                    "metadata": meta,
                    "items": result.items,
                }
            )
        if request.method == "POST":
            if rtype.namespaced and res.namespace is None:
                raise method_not_allowed()
            body = decode_body(await request.read(), request.headers.get("Content-Type"))
            obj, warnings = self.api.create(rtype, res.namespace or "", body, self._write_options(request))
            return respond(obj, status=201, warnings=warnings)
        if request.method == "DELETE":
            labels = parse_label_selector(query.get("labelSelector"))
            fields = parse_field_selector(query.get("fieldSelector"), rtype.kind, rtype.is_custom)
            options = await self._delete_options(request)
            deleted = self.api.delete_collection(rtype, res.namespace, labels, fields, options, self._dry_run(request))
            return respond(
                {
                    "kind": rtype.list_kind,
                    "apiVersion": rtype.api_version,
                    "metadata": {"resourceVersion": str(self.api.store.revision)},
                    "items": deleted,
                }
            )
        raise method_not_allowed()

    # Single objects ---------------------------------------------------------------------------------------

    async def _item(self, request: web.Request, res: ResourcePath) -> web.StreamResponse:
        rtype, namespace, name = res.rtype, res.namespace or "", res.name
        method = request.method
        if res.subresource == "finalize" and method != "PUT":
            raise method_not_allowed()
        if method == "GET":
            obj = self.api.get(rtype, namespace, name)
            if _wants_table(request):
                return respond(
                    tables.table(
                        rtype,
                        [obj],
                        now=now(),
                        include_object=request.query.get("includeObject", "Metadata"),
                        resource_version=obj["metadata"].get("resourceVersion", ""),
                    )
                )
            return respond(obj)
        if method == "PUT":
            body = decode_body(await request.read(), request.headers.get("Content-Type"))
            sub = "" if res.subresource == "finalize" else res.subresource
            obj, warnings = self.api.update(rtype, namespace, name, body, self._write_options(request), sub)
            return respond(obj, warnings=warnings)
        if method == "PATCH":
            content_type = media_type(request.headers.get("Content-Type"))
            if content_type not in PATCH_TYPES:
                raise unsupported_media_type(list(PATCH_TYPES))
            raw = decode_body(await request.read(), content_type)
            obj, warnings, created = self.api.patch(
                rtype, namespace, name, content_type, raw, self._write_options(request), res.subresource
            )
            return respond(obj, status=201 if created else 200, warnings=warnings)
        if method == "DELETE":
            options = await self._delete_options(request)
            obj = self.api.delete(rtype, namespace, name, options, self._dry_run(request))
            return respond(obj)
        raise method_not_allowed()

    def _dry_run(self, request: web.Request) -> bool:
        values = request.query.getall("dryRun", [])
        for value in values:
            if value != "All":
                raise bad_request(f"Invalid dry run value: {value!r}: only 'All' is supported")
        return bool(values)

    def _write_options(self, request: web.Request) -> WriteOptions:
        query = request.query
        manager = query.get("fieldManager", "")
        if len(manager) > 128:
            raise bad_request("fieldManager must not be longer than 128 characters")
        if not manager:
            agent = request.headers.get("User-Agent", "")
            manager = agent.split("/", 1)[0] if agent else "unknown"
        return WriteOptions(
            dry_run=self._dry_run(request),
            field_manager=manager,
            field_validation=field_validation(query.get("fieldValidation")),
            force=bool_param(query.get("force")),
        )

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                decoded = decode_body(raw, request.headers.get("Content-Type"))
                if not isinstance(decoded, dict):
                    raise bad_request("the body of a DELETE must be a DeleteOptions object")
                options.update(decoded)
        if "propagationPolicy" in request.query:
            options["propagationPolicy"] = request.query["propagationPolicy"]
        if "orphanDependents" in request.query:
            options["orphanDependents"] = bool_param(request.query["orphanDependents"])
        return options

    # Subresources -----------------------------------------------------------------------------------------

    async def _scale(self, request: web.Request, res: ResourcePath) -> web.StreamResponse:
        rtype, namespace, name = res.rtype, res.namespace or "", res.name
        live = self.api.get(rtype, namespace, name)
        if request.method == "GET":
            return respond(scale.to_scale(rtype, live))
        if request.method not in ("PUT", "PATCH"):
            raise method_not_allowed()
        body = decode_body(await request.read(), request.headers.get("Content-Type"))
        if request.method == "PATCH":
            content_type = media_type(request.headers.get("Content-Type"))
            current = scale.to_scale(rtype, live)
            try:
                if content_type == PATCH_JSON:
                    body = patching.json_patch(current, body)
                elif content_type in (PATCH_MERGE, PATCH_STRATEGIC, PATCH_APPLY):
                    body = patching.merge_patch(current, body)
                else:
                    raise unsupported_media_type(list(PATCH_TYPES))
            except PatchError as err:
                raise patch_error(err) from err
        updated = scale.apply_scale(rtype, live, body)
        obj, _ = self.api.update(rtype, namespace, name, updated, self._write_options(request))
        return respond(scale.to_scale(rtype, obj))

    async def _logs(self, request: web.Request, res: ResourcePath) -> web.StreamResponse:
        """`pods/log`: the kubelet's log of a container instance, whole or followed as it grows."""
        # Imported here, not at the top: the kubelet loads after the API answers (see daemon.serve).
        from .kubelet import logs as podlogs
        from .kubelet import node_runtime

        if request.method != "GET":
            raise method_not_allowed()
        pod = self.api.get(res.rtype, res.namespace or "", res.name)
        query = podlogs.LogQuery.parse(request.query, now())
        container = podlogs.choose_container(pod, query.container)
        if not (pod.get("spec") or {}).get("nodeName"):
            # Like the real server: a pod no node runs yet has no log to stream, and that is not an error.
            return web.Response(text="", content_type="text/plain")
        container_id = podlogs.container_id_for(pod, container, query.previous)
        store = node_runtime(self.api).logs
        if not query.follow:
            text = podlogs.read(store, container_id, query, now())
            return web.Response(text=text, content_type="text/plain")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)

        async def write(text: str) -> None:
            await response.write(text.encode())

        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            await podlogs.follow(store, container_id, query, write)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    # Watch ------------------------------------------------------------------------------------------------

    async def _watch(self, request: web.Request, res: ResourcePath, labels: list, fields: list) -> web.StreamResponse:
        rtype = res.rtype
        query = request.query
        store = self.api.store
        table = _wants_table(request)
        include = query.get("includeObject", "Metadata")
        send_initial = bool_param(query.get("sendInitialEvents"))
        bookmarks = bool_param(query.get("allowWatchBookmarks"))
        rv_param = query.get("resourceVersion", "")
        timeout = int_param("timeoutSeconds", query.get("timeoutSeconds")) or random.randint(1800, 3600)
        if send_initial and query.get("resourceVersionMatch") not in (None, "", "NotOlderThan"):
            raise bad_request("sendInitialEvents requires resourceVersionMatch=NotOlderThan")
        if rv_param and rv_param != "0" and not send_initial:
            try:
                since = int(rv_param)
            except ValueError as err:
                raise bad_request(f"invalid resource version: {rv_param!r}") from err
            if since < store.oldest_watchable:
                raise expired(f"too old resource version: {since} ({store.oldest_watchable})")
        watcher = Watcher(storage_key(rtype), res.namespace, labels, fields)
        self.api.hub.subscribe(watcher)
        response = web.StreamResponse(headers={"Content-Type": JSON_TYPE})
        response.enable_chunked_encoding()
        await response.prepare(request)
        first_table = [True]

        def encode(event_type: str, obj: dict[str, Any]) -> bytes:
            if table and event_type != "BOOKMARK":
                obj = tables.table(rtype, [obj], now=now(), include_object=include)
                if not first_table[0]:
                    obj["columnDefinitions"] = []
                first_table[0] = False
            return _dumps({"type": event_type, "object": obj}) + b"\n"

        async def send(event_type: str, obj: dict[str, Any]) -> None:
            await response.write(encode(event_type, obj))

        try:
            if not rv_param or rv_param == "0" or send_initial:
                watcher.last_rv = store.revision
                current = self.api.list(rtype, res.namespace, labels, fields)
                for obj in current.items:
                    await send("ADDED", obj)
                if send_initial:
                    await send("BOOKMARK", self._bookmark(rtype, current.resource_version, initial_end=True))
            else:
                for event in store.events_since(int(rv_param), storage_key(rtype), res.namespace):
                    watcher.offer(event.rv, event.type, self.api._as_version(rtype, event.obj), None)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                ready = []
                if watcher.queue.empty():
                    try:
                        ready.append(await asyncio.wait_for(watcher.queue.get(), timeout=min(remaining, 60)))
                    except TimeoutError:
                        if bookmarks:
                            await send("BOOKMARK", self._bookmark(rtype, str(store.revision)))
                        continue
                # Under load events pile up faster than one write per loop pass carries them: send all that wait.
                while not watcher.queue.empty():
                    ready.append(watcher.queue.get_nowait())
                close = next((i for i, (event_type, _) in enumerate(ready) if event_type == CLOSE), None)
                events = ready if close is None else ready[:close]
                chunk = b"".join(encode(event_type, self.api._as_version(rtype, obj)) for event_type, obj in events)
                if chunk:
                    await response.write(chunk)
                if close is not None:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.api.hub.unsubscribe(watcher)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    @staticmethod
    def _bookmark(rtype: ResourceType, resource_version: str, initial_end: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"resourceVersion": resource_version}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta}
