"""The three PATCH formats of the Kubernetes API server, as pure functions over JSON-like dicts.

- `strategic_merge`: strategic merge patch for built-in kinds. Which lists merge, and by which key, comes
  from the `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` extensions of the OpenAPI
  definitions.
- `merge_patch`: RFC 7386 JSON merge patch (custom resources, `kubectl label`, `kubectl scale`).
- `json_patch`: RFC 6902 JSON patch (`kubectl patch --type=json`, `kubectl rollout undo`).

Results follow what the real server stores, including its quirks that users can see: items that a strategic
patch adds to a merging list come before the items the patch does not mention, and errors carry the real
server's messages. The inputs are never modified.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from typing import Any

import jsonpatch
import jsonpointer

from . import schemas

Obj = dict[str, Any]
Schema = dict[str, Any] | None

_CODES = {"BadRequest": 400, "Invalid": 422, "": 500}
# The Status message of every JSON patch that fails to apply; the precise cause travels in `detail`.
REJECTED = "the server rejected our request due to an error in our request"

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList"


class PatchError(Exception):
    """A patch the server refuses.

    `reason` and `code` are those of the Status the real server answers with: "BadRequest" (400) for a
    malformed patch, "Invalid" (422) for one that cannot apply to the object, and "" (500) for the
    strategic-merge errors the real server reports without a reason (kubectl prints them as
    `Error from server: <message>`). `detail`, when set, is the precise cause behind a terse message: the
    real server drops it, a server may add it as a Status cause.
    """

    def __init__(
        self, message: str, reason: str = "BadRequest", *, code: int | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.code = code if code is not None else _CODES.get(reason, 500)
        self.detail = detail


def _unreasoned(message: str) -> PatchError:
    return PatchError(message, "")


# --------------------------------------------------------------------------------------------------
# Schema look-ups shared with the field manager


def resolved(schema: Schema) -> Obj:
    """The definition a field schema refers to, or the schema itself when it is inline.

    A one-element `allOf` is followed only when the schema declares no structure of its own: in a custom
    resource's schema it holds value validations next to inline `properties`.
    """
    if schema is None:
        return {}
    if "$ref" in schema or ("allOf" in schema and not _STRUCTURE & schema.keys()):
        return schemas.resolve(schema)
    return schema


_STRUCTURE = frozenset({"properties", "items", "additionalProperties"})


def extension(schema: Schema, name: str) -> Any:
    """An `x-kubernetes-*` extension of a field: on the field itself, else on the definition it refers to."""
    if schema is None:
        return None
    if name in schema:
        return schema[name]
    return resolved(schema).get(name)


def field_schema(schema: Schema, key: str) -> Schema:
    """The raw schema of field `key` (extensions such as the patch strategy sit on the field), or None."""
    target = resolved(schema)
    properties = target.get("properties")
    if isinstance(properties, dict) and key in properties:
        return properties[key]
    extra = target.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def item_schema(schema: Schema) -> Schema:
    items = resolved(schema).get("items")
    return items if isinstance(items, dict) else None


def definition_schema(definition: str | None) -> Schema:
    """The schema of a built-in kind; None (untyped) when the name is unknown."""
    return schemas.definitions().get(definition) if definition else None


def _patch_meta(schema: Schema) -> tuple[str, str | None]:
    """(strategy, merge key) of a field; `retainKeys` only matters to the directive, so it is dropped here."""
    raw = extension(schema, "x-kubernetes-patch-strategy")
    strategies = [s for s in str(raw or "").split(",") if s and s != "retainKeys"]
    key = extension(schema, "x-kubernetes-patch-merge-key")
    return (strategies[0] if strategies else "", key if isinstance(key, str) else None)


# --------------------------------------------------------------------------------------------------
# Go-flavoured rendering, so that messages read like the real server's


def go_repr(value: Any) -> str:
    """A value as Go's `%v` prints a decoded JSON value: `map[image:nginx name:web]`, `[a b]`, `<nil>`."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_repr(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_repr(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_kind(value: Any) -> str:
    """How Go's encoding/json names a JSON value in `cannot unmarshal <kind> into ...`."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return {str: "string", list: "[]interface {}", dict: "map[string]interface {}"}.get(type(value), "<nil>")


def _expected_list(value: Any) -> PatchError:
    return _unreasoned(f"expected a []interface {{}}, but received a {_go_type(value)}")


def _no_merge_key(item: Any, key: str) -> PatchError:
    return _unreasoned(f"map: {go_repr(item)} does not contain declared merge key: {key}")


# --------------------------------------------------------------------------------------------------
# Strategic merge patch


def strategic_merge(original: Obj, patch: Any, definition: str | None) -> Obj:
    """Apply a strategic merge patch to `original`, an object of the built-in kind named `definition`."""
    if not isinstance(original, dict):
        raise PatchError("invalid JSON document")
    if patch is None:
        return copy.deepcopy(original)
    if not isinstance(patch, dict):
        raise PatchError(f"json: cannot unmarshal {_json_kind(patch)} into Go value of type map[string]interface {{}}")
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), definition_schema(definition))


def _merge_map(original: Obj, patch: Obj, schema: Schema) -> Obj:
    """Merge `patch` into `original` (which this call owns and may change)."""
    if _DIRECTIVE in patch:
        return _map_directive(patch, schema)
    _apply_retain_keys(original, patch)
    ordered = _apply_element_orders(original, patch, schema)
    deletions: list[tuple[str, Any]] = []
    for key, value in patch.items():
        if key in ordered or key == _RETAIN_KEYS or key.startswith(_SET_ORDER):
            continue
        if key.startswith(_DELETE_PRIMITIVES):
            deletions.append((_directive_target(key, _DELETE_PRIMITIVES), value))
        elif value is None:
            original.pop(key, None)
        else:
            original[key] = _merge_value(original.get(key), value, field_schema(schema, key))
    for key, values in deletions:
        _delete_from_primitive_list(original, key, values)
    return original


def _map_directive(patch: Obj, schema: Schema) -> Obj:
    directive = patch[_DIRECTIVE]
    if directive == "replace":
        return _merge_map({}, {k: v for k, v in patch.items() if k != _DIRECTIVE}, schema)
    if directive == "delete":
        return {}
    raise _unreasoned(f"unknown patch type: {go_repr(directive)} in map: {go_repr(patch)}")


def _merge_value(current: Any, value: Any, schema: Schema) -> Any:
    """The new value of a field: merged into the current one where both are maps or both are lists."""
    if isinstance(value, dict):
        if isinstance(current, dict) and _patch_meta(schema)[0] != "replace":
            return _merge_map(current, value, schema)
        return _merge_map({}, value, schema)
    if isinstance(value, list):
        return _merge_list(current if isinstance(current, list) else [], value, schema)
    return value


def _materialize(value: Any, schema: Schema) -> Any:
    """A patch value taken as a whole, with its nulls dropped and its directives carried out."""
    return _merge_value(None, value, schema)


def _directive_target(key: str, prefix: str) -> str:
    """`$setElementOrder/containers` -> `containers`; malformed directive keys are a bad request."""
    head, sep, rest = key.partition("/")
    if head != prefix or not sep:
        kind = "primitive list" if prefix == _DELETE_PRIMITIVES else "setElementOrder list"
        raise PatchError(f"invalid patch format of {kind}")
    return rest


def _apply_retain_keys(original: Obj, patch: Obj) -> None:
    """`$retainKeys`: clear every field of the original not listed; the patch may only set listed fields."""
    if _RETAIN_KEYS not in patch:
        return
    keep = patch[_RETAIN_KEYS]
    if not isinstance(keep, list):
        raise PatchError("invalid patch format of retainKeys")
    for key, value in patch.items():
        if value is None or key == _RETAIN_KEYS or key.startswith((_SET_ORDER, _DELETE_PRIMITIVES)):
            continue
        if key not in keep:
            raise PatchError("invalid patch format of retainKeys")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _delete_from_primitive_list(original: Obj, key: str, values: Any) -> None:
    if not isinstance(values, list):
        raise _expected_list(values)
    current = original.get(key)
    if isinstance(current, list):
        original[key] = [item for item in current if item not in values]


# Lists --------------------------------------------------------------------------------------------


def _merge_list(current: list[Any], patch: list[Any], schema: Schema) -> list[Any]:
    strategy, merge_key = _patch_meta(schema)
    items = item_schema(schema)
    if strategy != "merge":
        return [_materialize(item, items) for item in patch]
    if not current and not patch:
        return current
    if _element_kind(current, patch) != "map":
        merged = _dedupe(current + patch)
        return _ordered(merged, patch, current, None)
    if not merge_key:
        raise _unreasoned("cannot merge lists without merge key for type struct")
    return _merge_keyed(current, patch, merge_key, items)


def _element_kind(*lists: list[Any]) -> str:
    """`map` or `scalar` for the elements of the given lists, which must all be of one JSON type."""
    kinds = {_go_type(item) for items in lists for item in items}
    if "[]interface {}" in kinds:
        raise PatchError("lists of lists are not supported", "Invalid")
    if len(kinds) > 1:
        raise _unreasoned(f"list element types are not identical: {go_repr(list(lists))}")
    return "map" if kinds == {"map[string]interface {}"} else "scalar"


def _dedupe(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _merge_keyed(current: list[Any], patch: list[Any], key: str, items: Schema) -> list[Any]:
    """Merge a list of maps by `key`, honouring `$patch: delete` / `$patch: replace` items."""
    result = list(current)
    regular: list[Obj] = []
    replace = False
    for item in patch:
        if _DIRECTIVE not in item:
            regular.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if key not in item:
                raise _no_merge_key(item, key)
            result = [x for x in result if not (isinstance(x, dict) and key in x and x[key] == item[key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _unreasoned("merging lists cannot yet be specified in the patch")
        else:
            raise _unreasoned(f"unknown patch type: {go_repr(directive)} in map: {go_repr(item)}")
    if replace:
        return [_merge_map({}, item, items) for item in regular]
    after_deletes = list(result)
    for item in regular:
        if key not in item:
            raise _no_merge_key(item, key)
        index = _find(result, key, item[key])
        if index is None:
            result.append(_merge_map({}, item, items))
        else:
            result[index] = _merge_map(result[index], item, items)
    return _ordered(result, regular, after_deletes, key)


def _find(items: list[Any], key: str, value: Any) -> int | None:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _unreasoned(f"value for key {index} is not a map.")
        if key in item and item[key] == value:
            return index
    return None


def _identity(key: str | None) -> Callable[[Any], Any]:
    """What identifies a list item: its merge key's value for maps, the item itself for scalars."""
    if key is None:
        return lambda item: item
    return lambda item: item.get(key) if isinstance(item, dict) else None


