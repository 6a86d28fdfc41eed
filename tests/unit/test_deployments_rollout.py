"""Deployments rolled out by the real controllers over the in-process API, one reconcile at a time."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from engine.cluster.embedded.controllers.deployments.hashing import POD_TEMPLATE_HASH, compute_hash
from engine.cluster.embedded.rest import WriteOptions
from engine.cluster.embedded.status import forbidden
from tests.unit.test_deployments_support import TEST, Harness, deployment, replica_set
from tests.unit.test_deployments_support import cluster as cluster  # the fixture

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"


def _conditions(cluster: Harness, name: str = "web") -> dict[str, tuple[str, str]]:
    status = cluster.get("deployments", name).get("status") or {}
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions") or []}


def _sets(cluster: Harness) -> dict[str, int]:
    return {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in cluster.list("replicasets")}


def _set_image(cluster: Harness, image: str, name: str = "web") -> None:
    cluster.patch_spec(
        "deployments", name, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image=image)
    )


def test_a_new_deployment_gets_one_replica_set_named_by_its_template_hash(cluster: Harness) -> None:
    created = cluster.create("deployments", deployment("web", 3))

    [rs] = cluster.list("replicasets")
    digest = compute_hash(created["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{digest}"
    assert rs["metadata"]["labels"] == {"app": "web", POD_TEMPLATE_HASH: digest}
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", POD_TEMPLATE_HASH: digest}}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", POD_TEMPLATE_HASH: digest}
    assert rs["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert rs["metadata"]["annotations"] == {
        REVISION: "1",
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
    }
    pods = cluster.pods()
    assert len(pods) == 3
    assert all(re.fullmatch(rf"web-{digest}-[a-z0-9]{{5}}", p["metadata"]["name"]) for p in pods)
    assert all(p["metadata"]["labels"][POD_TEMPLATE_HASH] == digest for p in pods)
    assert cluster.get("deployments", "web")["metadata"]["annotations"] == {REVISION: "1"}
    assert cluster.events("ScalingReplicaSet") == [f"Scaled up replica set web-{digest} from 0 to 3"]


def test_status_and_conditions_follow_the_pods(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 3))

    status = cluster.get("deployments", "web")["status"]
    assert status["observedGeneration"] == 1
    assert (status["replicas"], status["updatedReplicas"], status["unavailableReplicas"]) == (3, 3, 3)
    assert "availableReplicas" not in status
    assert _conditions(cluster) == {
        "Available": ("False", "MinimumReplicasUnavailable"),
        "Progressing": ("True", "ReplicaSetUpdated"),
    }

    cluster.roll_out()

    status = cluster.get("deployments", "web")["status"]
    assert (status["readyReplicas"], status["availableReplicas"]) == (3, 3)
    assert "unavailableReplicas" not in status
    rs_name = cluster.list("replicasets")[0]["metadata"]["name"]
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"
    assert progressing["message"] == f'ReplicaSet "{rs_name}" has successfully progressed.'
    assert _conditions(cluster)["Available"] == ("True", "MinimumReplicasAvailable")


def test_progressing_moves_from_created_to_updated_to_available(
    cluster: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[Obj] = []
    real_update = cluster.api.update

    def spy(rtype: Any, namespace: str, name: str, body: Obj, opts: WriteOptions, subresource: str = "") -> Any:
        if rtype.kind == "Deployment" and subresource == "status":
            written.append(copy.deepcopy(body["status"]))
        return real_update(rtype, namespace, name, body, opts, subresource)

    monkeypatch.setattr(cluster.api, "update", spy)
    cluster.create("deployments", deployment("web", 1))
    cluster.roll_out()

    rs_name = cluster.list("replicasets")[0]["metadata"]["name"]
    progressing = [c for status in written for c in status["conditions"] if c["type"] == "Progressing"]
    assert progressing[0] == {
        "type": "Progressing",
        "status": "True",
        "lastUpdateTime": "2030-01-01T12:00:00Z",
        "lastTransitionTime": "2030-01-01T12:00:00Z",
        "reason": "NewReplicaSetCreated",
        "message": f'Created new replica set "{rs_name}"',
    }
    reasons = [c["reason"] for c in progressing]
    assert list(dict.fromkeys(reasons)) == ["NewReplicaSetCreated", "ReplicaSetUpdated", "NewReplicaSetAvailable"]


def test_a_rolling_update_never_exceeds_surge_or_unavailability(cluster: Harness) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    cluster.create("deployments", deployment("web", 4, strategy=strategy))
    cluster.roll_out()
    _set_image(cluster, "nginx:1.26")

    seen_new = False
    for _ in range(20):
        pods = cluster.pods()
        ready = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        assert len(pods) <= 5
        assert len(ready) >= 3
        pending = [p for p in pods if p not in ready]
        if not pending:
            break
        seen_new = True
        cluster.set_pod_status(pending[0])
        cluster.settle()
    assert seen_new
    images = {p["spec"]["containers"][0]["image"] for p in cluster.pods()}
    assert images == {"nginx:1.26"}
    assert sorted(_sets(cluster).values()) == [0, 4]


def test_an_updated_template_rolls_out_through_a_second_replica_set(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 3))
    cluster.roll_out()
    [first] = cluster.list("replicasets")

    _set_image(cluster, "nginx:1.26")
    cluster.roll_out()

    second = next(rs for rs in cluster.list("replicasets") if rs["metadata"]["name"] != first["metadata"]["name"])
    assert _sets(cluster) == {first["metadata"]["name"]: 0, second["metadata"]["name"]: 3}
    assert second["metadata"]["annotations"][REVISION] == "2"
    assert cluster.get("deployments", "web")["metadata"]["annotations"][REVISION] == "2"
    assert cluster.get("deployments", "web")["status"]["observedGeneration"] == 2
    old, new = first["metadata"]["name"], second["metadata"]["name"]
    assert cluster.events("ScalingReplicaSet") == [
        f"Scaled up replica set {old} from 0 to 3",
        f"Scaled up replica set {new} from 0 to 1",
        f"Scaled down replica set {old} from 3 to 2",
        f"Scaled up replica set {new} from 1 to 2",
        f"Scaled down replica set {old} from 2 to 1",
        f"Scaled up replica set {new} from 2 to 3",
        f"Scaled down replica set {old} from 1 to 0",
    ]


def test_rolling_back_reuses_the_old_replica_set_with_the_next_revision(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 3))
    cluster.roll_out()
    [first] = cluster.list("replicasets")
    _set_image(cluster, "nginx:1.26")
    cluster.roll_out()

    # What `kubectl rollout undo` writes: the old set's template, without its hash label.
    template = copy.deepcopy(first["spec"]["template"])
    del template["metadata"]["labels"][POD_TEMPLATE_HASH]
    cluster.patch_spec("deployments", "web", lambda d: d["spec"].update(template=template))
    cluster.roll_out()

    rolled_back = cluster.get("replicasets", first["metadata"]["name"])
    assert len(cluster.list("replicasets")) == 2
    assert rolled_back["spec"]["replicas"] == 3
    assert rolled_back["metadata"]["annotations"][REVISION] == "3"
    assert rolled_back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert cluster.get("deployments", "web")["metadata"]["annotations"][REVISION] == "3"
    assert {p["spec"]["containers"][0]["image"] for p in cluster.pods()} == {"nginx:1.25"}


def test_old_replica_sets_beyond_the_history_limit_are_deleted(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 2, revisionHistoryLimit=1))
    cluster.roll_out()
    for tag in ("1.26", "1.27", "1.28"):
        _set_image(cluster, f"nginx:{tag}")
        cluster.roll_out()

    revisions = sorted(rs["metadata"]["annotations"][REVISION] for rs in cluster.list("replicasets"))
    assert revisions == ["3", "4"]


def test_scaling_resizes_the_current_replica_set(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 3))
    cluster.roll_out()
    [rs] = cluster.list("replicasets")
    name = rs["metadata"]["name"]

    cluster.patch_spec("deployments", "web", lambda d: d["spec"].update(replicas=5))
    cluster.roll_out()
    assert len(cluster.pods()) == 5
    cluster.patch_spec("deployments", "web", lambda d: d["spec"].update(replicas=2))

    assert len(cluster.pods()) == 2
    assert (
        cluster.get("replicasets", name)["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "2"
    )
    assert cluster.events("ScalingReplicaSet")[-2:] == [
        f"Scaled up replica set {name} from 3 to 5",
        f"Scaled down replica set {name} from 5 to 2",
    ]


def test_recreate_removes_every_old_pod_before_creating_new_ones(cluster: Harness) -> None:
    finalized = deployment("web", 2, strategy={"type": "Recreate"})
    finalized["spec"]["template"]["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.create("deployments", finalized)
    cluster.roll_out()
    old_pods = cluster.pods()

    _set_image(cluster, "nginx:1.26")

    assert len(cluster.list("replicasets")) == 1
    assert all(p["metadata"].get("deletionTimestamp") for p in cluster.list("pods"))
    for pod in old_pods:
        live = copy.deepcopy(cluster.get("pods", pod["metadata"]["name"]))
        live["metadata"]["finalizers"] = []
        cluster.api.update(cluster.types["pods"], "default", pod["metadata"]["name"], live, TEST)
        cluster.settle()
        if pod is not old_pods[-1]:
            assert len(cluster.list("replicasets")) == 1

    assert len(cluster.list("replicasets")) == 2
    assert {p["spec"]["containers"][0]["image"] for p in cluster.pods()} == {"nginx:1.26"}


def test_a_paused_deployment_does_not_roll_out(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 2))
    cluster.roll_out()
    cluster.patch_spec("deployments", "web", lambda d: d["spec"].update(paused=True))
    assert _conditions(cluster)["Progressing"] == ("Unknown", "DeploymentPaused")

    _set_image(cluster, "nginx:1.26")
    cluster.patch_spec("deployments", "web", lambda d: d["spec"].update(replicas=3))

    assert len(cluster.list("replicasets")) == 1
    assert len(cluster.pods()) == 3
    assert "updatedReplicas" not in cluster.get("deployments", "web")["status"]

    cluster.patch_spec("deployments", "web", lambda d: d["spec"].update(paused=False))
    assert len(cluster.list("replicasets")) == 2
    cluster.roll_out()
    assert _conditions(cluster)["Progressing"] == ("True", "NewReplicaSetAvailable")


def test_a_stuck_rollout_exceeds_its_progress_deadline(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 2, progressDeadlineSeconds=30))
    cluster.roll_out()
    _set_image(cluster, "nginx:0.0-missing")
    cluster.roll_out(skip=lambda pod: pod["spec"]["containers"][0]["image"] == "nginx:0.0-missing")
    assert _conditions(cluster)["Progressing"] == ("True", "ReplicaSetUpdated")
    assert cluster.pending_timers(cluster.deployments)

    cluster.advance(29)
    assert _conditions(cluster)["Progressing"] == ("True", "ReplicaSetUpdated")
    cluster.advance(2)

    new_rs = next(rs for rs in cluster.list("replicasets") if rs["metadata"]["annotations"][REVISION] == "2")
    status = cluster.get("deployments", "web")["status"]
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"] == f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.'
    assert _conditions(cluster)["Available"] == ("True", "MinimumReplicasAvailable")


def test_progress_resets_the_deadline(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 2, progressDeadlineSeconds=30))
    cluster.advance(20)
    cluster.set_pod_status(cluster.pods()[0])
    cluster.advance(20)

    assert _conditions(cluster)["Progressing"] == ("True", "ReplicaSetUpdated")


def test_replica_failures_show_on_the_deployment(cluster: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    real_create = cluster.api.create
    refusal = forbidden(cluster.types["pods"], "web", "exceeded quota: compute")

    def refuse_pods(rtype: Any, namespace: str, body: Obj, opts: WriteOptions, **kw: Any) -> Any:
        if rtype.kind == "Pod":
            raise refusal
        return real_create(rtype, namespace, body, opts, **kw)

    monkeypatch.setattr(cluster.api, "create", refuse_pods)
    cluster.create("deployments", deployment("web", 2))

    assert _conditions(cluster)["ReplicaFailure"] == ("True", "FailedCreate")
    monkeypatch.setattr(cluster.api, "create", real_create)
    cluster.advance(1)
    assert "ReplicaFailure" not in _conditions(cluster)


def test_min_ready_seconds_reaches_the_replica_set(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 2, minReadySeconds=5))
    cluster.roll_out()
    assert cluster.list("replicasets")[0]["spec"]["minReadySeconds"] == 5
    assert "availableReplicas" not in cluster.get("deployments", "web")["status"]

    cluster.advance(6)

    assert cluster.get("deployments", "web")["status"]["availableReplicas"] == 2


def test_a_deleted_replica_set_is_recreated_and_its_pods_replaced(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 2))
    cluster.roll_out()
    [rs] = cluster.list("replicasets")

    cluster.delete("replicasets", rs["metadata"]["name"])

    [again] = cluster.list("replicasets")
    assert again["metadata"]["name"] == rs["metadata"]["name"]
    assert again["metadata"]["uid"] != rs["metadata"]["uid"]
    pods = cluster.pods()
    assert len(pods) == 2
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == again["metadata"]["uid"] for p in pods)


def test_deleting_the_deployment_removes_everything(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 2))
    cluster.roll_out()

    cluster.delete("deployments", "web")

    assert cluster.list("replicasets") == []
    assert cluster.list("pods") == []


def test_a_matching_orphan_replica_set_is_adopted(cluster: Harness) -> None:
    stray = replica_set("stray", 1, labels={"app": "web"})
    stray["metadata"]["labels"] = {"app": "web"}
    cluster.create("replicasets", stray)
    created = cluster.create("deployments", deployment("web", 2))

    stray = cluster.get("replicasets", "stray")
    assert stray["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]


def test_a_finished_rollout_is_left_alone(cluster: Harness) -> None:
    cluster.create("deployments", deployment("web", 3))
    cluster.roll_out()
    before = cluster.api.store.revision

    for controller in cluster.controllers:
        controller.start()
    cluster.settle()

    assert cluster.api.store.revision == before


def test_a_restarted_daemon_finishes_an_interrupted_rollout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = Harness(tmp_path, monkeypatch)
    first.create("deployments", deployment("web", 2))
    first.roll_out()
    first.api.hub._listeners.clear()  # the controllers stop; the API keeps taking writes
    template_change = copy.deepcopy(first.get("deployments", "web"))
    template_change["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    first.api.update(first.types["deployments"], "default", "web", template_change, TEST)

    restarted = Harness(tmp_path, monkeypatch)
    restarted.roll_out()

    assert sorted(_sets(restarted).values()) == [0, 2]
    assert {p["spec"]["containers"][0]["image"] for p in restarted.pods()} == {"nginx:1.26"}


def test_two_rollouts_from_one_template_share_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = Harness(tmp_path / "a", monkeypatch) if (tmp_path / "a").mkdir() is None else None
    second = Harness(tmp_path / "b", monkeypatch) if (tmp_path / "b").mkdir() is None else None
    assert first is not None and second is not None
    first.create("deployments", deployment("web", 1))
    second.create("deployments", deployment("web", 1))

    assert _sets(first).keys() == _sets(second).keys()
