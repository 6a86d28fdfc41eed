"""The Table the embedded API server answers to `kubectl get`: columns, cells and row objects per kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.cluster.embedded import tables
from engine.cluster.embedded.resources import BUILTIN, ResourceType, from_crd
from engine.cluster.embedded.tables import TableError, human_duration, jsonpath_values, table

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rtype(kind: str) -> ResourceType:
    return next(r for r in BUILTIN if r.kind == kind)


def meta(name: str, namespace: str | None = "default", age: float = 300, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "creationTimestamp": ago(age), **extra}
    if namespace:
        data["namespace"] = namespace
    return data


def row(kind: str, obj: dict[str, Any]) -> list[Any]:
    return table(rtype(kind), [obj], now=NOW)["rows"][0]["cells"]


def headers(kind: str) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in table(rtype(kind), [], now=NOW)["columnDefinitions"]]


def template(*containers: tuple[str, str]) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": name, "image": image} for name, image in containers]}}


# Ages ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (-1.5, "0s"),
        (-2, "<invalid>"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (8 * 3600 - 60, "7h59m"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (51 * 3600, "2d3h"),
        (8 * 86400 - 3600, "7d23h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (800 * 86400, "2y70d"),
        (8 * 365 * 86400, "8y"),
        (12 * 365 * 86400 + 100 * 86400, "12y"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == expected


# The Table envelope -------------------------------------------------------------------------------


def test_empty_list_has_columns_and_no_rows() -> None:
    result = table(rtype("Deployment"), [], now=NOW, resource_version="42")
    assert result["kind"] == "Table"
    assert result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {"resourceVersion": "42"}
    assert result["rows"] == []
    assert [c["name"] for c in result["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
    ]


def test_column_definitions_carry_every_field() -> None:
    name = table(rtype("Pod"), [], now=NOW)["columnDefinitions"][0]
    assert set(name) == {"name", "type", "format", "description", "priority"}
    assert (name["name"], name["type"], name["format"], name["priority"]) == ("Name", "string", "name", 0)
    assert name["description"].startswith("Name must be unique within a namespace.")


def test_continue_token_and_no_headers() -> None:
    result = table(rtype("Pod"), [], now=NOW, resource_version="7", continue_token="abc", no_headers=True)
    assert result["metadata"] == {"resourceVersion": "7", "continue": "abc"}
    assert result["columnDefinitions"] is None


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta("web", labels={"app": "web"}, managedFields=[{"manager": "kubectl"}]),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template(("nginx", "nginx:1.25"), ("proxy", "envoy:1.30")),
        },
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }


def test_metadata_is_the_default_row_object() -> None:
    for include in ("Metadata", ""):
        obj = table(rtype("Deployment"), [deployment()], now=NOW, include_object=include)["rows"][0]["object"]
        assert obj == {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": deployment()["metadata"],
        }
    assert table(rtype("Deployment"), [deployment()], now=NOW)["rows"][0]["object"]["kind"] == ("PartialObjectMetadata")


def test_include_object_embeds_the_whole_object_with_its_kind() -> None:
    bare = deployment()
    del bare["kind"], bare["apiVersion"]
    obj = table(rtype("Deployment"), [bare], now=NOW, include_object="Object")["rows"][0]["object"]
    assert obj == deployment()


def test_include_none_leaves_the_object_out() -> None:
    assert table(rtype("Deployment"), [deployment()], now=NOW, include_object="None")["rows"][0]["object"] is None


def test_unknown_include_object_is_a_bad_request() -> None:
    with pytest.raises(TableError) as err:
        table(rtype("Deployment"), [deployment()], now=NOW, include_object="Everything")
    assert err.value.code == 400
    assert err.value.message == 'unrecognized includeObject value: "Everything"'


def test_malformed_object_raises_table_error() -> None:
    broken = deployment()
    broken["spec"] = "three replicas please"
    with pytest.raises(TableError) as err:
        table(rtype("Deployment"), [broken], now=NOW)
    assert err.value.code == 500
    assert err.value.message == 'Internal error occurred: cannot print deployments.apps "web": spec must be an object'
    with pytest.raises(TableError):
        table(rtype("Deployment"), ["not an object"], now=NOW)  # type: ignore[list-item]
    bad_time = deployment()
    bad_time["metadata"]["creationTimestamp"] = "yesterday"
    with pytest.raises(TableError, match="creationTimestamp"):
        table(rtype("Deployment"), [bad_time], now=NOW)


# Workloads ----------------------------------------------------------------------------------------


def test_deployment() -> None:
    assert headers("Deployment") == [
        ("Name", 0),
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    assert row("Deployment", deployment()) == [
        "web",
        "2/3",
        3,
        2,
        "5m",
        "nginx,proxy",
        "nginx:1.25,envoy:1.30",
        "app=web",
    ]


def test_deployment_defaults_and_set_based_selector() -> None:
    obj = {
        "metadata": meta("api", age=4000),
        "spec": {
            "selector": {
                "matchLabels": {"tier": "backend"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            "template": template(("api", "api:2")),
        },
        "status": {},
    }
    assert row("Deployment", obj) == [
        "api",
        "0/1",
        0,
        0,
        "66m",
        "api",
        "api:2",
        "!canary,env in (dev,prod),tier=backend",
    ]


def test_replicaset() -> None:
    assert headers("ReplicaSet") == [
        ("Name", 0),
        ("Desired", 0),
        ("Current", 0),
        ("Ready", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    obj = {
        "metadata": meta("web-7d4b9c", age=90),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d4b9c"}},
            "template": template(("nginx", "nginx:1.25")),
        },
        "status": {"replicas": 3, "readyReplicas": 2},
    }
    assert row("ReplicaSet", obj) == [
        "web-7d4b9c",
        3,
        3,
        2,
        "90s",
        "nginx",
        "nginx:1.25",
        "app=web,pod-template-hash=7d4b9c",
    ]


def test_statefulset() -> None:
    assert headers("StatefulSet") == [("Name", 0), ("Ready", 0), ("Age", 0), ("Containers", 1), ("Images", 1)]
    obj = {
        "metadata": meta("db", age=2 * 86400 + 3 * 3600),
        "spec": {"replicas": 2, "template": template(("postgres", "postgres:16"))},
        "status": {"readyReplicas": 1},
    }
    assert row("StatefulSet", obj) == ["db", "1/2", "2d3h", "postgres", "postgres:16"]


def test_daemonset() -> None:
    assert headers("DaemonSet") == [
        ("Name", 0),
        ("Desired", 0),
        ("Current", 0),
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
        ("Node Selector", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    pod_template = template(("fluentd", "fluentd:v1"))
    pod_template["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
    obj = {
        "metadata": meta("logs", namespace="kube-system"),
        "spec": {"selector": {"matchLabels": {"app": "logs"}}, "template": pod_template},
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert row("DaemonSet", obj) == [
        "logs",
        3,
        3,
        2,
        3,
        2,
        "kubernetes.io/os=linux",
        "5m",
        "fluentd",
        "fluentd:v1",
        "app=logs",
    ]


def job(spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": meta("migrate"),
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
            "template": template(("migrate", "app:1")),
            **spec,
        },
        "status": status,
    }


def test_job() -> None:
    assert headers("Job") == [
        ("Name", 0),
        ("Status", 0),
        ("Completions", 0),
        ("Duration", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    running = job({}, {"startTime": ago(120), "active": 1})
    assert row("Job", running) == [
        "migrate",
        "Running",
        "0/1",
        "2m",
        "5m",
        "migrate",
        "app:1",
        "batch.kubernetes.io/controller-uid=abc",
    ]
    done = job(
        {"completions": 1},
        {
            "startTime": ago(300),
            "completionTime": ago(258),
            "succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    )
    assert row("Job", done)[:4] == ["migrate", "Complete", "1/1", "42s"]


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        ({"parallelism": 3}, {}, ("Running", "0/1 of 3", "")),
        ({"completions": 5, "parallelism": 2}, {"succeeded": 2}, ("Running", "2/5", "")),
        ({}, {"conditions": [{"type": "Failed", "status": "True"}]}, ("Failed", "0/1", "")),
        (
            {"suspend": True},
            {"conditions": [{"type": "Suspended", "status": "True"}]},
            ("Suspended", "0/1", ""),
        ),
        ({}, {"conditions": [{"type": "FailureTarget", "status": "True"}]}, ("FailureTarget", "0/1", "")),
    ],
)
def test_job_status_and_completions(spec: dict[str, Any], status: dict[str, Any], expected: tuple) -> None:
    assert tuple(row("Job", job(spec, status))[1:4]) == expected


def test_job_being_deleted_is_terminating() -> None:
    obj = job({}, {})
    obj["metadata"]["deletionTimestamp"] = ago(1)
    assert row("Job", obj)[1] == "Terminating"


def test_cronjob() -> None:
    assert headers("CronJob") == [
        ("Name", 0),
        ("Schedule", 0),
        ("Timezone", 0),
        ("Suspend", 0),
        ("Active", 0),
        ("Last Schedule", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    obj = {
        "metadata": meta("backup", age=3 * 86400),
        "spec": {
            "schedule": "*/5 * * * *",
            "suspend": False,
            "jobTemplate": {"spec": {"template": template(("backup", "busybox:1.36"))}},
        },
        "status": {"active": [{"name": "backup-123"}], "lastScheduleTime": ago(180)},
    }
    assert row("CronJob", obj) == [
        "backup",
        "*/5 * * * *",
        "<none>",
        "False",
        1,
        "3m",
        "3d",
        "backup",
        "busybox:1.36",
        "<none>",
    ]
    obj["spec"].update(timeZone="Europe/Berlin", suspend=True)
    obj["status"] = {}
    assert row("CronJob", obj)[2:6] == ["Europe/Berlin", "True", 0, "<none>"]


# Pods ---------------------------------------------------------------------------------------------


def pod(status: dict[str, Any], containers: int = 1, init: list[dict] | None = None, **meta_extra: Any) -> dict:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": "app:1"} for i in range(containers)]}
    if init is not None:
        spec["initContainers"] = init
    return {"metadata": meta("web-abc", **meta_extra), "spec": spec, "status": status}


def running(name: str = "c0", ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {}}, **extra}


def waiting(reason: str, name: str = "c0", restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
        **extra,
    }


def terminated(reason: str = "", exit_code: int = 0, name: str = "c0", signal: int = 0) -> dict[str, Any]:
    state = (
        {"exitCode": exit_code, "reason": reason, "signal": signal}
        if reason or not signal
        else {"exitCode": exit_code, "signal": signal}
    )
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def test_pod_running_row_with_wide_cells() -> None:
    assert headers("Pod") == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]
    obj = pod(
        {
            "phase": "Running",
            "podIP": "10.244.0.5",
            "podIPs": [{"ip": "10.244.0.5"}],
            "containerStatuses": [running("c0"), running("c1")],
        },
        containers=2,
    )
    obj["spec"]["nodeName"] = "node-1"
    assert row("Pod", obj) == [
        "web-abc",
        "2/2",
        "Running",
        "0",
        "5m",
        "10.244.0.5",
        "node-1",
        "<none>",
        "<none>",
    ]


def test_pod_restarts_show_when_the_last_one_was() -> None:
    last = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(120)}}
    obj = pod({"phase": "Running", "containerStatuses": [waiting("CrashLoopBackOff", restarts=5, lastState=last)]})
    assert row("Pod", obj)[1:4] == ["0/1", "CrashLoopBackOff", "5 (2m ago)"]


def test_pod_readiness_gates() -> None:
    obj = pod(
        {
            "phase": "Running",
            "conditions": [
                {"type": "example.com/lb", "status": "True"},
                {"type": "Ready", "status": "False"},
            ],
            "containerStatuses": [running()],
        }
    )
    obj["spec"]["readinessGates"] = [
        {"conditionType": "example.com/lb"},
        {"conditionType": "example.com/dns"},
    ]
    assert row("Pod", obj)[8] == "1/2"


def test_pod_wide_cells_fall_back_to_pod_ip() -> None:
    obj = pod({"phase": "Pending", "podIP": "10.244.0.9", "nominatedNodeName": "node-2"})
    assert row("Pod", obj)[5:] == ["10.244.0.9", "<none>", "node-2", "<none>"]


INIT = [{"name": "init", "image": "busybox"}]
SIDECAR = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]


@pytest.mark.parametrize(
    ("obj", "ready", "status"),
    [
        (pod({"phase": "Pending"}), "0/1", "Pending"),
        (
            pod({"phase": "Pending", "containerStatuses": [waiting("ContainerCreating")]}),
            "0/1",
            "ContainerCreating",
        ),
        (pod({"phase": "Pending", "containerStatuses": [waiting("ErrImagePull")]}), "0/1", "ErrImagePull"),
        (
            pod({"phase": "Pending", "containerStatuses": [waiting("ImagePullBackOff")]}),
            "0/1",
            "ImagePullBackOff",
        ),
        (
            pod({"phase": "Pending", "containerStatuses": [waiting("CreateContainerConfigError")]}),
            "0/1",
            "CreateContainerConfigError",
        ),
        (pod({"phase": "Succeeded", "containerStatuses": [terminated("Completed")]}), "0/1", "Completed"),
        (pod({"phase": "Failed", "containerStatuses": [terminated("Error", 1)]}), "0/1", "Error"),
        (pod({"phase": "Failed", "containerStatuses": [terminated("", 137)]}), "0/1", "ExitCode:137"),
        (pod({"phase": "Failed", "containerStatuses": [terminated("", 0, signal=9)]}), "0/1", "Signal:9"),
        (pod({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}), "0/1", "Evicted"),
        (
            pod(
                {
                    "phase": "Pending",
                    "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
                }
            ),
            "0/1",
            "SchedulingGated",
        ),
        (
            pod({"phase": "Running", "containerStatuses": [running()]}, deletionTimestamp=ago(0)),
            "1/1",
            "Terminating",
        ),
        (
            pod(
                {"phase": "Running", "reason": "NodeLost", "containerStatuses": [running()]},
                deletionTimestamp=ago(0),
            ),
            "1/1",
            "Unknown",
        ),
        (
            pod(
                {"phase": "Succeeded", "containerStatuses": [terminated("Completed")]},
                deletionTimestamp=ago(0),
            ),
            "0/1",
            "Completed",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [running("init", ready=False)],
                    "containerStatuses": [waiting("PodInitializing")],
                },
                init=INIT,
            ),
            "0/1",
            "Init:0/1",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        terminated("Completed", name="init"),
                        running("migrate", ready=False),
                    ],
                },
                init=[*INIT, {"name": "migrate", "image": "app"}],
            ),
            "0/1",
            "Init:1/2",
        ),
        (
            pod(
                {"phase": "Pending", "initContainerStatuses": [waiting("CrashLoopBackOff", name="init")]},
                init=INIT,
            ),
            "0/1",
            "Init:CrashLoopBackOff",
        ),
        (
            pod(
                {"phase": "Pending", "initContainerStatuses": [terminated("Error", 1, name="init")]},
                init=INIT,
            ),
            "0/1",
            "Init:Error",
        ),
        (
            pod({"phase": "Pending", "initContainerStatuses": [terminated("", 2, name="init")]}, init=INIT),
            "0/1",
            "Init:ExitCode:2",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [terminated("Completed", name="init")],
                    "containerStatuses": [waiting("PodInitializing")],
                },
                init=INIT,
            ),
            "0/1",
            "PodInitializing",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "initContainerStatuses": [running("proxy", started=True)],
                    "containerStatuses": [running()],
                },
                init=SIDECAR,
            ),
            "2/2",
            "Running",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "containerStatuses": [running("c0"), terminated("Completed", name="c1")],
                },
                containers=2,
            ),
            "1/2",
            "NotReady",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [running("c0"), terminated("Completed", name="c1")],
                },
                containers=2,
            ),
            "1/2",
            "Running",
        ),
    ],
)
def test_pod_status_reasons(obj: dict[str, Any], ready: str, status: str) -> None:
    assert row("Pod", obj)[1:3] == [ready, status]


def test_finished_pods_carry_a_completed_row_condition() -> None:
    done = pod({"phase": "Succeeded", "containerStatuses": [terminated("Completed")]})
    failed = pod({"phase": "Failed", "containerStatuses": [terminated("Error", 1)]})
    live = pod({"phase": "Running", "containerStatuses": [running()]})
    result = table(rtype("Pod"), [done, failed, live], now=NOW)
    assert result["rows"][0]["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert result["rows"][1]["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in result["rows"][2]


def test_init_container_restarts_count_while_initializing() -> None:
    last = {"terminated": {"exitCode": 1, "finishedAt": ago(30)}}
    obj = pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [waiting("CrashLoopBackOff", name="init", restarts=3, lastState=last)],
            "containerStatuses": [waiting("PodInitializing", restarts=0)],
        },
        init=INIT,
    )
    assert row("Pod", obj)[2:4] == ["Init:CrashLoopBackOff", "3 (30s ago)"]


# Services and networking --------------------------------------------------------------------------


def service(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": meta("web", age=86400), "spec": spec, "status": status or {}}


def test_service_cluster_ip() -> None:
    assert headers("Service") == [
        ("Name", 0),
        ("Type", 0),
        ("Cluster-IP", 0),
        ("External-IP", 0),
        ("Port(s)", 0),
        ("Age", 0),
        ("Selector", 1),
    ]
    obj = service(
        {
            "type": "ClusterIP",
            "clusterIP": "10.96.12.34",
            "clusterIPs": ["10.96.12.34"],
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"app": "web"},
        }
    )
    assert row("Service", obj) == ["web", "ClusterIP", "10.96.12.34", "<none>", "80/TCP", "24h", "app=web"]


def test_service_node_port_and_defaults() -> None:
    obj = service(
        {
            "type": "NodePort",
            "clusterIP": "10.96.0.20",
            "ports": [{"port": 80, "nodePort": 30080}, {"port": 53, "protocol": "UDP"}],
        }
    )
    assert row("Service", obj)[1:5] == ["NodePort", "10.96.0.20", "<none>", "80:30080/TCP,53/UDP"]
    assert row("Service", obj)[6] == "<none>"


@pytest.mark.parametrize(
    ("spec", "status", "external"),
    [
        ({"type": "LoadBalancer", "ports": [{"port": 80}]}, {}, "<pending>"),
        (
            {"type": "LoadBalancer"},
            {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example"}, {"ip": "203.0.113.10"}]}},
            "203.0.113.10,203.0.113.9,lb.example",
        ),
        (
            {"type": "LoadBalancer", "externalIPs": ["198.51.100.1"]},
            {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}},
            "203.0.113.9,198.51.100.1",
        ),
        (
            {"type": "ClusterIP", "externalIPs": ["198.51.100.1", "198.51.100.2"]},
            {},
            "198.51.100.1,198.51.100.2",
        ),
        ({"type": "ExternalName", "externalName": "db.example.com"}, {}, "db.example.com"),
    ],
)
def test_service_external_ip(spec: dict[str, Any], status: dict[str, Any], external: str) -> None:
    assert row("Service", service(spec, status))[3] == external


def test_external_name_service_has_no_cluster_ip_or_ports() -> None:
    obj = service({"type": "ExternalName", "externalName": "db.example.com"})
    assert row("Service", obj)[:5] == ["web", "ExternalName", "<none>", "db.example.com", "<none>"]


@pytest.mark.parametrize(
    ("subsets", "expected"),
    [
        ([], "<none>"),
        (
            [{"addresses": [{"ip": "10.244.0.5"}, {"ip": "10.244.0.6"}], "ports": [{"port": 80}]}],
            "10.244.0.5:80,10.244.0.6:80",
        ),
        (
            [{"addresses": [{"ip": f"10.244.0.{i}"} for i in range(1, 6)], "ports": [{"port": 80}]}],
            "10.244.0.1:80,10.244.0.2:80,10.244.0.3:80 + 2 more...",
        ),
        (
            [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}, {"port": 443}]}],
            "10.244.0.5:80,10.244.0.5:443",
        ),
        ([{"addresses": [{"ip": "10.244.0.7"}]}], "10.244.0.7"),
        ([{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 8080}]}], "[fd00::1]:8080"),
        ([{"notReadyAddresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}]}], ""),
    ],
)
def test_endpoints(subsets: list[dict[str, Any]], expected: str) -> None:
    assert headers("Endpoints") == [("Name", 0), ("Endpoints", 0), ("Age", 0)]
    assert row("Endpoints", {"metadata": meta("web"), "subsets": subsets}) == ["web", expected, "5m"]


def ingress(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": meta("shop"), "spec": spec, "status": status or {}}


def test_ingress() -> None:
    assert headers("Ingress") == [
        ("Name", 0),
        ("Class", 0),
        ("Hosts", 0),
        ("Address", 0),
        ("Ports", 0),
        ("Age", 0),
    ]
    obj = ingress(
        {
            "ingressClassName": "nginx",
            "rules": [{"host": "shop.example.com"}, {"host": "api.example.com"}],
            "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
        },
        {"loadBalancer": {"ingress": [{"ip": "172.18.0.2"}]}},
    )
    assert row("Ingress", obj) == [
        "shop",
        "nginx",
        "shop.example.com,api.example.com",
        "172.18.0.2",
        "80, 443",
        "5m",
    ]


def test_ingress_without_class_hosts_or_address() -> None:
    assert row("Ingress", ingress({"defaultBackend": {"service": {"name": "web"}}})) == [
        "shop",
        "<none>",
        "*",
        "",
        "80",
        "5m",
    ]


def test_ingress_with_many_hosts() -> None:
    rules = [{"host": f"h{i}.example"} for i in range(5)]
    assert row("Ingress", ingress({"rules": rules}))[2] == "h0.example,h1.example,h2.example + 2 more..."


# Core kinds ---------------------------------------------------------------------------------------


def test_namespace() -> None:
    assert headers("Namespace") == [("Name", 0), ("Status", 0), ("Age", 0)]
    obj = {"metadata": meta("shop", namespace=None, age=7200), "status": {"phase": "Terminating"}}
    assert row("Namespace", obj) == ["shop", "Terminating", "120m"]
    assert row("Namespace", {"metadata": meta("dev", namespace=None)}) == ["dev", "Active", "5m"]


def test_configmap_counts_data_and_binary_data() -> None:
    assert headers("ConfigMap") == [("Name", 0), ("Data", 0), ("Age", 0)]
    obj = {"metadata": meta("settings"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert row("ConfigMap", obj) == ["settings", 3, "5m"]
    assert row("ConfigMap", {"metadata": meta("empty")}) == ["empty", 0, "5m"]


def test_secret() -> None:
    assert headers("Secret") == [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)]
    obj = {
        "metadata": meta("tls"),
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "eA==", "tls.key": "eQ=="},
    }
    assert row("Secret", obj) == ["tls", "kubernetes.io/tls", 2, "5m"]
    pending = {
        "metadata": meta("creds"),
        "data": {"user": "dQ=="},
        "stringData": {"user": "u", "password": "p"},
    }
    assert row("Secret", pending) == ["creds", "Opaque", 2, "5m"]


def test_service_account() -> None:
    assert headers("ServiceAccount") == [("Name", 0), ("Secrets", 0), ("Age", 0)]
    assert row("ServiceAccount", {"metadata": meta("default")}) == ["default", 0, "5m"]
    obj = {"metadata": meta("ci"), "secrets": [{"name": "ci-token"}]}
    assert row("ServiceAccount", obj) == ["ci", 1, "5m"]


def test_event() -> None:
    assert headers("Event") == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]
    obj = {
        "metadata": meta("web-abc.17f2a"),
        "involvedObject": {"kind": "Pod", "name": "web-abc", "fieldPath": "spec.containers{nginx}"},
        "reason": "Pulled",
        "message": 'Successfully pulled image "nginx:1.25"\n',
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(600),
        "lastTimestamp": ago(120),
        "count": 3,
        "type": "Normal",
    }
    assert row("Event", obj) == [
        "2m",
        "Normal",
        "Pulled",
        "pod/web-abc",
        "spec.containers{nginx}",
        "kubelet, node-1",
        'Successfully pulled image "nginx:1.25"',
        "10m",
        3,
        "web-abc.17f2a",
    ]


def test_event_from_the_events_api() -> None:
    obj = {
        "metadata": meta("web.18a"),
        "involvedObject": {"kind": "Deployment", "name": "web"},
        "reason": "ScalingReplicaSet",
        "message": "Scaled up replica set web-7d4b9c to 3",
        "eventTime": "2025-03-01T11:59:30.000000Z",
        "series": {"count": 4, "lastObservedTime": "2025-03-01T11:59:50.123456Z"},
        "reportingComponent": "deployment-controller",
        "reportingInstance": "",
        "type": "Normal",
    }
    cells = row("Event", obj)
    assert cells[0] == "9s"
    assert cells[3:8] == ["deployment/web", "", "deployment-controller", obj["message"], "30s"]
    assert cells[8] == 4


def test_event_without_timestamps_or_count() -> None:
    obj = {"metadata": meta("x"), "involvedObject": {"kind": "Node"}, "type": "Warning", "reason": "Rebooted"}
    assert row("Event", obj)[:4] == ["<unknown>", "Warning", "Rebooted", "node"]
    assert row("Event", obj)[8] == 1


def node(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": meta(
            "lab-control-plane",
            namespace=None,
            age=3 * 86400,
            labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux"},
        ),
        "spec": {},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [
                {"type": "InternalIP", "address": "172.18.0.2"},
                {"type": "Hostname", "address": "lab"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.37.0",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0-18-amd64",
                "containerRuntimeVersion": "containerd://1.7.13",
            },
        },
    }
    obj.update(changes)
    return obj


def test_node() -> None:
    assert headers("Node") == [
        ("Name", 0),
        ("Status", 0),
        ("Roles", 0),
        ("Age", 0),
        ("Version", 0),
        ("Internal-IP", 1),
        ("External-IP", 1),
        ("OS-Image", 1),
        ("Kernel-Version", 1),
        ("Container-Runtime", 1),
    ]
    assert row("Node", node()) == [
        "lab-control-plane",
        "Ready",
        "control-plane",
        "3d",
        "v1.37.0",
        "172.18.0.2",
        "<none>",
        "Debian GNU/Linux 12 (bookworm)",
        "6.1.0-18-amd64",
        "containerd://1.7.13",
    ]


def test_node_status_and_roles_variants() -> None:
    cordoned = node(spec={"unschedulable": True})
    assert row("Node", cordoned)[1] == "Ready,SchedulingDisabled"
    sick = node(status={"conditions": [{"type": "Ready", "status": "Unknown"}]})
    assert row("Node", sick)[1] == "NotReady"
    assert row("Node", sick)[4:] == ["", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]
    fresh = node(
        status={},
        metadata=meta(
            "worker",
            namespace=None,
            labels={"kubernetes.io/role": "edge", "node-role.kubernetes.io/infra": ""},
        ),
    )
    assert row("Node", fresh)[:3] == ["worker", "Unknown", "edge,infra"]
    plain = node(metadata=meta("w2", namespace=None))
    assert row("Node", plain)[2] == "<none>"


# RBAC and the generic printer ---------------------------------------------------------------------


def binding(kind: str) -> dict[str, Any]:
    return {
        "metadata": meta("read-pods", namespace=None if kind == "ClusterRoleBinding" else "default"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "jane"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "default"},
            {"kind": "ServiceAccount", "name": "bot", "namespace": "tools"},
        ],
    }


@pytest.mark.parametrize("kind", ["RoleBinding", "ClusterRoleBinding"])
def test_bindings(kind: str) -> None:
    assert headers(kind) == [
        ("Name", 0),
        ("Role", 0),
        ("Age", 0),
        ("Users", 1),
        ("Groups", 1),
        ("ServiceAccounts", 1),
    ]
    assert row(kind, binding(kind)) == [
        "read-pods",
        "ClusterRole/view",
        "5m",
        "jane",
        "devs",
        "default/ci, tools/bot",
    ]


@pytest.mark.parametrize("kind", ["Role", "ClusterRole", "CustomResourceDefinition"])
def test_kinds_without_a_printer_show_created_at(kind: str) -> None:
    result = table(rtype(kind), [{"metadata": meta("thing", namespace=None, age=3600)}], now=NOW)
    assert [(c["name"], c["type"]) for c in result["columnDefinitions"]] == [
        ("Name", "string"),
        ("Created At", "date"),
    ]
    assert result["rows"][0]["cells"] == ["thing", "2025-03-01T11:00:00Z"]


# Custom resources ---------------------------------------------------------------------------------


def widget_type(columns: list[dict[str, Any]] | None) -> ResourceType:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object"}},
    }
    if columns is not None:
        version["additionalPrinterColumns"] = columns
    crd = {
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "versions": [version],
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
        },
    }
    return from_crd(crd)[0]


WIDGET_COLUMNS = [
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Size", "type": "integer", "jsonPath": ".spec.size", "description": "How big"},
    {
        "name": "Message",
        "type": "string",
        "priority": 1,
        "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def widget(spec: dict[str, Any], status: dict[str, Any] | None = None, age: float = 300) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": meta("w1", age=age),
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return obj


def test_custom_resource_printer_columns() -> None:
    result = table(
        widget_type(WIDGET_COLUMNS),
        [
            widget(
                {"size": 3},
                {
                    "conditions": [
                        {"type": "Synced", "status": "False", "message": "no"},
                        {"type": "Ready", "status": "True", "message": "all good"},
                    ]
                },
            ),
            widget({"color": "red"}, age=7200),
        ],
        now=NOW,
    )
    assert [(c["name"], c["type"], c["priority"]) for c in result["columnDefinitions"]] == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Size", "integer", 0),
        ("Message", "string", 1),
        ("Age", "date", 0),
    ]
    assert result["columnDefinitions"][2]["description"] == "How big"
    ready_path = WIDGET_COLUMNS[0]["jsonPath"]
    assert result["columnDefinitions"][1]["description"] == (
        f"Custom resource definition column (in JSONPath format): {ready_path}"
    )
    assert result["rows"][0]["cells"] == ["w1", "True", 3, "all good", "5m"]
    assert result["rows"][1]["cells"] == ["w1", None, None, None, "120m"]


def test_custom_resource_without_printer_columns_prints_name_and_age() -> None:
    result = table(widget_type(None), [widget({"size": 1})], now=NOW)
    assert [(c["name"], c["type"]) for c in result["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),
    ]
    assert result["rows"][0]["cells"] == ["w1", "5m"]


@pytest.mark.parametrize(
    ("column_type", "path", "spec", "expected"),
    [
        ("integer", ".spec.n", {"n": 2.7}, 2),
        ("integer", ".spec.n", {"n": "3"}, None),
        ("integer", ".spec.n", {"n": True}, None),
        ("number", ".spec.n", {"n": 2}, 2.0),
        ("boolean", ".spec.on", {"on": False}, False),
        ("boolean", ".spec.on", {"on": "yes"}, None),
        ("string", ".spec.n", {"n": 7}, "7"),
        ("string", ".spec.on", {"on": True}, "true"),
        ("string", ".spec.n", {"n": 1.5e-05}, "1.5e-05"),
        ("string", ".spec.n", {"n": 2500000.0}, "2.5e+06"),
        ("string", ".spec.map", {"map": {"b": 1.0, "a": "<x>"}}, '{"a":"\\u003cx\\u003e","b":1}'),
        ("string", ".spec.list", {"list": ["a", "b"]}, '["a","b"]'),
        ("string", ".spec.gone", {"gone": None}, "<no value>"),
        ("string", ".spec.items[*].name", {"items": [{"name": "first"}, {"name": "second"}]}, "first"),
        ("string", ".spec.items[5].name", {"items": [{"name": "first"}]}, None),
        ("date", ".spec.at", {"at": "2025-03-01T11:00:00Z"}, "60m"),
        ("date", ".spec.at", {"at": "last week"}, "<invalid>"),
        ("date", ".spec.at", {"at": ""}, "<unknown>"),
        ("date", ".spec.at", {"at": 5}, None),
    ],
)
def test_custom_column_types(column_type: str, path: str, spec: dict[str, Any], expected: Any) -> None:
    rt = widget_type([{"name": "Value", "type": column_type, "jsonPath": path}])
    cell = table(rt, [widget(spec)], now=NOW)["rows"][0]["cells"][1]
    assert cell == expected
    assert type(cell) is type(expected)


def test_unparsable_printer_column_ends_the_column_list() -> None:
    rt = widget_type(
        [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Broken", "type": "string", "jsonPath": ".spec[?(@.a=="},
            {"name": "Later", "type": "string", "jsonPath": ".spec.color"},
        ]
    )
    result = table(rt, [widget({"size": 2, "color": "red"})], now=NOW)
    assert [c["name"] for c in result["columnDefinitions"]] == ["Name", "Size"]
    assert result["rows"][0]["cells"] == ["w1", 2]


# Kubernetes JSONPath ------------------------------------------------------------------------------

DOC = {
    "metadata": {"labels": {"app.kubernetes.io/name": "shop", "tier": "web"}},
    "spec": {
        "replicas": 3,
        "ratio": 0.5,
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443, "weight": 0.5}],
    },
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Stalled", "status": "False"}]},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (".spec.replicas", [3]),
        (".spec.missing", []),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type != 'Ready')].type", ["Stalled"]),
        (".status.conditions[?(@.reason)].type", []),
        (".status.conditions[?(@.status)].type", ["Ready", "Stalled"]),
        (".spec.ports[*].port", [80, 443]),
        (".spec.ports[-1].name", ["https"]),
        (".spec.ports[0:1].name", ["http"]),
        (".spec.ports[0,1].name", ["http", "https"]),
        (".spec.ports[?(@.port>100)].name", []),
        (".spec.ports[?(@.weight==0.5)].name", ["https"]),
        (".metadata.labels.app\\.kubernetes\\.io/name", ["shop"]),
        (".metadata.labels['tier']", ["web"]),
        (".metadata.labels.*", ["shop", "web"]),
        ("..port", [80, 443]),
        ("$.spec.replicas", [3]),
    ],
)
def test_jsonpath(expression: str, expected: list[Any]) -> None:
    assert jsonpath_values(expression, DOC) == expected


def test_jsonpath_integer_literals_never_equal_integer_fields() -> None:
    # The real evaluator compares a numeric literal as a float, and a float never equals an integer field.
    assert jsonpath_values(".spec.ports[?(@.port==80)].name", DOC) == []


@pytest.mark.parametrize("expression", [".spec[?(@.a==", ".spec.ports[x]", ".a['b", ".a\t.b", "....a"])
def test_jsonpath_syntax_errors(expression: str) -> None:
    with pytest.raises(tables.JSONPathError):
        tables.parse_jsonpath(expression)


def test_jsonpath_evaluation_errors_are_table_errors() -> None:
    with pytest.raises(TableError, match="out of bounds"):
        jsonpath_values(".spec.ports[7]", DOC)