def _index(seq: Sequence[Any], value: Any) -> int:
    for i, candidate in enumerate(seq):
        if candidate == value:
            return i
    return -1


def _ordered(merged: list[Any], order: list[Any], server_order: list[Any], key: str | None) -> list[Any]:
    """Order a merged list the way the real server does.

    Items named in `order` follow that order; the other (server-only) items keep their relative order; where
    the two interleave, an item named in `order` goes first unless both are in `server_order` with the
    server-only item ahead. So a strategic patch that adds an item puts it before the unmentioned ones.
    """
    ident = _identity(key)
    wanted = [ident(item) for item in order]
    named = sorted((x for x in merged if _index(wanted, ident(x)) >= 0), key=lambda x: _index(wanted, ident(x)))
    server_only = [x for x in merged if _index(wanted, ident(x)) < 0]
    live = [ident(item) for item in server_order]
    out: list[Any] = []
    while server_only or named:
        if not named or (server_only and _before(live, ident(server_only[0]), ident(named[0]))):
            out.append(server_only.pop(0))
        else:
            out.append(named.pop(0))
    return out


def _before(live: list[Any], left: Any, right: Any) -> bool:
    li, ri = _index(live, left), _index(live, right)
    return li >= 0 and ri >= 0 and li < ri


# $setElementOrder ---------------------------------------------------------------------------------


