"""Deployments through the real kubectl: rollouts, history, undo, restart, pause, scale and self-healing."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Cluster

pytestmark = pytest.mark.slow

Obj = dict[str, Any]
MISSING_TAG = "nginx:0.0-missing"

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  progressDeadlineSeconds: {deadline}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
"""


# Helpers ---------------------------------------------------------------------------------------------


def _apply(cluster: Cluster, ns: str, write: Any, replicas: int = 3, deadline: int = 600) -> None:
    path = write(MANIFEST.format(replicas=replicas, deadline=deadline), "web.yaml")
    cluster.kubectl("apply", "-n", ns, "-f", path)


def _rollout_status(cluster: Cluster, ns: str, timeout: str = "60s", check: bool = True) -> Any:
    return cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, f"--timeout={timeout}", check=check)


def _replica_sets(cluster: Cluster, ns: str) -> dict[str, Obj]:
    return {rs["metadata"]["name"]: rs for rs in cluster.get_json("rs", "-n", ns)["items"]}


def _live_pods(cluster: Cluster, ns: str) -> list[Obj]:
    pods = cluster.get_json("pods", "-n", ns, "-l", "app=web")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def _history(cluster: Cluster, ns: str) -> list[str]:
    lines = cluster.kubectl("rollout", "history", "deploy/web", "-n", ns).stdout.splitlines()
    return [line.split()[0] for line in lines[2:] if line.strip()]


def _revision(rs: Obj) -> str:
    return rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]


# Tests -----------------------------------------------------------------------------------------------


def test_a_new_deployment_rolls_out_three_running_pods(cluster: Cluster, ns: str, write: Any) -> None:
    _apply(cluster, ns, write)
    status = _rollout_status(cluster, ns)

    assert status.stdout.strip().endswith('deployment "web" successfully rolled out')
    pods = cluster.kubectl("get", "pods", "-n", ns, "--no-headers").stdout.splitlines()
    assert len(pods) == 3
    assert all(line.split()[1:3] == ["1/1", "Running"] for line in pods)
    [row] = cluster.kubectl("get", "deploy", "web", "-n", ns, "--no-headers").stdout.splitlines()
    assert row.split()[:4] == ["web", "3/3", "3", "3"]
    [rs] = _replica_sets(cluster, ns).values()
    assert rs["metadata"]["name"].startswith("web-")
    events = cluster.kubectl("get", "events", "-n", ns, "--field-selector", "reason=ScalingReplicaSet").stdout
    assert f"Scaled up replica set {rs['metadata']['name']} from 0 to 3" in events


def test_set_image_then_undo(cluster: Cluster, ns: str, write: Any) -> None:
    _apply(cluster, ns, write)
    _rollout_status(cluster, ns)
    [first] = _replica_sets(cluster, ns)

    cluster.kubectl("set", "image", "deploy/web", "web=nginx:1.26", "-n", ns)
    cluster.kubectl("annotate", "deploy/web", "-n", ns, "kubernetes.io/change-cause=nginx 1.26")
    _rollout_status(cluster, ns)

    sets = _replica_sets(cluster, ns)
    assert len(sets) == 2
    [second] = [name for name in sets if name != first]
    assert (sets[first]["spec"]["replicas"], sets[second]["spec"]["replicas"]) == (0, 3)
    assert _history(cluster, ns) == ["1", "2"]
    table = cluster.kubectl("rollout", "history", "deploy/web", "-n", ns).stdout.splitlines()
    assert table[1].split() == ["REVISION", "CHANGE-CAUSE"]
    assert table[3].split(None, 1) == ["2", "nginx 1.26"]

    cluster.kubectl("rollout", "undo", "deploy/web", "-n", ns)
    _rollout_status(cluster, ns)

    sets = _replica_sets(cluster, ns)
    assert len(sets) == 2
    assert (_revision(sets[first]), sets[first]["spec"]["replicas"]) == ("3", 3)
    assert _history(cluster, ns) == ["2", "3"]
    images = {p["spec"]["containers"][0]["image"] for p in _live_pods(cluster, ns)}
    assert images == {"nginx:1.25"}
    detail = cluster.kubectl("rollout", "history", "deploy/web", "-n", ns, "--revision=3").stdout
    assert "nginx:1.25" in detail


def test_undo_to_a_revision_and_restart(cluster: Cluster, ns: str, write: Any) -> None:
    _apply(cluster, ns, write, replicas=2)
    _rollout_status(cluster, ns)
    for tag in ("1.26", "1.27"):
        cluster.kubectl("set", "image", "deploy/web", f"web=nginx:{tag}", "-n", ns)
        _rollout_status(cluster, ns)

    cluster.kubectl("rollout", "undo", "deploy/web", "-n", ns, "--to-revision=2")
    _rollout_status(cluster, ns)
    assert {p["spec"]["containers"][0]["image"] for p in _live_pods(cluster, ns)} == {"nginx:1.26"}
    assert _history(cluster, ns) == ["1", "3", "4"]

    cluster.kubectl("rollout", "restart", "deploy/web", "-n", ns)
    _rollout_status(cluster, ns)

    assert _history(cluster, ns) == ["1", "3", "4", "5"]
    newest = max(_replica_sets(cluster, ns).values(), key=_revision)
    assert "kubectl.kubernetes.io/restartedAt" in newest["spec"]["template"]["metadata"]["annotations"]
    assert newest["spec"]["replicas"] == 2


