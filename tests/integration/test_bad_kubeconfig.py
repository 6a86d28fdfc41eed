"""Malformed kubeconfigs through the commands that read them: one clear line naming the file and the problem,
exit 1, no traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from engine import proc

GOOD_CLUSTER = {"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}
GOOD_USER = {"name": "u", "user": {"token": "t"}}


def config(**fields: object) -> str:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [GOOD_CLUSTER],
        "users": [GOOD_USER],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    document.update(fields)
    return yaml.safe_dump(document)


CASES: dict[str, tuple[str | bytes | None, str]] = {
    "empty": ("", "no kubeconfig at"),
    "not-yaml": ("clusters: [\n  - name: c\n  server: ::\n", "is not valid YAML"),
    "not-a-mapping": ("- a\n- b\n", "is not a YAML mapping"),
    "not-utf8": (b"\xff\xfe\x00", "not UTF-8 text"),
    "no-contexts": (config(contexts=[], **{"current-context": ""}), "has no context 'x' (it has: none)"),
    "missing-current-context": (config(**{"current-context": "gone"}), "has no context 'gone' (it has: x)"),
    "context-names-missing-cluster": (
        config(contexts=[{"name": "x", "context": {"cluster": "nope", "user": "u"}}]),
        "context 'x' names cluster 'nope', which it lacks",
    ),
    "context-names-missing-user": (
        config(contexts=[{"name": "x", "context": {"cluster": "c", "user": "nobody"}}]),
        "context 'x' names user 'nobody', which it lacks",
    ),
    "context-empty": (config(contexts=[{"name": "x", "context": "oops"}]), "context 'x' is empty"),
    "server-not-a-url": (
        config(clusters=[{"name": "c", "cluster": {"server": "not a url"}}]),
        "has a server that is not a URL such as https://host:6443: 'not a url'",
    ),
    "server-bad-port": (
        config(clusters=[{"name": "c", "cluster": {"server": "https://host:http"}}]),
        "has a server URL with a bad port",
    ),
    "clusters-not-a-list": (config(clusters={"c": 1}), "clusters must be a list of named entries"),
    "a-folder": (None, "it is a folder, not a file"),
}


def write_case(tmp_path: Path, case: str) -> Path:
    path = tmp_path / "kubeconfig"
    content, _ = CASES[case]
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def driftlab(tmp_path: Path, *args: str, kubeconfig: str) -> proc.Result:
    env = {
        **os.environ,
        "DRIFTLAB_HOME": str(tmp_path / "home"),
        "HOME": str(tmp_path / "user"),
        "KUBECONFIG": kubeconfig,
    }
    return proc.run([sys.executable, "-m", "engine.cli", *args], env=env, timeout=60)


def assert_one_line(result: proc.Result, *expected: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_cluster_up_existing_names_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    path = write_case(tmp_path, case)
    context = [] if case == "missing-current-context" else ["--context", "x"]
    result = driftlab(tmp_path, "cluster", "up", "--backend", "existing", *context, kubeconfig=str(path))
    assert_one_line(result, str(path), CASES[case][1])


def test_several_files_some_missing_are_merged_and_named(tmp_path: Path) -> None:
    """Missing files in KUBECONFIG are skipped, as kubectl skips them; a bad one among them is named."""
    bad = tmp_path / "bad"
    bad.write_text("clusters: {")
    listed = os.pathsep.join([str(tmp_path / "missing-1"), str(bad), str(tmp_path / "missing-2")])
    result = driftlab(tmp_path, "cluster", "up", "--backend", "existing", "--context", "x", kubeconfig=listed)
    assert_one_line(result, f"kubeconfig {bad} is not valid YAML")


def test_only_missing_files_are_named_together(tmp_path: Path) -> None:
    listed = os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")])
    result = driftlab(tmp_path, "cluster", "up", "--backend", "existing", "--context", "x", kubeconfig=listed)
    assert_one_line(result, f"no kubeconfig at {tmp_path / 'a'}, {tmp_path / 'b'}")


@pytest.mark.parametrize("case", ["not-yaml", "missing-current-context", "server-not-a-url"])
def test_gitops_status_with_a_bad_kubeconfig_is_one_line(tmp_path: Path, case: str) -> None:
    path = write_case(tmp_path, case)
    result = driftlab(tmp_path, "gitops", "status", kubeconfig=str(path))
    assert_one_line(result)
    assert str(path) in result.stderr or "'not a url'" in result.stderr


@pytest.mark.parametrize("case", ["not-yaml", "server-not-a-url"])
def test_course_validate_for_the_existing_backend_with_a_bad_kubeconfig(tmp_path: Path, case: str) -> None:
    """Validation judges the course for that backend; it does not need the cluster, so a broken kubeconfig
    does not stop it, and does not crash it."""
    path = write_case(tmp_path, case)
    repo = Path(__file__).resolve().parents[2]
    result = driftlab(
        tmp_path,
        "course",
        "validate",
        "--backend",
        "existing",
        str(repo / "courses" / "antipatterns"),
        kubeconfig=str(path),
    )
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1)
