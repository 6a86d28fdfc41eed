"""Checks against the real embedded cluster: every kind passes and fails, and the watcher follows kubectl."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import string
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.checks.context import CheckContext
from engine.checks.evaluator import evaluate, evaluate_check
from engine.checks.results import CheckResult, StepResult
from engine.checks.spec import Check
from engine.checks.watcher import CheckWatcher, wait

from .conftest import Cluster, start_cluster

WAIT = 20  # the most a callback may take before a test gives up; tests never sleep


def _crd(plural: str, kind: str) -> dict[str, Any]:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.checks.example.com"},
        "spec": {
            "group": "checks.example.com",
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "shortNames": [plural[:3]]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _letters(n: int = 6) -> str:
    return "".join(random.choices(string.ascii_lowercase, k=n))


def _install_crd(cluster: Cluster, write: Any, plural: str, kind: str) -> None:
    cluster.kubectl("apply", "-f", write(json.dumps(_crd(plural, kind)), f"{plural}.json"))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{plural}.checks.example.com", "--timeout=10s")


@pytest.fixture
def context(cluster: Cluster, ns: str, tmp_path: Path) -> CheckContext:
    return CheckContext.from_kubeconfig(cluster.kubeconfig, ns, cwd=tmp_path)


def check(context: CheckContext, spec: dict[str, Any]) -> CheckResult:
    return evaluate_check(Check.model_validate(spec), context)


def apply(cluster: Cluster, ns: str, write: Any, manifest: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", write(manifest, f"m-{_letters()}.yaml"))


CONFIG = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, labels: {{tier: {tier}}}}}\ndata: {{color: {color}}}\n"
)


def config(name: str = "settings", color: str = "red", tier: str = "web") -> str:
    return CONFIG.format(name=name, color=color, tier=tier)


# Each kind passes and fails -------------------------------------------------------------------------------


def test_exists_and_absent(cluster: Cluster, ns: str, context: CheckContext, write: Any) -> None:
    assert check(context, {"exists": {"kind": "cm", "name": "settings"}}).message == (
        f"ConfigMap {ns}/settings does not exist"
    )
    assert check(context, {"absent": {"kind": "configmaps", "name": "settings"}}).passed is True
    apply(cluster, ns, write, config())
    assert check(context, {"exists": {"kind": "ConfigMap", "name": "settings"}}).passed is True
    absent = check(context, {"absent": {"kind": "configmap", "name": "settings"}})
    assert (absent.passed, absent.message) == (
        False,
        f"ConfigMap {ns}/settings: expected it to be absent, found it present",
    )
    assert check(context, {"exists": {"kind": "namespace", "name": ns}}).message == f"Namespace {ns} exists"


def test_field_as_text_as_number_and_with_a_filter(
    cluster: Cluster, ns: str, context: CheckContext, write: Any
) -> None:
    apply(cluster, ns, write, config(color="blue"))
    cluster.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx:1.25", "--replicas=3")
    blue = {"field": {"kind": "cm", "name": "settings", "path": "{.data.color}", "expect": {"equals": "blue"}}}
    assert check(context, blue).passed is True
    red = {"field": {"kind": "cm", "name": "settings", "path": ".data.color", "expect": {"equals": "red"}}}
    assert check(context, red).message == f"ConfigMap {ns}/settings: expected .data.color = red, found blue"
    replicas = {"field": {"kind": "deploy", "name": "web", "path": "{.spec.replicas}", "expect": {"ge": 3}}}
    assert check(context, replicas).passed is True
    too_many = {"field": {"kind": "deploy", "name": "web", "path": "{.spec.replicas}", "expect": {"gt": 3}}}
    assert check(context, too_many).message == f"Deployment {ns}/web: expected {{.spec.replicas}} > 3, found 3"
    image = '{.spec.template.spec.containers[?(@.name=="nginx")].image}'
    pinned = {"field": {"kind": "deploy", "name": "web", "path": image, "expect": {"matches": r":1\.25$"}}}
    assert check(context, pinned).passed is True


def test_condition_on_an_object_status(cluster: Cluster, ns: str, context: CheckContext, write: Any) -> None:
    suffix = _letters()
    plural, kind = f"gauges{suffix}", f"Gauge{suffix}"
    _install_crd(cluster, write, plural, kind)
    apply(
        cluster,
        ns,
        write,
        f"apiVersion: checks.example.com/v1\nkind: {kind}\nmetadata: {{name: g1}}\nspec: {{}}\n",
    )
    ready = {"condition": {"kind": plural, "name": "g1", "type": "Ready"}}
    missing = check(context, ready)
    assert missing.passed is False
    assert missing.message.endswith("expected condition Ready=True, found no Ready condition (conditions: none)")
    status = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Warming", "message": "cold"}]}}
    cluster.kubectl("patch", plural, "g1", "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    assert check(context, ready).message.endswith("expected condition Ready=True, found Ready=False (Warming: cold)")
    status["status"]["conditions"][0].update(status="True", reason="Warm", message="ok")
    cluster.kubectl("patch", plural, "g1", "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    result = check(context, ready)
    assert result.passed is True
    assert result.message.endswith(f"{ns}/g1: condition Ready=True (Warm: ok)")


def test_count_with_label_and_field_selectors(cluster: Cluster, ns: str, context: CheckContext, write: Any) -> None:
    apply(cluster, ns, write, config("a") + "---\n" + config("b") + "---\n" + config("c", tier="db"))
    two = check(context, {"count": {"kind": "cm", "selector": "tier=web", "expect": {"equals": 2}}})
    assert (two.passed, two.message) == (True, f"ConfigMaps in {ns} matching tier=web: found 2 (a, b)")
    three = check(context, {"count": {"kind": "cm", "selector": "tier=web", "expect": {"equals": 3}}})
    assert three.message == f"expected exactly 3 ConfigMaps in {ns} matching tier=web, found 2: a, b"
    named = {"count": {"kind": "cm", "fieldSelector": "metadata.name=c", "expect": {"equals": 1}}}
    assert check(context, named).passed is True


def test_cel_over_an_object_and_a_list(cluster: Cluster, ns: str, context: CheckContext, write: Any) -> None:
    apply(cluster, ns, write, config("a", "red") + "---\n" + config("b", "blue"))
    one = {"cel": {"kind": "cm", "name": "a", "expression": 'object.data.color == "red"'}}
    assert check(context, one).passed is True
    every = {"cel": {"kind": "cm", "selector": "tier=web", "expression": 'objects.all(c, c.data.color == "red")'}}
    result = check(context, every)
    assert result.passed is False
    assert result.message == (
        f'ConfigMaps in {ns} matching tier=web: expected objects.all(c, c.data.color == "red") to be true, found false'
    )


def test_event_about_an_object(cluster: Cluster, ns: str, context: CheckContext, write: Any) -> None:
    apply(cluster, ns, write, config())
    seen = {"event": {"kind": "cm", "name": "settings", "reason": "ColorChanged", "message": "blue"}}
    assert check(context, seen).message == (
        f"ConfigMap {ns}/settings: expected an event ColorChanged with a message matching blue, "
        "found no events about it"
    )
    event = (
        "apiVersion: v1\nkind: Event\nmetadata: {name: settings.1}\n"
        f"involvedObject: {{kind: ConfigMap, name: settings, namespace: {ns}, apiVersion: v1}}\n"
        "reason: ColorChanged\nmessage: colour changed to blue\ntype: Normal\nsource: {component: test}\n"
    )
    apply(cluster, ns, write, event)
    result = check(context, seen)
    assert (result.passed, result.message) == (
        True,
        f"ConfigMap {ns}/settings: event ColorChanged seen (colour changed to blue)",
    )
    warning = {"event": {"kind": "cm", "name": "settings", "reason": "ColorChanged", "type": "Warning"}}
    assert check(context, warning).passed is False


def test_command_runs_kubectl_against_the_lab(cluster: Cluster, ns: str, context: CheckContext, write: Any) -> None:
    apply(cluster, ns, write, config(color="blue"))
    script = f"kubectl get cm settings -n {ns} -o jsonpath='{{.data.color}}'"
    assert check(context, {"command": {"run": script, "stdout": "^blue$"}}).passed is True
    wrong = check(context, {"command": {"run": script, "stdout": "^red$"}})
    assert wrong.message.endswith("to match ^red$, found: blue")
    failing = check(context, {"command": {"run": f"kubectl get cm nothing -n {ns}"}})
    assert failing.passed is False
    assert 'configmaps "nothing" not found' in failing.message


def test_kinds_resolve_like_kubectl(cluster: Cluster, ns: str, context: CheckContext, write: Any) -> None:
    cluster.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx:1.25")
    for name in ("deploy", "deployments", "Deployment", "deployments.apps", "deployments.v1.apps"):
        assert check(context, {"exists": {"kind": name, "name": "web"}}).passed is True, name
    assert check(context, {"exists": {"kind": "Deployment", "apiVersion": "apps/v1", "name": "web"}}).passed
    wrong = check(context, {"exists": {"kind": "Deployment", "apiVersion": "apps/v1beta1", "name": "web"}})
    assert wrong.message == 'could not check: the cluster serves "Deployment" as apps/v1, not apps/v1beta1'
    typo = check(context, {"exists": {"kind": "Deploymnet", "name": "web"}})
    assert typo.message == 'could not check: the cluster serves no kind "Deploymnet" (did you mean "Deployment"?)'


def test_a_kind_added_by_a_crd_is_found_without_restarting(
    cluster: Cluster, ns: str, context: CheckContext, write: Any
) -> None:
    suffix = _letters()
    plural = f"dials{suffix}"
    spec = {"exists": {"kind": plural, "name": "d1"}}
    assert "serves no kind" in check(context, spec).message
    _install_crd(cluster, write, plural, f"Dial{suffix}")
    assert check(context, spec).message.endswith(f"{ns}/d1 does not exist")


def test_an_unreachable_api_fails_the_checks(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    context = CheckContext.from_kubeconfig(kubeconfig)
    step = evaluate([Check.model_validate({"exists": {"kind": "pods", "name": "x"}})], context)
    assert step.passed is False
    assert step.results[0].message == (
        "could not check: cannot reach the cluster API at http://127.0.0.1:9 (connection refused)"
    )
    assert context.namespace == "default"


# The watcher ----------------------------------------------------------------------------------------------


class Results:
    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[float, StepResult]] = queue.Queue()

    def __call__(self, result: StepResult) -> None:
        self.queue.put((time.perf_counter(), result))

    def next(self) -> tuple[float, StepResult]:
        return self.queue.get(timeout=WAIT)


@pytest.fixture
def results() -> Iterator[Results]:
    yield Results()


def color(value: str) -> Check:
    path = "{.data.color}"
    return Check.model_validate(
        {"field": {"kind": "cm", "name": "settings", "path": path, "expect": {"equals": value}}}
    )


def test_the_watcher_re_evaluates_after_a_kubectl_change(
    cluster: Cluster, ns: str, context: CheckContext, write: Any, results: Results
) -> None:
    apply(cluster, ns, write, config(color="red"))
    with CheckWatcher([color("blue")], context, results) as watcher:
        _, first = results.next()
        assert first.passed is False
        assert [read.describe() for read in watcher.watched] == [f"ConfigMap {ns}/settings"]
        assert watcher.timer_due is None
        cluster.kubectl("patch", "cm", "settings", "-n", ns, "-p", '{"data":{"color":"blue"}}')
        changed = time.perf_counter()
        at, second = results.next()
        assert second.passed is True
        print(f"\nkubectl change → re-evaluated result: {(at - changed) * 1000:.0f} ms after kubectl returned")
        assert watcher.evaluations == 2


def test_debounce_collapses_a_burst_into_one_evaluation(
    cluster: Cluster, ns: str, context: CheckContext, write: Any, results: Results
) -> None:
    apply(cluster, ns, write, config(color="red"))
    count = Check.model_validate({"count": {"kind": "cm", "selector": "tier=burst", "expect": {"equals": 20}}})
    with CheckWatcher([count], context, results, debounce=1.0, max_delay=10) as watcher:
        _, first = results.next()
        assert first.results[0].found == "0"
        burst = "---\n".join(config(f"b{i}", tier="burst") for i in range(20))
        apply(cluster, ns, write, burst)
        _, second = results.next()
        assert second.passed is True
        print(f"\n{watcher.triggers} watch events, {watcher.evaluations - 1} evaluation after the burst")
        assert watcher.triggers >= 20
        assert watcher.evaluations == 2


def test_the_watcher_follows_a_crd_created_later(
    cluster: Cluster, ns: str, context: CheckContext, write: Any, results: Results
) -> None:
    suffix = _letters()
    plural, kind = f"knobs{suffix}", f"Knob{suffix}"
    spec = Check.model_validate({"exists": {"kind": plural, "name": "k1"}})
    with CheckWatcher([spec], context, results):
        _, first = results.next()
        assert "serves no kind" in first.results[0].message
        _install_crd(cluster, write, plural, kind)
        while "serves no kind" in results.next()[1].results[0].message:
            pass
        apply(cluster, ns, write, f"apiVersion: checks.example.com/v1\nkind: {kind}\nmetadata: {{name: k1}}\n")
        assert results.next()[1].passed is True


def test_wait_returns_once_the_solution_is_applied(
    cluster: Cluster, ns: str, context: CheckContext, write: Any
) -> None:
    apply(cluster, ns, write, config(color="red"))

    def learner(result: StepResult) -> None:
        if not result.passed:
            cluster.kubectl("patch", "cm", "settings", "-n", ns, "-p", '{"data":{"color":"blue"}}')

    start = time.perf_counter()
    result = wait([color("blue")], context, timeout=WAIT, on_result=learner)
    assert result.passed is True
    assert time.perf_counter() - start < WAIT


def _kill_daemon(cluster: Cluster) -> None:
    """Crash the daemon (a graceful stop waits for open watches to time out, which is not what is tested)."""
    record = json.loads((cluster.home / "clusters" / cluster.name / "daemon.json").read_text())
    if record.get("pid"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(record["pid"]), signal.SIGKILL)


@pytest.mark.slow
def test_the_watcher_reconnects_after_a_daemon_restart(tmp_path: Path) -> None:
    own = start_cluster(tmp_path / "restart", name="restart")
    try:
        own.kubectl("create", "configmap", "settings", "--from-literal=color=red")
        context = CheckContext.from_kubeconfig(own.kubeconfig, "default")
        results = Results()
        with CheckWatcher([color("blue")], context, results):
            assert results.next()[1].passed is False
            _kill_daemon(own)
            down = results.next()[1]
            assert "cannot reach the cluster API" in down.results[0].message
            own.driftlab("cluster", "up", "--name", own.name)
            own.kubeconfig.write_text(own.driftlab("cluster", "kubeconfig", "--name", own.name).stdout)
            assert results.next()[1].results[0].found == "red"
            own.kubectl("patch", "cm", "settings", "-p", '{"data":{"color":"blue"}}')
            assert results.next()[1].passed is True
    finally:
        _kill_daemon(own)
        own.driftlab("cluster", "down", "--name", own.name, "--purge", check=False)
