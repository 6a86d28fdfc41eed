"""Validation of objects written to the embedded API server, with the real server's rules and messages.

`validate` runs the steps a real API server runs on a create or update:

1. decoding: for built-in kinds the strict JSON decoding into the Go types (a string where an int belongs is a
   400 `BadRequest`; unknown and duplicate fields are errors, warnings or nothing depending on
   `fieldValidation`); for custom resources the structural pruning of the CRD schema. Unknown fields are
   dropped in every mode;
2. defaulting (`defaults.apply_defaults`);
3. validation: the kind's own rules (names, labels, selectors, containers, ports, immutable fields...) or, for
   custom resources, the CRD's openAPIV3Schema. Failures raise `Invalid` (HTTP 422) with the real causes and
   a message rendered exactly as the real server renders it.

The messages follow the Kubernetes 1.37 sources: values in `Invalid value:` are rendered as Go does (strings
quoted, maps and structs as JSON).
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import json
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any

from . import schemas
from .defaults import JOB_NAME_LABEL, JOB_UID_LABEL, apply_defaults
from .gofmt import go_float, html_safe
from .resources import ResourceType

Obj = dict[str, Any]

FIELD_VALIDATION_MODES = ("Ignore", "Warn", "Strict")


# =========================================================================================================
# Public errors


@dataclass(frozen=True)
class Cause:
    """One field error, as it appears in `Status.details.causes`."""

    reason: str
    message: str
    field: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class Invalid(Exception):
    """HTTP 422: the object decoded but breaks the kind's validation rules."""

    def __init__(self, kind: str, group: str, name: str, causes: list[Cause]) -> None:
        self.kind = kind
        self.group = group
        self.name = name
        self.causes = _unique(causes)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        qualified = f"{self.kind}.{self.group}" if self.group else self.kind
        parts = [str(cause) for cause in self.causes]
        body = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        return f"{qualified} {_go_quote(self.name)} is invalid: {body}"

    def status(self) -> Obj:
        """The `Status` object the real server answers with."""
        details: Obj = {
            "name": self.name,
            "group": self.group,
            "kind": self.kind,
            "causes": [_cause_dict(cause) for cause in self.causes],
        }
        details = {key: value for key, value in details.items() if value}
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": "Invalid",
            "details": details,
            "code": 422,
        }


class BadRequest(Exception):
    """HTTP 400: the body cannot be decoded into the kind (wrong types, strict decoding errors)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": "BadRequest",
            "code": 400,
        }


def _cause_dict(cause: Cause) -> Obj:
    out = {"reason": cause.reason, "message": cause.message, "field": cause.field}
    return {key: value for key, value in out.items() if value}


def _unique(causes: Iterable[Cause]) -> list[Cause]:
    """Drop repeated causes, as the real server's error aggregation does."""
    seen: set[str] = set()
    out = []
    for cause in causes:
        if str(cause) not in seen:
            seen.add(str(cause))
            out.append(cause)
    return out


# =========================================================================================================
# Go-style rendering of values, so messages read exactly like the real server's


class _Struct(dict):  # type: ignore[type-arg]
    """A Go struct value: rendered as JSON in field order, where a plain dict (a Go map) has sorted keys."""


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def _go_quote(text: str) -> str:
    """Go's `%q` (strconv.Quote)."""
    out = []
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char == " " or (char.isprintable() and not char.isspace()):
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def _go_json(value: Any) -> str:
    """Go's `json.Marshal`: compact, map keys sorted, struct fields in order, `<>&` escaped."""
    text = json.dumps(_go_json_prepare(value), separators=(",", ":"), ensure_ascii=False)
    return html_safe(text)


