"""Command checks: how their outcome is judged, how they run, and which kubectl reads the watcher can see."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.checks.context import CheckContext
from engine.checks.kinds import command
from engine.checks.kinds.common import Scope
from engine.checks.memory import MemoryCluster
from engine.checks.spec import CommandCheck


def body(run: str, **extra: object) -> CommandCheck:
    return CommandCheck.model_validate({"run": run, **extra})


def test_judge_passes_on_the_expected_exit_code() -> None:
    verdict = command.judge(body("kubectl get deploy web"), command.CommandRun(0, "web   1/1\n"))
    assert (verdict.passed, verdict.message) == (True, "`kubectl get deploy web` exited with 0: web   1/1")


def test_judge_shows_what_the_script_said_when_it_fails() -> None:
    outcome = command.CommandRun(1, "checking...\nFAIL: the web Deployment has 1 replica, expected 3\n")
    verdict = command.judge(body("./verify.sh"), outcome)
    assert verdict.passed is False
    assert verdict.message == (
        "expected `./verify.sh` to exit with 0, found exit code 1: the web Deployment has 1 replica, expected 3"
    )
    assert (verdict.expected, verdict.found) == ("exit code 0", "exit code 1")
    plain = command.judge(body("./verify.sh"), command.CommandRun(2, "", "Error from server (NotFound)\n"))
    assert plain.message.endswith("found exit code 2: Error from server (NotFound)")


def test_judge_of_an_expected_failure_and_of_stdout() -> None:
    assert command.judge(body("false", exitCode=1), command.CommandRun(1)).passed is True
    wrong = command.judge(body("kubectl get cm", stdout="^cfg"), command.CommandRun(0, "other\n"))
    assert wrong.passed is False
    assert wrong.message == "expected the output of `kubectl get cm` to match ^cfg, found: other"
    multiline = command.judge(body("kubectl get cm", stdout="^cfg$"), command.CommandRun(0, "other\ncfg\n"))
    assert multiline.passed is True


def test_judge_of_a_timeout_and_of_a_command_that_could_not_start() -> None:
    late = command.judge(body("sleep 60", timeoutSeconds=2), command.CommandRun(None, timed_out=True))
    assert late.message == "`sleep 60` did not finish within 2s"
    broken = command.judge(body("x"), command.CommandRun(None, error="could not start bash: denied"))
    assert broken.message == "`x` could not run: could not start bash: denied"


def test_long_scripts_are_shortened_in_messages() -> None:
    script = "set -e\nkubectl get deploy web -o jsonpath='{.status.readyReplicas}' | grep -q 3\n"
    assert command.title(body(script)) == "`set -e…` exits with 0"


def _context(tmp_path: Path) -> CheckContext:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    return CheckContext(MemoryCluster(), "shop", kubeconfig=kubeconfig, cwd=tmp_path, env={"LAB": "antipatterns"})


def test_run_sets_kubeconfig_environment_and_folder(tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("here")
    outcome = command.run(body('echo "$KUBECONFIG $LAB $(cat marker)"; command -v kubectl'), _context(tmp_path))
    assert outcome.exit_code == 0
    first, second = outcome.stdout.splitlines()
    assert first == f"{tmp_path / 'kubeconfig'} antipatterns here"
    assert second.endswith("kubectl")


def test_run_has_no_input_and_reports_exit_codes(tmp_path: Path) -> None:
    outcome = command.run(body("cat; echo done; exit 3"), _context(tmp_path))
    assert (outcome.exit_code, outcome.stdout) == (3, "done\n")


def test_run_stops_a_command_and_its_children_at_the_timeout(tmp_path: Path) -> None:
    start = time.monotonic()
    outcome = command.run(body("sleep 30 | cat", timeoutSeconds=0.3), _context(tmp_path))
    assert outcome.timed_out is True
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(
    ("script", "reads"),
    [
        ("kubectl get deploy web -n shop", ["Deployment shop/web"]),
        ("kubectl -n shop get deployment/web -o jsonpath='{.status.readyReplicas}'", ["Deployment shop/web"]),
        ("kubectl get pods -l app=web --namespace=shop", ["Pods in shop matching app=web"]),
        ("kubectl get pods", ["Pods in every namespace"]),
        ("kubectl get svc,ep web -n shop", ["Service shop/web", "Endpoints shop/web"]),
        ("kubectl wait --for=condition=Available deploy/web -n shop --timeout=60s", ["Deployment shop/web"]),
        ("kubectl rollout status deploy/web -n shop", ["Deployment shop/web"]),
        ("kubectl logs web-1 -n shop | grep -q ready", ["Pod shop/web-1"]),
        ("kubectl get ns prod", ["Namespace prod"]),
        ("kubectl events -n shop", ["Events in shop"]),
        (
            "set -e\nkubectl get cm cfg -n shop\nkubectl get secret db -n shop",
            ["ConfigMap shop/cfg", "Secret shop/db"],
        ),
        ('test "$(kubectl get deploy web -n shop -o name)" = deployment.apps/web', ["Deployment shop/web"]),
        ("kubectl get deploy $NAME -n shop", []),
        ("kubectl get gizmos -n shop", []),
        ("kubectl apply -f app.yaml", []),
        ("curl -s http://localhost:8080/healthz", []),
        ("echo 'unterminated", []),
    ],
)
def test_reads_of_kubectl_calls(script: str, reads: list[str]) -> None:
    cluster = MemoryCluster()
    found = command.reads(body(script), Scope("default", cluster.resolve))
    assert [read.describe() for read in found] == reads
