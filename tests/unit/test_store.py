from __future__ import annotations

from pathlib import Path

from engine.cluster.embedded.store import Store


def cm(name: str, ns: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}}


def test_every_write_takes_the_next_global_revision(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    a = store.put("/configmaps", cm("a"), "ADDED")
    b = store.put("/configmaps", cm("b"), "ADDED")
    assert int(b["metadata"]["resourceVersion"]) == int(a["metadata"]["resourceVersion"]) + 1
    assert store.get("/configmaps", "default", "a") == a
    assert [o["metadata"]["name"] for o in store.list("/configmaps")] == ["a", "b"]


def test_state_and_revision_survive_reopening(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    stored = store.put("/configmaps", cm("a"), "ADDED")
    store.close()
    again = Store(tmp_path / "db")
    assert again.get("/configmaps", "default", "a") == stored
    assert again.revision == int(stored["metadata"]["resourceVersion"])
    newer = again.put("/configmaps", cm("b"), "ADDED")
    assert int(newer["metadata"]["resourceVersion"]) > int(stored["metadata"]["resourceVersion"])


def test_events_since_replays_changes_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    first = store.put("/configmaps", cm("a"), "ADDED")
    since = int(first["metadata"]["resourceVersion"])
    store.put("/configmaps", cm("b", "other"), "ADDED")
    store.delete("/configmaps", first)
    events = list(store.events_since(since, "/configmaps", None))
    assert [(e.type, e.obj["metadata"]["name"]) for e in events] == [("ADDED", "b"), ("DELETED", "a")]
    assert [e.type for e in store.events_since(since, "/configmaps", "default")] == ["DELETED"]


def test_paged_listing_continues_after_a_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    for name in ("a", "b", "c"):
        store.put("/configmaps", cm(name), "ADDED")
    rest = [o["metadata"]["name"] for o in store.list("/configmaps", "default", after=("default", "a"))]
    assert rest == ["b", "c"]
