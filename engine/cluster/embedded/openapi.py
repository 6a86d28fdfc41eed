"""The OpenAPI v3 documents of the embedded API server (`GET /openapi/v3` and `/openapi/v3/<group-version>`).

kubectl reads them for two things: `apply`/`create`/`replace`/`edit` look for a `fieldValidation` query
parameter on the PATCH operation of a kind (then they send `fieldValidation=Strict` and let the server
validate), and `kubectl explain` renders `components.schemas`. The built-in schemas come from the
`kubernetes-validate` definitions, converted from their JSON-Schema style to OpenAPI 3.0; custom resources
get a schema built from their CRD, named as the real server names it (`com.example.v1.Widget`).

Documents are large, so each is rendered once per content and kept (a CRD change re-renders only its own
group-version). The index carries a hash of every document, which changes exactly when the document does,
so kubectl's HTTP cache stays correct.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import schemas
from .resources import ResourceType

Obj = dict[str, Any]

_SCHEMA_PREFIX = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_OBJECT_META = _META + "ObjectMeta"
_LIST_META = _META + "ListMeta"
_STATUS = _META + "Status"
_DELETE_OPTIONS = _META + "DeleteOptions"
_PATCH = _META + "Patch"
_WATCH_EVENT = _META + "WatchEvent"
_SCALE = "io.k8s.api.autoscaling.v1.Scale"
_SCALE_GVK = {"group": "autoscaling", "kind": "Scale", "version": "v1"}

_TYPE_META_SOURCE = "io.k8s.api.core.v1.ConfigMap"  # any built-in kind: they share these descriptions


def _type_meta_property(name: str) -> Obj:
    """`apiVersion`, `kind` or `metadata` as every built-in kind documents it."""
    source = schemas.definitions().get(_TYPE_META_SOURCE, {}).get("properties", {}).get(name, {})
    prop: Obj = {"description": source.get("description", "")}
    if name == "metadata":
        prop["allOf"] = [{"$ref": _SCHEMA_PREFIX + _OBJECT_META}]
    else:
        prop["type"] = "string"
    return prop


# ---------------------------------------------------------------------------------------------------------
# Public API


def openapi_index(types: Iterable[ResourceType]) -> Obj:
    """The `GET /openapi/v3` body: one entry per group-version served, each with a content hash."""
    built = _build(types)
    return {
        "paths": {path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={doc.hash}"} for path, doc in built.items()}
    }


def openapi_document(group_version: str, types: Iterable[ResourceType]) -> Obj | None:
    """The OpenAPI 3.0 document of one group-version (`v1`, `apps/v1`, `api/v1` or `apis/apps/v1`), or
    None when no served type belongs to it. The returned dict is shared: treat it as read-only."""
    doc = _build(types).get(_index_path(group_version))
    return doc.document if doc is not None else None


def openapi_document_bytes(group_version: str, types: Iterable[ResourceType]) -> bytes | None:
    """The same document as compact JSON; its SHA-512 is the `hash` the index advertises (usable as ETag)."""
    doc = _build(types).get(_index_path(group_version))
    return doc.body if doc is not None else None


def schema_name(group: str, version: str, kind: str) -> str:
    """The component name the real server gives a custom resource: `example.com`, `v1`, `Widget` ->
    `com.example.v1.Widget`."""
    reversed_group = ".".join(reversed(group.split("."))) if group else ""
    return ".".join(part for part in (reversed_group, version, kind) if part)


# ---------------------------------------------------------------------------------------------------------
# Caching: each group-version document is rendered once per distinct content; a CRD change re-renders only
# its own group-version


@dataclass(frozen=True)
class _Doc:
    document: Obj
    body: bytes
    hash: str


_SETS: OrderedDict[tuple[str, ...], dict[str, _Doc]] = OrderedDict()
_DOCS: OrderedDict[tuple[str, tuple[str, ...]], _Doc] = OrderedDict()
_SETS_KEPT = 8
_DOCS_KEPT = 64
_LOCK = threading.Lock()


def _fingerprint(rtype: ResourceType) -> str:
    fields = [
        rtype.group,
        rtype.version,
        rtype.kind,
        rtype.plural,
        rtype.namespaced,
        list(rtype.subresources),
        rtype.definition,
        rtype.crd_schema,
    ]
    return json.dumps(fields, sort_keys=True)


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any, kept: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > kept:
        cache.popitem(last=False)


def _build(types: Iterable[ResourceType]) -> dict[str, _Doc]:
    ordered = sorted((t for t in types if not t.unavailable), key=lambda t: (t.group, t.version, t.plural, t.kind))
    fingerprints = [_fingerprint(t) for t in ordered]
    key = tuple(fingerprints)
    with _LOCK:
        if key in _SETS:
            _SETS.move_to_end(key)
            return _SETS[key]
    groups: dict[str, list[tuple[ResourceType, str]]] = {}
    for rtype, fingerprint in zip(ordered, fingerprints, strict=True):
        groups.setdefault(_index_path(rtype.group_version), []).append((rtype, fingerprint))
    built = {path: _group_doc(path, members) for path, members in sorted(groups.items())}
    with _LOCK:
        _remember(_SETS, key, built, _SETS_KEPT)
    return built


def _group_doc(path: str, members: list[tuple[ResourceType, str]]) -> _Doc:
    key = (path, tuple(fingerprint for _, fingerprint in members))
    with _LOCK:
        if key in _DOCS:
            _DOCS.move_to_end(key)
            return _DOCS[key]
    document = _document([rtype for rtype, _ in members])
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    doc = _Doc(document, body, hashlib.sha512(body).hexdigest().upper())
    with _LOCK:
        _remember(_DOCS, key, doc, _DOCS_KEPT)
    return doc


def _index_path(group_version: str) -> str:
    """`v1` and `api/v1` -> `api/v1`; `apps/v1` and `apis/apps/v1` -> `apis/apps/v1`."""
    text = group_version.strip("/")
    if text.startswith(("api/", "apis/")):
        return text
    return f"api/{text}" if "/" not in text else f"apis/{text}"


# ---------------------------------------------------------------------------------------------------------
# Converting kubernetes-validate (JSON Schema) definitions to OpenAPI 3.0 schemas


def _convert_ref(ref: str) -> str:
    return _SCHEMA_PREFIX + schemas.ref_name(ref)


def _convert(schema: Any, top_level: bool = False) -> Any:
    """One schema node in OpenAPI 3.0 style: no null types, component refs, descriptions kept."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = {"$ref": _convert_ref(schema["$ref"])}
        extra = {key: _convert(value) for key, value in schema.items() if key != "$ref"}
        return {**extra, "allOf": [ref]} if extra else ref
    out: Obj = {}
    for key, value in schema.items():
        if key == "type":
            kinds = [value] if isinstance(value, str) else [kind for kind in value if kind != "null"]
            if kinds:
                out["type"] = kinds[0] if len(kinds) == 1 else kinds
        elif key == "enum":
            values = [item for item in value if item is not None]
            if values:
                out["enum"] = values
        elif key == "properties":
            out["properties"] = {name: _convert(prop) for name, prop in value.items()}
            if top_level:
                for name in ("apiVersion", "kind"):
                    out["properties"].get(name, {}).pop("enum", None)
        elif key in ("items", "additionalProperties", "not"):
            out[key] = _convert(value)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [_convert(item) for item in value]
        else:
            out[key] = copy.deepcopy(value)
    return out


