"""Server-side apply and `metadata.managedFields`, as pure functions over JSON-like dicts.

Kept simple, but faithful where users look: `kubectl apply --server-side` merges by the same list keys as the
real server, removes what the applier stopped applying, reports conflicts with the real 409 message, and
`kubectl get -o yaml --show-managed-fields` shows the same managers, operations and fieldsV1 trees.

A field set is a frozenset of paths; a path is a tuple of fieldsV1 keys, e.g.
`("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image")`. Besides fields
(`f:`), paths step through associative list items by key (`k:`) and set members by value (`v:`). A path
whose end is itself a map, list or list item is in the set when that node is owned as a whole; in fieldsV1
that is the `.` entry.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .patching import PatchError, definition_schema, dumps, extension, field_schema, item_schema, resolved

Obj = dict[str, Any]
Schema = dict[str, Any] | None
Path = tuple[str, ...]
FieldSet = frozenset[Path]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_OBJECT_META: Obj = {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
_STRING: Obj = {"type": "string"}
_UNTRACKED_METADATA = frozenset(
    f"f:{name}"
    for name in (
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "deletionTimestamp",
        "selfLink",
    )
)
# List keys the real schemas default when an item omits them (container and service ports).
_KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


class _Missing:
    """Marks an absent value, which differs from an explicit null."""


_MISSING: Any = _Missing()


# --------------------------------------------------------------------------------------------------
# Conflicts


class Conflict(NamedTuple):
    manager: str
    field: str


class ApplyConflict(Exception):
    """An apply that would change fields another manager owns (HTTP 409, reason Conflict).

    `conflicts` lists (manager, field path) pairs; `owners[i]` names the owner of `conflicts[i]` as the real
    server does (`"kubectl-client-side-apply" using apps/v1`); `causes` is the Status `details.causes`.
    """

    reason = "Conflict"
    code = 409

    def __init__(self, conflicts: Sequence[Conflict], owners: Sequence[str] | None = None) -> None:
        self.conflicts = list(conflicts)
        self.owners = list(owners) if owners is not None else [json.dumps(c.manager) for c in self.conflicts]
        self.causes = [
            {"reason": "FieldManagerConflict", "message": f"conflict with {owner}", "field": conflict.field}
            for conflict, owner in zip(self.conflicts, self.owners, strict=True)
        ]
        self.message = _conflict_message(list(zip(self.owners, (c.field for c in self.conflicts), strict=True)))
        super().__init__(self.message)


def _conflict_message(clashes: list[tuple[str, str]]) -> str:
    if len(clashes) == 1:
        owner, field_path = clashes[0]
        return f"Apply failed with 1 conflict: conflict with {owner}: {field_path}"
    lines: list[str] = []
    for owner in dict.fromkeys(owner for owner, _ in clashes):
        lines.append(f"conflicts with {owner}:")
        lines.extend(f"- {field_path}" for who, field_path in clashes if who == owner)
    return f"Apply failed with {len(clashes)} conflicts: " + "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# fieldsV1 <-> field sets


def fields_from_v1(tree: Any, prefix: Path = ()) -> FieldSet:
    """The field set a fieldsV1 tree describes; anything malformed in it is ignored."""
    out: set[Path] = set()
    if not isinstance(tree, dict):
        return frozenset()
    for key, child in tree.items():
        if key == ".":
            if prefix:
                out.add(prefix)
        elif isinstance(key, str):
            path = (*prefix, key)
            if isinstance(child, dict) and child:
                out |= fields_from_v1(child, path)
            else:
                out.add(path)
    return frozenset(out)


def fields_to_v1(fields: Iterable[Path]) -> Obj:
    """The fieldsV1 tree of a field set, keys sorted, `.` first where a node is owned along with children."""
    root: Obj = {}
    for path in fields:
        node = root
        for element in path:
            node = node.setdefault(element, {})
        node["."] = {}
    return _tidy(root)


def _tidy(node: Obj) -> Obj:
    if set(node) == {"."}:
        return {}
    out: Obj = {".": {}} if "." in node else {}
    for key in sorted(k for k in node if k != "."):
        out[key] = _tidy(node[key])
    return out


def path_string(path: Path) -> str:
    """A path as the real server prints it: `.spec.template.spec.containers[name="nginx"].image`."""
    return "".join(_element_string(element) for element in path)


def _element_string(element: str) -> str:
    kind, _, raw = element.partition(":")
    try:
        if kind == "f":
            return "." + raw
        if kind == "k":
            fields = json.loads(raw)
            return "[" + ",".join(f"{k}={_value_string(v)}" for k, v in fields.items()) + "]"
        if kind == "v":
            return f"[={_value_string(json.loads(raw))}]"
        if kind == "i":
            return f"[{raw}]"
    except (ValueError, AttributeError):
        pass
    return element


def _value_string(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return dumps(value) if isinstance(value, dict | list) else str(value)


# --------------------------------------------------------------------------------------------------
# Types: which maps and lists are granular, and how list items are keyed


class _SchemaError(Exception):
    """The applied configuration does not fit the kind's schema (the message is the real server's)."""


@dataclass(frozen=True)
class _Types:
    root: Schema
    strict: bool  # built-in kinds reject fields their schema does not declare

    @staticmethod
    def of(definition: str | None, crd_schema: Obj | None) -> _Types:
        if definition:
            root = definition_schema(definition)
            return _Types(root, strict=root is not None)
        return _Types(crd_schema if isinstance(crd_schema, dict) else None, strict=False)

    def child(self, schema: Schema, key: str, path: Path) -> Schema:
        if not path and key == "metadata":
            return _OBJECT_META
        if not path and key in ("apiVersion", "kind"):
            return _STRING
        return field_schema(schema, key)

    def declared(self, schema: Schema, key: str, path: Path) -> bool:
        if not path and key in ("apiVersion", "kind", "metadata"):
            return True
        return key in (resolved(schema).get("properties") or {})

    def accepts_undeclared(self, schema: Schema) -> bool:
        target = resolved(schema)
        return (
            "properties" not in target
            or isinstance(target.get("additionalProperties"), dict)
            or target.get("x-kubernetes-preserve-unknown-fields") is True
        )


def _list_type(schema: Schema) -> tuple[str, tuple[str, ...]]:
    """("atomic" | "set" | "map", map keys); lists without a list type merge as their patch strategy says."""
    kind = extension(schema, "x-kubernetes-list-type")
    if kind == "map":
        keys = extension(schema, "x-kubernetes-list-map-keys")
        return ("map", tuple(keys)) if isinstance(keys, list) and keys else ("atomic", ())
    if kind in ("set", "atomic"):
        return kind, ()
    strategy = str(extension(schema, "x-kubernetes-patch-strategy") or "").split(",")
    if "merge" in strategy:
        key = extension(schema, "x-kubernetes-patch-merge-key")
        return ("map", (key,)) if isinstance(key, str) else ("set", ())
    return "atomic", ()


def _atomic_map(schema: Schema) -> bool:
    return extension(schema, "x-kubernetes-map-type") == "atomic"


def _is_struct(schema: Schema) -> bool:
    return "properties" in resolved(schema)


def _required(schema: Schema) -> list[str]:
    required = resolved(schema).get("required")
    return required if isinstance(required, list) else []


def _element(item: Any, kind: str, keys: tuple[str, ...], index: int, path: Path, strict: bool) -> str:
    """The path element of a list item: `v:<value>` in a set, `k:{<keys>}` in a map list.

    Lenient mode (stored objects) falls back to the item's index where strict mode (applied configurations)
    fails as the real server does.
    """
    if kind == "set":
        return "v:" + dumps(item)
    if not isinstance(item, dict):
        if strict:
            raise _SchemaError(f"{path_string(path)}: element {index}: expected map, got {_json_type(item)}")
        return f"i:{index}"
    key: Obj = {}
    for name in keys:
        if item.get(name) is not None:
            key[name] = item[name]
        elif name in _KEY_DEFAULTS:
            key[name] = _KEY_DEFAULTS[name]
        elif strict:
            raise _SchemaError(
                f"{path_string(path)}: element {index}: associative list with keys has an element that omits "
                f'key field "{name}" (and doesn\'t have default value)'
            )
        else:
            return f"i:{index}"
    return "k:" + dumps(key)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "list", dict: "map"}.get(type(value), "null")


def _keyed_items(value: Any, schema: Schema, path: Path) -> dict[str, Any]:
    """The items of a granular list by path element (the first of duplicates wins)."""
    if not isinstance(value, list):
        return {}
    kind, keys = _list_type(schema)
    out: dict[str, Any] = {}
    for index, item in enumerate(value):
        out.setdefault(_element(item, kind, keys, index, path, strict=False), item)
    return out


# --------------------------------------------------------------------------------------------------
# Field sets of objects, differences between objects


def _field_set(value: Obj, types: _Types, *, strict: bool = False) -> set[Path]:
    """The fields `value` sets; strict mode raises `_SchemaError` where the real server rejects a config."""
    out: set[Path] = set()
    errors: list[str] = []
    _collect(value, types.root, (), types, out, errors if strict else None)
    if errors:
        raise _SchemaError(errors[0] if len(errors) == 1 else "errors:\n  " + "\n  ".join(errors))
    return out


def _collect(value: Any, schema: Schema, path: Path, types: _Types, out: set[Path], errors: list[str] | None) -> None:
    if isinstance(value, dict):
        if path and (not value or _atomic_map(schema)):
            out.add(path)
            return
        for key, child in value.items():
            declared = types.declared(schema, key, path)
            child_path = (*path, f"f:{key}")
            if errors is not None and types.strict and not declared and not types.accepts_undeclared(schema):
                errors.append(f"{path_string(child_path)}: field not declared in schema")
                continue
            _collect(child, types.child(schema, key, path), child_path, types, out, errors)
            if not declared:
                out.add(child_path)
    elif isinstance(value, list):
        _collect_items(value, schema, path, types, out, errors)
    elif path:
        out.add(path)


def _collect_items(
    value: list[Any], schema: Schema, path: Path, types: _Types, out: set[Path], errors: list[str] | None
) -> None:
    kind, keys = _list_type(schema)
    if kind == "atomic":
        out.add(path)
        return
    seen: set[str] = set()
    for index, item in enumerate(value):
        try:
            element = _element(item, kind, keys, index, path, strict=errors is not None)
        except _SchemaError as err:
            assert errors is not None
            errors.append(str(err))
            continue
        if errors is not None and element in seen:
            errors.append(f"{path_string(path)}: duplicate entries for key {_element_string(element)}")
        seen.add(element)
        item_path = (*path, element)
        if kind == "map":
            _collect(item, item_schema(schema), item_path, types, out, errors)
        out.add(item_path)


@dataclass
class _Diff:
    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)

    def keep(self, tracked: Callable[[Path], bool]) -> _Diff:
        return _Diff(
            {p for p in self.added if tracked(p)},
            {p for p in self.modified if tracked(p)},
            {p for p in self.removed if tracked(p)},
        )


def _compare_objects(old: Any, new: Any, types: _Types) -> _Diff:
    """Which fields `new` adds, changes and drops relative to `old` (either may be _MISSING)."""
    diff = _Diff()
    _compare(old, new, types.root, (), types, diff, as_node=False)
    return diff


def _granular(old: Any, new: Any, kind: type, schema: Schema) -> bool:
    """Both sides are `kind` or absent, one is non-empty, and the schema does not make it atomic."""
    sides = [v for v in (old, new) if v is not _MISSING]
    if not all(isinstance(v, kind) for v in sides) or not any(sides):
        return False
    return not _atomic_map(schema) if kind is dict else _list_type(schema)[0] != "atomic"


def _compare(old: Any, new: Any, schema: Schema, path: Path, types: _Types, diff: _Diff, as_node: bool) -> None:
    if old is _MISSING and new is _MISSING:
        return
    if _granular(old, new, dict, schema):
        before, after = (old if old is not _MISSING else {}), (new if new is not _MISSING else {})
        required = _required(schema)
        for key in dict.fromkeys([*before, *after]):
            child = types.child(schema, key, path)
            # Structs and required fields exist in every typed object, so only optional maps and lists
            # appear and disappear as nodes of their own.
            node = not _is_struct(child) and key not in required
            _compare(
                before.get(key, _MISSING),
                after.get(key, _MISSING),
                child,
                (*path, f"f:{key}"),
                types,
                diff,
                node,
            )
    elif _granular(old, new, list, schema):
        kind = _list_type(schema)[0]
        before, after = _keyed_items(old, schema, path), _keyed_items(new, schema, path)
        for element in dict.fromkeys([*before, *after]):
            item_path = (*path, element)
            if kind == "map":
                _compare(
                    before.get(element, _MISSING),
                    after.get(element, _MISSING),
                    item_schema(schema),
                    item_path,
                    types,
                    diff,
                    as_node=True,
                )
            else:
                _leaf(before.get(element, _MISSING), after.get(element, _MISSING), item_path, diff)
    else:
        _leaf(old, new, path, diff)
        return
    if as_node and path:
        if old is _MISSING:
            diff.added.add(path)
        elif new is _MISSING:
            diff.removed.add(path)


def _leaf(old: Any, new: Any, path: Path, diff: _Diff) -> None:
    if not path:
        return
    if old is _MISSING:
        diff.added.add(path)
    elif new is _MISSING:
        diff.removed.add(path)
    elif old != new:
        diff.modified.add(path)


# --------------------------------------------------------------------------------------------------
# Merging an applied configuration, removing fields


def _merge(live: Any, config: Any, schema: Schema, path: Path, types: _Types) -> Any:
    """Merge `config` into `live` as server-side apply does; neither is modified."""
    if isinstance(config, dict) and isinstance(live, dict) and not _atomic_map(schema):
        out = dict(live)
        for key, value in config.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(
                    live.get(key, _MISSING), value, types.child(schema, key, path), (*path, f"f:{key}"), types
                )
        return out
    if isinstance(config, list) and isinstance(live, list) and _list_type(schema)[0] != "atomic":
        return _merge_items(live, config, schema, path, types)
    return _without_nulls(config)


def _merge_items(live: list[Any], config: list[Any], schema: Schema, path: Path, types: _Types) -> list[Any]:
    """Merge list items by key: the config's order for its items, live-only items kept where they were."""
    kind = _list_type(schema)[0]
    lhs, rhs = _pairs(live, schema, path), _pairs(config, schema, path)
    live_items = {e: item for e, item in reversed(lhs)}
    config_items = {e: item for e, item in reversed(rhs)}
    shared = [e for e, _ in rhs if e in live_items]

    def merged(element: str) -> Any:
        if kind != "map":
            return config_items[element]
        return _merge(
            live_items.get(element, _MISSING),
            config_items[element],
            item_schema(schema),
            (*path, element),
            types,
        )

    out: list[Any] = []
    done: set[str] = set()
    left = right = turn = 0
    while left < len(lhs) or right < len(rhs):
        if left < len(lhs) and right < len(rhs):
            element = lhs[left][0]
            if element == rhs[right][0]:
                out.append(merged(element))
                done.add(element)
                left, right, turn = left + 1, right + 1, turn + 1
                continue
            if element in config_items and turn < len(shared) and shared[turn] != element:
                left += 1  # a shared item the config wants later: it is emitted at its config position
                continue
        if left < len(lhs):
            element, item = lhs[left]
            if element not in config_items:
                out.append(item)
                left += 1
                continue
            if element in done or right >= len(rhs):
                left += 1
                continue
        element = rhs[right][0]
        if element not in done:
            out.append(merged(element))
            done.add(element)
        right += 1
        if turn < len(shared) and shared[turn] == element:
            turn += 1
    return out


