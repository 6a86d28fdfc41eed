"""What a fresh cluster has before anyone touches it: the system namespaces and the `kubernetes` Service."""

from __future__ import annotations

from .node import KUBELET, NODE_IP, NODE_NAME, node_manifest, node_type
from .rest import Api, WriteOptions

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_OPTS = WriteOptions(field_manager="kube-apiserver")


def ensure_system_objects(api: Api) -> None:
    ns_type = api.catalog.lookup("", "v1", "namespaces")
    svc_type = api.catalog.lookup("", "v1", "services")
    assert ns_type is not None and svc_type is not None
    for name in SYSTEM_NAMESPACES:
        if api.find(ns_type, "", name) is None:
            api.create(ns_type, "", {"metadata": {"name": name}}, _OPTS)
    if api.find(svc_type, "default", "kubernetes") is None:
        api.create(
            svc_type,
            "default",
            {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": "10.96.0.1",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                    "type": "ClusterIP",
                },
            },
            _OPTS,
        )
    if api.find(node_type(api), "", NODE_NAME) is None:
        # Registered here, before the API answers, as a kind cluster has its node when it is created.
        api.create(node_type(api), "", node_manifest(), WriteOptions(field_manager=KUBELET))
    ep_type = api.catalog.lookup("", "v1", "endpoints")
    assert ep_type is not None
    if api.find(ep_type, "default", "kubernetes") is None:
        # The API server's own address, as on a kind node (the embedded server really listens on loopback).
        api.create(
            ep_type,
            "default",
            {
                "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": [
                    {
                        "addresses": [{"ip": NODE_IP}],
                        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
                    }
                ],
            },
            _OPTS,
        )