def test_pause_and_resume(cluster: Cluster, ns: str, write: Any) -> None:
    _apply(cluster, ns, write, replicas=2)
    _rollout_status(cluster, ns)
    cluster.kubectl("rollout", "pause", "deploy/web", "-n", ns)
    cluster.kubectl("set", "image", "deploy/web", "web=nginx:1.26", "-n", ns)
    cluster.kubectl(
        "wait",
        "deploy/web",
        "-n",
        ns,
        "--for=jsonpath={.status.conditions[?(@.type=='Progressing')].reason}=DeploymentPaused",
        "--timeout=30s",
    )
    assert len(_replica_sets(cluster, ns)) == 1

    cluster.kubectl("rollout", "resume", "deploy/web", "-n", ns)
    _rollout_status(cluster, ns)

    assert len(_replica_sets(cluster, ns)) == 2
    assert {p["spec"]["containers"][0]["image"] for p in _live_pods(cluster, ns)} == {"nginx:1.26"}


def test_scale_up_and_down(cluster: Cluster, ns: str, write: Any) -> None:
    _apply(cluster, ns, write)
    _rollout_status(cluster, ns)
    cluster.kubectl("scale", "deploy/web", "--replicas=5", "-n", ns)
    _rollout_status(cluster, ns)
    assert len(_live_pods(cluster, ns)) == 5

    cluster.kubectl("scale", "deploy/web", "--replicas=2", "-n", ns)
    cluster.kubectl("wait", "deploy/web", "-n", ns, "--for=jsonpath={.status.replicas}=2", "--timeout=30s")
    _rollout_status(cluster, ns)

    [row] = cluster.kubectl("get", "rs", "-n", ns, "--no-headers").stdout.splitlines()
    assert row.split()[1:3] == ["2", "2"]
    assert len(_live_pods(cluster, ns)) == 2


def test_deleted_pods_and_replica_sets_come_back(cluster: Cluster, ns: str, write: Any) -> None:
    _apply(cluster, ns, write)
    _rollout_status(cluster, ns)
    victim = _live_pods(cluster, ns)[0]["metadata"]["name"]

    cluster.kubectl("delete", "pod", victim, "-n", ns)
    _rollout_status(cluster, ns)
    names = {p["metadata"]["name"] for p in _live_pods(cluster, ns)}
    assert len(names) == 3
    assert victim not in names

    [(rs_name, rs)] = _replica_sets(cluster, ns).items()
    cluster.kubectl("delete", "rs", rs_name, "-n", ns)
    cluster.kubectl("wait", f"rs/{rs_name}", "-n", ns, "--for=create", "--timeout=30s")
    _rollout_status(cluster, ns)

    again = _replica_sets(cluster, ns)[rs_name]
    assert again["metadata"]["uid"] != rs["metadata"]["uid"]
    pods = _live_pods(cluster, ns)
    assert len(pods) == 3
    assert {p["metadata"]["ownerReferences"][0]["uid"] for p in pods} == {again["metadata"]["uid"]}


def test_deleting_the_deployment_removes_everything(cluster: Cluster, ns: str, write: Any) -> None:
    _apply(cluster, ns, write)
    _rollout_status(cluster, ns)
    cluster.kubectl("delete", "deploy", "web", "-n", ns)
    cluster.kubectl("wait", "rs", "-l", "app=web", "-n", ns, "--for=delete", "--timeout=30s")
    cluster.kubectl("wait", "pod", "-l", "app=web", "-n", ns, "--for=delete", "--timeout=30s")

    result = cluster.kubectl("get", "deploy,rs,pods", "-n", ns)
    assert result.stdout == ""
    assert "No resources found" in result.stderr


def test_a_stuck_rollout_times_out_and_then_exceeds_its_deadline(cluster: Cluster, ns: str, write: Any) -> None:
    _apply(cluster, ns, write, deadline=3)
    _rollout_status(cluster, ns)
    cluster.kubectl("set", "image", "deploy/web", f"web={MISSING_TAG}", "-n", ns)

    waited = _rollout_status(cluster, ns, timeout="2s", check=False)
    assert waited.returncode != 0
    assert 'Waiting for deployment "web" rollout to finish' in waited.stdout

    failed = _rollout_status(cluster, ns, timeout="30s", check=False)

    assert failed.returncode != 0
    assert 'error: deployment "web" exceeded its progress deadline' in failed.stderr
    [row] = cluster.kubectl("get", "deploy", "web", "-n", ns, "--no-headers").stdout.splitlines()
    assert row.split()[1] == "3/3"
    stuck = [p for p in _live_pods(cluster, ns) if p["spec"]["containers"][0]["image"] == MISSING_TAG]
    assert len(stuck) == 1
    pods = cluster.kubectl("get", "pod", stuck[0]["metadata"]["name"], "-n", ns, "--no-headers").stdout
    assert pods.split()[2] in ("ErrImagePull", "ImagePullBackOff")