def _pairs(items: list[Any], schema: Schema, path: Path) -> list[tuple[str, Any]]:
    kind, keys = _list_type(schema)
    return [(_element(item, kind, keys, i, path, strict=False), item) for i, item in enumerate(items)]


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return copy.deepcopy(value)


@dataclass
class _Node:
    member: bool = False
    children: dict[str, _Node] = field(default_factory=dict)


def _trie(paths: Iterable[Path]) -> dict[str, _Node]:
    root: dict[str, _Node] = {}
    for path in paths:
        level = root
        for i, element in enumerate(path):
            node = level.setdefault(element, _Node())
            if i == len(path) - 1:
                node.member = True
            level = node.children
    return root


def _remove_fields(value: Any, paths: Iterable[Path], types: _Types) -> Any:
    """`value` without the given fields and items; maps and lists emptied by the removal go too."""
    return _remove(value, _trie(paths), types.root, (), types)


def _remove(value: Any, trie: dict[str, _Node], schema: Schema, path: Path, types: _Types) -> Any:
    if isinstance(value, dict):
        out: Obj = {}
        for key, child in value.items():
            node = trie.get(f"f:{key}")
            if node is None:
                out[key] = child
            elif not node.member:
                kept = _remove(child, node.children, types.child(schema, key, path), (*path, f"f:{key}"), types)
                if kept or not child:
                    out[key] = kept
        return out
    if isinstance(value, list) and _list_type(schema)[0] != "atomic":
        items: list[Any] = []
        for element, item in _pairs(value, schema, path):
            node = trie.get(element)
            if node is None:
                items.append(item)
            elif not node.member:
                items.append(_remove(item, node.children, item_schema(schema), (*path, element), types))
        return items
    return value


