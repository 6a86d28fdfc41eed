"""The official `kubernetes` Python client against the embedded cluster: typed, dynamic, list and watch."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, dynamic, watch

from .conftest import Cluster, start_cluster


@pytest.fixture
def api_client(cluster: Cluster) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield api
    api.close()


def test_typed_crud(api_client: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api_client)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"color": "blue"})
    created = core.create_namespaced_config_map(ns, body)
    assert created.metadata.uid and created.data == {"color": "blue"}
    created.data["color"] = "green"
    replaced = core.replace_namespaced_config_map("settings", ns, created)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    core.patch_namespaced_config_map("settings", ns, {"data": {"size": "L"}})
    assert core.read_namespaced_config_map("settings", ns).data == {"color": "green", "size": "L"}
    names = [cm.metadata.name for cm in core.list_namespaced_config_map(ns).items]
    assert "settings" in names
    core.delete_namespaced_config_map("settings", ns)
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_config_map("settings", ns)
    assert err.value.status == 404


def test_typed_apps_client_reads_complete_objects(api_client: client.ApiClient, ns: str, cluster: Cluster) -> None:
    cluster.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx:1.25")
    apps = client.AppsV1Api(api_client)
    deployments = apps.list_namespaced_deployment(ns).items
    assert [d.metadata.name for d in deployments] == ["web"]
    assert deployments[0].spec.template.spec.containers[0].image == "nginx:1.25"
    scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3


def test_dynamic_client_discovers_and_applies(api_client: client.ApiClient, ns: str) -> None:
    dyn = dynamic.DynamicClient(api_client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "dyn", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "dyn"}},
            "template": {
                "metadata": {"labels": {"app": "dyn"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    applied = deployments.server_side_apply(body=manifest, field_manager="pytest", namespace=ns)
    assert applied.metadata.name == "dyn"
    assert deployments.get(name="dyn", namespace=ns).spec.replicas == 1


def test_list_then_watch_from_resource_version(api_client: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api_client)
    listing = core.list_namespaced_config_map(ns)
    events: list[tuple[str, str]] = []

    def consume() -> None:
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_config_map,
            ns,
            resource_version=listing.metadata.resource_version,
            timeout_seconds=10,
        ):
            events.append((event["type"], event["object"].metadata.name))
            if len(events) == 3:
                w.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w1")))
    core.patch_namespaced_config_map("w1", ns, {"data": {"a": "b"}})
    core.delete_namespaced_config_map("w1", ns)
    thread.join(timeout=15)
    assert events == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_watch_resume_replays_only_newer_events(api_client: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api_client)
    first = core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a")))
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="b")))
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_config_map,
            ns,
            resource_version=first.metadata.resource_version,
            timeout_seconds=1,
        )
    ]
    assert seen == [("ADDED", "b")]


def test_too_old_resource_version_is_gone(tmp_path: Path) -> None:
    """Past the event window a watch cannot resume: the server answers 410 and the client must relist."""
    small = start_cluster(tmp_path, "window", {"DRIFTLAB_WATCH_WINDOW": "20"})
    try:
        api = config.new_client_from_config(config_file=str(small.kubeconfig))
        core = client.CoreV1Api(api)
        first = core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c0"))
        )
        for i in range(1, 40):
            core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}")))
        with pytest.raises(client.ApiException) as err:
            core.list_namespaced_config_map(
                "default", watch=True, timeout_seconds=1, resource_version=first.metadata.resource_version
            )
        assert err.value.status == 410
        assert "too old resource version" in err.value.body
        api.close()
    finally:
        small.driftlab("cluster", "down", "--name", "window", "--purge", check=False)
