"""describe, events, logs, and the verbs the embedded cluster cannot serve (exec, port-forward)."""

from __future__ import annotations

import json
import re

from .conftest import Cluster


def test_describe_shows_object_and_its_events(cluster: Cluster, ns: str, write) -> None:
    cluster.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx:1.25")
    uid = cluster.get_json("deploy", "web", "-n", ns)["metadata"]["uid"]
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.1", "namespace": ns},
        "involvedObject": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "namespace": ns,
            "uid": uid,
        },
        "reason": "ScalingReplicaSet",
        "message": "Scaled up replica set web-123 from 0 to 1",
        "type": "Normal",
        "source": {"component": "deployment-controller"},
        "count": 1,
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
    }
    other = json.loads(json.dumps(event))
    other["metadata"]["name"] = "other.1"
    other["involvedObject"].update(name="other", uid="x")
    other["message"] = "unrelated"
    cluster.kubectl("create", "-f", write(json.dumps(event), "e1.json"))
    cluster.kubectl("create", "-f", write(json.dumps(other), "e2.json"))
    out = cluster.kubectl("describe", "deploy", "web", "-n", ns).stdout
    assert "Name:" in out and "web" in out and "nginx:1.25" in out
    assert "Scaled up replica set web-123 from 0 to 1" in out
    assert "unrelated" not in out
    events = cluster.kubectl("get", "events", "-n", ns).stdout.splitlines()
    assert events[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert any("deployment/web" in line and "ScalingReplicaSet" in line for line in events)


def test_exec_and_port_forward_name_the_kind_backend(cluster: Cluster, ns: str, write) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": ns},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    cluster.kubectl("create", "-f", write(json.dumps(pod), "pod.json"))
    result = cluster.kubectl("exec", "p", "-n", ns, "--", "ls", check=False, timeout=30)
    assert result.returncode == 1
    assert "--backend kind" in result.stderr
    cluster.kubectl(
        "patch",
        "pod",
        "p",
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"phase":"Running"}}',
    )
    result = cluster.kubectl("port-forward", "pod/p", "-n", ns, "8080:80", check=False, timeout=30)
    assert result.returncode == 1 and "--backend kind" in result.stderr


def test_logs_of_a_container_that_has_not_started(cluster: Cluster, ns: str, write) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": ns},
        "spec": {"containers": [{"name": "c", "image": "ghcr.io/driftlab/podinfo:9.9.9"}]},
    }
    cluster.kubectl("create", "-f", write(json.dumps(pod), "pod.json"))
    cluster.kubectl(
        "wait",
        "pod/p",
        "-n",
        ns,
        "--timeout=20s",
        "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ImagePullBackOff",
    )
    result = cluster.kubectl("logs", "p", "-n", ns, check=False)
    assert result.returncode == 1
    # With zero timings the kubelet retries the pull at once, so the pod may be in either waiting reason.
    assert re.search(
        r'container "c" in pod "p" is waiting to start: (trying and failing to pull image|image can\'t be pulled)',
        result.stderr,
    )
    wrong = cluster.kubectl("logs", "p", "-c", "nope", "-n", ns, check=False)
    assert wrong.returncode == 1 and "container nope is not valid for pod p" in wrong.stderr
