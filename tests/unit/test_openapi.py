"""The OpenAPI v3 documents: their shape, their hashes, and what the real kubectl does with them."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from engine.cluster.embedded import schemas
from engine.cluster.embedded.openapi import (
    openapi_document,
    openapi_document_bytes,
    openapi_index,
    schema_name,
)
from engine.cluster.embedded.resources import BUILTIN, ResourceType, from_crd

KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
                },
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "description": "The widget the user wants.",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "description": "How many sprockets the widget has."},
                                    "color": {"type": "string", "enum": ["red", "blue"], "description": "Paint."},
                                    "replicas": {"type": "integer"},
                                },
                            },
                            "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                        },
                    }
                },
            }
        ],
    },
}


def served(crd: dict[str, Any] = WIDGET_CRD) -> list[ResourceType]:
    return [*BUILTIN, *from_crd(crd)]


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from nodes(item)


# -----------------------------------------------------------------------------------------------------------
# The index


def test_index_lists_every_group_version_with_a_hash() -> None:
    index = openapi_index(served())
    expected = {
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/networking.k8s.io/v1",
        "apis/discovery.k8s.io/v1",
        "apis/rbac.authorization.k8s.io/v1",
        "apis/apiextensions.k8s.io/v1",
        "apis/example.com/v1",
    }
    assert set(index["paths"]) == expected
    for path, entry in index["paths"].items():
        url = entry["serverRelativeURL"]
        prefix, _, digest = url.partition("?hash=")
        assert prefix == f"/openapi/v3/{path}"
        assert len(digest) == 128 and digest == digest.upper()


def test_hash_is_stable_and_follows_the_crd() -> None:
    first = openapi_index(served())["paths"]
    assert openapi_index(list(reversed(served())))["paths"] == first
    changed = copy.deepcopy(WIDGET_CRD)
    changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["weight"] = {
        "type": "number"
    }
    second = openapi_index(served(changed))["paths"]
    assert second["apis/example.com/v1"] != first["apis/example.com/v1"]
    assert second["apis/apps/v1"] == first["apis/apps/v1"]


def test_hash_is_the_sha512_of_the_served_bytes() -> None:
    import hashlib

    body = openapi_document_bytes("apps/v1", served())
    assert body is not None
    url = openapi_index(served())["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.endswith(hashlib.sha512(body).hexdigest().upper())
    assert json.loads(body) == json.loads(json.dumps(openapi_document("apps/v1", served())))


def test_documents_are_found_by_any_group_version_spelling_and_cached() -> None:
    types = served()
    apps = openapi_document("apps/v1", types)
    assert apps is not None
    assert openapi_document("apis/apps/v1", types) is apps
    assert openapi_document("v1", types) is openapi_document("api/v1", types)
    assert openapi_document("apps/v2", types) is None
    assert openapi_document_bytes("nope.example.com/v1", types) is None


# -----------------------------------------------------------------------------------------------------------
# A group-version document


def test_document_shape_and_paths() -> None:
    doc = openapi_document("apps/v1", served())
    assert doc is not None
    assert doc["openapi"] == "3.0.0" and doc["info"]["version"] == f"v{schemas.KUBERNETES_VERSION}"
    paths = doc["paths"]
    base = "/apis/apps/v1/namespaces/{namespace}/deployments"
    for path in (base, base + "/{name}", base + "/{name}/status", base + "/{name}/scale", "/apis/apps/v1/deployments"):
        assert path in paths
    assert set(paths[base]) == {"get", "post", "delete", "parameters"}
    assert set(paths[base + "/{name}"]) == {"get", "put", "patch", "delete", "parameters"}
    assert paths[base + "/{name}"]["patch"]["operationId"] == "patchAppsV1NamespacedDeployment"
    assert paths[base + "/{name}/scale"]["put"]["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }
    core = openapi_document("v1", served())
    assert core is not None
    assert "/api/v1/namespaces/{name}" in core["paths"]
    assert "/api/v1/namespaces/{namespace}/pods/{name}/status" in core["paths"]


def test_every_write_carries_the_gvk_and_field_validation() -> None:
    """kubectl only validates server-side when it finds these on a kind's PATCH operations."""
    for gv in ("v1", "apps/v1", "batch/v1", "example.com/v1"):
        doc = openapi_document(gv, served())
        assert doc is not None
        kinds = set()
        for path, item in doc["paths"].items():
            for verb in ("post", "put", "patch"):
                if verb in item:
                    operation = item[verb]
                    names = {(p["name"], p["in"]) for p in operation["parameters"]}
                    assert ("fieldValidation", "query") in names, (path, verb)
                    assert operation["x-kubernetes-group-version-kind"]["version"]
            for verb in ("get", "delete"):
                if verb in item:
                    kinds.add(item[verb]["x-kubernetes-group-version-kind"]["kind"])
        assert kinds


def test_schemas_are_openapi_3_and_complete() -> None:
    for gv in ("v1", "apps/v1", "example.com/v1"):
        doc = openapi_document(gv, served())
        assert doc is not None
        components = doc["components"]["schemas"]
        for ref in refs(doc):
            assert ref.startswith("#/components/schemas/"), ref
            assert ref.removeprefix("#/components/schemas/") in components, ref
        for node in nodes(components):
            if isinstance(node.get("type"), str):
                assert node["type"] != "null"
            assert not isinstance(node.get("type"), list), node
            assert None not in node.get("enum", [])


