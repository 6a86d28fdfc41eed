"""Pipeline checks: the latest run of a lab repo, one of its steps and its log, read from the pipeline store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine import paths
from engine.checks.context import CheckContext
from engine.checks.evaluator import evaluate
from engine.checks.kinds import pipeline as pipeline_kind
from engine.checks.memory import MemoryCluster
from engine.checks.spec import Check, PipelineCheck
from engine.pipeline import PipelineStore
from engine.pipeline.store import FAILED, OUTPUT, SUCCEEDED

LAB = "shop"


@pytest.fixture
def store(driftlab_home: Path) -> PipelineStore:
    return PipelineStore(paths.pipeline_store(LAB))


def record(store: PipelineStore, commit: str, status: str, step_status: str, output: str, branch: str = "main") -> int:
    """A finished run with a `test` and a `deploy` step, written through the store's public API."""
    run = store.add_run("app", f"refs/heads/{branch}", commit, "0" * 40, "Scale web", "Ann <a@x>", "learner")
    store.claim_next("app")
    store.add_steps(run.id, [("build", "test", "pytest"), ("build", "deploy", "kubectl apply -f deploy/")])
    store.step_finished(run.id, 0, SUCCEEDED, 0)
    store.append(run.id, [(time.time(), 0, OUTPUT, "3 passed")])
    store.step_finished(run.id, 1, step_status, 0 if step_status == SUCCEEDED else 1)
    store.append(run.id, [(time.time(), 1, OUTPUT, output)])
    store.finish_run(run.id, status)
    return run.id


def check(**fields: object) -> PipelineCheck:
    return PipelineCheck.model_validate({"repo": "app", **fields})


def verdict(body: PipelineCheck, lab: str | None = LAB) -> pipeline_kind.Verdict:
    return pipeline_kind.judge(body, pipeline_kind.read(body, CheckContext(MemoryCluster(), lab=lab)))


def test_the_latest_run_status(store: PipelineStore) -> None:
    record(store, "a" * 40, SUCCEEDED, SUCCEEDED, "deployment.apps/web configured")
    second = record(store, "b" * 40, FAILED, FAILED, "error: no objects passed to apply")
    failed = verdict(check(status="succeeded"))
    assert failed.passed is False
    assert (
        failed.message
        == f"expected the latest run of app to have succeeded, found run #{second} (commit bbbbbbb) failed"
    )
    third = record(store, "c" * 40, SUCCEEDED, SUCCEEDED, "deployment.apps/web configured")
    passed = verdict(check(status="succeeded", minRuns=3))
    assert (passed.passed, passed.message) == (True, f"app: run #{third} (commit ccccccc) succeeded")


def test_min_runs_and_no_runs(store: PipelineStore) -> None:
    assert verdict(check()).message == "expected at least 1 run of app, found 0 runs"
    assert verdict(check(minRuns=0)).passed is True
    assert verdict(check(minRuns=0, status="succeeded")).message == "expected a pipeline run of app, found none"
    record(store, "a" * 40, SUCCEEDED, SUCCEEDED, "ok", branch="dev")
    assert verdict(check(minRuns=2)).message == "expected at least 2 runs of app, found 1 run"
    assert verdict(check(branch="main")).message == "expected at least 1 run of app@main, found 0 runs"
    assert verdict(check(branch="dev")).passed is True


def test_a_step_status_and_its_log(store: PipelineStore) -> None:
    run = record(store, "d" * 40, FAILED, FAILED, "error: no objects passed to apply")
    step = verdict(check(step="deploy", status="succeeded"))
    assert step.message == (
        f"expected step 'deploy' of run #{run} (commit ddddddd) to have succeeded, found it failed (exit code 1)"
    )
    logged = verdict(check(step="build/deploy", log="no objects"))
    assert logged.passed is True
    assert logged.message == (
        f"app: step 'build/deploy' failed in run #{run} (commit ddddddd) failed;"
        ' logged "error: no objects passed to apply"'
    )
    other_step = verdict(check(step="test", log="no objects"))
    assert other_step.passed is False
    assert other_step.message == (
        f"expected the log of step 'test' of run #{run} (commit ddddddd) to match no objects,"
        ' found no matching line (last line: "3 passed")'
    )
    missing = verdict(check(step="lint"))
    assert missing.message == (
        f"expected run #{run} (commit ddddddd) of app to have a step 'lint', found steps: test, deploy"
    )


def test_the_run_log(store: PipelineStore) -> None:
    run = record(store, "e" * 40, SUCCEEDED, SUCCEEDED, "deployment.apps/web configured")
    assert verdict(check(log="^3 passed$")).passed is True
    wrong = verdict(check(status="succeeded", log="web created"))
    assert wrong.message == (
        f"expected the log of run #{run} (commit eeeeeee) succeeded to match web created,"
        ' found no matching line (last line: "deployment.apps/web configured")'
    )


def test_without_a_lab_the_check_fails_clearly(store: PipelineStore) -> None:
    failed = verdict(check(), lab=None)
    assert failed.passed is False and "pipeline runs of 'app'" in failed.message


def test_titles_and_the_evaluator(store: PipelineStore) -> None:
    assert pipeline_kind.title(check(branch="main", status="succeeded")) == "the latest run of app@main is succeeded"
    assert pipeline_kind.title(check(step="deploy", log="configured")) == (
        "step 'deploy' of the latest run of app logs a line matching configured"
    )
    record(store, "f" * 40, SUCCEEDED, SUCCEEDED, "ok")
    checks = [Check.model_validate({"pipeline": {"repo": "app", "status": "succeeded"}})]
    result = evaluate(checks, CheckContext(MemoryCluster(), lab=LAB))
    assert (result.passed, result.results[0].kind, result.results[0].name) == (
        True,
        "pipeline",
        "the latest run of app is succeeded",
    )
