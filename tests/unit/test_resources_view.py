"""The lab panel's pure renderers: ages as kubectl prints them, pod and workload STATUS with its meaning, and the
namespace → workload → pod tree, from JSON objects as the API returns them."""

from __future__ import annotations

from typing import Any

import pytest

from engine.lab.resources_view import (
    STANDALONE,
    Meaning,
    ResourceRow,
    age,
    ago,
    count_by_meaning,
    human_duration,
    pod_status,
    resource_tree,
    run_duration,
    run_meaning,
    workload_status,
)

NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z
CREATED = "2025-06-15T15:00:00Z"  # 400 seconds before NOW


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-0.5, "0s"),
        (-5, "<invalid>"),
        (119, "119s"),
        (120, "2m"),
        (200, "3m20s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (40 * 86400, "40d"),
        (3 * 365 * 86400 + 10 * 86400, "3y10d"),
        (9 * 365 * 86400 + 10 * 86400, "9y"),
    ],
)
def test_ages_read_as_kubectl_prints_them(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_an_age_comes_from_a_timestamp_and_unreadable_ones_say_so() -> None:
    assert age(CREATED, NOW) == "6m40s"
    assert age("yesterday", NOW) == "<unknown>"
    assert age(None, NOW) == "<unknown>"


def test_when_something_happened_is_said_for_a_person() -> None:
    assert ago(None, NOW) == "never"
    assert ago(NOW - 10, NOW) == "just now"
    assert ago(NOW - 60, NOW) == "1 minute ago"
    assert ago(NOW - 7200, NOW) == "2 hours ago"
    assert ago(NOW - 3 * 86400, NOW) == "3 days ago"


def pod(name: str = "web-1", *, phase: str = "Running", owner: tuple[str, str] | None = None, **extra: Any) -> dict:
    metadata: dict[str, Any] = {"name": name, "namespace": "shop", "creationTimestamp": CREATED}
    if owner is not None:
        metadata["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    if "deleting" in extra:
        metadata["deletionTimestamp"] = CREATED
    containers = extra.get("containers", [{"ready": True, "restartCount": 0, "state": {"running": {}}}])
    return {
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": f"c{i}"} for i in range(len(containers))], **extra.get("spec", {})},
        "status": {"phase": phase, "containerStatuses": containers, **extra.get("status", {})},
    }


def waiting(reason: str, restarts: int = 0) -> list[dict]:
    return [{"ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}]


@pytest.mark.parametrize(
    ("obj", "status", "meaning"),
    [
        (pod(), "Running", Meaning.OK),
        (pod(containers=[{"ready": False, "state": {"running": {}}}]), "Running", Meaning.PENDING),
        (pod(containers=waiting("CrashLoopBackOff", 4)), "CrashLoopBackOff", Meaning.ERROR),
        (
            pod(phase="Pending", containers=waiting("CreateContainerConfigError")),
            "CreateContainerConfigError",
            Meaning.ERROR,
        ),
        (pod(phase="Pending", containers=waiting("ContainerCreating")), "ContainerCreating", Meaning.PENDING),
        (pod(phase="Pending", containers=waiting("ImagePullBackOff")), "ImagePullBackOff", Meaning.ERROR),
        (
            pod(phase="Succeeded", containers=[{"ready": False, "state": {"terminated": {"reason": "Completed"}}}]),
            "Completed",
            Meaning.COMPLETED,
        ),
        (
            pod(phase="Failed", containers=[{"ready": False, "state": {"terminated": {"exitCode": 3}}}]),
            "ExitCode:3",
            Meaning.ERROR,
        ),
        (pod(deleting=True), "Terminating", Meaning.KILLED),
        (pod(phase="Pending", containers=[], status={"reason": "Evicted"}), "Evicted", Meaning.ERROR),
        (
            pod(
                phase="Pending",
                containers=waiting("PodInitializing"),
                spec={"initContainers": [{"name": "migrate"}]},
                status={"initContainerStatuses": [{"state": {"running": {}}}]},
            ),
            "Init:0/1",
            Meaning.PENDING,
        ),
        (
            pod(
                phase="Pending",
                spec={"initContainers": [{"name": "migrate"}]},
                status={"initContainerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]},
            ),
            "Init:CrashLoopBackOff",
            Meaning.ERROR,
        ),
    ],
)
def test_pod_status_is_what_kubectl_get_pods_says(obj: dict, status: str, meaning: Meaning) -> None:
    assert pod_status(obj) == (status, meaning)


def deployment(name: str = "web", replicas: int = 3, ready: int = 3, updated: int = 3, **status: Any) -> dict:
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "creationTimestamp": CREATED},
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": ready, "updatedReplicas": updated, **status},
    }


def test_workload_status_says_whether_it_is_available_rolling_out_or_stuck() -> None:
    assert workload_status(deployment()) == ("3/3", "Available", Meaning.OK)
    assert workload_status(deployment(ready=1)) == ("1/3", "Progressing", Meaning.PENDING)
    stuck = deployment(
        ready=1, conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    )
    assert workload_status(stuck) == ("1/3", "ProgressDeadlineExceeded", Meaning.ERROR)
    assert workload_status(deployment(replicas=0, ready=0, updated=0)) == ("0/0", "ScaledDown", Meaning.NEUTRAL)
    daemons = {
        "kind": "DaemonSet",
        "status": {"desiredNumberScheduled": 2, "numberReady": 2, "updatedNumberScheduled": 2},
    }
    assert workload_status(daemons) == ("2/2", "Available", Meaning.OK)
    done = {
        "kind": "Job",
        "spec": {"completions": 1},
        "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
    }
    assert workload_status(done) == ("1/1", "Complete", Meaning.COMPLETED)
    failed = {
        "kind": "Job",
        "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]},
    }
    assert workload_status(failed) == ("0/1", "BackoffLimitExceeded", Meaning.ERROR)


def namespace(name: str, phase: str = "Active") -> dict:
    return {"kind": "Namespace", "metadata": {"name": name, "creationTimestamp": CREATED}, "status": {"phase": phase}}


def test_the_tree_puts_pods_under_the_workload_that_owns_them() -> None:
    replica_set = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-5d8f",
            "namespace": "shop",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
        },
    }
    pods = [
        pod("web-5d8f-b", owner=("ReplicaSet", "web-5d8f")),
        pod("web-5d8f-a", owner=("ReplicaSet", "web-5d8f")),
        pod("debug"),
    ]
    namespaces = [namespace("shop"), namespace("kube-system"), namespace("default"), namespace("old", "Terminating")]
    rows = resource_tree(namespaces, [deployment()], [replica_set], pods, NOW)
    assert [(row.level, row.kind, row.name, row.status) for row in rows] == [
        (0, "Namespace", "old", "Terminating"),
        (0, "Namespace", "shop", "Active"),
        (1, "Deployment", "web", "Available"),
        (2, "Pod", "web-5d8f-a", "Running"),
        (2, "Pod", "web-5d8f-b", "Running"),
        (1, "Group", STANDALONE, ""),
        (2, "Pod", "debug", "Running"),
    ]
    assert rows[0].meaning == Meaning.KILLED
    assert rows[2].ready == "3/3" and rows[3].ready == "1/1" and rows[3].restarts == "0" and rows[3].age == "6m40s"
    assert rows[3].key == "Pod/shop/web-5d8f-a"


def test_default_is_shown_only_when_it_holds_something() -> None:
    objects = [pod("lonely")]
    objects[0]["metadata"]["namespace"] = "default"
    rows = resource_tree([namespace("default")], [], [], objects, NOW)
    assert [row.name for row in rows] == ["default", STANDALONE, "lonely"]


def test_odd_objects_never_break_the_tree() -> None:
    odd: list[Any] = [{"kind": "Pod"}, {"kind": "Pod", "metadata": "x"}, {"metadata": {"name": "p"}, "status": "?"}]
    rows = resource_tree(
        [namespace("shop"), {"metadata": None}], [{"kind": "Deployment", "metadata": {}}], [], odd, NOW
    )
    assert rows[0].name == "shop"
    assert pod_status({"status": {"containerStatuses": "nope"}}) == ("Pending", Meaning.PENDING)
    assert workload_status({"kind": "Deployment", "spec": {"replicas": "three"}, "status": None})[0] == "0/1"


def test_pipeline_runs_have_meanings_and_durations() -> None:
    assert run_meaning("succeeded") == Meaning.OK
    assert run_meaning("running") == Meaning.PENDING
    assert run_meaning("failed") == Meaning.ERROR
    assert run_meaning("timed_out") == Meaning.ERROR
    assert run_meaning("cancelled") == Meaning.KILLED
    assert run_meaning("skipped") == Meaning.NEUTRAL
    assert run_duration(None, None, NOW) == "-"
    assert run_duration(NOW - 90, None, NOW) == "90s"
    assert run_duration(NOW - 90, NOW - 30, NOW) == "60s"


def test_pods_are_counted_by_meaning() -> None:
    rows = [
        ResourceRow(0, "Namespace", "shop", "shop", "Active", Meaning.NEUTRAL),
        ResourceRow(2, "Pod", "shop", "a", "Running", Meaning.OK),
        ResourceRow(2, "Pod", "shop", "b", "Running", Meaning.OK),
        ResourceRow(2, "Pod", "shop", "c", "Error", Meaning.ERROR),
    ]
    assert count_by_meaning(rows) == {Meaning.OK: 2, Meaning.ERROR: 1}
