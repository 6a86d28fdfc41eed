"""Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for and prints as it is.

kubectl renders whatever columns and cells the server sends, so `get`, `get -o wide`, `get -A`,
`--show-labels` and `get -w` look like a real cluster only when these columns and cell strings match the real
printers: the built-in kinds' printers, the generic "Created At" printer for kinds without one, and a CRD's
`additionalPrinterColumns` evaluated with Kubernetes JSONPath.

Like the real server, every printer fills every column, wide ones included; kubectl hides priority-1 columns
unless `-o wide`.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from . import schemas
from .gofmt import go_float, html_safe
from .resources import ResourceType
from .status import ApiError

TABLE_API_VERSION = "meta.k8s.io/v1"
INCLUDE_OBJECT = "Object"
INCLUDE_METADATA = "Metadata"
INCLUDE_NONE = "None"

JSON = dict[str, Any]
Cell = str | int | float | bool | None


class TableError(ApiError):
    """A Table cannot be built: a bad request option (400) or a stored object of the wrong shape (500)."""


def _bad_request(message: str) -> TableError:
    return TableError(400, "BadRequest", message)


def _internal(message: str) -> TableError:
    return TableError(500, "InternalError", f"Internal error occurred: {message}")


class _Malformed(Exception):
    """A field of a stored object has the wrong shape; `_row` reports it with the object's name."""


# ----------------------------------------------------------------------------------------------------
# Public entry point


def table(
    rtype: ResourceType,
    objects: list[JSON],
    *,
    now: datetime,
    include_object: str = INCLUDE_METADATA,
    resource_version: str = "",
    continue_token: str = "",
    no_headers: bool = False,
) -> JSON:
    """The Table the real server answers for `objects` of `rtype` at time `now`.

    `include_object` is the `includeObject` query parameter: "Object" embeds each object, "Metadata" (also the
    meaning of "", the server's default) a PartialObjectMetadata, "None" nothing.
    """
    if include_object not in ("", INCLUDE_OBJECT, INCLUDE_METADATA, INCLUDE_NONE):
        raise _bad_request(f"unrecognized includeObject value: {_go_quote(include_object)}")
    if not isinstance(objects, list):
        raise _internal(f"cannot print {rtype.plural}: expected a list of objects")
    moment = now if now.tzinfo else now.replace(tzinfo=UTC)
    printer = printer_for(rtype)
    rows = [_row(rtype, printer, obj, moment, include_object) for obj in objects]
    metadata: JSON = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": TABLE_API_VERSION,
        "metadata": metadata,
        "columnDefinitions": None if no_headers else [column.definition() for column in printer.columns],
        "rows": rows,
    }


