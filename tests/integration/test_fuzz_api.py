"""The embedded API under fuzzed requests: paths, query options, headers, methods and bodies.

Whatever a client sends, the answer is a Status with the code of the HTTP response (never a 500 for the client's
garbage, never a dropped connection), and the server keeps answering. Writes stay inside the test's namespace so
other tests sharing the cluster are not disturbed. `DRIFTLAB_FUZZ_EXAMPLES` raises the number of examples.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Cluster

EXAMPLES = int(os.environ.get("DRIFTLAB_FUZZ_EXAMPLES", "0")) or None
STREAMING = ("watch", "follow")


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=EXAMPLES or examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# ----------------------------------------------------------------------------------------------------
# Requests


segments = st.sampled_from(
    [
        "api",
        "apis",
        "v1",
        "apps",
        "namespaces",
        "configmaps",
        "pods",
        "deployments",
        "status",
        "scale",
        "log",
        "watch",
        "finalize",
        "exec",
        "openapi",
        "v2",
        "v3",
        "version",
        "healthz",
        "..",
        ".",
        "%2e%2e",
        "%00",
        "%ff",
        "a" * 300,
        "Ünïcode",
        "x y",
        "*",
        "{name}",
        "%2F",
    ]
) | st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12).map(lambda text: quote(text, safe=""))


def read_paths(namespace: str) -> st.SearchStrategy[str]:
    """Anything at all, and the real shapes of resource paths with odd names."""
    names = st.sampled_from(["web", "", "-", "UPPER", "a" * 300, "%00", "x.y", "..", "%2e"]) | segments
    shaped = st.sampled_from(
        [
            "/api/v1/namespaces/{ns}/configmaps/{name}",
            "/api/v1/namespaces/{ns}/pods/{name}/log",
            "/api/v1/namespaces/{ns}/pods/{name}/{name}",
            "/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale",
            "/apis/apps/v1/namespaces/{ns}/deployments/{name}/status",
            "/apis/{name}/v1/{name}",
            "/api/v1/{name}",
            "/api/{name}",
            "/apis/apps/v1/{name}",
            "/api/v1/namespaces/{name}/pods",
            "/api/v1/nodes/{name}",
            "/api/v1/watch/namespaces/{ns}/configmaps",
            "/openapi/v3/{name}",
            "/openapi/v2",
        ]
    )
    fill = st.tuples(shaped, names).map(lambda pair: pair[0].replace("{ns}", namespace).replace("{name}", pair[1]))
    anything = st.lists(segments, max_size=6).map(lambda parts: "/" + "/".join(parts))
    return fill | anything


def write_paths(namespace: str) -> st.SearchStrategy[str]:
    """Resource paths inside the test's namespace only (a DELETE elsewhere could remove what other tests use)."""
    names = st.sampled_from(["fuzz", "", "UPPER", "a" * 300, "%00", "x.y", "..", "%2F"])
    shaped = st.sampled_from(
        [
            "/api/v1/namespaces/{ns}/configmaps",
            "/api/v1/namespaces/{ns}/configmaps/{name}",
            "/api/v1/namespaces/{ns}/pods/{name}/status",
            "/api/v1/namespaces/{ns}/services/{name}",
            "/apis/apps/v1/namespaces/{ns}/deployments",
            "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
            "/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale",
            "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
            "/api/v1/namespaces/{ns}/secrets/{name}",
            "/api/v1/namespaces/{ns}/pods/{name}/eviction",
            "/api/v1/namespaces/{ns}/pods/{name}/binding",
            "/apis/example.com/v1/namespaces/{ns}/frobs/{name}",
        ]
    )
    return st.tuples(shaped, names).map(lambda pair: pair[0].replace("{ns}", namespace).replace("{name}", pair[1]))


