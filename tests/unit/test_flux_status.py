"""Flux's words: Go durations, condition ordering, the status every reconcile ends with, and the messages."""

from __future__ import annotations

import pytest

from engine.gitops.flux import status


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0000005, "500ns"),
        (0.0000015, "1.5µs"),
        (0.064512893, "64.512893ms"),
        (1.5, "1.5s"),
        (30, "30s"),
        (60, "1m0s"),
        (90.25, "1m30.25s"),
        (600, "10m0s"),
        (3600, "1h0m0s"),
        (5400, "1h30m0s"),
    ],
)
def test_durations_print_as_go_prints_them(seconds: float, text: str) -> None:
    assert status.go_duration(seconds) == text


def test_the_success_event_and_ready_message_match_flux() -> None:
    assert status.finished(1.5, 600) == "Reconciliation finished in 1.5s, next run in 10m0s"
    assert status.applied("main@sha1:abc") == "Applied revision: main@sha1:abc"
    assert status.artifact_not_found(30) == "Source artifact not found, retrying in 30s"
    assert status.dependencies_not_ready(30) == "Dependencies do not meet ready condition, retrying in 30s"
    assert status.health_failed(2, "timeout waiting for: []") == "health check failed after 2s: timeout waiting for: []"
    assert status.stored_revision("main@sha1:abc") == "stored artifact for revision 'main@sha1:abc'"


def test_a_long_commit_subject_is_cut_to_fifty_characters() -> None:
    assert status.stored_commit("Add b\n\nbody") == "stored artifact for commit 'Add b'"
    assert status.stored_commit("x" * 60) == f"stored artifact for commit '{'x' * 50}...'"


def test_ready_comes_first_and_the_other_conditions_by_type() -> None:
    conditions: list = []
    for type_ in ("Reconciling", "Healthy", "Ready"):
        conditions = status.put(conditions, type_, "True", "Because", "message", 3)
    assert [c["type"] for c in conditions] == ["Ready", "Healthy", "Reconciling"]
    assert all(c["observedGeneration"] == 3 for c in conditions)


def test_a_ready_status_drops_reconciling_and_records_the_generation_and_request() -> None:
    conditions = status.put([], "Ready", "True", "ReconciliationSucceeded", "Applied revision: r", 4)
    conditions = status.put(conditions, "Reconciling", "True", "Progressing", "Fetching", 4)
    settled = status.finalize({"conditions": conditions}, 4, "2026-01-01")
    assert [c["type"] for c in settled["conditions"]] == ["Ready"]
    assert settled["observedGeneration"] == 4
    assert settled["lastHandledReconcileAt"] == "2026-01-01"


def test_a_failed_status_keeps_reconciling_with_retry_and_the_old_generation() -> None:
    conditions = status.put([], "Ready", "False", "BuildFailed", "kustomize build failed: x", 5)
    conditions = status.put(conditions, "Reconciling", "True", "Progressing", "Fetching", 5)
    settled = status.finalize({"conditions": conditions, "observedGeneration": 4}, 5, None)
    reconciling = next(c for c in settled["conditions"] if c["type"] == "Reconciling")
    assert reconciling["reason"] == "ProgressingWithRetry"
    assert settled["observedGeneration"] == 4
    assert "lastHandledReconcileAt" not in settled
