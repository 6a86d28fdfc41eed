"""`driftlab course import-killercoda`: the scenario written for the tests, and one mapping rule per test."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from engine.cli import cli
from engine.course import load_course, validate_course
from engine.course.killercoda import import_scenario
from engine.course.killercoda.assets import chmod_mode

REPO = Path(__file__).resolve().parents[2]
WEB_BASICS = REPO / "tests" / "killercoda" / "web-basics"


def _driftlab(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj={})


def _scenario(root: Path, details: dict[str, Any], files: dict[str, str], **top: Any) -> Path:
    """A scenario folder with an index.json holding `details` (and `top` keys) and the given files."""
    folder = root / "scenario"
    folder.mkdir()
    (folder / "index.json").write_text(json.dumps({"title": "A scenario", **top, "details": details}))
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def _course(out: Path) -> dict[str, Any]:
    return yaml.safe_load((out / "course.yaml").read_text())


def _one_step(tmp_path: Path, step: dict[str, Any], files: dict[str, str], **details: Any) -> dict[str, Any]:
    folder = _scenario(tmp_path, {"steps": [step], **details}, files)
    import_scenario(folder, tmp_path / "out")
    return _course(tmp_path / "out")["steps"][0]


# ----------------------------------------------------------------------------------------------------
# The scenario written for the tests


@pytest.fixture(scope="module")
def web_basics(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    out = tmp_path_factory.mktemp("import") / "web-basics"
    return out, _driftlab("course", "import-killercoda", str(WEB_BASICS), str(out))


def test_the_test_scenario_imports_and_validates(web_basics: tuple[Path, Result]) -> None:
    out, result = web_basics
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"imported 'Run a web server on Kubernetes' into {out / 'course.yaml'} (5 steps, lab embedded-default)\n"
    )
    assert validate_course(out) == []
    validated = _driftlab("course", "validate", str(out))
    assert (validated.exit_code, validated.stdout) == (0, f"{out}: OK (5 steps, lab embedded-default)\n")


def test_the_course_keeps_the_scenario_metadata(web_basics: tuple[Path, Result]) -> None:
    course = _course(web_basics[0])
    assert {key: course[key] for key in ("title", "summary", "duration", "level", "tags", "lab")} == {
        "title": "Run a web server on Kubernetes",
        "summary": "Create a namespace, deploy nginx from a manifest, scale it out and expose it as a Service.",
        "duration": "15m",
        "level": "beginner",
        "tags": ["killercoda"],
        "lab": "embedded-default",
    }
    assert [step["id"] for step in course["steps"]] == [
        "create-a-namespace",
        "deploy-the-web-server",
        "scale-it-out",
        "expose-it",
        "well-done",
    ]


def test_verify_scripts_become_command_checks_named_by_their_first_comment(web_basics: tuple[Path, Result]) -> None:
    out = web_basics[0]
    steps = _course(out)["steps"]
    assert [step.get("checks") for step in steps] == [
        [{"name": "The namespace shop exists", "command": {"run": "bash steps/create-a-namespace/verify.sh"}}],
        [
            {
                "name": "The web Deployment runs nginx and is available",
                "command": {"run": "bash steps/deploy-the-web-server/verify.sh"},
            }
        ],
        [{"name": "Three replicas of web are ready", "command": {"run": "bash steps/scale-it-out/verify.sh"}}],
        [{"name": "Expose it", "command": {"run": "bash steps/expose-it/verify.sh"}}],
        None,
    ]
    assert [step.get("timeout") for step in steps] == ["1m", "1m", "1m", "1m", None]
    original = (WEB_BASICS / "step3" / "verify.sh").read_text()
    assert (out / "steps" / "scale-it-out" / "verify.sh").read_text() == original


def test_background_scripts_become_setup_and_the_intro_s_runs_first(web_basics: tuple[Path, Result]) -> None:
    out = web_basics[0]
    steps = _course(out)["steps"]
    assert steps[0]["setup"] == [{"run": "bash steps/create-a-namespace/intro-background.sh"}]
    assert steps[1]["setup"] == [{"run": "bash steps/deploy-the-web-server/background.sh"}]
    assert all("setup" not in step for step in steps[2:])
    copied = (out / "steps" / "deploy-the-web-server" / "background.sh").read_text()
    assert copied == (WEB_BASICS / "step2" / "background.sh").read_text()


def test_exec_code_becomes_the_solution(web_basics: tuple[Path, Result]) -> None:
    steps = _course(web_basics[0])["steps"]
    assert [step.get("solution") for step in steps] == [
        {"commands": ["kubectl get nodes", "kubectl create namespace shop"]},
        {"commands": ["kubectl apply -f assets/web.yaml", "kubectl -n shop rollout status deployment web"]},
        {"commands": ["kubectl -n shop scale deployment web --replicas=3", "kubectl -n shop get pods"]},
        {"commands": ["kubectl -n shop expose deployment web \\\n  --port=80 --type=NodePort"]},
        None,
    ]


def test_instructions_are_plain_markdown_with_the_intro_first(web_basics: tuple[Path, Result]) -> None:
    out = web_basics[0]
    course = load_course(out)
    first = course.instructions(course.steps[0])
    assert first.startswith("# Run a web server on Kubernetes\n\nIn this scenario")
    assert "`kubectl get nodes`\n\n---\n\nApplications in a cluster live in **namespaces**." in first
    assert "```plain\nkubectl create namespace shop\n```\n\n</details>" in first
    assert "{{" not in "".join(course.instructions(step) for step in course.steps)
    assert "`kubectl apply -f assets/web.yaml`" in course.instructions(course.steps[1])
    assert course.instructions(course.steps[4]).startswith("# Well done\n")


def test_the_foreground_script_is_shown_in_the_instructions(web_basics: tuple[Path, Result]) -> None:
    course = load_course(web_basics[0])
    first = course.instructions(course.steps[0])
    script = (WEB_BASICS / "step1" / "foreground.sh").read_text()
    assert first.endswith(f"does not run it:\n\n```bash\n{script}```\n")


def test_the_asset_is_copied_and_paths_to_it_rewritten(web_basics: tuple[Path, Result]) -> None:
    out = web_basics[0]
    assert (out / "assets" / "web.yaml").read_text() == (WEB_BASICS / "assets" / "web.yaml").read_text()
    assert stat.S_IMODE((out / "assets" / "web.yaml").stat().st_mode) == 0o644


def test_the_import_says_what_did_not_carry_over(web_basics: tuple[Path, Result]) -> None:
    warnings = web_basics[1].stderr.splitlines()
    assert warnings == [
        "warning: index.json: backend.imageid 'kubernetes-kubeadm-1node': the course runs on the lab "
        "'embedded-default' instead of Killercoda's kubeadm machine; only the Kubernetes API is there (no ssh, "
        "crictl, systemctl or /etc/kubernetes)",
        "warning: step1/foreground.sh: a foreground script is shown in the step's instructions, not run; move "
        "anything the step needs into its background script",
        "warning: step2/text.md: the solution leaves out `kubectl -n shop get pods -w`: it watches until interrupted",
        "warning: index.json: details.assets.host01[0]: Killercoda put web.yaml at /root/web.yaml; in the course it is "
        "assets/web.yaml, and that path was rewritten in step2/text.md (relative to the course folder, where setup, "
        "checks and solutions run)",
        f"next: driftlab course test {web_basics[0]}",
    ]


# ----------------------------------------------------------------------------------------------------
# Errors: nothing written, a message with the path, exit 1, no traceback


def test_a_missing_step_text_is_an_error_with_its_path(tmp_path: Path) -> None:
    folder = _scenario(tmp_path, {"steps": [{"title": "One", "text": "step1/text.md"}]}, {})
    result = _driftlab("course", "import-killercoda", str(folder), str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {folder / 'index.json'}: details.steps[0].text: file 'step1/text.md' not found "
        f"(looked for {folder / 'step1' / 'text.md'})\n"
    )
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_every_missing_file_is_reported_at_once(tmp_path: Path) -> None:
    steps = [
        {"title": "One", "text": "one.md", "verify": "one/verify.sh"},
        {"title": "Two", "text": "two.md", "background": "two/background.sh"},
    ]
    details = {
        "steps": steps,
        "finish": {"text": "finish.md"},
        "assets": {"host01": [{"file": "a.yaml", "target": "/root"}]},
    }
    folder = _scenario(tmp_path, details, {"one.md": "One", "two.md": "Two"})
    result = _driftlab("course", "import-killercoda", str(folder), str(tmp_path / "out"))
    assert result.exit_code == 1
    assert [line.split(": ", 3)[2] for line in result.stderr.splitlines()] == [
        "details.steps[0].verify",
        "details.steps[1].background",
        "details.finish.text",
        "details.assets.host01[0].file",
    ]
    assert "asset 'a.yaml' not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_json_names_its_line_and_column(tmp_path: Path) -> None:
    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "index.json").write_text('{\n  "title": "x",\n  "details": {,}\n}\n')
    result = _driftlab("course", "import-killercoda", str(folder), str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {folder / 'index.json'}:3:15: invalid JSON: ")


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ([], "expected a JSON object with title and details, found a list"),
        ({"details": {"steps": {"title": "x"}}}, "details.steps: expected a list of steps, found an object"),
        ({"details": {"steps": [{"text": 3}]}}, "details.steps[0].text: expected a file path relative to the scenario"),
        ({"details": {"steps": ["step1.md"]}}, "details.steps[0]: expected an object with title and text, found text"),
        ({"details": {"steps": [{"text": "/root/a.md"}]}}, "'/root/a.md' is an absolute path"),
        ({"details": {"steps": []}}, "the scenario has no steps, intro nor finish"),
        ({"title": 5, "details": {"intro": {"text": "i.md"}}}, "title: expected text, found a number"),
        ({"details": {"assets": {"host01": {"file": "a"}}}}, "details.assets.host01: expected a list"),
        ({"details": {"assets": {"host01": [{"file": "../x", "target": "/root"}]}}}, "inside the scenario's assets/"),
        ({"details": {"assets": {"host01": [{"file": "a"}]}}}, "details.assets.host01[0].target: expected text"),
        ({"backend": "ubuntu", "details": {"intro": {"text": "i.md"}}}, "backend: expected an object"),
    ],
)
def test_malformed_index_files_are_clear_errors(tmp_path: Path, index: Any, message: str) -> None:
    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "index.json").write_text(json.dumps(index))
    (folder / "i.md").write_text("Hi")
    result = _driftlab("course", "import-killercoda", str(folder), str(tmp_path / "out"))
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_a_folder_without_index_json_is_an_error(tmp_path: Path) -> None:
    result = _driftlab("course", "import-killercoda", str(tmp_path), str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr == f"error: {tmp_path} has no index.json: give the folder of a Killercoda scenario\n"


def test_a_killercoda_course_folder_lists_its_scenarios(tmp_path: Path) -> None:
    (tmp_path / "structure.json").write_text("{}")
    for name in ("b-second", "a-first"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.json").write_text("{}")
    result = _driftlab("course", "import-killercoda", str(tmp_path), str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "is a Killercoda course (structure.json), not a scenario" in result.stderr
    assert result.stderr.rstrip().endswith(": a-first, b-second")


def test_the_index_file_itself_can_be_given(tmp_path: Path) -> None:
    folder = _scenario(tmp_path, {"steps": [{"title": "One", "text": "one.md"}]}, {"one.md": "Hi"})
    result = _driftlab("course", "import-killercoda", str(folder / "index.json"), str(tmp_path / "out"))
    assert result.exit_code == 0, result.output


def test_out_must_be_new_unless_forced(tmp_path: Path) -> None:
    folder = _scenario(tmp_path, {"steps": [{"title": "One", "text": "one.md"}]}, {"one.md": "Hi"})
    out = tmp_path / "out"
    (out / "steps" / "old-step").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    refused = _driftlab("course", "import-killercoda", str(folder), str(out))
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"error: {out} already exists and is not empty: give a new folder, or pass --force to write over the course "
        "an earlier import put there\n"
    )
    forced = _driftlab("course", "import-killercoda", "--force", str(folder), str(out))
    assert forced.exit_code == 0, forced.output
    assert sorted(path.name for path in (out / "steps").iterdir()) == ["one"]
    assert (out / "notes.txt").read_text() == "mine"


# ----------------------------------------------------------------------------------------------------
# The lab


def test_an_unknown_lab_is_an_error_before_anything_is_written(tmp_path: Path) -> None:
    folder = _scenario(tmp_path, {"steps": [{"title": "One", "text": "one.md"}]}, {"one.md": "Hi"})
    result = _driftlab("course", "import-killercoda", "--lab", "no-such-lab", str(folder), str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: lab 'no-such-lab' not found: give the name of a lab")
    assert not (tmp_path / "out").exists()


def test_a_lab_folder_is_named_relative_to_the_course(tmp_path: Path) -> None:
    folder = _scenario(tmp_path, {"steps": [{"title": "One", "text": "one.md"}]}, {"one.md": "Hi"})
    lab = tmp_path / "labs" / "mine"
    lab.mkdir(parents=True)
    (lab / "lab.yaml").write_text("title: Mine\nnamespaces: [shop]\n")
    out = tmp_path / "courses" / "imported"
    result = _driftlab("course", "import-killercoda", "--lab", str(lab), str(folder), str(out))
    assert result.exit_code == 0, result.output
    assert _course(out)["lab"] == "../../labs/mine"
    assert load_course(out).lab_folder == lab.resolve()


def test_a_lab_beside_the_courses_folder_is_named_by_its_name(tmp_path: Path) -> None:
    folder = _scenario(tmp_path, {"steps": [{"title": "One", "text": "one.md"}]}, {"one.md": "Hi"})
    (tmp_path / "labs" / "mine").mkdir(parents=True)
    (tmp_path / "labs" / "mine" / "lab.yaml").write_text("title: Mine\n")
    result = import_scenario(folder, tmp_path / "courses" / "imported", lab="mine")
    assert result.lab == "mine"
    assert _course(tmp_path / "courses" / "imported")["lab"] == "mine"


def test_the_default_lab_is_an_empty_embedded_cluster() -> None:
    lab = yaml.safe_load((REPO / "labs" / "embedded-default" / "lab.yaml").read_text())
    assert lab["backend"] == "embedded"
    assert not lab.get("seed") and not lab.get("namespaces")


# ----------------------------------------------------------------------------------------------------
# Mapping rules, one at a time


def test_steps_without_verify_have_no_checks_and_checks_without_exec_have_no_solution(tmp_path: Path) -> None:
    steps = [
        {"title": "Read", "text": "read.md"},
        {"title": "Do", "text": "do.md", "verify": "do.sh"},
    ]
    files = {"read.md": "`kubectl get ns`{{exec}}", "do.md": "Create it yourself.", "do.sh": "exit 0\n"}
    folder = _scenario(tmp_path, {"steps": steps}, files)
    result = import_scenario(folder, tmp_path / "out")
    read, do = _course(tmp_path / "out")["steps"]
    assert "checks" not in read and read["solution"] == {"commands": ["kubectl get ns"]}
    assert do["checks"] == [{"name": "Do", "command": {"run": "bash steps/do/verify.sh"}}]
    assert "solution" not in do
    assert "step 'do' has a verify script but no {{exec}} code, so no solution" in "\n".join(result.warnings)


def test_the_answer_page_is_a_hint_and_the_solution_when_the_text_has_no_exec(tmp_path: Path) -> None:
    step = {"title": "Do", "text": "do.md", "verify": "do.sh", "answer": "answer.md"}
    files = {
        "do.md": "Create the namespace shop.",
        "do.sh": "kubectl get ns shop\n",
        "answer.md": "Run:\n```\nkubectl create ns shop\n```{{exec}}\n",
    }
    converted = _one_step(tmp_path, step, files)
    assert converted["hints"] == ["Run:\n```\nkubectl create ns shop\n```"]
    assert converted["solution"] == {"commands": ["kubectl create ns shop"]}


def test_the_text_s_exec_code_wins_over_the_answer_s(tmp_path: Path) -> None:
    step = {"title": "Do", "text": "do.md", "answer": "answer.md"}
    files = {"do.md": "`kubectl create ns a`{{exec}}", "answer.md": "`kubectl create ns b`{{exec}}"}
    assert _one_step(tmp_path, step, files)["solution"] == {"commands": ["kubectl create ns a"]}


def test_code_clicked_twice_runs_once(tmp_path: Path) -> None:
    step = {"title": "Do", "text": "do.md"}
    files = {"do.md": "`kubectl create ns a`{{exec}}\n<details>\n\n```\nkubectl create ns a\n```{{exec}}\n</details>"}
    assert _one_step(tmp_path, step, files)["solution"] == {"commands": ["kubectl create ns a"]}


def test_a_here_document_is_one_command_written_as_a_literal_block(tmp_path: Path) -> None:
    step = {"title": "Do", "text": "do.md"}
    files = {"do.md": "```\ncat <<EOF | kubectl apply -f -\nkind: Namespace\nEOF\n```{{exec}}\n"}
    _one_step(tmp_path, step, files)
    text = (tmp_path / "out" / "course.yaml").read_text()
    assert "    - |-\n      cat <<EOF | kubectl apply -f -\n      kind: Namespace\n      EOF\n" in text


def test_a_check_is_named_by_the_step_title_when_the_script_opens_with_code(tmp_path: Path) -> None:
    step = {"title": "Make it so", "text": "t.md", "verify": "v.sh"}
    files = {"t.md": "x", "v.sh": "#!/bin/bash\nset -e\n# not a header\nkubectl get ns a\n"}
    assert _one_step(tmp_path, step, files)["checks"][0]["name"] == "Make it so"


def test_finish_without_a_heading_and_intro_alone_become_steps(tmp_path: Path) -> None:
    details = {"intro": {"text": "intro.md", "background": "setup.sh"}, "steps": [], "finish": {"text": "end.md"}}
    folder = _scenario(tmp_path, details, {"intro.md": "Welcome", "setup.sh": "echo hi\n", "end.md": "Bye"})
    import_scenario(folder, tmp_path / "out")
    steps = _course(tmp_path / "out")["steps"]
    assert [(step["id"], step["title"]) for step in steps] == [("introduction", "Introduction"), ("finish", "Finish")]
    assert steps[0]["setup"] == [{"run": "bash steps/introduction/background.sh"}]
    assert validate_course(tmp_path / "out") == []


def test_step_ids_are_unique_and_valid_whatever_the_titles(tmp_path: Path) -> None:
    steps = [
        {"title": "Deploy", "text": "a.md"},
        {"title": "Deploy", "text": "a.md"},
        {"title": "配置", "text": "a.md"},
        {
            "title": "Créer l'application, puis la déployer sur le cluster de production pour tout le monde!",
            "text": "a.md",
        },
        {"text": "a.md"},
    ]
    folder = _scenario(tmp_path, {"steps": steps}, {"a.md": "Text"})
    import_scenario(folder, tmp_path / "out")
    ids = [step["id"] for step in _course(tmp_path / "out")["steps"]]
    assert ids == [
        "deploy",
        "deploy-2",
        "step-3",
        "creer-l-application-puis-la-deployer-sur-le-cluster-de-producti",
        "step-5",
    ]
    assert validate_course(tmp_path / "out") == []


@pytest.mark.parametrize(
    ("time", "difficulty", "expected"),
    [
        ("15 minutes", "Beginner", ("15m", "beginner")),
        ("1 hour 30 minutes", "Intermediate", ("1h30m", "intermediate")),
        ("45min", "hard", ("45m", "advanced")),
        (20, "medium", ("20m", "intermediate")),
    ],
)
def test_time_and_difficulty_become_duration_and_level(
    tmp_path: Path, time: Any, difficulty: str, expected: tuple[str, str]
) -> None:
    folder = _scenario(
        tmp_path, {"steps": [{"text": "a.md"}]}, {"a.md": "x"}, time=time, difficulty=difficulty, description="D."
    )
    import_scenario(folder, tmp_path / "out")
    course = _course(tmp_path / "out")
    assert (course["duration"], course["level"]) == expected
    assert course["summary"] == "D."


def test_without_a_time_the_duration_is_estimated_and_said(tmp_path: Path) -> None:
    steps = [{"text": "a.md"}, {"text": "a.md"}, {"text": "a.md"}]
    folder = _scenario(tmp_path, {"steps": steps}, {"a.md": "x"}, difficulty="wizard")
    result = import_scenario(folder, tmp_path / "out")
    course = _course(tmp_path / "out")
    assert (course["duration"], course["level"]) == ("15m", "beginner")
    assert course["summary"] == "A scenario, imported from a Killercoda scenario."
    assert "index.json: the course's duration is estimated at 15m (5 minutes a step); change it in course.yaml" in (
        result.warnings
    )
    assert "index.json: difficulty 'wizard' is not known; level beginner" in result.warnings


def test_what_has_no_equivalent_is_a_warning(tmp_path: Path) -> None:
    folder = _scenario(
        tmp_path,
        {"steps": [{"title": "S", "text": "a.md", "courseData": "x.sh"}], "intro": {"text": "a.md", "verify": "v.sh"}},
        {"a.md": "Open [the ports]({{TRAFFIC_SELECTOR}}) on controlplane."},
        backend={"imageid": "ubuntu"},
        interface={"layout": "ide"},
        private=True,
        time="15m",
    )
    result = import_scenario(folder, tmp_path / "out")
    assert result.warnings == [
        "index.json: private: no equivalent in driftlab; ignored",
        "index.json: interface.layout: 'ide': driftlab has one layout (instructions and a terminal); ignored",
        "index.json: details.intro.verify: Killercoda verifies steps only; ignored",
        "index.json: details.steps[0].courseData: no equivalent in driftlab; ignored",
        "index.json: backend.imageid 'ubuntu' is not a Kubernetes backend: the course runs on the lab "
        "'embedded-default'; commands that need a machine of their own (apt, docker, systemctl) will not work",
        "a.md: the port selector tab (TRAFFIC_SELECTOR) has no equivalent in driftlab; its links were removed",
        "a.md: names Killercoda's node controlplane; the lab's node is named differently (see `kubectl get nodes`)",
    ]


def test_two_node_backends_are_named_in_the_warning(tmp_path: Path) -> None:
    folder = _scenario(
        tmp_path, {"steps": [{"text": "a.md"}]}, {"a.md": "x"}, backend={"imageid": "kubernetes-kubeadm-2nodes"}
    )
    warnings = import_scenario(folder, tmp_path / "out").warnings
    assert any("kubeadm machine with two nodes" in warning for warning in warnings)


# ----------------------------------------------------------------------------------------------------
# Assets and links


def test_assets_keep_their_mode_and_paths_in_scripts_are_rewritten(tmp_path: Path) -> None:
    step = {"title": "Run", "text": "t.md", "verify": "v.sh", "background": "b.sh"}
    assets = {
        "host01": [
            {"file": "check.sh", "target": "/root", "chmod": "+x"},
            {"file": "app.yaml", "target": "~/work"},
        ]
    }
    files = {
        "t.md": "Look at `~/work/app.yaml`, then `kubectl apply -f /root/work/app.yaml`{{exec}}",
        "v.sh": "bash /root/check.sh && grep x $HOME/work/app.yaml\n",
        "b.sh": 'cp "/root/work/app.yaml" /tmp/app.yaml.bak; ls /root/check.sh.old\n',
        "assets/check.sh": "exit 0\n",
        "assets/app.yaml": "kind: Namespace\n",
    }
    converted = _one_step(tmp_path, step, files, assets=assets)
    out = tmp_path / "out"
    assert converted["solution"] == {"commands": ["kubectl apply -f assets/app.yaml"]}
    assert (out / "steps" / "run" / "verify.sh").read_text() == "bash assets/check.sh && grep x assets/app.yaml\n"
    assert (out / "steps" / "run" / "background.sh").read_text() == (
        'cp "assets/app.yaml" /tmp/app.yaml.bak; ls /root/check.sh.old\n'
    )
    assert "Look at `assets/app.yaml`" in (out / "steps" / "run" / "instructions.md").read_text()
    assert stat.S_IMODE((out / "assets" / "check.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "assets" / "app.yaml").stat().st_mode) == 0o644


def test_a_wildcard_brings_folders_and_the_path_warnings_say_where(tmp_path: Path) -> None:
    assets = {
        "host01": [{"file": "*", "target": "/opt/lab"}],
        "host02": [{"file": "wait.sh", "target": "/usr/local/bin"}],
    }
    files = {
        "t.md": "`kubectl apply -f /opt/lab/manifests/`{{exec}}",
        "assets/manifests/a.yaml": "a",
        "assets/manifests/b.yaml": "b",
        "assets/wait.sh": "true",
    }
    converted = _one_step(tmp_path, {"text": "t.md"}, files, assets=assets)
    out = tmp_path / "out"
    assert converted["solution"] == {"commands": ["kubectl apply -f assets/manifests/"]}
    assert sorted(p.relative_to(out / "assets").as_posix() for p in (out / "assets").rglob("*") if p.is_file()) == [
        "manifests/a.yaml",
        "manifests/b.yaml",
        "wait.sh",
    ]
    warnings = "\n".join(import_scenario(tmp_path / "scenario", tmp_path / "again").warnings)
    assert "wait.sh went to /usr/local/bin (on the PATH) in Killercoda" in warnings
    assert "driftlab has one machine; assets for host02 are in the course's assets/ folder" in warnings
    assert "Killercoda put manifests at /opt/lab/manifests; in the course it is assets/manifests" in warnings


def test_a_chmod_that_is_not_understood_is_a_warning(tmp_path: Path) -> None:
    assets = {"host01": [{"file": "a.sh", "target": "/root", "chmod": "+s?"}]}
    folder = _scenario(tmp_path, {"steps": [{"text": "t.md"}], "assets": assets}, {"t.md": "x", "assets/a.sh": "a"})
    warnings = import_scenario(folder, tmp_path / "out").warnings
    assert "index.json: details.assets.host01[0].chmod: '+s?' is not understood; the files keep mode 644" in warnings


def test_images_and_links_to_scenario_files_are_copied_and_relinked(tmp_path: Path) -> None:
    files = {
        "step1/text.md": "![diagram](../images/flow.png) [docs](https://kubernetes.io) [missing](nope.md)",
        "images/flow.png": "PNG",
    }
    folder = _scenario(tmp_path, {"steps": [{"title": "Look", "text": "step1/text.md"}]}, files)
    result = import_scenario(folder, tmp_path / "out")
    out = tmp_path / "out"
    instructions = (out / "steps" / "look" / "instructions.md").read_text()
    assert instructions == "![diagram](../../images/flow.png) [docs](https://kubernetes.io) [missing](nope.md)\n"
    assert (out / "images" / "flow.png").read_text() == "PNG"
    assert "step1/text.md: the link to nope.md does not name a file of the scenario; left as is" in result.warnings


@pytest.mark.parametrize(
    ("spec", "mode"),
    [("+x", 0o755), ("755", 0o755), ("0600", 0o600), ("u+x", 0o744), ("go-r", 0o600), ("a=r", 0o444), ("+w", 0o644)],
)
def test_chmod_modes_as_chmod_gives_them(spec: str, mode: int) -> None:
    assert chmod_mode(spec, 0o644) == mode


def test_an_imported_course_that_does_not_validate_fails_the_import(tmp_path: Path) -> None:
    folder = _scenario(tmp_path, {"steps": [{"title": "One", "text": "one.md"}]}, {"one.md": "Hi"})
    lab = tmp_path / "broken-lab"
    lab.mkdir()
    (lab / "lab.yaml").write_text("title: Broken\nbackend: docker\n")
    result = _driftlab("course", "import-killercoda", "--lab", str(lab), str(folder), str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: the imported course {tmp_path / 'out' / 'course.yaml'} has 1 problem:\n")
    assert "broken-lab/lab.yaml:2:10: expected 'embedded', 'kind' or 'any'" in result.stderr


def test_a_step_without_text_is_imported_with_a_warning(tmp_path: Path) -> None:
    steps = [{"title": "Only a check", "verify": "v.sh"}]
    folder = _scenario(tmp_path, {"steps": steps}, {"v.sh": "kubectl get ns shop\n"})
    result = import_scenario(folder, tmp_path / "out")
    assert "index.json: details.steps[0]: no text; the step has no instructions of its own" in result.warnings
    assert (tmp_path / "out" / "steps" / "only-a-check" / "instructions.md").read_text() == "\n"
    assert validate_course(tmp_path / "out") == []


def test_an_empty_file_name_is_an_error(tmp_path: Path) -> None:
    folder = _scenario(tmp_path, {"steps": [{"title": "One", "text": ""}]}, {})
    result = _driftlab("course", "import-killercoda", str(folder), str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "details.steps[0].text: expected a file path relative to the scenario, found empty text" in result.stderr