@functools.cache
def _converted(name: str) -> Obj:
    return _convert(schemas.definitions()[name], top_level=True)


def _refs(schema: Any) -> Iterable[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield schemas.ref_name(value)
            else:
                yield from _refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _refs(item)


@functools.cache
def _closure(name: str) -> frozenset[str]:
    """Every definition reachable from `name`, itself included."""
    seen = {name}
    todo = [name]
    definitions = schemas.definitions()
    while todo:
        for ref in _refs(definitions[todo.pop()]):
            if ref not in seen and ref in definitions:
                seen.add(ref)
                todo.append(ref)
    return frozenset(seen)


# ---------------------------------------------------------------------------------------------------------
# Custom resource schemas


def _custom_schema(rtype: ResourceType) -> Obj:
    schema = copy.deepcopy(rtype.crd_schema) if isinstance(rtype.crd_schema, dict) else {}
    schema.setdefault("type", "object")
    props = schema.get("properties")
    if not isinstance(props, dict):
        props = schema["properties"] = {}
    for name in ("apiVersion", "kind", "metadata"):
        props[name] = _type_meta_property(name)
    schema["x-kubernetes-group-version-kind"] = [_gvk(rtype)]
    return schema


def _custom_list_schema(rtype: ResourceType) -> Obj:
    item_ref = _SCHEMA_PREFIX + schema_name(rtype.group, rtype.version, rtype.kind)
    return {
        "description": f"{rtype.list_kind} is a list of {rtype.kind} objects.",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": _type_meta_property("apiVersion"),
            "items": {"description": f"The {rtype.plural}.", "type": "array", "items": {"$ref": item_ref}},
            "kind": _type_meta_property("kind"),
            "metadata": {
                "allOf": [{"$ref": _SCHEMA_PREFIX + _LIST_META}],
                "description": "Standard list metadata.",
            },
        },
        "x-kubernetes-group-version-kind": [{**_gvk(rtype), "kind": rtype.list_kind}],
    }


