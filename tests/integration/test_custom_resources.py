"""CRDs: their custom resources are served with schemas, printer columns and status/scale subresources."""

from __future__ import annotations

import json

from .conftest import Cluster

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"},
                },
                "additionalPrinterColumns": [
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["color"],
                                "properties": {
                                    "color": {
                                        "type": "string",
                                        "enum": ["red", "green", "blue"],
                                        "description": "The colour of the widget.",
                                    },
                                    "size": {"type": "integer", "minimum": 0},
                                },
                            },
                            "status": {"type": "object", "properties": {"size": {"type": "integer"}}},
                        },
                    }
                },
            }
        ],
    },
}


def _install(cluster: Cluster, write) -> None:
    cluster.kubectl("apply", "-f", write(json.dumps(CRD), "crd.json"))
    cluster.kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")


def test_custom_resources_round_trip_with_printer_columns(cluster: Cluster, ns: str, write) -> None:
    _install(cluster, write)
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {color: red, size: 2}\n"
    assert cluster.kubectl("apply", "-n", ns, "-f", write(widget)).stdout.strip() == "widget.example.com/w1 created"
    out = cluster.kubectl("get", "widgets", "-n", ns).stdout.splitlines()
    assert out[0].split() == ["NAME", "COLOR", "SIZE", "AGE"]
    assert out[1].split()[:3] == ["w1", "red", "2"]
    assert cluster.kubectl("get", "wd", "w1", "-n", ns, "-o", "jsonpath={.spec.color}").stdout == "red"
    changed = widget.replace("size: 2", "size: 5")
    assert cluster.kubectl("apply", "-n", ns, "-f", write(changed, "w2.yaml")).stdout.strip() == (
        "widget.example.com/w1 configured"
    )


def test_custom_resources_are_validated_by_their_schema(cluster: Cluster, ns: str, write) -> None:
    _install(cluster, write)
    bad = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {color: purple}\n"
    result = cluster.kubectl("apply", "-n", ns, "-f", write(bad), check=False)
    assert result.returncode == 1
    assert "spec.color" in result.stderr and "purple" in result.stderr
    missing = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w3}\nspec: {size: 1}\n"
    result = cluster.kubectl("apply", "-n", ns, "-f", write(missing, "m.yaml"), check=False)
    assert result.returncode == 1 and "spec.color: Required value" in result.stderr


def test_status_and_scale_subresources(cluster: Cluster, ns: str, write) -> None:
    _install(cluster, write)
    cluster.kubectl(
        "apply",
        "-n",
        ns,
        "-f",
        write("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w4}\nspec: {color: blue, size: 1}\n"),
    )
    cluster.kubectl("scale", "widget", "w4", "-n", ns, "--replicas=3")
    assert cluster.get_json("widget", "w4", "-n", ns)["spec"]["size"] == 3
    cluster.kubectl(
        "patch",
        "widget",
        "w4",
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"size":3}}',
    )
    stored = cluster.get_json("widget", "w4", "-n", ns)
    assert stored["status"]["size"] == 3
    cluster.kubectl("patch", "widget", "w4", "-n", ns, "--type=merge", "-p", '{"status":{"size":9}}')
    assert cluster.get_json("widget", "w4", "-n", ns)["status"]["size"] == 3


def test_explain_reads_builtin_and_custom_schemas(cluster: Cluster, write) -> None:
    out = cluster.kubectl("explain", "deployment.spec.strategy").stdout
    assert "KIND:       Deployment" in out and "rollingUpdate" in out
    _install(cluster, write)
    out = cluster.kubectl("explain", "widgets.spec.color").stdout
    assert "The colour of the widget." in out


def test_deleting_a_crd_removes_its_resources(cluster: Cluster, ns: str, write) -> None:
    crd = json.loads(json.dumps(CRD).replace("widget", "sprocket").replace("Widget", "Sprocket"))
    crd["spec"]["names"]["shortNames"] = ["spr"]
    cluster.kubectl("apply", "-f", write(json.dumps(crd), "crd.json"))
    cluster.kubectl("wait", "--for=condition=Established", "crd/sprockets.example.com", "--timeout=10s")
    cluster.kubectl(
        "apply",
        "-n",
        ns,
        "-f",
        write("apiVersion: example.com/v1\nkind: Sprocket\nmetadata: {name: s1}\nspec: {color: red}\n", "s.yaml"),
    )
    cluster.kubectl("delete", "crd", "sprockets.example.com", "--timeout=20s")
    result = cluster.kubectl("get", "sprockets", "-n", ns, check=False)
    assert result.returncode == 1 and "sprockets" in result.stderr