def _with_named_parents(paths: Iterable[Path]) -> set[Path]:
    """The paths plus every prefix of them that ends in a named field (a struct or map field owned through
    its children), as the real server counts them when deciding what an applier stopped applying."""
    out: set[Path] = set()
    for path in paths:
        out.add(path)
        out.update(path[:i] for i in range(1, len(path)) if path[i - 1].startswith("f:"))
    return out


# --------------------------------------------------------------------------------------------------
# managedFields entries


@dataclass
class _Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: set[Path]

    @property
    def identity(self) -> tuple[str, str, str, str]:
        # Appliers keep one entry across versions; updaters get one per version.
        version = "" if self.operation == "Apply" else self.api_version
        return self.manager, self.operation, self.subresource, version

    @property
    def owner(self) -> str:
        """How the real server names a manager in conflict messages."""
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def encode(self) -> Obj:
        entry: Obj = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time:
            entry["time"] = self.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = fields_to_v1(self.fields)
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _decode(entries: Any) -> dict[tuple[str, str, str, str], _Entry]:
    managers: dict[tuple[str, str, str, str], _Entry] = {}
    for raw in entries if isinstance(entries, list) else []:
        if not isinstance(raw, dict) or raw.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        entry = _Entry(
            manager=str(raw.get("manager") or ""),
            operation=raw.get("operation") if raw.get("operation") in ("Apply", "Update") else "Update",
            api_version=str(raw.get("apiVersion") or ""),
            subresource=str(raw.get("subresource") or ""),
            time=_rfc3339(raw.get("time")),
            fields=set(fields_from_v1(raw.get("fieldsV1"))),
        )
        if entry.identity in managers:
            managers[entry.identity].fields |= entry.fields
        else:
            managers[entry.identity] = entry
    return managers


