"""The ReplicaSet controller against the in-process API: pods, ownership, scale-down order, status, failures."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.cluster.embedded.controllers.replicasets import ReplicaSetController, pods_to_delete
from engine.cluster.embedded.rest import WriteOptions
from engine.cluster.embedded.status import ApiError, forbidden
from tests.unit.test_deployments_support import TEST, Harness, replica_set
from tests.unit.test_deployments_support import cluster as cluster  # the fixture

Obj = dict[str, Any]
NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


def test_creates_the_missing_pods_from_the_template(cluster: Harness) -> None:
    rs = cluster.create("replicasets", replica_set("web", 3))

    pods = cluster.pods()
    assert len(pods) == 3
    for pod in pods:
        assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", pod["metadata"]["name"])
        assert pod["metadata"]["generateName"] == "web-"
        assert pod["metadata"]["labels"] == {"app": "web"}
        assert pod["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web",
                "uid": rs["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert pod["spec"]["containers"][0]["image"] == "nginx"
    assert sorted(cluster.events("SuccessfulCreate")) == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
    status = cluster.get("replicasets", "web")["status"]
    assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "terminatingReplicas": 0, "observedGeneration": 1}


def test_ready_pods_are_counted_ready_and_available(cluster: Harness) -> None:
    cluster.create("replicasets", replica_set("web", 2))
    cluster.ready_pending()

    status = cluster.get("replicasets", "web")["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (2, 2, 2)


def test_min_ready_seconds_delays_availability_with_a_timer(cluster: Harness) -> None:
    cluster.create("replicasets", replica_set("web", 2, minReadySeconds=10))
    cluster.ready_pending()

    status = cluster.get("replicasets", "web")["status"]
    assert status["readyReplicas"] == 2
    assert "availableReplicas" not in status
    assert [t.due for t in cluster.pending_timers(cluster.replica_sets)] == [NOW + timedelta(seconds=10.01)]

    cluster.advance(9)
    assert "availableReplicas" not in cluster.get("replicasets", "web")["status"]
    cluster.advance(1.5)
    assert cluster.get("replicasets", "web")["status"]["availableReplicas"] == 2


def test_a_deleted_pod_is_replaced(cluster: Harness) -> None:
    cluster.create("replicasets", replica_set("web", 2))
    victim = cluster.pods()[0]["metadata"]["name"]

    cluster.delete("pods", victim)

    names = [p["metadata"]["name"] for p in cluster.pods()]
    assert len(names) == 2
    assert victim not in names


def test_terminating_pods_are_replaced_and_reported(cluster: Harness) -> None:
    cluster.create("replicasets", replica_set("web", 2))
    pod = copy.deepcopy(cluster.pods()[0])
    pod["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.api.update(cluster.types["pods"], "default", pod["metadata"]["name"], pod, TEST)
    cluster.delete("pods", pod["metadata"]["name"])

    assert len(cluster.pods()) == 2
    status = cluster.get("replicasets", "web")["status"]
    assert (status["replicas"], status["terminatingReplicas"]) == (2, 1)


def test_scaling_down_deletes_unscheduled_then_pending_then_unready_pods_first(cluster: Harness) -> None:
    cluster.create("replicasets", replica_set("web", 4))
    unscheduled, pending, unready, healthy = cluster.pods()
    cluster.set_pod_status(pending, ready=False, phase="Pending", node="node-1")
    cluster.set_pod_status(unready, ready=False, phase="Running", node="node-1")
    cluster.set_pod_status(healthy, ready=True, phase="Running", node="node-1")
    cluster.settle()

    cluster.patch_spec("replicasets", "web", lambda rs: rs["spec"].update(replicas=3))
    assert _names(cluster.pods()) == _names([pending, unready, healthy])
    cluster.patch_spec("replicasets", "web", lambda rs: rs["spec"].update(replicas=2))
    assert _names(cluster.pods()) == _names([unready, healthy])
    cluster.patch_spec("replicasets", "web", lambda rs: rs["spec"].update(replicas=1))
    assert _names(cluster.pods()) == _names([healthy])
    deleted = [unscheduled, pending, unready]
    assert cluster.events("SuccessfulDelete") == [f"Deleted pod: {p['metadata']['name']}" for p in deleted]


def test_orphans_matching_the_selector_are_adopted(cluster: Harness) -> None:
    orphan = cluster.create("pods", _pod("stray", {"app": "web"}))
    other = cluster.create("pods", _pod("other", {"app": "db"}))
    rs = cluster.create("replicasets", replica_set("web", 2))

    adopted = cluster.get("pods", "stray")
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert "ownerReferences" not in cluster.get("pods", "other")["metadata"]
    assert len(cluster.pods(selector="app=web")) == 2
    assert orphan["metadata"]["uid"] == adopted["metadata"]["uid"]
    assert other["metadata"]["uid"] == cluster.get("pods", "other")["metadata"]["uid"]


def test_a_pod_relabelled_out_of_the_selector_is_released_and_replaced(cluster: Harness) -> None:
    cluster.create("replicasets", replica_set("web", 2))
    pod = copy.deepcopy(cluster.pods()[0])
    pod["metadata"]["labels"] = {"app": "debug"}
    cluster.api.update(cluster.types["pods"], "default", pod["metadata"]["name"], pod, TEST)
    cluster.settle()

    released = cluster.get("pods", pod["metadata"]["name"])
    assert released["metadata"].get("ownerReferences") == []
    assert len(cluster.pods(selector="app=web")) == 2


def test_pods_owned_by_another_controller_are_left_alone(cluster: Harness) -> None:
    cm_type = cluster.api.catalog.lookup("", "v1", "configmaps")
    assert cm_type is not None
    owner, _ = cluster.api.create(cm_type, "default", {"metadata": {"name": "owner"}}, TEST)
    foreign = _pod("foreign", {"app": "web"})
    foreign["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"], "controller": True}
    ]
    cluster.create("pods", foreign)
    cluster.create("replicasets", replica_set("web", 1))

    assert cluster.get("pods", "foreign")["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
    assert len(cluster.pods(selector="app=web")) == 2


def test_a_failed_creation_sets_replica_failure_and_is_retried(
    cluster: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_create = cluster.api.create
    refusal = forbidden(cluster.types["pods"], "web-x", "exceeded quota: compute, requested: pods=1")

    def refuse_pods(rtype: Any, namespace: str, body: Obj, opts: WriteOptions, **kw: Any) -> Any:
        if rtype.kind == "Pod":
            raise refusal
        return real_create(rtype, namespace, body, opts, **kw)

    monkeypatch.setattr(cluster.api, "create", refuse_pods)
    cluster.create("replicasets", replica_set("web", 3))

    conditions = cluster.get("replicasets", "web")["status"]["conditions"]
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in conditions] == [
        ("ReplicaFailure", "True", "FailedCreate", refusal.message)
    ]
    assert set(cluster.events("FailedCreate")) == {f"Error creating: {refusal.message}"}
    assert cluster.pending_timers(cluster.replica_sets)

    monkeypatch.setattr(cluster.api, "create", real_create)
    cluster.advance(1)
    assert len(cluster.pods()) == 3
    assert "conditions" not in cluster.get("replicasets", "web")["status"]


def test_a_terminating_namespace_is_not_a_replica_failure(cluster: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    real_create = cluster.api.create
    refusal = forbidden(
        cluster.types["pods"], "", "unable to create new content in namespace default because it is being terminated"
    )

    def refuse_pods(rtype: Any, namespace: str, body: Obj, opts: WriteOptions, **kw: Any) -> Any:
        if rtype.kind == "Pod":
            raise refusal
        return real_create(rtype, namespace, body, opts, **kw)

    monkeypatch.setattr(cluster.api, "create", refuse_pods)
    cluster.create("replicasets", replica_set("web", 2))

    assert "conditions" not in cluster.get("replicasets", "web")["status"]
    assert cluster.events("FailedCreate") == []


def test_a_replica_set_being_deleted_creates_nothing(cluster: Harness) -> None:
    cluster.create("replicasets", replica_set("web", 2))
    created = len(cluster.events("SuccessfulCreate"))

    cluster.api.delete(cluster.types["replicasets"], "default", "web", {"propagationPolicy": "Foreground"})
    cluster.settle()

    assert len(cluster.events("SuccessfulCreate")) == created
    assert cluster.find("replicasets", "web") is None
    assert cluster.list("pods") == []


def test_a_restarted_controller_changes_nothing_that_is_already_right(
    cluster: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.create("replicasets", replica_set("web", 3))
    cluster.ready_pending()
    before = cluster.api.store.revision

    restarted = Harness(tmp_path, monkeypatch)

    assert restarted.api.store.revision == before
    assert len(restarted.pods()) == 3


def test_a_replica_set_created_while_the_controller_was_down_gets_its_pods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Harness(tmp_path, monkeypatch)
    first.api.hub._listeners.clear()
    first.api.create(first.types["replicasets"], "default", replica_set("web", 2), TEST)

    restarted = Harness(tmp_path, monkeypatch)

    assert len(restarted.pods()) == 2
    assert isinstance(restarted.replica_sets, ReplicaSetController)


# Ranking, as a pure function --------------------------------------------------------------------------


def _ranked(**fields: Any) -> Obj:
    pod: Obj = {
        "metadata": {"name": fields.get("name", "p"), "uid": fields.get("uid", "u"), "annotations": {}},
        "spec": {"nodeName": fields.get("node", "node-1")},
        "status": {"phase": fields.get("phase", "Running"), "conditions": [], "containerStatuses": []},
    }
    if "created" in fields:
        pod["metadata"]["creationTimestamp"] = _stamp(fields["created"])
    if fields.get("ready", True):
        since = _stamp(fields.get("ready_since", -3600))
        pod["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": since}]
    if "cost" in fields:
        pod["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"] = str(fields["cost"])
    if "restarts" in fields:
        pod["status"]["containerStatuses"] = [{"name": "c", "restartCount": fields["restarts"]}]
    return pod


def _stamp(offset: float) -> str:
    return (NOW + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"node": ""}, {"node": "node-1"}),
        ({"phase": "Pending"}, {"phase": "Running"}),
        ({"phase": "Unknown"}, {"phase": "Running"}),
        ({"ready": False}, {"ready": True}),
        ({"cost": -5}, {"cost": 10}),
        ({"ready_since": -10}, {"ready_since": -100_000}),
        ({"restarts": 4}, {"restarts": 1}),
        ({"created": -10}, {"created": -100_000}),
    ],
)
def test_deletion_ranking(first: dict[str, Any], second: dict[str, Any]) -> None:
    doomed = _ranked(name="doomed", uid="b", **first)
    kept = _ranked(name="kept", uid="a", **second)

    for order in ([doomed, kept], [kept, doomed]):
        assert _names(pods_to_delete(order, order, 1, now=NOW)) == ["doomed"]


def test_doubled_up_pods_go_first() -> None:
    alone = _ranked(name="alone", node="node-a")
    crowded = _ranked(name="crowded", node="node-b")
    neighbour = _ranked(name="neighbour", node="node-b")

    assert _names(pods_to_delete([alone, crowded], [alone, crowded, neighbour], 1, now=NOW)) == ["crowded"]


def test_ages_in_the_same_power_of_two_bucket_tie_and_fall_back_to_uid() -> None:
    older = _ranked(name="older", uid="b", ready_since=-1000)
    younger = _ranked(name="younger", uid="a", ready_since=-900)

    assert _names(pods_to_delete([younger, older], [younger, older], 1, now=NOW)) == ["younger"]
    assert _names(pods_to_delete([older, younger], [older, younger], 1, now=NOW)) == ["younger"]


def test_asking_for_every_pod_returns_them_all() -> None:
    pods = [_ranked(name="a"), _ranked(name="b")]
    assert _names(pods_to_delete(pods, pods, 5)) == ["a", "b"]


def _pod(name: str, labels: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }


def _names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_api_errors_from_a_sync_are_retried_with_growing_delays(
    cluster: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.create("replicasets", replica_set("web", 1))
    monkeypatch.setattr(
        cluster.replica_sets, "sync", lambda rs: (_ for _ in ()).throw(ApiError(500, "InternalError", "boom"))
    )
    cluster.replica_sets.enqueue(("default", "web"))
    cluster.settle()
    first = cluster.pending_timers(cluster.replica_sets)[-1].due
    cluster.advance(1)
    second = cluster.pending_timers(cluster.replica_sets)[-1].due
    assert (first - NOW).total_seconds() == pytest.approx(0.005)
    assert (second - cluster.now).total_seconds() == pytest.approx(0.01)