def _apply_element_orders(original: Obj, patch: Obj, schema: Schema) -> set[str]:
    """Carry out every `$setElementOrder/<field>` of the patch; returns the fields already merged."""
    done: set[str] = set()
    for directive, order in patch.items():
        if not directive.startswith(_SET_ORDER):
            continue
        key = _directive_target(directive, _SET_ORDER)
        if not isinstance(order, list):
            raise _expected_list(order)
        current, change = original.get(key), patch.get(key)
        for value in (current, change):
            if value is not None and not isinstance(value, list):
                raise _expected_list(value)
        if current is None and change is None:
            continue
        field = field_schema(schema, key)
        merge_key = _patch_meta(field)[1]
        if change is not None:
            _check_order(change, order, merge_key)
        merged = _merge_list(current or [], change or [], field) if change is not None else current
        assert merged is not None
        original[key] = _ordered(merged, order, current or [], merge_key if _has_maps(merged) else None)
        done.add(key)
    return done


def _has_maps(items: list[Any]) -> bool:
    return any(isinstance(item, dict) for item in items)


def _check_order(change: list[Any], order: list[Any], merge_key: str | None) -> None:
    """The items a patch lists must appear in its `$setElementOrder` list, in the same relative order."""
    if not change or not order:
        return
    ident = _identity(merge_key if _has_maps(change) else None)
    if merge_key and _has_maps(change):
        for item in [*change, *order]:
            if not isinstance(item, dict) or merge_key not in item:
                raise _no_merge_key(item, merge_key)
    items = [x for x in change if not (isinstance(x, dict) and _DIRECTIVE in x)]
    position = 0
    for item in items:
        while position < len(order) and ident(order[position]) != ident(item):
            position += 1
        if position == len(order):
            raise _unreasoned(
                f"The order in patch list:\n{go_repr(change)}\n doesn't match {_SET_ORDER} list:\n{go_repr(order)}\n"
            )
        position += 1