# ---------------------------------------------------------------------------------------------------------
# Paths and operations


def _gvk(rtype: ResourceType) -> Obj:
    return {"group": rtype.group, "kind": rtype.kind, "version": rtype.version}


def _camel_group(rtype: ResourceType) -> str:
    group = rtype.group.removesuffix(".k8s.io") or "core"
    return "".join(part[:1].upper() + part[1:] for part in group.split(".")) + rtype.version.capitalize()


def _tag(rtype: ResourceType) -> str:
    group = rtype.group.removesuffix(".k8s.io") or "core"
    parts = group.split(".")
    return parts[0] + "".join(part.capitalize() for part in parts[1:]) + "_" + rtype.version


def _string_schema() -> Obj:
    return {"type": "string", "uniqueItems": True}


def _query(name: str, description: str, kind: str = "string") -> Obj:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, "uniqueItems": True},
    }


_PRETTY = _query("pretty", "If 'true', the output is pretty printed.")
_DRY_RUN = _query(
    "dryRun",
    "When present, the request is checked and answered but nothing is persisted. The only valid value is All.",
)
_FIELD_MANAGER = _query(
    "fieldManager",
    "A name for the actor making these changes, recorded in managedFields. At most 128 printable characters.",
)
_FIELD_VALIDATION = _query(
    "fieldValidation",
    "How the server treats unknown and duplicate fields in the request body. Ignore drops them silently; "
    "Warn (the default) drops them and answers with a warning header for each; Strict rejects the request "
    "with a BadRequest error naming every such field.",
)
_FORCE = _query(
    "force",
    "Apply requests only: take ownership of fields other managers own instead of "
    "failing with a conflict. Must be unset for other patch types.",
    "boolean",
)
_LIST_QUERY = [
    _query("allowWatchBookmarks", "Ask for BOOKMARK events on a watch.", "boolean"),
    _query("continue", "The continue token of a previous chunked list."),
    _query("fieldSelector", "Restrict the list to objects whose fields match, e.g. metadata.name=web."),
    _query("labelSelector", "Restrict the list to objects whose labels match, e.g. app=web."),
    _query("limit", "The largest number of objects to return in one chunk.", "integer"),
    _query("resourceVersion", "Which version of the collection to serve, or to watch from."),
    _query("resourceVersionMatch", "How resourceVersion applies to a list: Exact or NotOlderThan."),
    _query("sendInitialEvents", "Start a watch with the current objects, then a bookmark.", "boolean"),
    _query("timeoutSeconds", "How long a list or watch may last.", "integer"),
    _query("watch", "Stream changes instead of returning a list.", "boolean"),
]
_DELETE_QUERY = [
    _DRY_RUN,
    _query("gracePeriodSeconds", "Seconds before the object is deleted; zero deletes at once.", "integer"),
    _query(
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "Delete even an object that cannot be read.",
        "boolean",
    ),
    _query("orphanDependents", "Deprecated: use propagationPolicy.", "boolean"),
    _query(
        "propagationPolicy",
        "Whether and how dependents are garbage collected: Orphan, Background or Foreground.",
    ),
]


def _content(ref: str, kinds: Iterable[str]) -> Obj:
    return {kind: {"schema": {"$ref": _SCHEMA_PREFIX + ref}} for kind in kinds}


_READ_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_LIST_TYPES = (
    *_READ_TYPES,
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
)
_CUSTOM_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json")
# kubectl computes a strategic merge patch only when the kind's PATCH accepts one: never for custom resources.
_BUILTIN_PATCH_TYPES = (*_CUSTOM_PATCH_TYPES, "application/strategic-merge-patch+json")


def _responses(ref: str, codes: Iterable[str], kinds: Iterable[str] = _READ_TYPES) -> Obj:
    kinds = tuple(kinds)
    out: Obj = {
        code: {
            "description": {"200": "OK", "201": "Created", "202": "Accepted"}[code],
            "content": _content(ref, kinds),
        }
        for code in codes
    }
    out["401"] = {"description": "Unauthorized"}
    return out


