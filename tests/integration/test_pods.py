"""Pods on the embedded cluster's node, through the real kubectl: what a learner sees, and what is stored."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable

from engine import proc

from .conftest import Cluster

NODE = "driftlab-control-plane"
WAIT = "--timeout=30s"


def row(cluster: Cluster, ns: str, name: str, *extra: str) -> dict[str, str]:
    """One line of `kubectl get pod NAME`, by column."""
    header, line = cluster.kubectl("get", "pod", name, "-n", ns, *extra).stdout.splitlines()[:2]
    return dict(zip(re.split(r"\s{2,}", header.strip()), re.split(r"\s{2,}", line.strip()), strict=True))


def apply(cluster: Cluster, ns: str, manifest: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=manifest)


def wait_for(cluster: Cluster, ns: str, name: str, condition: str) -> None:
    cluster.kubectl("wait", f"--for={condition}", f"pod/{name}", "-n", ns, WAIT)


def watch_until(cluster: Cluster, ns: str, name: str, template: str, done: Callable[[str], bool]) -> str:
    """Watch the pod (`kubectl get -w`) until the value the jsonpath `template` prints satisfies `done`;
    for values such as restart counts that may move past any one value `kubectl wait` could wait for."""
    args = [proc.tool("kubectl"), "get", "pod", name, "-n", ns, "-w", "-o", f"jsonpath={template}{{'\\n'}}"]
    with subprocess.Popen(args, env={**os.environ, **cluster.env}, stdout=subprocess.PIPE, text=True) as watcher:
        timer = threading.Timer(30, watcher.kill)
        timer.start()
        try:
            assert watcher.stdout is not None
            for line in watcher.stdout:
                if done(line.strip()):
                    return line.strip()
        finally:
            timer.cancel()
            watcher.kill()
    raise AssertionError(f"pod {name}: {template} never got there")


def test_a_pod_goes_Running_and_Ready(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("run", "web", "--image=nginx:1.25", "-n", ns)
    wait_for(cluster, ns, "web", "condition=Ready")
    shown = row(cluster, ns, "web", "-o", "wide")
    assert (shown["READY"], shown["STATUS"], shown["RESTARTS"], shown["NODE"]) == ("1/1", "Running", "0", NODE)
    assert ipaddress.ip_address(shown["IP"]) in ipaddress.ip_network("10.244.0.0/16")
    pod = cluster.get_json("pod", "web", "-n", ns)
    status = pod["status"]
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("PodReadyToStartContainers", "True"),
        ("Initialized", "True"),
        ("Ready", "True"),
        ("ContainersReady", "True"),
        ("PodScheduled", "True"),
    ]
    entry = status["containerStatuses"][0]
    assert re.fullmatch(r"containerd://[0-9a-f]{64}", entry["containerID"])
    assert entry["image"] == "docker.io/library/nginx:1.25" and entry["started"] is True
    assert status["hostIP"] == "172.18.0.2" and status["qosClass"] == "BestEffort"


def test_get_and_describe_node_read_like_kind(cluster: Cluster) -> None:
    out = cluster.kubectl("get", "nodes").stdout.splitlines()
    assert re.split(r"\s{2,}", out[0]) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    name, status, roles, _, version = re.split(r"\s{2,}", out[1].strip())
    assert (name, status, roles, version) == (NODE, "Ready", "control-plane", "v1.37.0")
    described = cluster.kubectl("describe", "node", NODE).stdout
    assert "kubernetes.io/hostname=driftlab-control-plane" in described
    assert re.search(r"InternalIP:\s+172\.18\.0\.2", described)
    assert re.search(r"Container Runtime Version:\s+containerd://2\.1\.", described)
    assert re.search(r"Ready\s+True\s.*KubeletReady\s+kubelet is posting ready status", described)


def test_describe_pod_shows_the_events_in_order(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("run", "web", "--image=nginx:1.25", "-n", ns)
    wait_for(cluster, ns, "web", "condition=Ready")
    described = cluster.kubectl("describe", "pod", "web", "-n", ns).stdout
    events = described.split("Events:")[1].splitlines()[3:]
    reasons = [line.split()[1] for line in events if line.strip()]
    assert reasons[0] == "Scheduled" and reasons[-2:] == ["Created", "Started"]
    assert reasons[1] in ("Pulling", "Pulled")
    assert f"Successfully assigned {ns}/web to {NODE}" in described
    assert "Started container web" in described


def test_a_bad_image_tag_shows_ErrImagePull_then_ImagePullBackOff(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("run", "bad", "--image=ghcr.io/driftlab/podinfo:9.9.9", "-n", ns)
    wait_for(cluster, ns, "bad", "jsonpath={.status.containerStatuses[0].state.waiting.reason}=ImagePullBackOff")
    shown = row(cluster, ns, "bad")
    assert shown["READY"] == "0/1" and shown["STATUS"] in ("ErrImagePull", "ImagePullBackOff")
    described = cluster.kubectl("describe", "pod", "bad", "-n", ns).stdout
    assert 'Failed to pull image "ghcr.io/driftlab/podinfo:9.9.9": rpc error: code = NotFound' in described
    assert "Error: ErrImagePull" in described and "Error: ImagePullBackOff" in described
    assert 'Back-off pulling image "ghcr.io/driftlab/podinfo:9.9.9"' in described


MISSING_KEY = """
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers:
  - name: app
    image: ghcr.io/driftlab/podinfo:2.0.0
    env:
    - name: COLOR
      valueFrom: {configMapKeyRef: {name: settings, key: color}}
