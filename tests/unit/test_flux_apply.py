"""The pure parts of Flux's apply: kind order, drift, taking fields back from kubectl, ownership labels."""

from __future__ import annotations

from engine.gitops.flux.apply import Change, cleanup_patch, has_drifted, prepare, sort_key
from engine.gitops.objects import ObjectRef


def test_objects_are_applied_in_flux_kind_order() -> None:
    refs = [
        ObjectRef("shop", "web", "apps", "Deployment"),
        ObjectRef("shop", "hook", "admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ObjectRef("shop", "web", "", "Service"),
        ObjectRef("shop", "a", "example.com", "Widget"),
        ObjectRef("", "shop", "", "Namespace"),
        ObjectRef("", "widgets.example.com", "apiextensions.k8s.io", "CustomResourceDefinition"),
        ObjectRef("shop", "b", "", "ConfigMap"),
        ObjectRef("shop", "a", "", "ConfigMap"),
    ]
    assert [f"{r.kind}/{r.name}" for r in sorted(refs, key=sort_key)] == [
        "CustomResourceDefinition/widgets.example.com",
        "Namespace/shop",
        "ConfigMap/a",
        "ConfigMap/b",
        "Service/web",
        "Deployment/web",
        "Widget/a",
        "ValidatingWebhookConfiguration/hook",
    ]


def test_change_lines_read_like_flux_events() -> None:
    assert str(Change(ObjectRef("shop", "web", "", "Service"), "created")) == "Service/shop/web created"
    assert str(Change(ObjectRef("", "shop", "", "Namespace"), "deleted")) == "Namespace/shop deleted"
    assert Change(ObjectRef("shop", "web", "", "Service"), "configured").changed
    assert not Change(ObjectRef("shop", "web", "", "Service"), "unchanged").changed


def _live(data: dict, **metadata: object) -> dict:
    meta = {"name": "a", "namespace": "shop", "resourceVersion": "7", "uid": "u", "managedFields": [], **metadata}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def test_drift_ignores_what_every_write_changes_but_not_the_content() -> None:
    live = _live({"k": "v"})
    assert not has_drifted(live, _live({"k": "v"}, resourceVersion="8", managedFields=[{"manager": "x"}]))
    assert has_drifted(live, _live({"k": "w"}))
    assert has_drifted(live, _live({"k": "v"}, labels={"new": "label"}))
    assert has_drifted(None, live)


def test_kubectl_managed_fields_are_handed_to_the_controller() -> None:
    entries = [
        {"manager": "kustomize-controller", "operation": "Apply", "fieldsV1": {"f:data": {"f:k": {}}}},
        {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {"f:extra": {}}}},
        {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:data": {}}},
        {"manager": "kubectl-edit", "operation": "Update", "subresource": "status", "fieldsV1": {}},
        {"manager": "helm", "operation": "Update", "fieldsV1": {}},
    ]
    live = _live({}, managedFields=entries, annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"})
    replace, remove = cleanup_patch(live)
    assert replace["op"] == "replace" and replace["path"] == "/metadata/managedFields"
    assert [(e["manager"], e["operation"]) for e in replace["value"]] == [
        ("kustomize-controller", "Apply"),
        ("kustomize-controller", "Apply"),
        ("kustomize-controller", "Apply"),
        ("kubectl-edit", "Update"),
        ("helm", "Update"),
    ]
    assert remove == {"op": "remove", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"}


def test_nothing_to_take_back_gives_no_patch() -> None:
    assert cleanup_patch(_live({}, managedFields=[{"manager": "kustomize-controller", "operation": "Apply"}])) == []


def test_prepared_objects_carry_owner_labels_and_common_metadata_without_touching_the_build() -> None:
    built = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"app": "a"}}}]
    prepared = prepare(built, "apps", "flux-system", {"labels": {"team": "shop"}, "annotations": {"owner": "me"}})
    assert prepared[0]["metadata"] == {
        "name": "a",
        "labels": {
            "app": "a",
            "team": "shop",
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        },
        "annotations": {"owner": "me"},
    }
    assert built[0]["metadata"] == {"name": "a", "labels": {"app": "a"}}
