"""Jobs and CronJobs through the real kubectl, with the simulated kubelet running the pods."""

from __future__ import annotations

import json

from .conftest import Cluster


def job_manifest(name: str, command: list[str], **spec: object) -> str:
    return json.dumps(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "main", "image": "busybox:1.37", "command": command}],
                    }
                },
                **spec,
            },
        }
    )


def test_a_job_completes(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "job", "hello", "-n", ns, "--image=busybox:1.37", "--", "echo", "hi")
    cluster.kubectl("wait", "--for=condition=complete", "job/hello", "-n", ns, "--timeout=30s")
    row = cluster.kubectl("get", "job", "hello", "-n", ns).stdout.splitlines()[1].split()
    assert row[:3] == ["hello", "Complete", "1/1"]
    status = cluster.get_json("job", "hello", "-n", ns)["status"]
    assert status["succeeded"] == 1 and status["completionTime"] and status["startTime"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert cluster.kubectl("logs", "job/hello", "-n", ns).stdout == "hi\n"
    [pod] = cluster.get_json("pods", "-n", ns, "-l", "batch.kubernetes.io/job-name=hello")["items"]
    assert pod["status"]["phase"] == "Succeeded"
    assert "batch.kubernetes.io/job-tracking" not in (pod["metadata"].get("finalizers") or [])


def test_completions_with_parallelism(cluster: Cluster, ns: str) -> None:
    manifest = job_manifest("batch", ["echo", "done"], completions=3, parallelism=2)
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=manifest)
    cluster.kubectl("wait", "--for=condition=complete", "job/batch", "-n", ns, "--timeout=30s")
    assert cluster.kubectl("get", "job", "batch", "-n", ns).stdout.splitlines()[1].split()[2] == "3/3"
    pods = cluster.get_json("pods", "-n", ns, "-l", "batch.kubernetes.io/job-name=batch")["items"]
    assert len(pods) == 3


def test_a_failing_job_stops_at_its_backoff_limit(cluster: Cluster, ns: str) -> None:
    manifest = job_manifest("broken", ["sh", "-c", "echo boom; exit 3"], backoffLimit=1)
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=manifest)
    cluster.kubectl("wait", "--for=condition=failed", "job/broken", "-n", ns, "--timeout=30s")
    job = cluster.get_json("job", "broken", "-n", ns)
    assert job["status"]["failed"] == 2
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert cluster.kubectl("get", "job", "broken", "-n", ns).stdout.splitlines()[1].split()[1] == "Failed"
    events = cluster.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.kind=Job").stdout
    assert "BackoffLimitExceeded" in events


def test_finished_jobs_expire_after_their_ttl(cluster: Cluster, ns: str) -> None:
    manifest = job_manifest("brief", ["echo", "bye"], ttlSecondsAfterFinished=0)
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=manifest)
    cluster.kubectl("wait", "--for=delete", "job/brief", "-n", ns, "--timeout=30s")
    assert cluster.get_json("pods", "-n", ns, "-l", "batch.kubernetes.io/job-name=brief")["items"] == []


def test_a_cronjob_records_last_successful_time(cluster: Cluster, ns: str) -> None:
    cluster.kubectl(
        "create", "cronjob", "tick", "-n", ns, "--image=busybox:1.37", "--schedule=*/30 * * * *", "--", "echo", "tick"
    )
    cluster.kubectl("create", "job", "tick-now", "-n", ns, "--from=cronjob/tick")
    cluster.kubectl("wait", "--for=condition=complete", "job/tick-now", "-n", ns, "--timeout=30s")
    cluster.kubectl("wait", "--for=jsonpath={.status.lastSuccessfulTime}", "cronjob/tick", "-n", ns, "--timeout=30s")
    job = cluster.get_json("job", "tick-now", "-n", ns)
    cronjob = cluster.get_json("cronjob", "tick", "-n", ns)
    assert cronjob["status"]["lastSuccessfulTime"] == job["status"]["completionTime"]
    assert "active" not in cronjob["status"]
    row = cluster.kubectl("get", "cronjob", "tick", "-n", ns).stdout.splitlines()[1].split()
    assert row[:5] == ["tick", "*/30", "*", "*", "*"]
    assert cluster.kubectl("logs", "job/tick-now", "-n", ns).stdout == "tick\n"