"""


def test_a_missing_configmap_key_blocks_the_start_until_it_exists(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "configmap", "settings", "--from-literal=size=xl", "-n", ns)
    apply(cluster, ns, MISSING_KEY)
    reason = "jsonpath={.status.containerStatuses[0].state.waiting.reason}=CreateContainerConfigError"
    wait_for(cluster, ns, "app", reason)
    assert row(cluster, ns, "app")["STATUS"] == "CreateContainerConfigError"
    described = cluster.kubectl("describe", "pod", "app", "-n", ns).stdout
    assert f"Error: couldn't find key color in ConfigMap {ns}/settings" in described
    cluster.kubectl("patch", "configmap", "settings", "-n", ns, "--type=merge", "-p", '{"data":{"color":"blue"}}')
    wait_for(cluster, ns, "app", "condition=Ready")
    assert row(cluster, ns, "app")["STATUS"] == "Running"
    assert '"color":"blue"' in cluster.kubectl("logs", "app", "-n", ns).stdout


def test_a_crashing_container_shows_CrashLoopBackOff_with_growing_restarts(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("run", "crash", "--image=busybox:1.36", "-n", ns, "--", "sh", "-c", "echo oops; exit 1")
    watch_until(cluster, ns, "crash", "{.status.containerStatuses[0].restartCount}", lambda n: int(n or 0) >= 3)
    shown = row(cluster, ns, "crash")
    assert (shown["READY"], shown["STATUS"]) == ("0/1", "CrashLoopBackOff")
    assert int(shown["RESTARTS"].split()[0]) >= 3 and "ago)" in shown["RESTARTS"]
    last = cluster.get_json("pod", "crash", "-n", ns)["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (1, "Error")
    assert cluster.kubectl("logs", "crash", "-n", ns, "--previous").stdout == "oops\n"
    described = cluster.kubectl("describe", "pod", "crash", "-n", ns).stdout
    assert "Back-off restarting failed container crash in pod crash_" in described


def test_pods_that_run_once_show_Completed_or_Error(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("run", "done", "--image=busybox:1.36", "--restart=Never", "-n", ns, "--", "echo", "hi")
    cluster.kubectl("run", "fail", "--image=busybox:1.36", "--restart=Never", "-n", ns, "--", "sh", "-c", "exit 2")
    wait_for(cluster, ns, "done", "jsonpath={.status.phase}=Succeeded")
    wait_for(cluster, ns, "fail", "jsonpath={.status.phase}=Failed")
    assert (row(cluster, ns, "done")["READY"], row(cluster, ns, "done")["STATUS"]) == ("0/1", "Completed")
    assert row(cluster, ns, "fail")["STATUS"] == "Error"
    assert cluster.kubectl("logs", "done", "-n", ns).stdout == "hi\n"


def test_a_failing_liveness_probe_restarts_the_container(cluster: Cluster, ns: str) -> None:
    apply(
        cluster,
        ns,
        """
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  containers:
  - name: app
    image: busybox:1.36
    args: [/bin/sh, -c, "touch /tmp/healthy; sleep 1; rm -f /tmp/healthy; sleep 600"]
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 1
""",
    )
    watch_until(cluster, ns, "live", "{.status.containerStatuses[0].restartCount}", lambda n: int(n or 0) >= 1)
    events = cluster.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=live").stdout
    assert "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory" in events
    assert "Container app failed liveness probe, will be restarted" in events


LOGGER = """
apiVersion: v1
kind: Pod
metadata: {name: logger, labels: {app: logger}}
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: [sh, -c, "for i in 1 2 3 4 5; do echo line $i; done; sleep 3600"]
  - name: side
    image: busybox:1.36
    command: [sh, -c, "echo side car; sleep 3600"]