def test_built_in_schemas_keep_descriptions_extensions_and_required() -> None:
    doc = openapi_document("apps/v1", served())
    assert doc is not None
    components = doc["components"]["schemas"]
    deployment = components["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert deployment["properties"]["spec"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}
    ]
    assert deployment["properties"]["spec"]["description"]
    assert "enum" not in deployment["properties"]["kind"]
    spec = components["io.k8s.api.apps.v1.DeploymentSpec"]
    assert spec["required"] == ["selector", "template"]
    assert spec["properties"]["replicas"] == {
        "description": spec["properties"]["replicas"]["description"],
        "format": "int32",
        "type": "integer",
    }
    containers = components["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name" and containers["x-kubernetes-list-type"] == "map"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in components
    assert "io.k8s.api.autoscaling.v1.Scale" in components
    assert "io.k8s.api.core.v1.Service" not in components


def test_custom_resource_schema_is_named_like_the_real_server() -> None:
    assert schema_name("example.com", "v1", "Widget") == "com.example.v1.Widget"
    assert schema_name("stable.example.co.uk", "v1beta1", "Gadget") == "uk.co.example.stable.v1beta1.Gadget"
    doc = openapi_document("example.com/v1", served())
    assert doc is not None
    components = doc["components"]["schemas"]
    widget = components["com.example.v1.Widget"]
    assert widget["x-kubernetes-group-version-kind"] == [{"group": "example.com", "kind": "Widget", "version": "v1"}]
    assert widget["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert widget["properties"]["spec"]["properties"]["color"]["enum"] == ["red", "blue"]
    assert widget["properties"]["apiVersion"]["type"] == "string"
    listing = components["com.example.v1.WidgetList"]
    assert listing["properties"]["items"]["items"] == {"$ref": "#/components/schemas/com.example.v1.Widget"}
    item = "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"
    assert {item, item + "/status", item + "/scale"} <= set(doc["paths"])
    assert doc["paths"][item]["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Widget"


# -----------------------------------------------------------------------------------------------------------
# The real kubectl against a tiny server that serves discovery and these documents


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@dataclass
class FakeServer:
    url: str
    kubeconfig: Path
    home: Path
    requests: list[str] = field(default_factory=list)

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {"HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig), "PATH": "/usr/bin:/bin"}
        command = [str(KUBECTL), *args, "--cache-dir", str(self.home / "cache")]
        return subprocess.run(command, env=env, input=stdin, capture_output=True, text=True, timeout=60)


def _discovery(types: list[ResourceType], core: bool) -> dict[str, Any]:
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for rtype in types:
        if (rtype.group == "") != core:
            continue
        groups.setdefault(rtype.group, {}).setdefault(rtype.version, []).append(
            {
                "resource": rtype.plural,
                "singularResource": rtype.singular,
                "shortNames": list(rtype.short_names),
                "responseKind": {"group": rtype.group, "version": rtype.version, "kind": rtype.kind},
                "scope": "Namespaced" if rtype.namespaced else "Cluster",
                "verbs": list(rtype.verbs),
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": group},
                "versions": [{"version": version, "resources": resources} for version, resources in versions.items()],
            }
            for group, versions in groups.items()
        ],
    }


def _app(types: list[ResourceType], log: list[str]) -> web.Application:
    async def discovery(request: web.Request) -> web.Response:
        body = _discovery(types, core=request.path == "/api")
        return web.Response(text=json.dumps(body), headers={"Content-Type": AGGREGATED})

    async def index(request: web.Request) -> web.Response:
        return web.json_response(openapi_index(types))

    async def document(request: web.Request) -> web.Response:
        body = openapi_document_bytes(request.match_info["gv"], types)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="application/json")

    objects: dict[str, dict[str, Any]] = {}
    missing = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}

    async def create(request: web.Request) -> web.Response:
        log.append(f"{request.method} {request.path_qs}")
        obj = await request.json()
        obj["metadata"].setdefault("namespace", request.match_info["namespace"])
        objects[f"{request.path}/{obj['metadata']['name']}"] = obj
        return web.json_response(obj, status=201)

    async def read(request: web.Request) -> web.Response:
        obj = objects.get(request.path)
        return web.json_response(obj) if obj is not None else web.json_response(missing, status=404)

    async def patch(request: web.Request) -> web.Response:
        log.append(f"{request.method} {request.path_qs} {request.content_type}")
        obj = objects.get(request.path)
        return web.json_response(obj) if obj is not None else web.json_response(missing, status=404)

    async def other(request: web.Request) -> web.Response:
        log.append(f"{request.method} {request.path_qs}")
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/api", discovery)
    app.router.add_get("/apis", discovery)
    app.router.add_get("/openapi/v3", index)
    app.router.add_get("/openapi/v3/{gv:.+}", document)
    collection = "/apis/{group}/{version}/namespaces/{namespace}/{plural}"
    app.router.add_post(collection, create)
    app.router.add_get(collection + "/{name}", read)
    app.router.add_patch(collection + "/{name}", patch)
    app.router.add_route("*", "/{path:.*}", other)
    return app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    log: list[str] = []
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_app(served(), log))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    home = tmp_path_factory.mktemp("kubectl-home")
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: fake, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: fake, context: {cluster: fake, user: me, namespace: default}}]\n"
        "users: [{name: me, user: {}}]\ncurrent-context: fake\n"
    )
    yield FakeServer(f"http://127.0.0.1:{port}", kubeconfig, home, log)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def test_kubectl_explain_a_built_in_field(server: FakeServer) -> None:
    result = server.kubectl("explain", "deployment.spec.strategy")
    assert result.returncode == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[:3] == ["GROUP:      apps", "KIND:       Deployment", "VERSION:    v1"]
    assert "FIELD: strategy <DeploymentStrategy>" in lines
    assert "    DeploymentStrategy describes how to replace existing pods with new ones." in lines
    assert "  rollingUpdate\t<RollingUpdateDeployment>" in lines
    assert "  type\t<string>" in lines