# --------------------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386)


def merge_patch(original: Obj, patch: Any) -> Obj:
    """Apply an RFC 7386 JSON merge patch: maps merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        what = "an array" if isinstance(patch, list) else f"a JSON {_json_kind(patch)}"
        raise PatchError("Invalid JSON Patch", detail=f"a merge patch must be a JSON object, not {what}")
    result = _merge_patch(copy.deepcopy(original), patch)
    assert isinstance(result, dict)
    return result


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return _without_nulls(copy.deepcopy(patch))
    out = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------
# JSON patch (RFC 6902)

_OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")


def json_patch(original: Obj, ops: Any) -> Obj:
    """Apply an RFC 6902 JSON patch, operation by operation.

    A malformed body is a 400; an operation that cannot apply is a 422 whose message is the real server's
    generic one, with the cause in `detail` (e.g. `add operation does not apply: doc is missing path: ...`).
    """
    if ops is None:
        return copy.deepcopy(original)
    if not isinstance(ops, list):
        raise PatchError(f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError(f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation")
    doc: Any = copy.deepcopy(original)
    for op in ops:
        doc = _apply_operation(doc, op)
    if not isinstance(doc, dict):
        raise PatchError(REJECTED, "Invalid", detail="the patched document is not a JSON object")
    return doc


def _apply_operation(doc: Any, op: Obj) -> Any:
    problem = _operation_problem(doc, op)
    if problem:
        raise PatchError(REJECTED, "Invalid", detail=problem)
    if op["op"] == "test":
        return doc  # nothing to change, and the check above has passed
    operation = dict(op)
    if operation["op"] in ("add", "replace"):
        operation.setdefault("value", None)  # the real server treats a missing value as null
    try:
        return jsonpatch.apply_patch(doc, [operation], in_place=True)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, ValueError) as err:
        raise PatchError(REJECTED, "Invalid", detail=str(err)) from err


def _operation_problem(doc: Any, op: Obj) -> str | None:
    """Why `op` cannot apply to `doc`, worded as the real server's JSON patch library words it."""
    kind = op.get("op") if isinstance(op.get("op"), str) else "unknown"
    if kind not in _OPERATIONS:
        return f"Unexpected kind: {kind}"
    if kind in ("move", "copy"):
        source = op.get("from")
        if not isinstance(source, str):
            return f"{kind} operation failed to decode from: operation, missing from field: missing value"
        container, key = _locate(doc, source)
        if container is None or not _holds(container, key):
            return f"{kind} operation does not apply: doc is missing from path: {source}: missing value"
    path = op.get("path")
    if not isinstance(path, str):
        return f"{kind} operation failed to decode path: operation missing path field: missing value"
    container, key = _locate(doc, path)
    if container is None:
        return _missing_path(kind, path)
    if kind in ("add", "move", "copy") and isinstance(container, list):
        return _bad_insert_index(container, key, path)
    if kind == "remove" and not _holds(container, key):
        if isinstance(container, dict):
            return f"error in remove for path: '{path}': Unable to remove nonexistent key: {key}: missing value"
        return f"error in remove for path: '{path}': {_invalid_index(key)}"
    if kind == "replace" and not _holds(container, key):
        return f"replace operation does not apply: doc is missing key: {path}: missing value"
    if kind == "test" and _value_at(container, key) != op.get("value"):
        return f"testing value {path} failed: test failed"
    return None


