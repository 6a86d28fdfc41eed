"""Killercoda imports of scenarios with files missing, paths leading out, or an index.json that makes no sense.

Each is one clear error per problem (naming index.json and the key), exit 1, no traceback, and no output folder:
a scenario that cannot be read is refused before anything is written, and a write that fails half-way removes
what it wrote. (A course that was written whole but does not validate stays, for the author to fix.)
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import proc
from engine.course import CourseError
from engine.course.killercoda import import_scenario
from engine.course.killercoda.scenario import KillercodaError
from engine.errors import DriftlabError

EXAMPLES = int(os.environ.get("DRIFTLAB_FUZZ_EXAMPLES", "0")) or 40


def driftlab(*args: str) -> proc.Result:
    """The real command line in its own process, so a traceback would show on stderr."""
    return proc.run([sys.executable, "-m", "engine.cli", *args], timeout=120)


def scenario(root: Path, index: Any, files: dict[str, str] | None = None) -> Path:
    folder = root / "scenario"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.json").write_text(index if isinstance(index, str) else json.dumps(index))
    for name, text in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def refused(folder: Path, out: Path) -> list[str]:
    """The import through the CLI: exit 1, nothing on stdout, no traceback, no output folder; its error lines."""
    result = driftlab("course", "import-killercoda", str(folder), str(out))
    assert "Traceback" not in result.stderr
    assert (result.returncode, result.stdout) == (1, "")
    assert not out.exists()
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    return [line.removeprefix("error: ") for line in lines]


def test_every_missing_file_is_listed_with_its_key(tmp_path: Path) -> None:
    index = {
        "title": "Missing",
        "details": {
            "intro": {"text": "intro.md", "background": "intro/background.sh"},
            "steps": [
                {"title": "One", "text": "step1/text.md", "verify": "step1/verify.sh"},
                {"title": "Two", "text": "step2/text.md", "foreground": "step2/foreground.sh"},
            ],
            "finish": {"text": "finish.md"},
            "assets": {"host01": [{"file": "app.yaml", "target": "~"}, {"file": "*.sh", "target": "/usr/bin"}]},
        },
    }
    folder = scenario(tmp_path, index, {"intro.md": "Hi", "step2/text.md": "Two"})
    shown = folder / "index.json"
    assert refused(folder, tmp_path / "out") == [
        f"{shown}: details.intro.background: file 'intro/background.sh' not found "
        f"(looked for {folder / 'intro/background.sh'})",
        f"{shown}: details.steps[0].text: file 'step1/text.md' not found (looked for {folder / 'step1/text.md'})",
        f"{shown}: details.steps[0].verify: file 'step1/verify.sh' not found (looked for {folder / 'step1/verify.sh'})",
        f"{shown}: details.steps[1].foreground: file 'step2/foreground.sh' not found "
        f"(looked for {folder / 'step2/foreground.sh'})",
        f"{shown}: details.finish.text: file 'finish.md' not found (looked for {folder / 'finish.md'})",
        f"{shown}: details.assets.host01[0].file: asset 'app.yaml' not found (looked in {folder / 'assets'}/)",
        f"{shown}: details.assets.host01[1].file: asset '*.sh' not found (looked in {folder / 'assets'}/)",
    ]


def test_a_missing_index_json_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "scenario").mkdir()
    assert refused(tmp_path / "scenario", tmp_path / "out") == [
        f"{tmp_path / 'scenario'} has no index.json: give the folder of a Killercoda scenario"
    ]


def test_a_scenario_folder_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    assert refused(tmp_path / "nowhere", tmp_path / "out") == [
        f"{tmp_path / 'nowhere'}: no such folder; give the folder of a Killercoda scenario"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "1:1: invalid JSON: Expecting value"),
        ('{"title": "x", "details": {"steps": [}', "1:38: invalid JSON: Expecting value"),
        ("\ufeff{}", "invalid JSON"),
        ("[1, 2]", "expected a JSON object with title and details, found a list"),
        ("null", "expected a JSON object with title and details, found null"),
        ('{"details": 7}', "details: expected an object with intro, steps and finish, found a number"),
        ('{"details": {"steps": [{"text": {"a": 1}}]}}', "details.steps[0].text: expected a file path"),
        ('{"details": {"assets": {"host01": [{"file": "a", "target": "/root", "chmod": 7}]}}}', "chmod: expected text"),
    ],
)
def test_a_bad_index_json_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    folder = scenario(tmp_path, text)
    lines = refused(folder, tmp_path / "out")
    assert any(message in line for line in lines), lines
    assert all(line.startswith(str(folder / "index.json")) for line in lines)


def test_index_json_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    folder = scenario(tmp_path, "{}")
    (folder / "index.json").write_bytes(b'{"title": "caf\xe9"}')
    assert refused(folder, tmp_path / "out") == [f"{folder / 'index.json'}: not UTF-8 text (byte 14)"]


# ----------------------------------------------------------------------------------------------------
# Paths that lead out of the scenario's folder are refused, not copied into the course


def test_a_step_file_outside_the_scenario_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.md").write_text("not for learners")
    folder = scenario(tmp_path, {"details": {"steps": [{"title": "One", "text": "../secret.md"}]}})
    assert refused(folder, tmp_path / "out") == [
        f"{folder / 'index.json'}: details.steps[0].text: '../secret.md' must name a file inside the scenario's folder"
    ]


def test_a_step_file_symlinked_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.md").write_text("not for learners")
    folder = scenario(tmp_path, {"details": {"steps": [{"title": "One", "text": "text.md"}]}})
    (folder / "text.md").symlink_to(tmp_path / "secret.md")
    assert refused(folder, tmp_path / "out") == [
        f"{folder / 'index.json'}: details.steps[0].text: 'text.md' is a symbolic link to a file outside the "
        "scenario's folder"
    ]


@pytest.mark.parametrize("shape", ["file", "folder", "inside-folder"])
def test_an_asset_symlinked_out_is_refused(tmp_path: Path, shape: str) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "id_rsa").write_text("private")
    index = {
        "details": {"steps": [{"title": "One", "text": "t.md"}], "assets": {"host01": [{"file": "*", "target": "~"}]}}
    }
    folder = scenario(tmp_path, index, {"t.md": "One"})
    (folder / "assets").mkdir()
    if shape == "file":
        (folder / "assets" / "key").symlink_to(tmp_path / "outside" / "id_rsa")
    elif shape == "folder":
        (folder / "assets" / "keys").symlink_to(tmp_path / "outside")
    else:
        (folder / "assets" / "keys").mkdir()
        (folder / "assets" / "keys" / "key").symlink_to(tmp_path / "outside" / "id_rsa")
    [line] = refused(folder, tmp_path / "out")
    assert "details.assets.host01[0].file: asset '" in line
    assert line.endswith("is (or holds) a symbolic link to a file outside the scenario")


def test_an_asset_pattern_glob_cannot_use_is_a_clear_error(tmp_path: Path) -> None:
    index = {
        "details": {"steps": [{"title": "One", "text": "t.md"}], "assets": {"host01": [{"file": ".", "target": "~"}]}}
    }
    folder = scenario(tmp_path, index, {"t.md": "One", "assets/a.yaml": "a: 1\n"})
    [line] = refused(folder, tmp_path / "out")
    assert "details.assets.host01[0].file: " in line


# ----------------------------------------------------------------------------------------------------
# A write that fails half-way leaves nothing behind


def test_a_write_that_fails_half_way_removes_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = [{"title": "One", "text": "one.md"}, {"title": "Two", "text": "two.md"}]
    folder = scenario(tmp_path, {"details": {"steps": steps}}, {"one.md": "One", "two.md": "Two"})
    real = Path.write_text
    written: list[Path] = []

    def full_disk(self: Path, *args: Any, **kwargs: Any) -> int:
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(DriftlabError, match="No space left on device; nothing was left there"):
        import_scenario(folder, tmp_path / "out")
    assert written and not (tmp_path / "out").exists()


def test_a_failed_write_into_a_forced_folder_keeps_what_was_not_the_import_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = scenario(tmp_path, {"details": {"steps": [{"title": "One", "text": "one.md"}]}}, {"one.md": "One"})
    out = tmp_path / "out"
    out.mkdir()
    (out / "NOTES.md").write_text("mine")

    def full_disk(self: Path, *args: Any, **kwargs: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(DriftlabError, match="nothing was left there"):
        import_scenario(folder, out, force=True)
    assert sorted(path.name for path in out.iterdir()) == ["NOTES.md"]


# ----------------------------------------------------------------------------------------------------
# Fuzzed index.json: a result or the importer's own errors, never another exception


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)
names = st.sampled_from(["t.md", "missing.md", "../t.md", "/etc/hostname", "", "assets", "v.sh", "*", "a/**"])
pages = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(max_size=20) | json_values,
        "text": names | json_values,
        "verify": names,
        "background": names,
        "foreground": names,
        "answer": names,
    },
)
indexes = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(max_size=20) | json_values,
        "time": json_values,
        "difficulty": json_values,
        "backend": json_values,
        "interface": json_values,
        "details": st.fixed_dictionaries(
            {},
            optional={
                "intro": pages | json_values,
                "steps": st.lists(pages | json_values, max_size=3) | json_values,
                "finish": pages | json_values,
                "assets": st.dictionaries(
                    st.sampled_from(["host01", "host02"]),
                    st.lists(st.fixed_dictionaries({"file": names, "target": names}, optional={"chmod": json_values})),
                    max_size=2,
                )
                | json_values,
            },
        )
        | json_values,
    },
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(index=indexes)
def test_a_fuzzed_index_json_imports_or_is_refused_cleanly(
    tmp_path_factory: pytest.TempPathFactory, index: Any
) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    folder = scenario(
        root, index, {"t.md": "# Title\n\n`kubectl get ns`{{exec}}\n", "v.sh": "true\n", "assets/a.yaml": "a: 1\n"}
    )
    out = root / "out"
    try:
        import_scenario(folder, out)
    except KillercodaError as err:
        assert err.problems and all(problem.startswith(str(folder / "index.json")) for problem in err.problems)
        assert not out.exists()
    except CourseError as err:
        assert err.problems
    except DriftlabError as err:
        assert "\n" not in str(err)
        assert not out.exists()
