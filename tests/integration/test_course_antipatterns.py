"""The release antipatterns course proves itself on a real embedded cluster: every step's checks fail after its
setup and pass once its solution has run, step after step, as a learner would go through the course.

The course and its lab are copied first, because solutions edit the course's files. The cluster is started
with the lab's image catalogue (the shop exists only there), so it is this module's own, not the session's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from engine import paths, proc
from engine.checks.context import CheckContext
from engine.checks.evaluator import evaluate
from engine.checks.results import StepResult
from engine.checks.watcher import wait
from engine.course import Course, Step, load_course, load_lab, validate_course
from engine.lab.runner import ActionRunner

from .conftest import Cluster, start_cluster

COURSE = "antipatterns"
COMMAND_TIMEOUT = 180


@dataclass
class Lab:
    """The copied course, and the cluster it runs on, seeded as `driftlab lab up` seeds it."""

    course: Course
    cluster: Cluster

    @property
    def env(self) -> dict[str, str]:
        return dict(self.cluster.env)

    def context(self) -> CheckContext:
        return CheckContext.from_kubeconfig(
            self.cluster.kubeconfig, self.course.namespace, cwd=self.course.folder, env=self.env
        )

    def shell(self, script: str, what: str) -> proc.Result:
        """Run shell code in the course's folder with the lab's KUBECONFIG, as a learner's terminal would."""
        try:
            result = proc.run(["bash", "-c", script], env=self.env, cwd=self.course.folder, timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{what}: `{script}` did not finish within {COMMAND_TIMEOUT}s")
        assert result.ok, f"{what}: `{script}` exited with {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("antipatterns")
    shutil.copytree(paths.courses_dir() / COURSE, root / "courses" / COURSE)
    shutil.copytree(paths.labs_dir() / COURSE, root / "labs" / COURSE)
    course = load_course(root / "courses" / COURSE)
    definition = load_lab(course.lab_folder)
    catalogue = definition.images_path()
    assert catalogue is not None, "the lab has no image catalogue"

    cluster_root = root / "cluster"
    name = "antipatterns"
    state = cluster_root / "driftlab-home" / "clusters" / name
    state.mkdir(parents=True)
    (state / "settings.json").write_text(json.dumps({"image_catalogue": str(catalogue)}))
    cluster = start_cluster(cluster_root, name)
    try:
        for namespace in definition.namespaces:
            cluster.kubectl("create", "namespace", namespace)
        for seed in definition.seed_paths():
            cluster.kubectl("apply", "-f", str(seed))
        yield Lab(course, cluster)
    finally:
        cluster.driftlab("cluster", "down", "--name", name, "--purge", check=False)


def test_the_course_validates_cleanly() -> None:
    problems = validate_course(paths.courses_dir() / COURSE)
    assert problems == [], "\n".join(str(problem) for problem in problems)


@pytest.mark.timeout(600)
def test_every_step_fails_before_its_solution_and_passes_after_it(lab: Lab) -> None:
    """One walk through the whole course: each step starts where the previous one ended."""
    for step in lab.course.steps:
        _prove(lab, step)


def _prove(lab: Lab, step: Step) -> None:
    ActionRunner(lab.cluster.kubeconfig, lab.course.namespace, lab.course.folder, lab.env).run_setup(step)
    if not step.checks:
        assert step.solution is None, f"step {step.id!r} checks nothing, so it must not ask for work"
        return
    before = evaluate(step.checks, lab.context())
    assert not before.passed, f"step {step.id!r}: its checks pass before its solution ran:\n{before}"
    assert step.solution is not None, f"step {step.id!r} has checks but no solution"
    for edit in step.solution.files:
        assert edit.content is not None, f"step {step.id!r}: this test writes whole files only"
        (lab.course.folder / edit.path).write_text(edit.content)
    for command in step.solution.commands:
        lab.shell(command, f"step {step.id!r}, solution")
    after = wait(step.checks, lab.context(), timeout=step.timeout)
    assert after.passed, f"step {step.id!r}: checks still fail after its solution:\n{_failures(after)}"


def _failures(result: StepResult) -> str:
    return "\n".join(line for failed in result.failed for line in failed.lines())