def _missing_path(kind: str, path: str) -> str:
    if kind in ("add", "remove"):
        return f'{kind} operation does not apply: doc is missing path: "{path}": missing value'
    if kind == "test":
        return f"test operation does not apply: is missing path: {path}: missing value"
    if kind == "replace":
        return f"replace operation does not apply: doc is missing path: {path}: missing value"
    return f"{kind} operation does not apply: doc is missing destination path: {path}: missing value"


def _bad_insert_index(container: list[Any], key: str, path: str) -> str | None:
    if key == "-":
        return None
    try:
        index = int(key)
    except ValueError:
        return (
            f"error in add for path: '{path}': value was not a proper array index: '{key}': "
            f'strconv.Atoi: parsing "{key}": invalid syntax'
        )
    if not 0 <= index <= len(container):
        return f"error in add for path: '{path}': {_invalid_index(index)}"
    return None


def _invalid_index(index: object) -> str:
    return f"Unable to access invalid index: {index}: invalid index referenced"


def _locate(doc: Any, pointer: str) -> tuple[Any, str]:
    """(the container the pointer's last token is in, that token); the container is None when missing."""
    if not pointer.startswith("/"):
        return None, ""
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    current = doc
    for token in tokens[:-1]:
        if not _holds(current, token):
            return None, ""
        current = _value_at(current, token)
    if not isinstance(current, dict | list):
        return None, ""
    return current, tokens[-1]


def _holds(container: Any, key: str) -> bool:
    if isinstance(container, dict):
        return key in container
    if isinstance(container, list):
        return key.isdigit() and int(key) < len(container)
    return False


def _value_at(container: Any, key: str) -> Any:
    if not _holds(container, key):
        return None
    return container[key] if isinstance(container, dict) else container[int(key)]


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys, as Go encodes a decoded object."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