def test_kubectl_explain_nested_types_and_short_names(server: FakeServer) -> None:
    result = server.kubectl("explain", "deploy.spec.strategy.rollingUpdate")
    assert result.returncode == 0, result.stderr
    assert "  maxSurge\t<IntOrString>" in result.stdout.splitlines()
    result = server.kubectl("explain", "pods.spec.containers.resources")
    assert result.returncode == 0, result.stderr
    assert "  limits\t<map[string]Quantity>" in result.stdout.splitlines()


def test_kubectl_explain_a_custom_resource(server: FakeServer) -> None:
    result = server.kubectl("explain", "widgets.spec")
    assert result.returncode == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[:3] == ["GROUP:      example.com", "KIND:       Widget", "VERSION:    v1"]
    assert "FIELD: spec <Object>" in lines
    assert "    The widget the user wants." in lines
    assert "  size\t<integer> -required-" in lines
    assert "    How many sprockets the widget has." in lines
    assert "  enum: red, blue" in lines


def test_kubectl_explain_unknown_field(server: FakeServer) -> None:
    result = server.kubectl("explain", "deployment.spec.strategee")
    assert result.returncode != 0
    assert 'field "strategee" does not exist' in result.stderr


@pytest.mark.parametrize(
    "manifest",
    [
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n"
        "  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n",
    ],
)
def test_kubectl_leaves_strict_validation_to_the_server(server: FakeServer, manifest: str) -> None:
    before = len(server.requests)
    result = server.kubectl("create", "-f", "-", stdin=manifest)
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout
    posts = [line for line in server.requests[before:] if line.startswith("POST")]
    assert len(posts) == 1 and "fieldValidation=Strict" in posts[0]
    assert not [line for line in server.requests[before:] if "/openapi/v2" in line]


def test_only_built_in_kinds_accept_strategic_merge_patches() -> None:
    """kubectl apply sends a strategic merge patch exactly when the PATCH operation lists that media type."""
    widget = openapi_document("example.com/v1", served())
    apps = openapi_document("apps/v1", served())
    assert widget is not None and apps is not None
    smp = "application/strategic-merge-patch+json"
    widget_patch = widget["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert smp not in widget_patch["requestBody"]["content"]
    assert "application/merge-patch+json" in widget_patch["requestBody"]["content"]
    deployment_patch = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert smp in deployment_patch["requestBody"]["content"]


DEPLOYMENT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: applied}\nspec:\n  replicas: REPLICAS\n"
    "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
    "    spec: {containers: [{name: web, image: nginx}]}\n"
)
WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: applied}\nspec: {size: REPLICAS}\n"


@pytest.mark.parametrize(
    ("manifest", "patch_type"),
    [(DEPLOYMENT, "application/strategic-merge-patch+json"), (WIDGET, "application/merge-patch+json")],
)
def test_kubectl_apply_picks_the_patch_type_from_the_document(
    server: FakeServer, manifest: str, patch_type: str
) -> None:
    created = server.kubectl("apply", "-f", "-", stdin=manifest.replace("REPLICAS", "1"))
    assert created.returncode == 0, created.stderr
    before = len(server.requests)
    changed = server.kubectl("apply", "-f", "-", stdin=manifest.replace("REPLICAS", "2"))
    assert changed.returncode == 0, changed.stderr
    patches = [line for line in server.requests[before:] if line.startswith("PATCH")]
    assert len(patches) == 1, server.requests[before:]
    assert "fieldValidation=Strict" in patches[0] and patches[0].endswith(" " + patch_type)


def test_a_crd_change_re_renders_only_its_own_group_version() -> None:
    before = openapi_document("apps/v1", served())
    changed = copy.deepcopy(WIDGET_CRD)
    changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["description"] = "New text."
    assert openapi_document("apps/v1", served(changed)) is before
    widget = openapi_document("example.com/v1", served(changed))
    assert widget is not None
    assert widget["components"]["schemas"]["com.example.v1.Widget"]["properties"]["spec"]["description"] == "New text."
