"""Setup actions: `run:` through a shell with the lab's KUBECONFIG, `apply:`/`delete:` as kubectl commands.

kubectl is replaced here by a recorder that logs its arguments and stdin and answers as told, so these tests
see exactly which kubectl commands a course's setup turns into (the integration tests use the real one).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from engine import proc
from engine.course import SetupAction, Step
from engine.lab.runner import ActionRunner, SetupError, describe, tool_environment

FAKE_KUBECTL = f"""#!{sys.executable}
import json, os, sys
config = json.loads(os.environ["FAKE_KUBECTL"])
log = config["log"]
calls = open(log).read().count("\\n") if os.path.exists(log) else 0
stdin = sys.stdin.read() if "-" in sys.argv else ""
with open(log, "a") as out:
    out.write(json.dumps({{"args": sys.argv[1:], "stdin": stdin, "cwd": os.getcwd()}}) + "\\n")
answer = config.get("answers", {{}}).get(str(calls + 1), {{}})
sys.stderr.write(answer.get("stderr", ""))
sys.stdout.write(answer.get("stdout", "ok\\n"))
sys.exit(answer.get("code", 0))
"""


class Recorder:
    def __init__(self, folder: Path) -> None:
        self.log = folder / "kubectl.log"
        self.answers: dict[str, dict[str, Any]] = {}

    @property
    def env(self) -> dict[str, str]:
        return {"FAKE_KUBECTL": json.dumps({"log": str(self.log), "answers": self.answers})}

    @property
    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "kubectl"
    fake.write_text(FAKE_KUBECTL)
    fake.chmod(0o755)
    real_tool = proc.tool
    monkeypatch.setattr(proc, "tool", lambda name: str(fake) if name == "kubectl" else real_tool(name))
    return Recorder(tmp_path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    (course / "manifests").mkdir(parents=True)
    (course / "manifests" / "crd.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n"
        "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: one}\n"
    )
    return course


def runner(folder: Path, recorder: Recorder) -> ActionRunner:
    return ActionRunner(folder.parent / "kubeconfig", "work", folder, recorder.env)


def action(**fields: Any) -> SetupAction:
    return SetupAction.model_validate(fields)


def step(*actions: dict[str, Any]) -> Step:
    return Step.model_validate({"id": "prepare", "title": "Prepare", "instructions": "x", "setup": list(actions)})


def test_apply_of_a_file_runs_kubectl_apply_in_the_course_folder_with_the_namespace(
    folder: Path, recorder: Recorder
) -> None:
    runner(folder, recorder).run_action(action(apply="manifests/web.yaml"))
    (call,) = recorder.calls
    assert call["args"] == ["apply", "-n", "work", "-f", "manifests/web.yaml"]
    assert Path(call["cwd"]).resolve() == folder.resolve()


def test_an_inline_manifest_goes_through_stdin_in_the_actions_namespace(folder: Path, recorder: Recorder) -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}
    runner(folder, recorder).run_action(action(apply=manifest, namespace="other"))
    (call,) = recorder.calls
    assert call["args"] == ["apply", "-n", "other", "-f", "-"]
    assert "kind: ConfigMap" in call["stdin"] and "name: a" in call["stdin"]


@pytest.mark.parametrize(
    ("delete", "namespace", "expected"),
    [
        ({"kind": "deploy", "name": "web"}, None, ["-n", "work", "deploy", "web"]),
        ({"kind": "pods", "selector": "app=web"}, None, ["-n", "work", "pods", "-l", "app=web"]),
        ({"kind": "configmaps"}, "other", ["-n", "other", "configmaps", "--all"]),
        ({"kind": "cm", "name": "a", "namespace": "elsewhere"}, "other", ["-n", "elsewhere", "cm", "a"]),
        ("manifests/crd.yaml", None, ["-n", "work", "-f", "manifests/crd.yaml"]),
    ],
)
def test_deletes_ignore_what_is_already_gone(
    folder: Path, recorder: Recorder, delete: Any, namespace: str | None, expected: list[str]
) -> None:
    runner(folder, recorder).run_action(action(delete=delete, namespace=namespace))
    (call,) = recorder.calls
    assert call["args"] == ["delete", "--ignore-not-found", *expected]


def test_a_failing_kubectl_fails_the_step_with_kubectls_words(folder: Path, recorder: Recorder) -> None:
    recorder.answers["1"] = {"code": 1, "stderr": 'error: the path "nope.yaml" does not exist\n'}
    with pytest.raises(SetupError) as caught:
        runner(folder, recorder).run_setup(step({"apply": "nope.yaml"}))
    assert str(caught.value) == (
        'step prepare: setup action 1 (apply: nope.yaml) failed:\nerror: the path "nope.yaml" does not exist'
    )


def test_kinds_of_a_crd_applied_in_the_same_call_are_applied_once_it_is_established(
    folder: Path, recorder: Recorder
) -> None:
    recorder.answers["1"] = {
        "code": 1,
        "stderr": 'error: resource mapping not found for name: "one": ensure CRDs are installed first\n',
    }
    runner(folder, recorder).run_action(action(apply="manifests/crd.yaml"))
    assert [call["args"] for call in recorder.calls] == [
        ["apply", "-n", "work", "-f", "manifests/crd.yaml"],
        ["wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s"],
        ["apply", "-n", "work", "-f", "manifests/crd.yaml"],
    ]


def test_an_unknown_kind_without_a_crd_is_not_retried(folder: Path, recorder: Recorder) -> None:
    (folder / "thing.yaml").write_text("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n")
    recorder.answers["1"] = {"code": 1, "stderr": 'error: no matches for kind "Gadget" in version "example.com/v1"'}
    with pytest.raises(SetupError, match='no matches for kind "Gadget"'):
        runner(folder, recorder).run_action(action(apply="thing.yaml"))
    assert len(recorder.calls) == 1


def test_run_uses_bash_in_the_course_folder_with_the_labs_kubeconfig(folder: Path, recorder: Recorder) -> None:
    result = runner(folder, recorder).run_shell('echo "$KUBECONFIG"; pwd; command -v kubectl')
    kubeconfig, cwd, kubectl = result.stdout.splitlines()
    assert kubeconfig == str(folder.parent / "kubeconfig")
    assert Path(cwd).resolve() == folder.resolve()
    assert kubectl == proc.tool("kubectl")


def test_a_failing_run_names_the_step_the_action_the_exit_code_and_what_it_said(
    folder: Path, recorder: Recorder
) -> None:
    setup = step({"apply": "manifests/crd.yaml"}, {"run": "echo checking; echo 'FAIL: no database' >&2; exit 3"})
    with pytest.raises(SetupError) as caught:
        runner(folder, recorder).run_setup(setup)
    assert str(caught.value) == (
        "step prepare: setup action 2 (run: echo checking; echo 'FAIL: no database' >&2; exit 3) failed:\n"
        "exit code 3:\nchecking\nFAIL: no database"
    )


def test_setup_stops_at_the_first_failure(folder: Path, recorder: Recorder) -> None:
    setup = step({"run": "exit 1"}, {"apply": "manifests/crd.yaml"})
    with pytest.raises(SetupError):
        runner(folder, recorder).run_setup(setup)
    assert recorder.calls == []


def test_a_run_that_hangs_is_stopped(folder: Path, recorder: Recorder) -> None:
    with pytest.raises(SetupError, match=r"did not finish within 0\.2s"):
        runner(folder, recorder).run_shell("sleep 30", timeout=0.2)


def test_the_tool_environment_puts_driftlabs_kubectl_first(tmp_path: Path) -> None:
    env = tool_environment(tmp_path / "kc")
    assert env["KUBECONFIG"] == str(tmp_path / "kc")
    assert env["PATH"].split(os.pathsep)[0] == str(Path(proc.tool("kubectl")).parent)


def test_actions_are_described_as_written() -> None:
    assert describe(action(run="kubectl get pods\nkubectl get svc")) == "run: kubectl get pods"
    assert describe(action(apply="manifests/")) == "apply: manifests/"
    assert describe(action(apply={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})) == (
        "apply: ConfigMap a"
    )
    assert describe(action(delete={"kind": "pods", "selector": "app=web"})) == "delete: pods app=web"
    assert describe(action(delete="old.yaml")) == "delete: old.yaml"
