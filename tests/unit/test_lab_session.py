"""The headless façade of the TUI, without a cluster: the course catalogue with progress, hints one at a time,
the solution, moving between steps, and the texts it builds."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.course import load_course
from engine.lab.catalogue import course_catalogue, last_opened, quick_catalogue
from engine.lab.progress import ProgressStore
from engine.lab.session import (
    OPEN_STEP,
    PASSED_STEP,
    LabSession,
    block_commands,
    solution_markdown,
    with_history,
)
from engine.lab.shell import ShellLaunch

ROOT = Path(__file__).resolve().parents[2]
COURSES = ROOT / "tests" / "lab_courses" / "courses"
BASICS = COURSES / "basics"


@pytest.fixture
def store(driftlab_home: Path) -> Iterator[ProgressStore]:
    opened = ProgressStore(driftlab_home / "progress.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def session(store: ProgressStore) -> LabSession:
    opened = LabSession.load(BASICS, store=store)
    store.open(opened.name, "greeting", str(BASICS / "course.yaml"))
    return opened


def test_the_catalogue_lists_courses_with_the_learners_progress(store: ProgressStore) -> None:
    store.open("basics", "greeting", str(BASICS / "course.yaml"))
    store.pass_and_advance("basics", "greeting", "scale")
    cards = course_catalogue(COURSES, store)
    assert [card.name for card in cards] == ["basics", "pipelines"]
    basics, pipelines = cards
    assert (basics.title, basics.level, basics.duration, basics.steps) == ("Lab basics", "beginner", "10m", 3)
    assert (basics.passed, basics.current_title, basics.progress_label) == (1, "Scale the web app", "1/3")
    assert basics.started and not pipelines.started
    assert pipelines.progress_label == "new"
    assert last_opened(cards) == basics


def test_the_quick_catalogue_lists_the_same_cards_without_validating(store: ProgressStore, tmp_path: Path) -> None:
    store.open("basics", "greeting", str(BASICS / "course.yaml"))
    store.pass_and_advance("basics", "greeting", "scale")
    assert quick_catalogue(COURSES, store) == course_catalogue(COURSES, store)
    shutil.copytree(COURSES.parent, tmp_path / "repository")
    root = tmp_path / "repository" / "courses"
    (root / "basics" / "course.yaml").write_text("- not a mapping\n")
    broken = quick_catalogue(root, store)[0]
    assert not broken.valid and broken.problems == (f"{root / 'basics' / 'course.yaml'} cannot be read",)


def test_a_finished_course_says_done(store: ProgressStore) -> None:
    store.open("pipelines", "push", str(COURSES / "pipelines" / "course.yaml"))
    store.pass_and_advance("pipelines", "push", None)
    card = next(card for card in course_catalogue(COURSES, store) if card.name == "pipelines")
    assert card.finished and card.progress_label == "done" and card.current_title == ""


def test_an_invalid_course_is_listed_with_its_problems(store: ProgressStore, tmp_path: Path) -> None:
    shutil.copytree(COURSES.parent, tmp_path / "repository")
    root = tmp_path / "repository" / "courses"
    (root / "basics" / "course.yaml").write_text("title: Broken\n")
    cards = {card.name: card for card in course_catalogue(root, store)}
    assert not cards["basics"].valid
    assert cards["basics"].progress_label == "invalid"
    assert any("summary" in problem for problem in cards["basics"].problems)
    assert cards["pipelines"].valid


def test_a_course_opened_from_elsewhere_is_listed_after_the_shipped_ones(store: ProgressStore, tmp_path: Path) -> None:
    repository = tmp_path / "repository"
    shutil.copytree(COURSES.parent, repository)
    moved = repository / "courses" / "basics"
    moved.rename(repository / "courses" / "elsewhere")
    store.open("elsewhere", "greeting", str(repository / "courses" / "elsewhere" / "course.yaml"))
    store.open("gone", "x", str(tmp_path / "gone" / "course.yaml"))
    names = [card.name for card in course_catalogue(COURSES, store)]
    assert names == ["basics", "pipelines", "elsewhere"]


def test_hints_are_revealed_one_at_a_time_and_no_further(session: LabSession, store: ProgressStore) -> None:
    step = session.course.step("greeting")
    assert session.hints(step) == []
    assert session.reveal_hint(step) == [step.hints[0]]
    assert session.reveal_hint(step) == [step.hints[0]]
    assert store.load("basics").step("greeting").hints_used == 1


def test_the_solution_is_markdown_and_is_recorded_as_shown(session: LabSession, store: ProgressStore) -> None:
    step = session.course.step("settings")
    assert not session.solution_shown(step)
    text = session.solution(step)
    assert text.startswith("Change `settings.yaml`:\n\n```diff\n--- a/settings.yaml")
    assert text.endswith("Run:\n\n```bash\nkubectl apply -f settings.yaml\n```")
    assert session.solution_shown(step)


def test_a_step_without_a_solution_says_so() -> None:
    course = load_course(str(COURSES / "pipelines"))
    assert solution_markdown(course.steps[0]) == "This step has no written solution."


def test_step_states_mark_what_passed_and_what_is_on_screen(session: LabSession, store: ProgressStore) -> None:
    store.pass_and_advance("basics", "greeting", "scale")
    states = session.step_states(session.course.step("scale"))
    assert [(state.state, state.shown, state.number) for state in states] == [
        (PASSED_STEP, False, 1),
        (OPEN_STEP, True, 2),
        (OPEN_STEP, False, 3),
    ]


def test_neighbours_of_a_step(session: LabSession) -> None:
    first, second, last = session.course.steps
    assert session.preceding(first) is None and session.following(first) == second
    assert session.preceding(last) == second and session.following(last) is None
    assert session.position(last) == 3


def test_instructions_that_cannot_be_read_are_said_in_the_text(store: ProgressStore, tmp_path: Path) -> None:
    repository = tmp_path / "repository"
    shutil.copytree(COURSES.parent, repository)
    folder = repository / "courses" / "basics"
    (folder / "one.md").write_text("# One\n")
    course_file = folder / "course.yaml"
    original = "    instructions: Create a ConfigMap `greeting` whose `message` is `hello`.\n"
    course_file.write_text(course_file.read_text().replace(original, "    instructions: {file: one.md}\n"))
    session = LabSession.load(folder, store=store)
    assert session.instructions(session.course.steps[0]) == "# One\n"
    (folder / "one.md").unlink()
    assert "cannot be read" in session.instructions(session.course.steps[0])


def test_a_code_block_becomes_its_commands() -> None:
    code = "# make it\nkubectl get pods\n\nkubectl create deployment web \\\n  --image=nginx:1.25\n  # done\n"
    assert block_commands(code) == ["kubectl get pods", "kubectl create deployment web --image=nginx:1.25"]


def test_a_block_is_put_in_the_history_of_bash_and_nothing_runs(tmp_path: Path) -> None:
    rcfile = tmp_path / "lab-bashrc"
    rcfile.write_text("PS1='lab$ '\n")
    launch = ShellLaunch("/bin/bash", ["/bin/bash", "--rcfile", str(rcfile), "-i"], {"KUBECONFIG": "k"}, "(driftlab:x)")
    made = with_history(launch, ["touch ran", "echo 'it''s'"], tmp_path / "block")
    assert made.args == ["/bin/bash", "--rcfile", str(tmp_path / "block" / "bashrc"), "-i"]
    assert made.env == launch.env
    run = [*made.args[:3], "-i", "-c", "history"]
    result = subprocess.run(run, cwd=tmp_path, env={"HISTFILE": "/dev/null", "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
    assert [line.split(None, 1)[1] for line in result.stdout.splitlines()[-2:]] == ["touch ran", "echo 'it''s'"]
    assert not (tmp_path / "ran").exists()


def test_zsh_gets_the_block_through_its_own_start_up_folder(tmp_path: Path) -> None:
    launch = ShellLaunch("/bin/zsh", ["/bin/zsh", "-i"], {"ZDOTDIR": "/lab/shell"}, "(driftlab:x)")
    made = with_history(launch, ["kubectl get pods"], tmp_path / "block")
    assert made.env["ZDOTDIR"] == str(tmp_path / "block")
    zshrc = (tmp_path / "block" / ".zshrc").read_text()
    assert zshrc == "ZDOTDIR=/lab/shell . /lab/shell/.zshrc\nprint -s -- 'kubectl get pods'\n"
    other = ShellLaunch("/bin/fish", ["/bin/fish"], {}, "(driftlab:x)")
    assert with_history(other, ["ls"], tmp_path / "other") == other
