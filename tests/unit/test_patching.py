"""Strategic merge, JSON merge and JSON patches on realistic objects, as kubectl sends them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.cluster.embedded.patching import REJECTED, PatchError, json_patch, merge_patch, strategic_merge

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
POD = "io.k8s.api.core.v1.Pod"
SERVICE = "io.k8s.api.core.v1.Service"


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "frontend"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.25",
                            "args": ["--port", "80"],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "1"}],
                            "resources": {"limits": {"cpu": "500m"}},
                        },
                        {"name": "log-shipper", "image": "busybox:1.36"},
                    ],
                    "volumes": [{"name": "conf", "configMap": {"name": "web-conf"}}],
                },
            },
        },
    }


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


# Strategic merge patch -----------------------------------------------------------------------------


def test_kubectl_apply_changing_the_image_merges_containers_by_name() -> None:
    patch = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "log-shipper"}],
                    "containers": [{"image": "nginx:1.26", "name": "nginx"}],
                }
            },
        },
    }
    result = strategic_merge(deployment(), patch, DEPLOYMENT)

    nginx, shipper = pod_spec(result)["containers"]
    assert nginx["image"] == "nginx:1.26"
    assert nginx["ports"] == [{"containerPort": 80, "protocol": "TCP"}]  # untouched fields survive
    assert shipper == {"name": "log-shipper", "image": "busybox:1.36"}
    assert result["spec"]["replicas"] == 3
    assert result["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    assert result["metadata"]["labels"] == {"app": "web", "tier": "frontend"}


def test_inputs_are_never_modified() -> None:
    original, patch = (
        deployment(),
        {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "env": None}]}}}},
    )
    original_copy, patch_copy = copy.deepcopy(original), copy.deepcopy(patch)
    strategic_merge(original, patch, DEPLOYMENT)
    merge_patch(original, {"metadata": {"labels": {"tier": None}}})
    json_patch(original, [{"op": "remove", "path": "/spec/replicas"}])
    assert original == original_copy
    assert patch == patch_copy


def test_a_container_added_without_an_order_goes_first_as_on_a_real_server() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "redis", "image": "redis:7"}]}}}}
    result = strategic_merge(deployment(), patch, DEPLOYMENT)
    assert names(pod_spec(result)["containers"]) == ["redis", "nginx", "log-shipper"]


def test_set_element_order_places_an_added_container() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [
                        {"name": "nginx"},
                        {"name": "redis"},
                        {"name": "log-shipper"},
                    ],
                    "containers": [{"name": "redis", "image": "redis:7"}],
                }
            }
        }
    }
    result = strategic_merge(deployment(), patch, DEPLOYMENT)
    assert names(pod_spec(result)["containers"]) == ["nginx", "redis", "log-shipper"]


def test_set_element_order_alone_reorders_a_list() -> None:
    patch = {
        "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "log-shipper"}, {"name": "nginx"}]}}}
    }
    result = strategic_merge(deployment(), patch, DEPLOYMENT)
    assert names(pod_spec(result)["containers"]) == ["log-shipper", "nginx"]


def test_kubectl_apply_removing_a_container_sends_a_delete_directive() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [{"$patch": "delete", "name": "log-shipper"}],
                }
            }
        }
    }
    result = strategic_merge(deployment(), patch, DEPLOYMENT)
    assert names(pod_spec(result)["containers"]) == ["nginx"]


def test_removing_an_env_var_with_a_delete_directive() -> None:
    patch = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "nginx", "env": [{"name": "DEBUG", "$patch": "delete"}]}]}}
        }
    }
    result = strategic_merge(deployment(), patch, DEPLOYMENT)
    assert pod_spec(result)["containers"][0]["env"] == [{"name": "MODE", "value": "prod"}]


def test_null_deletes_a_field_and_env_vars_merge_by_name() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "nginx", "resources": None, "env": [{"name": "MODE", "value": "staging"}]}]
                }
            }
        }
    }
    nginx = pod_spec(strategic_merge(deployment(), patch, DEPLOYMENT))["containers"][0]
    assert "resources" not in nginx
    assert nginx["env"] == [{"name": "MODE", "value": "staging"}, {"name": "DEBUG", "value": "1"}]


def test_ports_merge_by_container_port() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "ports": [
                                {"containerPort": 80, "name": "http"},
                                {"containerPort": 9090, "name": "metrics"},
                            ],
                        }
                    ]
                }
            }
        }
    }
    ports = pod_spec(strategic_merge(deployment(), patch, DEPLOYMENT))["containers"][0]["ports"]
    assert ports == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"},
        {"containerPort": 9090, "name": "metrics"},
    ]


def test_lists_without_a_merge_strategy_are_replaced() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "args": ["--port", "8080"]}]}}}}
    nginx = pod_spec(strategic_merge(deployment(), patch, DEPLOYMENT))["containers"][0]
    assert nginx["args"] == ["--port", "8080"]


def test_retain_keys_clears_the_other_strategy_fields() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
    result = strategic_merge(deployment(), patch, DEPLOYMENT)
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_on_a_volume_switches_its_source() -> None:
    patch = {
        "spec": {
            "template": {"spec": {"volumes": [{"$retainKeys": ["emptyDir", "name"], "emptyDir": {}, "name": "conf"}]}}
        }
    }
    assert pod_spec(strategic_merge(deployment(), patch, DEPLOYMENT))["volumes"] == [{"name": "conf", "emptyDir": {}}]


def test_retain_keys_must_list_every_field_the_patch_sets() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["rollingUpdate"], "type": "Recreate"}}}
    with pytest.raises(PatchError) as caught:
        strategic_merge(deployment(), patch, DEPLOYMENT)
    assert (caught.value.reason, caught.value.code) == ("BadRequest", 400)
    assert str(caught.value) == "invalid patch format of retainKeys"


def test_patch_replace_in_a_map_replaces_it_whole() -> None:
    patch = {"metadata": {"labels": {"$patch": "replace", "app": "shop"}}}
    assert strategic_merge(deployment(), patch, DEPLOYMENT)["metadata"]["labels"] == {"app": "shop"}


def test_patch_replace_in_a_list_replaces_the_list() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}, {"$patch": "replace"}]}}}}
    result = strategic_merge(deployment(), patch, DEPLOYMENT)
    assert pod_spec(result)["containers"] == [{"name": "app", "image": "app:2"}]


def test_patch_delete_in_a_map_empties_it() -> None:
    result = strategic_merge(deployment(), {"spec": {"template": {"metadata": {"$patch": "delete"}}}}, DEPLOYMENT)
    assert result["spec"]["template"]["metadata"] == {}


def test_nulls_inside_newly_added_fields_are_dropped() -> None:
    patch = {"spec": {"template": {"spec": {"securityContext": {"runAsUser": 1000, "runAsGroup": None}}}}}
    assert pod_spec(strategic_merge(deployment(), patch, DEPLOYMENT))["securityContext"] == {"runAsUser": 1000}


def test_rollout_restart_adds_a_template_annotation() -> None:
    patch = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}
        }
    }
    template = strategic_merge(deployment(), patch, DEPLOYMENT)["spec"]["template"]
    assert template["metadata"] == {
        "labels": {"app": "web"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
    }


def test_labels_are_a_plain_map_and_null_removes_one() -> None:
    result = strategic_merge(deployment(), {"metadata": {"labels": {"tier": None, "team": "a"}}}, DEPLOYMENT)
    assert result["metadata"]["labels"] == {"app": "web", "team": "a"}


def test_owner_references_merge_by_uid() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "ownerReferences": [owner]},
        "spec": {},
    }
    patch = {
        "metadata": {"ownerReferences": [{"uid": "u1", "controller": True}, {"uid": "u2", "kind": "Node", "name": "n"}]}
    }
    refs = strategic_merge(pod, patch, POD)["metadata"]["ownerReferences"]
    assert refs == [{**owner, "controller": True}, {"uid": "u2", "kind": "Node", "name": "n"}]


def test_finalizers_merge_as_a_set_and_a_parallel_list_deletes() -> None:
    obj = deployment()
    obj["metadata"]["finalizers"] = ["example.com/a", "example.com/b"]
    added = strategic_merge(obj, {"metadata": {"finalizers": ["example.com/b", "example.com/c"]}}, DEPLOYMENT)
    assert sorted(added["metadata"]["finalizers"]) == ["example.com/a", "example.com/b", "example.com/c"]
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}}
    assert strategic_merge(added, patch, DEPLOYMENT)["metadata"]["finalizers"] == [
        "example.com/b",
        "example.com/c",
    ]


def test_set_element_order_orders_a_primitive_list() -> None:
    obj = deployment()
    obj["metadata"]["finalizers"] = ["a", "b"]
    patch = {"metadata": {"$setElementOrder/finalizers": ["c", "b", "a"], "finalizers": ["c"]}}
    assert strategic_merge(obj, patch, DEPLOYMENT)["metadata"]["finalizers"] == ["c", "b", "a"]


def test_service_ports_merge_by_port() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
    }
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443, "targetPort": 8443}]}}
    assert strategic_merge(service, patch, SERVICE)["spec"]["ports"] == [
        {"port": 80, "targetPort": 9090, "protocol": "TCP"},
        {"port": 443, "targetPort": 8443},
    ]


def test_a_list_item_without_its_merge_key_is_refused_like_the_real_server() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.27"}]}}}}
    with pytest.raises(PatchError) as caught:
        strategic_merge(deployment(), patch, DEPLOYMENT)
    assert (caught.value.reason, caught.value.code) == ("", 500)
    assert str(caught.value) == "map: map[image:nginx:1.27] does not contain declared merge key: name"


def test_an_unknown_patch_directive_is_refused() -> None:
    with pytest.raises(PatchError, match="unknown patch type: squash in map"):
        strategic_merge(deployment(), {"metadata": {"labels": {"$patch": "squash"}}}, DEPLOYMENT)


def test_a_set_element_order_that_contradicts_the_patch_list_is_refused() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [{"name": "redis"}],
                }
            }
        }
    }
    with pytest.raises(PatchError, match=r"doesn't match \$setElementOrder list"):
        strategic_merge(deployment(), patch, DEPLOYMENT)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (["not", "a", "map"], "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        ({"metadata": {"$deleteFromPrimitiveList": ["a"]}}, "invalid patch format of primitive list"),
        ({"metadata": {"$setElementOrder": []}}, "invalid patch format of setElementOrder list"),
    ],
)
def test_malformed_strategic_patches_are_bad_requests(patch: Any, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        strategic_merge(deployment(), patch, DEPLOYMENT)
    assert (caught.value.reason, caught.value.code, str(caught.value)) == ("BadRequest", 400, message)


def test_lists_of_lists_are_invalid() -> None:
    obj = deployment()
    obj["metadata"]["finalizers"] = ["a"]
    with pytest.raises(PatchError) as caught:
        strategic_merge(obj, {"metadata": {"finalizers": [["b"]]}}, DEPLOYMENT)
    assert (caught.value.reason, caught.value.code) == ("Invalid", 422)


# JSON merge patch ----------------------------------------------------------------------------------


def test_merge_patch_labels_as_kubectl_label_sends_them() -> None:
    result = merge_patch(deployment(), {"metadata": {"labels": {"tier": None, "env": "prod"}}})
    assert result["metadata"]["labels"] == {"app": "web", "env": "prod"}


def test_merge_patch_replaces_lists_and_merges_maps() -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 3, "color": "red", "tags": ["a", "b"]},
    }
    result = merge_patch(
        widget, {"spec": {"color": None, "size": 5, "tags": ["c"], "shape": {"sides": 4, "skew": None}}}
    )
    assert result["spec"] == {"size": 5, "tags": ["c"], "shape": {"sides": 4}}


def test_merge_patch_scale_body() -> None:
    scale = {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2},
    }
    assert merge_patch(scale, {"spec": {"replicas": 3}})["spec"] == {"replicas": 3}


@pytest.mark.parametrize("patch", [["a"], "text", 3, None])
def test_a_merge_patch_must_be_an_object(patch: Any) -> None:
    with pytest.raises(PatchError) as caught:
        merge_patch(deployment(), patch)
    assert (caught.value.reason, caught.value.code, str(caught.value)) == (
        "BadRequest",
        400,
        "Invalid JSON Patch",
    )
    assert caught.value.detail and "must be a JSON object" in caught.value.detail


# JSON patch ----------------------------------------------------------------------------------------


def test_json_patch_operations_apply_in_order() -> None:
    ops = [
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "add", "path": "/metadata/labels/env", "value": "prod"},
        {"op": "remove", "path": "/metadata/labels/tier"},
        {
            "op": "add",
            "path": "/spec/template/spec/containers/-",
            "value": {"name": "redis", "image": "redis:7"},
        },
        {"op": "test", "path": "/spec/replicas", "value": 5},
        {"op": "copy", "from": "/metadata/labels", "path": "/spec/template/metadata/labels"},
        {"op": "move", "from": "/metadata/labels/env", "path": "/metadata/labels/stage"},
    ]
    result = json_patch(deployment(), ops)
    assert result["spec"]["replicas"] == 5
    assert result["metadata"]["labels"] == {"app": "web", "stage": "prod"}
    assert result["spec"]["template"]["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert names(pod_spec(result)["containers"]) == ["nginx", "log-shipper", "redis"]


def test_rollout_undo_body_replaces_template_and_annotations() -> None:
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.24"}]},
    }
    ops = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {
            "op": "replace",
            "path": "/metadata/annotations",
            "value": {"deployment.kubernetes.io/revision": "6"},
        },
    ]
    obj = deployment()
    obj["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "7"}
    result = json_patch(obj, ops)
    assert result["spec"]["template"] == template
    assert result["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "6"}


@pytest.mark.parametrize(
    ("op", "detail"),
    [
        (
            {"op": "add", "path": "/spec/foo/bar", "value": 1},
            'add operation does not apply: doc is missing path: "/spec/foo/bar": missing value',
        ),
        (
            {"op": "remove", "path": "/spec/paused"},
            "error in remove for path: '/spec/paused': Unable to remove nonexistent key: paused: missing value",
        ),
        (
            {"op": "replace", "path": "/spec/paused", "value": True},
            "replace operation does not apply: doc is missing key: /spec/paused: missing value",
        ),
        (
            {"op": "test", "path": "/spec/replicas", "value": 9},
            "testing value /spec/replicas failed: test failed",
        ),
        ({"op": "frobnicate", "path": "/spec"}, "Unexpected kind: frobnicate"),
        (
            {"op": "add", "path": "/spec/template/spec/containers/7", "value": {}},
            "error in add for path: '/spec/template/spec/containers/7': "
            "Unable to access invalid index: 7: invalid index referenced",
        ),
        (
            {"op": "move", "from": "/spec/nothing", "path": "/spec/x"},
            "move operation does not apply: doc is missing from path: /spec/nothing: missing value",
        ),
    ],
)
def test_json_patch_failures_are_invalid_with_the_cause(op: dict[str, Any], detail: str) -> None:
    with pytest.raises(PatchError) as caught:
        json_patch(deployment(), [op])
    assert (caught.value.reason, caught.value.code, str(caught.value)) == ("Invalid", 422, REJECTED)
    assert caught.value.detail == detail


def test_a_failing_operation_leaves_nothing_half_applied() -> None:
    original = deployment()
    with pytest.raises(PatchError):
        json_patch(
            original,
            [{"op": "replace", "path": "/spec/replicas", "value": 9}, {"op": "remove", "path": "/nope"}],
        )
    assert original["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        (["add"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
    ],
)
def test_a_malformed_json_patch_is_a_bad_request(ops: Any, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        json_patch(deployment(), ops)
    assert (caught.value.reason, caught.value.code, str(caught.value)) == ("BadRequest", 400, message)
