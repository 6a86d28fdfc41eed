"""Server-side apply and managedFields, checked against what a real API server answers."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from engine.cluster.embedded.fieldmanager import (
    LAST_APPLIED,
    ApplyConflict,
    Conflict,
    apply,
    fields_from_v1,
    fields_to_v1,
    path_string,
    record_update,
)
from engine.cluster.embedded.patching import PatchError

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
NGINX_KEY = 'k:{"name":"nginx"}'


def manifest(image: str = "nginx:1.25", replicas: int | None = 2) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": spec,
    }


def ssa(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str = "kubectl",
    *,
    force: bool = False,
    now: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    return apply(
        live,
        config,
        manager=manager,
        force=force,
        api_version="apps/v1",
        now=now,
        definition=DEPLOYMENT,
        crd_schema=None,
    )


def update(
    old: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str = "2026-01-01T00:05:00Z"
) -> dict[str, Any]:
    """`new` as stored after a non-apply write by `manager`."""
    stored = copy.deepcopy(new)
    stored["metadata"]["managedFields"] = record_update(
        old, new, manager=manager, api_version="apps/v1", now=now, definition=DEPLOYMENT, crd_schema=None
    )
    return stored


def entry(obj: dict[str, Any], manager: str, operation: str | None = None) -> dict[str, Any]:
    found = [
        e
        for e in obj["metadata"]["managedFields"]
        if e["manager"] == manager and (operation is None or e["operation"] == operation)
    ]
    assert len(found) == 1, obj["metadata"]["managedFields"]
    return found[0]


def owned(obj: dict[str, Any], manager: str) -> set[str]:
    return {path_string(p) for p in fields_from_v1(entry(obj, manager)["fieldsV1"])}


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


# Server-side apply ---------------------------------------------------------------------------------


def test_apply_creates_the_object_and_records_its_fields() -> None:
    created = ssa(None, manifest())

    assert created["spec"] == manifest()["spec"]
    assert created["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": "2026-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                NGINX_KEY: {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {
                                        'k:{"containerPort":80,"protocol":"TCP"}': {
                                            ".": {},
                                            "f:containerPort": {},
                                        }
                                    },
                                }
                            }
                        },
                    },
                },
            },
        }
    ]


def test_reapplying_the_same_config_changes_nothing() -> None:
    created = ssa(None, manifest())
    again = ssa(created, manifest(), now="2026-01-02T00:00:00Z")
    assert again == created  # same object, same managedFields, time kept


def test_reapply_changing_the_image_updates_only_that_field() -> None:
    created = ssa(None, manifest())
    live = copy.deepcopy(created)
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"  # a server default
    updated = ssa(live, manifest(image="nginx:1.26"), now="2026-01-02T00:00:00Z")
    assert containers(updated)[0] == {
        "name": "nginx",
        "image": "nginx:1.26",
        "ports": [{"containerPort": 80}],
        "imagePullPolicy": "IfNotPresent",
    }
    assert entry(updated, "kubectl")["time"] == "2026-01-02T00:00:00Z"


def test_reapply_without_a_field_removes_it() -> None:
    created = ssa(None, manifest())
    config = manifest(replicas=None)
    del config["metadata"]["labels"]
    updated = ssa(created, config)
    assert "replicas" not in updated["spec"]
    assert "labels" not in updated["metadata"]
    assert ".spec.replicas" not in owned(updated, "kubectl")


def test_reapply_without_a_container_removes_it_and_adding_one_appends() -> None:
    config = manifest()
    config["spec"]["template"]["spec"]["containers"].append({"name": "log-shipper", "image": "busybox:1.36"})
    two = ssa(None, config)
    assert [c["name"] for c in containers(two)] == ["nginx", "log-shipper"]
    one = ssa(two, manifest())
    assert [c["name"] for c in containers(one)] == ["nginx"]
    assert '.spec.template.spec.containers[name="log-shipper"]' not in owned(one, "kubectl")


def test_a_field_another_manager_changed_is_a_conflict() -> None:
    created = ssa(None, manifest())
    scaled = copy.deepcopy(created)
    scaled["spec"]["replicas"] = 5
    scaled = update(created, scaled, "kubectl-client-side-apply")

    with pytest.raises(ApplyConflict) as caught:
        ssa(scaled, manifest(replicas=3), "deployer")

    err = caught.value
    assert str(err) == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
    )
    assert err.conflicts == [Conflict("kubectl-client-side-apply", ".spec.replicas")]
    assert err.causes == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
            "field": ".spec.replicas",
        }
    ]
    assert (err.code, err.reason) == (409, "Conflict")


def test_several_conflicts_are_listed_by_manager() -> None:
    created = ssa(None, manifest())
    edited = copy.deepcopy(created)
    edited["spec"]["replicas"] = 7
    containers(edited)[0]["image"] = "nginx:1.27"
    edited = update(created, edited, "kubectl-edit")
    with pytest.raises(ApplyConflict) as caught:
        ssa(edited, manifest(image="nginx:1.28", replicas=1))
    assert str(caught.value) == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="nginx"].image'
    )


def test_force_takes_ownership_from_the_other_manager() -> None:
    created = ssa(None, manifest())
    scaled = copy.deepcopy(created)
    scaled["spec"]["replicas"] = 5
    scaled = update(created, scaled, "kubectl-scale")

    forced = ssa(scaled, manifest(replicas=3), "deployer", force=True)

    assert forced["spec"]["replicas"] == 3
    assert ".spec.replicas" in owned(forced, "deployer")
    assert not [e for e in forced["metadata"]["managedFields"] if e["manager"] == "kubectl-scale"]


def test_two_appliers_of_the_same_value_co_own_it() -> None:
    created = ssa(None, manifest())
    replicas_only = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2},
    }
    shared = ssa(created, replicas_only, "autoscaler")
    assert ".spec.replicas" in owned(shared, "kubectl") & owned(shared, "autoscaler")

    kubectl_dropped = ssa(shared, manifest(replicas=None))
    assert kubectl_dropped["spec"]["replicas"] == 2  # still applied by the autoscaler

    both_dropped = ssa(kubectl_dropped, {**replicas_only, "spec": {}}, "autoscaler")
    assert "replicas" not in both_dropped["spec"]


def test_an_applier_changing_a_co_owned_value_conflicts_with_the_other() -> None:
    created = ssa(None, manifest())
    other = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2},
    }
    shared = ssa(created, other, "autoscaler")
    with pytest.raises(ApplyConflict) as caught:
        ssa(shared, manifest(replicas=4))
    assert caught.value.conflicts == [Conflict("autoscaler", ".spec.replicas")]


def test_status_is_neither_applied_nor_owned_on_the_main_resource() -> None:
    config = manifest()
    config["status"] = {"replicas": 9}
    created = ssa(None, config)
    assert "status" not in created
    assert not any(path.startswith(".status") for path in owned(created, "kubectl"))


def test_apply_to_the_status_subresource_owns_status_only() -> None:
    created = ssa(None, manifest())
    config = {**manifest(replicas=9), "status": {"readyReplicas": 2}}
    result = apply(
        created,
        config,
        manager="controller",
        force=False,
        api_version="apps/v1",
        now="t",
        definition=DEPLOYMENT,
        crd_schema=None,
        subresource="status",
    )
    assert result["status"] == {"readyReplicas": 2}
    assert result["spec"]["replicas"] == 2
    assert entry(result, "controller")["subresource"] == "status"
    assert owned(result, "controller") == {".status.readyReplicas"}


def test_kubectl_takes_over_fields_from_client_side_apply() -> None:
    previous = manifest()
    live = copy.deepcopy(previous)
    live["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(previous)}
    live = update(None, live, "kubectl-client-side-apply")

    with pytest.raises(ApplyConflict):
        ssa(live, manifest(image="nginx:1.26"), "someone-else")
    moved = ssa(live, manifest(image="nginx:1.26"))

    assert containers(moved)[0]["image"] == "nginx:1.26"
    assert '.spec.template.spec.containers[name="nginx"].image' in owned(moved, "kubectl")
    assert json.loads(moved["metadata"]["annotations"][LAST_APPLIED]) == manifest(image="nginx:1.26")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {**manifest(), "apiVersion": "apps/v1beta1"},
            "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1",
        ),
        (
            {**manifest(), "metadata": {"name": "web", "managedFields": []}},
            "metadata.managedFields must be nil",
        ),
    ],
)
def test_configs_the_server_refuses_are_bad_requests(config: dict[str, Any], message: str) -> None:
    with pytest.raises(PatchError) as caught:
        ssa(None, config)
    assert (caught.value.reason, caught.value.code, str(caught.value)) == ("BadRequest", 400, message)


def unknown_field() -> dict[str, Any]:
    config = manifest()
    config["spec"]["replica"] = 3
    return config


def unkeyed_container() -> dict[str, Any]:
    config = manifest()
    config["spec"]["template"]["spec"]["containers"].append({"image": "busybox"})
    return config


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (unknown_field(), ".spec.replica: field not declared in schema"),
        (
            unkeyed_container(),
            ".spec.template.spec.containers: element 1: associative list with keys has an element that omits "
            'key field "name" (and doesn\'t have default value)',
        ),
    ],
)
def test_configs_that_do_not_fit_the_schema_fail_as_on_a_real_server(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(PatchError) as caught:
        ssa(None, config)
    prefix = "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
    assert (str(caught.value), caught.value.code) == (prefix + problem, 500)


def test_duplicate_list_keys_are_refused() -> None:
    config = manifest()
    config["spec"]["template"]["spec"]["containers"].append({"name": "nginx", "image": "nginx:1.26"})
    with pytest.raises(PatchError, match=r'duplicate entries for key \[name="nginx"\]'):
        ssa(None, config)


def test_custom_resources_merge_by_their_list_map_keys() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {"type": "integer"},
                    "color": {"type": "string"},
                    "backends": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["host"],
                        "items": {
                            "type": "object",
                            "properties": {"host": {"type": "string"}, "weight": {"type": "integer"}},
                        },
                    },
                },
            }
        },
    }

    def widget_apply(live: dict[str, Any] | None, spec: dict[str, Any], manager: str) -> dict[str, Any]:
        config = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": spec}
        return apply(
            live,
            config,
            manager=manager,
            force=False,
            api_version="example.com/v1",
            now="t",
            definition=None,
            crd_schema=schema,
        )

    first = widget_apply(None, {"size": 1, "color": "red", "backends": [{"host": "a", "weight": 1}]}, "team-a")
    second = widget_apply(first, {"backends": [{"host": "b", "weight": 2}]}, "team-b")
    assert second["spec"]["backends"] == [{"host": "a", "weight": 1}, {"host": "b", "weight": 2}]
    assert owned(second, "team-b") == {
        '.spec.backends[host="b"]',
        '.spec.backends[host="b"].host',
        '.spec.backends[host="b"].weight',
    }
    third = widget_apply(second, {"size": 1, "backends": [{"host": "a", "weight": 1}]}, "team-a")
    assert third["spec"] == {"size": 1, "backends": [{"host": "a", "weight": 1}, {"host": "b", "weight": 2}]}


def test_custom_resource_validations_beside_properties_do_not_hide_them() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "allOf": [{"required": ["size"]}],
                "properties": {
                    "size": {"type": "integer"},
                    "tags": {"type": "array", "x-kubernetes-list-type": "set"},
                },
            }
        },
    }
    config = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1, "tags": ["a"]},
    }
    created = apply(
        None,
        config,
        manager="m",
        force=False,
        api_version="example.com/v1",
        now="t",
        definition=None,
        crd_schema=schema,
    )
    assert owned(created, "m") == {".spec.size", '.spec.tags[="a"]'}


# Managed fields of other writes --------------------------------------------------------------------


def test_create_gives_the_creator_every_field() -> None:
    created = manifest()
    created["metadata"].update(uid="u1", resourceVersion="1", creationTimestamp="2026-01-01T00:00:00Z")
    stored = update(None, created, "kubectl-create")
    assert stored["metadata"]["managedFields"] == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": "2026-01-01T00:05:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                NGINX_KEY: {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {
                                        ".": {},
                                        'k:{"containerPort":80,"protocol":"TCP"}': {
                                            ".": {},
                                            "f:containerPort": {},
                                        },
                                    },
                                }
                            }
                        },
                    },
                },
            },
        }
    ]


def test_an_update_moves_changed_fields_to_the_writer() -> None:
    created = ssa(None, manifest())
    edited = copy.deepcopy(created)
    containers(edited)[0]["image"] = "nginx:1.27"
    edited["metadata"]["labels"]["tier"] = "web"
    stored = update(created, edited, "kubectl-edit")

    assert owned(stored, "kubectl-edit") == {
        '.spec.template.spec.containers[name="nginx"].image',
        ".metadata.labels.tier",
    }
    assert '.spec.template.spec.containers[name="nginx"].image' not in owned(stored, "kubectl")
    assert ".spec.replicas" in owned(stored, "kubectl")
    assert entry(stored, "kubectl")["time"] == "2026-01-01T00:00:00Z"


def test_an_update_removing_a_field_takes_it_from_every_owner() -> None:
    created = ssa(None, manifest())
    trimmed = copy.deepcopy(created)
    del trimmed["metadata"]["labels"]
    stored = update(created, trimmed, "kubectl-label")
    assert not [p for p in owned(stored, "kubectl") if p.startswith(".metadata.labels")]
    assert not [e for e in stored["metadata"]["managedFields"] if e["manager"] == "kubectl-label"]


def test_an_update_that_changes_nothing_leaves_managed_fields_alone() -> None:
    created = ssa(None, manifest())
    same = copy.deepcopy(created)
    same["metadata"]["resourceVersion"] = "42"  # never tracked
    same["status"] = {"replicas": 2}  # status belongs to the status subresource
    stored = update(created, same, "kubectl-replace")
    assert stored["metadata"]["managedFields"] == created["metadata"]["managedFields"]


def test_repeated_updates_by_one_manager_accumulate_in_one_entry() -> None:
    created = update(None, manifest(), "kubectl-create", now="t1")
    scaled = copy.deepcopy(created)
    scaled["spec"]["replicas"] = 4
    once = update(created, scaled, "kubectl-edit", now="t2")
    relabelled = copy.deepcopy(once)
    relabelled["metadata"]["labels"]["env"] = "prod"
    twice = update(once, relabelled, "kubectl-edit", now="t3")
    assert owned(twice, "kubectl-edit") == {".spec.replicas", ".metadata.labels.env"}
    assert entry(twice, "kubectl-edit")["time"] == "t3"
    assert [e["manager"] for e in twice["metadata"]["managedFields"]] == ["kubectl-create", "kubectl-edit"]


def test_managed_fields_sent_by_the_client_are_honoured_and_can_be_cleared() -> None:
    created = ssa(None, manifest())
    cleared = copy.deepcopy(created)
    cleared["metadata"]["managedFields"] = [{}]
    assert (
        record_update(
            created,
            cleared,
            manager="kubectl-edit",
            api_version="apps/v1",
            now="t",
            definition=DEPLOYMENT,
            crd_schema=None,
        )
        == []
    )

    retimed = copy.deepcopy(created)
    retimed["metadata"]["managedFields"][0]["time"] = "2026-01-01T01:00:00+01:00"
    fields = record_update(
        created,
        retimed,
        manager="kubectl-edit",
        api_version="apps/v1",
        now="t",
        definition=DEPLOYMENT,
        crd_schema=None,
    )
    assert fields == created["metadata"]["managedFields"]

    renamed = copy.deepcopy(created)
    renamed["metadata"]["managedFields"][0]["manager"] = "argocd"
    fields = record_update(
        created,
        renamed,
        manager="kubectl-edit",
        api_version="apps/v1",
        now="t",
        definition=DEPLOYMENT,
        crd_schema=None,
    )
    assert [e["manager"] for e in fields] == ["argocd"]


# fieldsV1 ------------------------------------------------------------------------------------------


def test_fields_v1_round_trip_keeps_owned_nodes() -> None:
    tree = {
        "f:metadata": {"f:finalizers": {".": {}, 'v:"example.com/x"': {}}},
        "f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}}},
    }
    fields = fields_from_v1(tree)
    assert fields == {
        ("f:metadata", "f:finalizers"),
        ("f:metadata", "f:finalizers", 'v:"example.com/x"'),
        ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}'),
        ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}', "f:port"),
    }
    assert fields_to_v1(fields) == tree
    assert path_string(("f:metadata", "f:finalizers", 'v:"example.com/x"')) == '.metadata.finalizers[="example.com/x"]'
    assert path_string(("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}')) == '.spec.ports[port=80,protocol="TCP"]'


def test_malformed_managed_fields_are_ignored() -> None:
    created = manifest()
    created["metadata"]["managedFields"] = [
        "junk",
        {"manager": "x", "fieldsType": "FieldsV2"},
        {"fieldsV1": 3},
    ]
    stored = ssa(created, manifest(replicas=3))
    assert [e["manager"] for e in stored["metadata"]["managedFields"]] == ["kubectl"]
