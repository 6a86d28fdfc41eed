"""The pipeline file: what a valid one means, and what the learner reads when theirs is wrong."""

from __future__ import annotations

import pytest

from engine.pipeline import PipelineFileError, load_pipeline
from engine.pipeline.model import DEFAULT_RUN_TIMEOUT, parse_duration

FULL = """\
triggers:
  branches: [main, "release/*"]
env:
  APP: shop
  REPLICAS: 3
  DEBUG: true
secrets: [DEPLOY_TOKEN]
timeout: 10m
jobs:
  - name: test
    steps:
      - name: unit
        run: make test
  - name: deploy
    steps:
      - name: apply
        run: |
          kubectl apply -f deploy/
          kubectl rollout status deploy/web
        env: {DRY_RUN: "false"}
        timeout: 90s
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PipelineFileError) as caught:
        load_pipeline(text)
    return [str(problem) for problem in caught.value.problems]


def test_a_full_pipeline_loads_with_its_steps_in_order() -> None:
    pipeline = load_pipeline(FULL)
    assert [(job.name, step.name) for job, step in pipeline.steps()] == [("test", "unit"), ("deploy", "apply")]
    assert pipeline.env == {"APP": "shop", "REPLICAS": "3", "DEBUG": "true"}
    assert pipeline.secrets == ["DEPLOY_TOKEN"]
    assert pipeline.timeout == 600
    apply = pipeline.jobs[1].steps[0]
    assert apply.timeout == 90
    assert apply.env == {"DRY_RUN": "false"}
    assert apply.run.splitlines() == ["kubectl apply -f deploy/", "kubectl rollout status deploy/web"]


def test_defaults_run_on_every_branch_with_a_run_timeout() -> None:
    pipeline = load_pipeline("jobs: [{name: a, steps: [{name: s, run: 'true'}]}]")
    assert pipeline.timeout == DEFAULT_RUN_TIMEOUT
    assert pipeline.env == {}
    assert pipeline.secrets == []
    assert pipeline.jobs[0].steps[0].timeout is None
    assert all(pipeline.triggers.matches(branch) for branch in ("main", "feature/login", "a/b/c"))


@pytest.mark.parametrize(
    ("patterns", "branch", "expected"),
    [
        (["main"], "main", True),
        (["main"], "main2", False),
        (["release/*"], "release/1.2", True),
        (["release/*"], "release/1.2/hotfix", False),
        (["release/**"], "release/1.2/hotfix", True),
        (["feature-?"], "feature-a", True),
        (["feature-?"], "feature-ab", False),
        (["main", "dev"], "dev", True),
        (["v1.0"], "v1x0", False),
    ],
)
def test_branch_patterns(patterns: list[str], branch: str, expected: bool) -> None:
    text = f"triggers: {{branches: {patterns}}}\njobs: [{{name: a, steps: [{{name: s, run: x}}]}}]"
    assert load_pipeline(text).triggers.matches(branch) is expected


def test_a_single_branch_may_be_written_without_a_list() -> None:
    pipeline = load_pipeline("triggers: {branches: main}\njobs: [{name: a, steps: [{name: s, run: x}]}]")
    assert pipeline.triggers.branches == ["main"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(5, 5.0), (2.5, 2.5), ("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("500ms", 0.5), ("1m30s", 90.0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "5", "5 m", "-1s", 0, -3, True, "1d", ""])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_unknown_fields_are_errors_at_their_line() -> None:
    text = "jobs:\n  - name: a\n    steps:\n      - name: s\n        run: x\n        tmeout: 5\n"
    assert problems(text) == [
        ".driftlab/pipeline.yaml:6:9: jobs[0].steps[0]: unknown field 'tmeout' (allowed: name, run, env, timeout)"
    ]


def test_missing_fields_point_at_their_parent() -> None:
    text = "jobs:\n  - name: a\n    steps:\n      - name: s\n"
    assert problems(text) == [".driftlab/pipeline.yaml:4:9: jobs[0].steps[0]: missing required field 'run'"]
    assert problems("env: {}\n") == [".driftlab/pipeline.yaml:1:1: missing required field 'jobs'"]


def test_every_problem_is_reported_in_reading_order() -> None:
    text = """\
triggers: {branchs: [main]}
env: {9LIVES: x, OK: [1, 2]}
timeout: later
jobs:
  - name: ""
    steps: []
"""
    assert problems(text) == [
        ".driftlab/pipeline.yaml:1:12: triggers: unknown field 'branchs' (allowed: branches)",
        ".driftlab/pipeline.yaml:2:7: env.9LIVES: '9LIVES' is not a variable name: use letters, digits and '_', "
        "not starting with a digit",
        ".driftlab/pipeline.yaml:2:22: env.OK: an environment value must be a text, a number or a boolean",
        ".driftlab/pipeline.yaml:3:10: timeout: 'later' is not a duration: write a number of seconds or a text "
        "like 90s, 5m or 1h30m",
        ".driftlab/pipeline.yaml:5:11: jobs[0].name: must not be empty",
        ".driftlab/pipeline.yaml:6:12: jobs[0].steps: must list at least one step",
    ]


def test_yaml_syntax_errors_have_a_position() -> None:
    assert problems("jobs:\n  - name: a\n   steps: [\n") == [
        ".driftlab/pipeline.yaml:3:4: not valid YAML: expected <block end>, but found '<block mapping start>'"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1:1: the pipeline is empty: it needs at least 'jobs'"),
        ("# nothing yet\n", "1:1: the pipeline is empty: it needs at least 'jobs'"),
        ("- run: x\n", "1:1: the pipeline must be a mapping with 'jobs'"),
        ("jobs: []\n", "1:7: jobs: must list at least one job"),
        (
            "jobs: [{name: a, steps: [{name: s, run: 3}]}]\n",
            "1:41: jobs[0].steps[0].run: Input should be a valid string",
        ),
        ("secrets: [my-token]\njobs: [{name: a, steps: [{name: s, run: x}]}]\n", "1:11: secrets[0]: 'my-token' is not"),
    ],
)
def test_file_level_problems(text: str, expected: str) -> None:
    found = problems(text)
    assert len(found) == 1
    assert found[0].startswith(f".driftlab/pipeline.yaml:{expected}")


def test_duplicate_keys_and_names_are_errors() -> None:
    text = """\
timeout: 5
timeout: 6
jobs:
  - name: build
    steps: [{name: s, run: x}, {name: s, run: y}]
  - name: build
    steps: [{name: s, run: x}]
"""
    assert problems(text) == [
        ".driftlab/pipeline.yaml:2:1: 'timeout' is given twice",
        ".driftlab/pipeline.yaml:5:39: jobs[0].steps[1].name: job 'build' already has a step 's'",
        ".driftlab/pipeline.yaml:6:11: jobs[1].name: another job is already named 'build'",
    ]


def test_the_file_name_in_messages_is_the_one_given() -> None:
    with pytest.raises(PipelineFileError) as caught:
        load_pipeline("jobs: 3", file="shop/.driftlab/pipeline.yaml")
    assert str(caught.value).startswith("shop/.driftlab/pipeline.yaml:1:7: jobs: ")
