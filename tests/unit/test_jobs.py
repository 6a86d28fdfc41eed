"""Jobs run pods to completion: counts, conditions as in 1.37, retries with back-off, deadlines, indexes, TTL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.cluster.embedded.bootstrap import ensure_system_objects
from engine.cluster.embedded.controllers.jobs import TRACKING_FINALIZER, JobController, format_indexes, parse_indexes
from engine.cluster.embedded.daemon import build_api
from engine.cluster.embedded.rest import Api, WriteOptions
from engine.cluster.embedded.settings import ClusterSettings, PodTimings

OPTS = WriteOptions(field_manager="test")
Obj = dict[str, Any]
KEY = ("default", "pi")
FAST = ClusterSettings(timings=PodTimings().scaled(0))


@pytest.fixture
def api(tmp_path: Path) -> Api:
    api = build_api(tmp_path)
    ensure_system_objects(api)
    return api


def rtype(api: Api, plural: str, group: str = "") -> Any:
    found = api.catalog.lookup(group, "v1", plural)
    assert found is not None
    return found


def make_job(api: Api, **spec: Any) -> Obj:
    body = {
        "metadata": {"name": "pi"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "pi", "image": "busybox:1.37", "command": ["echo", "hi"]}],
                }
            },
            **spec,
        },
    }
    job, _ = api.create(rtype(api, "jobs", "batch"), "default", body, OPTS)
    return job


def job_of(api: Api) -> Obj:
    return api.get(rtype(api, "jobs", "batch"), "default", "pi")


def pods(api: Api) -> list[Obj]:
    return sorted(api.list(rtype(api, "pods"), "default").items, key=lambda p: p["metadata"]["name"])


def set_phase(api: Api, pod: Obj, phase: str, ready: bool = False) -> None:
    live = api.get(rtype(api, "pods"), "default", pod["metadata"]["name"])
    live["status"] = {"phase": phase, "conditions": [{"type": "Ready", "status": str(ready)}]}
    api.update(rtype(api, "pods"), "default", pod["metadata"]["name"], live, OPTS, subresource="status")


def conditions(api: Api) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c["reason"]) for c in job_of(api)["status"].get("conditions", [])]


def events(api: Api) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in api.list(rtype(api, "events"), "default").items]


def test_a_job_runs_a_pod_to_completion(api: Api) -> None:
    controller = JobController(api, FAST)
    job = make_job(api)
    controller.reconcile(KEY)
    [pod] = pods(api)
    assert pod["metadata"]["name"].startswith("pi-")
    assert TRACKING_FINALIZER in pod["metadata"]["finalizers"]
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "pi"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    status = job_of(api)["status"]
    assert status["active"] == 1 and status["ready"] == 0 and status["terminating"] == 0
    assert status["startTime"] and status["uncountedTerminatedPods"] == {}
    set_phase(api, pod, "Succeeded")
    controller.reconcile(KEY)
    status = job_of(api)["status"]
    assert status["succeeded"] == 1 and "active" not in status
    assert conditions(api) == [
        ("SuccessCriteriaMet", "True", "CompletionsReached"),
        ("Complete", "True", "CompletionsReached"),
    ]
    assert status["completionTime"] == status["conditions"][1]["lastTransitionTime"]
    assert TRACKING_FINALIZER not in (pods(api)[0]["metadata"].get("finalizers") or [])
    assert ("Completed", "Job completed") in events(api)
    assert ("SuccessfulCreate", f"Created pod: {pod['metadata']['name']}") in events(api)


def test_parallelism_and_completions(api: Api) -> None:
    controller = JobController(api, FAST)
    make_job(api, completions=3, parallelism=2)
    controller.reconcile(KEY)
    assert len(pods(api)) == 2
    set_phase(api, pods(api)[0], "Succeeded")
    controller.reconcile(KEY)
    assert job_of(api)["status"]["succeeded"] == 1 and job_of(api)["status"]["active"] == 2
    for pod in pods(api):
        if pod["status"].get("phase") != "Succeeded":
            set_phase(api, pod, "Succeeded")
    controller.reconcile(KEY)
    status = job_of(api)["status"]
    assert status["succeeded"] == 3 and ("Complete", "True", "CompletionsReached") in conditions(api)
    assert len(pods(api)) == 3


def test_failures_are_retried_up_to_the_backoff_limit(api: Api) -> None:
    controller = JobController(api, FAST)
    make_job(api, backoffLimit=1)
    controller.reconcile(KEY)
    set_phase(api, pods(api)[0], "Failed")
    controller.reconcile(KEY)
    assert job_of(api)["status"]["failed"] == 1 and len(pods(api)) == 2
    newest = next(p for p in pods(api) if p.get("status", {}).get("phase") in (None, "Pending"))
    set_phase(api, newest, "Failed")
    controller.reconcile(KEY)
    status = job_of(api)["status"]
    assert status["failed"] == 2
    assert conditions(api) == [
        ("FailureTarget", "True", "BackoffLimitExceeded"),
        ("Failed", "True", "BackoffLimitExceeded"),
    ]
    assert status["conditions"][1]["message"] == "Job has reached the specified backoff limit"
    assert "completionTime" not in status
    assert ("BackoffLimitExceeded", "Job has reached the specified backoff limit") in events(api)


def test_a_failed_pod_is_replaced_after_a_back_off(api: Api) -> None:
    async def scenario() -> None:
        controller = JobController(api)  # default timings: the first back-off is 10 s
        make_job(api)
        controller.reconcile(KEY)
        set_phase(api, pods(api)[0], "Failed")
        controller.reconcile(KEY)
        assert len(pods(api)) == 1 and job_of(api)["status"]["failed"] == 1
        assert "active" not in job_of(api)["status"]

    asyncio.run(scenario())


def test_deleting_a_running_pod_counts_as_a_failure(api: Api) -> None:
    controller = JobController(api, FAST)
    make_job(api)
    controller.reconcile(KEY)
    [pod] = pods(api)
    set_phase(api, pod, "Running", ready=True)
    api.delete(rtype(api, "pods"), "default", pod["metadata"]["name"], None)
    controller.reconcile(KEY)
    [replacement] = pods(api)
    assert replacement["metadata"]["name"] != pod["metadata"]["name"]
    assert job_of(api)["status"]["failed"] == 1


def test_active_deadline(api: Api) -> None:
    async def scenario() -> None:
        controller = JobController(api, FAST)
        make_job(api, activeDeadlineSeconds=0)
        controller.reconcile(KEY)
        controller.reconcile(KEY)
        controller.reconcile(KEY)
        assert conditions(api) == [
            ("FailureTarget", "True", "DeadlineExceeded"),
            ("Failed", "True", "DeadlineExceeded"),
        ]
        assert pods(api) == []

    asyncio.run(scenario())


def test_indexed_jobs(api: Api) -> None:
    controller = JobController(api, FAST)
    make_job(api, completions=3, parallelism=3, completionMode="Indexed")
    controller.reconcile(KEY)
    by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods(api)}
    assert sorted(by_index) == ["0", "1", "2"]
    assert by_index["1"]["spec"]["hostname"] == "pi-1"
    assert by_index["1"]["metadata"]["name"].startswith("pi-1-")
    env = by_index["1"]["spec"]["containers"][0]["env"]
    assert env[-1]["name"] == "JOB_COMPLETION_INDEX"
    set_phase(api, by_index["1"], "Succeeded")
    controller.reconcile(KEY)
    assert job_of(api)["status"]["completedIndexes"] == "1"
    set_phase(api, by_index["2"], "Failed")
    controller.reconcile(KEY)
    restarted = [p for p in pods(api) if p.get("status", {}).get("phase") in (None, "Pending")]
    assert {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in restarted} == {"0", "2"}


def test_index_ranges() -> None:
    assert format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert parse_indexes("0-2,5") == {0, 1, 2, 5}
    assert parse_indexes("") == set()


def test_suspend_and_resume(api: Api) -> None:
    controller = JobController(api, FAST)
    make_job(api, suspend=True)
    controller.reconcile(KEY)
    assert pods(api) == []
    assert conditions(api) == [("Suspended", "True", "JobSuspended")]
    assert "startTime" not in job_of(api)["status"]
    job = job_of(api)
    job["spec"]["suspend"] = False
    api.update(rtype(api, "jobs", "batch"), "default", "pi", job, OPTS)
    controller.reconcile(KEY)
    assert len(pods(api)) == 1
    assert conditions(api) == [("Suspended", "False", "JobResumed")]
    assert job_of(api)["status"]["startTime"]


def test_ttl_after_finished_deletes_the_job(api: Api) -> None:
    controller = JobController(api, FAST)
    make_job(api, ttlSecondsAfterFinished=0)
    controller.reconcile(KEY)
    set_phase(api, pods(api)[0], "Succeeded")
    controller.reconcile(KEY)
    job = api.find(rtype(api, "jobs", "batch"), "default", "pi")
    assert job is None or job["metadata"].get("deletionTimestamp")


def test_a_deleted_job_releases_its_pods(api: Api) -> None:
    controller = JobController(api, FAST)
    make_job(api)
    controller.reconcile(KEY)
    api.delete(rtype(api, "jobs", "batch"), "default", "pi", None)
    controller.reconcile(KEY)
    [pod] = pods(api)
    assert TRACKING_FINALIZER not in (pod["metadata"].get("finalizers") or [])


def test_pod_events_map_to_their_job(api: Api) -> None:
    controller = JobController(api, FAST)
    make_job(api)
    controller.reconcile(KEY)
    assert controller.keys_for("/pods", "MODIFIED", pods(api)[0], None) == [KEY]
