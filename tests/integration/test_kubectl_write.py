"""kubectl's write verbs against the embedded cluster: output, exit codes and the state they leave."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from engine import proc

from .conftest import Cluster
from .test_kubectl_read import DEPLOYMENT


def test_client_side_apply_creates_then_reports_unchanged(cluster: Cluster, ns: str, write) -> None:
    path = write(DEPLOYMENT)
    assert cluster.kubectl("apply", "-n", ns, "-f", path).stdout.strip() == "deployment.apps/web created"
    assert cluster.kubectl("apply", "-n", ns, "-f", path).stdout.strip() == "deployment.apps/web unchanged"
    stored = cluster.get_json("deploy", "web", "-n", ns)
    assert stored["spec"]["replicas"] == 2
    assert stored["metadata"]["generation"] == 1
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]
    assert stored["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "25%"


def test_apply_changes_merge_by_container_name(cluster: Cluster, ns: str, write) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", write(DEPLOYMENT))
    before = cluster.get_json("deploy", "web", "-n", ns)
    changed = DEPLOYMENT.replace("nginx:1.25", "nginx:1.26").replace("replicas: 2", "replicas: 3")
    out = cluster.kubectl("apply", "-n", ns, "-f", write(changed, "v2.yaml")).stdout
    assert out.strip() == "deployment.apps/web configured"
    after = cluster.get_json("deploy", "web", "-n", ns)
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert after["spec"]["replicas"] == 3
    assert after["metadata"]["generation"] == 2
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])


def test_server_side_apply_creates_and_tracks_managers(cluster: Cluster, ns: str, write) -> None:
    path = write(DEPLOYMENT)
    out = cluster.kubectl("apply", "--server-side", "-n", ns, "-f", path).stdout
    assert out.strip() == "deployment.apps/web serverside-applied"
    stored = cluster.get_json("deploy", "web", "-n", ns, "--show-managed-fields")
    managers = {(m["manager"], m["operation"]) for m in stored["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    cluster.kubectl("scale", "deploy", "web", "-n", ns, "--replicas=5")
    conflict = cluster.kubectl("apply", "--server-side", "-n", ns, "-f", path, check=False)
    assert conflict.returncode == 1 and "conflict" in conflict.stderr.lower()
    forced = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-n", ns, "-f", path)
    assert forced.ok
    assert cluster.get_json("deploy", "web", "-n", ns)["spec"]["replicas"] == 2


def test_apply_validates_against_the_schema(cluster: Cluster, ns: str, write) -> None:
    bad = DEPLOYMENT.replace("replicas: 2", "replicas: 2\n  replica: 3")
    result = cluster.kubectl("apply", "-n", ns, "-f", write(bad), check=False)
    assert result.returncode == 1
    assert 'unknown field "spec.replica"' in result.stderr
    mismatched = DEPLOYMENT.replace("metadata: {labels: {app: web}}", "metadata: {labels: {app: other}}")
    result = cluster.kubectl("apply", "-n", ns, "-f", write(mismatched, "m.yaml"), check=False)
    assert result.returncode == 1
    assert "selector` does not match template `labels`" in result.stderr


def test_create_from_file_and_conflict_on_second_create(cluster: Cluster, ns: str, write) -> None:
    path = write(DEPLOYMENT)
    assert cluster.kubectl("create", "-n", ns, "-f", path).stdout.strip() == "deployment.apps/web created"
    again = cluster.kubectl("create", "-n", ns, "-f", path, check=False)
    assert again.returncode == 1
    assert 'deployments.apps "web" already exists' in again.stderr


def test_generator_verbs_send_protobuf(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "configmap", "cfg", "-n", ns, "--from-literal=color=blue")
    cluster.kubectl("create", "secret", "generic", "pw", "-n", ns, "--from-literal=password=s3cret")
    cluster.kubectl("create", "deployment", "api", "-n", ns, "--image=nginx:1.25", "--replicas=2", "--port=80")
    cluster.kubectl("create", "service", "clusterip", "api", "-n", ns, "--tcp=80:8080")
    cluster.kubectl("create", "serviceaccount", "robot", "-n", ns)
    cluster.kubectl("create", "job", "once", "-n", ns, "--image=busybox", "--", "echo", "hi")
    assert cluster.get_json("cm", "cfg", "-n", ns)["data"] == {"color": "blue"}
    assert cluster.get_json("secret", "pw", "-n", ns)["data"] == {"password": "czNjcmV0"}
    deploy = cluster.get_json("deploy", "api", "-n", ns)
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == 80
    svc = cluster.get_json("svc", "api", "-n", ns)
    assert svc["spec"]["ports"][0]["targetPort"] == 8080 and svc["spec"]["clusterIP"].startswith("10.")
    assert cluster.get_json("sa", "robot", "-n", ns)["metadata"]["name"] == "robot"
    job = cluster.get_json("job", "once", "-n", ns)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]


def test_replace_with_stale_resource_version_conflicts(cluster: Cluster, ns: str, write) -> None:
    cluster.kubectl("create", "configmap", "cfg", "-n", ns, "--from-literal=a=1")
    current = cluster.get_json("cm", "cfg", "-n", ns)
    current["data"]["a"] = "2"
    assert cluster.kubectl("replace", "-f", write(json.dumps(current), "c.json")).ok
    current["data"]["a"] = "3"  # still carries the old resourceVersion
    stale = cluster.kubectl("replace", "-f", write(json.dumps(current), "c2.json"), check=False)
    assert stale.returncode == 1
    assert "the object has been modified; please apply your changes to the latest version" in stale.stderr
    assert cluster.get_json("cm", "cfg", "-n", ns)["data"]["a"] == "2"


def test_edit_with_a_scripted_editor(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    cluster.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx:1.25")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/nginx:1.25/nginx:1.27/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    env_editor = {**cluster.env, "KUBE_EDITOR": str(editor)}
    result = proc.run([proc.tool("kubectl"), "edit", "deploy", "web", "-n", ns], env=env_editor)
    assert result.ok, result.stderr
    assert result.stdout.strip() == "deployment.apps/web edited"
    image = cluster.get_json("deploy", "web", "-n", ns)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "nginx:1.27"


def test_patch_all_three_types(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx:1.25")
    cluster.kubectl("patch", "deploy", "web", "-n", ns, "-p", '{"spec":{"replicas":3}}')
    cluster.kubectl("patch", "deploy", "web", "-n", ns, "--type=merge", "-p", '{"metadata":{"labels":{"x":"y"}}}')
    cluster.kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.26"}]',
    )
    deploy = cluster.get_json("deploy", "web", "-n", ns)
    assert deploy["spec"]["replicas"] == 3
    assert deploy["metadata"]["labels"]["x"] == "y"
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    bad = cluster.kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/nothing"}]',
        check=False,
    )
    assert bad.returncode == 1


def test_label_annotate_scale_set_image(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx:1.25")
    assert (
        cluster.kubectl("label", "deploy", "web", "-n", ns, "tier=front").stdout.strip()
        == "deployment.apps/web labeled"
    )
    cluster.kubectl("annotate", "deploy", "web", "-n", ns, "owner=team-a")
    assert (
        cluster.kubectl("scale", "deploy", "web", "-n", ns, "--replicas=4").stdout.strip()
        == "deployment.apps/web scaled"
    )
    assert cluster.kubectl("set", "image", "deploy/web", "-n", ns, "nginx=nginx:1.29").stdout.strip() == (
        "deployment.apps/web image updated"
    )
    deploy = cluster.get_json("deploy", "web", "-n", ns)
    assert deploy["metadata"]["labels"]["tier"] == "front"
    assert deploy["metadata"]["annotations"]["owner"] == "team-a"
    assert deploy["spec"]["replicas"] == 4
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.29"
    cluster.kubectl("label", "deploy", "web", "-n", ns, "tier-")
    assert "tier" not in cluster.get_json("deploy", "web", "-n", ns)["metadata"]["labels"]


def test_diff_shows_changes_without_storing_them(cluster: Cluster, ns: str, write) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", write(DEPLOYMENT))
    before = cluster.get_json("deploy", "web", "-n", ns)["metadata"]["resourceVersion"]
    same = cluster.kubectl("diff", "-n", ns, "-f", write(DEPLOYMENT, "same.yaml"), check=False)
    assert same.returncode == 0, same.stderr
    changed = cluster.kubectl("diff", "-n", ns, "-f", write(DEPLOYMENT.replace("1.25", "1.26"), "d.yaml"), check=False)
    assert changed.returncode == 1
    removed = [line for line in changed.stdout.splitlines() if line.startswith("-") and "image:" in line]
    added = [line for line in changed.stdout.splitlines() if line.startswith("+") and "image:" in line]
    assert removed and removed[0].endswith("nginx:1.25") and added and added[0].endswith("nginx:1.26")
    assert cluster.get_json("deploy", "web", "-n", ns)["metadata"]["resourceVersion"] == before


def test_apply_kustomize_directory(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    base = tmp_path / "kust"
    base.mkdir()
    (base / "deploy.yaml").write_text(DEPLOYMENT)
    (base / "kustomization.yaml").write_text(
        f"namespace: {ns}\nresources: [deploy.yaml]\nconfigMapGenerator:\n- name: settings\n  literals: [color=blue]\n"
    )
    out = cluster.kubectl("apply", "-k", str(base)).stdout
    assert "deployment.apps/web created" in out and "configmap/settings-" in out
    assert cluster.get_json("deploy", "web", "-n", ns)["metadata"]["name"] == "web"
