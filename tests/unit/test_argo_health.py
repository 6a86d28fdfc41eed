"""Argo CD's health assessment per kind, and the app's health from its resources."""

from __future__ import annotations

from typing import Any

import pytest

from engine.gitops.argo.health import Health, aggregate, assess, is_worse

JSON = dict[str, Any]


def deployment(generation: int = 2, spec: JSON | None = None, **status: Any) -> JSON:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": 2, **(spec or {})},
        "status": status,
    }


def test_a_paused_deployment_is_suspended() -> None:
    assert assess(deployment(spec={"paused": True})) == Health("Suspended", "Deployment is paused")


def test_a_deployment_whose_generation_is_not_observed_is_progressing() -> None:
    health = assess(deployment(generation=3, observedGeneration=2))
    assert health is not None and health.status == "Progressing"
    assert health.message.endswith("observed deployment generation less than desired generation")


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ({"updatedReplicas": 1, "replicas": 2}, "1 out of 2 new replicas have been updated..."),
        ({"updatedReplicas": 2, "replicas": 3}, "1 old replicas are pending termination..."),
        ({"updatedReplicas": 2, "replicas": 2, "availableReplicas": 1}, "1 of 2 updated replicas are available..."),
    ],
)
def test_a_rollout_in_progress_says_what_it_waits_for(status: JSON, message: str) -> None:
    assert assess(deployment(observedGeneration=2, **status)) == Health(
        "Progressing", f"Waiting for rollout to finish: {message}"
    )


def test_a_finished_rollout_is_healthy() -> None:
    assert assess(deployment(observedGeneration=2, updatedReplicas=2, replicas=2, availableReplicas=2)) == Health(
        "Healthy"
    )


def test_a_deployment_past_its_progress_deadline_is_degraded() -> None:
    stuck = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    health = assess(deployment(observedGeneration=2, updatedReplicas=1, replicas=3, conditions=[stuck]))
    assert health == Health("Degraded", 'Deployment "web" exceeded its progress deadline')


def test_a_statefulset_waits_for_ready_pods_then_the_update_revision() -> None:
    base = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "generation": 1},
        "spec": {"replicas": 3},
    }
    waiting = assess({**base, "status": {"observedGeneration": 1, "readyReplicas": 1}})
    assert waiting == Health("Progressing", "Waiting for 2 pods to be ready...")
    rolling = {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1, "currentRevision": "a"}
    assert assess({**base, "status": {**rolling, "updateRevision": "b"}}) == Health(
        "Progressing", "waiting for statefulset rolling update to complete 1 pods at revision b..."
    )
    done = {**rolling, "updateRevision": "a", "currentReplicas": 3}
    assert assess({**base, "status": done}) == Health(
        "Healthy", "statefulset rolling update complete 3 pods at revision a..."
    )
    assert assess({**base, "status": {}}) == Health(
        "Progressing", "Waiting for statefulset spec update to be observed..."
    )


def test_a_daemonset_waits_for_updated_and_available_pods() -> None:
    base = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "generation": 1}, "spec": {}}
    status = {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}
    assert assess({**base, "status": status}) == Health(
        "Progressing", 'Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...'
    )
    assert assess({**base, "status": {**status, "numberAvailable": 3}}) == Health("Healthy")


def pod(phase: str, policy: str = "Always", **status: Any) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"restartPolicy": policy},
        "status": {"phase": phase, **status},
    }


def test_a_pod_waiting_on_a_failing_image_pull_is_degraded() -> None:
    waiting = {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}
    assert assess(pod("Pending", containerStatuses=[waiting])) == Health("Degraded", "Back-off pulling image")


def test_pods_by_phase_and_readiness() -> None:
    ready = {"type": "Ready", "status": "True"}
    assert assess(pod("Running", conditions=[ready])).status == "Healthy"
    assert assess(pod("Running")).status == "Progressing"
    assert assess(pod("Running", policy="Never", conditions=[ready])).status == "Progressing"
    assert assess(pod("Succeeded")).status == "Healthy"
    assert assess(pod("Pending")).status == "Progressing"
    crashed = {"name": "c", "state": {"terminated": {"exitCode": 2}}}
    assert assess(pod("Failed", containerStatuses=[crashed])) == Health(
        "Degraded", 'container "c" failed with exit code 2'
    )


def job(*conditions: JSON) -> JSON:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "status": {"conditions": list(conditions)},
    }


def test_jobs_by_their_conditions() -> None:
    assert assess(job()).status == "Progressing"
    assert assess(job({"type": "Complete", "status": "True"})).status == "Healthy"
    assert assess(job({"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"})) == Health(
        "Degraded", "BackoffLimitExceeded"
    )
    suspended = assess(job({"type": "Suspended", "status": "True"}))
    assert suspended is not None and suspended.status == "Suspended" and suspended.aggregate_as == "Healthy"


def test_services_ingresses_and_claims() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}}
    assert assess(service) == Health("Healthy")
    balancer = {**service, "spec": {"type": "LoadBalancer"}}
    assert assess(balancer) == Health("Progressing")
    assert assess({**balancer, "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}}) == Health("Healthy")
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"}}
    assert assess(ingress) == Health("Progressing")
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"}}
    assert assess({**claim, "status": {"phase": "Bound"}}) == Health("Healthy")
    assert assess({**claim, "status": {"phase": "Pending"}}) == Health("Healthy", "Waiting for consumer")
    assert assess({**claim, "status": {"phase": "Lost"}}) == Health("Degraded")


def test_kinds_without_a_check_have_no_health_and_deletion_is_progressing() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert assess(config) is None
    going = {**config, "metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert assess(going) == Health("Progressing", "Pending deletion")


def test_malformed_status_is_unknown_or_ignored_never_an_exception() -> None:
    odd = deployment(observedGeneration=2, conditions=["x"], updatedReplicas="two")
    assert assess(odd) == Health(
        "Progressing", "Waiting for rollout to finish: 0 out of 2 new replicas have been updated..."
    )
    health = assess({**deployment(), "status": "broken"})
    assert health is not None and health.status == "Unknown" and health.message.startswith("failed to assess health")


def test_the_app_takes_the_worst_health_of_its_live_resources() -> None:
    healthy, progressing, degraded = Health("Healthy"), Health("Progressing"), Health("Degraded")
    assert aggregate([healthy, progressing, degraded], [True, True, True]) == "Degraded"
    assert aggregate([healthy, None], [True, True]) == "Healthy"
    assert aggregate([healthy, Health("Missing")], [True, False]) == "Healthy", "missing objects do not count"
    assert aggregate([Health("Missing"), Health("Missing")], [False, False]) == "Missing"
    assert aggregate([Health("Suspended", aggregate_as="Healthy")], [True]) == "Healthy"
    assert aggregate([], []) == "Healthy"
    assert is_worse("Progressing", "Missing") and not is_worse("Degraded", "Missing")
