"""The Kustomization inventory: Flux's entry ids, the stale set, and survivors of a failed prune."""

from __future__ import annotations

from engine.gitops.flux import inventory
from engine.gitops.objects import ObjectRef

SERVICE = ObjectRef("shop", "web", "", "Service", "v1")
DEPLOYMENT = ObjectRef("shop", "web", "apps", "Deployment", "v1")
NAMESPACE = ObjectRef("", "shop", "", "Namespace", "v1")


def test_entries_use_flux_ids_and_versions() -> None:
    assert inventory.write([SERVICE, DEPLOYMENT, NAMESPACE]) == {
        "entries": [
            {"id": "shop_web__Service", "v": "v1"},
            {"id": "shop_web_apps_Deployment", "v": "v1"},
            {"id": "_shop__Namespace", "v": "v1"},
        ]
    }
    assert inventory.write([]) == {"entries": []}


def test_reading_skips_malformed_and_duplicate_entries() -> None:
    status = {"entries": [{"id": "shop_web__Service", "v": "v1"}, {"id": "nonsense"}, "x", {"id": "shop_web__Service"}]}
    assert inventory.read(status) == [SERVICE]
    assert inventory.read(None) == []
    assert inventory.read({"entries": "no"}) == []


def test_stale_objects_are_the_old_ones_missing_from_the_new_set_whatever_their_version() -> None:
    old = [SERVICE, DEPLOYMENT, NAMESPACE]
    new = [ObjectRef("shop", "web", "apps", "Deployment", "v2"), NAMESPACE]
    assert inventory.stale(old, new) == [SERVICE]
    assert inventory.stale(old, []) == old
    assert inventory.stale([], new) == []


def test_survivors_of_a_failed_prune_stay_in_the_inventory_once() -> None:
    assert inventory.merge([NAMESPACE], [SERVICE, NAMESPACE]) == [NAMESPACE, SERVICE]