junk = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
numbers = st.integers(min_value=-(2**70), max_value=2**70).map(str)
query_values = {
    "labelSelector": st.sampled_from(
        [
            "a=b",
            "a in (x,y)",
            "!a",
            "a,b",
            "a in (",
            "a notin ()",
            "=b",
            "a>1",
            "a==b!=c",
            "a=" + "b" * 70,
            "(",
            ")",
            ",",
            "a in (x),(y)",
            "x/y/z=1",
            "a!",
        ]
    )
    | junk,
    "fieldSelector": st.sampled_from(
        [
            "metadata.name=web",
            "metadata.namespace!=x",
            "spec.nodeName=",
            "status.phase",
            "a=b",
            "metadata.name==x",
            "=",
            ",",
            "metadata.name in (a)",
        ]
    )
    | junk,
    "limit": numbers | junk,
    "continue": st.sampled_from(["", "abc", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", "%%%", "0"]) | junk,
    "resourceVersion": numbers | junk | st.sampled_from(["", "0", "1"]),
    "resourceVersionMatch": st.sampled_from(["NotOlderThan", "Exact", "", "Other"]),
    "watch": st.sampled_from(["true", "false", "1", "0", "yes", ""]),
    "timeoutSeconds": numbers | junk,
    "allowWatchBookmarks": st.sampled_from(["true", "false", "x"]),
    "sendInitialEvents": st.sampled_from(["true", "false", "x"]),
    "dryRun": st.sampled_from(["All", "", "x", "All,All"]),
    "fieldManager": junk | st.just("m" * 200),
    "fieldValidation": st.sampled_from(["Strict", "Warn", "Ignore", "", "x"]),
    "force": st.sampled_from(["true", "false", "x"]),
    "propagationPolicy": st.sampled_from(["Foreground", "Background", "Orphan", "x"]),
    "gracePeriodSeconds": numbers | junk,
    "includeObject": st.sampled_from(["None", "Metadata", "Object", "x"]),
    "container": junk,
    "tailLines": numbers | junk,
    "sinceSeconds": numbers | junk,
    "limitBytes": numbers | junk,
    "previous": st.sampled_from(["true", "x"]),
    "timestamps": st.sampled_from(["true", "x"]),
    "pretty": st.sampled_from(["true", "x"]),
}
queries = st.dictionaries(st.sampled_from(sorted(query_values)), st.none(), max_size=4).flatmap(
    lambda keys: st.fixed_dictionaries({key: query_values[key] for key in keys})
) | st.text(max_size=30).map(lambda raw: {"raw": raw})

content_types = st.sampled_from(
    [
        "application/json",
        "application/yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
        "application/vnd.kubernetes.protobuf",
        "text/plain",
        "",
        "application/json; charset=utf-8",
        "multipart/form-data; boundary=x",
        "application/json;;;",
        "\u00e9/\u00e9",
    ]
)
accepts = st.sampled_from(
    [
        "application/json",
        "application/json;as=Table;v=v1;g=meta.k8s.io",
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
        "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        "application/vnd.kubernetes.protobuf",
        "application/com.github.proto-openapi.spec.v3@v1.0+protobuf",
        "text/html",
        "*/*",
        "",
        ";;;",
        "application/json;as=",
    ]
)
json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def shaped_objects(namespace: str) -> st.SearchStrategy[Any]:
    """Objects that look like Kubernetes objects, with odd values where the server must judge them."""
    return st.fixed_dictionaries(
        {
            "apiVersion": st.sampled_from(["v1", "apps/v1", "", "x/y/z"]) | json_data,
            "kind": st.sampled_from(["ConfigMap", "Deployment", "Pod", "Scale", "Eviction", ""]) | json_data,
            "metadata": st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["fuzz", "Fuzz", "", "a" * 300]) | json_data,
                    "namespace": st.sampled_from([namespace, "other", ""]) | json_data,
                    "labels": json_data,
                    "annotations": json_data,
                    "resourceVersion": json_data,
                    "finalizers": json_data,
                    "ownerReferences": json_data,
                    "generateName": json_data,
                    "managedFields": json_data,
                },
            ),
        },
        optional={"data": json_data, "spec": json_data, "status": json_data, "binaryData": json_data},
    )


def alias_bomb() -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(["metadata: {name: bomb}", "data:", *("  " + line for line in lines)]) + "\n"


HOSTILE_BODIES = [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    "a:\n" + "".join("  " * depth + f"k{depth}:\n" for depth in range(1, 600)),
    "[" * 2000 + "]" * 2000,
    alias_bomb(),
    '{"metadata": {"name": "x"}, "data": {"a": "\\ud800"}}',
    "\xff\xfe\x00",
    '{"metadata": {"name": "x"}}' * 2,
    "---\nmetadata: {name: a}\n---\nmetadata: {name: b}\n",
    "!!python/object/apply:os.system ['true']",
    '[{"op": "move", "from": "/a", "path": "/a/b"}]',
    '[{"op": "add", "path": "/metadata/labels/' + "~2" + '", "value": "x"}]',
    '[{"op": "test", "path": "/metadata/name", "value": 1}, {"op": "copy"}]',
    '{"$patch": "replace", "$setElementOrder/containers": [1]}',
    '{"spec": {"$retainKeys": 5}}',
    '{"data": {"$patch": "delete"}}',
    "1e999999",
    "-0",
    '"just a string"',
]