"""


def test_logs_options(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, LOGGER)
    wait_for(cluster, ns, "logger", "condition=Ready")
    logs = ["logs", "logger", "-n", ns]
    assert cluster.kubectl(*logs, "-c", "main").stdout == "".join(f"line {i}\n" for i in range(1, 6))
    assert cluster.kubectl(*logs, "-c", "main", "--tail=2").stdout == "line 4\nline 5\n"
    stamped = cluster.kubectl(*logs, "-c", "main", "--timestamps", "--since=1h").stdout.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line 1", stamped[0])
    assert cluster.kubectl(*logs, "-c", "side").stdout == "side car\n"
    assert cluster.kubectl(*logs, "--all-containers", "--prefix").stdout.count("\n") == 6
    previous = cluster.kubectl(*logs, "-c", "main", "--previous", check=False)
    assert previous.returncode != 0
    assert 'previous terminated container "main" in pod "logger" not found' in previous.stderr


def test_logs_follow_streams_until_the_container_stops(cluster: Cluster, ns: str) -> None:
    script = "for i in 1 2 3; do echo tick $i; sleep 0.5; done"
    cluster.kubectl("run", "ticker", "--image=busybox:1.36", "--restart=Never", "-n", ns, "--", "sh", "-c", script)
    watch_until(cluster, ns, "ticker", "{.status.phase}", lambda phase: phase in ("Running", "Succeeded"))
    followed = cluster.kubectl("logs", "-f", "ticker", "-n", ns, timeout=30)
    assert followed.stdout == "tick 1\ntick 2\ntick 3\n"


def test_logs_of_a_deployment_and_by_label(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, LOGGER)
    apply(
        cluster,
        ns,
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: logger}
spec:
  replicas: 0
  selector: {matchLabels: {app: logger}}
  template:
    metadata: {labels: {app: logger}}
    spec:
      containers: [{name: main, image: busybox:1.36}]
""",
    )
    wait_for(cluster, ns, "logger", "condition=Ready")
    assert cluster.kubectl("logs", "deploy/logger", "-c", "main", "-n", ns).stdout.startswith("line 1\n")
    assert cluster.kubectl("logs", "-l", "app=logger", "-c", "side", "-n", ns).stdout == "side car\n"


def test_deleting_a_pod_stops_it_gracefully_and_promptly(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("run", "web", "--image=nginx:1.25", "-n", ns)
    wait_for(cluster, ns, "web", "condition=Ready")
    began = time.monotonic()
    out = cluster.kubectl("delete", "pod", "web", "-n", ns).stdout
    assert time.monotonic() - began < 10
    assert out.strip() == f'pod "web" deleted from {ns} namespace'
    assert cluster.kubectl("get", "pods", "-n", ns, "-o", "name").stdout == ""
    events = cluster.kubectl(
        "get", "events", "-n", ns, "--field-selector", "involvedObject.name=web,reason=Killing", "-o", "json"
    ).stdout
    assert "Stopping container web" in events
