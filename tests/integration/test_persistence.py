"""The embedded cluster keeps everything across a crash and across `down`/`up`."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from engine.cluster.embedded.record import read_record

from .conftest import Cluster, start_cluster


def _state_dir(cluster: Cluster) -> Path:
    return cluster.home / "clusters" / cluster.name


def test_objects_survive_sigkill_with_same_uid_and_resource_version(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path, "crashy")
    try:
        cluster.kubectl("create", "namespace", "keep")
        cluster.kubectl("create", "configmap", "settings", "-n", "keep", "--from-literal=a=b")
        cluster.kubectl("create", "deployment", "web", "-n", "keep", "--image=nginx")
        before = {
            kind: cluster.get_json(kind, name, "-n", "keep")["metadata"]
            for kind, name in (("cm", "settings"), ("deploy", "web"))
        }
        pid = read_record(_state_dir(cluster))["pid"]
        assert isinstance(pid, int)
        os.kill(pid, signal.SIGKILL)
        assert cluster.driftlab("cluster", "status", "--name", "crashy", check=False).returncode == 1
        cluster.driftlab("cluster", "up", "--name", "crashy")
        for (kind, name), meta in zip((("cm", "settings"), ("deploy", "web")), before.values(), strict=True):
            after = cluster.get_json(kind, name, "-n", "keep")["metadata"]
            assert after["uid"] == meta["uid"]
            assert after["resourceVersion"] == meta["resourceVersion"]
        cluster.kubectl("create", "configmap", "newer", "-n", "keep")
        newer = cluster.get_json("cm", "newer", "-n", "keep")["metadata"]["resourceVersion"]
        assert int(newer) > max(int(m["resourceVersion"]) for m in before.values())
    finally:
        cluster.driftlab("cluster", "down", "--name", "crashy", "--purge", check=False)


def test_up_is_idempotent_and_down_keeps_state_unless_purged(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path, "idem")
    try:
        again = cluster.driftlab("cluster", "up", "--name", "idem")
        assert "already running" in again.stdout
        cluster.kubectl("create", "configmap", "kept")
        status = cluster.driftlab("cluster", "status", "--name", "idem")
        assert "running" in status.stdout
        assert "stopped" in cluster.driftlab("cluster", "down", "--name", "idem").stdout
        assert cluster.driftlab("cluster", "status", "--name", "idem", check=False).returncode == 1
        cluster.driftlab("cluster", "up", "--name", "idem")
        assert cluster.get_json("cm", "kept")["metadata"]["name"] == "kept"
        cluster.driftlab("cluster", "down", "--name", "idem", "--purge")
        assert not _state_dir(cluster).exists()
    finally:
        cluster.driftlab("cluster", "down", "--name", "idem", "--purge", check=False)


def test_kubeconfig_names_the_context_and_listens_on_loopback(cluster: Cluster) -> None:
    text = cluster.driftlab("cluster", "kubeconfig", "--name", cluster.name).stdout
    assert "current-context: driftlab-test" in text
    assert "server: https://127.0.0.1:" in text
    contexts = cluster.kubectl("config", "get-contexts", "-o", "name").stdout.split()
    assert contexts == ["driftlab-test"]


def test_bad_cluster_name_is_a_clear_error(cluster: Cluster) -> None:
    result = cluster.driftlab("cluster", "up", "--name", "Bad_Name", check=False)
    assert result.returncode == 1
    assert "invalid name 'Bad_Name'" in result.stderr and "Traceback" not in result.stderr


def test_watch_outlives_a_daemon_restart_by_relisting(tmp_path: Path) -> None:
    from kubernetes import client, config, watch

    cluster = start_cluster(tmp_path, "relist")
    try:
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a")))
        listing = core.list_namespaced_config_map("default")
        cluster.driftlab("cluster", "down", "--name", "relist")
        cluster.driftlab("cluster", "up", "--name", "relist")
        core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="b")))
        seen = [
            (e["type"], e["object"].metadata.name)
            for e in watch.Watch().stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=listing.metadata.resource_version,
                timeout_seconds=1,
            )
        ]
        assert seen == [("ADDED", "b")]
        api.close()
    finally:
        cluster.driftlab("cluster", "down", "--name", "relist", "--purge", check=False)
