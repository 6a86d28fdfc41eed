"""`driftlab pipeline runs|logs|cancel` on a lab's store, as the learner reads them."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine import paths
from engine.cli import cli
from engine.pipeline import PipelineStore
from engine.pipeline.report import format_seconds, runs_table
from engine.pipeline.store import OUTPUT, RUNNER

LAB = "shop-lab"


def driftlab(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["pipeline", *args], obj={}, env=env)


def add(store: PipelineStore, repo: str = "shop", branch: str = "main", commit: str = "abcdef0" + "1" * 33) -> int:
    return store.add_run(repo, f"refs/heads/{branch}", commit, "0" * 40, "Change\n", "Ann <a@x>", "learner").id


@pytest.fixture
def store(driftlab_home: Path) -> PipelineStore:
    return PipelineStore(paths.pipeline_store(LAB))


def finish(store: PipelineStore, repo: str, status: str) -> int:
    run = store.claim_next(repo)
    assert run is not None
    store.finish_run(run.id, status)
    return run.id


def test_runs_lists_the_newest_first_as_a_table(store: PipelineStore) -> None:
    add(store)
    finish(store, "shop", "succeeded")
    add(store, repo="api", branch="feature/x", commit="1234567" + "0" * 33)
    store.claim_next("api")
    add(store)
    result = driftlab("runs")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()]
    assert rows[0] == ["ID", "REPO", "BRANCH", "COMMIT", "STATUS", "DURATION", "STARTED"]
    assert [row[:5] for row in rows[1:]] == [
        ["3", "shop", "main", "abcdef0", "queued"],
        ["2", "api", "feature/x", "1234567", "running"],
        ["1", "shop", "main", "abcdef0", "succeeded"],
    ]
    assert rows[1][5:] == ["-", "-"]  # a queued run has neither duration nor start
    for row in rows[2:]:
        assert re.fullmatch(r"\d+\.\ds", row[5])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", f"{row[6]} {row[7]}")


def test_runs_of_one_repo_and_at_most_n(store: PipelineStore) -> None:
    for repo in ("shop", "api", "shop", "shop"):
        add(store, repo=repo)
    ids = [line.split()[0] for line in driftlab("runs", "--repo", "shop", "--limit", "2").output.splitlines()[1:]]
    assert ids == ["4", "3"]
    assert driftlab("runs", "--repo", "web").output == "no pipeline runs for repo 'web'\n"
    assert driftlab("runs", "--limit", "0").exit_code == 2


def test_logs_print_each_line_with_its_time(store: PipelineStore) -> None:
    run_id = add(store)
    moment = time.mktime((2025, 3, 4, 10, 20, 30, 0, 0, -1)) + 0.25
    store.append(run_id, [(moment, None, RUNNER, "==> step 1/1: build / test"), (moment + 1, 0, OUTPUT, "ok")])
    result = driftlab("logs", str(run_id))
    assert result.exit_code == 0
    assert result.output == "10:20:30.250 | ==> step 1/1: build / test\n10:20:31.250   ok\n"


def test_logs_follow_a_finished_run_to_its_end(store: PipelineStore) -> None:
    run_id = add(store)
    store.append(run_id, [(time.time(), None, RUNNER, "run 1 failed after 1.0s")])
    finish(store, "shop", "failed")
    result = driftlab("logs", "-f", str(run_id))
    assert result.exit_code == 0
    assert result.output.endswith("| run 1 failed after 1.0s\n")


def test_cancelling_a_queued_run(store: PipelineStore) -> None:
    run_id = add(store)
    result = driftlab("cancel", str(run_id))
    assert (result.exit_code, result.output) == (0, "run 1 was queued; it is cancelled and will not run\n")
    assert store.run(run_id).status == "cancelled"
    assert [line.text for line in store.lines(run_id)] == ["cancelled before it started"]
    again = driftlab("cancel", str(run_id))
    assert (again.exit_code, again.output) == (1, "error: run 1 has already finished (cancelled)\n")


def test_unknown_runs_and_labs_are_clear_errors(store: PipelineStore) -> None:
    assert driftlab("logs", "9").output == "error: there is no pipeline run 9\n"
    assert driftlab("runs", "--lab", "other").output.startswith("error: lab 'other' has no pipeline runs yet")
    assert driftlab("logs", "x").exit_code == 2


def test_the_lab_comes_from_the_option_the_shell_or_the_only_lab(store: PipelineStore) -> None:
    add(store)
    other = PipelineStore(paths.pipeline_store("other-lab"))
    add(other, repo="api")
    assert driftlab("runs").output.startswith("error: several labs have pipeline runs; name one with --lab")
    assert driftlab("runs", "--lab", "other-lab").output.splitlines()[1].split()[1] == "api"
    assert driftlab("runs", env={"DRIFTLAB_LAB": LAB}).output.splitlines()[1].split()[1] == "shop"


def test_durations_read_naturally() -> None:
    assert [format_seconds(s) for s in (0.04, 9.96, 59.9, 61, 3599, 3725)] == [
        "0.0s",
        "10.0s",
        "59.9s",
        "1m01s",
        "59m59s",
        "1h02m05s",
    ]


def test_a_running_run_shows_how_long_it_has_been_going(store: PipelineStore) -> None:
    add(store)
    running = store.claim_next("shop")
    assert running is not None and running.started_at is not None
    row = runs_table([running], now=running.started_at + 75)[1].split()
    assert row[4:6] == ["running", "1m15s"]