def _rfc3339(value: Any) -> str | None:
    """A timestamp as the server writes it (`2026-01-01T00:00:00Z`), whatever offset a client sent it with."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(managers: dict[tuple[str, str, str, str], _Entry]) -> list[Obj]:
    live = [entry for entry in managers.values() if entry.fields]
    live.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [entry.encode() for entry in live]


# --------------------------------------------------------------------------------------------------
# Which part of the object a write touches


@dataclass(frozen=True)
class _Scope:
    subresource: str
    status_subresource: bool

    def tracks(self, path: Path) -> bool:
        if not path or path[0] in ("f:apiVersion", "f:kind"):
            return False
        if path[0] == "f:metadata" and (len(path) == 1 or path[1] in _UNTRACKED_METADATA):
            return False
        if self.subresource == "status":
            return path[0] == "f:status"
        return not (self.status_subresource and path[0] == "f:status")

    def restrict(self, config: Obj) -> Obj:
        """The part of an applied configuration this write may change."""
        if self.subresource == "status":
            return {"status": config["status"]} if "status" in config else {}
        if self.status_subresource:
            return {k: v for k, v in config.items() if k != "status"}
        return config


def _without_managed_fields(obj: Obj | None) -> Obj:
    if not isinstance(obj, dict):
        return {}
    out = dict(obj)
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k != "managedFields"}
    return out


def _metadata(obj: Obj | None) -> Obj:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta if isinstance(meta, dict) else {}


# --------------------------------------------------------------------------------------------------
# Server-side apply


def apply(
    live: Obj | None,
    config: Obj,
    *,
    manager: str,
    force: bool,
    api_version: str,
    now: str,
    definition: str | None,
    crd_schema: Obj | None,
    subresource: str | None = None,
    status_subresource: bool = True,
) -> Obj:
    """The object after `manager` server-side applies `config` to `live` (None: the object is being created).

    `status_subresource` says the kind serves /status, so that writes to the main resource neither change nor
    own `status`; `subresource="status"` applies to status only. The result carries the new managedFields.
    Raises ApplyConflict (409) unless `force`, and PatchError for a configuration the real server rejects.
    """
    _check_config(config, api_version)
    types = _Types.of(definition, crd_schema)
    scope = _Scope(subresource or "", status_subresource)
    effective = scope.restrict(config)
    try:
        applied = {p for p in _field_set(effective, types, strict=True) if scope.tracks(p)}
    except _SchemaError as err:
        raise PatchError(f"failed to create typed patch object ({_gvknn(config, api_version)}): {err}", "") from err

    base = _without_managed_fields(live)
    managers = _decode(_metadata(live).get("managedFields"))
    me = _Entry(manager, "Apply", api_version, subresource or "", now, applied)
    last = managers.pop(me.identity, None)
    others = set().union(*(entry.fields for entry in managers.values()))

    merged = _merge(base, effective, types.root, (), types)
    if last is not None:
        keep = _with_named_parents(applied | others)
        stale = {p for p in _with_named_parents(last.fields) if scope.tracks(p) and p not in keep}
        merged = _remove_fields(merged, stale, types)

    diff = _compare_objects(base, merged, types).keep(scope.tracks)
    changed = diff.added | diff.modified
    clashes = [(entry, path) for entry in _by_manager(managers) for path in sorted(entry.fields & changed)]
    if clashes and not force:
        allowed = _last_applied_fields(live, types) if manager == "kubectl" else set()
        refused = [(entry, path) for entry, path in clashes if path not in allowed]
        if refused:
            raise ApplyConflict(
                [Conflict(entry.manager, path_string(path)) for entry, path in refused],
                [entry.owner for entry, _ in refused],
            )
    for entry in managers.values():
        entry.fields -= changed | diff.removed
    if last is not None and merged == base:
        me.time = last.time or now
    managers[me.identity] = me

    result = copy.deepcopy(merged)
    if manager == "kubectl":
        result = _sync_last_applied(result, config)
    result.setdefault("metadata", {})["managedFields"] = _encode(managers)
    return result


def _check_config(config: Any, api_version: str) -> None:
    if not isinstance(config, dict):
        raise PatchError("error decoding YAML: the apply configuration must be an object")
    if config.get("apiVersion") != api_version:
        raise PatchError(
            "Incorrect version specified in apply patch. "
            f"Specified patch version: {config.get('apiVersion') or ''}, expected: {api_version}"
        )
    metadata = config.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise PatchError("error decoding YAML: metadata must be an object")
    if _metadata(config).get("managedFields") is not None:
        raise PatchError("metadata.managedFields must be nil")


def _gvknn(config: Obj, api_version: str) -> str:
    """`default/web; apps/v1, Kind=Deployment`, as the real server names an object in apply errors."""
    meta = _metadata(config)
    group_version = api_version if "/" in api_version else f"/{api_version}"
    name = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
    return f"{name}; {group_version}, Kind={config.get('kind') or ''}"


def _by_manager(managers: dict[tuple[str, str, str, str], _Entry]) -> list[_Entry]:
    return sorted(managers.values(), key=lambda e: (e.manager, e.operation, e.subresource, e.api_version))


def _last_applied_fields(live: Obj | None, types: _Types) -> set[Path]:
    """Fields of the client-side apply annotation: `kubectl` may take them over, as after a switch from
    `kubectl apply` to `kubectl apply --server-side`."""
    text = (_metadata(live).get("annotations") or {}).get(LAST_APPLIED)
    try:
        last = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return set()
    return _field_set(last, types) if isinstance(last, dict) else set()


def _sync_last_applied(obj: Obj, config: Obj) -> Obj:
    """Keep an existing client-side apply annotation in step with what `kubectl` server-side applied."""
    annotations = _metadata(obj).get("annotations")
    if not isinstance(annotations, dict) or LAST_APPLIED not in annotations:
        return obj
    applied = copy.deepcopy(config)
    applied_annotations = _metadata(applied).get("annotations")
    if isinstance(applied_annotations, dict):
        applied_annotations.pop(LAST_APPLIED, None)
    out = dict(obj)
    out["metadata"] = {**obj["metadata"], "annotations": {**annotations, LAST_APPLIED: dumps(applied) + "\n"}}
    return out


# --------------------------------------------------------------------------------------------------
# Other writes


def record_update(
    old: Obj | None,
    new: Obj,
    *,
    manager: str,
    api_version: str,
    now: str,
    definition: str | None,
    crd_schema: Obj | None,
    subresource: str | None = None,
    status_subresource: bool = True,
) -> list[Obj]:
    """The managedFields after a create, update or non-apply patch that turns `old` (None: create) into `new`.

    The writer (operation Update) takes the fields the write set or changed; other managers lose those, and
    everybody loses the fields the write removed. Call it with `new` as it will be stored (after defaulting).
    Managed fields that `new` carries and that differ from `old`'s replace them, as the real server lets
    clients edit managedFields; `[{}]` clears them.
    """
    supplied = _metadata(new).get("managedFields")
    if supplied == [{}]:
        return []
    types = _Types.of(definition, crd_schema)
    scope = _Scope(subresource or "", status_subresource)
    previous = _metadata(old).get("managedFields")
    use_supplied = isinstance(supplied, list) and supplied and not subresource and supplied != previous
    managers = _decode(supplied if use_supplied else previous)

    before = _without_managed_fields(old) if old is not None else _MISSING
    diff = _compare_objects(before, _without_managed_fields(new), types).keep(scope.tracks)
    taken = diff.added | diff.modified
    me = _Entry(manager, "Update", api_version, subresource or "", now, set())
    for entry in managers.values():
        entry.fields -= diff.removed
        if entry.identity != me.identity:
            entry.fields -= taken
    if taken:
        mine = managers.setdefault(me.identity, me)
        mine.fields |= taken
        mine.time = now
    return _encode(managers)