def human_duration(delta: timedelta) -> str:
    """A duration as `kubectl get` shows ages, to 2-3 significant figures: `45s`, `3m2s`, `5h`, `2d3h`."""
    micros = delta // timedelta(microseconds=1)
    seconds = _trunc_div(micros, 1_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = divmod(hours // 24, 365)
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def _trunc_div(numerator: int, denominator: int) -> int:
    """Integer division rounding toward zero, as Go converts a negative duration to whole seconds."""
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


# ----------------------------------------------------------------------------------------------------
# Columns and printers


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str = ""
    priority: int = 0
    format: str = ""

    def definition(self) -> JSON:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


RowFunction = Callable[[JSON, datetime], list[Cell]]


@dataclass(frozen=True)
class Printer:
    columns: tuple[Column, ...]
    cells: RowFunction
    conditions: Callable[[JSON], list[JSON]] | None = None


@functools.cache
def _doc(definition: str, field: str) -> str:
    """A field's description in the OpenAPI definitions: what the real columns describe themselves with."""
    props = schemas.definitions().get(definition, {}).get("properties", {})
    description = props.get(field, {}).get("description", "")
    return description if isinstance(description, str) else ""


_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_CORE = "io.k8s.api.core.v1"
_APPS = "io.k8s.api.apps.v1"
_BATCH = "io.k8s.api.batch.v1"
_RBAC = "io.k8s.api.rbac.v1"
_CONTAINERS_DOC = "Names of each container in the template."
_IMAGES_DOC = "Images referenced by each container in the template."


def _name_column(priority: int = 0) -> Column:
    return Column("Name", "string", _doc(_META, "name"), priority, "name")


def _age_column() -> Column:
    return Column("Age", "string", _doc(_META, "creationTimestamp"))


def _col(name: str, kind: str, doc: str | tuple[str, str], priority: int = 0) -> Column:
    description = _doc(*doc) if isinstance(doc, tuple) else doc
    return Column(name, kind, description, priority)


def _template_columns(selector_doc: tuple[str, str] | None) -> list[Column]:
    columns = [_col("Containers", "string", _CONTAINERS_DOC, 1), _col("Images", "string", _IMAGES_DOC, 1)]
    if selector_doc:
        columns.append(_col("Selector", "string", selector_doc, 1))
    return columns


def printer_for(rtype: ResourceType) -> Printer:
    """The printer the real server uses for this resource type."""
    if rtype.is_custom:
        return _custom_printer(rtype.printer_columns)
    builder = _BUILTIN_PRINTERS.get((rtype.group, rtype.kind))
    return builder() if builder else _default_printer()


def _row(rtype: ResourceType, printer: Printer, obj: Any, now: datetime, include_object: str) -> JSON:
    if not isinstance(obj, dict):
        raise _internal(f"cannot print {rtype.plural}: an item is not an object")
    try:
        cells = printer.cells(obj, now)
        conditions = printer.conditions(obj) if printer.conditions else []
    except (_Malformed, AttributeError, KeyError, TypeError, ValueError, IndexError) as err:
        raise _internal(f"cannot print {rtype.qualified} {_identity(obj)}: {err}") from err
    row: JSON = {"cells": cells}
    if conditions:
        row["conditions"] = conditions
    row["object"] = _row_object(rtype, obj, include_object)
    return row


def _identity(obj: JSON) -> str:
    meta = obj.get("metadata")
    name = meta.get("name", "") if isinstance(meta, dict) else ""
    return _go_quote(str(name))


def _row_object(rtype: ResourceType, obj: JSON, include_object: str) -> JSON | None:
    if include_object == INCLUDE_NONE:
        return None
    if include_object == INCLUDE_OBJECT:
        full = copy.deepcopy(obj)
        full.setdefault("kind", rtype.kind)
        full.setdefault("apiVersion", rtype.api_version)
        return full
    meta = obj.get("metadata")
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": TABLE_API_VERSION,
        "metadata": copy.deepcopy(meta) if isinstance(meta, dict) else {},
    }


# ----------------------------------------------------------------------------------------------------
# Reading objects: missing fields read as their zero value, fields of the wrong type are an error


def _map(obj: JSON, key: str) -> JSON:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Malformed(f"{key} must be an object")
    return value


def _maps(obj: JSON, key: str) -> list[JSON]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _Malformed(f"{key} must be a list of objects")
    return value


def _strings(obj: JSON, key: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Malformed(f"{key} must be a list of strings")
    return value


def _path(obj: JSON, *keys: str) -> JSON:
    for key in keys:
        obj = _map(obj, key)
    return obj


def _str(obj: JSON, key: str, default: str = "") -> str:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _Malformed(f"{key} must be a string")
    return value


def _int(obj: JSON, key: str, default: int = 0) -> int:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Malformed(f"{key} must be an integer")
    return int(value)


def _optional_int(obj: JSON, key: str) -> int | None:
    return None if obj.get(key) is None else _int(obj, key)


def _bool(obj: JSON, key: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _Malformed(f"{key} must be a boolean")
    return value


def _string_map(obj: JSON, key: str) -> dict[str, str]:
    value = _map(obj, key)
    if not all(isinstance(item, str) for item in value.values()):
        raise _Malformed(f"{key} must map strings to strings")
    return value


def _time(obj: JSON, key: str) -> datetime | None:
    """A timestamp field; None when unset (Go's zero time)."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{key} must be a timestamp string")
    parsed = _parse_rfc3339(value)
    if parsed is None:
        raise _Malformed(f"{key}: cannot parse {_go_quote(value)} as an RFC 3339 timestamp")
    return parsed


_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _parse_rfc3339(value: str) -> datetime | None:
    match = _RFC3339.match(value)
    if not match:
        return None
    fraction = (match.group(2) or "")[:7]
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    try:
        return datetime.fromisoformat(match.group(1) + fraction + zone)
    except ValueError:
        return None


def _since(moment: datetime | None, now: datetime) -> str:
    return human_duration(now - moment) if moment else "<unknown>"


def _age(obj: JSON, now: datetime) -> str:
    return _since(_time(_map(obj, "metadata"), "creationTimestamp"), now)


def _name(obj: JSON) -> str:
    return _str(_map(obj, "metadata"), "name")


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# ----------------------------------------------------------------------------------------------------
# Shared formatting


def _format_labels(labels: dict[str, str]) -> str:
    """`a=1,b=2` in key order, or `<none>`."""
    text = ",".join(f"{key}={labels[key]}" for key in sorted(labels))
    return text or "<none>"


def _selector_string(selector: Any) -> str | None:
    """A LabelSelector in selector syntax (`app=web,tier in (a,b)`); "" when it selects nothing or everything,
    None when it is invalid."""
    if selector is None:
        return ""
    if not isinstance(selector, dict):
        return None
    requirements: list[tuple[str, str]] = []
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, dict):
        return None
    for key, value in match_labels.items():
        requirements.append((key, f"{key}={value}"))
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        return None
    for expression in expressions:
        text = _expression_string(expression)
        if text is None:
            return None
        requirements.append((expression["key"], text))
    requirements.sort(key=lambda item: item[0])
    return ",".join(text for _, text in requirements)


def _expression_string(expression: Any) -> str | None:
    if not isinstance(expression, dict) or not isinstance(expression.get("key"), str):
        return None
    key, operator = expression["key"], expression.get("operator")
    values = expression.get("values") or []
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        return None
    if operator in ("In", "NotIn"):
        if not values:
            return None
        word = "in" if operator == "In" else "notin"
        return f"{key} {word} ({','.join(sorted(values))})"
    if operator in ("Exists", "DoesNotExist"):
        if values:
            return None
        return key if operator == "Exists" else f"!{key}"
    return None


def _format_label_selector(selector: Any) -> str:
    text = _selector_string(selector)
    if text is None:
        return "<error>"
    return text or "<none>"


def _container_cells(pod_spec: JSON) -> list[Cell]:
    containers = _maps(pod_spec, "containers")
    names = ",".join(_str(container, "name") for container in containers)
    images = ",".join(_str(container, "image") for container in containers)
    return [names, images]


def _pod_template_spec(obj: JSON) -> JSON:
    return _path(obj, "spec", "template", "spec")


def _list_with_more(items: list[str], total: int, limit: int = 3) -> str:
    text = ",".join(items[:limit])
    return f"{text} + {total - limit} more..." if total > limit else text


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _load_balancer(status: JSON) -> str:
    """The distinct IPs (or host names) of a load balancer status, sorted, comma-separated."""
    found = set()
    for ingress in _maps(_map(status, "loadBalancer"), "ingress"):
        address = _str(ingress, "ip") or _str(ingress, "hostname")
        if address:
            found.add(address)
    return ",".join(sorted(found))


# ----------------------------------------------------------------------------------------------------
# Core kinds


def _namespace_printer() -> Printer:
    columns = (_name_column(), _col("Status", "string", "The status of the namespace"), _age_column())

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        return [_name(obj), _str(_map(obj, "status"), "phase") or "Active", _age(obj, now)]

    return Printer(columns, cells)


_POD_SUCCEEDED = {
    "type": "Completed",
    "status": "True",
    "reason": "Succeeded",
    "message": "The pod has completed successfully.",
}
_POD_FAILED = {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}


def _pod_printer() -> Printer:
    columns = (
        _name_column(),
        _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        _col("Status", "string", "The aggregate status of the containers in this pod."),
        _col(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and "
            "when the last container in this pod has restarted.",
        ),
        _age_column(),
        _col("IP", "string", (f"{_CORE}.PodStatus", "podIP"), 1),
        _col("Node", "string", (f"{_CORE}.PodSpec", "nodeName"), 1),
        _col("Nominated Node", "string", (f"{_CORE}.PodStatus", "nominatedNodeName"), 1),
        _col("Readiness Gates", "string", (f"{_CORE}.PodSpec", "readinessGates"), 1),
    )

    def conditions(obj: JSON) -> list[JSON]:
        phase = _str(_map(obj, "status"), "phase")
        if phase == "Succeeded":
            return [dict(_POD_SUCCEEDED)]
        return [dict(_POD_FAILED)] if phase == "Failed" else []

    return Printer(columns, _pod_cells, conditions)


@dataclass
class _PodTally:
    """What the Pod printer accumulates while it walks the container statuses."""

    reason: str
    ready: int = 0
    restarts: int = 0
    last_restart: datetime | None = None
    sidecar_restarts: int = 0
    last_sidecar_restart: datetime | None = None


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or current < candidate else current


def _last_finish(container_status: JSON) -> datetime | None:
    terminated = _map(container_status, "lastState").get("terminated")
    if terminated is None:
        return None
    if not isinstance(terminated, dict):
        raise _Malformed("lastState.terminated must be an object")
    return _time(terminated, "finishedAt")


def _state(container_status: JSON, which: str) -> JSON | None:
    value = _map(container_status, "state").get(which)
    if value is not None and not isinstance(value, dict):
        raise _Malformed(f"state.{which} must be an object")
    return value


def _exit_reason(terminated: JSON, prefix: str) -> str:
    reason = _str(terminated, "reason")
    if reason:
        return prefix + reason
    signal = _int(terminated, "signal")
    if signal:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{_int(terminated, 'exitCode')}"


def _has_condition(conditions: list[JSON], kind: str) -> bool:
    return any(_str(c, "type") == kind and _str(c, "status") == "True" for c in conditions)


def _initialized(conditions: list[JSON]) -> bool:
    for condition in conditions:
        if _str(condition, "type") == "Initialized":
            return _str(condition, "status") == "True"
    return False


def _walk_init_containers(spec: JSON, status: JSON, tally: _PodTally) -> bool:
    """Count init container restarts and readiness; True while the pod is still initializing."""
    init_specs = _maps(spec, "initContainers")
    sidecars = {_str(c, "name") for c in init_specs if _str(c, "restartPolicy") == "Always"}
    for index, container in enumerate(_maps(status, "initContainerStatuses")):
        count, finished = _int(container, "restartCount"), _last_finish(container)
        tally.restarts += count
        tally.last_restart = _later(tally.last_restart, finished)
        sidecar = _str(container, "name") in sidecars
        if sidecar:
            tally.sidecar_restarts += count
            tally.last_sidecar_restart = _later(tally.last_sidecar_restart, finished)
        terminated, waiting = _state(container, "terminated"), _state(container, "waiting")
        if terminated is not None and _int(terminated, "exitCode") == 0:
            continue
        if sidecar and container.get("started") is True:
            tally.ready += 1 if _bool(container, "ready") else 0
            continue
        if terminated is not None:
            tally.reason = _exit_reason(terminated, "Init:")
        elif waiting is not None and _str(waiting, "reason") not in ("", "PodInitializing"):
            tally.reason = "Init:" + _str(waiting, "reason")
        else:
            tally.reason = f"Init:{index}/{len(init_specs)}"
        return True
    return False


def _walk_containers(status: JSON, tally: _PodTally) -> None:
    tally.restarts, tally.last_restart = tally.sidecar_restarts, tally.last_sidecar_restart
    has_running = False
    for container in reversed(_maps(status, "containerStatuses")):
        tally.restarts += _int(container, "restartCount")
        tally.last_restart = _later(tally.last_restart, _last_finish(container))
        waiting, terminated = _state(container, "waiting"), _state(container, "terminated")
        if waiting is not None and _str(waiting, "reason"):
            tally.reason = _str(waiting, "reason")
        elif terminated is not None:
            tally.reason = _exit_reason(terminated, "")
        elif _bool(container, "ready") and _state(container, "running") is not None:
            has_running = True
            tally.ready += 1
    if tally.reason == "Completed" and has_running:
        ready = _has_condition(_maps(status, "conditions"), "Ready")
        tally.reason = "Running" if ready else "NotReady"


def _pod_cells(pod: JSON, now: datetime) -> list[Cell]:
    spec, status, meta = _map(pod, "spec"), _map(pod, "status"), _map(pod, "metadata")
    phase = _str(status, "phase")
    tally = _PodTally(reason=_str(status, "reason") or phase)
    conditions = _maps(status, "conditions")
    if any(_str(c, "type") == "PodScheduled" and _str(c, "reason") == "SchedulingGated" for c in conditions):
        tally.reason = "SchedulingGated"
    initializing = _walk_init_containers(spec, status, tally)
    if not initializing or _initialized(conditions):
        _walk_containers(status, tally)
    deleting = meta.get("deletionTimestamp") is not None
    if deleting and _str(status, "reason") == "NodeLost":
        tally.reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        tally.reason = "Terminating"
    restarts = str(tally.restarts)
    if tally.restarts and tally.last_restart:
        restarts = f"{tally.restarts} ({_since(tally.last_restart, now)} ago)"
    sidecars = sum(1 for c in _maps(spec, "initContainers") if _str(c, "restartPolicy") == "Always")
    total = len(_maps(spec, "containers")) + sidecars
    cells: list[Cell] = [_name(pod), f"{tally.ready}/{total}", tally.reason, restarts, _age(pod, now)]
    return cells + _pod_wide_cells(spec, status)


def _pod_wide_cells(spec: JSON, status: JSON) -> list[Cell]:
    pod_ips = _maps(status, "podIPs")
    ip = _str(pod_ips[0], "ip") if pod_ips else _str(status, "podIP")
    gates = "<none>"
    readiness_gates = _maps(spec, "readinessGates")
    if readiness_gates:
        conditions = _maps(status, "conditions")
        passed = sum(1 for gate in readiness_gates if _gate_true(_str(gate, "conditionType"), conditions))
        gates = f"{passed}/{len(readiness_gates)}"
    return [
        ip or "<none>",
        _str(spec, "nodeName") or "<none>",
        _str(status, "nominatedNodeName") or "<none>",
        gates,
    ]


def _gate_true(condition_type: str, conditions: list[JSON]) -> bool:
    for condition in conditions:
        if _str(condition, "type") == condition_type:
            return _str(condition, "status") == "True"
    return False


def _service_printer() -> Printer:
    spec_doc = f"{_CORE}.ServiceSpec"
    columns = (
        _name_column(),
        _col("Type", "string", (spec_doc, "type")),
        _col("Cluster-IP", "string", (spec_doc, "clusterIP")),
        _col("External-IP", "string", (spec_doc, "externalIPs")),
        _col("Port(s)", "string", (spec_doc, "ports")),
        _age_column(),
        _col("Selector", "string", (spec_doc, "selector"), 1),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        spec = _map(obj, "spec")
        cluster_ips = _strings(spec, "clusterIPs") or [ip for ip in [_str(spec, "clusterIP")] if ip]
        return [
            _name(obj),
            _str(spec, "type") or "ClusterIP",
            cluster_ips[0] if cluster_ips else "<none>",
            _external_ip(spec, _map(obj, "status")),
            _service_ports(spec) or "<none>",
            _age(obj, now),
            _format_labels(_string_map(spec, "selector")),
        ]

    return Printer(columns, cells)


def _external_ip(spec: JSON, status: JSON) -> str:
    service_type = _str(spec, "type") or "ClusterIP"
    external = _strings(spec, "externalIPs")
    if service_type in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if service_type == "LoadBalancer":
        balancer = _load_balancer(status)
        addresses = (balancer.split(",") if balancer else []) + external
        return ",".join(addresses) or "<pending>"
    if service_type == "ExternalName":
        return _str(spec, "externalName")
    return "<unknown>"


def _service_ports(spec: JSON) -> str:
    pieces = []
    for port in _maps(spec, "ports"):
        number, node_port = _int(port, "port"), _int(port, "nodePort")
        protocol = _str(port, "protocol") or "TCP"
        pieces.append(f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}")
    return ",".join(pieces)


def _endpoints_printer() -> Printer:
    columns = (_name_column(), _col("Endpoints", "string", (f"{_CORE}.Endpoints", "subsets")), _age_column())

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        return [_name(obj), _format_endpoints(_maps(obj, "subsets")), _age(obj, now)]

    return Printer(columns, cells)


def _format_endpoints(subsets: list[JSON]) -> str:
    """Up to three `ip:port` pairs, then `+ N more...`; plain IPs for subsets without ports."""
    if not subsets:
        return "<none>"
    shown: list[str] = []
    total = 0
    for subset in subsets:
        ips = [_str(address, "ip") for address in _maps(subset, "addresses")]
        ports = _maps(subset, "ports")
        if not ports:
            total += len(ips)
            shown.extend(ips[: max(0, 3 - len(shown))])
            continue
        for port in ports:
            total += len(ips)
            room = max(0, 3 - len(shown))
            shown.extend(_host_port(ip, _int(port, "port")) for ip in ips[:room])
    return _list_with_more(shown, total)


def _endpoint_slice_printer() -> Printer:
    slice_doc = "io.k8s.api.discovery.v1.EndpointSlice"
    columns = (
        _name_column(),
        _col("AddressType", "string", (slice_doc, "addressType")),
        _col("Ports", "string", (slice_doc, "ports")),
        _col("Endpoints", "string", (slice_doc, "endpoints")),
        _age_column(),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        ports = [_slice_port(port) for port in _maps(obj, "ports")]
        addresses = [address for endpoint in _maps(obj, "endpoints") for address in _strings(endpoint, "addresses")]
        return [
            _name(obj),
            _str(obj, "addressType"),
            _list_or_unset(ports),
            _list_or_unset(addresses),
            _age(obj, now),
        ]

    return Printer(columns, cells)


def _slice_port(port: JSON) -> str:
    """The port number, else its name, else `*` (a slice port may leave both unset)."""
    number = _optional_int(port, "port")
    if number is not None:
        return str(number)
    return _str(port, "name") or "*"


def _list_or_unset(items: list[str]) -> str:
    """Up to three items, then `+ N more...`; `<unset>` when there are none, as the EndpointSlice columns read."""
    return _list_with_more(items, len(items)) if items else "<unset>"


def _configmap_printer() -> Printer:
    columns = (_name_column(), _col("Data", "string", (f"{_CORE}.ConfigMap", "data")), _age_column())

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        return [_name(obj), len(_map(obj, "data")) + len(_map(obj, "binaryData")), _age(obj, now)]

    return Printer(columns, cells)


def _secret_printer() -> Printer:
    columns = (
        _name_column(),
        _col("Type", "string", (f"{_CORE}.Secret", "type")),
        _col("Data", "string", (f"{_CORE}.Secret", "data")),
        _age_column(),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        keys = set(_map(obj, "data")) | set(_map(obj, "stringData"))
        return [_name(obj), _str(obj, "type") or "Opaque", len(keys), _age(obj, now)]

    return Printer(columns, cells)


def _service_account_printer() -> Printer:
    secrets = _col("Secrets", "string", (f"{_CORE}.ServiceAccount", "secrets"))
    columns = (_name_column(), secrets, _age_column())

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        return [_name(obj), len(_maps(obj, "secrets")), _age(obj, now)]

    return Printer(columns, cells)


def _event_printer() -> Printer:
    event = f"{_CORE}.Event"
    columns = (
        _col("Last Seen", "string", (event, "lastTimestamp")),
        _col("Type", "string", (event, "type")),
        _col("Reason", "string", (event, "reason")),
        _col("Object", "string", (event, "involvedObject")),
        _col("Subobject", "string", (f"{_CORE}.ObjectReference", "fieldPath"), 1),
        _col("Source", "string", (event, "source"), 1),
        _col("Message", "string", (event, "message")),
        _col("First Seen", "string", (event, "firstTimestamp"), 1),
        _col("Count", "string", (event, "count"), 1),
        _name_column(priority=1),
    )
    return Printer(columns, _event_cells)


def _event_cells(obj: JSON, now: datetime) -> list[Cell]:
    first_time = _time(obj, "firstTimestamp") or _time(obj, "eventTime")
    first = _since(first_time, now)
    last_time = _time(obj, "lastTimestamp")
    last = _since(last_time, now) if last_time else first
    count = _int(obj, "count")
    series = obj.get("series")
    if series is not None:
        if not isinstance(series, dict):
            raise _Malformed("series must be an object")
        last = _since(_time(series, "lastObservedTime"), now)
        count = _int(series, "count")
    elif count == 0:
        count = 1
    involved = _map(obj, "involvedObject")
    kind, name = _str(involved, "kind").lower(), _str(involved, "name")
    source = _map(obj, "source")
    component = _str(source, "component") or _str(obj, "reportingComponent")
    instance = _str(source, "host") or _str(obj, "reportingInstance")
    return [
        last,
        _str(obj, "type"),
        _str(obj, "reason"),
        f"{kind}/{name}" if name else kind,
        _str(involved, "fieldPath"),
        f"{component}, {instance}" if instance else component,
        _str(obj, "message").strip(),
        first,
        count,
        _name(obj),
    ]


_ROLE_PREFIX = "node-role.kubernetes.io/"


def _node_printer() -> Printer:
    info = f"{_CORE}.NodeSystemInfo"
    columns = (
        _name_column(),
        _col("Status", "string", "The status of the node"),
        _col("Roles", "string", "The roles of the node"),
        _age_column(),
        _col("Version", "string", (info, "kubeletVersion")),
        _col("Internal-IP", "string", (f"{_CORE}.NodeStatus", "addresses"), 1),
        _col("External-IP", "string", (f"{_CORE}.NodeStatus", "addresses"), 1),
        _col("OS-Image", "string", (info, "osImage"), 1),
        _col("Kernel-Version", "string", (info, "kernelVersion"), 1),
        _col("Container-Runtime", "string", (info, "containerRuntimeVersion"), 1),
    )
    return Printer(columns, _node_cells)


def _node_cells(obj: JSON, now: datetime) -> list[Cell]:
    status, spec = _map(obj, "status"), _map(obj, "spec")
    latest = {_str(c, "type"): _str(c, "status") for c in _maps(status, "conditions")}
    states = []
    if "Ready" in latest:
        states.append("Ready" if latest["Ready"] == "True" else "NotReady")
    else:
        states.append("Unknown")
    if _bool(spec, "unschedulable"):
        states.append("SchedulingDisabled")
    info = _map(status, "nodeInfo")
    return [
        _name(obj),
        ",".join(states),
        ",".join(_node_roles(_string_map(_map(obj, "metadata"), "labels"))) or "<none>",
        _age(obj, now),
        _str(info, "kubeletVersion"),
        _node_address(status, "InternalIP"),
        _node_address(status, "ExternalIP"),
        _str(info, "osImage") or "<unknown>",
        _str(info, "kernelVersion") or "<unknown>",
        _str(info, "containerRuntimeVersion") or "<unknown>",
    ]


def _node_roles(labels: dict[str, str]) -> list[str]:
    roles = set()
    for key, value in labels.items():
        if key.startswith(_ROLE_PREFIX) and key[len(_ROLE_PREFIX) :]:
            roles.add(key[len(_ROLE_PREFIX) :])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return sorted(roles)


def _node_address(status: JSON, kind: str) -> str:
    for address in _maps(status, "addresses"):
        if _str(address, "type") == kind:
            return _str(address, "address")
    return "<none>"


# ----------------------------------------------------------------------------------------------------
# Workloads


def _deployment_printer() -> Printer:
    status_doc = f"{_APPS}.DeploymentStatus"
    columns = (
        _name_column(),
        _col("Ready", "string", "Number of the pod with ready state"),
        _col("Up-to-date", "string", (status_doc, "updatedReplicas")),
        _col("Available", "string", (status_doc, "availableReplicas")),
        _age_column(),
        *_template_columns((f"{_APPS}.DeploymentSpec", "selector")),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        spec, status = _map(obj, "spec"), _map(obj, "status")
        selector = _selector_string(spec.get("selector"))
        return [
            _name(obj),
            f"{_int(status, 'readyReplicas')}/{_int(spec, 'replicas', 1)}",
            _int(status, "updatedReplicas"),
            _int(status, "availableReplicas"),
            _age(obj, now),
            *_container_cells(_pod_template_spec(obj)),
            "<invalid>" if selector is None else selector,
        ]

    return Printer(columns, cells)


def _replicaset_printer() -> Printer:
    columns = (
        _name_column(),
        _col("Desired", "integer", (f"{_APPS}.ReplicaSetSpec", "replicas")),
        _col("Current", "integer", (f"{_APPS}.ReplicaSetStatus", "replicas")),
        _col("Ready", "integer", (f"{_APPS}.ReplicaSetStatus", "readyReplicas")),
        _age_column(),
        *_template_columns((f"{_APPS}.ReplicaSetSpec", "selector")),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        spec, status = _map(obj, "spec"), _map(obj, "status")
        return [
            _name(obj),
            _int(spec, "replicas", 1),
            _int(status, "replicas"),
            _int(status, "readyReplicas"),
            _age(obj, now),
            *_container_cells(_pod_template_spec(obj)),
            _format_label_selector(spec.get("selector")),
        ]

    return Printer(columns, cells)


def _statefulset_printer() -> Printer:
    columns = (
        _name_column(),
        _col("Ready", "string", "Number of the pod with ready state"),
        _age_column(),
        *_template_columns(None),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        spec, status = _map(obj, "spec"), _map(obj, "status")
        ready = f"{_int(status, 'readyReplicas')}/{_int(spec, 'replicas', 1)}"
        return [_name(obj), ready, _age(obj, now), *_container_cells(_pod_template_spec(obj))]

    return Printer(columns, cells)


def _daemonset_printer() -> Printer:
    status_doc = f"{_APPS}.DaemonSetStatus"
    columns = (
        _name_column(),
        _col("Desired", "integer", (status_doc, "desiredNumberScheduled")),
        _col("Current", "integer", (status_doc, "currentNumberScheduled")),
        _col("Ready", "integer", (status_doc, "numberReady")),
        _col("Up-to-date", "integer", (status_doc, "updatedNumberScheduled")),
        _col("Available", "integer", (status_doc, "numberAvailable")),
        _col("Node Selector", "string", (f"{_CORE}.PodSpec", "nodeSelector")),
        _age_column(),
        *_template_columns((f"{_APPS}.DaemonSetSpec", "selector")),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        spec, status, pod_spec = _map(obj, "spec"), _map(obj, "status"), _pod_template_spec(obj)
        counts = (
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberReady",
            "updatedNumberScheduled",
            "numberAvailable",
        )
        return [
            _name(obj),
            *(_int(status, key) for key in counts),
            _format_labels(_string_map(pod_spec, "nodeSelector")),
            _age(obj, now),
            *_container_cells(pod_spec),
            _format_label_selector(spec.get("selector")),
        ]

    return Printer(columns, cells)


def _job_printer() -> Printer:
    columns = (
        _name_column(),
        _col("Status", "string", "Status of the job."),
        _col("Completions", "string", (f"{_BATCH}.JobStatus", "succeeded")),
        _col("Duration", "string", "Time required to complete the job."),
        _age_column(),
        *_template_columns((f"{_BATCH}.JobSpec", "selector")),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        spec, status = _map(obj, "spec"), _map(obj, "status")
        return [
            _name(obj),
            _job_status(obj, status),
            _job_completions(spec, status),
            _job_duration(status, now),
            _age(obj, now),
            *_container_cells(_pod_template_spec(obj)),
            _format_label_selector(spec.get("selector")),
        ]

    return Printer(columns, cells)


def _job_completions(spec: JSON, status: JSON) -> str:
    succeeded = _int(status, "succeeded")
    completions, parallelism = _optional_int(spec, "completions"), _optional_int(spec, "parallelism")
    if completions is None and parallelism is None:
        completions = 1
    if completions is not None:
        return f"{succeeded}/{completions}"
    if (parallelism or 0) > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def _job_duration(status: JSON, now: datetime) -> str:
    start = _time(status, "startTime")
    if start is None:
        return ""
    end = _time(status, "completionTime")
    return human_duration((end or now) - start)


def _job_status(obj: JSON, status: JSON) -> str:
    conditions = _maps(status, "conditions")
    if _job_condition(conditions, "Complete"):
        return "Complete"
    if _job_condition(conditions, "Failed"):
        return "Failed"
    if _map(obj, "metadata").get("deletionTimestamp") is not None:
        return "Terminating"
    if _job_condition(conditions, "Suspended"):
        return "Suspended"
    if _job_condition(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_condition(conditions: list[JSON], kind: str) -> bool:
    """Whether the first condition of this type is True (later duplicates do not count)."""
    for condition in conditions:
        if _str(condition, "type") == kind:
            return _str(condition, "status") == "True"
    return False


def _cronjob_printer() -> Printer:
    spec_doc, status_doc = f"{_BATCH}.CronJobSpec", f"{_BATCH}.CronJobStatus"
    columns = (
        _name_column(),
        _col("Schedule", "string", (spec_doc, "schedule")),
        _col("Timezone", "string", (spec_doc, "timeZone")),
        _col("Suspend", "boolean", (spec_doc, "suspend")),
        _col("Active", "integer", (status_doc, "active")),
        _col("Last Schedule", "string", (status_doc, "lastScheduleTime")),
        _age_column(),
        *_template_columns((f"{_BATCH}.JobSpec", "selector")),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        spec, status = _map(obj, "spec"), _map(obj, "status")
        job_spec = _path(spec, "jobTemplate", "spec")
        last = _time(status, "lastScheduleTime")
        return [
            _name(obj),
            _str(spec, "schedule"),
            _str(spec, "timeZone") or "<none>",
            "True" if _bool(spec, "suspend") else "False",
            len(_maps(status, "active")),
            _since(last, now) if last else "<none>",
            _age(obj, now),
            *_container_cells(_path(job_spec, "template", "spec")),
            _format_label_selector(job_spec.get("selector")),
        ]

    return Printer(columns, cells)


# ----------------------------------------------------------------------------------------------------
# Networking and RBAC


def _ingress_printer() -> Printer:
    columns = (
        _name_column(),
        _col(
            "Class",
            "string",
            "The name of the IngressClass resource that should be used for additional configuration",
        ),
        _col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
        _col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
        _col("Ports", "string", "Ports of TLS configurations that open"),
        _age_column(),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        spec = _map(obj, "spec")
        return [
            _name(obj),
            _str(spec, "ingressClassName") or "<none>",
            _ingress_hosts(_maps(spec, "rules")),
            _load_balancer(_map(obj, "status")),
            "80, 443" if _maps(spec, "tls") else "80",
            _age(obj, now),
        ]

    return Printer(columns, cells)


def _ingress_hosts(rules: list[JSON]) -> str:
    """Hosts of the first rules, `*` when none names a host; past three, `+ N more...` counts every rule."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        host = _str(rule, "host")
        if not more and host:
            hosts.append(host)
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def _binding_printer(kind: str) -> Printer:
    label = "roleBinding" if kind == "RoleBinding" else "clusterRoleBinding"
    columns = (
        _name_column(),
        _col("Role", "string", (f"{_RBAC}.{kind}", "roleRef")),
        _age_column(),
        _col("Users", "string", f"Users in the {label}", 1),
        _col("Groups", "string", f"Groups in the {label}", 1),
        _col("ServiceAccounts", "string", f"ServiceAccounts in the {label}", 1),
    )

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        ref = _map(obj, "roleRef")
        users, groups, accounts = [], [], []
        for subject in _maps(obj, "subjects"):
            subject_kind, name = _str(subject, "kind"), _str(subject, "name")
            if subject_kind == "ServiceAccount":
                accounts.append(f"{_str(subject, 'namespace')}/{name}")
            elif subject_kind == "User":
                users.append(name)
            elif subject_kind == "Group":
                groups.append(name)
        role = f"{_str(ref, 'kind')}/{_str(ref, 'name')}"
        return [_name(obj), role, _age(obj, now), ", ".join(users), ", ".join(groups), ", ".join(accounts)]

    return Printer(columns, cells)


def _default_printer() -> Printer:
    """What the real server prints for kinds without a printer of their own (Roles, CRDs)."""
    columns = (_name_column(), Column("Created At", "date", _doc(_META, "creationTimestamp")))

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        created = _time(_map(obj, "metadata"), "creationTimestamp")
        stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if created else "0001-01-01T00:00:00Z"
        return [_name(obj), stamp]

    return Printer(columns, cells)


_RBAC_GROUP = "rbac.authorization.k8s.io"
_BUILTIN_PRINTERS: dict[tuple[str, str], Callable[[], Printer]] = {
    ("", "Namespace"): _namespace_printer,
    ("", "Pod"): _pod_printer,
    ("", "Service"): _service_printer,
    ("", "Endpoints"): _endpoints_printer,
    ("", "ConfigMap"): _configmap_printer,
    ("", "Secret"): _secret_printer,
    ("", "ServiceAccount"): _service_account_printer,
    ("", "Event"): _event_printer,
    ("", "Node"): _node_printer,
    ("apps", "Deployment"): _deployment_printer,
    ("apps", "ReplicaSet"): _replicaset_printer,
    ("apps", "StatefulSet"): _statefulset_printer,
    ("apps", "DaemonSet"): _daemonset_printer,
    ("batch", "Job"): _job_printer,
    ("batch", "CronJob"): _cronjob_printer,
    ("networking.k8s.io", "Ingress"): _ingress_printer,
    ("discovery.k8s.io", "EndpointSlice"): _endpoint_slice_printer,
    (_RBAC_GROUP, "RoleBinding"): functools.partial(_binding_printer, "RoleBinding"),
    (_RBAC_GROUP, "ClusterRoleBinding"): functools.partial(_binding_printer, "ClusterRoleBinding"),
}


# ----------------------------------------------------------------------------------------------------
# Custom resources: additionalPrinterColumns


def _custom_printer(printer_columns: Iterable[dict[str, Any]]) -> Printer:
    """Name, then the CRD's printer columns (or Age when it declares none).

    A column whose JSONPath does not parse ends the list there, as the real server keeps the columns it built
    before the bad one.
    """
    declared = list(printer_columns) or [
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": _doc(_META, "creationTimestamp"),
        }
    ]
    columns: list[Column] = [_name_column()]
    paths: list[tuple[_Node, ...]] = []
    for spec in declared:
        parsed = _parse_column(spec)
        if parsed is None:
            break
        column, path = parsed
        columns.append(column)
        paths.append(path)

    def cells(obj: JSON, now: datetime) -> list[Cell]:
        values: list[Cell] = [_name(obj)]
        for column, path in zip(columns[1:], paths, strict=True):
            values.append(_custom_cell(column.type, path, obj, now))
        return values

    return Printer(tuple(columns), cells)


def _parse_column(spec: Any) -> tuple[Column, tuple[_Node, ...]] | None:
    if not isinstance(spec, dict):
        return None
    expression = spec.get("jsonPath")
    if not isinstance(expression, str):
        return None
    try:
        path = parse_jsonpath(expression)
    except JSONPathError:
        return None
    fallback = f"Custom resource definition column (in JSONPath format): {expression}"
    description = spec.get("description") or fallback
    priority = spec.get("priority") or 0
    column = Column(
        name=str(spec.get("name", "")),
        type=str(spec.get("type", "")),
        description=str(description),
        priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else 0,
        format=str(spec.get("format") or ""),
    )
    return column, path


def _custom_cell(column_type: str, path: tuple[_Node, ...], obj: JSON, now: datetime) -> Cell:
    try:
        results = _eval_list([obj], path)
    except _EvalError:
        return None
    if not results:
        return None
    value = results[0]
    if column_type == "string":
        return _print_value(value)
    if value is None:
        return None
    return _typed_cell(column_type, value, now)


def _typed_cell(column_type: str, value: Any, now: datetime) -> Cell:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if column_type == "integer" and numeric:
        return int(value) if value == value and abs(value) != float("inf") else None
    if column_type == "number" and numeric:
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        if value in ("", "null"):
            return "<unknown>"
        moment = _parse_rfc3339(value)
        return _since(moment, now) if moment else "<invalid>"
    return None


def _print_value(value: Any) -> str:
    """A JSONPath result as text: objects and lists as compact JSON, scalars as Go prints them."""
    if value is None:
        return "<no value>"
    if isinstance(value, dict | list):
        return _go_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def _go_json(value: Any) -> str:
    """Compact JSON with sorted keys, HTML-safe escapes and whole floats as integers, like Go's encoder."""
    text = json.dumps(_whole_floats(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return html_safe(text)


def _whole_floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _whole_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_floats(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


# ----------------------------------------------------------------------------------------------------
# Kubernetes JSONPath: the dialect `additionalPrinterColumns` are written in (and `kubectl -o jsonpath`).
# Missing keys yield no result; results keep the real evaluator's quirks (map values in key order, a numeric
# literal in a filter never equals an integer field, the first match is the one printed).


class JSONPathError(TableError):
    """A JSONPath expression that does not parse."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


class _EvalError(Exception):
    """Evaluation failed; `partial` is what the failing step was given, which a filter still compares."""

    def __init__(self, message: str, partial: list[Any]) -> None:
        super().__init__(message)
        self.partial = partial


@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Recursive:
    pass


@dataclass(frozen=True)
class _Slice:
    start: int | None
    end: int | None
    step: int | None
    end_derived: bool = False


@dataclass(frozen=True)
class _Union:
    branches: tuple[tuple[_Node, ...], ...]


@dataclass(frozen=True)
class _Filter:
    left: tuple[_Node, ...]
    operator: str
    right: tuple[_Node, ...]


@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _Identifier:
    name: str


_Node = _Field | _Wildcard | _Recursive | _Slice | _Union | _Filter | _Literal | _Identifier

_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_SLICE_RE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_DICT_KEY_RE = re.compile(r"^'([^']*)'$")
_FILTER_RE = re.compile(r"^([^!<>=]+)([!<>=]+)(.+?)$", re.DOTALL)


def parse_jsonpath(expression: str) -> tuple[_Node, ...]:
    """Parse a printer-column path such as `.status.conditions[?(@.type=="Ready")].status`."""
    return _JSONPathParser(expression).parse()


def jsonpath_values(expression: str, data: Any) -> list[Any]:
    """Every value `expression` selects in `data` (missing keys select nothing)."""
    try:
        return _eval_list([data], parse_jsonpath(expression))
    except _EvalError as err:
        raise JSONPathError(str(err)) from err


class _JSONPathParser:
    """Parses the inside of one `{...}` action, as the real parser does for a printer column."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.nodes: list[_Node] = []

    def parse(self) -> tuple[_Node, ...]:
        while self.pos < len(self.text):
            if self.text[self.pos] == "}":
                break
            self._step()
        return tuple(self.nodes)

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def _step(self) -> None:
        rest = self.text[self.pos :]
        if rest.startswith("[?("):
            self._filter()
        elif rest.startswith(".."):
            self._recursive()
        else:
            self._single(self.text[self.pos])

    def _single(self, char: str) -> None:
        if char in "\r\n":
            raise JSONPathError("unclosed action")
        if char in " @$":
            self.pos += 1
        elif char == "[":
            self._array()
        elif char in "\"'":
            self._quote(char)
        elif char == ".":
            self.pos += 1
            self._field()
        elif char in "+-" or char.isdigit():
            self._number()
        elif char == "_" or char.isalnum():
            self._identifier()
        else:
            raise JSONPathError(f"unrecognized character in action: {char!r}")

    def _field(self) -> None:
        start = self.pos
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if char in _TERMINATORS:
                break
            self.pos += 1
        raw = self.text[start : self.pos]
        self.nodes.append(_Wildcard() if raw == "*" else _Field(raw.replace("\\", "")))

    def _recursive(self) -> None:
        if self.nodes and isinstance(self.nodes[-1], _Recursive):
            raise JSONPathError("invalid multiple recursive descent")
        self.pos += 2
        self.nodes.append(_Recursive())
        if self._peek() == "_" or self._peek().isalnum():
            self._field()

    def _number(self) -> None:
        start = self.pos
        if self._peek() in "+-":
            self.pos += 1
        while self._peek() and (self._peek() == "." or self._peek().isdigit()):
            self.pos += 1
        text = self.text[start : self.pos]
        try:
            # An integer literal is compared as a float, like the real evaluator does.
            self.nodes.append(_Literal(float(int(text))))
        except ValueError:
            try:
                self.nodes.append(_Literal(float(text)))
            except ValueError:
                raise JSONPathError(f"cannot parse number {text}") from None

    def _identifier(self) -> None:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _TERMINATORS:
            self.pos += 1
        word = self.text[start : self.pos]
        if word in ("true", "false"):
            self.nodes.append(_Literal(word == "true"))
        else:
            self.nodes.append(_Identifier(word))

    def _quote(self, quote: str) -> None:
        start = self.pos
        self.pos += 1
        while True:
            char = self._peek()
            if char in ("", "\n"):
                raise JSONPathError("unterminated quoted string")
            self.pos += 1
            if char == quote and self.text[self.pos - 2] != "\\":
                break
        self.nodes.append(_Literal(_unquote(self.text[start + 1 : self.pos - 1])))

    def _array(self) -> None:
        end = self.pos
        while True:
            char = self.text[end] if end < len(self.text) else ""
            if char in ("", "\n"):
                raise JSONPathError("unterminated array")
            if char == "]":
                break
            end += 1
        inner = self.text[self.pos + 1 : end]
        self.pos = end + 1
        self.nodes.extend(_array_nodes("*" if inner == "*" else inner))

    def _filter(self) -> None:
        self.pos += 3
        start = self.pos
        begin = finished = False
        pair = ""
        while True:
            char = self._peek()
            if char in ("", "\n"):
                raise JSONPathError("unterminated filter")
            self.pos += 1
            if char in "\"'":
                if not begin:
                    begin, pair = True, char
                elif char == pair and self.text[self.pos - 2] != "\\":
                    finished = True
            elif char == ")" and begin == finished:
                break
        if self._peek() != "]":
            raise JSONPathError("unclosed array expect ]")
        self.pos += 1
        condition = self.text[start : self.pos - 2]
        match = _FILTER_RE.match(condition)
        if match is None:
            self.nodes.append(_Filter(_parse_action(condition), "exists", ()))
        else:
            left, operator, right = match.groups()
            self.nodes.append(_Filter(_parse_action(left), operator, _parse_action(right)))


def _parse_action(text: str) -> tuple[_Node, ...]:
    return _JSONPathParser(text).parse()


def _array_nodes(inner: str) -> list[_Node]:
    if inner == "*":
        inner = ":"
    parts = inner.split(",")
    if len(parts) > 1:
        return [_Union(tuple(_parse_action(f"[{part.strip(' ')}]") for part in parts))]
    key = _DICT_KEY_RE.match(inner)
    if key:
        return list(_parse_action("." + key.group(1)))
    match = _SLICE_RE.match(inner)
    if match is None:
        raise JSONPathError(f"invalid array index {inner}")
    start_text, end_text, step_text = match.group(1), match.group(2), match.group(3)
    start = int(start_text) if start_text not in ("", "-") else None
    if start_text == "-":
        raise JSONPathError(f"array index {start_text} is not a number")
    if end_text is None:
        return [_Slice(start, (start or 0) + 1, None, end_derived=True)]
    return [_Slice(start, _slice_bound(end_text), _slice_bound(step_text))]


def _slice_bound(text: str | None) -> int | None:
    if text is None or text == ":":
        return None
    try:
        return int(text[1:])
    except ValueError:
        raise JSONPathError(f"array index {text[1:]} is not a number") from None


_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def _unquote(body: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            nxt = body[index + 1]
            if nxt not in _ESCAPES:
                raise JSONPathError(f"unquote string {body} error invalid syntax")
            out.append(_ESCAPES[nxt])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _eval_list(values: list[Any], nodes: Iterable[_Node]) -> list[Any]:
    current = values
    for node in nodes:
        current = _eval_node(current, node)
    return current


def _eval_node(values: list[Any], node: _Node) -> list[Any]:
    match node:
        case _Field(name):
            return [value[name] for value in values if isinstance(value, dict) and name in value]
        case _Wildcard():
            return [child for value in values for child in _children(value)]
        case _Recursive():
            return _descend(values)
        case _Slice():
            return _eval_slice(values, node)
        case _Union(branches):
            return [result for branch in branches for result in _eval_list(values, branch)]
        case _Filter():
            return _eval_filter(values, node)
        case _Literal(value):
            return [value] if isinstance(value, str) else [value for _ in values]
        case _Identifier(name):
            raise _EvalError(f"unrecognized identifier {name}", values)
    raise _EvalError("unexpected node", values)


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[key] for key in sorted(value)]
    return list(value) if isinstance(value, list) else []


def _descend(values: list[Any]) -> list[Any]:
    found: list[Any] = []
    for value in values:
        children = _children(value)
        if children:
            found.append(value)
            found.extend(_descend(children))
    return found


def _eval_slice(values: list[Any], node: _Slice) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if value is None:
            continue
        if not isinstance(value, list):
            raise _EvalError(f"{type(value).__name__} is not array or slice", values)
        length = len(value)
        start = 0 if node.start is None else node.start
        start += length if start < 0 else 0
        end = length if node.end is None else node.end
        if end < 0 or (end == 0 and node.end_derived):
            end += length
        if start == end:
            return found
        if not 0 <= start < length or not 0 <= end <= length:
            raise _EvalError(f"array index out of bounds: index {start}, length {length}", values)
        if start > end:
            raise _EvalError(f"starting index {start} is greater than ending index {end}", values)
        step = 1 if node.step is None else node.step
        if step <= 0:
            raise _EvalError("step must be > 0", values)
        found.extend(value[start:end:step])
    return found


def _eval_filter(values: list[Any], node: _Filter) -> list[Any]:
    kept: list[Any] = []
    for value in values:
        items = _children(value) if isinstance(value, dict | list) else [value]
        for item in items:
            try:
                lefts = _eval_list([item], node.left)
            except _EvalError as err:
                lefts = err.partial
            rights = _eval_list([item], node.right)
            if not lefts:
                continue
            if len(lefts) > 1:
                raise _EvalError("can only compare one element at a time", values)
            if node.operator == "exists":
                kept.append(item)
                continue
            if not rights:
                continue
            if len(rights) > 1:
                raise _EvalError("can only compare one element at a time", values)
            if _compare(node.operator, lefts[0], rights[0], values):
                kept.append(item)
    return kept


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "string" if isinstance(value, str) else None


def _compare(operator: str, left: Any, right: Any, values: list[Any]) -> bool:
    """Go template comparison; values of different or uncomparable kinds simply do not match."""
    if operator not in ("<", ">", "==", "!=", "<=", ">="):
        raise _EvalError(f"unrecognized filter operator {operator}", values)
    left_kind, right_kind = _kind(left), _kind(right)
    if left_kind is None or right_kind is None or left_kind != right_kind:
        return False
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if left_kind == "bool":
        return False
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[operator]