def _go_json_prepare(value: Any) -> Any:
    if isinstance(value, _Struct):
        return {key: _go_json_prepare(item) for key, item in value.items()}
    if isinstance(value, dict):
        return {str(key): _go_json_prepare(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [_go_json_prepare(item) for item in value]
    return value


def _render(value: Any) -> str:
    """How `field.Error` prints a bad value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return _go_quote(value)
    return _go_json(value)


# =========================================================================================================
# Collecting field errors


_OMIT = object()


class _Errors:
    """The field errors found so far, built with the real server's wording."""

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def _add(self, reason: str, label: str, path: str, value: Any = _OMIT, detail: str = "") -> None:
        message = label if value is _OMIT else f"{label}: {_render(value)}"
        if detail:
            message += f": {detail}"
        self.causes.append(Cause(reason, message, path))

    def required(self, path: str, detail: str = "") -> None:
        self._add("FieldValueRequired", "Required value", path, detail=detail)

    def forbidden(self, path: str, detail: str = "") -> None:
        self._add("FieldValueForbidden", "Forbidden", path, detail=detail)

    def invalid(self, path: str, value: Any, detail: str = "") -> None:
        self._add("FieldValueInvalid", "Invalid value", path, value, detail)

    def type_invalid(self, path: str, value: Any, detail: str) -> None:
        self._add("FieldValueTypeInvalid", "Invalid value", path, value, detail)

    def not_supported(self, path: str, value: Any, valid: Iterable[str]) -> None:
        quoted = ", ".join(_go_quote(item) for item in valid)
        self._add(
            "FieldValueNotSupported",
            "Unsupported value",
            path,
            value,
            f"supported values: {quoted}" if quoted else "",
        )

    def duplicate(self, path: str, value: Any) -> None:
        self._add("FieldValueDuplicate", "Duplicate value", path, value)

    def not_found(self, path: str, value: Any, detail: str = "") -> None:
        self._add("FieldValueNotFound", "Not found", path, value, detail)

    def too_long(self, path: str, limit: int) -> None:
        unit = "byte" if limit == 1 else "bytes"
        self._add("FieldValueTooLong", "Too long", path, detail=f"may not be more than {limit} {unit}")

    def too_many(self, path: str, actual: int, limit: int) -> None:
        unit = "item" if limit == 1 else "items"
        self._add("FieldValueTooMany", "Too many", path, actual, f"must have at most {limit} {unit}")

    def nonnegative(self, path: str, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            self.invalid(path, value, NEGATIVE)

    def immutable(self, path: str, new: Any, old: Any) -> None:
        if _normalized(new) != _normalized(old):
            self.invalid(path, new, IMMUTABLE)


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _index(path: str, index: int) -> str:
    return f"{path}[{index}]"


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def _normalized(value: Any) -> Any:
    """Go's semantic equality for our purposes: absent, null and empty collections compare equal."""
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


# =========================================================================================================
# Name, label and format rules (apimachinery's validation package)


NEGATIVE = "must be greater than or equal to 0"
IMMUTABLE = "field is immutable"

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + "(\\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_KEY = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _LABEL_KEY + ")?"
_CONFIG_KEY = "[-._a-zA-Z0-9]+"
_PERCENT = "[0-9]+%"
_KEY_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)


def _regex_error(message: str, pattern: str, *examples: str) -> str:
    """apimachinery's RegexError, double spaces and all."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    sample = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {sample}regex used for validation is '{pattern}')"


def _full(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _max_len(limit: int) -> str:
    return f"must be no more than {limit} characters"


def dns1123_label(value: str) -> list[str]:
    """Messages for a value that is not a lowercase RFC 1123 label (empty when valid)."""
    errors = [_max_len(63)] if len(value) > 63 else []
    if not _full(_DNS1123_LABEL, value):
        if _full(_DNS1123_SUBDOMAIN, value):
            errors.append("must not contain dots")
        else:
            errors.append(
                _regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                    "and must start and end with an alphanumeric character",
                    _DNS1123_LABEL,
                    "my-name",
                    "123-abc",
                )
            )
    return errors


def dns1123_subdomain(value: str) -> list[str]:
    """Messages for a value that is not a lowercase RFC 1123 subdomain (empty when valid)."""
    errors = [_max_len(253)] if len(value) > 253 else []
    if not _full(_DNS1123_SUBDOMAIN, value):
        errors.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                "'-' or '.', and must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN,
                "example.com",
            )
        )
    return errors


def dns1035_label(value: str) -> list[str]:
    """Messages for a value that is not a DNS-1035 label (Service names)."""
    errors = [_max_len(63)] if len(value) > 63 else []
    if not _full(_DNS1035_LABEL, value):
        errors.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character",
                _DNS1035_LABEL,
                "my-name",
                "abc-123",
            )
        )
    return errors


def path_segment_name(value: str) -> list[str]:
    """Messages for names that cannot be a URL path segment (RBAC objects)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{char}'" for char in ("/", "%") if char in value]


def label_key(value: str) -> list[str]:
    """Messages for an invalid label key (a qualified name with an optional DNS subdomain prefix)."""
    parts = value.split("/")
    errors: list[str] = []
    if len(parts) > 2:
        return [
            f"a valid label key {_regex_error(_KEY_MESSAGE, _LABEL_KEY, 'MyName', 'my.name', '123-abc')}"
            " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + message for message in dns1123_subdomain(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _max_len(63))
    if not _full(_LABEL_KEY, name):
        errors.append("name part " + _regex_error(_KEY_MESSAGE, _LABEL_KEY, "MyName", "my.name", "123-abc"))
    return errors


def label_value(value: str) -> list[str]:
    """Messages for an invalid label value."""
    errors = [_max_len(63)] if len(value) > 63 else []
    if not _full(_LABEL_VALUE, value):
        errors.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errors


def _config_key(value: str) -> list[str]:
    errors = [_max_len(253)] if len(value) > 253 else []
    if not _full(_CONFIG_KEY, value):
        errors.append(
            _regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_KEY,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if value in (".", ".."):
        errors.append(f"must not be '{value}'")
    elif value.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def _port_name(value: str) -> list[str]:
    errors = [_max_len(15)] if len(value) > 15 else []
    if not _full("[-a-z0-9]+", value):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        errors.append("must contain at least one letter (a-z)")
    if "--" in value:
        errors.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def _port_number(value: int) -> list[str]:
    return [] if 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def _percent(value: str) -> list[str]:
    if _full(_PERCENT, value):
        return []
    return [
        _regex_error("a valid percent string must be a numeric string followed by an ending '%'", _PERCENT, "1%", "93%")
    ]


def _is_ip(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


NameRule = Callable[[str], list[str]]


# =========================================================================================================
# Quantities (resource.Quantity): parsing, comparing and the canonical form the server stores


QUANTITY_FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_QUANTITY_RE = re.compile(r"([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_SUFFIX_FOR_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}


class _QuantityError(ValueError):
    pass


def parse_quantity(text: str) -> tuple[Decimal, str]:
    """The value and format (`DecimalSI`, `BinarySI` or `DecimalExponent`) of a quantity string."""
    match = _QUANTITY_RE.fullmatch(text.strip())
    if not match:
        raise _QuantityError(QUANTITY_FORMAT_ERROR)
    number, suffix = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:
        raise _QuantityError("unable to parse quantity's numeric part") from None
    if suffix in _DECIMAL_SUFFIXES:
        return amount.scaleb(_DECIMAL_SUFFIXES[suffix]), "DecimalSI"
    if suffix in _BINARY_SUFFIXES:
        return amount * (Decimal(1024) ** _BINARY_SUFFIXES[suffix]), "BinarySI"
    if re.fullmatch(r"[eE][-+]?[0-9]+", suffix) and len(suffix) < 8:
        return amount.scaleb(int(suffix[1:])), "DecimalExponent"
    raise _QuantityError("unable to parse quantity's suffix")


def canonical_quantity(value: Decimal, fmt: str) -> str:
    """The string the real server stores for a quantity: `0.5` is `500m`, `1024Mi` is `1Gi`."""
    if value.as_tuple().exponent < -9:  # type: ignore[operator]
        value = value.quantize(Decimal("1e-9"), rounding=ROUND_UP)
    if fmt == "BinarySI" and not (-1024 < value < 1024) and value == value.to_integral_value():
        number, power = int(value), 0
        while number and number % 1024 == 0 and power < 6:
            number, power = number // 1024, power + 1
        return str(number) + ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power]
    if value == 0:
        return "0"
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(str(d) for d in digits))
    while mantissa % 10 == 0:
        mantissa, exponent = mantissa // 10, exponent + 1
    shift = exponent % 3
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    text = ("-" if sign else "") + str(mantissa)
    if fmt == "DecimalExponent":
        return text + (f"e{exponent}" if exponent else "")
    if exponent in _SUFFIX_FOR_EXPONENT:
        return text + _SUFFIX_FOR_EXPONENT[exponent]
    return text + f"e{exponent}"


def _quantity_value(raw: Any) -> Decimal | None:
    """The numeric value of a stored quantity, or None when it is not one."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    try:
        return parse_quantity(str(raw))[0]
    except _QuantityError:
        return None


# =========================================================================================================
# Reading request bodies


class _Pairs(dict):  # type: ignore[type-arg]
    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _Pairs:
    out = _Pairs()
    out.duplicates = []
    for key, value in pairs:
        if key in out and key not in out.duplicates:
            out.duplicates.append(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"the request body is not valid JSON: {name} is not a JSON value")


def decode_json(raw: bytes | str) -> tuple[Any, tuple[str, ...]]:
    """Parse a JSON request body; also return the paths of duplicated fields (`spec.paused`), which
    `validate` reports as the strict decoder does. The last occurrence of a duplicated field wins."""
    duplicates: list[str] = []
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)
        return _plain(value, "", duplicates), tuple(duplicates)
    except UnicodeDecodeError as err:
        raise BadRequest(f"the request body is not valid JSON: invalid UTF-8 at byte {err.start}") from None
    except json.JSONDecodeError as err:
        raise BadRequest(
            f"the request body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except RecursionError:
        raise BadRequest("the request body is nested too deeply") from None


def _plain(value: Any, path: str, duplicates: list[str]) -> Any:
    if isinstance(value, dict):
        duplicates.extend(_child(path, key) for key in getattr(value, "duplicates", []))
        return {key: _plain(item, _child(path, key), duplicates) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, _index(path, i), duplicates) for i, item in enumerate(value)]
    return value


# =========================================================================================================
# Decoding built-in kinds as the Go JSON decoder does


_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_ANY_REFS = (
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
)
_SPECIAL_REFS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": ("intstr", "intstr.IntOrString"),
    "io.k8s.apimachinery.pkg.api.resource.Quantity": ("quantity", "resource.Quantity"),
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": ("time", "v1.Time"),
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": ("time", "v1.MicroTime"),
}


@dataclass(frozen=True)
class _GoType:
    """How the Go decoder sees a schema node: its kind, its Go type name, and the schema to descend into."""

    kind: str  # struct, map, slice, string, int32, int64, float64, bool, bytes, time, intstr, quantity, any
    name: str
    schema: Any = None
    struct: str = ""


def _go_type(raw: Any) -> _GoType:
    if not isinstance(raw, dict):
        return _GoType("any", "interface {}")
    ref = raw.get("$ref")
    if isinstance(ref, str):
        target = schemas.ref_name(ref)
        if target in _SPECIAL_REFS:
            kind, name = _SPECIAL_REFS[target]
            return _GoType(kind, name)
        if target in _ANY_REFS:
            return _GoType("any", target.rsplit(".", 1)[-1])
        resolved = schemas.resolve(raw)
        if "properties" in resolved:
            parts = target.split(".")
            return _GoType("struct", f"{parts[-2]}.{parts[-1]}", resolved, parts[-1])
        return _go_type({k: v for k, v in resolved.items() if k != "description"})
    return _inline_go_type(raw)


def _inline_go_type(raw: Obj) -> _GoType:
    types = raw.get("type")
    types = [types] if isinstance(types, str) else (types or [])
    fmt = raw.get("format")
    if "object" in types:
        if isinstance(raw.get("properties"), dict):
            return _GoType("struct", "struct", raw, "")
        extra = raw.get("additionalProperties")
        if isinstance(extra, dict):
            elem = _go_type(extra)
            return _GoType("map", f"map[string]{elem.name}", extra)
        return _GoType("any", "map[string]interface {}")
    if "array" in types:
        elem = _go_type(raw.get("items"))
        return _GoType("slice", f"[]{elem.name}", raw.get("items"))
    if "string" in types:
        if fmt == "byte":
            return _GoType("bytes", "[]uint8")
        if fmt == "date-time":
            return _GoType("time", "v1.Time")
        return _GoType("string", "string")
    if "integer" in types:
        return _GoType("int32" if fmt == "int32" else "int64", "int32" if fmt == "int32" else "int64")
    if "number" in types:
        return _GoType("float64", "float64")
    if "boolean" in types:
        return _GoType("bool", "bool")
    return _GoType("any", "interface {}")


def _json_kind(value: Any) -> str:
    """How Go's decoder names a JSON value in `cannot unmarshal X into ...`."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _number_literal(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


class _DecodeError(Exception):
    """The first decoding error; the real decoder reports only one."""


class _TypedDecoder:
    """Walks a body against a built-in kind's schema: finds type errors, unknown and duplicate fields,
    missing schema-required fields, and returns the object as the real server would store it."""

    def __init__(self, duplicates: Collection[str]) -> None:
        self.duplicates = set(duplicates)
        self.strict: list[str] = []
        self.missing: list[str] = []

    def decode(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        method = getattr(self, f"_decode_{node.kind}")
        return method(value, node, path, fields, struct)

    def _type_error(
        self, value: Any, node: _GoType, fields: tuple[str, ...], struct: str, kind: str | None = None
    ) -> _DecodeError:
        what = kind or _json_kind(value)
        if not fields:
            return _DecodeError(f"json: cannot unmarshal {what} into Go value of type {node.name}")
        return _DecodeError(
            f"json: cannot unmarshal {what} into Go struct field {struct}.{'.'.join(fields)} of type {node.name}"
        )

    def _decode_struct(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        if not isinstance(value, dict):
            raise self._type_error(value, node, fields, struct)
        props = node.schema.get("properties", {})
        out: Obj = {}
        for key, item in value.items():
            child = _child(path, key)
            if key not in props:
                self.strict.append(f'unknown field "{child}"')
                continue
            if child in self.duplicates:
                self.strict.append(f'duplicate field "{child}"')
            if item is None:
                continue
            out[key] = self.decode(item, _go_type(props[key]), child, (*fields, key), node.struct)
        for name in node.schema.get("required", []):
            if out.get(name) is None and name not in ("apiVersion", "kind", "metadata"):
                self.missing.append(_child(path, name))
        return out

    def _decode_map(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        if not isinstance(value, dict):
            raise self._type_error(value, node, fields, struct)
        elem = _go_type(node.schema)
        out: Obj = {}
        for key, item in value.items():
            child = _child(path, key)
            if child in self.duplicates:
                self.strict.append(f'duplicate field "{child}"')
            out[key] = _zero(elem) if item is None else self.decode(item, elem, child, fields, struct)
        return out

    def _decode_slice(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        if not isinstance(value, list):
            raise self._type_error(value, node, fields, struct)
        elem = _go_type(node.schema)
        return [
            _zero(elem) if item is None else self.decode(item, elem, _index(path, i), fields, struct)
            for i, item in enumerate(value)
        ]

    def _decode_string(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        if not isinstance(value, str):
            raise self._type_error(value, node, fields, struct)
        return value

    def _decode_int(self, value: Any, node: _GoType, fields: tuple[str, ...], struct: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._type_error(value, node, fields, struct)
        low, high = _INT_RANGES[node.kind]
        if isinstance(value, float) or not low <= value <= high:
            raise self._type_error(value, node, fields, struct, f"number {_number_literal(value)}")
        return value

    def _decode_int32(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        return self._decode_int(value, node, fields, struct)

    def _decode_int64(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        return self._decode_int(value, node, fields, struct)

    def _decode_float64(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._type_error(value, node, fields, struct)
        return value

    def _decode_bool(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        if not isinstance(value, bool):
            raise self._type_error(value, node, fields, struct)
        return value

    def _decode_bytes(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        if not isinstance(value, str):
            raise self._type_error(value, node, fields, struct)
        offset = _base64_error(value)
        if offset is not None:
            raise _DecodeError(f"illegal base64 data at input byte {offset}")
        return value

    def _decode_time(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        if not isinstance(value, str):
            raise _DecodeError(f"json: cannot unmarshal {_json_kind(value)} into Go value of type string")
        if not _is_rfc3339(value):
            raise _DecodeError(
                f'parsing time {_go_quote(value)} as "2006-01-02T15:04:05Z07:00": '
                f'cannot parse {_go_quote(value)} as "2006"'
            )
        return value

    def _decode_intstr(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        if isinstance(value, str):
            return value
        bad = isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31
        if bad:
            what = _json_kind(value)
            if what == "number":
                what = f"number {_number_literal(value)}"
            raise _DecodeError(f"json: cannot unmarshal {what} into Go value of type int32")
        return value

    def _decode_quantity(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _DecodeError(QUANTITY_FORMAT_ERROR)
        text = value if isinstance(value, str) else _number_literal(value)
        try:
            amount, fmt = parse_quantity(text)
        except _QuantityError as err:
            raise _DecodeError(str(err)) from None
        return canonical_quantity(amount, fmt)

    def _decode_any(self, value: Any, node: _GoType, path: str, fields: tuple[str, ...], struct: str) -> Any:
        return value


def _zero(node: _GoType) -> Any:
    return {"string": "", "int32": 0, "int64": 0, "float64": 0, "bool": False, "struct": {}}.get(node.kind)


_BASE64 = re.compile(r"[A-Za-z0-9+/]*")


def _base64_error(text: str) -> int | None:
    """Where Go's strict base64 decoder gives up on `text`, or None when it decodes."""
    stripped = text.replace("\r", "").replace("\n", "")
    try:
        base64.b64decode(stripped, validate=True)
        return None
    except (binascii.Error, ValueError):
        pass
    body = stripped.rstrip("=")
    bad = _BASE64.match(body)
    end = bad.end() if bad else 0
    if end < len(body):
        return end
    return len(stripped) - len(stripped) % 4 if len(stripped) % 4 else len(body)


def _is_rfc3339(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", text):
        return False
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _decode_prefix(rtype: ResourceType) -> str:
    return f"{rtype.kind} in version {_go_quote(rtype.version)} cannot be handled as a {rtype.kind}: "


def _decode_builtin(obj: Any, rtype: ResourceType, duplicates: Collection[str]) -> tuple[Obj, list[str], list[str]]:
    """The decoded object, the strict decoding errors and the paths of missing schema-required fields."""
    name = rtype.definition or ""
    if name not in schemas.definitions():
        return copy.deepcopy(obj), [], []
    decoder = _TypedDecoder(duplicates)
    root = _go_type({"$ref": f"#/$defs/{name}"})
    try:
        decoded = decoder.decode(obj, root, "", (), "")
    except _DecodeError as err:
        raise BadRequest(_decode_prefix(rtype) + str(err)) from None
    except RecursionError:
        raise BadRequest(_decode_prefix(rtype) + "the object is nested too deeply") from None
    return decoded, decoder.strict, decoder.missing


# =========================================================================================================
# Custom resources: structural pruning and OpenAPI schema validation


_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _prune(value: Any, schema: Any, path: str, unknown: list[str]) -> Any:
    """Drop the fields the structural schema does not know, and nulls where the schema forbids them."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        extra = schema.get("additionalProperties")
        keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True
        embedded = schema.get("x-kubernetes-embedded-resource") is True
        out: Obj = {}
        for key, item in value.items():
            child = _child(path, key)
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is None:
                if keep_unknown or extra is True or (embedded and key in ("apiVersion", "kind", "metadata")):
                    out[key] = item
                else:
                    unknown.append(child)
                continue
            if item is None and not (isinstance(sub, dict) and sub.get("nullable") is True):
                continue
            out[key] = _prune(item, sub, child, unknown)
        return out
    if isinstance(value, list):
        items = schema.get("items")
        return [_prune(item, items, _index(path, i), unknown) for i, item in enumerate(value)]
    return value


def _decode_custom(obj: Any, rtype: ResourceType, duplicates: Collection[str]) -> tuple[Obj, list[str]]:
    """Prune a custom resource; the strict errors list duplicates, then unknown metadata fields, then the
    other unknown fields sorted, in the order the real server reports them."""
    if not isinstance(obj, dict):
        raise BadRequest(
            _decode_prefix(rtype) + f"json: cannot unmarshal {_json_kind(obj)} into Go value of "
            "type map[string]interface {}"
        )
    schema = rtype.crd_schema if isinstance(rtype.crd_schema, dict) else {}
    if not schema:
        schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}  # no schema: keep everything
    out: Obj = {}
    unknown: list[str] = []
    meta_errors: list[str] = []
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            out[key] = value
        elif key == "metadata":
            if value is None:
                continue
            decoder = _TypedDecoder(duplicates)
            try:
                out[key] = decoder.decode(
                    value,
                    _go_type({"$ref": f"#/$defs/{_OBJECT_META}"}),
                    "metadata",
                    ("metadata",),
                    rtype.kind,
                )
            except _DecodeError as err:
                raise BadRequest(_decode_prefix(rtype) + str(err)) from None
            meta_errors = [error for error in decoder.strict if error.startswith("unknown")]
        else:
            pruned = _prune({key: value}, schema, "", unknown)
            out.update(pruned)
    strict = [f'duplicate field "{path}"' for path in duplicates]
    strict += meta_errors + [f'unknown field "{path}"' for path in sorted(unknown)]
    return out, strict


def _json_type(value: Any) -> str:
    """The JSON schema type of a decoded value, as the OpenAPI validator names it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _limit_text(limit: Any) -> str:
    if isinstance(limit, float) and limit.is_integer():
        return str(int(limit))
    return go_float(limit) if isinstance(limit, float) else str(limit)


class _SchemaChecker:
    """The OpenAPI v3 validation of a custom resource against its CRD schema, with the real messages."""

    def __init__(self, errors: _Errors) -> None:
        self.errors = errors
        self.list_errors = _Errors()

    def check(self, value: Any, schema: Any, path: str) -> None:
        if not isinstance(schema, dict):
            return
        if value is None:
            if not schema.get("nullable") and isinstance(schema.get("type"), str):
                self._type_error(path, schema["type"], "null")
            return
        if not self._type_ok(value, schema, path):
            return
        for sub in schema.get("allOf") or []:
            self.check(value, sub, path)
        self._enum(value, schema, path)
        if isinstance(value, str):
            self._string(value, schema, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._number(value, schema, path)
        elif isinstance(value, list):
            self._array(value, schema, path)
        elif isinstance(value, dict):
            self._object(value, schema, path)

    def _type_error(self, path: str, expected: str, actual: str) -> None:
        self.errors.type_invalid(path, actual, f"{path} in body must be of type {expected}: {_go_quote(actual)}")

    def _type_ok(self, value: Any, schema: Obj, path: str) -> bool:
        actual = _json_type(value)
        if schema.get("x-kubernetes-int-or-string") is True:
            if actual in ("integer", "string"):
                return True
            self._type_error(path, "integer,string", actual)
            return False
        expected = schema.get("type")
        if not isinstance(expected, str) or not expected:
            return True
        if actual == expected or (expected == "number" and actual == "integer"):
            return True
        self._type_error(path, expected, actual)
        return False

    def _enum(self, value: Any, schema: Obj, path: str) -> None:
        enum = schema.get("enum")
        if not isinstance(enum, list) or not enum or any(_same(value, item) for item in enum):
            return
        allowed = [item if isinstance(item, str) else json.dumps(item, separators=(",", ":")) for item in enum]
        self.errors.not_supported(path, value, allowed)

    def _string(self, value: str, schema: Obj, path: str) -> None:
        longest, shortest, pattern = schema.get("maxLength"), schema.get("minLength"), schema.get("pattern")
        if isinstance(longest, int) and len(value) > longest:
            self.errors.too_long(path, longest)
        if isinstance(shortest, int) and len(value) < shortest:
            self.errors.invalid(path, value, f"{path} in body should be at least {shortest} chars long")
        if isinstance(pattern, str):
            try:
                matched = re.search(pattern, value) is not None
            except re.error:
                matched = True
            if not matched:
                self.errors.invalid(path, value, f"{path} in body should match '{pattern}'")

    def _number(self, value: float, schema: Obj, path: str) -> None:
        low, high = schema.get("minimum"), schema.get("maximum")
        if _is_number(low):
            exclusive = schema.get("exclusiveMinimum") is True
            if value < low or (exclusive and value == low):
                relation = "greater than" if exclusive else "greater than or equal to"
                self.errors.invalid(path, value, f"{path} in body should be {relation} {_limit_text(low)}")
        if _is_number(high):
            exclusive = schema.get("exclusiveMaximum") is True
            if value > high or (exclusive and value == high):
                relation = "less than" if exclusive else "less than or equal to"
                self.errors.invalid(path, value, f"{path} in body should be {relation} {_limit_text(high)}")
        factor = schema.get("multipleOf")
        if _is_number(factor) and factor > 0 and not (Decimal(str(value)) % Decimal(str(factor))).is_zero():
            self.errors.invalid(path, value, f"{path} in body should be a multiple of {_limit_text(factor)}")

    def _array(self, value: list[Any], schema: Obj, path: str) -> None:
        most, least = schema.get("maxItems"), schema.get("minItems")
        if isinstance(most, int) and len(value) > most:
            self.errors.too_many(path, len(value), most)
        if isinstance(least, int) and len(value) < least:
            self.errors.invalid(path, len(value), f"{path} in body should have at least {least} items")
        if schema.get("uniqueItems") is True and _has_duplicates(value):
            self.errors.invalid(path, "", f"{path} in body shouldn't contain duplicates")
        for i, item in enumerate(value):
            self.check(item, schema.get("items"), _index(path, i))
        self._list_type(value, schema, path)

    def _list_type(self, value: list[Any], schema: Obj, path: str) -> None:
        kind = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys")
        seen: list[Any] = []
        for i, item in enumerate(value):
            if kind == "set":
                marker = item
            elif kind == "map" and isinstance(keys, list) and isinstance(item, dict):
                marker = {key: item[key] for key in keys if key in item}
            else:
                return
            if any(_same(marker, other) for other in seen):
                self.list_errors.duplicate(_index(path, i), marker)
            seen.append(marker)

    def _object(self, value: Obj, schema: Obj, path: str) -> None:
        required = schema.get("required")
        for name in required if isinstance(required, list) else []:
            if isinstance(name, str) and value.get(name) is None:
                self.errors.required(_child(path, name))
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                self.check(item, sub, _child(path, key))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return bool(left == right)


def _has_duplicates(items: list[Any]) -> bool:
    return any(_same(item, other) for i, item in enumerate(items) for other in items[i + 1 :])


# =========================================================================================================
# Helpers for reading decoded objects defensively


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _lst(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# =========================================================================================================
# Object metadata


def _validate_labels(errors: _Errors, labels: Any, path: str) -> None:
    for key, value in _d(labels).items():
        for message in label_key(key):
            errors.invalid(path, key, message)
        for message in label_value(_str(value)):
            errors.invalid(path, value, message)


def _validate_annotations(errors: _Errors, annotations: Any, path: str) -> None:
    total = 0
    for key, value in _d(annotations).items():
        for message in label_key(key.lower()):
            errors.invalid(path, key, message)
        total += len(key) + len(_str(value))
    if total > 256 * 1024:
        errors.too_long(path, 256 * 1024)


def _validate_meta(errors: _Errors, meta: Obj, *, namespaced: bool, name_rule: NameRule) -> None:
    generate = _str(meta.get("generateName"))
    if generate:
        masked = generate[:-1] + "a" if generate.endswith("-") else generate
        for message in name_rule(masked):
            errors.invalid("metadata.generateName", generate, message)
    name = _str(meta.get("name"))
    if name:
        for message in name_rule(name):
            errors.invalid("metadata.name", name, message)
    elif not generate:
        errors.required("metadata.name", "name or generateName is required")
    namespace = _str(meta.get("namespace"))
    if namespaced and namespace:
        for message in dns1123_label(namespace):
            errors.invalid("metadata.namespace", namespace, message)
    errors.nonnegative("metadata.generation", meta.get("generation"))
    _validate_labels(errors, meta.get("labels"), "metadata.labels")
    _validate_annotations(errors, meta.get("annotations"), "metadata.annotations")
    for ref in _lst(meta.get("ownerReferences")):
        _validate_owner_reference(errors, _d(ref))
    for finalizer in _lst(meta.get("finalizers")):
        for message in label_key(_str(finalizer)):
            errors.invalid("metadata.finalizers", finalizer, message)


def _validate_owner_reference(errors: _Errors, ref: Obj) -> None:
    path = "metadata.ownerReferences"
    api_version = _str(ref.get("apiVersion"))
    if not api_version.rsplit("/", 1)[-1]:
        errors.invalid(f"{path}.apiVersion", api_version, "version must not be empty")
    for key, label in (("kind", "kind"), ("name", "name"), ("uid", "uid")):
        if not _str(ref.get(key)):
            errors.invalid(f"{path}.{key}", _str(ref.get(key)), f"{label} must not be empty")


def _validate_meta_update(errors: _Errors, meta: Obj, old_meta: Obj) -> None:
    for key in ("name", "namespace"):
        errors.immutable(f"metadata.{key}", _str(meta.get(key)), _str(old_meta.get(key)))
    uid = _str(meta.get("uid"))
    if uid:
        errors.immutable("metadata.uid", uid, _str(old_meta.get("uid")))
    _validate_labels(errors, meta.get("labels"), "metadata.labels")
    _validate_annotations(errors, meta.get("annotations"), "metadata.annotations")


# =========================================================================================================
# Label selectors


_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _selector_value(selector: Obj) -> _Struct:
    """A LabelSelector as a Go struct value, for `Invalid value:` messages."""
    out = _Struct()
    if selector.get("matchLabels"):
        out["matchLabels"] = _d(selector.get("matchLabels"))
    expressions = [
        _Struct((key, expr[key]) for key in ("key", "operator", "values") if expr.get(key))
        for expr in (_d(e) for e in _lst(selector.get("matchExpressions")))
    ]
    if expressions:
        out["matchExpressions"] = expressions
    return out


def _validate_selector(errors: _Errors, selector: Obj, path: str) -> bool:
    """Validate a LabelSelector; False when it cannot be turned into a selector at all."""
    usable = True
    _validate_labels(errors, selector.get("matchLabels"), _child(path, "matchLabels"))
    for i, expr in enumerate(_lst(selector.get("matchExpressions"))):
        expr = _d(expr)
        expr_path = _index(_child(path, "matchExpressions"), i)
        operator, values = _str(expr.get("operator")), _lst(expr.get("values"))
        if operator in ("In", "NotIn") and not values:
            errors.required(_child(expr_path, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
            usable = False
        elif operator in ("Exists", "DoesNotExist") and values:
            errors.forbidden(
                _child(expr_path, "values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )
            usable = False
        elif operator not in _SELECTOR_OPERATORS:
            errors.invalid(_child(expr_path, "operator"), operator, "not a valid selector operator")
            usable = False
        for message in label_key(_str(expr.get("key"))):
            errors.invalid(_child(expr_path, "key"), _str(expr.get("key")), message)
            usable = False
        for j, value in enumerate(values):
            for message in label_value(_str(value)):
                errors.invalid(_index(_child(expr_path, "values"), j), value, message)
    return usable


def selector_matches(selector: Obj | None, labels: Obj | None) -> bool:
    """Whether a LabelSelector selects an object with these labels; a missing selector selects nothing."""
    if selector is None:
        return False
    labels = _d(labels)
    for key, value in _d(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in (_d(e) for e in _lst(selector.get("matchExpressions"))):
        key, operator, values = expr.get("key"), expr.get("operator"), _lst(expr.get("values"))
        present = key in labels
        if (
            (operator == "In" and (not present or labels[key] not in values))
            or (operator == "NotIn" and present and labels[key] in values)
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True


def _selector_is_empty(selector: Obj) -> bool:
    return not _d(selector.get("matchLabels")) and not _lst(selector.get("matchExpressions"))


# =========================================================================================================
# Pods and pod templates


_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_VOLUME_REFERENCES = {
    "configMap": "name",
    "secret": "secretName",
    "persistentVolumeClaim": "claimName",
    "hostPath": "path",
}


def _validate_port_num_or_name(errors: _Errors, value: Any, path: str) -> None:
    if isinstance(value, str):
        for message in _port_name(value):
            errors.invalid(path, value, message)
    elif _int(value) is not None:
        for message in _port_number(value):
            errors.invalid(path, value, message)


def _validate_volumes(errors: _Errors, volumes: list[Any], path: str) -> set[str]:
    names: set[str] = set()
    for i, volume in enumerate(volumes):
        volume, volume_path = _d(volume), _index(path, i)
        found = _Errors()
        sources = [key for key in volume if key != "name"]
        if len(sources) > 1:
            found.forbidden(_child(volume_path, sources[1]), "may not specify more than 1 volume type")
        for source, key in _VOLUME_REFERENCES.items():
            if source in volume and not _str(_d(volume[source]).get(key)):
                found.required(_child(_child(volume_path, source), key))
        name = _str(volume.get("name"))
        if not name:
            found.required(_child(volume_path, "name"))
        else:
            for message in dns1123_label(name):
                found.invalid(_child(volume_path, "name"), name, message)
        if name in names:
            found.duplicate(_child(volume_path, "name"), name)
        if found.causes:
            errors.causes.extend(found.causes)
        else:
            names.add(name)
    return names


def _validate_container_ports(errors: _Errors, ports: list[Any], path: str) -> None:
    names: set[str] = set()
    for i, port in enumerate(ports):
        port, port_path = _d(port), _index(path, i)
        name = _str(port.get("name"))
        if name:
            messages = _port_name(name)
            for message in messages:
                errors.invalid(_child(port_path, "name"), name, message)
            if not messages and name in names:
                errors.duplicate(_child(port_path, "name"), name)
            names.add(name)
        container_port = _int(port.get("containerPort")) or 0
        if container_port == 0:
            errors.required(_child(port_path, "containerPort"))
        for message in _port_number(container_port) if container_port else []:
            errors.invalid(_child(port_path, "containerPort"), container_port, message)
        host_port = _int(port.get("hostPort")) or 0
        for message in _port_number(host_port) if host_port else []:
            errors.invalid(_child(port_path, "hostPort"), host_port, message)
        protocol = _str(port.get("protocol"))
        if not protocol:
            errors.required(_child(port_path, "protocol"))
        elif protocol not in _PROTOCOLS:
            errors.not_supported(_child(port_path, "protocol"), protocol, _PROTOCOLS)


def _validate_env(errors: _Errors, env: list[Any], path: str) -> None:
    for i, var in enumerate(env):
        var, var_path = _d(var), _index(path, i)
        name = _str(var.get("name"))
        if not name:
            errors.required(_child(var_path, "name"))
        elif any(not 32 < ord(char) < 127 or char == "=" for char in name):
            errors.invalid(
                _child(var_path, "name"),
                name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            )
        source = var.get("valueFrom")
        if source is None:
            continue
        kinds = [
            key
            for key in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
            if _d(source).get(key) is not None
        ]
        from_path = _child(var_path, "valueFrom")
        if not kinds:
            errors.invalid(
                from_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            )
        elif _str(var.get("value")):
            errors.invalid(from_path, "", "may not be specified when `value` is not empty")
        elif len(kinds) > 1:
            errors.invalid(from_path, "", "may not have more than one field specified at a time")


def _validate_volume_mounts(errors: _Errors, mounts: list[Any], volumes: set[str], path: str) -> None:
    paths: set[str] = set()
    for i, mount in enumerate(mounts):
        mount, mount_path = _d(mount), _index(path, i)
        name, target = _str(mount.get("name")), _str(mount.get("mountPath"))
        if not name:
            errors.required(_child(mount_path, "name"))
        elif name not in volumes:
            errors.not_found(_child(mount_path, "name"), name)
        if not target:
            errors.required(_child(mount_path, "mountPath"))
        elif target in paths:
            errors.invalid(_child(mount_path, "mountPath"), target, "must be unique")
        paths.add(target)


def _validate_resources(errors: _Errors, resources: Obj, path: str) -> None:
    limits = _d(resources.get("limits"))
    requests = _d(resources.get("requests"))
    for group, values in (("limits", limits), ("requests", requests)):
        for name, raw in values.items():
            entry = _key(_child(path, group), name)
            if "/" not in name and name not in _CONTAINER_RESOURCES and not name.startswith("hugepages-"):
                errors.invalid(entry, name, "must be a standard resource for containers")
            amount = _quantity_value(raw)
            if amount is not None and amount < 0:
                errors.invalid(entry, raw, NEGATIVE)
    for name, raw in requests.items():
        request, limit = _quantity_value(raw), _quantity_value(limits.get(name))
        if request is not None and limit is not None and request > limit:
            errors.invalid(
                _child(path, "requests"), raw, f"must be less than or equal to {name} limit of {limits[name]}"
            )


def _validate_probe(errors: _Errors, probe: Any, path: str) -> None:
    if probe is None:
        return
    probe = _d(probe)
    handlers = [key for key in ("exec", "httpGet", "tcpSocket", "grpc") if probe.get(key) is not None]
    if not handlers:
        errors.required(path, "must specify a handler type")
    for extra in handlers[1:]:
        errors.forbidden(_child(path, extra), "may not specify more than 1 handler type")
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        errors.nonnegative(_child(path, key), probe.get(key))
    http = probe.get("httpGet")
    if http is not None:
        _validate_port_num_or_name(errors, _d(http).get("port"), _child(_child(path, "httpGet"), "port"))
    tcp = probe.get("tcpSocket")
    if tcp is not None:
        _validate_port_num_or_name(errors, _d(tcp).get("port"), _child(_child(path, "tcpSocket"), "port"))


def _validate_container(errors: _Errors, container: Obj, path: str, volumes: set[str]) -> None:
    name = _str(container.get("name"))
    if not name:
        errors.required(_child(path, "name"))
    else:
        for message in dns1123_label(name):
            errors.invalid(_child(path, "name"), name, message)
    if not _str(container.get("image")):
        errors.required(_child(path, "image"))
    policy = _str(container.get("terminationMessagePolicy"))
    if not policy:
        errors.required(_child(path, "terminationMessagePolicy"))
    elif policy not in _MESSAGE_POLICIES:
        errors.not_supported(_child(path, "terminationMessagePolicy"), policy, _MESSAGE_POLICIES)
    _validate_container_ports(errors, _lst(container.get("ports")), _child(path, "ports"))
    _validate_env(errors, _lst(container.get("env")), _child(path, "env"))
    _validate_volume_mounts(errors, _lst(container.get("volumeMounts")), volumes, _child(path, "volumeMounts"))
    pull = _str(container.get("imagePullPolicy"))
    if not pull:
        errors.required(_child(path, "imagePullPolicy"))
    elif pull not in _PULL_POLICIES:
        errors.not_supported(_child(path, "imagePullPolicy"), pull, _PULL_POLICIES)
    _validate_resources(errors, _d(container.get("resources")), _child(path, "resources"))


def _validate_containers(errors: _Errors, containers: list[Any], path: str, volumes: set[str]) -> None:
    if not containers:
        errors.required(path)
        return
    names: set[str] = set()
    for i, container in enumerate(containers):
        container, container_path = _d(container), _index(path, i)
        _validate_container(errors, container, container_path, volumes)
        name = _str(container.get("name"))
        if name in names:
            errors.duplicate(_child(container_path, "name"), name)
        names.add(name)
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            _validate_probe(errors, container.get(probe), _child(container_path, probe))
        if container.get("restartPolicy") is not None:
            errors.forbidden(_child(container_path, "restartPolicy"), "may not be set for non-init containers")


def _validate_init_containers(errors: _Errors, spec: Obj, path: str, volumes: set[str]) -> None:
    names = {_str(_d(c).get("name")) for c in _lst(spec.get("containers"))}
    for i, container in enumerate(_lst(spec.get("initContainers"))):
        container, container_path = _d(container), _index(path, i)
        _validate_container(errors, container, container_path, volumes)
        name = _str(container.get("name"))
        if name in names:
            errors.duplicate(_child(container_path, "name"), name)
        elif name:
            names.add(name)


def _validate_choice(errors: _Errors, value: Any, path: str, choices: tuple[str, ...]) -> None:
    text = _str(value)
    if not text:
        errors.required(path)
    elif text not in choices:
        errors.not_supported(path, text, choices)


def _validate_pod_spec(errors: _Errors, spec: Obj, path: str) -> None:
    if spec.get("terminationGracePeriodSeconds") is None:
        errors.required(_child(path, "terminationGracePeriodSeconds"))
    volumes = _validate_volumes(errors, _lst(spec.get("volumes")), _child(path, "volumes"))
    _validate_containers(errors, _lst(spec.get("containers")), _child(path, "containers"), volumes)
    _validate_init_containers(errors, spec, _child(path, "initContainers"), volumes)
    _validate_choice(errors, spec.get("restartPolicy"), _child(path, "restartPolicy"), _RESTART_POLICIES)
    _validate_choice(errors, spec.get("dnsPolicy"), _child(path, "dnsPolicy"), _DNS_POLICIES)
    _validate_labels(errors, spec.get("nodeSelector"), _child(path, "nodeSelector"))
    for key, rule in (
        ("serviceAccountName", dns1123_subdomain),
        ("nodeName", dns1123_subdomain),
        ("hostname", dns1123_label),
        ("subdomain", dns1123_label),
        ("priorityClassName", dns1123_subdomain),
    ):
        value = _str(spec.get(key))
        for message in rule(value) if value else []:
            errors.invalid(_child(path, key), value, message)
    deadline = _int(spec.get("activeDeadlineSeconds"))
    if deadline is not None and not 1 <= deadline <= 2**31 - 1:
        errors.invalid(_child(path, "activeDeadlineSeconds"), deadline, "must be between 1 and 2147483647, inclusive")


def _validate_pod_template(errors: _Errors, template: Obj, path: str) -> None:
    meta = _d(template.get("metadata"))
    _validate_labels(errors, meta.get("labels"), _child(path, "labels"))
    _validate_annotations(errors, meta.get("annotations"), _child(path, "annotations"))
    spec = _d(template.get("spec"))
    _validate_pod_spec(errors, spec, _child(path, "spec"))
    if spec.get("ephemeralContainers"):
        errors.forbidden(
            _child(_child(path, "spec"), "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        )


_UPDATABLE_POD_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)


def _validate_pod_update(errors: _Errors, pod: Obj, old: Obj) -> None:
    spec, old_spec = _d(pod.get("spec")), _d(old.get("spec"))
    for key in ("containers", "initContainers"):
        new_list, old_list = _lst(spec.get(key)), _lst(old_spec.get(key))
        if len(new_list) != len(old_list):
            errors.forbidden(f"spec.{key}", "pod updates may not add or remove containers")
            return
    munged = copy.deepcopy(spec)
    for key in ("containers", "initContainers"):
        for new_container, old_container in zip(_lst(munged.get(key)), _lst(old_spec.get(key)), strict=True):
            if isinstance(new_container, dict):
                new_container["image"] = _d(old_container).get("image")
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        munged.pop(key, None)
    comparable_old = {
        key: value
        for key, value in old_spec.items()
        if key not in ("activeDeadlineSeconds", "tolerations", "schedulingGates")
    }
    if _normalized(munged) != _normalized(comparable_old):
        diff = _spec_diff(comparable_old, munged)
        errors.forbidden(
            "spec",
            "pod updates may not change fields other than " + ",".join(_UPDATABLE_POD_FIELDS) + "\n" + diff,
        )


def _spec_diff(old: Obj, new: Obj) -> str:
    """A short description of what changed, in place of the real server's Go struct diff."""
    lines = []
    for key in sorted(set(old) | set(new)):
        if _normalized(old.get(key)) != _normalized(new.get(key)):
            lines.append(f"- \t{key}: {_go_json(old.get(key))}")
            lines.append(f"+ \t{key}: {_go_json(new.get(key))}")
    return "  core.PodSpec{\n" + "\n".join(lines) + "\n  }\n"


# =========================================================================================================
# Workloads


def _int_or_percent(value: Any) -> int:
    if isinstance(value, str) and _full(_PERCENT, value):
        return int(value[:-1])
    return _int(value) or 0


def _validate_positive_int_or_percent(errors: _Errors, value: Any, path: str) -> None:
    if isinstance(value, str):
        for message in _percent(value):
            errors.invalid(path, value, message)
    else:
        errors.nonnegative(path, value)


def _not_over_100_percent(errors: _Errors, value: Any, path: str) -> None:
    if isinstance(value, str) and _full(_PERCENT, value) and int(value[:-1]) > 100:
        errors.invalid(path, value, "must not be greater than 100%")


def _internal_strategy(strategy: Obj, rolling_keys: tuple[str, ...]) -> _Struct:
    """A strategy as the internal Go struct the real server prints (field names, not JSON names)."""
    rolling = strategy.get("rollingUpdate")
    inner = (
        None if rolling is None else _Struct((key[0].upper() + key[1:], _d(rolling).get(key)) for key in rolling_keys)
    )
    return _Struct(Type=_str(strategy.get("type")), RollingUpdate=inner)


def _validate_deployment_strategy(errors: _Errors, strategy: Obj, path: str) -> None:
    kind = _str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            errors.forbidden(_child(path, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")
    elif kind == "RollingUpdate":
        if rolling is None:
            errors.required(_child(path, "rollingUpdate"), "this should be defaulted and never be nil")
            return
        rolling, rolling_path = _d(rolling), _child(path, "rollingUpdate")
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        _validate_positive_int_or_percent(errors, unavailable, _child(rolling_path, "maxUnavailable"))
        _validate_positive_int_or_percent(errors, surge, _child(rolling_path, "maxSurge"))
        if _int_or_percent(unavailable) == 0 and _int_or_percent(surge) == 0:
            errors.invalid(_child(rolling_path, "maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0")
        _not_over_100_percent(errors, unavailable, _child(rolling_path, "maxUnavailable"))
    else:
        errors.not_supported(
            path, _internal_strategy(strategy, ("maxUnavailable", "maxSurge")), ("Recreate", "RollingUpdate")
        )


def _validate_controller_selector(errors: _Errors, spec: Obj, what: str) -> tuple[Obj | None, bool]:
    """The selector checks shared by Deployments, ReplicaSets and StatefulSets: the selector (None when
    missing) and whether it can be used to select pods at all."""
    selector = spec.get("selector")
    if selector is None:
        errors.required("spec.selector")
        return None, True
    selector = _d(selector)
    usable = _validate_selector(errors, selector, "spec.selector")
    if _selector_is_empty(selector):
        errors.invalid("spec.selector", _selector_value(selector), f"empty selector is invalid for {what}")
    return selector, usable


def _check_template_labels(errors: _Errors, selector: Obj | None, template: Obj, path: str) -> None:
    labels = _d(template.get("metadata")).get("labels")
    if selector is not None and _selector_is_empty(selector):
        return
    if not selector_matches(selector, labels):
        errors.invalid(_child(path, "metadata.labels"), labels, "`selector` does not match template `labels`")


def _validate_replicated_template(errors: _Errors, spec: Obj, selector: Obj | None, owner: str) -> None:
    template = _d(spec.get("template"))
    _check_template_labels(errors, selector, template, "spec.template")
    _validate_pod_template(errors, template, "spec.template")
    pod_spec = _d(template.get("spec"))
    policy = _str(pod_spec.get("restartPolicy"))
    if policy != "Always":
        errors.not_supported("spec.template.spec.restartPolicy", policy, ("Always",))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        errors.forbidden(
            "spec.template.spec.activeDeadlineSeconds", f"activeDeadlineSeconds in {owner} is not Supported"
        )


def _validate_deployment(errors: _Errors, obj: Obj) -> None:
    spec = _d(obj.get("spec"))
    errors.nonnegative("spec.replicas", spec.get("replicas"))
    selector, usable = _validate_controller_selector(errors, spec, "deployment")
    if usable:
        _validate_replicated_template(errors, spec, selector, "ReplicaSet")
    else:
        errors.invalid("spec.selector", _selector_value(_d(selector)), "invalid label selector")
    _validate_deployment_strategy(errors, _d(spec.get("strategy")), "spec.strategy")
    errors.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    errors.nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    deadline = _int(spec.get("progressDeadlineSeconds"))
    if deadline is not None:
        errors.nonnegative("spec.progressDeadlineSeconds", deadline)
        if deadline <= (_int(spec.get("minReadySeconds")) or 0):
            errors.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")


def _validate_replica_set(errors: _Errors, obj: Obj) -> None:
    spec = _d(obj.get("spec"))
    errors.nonnegative("spec.replicas", spec.get("replicas"))
    errors.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    selector, usable = _validate_controller_selector(errors, spec, "deployment")
    if usable:
        _validate_replicated_template(errors, spec, selector, "ReplicaSet")
    else:
        errors.invalid("spec.selector", _selector_value(_d(selector)), "invalid label selector")


def _validate_stateful_set(errors: _Errors, obj: Obj) -> None:
    spec = _d(obj.get("spec"))
    policy = _str(spec.get("podManagementPolicy"))
    if not policy:
        errors.required("spec.podManagementPolicy")
    elif policy not in ("OrderedReady", "Parallel"):
        errors.invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'")
    _validate_stateful_set_strategy(errors, _d(spec.get("updateStrategy")))
    retention = _d(spec.get("persistentVolumeClaimRetentionPolicy"))
    for key in ("whenDeleted", "whenScaled"):
        if key in retention and retention[key] not in ("Retain", "Delete"):
            errors.not_supported(
                f"spec.persistentVolumeClaimRetentionPolicy.{key}", retention[key], ("Retain", "Delete")
            )
    errors.nonnegative("spec.replicas", spec.get("replicas"))
    errors.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    selector, usable = _validate_controller_selector(errors, spec, "statefulset")
    template = _d(spec.get("template"))
    if usable:
        _check_template_labels(errors, selector, template, "spec.template")
        meta = _d(template.get("metadata"))
        _validate_labels(errors, meta.get("labels"), "spec.template.labels")
        _validate_annotations(errors, meta.get("annotations"), "spec.template.annotations")
    else:
        errors.invalid("spec.selector", _selector_value(_d(selector)))
    pod_spec = _d(template.get("spec"))
    if _str(pod_spec.get("restartPolicy")) != "Always":
        errors.not_supported("spec.template.spec.restartPolicy", _str(pod_spec.get("restartPolicy")), ("Always",))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        errors.forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in StatefulSet is not Supported",
        )


def _validate_stateful_set_strategy(errors: _Errors, strategy: Obj) -> None:
    kind, path = _str(strategy.get("type")), "spec.updateStrategy"
    if not kind:
        errors.required(path)
    elif kind == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            errors.invalid(
                f"{path}.rollingUpdate",
                _Struct(_d(strategy.get("rollingUpdate"))),
                "only allowed for updateStrategy 'RollingUpdate'",
            )
    elif kind == "RollingUpdate":
        rolling = _d(strategy.get("rollingUpdate"))
        errors.nonnegative(f"{path}.rollingUpdate.partition", rolling.get("partition"))
        unavailable = rolling.get("maxUnavailable")
        if unavailable is not None:
            _validate_positive_int_or_percent(errors, unavailable, f"{path}.rollingUpdate.maxUnavailable")
            if _int_or_percent(unavailable) == 0:
                errors.invalid(f"{path}.rollingUpdate.maxUnavailable", unavailable, "cannot be 0")
            _not_over_100_percent(errors, unavailable, f"{path}.rollingUpdate.maxUnavailable")
    else:
        errors.invalid(
            path,
            _internal_strategy(strategy, ("partition", "maxUnavailable")),
            "must be 'RollingUpdate' or 'OnDelete'",
        )


def _validate_daemon_set(errors: _Errors, obj: Obj) -> None:
    spec = _d(obj.get("spec"))
    selector = spec.get("selector")
    usable = True
    if selector is not None:
        usable = _validate_selector(errors, _d(selector), "spec.selector")
    template = _d(spec.get("template"))
    labels = _d(template.get("metadata")).get("labels")
    if (
        usable
        and not (selector is not None and _selector_is_empty(_d(selector)))
        and not selector_matches(_d(selector) if selector is not None else None, labels)
    ):
        errors.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
    if selector is not None and _selector_is_empty(_d(selector)):
        errors.invalid("spec.selector", _selector_value(_d(selector)), "empty selector is invalid for daemonset")
    _validate_pod_template(errors, template, "spec.template")
    pod_spec = _d(template.get("spec"))
    if _str(pod_spec.get("restartPolicy")) != "Always":
        errors.not_supported("spec.template.spec.restartPolicy", _str(pod_spec.get("restartPolicy")), ("Always",))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        errors.forbidden(
            "spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in DaemonSet is not Supported"
        )
    errors.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    _validate_daemon_set_strategy(errors, _d(spec.get("updateStrategy")))
    errors.nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))


def _validate_daemon_set_strategy(errors: _Errors, strategy: Obj) -> None:
    kind, path = _str(strategy.get("type")), "spec.updateStrategy"
    if kind == "OnDelete":
        return
    if kind != "RollingUpdate":
        errors.not_supported(
            path, _internal_strategy(strategy, ("maxUnavailable", "maxSurge")), ("RollingUpdate", "OnDelete")
        )
        return
    if strategy.get("rollingUpdate") is None:
        errors.required(f"{path}.rollingUpdate")
        return
    rolling, rolling_path = _d(strategy.get("rollingUpdate")), f"{path}.rollingUpdate"
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    _validate_positive_int_or_percent(errors, unavailable, f"{rolling_path}.maxUnavailable")
    _validate_positive_int_or_percent(errors, surge, f"{rolling_path}.maxSurge")
    _not_over_100_percent(errors, unavailable, f"{rolling_path}.maxUnavailable")
    _not_over_100_percent(errors, surge, f"{rolling_path}.maxSurge")
    has_unavailable, has_surge = _int_or_percent(unavailable) != 0, _int_or_percent(surge) != 0
    if has_unavailable and has_surge:
        errors.invalid(f"{rolling_path}.maxSurge", surge, "may not be set when maxUnavailable is non-zero")
    elif not has_unavailable and not has_surge:
        errors.required(f"{rolling_path}.maxUnavailable", "cannot be 0 when maxSurge is 0")


def _validate_job_spec(errors: _Errors, spec: Obj, path: str) -> None:
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit"):
        errors.nonnegative(_child(path, key), spec.get(key))
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errors.not_supported(_child(path, "completionMode"), mode, ("NonIndexed", "Indexed"))
    template_path = _child(path, "template")
    template = _d(spec.get("template"))
    _validate_pod_template(errors, template, template_path)
    policy = _str(_d(template.get("spec")).get("restartPolicy"))
    if policy not in ("OnFailure", "Never"):
        errors.not_supported(_child(template_path, "spec.restartPolicy"), policy, ("OnFailure", "Never"))


def _validate_job(errors: _Errors, obj: Obj) -> None:
    meta, spec = _d(obj.get("metadata")), _d(obj.get("spec"))
    selector = spec.get("selector")
    manual = spec.get("manualSelector") is True
    uid = _str(meta.get("uid"))
    if selector is not None and not manual and uid:
        expected = {JOB_UID_LABEL: uid, JOB_NAME_LABEL: _str(meta.get("name"))}
        if not selector_matches(_d(selector), expected):
            errors.invalid("spec.selector", _selector_value(_d(selector)), "`selector` not auto-generated")
    _validate_job_spec(errors, spec, "spec")
    if selector is None:
        if manual or uid:  # otherwise the server generates it once it has assigned the uid
            errors.required("spec.selector")
        return
    if _validate_selector(errors, _d(selector), "spec.selector"):
        _check_template_labels(errors, _d(selector), _d(spec.get("template")), "spec.template")


def _validate_cron_job(errors: _Errors, obj: Obj) -> None:
    name = _str(_d(obj.get("metadata")).get("name"))
    if len(name) > 52:
        errors.invalid("metadata.name", name, "must be no more than 52 characters")
    spec = _d(obj.get("spec"))
    schedule = _str(spec.get("schedule"))
    if not schedule:
        errors.required("spec.schedule")
    else:
        problem = cron_schedule_error(schedule)
        if problem:
            errors.invalid("spec.schedule", schedule, problem)
    errors.nonnegative("spec.startingDeadlineSeconds", spec.get("startingDeadlineSeconds"))
    _validate_choice(errors, spec.get("concurrencyPolicy"), "spec.concurrencyPolicy", ("Allow", "Forbid", "Replace"))
    errors.nonnegative("spec.successfulJobsHistoryLimit", spec.get("successfulJobsHistoryLimit"))
    errors.nonnegative("spec.failedJobsHistoryLimit", spec.get("failedJobsHistoryLimit"))
    job_spec = _d(_d(spec.get("jobTemplate")).get("spec"))
    _validate_job_spec(errors, job_spec, "spec.jobTemplate.spec")
    if job_spec.get("selector") is not None:
        errors.invalid(
            "spec.jobTemplate.spec.selector",
            _selector_value(_d(job_spec["selector"])),
            "`selector` will be auto-generated",
        )
    if job_spec.get("manualSelector") is True:
        errors.not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false"))


_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
_CRON_NAMES = {
    3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}


def cron_schedule_error(schedule: str) -> str:
    """Why a standard cron schedule does not parse (the wording of the cron library the server uses)."""
    text = schedule.strip()
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        return ""
    if text.startswith("@"):
        return "" if text in _CRON_MACROS or text.startswith("@every ") else f"unrecognized descriptor: {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for position, (field_text, (_, low, high)) in enumerate(zip(fields, _CRON_FIELDS, strict=True)):
        for part in field_text.split(","):
            problem = _cron_part_error(part, low, high, _CRON_NAMES.get(position, []))
            if problem:
                return problem
    return ""


def _cron_part_error(part: str, low: int, high: int, names: list[str]) -> str:
    range_text, _, step = part.partition("/")
    if step and not step.isdigit():
        return f"failed to parse int from {step}: strconv.Atoi: parsing {_go_quote(step)}: invalid syntax"
    if range_text in ("*", "?"):
        return ""
    bounds = range_text.split("-")
    if len(bounds) > 2:
        return f"too many hyphens: {part}"
    values = []
    for bound in bounds:
        if bound.lower() in names:
            values.append(names.index(bound.lower()) + low)
        elif bound.isdigit():
            values.append(int(bound))
        else:
            return f"failed to parse int from {bound}: strconv.Atoi: parsing {_go_quote(bound)}: invalid syntax"
    if values[0] < low:
        return f"beginning of range ({values[0]}) below minimum ({low}): {part}"
    if values[-1] > high:
        return f"end of range ({values[-1]}) above maximum ({high}): {part}"
    if values[0] > values[-1]:
        return f"beginning of range ({values[0]}) beyond end of range ({values[-1]}): {part}"
    return ""


# =========================================================================================================
# Services, config and the other core kinds


_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def _is_headless(spec: Obj) -> bool:
    ips = _lst(spec.get("clusterIPs"))
    return len(ips) == 1 and ips[0] == "None"


def _service_port_value(port: Obj) -> _Struct:
    """A (protocol, port) pair as the internal Go struct the real server prints for duplicate ports."""
    return _Struct(
        Name="",
        Protocol=_str(port.get("protocol")),
        AppProtocol=None,
        Port=_int(port.get("port")) or 0,
        TargetPort=0,
        NodePort=0,
    )


def _validate_service_port(errors: _Errors, port: Obj, path: str, require_name: bool, names: set[str]) -> None:
    name = _str(port.get("name"))
    if require_name and not name:
        errors.required(_child(path, "name"))
    elif name:
        for message in dns1123_label(name):
            errors.invalid(_child(path, "name"), name, message)
        if name in names:
            errors.duplicate(_child(path, "name"), name)
        names.add(name)
    number = _int(port.get("port")) or 0
    for message in _port_number(number):
        errors.invalid(_child(path, "port"), number, message)
    protocol = _str(port.get("protocol"))
    if not protocol:
        errors.required(_child(path, "protocol"))
    elif protocol not in _PROTOCOLS:
        errors.not_supported(_child(path, "protocol"), protocol, _PROTOCOLS)
    _validate_port_num_or_name(errors, port.get("targetPort"), _child(path, "targetPort"))


def _validate_service(errors: _Errors, obj: Obj) -> None:
    spec = _d(obj.get("spec"))
    kind = _str(spec.get("type"))
    ports = [_d(port) for port in _lst(spec.get("ports"))]
    if not ports and not _is_headless(spec) and kind != "ExternalName":
        errors.required("spec.ports")
    if kind in ("LoadBalancer", "NodePort") and _is_headless(spec):
        errors.invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services")
    if kind == "ExternalName":
        _validate_external_name(errors, spec)
    names: set[str] = set()
    for i, port in enumerate(ports):
        _validate_service_port(errors, port, _index("spec.ports", i), len(ports) > 1, names)
    if spec.get("selector") is not None:
        _validate_labels(errors, spec.get("selector"), "spec.selector")
    affinity = _str(spec.get("sessionAffinity"))
    if not affinity:
        errors.required("spec.sessionAffinity")
    elif affinity not in ("ClientIP", "None"):
        errors.not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None"))
    if kind != "ExternalName":
        _validate_cluster_ips(errors, spec)
    for i, address in enumerate(_lst(spec.get("externalIPs"))):
        if not _is_ip(_str(address)):
            errors.invalid(
                _index("spec.externalIPs", i),
                address,
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            )
    if not kind:
        errors.required("spec.type")
    elif kind not in _SERVICE_TYPES:
        errors.not_supported("spec.type", kind, _SERVICE_TYPES)
    _validate_service_ports_unique(errors, kind, ports)
    _validate_traffic_policies(errors, spec, kind)


def _validate_external_name(errors: _Errors, spec: Obj) -> None:
    if spec.get("clusterIPs"):
        errors.forbidden("spec.clusterIPs", "may not be set for ExternalName services")
    if spec.get("ipFamilies"):
        errors.forbidden("spec.ipFamilies", "may not be set for ExternalName services")
    if spec.get("ipFamilyPolicy") is not None:
        errors.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
    name = _str(spec.get("externalName")).removesuffix(".")
    if not name:
        errors.required("spec.externalName")
    for message in dns1123_subdomain(name) if name else []:
        errors.invalid("spec.externalName", name, message)


def _validate_cluster_ips(errors: _Errors, spec: Obj) -> None:
    cluster_ip, cluster_ips = _str(spec.get("clusterIP")), _lst(spec.get("clusterIPs"))
    if cluster_ip:
        if not cluster_ips:
            errors.required("spec.clusterIPs")
        elif cluster_ips[0] != cluster_ip:
            errors.invalid("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`")
    elif cluster_ips:
        errors.invalid("spec.clusterIPs", cluster_ips, "must be empty when `clusterIP` is not specified")
    for i, family in enumerate(_lst(spec.get("ipFamilies"))):
        if family not in ("IPv4", "IPv6"):
            errors.not_supported(_index("spec.ipFamilies", i), family, ("IPv4", "IPv6"))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in ("PreferDualStack", "RequireDualStack", "SingleStack"):
        errors.not_supported("spec.ipFamilyPolicy", policy, ("PreferDualStack", "RequireDualStack", "SingleStack"))
    for i, address in enumerate(cluster_ips):
        if i == 0 and address == "None":
            continue
        if not _is_ip(_str(address)):
            errors.invalid(
                _index("spec.clusterIPs", i),
                address,
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            )


def _validate_service_ports_unique(errors: _Errors, kind: str, ports: list[Obj]) -> None:
    seen_node_ports: set[tuple[str, int]] = set()
    seen_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        path = _index("spec.ports", i)
        node_port = _int(port.get("nodePort")) or 0
        if kind == "ClusterIP" and node_port:
            errors.forbidden(_child(path, "nodePort"), "may not be used when `type` is 'ClusterIP'")
        if node_port:
            key = (_str(port.get("protocol")), node_port)
            if key in seen_node_ports:
                errors.duplicate(_child(path, "nodePort"), node_port)
            seen_node_ports.add(key)
    for i, port in enumerate(ports):
        key = (_str(port.get("protocol")), _int(port.get("port")) or 0)
        if key in seen_ports:
            errors.duplicate(_index("spec.ports", i), _service_port_value(port))
        seen_ports.add(key)


def _validate_traffic_policies(errors: _Errors, spec: Obj, kind: str) -> None:
    external = spec.get("externalTrafficPolicy")
    accessible = kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))
    if not accessible and external:
        errors.invalid("spec.externalTrafficPolicy", external, "may only be set for externally-accessible services")
    elif accessible and external not in ("Cluster", "Local"):
        if not external:
            errors.required("spec.externalTrafficPolicy")
        else:
            errors.not_supported("spec.externalTrafficPolicy", external, ("Cluster", "Local"))
    internal = spec.get("internalTrafficPolicy")
    if internal is None and kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        errors.required("spec.internalTrafficPolicy")
    elif internal is not None and internal not in ("Cluster", "Local"):
        errors.not_supported("spec.internalTrafficPolicy", internal, ("Cluster", "Local"))


def _validate_service_update(errors: _Errors, obj: Obj, old: Obj) -> None:
    spec, old_spec = _d(obj.get("spec")), _d(old.get("spec"))
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return
    if _is_headless(spec) and _is_headless(old_spec):
        return
    new_ips, old_ips = _lst(spec.get("clusterIPs")), _lst(old_spec.get("clusterIPs"))
    if len(old_ips) == len(new_ips):
        for i, address in enumerate(old_ips):
            if address != new_ips[i]:
                errors.invalid(_index("spec.clusterIPs", i), new_ips, "may not change once set")
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            errors.invalid("spec.clusterIPs[0]", new_ips, "primary clusterIP can not be unset")
        elif new_ips[0] != old_ips[0]:
            errors.invalid("spec.clusterIPs[0]", new_ips, "may not change once set")
    elif old_ips and new_ips[0] != old_ips[0]:
        errors.invalid("spec.clusterIPs[0]", new_ips, "may not change once set")


def _keep_allocated(obj: Obj, old: Obj) -> None:
    """What the real server copies from the stored Service when an update leaves it out."""
    spec, old_spec = obj.get("spec"), _d(old.get("spec"))
    if (
        not isinstance(spec, dict)
        or spec.get("type", "ClusterIP") == "ExternalName"
        or old_spec.get("type") == "ExternalName"
    ):
        return
    if not spec.get("clusterIP") and not spec.get("clusterIPs"):
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key in old_spec:
                spec[key] = copy.deepcopy(old_spec[key])
    old_ports = {
        (_str(p.get("protocol")) or "TCP", p.get("port")): p.get("nodePort")
        for p in map(_d, _lst(old_spec.get("ports")))
        if p.get("nodePort")
    }
    for port in map(_d, _lst(spec.get("ports"))):
        key = (_str(port.get("protocol")) or "TCP", port.get("port"))
        if not port.get("nodePort") and key in old_ports:
            port["nodePort"] = old_ports[key]


def _validate_config_data(errors: _Errors, obj: Obj, keys: tuple[str, ...]) -> None:
    for group in keys:
        for key in _d(obj.get(group)):
            for message in _config_key(key):
                errors.invalid(_key(group, key), key, message)


def _validate_config_map(errors: _Errors, obj: Obj) -> None:
    _validate_config_data(errors, obj, ("data", "binaryData"))
    data, binary = _d(obj.get("data")), _d(obj.get("binaryData"))
    for key in data:
        if key in binary:
            errors.invalid(_key("data", key), key, "duplicate of key present in binaryData")


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def _validate_secret(errors: _Errors, obj: Obj) -> None:
    _validate_config_data(errors, obj, ("data",))
    data, kind = _d(obj.get("data")), _str(obj.get("type"))
    for key in _SECRET_REQUIRED_KEYS.get(kind, ()):
        if key not in data:
            errors.required(_key("data", key))
    if kind == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        errors.required("data[username]")
        errors.required("data[password]")
    if kind == "kubernetes.io/ssh-auth" and not data.get("ssh-privatekey"):
        errors.required("data[ssh-privatekey]")
    if kind == "kubernetes.io/service-account-token":
        annotations = _d(_d(obj.get("metadata")).get("annotations"))
        if not annotations.get("kubernetes.io/service-account.name"):
            errors.required("metadata.annotations[kubernetes.io/service-account.name]")


def _validate_immutable_data(errors: _Errors, obj: Obj, old: Obj, keys: tuple[str, ...]) -> None:
    if old.get("immutable") is not True:
        return
    if obj.get("immutable") is not True:
        errors.forbidden("immutable", "field is immutable when `immutable` is set")
    for key in keys:
        if _d(obj.get(key)) != _d(old.get(key)):
            errors.forbidden(key, "field is immutable when `immutable` is set")


def _merge_string_data(obj: Obj) -> None:
    """A Secret's `stringData` is merged into `data` (base64) before validation and never stored."""
    string_data = obj.pop("stringData", None)
    if not isinstance(string_data, dict) or not string_data:
        return
    data = obj.get("data")
    if not isinstance(data, dict):
        data = obj["data"] = {}
    for key, value in string_data.items():
        data[key] = base64.b64encode(_str(value).encode()).decode()


def _validate_namespace(errors: _Errors, obj: Obj) -> None:
    for i, finalizer in enumerate(_lst(_d(obj.get("spec")).get("finalizers"))):
        for message in label_key(_str(finalizer)):
            errors.invalid(_index("spec.finalizers", i), finalizer, message)


def _validate_crd(errors: _Errors, obj: Obj) -> None:
    meta, spec = _d(obj.get("metadata")), _d(obj.get("spec"))
    names = _d(spec.get("names"))
    group, plural = _str(spec.get("group")), _str(names.get("plural"))
    name = _str(meta.get("name"))
    if name and name != f"{plural}.{group}":
        errors.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
    if not group:
        errors.required("spec.group")
    elif "." not in group:
        errors.invalid("spec.group", group, "should be a domain with at least one dot")
    scope = _str(spec.get("scope"))
    if scope not in ("Cluster", "Namespaced"):
        if scope:
            errors.not_supported("spec.scope", scope, ("Cluster", "Namespaced"))
        else:
            errors.required("spec.scope")
    for key in ("plural", "kind"):
        if not _str(names.get(key)):
            errors.required(f"spec.names.{key}")
    versions = _lst(spec.get("versions"))
    if not versions:
        errors.required("spec.versions", "must have exactly one version marked as storage version")
    for i, version in enumerate(versions):
        schema = _d(_d(version).get("schema")).get("openAPIV3Schema")
        if schema is None:
            errors.required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required")


# =========================================================================================================
# Updates: the rules that compare the new object with the stored one


def _selector_or_null(spec: Obj) -> Any:
    selector = spec.get("selector")
    return None if selector is None else _selector_value(_d(selector))


def _immutable_selector(errors: _Errors, obj: Obj, old: Obj) -> None:
    spec, old_spec = _d(obj.get("spec")), _d(old.get("spec"))
    new, before = _selector_or_null(spec), _selector_or_null(old_spec)
    if _normalized(new) != _normalized(before):
        errors.invalid("spec.selector", new, IMMUTABLE)


_STATEFUL_SET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def _stateful_set_update(errors: _Errors, obj: Obj, old: Obj) -> None:
    spec, old_spec = _d(obj.get("spec")), _d(old.get("spec"))
    frozen = {key: value for key, value in spec.items() if key not in _STATEFUL_SET_MUTABLE}
    old_frozen = {key: value for key, value in old_spec.items() if key not in _STATEFUL_SET_MUTABLE}
    if _normalized(frozen) != _normalized(old_frozen):
        allowed = ", ".join(f"'{key}'" for key in _STATEFUL_SET_MUTABLE[:-1])
        errors.forbidden(
            "spec",
            f"updates to statefulset spec for fields other than {allowed} and "
            f"'{_STATEFUL_SET_MUTABLE[-1]}' are forbidden",
        )


def _job_update(errors: _Errors, obj: Obj, old: Obj) -> None:
    spec, old_spec = _d(obj.get("spec")), _d(old.get("spec"))
    errors.immutable("spec.completions", spec.get("completions"), old_spec.get("completions"))
    _immutable_selector(errors, obj, old)
    errors.immutable("spec.template", spec.get("template"), old_spec.get("template"))


def _config_map_update(errors: _Errors, obj: Obj, old: Obj) -> None:
    _validate_immutable_data(errors, obj, old, ("data", "binaryData"))


def _secret_update(errors: _Errors, obj: Obj, old: Obj) -> None:
    errors.immutable("type", _str(obj.get("type")), _str(old.get("type")))
    _validate_immutable_data(errors, obj, old, ("data",))


def _crd_update(errors: _Errors, obj: Obj, old: Obj) -> None:
    spec, old_spec = _d(obj.get("spec")), _d(old.get("spec"))
    errors.immutable("spec.scope", _str(spec.get("scope")), _str(old_spec.get("scope")))
    errors.immutable("spec.group", _str(spec.get("group")), _str(old_spec.get("group")))


# =========================================================================================================
# The rule table and the entry point


Check = Callable[[_Errors, Obj], None]
UpdateCheck = Callable[[_Errors, Obj, Obj], None]


@dataclass(frozen=True)
class _KindRules:
    name: NameRule = dns1123_subdomain
    check: Check | None = None
    update: UpdateCheck | None = None
    update_first: bool = False  # the update rules come before the object's own rules


def _validate_pod(errors: _Errors, obj: Obj) -> None:
    _validate_pod_spec(errors, _d(obj.get("spec")), "spec")


_RBAC = "rbac.authorization.k8s.io"
_KINDS: dict[tuple[str, str], _KindRules] = {
    ("", "Pod"): _KindRules(check=_validate_pod, update=_validate_pod_update),
    ("", "Service"): _KindRules(dns1035_label, _validate_service, _validate_service_update, update_first=True),
    ("", "ConfigMap"): _KindRules(check=_validate_config_map, update=_config_map_update, update_first=True),
    ("", "Secret"): _KindRules(check=_validate_secret, update=_secret_update, update_first=True),
    ("", "Namespace"): _KindRules(dns1123_label, _validate_namespace),
    ("", "ServiceAccount"): _KindRules(check=lambda errors, obj: None),
    ("apps", "Deployment"): _KindRules(check=_validate_deployment, update=_immutable_selector),
    ("apps", "ReplicaSet"): _KindRules(check=_validate_replica_set, update=_immutable_selector),
    ("apps", "StatefulSet"): _KindRules(dns1123_label, _validate_stateful_set, _stateful_set_update),
    ("apps", "DaemonSet"): _KindRules(check=_validate_daemon_set, update=_immutable_selector),
    ("batch", "Job"): _KindRules(check=_validate_job, update=_job_update),
    ("batch", "CronJob"): _KindRules(check=_validate_cron_job),
    (_RBAC, "Role"): _KindRules(path_segment_name),
    (_RBAC, "RoleBinding"): _KindRules(path_segment_name),
    (_RBAC, "ClusterRole"): _KindRules(path_segment_name),
    (_RBAC, "ClusterRoleBinding"): _KindRules(path_segment_name),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _KindRules(check=_validate_crd, update=_crd_update),
}


def _field_validation_mode(value: str | None, updating: bool) -> str:
    if value in (None, ""):
        return "Warn"
    if value in FIELD_VALIDATION_MODES:
        return value
    errors = _Errors()
    errors.not_supported("fieldValidation", value, ("", "Ignore", "Strict", "Warn"))
    raise Invalid("UpdateOptions" if updating else "CreateOptions", "meta.k8s.io", "", errors.causes)


def _prepare_update(obj: Obj, old: Obj, rtype: ResourceType) -> None:
    """Carry over what the real server keeps from the stored object before validating an update."""
    meta, old_meta = obj.get("metadata"), _d(old.get("metadata"))
    if isinstance(meta, dict):
        for key in ("uid", "creationTimestamp"):
            if not meta.get(key) and old_meta.get(key):
                meta[key] = old_meta[key]
    if obj.get("status") is None and old.get("status") is not None:
        obj["status"] = copy.deepcopy(old["status"])
    if rtype.is_custom:
        return
    if (rtype.group, rtype.kind) == ("", "Service"):
        _keep_allocated(obj, old)
    elif (rtype.group, rtype.kind) == ("", "Namespace"):
        for key in ("spec", "status"):
            if key in old:
                obj[key] = copy.deepcopy(old[key])


def _semantic_errors(obj: Obj, old: Obj | None, rtype: ResourceType, missing: list[str]) -> list[Cause]:
    errors = _Errors()
    meta = _d(obj.get("metadata"))
    rules = _KindRules() if rtype.is_custom else _KINDS.get((rtype.group, rtype.kind), _KindRules())
    if old is None:
        _validate_meta(errors, meta, namespaced=rtype.namespaced, name_rule=rules.name)
    else:
        _validate_meta_update(errors, meta, _d(old.get("metadata")))
    if old is not None and rules.update is not None and rules.update_first:
        rules.update(errors, obj, old)
    if rtype.is_custom:
        checker = _SchemaChecker(errors)
        checker.check(obj, rtype.crd_schema, "")
        errors.causes.extend(checker.list_errors.causes)
    elif rules.check is not None:
        rules.check(errors, obj)
    else:
        for path in missing:
            errors.required(path)
    if old is not None and rules.update is not None and not rules.update_first:
        rules.update(errors, obj, old)
    return errors.causes


def validate(
    obj: Obj,
    rtype: ResourceType,
    *,
    old: Obj | None = None,
    field_validation: str | None = None,
    duplicate_fields: Collection[str] = (),
) -> tuple[Obj, list[str]]:
    """Check `obj` as the real server would on create (`old` is None) or update (`old` is the stored object).

    Returns the object as the server stores it (unknown fields pruned, defaults applied) and the warnings to
    send as `Warning: 299 - "..."` headers. `field_validation` is the request's `fieldValidation` parameter
    (`Strict`, `Warn`, `Ignore`; empty means `Warn` as on the real server); `duplicate_fields` are the paths
    `decode_json` found. Raises `BadRequest` (400) or `Invalid` (422).
    """
    mode = _field_validation_mode(field_validation, old is not None)
    try:
        return _validate(obj, rtype, old, mode, duplicate_fields)
    except RecursionError:
        raise BadRequest(_decode_prefix(rtype) + "the object is nested too deeply") from None


def _validate(
    obj: Any, rtype: ResourceType, old: Any, mode: str, duplicate_fields: Collection[str]
) -> tuple[Obj, list[str]]:
    if rtype.is_custom:
        decoded, strict = _decode_custom(obj, rtype, duplicate_fields)
        missing: list[str] = []
    else:
        decoded, strict, missing = _decode_builtin(obj, rtype, duplicate_fields)
    if not isinstance(decoded, dict):
        raise BadRequest(
            _decode_prefix(rtype) + f"json: cannot unmarshal {_json_kind(decoded)} into Go value of type {rtype.kind}"
        )
    warnings: list[str] = []
    if strict and mode == "Strict":
        raise BadRequest(_decode_prefix(rtype) + "strict decoding error: " + ", ".join(strict))
    if mode == "Warn":
        warnings = strict
    meta = decoded.get("metadata")
    if not rtype.namespaced and isinstance(meta, dict):
        meta.pop("namespace", None)
    if (rtype.group, rtype.kind) == ("", "Secret"):
        _merge_string_data(decoded)
    old = old if isinstance(old, dict) else None
    if old is not None:
        _prepare_update(decoded, old, rtype)
    result = apply_defaults(decoded, rtype)
    causes = _semantic_errors(result, old, rtype, missing)
    if causes:
        raise Invalid(rtype.kind, rtype.group, _str(_d(result.get("metadata")).get("name")), causes)
    return result, warnings
