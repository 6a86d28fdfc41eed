"""Argo CD 3's tracking ids: `<app>:<group>/<kind>:<namespace>/<name>`, and which objects they make tracked."""

from __future__ import annotations

from engine.gitops.argo.tracking import (
    TRACKING_ANNOTATION,
    ResourceKey,
    instance_name,
    parse,
    tracked_by,
    tracking_id,
    with_tracking,
)


def app(name: str, namespace: str) -> dict:
    return {"metadata": {"name": name, "namespace": namespace}}


def test_the_instance_name_is_plain_in_the_control_plane_namespace() -> None:
    assert instance_name(app("shop", "argocd")) == "shop"
    assert instance_name(app("shop", "team-a")) == "team-a_shop"


def test_ids_name_group_kind_namespace_and_name() -> None:
    assert tracking_id("shop", ResourceKey("apps", "Deployment", "prod", "web")) == "shop:apps/Deployment:prod/web"
    assert tracking_id("shop", ResourceKey("", "Service", "prod", "web")) == "shop:/Service:prod/web"
    assert tracking_id("shop", ResourceKey("", "Namespace", "", "prod")) == "shop:/Namespace:/prod"


def test_parse_reads_back_what_was_written_and_rejects_anything_else() -> None:
    ref = parse("team-a_shop:apps/Deployment:prod/web")
    assert ref is not None and ref.app == "team-a_shop"
    assert ref.key == ResourceKey("apps", "Deployment", "prod", "web")
    for bad in ("shop", "shop:Deployment:prod/web", "shop:apps/Deployment:web", ":apps/Deployment:p/w", None, 3):
        assert parse(bad) is None


def test_with_tracking_adds_the_annotation_without_touching_the_manifest() -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "prod"}}
    tracked = with_tracking(manifest, "shop")
    assert tracked["metadata"]["annotations"] == {TRACKING_ANNOTATION: "shop:/ConfigMap:prod/c"}
    assert "annotations" not in manifest["metadata"]


def test_only_an_object_whose_id_names_itself_and_that_has_no_owner_is_tracked() -> None:
    own = with_tracking(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "p"}}, "shop"
    )
    assert tracked_by(own) == "shop"
    copied = {**own, "metadata": {**own["metadata"], "name": "copy"}}
    assert tracked_by(copied) is None
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {**own["metadata"], "ownerReferences": [{"kind": "Deployment", "name": "web"}]},
    }
    assert tracked_by(replica_set) is None
    assert tracked_by({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}) is None
