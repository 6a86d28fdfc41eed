"""StatefulSets and DaemonSets through the real kubectl, with the simulated kubelet running the pods."""

from __future__ import annotations

import json

from .conftest import Cluster

GATE = "example.com/warmed-up"


def statefulset(replicas: int = 3, gated: bool = True, image: str = "nginx:1.27") -> str:
    pod_spec: dict = {"containers": [{"name": "db", "image": image}]}
    if gated:
        pod_spec["readinessGates"] = [{"conditionType": GATE}]
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": replicas,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": pod_spec},
            },
        }
    )


def warm_up(cluster: Cluster, ns: str, pod: str) -> None:
    """Make a pod Ready by setting its readiness gate, so the test decides when the next ordinal may start."""
    patch = json.dumps({"status": {"conditions": [{"type": GATE, "status": "True"}]}})
    cluster.kubectl("patch", "pod", pod, "-n", ns, "--subresource=status", "--type=strategic", "-p", patch)
    cluster.kubectl("wait", "--for=condition=Ready", f"pod/{pod}", "-n", ns, "--timeout=30s")


def pod_names(cluster: Cluster, ns: str, selector: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in cluster.get_json("pods", "-n", ns, "-l", selector)["items"])


def test_statefulset_pods_start_in_order(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=statefulset())
    cluster.kubectl("wait", "--for=jsonpath={.status.phase}=Running", "pod/db-0", "-n", ns, "--timeout=30s")
    assert pod_names(cluster, ns, "app=db") == ["db-0"]  # db-1 waits for db-0 to be Ready
    warm_up(cluster, ns, "db-0")
    cluster.kubectl("wait", "--for=create", "pod/db-1", "-n", ns, "--timeout=30s")
    cluster.kubectl("wait", "--for=jsonpath={.status.phase}=Running", "pod/db-1", "-n", ns, "--timeout=30s")
    assert pod_names(cluster, ns, "app=db") == ["db-0", "db-1"]
    warm_up(cluster, ns, "db-1")
    cluster.kubectl("wait", "--for=create", "pod/db-2", "-n", ns, "--timeout=30s")
    warm_up(cluster, ns, "db-2")
    cluster.kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=30s")

    sts = cluster.get_json("statefulset", "db", "-n", ns)
    status = sts["status"]
    assert status["replicas"] == 3 and status["readyReplicas"] == 3 and status["availableReplicas"] == 3
    assert status["currentRevision"] == status["updateRevision"] and status["observedGeneration"] == 1
    assert cluster.kubectl("get", "sts", "db", "-n", ns).stdout.splitlines()[1].split()[:2] == ["db", "3/3"]
    pod = cluster.get_json("pod", "db-1", "-n", ns)
    labels = pod["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "db-1"
    assert labels["apps.kubernetes.io/pod-index"] == "1"
    assert labels["controller-revision-hash"] == status["updateRevision"]
    assert pod["spec"]["hostname"] == "db-1" and pod["spec"]["subdomain"] == "db"

    created = _pod_events(cluster, ns, "create")
    assert created == [
        "create Pod db-0 in StatefulSet db successful",
        "create Pod db-1 in StatefulSet db successful",
        "create Pod db-2 in StatefulSet db successful",
    ]


def test_statefulset_scales_down_from_the_highest_ordinal(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=statefulset(gated=False))
    cluster.kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=30s")
    cluster.kubectl("scale", "statefulset", "db", "-n", ns, "--replicas=1")
    cluster.kubectl("wait", "--for=delete", "pod/db-1", "-n", ns, "--timeout=30s")
    assert pod_names(cluster, ns, "app=db") == ["db-0"]
    assert _pod_events(cluster, ns, "delete") == [
        "delete Pod db-2 in StatefulSet db successful",
        "delete Pod db-1 in StatefulSet db successful",
    ]


def test_statefulset_rolling_update(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=statefulset(gated=False))
    cluster.kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=30s")
    before = cluster.get_json("statefulset", "db", "-n", ns)["status"]["currentRevision"]
    cluster.kubectl("set", "image", "statefulset/db", "-n", ns, "db=nginx:1.26")
    cluster.kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=30s")
    cluster.kubectl("wait", "--for=jsonpath={.status.updatedReplicas}=3", "statefulset/db", "-n", ns, "--timeout=30s")
    status = cluster.get_json("statefulset", "db", "-n", ns)["status"]
    assert status["updateRevision"] != before
    cluster.kubectl(
        "wait", f"--for=jsonpath={{.status.currentRevision}}={status['updateRevision']}", "statefulset/db", "-n", ns
    )
    images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in _pods(cluster, ns, "app=db")}
    assert images == {"db-0": "nginx:1.26", "db-1": "nginx:1.26", "db-2": "nginx:1.26"}
    deleted = _pod_events(cluster, ns, "delete")
    assert deleted == [f"delete Pod db-{n} in StatefulSet db successful" for n in (2, 1, 0)]


def test_daemonset_runs_one_pod_on_the_node(cluster: Cluster, ns: str) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "agent", "image": "nginx:1.27"}]},
            },
        },
    }
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(manifest))
    cluster.kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=30s")
    [pod] = _pods(cluster, ns, "app=agent")
    assert pod["spec"]["nodeName"] == "driftlab-control-plane"
    assert pod["status"]["phase"] == "Running"
    row = cluster.kubectl("get", "ds", "agent", "-n", ns).stdout.splitlines()[1].split()
    assert row[:6] == ["agent", "1", "1", "1", "1", "1"]
    status = cluster.get_json("ds", "agent", "-n", ns)["status"]
    assert status["desiredNumberScheduled"] == 1 and status["numberAvailable"] == 1
    assert status["observedGeneration"] == 1

    cluster.kubectl("set", "image", "daemonset/agent", "-n", ns, "agent=nginx:1.26")
    cluster.kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=30s")
    cluster.kubectl("wait", "--for=delete", f"pod/{pod['metadata']['name']}", "-n", ns, "--timeout=30s")
    [replacement] = _pods(cluster, ns, "app=agent")
    assert replacement["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert replacement["metadata"]["labels"]["pod-template-generation"] == "2"


def _pods(cluster: Cluster, ns: str, selector: str) -> list[dict]:
    return cluster.get_json("pods", "-n", ns, "-l", selector)["items"]


def _pod_events(cluster: Cluster, ns: str, verb: str) -> list[str]:
    """The StatefulSet's create or delete events, in the order they were recorded."""
    events = cluster.get_json("events", "-n", ns, "--field-selector", "involvedObject.kind=StatefulSet")["items"]
    events.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [e["message"] for e in events if e["message"].startswith(f"{verb} Pod")]
