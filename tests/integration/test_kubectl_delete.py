"""Deletion as kubectl shows it: propagation policies, finalizers, namespaces, and `kubectl wait`."""

from __future__ import annotations

import json

from .conftest import Cluster

OWNER_AND_DEPENDENT = """
apiVersion: v1
kind: ConfigMap
metadata: {{name: child, ownerReferences: [{{apiVersion: v1, kind: ConfigMap, name: parent, uid: "{uid}"}}]}}
"""


def _owned_pair(cluster: Cluster, ns: str, write) -> None:
    cluster.kubectl("create", "configmap", "parent", "-n", ns)
    uid = cluster.get_json("cm", "parent", "-n", ns)["metadata"]["uid"]
    cluster.kubectl("apply", "-n", ns, "-f", write(OWNER_AND_DEPENDENT.format(uid=uid)))


def _names(cluster: Cluster, ns: str) -> list[str]:
    return cluster.kubectl("get", "cm", "-n", ns, "-o", "name").stdout.split()


def test_background_deletion_collects_dependents(cluster: Cluster, ns: str, write) -> None:
    _owned_pair(cluster, ns, write)
    out = cluster.kubectl("delete", "cm", "parent", "-n", ns, "--cascade=background").stdout
    assert out.strip() == 'configmap "parent" deleted from ' + ns + " namespace"
    cluster.kubectl("wait", "--for=delete", "cm/child", "-n", ns, "--timeout=10s")
    assert "configmap/child" not in _names(cluster, ns)


def test_foreground_deletion_waits_for_dependents(cluster: Cluster, ns: str, write) -> None:
    _owned_pair(cluster, ns, write)
    cluster.kubectl("delete", "cm", "parent", "-n", ns, "--cascade=foreground", "--timeout=10s")
    names = _names(cluster, ns)
    assert "configmap/parent" not in names and "configmap/child" not in names


def test_orphan_deletion_keeps_dependents_without_owner(cluster: Cluster, ns: str, write) -> None:
    _owned_pair(cluster, ns, write)
    cluster.kubectl("delete", "cm", "parent", "-n", ns, "--cascade=orphan", "--timeout=10s")
    child = cluster.get_json("cm", "child", "-n", ns)
    assert not child["metadata"].get("ownerReferences")
    assert "configmap/parent" not in _names(cluster, ns)


def test_finalizer_holds_deletion_until_removed(cluster: Cluster, ns: str, write) -> None:
    cluster.kubectl(
        "apply",
        "-n",
        ns,
        "-f",
        write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n"),
    )
    cluster.kubectl("delete", "cm", "held", "-n", ns, "--wait=false")
    held = cluster.get_json("cm", "held", "-n", ns)
    assert held["metadata"]["deletionTimestamp"]
    cluster.kubectl("patch", "cm", "held", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert cluster.kubectl("get", "cm", "held", "-n", ns, check=False).returncode == 1


def test_namespace_deletion_removes_everything_inside(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "doomed")
    cluster.kubectl("create", "configmap", "a", "-n", "doomed")
    cluster.kubectl("create", "deployment", "web", "-n", "doomed", "--image=nginx")
    out = cluster.kubectl("delete", "namespace", "doomed", "--timeout=20s").stdout
    assert out.strip() == 'namespace "doomed" deleted'
    assert cluster.kubectl("get", "namespace", "doomed", check=False).returncode == 1
    assert cluster.kubectl("get", "cm", "-n", "doomed", "-o", "name").stdout.strip() == ""


def test_creating_in_a_missing_namespace_is_not_found(cluster: Cluster) -> None:
    result = cluster.kubectl("create", "configmap", "x", "-n", "nowhere", check=False)
    assert result.returncode == 1 and 'namespaces "nowhere" not found' in result.stderr


def test_wait_for_jsonpath_and_condition(cluster: Cluster, ns: str, write) -> None:
    cluster.kubectl("create", "configmap", "flag", "-n", ns, "--from-literal=ready=no")
    cluster.kubectl("patch", "cm", "flag", "-n", ns, "-p", '{"data":{"ready":"yes"}}')
    cluster.kubectl("wait", "--for=jsonpath={.data.ready}=yes", "cm/flag", "-n", ns, "--timeout=10s")
    crd = json.dumps(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }
    )
    cluster.kubectl("apply", "-f", write(crd, "crd.json"))
    cluster.kubectl("wait", "--for=condition=Established", "crd/gadgets.example.com", "--timeout=10s")


def test_delete_missing_object_is_not_found(cluster: Cluster, ns: str) -> None:
    result = cluster.kubectl("delete", "cm", "ghost", "-n", ns, check=False)
    assert result.returncode == 1 and 'configmaps "ghost" not found' in result.stderr
