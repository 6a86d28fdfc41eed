"""Per-object controls: which objects Flux applies, takes back from kubectl, recreates, and prunes."""

from __future__ import annotations

from typing import Any

from engine.gitops.flux import controls


def obj(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None, uid: str = "") -> dict:
    metadata: dict[str, Any] = {"name": "web", "namespace": "shop", "labels": labels or {}}
    if annotations:
        metadata["annotations"] = annotations
    if uid:
        metadata["uid"] = uid
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


OWNED = controls.owner_labels("apps", "flux-system")


def test_owner_labels_are_added_next_to_existing_ones() -> None:
    labelled = controls.set_owner_labels(obj({"app": "web"}), "apps", "flux-system")
    assert labelled["metadata"]["labels"] == {
        "app": "web",
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    }


def test_apply_skips_ignored_and_disabled_objects_wherever_the_mark_is() -> None:
    ignore = {"kustomize.toolkit.fluxcd.io/ssa": "Ignore"}
    disabled = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}
    assert controls.skip_apply(obj(annotations=ignore), None)
    assert controls.skip_apply(obj(), obj(labels=disabled, uid="1"))
    assert not controls.skip_apply(obj(), obj(uid="1"))


def test_if_not_present_creates_but_never_updates() -> None:
    once = obj(annotations={"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"})
    assert not controls.skip_apply(once, None)
    assert controls.skip_apply(once, obj(uid="1"))


def test_merge_keeps_foreign_fields_and_force_recreates() -> None:
    assert controls.keeps_foreign_fields(obj(annotations={"kustomize.toolkit.fluxcd.io/ssa": "Merge"}), None)
    assert not controls.keeps_foreign_fields(obj(), obj())
    assert controls.may_recreate(obj(annotations={"kustomize.toolkit.fluxcd.io/force": "enabled"}), None, False)
    assert controls.may_recreate(obj(), None, True)
    assert not controls.may_recreate(obj(), obj(), False)


def test_prune_skips_objects_that_lost_their_labels_or_opted_out() -> None:
    assert controls.prune_skip_reason(obj(OWNED), "apps", "flux-system") is None
    assert controls.prune_skip_reason(obj(), "apps", "flux-system") == "it lost the ownership labels"
    assert controls.prune_skip_reason(obj(OWNED), "other", "flux-system") == "it lost the ownership labels"
    for key, value in (("prune", "disabled"), ("reconcile", "disabled"), ("ssa", "Ignore")):
        marked = obj(OWNED, {f"kustomize.toolkit.fluxcd.io/{key}": value})
        assert (
            controls.prune_skip_reason(marked, "apps", "flux-system") == f"kustomize.toolkit.fluxcd.io/{key}: {value}"
        )
