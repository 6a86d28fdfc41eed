"""kubectl's read verbs against the embedded cluster: what the learner sees, and what is stored."""

from __future__ import annotations

import json
import subprocess

from engine import proc

from .conftest import Cluster

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
"""


def test_api_resources_lists_builtin_kinds(cluster: Cluster) -> None:
    out = cluster.kubectl("api-resources").stdout
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "deploy" in lines["deployments"] and "apps/v1" in lines["deployments"]
    assert "true" in lines["pods"] and "Pod" in lines["pods"]
    for name in (
        "namespaces",
        "services",
        "configmaps",
        "secrets",
        "jobs",
        "cronjobs",
        "ingresses",
        "roles",
        "customresourcedefinitions",
        "statefulsets",
        "daemonsets",
        "events",
        "nodes",
    ):
        assert name in lines


def test_version_reports_the_server(cluster: Cluster) -> None:
    out = cluster.kubectl("version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["minor"] == "37"


def test_default_namespaces_and_service_accounts_exist(cluster: Cluster) -> None:
    names = cluster.kubectl("get", "namespaces", "-o", "name").stdout.split()
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert f"namespace/{ns}" in names
    out = cluster.kubectl("get", "serviceaccounts", "-A").stdout
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert any(line.split()[:2] == [ns, "default"] for line in out.splitlines())
    svc = cluster.get_json("service", "kubernetes", "-n", "default")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"


def test_get_prints_server_side_table_columns(cluster: Cluster, ns: str, write) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", write(DEPLOYMENT))
    out = cluster.kubectl("get", "deploy", "-n", ns).stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out[1].split()[0] == "web"
    wide = cluster.kubectl("get", "deploy", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert "nginx:1.25" in wide[1] and "app=web" in wide[1]
    labels = cluster.kubectl("get", "deploy", "web", "-n", ns, "--show-labels").stdout
    assert "app=web" in labels.splitlines()[1]


def test_get_all_namespaces_shows_namespace_column(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "configmap", "settings", "-n", ns, "--from-literal=a=b")
    out = cluster.kubectl("get", "configmaps", "-A").stdout.splitlines()
    assert out[0].split()[:3] == ["NAMESPACE", "NAME", "DATA"]
    assert any(line.split()[:3] == [ns, "settings", "1"] for line in out)


def test_output_formats(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "configmap", "settings", "-n", ns, "--from-literal=color=blue")
    yaml_out = cluster.kubectl("get", "cm", "settings", "-n", ns, "-o", "yaml").stdout
    assert "color: blue" in yaml_out and "resourceVersion:" in yaml_out and "uid:" in yaml_out
    value = cluster.kubectl("get", "cm", "settings", "-n", ns, "-o", "jsonpath={.data.color}").stdout
    assert value == "blue"
    names = cluster.kubectl("get", "cm", "-n", ns, "-o", "name").stdout.split()
    assert "configmap/settings" in names
    cols = cluster.kubectl("get", "cm", "-n", ns, "-o", "custom-columns=N:.metadata.name,C:.data.color").stdout
    assert "settings   blue" in cols


def test_get_missing_object_is_not_found(cluster: Cluster, ns: str) -> None:
    result = cluster.kubectl("get", "deploy", "nope", "-n", ns, check=False)
    assert result.returncode == 1
    assert 'deployments.apps "nope" not found' in result.stderr


def test_get_unknown_kind_is_a_clear_error(cluster: Cluster) -> None:
    result = cluster.kubectl("get", "frobnicators", check=False)
    assert result.returncode == 1
    assert 'the server doesn\'t have a resource type "frobnicators"' in result.stderr


def test_get_watch_streams_changes_as_table_rows(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "configmap", "first", "-n", ns)
    watch = subprocess.Popen(
        [proc.tool("kubectl"), "get", "configmaps", "-n", ns, "-w"],
        env={**__import__("os").environ, **cluster.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout is not None
        header = watch.stdout.readline()
        assert header.split() == ["NAME", "DATA", "AGE"]
        assert watch.stdout.readline().split()[:2] == ["first", "0"]
        cluster.kubectl("create", "configmap", "second", "-n", ns, "--from-literal=a=b")
        assert watch.stdout.readline().split()[:2] == ["second", "1"]
    finally:
        watch.kill()
        watch.wait()


def test_label_and_field_selectors(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "configmap", "a", "-n", ns)
    cluster.kubectl("create", "configmap", "b", "-n", ns)
    cluster.kubectl("label", "configmap", "a", "-n", ns, "tier=front")
    assert cluster.kubectl("get", "cm", "-n", ns, "-l", "tier=front", "-o", "name").stdout.split() == ["configmap/a"]
    by_name = cluster.kubectl("get", "cm", "-n", ns, "--field-selector", "metadata.name=b", "-o", "name")
    assert by_name.stdout.split() == ["configmap/b"]
    bad = cluster.kubectl("get", "cm", "-n", ns, "--field-selector", "spec.foo=x", check=False)
    assert bad.returncode == 1 and "field label not supported: spec.foo" in bad.stderr


def test_paged_list_with_chunk_size(cluster: Cluster, ns: str) -> None:
    for i in range(7):
        cluster.kubectl("create", "configmap", f"c{i}", "-n", ns)
    out = cluster.kubectl("get", "cm", "-n", ns, "--chunk-size=2", "-o", "name").stdout.split()
    assert [n for n in out if n.startswith("configmap/c")] == [f"configmap/c{i}" for i in range(7)]