def bodies(namespace: str) -> st.SearchStrategy[bytes | str | None]:
    return st.one_of(
        st.none(),
        json_data.map(json.dumps),
        shaped_objects(namespace).map(json.dumps),
        st.binary(max_size=64),
        st.sampled_from(HOSTILE_BODIES),
    )


# ----------------------------------------------------------------------------------------------------
# Sending, and judging the answer


def send(cluster: Cluster, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any) -> None:
    """One request; asserts a sane answer. Streams (watches, followed logs) are judged by their status only."""
    if "raw" in query:
        url = f"{path}?{quote(query['raw'], safe='=&')}"
    else:
        url = f"{path}?{urlencode(query)}" if query else path
    response = cluster.http.request(
        method, url, body=body, headers=headers, preload_content=False, timeout=30, retries=False
    )
    streaming = response.status == 200 and (
        "/watch/" in path or any(query.get(key) in ("true", "1") for key in STREAMING)
    )
    try:
        raw = b"" if streaming or method == "HEAD" else response.read()
    finally:
        if streaming:
            response.close()
        else:
            response.release_conn()
    status = response.status
    assert status != 500, f"{method} {url} {headers} {body!r:.200}: {raw[:500]!r}"
    assert 200 <= status < 600
    if status >= 400 and method != "HEAD":
        answer = json.loads(raw)
        assert answer["kind"] == "Status" and answer["code"] == status, answer
        assert answer["message"], answer


def still_answers(cluster: Cluster) -> None:
    response = cluster.http.request("GET", "/api/v1/namespaces/default", retries=False, timeout=30)
    assert response.status == 200


methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"])


@fuzz_settings(120)
@given(data=st.data())
def test_fuzzed_reads_get_a_status_never_a_500(cluster: Cluster, ns: str, data: st.DataObject) -> None:
    path = data.draw(read_paths(ns), label="path")
    method = data.draw(st.sampled_from(["GET", "HEAD", "OPTIONS", "TRACE"]), label="method")
    query = data.draw(queries, label="query")
    if query.get("watch") in ("true", "1") or "/watch/" in path:
        query["timeoutSeconds"] = "1"
    headers = {"Accept": data.draw(accepts, label="accept")}
    send(cluster, method, path, query, headers, None)
    still_answers(cluster)


@fuzz_settings(150)
@given(data=st.data())
def test_fuzzed_writes_get_a_status_never_a_500(cluster: Cluster, ns: str, data: st.DataObject) -> None:
    path = data.draw(write_paths(ns), label="path")
    method = data.draw(methods, label="method")
    query = data.draw(queries, label="query")
    query.pop("watch", None)
    headers = {"Content-Type": data.draw(content_types, label="content-type"), "Accept": data.draw(accepts)}
    body = data.draw(bodies(ns), label="body")
    send(cluster, method, path, query, headers, body)
    still_answers(cluster)


@pytest.mark.parametrize("index", range(len(HOSTILE_BODIES)))
@pytest.mark.parametrize("content_type", ["application/json", "application/yaml", "application/merge-patch+json"])
def test_hostile_bodies_are_refused_or_accepted_never_a_500(
    cluster: Cluster, ns: str, index: int, content_type: str
) -> None:
    body = HOSTILE_BODIES[index]
    method, path = (
        ("PATCH", f"/api/v1/namespaces/{ns}/configmaps/fuzz")
        if "patch" in content_type
        else ("POST", f"/api/v1/namespaces/{ns}/configmaps")
    )
    send(cluster, method, path, {}, {"Content-Type": content_type}, body)
    still_answers(cluster)


def test_an_alias_bomb_is_refused_as_excessive_aliasing(cluster: Cluster, ns: str) -> None:
    response = cluster.http.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", body=alias_bomb(), headers={"Content-Type": "application/yaml"}
    )
    answer = json.loads(response.data)
    assert (response.status, answer["reason"]) == (400, "BadRequest")
    assert "excessive aliasing" in answer["message"]


def test_deep_nesting_is_a_bad_request(cluster: Cluster, ns: str) -> None:
    response = cluster.http.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body="[" * 100_000 + "]" * 100_000)
    answer = json.loads(response.data)
    assert (response.status, answer["reason"]) == (400, "BadRequest")
    assert "nest" in answer["message"]
