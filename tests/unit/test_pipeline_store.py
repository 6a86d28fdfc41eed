"""The pipeline store: runs queue per repo in push order, end with their steps settled, and persist."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import paths
from engine.pipeline import PipelineError, PipelineStore, find_store
from engine.pipeline.store import OUTPUT, RUNNER


def add(store: PipelineStore, repo: str = "shop", branch: str = "main", commit: str = "a" * 40) -> int:
    return store.add_run(repo, f"refs/heads/{branch}", commit, "0" * 40, "Fix it\n\nbody", "Ann <a@x>", "learner").id


@pytest.fixture
def store(tmp_path: Path) -> PipelineStore:
    return PipelineStore(tmp_path / "state" / "pipelines.db")


def test_a_new_run_is_queued_with_what_was_pushed(store: PipelineStore) -> None:
    run = store.run(add(store, commit="1234567" + "0" * 33))
    assert (run.status, run.repo, run.branch, run.short_commit, run.summary) == (
        "queued",
        "shop",
        "main",
        "1234567",
        "Fix it",
    )
    assert (run.author, run.pusher, run.started_at, run.duration, run.finished) == (
        "Ann <a@x>",
        "learner",
        None,
        None,
        False,
    )


def test_runs_are_claimed_oldest_first_per_repo(store: PipelineStore) -> None:
    first, other, second = add(store), add(store, repo="api"), add(store)
    claimed = store.claim_next("shop")
    assert claimed is not None and claimed.id == first and claimed.status == "running"
    assert claimed.started_at is not None
    assert store.claim_next("shop").id == second  # type: ignore[union-attr]
    assert store.claim_next("shop") is None
    assert store.queued_repos() == ["api"]
    assert store.claim_next("api").id == other  # type: ignore[union-attr]


def test_finishing_a_run_settles_its_steps(store: PipelineStore) -> None:
    run_id = add(store)
    store.claim_next("shop")
    store.add_steps(run_id, [("build", "one", "true"), ("build", "two", "sleep 9"), ("deploy", "three", "true")])
    store.step_started(run_id, 0, 111)
    store.step_finished(run_id, 0, "succeeded", 0)
    store.step_started(run_id, 1, 222)
    assert store.steps(run_id)[1].pid == 222
    run = store.finish_run(run_id, "interrupted", "the runner stopped")
    assert (run.status, run.error, run.finished) == ("interrupted", "the runner stopped", True)
    assert run.duration is not None and run.duration >= 0
    steps = store.steps(run_id)
    assert [(s.name, s.status, s.exit_code, s.pid) for s in steps] == [
        ("one", "succeeded", 0, None),
        ("two", "interrupted", None, None),
        ("three", "skipped", None, None),
    ]
    assert steps[0].duration is not None and steps[2].duration is None


def test_only_a_queued_run_can_be_cancelled_before_it_starts(store: PipelineStore) -> None:
    queued, running = add(store), add(store, repo="api")
    store.claim_next("api")
    assert store.cancel_queued(queued) is True
    assert store.run(queued).status == "cancelled"
    assert store.claim_next("shop") is None
    assert store.cancel_queued(running) is False
    assert store.request_cancel(queued) is False
    assert store.request_cancel(running) is True
    assert store.run(running).cancel_requested and store.run(running).status == "running"


def test_log_lines_resume_after_the_last_one_read(store: PipelineStore) -> None:
    run_id, other = add(store), add(store)
    store.append(run_id, [(1.0, None, RUNNER, "start"), (2.0, 0, OUTPUT, "hello")])
    store.append(other, [(2.5, None, RUNNER, "elsewhere")])
    store.append(run_id, [(3.0, 0, OUTPUT, "bye")])
    lines = store.lines(run_id)
    assert [(line.text, line.step, line.stream) for line in lines] == [
        ("start", None, "sys"),
        ("hello", 0, "out"),
        ("bye", 0, "out"),
    ]
    assert [line.text for line in store.lines(run_id, after=lines[1].id)] == ["bye"]
    assert [line.text for line in store.lines(run_id, step=0)] == ["hello", "bye"]


def test_listing_and_latest(store: PipelineStore) -> None:
    ids = [add(store), add(store, branch="dev"), add(store, repo="api"), add(store)]
    assert [run.id for run in store.runs()] == ids[::-1]
    assert [run.id for run in store.runs(repo="shop", limit=2)] == [ids[3], ids[1]]
    assert [run.id for run in store.runs(status="queued", repo="api")] == [ids[2]]
    assert store.latest("shop").id == ids[3]  # type: ignore[union-attr]
    assert store.latest("shop", branch="dev").id == ids[1]  # type: ignore[union-attr]
    assert store.latest("web") is None


def test_runs_survive_reopening_from_another_connection(store: PipelineStore) -> None:
    run_id = add(store)
    store.append(run_id, [(1.0, None, RUNNER, "kept")])
    again = PipelineStore(store.path, create=False)
    assert again.run(run_id).status == "queued"
    assert [line.text for line in again.lines(run_id)] == ["kept"]
    assert store.path.stat().st_mode & 0o077 == 0


def test_unknown_runs_and_missing_stores_are_clear_errors(store: PipelineStore, tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="there is no pipeline run 42"):
        store.run(42)
    with pytest.raises(PipelineError, match="no pipeline store at"):
        PipelineStore(tmp_path / "nowhere.db", create=False)


def test_finding_a_labs_store(driftlab_home: Path) -> None:
    with pytest.raises(PipelineError, match="no lab has pipeline runs yet"):
        find_store(None)
    PipelineStore(paths.pipeline_store("shop-lab"))
    assert find_store(None) == driftlab_home / "labs" / "shop-lab" / "pipelines.db"
    assert find_store("shop-lab") == find_store(None)
    with pytest.raises(PipelineError, match="lab 'other' has no pipeline runs yet"):
        find_store("other")
    PipelineStore(paths.pipeline_store("other"))
    with pytest.raises(
        PipelineError, match=r"several labs have pipeline runs; name one with --lab \(other, shop-lab\)"
    ):
        find_store(None)
    with pytest.raises(ValueError, match="invalid name"):
        find_store("../etc")
