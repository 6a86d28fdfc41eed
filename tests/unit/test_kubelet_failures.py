"""How the simulated kubelet fails, with the real reasons, messages, events and back-off delays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_kubelet_support import OPTS, Cluster, container


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    started = Cluster(tmp_path)
    yield started
    started.close()


MISSING = "ghcr.io/driftlab/podinfo:9.9.9"


def crashing(code: int = 3) -> dict:
    return container("app", "busybox:1.36", command=["sh", "-c", f"echo bye; exit {code}"])


def test_an_unknown_tag_is_ErrImagePull_then_ImagePullBackOff(cluster: Cluster) -> None:
    cluster.create_pod("bad", container("app", MISSING))
    cluster.advance(3)
    assert cluster.state("bad") == ("waiting", "ErrImagePull")
    message = cluster.container_status("bad")["state"]["waiting"]["message"]
    assert message.startswith('rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/driftlab')
    assert cluster.events("bad")[-2:] == [
        ("Warning", "Failed", f'Failed to pull image "{MISSING}": {message}'),
        ("Warning", "Failed", "Error: ErrImagePull"),
    ]
    cluster.advance(5)
    assert cluster.state("bad") == ("waiting", "ImagePullBackOff")
    waiting = cluster.container_status("bad")["state"]["waiting"]
    assert waiting["message"] == f'Back-off pulling image "{MISSING}": ErrImagePull: {message}'
    assert ("Normal", "BackOff", f'Back-off pulling image "{MISSING}"') in cluster.events("bad")
    assert ("Warning", "Failed", "Error: ImagePullBackOff") in cluster.events("bad")
    assert cluster.status("bad")["phase"] == "Pending"


def test_image_pulls_are_retried_with_a_doubling_back_off(cluster: Cluster) -> None:
    cluster.create_pod("bad", container("app", MISSING))
    cluster.advance(12.5)  # pulled (and failed) at 3; back-off 10s
    assert cluster.count("bad", "Pulling") == 1
    cluster.advance(0.5)
    assert cluster.count("bad", "Pulling") == 2
    cluster.advance(21.5)  # failed again at 15; back-off 20s
    assert cluster.count("bad", "Pulling") == 2
    cluster.advance(0.5)
    assert cluster.count("bad", "Pulling") == 3


def test_an_invalid_image_name_is_final(cluster: Cluster) -> None:
    cluster.create_pod("bad", container("app", "nginx:Not A Tag"))
    cluster.advance(2)
    assert cluster.state("bad") == ("waiting", "InvalidImageName")
    assert [r for _, r, _ in cluster.events("bad")] == ["Scheduled", "InspectFailed", "Failed"]
    cluster.advance(60)
    assert cluster.count("bad", "InspectFailed") == 1


def test_pull_policy_Never_needs_the_image_on_the_node(cluster: Cluster) -> None:
    cluster.create_pod("never", container(imagePullPolicy="Never"))
    cluster.advance(2)
    assert cluster.state("never") == ("waiting", "ErrImageNeverPull")
    message = 'Container image "nginx:1.25" is not present with pull policy of Never'
    assert ("Warning", "ErrImageNeverPull", message) in cluster.events("never")


def test_a_crashing_container_restarts_with_a_growing_back_off(cluster: Cluster) -> None:
    cluster.create_pod("crash", crashing())
    cluster.advance(7)  # started at 5 and exited; restarted at once; started at 7 and exited again
    entry = cluster.container_status("crash")
    assert entry["restartCount"] == 1
    uid = cluster.pod("crash")["metadata"]["uid"]
    assert entry["state"]["waiting"] == {
        "reason": "CrashLoopBackOff",
        "message": f"back-off 10s restarting failed container=app pod=crash_default({uid})",
    }
    last = entry["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"], last["finishedAt"]) == (3, "Error", "2024-05-01T10:00:07Z")
    assert last["containerID"] == entry["containerID"]
    message = f"Back-off restarting failed container app in pod crash_default({uid})"
    assert ("Warning", "BackOff", message) in cluster.events("crash")
    assert cluster.status("crash")["phase"] == "Running"
    cluster.advance(9.5)
    assert cluster.container_status("crash")["restartCount"] == 1
    cluster.advance(0.5)
    assert cluster.container_status("crash")["restartCount"] == 2
    cluster.advance(2)
    assert "back-off 20s" in cluster.container_status("crash")["state"]["waiting"]["message"]
    cluster.advance(20)
    assert cluster.container_status("crash")["restartCount"] == 3
    cluster.advance(2)
    assert "back-off 40s" in cluster.container_status("crash")["state"]["waiting"]["message"]
    cluster.advance(42)
    assert "back-off 40s" in cluster.container_status("crash")["state"]["waiting"]["message"]


def test_restart_policy_Never_leaves_the_pod_Failed(cluster: Cluster) -> None:
    cluster.create_pod("once", crashing(), restartPolicy="Never")
    cluster.advance(10)
    status = cluster.status("once")
    assert status["phase"] == "Failed"
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")
    assert status["containerStatuses"][0]["restartCount"] == 0
    ready = cluster.condition("once", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PodCompleted")
    assert cluster.condition("once", "PodReadyToStartContainers")["status"] == "False"


@pytest.mark.parametrize("policy", ["Never", "OnFailure"])
def test_a_container_that_exits_0_completes_the_pod(cluster: Cluster, policy: str) -> None:
    cluster.create_pod("job", crashing(0), restartPolicy=policy)
    cluster.advance(10)
    status = cluster.status("job")
    assert status["phase"] == "Succeeded"
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


def test_OnFailure_restarts_a_failed_container(cluster: Cluster) -> None:
    cluster.create_pod("retry", crashing(1), restartPolicy="OnFailure")
    cluster.advance(10)
    assert cluster.status("retry")["phase"] == "Running"
    assert cluster.state("retry") == ("waiting", "CrashLoopBackOff")


def test_a_missing_configmap_is_CreateContainerConfigError_until_it_appears(cluster: Cluster) -> None:
    env = [{"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}}]
    cluster.create_pod("cfg", container("app", "ghcr.io/driftlab/podinfo:2.0.0", env=env))
    cluster.advance(4)
    assert cluster.state("cfg") == ("waiting", "CreateContainerConfigError")
    assert cluster.container_status("cfg")["state"]["waiting"]["message"] == 'configmap "settings" not found'
    assert cluster.events("cfg")[-1] == ("Warning", "Failed", 'Error: configmap "settings" not found')
    cluster.advance(60)
    assert cluster.count("cfg", "Failed") == 1  # nothing polls
    cluster.configmap("settings", size="xl")
    assert cluster.container_status("cfg")["state"]["waiting"]["message"] == (
        "couldn't find key color in ConfigMap default/settings"
    )
    cluster.configmap("other")  # any change in the namespace is a reason to try again
    assert cluster.count("cfg", "Failed") == 3
    cluster._run(lambda: cluster.api.delete(cluster.configmaps, "default", "settings", {}))
    cluster.configmap("settings", color="blue")
    cluster.advance(2)
    assert cluster.state("cfg") == ("running", "")
    assert cluster.reasons("cfg")[-2:] == ["Created", "Started"]


def test_a_volume_that_cannot_be_mounted_holds_the_pod_in_ContainerCreating(cluster: Cluster) -> None:
    mount = [{"name": "cfg", "mountPath": "/etc/cfg"}]
    volumes = [{"name": "cfg", "configMap": {"name": "site"}}]
    cluster.create_pod("mnt", container(volumeMounts=mount), volumes=volumes)
    cluster.advance(5)
    assert cluster.state("mnt") == ("waiting", "ContainerCreating")
    assert "podIP" not in cluster.status("mnt")
    assert cluster.condition("mnt", "PodReadyToStartContainers")["status"] == "False"
    message = 'MountVolume.SetUp failed for volume "cfg" : configmap "site" not found'
    assert cluster.events("mnt")[-1] == ("Warning", "FailedMount", message)
    cluster.configmap("site", **{"index.html": "hello"})
    cluster.advance(4)
    assert cluster.state("mnt") == ("running", "")


def test_a_failing_liveness_probe_restarts_the_container(cluster: Cluster) -> None:
    probe = {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 2}
    script = "touch /tmp/healthy; sleep 3; rm -f /tmp/healthy; sleep 600"
    cluster.create_pod("live", container("app", "busybox:1.36", args=["/bin/sh", "-c", script], livenessProbe=probe))
    cluster.advance(8)  # started at 5; the file is gone at 8
    assert cluster.count("live", "Unhealthy") == 1
    cluster.advance(1)
    failed = "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory"
    assert ("Warning", "Unhealthy", failed) in cluster.events("live")
    assert ("Normal", "Killing", "Container app failed liveness probe, will be restarted") in cluster.events("live")
    cluster.advance(3)  # SIGTERM ends a shell only when it traps it: killed after the 3s terminate time
    assert cluster.container_status("live")["state"]["terminated"]["exitCode"] == 137
    cluster.advance(2)
    entry = cluster.container_status("live")
    assert entry["restartCount"] == 1 and "running" in entry["state"]
    assert entry["lastState"]["terminated"]["exitCode"] == 137


def test_a_failing_readiness_probe_keeps_the_pod_unready(cluster: Cluster) -> None:
    probe = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2}
    cluster.create_pod("web", container(readinessProbe=probe))
    cluster.advance(10)
    assert cluster.state("web") == ("running", "")
    assert cluster.container_status("web")["ready"] is False
    assert cluster.condition("web", "Ready")["status"] == "False"
    failed = "Readiness probe failed: " + (
        f'Get "http://{cluster.status("web")["podIP"]}:8080/": dial tcp {cluster.status("web")["podIP"]}:8080: '
        "connect: connection refused"
    )
    assert ("Warning", "Unhealthy", failed) in cluster.events("web")
    assert cluster.count("web", "Unhealthy") == 3  # at 5, 7 and 9
    cluster.advance(4)
    assert cluster.count("web", "Unhealthy") == 5


def test_readiness_follows_the_app_warming_up(cluster: Cluster) -> None:
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    cluster.create_pod("slow", container("app", "ghcr.io/driftlab/slow-ready:1.0.0", readinessProbe=probe))
    cluster.advance(9)  # started at 5; warm after 5 more seconds
    assert cluster.container_status("slow")["ready"] is False
    cluster.advance(1)
    assert cluster.container_status("slow")["ready"] is True
    assert cluster.condition("slow", "Ready")["lastTransitionTime"] == "2024-05-01T10:00:10Z"


def test_a_missing_program_is_a_StartError(cluster: Cluster) -> None:
    cluster.create_pod("nope", container("app", "busybox:1.36", command=["myapp"]))
    cluster.advance(5)
    assert cluster.container_status("nope")["state"]["terminated"]["reason"] == "StartError"
    cluster.advance(2)
    assert cluster.state("nope") == ("waiting", "CrashLoopBackOff")
    last = cluster.container_status("nope")["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"], last["startedAt"]) == ("StartError", 128, "1970-01-01T00:00:00Z")
    failed = [m for t, r, m in cluster.events("nope") if r == "Failed"]
    assert failed and failed[0].startswith("Error: failed to create containerd task")
    assert "Started" not in cluster.reasons("nope")


def test_a_failing_init_container_fails_a_Never_pod(cluster: Cluster) -> None:
    init = [container("setup", "busybox:1.36", command=["sh", "-c", "exit 1"])]
    cluster.create_pod("init", container(), initContainers=init, restartPolicy="Never")
    cluster.advance(8)
    status = cluster.status("init")
    assert status["phase"] == "Failed"
    assert status["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}


def test_a_failing_init_container_crash_loops_and_holds_the_pod(cluster: Cluster) -> None:
    init = [container("setup", "busybox:1.36", command=["sh", "-c", "exit 1"])]
    cluster.create_pod("init", container(), initContainers=init)
    cluster.advance(8)
    status = cluster.status("init")
    assert status["phase"] == "Pending"
    assert status["initContainerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cluster.condition("init", "Initialized")["status"] == "False"


def test_a_container_over_its_memory_limit_is_OOMKilled(cluster: Cluster) -> None:
    cluster.create_pod("oom", container(resources={"limits": {"memory": "4Mi"}}))
    cluster.advance(8)
    assert cluster.state("oom") == ("running", "")
    last = cluster.container_status("oom")["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("OOMKilled", 137)
    assert cluster.container_status("oom")["resources"]["limits"] == {"memory": "4Mi"}


def test_a_pod_out_of_its_active_deadline_is_stopped_and_Failed(cluster: Cluster) -> None:
    cluster.create_pod("late", container(), activeDeadlineSeconds=8)
    cluster.advance(8.5)
    assert cluster.state("late") == ("running", "")
    cluster.advance(0.5)  # started at 1
    status = cluster.status("late")
    message = "Pod was active on the node longer than the specified deadline"
    assert (status["phase"], status["reason"], status["message"]) == ("Failed", "DeadlineExceeded", message)
    assert ("Normal", "DeadlineExceeded", message) in cluster.events("late")
    assert "terminated" in cluster.container_status("late")["state"]


def test_a_startup_probe_holds_back_the_other_probes(cluster: Cluster) -> None:
    startup = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1, "failureThreshold": 30}
    slow = container("app", "ghcr.io/driftlab/slow-ready:1.0.0", startupProbe=startup)
    cluster.create_pod("slow", slow)
    cluster.advance(9)  # started at 5; the app answers from 10
    entry = cluster.container_status("slow")
    assert (entry["started"], entry["ready"]) == (False, False)
    assert cluster.count("slow", "Unhealthy") == 5
    cluster.advance(1)
    entry = cluster.container_status("slow")
    assert (entry["started"], entry["ready"]) == (True, True)


def test_a_startup_probe_that_never_passes_restarts_the_container(cluster: Cluster) -> None:
    startup = {"tcpSocket": {"port": 9999}, "periodSeconds": 1, "failureThreshold": 3}
    cluster.create_pod("stuck", container(startupProbe=startup))
    cluster.advance(7)  # started at 5: fails at 5, 6 and 7
    message = "Container app failed startup probe, will be restarted"
    assert ("Normal", "Killing", message) in cluster.events("stuck")


def test_a_new_image_on_a_running_pod_restarts_its_container(cluster: Cluster) -> None:
    cluster.create_pod("web")
    cluster.advance(5)
    pod = cluster.pod("web")
    pod["spec"]["containers"][0]["image"] = "nginx:1.26"
    cluster._run(lambda: cluster.api.update(cluster.pods, "default", "web", pod, OPTS))
    cluster.settle()
    assert ("Normal", "Killing", "Container app definition changed, will be restarted") in cluster.events("web")
    cluster.advance(10)
    entry = cluster.container_status("web")
    assert (entry["image"], entry["restartCount"]) == ("docker.io/library/nginx:1.26", 1)
    assert "running" in entry["state"]


def test_sidecars_start_before_the_containers_and_stop_when_they_finish(cluster: Cluster) -> None:
    sidecar = container("proxy", "busybox:1.36", command=["sh", "-c", "sleep 3600"], restartPolicy="Always")
    job = container("job", "busybox:1.36", command=["sh", "-c", "sleep 2"])
    cluster.create_pod("batch", job, initContainers=[sidecar], restartPolicy="Never")
    cluster.advance(5)
    assert "running" in cluster.container_status("batch", 0, "initContainerStatuses")["state"]
    assert cluster.condition("batch", "Initialized")["status"] == "True"
    cluster.advance(10)
    status = cluster.status("batch")
    assert status["phase"] == "Succeeded"
    assert "terminated" in status["initContainerStatuses"][0]["state"]
    assert ("Normal", "Killing", "Stopping container proxy") in cluster.events("batch")