def _operation(
    action: str,
    operation_id: str,
    rtype: ResourceType,
    gvk: Obj,
    responses: Obj,
    params: list[Obj] | None = None,
    body: Obj | None = None,
) -> Obj:
    op: Obj = {
        "description": f"{action} {rtype.kind}",
        "operationId": operation_id,
        "tags": [_tag(rtype)],
        "responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = body
    return op


def _body(ref: str, kinds: Iterable[str] = ("*/*",)) -> Obj:
    return {"content": _content(ref, kinds), "required": True}


def _path_param(name: str, description: str) -> Obj:
    return {
        "name": name,
        "in": "path",
        "description": description,
        "required": True,
        "schema": _string_schema(),
    }


def _item_operations(rtype: ResourceType, ref: str, gvk: Obj, stem: str, suffix: str = "") -> Obj:
    write = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
    return {
        "get": _operation("get", f"read{stem}{suffix}", rtype, gvk, _responses(ref, ["200"])),
        "put": _operation(
            "put", f"replace{stem}{suffix}", rtype, gvk, _responses(ref, ["200", "201"]), write, _body(ref)
        ),
        "patch": _operation(
            "patch",
            f"patch{stem}{suffix}",
            rtype,
            gvk,
            _responses(ref, ["200", "201"]),
            [*write, _FORCE],
            _body(_PATCH, _CUSTOM_PATCH_TYPES if rtype.is_custom else _BUILTIN_PATCH_TYPES),
        ),
    }


def _resource_paths(rtype: ResourceType, ref: str, list_ref: str) -> dict[str, Obj]:
    base = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
    scope = "Namespaced" if rtype.namespaced else ""
    stem = f"{_camel_group(rtype)}{scope}{rtype.kind}"
    gvk = _gvk(rtype)
    collection = f"{base}/namespaces/{{namespace}}/{rtype.plural}" if rtype.namespaced else f"{base}/{rtype.plural}"
    item = collection + "/{name}"
    path_params = [_path_param("name", f"name of the {rtype.kind}")]
    if rtype.namespaced:
        path_params.append(_path_param("namespace", "object name and auth scope, such as for teams and projects"))
    item_ops = _item_operations(rtype, ref, gvk, stem)
    item_ops["delete"] = _operation(
        "delete",
        f"delete{stem}",
        rtype,
        gvk,
        _responses(_STATUS, ["200", "202"]),
        _DELETE_QUERY,
        _body(_DELETE_OPTIONS),
    )
    item_ops["parameters"] = [*path_params, _PRETTY]
    collection_ops: Obj = {
        "get": _operation("list", f"list{stem}", rtype, gvk, _responses(list_ref, ["200"], _LIST_TYPES), _LIST_QUERY),
        "post": _operation(
            "post",
            f"create{stem}",
            rtype,
            gvk,
            _responses(ref, ["200", "201", "202"]),
            [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
            _body(ref),
        ),
        "delete": _operation(
            "deletecollection",
            f"delete{_camel_group(rtype)}Collection{scope}{rtype.kind}",
            rtype,
            gvk,
            _responses(_STATUS, ["200"]),
            _DELETE_QUERY + _LIST_QUERY,
            _body(_DELETE_OPTIONS),
        ),
        "parameters": [*path_params[1:], _PRETTY],
    }
    paths = {collection: collection_ops, item: item_ops}
    if rtype.namespaced:
        paths[f"{base}/{rtype.plural}"] = {
            "get": _operation(
                "list",
                f"list{_camel_group(rtype)}{rtype.kind}ForAllNamespaces",
                rtype,
                gvk,
                _responses(list_ref, ["200"], _LIST_TYPES),
                _LIST_QUERY,
            ),
            "parameters": [_PRETTY],
        }
    if "status" in rtype.subresources:
        paths[item + "/status"] = {
            **_item_operations(rtype, ref, gvk, stem, "Status"),
            "parameters": [*path_params, _PRETTY],
        }
    if "scale" in rtype.subresources:
        paths[item + "/scale"] = {
            **_item_operations(rtype, _SCALE, _SCALE_GVK, stem, "Scale"),
            "parameters": [*path_params, _PRETTY],
        }
    return paths


# ---------------------------------------------------------------------------------------------------------
# Whole documents


def _document(types: list[ResourceType]) -> Obj:
    paths: dict[str, Obj] = {}
    components: dict[str, Obj] = {}
    needed: set[str] = {_STATUS, _DELETE_OPTIONS, _PATCH, _WATCH_EVENT, _LIST_META}
    for rtype in types:
        if rtype.is_custom:
            ref = schema_name(rtype.group, rtype.version, rtype.kind)
            list_ref = schema_name(rtype.group, rtype.version, rtype.list_kind)
            components[ref] = _custom_schema(rtype)
            components[list_ref] = _custom_list_schema(rtype)
            needed.add(_OBJECT_META)
        else:
            ref = rtype.definition or ""
            if ref not in schemas.definitions():
                continue
            list_ref = ref + "List" if ref + "List" in schemas.definitions() else ref
            needed.update((ref, list_ref))
        if "scale" in rtype.subresources:
            needed.add(_SCALE)
        paths.update(_resource_paths(rtype, ref, list_ref))
    for name in sorted({dep for root in needed for dep in _closure(root)}):
        components[name] = _converted(name)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"v{schemas.KUBERNETES_VERSION}"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
        "security": [{"BearerToken": []}],
    }
