"""Bad requests get the real server's Status codes and a message that names the problem; the server survives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Cluster


def call(
    cluster: Cluster,
    method: str,
    path: str,
    body: bytes | str | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    response = cluster.http.request(method, path, body=body, headers={"Content-Type": content_type})
    try:
        return response.status, json.loads(response.data)
    except ValueError:
        return response.status, {"raw": response.data.decode(errors="replace")}


def assert_status(result: tuple[int, dict[str, Any]], code: int, reason: str, text: str) -> None:
    status, body = result
    assert status == code, body
    assert body["kind"] == "Status" and body["code"] == code and body["reason"] == reason
    assert text in body["message"]


CMS = "/api/v1/namespaces/default/configmaps"


def test_malformed_json_is_bad_request(cluster: Cluster) -> None:
    assert_status(call(cluster, "POST", CMS, '{"metadata": {"name": '), 400, "BadRequest", "not valid JSON")


def test_malformed_yaml_is_bad_request_with_position(cluster: Cluster) -> None:
    result = call(cluster, "POST", CMS, "metadata:\n  name: [x\n", "application/yaml")
    assert_status(result, 400, "BadRequest", "line ")


def test_unknown_kind_path_is_not_found(cluster: Cluster) -> None:
    assert_status(
        call(cluster, "GET", "/apis/example.com/v1/namespaces/default/frobs"),
        404,
        "NotFound",
        "the server could not find the requested resource",
    )


def test_wrong_api_version_in_body(cluster: Cluster) -> None:
    body = json.dumps({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert_status(call(cluster, "POST", CMS, body), 400, "BadRequest", "does not match the expected API version")


def test_missing_required_fields_are_invalid(cluster: Cluster) -> None:
    body = json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "x"},
            "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}},
        }
    )
    status, answer = call(cluster, "POST", "/apis/apps/v1/namespaces/default/deployments", body)
    assert status == 422 and answer["reason"] == "Invalid"
    fields = {cause["field"] for cause in answer["details"]["causes"]}
    assert "spec.selector" in fields and "spec.template.spec.containers[0].image" in fields


def test_invalid_name_is_invalid(cluster: Cluster) -> None:
    body = json.dumps({"metadata": {"name": "Not_A_Name"}})
    assert_status(call(cluster, "POST", CMS, body), 422, "Invalid", 'metadata.name: Invalid value: "Not_A_Name"')


def test_oversize_body_is_rejected(cluster: Cluster) -> None:
    body = json.dumps({"metadata": {"name": "big"}, "data": {"x": "a" * (4 * 1024 * 1024)}})
    status, _ = call(cluster, "POST", CMS, body)
    assert status == 413


def test_bad_label_selector(cluster: Cluster) -> None:
    assert_status(
        call(cluster, "GET", CMS + "?labelSelector=a%20in%20(x"),
        400,
        "BadRequest",
        "unable to parse requirement",
    )


def test_stale_resource_version_conflicts(cluster: Cluster) -> None:
    call(cluster, "POST", CMS, json.dumps({"metadata": {"name": "stale-check"}}))
    _, live = call(cluster, "GET", CMS + "/stale-check")
    rv = live["metadata"]["resourceVersion"]
    live["data"] = {"a": "1"}
    assert call(cluster, "PUT", CMS + "/stale-check", json.dumps(live))[0] == 200
    live["data"] = {"a": "2"}
    live["metadata"]["resourceVersion"] = rv
    assert_status(
        call(cluster, "PUT", CMS + "/stale-check", json.dumps(live)),
        409,
        "Conflict",
        "the object has been modified",
    )


def test_unsupported_patch_type(cluster: Cluster) -> None:
    call(cluster, "POST", CMS, json.dumps({"metadata": {"name": "patch-type"}}))
    assert call(cluster, "PATCH", CMS + "/patch-type", "{}", "text/plain")[0] == 415


bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("path", [CMS, "/apis/apps/v1/namespaces/default/deployments", "/api/v1/namespaces"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies | st.binary(max_size=64).map(lambda b: b.decode("latin-1")))
def test_random_bodies_never_crash_the_server(cluster: Cluster, path: str, body: Any) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    status, answer = call(cluster, "POST", path, raw)
    assert status < 500, answer
    assert call(cluster, "GET", "/healthz")[0] == 200
